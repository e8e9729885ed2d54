//! Whether components may delete the tagged resources that left the file.

/// Permission to delete a tagged resource that the file no longer names.
///
/// TODO: the engine decides this for every component once its prune flag and
/// destructive-change budget exist; until then `build_graph` refuses everywhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Pruning {
    /// Deletions are planned and shown, and apply refuses them (Blocked).
    #[default]
    Refuse,
    /// Deletions are planned and carried out.
    Allow,
}

impl Pruning {
    /// Returns the reason that apply gives when it refuses the deletions.
    pub fn refusal(resources: &[String]) -> String {
        format!(
            "{} left the file; stackd deletes a resource only when pruning is allowed",
            resources.join(", ")
        )
    }
}
