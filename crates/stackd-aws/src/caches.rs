//! The cache component: one ElastiCache Serverless cache with its engine version,
//! subnets, security groups, usage limits, snapshot settings and tags.

mod calls;
mod diff;
mod retired;

use crate::clients::AwsClients;
use crate::tags::{DELETION_POLICY_TAG, Tagger};
use crate::{network, security_groups};
use async_trait::async_trait;
use stackd_engine::{Component, ComponentError, ComponentId, Inputs, Outputs, Planned, Readiness};
use stackd_spec::model::{CacheUsageLimits, ServerlessCache};
use std::collections::{BTreeMap, BTreeSet};

pub use diff::{Action, LimitField, Modification};
pub use retired::RetiredCachesComponent;

/// The kind name of cache nodes in the graph.
pub const KIND: &str = "cache";

/// Output keys that dependents read.
pub mod outputs {
    pub const ARN: &str = "arn";
    pub const ENDPOINT_ADDRESS: &str = "endpoint.address";
    pub const ENDPOINT_PORT: &str = "endpoint.port";
}

/// The status in which ElastiCache accepts a ModifyServerlessCache call.
const AVAILABLE: &str = "available";

/// Live state of a serverless cache that exists and carries the stack's tags.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveCache {
    pub arn: String,
    /// Status in lowercase: `creating`, `available`, `modifying` or `deleting`.
    pub status: String,
    /// Engine in lowercase, such as `valkey`.
    pub engine: String,
    pub major_version: String,
    pub subnet_ids: BTreeSet<String>,
    pub security_group_ids: BTreeSet<String>,
    /// Usage limits as AWS reports them; an absent or zero value is `None`.
    pub limits: CacheUsageLimits,
    pub snapshot_retention_limit: Option<u32>,
    pub daily_snapshot_time: Option<String>,
    /// Endpoint address and port, once AWS has assigned them.
    pub endpoint: Option<(String, u16)>,
    pub tags: BTreeMap<String, String>,
}

/// Reconciles one ElastiCache Serverless cache.
#[derive(Debug)]
pub struct CacheComponent {
    clients: AwsClients,
    tagger: Tagger,
    desired: ServerlessCache,
}

impl CacheComponent {
    pub fn new(clients: AwsClients, tagger: Tagger, desired: ServerlessCache) -> Self {
        CacheComponent {
            clients,
            tagger,
            desired,
        }
    }

    fn logical_id(&self) -> String {
        format!("{KIND}/{}", self.desired.id)
    }

    fn desired_tags(&self) -> BTreeMap<String, String> {
        let mut tags = self.desired.tags.clone();
        tags.extend(self.tagger.desired(&self.logical_id(), &self.desired.name));
        let policy = if self.desired.retain {
            retired::RETAIN
        } else {
            retired::DELETE
        };
        tags.insert(DELETION_POLICY_TAG.to_owned(), policy.to_owned());
        tags
    }
}

/// The AWS ids of the cache's subnets and security groups, resolved from the
/// outputs of the network and security-groups components. A name whose resource
/// does not exist yet stays out of the set, and `complete` is then false.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Placement {
    pub subnets: BTreeSet<String>,
    pub subnets_complete: bool,
    pub security_groups: BTreeSet<String>,
    pub security_groups_complete: bool,
}

impl Placement {
    fn resolve(desired: &ServerlessCache, inputs: &Inputs) -> Self {
        let network_id = ComponentId::single(network::KIND);
        let groups_id = ComponentId::single(security_groups::KIND);
        let subnets: Vec<Option<&str>> = desired
            .subnets
            .iter()
            .map(|subnet| inputs.get(&network_id, &network::outputs::subnet_id(subnet)))
            .collect();
        let groups: Vec<Option<&str>> = desired
            .security_groups
            .iter()
            .map(|group| inputs.get(&groups_id, &security_groups::group_id_output(group)))
            .collect();
        Placement {
            subnets_complete: subnets.iter().all(Option::is_some),
            subnets: subnets.into_iter().flatten().map(str::to_owned).collect(),
            security_groups_complete: groups.iter().all(Option::is_some),
            security_groups: groups.into_iter().flatten().map(str::to_owned).collect(),
        }
    }
}

#[async_trait]
impl Component for CacheComponent {
    type Live = Option<LiveCache>;
    type Action = Action;

    fn id(&self) -> ComponentId {
        ComponentId::named(KIND, &self.desired.id)
    }

    fn needs(&self) -> Vec<ComponentId> {
        vec![
            ComponentId::single(network::KIND),
            ComponentId::single(security_groups::KIND),
        ]
    }

    async fn observe(&self) -> Result<Option<LiveCache>, ComponentError> {
        calls::observe(
            &self.clients.elasticache,
            &self.desired.name,
            self.tagger.stack(),
            &self.logical_id(),
        )
        .await
    }

    fn diff(&self, live: &Option<LiveCache>, inputs: &Inputs) -> Vec<Planned<Action>> {
        let placement = Placement::resolve(&self.desired, inputs);
        diff::diff(
            &self.desired,
            &self.logical_id(),
            &self.desired_tags(),
            &placement,
            live.as_ref(),
        )
    }

