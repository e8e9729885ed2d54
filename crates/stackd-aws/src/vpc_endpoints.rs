//! The vpc-endpoints component: Gateway endpoints on route tables and Interface
//! endpoints in subnets, observed with one DescribeVpcEndpoints call.

use crate::clients::AwsClients;
use crate::ec2::{
    by_logical_id, from_sdk, stack_filter, stack_logical_id, tag_specification, update_tags,
};
use crate::tags::{TagDelta, Tagger};
use crate::{network, security_groups};
use async_trait::async_trait;
use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::{ResourceType, VpcEndpointType};
use serde_json::{Value, json};
use stackd_engine::{
    Change, ChangeKind, Component, ComponentError, ComponentId, Inputs, Outputs, Planned, Readiness,
};
use stackd_spec::model::{EndpointType, VpcEndpoint};
use std::collections::{BTreeMap, BTreeSet};

/// The kind name of the vpc-endpoints node in the graph.
pub const KIND: &str = "vpc-endpoints";

fn logical_id(endpoint: &str) -> String {
    format!("vpc-endpoint/{endpoint}")
}

/// Live state of one endpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveEndpoint {
    pub id: String,
    pub service_name: String,
    pub endpoint_type: String,
    pub vpc_id: String,
    pub state: String,
    pub route_table_ids: BTreeSet<String>,
    pub subnet_ids: BTreeSet<String>,
    pub security_group_ids: BTreeSet<String>,
    pub private_dns: bool,
    pub tags: BTreeMap<String, String>,
}

/// Live endpoints of the stack, keyed by the endpoint's id in the file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EndpointsLive {
    pub endpoints: BTreeMap<String, LiveEndpoint>,
}

/// The AWS ids of the resources an endpoint attaches to, by kind.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attachments {
    pub route_tables: BTreeSet<String>,
    pub subnets: BTreeSet<String>,
    pub security_groups: BTreeSet<String>,
}

/// One step of an apply.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Create(String),
    Modify {
        endpoint: String,
        add: Attachments,
        remove: Attachments,
        private_dns: Option<bool>,
    },
    Retag {
        endpoint: String,
        delta: TagDelta,
    },
    RefuseReplacement(String),
}

/// Reconciles the stack's VPC endpoints.
#[derive(Debug)]
pub struct VpcEndpointsComponent {
    clients: AwsClients,
    tagger: Tagger,
    region: String,
    desired: Vec<VpcEndpoint>,
}

impl VpcEndpointsComponent {
    pub fn new(
        clients: AwsClients,
        tagger: Tagger,
        region: &str,
        desired: Vec<VpcEndpoint>,
    ) -> Self {
        VpcEndpointsComponent {
            clients,
            tagger,
            region: region.to_owned(),
            desired,
        }
    }

    fn service_name(&self, endpoint: &VpcEndpoint) -> String {
        format!("com.amazonaws.{}.{}", self.region, endpoint.service)
    }
}

/// Resolves the AWS ids of an endpoint's route tables, subnets and groups from
/// the outputs of the network and security-groups components. A name whose
/// resource does not exist yet stays out of the set and is reported as unknown.
struct Resolver<'a> {
    inputs: &'a Inputs,
}

impl Resolver<'_> {
    fn network(&self, key: &str) -> Option<String> {
        self.inputs
            .get(&ComponentId::single(network::KIND), key)
            .map(str::to_owned)
    }

    fn group(&self, group: &str) -> Option<String> {
        self.inputs
            .get(
                &ComponentId::single(security_groups::KIND),
                &security_groups::group_id_output(group),
            )
            .map(str::to_owned)
    }

    /// Returns the desired attachments by AWS id, and which lists have every id known.
    fn desired(&self, endpoint: &VpcEndpoint) -> (Attachments, Known) {
        let collect = |ids: Vec<Option<String>>| -> (BTreeSet<String>, bool) {
            let complete = ids.iter().all(Option::is_some);
            (ids.into_iter().flatten().collect(), complete)
        };
        let (route_tables, route_tables_known) = collect(
            endpoint
                .route_tables
                .iter()
                .map(|table| self.network(&network::outputs::route_table_id(table)))
                .collect(),
        );
        let (subnets, subnets_known) = collect(
            endpoint
                .subnets
                .iter()
                .map(|subnet| self.network(&network::outputs::subnet_id(subnet)))
                .collect(),
        );
        let (security_groups, security_groups_known) = collect(
            endpoint
                .security_groups
                .iter()
                .map(|group| self.group(group))
                .collect(),
        );
        (
            Attachments {
                route_tables,
                subnets,
                security_groups,
            },
            Known {
                route_tables: route_tables_known,
                subnets: subnets_known,
                security_groups: security_groups_known,
            },
        )
    }
}

