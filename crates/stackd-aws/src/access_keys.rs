//! The access key of an IAM user, kept in a Secrets Manager secret that the file
//! names. The secret's value is the JSON `{"AccessKeyId": …, "SecretAccessKey": …}`;
//! stackd writes it once, right after CreateAccessKey, and never reads it back.
//! The secret's `stackd:access-key-id` tag names the key it contains, so observing
//! needs no secret value.
//!
//! A key is never replaced on stackd's own: when the user already has a key that
//! the secret does not hold, the component is blocked until a person deletes the
//! key or stores it. Only a key that no longer exists is replaced.
//!
//! The one exception is a key that stackd created and could not store, because
//! the process was killed between CreateAccessKey and PutSecretValue: no one
//! ever saw its secret. Before CreateAccessKey, stackd tags the secret with
//! `stackd:access-key-pending` and the time, and removes the tag once the key is
//! stored. A key not in the secret, created while that tag is on it, is deleted
//! and replaced by the next pass.

use crate::clients::AwsClients;
use crate::iam;
use crate::tags::{ID_TAG, STACK_TAG, Tagger};
use async_trait::async_trait;
use aws_sdk_iam::error::SdkError;
use aws_sdk_iam::operation::list_access_keys::ListAccessKeysError;
use aws_sdk_secretsmanager::operation::create_secret::CreateSecretError;
use aws_sdk_secretsmanager::operation::describe_secret::DescribeSecretError;
use aws_sdk_secretsmanager::types::Tag;
use stackd_engine::{
    Change, ChangeKind, Component, ComponentError, ComponentId, Inputs, Outputs, Planned, Readiness,
};
use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

/// The kind name of access-key nodes in the graph.
pub const KIND: &str = "access-key";

/// Tag key on the secret naming the access key id it holds.
pub const ACCESS_KEY_ID_TAG: &str = "stackd:access-key-id";

/// Tag key on the secret while a key is being created: its value is the time
/// of the CreateAccessKey call, in seconds since the Unix epoch.
pub const PENDING_TAG: &str = "stackd:access-key-pending";

/// Margin for the difference between this host's clock and AWS's when a key's
/// creation time is compared with the pending tag.
// NOTE: a key made by hand up to this long before an interrupted create, and
// not stored in the secret, is taken for that create's key and deleted.
const CLOCK_MARGIN_SECONDS: i64 = 300;

/// Tries of storing a new key in its secret before giving up. The key exists only
/// in this process's memory until it is stored, so a failed store is retried here
/// rather than in the next pass.
const STORE_TRIES: u32 = 4;

/// The secret as DescribeSecret reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveSecret {
    pub arn: String,
    pub tags: BTreeMap<String, String>,
}

/// Live state of an access key: the user's access key ids and the secret, if any.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LiveAccessKey {
    pub key_ids: Vec<String>,
    /// Creation time of each key, in seconds since the Unix epoch.
    pub created: BTreeMap<String, i64>,
    pub secret: Option<LiveSecret>,
}

/// One step of an apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Deletes the keys that an interrupted create left unstored, creates a key
    /// and stores it in the secret, creating the secret when `create_secret` is
    /// true.
    CreateKey {
        create_secret: bool,
        unstored: Vec<String>,
    },
    /// Removes the pending tag that a create interrupted after storing its key
    /// left on the secret.
    ClearPending,
    /// A state that only a person can settle; the apply stops with this reason.
    Refuse(String),
}

/// The SecretAccessKey of a new key. Its `Debug` never shows the value.
struct SecretKey(String);

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(redacted)")
    }
}

/// Reconciles the access key of one IAM user.
#[derive(Debug)]
pub struct AccessKeyComponent {
    clients: AwsClients,
    tagger: Tagger,
    /// The user's id in the file.
    user_id: String,
    /// The user's IAM name.
    user_name: String,
    /// The name of the Secrets Manager secret.
    secret: String,
}

impl AccessKeyComponent {
    pub fn new(
        clients: AwsClients,
        tagger: Tagger,
        user_id: &str,
        user_name: &str,
        secret: &str,
    ) -> Self {
        AccessKeyComponent {
            clients,
            tagger,
            user_id: user_id.to_owned(),
            user_name: user_name.to_owned(),
            secret: secret.to_owned(),
        }
    }

