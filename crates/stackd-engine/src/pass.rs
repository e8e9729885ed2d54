//! One pass over the graph: observe everything at once, then diff and apply in
//! dependency order.

use crate::change::Change;
use crate::component::{
    ComponentError, ComponentId, ErasedComponent, Inputs, NodeKind, Outputs, Readiness,
};
use crate::graph::Graph;
use crate::status::Status;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tracing::Instrument;

/// Whether a pass only plans or also applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Plan,
    Apply,
}

/// Settings of one pass.
#[derive(Debug, Clone)]
pub struct PassOptions {
    pub mode: Mode,
    /// Maximum number of components observing or applying at the same time.
    pub concurrency: usize,
}

/// The outcome of one component in a pass.
#[derive(Debug, Clone, Serialize)]
pub struct ComponentReport {
    pub id: ComponentId,
    pub status: Status,
    pub reason: String,
    /// Changes found by the diff of this pass; in an apply pass, the ones applied.
    pub changes: Vec<Change>,
    /// Whether this pass made mutating calls for the component.
    pub applied: bool,
    /// Whether a guard stopped the component (a resource owned by someone else,
    /// a replacement not allowed): retrying changes nothing until a person acts.
    pub refused: bool,
}

/// The outcome of one pass, component by component in dependency order.
#[derive(Debug, Clone, Serialize)]
pub struct PassReport {
    pub mode: Mode,
    pub components: Vec<ComponentReport>,
    #[serde(serialize_with = "serialize_seconds")]
    pub duration: Duration,
}

fn serialize_seconds<S: serde::Serializer>(
    value: &Duration,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_f64(value.as_secs_f64())
}

impl PassReport {
    /// Returns whether any component that stackd reconciles has a change planned.
    pub fn has_changes(&self) -> bool {
        self.components
            .iter()
            .any(|report| report.status != Status::Unsupported && !report.changes.is_empty())
    }

    /// Returns whether every component is converged.
    pub fn is_converged(&self) -> bool {
        self.components
            .iter()
            .all(|report| report.status.is_converged())
    }

    /// Returns the report of one component.
    pub fn component(&self, id: &ComponentId) -> Option<&ComponentReport> {
        self.components.iter().find(|report| &report.id == id)
    }
}

/// What a component publishes to its dependents when its part of the pass ends.
#[derive(Debug, Clone)]
struct Settled {
    status: Status,
    outputs: Outputs,
}

/// Runs one pass over the graph.
///
/// Every component starts observing at once (bounded by `concurrency`), because
/// observation finds resources by their tags and needs no input. Diff and apply
/// then wait for the component's dependencies to settle. In an apply pass, a
/// component whose dependency is not Ready or Synced is Blocked and changes nothing.
pub async fn run_pass(graph: &Graph, options: &PassOptions) -> PassReport {
    let started = Instant::now();
    let permits = Arc::new(Semaphore::new(options.concurrency.max(1)));

    let mut channels: BTreeMap<ComponentId, watch::Receiver<Option<Settled>>> = BTreeMap::new();
    let mut senders = Vec::new();
    for node in graph.nodes() {
        let (sender, receiver) = watch::channel(None);
        channels.insert(node.id(), receiver);
        senders.push(sender);
    }

    let mut tasks = JoinSet::new();
    for (index, (node, sender)) in graph.nodes().iter().zip(senders).enumerate() {
        let id = node.id();
        let dependencies: Vec<(ComponentId, watch::Receiver<Option<Settled>>)> = node
            .needs()
            .into_iter()
            .map(|need| {
                let receiver = channels[&need].clone();
                (need, receiver)
            })
            .collect();
        let span = tracing::info_span!("component", kind = %id.kind, id = %id);
        let task = match &node.0 {
            NodeKind::Supported(component) => {
                let run = ComponentRun {
                    component: Arc::clone(component),
                    mode: options.mode,
                    permits: Arc::clone(&permits),
                };
                tokio::spawn(async move { run.run(dependencies, sender).await }.instrument(span))
            }
            NodeKind::Unsupported { resources, .. } => {
                let report = unsupported_report(id, resources);
                tokio::spawn(async move {
                    let _ = sender.send(Some(Settled {
                        status: Status::Unsupported,
                        outputs: Outputs::new(),
                    }));
                    report
                })
            }
        };
        tasks.spawn(async move { (index, task.await) });
    }

    let mut reports: Vec<Option<ComponentReport>> = vec![None; graph.nodes().len()];
    while let Some(joined) = tasks.join_next().await {
        let (index, outcome) = joined.expect("pass tasks do not panic and are never cancelled");
        let report = outcome.unwrap_or_else(|panic| ComponentReport {
            id: graph.nodes()[index].id(),
            status: Status::Error,
            reason: format!("the component's task panicked: {panic}"),
            changes: Vec::new(),
            applied: false,
            refused: false,
        });
        reports[index] = Some(report);
    }

    PassReport {
        mode: options.mode,
        components: reports.into_iter().flatten().collect(),
        duration: started.elapsed(),
    }
}

