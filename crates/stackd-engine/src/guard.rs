//! The checks an apply pass makes before it writes: a guard run once before the
//! first mutating call, and the permission that destructive changes need.

use crate::change::{Change, ChangeKind};
use async_trait::async_trait;
use std::fmt;
use std::sync::{Arc, Mutex};

/// A check that must pass before the first mutating call of a pass, such as
/// "the credentials belong to the account the file names".
///
/// The engine calls it at most once per pass, and only when a component has
/// something to apply: a pass that finds nothing to change makes no call.
#[async_trait]
pub trait WriteGuard: Send + Sync + fmt::Debug {
    /// Returns why writing is not allowed, or `Ok` when it is.
    async fn check(&self) -> Result<(), Refusal>;

    /// Called when a pass whose components asked [`WriteGuard::check`] ends,
    /// whatever the verdict was. A guard that holds something for the pass,
    /// such as a lease, lets it go here.
    async fn pass_finished(&self) {}
}

/// Why a [`WriteGuard`] stopped the writes of a pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub reason: String,
    /// `true` when a later pass may write, because the obstacle is gone or goes
    /// by itself (another run held the lease). `false` when a person must act.
    pub retry: bool,
}

impl Refusal {
    /// Creates a refusal that only a person can lift.
    pub fn stop(reason: impl Into<String>) -> Self {
        Refusal {
            reason: reason.into(),
            retry: false,
        }
    }

    /// Creates a refusal that a later pass may get past.
    pub fn retry(reason: impl Into<String>) -> Self {
        Refusal {
            reason: reason.into(),
            retry: true,
        }
    }
}

/// Guards checked in order; the first refusal wins.
#[derive(Debug, Clone, Default)]
pub struct GuardChain(pub Vec<Arc<dyn WriteGuard>>);

#[async_trait]
impl WriteGuard for GuardChain {
    async fn check(&self) -> Result<(), Refusal> {
        for guard in &self.0 {
            guard.check().await?;
        }
        Ok(())
    }

    async fn pass_finished(&self) {
        for guard in &self.0 {
            guard.pass_finished().await;
        }
    }
}

/// Permission to run changes that destroy a resource: deletions of resources
/// that left the file (pruning) and replacements.
///
/// Clones share one budget, so the passes of one run draw from the same count.
#[derive(Debug, Clone)]
pub struct Destruction {
    prune: bool,
    max: usize,
    remaining: Arc<Mutex<usize>>,
}

impl Default for Destruction {
    /// Allows no deletion and no replacement.
    fn default() -> Self {
        Destruction::new(false, 0)
    }
}

impl Destruction {
    /// Allows up to `max_destructive` deletions plus replacements; deletions
    /// also need `prune`.
    pub fn new(prune: bool, max_destructive: usize) -> Self {
        Destruction {
            prune,
            max: max_destructive,
            remaining: Arc::new(Mutex::new(max_destructive)),
        }
    }

    /// Returns why `change` may not run with these settings, without using the
    /// budget. Plans use it to show what an apply would withhold.
    pub fn obstacle(&self, change: &Change) -> Option<String> {
        match change.kind {
            ChangeKind::Create | ChangeKind::Update => None,
            ChangeKind::Delete if !self.prune => Some(format!(
                "deleting {} needs pruning (--prune) and --max-destructive",
                change.resource
            )),
            ChangeKind::Delete | ChangeKind::Replace if self.max == 0 => Some(format!(
                "{} {} needs --max-destructive",
                verb(change.kind),
                change.resource
            )),
            ChangeKind::Delete | ChangeKind::Replace => None,
        }
    }

    /// Takes one unit of the budget for `change` when it is destructive, or
    /// returns why it may not run.
    pub(crate) fn permit(&self, change: &Change) -> Result<(), String> {
        if let Some(obstacle) = self.obstacle(change) {
            return Err(obstacle);
        }
        if !matches!(change.kind, ChangeKind::Delete | ChangeKind::Replace) {
            return Ok(());
        }
        let mut remaining = self
            .remaining
            .lock()
            .expect("no holder of the budget lock panics");
        if *remaining == 0 {
            return Err(format!(
                "{} {} would exceed --max-destructive {}",
                verb(change.kind),
                change.resource,
                self.max
            ));
        }
        *remaining -= 1;
        Ok(())
    }
}

fn verb(kind: ChangeKind) -> &'static str {
    match kind {
        ChangeKind::Replace => "replacing",
        _ => "deleting",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delete(resource: &str) -> Change {
        Change::new(ChangeKind::Delete, resource)
    }

    #[test]
    fn updates_need_no_permission() {
        let destruction = Destruction::default();
        let update = Change::new(ChangeKind::Update, "vpc");
        assert_eq!(destruction.permit(&update), Ok(()));
    }

    #[test]
    fn deletion_without_prune_is_withheld() {
        let destruction = Destruction::new(false, 5);
        let error = destruction.permit(&delete("subnet/a")).unwrap_err();
        assert!(error.contains("--prune"), "{error}");
    }

    #[test]
    fn deletion_without_budget_is_withheld() {
        let destruction = Destruction::new(true, 0);
        let error = destruction.permit(&delete("subnet/a")).unwrap_err();
        assert!(error.contains("--max-destructive"), "{error}");
    }

    #[test]
    fn replacement_needs_budget_only() {
        let destruction = Destruction::new(false, 1);
        let replace = Change::new(ChangeKind::Replace, "vpc");
        assert_eq!(destruction.permit(&replace), Ok(()));
    }

    #[test]
    fn budget_is_shared_by_clones() {
        let destruction = Destruction::new(true, 1);
        let clone = destruction.clone();
        assert_eq!(destruction.permit(&delete("subnet/a")), Ok(()));
        let error = clone.permit(&delete("subnet/b")).unwrap_err();
        assert!(error.contains("exceed --max-destructive 1"), "{error}");
    }
}
