//! Carries out a compute plan in the order the diff planned it: launch templates,
//! Auto Scaling groups, capacity providers, clusters, then the deletions.

use super::delete::{Deletion, DeletionProgress, run_deletions};
use super::diff::{Action, HTTP_TOKENS, allocation_strategy, desired_cluster_providers, image_id};
use super::{ComputeContext, ComputeLive, Resolved, ids};
use crate::clients::AwsClients;
use crate::ec2::{tag_specification, update_tags};
use crate::tags::{TagDelta, Tagger};
use aws_sdk_autoscaling::operation::create_auto_scaling_group::CreateAutoScalingGroupError;
use aws_sdk_autoscaling::types::{
    InstancesDistribution, LaunchTemplate as GroupLaunchTemplate, LaunchTemplateOverrides,
    LaunchTemplateSpecification, MixedInstancesPolicy, Tag as GroupTag,
};
use aws_sdk_ec2::types::{
    LaunchTemplateHttpTokensState, LaunchTemplateIamInstanceProfileSpecificationRequest,
    LaunchTemplateInstanceMetadataOptionsRequest, RequestLaunchTemplateData, ResourceType,
};
use aws_sdk_ecs::types::{
    AutoScalingGroupProvider, AutoScalingGroupProviderUpdate, CapacityProviderStrategyItem,
    ManagedScaling, ManagedScalingStatus, ManagedTerminationProtection, Tag as EcsTag,
};
use stackd_engine::ComponentError;
use stackd_spec::model::{AutoScalingGroup, AutoScalingGroupAttribute, Compute, LaunchTemplate};
use std::collections::BTreeMap;

/// AWS ids learnt during the apply, beside the live ones: launch template id and
/// default version by template id, and Auto Scaling group ARN by group id.
struct Known {
    templates: BTreeMap<String, (String, i64)>,
    group_arns: BTreeMap<String, String>,
}

impl Known {
    fn from_live(desired: &Compute, live: &ComputeLive) -> Self {
        let mut templates = BTreeMap::new();
        for template in &desired.launch_templates {
            if let Some(found) = live
                .launch_templates
                .get(&ids::launch_template(&template.id))
            {
                templates.insert(
                    template.id.clone(),
                    (found.id.clone(), found.default_version),
                );
            }
        }
        let mut group_arns = BTreeMap::new();
        for group in &desired.auto_scaling_groups {
            if let Some(found) = live
                .auto_scaling_groups
                .get(&ids::auto_scaling_group(&group.id))
            {
                group_arns.insert(group.id.clone(), found.arn.clone());
            }
        }
        Known {
            templates,
            group_arns,
        }
    }
}

/// Everything an apply reads besides the actions.
pub(super) struct Target<'a> {
    pub clients: &'a AwsClients,
    pub desired: &'a Compute,
    pub context: &'a ComputeContext,
    pub tagger: &'a Tagger,
    pub resolved: &'a Resolved,
}

/// Runs the actions in order and stops at the first failed call. Refusals stop
/// nothing else: they are reported together once the rest has run. Deletions run
/// last, in the order that AWS accepts, and only those that the engine's
/// destruction gate let through reach this function.
pub(super) async fn apply(
    target: &Target<'_>,
    live: &ComputeLive,
    actions: Vec<Action>,
) -> Result<(), ComponentError> {
    let mut known = Known::from_live(target.desired, live);
    let mut refused = Vec::new();
    let mut deletions: Vec<Deletion> = Vec::new();
    for action in actions {
        match action {
            Action::Refuse(reason) => refused.push(reason),
            Action::Delete(step) => deletions.push(step),
            action => run(target, &mut known, action).await?,
        }
    }
    if !deletions.is_empty()
        && let DeletionProgress::Waiting(reason) = run_deletions(target.clients, &deletions).await?
    {
        // The resources are still live, so the next observe plans the rest again.
        tracing::info!(%reason, "deletion continues on a later pass");
    }
    if refused.is_empty() {
        Ok(())
    } else {
        Err(ComponentError::Blocked(refused.join("; ")))
    }
}

