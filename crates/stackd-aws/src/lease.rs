//! The write lease: one S3 object that lets one stackd run at a time write to a
//! stack, shared by the daemon and CI runs.
//!
//! The object contains a JSON [`Record`]. Taking a free lease is a conditional
//! PutObject: `If-None-Match: *` when the object does not exist yet, `If-Match`
//! on the ETag of a released or expired record otherwise. Renewing and releasing
//! are `If-Match` writes on the holder's last ETag, so a holder that lost the
//! lease finds out instead of overwriting the new holder. S3 makes each
//! conditional write atomic: of two runs that race for the same ETag, exactly
//! one succeeds and the other gets 412 Precondition Failed.
//!
//! Expiry uses no clock but the contender's own: a held record whose ETag has
//! not changed for its TTL, as timed by the contender since it first read it,
//! belongs to a holder that stopped renewing. Clocks of different hosts never
//! meet, so clock skew cannot hand the lease to two runs.
//!
//! What a run observed before it took the lease may be out of date if another
//! run wrote in between. Each record names the process that wrote it last. A
//! run that takes the lease from another process stops the current pass with a
//! retryable [`Refusal`], so the engine observes again before writing. Each
//! change of hands also raises the record's generation, for people reading it.

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::operation::head_bucket::HeadBucketError;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    BucketLocationConstraint, CreateBucketConfiguration, ObjectOwnership,
    PublicAccessBlockConfiguration, Tag,
};
use aws_smithy_types::error::display::DisplayErrorContext;
use serde::{Deserialize, Serialize};
use stackd_engine::{Refusal, WriteGuard};
use std::fmt;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};
use tokio::sync::Mutex;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::tags::{ID_TAG, STACK_TAG};

/// When this process first described itself: with the host and pid, it names
/// the process across reloads of the file.
static PROCESS_STARTED: OnceLock<String> = OnceLock::new();

/// The process that holds the lease, as other runs see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Holder {
    pub host: String,
    pub pid: u32,
    /// `daemon` or `once`.
    pub mode: String,
    /// When the process started, RFC 3339.
    pub started_at: String,
}

impl Holder {
    /// Describes this process.
    pub fn this_process(mode: &str) -> Self {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|name| name.trim().to_owned())
            .ok()
            .filter(|name| !name.is_empty())
            .unwrap_or_else(|| "unknown-host".to_owned());
        Holder {
            host,
            pid: std::process::id(),
            mode: mode.to_owned(),
            started_at: PROCESS_STARTED
                .get_or_init(|| rfc3339(SystemTime::now()))
                .clone(),
        }
    }
}

impl fmt::Display for Holder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} pid {} ({}, started {})",
            self.host, self.pid, self.mode, self.started_at
        )
    }
}

/// The body of the lease object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Record {
    /// `None` once released.
    holder: Option<Holder>,
    /// Unique per process, so that a holder recognises its own record.
    token: String,
    /// Raised each time the lease changes hands.
    generation: u64,
    ttl_seconds: u64,
    /// The holder's clock at its last write, for people reading the object.
    written_at: String,
}

/// How long a run waits for a lease that another run holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Waiting {
    /// Wait up to this long, then refuse (CI runs: `--lock-timeout`).
    Upto(Duration),
    /// Skip this pass's writes and try again next pass (the daemon).
    Skip,
}

/// Location of the lease, and how this run takes it.
#[derive(Debug, Clone)]
pub struct LeaseSettings {
    pub bucket: String,
    pub key: String,
    pub ttl: Duration,
    pub region: String,
    pub stack: String,
    pub waiting: Waiting,
    /// Release the lease at the end of every pass that took it, so that CI runs
    /// get their turn (the daemon). A `--once` run keeps it until it exits.
    pub release_after_pass: bool,
}

/// The lease as a [`WriteGuard`]: the first write of a pass waits for it.
#[derive(Debug)]
pub struct S3Lease {
    s3: Client,
    settings: LeaseSettings,
    me: Holder,
    token: String,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    bucket_ready: bool,
    held: Option<Held>,
    /// A record held by another run, with the moment this run first saw its ETag.
    watching: Option<(String, Instant)>,
}

#[derive(Debug)]
struct Held {
    generation: u64,
    /// The ETag of the holder's last write, shared with the renewing task.
    etag: Arc<Mutex<Option<String>>>,
    renewer: JoinHandle<()>,
}

/// The lease object as read.
struct Found {
    etag: String,
    record: Record,
}

