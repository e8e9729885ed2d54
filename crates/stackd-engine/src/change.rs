//! Planned changes: what differs between the file and AWS, field by field.

use serde::Serialize;
use serde_json::Value;

/// Shown in place of a value that AWS assigns when a dependency is created, such as
/// the id of a VPC that does not exist yet.
pub const UNKNOWN_UNTIL_APPLIED: &str = "(known after apply)";

/// Kind of change made to one resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    Create,
    Update,
    /// The resource must be deleted and created again, because a field that AWS
    /// cannot change in place differs.
    Replace,
    Delete,
}

impl ChangeKind {
    /// Returns the sign that prefixes the change in a human-readable plan.
    pub fn sign(self) -> &'static str {
        match self {
            ChangeKind::Create => "+",
            ChangeKind::Update => "~",
            ChangeKind::Replace => "-/+",
            ChangeKind::Delete => "-",
        }
    }
}

/// One field whose live value differs from the desired one.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldDiff {
    /// Dotted path of the field inside the resource, such as `tags.Name` or `ingress`.
    pub path: String,
    /// Live value; `null` when the field or the resource is absent.
    pub live: Value,
    /// Desired value; `null` when the field is to be removed.
    pub desired: Value,
}

/// A change to one resource, with every field that differs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    /// The resource inside the component, such as `subnet/private-a`.
    pub resource: String,
    pub kind: ChangeKind,
    pub fields: Vec<FieldDiff>,
}

impl Change {
    /// Creates a change with no fields yet.
    pub fn new(kind: ChangeKind, resource: impl Into<String>) -> Self {
        Change {
            resource: resource.into(),
            kind,
            fields: Vec::new(),
        }
    }

    /// Adds a field to the change.
    pub fn field(
        mut self,
        path: impl Into<String>,
        live: impl Into<Value>,
        desired: impl Into<Value>,
    ) -> Self {
        self.fields.push(FieldDiff {
            path: path.into(),
            live: live.into(),
            desired: desired.into(),
        });
        self
    }

    /// Adds a field when its live and desired values differ, and returns whether it did.
    pub fn push_if_differs(
        &mut self,
        path: impl Into<String>,
        live: impl Into<Value>,
        desired: impl Into<Value>,
    ) -> bool {
        let (live, desired) = (live.into(), desired.into());
        if live == desired {
            return false;
        }
        self.fields.push(FieldDiff {
            path: path.into(),
            live,
            desired,
        });
        true
    }

    /// Returns whether the change would run a call that deletes a resource.
    pub fn is_destructive(&self) -> bool {
        matches!(self.kind, ChangeKind::Replace | ChangeKind::Delete)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn push_if_differs_skips_equal_values() {
        let mut change = Change::new(ChangeKind::Update, "subnet/a");
        assert!(!change.push_if_differs("cidr", "10.0.0.0/24", "10.0.0.0/24"));
        assert!(change.push_if_differs("tags.Name", Value::Null, "a"));
        assert_eq!(change.fields.len(), 1);
        assert_eq!(change.fields[0].desired, json!("a"));
    }

    #[test]
    fn only_replace_and_delete_are_destructive() {
        assert!(!Change::new(ChangeKind::Create, "x").is_destructive());
        assert!(!Change::new(ChangeKind::Update, "x").is_destructive());
        assert!(Change::new(ChangeKind::Replace, "x").is_destructive());
        assert!(Change::new(ChangeKind::Delete, "x").is_destructive());
    }
}
