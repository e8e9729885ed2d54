//! The daemon's metrics and their Prometheus text exposition (format 0.0.4).
//!
//! Written by hand: six metric families do not need a metrics library.

use stackd_aws::CallKey;
use stackd_engine::Status;
use std::fmt::Write as _;

/// Upper bounds, in seconds, of the pass duration histogram's buckets. As an
/// estimate, a pass that only observes takes seconds, and one that creates a
/// NAT gateway waits for AWS for minutes.
pub const PASS_DURATION_BUCKETS: [f64; 11] = [
    0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
];

/// Every status, in the order the `stackd_components` gauge lists them.
pub const STATUSES: [Status; 7] = [
    Status::Ready,
    Status::Synced,
    Status::Drifted,
    Status::Progressing,
    Status::Blocked,
    Status::Error,
    Status::Unsupported,
];

/// The outcome of a pass, the `outcome` label of `stackd_passes_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum PassOutcome {
    /// Every component is Ready, Synced or Unsupported.
    Converged,
    /// A component is Progressing, or Blocked while it waits for a dependency.
    Progressing,
    /// Only guards stop the stack from converging: a person must act.
    Refused,
    /// A component is in Error.
    Error,
}

impl PassOutcome {
    pub const ALL: [PassOutcome; 4] = [
        PassOutcome::Converged,
        PassOutcome::Progressing,
        PassOutcome::Refused,
        PassOutcome::Error,
    ];

    pub fn label(self) -> &'static str {
        match self {
            PassOutcome::Converged => "converged",
            PassOutcome::Progressing => "progressing",
            PassOutcome::Refused => "refused",
            PassOutcome::Error => "error",
        }
    }
}

/// A Prometheus histogram with fixed buckets. Counts are kept per bucket and
/// made cumulative when rendered.
#[derive(Debug, Clone)]
pub struct Histogram {
    bounds: &'static [f64],
    /// One count per bound, then one for the values above the last bound.
    counts: Vec<u64>,
    sum: f64,
}

impl Histogram {
    pub fn new(bounds: &'static [f64]) -> Self {
        Histogram {
            bounds,
            counts: vec![0; bounds.len() + 1],
            sum: 0.0,
        }
    }

    pub fn observe(&mut self, value: f64) {
        let index = self
            .bounds
            .iter()
            .position(|bound| value <= *bound)
            .unwrap_or(self.bounds.len());
        self.counts[index] += 1;
        self.sum += value;
    }

    fn count(&self) -> u64 {
        self.counts.iter().sum()
    }
}

/// The values behind `/metrics`, copied out of the daemon's state.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub pass_duration: Histogram,
    /// Passes by outcome, in the order of [`PassOutcome::ALL`].
    pub passes: [u64; 4],
    /// Components of the last pass by status, in the order of [`STATUSES`].
    pub components: [u64; 7],
    /// Components whose live state differed from the file in the last pass.
    pub drifted: u64,
    /// End of the last pass without a component in Error, in seconds since 1970.
    pub last_successful_pass: Option<f64>,
    /// AWS call attempts by service, operation and outcome, since the start.
    pub aws_calls: Vec<(CallKey, u64)>,
    /// Slack alert messages, when a webhook is set.
    pub alerts: Option<AlertCounts>,
}

/// Slack alert messages by what became of them, and the retried tries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlertCounts {
    pub delivered: u64,
    pub failed: u64,
    pub dropped: u64,
    pub retried: u64,
}

