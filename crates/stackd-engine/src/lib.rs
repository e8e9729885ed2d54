//! The reconcile engine: runs observe, diff and apply over a graph of components.
//!
//! Start with [`Component`], the contract every kind of AWS resource implements,
//! then [`run_pass`], which walks the graph once, and [`converge`], which repeats
//! passes until the stack is converged or a time bound is reached.
//!
//! The engine never names an AWS type. Components own their clients and hand the
//! engine plain data: [`Change`]s for the plan, [`Outputs`] for their dependents,
//! and a [`Status`] for the report.

mod change;
mod component;
mod converge;
mod graph;
mod guard;
mod pass;
mod requeue;
mod status;

pub use change::{Change, ChangeKind, FieldDiff, UNKNOWN_UNTIL_APPLIED};
pub use component::{
    Component, ComponentError, ComponentId, Inputs, Node, Outputs, Planned, Readiness,
};
pub use converge::{ConvergeOptions, ConvergeReport, MAX_STALLED_PAUSE, Outcome, converge};
pub use graph::{Graph, GraphError};
pub use guard::{Destruction, GuardChain, Refusal, WriteGuard};
pub use pass::{ComponentReport, Mode, OBSERVATIONS_PER_APPLY, PassOptions, PassReport, run_pass};
pub use requeue::{Requeue, RequeuePolicy, RequeueReason, jitter, pass_failed};
pub use status::Status;
