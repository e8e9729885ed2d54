//! The component graph: nodes in dependency order, checked for missing nodes and cycles.

use crate::component::{ComponentId, Node};
use std::collections::{BTreeMap, BTreeSet};

/// Reasons a set of nodes is not a graph the engine can run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GraphError {
    #[error("two components are named {0}")]
    Duplicate(ComponentId),
    #[error("{node} needs {missing}, which is not in the graph")]
    MissingDependency {
        node: ComponentId,
        missing: ComponentId,
    },
    #[error("the components {0:?} depend on each other in a cycle")]
    Cycle(Vec<String>),
}

/// Nodes sorted so that every node comes after the nodes it needs.
#[derive(Debug, Clone)]
pub struct Graph {
    nodes: Vec<Node>,
}

impl Graph {
    /// Sorts the nodes in dependency order, keeping the given order among
    /// independent nodes.
    pub fn new(nodes: Vec<Node>) -> Result<Self, GraphError> {
        let mut by_id = BTreeMap::new();
        for (index, node) in nodes.iter().enumerate() {
            if by_id.insert(node.id(), index).is_some() {
                return Err(GraphError::Duplicate(node.id()));
            }
        }
        for node in &nodes {
            for need in node.needs() {
                if !by_id.contains_key(&need) {
                    return Err(GraphError::MissingDependency {
                        node: node.id(),
                        missing: need,
                    });
                }
            }
        }

        // Kahn's algorithm, taking the earliest ready node each time so the order is stable.
        let mut placed = BTreeSet::new();
        let mut ordered = Vec::with_capacity(nodes.len());
        while ordered.len() < nodes.len() {
            let next = nodes.iter().position(|node| {
                !placed.contains(&node.id())
                    && node.needs().iter().all(|need| placed.contains(need))
            });
            let Some(index) = next else {
                let stuck = nodes
                    .iter()
                    .filter(|node| !placed.contains(&node.id()))
                    .map(|node| node.id().to_string())
                    .collect();
                return Err(GraphError::Cycle(stuck));
            };
            placed.insert(nodes[index].id());
            ordered.push(nodes[index].clone());
        }
        Ok(Graph { nodes: ordered })
    }

    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str, needs: &[&str]) -> Node {
        Node::unsupported(
            ComponentId::single(name),
            needs.iter().map(|need| ComponentId::single(need)).collect(),
            Vec::new(),
        )
    }

    fn names(graph: &Graph) -> Vec<String> {
        graph
            .nodes()
            .iter()
            .map(|node| node.id().to_string())
            .collect()
    }

    #[test]
    fn dependencies_come_first() {
        let graph = Graph::new(vec![
            node("endpoints", &["network", "groups"]),
            node("groups", &["network"]),
            node("network", &[]),
        ])
        .unwrap();
        assert_eq!(names(&graph), ["network", "groups", "endpoints"]);
    }

    #[test]
    fn missing_dependency_is_rejected() {
        let error = Graph::new(vec![node("groups", &["network"])]).unwrap_err();
        assert_eq!(
            error.to_string(),
            "groups needs network, which is not in the graph"
        );
    }

    #[test]
    fn cycle_is_rejected() {
        let error =
            Graph::new(vec![node("a", &["b"]), node("b", &["a"]), node("c", &[])]).unwrap_err();
        assert_eq!(
            error,
            GraphError::Cycle(vec!["a".to_owned(), "b".to_owned()])
        );
    }

    #[test]
    fn duplicate_is_rejected() {
        let error = Graph::new(vec![node("a", &[]), node("a", &[])]).unwrap_err();
        assert_eq!(error, GraphError::Duplicate(ComponentId::single("a")));
    }
}
