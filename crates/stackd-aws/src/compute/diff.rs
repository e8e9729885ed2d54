//! The pure diff of the compute resources: launch templates, Auto Scaling groups,
//! capacity providers, clusters, and the deletion of the ones that left the file.

use super::delete::Deletion;
use super::{
    ComputeContext, ComputeLive, LiveAutoScalingGroup, Resolved, StrategyItem, TemplateData, ids,
};
use crate::tags::{TagDelta, Tagger};
use serde_json::{Value, json};
use stackd_engine::{Change, ChangeKind, Planned, UNKNOWN_UNTIL_APPLIED};
use stackd_spec::model::{
    Ami, AutoScalingGroup, AutoScalingGroupAttribute, CapacityProvider, Cluster, Compute,
    LaunchTemplate, SpotAllocationStrategy,
};
use std::collections::{BTreeMap, BTreeSet};

/// The metadata option that stackd sets on every launch template: instances answer
/// IMDSv2 requests only, which carry a session token.
pub(crate) const HTTP_TOKENS: &str = "required";

/// One step of an apply. Resources of the file are named by their id in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    CreateLaunchTemplate(String),
    /// Creates a version with every field of the file and makes it the default.
    CreateLaunchTemplateVersion(String),
    /// Makes an existing version that matches the file the default, such as the one
    /// that a create whose response was lost left behind.
    SetDefaultVersion {
        template: String,
        version: i64,
    },
    RetagLaunchTemplate {
        template_id: String,
        delta: TagDelta,
    },
    CreateAutoScalingGroup(String),
    /// Sets every managed field of the file, except the ignored ones, in one call.
    UpdateAutoScalingGroup(String),
    RetagAutoScalingGroup {
        name: String,
        delta: TagDelta,
    },
    CreateCapacityProvider(String),
    UpdateCapacityProvider(String),
    CreateCluster(String),
    /// Sets a cluster's capacity providers and default strategy.
    PutClusterCapacityProviders(String),
    RetagEcs {
        arn: String,
        delta: TagDelta,
    },
    /// One step of deleting what left the file, run by `delete::run_deletions`.
    Delete(Deletion),
    /// A change that AWS can only make by replacing a resource, refused at apply.
    Refuse(String),
}

/// Returns the user data that makes an instance join `cluster`, as the ECS-optimised
/// AMIs read it from `/etc/ecs/ecs.config`.
pub(crate) fn user_data(cluster: &str) -> String {
    format!("#!/bin/bash\necho ECS_CLUSTER={cluster} >> /etc/ecs/ecs.config\n")
}

/// Returns the image id of a launch template: an AMI id, or the SSM parameter that
/// EC2 resolves at each launch.
pub(crate) fn image_id(ami: &Ami) -> String {
    match ami {
        Ami::SsmParameter(parameter) => format!("resolve:ssm:{parameter}"),
        Ami::Id(id) => id.clone(),
    }
}

pub(crate) fn allocation_strategy(strategy: SpotAllocationStrategy) -> &'static str {
    match strategy {
        SpotAllocationStrategy::PriceCapacityOptimized => "price-capacity-optimized",
        SpotAllocationStrategy::CapacityOptimized => "capacity-optimized",
        SpotAllocationStrategy::CapacityOptimizedPrioritized => "capacity-optimized-prioritized",
        SpotAllocationStrategy::LowestPrice => "lowest-price",
    }
}

/// Builds the launch template data of the file. The second value is false while a
/// security group does not exist yet, so its id is missing from the data.
pub(crate) fn desired_template_data(
    desired: &Compute,
    template: &LaunchTemplate,
    context: &ComputeContext,
    resolved: &Resolved,
) -> (TemplateData, bool) {
    let security_group_ids: BTreeSet<String> = template
        .security_groups
        .iter()
        .filter_map(|group| resolved.security_groups.get(group).cloned())
        .collect();
    let complete = security_group_ids.len() == template.security_groups.len();
    let cluster = template.cluster.as_ref().and_then(|id| {
        desired
            .clusters
            .iter()
            .find(|cluster| &cluster.id == id)
            .map(|cluster| cluster.name.as_str())
    });
    let data = TemplateData {
        image_id: Some(image_id(&template.ami)),
        instance_type: Some(template.instance_type.clone()),
        instance_profile: template
            .instance_profile
            .as_ref()
            .and_then(|role| context.instance_profile_names.get(role).cloned()),
        security_group_ids,
        user_data: cluster.map(user_data),
        http_tokens: Some(HTTP_TOKENS.to_owned()),
    };
    (data, complete)
}

