//! The component contract: observe, diff, apply and outputs.

use crate::change::Change;
use async_trait::async_trait;
use serde::Serialize;
use std::any::Any;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

/// Name of a node in the graph: a kind and, for kinds with several nodes, a logical id.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct ComponentId {
    pub kind: String,
    pub name: Option<String>,
}

impl ComponentId {
    /// Names the only node of a kind, such as `network`.
    pub fn single(kind: &str) -> Self {
        ComponentId {
            kind: kind.to_owned(),
            name: None,
        }
    }

    /// Names one node of a kind, such as `bucket/media`.
    pub fn named(kind: &str, name: &str) -> Self {
        ComponentId {
            kind: kind.to_owned(),
            name: Some(name.to_owned()),
        }
    }
}

impl fmt::Display for ComponentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(name) => write!(f, "{}/{}", self.kind, name),
            None => f.write_str(&self.kind),
        }
    }
}

/// Ids and ARNs that a component hands to its dependents, keyed by a dotted name
/// such as `subnet.private-a.id`.
pub type Outputs = BTreeMap<String, String>;

/// The outputs of every dependency a component declared, as of this pass.
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    outputs: BTreeMap<ComponentId, Outputs>,
}

impl Inputs {
    /// Creates inputs from the outputs of each dependency.
    pub fn new(outputs: BTreeMap<ComponentId, Outputs>) -> Self {
        Inputs { outputs }
    }

    /// Returns an output of a dependency, or `None` when it does not exist yet
    /// (in a plan, before the dependency is created).
    pub fn get(&self, from: &ComponentId, key: &str) -> Option<&str> {
        self.outputs.get(from)?.get(key).map(String::as_str)
    }
}

/// Whether the live resources of a component can be used by dependents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readiness {
    Ready,
    /// AWS is still working, on what the reason names.
    Progressing(String),
}

/// One planned change and the typed action that carries it out.
#[derive(Debug, Clone, PartialEq)]
pub struct Planned<A> {
    pub change: Change,
    pub action: A,
}

/// Failure to observe or apply a component.
#[derive(Debug, thiserror::Error)]
pub enum ComponentError {
    /// A guard stopped the component, for example because a resource of the same
    /// name belongs to someone else. Retrying does not help until a person acts.
    #[error("{0}")]
    Blocked(String),
    /// An AWS call failed; `operation` names it and the resource it was for.
    #[error("{operation} failed")]
    Call {
        operation: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
        /// Whether a later try may succeed unchanged: throttling, a server
        /// error, a timeout or a lost connection, after the SDK's own retries.
        transient: bool,
    },
    /// AWS returned something the component cannot use.
    #[error("unexpected response: {0}")]
    Unexpected(String),
}

impl ComponentError {
    /// Wraps the error of an AWS call with the operation and resource it was for.
    pub fn call(
        operation: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Self::failed_call(operation.into(), source.into(), false)
    }

    /// Wraps the error of an AWS call that a later try may not meet again, such
    /// as throttling or a lost connection.
    pub fn transient_call(
        operation: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Self::failed_call(operation.into(), source.into(), true)
    }

    fn failed_call(
        operation: String,
        source: Box<dyn std::error::Error + Send + Sync>,
        transient: bool,
    ) -> Self {
        ComponentError::Call {
            operation,
            source,
            transient,
        }
    }

    /// Returns whether a later try may succeed without a change: see
    /// [`ComponentError::transient_call`].
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            ComponentError::Call {
                transient: true,
                ..
            }
        )
    }

    /// Formats the error with its whole chain of causes, for one log line or report.
    pub fn chain(&self) -> String {
        let mut text = self.to_string();
        let mut source = std::error::Error::source(self);
        while let Some(cause) = source {
            text.push_str(": ");
            text.push_str(&cause.to_string());
            source = cause.source();
        }
        text
    }
}

/// The contract of one node in the graph.
///
/// `observe` reads live state and changes nothing. `diff` is a pure function of the
/// live state and the dependencies' outputs. `apply` makes the calls that carry out
/// the planned actions and must be idempotent: the engine may run it again on the
/// same plan after a lost response, and it observes again after every apply.
/// Components never sleep or retry on their own: the SDK retries transient faults
/// and the engine requeues.
#[async_trait]
pub trait Component: Send + Sync + 'static {
    /// Live state as observed.
    type Live: Send + Sync + 'static;
    /// One step of an apply, as planned by `diff`.
    type Action: Send + Sync + 'static;

    fn id(&self) -> ComponentId;

    /// Components whose outputs this one reads.
    fn needs(&self) -> Vec<ComponentId>;

    async fn observe(&self) -> Result<Self::Live, ComponentError>;

    fn diff(&self, live: &Self::Live, inputs: &Inputs) -> Vec<Planned<Self::Action>>;

    async fn apply(
        &self,
        live: &Self::Live,
        actions: Vec<Self::Action>,
        inputs: &Inputs,
    ) -> Result<(), ComponentError>;

    fn outputs(&self, live: &Self::Live) -> Outputs;

    fn readiness(&self, live: &Self::Live) -> Readiness;
}

