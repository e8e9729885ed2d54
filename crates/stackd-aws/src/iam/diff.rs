//! Compares the desired roles, instance profiles and users with the live ones and
//! plans one IAM call per step, in the order of the file.

use super::{
    DesiredIam, DesiredRole, DesiredUser, IamLive, LiveInstanceProfile, LiveRole, LiveUser, ids,
    is_owned,
};
use crate::tags::{ID_TAG, STACK_TAG, TagDelta, Tagger};
use serde_json::{Value, json};
use stackd_engine::{Change, ChangeKind, Planned};
use std::collections::{BTreeMap, BTreeSet};

/// A role or a user, by its id in the file: the principals that carry policies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    Role(String),
    User(String),
}

/// One step of an IAM apply. Resources are named by their id in the file.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Creates the role with its trust policy and tags.
    CreateRole(String),
    UpdateTrustPolicy(String),
    /// Creates the user with its tags.
    CreateUser(String),
    AttachPolicy {
        principal: Principal,
        arn: String,
    },
    DetachPolicy {
        principal: Principal,
        arn: String,
    },
    /// Puts one inline policy, and touches no other.
    PutPolicy {
        principal: Principal,
        policy: String,
    },
    DeletePolicy {
        principal: Principal,
        policy: String,
    },
    RetagRole {
        role: String,
        delta: TagDelta,
    },
    RetagUser {
        user: String,
        delta: TagDelta,
    },
    /// Creates the instance profile of a role, named like the role, with its tags.
    CreateInstanceProfile(String),
    /// Removes the roles that are not the file's from a role's instance profile,
    /// then adds the role when it is not in it.
    SetInstanceProfileRole {
        role: String,
        remove: Vec<String>,
        add: bool,
    },
    RetagInstanceProfile {
        role: String,
        delta: TagDelta,
    },
    /// Leaves a resource that belongs to someone else alone, and apply reports the reason.
    Refuse(String),
}

/// Plans the changes that turn `live` into `desired`.
pub fn diff(desired: &DesiredIam, tagger: &Tagger, live: &IamLive) -> Vec<Planned<Action>> {
    // TODO: delete the roles, instance profiles and users of this stack that the file no longer lists.
    let mut plan = Vec::new();
    for role in &desired.roles {
        let role_is_ours = plan_role(&mut plan, role, tagger, live.roles.get(&role.id));
        // An instance profile must never carry someone else's role.
        if role.instance_profile && role_is_ours {
            plan_instance_profile(
                &mut plan,
                role,
                tagger,
                live.instance_profiles.get(&role.id),
            );
        }
    }
    for user in &desired.users {
        plan_user(&mut plan, user, tagger, live.users.get(&user.id));
    }
    plan
}

/// Plans one role and returns whether it is ours (missing roles count as ours).
fn plan_role(
    plan: &mut Vec<Planned<Action>>,
    role: &DesiredRole,
    tagger: &Tagger,
    live: Option<&LiveRole>,
) -> bool {
    let logical = ids::role(&role.id);
    let tags = tagger.desired(&logical, &role.name);
    let principal = Principal::Role(role.id.clone());

    let Some(found) = live else {
        let change = Change::new(ChangeKind::Create, &logical)
            .field("name", Value::Null, role.name.as_str())
            .field("path", Value::Null, "/")
            .field("trustPolicy", Value::Null, role.trust_policy.clone())
            .field("tags", Value::Null, json!(tags));
        plan.push(Planned {
            change,
            action: Action::CreateRole(role.id.clone()),
        });
        plan_policies(
            plan,
            &principal,
            &logical,
            ChangeKind::Create,
            (&BTreeSet::new(), &BTreeMap::new()),
            (&role.managed_policies, &role.inline_policies),
        );
        return true;
    };

    if !is_owned(&found.tags, tagger, &logical) {
        plan.push(refusal("role", &role.name, &logical, tagger, &found.tags));
        return false;
    }

    if found.trust_policy != role.trust_policy {
        let mut change = Change::new(ChangeKind::Update, &logical);
        push_document_fields(
            &mut change,
            "trustPolicy",
            &found.trust_policy,
            &role.trust_policy,
        );
        plan.push(Planned {
            change,
            action: Action::UpdateTrustPolicy(role.id.clone()),
        });
    }
    plan_policies(
        plan,
        &principal,
        &logical,
        ChangeKind::Update,
        (&found.managed_policies, &found.inline_policies),
        (&role.managed_policies, &role.inline_policies),
    );
    if let Some(change) = tag_change(&logical, &found.tags, &tags) {
        plan.push(Planned {
            change,
            action: Action::RetagRole {
                role: role.id.clone(),
                delta: TagDelta::between(&found.tags, &tags),
            },
        });
    }
    true
}

