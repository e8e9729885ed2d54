//! The tags that give every resource its identity without a state file.

use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// Tag key naming the stack a resource belongs to.
pub const STACK_TAG: &str = "stackd:stack";
/// Tag key naming the resource's logical id inside its stack, such as `subnet/private-a`.
pub const ID_TAG: &str = "stackd:id";
/// Tag key saying what becomes of a resource once it leaves the file: `retain` or
/// `delete`. Written from the file while the resource is in it, because stackd
/// keeps no state file to remember it by.
pub const DELETION_POLICY_TAG: &str = "stackd:deletion-policy";

/// Computes the tags of each resource of one stack.
#[derive(Debug, Clone)]
pub struct Tagger {
    stack: String,
    common: BTreeMap<String, String>,
}

impl Tagger {
    pub fn new(stack: &str, common: &BTreeMap<String, String>) -> Self {
        Tagger {
            stack: stack.to_owned(),
            common: common.clone(),
        }
    }

    pub fn stack(&self) -> &str {
        &self.stack
    }

    /// Returns the full tag set of a resource: the stack's common tags, a `Name`
    /// for the console, and stackd's identity tags, which win over the others.
    pub fn desired(&self, logical_id: &str, name: &str) -> BTreeMap<String, String> {
        let mut tags = self.common.clone();
        tags.insert("Name".to_owned(), name.to_owned());
        tags.insert(STACK_TAG.to_owned(), self.stack.clone());
        tags.insert(ID_TAG.to_owned(), logical_id.to_owned());
        tags
    }

    /// Returns a `Name` tag value for a resource, such as `beezyup-prod-c01-private-a`.
    pub fn name(&self, suffix: &str) -> String {
        format!("{}-{}", self.stack, suffix)
    }

    /// Derives the idempotency token of a create call from the stack, the logical
    /// id and the desired fields, so that a retried create is the same create.
    ///
    /// NOTE: AWS remembers a token for a while after the resource is deleted, so a
    /// resource deleted behind stackd's back and recreated with the same fields
    /// may be refused with IdempotentParameterMismatch until the token expires.
    pub fn client_token(&self, logical_id: &str, fields: &str) -> String {
        let digest = Sha256::digest(format!("{}\n{}\n{}", self.stack, logical_id, fields));
        let hex: String = digest.iter().map(|byte| format!("{byte:02x}")).collect();
        // EC2 accepts at most 64 ASCII characters.
        hex[..64].to_owned()
    }
}

/// Tags are compared as a map; keys under the reserved `aws:` prefix belong to
/// AWS and are ignored.
pub fn comparable(tags: impl IntoIterator<Item = (String, String)>) -> BTreeMap<String, String> {
    tags.into_iter()
        .filter(|(key, _)| !key.starts_with("aws:"))
        .collect()
}

/// The keys to set (added or changed) and the keys to remove to turn `live` into `desired`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TagDelta {
    pub set: BTreeMap<String, String>,
    pub remove: Vec<String>,
}

impl TagDelta {
    pub fn between(live: &BTreeMap<String, String>, desired: &BTreeMap<String, String>) -> Self {
        let set = desired
            .iter()
            .filter(|(key, value)| live.get(*key) != Some(value))
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect();
        let remove = live
            .keys()
            .filter(|key| !desired.contains_key(*key))
            .cloned()
            .collect();
        TagDelta { set, remove }
    }

    pub fn is_empty(&self) -> bool {
        self.set.is_empty() && self.remove.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(key, value)| (key.to_string(), value.to_string()))
            .collect()
    }

    #[test]
    fn identity_tags_win_over_common_tags() {
        let tagger = Tagger::new("s", &map(&[(STACK_TAG, "other"), ("Team", "ops")]));
        let tags = tagger.desired("vpc", "s-vpc");
        assert_eq!(tags[STACK_TAG], "s");
        assert_eq!(tags[ID_TAG], "vpc");
        assert_eq!(tags["Team"], "ops");
        assert_eq!(tags["Name"], "s-vpc");
    }

    #[test]
    fn client_token_is_stable_and_distinct() {
        let tagger = Tagger::new("s", &BTreeMap::new());
        let token = tagger.client_token("nat-gateway/a", "subnet-1");
        assert_eq!(token, tagger.client_token("nat-gateway/a", "subnet-1"));
        assert_ne!(token, tagger.client_token("nat-gateway/b", "subnet-1"));
        assert_eq!(token.len(), 64);
    }

    #[test]
    fn tag_delta_sets_changed_and_removes_extra() {
        let live = map(&[("a", "1"), ("b", "2"), ("extra", "x")]);
        let desired = map(&[("a", "1"), ("b", "3"), ("c", "4")]);
        let delta = TagDelta::between(&live, &desired);
        assert_eq!(delta.set, map(&[("b", "3"), ("c", "4")]));
        assert_eq!(delta.remove, vec!["extra".to_owned()]);
    }

    #[test]
    fn aws_prefixed_tags_are_not_compared() {
        let tags = comparable(vec![
            ("aws:cloudformation:stack-name".to_owned(), "x".to_owned()),
            ("Name".to_owned(), "n".to_owned()),
        ]);
        assert_eq!(tags, map(&[("Name", "n")]));
    }
}
