//! The security-groups component: every group of the stack and its rules, compared
//! as sets of canonical rules.

use crate::clients::AwsClients;
use crate::ec2::{
    by_logical_id, from_sdk, stack_filter, stack_logical_id, tag_specification, update_tags,
};
use crate::network;
use crate::tags::{ID_TAG, STACK_TAG, TagDelta, Tagger};
use async_trait::async_trait;
use aws_sdk_ec2::Client;
use aws_sdk_ec2::error::ProvideErrorMetadata;
use aws_sdk_ec2::types::{IpPermission, IpRange, ResourceType, UserIdGroupPair};
use serde_json::{Value, json};
use stackd_engine::{
    Change, ChangeKind, Component, ComponentError, ComponentId, Inputs, Outputs, Planned, Readiness,
};
use stackd_spec::model::{Peer, Protocol, Rule, SecurityGroup};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// The kind name of the security-groups node in the graph.
pub const KIND: &str = "security-groups";

fn logical_id(group: &str) -> String {
    format!("security-group/{group}")
}

/// Output key of a group's id, read by dependents.
pub fn group_id_output(group: &str) -> String {
    format!("security-group.{group}.id")
}

/// Whether a rule lets traffic in or out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Direction {
    Ingress,
    Egress,
}

impl Direction {
    fn field(self) -> &'static str {
        match self {
            Direction::Ingress => "ingress",
            Direction::Egress => "egress",
        }
    }
}

/// The other end of a rule, in a form that live and desired rules share.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum PeerKey {
    Cidr(String),
    /// A group of this stack, by logical id.
    Group(String),
    /// A group that is not this stack's, by AWS id.
    ForeignGroup(String),
    /// IPv6 ranges and prefix lists, which stackd does not manage but must see to remove.
    Other(String),
}

/// A rule reduced to what identifies it in AWS: the description is not part of it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct RuleKey {
    /// `tcp`, `udp`, `icmp` or `-1` for every protocol.
    pub protocol: String,
    pub ports: Option<(i32, i32)>,
    pub peer: PeerKey,
}

impl fmt::Display for RuleKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let protocol = if self.protocol == "-1" {
            "all"
        } else {
            &self.protocol
        };
        write!(f, "{protocol}")?;
        match self.ports {
            Some((from, to)) if from == to => write!(f, " {from}")?,
            Some((from, to)) => write!(f, " {from}-{to}")?,
            None => {}
        }
        match &self.peer {
            PeerKey::Cidr(cidr) => write!(f, " {cidr}"),
            PeerKey::Group(group) => write!(f, " {}", logical_id(group)),
            PeerKey::ForeignGroup(id) | PeerKey::Other(id) => write!(f, " {id}"),
        }
    }
}

/// Live state of one group.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveGroup {
    pub id: String,
    pub name: String,
    pub description: String,
    pub ingress: BTreeSet<RuleKey>,
    pub egress: BTreeSet<RuleKey>,
    pub tags: BTreeMap<String, String>,
}

/// Live groups of the stack, keyed by the group's id in the file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GroupsLive {
    pub groups: BTreeMap<String, LiveGroup>,
}

/// One step of an apply.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    CreateGroup(String),
    Authorize {
        group: String,
        direction: Direction,
        rules: Vec<(RuleKey, Option<String>)>,
    },
    Revoke {
        group: String,
        direction: Direction,
        rules: Vec<RuleKey>,
    },
    Retag {
        group: String,
        delta: TagDelta,
    },
    RefuseReplacement(String),
}

/// Reconciles the stack's security groups.
#[derive(Debug)]
pub struct SecurityGroupsComponent {
    clients: AwsClients,
    tagger: Tagger,
    desired: Vec<SecurityGroup>,
}

impl SecurityGroupsComponent {
    pub fn new(clients: AwsClients, tagger: Tagger, desired: Vec<SecurityGroup>) -> Self {
        SecurityGroupsComponent {
            clients,
            tagger,
            desired,
        }
    }
}

#[async_trait]
impl Component for SecurityGroupsComponent {
    type Live = GroupsLive;
    type Action = Action;

    fn id(&self) -> ComponentId {
        ComponentId::single(KIND)
    }

    fn needs(&self) -> Vec<ComponentId> {
        vec![ComponentId::single(network::KIND)]
    }

    async fn observe(&self) -> Result<GroupsLive, ComponentError> {
        observe(&self.clients.ec2, self.tagger.stack()).await
    }

    fn diff(&self, live: &GroupsLive, _inputs: &Inputs) -> Vec<Planned<Action>> {
        diff(&self.desired, &self.tagger, live)
    }

