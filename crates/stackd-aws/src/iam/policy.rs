//! IAM policy documents: building them from the file, decoding what IAM returns,
//! and the canonical form in which both are compared.

use percent_encoding::percent_decode_str;
use serde_json::{Map, Value, json};
use stackd_spec::model::{
    BucketAttribute, Effect, Interpolation, PolicyStatement, Stack, Template,
};
use std::borrow::Cow;
use std::collections::BTreeMap;

/// The policy language version that IAM assumes when a document names none.
pub const DEFAULT_VERSION: &str = "2012-10-17";

/// The stack's values that `${…}` interpolations in policy resources render to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TemplateValues {
    pub account: String,
    pub region: String,
    pub stack: String,
    /// Bucket names by bucket id.
    pub buckets: BTreeMap<String, String>,
}

impl TemplateValues {
    pub fn from_stack(stack: &Stack) -> Self {
        TemplateValues {
            account: stack.account.clone(),
            region: stack.region.clone(),
            stack: stack.name.clone(),
            buckets: stack
                .buckets
                .iter()
                .map(|bucket| (bucket.id.clone(), bucket.name.clone()))
                .collect(),
        }
    }

    /// Renders a policy resource. Bucket ARNs are computed from the bucket's name,
    /// so the IAM component needs no output of the bucket components.
    ///
    /// # Errors
    /// Returns why an interpolation has no value here: an unknown bucket, or a
    /// cache, whose endpoint and port are not ARNs.
    pub fn render(&self, template: &Template) -> Result<String, String> {
        template.render(|interpolation| match interpolation {
            Interpolation::Account => Ok(self.account.clone()),
            Interpolation::Region => Ok(self.region.clone()),
            Interpolation::Stack => Ok(self.stack.clone()),
            Interpolation::Bucket { id, attribute } => {
                let name = self
                    .buckets
                    .get(id)
                    .ok_or_else(|| format!("{interpolation} names a bucket that is not in the stack"))?;
                Ok(match attribute {
                    BucketAttribute::Arn => format!("arn:aws:s3:::{name}"),
                    BucketAttribute::Name => name.clone(),
                })
            }
            Interpolation::Cache { .. } => Err(format!(
                "{interpolation} names a cache endpoint or port, which is not a policy resource; write the ARN"
            )),
        })
    }
}

/// Builds the canonical trust policy that lets the given AWS services assume a role.
pub fn trust_policy(services: &[String]) -> Value {
    canonical_policy(&json!({
        "Version": DEFAULT_VERSION,
        "Statement": [{
            "Effect": "Allow",
            "Principal": { "Service": services },
            "Action": "sts:AssumeRole",
        }],
    }))
}

/// Builds the canonical document of an inline policy, rendering its resources.
///
/// # Errors
/// Returns the first resource that cannot be rendered, with the reason.
pub fn inline_policy(
    statements: &[PolicyStatement],
    values: &TemplateValues,
) -> Result<Value, String> {
    let mut rendered = Vec::new();
    for statement in statements {
        let resources = statement
            .resources
            .iter()
            .map(|resource| values.render(resource))
            .collect::<Result<Vec<_>, _>>()?;
        let effect = match statement.effect {
            Effect::Allow => "Allow",
            Effect::Deny => "Deny",
        };
        rendered.push(json!({
            "Effect": effect,
            "Action": statement.actions,
            "Resource": resources,
        }));
    }
    Ok(canonical_policy(&json!({
        "Version": DEFAULT_VERSION,
        "Statement": rendered,
    })))
}

/// Parses a policy document as IAM returns it, URL-encoded (RFC 3986), into its
/// canonical form. A document that is not JSON is kept as a string, so it differs
/// from every desired document and the diff puts the desired one back.
pub fn decode_document(text: &str) -> Value {
    // The AWS API returns documents URL-encoded, but some emulators and proxies decode them.
    let decoded = if text.trim_start().starts_with('{') {
        Cow::Borrowed(text)
    } else {
        percent_decode_str(text).decode_utf8_lossy()
    };
    match serde_json::from_str::<Value>(&decoded) {
        Ok(document) => canonical_policy(&document),
        Err(_) => Value::String(decoded.into_owned()),
    }
}

