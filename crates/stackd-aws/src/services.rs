//! The service component: one ECS service and the task definition family it runs.
//!
//! The task definition is compared with the latest ACTIVE revision of its family,
//! after the fields that ECS fills in are given their default values (see
//! [`TaskSpec`]), so that an unchanged file never registers a new revision. The
//! service is found by name in its cluster, and its `stackd:stack` and `stackd:id`
//! tags tell whether it is ours. A service that left the file is deleted by the
//! compute component, because it must be gone before its capacity provider and
//! its cluster can be.
//!
//! NOTE: the revisions of a service that left the file stay registered (ACTIVE):
//! nothing deregisters them yet.

mod apply;
mod diff;
mod observe;

use crate::clients::AwsClients;
use crate::iam::TemplateValues;
use crate::tags::Tagger;
use crate::{caches, compute, iam, load_balancers, network, security_groups};
use async_trait::async_trait;
use serde::Serialize;
use stackd_engine::{Component, ComponentError, ComponentId, Inputs, Outputs, Planned, Readiness};
use stackd_spec::model::{
    CacheAttribute, Interpolation, Service, ServiceAttribute, Stack, Template,
};
use std::collections::{BTreeMap, BTreeSet};

pub use diff::Action;

/// The kind name of service nodes in the graph.
pub const KIND: &str = "service";

/// The network mode of every task definition that stackd registers: each task gets
/// its own network interface in the service's subnets.
pub(crate) const NETWORK_MODE: &str = "awsvpc";
/// The launch type that the task definitions are checked against.
pub(crate) const COMPATIBILITY: &str = "EC2";
/// The only status of a task definition revision that a service can start.
const ACTIVE: &str = "ACTIVE";

/// Logical ids, as written in each resource's `stackd:id` tag.
pub(crate) mod ids {
    pub fn service(id: &str) -> String {
        format!("service/{id}")
    }
    pub fn task_definition(service: &str) -> String {
        format!("task-definition/{service}")
    }
}

/// Output keys that dependents read.
pub mod outputs {
    pub const SERVICE_ARN: &str = "arn";
    pub const TASK_DEFINITION_ARN: &str = "task-definition.arn";
}

/// Live state of one service and of its task definition family.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServiceLive {
    /// The latest ACTIVE revision of the family.
    pub task_definition: Option<LiveTaskDefinition>,
    /// The service, unless it does not exist or is INACTIVE.
    pub service: Option<LiveService>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LiveTaskDefinition {
    pub arn: String,
    pub revision: i32,
    pub spec: TaskSpec,
    pub tags: BTreeMap<String, String>,
}

