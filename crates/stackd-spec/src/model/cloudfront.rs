//! CloudFront distributions with one origin, managed cache policies and signed URLs.

use std::path::PathBuf;

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Distribution {
    pub id: String,
    pub comment: Option<String>,
    /// Alternate domain names (CNAMEs), unique across the stack.
    pub aliases: Vec<String>,
    /// ACM certificate in us-east-1, set whenever `aliases` is not empty.
    pub certificate_arn: Option<String>,
    /// Security policy such as `TLSv1.2_2021`. `None` leaves CloudFront's default.
    pub minimum_protocol_version: Option<String>,
    pub origin: Origin,
    pub default_behavior: CacheBehavior,
    /// Ordered behaviors, each with a distinct path pattern.
    pub behaviors: Vec<CacheBehavior>,
    /// Trusted key group: when set, every behavior requires signed URLs or cookies.
    pub signed_urls: Option<SignedUrls>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Origin {
    /// Logical id of an HTTP API, reached at its default endpoint.
    Api(String),
    /// Logical id of a bucket, reached through origin access control.
    Bucket(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CacheBehavior {
    /// `None` for the default behavior.
    pub path_pattern: Option<String>,
    pub cache_policy: ManagedPolicy,
    pub origin_request_policy: Option<ManagedPolicy>,
    pub allowed_methods: AllowedMethods,
}

/// A CloudFront managed policy, by the name the file uses and the id that the API takes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ManagedPolicy {
    pub name: String,
    pub id: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AllowedMethods {
    /// GET and HEAD, the default.
    GetHead,
    /// GET, HEAD and OPTIONS.
    GetHeadOptions,
    /// GET, HEAD, OPTIONS, PUT, PATCH, POST and DELETE.
    All,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SignedUrls {
    /// At least one key.
    pub public_keys: Vec<PublicKey>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PublicKey {
    pub id: String,
    /// Path as written in the file, relative to the file's folder.
    pub pem_file: String,
    /// `pem_file` joined to the folder of the file name given to `load`. The spec crate
    /// never reads it.
    pub pem_path: PathBuf,
}

/// CloudFront managed cache policies: name and id.
pub(crate) const MANAGED_CACHE_POLICIES: &[(&str, &str)] = &[
    ("CachingOptimized", "658327ea-f89d-4fab-a63d-7e88639e58f6"),
    ("CachingDisabled", "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"),
];

/// CloudFront managed origin request policies: name and id.
pub(crate) const MANAGED_ORIGIN_REQUEST_POLICIES: &[(&str, &str)] = &[
    ("AllViewer", "216adef6-5c7f-47e4-b989-5492eafa07d3"),
    (
        "AllViewerExceptHostHeader",
        "b689b0a8-53d0-40ab-baf2-68738e2966ac",
    ),
    ("CORS-S3Origin", "88a5eaf4-2fd4-4709-b370-b4c650ea3fcf"),
];

/// CloudFront viewer security policies, from the CloudFront API's `MinimumProtocolVersion`
/// values as listed by the AWS CDK `SecurityPolicyProtocol` enum (v2.221).
pub(crate) const SECURITY_POLICIES: &[&str] = &[
    "SSLv3",
    "TLSv1",
    "TLSv1_2016",
    "TLSv1.1_2016",
    "TLSv1.2_2018",
    "TLSv1.2_2019",
    "TLSv1.2_2021",
    "TLSv1.2_2025",
    "TLSv1.3_2025",
];

impl ManagedPolicy {
    /// Returns whether this is the managed policy `CachingDisabled`, the only one that caches
    /// nothing.
    pub fn is_caching_disabled(&self) -> bool {
        self.name == "CachingDisabled"
    }
}

impl Distribution {
    /// Iterates over the default behavior first, then the ordered behaviors.
    pub fn all_behaviors(&self) -> impl Iterator<Item = &CacheBehavior> {
        std::iter::once(&self.default_behavior).chain(&self.behaviors)
    }
}