/// Returns the canonical form of a policy document, in which two documents that
/// IAM evaluates the same way are equal in the ways IAM itself rewrites or that
/// people write differently:
///
/// - object keys are sorted, at every depth;
/// - `Version` defaults to `2012-10-17`;
/// - `Statement` is a list, even when the document contains one statement object;
/// - `Action`, `NotAction`, `Resource`, `NotResource`, each value of `Principal`
///   and `NotPrincipal` (such as `Service` or `AWS`) and each `Condition` value
///   are sorted lists without duplicates, even when written as one string.
///
/// Statement order is kept, as IAM keeps it. A `Principal` of `"*"` stays a string.
pub fn canonical_policy(document: &Value) -> Value {
    let Value::Object(fields) = document else {
        return document.clone();
    };
    let mut canonical: BTreeMap<String, Value> = fields
        .iter()
        .map(|(key, value)| {
            let value = match key.as_str() {
                "Statement" => canonical_statements(value),
                _ => sorted_keys(value),
            };
            (key.clone(), value)
        })
        .collect();
    canonical
        .entry("Version".to_owned())
        .or_insert_with(|| Value::from(DEFAULT_VERSION));
    Value::Object(canonical.into_iter().collect())
}

fn canonical_statements(value: &Value) -> Value {
    match value {
        Value::Array(statements) => {
            Value::Array(statements.iter().map(canonical_statement).collect())
        }
        Value::Object(_) => Value::Array(vec![canonical_statement(value)]),
        other => other.clone(),
    }
}

fn canonical_statement(statement: &Value) -> Value {
    let Value::Object(fields) = statement else {
        return statement.clone();
    };
    let canonical: BTreeMap<String, Value> = fields
        .iter()
        .map(|(key, value)| {
            let value = match key.as_str() {
                "Action" | "NotAction" | "Resource" | "NotResource" => value_set(value),
                "Principal" | "NotPrincipal" => principal(value),
                "Condition" => condition(value),
                _ => sorted_keys(value),
            };
            (key.clone(), value)
        })
        .collect();
    Value::Object(canonical.into_iter().collect())
}

/// Makes each principal type's value a set; `"*"` and other scalars stay as they are.
fn principal(value: &Value) -> Value {
    match value {
        Value::Object(types) => map_sorted(types, value_set),
        other => other.clone(),
    }
}

/// Makes the value of each condition key a set: `{operator: {key: [values]}}`.
fn condition(value: &Value) -> Value {
    match value {
        Value::Object(operators) => map_sorted(operators, |keys| match keys {
            Value::Object(keys) => map_sorted(keys, value_set),
            other => sorted_keys(other),
        }),
        other => sorted_keys(other),
    }
}

fn map_sorted(fields: &Map<String, Value>, canonical: impl Fn(&Value) -> Value) -> Value {
    let sorted: BTreeMap<&String, Value> = fields
        .iter()
        .map(|(key, value)| (key, canonical(value)))
        .collect();
    Value::Object(
        sorted
            .into_iter()
            .map(|(key, value)| (key.clone(), value))
            .collect(),
    )
}

/// Turns one value or a list into a sorted list without duplicates.
fn value_set(value: &Value) -> Value {
    let mut items: Vec<Value> = match value {
        Value::Array(items) => items.iter().map(sorted_keys).collect(),
        other => vec![sorted_keys(other)],
    };
    items.sort_by_cached_key(Value::to_string);
    items.dedup();
    Value::Array(items)
}

