//! Deserialisation of the raw types from the JSON value, with one diagnostic per serde error.
//!
//! Serde stops at the first error. To report more than one, the list item that contains the
//! error is dropped and deserialisation runs again, until it succeeds or an error lies outside
//! any list. Paths in later errors are mapped back to the original list indices.

use std::collections::{BTreeSet, HashMap};

use serde_json::Value;
use serde_path_to_error::Segment;

use crate::diagnostic::{Diagnostic, Severity};
use crate::path;
use crate::raw;
use crate::suggest::did_you_mean;
use crate::yaml::Document;

/// Limit on structural errors reported for one file.
const MAX_ERRORS: usize = 50;

/// Deserialises the whole document into [`raw::Stack`].
///
/// # Errors
/// Returns one diagnostic per structural error found: unknown or missing fields, wrong types,
/// unknown enum values.
pub(crate) fn deserialize(document: &Document, file: &str) -> Result<raw::Stack, Vec<Diagnostic>> {
    let mut removed: HashMap<String, BTreeSet<usize>> = HashMap::new();
    let mut diagnostics = Vec::new();

    loop {
        let working = filtered(&document.value, "", &removed);
        let error = match serde_path_to_error::deserialize::<_, raw::Stack>(&working) {
            Ok(stack) if diagnostics.is_empty() => return Ok(stack),
            Ok(_) => return Err(diagnostics),
            Err(error) => error,
        };

        let (error_path, deepest_item) = original_path(error.path(), &removed);
        diagnostics.push(describe(
            document,
            file,
            &error_path,
            &error.inner().to_string(),
        ));

        let Some((list_path, index)) = deepest_item else {
            return Err(diagnostics);
        };
        if diagnostics.len() >= MAX_ERRORS {
            return Err(diagnostics);
        }
        removed.entry(list_path).or_default().insert(index);
    }
}

/// Clones `value`, whose original path is `at`, without the removed list items.
fn filtered(value: &Value, at: &str, removed: &HashMap<String, BTreeSet<usize>>) -> Value {
    match value {
        Value::Array(items) => {
            let skip = removed.get(at);
            let remaining = items
                .iter()
                .enumerate()
                .filter(|(index, _)| skip.is_none_or(|skip| !skip.contains(index)))
                .map(|(index, item)| filtered(item, &path::join_index(at, index), removed))
                .collect();
            Value::Array(remaining)
        }
        Value::Object(map) => {
            let remaining = map
                .iter()
                .map(|(key, item)| {
                    (
                        key.clone(),
                        filtered(item, &path::join_key(at, key), removed),
                    )
                })
                .collect();
            Value::Object(remaining)
        }
        _ => value.clone(),
    }
}

/// Maps a path in the filtered value to the original one, and returns the original list path
/// and index of the deepest list item on it.
fn original_path(
    error_path: &serde_path_to_error::Path,
    removed: &HashMap<String, BTreeSet<usize>>,
) -> (String, Option<(String, usize)>) {
    let mut at = String::new();
    let mut deepest_item = None;

    for segment in error_path {
        match segment {
            Segment::Seq { index } => {
                let skip = removed.get(&at);
                let original = (0..)
                    .filter(|candidate| skip.is_none_or(|skip| !skip.contains(candidate)))
                    .nth(*index)
                    .unwrap_or(*index);
                deepest_item = Some((at.clone(), original));
                at = path::join_index(&at, original);
            }
            Segment::Map { key } => at = path::join_key(&at, key),
            Segment::Enum { .. } => {}
            Segment::Unknown => break,
        }
    }
    (at, deepest_item)
}

/// Builds the diagnostic for a serde error message at `at`.
fn describe(document: &Document, file: &str, at: &str, message: &str) -> Diagnostic {
    let positions = &document.positions;
    let mut diagnostic = Diagnostic {
        severity: Severity::Error,
        file: file.to_owned(),
        line: 0,
        column: 0,
        path: at.to_owned(),
        message: message.to_owned(),
        help: None,
    };
    let located = positions.find(at);
    diagnostic.file = positions.file_of(&located).to_owned();
    let mut position = located.value;

    if let Some(rest) = message.strip_prefix("unknown field `") {
        let names = backticked(rest);
        if let Some((field, expected)) = names.split_first() {
            // serde_path_to_error records the unknown key itself as the last segment.
            diagnostic.path = if path::join_key(path::parent(at).unwrap_or(""), field) == at {
                at.to_owned()
            } else {
                path::join_key(at, field)
            };
            let located = positions.find(&diagnostic.path);
            diagnostic.file = positions.file_of(&located).to_owned();
            position = located.key.unwrap_or(located.value);
            diagnostic.message = format!("unknown field `{field}`");
            if let Some(close) = did_you_mean(field, expected.iter().map(String::as_str)) {
                diagnostic
                    .message
                    .push_str(&format!(", did you mean `{close}`?"));
            }
            diagnostic.help = Some(if field == "<<" {
                "YAML merge keys are not supported, so repeat the fields instead".to_owned()
            } else {
                expected_fields(expected)
            });
        }
    } else if let Some(rest) = message.strip_prefix("missing field `") {
        if let Some(field) = backticked(rest).first() {
            // The position stays on the mapping that lacks the field.
            diagnostic.path = path::join_key(at, field);
            diagnostic.message = format!("missing field `{field}`");
            diagnostic.help = Some(format!("add `{field}` to this mapping"));
        }
    } else if let Some(rest) = message.strip_prefix("unknown variant `") {
        let names = backticked(rest);
        if let Some((variant, expected)) = names.split_first() {
            diagnostic.message = format!("unknown value \"{variant}\"");
            if let Some(close) = did_you_mean(variant, expected.iter().map(String::as_str)) {
                diagnostic
                    .message
                    .push_str(&format!(", did you mean \"{close}\"?"));
            }
            let quoted: Vec<_> = expected.iter().map(|name| format!("\"{name}\"")).collect();
            diagnostic.help = Some(format!("expected one of {}", quoted.join(", ")));
        }
    } else if message.starts_with("invalid type: ") {
        diagnostic.help = type_help(value_at(&document.value, at, positions), message);
        diagnostic.message = plain_type_names(&diagnostic.message);
    } else if message.starts_with("invalid value: integer") {
        diagnostic.help = Some("write a whole number in the range the field allows".to_owned());
    }

    diagnostic.line = position.line;
    diagnostic.column = position.column;
    diagnostic
}