    async fn apply(
        &self,
        live: &GroupsLive,
        actions: Vec<Action>,
        inputs: &Inputs,
    ) -> Result<(), ComponentError> {
        let vpc_id = inputs
            .get(
                &ComponentId::single(network::KIND),
                network::outputs::VPC_ID,
            )
            .ok_or_else(|| ComponentError::Blocked("the VPC does not exist yet".to_owned()))?;
        let mut ids: BTreeMap<String, String> = live
            .groups
            .iter()
            .map(|(group, found)| (group.clone(), found.id.clone()))
            .collect();
        let mut refused = Vec::new();
        for action in actions {
            match action {
                Action::CreateGroup(group) => {
                    let desired = self
                        .desired
                        .iter()
                        .find(|candidate| candidate.id == group)
                        .ok_or_else(|| {
                            ComponentError::Unexpected(format!("group {group} is not in the file"))
                        })?;
                    let id = create_group(&self.clients.ec2, &self.tagger, vpc_id, desired).await?;
                    ids.insert(group, id);
                }
                Action::Authorize {
                    group,
                    direction,
                    rules,
                } => authorize(&self.clients.ec2, &ids, &group, direction, &rules).await?,
                Action::Revoke {
                    group,
                    direction,
                    rules,
                } => revoke(&self.clients.ec2, &ids, &group, direction, &rules).await?,
                Action::Retag { group, delta } => {
                    update_tags(&self.clients.ec2, lookup(&ids, &group)?, &delta).await?;
                }
                Action::RefuseReplacement(reason) => refused.push(reason),
            }
        }
        if refused.is_empty() {
            Ok(())
        } else {
            Err(ComponentError::Blocked(refused.join("; ")))
        }
    }

    fn outputs(&self, live: &GroupsLive) -> Outputs {
        live.groups
            .iter()
            .map(|(group, found)| (group_id_output(group), found.id.clone()))
            .collect()
    }

    fn readiness(&self, _live: &GroupsLive) -> Readiness {
        Readiness::Ready
    }
}

/// Observes every group of the stack with one DescribeSecurityGroups call.
async fn observe(client: &Client, stack: &str) -> Result<GroupsLive, ComponentError> {
    let response = client
        .describe_security_groups()
        .filters(stack_filter(stack))
        .send()
        .await
        .map_err(|error| crate::failures::call_failed("DescribeSecurityGroups", error))?;
    let found = by_logical_id(
        "security group",
        response.security_groups().to_vec(),
        |group| stack_logical_id(group.tags(), stack),
        |group| group.group_id().unwrap_or_default().to_owned(),
    )?;
    let logical_by_aws_id: BTreeMap<String, String> = found
        .iter()
        .filter_map(|(tag, group)| {
            let logical = tag.strip_prefix("security-group/")?;
            Some((group.group_id()?.to_owned(), logical.to_owned()))
        })
        .collect();
    let groups = found
        .into_iter()
        .filter_map(|(tag, group)| {
            let logical = tag.strip_prefix("security-group/")?.to_owned();
            let live = LiveGroup {
                id: group.group_id().unwrap_or_default().to_owned(),
                name: group.group_name().unwrap_or_default().to_owned(),
                description: group.description().unwrap_or_default().to_owned(),
                ingress: rule_keys(group.ip_permissions(), &logical_by_aws_id),
                egress: rule_keys(group.ip_permissions_egress(), &logical_by_aws_id),
                tags: from_sdk(group.tags()),
            };
            Some((logical, live))
        })
        .collect();
    Ok(GroupsLive { groups })
}

/// Flattens AWS's permissions, which bundle several peers under one port range,
/// into one canonical rule per peer.
fn rule_keys(
    permissions: &[IpPermission],
    logical_by_aws_id: &BTreeMap<String, String>,
) -> BTreeSet<RuleKey> {
    let mut keys = BTreeSet::new();
    for permission in permissions {
        let protocol = canonical_protocol(permission.ip_protocol().unwrap_or("-1"));
        let ports = match (
            protocol.as_str(),
            permission.from_port(),
            permission.to_port(),
        ) {
            ("-1", _, _) => None,
            // AWS describes "every ICMP type and code" as -1/-1; the file leaves the ports out.
            ("icmp", Some(-1), Some(-1)) => None,
            (_, Some(from), Some(to)) => Some((from, to)),
            _ => None,
        };
        let key = |peer| RuleKey {
            protocol: protocol.clone(),
            ports,
            peer,
        };
        for range in permission.ip_ranges() {
            if let Some(cidr) = range.cidr_ip() {
                keys.insert(key(PeerKey::Cidr(cidr.to_owned())));
            }
        }
        for pair in permission.user_id_group_pairs() {
            if let Some(id) = pair.group_id() {
                let peer = match logical_by_aws_id.get(id) {
                    Some(logical) => PeerKey::Group(logical.clone()),
                    None => PeerKey::ForeignGroup(id.to_owned()),
                };
                keys.insert(key(peer));
            }
        }
        for range in permission.ipv6_ranges() {
            if let Some(cidr) = range.cidr_ipv6() {
                keys.insert(key(PeerKey::Other(cidr.to_owned())));
            }
        }
        for list in permission.prefix_list_ids() {
            if let Some(id) = list.prefix_list_id() {
                keys.insert(key(PeerKey::Other(id.to_owned())));
            }
        }
    }
    keys
}

