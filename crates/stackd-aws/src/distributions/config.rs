//! The desired distribution: its view built from the file, and the CloudFront
//! configuration sent to create it or merged into the live one to update it.

use super::view::{
    BehaviorView, CertificateView, DistributionView, OriginAccess, OriginView,
    VIEWER_PROTOCOL_POLICY,
};
use aws_sdk_cloudfront::error::BuildError;
use aws_sdk_cloudfront::types::{
    Aliases, AllowedMethods, CacheBehavior, CacheBehaviors, CachedMethods, CustomOriginConfig,
    DefaultCacheBehavior, DistributionConfig, Method, MinimumProtocolVersion, Origin,
    OriginProtocolPolicy, OriginSslProtocols, Origins, S3OriginConfig, SslProtocol,
    SslSupportMethod, TrustedKeyGroups, ViewerCertificate, ViewerProtocolPolicy,
};
use stackd_spec::model::{self, AllowedMethods as FileMethods, Distribution};
use std::collections::{BTreeMap, BTreeSet};

/// TLS versions that CloudFront may use to reach a custom origin.
const ORIGIN_SSL_PROTOCOLS: [&str; 1] = ["TLSv1.2"];

/// Values of the desired distribution that come from other resources. A value
/// that does not exist yet is `stackd_engine::UNKNOWN_UNTIL_APPLIED`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The API's execute-api domain, or the bucket's regional domain.
    pub origin_domain: String,
    /// Id of the origin access control, for a bucket origin.
    pub origin_access_control_id: String,
    /// Id of the trusted key group, for a distribution with signed URLs.
    pub key_group_id: String,
}

/// Returns the id of the distribution's one origin, such as `s3-media` or `api-api`.
pub fn origin_id(origin: &model::Origin) -> String {
    match origin {
        model::Origin::Api(api) => format!("api-{api}"),
        model::Origin::Bucket(bucket) => format!("s3-{bucket}"),
    }
}

/// Builds the view of the distribution that the file describes.
pub fn desired_view(desired: &Distribution, resolved: &Resolved) -> DistributionView {
    let origin_id = origin_id(&desired.origin);
    let access = match &desired.origin {
        model::Origin::Api(_) => OriginAccess::Custom {
            protocol_policy: "https-only".to_owned(),
            https_port: 443,
            ssl_protocols: ORIGIN_SSL_PROTOCOLS.map(str::to_owned).into(),
        },
        model::Origin::Bucket(_) => OriginAccess::S3 {
            origin_access_control_id: Some(resolved.origin_access_control_id.clone()),
        },
    };
    let origin = OriginView {
        domain_name: resolved.origin_domain.clone(),
        origin_path: String::new(),
        access,
    };
    let key_groups: BTreeSet<String> = match &desired.signed_urls {
        Some(_) => BTreeSet::from([resolved.key_group_id.clone()]),
        None => BTreeSet::new(),
    };
    let behavior = |file: &model::CacheBehavior| BehaviorView {
        path_pattern: file.path_pattern.clone(),
        target_origin_id: origin_id.clone(),
        viewer_protocol_policy: VIEWER_PROTOCOL_POLICY.to_owned(),
        allowed_methods: methods(file.allowed_methods)
            .iter()
            .copied()
            .map(str::to_owned)
            .collect(),
        cached_methods: ["GET", "HEAD"].map(str::to_owned).into(),
        cache_policy_id: Some(file.cache_policy.id.clone()),
        origin_request_policy_id: file
            .origin_request_policy
            .as_ref()
            .map(|policy| policy.id.clone()),
        compress: true,
        trusted_key_groups: key_groups.clone(),
    };
    let certificate = match &desired.certificate_arn {
        Some(arn) => CertificateView {
            acm_certificate_arn: Some(arn.clone()),
            ssl_support_method: Some("sni-only".to_owned()),
            minimum_protocol_version: desired.minimum_protocol_version.clone(),
        },
        None => CertificateView {
            acm_certificate_arn: None,
            ssl_support_method: None,
            minimum_protocol_version: desired.minimum_protocol_version.clone(),
        },
    };
    DistributionView {
        comment: desired.comment.clone().unwrap_or_default(),
        enabled: true,
        aliases: desired.aliases.iter().cloned().collect(),
        viewer_certificate: certificate,
        origins: BTreeMap::from([(origin_id.clone(), origin)]),
        default_behavior: behavior(&desired.default_behavior),
        behaviors: desired.behaviors.iter().map(behavior).collect(),
    }
}

fn methods(allowed: FileMethods) -> &'static [&'static str] {
    match allowed {
        FileMethods::GetHead => &["GET", "HEAD"],
        FileMethods::GetHeadOptions => &["GET", "HEAD", "OPTIONS"],
        FileMethods::All => &["GET", "HEAD", "OPTIONS", "PUT", "PATCH", "POST", "DELETE"],
    }
}

