//! The pure diff of a distribution and the resources it references.

use super::config::{Resolved, desired_view};
use super::view::{BehaviorView, DistributionView, OriginView};
use super::{DistributionComponent, DistributionLive};
use crate::tags::TagDelta;
use serde_json::{Value, json};
use stackd_engine::{Change, ChangeKind, Planned, UNKNOWN_UNTIL_APPLIED};
use stackd_spec::model::Origin;
use std::collections::BTreeSet;

/// Signing settings of every origin access control that stackd creates: SigV4,
/// always signed, for an S3 origin.
pub const SIGNING_PROTOCOL: &str = "sigv4";
pub const SIGNING_BEHAVIOR: &str = "always";
pub const ORIGIN_TYPE: &str = "s3";

/// One step of an apply. Steps run in the order planned: the origin access
/// control, public keys and key group before the distribution that names them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    CreateOriginAccessControl,
    UpdateOriginAccessControl,
    /// Creates the public key of this logical id.
    CreatePublicKey(String),
    CreateKeyGroup,
    /// Sets the key group's keys to the file's.
    UpdateKeyGroup,
    CreateDistribution,
    /// Sends one UpdateDistribution that carries every owned field.
    UpdateDistribution,
    Retag(TagDelta),
    /// A change that CloudFront can only make by replacing a resource, rejected at apply.
    Reject(String),
}

/// Plans the steps that bring the distribution and its resources to the file.
pub(super) fn diff(
    component: &DistributionComponent,
    live: &DistributionLive,
    resolved: &Resolved,
) -> Vec<Planned<Action>> {
    let mut plan = Vec::new();
    if matches!(component.desired.origin, Origin::Bucket(_)) {
        plan.extend(origin_access_control(component, live));
    }
    plan.extend(public_keys(component, live));
    if component.desired.signed_urls.is_some() {
        plan.extend(key_group(component, live));
    }
    plan.extend(distribution(component, live, resolved));
    plan
}

fn origin_access_control(
    component: &DistributionComponent,
    live: &DistributionLive,
) -> Option<Planned<Action>> {
    let resource = format!("origin-access-control/{}", component.desired.id);
    let Some(found) = &live.origin_access_control else {
        let change = Change::new(ChangeKind::Create, resource)
            .field("name", Value::Null, component.origin_access_control_name())
            .field("signingProtocol", Value::Null, SIGNING_PROTOCOL)
            .field("signingBehavior", Value::Null, SIGNING_BEHAVIOR)
            .field("originType", Value::Null, ORIGIN_TYPE);
        return Some(Planned {
            change,
            action: Action::CreateOriginAccessControl,
        });
    };
    let mut change = Change::new(ChangeKind::Update, resource);
    change.push_if_differs(
        "signingProtocol",
        found.signing_protocol.as_str(),
        SIGNING_PROTOCOL,
    );
    change.push_if_differs(
        "signingBehavior",
        found.signing_behavior.as_str(),
        SIGNING_BEHAVIOR,
    );
    change.push_if_differs("originType", found.origin_type.as_str(), ORIGIN_TYPE);
    (!change.fields.is_empty()).then_some(Planned {
        change,
        action: Action::UpdateOriginAccessControl,
    })
}

/// Compares PEM texts without regard to line endings and surrounding blank lines.
fn same_key(left: &str, right: &str) -> bool {
    let lines = |text: &str| -> Vec<String> {
        text.lines()
            .map(|line| line.trim().to_owned())
            .filter(|line| !line.is_empty())
            .collect()
    };
    lines(left) == lines(right)
}

