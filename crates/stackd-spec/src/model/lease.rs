//! The lease that lets one stackd run at a time write to a stack.

use serde::Serialize;
use std::time::Duration;

/// The S3 object that the daemon and CI runs take before their first write.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Lease {
    pub bucket: String,
    pub key: String,
    /// Seconds after its last renewal at which a silent holder loses the lease.
    pub ttl_seconds: u32,
}

impl Lease {
    pub fn ttl(&self) -> Duration {
        Duration::from_secs(u64::from(self.ttl_seconds))
    }
}
