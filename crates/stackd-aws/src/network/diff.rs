//! Compares the desired network with the live one and plans the actions, in the
//! order AWS needs them: VPC, subnets, gateways, route tables, routes, associations.

use super::{LiveRouteTarget, NetworkLive, ids};
use crate::tags::{TagDelta, Tagger};
use serde_json::{Value, json};
use stackd_engine::{Change, ChangeKind, Planned};
use stackd_spec::model::{Network, Route, RouteTarget};
use std::collections::{BTreeMap, BTreeSet};

/// One step of a network apply. Resources are named by logical id; apply looks up
/// their AWS ids, including those of resources it created earlier in the same apply.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    CreateVpc,
    SetDnsSupport(bool),
    SetDnsHostnames(bool),
    CreateSubnet(String),
    SetMapPublicIpOnLaunch {
        subnet: String,
        value: bool,
    },
    CreateInternetGateway,
    AttachInternetGateway,
    AllocateAddress {
        nat_gateway: String,
    },
    CreateNatGateway(String),
    CreateRouteTable(String),
    CreateRoute {
        table: String,
        route: Route,
    },
    ReplaceRoute {
        table: String,
        route: Route,
    },
    DeleteRoute {
        table: String,
        destination: String,
    },
    /// Associates subnets (by logical id) and removes associations (by AWS id).
    SetAssociations {
        table: String,
        associate: Vec<String>,
        disassociate: Vec<String>,
    },
    /// Sets and removes tags on an existing resource, named by logical id.
    Retag {
        logical_id: String,
        delta: TagDelta,
    },
    /// Deletes a subnet of the stack that left the file, by logical id. The
    /// engine runs it only when pruning is allowed.
    DeleteSubnet(String),
    /// A change that AWS can make only by replacing the resource. stackd plans it
    /// and does not carry it out, because replacing network resources cuts traffic.
    RefuseReplacement {
        logical_id: String,
        reason: String,
    },
}

/// Plans the actions that turn `live` into `desired`.
pub fn diff(desired: &Network, tagger: &Tagger, live: &NetworkLive) -> Vec<Planned<Action>> {
    let mut plan = Plan::default();
    diff_vpc(desired, tagger, live, &mut plan);
    diff_subnets(desired, tagger, live, &mut plan);
    diff_internet_gateway(desired, tagger, live, &mut plan);
    diff_nat_gateways(desired, tagger, live, &mut plan);
    diff_route_tables(desired, tagger, live, &mut plan);
    diff_removed_subnets(desired, live, &mut plan);
    plan.steps
}

/// Plans the deletion of the stack's subnets that left the file, last, after
/// every other change.
fn diff_removed_subnets(desired: &Network, live: &NetworkLive, plan: &mut Plan) {
    for (logical_id, found) in &live.subnets {
        if is_wanted_subnet(desired, logical_id) {
            continue;
        }
        let change = Change::new(ChangeKind::Delete, logical_id)
            .field("cidr", found.cidr.as_str(), Value::Null)
            .field("zone", found.zone.as_str(), Value::Null);
        plan.push(change, Action::DeleteSubnet(logical_id.clone()));
    }
}

fn is_wanted_subnet(desired: &Network, logical_id: &str) -> bool {
    desired
        .subnets
        .iter()
        .any(|subnet| ids::subnet(&subnet.id) == logical_id)
}

#[derive(Default)]
struct Plan {
    steps: Vec<Planned<Action>>,
}

impl Plan {
    fn push(&mut self, change: Change, action: Action) {
        self.steps.push(Planned { change, action });
    }

    /// Plans a tag update when the live tags differ from the desired ones.
    fn retag(
        &mut self,
        logical_id: &str,
        live: &BTreeMap<String, String>,
        desired: &BTreeMap<String, String>,
    ) {
        let delta = TagDelta::between(live, desired);
        if delta.is_empty() {
            return;
        }
        let mut change = Change::new(ChangeKind::Update, logical_id);
        for (key, value) in &delta.set {
            change.push_if_differs(
                format!("tags.{key}"),
                json_opt(live.get(key)),
                value.as_str(),
            );
        }
        for key in &delta.remove {
            change.push_if_differs(format!("tags.{key}"), json_opt(live.get(key)), Value::Null);
        }
        let action = Action::Retag {
            logical_id: logical_id.to_owned(),
            delta,
        };
        self.push(change, action);
    }
}