fn public_keys(component: &DistributionComponent, live: &DistributionLive) -> Vec<Planned<Action>> {
    let mut plan = Vec::new();
    for key in &component.keys {
        let resource = format!("public-key/{}", key.id);
        // Unreadable keys block the component at observe, before any diff.
        let Ok(pem) = &key.pem else { continue };
        match live.public_keys.get(&key.id) {
            None => plan.push(Planned {
                change: Change::new(ChangeKind::Create, resource)
                    .field("name", Value::Null, key.name.as_str())
                    .field("encodedKey", Value::Null, pem.trim()),
                action: Action::CreatePublicKey(key.id.clone()),
            }),
            Some(found) if !same_key(&found.encoded_key, pem) => plan.push(Planned {
                change: Change::new(ChangeKind::Replace, resource).field(
                    "encodedKey",
                    found.encoded_key.trim(),
                    pem.trim(),
                ),
                action: Action::Reject(format!(
                    "public key {} ({}) in CloudFront differs from its PEM file, and CloudFront \
                     cannot change a public key; give the new key its own id in the file, so \
                     that both keys sign during the rotation",
                    key.id, key.name
                )),
            }),
            Some(_) => {}
        }
    }
    plan
}

fn key_group(
    component: &DistributionComponent,
    live: &DistributionLive,
) -> Option<Planned<Action>> {
    let resource = format!("key-group/{}", component.desired.id);
    let desired_items: Vec<String> = component
        .keys
        .iter()
        .map(|key| {
            live.public_keys.get(&key.id).map_or_else(
                || UNKNOWN_UNTIL_APPLIED.to_owned(),
                |found| found.id.clone(),
            )
        })
        .collect();
    let Some(found) = &live.key_group else {
        return Some(Planned {
            change: Change::new(ChangeKind::Create, resource)
                .field("name", Value::Null, component.key_group_name())
                .field("items", Value::Null, json!(desired_items)),
            action: Action::CreateKeyGroup,
        });
    };
    let desired_set: BTreeSet<String> = desired_items.into_iter().collect();
    let mut change = Change::new(ChangeKind::Update, resource);
    change.push_if_differs("items", json!(found.items), json!(desired_set));
    (!change.fields.is_empty()).then_some(Planned {
        change,
        action: Action::UpdateKeyGroup,
    })
}

fn distribution(
    component: &DistributionComponent,
    live: &DistributionLive,
    resolved: &Resolved,
) -> Vec<Planned<Action>> {
    let logical = component.logical_id();
    let desired = desired_view(&component.desired, resolved);
    let tags = component.desired_tags();

    let Some(found) = &live.distribution else {
        let mut change = Change::new(ChangeKind::Create, &logical);
        let fields = serde_json::to_value(&desired).unwrap_or(Value::Null);
        if let Value::Object(fields) = fields {
            for (key, value) in fields {
                change = change.field(key, Value::Null, value);
            }
        }
        change = change.field("tags", Value::Null, json!(tags));
        return vec![Planned {
            change,
            action: Action::CreateDistribution,
        }];
    };

    let mut plan = Vec::new();
    let change = view_change(&logical, &found.view, &desired);
    if !change.fields.is_empty() {
        plan.push(Planned {
            change,
            action: Action::UpdateDistribution,
        });
    }

    let delta = TagDelta::between(&found.tags, &tags);
    if !delta.is_empty() {
        let mut change = Change::new(ChangeKind::Update, &logical);
        for (key, value) in &delta.set {
            change.push_if_differs(
                format!("tags.{key}"),
                json!(found.tags.get(key)),
                value.as_str(),
            );
        }
        for key in &delta.remove {
            change.push_if_differs(
                format!("tags.{key}"),
                json!(found.tags.get(key)),
                Value::Null,
            );
        }
        plan.push(Planned {
            change,
            action: Action::Retag(delta),
        });
    }
    plan
}

