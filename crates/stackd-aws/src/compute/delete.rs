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
    DetachCapacityProviders {
        cluster: String,
    },
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
    LaunchTemplate {
        id: String,
    },
    Cluster {
        name: String,
    },
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
    /// A step waits for an earlier one that AWS has not finished, named in the reason.
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
                        crate::failures::call_failed(
                            format!("UpdateService {name} to 0 tasks"),
                            error,
                        )
                    })?;
                tracing::info!(service = %name, %cluster, "scaled service to 0 tasks before deleting it");
            }
            ecs.delete_service()
                .cluster(cluster)
                .service(name)
                .send()
                .await
                .map_err(|error| {
                    crate::failures::call_failed(format!("DeleteService {name}"), error)
                })?;
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
                    return Err(crate::failures::call_failed(
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
                Ok(_) => {
                    tracing::info!(capacity_provider = %name, "deleted capacity provider that left the file")
                }
                // DeleteCapacityProvider models no "in use" error, so the code that ECS
                // sends for a provider that a cluster or service still uses is read here.
                Err(error) if is_in_use_code(error.code()) => {
                    return Ok(DeletionProgress::Waiting(format!(
                        "capacity provider {name} is still in use"
                    )));
                }
                Err(error) => {
                    return Err(crate::failures::call_failed(
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
                Ok(_) => {
                    tracing::info!(auto_scaling_group = %name, "deleting Auto Scaling group that left the file")
                }
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
                    return Err(crate::failures::call_failed(
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
                .map_err(|error| {
                    crate::failures::call_failed(format!("DeleteLaunchTemplate {id}"), error)
                })?;
            tracing::info!(launch_template = %id, "deleted launch template that left the file");
        }
        Deletion::Cluster { name } => match ecs.delete_cluster().cluster(name).send().await {
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
                return Err(crate::failures::call_failed(
                    format!("DeleteCluster {name}"),
                    error,
                ));
            }
        },
    }
    Ok(DeletionProgress::Done)
}

/// Returns whether an ECS error code means that another resource still uses this one.
fn is_in_use_code(code: Option<&str>) -> bool {
    matches!(
        code,
        Some("ResourceInUseException" | "UpdateInProgressException")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_autoscaling::operation::delete_auto_scaling_group::DeleteAutoScalingGroupOutput;
    use aws_sdk_autoscaling::types::error::ResourceInUseFault;
    use aws_sdk_ecs::operation::delete_capacity_provider::DeleteCapacityProviderOutput;
    use aws_sdk_ecs::operation::delete_cluster::DeleteClusterOutput;
    use aws_sdk_ecs::operation::delete_service::DeleteServiceOutput;
    use aws_sdk_ecs::operation::put_cluster_capacity_providers::PutClusterCapacityProvidersOutput;
    use aws_sdk_ecs::operation::update_service::UpdateServiceOutput;
    use aws_sdk_ecs::types::error::ResourceInUseException;
    use aws_smithy_mocks::{
        MockResponseInterceptor, Rule, RuleMode, create_mock_http_client, mock,
    };
    use std::sync::{Arc, Mutex};

    /// Operations in the order the mocks received them.
    type CallLog = Arc<Mutex<Vec<&'static str>>>;

    fn interceptor(rules: &[&Rule]) -> MockResponseInterceptor {
        let mut interceptor = MockResponseInterceptor::new().rule_mode(RuleMode::MatchAny);
        for rule in rules {
            interceptor = interceptor.with_rule(rule);
        }
        interceptor
    }

    // The clients are built by hand instead of with `mock_client!`, which needs
    // each SDK crate's `test-util` feature.
    fn ecs_client(rules: &[&Rule]) -> aws_sdk_ecs::Client {
        use aws_sdk_ecs::config::{BehaviorVersion, Credentials, Region};
        aws_sdk_ecs::Client::from_conf(
            aws_sdk_ecs::Config::builder()
                .behavior_version(BehaviorVersion::latest())
                .region(Region::new("eu-west-3"))
                .credentials_provider(Credentials::new("testing", "testing", None, None, "mock"))
                .http_client(create_mock_http_client())
                .interceptor(interceptor(rules))
                .build(),
        )
    }

    fn autoscaling_client(rules: &[&Rule]) -> aws_sdk_autoscaling::Client {
        use aws_sdk_autoscaling::config::{BehaviorVersion, Credentials, Region};
        aws_sdk_autoscaling::Client::from_conf(
            aws_sdk_autoscaling::Config::builder()
                .behavior_version(BehaviorVersion::latest())
                .region(Region::new("eu-west-3"))
                .credentials_provider(Credentials::new("testing", "testing", None, None, "mock"))
                .http_client(create_mock_http_client())
                .interceptor(interceptor(rules))
                .build(),
        )
    }

    /// Returns a request filter that records the operation and matches every request.
    fn record<I>(
        log: &CallLog,
        operation: &'static str,
    ) -> impl Fn(&I) -> bool + Send + Sync + use<I> {
        let log = Arc::clone(log);
        move |_| {
            log.lock().unwrap().push(operation);
            true
        }
    }

    fn waiting(progress: &DeletionProgress) -> bool {
        matches!(progress, DeletionProgress::Waiting(_))
    }

    #[tokio::test]
    async fn deletions_wait_for_resource_in_use() {
        let log: CallLog = Arc::default();
        let update_service = mock!(aws_sdk_ecs::Client::update_service)
            .match_requests(record(&log, "UpdateService"))
            .then_output(|| UpdateServiceOutput::builder().build());
        let delete_service = mock!(aws_sdk_ecs::Client::delete_service)
            .match_requests(record(&log, "DeleteService"))
            .then_output(|| DeleteServiceOutput::builder().build());
        // The cluster still runs the service's tasks on the first try.
        let detach = mock!(aws_sdk_ecs::Client::put_cluster_capacity_providers)
            .match_requests(record(&log, "PutClusterCapacityProviders"))
            .sequence()
            .error(|| {
                PutClusterCapacityProvidersError::ResourceInUseException(
                    ResourceInUseException::builder()
                        .message("tasks are running")
                        .build(),
                )
            })
            .output(|| PutClusterCapacityProvidersOutput::builder().build())
            .build();
        let delete_provider = mock!(aws_sdk_ecs::Client::delete_capacity_provider)
            .match_requests(record(&log, "DeleteCapacityProvider"))
            .then_output(|| DeleteCapacityProviderOutput::builder().build());
        let delete_cluster = mock!(aws_sdk_ecs::Client::delete_cluster)
            .match_requests(record(&log, "DeleteCluster"))
            .then_output(|| DeleteClusterOutput::builder().build());
        // The group still has instances that the provider protected on the first try.
        let delete_group = mock!(aws_sdk_autoscaling::Client::delete_auto_scaling_group)
            .match_requests(record(&log, "DeleteAutoScalingGroup"))
            .sequence()
            .error(|| {
                DeleteAutoScalingGroupError::ResourceInUseFault(
                    ResourceInUseFault::builder()
                        .message("instances are protected")
                        .build(),
                )
            })
            .output(|| DeleteAutoScalingGroupOutput::builder().build())
            .build();

        let config = aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .build();
        let mut clients = AwsClients::from_config(&config, false);
        clients.ecs = ecs_client(&[
            &update_service,
            &delete_service,
            &detach,
            &delete_provider,
            &delete_cluster,
        ]);
        clients.autoscaling = autoscaling_client(&[&delete_group]);

        let service = Deletion::Service {
            cluster: "c".to_owned(),
            name: "api".to_owned(),
            desired_count: 2,
            draining: false,
        };
        let detach_step = Deletion::DetachCapacityProviders {
            cluster: "c".to_owned(),
        };
        let provider = Deletion::CapacityProvider {
            name: "cp".to_owned(),
            deleting: false,
        };
        let group = Deletion::AutoScalingGroup {
            name: "g".to_owned(),
            deleting: false,
        };
        let cluster = Deletion::Cluster {
            name: "c".to_owned(),
        };

        // Pass 1, given in reverse order: the service goes, the detach must wait.
        let steps = [
            cluster.clone(),
            group.clone(),
            provider.clone(),
            detach_step.clone(),
            service,
        ];
        let first = run_deletions(&clients, &steps).await.unwrap();
        assert!(waiting(&first), "{first:?}");
        assert_eq!(
            *log.lock().unwrap(),
            [
                "UpdateService",
                "DeleteService",
                "PutClusterCapacityProviders"
            ]
        );

        // Pass 2 sees the service draining: the detach and the provider go, the
        // group must wait.
        log.lock().unwrap().clear();
        let draining = Deletion::Service {
            cluster: "c".to_owned(),
            name: "api".to_owned(),
            desired_count: 0,
            draining: true,
        };
        let steps = [
            cluster.clone(),
            group.clone(),
            provider,
            detach_step,
            draining,
        ];
        let second = run_deletions(&clients, &steps).await.unwrap();
        assert!(waiting(&second), "{second:?}");
        assert_eq!(
            *log.lock().unwrap(),
            [
                "PutClusterCapacityProviders",
                "DeleteCapacityProvider",
                "DeleteAutoScalingGroup"
            ]
        );

        // Pass 3: the group and then the cluster go.
        log.lock().unwrap().clear();
        let third = run_deletions(&clients, &[cluster, group]).await.unwrap();
        assert_eq!(third, DeletionProgress::Done);
        assert_eq!(
            *log.lock().unwrap(),
            ["DeleteAutoScalingGroup", "DeleteCluster"]
        );
        assert_eq!(detach.num_calls(), 2, "PutClusterCapacityProviders calls");
        assert_eq!(delete_group.num_calls(), 2, "DeleteAutoScalingGroup calls");
        assert_eq!(delete_cluster.num_calls(), 1, "DeleteCluster calls");
    }
}
