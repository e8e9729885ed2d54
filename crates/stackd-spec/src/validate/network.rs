//! Checks of the VPC, subnets, NAT gateways and route tables.

use std::collections::BTreeMap;

use ipnet::Ipv4Net;

use super::{Context, Index, check_ids, values};
use crate::model::{self, SubnetTier};
use crate::path;
use crate::raw;

/// Smallest and largest prefix lengths that AWS accepts for a VPC or subnet CIDR.
const PREFIX_LENGTHS: std::ops::RangeInclusive<u8> = 16..=28;

/// The default route's destination.
const DEFAULT_ROUTE: Ipv4Net = Ipv4Net::new_assert(std::net::Ipv4Addr::UNSPECIFIED, 0);

pub(super) fn network(
    raw: &raw::Network,
    region: &str,
    index: &Index,
    context: &mut Context<'_>,
) -> model::Network {
    let vpc = vpc(&raw.vpc, context);
    let subnets = subnets(&raw.subnets, &vpc, region, context);

    let mut network = model::Network {
        vpc,
        subnets,
        internet_gateway: raw.internet_gateway,
        nat_gateways: Vec::new(),
        route_tables: Vec::new(),
    };
    network.nat_gateways = nat_gateways(&raw.nat_gateways, &network, index, context);
    network.route_tables = route_tables(&raw.route_tables, &network, index, context);
    network
}

fn vpc(raw: &raw::Vpc, context: &mut Context<'_>) -> model::Vpc {
    let at = "spec.network.vpc.cidr";
    let cidr = values::parse_cidr(context, at, &raw.cidr);
    check_prefix_length(context, at, cidr, "a VPC");
    model::Vpc {
        cidr,
        enable_dns_support: raw.enable_dns_support,
        enable_dns_hostnames: raw.enable_dns_hostnames,
    }
}

fn check_prefix_length(context: &mut Context<'_>, at: &str, cidr: Ipv4Net, subject: &str) {
    // parse_cidr has reported an invalid CIDR and returned 0.0.0.0/0, so report nothing more.
    if cidr == Ipv4Net::default() {
        return;
    }
    if !PREFIX_LENGTHS.contains(&cidr.prefix_len()) {
        context
            .error(
                at,
                format!(
                    "prefix length /{} is not allowed for {subject}",
                    cidr.prefix_len()
                ),
            )
            .set_help(format!(
                "AWS accepts /{} to /{}",
                PREFIX_LENGTHS.start(),
                PREFIX_LENGTHS.end()
            ));
    }
}

fn subnets(
    raw: &[raw::Subnet],
    vpc: &model::Vpc,
    region: &str,
    context: &mut Context<'_>,
) -> Vec<model::Subnet> {
    let list = "spec.network.subnets";
    check_ids(context, "subnet", list, raw.iter().map(|s| s.id.as_str()));

    let mut subnets: Vec<model::Subnet> = Vec::new();
    for (i, subnet) in raw.iter().enumerate() {
        let at = path::join_index(list, i);
        let cidr_path = path::join_key(&at, "cidr");
        values::check_zone(context, &path::join_key(&at, "zone"), &subnet.zone, region);

        let cidr = values::parse_cidr(context, &cidr_path, &subnet.cidr);
        let valid = cidr != Ipv4Net::default();
        if valid {
            check_prefix_length(context, &cidr_path, cidr, "a subnet");
        }
        let vpc_valid = vpc.cidr != Ipv4Net::default();
        if valid && vpc_valid && !vpc.cidr.contains(&cidr) {
            context
                .error(
                    &cidr_path,
                    format!("subnet CIDR {cidr} is outside the VPC's CIDR {}", vpc.cidr),
                )
                .set_help(format!("choose a network inside {}", vpc.cidr));
        }
        if valid {
            let earlier = subnets
                .iter()
                .enumerate()
                .find(|(_, other)| other.cidr != Ipv4Net::default() && overlaps(other.cidr, cidr));
            if let Some((j, other)) = earlier {
                let line = context.line_of(&path::join_index(list, j));
                context
                    .error(
                        &cidr_path,
                        format!(
                            "subnet \"{}\" ({cidr}) overlaps subnet \"{}\" ({}, line {line})",
                            subnet.id, other.id, other.cidr
                        ),
                    )
                    .set_help("give each subnet its own range of addresses");
            }
        }

        subnets.push(model::Subnet {
            id: subnet.id.clone(),
            tier: match subnet.tier {
                raw::SubnetTier::Public => SubnetTier::Public,
                raw::SubnetTier::Private => SubnetTier::Private,
            },
            zone: subnet.zone.clone(),
            cidr,
            map_public_ip_on_launch: subnet.map_public_ip_on_launch,
        });
    }
    subnets
}

