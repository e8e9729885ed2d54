//! S3 buckets.

use std::collections::BTreeMap;

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Bucket {
    pub id: String,
    /// Bucket name, valid under the S3 naming rules.
    pub name: String,
    pub encryption: BucketEncryption,
    /// Defaults to false.
    pub versioning: bool,
    /// Whether stackd keeps the bucket when it leaves the file. Defaults to true.
    pub retain: bool,
    /// Tags of this bucket, added to the stack's tags.
    pub tags: BTreeMap<String, String>,
}

/// Default server-side encryption.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum BucketEncryption {
    /// SSE-S3 (`AES256`), the default.
    Aes256,
    /// SSE-KMS (`aws:kms`). `None` uses the AWS-managed key `aws/s3`.
    Kms { key_id: Option<String> },
}