/// Lists the fields of launch template data in the plan's form.
fn template_fields(data: &TemplateData, complete: bool) -> Vec<(&'static str, Value)> {
    vec![
        ("imageId", json!(data.image_id)),
        ("instanceType", json!(data.instance_type)),
        ("instanceProfile", json!(data.instance_profile)),
        (
            "securityGroups",
            if complete {
                json!(data.security_group_ids)
            } else {
                json!(UNKNOWN_UNTIL_APPLIED)
            },
        ),
        ("userData", json!(data.user_data)),
        ("metadataOptions.httpTokens", json!(data.http_tokens)),
    ]
}

/// The launch template version that an Auto Scaling group should use, as planned.
#[derive(Debug, Clone, PartialEq, Eq)]
enum PlannedVersion {
    /// The template and version exist: its id and number.
    Known(String, i64),
    /// The apply creates a version of the template with this id.
    NewVersion(String),
    /// The apply creates the template.
    NewTemplate,
}

/// Plans the steps that bring the compute resources to the file, in the order apply
/// runs them, followed by the deletions of what left the file.
pub(crate) fn diff(
    desired: &Compute,
    context: &ComputeContext,
    tagger: &Tagger,
    resolved: &Resolved,
    live: &ComputeLive,
) -> Vec<Planned<Action>> {
    let mut plan = Vec::new();
    let mut versions = BTreeMap::new();
    for template in &desired.launch_templates {
        let version = diff_launch_template(
            desired, template, context, tagger, resolved, live, &mut plan,
        );
        versions.insert(template.id.clone(), version);
    }
    for group in &desired.auto_scaling_groups {
        diff_auto_scaling_group(group, tagger, resolved, &versions, live, &mut plan);
    }
    for provider in &desired.capacity_providers {
        diff_capacity_provider(provider, tagger, live, &mut plan);
    }
    for cluster in &desired.clusters {
        diff_cluster(desired, cluster, tagger, live, &mut plan);
    }
    diff_leftovers(desired, live, &mut plan);
    plan
}

fn retag_change(
    logical_id: &str,
    live: &BTreeMap<String, String>,
    desired: &BTreeMap<String, String>,
) -> Option<(Change, TagDelta)> {
    let delta = TagDelta::between(live, desired);
    if delta.is_empty() {
        return None;
    }
    let mut change = Change::new(ChangeKind::Update, logical_id);
    for (key, value) in &delta.set {
        change.push_if_differs(format!("tags.{key}"), json!(live.get(key)), value.as_str());
    }
    for key in &delta.remove {
        change.push_if_differs(format!("tags.{key}"), json!(live.get(key)), Value::Null);
    }
    Some((change, delta))
}

fn diff_launch_template(
    desired: &Compute,
    template: &LaunchTemplate,
    context: &ComputeContext,
    tagger: &Tagger,
    resolved: &Resolved,
    live: &ComputeLive,
    plan: &mut Vec<Planned<Action>>,
) -> PlannedVersion {
    let logical_id = ids::launch_template(&template.id);
    let tags = tagger.desired(&logical_id, &template.name);
    let (data, complete) = desired_template_data(desired, template, context, resolved);
    let Some(found) = live.launch_templates.get(&logical_id) else {
        let mut change = Change::new(ChangeKind::Create, &logical_id).field(
            "name",
            Value::Null,
            template.name.as_str(),
        );
        for (path, value) in template_fields(&data, complete) {
            change = change.field(path, Value::Null, value);
        }
        plan.push(Planned {
            change: change.field("tags", Value::Null, json!(tags)),
            action: Action::CreateLaunchTemplate(template.id.clone()),
        });
        return PlannedVersion::NewTemplate;
    };

    let version = if complete && found.default_data == data {
        PlannedVersion::Known(found.id.clone(), found.default_version)
    } else if complete && found.latest_version != found.default_version && found.latest_data == data
    {
        plan.push(Planned {
            change: Change::new(ChangeKind::Update, &logical_id).field(
                "defaultVersion",
                found.default_version,
                found.latest_version,
            ),
            action: Action::SetDefaultVersion {
                template: template.id.clone(),
                version: found.latest_version,
            },
        });
        PlannedVersion::Known(found.id.clone(), found.latest_version)
    } else {
        let mut change = Change::new(ChangeKind::Update, &logical_id);
        let live_fields = template_fields(&found.default_data, true);
        for ((path, wanted), (_, current)) in template_fields(&data, complete)
            .into_iter()
            .zip(live_fields)
        {
            change.push_if_differs(path, current, wanted);
        }
        change = change.field(
            "defaultVersion",
            found.default_version,
            UNKNOWN_UNTIL_APPLIED,
        );
        plan.push(Planned {
            change,
            action: Action::CreateLaunchTemplateVersion(template.id.clone()),
        });
        PlannedVersion::NewVersion(found.id.clone())
    };
    if let Some((change, delta)) = retag_change(&logical_id, &found.tags, &tags) {
        plan.push(Planned {
            change,
            action: Action::RetagLaunchTemplate {
                template_id: found.id.clone(),
                delta,
            },
        });
    }
    version
}