/// Outcome of a conditional write.
enum Written {
    Done(String),
    /// 412 or 409: the object changed since it was read.
    Lost,
}

impl S3Lease {
    pub fn new(s3: Client, settings: LeaseSettings, me: Holder) -> Self {
        let token = format!("{}-{}-{}", me.host, me.pid, me.started_at);
        S3Lease {
            s3,
            settings,
            me,
            token,
            state: Mutex::new(State::default()),
        }
    }

    /// Lets the lease go, if this run holds it. Called when a `--once` run ends
    /// and when the daemon stops.
    pub async fn release(&self) {
        let mut state = self.state.lock().await;
        self.release_held(&mut state).await;
    }

    async fn release_held(&self, state: &mut State) {
        let Some(held) = state.held.take() else {
            return;
        };
        // Wait for a renewal in flight, then stop renewing.
        let mut etag = held.etag.lock().await;
        held.renewer.abort();
        let Some(current) = etag.take() else {
            tracing::warn!(
                bucket = %self.settings.bucket,
                key = %self.settings.key,
                "the lease was taken over while this run held it"
            );
            return;
        };
        let record = self.record(None, held.generation);
        let mut written = self.write(&record, Some(&current)).await;
        // The SDK's retry of a release whose first response was lost gets 412,
        // and the record is then exactly the one written.
        if matches!(written, Ok(Written::Lost))
            && let Ok(Some(found)) = self.read().await
            && found.record == record
        {
            written = Ok(Written::Done(found.etag));
        }
        match written {
            Ok(Written::Done(_)) => {
                tracing::debug!(generation = held.generation, "released the lease");
            }
            Ok(Written::Lost) => tracing::warn!(
                bucket = %self.settings.bucket,
                key = %self.settings.key,
                "the lease was taken over while this run held it"
            ),
            Err(error) => tracing::warn!(
                error = %error,
                "could not release the lease; it expires after its TTL"
            ),
        }
    }

    fn record(&self, holder: Option<Holder>, generation: u64) -> Record {
        Record {
            holder,
            token: self.token.clone(),
            generation,
            ttl_seconds: self.settings.ttl.as_secs(),
            written_at: rfc3339(SystemTime::now()),
        }
    }

    /// Takes the lease, waiting as `settings.waiting` sets.
    async fn take(&self, state: &mut State) -> Result<(), Refusal> {
        if !state.bucket_ready {
            self.ensure_bucket().await?;
            state.bucket_ready = true;
        }
        let started = Instant::now();
        loop {
            let found = self.read().await?;
            // The generation of the record this run writes, and whether another
            // run had the lease since this run last wrote it.
            let (condition, generation, others_turn) = match &found {
                None => (None, 1, false),
                Some(Found { etag, record }) if record.token == self.token => {
                    (Some(etag.clone()), record.generation, false)
                }
                Some(Found { etag, record }) => match &record.holder {
                    None => (Some(etag.clone()), record.generation + 1, true),
                    Some(holder) if self.expired(state, etag, record) => {
                        tracing::warn!(%holder, "taking over a lease whose holder stopped renewing it");
                        (Some(etag.clone()), record.generation + 1, true)
                    }
                    Some(holder) => {
                        self.wait_or_refuse(started, holder).await?;
                        continue;
                    }
                },
            };
            let record = self.record(Some(self.me.clone()), generation);
            match self.write(&record, condition.as_deref()).await {
                Ok(Written::Done(etag)) => {
                    state.watching = None;
                    state.held = Some(self.hold(generation, etag));
                    if others_turn {
                        return Err(Refusal::retry(
                            "took the lease after another run's turn; observing again before writing",
                        ));
                    }
                    return Ok(());
                }
                // Another run wrote first: read again.
                Ok(Written::Lost) => continue,
                Err(error) => return Err(error.into()),
            }
        }
    }

    /// Returns whether `record`, held by another run, has gone a whole TTL
    /// without a renewal, as timed by this run since it first saw `etag`.
    fn expired(&self, state: &mut State, etag: &str, record: &Record) -> bool {
        let ttl = Duration::from_secs(record.ttl_seconds);
        match &state.watching {
            Some((seen, since)) if seen == etag => since.elapsed() >= ttl,
            _ => {
                state.watching = Some((etag.to_owned(), Instant::now()));
                false
            }
        }
    }

