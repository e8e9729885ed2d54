//! One pass over the graph: observe everything at once, then diff and apply in
//! dependency order.

use crate::change::Change;
use crate::component::{
    ComponentError, ComponentId, ErasedComponent, Inputs, NodeKind, Outputs, Readiness,
};
use crate::graph::Graph;
use crate::guard::{Destruction, Refusal, WriteGuard};
use crate::status::Status;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{OnceCell, Semaphore, watch};
use tokio::task::JoinSet;
use tracing::Instrument;

/// Whether a pass only plans or also applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Plan,
    Apply,
}

/// Components observing at the same time for each one that may apply. Reads are
/// cheap for AWS, and a pass that finds nothing to change is all reads, so its
/// time is the number of observation rounds.
pub const OBSERVATIONS_PER_APPLY: usize = 4;

/// Settings of one pass.
#[derive(Debug, Clone)]
pub struct PassOptions {
    pub mode: Mode,
    /// Maximum number of components applying at the same time. Up to
    /// [`OBSERVATIONS_PER_APPLY`] times as many observe at the same time.
    pub concurrency: usize,
    /// Components that an apply pass plans but does not apply, each with the reason
    /// its report gives, such as a drift policy that only alerts. A held component
    /// that differs ends Drifted and refused, and its dependents go on with the
    /// outputs of its live state.
    pub hold: BTreeMap<ComponentId, String>,
    /// Permission for deletions and replacements; none by default.
    pub destruction: Destruction,
    /// Check made once before the first mutating call of the pass.
    pub write_guard: Option<Arc<dyn WriteGuard>>,
}

impl PassOptions {
    /// Creates settings that hold no component, allow no destructive change and
    /// check nothing before writing.
    pub fn new(mode: Mode, concurrency: usize) -> Self {
        PassOptions {
            mode,
            concurrency,
            destruction: Destruction::default(),
            write_guard: None,
            hold: BTreeMap::new(),
        }
    }
}

/// Checks that every component of a pass makes before applying: the write
/// guard, whose verdict is shared, and the destruction budget.
#[derive(Debug)]
struct Gate {
    destruction: Destruction,
    write_guard: Option<Arc<dyn WriteGuard>>,
    verdict: OnceCell<Result<(), Refusal>>,
}

impl Gate {
    /// Runs the write guard on the first call and returns its verdict on every call.
    async fn check_writes(&self) -> Result<(), Refusal> {
        let Some(guard) = &self.write_guard else {
            return Ok(());
        };
        self.verdict
            .get_or_init(|| async { guard.check().await })
            .await
            .clone()
    }

    /// Tells the write guard that the pass ended, when a component asked it.
    async fn finish(&self) {
        if let (Some(guard), Some(_)) = (&self.write_guard, self.verdict.get()) {
            guard.pass_finished().await;
        }
    }
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
    /// Whether the caller held the component's drift from apply, as a drift
    /// policy of `alertOnly` or `ignore` does. Held drift stays by choice, so the
    /// component counts as converged.
    pub held: bool,
    /// Whether the component's error may not happen again on a later try:
    /// throttling, a server error, a timeout or a lost connection.
    pub transient: bool,
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

    /// Returns whether every component is converged or keeps its drift by choice.
    pub fn is_converged(&self) -> bool {
        self.components
            .iter()
            .all(|report| report.status.is_converged() || report.held)
    }

    /// Returns the report of one component.
    pub fn component(&self, id: &ComponentId) -> Option<&ComponentReport> {
        self.components.iter().find(|report| &report.id == id)
    }
}

/// Status and outputs that a component publishes to its dependents when its part of the pass ends.
#[derive(Debug, Clone)]
struct Settled {
    status: Status,
    outputs: Outputs,
    /// Held by the caller: Drifted on purpose, so dependents may proceed.
    held: bool,
}