/// Builds the whole configuration of a new distribution.
pub fn new_config(
    view: &DistributionView,
    caller_reference: &str,
) -> Result<DistributionConfig, BuildError> {
    let live = DistributionConfig::builder()
        .caller_reference(caller_reference)
        .comment("")
        .enabled(true)
        .origins(
            Origins::builder()
                .quantity(0)
                .set_items(Some(Vec::new()))
                .build()?,
        )
        .build()?;
    merged_config(&live, view)
}

/// Returns the live configuration with every field that stackd owns set as the view
/// wants it. Fields that the file does not describe (logging, restrictions, price
/// class, functions on a behavior, an origin's timeouts) keep their live values.
pub fn merged_config(
    live: &DistributionConfig,
    view: &DistributionView,
) -> Result<DistributionConfig, BuildError> {
    let mut config = live.clone();
    config.comment = view.comment.clone();
    config.enabled = view.enabled;
    let aliases: Vec<String> = view.aliases.iter().cloned().collect();
    config.aliases = Some(
        Aliases::builder()
            .quantity(count(aliases.len()))
            .set_items(Some(aliases))
            .build()?,
    );
    config.viewer_certificate = Some(certificate(
        live.viewer_certificate.as_ref(),
        &view.viewer_certificate,
    ));

    let live_origins: Vec<Origin> = live
        .origins
        .as_ref()
        .map(|origins| origins.items.clone())
        .unwrap_or_default();
    let origins = view
        .origins
        .iter()
        .map(|(id, desired)| {
            let found = live_origins.iter().find(|origin| &origin.id == id);
            origin(id, found, desired)
        })
        .collect::<Result<Vec<_>, _>>()?;
    config.origins = Some(
        Origins::builder()
            .quantity(count(origins.len()))
            .set_items(Some(origins))
            .build()?,
    );

    config.default_cache_behavior = Some(default_behavior(
        live.default_cache_behavior.as_ref(),
        &view.default_behavior,
    )?);
    let live_behaviors: Vec<CacheBehavior> = live
        .cache_behaviors
        .as_ref()
        .and_then(|behaviors| behaviors.items.clone())
        .unwrap_or_default();
    let behaviors = view
        .behaviors
        .iter()
        .map(|desired| {
            let pattern = desired.path_pattern.clone().unwrap_or_default();
            let found = live_behaviors
                .iter()
                .find(|behavior| behavior.path_pattern == pattern);
            cache_behavior(found, &pattern, desired)
        })
        .collect::<Result<Vec<_>, _>>()?;
    config.cache_behaviors = Some(
        CacheBehaviors::builder()
            .quantity(count(behaviors.len()))
            .set_items(Some(behaviors))
            .build()?,
    );
    Ok(config)
}

/// Converts a list length to the `Quantity` that CloudFront wants beside each list.
fn count(length: usize) -> i32 {
    i32::try_from(length).unwrap_or(i32::MAX)
}

fn certificate(live: Option<&ViewerCertificate>, desired: &CertificateView) -> ViewerCertificate {
    let live_version = live.and_then(|certificate| certificate.minimum_protocol_version.clone());
    let version = desired
        .minimum_protocol_version
        .as_deref()
        .map(MinimumProtocolVersion::from)
        .or(live_version);
    match &desired.acm_certificate_arn {
        Some(arn) => ViewerCertificate::builder()
            .cloud_front_default_certificate(false)
            .acm_certificate_arn(arn)
            .ssl_support_method(SslSupportMethod::from(
                desired.ssl_support_method.as_deref().unwrap_or("sni-only"),
            ))
            .set_minimum_protocol_version(version)
            .build(),
        None => ViewerCertificate::builder()
            .cloud_front_default_certificate(true)
            .set_minimum_protocol_version(version)
            .build(),
    }
}