    async fn wait_or_refuse(&self, started: Instant, holder: &Holder) -> Result<(), Refusal> {
        let location = format!("s3://{}/{}", self.settings.bucket, self.settings.key);
        match self.settings.waiting {
            Waiting::Skip => Err(Refusal::retry(format!(
                "the lease {location} is held by {holder}; writes wait for the next pass"
            ))),
            Waiting::Upto(limit) if started.elapsed() >= limit => Err(Refusal::stop(format!(
                "the lease {location} is held by {holder}, and it was not free within \
                 --lock-timeout {}s; try again when that run ends",
                limit.as_secs()
            ))),
            Waiting::Upto(limit) => {
                let left = limit.saturating_sub(started.elapsed());
                tracing::info!(%holder, "waiting for the lease");
                tokio::time::sleep(left.min(Duration::from_secs(1))).await;
                Ok(())
            }
        }
    }

    /// Starts renewing a lease just taken, every third of its TTL.
    fn hold(&self, generation: u64, etag: String) -> Held {
        let etag = Arc::new(Mutex::new(Some(etag)));
        let renewing = Arc::clone(&etag);
        let lease = Renewal {
            s3: self.s3.clone(),
            bucket: self.settings.bucket.clone(),
            key: self.settings.key.clone(),
            body: self.record(Some(self.me.clone()), generation),
            every: self.settings.ttl / 3,
        };
        let renewer = tokio::spawn(async move { lease.run(renewing).await });
        Held {
            generation,
            etag,
            renewer,
        }
    }

    async fn read(&self) -> Result<Option<Found>, CallFailed> {
        read(&self.s3, &self.settings.bucket, &self.settings.key).await
    }

    async fn write(&self, record: &Record, if_match: Option<&str>) -> Result<Written, CallFailed> {
        put(
            &self.s3,
            &self.settings.bucket,
            &self.settings.key,
            record,
            if_match,
        )
        .await
    }

    /// Creates the lease bucket, private and tagged, when it does not exist.
    async fn ensure_bucket(&self) -> Result<(), CallFailed> {
        let bucket = self.settings.bucket.as_str();
        match self.s3.head_bucket().bucket(bucket).send().await {
            Ok(_) => return Ok(()),
            Err(SdkError::ServiceError(error))
                if matches!(error.err(), HeadBucketError::NotFound(_)) => {}
            Err(error) => {
                let context = format!("HeadBucket {bucket} for the lease");
                return Err(CallFailed::new(context, &error));
            }
        }
        let tags = [(STACK_TAG, self.settings.stack.as_str()), (ID_TAG, "lease")]
            .into_iter()
            .map(|(key, value)| Tag::builder().key(key).value(value).build())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|error| CallFailed {
                message: format!("building the lease bucket's tags failed: {error}"),
                transient: false,
            })?;
        let mut configuration = CreateBucketConfiguration::builder().set_tags(Some(tags));
        // us-east-1 is the default location and must not be named.
        if self.settings.region != "us-east-1" {
            configuration = configuration.location_constraint(BucketLocationConstraint::from(
                self.settings.region.as_str(),
            ));
        }
        match self
            .s3
            .create_bucket()
            .bucket(bucket)
            .create_bucket_configuration(configuration.build())
            .object_ownership(ObjectOwnership::BucketOwnerEnforced)
            .send()
            .await
        {
            Ok(_) => tracing::info!(bucket, "created the lease bucket"),
            // Another run created it first.
            Err(SdkError::ServiceError(error)) if error.err().is_bucket_already_owned_by_you() => {}
            Err(error) => {
                let context = format!("CreateBucket {bucket} for the lease");
                return Err(CallFailed::new(context, &error));
            }
        }
        let block_all = PublicAccessBlockConfiguration::builder()
            .block_public_acls(true)
            .ignore_public_acls(true)
            .block_public_policy(true)
            .restrict_public_buckets(true)
            .build();
        self.s3
            .put_public_access_block()
            .bucket(bucket)
            .public_access_block_configuration(block_all)
            .send()
            .await
            .map_err(|error| {
                CallFailed::new(
                    format!("PutPublicAccessBlock {bucket} for the lease"),
                    &error,
                )
            })?;
        Ok(())
    }
}

#[async_trait]
impl WriteGuard for S3Lease {
    async fn check(&self) -> Result<(), Refusal> {
        let mut state = self.state.lock().await;
        if let Some(held) = &state.held {
            if held.etag.lock().await.is_some() {
                return Ok(());
            }
            state.held = None;
            return Err(Refusal::stop(format!(
                "another run took over the lease s3://{}/{} while this run held it \
                 (it could not renew it within its TTL); nothing more was written",
                self.settings.bucket, self.settings.key
            )));
        }
        self.take(&mut state).await
    }

