//! The bucket component: one private S3 bucket with its public access block,
//! object ownership, default encryption, versioning and tags.

use crate::clients::AwsClients;
use crate::tags::{ID_TAG, STACK_TAG, Tagger, comparable};
use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::operation::head_bucket::HeadBucketError;
use aws_sdk_s3::types::{
    BucketLocationConstraint, BucketVersioningStatus, CreateBucketConfiguration, ObjectOwnership,
    OwnershipControls, OwnershipControlsRule, PublicAccessBlockConfiguration, ServerSideEncryption,
    ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
    Tag, Tagging, VersioningConfiguration,
};
use serde_json::{Value, json};
use stackd_engine::{
    Change, ChangeKind, Component, ComponentError, ComponentId, Inputs, Outputs, Planned, Readiness,
};
use stackd_spec::model::{Bucket, BucketEncryption};
use std::collections::BTreeMap;

/// The kind name of bucket nodes in the graph.
pub const KIND: &str = "bucket";

/// The four settings of S3 Block Public Access, in AWS's order.
const PUBLIC_ACCESS_FIELDS: [&str; 4] = [
    "blockPublicAcls",
    "ignorePublicAcls",
    "blockPublicPolicy",
    "restrictPublicBuckets",
];

/// Live state of a bucket that exists and carries the stack's tags.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveBucket {
    /// The four Block Public Access settings; all false when none is configured.
    pub public_access_block: [bool; 4],
    pub object_ownership: Option<String>,
    /// The default encryption algorithm and KMS key, when configured.
    pub encryption: Option<(String, Option<String>)>,
    /// `Enabled`, `Suspended`, or `None` for a bucket never versioned.
    pub versioning: Option<String>,
    pub tags: BTreeMap<String, String>,
}

/// One step of an apply.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Creates the bucket with its ownership and tags, then sets every other setting.
    Create,
    BlockPublicAccess,
    EnforceBucketOwner,
    SetEncryption,
    SetVersioning,
    SetTags,
}

/// Reconciles one S3 bucket.
#[derive(Debug)]
pub struct BucketComponent {
    clients: AwsClients,
    tagger: Tagger,
    region: String,
    desired: Bucket,
}

impl BucketComponent {
    pub fn new(clients: AwsClients, tagger: Tagger, region: &str, desired: Bucket) -> Self {
        BucketComponent {
            clients,
            tagger,
            region: region.to_owned(),
            desired,
        }
    }

    fn logical_id(&self) -> String {
        format!("bucket/{}", self.desired.id)
    }

    fn desired_tags(&self) -> BTreeMap<String, String> {
        let mut tags = self.desired.tags.clone();
        tags.extend(self.tagger.desired(&self.logical_id(), &self.desired.name));
        tags
    }

    fn desired_encryption(&self) -> (String, Option<String>) {
        match &self.desired.encryption {
            BucketEncryption::Aes256 => ("AES256".to_owned(), None),
            BucketEncryption::Kms { key_id } => ("aws:kms".to_owned(), key_id.clone()),
        }
    }
}

#[async_trait]
impl Component for BucketComponent {
    type Live = Option<LiveBucket>;
    type Action = Action;

    fn id(&self) -> ComponentId {
        ComponentId::named(KIND, &self.desired.id)
    }

    fn needs(&self) -> Vec<ComponentId> {
        Vec::new()
    }

    async fn observe(&self) -> Result<Option<LiveBucket>, ComponentError> {
        observe(
            &self.clients.s3,
            &self.desired.name,
            self.tagger.stack(),
            &self.logical_id(),
        )
        .await
    }

    fn diff(&self, live: &Option<LiveBucket>, _inputs: &Inputs) -> Vec<Planned<Action>> {
        diff(self, live.as_ref())
    }

    async fn apply(
        &self,
        _live: &Option<LiveBucket>,
        actions: Vec<Action>,
        _inputs: &Inputs,
    ) -> Result<(), ComponentError> {
        for action in actions {
            self.run(action).await?;
        }
        Ok(())
    }

    fn outputs(&self, live: &Option<LiveBucket>) -> Outputs {
        let mut outputs = Outputs::new();
        if live.is_some() {
            outputs.insert("name".to_owned(), self.desired.name.clone());
            outputs.insert(
                "arn".to_owned(),
                format!("arn:aws:s3:::{}", self.desired.name),
            );
            outputs.insert(
                "regionalDomainName".to_owned(),
                format!("{}.s3.{}.amazonaws.com", self.desired.name, self.region),
            );
        }
        outputs
    }

