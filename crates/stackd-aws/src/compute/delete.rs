//! Deletes the compute resources and services that left the file, in the only order
//! that AWS accepts: services drained and deleted, capacity providers detached from
//! their clusters, capacity providers, Auto Scaling groups, launch templates, clusters.
//!
//! Most of these deletions finish asynchronously (a service drains, a capacity provider
//! and an Auto Scaling group are deleted in the background), and AWS rejects the next
//! step with an "in use" error until the previous one has finished. [`run_deletions`]
//! runs the steps in order and stops at the first such error: the engine requeues the
//! component, and the next pass starts again from the first step that remains.

use crate::clients::AwsClients;
use aws_sdk_autoscaling::operation::delete_auto_scaling_group::DeleteAutoScalingGroupError;
use aws_sdk_ecs::error::ProvideErrorMetadata;
use aws_sdk_ecs::operation::delete_cluster::DeleteClusterError;
use aws_sdk_ecs::operation::put_cluster_capacity_providers::PutClusterCapacityProvidersError;
use stackd_engine::ComponentError;

/// One deletion step, with the live state that decides whether it needs a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Deletion {
    /// Scales the service to zero tasks, then deletes it. ECS then drains it.
    Service {
        cluster: String,
        name: String,
        desired_count: u32,
        /// The service is already DRAINING: it was deleted and needs no call.
        draining: bool,
    },
    /// Removes every capacity provider and the default strategy from a cluster.
    DetachCapacityProviders { cluster: String },
    CapacityProvider {
        name: String,
        /// ECS is already deleting it: wait until it is gone.
        deleting: bool,
    },
    /// Deletes the group and terminates its instances, protected ones included.
    AutoScalingGroup {
        name: String,
        /// Auto Scaling is already deleting it: wait until it is gone.
        deleting: bool,
    },
    LaunchTemplate { id: String },
    Cluster { name: String },
}

impl Deletion {
    /// Returns the position of the step in the deletion order.
    fn rank(&self) -> u8 {
        match self {
            Deletion::Service { .. } => 0,
            Deletion::DetachCapacityProviders { .. } => 1,
            Deletion::CapacityProvider { .. } => 2,
            Deletion::AutoScalingGroup { .. } => 3,
            Deletion::LaunchTemplate { .. } => 4,
            Deletion::Cluster { .. } => 5,
        }
    }
}

/// How far a run of [`run_deletions`] got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeletionProgress {
    /// Every step was sent.
    Done,
    /// A step waits for an earlier one that AWS has not finished; the reason says which.
    Waiting(String),
}

/// Runs the deletion steps in the order of the module's doc, whatever the order of
/// `steps`, and stops at the first step that must wait for an earlier one.
///
/// # Errors
/// Returns the first call that fails for another reason than "in use".
pub async fn run_deletions(
    clients: &AwsClients,
    steps: &[Deletion],
) -> Result<DeletionProgress, ComponentError> {
    let mut ordered: Vec<&Deletion> = steps.iter().collect();
    ordered.sort_by_key(|step| step.rank());
    for step in ordered {
        if let DeletionProgress::Waiting(reason) = run_step(clients, step).await? {
            tracing::debug!(%reason, "deletion waits for AWS");
            return Ok(DeletionProgress::Waiting(reason));
        }
    }
    Ok(DeletionProgress::Done)
}

