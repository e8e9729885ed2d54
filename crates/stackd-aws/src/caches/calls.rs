//! The ElastiCache calls of the cache component: observe, create, modify and retag.

use super::{LimitField, LiveCache, Modification, Placement};
use crate::tags::{ID_TAG, STACK_TAG, TagDelta, comparable};
use aws_sdk_elasticache::Client;
use aws_sdk_elasticache::error::SdkError;
use aws_sdk_elasticache::operation::describe_serverless_caches::DescribeServerlessCachesError;
use aws_sdk_elasticache::operation::list_tags_for_resource::ListTagsForResourceError;
use aws_sdk_elasticache::types::{
    CacheUsageLimits, DataStorage, DataStorageUnit, EcpuPerSecond, ServerlessCache, Tag,
};
use stackd_engine::ComponentError;
use stackd_spec::model;
use std::collections::BTreeMap;

/// Reads a serverless cache by name. A cache that does not exist is `None`. A cache
/// without this stack's tags belongs to someone else, so it blocks the component
/// and stackd never changes it.
pub(super) async fn observe(
    client: &Client,
    name: &str,
    stack: &str,
    logical_id: &str,
) -> Result<Option<LiveCache>, ComponentError> {
    let response = match client
        .describe_serverless_caches()
        .serverless_cache_name(name)
        .send()
        .await
    {
        Ok(response) => response,
        Err(SdkError::ServiceError(error))
            if matches!(
                error.err(),
                DescribeServerlessCachesError::ServerlessCacheNotFoundFault(_)
            ) =>
        {
            return Ok(None);
        }
        Err(error) => {
            return Err(crate::failures::call_failed(
                format!("DescribeServerlessCaches {name}"),
                error,
            ));
        }
    };
    let Some(cache) = response.serverless_caches().first() else {
        return Ok(None);
    };

    let status = cache.status().unwrap_or_default().to_ascii_lowercase();
    if status == "create-failed" {
        return Err(ComponentError::Blocked(format!(
            "serverless cache {name} is create-failed; delete it in AWS so that stackd can create it again"
        )));
    }
    let arn = cache
        .arn()
        .ok_or_else(|| ComponentError::Unexpected(format!("serverless cache {name} has no ARN")))?;

    let tags = match client
        .list_tags_for_resource()
        .resource_name(arn)
        .send()
        .await
    {
        Ok(response) => comparable(response.tag_list().iter().map(|tag| {
            (
                tag.key().unwrap_or_default().to_owned(),
                tag.value().unwrap_or_default().to_owned(),
            )
        })),
        // The cache was deleted between the two calls.
        Err(SdkError::ServiceError(error))
            if matches!(
                error.err(),
                ListTagsForResourceError::ServerlessCacheNotFoundFault(_)
            ) =>
        {
            return Ok(None);
        }
        Err(error) => {
            return Err(crate::failures::call_failed(
                format!("ListTagsForResource {arn}"),
                error,
            ));
        }
    };
    let ours = tags.get(STACK_TAG).map(String::as_str) == Some(stack)
        && tags.get(ID_TAG).map(String::as_str) == Some(logical_id);
    if !ours {
        return Err(ComponentError::Blocked(format!(
            "serverless cache {name} exists without the tags {STACK_TAG}={stack} and {ID_TAG}={logical_id}, so it \
             belongs to someone else; stackd leaves it alone until it is adopted by adding those tags"
        )));
    }
    Ok(Some(live_cache(cache, arn, status, tags)))
}

fn live_cache(
    cache: &ServerlessCache,
    arn: &str,
    status: String,
    tags: BTreeMap<String, String>,
) -> LiveCache {
    // AWS reports a removed limit as absent; a zero is read the same way.
    let limit = |value: Option<i32>| {
        value
            .and_then(|value| u32::try_from(value).ok())
            .filter(|value| *value > 0)
    };
    let usage = cache.cache_usage_limits();
    let storage = usage.and_then(CacheUsageLimits::data_storage);
    let ecpu = usage.and_then(CacheUsageLimits::ecpu_per_second);
    LiveCache {
        arn: arn.to_owned(),
        status,
        engine: cache.engine().unwrap_or_default().to_ascii_lowercase(),
        major_version: cache.major_engine_version().unwrap_or_default().to_owned(),
        subnet_ids: cache.subnet_ids().iter().cloned().collect(),
        security_group_ids: cache.security_group_ids().iter().cloned().collect(),
        limits: model::CacheUsageLimits {
            data_storage_max_gb: limit(storage.and_then(DataStorage::maximum)),
            data_storage_min_gb: limit(storage.and_then(DataStorage::minimum)),
            ecpu_per_second_max: limit(ecpu.and_then(EcpuPerSecond::maximum)),
            ecpu_per_second_min: limit(ecpu.and_then(EcpuPerSecond::minimum)),
        },
        snapshot_retention_limit: cache
            .snapshot_retention_limit()
            .and_then(|days| u32::try_from(days).ok()),
        daily_snapshot_time: cache.daily_snapshot_time().map(str::to_owned),
        endpoint: cache.endpoint().and_then(|endpoint| {
            let port = u16::try_from(endpoint.port()?).ok()?;
            Some((endpoint.address()?.to_owned(), port))
        }),
        tags,
    }
}