/// AWS returns the protocol name when a rule was made with one, and the IANA
/// number otherwise.
fn canonical_protocol(protocol: &str) -> String {
    match protocol.to_ascii_lowercase().as_str() {
        "6" | "tcp" => "tcp".to_owned(),
        "17" | "udp" => "udp".to_owned(),
        "1" | "icmp" => "icmp".to_owned(),
        "-1" | "all" => "-1".to_owned(),
        other => other.to_owned(),
    }
}

fn desired_key(rule: &Rule) -> RuleKey {
    let protocol = match rule.protocol {
        Protocol::Tcp => "tcp",
        Protocol::Udp => "udp",
        Protocol::Icmp => "icmp",
        Protocol::All => "-1",
    };
    let ports = match rule.protocol {
        Protocol::All => None,
        _ => rule
            .ports
            .as_ref()
            .map(|range| (i32::from(range.from), i32::from(range.to))),
    };
    let peer = match &rule.peer {
        Peer::Cidr(cidr) => PeerKey::Cidr(cidr.to_string()),
        Peer::SecurityGroup(group) => PeerKey::Group(group.clone()),
    };
    RuleKey {
        protocol: protocol.to_owned(),
        ports,
        peer,
    }
}

/// AWS gives every new group this egress rule.
fn default_egress() -> RuleKey {
    RuleKey {
        protocol: "-1".to_owned(),
        ports: None,
        peer: PeerKey::Cidr("0.0.0.0/0".to_owned()),
    }
}

/// Plans the actions for every group: all creations first, so that rules can
/// refer to groups created in the same apply.
pub fn diff(desired: &[SecurityGroup], tagger: &Tagger, live: &GroupsLive) -> Vec<Planned<Action>> {
    let mut creations = Vec::new();
    let mut updates = Vec::new();
    for group in desired {
        let logical = logical_id(&group.id);
        let tags = tagger.desired(&logical, &group.name);
        let wanted = |direction: Direction| -> Vec<(RuleKey, Option<String>)> {
            let rules = match direction {
                Direction::Ingress => &group.ingress,
                Direction::Egress => &group.egress,
            };
            let mut keyed: BTreeMap<RuleKey, Option<String>> = BTreeMap::new();
            for rule in rules {
                keyed
                    .entry(desired_key(rule))
                    .or_insert_with(|| rule.description.clone());
            }
            keyed.into_iter().collect()
        };

        let Some(found) = live.groups.get(&group.id) else {
            let shown = |direction| -> Value {
                json!(
                    wanted(direction)
                        .iter()
                        .map(|(key, _)| key.to_string())
                        .collect::<Vec<_>>()
                )
            };
            let change = Change::new(ChangeKind::Create, &logical)
                .field("name", Value::Null, group.name.as_str())
                .field("description", Value::Null, group.description.as_str())
                .field("ingress", Value::Null, shown(Direction::Ingress))
                .field("egress", Value::Null, shown(Direction::Egress))
                .field("tags", Value::Null, json!(tags));
            creations.push(Planned {
                change,
                action: Action::CreateGroup(group.id.clone()),
            });
            // A new group starts with the default egress rule and no ingress.
            let mut starting = GroupRules::default();
            starting.egress.insert(default_egress());
            plan_rules(&group.id, &logical, &starting, &wanted, false, &mut updates);
            continue;
        };

        let mut replace = Change::new(ChangeKind::Replace, &logical);
        replace.push_if_differs("name", found.name.as_str(), group.name.as_str());
        replace.push_if_differs(
            "description",
            found.description.as_str(),
            group.description.as_str(),
        );
        if !replace.fields.is_empty() {
            let reason = format!(
                "security group {}: AWS cannot change a group's name or description in place",
                group.id
            );
            updates.push(Planned {
                change: replace,
                action: Action::RefuseReplacement(reason),
            });
        }
        let current = GroupRules {
            ingress: found.ingress.clone(),
            egress: found.egress.clone(),
        };
        plan_rules(&group.id, &logical, &current, &wanted, true, &mut updates);

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
            updates.push(Planned {
                change,
                action: Action::Retag {
                    group: group.id.clone(),
                    delta,
                },
            });
        }
    }
    creations.extend(updates);
    creations
}