async fn run_step(
    clients: &AwsClients,
    step: &Deletion,
) -> Result<DeletionProgress, ComponentError> {
    let ecs = &clients.ecs;
    match step {
        Deletion::Service {
            cluster,
            name,
            desired_count,
            draining,
        } => {
            if *draining {
                return Ok(DeletionProgress::Done);
            }
            if *desired_count > 0 {
                ecs.update_service()
                    .cluster(cluster)
                    .service(name)
                    .desired_count(0)
                    .send()
                    .await
                    .map_err(|error| {
                        ComponentError::call(format!("UpdateService {name} to 0 tasks"), error)
                    })?;
                tracing::info!(service = %name, %cluster, "scaled service to 0 tasks before deleting it");
            }
            ecs.delete_service()
                .cluster(cluster)
                .service(name)
                .send()
                .await
                .map_err(|error| ComponentError::call(format!("DeleteService {name}"), error))?;
            tracing::info!(service = %name, %cluster, "deleted service that left the file");
        }
        Deletion::DetachCapacityProviders { cluster } => {
            match ecs
                .put_cluster_capacity_providers()
                .cluster(cluster)
                .set_capacity_providers(Some(Vec::new()))
                .set_default_capacity_provider_strategy(Some(Vec::new()))
                .send()
                .await
            {
                Ok(_) => {
                    tracing::info!(%cluster, "detached capacity providers from cluster");
                }
                Err(error)
                    if matches!(
                        error.as_service_error(),
                        Some(
                            PutClusterCapacityProvidersError::ResourceInUseException(_)
                                | PutClusterCapacityProvidersError::UpdateInProgressException(_)
                        )
                    ) =>
                {
                    return Ok(DeletionProgress::Waiting(format!(
                        "cluster {cluster} still runs tasks on its capacity providers"
                    )));
                }
                Err(error) => {
                    return Err(ComponentError::call(
                        format!("PutClusterCapacityProviders {cluster}"),
                        error,
                    ));
                }
            }
        }
        Deletion::CapacityProvider { name, deleting } => {
            if *deleting {
                return Ok(DeletionProgress::Waiting(format!(
                    "capacity provider {name} is being deleted"
                )));
            }
            match ecs
                .delete_capacity_provider()
                .capacity_provider(name)
                .send()
                .await
            {
                Ok(_) => tracing::info!(capacity_provider = %name, "deleted capacity provider that left the file"),
                // DeleteCapacityProvider models no "in use" error, so the code that ECS
                // sends for a provider that a cluster or service still uses is read here.
                Err(error) if is_in_use_code(error.code()) => {
                    return Ok(DeletionProgress::Waiting(format!(
                        "capacity provider {name} is still in use"
                    )));
                }
                Err(error) => {
                    return Err(ComponentError::call(
                        format!("DeleteCapacityProvider {name}"),
                        error,
                    ));
                }
            }
        }
        Deletion::AutoScalingGroup { name, deleting } => {
            if *deleting {
                return Ok(DeletionProgress::Waiting(format!(
                    "Auto Scaling group {name} is being deleted"
                )));
            }
            match clients
                .autoscaling
                .delete_auto_scaling_group()
                .auto_scaling_group_name(name)
                .force_delete(true)
                .send()
                .await
            {
                Ok(_) => tracing::info!(auto_scaling_group = %name, "deleting Auto Scaling group that left the file"),
                Err(error)
                    if matches!(
                        error.as_service_error(),
                        Some(
                            DeleteAutoScalingGroupError::ResourceInUseFault(_)
                                | DeleteAutoScalingGroupError::ScalingActivityInProgressFault(_)
                        )
                    ) =>
                {
                    return Ok(DeletionProgress::Waiting(format!(
                        "Auto Scaling group {name} is still in use"
                    )));
                }
                Err(error) => {
                    return Err(ComponentError::call(
                        format!("DeleteAutoScalingGroup {name}"),
                        error,
                    ));
                }
            }
        }
        Deletion::LaunchTemplate { id } => {
            clients
                .ec2
                .delete_launch_template()
                .launch_template_id(id)
                .send()
                .await
                .map_err(|error| ComponentError::call(format!("DeleteLaunchTemplate {id}"), error))?;
            tracing::info!(launch_template = %id, "deleted launch template that left the file");
        }
        Deletion::Cluster { name } => {
            match ecs.delete_cluster().cluster(name).send().await {
                Ok(_) => tracing::info!(cluster = %name, "deleted cluster that left the file"),
                Err(error)
                    if matches!(
                        error.as_service_error(),
                        Some(
                            DeleteClusterError::ClusterContainsServicesException(_)
                                | DeleteClusterError::ClusterContainsContainerInstancesException(_)
                                | DeleteClusterError::ClusterContainsTasksException(_)
                                | DeleteClusterError::ClusterContainsCapacityProviderException(_)
                                | DeleteClusterError::UpdateInProgressException(_)
                        )
                    ) =>
                {
                    return Ok(DeletionProgress::Waiting(format!(
                        "cluster {name} still has services, instances or tasks"
                    )));
                }
                Err(error) => {
                    return Err(ComponentError::call(format!("DeleteCluster {name}"), error));
                }
            }
        }
    }
    Ok(DeletionProgress::Done)
}

/// Returns whether an ECS error code says that another resource still uses this one.
fn is_in_use_code(code: Option<&str>) -> bool {
    matches!(
        code,
        Some("ResourceInUseException" | "UpdateInProgressException")
    )
}