fn find<'a, T>(
    items: &'a [T],
    id: &str,
    kind: &str,
    id_of: impl Fn(&T) -> &str,
) -> Result<&'a T, ComponentError> {
    items
        .iter()
        .find(|item| id_of(item) == id)
        .ok_or_else(|| ComponentError::Unexpected(format!("{kind} {id} is not in the file")))
}

fn api_integer(value: u32) -> i32 {
    i32::try_from(value).unwrap_or(i32::MAX)
}

/// Builds the launch template data of the file, or fails while a security group or
/// the instance profile does not exist yet.
fn template_data(
    target: &Target<'_>,
    template: &LaunchTemplate,
) -> Result<RequestLaunchTemplateData, ComponentError> {
    let (data, complete) = super::diff::desired_template_data(
        target.desired,
        template,
        target.context,
        target.resolved,
    );
    let profile_missing = template
        .instance_profile
        .as_ref()
        .is_some_and(|role| !target.resolved.instance_profiles.contains_key(role));
    if !complete || profile_missing {
        return Err(ComponentError::Blocked(format!(
            "{} waits for its security groups and instance profile to exist",
            ids::launch_template(&template.id)
        )));
    }
    let profile = data.instance_profile.as_ref().map(|name| {
        LaunchTemplateIamInstanceProfileSpecificationRequest::builder()
            .name(name)
            .build()
    });
    Ok(RequestLaunchTemplateData::builder()
        .image_id(image_id(&template.ami))
        .instance_type(template.instance_type.as_str().into())
        .set_iam_instance_profile(profile)
        .set_security_group_ids(Some(data.security_group_ids.into_iter().collect()))
        .set_user_data(
            data.user_data
                .map(|text| aws_smithy_types::base64::encode(text.as_bytes())),
        )
        .metadata_options(
            LaunchTemplateInstanceMetadataOptionsRequest::builder()
                .http_tokens(LaunchTemplateHttpTokensState::from(HTTP_TOKENS))
                .build(),
        )
        .build())
}

fn group_tags(name: &str, tags: &BTreeMap<String, String>) -> Vec<GroupTag> {
    tags.iter()
        .map(|(key, value)| {
            GroupTag::builder()
                .resource_id(name)
                .resource_type("auto-scaling-group")
                .key(key)
                .value(value)
                .propagate_at_launch(false)
                .build()
        })
        .collect()
}

fn ecs_tags(tags: &BTreeMap<String, String>) -> Vec<EcsTag> {
    tags.iter()
        .map(|(key, value)| EcsTag::builder().key(key).value(value).build())
        .collect()
}

/// Builds the group's launch template, inside a mixed instances policy when the
/// file sets Spot options.
fn group_template(
    group: &AutoScalingGroup,
    template_id: &str,
    version: i64,
) -> (
    Option<LaunchTemplateSpecification>,
    Option<MixedInstancesPolicy>,
) {
    let specification = LaunchTemplateSpecification::builder()
        .launch_template_id(template_id)
        .version(version.to_string())
        .build();
    let Some(spot) = &group.spot else {
        return (Some(specification), None);
    };
    let overrides = spot
        .instance_types
        .iter()
        .map(|kind| {
            LaunchTemplateOverrides::builder()
                .instance_type(kind)
                .build()
        })
        .collect();
    let policy = MixedInstancesPolicy::builder()
        .launch_template(
            GroupLaunchTemplate::builder()
                .launch_template_specification(specification)
                .set_overrides(Some(overrides))
                .build(),
        )
        .instances_distribution(
            InstancesDistribution::builder()
                .on_demand_base_capacity(api_integer(spot.on_demand_base_capacity))
                .on_demand_percentage_above_base_capacity(i32::from(
                    spot.on_demand_percentage_above_base_capacity,
                ))
                .spot_allocation_strategy(allocation_strategy(spot.allocation_strategy))
                .build(),
        )
        .build();
    (None, Some(policy))
}

