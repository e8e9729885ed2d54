//! The production file config/beezyup-prod-c01.yaml loads, with its expected warnings and model.

use std::path::{Path, PathBuf};

use ipnet::Ipv4Net;
use stackd_spec::model::{
    Ami, AutoScalingGroupAttribute, BucketEncryption, CacheAttribute, CacheEngine, DriftPolicy,
    EndpointType, Interpolation, Language, LoadBalancerScheme, LoadBalancerType, Origin, Peer,
    PortRange, Protocol, RouteKey, RouteTarget, Stack, SubnetTier, TargetGroupRef, TargetType,
    TemplatePart,
};
use stackd_spec::{Loaded, Severity};

const TEXT: &str = include_str!("../../../config/beezyup-prod-c01.yaml");
const FILE: &str = "config/beezyup-prod-c01.yaml";

fn load() -> Loaded {
    stackd_spec::load(TEXT, FILE).unwrap_or_else(|error| panic!("{error}"))
}

fn stack() -> Stack {
    load().stack
}

fn net(text: &str) -> Ipv4Net {
    text.parse().unwrap()
}

#[test]
fn file_loads_with_two_warnings() {
    let warnings = load().warnings;
    let listing: Vec<String> = warnings.iter().map(ToString::to_string).collect();
    assert_eq!(warnings.len(), 2, "{}", listing.join("\n"));
    assert!(warnings.iter().all(|w| w.severity == Severity::Warning));
}

#[test]
fn cached_leads_behavior_warns_about_authorization() {
    let warnings = load().warnings;
    let warning = warnings
        .iter()
        .find(|w| w.path == "spec.distributions[0].behaviors[0].cachePolicy")
        .expect("a warning on the /leads/* cache policy");
    assert_eq!((warning.line, warning.column), (304, 24));
    assert!(warning.message.contains("/leads/*"), "{}", warning.message);
    assert!(
        warning.message.contains("Authorization"),
        "{}",
        warning.message
    );
    assert!(warning.help.as_deref().unwrap_or_default().contains("401"));
}

#[test]
fn single_nat_gateway_warns_about_zones() {
    let warnings = load().warnings;
    let warning = warnings
        .iter()
        .find(|w| w.path == "spec.network.natGateways[0]")
        .expect("a warning on the shared NAT gateway");
    assert_eq!(warning.line, 55);
    assert!(
        warning.message.contains("eu-west-3a, eu-west-3b"),
        "{}",
        warning.message
    );
    assert!(warning.help.is_some());
}

#[test]
fn envelope_is_read() {
    let stack = stack();
    assert_eq!(stack.name, "beezyup-prod-c01");
    assert_eq!(stack.account, "000000000000");
    assert_eq!(stack.region, "eu-west-3");
    assert_eq!(stack.labels["environment"], "prod");
    assert_eq!(stack.tags["Project"], "beezyup");
}

#[test]
fn network_has_four_subnets_and_one_nat() {
    let network = stack().network;
    assert_eq!(network.vpc.cidr, net("10.0.0.0/16"));
    assert!(network.vpc.enable_dns_support);
    assert!(network.vpc.enable_dns_hostnames);
    assert_eq!(network.subnets.len(), 4);
    assert_eq!(network.nat_gateways.len(), 1);
    assert_eq!(network.route_tables.len(), 3);
    assert!(network.internet_gateway);

    let private_a = network.subnet("private-a").unwrap();
    assert_eq!(private_a.tier, SubnetTier::Private);
    assert_eq!(private_a.zone, "eu-west-3a");
    assert_eq!(private_a.cidr, net("10.0.10.0/24"));
    assert!(!private_a.map_public_ip_on_launch);
    assert_eq!(network.nat_gateways[0].subnet, "public-a");
}

#[test]
fn private_route_tables_target_nat() {
    let network = stack().network;
    let table = network.route_table("private-b").unwrap();
    assert_eq!(table.subnets, vec!["private-b"]);
    assert_eq!(table.routes[0].destination, net("0.0.0.0/0"));
    assert_eq!(
        table.routes[0].target,
        RouteTarget::NatGateway("nat-a".into())
    );
    let public = network.route_table("public").unwrap();
    assert_eq!(public.routes[0].target, RouteTarget::InternetGateway);
    assert_eq!(
        network.route_table_of_subnet("public-b").unwrap().id,
        "public"
    );
}

