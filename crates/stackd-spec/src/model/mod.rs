//! The validated model of a stack: every reference resolved and checked, so later code trusts it.
//!
//! References between components are logical ids (the `id` fields of the file), and every one
//! of them names an existing component of the right kind. Names follow AWS's own terms.

mod alerts;
mod api_gateway;
mod cloudfront;
mod components;
mod compute;
mod ecs;
mod elasticache;
mod iam;
mod lease;
mod load_balancing;
mod network;
mod s3;
mod security;
mod template;

use std::collections::BTreeMap;

use serde::Serialize;

pub use alerts::{Alerts, DriftPolicies, DriftPolicy, Language};
pub use api_gateway::{
    ApiRoute, Cors, HttpApi, Integration, JwtAuthorizer, RouteKey, Stage, Throttling, VpcLink,
};
pub use cloudfront::{
    AllowedMethods, CacheBehavior, Distribution, ManagedPolicy, Origin, PublicKey, SignedUrls,
};
pub(crate) use cloudfront::{
    MANAGED_CACHE_POLICIES, MANAGED_ORIGIN_REQUEST_POLICIES, SECURITY_POLICIES,
};
pub use components::ComponentSpec;
pub use compute::{
    Ami, AutoScalingGroup, AutoScalingGroupAttribute, CapacityProvider,
    CapacityProviderStrategyItem, Cluster, Compute, LaunchTemplate, ManagedScaling,
    SpotAllocationStrategy, SpotOptions,
};
pub use ecs::{
    ContainerDefinition, Service, ServiceAttribute, ServiceLoadBalancer, TaskDefinition,
};
pub use elasticache::{CacheEngine, CacheUsageLimits, ServerlessCache};
pub use iam::{Effect, Iam, InlinePolicy, PolicyStatement, Role, User};
pub use lease::Lease;
pub use load_balancing::{
    ElbProtocol, HealthCheck, Listener, ListenerRef, LoadBalancer, LoadBalancerScheme,
    LoadBalancerType, TargetGroup, TargetGroupRef, TargetType,
};
pub use network::{NatGateway, Network, Route, RouteTable, RouteTarget, Subnet, SubnetTier, Vpc};
pub use s3::{Bucket, BucketEncryption};
pub use security::{EndpointType, Peer, PortRange, Protocol, Rule, SecurityGroup, VpcEndpoint};
pub use template::{
    BucketAttribute, CacheAttribute, Interpolation, Template, TemplateError, TemplatePart,
};

/// A whole stack, as loaded from one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Stack {
    /// `metadata.name`: lowercase letters, digits and hyphens, at most 40 characters.
    pub name: String,
    pub labels: BTreeMap<String, String>,
    /// AWS account id, 12 digits.
    pub account: String,
    /// AWS region name, such as `eu-west-3`.
    pub region: String,
    /// Tags for every taggable resource, beside stackd's own `stackd:` tags.
    pub tags: BTreeMap<String, String>,
    pub network: Network,
    pub security_groups: Vec<SecurityGroup>,
    pub vpc_endpoints: Vec<VpcEndpoint>,
    pub iam: Iam,
    pub compute: Compute,
    pub load_balancers: Vec<LoadBalancer>,
    pub services: Vec<Service>,
    pub apis: Vec<HttpApi>,
    pub buckets: Vec<Bucket>,
    pub distributions: Vec<Distribution>,
    pub caches: Vec<ServerlessCache>,
    /// The write lease, or `None` when the file names no lease.
    pub lease: Option<Lease>,
    pub alerts: Alerts,
    pub drift: DriftPolicies,
}

impl Stack {
    /// Finds a security group by logical id.
    pub fn security_group(&self, id: &str) -> Option<&SecurityGroup> {
        self.security_groups.iter().find(|group| group.id == id)
    }

    /// Finds an IAM role by logical id.
    pub fn role(&self, id: &str) -> Option<&Role> {
        self.iam.roles.iter().find(|role| role.id == id)
    }

    /// Finds a load balancer by logical id.
    pub fn load_balancer(&self, id: &str) -> Option<&LoadBalancer> {
        self.load_balancers
            .iter()
            .find(|balancer| balancer.id == id)
    }

    /// Finds an HTTP API by logical id.
    pub fn api(&self, id: &str) -> Option<&HttpApi> {
        self.apis.iter().find(|api| api.id == id)
    }

    /// Finds a bucket by logical id.
    pub fn bucket(&self, id: &str) -> Option<&Bucket> {
        self.buckets.iter().find(|bucket| bucket.id == id)
    }

    /// Finds a serverless cache by logical id.
    pub fn cache(&self, id: &str) -> Option<&ServerlessCache> {
        self.caches.iter().find(|cache| cache.id == id)
    }
}
