//! Checks of load balancers, their target groups and listeners.

use std::collections::BTreeSet;

use super::{Context, Index, check_ids, check_unique_names, values};
use crate::model::{self, ElbProtocol, LoadBalancerType, SubnetTier};
use crate::path;
use crate::raw;

pub(super) fn load_balancers(
    raw: &[raw::LoadBalancer],
    region: &str,
    network: &model::Network,
    index: &Index,
    context: &mut Context<'_>,
) -> Vec<model::LoadBalancer> {
    let list = "spec.loadBalancers";
    check_ids(
        context,
        "load balancer",
        list,
        raw.iter().map(|lb| lb.id.as_str()),
    );
    check_unique_names(
        context,
        "load balancer",
        raw.iter().enumerate().map(|(i, lb)| {
            (
                path::join_key(&path::join_index(list, i), "name"),
                lb.name.clone(),
            )
        }),
    );
    check_unique_names(
        context,
        "target group",
        raw.iter().enumerate().flat_map(|(i, lb)| {
            lb.target_groups.iter().enumerate().map(move |(j, tg)| {
                let tg_path = path::join_index(
                    &path::join_key(&path::join_index(list, i), "targetGroups"),
                    j,
                );
                (path::join_key(&tg_path, "name"), tg.name.clone())
            })
        }),
    );

    let mut balancers = Vec::new();
    for (i, balancer) in raw.iter().enumerate() {
        let at = path::join_index(list, i);
        check_elb_name(
            context,
            &path::join_key(&at, "name"),
            &balancer.name,
            "load balancer name",
        );
        if balancer.name.starts_with("internal-") {
            context
                .error(&path::join_key(&at, "name"), "a load balancer name cannot start with internal-")
                .set_help("ELB reserves the internal- prefix for the DNS names of internal load balancers");
        }

        let load_balancer_type = match balancer.load_balancer_type {
            raw::LoadBalancerType::Network => LoadBalancerType::Network,
            raw::LoadBalancerType::Application => LoadBalancerType::Application,
        };
        let scheme = match balancer.scheme {
            raw::LoadBalancerScheme::Internal => model::LoadBalancerScheme::Internal,
            raw::LoadBalancerScheme::InternetFacing => model::LoadBalancerScheme::InternetFacing,
        };

        check_subnets(
            balancer,
            &at,
            load_balancer_type,
            scheme,
            network,
            index,
            context,
        );
        let groups_path = path::join_key(&at, "securityGroups");
        index
            .security_groups
            .check_all(context, &groups_path, &balancer.security_groups);
        values::check_no_repeats(context, &groups_path, &balancer.security_groups);

        let target_groups = target_groups(balancer, &at, load_balancer_type, context);
        let listeners = listeners(
            balancer,
            &at,
            region,
            load_balancer_type,
            &target_groups,
            context,
        );

        balancers.push(model::LoadBalancer {
            id: balancer.id.clone(),
            name: balancer.name.clone(),
            load_balancer_type,
            scheme,
            subnets: balancer.subnets.clone(),
            security_groups: balancer.security_groups.clone(),
            target_groups,
            listeners,
        });
    }
    balancers
}

/// Checks a load balancer or target group name: 1 to 32 letters, digits and hyphens, not
/// starting or ending with a hyphen.
fn check_elb_name(context: &mut Context<'_>, at: &str, name: &str, subject: &str) {
    let bytes = name.as_bytes();
    let ok = (1..=32).contains(&bytes.len())
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'-')
        && bytes[0] != b'-'
        && bytes[bytes.len() - 1] != b'-';
    if !ok {
        context
            .error(at, format!("invalid {subject} \"{name}\""))
            .set_help(
                "use 1 to 32 letters, digits and hyphens, not starting or ending with a hyphen",
            );
    }
}