type LiveBox = Box<dyn Any + Send + Sync>;

/// The object-safe form of [`Component`] that the engine stores in its graph.
#[async_trait]
pub(crate) trait ErasedComponent: Send + Sync {
    fn id(&self) -> ComponentId;
    fn needs(&self) -> Vec<ComponentId>;
    async fn observe(&self) -> Result<LiveBox, ComponentError>;
    fn diff(&self, live: &LiveBox, inputs: &Inputs) -> (Vec<Change>, Box<dyn Any + Send>);
    /// Keeps the actions whose index is `true` in `keep`, in their order.
    fn select(&self, actions: Box<dyn Any + Send>, keep: &[bool]) -> Box<dyn Any + Send>;
    async fn apply(
        &self,
        live: &LiveBox,
        actions: Box<dyn Any + Send>,
        inputs: &Inputs,
    ) -> Result<(), ComponentError>;
    fn outputs(&self, live: &LiveBox) -> Outputs;
    fn readiness(&self, live: &LiveBox) -> Readiness;
}

fn downcast<T: 'static>(live: &LiveBox) -> &T {
    live.downcast_ref::<T>()
        .expect("the engine passes each component its own live state")
}

#[async_trait]
impl<C: Component> ErasedComponent for C {
    fn id(&self) -> ComponentId {
        Component::id(self)
    }

    fn needs(&self) -> Vec<ComponentId> {
        Component::needs(self)
    }

    async fn observe(&self) -> Result<LiveBox, ComponentError> {
        let live = Component::observe(self).await?;
        Ok(Box::new(live))
    }

    fn diff(&self, live: &LiveBox, inputs: &Inputs) -> (Vec<Change>, Box<dyn Any + Send>) {
        let planned = Component::diff(self, downcast::<C::Live>(live), inputs);
        let (changes, actions): (Vec<Change>, Vec<C::Action>) = planned
            .into_iter()
            .map(|step| (step.change, step.action))
            .unzip();
        (changes, Box::new(actions))
    }

    fn select(&self, actions: Box<dyn Any + Send>, keep: &[bool]) -> Box<dyn Any + Send> {
        let actions = *actions
            .downcast::<Vec<C::Action>>()
            .expect("the engine passes each component its own actions");
        let kept: Vec<C::Action> = actions
            .into_iter()
            .zip(keep)
            .filter_map(|(action, keep)| keep.then_some(action))
            .collect();
        Box::new(kept)
    }

    async fn apply(
        &self,
        live: &LiveBox,
        actions: Box<dyn Any + Send>,
        inputs: &Inputs,
    ) -> Result<(), ComponentError> {
        let actions = *actions
            .downcast::<Vec<C::Action>>()
            .expect("the engine passes each component its own actions");
        Component::apply(self, downcast::<C::Live>(live), actions, inputs).await
    }

    fn outputs(&self, live: &LiveBox) -> Outputs {
        Component::outputs(self, downcast::<C::Live>(live))
    }

    fn readiness(&self, live: &LiveBox) -> Readiness {
        Component::readiness(self, downcast::<C::Live>(live))
    }
}

/// A node of the graph: a component stackd reconciles, or one it lists but cannot
/// reconcile yet.
#[derive(Clone)]
pub struct Node(pub(crate) NodeKind);

#[derive(Clone)]
pub(crate) enum NodeKind {
    Supported(Arc<dyn ErasedComponent>),
    Unsupported {
        id: ComponentId,
        needs: Vec<ComponentId>,
        resources: Vec<String>,
    },
}

impl Node {
    /// Wraps a component for the engine.
    pub fn component<C: Component>(component: C) -> Self {
        Node(NodeKind::Supported(Arc::new(component)))
    }

    /// Lists a component of the file that stackd cannot reconcile yet. The plan
    /// shows it with its resources, so that nothing is skipped silently.
    pub fn unsupported(id: ComponentId, needs: Vec<ComponentId>, resources: Vec<String>) -> Self {
        Node(NodeKind::Unsupported {
            id,
            needs,
            resources,
        })
    }

    pub fn id(&self) -> ComponentId {
        match &self.0 {
            NodeKind::Supported(component) => component.id(),
            NodeKind::Unsupported { id, .. } => id.clone(),
        }
    }

    pub fn needs(&self) -> Vec<ComponentId> {
        match &self.0 {
            NodeKind::Supported(component) => component.needs(),
            NodeKind::Unsupported { needs, .. } => needs.clone(),
        }
    }

    /// Returns whether stackd reconciles this node, as opposed to only listing it.
    pub fn is_supported(&self) -> bool {
        matches!(self.0, NodeKind::Supported(_))
    }
}

impl fmt::Debug for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match &self.0 {
            NodeKind::Supported(_) => "supported",
            NodeKind::Unsupported { .. } => "unsupported",
        };
        f.debug_struct("Node")
            .field("id", &self.id())
            .field("kind", &kind)
            .finish()
    }
}