fn json_opt(value: Option<&String>) -> Value {
    value.map_or(Value::Null, |value| Value::String(value.clone()))
}

fn created(logical_id: &str, tags: &BTreeMap<String, String>) -> Change {
    Change::new(ChangeKind::Create, logical_id).field("tags", Value::Null, json!(tags))
}

fn diff_vpc(desired: &Network, tagger: &Tagger, live: &NetworkLive, plan: &mut Plan) {
    let tags = tagger.desired(ids::VPC, &tagger.name("vpc"));
    let vpc = &desired.vpc;
    let Some(found) = &live.vpc else {
        let change = created(ids::VPC, &tags)
            .field("cidr", Value::Null, vpc.cidr.to_string())
            .field("enableDnsSupport", Value::Null, vpc.enable_dns_support)
            .field("enableDnsHostnames", Value::Null, vpc.enable_dns_hostnames);
        plan.push(change, Action::CreateVpc);
        // A new VPC has DNS support on and DNS host names off.
        // The Create change above already shows these fields.
        if !vpc.enable_dns_support {
            plan.push(
                Change::new(ChangeKind::Create, ids::VPC),
                Action::SetDnsSupport(false),
            );
        }
        if vpc.enable_dns_hostnames {
            plan.push(
                Change::new(ChangeKind::Create, ids::VPC),
                Action::SetDnsHostnames(true),
            );
        }
        return;
    };

    if found.cidr != vpc.cidr.to_string() {
        plan.push(
            Change::new(ChangeKind::Replace, ids::VPC).field(
                "cidr",
                found.cidr.as_str(),
                vpc.cidr.to_string(),
            ),
            Action::RefuseReplacement {
                logical_id: ids::VPC.to_owned(),
                reason: format!(
                    "the VPC's CIDR cannot change in place ({} in AWS, {} in the file)",
                    found.cidr, vpc.cidr
                ),
            },
        );
    }
    if found.dns_support != vpc.enable_dns_support {
        plan.push(
            Change::new(ChangeKind::Update, ids::VPC).field(
                "enableDnsSupport",
                found.dns_support,
                vpc.enable_dns_support,
            ),
            Action::SetDnsSupport(vpc.enable_dns_support),
        );
    }
    if found.dns_hostnames != vpc.enable_dns_hostnames {
        plan.push(
            Change::new(ChangeKind::Update, ids::VPC).field(
                "enableDnsHostnames",
                found.dns_hostnames,
                vpc.enable_dns_hostnames,
            ),
            Action::SetDnsHostnames(vpc.enable_dns_hostnames),
        );
    }
    plan.retag(ids::VPC, &found.tags, &tags);
}

fn diff_subnets(desired: &Network, tagger: &Tagger, live: &NetworkLive, plan: &mut Plan) {
    for subnet in &desired.subnets {
        let logical_id = ids::subnet(&subnet.id);
        let tags = tagger.desired(&logical_id, &tagger.name(&subnet.id));
        let Some(found) = live.subnets.get(&logical_id) else {
            let change = created(&logical_id, &tags)
                .field("cidr", Value::Null, subnet.cidr.to_string())
                .field("zone", Value::Null, subnet.zone.as_str())
                .field(
                    "mapPublicIpOnLaunch",
                    Value::Null,
                    subnet.map_public_ip_on_launch,
                );
            plan.push(change, Action::CreateSubnet(subnet.id.clone()));
            if subnet.map_public_ip_on_launch {
                plan.push(
                    Change::new(ChangeKind::Create, &logical_id),
                    Action::SetMapPublicIpOnLaunch {
                        subnet: subnet.id.clone(),
                        value: true,
                    },
                );
            }
            continue;
        };

        let mut replace = Change::new(ChangeKind::Replace, &logical_id);
        replace.push_if_differs("cidr", found.cidr.as_str(), subnet.cidr.to_string());
        replace.push_if_differs("zone", found.zone.as_str(), subnet.zone.as_str());
        if !replace.fields.is_empty() {
            let reason = format!(
                "subnet {} cannot move to another CIDR or zone in place; remove it from the file and add a new one",
                subnet.id
            );
            plan.push(
                replace,
                Action::RefuseReplacement {
                    logical_id: logical_id.clone(),
                    reason,
                },
            );
        }
        if found.map_public_ip_on_launch != subnet.map_public_ip_on_launch {
            plan.push(
                Change::new(ChangeKind::Update, &logical_id).field(
                    "mapPublicIpOnLaunch",
                    found.map_public_ip_on_launch,
                    subnet.map_public_ip_on_launch,
                ),
                Action::SetMapPublicIpOnLaunch {
                    subnet: subnet.id.clone(),
                    value: subnet.map_public_ip_on_launch,
                },
            );
        }
        plan.retag(&logical_id, &found.tags, &tags);
    }
}

