//! ElastiCache Serverless caches.

use std::collections::BTreeMap;

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerlessCache {
    pub id: String,
    pub name: String,
    pub engine: CacheEngine,
    /// Major engine version such as `8`, or `1.6` for Memcached. The spec crate checks
    /// only its form: a downgrade of a live cache is refused at plan time by the
    /// cache component, which compares it with the version AWS reports.
    pub major_version: String,
    /// Logical ids of subnets.
    pub subnets: Vec<String>,
    /// Logical ids of security groups.
    pub security_groups: Vec<String>,
    pub limits: CacheUsageLimits,
    /// Days that ElastiCache keeps automatic snapshots, 0 to 35. `None` leaves the
    /// live value alone.
    pub snapshot_retention_limit: Option<u32>,
    /// UTC start time of the daily snapshot, as `HH:MM`. `None` leaves the live value
    /// alone.
    pub daily_snapshot_time: Option<String>,
    /// Whether stackd keeps the cache when it leaves the file. Defaults to true,
    /// because a cache may contain sessions.
    pub retain: bool,
    /// Tags of this cache, added to the stack's tags.
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum CacheEngine {
    Valkey,
    Redis,
    Memcached,
}

/// Usage limits. A maximum of `None` leaves the dimension unlimited, and a minimum of
/// `None` reserves nothing. Each minimum is at most its maximum.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CacheUsageLimits {
    /// GB, 1 to 5000.
    pub data_storage_max_gb: Option<u32>,
    /// GB, 1 to 5000.
    pub data_storage_min_gb: Option<u32>,
    /// ElastiCache Processing Units per second, 1000 to 15000000.
    pub ecpu_per_second_max: Option<u32>,
    /// ElastiCache Processing Units per second, 1000 to 15000000.
    pub ecpu_per_second_min: Option<u32>,
}

impl CacheEngine {
    /// Engine name as the ElastiCache API spells it.
    pub fn as_str(&self) -> &'static str {
        match self {
            CacheEngine::Valkey => "valkey",
            CacheEngine::Redis => "redis",
            CacheEngine::Memcached => "memcached",
        }
    }
}
