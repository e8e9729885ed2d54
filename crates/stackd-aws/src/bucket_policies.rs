//! The bucket-policy component: the policy of one bucket, which lets exactly the
//! CloudFront distributions that serve the bucket read its objects.
//!
//! The policy names each distribution's ARN, and the distribution names the bucket
//! as its origin, so the policy is its own node after the bucket and the distributions.

use crate::clients::AwsClients;
use crate::iam::policy::canonical_policy;
use crate::json_diff::differences;
use crate::{buckets, distributions};
use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use serde_json::{Value, json};
use stackd_engine::{
    Change, ChangeKind, Component, ComponentError, ComponentId, Inputs, Outputs, Planned,
    Readiness, UNKNOWN_UNTIL_APPLIED,
};

/// The kind name of bucket-policy nodes in the graph.
pub const KIND: &str = "bucket-policy";

/// The service principal of CloudFront origin access control.
const CLOUDFRONT_PRINCIPAL: &str = "cloudfront.amazonaws.com";

/// Statement id of the one statement that stackd writes.
const STATEMENT_ID: &str = "AllowCloudFrontRead";

/// One step of an apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Replaces the bucket's policy with the desired one.
    Put,
}

/// Reconciles the policy of one bucket.
#[derive(Debug)]
pub struct BucketPolicyComponent {
    clients: AwsClients,
    /// Logical id of the bucket.
    bucket_id: String,
    bucket_name: String,
    /// Logical ids of the distributions whose origin is the bucket.
    distributions: Vec<String>,
}

impl BucketPolicyComponent {
    pub fn new(
        clients: AwsClients,
        bucket_id: &str,
        bucket_name: &str,
        distributions: Vec<String>,
    ) -> Self {
        BucketPolicyComponent {
            clients,
            bucket_id: bucket_id.to_owned(),
            bucket_name: bucket_name.to_owned(),
            distributions,
        }
    }

    fn logical_id(&self) -> String {
        format!("{KIND}/{}", self.bucket_id)
    }

    /// Returns the ARN of each distribution, in the file's order, or `None` for one
    /// that does not exist yet.
    fn distribution_arns<'a>(&self, inputs: &'a Inputs) -> Vec<Option<&'a str>> {
        self.distributions
            .iter()
            .map(|id| {
                inputs.get(
                    &ComponentId::named(distributions::KIND, id),
                    distributions::outputs::ARN,
                )
            })
            .collect()
    }
}

/// Builds the canonical policy that lets CloudFront read every object of the bucket
/// on behalf of the given distributions only.
pub fn desired_policy(bucket: &str, distribution_arns: &[&str]) -> Value {
    canonical_policy(&json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": STATEMENT_ID,
            "Effect": "Allow",
            "Principal": { "Service": CLOUDFRONT_PRINCIPAL },
            "Action": "s3:GetObject",
            "Resource": format!("arn:aws:s3:::{bucket}/*"),
            "Condition": { "StringEquals": { "AWS:SourceArn": distribution_arns } },
        }],
    }))
}

#[async_trait]
impl Component for BucketPolicyComponent {
    /// The canonical live policy, or `None` when the bucket has none.
    type Live = Option<Value>;
    type Action = Action;

    fn id(&self) -> ComponentId {
        ComponentId::named(KIND, &self.bucket_id)
    }

    fn needs(&self) -> Vec<ComponentId> {
        let mut needs = vec![ComponentId::named(buckets::KIND, &self.bucket_id)];
        needs.extend(
            self.distributions
                .iter()
                .map(|id| ComponentId::named(distributions::KIND, id)),
        );
        needs
    }

    async fn observe(&self) -> Result<Option<Value>, ComponentError> {
        observe(&self.clients.s3, &self.bucket_name).await
    }

    fn diff(&self, live: &Option<Value>, inputs: &Inputs) -> Vec<Planned<Action>> {
        let arns: Vec<&str> = self
            .distribution_arns(inputs)
            .into_iter()
            .map(|arn| arn.unwrap_or(UNKNOWN_UNTIL_APPLIED))
            .collect();
        diff(
            &self.logical_id(),
            live.as_ref(),
            &desired_policy(&self.bucket_name, &arns),
        )
    }

    async fn apply(
        &self,
        _live: &Option<Value>,
        actions: Vec<Action>,
        inputs: &Inputs,
    ) -> Result<(), ComponentError> {
        if actions.is_empty() {
            return Ok(());
        }
        let arns = self.distribution_arns(inputs);
        let missing: Vec<&str> = self
            .distributions
            .iter()
            .zip(&arns)
            .filter(|(_, arn)| arn.is_none())
            .map(|(id, _)| id.as_str())
            .collect();
        if !missing.is_empty() {
            return Err(ComponentError::Blocked(format!(
                "{} waits for the ARN of distribution {}",
                self.logical_id(),
                missing.join(", ")
            )));
        }
        let arns: Vec<&str> = arns.into_iter().flatten().collect();
        let policy = desired_policy(&self.bucket_name, &arns);
        let bucket = self.bucket_name.as_str();
        self.clients
            .s3
            .put_bucket_policy()
            .bucket(bucket)
            .policy(policy.to_string())
            .send()
            .await
            .map_err(|error| {
                crate::failures::call_failed(format!("PutBucketPolicy {bucket}"), error)
            })?;
        tracing::info!(bucket, distributions = ?arns, "set bucket policy");
        Ok(())
    }