/// Sorts the keys of every object inside a value.
fn sorted_keys(value: &Value) -> Value {
    match value {
        Value::Object(fields) => map_sorted(fields, sorted_keys),
        Value::Array(items) => Value::Array(items.iter().map(sorted_keys).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two documents and whether their canonical forms must be equal.
    struct Case {
        reason: &'static str,
        left: &'static str,
        right: &'static str,
        equal: bool,
    }

    fn cases() -> Vec<Case> {
        vec![
            Case {
                reason: "key order makes no difference",
                left: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject"],"Resource":["*"]}]}"#,
                right: r#"{"Statement":[{"Resource":["*"],"Action":["s3:GetObject"],"Effect":"Allow"}],"Version":"2012-10-17"}"#,
                equal: true,
            },
            Case {
                reason: "whitespace makes no difference",
                left: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#,
                right: "{\n  \"Version\" : \"2012-10-17\",\n  \"Statement\" : [ {\n    \"Effect\" : \"Allow\",\n    \"Action\" : \"s3:GetObject\",\n    \"Resource\" : \"*\"\n  } ]\n}",
                equal: true,
            },
            Case {
                reason: "a single Action string equals a list of one",
                left: r#"{"Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":["*"]}]}"#,
                right: r#"{"Statement":[{"Effect":"Allow","Action":["s3:GetObject"],"Resource":["*"]}]}"#,
                equal: true,
            },
            Case {
                reason: "a single Resource string equals a list of one",
                left: r#"{"Statement":[{"Effect":"Allow","Action":["s3:*"],"Resource":"arn:aws:s3:::b/*"}]}"#,
                right: r#"{"Statement":[{"Effect":"Allow","Action":["s3:*"],"Resource":["arn:aws:s3:::b/*"]}]}"#,
                equal: true,
            },
            Case {
                reason: "a single Principal.Service string equals a list of one",
                left: r#"{"Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#,
                right: r#"{"Statement":[{"Effect":"Allow","Principal":{"Service":["ec2.amazonaws.com"]},"Action":["sts:AssumeRole"]}]}"#,
                equal: true,
            },
            Case {
                reason: "a single Principal.AWS string equals a list of one",
                left: r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"sts:AssumeRole"}]}"#,
                right: r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::123456789012:root"]},"Action":"sts:AssumeRole"}]}"#,
                equal: true,
            },
            Case {
                reason: "NotAction and NotResource strings equal lists of one",
                left: r#"{"Statement":[{"Effect":"Deny","NotAction":"iam:*","NotResource":"arn:aws:iam::1:role/x"}]}"#,
                right: r#"{"Statement":[{"Effect":"Deny","NotAction":["iam:*"],"NotResource":["arn:aws:iam::1:role/x"]}]}"#,
                equal: true,
            },
            Case {
                reason: "a missing Version is 2012-10-17",
                left: r#"{"Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#,
                right: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#,
                equal: true,
            },
            Case {
                reason: "an older Version differs",
                left: r#"{"Version":"2008-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#,
                right: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#,
                equal: false,
            },
            Case {
                reason: "one Statement object equals a list of one",
                left: r#"{"Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}}"#,
                right: r#"{"Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#,
                equal: true,
            },
            Case {
                reason: "the order of actions makes no difference",
                left: r#"{"Statement":[{"Effect":"Allow","Action":["s3:PutObject","s3:GetObject"],"Resource":"*"}]}"#,
                right: r#"{"Statement":[{"Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],"Resource":"*"}]}"#,
                equal: true,
            },
            Case {
                reason: "condition values written as one string equal lists of one",
                left: r#"{"Statement":[{"Effect":"Deny","Action":"s3:*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}"#,
                right: r#"{"Statement":[{"Effect":"Deny","Action":"s3:*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":["false"]}}}]}"#,
                equal: true,
            },
            Case {
                reason: "a different action differs",
                left: r#"{"Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#,
                right: r#"{"Statement":[{"Effect":"Allow","Action":"s3:DeleteObject","Resource":"*"}]}"#,
                equal: false,
            },
            Case {
                reason: "statement order is kept, so swapped statements differ",
                left: r#"{"Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"},{"Effect":"Deny","Action":"s3:PutObject","Resource":"*"}]}"#,
                right: r#"{"Statement":[{"Effect":"Deny","Action":"s3:PutObject","Resource":"*"},{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#,
                equal: false,
            },
            Case {
                reason: "a Principal of * is not a list of one",
                left: r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*"}]}"#,
                right: r#"{"Statement":[{"Effect":"Allow","Principal":["*"],"Action":"s3:GetObject","Resource":"*"}]}"#,
                equal: false,
            },
        ]
    }

    #[test]
    fn canonical_policy_cases() {
        for case in cases() {
            let left: Value = serde_json::from_str(case.left).expect(case.reason);
            let right: Value = serde_json::from_str(case.right).expect(case.reason);
            let (left, right) = (canonical_policy(&left), canonical_policy(&right));
            assert_eq!(
                left == right,
                case.equal,
                "{}:\n  left:  {left}\n  right: {right}",
                case.reason
            );
        }
    }

    #[test]
    fn canonical_policy_sorts_keys_for_display() {
        let document =
            json!({"Statement": [{"Resource": "*", "Effect": "Allow", "Action": "s3:GetObject"}]});
        assert_eq!(
            canonical_policy(&document).to_string(),
            r#"{"Statement":[{"Action":["s3:GetObject"],"Effect":"Allow","Resource":["*"]}],"Version":"2012-10-17"}"#
        );
    }

    #[test]
    fn canonical_policy_is_idempotent() {
        for case in cases() {
            let document: Value = serde_json::from_str(case.left).unwrap();
            let once = canonical_policy(&document);
            assert_eq!(canonical_policy(&once), once, "{}", case.reason);
        }
    }

    #[test]
    fn url_encoded_document_decodes_to_canonical() {
        let encoded = "%7B%22Version%22%3A%20%222012-10-17%22%2C%20%22Statement%22%3A%20%5B%7B%22Effect%22%3A%20%22Allow%22%2C%20%22Principal%22%3A%20%7B%22Service%22%3A%20%22ec2.amazonaws.com%22%7D%2C%20%22Action%22%3A%20%22sts%3AAssumeRole%22%7D%5D%7D";
        assert_eq!(
            decode_document(encoded),
            trust_policy(&["ec2.amazonaws.com".to_owned()])
        );
    }

    #[test]
    fn plain_json_document_is_not_decoded_again() {
        // A literal `%` inside a plain document must survive.
        let plain = r#"{"Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/100%25/*"}]}"#;
        let decoded = decode_document(plain);
        assert_eq!(
            decoded["Statement"][0]["Resource"],
            json!(["arn:aws:s3:::b/100%25/*"])
        );
    }

    #[test]
    fn document_that_is_not_json_stays_a_string() {
        assert_eq!(decode_document("%7Bnot-json"), json!("{not-json"));
    }

    #[test]
    fn resources_render_with_stack_values() {
        let values = TemplateValues {
            account: "111122223333".to_owned(),
            region: "eu-west-3".to_owned(),
            stack: "s".to_owned(),
            buckets: BTreeMap::from([("media".to_owned(), "beezyup-media".to_owned())]),
        };
        let render = |source: &str| values.render(&Template::parse(source).unwrap());
        assert_eq!(
            render("${bucket:media.arn}/*").unwrap(),
            "arn:aws:s3:::beezyup-media/*"
        );
        assert_eq!(
            render("arn:aws:secretsmanager:${region}:${account}:secret:${stack}/*").unwrap(),
            "arn:aws:secretsmanager:eu-west-3:111122223333:secret:s/*"
        );
        assert!(render("${cache:main.port}").is_err());
    }

    #[test]
    fn inline_policy_renders_canonical_document() {
        let statement = PolicyStatement {
            effect: Effect::Allow,
            actions: vec!["s3:PutObject".to_owned(), "s3:GetObject".to_owned()],
            resources: vec![Template::parse("${bucket:media.arn}/*").unwrap()],
        };
        let values = TemplateValues {
            buckets: BTreeMap::from([("media".to_owned(), "m".to_owned())]),
            ..TemplateValues::default()
        };
        assert_eq!(
            inline_policy(&[statement], &values).unwrap(),
            json!({
                "Version": "2012-10-17",
                "Statement": [{
                    "Effect": "Allow",
                    "Action": ["s3:GetObject", "s3:PutObject"],
                    "Resource": ["arn:aws:s3:::m/*"],
                }],
            })
        );
    }
}