#[test]
fn security_group_rules_flatten_per_peer() {
    let stack = stack();
    let ecs = stack.security_group("ecs").unwrap();
    assert_eq!(ecs.ingress.len(), 2);
    assert_eq!(ecs.ingress[0].protocol, Protocol::Tcp);
    assert_eq!(ecs.ingress[0].ports, Some(PortRange { from: 80, to: 80 }));
    assert_eq!(ecs.ingress[0].peer, Peer::Cidr(net("10.0.10.0/24")));
    assert_eq!(ecs.ingress[1].peer, Peer::Cidr(net("10.0.11.0/24")));

    assert_eq!(ecs.egress.len(), 1, "omitted egress is AWS's default rule");
    assert_eq!(ecs.egress[0].protocol, Protocol::All);
    assert_eq!(ecs.egress[0].ports, None);
    assert_eq!(ecs.egress[0].peer, Peer::Cidr(net("0.0.0.0/0")));

    let cache = stack.security_group("cache").unwrap();
    assert_eq!(cache.ingress[0].peer, Peer::SecurityGroup("ecs".into()));
}

#[test]
fn vpc_endpoints_are_typed() {
    let endpoints = stack().vpc_endpoints;
    assert_eq!(endpoints[0].endpoint_type, EndpointType::Gateway);
    assert_eq!(endpoints[0].route_tables, vec!["private-a", "private-b"]);
    assert!(!endpoints[0].private_dns);
    assert_eq!(endpoints[1].endpoint_type, EndpointType::Interface);
    assert_eq!(endpoints[1].security_groups, vec!["endpoints"]);
    assert!(endpoints[1].private_dns);
}

#[test]
fn iam_resources_are_templates() {
    let stack = stack();
    let task = stack.role("task").unwrap();
    let resource = &task.inline_policies[0].statements[0].resources[0];
    assert_eq!(resource.to_string(), "${bucket:media.arn}/*");
    assert!(matches!(
        resource.parts[0],
        TemplatePart::Interpolation(Interpolation::Bucket { ref id, .. }) if id == "media"
    ));
    assert!(stack.role("ecs-instance").unwrap().instance_profile);
    assert_eq!(
        stack.iam.users[0].access_key_secret.as_deref(),
        Some("beezyup/prod/media-uploader")
    );
}

#[test]
fn compute_chain_is_resolved() {
    let compute = stack().compute;
    let template = &compute.launch_templates[0];
    assert!(matches!(&template.ami, Ami::SsmParameter(p) if p.ends_with("/image_id")));
    assert_eq!(template.instance_profile.as_deref(), Some("ecs-instance"));
    assert_eq!(template.cluster.as_deref(), Some("main"));

    let group = &compute.auto_scaling_groups[0];
    assert_eq!(group.launch_template, "ecs-spot");
    assert_eq!((group.min_size, group.max_size), (0, 4));
    assert_eq!(
        group.ignore_changes,
        vec![AutoScalingGroupAttribute::DesiredCapacity]
    );
    let spot = group.spot.as_ref().unwrap();
    assert_eq!(spot.on_demand_percentage_above_base_capacity, 0);

    let provider = &compute.capacity_providers[0];
    assert_eq!(
        provider.managed_scaling.as_ref().unwrap().target_capacity,
        75
    );
    assert!(provider.managed_termination_protection);
    assert_eq!(
        compute.clusters[0].default_strategy[0].capacity_provider,
        "ecs-spot"
    );
}

#[test]
fn service_references_target_group_and_cache() {
    let stack = stack();
    let balancer = stack.load_balancer("api").unwrap();
    assert_eq!(balancer.load_balancer_type, LoadBalancerType::Network);
    assert_eq!(balancer.scheme, LoadBalancerScheme::Internal);
    assert_eq!(
        balancer.target_group("api").unwrap().target_type,
        TargetType::Ip
    );
    assert_eq!(balancer.listener("tcp-80").unwrap().port, 80);

    let service = &stack.services[0];
    let attachment = service.load_balancer.as_ref().unwrap();
    assert_eq!(
        attachment.target_group,
        TargetGroupRef {
            load_balancer: "api".into(),
            target_group: "api".into()
        }
    );
    let container = service.task_definition.container("api").unwrap();
    let host = &container.environment["REDIS_HOST"];
    assert_eq!(
        host.parts,
        vec![TemplatePart::Interpolation(Interpolation::Cache {
            id: "main".into(),
            attribute: CacheAttribute::Endpoint
        })]
    );
    assert_eq!(
        container.environment["APP_ENV"].as_literal().as_deref(),
        Some("production")
    );
    assert!(
        container.secrets["APP_KEY"]
            .to_string()
            .starts_with("arn:aws:secretsmanager:${region}")
    );
}

