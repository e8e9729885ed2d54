//! `stackd reconcile` without `--once`: the daemon that keeps a stack reconciled.
//!
//! The loop is a `tokio::select!` over [`Event`]. It runs apply passes; the
//! engine's [`RequeuePolicy`] chooses the delay to the next one from the last
//! pass:
//!
//! - converged, or stopped only by guards that another pass cannot lift:
//!   `--interval` (60 s by default);
//! - a component Progressing, or Blocked while it waits for a dependency:
//!   `--requeue-after` (5 s by default);
//! - a component in Error: `--requeue-after` doubled after each failed pass
//!   in a row (5, 10, 20, 40 s …), capped at `--interval`.
//!
//! Every delay is spread by ±10 % at random so that daemons started together
//! do not call AWS together.
//!
//! The desired-state file is read again when the watcher sees it change or on
//! SIGHUP. A file that fails validation is rejected with its diagnostics
//! logged at error, and the daemon keeps reconciling the last good one. A
//! good new file is applied at once.
//!
//! SIGTERM or SIGINT lets the pass in flight finish, so that none of its AWS
//! calls is cut, and stops within `--shutdown-timeout`; a second signal exits
//! at once with code 130.
//!
//! `http.rs` serves /healthz, /readyz, /status and /metrics from [`State`];
//! `systemd.rs` sends READY, WATCHDOG, STATUS and STOPPING to systemd.

mod http;
mod metrics;
mod reload;
mod state;
mod status;
mod systemd;
pub(crate) mod time;

pub use status::print_status;

use crate::cli::ReconcileArgs;
use crate::commands::{EXIT_ERROR, EXIT_OK, Writer};
use anyhow::Context;
use http::Response;
use reload::{Desired, ReloadCause};
use stackd_engine::{Mode, PassOptions, PassReport, RequeuePolicy, run_pass};
use state::State;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::time::{Instant, MissedTickBehavior};

/// Time to wait after a file event for the editor's other events, so that
/// one save is one reload.
const RELOAD_SETTLE: Duration = Duration::from_millis(200);

/// What wakes the loop.
#[derive(Debug)]
enum Event {
    /// The next pass is due.
    Tick,
    /// The file changed, or SIGHUP asked to read it again.
    ConfigChanged(ReloadCause),
    /// SIGTERM or SIGINT.
    Shutdown,
    /// Time to tell systemd's watchdog that the loop is alive.
    WatchdogDue,
}

/// The state shared by the loop and the HTTP endpoints.
type Shared = Arc<Mutex<State>>;

