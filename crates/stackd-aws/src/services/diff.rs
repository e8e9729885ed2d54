//! The pure diff of a service and its task definition.

use super::{
    LiveService, LiveTaskDefinition, Resolved, ServiceComponent, ServiceContext, ServiceLive, ids,
};
use crate::compute::StrategyItem;
use crate::json_diff::differences;
use crate::tags::{TagDelta, Tagger};
use serde_json::{Value, json};
use stackd_engine::{Change, ChangeKind, Planned, UNKNOWN_UNTIL_APPLIED};
use stackd_spec::model::Service;
use std::collections::BTreeMap;

/// One step of an apply, in the order the diff plans them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Registers a new revision of the family from the file, with its tags.
    RegisterTaskDefinition,
    /// Sets the tags of the latest revision, which is otherwise as the file wants it.
    RetagTaskDefinition {
        arn: String,
        delta: TagDelta,
    },
    CreateService,
    /// One UpdateService call that sets the fields named here.
    UpdateService(ServiceUpdate),
    RetagService {
        arn: String,
        delta: TagDelta,
    },
}

/// The fields that an UpdateService call sets. The others keep their live value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceUpdate {
    pub task_definition: bool,
    pub desired_count: bool,
    pub network: bool,
    pub capacity_provider_strategy: bool,
    pub load_balancers: bool,
}

impl ServiceUpdate {
    /// Returns whether the call needs forceNewDeployment: ECS starts a deployment
    /// for a new task definition, network configuration or load balancer, but
    /// not for a new capacity provider strategy, so the tasks would stay where
    /// they run until the next deployment.
    pub fn forces_deployment(&self) -> bool {
        self.capacity_provider_strategy
            && !(self.task_definition || self.network || self.load_balancers)
    }
}

/// Plans the steps that bring the task definition and the service to the file.
pub(crate) fn diff(
    desired: &Service,
    context: &ServiceContext,
    tagger: &Tagger,
    resolved: &Resolved,
    live: &ServiceLive,
) -> Vec<Planned<Action>> {
    let mut plan = Vec::new();
    let registers = diff_task_definition(desired, tagger, resolved, live, &mut plan);
    // The revision that the service must run: the live one, unless a new one is
    // registered first.
    let revision = match (&live.task_definition, registers) {
        (Some(definition), false) => definition.arn.clone(),
        _ => UNKNOWN_UNTIL_APPLIED.to_owned(),
    };
    diff_service(
        desired, context, tagger, resolved, live, &revision, &mut plan,
    );
    plan
}

/// Plans the task definition and returns whether a new revision is registered.
fn diff_task_definition(
    desired: &Service,
    tagger: &Tagger,
    resolved: &Resolved,
    live: &ServiceLive,
    plan: &mut Vec<Planned<Action>>,
) -> bool {
    let definition = &desired.task_definition;
    let logical_id = ids::task_definition(&desired.id);
    let tags = tagger.desired(&logical_id, &definition.family);
    let wanted = json!(resolved.task);
    let Some(found) = &live.task_definition else {
        let change = Change::new(ChangeKind::Create, &logical_id)
            .field("family", Value::Null, definition.family.as_str())
            .field("definition", Value::Null, wanted)
            .field("tags", Value::Null, json!(tags));
        plan.push(Planned {
            change,
            action: Action::RegisterTaskDefinition,
        });
        return true;
    };

    let fields = differences("definition", &json!(found.spec), &wanted);
    if !fields.is_empty() {
        // A new revision leaves the old one ACTIVE, so nothing is deleted.
        let mut change = Change::new(ChangeKind::Update, &logical_id);
        for field in fields {
            change.push_if_differs(field.path, field.live, field.desired);
        }
        change.push_if_differs("revision", found.revision, UNKNOWN_UNTIL_APPLIED);
        plan.push(Planned {
            change,
            action: Action::RegisterTaskDefinition,
        });
        return true;
    }
    retag(plan, &logical_id, found, &tags);
    false
}

fn retag(
    plan: &mut Vec<Planned<Action>>,
    logical_id: &str,
    found: &LiveTaskDefinition,
    desired: &BTreeMap<String, String>,
) {
    let delta = TagDelta::between(&found.tags, desired);
    if delta.is_empty() {
        return;
    }
    plan.push(Planned {
        change: tag_change(logical_id, &found.tags, &delta),
        action: Action::RetagTaskDefinition {
            arn: found.arn.clone(),
            delta,
        },
    });
}