fn unsupported_report(id: ComponentId, resources: &[String]) -> ComponentReport {
    let reason = if resources.is_empty() {
        "not supported yet".to_owned()
    } else {
        format!("not supported yet ({})", resources.join(", "))
    };
    ComponentReport {
        id,
        status: Status::Unsupported,
        reason,
        changes: Vec::new(),
        applied: false,
        refused: false,
    }
}

/// One component's share of a pass.
struct ComponentRun {
    component: Arc<dyn ErasedComponent>,
    mode: Mode,
    permits: Arc<Semaphore>,
}

impl ComponentRun {
    /// Observes again and returns whether the diff moved away from `changes`,
    /// which means the apply changed AWS. A failed observation counts as a change,
    /// so that the next pass looks again.
    async fn changed_since(&self, changes: &[Change], inputs: &Inputs) -> bool {
        let observed = {
            let _permit = self
                .permits
                .acquire()
                .await
                .expect("the semaphore is never closed");
            self.component.observe().await
        };
        match observed {
            Ok(live) => self.component.diff(&live, inputs).0 != changes,
            Err(_) => true,
        }
    }

    async fn run(
        self,
        dependencies: Vec<(ComponentId, watch::Receiver<Option<Settled>>)>,
        sender: watch::Sender<Option<Settled>>,
    ) -> ComponentReport {
        let (report, outputs) = self.reconcile(dependencies).await;
        if report.status == Status::Error {
            tracing::error!(reason = %report.reason, "component failed");
        }
        let _ = sender.send(Some(Settled {
            status: report.status,
            outputs,
        }));
        report
    }

