//! Builds the engine's graph for a validated stack: one node per component, with
//! the kinds stackd cannot reconcile yet listed as unsupported.

use crate::buckets::BucketComponent;
use crate::caches::CacheComponent;
use crate::clients::AwsClients;
use crate::iam::{IamComponent, TemplateValues};
use crate::network::NetworkComponent;
use crate::security_groups::SecurityGroupsComponent;
use crate::tags::Tagger;
use crate::vpc_endpoints::VpcEndpointsComponent;
use crate::{buckets, caches, iam, network, security_groups, vpc_endpoints};
use stackd_engine::{ComponentId, Graph, GraphError, Node};
use stackd_spec::model::{Origin, Stack};

/// Builds the graph of every component of the stack, in the order of the file.
pub fn build_graph(stack: &Stack, clients: &AwsClients) -> Result<Graph, GraphError> {
    let tagger = Tagger::new(&stack.name, &stack.tags);
    let network_id = ComponentId::single(network::KIND);
    let groups_id = ComponentId::single(security_groups::KIND);
    let bucket_id = |bucket: &str| ComponentId::named(buckets::KIND, bucket);

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
    let iam_id = ComponentId::single(iam::KIND);
    if !iam.roles.is_empty() || !iam.users.is_empty() {
        nodes.push(Node::component(IamComponent::new(
            clients.clone(),
            tagger.clone(),
            iam,
            &TemplateValues::from_stack(stack),
        )));
    }

    // Kinds without a reconciler yet: listed with their resources and their
    // dependencies, so the plan shows them and the graph keeps its final shape.
    for user in &iam.users {
        if let Some(secret) = &user.access_key_secret {
            nodes.push(Node::unsupported(
                ComponentId::named("access-key", &user.id),
                vec![iam_id.clone()],
                vec![format!("secret/{secret}")],
            ));
        }
    }
    let compute = &stack.compute;
    let compute_resources: Vec<String> = compute
        .launch_templates
        .iter()
        .map(|template| format!("launch-template/{}", template.id))
        .chain(
            compute
                .auto_scaling_groups
                .iter()
                .map(|group| format!("auto-scaling-group/{}", group.id)),
        )
        .chain(
            compute
                .capacity_providers
                .iter()
                .map(|provider| format!("capacity-provider/{}", provider.id)),
        )
        .chain(
            compute
                .clusters
                .iter()
                .map(|cluster| format!("cluster/{}", cluster.id)),
        )
        .collect();
    if !compute_resources.is_empty() {
        let mut needs = vec![network_id.clone(), groups_id.clone()];
        if !iam.roles.is_empty() {
            needs.push(iam_id.clone());
        }
        nodes.push(Node::unsupported(
            ComponentId::single("compute"),
            needs,
            compute_resources,
        ));
    }
    for balancer in &stack.load_balancers {
        let resources = balancer
            .target_groups
            .iter()
            .map(|group| format!("target-group/{}", group.id))
            .chain(
                balancer
                    .listeners
                    .iter()
                    .map(|listener| format!("listener/{}", listener.id)),
            )
            .collect();
        nodes.push(Node::unsupported(
            ComponentId::named("load-balancer", &balancer.id),
            vec![network_id.clone(), groups_id.clone()],
            resources,
        ));
    }
    for cache in &stack.caches {
        nodes.push(Node::component(CacheComponent::new(
            clients.clone(),
            tagger.clone(),
            cache.clone(),
        )));
    }
    for service in &stack.services {
        let mut needs = vec![
            network_id.clone(),
            groups_id.clone(),
            ComponentId::single("compute"),
        ];
        if let Some(balancer) = &service.load_balancer {
            needs.push(ComponentId::named(
                "load-balancer",
                &balancer.target_group.load_balancer,
            ));
        }
        needs.extend(
            stack
                .caches
                .iter()
                .map(|cache| ComponentId::named(caches::KIND, &cache.id)),
        );
        nodes.push(Node::unsupported(
            ComponentId::named("service", &service.id),
            needs,
            vec![format!(
                "task-definition/{}",
                service.task_definition.family
            )],
        ));
    }
    for api in &stack.apis {
        let needs = vec![
            network_id.clone(),
            groups_id.clone(),
            ComponentId::named("load-balancer", &api.integration.listener.load_balancer),
        ];
        nodes.push(Node::unsupported(
            ComponentId::named("api", &api.id),
            needs,
            Vec::new(),
        ));
    }
    for distribution in &stack.distributions {
        let needs = match &distribution.origin {
            Origin::Api(api) => vec![ComponentId::named("api", api)],
            Origin::Bucket(bucket) => vec![bucket_id(bucket)],
        };
        nodes.push(Node::unsupported(
            ComponentId::named("distribution", &distribution.id),
            needs,
            distribution.aliases.clone(),
        ));
    }
    // A bucket policy admits its distribution, so it comes after both.
    for distribution in &stack.distributions {
        if let Origin::Bucket(bucket) = &distribution.origin {
            nodes.push(Node::unsupported(
                ComponentId::named("bucket-policy", bucket),
                vec![
                    bucket_id(bucket),
                    ComponentId::named("distribution", &distribution.id),
                ],
                Vec::new(),
            ));
        }
    }
    let _ = vpc_endpoints::KIND;
    Graph::new(nodes)
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
