//! `cargo xtask demo`: plan, reconcile and plan again the sample stack against a fresh emulator.

use std::process::{Command, ExitStatus};

use anyhow::{Result, bail};

use crate::emulator::BackgroundEmulator;
use crate::{Workspace, run_step, run_step_status, venv};

/// Desired-state file of the demo, relative to the workspace root: the
/// production file with the emulator's account.
const STACK_FILE: &str = "config/demo.yaml";

/// Exit code of `stackd plan` when AWS differs from the file.
const PLAN_FOUND_CHANGES: i32 = 2;

/// Test credentials and region for every stackd process of the demo. The
/// emulator accepts any credentials, and these never reach AWS because
/// each command gets the emulator's `--endpoint-url`.
const AWS_ENV: [(&str, &str); 4] = [
    ("AWS_ACCESS_KEY_ID", "testing"),
    ("AWS_SECRET_ACCESS_KEY", "testing"),
    ("AWS_REGION", "eu-west-3"),
    ("AWS_EC2_METADATA_DISABLED", "true"),
];

/// Variables removed from stackd's environment so that a developer's own
/// AWS profile or session cannot mix into the demo.
const AWS_ENV_REMOVED: [&str; 3] = ["AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN"];

/// Builds stackd, starts an emulator and runs plan, reconcile and plan
/// against it. Fails unless the first plan finds changes, reconcile exits 0
/// and the last plan finds none. The emulator stops when this returns,
/// whatever the outcome.
pub fn run(workspace: &Workspace) -> Result<()> {
    let venv = venv::ensure(workspace)?;
    run_step(
        "cargo build -p stackd",
        workspace.cargo().args(["build", "-p", "stackd"]),
    )?;
    let stackd = workspace.target_dir.join("debug/stackd");

    let emulator = BackgroundEmulator::start(workspace, &venv, "demo")?;
    let endpoint = emulator.endpoint();
    eprintln!(
        "xtask: emulator ready on {endpoint}, request log in {}",
        emulator.log_path().display()
    );

    let stackd_step = |args: &[&str]| -> Result<ExitStatus> {
        let mut command = Command::new(&stackd);
        command
            .current_dir(&workspace.root)
            .args(args)
            .args(["--endpoint-url", endpoint])
            .envs(AWS_ENV);
        for name in AWS_ENV_REMOVED {
            command.env_remove(name);
        }
        let description = format!("stackd {} --endpoint-url {endpoint}", args.join(" "));
        run_step_status(&description, &mut command)
    };

    // The emulator starts empty, so the first plan must find the whole stack to create.
    let first_plan = stackd_step(&["plan", "-f", STACK_FILE])?;
    match first_plan.code() {
        Some(PLAN_FOUND_CHANGES) => {}
        Some(0) => bail!(
            "the first `stackd plan` found no changes against an empty emulator; expected exit code {PLAN_FOUND_CHANGES}"
        ),
        _ => bail!("the first `stackd plan` failed with {first_plan}"),
    }

    let reconcile = stackd_step(&["reconcile", "-f", STACK_FILE, "--once"])?;
    if !reconcile.success() {
        bail!("`stackd reconcile --once` failed with {reconcile}");
    }

    let last_plan = stackd_step(&["plan", "-f", STACK_FILE])?;
    match last_plan.code() {
        Some(0) => {}
        Some(PLAN_FOUND_CHANGES) => {
            bail!("the plan after reconcile still found changes, so reconcile did not converge")
        }
        _ => bail!("the last `stackd plan` failed with {last_plan}"),
    }

    eprintln!("xtask: demo passed: reconcile converged and the last plan found no changes");
    Ok(())
}
