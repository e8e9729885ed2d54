//! Checks of security groups, their rules, and VPC endpoints.

use ipnet::Ipv4Net;

use super::{Context, Index, check_ids, check_unique_names, values};
use crate::model::{self, PortRange, Protocol};
use crate::path;
use crate::raw;

/// Services that offer gateway endpoints. Every other service takes interface endpoints.
const GATEWAY_SERVICES: &[&str] = &["s3", "dynamodb"];

pub(super) fn security_groups(
    raw: &[raw::SecurityGroup],
    network: &model::Network,
    index: &Index,
    context: &mut Context<'_>,
) -> Vec<model::SecurityGroup> {
    let list = "spec.securityGroups";
    check_ids(
        context,
        "security group",
        list,
        raw.iter().map(|g| g.id.as_str()),
    );
    check_unique_names(
        context,
        "security group",
        raw.iter().enumerate().map(|(i, g)| {
            (
                path::join_key(&path::join_index(list, i), "name"),
                g.name.clone(),
            )
        }),
    );

    let mut groups = Vec::new();
    for (i, group) in raw.iter().enumerate() {
        let at = path::join_index(list, i);
        let name_path = path::join_key(&at, "name");

        if group.name.to_ascii_lowercase().starts_with("sg-") {
            context
                .error(
                    &name_path,
                    format!("security group name \"{}\" starts with sg-", group.name),
                )
                .set_help("EC2 reserves the sg- prefix for group ids, so choose another name");
        }
        if group.name.is_empty() {
            context.error(&name_path, "security group name is empty");
        }
        values::check_ec2_text(context, &name_path, &group.name, "security group name");
        values::check_ec2_text(
            context,
            &path::join_key(&at, "description"),
            &group.description,
            "description",
        );

        let mut ingress = Vec::new();
        for (j, rule) in group.ingress.iter().enumerate() {
            let rule_path = path::join_index(&path::join_key(&at, "ingress"), j);
            let parts = RuleParts {
                protocol: rule.protocol,
                port: rule.port,
                port_range: rule.port_range.as_ref(),
                peers: &rule.from,
                peers_field: "from",
                description: rule.description.as_deref(),
            };
            ingress.extend(rule_to_model(
                &parts, &rule_path, &group.id, network, index, context,
            ));
        }

        let egress = match &group.egress {
            None => vec![model::Rule {
                protocol: Protocol::All,
                ports: None,
                peer: model::Peer::Cidr(Ipv4Net::default()),
                description: None,
            }],
            Some(rules) => {
                let mut egress = Vec::new();
                for (j, rule) in rules.iter().enumerate() {
                    let rule_path = path::join_index(&path::join_key(&at, "egress"), j);
                    let parts = RuleParts {
                        protocol: rule.protocol,
                        port: rule.port,
                        port_range: rule.port_range.as_ref(),
                        peers: &rule.to,
                        peers_field: "to",
                        description: rule.description.as_deref(),
                    };
                    egress.extend(rule_to_model(
                        &parts, &rule_path, &group.id, network, index, context,
                    ));
                }
                egress
            }
        };

        check_duplicate_rules(context, &path::join_key(&at, "ingress"), &ingress);
        check_duplicate_rules(context, &path::join_key(&at, "egress"), &egress);

        groups.push(model::SecurityGroup {
            id: group.id.clone(),
            name: group.name.clone(),
            description: group.description.clone(),
            ingress,
            egress,
        });
    }
    groups
}

/// The fields that ingress and egress rules share.
struct RuleParts<'a> {
    protocol: raw::Protocol,
    port: Option<i64>,
    port_range: Option<&'a raw::PortRange>,
    peers: &'a [raw::Peer],
    peers_field: &'static str,
    description: Option<&'a str>,
}

