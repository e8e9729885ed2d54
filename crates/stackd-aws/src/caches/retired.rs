//! Caches that left the file. A serverless cache contains user sessions, so leaving
//! the file does not delete it: the cache's `stackd:deletion-policy` tag, written
//! from the file's `retain` while the cache was still in it, decides. Only `delete`
//! deletes, and only with the permission that every destructive change needs.
//!
//! The policy lives on the resource because stackd keeps no state file, as
//! CloudFormation applies the DeletionPolicy of the last template that held the
//! resource. To delete a retained cache through stackd, set `retain: false`,
//! reconcile, then remove it from the file.

use super::AVAILABLE;
use crate::clients::AwsClients;
use crate::tags::{DELETION_POLICY_TAG, ID_TAG, STACK_TAG};
use async_trait::async_trait;
use aws_sdk_elasticache::Client;
use aws_sdk_elasticache::error::SdkError;
use aws_sdk_elasticache::operation::delete_serverless_cache::DeleteServerlessCacheError;
use aws_sdk_elasticache::operation::list_tags_for_resource::ListTagsForResourceError;
use stackd_engine::{
    Change, ChangeKind, Component, ComponentError, ComponentId, Inputs, Outputs, Planned, Readiness,
};
use std::collections::BTreeSet;

/// The kind name of the node that handles caches no longer in the file.
pub const KIND: &str = "retired-caches";

/// The tag value that lets stackd delete a cache once it leaves the file.
pub const DELETE: &str = "delete";
/// The tag value that keeps a cache in AWS once it leaves the file.
pub const RETAIN: &str = "retain";

/// A serverless cache with the stack's tags whose name the file no longer lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetiredCache {
    pub name: String,
    /// The `stackd:id` tag, such as `cache/main`.
    pub logical_id: String,
    /// Status in lowercase, such as `available` or `deleting`.
    pub status: String,
    /// Whether the deletion-policy tag is `delete`. A cache without the tag
    /// was created before stackd wrote it, and is retained.
    pub deletable: bool,
}

/// One step of an apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Deletes the named cache once it is available; ElastiCache refuses a delete
    /// while a cache is being created or modified.
    Delete { name: String, status: String },
}

/// Finds the caches that left the file and deletes those whose policy allows it.
#[derive(Debug)]
pub struct RetiredCachesComponent {
    clients: AwsClients,
    stack: String,
    /// The names of the caches that the file lists.
    listed: BTreeSet<String>,
}

impl RetiredCachesComponent {
    pub fn new(clients: AwsClients, stack: &str, listed: BTreeSet<String>) -> Self {
        RetiredCachesComponent {
            clients,
            stack: stack.to_owned(),
            listed,
        }
    }
}

#[async_trait]
impl Component for RetiredCachesComponent {
    type Live = Vec<RetiredCache>;
    type Action = Action;

    fn id(&self) -> ComponentId {
        ComponentId::single(KIND)
    }

    fn needs(&self) -> Vec<ComponentId> {
        Vec::new()
    }

    async fn observe(&self) -> Result<Vec<RetiredCache>, ComponentError> {
        observe(&self.clients.elasticache, &self.stack, &self.listed).await
    }

    fn diff(&self, live: &Vec<RetiredCache>, _inputs: &Inputs) -> Vec<Planned<Action>> {
        diff(live)
    }

    async fn apply(
        &self,
        _live: &Vec<RetiredCache>,
        actions: Vec<Action>,
        _inputs: &Inputs,
    ) -> Result<(), ComponentError> {
        let client = &self.clients.elasticache;
        for Action::Delete { name, status } in actions {
            if status != AVAILABLE {
                // Left in the plan: the next pass deletes it once it is available.
                tracing::debug!(cache = %name, %status, "waiting for the cache to be available before deleting it");
                continue;
            }
            match client
                .delete_serverless_cache()
                .serverless_cache_name(&name)
                .send()
                .await
            {
                Ok(_) => {
                    tracing::info!(cache = %name, "deleting serverless cache that left the file")
                }
                Err(SdkError::ServiceError(error))
                    if matches!(
                        error.err(),
                        DeleteServerlessCacheError::ServerlessCacheNotFoundFault(_)
                    ) => {}
                Err(error) => {
                    return Err(crate::failures::call_failed(
                        format!("DeleteServerlessCache {name}"),
                        error,
                    ));
                }
            }
        }
        Ok(())
    }