/// The fields of a task definition that stackd sets, with the values that ECS fills
/// in when a request leaves them out: container cpu 0, essential true, host port
/// equal to the container port (awsvpc mode allows no other), protocol `tcp`.
/// Environment variables and secrets are maps, so their order makes no difference.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskSpec {
    pub cpu: Option<String>,
    pub memory: Option<String>,
    pub network_mode: Option<String>,
    pub requires_compatibilities: BTreeSet<String>,
    pub execution_role_arn: Option<String>,
    pub task_role_arn: Option<String>,
    /// Containers by name.
    pub containers: BTreeMap<String, ContainerSpec>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerSpec {
    pub image: String,
    pub cpu: i32,
    pub essential: bool,
    pub port_mappings: Vec<PortMapping>,
    pub environment: BTreeMap<String, String>,
    /// Variable name to the ARN of a Secrets Manager secret or SSM parameter.
    pub secrets: BTreeMap<String, String>,
    pub log_configuration: Option<LogConfiguration>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PortMapping {
    pub container_port: i32,
    pub host_port: i32,
    pub protocol: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LogConfiguration {
    pub log_driver: String,
    pub options: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LiveService {
    pub arn: String,
    /// `ACTIVE` or `DRAINING`; INACTIVE services are not observed.
    pub status: String,
    pub task_definition: String,
    pub desired_count: u32,
    /// Set when the service runs on a launch type instead of capacity providers.
    pub launch_type: Option<String>,
    /// Sorted by provider name, because ECS keeps no meaningful order.
    pub capacity_provider_strategy: Vec<compute::StrategyItem>,
    pub network: Option<LiveNetwork>,
    pub load_balancers: Vec<LiveLoadBalancer>,
    pub tags: BTreeMap<String, String>,
}

/// The awsvpc configuration of a service.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LiveNetwork {
    pub subnets: BTreeSet<String>,
    pub security_groups: BTreeSet<String>,
    /// `ENABLED` or `DISABLED`.
    pub assign_public_ip: String,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LiveLoadBalancer {
    pub target_group_arn: String,
    pub container_name: String,
    pub container_port: i32,
}

/// Values from the rest of the file that the component reads besides its service.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceContext {
    /// Name of the service's cluster.
    pub cluster_name: String,
    /// The cluster's default capacity provider strategy, with provider names,
    /// sorted as observe sorts a service's strategy.
    pub default_strategy: Vec<compute::StrategyItem>,
    /// Values of `${account}`, `${region}`, `${stack}` and `${bucket:…}`.
    pub values: TemplateValues,
    /// Role names by role id, to show a role that IAM has not created yet.
    pub role_names: BTreeMap<String, String>,
}

impl ServiceContext {
    /// Collects the service's context from the stack.
    pub fn from_stack(stack: &Stack, service: &Service) -> Self {
        let compute = &stack.compute;
        let default_strategy = compute
            .clusters
            .iter()
            .find(|cluster| cluster.id == service.cluster)
            .map(|cluster| compute::desired_cluster_providers(compute, cluster).1)
            .unwrap_or_default();
        let cluster_name = compute
            .clusters
            .iter()
            .find(|cluster| cluster.id == service.cluster)
            .map_or_else(|| service.cluster.clone(), |cluster| cluster.name.clone());
        ServiceContext {
            cluster_name,
            default_strategy,
            values: TemplateValues::from_stack(stack),
            role_names: stack
                .iam
                .roles
                .iter()
                .map(|role| (role.id.clone(), role.name.clone()))
                .collect(),
        }
    }
}

/// The desired state with the values read from the dependencies' outputs. A value
/// whose resource does not exist yet is listed in `missing`, and plans show it as
/// unknown until applied.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Resolved {
    pub task: TaskSpec,
    pub network: LiveNetwork,
    pub load_balancer: Option<LiveLoadBalancer>,
    pub missing: Vec<String>,
}

impl Resolved {
    fn resolve(desired: &Service, context: &ServiceContext, inputs: &Inputs) -> Self {
        let mut missing = Vec::new();
        let mut lookup = |from: ComponentId, key: String, what: String| -> String {
            match inputs.get(&from, &key) {
                Some(value) => value.to_owned(),
                None => {
                    missing.push(what);
                    stackd_engine::UNKNOWN_UNTIL_APPLIED.to_owned()
                }
            }
        };

        let network_id = ComponentId::single(network::KIND);
        let groups_id = ComponentId::single(security_groups::KIND);
        let iam_id = ComponentId::single(iam::KIND);
        let subnets = desired
            .subnets
            .iter()
            .map(|subnet| {
                lookup(
                    network_id.clone(),
                    network::outputs::subnet_id(subnet),
                    format!("subnet {subnet}"),
                )
            })
            .collect();
        let security_groups = desired
            .security_groups
            .iter()
            .map(|group| {
                lookup(
                    groups_id.clone(),
                    security_groups::group_id_output(group),
                    format!("security group {group}"),
                )
            })
            .collect();
        let load_balancer = desired.load_balancer.as_ref().map(|wanted| {
            let target = &wanted.target_group;
            LiveLoadBalancer {
                target_group_arn: lookup(
                    ComponentId::named(load_balancers::KIND, &target.load_balancer),
                    load_balancers::outputs::target_group_arn(&target.target_group),
                    format!(
                        "target group {}/{}",
                        target.load_balancer, target.target_group
                    ),
                ),
                container_name: wanted.container.clone(),
                container_port: i32::from(wanted.port),
            }
        });
        let mut role_arn = |role: &Option<String>| {
            role.as_ref().map(|role| {
                lookup(
                    iam_id.clone(),
                    iam::outputs::role_arn(role),
                    format!("role {}", context.role_names.get(role).unwrap_or(role)),
                )
            })
        };
        let definition = &desired.task_definition;
        let execution_role_arn = role_arn(&definition.execution_role);
        let task_role_arn = role_arn(&definition.task_role);

        let mut containers = BTreeMap::new();
        for container in &definition.containers {
            let mut render = |template: &Template| -> String {
                let rendered = template.render(|interpolation| match interpolation {
                    Interpolation::Cache { id, attribute } => {
                        let key = match attribute {
                            CacheAttribute::Endpoint => caches::outputs::ENDPOINT_ADDRESS,
                            CacheAttribute::Port => caches::outputs::ENDPOINT_PORT,
                        };
                        Ok(lookup(
                            ComponentId::named(caches::KIND, id),
                            key.to_owned(),
                            format!("{interpolation}"),
                        ))
                    }
                    _ => context.values.render(&Template {
                        parts: vec![stackd_spec::model::TemplatePart::Interpolation(
                            interpolation.clone(),
                        )],
                    }),
                });
                // Validation admits only interpolations that render here, so an
                // error names a defect of the model: the text keeps the reason.
                rendered.unwrap_or_else(|reason| format!("(invalid: {reason})"))
            };
            let port_mappings = container
                .port
                .map(|port| PortMapping {
                    container_port: i32::from(port),
                    host_port: i32::from(port),
                    protocol: "tcp".to_owned(),
                })
                .into_iter()
                .collect();
            let log_configuration = container.log_group.as_ref().map(|group| LogConfiguration {
                log_driver: "awslogs".to_owned(),
                options: BTreeMap::from([
                    ("awslogs-group".to_owned(), group.clone()),
                    ("awslogs-region".to_owned(), context.values.region.clone()),
                    ("awslogs-stream-prefix".to_owned(), container.name.clone()),
                ]),
            });
            let spec = ContainerSpec {
                image: render(&container.image),
                cpu: 0,
                essential: container.essential,
                port_mappings,
                environment: container
                    .environment
                    .iter()
                    .map(|(name, value)| (name.clone(), render(value)))
                    .collect(),
                secrets: container
                    .secrets
                    .iter()
                    .map(|(name, value)| (name.clone(), render(value)))
                    .collect(),
                log_configuration,
            };
            containers.insert(container.name.clone(), spec);
        }

        let task = TaskSpec {
            cpu: definition.cpu.map(|cpu| cpu.to_string()),
            memory: definition.memory.map(|memory| memory.to_string()),
            network_mode: Some(NETWORK_MODE.to_owned()),
            requires_compatibilities: BTreeSet::from([COMPATIBILITY.to_owned()]),
            execution_role_arn,
            task_role_arn,
            containers,
        };
        missing.dedup();
        Resolved {
            task,
            network: LiveNetwork {
                subnets,
                security_groups,
                assign_public_ip: "DISABLED".to_owned(),
            },
            load_balancer,
            missing,
        }
    }
}

/// Reconciles one ECS service and its task definition.
#[derive(Debug)]
pub struct ServiceComponent {
    clients: AwsClients,
    tagger: Tagger,
    desired: Service,
    context: ServiceContext,
    /// Caches whose endpoint or port the containers read.
    caches: Vec<String>,
}

impl ServiceComponent {
    pub fn new(
        clients: AwsClients,
        tagger: Tagger,
        desired: Service,
        context: ServiceContext,
        caches: Vec<String>,
    ) -> Self {
        ServiceComponent {
            clients,
            tagger,
            desired,
            context,
            caches,
        }
    }

    /// Returns whether the file hands the desired count to another system.
    pub(crate) fn count_ignored(desired: &Service) -> bool {
        desired
            .ignore_changes
            .contains(&ServiceAttribute::DesiredCount)
    }
}

#[async_trait]
impl Component for ServiceComponent {
    type Live = ServiceLive;
    type Action = Action;

    fn id(&self) -> ComponentId {
        ComponentId::named(KIND, &self.desired.id)
    }

    fn needs(&self) -> Vec<ComponentId> {
        let mut needs = vec![
            ComponentId::single(network::KIND),
            ComponentId::single(security_groups::KIND),
            ComponentId::single(compute::KIND),
        ];
        let definition = &self.desired.task_definition;
        if definition.execution_role.is_some() || definition.task_role.is_some() {
            needs.push(ComponentId::single(iam::KIND));
        }
        if let Some(balancer) = &self.desired.load_balancer {
            needs.push(ComponentId::named(
                load_balancers::KIND,
                &balancer.target_group.load_balancer,
            ));
        }
        needs.extend(
            self.caches
                .iter()
                .map(|cache| ComponentId::named(caches::KIND, cache)),
        );
        needs
    }

    async fn observe(&self) -> Result<ServiceLive, ComponentError> {
        observe::observe(
            &self.clients.ecs,
            &self.desired,
            &self.context,
            &self.tagger,
        )
        .await
    }

    fn diff(&self, live: &ServiceLive, inputs: &Inputs) -> Vec<Planned<Action>> {
        let resolved = Resolved::resolve(&self.desired, &self.context, inputs);
        diff::diff(&self.desired, &self.context, &self.tagger, &resolved, live)
    }

    async fn apply(
        &self,
        live: &ServiceLive,
        actions: Vec<Action>,
        inputs: &Inputs,
    ) -> Result<(), ComponentError> {
        let resolved = Resolved::resolve(&self.desired, &self.context, inputs);
        let target = apply::Target {
            client: &self.clients.ecs,
            desired: &self.desired,
            context: &self.context,
            tagger: &self.tagger,
            resolved: &resolved,
        };
        apply::apply(&target, live, actions).await
    }

    fn outputs(&self, live: &ServiceLive) -> Outputs {
        let mut outputs = Outputs::new();
        if let Some(service) = &live.service {
            outputs.insert(outputs::SERVICE_ARN.to_owned(), service.arn.clone());
        }
        if let Some(definition) = &live.task_definition {
            outputs.insert(
                outputs::TASK_DEFINITION_ARN.to_owned(),
                definition.arn.clone(),
            );
        }
        outputs
    }

    fn readiness(&self, live: &ServiceLive) -> Readiness {
        match &live.service {
            Some(service) if service.status != ACTIVE => Readiness::Progressing(format!(
                "{} is {}",
                ids::service(&self.desired.id),
                service.status
            )),
            _ => Readiness::Ready,
        }
    }
}

#[cfg(test)]
mod tests;
