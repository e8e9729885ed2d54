//! Field-by-field differences between two JSON documents, for plans that show
//! which part of a policy document drifted.

use serde_json::Value;

/// One path whose value differs between two documents.
#[derive(Debug, Clone, PartialEq)]
pub struct Difference {
    /// Dotted path below the prefix, such as `policy.Statement.0.Principal`.
    pub path: String,
    /// `null` when the path is absent from the live document.
    pub live: Value,
    /// `null` when the path is absent from the desired document.
    pub desired: Value,
}

/// Lists the paths at which `live` and `desired` differ, each starting with `prefix`.
///
/// Objects are compared key by key, and arrays of the same length index by index.
/// Arrays of different lengths and values of different types are one difference
/// each, at their own path, because matching their items would be a guess.
pub fn differences(prefix: &str, live: &Value, desired: &Value) -> Vec<Difference> {
    let mut found = Vec::new();
    collect(prefix, live, desired, &mut found);
    found
}

fn collect(path: &str, live: &Value, desired: &Value, found: &mut Vec<Difference>) {
    if live == desired {
        return;
    }
    match (live, desired) {
        (Value::Object(live_fields), Value::Object(desired_fields)) => {
            let mut keys: Vec<&String> = live_fields.keys().chain(desired_fields.keys()).collect();
            keys.sort();
            keys.dedup();
            for key in keys {
                let live_value = live_fields.get(key).unwrap_or(&Value::Null);
                let desired_value = desired_fields.get(key).unwrap_or(&Value::Null);
                collect(&format!("{path}.{key}"), live_value, desired_value, found);
            }
        }
        (Value::Array(live_items), Value::Array(desired_items))
            if live_items.len() == desired_items.len() =>
        {
            for (index, (live_item, desired_item)) in
                live_items.iter().zip(desired_items).enumerate()
            {
                collect(&format!("{path}.{index}"), live_item, desired_item, found);
            }
        }
        _ => found.push(Difference {
            path: path.to_owned(),
            live: live.clone(),
            desired: desired.clone(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn equal_documents_have_no_difference() {
        let document = json!({"a": [1, {"b": 2}]});
        assert!(differences("doc", &document, &document).is_empty());
    }

    #[test]
    fn nested_change_names_its_path() {
        let live =
            json!({"Statement": [{"Principal": {"Service": ["a", "b"]}, "Effect": "Allow"}]});
        let desired = json!({"Statement": [{"Principal": {"Service": ["a"]}, "Effect": "Allow"}]});
        assert_eq!(
            differences("policy", &live, &desired),
            [Difference {
                path: "policy.Statement.0.Principal.Service".to_owned(),
                live: json!(["a", "b"]),
                desired: json!(["a"]),
            }]
        );
    }

    #[test]
    fn missing_key_is_null_on_its_side() {
        let live = json!({"a": 1, "extra": true});
        let desired = json!({"a": 1});
        assert_eq!(
            differences("doc", &live, &desired),
            [Difference {
                path: "doc.extra".to_owned(),
                live: json!(true),
                desired: Value::Null,
            }]
        );
    }

    #[test]
    fn absent_document_is_one_difference() {
        let desired = json!({"a": 1});
        let found = differences("policy", &Value::Null, &desired);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].path, "policy");
    }
}