/// Returns whether two canonical networks share an address.
pub(crate) fn overlaps(a: Ipv4Net, b: Ipv4Net) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

fn nat_gateways(
    raw: &[raw::NatGateway],
    network: &model::Network,
    index: &Index,
    context: &mut Context<'_>,
) -> Vec<model::NatGateway> {
    let list = "spec.network.natGateways";
    check_ids(
        context,
        "NAT gateway",
        list,
        raw.iter().map(|n| n.id.as_str()),
    );

    for (i, nat) in raw.iter().enumerate() {
        let subnet_path = path::join_key(&path::join_index(list, i), "subnet");
        if !index.subnets.check(context, &subnet_path, &nat.subnet) {
            continue;
        }
        if network
            .subnet(&nat.subnet)
            .is_some_and(|s| s.tier == SubnetTier::Private)
        {
            context
                .error(
                    &subnet_path,
                    format!("NAT gateway \"{}\" is in private subnet \"{}\"", nat.id, nat.subnet),
                )
                .set_help("a NAT gateway reaches the internet through its subnet, so put it in a public subnet");
        }
        if !network.internet_gateway {
            context
                .error(
                    &subnet_path,
                    format!("NAT gateway \"{}\" needs an internet gateway", nat.id),
                )
                .set_help("set spec.network.internetGateway: true");
        }
    }

    raw.iter()
        .map(|nat| model::NatGateway {
            id: nat.id.clone(),
            subnet: nat.subnet.clone(),
        })
        .collect()
}

fn route_tables(
    raw: &[raw::RouteTable],
    network: &model::Network,
    index: &Index,
    context: &mut Context<'_>,
) -> Vec<model::RouteTable> {
    let list = "spec.network.routeTables";
    check_ids(
        context,
        "route table",
        list,
        raw.iter().map(|t| t.id.as_str()),
    );

    // Subnet id to the path of its first association.
    let mut associations: BTreeMap<&str, (String, &str)> = BTreeMap::new();
    let mut tables = Vec::new();

    for (i, table) in raw.iter().enumerate() {
        let at = path::join_index(list, i);
        let subnets_path = path::join_key(&at, "subnets");
        index
            .subnets
            .check_all(context, &subnets_path, &table.subnets);
        values::check_no_repeats(context, &subnets_path, &table.subnets);

        for (j, subnet) in table.subnets.iter().enumerate() {
            let subnet_path = path::join_index(&subnets_path, j);
            match associations.get(subnet.as_str()) {
                Some((first_path, first_table)) if *first_table != table.id => {
                    let line = context.line_of(first_path);
                    context
                        .error(
                            &subnet_path,
                            format!(
                                "subnet \"{subnet}\" is already associated with route table \
                                 \"{first_table}\" (line {line})"
                            ),
                        )
                        .set_help("a subnet has one route table, so remove it from one of the two");
                }
                Some(_) => {}
                None => {
                    associations.insert(subnet, (subnet_path, &table.id));
                }
            }
        }

        let routes = routes(&table.routes, &at, network, index, context);
        check_tier_routes(table, &routes, &at, network, context);
        tables.push(model::RouteTable {
            id: table.id.clone(),
            subnets: table.subnets.clone(),
            routes,
        });
    }
    tables
}

