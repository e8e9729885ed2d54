//! What the daemon knows between passes, shared with the HTTP endpoints.

use super::metrics::{self, AlertCounts, Histogram, PassOutcome, Snapshot};
use super::time::format_rfc3339;
use crate::alerts::sender::Counters;
use serde::{Deserialize, Serialize};
use stackd_aws::AwsCallCounter;
use stackd_engine::{PassReport, Status};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The `/status` document. `stackd status` reads it back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusDocument {
    pub stack: String,
    pub file: String,
    /// Whether the first pass has finished.
    pub ready: bool,
    /// End of the last pass, RFC 3339.
    pub last_pass_time: Option<String>,
    pub last_pass_duration_seconds: Option<f64>,
    /// converged, progressing, refused or error.
    pub last_pass_outcome: Option<String>,
    /// Diagnostics of the last rejected reload, cleared by the next good one.
    pub last_reload_error: Option<String>,
    pub components: Vec<ComponentStatus>,
}

/// One component in the `/status` document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ComponentStatus {
    pub id: String,
    pub status: String,
    pub reason: String,
    /// When the status last changed, RFC 3339.
    pub last_transition_time: String,
}

#[derive(Debug)]
struct Component {
    id: String,
    status: Status,
    reason: String,
    last_transition: SystemTime,
}

/// The daemon's state. The loop writes it; the endpoints read it.
#[derive(Debug)]
pub struct State {
    interval: Duration,
    stack: String,
    file: String,
    /// Last time the loop started or finished a pass or handled an event.
    heartbeat: Instant,
    ready: bool,
    last_pass: Option<(SystemTime, Duration, PassOutcome)>,
    last_reload_error: Option<String>,
    components: Vec<Component>,
    pass_duration: Histogram,
    passes: [u64; 4],
    drifted: u64,
    last_successful_pass: Option<SystemTime>,
    /// Counters of the Slack alert sender, when a webhook is set.
    alert_counters: Option<Arc<Counters>>,
    aws_calls: AwsCallCounter,
}

impl State {
    pub fn new(stack: &str, file: &str, interval: Duration) -> Self {
        State {
            interval,
            stack: stack.to_owned(),
            file: file.to_owned(),
            heartbeat: Instant::now(),
            ready: false,
            last_pass: None,
            last_reload_error: None,
            components: Vec::new(),
            pass_duration: Histogram::new(&metrics::PASS_DURATION_BUCKETS),
            passes: [0; 4],
            drifted: 0,
            last_successful_pass: None,
            alert_counters: None,
            aws_calls: AwsCallCounter::new(),
        }
    }

    /// Returns the counter that the AWS clients of every pass count into.
    pub fn aws_calls(&self) -> AwsCallCounter {
        self.aws_calls.clone()
    }

    pub fn set_alert_counters(&mut self, counters: Option<Arc<Counters>>) {
        self.alert_counters = counters;
    }

    pub fn beat(&mut self) {
        self.heartbeat = Instant::now();
    }

    /// Returns whether the loop has moved within three intervals. A pass that
    /// hangs longer makes the daemon unhealthy, which also stops the systemd
    /// watchdog pings.
    pub fn is_healthy(&self) -> bool {
        self.heartbeat.elapsed() <= self.interval * 3
    }

    pub fn is_ready(&self) -> bool {
        self.ready
    }

    pub fn set_stack(&mut self, stack: &str) {
        self.stack = stack.to_owned();
    }

    pub fn set_reload_error(&mut self, error: Option<String>) {
        self.last_reload_error = error;
    }

    /// Records a finished pass and returns whether a component changed status
    /// or had changes applied, which is when the pass is worth a log line.
    pub fn record_pass(&mut self, report: &PassReport, outcome: PassOutcome) -> bool {
        let now = SystemTime::now();
        let mut changed = report.components.iter().any(|component| component.applied)
            || report.components.len() != self.components.len();
        let mut components = Vec::with_capacity(report.components.len());
        for component in &report.components {
            let id = component.id.to_string();
            let previous = self.components.iter().find(|known| known.id == id);
            let last_transition = match previous {
                Some(known) if known.status == component.status => known.last_transition,
                _ => {
                    changed = true;
                    now
                }
            };
            components.push(Component {
                id,
                status: component.status,
                reason: component.reason.clone(),
                last_transition,
            });
        }
        self.components = components;
        self.drifted = report
            .components
            .iter()
            .filter(|component| {
                component.status != Status::Unsupported && !component.changes.is_empty()
            })
            .count() as u64;
        self.pass_duration.observe(report.duration.as_secs_f64());
        self.passes[outcome as usize] += 1;
        if outcome != PassOutcome::Error {
            self.last_successful_pass = Some(now);
        }
        self.last_pass = Some((now, report.duration, outcome));
        self.ready = true;
        self.heartbeat = Instant::now();
        changed
    }