#[test]
fn api_routes_and_authorizer_are_read() {
    let stack = stack();
    let api = stack.api("api").unwrap();
    assert_eq!(api.routes.len(), 3);
    assert_eq!(
        api.routes[1].key,
        RouteKey::Route {
            method: "GET".into(),
            path: "/health".into()
        }
    );
    assert!(api.routes[1].public);
    assert!(!api.routes[0].public);
    let authorizer = api.jwt_authorizer.as_ref().unwrap();
    assert_eq!(authorizer.identity_source, "$request.header.Authorization");
    assert_eq!(api.integration.listener.to_string(), "api/tcp-80");
    assert_eq!(api.stage.name, "$default");
    assert_eq!(api.stage.throttling.as_ref().unwrap().burst_limit, 200);
}

#[test]
fn buckets_take_defaults() {
    let stack = stack();
    let media = stack.bucket("media").unwrap();
    assert_eq!(media.name, "beezyup-prod-public-media");
    assert_eq!(media.encryption, BucketEncryption::Aes256);
    assert!(media.retain);
    assert!(!media.versioning);
}

#[test]
fn cache_policy_ids_are_resolved() {
    let distributions = stack().distributions;
    let api = &distributions[0];
    assert_eq!(api.origin, Origin::Api("api".into()));
    assert_eq!(
        api.default_behavior.cache_policy.id,
        "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
    );
    assert_eq!(api.behaviors[0].path_pattern.as_deref(), Some("/leads/*"));
    assert_eq!(
        api.behaviors[0].cache_policy.id,
        "658327ea-f89d-4fab-a63d-7e88639e58f6"
    );
    assert_eq!(
        api.behaviors[0].origin_request_policy.as_ref().unwrap().id,
        "b689b0a8-53d0-40ab-baf2-68738e2966ac"
    );
    assert_eq!(distributions[1].origin, Origin::Bucket("media".into()));
}

#[test]
fn public_key_path_is_relative_to_file() {
    let distributions = stack().distributions;
    let key = &distributions[2].signed_urls.as_ref().unwrap().public_keys[0];
    assert_eq!(key.pem_file, "keys/files-signing-2026.pub.pem");
    assert_eq!(
        key.pem_path,
        PathBuf::from("config/keys/files-signing-2026.pub.pem")
    );
}

#[test]
fn public_key_file_exists() {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let distributions = stack().distributions;
    let key = &distributions[2].signed_urls.as_ref().unwrap().public_keys[0];
    let pem = std::fs::read_to_string(workspace.join(&key.pem_path)).expect("the PEM file exists");
    assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----"), "{pem}");
}

#[test]
fn cache_is_read() {
    let stack = stack();
    let cache = stack.cache("main").unwrap();
    assert_eq!(cache.engine, CacheEngine::Valkey);
    assert_eq!(cache.major_version, "8");
    assert_eq!(cache.limits.data_storage_max_gb, Some(5));
    assert_eq!(cache.limits.ecpu_per_second_max, Some(5000));
    assert_eq!(cache.limits.ecpu_per_second_min, None);
    assert!(
        cache.retain,
        "a cache is retained unless the file says otherwise"
    );
}

#[test]
fn model_serialises_to_json() {
    let value = serde_json::to_value(stack()).unwrap();
    assert_eq!(value["network"]["subnets"][0]["id"], "public-a");
    assert_eq!(
        value["iam"]["roles"][2]["inlinePolicies"][0]["statements"][0]["resources"][0],
        "${bucket:media.arn}/*"
    );
}

#[test]
fn alerts_are_in_french() {
    let alerts = stack().alerts;
    assert_eq!(alerts.language, Language::Fr);
    assert_eq!(alerts.remind_after_minutes, 1440);
    assert_eq!(alerts.error_after_failed_passes, 3);
    assert_eq!(alerts.max_messages_per_hour, 20);
}

#[test]
fn drift_is_corrected_everywhere() {
    let stack = stack();
    assert_eq!(stack.drift.default, DriftPolicy::Correct);
    for component in stack.components() {
        assert_eq!(
            stack.drift.of(&component.id),
            DriftPolicy::Correct,
            "{}",
            component.id
        );
    }
}

#[test]
fn components_are_listed_in_file_order() {
    let ids: Vec<String> = stack().components().into_iter().map(|c| c.id).collect();
    assert_eq!(
        ids,
        [
            "network",
            "security-groups",
            "vpc-endpoints",
            "bucket/media",
            "bucket/files",
            "iam",
            "access-key/media-uploader",
            "compute",
            "load-balancer/api",
            "cache/main",
            "retired-caches",
            "service/api",
            "api/api",
            "distribution/api",
            "distribution/media",
            "distribution/files",
            "bucket-policy/media",
            "bucket-policy/files",
        ]
    );
}
