//! The pure diff of a load balancer, its target groups and its listeners.

use super::{LiveListener, LiveTargetGroup, LoadBalancerLive, Placement, ids, protocol_name};
use crate::tags::{ID_TAG, STACK_TAG, TagDelta, Tagger};
use serde_json::{Value, json};
use stackd_engine::{Change, ChangeKind, Planned, UNKNOWN_UNTIL_APPLIED};
use stackd_spec::model::{
    HealthCheck, Listener, LoadBalancer, LoadBalancerScheme, LoadBalancerType, TargetGroup,
    TargetType,
};
use std::collections::{BTreeMap, BTreeSet};

/// The health check port that ELB reports when checks probe each target's traffic port.
pub(crate) const TRAFFIC_PORT: &str = "traffic-port";

/// One step of an apply. Target groups and listeners are named by their id in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    CreateLoadBalancer,
    SetSubnets,
    SetSecurityGroups,
    CreateTargetGroup(String),
    /// Sets every health check field of the file on an existing target group.
    ModifyHealthCheck(String),
    CreateListener(String),
    /// Sets the protocol, port, certificate and forward action of an existing listener.
    ModifyListener(String),
    Retag {
        arn: String,
        delta: TagDelta,
    },
    /// Deletes a tagged listener of this load balancer that left the file.
    DeleteListener {
        arn: String,
    },
    /// A change that AWS can only make by replacing a resource, refused at apply.
    Refuse(String),
}

/// Returns a resource's `stackd:id` when its `stackd:stack` names this stack.
pub(crate) fn logical_id_of<'a>(
    tags: &'a BTreeMap<String, String>,
    tagger: &Tagger,
) -> Option<&'a String> {
    if tags.get(STACK_TAG).map(String::as_str) != Some(tagger.stack()) {
        return None;
    }
    tags.get(ID_TAG)
}

fn type_name(kind: LoadBalancerType) -> &'static str {
    match kind {
        LoadBalancerType::Network => "network",
        LoadBalancerType::Application => "application",
    }
}

fn scheme_name(scheme: LoadBalancerScheme) -> &'static str {
    match scheme {
        LoadBalancerScheme::Internal => "internal",
        LoadBalancerScheme::InternetFacing => "internet-facing",
    }
}

pub(crate) fn target_type_name(kind: TargetType) -> &'static str {
    match kind {
        TargetType::Ip => "ip",
        TargetType::Instance => "instance",
        TargetType::Alb => "alb",
    }
}

/// Shows a set of AWS ids, or the placeholder when some of them do not exist yet.
fn shown(ids: &BTreeSet<String>, complete: bool) -> Value {
    if complete {
        json!(ids)
    } else {
        json!(UNKNOWN_UNTIL_APPLIED)
    }
}

/// Returns the health check port as ELB reports it.
pub(crate) fn health_check_port(check: &HealthCheck) -> String {
    check
        .port
        .map_or_else(|| TRAFFIC_PORT.to_owned(), |port| port.to_string())
}

/// Plans the steps that bring the load balancer, its target groups and its listeners
/// to the file, in the order apply runs them.
pub(crate) fn diff(
    desired: &LoadBalancer,
    tagger: &Tagger,
    placement: &Placement,
    live: &LoadBalancerLive,
) -> Vec<Planned<Action>> {
    let mut plan = Vec::new();
    diff_load_balancer(desired, tagger, placement, live, &mut plan);
    for group in &desired.target_groups {
        diff_target_group(desired, group, tagger, placement, live, &mut plan);
    }
    for listener in &desired.listeners {
        diff_listener(desired, listener, tagger, live, &mut plan);
    }
    diff_leftover_listeners(desired, tagger, live, &mut plan);
    plan
}

fn retag(
    plan: &mut Vec<Planned<Action>>,
    logical_id: &str,
    arn: &str,
    live: &BTreeMap<String, String>,
    desired: &BTreeMap<String, String>,
) {
    let delta = TagDelta::between(live, desired);
    if delta.is_empty() {
        return;
    }
    let mut change = Change::new(ChangeKind::Update, logical_id);
    for (key, value) in &delta.set {
        change.push_if_differs(format!("tags.{key}"), json!(live.get(key)), value.as_str());
    }
    for key in &delta.remove {
        change.push_if_differs(format!("tags.{key}"), json!(live.get(key)), Value::Null);
    }
    plan.push(Planned {
        change,
        action: Action::Retag {
            arn: arn.to_owned(),
            delta,
        },
    });
}

