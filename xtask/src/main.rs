//! Developer tasks of the stackd workspace, run as `cargo xtask <task>`.
//!
//! `emulator` serves the moto AWS emulator in the foreground, `test` runs
//! every check CI runs, `bench` runs one benchmark, `faults` runs the full
//! fault tests, and `demo` plans and reconciles the sample stack against a
//! fresh emulator. Each task first creates the emulator's Python venv under
//! the target directory when it is missing or out of date.

mod bench;
mod demo;
mod emulator;
mod faults;
mod test;
mod venv;

use std::env;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    bin_name = "cargo xtask",
    about = "Developer tasks of the stackd workspace"
)]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Debug, Subcommand)]
enum Task {
    /// Serve the moto AWS emulator on 127.0.0.1 in the foreground until Ctrl-C.
    Emulator {
        /// TCP port to listen on (0 picks a free one).
        #[arg(long, default_value_t = 5000)]
        port: u16,
    },
    /// Run the checks of CI in order, stopping at the first failure: rustfmt,
    /// clippy, the tests (emulator ones included) and rustdoc.
    Test {
        /// Extra arguments for `cargo test`, after `--`.
        #[arg(last = true)]
        cargo_test_args: Vec<OsString>,
    },
    /// Plan, reconcile and plan again the sample stack against a fresh emulator.
    Demo,
    /// Run the full fault tests: 50 seeded creations with 20 % of calls
    /// faulted, 20 creations killed with SIGKILL, a minute of throttling.
    Faults,
    /// Run one benchmark against a fresh emulator and print its figures.
    Bench {
        /// The benchmark to run.
        #[arg(value_enum)]
        name: bench::Benchmark,
        /// Measure the release build instead of the debug build.
        #[arg(long)]
        release: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = Workspace::locate().and_then(|workspace| match cli.task {
        Task::Emulator { port } => emulator::run_foreground(&workspace, port),
        Task::Test { cargo_test_args } => test::run(&workspace, &cargo_test_args),
        Task::Demo => demo::run(&workspace),
        Task::Faults => faults::run(&workspace),
        Task::Bench { name, release } => bench::run(&workspace, name, release),
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("xtask: error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Paths of the workspace that the tasks read and write.
#[derive(Debug)]
pub struct Workspace {
    /// Directory of the workspace's Cargo.toml.
    pub root: PathBuf,
    /// Cargo's target directory: `CARGO_TARGET_DIR` if set, else `<root>/target`.
    pub target_dir: PathBuf,
}

impl Workspace {
    fn locate() -> Result<Self> {
        // xtask/Cargo.toml sits one level below the workspace root.
        let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
        let root = manifest_dir
            .parent()
            .context("xtask's manifest directory has no parent directory")?
            .to_path_buf();
        let target_dir = match env::var_os("CARGO_TARGET_DIR") {
            Some(dir) => root.join(dir),
            None => root.join("target"),
        };
        Ok(Self { root, target_dir })
    }

    /// Returns a `cargo` command of the toolchain that runs xtask, in the workspace root.
    pub fn cargo(&self) -> Command {
        // Cargo sets CARGO for the programs it runs, so nested cargo
        // commands use the same toolchain as `cargo xtask`.
        let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut command = Command::new(cargo);
        command.current_dir(&self.root);
        command
    }
}

/// Prints `==> DESCRIPTION` and runs `command`, failing unless it exits 0.
pub fn run_step(description: &str, command: &mut Command) -> Result<()> {
    let status = run_step_status(description, command)?;
    if !status.success() {
        bail!("`{description}` failed with {status}");
    }
    Ok(())
}

/// Prints `==> DESCRIPTION`, runs `command` and returns its exit status.
pub fn run_step_status(
    description: &str,
    command: &mut Command,
) -> Result<std::process::ExitStatus> {
    eprintln!("==> {description}");
    command
        .status()
        .with_context(|| format!("failed to start `{description}`"))
}
