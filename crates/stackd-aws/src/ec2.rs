//! Helpers shared by the EC2 components: tag filters, tag specifications and tag updates.

use crate::tags::{STACK_TAG, TagDelta, comparable};
use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::{Filter, ResourceType, Tag, TagSpecification};
use stackd_engine::ComponentError;
use std::collections::BTreeMap;

/// Selects the resources of one stack.
/// Makes the SDK send a create call once. CreateVpc, CreateSubnet,
/// CreateInternetGateway and AllocateAddress take no client token, so a retry
/// after a response lost in transit would make a second copy. The next pass finds
/// a create that took effect by its tags instead.
pub fn without_retries() -> aws_sdk_ec2::config::Builder {
    aws_sdk_ec2::config::Builder::default()
        .retry_config(aws_sdk_ec2::config::retry::RetryConfig::disabled())
}

pub fn stack_filter(stack: &str) -> Filter {
    Filter::builder()
        .name(format!("tag:{STACK_TAG}"))
        .values(stack)
        .build()
}

/// Selects resources by a plain attribute, such as `vpc-id`.
pub fn filter(name: &str, values: impl IntoIterator<Item = impl Into<String>>) -> Filter {
    let mut builder = Filter::builder().name(name);
    for value in values {
        builder = builder.values(value);
    }
    builder.build()
}

/// Builds the TagSpecifications of a create call, so the resource carries its
/// identity from its first moment on.
pub fn tag_specification(kind: ResourceType, tags: &BTreeMap<String, String>) -> TagSpecification {
    TagSpecification::builder()
        .resource_type(kind)
        .set_tags(Some(to_sdk(tags)))
        .build()
}

pub fn to_sdk(tags: &BTreeMap<String, String>) -> Vec<Tag> {
    tags.iter()
        .map(|(key, value)| Tag::builder().key(key).value(value).build())
        .collect()
}

/// Reads SDK tags into a comparable map, without AWS's reserved tags.
pub fn from_sdk(tags: &[Tag]) -> BTreeMap<String, String> {
    comparable(tags.iter().filter_map(|tag| {
        Some((
            tag.key()?.to_owned(),
            tag.value().unwrap_or_default().to_owned(),
        ))
    }))
}

/// Returns the value of one tag.
pub fn tag_value<'a>(tags: &'a [Tag], key: &str) -> Option<&'a str> {
    tags.iter()
        .find(|tag| tag.key() == Some(key))
        .and_then(Tag::value)
}

/// Applies a tag delta to one EC2 resource.
pub async fn update_tags(
    client: &Client,
    resource_id: &str,
    delta: &TagDelta,
) -> Result<(), ComponentError> {
    if !delta.set.is_empty() {
        client
            .create_tags()
            .resources(resource_id)
            .set_tags(Some(to_sdk(&delta.set)))
            .send()
            .await
            .map_err(|error| {
                crate::failures::call_failed(format!("CreateTags on {resource_id}"), error)
            })?;
    }
    if !delta.remove.is_empty() {
        let keys = delta
            .remove
            .iter()
            .map(|key| Tag::builder().key(key).build())
            .collect();
        client
            .delete_tags()
            .resources(resource_id)
            .set_tags(Some(keys))
            .send()
            .await
            .map_err(|error| {
                crate::failures::call_failed(format!("DeleteTags on {resource_id}"), error)
            })?;
    }
    tracing::info!(resource = resource_id, set = ?delta.set.keys(), removed = ?delta.remove, "updated tags");
    Ok(())
}

/// Returns a resource's `stackd:id` when its `stackd:stack` names this stack.
///
/// Describe calls filter on the stack tag, but the result is checked again here:
/// an emulator or a future API that ignores a filter must never hand stackd
/// another stack's resources.
pub fn stack_logical_id(tags: &[Tag], stack: &str) -> Option<String> {
    if tag_value(tags, STACK_TAG) != Some(stack) {
        return None;
    }
    tag_value(tags, crate::tags::ID_TAG).map(str::to_owned)
}

/// Groups resources by their `stackd:id` tag, rejecting two resources that claim
/// the same logical id: choosing one would hide a duplicate.
pub fn by_logical_id<T>(
    kind: &str,
    items: Vec<T>,
    logical_id: impl Fn(&T) -> Option<String>,
    aws_id: impl Fn(&T) -> String,
) -> Result<BTreeMap<String, T>, ComponentError> {
    let mut found: BTreeMap<String, T> = BTreeMap::new();
    for item in items {
        let Some(id) = logical_id(&item) else {
            continue;
        };
        if let Some(previous) = found.get(&id) {
            return Err(ComponentError::Blocked(format!(
                "two {kind}s carry the tag stackd:id={id} ({} and {}); delete the one that should not exist",
                aws_id(previous),
                aws_id(&item)
            )));
        }
        found.insert(id, item);
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn other_stack_resource_has_no_logical_id() {
        let tags = [
            Tag::builder().key("stackd:stack").value("other").build(),
            Tag::builder().key("stackd:id").value("vpc").build(),
        ];
        assert_eq!(stack_logical_id(&tags, "mine"), None);
        assert_eq!(stack_logical_id(&tags, "other"), Some("vpc".to_owned()));
    }

    fn tag(key: &str, value: &str) -> Tag {
        Tag::builder().key(key).value(value).build()
    }

    #[test]
    fn from_sdk_drops_aws_reserved_tags() {
        let tags = from_sdk(&[
            tag("aws:cloudformation:stack-name", "legacy"),
            tag("Name", "s-vpc"),
        ]);
        assert_eq!(tags.keys().collect::<Vec<_>>(), ["Name"]);
    }

    #[test]
    fn from_sdk_keeps_stackd_tags() {
        let tags = from_sdk(&[tag(STACK_TAG, "s"), tag("stackd:id", "vpc")]);
        assert_eq!(tags.len(), 2);
    }

    #[test]
    fn from_sdk_reads_missing_value_as_empty() {
        let tags = from_sdk(&[Tag::builder().key("flag").build()]);
        assert_eq!(tags["flag"], "");
    }

    #[test]
    fn from_sdk_skips_tag_without_key() {
        let tags = from_sdk(&[Tag::builder().value("orphan").build()]);
        assert!(tags.is_empty());
    }

    #[test]
    fn duplicate_logical_id_is_blocked() {
        let claims = vec![("vpc", "vpc-1"), ("vpc", "vpc-2")];
        let error = by_logical_id(
            "VPC",
            claims,
            |(logical_id, _)| Some(logical_id.to_string()),
            |(_, aws_id)| aws_id.to_string(),
        )
        .unwrap_err();
        assert!(matches!(error, ComponentError::Blocked(_)));
    }
}