fn diff_load_balancer(
    desired: &LoadBalancer,
    tagger: &Tagger,
    placement: &Placement,
    live: &LoadBalancerLive,
    plan: &mut Vec<Planned<Action>>,
) {
    let logical_id = ids::load_balancer(&desired.id);
    let tags = tagger.desired(&logical_id, &desired.name);
    let Some(found) = &live.load_balancer else {
        let change = Change::new(ChangeKind::Create, &logical_id)
            .field("name", Value::Null, desired.name.as_str())
            .field("type", Value::Null, type_name(desired.load_balancer_type))
            .field("scheme", Value::Null, scheme_name(desired.scheme))
            .field("subnets", Value::Null, json!(desired.subnets))
            .field(
                "securityGroups",
                Value::Null,
                json!(desired.security_groups),
            )
            .field("tags", Value::Null, json!(tags));
        plan.push(Planned {
            change,
            action: Action::CreateLoadBalancer,
        });
        return;
    };

    let mut replace = Change::new(ChangeKind::Replace, &logical_id);
    replace.push_if_differs(
        "type",
        found.load_balancer_type.as_str(),
        type_name(desired.load_balancer_type),
    );
    replace.push_if_differs("scheme", found.scheme.as_str(), scheme_name(desired.scheme));
    let groups_differ = placement.security_groups != found.security_group_ids;
    // ELB sets a network load balancer's security groups only on one that was
    // created with some, and never removes the last one.
    let network_groups_fixed = desired.load_balancer_type == LoadBalancerType::Network
        && groups_differ
        && (found.security_group_ids.is_empty() || placement.security_groups.is_empty());
    if network_groups_fixed {
        replace.push_if_differs(
            "securityGroups",
            json!(found.security_group_ids),
            shown(&placement.security_groups, placement.complete),
        );
    }
    if !replace.fields.is_empty() {
        let reason = format!(
            "{logical_id}: ELB cannot change {} of a load balancer in place, and replacing it \
             cuts traffic, which stackd never does without explicit permission",
            replace
                .fields
                .iter()
                .map(|field| field.path.as_str())
                .collect::<Vec<_>>()
                .join(" or ")
        );
        plan.push(Planned {
            change: replace,
            action: Action::Refuse(reason),
        });
    }

    if !placement.complete || placement.subnets != found.subnet_ids {
        let change = Change::new(ChangeKind::Update, &logical_id).field(
            "subnets",
            json!(found.subnet_ids),
            shown(&placement.subnets, placement.complete),
        );
        if change.fields[0].live != change.fields[0].desired {
            plan.push(Planned {
                change,
                action: Action::SetSubnets,
            });
        }
    }
    if groups_differ && !network_groups_fixed {
        plan.push(Planned {
            change: Change::new(ChangeKind::Update, &logical_id).field(
                "securityGroups",
                json!(found.security_group_ids),
                shown(&placement.security_groups, placement.complete),
            ),
            action: Action::SetSecurityGroups,
        });
    }
    retag(plan, &logical_id, &found.arn, &found.tags, &tags);
}

fn health_check_fields(check: &HealthCheck) -> Vec<(&'static str, Value)> {
    let mut fields = vec![
        ("healthCheck.protocol", json!(protocol_name(check.protocol))),
        ("healthCheck.port", json!(health_check_port(check))),
    ];
    let optional = [
        (
            "healthCheck.path",
            check.path.as_ref().map(|path| json!(path)),
        ),
        (
            "healthCheck.intervalSeconds",
            check.interval_seconds.map(|value| json!(value)),
        ),
        (
            "healthCheck.timeoutSeconds",
            check.timeout_seconds.map(|value| json!(value)),
        ),
        (
            "healthCheck.healthyThreshold",
            check.healthy_threshold.map(|value| json!(value)),
        ),
        (
            "healthCheck.unhealthyThreshold",
            check.unhealthy_threshold.map(|value| json!(value)),
        ),
    ];
    fields.extend(
        optional
            .into_iter()
            .filter_map(|(path, value)| Some((path, value?))),
    );
    fields
}