/// Which lists of an endpoint's attachments have every AWS id known. A list is
/// incomplete in a plan whose dependencies do not exist yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Known {
    route_tables: bool,
    subnets: bool,
    security_groups: bool,
}

impl Known {
    fn all(self) -> bool {
        self.route_tables && self.subnets && self.security_groups
    }
}

#[async_trait]
impl Component for VpcEndpointsComponent {
    type Live = EndpointsLive;
    type Action = Action;

    fn id(&self) -> ComponentId {
        ComponentId::single(KIND)
    }

    fn needs(&self) -> Vec<ComponentId> {
        vec![
            ComponentId::single(network::KIND),
            ComponentId::single(security_groups::KIND),
        ]
    }

    async fn observe(&self) -> Result<EndpointsLive, ComponentError> {
        let response = self
            .clients
            .ec2
            .describe_vpc_endpoints()
            .filters(stack_filter(self.tagger.stack()))
            .send()
            .await
            .map_err(|error| crate::failures::call_failed("DescribeVpcEndpoints", error))?;
        // Deleted endpoints stay visible for a while; they are gone for stackd.
        let alive: Vec<_> = response
            .vpc_endpoints()
            .iter()
            .filter(|endpoint| {
                let state = endpoint
                    .state()
                    .map(|state| state.as_str().to_ascii_lowercase());
                !matches!(
                    state.as_deref(),
                    Some("deleted" | "deleting" | "failed" | "rejected" | "expired")
                )
            })
            .cloned()
            .collect();
        let found = by_logical_id(
            "VPC endpoint",
            alive,
            |endpoint| stack_logical_id(endpoint.tags(), self.tagger.stack()),
            |endpoint| endpoint.vpc_endpoint_id().unwrap_or_default().to_owned(),
        )?;
        let endpoints = found
            .into_iter()
            .filter_map(|(tag, endpoint)| {
                let name = tag.strip_prefix("vpc-endpoint/")?.to_owned();
                let live = LiveEndpoint {
                    id: endpoint.vpc_endpoint_id().unwrap_or_default().to_owned(),
                    service_name: endpoint.service_name().unwrap_or_default().to_owned(),
                    endpoint_type: endpoint
                        .vpc_endpoint_type()
                        .map(|kind| kind.as_str().to_owned())
                        .unwrap_or_default(),
                    vpc_id: endpoint.vpc_id().unwrap_or_default().to_owned(),
                    state: endpoint
                        .state()
                        .map(|state| state.as_str().to_ascii_lowercase())
                        .unwrap_or_default(),
                    route_table_ids: endpoint.route_table_ids().iter().cloned().collect(),
                    subnet_ids: endpoint.subnet_ids().iter().cloned().collect(),
                    security_group_ids: endpoint
                        .groups()
                        .iter()
                        .filter_map(|group| group.group_id().map(str::to_owned))
                        .collect(),
                    private_dns: endpoint.private_dns_enabled().unwrap_or(false),
                    tags: from_sdk(endpoint.tags()),
                };
                Some((name, live))
            })
            .collect();
        Ok(EndpointsLive { endpoints })
    }