/// Runs one pass over the graph.
///
/// Every component starts observing at once (bounded by `concurrency` times
/// [`OBSERVATIONS_PER_APPLY`]), because
/// observation finds resources by their tags and needs no input. Diff and apply
/// then wait for the component's dependencies to settle. In an apply pass, a
/// component whose dependency is not Ready or Synced is Blocked and changes nothing.
pub async fn run_pass(graph: &Graph, options: &PassOptions) -> PassReport {
    let started = Instant::now();
    let concurrency = options.concurrency.max(1);
    let permits = Permits {
        observe: Arc::new(Semaphore::new(
            concurrency.saturating_mul(OBSERVATIONS_PER_APPLY),
        )),
        apply: Arc::new(Semaphore::new(concurrency)),
    };
    let gate = Arc::new(Gate {
        destruction: options.destruction.clone(),
        write_guard: options.write_guard.clone(),
        verdict: OnceCell::new(),
    });

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
                    permits: permits.clone(),
                    hold: options.hold.get(&id).cloned(),
                    gate: Arc::clone(&gate),
                };
                tokio::spawn(async move { run.run(dependencies, sender).await }.instrument(span))
            }
            NodeKind::Unsupported { resources, .. } => {
                let report = unsupported_report(id, resources);
                tokio::spawn(async move {
                    let _ = sender.send(Some(Settled {
                        status: Status::Unsupported,
                        outputs: Outputs::new(),
                        held: false,
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
            held: false,
            transient: false,
        });
        reports[index] = Some(report);
    }
    gate.finish().await;

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
        held: false,
        transient: false,
    }
}

/// The bounds on components observing and applying at the same time, shared by
/// the components of a pass.
#[derive(Debug, Clone)]
struct Permits {
    observe: Arc<Semaphore>,
    apply: Arc<Semaphore>,
}

/// One component's share of a pass.
struct ComponentRun {
    component: Arc<dyn ErasedComponent>,
    mode: Mode,
    permits: Permits,
    /// Why the caller holds this component from apply, if it does.
    hold: Option<String>,
    gate: Arc<Gate>,
}

impl ComponentRun {
    /// Observes again and returns whether the diff moved away from `changes`,
    /// which means the apply changed AWS. A failed observation counts as a change,
    /// so that the next pass looks again.
    async fn changed_since(&self, changes: &[Change], inputs: &Inputs) -> bool {
        let observed = {
            let _permit = self
                .permits
                .observe
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
            tracing::error!(component = %report.id, reason = %report.reason, "component failed");
        }
        let held = self.hold.is_some() && report.status == Status::Drifted;
        let _ = sender.send(Some(Settled {
            status: report.status,
            outputs,
            held,
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
                .observe
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
                    held: false,
                });
            if !settled.status.lets_dependents_proceed() && !settled.held {
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
            let mut reason = summarize(&changes);
            let obstacles: Vec<String> = changes
                .iter()
                .filter_map(|change| self.gate.destruction.obstacle(change))
                .collect();
            if !obstacles.is_empty() {
                reason = format!("{reason}; an apply would refuse: {}", obstacles.join("; "));
            }
            return (report(id, Status::Drifted, reason, changes, false), outputs);
        }
        if let Some(why) = &self.hold {
            let reason = format!("{why}: not applied ({})", summarize(&changes));
            let mut held = report(id, Status::Drifted, reason, changes, false);
            held.held = true;
            return (held, outputs);
        }
        if !unsettled.is_empty() {
            let reason = format!("waiting: {}", unsettled.join(", "));
            return (report(id, Status::Blocked, reason, changes, false), outputs);
        }

        // 4. Check the write guard and the destruction budget. A refused change
        // is withheld, and the others still run. A component whose every change
        // needs a permission that this run lacks does not wake the guard.
        let obstacles: Vec<String> = changes
            .iter()
            .filter_map(|change| self.gate.destruction.obstacle(change))
            .collect();
        if obstacles.len() == changes.len() {
            let reason = format!("refused: {}", obstacles.join("; "));
            return (refused_report(id, reason, changes, false), outputs);
        }
        if let Err(refusal) = self.gate.check_writes().await {
            if refusal.retry {
                let reason = format!("waiting: {}", refusal.reason);
                return (report(id, Status::Blocked, reason, changes, false), outputs);
            }
            return (refused_report(id, refusal.reason, changes, false), outputs);
        }
        let verdicts: Vec<Result<(), String>> = changes
            .iter()
            .map(|change| self.gate.destruction.permit(change))
            .collect();
        let withheld: Vec<String> = verdicts
            .iter()
            .filter_map(|verdict| verdict.clone().err())
            .collect();
        if withheld.len() == changes.len() {
            let reason = format!("refused: {}", withheld.join("; "));
            return (refused_report(id, reason, changes, false), outputs);
        }
        let keep: Vec<bool> = verdicts.iter().map(Result::is_ok).collect();
        let actions = self.component.select(actions, &keep);

        // 5. Apply, then observe again: the second observation is the truth.
        let applied = {
            let _permit = self
                .permits
                .apply
                .acquire()
                .await
                .expect("the semaphore is never closed");
            self.component.apply(&live, actions, &inputs).await
        };
        if let Err(error) = applied {
            let mut failed = error_report(id, &error);
            // A guard may refuse after the other actions ran, or before any did:
            // only a new observation shows whether AWS changed.
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
                .observe
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
        if !withheld.is_empty() {
            let reason = format!(
                "applied {}; refused: {}",
                summarize_kept(&changes, &keep),
                withheld.join("; ")
            );
            return (refused_report(id, reason, changes, true), outputs);
        }
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
        held: false,
        transient: false,
    }
}

/// Reports a component that a guard stopped: retrying changes nothing until a person acts.
fn refused_report(
    id: ComponentId,
    reason: String,
    changes: Vec<Change>,
    applied: bool,
) -> ComponentReport {
    let mut report = report(id, Status::Blocked, reason, changes, applied);
    report.refused = true;
    report
}

/// Summarizes the changes whose index is `true` in `keep`.
fn summarize_kept(changes: &[Change], keep: &[bool]) -> String {
    let kept: Vec<Change> = changes
        .iter()
        .zip(keep)
        .filter(|(_, keep)| **keep)
        .map(|(change, _)| change.clone())
        .collect();
    summarize(&kept)
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
    report.transient = error.is_transient();
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

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::change::ChangeKind;
    use crate::component::{Component, ComponentError, Node, Planned};
    use async_trait::async_trait;
    use std::sync::Mutex;
    use tokio::sync::Barrier;

    /// Failure mode of a fake component's call.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub(crate) enum Failure {
        /// A guard stops the component.
        Blocked,
        /// The AWS call itself fails.
        Call,
        /// The AWS call is throttled beyond the SDK's retries.
        Throttled,
    }

    impl Failure {
        fn error(self, operation: &str) -> ComponentError {
            match self {
                Failure::Blocked => ComponentError::Blocked(format!("{operation} is not allowed")),
                Failure::Call => {
                    ComponentError::call(operation, std::io::Error::other("access denied"))
                }
                Failure::Throttled => {
                    ComponentError::transient_call(operation, std::io::Error::other("throttled"))
                }
            }
        }
    }

    /// State that a fake component keeps in place of AWS, with counts of the engine's calls.
    #[derive(Debug, Default)]
    pub(crate) struct FakeState {
        /// Live value. The file wants [`Fake::DESIRED`].
        pub(crate) value: u32,
        pub(crate) observes: usize,
        pub(crate) applies: usize,
        /// Observations that still report the resource as Progressing.
        pub(crate) settling: usize,
        /// Value of `settling` after each successful apply. `usize::MAX` never settles.
        pub(crate) settle_after_apply: usize,
        pub(crate) observe_failure: Option<Failure>,
        /// Numbers (from 1) of the observations that fail with a call error.
        pub(crate) failing_observes: Vec<usize>,
        pub(crate) apply_failure: Option<Failure>,
        /// A resource that left the file: while the value differs, the diff also
        /// plans its deletion, with the action [`Fake::DELETE`].
        pub(crate) orphan: bool,
        /// Every action applied, in order.
        pub(crate) applied_actions: Vec<u32>,
    }

    #[derive(Debug)]
    pub(crate) struct FakeLive {
        value: u32,
        progressing: bool,
    }

    /// An in-memory component with one value to reconcile.
    #[derive(Debug, Clone)]
    pub(crate) struct Fake {
        name: &'static str,
        needs: Vec<&'static str>,
        state: Arc<Mutex<FakeState>>,
        /// A barrier that every observation waits on, so that it completes only
        /// when the other components sharing it observe at the same time.
        meeting: Option<Arc<Barrier>>,
    }

    impl Fake {
        pub(crate) const DESIRED: u32 = 1;
        /// The action that deletes the orphan resource.
        pub(crate) const DELETE: u32 = 99;

        /// Creates a fake whose live value already matches the file.
        pub(crate) fn converged(name: &'static str) -> Self {
            Fake {
                name,
                needs: Vec::new(),
                state: Arc::new(Mutex::new(FakeState {
                    value: Self::DESIRED,
                    ..FakeState::default()
                })),
                meeting: None,
            }
        }

        /// Creates a fake whose live value differs from the file.
        pub(crate) fn drifted(name: &'static str) -> Self {
            let fake = Self::converged(name);
            fake.state.lock().unwrap().value = 0;
            fake
        }

        pub(crate) fn needing(mut self, dependency: &'static str) -> Self {
            self.needs.push(dependency);
            self
        }

        pub(crate) fn meeting(mut self, barrier: Arc<Barrier>) -> Self {
            self.meeting = Some(barrier);
            self
        }

        /// Changes the fake's state before it joins a graph.
        pub(crate) fn with(self, edit: impl FnOnce(&mut FakeState)) -> Self {
            edit(&mut self.state.lock().unwrap());
            self
        }

        pub(crate) fn observes(&self) -> usize {
            self.state.lock().unwrap().observes
        }

        pub(crate) fn applies(&self) -> usize {
            self.state.lock().unwrap().applies
        }

        pub(crate) fn applied_actions(&self) -> Vec<u32> {
            self.state.lock().unwrap().applied_actions.clone()
        }

        pub(crate) fn node(&self) -> Node {
            Node::component(self.clone())
        }
    }

    #[async_trait]
    impl Component for Fake {
        type Live = FakeLive;
        type Action = u32;

        fn id(&self) -> ComponentId {
            ComponentId::single(self.name)
        }

        fn needs(&self) -> Vec<ComponentId> {
            self.needs
                .iter()
                .map(|dependency| ComponentId::single(dependency))
                .collect()
        }

        async fn observe(&self) -> Result<FakeLive, ComponentError> {
            if let Some(meeting) = &self.meeting {
                // The timeout only keeps a failing test from hanging.
                let met = tokio::time::timeout(Duration::from_secs(10), meeting.wait()).await;
                if met.is_err() {
                    return Err(ComponentError::Unexpected(format!(
                        "{} observed while no other component did",
                        self.name
                    )));
                }
            }
            let mut state = self.state.lock().unwrap();
            state.observes += 1;
            if let Some(failure) = state.observe_failure {
                return Err(failure.error("Describe"));
            }
            if state.failing_observes.contains(&state.observes) {
                return Err(Failure::Call.error("Describe"));
            }
            let progressing = state.settling > 0;
            state.settling = state.settling.saturating_sub(1);
            Ok(FakeLive {
                value: state.value,
                progressing,
            })
        }

        fn diff(&self, live: &FakeLive, _inputs: &Inputs) -> Vec<Planned<u32>> {
            if live.value == Self::DESIRED {
                return Vec::new();
            }
            let change =
                Change::new(ChangeKind::Update, "value").field("value", live.value, Self::DESIRED);
            let mut planned = vec![Planned {
                change,
                action: Self::DESIRED,
            }];
            if self.state.lock().unwrap().orphan {
                planned.push(Planned {
                    change: Change::new(ChangeKind::Delete, "orphan"),
                    action: Self::DELETE,
                });
            }
            planned
        }

        async fn apply(
            &self,
            _live: &FakeLive,
            actions: Vec<u32>,
            _inputs: &Inputs,
        ) -> Result<(), ComponentError> {
            let mut state = self.state.lock().unwrap();
            state.applies += 1;
            if let Some(failure) = state.apply_failure {
                return Err(failure.error("Modify"));
            }
            state.applied_actions.extend(&actions);
            if actions.contains(&Self::DELETE) {
                state.orphan = false;
            }
            if let Some(value) = actions.iter().find(|action| **action != Self::DELETE) {
                state.value = *value;
            }
            state.settling = state.settle_after_apply;
            Ok(())
        }

        fn outputs(&self, live: &FakeLive) -> Outputs {
            Outputs::from([(format!("{}.value", self.name), live.value.to_string())])
        }

        fn readiness(&self, live: &FakeLive) -> Readiness {
            if live.progressing {
                Readiness::Progressing(format!("{} is settling", self.name))
            } else {
                Readiness::Ready
            }
        }
    }

    pub(crate) fn graph(nodes: Vec<Node>) -> Graph {
        Graph::new(nodes).expect("the test graph is valid")
    }

    async fn pass(mode: Mode, fakes: &[&Fake]) -> PassReport {
        let graph = graph(fakes.iter().map(|fake| fake.node()).collect());
        let options = PassOptions::new(mode, 4);
        run_pass(&graph, &options).await
    }

    async fn pass_holding(fakes: &[&Fake], held: &str) -> PassReport {
        let graph = graph(fakes.iter().map(|fake| fake.node()).collect());
        let mut options = PassOptions::new(Mode::Apply, 4);
        options.hold = BTreeMap::from([(
            ComponentId::single(held),
            "drift policy alertOnly".to_owned(),
        )]);
        run_pass(&graph, &options).await
    }

    fn report_of<'a>(report: &'a PassReport, name: &str) -> &'a ComponentReport {
        report
            .component(&ComponentId::single(name))
            .expect("the component is in the report")
    }

    #[tokio::test]
    async fn converged_component_is_ready() {
        let fake = Fake::converged("network");
        let report = pass(Mode::Apply, &[&fake]).await;
        let network = report_of(&report, "network");
        assert_eq!(network.status, Status::Ready);
        assert_eq!(network.reason, "live state matches the file");
    }

    #[tokio::test]
    async fn converged_component_is_never_applied() {
        let fake = Fake::converged("network");
        let report = pass(Mode::Apply, &[&fake]).await;
        assert_eq!(fake.applies(), 0);
        assert!(!report_of(&report, "network").applied);
    }

    #[tokio::test]
    async fn plan_pass_reports_drift() {
        let fake = Fake::drifted("network");
        let report = pass(Mode::Plan, &[&fake]).await;
        let network = report_of(&report, "network");
        assert_eq!(network.status, Status::Drifted);
        assert_eq!(network.reason, "1 to update");
        assert_eq!(network.changes.len(), 1);
        assert!(report.has_changes());
    }

    #[tokio::test]
    async fn plan_pass_applies_nothing() {
        let fake = Fake::drifted("network");
        let report = pass(Mode::Plan, &[&fake]).await;
        assert_eq!(fake.applies(), 0);
        assert!(!report_of(&report, "network").applied);
    }

    #[tokio::test]
    async fn apply_pass_applies_and_observes_again() {
        let fake = Fake::drifted("network");
        let report = pass(Mode::Apply, &[&fake]).await;
        let network = report_of(&report, "network");
        assert_eq!(fake.applies(), 1);
        assert_eq!(fake.observes(), 2);
        assert!(network.applied);
    }

    #[tokio::test]
    async fn apply_pass_reports_synced() {
        let fake = Fake::drifted("network");
        let report = pass(Mode::Apply, &[&fake]).await;
        let network = report_of(&report, "network");
        assert_eq!(network.status, Status::Synced);
        assert_eq!(network.reason, "applied 1 to update");
    }

    #[tokio::test]
    async fn unsettled_apply_reports_progressing() {
        let fake = Fake::drifted("network").with(|state| state.settle_after_apply = 1);
        let report = pass(Mode::Apply, &[&fake]).await;
        let network = report_of(&report, "network");
        assert_eq!(network.status, Status::Progressing);
        assert_eq!(network.reason, "network is settling");
    }

    #[tokio::test]
    async fn dependent_of_failed_component_is_blocked() {
        let network = Fake::converged("network").with(|state| {
            state.observe_failure = Some(Failure::Call);
        });
        let groups = Fake::drifted("groups").needing("network");
        let report = pass(Mode::Apply, &[&network, &groups]).await;
        let blocked = report_of(&report, "groups");
        assert_eq!(blocked.status, Status::Blocked);
        assert_eq!(blocked.reason, "waiting: network is Error");
        assert!(!blocked.refused);
    }

    #[tokio::test]
    async fn dependent_of_failed_component_is_not_applied() {
        let network = Fake::converged("network").with(|state| {
            state.observe_failure = Some(Failure::Call);
        });
        let groups = Fake::drifted("groups").needing("network");
        let report = pass(Mode::Apply, &[&network, &groups]).await;
        assert_eq!(groups.applies(), 0);
        assert!(!report_of(&report, "groups").applied);
    }

    #[tokio::test]
    async fn observe_error_reports_error_with_cause() {
        let fake = Fake::converged("network").with(|state| {
            state.observe_failure = Some(Failure::Call);
        });
        let report = pass(Mode::Apply, &[&fake]).await;
        let network = report_of(&report, "network");
        assert_eq!(network.status, Status::Error);
        assert_eq!(network.reason, "Describe failed: access denied");
        assert!(!network.refused);
        assert!(!network.transient);
    }

    #[tokio::test]
    async fn guard_on_observe_is_blocked_and_refused() {
        let fake = Fake::converged("network").with(|state| {
            state.observe_failure = Some(Failure::Blocked);
        });
        let report = pass(Mode::Apply, &[&fake]).await;
        let network = report_of(&report, "network");
        assert_eq!(network.status, Status::Blocked);
        assert_eq!(network.reason, "Describe is not allowed");
        assert!(network.refused);
    }

    #[tokio::test]
    async fn guard_on_apply_is_blocked_and_refused() {
        let fake = Fake::drifted("network").with(|state| {
            state.apply_failure = Some(Failure::Blocked);
        });
        let report = pass(Mode::Apply, &[&fake]).await;
        let network = report_of(&report, "network");
        assert_eq!(network.status, Status::Blocked);
        assert!(network.refused);
        assert_eq!(network.changes.len(), 1);
    }

    #[tokio::test]
    async fn refusal_without_changes_is_not_applied() {
        let fake = Fake::drifted("network").with(|state| {
            state.apply_failure = Some(Failure::Blocked);
        });
        let report = pass(Mode::Apply, &[&fake]).await;
        assert!(!report_of(&report, "network").applied);
    }

    #[tokio::test]
    async fn independent_components_observe_concurrently() {
        let meeting = Arc::new(Barrier::new(2));
        let network = Fake::converged("network").meeting(Arc::clone(&meeting));
        let buckets = Fake::converged("buckets").meeting(meeting);
        let report = pass(Mode::Plan, &[&network, &buckets]).await;
        assert_eq!(report_of(&report, "network").status, Status::Ready);
        assert_eq!(report_of(&report, "buckets").status, Status::Ready);
    }

    #[tokio::test]
    async fn observations_exceed_apply_concurrency() {
        let meeting = Arc::new(Barrier::new(2));
        let network = Fake::converged("network").meeting(Arc::clone(&meeting));
        let buckets = Fake::converged("buckets").meeting(meeting);
        let graph = graph(vec![network.node(), buckets.node()]);

        // One apply at a time still lets both observe at once, or the
        // meeting would never complete.
        let report = run_pass(&graph, &PassOptions::new(Mode::Plan, 1)).await;

        assert_eq!(report_of(&report, "network").status, Status::Ready);
        assert_eq!(report_of(&report, "buckets").status, Status::Ready);
    }

    #[tokio::test]
    async fn held_component_is_planned_not_applied() {
        let fake = Fake::drifted("network");
        let report = pass_holding(&[&fake], "network").await;
        let network = report_of(&report, "network");
        assert_eq!(fake.applies(), 0);
        assert_eq!(network.status, Status::Drifted);
        assert_eq!(
            network.reason,
            "drift policy alertOnly: not applied (1 to update)"
        );
        assert_eq!(network.changes.len(), 1);
        assert!(!network.applied);
        assert!(network.held);
        assert!(!network.refused, "held drift is a choice, not a refusal");
    }

    #[tokio::test]
    async fn held_component_without_changes_is_ready() {
        let fake = Fake::converged("network");
        let report = pass_holding(&[&fake], "network").await;
        assert_eq!(report_of(&report, "network").status, Status::Ready);
    }

    #[tokio::test]
    async fn dependent_of_held_component_is_applied() {
        let network = Fake::drifted("network");
        let groups = Fake::drifted("groups").needing("network");
        let report = pass_holding(&[&network, &groups], "network").await;
        assert_eq!(network.applies(), 0);
        assert_eq!(groups.applies(), 1);
        assert_eq!(report_of(&report, "groups").status, Status::Synced);
    }

    #[tokio::test]
    async fn unsupported_node_lists_its_resources() {
        let unsupported = Node::unsupported(
            ComponentId::single("iam"),
            Vec::new(),
            vec!["role/app".to_owned(), "user/ci".to_owned()],
        );
        let report = run_pass(&graph(vec![unsupported]), &PassOptions::new(Mode::Plan, 4)).await;
        let iam = report_of(&report, "iam");
        assert_eq!(iam.status, Status::Unsupported);
        assert_eq!(iam.reason, "not supported yet (role/app, user/ci)");
    }

    #[tokio::test]
    async fn unsupported_node_is_not_a_change() {
        let fake = Fake::converged("network");
        let unsupported = Node::unsupported(
            ComponentId::single("iam"),
            Vec::new(),
            vec!["role/app".to_owned()],
        );
        let report = run_pass(
            &graph(vec![fake.node(), unsupported]),
            &PassOptions::new(Mode::Plan, 4),
        )
        .await;
        assert!(!report.has_changes());
        assert!(report.is_converged());
    }

    /// A write guard that counts its checks and the ends of passes, and returns
    /// a fixed verdict.
    #[derive(Debug)]
    struct CountingGuard {
        verdict: Result<(), Refusal>,
        checks: Mutex<usize>,
        finished: Mutex<usize>,
    }

    #[async_trait]
    impl WriteGuard for CountingGuard {
        async fn check(&self) -> Result<(), Refusal> {
            *self.checks.lock().unwrap() += 1;
            self.verdict.clone()
        }

        async fn pass_finished(&self) {
            *self.finished.lock().unwrap() += 1;
        }
    }

    fn counting_guard(verdict: Result<(), Refusal>) -> Arc<CountingGuard> {
        Arc::new(CountingGuard {
            verdict,
            checks: Mutex::new(0),
            finished: Mutex::new(0),
        })
    }

    async fn apply_with(options: PassOptions, fakes: &[&Fake]) -> PassReport {
        let graph = graph(fakes.iter().map(|fake| fake.node()).collect());
        run_pass(&graph, &options).await
    }

    #[tokio::test]
    async fn deletion_is_withheld_by_default() {
        let fake = Fake::drifted("network").with(|state| state.orphan = true);
        let report = pass(Mode::Apply, &[&fake]).await;
        let network = report_of(&report, "network");
        assert_eq!(fake.applied_actions(), vec![Fake::DESIRED]);
        assert_eq!(network.status, Status::Blocked);
        assert!(network.refused);
        assert!(network.applied);
        assert!(network.reason.contains("--prune"), "{}", network.reason);
    }

    #[tokio::test]
    async fn deletion_runs_with_prune_and_budget() {
        let fake = Fake::drifted("network").with(|state| state.orphan = true);
        let options = PassOptions {
            destruction: Destruction::new(true, 1),
            ..PassOptions::new(Mode::Apply, 4)
        };
        let report = apply_with(options, &[&fake]).await;
        assert_eq!(fake.applied_actions(), vec![Fake::DESIRED, Fake::DELETE]);
        assert_eq!(report_of(&report, "network").status, Status::Synced);
    }

    #[tokio::test]
    async fn plan_names_what_apply_would_refuse() {
        let fake = Fake::drifted("network").with(|state| state.orphan = true);
        let report = pass(Mode::Plan, &[&fake]).await;
        let network = report_of(&report, "network");
        assert_eq!(network.status, Status::Drifted);
        assert!(
            network
                .reason
                .contains("an apply would refuse: deleting orphan"),
            "{}",
            network.reason
        );
    }

    #[tokio::test]
    async fn failed_write_guard_blocks_every_write() {
        let first = Fake::drifted("network");
        let second = Fake::drifted("buckets");
        let guard = counting_guard(Err(Refusal::stop(
            "account 111111111111 is not 222222222222",
        )));
        let options = PassOptions {
            write_guard: Some(guard.clone()),
            ..PassOptions::new(Mode::Apply, 4)
        };
        let report = apply_with(options, &[&first, &second]).await;
        assert_eq!(first.applies() + second.applies(), 0);
        let network = report_of(&report, "network");
        assert_eq!(network.status, Status::Blocked);
        assert!(network.refused);
        assert_eq!(network.reason, "account 111111111111 is not 222222222222");
        assert_eq!(*guard.checks.lock().unwrap(), 1);
        assert_eq!(*guard.finished.lock().unwrap(), 1);
    }

    #[tokio::test]
    async fn retryable_refusal_blocks_without_refusing() {
        let fake = Fake::drifted("network");
        let guard = counting_guard(Err(Refusal::retry("the lease is held by ci-runner")));
        let options = PassOptions {
            write_guard: Some(guard.clone()),
            ..PassOptions::new(Mode::Apply, 4)
        };
        let report = apply_with(options, &[&fake]).await;
        assert_eq!(fake.applies(), 0);
        let network = report_of(&report, "network");
        assert_eq!(network.status, Status::Blocked);
        assert!(!network.refused);
        assert_eq!(network.reason, "waiting: the lease is held by ci-runner");
    }

    #[tokio::test]
    async fn write_guard_is_skipped_without_changes() {
        let fake = Fake::converged("network");
        let guard = counting_guard(Ok(()));
        let options = PassOptions {
            write_guard: Some(guard.clone()),
            ..PassOptions::new(Mode::Apply, 4)
        };
        apply_with(options, &[&fake]).await;
        assert_eq!(*guard.checks.lock().unwrap(), 0);
    }
}
