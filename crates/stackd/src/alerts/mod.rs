//! Drift and failure alerts to a Slack incoming webhook.
//!
//! After each pass, [`Alerter::observe`] runs every component's report through
//! [`classify`] (drift or pending change), then through the [`tracker`] (is it worth a
//! message), renders the messages ([`message`]) and queues them on the [`sender`],
//! whose own task posts them. Before each apply pass, [`Alerter::holds`] names the
//! components whose drift policy forbids putting a drift back.
//!
//! Drift is distinguished from a pending change by fingerprints of each component's
//! desired state ([`fingerprint`]), recorded when the component converges
//! ([`record`]).

pub mod classify;
pub mod clock;
pub mod console;
pub mod fingerprint;
pub mod message;
pub mod record;
pub mod redact;
pub mod sender;
pub mod start;
pub mod tracker;
pub mod webhook;

use clock::Clock;
use record::{Record, RecordStore};
use sender::{Outgoing, Sender};
use stackd_engine::{ComponentId, Graph, Mode, PassReport};
use stackd_spec::model::{DriftPolicies, DriftPolicy, Stack};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The alert state of one stack, kept across passes.
#[derive(Debug)]
pub struct Alerter {
    settings: tracker::Settings,
    policies: DriftPolicies,
    context: message::Context,
    /// Fingerprint of each component's desired state in the current file.
    desired: BTreeMap<ComponentId, String>,
    store: Box<dyn RecordStore>,
    record: Record,
    clock: Arc<dyn Clock>,
    /// `None` when no webhook is set: drift policies still apply, and nothing is sent.
    sender: Option<Sender>,
}

impl Alerter {
    /// Loads the record of the stack from `store`.
    pub async fn new(
        stack: &Stack,
        graph: &Graph,
        store: Box<dyn RecordStore>,
        clock: Arc<dyn Clock>,
        sender: Option<Sender>,
    ) -> anyhow::Result<Self> {
        let record = store.load(&stack.name).await?;
        Ok(Alerter {
            settings: tracker::Settings::new(&stack.alerts),
            policies: stack.drift.clone(),
            context: context(stack),
            desired: fingerprint::desired(stack, graph),
            store,
            record,
            clock,
            sender,
        })
    }

    /// Takes the settings and fingerprints of a new file. The record stays: a
    /// component whose desired state changed now has a pending change, not a drift.
    pub fn reload(&mut self, stack: &Stack, graph: &Graph) {
        self.settings = tracker::Settings::new(&stack.alerts);
        self.policies = stack.drift.clone();
        self.context = context(stack);
        self.desired = fingerprint::desired(stack, graph);
    }

    /// Names the components that an apply pass must not change: those whose policy is
    /// `alertOnly` or `ignore` and whose desired state did not change since they last
    /// converged. A change to the file is always applied.
    pub fn holds(&self) -> BTreeMap<ComponentId, String> {
        let mut holds = BTreeMap::new();
        for (id, desired) in &self.desired {
            let name = id.to_string();
            let policy = self.policies.of(&name);
            if policy == DriftPolicy::Correct {
                continue;
            }
            if self.record.converged.get(&name) == Some(desired) {
                holds.insert(id.clone(), format!("drift policy {}", policy.as_str()));
            }
        }
        holds
    }

    /// Updates the record with one pass, queues the messages it is worth, and
    /// returns how many it queued.
    pub async fn observe(&mut self, report: &PassReport, mode: Mode) -> usize {
        let now = self.clock.now();
        let mut alerts = Vec::new();
        for component in &report.components {
            let name = component.id.to_string();
            let Some(desired) = self.desired.get(&component.id) else {
                continue;
            };
            let converged = self.record.converged.get(&name).map(String::as_str);
            let observation = classify::classify(component, mode, desired, converged);
            if observation.state == classify::State::Converged {
                self.record.converged.insert(name.clone(), desired.clone());
            }
            let policy = self.policies.of(&name);
            let track = self.record.tracks.entry(name.clone()).or_default();
            alerts.extend(tracker::observe(
                &self.settings,
                track,
                &name,
                policy,
                observation,
                now,
            ));
            if track.is_empty() {
                self.record.tracks.remove(&name);
            }
        }
        if let Err(error) = self.store.save(&self.record).await {
            tracing::error!("failed to save the alert state: {error:#}");
        }

        let mut queued = 0;
        for alert in &alerts {
            let label = label(alert);
            tracing::info!(alert = label, "alert");
            let Some(sender) = &self.sender else {
                continue;
            };
            let body = message::render(&self.context, alert).to_string();
            if sender.enqueue(Outgoing { label, body }) {
                queued += 1;
            }
        }
        queued
    }
}

/// Builds the message context of a stack.
pub fn context(stack: &Stack) -> message::Context {
    message::Context {
        stack: stack.name.clone(),
        language: stack.alerts.language,
        console: console::Console::new(stack),
    }
}

/// Names an alert for the logs, without any value that a message shows.
fn label(alert: &tracker::Alert) -> String {
    let component = &alert.component;
    match &alert.event {
        tracker::Event::Drift {
            fingerprint,
            reminder: None,
            ..
        } => format!("drift {component} {fingerprint}"),
        tracker::Event::Drift {
            fingerprint,
            reminder: Some(_),
            ..
        } => format!("drift reminder {component} {fingerprint}"),
        tracker::Event::DriftResolved { fingerprint, .. } => {
            format!("drift resolved {component} {fingerprint}")
        }
        tracker::Event::Failed { reminder, .. } => {
            format!(
                "failed{} {component}",
                if *reminder { " reminder" } else { "" }
            )
        }
        tracker::Event::Stuck { reminder, .. } => {
            format!(
                "stuck{} {component}",
                if *reminder { " reminder" } else { "" }
            )
        }
        tracker::Event::Recovered { .. } => format!("recovered {component}"),
    }
}