    fn logical_id(&self) -> String {
        format!("{KIND}/{}", self.user_id)
    }

    async fn create_key(
        &self,
        create_secret: bool,
        unstored: &[String],
    ) -> Result<(), ComponentError> {
        let user = self.user_name.as_str();
        let iam = &self.clients.iam;
        for key_id in unstored {
            iam.delete_access_key()
                .user_name(user)
                .access_key_id(key_id)
                .send()
                .await
                .map_err(|error| {
                    crate::failures::call_failed(format!("DeleteAccessKey {user} {key_id}"), error)
                })?;
            tracing::info!(user, access_key_id = %key_id, "deleted an access key that an interrupted run never stored");
        }
        self.mark_pending(create_secret).await?;
        let created = iam
            .create_access_key()
            .user_name(user)
            // A retry after a lost response would make a second key. The next
            // pass finds a key that took effect by the pending tag instead.
            .customize()
            .config_override(
                aws_sdk_iam::config::Builder::default()
                    .retry_config(aws_sdk_iam::config::retry::RetryConfig::disabled()),
            )
            .send()
            .await
            .map_err(|error| {
                crate::failures::call_failed(format!("CreateAccessKey {user}"), error)
            })?;
        let key = created.access_key().ok_or_else(|| {
            ComponentError::Unexpected(format!("CreateAccessKey {user} returned no key"))
        })?;
        let key_id = key.access_key_id().to_owned();
        let secret_key = SecretKey(key.secret_access_key().to_owned());
        tracing::info!(user, access_key_id = %key_id, secret = %self.secret, "created access key");

        let mut last_error = None;
        for attempt in 0..STORE_TRIES {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(200 << attempt)).await;
            }
            match self.store(&key_id, &secret_key).await {
                Ok(()) => return self.clear_pending().await,
                Err(error) => {
                    tracing::warn!(user, access_key_id = %key_id, error = %error.chain(), "storing the new access key failed; retrying");
                    last_error = Some(error);
                }
            }
        }
        Err(last_error.expect("at least one try"))
    }

    /// Tags the secret with the pending tag, creating the secret without a value
    /// when `create_secret` is true.
    async fn mark_pending(&self, create_secret: bool) -> Result<(), ComponentError> {
        let client = &self.clients.secretsmanager;
        let name = self.secret.as_str();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|elapsed| elapsed.as_secs())
            .unwrap_or_default()
            .to_string();
        if create_secret {
            let mut tags = self.tagger.desired(&self.logical_id(), name);
            tags.insert(PENDING_TAG.to_owned(), now.clone());
            let created = client
                .create_secret()
                .name(name)
                .description(format!("Access key of IAM user {}", self.user_name))
                .set_tags(Some(
                    tags.iter().map(|(key, value)| tag(key, value)).collect(),
                ))
                .send()
                .await;
            match created {
                Ok(_) => return Ok(()),
                // An earlier try made it: tag it below.
                Err(error)
                    if matches!(
                        error.as_service_error(),
                        Some(CreateSecretError::ResourceExistsException(_))
                    ) => {}
                Err(error) => {
                    return Err(crate::failures::call_failed(
                        format!("CreateSecret {name}"),
                        error,
                    ));
                }
            }
        }
        client
            .tag_resource()
            .secret_id(name)
            .tags(tag(PENDING_TAG, &now))
            .send()
            .await
            .map_err(|error| crate::failures::call_failed(format!("TagResource {name}"), error))?;
        Ok(())
    }

    /// Removes the pending tag from the secret.
    async fn clear_pending(&self) -> Result<(), ComponentError> {
        let name = self.secret.as_str();
        self.clients
            .secretsmanager
            .untag_resource()
            .secret_id(name)
            .tag_keys(PENDING_TAG)
            .send()
            .await
            .map_err(|error| {
                crate::failures::call_failed(format!("UntagResource {name}"), error)
            })?;
        Ok(())
    }

    /// Writes the key into the secret and tags the secret with the key's id.
    async fn store(&self, key_id: &str, secret_key: &SecretKey) -> Result<(), ComponentError> {
        let value = serde_json::json!({
            "AccessKeyId": key_id,
            "SecretAccessKey": secret_key.0,
        })
        .to_string();
        let client = &self.clients.secretsmanager;
        let name = self.secret.as_str();
        client
            .put_secret_value()
            .secret_id(name)
            .secret_string(value)
            .send()
            .await
            .map_err(|error| {
                crate::failures::call_failed(format!("PutSecretValue {name}"), error)
            })?;
        client
            .tag_resource()
            .secret_id(name)
            .tags(tag(ACCESS_KEY_ID_TAG, key_id))
            .send()
            .await
            .map_err(|error| crate::failures::call_failed(format!("TagResource {name}"), error))?;
        Ok(())
    }
}

