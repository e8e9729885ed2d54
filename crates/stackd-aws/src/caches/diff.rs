//! The pure diff of a serverless cache: what differs, and the one call of this pass.

use super::{AVAILABLE, LiveCache, Placement};
use crate::tags::TagDelta;
use serde_json::{Value, json};
use stackd_engine::{Change, ChangeKind, Planned, UNKNOWN_UNTIL_APPLIED};
use stackd_spec::model::{CacheEngine, CacheUsageLimits, ServerlessCache};
use std::collections::{BTreeMap, BTreeSet};

/// One usage-limit field of a ModifyServerlessCache request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitField {
    DataStorageMaximum,
    DataStorageMinimum,
    EcpuPerSecondMaximum,
    EcpuPerSecondMinimum,
}

impl LimitField {
    /// Returns the field's path in the file, which plans show.
    pub fn path(self) -> &'static str {
        match self {
            LimitField::DataStorageMaximum => "limits.dataStorageMaxGb",
            LimitField::DataStorageMinimum => "limits.dataStorageMinGb",
            LimitField::EcpuPerSecondMaximum => "limits.ecpuPerSecondMax",
            LimitField::EcpuPerSecondMinimum => "limits.ecpuPerSecondMin",
        }
    }
}

/// The one field that a ModifyServerlessCache request changes. ElastiCache rejects
/// some requests that change several fields at once, and every request that changes
/// nothing, so stackd sends one changed field per request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Modification {
    SecurityGroups(BTreeSet<String>),
    /// A usage limit. `None` removes it, and the request sends that as an explicit 0.
    Limit(LimitField, Option<u32>),
    SnapshotRetentionLimit(u32),
    DailySnapshotTime(String),
    /// An upgrade of the major engine version.
    MajorVersion(String),
    /// An upgrade from Redis OSS to Valkey, which names the Valkey major version.
    Engine {
        engine: String,
        major_version: String,
    },
}

/// One step of an apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Creates the cache with its placement, limits, snapshot settings and tags.
    Create,
    /// Sends one ModifyServerlessCache request now.
    Modify(Modification),
    /// A modification left for a later pass, because ElastiCache takes one request
    /// at a time and only while the cache is `available`. The engine requeues while
    /// the diff still shows it.
    Queued(Modification),
    Retag(TagDelta),
    /// A change that AWS can only make by replacing the cache, refused at apply.
    Refuse(String),
}

// TODO: delete a cache that left the file unless its `retain` is true, once the
// engine prunes components that the file no longer names.

/// Plans the steps that bring the live cache to the file. `placement` contains the
/// AWS ids of the desired subnets and security groups that exist.
pub(crate) fn diff(
    desired: &ServerlessCache,
    logical: &str,
    tags: &BTreeMap<String, String>,
    placement: &Placement,
    live: Option<&LiveCache>,
) -> Vec<Planned<Action>> {
    let Some(found) = live else {
        return vec![Planned {
            change: created_change(desired, logical, tags),
            action: Action::Create,
        }];
    };

    if let Some(refusal) = replacement(desired, logical, placement, found) {
        return vec![refusal];
    }

    // Only the first modification that can be sent goes now, and only to an
    // available cache. The others wait for the next passes.
    let mut plan = Vec::new();
    let mut can_send = found.status == AVAILABLE;
    for (change, modification, sendable) in modifications(desired, logical, placement, found) {
        let action = if can_send && sendable {
            can_send = false;
            Action::Modify(modification)
        } else {
            Action::Queued(modification)
        };
        plan.push(Planned { change, action });
    }

    let delta = TagDelta::between(&found.tags, tags);
    if !delta.is_empty() {
        let mut change = Change::new(ChangeKind::Update, logical);
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
            action: Action::Retag(delta),
        });
    }
    plan
}