fn live_health_check_field(group: &LiveTargetGroup, path: &str) -> Value {
    let check = &group.health_check;
    match path {
        "healthCheck.protocol" => json!(check.protocol),
        "healthCheck.port" => json!(check.port),
        "healthCheck.path" => json!(check.path),
        "healthCheck.intervalSeconds" => json!(check.interval_seconds),
        "healthCheck.timeoutSeconds" => json!(check.timeout_seconds),
        "healthCheck.healthyThreshold" => json!(check.healthy_threshold),
        "healthCheck.unhealthyThreshold" => json!(check.unhealthy_threshold),
        _ => Value::Null,
    }
}

fn diff_target_group(
    balancer: &LoadBalancer,
    desired: &TargetGroup,
    tagger: &Tagger,
    placement: &Placement,
    live: &LoadBalancerLive,
    plan: &mut Vec<Planned<Action>>,
) {
    let logical_id = ids::target_group(&balancer.id, &desired.id);
    let tags = tagger.desired(&logical_id, &desired.name);
    let protocol = protocol_name(desired.protocol);
    let target_type = target_type_name(desired.target_type);
    let Some(found) = live.target_groups.get(&desired.id) else {
        let mut change = Change::new(ChangeKind::Create, &logical_id)
            .field("name", Value::Null, desired.name.as_str())
            .field("protocol", Value::Null, protocol)
            .field("port", Value::Null, desired.port)
            .field("targetType", Value::Null, target_type);
        for (path, value) in health_check_fields(&desired.health_check) {
            change = change.field(path, Value::Null, value);
        }
        plan.push(Planned {
            change: change.field("tags", Value::Null, json!(tags)),
            action: Action::CreateTargetGroup(desired.id.clone()),
        });
        return;
    };

    let mut replace = Change::new(ChangeKind::Replace, &logical_id);
    replace.push_if_differs("protocol", found.protocol.as_str(), protocol);
    replace.push_if_differs("port", found.port, desired.port);
    replace.push_if_differs("targetType", found.target_type.as_str(), target_type);
    if let Some(vpc_id) = &placement.vpc_id {
        replace.push_if_differs("vpc", found.vpc_id.as_str(), vpc_id.as_str());
    }
    if !replace.fields.is_empty() {
        let reason = format!(
            "{logical_id}: ELB cannot change {} of a target group in place, and replacing it \
             cuts traffic, which stackd never does without explicit permission",
            replace
                .fields
                .iter()
                .map(|field| field.path.as_str())
                .collect::<Vec<_>>()
                .join(" or ")
        );
        plan.push(Planned {
            change: replace,
            action: Action::Refuse(reason),
        });
    }

    let mut change = Change::new(ChangeKind::Update, &logical_id);
    for (path, value) in health_check_fields(&desired.health_check) {
        change.push_if_differs(path, live_health_check_field(found, path), value);
    }
    if !change.fields.is_empty() {
        plan.push(Planned {
            change,
            action: Action::ModifyHealthCheck(desired.id.clone()),
        });
    }
    retag(plan, &logical_id, &found.arn, &found.tags, &tags);
}

/// Returns the listener of this stack that carries `logical_id`.
fn find_listener<'a>(
    live: &'a LoadBalancerLive,
    tagger: &Tagger,
    logical_id: &str,
) -> Option<&'a LiveListener> {
    live.listeners.iter().find(|listener| {
        logical_id_of(&listener.tags, tagger).map(String::as_str) == Some(logical_id)
    })
}