fn origin(id: &str, live: Option<&Origin>, desired: &OriginView) -> Result<Origin, BuildError> {
    let mut origin = match live {
        Some(found) => found.clone(),
        None => Origin::builder()
            .id(id)
            .domain_name(&desired.domain_name)
            .build()?,
    };
    origin.domain_name = desired.domain_name.clone();
    origin.origin_path = Some(desired.origin_path.clone());
    match &desired.access {
        OriginAccess::S3 {
            origin_access_control_id,
        } => {
            origin.custom_origin_config = None;
            // An origin access control replaces the legacy origin access identity.
            let read_timeout = origin
                .s3_origin_config
                .as_ref()
                .and_then(|config| config.origin_read_timeout);
            origin.s3_origin_config = Some(
                S3OriginConfig::builder()
                    .origin_access_identity("")
                    .set_origin_read_timeout(read_timeout)
                    .build(),
            );
            origin.origin_access_control_id = origin_access_control_id.clone();
        }
        OriginAccess::Custom {
            protocol_policy,
            https_port,
            ssl_protocols,
        } => {
            origin.s3_origin_config = None;
            origin.origin_access_control_id = None;
            let live_custom = origin.custom_origin_config.take();
            let protocols: Vec<SslProtocol> = ssl_protocols
                .iter()
                .map(|protocol| SslProtocol::from(protocol.as_str()))
                .collect();
            let mut custom = CustomOriginConfig::builder()
                .http_port(80)
                .https_port(*https_port)
                .origin_protocol_policy(OriginProtocolPolicy::from(protocol_policy.as_str()))
                .origin_ssl_protocols(
                    OriginSslProtocols::builder()
                        .quantity(count(protocols.len()))
                        .set_items(Some(protocols))
                        .build()?,
                )
                .build()?;
            if let Some(found) = live_custom {
                custom.http_port = found.http_port;
                custom.origin_read_timeout = found.origin_read_timeout;
                custom.origin_keepalive_timeout = found.origin_keepalive_timeout;
                custom.ip_address_type = found.ip_address_type;
                custom.origin_mtls_config = found.origin_mtls_config;
            }
            origin.custom_origin_config = Some(custom);
        }
    }
    Ok(origin)
}

/// The owned fields of a behavior, as the SDK types want them.
struct BehaviorFields {
    allowed_methods: AllowedMethods,
    trusted_key_groups: TrustedKeyGroups,
}

fn behavior_fields(desired: &BehaviorView) -> Result<BehaviorFields, BuildError> {
    let allowed: Vec<Method> = desired
        .allowed_methods
        .iter()
        .map(|method| Method::from(method.as_str()))
        .collect();
    let cached: Vec<Method> = desired
        .cached_methods
        .iter()
        .map(|method| Method::from(method.as_str()))
        .collect();
    let groups: Vec<String> = desired.trusted_key_groups.iter().cloned().collect();
    Ok(BehaviorFields {
        allowed_methods: AllowedMethods::builder()
            .quantity(count(allowed.len()))
            .set_items(Some(allowed))
            .cached_methods(
                CachedMethods::builder()
                    .quantity(count(cached.len()))
                    .set_items(Some(cached))
                    .build()?,
            )
            .build()?,
        trusted_key_groups: TrustedKeyGroups::builder()
            .enabled(!groups.is_empty())
            .quantity(count(groups.len()))
            .set_items(Some(groups))
            .build()?,
    })
}

/// Sets the owned fields of a default or path behavior, which are two SDK types
/// with the same fields. A cache policy excludes the legacy cache settings, so
/// those are cleared.
macro_rules! set_owned_fields {
    ($behavior:expr, $desired:expr, $fields:expr) => {{
        let behavior = $behavior;
        let desired: &BehaviorView = $desired;
        let fields: BehaviorFields = $fields;
        behavior.target_origin_id = desired.target_origin_id.clone();
        behavior.viewer_protocol_policy =
            ViewerProtocolPolicy::from(desired.viewer_protocol_policy.as_str());
        behavior.allowed_methods = Some(fields.allowed_methods);
        behavior.cache_policy_id = desired.cache_policy_id.clone();
        behavior.origin_request_policy_id = desired.origin_request_policy_id.clone();
        behavior.compress = Some(desired.compress);
        behavior.trusted_key_groups = Some(fields.trusted_key_groups);
        // The legacy cache settings are deprecated in favour of cache policies, and
        // CloudFront rejects a behavior that has both.
        #[allow(deprecated)]
        {
            behavior.forwarded_values = None;
            behavior.min_ttl = None;
            behavior.default_ttl = None;
            behavior.max_ttl = None;
        }
    }};
}

fn default_behavior(
    live: Option<&DefaultCacheBehavior>,
    desired: &BehaviorView,
) -> Result<DefaultCacheBehavior, BuildError> {
    let mut behavior = match live {
        Some(found) => found.clone(),
        None => DefaultCacheBehavior::builder()
            .target_origin_id(&desired.target_origin_id)
            .viewer_protocol_policy(ViewerProtocolPolicy::from(VIEWER_PROTOCOL_POLICY))
            .build()?,
    };
    set_owned_fields!(&mut behavior, desired, behavior_fields(desired)?);
    Ok(behavior)
}

