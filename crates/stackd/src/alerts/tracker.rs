//! The alert state machine of one component: which pass is worth a message.
//!
//! - A drift gets one message, keyed by its fingerprint. While the same drift holds,
//!   or keeps coming back after stackd put it back, the next message is a reminder,
//!   at most once per `remindAfterMinutes`. A drift with other fields is a new drift.
//! - A drift that was not put back (alert-only, a plan, a failed apply) gets a
//!   "resolved" message when the component converges. One that stackd put back was
//!   already reported as corrected; it is forgotten once the component has stayed
//!   converged for `remindAfterMinutes`, so that a drift that returns within that
//!   time stays one drift.
//! - A component that ends `errorAfterFailedPasses` passes in a row in Error, or
//!   stopped by a guard, gets a message; so does one Progressing for longer than
//!   `progressingAlertAfterMinutes`. Each is reminded like a drift, and gets a
//!   "resolved" message when the component converges.

use super::classify::{Observation, Outcome, State};
use super::fingerprint;
use super::record::{FailureKind, OpenDrift, OpenFailure, Track};
use stackd_engine::Change;
use stackd_spec::model::{self, DriftPolicy};
use std::time::{Duration, SystemTime};

/// The alert settings of the file, in the units the tracker uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    pub remind_after: Duration,
    pub error_after: u32,
    pub progressing_after: Duration,
}

impl Settings {
    pub fn new(alerts: &model::Alerts) -> Self {
        Settings {
            remind_after: minutes(alerts.remind_after_minutes),
            error_after: alerts.error_after_failed_passes.max(1),
            progressing_after: minutes(alerts.progressing_alert_after_minutes),
        }
    }
}

fn minutes(count: u32) -> Duration {
    Duration::from_secs(u64::from(count) * 60)
}

/// Something worth a message about one component.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    pub component: String,
    pub event: Event,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// Live state drifted from a file that did not change.
    Drift {
        changes: Vec<Change>,
        outcome: Outcome,
        fingerprint: String,
        first_seen: SystemTime,
        /// For a reminder: the passes that showed the drift since the first message.
        reminder: Option<u32>,
    },
    /// A drift that was not put back ended: the component converged again.
    DriftResolved {
        fingerprint: String,
        first_seen: SystemTime,
    },
    /// The component failed in `passes` passes in a row.
    Failed {
        reason: String,
        passes: u32,
        since: SystemTime,
        reminder: bool,
    },
    /// The component stayed Progressing since `since`.
    Stuck {
        reason: String,
        since: SystemTime,
        reminder: bool,
    },
    /// A component that failed or was stuck converged.
    Recovered {
        kind: FailureKind,
        since: SystemTime,
    },
}

/// Updates one component's track with the observation of a pass, and returns the
/// alerts the pass is worth.
pub fn observe(
    settings: &Settings,
    track: &mut Track,
    component: &str,
    policy: DriftPolicy,
    observation: Observation,
    now: SystemTime,
) -> Vec<Alert> {
    let mut events = Vec::new();
    let converged = observation.state == State::Converged;
    drift_events(
        settings,
        track,
        component,
        policy,
        observation.drift,
        converged,
        now,
        &mut events,
    );
    failure_events(settings, track, observation.state, now, &mut events);
    events
        .into_iter()
        .map(|event| Alert {
            component: component.to_owned(),
            event,
        })
        .collect()
}

#[allow(clippy::too_many_arguments)] // One call site; a struct would only rename them.
fn drift_events(
    settings: &Settings,
    track: &mut Track,
    component: &str,
    policy: DriftPolicy,
    drift: Option<super::classify::Drift>,
    converged: bool,
    now: SystemTime,
    events: &mut Vec<Event>,
) {
    let Some(drift) = drift else {
        if let Some(open) = &track.drift
            && converged
        {
            if open.unresolved {
                events.push(Event::DriftResolved {
                    fingerprint: open.fingerprint.clone(),
                    first_seen: open.first_seen,
                });
                track.drift = None;
            } else if elapsed(open.last_sent, now) >= settings.remind_after {
                track.drift = None;
            }
        }
        return;
    };
    if policy == DriftPolicy::Ignore {
        return;
    }

    let fingerprint = fingerprint::drift(component, &drift.changes);
    let unresolved = drift.outcome != Outcome::Corrected;
    match &mut track.drift {
        Some(open) if open.fingerprint == fingerprint => {
            open.occurrences = open.occurrences.saturating_add(1);
            let was_unresolved = open.unresolved;
            open.unresolved = unresolved;
            if was_unresolved && !unresolved {
                // Reported as left in place, and now put back: that ends it.
                events.push(Event::DriftResolved {
                    fingerprint,
                    first_seen: open.first_seen,
                });
                track.drift = None;
            } else if elapsed(open.last_sent, now) >= settings.remind_after {
                events.push(Event::Drift {
                    changes: drift.changes,
                    outcome: drift.outcome,
                    fingerprint,
                    first_seen: open.first_seen,
                    reminder: Some(open.occurrences),
                });
                open.last_sent = now;
            }
        }
        _ => {
            events.push(Event::Drift {
                changes: drift.changes,
                outcome: drift.outcome,
                fingerprint: fingerprint.clone(),
                first_seen: now,
                reminder: None,
            });
            track.drift = Some(OpenDrift {
                fingerprint,
                first_seen: now,
                last_sent: now,
                occurrences: 1,
                unresolved,
            });
        }
    }
}

