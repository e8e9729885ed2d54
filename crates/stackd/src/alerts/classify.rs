//! What one pass showed about one component: drift or a pending change, and its state.

use stackd_engine::{Change, ComponentReport, Mode, Status};

/// One component's share of a pass, as the alerts read it.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    /// The changes of the pass, when they are drift: live state moved while the
    /// component's desired state stayed as it was when the component last converged.
    pub drift: Option<Drift>,
    pub state: State,
}

/// Live changes made outside stackd, and what the pass did about them.
#[derive(Debug, Clone, PartialEq)]
pub struct Drift {
    pub changes: Vec<Change>,
    pub outcome: Outcome,
}

/// What the pass did about a drift.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Applied, and live state matches the file again.
    Corrected,
    /// Applied; AWS is still settling.
    Correcting,
    /// Not applied: the drift policy only alerts, or ignores it.
    Held,
    /// Not applied: a plan changes nothing.
    PlanOnly,
    /// Not put back, for the reason given: a failed call, a guard, a dependency.
    NotCorrected(String),
}

/// The state a component ended the pass in, for failure alerts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// Ready or Synced: live state matches the file.
    Converged,
    /// Drifted: live state differs and the pass changed nothing, by design.
    Differs,
    Progressing(String),
    /// Error, or Blocked by a guard.
    Failed(String),
    /// Blocked while it waits for a dependency, or not supported: nothing to report.
    Waiting,
}

/// Classifies one component's report. `desired` is the fingerprint of its desired
/// state now, and `converged` the one recorded at its last converged pass, if any.
pub fn classify(
    report: &ComponentReport,
    mode: Mode,
    desired: &str,
    converged: Option<&str>,
) -> Observation {
    let state = match report.status {
        Status::Ready | Status::Synced => State::Converged,
        Status::Drifted => State::Differs,
        Status::Progressing => State::Progressing(report.reason.clone()),
        Status::Error => State::Failed(report.reason.clone()),
        Status::Blocked if report.refused => State::Failed(report.reason.clone()),
        Status::Blocked | Status::Unsupported => State::Waiting,
    };
    let is_drift = report.status != Status::Unsupported
        && !report.changes.is_empty()
        && converged == Some(desired);
    let drift = is_drift.then(|| Drift {
        changes: report.changes.clone(),
        outcome: outcome(report, mode),
    });
    Observation { drift, state }
}

fn outcome(report: &ComponentReport, mode: Mode) -> Outcome {
    if mode == Mode::Plan {
        return Outcome::PlanOnly;
    }
    match report.status {
        Status::Synced | Status::Ready if report.applied => Outcome::Corrected,
        Status::Progressing if report.applied => Outcome::Correcting,
        Status::Drifted if report.held => Outcome::Held,
        _ => Outcome::NotCorrected(report.reason.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stackd_engine::{ChangeKind, ComponentId};

    fn report(status: Status, applied: bool, refused: bool) -> ComponentReport {
        ComponentReport {
            id: ComponentId::single("security-groups"),
            status,
            reason: "the reason".to_owned(),
            changes: vec![Change::new(ChangeKind::Update, "security-group/ecs").field(
                "ingress",
                "tcp 8080 from 10.0.0.0/16",
                serde_json::Value::Null,
            )],
            applied,
            refused,
            held: false,
            transient: false,
        }
    }

    #[test]
    fn changes_are_drift_only_under_the_converged_desired_state() {
        let synced = report(Status::Synced, true, false);
        let cases = [
            (
                Some("same"),
                true,
                "desired state unchanged since it converged",
            ),
            (Some("old"), false, "the file changed: a pending change"),
            (None, false, "never converged: a pending change"),
        ];
        for (converged, expected, case) in cases {
            let observation = classify(&synced, Mode::Apply, "same", converged);
            assert_eq!(observation.drift.is_some(), expected, "{case}");
            assert_eq!(observation.state, State::Converged, "{case}");
        }
    }

    #[test]
    fn outcome_follows_the_report() {
        let cases = [
            (
                report(Status::Synced, true, false),
                Mode::Apply,
                Outcome::Corrected,
            ),
            (
                report(Status::Progressing, true, false),
                Mode::Apply,
                Outcome::Correcting,
            ),
            (
                ComponentReport {
                    held: true,
                    transient: false,
                    ..report(Status::Drifted, false, false)
                },
                Mode::Apply,
                Outcome::Held,
            ),
            (
                report(Status::Drifted, false, false),
                Mode::Plan,
                Outcome::PlanOnly,
            ),
            (
                report(Status::Error, true, false),
                Mode::Apply,
                Outcome::NotCorrected("the reason".to_owned()),
            ),
            (
                report(Status::Blocked, false, true),
                Mode::Apply,
                Outcome::NotCorrected("the reason".to_owned()),
            ),
        ];
        for (report, mode, expected) in cases {
            let observation = classify(&report, mode, "f", Some("f"));
            assert_eq!(
                observation.drift.map(|drift| drift.outcome),
                Some(expected),
                "{:?}",
                report.status
            );
        }
    }

    #[test]
    fn guard_is_a_failure_and_waiting_is_not() {
        let mut blocked = report(Status::Blocked, false, true);
        blocked.changes.clear();
        assert_eq!(
            classify(&blocked, Mode::Apply, "f", Some("f")).state,
            State::Failed("the reason".to_owned())
        );
        blocked.refused = false;
        assert_eq!(
            classify(&blocked, Mode::Apply, "f", Some("f")).state,
            State::Waiting
        );
    }

    #[test]
    fn unsupported_component_is_never_drift() {
        let unsupported = report(Status::Unsupported, false, false);
        let observation = classify(&unsupported, Mode::Apply, "f", Some("f"));
        assert_eq!(observation.drift, None);
        assert_eq!(observation.state, State::Waiting);
    }
}
