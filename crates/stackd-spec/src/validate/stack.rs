//! The envelope of the file: apiVersion, kind, metadata, account, region and stack tags.

use std::collections::BTreeMap;

use super::{Context, values};
use crate::raw;
use crate::suggest::did_you_mean;

/// The only apiVersion this crate reads.
pub(crate) const API_VERSION: &str = "stackd.dev/v1alpha1";

/// The only kind this crate reads.
pub(crate) const KIND: &str = "Stack";

/// The validated top-level fields of a stack.
pub(super) struct Envelope {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub account: String,
    pub region: String,
    pub tags: BTreeMap<String, String>,
}

pub(super) fn envelope(raw: &raw::Stack, context: &mut Context<'_>) -> Envelope {
    if raw.api_version != API_VERSION {
        context
            .error(
                "apiVersion",
                format!("unsupported apiVersion \"{}\"", raw.api_version),
            )
            .set_help(format!("write apiVersion: {API_VERSION}"));
    }
    if raw.kind != KIND {
        let mut message = format!("unsupported kind \"{}\"", raw.kind);
        if did_you_mean(&raw.kind, [KIND]).is_some() {
            message.push_str(&format!(", did you mean \"{KIND}\"?"));
        }
        context
            .error("kind", message)
            .set_help(format!("write kind: {KIND}"));
    }

    values::check_stack_name(context, "metadata.name", &raw.metadata.name);
    values::check_labels(context, "metadata.labels", &raw.metadata.labels);
    values::check_account(context, "spec.account", &raw.spec.account);
    values::check_region(context, "spec.region", &raw.spec.region);
    values::check_tags(context, "spec.tags", &raw.spec.tags, values::MAX_USER_TAGS);

    Envelope {
        name: raw.metadata.name.clone(),
        labels: raw.metadata.labels.clone(),
        account: raw.spec.account.clone(),
        region: raw.spec.region.clone(),
        tags: raw.spec.tags.clone(),
    }
}