    async fn pass_finished(&self) {
        if self.settings.release_after_pass {
            self.release().await;
        }
    }
}

/// The task that keeps a held lease alive.
struct Renewal {
    s3: Client,
    bucket: String,
    key: String,
    body: Record,
    every: Duration,
}

impl Renewal {
    /// Rewrites the record on its last ETag until aborted, or until a write
    /// finds that another run took the lease (the ETag becomes `None`).
    async fn run(mut self, etag: Arc<Mutex<Option<String>>>) {
        loop {
            tokio::time::sleep(self.every).await;
            let mut current = etag.lock().await;
            let Some(last) = current.clone() else {
                return;
            };
            self.body.written_at = rfc3339(SystemTime::now());
            match put(&self.s3, &self.bucket, &self.key, &self.body, Some(&last)).await {
                Ok(Written::Done(next)) => *current = Some(next),
                // The SDK's retry of a write whose first response was lost gets
                // 412, and the record is then exactly the one written.
                Ok(Written::Lost) => match read(&self.s3, &self.bucket, &self.key).await {
                    Ok(Some(found)) if found.record == self.body => *current = Some(found.etag),
                    Err(error) => tracing::warn!(error = %error, "renewing the lease failed"),
                    Ok(_) => {
                        tracing::error!(
                            bucket = %self.bucket,
                            key = %self.key,
                            "lost the lease: another run took it over"
                        );
                        *current = None;
                        return;
                    }
                },
                // A failed renewal is tried again at the next tick; the TTL
                // leaves room for two misses.
                Err(error) => tracing::warn!(error = %error, "renewing the lease failed"),
            }
        }
    }
}

/// A failed call of the lease, and whether a later pass may succeed without a
/// person acting.
#[derive(Debug)]
struct CallFailed {
    message: String,
    /// `true` for throttling, server errors, timeouts and lost connections.
    transient: bool,
}

impl CallFailed {
    /// Describes `error` of the call that `context` names.
    fn new<E>(context: String, error: &SdkError<E, HttpResponse>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let transient = crate::failures::is_transient(error);
        CallFailed {
            message: format!("{context} failed: {}", DisplayErrorContext(error)),
            transient,
        }
    }
}

impl fmt::Display for CallFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<CallFailed> for Refusal {
    /// Converts a transient failure to a refusal that the next pass retries,
    /// and any other, such as AccessDenied, to one that needs a person.
    fn from(failed: CallFailed) -> Self {
        if failed.transient {
            Refusal::retry(format!("{}; the next pass tries again", failed.message))
        } else {
            Refusal::stop(failed.message)
        }
    }
}

/// Reads the lease object, or `None` when it does not exist.
async fn read(s3: &Client, bucket: &str, key: &str) -> Result<Option<Found>, CallFailed> {
    let response = s3.get_object().bucket(bucket).key(key).send().await;
    let output = match response {
        Ok(output) => output,
        Err(SdkError::ServiceError(error)) if error.err().is_no_such_key() => return Ok(None),
        Err(error) => {
            let context = format!("reading the lease s3://{bucket}/{key}");
            return Err(CallFailed::new(context, &error));
        }
    };
    let etag = output.e_tag().unwrap_or_default().to_owned();
    let bytes = output
        .body
        .collect()
        .await
        .map_err(|error| CallFailed {
            message: format!("reading the lease body failed: {error}"),
            transient: true,
        })?
        .into_bytes();
    let record = serde_json::from_slice(&bytes).map_err(|error| CallFailed {
        message: format!(
            "the lease s3://{bucket}/{key} does not hold a stackd lease record ({error}); \
             delete it if no stackd run is writing"
        ),
        transient: false,
    })?;
    Ok(Some(Found { etag, record }))
}

/// Writes `record` with `If-Match: if_match`, or `If-None-Match: *` without it.
async fn put(
    s3: &Client,
    bucket: &str,
    key: &str,
    record: &Record,
    if_match: Option<&str>,
) -> Result<Written, CallFailed> {
    let body = serde_json::to_vec_pretty(record).expect("a lease record serializes");
    let request = s3
        .put_object()
        .bucket(bucket)
        .key(key)
        .content_type("application/json")
        .body(ByteStream::from(body));
    let request = match if_match {
        Some(etag) => request.if_match(etag),
        None => request.if_none_match("*"),
    };
    match request.send().await {
        Ok(output) => Ok(Written::Done(output.e_tag().unwrap_or_default().to_owned())),
        Err(SdkError::ServiceError(error))
            if matches!(error.raw().status().as_u16(), 409 | 412) =>
        {
            Ok(Written::Lost)
        }
        Err(error) => Err(CallFailed::new(
            format!("writing the lease s3://{bucket}/{key}"),
            &error,
        )),
    }
}