    fn outputs(&self, _live: &Vec<RetiredCache>) -> Outputs {
        Outputs::new()
    }

    fn readiness(&self, live: &Vec<RetiredCache>) -> Readiness {
        let deleting: Vec<String> = live
            .iter()
            .filter(|cache| cache.deletable && cache.status == "deleting")
            .map(|cache| format!("{} ({})", cache.logical_id, cache.name))
            .collect();
        if deleting.is_empty() {
            Readiness::Ready
        } else {
            Readiness::Progressing(format!("deleting {}", deleting.join(", ")))
        }
    }
}

/// Lists every serverless cache, and reads the tags of those that the file does
/// not name, keeping the ones that carry this stack's tag.
async fn observe(
    client: &Client,
    stack: &str,
    listed: &BTreeSet<String>,
) -> Result<Vec<RetiredCache>, ComponentError> {
    let mut retired = Vec::new();
    let mut pages = client.describe_serverless_caches().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|error| {
            crate::failures::call_failed("DescribeServerlessCaches".to_owned(), error)
        })?;
        for cache in page.serverless_caches() {
            let (Some(name), Some(arn)) = (cache.serverless_cache_name(), cache.arn()) else {
                continue;
            };
            if listed.contains(name) {
                continue;
            }
            let tags = match client
                .list_tags_for_resource()
                .resource_name(arn)
                .send()
                .await
            {
                Ok(response) => response.tag_list().to_vec(),
                // Deleted between the two calls.
                Err(SdkError::ServiceError(error))
                    if matches!(
                        error.err(),
                        ListTagsForResourceError::ServerlessCacheNotFoundFault(_)
                    ) =>
                {
                    continue;
                }
                Err(error) => {
                    return Err(crate::failures::call_failed(
                        format!("ListTagsForResource {arn}"),
                        error,
                    ));
                }
            };
            let tag = |key: &str| {
                tags.iter()
                    .find(|tag| tag.key() == Some(key))
                    .and_then(|tag| tag.value())
            };
            if tag(STACK_TAG) != Some(stack) {
                continue;
            }
            retired.push(RetiredCache {
                name: name.to_owned(),
                logical_id: tag(ID_TAG).unwrap_or(name).to_owned(),
                status: cache.status().unwrap_or_default().to_ascii_lowercase(),
                deletable: tag(DELETION_POLICY_TAG) == Some(DELETE),
            });
        }
    }
    Ok(retired)
}