/// Lists the managed fields of an Auto Scaling group as the plan shows them: first
/// the file's, then the live group's. Ignored fields and fields that the file leaves
/// to AWS are left out of both.
fn group_fields(
    desired: &AutoScalingGroup,
    resolved: &Resolved,
    version: &PlannedVersion,
    found: Option<&LiveAutoScalingGroup>,
) -> Vec<(&'static str, Value, Value)> {
    let ignored =
        |attribute: AutoScalingGroupAttribute| desired.ignore_changes.contains(&attribute);
    let mut fields = Vec::new();
    let mut push = |path: &'static str, wanted: Value, current: Value| {
        fields.push((path, wanted, current));
    };

    let (template_id, template_version) = match version {
        PlannedVersion::Known(id, number) => (json!(id), json!(number.to_string())),
        PlannedVersion::NewVersion(id) => (json!(id), json!(UNKNOWN_UNTIL_APPLIED)),
        PlannedVersion::NewTemplate => (json!(UNKNOWN_UNTIL_APPLIED), json!(UNKNOWN_UNTIL_APPLIED)),
    };
    let live_template = found.and_then(|group| group.launch_template.as_ref());
    push(
        "launchTemplate.id",
        template_id,
        json!(live_template.map(|(id, _)| id)),
    );
    push(
        "launchTemplate.version",
        template_version,
        json!(live_template.map(|(_, version)| version)),
    );
    if !ignored(AutoScalingGroupAttribute::MinSize) {
        push(
            "minSize",
            json!(desired.min_size),
            json!(found.map(|group| group.min_size)),
        );
    }
    if !ignored(AutoScalingGroupAttribute::MaxSize) {
        push(
            "maxSize",
            json!(desired.max_size),
            json!(found.map(|group| group.max_size)),
        );
    }
    if let Some(capacity) = desired.desired_capacity
        && !ignored(AutoScalingGroupAttribute::DesiredCapacity)
    {
        push(
            "desiredCapacity",
            json!(capacity),
            json!(found.map(|group| group.desired_capacity)),
        );
    }
    let subnets: BTreeSet<&String> = desired
        .subnets
        .iter()
        .filter_map(|subnet| resolved.subnets.get(subnet))
        .collect();
    let subnets = if subnets.len() == desired.subnets.len() {
        json!(subnets)
    } else {
        json!(UNKNOWN_UNTIL_APPLIED)
    };
    push(
        "subnets",
        subnets,
        json!(found.map(|group| &group.subnet_ids)),
    );
    match &desired.spot {
        Some(spot) => {
            push(
                "spot.instanceTypes",
                json!(spot.instance_types),
                json!(found.map(|group| &group.instance_types)),
            );
            push(
                "spot.onDemandBaseCapacity",
                json!(spot.on_demand_base_capacity),
                json!(found.and_then(|group| group.on_demand_base_capacity)),
            );
            push(
                "spot.onDemandPercentageAboveBaseCapacity",
                json!(spot.on_demand_percentage_above_base_capacity),
                json!(found.and_then(|group| group.on_demand_percentage_above_base_capacity)),
            );
            push(
                "spot.allocationStrategy",
                json!(allocation_strategy(spot.allocation_strategy)),
                json!(found.and_then(|group| group.spot_allocation_strategy.as_ref())),
            );
        }
        None => push(
            "spot",
            Value::Null,
            json!(
                found
                    .map(|group| group.mixed)
                    .and_then(|mixed| mixed.then_some("mixed instances policy"))
            ),
        ),
    }
    push(
        "newInstancesProtectedFromScaleIn",
        json!(desired.new_instances_protected_from_scale_in),
        json!(found.map(|group| group.new_instances_protected_from_scale_in)),
    );
    fields
}

