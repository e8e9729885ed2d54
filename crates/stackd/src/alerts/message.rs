//! Slack messages in Block Kit, in English or French, built from the tracker's alerts.
//!
//! Every value and every free text (an AWS error, a reason) goes through
//! [`super::redact`] before it reaches a message.

use super::classify::Outcome;
use super::console::Console;
use super::record::FailureKind;
use super::redact::{redact_text, redact_value};
use super::tracker::{Alert, Event};
use crate::daemon::time::format_rfc3339;
use serde_json::{Value, json};
use stackd_engine::{Change, ChangeKind};
use stackd_spec::model::Language;
use std::time::SystemTime;

/// Maximum length of a value in a message, in characters. Longer values are cut.
const MAX_VALUE_CHARS: usize = 300;
/// Most changes listed in one message; the others are counted.
const MAX_CHANGES: usize = 10;

/// Settings shared by the messages of one stack.
#[derive(Debug, Clone)]
pub struct Context {
    pub stack: String,
    pub language: Language,
    pub console: Console,
}

/// Builds the JSON body of the message for one alert.
pub fn render(context: &Context, alert: &Alert) -> Value {
    let fr = context.language == Language::Fr;
    let component = &alert.component;
    let (title, body, changes) = match &alert.event {
        Event::Drift {
            changes,
            outcome,
            first_seen,
            reminder,
            ..
        } => {
            let title = match (reminder, fr) {
                (None, false) => format!(":warning: Drift on {component}"),
                (None, true) => format!(":warning: Dérive sur {component}"),
                (Some(_), false) => format!(":warning: Reminder: drift on {component} persists"),
                (Some(_), true) => format!(":warning: Rappel : la dérive sur {component} persiste"),
            };
            let mut body = action(outcome, fr);
            if let Some(passes) = reminder {
                body.push('\n');
                body.push_str(&if fr {
                    format!(
                        "Vue depuis {} ({passes} passes).",
                        format_rfc3339(*first_seen)
                    )
                } else {
                    format!(
                        "Seen since {} ({passes} passes).",
                        format_rfc3339(*first_seen)
                    )
                });
            }
            (title, body, changes.as_slice())
        }
        Event::DriftResolved { first_seen, .. } => {
            let title = if fr {
                format!(":white_check_mark: Résolu : dérive sur {component}")
            } else {
                format!(":white_check_mark: Resolved: drift on {component}")
            };
            let body = if fr {
                format!(
                    "L'état réel correspond de nouveau au fichier. Dérive vue pour la première fois le {}.",
                    format_rfc3339(*first_seen)
                )
            } else {
                format!(
                    "Live state matches the file again. The drift was first seen at {}.",
                    format_rfc3339(*first_seen)
                )
            };
            (title, body, &[][..])
        }
        Event::Failed {
            reason,
            passes,
            since,
            reminder,
        } => {
            let title = match (reminder, fr) {
                (false, false) => format!(":x: {component} fails to converge"),
                (false, true) => format!(":x: {component} ne converge pas"),
                (true, false) => format!(":x: Reminder: {component} still fails to converge"),
                (true, true) => format!(":x: Rappel : {component} ne converge toujours pas"),
            };
            let since = format_rfc3339(*since);
            let reason = escape(&redact_text(reason));
            let body = if fr {
                format!("{passes} passes en échec d'affilée depuis {since}.\n> {reason}")
            } else {
                format!("{passes} failed passes in a row since {since}.\n> {reason}")
            };
            (title, body, &[][..])
        }
        Event::Stuck {
            reason,
            since,
            reminder,
        } => {
            let title = match (reminder, fr) {
                (false, false) => format!(":hourglass: {component} stuck in Progressing"),
                (false, true) => format!(":hourglass: {component} reste en Progressing"),
                (true, false) => format!(":hourglass: Reminder: {component} still Progressing"),
                (true, true) => format!(":hourglass: Rappel : {component} toujours en Progressing"),
            };
            let since = format_rfc3339(*since);
            let reason = escape(&redact_text(reason));
            let body = if fr {
                format!("AWS n'a pas fini depuis {since}.\n> {reason}")
            } else {
                format!("AWS has not finished since {since}.\n> {reason}")
            };
            (title, body, &[][..])
        }
        Event::Recovered { kind, since } => {
            let title = if fr {
                format!(":white_check_mark: {component} converge de nouveau")
            } else {
                format!(":white_check_mark: {component} converged again")
            };
            let since = format_rfc3339(*since);
            let body = match (kind, fr) {
                (FailureKind::Failed, false) => format!("It had been failing since {since}."),
                (FailureKind::Failed, true) => format!("Il était en échec depuis {since}."),
                (FailureKind::Stuck, false) => format!("It had been Progressing since {since}."),
                (FailureKind::Stuck, true) => format!("Il était en Progressing depuis {since}."),
            };
            (title, body, &[][..])
        }
    };
    document(context, component, &title, &body, changes)
}

