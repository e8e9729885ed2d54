//! Command-line arguments.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Reconciles an AWS stack with its declarative desired-state file.
#[derive(Debug, Parser)]
#[command(name = "stackd", version, about, long_about = None)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalOptions,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalOptions {
    /// More log output on stderr: -v for AWS changes, -vv for every step.
    /// STACKD_LOG (a tracing filter such as `stackd_aws=debug`) overrides it.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Format of the log lines on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Human)]
    pub log_format: LogFormat,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormat {
    Human,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Load and check a desired-state file without calling AWS.
    ///
    /// Exit codes: 0 valid (warnings may be printed), 1 invalid.
    Validate(FileArgs),
    /// Compare the file with AWS and print what would change, changing nothing.
    ///
    /// Exit codes: 0 nothing differs, 2 something differs, 1 error.
    Plan(PlanArgs),
    /// Apply the file to AWS.
    ///
    /// With --once: plan, apply, wait for convergence up to --wait, print what
    /// changed. Exit codes: 0 converged (drift left in place by an alertOnly or
    /// ignore policy counts as converged), 1 error, 3 refused by a guard (the
    /// credentials belong to another account than the file's, the write lease
    /// held by another run past --lock-timeout, a resource owned by someone
    /// else, a deletion or replacement not allowed), 4 not converged within
    /// --wait.
    Reconcile(ReconcileArgs),
    /// Print the status of a running daemon (`stackd reconcile` without --once),
    /// read from its /status endpoint.
    ///
    /// Exit codes: 0 every component is converged, 1 otherwise or when the
    /// daemon cannot be reached.
    Status(StatusArgs),
    /// Print the JSON Schema of the desired-state file, for editors.
    Schema,
    /// Slack alerts.
    #[command(subcommand)]
    Alert(AlertCommand),
}

#[derive(Debug, Subcommand)]
pub enum AlertCommand {
    /// Send a test message to the Slack webhook, in the file's language.
    ///
    /// Exit codes: 0 the webhook accepted it, 1 otherwise.
    Test(AlertTestArgs),
}

#[derive(Debug, Args)]
pub struct AlertTestArgs {
    #[command(flatten)]
    pub file: FileArgs,
    /// File that contains the Slack webhook URL. Without it, stackd reads the
    /// systemd credential slack-webhook, then STACKD_SLACK_WEBHOOK_URL.
    #[arg(long, value_name = "FILE")]
    pub alert_webhook_file: Option<PathBuf>,
}