fn tag(key: &str, value: &str) -> Tag {
    Tag::builder().key(key).value(value).build()
}

#[async_trait]
impl Component for AccessKeyComponent {
    type Live = LiveAccessKey;
    type Action = Action;

    fn id(&self) -> ComponentId {
        ComponentId::named(KIND, &self.user_id)
    }

    fn needs(&self) -> Vec<ComponentId> {
        vec![ComponentId::single(iam::KIND)]
    }

    async fn observe(&self) -> Result<LiveAccessKey, ComponentError> {
        let user = self.user_name.as_str();
        let keys = match self
            .clients
            .iam
            .list_access_keys()
            .user_name(user)
            .send()
            .await
        {
            Ok(response) => response.access_key_metadata().to_vec(),
            // The user is created by the iam node in the same pass.
            Err(SdkError::ServiceError(error))
                if matches!(error.err(), ListAccessKeysError::NoSuchEntityException(_)) =>
            {
                Vec::new()
            }
            Err(error) => {
                return Err(crate::failures::call_failed(
                    format!("ListAccessKeys {user}"),
                    error,
                ));
            }
        };
        let name = self.secret.as_str();
        let secret = match self
            .clients
            .secretsmanager
            .describe_secret()
            .secret_id(name)
            .send()
            .await
        {
            Ok(response) => Some(LiveSecret {
                arn: response.arn().unwrap_or_default().to_owned(),
                tags: response
                    .tags()
                    .iter()
                    .filter_map(|tag| Some((tag.key()?.to_owned(), tag.value()?.to_owned())))
                    .collect(),
            }),
            Err(SdkError::ServiceError(error))
                if matches!(
                    error.err(),
                    DescribeSecretError::ResourceNotFoundException(_)
                ) =>
            {
                None
            }
            Err(error) => {
                return Err(crate::failures::call_failed(
                    format!("DescribeSecret {name}"),
                    error,
                ));
            }
        };
        let key_ids = keys
            .iter()
            .filter_map(|key| key.access_key_id().map(str::to_owned))
            .collect();
        let created = keys
            .iter()
            .filter_map(|key| Some((key.access_key_id()?.to_owned(), key.create_date()?.secs())))
            .collect();
        Ok(LiveAccessKey {
            key_ids,
            created,
            secret,
        })
    }

    fn diff(&self, live: &LiveAccessKey, _inputs: &Inputs) -> Vec<Planned<Action>> {
        diff(
            live,
            self.tagger.stack(),
            &self.logical_id(),
            &self.user_name,
            &self.secret,
        )
    }

    async fn apply(
        &self,
        _live: &LiveAccessKey,
        actions: Vec<Action>,
        _inputs: &Inputs,
    ) -> Result<(), ComponentError> {
        for action in actions {
            match action {
                Action::Refuse(reason) => return Err(ComponentError::Blocked(reason)),
                Action::CreateKey {
                    create_secret,
                    unstored,
                } => self.create_key(create_secret, &unstored).await?,
                Action::ClearPending => self.clear_pending().await?,
            }
        }
        Ok(())
    }

    fn outputs(&self, live: &LiveAccessKey) -> Outputs {
        let mut outputs = Outputs::new();
        if let Some(secret) = &live.secret {
            outputs.insert("secret.arn".to_owned(), secret.arn.clone());
        }
        outputs
    }

    fn readiness(&self, _live: &LiveAccessKey) -> Readiness {
        Readiness::Ready
    }
}