fn created_change(
    desired: &ServerlessCache,
    logical: &str,
    tags: &BTreeMap<String, String>,
) -> Change {
    let mut change = Change::new(ChangeKind::Create, logical)
        .field("name", Value::Null, desired.name.as_str())
        .field("engine", Value::Null, desired.engine.as_str())
        .field("majorVersion", Value::Null, desired.major_version.as_str())
        .field("subnets", Value::Null, json!(desired.subnets))
        .field(
            "securityGroups",
            Value::Null,
            json!(desired.security_groups),
        );
    for (field, value) in limit_values(&desired.limits) {
        if value.is_some() {
            change = change.field(field.path(), Value::Null, json!(value));
        }
    }
    if let Some(days) = desired.snapshot_retention_limit {
        change = change.field("snapshotRetentionLimit", Value::Null, days);
    }
    if let Some(time) = &desired.daily_snapshot_time {
        change = change.field("dailySnapshotTime", Value::Null, time.as_str());
    }
    change.field("tags", Value::Null, json!(tags))
}

/// Returns the refused replacement when the engine, a downgrade of the major
/// version or the subnets differ: ElastiCache changes none of them in place.
fn replacement(
    desired: &ServerlessCache,
    logical: &str,
    placement: &Placement,
    found: &LiveCache,
) -> Option<Planned<Action>> {
    let mut change = Change::new(ChangeKind::Replace, logical);
    let mut reasons = Vec::new();

    let engine = desired.engine.as_str();
    if found.engine != engine && !is_engine_upgrade(found, desired) {
        change.push_if_differs("engine", found.engine.as_str(), engine);
        reasons.push(format!(
            "ElastiCache cannot change a serverless cache's engine from {} to {engine} in place",
            found.engine
        ));
    }
    if found.engine == engine && is_downgrade(&found.major_version, &desired.major_version) {
        change.push_if_differs(
            "majorVersion",
            found.major_version.as_str(),
            desired.major_version.as_str(),
        );
        reasons.push(format!(
            "ElastiCache cannot downgrade a serverless cache's major engine version from {} to {}; \
             set majorVersion back to \"{}\"",
            found.major_version, desired.major_version, found.major_version
        ));
    }
    if !placement.subnets_complete || placement.subnets != found.subnet_ids {
        change.push_if_differs(
            "subnets",
            shown(&found.subnet_ids, true),
            shown(&placement.subnets, placement.subnets_complete),
        );
        reasons.push("ElastiCache cannot move a serverless cache to other subnets".to_owned());
    }

    if change.fields.is_empty() {
        return None;
    }
    let reason = format!(
        "{logical}: {}. Replacing the cache deletes it and its data, which stackd never does \
         without explicit permission",
        reasons.join("; ")
    );
    Some(Planned {
        change,
        action: Action::Refuse(reason),
    })
}