    fn diff(&self, live: &EndpointsLive, inputs: &Inputs) -> Vec<Planned<Action>> {
        let resolver = Resolver { inputs };
        let vpc_id = resolver.network(network::outputs::VPC_ID);
        let mut plan = Vec::new();
        for endpoint in &self.desired {
            let logical = logical_id(&endpoint.id);
            let tags = self
                .tagger
                .desired(&logical, &self.tagger.name(&endpoint.id));
            let (wanted, known) = resolver.desired(endpoint);
            let Some(found) = live.endpoints.get(&endpoint.id) else {
                plan.push(Planned {
                    change: created_change(&logical, &self.service_name(endpoint), endpoint, &tags),
                    action: Action::Create(endpoint.id.clone()),
                });
                continue;
            };

            let mut replace = Change::new(ChangeKind::Replace, &logical);
            replace.push_if_differs(
                "service",
                found.service_name.as_str(),
                self.service_name(endpoint),
            );
            replace.push_if_differs(
                "type",
                found.endpoint_type.as_str(),
                type_name(endpoint.endpoint_type),
            );
            if let Some(vpc_id) = &vpc_id {
                replace.push_if_differs("vpc", found.vpc_id.as_str(), vpc_id.as_str());
            }
            if !replace.fields.is_empty() {
                let reason = format!(
                    "VPC endpoint {}: AWS cannot change an endpoint's service, type or VPC in place",
                    endpoint.id
                );
                plan.push(Planned {
                    change: replace,
                    action: Action::RefuseReplacement(reason),
                });
                continue;
            }

            let mut change = Change::new(ChangeKind::Update, &logical);
            let current = Attachments {
                route_tables: found.route_table_ids.clone(),
                subnets: found.subnet_ids.clone(),
                security_groups: found.security_group_ids.clone(),
            };
            let shown = |ids: &BTreeSet<String>, complete: bool| -> Value {
                let mut list: Vec<Value> = ids.iter().map(|id| json!(id)).collect();
                if !complete {
                    list.push(json!(stackd_engine::UNKNOWN_UNTIL_APPLIED));
                }
                Value::Array(list)
            };
            let mut add = Attachments::default();
            let mut remove = Attachments::default();
            for (path, complete, live_ids, wanted_ids, add_to, remove_from) in [
                (
                    "routeTables",
                    known.route_tables,
                    &current.route_tables,
                    &wanted.route_tables,
                    &mut add.route_tables,
                    &mut remove.route_tables,
                ),
                (
                    "subnets",
                    known.subnets,
                    &current.subnets,
                    &wanted.subnets,
                    &mut add.subnets,
                    &mut remove.subnets,
                ),
                (
                    "securityGroups",
                    known.security_groups,
                    &current.security_groups,
                    &wanted.security_groups,
                    &mut add.security_groups,
                    &mut remove.security_groups,
                ),
            ] {
                if live_ids == wanted_ids && complete {
                    continue;
                }
                add_to.extend(wanted_ids.difference(live_ids).cloned());
                remove_from.extend(live_ids.difference(wanted_ids).cloned());
                if !add_to.is_empty() || !remove_from.is_empty() || !complete {
                    change.push_if_differs(
                        path,
                        shown(live_ids, true),
                        shown(wanted_ids, complete),
                    );
                }
            }
            let private_dns = (endpoint.endpoint_type == EndpointType::Interface
                && found.private_dns != endpoint.private_dns)
                .then_some(endpoint.private_dns);
            if let Some(value) = private_dns {
                change.push_if_differs("privateDns", found.private_dns, value);
            }
            if !change.fields.is_empty() {
                plan.push(Planned {
                    change,
                    action: Action::Modify {
                        endpoint: endpoint.id.clone(),
                        add,
                        remove,
                        private_dns,
                    },
                });
            }

            let delta = TagDelta::between(&found.tags, &tags);
            if !delta.is_empty() {
                let mut change = Change::new(ChangeKind::Update, &logical);
                for (key, value) in &delta.set {
                    change.push_if_differs(
                        format!("tags.{key}"),
                        json!(found.tags.get(key)),
                        value.as_str(),
                    );
                }
                for key in &delta.remove {
                    change.push_if_differs(
                        format!("tags.{key}"),
                        json!(found.tags.get(key)),
                        Value::Null,
                    );
                }
                plan.push(Planned {
                    change,
                    action: Action::Retag {
                        endpoint: endpoint.id.clone(),
                        delta,
                    },
                });
            }
        }
        plan
    }

