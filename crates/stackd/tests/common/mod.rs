//! Helpers shared by the whole-flow tests: run the stackd binary against an
//! emulator and show what it printed when an assertion fails.

// Each test binary compiles this module and uses only some of the helpers.
#![allow(dead_code)]

use aws_config::BehaviorVersion;
use stackd_tests::{AWS_ENV_REMOVED, Emulator, aws_env};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The stack of config/beezyup-prod-c01.yaml.
pub const STACK: &str = "beezyup-prod-c01";

pub fn config_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/beezyup-prod-c01.yaml")
}

/// Runs the stackd binary against the emulator with test credentials only.
pub fn stackd(emulator: &Emulator, args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_stackd"));
    command
        .args(args)
        .arg("--endpoint-url")
        .arg(emulator.endpoint());
    for name in AWS_ENV_REMOVED {
        command.env_remove(name);
    }
    command.envs(aws_env());
    command.output().expect("the stackd binary runs")
}

pub fn reconcile(emulator: &Emulator, file: &Path) -> Output {
    let file = file.to_str().expect("the config path is UTF-8");
    stackd(
        emulator,
        &[
            "reconcile",
            "-f",
            file,
            "--once",
            "--requeue-after",
            "1s",
            "--wait",
            "60s",
        ],
    )
}

pub fn plan(emulator: &Emulator, file: &Path) -> Output {
    let file = file.to_str().expect("the config path is UTF-8");
    stackd(emulator, &["plan", "-f", file])
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