/// Flattens one rule of the file into one model rule per peer.
fn rule_to_model(
    rule: &RuleParts<'_>,
    at: &str,
    group_id: &str,
    network: &model::Network,
    index: &Index,
    context: &mut Context<'_>,
) -> Vec<model::Rule> {
    let protocol = match rule.protocol {
        raw::Protocol::Tcp => Protocol::Tcp,
        raw::Protocol::Udp => Protocol::Udp,
        raw::Protocol::Icmp => Protocol::Icmp,
        raw::Protocol::All => Protocol::All,
    };
    let ports = rule_ports(rule, protocol, at, context);

    if let Some(description) = rule.description {
        values::check_ec2_text(
            context,
            &path::join_key(at, "description"),
            description,
            "rule description",
        );
    }

    let peers_path = path::join_key(at, rule.peers_field);
    if rule.peers.is_empty() {
        context
            .error(&peers_path, format!("`{}` lists no peer", rule.peers_field))
            .set_help(
                "list at least one of { cidr }, { subnet }, { securityGroup } or { self: true }",
            );
    }

    let mut rules = Vec::new();
    for (k, peer) in rule.peers.iter().enumerate() {
        let peer_path = path::join_index(&peers_path, k);
        if let Some(peer) = peer_to_model(peer, &peer_path, group_id, network, index, context) {
            rules.push(model::Rule {
                protocol,
                ports,
                peer,
                description: rule.description.map(str::to_owned),
            });
        }
    }
    rules
}

fn rule_ports(
    rule: &RuleParts<'_>,
    protocol: Protocol,
    at: &str,
    context: &mut Context<'_>,
) -> Option<PortRange> {
    match (protocol, rule.port, rule.port_range) {
        (Protocol::Tcp | Protocol::Udp, Some(port), None) => {
            let port = values::port(context, &path::join_key(at, "port"), port);
            Some(PortRange::single(port))
        }
        (Protocol::Tcp | Protocol::Udp, None, Some(range)) => {
            let range_path = path::join_key(at, "portRange");
            let from = values::port(context, &path::join_key(&range_path, "from"), range.from);
            let to = values::port(context, &path::join_key(&range_path, "to"), range.to);
            if from > to {
                context
                    .error(
                        &range_path,
                        format!("port range {from}-{to} is reversed: from is greater than to"),
                    )
                    .set_help(format!("write from: {to}, to: {from}"));
            }
            Some(PortRange { from, to })
        }
        (Protocol::Tcp | Protocol::Udp, Some(_), Some(_)) => {
            context
                .error(at, "a rule takes `port` or `portRange`, not both")
                .set_help("keep `port` for one port, `portRange` for a range");
            None
        }
        (Protocol::Tcp | Protocol::Udp, None, None) => {
            context
                .error(at, "a tcp or udp rule needs `port` or `portRange`")
                .set_help("write port: 443, or portRange: { from: 1024, to: 65535 } for a range");
            None
        }
        (Protocol::Icmp | Protocol::All, None, None) => None,
        (Protocol::Icmp | Protocol::All, _, _) => {
            let field = if rule.port.is_some() {
                "port"
            } else {
                "portRange"
            };
            context
                .error(
                    &path::join_key(at, field),
                    "only tcp and udp rules take ports",
                )
                .set_help("remove the port, because icmp and all rules cover every port");
            None
        }
    }
}