fn failure_events(
    settings: &Settings,
    track: &mut Track,
    state: State,
    now: SystemTime,
    events: &mut Vec<Event>,
) {
    match state {
        State::Failed(reason) => {
            track.progressing_since = None;
            track.failed_passes = track.failed_passes.saturating_add(1);
            let since = *track.failing_since.get_or_insert(now);
            if track.failed_passes < settings.error_after {
                return;
            }
            let passes = track.failed_passes;
            match &mut track.failure {
                Some(open) if open.kind == FailureKind::Failed => {
                    if elapsed(open.last_sent, now) >= settings.remind_after {
                        events.push(Event::Failed {
                            reason,
                            passes,
                            since: open.since,
                            reminder: true,
                        });
                        open.last_sent = now;
                    }
                }
                _ => {
                    events.push(Event::Failed {
                        reason,
                        passes,
                        since,
                        reminder: false,
                    });
                    track.failure = Some(OpenFailure {
                        kind: FailureKind::Failed,
                        since,
                        last_sent: now,
                    });
                }
            }
        }
        State::Progressing(reason) => {
            track.failed_passes = 0;
            track.failing_since = None;
            let since = *track.progressing_since.get_or_insert(now);
            if elapsed(since, now) < settings.progressing_after {
                return;
            }
            match &mut track.failure {
                Some(open) => {
                    if open.kind == FailureKind::Stuck
                        && elapsed(open.last_sent, now) >= settings.remind_after
                    {
                        events.push(Event::Stuck {
                            reason,
                            since,
                            reminder: true,
                        });
                        open.last_sent = now;
                    }
                }
                None => {
                    events.push(Event::Stuck {
                        reason,
                        since,
                        reminder: false,
                    });
                    track.failure = Some(OpenFailure {
                        kind: FailureKind::Stuck,
                        since,
                        last_sent: now,
                    });
                }
            }
        }
        State::Converged => {
            track.failed_passes = 0;
            track.failing_since = None;
            track.progressing_since = None;
            if let Some(open) = track.failure.take() {
                events.push(Event::Recovered {
                    kind: open.kind,
                    since: open.since,
                });
            }
        }
        State::Differs => {
            track.failed_passes = 0;
            track.failing_since = None;
            track.progressing_since = None;
        }
        State::Waiting => {}
    }
}