    fn readiness(&self, _live: &Option<LiveBucket>) -> Readiness {
        Readiness::Ready
    }
}

fn diff(component: &BucketComponent, live: Option<&LiveBucket>) -> Vec<Planned<Action>> {
    let logical = component.logical_id();
    let desired = &component.desired;
    let tags = component.desired_tags();
    let (algorithm, key) = component.desired_encryption();

    let Some(found) = live else {
        let change = Change::new(ChangeKind::Create, &logical)
            .field("name", Value::Null, desired.name.as_str())
            .field("publicAccessBlock", Value::Null, "all blocked")
            .field("objectOwnership", Value::Null, "BucketOwnerEnforced")
            .field("encryption", Value::Null, algorithm.as_str())
            .field("versioning", Value::Null, desired.versioning)
            .field("tags", Value::Null, json!(tags));
        return vec![Planned {
            change,
            action: Action::Create,
        }];
    };

    let mut plan = Vec::new();
    let mut change = Change::new(ChangeKind::Update, &logical);
    for (field, value) in PUBLIC_ACCESS_FIELDS.iter().zip(found.public_access_block) {
        change.push_if_differs(format!("publicAccessBlock.{field}"), value, true);
    }
    if !change.fields.is_empty() {
        plan.push(Planned {
            change,
            action: Action::BlockPublicAccess,
        });
    }

    let mut change = Change::new(ChangeKind::Update, &logical);
    if change.push_if_differs(
        "objectOwnership",
        json!(found.object_ownership),
        "BucketOwnerEnforced",
    ) {
        plan.push(Planned {
            change,
            action: Action::EnforceBucketOwner,
        });
    }

    let mut change = Change::new(ChangeKind::Update, &logical);
    let live_algorithm = found
        .encryption
        .as_ref()
        .map(|(algorithm, _)| algorithm.clone());
    change.push_if_differs(
        "encryption.algorithm",
        json!(live_algorithm),
        algorithm.as_str(),
    );
    if key.is_some() {
        let live_key = found.encryption.as_ref().and_then(|(_, key)| key.clone());
        change.push_if_differs("encryption.kmsKeyId", json!(live_key), json!(key));
    }
    if !change.fields.is_empty() {
        plan.push(Planned {
            change,
            action: Action::SetEncryption,
        });
    }

    // A versioned bucket can be suspended but never unversioned again.
    let live_versioning = found.versioning.as_deref() == Some("Enabled");
    if live_versioning != desired.versioning {
        let wanted = if desired.versioning {
            "Enabled"
        } else {
            "Suspended"
        };
        plan.push(Planned {
            change: Change::new(ChangeKind::Update, &logical).field(
                "versioning",
                json!(found.versioning),
                wanted,
            ),
            action: Action::SetVersioning,
        });
    }

    if found.tags != tags {
        let mut change = Change::new(ChangeKind::Update, &logical);
        for (key, value) in &tags {
            change.push_if_differs(
                format!("tags.{key}"),
                json!(found.tags.get(key)),
                value.as_str(),
            );
        }
        for (key, value) in &found.tags {
            if !tags.contains_key(key) {
                change.push_if_differs(format!("tags.{key}"), value.as_str(), Value::Null);
            }
        }
        plan.push(Planned {
            change,
            action: Action::SetTags,
        });
    }
    plan
}

