//! Carries out a service plan, one call per action, in the order the diff planned them.

use super::diff::{Action, ServiceUpdate};
use super::{COMPATIBILITY, ContainerSpec, Resolved, ServiceContext, ServiceLive, TaskSpec, ids};
use crate::tags::{TagDelta, Tagger};
use aws_sdk_ecs::Client;
use aws_sdk_ecs::types::{
    AssignPublicIp, AwsVpcConfiguration, CapacityProviderStrategyItem, Compatibility,
    ContainerDefinition, KeyValuePair, LaunchType, LoadBalancer, LogConfiguration, LogDriver,
    NetworkConfiguration, NetworkMode, PortMapping, Secret, Tag, TransportProtocol,
};
use stackd_engine::ComponentError;
use stackd_spec::model::Service;
use std::collections::BTreeMap;

/// Inputs that every call of one apply reads.
pub(super) struct Target<'a> {
    pub client: &'a Client,
    pub desired: &'a Service,
    pub context: &'a ServiceContext,
    pub tagger: &'a Tagger,
    pub resolved: &'a Resolved,
}

/// The maximum length of a CreateService client token.
const CLIENT_TOKEN_LENGTH: usize = 36;

/// Runs the actions in order and stops at the first failed call.
pub(super) async fn apply(
    target: &Target<'_>,
    live: &ServiceLive,
    actions: Vec<Action>,
) -> Result<(), ComponentError> {
    // The revision that the service runs: the live one, or the one registered here.
    let mut revision = live
        .task_definition
        .as_ref()
        .map(|definition| definition.arn.clone());
    for action in actions {
        match action {
            Action::RegisterTaskDefinition => {
                revision = Some(register_task_definition(target).await?);
            }
            Action::RetagTaskDefinition { arn, delta } => {
                retag(target.client, &arn, &delta).await?;
            }
            Action::CreateService => {
                let revision = revision_of(target, revision.as_deref())?;
                create_service(target, revision).await?;
            }
            Action::UpdateService(update) => {
                let revision = revision_of(target, revision.as_deref())?;
                update_service(target, revision, &update).await?;
            }
            Action::RetagService { arn, delta } => {
                retag(target.client, &arn, &delta).await?;
            }
        }
    }
    Ok(())
}

fn revision_of<'a>(
    target: &Target<'_>,
    revision: Option<&'a str>,
) -> Result<&'a str, ComponentError> {
    revision.ok_or_else(|| {
        ComponentError::Unexpected(format!(
            "{} has no task definition revision to run",
            ids::service(&target.desired.id)
        ))
    })
}

/// Fails when a value that the call needs comes from a resource that does not exist yet.
fn check_resolved(target: &Target<'_>) -> Result<(), ComponentError> {
    if target.resolved.missing.is_empty() {
        return Ok(());
    }
    Err(ComponentError::Blocked(format!(
        "{} waits for {} to exist",
        ids::service(&target.desired.id),
        target.resolved.missing.join(", ")
    )))
}

fn ecs_tags(tags: &BTreeMap<String, String>) -> Vec<Tag> {
    tags.iter()
        .map(|(key, value)| Tag::builder().key(key).value(value).build())
        .collect()
}

fn build_error(what: &str, error: impl std::fmt::Display) -> ComponentError {
    ComponentError::Unexpected(format!("could not build {what}: {error}"))
}

