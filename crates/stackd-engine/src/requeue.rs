//! The requeue policy of a long-running reconciler: when the next pass comes, from the last one.
//!
//! The policy is a pure function of the last pass's component reports and the
//! number of failed passes in a row. It reads no clock and draws no random
//! number: the caller sleeps, and spreads the delays with [`jitter`].

use crate::pass::ComponentReport;
use crate::status::Status;
use std::time::Duration;

/// Settings of [`RequeuePolicy::next_pass`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequeuePolicy {
    /// Delay between two passes while the stack is converged, or a guard
    /// stopped a component and only a person can unblock it.
    pub interval: Duration,
    /// Delay after a pass that left a component Progressing or waiting for a
    /// dependency, and the first delay of the backoff after a failed pass.
    pub requeue_after: Duration,
}

/// Why the next pass comes when it does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequeueReason {
    /// Every component is converged, or stopped by a guard: the regular interval.
    Interval,
    /// A component is Progressing or waits for a dependency: look again soon.
    Progressing,
    /// A component is in Error: back off exponentially.
    Backoff,
}

/// The delay before the next pass, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Requeue {
    pub delay: Duration,
    pub reason: RequeueReason,
}

impl RequeuePolicy {
    /// Chooses the delay before the next pass.
    ///
    /// - A component in Error: `requeue_after × 2^(failed_in_a_row − 1)`,
    ///   capped at `interval`. `failed_in_a_row` counts the last pass, so it is
    ///   at least 1 here; 0 is read as 1.
    /// - Otherwise a component Progressing, or Blocked while it waits for a
    ///   dependency: `requeue_after`, capped at `interval`.
    /// - Otherwise (converged, or only stopped by guards, which another pass
    ///   cannot lift): `interval`.
    pub fn next_pass(&self, components: &[ComponentReport], failed_in_a_row: u32) -> Requeue {
        if components
            .iter()
            .any(|report| report.status == Status::Error)
        {
            let exponent = failed_in_a_row.saturating_sub(1).min(31);
            let delay = self
                .requeue_after
                .saturating_mul(1_u32 << exponent)
                .min(self.interval);
            return Requeue {
                delay,
                reason: RequeueReason::Backoff,
            };
        }
        let moving = components.iter().any(|report| {
            report.status == Status::Progressing
                || (report.status == Status::Blocked && !report.refused)
        });
        if moving {
            return Requeue {
                delay: self.requeue_after.min(self.interval),
                reason: RequeueReason::Progressing,
            };
        }
        Requeue {
            delay: self.interval,
            reason: RequeueReason::Interval,
        }
    }
}

/// Returns whether any component ended the pass in Error, which counts the pass
/// as failed for the backoff.
pub fn pass_failed(components: &[ComponentReport]) -> bool {
    components
        .iter()
        .any(|report| report.status == Status::Error)
}

/// Spreads `delay` by ±10 % so that daemons started together do not call AWS
/// together. `unit` is a number in `[0, 1]` that the caller draws at random:
/// 0 gives 90 % of the delay, 0.5 the delay itself, 1 gives 110 %.
pub fn jitter(delay: Duration, unit: f64) -> Duration {
    let factor = 0.9 + 0.2 * unit.clamp(0.0, 1.0);
    delay.mul_f64(factor)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::component::ComponentId;

    const POLICY: RequeuePolicy = RequeuePolicy {
        interval: Duration::from_secs(60),
        requeue_after: Duration::from_secs(5),
    };

    fn component(status: Status, refused: bool) -> ComponentReport {
        ComponentReport {
            id: ComponentId::single("network"),
            status,
            reason: String::new(),
            changes: Vec::new(),
            applied: false,
            refused,
            held: false,
            transient: false,
        }
    }

    #[test]
    fn next_pass_follows_the_statuses() {
        // (case, statuses with their refused flag, failed passes in a row, expected)
        let cases = [
            (
                "converged",
                vec![(Status::Ready, false), (Status::Synced, false)],
                0,
                Requeue {
                    delay: Duration::from_secs(60),
                    reason: RequeueReason::Interval,
                },
            ),
            (
                "unsupported only",
                vec![(Status::Unsupported, false)],
                0,
                Requeue {
                    delay: Duration::from_secs(60),
                    reason: RequeueReason::Interval,
                },
            ),
            (
                "progressing",
                vec![(Status::Ready, false), (Status::Progressing, false)],
                0,
                Requeue {
                    delay: Duration::from_secs(5),
                    reason: RequeueReason::Progressing,
                },
            ),
            (
                "waiting for a dependency",
                vec![(Status::Blocked, false)],
                0,
                Requeue {
                    delay: Duration::from_secs(5),
                    reason: RequeueReason::Progressing,
                },
            ),
            (
                "stopped by a guard",
                vec![(Status::Blocked, true), (Status::Ready, false)],
                0,
                Requeue {
                    delay: Duration::from_secs(60),
                    reason: RequeueReason::Interval,
                },
            ),
            (
                "first failure",
                vec![(Status::Error, false), (Status::Progressing, false)],
                1,
                Requeue {
                    delay: Duration::from_secs(5),
                    reason: RequeueReason::Backoff,
                },
            ),
            (
                "failure count of zero is read as one",
                vec![(Status::Error, false)],
                0,
                Requeue {
                    delay: Duration::from_secs(5),
                    reason: RequeueReason::Backoff,
                },
            ),
            (
                "third failure",
                vec![(Status::Error, false)],
                3,
                Requeue {
                    delay: Duration::from_secs(20),
                    reason: RequeueReason::Backoff,
                },
            ),
            (
                "fifth failure is capped at the interval",
                vec![(Status::Error, false)],
                5,
                Requeue {
                    delay: Duration::from_secs(60),
                    reason: RequeueReason::Backoff,
                },
            ),
            (
                "huge failure count does not overflow",
                vec![(Status::Error, false)],
                u32::MAX,
                Requeue {
                    delay: Duration::from_secs(60),
                    reason: RequeueReason::Backoff,
                },
            ),
        ];
        for (case, statuses, failed_in_a_row, expected) in cases {
            let components: Vec<ComponentReport> = statuses
                .into_iter()
                .map(|(status, refused)| component(status, refused))
                .collect();
            assert_eq!(
                POLICY.next_pass(&components, failed_in_a_row),
                expected,
                "{case}"
            );
        }
    }

    #[test]
    fn requeue_after_longer_than_interval_is_capped() {
        let policy = RequeuePolicy {
            interval: Duration::from_secs(2),
            requeue_after: Duration::from_secs(5),
        };
        let requeue = policy.next_pass(&[component(Status::Progressing, false)], 0);
        assert_eq!(requeue.delay, Duration::from_secs(2));
    }

    #[test]
    fn pass_failed_only_on_error() {
        assert!(pass_failed(&[component(Status::Error, false)]));
        assert!(!pass_failed(&[component(Status::Blocked, true)]));
        assert!(!pass_failed(&[]));
    }

    #[test]
    fn jitter_stays_within_ten_percent() {
        let delay = Duration::from_secs(60);
        assert_eq!(jitter(delay, 0.0), Duration::from_secs(54));
        assert_eq!(jitter(delay, 0.5), Duration::from_secs(60));
        assert_eq!(jitter(delay, 1.0), Duration::from_secs(66));
        assert_eq!(jitter(delay, 7.0), Duration::from_secs(66), "clamped");
    }
}
