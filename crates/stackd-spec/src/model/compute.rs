//! EC2 launch templates, Auto Scaling groups, ECS capacity providers and ECS clusters.

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Compute {
    pub launch_templates: Vec<LaunchTemplate>,
    pub auto_scaling_groups: Vec<AutoScalingGroup>,
    pub capacity_providers: Vec<CapacityProvider>,
    pub clusters: Vec<Cluster>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LaunchTemplate {
    pub id: String,
    pub name: String,
    pub instance_type: String,
    pub ami: Ami,
    /// Logical id of a role that has an instance profile.
    pub instance_profile: Option<String>,
    /// Logical ids of security groups.
    pub security_groups: Vec<String>,
    /// Logical id of the ECS cluster that the instances join (`ECS_CLUSTER` in the user data).
    pub cluster: Option<String>,
}

/// Source of the image id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Ami {
    /// SSM parameter whose value is the AMI id, resolved by EC2 at launch.
    SsmParameter(String),
    /// AMI id such as `ami-0123456789abcdef0`.
    Id(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AutoScalingGroup {
    pub id: String,
    pub name: String,
    /// Logical id of a launch template.
    pub launch_template: String,
    /// Logical ids of subnets.
    pub subnets: Vec<String>,
    pub min_size: u32,
    /// At least `min_size`.
    pub max_size: u32,
    /// Between `min_size` and `max_size` when set.
    pub desired_capacity: Option<u32>,
    /// Mixed instances policy. `None` runs on-demand instances of the launch template's type.
    pub spot: Option<SpotOptions>,
    pub new_instances_protected_from_scale_in: bool,
    /// Attributes that stackd sets on creation and never reverts afterwards.
    pub ignore_changes: Vec<AutoScalingGroupAttribute>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SpotOptions {
    /// Instance type overrides of the mixed instances policy, at least one.
    pub instance_types: Vec<String>,
    pub on_demand_base_capacity: u32,
    /// Percent, 0 to 100.
    pub on_demand_percentage_above_base_capacity: u8,
    pub allocation_strategy: SpotAllocationStrategy,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SpotAllocationStrategy {
    PriceCapacityOptimized,
    CapacityOptimized,
    CapacityOptimizedPrioritized,
    LowestPrice,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum AutoScalingGroupAttribute {
    DesiredCapacity,
    MinSize,
    MaxSize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CapacityProvider {
    pub id: String,
    pub name: String,
    /// Logical id of an Auto Scaling group that no other capacity provider uses.
    pub auto_scaling_group: String,
    pub managed_scaling: Option<ManagedScaling>,
    /// Requires the group's `new_instances_protected_from_scale_in`.
    pub managed_termination_protection: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ManagedScaling {
    /// Target utilisation in percent, 1 to 100.
    pub target_capacity: u32,
    /// 1 to 10000, at most `maximum_scaling_step_size`.
    pub minimum_scaling_step_size: u32,
    /// 1 to 10000.
    pub maximum_scaling_step_size: u32,
    /// Seconds, or ECS's default (300) when `None`.
    pub instance_warmup_period: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Cluster {
    pub id: String,
    pub name: String,
    /// Logical ids of capacity providers.
    pub capacity_providers: Vec<String>,
    /// Items that each name one of `capacity_providers`. At most one item has a base.
    pub default_strategy: Vec<CapacityProviderStrategyItem>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CapacityProviderStrategyItem {
    /// Logical id of a capacity provider.
    pub capacity_provider: String,
    /// 0 to 1000.
    pub weight: u32,
    /// 0 to 100000.
    pub base: u32,
}