fn elapsed(since: SystemTime, now: SystemTime) -> Duration {
    now.duration_since(since).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::classify::Drift;
    use stackd_engine::ChangeKind;
    use std::time::UNIX_EPOCH;

    const SETTINGS: Settings = Settings {
        remind_after: Duration::from_secs(3600),
        error_after: 3,
        progressing_after: Duration::from_secs(1800),
    };

    fn at(minutes: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_796_428_800 + minutes * 60)
    }

    fn drifted(outcome: Outcome, state: State) -> Observation {
        Observation {
            drift: Some(Drift {
                changes: vec![Change::new(ChangeKind::Update, "security-group/ecs").field(
                    "ingress",
                    "tcp 8080 from 10.0.0.0/16",
                    serde_json::Value::Null,
                )],
                outcome,
            }),
            state,
        }
    }

    fn converged() -> Observation {
        Observation {
            drift: None,
            state: State::Converged,
        }
    }

    fn failed() -> Observation {
        Observation {
            drift: None,
            state: State::Failed("CreateVpc failed: throttled".to_owned()),
        }
    }

    fn progressing() -> Observation {
        Observation {
            drift: None,
            state: State::Progressing("NAT gateway pending".to_owned()),
        }
    }

    /// Feeds observations at the given minutes and returns, per pass, the kinds of alerts.
    fn run(policy: DriftPolicy, passes: Vec<(u64, Observation)>) -> Vec<Vec<&'static str>> {
        let mut track = Track::default();
        passes
            .into_iter()
            .map(|(minute, observation)| {
                observe(
                    &SETTINGS,
                    &mut track,
                    "security-groups",
                    policy,
                    observation,
                    at(minute),
                )
                .into_iter()
                .map(|alert| match alert.event {
                    Event::Drift { reminder: None, .. } => "drift",
                    Event::Drift {
                        reminder: Some(_), ..
                    } => "drift reminder",
                    Event::DriftResolved { .. } => "resolved",
                    Event::Failed {
                        reminder: false, ..
                    } => "failed",
                    Event::Failed { reminder: true, .. } => "failed reminder",
                    Event::Stuck {
                        reminder: false, ..
                    } => "stuck",
                    Event::Stuck { reminder: true, .. } => "stuck reminder",
                    Event::Recovered { .. } => "recovered",
                })
                .collect()
            })
            .collect()
    }

    #[test]
    fn held_drift_is_one_message_then_a_reminder_then_resolved() {
        let held = || drifted(Outcome::Held, State::Differs);
        let alerts = run(
            DriftPolicy::AlertOnly,
            vec![
                (0, held()),
                (1, held()),
                (30, held()),
                (59, held()),
                (61, held()),
                (62, held()),
                (70, converged()),
                (71, converged()),
            ],
        );
        let expected: Vec<Vec<&str>> = vec![
            vec!["drift"],
            vec![],
            vec![],
            vec![],
            vec!["drift reminder"],
            vec![],
            vec!["resolved"],
            vec![],
        ];
        assert_eq!(alerts, expected);
    }

    #[test]
    fn corrected_drift_that_returns_is_still_one_drift() {
        let corrected = || drifted(Outcome::Corrected, State::Converged);
        let alerts = run(
            DriftPolicy::Correct,
            vec![
                (0, corrected()),
                (1, converged()),
                (2, corrected()),
                (3, converged()),
                (65, corrected()),
                (66, converged()),
                (200, converged()),
                (201, corrected()),
            ],
        );
        let expected: Vec<Vec<&str>> = vec![
            vec!["drift"],
            vec![],
            vec![],
            vec![],
            vec!["drift reminder"],
            vec![],
            vec![],
            vec!["drift"],
        ];
        assert_eq!(alerts, expected, "forgotten after an hour converged");
    }

    #[test]
    fn drift_of_other_fields_is_a_new_drift() {
        let mut track = Track::default();
        let first = drifted(Outcome::Held, State::Differs);
        let mut second = first.clone();
        second.drift.as_mut().unwrap().changes[0].fields[0].path = "egress".to_owned();
        let policy = DriftPolicy::AlertOnly;
        let one = observe(
            &SETTINGS,
            &mut track,
            "security-groups",
            policy,
            first,
            at(0),
        );
        let two = observe(
            &SETTINGS,
            &mut track,
            "security-groups",
            policy,
            second,
            at(1),
        );
        assert_eq!(one.len(), 1);
        assert_eq!(two.len(), 1);
        assert!(matches!(two[0].event, Event::Drift { reminder: None, .. }));
    }

    #[test]
    fn ignored_drift_sends_nothing() {
        let alerts = run(
            DriftPolicy::Ignore,
            vec![
                (0, drifted(Outcome::Held, State::Differs)),
                (1, converged()),
            ],
        );
        assert_eq!(alerts, vec![Vec::<&str>::new(), vec![]]);
    }

    #[test]
    fn held_drift_put_back_later_is_resolved() {
        let alerts = run(
            DriftPolicy::Correct,
            vec![
                (
                    0,
                    drifted(
                        Outcome::NotCorrected("throttled".to_owned()),
                        State::Failed("throttled".to_owned()),
                    ),
                ),
                (1, drifted(Outcome::Corrected, State::Converged)),
            ],
        );
        assert_eq!(alerts, vec![vec!["drift"], vec!["resolved"]]);
    }

    #[test]
    fn failure_alerts_after_three_passes_in_a_row() {
        let alerts = run(
            DriftPolicy::Correct,
            vec![
                (0, failed()),
                (1, failed()),
                (2, converged()),
                (3, failed()),
                (4, failed()),
                (5, failed()),
                (6, failed()),
                (70, failed()),
                (71, converged()),
            ],
        );
        let expected: Vec<Vec<&str>> = vec![
            vec![],
            vec![],
            vec![],
            vec![],
            vec![],
            vec!["failed"],
            vec![],
            vec!["failed reminder"],
            vec!["recovered"],
        ];
        assert_eq!(alerts, expected);
    }

    #[test]
    fn stuck_progressing_alerts_after_the_bound() {
        let alerts = run(
            DriftPolicy::Correct,
            vec![
                (0, progressing()),
                (29, progressing()),
                (31, progressing()),
                (40, progressing()),
                (41, converged()),
            ],
        );
        let expected: Vec<Vec<&str>> =
            vec![vec![], vec![], vec!["stuck"], vec![], vec!["recovered"]];
        assert_eq!(alerts, expected);
    }

    #[test]
    fn failed_since_is_the_first_failed_pass() {
        let mut track = Track::default();
        let policy = DriftPolicy::Correct;
        for minute in 0..3 {
            let alerts = observe(&SETTINGS, &mut track, "iam", policy, failed(), at(minute));
            if minute == 2 {
                assert!(matches!(
                    alerts[0].event,
                    Event::Failed { since, passes: 3, .. } if since == at(0)
                ));
            }
        }
    }
}