/// Returns the names between backticks in a serde message, in order.
fn backticked(text: &str) -> Vec<String> {
    // The text starts just after the first opening backtick.
    let mut names = Vec::new();
    let mut parts = text.split('`');
    if let Some(first) = parts.next() {
        names.push(first.to_owned());
    }
    // Every second part after that sits between a pair of backticks.
    for (i, part) in parts.enumerate() {
        if i % 2 == 1 {
            names.push(part.to_owned());
        }
    }
    names
}

fn expected_fields(expected: &[String]) -> String {
    if expected.is_empty() {
        return "this mapping takes no fields".to_owned();
    }
    let quoted: Vec<_> = expected.iter().map(|name| format!("`{name}`")).collect();
    format!("expected one of {}", quoted.join(", "))
}

/// Replaces Rust's type names at the end of a serde message, such as
/// `expected i64`, with the words a YAML author uses.
fn plain_type_names(message: &str) -> String {
    let Some((head, expected)) = message.rsplit_once(", expected ") else {
        return message.to_owned();
    };
    let plain = match expected {
        "i8" | "i16" | "i32" | "i64" | "i128" | "isize" => "an integer",
        "u8" | "u16" | "u32" | "u64" | "u128" | "usize" => "a whole number, 0 or more",
        "f32" | "f64" => "a number",
        other => other,
    };
    format!("{head}, expected {plain}")
}

fn type_help(value: Option<&Value>, message: &str) -> Option<String> {
    let expects_string = message.ends_with("expected a string");
    match value? {
        Value::Number(number) if expects_string => {
            Some(format!("quote the value to keep it a string: \"{number}\""))
        }
        Value::Bool(flag) if expects_string => {
            Some(format!("quote the value to keep it a string: \"{flag}\""))
        }
        Value::String(text) if text.parse::<f64>().is_ok() => {
            Some(format!("remove the quotes to make it a number: {text}"))
        }
        Value::String(text) if text == "true" || text == "false" => {
            Some(format!("remove the quotes to make it a boolean: {text}"))
        }
        Value::Null => Some("write a value, or remove the key".to_owned()),
        Value::Object(_) if message.contains("expected a sequence") => {
            Some("write a list: one `- ` item per line, or `[a, b]`".to_owned())
        }
        Value::String(_) if message.contains("expected a sequence") => {
            Some("write a list, such as `[a, b]`, even for one item".to_owned())
        }
        _ => None,
    }
}

/// Finds the value at a path of the original document by walking the position map's paths.
fn value_at<'a>(
    root: &'a Value,
    at: &str,
    positions: &crate::yaml::Positions,
) -> Option<&'a Value> {
    if !positions.contains(at) {
        return None;
    }
    let mut chain = Vec::new();
    let mut current = at;
    while let Some(parent) = path::parent(current) {
        chain.push(current);
        current = parent;
    }
    chain.reverse();

    let mut value = root;
    let mut parent_path = "";
    for step in chain {
        value = match value {
            Value::Array(items) => items
                .iter()
                .enumerate()
                .find(|(index, _)| path::join_index(parent_path, *index) == step)
                .map(|(_, item)| item)?,
            Value::Object(map) => map
                .iter()
                .find(|(key, _)| path::join_key(parent_path, key) == step)
                .map(|(_, item)| item)?,
            _ => return None,
        };
        parent_path = step;
    }
    Some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rust_type_names_become_plain_words() {
        assert_eq!(
            plain_type_names("invalid type: string \"80\", expected i64"),
            "invalid type: string \"80\", expected an integer"
        );
        assert_eq!(
            plain_type_names("invalid type: integer `3`, expected a string"),
            "invalid type: integer `3`, expected a string"
        );
    }

    #[test]
    fn backticked_reads_field_and_expected_names() {
        let names = backticked("cdir`, expected one of `id`, `tier`, `cidr`");
        assert_eq!(names, vec!["cdir", "id", "tier", "cidr"]);
    }

    #[test]
    fn backticked_reads_two_expected_names() {
        let names = backticked("x`, expected `from` or `to`");
        assert_eq!(names, vec!["x", "from", "to"]);
    }
}