/// Lists the fields to modify, in the order they are sent, each with its change and
/// whether it can be sent in this pass.
fn modifications(
    desired: &ServerlessCache,
    logical: &str,
    placement: &Placement,
    found: &LiveCache,
) -> Vec<(Change, Modification, bool)> {
    let update = || Change::new(ChangeKind::Update, logical);
    let mut steps = Vec::new();

    // A file without security groups leaves the VPC's default group that AWS
    // assigns, because ModifyServerlessCache cannot take an empty list.
    let groups_differ = !placement.security_groups_complete
        || placement.security_groups != found.security_group_ids;
    if !desired.security_groups.is_empty() && groups_differ {
        steps.push((
            update().field(
                "securityGroups",
                shown(&found.security_group_ids, true),
                shown(
                    &placement.security_groups,
                    placement.security_groups_complete,
                ),
            ),
            Modification::SecurityGroups(placement.security_groups.clone()),
            // A group that does not exist yet is sent once it does.
            placement.security_groups_complete,
        ));
    }

    for (field, live, wanted) in limit_steps(&found.limits, &desired.limits) {
        steps.push((
            update().field(field.path(), json!(live), json!(wanted)),
            Modification::Limit(field, wanted),
            true,
        ));
    }

    if let Some(days) = desired.snapshot_retention_limit
        && found.snapshot_retention_limit != Some(days)
    {
        steps.push((
            update().field(
                "snapshotRetentionLimit",
                json!(found.snapshot_retention_limit),
                days,
            ),
            Modification::SnapshotRetentionLimit(days),
            true,
        ));
    }
    if let Some(time) = &desired.daily_snapshot_time
        && found.daily_snapshot_time.as_ref() != Some(time)
    {
        steps.push((
            update().field(
                "dailySnapshotTime",
                json!(found.daily_snapshot_time),
                time.as_str(),
            ),
            Modification::DailySnapshotTime(time.clone()),
            true,
        ));
    }

    if is_engine_upgrade(found, desired) {
        steps.push((
            update()
                .field("engine", found.engine.as_str(), desired.engine.as_str())
                .field(
                    "majorVersion",
                    found.major_version.as_str(),
                    desired.major_version.as_str(),
                ),
            Modification::Engine {
                engine: desired.engine.as_str().to_owned(),
                major_version: desired.major_version.clone(),
            },
            true,
        ));
    } else if found.major_version != desired.major_version {
        steps.push((
            update().field(
                "majorVersion",
                found.major_version.as_str(),
                desired.major_version.as_str(),
            ),
            Modification::MajorVersion(desired.major_version.clone()),
            true,
        ));
    }
    steps
}

/// Returns the usage-limit fields that differ as (field, live, desired), in an
/// order that keeps every minimum at most its maximum after each request.
fn limit_steps(
    live: &CacheUsageLimits,
    desired: &CacheUsageLimits,
) -> Vec<(LimitField, Option<u32>, Option<u32>)> {
    let live_values = limit_values(live);
    let desired_values = limit_values(desired);
    let mut steps = Vec::new();
    // Each dimension is a (maximum, minimum) pair of indexes into the arrays.
    for (maximum, minimum) in [(0, 1), (2, 3)] {
        let step = |index: usize| {
            let (field, live) = live_values[index];
            let wanted = desired_values[index].1;
            (live != wanted).then_some((field, live, wanted))
        };
        // The new maximum goes first unless it is below the live minimum.
        if within(live_values[minimum].1, desired_values[maximum].1) {
            steps.extend(step(maximum));
            steps.extend(step(minimum));
        } else {
            steps.extend(step(minimum));
            steps.extend(step(maximum));
        }
    }
    steps
}

/// Lists the four usage-limit fields with their values, maximum before minimum.
fn limit_values(limits: &CacheUsageLimits) -> [(LimitField, Option<u32>); 4] {
    [
        (LimitField::DataStorageMaximum, limits.data_storage_max_gb),
        (LimitField::DataStorageMinimum, limits.data_storage_min_gb),
        (LimitField::EcpuPerSecondMaximum, limits.ecpu_per_second_max),
        (LimitField::EcpuPerSecondMinimum, limits.ecpu_per_second_min),
    ]
}

fn within(minimum: Option<u32>, maximum: Option<u32>) -> bool {
    match (minimum, maximum) {
        (Some(minimum), Some(maximum)) => minimum <= maximum,
        _ => true,
    }
}

/// ElastiCache upgrades a Redis OSS cache to Valkey in place; no other engine
/// change is possible.
fn is_engine_upgrade(found: &LiveCache, desired: &ServerlessCache) -> bool {
    found.engine == CacheEngine::Redis.as_str() && desired.engine == CacheEngine::Valkey
}

/// Returns whether `desired` is a lower version than `live`, comparing the numbers
/// between the dots. A version that is not all numbers compares as no downgrade,
/// and AWS then judges the request.
pub(crate) fn is_downgrade(live: &str, desired: &str) -> bool {
    let numbers = |version: &str| -> Option<Vec<u32>> {
        version.split('.').map(|part| part.parse().ok()).collect()
    };
    match (numbers(live), numbers(desired)) {
        (Some(live), Some(desired)) => desired < live,
        _ => false,
    }
}