/// Converts a validated limit or day count to the API's integer type. Every range
/// that the spec crate accepts fits in an `i32`.
fn api_integer(value: u32) -> i32 {
    i32::try_from(value).unwrap_or(i32::MAX)
}

/// Creates the cache with its identity tags in the same call, so that a cache whose
/// create response was lost is found by the next observe.
pub(super) async fn create(
    client: &Client,
    desired: &model::ServerlessCache,
    placement: &Placement,
    tags: &BTreeMap<String, String>,
) -> Result<(), ComponentError> {
    let name = desired.name.as_str();
    let limits = &desired.limits;
    let storage = (limits.data_storage_max_gb.is_some() || limits.data_storage_min_gb.is_some())
        .then(|| {
            DataStorage::builder()
                .set_maximum(limits.data_storage_max_gb.map(api_integer))
                .set_minimum(limits.data_storage_min_gb.map(api_integer))
                .unit(DataStorageUnit::Gb)
                .build()
        });
    let ecpu =
        (limits.ecpu_per_second_max.is_some() || limits.ecpu_per_second_min.is_some()).then(|| {
            EcpuPerSecond::builder()
                .set_maximum(limits.ecpu_per_second_max.map(api_integer))
                .set_minimum(limits.ecpu_per_second_min.map(api_integer))
                .build()
        });
    let usage_limits = (storage.is_some() || ecpu.is_some()).then(|| {
        CacheUsageLimits::builder()
            .set_data_storage(storage)
            .set_ecpu_per_second(ecpu)
            .build()
    });
    let security_groups = (!placement.security_groups.is_empty())
        .then(|| placement.security_groups.iter().cloned().collect());

    client
        .create_serverless_cache()
        .serverless_cache_name(name)
        .engine(desired.engine.as_str())
        .major_engine_version(&desired.major_version)
        .set_cache_usage_limits(usage_limits)
        .set_subnet_ids(Some(placement.subnets.iter().cloned().collect()))
        .set_security_group_ids(security_groups)
        .set_snapshot_retention_limit(desired.snapshot_retention_limit.map(api_integer))
        .set_daily_snapshot_time(desired.daily_snapshot_time.clone())
        .set_tags(Some(elasticache_tags(tags)))
        .send()
        .await
        .map_err(|error| {
            crate::failures::call_failed(format!("CreateServerlessCache {name}"), error)
        })?;
    tracing::info!(
        cache = name,
        engine = desired.engine.as_str(),
        major_version = desired.major_version,
        "created serverless cache"
    );
    Ok(())
}

/// Sends one ModifyServerlessCache request that carries only `modification`.
pub(super) async fn modify(
    client: &Client,
    name: &str,
    modification: &Modification,
) -> Result<(), ComponentError> {
    let request = client.modify_serverless_cache().serverless_cache_name(name);
    let request = match modification {
        Modification::SecurityGroups(ids) => {
            request.set_security_group_ids(Some(ids.iter().cloned().collect()))
        }
        Modification::Limit(field, value) => {
            request.cache_usage_limits(one_usage_limit(*field, *value))
        }
        Modification::SnapshotRetentionLimit(days) => {
            request.snapshot_retention_limit(api_integer(*days))
        }
        Modification::DailySnapshotTime(time) => request.daily_snapshot_time(time),
        Modification::MajorVersion(version) => request.major_engine_version(version),
        Modification::Engine {
            engine,
            major_version,
        } => request.engine(engine).major_engine_version(major_version),
    };
    request.send().await.map_err(|error| {
        crate::failures::call_failed(format!("ModifyServerlessCache {name}"), error)
    })?;
    tracing::info!(cache = name, ?modification, "modified serverless cache");
    Ok(())
}

/// Builds usage limits that carry one field. A removed limit is sent as 0, the
/// value that the ElastiCache error for an out-of-range ECPU limit names as the way
/// to remove a limit. Leaving the field out would leave the live limit as it is.
///
/// NOTE: the API reference does not say whether a DataStorage or ECPUPerSecond
/// without its other value keeps the live one. stackd assumes it does, and so does
/// the emulator.
fn one_usage_limit(field: LimitField, value: Option<u32>) -> CacheUsageLimits {
    let value = api_integer(value.unwrap_or(0));
    let storage = || DataStorage::builder().unit(DataStorageUnit::Gb);
    let limits = CacheUsageLimits::builder();
    match field {
        LimitField::DataStorageMaximum => limits.data_storage(storage().maximum(value).build()),
        LimitField::DataStorageMinimum => limits.data_storage(storage().minimum(value).build()),
        LimitField::EcpuPerSecondMaximum => {
            limits.ecpu_per_second(EcpuPerSecond::builder().maximum(value).build())
        }
        LimitField::EcpuPerSecondMinimum => {
            limits.ecpu_per_second(EcpuPerSecond::builder().minimum(value).build())
        }
    }
    .build()
}