/// Plans the key. Nothing changes when the secret contains a key of the user, and
/// a new key is planned when the user has none. Keys that the secret does not
/// contain, or a secret of someone else, make a refusal.
fn diff(
    live: &LiveAccessKey,
    stack: &str,
    logical_id: &str,
    user: &str,
    secret_name: &str,
) -> Vec<Planned<Action>> {
    let held = live
        .secret
        .as_ref()
        .and_then(|secret| secret.tags.get(ACCESS_KEY_ID_TAG));
    if let Some(secret) = &live.secret {
        let ours = secret.tags.get(STACK_TAG).map(String::as_str) == Some(stack)
            && secret.tags.get(ID_TAG).map(String::as_str) == Some(logical_id);
        if !ours {
            return vec![refusal(
                logical_id,
                format!(
                    "secret {secret_name} exists without the tags {STACK_TAG}={stack} and \
                     {ID_TAG}={logical_id}, so it belongs to someone else; stackd stores no key in it \
                     until it is adopted by adding those tags"
                ),
            )];
        }
    }
    let pending_since = live
        .secret
        .as_ref()
        .and_then(|secret| secret.tags.get(PENDING_TAG))
        .and_then(|since| since.parse::<i64>().ok());
    if held.is_some_and(|id| live.key_ids.contains(id)) {
        if pending_since.is_none() {
            return Vec::new();
        }
        return vec![Planned {
            change: Change::new(ChangeKind::Update, logical_id).field(
                format!("tags.{PENDING_TAG}"),
                "(left by an interrupted run)",
                serde_json::Value::Null,
            ),
            action: Action::ClearPending,
        }];
    }
    // Keys created while the pending tag was on the secret were made by a run
    // that stopped before storing them, so no one has their secret.
    let (unstored, others): (Vec<String>, Vec<String>) =
        live.key_ids.iter().cloned().partition(|id| {
            pending_since.is_some_and(|since| {
                live.created
                    .get(id)
                    .is_some_and(|created| *created >= since - CLOCK_MARGIN_SECONDS)
            })
        });
    if !others.is_empty() {
        return vec![refusal(
            logical_id,
            format!(
                "IAM user {user} has access key {} but secret {secret_name} does not contain it; \
                 stackd never replaces a key on its own: delete the key, or store it in the secret \
                 with the tag {ACCESS_KEY_ID_TAG}=<key id>",
                others.join(", ")
            ),
        )];
    }
    let mut change = Change::new(ChangeKind::Create, logical_id)
        .field("user", serde_json::Value::Null, user)
        .field("secret", serde_json::Value::Null, secret_name);
    if let Some(gone) = held {
        change = Change::new(ChangeKind::Update, logical_id).field(
            "accessKeyId",
            format!("{gone} (deleted)"),
            "(new key)",
        );
    }
    if !unstored.is_empty() {
        change = Change::new(ChangeKind::Update, logical_id).field(
            "accessKeyId",
            format!("{} (never stored)", unstored.join(", ")),
            "(new key)",
        );
    }
    vec![Planned {
        change,
        action: Action::CreateKey {
            create_secret: live.secret.is_none(),
            unstored,
        },
    }]
}

