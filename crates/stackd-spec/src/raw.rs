//! Raw serde types that mirror the desired-state file field by field, before any validation.
//!
//! Values that need a check with a precise message (CIDRs, ports, names, references) stay
//! strings or wide integers here, and `validate` turns them into the model's types.
//! A choice between alternatives (a rule's peer, a route's target, an AMI source, a
//! distribution's origin) is a struct of optional fields rather than an untagged enum, so
//! that a mistake yields "exactly one of" instead of serde's "did not match any variant".

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;

/// The whole file: a Kubernetes-style object of kind `Stack`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Stack {
    /// A file this one is laid over, relative to this file's folder: its mappings
    /// merge key by key, other values replace the base's, and `null` removes a key.
    #[serde(default)]
    pub extends: Option<String>,
    /// Must be `stackd.dev/v1alpha1`.
    pub api_version: String,
    /// Must be `Stack`.
    pub kind: String,
    pub metadata: Metadata,
    pub spec: StackSpec,
}

/// Object metadata in the Kubernetes manner.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Metadata {
    /// Stack name: lowercase letters, digits and hyphens, at most 40 characters.
    pub name: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

/// The desired state of every AWS resource of the stack.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct StackSpec {
    /// AWS account id, 12 digits. Quote it, or YAML reads it as a number.
    pub account: String,
    /// AWS region name, such as `eu-west-3`.
    pub region: String,
    /// Tags added to every taggable resource.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    pub network: Network,
    #[serde(default)]
    pub security_groups: Vec<SecurityGroup>,
    #[serde(default)]
    pub vpc_endpoints: Vec<VpcEndpoint>,
    #[serde(default)]
    pub iam: Iam,
    #[serde(default)]
    pub compute: Compute,
    #[serde(default)]
    pub load_balancers: Vec<LoadBalancer>,
    #[serde(default)]
    pub services: Vec<Service>,
    #[serde(default)]
    pub apis: Vec<HttpApi>,
    #[serde(default)]
    pub buckets: Vec<Bucket>,
    #[serde(default)]
    pub distributions: Vec<Distribution>,
    #[serde(default)]
    pub caches: Vec<ServerlessCache>,
    /// The S3 object through which runs of stackd on this stack take turns to write.
    #[serde(default)]
    pub lease: Option<Lease>,
    /// Slack alerts on drift and on components that cannot converge.
    pub alerts: Option<Alerts>,
    /// What stackd does when live state drifts from the file, per component.
    pub drift: Option<Drift>,
}

/// The S3 object that lets one stackd run at a time write to the stack: the
/// daemon and CI runs take it before their first write.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Lease {
    /// The bucket that holds the lease object. stackd creates it, private and
    /// encrypted, when it does not exist. Keep it out of `spec.buckets`.
    pub bucket: String,
    /// The object key; `stackd/<stack name>.lease` when not set.
    #[serde(default)]
    pub key: Option<String>,
    /// Seconds after its last renewal at which a holder that stopped renewing
    /// (a killed process) loses the lease; 10 to 3600, 60 when not set.
    #[serde(default)]
    pub ttl_seconds: Option<u32>,
}

