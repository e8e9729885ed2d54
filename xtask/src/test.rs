//! `cargo xtask test`: the checks CI runs, in order, stopping at the first failure.

use std::ffi::OsString;

use anyhow::Result;

use crate::{Workspace, run_step, venv};

/// Runs rustfmt, clippy, the tests and rustdoc on the whole workspace.
/// `cargo_test_args` are appended to `cargo test --workspace`.
pub fn run(workspace: &Workspace, cargo_test_args: &[OsString]) -> Result<()> {
    let venv = venv::ensure(workspace)?;

    run_step(
        "cargo fmt --all --check",
        workspace.cargo().args(["fmt", "--all", "--check"]),
    )?;

    run_step(
        "cargo clippy --workspace --all-targets -- -D warnings",
        workspace.cargo().args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ]),
    )?;

    let extra = cargo_test_args
        .iter()
        .map(|arg| arg.to_string_lossy())
        .collect::<Vec<_>>()
        .join(" ");
    run_step(
        format!("cargo test --workspace {extra}").trim_end(),
        workspace
            .cargo()
            .args(["test", "--workspace"])
            .args(cargo_test_args)
            .env("STACKD_EMULATOR_PYTHON", &venv.python),
    )?;

    run_step(
        "cargo doc --workspace --no-deps (RUSTDOCFLAGS=-D warnings)",
        workspace
            .cargo()
            .args(["doc", "--workspace", "--no-deps"])
            .env("RUSTDOCFLAGS", "-D warnings"),
    )?;

    eprintln!("xtask: all checks passed");
    Ok(())
}
