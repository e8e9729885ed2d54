//! Reads the latest ACTIVE task definition revision of the family and the service,
//! each with its tags, in one call apiece.

use super::{
    ACTIVE, ContainerSpec, LiveLoadBalancer, LiveNetwork, LiveService, LiveTaskDefinition,
    LogConfiguration, NETWORK_MODE, PortMapping, ServiceContext, ServiceLive, TaskSpec, ids,
};
use crate::compute::StrategyItem;
use crate::tags::{ID_TAG, STACK_TAG, Tagger, comparable};
use aws_sdk_ecs::Client;
use aws_sdk_ecs::operation::describe_services::DescribeServicesError;
use aws_sdk_ecs::operation::describe_task_definition::DescribeTaskDefinitionError;
use aws_sdk_ecs::types::{
    ContainerDefinition, Service, ServiceField, Tag, TaskDefinition, TaskDefinitionField,
};
use stackd_engine::ComponentError;
use stackd_spec::model;
use std::collections::BTreeMap;

/// The status of a deleted service, which ECS still describes for a while.
const INACTIVE: &str = "INACTIVE";

/// Observes the task definition family and the service at the same time.
///
/// A service that has the file's name but not this stack's tags belongs to someone
/// else: the component is blocked and stackd never changes it. Task definitions
/// are not checked that way, because their family is unique to the service.
pub(super) async fn observe(
    client: &Client,
    desired: &model::Service,
    context: &ServiceContext,
    tagger: &Tagger,
) -> Result<ServiceLive, ComponentError> {
    let (task_definition, service) = tokio::try_join!(
        describe_task_definition(client, &desired.task_definition.family),
        describe_service(client, &context.cluster_name, &desired.name),
    )?;
    let service = match service {
        Some(service) => {
            let live = live_service(&service);
            check_owner(
                &desired.name,
                &live.tags,
                tagger,
                &ids::service(&desired.id),
            )?;
            Some(live)
        }
        None => None,
    };
    Ok(ServiceLive {
        task_definition,
        service,
    })
}

/// Reads the latest ACTIVE revision of a family.
///
/// NOTE: ECS models no not-found error for task definitions. It rejects an unknown
/// family with ClientException ("Unable to describe task definition."), so that
/// modeled error is read as "no revision". A denied call is AccessDeniedException,
/// which still fails the observation.
async fn describe_task_definition(
    client: &Client,
    family: &str,
) -> Result<Option<LiveTaskDefinition>, ComponentError> {
    let response = match client
        .describe_task_definition()
        .task_definition(family)
        .include(TaskDefinitionField::Tags)
        .send()
        .await
    {
        Ok(response) => response,
        Err(error)
            if matches!(
                error.as_service_error(),
                Some(DescribeTaskDefinitionError::ClientException(_))
            ) =>
        {
            return Ok(None);
        }
        Err(error) => {
            return Err(crate::failures::call_failed(
                format!("DescribeTaskDefinition {family}"),
                error,
            ));
        }
    };
    let Some(definition) = response.task_definition() else {
        return Ok(None);
    };
    // ECS describes the latest ACTIVE revision of a family. An INACTIVE one can
    // only come from an emulator, and a service could not start it.
    if definition.status().map(|status| status.as_str()) != Some(ACTIVE) {
        return Ok(None);
    }
    Ok(Some(LiveTaskDefinition {
        arn: definition
            .task_definition_arn()
            .unwrap_or_default()
            .to_owned(),
        revision: definition.revision(),
        spec: task_spec(definition),
        tags: tags_of(response.tags()),
    }))
}

async fn describe_service(
    client: &Client,
    cluster: &str,
    name: &str,
) -> Result<Option<Service>, ComponentError> {
    let response = match client
        .describe_services()
        .cluster(cluster)
        .services(name)
        .include(ServiceField::Tags)
        .send()
        .await
    {
        Ok(response) => response,
        Err(error)
            if matches!(
                error.as_service_error(),
                Some(DescribeServicesError::ClusterNotFoundException(_))
            ) =>
        {
            return Ok(None);
        }
        Err(error) => {
            return Err(crate::failures::call_failed(
                format!("DescribeServices {cluster}/{name}"),
                error,
            ));
        }
    };
    // A missing service is a failure with reason MISSING, not an error.
    Ok(response
        .services()
        .iter()
        .find(|service| service.service_name() == Some(name) && service.status() != Some(INACTIVE))
        .cloned())
}

fn check_owner(
    name: &str,
    tags: &BTreeMap<String, String>,
    tagger: &Tagger,
    logical_id: &str,
) -> Result<(), ComponentError> {
    let stack = tagger.stack();
    let ours = tags.get(STACK_TAG).map(String::as_str) == Some(stack)
        && tags.get(ID_TAG).map(String::as_str) == Some(logical_id);
    if ours {
        return Ok(());
    }
    Err(ComponentError::Blocked(format!(
        "service {name} exists without the tags {STACK_TAG}={stack} and {ID_TAG}={logical_id}, so \
         it belongs to someone else; stackd leaves it alone until it is adopted by adding those tags"
    )))
}

