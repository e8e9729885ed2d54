//! Checks of the alert settings and of the drift policies.

use std::ops::RangeInclusive;

use super::Context;
use crate::model;
use crate::path;
use crate::raw;
use crate::suggest::did_you_mean;

/// Where the binary reads the webhook URL from, for the message that rejects one in the file.
const WEBHOOK_SOURCES: &str = "set the STACKD_SLACK_WEBHOOK_URL environment variable, pass \
     --slack-webhook-file, or give the service a systemd credential named slack-webhook";

pub(super) fn alerts(raw: Option<&raw::Alerts>, context: &mut Context<'_>) -> model::Alerts {
    let defaults = model::Alerts::default();
    let Some(raw) = raw else {
        return defaults;
    };
    let at = "spec.alerts";

    // The value is never read, so no message can repeat it.
    for (field, present) in [
        ("webhookUrl", raw.webhook_url.is_some()),
        ("webhook", raw.webhook.is_some()),
    ] {
        if present {
            context
                .error_at_key(
                    &path::join_key(at, field),
                    "the Slack webhook URL is a secret and cannot be in the desired-state file",
                )
                .set_help(format!("remove this field and {WEBHOOK_SOURCES}"));
        }
    }

    let language = match raw.language {
        None => defaults.language,
        Some(raw::Language::En) => model::Language::En,
        Some(raw::Language::Fr) => model::Language::Fr,
    };
    model::Alerts {
        language,
        remind_after_minutes: bounded(
            context,
            &path::join_key(at, "remindAfterMinutes"),
            raw.remind_after_minutes,
            1..=43_200,
            defaults.remind_after_minutes,
        ),
        error_after_failed_passes: bounded(
            context,
            &path::join_key(at, "errorAfterFailedPasses"),
            raw.error_after_failed_passes,
            1..=100,
            defaults.error_after_failed_passes,
        ),
        progressing_alert_after_minutes: bounded(
            context,
            &path::join_key(at, "progressingAlertAfterMinutes"),
            raw.progressing_alert_after_minutes,
            1..=1_440,
            defaults.progressing_alert_after_minutes,
        ),
        max_messages_per_hour: bounded(
            context,
            &path::join_key(at, "maxMessagesPerHour"),
            raw.max_messages_per_hour,
            1..=3_600,
            defaults.max_messages_per_hour,
        ),
    }
}

/// Returns `value` when it is in `range`, `default` when it is absent, and reports it
/// otherwise. `at` ends with the field's name, which the message repeats.
fn bounded(
    context: &mut Context<'_>,
    at: &str,
    value: Option<i64>,
    range: RangeInclusive<u32>,
    default: u32,
) -> u32 {
    let Some(value) = value else {
        return default;
    };
    match u32::try_from(value) {
        Ok(valid) if range.contains(&valid) => valid,
        _ => {
            let field = at.rsplit('.').next().unwrap_or(at);
            context
                .error(at, format!("{field} {value} is out of range"))
                .set_help(format!(
                    "write a whole number from {} to {}, or remove the field for the default, {default}",
                    range.start(),
                    range.end()
                ));
            default
        }
    }
}

/// Checks the drift policies against the ids of the stack's components.
pub(super) fn drift(
    raw: Option<&raw::Drift>,
    components: &[String],
    context: &mut Context<'_>,
) -> model::DriftPolicies {
    let mut policies = model::DriftPolicies::default();
    let Some(raw) = raw else {
        return policies;
    };
    if let Some(default) = raw.default {
        policies.default = policy(default);
    }
    let at = "spec.drift.components";
    for (id, value) in &raw.components {
        if components.iter().any(|known| known == id) {
            policies.components.insert(id.clone(), policy(*value));
            continue;
        }
        let mut message = format!("component \"{id}\" not found");
        if let Some(close) = did_you_mean(id, components.iter().map(String::as_str)) {
            message.push_str(&format!(", did you mean \"{close}\"?"));
        }
        context
            .error_at_key(&path::join_key(at, id), message)
            .set_help(format!(
                "name a component as plans show it: {}",
                components.join(", ")
            ));
    }
    policies
}

fn policy(raw: raw::DriftPolicy) -> model::DriftPolicy {
    match raw {
        raw::DriftPolicy::Correct => model::DriftPolicy::Correct,
        raw::DriftPolicy::AlertOnly => model::DriftPolicy::AlertOnly,
        raw::DriftPolicy::Ignore => model::DriftPolicy::Ignore,
    }
}
