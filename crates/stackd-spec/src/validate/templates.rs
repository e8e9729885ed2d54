//! Rejection of `${…}` interpolations in fields that are not templates.

use serde_json::Value;

use super::Context;
use crate::model::Template;
use crate::path;

/// Reports each string outside the template fields that contains an interpolation, because
/// stackd would send it to AWS literally.
pub(super) fn check_stray_interpolations(context: &mut Context<'_>) {
    let mut stray = Vec::new();
    collect(context.value, "", context, &mut stray);
    for at in stray {
        context
            .error(&at, "`${…}` interpolations are not allowed in this field")
            .set_help(
                "interpolations work in IAM policy resources, container images, environment \
                 variables and secrets, so write the value itself here",
            );
    }
}

fn collect(value: &Value, at: &str, context: &Context<'_>, stray: &mut Vec<String>) {
    match value {
        Value::String(text) => {
            if !text.contains("${") || context.template_paths.contains(at) {
                return;
            }
            let has_interpolation =
                Template::parse(text).map_or(true, |t| t.interpolations().next().is_some());
            if has_interpolation {
                stray.push(at.to_owned());
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                collect(item, &path::join_index(at, i), context, stray);
            }
        }
        Value::Object(map) => {
            for (key, item) in map {
                collect(item, &path::join_key(at, key), context, stray);
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}
