//! `stackd status`: fetches a running daemon's /status and prints it as a table.

use super::http;
use super::state::StatusDocument;
use super::time::parse_rfc3339;
use crate::cli::{StatusArgs, StatusFormat};
use crate::commands::{EXIT_ERROR, EXIT_OK};
use anyhow::Context;
use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

/// Time allowed for the whole request to the daemon.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Prints the daemon's status and returns the exit code: 0 when every
/// component is converged, 1 otherwise or when the daemon cannot be reached.
pub async fn print_status(args: &StatusArgs) -> anyhow::Result<u8> {
    let (code, body) = http::get(args.address, "/status", REQUEST_TIMEOUT).await?;
    anyhow::ensure!(
        code == 200,
        "GET http://{}/status returned {code}: {}",
        args.address,
        body.trim()
    );
    let document: StatusDocument = serde_json::from_str(&body)
        .with_context(|| format!("the /status document of {} is not valid", args.address))?;
    match args.output {
        StatusFormat::Human => print!("{}", table(&document, SystemTime::now())),
        StatusFormat::Json => println!("{body}"),
    }
    let converged = document.ready
        && document.components.iter().all(|component| {
            matches!(
                component.status.as_str(),
                "Ready" | "Synced" | "Unsupported"
            )
        });
    Ok(if converged { EXIT_OK } else { EXIT_ERROR })
}

/// Formats the document as kubectl get does: a header line, then one
/// aligned row per component with the age of its status.
fn table(document: &StatusDocument, now: SystemTime) -> String {
    let mut text = String::new();
    let last_pass = match (&document.last_pass_time, &document.last_pass_outcome) {
        (Some(time), Some(outcome)) => format!("last pass {} ago, {outcome}", age(time, now)),
        _ => "no pass yet".to_owned(),
    };
    let _ = writeln!(text, "STACK {}  ({last_pass})", document.stack);
    if let Some(error) = &document.last_reload_error {
        let first_line = error.lines().next().unwrap_or_default();
        let _ = writeln!(text, "RELOAD REJECTED: {first_line}");
    }

    let rows: Vec<[String; 4]> = document
        .components
        .iter()
        .map(|component| {
            [
                component.id.clone(),
                component.status.clone(),
                age(&component.last_transition_time, now),
                component.reason.clone(),
            ]
        })
        .collect();
    let header = ["COMPONENT", "STATUS", "AGE", "REASON"].map(str::to_owned);
    let mut widths = header.clone().map(|cell| cell.len());
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    for row in std::iter::once(&header).chain(&rows) {
        let line = format!(
            "{:<w0$}   {:<w1$}   {:<w2$}   {}",
            row[0],
            row[1],
            row[2],
            row[3],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2]
        );
        let _ = writeln!(text, "{}", line.trim_end());
    }
    text
}

/// Formats the time since an RFC 3339 timestamp as kubectl does: 45s, 12m, 3h, 2d.
fn age(timestamp: &str, now: SystemTime) -> String {
    let Some(time) = parse_rfc3339(timestamp) else {
        return "?".to_owned();
    };
    let seconds = now.duration_since(time).unwrap_or_default().as_secs();
    match seconds {
        0..120 => format!("{seconds}s"),
        120..7200 => format!("{}m", seconds / 60),
        7200..172_800 => format!("{}h", seconds / 3600),
        _ => format!("{}d", seconds / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon::state::ComponentStatus;
    use std::time::UNIX_EPOCH;

    #[test]
    fn table_aligns_columns() {
        let now = UNIX_EPOCH + Duration::from_secs(1_796_428_800);
        let document = StatusDocument {
            stack: "beezyup-prod-c01".to_owned(),
            file: "stack.yaml".to_owned(),
            ready: true,
            last_pass_time: Some("2026-12-04T23:59:30Z".to_owned()),
            last_pass_duration_seconds: Some(1.5),
            last_pass_outcome: Some("progressing".to_owned()),
            last_reload_error: None,
            components: vec![
                ComponentStatus {
                    id: "network".to_owned(),
                    status: "Ready".to_owned(),
                    reason: "live state matches the file".to_owned(),
                    last_transition_time: "2026-12-04T21:00:00Z".to_owned(),
                },
                ComponentStatus {
                    id: "bucket/media".to_owned(),
                    status: "Progressing".to_owned(),
                    reason: "creating".to_owned(),
                    last_transition_time: "2026-12-04T23:55:00Z".to_owned(),
                },
            ],
        };
        assert_eq!(
            table(&document, now),
            "STACK beezyup-prod-c01  (last pass 30s ago, progressing)\n\
             COMPONENT      STATUS        AGE   REASON\n\
             network        Ready         3h    live state matches the file\n\
             bucket/media   Progressing   5m    creating\n"
        );
    }

    #[test]
    fn age_uses_kubectl_units() {
        let now = UNIX_EPOCH + Duration::from_secs(1_796_428_800);
        assert_eq!(age("2026-12-04T23:59:15Z", now), "45s");
        assert_eq!(age("2026-12-03T00:00:00Z", now), "2d");
        assert_eq!(age("yesterday", now), "?");
    }
}