fn diff_listener(
    balancer: &LoadBalancer,
    desired: &Listener,
    tagger: &Tagger,
    live: &LoadBalancerLive,
    plan: &mut Vec<Planned<Action>>,
) {
    let logical_id = ids::listener(&balancer.id, &desired.id);
    let tags = tagger.desired(&logical_id, &desired.id);
    let protocol = protocol_name(desired.protocol);
    let target_group = live
        .target_groups
        .get(&desired.target_group)
        .map_or_else(|| json!(UNKNOWN_UNTIL_APPLIED), |group| json!([group.arn]));
    let certificates = json!(desired.certificate_arn.iter().collect::<Vec<_>>());

    let Some(found) = find_listener(live, tagger, &logical_id) else {
        // A listener that is not ours holds the port: creating another one fails, and
        // taking it over would change someone else's traffic.
        if let Some(other) = live
            .listeners
            .iter()
            .find(|listener| listener.port == desired.port)
        {
            plan.push(Planned {
                change: Change::new(ChangeKind::Replace, &logical_id).field(
                    "port",
                    other.port,
                    desired.port,
                ),
                action: Action::Refuse(format!(
                    "{logical_id}: port {} of load balancer {} has listener {} that is not \
                     {logical_id}; delete it, or tag it {ID_TAG}={logical_id} to adopt it",
                    desired.port, balancer.name, other.arn
                )),
            });
            return;
        }
        let change = Change::new(ChangeKind::Create, &logical_id)
            .field("protocol", Value::Null, protocol)
            .field("port", Value::Null, desired.port)
            .field(
                "targetGroup",
                Value::Null,
                ids::target_group(&balancer.id, &desired.target_group),
            )
            .field("certificates", Value::Null, certificates)
            .field("tags", Value::Null, json!(tags));
        plan.push(Planned {
            change,
            action: Action::CreateListener(desired.id.clone()),
        });
        return;
    };

    let mut change = Change::new(ChangeKind::Update, &logical_id);
    change.push_if_differs("protocol", found.protocol.as_str(), protocol);
    change.push_if_differs("port", found.port, desired.port);
    change.push_if_differs("targetGroup", json!(found.target_group_arns), target_group);
    change.push_if_differs("certificates", json!(found.certificate_arns), certificates);
    if !change.fields.is_empty() {
        plan.push(Planned {
            change,
            action: Action::ModifyListener(desired.id.clone()),
        });
    }
    retag(plan, &logical_id, &found.arn, &found.tags, &tags);
}

/// Plans the deletion of listeners that carry this load balancer's listener tags but
/// whose id left the file.
fn diff_leftover_listeners(
    desired: &LoadBalancer,
    tagger: &Tagger,
    live: &LoadBalancerLive,
    plan: &mut Vec<Planned<Action>>,
) {
    let prefix = ids::listener(&desired.id, "");
    let wanted: BTreeSet<String> = desired
        .listeners
        .iter()
        .map(|listener| ids::listener(&desired.id, &listener.id))
        .collect();
    for listener in &live.listeners {
        let Some(logical_id) = logical_id_of(&listener.tags, tagger) else {
            continue;
        };
        if !logical_id.starts_with(&prefix) || wanted.contains(logical_id) {
            continue;
        }
        plan.push(Planned {
            change: Change::new(ChangeKind::Delete, logical_id.as_str())
                .field("port", listener.port, Value::Null)
                .field("protocol", listener.protocol.as_str(), Value::Null),
            action: Action::DeleteListener {
                arn: listener.arn.clone(),
            },
        });
    }
}

#[cfg(test)]
mod tests {
    use super::super::{LiveHealthCheck, LiveLoadBalancer};
    use super::*;
    use stackd_spec::model::ElbProtocol;

    const LB_ARN: &str = "arn:lb";
    const TG_ARN: &str = "arn:tg";
    const LISTENER_ARN: &str = "arn:listener";

    fn tagger() -> Tagger {
        Tagger::new("s", &BTreeMap::new())
    }

    fn set(ids: &[&str]) -> BTreeSet<String> {
        ids.iter().map(|id| id.to_string()).collect()
    }

    /// The load balancer of the beezyup file: an internal NLB in two subnets with one
    /// ip target group and one TCP 80 listener.
    fn desired() -> LoadBalancer {
        LoadBalancer {
            id: "api".to_owned(),
            name: "s-api".to_owned(),
            load_balancer_type: LoadBalancerType::Network,
            scheme: LoadBalancerScheme::Internal,
            subnets: vec!["private-a".to_owned(), "private-b".to_owned()],
            security_groups: Vec::new(),
            target_groups: vec![TargetGroup {
                id: "api".to_owned(),
                name: "s-api".to_owned(),
                protocol: ElbProtocol::Tcp,
                port: 80,
                target_type: TargetType::Ip,
                health_check: HealthCheck {
                    protocol: ElbProtocol::Tcp,
                    port: None,
                    path: None,
                    interval_seconds: Some(30),
                    timeout_seconds: None,
                    healthy_threshold: Some(3),
                    unhealthy_threshold: Some(3),
                },
            }],
            listeners: vec![Listener {
                id: "tcp-80".to_owned(),
                protocol: ElbProtocol::Tcp,
                port: 80,
                target_group: "api".to_owned(),
                certificate_arn: None,
            }],
        }
    }

