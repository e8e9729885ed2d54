//! The `stackd` command: validate, plan and reconcile a stack's desired-state file.
//!
//! This binary alone owns the command line, logging, `anyhow` and exit codes; the
//! work is done by `stackd-spec` (the file), `stackd-engine` (the passes) and
//! `stackd-aws` (the components).

mod alerts;
mod cli;
mod commands;
mod daemon;
mod desired;
mod markdown;
mod plan_document;
mod render;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    init_logging(&cli.global);
    // stackd waits on AWS, not on the CPU: two workers are enough on any host,
    // and each worker thread adds a stack and a malloc arena to resident memory.
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::from(commands::EXIT_ERROR);
        }
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            // `{:#}` prints the whole chain of causes on one line.
            eprintln!("error: {error:#}");
            ExitCode::from(commands::EXIT_ERROR)
        }
    }
}

/// Sends logs to stderr, so that stdout carries only the plan or report.
fn init_logging(global: &cli::GlobalOptions) {
    use tracing_subscriber::EnvFilter;
    let default = match global.verbose {
        0 => "warn",
        1 => "info",
        2 => "debug,aws_smithy_runtime=info,aws_config=info,hyper=info",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_env("STACKD_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    // Colours only for a terminal: a log file or journald gets plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi);
    match global.log_format {
        cli::LogFormat::Human => builder.init(),
        cli::LogFormat::Json => builder.json().init(),
    }
}
