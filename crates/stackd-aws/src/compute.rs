//! The compute component: EC2 launch templates, Auto Scaling groups, ECS capacity
//! providers and ECS clusters, which depend on each other in that order.
//!
//! Launch templates and Auto Scaling groups are found by their `stackd:stack` tag,
//! ECS clusters and capacity providers by listing them with their tags. The
//! component also finds the services of this stack in its clusters, because a
//! service that left the file must be gone before its capacity provider and its
//! cluster can be deleted (see `delete.rs`).

mod apply;
mod delete;
mod diff;
mod observe;

use crate::clients::AwsClients;
use crate::tags::Tagger;
use crate::{iam, network, security_groups};
use async_trait::async_trait;
use stackd_engine::{Component, ComponentError, ComponentId, Inputs, Outputs, Planned, Readiness};
use stackd_spec::model::Compute;
use std::collections::{BTreeMap, BTreeSet};

pub use diff::Action;
pub(crate) use diff::desired_cluster_providers;

/// The kind name of the compute node in the graph.
pub const KIND: &str = "compute";

/// Logical ids, as written in each resource's `stackd:id` tag.
pub(crate) mod ids {
    pub fn launch_template(id: &str) -> String {
        format!("launch-template/{id}")
    }
    pub fn auto_scaling_group(id: &str) -> String {
        format!("auto-scaling-group/{id}")
    }
    pub fn capacity_provider(id: &str) -> String {
        format!("capacity-provider/{id}")
    }
    pub fn cluster(id: &str) -> String {
        format!("cluster/{id}")
    }
}

/// Output keys that dependents read.
pub mod outputs {
    pub fn cluster_name(id: &str) -> String {
        format!("cluster.{id}.name")
    }
    pub fn cluster_arn(id: &str) -> String {
        format!("cluster.{id}.arn")
    }
    pub fn capacity_provider_name(id: &str) -> String {
        format!("capacity-provider.{id}.name")
    }
    pub fn capacity_provider_arn(id: &str) -> String {
        format!("capacity-provider.{id}.arn")
    }
    pub fn launch_template_id(id: &str) -> String {
        format!("launch-template.{id}.id")
    }
    pub fn launch_template_version(id: &str) -> String {
        format!("launch-template.{id}.version")
    }
    pub fn auto_scaling_group_name(id: &str) -> String {
        format!("auto-scaling-group.{id}.name")
    }
    pub fn auto_scaling_group_arn(id: &str) -> String {
        format!("auto-scaling-group.{id}.arn")
    }
}

/// Live state of the stack's compute resources, each map keyed by the `stackd:id`
/// tag, so that resources which left the file are in it too.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ComputeLive {
    pub launch_templates: BTreeMap<String, LiveLaunchTemplate>,
    pub auto_scaling_groups: BTreeMap<String, LiveAutoScalingGroup>,
    pub capacity_providers: BTreeMap<String, LiveCapacityProvider>,
    pub clusters: BTreeMap<String, LiveCluster>,
    /// Services of this stack in its clusters whose `stackd:id` the file no longer names.
    pub leftover_services: BTreeMap<String, LiveService>,
}