impl BucketComponent {
    async fn run(&self, action: Action) -> Result<(), ComponentError> {
        let client = &self.clients.s3;
        let bucket = self.desired.name.as_str();
        match action {
            Action::Create => {
                let mut configuration = CreateBucketConfiguration::builder()
                    .set_tags(Some(s3_tags(&self.desired_tags())));
                // us-east-1 is the default location and must not be named.
                if self.region != "us-east-1" {
                    configuration = configuration
                        .location_constraint(BucketLocationConstraint::from(self.region.as_str()));
                }
                let created = client
                    .create_bucket()
                    .bucket(bucket)
                    .create_bucket_configuration(configuration.build())
                    .object_ownership(ObjectOwnership::BucketOwnerEnforced)
                    .send()
                    .await;
                match created {
                    Ok(_) => tracing::info!(bucket, region = %self.region, "created bucket"),
                    // The SDK retried a create whose response was lost: the first
                    // try made the bucket, which observe found missing a moment ago.
                    Err(error) if error.code() == Some("BucketAlreadyOwnedByYou") => {
                        tracing::info!(bucket, "created bucket (a retried create found it made)");
                    }
                    Err(error) => {
                        return Err(crate::failures::call_failed(
                            format!("CreateBucket {bucket}"),
                            error,
                        ));
                    }
                }
                // Tags again in case the service ignored those of the create call,
                // then the settings that CreateBucket does not take.
                let mut rest = vec![
                    Action::SetTags,
                    Action::BlockPublicAccess,
                    Action::SetEncryption,
                ];
                if self.desired.versioning {
                    rest.push(Action::SetVersioning);
                }
                for action in rest {
                    Box::pin(self.run(action)).await?;
                }
            }
            Action::SetTags => {
                let tagging = Tagging::builder()
                    .set_tag_set(Some(s3_tags(&self.desired_tags())))
                    .build()
                    .map_err(|error| ComponentError::Unexpected(error.to_string()))?;
                client
                    .put_bucket_tagging()
                    .bucket(bucket)
                    .tagging(tagging)
                    .send()
                    .await
                    .map_err(|error| {
                        crate::failures::call_failed(format!("PutBucketTagging {bucket}"), error)
                    })?;
                tracing::info!(bucket, "set bucket tags");
            }
            Action::BlockPublicAccess => {
                let configuration = PublicAccessBlockConfiguration::builder()
                    .block_public_acls(true)
                    .ignore_public_acls(true)
                    .block_public_policy(true)
                    .restrict_public_buckets(true)
                    .build();
                client
                    .put_public_access_block()
                    .bucket(bucket)
                    .public_access_block_configuration(configuration)
                    .send()
                    .await
                    .map_err(|error| {
                        crate::failures::call_failed(
                            format!("PutPublicAccessBlock {bucket}"),
                            error,
                        )
                    })?;
                tracing::info!(bucket, "blocked public access");
            }
            Action::EnforceBucketOwner => {
                let rule = OwnershipControlsRule::builder()
                    .object_ownership(ObjectOwnership::BucketOwnerEnforced)
                    .build()
                    .map_err(|error| ComponentError::Unexpected(error.to_string()))?;
                let controls = OwnershipControls::builder()
                    .rules(rule)
                    .build()
                    .map_err(|error| ComponentError::Unexpected(error.to_string()))?;
                client
                    .put_bucket_ownership_controls()
                    .bucket(bucket)
                    .ownership_controls(controls)
                    .send()
                    .await
                    .map_err(|error| {
                        crate::failures::call_failed(
                            format!("PutBucketOwnershipControls {bucket}"),
                            error,
                        )
                    })?;
                tracing::info!(bucket, "enforced bucket owner");
            }
            Action::SetEncryption => {
                let (algorithm, key) = self.desired_encryption();
                let default = ServerSideEncryptionByDefault::builder()
                    .sse_algorithm(ServerSideEncryption::from(algorithm.as_str()))
                    .set_kms_master_key_id(key)
                    .build()
                    .map_err(|error| ComponentError::Unexpected(error.to_string()))?;
                let configuration = ServerSideEncryptionConfiguration::builder()
                    .rules(
                        ServerSideEncryptionRule::builder()
                            .apply_server_side_encryption_by_default(default)
                            .build(),
                    )
                    .build()
                    .map_err(|error| ComponentError::Unexpected(error.to_string()))?;
                client
                    .put_bucket_encryption()
                    .bucket(bucket)
                    .server_side_encryption_configuration(configuration)
                    .send()
                    .await
                    .map_err(|error| {
                        crate::failures::call_failed(format!("PutBucketEncryption {bucket}"), error)
                    })?;
                tracing::info!(bucket, algorithm, "set default encryption");
            }
            Action::SetVersioning => {
                let status = if self.desired.versioning {
                    BucketVersioningStatus::Enabled
                } else {
                    BucketVersioningStatus::Suspended
                };
                client
                    .put_bucket_versioning()
                    .bucket(bucket)
                    .versioning_configuration(
                        VersioningConfiguration::builder()
                            .status(status.clone())
                            .build(),
                    )
                    .send()
                    .await
                    .map_err(|error| {
                        crate::failures::call_failed(format!("PutBucketVersioning {bucket}"), error)
                    })?;
                tracing::info!(bucket, status = status.as_str(), "set versioning");
            }
        }
        Ok(())
    }
}