/// Builds the body of `stackd alert test`.
pub fn test_message(context: &Context, now: SystemTime) -> Value {
    let (title, body) = if context.language == Language::Fr {
        (
            ":wave: Message de test de stackd".to_owned(),
            format!(
                "Les alertes de la pile {} arrivent dans ce canal ({}).",
                context.stack,
                format_rfc3339(now)
            ),
        )
    } else {
        (
            ":wave: Test message from stackd".to_owned(),
            format!(
                "Alerts of stack {} reach this channel ({}).",
                context.stack,
                format_rfc3339(now)
            ),
        )
    };
    json!({
        "text": format!("{title}: {body}"),
        "blocks": [
            { "type": "header", "text": { "type": "plain_text", "text": title } },
            { "type": "section", "text": { "type": "mrkdwn", "text": escape(&body) } },
        ],
    })
}

fn document(
    context: &Context,
    component: &str,
    title: &str,
    body: &str,
    changes: &[Change],
) -> Value {
    let fr = context.language == Language::Fr;
    let mut blocks = vec![
        json!({ "type": "header", "text": { "type": "plain_text", "text": cut(title, 150) } }),
        json!({
            "type": "section",
            "fields": [
                { "type": "mrkdwn", "text": format!("*{}*\n{}", if fr { "Pile" } else { "Stack" }, escape(&context.stack)) },
                { "type": "mrkdwn", "text": format!("*{}*\n{}", if fr { "Composant" } else { "Component" }, escape(component)) },
            ],
        }),
    ];
    for change in changes.iter().take(MAX_CHANGES) {
        blocks.push(change_block(context, change));
    }
    if changes.len() > MAX_CHANGES {
        let more = changes.len() - MAX_CHANGES;
        let text = if fr {
            format!("… et {more} autres ressources : voir `stackd plan`.")
        } else {
            format!("… and {more} more resources: see `stackd plan`.")
        };
        blocks.push(json!({ "type": "section", "text": { "type": "mrkdwn", "text": text } }));
    }
    blocks
        .push(json!({ "type": "section", "text": { "type": "mrkdwn", "text": cut(body, 2900) } }));
    json!({
        "text": format!("{} ({})", title, context.stack),
        "blocks": blocks,
    })
}

fn change_block(context: &Context, change: &Change) -> Value {
    let fr = context.language == Language::Fr;
    let kind = match (change.kind, fr) {
        (ChangeKind::Create, false) => "missing, to create",
        (ChangeKind::Create, true) => "absente, à créer",
        (ChangeKind::Update, false) => "changed",
        (ChangeKind::Update, true) => "modifiée",
        (ChangeKind::Replace, false) => "to replace",
        (ChangeKind::Replace, true) => "à remplacer",
        (ChangeKind::Delete, false) => "not in the file, to delete",
        (ChangeKind::Delete, true) => "absente du fichier, à supprimer",
    };
    let mut text = format!("*{}* ({kind})", escape(&change.resource));
    for field in &change.fields {
        let desired = shown(&field.path, &field.desired);
        let live = shown(&field.path, &field.live);
        let (desired_label, live_label) = if fr {
            ("attendu :", "réel :")
        } else {
            ("desired:", "live:")
        };
        text.push_str(&format!(
            "\n• `{}` — {desired_label} `{desired}` · {live_label} `{live}`",
            escape(&field.path)
        ));
    }
    let mut block =
        json!({ "type": "section", "text": { "type": "mrkdwn", "text": cut(&text, 2900) } });
    if let Some(link) = context.console.link(&change.resource) {
        block["accessory"] = json!({
            "type": "button",
            "text": { "type": "plain_text", "text": if fr { "Console AWS" } else { "AWS console" } },
            "url": link,
        });
    }
    block
}