fn check_subnets(
    balancer: &raw::LoadBalancer,
    at: &str,
    load_balancer_type: LoadBalancerType,
    scheme: model::LoadBalancerScheme,
    network: &model::Network,
    index: &Index,
    context: &mut Context<'_>,
) {
    let subnets_path = path::join_key(at, "subnets");
    index
        .subnets
        .check_all(context, &subnets_path, &balancer.subnets);
    values::check_one_subnet_per_zone(
        context,
        &subnets_path,
        &balancer.subnets,
        network,
        "load balancers",
    );

    let zones: BTreeSet<&str> = balancer
        .subnets
        .iter()
        .filter_map(|id| network.subnet(id))
        .map(|subnet| subnet.zone.as_str())
        .collect();
    if balancer.subnets.is_empty() {
        context.error(&subnets_path, "a load balancer needs at least one subnet");
    } else if load_balancer_type == LoadBalancerType::Application && zones.len() < 2 {
        context
            .error(
                &subnets_path,
                "an application load balancer needs subnets in at least two zones",
            )
            .set_help("add a subnet in a second availability zone");
    }

    if scheme == model::LoadBalancerScheme::InternetFacing {
        for (j, id) in balancer.subnets.iter().enumerate() {
            if network
                .subnet(id)
                .is_some_and(|s| s.tier == SubnetTier::Private)
            {
                context
                    .error(
                        &path::join_index(&subnets_path, j),
                        format!("an internet-facing load balancer is in private subnet \"{id}\""),
                    )
                    .set_help("use public subnets, or scheme: internal");
            }
        }
    }
}

fn protocol(raw: raw::ElbProtocol) -> ElbProtocol {
    match raw {
        raw::ElbProtocol::Tcp => ElbProtocol::Tcp,
        raw::ElbProtocol::Udp => ElbProtocol::Udp,
        raw::ElbProtocol::TcpUdp => ElbProtocol::TcpUdp,
        raw::ElbProtocol::Tls => ElbProtocol::Tls,
        raw::ElbProtocol::Http => ElbProtocol::Http,
        raw::ElbProtocol::Https => ElbProtocol::Https,
    }
}

fn protocol_name(protocol: ElbProtocol) -> &'static str {
    match protocol {
        ElbProtocol::Tcp => "TCP",
        ElbProtocol::Udp => "UDP",
        ElbProtocol::TcpUdp => "TCP_UDP",
        ElbProtocol::Tls => "TLS",
        ElbProtocol::Http => "HTTP",
        ElbProtocol::Https => "HTTPS",
    }
}

/// Rejects a protocol that the load balancer's type does not speak.
fn check_protocol(
    context: &mut Context<'_>,
    at: &str,
    protocol: ElbProtocol,
    load_balancer_type: LoadBalancerType,
) {
    let (ok, allowed, kind) = match load_balancer_type {
        LoadBalancerType::Network => (
            matches!(
                protocol,
                ElbProtocol::Tcp | ElbProtocol::Udp | ElbProtocol::TcpUdp | ElbProtocol::Tls
            ),
            "TCP, UDP, TCP_UDP or TLS",
            "a network",
        ),
        LoadBalancerType::Application => (
            matches!(protocol, ElbProtocol::Http | ElbProtocol::Https),
            "HTTP or HTTPS",
            "an application",
        ),
    };
    if !ok {
        context
            .error(
                at,
                format!(
                    "{kind} load balancer does not speak {}",
                    protocol_name(protocol)
                ),
            )
            .set_help(format!("write {allowed}"));
    }
}

