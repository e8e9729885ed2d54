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
    plan.steps
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