/// Renders the snapshot in the Prometheus text exposition format.
///
/// Label values are fixed words (statuses and outcomes) or SDK service and
/// operation names; the latter are escaped all the same.
pub fn render(snapshot: &Snapshot) -> String {
    let mut text = String::new();

    header(
        &mut text,
        "stackd_pass_duration_seconds",
        "histogram",
        "Duration of reconcile passes.",
    );
    let histogram = &snapshot.pass_duration;
    let mut cumulative = 0;
    for (bound, count) in histogram.bounds.iter().zip(&histogram.counts) {
        cumulative += count;
        let _ = writeln!(
            text,
            "stackd_pass_duration_seconds_bucket{{le=\"{bound}\"}} {cumulative}"
        );
    }
    let _ = writeln!(
        text,
        "stackd_pass_duration_seconds_bucket{{le=\"+Inf\"}} {}",
        histogram.count()
    );
    let _ = writeln!(text, "stackd_pass_duration_seconds_sum {}", histogram.sum);
    let _ = writeln!(
        text,
        "stackd_pass_duration_seconds_count {}",
        histogram.count()
    );

    header(
        &mut text,
        "stackd_passes_total",
        "counter",
        "Reconcile passes by outcome: converged, progressing, refused or error.",
    );
    for (outcome, count) in PassOutcome::ALL.iter().zip(snapshot.passes) {
        let _ = writeln!(
            text,
            "stackd_passes_total{{outcome=\"{}\"}} {count}",
            outcome.label()
        );
    }

    header(
        &mut text,
        "stackd_components",
        "gauge",
        "Components of the stack by status after the last pass.",
    );
    for (status, count) in STATUSES.iter().zip(snapshot.components) {
        let _ = writeln!(text, "stackd_components{{status=\"{status}\"}} {count}");
    }

    header(
        &mut text,
        "stackd_drifted_components",
        "gauge",
        "Components whose live state differed from the file at the last pass.",
    );
    let _ = writeln!(text, "stackd_drifted_components {}", snapshot.drifted);

    header(
        &mut text,
        "stackd_aws_calls_total",
        "counter",
        "AWS call attempts by service, operation and outcome; each retry by the SDK is one more attempt.",
    );
    for (key, count) in &snapshot.aws_calls {
        let _ = writeln!(
            text,
            "stackd_aws_calls_total{{service=\"{}\",operation=\"{}\",outcome=\"{}\"}} {count}",
            escape_label(&key.service),
            escape_label(&key.operation),
            key.outcome.label()
        );
    }

    if let Some(timestamp) = snapshot.last_successful_pass {
        header(
            &mut text,
            "stackd_last_successful_pass_timestamp_seconds",
            "gauge",
            "End of the last pass without a component in Error, in seconds since 1970.",
        );
        let _ = writeln!(
            text,
            "stackd_last_successful_pass_timestamp_seconds {timestamp}"
        );
    }

    if let Some(alerts) = snapshot.alerts {
        header(
            &mut text,
            "stackd_alert_messages_total",
            "counter",
            "Slack alert messages by outcome: delivered, failed (rejected or given up after retries) or dropped (queue full or hourly limit).",
        );
        for (outcome, count) in [
            ("delivered", alerts.delivered),
            ("failed", alerts.failed),
            ("dropped", alerts.dropped),
        ] {
            let _ = writeln!(
                text,
                "stackd_alert_messages_total{{outcome=\"{outcome}\"}} {count}"
            );
        }
        header(
            &mut text,
            "stackd_alert_retries_total",
            "counter",
            "Tries to post a Slack alert that got 429, 5xx or no answer and were retried.",
        );
        let _ = writeln!(text, "stackd_alert_retries_total {}", alerts.retried);
    }
    text
}

/// Escapes a label value as the text format requires: backslash, double quote and newline.
fn escape_label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn header(text: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(text, "# HELP {name} {help}");
    let _ = writeln!(text, "# TYPE {name} {kind}");
}

#[cfg(test)]
mod tests {
    use super::*;
    use stackd_aws::CallOutcome;

    fn snapshot() -> Snapshot {
        let mut pass_duration = Histogram::new(&PASS_DURATION_BUCKETS);
        // Binary fractions, so that the sum is exact.
        for seconds in [0.0625, 0.25, 0.5, 8.0, 1000.0] {
            pass_duration.observe(seconds);
        }
        Snapshot {
            pass_duration,
            passes: [3, 1, 0, 1],
            components: [4, 1, 0, 0, 0, 1, 2],
            drifted: 1,
            last_successful_pass: Some(1_796_428_799.5),
            alerts: Some(AlertCounts {
                delivered: 5,
                failed: 1,
                dropped: 0,
                retried: 2,
            }),
            aws_calls: vec![
                (call("ec2", "DescribeVpcs", CallOutcome::Ok), 12),
                (call("ec2", "DescribeVpcs", CallOutcome::Throttled), 2),
                (call("iam", "GetRole", CallOutcome::ClientError), 1),
            ],
        }
    }

    fn call(service: &str, operation: &str, outcome: CallOutcome) -> CallKey {
        CallKey {
            service: service.to_owned(),
            operation: operation.to_owned(),
            outcome,
        }
    }

