//! The subcommands: each loads the file, runs the engine and returns an exit code.

use crate::cli::{
    AlertCommand, AwsArgs, Cli, Command, DestructionArgs, FileArgs, OutputFormat, PlanArgs,
    ReconcileArgs,
};
use crate::markdown;
use crate::plan_document::PlanDocument;
use crate::render;
use anyhow::Context;
use stackd_aws::{
    AccountGuard, AwsCallCounter, AwsClients, ClientOptions, Holder, LeaseSettings, S3Lease,
    Waiting, build_graph,
};
use stackd_engine::{
    ConvergeOptions, Destruction, Graph, GuardChain, Mode, Outcome, PassOptions, WriteGuard,
    converge, run_pass,
};
use stackd_spec::Loaded;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

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
        Command::Alert(AlertCommand::Test(args)) => crate::alerts::start::send_test(&args).await,
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
    let loaded = match crate::desired::read(path) {
        Ok(read) => read.loaded,
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
///
/// NOTE: paths are resolved from the folder of the file given with -f, also
/// when they come from a file it extends in another folder.
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

/// The graph of a stack and the guard that its apply passes check before writing.
pub(crate) struct Connected {
    pub graph: Graph,
    /// The checks before the first write of a pass: the account, then the lease.
    pub write_guard: Arc<dyn WriteGuard>,
    /// The lease, when the file names one, so that the run can let it go.
    pub lease: Option<Arc<S3Lease>>,
}

/// How a run writes, which decides how it takes the lease.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Writer {
    /// `plan`: never writes, never takes the lease.
    Plan,
    /// `reconcile --once`: waits up to `lock_timeout` for the lease and keeps
    /// it until the run ends.
    Once { lock_timeout: Duration },
    /// The daemon: skips a pass's writes while another run holds the lease,
    /// and lets it go at the end of every pass.
    Daemon,
}

/// Builds the graph and the write guards, with clients that count their calls
/// into `calls`.
pub(crate) async fn connect(
    loaded: &Loaded,
    aws: &AwsArgs,
    writer: Writer,
    calls: &AwsCallCounter,
) -> anyhow::Result<Connected> {
    let stack = &loaded.stack;
    let options = ClientOptions {
        region: stack.region.clone(),
        endpoint_url: aws.endpoint_url.clone(),
        calls: calls.clone(),
    };
    let clients = AwsClients::load(&options).await;
    let graph = build_graph(stack, &clients).context("the component graph is invalid")?;
    let account: Arc<dyn WriteGuard> = Arc::new(AccountGuard::new(
        clients.sts.clone(),
        &stack.account,
        &stack.region,
    ));
    let (waiting, release_after_pass, mode) = match writer {
        Writer::Plan => (Waiting::Skip, true, "plan"),
        Writer::Once { lock_timeout } => (Waiting::Upto(lock_timeout), false, "once"),
        Writer::Daemon => (Waiting::Skip, true, "daemon"),
    };
    let lease = stack.lease.as_ref().map(|lease| {
        let settings = LeaseSettings {
            bucket: lease.bucket.clone(),
            key: lease.key.clone(),
            ttl: lease.ttl(),
            region: stack.region.clone(),
            stack: stack.name.clone(),
            waiting,
            release_after_pass,
        };
        Arc::new(S3Lease::new(
            clients.s3.clone(),
            settings,
            Holder::this_process(mode),
        ))
    });
    let mut guards = vec![account];
    if let Some(lease) = &lease {
        guards.push(Arc::clone(lease) as Arc<dyn WriteGuard>);
    }
    Ok(Connected {
        graph,
        write_guard: Arc::new(GuardChain(guards)),
        lease,
    })
}

impl DestructionArgs {
    pub(crate) fn destruction(&self) -> Destruction {
        Destruction::new(self.prune, self.max_destructive)
    }
}

async fn plan(args: &PlanArgs) -> anyhow::Result<u8> {
    let Some(loaded) = load(&args.file)? else {
        return Ok(EXIT_ERROR);
    };
    let connected = connect(&loaded, &args.aws, Writer::Plan, &AwsCallCounter::new()).await?;
    let alerts =
        crate::alerts::start::start(&loaded.stack, &connected.graph, &args.alerts, false).await?;
    let options = PassOptions {
        destruction: args.destruction.destruction(),
        ..PassOptions::new(Mode::Plan, args.aws.concurrency)
    };
    let report = run_pass(&connected.graph, &options).await;
    if let Some(mut alerts) = alerts {
        alerts.alerter.observe(&report, Mode::Plan).await;
        alerts.finish().await;
    }
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
    let writer = Writer::Once {
        lock_timeout: args.lock_timeout,
    };
    let connected = connect(&loaded, &args.aws, writer, &AwsCallCounter::new()).await?;
    let alerts =
        crate::alerts::start::start(&loaded.stack, &connected.graph, &args.alerts, false).await?;
    let options = ConvergeOptions {
        concurrency: args.aws.concurrency,
        wait: args.wait,
        requeue_after: args.requeue_after,
        destruction: args.destruction.destruction(),
        write_guard: Some(connected.write_guard),
        hold: alerts
            .as_ref()
            .map(|alerts| alerts.alerter.holds())
            .unwrap_or_default(),
        ..ConvergeOptions::default()
    };
    let report = converge(&connected.graph, &options).await;
    if let Some(lease) = &connected.lease {
        lease.release().await;
    }
    if let Some(mut alerts) = alerts {
        for pass in &report.passes {
            alerts.alerter.observe(pass, Mode::Apply).await;
        }
        alerts.finish().await;
    }
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