fn cache_behavior(
    live: Option<&CacheBehavior>,
    pattern: &str,
    desired: &BehaviorView,
) -> Result<CacheBehavior, BuildError> {
    let mut behavior = match live {
        Some(found) => found.clone(),
        None => CacheBehavior::builder()
            .path_pattern(pattern)
            .target_origin_id(&desired.target_origin_id)
            .viewer_protocol_policy(ViewerProtocolPolicy::from(VIEWER_PROTOCOL_POLICY))
            .build()?,
    };
    set_owned_fields!(&mut behavior, desired, behavior_fields(desired)?);
    Ok(behavior)
}

#[cfg(test)]
mod tests {
    use super::*;
    use stackd_spec::model::{CacheBehavior as FileBehavior, ManagedPolicy, PublicKey, SignedUrls};

    fn policy(name: &str, id: &str) -> ManagedPolicy {
        ManagedPolicy {
            name: name.to_owned(),
            id: id.to_owned(),
        }
    }

    /// The files distribution of the beezyup file.
    fn files() -> Distribution {
        Distribution {
            id: "files".to_owned(),
            comment: Some("files.beezyup.com".to_owned()),
            aliases: vec!["files.beezyup.com".to_owned()],
            certificate_arn: Some("arn:aws:acm:us-east-1:000000000000:certificate/x".to_owned()),
            minimum_protocol_version: Some("TLSv1.2_2021".to_owned()),
            origin: model::Origin::Bucket("files".to_owned()),
            default_behavior: FileBehavior {
                path_pattern: None,
                cache_policy: policy("CachingOptimized", "658327ea-f89d-4fab-a63d-7e88639e58f6"),
                origin_request_policy: None,
                allowed_methods: FileMethods::GetHead,
            },
            behaviors: vec![FileBehavior {
                path_pattern: Some("/private/*".to_owned()),
                cache_policy: policy("CachingDisabled", "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"),
                origin_request_policy: None,
                allowed_methods: FileMethods::All,
            }],
            signed_urls: Some(SignedUrls {
                public_keys: vec![PublicKey {
                    id: "files-2026".to_owned(),
                    pem_file: "keys/k.pem".to_owned(),
                    pem_path: "keys/k.pem".into(),
                }],
            }),
        }
    }

    fn resolved() -> Resolved {
        Resolved {
            origin_domain: "files.s3.eu-west-3.amazonaws.com".to_owned(),
            origin_access_control_id: "OAC1".to_owned(),
            key_group_id: "KG1".to_owned(),
        }
    }

    #[test]
    fn new_config_reads_back_as_the_desired_view() {
        let view = desired_view(&files(), &resolved());
        let config = new_config(&view, "ref").unwrap();
        assert_eq!(config.caller_reference, "ref");
        assert_eq!(DistributionView::from_config(&config), view);
    }

    #[test]
    fn signed_urls_restrict_every_behavior() {
        let view = desired_view(&files(), &resolved());
        assert_eq!(
            view.default_behavior.trusted_key_groups,
            BTreeSet::from(["KG1".to_owned()])
        );
        assert_eq!(
            view.behaviors[0].trusted_key_groups,
            BTreeSet::from(["KG1".to_owned()])
        );
    }

    #[test]
    fn merge_keeps_fields_the_file_does_not_describe() {
        let view = desired_view(&files(), &resolved());
        let mut live = new_config(&view, "ref").unwrap();
        live.price_class = Some(aws_sdk_cloudfront::types::PriceClass::PriceClass100);
        live.comment = "changed in the console".to_owned();
        let behaviors = live
            .cache_behaviors
            .as_mut()
            .unwrap()
            .items
            .as_mut()
            .unwrap();
        behaviors[0].response_headers_policy_id = Some("RHP".to_owned());
        behaviors[0].cache_policy_id = Some("other".to_owned());

        let merged = merged_config(&live, &view).unwrap();

        assert_eq!(DistributionView::from_config(&merged), view);
        assert_eq!(merged.caller_reference, "ref");
        assert_eq!(merged.price_class, live.price_class);
        let behavior = &merged.cache_behaviors.unwrap().items.unwrap()[0];
        assert_eq!(behavior.response_headers_policy_id.as_deref(), Some("RHP"));
    }

    #[test]
    fn merge_drops_origins_the_file_does_not_name() {
        let view = desired_view(&files(), &resolved());
        let mut live = new_config(&view, "ref").unwrap();
        let extra = Origin::builder()
            .id("extra")
            .domain_name("example.com")
            .build()
            .unwrap();
        live.origins.as_mut().unwrap().items.push(extra);
        live.origins.as_mut().unwrap().quantity = 2;

        let merged = merged_config(&live, &view).unwrap();

        let origins = merged.origins.unwrap();
        assert_eq!(origins.quantity, 1);
        assert_eq!(origins.items[0].id, "s3-files");
    }
}