    fn outputs(&self, _live: &Option<Value>) -> Outputs {
        Outputs::new()
    }

    fn readiness(&self, _live: &Option<Value>) -> Readiness {
        Readiness::Ready
    }
}

/// Plans one PutBucketPolicy when the live policy differs from the desired one.
/// Each differing part of the document is a field of the change.
fn diff(logical: &str, live: Option<&Value>, desired: &Value) -> Vec<Planned<Action>> {
    let change = match live {
        None => {
            Change::new(ChangeKind::Create, logical).field("policy", Value::Null, desired.clone())
        }
        Some(found) if found == desired => return Vec::new(),
        Some(found) => {
            let mut change = Change::new(ChangeKind::Update, logical);
            for difference in differences("policy", found, desired) {
                change = change.field(difference.path, difference.live, difference.desired);
            }
            change
        }
    };
    vec![Planned {
        change,
        action: Action::Put,
    }]
}

/// Reads a bucket's policy. A bucket without a policy, or a bucket that does not
/// exist yet, is `None`.
async fn observe(client: &Client, bucket: &str) -> Result<Option<Value>, ComponentError> {
    match client.get_bucket_policy().bucket(bucket).send().await {
        Ok(response) => {
            let text = response.policy().unwrap_or_default();
            // A policy that is not JSON stays a string, which differs from every
            // desired policy, so the diff puts the desired one back.
            Ok(Some(match serde_json::from_str::<Value>(text) {
                Ok(document) => canonical_policy(&document),
                Err(_) => Value::String(text.to_owned()),
            }))
        }
        // S3 reports both as errors without a modeled type.
        Err(SdkError::ServiceError(error))
            if matches!(
                error.err().code(),
                Some("NoSuchBucketPolicy" | "NoSuchBucket")
            ) =>
        {
            Ok(None)
        }
        Err(error) => Err(crate::failures::call_failed(
            format!("GetBucketPolicy {bucket}"),
            error,
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARN: &str = "arn:aws:cloudfront::123456789012:distribution/E1";

    #[test]
    fn policy_admits_exactly_the_distribution() {
        let policy = desired_policy("media", &[ARN]);
        let statement = &policy["Statement"][0];
        assert_eq!(
            statement["Principal"],
            json!({"Service": [CLOUDFRONT_PRINCIPAL]})
        );
        assert_eq!(statement["Action"], json!(["s3:GetObject"]));
        assert_eq!(statement["Resource"], json!(["arn:aws:s3:::media/*"]));
        assert_eq!(
            statement["Condition"],
            json!({"StringEquals": {"AWS:SourceArn": [ARN]}})
        );
    }

    #[test]
    fn same_policy_written_differently_has_no_diff() {
        // The live policy as S3 may return it: single values as strings, keys in another order.
        let text = format!(
            r#"{{"Statement":{{"Condition":{{"StringEquals":{{"AWS:SourceArn":"{ARN}"}}}},
            "Resource":"arn:aws:s3:::media/*","Action":"s3:GetObject",
            "Principal":{{"Service":"cloudfront.amazonaws.com"}},"Effect":"Allow","Sid":"AllowCloudFrontRead"}},
            "Version":"2012-10-17"}}"#
        );
        let live = canonical_policy(&serde_json::from_str(&text).unwrap());
        assert!(
            diff(
                "bucket-policy/media",
                Some(&live),
                &desired_policy("media", &[ARN])
            )
            .is_empty()
        );
    }

    #[test]
    fn missing_policy_is_created() {
        let plan = diff(
            "bucket-policy/media",
            None,
            &desired_policy("media", &[ARN]),
        );
        assert_eq!(plan.len(), 1);
        assert_eq!(plan[0].change.kind, ChangeKind::Create);
        assert_eq!(plan[0].action, Action::Put);
    }

    #[test]
    fn widened_principal_is_put_back_field_by_field() {
        let desired = desired_policy("media", &[ARN]);
        let mut live = desired.clone();
        live["Statement"][0]["Principal"]["AWS"] = json!(["arn:aws:iam::111122223333:root"]);
        let plan = diff("bucket-policy/media", Some(&live), &desired);
        assert_eq!(plan.len(), 1);
        let fields = &plan[0].change.fields;
        assert_eq!(fields.len(), 1, "{fields:?}");
        assert_eq!(fields[0].path, "policy.Statement.0.Principal.AWS");
        assert_eq!(fields[0].desired, Value::Null);
    }

    #[test]
    fn policy_of_another_distribution_differs() {
        let other = desired_policy(
            "media",
            &["arn:aws:cloudfront::123456789012:distribution/E2"],
        );
        let plan = diff(
            "bucket-policy/media",
            Some(&other),
            &desired_policy("media", &[ARN]),
        );
        assert_eq!(
            plan[0].change.fields[0].path,
            "policy.Statement.0.Condition.StringEquals.AWS:SourceArn.0"
        );
    }
}
