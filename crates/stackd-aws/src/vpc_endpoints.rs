//! The vpc-endpoints component: Gateway endpoints on route tables and Interface
//! endpoints in subnets, observed with one DescribeVpcEndpoints call.

use crate::clients::AwsClients;
use crate::ec2::{
    by_logical_id, from_sdk, stack_filter, tag_specification, tag_value, update_tags,
};
use crate::tags::{ID_TAG, TagDelta, Tagger};
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

    /// Returns the desired attachments by AWS id, and whether every id is known.
    fn desired(&self, endpoint: &VpcEndpoint) -> (Attachments, bool) {
        let mut complete = true;
        let mut collect = |ids: Vec<Option<String>>| -> BTreeSet<String> {
            complete &= ids.iter().all(Option::is_some);
            ids.into_iter().flatten().collect()
        };
        let route_tables = collect(
            endpoint
                .route_tables
                .iter()
                .map(|table| self.network(&network::outputs::route_table_id(table)))
                .collect(),
        );
        let subnets = collect(
            endpoint
                .subnets
                .iter()
                .map(|subnet| self.network(&network::outputs::subnet_id(subnet)))
                .collect(),
        );
        let security_groups = collect(
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
            complete,
        )
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
            .map_err(|error| ComponentError::call("DescribeVpcEndpoints", error))?;
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
            |endpoint| tag_value(endpoint.tags(), ID_TAG).map(str::to_owned),
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
            let (wanted, complete) = resolver.desired(endpoint);
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
            for (path, live_ids, wanted_ids, add_to, remove_from) in [
                (
                    "routeTables",
                    &current.route_tables,
                    &wanted.route_tables,
                    &mut add.route_tables,
                    &mut remove.route_tables,
                ),
                (
                    "subnets",
                    &current.subnets,
                    &wanted.subnets,
                    &mut add.subnets,
                    &mut remove.subnets,
                ),
                (
                    "securityGroups",
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
                    let (attachments, complete) = resolver.desired(endpoint);
                    if !complete {
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
                            ComponentError::call(format!("ModifyVpcEndpoint {endpoint_id}"), error)
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
    let response = request
        .send()
        .await
        .map_err(|error| ComponentError::call(format!("CreateVpcEndpoint {logical}"), error))?;
    let endpoint_id = response
        .vpc_endpoint()
        .and_then(|created| created.vpc_endpoint_id())
        .unwrap_or_default();
    tracing::info!(endpoint_id, %logical, service_name, "created VPC endpoint");
    Ok(())
}
