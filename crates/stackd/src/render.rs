//! Human-readable plans and reconcile reports.

use serde_json::Value;
use stackd_engine::{
    Change, ChangeKind, ComponentReport, ConvergeReport, Outcome, PassReport, Status,
};
use stackd_spec::model::Stack;
use std::fmt::Write;

/// Renders a plan: each component with its status, and each change field by field.
pub fn plan(stack: &Stack, report: &PassReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Plan for stack {} in {}\n", stack.name, stack.region);
    let width = name_width(report);
    for component in &report.components {
        write_component(&mut out, component, width);
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "{}",
        totals(
            report
                .components
                .iter()
                .flat_map(|component| &component.changes)
        )
    );
    let unsupported = count(report, Status::Unsupported);
    if unsupported > 0 {
        let _ = writeln!(
            out,
            "{unsupported} components are not supported yet: stackd lists them and leaves them alone."
        );
    }
    out
}

/// Renders the outcome of `reconcile --once`: what each pass changed, then the
/// final status of every component.
pub fn reconcile(stack: &Stack, report: &ConvergeReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Reconcile of stack {} in {}\n",
        stack.name, stack.region
    );
    // Changes count as applied only where the component came out of its pass
    // in a good state; a failed or refused apply may have made no call at all.
    let succeeded = |component: &&ComponentReport| {
        component.applied
            && matches!(
                component.status,
                Status::Synced | Status::Progressing | Status::Ready
            )
    };
    let applied: Vec<&Change> = report
        .passes
        .iter()
        .flat_map(|pass| &pass.components)
        .filter(succeeded)
        .flat_map(|component| &component.changes)
        .collect();
    let any_change = report
        .passes
        .iter()
        .flat_map(|pass| &pass.components)
        .any(|component| component.status != Status::Unsupported && !component.changes.is_empty());
    for (number, pass) in report.passes.iter().enumerate() {
        let changed: Vec<&ComponentReport> = pass
            .components
            .iter()
            .filter(|component| component.applied || component.refused || component.held)
            .collect();
        if changed.is_empty() {
            continue;
        }
        let _ = writeln!(
            out,
            "Pass {} ({:.1}s) applied:",
            number + 1,
            pass.duration.as_secs_f64()
        );
        let width = name_width(pass);
        for component in changed {
            write_component(&mut out, component, width);
        }
        let _ = writeln!(out);
    }
    if !any_change && report.outcome == Outcome::Converged {
        let _ = writeln!(out, "No changes: AWS already matched the file.\n");
    }

    let last = report.last();
    let passes = match report.passes.len() {
        1 => "1 pass".to_owned(),
        count => format!("{count} passes"),
    };
    let _ = writeln!(out, "Status after {passes}:");
    let width = name_width(last);
    for component in &last.components {
        let _ = writeln!(
            out,
            "  {:width$}  {:12} {}",
            component.id.to_string(),
            component.status.to_string(),
            component.reason
        );
    }
    let _ = writeln!(out);
    let applied_summary = totals(applied.iter().copied());
    let verdict = match report.outcome {
        Outcome::Converged => "Converged",
        Outcome::Failed => "Failed: a component kept failing (see its reason above)",
        Outcome::Refused => {
            "Refused: a guard stopped a component and a person must act (see above)"
        }
        Outcome::TimedOut => {
            "Not converged within --wait: AWS is still working; run again to continue"
        }
    };
    let _ = writeln!(
        out,
        "{verdict}. Applied: {}",
        applied_summary.trim_start_matches("Plan: ")
    );
    out
}

fn name_width(report: &PassReport) -> usize {
    report
        .components
        .iter()
        .map(|component| component.id.to_string().len())
        .max()
        .unwrap_or(0)
}

fn count(report: &PassReport, status: Status) -> usize {
    report
        .components
        .iter()
        .filter(|component| component.status == status)
        .count()
}

fn write_component(out: &mut String, component: &ComponentReport, width: usize) {
    let _ = writeln!(
        out,
        "  {:width$}  {:12} {}",
        component.id.to_string(),
        component.status.to_string(),
        component.reason
    );
    if component.status == Status::Unsupported {
        return;
    }
    // Consecutive changes to the same resource read as one block.
    let mut previous: Option<(&str, ChangeKind)> = None;
    // Steps without fields (the rules of a group being created, say) are part of
    // a change already shown.
    for change in component
        .changes
        .iter()
        .filter(|change| !change.fields.is_empty())
    {
        let key = (change.resource.as_str(), change.kind);
        if previous != Some(key) {
            let warning = match change.kind {
                ChangeKind::Replace => "   <-- REPLACE: deleted, then created again",
                ChangeKind::Delete => "   <-- DELETE",
                _ => "",
            };
            let _ = writeln!(
                out,
                "    {} {}{warning}",
                change.kind.sign(),
                change.resource
            );
            previous = Some(key);
        }
        for field in &change.fields {
            if change.kind == ChangeKind::Create {
                let _ = writeln!(out, "        {}: {}", field.path, show(&field.desired));
            } else {
                let _ = writeln!(
                    out,
                    "        {}: {} -> {}",
                    field.path,
                    show(&field.live),
                    show(&field.desired)
                );
            }
        }
    }
}

/// Shows a value compactly: strings without quotes, absent values as `(none)`.
fn show(value: &Value) -> String {
    match value {
        Value::Null => "(none)".to_owned(),
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// Counts resources by kind of change, such as `Plan: 3 to create, 1 to update, 0 to replace, 0 to delete.`
fn totals<'a>(changes: impl Iterator<Item = &'a Change>) -> String {
    let mut seen = std::collections::BTreeSet::new();
    let mut counts = [0usize; 4];
    for change in changes {
        // A resource counts once per kind, however many steps its change takes.
        if !seen.insert((change.resource.clone(), change.kind as u8)) {
            continue;
        }
        let index = match change.kind {
            ChangeKind::Create => 0,
            ChangeKind::Update => 1,
            ChangeKind::Replace => 2,
            ChangeKind::Delete => 3,
        };
        counts[index] += 1;
    }
    format!(
        "Plan: {} to create, {} to update, {} to replace, {} to delete.",
        counts[0], counts[1], counts[2], counts[3]
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn show_prints_strings_bare_and_null_as_none() {
        assert_eq!(show(&json!("10.0.0.0/16")), "10.0.0.0/16");
        assert_eq!(show(&Value::Null), "(none)");
        assert_eq!(show(&json!(["a", "b"])), r#"["a","b"]"#);
    }

    #[test]
    fn totals_count_each_resource_once_per_kind() {
        let changes = [
            Change::new(ChangeKind::Create, "vpc"),
            Change::new(ChangeKind::Update, "route-table/a"),
            Change::new(ChangeKind::Update, "route-table/a"),
            Change::new(ChangeKind::Replace, "subnet/a"),
        ];
        assert_eq!(
            totals(changes.iter()),
            "Plan: 1 to create, 1 to update, 1 to replace, 0 to delete."
        );
    }
}