fn diff_auto_scaling_group(
    desired: &AutoScalingGroup,
    tagger: &Tagger,
    resolved: &Resolved,
    versions: &BTreeMap<String, PlannedVersion>,
    live: &ComputeLive,
    plan: &mut Vec<Planned<Action>>,
) {
    let logical_id = ids::auto_scaling_group(&desired.id);
    let tags = tagger.desired(&logical_id, &desired.name);
    let version = versions
        .get(&desired.launch_template)
        .cloned()
        .unwrap_or(PlannedVersion::NewTemplate);
    let found = live.auto_scaling_groups.get(&logical_id);
    let fields = group_fields(desired, resolved, &version, found);
    let Some(found) = found else {
        let mut change = Change::new(ChangeKind::Create, &logical_id).field(
            "name",
            Value::Null,
            desired.name.as_str(),
        );
        for (path, wanted, _) in fields {
            if !wanted.is_null() {
                change = change.field(path, Value::Null, wanted);
            }
        }
        // An ignored desired capacity is still set when the group is created.
        if let Some(capacity) = desired.desired_capacity
            && desired
                .ignore_changes
                .contains(&AutoScalingGroupAttribute::DesiredCapacity)
        {
            change = change.field("desiredCapacity", Value::Null, capacity);
        }
        plan.push(Planned {
            change: change.field("tags", Value::Null, json!(tags)),
            action: Action::CreateAutoScalingGroup(desired.id.clone()),
        });
        return;
    };

    let mut change = Change::new(ChangeKind::Update, &logical_id);
    for (path, wanted, current) in fields {
        change.push_if_differs(path, current, wanted);
    }
    if !change.fields.is_empty() {
        plan.push(Planned {
            change,
            action: Action::UpdateAutoScalingGroup(desired.id.clone()),
        });
    }
    if let Some((change, delta)) = retag_change(&logical_id, &found.tags, &tags) {
        plan.push(Planned {
            change,
            action: Action::RetagAutoScalingGroup {
                name: found.name.clone(),
                delta,
            },
        });
    }
}

