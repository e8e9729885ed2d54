//! `cargo xtask faults`: the full form of the fault tests.

use anyhow::Result;

use crate::{Workspace, run_step, venv};

/// Seeds of the full form's faulted creations.
const SEEDS: &str = "1-50";

/// Runs the fault tests of `crates/stackd/tests/faults.rs` with 50 seeds,
/// including the ignored ones: creations killed with SIGKILL and a minute
/// of sustained throttling. Each test prints its seeds on stderr.
pub fn run(workspace: &Workspace) -> Result<()> {
    let venv = venv::ensure(workspace)?;
    run_step(
        &format!(
            "STACKD_FAULT_SEEDS={SEEDS} cargo test --workspace --test faults -- --include-ignored --nocapture"
        ),
        workspace
            .cargo()
            // `--workspace` resolves dependency features as `cargo xtask test`
            // does, so the build of the AWS SDK crates is reused.
            .args(["test", "--workspace", "--test", "faults", "--"])
            .args(["--include-ignored", "--nocapture", "--test-threads", "1"])
            .env("STACKD_FAULT_SEEDS", SEEDS)
            .env("STACKD_EMULATOR_PYTHON", &venv.python),
    )
}