/// Plans the deletion of every retired cache whose policy allows it and that is
/// not already being deleted. Retained caches make no change.
fn diff(live: &[RetiredCache]) -> Vec<Planned<Action>> {
    live.iter()
        .filter(|cache| cache.deletable && cache.status != "deleting")
        .map(|cache| Planned {
            change: Change::new(ChangeKind::Delete, &cache.logical_id)
                .field("name", cache.name.as_str(), serde_json::Value::Null)
                .field(DELETION_POLICY_TAG, DELETE, serde_json::Value::Null),
            action: Action::Delete {
                name: cache.name.clone(),
                status: cache.status.clone(),
            },
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mocks::offline_clients;
    use aws_sdk_elasticache::operation::delete_serverless_cache::DeleteServerlessCacheOutput;
    use aws_sdk_elasticache::operation::describe_serverless_caches::DescribeServerlessCachesOutput;
    use aws_sdk_elasticache::operation::list_tags_for_resource::ListTagsForResourceOutput;
    use aws_sdk_elasticache::types::{ServerlessCache, Tag};
    use aws_smithy_mocks::{RuleMode, mock, mock_client};

    fn cache(name: &str, status: &str) -> ServerlessCache {
        ServerlessCache::builder()
            .serverless_cache_name(name)
            .arn(format!(
                "arn:aws:elasticache:eu-west-3:123456789012:serverlesscache:{name}"
            ))
            .status(status)
            .build()
    }

    fn tags(pairs: &[(&str, &str)]) -> ListTagsForResourceOutput {
        ListTagsForResourceOutput::builder()
            .set_tag_list(Some(
                pairs
                    .iter()
                    .map(|(key, value)| Tag::builder().key(*key).value(*value).build())
                    .collect(),
            ))
            .build()
    }

    fn component(elasticache: Client) -> RetiredCachesComponent {
        let mut clients = offline_clients();
        clients.elasticache = elasticache;
        RetiredCachesComponent::new(clients, "beezyup", BTreeSet::new())
    }

    fn retired(name: &str, status: &str, deletable: bool) -> RetiredCache {
        RetiredCache {
            name: name.to_owned(),
            logical_id: format!("cache/{name}"),
            status: status.to_owned(),
            deletable,
        }
    }

    #[tokio::test]
    async fn observe_keeps_only_unlisted_caches_of_the_stack() {
        let described = mock!(Client::describe_serverless_caches).then_output(|| {
            DescribeServerlessCachesOutput::builder()
                .serverless_caches(cache("main", "available"))
                .serverless_caches(cache("old", "available"))
                .serverless_caches(cache("theirs", "available"))
                .serverless_caches(cache("kept", "available"))
                .build()
        });
        let old_tags = mock!(Client::list_tags_for_resource)
            .match_requests(|request| {
                request
                    .resource_name()
                    .is_some_and(|arn| arn.ends_with(":old"))
            })
            .then_output(|| {
                tags(&[
                    (STACK_TAG, "beezyup"),
                    (ID_TAG, "cache/old"),
                    (DELETION_POLICY_TAG, DELETE),
                ])
            });
        let their_tags = mock!(Client::list_tags_for_resource)
            .match_requests(|request| {
                request
                    .resource_name()
                    .is_some_and(|arn| arn.ends_with(":theirs"))
            })
            .then_output(|| tags(&[(STACK_TAG, "another-stack"), (DELETION_POLICY_TAG, DELETE)]));
        let kept_tags = mock!(Client::list_tags_for_resource)
            .match_requests(|request| {
                request
                    .resource_name()
                    .is_some_and(|arn| arn.ends_with(":kept"))
            })
            .then_output(|| tags(&[(STACK_TAG, "beezyup"), (ID_TAG, "cache/kept")]));
        let client = mock_client!(
            aws_sdk_elasticache,
            RuleMode::MatchAny,
            [&described, &old_tags, &their_tags, &kept_tags]
        );
        let listed = BTreeSet::from(["main".to_owned()]);

        let found = observe(&client, "beezyup", &listed).await.unwrap();

        assert_eq!(
            found,
            vec![
                RetiredCache {
                    name: "old".to_owned(),
                    logical_id: "cache/old".to_owned(),
                    status: "available".to_owned(),
                    deletable: true,
                },
                RetiredCache {
                    name: "kept".to_owned(),
                    logical_id: "cache/kept".to_owned(),
                    status: "available".to_owned(),
                    deletable: false,
                },
            ]
        );
        // The listed cache's tags are never read.
        assert_eq!(
            old_tags.num_calls() + their_tags.num_calls() + kept_tags.num_calls(),
            3
        );
    }

    #[test]
    fn only_deletable_caches_not_yet_deleting_are_planned() {
        let plan = diff(&[
            retired("old", "available", true),
            retired("kept", "available", false),
            retired("going", "deleting", true),
            retired("new", "creating", true),
        ]);
        let resources: Vec<&str> = plan
            .iter()
            .map(|planned| planned.change.resource.as_str())
            .collect();
        assert_eq!(resources, ["cache/old", "cache/new"]);
        assert!(
            plan.iter()
                .all(|planned| planned.change.kind == ChangeKind::Delete)
        );
    }

    #[tokio::test]
    async fn apply_deletes_only_available_caches() {
        let delete = mock!(Client::delete_serverless_cache)
            .match_requests(|request| request.serverless_cache_name() == Some("old"))
            .then_output(|| DeleteServerlessCacheOutput::builder().build());
        let client = mock_client!(aws_sdk_elasticache, RuleMode::MatchAny, [&delete]);
        let component = component(client);
        let live = vec![
            retired("old", "available", true),
            retired("new", "creating", true),
        ];
        let actions = diff(&live)
            .into_iter()
            .map(|planned| planned.action)
            .collect();

        component
            .apply(&live, actions, &Inputs::default())
            .await
            .unwrap();

        assert_eq!(delete.num_calls(), 1);
    }

    #[test]
    fn deleting_caches_keep_the_component_progressing() {
        let component = component(mock_client!(aws_sdk_elasticache, RuleMode::MatchAny, []));
        assert_eq!(
            component.readiness(&vec![retired("old", "deleting", true)]),
            Readiness::Progressing("deleting cache/old (old)".to_owned())
        );
        assert_eq!(
            component.readiness(&vec![retired("kept", "available", false)]),
            Readiness::Ready
        );
    }
}