fn group_subnets(target: &Target<'_>, group: &AutoScalingGroup) -> Result<String, ComponentError> {
    let ids: Option<Vec<&str>> = group
        .subnets
        .iter()
        .map(|subnet| target.resolved.subnets.get(subnet).map(String::as_str))
        .collect();
    ids.map(|ids| ids.join(",")).ok_or_else(|| {
        ComponentError::Blocked(format!(
            "{} waits for its subnets to exist",
            ids::auto_scaling_group(&group.id)
        ))
    })
}

fn template_of(known: &Known, group: &AutoScalingGroup) -> Result<(String, i64), ComponentError> {
    known
        .templates
        .get(&group.launch_template)
        .cloned()
        .ok_or_else(|| {
            ComponentError::Blocked(format!(
                "{} waits for launch template {}",
                ids::auto_scaling_group(&group.id),
                group.launch_template
            ))
        })
}

fn managed_scaling(provider: &stackd_spec::model::CapacityProvider) -> ManagedScaling {
    match &provider.managed_scaling {
        Some(scaling) => ManagedScaling::builder()
            .status(ManagedScalingStatus::Enabled)
            .target_capacity(api_integer(scaling.target_capacity))
            .minimum_scaling_step_size(api_integer(scaling.minimum_scaling_step_size))
            .maximum_scaling_step_size(api_integer(scaling.maximum_scaling_step_size))
            .set_instance_warmup_period(scaling.instance_warmup_period.map(api_integer))
            .build(),
        None => ManagedScaling::builder()
            .status(ManagedScalingStatus::Disabled)
            .build(),
    }
}

fn termination_protection(
    provider: &stackd_spec::model::CapacityProvider,
) -> ManagedTerminationProtection {
    if provider.managed_termination_protection {
        ManagedTerminationProtection::Enabled
    } else {
        ManagedTerminationProtection::Disabled
    }
}

