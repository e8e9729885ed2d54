//! Repeated apply passes until the stack converges or a time bound runs out.

use crate::component::ComponentId;
use crate::graph::Graph;
use crate::guard::{Destruction, WriteGuard};
use crate::pass::{Mode, PassOptions, PassReport, run_pass};
use crate::status::Status;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// Settings of [`converge`].
#[derive(Debug, Clone)]
pub struct ConvergeOptions {
    /// Maximum number of components applying at the same time.
    pub concurrency: usize,
    /// Time after which converge gives up waiting for AWS.
    pub wait: Duration,
    /// Pause between two passes while something is Progressing or Blocked. It
    /// doubles after each pass that failed without changing anything, up to
    /// [`MAX_STALLED_PAUSE`].
    pub requeue_after: Duration,
    /// Number of passes in a row in which a component may fail before converge stops.
    pub max_failed_passes: u32,
    /// Components that the passes plan but do not apply; see [`PassOptions::hold`].
    pub hold: BTreeMap<ComponentId, String>,
    /// Permission for deletions and replacements, shared by every pass of the run.
    pub destruction: Destruction,
    /// Check made once per pass before its first mutating call.
    pub write_guard: Option<Arc<dyn WriteGuard>>,
}

/// Maximum pause between passes that fail without changing anything, as under
/// sustained throttling.
pub const MAX_STALLED_PAUSE: Duration = Duration::from_secs(30);

/// Returns the pause after `stalled` passes in a row that failed without a
/// change: `requeue_after` doubled each time, at most [`MAX_STALLED_PAUSE`]
/// unless `requeue_after` is longer.
fn pause_after(requeue_after: Duration, stalled: u32) -> Duration {
    let doubled = requeue_after.saturating_mul(1 << stalled.min(16));
    doubled.min(MAX_STALLED_PAUSE.max(requeue_after))
}

impl Default for ConvergeOptions {
    fn default() -> Self {
        ConvergeOptions {
            concurrency: 8,
            wait: Duration::from_secs(600),
            requeue_after: Duration::from_secs(5),
            max_failed_passes: 3,
            hold: BTreeMap::new(),
            destruction: Destruction::default(),
            write_guard: None,
        }
    }
}

/// Every pass that [`converge`] ran, and how it ended.
#[derive(Debug, Clone)]
pub struct ConvergeReport {
    pub passes: Vec<PassReport>,
    pub outcome: Outcome,
}

/// The end state of [`converge`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Every component is Ready, Synced or Unsupported.
    Converged,
    /// A component failed in `max_failed_passes` passes in a row.
    Failed,
    /// The time bound ran out while a component was still Progressing or Blocked.
    TimedOut,
    /// A guard stopped a component and nothing else can move, so another pass
    /// would do the same: a person must act.
    Refused,
}

impl ConvergeReport {
    /// Returns the last pass, which contains the final status of every component.
    pub fn last(&self) -> &PassReport {
        self.passes.last().expect("converge runs at least one pass")
    }
}

