//! The distribution component: one CloudFront distribution with its origin access
//! control (bucket origins) or its trusted key group and public keys (signed URLs).
//!
//! The distribution carries the `stackd:stack` and `stackd:id` tags from its create
//! call on, and its caller reference is derived from the stack and the logical id,
//! so a create retried after a lost response is rejected as a duplicate instead of
//! making a second distribution. Origin access controls, key groups and public keys
//! cannot be tagged: each is found by a name derived from the stack and the
//! distribution, which the distribution then references.

mod calls;
mod config;
mod diff;
mod view;

use crate::clients::AwsClients;
use crate::tags::Tagger;
use crate::{apis, buckets};
use async_trait::async_trait;
use aws_sdk_cloudfront::types::DistributionConfig;
use sha2::{Digest, Sha256};
use stackd_engine::{
    Component, ComponentError, ComponentId, Inputs, Outputs, Planned, Readiness,
    UNKNOWN_UNTIL_APPLIED,
};
use stackd_spec::model::{Distribution, Origin};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

pub use config::Resolved;
pub use view::DistributionView;

/// The kind name of distribution nodes in the graph.
pub const KIND: &str = "distribution";

/// The status of a distribution whose configuration has reached every edge location.
const DEPLOYED: &str = "Deployed";

/// Maximum length of an origin access control's name.
const MAX_ORIGIN_ACCESS_CONTROL_NAME: usize = 64;
/// Maximum length of a key group's or a public key's name.
const MAX_KEY_NAME: usize = 128;

/// Output keys that dependents read.
pub mod outputs {
    pub const ID: &str = "id";
    pub const ARN: &str = "arn";
    /// The distribution's own domain, such as `d111111abcdef8.cloudfront.net`.
    pub const DOMAIN_NAME: &str = "domainName";
}

/// A public key of the file with the PEM text of its file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredKey {
    /// Logical id of the key in the file.
    pub id: String,
    /// CloudFront name of the key.
    pub name: String,
    /// PEM text, or why the file could not be read.
    pub pem: Result<String, String>,
}

/// Live state of a distribution and the untaggable resources it references.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DistributionLive {
    pub distribution: Option<LiveDistribution>,
    pub origin_access_control: Option<LiveOriginAccessControl>,
    /// Public keys keyed by their logical id in the file.
    pub public_keys: BTreeMap<String, LivePublicKey>,
    pub key_group: Option<LiveKeyGroup>,
}

