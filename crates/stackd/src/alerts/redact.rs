//! Redaction of secret-like values before they reach a Slack message.
//!
//! Two tests, because neither is enough alone: a field whose name says it holds a
//! secret (`APP_KEY`, `dbPassword`, `tags.ApiToken`) has its values hidden whatever
//! they look like, and a value shaped like a credential (an AWS access key, a Slack
//! token or webhook URL, a JWT, a private key, a password inside a URL) is hidden
//! whatever its field.

use serde_json::Value;

/// What a hidden value is replaced with.
pub const REDACTED: &str = "[redacted]";

/// Words that mark a field as secret when a segment of its path contains one, compared
/// in lowercase without `_`, `-` and `.`.
const SECRET_WORDS: &[&str] = &[
    "password",
    "passwd",
    "passphrase",
    "secret",
    "token",
    "credential",
    "privatekey",
    "apikey",
    "accesskey",
    "signingkey",
    "sessionkey",
];

/// Returns whether the field at `path` (such as `environment.APP_KEY`) likely holds a secret.
pub fn is_secret_path(path: &str) -> bool {
    path.split(['.', '[', ']', '"'])
        .filter(|segment| !segment.is_empty())
        .any(|segment| {
            let word: String = segment
                .chars()
                .filter(|c| !matches!(c, '_' | '-' | '.'))
                .flat_map(char::to_lowercase)
                .collect();
            SECRET_WORDS.iter().any(|secret| word.contains(secret))
                || (word.ends_with("key") && word.len() > 3)
        })
}

/// Returns a copy of `value` with the strings hidden that its path or their shape marks
/// as secret. `path` is the field's path; object keys extend it.
pub fn redact_value(path: &str, value: &Value) -> Value {
    match value {
        Value::Null | Value::Bool(_) | Value::Number(_) => value.clone(),
        Value::String(text) if is_secret_path(path) && !text.is_empty() => {
            Value::String(REDACTED.to_owned())
        }
        Value::String(text) => Value::String(redact_text(text)),
        Value::Array(items) => {
            Value::Array(items.iter().map(|item| redact_value(path, item)).collect())
        }
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(key, item)| (key.clone(), redact_value(&format!("{path}.{key}"), item)))
                .collect(),
        ),
    }
}

/// Returns `text` with every credential-like word replaced by [`REDACTED`], for
/// values and free text such as an AWS error message.
pub fn redact_text(text: &str) -> String {
    let text = redact_private_keys(text);
    let mut out = String::with_capacity(text.len());
    let mut word = String::new();
    for c in text.chars() {
        if is_word_char(c) {
            word.push(c);
        } else {
            out.push_str(&redact_word(&word));
            word.clear();
            out.push(c);
        }
    }
    out.push_str(&redact_word(&word));
    out
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "/+=_-.:@%?&~#".contains(c)
}

fn redact_word(word: &str) -> String {
    // Trailing punctuation ends a sentence, not the word.
    let trimmed = word.trim_end_matches(['.', ':', ',', '?']);
    let tail = &word[trimmed.len()..];
    if looks_secret(trimmed) {
        format!("{REDACTED}{tail}")
    } else if let Some(hidden) = hide_url_password(trimmed) {
        format!("{hidden}{tail}")
    } else {
        word.to_owned()
    }
}

/// Returns whether a word is shaped like a credential.
pub fn looks_secret(word: &str) -> bool {
    let lower = word.to_ascii_lowercase();
    is_aws_access_key_id(word)
        || is_aws_secret_access_key(word)
        || [
            "xoxa-", "xoxb-", "xoxp-", "xoxr-", "xoxs-", "xoxe-", "xapp-",
        ]
        .iter()
        .any(|prefix| lower.starts_with(prefix))
        || lower.contains("hooks.slack.com/")
        || ["ghp_", "gho_", "ghs_", "ghu_", "github_pat_"]
            .iter()
            .any(|prefix| word.starts_with(prefix))
        || is_jwt(word)
}

/// `AKIA` (long-term) or `ASIA` (temporary) and 16 more capital letters and digits.
fn is_aws_access_key_id(word: &str) -> bool {
    word.len() == 20
        && (word.starts_with("AKIA") || word.starts_with("ASIA"))
        && word
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

/// 40 characters of base64 with lowercase, uppercase and a digit or `/` `+`, which
/// random secret access keys have and ids, hashes and words rarely do.
fn is_aws_secret_access_key(word: &str) -> bool {
    let bytes = word.as_bytes();
    bytes.len() == 40
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'/' || *b == b'+')
        && bytes.iter().any(u8::is_ascii_lowercase)
        && bytes.iter().any(u8::is_ascii_uppercase)
        && bytes
            .iter()
            .any(|b| b.is_ascii_digit() || *b == b'/' || *b == b'+')
}