fn target_groups(
    balancer: &raw::LoadBalancer,
    at: &str,
    load_balancer_type: LoadBalancerType,
    context: &mut Context<'_>,
) -> Vec<model::TargetGroup> {
    let list = path::join_key(at, "targetGroups");
    check_ids(
        context,
        "target group",
        &list,
        balancer.target_groups.iter().map(|tg| tg.id.as_str()),
    );

    let mut groups = Vec::new();
    for (i, group) in balancer.target_groups.iter().enumerate() {
        let group_path = path::join_index(&list, i);
        check_elb_name(
            context,
            &path::join_key(&group_path, "name"),
            &group.name,
            "target group name",
        );
        let group_protocol = protocol(group.protocol);
        check_protocol(
            context,
            &path::join_key(&group_path, "protocol"),
            group_protocol,
            load_balancer_type,
        );
        let port = values::port(context, &path::join_key(&group_path, "port"), group.port);

        let target_type = match group.target_type {
            raw::TargetType::Ip => model::TargetType::Ip,
            raw::TargetType::Instance => model::TargetType::Instance,
            raw::TargetType::Alb => model::TargetType::Alb,
        };
        if target_type == model::TargetType::Alb
            && !(load_balancer_type == LoadBalancerType::Network
                && group_protocol == ElbProtocol::Tcp)
        {
            context
                .error(
                    &path::join_key(&group_path, "targetType"),
                    "alb targets need a TCP target group of a network load balancer",
                )
                .set_help("write targetType: ip or instance");
        }

        let health_check = health_check(
            group.health_check.as_ref(),
            group_protocol,
            &group_path,
            context,
        );
        groups.push(model::TargetGroup {
            id: group.id.clone(),
            name: group.name.clone(),
            protocol: group_protocol,
            port,
            target_type,
            health_check,
        });
    }
    groups
}

fn health_check(
    raw: Option<&raw::HealthCheck>,
    group_protocol: ElbProtocol,
    group_path: &str,
    context: &mut Context<'_>,
) -> model::HealthCheck {
    let Some(raw) = raw else {
        // ELB's default health check uses the group's protocol, except that UDP and TCP_UDP
        // groups take a TCP health check.
        let protocol = match group_protocol {
            ElbProtocol::Udp | ElbProtocol::TcpUdp => ElbProtocol::Tcp,
            other => other,
        };
        return model::HealthCheck {
            protocol,
            port: None,
            path: None,
            interval_seconds: None,
            timeout_seconds: None,
            healthy_threshold: None,
            unhealthy_threshold: None,
        };
    };

    let at = path::join_key(group_path, "healthCheck");
    let check_protocol = protocol(raw.protocol);
    if !matches!(
        check_protocol,
        ElbProtocol::Tcp | ElbProtocol::Http | ElbProtocol::Https
    ) {
        context
            .error(
                &path::join_key(&at, "protocol"),
                format!(
                    "health checks do not speak {}",
                    protocol_name(check_protocol)
                ),
            )
            .set_help("write TCP, HTTP or HTTPS");
    }
    let is_http = matches!(check_protocol, ElbProtocol::Http | ElbProtocol::Https);
    match &raw.path {
        Some(request_path) if !is_http => {
            context
                .error(
                    &path::join_key(&at, "path"),
                    format!(
                        "a {} health check takes no path",
                        protocol_name(check_protocol)
                    ),
                )
                .set_help(format!(
                    "remove path: {request_path}, or use protocol: HTTP"
                ));
        }
        Some(request_path) if !request_path.starts_with('/') => {
            context
                .error(
                    &path::join_key(&at, "path"),
                    format!("health check path \"{request_path}\" does not start with /"),
                )
                .set_help(format!("write /{request_path}"));
        }
        _ => {}
    }

    // Ranges from the ELBv2 CreateTargetGroup API reference.
    let mut check_range =
        |field: &str, value: Option<u32>, range: std::ops::RangeInclusive<u32>| {
            if let Some(value) = value
                && !range.contains(&value)
            {
                context
                    .error(
                        &path::join_key(&at, field),
                        format!("{field} {value} is out of range"),
                    )
                    .set_help(format!("write {} to {}", range.start(), range.end()));
            }
        };
    check_range("intervalSeconds", raw.interval_seconds, 5..=300);
    check_range("timeoutSeconds", raw.timeout_seconds, 2..=120);
    check_range("healthyThreshold", raw.healthy_threshold, 2..=10);
    check_range("unhealthyThreshold", raw.unhealthy_threshold, 2..=10);
    if let (Some(timeout), Some(interval)) = (raw.timeout_seconds, raw.interval_seconds)
        && timeout >= interval
    {
        context
            .error(
                &path::join_key(&at, "timeoutSeconds"),
                format!("timeoutSeconds {timeout} is not shorter than intervalSeconds {interval}"),
            )
            .set_help("make the timeout shorter than the interval");
    }

    let port = raw
        .port
        .map(|port| values::port(context, &path::join_key(&at, "port"), port));
    model::HealthCheck {
        protocol: check_protocol,
        port,
        path: raw.path.clone(),
        interval_seconds: raw.interval_seconds,
        timeout_seconds: raw.timeout_seconds,
        healthy_threshold: raw.healthy_threshold,
        unhealthy_threshold: raw.unhealthy_threshold,
    }
}