fn routes(
    raw: &[raw::Route],
    table_path: &str,
    network: &model::Network,
    index: &Index,
    context: &mut Context<'_>,
) -> Vec<model::Route> {
    let list = path::join_key(table_path, "routes");
    let mut routes: Vec<model::Route> = Vec::new();

    for (i, route) in raw.iter().enumerate() {
        let at = path::join_index(&list, i);
        let destination_path = path::join_key(&at, "destination");
        let target_path = path::join_key(&at, "target");
        let destination = values::parse_cidr(context, &destination_path, &route.destination);

        let vpc = network.vpc.cidr;
        if vpc != Ipv4Net::default()
            && vpc.contains(&destination)
            && destination != Ipv4Net::default()
        {
            context
                .error(
                    &destination_path,
                    format!("destination {destination} is inside the VPC's CIDR {vpc}"),
                )
                .set_help("the VPC's local route already covers addresses inside the VPC");
        }
        if let Some(j) = routes.iter().position(|r| r.destination == destination) {
            let line = context.line_of(&path::join_index(&list, j));
            context
                .error(
                    &destination_path,
                    format!("destination {destination} already has a route (line {line})"),
                )
                .set_help("a route table has one route per destination, so remove one of them");
        }

        let target = match (&route.target.internet_gateway, &route.target.nat_gateway) {
            (Some(true), None) => {
                if !network.internet_gateway {
                    context
                        .error(
                            &target_path,
                            "route targets the internet gateway, but the VPC has none",
                        )
                        .set_help("set spec.network.internetGateway: true");
                }
                model::RouteTarget::InternetGateway
            }
            (Some(false), None) => {
                context
                    .error(
                        &path::join_key(&target_path, "internetGateway"),
                        "internetGateway: false is not a target",
                    )
                    .set_help("write { internetGateway: true } or { natGateway: ID }");
                model::RouteTarget::InternetGateway
            }
            (None, Some(nat)) => {
                index
                    .nat_gateways
                    .check(context, &path::join_key(&target_path, "natGateway"), nat);
                model::RouteTarget::NatGateway(nat.clone())
            }
            _ => {
                context
                    .error(
                        &target_path,
                        "a route target needs exactly one of `internetGateway` and `natGateway`",
                    )
                    .set_help("write { internetGateway: true } or { natGateway: ID }");
                model::RouteTarget::InternetGateway
            }
        };

        routes.push(model::Route {
            destination,
            target,
        });
    }
    routes
}

/// Rejects default routes that contradict the tier of the associated subnets.
fn check_tier_routes(
    table: &raw::RouteTable,
    routes: &[model::Route],
    table_path: &str,
    network: &model::Network,
    context: &mut Context<'_>,
) {
    let Some((i, default_route)) = routes
        .iter()
        .enumerate()
        .find(|(_, route)| route.destination == DEFAULT_ROUTE)
    else {
        return;
    };
    let target_path = path::join_key(
        &path::join_index(&path::join_key(table_path, "routes"), i),
        "target",
    );

    let with_tier = |tier: SubnetTier| -> Vec<&str> {
        table
            .subnets
            .iter()
            .filter(|id| network.subnet(id).is_some_and(|s| s.tier == tier))
            .map(String::as_str)
            .collect()
    };

    match &default_route.target {
        model::RouteTarget::NatGateway(nat) => {
            let public = with_tier(SubnetTier::Public);
            if !public.is_empty() {
                context
                    .error(
                        &target_path,
                        format!(
                            "route table \"{}\" has public subnets ({}), but its default route goes to \
                             NAT gateway \"{nat}\"",
                            table.id,
                            public.join(", ")
                        ),
                    )
                    .set_help(
                        "route 0.0.0.0/0 to { internetGateway: true } in public route tables, because NAT \
                         gateways serve private subnets",
                    );
            }
        }
        model::RouteTarget::InternetGateway => {
            let private = with_tier(SubnetTier::Private);
            if !private.is_empty() {
                context
                    .error(
                        &target_path,
                        format!(
                            "route table \"{}\" has private subnets ({}), but its default route goes to \
                             the internet gateway",
                            table.id,
                            private.join(", ")
                        ),
                    )
                    .set_help("route 0.0.0.0/0 to a NAT gateway, or set tier: public on those subnets");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlapping_networks_are_detected() {
        let a: Ipv4Net = "10.0.0.0/23".parse().unwrap();
        let b: Ipv4Net = "10.0.1.0/24".parse().unwrap();
        let c: Ipv4Net = "10.0.2.0/24".parse().unwrap();
        assert!(overlaps(a, b));
        assert!(overlaps(b, a));
        assert!(!overlaps(a, c));
    }
}
