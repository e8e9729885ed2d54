//! Slack alert settings and the drift policy of each component.

use std::collections::BTreeMap;

use serde::Serialize;

/// Settings of the alerts. The webhook URL is not among them: it is a secret, and the
/// binary reads it from the environment or a systemd credential.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Alerts {
    pub language: Language,
    /// Minutes after which an alert that still holds is sent again.
    pub remind_after_minutes: u32,
    /// Passes in a row in which a component fails before an alert.
    pub error_after_failed_passes: u32,
    /// Minutes a component may stay Progressing before an alert.
    pub progressing_alert_after_minutes: u32,
    /// Maximum messages sent per hour.
    pub max_messages_per_hour: u32,
}

impl Default for Alerts {
    fn default() -> Self {
        Alerts {
            language: Language::En,
            remind_after_minutes: 1_440,
            error_after_failed_passes: 3,
            progressing_alert_after_minutes: 30,
            max_messages_per_hour: 20,
        }
    }
}

/// Language of the alert messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Language {
    En,
    Fr,
}

/// What stackd does when live state differs from a file that did not change since the
/// component last converged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum DriftPolicy {
    /// Put the file's state back and alert.
    Correct,
    /// Alert, and apply nothing to the component until the file changes.
    AlertOnly,
    /// Neither alert nor apply anything to the component until the file changes.
    Ignore,
}

impl DriftPolicy {
    /// Returns the name the file uses, such as `alertOnly`.
    pub fn as_str(self) -> &'static str {
        match self {
            DriftPolicy::Correct => "correct",
            DriftPolicy::AlertOnly => "alertOnly",
            DriftPolicy::Ignore => "ignore",
        }
    }
}

/// The drift policy of every component: a default and the exceptions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DriftPolicies {
    pub default: DriftPolicy,
    /// Component id, as [`super::Stack::components`] names it, to its policy. Every key
    /// names a component of the stack.
    pub components: BTreeMap<String, DriftPolicy>,
}

impl Default for DriftPolicies {
    fn default() -> Self {
        DriftPolicies {
            default: DriftPolicy::Correct,
            components: BTreeMap::new(),
        }
    }
}

impl DriftPolicies {
    /// Returns the policy of one component, such as `security-groups` or `bucket/media`.
    pub fn of(&self, component: &str) -> DriftPolicy {
        self.components
            .get(component)
            .copied()
            .unwrap_or(self.default)
    }
}