/// Shows a set of ids, with the unknown marker when some id does not exist yet.
fn shown(ids: &BTreeSet<String>, complete: bool) -> Value {
    let mut list: Vec<Value> = ids.iter().map(|id| json!(id)).collect();
    if !complete {
        list.push(json!(UNKNOWN_UNTIL_APPLIED));
    }
    Value::Array(list)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOGICAL: &str = "cache/main";

    fn set(ids: &[&str]) -> BTreeSet<String> {
        ids.iter().map(|id| id.to_string()).collect()
    }

    fn tags() -> BTreeMap<String, String> {
        BTreeMap::from([
            ("Name".to_owned(), "beezyup-prod-c01".to_owned()),
            ("stackd:id".to_owned(), LOGICAL.to_owned()),
            ("stackd:stack".to_owned(), "s".to_owned()),
        ])
    }

    fn desired() -> ServerlessCache {
        ServerlessCache {
            id: "main".to_owned(),
            name: "beezyup-prod-c01".to_owned(),
            engine: CacheEngine::Valkey,
            major_version: "8".to_owned(),
            subnets: vec!["private-a".to_owned(), "private-b".to_owned()],
            security_groups: vec!["cache".to_owned()],
            limits: CacheUsageLimits {
                data_storage_max_gb: Some(5),
                data_storage_min_gb: None,
                ecpu_per_second_max: Some(5000),
                ecpu_per_second_min: None,
            },
            snapshot_retention_limit: None,
            daily_snapshot_time: None,
            retain: true,
            tags: BTreeMap::new(),
        }
    }

    fn placement() -> Placement {
        Placement {
            subnets: set(&["subnet-a", "subnet-b"]),
            subnets_complete: true,
            security_groups: set(&["sg-cache"]),
            security_groups_complete: true,
        }
    }

    fn converged() -> LiveCache {
        LiveCache {
            arn: "arn:aws:elasticache:eu-west-3:123456789012:serverlesscache:beezyup-prod-c01"
                .to_owned(),
            status: "available".to_owned(),
            engine: "valkey".to_owned(),
            major_version: "8".to_owned(),
            subnet_ids: set(&["subnet-a", "subnet-b"]),
            security_group_ids: set(&["sg-cache"]),
            limits: desired().limits,
            snapshot_retention_limit: Some(1),
            daily_snapshot_time: Some("03:00".to_owned()),
            endpoint: Some((
                "beezyup-prod-c01-abc123.serverless.euw3.cache.amazonaws.com".to_owned(),
                6379,
            )),
            tags: tags(),
        }
    }

    fn update(field: &str, live: impl Into<Value>, desired: impl Into<Value>) -> Change {
        Change::new(ChangeKind::Update, LOGICAL).field(field, live, desired)
    }

    fn step(change: Change, action: Action) -> Planned<Action> {
        Planned { change, action }
    }

    /// One drift scenario: an edit to the converged file or live state, and the
    /// exact plan it must produce.
    struct Case {
        reason: &'static str,
        edit: fn(&mut ServerlessCache, &mut LiveCache),
        expected: Vec<Planned<Action>>,
    }

    fn cases() -> Vec<Case> {
        vec![
            Case {
                reason: "a converged cache plans nothing",
                edit: |_, _| {},
                expected: vec![],
            },
            Case {
                reason: "a raised ECPU maximum is one Modify carrying only that field",
                edit: |desired, _| desired.limits.ecpu_per_second_max = Some(6000),
                expected: vec![step(
                    update("limits.ecpuPerSecondMax", 5000, 6000),
                    Action::Modify(Modification::Limit(
                        LimitField::EcpuPerSecondMaximum,
                        Some(6000),
                    )),
                )],
            },
            Case {
                reason: "two changed limits send the first now and queue the second",
                edit: |desired, _| {
                    desired.limits.data_storage_max_gb = Some(10);
                    desired.limits.ecpu_per_second_max = Some(6000);
                },
                expected: vec![
                    step(
                        update("limits.dataStorageMaxGb", 5, 10),
                        Action::Modify(Modification::Limit(
                            LimitField::DataStorageMaximum,
                            Some(10),
                        )),
                    ),
                    step(
                        update("limits.ecpuPerSecondMax", 5000, 6000),
                        Action::Queued(Modification::Limit(
                            LimitField::EcpuPerSecondMaximum,
                            Some(6000),
                        )),
                    ),
                ],
            },
            Case {
                reason: "the queued limit goes once the first completed",
                edit: |desired, live| {
                    desired.limits.data_storage_max_gb = Some(10);
                    desired.limits.ecpu_per_second_max = Some(6000);
                    live.limits.data_storage_max_gb = Some(10);
                },
                expected: vec![step(
                    update("limits.ecpuPerSecondMax", 5000, 6000),
                    Action::Modify(Modification::Limit(
                        LimitField::EcpuPerSecondMaximum,
                        Some(6000),
                    )),
                )],
            },
            Case {
                reason: "a limit removed from the file is reset explicitly",
                edit: |desired, _| desired.limits.ecpu_per_second_max = None,
                expected: vec![step(
                    update("limits.ecpuPerSecondMax", 5000, Value::Null),
                    Action::Modify(Modification::Limit(LimitField::EcpuPerSecondMaximum, None)),
                )],
            },
            Case {
                reason: "a maximum lowered below the live minimum goes after the minimum",
                edit: |desired, live| {
                    live.limits.data_storage_min_gb = Some(4);
                    desired.limits.data_storage_max_gb = Some(3);
                    desired.limits.data_storage_min_gb = Some(2);
                },
                expected: vec![
                    step(
                        update("limits.dataStorageMinGb", 4, 2),
                        Action::Modify(Modification::Limit(
                            LimitField::DataStorageMinimum,
                            Some(2),
                        )),
                    ),
                    step(
                        update("limits.dataStorageMaxGb", 5, 3),
                        Action::Queued(Modification::Limit(
                            LimitField::DataStorageMaximum,
                            Some(3),
                        )),
                    ),
                ],
            },
            Case {
                reason: "a modifying cache gets no Modify now",
                edit: |desired, live| {
                    live.status = "modifying".to_owned();
                    desired.limits.ecpu_per_second_max = Some(6000);
                },
                expected: vec![step(
                    update("limits.ecpuPerSecondMax", 5000, 6000),
                    Action::Queued(Modification::Limit(
                        LimitField::EcpuPerSecondMaximum,
                        Some(6000),
                    )),
                )],
            },
            Case {
                reason: "a major version downgrade is a refused replacement",
                edit: |desired, _| desired.major_version = "7".to_owned(),
                expected: vec![step(
                    Change::new(ChangeKind::Replace, LOGICAL).field("majorVersion", "8", "7"),
                    Action::Refuse(
                        "cache/main: ElastiCache cannot downgrade a serverless cache's major \
                         engine version from 8 to 7; set majorVersion back to \"8\". Replacing \
                         the cache deletes it and its data, which stackd never does without \
                         explicit permission"
                            .to_owned(),
                    ),
                )],
            },
            Case {
                reason: "a major version upgrade is one Modify",
                edit: |desired, live| {
                    live.major_version = "7".to_owned();
                    desired.major_version = "8".to_owned();
                },
                expected: vec![step(
                    update("majorVersion", "7", "8"),
                    Action::Modify(Modification::MajorVersion("8".to_owned())),
                )],
            },
            Case {
                reason: "a Redis OSS cache is upgraded to Valkey in place",
                edit: |_, live| {
                    live.engine = "redis".to_owned();
                    live.major_version = "7".to_owned();
                },
                expected: vec![step(
                    update("engine", "redis", "valkey").field("majorVersion", "7", "8"),
                    Action::Modify(Modification::Engine {
                        engine: "valkey".to_owned(),
                        major_version: "8".to_owned(),
                    }),
                )],
            },
            Case {
                reason: "another subnet is a refused replacement",
                edit: |_, live| {
                    live.subnet_ids = set(&["subnet-a", "subnet-c"]);
                },
                expected: vec![step(
                    Change::new(ChangeKind::Replace, LOGICAL).field(
                        "subnets",
                        json!(["subnet-a", "subnet-c"]),
                        json!(["subnet-a", "subnet-b"]),
                    ),
                    Action::Refuse(
                        "cache/main: ElastiCache cannot move a serverless cache to other \
                         subnets. Replacing the cache deletes it and its data, which stackd \
                         never does without explicit permission"
                            .to_owned(),
                    ),
                )],
            },
            Case {
                reason: "a security group swapped by hand is put back",
                edit: |_, live| live.security_group_ids = set(&["sg-default"]),
                expected: vec![step(
                    update("securityGroups", json!(["sg-default"]), json!(["sg-cache"])),
                    Action::Modify(Modification::SecurityGroups(set(&["sg-cache"]))),
                )],
            },
            Case {
                reason: "snapshot settings the file sets are modified one at a time",
                edit: |desired, _| {
                    desired.snapshot_retention_limit = Some(7);
                    desired.daily_snapshot_time = Some("04:30".to_owned());
                },
                expected: vec![
                    step(
                        update("snapshotRetentionLimit", 1, 7),
                        Action::Modify(Modification::SnapshotRetentionLimit(7)),
                    ),
                    step(
                        update("dailySnapshotTime", "03:00", "04:30"),
                        Action::Queued(Modification::DailySnapshotTime("04:30".to_owned())),
                    ),
                ],
            },
            Case {
                reason: "a tag added by hand is removed",
                edit: |_, live| {
                    live.tags.insert("owner".to_owned(), "alice".to_owned());
                },
                expected: vec![step(
                    update("tags.owner", "alice", Value::Null),
                    Action::Retag(TagDelta {
                        set: BTreeMap::new(),
                        remove: vec!["owner".to_owned()],
                    }),
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

            let plan = diff(&desired, LOGICAL, &tags(), &placement(), Some(&live));

            let actions: Vec<&Action> = plan.iter().map(|step| &step.action).collect();
            let expected_actions: Vec<&Action> =
                case.expected.iter().map(|step| &step.action).collect();
            assert_eq!(actions, expected_actions, "actions: {}", case.reason);
            let changes: Vec<&Change> = plan.iter().map(|step| &step.change).collect();
            let expected_changes: Vec<&Change> =
                case.expected.iter().map(|step| &step.change).collect();
            assert_eq!(changes, expected_changes, "changes: {}", case.reason);
        }
    }

    #[test]
    fn missing_cache_is_created() {
        let plan = diff(&desired(), LOGICAL, &tags(), &placement(), None);
        assert_eq!(plan.len(), 1);
        assert_eq!(plan[0].action, Action::Create);
        assert_eq!(plan[0].change.kind, ChangeKind::Create);
    }

    #[test]
    fn unknown_security_group_waits() {
        let mut placement = placement();
        placement.security_groups = BTreeSet::new();
        placement.security_groups_complete = false;
        let plan = diff(&desired(), LOGICAL, &tags(), &placement, Some(&converged()));
        assert_eq!(
            plan.iter().map(|step| &step.action).collect::<Vec<_>>(),
            [&Action::Queued(Modification::SecurityGroups(
                BTreeSet::new()
            ))]
        );
        assert_eq!(
            plan[0].change.fields[0].desired,
            json!([UNKNOWN_UNTIL_APPLIED])
        );
    }

    #[test]
    fn downgrade_compares_numbers() {
        assert!(is_downgrade("8", "7"));
        assert!(is_downgrade("10", "9"));
        assert!(!is_downgrade("7", "8"));
        assert!(!is_downgrade("8", "8"));
        assert!(is_downgrade("1.6", "1.5"));
        assert!(!is_downgrade("8", "eight"));
    }
}
