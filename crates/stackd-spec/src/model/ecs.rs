//! ECS services and their task definitions.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{TargetGroupRef, Template};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Service {
    pub id: String,
    pub name: String,
    /// Logical id of a cluster.
    pub cluster: String,
    pub desired_count: u32,
    /// Logical ids of the subnets of the tasks' network interfaces (awsvpc network mode).
    pub subnets: Vec<String>,
    /// Logical ids of security groups.
    pub security_groups: Vec<String>,
    pub load_balancer: Option<ServiceLoadBalancer>,
    pub task_definition: TaskDefinition,
    /// Attributes that stackd sets on creation and never reverts afterwards.
    pub ignore_changes: Vec<ServiceAttribute>,
}

/// A service attribute that another system can own, such as Application Auto Scaling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ServiceAttribute {
    DesiredCount,
}

/// Registration of one container port with a target group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceLoadBalancer {
    pub target_group: TargetGroupRef,
    /// Name of a container of the task definition.
    pub container: String,
    /// A port that the container exposes.
    pub port: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskDefinition {
    pub family: String,
    /// CPU units; 1024 is one vCPU.
    pub cpu: Option<u32>,
    /// MiB.
    pub memory: Option<u32>,
    /// Logical id of the role that ECS uses to pull images, write logs and read secrets.
    pub execution_role: Option<String>,
    /// Logical id of the role that the containers assume.
    pub task_role: Option<String>,
    pub containers: Vec<ContainerDefinition>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerDefinition {
    /// Unique within the task definition.
    pub name: String,
    pub image: Template,
    /// Container port, TCP.
    pub port: Option<u16>,
    pub essential: bool,
    pub environment: BTreeMap<String, Template>,
    /// Variable name to the ARN of a Secrets Manager secret or SSM parameter.
    pub secrets: BTreeMap<String, Template>,
    /// CloudWatch Logs group of the awslogs driver.
    pub log_group: Option<String>,
}

impl TaskDefinition {
    /// Finds a container by name.
    pub fn container(&self, name: &str) -> Option<&ContainerDefinition> {
        self.containers
            .iter()
            .find(|container| container.name == name)
    }
}