// ---------------------------------------------------------------------------------------------
// Network

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Network {
    pub vpc: Vpc,
    pub subnets: Vec<Subnet>,
    #[serde(default)]
    pub internet_gateway: bool,
    #[serde(default)]
    pub nat_gateways: Vec<NatGateway>,
    #[serde(default)]
    pub route_tables: Vec<RouteTable>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Vpc {
    /// IPv4 CIDR block, a /16 to /28 network.
    pub cidr: String,
    #[serde(default = "default_true")]
    pub enable_dns_support: bool,
    #[serde(default)]
    pub enable_dns_hostnames: bool,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Subnet {
    pub id: String,
    pub tier: SubnetTier,
    /// Availability zone name, such as `eu-west-3a`.
    pub zone: String,
    pub cidr: String,
    #[serde(default)]
    pub map_public_ip_on_launch: bool,
}

#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum SubnetTier {
    Public,
    Private,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NatGateway {
    pub id: String,
    /// Logical id of the public subnet that contains the NAT gateway.
    pub subnet: String,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RouteTable {
    pub id: String,
    #[serde(default)]
    pub subnets: Vec<String>,
    #[serde(default)]
    pub routes: Vec<Route>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Route {
    pub destination: String,
    pub target: RouteTarget,
}

/// Exactly one of the fields.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RouteTarget {
    /// `true` to route to the stack's internet gateway.
    pub internet_gateway: Option<bool>,
    /// Logical id of a NAT gateway.
    pub nat_gateway: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Security groups and VPC endpoints

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SecurityGroup {
    pub id: String,
    pub name: String,
    pub description: String,
    #[serde(default)]
    pub ingress: Vec<IngressRule>,
    /// Omitted: AWS's default rule (all traffic to 0.0.0.0/0). An empty list: no egress.
    pub egress: Option<Vec<EgressRule>>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct IngressRule {
    pub protocol: Protocol,
    #[schemars(range(min = 1, max = 65535))]
    pub port: Option<i64>,
    pub port_range: Option<PortRange>,
    pub from: Vec<Peer>,
    pub description: Option<String>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct EgressRule {
    pub protocol: Protocol,
    #[schemars(range(min = 1, max = 65535))]
    pub port: Option<i64>,
    pub port_range: Option<PortRange>,
    pub to: Vec<Peer>,
    pub description: Option<String>,
}

#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum Protocol {
    Tcp,
    Udp,
    Icmp,
    /// Every protocol, without ports.
    All,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PortRange {
    #[schemars(range(min = 1, max = 65535))]
    pub from: i64,
    #[schemars(range(min = 1, max = 65535))]
    pub to: i64,
}

/// Exactly one of the fields.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Peer {
    pub cidr: Option<String>,
    /// Logical id of a subnet: the rule uses the subnet's CIDR.
    pub subnet: Option<String>,
    /// Logical id of a security group.
    pub security_group: Option<String>,
    /// `true` for the rule's own security group.
    #[serde(rename = "self")]
    pub self_: Option<bool>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct VpcEndpoint {
    pub id: String,
    /// Short service name, such as `s3` or `secretsmanager`.
    pub service: String,
    #[serde(rename = "type")]
    pub endpoint_type: EndpointType,
    #[serde(default)]
    pub route_tables: Vec<String>,
    #[serde(default)]
    pub subnets: Vec<String>,
    #[serde(default)]
    pub security_groups: Vec<String>,
    /// Defaults to true for interface endpoints, as in AWS.
    pub private_dns: Option<bool>,
}

#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
pub enum EndpointType {
    Gateway,
    Interface,
}

// ---------------------------------------------------------------------------------------------
// IAM

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Iam {
    #[serde(default)]
    pub roles: Vec<Role>,
    #[serde(default)]
    pub users: Vec<User>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Role {
    pub id: String,
    pub name: String,
    /// Service principals allowed to assume the role, such as `ecs-tasks.amazonaws.com`.
    pub trusted_services: Vec<String>,
    #[serde(default)]
    pub managed_policies: Vec<String>,
    #[serde(default)]
    pub inline_policies: Vec<InlinePolicy>,
    /// Creates an instance profile of the same name for EC2 instances.
    #[serde(default)]
    pub instance_profile: bool,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct User {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub managed_policies: Vec<String>,
    #[serde(default)]
    pub inline_policies: Vec<InlinePolicy>,
    /// Name of the Secrets Manager secret that stores the user's access key.
    pub access_key_secret: Option<String>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct InlinePolicy {
    pub name: String,
    pub statements: Vec<PolicyStatement>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PolicyStatement {
    pub effect: Effect,
    pub actions: Vec<String>,
    /// Resource ARNs, with `${…}` interpolations allowed.
    pub resources: Vec<String>,
}

#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
pub enum Effect {
    Allow,
    Deny,
}

// ---------------------------------------------------------------------------------------------
// Compute

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Compute {
    #[serde(default)]
    pub launch_templates: Vec<LaunchTemplate>,
    #[serde(default)]
    pub auto_scaling_groups: Vec<AutoScalingGroup>,
    #[serde(default)]
    pub capacity_providers: Vec<CapacityProvider>,
    #[serde(default)]
    pub clusters: Vec<Cluster>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LaunchTemplate {
    pub id: String,
    pub name: String,
    pub instance_type: String,
    pub ami: Ami,
    /// Logical id of a role with `instanceProfile: true`.
    pub instance_profile: Option<String>,
    #[serde(default)]
    pub security_groups: Vec<String>,
    /// Logical id of the ECS cluster the instances join.
    pub cluster: Option<String>,
}

/// Exactly one of the fields.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Ami {
    /// Public SSM parameter whose value is the AMI id.
    pub ssm_parameter: Option<String>,
    /// AMI id, such as `ami-0123456789abcdef0`.
    pub id: Option<String>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AutoScalingGroup {
    pub id: String,
    pub name: String,
    pub launch_template: String,
    pub subnets: Vec<String>,
    pub min_size: u32,
    pub max_size: u32,
    pub desired_capacity: Option<u32>,
    pub spot: Option<SpotOptions>,
    #[serde(default)]
    pub new_instances_protected_from_scale_in: bool,
    /// Attributes that stackd sets on creation only and never reverts afterwards.
    #[serde(default)]
    pub ignore_changes: Vec<AutoScalingGroupAttribute>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SpotOptions {
    pub instance_types: Vec<String>,
    #[serde(default)]
    pub on_demand_base_capacity: u32,
    #[serde(default)]
    pub on_demand_percentage_above_base_capacity: u32,
    pub allocation_strategy: SpotAllocationStrategy,
}

#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum SpotAllocationStrategy {
    PriceCapacityOptimized,
    CapacityOptimized,
    CapacityOptimizedPrioritized,
    LowestPrice,
}

#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum AutoScalingGroupAttribute {
    DesiredCapacity,
    MinSize,
    MaxSize,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CapacityProvider {
    pub id: String,
    pub name: String,
    pub auto_scaling_group: String,
    pub managed_scaling: Option<ManagedScaling>,
    #[serde(default)]
    pub managed_termination_protection: bool,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ManagedScaling {
    /// Target utilisation of the group in percent, 1 to 100.
    pub target_capacity: u32,
    #[serde(default = "default_one")]
    pub minimum_scaling_step_size: u32,
    #[serde(default = "default_max_scaling_step")]
    pub maximum_scaling_step_size: u32,
    pub instance_warmup_period: Option<u32>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Cluster {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub capacity_providers: Vec<String>,
    #[serde(default)]
    pub default_strategy: Vec<CapacityProviderStrategyItem>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CapacityProviderStrategyItem {
    pub capacity_provider: String,
    #[serde(default)]
    pub weight: u32,
    #[serde(default)]
    pub base: u32,
}

// ---------------------------------------------------------------------------------------------
// Load balancers

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LoadBalancer {
    pub id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub load_balancer_type: LoadBalancerType,
    pub scheme: LoadBalancerScheme,
    pub subnets: Vec<String>,
    #[serde(default)]
    pub security_groups: Vec<String>,
    #[serde(default)]
    pub target_groups: Vec<TargetGroup>,
    #[serde(default)]
    pub listeners: Vec<Listener>,
}

#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum LoadBalancerType {
    Network,
    Application,
}

#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum LoadBalancerScheme {
    Internal,
    InternetFacing,
}

#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ElbProtocol {
    Tcp,
    Udp,
    TcpUdp,
    Tls,
    Http,
    Https,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TargetGroup {
    pub id: String,
    pub name: String,
    pub protocol: ElbProtocol,
    #[schemars(range(min = 1, max = 65535))]
    pub port: i64,
    pub target_type: TargetType,
    pub health_check: Option<HealthCheck>,
}

#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum TargetType {
    Ip,
    Instance,
    Alb,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HealthCheck {
    pub protocol: ElbProtocol,
    /// Port to probe, or the target's traffic port when omitted.
    #[schemars(range(min = 1, max = 65535))]
    pub port: Option<i64>,
    /// Request path, for HTTP and HTTPS health checks only.
    pub path: Option<String>,
    pub interval_seconds: Option<u32>,
    pub timeout_seconds: Option<u32>,
    pub healthy_threshold: Option<u32>,
    pub unhealthy_threshold: Option<u32>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Listener {
    pub id: String,
    pub protocol: ElbProtocol,
    #[schemars(range(min = 1, max = 65535))]
    pub port: i64,
    /// Logical id of a target group of the same load balancer.
    pub target_group: String,
    /// ACM certificate, required for TLS and HTTPS listeners.
    pub certificate_arn: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// ECS services

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Service {
    pub id: String,
    pub name: String,
    pub cluster: String,
    pub desired_count: u32,
    pub subnets: Vec<String>,
    #[serde(default)]
    pub security_groups: Vec<String>,
    pub load_balancer: Option<ServiceLoadBalancer>,
    pub task_definition: TaskDefinition,
    /// Attributes that stackd sets on creation only and never reverts afterwards.
    #[serde(default)]
    pub ignore_changes: Vec<ServiceAttribute>,
}

#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum ServiceAttribute {
    /// Handed to Application Auto Scaling, which then owns the count.
    DesiredCount,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ServiceLoadBalancer {
    /// `LOAD_BALANCER_ID/TARGET_GROUP_ID`.
    pub target_group: String,
    pub container: String,
    #[schemars(range(min = 1, max = 65535))]
    pub port: i64,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TaskDefinition {
    pub family: String,
    /// CPU units; 1024 is one vCPU.
    pub cpu: Option<u32>,
    /// Memory in MiB.
    pub memory: Option<u32>,
    pub execution_role: Option<String>,
    pub task_role: Option<String>,
    pub containers: Vec<ContainerDefinition>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ContainerDefinition {
    pub name: String,
    pub image: String,
    #[schemars(range(min = 1, max = 65535))]
    pub port: Option<i64>,
    #[serde(default = "default_true")]
    pub essential: bool,
    #[serde(default)]
    pub environment: BTreeMap<String, String>,
    /// Variable name to the ARN of a Secrets Manager secret or SSM parameter.
    #[serde(default)]
    pub secrets: BTreeMap<String, String>,
    /// CloudWatch Logs group for the awslogs driver.
    pub log_group: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// API Gateway HTTP APIs

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HttpApi {
    pub id: String,
    pub name: String,
    pub cors: Option<Cors>,
    pub jwt_authorizer: Option<JwtAuthorizer>,
    pub vpc_link: VpcLink,
    pub integration: Integration,
    pub routes: Vec<ApiRoute>,
    #[serde(default)]
    pub stage: Stage,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Cors {
    #[serde(default)]
    pub allow_origins: Vec<String>,
    #[serde(default)]
    pub allow_methods: Vec<String>,
    #[serde(default)]
    pub allow_headers: Vec<String>,
    #[serde(default)]
    pub expose_headers: Vec<String>,
    #[serde(default)]
    pub allow_credentials: bool,
    pub max_age_seconds: Option<u32>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct JwtAuthorizer {
    pub name: String,
    pub issuer: String,
    pub audience: Vec<String>,
    /// Identity source of the token, `$request.header.Authorization` when omitted.
    pub identity_source: Option<String>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct VpcLink {
    pub subnets: Vec<String>,
    #[serde(default)]
    pub security_groups: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Integration {
    /// `LOAD_BALANCER_ID/LISTENER_ID`.
    pub listener: String,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ApiRoute {
    /// `METHOD /path`, `ANY /path` or `$default`.
    pub key: String,
    /// `true` to skip the JWT authorizer on this route.
    #[serde(default)]
    pub public: bool,
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Stage {
    /// Defaults to `$default`.
    pub name: Option<String>,
    pub throttling: Option<Throttling>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Throttling {
    /// Steady-state requests per second.
    pub rate_limit: u32,
    /// Maximum concurrent requests above the rate.
    pub burst_limit: u32,
}

// ---------------------------------------------------------------------------------------------
// S3 buckets

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Bucket {
    pub id: String,
    pub name: String,
    /// `AES256` (SSE-S3, the default) or `aws:kms`.
    pub encryption: Option<String>,
    /// KMS key id or ARN, only with `encryption: aws:kms`. Omitted, S3 uses the AWS-managed key.
    pub kms_key_id: Option<String>,
    #[serde(default)]
    pub versioning: bool,
    /// Whether stackd keeps the bucket when it leaves the file. Defaults to true.
    #[serde(default = "default_true")]
    pub retain: bool,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

// ---------------------------------------------------------------------------------------------
// CloudFront distributions

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Distribution {
    pub id: String,
    pub comment: Option<String>,
    #[serde(default)]
    pub aliases: Vec<String>,
    /// ACM certificate in us-east-1, required with aliases.
    pub certificate_arn: Option<String>,
    pub minimum_protocol_version: Option<String>,
    pub origin: Origin,
    pub default_behavior: DefaultCacheBehavior,
    #[serde(default)]
    pub behaviors: Vec<CacheBehavior>,
    pub signed_urls: Option<SignedUrls>,
}

/// Exactly one of the fields.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Origin {
    /// Logical id of an HTTP API.
    pub api: Option<String>,
    /// Logical id of a bucket.
    pub bucket: Option<String>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DefaultCacheBehavior {
    /// Name of a CloudFront managed cache policy.
    pub cache_policy: String,
    /// Name of a CloudFront managed origin request policy.
    pub origin_request_policy: Option<String>,
    pub allowed_methods: Option<AllowedMethods>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CacheBehavior {
    pub path_pattern: String,
    pub cache_policy: String,
    pub origin_request_policy: Option<String>,
    pub allowed_methods: Option<AllowedMethods>,
}

#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum AllowedMethods {
    /// GET and HEAD.
    GetHead,
    /// GET, HEAD and OPTIONS.
    GetHeadOptions,
    /// GET, HEAD, OPTIONS, PUT, PATCH, POST and DELETE.
    All,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SignedUrls {
    pub public_keys: Vec<PublicKey>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PublicKey {
    pub id: String,
    /// PEM file of the RSA public key, relative to the folder of this file.
    pub pem_file: String,
}

// ---------------------------------------------------------------------------------------------
// ElastiCache Serverless

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ServerlessCache {
    pub id: String,
    pub name: String,
    pub engine: CacheEngine,
    /// A number in a string, such as `"8"`, or `"1.6"` for Memcached. stackd upgrades
    /// a live cache to a higher version in place; `plan` shows a downgrade as a
    /// replacement, and `reconcile` refuses it.
    pub major_version: String,
    pub subnets: Vec<String>,
    #[serde(default)]
    pub security_groups: Vec<String>,
    pub limits: Option<CacheUsageLimits>,
    /// Days that ElastiCache keeps automatic snapshots, 0 to 35. Omitted, stackd leaves
    /// the cache's value as it is.
    pub snapshot_retention_limit: Option<u32>,
    /// UTC time of the daily snapshot, as `HH:MM`. Omitted, stackd leaves the cache's
    /// value as it is.
    pub daily_snapshot_time: Option<String>,
    /// Whether stackd keeps the cache when it leaves the file. Defaults to true,
    /// because the cache contains user sessions. stackd writes the choice on the
    /// cache as its `stackd:deletion-policy` tag, so set it to false and reconcile
    /// before removing the cache from the file.
    #[serde(default = "default_true")]
    pub retain: bool,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum CacheEngine {
    Valkey,
    Redis,
    Memcached,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CacheUsageLimits {
    /// GB, 1 to 5000. Omitted, data storage is unlimited.
    pub data_storage_max_gb: Option<u32>,
    /// GB, 1 to 5000, at most `dataStorageMaxGb`.
    pub data_storage_min_gb: Option<u32>,
    /// ECPU per second, 1000 to 15000000. Omitted, ECPU per second is unlimited.
    pub ecpu_per_second_max: Option<u32>,
    /// ECPU per second, 1000 to 15000000, at most `ecpuPerSecondMax`.
    pub ecpu_per_second_min: Option<u32>,
}

// ---------------------------------------------------------------------------------------------
// Alerts and drift

/// Settings of the Slack alerts. The webhook URL is a secret and never comes from this file.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Alerts {
    /// Language of the messages. Default `en`.
    pub language: Option<Language>,
    /// Minutes after which an alert that still holds is sent again, 1 to 43200 (30 days).
    /// Default 1440 (one day).
    #[schemars(range(min = 1, max = 43_200))]
    pub remind_after_minutes: Option<i64>,
    /// Passes in a row in which a component ends in Error, or stopped by a guard, before
    /// an alert, 1 to 100. Default 3.
    #[schemars(range(min = 1, max = 100))]
    pub error_after_failed_passes: Option<i64>,
    /// Minutes a component may stay Progressing before an alert, 1 to 1440. Default 30.
    #[schemars(range(min = 1, max = 1_440))]
    pub progressing_alert_after_minutes: Option<i64>,
    /// Maximum messages sent per hour, 1 to 3600; the others are dropped and counted in
    /// the metrics. Default 20.
    #[schemars(range(min = 1, max = 3_600))]
    pub max_messages_per_hour: Option<i64>,
    /// Read only to reject it with a message that says where the URL goes instead.
    #[schemars(skip)]
    pub webhook_url: Option<serde::de::IgnoredAny>,
    /// Read only to reject it, like `webhookUrl`.
    #[schemars(skip)]
    pub webhook: Option<serde::de::IgnoredAny>,
}

#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum Language {
    En,
    Fr,
}

/// Drift policies: the one of every component not listed, and per component.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Drift {
    /// Policy of the components that `components` does not list. Default `correct`.
    pub default: Option<DriftPolicy>,
    /// Component, as plans name it (such as `security-groups` or `bucket/media`), to its
    /// policy.
    #[serde(default)]
    pub components: BTreeMap<String, DriftPolicy>,
}

/// What stackd does when live state differs from a file that did not change.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum DriftPolicy {
    /// Put the file's state back and alert.
    Correct,
    /// Alert, and change nothing until the file changes.
    AlertOnly,
    /// Neither alert nor change anything until the file changes.
    Ignore,
}

fn default_true() -> bool {
    true
}

fn default_one() -> u32 {
    1
}

/// AWS's default maximum scaling step size for ECS managed scaling.
fn default_max_scaling_step() -> u32 {
    10_000
}