fn peer_to_model(
    peer: &raw::Peer,
    at: &str,
    group_id: &str,
    network: &model::Network,
    index: &Index,
    context: &mut Context<'_>,
) -> Option<model::Peer> {
    let set = [
        peer.cidr.is_some(),
        peer.subnet.is_some(),
        peer.security_group.is_some(),
        peer.self_.is_some(),
    ];
    if set.iter().filter(|is_set| **is_set).count() != 1 {
        context
            .error(
                at,
                "a peer needs exactly one of `cidr`, `subnet`, `securityGroup` and `self`",
            )
            .set_help("write one peer per list item, such as - subnet: private-a");
        return None;
    }

    if let Some(cidr) = &peer.cidr {
        return Some(model::Peer::Cidr(values::parse_cidr(
            context,
            &path::join_key(at, "cidr"),
            cidr,
        )));
    }
    if let Some(subnet) = &peer.subnet {
        index
            .subnets
            .check(context, &path::join_key(at, "subnet"), subnet);
        let cidr = network.subnet(subnet).map(|s| s.cidr).unwrap_or_default();
        return Some(model::Peer::Cidr(cidr));
    }
    if let Some(group) = &peer.security_group {
        index
            .security_groups
            .check(context, &path::join_key(at, "securityGroup"), group);
        return Some(model::Peer::SecurityGroup(group.clone()));
    }
    if peer.self_ == Some(false) {
        context
            .error(&path::join_key(at, "self"), "self: false names no peer")
            .set_help("write self: true for the group itself, or remove the item");
        return None;
    }
    Some(model::Peer::SecurityGroup(group_id.to_owned()))
}

/// Rejects rules of the ingress or egress list at `at` that EC2 would reject as duplicates.
fn check_duplicate_rules(context: &mut Context<'_>, at: &str, rules: &[model::Rule]) {
    for (i, rule) in rules.iter().enumerate() {
        let earlier = rules[..i].iter().any(|other| {
            other.protocol == rule.protocol && other.ports == rule.ports && other.peer == rule.peer
        });
        if earlier {
            let peer = match &rule.peer {
                model::Peer::Cidr(cidr) => cidr.to_string(),
                model::Peer::SecurityGroup(group) => format!("security group \"{group}\""),
            };
            context
                .error(
                    at,
                    format!("two rules allow the same traffic from or to {peer}"),
                )
                .set_help(
                    "EC2 rejects duplicate rules, so remove one. A subnet peer counts as its CIDR",
                );
        }
    }
}