fn diff_internet_gateway(desired: &Network, tagger: &Tagger, live: &NetworkLive, plan: &mut Plan) {
    // TODO: an internet gateway removed from the file is left in place until pruning exists.
    if !desired.internet_gateway {
        return;
    }
    let logical_id = ids::INTERNET_GATEWAY;
    let tags = tagger.desired(logical_id, &tagger.name("igw"));
    let Some(found) = &live.internet_gateway else {
        plan.push(created(logical_id, &tags), Action::CreateInternetGateway);
        plan.push(
            Change::new(ChangeKind::Create, logical_id).field("attachedTo", Value::Null, ids::VPC),
            Action::AttachInternetGateway,
        );
        return;
    };
    let attached = live
        .vpc
        .as_ref()
        .is_some_and(|vpc| found.attached_vpcs.contains(&vpc.id));
    if !attached {
        plan.push(
            Change::new(ChangeKind::Update, logical_id).field(
                "attachedTo",
                json!(found.attached_vpcs),
                ids::VPC,
            ),
            Action::AttachInternetGateway,
        );
    }
    plan.retag(logical_id, &found.tags, &tags);
}

fn diff_nat_gateways(desired: &Network, tagger: &Tagger, live: &NetworkLive, plan: &mut Plan) {
    for nat in &desired.nat_gateways {
        let address_id = ids::elastic_ip(&nat.id);
        let address_tags = tagger.desired(&address_id, &tagger.name(&nat.id));
        match live.addresses.get(&nat.id) {
            None => plan.push(
                created(&address_id, &address_tags),
                Action::AllocateAddress {
                    nat_gateway: nat.id.clone(),
                },
            ),
            Some(found) => plan.retag(&address_id, &found.tags, &address_tags),
        }

        let logical_id = ids::nat_gateway(&nat.id);
        let tags = tagger.desired(&logical_id, &tagger.name(&nat.id));
        let subnet_id = live
            .subnets
            .get(&ids::subnet(&nat.subnet))
            .map(|subnet| subnet.id.clone());
        let Some(found) = live.nat_gateways.get(&logical_id) else {
            let change =
                created(&logical_id, &tags).field("subnet", Value::Null, ids::subnet(&nat.subnet));
            plan.push(change, Action::CreateNatGateway(nat.id.clone()));
            continue;
        };
        if subnet_id.as_deref() != Some(found.subnet_id.as_str()) {
            let live_subnet = subnet_logical_id(live, &found.subnet_id);
            plan.push(
                Change::new(ChangeKind::Replace, &logical_id).field(
                    "subnet",
                    live_subnet,
                    ids::subnet(&nat.subnet),
                ),
                Action::RefuseReplacement {
                    logical_id: logical_id.clone(),
                    reason: format!(
                        "NAT gateway {} cannot move to another subnet in place",
                        nat.id
                    ),
                },
            );
        }
        plan.retag(&logical_id, &found.tags, &tags);
    }
}

/// Names a live subnet by its logical id when it is one of the stack's, else by its AWS id.
fn subnet_logical_id(live: &NetworkLive, subnet_id: &str) -> String {
    live.subnets
        .iter()
        .find(|(_, subnet)| subnet.id == subnet_id)
        .map_or_else(
            || subnet_id.to_owned(),
            |(logical_id, _)| logical_id.clone(),
        )
}

/// Describes a desired route target the way the plan shows it.
fn desired_target(target: &RouteTarget) -> String {
    match target {
        RouteTarget::InternetGateway => ids::INTERNET_GATEWAY.to_owned(),
        RouteTarget::NatGateway(id) => ids::nat_gateway(id),
    }
}