    fn placement() -> Placement {
        Placement {
            vpc_id: Some("vpc-1".to_owned()),
            subnets: set(&["subnet-a", "subnet-b"]),
            security_groups: BTreeSet::new(),
            complete: true,
        }
    }

    /// Live state that matches `desired()` exactly, as ELB reports it.
    fn matching() -> LoadBalancerLive {
        let tagger = tagger();
        LoadBalancerLive {
            load_balancer: Some(LiveLoadBalancer {
                arn: LB_ARN.to_owned(),
                dns_name: "s-api.elb.example".to_owned(),
                state: "active".to_owned(),
                load_balancer_type: "network".to_owned(),
                scheme: "internal".to_owned(),
                subnet_ids: set(&["subnet-a", "subnet-b"]),
                security_group_ids: BTreeSet::new(),
                tags: tagger.desired("load-balancer/api", "s-api"),
            }),
            target_groups: BTreeMap::from([(
                "api".to_owned(),
                LiveTargetGroup {
                    arn: TG_ARN.to_owned(),
                    protocol: "TCP".to_owned(),
                    port: 80,
                    target_type: "ip".to_owned(),
                    vpc_id: "vpc-1".to_owned(),
                    health_check: LiveHealthCheck {
                        protocol: "TCP".to_owned(),
                        port: TRAFFIC_PORT.to_owned(),
                        path: None,
                        interval_seconds: Some(30),
                        // ELB's default for TCP health checks, which the file leaves out.
                        timeout_seconds: Some(10),
                        healthy_threshold: Some(3),
                        unhealthy_threshold: Some(3),
                    },
                    tags: tagger.desired("target-group/api/api", "s-api"),
                },
            )]),
            listeners: vec![LiveListener {
                arn: LISTENER_ARN.to_owned(),
                protocol: "TCP".to_owned(),
                port: 80,
                target_group_arns: vec![TG_ARN.to_owned()],
                certificate_arns: Vec::new(),
                tags: tagger.desired("listener/api/tcp-80", "tcp-80"),
            }],
        }
    }

    fn actions(plan: &[Planned<Action>]) -> Vec<Action> {
        plan.iter().map(|step| step.action.clone()).collect()
    }

    #[test]
    fn empty_account_creates_balancer_group_listener() {
        let plan = diff(
            &desired(),
            &tagger(),
            &placement(),
            &LoadBalancerLive::default(),
        );

        assert_eq!(
            actions(&plan),
            [
                Action::CreateLoadBalancer,
                Action::CreateTargetGroup("api".to_owned()),
                Action::CreateListener("tcp-80".to_owned()),
            ]
        );
        assert!(
            plan.iter()
                .all(|step| step.change.kind == ChangeKind::Create)
        );
        assert_eq!(plan[1].change.resource, "target-group/api/api");
        assert_eq!(plan[2].change.resource, "listener/api/tcp-80");
    }

    #[test]
    fn matching_state_plans_nothing() {
        let plan = diff(&desired(), &tagger(), &placement(), &matching());
        assert_eq!(plan, Vec::new());
    }

    #[test]
    fn health_check_drift_is_one_modify() {
        let mut live = matching();
        let check = &mut live.target_groups.get_mut("api").unwrap().health_check;
        check.interval_seconds = Some(10);
        check.healthy_threshold = Some(5);

        let plan = diff(&desired(), &tagger(), &placement(), &live);

        assert_eq!(
            actions(&plan),
            [Action::ModifyHealthCheck("api".to_owned())]
        );
        let fields: Vec<(&str, &Value, &Value)> = plan[0]
            .change
            .fields
            .iter()
            .map(|field| (field.path.as_str(), &field.live, &field.desired))
            .collect();
        assert_eq!(
            fields,
            [
                ("healthCheck.intervalSeconds", &json!(10), &json!(30)),
                ("healthCheck.healthyThreshold", &json!(5), &json!(3)),
            ]
        );
    }