async fn run(target: &Target<'_>, known: &mut Known, action: Action) -> Result<(), ComponentError> {
    let desired = target.desired;
    let clients = target.clients;
    match action {
        Action::CreateLaunchTemplate(id) => {
            let template = find(&desired.launch_templates, &id, "launch template", |item| {
                &item.id
            })?;
            let logical_id = ids::launch_template(&id);
            let tags = target.tagger.desired(&logical_id, &template.name);
            // The client token makes a retried create return the first template.
            let response = clients
                .ec2
                .create_launch_template()
                .launch_template_name(&template.name)
                .launch_template_data(template_data(target, template)?)
                .tag_specifications(tag_specification(ResourceType::LaunchTemplate, &tags))
                .client_token(format!("{}-{logical_id}", target.tagger.stack()))
                .send()
                .await
                .map_err(|error| {
                    crate::failures::call_failed(
                        format!("CreateLaunchTemplate {}", template.name),
                        error,
                    )
                })?;
            let created = response.launch_template().ok_or_else(|| {
                ComponentError::Unexpected(format!(
                    "CreateLaunchTemplate {} returned no template",
                    template.name
                ))
            })?;
            known.templates.insert(
                id,
                (
                    created.launch_template_id().unwrap_or_default().to_owned(),
                    created.default_version_number().unwrap_or(1),
                ),
            );
            tracing::info!(launch_template = %template.name, "created launch template");
        }
        Action::CreateLaunchTemplateVersion(id) => {
            let template = find(&desired.launch_templates, &id, "launch template", |item| {
                &item.id
            })?;
            let (template_id, _) = known.templates.get(&id).cloned().ok_or_else(|| {
                ComponentError::Unexpected(format!("launch template {id} has no id yet"))
            })?;
            let response = clients
                .ec2
                .create_launch_template_version()
                .launch_template_id(&template_id)
                .launch_template_data(template_data(target, template)?)
                .send()
                .await
                .map_err(|error| {
                    crate::failures::call_failed(
                        format!("CreateLaunchTemplateVersion {template_id}"),
                        error,
                    )
                })?;
            let version = response
                .launch_template_version()
                .and_then(|version| version.version_number())
                .ok_or_else(|| {
                    ComponentError::Unexpected(format!(
                        "CreateLaunchTemplateVersion {template_id} returned no version number"
                    ))
                })?;
            set_default_version(clients, &template_id, version).await?;
            known.templates.insert(id, (template_id, version));
            tracing::info!(launch_template = %template.name, version, "created launch template version");
        }
        Action::SetDefaultVersion { template, version } => {
            let (template_id, _) = known.templates.get(&template).cloned().ok_or_else(|| {
                ComponentError::Unexpected(format!("launch template {template} has no id yet"))
            })?;
            set_default_version(clients, &template_id, version).await?;
            known.templates.insert(template, (template_id, version));
        }
        Action::RetagLaunchTemplate { template_id, delta } => {
            update_tags(&clients.ec2, &template_id, &delta).await?;
        }
        Action::CreateAutoScalingGroup(id) => {
            let group = find(
                &desired.auto_scaling_groups,
                &id,
                "Auto Scaling group",
                |item| &item.id,
            )?;
            let (template_id, version) = template_of(known, group)?;
            let (specification, policy) = group_template(group, &template_id, version);
            let logical_id = ids::auto_scaling_group(&id);
            let tags = target.tagger.desired(&logical_id, &group.name);
            let created = clients
                .autoscaling
                .create_auto_scaling_group()
                .auto_scaling_group_name(&group.name)
                .min_size(api_integer(group.min_size))
                .max_size(api_integer(group.max_size))
                .set_desired_capacity(group.desired_capacity.map(api_integer))
                .vpc_zone_identifier(group_subnets(target, group)?)
                .set_launch_template(specification)
                .set_mixed_instances_policy(policy)
                .new_instances_protected_from_scale_in(group.new_instances_protected_from_scale_in)
                .set_tags(Some(group_tags(&group.name, &tags)))
                .send()
                .await;
            match created {
                Ok(_) => {
                    tracing::info!(auto_scaling_group = %group.name, "created Auto Scaling group")
                }
                // A retried create after a lost response: the next observe checks
                // that the group carries this stack's tags.
                Err(error)
                    if matches!(
                        error.as_service_error(),
                        Some(CreateAutoScalingGroupError::AlreadyExistsFault(_))
                    ) => {}
                Err(error) => {
                    return Err(crate::failures::call_failed(
                        format!("CreateAutoScalingGroup {}", group.name),
                        error,
                    ));
                }
            }
            let arn = group_arn(clients, &group.name).await?;
            known.group_arns.insert(id, arn);
        }
        Action::UpdateAutoScalingGroup(id) => {
            let group = find(
                &desired.auto_scaling_groups,
                &id,
                "Auto Scaling group",
                |item| &item.id,
            )?;
            let (template_id, version) = template_of(known, group)?;
            let (specification, policy) = group_template(group, &template_id, version);
            let ignored = |attribute| group.ignore_changes.contains(&attribute);
            let desired_capacity = group
                .desired_capacity
                .filter(|_| !ignored(AutoScalingGroupAttribute::DesiredCapacity));
            clients
                .autoscaling
                .update_auto_scaling_group()
                .auto_scaling_group_name(&group.name)
                .set_min_size(
                    (!ignored(AutoScalingGroupAttribute::MinSize))
                        .then(|| api_integer(group.min_size)),
                )
                .set_max_size(
                    (!ignored(AutoScalingGroupAttribute::MaxSize))
                        .then(|| api_integer(group.max_size)),
                )
                .set_desired_capacity(desired_capacity.map(api_integer))
                .vpc_zone_identifier(group_subnets(target, group)?)
                .set_launch_template(specification)
                .set_mixed_instances_policy(policy)
                .new_instances_protected_from_scale_in(group.new_instances_protected_from_scale_in)
                .send()
                .await
                .map_err(|error| {
                    crate::failures::call_failed(
                        format!("UpdateAutoScalingGroup {}", group.name),
                        error,
                    )
                })?;
            tracing::info!(auto_scaling_group = %group.name, "updated Auto Scaling group");
        }
        Action::RetagAutoScalingGroup { name, delta } => {
            retag_group(clients, &name, &delta).await?;
        }
        Action::CreateCapacityProvider(id) => {
            let provider = find(
                &desired.capacity_providers,
                &id,
                "capacity provider",
                |item| &item.id,
            )?;
            let group_arn = known
                .group_arns
                .get(&provider.auto_scaling_group)
                .ok_or_else(|| {
                    ComponentError::Blocked(format!(
                        "{} waits for Auto Scaling group {}",
                        ids::capacity_provider(&id),
                        provider.auto_scaling_group
                    ))
                })?;
            let logical_id = ids::capacity_provider(&id);
            let tags = target.tagger.desired(&logical_id, &provider.name);
            let group_provider = AutoScalingGroupProvider::builder()
                .auto_scaling_group_arn(group_arn)
                .managed_scaling(managed_scaling(provider))
                .managed_termination_protection(termination_protection(provider))
                .build()
                .map_err(|error| ComponentError::Unexpected(error.to_string()))?;
            clients
                .ecs
                .create_capacity_provider()
                .name(&provider.name)
                .auto_scaling_group_provider(group_provider)
                .set_tags(Some(ecs_tags(&tags)))
                .send()
                .await
                .map_err(|error| {
                    crate::failures::call_failed(
                        format!("CreateCapacityProvider {}", provider.name),
                        error,
                    )
                })?;
            tracing::info!(capacity_provider = %provider.name, "created capacity provider");
        }
        Action::UpdateCapacityProvider(id) => {
            let provider = find(
                &desired.capacity_providers,
                &id,
                "capacity provider",
                |item| &item.id,
            )?;
            clients
                .ecs
                .update_capacity_provider()
                .name(&provider.name)
                .auto_scaling_group_provider(
                    AutoScalingGroupProviderUpdate::builder()
                        .managed_scaling(managed_scaling(provider))
                        .managed_termination_protection(termination_protection(provider))
                        .build(),
                )
                .send()
                .await
                .map_err(|error| {
                    crate::failures::call_failed(
                        format!("UpdateCapacityProvider {}", provider.name),
                        error,
                    )
                })?;
            tracing::info!(capacity_provider = %provider.name, "updated capacity provider");
        }
        Action::CreateCluster(id) => {
            let cluster = find(&desired.clusters, &id, "cluster", |item| &item.id)?;
            let logical_id = ids::cluster(&id);
            let tags = target.tagger.desired(&logical_id, &cluster.name);
            let (providers, strategy) = desired_cluster_providers(desired, cluster);
            // CreateCluster returns the existing cluster when one of the same name
            // exists, so a retried create creates nothing twice.
            clients
                .ecs
                .create_cluster()
                .cluster_name(&cluster.name)
                .set_capacity_providers(Some(providers.into_iter().collect()))
                .set_default_capacity_provider_strategy(Some(strategy_items(&strategy)?))
                .set_tags(Some(ecs_tags(&tags)))
                .send()
                .await
                .map_err(|error| {
                    crate::failures::call_failed(format!("CreateCluster {}", cluster.name), error)
                })?;
            tracing::info!(cluster = %cluster.name, "created cluster");
        }
        Action::PutClusterCapacityProviders(id) => {
            let cluster = find(&desired.clusters, &id, "cluster", |item| &item.id)?;
            let (providers, strategy) = desired_cluster_providers(desired, cluster);
            clients
                .ecs
                .put_cluster_capacity_providers()
                .cluster(&cluster.name)
                .set_capacity_providers(Some(providers.into_iter().collect()))
                .set_default_capacity_provider_strategy(Some(strategy_items(&strategy)?))
                .send()
                .await
                .map_err(|error| {
                    crate::failures::call_failed(
                        format!("PutClusterCapacityProviders {}", cluster.name),
                        error,
                    )
                })?;
            tracing::info!(cluster = %cluster.name, "set cluster capacity providers");
        }
        Action::RetagEcs { arn, delta } => retag_ecs(clients, &arn, &delta).await?,
        Action::Delete(_) | Action::Refuse(_) => {
            unreachable!("apply handles deletions and refusals before calling run")
        }
    }
    Ok(())
}

