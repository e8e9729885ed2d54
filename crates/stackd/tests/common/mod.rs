//! Helpers shared by the whole-flow tests: run the stackd binary against an
//! emulator and show what it printed when an assertion fails.

// Each test binary compiles this module and uses only some of the helpers.
#![allow(dead_code)]

use aws_config::BehaviorVersion;
use stackd_tests::{AWS_ENV_REMOVED, Emulator, aws_env};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The stack of config/beezyup-prod-c01.yaml.
pub const STACK: &str = "beezyup-prod-c01";

/// The account id that the emulator returns from STS GetCallerIdentity.
pub const EMULATOR_ACCOUNT: &str = "123456789012";

/// config/demo.yaml: the production file with the emulator's account.
pub fn config_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/demo.yaml")
}

/// The text of config/beezyup-prod-c01.yaml with the emulator's account, for
/// tests that write an edited copy of the whole file.
pub fn stack_text() -> String {
    let production =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/beezyup-prod-c01.yaml");
    let text = std::fs::read_to_string(production).expect("the production file is readable");
    let account_line = text
        .lines()
        .find(|line| line.starts_with("  account: "))
        .expect("the production file has a spec.account line")
        .to_owned();
    text.replacen(
        &account_line,
        &format!("  account: \"{EMULATOR_ACCOUNT}\""),
        1,
    )
}

/// Runs the stackd binary against the emulator with test credentials only.
pub fn stackd(emulator: &Emulator, args: &[&str]) -> Output {
    stackd_with_endpoint(&emulator.endpoint(), args)
}

/// Runs the stackd binary against `endpoint`, the emulator or a proxy in
/// front of it, with test credentials only.
pub fn stackd_with_endpoint(endpoint: &str, args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_stackd"));
    command.args(args).arg("--endpoint-url").arg(endpoint);
    for name in AWS_ENV_REMOVED {
        command.env_remove(name);
    }
    command.envs(aws_env());
    command.output().expect("the stackd binary runs")
}

pub fn reconcile(emulator: &Emulator, file: &Path) -> Output {
    reconcile_with(emulator, file, &[])
}

/// Runs `reconcile --once` with `extra` arguments after the usual ones.
pub fn reconcile_with(emulator: &Emulator, file: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "reconcile",
        "-f",
        file.to_str().expect("the config path is UTF-8"),
        "--once",
        "--requeue-after",
        "1s",
        "--wait",
        "60s",
    ];
    args.extend_from_slice(extra);
    stackd(emulator, &args)
}

/// The bucket of the write lease that config/beezyup-prod-c01.yaml names.
pub const LEASE_BUCKET: &str = "beezyup-prod-c01-stackd-lease";

/// The lease key that config/beezyup-prod-c01.yaml implies.
pub const LEASE_KEY: &str = "stackd/beezyup-prod-c01.lease";

pub async fn s3(emulator: &Emulator) -> aws_sdk_s3::Client {
    let config = aws_sdk_s3::config::Builder::from(&sdk_config(emulator).await)
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

/// Writes a lease record held by a process that is not running, creating the
/// lease bucket when it is missing.
pub async fn hold_lease_elsewhere(emulator: &Emulator, ttl_seconds: u64) {
    let client = s3(emulator).await;
    // A run that already took and released the lease created the bucket.
    let _ = client
        .create_bucket()
        .bucket(LEASE_BUCKET)
        .create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::EuWest3)
                .build(),
        )
        .send()
        .await;
    let record = serde_json::json!({
        "holder": {
            "host": "ops-box",
            "pid": 4242,
            "mode": "daemon",
            "startedAt": "2026-12-01T08:00:00Z"
        },
        "token": "ops-box-4242-2026-12-01T08:00:00Z",
        "generation": 7,
        "ttlSeconds": ttl_seconds,
        "writtenAt": "2026-12-01T08:00:00Z"
    });
    client
        .put_object()
        .bucket(LEASE_BUCKET)
        .key(LEASE_KEY)
        .body(record.to_string().into_bytes().into())
        .send()
        .await
        .expect("the lease record is written");
}

