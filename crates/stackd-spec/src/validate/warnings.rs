//! Warnings: settings that load and deploy, but that an operator most likely did not mean.

use std::collections::BTreeSet;

use super::Context;
use crate::model::{
    self, AutoScalingGroupAttribute, Effect, Origin, RouteTarget, Stack, SubnetTier, TemplatePart,
};
use crate::path;

pub(super) fn warn(stack: &Stack, context: &mut Context<'_>) {
    warn_cached_authorized_api(stack, context);
    warn_host_header_forwarding(stack, context);
    warn_shared_nat_gateway(&stack.network, context);
    warn_subnet_routing(&stack.network, context);
    warn_admin_statements(&stack.iam, context);
    warn_plain_secrets(stack, context);
    warn_unprotected_routes(stack, context);
    warn_scaling_conflict(&stack.compute, context);
    warn_dotted_bucket_names(stack, context);
}

/// Lists the behaviors of a distribution with their paths in the file, default first.
fn behaviors(distribution: &model::Distribution, at: &str) -> Vec<(String, model::CacheBehavior)> {
    let mut found = vec![(
        path::join_key(at, "defaultBehavior"),
        distribution.default_behavior.clone(),
    )];
    for (j, behavior) in distribution.behaviors.iter().enumerate() {
        found.push((
            path::join_index(&path::join_key(at, "behaviors"), j),
            behavior.clone(),
        ));
    }
    found
}

fn describe(behavior: &model::CacheBehavior) -> String {
    match &behavior.path_pattern {
        Some(pattern) => format!("behavior {pattern}"),
        None => "the default behavior".to_owned(),
    }
}

/// Warns about caching behaviors in front of an API with a JWT authorizer. The managed cache
/// policies leave the Authorization header out of the cache key. CloudFront forwards only the
/// headers of the cache key or the origin request policy, and the latter cannot hold it.
fn warn_cached_authorized_api(stack: &Stack, context: &mut Context<'_>) {
    for (i, distribution) in stack.distributions.iter().enumerate() {
        let Origin::Api(api_id) = &distribution.origin else {
            continue;
        };
        let Some(api) = stack.api(api_id) else {
            continue;
        };
        if api.jwt_authorizer.is_none() {
            continue;
        }
        let at = path::join_index("spec.distributions", i);
        for (behavior_path, behavior) in behaviors(distribution, &at) {
            // An empty id marks an unknown policy name, already reported as an error.
            if behavior.cache_policy.is_caching_disabled() || behavior.cache_policy.id.is_empty() {
                continue;
            }
            context
                .warning(
                    &path::join_key(&behavior_path, "cachePolicy"),
                    format!(
                        "{} caches responses of API \"{api_id}\", which has a JWT authorizer, but \
                         {} leaves the Authorization header out of the cache key",
                        describe(&behavior),
                        behavior.cache_policy.name
                    ),
                )
                .set_help(
                    "either CloudFront drops the header and every request gets 401, or one user's \
                     cached response reaches another; use cachePolicy: CachingDisabled on \
                     authenticated paths",
                );
        }
    }
}

/// Warns about the AllViewer origin request policy, which forwards the viewer's Host header.
/// API Gateway and S3 find the API or bucket by that header, so the requests fail.
fn warn_host_header_forwarding(stack: &Stack, context: &mut Context<'_>) {
    for (i, distribution) in stack.distributions.iter().enumerate() {
        let at = path::join_index("spec.distributions", i);
        for (behavior_path, behavior) in behaviors(distribution, &at) {
            let Some(policy) = &behavior.origin_request_policy else {
                continue;
            };
            if policy.name != "AllViewer" {
                continue;
            }
            let (origin, fix) = match &distribution.origin {
                Origin::Api(_) => ("API Gateway", "AllViewerExceptHostHeader"),
                Origin::Bucket(_) => ("S3", "CORS-S3Origin, or no origin request policy"),
            };
            context
                .warning(
                    &path::join_key(&behavior_path, "originRequestPolicy"),
                    format!("AllViewer forwards the viewer's Host header, which {origin} rejects"),
                )
                .set_help(format!("use {fix}"));
        }
    }
}

/// Warns about a NAT gateway that serves private subnets of several zones, because if its
/// zone fails, the others lose their internet egress too.
fn warn_shared_nat_gateway(network: &model::Network, context: &mut Context<'_>) {
    for (i, nat) in network.nat_gateways.iter().enumerate() {
        let mut zones = BTreeSet::new();
        for table in &network.route_tables {
            let routes_here = table
                .routes
                .iter()
                .any(|route| route.target == RouteTarget::NatGateway(nat.id.clone()));
            if !routes_here {
                continue;
            }
            for subnet in table.subnets.iter().filter_map(|id| network.subnet(id)) {
                if subnet.tier == SubnetTier::Private {
                    zones.insert(subnet.zone.as_str());
                }
            }
        }
        if zones.len() < 2 {
            continue;
        }
        let home = network
            .subnet(&nat.subnet)
            .map_or("its zone", |s| s.zone.as_str());
        let zones: Vec<&str> = zones.into_iter().collect();
        context
            .warning(
                &path::join_index("spec.network.natGateways", i),
                format!(
                    "NAT gateway \"{}\" in {home} serves private subnets in {} zones ({})",
                    nat.id,
                    zones.len(),
                    zones.join(", ")
                ),
            )
            .set_help(format!(
                "if {home} fails, private subnets in the other zones lose internet access too, so add a \
                 NAT gateway per zone and route each zone's private subnets to its own"
            ));
    }
}