fn plan_instance_profile(
    plan: &mut Vec<Planned<Action>>,
    role: &DesiredRole,
    tagger: &Tagger,
    live: Option<&LiveInstanceProfile>,
) {
    let logical = ids::instance_profile(&role.id);
    let tags = tagger.desired(&logical, &role.name);
    let desired_roles = vec![role.name.clone()];

    let Some(found) = live else {
        let change = Change::new(ChangeKind::Create, &logical)
            .field("name", Value::Null, role.name.as_str())
            .field("path", Value::Null, "/")
            .field("tags", Value::Null, json!(tags));
        plan.push(Planned {
            change,
            action: Action::CreateInstanceProfile(role.id.clone()),
        });
        plan.push(Planned {
            change: Change::new(ChangeKind::Create, &logical).field(
                "roles",
                Value::Null,
                json!(desired_roles),
            ),
            action: Action::SetInstanceProfileRole {
                role: role.id.clone(),
                remove: Vec::new(),
                add: true,
            },
        });
        return;
    };

    if !is_owned(&found.tags, tagger, &logical) {
        plan.push(refusal(
            "instance profile",
            &role.name,
            &logical,
            tagger,
            &found.tags,
        ));
        return;
    }

    if found.roles != desired_roles {
        let remove: Vec<String> = found
            .roles
            .iter()
            .filter(|name| **name != role.name)
            .cloned()
            .collect();
        let add = !found.roles.contains(&role.name);
        plan.push(Planned {
            change: Change::new(ChangeKind::Update, &logical).field(
                "roles",
                json!(found.roles),
                json!(desired_roles),
            ),
            action: Action::SetInstanceProfileRole {
                role: role.id.clone(),
                remove,
                add,
            },
        });
    }
    if let Some(change) = tag_change(&logical, &found.tags, &tags) {
        plan.push(Planned {
            change,
            action: Action::RetagInstanceProfile {
                role: role.id.clone(),
                delta: TagDelta::between(&found.tags, &tags),
            },
        });
    }
}

fn plan_user(
    plan: &mut Vec<Planned<Action>>,
    user: &DesiredUser,
    tagger: &Tagger,
    live: Option<&LiveUser>,
) {
    let logical = ids::user(&user.id);
    let tags = tagger.desired(&logical, &user.name);
    let principal = Principal::User(user.id.clone());

    let Some(found) = live else {
        // The access key, when the file sets one, belongs to the access-key node.
        let change = Change::new(ChangeKind::Create, &logical)
            .field("name", Value::Null, user.name.as_str())
            .field("path", Value::Null, "/")
            .field("tags", Value::Null, json!(tags));
        plan.push(Planned {
            change,
            action: Action::CreateUser(user.id.clone()),
        });
        plan_policies(
            plan,
            &principal,
            &logical,
            ChangeKind::Create,
            (&BTreeSet::new(), &BTreeMap::new()),
            (&user.managed_policies, &user.inline_policies),
        );
        return;
    };

    if !is_owned(&found.tags, tagger, &logical) {
        plan.push(refusal("user", &user.name, &logical, tagger, &found.tags));
        return;
    }

    plan_policies(
        plan,
        &principal,
        &logical,
        ChangeKind::Update,
        (&found.managed_policies, &found.inline_policies),
        (&user.managed_policies, &user.inline_policies),
    );
    if let Some(change) = tag_change(&logical, &found.tags, &tags) {
        plan.push(Planned {
            change,
            action: Action::RetagUser {
                user: user.id.clone(),
                delta: TagDelta::between(&found.tags, &tags),
            },
        });
    }
}

/// Managed policy ARNs, and inline documents by policy name.
type Policies<'a> = (&'a BTreeSet<String>, &'a BTreeMap<String, Value>);