fn diff_capacity_provider(
    desired: &CapacityProvider,
    tagger: &Tagger,
    live: &ComputeLive,
    plan: &mut Vec<Planned<Action>>,
) {
    let logical_id = ids::capacity_provider(&desired.id);
    let tags = tagger.desired(&logical_id, &desired.name);
    let group_arn = live
        .auto_scaling_groups
        .get(&ids::auto_scaling_group(&desired.auto_scaling_group))
        .map(|group| group.arn.as_str());
    let scaling = desired.managed_scaling.as_ref();
    let wanted: Vec<(&str, Value)> = vec![
        (
            "managedScaling.status",
            json!(if scaling.is_some() {
                "ENABLED"
            } else {
                "DISABLED"
            }),
        ),
        (
            "managedScaling.targetCapacity",
            json!(scaling.map(|scaling| scaling.target_capacity)),
        ),
        (
            "managedScaling.minimumScalingStepSize",
            json!(scaling.map(|scaling| scaling.minimum_scaling_step_size)),
        ),
        (
            "managedScaling.maximumScalingStepSize",
            json!(scaling.map(|scaling| scaling.maximum_scaling_step_size)),
        ),
        (
            "managedScaling.instanceWarmupPeriod",
            json!(scaling.and_then(|scaling| scaling.instance_warmup_period)),
        ),
        (
            "managedTerminationProtection",
            json!(if desired.managed_termination_protection {
                "ENABLED"
            } else {
                "DISABLED"
            }),
        ),
    ];
    let Some(found) = live.capacity_providers.get(&logical_id) else {
        let mut change = Change::new(ChangeKind::Create, &logical_id)
            .field("name", Value::Null, desired.name.as_str())
            .field(
                "autoScalingGroup",
                Value::Null,
                ids::auto_scaling_group(&desired.auto_scaling_group),
            );
        for (path, value) in wanted {
            if !value.is_null() {
                change = change.field(path, Value::Null, value);
            }
        }
        plan.push(Planned {
            change: change.field("tags", Value::Null, json!(tags)),
            action: Action::CreateCapacityProvider(desired.id.clone()),
        });
        return;
    };

    if let Some(arn) = group_arn
        && arn != found.auto_scaling_group_arn
    {
        plan.push(Planned {
            change: Change::new(ChangeKind::Replace, &logical_id).field(
                "autoScalingGroup",
                found.auto_scaling_group_arn.as_str(),
                arn,
            ),
            action: Action::Refuse(format!(
                "{logical_id}: ECS cannot move a capacity provider to another Auto Scaling group; \
                 replacing it means deleting it, which stackd never does without explicit permission"
            )),
        });
    }

    let current = &found.managed_scaling;
    let live_values = [
        json!(if current.enabled {
            "ENABLED"
        } else {
            "DISABLED"
        }),
        json!(current.target_capacity),
        json!(current.minimum_scaling_step_size),
        json!(current.maximum_scaling_step_size),
        json!(current.instance_warmup_period),
        json!(if found.managed_termination_protection {
            "ENABLED"
        } else {
            "DISABLED"
        }),
    ];
    let mut change = Change::new(ChangeKind::Update, &logical_id);
    for ((path, value), current) in wanted.into_iter().zip(live_values) {
        // A field that the file leaves out keeps the value that ECS chose.
        if value.is_null() {
            continue;
        }
        change.push_if_differs(path, current, value);
    }
    if !change.fields.is_empty() {
        plan.push(Planned {
            change,
            action: Action::UpdateCapacityProvider(desired.id.clone()),
        });
    }
    if let Some((change, delta)) = retag_change(&logical_id, &found.tags, &tags) {
        plan.push(Planned {
            change,
            action: Action::RetagEcs {
                arn: found.arn.clone(),
                delta,
            },
        });
    }
}

/// Returns the names of a cluster's capacity providers and its default strategy,
/// sorted as observe sorts them.
pub(crate) fn desired_cluster_providers(
    desired: &Compute,
    cluster: &Cluster,
) -> (BTreeSet<String>, Vec<StrategyItem>) {
    let name = |id: &str| {
        desired
            .capacity_providers
            .iter()
            .find(|provider| provider.id == id)
            .map_or_else(|| id.to_owned(), |provider| provider.name.clone())
    };
    let providers = cluster
        .capacity_providers
        .iter()
        .map(|id| name(id))
        .collect();
    let mut strategy: Vec<StrategyItem> = cluster
        .default_strategy
        .iter()
        .map(|item| StrategyItem {
            capacity_provider: name(&item.capacity_provider),
            weight: item.weight,
            base: item.base,
        })
        .collect();
    strategy.sort();
    (providers, strategy)
}

fn strategy_json(strategy: &[StrategyItem]) -> Value {
    json!(
        strategy
            .iter()
            .map(|item| json!({
                "capacityProvider": item.capacity_provider,
                "weight": item.weight,
                "base": item.base,
            }))
            .collect::<Vec<_>>()
    )
}

fn diff_cluster(
    desired: &Compute,
    cluster: &Cluster,
    tagger: &Tagger,
    live: &ComputeLive,
    plan: &mut Vec<Planned<Action>>,
) {
    let logical_id = ids::cluster(&cluster.id);
    let tags = tagger.desired(&logical_id, &cluster.name);
    let (providers, strategy) = desired_cluster_providers(desired, cluster);
    let Some(found) = live.clusters.get(&logical_id) else {
        let change = Change::new(ChangeKind::Create, &logical_id)
            .field("name", Value::Null, cluster.name.as_str())
            .field("capacityProviders", Value::Null, json!(providers))
            .field("defaultStrategy", Value::Null, strategy_json(&strategy))
            .field("tags", Value::Null, json!(tags));
        plan.push(Planned {
            change,
            action: Action::CreateCluster(cluster.id.clone()),
        });
        return;
    };

    let mut change = Change::new(ChangeKind::Update, &logical_id);
    change.push_if_differs(
        "capacityProviders",
        json!(found.capacity_providers),
        json!(providers),
    );
    change.push_if_differs(
        "defaultStrategy",
        strategy_json(&found.default_strategy),
        strategy_json(&strategy),
    );
    if !change.fields.is_empty() {
        plan.push(Planned {
            change,
            action: Action::PutClusterCapacityProviders(cluster.id.clone()),
        });
    }
    if let Some((change, delta)) = retag_change(&logical_id, &found.tags, &tags) {
        plan.push(Planned {
            change,
            action: Action::RetagEcs {
                arn: found.arn.clone(),
                delta,
            },
        });
    }
}

