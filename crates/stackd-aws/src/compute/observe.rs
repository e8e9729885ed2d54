//! Reads the stack's launch templates, Auto Scaling groups, capacity providers,
//! clusters and the services that left the file, each kind with as few calls as
//! its API allows, all kinds at once.

use super::{
    ComputeContext, ComputeLive, LiveAutoScalingGroup, LiveCapacityProvider, LiveCluster,
    LiveLaunchTemplate, LiveManagedScaling, LiveService, StrategyItem, TemplateData, ids,
};
use crate::clients::AwsClients;
use crate::ec2::{by_logical_id, filter, from_sdk, stack_filter, stack_logical_id};
use crate::tags::{ID_TAG, STACK_TAG, Tagger, comparable};
use aws_sdk_autoscaling::types::{AutoScalingGroup, Filter as GroupFilter};
use aws_sdk_ec2::types::{LaunchTemplate, ResponseLaunchTemplateData};
use aws_sdk_ecs::operation::list_services::ListServicesError;
use aws_sdk_ecs::types::{
    CapacityProvider, CapacityProviderField, CapacityProviderStatus, Cluster, ClusterField,
    ManagedScalingStatus, ManagedTerminationProtection, ServiceField,
};
use futures::future::try_join_all;
use stackd_engine::ComponentError;
use stackd_spec::model::Compute;
use std::collections::{BTreeMap, BTreeSet};

/// The tag that ECS puts on an Auto Scaling group when a capacity provider with
/// managed scaling uses it. It belongs to ECS, so stackd neither compares nor removes it.
pub(crate) const ECS_MANAGED_TAG: &str = "AmazonECSManaged";

/// The maximum number of clusters that one DescribeClusters call takes.
const CLUSTERS_PER_DESCRIBE: usize = 100;

/// The maximum number of services that one DescribeServices call takes.
const SERVICES_PER_DESCRIBE: usize = 10;

/// Observes every compute resource of the stack.
pub(super) async fn observe(
    clients: &AwsClients,
    desired: &Compute,
    context: &ComputeContext,
    tagger: &Tagger,
) -> Result<ComputeLive, ComponentError> {
    let stack = tagger.stack();
    let (launch_templates, auto_scaling_groups, capacity_providers, clusters) = tokio::try_join!(
        observe_launch_templates(&clients.ec2, desired, stack),
        observe_auto_scaling_groups(&clients.autoscaling, desired, stack),
        observe_capacity_providers(&clients.ecs, desired, stack),
        observe_clusters(&clients.ecs, desired, stack),
    )?;
    let leftover_services =
        observe_leftover_services(&clients.ecs, &clusters, context, stack).await?;
    Ok(ComputeLive {
        launch_templates,
        auto_scaling_groups,
        capacity_providers,
        clusters,
        leftover_services,
    })
}

fn foreign(kind: &str, name: &str, stack: &str, logical_id: &str) -> ComponentError {
    ComponentError::Blocked(format!(
        "{kind} {name} exists without the tags {STACK_TAG}={stack} and {ID_TAG}={logical_id}, so it \
         belongs to someone else; stackd leaves it alone until it is adopted by adding those tags"
    ))
}

fn count(value: Option<i32>) -> Option<u32> {
    value.and_then(|value| u32::try_from(value).ok())
}

/// Returns the logical id of a resource whose tags name this stack.
fn logical_id(tags: &BTreeMap<String, String>, stack: &str) -> Option<String> {
    if tags.get(STACK_TAG).map(String::as_str) != Some(stack) {
        return None;
    }
    tags.get(ID_TAG).cloned()
}