/// Runs apply passes until every component converges, one keeps failing, or
/// `options.wait` runs out.
///
/// This is the engine's one requeue policy: components never sleep or retry, they
/// report Progressing, Blocked or Error and the next pass looks again.
pub async fn converge(graph: &Graph, options: &ConvergeOptions) -> ConvergeReport {
    let started = Instant::now();
    let pass_options = PassOptions {
        hold: options.hold.clone(),
        destruction: options.destruction.clone(),
        write_guard: options.write_guard.clone(),
        ..PassOptions::new(Mode::Apply, options.concurrency)
    };
    let mut passes = Vec::new();
    // Counted per component: under transient faults different components
    // fail in different passes, and none of them is stuck.
    let mut failed_in_a_row: BTreeMap<ComponentId, u32> = BTreeMap::new();
    let mut planned_before: BTreeMap<ComponentId, usize> = BTreeMap::new();
    // Passes in a row that failed and changed nothing.
    let mut stalled = 0;
    loop {
        let report = run_pass(graph, &pass_options).await;
        let converged = report.is_converged();
        let failed = report
            .components
            .iter()
            .any(|component| component.status == Status::Error);
        for component in &report.components {
            // A failing component whose plan shrank since the last pass got some
            // of its changes through, as a network half created under throttling
            // does: it is making progress, not failing in a row.
            let planned = component.changes.len();
            let shrank = planned_before
                .insert(component.id.clone(), planned)
                .is_some_and(|before| planned < before);
            // A transient error, such as throttling that outlasted the SDK's
            // retries, is not counted either: --wait bounds how long it may last.
            if component.status == Status::Error && !shrank && !component.transient {
                *failed_in_a_row.entry(component.id.clone()).or_insert(0) += 1;
            } else if component.status != Status::Error {
                failed_in_a_row.remove(&component.id);
            }
        }
        let refused = report.components.iter().any(|component| component.refused);
        let moving = report
            .components
            .iter()
            .any(|component| component.applied || component.status == Status::Progressing);
        passes.push(report);

        if converged {
            return ConvergeReport {
                passes,
                outcome: Outcome::Converged,
            };
        }
        if refused && !moving && !failed {
            return ConvergeReport {
                passes,
                outcome: Outcome::Refused,
            };
        }
        let stuck = failed_in_a_row
            .values()
            .any(|count| *count >= options.max_failed_passes);
        if stuck {
            return ConvergeReport {
                passes,
                outcome: Outcome::Failed,
            };
        }
        if started.elapsed() + options.requeue_after > options.wait {
            return ConvergeReport {
                passes,
                outcome: Outcome::TimedOut,
            };
        }
        stalled = if failed && !moving { stalled + 1 } else { 0 };
        let pause = pause_after(options.requeue_after, stalled)
            .min(options.wait.saturating_sub(started.elapsed()));
        tracing::debug!(
            after = ?pause,
            pass = passes.len(),
            "stack not converged yet, requeueing"
        );
        tokio::time::sleep(pause).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pass::tests::{Failure, Fake, graph};

    // NOTE: tokio's `test-util` feature is not enabled for this crate, so these
    // tests cannot pause time. They requeue after zero seconds instead, which
    // runs the next pass at once without sleeping.
    fn options() -> ConvergeOptions {
        ConvergeOptions {
            concurrency: 4,
            wait: Duration::from_secs(600),
            requeue_after: Duration::ZERO,
            ..ConvergeOptions::default()
        }
    }

    async fn converge_one(fake: &Fake, options: &ConvergeOptions) -> ConvergeReport {
        converge(&graph(vec![fake.node()]), options).await
    }

    fn last_status(report: &ConvergeReport) -> Status {
        report.last().components[0].status
    }

    #[tokio::test]
    async fn converged_stack_takes_one_pass() {
        let report = converge_one(&Fake::converged("network"), &options()).await;
        assert_eq!(report.outcome, Outcome::Converged);
        assert_eq!(report.passes.len(), 1);
    }

    #[tokio::test]
    async fn drifted_stack_converges_in_one_pass() {
        let fake = Fake::drifted("network");
        let report = converge_one(&fake, &options()).await;
        assert_eq!(report.outcome, Outcome::Converged);
        assert_eq!(report.passes.len(), 1);
        assert_eq!(last_status(&report), Status::Synced);
    }

    #[tokio::test]
    async fn progressing_apply_runs_another_pass() {
        let fake = Fake::drifted("network").with(|state| state.settle_after_apply = 1);
        let report = converge_one(&fake, &options()).await;
        assert_eq!(report.outcome, Outcome::Converged);
        assert_eq!(report.passes.len(), 2);
        assert_eq!(report.passes[0].components[0].status, Status::Progressing);
        assert_eq!(last_status(&report), Status::Ready);
    }

    #[tokio::test]
    async fn progressing_apply_is_not_applied_again() {
        let fake = Fake::drifted("network").with(|state| state.settle_after_apply = 1);
        converge_one(&fake, &options()).await;
        assert_eq!(fake.applies(), 1);
    }

    #[tokio::test]
    async fn never_settling_component_times_out() {
        let fake = Fake::drifted("network").with(|state| state.settle_after_apply = usize::MAX);
        let options = ConvergeOptions {
            wait: Duration::from_millis(20),
            ..options()
        };
        let report = converge_one(&fake, &options).await;
        assert_eq!(report.outcome, Outcome::TimedOut);
        assert_eq!(last_status(&report), Status::Progressing);
        assert_eq!(fake.applies(), 1);
    }

    #[tokio::test]
    async fn guard_on_observe_ends_as_refused() {
        let fake = Fake::converged("network").with(|state| {
            state.observe_failure = Some(Failure::Blocked);
        });
        let report = converge_one(&fake, &options()).await;
        assert_eq!(report.outcome, Outcome::Refused);
        assert_eq!(report.passes.len(), 1);
    }

    #[tokio::test]
    async fn guard_on_apply_ends_as_refused() {
        let fake = Fake::drifted("network").with(|state| {
            state.apply_failure = Some(Failure::Blocked);
        });
        // A short wait turns a requeue loop into a TimedOut failure, not a hang.
        let options = ConvergeOptions {
            wait: Duration::from_secs(2),
            ..options()
        };
        let report = converge_one(&fake, &options).await;
        assert_eq!(report.outcome, Outcome::Refused);
        assert_eq!(report.passes.len(), 1);
    }

    #[tokio::test]
    async fn held_drift_ends_as_converged() {
        let fake = Fake::drifted("network");
        let options = ConvergeOptions {
            hold: BTreeMap::from([(ComponentId::single("network"), "held".to_owned())]),
            ..options()
        };
        let report = converge_one(&fake, &options).await;
        assert_eq!(report.outcome, Outcome::Converged);
        assert_eq!(report.passes.len(), 1);
        assert_eq!(last_status(&report), Status::Drifted);
        assert_eq!(fake.applies(), 0);
    }

    #[tokio::test]
    async fn repeated_observe_error_fails_after_max_passes() {
        let fake = Fake::converged("network").with(|state| {
            state.observe_failure = Some(Failure::Call);
        });
        let report = converge_one(&fake, &options()).await;
        assert_eq!(report.outcome, Outcome::Failed);
        assert_eq!(report.passes.len(), 3);
        assert_eq!(last_status(&report), Status::Error);
    }

    #[tokio::test]
    async fn repeated_transient_error_runs_until_wait() {
        let fake = Fake::converged("network").with(|state| {
            state.observe_failure = Some(Failure::Throttled);
        });
        let options = ConvergeOptions {
            wait: Duration::from_millis(50),
            requeue_after: Duration::from_millis(5),
            ..options()
        };

        let report = converge_one(&fake, &options).await;

        assert_eq!(report.outcome, Outcome::TimedOut);
        assert!(report.passes.len() > 3, "{} passes", report.passes.len());
        assert!(
            report
                .passes
                .iter()
                .all(|pass| pass.components[0].transient)
        );
    }

    #[test]
    fn stalled_passes_double_the_pause() {
        let second = Duration::from_secs(1);
        assert_eq!(pause_after(second, 0), second);
        assert_eq!(pause_after(second, 1), 2 * second);
        assert_eq!(pause_after(second, 4), 16 * second);
        assert_eq!(pause_after(second, 5), MAX_STALLED_PAUSE);
        assert_eq!(pause_after(second, 40), MAX_STALLED_PAUSE);
        assert_eq!(pause_after(Duration::ZERO, 3), Duration::ZERO);
        assert_eq!(pause_after(2 * MAX_STALLED_PAUSE, 3), 2 * MAX_STALLED_PAUSE);
    }

    #[tokio::test]
    async fn failures_in_turn_do_not_stop_converge() {
        // Each component fails every other pass, so some component fails in
        // 4 passes in a row but none fails twice in a row.
        let network = Fake::converged("network").with(|state| state.failing_observes = vec![1, 3]);
        let iam = Fake::converged("iam").with(|state| state.failing_observes = vec![2, 4]);
        let report = converge(&graph(vec![network.node(), iam.node()]), &options()).await;
        assert_eq!(report.outcome, Outcome::Converged);
        assert_eq!(report.passes.len(), 5);
    }

    #[tokio::test]
    async fn unsupported_only_stack_is_converged() {
        let unsupported = crate::component::Node::unsupported(
            crate::component::ComponentId::single("iam"),
            Vec::new(),
            vec!["role/app".to_owned()],
        );
        let report = converge(&graph(vec![unsupported]), &options()).await;
        assert_eq!(report.outcome, Outcome::Converged);
    }
}