/// Plans the managed policies to attach and detach, and the inline policies to
/// put and delete, one action per policy. `kind` is Create for a principal that
/// does not exist yet, so that its whole creation reads as one block.
fn plan_policies(
    plan: &mut Vec<Planned<Action>>,
    principal: &Principal,
    logical: &str,
    kind: ChangeKind,
    (live_managed, live_inline): Policies<'_>,
    (desired_managed, desired_inline): Policies<'_>,
) {
    for arn in desired_managed.difference(live_managed) {
        plan.push(Planned {
            change: Change::new(kind, logical).field(
                format!("managedPolicies[{arn}]"),
                Value::Null,
                "attached",
            ),
            action: Action::AttachPolicy {
                principal: principal.clone(),
                arn: arn.clone(),
            },
        });
    }
    for arn in live_managed.difference(desired_managed) {
        plan.push(Planned {
            change: Change::new(ChangeKind::Update, logical).field(
                format!("managedPolicies[{arn}]"),
                "attached",
                Value::Null,
            ),
            action: Action::DetachPolicy {
                principal: principal.clone(),
                arn: arn.clone(),
            },
        });
    }

    for (name, document) in desired_inline {
        let path = format!("inlinePolicies.{name}");
        let mut change = Change::new(kind, logical);
        match live_inline.get(name) {
            None => {
                change.push_if_differs(path, Value::Null, document.clone());
            }
            Some(found) if found == document => continue,
            Some(found) => push_document_fields(&mut change, &path, found, document),
        }
        plan.push(Planned {
            change,
            action: Action::PutPolicy {
                principal: principal.clone(),
                policy: name.clone(),
            },
        });
    }
    for (name, document) in live_inline {
        if desired_inline.contains_key(name) {
            continue;
        }
        plan.push(Planned {
            change: Change::new(ChangeKind::Update, logical).field(
                format!("inlinePolicies.{name}"),
                document.clone(),
                Value::Null,
            ),
            action: Action::DeletePolicy {
                principal: principal.clone(),
                policy: name.clone(),
            },
        });
    }
}

/// Adds one field per differing leaf of two canonical documents, such as
/// `inlinePolicies.app.Statement[0].Action`. Objects are compared key by key and
/// lists of statements index by index. Any other list is compared as one value.
fn push_document_fields(change: &mut Change, path: &str, live: &Value, desired: &Value) {
    let is_statements = |items: &[Value]| items.iter().all(Value::is_object);
    match (live, desired) {
        (Value::Object(live_fields), Value::Object(desired_fields)) => {
            let keys: BTreeSet<&String> = live_fields.keys().chain(desired_fields.keys()).collect();
            for key in keys {
                push_document_fields(
                    change,
                    &format!("{path}.{key}"),
                    live_fields.get(key).unwrap_or(&Value::Null),
                    desired_fields.get(key).unwrap_or(&Value::Null),
                );
            }
        }
        (Value::Array(live_items), Value::Array(desired_items))
            if is_statements(live_items) && is_statements(desired_items) =>
        {
            for index in 0..live_items.len().max(desired_items.len()) {
                push_document_fields(
                    change,
                    &format!("{path}[{index}]"),
                    live_items.get(index).unwrap_or(&Value::Null),
                    desired_items.get(index).unwrap_or(&Value::Null),
                );
            }
        }
        _ => {
            change.push_if_differs(path, live.clone(), desired.clone());
        }
    }
}

/// Returns the tag fields to set and remove, or `None` when the tags match.
fn tag_change(
    logical: &str,
    live: &BTreeMap<String, String>,
    desired: &BTreeMap<String, String>,
) -> Option<Change> {
    let delta = TagDelta::between(live, desired);
    if delta.is_empty() {
        return None;
    }
    let mut change = Change::new(ChangeKind::Update, logical);
    for (key, value) in &delta.set {
        change.push_if_differs(format!("tags.{key}"), json!(live.get(key)), value.as_str());
    }
    for key in &delta.remove {
        change.push_if_differs(format!("tags.{key}"), json!(live.get(key)), Value::Null);
    }
    Some(change)
}