/// A distribution that carries this stack's tags for this logical id.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveDistribution {
    pub id: String,
    pub arn: String,
    pub domain_name: String,
    /// `InProgress` while CloudFront deploys a change, then `Deployed`.
    pub status: String,
    /// Version of the configuration, sent as If-Match with an update.
    pub etag: String,
    pub config: DistributionConfig,
    pub view: DistributionView,
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveOriginAccessControl {
    pub id: String,
    pub signing_protocol: String,
    pub signing_behavior: String,
    pub origin_type: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LivePublicKey {
    pub id: String,
    pub encoded_key: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveKeyGroup {
    pub id: String,
    /// Ids of the public keys in the group.
    pub items: BTreeSet<String>,
}

pub use diff::Action;

/// Reconciles one CloudFront distribution.
#[derive(Debug)]
pub struct DistributionComponent {
    clients: AwsClients,
    tagger: Tagger,
    desired: Distribution,
    keys: Vec<DesiredKey>,
    /// Id of the distribution that the last observation found, so that the next one
    /// reads it directly instead of listing every distribution of the account.
    found_id: Mutex<Option<String>>,
}

impl DistributionComponent {
    /// Creates the component. The PEM files of the signed-URL keys are read here, once
    /// per graph; a file that cannot be read blocks the component at observe.
    pub fn new(clients: AwsClients, tagger: Tagger, desired: Distribution) -> Self {
        let keys = desired
            .signed_urls
            .iter()
            .flat_map(|signed| &signed.public_keys)
            .map(|key| DesiredKey {
                id: key.id.clone(),
                name: bounded_name(
                    &format!("{}-{}-{}", tagger.stack(), desired.id, key.id),
                    MAX_KEY_NAME,
                ),
                pem: std::fs::read_to_string(&key.pem_path).map_err(|error| {
                    format!(
                        "cannot read the public key {} of distribution {} from {}: {error}",
                        key.id,
                        desired.id,
                        key.pem_path.display()
                    )
                }),
            })
            .collect();
        Self::with_keys(clients, tagger, desired, keys)
    }

    /// Creates the component with public keys already read.
    pub fn with_keys(
        clients: AwsClients,
        tagger: Tagger,
        desired: Distribution,
        keys: Vec<DesiredKey>,
    ) -> Self {
        DistributionComponent {
            clients,
            tagger,
            desired,
            keys,
            found_id: Mutex::new(None),
        }
    }

    fn logical_id(&self) -> String {
        format!("{KIND}/{}", self.desired.id)
    }

    fn desired_tags(&self) -> BTreeMap<String, String> {
        self.tagger
            .desired(&self.logical_id(), &self.tagger.name(&self.desired.id))
    }

    /// The caller reference of the create call: the same for every retry.
    fn caller_reference(&self) -> String {
        self.tagger.client_token(&self.logical_id(), "")
    }

    fn origin_access_control_name(&self) -> String {
        bounded_name(
            &format!("{}-{}", self.tagger.stack(), self.desired.id),
            MAX_ORIGIN_ACCESS_CONTROL_NAME,
        )
    }

    fn key_group_name(&self) -> String {
        bounded_name(
            &format!("{}-{}", self.tagger.stack(), self.desired.id),
            MAX_KEY_NAME,
        )
    }

    /// The component that provides the origin's domain name.
    fn origin_component(&self) -> ComponentId {
        match &self.desired.origin {
            Origin::Api(api) => ComponentId::named(apis::KIND, api),
            Origin::Bucket(bucket) => ComponentId::named(buckets::KIND, bucket),
        }
    }

    /// Returns the origin's domain name, once its component has created it.
    fn origin_domain<'a>(&self, inputs: &'a Inputs) -> Option<&'a str> {
        let key = match &self.desired.origin {
            Origin::Api(_) => apis::outputs::ENDPOINT,
            Origin::Bucket(_) => "regionalDomainName",
        };
        inputs.get(&self.origin_component(), key)
    }

    /// Resolves the values of the desired distribution that other resources provide,
    /// each `UNKNOWN_UNTIL_APPLIED` until it exists.
    fn resolve(&self, live: &DistributionLive, inputs: &Inputs) -> Resolved {
        let unknown = || UNKNOWN_UNTIL_APPLIED.to_owned();
        Resolved {
            origin_domain: self
                .origin_domain(inputs)
                .map_or_else(unknown, str::to_owned),
            origin_access_control_id: live
                .origin_access_control
                .as_ref()
                .map_or_else(unknown, |control| control.id.clone()),
            key_group_id: live
                .key_group
                .as_ref()
                .map_or_else(unknown, |group| group.id.clone()),
        }
    }
}

/// Returns `name` when it fits in `max` characters, else its start followed by a
/// hash of the whole name, so that two long names stay distinct.
fn bounded_name(name: &str, max: usize) -> String {
    if name.len() <= max {
        return name.to_owned();
    }
    let digest = Sha256::digest(name.as_bytes());
    let hash: String = digest[..4]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    format!("{}-{hash}", &name[..max - hash.len() - 1])
}

#[async_trait]
impl Component for DistributionComponent {
    type Live = DistributionLive;
    type Action = Action;

    fn id(&self) -> ComponentId {
        ComponentId::named(KIND, &self.desired.id)
    }

    fn needs(&self) -> Vec<ComponentId> {
        vec![self.origin_component()]
    }

    async fn observe(&self) -> Result<DistributionLive, ComponentError> {
        let unreadable: Vec<&str> = self
            .keys
            .iter()
            .filter_map(|key| key.pem.as_ref().err().map(String::as_str))
            .collect();
        if !unreadable.is_empty() {
            return Err(ComponentError::Blocked(unreadable.join("; ")));
        }
        calls::observe(self).await
    }

    fn diff(&self, live: &DistributionLive, inputs: &Inputs) -> Vec<Planned<Action>> {
        diff::diff(self, live, &self.resolve(live, inputs))
    }

    async fn apply(
        &self,
        live: &DistributionLive,
        actions: Vec<Action>,
        inputs: &Inputs,
    ) -> Result<(), ComponentError> {
        calls::apply(self, live, actions, inputs).await
    }

    fn outputs(&self, live: &DistributionLive) -> Outputs {
        let mut outputs = Outputs::new();
        if let Some(found) = &live.distribution {
            outputs.insert(outputs::ID.to_owned(), found.id.clone());
            outputs.insert(outputs::ARN.to_owned(), found.arn.clone());
            outputs.insert(outputs::DOMAIN_NAME.to_owned(), found.domain_name.clone());
        }
        outputs
    }

    fn readiness(&self, live: &DistributionLive) -> Readiness {
        match &live.distribution {
            Some(found) if found.status != DEPLOYED => Readiness::Progressing(format!(
                "{} is {}: CloudFront is deploying it to its edge locations",
                self.logical_id(),
                found.status
            )),
            _ => Readiness::Ready,
        }
    }
}

#[cfg(test)]
mod tests;
