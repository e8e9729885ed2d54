//! The JSON plan: a stable document for machines, described by docs/plan.schema.json.

use serde::Serialize;
use stackd_engine::{Change, ChangeKind, PassReport, Status};

/// Version of the document's shape. It changes only when a field is removed or
/// changes meaning; new fields may appear in any version.
pub const FORMAT_VERSION: u32 = 1;

/// A plan (or the last pass of a reconcile) as one JSON document.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlanDocument<'a> {
    pub format_version: u32,
    pub stack: &'a str,
    pub region: &'a str,
    /// Whether a component that stackd reconciles has a change planned.
    pub has_changes: bool,
    pub summary: Summary,
    pub components: Vec<ComponentEntry<'a>>,
}

/// Resources to change, counted once per resource and kind of change.
#[derive(Debug, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub create: usize,
    pub update: usize,
    pub replace: usize,
    pub delete: usize,
    /// Components that stackd cannot reconcile yet and left alone.
    pub unsupported: usize,
}

/// One component: its status and the changes planned for it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ComponentEntry<'a> {
    /// The node's name, such as `network` or `bucket/media`.
    pub id: String,
    pub status: Status,
    pub reason: &'a str,
    /// Changes with at least one field; steps without fields belong to a change listed here.
    pub changes: Vec<&'a Change>,
}

impl<'a> PlanDocument<'a> {
    pub fn new(stack: &'a str, region: &'a str, report: &'a PassReport) -> Self {
        let components = report
            .components
            .iter()
            .map(|component| ComponentEntry {
                id: component.id.to_string(),
                status: component.status,
                reason: &component.reason,
                changes: component
                    .changes
                    .iter()
                    .filter(|change| !change.fields.is_empty())
                    .collect(),
            })
            .collect();
        PlanDocument {
            format_version: FORMAT_VERSION,
            stack,
            region,
            has_changes: report.has_changes(),
            summary: summarize(report),
            components,
        }
    }
}

/// Counts each resource once per kind of change, however many steps its change takes.
pub fn summarize(report: &PassReport) -> Summary {
    let mut seen = std::collections::BTreeSet::new();
    let mut summary = Summary::default();
    for component in &report.components {
        if component.status == Status::Unsupported {
            summary.unsupported += 1;
        }
        for change in &component.changes {
            if !seen.insert((change.resource.as_str(), change.kind.sign())) {
                continue;
            }
            match change.kind {
                ChangeKind::Create => summary.create += 1,
                ChangeKind::Update => summary.update += 1,
                ChangeKind::Replace => summary.replace += 1,
                ChangeKind::Delete => summary.delete += 1,
            }
        }
    }
    summary
}
