//! Checks of CloudFront distributions: origin, aliases, certificate, behaviors and signed URLs.

use std::path::Path;

use super::{Context, Index, check_ids, values};
use crate::model::{
    self, MANAGED_CACHE_POLICIES, MANAGED_ORIGIN_REQUEST_POLICIES, SECURITY_POLICIES,
};
use crate::path;
use crate::raw;
use crate::suggest::did_you_mean;

/// CloudFront reads viewer certificates from ACM in this region only.
const CERTIFICATE_REGION: &str = "us-east-1";

/// Maximum length of a distribution comment in CloudFront.
const MAX_COMMENT: usize = 128;

pub(super) fn distributions(
    raw: &[raw::Distribution],
    index: &Index,
    context: &mut Context<'_>,
) -> Vec<model::Distribution> {
    let list = "spec.distributions";
    check_ids(
        context,
        "distribution",
        list,
        raw.iter().map(|d| d.id.as_str()),
    );

    // Alias to the path of its first use, across all distributions.
    let mut alias_owners: Vec<(String, String)> = Vec::new();
    let mut distributions = Vec::new();

    for (i, distribution) in raw.iter().enumerate() {
        let at = path::join_index(list, i);

        if let Some(comment) = &distribution.comment
            && comment.chars().count() > MAX_COMMENT
        {
            context
                .error(
                    &path::join_key(&at, "comment"),
                    format!("comment has more than {MAX_COMMENT} characters"),
                )
                .set_help("shorten the comment");
        }

        let aliases_path = path::join_key(&at, "aliases");
        for (j, alias) in distribution.aliases.iter().enumerate() {
            let alias_path = path::join_index(&aliases_path, j);
            if !is_domain_name(alias) {
                context
                    .error(&alias_path, format!("invalid alias \"{alias}\""))
                    .set_help(
                        "write a lowercase domain name such as cdn.example.com, or *.example.com",
                    );
            }
            if let Some((_, first)) = alias_owners.iter().find(|(name, _)| name == alias) {
                let line = context.line_of(first);
                context
                    .error(
                        &alias_path,
                        format!("alias \"{alias}\" is already used at line {line}"),
                    )
                    .set_help("CloudFront attaches a domain name to one distribution only");
            } else {
                alias_owners.push((alias.clone(), alias_path));
            }
        }

        let certificate_path = path::join_key(&at, "certificateArn");
        match &distribution.certificate_arn {
            Some(arn) => values::check_certificate_arn(
                context,
                &certificate_path,
                arn,
                CERTIFICATE_REGION,
                "a CloudFront certificate",
            ),
            None if !distribution.aliases.is_empty() => {
                context
                    .error(&aliases_path, "aliases need certificateArn")
                    .set_help(
                        "add the ARN of an ACM certificate in us-east-1 that covers every alias",
                    );
            }
            None => {}
        }

        if let Some(version) = &distribution.minimum_protocol_version
            && !SECURITY_POLICIES.contains(&version.as_str())
        {
            let mut message = format!("unknown security policy \"{version}\"");
            if let Some(close) = did_you_mean(version, SECURITY_POLICIES.iter().copied()) {
                message.push_str(&format!(", did you mean \"{close}\"?"));
            }
            context
                .error(&path::join_key(&at, "minimumProtocolVersion"), message)
                .set_help(format!("write one of {}", SECURITY_POLICIES.join(", ")));
        }

        let origin_path = path::join_key(&at, "origin");
        let origin = match (&distribution.origin.api, &distribution.origin.bucket) {
            (Some(api), None) => {
                index
                    .apis
                    .check(context, &path::join_key(&origin_path, "api"), api);
                model::Origin::Api(api.clone())
            }
            (None, Some(bucket)) => {
                index
                    .buckets
                    .check(context, &path::join_key(&origin_path, "bucket"), bucket);
                model::Origin::Bucket(bucket.clone())
            }
            _ => {
                context
                    .error(
                        &origin_path,
                        "an origin needs exactly one of `api` and `bucket`",
                    )
                    .set_help("write origin: { api: ID } or origin: { bucket: ID }");
                model::Origin::Bucket(String::new())
            }
        };

        let default = &distribution.default_behavior;
        let default_behavior = behavior(
            None,
            &default.cache_policy,
            default.origin_request_policy.as_deref(),
            default.allowed_methods,
            &path::join_key(&at, "defaultBehavior"),
            context,
        );

        let behaviors_path = path::join_key(&at, "behaviors");
        let mut behaviors: Vec<model::CacheBehavior> = Vec::new();
        for (j, raw_behavior) in distribution.behaviors.iter().enumerate() {
            let behavior_path = path::join_index(&behaviors_path, j);
            let pattern_path = path::join_key(&behavior_path, "pathPattern");
            let pattern = &raw_behavior.path_pattern;
            if pattern.is_empty() || pattern.len() > 255 {
                context
                    .error(&pattern_path, "a path pattern has 1 to 255 characters")
                    .set_help("write a pattern such as /images/*");
            }
            if behaviors
                .iter()
                .any(|b| b.path_pattern.as_ref() == Some(pattern))
            {
                context
                    .error(
                        &pattern_path,
                        format!("path pattern \"{pattern}\" is used twice"),
                    )
                    .set_help("CloudFront takes each path pattern once per distribution");
            }
            behaviors.push(behavior(
                Some(pattern.clone()),
                &raw_behavior.cache_policy,
                raw_behavior.origin_request_policy.as_deref(),
                raw_behavior.allowed_methods,
                &behavior_path,
                context,
            ));
        }

        let signed_urls = distribution
            .signed_urls
            .as_ref()
            .map(|signed| signed_urls(signed, &path::join_key(&at, "signedUrls"), context));

        distributions.push(model::Distribution {
            id: distribution.id.clone(),
            comment: distribution.comment.clone(),
            aliases: distribution.aliases.clone(),
            certificate_arn: distribution.certificate_arn.clone(),
            minimum_protocol_version: distribution.minimum_protocol_version.clone(),
            origin,
            default_behavior,
            behaviors,
            signed_urls,
        });
    }
    distributions
}