    async fn apply(
        &self,
        live: &Option<LiveCache>,
        actions: Vec<Action>,
        inputs: &Inputs,
    ) -> Result<(), ComponentError> {
        // A refusal stops the whole apply before any call, so that a cache with a
        // refused change is never half reconciled.
        let refusals: Vec<&str> = actions
            .iter()
            .filter_map(|action| match action {
                Action::Refuse(reason) => Some(reason.as_str()),
                _ => None,
            })
            .collect();
        if !refusals.is_empty() {
            return Err(ComponentError::Blocked(refusals.join("; ")));
        }

        let client = &self.clients.elasticache;
        let name = self.desired.name.as_str();
        for action in actions {
            match action {
                Action::Create => {
                    let placement = Placement::resolve(&self.desired, inputs);
                    if !placement.subnets_complete || !placement.security_groups_complete {
                        return Err(ComponentError::Blocked(format!(
                            "{} waits for its subnets and security groups to exist",
                            self.logical_id()
                        )));
                    }
                    calls::create(client, &self.desired, &placement, &self.desired_tags()).await?;
                }
                Action::Modify(modification) => {
                    calls::modify(client, name, &modification).await?;
                }
                Action::Queued(modification) => {
                    tracing::debug!(
                        cache = name,
                        ?modification,
                        "left for a later pass: ElastiCache takes one modification at a time"
                    );
                }
                Action::Retag(delta) => {
                    let found = live.as_ref().ok_or_else(|| {
                        ComponentError::Unexpected(format!(
                            "cache {name} vanished before retagging"
                        ))
                    })?;
                    calls::retag(client, &found.arn, &delta).await?;
                }
                // Refusals returned before the first call.
                Action::Refuse(_) => {}
            }
        }
        Ok(())
    }

    fn outputs(&self, live: &Option<LiveCache>) -> Outputs {
        let mut outputs = Outputs::new();
        if let Some(found) = live {
            outputs.insert(outputs::ARN.to_owned(), found.arn.clone());
            if let Some((address, port)) = &found.endpoint {
                outputs.insert(outputs::ENDPOINT_ADDRESS.to_owned(), address.clone());
                outputs.insert(outputs::ENDPOINT_PORT.to_owned(), port.to_string());
            }
        }
        outputs
    }

    fn readiness(&self, live: &Option<LiveCache>) -> Readiness {
        match live {
            Some(found) if found.status != AVAILABLE => {
                Readiness::Progressing(format!("{} is {}", self.logical_id(), found.status))
            }
            _ => Readiness::Ready,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_elasticache::Client;
    use aws_sdk_elasticache::operation::modify_serverless_cache::ModifyServerlessCacheOutput;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};
    use stackd_spec::model::CacheEngine;

    fn component(elasticache: Client) -> CacheComponent {
        // A config with no credentials and no region: building clients sends nothing.
        let config = aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .build();
        let mut clients = AwsClients::from_config(&config, false);
        clients.elasticache = elasticache;
        let desired = ServerlessCache {
            id: "main".to_owned(),
            name: "beezyup-prod-c01".to_owned(),
            engine: CacheEngine::Valkey,
            major_version: "8".to_owned(),
            subnets: vec!["private-a".to_owned()],
            security_groups: vec!["cache".to_owned()],
            limits: CacheUsageLimits::default(),
            snapshot_retention_limit: None,
            daily_snapshot_time: None,
            retain: true,
            tags: BTreeMap::new(),
        };
        CacheComponent::new(clients, Tagger::new("s", &BTreeMap::new()), desired)
    }

    fn limit(field: LimitField, value: u32) -> Modification {
        Modification::Limit(field, Some(value))
    }

    #[tokio::test]
    async fn apply_sends_only_the_planned_modify() {
        let rule = mock!(Client::modify_serverless_cache)
            .then_output(|| ModifyServerlessCacheOutput::builder().build());
        let cache = component(mock_client!(
            aws_sdk_elasticache,
            RuleMode::MatchAny,
            [&rule]
        ));
        let actions = vec![
            Action::Modify(limit(LimitField::DataStorageMaximum, 10)),
            Action::Queued(limit(LimitField::EcpuPerSecondMaximum, 6000)),
        ];

        cache
            .apply(&None, actions, &Inputs::default())
            .await
            .unwrap();

        assert_eq!(rule.num_calls(), 1, "the queued modification waits");
    }

    #[tokio::test]
    async fn apply_refusal_makes_no_call() {
        let rule = mock!(Client::modify_serverless_cache)
            .then_output(|| ModifyServerlessCacheOutput::builder().build());
        let cache = component(mock_client!(
            aws_sdk_elasticache,
            RuleMode::MatchAny,
            [&rule]
        ));
        let actions = vec![
            Action::Modify(limit(LimitField::DataStorageMaximum, 10)),
            Action::Refuse("cache/main: refused".to_owned()),
        ];

        let result = cache.apply(&None, actions, &Inputs::default()).await;

        assert!(
            matches!(&result, Err(ComponentError::Blocked(reason)) if reason == "cache/main: refused"),
            "{result:?}"
        );
        assert_eq!(rule.num_calls(), 0, "no call before the refusal");
    }
}