    #[test]
    fn health_check_port_defaults_to_traffic_port() {
        let mut live = matching();
        live.target_groups.get_mut("api").unwrap().health_check.port = "8080".to_owned();

        let plan = diff(&desired(), &tagger(), &placement(), &live);

        assert_eq!(plan.len(), 1);
        assert_eq!(plan[0].change.fields[0].path, "healthCheck.port");
        assert_eq!(plan[0].change.fields[0].desired, json!("traffic-port"));
    }

    #[test]
    fn scheme_change_is_refused_replacement() {
        let mut live = matching();
        live.load_balancer.as_mut().unwrap().scheme = "internet-facing".to_owned();

        let plan = diff(&desired(), &tagger(), &placement(), &live);

        assert_eq!(plan.len(), 1);
        assert_eq!(plan[0].change.kind, ChangeKind::Replace);
        assert!(matches!(&plan[0].action, Action::Refuse(reason) if reason.contains("scheme")));
    }

    #[test]
    fn target_group_port_change_is_refused_replacement() {
        let mut wanted = desired();
        wanted.target_groups[0].port = 8080;

        let plan = diff(&wanted, &tagger(), &placement(), &matching());

        assert_eq!(plan[0].change.kind, ChangeKind::Replace);
        assert_eq!(plan[0].change.resource, "target-group/api/api");
        assert!(matches!(&plan[0].action, Action::Refuse(_)));
    }

    #[test]
    fn moved_subnet_is_set_subnets() {
        let mut live = matching();
        live.load_balancer.as_mut().unwrap().subnet_ids = set(&["subnet-a", "subnet-c"]);

        let plan = diff(&desired(), &tagger(), &placement(), &live);

        assert_eq!(actions(&plan), [Action::SetSubnets]);
        assert_eq!(
            plan[0].change.fields[0].desired,
            json!(["subnet-a", "subnet-b"])
        );
    }

    #[test]
    fn new_listener_port_modifies_same_listener() {
        let mut wanted = desired();
        wanted.listeners[0].port = 8080;

        let plan = diff(&wanted, &tagger(), &placement(), &matching());

        assert_eq!(
            actions(&plan),
            [Action::ModifyListener("tcp-80".to_owned())]
        );
        assert_eq!(plan[0].change.fields[0].path, "port");
    }

    #[test]
    fn foreign_listener_on_port_is_refused() {
        let mut live = matching();
        live.listeners[0].tags = BTreeMap::new();

        let plan = diff(&desired(), &tagger(), &placement(), &live);

        assert_eq!(plan.len(), 1);
        assert!(matches!(&plan[0].action, Action::Refuse(reason) if reason.contains("port 80")));
    }

    #[test]
    fn leftover_listener_is_planned_delete() {
        let mut live = matching();
        live.listeners.push(LiveListener {
            arn: "arn:old".to_owned(),
            protocol: "TCP".to_owned(),
            port: 8443,
            target_group_arns: vec![TG_ARN.to_owned()],
            certificate_arns: Vec::new(),
            tags: tagger().desired("listener/api/old", "old"),
        });

        let plan = diff(&desired(), &tagger(), &placement(), &live);

        assert_eq!(
            actions(&plan),
            [Action::DeleteListener {
                arn: "arn:old".to_owned()
            }]
        );
        assert_eq!(plan[0].change.kind, ChangeKind::Delete);
        assert_eq!(plan[0].change.resource, "listener/api/old");
    }

    #[test]
    fn unknown_subnets_show_placeholder() {
        let mut partial = placement();
        partial.subnets = set(&["subnet-a"]);
        partial.complete = false;

        let plan = diff(&desired(), &tagger(), &partial, &matching());

        assert_eq!(actions(&plan), [Action::SetSubnets]);
        assert_eq!(
            plan[0].change.fields[0].desired,
            json!(UNKNOWN_UNTIL_APPLIED)
        );
    }
}
