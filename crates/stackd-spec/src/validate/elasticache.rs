//! Checks of ElastiCache Serverless caches.

use std::collections::BTreeMap;

use super::{Context, Index, check_ids, check_unique_names, values};
use crate::model;
use crate::path;
use crate::raw;

/// Data storage limit range of a serverless cache, in GB. This range and the next are the ones
/// that the AWS CDK ElastiCache alpha module documents for `CacheUsageLimitsProperty`.
const DATA_STORAGE_GB: std::ops::RangeInclusive<u32> = 1..=5_000;

/// ECPU per second limit range of a serverless cache.
const ECPU_PER_SECOND: std::ops::RangeInclusive<u32> = 1_000..=15_000_000;

/// Maximum snapshot retention of a serverless cache, in days, as the ElastiCache API
/// reference states for `SnapshotRetentionLimit`.
const MAX_SNAPSHOT_RETENTION_DAYS: u32 = 35;

pub(super) fn caches(
    raw: &[raw::ServerlessCache],
    stack_tags: &BTreeMap<String, String>,
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
        let version_path = path::join_key(&at, "majorVersion");
        if !version_ok {
            context
                .error(
                    &version_path,
                    format!("invalid major version \"{version}\""),
                )
                .set_help("write the major version as a quoted number, such as \"8\"");
        } else if engine != model::CacheEngine::Memcached && version.contains('.') {
            context
                .error(
                    &version_path,
                    format!(
                        "invalid major version \"{version}\" for {}",
                        engine.as_str()
                    ),
                )
                .set_help(format!(
                    "{} major versions are whole numbers, such as \"8\"",
                    engine.as_str()
                ));
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
                        "dataStorageMinGb",
                        limits.data_storage_min_gb,
                        &DATA_STORAGE_GB,
                        "GB",
                    );
                    check_range(
                        "ecpuPerSecondMax",
                        limits.ecpu_per_second_max,
                        &ECPU_PER_SECOND,
                        "ECPU per second",
                    );
                    check_range(
                        "ecpuPerSecondMin",
                        limits.ecpu_per_second_min,
                        &ECPU_PER_SECOND,
                        "ECPU per second",
                    );
                    for (minimum_field, minimum, maximum_field, maximum) in [
                        (
                            "dataStorageMinGb",
                            limits.data_storage_min_gb,
                            "dataStorageMaxGb",
                            limits.data_storage_max_gb,
                        ),
                        (
                            "ecpuPerSecondMin",
                            limits.ecpu_per_second_min,
                            "ecpuPerSecondMax",
                            limits.ecpu_per_second_max,
                        ),
                    ] {
                        if let (Some(minimum), Some(maximum)) = (minimum, maximum)
                            && minimum > maximum
                        {
                            context
                                .error(
                                    &path::join_key(&limits_path, minimum_field),
                                    format!(
                                        "{minimum_field} {minimum} is greater than {maximum_field} {maximum}"
                                    ),
                                )
                                .set_help(format!(
                                    "lower {minimum_field} or raise {maximum_field}"
                                ));
                        }
                    }
                    model::CacheUsageLimits {
                        data_storage_max_gb: limits.data_storage_max_gb,
                        data_storage_min_gb: limits.data_storage_min_gb,
                        ecpu_per_second_max: limits.ecpu_per_second_max,
                        ecpu_per_second_min: limits.ecpu_per_second_min,
                    }
                });

        if let Some(days) = cache.snapshot_retention_limit
            && days > MAX_SNAPSHOT_RETENTION_DAYS
        {
            context
                .error(
                    &path::join_key(&at, "snapshotRetentionLimit"),
                    format!("snapshotRetentionLimit {days} is out of range"),
                )
                .set_help(format!(
                    "write 0 to {MAX_SNAPSHOT_RETENTION_DAYS} days; 0 turns automatic snapshots off"
                ));
        }
        if let Some(time) = &cache.daily_snapshot_time
            && !is_time_of_day(time)
        {
            context
                .error(
                    &path::join_key(&at, "dailySnapshotTime"),
                    format!("invalid daily snapshot time \"{time}\""),
                )
                .set_help("write a UTC time as HH:MM, such as \"03:00\"");
        }

        // The cache carries the stack's tags, its own and stackd's Name tag, and
        // stackd adds its two identity tags to those.
        let tags_path = path::join_key(&at, "tags");
        values::check_tags(context, &tags_path, &cache.tags, values::MAX_USER_TAGS);
        let mut all_tags = stack_tags.clone();
        all_tags.extend(cache.tags.clone());
        all_tags.insert("Name".to_owned(), String::new());
        if all_tags.len() > values::MAX_USER_TAGS && cache.tags.len() <= values::MAX_USER_TAGS {
            context
                .error(
                    &tags_path,
                    format!(
                        "with the stack's tags and the Name tag, the cache has {} tags",
                        all_tags.len()
                    ),
                )
                .set_help(format!(
                    "AWS allows 50 tags and stackd adds 2, so at most {} remain, Name included",
                    values::MAX_USER_TAGS
                ));
        }

        caches.push(model::ServerlessCache {
            id: cache.id.clone(),
            name: cache.name.clone(),
            engine,
            major_version: cache.major_version.clone(),
            subnets: cache.subnets.clone(),
            security_groups: cache.security_groups.clone(),
            limits,
            snapshot_retention_limit: cache.snapshot_retention_limit,
            daily_snapshot_time: cache.daily_snapshot_time.clone(),
            retain: cache.retain,
            tags: cache.tags.clone(),
        });
    }
    caches
}

fn is_number(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}

/// Returns whether `text` is a 24-hour time of day written `HH:MM`.
fn is_time_of_day(text: &str) -> bool {
    let Some((hours, minutes)) = text.split_once(':') else {
        return false;
    };
    let two_digits = |part: &str| part.len() == 2 && is_number(part);
    two_digits(hours)
        && two_digits(minutes)
        && hours.parse::<u32>().is_ok_and(|hours| hours < 24)
        && minutes.parse::<u32>().is_ok_and(|minutes| minutes < 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_of_day_accepts_hh_mm() {
        for time in ["00:00", "03:30", "23:59"] {
            assert!(is_time_of_day(time), "{time}");
        }
    }

    #[test]
    fn time_of_day_rejects_other_forms() {
        for time in ["3:00", "24:00", "12:60", "12-00", "12:00:00", "", "ab:cd"] {
            assert!(!is_time_of_day(time), "{time}");
        }
    }
}