#[derive(Default)]
struct GroupRules {
    ingress: BTreeSet<RuleKey>,
    egress: BTreeSet<RuleKey>,
}

/// Plans the authorizations and revocations that turn `current` into the wanted
/// rules. `shown` says whether the plan lists them (for a group being created, the
/// Create change already shows its rules).
fn plan_rules(
    group: &str,
    logical: &str,
    current: &GroupRules,
    wanted: &dyn Fn(Direction) -> Vec<(RuleKey, Option<String>)>,
    shown: bool,
    plan: &mut Vec<Planned<Action>>,
) {
    for direction in [Direction::Ingress, Direction::Egress] {
        let live = match direction {
            Direction::Ingress => &current.ingress,
            Direction::Egress => &current.egress,
        };
        let wanted = wanted(direction);
        let wanted_keys: BTreeSet<&RuleKey> = wanted.iter().map(|(key, _)| key).collect();
        let added: Vec<(RuleKey, Option<String>)> = wanted
            .iter()
            .filter(|(key, _)| !live.contains(key))
            .cloned()
            .collect();
        let removed: Vec<RuleKey> = live
            .iter()
            .filter(|key| !wanted_keys.contains(key))
            .cloned()
            .collect();

        // Steps of a group being created show as part of its creation.
        let kind = if shown {
            ChangeKind::Update
        } else {
            ChangeKind::Create
        };
        if !removed.is_empty() {
            let mut change = Change::new(kind, logical);
            if shown {
                for key in &removed {
                    change.fields.push(stackd_engine::FieldDiff {
                        path: direction.field().to_owned(),
                        live: Value::String(key.to_string()),
                        desired: Value::Null,
                    });
                }
            }
            plan.push(Planned {
                change,
                action: Action::Revoke {
                    group: group.to_owned(),
                    direction,
                    rules: removed,
                },
            });
        }
        if !added.is_empty() {
            let mut change = Change::new(kind, logical);
            if shown {
                for (key, _) in &added {
                    change.fields.push(stackd_engine::FieldDiff {
                        path: direction.field().to_owned(),
                        live: Value::Null,
                        desired: Value::String(key.to_string()),
                    });
                }
            }
            plan.push(Planned {
                change,
                action: Action::Authorize {
                    group: group.to_owned(),
                    direction,
                    rules: added,
                },
            });
        }
    }
}

fn lookup<'a>(ids: &'a BTreeMap<String, String>, group: &str) -> Result<&'a str, ComponentError> {
    ids.get(group).map(String::as_str).ok_or_else(|| {
        ComponentError::Unexpected(format!("security group {group} has no AWS id yet"))
    })
}

async fn create_group(
    client: &Client,
    tagger: &Tagger,
    vpc_id: &str,
    group: &SecurityGroup,
) -> Result<String, ComponentError> {
    let logical = logical_id(&group.id);
    let tags = tagger.desired(&logical, &group.name);
    let created = client
        .create_security_group()
        .vpc_id(vpc_id)
        .group_name(&group.name)
        .description(&group.description)
        .tag_specifications(tag_specification(ResourceType::SecurityGroup, &tags))
        .send()
        .await;
    let response = match created {
        Ok(response) => response,
        Err(error) if error.code() == Some("InvalidGroup.Duplicate") => {
            return Err(ComponentError::Blocked(format!(
                "a security group named {} already exists in {vpc_id} without stackd's tags, so it belongs to \
                 someone else; rename the group in the file, or adopt the existing one by tagging it with \
                 {STACK_TAG}={stack} and {ID_TAG}={logical} (its name and description must then match the file)",
                group.name,
                stack = tagger.stack(),
            )));
        }
        Err(error) => {
            return Err(crate::failures::call_failed(
                format!("CreateSecurityGroup {logical}"),
                error,
            ));
        }
    };
    let id = response
        .group_id()
        .ok_or_else(|| ComponentError::Unexpected("CreateSecurityGroup returned no id".to_owned()))?
        .to_owned();
    tracing::info!(group_id = %id, %logical, name = %group.name, "created security group");
    Ok(id)
}

