//! The subcommands: each loads the file, runs the engine and returns an exit code.

use crate::cli::{AwsArgs, Cli, Command, FileArgs, OutputFormat, PlanArgs, ReconcileArgs};
use crate::markdown;
use crate::plan_document::PlanDocument;
use crate::render;
use anyhow::Context;
use stackd_aws::{AwsCallCounter, AwsClients, ClientOptions, build_graph};
use stackd_engine::{ConvergeOptions, Graph, Mode, Outcome, PassOptions, converge, run_pass};
use stackd_spec::Loaded;
use std::path::Path;

/// Success: valid file, nothing differs, or converged.
pub const EXIT_OK: u8 = 0;
/// Invalid file, failed AWS call, or any other error.
pub const EXIT_ERROR: u8 = 1;
/// `plan` found differences.
pub const EXIT_CHANGES: u8 = 2;
/// A guard refused to go on: a person must act.
pub const EXIT_REFUSED: u8 = 3;
/// `reconcile --once` did not converge within `--wait`.
pub const EXIT_NOT_CONVERGED: u8 = 4;

pub async fn run(cli: Cli) -> anyhow::Result<u8> {
    match cli.command {
        Command::Validate(args) => validate(&args),
        Command::Plan(args) => plan(&args).await,
        Command::Reconcile(args) => reconcile(&args).await,
        Command::Status(args) => crate::daemon::print_status(&args).await,
        Command::Schema => {
            println!(
                "{}",
                serde_json::to_string_pretty(&stackd_spec::json_schema())?
            );
            Ok(EXIT_OK)
        }
    }
}

/// Reads and validates the file, printing every diagnostic to stderr. Returns
/// `None` when the file is invalid, after the diagnostics are printed.
fn load(args: &FileArgs) -> anyhow::Result<Option<Loaded>> {
    let path = &args.file;
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the desired-state file {}", path.display()))?;
    let loaded = match stackd_spec::load(&text, &path.display().to_string()) {
        Ok(loaded) => loaded,
        Err(error) => {
            eprintln!("{error}");
            return Ok(None);
        }
    };
    for warning in &loaded.warnings {
        eprintln!("{warning}");
    }
    if let Err(missing) = check_referenced_files(path, &loaded) {
        eprintln!("{missing}");
        return Ok(None);
    }
    Ok(Some(loaded))
}

/// Checks that the files the desired state names (public keys for signed URLs)
/// exist, because the spec crate does no IO.
pub(crate) fn check_referenced_files(file: &Path, loaded: &Loaded) -> Result<(), String> {
    let folder = file.parent().unwrap_or_else(|| Path::new("."));
    let mut missing = Vec::new();
    for distribution in &loaded.stack.distributions {
        let Some(signed) = &distribution.signed_urls else {
            continue;
        };
        for key in &signed.public_keys {
            let path = folder.join(&key.pem_file);
            match std::fs::read_to_string(&path) {
                Ok(text) if text.contains("-----BEGIN PUBLIC KEY-----") => {}
                Ok(_) => missing.push(format!(
                    "{}: error: distribution {} public key {}: {} is not a PEM public key\n  help: export the public half with `openssl rsa -in private.pem -pubout`",
                    file.display(),
                    distribution.id,
                    key.id,
                    path.display()
                )),
                Err(error) => missing.push(format!(
                    "{}: error: distribution {} public key {}: cannot read {}: {error}\n  help: pemFile is relative to the folder of the desired-state file",
                    file.display(),
                    distribution.id,
                    key.id,
                    path.display()
                )),
            }
        }
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(missing.join("\n"))
    }
}

fn validate(args: &FileArgs) -> anyhow::Result<u8> {
    let Some(loaded) = load(args)? else {
        return Ok(EXIT_ERROR);
    };
    let stack = &loaded.stack;
    println!(
        "{}: valid stack {} in {} ({} warnings)",
        args.file.display(),
        stack.name,
        stack.region,
        loaded.warnings.len()
    );
    Ok(EXIT_OK)
}

/// Builds the component graph with clients that count their calls into `calls`.
pub(crate) async fn connect(
    loaded: &Loaded,
    aws: &AwsArgs,
    calls: &AwsCallCounter,
) -> anyhow::Result<Graph> {
    let options = ClientOptions {
        region: loaded.stack.region.clone(),
        endpoint_url: aws.endpoint_url.clone(),
        calls: calls.clone(),
    };
    let clients = AwsClients::load(&options).await;
    build_graph(&loaded.stack, &clients).context("the component graph is invalid")
}

async fn plan(args: &PlanArgs) -> anyhow::Result<u8> {
    let Some(loaded) = load(&args.file)? else {
        return Ok(EXIT_ERROR);
    };
    let graph = connect(&loaded, &args.aws, &AwsCallCounter::new()).await?;
    let options = PassOptions {
        mode: Mode::Plan,
        concurrency: args.aws.concurrency,
    };
    let report = run_pass(&graph, &options).await;
    match args.output {
        OutputFormat::Human => print!("{}", render::plan(&loaded.stack, &report)),
        OutputFormat::Json => {
            let document = PlanDocument::new(&loaded.stack.name, &loaded.stack.region, &report);
            println!("{}", serde_json::to_string_pretty(&document)?);
        }
        OutputFormat::Markdown => {
            print!(
                "{}",
                markdown::plan(&loaded.stack.name, &loaded.stack.region, &report)
            );
        }
    }
    let failed = report.components.iter().any(|component| {
        matches!(
            component.status,
            stackd_engine::Status::Error | stackd_engine::Status::Blocked
        )
    });
    Ok(if failed {
        EXIT_ERROR
    } else if report.has_changes() {
        EXIT_CHANGES
    } else {
        EXIT_OK
    })
}

async fn reconcile(args: &ReconcileArgs) -> anyhow::Result<u8> {
    if !args.once {
        return crate::daemon::run(args).await;
    }
    let Some(loaded) = load(&args.file)? else {
        return Ok(EXIT_ERROR);
    };
    let graph = connect(&loaded, &args.aws, &AwsCallCounter::new()).await?;
    let options = ConvergeOptions {
        concurrency: args.aws.concurrency,
        wait: args.wait,
        requeue_after: args.requeue_after,
        ..ConvergeOptions::default()
    };
    let report = converge(&graph, &options).await;
    match args.output {
        OutputFormat::Human => print!("{}", render::reconcile(&loaded.stack, &report)),
        // The last pass contains the final status of every component.
        OutputFormat::Json => {
            let document =
                PlanDocument::new(&loaded.stack.name, &loaded.stack.region, report.last());
            println!("{}", serde_json::to_string_pretty(&document)?);
        }
        OutputFormat::Markdown => {
            print!(
                "{}",
                markdown::plan(&loaded.stack.name, &loaded.stack.region, report.last())
            );
        }
    }
    Ok(match report.outcome {
        Outcome::Converged => EXIT_OK,
        Outcome::Failed => EXIT_ERROR,
        Outcome::Refused => EXIT_REFUSED,
        Outcome::TimedOut => EXIT_NOT_CONVERGED,
    })
}