/// Keeps one resource per logical id, and blocks on two that claim the same one.
fn insert_unique<T>(
    found: &mut BTreeMap<String, T>,
    kind: &str,
    logical_id: String,
    item: T,
    name: impl Fn(&T) -> String,
) -> Result<(), ComponentError> {
    if let Some(previous) = found.get(&logical_id) {
        return Err(ComponentError::Blocked(format!(
            "two {kind}s carry the tag {ID_TAG}={logical_id} ({} and {}); delete the one that \
             should not exist",
            name(previous),
            name(&item)
        )));
    }
    found.insert(logical_id, item);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Launch templates

async fn observe_launch_templates(
    client: &aws_sdk_ec2::Client,
    desired: &Compute,
    stack: &str,
) -> Result<BTreeMap<String, LiveLaunchTemplate>, ComponentError> {
    let names: Vec<&str> = desired
        .launch_templates
        .iter()
        .map(|template| template.name.as_str())
        .collect();
    let tagged = client
        .describe_launch_templates()
        .filters(stack_filter(stack))
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>();
    let named = async {
        if names.is_empty() {
            return Ok(Vec::new());
        }
        client
            .describe_launch_templates()
            .filters(filter("launch-template-name", names.iter().copied()))
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
    };
    let (tagged, named) = tokio::join!(tagged, named);
    let tagged =
        tagged.map_err(|error| crate::failures::call_failed("DescribeLaunchTemplates", error))?;
    let named = named
        .map_err(|error| crate::failures::call_failed("DescribeLaunchTemplates by name", error))?;

    for template in &desired.launch_templates {
        let logical = ids::launch_template(&template.id);
        let owner = named
            .iter()
            .find(|found| found.launch_template_name() == Some(template.name.as_str()));
        if let Some(found) = owner
            && stack_logical_id(found.tags(), stack).as_deref() != Some(logical.as_str())
        {
            return Err(foreign("launch template", &template.name, stack, &logical));
        }
    }

    let templates = by_logical_id(
        "launch template",
        tagged,
        |template| stack_logical_id(template.tags(), stack),
        |template| template.launch_template_id().unwrap_or_default().to_owned(),
    )?;
    let live = try_join_all(templates.into_iter().map(|(logical, template)| async move {
        let live = read_versions(client, &template).await?;
        Ok::<_, ComponentError>((logical, live))
    }))
    .await?;
    Ok(live.into_iter().collect())
}

/// Reads the default and the latest version of a launch template in one call.
async fn read_versions(
    client: &aws_sdk_ec2::Client,
    template: &LaunchTemplate,
) -> Result<LiveLaunchTemplate, ComponentError> {
    let id = template.launch_template_id().unwrap_or_default();
    let response = client
        .describe_launch_template_versions()
        .launch_template_id(id)
        .versions("$Default")
        .versions("$Latest")
        .send()
        .await
        .map_err(|error| {
            crate::failures::call_failed(format!("DescribeLaunchTemplateVersions {id}"), error)
        })?;
    let default_version = template.default_version_number().unwrap_or_default();
    let latest_version = template.latest_version_number().unwrap_or_default();
    let data_of = |number: i64| {
        response
            .launch_template_versions()
            .iter()
            .find(|version| version.version_number() == Some(number))
            .and_then(|version| version.launch_template_data())
            .map(template_data)
            .unwrap_or_default()
    };
    Ok(LiveLaunchTemplate {
        id: id.to_owned(),
        name: template
            .launch_template_name()
            .unwrap_or_default()
            .to_owned(),
        default_version,
        default_data: data_of(default_version),
        latest_version,
        latest_data: data_of(latest_version),
        tags: from_sdk(template.tags()),
    })
}

/// Reduces an instance profile ARN such as `arn:aws:iam::1:instance-profile/path/name`
/// to its name, the last part of its path.
pub(crate) fn instance_profile_name(arn_or_name: &str) -> String {
    match arn_or_name.split_once(":instance-profile/") {
        Some((_, path)) => path.rsplit('/').next().unwrap_or(path).to_owned(),
        None => arn_or_name.to_owned(),
    }
}

fn template_data(data: &ResponseLaunchTemplateData) -> TemplateData {
    let profile = data
        .iam_instance_profile()
        .and_then(|profile| profile.name().or(profile.arn()).map(instance_profile_name));
    let user_data = data.user_data().map(|encoded| {
        aws_smithy_types::base64::decode(encoded)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            // Text that is not base64 of UTF-8 is compared as it is.
            .unwrap_or_else(|| encoded.to_owned())
    });
    TemplateData {
        image_id: data.image_id().map(str::to_owned),
        instance_type: data.instance_type().map(|kind| kind.as_str().to_owned()),
        instance_profile: profile,
        security_group_ids: data.security_group_ids().iter().cloned().collect(),
        user_data,
        http_tokens: data
            .metadata_options()
            .and_then(|options| options.http_tokens())
            .map(|tokens| tokens.as_str().to_owned()),
    }
}

// ---------------------------------------------------------------------------------------------
// Auto Scaling groups

async fn observe_auto_scaling_groups(
    client: &aws_sdk_autoscaling::Client,
    desired: &Compute,
    stack: &str,
) -> Result<BTreeMap<String, LiveAutoScalingGroup>, ComponentError> {
    let names: Vec<String> = desired
        .auto_scaling_groups
        .iter()
        .map(|group| group.name.clone())
        .collect();
    let tagged = client
        .describe_auto_scaling_groups()
        .filters(
            GroupFilter::builder()
                .name(format!("tag:{STACK_TAG}"))
                .values(stack)
                .build(),
        )
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>();
    let named = async {
        if names.is_empty() {
            return Ok(Vec::new());
        }
        client
            .describe_auto_scaling_groups()
            .set_auto_scaling_group_names(Some(names.clone()))
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
    };
    let (tagged, named) = tokio::join!(tagged, named);
    let tagged =
        tagged.map_err(|error| crate::failures::call_failed("DescribeAutoScalingGroups", error))?;
    let named = named.map_err(|error| {
        crate::failures::call_failed("DescribeAutoScalingGroups by name", error)
    })?;

    for group in &desired.auto_scaling_groups {
        let logical = ids::auto_scaling_group(&group.id);
        if let Some(found) = named
            .iter()
            .find(|found| found.auto_scaling_group_name() == Some(group.name.as_str()))
            && logical_id(&group_tags(found), stack).as_deref() != Some(logical.as_str())
        {
            return Err(foreign("Auto Scaling group", &group.name, stack, &logical));
        }
    }

    let mut live = BTreeMap::new();
    for group in &tagged {
        let tags = group_tags(group);
        let Some(logical) = logical_id(&tags, stack) else {
            continue;
        };
        insert_unique(
            &mut live,
            "Auto Scaling group",
            logical,
            live_group(group, tags),
            |group| group.name.clone(),
        )?;
    }
    Ok(live)
}

fn group_tags(group: &AutoScalingGroup) -> BTreeMap<String, String> {
    comparable(group.tags().iter().filter_map(|tag| {
        Some((
            tag.key()?.to_owned(),
            tag.value().unwrap_or_default().to_owned(),
        ))
    }))
    .into_iter()
    .filter(|(key, _)| key != ECS_MANAGED_TAG)
    .collect()
}

fn live_group(group: &AutoScalingGroup, tags: BTreeMap<String, String>) -> LiveAutoScalingGroup {
    let policy = group.mixed_instances_policy();
    let policy_template = policy.and_then(|policy| policy.launch_template());
    let specification = policy_template
        .and_then(|template| template.launch_template_specification())
        .or(group.launch_template());
    let distribution = policy.and_then(|policy| policy.instances_distribution());
    LiveAutoScalingGroup {
        name: group
            .auto_scaling_group_name()
            .unwrap_or_default()
            .to_owned(),
        arn: group
            .auto_scaling_group_arn()
            .unwrap_or_default()
            .to_owned(),
        status: group.status().map(str::to_owned),
        min_size: count(group.min_size()).unwrap_or_default(),
        max_size: count(group.max_size()).unwrap_or_default(),
        desired_capacity: count(group.desired_capacity()).unwrap_or_default(),
        launch_template: specification.map(|specification| {
            (
                specification
                    .launch_template_id()
                    .unwrap_or_default()
                    .to_owned(),
                specification.version().unwrap_or("$Default").to_owned(),
            )
        }),
        mixed: policy.is_some(),
        instance_types: policy_template
            .map(|template| {
                template
                    .overrides()
                    .iter()
                    .filter_map(|item| item.instance_type().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default(),
        on_demand_base_capacity: distribution
            .and_then(|distribution| count(distribution.on_demand_base_capacity())),
        on_demand_percentage_above_base_capacity: distribution.and_then(|distribution| {
            count(distribution.on_demand_percentage_above_base_capacity())
        }),
        spot_allocation_strategy: distribution
            .and_then(|distribution| distribution.spot_allocation_strategy())
            .map(str::to_owned),
        subnet_ids: group
            .vpc_zone_identifier()
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|id| !id.is_empty())
            .map(str::to_owned)
            .collect(),
        new_instances_protected_from_scale_in: group
            .new_instances_protected_from_scale_in()
            .unwrap_or(false),
        tags,
    }
}

// ---------------------------------------------------------------------------------------------
// ECS capacity providers and clusters

fn ecs_tags(tags: &[aws_sdk_ecs::types::Tag]) -> BTreeMap<String, String> {
    comparable(tags.iter().filter_map(|tag| {
        Some((
            tag.key()?.to_owned(),
            tag.value().unwrap_or_default().to_owned(),
        ))
    }))
}

/// Lists every capacity provider of the account with its tags, because ECS offers no
/// tag filter, and keeps the ones of this stack.
async fn observe_capacity_providers(
    client: &aws_sdk_ecs::Client,
    desired: &Compute,
    stack: &str,
) -> Result<BTreeMap<String, LiveCapacityProvider>, ComponentError> {
    let mut providers: Vec<CapacityProvider> = Vec::new();
    let mut token = None;
    loop {
        let response = client
            .describe_capacity_providers()
            .include(CapacityProviderField::Tags)
            .set_next_token(token)
            .send()
            .await
            .map_err(|error| crate::failures::call_failed("DescribeCapacityProviders", error))?;
        providers.extend(response.capacity_providers().iter().cloned());
        token = response.next_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    // A deleted provider stays INACTIVE for a while and keeps its name.
    providers.retain(|provider| provider.status() != Some(&CapacityProviderStatus::Inactive));

    for wanted in &desired.capacity_providers {
        let logical = ids::capacity_provider(&wanted.id);
        if let Some(found) = providers
            .iter()
            .find(|found| found.name() == Some(wanted.name.as_str()))
            && logical_id(&ecs_tags(found.tags()), stack).as_deref() != Some(logical.as_str())
        {
            return Err(foreign("capacity provider", &wanted.name, stack, &logical));
        }
    }

    let mut live = BTreeMap::new();
    for provider in &providers {
        let tags = ecs_tags(provider.tags());
        let Some(logical) = logical_id(&tags, stack) else {
            continue;
        };
        insert_unique(
            &mut live,
            "capacity provider",
            logical,
            live_provider(provider, tags),
            |provider| provider.name.clone(),
        )?;
    }
    Ok(live)
}

fn live_provider(
    provider: &CapacityProvider,
    tags: BTreeMap<String, String>,
) -> LiveCapacityProvider {
    let group = provider.auto_scaling_group_provider();
    let scaling = group.and_then(|group| group.managed_scaling());
    LiveCapacityProvider {
        name: provider.name().unwrap_or_default().to_owned(),
        arn: provider
            .capacity_provider_arn()
            .unwrap_or_default()
            .to_owned(),
        status: provider
            .status()
            .map(|status| status.as_str().to_owned())
            .unwrap_or_default(),
        update_status: provider
            .update_status()
            .map(|status| status.as_str().to_owned()),
        auto_scaling_group_arn: group
            .map(|group| group.auto_scaling_group_arn().to_owned())
            .unwrap_or_default(),
        managed_scaling: LiveManagedScaling {
            enabled: scaling.and_then(|scaling| scaling.status())
                == Some(&ManagedScalingStatus::Enabled),
            target_capacity: scaling.and_then(|scaling| count(scaling.target_capacity())),
            minimum_scaling_step_size: scaling
                .and_then(|scaling| count(scaling.minimum_scaling_step_size())),
            maximum_scaling_step_size: scaling
                .and_then(|scaling| count(scaling.maximum_scaling_step_size())),
            instance_warmup_period: scaling
                .and_then(|scaling| count(scaling.instance_warmup_period())),
        },
        managed_termination_protection: group
            .and_then(|group| group.managed_termination_protection())
            == Some(&ManagedTerminationProtection::Enabled),
        tags,
    }
}

/// Lists every cluster of the account and describes them with their tags, because
/// ECS offers no tag filter, and keeps the ones of this stack.
async fn observe_clusters(
    client: &aws_sdk_ecs::Client,
    desired: &Compute,
    stack: &str,
) -> Result<BTreeMap<String, LiveCluster>, ComponentError> {
    let arns = client
        .list_clusters()
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(|error| crate::failures::call_failed("ListClusters", error))?;
    let described = try_join_all(arns.chunks(CLUSTERS_PER_DESCRIBE).map(|chunk| async move {
        client
            .describe_clusters()
            .set_clusters(Some(chunk.to_vec()))
            .include(ClusterField::Tags)
            .send()
            .await
            .map_err(|error| crate::failures::call_failed("DescribeClusters", error))
    }))
    .await?;
    let clusters: Vec<Cluster> = described
        .iter()
        .flat_map(|response| response.clusters().iter().cloned())
        // A deleted cluster stays INACTIVE for a while and keeps its name.
        .filter(|cluster| cluster.status() != Some("INACTIVE"))
        .collect();

    for wanted in &desired.clusters {
        let logical = ids::cluster(&wanted.id);
        if let Some(found) = clusters
            .iter()
            .find(|found| found.cluster_name() == Some(wanted.name.as_str()))
            && logical_id(&ecs_tags(found.tags()), stack).as_deref() != Some(logical.as_str())
        {
            return Err(foreign("ECS cluster", &wanted.name, stack, &logical));
        }
    }

    let mut live = BTreeMap::new();
    for cluster in &clusters {
        let tags = ecs_tags(cluster.tags());
        let Some(logical) = logical_id(&tags, stack) else {
            continue;
        };
        let mut default_strategy: Vec<StrategyItem> = cluster
            .default_capacity_provider_strategy()
            .iter()
            .map(|item| StrategyItem {
                capacity_provider: item.capacity_provider().to_owned(),
                weight: count(Some(item.weight())).unwrap_or_default(),
                base: count(Some(item.base())).unwrap_or_default(),
            })
            .collect();
        default_strategy.sort();
        let found = LiveCluster {
            name: cluster.cluster_name().unwrap_or_default().to_owned(),
            arn: cluster.cluster_arn().unwrap_or_default().to_owned(),
            status: cluster.status().unwrap_or_default().to_owned(),
            capacity_providers: cluster.capacity_providers().iter().cloned().collect(),
            default_strategy,
            tags,
        };
        insert_unique(&mut live, "ECS cluster", logical, found, |cluster| {
            cluster.name.clone()
        })?;
    }
    Ok(live)
}

/// Finds the services of this stack in its clusters whose `stackd:id` the file no
/// longer names. Services of the file are skipped by name, so an unchanged stack
/// costs one ListServices call per cluster and no DescribeServices.
async fn observe_leftover_services(
    client: &aws_sdk_ecs::Client,
    clusters: &BTreeMap<String, LiveCluster>,
    context: &ComputeContext,
    stack: &str,
) -> Result<BTreeMap<String, LiveService>, ComponentError> {
    let per_cluster = try_join_all(clusters.values().map(|cluster| async move {
        let arns = match client
            .list_services()
            .cluster(&cluster.name)
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
        {
            Ok(arns) => arns,
            // The cluster was deleted between the two calls.
            Err(error)
                if matches!(
                    error.as_service_error(),
                    Some(ListServicesError::ClusterNotFoundException(_))
                ) =>
            {
                return Ok(Vec::new());
            }
            Err(error) => {
                return Err(crate::failures::call_failed(
                    format!("ListServices {}", cluster.name),
                    error,
                ));
            }
        };
        let names: BTreeSet<&str> = context.services.values().map(String::as_str).collect();
        let unknown: Vec<String> = arns
            .into_iter()
            .filter(|arn| !names.contains(arn.rsplit('/').next().unwrap_or(arn)))
            .collect();
        let described = try_join_all(unknown.chunks(SERVICES_PER_DESCRIBE).map(
            |chunk| async move {
                client
                    .describe_services()
                    .cluster(&cluster.name)
                    .set_services(Some(chunk.to_vec()))
                    .include(ServiceField::Tags)
                    .send()
                    .await
                    .map_err(|error| {
                        crate::failures::call_failed(
                            format!("DescribeServices {}", cluster.name),
                            error,
                        )
                    })
            },
        ))
        .await?;
        let mut found = Vec::new();
        for response in described {
            for service in response.services() {
                let tags = ecs_tags(service.tags());
                let Some(logical) = logical_id(&tags, stack) else {
                    continue;
                };
                let status = service.status().unwrap_or_default();
                if status == "INACTIVE" || context.services.contains_key(&logical) {
                    continue;
                }
                found.push((
                    logical,
                    LiveService {
                        cluster: cluster.name.clone(),
                        name: service.service_name().unwrap_or_default().to_owned(),
                        arn: service.service_arn().unwrap_or_default().to_owned(),
                        status: status.to_owned(),
                        desired_count: count(Some(service.desired_count())).unwrap_or_default(),
                    },
                ));
            }
        }
        Ok::<_, ComponentError>(found)
    }))
    .await?;
    Ok(per_cluster.into_iter().flatten().collect())
}