/// Says what stackd did about a drift.
fn action(outcome: &Outcome, fr: bool) -> String {
    match (outcome, fr) {
        (Outcome::Corrected, false) => "*Action:* stackd put the file's state back.".to_owned(),
        (Outcome::Corrected, true) => "*Action :* stackd a rétabli l'état du fichier.".to_owned(),
        (Outcome::Correcting, false) => {
            "*Action:* stackd is putting the file's state back; AWS has not finished.".to_owned()
        }
        (Outcome::Correcting, true) => {
            "*Action :* stackd rétablit l'état du fichier ; AWS n'a pas terminé.".to_owned()
        }
        (Outcome::Held, false) => {
            "*Action:* none. The drift policy of this component only alerts (or ignores); \
             change the file or put the live state back."
                .to_owned()
        }
        (Outcome::Held, true) => {
            "*Action :* aucune. La politique de dérive de ce composant se limite à alerter ; \
             modifiez le fichier ou rétablissez l'état réel."
                .to_owned()
        }
        (Outcome::PlanOnly, false) => "*Action:* none, `stackd plan` changes nothing.".to_owned(),
        (Outcome::PlanOnly, true) => "*Action :* aucune, `stackd plan` ne modifie rien.".to_owned(),
        (Outcome::NotCorrected(reason), false) => {
            format!(
                "*Action:* not put back.\n> {}",
                escape(&redact_text(reason))
            )
        }
        (Outcome::NotCorrected(reason), true) => {
            format!(
                "*Action :* non rétabli.\n> {}",
                escape(&redact_text(reason))
            )
        }
    }
}

/// Returns a value as message text: redacted, compact JSON for non-strings, cut.
fn shown(path: &str, value: &Value) -> String {
    let value = redact_value(path, value);
    let text = match &value {
        Value::Null => "—".to_owned(),
        Value::String(text) => text.clone(),
        other => other.to_string(),
    };
    // Backticks would end the code span early.
    escape(&cut(&text, MAX_VALUE_CHARS)).replace('`', "'")
}

/// Escapes the three characters that Slack's mrkdwn reads as markup.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    fn context(language: Language) -> Context {
        let text = include_str!("../../../../config/beezyup-prod-c01.yaml");
        let stack = stackd_spec::load(text, "beezyup-prod-c01.yaml")
            .expect("the production file loads")
            .stack;
        Context {
            stack: stack.name.clone(),
            language,
            console: Console::new(&stack),
        }
    }

    fn drift(outcome: Outcome) -> Alert {
        Alert {
            component: "security-groups".to_owned(),
            event: Event::Drift {
                changes: vec![
                    Change::new(ChangeKind::Update, "security-group/ecs").field(
                        "ingress",
                        json!(["tcp 22 from 0.0.0.0/0"]),
                        json!(["tcp 80 from 10.0.1.0/24"]),
                    ),
                    Change::new(ChangeKind::Update, "security-group/cache").field(
                        "tags.ApiToken",
                        json!("kept-private"),
                        json!("also-private"),
                    ),
                ],
                outcome,
                fingerprint: "0123abcd".to_owned(),
                first_seen: UNIX_EPOCH + Duration::from_secs(1_796_428_800),
                reminder: None,
            },
        }
    }

    #[test]
    fn drift_message_lists_fields_values_action_and_link() {
        let text = render(&context(Language::En), &drift(Outcome::Corrected)).to_string();
        assert!(text.contains("Drift on security-groups"), "{text}");
        assert!(text.contains("beezyup-prod-c01"), "{text}");
        assert!(text.contains("security-group/ecs"), "{text}");
        assert!(
            text.contains("desired: `[\\\"tcp 80 from 10.0.1.0/24\\\"]`"),
            "{text}"
        );
        assert!(text.contains("tcp 22 from 0.0.0.0/0"), "{text}");
        assert!(text.contains("stackd put the file's state back"), "{text}");
        assert!(
            text.contains("#SecurityGroups:tag:Name=beezyup-prod-c01-ecs"),
            "{text}"
        );
    }

    #[test]
    fn secret_fields_are_redacted() {
        let text = render(&context(Language::En), &drift(Outcome::Held)).to_string();
        assert!(!text.contains("kept-private"), "{text}");
        assert!(!text.contains("also-private"), "{text}");
        assert!(text.contains("[redacted]"), "{text}");
    }

    #[test]
    fn french_message_is_in_french() {
        let text = render(&context(Language::Fr), &drift(Outcome::Held)).to_string();
        assert!(text.contains("Dérive sur security-groups"), "{text}");
        assert!(text.contains("attendu"), "{text}");
        assert!(text.contains("La politique de dérive"), "{text}");
        assert!(!text.contains("Drift on"), "{text}");
    }

    #[test]
    fn reason_markup_is_escaped() {
        let alert = Alert {
            component: "iam".to_owned(),
            event: Event::Failed {
                reason: "<!channel> AccessDenied & co".to_owned(),
                passes: 3,
                since: UNIX_EPOCH,
                reminder: false,
            },
        };
        let text = render(&context(Language::En), &alert).to_string();
        assert!(
            text.contains("&lt;!channel&gt; AccessDenied &amp; co"),
            "{text}"
        );
        assert!(text.contains("3 failed passes in a row"), "{text}");
    }
}