    async fn apply(
        &self,
        live: &EndpointsLive,
        actions: Vec<Action>,
        inputs: &Inputs,
    ) -> Result<(), ComponentError> {
        let resolver = Resolver { inputs };
        let client = &self.clients.ec2;
        let mut refused = Vec::new();
        for action in actions {
            match action {
                Action::Create(id) => {
                    let endpoint = self
                        .desired
                        .iter()
                        .find(|endpoint| endpoint.id == id)
                        .ok_or_else(|| {
                            ComponentError::Unexpected(format!("endpoint {id} is not in the file"))
                        })?;
                    let vpc_id = resolver.network(network::outputs::VPC_ID).ok_or_else(|| {
                        ComponentError::Blocked("the VPC does not exist yet".to_owned())
                    })?;
                    let (attachments, known) = resolver.desired(endpoint);
                    if !known.all() {
                        return Err(ComponentError::Blocked(format!(
                            "endpoint {id} waits for its route tables, subnets or security groups"
                        )));
                    }
                    create(
                        client,
                        &self.tagger,
                        &vpc_id,
                        &self.service_name(endpoint),
                        endpoint,
                        &attachments,
                    )
                    .await?;
                }
                Action::Modify {
                    endpoint,
                    add,
                    remove,
                    private_dns,
                } => {
                    let endpoint_id = &live.endpoints[&endpoint].id;
                    client
                        .modify_vpc_endpoint()
                        .vpc_endpoint_id(endpoint_id)
                        .set_add_route_table_ids(non_empty(add.route_tables))
                        .set_remove_route_table_ids(non_empty(remove.route_tables))
                        .set_add_subnet_ids(non_empty(add.subnets))
                        .set_remove_subnet_ids(non_empty(remove.subnets))
                        .set_add_security_group_ids(non_empty(add.security_groups))
                        .set_remove_security_group_ids(non_empty(remove.security_groups))
                        .set_private_dns_enabled(private_dns)
                        .send()
                        .await
                        .map_err(|error| {
                            crate::failures::call_failed(
                                format!("ModifyVpcEndpoint {endpoint_id}"),
                                error,
                            )
                        })?;
                    tracing::info!(endpoint_id, endpoint, "modified VPC endpoint");
                }
                Action::Retag { endpoint, delta } => {
                    update_tags(client, &live.endpoints[&endpoint].id, &delta).await?;
                }
                Action::RefuseReplacement(reason) => refused.push(reason),
            }
        }
        if refused.is_empty() {
            Ok(())
        } else {
            Err(ComponentError::Blocked(format!(
                "{}; a replacement is never applied without explicit permission",
                refused.join("; ")
            )))
        }
    }

    fn outputs(&self, live: &EndpointsLive) -> Outputs {
        live.endpoints
            .iter()
            .map(|(endpoint, found)| (format!("vpc-endpoint.{endpoint}.id"), found.id.clone()))
            .collect()
    }

    fn readiness(&self, live: &EndpointsLive) -> Readiness {
        let pending: Vec<String> = live
            .endpoints
            .iter()
            .filter(|(_, endpoint)| endpoint.state != "available")
            .map(|(id, endpoint)| format!("{} ({})", logical_id(id), endpoint.state))
            .collect();
        if pending.is_empty() {
            Readiness::Ready
        } else {
            Readiness::Progressing(format!("waiting for {}", pending.join(", ")))
        }
    }
}

fn type_name(kind: EndpointType) -> &'static str {
    match kind {
        EndpointType::Gateway => "Gateway",
        EndpointType::Interface => "Interface",
    }
}

fn created_change(
    logical: &str,
    service: &str,
    endpoint: &VpcEndpoint,
    tags: &BTreeMap<String, String>,
) -> Change {
    let change = Change::new(ChangeKind::Create, logical)
        .field("service", Value::Null, service)
        .field("type", Value::Null, type_name(endpoint.endpoint_type));
    let change = match endpoint.endpoint_type {
        EndpointType::Gateway => {
            change.field("routeTables", Value::Null, json!(endpoint.route_tables))
        }
        EndpointType::Interface => change
            .field("subnets", Value::Null, json!(endpoint.subnets))
            .field(
                "securityGroups",
                Value::Null,
                json!(endpoint.security_groups),
            )
            .field("privateDns", Value::Null, endpoint.private_dns),
    };
    change.field("tags", Value::Null, json!(tags))
}