fn lock(shared: &Shared) -> MutexGuard<'_, State> {
    // A panic while the lock was held leaves plain data behind, still readable.
    shared
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Runs the daemon until SIGTERM or SIGINT, and returns the exit code.
pub async fn run(args: &ReconcileArgs) -> anyhow::Result<u8> {
    // 1. Check the settings and the file before anything starts.
    anyhow::ensure!(
        !args.interval.is_zero(),
        "--interval must be more than 0, such as 60s"
    );
    anyhow::ensure!(
        !args.requeue_after.is_zero(),
        "--requeue-after must be more than 0 in daemon mode, such as 5s"
    );
    http::check_listen_address(args.listen, args.listen_any)?;
    let file = &args.file.file;
    let mut desired = match reload::read_desired(file) {
        Ok(desired) => desired,
        Err(diagnostics) => {
            eprintln!("{diagnostics}");
            return Ok(EXIT_ERROR);
        }
    };

    // 2. Signals first, so that a SIGTERM during the first pass is handled.
    let (shutdown_sender, mut shutdown) = watch::channel(false);
    let (reload_sender, mut reloads) = mpsc::unbounded_channel();
    reload::handle_signals(shutdown_sender, reload_sender.clone())
        .context("failed to install the signal handlers")?;
    let _watcher = reload::watch_file(file, reload_sender)
        .with_context(|| format!("failed to watch {} for changes", file.display()))?;

    // 3. The HTTP endpoints.
    let shared: Shared = Arc::new(Mutex::new(State::new(
        &desired.loaded.stack.name,
        &file.display().to_string(),
        args.interval,
    )));
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("failed to listen on {}", args.listen))?;
    tracing::info!(address = %args.listen, file = %file.display(), "daemon started");
    let server = tokio::spawn(http::serve(listener, routes(Arc::clone(&shared))));

    // 4. systemd.
    let notifier =
        systemd::Notifier::from_env().context("NOTIFY_SOCKET is set but names no usable socket")?;
    let mut watchdog = systemd::watchdog_interval().map(|period| {
        let mut interval = tokio::time::interval(period);
        interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
        interval
    });

    // 5. The loop. Every graph counts its AWS calls into the one counter of
    // the state, so that /metrics keeps counting across reloads.
    let calls = lock(&shared).aws_calls();
    let connected =
        crate::commands::connect(&desired.loaded, &args.aws, Writer::Daemon, &calls).await?;
    let mut lease = connected.lease;
    let mut graph = connected.graph;
    let policy = RequeuePolicy {
        interval: args.interval,
        requeue_after: args.requeue_after,
    };
    // One destruction budget for the life of the process; its default of 0
    // makes the daemon plan deletions and replacements and wait for a person.
    let mut pass_options = PassOptions {
        destruction: args.destruction.destruction(),
        write_guard: Some(connected.write_guard),
        ..PassOptions::new(Mode::Apply, args.aws.concurrency)
    };
    // The daemon always tracks drift, so that drift policies apply; it sends
    // messages only when a webhook URL is set.
    let mut alerts =
        crate::alerts::start::start(&desired.loaded.stack, &graph, &args.alerts, true).await?;
    lock(&shared).set_alert_counters(alerts.as_ref().and_then(|alerts| alerts.counters()));
    let mut next_pass = Instant::now();
    let mut failed_in_a_row: u32 = 0;
    let mut exit_code = EXIT_OK;
    loop {
        let event = tokio::select! {
            biased;
            _ = shutdown.wait_for(|stopping| *stopping) => Event::Shutdown,
            _ = tick(watchdog.as_mut()) => Event::WatchdogDue,
            Some(cause) = reloads.recv() => Event::ConfigChanged(cause),
            _ = tokio::time::sleep_until(next_pass) => Event::Tick,
        };
        lock(&shared).beat();
        match event {
            Event::Shutdown => break,
            Event::WatchdogDue => ping_watchdog(notifier.as_ref(), &shared),
            Event::ConfigChanged(cause) => {
                if let Some(new) = reread(cause, &mut reloads, file, &desired, &shared).await {
                    match crate::commands::connect(&new.loaded, &args.aws, Writer::Daemon, &calls)
                        .await
                    {
                        Ok(connected) => {
                            tracing::info!(file = %file.display(), "applying the changed desired-state file");
                            lock(&shared).set_stack(&new.loaded.stack.name);
                            graph = connected.graph;
                            pass_options.write_guard = Some(connected.write_guard);
                            lease = connected.lease;
                            if let Some(alerts) = &mut alerts {
                                alerts.alerter.reload(&new.loaded.stack, &graph);
                            }
                            desired = new;
                            next_pass = Instant::now();
                        }
                        Err(error) => {
                            tracing::error!("rejected the changed desired-state file: {error:#}");
                            lock(&shared).set_reload_error(Some(format!("{error:#}")));
                        }
                    }
                }
            }
            Event::Tick => {
                pass_options.hold = alerts
                    .as_ref()
                    .map(|alerts| alerts.alerter.holds())
                    .unwrap_or_default();
                let Some(report) = pass_in_flight(
                    run_pass(&graph, &pass_options),
                    &mut shutdown,
                    watchdog.as_mut(),
                    notifier.as_ref(),
                    &shared,
                    args.shutdown_timeout,
                )
                .await
                else {
                    tracing::error!(
                        timeout = ?args.shutdown_timeout,
                        "the pass in flight did not finish within --shutdown-timeout; stopping anyway"
                    );
                    exit_code = EXIT_ERROR;
                    break;
                };
                if let Some(alerts) = &mut alerts {
                    alerts.alerter.observe(&report, Mode::Apply).await;
                }
                failed_in_a_row = if stackd_engine::pass_failed(&report.components) {
                    failed_in_a_row.saturating_add(1)
                } else {
                    0
                };
                let requeue = policy.next_pass(&report.components, failed_in_a_row);
                let delay = stackd_engine::jitter(requeue.delay, fastrand::f64());
                next_pass = Instant::now() + delay;
                after_pass(&report, &shared, notifier.as_ref(), delay, requeue.reason);
            }
        }
    }

    if let Some(notifier) = &notifier {
        notifier.notify("STOPPING=1");
    }
    // Passes let the lease go as they end; this covers a pass cut short.
    if let Some(lease) = &lease {
        lease.release().await;
    }
    // The alerts of the last pass may still be queued: they go out within the
    // same bound as the pass in flight, and a second signal exits at once.
    if let Some(alerts) = alerts {
        alerts.finish_within(args.shutdown_timeout).await;
    }
    server.abort();
    tracing::info!("daemon stopped");
    Ok(exit_code)
}

/// Waits for the next tick of the watchdog, or forever when it is off.
async fn tick(watchdog: Option<&mut tokio::time::Interval>) {
    match watchdog {
        Some(interval) => {
            interval.tick().await;
        }
        None => std::future::pending().await,
    }
}

