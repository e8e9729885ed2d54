//! The fields of a distribution that stackd owns, in one comparable form that both
//! the file and CloudFront's response are read into.
//!
//! Reading CloudFront back: an absent boolean is false, an absent list is empty,
//! aliases and methods are sets, origins are a map keyed by origin id, and cache
//! behaviors stay in order because the first one whose path matches wins.

use aws_sdk_cloudfront::types::{
    AllowedMethods, CacheBehavior, DefaultCacheBehavior, DistributionConfig, Origin,
    TrustedKeyGroups, ViewerCertificate,
};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// Viewer protocol policy of every behavior: viewers always reach CloudFront over HTTPS.
pub const VIEWER_PROTOCOL_POLICY: &str = "redirect-to-https";

/// The owned fields of a distribution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DistributionView {
    pub comment: String,
    pub enabled: bool,
    pub aliases: BTreeSet<String>,
    pub viewer_certificate: CertificateView,
    /// Origins keyed by origin id.
    pub origins: BTreeMap<String, OriginView>,
    pub default_behavior: BehaviorView,
    /// Ordered cache behaviors, each with its path pattern.
    pub behaviors: Vec<BehaviorView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CertificateView {
    /// `None` serves CloudFront's default certificate.
    pub acm_certificate_arn: Option<String>,
    /// `sni-only` with an ACM certificate.
    pub ssl_support_method: Option<String>,
    /// Security policy such as `TLSv1.2_2021`. A desired `None` leaves CloudFront's value.
    pub minimum_protocol_version: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OriginView {
    pub domain_name: String,
    /// Empty for the root of the origin.
    pub origin_path: String,
    pub access: OriginAccess,
}

/// How CloudFront reaches an origin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum OriginAccess {
    /// An S3 bucket, signed with an origin access control when the id is set.
    S3 {
        origin_access_control_id: Option<String>,
    },
    /// An HTTP server, such as an API Gateway endpoint.
    Custom {
        protocol_policy: String,
        https_port: i32,
        ssl_protocols: BTreeSet<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BehaviorView {
    /// `None` for the default behavior.
    pub path_pattern: Option<String>,
    pub target_origin_id: String,
    pub viewer_protocol_policy: String,
    pub allowed_methods: BTreeSet<String>,
    pub cached_methods: BTreeSet<String>,
    pub cache_policy_id: Option<String>,
    pub origin_request_policy_id: Option<String>,
    pub compress: bool,
    /// Ids of the trusted key groups; empty when the behavior needs no signed URL.
    pub trusted_key_groups: BTreeSet<String>,
}

impl DistributionView {
    /// Reads the owned fields out of a distribution's configuration.
    pub fn from_config(config: &DistributionConfig) -> Self {
        let behaviors = config
            .cache_behaviors
            .as_ref()
            .and_then(|behaviors| behaviors.items.as_ref())
            .map(|items| {
                items
                    .iter()
                    .map(BehaviorView::from_cache_behavior)
                    .collect()
            })
            .unwrap_or_default();
        DistributionView {
            comment: config.comment.clone(),
            enabled: config.enabled,
            aliases: config
                .aliases
                .as_ref()
                .and_then(|aliases| aliases.items.clone())
                .unwrap_or_default()
                .into_iter()
                .collect(),
            viewer_certificate: CertificateView::from_sdk(config.viewer_certificate.as_ref()),
            origins: config
                .origins
                .as_ref()
                .map(|origins| {
                    origins
                        .items
                        .iter()
                        .map(|origin| (origin.id.clone(), OriginView::from_sdk(origin)))
                        .collect()
                })
                .unwrap_or_default(),
            default_behavior: config
                .default_cache_behavior
                .as_ref()
                .map(BehaviorView::from_default_behavior)
                .unwrap_or_else(BehaviorView::missing),
            behaviors,
        }
    }
}

impl CertificateView {
    fn from_sdk(certificate: Option<&ViewerCertificate>) -> Self {
        let Some(certificate) = certificate else {
            return CertificateView {
                acm_certificate_arn: None,
                ssl_support_method: None,
                minimum_protocol_version: None,
            };
        };
        CertificateView {
            acm_certificate_arn: certificate
                .acm_certificate_arn
                .clone()
                .filter(|arn| !arn.is_empty()),
            ssl_support_method: certificate
                .ssl_support_method
                .as_ref()
                .map(|method| method.as_str().to_owned()),
            minimum_protocol_version: certificate
                .minimum_protocol_version
                .as_ref()
                .map(|version| version.as_str().to_owned()),
        }
    }
}

impl OriginView {
    fn from_sdk(origin: &Origin) -> Self {
        let access = match &origin.custom_origin_config {
            Some(custom) => OriginAccess::Custom {
                protocol_policy: custom.origin_protocol_policy.as_str().to_owned(),
                https_port: custom.https_port,
                ssl_protocols: custom
                    .origin_ssl_protocols
                    .as_ref()
                    .map(|protocols| {
                        protocols
                            .items
                            .iter()
                            .map(|protocol| protocol.as_str().to_owned())
                            .collect()
                    })
                    .unwrap_or_default(),
            },
            None => OriginAccess::S3 {
                origin_access_control_id: origin
                    .origin_access_control_id
                    .clone()
                    .filter(|id| !id.is_empty()),
            },
        };
        OriginView {
            domain_name: origin.domain_name.clone(),
            origin_path: origin.origin_path.clone().unwrap_or_default(),
            access,
        }
    }
}

impl BehaviorView {
    /// The view of a distribution that CloudFront returned without a default behavior.
    fn missing() -> Self {
        BehaviorView {
            path_pattern: None,
            target_origin_id: String::new(),
            viewer_protocol_policy: String::new(),
            allowed_methods: BTreeSet::new(),
            cached_methods: BTreeSet::new(),
            cache_policy_id: None,
            origin_request_policy_id: None,
            compress: false,
            trusted_key_groups: BTreeSet::new(),
        }
    }

    fn from_default_behavior(behavior: &DefaultCacheBehavior) -> Self {
        BehaviorView {
            path_pattern: None,
            target_origin_id: behavior.target_origin_id.clone(),
            viewer_protocol_policy: behavior.viewer_protocol_policy.as_str().to_owned(),
            allowed_methods: allowed(behavior.allowed_methods.as_ref()),
            cached_methods: cached(behavior.allowed_methods.as_ref()),
            cache_policy_id: non_empty(&behavior.cache_policy_id),
            origin_request_policy_id: non_empty(&behavior.origin_request_policy_id),
            compress: behavior.compress.unwrap_or(false),
            trusted_key_groups: key_groups(behavior.trusted_key_groups.as_ref()),
        }
    }

    fn from_cache_behavior(behavior: &CacheBehavior) -> Self {
        BehaviorView {
            path_pattern: Some(behavior.path_pattern.clone()),
            target_origin_id: behavior.target_origin_id.clone(),
            viewer_protocol_policy: behavior.viewer_protocol_policy.as_str().to_owned(),
            allowed_methods: allowed(behavior.allowed_methods.as_ref()),
            cached_methods: cached(behavior.allowed_methods.as_ref()),
            cache_policy_id: non_empty(&behavior.cache_policy_id),
            origin_request_policy_id: non_empty(&behavior.origin_request_policy_id),
            compress: behavior.compress.unwrap_or(false),
            trusted_key_groups: key_groups(behavior.trusted_key_groups.as_ref()),
        }
    }
}

fn non_empty(value: &Option<String>) -> Option<String> {
    value.clone().filter(|value| !value.is_empty())
}

/// Reads the allowed methods; CloudFront's default is GET and HEAD.
fn allowed(methods: Option<&AllowedMethods>) -> BTreeSet<String> {
    match methods {
        Some(methods) => methods
            .items
            .iter()
            .map(|method| method.as_str().to_owned())
            .collect(),
        None => ["GET", "HEAD"].map(str::to_owned).into(),
    }
}

/// Reads the cached methods; CloudFront's default is GET and HEAD.
fn cached(methods: Option<&AllowedMethods>) -> BTreeSet<String> {
    match methods.and_then(|methods| methods.cached_methods.as_ref()) {
        Some(cached) => cached
            .items
            .iter()
            .map(|method| method.as_str().to_owned())
            .collect(),
        None => ["GET", "HEAD"].map(str::to_owned).into(),
    }
}

/// Reads the trusted key groups; a disabled list counts as empty.
fn key_groups(groups: Option<&TrustedKeyGroups>) -> BTreeSet<String> {
    match groups {
        Some(groups) if groups.enabled => groups
            .items
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect(),
        _ => BTreeSet::new(),
    }
}