fn strategy_items(
    strategy: &[super::StrategyItem],
) -> Result<Vec<CapacityProviderStrategyItem>, ComponentError> {
    strategy
        .iter()
        .map(|item| {
            CapacityProviderStrategyItem::builder()
                .capacity_provider(&item.capacity_provider)
                .weight(api_integer(item.weight))
                .base(api_integer(item.base))
                .build()
                .map_err(|error| ComponentError::Unexpected(error.to_string()))
        })
        .collect()
}

async fn set_default_version(
    clients: &AwsClients,
    template_id: &str,
    version: i64,
) -> Result<(), ComponentError> {
    clients
        .ec2
        .modify_launch_template()
        .launch_template_id(template_id)
        .default_version(version.to_string())
        .send()
        .await
        .map_err(|error| {
            crate::failures::call_failed(format!("ModifyLaunchTemplate {template_id}"), error)
        })?;
    tracing::info!(launch_template = %template_id, version, "set default launch template version");
    Ok(())
}

async fn group_arn(clients: &AwsClients, name: &str) -> Result<String, ComponentError> {
    let response = clients
        .autoscaling
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(name)
        .send()
        .await
        .map_err(|error| {
            crate::failures::call_failed(format!("DescribeAutoScalingGroups {name}"), error)
        })?;
    response
        .auto_scaling_groups()
        .first()
        .and_then(|group| group.auto_scaling_group_arn())
        .map(str::to_owned)
        .ok_or_else(|| {
            ComponentError::Unexpected(format!(
                "Auto Scaling group {name} was not found right after its creation"
            ))
        })
}

