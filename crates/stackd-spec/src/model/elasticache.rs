//! ElastiCache Serverless caches.

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerlessCache {
    pub id: String,
    pub name: String,
    pub engine: CacheEngine,
    /// Major engine version such as `8`, or `1.6` for Memcached.
    pub major_version: String,
    /// Logical ids of subnets.
    pub subnets: Vec<String>,
    /// Logical ids of security groups.
    pub security_groups: Vec<String>,
    pub limits: CacheUsageLimits,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum CacheEngine {
    Valkey,
    Redis,
    Memcached,
}

/// Maximum usage. `None` leaves the dimension unlimited.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CacheUsageLimits {
    /// GB, 1 to 5000.
    pub data_storage_max_gb: Option<u32>,
    /// ElastiCache Processing Units per second, 1000 to 15000000.
    pub ecpu_per_second_max: Option<u32>,
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
