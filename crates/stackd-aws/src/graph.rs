//! Builds the engine's graph for a validated stack: one node per component, with
//! the kinds stackd cannot reconcile yet listed as unsupported.

use crate::buckets::BucketComponent;
use crate::caches::CacheComponent;
use crate::clients::AwsClients;
use crate::compute::{ComputeComponent, ComputeContext};
use crate::iam::{IamComponent, TemplateValues};
use crate::load_balancers::LoadBalancerComponent;
use crate::network::NetworkComponent;
use crate::security_groups::SecurityGroupsComponent;
use crate::tags::Tagger;
use crate::vpc_endpoints::VpcEndpointsComponent;
use crate::{
    buckets, caches, compute, iam, load_balancers, network, security_groups, vpc_endpoints,
};
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
    for service in &stack.services {
        let mut needs = vec![
            network_id.clone(),
            groups_id.clone(),
            ComponentId::single(compute::KIND),
        ];
        if let Some(balancer) = &service.load_balancer {
            needs.push(ComponentId::named(
                load_balancers::KIND,
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
            ComponentId::named(
                load_balancers::KIND,
                &api.integration.listener.load_balancer,
            ),
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