fn refusal(logical_id: &str, reason: String) -> Planned<Action> {
    Planned {
        change: Change::new(ChangeKind::Update, logical_id).field(
            "accessKey",
            "(not in the secret)",
            "(refused)",
        ),
        action: Action::Refuse(reason),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STACK: &str = "beezyup";
    const ID: &str = "access-key/uploader";

    fn our_secret(key_id: Option<&str>) -> LiveSecret {
        let mut tags = BTreeMap::from([
            (STACK_TAG.to_owned(), STACK.to_owned()),
            (ID_TAG.to_owned(), ID.to_owned()),
        ]);
        if let Some(id) = key_id {
            tags.insert(ACCESS_KEY_ID_TAG.to_owned(), id.to_owned());
        }
        LiveSecret {
            arn: "arn:aws:secretsmanager:eu-west-3:123456789012:secret:s-AbCdEf".to_owned(),
            tags,
        }
    }

    fn plan(live: &LiveAccessKey) -> Vec<Planned<Action>> {
        diff(live, STACK, ID, "uploader", "s")
    }

    #[test]
    fn nothing_exists_creates_key_and_secret() {
        let planned = plan(&LiveAccessKey::default());
        assert_eq!(planned.len(), 1);
        assert_eq!(planned[0].change.kind, ChangeKind::Create);
        assert_eq!(
            planned[0].action,
            Action::CreateKey {
                create_secret: true,
                unstored: Vec::new(),
            }
        );
    }

    #[test]
    fn secret_holding_a_live_key_is_in_sync() {
        let live = LiveAccessKey {
            key_ids: vec!["AKIA1".to_owned(), "AKIA2".to_owned()],
            secret: Some(our_secret(Some("AKIA2"))),
            ..LiveAccessKey::default()
        };
        assert_eq!(plan(&live), Vec::new());
    }

    #[test]
    fn deleted_key_is_replaced_in_the_same_secret() {
        let live = LiveAccessKey {
            key_ids: Vec::new(),
            secret: Some(our_secret(Some("AKIAGONE"))),
            ..LiveAccessKey::default()
        };
        let planned = plan(&live);
        assert_eq!(
            planned[0].action,
            Action::CreateKey {
                create_secret: false,
                unstored: Vec::new(),
            }
        );
        assert_eq!(planned[0].change.kind, ChangeKind::Update);
        assert_eq!(planned[0].change.fields[0].live, "AKIAGONE (deleted)");
    }

    #[test]
    fn key_missing_from_secret_is_kept() {
        let live = LiveAccessKey {
            key_ids: vec!["AKIAHAND".to_owned()],
            secret: Some(our_secret(None)),
            ..LiveAccessKey::default()
        };
        let planned = plan(&live);
        let Action::Refuse(reason) = &planned[0].action else {
            panic!("expected a refusal, got {:?}", planned[0].action);
        };
        assert!(reason.contains("AKIAHAND"), "{reason}");
        assert!(reason.contains("never replaces a key"), "{reason}");
    }

    #[test]
    fn foreign_secret_is_left_alone() {
        let live = LiveAccessKey {
            key_ids: Vec::new(),
            secret: Some(LiveSecret {
                arn: "arn".to_owned(),
                tags: BTreeMap::new(),
            }),
            ..LiveAccessKey::default()
        };
        let planned = plan(&live);
        assert!(
            matches!(&planned[0].action, Action::Refuse(reason) if reason.contains("belongs to someone else")),
            "{planned:?}"
        );
    }

    /// Builds a secret of this stack with the pending tag set at `since`.
    fn pending_secret(since: i64) -> LiveSecret {
        let mut secret = our_secret(None);
        secret
            .tags
            .insert(PENDING_TAG.to_owned(), since.to_string());
        secret
    }

    #[test]
    fn key_created_while_pending_is_replaced() {
        let live = LiveAccessKey {
            key_ids: vec!["AKIALOST".to_owned()],
            created: BTreeMap::from([("AKIALOST".to_owned(), 1_000_010)]),
            secret: Some(pending_secret(1_000_000)),
        };
        let planned = plan(&live);
        assert_eq!(
            planned[0].action,
            Action::CreateKey {
                create_secret: false,
                unstored: vec!["AKIALOST".to_owned()],
            }
        );
        assert_eq!(planned[0].change.fields[0].live, "AKIALOST (never stored)");
    }

    #[test]
    fn key_older_than_pending_is_kept() {
        let live = LiveAccessKey {
            key_ids: vec!["AKIAHAND".to_owned()],
            created: BTreeMap::from([("AKIAHAND".to_owned(), 1_000_000 - 3_600)]),
            secret: Some(pending_secret(1_000_000)),
        };
        let planned = plan(&live);
        assert!(
            matches!(&planned[0].action, Action::Refuse(reason) if reason.contains("AKIAHAND")),
            "{planned:?}"
        );
    }

    #[test]
    fn pending_tag_after_store_is_cleared() {
        let mut secret = pending_secret(1_000_000);
        secret
            .tags
            .insert(ACCESS_KEY_ID_TAG.to_owned(), "AKIA1".to_owned());
        let live = LiveAccessKey {
            key_ids: vec!["AKIA1".to_owned()],
            created: BTreeMap::from([("AKIA1".to_owned(), 1_000_010)]),
            secret: Some(secret),
        };
        let planned = plan(&live);
        assert_eq!(planned.len(), 1);
        assert_eq!(planned[0].action, Action::ClearPending);
    }

    #[test]
    fn secret_key_debug_is_redacted() {
        let key = SecretKey("wJalrXUtnFEMI/K7MDENG".to_owned());
        assert_eq!(format!("{key:?}"), "SecretKey(redacted)");
    }
}