/// Builds one IpPermission per rule, with the peer's AWS id resolved.
fn permission(
    ids: &BTreeMap<String, String>,
    key: &RuleKey,
    description: Option<&str>,
) -> Result<IpPermission, ComponentError> {
    let mut builder = IpPermission::builder().ip_protocol(&key.protocol);
    match key.ports {
        Some((from, to)) => builder = builder.from_port(from).to_port(to),
        // EC2 requires a port range for ICMP: -1/-1 means every type and code.
        None if key.protocol == "icmp" => builder = builder.from_port(-1).to_port(-1),
        None => {}
    }
    builder = match &key.peer {
        PeerKey::Cidr(cidr) => builder.ip_ranges(
            IpRange::builder()
                .cidr_ip(cidr)
                .set_description(description.map(str::to_owned))
                .build(),
        ),
        PeerKey::Group(group) => builder.user_id_group_pairs(
            UserIdGroupPair::builder()
                .group_id(lookup(ids, group)?)
                .set_description(description.map(str::to_owned))
                .build(),
        ),
        PeerKey::ForeignGroup(id) => {
            builder.user_id_group_pairs(UserIdGroupPair::builder().group_id(id).build())
        }
        PeerKey::Other(id) if id.starts_with("pl-") => builder.prefix_list_ids(
            aws_sdk_ec2::types::PrefixListId::builder()
                .prefix_list_id(id)
                .build(),
        ),
        PeerKey::Other(cidr) => builder.ipv6_ranges(
            aws_sdk_ec2::types::Ipv6Range::builder()
                .cidr_ipv6(cidr)
                .build(),
        ),
    };
    Ok(builder.build())
}

async fn authorize(
    client: &Client,
    ids: &BTreeMap<String, String>,
    group: &str,
    direction: Direction,
    rules: &[(RuleKey, Option<String>)],
) -> Result<(), ComponentError> {
    let group_id = lookup(ids, group)?;
    let permissions = rules
        .iter()
        .map(|(key, description)| permission(ids, key, description.as_deref()))
        .collect::<Result<Vec<_>, _>>()?;
    let operation = match direction {
        Direction::Ingress => "AuthorizeSecurityGroupIngress",
        Direction::Egress => "AuthorizeSecurityGroupEgress",
    };
    let sent = match direction {
        Direction::Ingress => client
            .authorize_security_group_ingress()
            .group_id(group_id)
            .set_ip_permissions(Some(permissions))
            .send()
            .await
            .map(|_| ())
            .map_err(|error| {
                (
                    duplicate(error.code()),
                    crate::failures::call_failed(format!("{operation} on {group_id}"), error),
                )
            }),
        Direction::Egress => client
            .authorize_security_group_egress()
            .group_id(group_id)
            .set_ip_permissions(Some(permissions))
            .send()
            .await
            .map(|_| ())
            .map_err(|error| {
                (
                    duplicate(error.code()),
                    crate::failures::call_failed(format!("{operation} on {group_id}"), error),
                )
            }),
    };
    match sent {
        Ok(()) => {}
        // The SDK retried a call whose response was lost, and the first try had
        // added the rules. A rule that someone added meanwhile gives the same
        // error; the next pass compares the rules again either way.
        Err((true, _)) => {
            tracing::info!(
                group_id,
                direction = direction.field(),
                "the rules were already there"
            );
            return Ok(());
        }
        Err((false, error)) => return Err(error),
    }
    let shown: Vec<String> = rules.iter().map(|(key, _)| key.to_string()).collect();
    tracing::info!(group_id, direction = direction.field(), rules = ?shown, "authorized rules");
    Ok(())
}

async fn revoke(
    client: &Client,
    ids: &BTreeMap<String, String>,
    group: &str,
    direction: Direction,
    rules: &[RuleKey],
) -> Result<(), ComponentError> {
    let group_id = lookup(ids, group)?;
    let permissions = rules
        .iter()
        .map(|key| permission(ids, key, None))
        .collect::<Result<Vec<_>, _>>()?;
    let operation = match direction {
        Direction::Ingress => "RevokeSecurityGroupIngress",
        Direction::Egress => "RevokeSecurityGroupEgress",
    };
    let sent = match direction {
        Direction::Ingress => client
            .revoke_security_group_ingress()
            .group_id(group_id)
            .set_ip_permissions(Some(permissions))
            .send()
            .await
            .map(|_| ())
            .map_err(|error| {
                crate::failures::call_failed(format!("{operation} on {group_id}"), error)
            }),
        Direction::Egress => client
            .revoke_security_group_egress()
            .group_id(group_id)
            .set_ip_permissions(Some(permissions))
            .send()
            .await
            .map(|_| ())
            .map_err(|error| {
                crate::failures::call_failed(format!("{operation} on {group_id}"), error)
            }),
    };
    sent?;
    let shown: Vec<String> = rules.iter().map(ToString::to_string).collect();
    tracing::info!(group_id, direction = direction.field(), rules = ?shown, "revoked rules");
    Ok(())
}

/// Returns whether an AuthorizeSecurityGroup* error code means the rules exist.
fn duplicate(code: Option<&str>) -> bool {
    code == Some("InvalidPermission.Duplicate")
}