fn s3_tags(tags: &BTreeMap<String, String>) -> Vec<Tag> {
    tags.iter()
        .filter_map(|(key, value)| Tag::builder().key(key).value(value).build().ok())
        .collect()
}

/// Reads a bucket's settings. A bucket that does not exist is `None`; one that
/// exists without this stack's tags belongs to someone else and blocks the
/// component, so that stackd never changes it.
async fn observe(
    client: &Client,
    bucket: &str,
    stack: &str,
    logical_id: &str,
) -> Result<Option<LiveBucket>, ComponentError> {
    // The reads start with HeadBucket, because all need only the name. Their
    // results count only once HeadBucket found a bucket that this account reads.
    let (found, tags, public_access_block, ownership, encryption, versioning) = tokio::join!(
        client.head_bucket().bucket(bucket).send(),
        bucket_tags(client, bucket),
        public_access_block(client, bucket),
        object_ownership(client, bucket),
        encryption(client, bucket),
        versioning(client, bucket),
    );
    match found {
        Ok(_) => {}
        Err(SdkError::ServiceError(error))
            if matches!(error.err(), HeadBucketError::NotFound(_)) =>
        {
            return Ok(None);
        }
        Err(SdkError::ServiceError(error)) if error.raw().status().as_u16() == 403 => {
            return Err(ComponentError::Blocked(format!(
                "bucket {bucket} exists but this account cannot read it: the name is taken by another account; choose another name"
            )));
        }
        Err(error) => {
            return Err(crate::failures::call_failed(
                format!("HeadBucket {bucket}"),
                error,
            ));
        }
    }

    let (tags, public_access_block, ownership, encryption, versioning) = (
        tags?,
        public_access_block?,
        ownership?,
        encryption?,
        versioning?,
    );

    let ours = tags.get(STACK_TAG).map(String::as_str) == Some(stack)
        && tags.get(ID_TAG).map(String::as_str) == Some(logical_id);
    if !ours {
        return Err(ComponentError::Blocked(format!(
            "bucket {bucket} exists without the tags {STACK_TAG}={stack} and {ID_TAG}={logical_id}, so it belongs to \
             someone else; stackd leaves it alone until it is adopted by adding those tags"
        )));
    }
    Ok(Some(LiveBucket {
        public_access_block,
        object_ownership: ownership,
        encryption,
        versioning,
        tags,
    }))
}

/// Returns the error code of a failed S3 call, for the "not configured" responses
/// that S3 reports as errors without a modeled type.
fn code<E: ProvideErrorMetadata>(
    error: &SdkError<E, aws_smithy_runtime_api::http::Response>,
) -> Option<&str> {
    match error {
        SdkError::ServiceError(service) => service.err().code(),
        _ => None,
    }
}

async fn bucket_tags(
    client: &Client,
    bucket: &str,
) -> Result<BTreeMap<String, String>, ComponentError> {
    match client.get_bucket_tagging().bucket(bucket).send().await {
        Ok(response) => Ok(comparable(
            response
                .tag_set()
                .iter()
                .map(|tag| (tag.key().to_owned(), tag.value().to_owned())),
        )),
        Err(error) if code(&error) == Some("NoSuchTagSet") => Ok(BTreeMap::new()),
        Err(error) => Err(crate::failures::call_failed(
            format!("GetBucketTagging {bucket}"),
            error,
        )),
    }
}

async fn public_access_block(client: &Client, bucket: &str) -> Result<[bool; 4], ComponentError> {
    match client.get_public_access_block().bucket(bucket).send().await {
        Ok(response) => {
            let configuration = response.public_access_block_configuration();
            Ok([
                configuration
                    .and_then(|c| c.block_public_acls())
                    .unwrap_or(false),
                configuration
                    .and_then(|c| c.ignore_public_acls())
                    .unwrap_or(false),
                configuration
                    .and_then(|c| c.block_public_policy())
                    .unwrap_or(false),
                configuration
                    .and_then(|c| c.restrict_public_buckets())
                    .unwrap_or(false),
            ])
        }
        Err(error) if code(&error) == Some("NoSuchPublicAccessBlockConfiguration") => {
            Ok([false; 4])
        }
        Err(error) => Err(crate::failures::call_failed(
            format!("GetPublicAccessBlock {bucket}"),
            error,
        )),
    }
}

