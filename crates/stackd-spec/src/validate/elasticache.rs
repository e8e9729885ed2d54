//! Checks of ElastiCache Serverless caches.

use super::{Context, Index, check_ids, check_unique_names, values};
use crate::model;
use crate::path;
use crate::raw;

/// Data storage limit range of a serverless cache, in GB. This range and the next are the ones
/// that the AWS CDK ElastiCache alpha module documents for `CacheUsageLimitsProperty`.
const DATA_STORAGE_GB: std::ops::RangeInclusive<u32> = 1..=5_000;

/// ECPU per second limit range of a serverless cache.
const ECPU_PER_SECOND: std::ops::RangeInclusive<u32> = 1_000..=15_000_000;

pub(super) fn caches(
    raw: &[raw::ServerlessCache],
    network: &model::Network,
    index: &Index,
    context: &mut Context<'_>,
) -> Vec<model::ServerlessCache> {
    let list = "spec.caches";
    check_ids(context, "cache", list, raw.iter().map(|c| c.id.as_str()));
    check_unique_names(
        context,
        "cache",
        raw.iter().enumerate().map(|(i, c)| {
            (
                path::join_key(&path::join_index(list, i), "name"),
                c.name.clone(),
            )
        }),
    );

    let mut caches = Vec::new();
    for (i, cache) in raw.iter().enumerate() {
        let at = path::join_index(list, i);
        let name_ok = values::is_lowercase_label(&cache.name)
            && cache.name.len() <= 40
            && cache.name.as_bytes()[0].is_ascii_lowercase()
            && !cache.name.contains("--");
        if !name_ok {
            context
                .error(
                    &path::join_key(&at, "name"),
                    format!("invalid cache name \"{}\"", cache.name),
                )
                .set_help(
                    "use at most 40 lowercase letters, digits and hyphens, starting with a letter, \
                     without two hyphens in a row or a trailing hyphen",
                );
        }

        let engine = match cache.engine {
            raw::CacheEngine::Valkey => model::CacheEngine::Valkey,
            raw::CacheEngine::Redis => model::CacheEngine::Redis,
            raw::CacheEngine::Memcached => model::CacheEngine::Memcached,
        };
        let version = &cache.major_version;
        let version_ok = match version.split_once('.') {
            Some((major, minor)) => is_number(major) && is_number(minor),
            None => is_number(version),
        };
        if !version_ok {
            context
                .error(
                    &path::join_key(&at, "majorVersion"),
                    format!("invalid major version \"{version}\""),
                )
                .set_help("write the major version as a quoted number, such as \"8\"");
        }

        let subnets_path = path::join_key(&at, "subnets");
        if cache.subnets.is_empty() {
            context.error(
                &subnets_path,
                "a serverless cache needs at least one subnet",
            );
        }
        index
            .subnets
            .check_all(context, &subnets_path, &cache.subnets);
        values::check_one_subnet_per_zone(
            context,
            &subnets_path,
            &cache.subnets,
            network,
            "serverless caches",
        );
        let groups_path = path::join_key(&at, "securityGroups");
        index
            .security_groups
            .check_all(context, &groups_path, &cache.security_groups);
        values::check_no_repeats(context, &groups_path, &cache.security_groups);

        let limits =
            cache
                .limits
                .as_ref()
                .map_or_else(model::CacheUsageLimits::default, |limits| {
                    let limits_path = path::join_key(&at, "limits");
                    let mut check_range = |field: &str,
                                           value: Option<u32>,
                                           range: &std::ops::RangeInclusive<u32>,
                                           unit: &str| {
                        if let Some(value) = value
                            && !range.contains(&value)
                        {
                            context
                                .error(
                                    &path::join_key(&limits_path, field),
                                    format!("{field} {value} is out of range"),
                                )
                                .set_help(format!(
                                    "write {} to {} {unit}",
                                    range.start(),
                                    range.end()
                                ));
                        }
                    };
                    check_range(
                        "dataStorageMaxGb",
                        limits.data_storage_max_gb,
                        &DATA_STORAGE_GB,
                        "GB",
                    );
                    check_range(
                        "ecpuPerSecondMax",
                        limits.ecpu_per_second_max,
                        &ECPU_PER_SECOND,
                        "ECPU per second",
                    );
                    model::CacheUsageLimits {
                        data_storage_max_gb: limits.data_storage_max_gb,
                        ecpu_per_second_max: limits.ecpu_per_second_max,
                    }
                });

        caches.push(model::ServerlessCache {
            id: cache.id.clone(),
            name: cache.name.clone(),
            engine,
            major_version: cache.major_version.clone(),
            subnets: cache.subnets.clone(),
            security_groups: cache.security_groups.clone(),
            limits,
        });
    }
    caches
}

fn is_number(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}