fn tags_of(tags: &[Tag]) -> BTreeMap<String, String> {
    comparable(tags.iter().filter_map(|tag| {
        Some((
            tag.key()?.to_owned(),
            tag.value().unwrap_or_default().to_owned(),
        ))
    }))
}

/// Converts a described task definition to the comparable form, giving every field
/// that ECS may leave out or fill in its default value.
pub(super) fn task_spec(definition: &TaskDefinition) -> TaskSpec {
    let network_mode = definition
        .network_mode()
        .map(|mode| mode.as_str().to_owned());
    let awsvpc = network_mode.as_deref() == Some(NETWORK_MODE);
    TaskSpec {
        cpu: definition.cpu().map(str::to_owned),
        memory: definition.memory().map(str::to_owned),
        network_mode,
        requires_compatibilities: definition
            .requires_compatibilities()
            .iter()
            .map(|compatibility| compatibility.as_str().to_owned())
            .collect(),
        execution_role_arn: definition.execution_role_arn().map(str::to_owned),
        task_role_arn: definition.task_role_arn().map(str::to_owned),
        containers: definition
            .container_definitions()
            .iter()
            .map(|container| {
                (
                    container.name().unwrap_or_default().to_owned(),
                    container_spec(container, awsvpc),
                )
            })
            .collect(),
    }
}

fn container_spec(container: &ContainerDefinition, awsvpc: bool) -> ContainerSpec {
    let mut port_mappings: Vec<PortMapping> = container
        .port_mappings()
        .iter()
        .filter_map(|mapping| {
            let container_port = mapping.container_port()?;
            // In awsvpc mode the host port is the container port, whether or not
            // the request named it.
            let host_port = match mapping.host_port() {
                Some(port) if !awsvpc => port,
                _ => container_port,
            };
            Some(PortMapping {
                container_port,
                host_port,
                protocol: mapping
                    .protocol()
                    .map_or_else(|| "tcp".to_owned(), |protocol| protocol.as_str().to_owned()),
            })
        })
        .collect();
    port_mappings.sort();
    ContainerSpec {
        image: container.image().unwrap_or_default().to_owned(),
        cpu: container.cpu(),
        essential: container.essential().unwrap_or(true),
        port_mappings,
        environment: container
            .environment()
            .iter()
            .filter_map(|pair| {
                Some((
                    pair.name()?.to_owned(),
                    pair.value().unwrap_or_default().to_owned(),
                ))
            })
            .collect(),
        secrets: container
            .secrets()
            .iter()
            .map(|secret| (secret.name().to_owned(), secret.value_from().to_owned()))
            .collect(),
        log_configuration: container.log_configuration().map(|log| LogConfiguration {
            log_driver: log.log_driver().as_str().to_owned(),
            options: log
                .options()
                .map(|options| {
                    options
                        .iter()
                        .map(|(key, value)| (key.clone(), value.clone()))
                        .collect()
                })
                .unwrap_or_default(),
        }),
    }
}

fn live_service(service: &Service) -> LiveService {
    let mut strategy: Vec<StrategyItem> = service
        .capacity_provider_strategy()
        .iter()
        .map(|item| StrategyItem {
            capacity_provider: item.capacity_provider().to_owned(),
            weight: u32::try_from(item.weight()).unwrap_or_default(),
            base: u32::try_from(item.base()).unwrap_or_default(),
        })
        .collect();
    strategy.sort();
    let network = service
        .network_configuration()
        .and_then(|configuration| configuration.awsvpc_configuration())
        .map(|awsvpc| LiveNetwork {
            subnets: awsvpc.subnets().iter().cloned().collect(),
            security_groups: awsvpc.security_groups().iter().cloned().collect(),
            // ECS reports DISABLED when the request left the field out.
            assign_public_ip: awsvpc.assign_public_ip().map_or_else(
                || "DISABLED".to_owned(),
                |assign| assign.as_str().to_owned(),
            ),
        });
    let mut load_balancers: Vec<LiveLoadBalancer> = service
        .load_balancers()
        .iter()
        .map(|balancer| LiveLoadBalancer {
            target_group_arn: balancer.target_group_arn().unwrap_or_default().to_owned(),
            container_name: balancer.container_name().unwrap_or_default().to_owned(),
            container_port: balancer.container_port().unwrap_or_default(),
        })
        .collect();
    load_balancers.sort();
    LiveService {
        arn: service.service_arn().unwrap_or_default().to_owned(),
        status: service.status().unwrap_or_default().to_owned(),
        task_definition: service.task_definition().unwrap_or_default().to_owned(),
        desired_count: u32::try_from(service.desired_count()).unwrap_or_default(),
        launch_type: service
            .launch_type()
            .map(|launch_type| launch_type.as_str().to_owned())
            .filter(|launch_type| !launch_type.is_empty()),
        capacity_provider_strategy: strategy,
        network,
        load_balancers,
        tags: tags_of(service.tags()),
    }
}

#[cfg(test)]
pub(super) fn live_service_for_tests(service: &Service) -> LiveService {
    live_service(service)
}