    fn samples<'a>(text: &'a str, prefix: &str) -> Vec<&'a str> {
        text.lines()
            .filter(|line| line.starts_with(prefix))
            .collect()
    }

    #[test]
    fn every_family_has_help_and_type() {
        let text = render(&snapshot());
        for (name, kind) in [
            ("stackd_pass_duration_seconds", "histogram"),
            ("stackd_passes_total", "counter"),
            ("stackd_components", "gauge"),
            ("stackd_drifted_components", "gauge"),
            ("stackd_last_successful_pass_timestamp_seconds", "gauge"),
            ("stackd_alert_messages_total", "counter"),
            ("stackd_alert_retries_total", "counter"),
            ("stackd_aws_calls_total", "counter"),
        ] {
            assert!(
                text.contains(&format!("# HELP {name} ")),
                "HELP of {name}:\n{text}"
            );
            assert!(
                text.contains(&format!("# TYPE {name} {kind}\n")),
                "TYPE of {name}:\n{text}"
            );
        }
    }

    #[test]
    fn alert_counts_are_labelled_by_outcome() {
        let text = render(&snapshot());
        assert_eq!(
            samples(&text, "stackd_alert_messages_total{"),
            vec![
                "stackd_alert_messages_total{outcome=\"delivered\"} 5",
                "stackd_alert_messages_total{outcome=\"failed\"} 1",
                "stackd_alert_messages_total{outcome=\"dropped\"} 0",
            ]
        );
        assert_eq!(
            samples(&text, "stackd_alert_retries_total "),
            vec!["stackd_alert_retries_total 2"]
        );
        let without = render(&Snapshot {
            alerts: None,
            ..snapshot()
        });
        assert!(
            !without.contains("stackd_alert"),
            "no webhook, no alert metrics"
        );
    }

    #[test]
    fn histogram_buckets_are_cumulative_up_to_inf() {
        let text = render(&snapshot());
        let buckets = samples(&text, "stackd_pass_duration_seconds_bucket");
        assert_eq!(buckets.len(), PASS_DURATION_BUCKETS.len() + 1);
        assert_eq!(
            buckets[0],
            "stackd_pass_duration_seconds_bucket{le=\"0.1\"} 1"
        );
        assert_eq!(
            buckets[1], "stackd_pass_duration_seconds_bucket{le=\"0.25\"} 2",
            "a bucket includes its upper bound"
        );
        assert_eq!(
            buckets[2],
            "stackd_pass_duration_seconds_bucket{le=\"0.5\"} 3"
        );
        assert_eq!(
            buckets[6],
            "stackd_pass_duration_seconds_bucket{le=\"10\"} 4"
        );
        assert_eq!(
            buckets[10],
            "stackd_pass_duration_seconds_bucket{le=\"300\"} 4"
        );
        assert_eq!(
            buckets[11],
            "stackd_pass_duration_seconds_bucket{le=\"+Inf\"} 5"
        );
        let counts: Vec<u64> = buckets
            .iter()
            .map(|line| line.rsplit(' ').next().unwrap().parse().unwrap())
            .collect();
        assert!(
            counts.windows(2).all(|pair| pair[0] <= pair[1]),
            "{counts:?}"
        );
        assert!(
            text.contains("stackd_pass_duration_seconds_count 5\n"),
            "{text}"
        );
        assert!(
            text.contains("stackd_pass_duration_seconds_sum 1008.8125\n"),
            "{text}"
        );
    }

    #[test]
    fn components_gauge_lists_every_status() {
        let text = render(&snapshot());
        let lines = samples(&text, "stackd_components{");
        assert_eq!(
            lines,
            [
                "stackd_components{status=\"Ready\"} 4",
                "stackd_components{status=\"Synced\"} 1",
                "stackd_components{status=\"Drifted\"} 0",
                "stackd_components{status=\"Progressing\"} 0",
                "stackd_components{status=\"Blocked\"} 0",
                "stackd_components{status=\"Error\"} 1",
                "stackd_components{status=\"Unsupported\"} 2",
            ]
        );
    }

    #[test]
    fn passes_counter_lists_every_outcome() {
        let text = render(&snapshot());
        let lines = samples(&text, "stackd_passes_total{");
        assert_eq!(
            lines,
            [
                "stackd_passes_total{outcome=\"converged\"} 3",
                "stackd_passes_total{outcome=\"progressing\"} 1",
                "stackd_passes_total{outcome=\"refused\"} 0",
                "stackd_passes_total{outcome=\"error\"} 1",
            ]
        );
    }

    #[test]
    fn last_success_is_absent_before_any() {
        let mut snapshot = snapshot();
        snapshot.last_successful_pass = None;
        let text = render(&snapshot);
        assert!(!text.contains("stackd_last_successful_pass"), "{text}");
        assert!(text.contains("stackd_drifted_components 1\n"), "{text}");
    }

    #[test]
    fn aws_calls_have_three_labels() {
        let text = render(&snapshot());
        let lines = samples(&text, "stackd_aws_calls_total{");
        assert_eq!(
            lines,
            [
                "stackd_aws_calls_total{service=\"ec2\",operation=\"DescribeVpcs\",outcome=\"ok\"} 12",
                "stackd_aws_calls_total{service=\"ec2\",operation=\"DescribeVpcs\",outcome=\"throttled\"} 2",
                "stackd_aws_calls_total{service=\"iam\",operation=\"GetRole\",outcome=\"client_error\"} 1",
            ]
        );
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape_label(r#"a"b\c"#), r#"a\"b\\c"#);
        assert_eq!(escape_label("a\nb"), "a\\nb");
    }
}
