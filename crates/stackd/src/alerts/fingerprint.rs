//! Fingerprints: of each component's desired state, to tell drift from a pending
//! change, and of a drift, to send one message per drift rather than one per pass.

use serde_json::json;
use sha2::{Digest, Sha256};
use stackd_engine::{Change, ComponentId, Graph};
use stackd_spec::model::Stack;
use std::collections::{BTreeMap, BTreeSet};

/// Computes the fingerprint of each component's desired state: its part of the file,
/// the stack's name, account, region and tags, and the fingerprints of the components
/// it needs, whose outputs feed its diff. A file change anywhere upstream of a
/// component therefore changes its fingerprint too.
///
/// NOTE: the fingerprint hashes the validated model's JSON form, so a stackd upgrade
/// that changes that form changes every fingerprint once, and the first pass after it
/// treats each difference as a pending change.
pub fn desired(stack: &Stack, graph: &Graph) -> BTreeMap<ComponentId, String> {
    let envelope = json!({
        "name": stack.name,
        "account": stack.account,
        "region": stack.region,
        "tags": stack.tags,
    })
    .to_string();
    let parts: BTreeMap<String, String> = stack
        .components()
        .into_iter()
        .map(|component| (component.id, component.desired.to_string()))
        .collect();

    // The graph lists every node after the nodes it needs.
    let mut fingerprints: BTreeMap<ComponentId, String> = BTreeMap::new();
    for node in graph.nodes() {
        let id = node.id();
        let mut hasher = Sha256::new();
        hasher.update(envelope.as_bytes());
        hasher.update(b"\n");
        let part = parts.get(&id.to_string()).map_or("null", String::as_str);
        hasher.update(part.as_bytes());
        let needs: BTreeSet<ComponentId> = node.needs().into_iter().collect();
        for need in needs {
            let upstream = fingerprints.get(&need).map_or("", String::as_str);
            hasher.update(format!("\n{need}={upstream}").as_bytes());
        }
        fingerprints.insert(id, hex(&hasher.finalize()[..16]));
    }
    fingerprints
}

/// Computes the fingerprint of a drift: the component and, for each change, the
/// resource, the kind of change and the paths of its fields. Values are left out, so
/// that a value that keeps moving (a rule's port changed twice) is still one drift.
pub fn drift(component: &str, changes: &[Change]) -> String {
    let mut lines = BTreeSet::new();
    for change in changes {
        let kind = serde_json::to_string(&change.kind).unwrap_or_default();
        if change.fields.is_empty() {
            lines.insert(format!("{}\t{kind}", change.resource));
        }
        for field in &change.fields {
            lines.insert(format!("{}\t{kind}\t{}", change.resource, field.path));
        }
    }
    let mut hasher = Sha256::new();
    hasher.update(component.as_bytes());
    for line in lines {
        hasher.update(b"\n");
        hasher.update(line.as_bytes());
    }
    hex(&hasher.finalize()[..6])
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use stackd_engine::ChangeKind;

    fn rule_drift(port: u16) -> Vec<Change> {
        vec![Change::new(ChangeKind::Update, "security-group/ecs").field(
            "ingress",
            format!("tcp {port} from 10.0.0.0/16"),
            serde_json::Value::Null,
        )]
    }

    #[test]
    fn drift_ignores_values() {
        assert_eq!(
            drift("security-groups", &rule_drift(8080)),
            drift("security-groups", &rule_drift(8081))
        );
    }

    #[test]
    fn drift_depends_on_component_and_fields() {
        let base = drift("security-groups", &rule_drift(8080));
        assert_ne!(drift("network", &rule_drift(8080)), base);
        let mut more = rule_drift(8080);
        more.push(Change::new(ChangeKind::Update, "security-group/ecs").field(
            "tags.Team",
            "x",
            serde_json::Value::Null,
        ));
        assert_ne!(drift("security-groups", &more), base);
        assert_eq!(base.len(), 12);
    }

    #[test]
    fn drift_ignores_the_order_of_changes() {
        let a = Change::new(ChangeKind::Update, "subnet/a").field("tags.Name", "x", "y");
        let b = Change::new(ChangeKind::Create, "route-table/b");
        assert_eq!(
            drift("network", &[a.clone(), b.clone()]),
            drift("network", &[b, a])
        );
    }
}