/// Pings systemd's watchdog only while the loop is healthy, so that a pass
/// that hangs for three intervals gets the service restarted.
fn ping_watchdog(notifier: Option<&systemd::Notifier>, shared: &Shared) {
    if let Some(notifier) = notifier
        && lock(shared).is_healthy()
    {
        notifier.notify("WATCHDOG=1");
    }
}

/// Awaits a pass while still serving the watchdog and the stop signal. After
/// SIGTERM or SIGINT the pass goes on, so that its AWS calls complete, for at
/// most `shutdown_timeout`. Returns `None` when that runs out.
async fn pass_in_flight(
    pass: impl Future<Output = PassReport>,
    shutdown: &mut watch::Receiver<bool>,
    mut watchdog: Option<&mut tokio::time::Interval>,
    notifier: Option<&systemd::Notifier>,
    shared: &Shared,
    shutdown_timeout: Duration,
) -> Option<PassReport> {
    tokio::pin!(pass);
    let mut deadline: Option<Instant> = None;
    loop {
        tokio::select! {
            report = &mut pass => return Some(report),
            _ = tick(watchdog.as_deref_mut()) => ping_watchdog(notifier, shared),
            _ = shutdown.wait_for(|stopping| *stopping), if deadline.is_none() => {
                tracing::info!("waiting for the pass in flight to finish");
                if let Some(notifier) = notifier {
                    notifier.notify("STOPPING=1");
                }
                deadline = Some(Instant::now() + shutdown_timeout);
            }
            _ = sleep_until_some(deadline) => return None,
        }
    }
}

async fn sleep_until_some(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// Reads the file again after a reload request. Returns the new desired state
/// when it is valid and differs from the current one (or SIGHUP asked);
/// otherwise logs why and returns `None`.
async fn reread(
    cause: ReloadCause,
    reloads: &mut mpsc::UnboundedReceiver<ReloadCause>,
    file: &std::path::Path,
    current: &Desired,
    shared: &Shared,
) -> Option<Desired> {
    // An editor's save is several events: wait for them and merge them.
    tokio::time::sleep(RELOAD_SETTLE).await;
    let mut forced = cause == ReloadCause::Hangup;
    while let Ok(cause) = reloads.try_recv() {
        forced |= cause == ReloadCause::Hangup;
    }
    let file = file.display().to_string();
    match reload::read_desired(std::path::Path::new(&file)) {
        Ok(new) if !forced && new.text == current.text => {
            tracing::debug!(file, "the desired-state file did not change");
            None
        }
        Ok(new) => {
            lock(shared).set_reload_error(None);
            Some(new)
        }
        Err(diagnostics) => {
            tracing::error!(
                file,
                "rejected the changed desired-state file, still reconciling the last valid one:\n{diagnostics}"
            );
            lock(shared).set_reload_error(Some(diagnostics));
            None
        }
    }
}

/// Records a pass, logs it when something changed, and tells systemd.
fn after_pass(
    report: &PassReport,
    shared: &Shared,
    notifier: Option<&systemd::Notifier>,
    delay: Duration,
    reason: stackd_engine::RequeueReason,
) {
    let mut state = lock(shared);
    let first = !state.is_ready();
    let changed = state.record_pass(report, state::outcome(report));
    let summary = state.summary();
    drop(state);

    if changed {
        tracing::info!(next_pass_in = ?delay, ?reason, "pass finished: {summary}");
    } else {
        tracing::debug!(next_pass_in = ?delay, ?reason, "pass finished: {summary}");
    }
    if let Some(notifier) = notifier {
        let status = systemd::status_line(&summary);
        if first {
            notifier.notify(&format!("READY=1\n{status}"));
        } else {
            notifier.notify(&status);
        }
    }
}

/// Maps each endpoint to its response, read from the shared state.
fn routes(shared: Shared) -> impl Fn(&str) -> Response + Send + Sync + 'static {
    move |path| match path {
        "/healthz" => {
            if lock(&shared).is_healthy() {
                Response::text(200, "ok\n")
            } else {
                Response::text(
                    503,
                    "the reconcile loop has not moved for three intervals\n",
                )
            }
        }
        "/readyz" => {
            if lock(&shared).is_ready() {
                Response::text(200, "ok\n")
            } else {
                Response::text(503, "the first pass has not finished\n")
            }
        }
        "/status" => {
            let document = lock(&shared).document();
            match serde_json::to_string_pretty(&document) {
                Ok(body) => Response::json(body),
                Err(error) => Response::text(500, format!("cannot encode the status: {error}\n")),
            }
        }
        "/metrics" => {
            let snapshot = lock(&shared).metrics();
            Response {
                status: 200,
                content_type: "text/plain; version=0.0.4; charset=utf-8",
                body: metrics::render(&snapshot),
            }
        }
        _ => Response::text(
            404,
            "not found: use /healthz, /readyz, /status or /metrics\n",
        ),
    }
}