/// Slack alerts of a plan or a reconcile run.
#[derive(Debug, Args)]
pub struct AlertArgs {
    /// Post the drift and failures found to the Slack webhook. Needs
    /// --alert-state. The daemon alerts whenever a webhook URL is set.
    #[arg(long, requires = "alert_state")]
    pub alert: bool,
    /// JSON file that keeps, between runs, the desired state of each component
    /// when it last converged and the alerts already sent. Without it, a run
    /// cannot tell drift from a pending change. Give each stack its own file.
    #[arg(long, value_name = "FILE")]
    pub alert_state: Option<PathBuf>,
    /// File that contains the Slack webhook URL. Without it, stackd reads the
    /// systemd credential slack-webhook, then STACKD_SLACK_WEBHOOK_URL.
    #[arg(long, value_name = "FILE")]
    pub alert_webhook_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct FileArgs {
    /// The desired-state file.
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub file: PathBuf,
}

#[derive(Debug, Args)]
pub struct AwsArgs {
    /// Send every AWS call to this endpoint instead of AWS's own, such as the
    /// local emulator at http://127.0.0.1:5000. Credentials then come from the
    /// environment or a profile only, never from instance metadata.
    #[arg(long, env = "STACKD_ENDPOINT_URL", value_name = "URL", value_parser = parse_endpoint_url)]
    pub endpoint_url: Option<String>,
    /// Maximum number of components applying at the same time, 1 or more. Four
    /// times as many observe at the same time, because reads are cheap.
    #[arg(long, default_value_t = 8, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub concurrency: usize,
}

/// Permission for changes that destroy resources.
#[derive(Debug, Args)]
pub struct DestructionArgs {
    /// Delete resources that carry this stack's tags but left the file. Each
    /// deletion also counts against --max-destructive.
    #[arg(long)]
    pub prune: bool,
    /// Maximum number of deletions plus replacements in this run (for the
    /// daemon, in the life of the process). The others are refused and
    /// reported, and --once then exits 3. The default, 0, lets a person review
    /// every destructive change first.
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub max_destructive: usize,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub file: FileArgs,
    #[command(flatten)]
    pub aws: AwsArgs,
    #[command(flatten)]
    pub destruction: DestructionArgs,
    #[command(flatten)]
    pub alerts: AlertArgs,
    /// Format of the plan on stdout.
    #[arg(long, short = 'o', value_enum, default_value_t = OutputFormat::Human)]
    pub output: OutputFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Aligned text for a terminal.
    Human,
    /// One JSON document, described by docs/plan.schema.json.
    Json,
    /// GitHub-flavoured Markdown, for a pull request comment or a CI step summary.
    Markdown,
}

#[derive(Debug, Args)]
pub struct ReconcileArgs {
    #[command(flatten)]
    pub file: FileArgs,
    #[command(flatten)]
    pub aws: AwsArgs,
    #[command(flatten)]
    pub destruction: DestructionArgs,
    #[command(flatten)]
    pub alerts: AlertArgs,
    /// Run until converged (or --wait runs out) and exit, instead of running as a daemon.
    #[arg(long)]
    pub once: bool,
    /// Daemon: time between two passes while the stack is converged, such as
    /// 60s. Each wait is spread by ±10 %.
    #[arg(long, value_parser = parse_duration, default_value = "60s")]
    pub interval: Duration,
    /// Daemon: address of the HTTP endpoints /healthz, /readyz, /status and
    /// /metrics. They have no authentication, so only loopback addresses are
    /// accepted unless --listen-any is given.
    #[arg(long, default_value = "127.0.0.1:9464", value_name = "ADDRESS:PORT")]
    pub listen: SocketAddr,
    /// Daemon: accept a --listen address that is not loopback, such as 0.0.0.0:9464.
    #[arg(long)]
    pub listen_any: bool,
    /// Daemon: time allowed for the pass in flight to finish after SIGTERM or
    /// SIGINT, such as 30s. A second signal exits at once with code 130.
    #[arg(long, value_parser = parse_duration, default_value = "30s")]
    pub shutdown_timeout: Duration,
    /// Maximum time to wait for AWS to converge, such as 90s, 10m or 1h.
    #[arg(long, value_parser = parse_duration, default_value = "10m")]
    pub wait: Duration,
    /// Pause between two passes while a resource is still being created, such as 5s.
    #[arg(long, value_parser = parse_duration, default_value = "5s")]
    pub requeue_after: Duration,
    /// With --once: how long to wait for the write lease (spec.lease) while
    /// another run holds it, such as 2m, before exiting with code 3.
    #[arg(long, value_parser = parse_duration, default_value = "2m")]
    pub lock_timeout: Duration,
    /// Format of the report on stdout.
    #[arg(long, short = 'o', value_enum, default_value_t = OutputFormat::Human)]
    pub output: OutputFormat,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The daemon's --listen address.
    #[arg(long, default_value = "127.0.0.1:9464", value_name = "ADDRESS:PORT")]
    pub address: SocketAddr,
    /// Format of the status on stdout.
    #[arg(long, short = 'o', value_enum, default_value_t = StatusFormat::Human)]
    pub output: StatusFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StatusFormat {
    /// An aligned table, one row per component.
    Human,
    /// The /status document as the daemon returned it.
    Json,
}

/// Parses a duration written as a number and a unit: ms, s, m or h.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|character: char| !character.is_ascii_digit())
        .ok_or_else(|| format!("invalid duration {text:?}: add a unit, such as {text}s"))?;
    let (number, unit) = text.split_at(split);
    let value: u64 = number.parse().map_err(|_| {
        format!("invalid duration {text:?}: expected a whole number followed by ms, s, m or h")
    })?;
    match unit {
        "ms" => Ok(Duration::from_millis(value)),
        "s" => Ok(Duration::from_secs(value)),
        "m" => Ok(Duration::from_secs(value * 60)),
        "h" => Ok(Duration::from_secs(value * 3600)),
        _ => Err(format!(
            "invalid duration unit {unit:?} in {text:?}: use ms, s, m or h"
        )),
    }
}

/// Checks an endpoint URL up front: an http or https URL with a host, such as
/// http://127.0.0.1:5000.
fn parse_endpoint_url(text: &str) -> Result<String, String> {
    let rest = text
        .strip_prefix("http://")
        .or_else(|| text.strip_prefix("https://"))
        .ok_or_else(|| format!("\"{text}\" is not an http:// or https:// URL"))?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if host.is_empty() || host.starts_with(':') {
        return Err(format!("\"{text}\" has no host"));
    }
    Ok(text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn endpoint_url_needs_a_scheme_and_a_host() {
        assert_eq!(
            parse_endpoint_url("http://127.0.0.1:5000"),
            Ok("http://127.0.0.1:5000".to_owned())
        );
        assert!(parse_endpoint_url("not-a-url").is_err());
        assert!(parse_endpoint_url("http://:5000").is_err());
        assert!(parse_endpoint_url("ftp://host").is_err());
    }

    #[test]
    fn concurrency_of_zero_is_rejected() {
        let error = Cli::try_parse_from(["stackd", "plan", "-f", "x.yaml", "--concurrency", "0"])
            .expect_err("0 is rejected");
        assert!(error.to_string().contains("--concurrency"), "{error}");
    }

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
    }

    #[test]
    fn duration_without_unit_is_rejected() {
        let error = parse_duration("90").unwrap_err();
        assert!(error.contains("add a unit"), "{error}");
    }

    #[test]
    fn duration_with_unknown_unit_is_rejected() {
        let error = parse_duration("5d").unwrap_err();
        assert!(error.contains("use ms, s, m or h"), "{error}");
    }
}
