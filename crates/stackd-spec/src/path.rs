//! Field paths such as `spec.network.subnets[2].cidr`, shared by positions and diagnostics.
//!
//! A key made of letters, digits, `_` and `-` is written `.key`. Any other key is written
//! `["key"]` with `"` and `\` escaped, so `metadata.labels["app.kubernetes.io/name"]` stays
//! one segment.

/// Appends a mapping key to `base`.
pub(crate) fn join_key(base: &str, key: &str) -> String {
    let plain = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if plain {
        if base.is_empty() {
            key.to_owned()
        } else {
            format!("{base}.{key}")
        }
    } else {
        let escaped = key.replace('\\', "\\\\").replace('"', "\\\"");
        format!("{base}[\"{escaped}\"]")
    }
}

/// Appends a sequence index to `base`.
pub(crate) fn join_index(base: &str, index: usize) -> String {
    format!("{base}[{index}]")
}

/// Returns the path of the enclosing mapping or sequence, or `None` for the root path `""`.
pub(crate) fn parent(path: &str) -> Option<&str> {
    if path.is_empty() {
        return None;
    }

    let bytes = path.as_bytes();
    let mut last_start = 0;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'.' => {
                last_start = i;
                i += 1;
            }
            b'[' if bytes.get(i + 1) == Some(&b'"') => {
                last_start = i;
                i += 2;
                while i < bytes.len() && !(bytes[i] == b'"' && bytes.get(i + 1) == Some(&b']')) {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                i += 2;
            }
            b'[' => {
                last_start = i;
                i += 1;
            }
            _ => i += 1,
        }
    }
    Some(&path[..last_start])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_keys_join_with_dots() {
        let path = join_index(&join_key(&join_key("spec", "network"), "subnets"), 2);
        assert_eq!(join_key(&path, "cidr"), "spec.network.subnets[2].cidr");
    }

    #[test]
    fn dotted_key_is_quoted() {
        let path = join_key("metadata.labels", "app.kubernetes.io/name");
        assert_eq!(path, r#"metadata.labels["app.kubernetes.io/name"]"#);
    }

    #[test]
    fn parent_strips_last_segment() {
        assert_eq!(
            parent("spec.network.subnets[2].cidr"),
            Some("spec.network.subnets[2]")
        );
        assert_eq!(
            parent("spec.network.subnets[2]"),
            Some("spec.network.subnets")
        );
        assert_eq!(parent("spec"), Some(""));
        assert_eq!(parent(""), None);
    }

    #[test]
    fn parent_skips_dots_inside_quoted_key() {
        assert_eq!(
            parent(r#"metadata.labels["a.b/c"]"#),
            Some("metadata.labels")
        );
        assert_eq!(
            parent(r#"spec.tags["x\"].y"].z"#),
            Some(r#"spec.tags["x\"].y"]"#)
        );
    }
}
