//! `extends:`, which lays a file over the file it names.
//!
//! The overlay is applied to its base as a JSON Merge Patch (RFC 7396): mappings
//! merge key by key, any other value (a scalar or a whole sequence) replaces the
//! base's, and `null` removes the key. Every path keeps the position of the file
//! its value came from, so a diagnostic names the right file and line.

use crate::path;
use crate::yaml::{Document, Located};
use serde_json::Value;

/// Lays `top` over `base`. The positions of `top` keep file index 0, and the
/// files of `base` follow it.
pub(crate) fn overlay(base: Document, top: Document) -> Document {
    let Document {
        value: mut merged,
        positions: base_positions,
        diagnostics: mut base_diagnostics,
    } = base;
    let mut replaced = Vec::new();
    let mut removed = Vec::new();
    merge(&mut merged, top.value, "", &mut replaced, &mut removed);

    let shift = top.positions.files.len();
    let mut positions = top.positions;
    for (at, located) in base_positions.by_path {
        let covered = replaced.iter().any(|prefix| is_within(&at, prefix));
        if covered || positions.by_path.contains_key(&at) {
            continue;
        }
        let shifted = Located {
            file: located.file + shift,
            ..located
        };
        positions.by_path.insert(at, shifted);
    }
    positions
        .by_path
        .retain(|at, _| !removed.iter().any(|prefix| is_within(at, prefix)));
    positions.files.extend(base_positions.files);

    let mut diagnostics = top.diagnostics;
    diagnostics.append(&mut base_diagnostics);
    Document {
        value: merged,
        positions,
        diagnostics,
    }
}

/// Applies `patch` to `target` at path `at`, recording the paths whose base
/// value was replaced, and the paths that `null` removed.
fn merge(
    target: &mut Value,
    patch: Value,
    at: &str,
    replaced: &mut Vec<String>,
    removed: &mut Vec<String>,
) {
    let Value::Object(patch) = patch else {
        *target = patch;
        replaced.push(at.to_owned());
        return;
    };
    if !target.is_object() {
        *target = Value::Object(serde_json::Map::new());
        replaced.push(at.to_owned());
    }
    let target = target.as_object_mut().expect("made an object above");
    for (key, value) in patch {
        let key_path = path::join_key(at, &key);
        if value.is_null() {
            target.remove(&key);
            replaced.push(key_path.clone());
            removed.push(key_path);
            continue;
        }
        match target.get_mut(&key) {
            Some(existing) => merge(existing, value, &key_path, replaced, removed),
            None => {
                target.insert(key, value);
            }
        }
    }
}

/// Returns whether `at` is `prefix` or a path inside it.
fn is_within(at: &str, prefix: &str) -> bool {
    let Some(rest) = at.strip_prefix(prefix) else {
        return false;
    };
    prefix.is_empty() || rest.is_empty() || rest.starts_with('.') || rest.starts_with('[')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::parse;

    fn layered(base: &str, top: &str) -> Document {
        let base = parse(base, "base.yaml").expect("the base parses");
        let top = parse(top, "top.yaml").expect("the overlay parses");
        overlay(base, top)
    }

    #[test]
    fn mappings_merge_key_by_key() {
        let document = layered("spec:\n  a: 1\n  b: 2\n", "spec:\n  b: 3\n");
        assert_eq!(document.value["spec"]["a"], 1);
        assert_eq!(document.value["spec"]["b"], 3);
    }

    #[test]
    fn sequences_are_replaced_whole() {
        let document = layered("list: [1, 2, 3]\n", "list: [4]\n");
        assert_eq!(document.value["list"], serde_json::json!([4]));
        assert!(!document.positions.contains("list[1]"));
    }

    #[test]
    fn null_removes_the_key() {
        let document = layered("spec:\n  a: 1\n  b: 2\n", "spec:\n  a: null\n");
        assert!(document.value["spec"].get("a").is_none());
        assert!(!document.positions.contains("spec.a"));
    }

    #[test]
    fn positions_name_the_file_of_each_value() {
        let document = layered("spec:\n  a: 1\n  b: 2\n", "spec:\n  b: 3\n");
        let positions = &document.positions;
        let a = positions.find("spec.a");
        let b = positions.find("spec.b");
        assert_eq!(positions.file_of(&a), "base.yaml");
        assert_eq!(a.value.line, 2);
        assert_eq!(positions.file_of(&b), "top.yaml");
        assert_eq!(b.value.line, 2);
    }

    #[test]
    fn prefix_match_stops_at_segment_boundaries() {
        assert!(is_within("spec.tags.Name", "spec.tags"));
        assert!(is_within("spec.tags", "spec.tags"));
        assert!(!is_within("spec.tagsExtra", "spec.tags"));
    }
}