    async fn reconcile(
        &self,
        dependencies: Vec<(ComponentId, watch::Receiver<Option<Settled>>)>,
    ) -> (ComponentReport, Outputs) {
        let id = self.component.id();

        // 1. Observe without waiting for anyone: resources are found by their tags.
        let observed = {
            let _permit = self
                .permits
                .acquire()
                .await
                .expect("the semaphore is never closed");
            self.component.observe().await
        };

        // 2. Wait for the dependencies and collect their outputs.
        let mut outputs_by_dependency = BTreeMap::new();
        let mut unsettled = Vec::new();
        for (dependency, mut receiver) in dependencies {
            let settled = receiver
                .wait_for(Option::is_some)
                .await
                .map(|value| value.clone().expect("wait_for returned a settled value"))
                .unwrap_or(Settled {
                    status: Status::Error,
                    outputs: Outputs::new(),
                });
            if !settled.status.lets_dependents_proceed() {
                unsettled.push(format!("{dependency} is {}", settled.status));
            }
            outputs_by_dependency.insert(dependency, settled.outputs);
        }
        let inputs = Inputs::new(outputs_by_dependency);

        let live = match observed {
            Ok(live) => live,
            Err(error) => return (error_report(id, &error), Outputs::new()),
        };

        // 3. Diff, a pure function of live state and inputs.
        let (changes, actions) = self.component.diff(&live, &inputs);
        let outputs = self.component.outputs(&live);
        if changes.is_empty() {
            let (status, reason) = match self.component.readiness(&live) {
                Readiness::Ready => (Status::Ready, "live state matches the file".to_owned()),
                Readiness::Progressing(reason) => (Status::Progressing, reason),
            };
            return (report(id, status, reason, changes, false), outputs);
        }
        if self.mode == Mode::Plan {
            let reason = summarize(&changes);
            return (report(id, Status::Drifted, reason, changes, false), outputs);
        }
        if !unsettled.is_empty() {
            let reason = format!("waiting: {}", unsettled.join(", "));
            return (report(id, Status::Blocked, reason, changes, false), outputs);
        }

        // 4. Apply, then observe again: the second observation is the truth.
        let applied = {
            let _permit = self
                .permits
                .acquire()
                .await
                .expect("the semaphore is never closed");
            self.component.apply(&live, actions, &inputs).await
        };
        if let Err(error) = applied {
            let mut failed = error_report(id, &error);
            // A guard may refuse after the other actions ran, or before any did:
            // only a new observation tells whether AWS changed.
            failed.applied = match &error {
                ComponentError::Blocked(_) => self.changed_since(&changes, &inputs).await,
                _ => true,
            };
            failed.changes = changes;
            return (failed, outputs);
        }
        let observed_again = {
            let _permit = self
                .permits
                .acquire()
                .await
                .expect("the semaphore is never closed");
            self.component.observe().await
        };
        let live = match observed_again {
            Ok(live) => live,
            Err(error) => {
                let mut failed = error_report(id, &error);
                failed.changes = changes;
                failed.applied = true;
                return (failed, outputs);
            }
        };
        let outputs = self.component.outputs(&live);
        let (remaining, _) = self.component.diff(&live, &inputs);
        let (status, reason) = if !remaining.is_empty() {
            (
                Status::Progressing,
                format!(
                    "applied {}; still differs: {}",
                    summarize(&changes),
                    summarize(&remaining)
                ),
            )
        } else {
            match self.component.readiness(&live) {
                Readiness::Ready => (Status::Synced, format!("applied {}", summarize(&changes))),
                Readiness::Progressing(reason) => (Status::Progressing, reason),
            }
        };
        (report(id, status, reason, changes, true), outputs)
    }
}

fn report(
    id: ComponentId,
    status: Status,
    reason: String,
    changes: Vec<Change>,
    applied: bool,
) -> ComponentReport {
    ComponentReport {
        id,
        status,
        reason,
        changes,
        applied,
        refused: false,
    }
}

fn error_report(id: ComponentId, error: &crate::component::ComponentError) -> ComponentReport {
    let refused = matches!(error, crate::component::ComponentError::Blocked(_));
    let status = if refused {
        Status::Blocked
    } else {
        Status::Error
    };
    let mut report = report(id, status, error.chain(), Vec::new(), false);
    report.refused = refused;
    report
}

/// Counts the resources changed, by kind of change, such as `2 to create, 1 to update`.
fn summarize(changes: &[Change]) -> String {
    use crate::change::ChangeKind;
    let count = |kind: ChangeKind| {
        changes
            .iter()
            .filter(|change| change.kind == kind)
            .map(|change| change.resource.as_str())
            .collect::<std::collections::BTreeSet<_>>()
            .len()
    };
    let parts: Vec<String> = [
        (ChangeKind::Create, "to create"),
        (ChangeKind::Update, "to update"),
        (ChangeKind::Replace, "to replace"),
        (ChangeKind::Delete, "to delete"),
    ]
    .into_iter()
    .filter_map(|(kind, label)| {
        let n = count(kind);
        (n > 0).then(|| format!("{n} {label}"))
    })
    .collect();
    parts.join(", ")
}