fn listeners(
    balancer: &raw::LoadBalancer,
    at: &str,
    region: &str,
    load_balancer_type: LoadBalancerType,
    target_groups: &[model::TargetGroup],
    context: &mut Context<'_>,
) -> Vec<model::Listener> {
    let list = path::join_key(at, "listeners");
    check_ids(
        context,
        "listener",
        &list,
        balancer.listeners.iter().map(|l| l.id.as_str()),
    );
    let group_ids: Vec<String> = target_groups.iter().map(|tg| tg.id.clone()).collect();
    let local_groups = super::Ids::new("target group", &group_ids);

    let mut listeners: Vec<model::Listener> = Vec::new();
    for (i, listener) in balancer.listeners.iter().enumerate() {
        let listener_path = path::join_index(&list, i);
        let listener_protocol = protocol(listener.protocol);
        check_protocol(
            context,
            &path::join_key(&listener_path, "protocol"),
            listener_protocol,
            load_balancer_type,
        );
        let port_path = path::join_key(&listener_path, "port");
        let port = values::port(context, &port_path, listener.port);
        if let Some(j) = listeners.iter().position(|l| l.port == port) {
            let line = context.line_of(&path::join_index(&list, j));
            context
                .error(
                    &port_path,
                    format!("port {port} already has a listener (line {line})"),
                )
                .set_help("a load balancer takes one listener per port");
        }

        let group_path = path::join_key(&listener_path, "targetGroup");
        if local_groups.check(context, &group_path, &listener.target_group)
            && let Some(group) = target_groups
                .iter()
                .find(|tg| tg.id == listener.target_group)
            && !forwards(listener_protocol, group.protocol)
        {
            context
                .error(
                    &group_path,
                    format!(
                        "a {} listener cannot forward to {} target group \"{}\"",
                        protocol_name(listener_protocol),
                        protocol_name(group.protocol),
                        group.id
                    ),
                )
                .set_help("match the listener's protocol with the target group's");
        }

        let needs_certificate = matches!(listener_protocol, ElbProtocol::Tls | ElbProtocol::Https);
        let certificate_path = path::join_key(&listener_path, "certificateArn");
        match (&listener.certificate_arn, needs_certificate) {
            (Some(arn), true) => {
                values::check_certificate_arn(
                    context,
                    &certificate_path,
                    arn,
                    region,
                    "a load balancer's certificate",
                );
            }
            (None, true) => {
                context
                    .error(
                        &listener_path,
                        format!(
                            "a {} listener needs certificateArn",
                            protocol_name(listener_protocol)
                        ),
                    )
                    .set_help("add the ARN of an ACM certificate in the stack's region");
            }
            (Some(_), false) => {
                context
                    .error(
                        &certificate_path,
                        format!(
                            "a {} listener takes no certificate",
                            protocol_name(listener_protocol)
                        ),
                    )
                    .set_help("remove certificateArn, or use TLS or HTTPS");
            }
            (None, false) => {}
        }

        listeners.push(model::Listener {
            id: listener.id.clone(),
            protocol: listener_protocol,
            port,
            target_group: listener.target_group.clone(),
            certificate_arn: listener.certificate_arn.clone(),
        });
    }
    listeners
}

/// Returns whether a listener of one protocol can forward to a target group of another.
fn forwards(listener: ElbProtocol, group: ElbProtocol) -> bool {
    use ElbProtocol::{Http, Https, Tcp, TcpUdp, Tls, Udp};
    match listener {
        Tcp => matches!(group, Tcp | TcpUdp),
        Udp => matches!(group, Udp | TcpUdp),
        TcpUdp => group == TcpUdp,
        Tls => matches!(group, Tcp | Tls),
        Http | Https => matches!(group, Http | Https),
    }
}