    /// Returns one line such as `5 Ready, 1 Progressing (progressing)`, for
    /// logs and systemd's STATUS.
    pub fn summary(&self) -> String {
        let counts = self.status_counts();
        let parts: Vec<String> = metrics::STATUSES
            .iter()
            .zip(counts)
            .filter(|(_, count)| *count > 0)
            .map(|(status, count)| format!("{count} {status}"))
            .collect();
        let outcome = self
            .last_pass
            .map(|(_, _, outcome)| outcome.label())
            .unwrap_or("no pass yet");
        format!("{}: {} ({outcome})", self.stack, parts.join(", "))
    }

    fn status_counts(&self) -> [u64; 7] {
        let mut counts = [0; 7];
        for component in &self.components {
            let index = metrics::STATUSES
                .iter()
                .position(|status| *status == component.status)
                .expect("STATUSES lists every status");
            counts[index] += 1;
        }
        counts
    }

    pub fn document(&self) -> StatusDocument {
        StatusDocument {
            stack: self.stack.clone(),
            file: self.file.clone(),
            ready: self.ready,
            last_pass_time: self.last_pass.map(|(time, _, _)| format_rfc3339(time)),
            last_pass_duration_seconds: self
                .last_pass
                .map(|(_, duration, _)| duration.as_secs_f64()),
            last_pass_outcome: self
                .last_pass
                .map(|(_, _, outcome)| outcome.label().to_owned()),
            last_reload_error: self.last_reload_error.clone(),
            components: self
                .components
                .iter()
                .map(|component| ComponentStatus {
                    id: component.id.clone(),
                    status: component.status.to_string(),
                    reason: component.reason.clone(),
                    last_transition_time: format_rfc3339(component.last_transition),
                })
                .collect(),
        }
    }

    pub fn metrics(&self) -> Snapshot {
        Snapshot {
            pass_duration: self.pass_duration.clone(),
            passes: self.passes,
            components: self.status_counts(),
            drifted: self.drifted,
            last_successful_pass: self
                .last_successful_pass
                .and_then(|time| time.duration_since(UNIX_EPOCH).ok())
                .map(|since| since.as_secs_f64()),
            alerts: self.alert_counters.as_ref().map(|counters| AlertCounts {
                delivered: Counters::get(&counters.delivered),
                failed: Counters::get(&counters.failed),
                dropped: Counters::get(&counters.dropped),
                retried: Counters::get(&counters.retried),
            }),
            aws_calls: self.aws_calls.snapshot(),
        }
    }
}

/// Classifies a finished pass for `stackd_passes_total`.
pub fn outcome(report: &PassReport) -> PassOutcome {
    let components = &report.components;
    if stackd_engine::pass_failed(components) {
        PassOutcome::Error
    } else if report.is_converged() {
        PassOutcome::Converged
    } else if components.iter().any(|component| {
        component.status == Status::Progressing
            || (component.status == Status::Blocked && !component.refused)
    }) {
        PassOutcome::Progressing
    } else {
        PassOutcome::Refused
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stackd_engine::{ComponentId, ComponentReport, Mode};

    fn pass(statuses: &[(&str, Status)]) -> PassReport {
        PassReport {
            mode: Mode::Apply,
            components: statuses
                .iter()
                .map(|(id, status)| ComponentReport {
                    id: ComponentId::single(id),
                    status: *status,
                    reason: String::new(),
                    changes: Vec::new(),
                    applied: false,
                    refused: false,
                    held: false,
                    transient: false,
                })
                .collect(),
            duration: Duration::from_millis(300),
        }
    }

    #[test]
    fn unchanged_pass_keeps_transition_times() {
        let mut state = State::new("stack", "stack.yaml", Duration::from_secs(60));
        let first = pass(&[("network", Status::Ready)]);
        assert!(state.record_pass(&first, outcome(&first)), "first pass");
        let before = state.document().components[0].last_transition_time.clone();
        assert!(!state.record_pass(&first, outcome(&first)), "same statuses");
        assert_eq!(state.document().components[0].last_transition_time, before);
    }

    #[test]
    fn status_change_is_a_change() {
        let mut state = State::new("stack", "stack.yaml", Duration::from_secs(60));
        let ready = pass(&[("network", Status::Ready)]);
        let failed = pass(&[("network", Status::Error)]);
        state.record_pass(&ready, outcome(&ready));
        assert!(state.record_pass(&failed, outcome(&failed)));
        assert_eq!(state.document().last_pass_outcome.as_deref(), Some("error"));
        assert_eq!(state.summary(), "stack: 1 Error (error)");
    }

    #[test]
    fn outcome_follows_the_worst_component() {
        let cases = [
            (
                vec![("a", Status::Ready), ("b", Status::Unsupported)],
                PassOutcome::Converged,
            ),
            (
                vec![("a", Status::Ready), ("b", Status::Progressing)],
                PassOutcome::Progressing,
            ),
            (
                vec![("a", Status::Blocked), ("b", Status::Error)],
                PassOutcome::Error,
            ),
        ];
        for (statuses, expected) in cases {
            assert_eq!(outcome(&pass(&statuses)), expected, "{statuses:?}");
        }
    }

    #[test]
    fn refused_component_is_a_refused_pass() {
        let mut report = pass(&[("a", Status::Blocked)]);
        report.components[0].refused = true;
        assert_eq!(outcome(&report), PassOutcome::Refused);
    }
}
