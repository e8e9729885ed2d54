//! The Markdown plan, for a pull request comment or a CI step summary.

use crate::plan_document::summarize;
use serde_json::Value;
use stackd_engine::{ChangeKind, PassReport, Status};
use std::fmt::Write;

/// Renders a plan as GitHub-flavoured Markdown: a summary line, a warning for
/// replacements and deletions, a status table, and one collapsed section of
/// field changes per component that has any.
pub fn plan(stack: &str, region: &str, report: &PassReport) -> String {
    let summary = summarize(report);
    let mut out = String::new();
    let _ = writeln!(out, "### stackd plan: `{stack}` in `{region}`\n");
    let _ = writeln!(
        out,
        "**{} to create, {} to update, {} to replace, {} to delete.**",
        summary.create, summary.update, summary.replace, summary.delete
    );
    if summary.unsupported > 0 {
        let _ = writeln!(
            out,
            "Not supported yet and left alone: {}.",
            plural(summary.unsupported, "component")
        );
    }
    if summary.replace + summary.delete > 0 {
        let _ = writeln!(
            out,
            "\n> **Warning:** replacements: {}, deletions: {}. stackd never replaces or deletes without explicit permission.",
            summary.replace, summary.delete
        );
    }

    let _ = writeln!(
        out,
        "\n| component | status | reason |\n| --- | --- | --- |"
    );
    for component in &report.components {
        let _ = writeln!(
            out,
            "| `{}` | {} | {} |",
            component.id,
            component.status,
            cell(&component.reason)
        );
    }

    for component in &report.components {
        if component.changes.is_empty() || component.status == Status::Unsupported {
            continue;
        }
        let _ = writeln!(
            out,
            "\n<details><summary><code>{}</code>: {}</summary>\n",
            component.id,
            cell(&component.reason)
        );
        let _ = writeln!(
            out,
            "| | resource | field | live | desired |\n| --- | --- | --- | --- | --- |"
        );
        for change in &component.changes {
            let sign = match change.kind {
                ChangeKind::Replace => "**-/+**",
                ChangeKind::Delete => "**-**",
                kind => kind.sign(),
            };
            if change.fields.is_empty() {
                continue;
            }
            for field in &change.fields {
                let _ = writeln!(
                    out,
                    "| {sign} | `{}` | `{}` | {} | {} |",
                    change.resource,
                    field.path,
                    value(&field.live),
                    value(&field.desired)
                );
            }
        }
        let _ = writeln!(out, "\n</details>");
    }
    out
}

/// Writes a count with its noun, such as `1 component` or `3 components`.
fn plural(count: usize, noun: &str) -> String {
    if count == 1 {
        format!("1 {noun}")
    } else {
        format!("{count} {noun}s")
    }
}

/// Escapes text for a table cell: a pipe would end the cell and a line break the row.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

/// Shows a value in a cell as code, and an absent one as an empty cell.
fn value(value: &Value) -> String {
    let text = match value {
        Value::Null => return String::new(),
        Value::String(text) => text.clone(),
        other => other.to_string(),
    };
    format!("`{}`", cell(&text).replace('`', "'"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use stackd_engine::{Change, ComponentId, ComponentReport, Mode};
    use std::time::Duration;

    fn component(
        id: ComponentId,
        status: Status,
        reason: &str,
        changes: Vec<Change>,
    ) -> ComponentReport {
        ComponentReport {
            id,
            status,
            reason: reason.to_owned(),
            changes,
            applied: false,
            refused: false,
            held: false,
            transient: false,
        }
    }

    fn report() -> PassReport {
        PassReport {
            mode: Mode::Plan,
            duration: Duration::from_millis(120),
            components: vec![
                component(
                    ComponentId::single("network"),
                    Status::Drifted,
                    "1 to update, 1 to replace",
                    vec![
                        Change::new(ChangeKind::Update, "route-table/private-a").field(
                            "routes[0.0.0.0/0]",
                            Value::Null,
                            "nat-gateway/nat-a",
                        ),
                        Change::new(ChangeKind::Replace, "subnet/private-b").field(
                            "zone",
                            "eu-west-3b",
                            "eu-west-3c",
                        ),
                    ],
                ),
                component(
                    ComponentId::named("bucket", "media"),
                    Status::Ready,
                    "live state matches the file",
                    Vec::new(),
                ),
                component(
                    ComponentId::single("iam"),
                    Status::Unsupported,
                    "not supported yet (role/task | user/uploader)",
                    Vec::new(),
                ),
            ],
        }
    }

    #[test]
    fn markdown_plan_matches_snapshot() {
        let rendered = plan("beezyup-prod-c01", "eu-west-3", &report());
        let expected = include_str!("../tests/snapshots/plan.md");
        assert_eq!(rendered, expected, "rendered:\n{rendered}");
    }

    #[test]
    fn cell_escapes_pipes_and_line_breaks() {
        assert_eq!(cell("a|b\nc"), "a\\|b c");
    }

    #[test]
    fn absent_value_is_an_empty_cell() {
        assert_eq!(value(&Value::Null), "");
        assert_eq!(value(&Value::from("a`b")), "`a'b`");
    }
}