/// The fields of a launch template version that stackd sets, in comparable form.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TemplateData {
    /// An AMI id, or `resolve:ssm:PARAMETER` for an AMI that EC2 reads at launch.
    pub image_id: Option<String>,
    pub instance_type: Option<String>,
    /// Name of the instance profile; an ARN in AWS is reduced to its name.
    pub instance_profile: Option<String>,
    pub security_group_ids: BTreeSet<String>,
    /// Decoded from base64.
    pub user_data: Option<String>,
    /// `required` makes instances use IMDSv2 only.
    pub http_tokens: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LiveLaunchTemplate {
    pub id: String,
    pub name: String,
    pub default_version: i64,
    pub default_data: TemplateData,
    pub latest_version: i64,
    pub latest_data: TemplateData,
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LiveAutoScalingGroup {
    pub name: String,
    pub arn: String,
    /// `Delete in progress` while AWS deletes the group, else absent.
    pub status: Option<String>,
    pub min_size: u32,
    pub max_size: u32,
    pub desired_capacity: u32,
    /// Launch template id and version, from the mixed instances policy or the group.
    pub launch_template: Option<(String, String)>,
    /// Whether the group has a mixed instances policy.
    pub mixed: bool,
    pub instance_types: Vec<String>,
    pub on_demand_base_capacity: Option<u32>,
    pub on_demand_percentage_above_base_capacity: Option<u32>,
    pub spot_allocation_strategy: Option<String>,
    pub subnet_ids: BTreeSet<String>,
    pub new_instances_protected_from_scale_in: bool,
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LiveCapacityProvider {
    pub name: String,
    pub arn: String,
    /// `ACTIVE`; INACTIVE providers are not observed.
    pub status: String,
    /// Such as `UPDATE_IN_PROGRESS` or `DELETE_IN_PROGRESS`.
    pub update_status: Option<String>,
    pub auto_scaling_group_arn: String,
    pub managed_scaling: LiveManagedScaling,
    pub managed_termination_protection: bool,
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LiveManagedScaling {
    pub enabled: bool,
    pub target_capacity: Option<u32>,
    pub minimum_scaling_step_size: Option<u32>,
    pub maximum_scaling_step_size: Option<u32>,
    pub instance_warmup_period: Option<u32>,
}

/// One item of a capacity provider strategy, with the provider's name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct StrategyItem {
    pub capacity_provider: String,
    pub weight: u32,
    pub base: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LiveCluster {
    pub name: String,
    pub arn: String,
    /// `ACTIVE`, `PROVISIONING`, `DEPROVISIONING` or `FAILED`; INACTIVE clusters are
    /// not observed.
    pub status: String,
    pub capacity_providers: BTreeSet<String>,
    /// Sorted by provider name, because ECS keeps no meaningful order.
    pub default_strategy: Vec<StrategyItem>,
    pub tags: BTreeMap<String, String>,
}

/// A service as the compute component sees it: only what deleting it needs.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveService {
    pub cluster: String,
    pub name: String,
    pub arn: String,
    /// `ACTIVE` or `DRAINING`.
    pub status: String,
    pub desired_count: u32,
}

/// The AWS ids that the launch templates and groups need, read from the outputs of
/// the network, security-groups and iam components.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Resolved {
    pub subnets: BTreeMap<String, String>,
    pub security_groups: BTreeMap<String, String>,
    /// Instance profile ARNs by role id.
    pub instance_profiles: BTreeMap<String, String>,
}

impl Resolved {
    fn resolve(desired: &Compute, inputs: &Inputs) -> Self {
        let network_id = ComponentId::single(network::KIND);
        let groups_id = ComponentId::single(security_groups::KIND);
        let iam_id = ComponentId::single(iam::KIND);
        let mut resolved = Resolved::default();
        for group in &desired.auto_scaling_groups {
            for subnet in &group.subnets {
                if let Some(id) = inputs.get(&network_id, &network::outputs::subnet_id(subnet)) {
                    resolved.subnets.insert(subnet.clone(), id.to_owned());
                }
            }
        }
        for template in &desired.launch_templates {
            for group in &template.security_groups {
                if let Some(id) = inputs.get(&groups_id, &security_groups::group_id_output(group)) {
                    resolved
                        .security_groups
                        .insert(group.clone(), id.to_owned());
                }
            }
            if let Some(role) = &template.instance_profile
                && let Some(arn) = inputs.get(&iam_id, &iam::outputs::instance_profile_arn(role))
            {
                resolved
                    .instance_profiles
                    .insert(role.clone(), arn.to_owned());
            }
        }
        resolved
    }
}

/// What the component needs from the rest of the file besides its own section.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ComputeContext {
    /// Instance profile names by role id: IAM names a role's profile after the role.
    pub instance_profile_names: BTreeMap<String, String>,
    /// The name of every service of the file, by `stackd:id` such as `service/api`.
    pub services: BTreeMap<String, String>,
}

/// Reconciles the stack's launch templates, Auto Scaling groups, capacity providers
/// and clusters, and deletes the ones (and the services) that left the file.
#[derive(Debug)]
pub struct ComputeComponent {
    clients: AwsClients,
    tagger: Tagger,
    desired: Compute,
    context: ComputeContext,
}

impl ComputeComponent {
    pub fn new(
        clients: AwsClients,
        tagger: Tagger,
        desired: Compute,
        context: ComputeContext,
    ) -> Self {
        ComputeComponent {
            clients,
            tagger,
            desired,
            context,
        }
    }
}