fn is_jwt(word: &str) -> bool {
    let parts: Vec<&str> = word.split('.').collect();
    parts.len() == 3
        && parts[0].starts_with("eyJ")
        && parts.iter().all(|part| {
            part.len() >= 4
                && part
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// Hides the password of `scheme://user:password@host…`, keeping the rest readable.
fn hide_url_password(word: &str) -> Option<String> {
    let (scheme, rest) = word.split_once("://")?;
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (user, host) = rest[..authority_end].rsplit_once('@')?;
    let (name, _) = user.split_once(':')?;
    Some(format!(
        "{scheme}://{name}:{REDACTED}@{host}{}",
        &rest[authority_end..]
    ))
}

/// Replaces each PEM private key block, which spans lines, by [`REDACTED`].
fn redact_private_keys(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("-----BEGIN") {
        let header_end = rest[start..].find('\n').map_or(rest.len(), |i| start + i);
        if !rest[start..header_end].contains("PRIVATE KEY") {
            out.push_str(&rest[..header_end]);
            rest = &rest[header_end..];
            continue;
        }
        out.push_str(&rest[..start]);
        out.push_str(REDACTED);
        let end_marker = rest[start..].find("-----END").map(|i| start + i);
        rest = match end_marker {
            Some(end) => {
                let after = rest[end + 8..]
                    .find("-----")
                    .map_or(rest.len(), |i| end + 8 + i + 5);
                &rest[after..]
            }
            None => "",
        };
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secret_paths_are_recognised() {
        let cases = [
            ("environment.APP_KEY", true),
            ("environment.DB_PASSWORD", true),
            ("tags.ApiToken", true),
            ("secrets.STRIPE_SECRET", true),
            ("accessKeySecret", true),
            ("environment.REDIS_HOST", false),
            ("ingress", false),
            ("tags.Name", false),
            ("kmsKeyId", false),
            ("jwtAuthorizer.issuer", false),
        ];
        for (path, expected) in cases {
            assert_eq!(is_secret_path(path), expected, "{path}");
        }
    }

    #[test]
    fn credential_shapes_are_recognised() {
        let cases = [
            ("AKIAIOSFODNN7EXAMPLE", true),
            ("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", true),
            ("xoxb-1234-5678-abcdef", true),
            ("https://hooks.slack.com/services/T000/B000/XXXX", true),
            ("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl", true),
            ("ghp_abcdefghijklmnop", true),
            ("sg-0123456789abcdef0", false),
            ("beezyup-prod-c01-ecs", false),
            ("0123456789abcdef0123456789abcdef01234567", false),
            ("tcp 80 from 10.0.10.0/24", false),
        ];
        for (word, expected) in cases {
            assert_eq!(looks_secret(word), expected, "{word}");
        }
    }

    #[test]
    fn text_keeps_words_around_a_secret() {
        assert_eq!(
            redact_text("key AKIAIOSFODNN7EXAMPLE was rejected."),
            "key [redacted] was rejected."
        );
        assert_eq!(
            redact_text("connect to postgres://app:hunter2@db.internal:5432/app failed"),
            "connect to postgres://app:[redacted]@db.internal:5432/app failed"
        );
        assert_eq!(
            redact_text("port 80 from 10.0.0.0/16"),
            "port 80 from 10.0.0.0/16"
        );
    }

    #[test]
    fn private_key_block_is_hidden() {
        let text = "before\n-----BEGIN RSA PRIVATE KEY-----\nMIIEow\nabc\n-----END RSA PRIVATE KEY-----\nafter";
        assert_eq!(redact_text(text), "before\n[redacted]\nafter");
        let public = "-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----";
        assert_eq!(redact_text(public), public);
    }

    #[test]
    fn values_under_secret_fields_are_hidden() {
        let value = json!({ "APP_KEY": "base64:abc", "APP_ENV": "production" });
        assert_eq!(
            redact_value("environment", &value),
            json!({ "APP_KEY": "[redacted]", "APP_ENV": "production" })
        );
        assert_eq!(
            redact_value("tags.ApiToken", &json!("plain")),
            json!("[redacted]")
        );
        assert_eq!(redact_value("tags.ApiToken", &Value::Null), Value::Null);
    }
}