fn warn_subnet_routing(network: &model::Network, context: &mut Context<'_>) {
    for (i, subnet) in network.subnets.iter().enumerate() {
        let at = path::join_index("spec.network.subnets", i);
        match network.route_table_of_subnet(&subnet.id) {
            None => {
                context
                    .warning(&at, format!("subnet \"{}\" is in no route table", subnet.id))
                    .set_help("it uses the VPC's main route table, which stackd does not manage, so list it in a route table");
            }
            Some(table) if subnet.tier == SubnetTier::Public => {
                let has_internet_route = table.routes.iter().any(|route| {
                    route.target == RouteTarget::InternetGateway
                        && route.destination.prefix_len() == 0
                });
                if !has_internet_route {
                    context
                        .warning(
                            &path::join_key(&at, "tier"),
                            format!(
                                "public subnet \"{}\" has no default route to the internet gateway in route table \"{}\"",
                                subnet.id, table.id
                            ),
                        )
                        .set_help("add destination: 0.0.0.0/0, target: { internetGateway: true }, or set tier: private");
                }
            }
            Some(_) => {}
        }
        if subnet.tier == SubnetTier::Private && subnet.map_public_ip_on_launch {
            context
                .warning(
                    &path::join_key(&at, "mapPublicIpOnLaunch"),
                    format!("private subnet \"{}\" gives instances public IP addresses", subnet.id),
                )
                .set_help("a private subnet has no route to the internet gateway, so the addresses are unreachable. Remove mapPublicIpOnLaunch");
        }
    }
}

fn warn_admin_statements(iam: &model::Iam, context: &mut Context<'_>) {
    let owners =
        iam.roles
            .iter()
            .enumerate()
            .map(|(i, role)| (path::join_index("spec.iam.roles", i), &role.inline_policies))
            .chain(
                iam.users.iter().enumerate().map(|(i, user)| {
                    (path::join_index("spec.iam.users", i), &user.inline_policies)
                }),
            );
    for (owner_path, policies) in owners {
        for (j, policy) in policies.iter().enumerate() {
            for (k, statement) in policy.statements.iter().enumerate() {
                let all_actions = statement.actions.iter().any(|a| a == "*");
                let all_resources = statement
                    .resources
                    .iter()
                    .any(|r| r.as_literal().is_some_and(|text| text == "*"));
                if statement.effect == Effect::Allow && all_actions && all_resources {
                    let at = path::join_index(
                        &path::join_key(
                            &path::join_index(&path::join_key(&owner_path, "inlinePolicies"), j),
                            "statements",
                        ),
                        k,
                    );
                    context
                        .warning(&at, "statement allows every action on every resource")
                        .set_help("grant the actions and resources the principal needs");
                }
            }
        }
    }
}

/// Warns about plain-text values in environment variables whose names suggest a secret.
fn warn_plain_secrets(stack: &Stack, context: &mut Context<'_>) {
    for (i, service) in stack.services.iter().enumerate() {
        for (j, container) in service.task_definition.containers.iter().enumerate() {
            let environment_path =
                format!("spec.services[{i}].taskDefinition.containers[{j}].environment");
            for (name, value) in &container.environment {
                let upper = name.to_ascii_uppercase();
                let looks_secret = ["PASSWORD", "SECRET", "TOKEN", "PRIVATE_KEY", "API_KEY"]
                    .iter()
                    .any(|word| upper.contains(word))
                    || upper == "KEY"
                    || upper.ends_with("_KEY");
                let is_literal = value
                    .parts
                    .iter()
                    .all(|part| matches!(part, TemplatePart::Literal(_)));
                if looks_secret && is_literal && !value.parts.is_empty() {
                    context
                        .warning(
                            &path::join_key(&environment_path, name),
                            format!("{name} looks like a secret, stored in plain text in the task definition"),
                        )
                        .set_help("store it in Secrets Manager and list its ARN under secrets instead");
                }
            }
        }
    }
}

fn warn_unprotected_routes(stack: &Stack, context: &mut Context<'_>) {
    for (i, api) in stack.apis.iter().enumerate() {
        if api.jwt_authorizer.is_some() {
            continue;
        }
        for (j, route) in api.routes.iter().enumerate() {
            if route.public {
                continue;
            }
            context
                .warning(
                    &format!("spec.apis[{i}].routes[{j}].key"),
                    format!("route \"{}\" is not marked public, but API \"{}\" has no JWT authorizer", route.key, api.id),
                )
                .set_help("anyone can call it, so add jwtAuthorizer to the API, or mark the route public: true");
        }
    }
}

/// Warns about a desired capacity that ECS managed scaling also sets and stackd would reset.
fn warn_scaling_conflict(compute: &model::Compute, context: &mut Context<'_>) {
    for (i, group) in compute.auto_scaling_groups.iter().enumerate() {
        let scaled = compute
            .capacity_providers
            .iter()
            .any(|p| p.auto_scaling_group == group.id && p.managed_scaling.is_some());
        let ignored = group
            .ignore_changes
            .contains(&AutoScalingGroupAttribute::DesiredCapacity);
        if scaled && !ignored {
            context
                .warning(
                    &path::join_index("spec.compute.autoScalingGroups", i),
                    format!("ECS managed scaling sets the desired capacity of \"{}\", and stackd would reset it", group.id),
                )
                .set_help("add ignoreChanges: [desiredCapacity]");
        }
    }
}

fn warn_dotted_bucket_names(stack: &Stack, context: &mut Context<'_>) {
    for (i, bucket) in stack.buckets.iter().enumerate() {
        if bucket.name.contains('.') {
            context
                .warning(
                    &format!("spec.buckets[{i}].name"),
                    format!("bucket name \"{}\" contains dots", bucket.name),
                )
                .set_help(
                    "virtual-hosted-style HTTPS URLs of such buckets fail certificate checks, so use \
                     hyphens instead of dots",
                );
        }
    }
}