async fn retag_group(
    clients: &AwsClients,
    name: &str,
    delta: &TagDelta,
) -> Result<(), ComponentError> {
    if !delta.set.is_empty() {
        clients
            .autoscaling
            .create_or_update_tags()
            .set_tags(Some(group_tags(name, &delta.set)))
            .send()
            .await
            .map_err(|error| {
                crate::failures::call_failed(format!("CreateOrUpdateTags {name}"), error)
            })?;
    }
    if !delta.remove.is_empty() {
        let keys = delta
            .remove
            .iter()
            .map(|key| {
                GroupTag::builder()
                    .resource_id(name)
                    .resource_type("auto-scaling-group")
                    .key(key)
                    .build()
            })
            .collect();
        clients
            .autoscaling
            .delete_tags()
            .set_tags(Some(keys))
            .send()
            .await
            .map_err(|error| crate::failures::call_failed(format!("DeleteTags {name}"), error))?;
    }
    tracing::info!(auto_scaling_group = name, set = ?delta.set.keys(), removed = ?delta.remove, "updated tags");
    Ok(())
}

async fn retag_ecs(
    clients: &AwsClients,
    arn: &str,
    delta: &TagDelta,
) -> Result<(), ComponentError> {
    if !delta.set.is_empty() {
        clients
            .ecs
            .tag_resource()
            .resource_arn(arn)
            .set_tags(Some(ecs_tags(&delta.set)))
            .send()
            .await
            .map_err(|error| crate::failures::call_failed(format!("TagResource {arn}"), error))?;
    }
    if !delta.remove.is_empty() {
        clients
            .ecs
            .untag_resource()
            .resource_arn(arn)
            .set_tag_keys(Some(delta.remove.clone()))
            .send()
            .await
            .map_err(|error| crate::failures::call_failed(format!("UntagResource {arn}"), error))?;
    }
    tracing::info!(resource = arn, set = ?delta.set.keys(), removed = ?delta.remove, "updated tags");
    Ok(())
}