fn rfc3339(time: SystemTime) -> String {
    aws_smithy_types::DateTime::from(time)
        .fmt(aws_smithy_types::date_time::Format::DateTime)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mocks::mock_client;
    use aws_smithy_mocks::mock;
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;

    fn lease(s3: Client) -> S3Lease {
        let settings = LeaseSettings {
            bucket: "lease-bucket".to_owned(),
            key: "stack.json".to_owned(),
            ttl: Duration::from_secs(60),
            region: "eu-west-3".to_owned(),
            stack: "s".to_owned(),
            waiting: Waiting::Skip,
            release_after_pass: true,
        };
        S3Lease::new(s3, settings, Holder::this_process("once"))
    }

    /// Returns a HeadBucket rule whose every try fails with this HTTP status and
    /// no body, as a failed HEAD request does in S3.
    fn head_bucket_failing(status: u16) -> aws_smithy_mocks::Rule {
        mock!(Client::head_bucket).then_http_response(move || {
            HttpResponse::new(StatusCode::try_from(status).unwrap(), SdkBody::empty())
        })
    }

    #[tokio::test]
    async fn renewal_answered_412_after_its_write_keeps_lease() {
        use aws_sdk_s3::operation::get_object::{GetObjectError, GetObjectOutput};
        use aws_sdk_s3::operation::head_bucket::HeadBucketOutput;
        use aws_sdk_s3::operation::put_object::PutObjectOutput;
        use aws_sdk_s3::types::error::NoSuchKey;
        use std::sync::Mutex as StdMutex;

        // The body of the last PutObject, which the emulated S3 then contains.
        let stored: Arc<StdMutex<Vec<u8>>> = Arc::default();
        let seen = Arc::clone(&stored);
        let head = mock!(Client::head_bucket).then_output(|| HeadBucketOutput::builder().build());
        // The take succeeds. The renewal's write takes effect but its response
        // is lost, so the SDK's retry on the old ETag gets 412.
        let put = mock!(Client::put_object)
            .match_requests(move |input| {
                if let Some(bytes) = input.body.bytes() {
                    *seen.lock().unwrap() = bytes.to_vec();
                }
                true
            })
            .sequence()
            .output(|| PutObjectOutput::builder().e_tag("\"e1\"").build())
            .http_response(|| {
                HttpResponse::new(StatusCode::try_from(412).unwrap(), SdkBody::empty())
            })
            .build();
        let body = Arc::clone(&stored);
        let get = mock!(Client::get_object)
            .sequence()
            .error(|| GetObjectError::NoSuchKey(NoSuchKey::builder().build()))
            .output(move || {
                GetObjectOutput::builder()
                    .e_tag("\"e2\"")
                    .body(ByteStream::from(body.lock().unwrap().clone()))
                    .build()
            })
            .build();
        let mut lease = lease(mock_client!(aws_sdk_s3, [&head, &put, &get]));
        lease.settings.ttl = Duration::from_millis(30);

        lease.check().await.expect("the lease is free");
        // Later renewals find no rule, fail and keep the ETag, as a failed renewal does.
        tokio::time::sleep(Duration::from_millis(200)).await;

        assert_eq!(put.num_calls(), 2, "the take and one renewal");
        assert_eq!(
            get.num_calls(),
            2,
            "the take's read and the renewal's check"
        );
        lease.check().await.expect("the lease is still held");
    }

    #[tokio::test]
    async fn server_error_lets_next_pass_retry() {
        let head = head_bucket_failing(503);
        let lease = lease(mock_client!(aws_sdk_s3, [&head]));

        let refusal = lease.check().await.unwrap_err();

        assert!(refusal.retry, "{refusal:?}");
        assert!(
            refusal.reason.contains("HeadBucket lease-bucket"),
            "{refusal:?}"
        );
        assert_eq!(head.num_calls(), 3, "the SDK's three tries");
    }

    #[tokio::test]
    async fn access_denied_stops_the_run() {
        let head = head_bucket_failing(403);
        let lease = lease(mock_client!(aws_sdk_s3, [&head]));

        let refusal = lease.check().await.unwrap_err();

        assert!(!refusal.retry, "{refusal:?}");
        assert!(
            refusal.reason.contains("HeadBucket lease-bucket"),
            "{refusal:?}"
        );
    }
}