/// Sets and removes tags so that the cache's tags become the desired ones.
pub(super) async fn retag(
    client: &Client,
    arn: &str,
    delta: &TagDelta,
) -> Result<(), ComponentError> {
    if !delta.set.is_empty() {
        client
            .add_tags_to_resource()
            .resource_name(arn)
            .set_tags(Some(elasticache_tags(&delta.set)))
            .send()
            .await
            .map_err(|error| {
                crate::failures::call_failed(format!("AddTagsToResource {arn}"), error)
            })?;
    }
    if !delta.remove.is_empty() {
        client
            .remove_tags_from_resource()
            .resource_name(arn)
            .set_tag_keys(Some(delta.remove.clone()))
            .send()
            .await
            .map_err(|error| {
                crate::failures::call_failed(format!("RemoveTagsFromResource {arn}"), error)
            })?;
    }
    tracing::info!(resource = arn, set = ?delta.set.keys(), removed = ?delta.remove, "updated tags");
    Ok(())
}

fn elasticache_tags(tags: &BTreeMap<String, String>) -> Vec<Tag> {
    tags.iter()
        .map(|(key, value)| Tag::builder().key(key).value(value).build())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_elasticache::operation::modify_serverless_cache::{
        ModifyServerlessCacheInput, ModifyServerlessCacheOutput,
    };
    use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
    use std::sync::{Arc, Mutex};

    const NAME: &str = "beezyup-prod-c01";

    /// Returns a rule that returns an empty output to every ModifyServerlessCache
    /// call and keeps its request for the test to read.
    fn recording_modify_rule() -> (Rule, Arc<Mutex<Vec<ModifyServerlessCacheInput>>>) {
        let requests = Arc::new(Mutex::new(Vec::new()));
        let recorded = Arc::clone(&requests);
        let rule = mock!(Client::modify_serverless_cache).then_compute_output(move |request| {
            recorded.lock().unwrap().push(request.clone());
            ModifyServerlessCacheOutput::builder().build()
        });
        (rule, requests)
    }

    async fn send(modification: Modification) -> ModifyServerlessCacheInput {
        let (rule, requests) = recording_modify_rule();
        let client = mock_client!(aws_sdk_elasticache, RuleMode::MatchAny, [&rule]);
        modify(&client, NAME, &modification).await.unwrap();
        assert_eq!(rule.num_calls(), 1, "one ModifyServerlessCache call");
        let mut requests = requests.lock().unwrap();
        requests.pop().expect("the request was recorded")
    }

    #[tokio::test]
    async fn data_storage_modify_carries_one_field_in_gb() {
        let request = send(Modification::Limit(
            LimitField::DataStorageMaximum,
            Some(10),
        ))
        .await;

        assert_eq!(request.serverless_cache_name(), Some(NAME));
        let limits = request.cache_usage_limits().expect("usage limits are sent");
        let storage = limits.data_storage().expect("data storage is sent");
        assert_eq!(storage.maximum(), Some(10));
        assert_eq!(storage.unit(), Some(&DataStorageUnit::Gb));
        assert_eq!(storage.minimum(), None, "the minimum is left out");
        assert!(limits.ecpu_per_second().is_none(), "ECPU is left out");
        assert!(request.security_group_ids().is_empty());
        assert_eq!(request.snapshot_retention_limit(), None);
        assert_eq!(request.daily_snapshot_time(), None);
        assert_eq!(request.major_engine_version(), None);
        assert_eq!(request.engine(), None);
    }

    #[tokio::test]
    async fn ecpu_modify_carries_only_ecpu_maximum() {
        let request = send(Modification::Limit(
            LimitField::EcpuPerSecondMaximum,
            Some(6000),
        ))
        .await;

        let limits = request.cache_usage_limits().expect("usage limits are sent");
        let ecpu = limits.ecpu_per_second().expect("ECPU is sent");
        assert_eq!(ecpu.maximum(), Some(6000));
        assert_eq!(ecpu.minimum(), None);
        assert!(limits.data_storage().is_none(), "data storage is left out");
    }

    #[tokio::test]
    async fn removed_limit_is_sent_as_zero() {
        let request = send(Modification::Limit(LimitField::DataStorageMaximum, None)).await;

        let storage = request
            .cache_usage_limits()
            .and_then(CacheUsageLimits::data_storage)
            .expect("data storage is sent");
        assert_eq!(storage.maximum(), Some(0));
        assert_eq!(storage.unit(), Some(&DataStorageUnit::Gb));
    }

    #[tokio::test]
    async fn version_upgrade_carries_only_the_version() {
        let request = send(Modification::MajorVersion("8".to_owned())).await;

        assert_eq!(request.major_engine_version(), Some("8"));
        assert_eq!(request.engine(), None);
        assert!(request.cache_usage_limits().is_none());
    }
}