#[async_trait]
impl Component for ComputeComponent {
    type Live = ComputeLive;
    type Action = Action;

    fn id(&self) -> ComponentId {
        ComponentId::single(KIND)
    }

    fn needs(&self) -> Vec<ComponentId> {
        let mut needs = vec![
            ComponentId::single(network::KIND),
            ComponentId::single(security_groups::KIND),
        ];
        if self
            .desired
            .launch_templates
            .iter()
            .any(|template| template.instance_profile.is_some())
        {
            needs.push(ComponentId::single(iam::KIND));
        }
        needs
    }

    async fn observe(&self) -> Result<ComputeLive, ComponentError> {
        observe::observe(&self.clients, &self.desired, &self.context, &self.tagger).await
    }

    fn diff(&self, live: &ComputeLive, inputs: &Inputs) -> Vec<Planned<Action>> {
        let resolved = Resolved::resolve(&self.desired, inputs);
        diff::diff(&self.desired, &self.context, &self.tagger, &resolved, live)
    }

    async fn apply(
        &self,
        live: &ComputeLive,
        actions: Vec<Action>,
        inputs: &Inputs,
    ) -> Result<(), ComponentError> {
        let resolved = Resolved::resolve(&self.desired, inputs);
        let target = apply::Target {
            clients: &self.clients,
            desired: &self.desired,
            context: &self.context,
            tagger: &self.tagger,
            resolved: &resolved,
        };
        apply::apply(&target, live, actions).await
    }

    fn outputs(&self, live: &ComputeLive) -> Outputs {
        let mut outputs = Outputs::new();
        for template in &self.desired.launch_templates {
            if let Some(found) = live
                .launch_templates
                .get(&ids::launch_template(&template.id))
            {
                outputs.insert(outputs::launch_template_id(&template.id), found.id.clone());
                outputs.insert(
                    outputs::launch_template_version(&template.id),
                    found.default_version.to_string(),
                );
            }
        }
        for group in &self.desired.auto_scaling_groups {
            if let Some(found) = live
                .auto_scaling_groups
                .get(&ids::auto_scaling_group(&group.id))
            {
                outputs.insert(
                    outputs::auto_scaling_group_name(&group.id),
                    found.name.clone(),
                );
                outputs.insert(
                    outputs::auto_scaling_group_arn(&group.id),
                    found.arn.clone(),
                );
            }
        }
        for provider in &self.desired.capacity_providers {
            if let Some(found) = live
                .capacity_providers
                .get(&ids::capacity_provider(&provider.id))
            {
                outputs.insert(
                    outputs::capacity_provider_name(&provider.id),
                    found.name.clone(),
                );
                outputs.insert(
                    outputs::capacity_provider_arn(&provider.id),
                    found.arn.clone(),
                );
            }
        }
        for cluster in &self.desired.clusters {
            if let Some(found) = live.clusters.get(&ids::cluster(&cluster.id)) {
                outputs.insert(outputs::cluster_name(&cluster.id), found.name.clone());
                outputs.insert(outputs::cluster_arn(&cluster.id), found.arn.clone());
            }
        }
        outputs
    }

    fn readiness(&self, live: &ComputeLive) -> Readiness {
        let mut pending = Vec::new();
        for (id, group) in &live.auto_scaling_groups {
            if let Some(status) = &group.status {
                pending.push(format!("{id} is {status}"));
            }
        }
        for (id, provider) in &live.capacity_providers {
            if let Some(status) = provider
                .update_status
                .as_deref()
                .filter(|status| status.ends_with("_IN_PROGRESS"))
            {
                pending.push(format!("{id} is {status}"));
            }
        }
        // A deleted service drains its tasks before ECS marks it INACTIVE.
        for (id, service) in &live.leftover_services {
            if service.status == "DRAINING" {
                pending.push(format!("{id} is DRAINING"));
            }
        }
        for (id, cluster) in &live.clusters {
            if cluster.status != "ACTIVE" {
                pending.push(format!("{id} is {}", cluster.status));
            }
        }
        if pending.is_empty() {
            Readiness::Ready
        } else {
            Readiness::Progressing(pending.join(", "))
        }
    }
}

#[cfg(test)]
mod tests;