async fn object_ownership(client: &Client, bucket: &str) -> Result<Option<String>, ComponentError> {
    match client
        .get_bucket_ownership_controls()
        .bucket(bucket)
        .send()
        .await
    {
        Ok(response) => Ok(response
            .ownership_controls()
            .and_then(|controls| controls.rules().first())
            .map(|rule| rule.object_ownership().as_str().to_owned())),
        Err(error) if code(&error) == Some("OwnershipControlsNotFoundError") => Ok(None),
        Err(error) => Err(crate::failures::call_failed(
            format!("GetBucketOwnershipControls {bucket}"),
            error,
        )),
    }
}

async fn encryption(
    client: &Client,
    bucket: &str,
) -> Result<Option<(String, Option<String>)>, ComponentError> {
    match client.get_bucket_encryption().bucket(bucket).send().await {
        Ok(response) => Ok(response
            .server_side_encryption_configuration()
            .and_then(|configuration| configuration.rules().first())
            .and_then(|rule| rule.apply_server_side_encryption_by_default())
            .map(|default| {
                (
                    default.sse_algorithm().as_str().to_owned(),
                    default.kms_master_key_id().map(str::to_owned),
                )
            })),
        Err(error) if code(&error) == Some("ServerSideEncryptionConfigurationNotFoundError") => {
            Ok(None)
        }
        Err(error) => Err(crate::failures::call_failed(
            format!("GetBucketEncryption {bucket}"),
            error,
        )),
    }
}

async fn versioning(client: &Client, bucket: &str) -> Result<Option<String>, ComponentError> {
    let response = client
        .get_bucket_versioning()
        .bucket(bucket)
        .send()
        .await
        .map_err(|error| {
            crate::failures::call_failed(format!("GetBucketVersioning {bucket}"), error)
        })?;
    Ok(response.status().map(|status| status.as_str().to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn component(versioning: bool) -> BucketComponent {
        let config = aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .build();
        let clients = AwsClients::from_config(&config, true);
        let bucket = Bucket {
            id: "media".to_owned(),
            name: "beezyup-media".to_owned(),
            encryption: BucketEncryption::Aes256,
            versioning,
            retain: true,
            tags: BTreeMap::new(),
        };
        BucketComponent::new(
            clients,
            Tagger::new("s", &BTreeMap::new()),
            "eu-west-3",
            bucket,
        )
    }

    fn converged(component: &BucketComponent) -> LiveBucket {
        LiveBucket {
            public_access_block: [true; 4],
            object_ownership: Some("BucketOwnerEnforced".to_owned()),
            encryption: Some(("AES256".to_owned(), None)),
            versioning: None,
            tags: component.desired_tags(),
        }
    }

    fn actions(plan: &[Planned<Action>]) -> Vec<Action> {
        plan.iter().map(|step| step.action.clone()).collect()
    }

    #[test]
    fn converged_bucket_has_no_changes() {
        let component = component(false);
        assert!(diff(&component, Some(&converged(&component))).is_empty());
    }

    #[test]
    fn missing_bucket_is_created_and_configured() {
        let component = component(false);
        let plan = diff(&component, None);
        assert_eq!(actions(&plan), [Action::Create]);
        assert_eq!(plan[0].change.kind, ChangeKind::Create);
    }

    #[test]
    fn public_access_turned_off_is_put_back() {
        let component = component(false);
        let mut live = converged(&component);
        live.public_access_block[2] = false;
        let plan = diff(&component, Some(&live));
        assert_eq!(actions(&plan), [Action::BlockPublicAccess]);
        assert_eq!(
            plan[0].change.fields[0].path,
            "publicAccessBlock.blockPublicPolicy"
        );
    }

    #[test]
    fn suspended_versioning_matches_unversioned_file() {
        let component = component(false);
        let mut live = converged(&component);
        live.versioning = Some("Suspended".to_owned());
        assert!(diff(&component, Some(&live)).is_empty());
    }

    #[test]
    fn changed_and_extra_tags_are_reset() {
        let component = component(false);
        let mut live = converged(&component);
        live.tags.insert("Name".to_owned(), "renamed".to_owned());
        live.tags.insert("owner".to_owned(), "someone".to_owned());
        let plan = diff(&component, Some(&live));
        assert_eq!(actions(&plan), [Action::SetTags]);
        let paths: Vec<&str> = plan[0]
            .change
            .fields
            .iter()
            .map(|field| field.path.as_str())
            .collect();
        assert_eq!(paths, ["tags.Name", "tags.owner"]);
    }
}