/// Plans the deletion of every tagged resource whose logical id left the file, in
/// the order that `delete::run_deletions` runs them.
fn diff_leftovers(desired: &Compute, live: &ComputeLive, plan: &mut Vec<Planned<Action>>) {
    let wanted = |ids: Vec<String>| -> BTreeSet<String> { ids.into_iter().collect() };
    let templates = wanted(
        desired
            .launch_templates
            .iter()
            .map(|template| ids::launch_template(&template.id))
            .collect(),
    );
    let groups = wanted(
        desired
            .auto_scaling_groups
            .iter()
            .map(|group| ids::auto_scaling_group(&group.id))
            .collect(),
    );
    let providers = wanted(
        desired
            .capacity_providers
            .iter()
            .map(|provider| ids::capacity_provider(&provider.id))
            .collect(),
    );
    let clusters = wanted(
        desired
            .clusters
            .iter()
            .map(|cluster| ids::cluster(&cluster.id))
            .collect(),
    );
    let delete = |logical_id: &str, name: &str| {
        Change::new(ChangeKind::Delete, logical_id).field("name", name, Value::Null)
    };

    for (logical_id, service) in &live.leftover_services {
        plan.push(Planned {
            change: delete(logical_id, &service.name).field(
                "desiredCount",
                service.desired_count,
                0,
            ),
            action: Action::Delete(Deletion::Service {
                cluster: service.cluster.clone(),
                name: service.name.clone(),
                desired_count: service.desired_count,
                draining: service.status == "DRAINING",
            }),
        });
    }
    for (logical_id, cluster) in &live.clusters {
        if clusters.contains(logical_id) || cluster.capacity_providers.is_empty() {
            continue;
        }
        // Detaching is the first step of deleting the cluster, so it needs the
        // same permission as the deletion.
        plan.push(Planned {
            change: Change::new(
                ChangeKind::Delete,
                format!("{logical_id}/capacity-providers"),
            )
            .field(
                "capacityProviders",
                json!(cluster.capacity_providers),
                json!([]),
            ),
            action: Action::Delete(Deletion::DetachCapacityProviders {
                cluster: cluster.name.clone(),
            }),
        });
    }
    for (logical_id, provider) in &live.capacity_providers {
        if providers.contains(logical_id) {
            continue;
        }
        plan.push(Planned {
            change: delete(logical_id, &provider.name),
            action: Action::Delete(Deletion::CapacityProvider {
                name: provider.name.clone(),
                deleting: provider.update_status.as_deref() == Some("DELETE_IN_PROGRESS"),
            }),
        });
    }
    for (logical_id, group) in &live.auto_scaling_groups {
        if groups.contains(logical_id) {
            continue;
        }
        plan.push(Planned {
            change: delete(logical_id, &group.name),
            action: Action::Delete(Deletion::AutoScalingGroup {
                name: group.name.clone(),
                deleting: group.status.is_some(),
            }),
        });
    }
    for (logical_id, template) in &live.launch_templates {
        if templates.contains(logical_id) {
            continue;
        }
        plan.push(Planned {
            change: delete(logical_id, &template.name),
            action: Action::Delete(Deletion::LaunchTemplate {
                id: template.id.clone(),
            }),
        });
    }
    for (logical_id, cluster) in &live.clusters {
        if clusters.contains(logical_id) {
            continue;
        }
        plan.push(Planned {
            change: delete(logical_id, &cluster.name),
            action: Action::Delete(Deletion::Cluster {
                name: cluster.name.clone(),
            }),
        });
    }
}

#[cfg(test)]
pub(super) fn live_template_for_tests(
    data: TemplateData,
    tags: BTreeMap<String, String>,
) -> super::LiveLaunchTemplate {
    super::LiveLaunchTemplate {
        id: "lt-1".to_owned(),
        name: "s-ecs-spot".to_owned(),
        default_version: 1,
        default_data: data.clone(),
        latest_version: 1,
        latest_data: data,
        tags,
    }
}
