//! Checks of the write lease.

use super::{Context, values};
use crate::model;
use crate::raw;

/// TTL of a lease whose file sets none.
const DEFAULT_TTL_SECONDS: u32 = 60;
/// Shortest TTL: renewal runs every third of it, and S3 usually responds in well
/// under a second, so 10 s leaves room for a slow call.
const MIN_TTL_SECONDS: u32 = 10;
const MAX_TTL_SECONDS: u32 = 3600;

pub(super) fn lease(
    raw: Option<&raw::Lease>,
    stack_name: &str,
    buckets: &[model::Bucket],
    context: &mut Context<'_>,
) -> Option<model::Lease> {
    let raw = raw?;
    if let Some(problem) = values::bucket_name_problem(&raw.bucket) {
        context
            .error(
                "spec.lease.bucket",
                format!("invalid bucket name \"{}\": {problem}", raw.bucket),
            )
            .set_help(
                "S3 bucket names have 3 to 63 lowercase letters, digits, dots and hyphens, and start \
                 and end with a letter or digit",
            );
    }
    if buckets.iter().any(|bucket| bucket.name == raw.bucket) {
        context
            .error(
                "spec.lease.bucket",
                format!("bucket \"{}\" is also in spec.buckets", raw.bucket),
            )
            .set_help(
                "give the lease a bucket of its own: stackd creates it, and the stack's buckets \
                 hold application data",
            );
    }
    let key = match &raw.key {
        Some(key) if key.is_empty() || key.starts_with('/') => {
            context
                .error("spec.lease.key", format!("invalid object key \"{key}\""))
                .set_help("write a key such as stackd/beezyup-prod-c01.lease, without a leading /");
            key.clone()
        }
        Some(key) => key.clone(),
        None => format!("stackd/{stack_name}.lease"),
    };
    let ttl = raw.ttl_seconds.unwrap_or(DEFAULT_TTL_SECONDS);
    if !(MIN_TTL_SECONDS..=MAX_TTL_SECONDS).contains(&ttl) {
        context
            .error(
                "spec.lease.ttlSeconds",
                format!("ttlSeconds {ttl} is out of range"),
            )
            .set_help(format!(
                "write {MIN_TTL_SECONDS} to {MAX_TTL_SECONDS} seconds; {DEFAULT_TTL_SECONDS} suits most stacks"
            ));
    }
    Some(model::Lease {
        bucket: raw.bucket.clone(),
        key,
        ttl_seconds: ttl,
    })
}