#[cfg(test)]
mod tests {
    use super::*;
    use stackd_spec::model::PortRange;

    fn tagger() -> Tagger {
        Tagger::new("s", &BTreeMap::new())
    }

    fn cidr(block: &str) -> Peer {
        Peer::Cidr(block.parse().unwrap())
    }

    fn rule(protocol: Protocol, ports: Option<(u16, u16)>, peer: Peer) -> Rule {
        Rule {
            protocol,
            ports: ports.map(|(from, to)| PortRange { from, to }),
            peer,
            description: None,
        }
    }

    fn any_egress() -> Rule {
        rule(Protocol::All, None, cidr("0.0.0.0/0"))
    }

    fn key(protocol: &str, ports: Option<(i32, i32)>, peer: PeerKey) -> RuleKey {
        RuleKey {
            protocol: protocol.to_owned(),
            ports,
            peer,
        }
    }

    fn anywhere() -> PeerKey {
        PeerKey::Cidr("0.0.0.0/0".to_owned())
    }

    /// Builds two groups: `web` takes HTTPS and HTTP from anywhere, and `app` takes
    /// 8080 from `web` and everything from itself. Both keep the default egress rule.
    fn desired() -> Vec<SecurityGroup> {
        let mut https = rule(Protocol::Tcp, Some((443, 443)), cidr("0.0.0.0/0"));
        https.description = Some("https".to_owned());
        vec![
            SecurityGroup {
                id: "web".to_owned(),
                name: "s-web".to_owned(),
                description: "web servers".to_owned(),
                ingress: vec![
                    https,
                    rule(Protocol::Tcp, Some((80, 80)), cidr("0.0.0.0/0")),
                ],
                egress: vec![any_egress()],
            },
            SecurityGroup {
                id: "app".to_owned(),
                name: "s-app".to_owned(),
                description: "app servers".to_owned(),
                ingress: vec![
                    rule(
                        Protocol::Tcp,
                        Some((8080, 8080)),
                        Peer::SecurityGroup("web".to_owned()),
                    ),
                    rule(Protocol::All, None, Peer::SecurityGroup("app".to_owned())),
                ],
                egress: vec![any_egress()],
            },
        ]
    }

    /// Builds the live groups that match `desired` exactly, with ids `sg-<group>`.
    fn converged(desired: &[SecurityGroup], tagger: &Tagger) -> GroupsLive {
        let groups = desired
            .iter()
            .map(|group| {
                let live = LiveGroup {
                    id: format!("sg-{}", group.id),
                    name: group.name.clone(),
                    description: group.description.clone(),
                    ingress: group.ingress.iter().map(desired_key).collect(),
                    egress: group.egress.iter().map(desired_key).collect(),
                    tags: tagger.desired(&logical_id(&group.id), &group.name),
                };
                (group.id.clone(), live)
            })
            .collect();
        GroupsLive { groups }
    }