/// Describes a live route target by logical id when it is one of the stack's.
fn live_target(live: &NetworkLive, target: &LiveRouteTarget) -> String {
    match target {
        LiveRouteTarget::InternetGateway(id) => match &live.internet_gateway {
            Some(gateway) if &gateway.id == id => ids::INTERNET_GATEWAY.to_owned(),
            _ => id.clone(),
        },
        LiveRouteTarget::NatGateway(id) => live
            .nat_gateways
            .iter()
            .find(|(_, nat)| &nat.id == id)
            .map_or_else(|| id.clone(), |(logical_id, _)| logical_id.clone()),
        LiveRouteTarget::Other(id) => id.clone(),
    }
}

fn diff_route_tables(desired: &Network, tagger: &Tagger, live: &NetworkLive, plan: &mut Plan) {
    for table in &desired.route_tables {
        let logical_id = ids::route_table(&table.id);
        let tags = tagger.desired(&logical_id, &tagger.name(&table.id));
        let found = live.route_tables.get(&logical_id);
        match found {
            None => plan.push(
                created(&logical_id, &tags),
                Action::CreateRouteTable(table.id.clone()),
            ),
            Some(found) => plan.retag(&logical_id, &found.tags, &tags),
        }

        // Routes, keyed by destination. Steps of a new table show as part of its creation.
        let kind = if found.is_some() {
            ChangeKind::Update
        } else {
            ChangeKind::Create
        };
        let live_routes = found.map(|found| &found.routes);
        for route in &table.routes {
            let destination = route.destination.to_string();
            let path = format!("routes[{destination}]");
            let wanted = desired_target(&route.target);
            match live_routes.and_then(|routes| routes.get(&destination)) {
                None => plan.push(
                    Change::new(kind, &logical_id).field(path, Value::Null, wanted),
                    Action::CreateRoute {
                        table: table.id.clone(),
                        route: route.clone(),
                    },
                ),
                Some(target) => {
                    let current = live_target(live, target);
                    if current != wanted {
                        plan.push(
                            Change::new(ChangeKind::Update, &logical_id)
                                .field(path, current, wanted),
                            Action::ReplaceRoute {
                                table: table.id.clone(),
                                route: route.clone(),
                            },
                        );
                    }
                }
            }
        }
        if let Some(routes) = live_routes {
            let wanted: BTreeSet<String> = table
                .routes
                .iter()
                .map(|route| route.destination.to_string())
                .collect();
            for (destination, target) in routes {
                if !wanted.contains(destination) {
                    plan.push(
                        Change::new(ChangeKind::Update, &logical_id).field(
                            format!("routes[{destination}]"),
                            live_target(live, target),
                            Value::Null,
                        ),
                        Action::DeleteRoute {
                            table: table.id.clone(),
                            destination: destination.clone(),
                        },
                    );
                }
            }
        }

        // Subnet associations.
        let associated: Vec<(String, String)> = found
            .map(|found| {
                found
                    .associations
                    .iter()
                    .map(|association| {
                        (
                            association.id.clone(),
                            subnet_logical_id(live, &association.subnet_id),
                        )
                    })
                    // A stack subnet that left the file keeps its association
                    // until its own deletion, which needs pruning.
                    .filter(|(_, subnet)| {
                        !live.subnets.contains_key(subnet) || is_wanted_subnet(desired, subnet)
                    })
                    .collect()
            })
            .unwrap_or_default();
        let live_subnets: BTreeSet<&str> = associated
            .iter()
            .map(|(_, subnet)| subnet.as_str())
            .collect();
        let wanted_subnets: BTreeSet<String> = table
            .subnets
            .iter()
            .map(|subnet| ids::subnet(subnet))
            .collect();
        if live_subnets
            .iter()
            .map(|subnet| subnet.to_string())
            .collect::<BTreeSet<_>>()
            == wanted_subnets
        {
            continue;
        }
        let associate: Vec<String> = table
            .subnets
            .iter()
            .filter(|subnet| !live_subnets.contains(ids::subnet(subnet).as_str()))
            .cloned()
            .collect();
        let disassociate: Vec<String> = associated
            .iter()
            .filter(|(_, subnet)| !wanted_subnets.contains(subnet))
            .map(|(association_id, _)| association_id.clone())
            .collect();
        let live_value = if found.is_some() {
            json!(live_subnets)
        } else {
            Value::Null
        };
        plan.push(
            Change::new(kind, &logical_id).field("subnets", live_value, json!(wanted_subnets)),
            Action::SetAssociations {
                table: table.id.clone(),
                associate,
                disassociate,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clients::AwsClients;
    use crate::network::{
        LiveAddress, LiveAssociation, LiveInternetGateway, LiveNatGateway, LiveRouteTable,
        LiveSubnet, LiveVpc, NetworkComponent,
    };
    use stackd_engine::{Component, Readiness};
    use stackd_spec::model::{NatGateway, RouteTable, Subnet, SubnetTier, Vpc};

    const STACK: &str = "s";
    const IGW_ID: &str = "igw-main";

    fn tagger() -> Tagger {
        Tagger::new(STACK, &BTreeMap::new())
    }

    fn subnet(id: &str, tier: SubnetTier, cidr: &str) -> Subnet {
        Subnet {
            id: id.to_owned(),
            tier,
            zone: "eu-west-3a".to_owned(),
            cidr: cidr.parse().unwrap(),
            map_public_ip_on_launch: tier == SubnetTier::Public,
        }
    }

    fn default_route(target: RouteTarget) -> Route {
        Route {
            destination: "0.0.0.0/0".parse().unwrap(),
            target,
        }
    }

    /// Builds a network with two subnets, an internet gateway, one NAT gateway
    /// and two route tables.
    fn desired() -> Network {
        Network {
            vpc: Vpc {
                cidr: "10.0.0.0/16".parse().unwrap(),
                enable_dns_support: true,
                enable_dns_hostnames: true,
            },
            subnets: vec![
                subnet("public-a", SubnetTier::Public, "10.0.0.0/24"),
                subnet("private-a", SubnetTier::Private, "10.0.1.0/24"),
            ],
            internet_gateway: true,
            nat_gateways: vec![NatGateway {
                id: "nat-a".to_owned(),
                subnet: "public-a".to_owned(),
            }],
            route_tables: vec![
                RouteTable {
                    id: "public".to_owned(),
                    subnets: vec!["public-a".to_owned()],
                    routes: vec![default_route(RouteTarget::InternetGateway)],
                },
                RouteTable {
                    id: "private".to_owned(),
                    subnets: vec!["private-a".to_owned()],
                    routes: vec![default_route(RouteTarget::NatGateway("nat-a".to_owned()))],
                },
            ],
        }
    }

    fn subnet_aws_id(subnet: &str) -> String {
        format!("subnet-{subnet}")
    }

    fn nat_aws_id(nat: &str) -> String {
        format!("nat-{nat}")
    }

    /// Builds the live state that matches `desired` exactly, with AWS ids derived
    /// from the logical ids (`subnet-public-a`, `rtb-private`, ...).
    fn converged(desired: &Network, tagger: &Tagger) -> NetworkLive {
        let vpc = LiveVpc {
            id: "vpc-main".to_owned(),
            cidr: desired.vpc.cidr.to_string(),
            dns_support: desired.vpc.enable_dns_support,
            dns_hostnames: desired.vpc.enable_dns_hostnames,
            tags: tagger.desired(ids::VPC, &tagger.name("vpc")),
        };
        let subnets = desired
            .subnets
            .iter()
            .map(|subnet| {
                let logical_id = ids::subnet(&subnet.id);
                let live = LiveSubnet {
                    id: subnet_aws_id(&subnet.id),
                    cidr: subnet.cidr.to_string(),
                    zone: subnet.zone.clone(),
                    map_public_ip_on_launch: subnet.map_public_ip_on_launch,
                    tags: tagger.desired(&logical_id, &tagger.name(&subnet.id)),
                };
                (logical_id, live)
            })
            .collect();
        let internet_gateway = desired.internet_gateway.then(|| LiveInternetGateway {
            id: IGW_ID.to_owned(),
            attached_vpcs: vec![vpc.id.clone()],
            tags: tagger.desired(ids::INTERNET_GATEWAY, &tagger.name("igw")),
        });
        let addresses = desired
            .nat_gateways
            .iter()
            .map(|nat| {
                let live = LiveAddress {
                    allocation_id: format!("eipalloc-{}", nat.id),
                    tags: tagger.desired(&ids::elastic_ip(&nat.id), &tagger.name(&nat.id)),
                };
                (nat.id.clone(), live)
            })
            .collect();
        let nat_gateways = desired
            .nat_gateways
            .iter()
            .map(|nat| {
                let logical_id = ids::nat_gateway(&nat.id);
                let live = LiveNatGateway {
                    id: nat_aws_id(&nat.id),
                    subnet_id: subnet_aws_id(&nat.subnet),
                    state: "available".to_owned(),
                    tags: tagger.desired(&logical_id, &tagger.name(&nat.id)),
                };
                (logical_id, live)
            })
            .collect();
        let route_tables = desired
            .route_tables
            .iter()
            .map(|table| {
                let logical_id = ids::route_table(&table.id);
                let routes = table
                    .routes
                    .iter()
                    .map(|route| {
                        let target = match &route.target {
                            RouteTarget::InternetGateway => {
                                LiveRouteTarget::InternetGateway(IGW_ID.to_owned())
                            }
                            RouteTarget::NatGateway(nat) => {
                                LiveRouteTarget::NatGateway(nat_aws_id(nat))
                            }
                        };
                        (route.destination.to_string(), target)
                    })
                    .collect();
                let associations = table
                    .subnets
                    .iter()
                    .map(|subnet| LiveAssociation {
                        id: format!("rtbassoc-{subnet}"),
                        subnet_id: subnet_aws_id(subnet),
                    })
                    .collect();
                let live = LiveRouteTable {
                    id: format!("rtb-{}", table.id),
                    routes,
                    associations,
                    tags: tagger.desired(&logical_id, &tagger.name(&table.id)),
                };
                (logical_id, live)
            })
            .collect();
        NetworkLive {
            vpc: Some(vpc),
            subnets,
            internet_gateway,
            addresses,
            nat_gateways,
            route_tables,
        }
    }

    fn component(desired: Network) -> NetworkComponent {
        // A client with no credentials and no region: building it sends nothing.
        let config = aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .build();
        NetworkComponent::new(AwsClients::from_config(&config, false), tagger(), desired)
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

    fn tag_map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(key, value)| (key.to_string(), value.to_string()))
            .collect()
    }

    fn private_table(live: &mut NetworkLive) -> &mut LiveRouteTable {
        live.route_tables
            .get_mut(&ids::route_table("private"))
            .unwrap()
    }

    fn public_table(live: &mut NetworkLive) -> &mut LiveRouteTable {
        live.route_tables
            .get_mut(&ids::route_table("public"))
            .unwrap()
    }

    /// One drift scenario: an edit to the converged file or live state, and the
    /// exact plan it must produce.
    struct Case {
        reason: &'static str,
        edit: fn(&mut Network, &mut NetworkLive),
        expected: Vec<Planned<Action>>,
    }

    fn cases() -> Vec<Case> {
        let to_nat = default_route(RouteTarget::NatGateway("nat-a".to_owned()));
        vec![
            Case {
                reason: "a converged network plans nothing",
                edit: |_, _| {},
                expected: vec![],
            },
            Case {
                reason: "a pending NAT gateway is not a change",
                edit: |_, live| {
                    live.nat_gateways
                        .get_mut(&ids::nat_gateway("nat-a"))
                        .unwrap()
                        .state = "pending".to_owned();
                },
                expected: vec![],
            },
            Case {
                reason: "a route removed behind our back is created again",
                edit: |_, live| private_table(live).routes.clear(),
                expected: vec![step(
                    Change::new(ChangeKind::Update, "route-table/private").field(
                        "routes[0.0.0.0/0]",
                        Value::Null,
                        "nat-gateway/nat-a",
                    ),
                    Action::CreateRoute {
                        table: "private".to_owned(),
                        route: to_nat.clone(),
                    },
                )],
            },
            Case {
                reason: "a route pointing elsewhere is replaced",
                edit: |_, live| {
                    private_table(live).routes.insert(
                        "0.0.0.0/0".to_owned(),
                        LiveRouteTarget::InternetGateway(IGW_ID.to_owned()),
                    );
                },
                expected: vec![step(
                    Change::new(ChangeKind::Update, "route-table/private").field(
                        "routes[0.0.0.0/0]",
                        "internet-gateway",
                        "nat-gateway/nat-a",
                    ),
                    Action::ReplaceRoute {
                        table: "private".to_owned(),
                        route: to_nat,
                    },
                )],
            },
            Case {
                reason: "a route added by hand is deleted",
                edit: |_, live| {
                    public_table(live).routes.insert(
                        "192.168.0.0/16".to_owned(),
                        LiveRouteTarget::Other("pcx-1".to_owned()),
                    );
                },
                expected: vec![step(
                    Change::new(ChangeKind::Update, "route-table/public").field(
                        "routes[192.168.0.0/16]",
                        "pcx-1",
                        Value::Null,
                    ),
                    Action::DeleteRoute {
                        table: "public".to_owned(),
                        destination: "192.168.0.0/16".to_owned(),
                    },
                )],
            },
            Case {
                reason: "a subnet tag changed by hand is set back",
                edit: |_, live| {
                    live.subnets
                        .get_mut(&ids::subnet("public-a"))
                        .unwrap()
                        .tags
                        .insert("Name".to_owned(), "renamed".to_owned());
                },
                expected: vec![step(
                    Change::new(ChangeKind::Update, "subnet/public-a").field(
                        "tags.Name",
                        "renamed",
                        "s-public-a",
                    ),
                    Action::Retag {
                        logical_id: "subnet/public-a".to_owned(),
                        delta: TagDelta {
                            set: tag_map(&[("Name", "s-public-a")]),
                            remove: Vec::new(),
                        },
                    },
                )],
            },
            Case {
                reason: "a tag added by hand is removed",
                edit: |_, live| {
                    let vpc = live.vpc.as_mut().unwrap();
                    vpc.tags.insert("owner".to_owned(), "alice".to_owned());
                },
                expected: vec![step(
                    Change::new(ChangeKind::Update, "vpc").field(
                        "tags.owner",
                        "alice",
                        Value::Null,
                    ),
                    Action::Retag {
                        logical_id: "vpc".to_owned(),
                        delta: TagDelta {
                            set: BTreeMap::new(),
                            remove: vec!["owner".to_owned()],
                        },
                    },
                )],
            },
            Case {
                reason: "a new VPC CIDR needs a replacement, which is refused",
                edit: |desired, _| desired.vpc.cidr = "10.1.0.0/16".parse().unwrap(),
                expected: vec![step(
                    Change::new(ChangeKind::Replace, "vpc").field(
                        "cidr",
                        "10.0.0.0/16",
                        "10.1.0.0/16",
                    ),
                    Action::RefuseReplacement {
                        logical_id: "vpc".to_owned(),
                        reason: "the VPC's CIDR cannot change in place \
                                 (10.0.0.0/16 in AWS, 10.1.0.0/16 in the file)"
                            .to_owned(),
                    },
                )],
            },
            Case {
                reason: "a subnet moved to another zone needs a replacement, which is refused",
                edit: |desired, _| desired.subnets[0].zone = "eu-west-3b".to_owned(),
                expected: vec![step(
                    Change::new(ChangeKind::Replace, "subnet/public-a").field(
                        "zone",
                        "eu-west-3a",
                        "eu-west-3b",
                    ),
                    Action::RefuseReplacement {
                        logical_id: "subnet/public-a".to_owned(),
                        reason: "subnet public-a cannot move to another CIDR or zone in place; \
                                 remove it from the file and add a new one"
                            .to_owned(),
                    },
                )],
            },
            Case {
                reason: "DNS host names turned off by hand are turned on again",
                edit: |_, live| live.vpc.as_mut().unwrap().dns_hostnames = false,
                expected: vec![step(
                    Change::new(ChangeKind::Update, "vpc").field("enableDnsHostnames", false, true),
                    Action::SetDnsHostnames(true),
                )],
            },
            Case {
                reason: "a detached internet gateway is attached again",
                edit: |_, live| {
                    live.internet_gateway
                        .as_mut()
                        .unwrap()
                        .attached_vpcs
                        .clear();
                },
                expected: vec![step(
                    Change::new(ChangeKind::Update, "internet-gateway").field(
                        "attachedTo",
                        json!([]),
                        "vpc",
                    ),
                    Action::AttachInternetGateway,
                )],
            },
            Case {
                reason: "a subnet associated with another table is moved back",
                edit: |_, live| {
                    public_table(live).associations.clear();
                    private_table(live).associations.push(LiveAssociation {
                        id: "rtbassoc-moved".to_owned(),
                        subnet_id: subnet_aws_id("public-a"),
                    });
                },
                expected: vec![
                    step(
                        Change::new(ChangeKind::Update, "route-table/public").field(
                            "subnets",
                            json!([]),
                            json!(["subnet/public-a"]),
                        ),
                        Action::SetAssociations {
                            table: "public".to_owned(),
                            associate: vec!["public-a".to_owned()],
                            disassociate: Vec::new(),
                        },
                    ),
                    step(
                        Change::new(ChangeKind::Update, "route-table/private").field(
                            "subnets",
                            json!(["subnet/private-a", "subnet/public-a"]),
                            json!(["subnet/private-a"]),
                        ),
                        Action::SetAssociations {
                            table: "private".to_owned(),
                            associate: Vec::new(),
                            disassociate: vec!["rtbassoc-moved".to_owned()],
                        },
                    ),
                ],
            },
        ]
    }

    #[test]
    fn drift_cases_plan_expected_steps() {
        let tagger = tagger();
        for case in cases() {
            let mut desired = desired();
            let mut live = converged(&desired, &tagger);
            (case.edit)(&mut desired, &mut live);

            let plan = diff(&desired, &tagger, &live);

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

    #[test]
    fn empty_live_creates_in_aws_order() {
        let plan = diff(&desired(), &tagger(), &NetworkLive::default());
        let to_internet = default_route(RouteTarget::InternetGateway);
        let to_nat = default_route(RouteTarget::NatGateway("nat-a".to_owned()));
        let expected = [
            Action::CreateVpc,
            Action::SetDnsHostnames(true),
            Action::CreateSubnet("public-a".to_owned()),
            Action::SetMapPublicIpOnLaunch {
                subnet: "public-a".to_owned(),
                value: true,
            },
            Action::CreateSubnet("private-a".to_owned()),
            Action::CreateInternetGateway,
            Action::AttachInternetGateway,
            Action::AllocateAddress {
                nat_gateway: "nat-a".to_owned(),
            },
            Action::CreateNatGateway("nat-a".to_owned()),
            Action::CreateRouteTable("public".to_owned()),
            Action::CreateRoute {
                table: "public".to_owned(),
                route: to_internet,
            },
            Action::SetAssociations {
                table: "public".to_owned(),
                associate: vec!["public-a".to_owned()],
                disassociate: Vec::new(),
            },
            Action::CreateRouteTable("private".to_owned()),
            Action::CreateRoute {
                table: "private".to_owned(),
                route: to_nat,
            },
            Action::SetAssociations {
                table: "private".to_owned(),
                associate: vec!["private-a".to_owned()],
                disassociate: Vec::new(),
            },
        ];
        assert_eq!(actions(&plan), expected);
    }

    #[test]
    fn empty_live_plans_only_creations() {
        let plan = diff(&desired(), &tagger(), &NetworkLive::default());
        let not_create: Vec<&Change> = plan
            .iter()
            .map(|step| &step.change)
            .filter(|change| change.kind != ChangeKind::Create)
            .collect();
        assert_eq!(not_create, Vec::<&Change>::new());
    }

    #[test]
    fn empty_live_shows_new_vpc_fields() {
        let plan = diff(&desired(), &tagger(), &NetworkLive::default());
        let paths: Vec<&str> = plan[0]
            .change
            .fields
            .iter()
            .map(|field| field.path.as_str())
            .collect();
        assert_eq!(
            paths,
            ["tags", "cidr", "enableDnsSupport", "enableDnsHostnames"]
        );
    }

    #[test]
    fn pending_nat_gateway_is_progressing() {
        let component = component(desired());
        let mut live = converged(&desired(), &tagger());
        live.nat_gateways
            .get_mut(&ids::nat_gateway("nat-a"))
            .unwrap()
            .state = "pending".to_owned();
        assert_eq!(
            component.readiness(&live),
            Readiness::Progressing("waiting for nat-gateway/nat-a to become available".to_owned())
        );
    }

    #[test]
    fn available_nat_gateway_is_ready() {
        let component = component(desired());
        let live = converged(&desired(), &tagger());
        assert_eq!(component.readiness(&live), Readiness::Ready);
    }
}