/// Lists every owned field whose live value differs from the desired one.
pub(super) fn view_change(
    logical: &str,
    live: &DistributionView,
    desired: &DistributionView,
) -> Change {
    let mut change = Change::new(ChangeKind::Update, logical);
    change.push_if_differs("comment", live.comment.as_str(), desired.comment.as_str());
    change.push_if_differs("enabled", live.enabled, desired.enabled);
    change.push_if_differs("aliases", json!(live.aliases), json!(desired.aliases));

    let (live_certificate, desired_certificate) =
        (&live.viewer_certificate, &desired.viewer_certificate);
    change.push_if_differs(
        "viewerCertificate.acmCertificateArn",
        json!(live_certificate.acm_certificate_arn),
        json!(desired_certificate.acm_certificate_arn),
    );
    if desired_certificate.ssl_support_method.is_some() {
        change.push_if_differs(
            "viewerCertificate.sslSupportMethod",
            json!(live_certificate.ssl_support_method),
            json!(desired_certificate.ssl_support_method),
        );
    }
    if desired_certificate.minimum_protocol_version.is_some() {
        change.push_if_differs(
            "viewerCertificate.minimumProtocolVersion",
            json!(live_certificate.minimum_protocol_version),
            json!(desired_certificate.minimum_protocol_version),
        );
    }

    // Origins are a set keyed by id.
    let ids: BTreeSet<&String> = live.origins.keys().chain(desired.origins.keys()).collect();
    for id in ids {
        origin_fields(
            &mut change,
            id,
            live.origins.get(id),
            desired.origins.get(id),
        );
    }

    behavior_fields(
        &mut change,
        "defaultBehavior",
        &live.default_behavior,
        &desired.default_behavior,
    );
    // Behaviors compare in order, because the first one whose pattern matches wins.
    let count = live.behaviors.len().max(desired.behaviors.len());
    for index in 0..count {
        match (live.behaviors.get(index), desired.behaviors.get(index)) {
            (Some(found), Some(wanted)) if found.path_pattern == wanted.path_pattern => {
                let pattern = wanted.path_pattern.as_deref().unwrap_or_default();
                behavior_fields(&mut change, &format!("behaviors[{pattern}]"), found, wanted);
            }
            (found, wanted) => {
                change.push_if_differs(format!("behaviors.{index}"), json!(found), json!(wanted));
            }
        }
    }
    change
}

fn origin_fields(
    change: &mut Change,
    id: &str,
    live: Option<&OriginView>,
    desired: Option<&OriginView>,
) {
    let path = format!("origins.{id}");
    let (Some(found), Some(wanted)) = (live, desired) else {
        change.push_if_differs(path, json!(live), json!(desired));
        return;
    };
    change.push_if_differs(
        format!("{path}.domainName"),
        found.domain_name.as_str(),
        wanted.domain_name.as_str(),
    );
    change.push_if_differs(
        format!("{path}.originPath"),
        found.origin_path.as_str(),
        wanted.origin_path.as_str(),
    );
    let (live_access, desired_access) = (json!(found.access), json!(wanted.access));
    for difference in crate::json_diff::differences(&path, &live_access, &desired_access) {
        change.push_if_differs(difference.path, difference.live, difference.desired);
    }
}

fn behavior_fields(change: &mut Change, path: &str, live: &BehaviorView, desired: &BehaviorView) {
    change.push_if_differs(
        format!("{path}.targetOriginId"),
        live.target_origin_id.as_str(),
        desired.target_origin_id.as_str(),
    );
    change.push_if_differs(
        format!("{path}.viewerProtocolPolicy"),
        live.viewer_protocol_policy.as_str(),
        desired.viewer_protocol_policy.as_str(),
    );
    change.push_if_differs(
        format!("{path}.allowedMethods"),
        json!(live.allowed_methods),
        json!(desired.allowed_methods),
    );
    change.push_if_differs(
        format!("{path}.cachedMethods"),
        json!(live.cached_methods),
        json!(desired.cached_methods),
    );
    change.push_if_differs(
        format!("{path}.cachePolicyId"),
        json!(live.cache_policy_id),
        json!(desired.cache_policy_id),
    );
    change.push_if_differs(
        format!("{path}.originRequestPolicyId"),
        json!(live.origin_request_policy_id),
        json!(desired.origin_request_policy_id),
    );
    change.push_if_differs(format!("{path}.compress"), live.compress, desired.compress);
    change.push_if_differs(
        format!("{path}.trustedKeyGroups"),
        json!(live.trusted_key_groups),
        json!(desired.trusted_key_groups),
    );
}