fn tag_change(logical_id: &str, live: &BTreeMap<String, String>, delta: &TagDelta) -> Change {
    let mut change = Change::new(ChangeKind::Update, logical_id);
    for (key, value) in &delta.set {
        change.push_if_differs(format!("tags.{key}"), json!(live.get(key)), value.as_str());
    }
    for key in &delta.remove {
        change.push_if_differs(format!("tags.{key}"), json!(live.get(key)), Value::Null);
    }
    change
}

pub(crate) fn strategy_json(strategy: &[StrategyItem]) -> Value {
    Value::Array(
        strategy
            .iter()
            .map(|item| {
                json!({
                    "capacityProvider": item.capacity_provider,
                    "weight": item.weight,
                    "base": item.base,
                })
            })
            .collect(),
    )
}

/// Returns whether the live strategy is the one the file wants. A service created
/// without a strategy or launch type runs on the cluster's default strategy, which
/// ECS may report as an empty strategy, so that case is equal too.
fn strategy_matches(found: &LiveService, context: &ServiceContext) -> bool {
    if context.default_strategy.is_empty() {
        return true;
    }
    found.capacity_provider_strategy == context.default_strategy
        || (found.capacity_provider_strategy.is_empty() && found.launch_type.is_none())
}

fn diff_service(
    desired: &Service,
    context: &ServiceContext,
    tagger: &Tagger,
    resolved: &Resolved,
    live: &ServiceLive,
    revision: &str,
    plan: &mut Vec<Planned<Action>>,
) {
    let logical_id = ids::service(&desired.id);
    let tags = tagger.desired(&logical_id, &desired.name);
    let wanted_balancers: Vec<Value> = resolved.load_balancer.iter().map(|b| json!(b)).collect();
    let Some(found) = &live.service else {
        let change = Change::new(ChangeKind::Create, &logical_id)
            .field("name", Value::Null, desired.name.as_str())
            .field("cluster", Value::Null, context.cluster_name.as_str())
            .field("taskDefinition", Value::Null, revision)
            .field("desiredCount", Value::Null, desired.desired_count)
            .field(
                "capacityProviderStrategy",
                Value::Null,
                strategy_json(&context.default_strategy),
            )
            .field("networkConfiguration", Value::Null, json!(resolved.network))
            .field("loadBalancers", Value::Null, json!(wanted_balancers))
            .field("tags", Value::Null, json!(tags));
        plan.push(Planned {
            change,
            action: Action::CreateService,
        });
        return;
    };
    // A DRAINING service was deleted and cannot be updated; readiness reports it,
    // and the next pass after it turns INACTIVE creates it again.
    if found.status != super::ACTIVE {
        return;
    }

    let mut change = Change::new(ChangeKind::Update, &logical_id);
    let update = ServiceUpdate {
        task_definition: change.push_if_differs(
            "taskDefinition",
            found.task_definition.as_str(),
            revision,
        ),
        desired_count: !ServiceComponent::count_ignored(desired)
            && change.push_if_differs("desiredCount", found.desired_count, desired.desired_count),
        network: {
            let live_network = json!(found.network.clone().unwrap_or_default());
            let fields = differences(
                "networkConfiguration",
                &live_network,
                &json!(resolved.network),
            );
            let differs = !fields.is_empty();
            for field in fields {
                change.push_if_differs(field.path, field.live, field.desired);
            }
            differs
        },
        capacity_provider_strategy: !strategy_matches(found, context)
            && change.push_if_differs(
                "capacityProviderStrategy",
                strategy_json(&found.capacity_provider_strategy),
                strategy_json(&context.default_strategy),
            ),
        load_balancers: change.push_if_differs(
            "loadBalancers",
            json!(found.load_balancers),
            json!(wanted_balancers),
        ),
    };
    if !change.fields.is_empty() {
        plan.push(Planned {
            change,
            action: Action::UpdateService(update),
        });
    }

    let delta = TagDelta::between(&found.tags, &tags);
    if !delta.is_empty() {
        plan.push(Planned {
            change: tag_change(&logical_id, &found.tags, &delta),
            action: Action::RetagService {
                arn: found.arn.clone(),
                delta,
            },
        });
    }
}