/// Builds the request form of one container, from its comparable form.
pub(super) fn container_definition(
    name: &str,
    spec: &ContainerSpec,
) -> Result<ContainerDefinition, ComponentError> {
    let port_mappings = spec
        .port_mappings
        .iter()
        .map(|mapping| {
            PortMapping::builder()
                .container_port(mapping.container_port)
                .host_port(mapping.host_port)
                .protocol(TransportProtocol::from(mapping.protocol.as_str()))
                .build()
        })
        .collect();
    let environment = spec
        .environment
        .iter()
        .map(|(name, value)| KeyValuePair::builder().name(name).value(value).build())
        .collect();
    let secrets = spec
        .secrets
        .iter()
        .map(|(name, value_from)| {
            Secret::builder()
                .name(name)
                .value_from(value_from)
                .build()
                .map_err(|error| build_error("a container secret", error))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let log_configuration = spec
        .log_configuration
        .as_ref()
        .map(|log| {
            LogConfiguration::builder()
                .log_driver(LogDriver::from(log.log_driver.as_str()))
                .set_options(Some(log.options.clone().into_iter().collect()))
                .build()
                .map_err(|error| build_error("a log configuration", error))
        })
        .transpose()?;
    Ok(ContainerDefinition::builder()
        .name(name)
        .image(&spec.image)
        .cpu(spec.cpu)
        .essential(spec.essential)
        .set_port_mappings(Some(port_mappings))
        .set_environment(Some(environment))
        .set_secrets(Some(secrets))
        .set_log_configuration(log_configuration)
        .build())
}

async fn register_task_definition(target: &Target<'_>) -> Result<String, ComponentError> {
    check_resolved(target)?;
    let family = &target.desired.task_definition.family;
    let task: &TaskSpec = &target.resolved.task;
    let containers = task
        .containers
        .iter()
        .map(|(name, spec)| container_definition(name, spec))
        .collect::<Result<Vec<_>, _>>()?;
    let tags = target
        .tagger
        .desired(&ids::task_definition(&target.desired.id), family);
    let response = target
        .client
        .register_task_definition()
        .family(family)
        .network_mode(NetworkMode::Awsvpc)
        .requires_compatibilities(Compatibility::from(COMPATIBILITY))
        .set_cpu(task.cpu.clone())
        .set_memory(task.memory.clone())
        .set_execution_role_arn(task.execution_role_arn.clone())
        .set_task_role_arn(task.task_role_arn.clone())
        .set_container_definitions(Some(containers))
        .set_tags(Some(ecs_tags(&tags)))
        // Each call registers a new revision, and the call takes no client
        // token: an SDK retry after a lost response would register a second
        // one. The next pass finds a registration that took effect as the latest
        // revision instead.
        .customize()
        .config_override(
            aws_sdk_ecs::config::Builder::default()
                .retry_config(aws_sdk_ecs::config::retry::RetryConfig::disabled()),
        )
        .send()
        .await
        .map_err(|error| {
            crate::failures::call_failed(format!("RegisterTaskDefinition {family}"), error)
        })?;
    let definition = response.task_definition().ok_or_else(|| {
        ComponentError::Unexpected(format!(
            "RegisterTaskDefinition {family} returned no revision"
        ))
    })?;
    let arn = definition
        .task_definition_arn()
        .unwrap_or_default()
        .to_owned();
    tracing::info!(%family, revision = definition.revision(), "registered task definition revision");
    Ok(arn)
}

fn network_configuration(resolved: &Resolved) -> Result<NetworkConfiguration, ComponentError> {
    let awsvpc = AwsVpcConfiguration::builder()
        .set_subnets(Some(resolved.network.subnets.iter().cloned().collect()))
        .set_security_groups(Some(
            resolved.network.security_groups.iter().cloned().collect(),
        ))
        .assign_public_ip(AssignPublicIp::from(
            resolved.network.assign_public_ip.as_str(),
        ))
        .build()
        .map_err(|error| build_error("a network configuration", error))?;
    Ok(NetworkConfiguration::builder()
        .awsvpc_configuration(awsvpc)
        .build())
}

fn strategy(context: &ServiceContext) -> Result<Vec<CapacityProviderStrategyItem>, ComponentError> {
    context
        .default_strategy
        .iter()
        .map(|item| {
            CapacityProviderStrategyItem::builder()
                .capacity_provider(&item.capacity_provider)
                .weight(i32::try_from(item.weight).unwrap_or(i32::MAX))
                .base(i32::try_from(item.base).unwrap_or(i32::MAX))
                .build()
                .map_err(|error| build_error("a capacity provider strategy", error))
        })
        .collect()
}

fn load_balancers(resolved: &Resolved) -> Vec<LoadBalancer> {
    resolved
        .load_balancer
        .iter()
        .map(|balancer| {
            LoadBalancer::builder()
                .target_group_arn(&balancer.target_group_arn)
                .container_name(&balancer.container_name)
                .container_port(balancer.container_port)
                .build()
        })
        .collect()
}

fn api_count(count: u32) -> i32 {
    i32::try_from(count).unwrap_or(i32::MAX)
}

async fn create_service(target: &Target<'_>, revision: &str) -> Result<(), ComponentError> {
    check_resolved(target)?;
    let desired = target.desired;
    let logical_id = ids::service(&desired.id);
    let cluster = &target.context.cluster_name;
    let strategy = strategy(target.context)?;
    // A service without a capacity provider strategy runs on the EC2 launch type.
    let launch_type = strategy.is_empty().then_some(LaunchType::Ec2);
    // The same token makes a retried create return the service that the lost
    // response created, instead of failing on the name.
    let token = target.tagger.client_token(&logical_id, revision);
    target
        .client
        .create_service()
        .cluster(cluster)
        .service_name(&desired.name)
        .task_definition(revision)
        .desired_count(api_count(desired.desired_count))
        .set_capacity_provider_strategy((!strategy.is_empty()).then_some(strategy))
        .set_launch_type(launch_type)
        .network_configuration(network_configuration(target.resolved)?)
        .set_load_balancers(Some(load_balancers(target.resolved)))
        .set_tags(Some(ecs_tags(
            &target.tagger.desired(&logical_id, &desired.name),
        )))
        .client_token(&token[..CLIENT_TOKEN_LENGTH])
        .send()
        .await
        .map_err(|error| {
            crate::failures::call_failed(format!("CreateService {cluster}/{}", desired.name), error)
        })?;
    tracing::info!(service = %desired.name, %cluster, %revision, "created service");
    Ok(())
}

async fn update_service(
    target: &Target<'_>,
    revision: &str,
    update: &ServiceUpdate,
) -> Result<(), ComponentError> {
    check_resolved(target)?;
    let desired = target.desired;
    let cluster = &target.context.cluster_name;
    let mut request = target
        .client
        .update_service()
        .cluster(cluster)
        .service(&desired.name);
    if update.task_definition {
        request = request.task_definition(revision);
    }
    if update.desired_count {
        request = request.desired_count(api_count(desired.desired_count));
    }
    if update.network {
        request = request.network_configuration(network_configuration(target.resolved)?);
    }
    if update.capacity_provider_strategy {
        request = request.set_capacity_provider_strategy(Some(strategy(target.context)?));
    }
    if update.load_balancers {
        request = request.set_load_balancers(Some(load_balancers(target.resolved)));
    }
    if update.forces_deployment() {
        request = request.force_new_deployment(true);
    }
    request.send().await.map_err(|error| {
        crate::failures::call_failed(format!("UpdateService {cluster}/{}", desired.name), error)
    })?;
    tracing::info!(service = %desired.name, %cluster, ?update, "updated service");
    Ok(())
}

async fn retag(client: &Client, arn: &str, delta: &TagDelta) -> Result<(), ComponentError> {
    if !delta.set.is_empty() {
        client
            .tag_resource()
            .resource_arn(arn)
            .set_tags(Some(ecs_tags(&delta.set)))
            .send()
            .await
            .map_err(|error| crate::failures::call_failed(format!("TagResource {arn}"), error))?;
    }
    if !delta.remove.is_empty() {
        client
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