    fn group<'a>(live: &'a mut GroupsLive, id: &str) -> &'a mut LiveGroup {
        live.groups.get_mut(id).unwrap()
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
    /// exact plan it must produce.
    struct Case {
        reason: &'static str,
        edit: fn(&mut Vec<SecurityGroup>, &mut GroupsLive),
        expected: Vec<Planned<Action>>,
    }

    fn cases() -> Vec<Case> {
        vec![
            Case {
                reason: "converged groups plan nothing",
                edit: |_, _| {},
                expected: vec![],
            },
            Case {
                reason: "rules are compared as sets, so their order in the file does not matter",
                edit: |desired, _| desired[0].ingress.reverse(),
                expected: vec![],
            },
            Case {
                reason: "a rule added in the console is revoked",
                edit: |_, live| {
                    group(live, "web")
                        .ingress
                        .insert(key("tcp", Some((22, 22)), anywhere()));
                },
                expected: vec![step(
                    Change::new(ChangeKind::Update, "security-group/web").field(
                        "ingress",
                        "tcp 22 0.0.0.0/0",
                        Value::Null,
                    ),
                    Action::Revoke {
                        group: "web".to_owned(),
                        direction: Direction::Ingress,
                        rules: vec![key("tcp", Some((22, 22)), anywhere())],
                    },
                )],
            },
            Case {
                reason: "a rule removed in the console is authorized again",
                edit: |_, live| {
                    group(live, "app").ingress.remove(&key(
                        "tcp",
                        Some((8080, 8080)),
                        PeerKey::Group("web".to_owned()),
                    ));
                },
                expected: vec![step(
                    Change::new(ChangeKind::Update, "security-group/app").field(
                        "ingress",
                        Value::Null,
                        "tcp 8080 security-group/web",
                    ),
                    Action::Authorize {
                        group: "app".to_owned(),
                        direction: Direction::Ingress,
                        rules: vec![(
                            key("tcp", Some((8080, 8080)), PeerKey::Group("web".to_owned())),
                            None,
                        )],
                    },
                )],
            },
            Case {
                reason: "a rule naming its own group shows the group's logical id",
                edit: |_, live| {
                    group(live, "app")
                        .ingress
                        .remove(&key("-1", None, PeerKey::Group("app".to_owned())));
                },
                expected: vec![step(
                    Change::new(ChangeKind::Update, "security-group/app").field(
                        "ingress",
                        Value::Null,
                        "all security-group/app",
                    ),
                    Action::Authorize {
                        group: "app".to_owned(),
                        direction: Direction::Ingress,
                        rules: vec![(key("-1", None, PeerKey::Group("app".to_owned())), None)],
                    },
                )],
            },
            Case {
                reason: "an empty egress list in the file revokes the default rule",
                edit: |desired, _| desired[0].egress.clear(),
                expected: vec![step(
                    Change::new(ChangeKind::Update, "security-group/web").field(
                        "egress",
                        "all 0.0.0.0/0",
                        Value::Null,
                    ),
                    Action::Revoke {
                        group: "web".to_owned(),
                        direction: Direction::Egress,
                        rules: vec![default_egress()],
                    },
                )],
            },
            Case {
                reason: "a new description needs a replacement, which is refused",
                edit: |desired, _| desired[0].description = "public web servers".to_owned(),
                expected: vec![step(
                    Change::new(ChangeKind::Replace, "security-group/web").field(
                        "description",
                        "web servers",
                        "public web servers",
                    ),
                    Action::RefuseReplacement(
                        "security group web: AWS cannot change a group's name or description in place"
                            .to_owned(),
                    ),
                )],
            },
            Case {
                reason: "a tag added by hand is removed",
                edit: |_, live| {
                    group(live, "web")
                        .tags
                        .insert("owner".to_owned(), "alice".to_owned());
                },
                expected: vec![step(
                    Change::new(ChangeKind::Update, "security-group/web").field(
                        "tags.owner",
                        "alice",
                        Value::Null,
                    ),
                    Action::Retag {
                        group: "web".to_owned(),
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
    fn new_group_keeps_default_egress() {
        let tagger = tagger();
        let desired = desired();
        let mut live = converged(&desired, &tagger);
        live.groups.remove("web");

        let plan = diff(&desired, &tagger, &live);

        let expected = [
            Action::CreateGroup("web".to_owned()),
            Action::Authorize {
                group: "web".to_owned(),
                direction: Direction::Ingress,
                rules: vec![
                    (key("tcp", Some((80, 80)), anywhere()), None),
                    (
                        key("tcp", Some((443, 443)), anywhere()),
                        Some("https".to_owned()),
                    ),
                ],
            },
        ];
        assert_eq!(actions(&plan), expected);
    }

    #[test]
    fn new_group_without_egress_revokes_default() {
        let tagger = tagger();
        let mut desired = desired();
        desired[0].egress.clear();
        let mut live = converged(&desired, &tagger);
        live.groups.remove("web");

        let plan = diff(&desired, &tagger, &live);

        let revoke = plan
            .iter()
            .find(|step| matches!(step.action, Action::Revoke { .. }))
            .expect("a Revoke step");
        assert_eq!(
            revoke.action,
            Action::Revoke {
                group: "web".to_owned(),
                direction: Direction::Egress,
                rules: vec![default_egress()],
            }
        );
        assert_eq!(revoke.change.kind, ChangeKind::Create);
    }

    #[test]
    fn new_group_steps_show_as_creation() {
        let tagger = tagger();
        let desired = desired();
        let plan = diff(&desired, &tagger, &GroupsLive::default());
        let not_create: Vec<&Change> = plan
            .iter()
            .map(|step| &step.change)
            .filter(|change| change.kind != ChangeKind::Create)
            .collect();
        assert_eq!(not_create, Vec::<&Change>::new());
    }

    #[test]
    fn creations_come_before_rule_changes() {
        let tagger = tagger();
        let desired = desired();
        let mut live = converged(&desired, &tagger);
        live.groups.remove("app");
        group(&mut live, "web")
            .ingress
            .insert(key("tcp", Some((22, 22)), anywhere()));

        let plan = diff(&desired, &tagger, &live);

        let kinds: Vec<&str> = plan
            .iter()
            .map(|step| match step.action {
                Action::CreateGroup(_) => "create",
                Action::Authorize { .. } => "authorize",
                Action::Revoke { .. } => "revoke",
                Action::Retag { .. } => "retag",
                Action::RefuseReplacement(_) => "refuse",
            })
            .collect();
        assert_eq!(kinds, ["create", "revoke", "authorize"]);
    }

    #[test]
    fn canonical_protocol_names_numbers() {
        let cases = [
            ("6", "tcp"),
            ("17", "udp"),
            ("1", "icmp"),
            ("-1", "-1"),
            ("TCP", "tcp"),
            ("all", "-1"),
            ("50", "50"),
        ];
        for (protocol, expected) in cases {
            assert_eq!(
                canonical_protocol(protocol),
                expected,
                "protocol {protocol}"
            );
        }
    }

    fn range(block: &str) -> IpRange {
        IpRange::builder().cidr_ip(block).build()
    }

    fn pair(group_id: &str) -> UserIdGroupPair {
        UserIdGroupPair::builder().group_id(group_id).build()
    }

    fn own_groups() -> BTreeMap<String, String> {
        BTreeMap::from([("sg-app".to_owned(), "app".to_owned())])
    }

    #[test]
    fn rule_keys_read_protocol_numbers() {
        let permission = IpPermission::builder()
            .ip_protocol("6")
            .from_port(443)
            .to_port(443)
            .ip_ranges(range("10.0.0.0/8"))
            .build();
        let keys = rule_keys(&[permission], &own_groups());
        let expected = key(
            "tcp",
            Some((443, 443)),
            PeerKey::Cidr("10.0.0.0/8".to_owned()),
        );
        assert_eq!(keys, BTreeSet::from([expected]));
    }

    #[test]
    fn rule_keys_flatten_one_rule_per_peer() {
        let permission = IpPermission::builder()
            .ip_protocol("17")
            .from_port(53)
            .to_port(53)
            .ip_ranges(range("10.0.0.0/8"))
            .ip_ranges(range("192.168.0.0/16"))
            .user_id_group_pairs(pair("sg-app"))
            .build();
        let keys = rule_keys(&[permission], &own_groups());
        let shown: Vec<String> = keys.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "udp 53 10.0.0.0/8",
                "udp 53 192.168.0.0/16",
                "udp 53 security-group/app",
            ]
        );
    }

    #[test]
    fn rule_keys_name_own_group_by_logical_id() {
        let permission = IpPermission::builder()
            .ip_protocol("-1")
            .user_id_group_pairs(pair("sg-app"))
            .build();
        let keys = rule_keys(&[permission], &own_groups());
        let expected = key("-1", None, PeerKey::Group("app".to_owned()));
        assert_eq!(keys, BTreeSet::from([expected]));
    }

    #[test]
    fn rule_keys_keep_foreign_group_by_id() {
        let permission = IpPermission::builder()
            .ip_protocol("tcp")
            .from_port(5432)
            .to_port(5432)
            .user_id_group_pairs(pair("sg-elsewhere"))
            .build();
        let keys = rule_keys(&[permission], &own_groups());
        let expected = key(
            "tcp",
            Some((5432, 5432)),
            PeerKey::ForeignGroup("sg-elsewhere".to_owned()),
        );
        assert_eq!(keys, BTreeSet::from([expected]));
    }

    #[test]
    fn all_protocols_rule_has_no_ports() {
        let permission = IpPermission::builder()
            .ip_protocol("-1")
            .from_port(-1)
            .to_port(-1)
            .ip_ranges(range("0.0.0.0/0"))
            .build();
        let keys = rule_keys(&[permission], &own_groups());
        assert_eq!(keys, BTreeSet::from([default_egress()]));
    }

    #[test]
    fn icmp_all_types_matches_file() {
        let permission = IpPermission::builder()
            .ip_protocol("icmp")
            .from_port(-1)
            .to_port(-1)
            .ip_ranges(range("10.0.0.0/8"))
            .build();
        let keys = rule_keys(&[permission], &own_groups());
        let desired = desired_key(&rule(Protocol::Icmp, None, cidr("10.0.0.0/8")));
        assert_eq!(keys, BTreeSet::from([desired]));
    }

    #[test]
    fn icmp_permission_covers_all_types() {
        let desired = desired_key(&rule(Protocol::Icmp, None, cidr("10.0.0.0/8")));
        let permission = permission(&BTreeMap::new(), &desired, None).unwrap();
        assert_eq!(
            (permission.from_port(), permission.to_port()),
            (Some(-1), Some(-1))
        );
    }

    #[test]
    fn group_peer_shows_as_security_group_name() {
        let rule = key("tcp", Some((5000, 5001)), PeerKey::Group("app".to_owned()));
        assert_eq!(rule.to_string(), "tcp 5000-5001 security-group/app");
    }
}