/// Plans the refusal to touch a resource that has our name but not our tags.
/// The change shows the identity tags that adopting the resource takes.
fn refusal(
    kind: &str,
    name: &str,
    logical: &str,
    tagger: &Tagger,
    tags: &BTreeMap<String, String>,
) -> Planned<Action> {
    let mut change = Change::new(ChangeKind::Update, logical);
    change.push_if_differs(
        format!("tags.{STACK_TAG}"),
        json!(tags.get(STACK_TAG)),
        tagger.stack(),
    );
    change.push_if_differs(format!("tags.{ID_TAG}"), json!(tags.get(ID_TAG)), logical);
    let reason = format!(
        "{kind} {name} exists without the tags {STACK_TAG}={} and {ID_TAG}={logical}, so it belongs \
         to someone else; stackd leaves it alone until it is adopted by adding those tags",
        tagger.stack()
    );
    Planned {
        change,
        action: Action::Refuse(reason),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::iam::policy::{canonical_policy, trust_policy};

    const STACK: &str = "s";

    fn tagger() -> Tagger {
        Tagger::new(STACK, &BTreeMap::new())
    }

    fn document(statements: Value) -> Value {
        canonical_policy(&json!({ "Version": "2012-10-17", "Statement": statements }))
    }

    fn buckets_policy(actions: &[&str]) -> Value {
        document(json!([{
            "Effect": "Allow",
            "Action": actions,
            "Resource": ["arn:aws:s3:::media/*"],
        }]))
    }

    fn set(items: &[&str]) -> BTreeSet<String> {
        items.iter().map(|item| item.to_string()).collect()
    }

    const TASK_EXECUTION_POLICY: &str =
        "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy";

    /// Returns a task role with an inline policy, an instance role with a managed
    /// policy and an instance profile, and a user with an inline policy.
    fn desired() -> DesiredIam {
        DesiredIam {
            roles: vec![
                DesiredRole {
                    id: "task".to_owned(),
                    name: "s-task".to_owned(),
                    trust_policy: trust_policy(&["ecs-tasks.amazonaws.com".to_owned()]),
                    managed_policies: set(&[TASK_EXECUTION_POLICY]),
                    inline_policies: BTreeMap::from([(
                        "app-buckets".to_owned(),
                        buckets_policy(&["s3:GetObject", "s3:PutObject"]),
                    )]),
                    instance_profile: false,
                },
                DesiredRole {
                    id: "instance".to_owned(),
                    name: "s-instance".to_owned(),
                    trust_policy: trust_policy(&["ec2.amazonaws.com".to_owned()]),
                    managed_policies: BTreeSet::new(),
                    inline_policies: BTreeMap::new(),
                    instance_profile: true,
                },
            ],
            users: vec![DesiredUser {
                id: "uploader".to_owned(),
                name: "s-uploader".to_owned(),
                managed_policies: BTreeSet::new(),
                inline_policies: BTreeMap::from([(
                    "upload".to_owned(),
                    buckets_policy(&["s3:PutObject"]),
                )]),
                access_key_secret: Some("s/uploader".to_owned()),
            }],
        }
    }

    /// Returns the live state that matches [`desired`] exactly.
    fn converged() -> IamLive {
        let tagger = tagger();
        let desired = desired();
        let roles = desired
            .roles
            .iter()
            .map(|role| {
                let live = LiveRole {
                    arn: format!("arn:aws:iam::1:role/{}", role.name),
                    trust_policy: role.trust_policy.clone(),
                    managed_policies: role.managed_policies.clone(),
                    inline_policies: role.inline_policies.clone(),
                    tags: tagger.desired(&ids::role(&role.id), &role.name),
                };
                (role.id.clone(), live)
            })
            .collect();
        let instance_profiles = BTreeMap::from([(
            "instance".to_owned(),
            LiveInstanceProfile {
                arn: "arn:aws:iam::1:instance-profile/s-instance".to_owned(),
                roles: vec!["s-instance".to_owned()],
                tags: tagger.desired(&ids::instance_profile("instance"), "s-instance"),
            },
        )]);
        let users = desired
            .users
            .iter()
            .map(|user| {
                let live = LiveUser {
                    arn: format!("arn:aws:iam::1:user/{}", user.name),
                    managed_policies: user.managed_policies.clone(),
                    inline_policies: user.inline_policies.clone(),
                    tags: tagger.desired(&ids::user(&user.id), &user.name),
                };
                (user.id.clone(), live)
            })
            .collect();
        IamLive {
            roles,
            instance_profiles,
            users,
        }
    }

    fn role<'a>(live: &'a mut IamLive, id: &str) -> &'a mut LiveRole {
        live.roles.get_mut(id).unwrap()
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

    fn task() -> Principal {
        Principal::Role("task".to_owned())
    }

    /// One drift scenario: an edit to the converged file or live state, and the
    /// exact plan it must produce.
    struct Case {
        reason: &'static str,
        edit: fn(&mut DesiredIam, &mut IamLive),
        expected: Vec<Planned<Action>>,
    }

    fn cases() -> Vec<Case> {
        vec![
            Case {
                reason: "converged roles, profile and user plan nothing",
                edit: |_, _| {},
                expected: vec![],
            },
            Case {
                reason: "a trust policy with a single-string Principal.Service matches the file's list",
                edit: |_, live| {
                    role(live, "instance").trust_policy = canonical_policy(&json!({
                        "Statement": {
                            "Action": "sts:AssumeRole",
                            "Principal": { "Service": "ec2.amazonaws.com" },
                            "Effect": "Allow",
                        },
                    }));
                },
                expected: vec![],
            },
            Case {
                reason: "a URL-encoded live document equal after decoding plans nothing",
                edit: |_, live| {
                    let encoded = "%7B%22Statement%22%3A%5B%7B%22Resource%22%3A%22arn%3Aaws%3As3%3A%3A%3Amedia%2F%2A%22%2C%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%5B%22s3%3APutObject%22%2C%22s3%3AGetObject%22%5D%7D%5D%7D";
                    role(live, "task")
                        .inline_policies
                        .insert("app-buckets".to_owned(), crate::iam::policy::decode_document(encoded));
                },
                expected: vec![],
            },
            Case {
                reason: "a managed policy attached by hand is detached",
                edit: |_, live| {
                    role(live, "task")
                        .managed_policies
                        .insert("arn:aws:iam::aws:policy/AdministratorAccess".to_owned());
                },
                expected: vec![step(
                    Change::new(ChangeKind::Update, "role/task").field(
                        "managedPolicies[arn:aws:iam::aws:policy/AdministratorAccess]",
                        "attached",
                        Value::Null,
                    ),
                    Action::DetachPolicy {
                        principal: task(),
                        arn: "arn:aws:iam::aws:policy/AdministratorAccess".to_owned(),
                    },
                )],
            },
            Case {
                reason: "a managed policy detached by hand is attached again",
                edit: |_, live| {
                    role(live, "task").managed_policies.clear();
                },
                expected: vec![step(
                    Change::new(ChangeKind::Update, "role/task").field(
                        format!("managedPolicies[{TASK_EXECUTION_POLICY}]"),
                        Value::Null,
                        "attached",
                    ),
                    Action::AttachPolicy {
                        principal: task(),
                        arn: TASK_EXECUTION_POLICY.to_owned(),
                    },
                )],
            },
            Case {
                reason: "an inline policy added to the file puts exactly that policy",
                edit: |desired, _| {
                    desired.roles[0]
                        .inline_policies
                        .insert("logs".to_owned(), buckets_policy(&["logs:PutLogEvents"]));
                },
                expected: vec![step(
                    Change::new(ChangeKind::Update, "role/task").field(
                        "inlinePolicies.logs",
                        Value::Null,
                        buckets_policy(&["logs:PutLogEvents"]),
                    ),
                    Action::PutPolicy {
                        principal: task(),
                        policy: "logs".to_owned(),
                    },
                )],
            },
            Case {
                reason: "an inline policy changed in the console is put back, field by field",
                edit: |_, live| {
                    role(live, "task").inline_policies.insert(
                        "app-buckets".to_owned(),
                        buckets_policy(&["s3:*"]),
                    );
                },
                expected: vec![step(
                    Change::new(ChangeKind::Update, "role/task").field(
                        "inlinePolicies.app-buckets.Statement[0].Action",
                        json!(["s3:*"]),
                        json!(["s3:GetObject", "s3:PutObject"]),
                    ),
                    Action::PutPolicy {
                        principal: task(),
                        policy: "app-buckets".to_owned(),
                    },
                )],
            },
            Case {
                reason: "an inline policy added by hand is deleted",
                edit: |_, live| {
                    live.users.get_mut("uploader").unwrap().inline_policies.insert(
                        "extra".to_owned(),
                        buckets_policy(&["s3:ListBucket"]),
                    );
                },
                expected: vec![step(
                    Change::new(ChangeKind::Update, "user/uploader").field(
                        "inlinePolicies.extra",
                        buckets_policy(&["s3:ListBucket"]),
                        Value::Null,
                    ),
                    Action::DeletePolicy {
                        principal: Principal::User("uploader".to_owned()),
                        policy: "extra".to_owned(),
                    },
                )],
            },
            Case {
                reason: "a trusted service added in the console is removed",
                edit: |_, live| {
                    role(live, "instance").trust_policy = trust_policy(&[
                        "ec2.amazonaws.com".to_owned(),
                        "lambda.amazonaws.com".to_owned(),
                    ]);
                },
                expected: vec![step(
                    Change::new(ChangeKind::Update, "role/instance").field(
                        "trustPolicy.Statement[0].Principal.Service",
                        json!(["ec2.amazonaws.com", "lambda.amazonaws.com"]),
                        json!(["ec2.amazonaws.com"]),
                    ),
                    Action::UpdateTrustPolicy("instance".to_owned()),
                )],
            },
            Case {
                reason: "an untagged role of the same name is someone else's and is refused",
                edit: |_, live| {
                    role(live, "task").tags.clear();
                    role(live, "task").managed_policies.clear();
                },
                expected: vec![step(
                    Change::new(ChangeKind::Update, "role/task")
                        .field("tags.stackd:stack", Value::Null, STACK)
                        .field("tags.stackd:id", Value::Null, "role/task"),
                    Action::Refuse(
                        "role s-task exists without the tags stackd:stack=s and stackd:id=role/task, \
                         so it belongs to someone else; stackd leaves it alone until it is adopted by \
                         adding those tags"
                            .to_owned(),
                    ),
                )],
            },
            Case {
                reason: "an instance profile that lost its role gets it back",
                edit: |_, live| {
                    live.instance_profiles.get_mut("instance").unwrap().roles.clear();
                },
                expected: vec![step(
                    Change::new(ChangeKind::Update, "instance-profile/instance").field(
                        "roles",
                        json!([]),
                        json!(["s-instance"]),
                    ),
                    Action::SetInstanceProfileRole {
                        role: "instance".to_owned(),
                        remove: Vec::new(),
                        add: true,
                    },
                )],
            },
            Case {
                reason: "a tag added by hand to a user is removed",
                edit: |_, live| {
                    live.users
                        .get_mut("uploader")
                        .unwrap()
                        .tags
                        .insert("owner".to_owned(), "alice".to_owned());
                },
                expected: vec![step(
                    Change::new(ChangeKind::Update, "user/uploader").field(
                        "tags.owner",
                        "alice",
                        Value::Null,
                    ),
                    Action::RetagUser {
                        user: "uploader".to_owned(),
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
        for case in cases() {
            let mut desired = desired();
            let mut live = converged();
            (case.edit)(&mut desired, &mut live);

            let plan = diff(&desired, &tagger(), &live);

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
    fn missing_stack_is_created_in_order() {
        let plan = diff(&desired(), &tagger(), &IamLive::default());
        assert_eq!(
            actions(&plan),
            [
                Action::CreateRole("task".to_owned()),
                Action::AttachPolicy {
                    principal: task(),
                    arn: TASK_EXECUTION_POLICY.to_owned(),
                },
                Action::PutPolicy {
                    principal: task(),
                    policy: "app-buckets".to_owned(),
                },
                Action::CreateRole("instance".to_owned()),
                Action::CreateInstanceProfile("instance".to_owned()),
                Action::SetInstanceProfileRole {
                    role: "instance".to_owned(),
                    remove: Vec::new(),
                    add: true,
                },
                Action::CreateUser("uploader".to_owned()),
                Action::PutPolicy {
                    principal: Principal::User("uploader".to_owned()),
                    policy: "upload".to_owned(),
                },
            ]
        );
        assert!(
            plan.iter()
                .all(|step| step.change.kind == ChangeKind::Create)
        );
    }

    #[test]
    fn profile_of_foreign_role_is_not_planned() {
        let mut live = converged();
        role(&mut live, "instance").tags.clear();
        live.instance_profiles.clear();
        let plan = diff(&desired(), &tagger(), &live);
        assert!(
            matches!(actions(&plan).as_slice(), [Action::Refuse(_)]),
            "{:?}",
            actions(&plan)
        );
    }

    #[test]
    fn other_role_in_profile_is_replaced() {
        let mut live = converged();
        live.instance_profiles.get_mut("instance").unwrap().roles = vec!["intruder".to_owned()];
        let plan = diff(&desired(), &tagger(), &live);
        assert_eq!(
            actions(&plan),
            [Action::SetInstanceProfileRole {
                role: "instance".to_owned(),
                remove: vec!["intruder".to_owned()],
                add: true,
            }]
        );
    }
}