pub(super) fn vpc_endpoints(
    raw: &[raw::VpcEndpoint],
    network: &model::Network,
    index: &Index,
    context: &mut Context<'_>,
) -> Vec<model::VpcEndpoint> {
    let list = "spec.vpcEndpoints";
    check_ids(
        context,
        "VPC endpoint",
        list,
        raw.iter().map(|e| e.id.as_str()),
    );

    let mut endpoints: Vec<model::VpcEndpoint> = Vec::new();
    for (i, endpoint) in raw.iter().enumerate() {
        let at = path::join_index(list, i);
        let service_path = path::join_key(&at, "service");
        let route_tables_path = path::join_key(&at, "routeTables");
        let subnets_path = path::join_key(&at, "subnets");
        let groups_path = path::join_key(&at, "securityGroups");

        let service_ok = !endpoint.service.is_empty()
            && endpoint
                .service
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-');
        if !service_ok {
            context
                .error(&service_path, format!("invalid service name \"{}\"", endpoint.service))
                .set_help("write the short name, such as s3 or secretsmanager, without com.amazonaws.REGION.");
        }

        index
            .route_tables
            .check_all(context, &route_tables_path, &endpoint.route_tables);
        index
            .subnets
            .check_all(context, &subnets_path, &endpoint.subnets);
        index
            .security_groups
            .check_all(context, &groups_path, &endpoint.security_groups);
        values::check_no_repeats(context, &route_tables_path, &endpoint.route_tables);
        values::check_no_repeats(context, &subnets_path, &endpoint.subnets);

        let (endpoint_type, private_dns) = match endpoint.endpoint_type {
            raw::EndpointType::Gateway => {
                if !GATEWAY_SERVICES.contains(&endpoint.service.as_str()) {
                    context
                        .error(
                            &path::join_key(&at, "type"),
                            format!("{} has no gateway endpoint", endpoint.service),
                        )
                        .set_help(
                            "only s3 and dynamodb have gateway endpoints, so write type: Interface",
                        );
                }
                if endpoint.route_tables.is_empty() {
                    context
                        .error(&at, "a gateway endpoint needs `routeTables`")
                        .set_help("list the route tables of the subnets that use the endpoint");
                }
                if !endpoint.subnets.is_empty() {
                    context
                        .error(&subnets_path, "a gateway endpoint takes no subnets")
                        .set_help("list route tables in `routeTables` instead");
                }
                if !endpoint.security_groups.is_empty() {
                    context
                        .error(&groups_path, "a gateway endpoint takes no security groups")
                        .set_help(
                            "remove `securityGroups`, because the route tables control access",
                        );
                }
                if endpoint.private_dns == Some(true) {
                    context
                        .error(
                            &path::join_key(&at, "privateDns"),
                            "a gateway endpoint has no private DNS",
                        )
                        .set_help("remove `privateDns`");
                }
                (model::EndpointType::Gateway, false)
            }
            raw::EndpointType::Interface => {
                if endpoint.subnets.is_empty() {
                    context
                        .error(&at, "an interface endpoint needs `subnets`")
                        .set_help("list one subnet per availability zone that uses the endpoint");
                }
                if !endpoint.route_tables.is_empty() {
                    context
                        .error(
                            &route_tables_path,
                            "an interface endpoint takes no route tables",
                        )
                        .set_help("list subnets in `subnets` instead");
                }
                values::check_one_subnet_per_zone(
                    context,
                    &subnets_path,
                    &endpoint.subnets,
                    network,
                    "interface endpoints",
                );
                let private_dns = endpoint.private_dns.unwrap_or(true);
                if private_dns
                    && !(network.vpc.enable_dns_support && network.vpc.enable_dns_hostnames)
                {
                    context
                        .error(
                            &path::join_key(&at, "privateDns"),
                            "private DNS needs the VPC's enableDnsSupport and enableDnsHostnames",
                        )
                        .set_help("set both to true under spec.network.vpc, or privateDns: false");
                }
                (model::EndpointType::Interface, private_dns)
            }
        };

        check_endpoint_clash(
            context,
            list,
            i,
            endpoint,
            &endpoints,
            endpoint_type,
            private_dns,
        );

        endpoints.push(model::VpcEndpoint {
            id: endpoint.id.clone(),
            service: endpoint.service.clone(),
            endpoint_type,
            route_tables: endpoint.route_tables.clone(),
            subnets: endpoint.subnets.clone(),
            security_groups: endpoint.security_groups.clone(),
            private_dns,
        });
    }
    endpoints
}

/// Rejects a second endpoint of a service that AWS would refuse: gateway endpoints of one
/// service sharing a route table, or interface endpoints of one service both with private DNS.
fn check_endpoint_clash(
    context: &mut Context<'_>,
    list: &str,
    i: usize,
    endpoint: &raw::VpcEndpoint,
    earlier: &[model::VpcEndpoint],
    endpoint_type: model::EndpointType,
    private_dns: bool,
) {
    for (j, other) in earlier.iter().enumerate() {
        if other.service != endpoint.service || other.endpoint_type != endpoint_type {
            continue;
        }
        let line = context.line_of(&path::join_index(list, j));
        let at = path::join_index(list, i);
        match endpoint_type {
            model::EndpointType::Gateway => {
                if let Some(table) = endpoint
                    .route_tables
                    .iter()
                    .find(|t| other.route_tables.contains(t))
                {
                    context
                        .error(
                            &path::join_key(&at, "routeTables"),
                            format!(
                                "route table \"{table}\" already routes {} through endpoint \"{}\" (line {line})",
                                endpoint.service, other.id
                            ),
                        )
                        .set_help("a route table takes one gateway endpoint per service");
                }
            }
            model::EndpointType::Interface => {
                if private_dns && other.private_dns {
                    context
                        .error(
                            &path::join_key(&at, "privateDns"),
                            format!(
                                "endpoint \"{}\" (line {line}) already has private DNS for {}",
                                other.id, endpoint.service
                            ),
                        )
                        .set_help(
                            "a VPC takes one interface endpoint with private DNS per service",
                        );
                }
            }
        }
    }
}