fn non_empty(ids: BTreeSet<String>) -> Option<Vec<String>> {
    (!ids.is_empty()).then(|| ids.into_iter().collect())
}

async fn create(
    client: &Client,
    tagger: &Tagger,
    vpc_id: &str,
    service_name: &str,
    endpoint: &VpcEndpoint,
    attachments: &Attachments,
) -> Result<(), ComponentError> {
    let logical = logical_id(&endpoint.id);
    let tags = tagger.desired(&logical, &tagger.name(&endpoint.id));
    let mut request = client
        .create_vpc_endpoint()
        .vpc_id(vpc_id)
        .service_name(service_name)
        .client_token(tagger.client_token(&logical, &format!("{vpc_id} {service_name}")))
        .tag_specifications(tag_specification(ResourceType::VpcEndpoint, &tags));
    request = match endpoint.endpoint_type {
        EndpointType::Gateway => request
            .vpc_endpoint_type(VpcEndpointType::Gateway)
            .set_route_table_ids(non_empty(attachments.route_tables.clone())),
        EndpointType::Interface => request
            .vpc_endpoint_type(VpcEndpointType::Interface)
            .set_subnet_ids(non_empty(attachments.subnets.clone()))
            .set_security_group_ids(non_empty(attachments.security_groups.clone()))
            .private_dns_enabled(endpoint.private_dns),
    };
    let response = request.send().await.map_err(|error| {
        crate::failures::call_failed(format!("CreateVpcEndpoint {logical}"), error)
    })?;
    let endpoint_id = response
        .vpc_endpoint()
        .and_then(|created| created.vpc_endpoint_id())
        .unwrap_or_default();
    tracing::info!(endpoint_id, %logical, service_name, "created VPC endpoint");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const REGION: &str = "eu-west-3";

    fn tagger() -> Tagger {
        Tagger::new("s", &BTreeMap::new())
    }

    fn names(ids: &[&str]) -> Vec<String> {
        ids.iter().map(|id| id.to_string()).collect()
    }

    fn set(ids: &[&str]) -> BTreeSet<String> {
        ids.iter().map(|id| id.to_string()).collect()
    }

    /// Builds a Gateway endpoint for S3 on both route tables and an Interface
    /// endpoint for ECR in two subnets with private DNS.
    fn desired() -> Vec<VpcEndpoint> {
        vec![
            VpcEndpoint {
                id: "s3".to_owned(),
                service: "s3".to_owned(),
                endpoint_type: EndpointType::Gateway,
                route_tables: names(&["private", "public"]),
                subnets: Vec::new(),
                security_groups: Vec::new(),
                private_dns: false,
            },
            VpcEndpoint {
                id: "ecr-api".to_owned(),
                service: "ecr.api".to_owned(),
                endpoint_type: EndpointType::Interface,
                route_tables: Vec::new(),
                subnets: names(&["private-a", "private-b"]),
                security_groups: names(&["endpoints"]),
                private_dns: true,
            },
        ]
    }

    fn component(desired: Vec<VpcEndpoint>) -> VpcEndpointsComponent {
        // A client with no credentials and no region: building it sends nothing.
        let config = aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .build();
        VpcEndpointsComponent::new(
            AwsClients::from_config(&config, false),
            tagger(),
            REGION,
            desired,
        )
    }

    fn outputs(pairs: &[(&str, &str)]) -> Outputs {
        pairs
            .iter()
            .map(|(key, value)| (key.to_string(), value.to_string()))
            .collect()
    }

    fn network_outputs() -> Outputs {
        outputs(&[
            ("vpc.id", "vpc-1"),
            ("route-table.private.id", "rtb-private"),
            ("route-table.public.id", "rtb-public"),
            ("subnet.private-a.id", "subnet-a"),
            ("subnet.private-b.id", "subnet-b"),
        ])
    }

    fn groups_outputs() -> Outputs {
        outputs(&[("security-group.endpoints.id", "sg-endpoints")])
    }

    fn inputs(network: Outputs, groups: Outputs) -> Inputs {
        Inputs::new(BTreeMap::from([
            (ComponentId::single(network::KIND), network),
            (ComponentId::single(security_groups::KIND), groups),
        ]))
    }

    fn converged() -> EndpointsLive {
        let tagger = tagger();
        let endpoint = |id: &str, kind: &str| LiveEndpoint {
            id: format!("vpce-{id}"),
            service_name: String::new(),
            endpoint_type: kind.to_owned(),
            vpc_id: "vpc-1".to_owned(),
            state: "available".to_owned(),
            route_table_ids: BTreeSet::new(),
            subnet_ids: BTreeSet::new(),
            security_group_ids: BTreeSet::new(),
            private_dns: false,
            tags: tagger.desired(&logical_id(id), &tagger.name(id)),
        };
        let s3 = LiveEndpoint {
            service_name: "com.amazonaws.eu-west-3.s3".to_owned(),
            route_table_ids: set(&["rtb-private", "rtb-public"]),
            ..endpoint("s3", "Gateway")
        };
        let ecr = LiveEndpoint {
            service_name: "com.amazonaws.eu-west-3.ecr.api".to_owned(),
            subnet_ids: set(&["subnet-a", "subnet-b"]),
            security_group_ids: set(&["sg-endpoints"]),
            private_dns: true,
            ..endpoint("ecr-api", "Interface")
        };
        EndpointsLive {
            endpoints: BTreeMap::from([("s3".to_owned(), s3), ("ecr-api".to_owned(), ecr)]),
        }
    }

    fn endpoint<'a>(live: &'a mut EndpointsLive, id: &str) -> &'a mut LiveEndpoint {
        live.endpoints.get_mut(id).unwrap()
    }

    fn actions(plan: &[Planned<Action>]) -> Vec<Action> {
        plan.iter().map(|step| step.action.clone()).collect()
    }

    fn changes(plan: &[Planned<Action>]) -> Vec<Change> {
        plan.iter().map(|step| step.change.clone()).collect()
    }

    fn step(change: Change, action: Action) -> Planned<Action> {
        Planned { change, action }
    }

    /// One drift scenario: an edit to the converged file or live state, and the
    /// exact plan it must produce with every input known.
    struct Case {
        reason: &'static str,
        edit: fn(&mut Vec<VpcEndpoint>, &mut EndpointsLive),
        expected: Vec<Planned<Action>>,
    }

    fn cases() -> Vec<Case> {
        vec![
            Case {
                reason: "converged endpoints plan nothing",
                edit: |_, _| {},
                expected: vec![],
            },
            Case {
                reason: "a route table removed from a gateway endpoint is added back",
                edit: |_, live| {
                    endpoint(live, "s3").route_table_ids.remove("rtb-public");
                },
                expected: vec![step(
                    Change::new(ChangeKind::Update, "vpc-endpoint/s3").field(
                        "routeTables",
                        json!(["rtb-private"]),
                        json!(["rtb-private", "rtb-public"]),
                    ),
                    Action::Modify {
                        endpoint: "s3".to_owned(),
                        add: Attachments {
                            route_tables: set(&["rtb-public"]),
                            ..Attachments::default()
                        },
                        remove: Attachments::default(),
                        private_dns: None,
                    },
                )],
            },
            Case {
                reason: "a subnet added by hand to an interface endpoint is removed",
                edit: |_, live| {
                    endpoint(live, "ecr-api")
                        .subnet_ids
                        .insert("subnet-extra".to_owned());
                },
                expected: vec![step(
                    Change::new(ChangeKind::Update, "vpc-endpoint/ecr-api").field(
                        "subnets",
                        json!(["subnet-a", "subnet-b", "subnet-extra"]),
                        json!(["subnet-a", "subnet-b"]),
                    ),
                    Action::Modify {
                        endpoint: "ecr-api".to_owned(),
                        add: Attachments::default(),
                        remove: Attachments {
                            subnets: set(&["subnet-extra"]),
                            ..Attachments::default()
                        },
                        private_dns: None,
                    },
                )],
            },
            Case {
                reason: "private DNS turned off by hand is turned on again",
                edit: |_, live| endpoint(live, "ecr-api").private_dns = false,
                expected: vec![step(
                    Change::new(ChangeKind::Update, "vpc-endpoint/ecr-api").field(
                        "privateDns",
                        false,
                        true,
                    ),
                    Action::Modify {
                        endpoint: "ecr-api".to_owned(),
                        add: Attachments::default(),
                        remove: Attachments::default(),
                        private_dns: Some(true),
                    },
                )],
            },
            Case {
                reason: "a new service needs a replacement, which is refused",
                edit: |desired, _| desired[0].service = "dynamodb".to_owned(),
                expected: vec![step(
                    Change::new(ChangeKind::Replace, "vpc-endpoint/s3").field(
                        "service",
                        "com.amazonaws.eu-west-3.s3",
                        "com.amazonaws.eu-west-3.dynamodb",
                    ),
                    Action::RefuseReplacement(
                        "VPC endpoint s3: AWS cannot change an endpoint's service, type or VPC in place"
                            .to_owned(),
                    ),
                )],
            },
            Case {
                reason: "a tag added by hand is removed",
                edit: |_, live| {
                    endpoint(live, "s3")
                        .tags
                        .insert("owner".to_owned(), "alice".to_owned());
                },
                expected: vec![step(
                    Change::new(ChangeKind::Update, "vpc-endpoint/s3").field(
                        "tags.owner",
                        "alice",
                        Value::Null,
                    ),
                    Action::Retag {
                        endpoint: "s3".to_owned(),
                        delta: TagDelta {
                            set: BTreeMap::new(),
                            remove: vec!["owner".to_owned()],
                        },
                    },
                )],
            },
        ]
    }

    #[test]
    fn drift_cases_plan_expected_steps() {
        let inputs = inputs(network_outputs(), groups_outputs());
        for case in cases() {
            let mut desired = desired();
            let mut live = converged();
            (case.edit)(&mut desired, &mut live);

            let plan = component(desired).diff(&live, &inputs);

            assert_eq!(
                actions(&plan),
                actions(&case.expected),
                "actions: {}",
                case.reason
            );
            assert_eq!(
                changes(&plan),
                changes(&case.expected),
                "changes: {}",
                case.reason
            );
        }
    }

    /// Plans with the public route table not created yet: the network has no
    /// output for it, and the live S3 endpoint is on the private table only.
    fn plan_with_unknown_route_table() -> Vec<Planned<Action>> {
        let mut network = network_outputs();
        network.remove("route-table.public.id");
        let mut live = converged();
        endpoint(&mut live, "s3")
            .route_table_ids
            .remove("rtb-public");
        component(desired()).diff(&live, &inputs(network, groups_outputs()))
    }

    #[test]
    fn unknown_route_table_shows_known_after_apply() {
        let plan = plan_with_unknown_route_table();
        let route_tables = plan
            .iter()
            .flat_map(|step| &step.change.fields)
            .find(|field| field.path == "routeTables")
            .expect("a routeTables field");
        assert_eq!(
            route_tables.desired,
            json!(["rtb-private", stackd_engine::UNKNOWN_UNTIL_APPLIED])
        );
    }

    #[test]
    fn unknown_route_table_adds_nothing_yet() {
        let plan = plan_with_unknown_route_table();
        assert_eq!(
            actions(&plan),
            [Action::Modify {
                endpoint: "s3".to_owned(),
                add: Attachments::default(),
                remove: Attachments::default(),
                private_dns: None,
            }]
        );
    }

    #[test]
    fn unknown_route_table_shows_only_route_tables() {
        let plan = plan_with_unknown_route_table();
        let paths: Vec<&str> = plan
            .iter()
            .flat_map(|step| &step.change.fields)
            .map(|field| field.path.as_str())
            .collect();
        assert_eq!(paths, ["routeTables"]);
    }

    #[test]
    fn missing_endpoint_is_created() {
        let mut live = converged();
        live.endpoints.remove("s3");
        let plan = component(desired()).diff(&live, &inputs(network_outputs(), groups_outputs()));
        assert_eq!(actions(&plan), [Action::Create("s3".to_owned())]);
    }

    #[test]
    fn pending_endpoint_is_progressing() {
        let mut live = converged();
        endpoint(&mut live, "ecr-api").state = "pending".to_owned();
        assert_eq!(
            component(desired()).readiness(&live),
            Readiness::Progressing("waiting for vpc-endpoint/ecr-api (pending)".to_owned())
        );
    }
}