/// Returns whether `name` is a lowercase domain name, optionally starting with `*.`.
fn is_domain_name(name: &str) -> bool {
    let rest = name.strip_prefix("*.").unwrap_or(name);
    let labels: Vec<&str> = rest.split('.').collect();
    name.len() <= 253
        && labels.len() >= 2
        && labels
            .iter()
            .all(|label| label.len() <= 63 && values::is_lowercase_label(label))
}

fn behavior(
    path_pattern: Option<String>,
    cache_policy: &str,
    origin_request_policy: Option<&str>,
    allowed_methods: Option<raw::AllowedMethods>,
    at: &str,
    context: &mut Context<'_>,
) -> model::CacheBehavior {
    let cache_policy = managed_policy(
        context,
        &path::join_key(at, "cachePolicy"),
        cache_policy,
        MANAGED_CACHE_POLICIES,
        "cache policy",
        MANAGED_ORIGIN_REQUEST_POLICIES,
        "an origin request policy",
    );
    let origin_request_policy = origin_request_policy.map(|name| {
        managed_policy(
            context,
            &path::join_key(at, "originRequestPolicy"),
            name,
            MANAGED_ORIGIN_REQUEST_POLICIES,
            "origin request policy",
            MANAGED_CACHE_POLICIES,
            "a cache policy",
        )
    });

    model::CacheBehavior {
        path_pattern,
        cache_policy,
        origin_request_policy,
        allowed_methods: match allowed_methods {
            None | Some(raw::AllowedMethods::GetHead) => model::AllowedMethods::GetHead,
            Some(raw::AllowedMethods::GetHeadOptions) => model::AllowedMethods::GetHeadOptions,
            Some(raw::AllowedMethods::All) => model::AllowedMethods::All,
        },
    }
}

/// Resolves a managed policy name to its id. `other` lists the policies of the other kind, so
/// the help can name the right field for a name found there.
fn managed_policy(
    context: &mut Context<'_>,
    at: &str,
    name: &str,
    known: &[(&str, &str)],
    kind: &str,
    other: &[(&str, &str)],
    other_kind: &str,
) -> model::ManagedPolicy {
    if let Some((name, id)) = known.iter().find(|(known_name, _)| *known_name == name) {
        return model::ManagedPolicy {
            name: (*name).to_owned(),
            id: (*id).to_owned(),
        };
    }

    let names: Vec<&str> = known.iter().map(|(name, _)| *name).collect();
    let mut message = format!("unknown managed {kind} \"{name}\"");
    if let Some(close) = did_you_mean(name, names.iter().copied()) {
        message.push_str(&format!(", did you mean \"{close}\"?"));
    }
    let help = if other.iter().any(|(other_name, _)| *other_name == name) {
        format!(
            "{name} is {other_kind}, so write one of {}",
            names.join(", ")
        )
    } else {
        format!("write one of {}", names.join(", "))
    };
    context.error(at, message).set_help(help);
    model::ManagedPolicy {
        name: name.to_owned(),
        id: String::new(),
    }
}

fn signed_urls(raw: &raw::SignedUrls, at: &str, context: &mut Context<'_>) -> model::SignedUrls {
    let list = path::join_key(at, "publicKeys");
    if raw.public_keys.is_empty() {
        context
            .error(&list, "signed URLs need at least one public key")
            .set_help("list the RSA public keys whose private halves sign the URLs");
    }
    check_ids(
        context,
        "public key",
        &list,
        raw.public_keys.iter().map(|k| k.id.as_str()),
    );

    let folder = Path::new(context.file())
        .parent()
        .unwrap_or(Path::new(""))
        .to_path_buf();
    let mut public_keys = Vec::new();
    for (i, key) in raw.public_keys.iter().enumerate() {
        let pem_path = path::join_key(&path::join_index(&list, i), "pemFile");
        if key.pem_file.trim().is_empty() {
            context
                .error(&pem_path, "pemFile is empty")
                .set_help("write the PEM file's path, relative to this file's folder");
        }
        public_keys.push(model::PublicKey {
            id: key.id.clone(),
            pem_file: key.pem_file.clone(),
            pem_path: folder.join(&key.pem_file),
        });
    }
    model::SignedUrls { public_keys }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domain_names_are_checked() {
        assert!(is_domain_name("api.beezyup.com"));
        assert!(is_domain_name("*.beezyup.com"));
        assert!(!is_domain_name("beezyup"));
        assert!(!is_domain_name("API.beezyup.com"));
        assert!(!is_domain_name("https://api.beezyup.com"));
        assert!(!is_domain_name("api..beezyup.com"));
    }
}
