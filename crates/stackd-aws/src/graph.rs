//! Builds the engine's graph for a validated stack: one node per component, with
//! the kinds stackd cannot reconcile yet listed as unsupported.

use crate::access_keys::AccessKeyComponent;
use crate::apis::ApiComponent;
use crate::bucket_policies::BucketPolicyComponent;
use crate::buckets::BucketComponent;
use crate::caches::{CacheComponent, RetiredCachesComponent};
use crate::clients::AwsClients;
use crate::compute::{ComputeComponent, ComputeContext};
use crate::distributions::DistributionComponent;
use crate::iam::{IamComponent, TemplateValues};
use crate::load_balancers::LoadBalancerComponent;
use crate::network::NetworkComponent;
use crate::security_groups::SecurityGroupsComponent;
use crate::services::{ServiceComponent, ServiceContext};
use crate::tags::Tagger;
use crate::vpc_endpoints::VpcEndpointsComponent;
use stackd_engine::{ComponentId, Graph, GraphError, Node};
use stackd_spec::model::{Origin, Stack};
use std::collections::BTreeSet;

/// Builds the graph of every component of the stack, in the order of the file.
pub fn build_graph(stack: &Stack, clients: &AwsClients) -> Result<Graph, GraphError> {
    let tagger = Tagger::new(&stack.name, &stack.tags);

    let mut nodes = vec![
        Node::component(NetworkComponent::new(
            clients.clone(),
            tagger.clone(),
            stack.network.clone(),
        )),
        Node::component(SecurityGroupsComponent::new(
            clients.clone(),
            tagger.clone(),
            stack.security_groups.clone(),
        )),
    ];
    if !stack.vpc_endpoints.is_empty() {
        nodes.push(Node::component(VpcEndpointsComponent::new(
            clients.clone(),
            tagger.clone(),
            &stack.region,
            stack.vpc_endpoints.clone(),
        )));
    }
    for bucket in &stack.buckets {
        nodes.push(Node::component(BucketComponent::new(
            clients.clone(),
            tagger.clone(),
            &stack.region,
            bucket.clone(),
        )));
    }

    let iam = &stack.iam;
    if !iam.roles.is_empty() || !iam.users.is_empty() {
        nodes.push(Node::component(IamComponent::new(
            clients.clone(),
            tagger.clone(),
            iam,
            &TemplateValues::from_stack(stack),
        )));
    }

    for user in &iam.users {
        if let Some(secret) = &user.access_key_secret {
            nodes.push(Node::component(AccessKeyComponent::new(
                clients.clone(),
                tagger.clone(),
                &user.id,
                &user.name,
                secret,
            )));
        }
    }
    let compute = &stack.compute;
    let has_compute = !compute.launch_templates.is_empty()
        || !compute.auto_scaling_groups.is_empty()
        || !compute.capacity_providers.is_empty()
        || !compute.clusters.is_empty();
    if has_compute {
        // IAM names a role's instance profile after the role.
        let context = ComputeContext {
            instance_profile_names: iam
                .roles
                .iter()
                .filter(|role| role.instance_profile)
                .map(|role| (role.id.clone(), role.name.clone()))
                .collect(),
            services: stack
                .services
                .iter()
                .map(|service| (format!("service/{}", service.id), service.name.clone()))
                .collect(),
        };
        nodes.push(Node::component(ComputeComponent::new(
            clients.clone(),
            tagger.clone(),
            compute.clone(),
            context,
        )));
    }
    for balancer in &stack.load_balancers {
        nodes.push(Node::component(LoadBalancerComponent::new(
            clients.clone(),
            tagger.clone(),
            balancer.clone(),
        )));
    }
    for cache in &stack.caches {
        nodes.push(Node::component(CacheComponent::new(
            clients.clone(),
            tagger.clone(),
            cache.clone(),
        )));
    }
    // Caches that left the file: deleted only when their tag allows it.
    nodes.push(Node::component(RetiredCachesComponent::new(
        clients.clone(),
        &stack.name,
        stack
            .caches
            .iter()
            .map(|cache| cache.name.clone())
            .collect(),
    )));
    for service in &stack.services {
        // The containers may read any cache's endpoint, so the service waits for them all.
        let caches = stack.caches.iter().map(|cache| cache.id.clone()).collect();
        nodes.push(Node::component(ServiceComponent::new(
            clients.clone(),
            tagger.clone(),
            service.clone(),
            ServiceContext::from_stack(stack, service),
            caches,
        )));
    }
    for api in &stack.apis {
        nodes.push(Node::component(ApiComponent::new(
            clients.clone(),
            tagger.clone(),
            api.clone(),
        )));
    }
    for distribution in &stack.distributions {
        nodes.push(Node::component(DistributionComponent::new(
            clients.clone(),
            tagger.clone(),
            distribution.clone(),
        )));
    }
    // A bucket policy admits the distributions that serve the bucket, so it comes
    // after the bucket and all of them.
    for bucket in &stack.buckets {
        let readers: Vec<String> = stack
            .distributions
            .iter()
            .filter(|distribution| distribution.origin == Origin::Bucket(bucket.id.clone()))
            .map(|distribution| distribution.id.clone())
            .collect();
        if !readers.is_empty() {
            nodes.push(Node::component(BucketPolicyComponent::new(
                clients.clone(),
                &bucket.id,
                &bucket.name,
                readers,
            )));
        }
    }
    Graph::new(list_waiting_nodes(nodes))
}

/// Lists as unsupported every component that needs an unsupported one, directly or
/// not: the outputs it reads never exist, so it could only wait. The plan shows it
/// with what it needs, and it becomes a component again once its dependencies do.
fn list_waiting_nodes(mut nodes: Vec<Node>) -> Vec<Node> {
    loop {
        let unsupported: BTreeSet<ComponentId> = nodes
            .iter()
            .filter(|node| !node.is_supported())
            .map(Node::id)
            .collect();
        let mut changed = false;
        for node in &mut nodes {
            if !node.is_supported() {
                continue;
            }
            let waiting: Vec<String> = node
                .needs()
                .iter()
                .filter(|need| unsupported.contains(need))
                .map(ToString::to_string)
                .collect();
            if !waiting.is_empty() {
                *node = Node::unsupported(
                    node.id(),
                    node.needs(),
                    vec![format!("needs {}", waiting.join(", "))],
                );
                changed = true;
            }
        }
        if !changed {
            return nodes;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_are_the_spec_components() {
        let text = include_str!("../../../config/beezyup-prod-c01.yaml");
        let stack = stackd_spec::load(text, "beezyup-prod-c01.yaml")
            .expect("the production file loads")
            .stack;
        let config = aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .build();
        let graph = build_graph(&stack, &AwsClients::from_config(&config, false))
            .expect("the production graph is valid");

        let mut nodes: Vec<String> = graph
            .nodes()
            .iter()
            .map(|node| node.id().to_string())
            .collect();
        let mut components: Vec<String> = stack.components().into_iter().map(|c| c.id).collect();
        nodes.sort();
        components.sort();
        assert_eq!(
            nodes, components,
            "drift policies and alert fingerprints name components as Stack::components does"
        );
    }
}
