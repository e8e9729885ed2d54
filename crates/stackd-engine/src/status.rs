//! The status of a component after a pass, in the Kubernetes manner.

use serde::Serialize;
use std::fmt;

/// State of a component after a pass. Each report pairs it with a reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Status {
    /// Live state matches the file and every resource is usable; nothing was done.
    Ready,
    /// This pass applied changes and live state now matches the file.
    Synced,
    /// Live state differs from the file, in a plan (which changes nothing) or for a
    /// component that the caller held from apply.
    Drifted,
    /// AWS is still working on a resource (creating, pending, deploying).
    Progressing,
    /// The component waits for a dependency, or a guard stopped it.
    Blocked,
    /// An AWS call or a check failed.
    Error,
    /// stackd has no reconciler for this kind of component yet, so it left it alone.
    Unsupported,
}

impl Status {
    /// Returns whether the component needs nothing more from stackd.
    pub fn is_converged(self) -> bool {
        matches!(self, Status::Ready | Status::Synced | Status::Unsupported)
    }

    /// Returns whether dependents may read this component's outputs and go on.
    pub fn lets_dependents_proceed(self) -> bool {
        matches!(self, Status::Ready | Status::Synced)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Status::Ready => "Ready",
            Status::Synced => "Synced",
            Status::Drifted => "Drifted",
            Status::Progressing => "Progressing",
            Status::Blocked => "Blocked",
            Status::Error => "Error",
            Status::Unsupported => "Unsupported",
        };
        f.write_str(name)
    }
}