pub async fn lease_record(emulator: &Emulator) -> serde_json::Value {
    let object = s3(emulator)
        .await
        .get_object()
        .bucket(LEASE_BUCKET)
        .key(LEASE_KEY)
        .send()
        .await
        .expect("the lease object exists");
    let bytes = object.body.collect().await.unwrap().into_bytes();
    serde_json::from_slice(&bytes).expect("the lease holds JSON")
}

/// Returns the mutating calls since the last reset, minus the reads and writes
/// of the write lease, which every run that changes something makes.
pub fn stack_writes(emulator: &Emulator) -> Vec<stackd_tests::Call> {
    let lease_path = format!("/{LEASE_BUCKET}");
    emulator
        .mutating_calls()
        .into_iter()
        .filter(|call| !call.path.starts_with(&lease_path))
        .collect()
}

pub fn plan(emulator: &Emulator, file: &Path) -> Output {
    let file = file.to_str().expect("the config path is UTF-8");
    stackd(emulator, &["plan", "-f", file])
}

/// Runs `plan` over `file`, asserts that it finds drift (exit 2) and that its
/// output contains each of `expected`, and returns the output.
pub fn plan_shows_drift(emulator: &Emulator, file: &Path, expected: &[&str]) -> String {
    let planned = plan(emulator, file);
    assert_eq!(
        planned.status.code(),
        Some(2),
        "plan finds drift: {}",
        describe(&planned)
    );
    let text = stdout(&planned);
    for line in expected {
        assert!(text.contains(line), "the plan shows {line}:\n{text}");
    }
    text
}

/// Returns the operation names of `calls`, in order.
pub fn operations(calls: &[stackd_tests::Call]) -> Vec<&str> {
    calls.iter().map(|call| call.operation.as_str()).collect()
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Formats the exit code, stdout and stderr of a run for an assertion message.
pub fn describe(output: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// SDK configuration that sends every call to the emulator with test credentials.
pub async fn sdk_config(emulator: &Emulator) -> aws_config::SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(emulator.endpoint())
        .region(aws_config::Region::new("eu-west-3"))
        .credentials_provider(aws_sdk_ec2::config::Credentials::new(
            "testing",
            "testing",
            None,
            None,
            "stackd-tests",
        ))
        .load()
        .await
}

/// Creates the stack in a fresh emulator and checks that it converged.
pub fn create_stack() -> Emulator {
    let emulator = Emulator::start().expect("the emulator starts");
    let output = reconcile(&emulator, &config_file());
    assert_eq!(
        output.status.code(),
        Some(0),
        "first reconcile: {}",
        describe(&output)
    );
    emulator
}

/// Numbers the temporary folders of one test process.
static FOLDER_COUNT: AtomicUsize = AtomicUsize::new(0);

/// An edited copy of the beezyup file (with the emulator's account) in a
/// temporary folder, next to a copy of the public key it names, deleted on drop.
pub struct EditedStack {
    folder: PathBuf,
    pub file: PathBuf,
}

impl EditedStack {
    /// Copies the file with each `(from, to)` replacement made exactly once.
    pub fn new(replacements: &[(&str, &str)]) -> Self {
        let mut text = stack_text();
        for (from, to) in replacements {
            assert_eq!(
                text.matches(from).count(),
                1,
                "the config file contains {from:?} once"
            );
            text = text.replace(from, to);
        }
        Self::with_text(&text)
    }

    /// Writes `text` as the desired-state file of a new temporary folder.
    pub fn with_text(text: &str) -> Self {
        let number = FOLDER_COUNT.fetch_add(1, Ordering::Relaxed);
        let folder =
            std::env::temp_dir().join(format!("stackd-test-{}-{number}", std::process::id()));
        std::fs::create_dir_all(folder.join("keys")).expect("the temporary folder is created");
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        std::fs::copy(
            workspace.join("config/keys/files-signing-2026.pub.pem"),
            folder.join("keys/files-signing-2026.pub.pem"),
        )
        .expect("the public key is copied");
        let file = folder.join("beezyup-prod-c01.yaml");
        std::fs::write(&file, text).expect("the edited file is written");
        EditedStack { folder, file }
    }
}

impl Drop for EditedStack {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.folder);
    }
}
