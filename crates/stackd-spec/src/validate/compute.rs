//! Checks of launch templates, Auto Scaling groups, capacity providers and ECS clusters.

use super::{Context, Index, check_ids, check_unique_names, values};
use crate::model;
use crate::path;
use crate::raw;

/// Service principal that EC2 instances use to assume an instance profile's role.
const EC2_PRINCIPAL: &str = "ec2.amazonaws.com";

pub(super) fn compute(
    raw: &raw::Compute,
    iam: &model::Iam,
    index: &Index,
    context: &mut Context<'_>,
) -> model::Compute {
    let compute = model::Compute {
        launch_templates: launch_templates(&raw.launch_templates, iam, index, context),
        auto_scaling_groups: auto_scaling_groups(&raw.auto_scaling_groups, index, context),
        capacity_providers: capacity_providers(&raw.capacity_providers, index, context),
        clusters: clusters(&raw.clusters, index, context),
    };
    check_protection(&compute, context);
    check_cluster_membership(&compute, context);
    compute
}

fn names<'a, T>(
    list: &'a str,
    items: &'a [T],
    name: fn(&T) -> &String,
) -> impl Iterator<Item = (String, String)> + 'a {
    items.iter().enumerate().map(move |(i, item)| {
        (
            path::join_key(&path::join_index(list, i), "name"),
            name(item).clone(),
        )
    })
}

/// Checks a name of `[A-Za-z0-9_-]`, the alphabet of ECS cluster and capacity provider names.
fn check_ecs_name(context: &mut Context<'_>, at: &str, name: &str, subject: &str) {
    let allowed = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    if name.is_empty() || name.len() > 255 || !name.chars().all(allowed) {
        context
            .error(at, format!("invalid {subject} \"{name}\""))
            .set_help("use 1 to 255 letters, digits, hyphens and underscores");
    }
}

fn launch_templates(
    raw: &[raw::LaunchTemplate],
    iam: &model::Iam,
    index: &Index,
    context: &mut Context<'_>,
) -> Vec<model::LaunchTemplate> {
    let list = "spec.compute.launchTemplates";
    check_ids(
        context,
        "launch template",
        list,
        raw.iter().map(|t| t.id.as_str()),
    );
    check_unique_names(context, "launch template", names(list, raw, |t| &t.name));

    let mut templates = Vec::new();
    for (i, template) in raw.iter().enumerate() {
        let at = path::join_index(list, i);
        let name_ok = (3..=128).contains(&template.name.len())
            && template
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "()./_-".contains(c));
        if !name_ok {
            context
                .error(
                    &path::join_key(&at, "name"),
                    format!("invalid launch template name \"{}\"", template.name),
                )
                .set_help("use 3 to 128 letters, digits and the characters ( ) . / _ -");
        }
        if !is_instance_type(&template.instance_type) {
            context
                .error(
                    &path::join_key(&at, "instanceType"),
                    format!("invalid instance type \"{}\"", template.instance_type),
                )
                .set_help("write FAMILY.SIZE, such as t3.large");
        }

        let ami = ami(&template.ami, &path::join_key(&at, "ami"), context);

        if let Some(profile) = &template.instance_profile {
            let profile_path = path::join_key(&at, "instanceProfile");
            if index.roles.check(context, &profile_path, profile)
                && let Some(role) = iam.roles.iter().find(|role| &role.id == profile)
            {
                if !role.instance_profile {
                    context
                        .error(
                            &profile_path,
                            format!("role \"{profile}\" has no instance profile"),
                        )
                        .set_help(format!("set instanceProfile: true on role \"{profile}\""));
                }
                if !role.trusted_services.iter().any(|s| s == EC2_PRINCIPAL) {
                    context
                        .error(
                            &profile_path,
                            format!("role \"{profile}\" does not trust {EC2_PRINCIPAL}"),
                        )
                        .set_help(format!("add {EC2_PRINCIPAL} to the role's trustedServices"));
                }
            }
        }

        let groups_path = path::join_key(&at, "securityGroups");
        index
            .security_groups
            .check_all(context, &groups_path, &template.security_groups);
        values::check_no_repeats(context, &groups_path, &template.security_groups);
        if let Some(cluster) = &template.cluster {
            index
                .clusters
                .check(context, &path::join_key(&at, "cluster"), cluster);
        }

        templates.push(model::LaunchTemplate {
            id: template.id.clone(),
            name: template.name.clone(),
            instance_type: template.instance_type.clone(),
            ami,
            instance_profile: template.instance_profile.clone(),
            security_groups: template.security_groups.clone(),
            cluster: template.cluster.clone(),
        });
    }
    templates
}

/// Returns whether `text` reads like an EC2 instance type, such as `t3.large` or `m7g.2xlarge`.
fn is_instance_type(text: &str) -> bool {
    let Some((family, size)) = text.split_once('.') else {
        return false;
    };
    let part_ok = |part: &str| {
        !part.is_empty()
            && part
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    };
    part_ok(family) && part_ok(size)
}

fn ami(raw: &raw::Ami, at: &str, context: &mut Context<'_>) -> model::Ami {
    match (&raw.ssm_parameter, &raw.id) {
        (Some(parameter), None) => {
            if !parameter.starts_with('/') {
                context
                    .error(
                        &path::join_key(at, "ssmParameter"),
                        format!("invalid SSM parameter name \"{parameter}\""),
                    )
                    .set_help("write the parameter's full path, starting with /");
            }
            model::Ami::SsmParameter(parameter.clone())
        }
        (None, Some(id)) => {
            let hex = id.strip_prefix("ami-").unwrap_or("");
            let id_ok = matches!(hex.len(), 8 | 17)
                && hex
                    .bytes()
                    .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase());
            if !id_ok {
                context
                    .error(
                        &path::join_key(at, "id"),
                        format!("invalid AMI id \"{id}\""),
                    )
                    .set_help("write ami- followed by 8 or 17 lowercase hexadecimal digits");
            }
            model::Ami::Id(id.clone())
        }
        _ => {
            context
                .error(at, "`ami` needs exactly one of `ssmParameter` and `id`")
                .set_help(
                    "write ssmParameter: /aws/service/... for a public parameter, or id: ami-...",
                );
            model::Ami::Id(String::new())
        }
    }
}

fn auto_scaling_groups(
    raw: &[raw::AutoScalingGroup],
    index: &Index,
    context: &mut Context<'_>,
) -> Vec<model::AutoScalingGroup> {
    let list = "spec.compute.autoScalingGroups";
    check_ids(
        context,
        "Auto Scaling group",
        list,
        raw.iter().map(|g| g.id.as_str()),
    );
    check_unique_names(context, "Auto Scaling group", names(list, raw, |g| &g.name));

    let mut groups = Vec::new();
    for (i, group) in raw.iter().enumerate() {
        let at = path::join_index(list, i);
        if group.name.is_empty() || group.name.len() > 255 {
            context
                .error(
                    &path::join_key(&at, "name"),
                    "an Auto Scaling group name has 1 to 255 characters",
                )
                .set_help("shorten the name");
        }
        index.launch_templates.check(
            context,
            &path::join_key(&at, "launchTemplate"),
            &group.launch_template,
        );

        let subnets_path = path::join_key(&at, "subnets");
        if group.subnets.is_empty() {
            context.error(
                &subnets_path,
                "an Auto Scaling group needs at least one subnet",
            );
        }
        index
            .subnets
            .check_all(context, &subnets_path, &group.subnets);
        values::check_no_repeats(context, &subnets_path, &group.subnets);

        if group.min_size > group.max_size {
            context
                .error(
                    &path::join_key(&at, "minSize"),
                    format!(
                        "minSize {} is greater than maxSize {}",
                        group.min_size, group.max_size
                    ),
                )
                .set_help("raise maxSize or lower minSize");
        }
        if let Some(desired) = group.desired_capacity
            && !(group.min_size..=group.max_size).contains(&desired)
        {
            context
                .error(
                    &path::join_key(&at, "desiredCapacity"),
                    format!(
                        "desiredCapacity {desired} is outside minSize {} to maxSize {}",
                        group.min_size, group.max_size
                    ),
                )
                .set_help("choose a desired capacity between the two");
        }

        let spot = group
            .spot
            .as_ref()
            .map(|spot| spot_options(spot, &path::join_key(&at, "spot"), context));

        let mut ignore_changes = Vec::new();
        for attribute in &group.ignore_changes {
            let attribute = match attribute {
                raw::AutoScalingGroupAttribute::DesiredCapacity => {
                    model::AutoScalingGroupAttribute::DesiredCapacity
                }
                raw::AutoScalingGroupAttribute::MinSize => {
                    model::AutoScalingGroupAttribute::MinSize
                }
                raw::AutoScalingGroupAttribute::MaxSize => {
                    model::AutoScalingGroupAttribute::MaxSize
                }
            };
            if !ignore_changes.contains(&attribute) {
                ignore_changes.push(attribute);
            }
        }

        groups.push(model::AutoScalingGroup {
            id: group.id.clone(),
            name: group.name.clone(),
            launch_template: group.launch_template.clone(),
            subnets: group.subnets.clone(),
            min_size: group.min_size,
            max_size: group.max_size,
            desired_capacity: group.desired_capacity,
            spot,
            new_instances_protected_from_scale_in: group.new_instances_protected_from_scale_in,
            ignore_changes,
        });
    }
    groups
}

fn spot_options(raw: &raw::SpotOptions, at: &str, context: &mut Context<'_>) -> model::SpotOptions {
    let types_path = path::join_key(at, "instanceTypes");
    if raw.instance_types.is_empty() {
        context
            .error(&types_path, "spot options need at least one instance type")
            .set_help(
                "list instance types such as t3.large, because more types find spot capacity more often",
            );
    }
    for (i, instance_type) in raw.instance_types.iter().enumerate() {
        if !is_instance_type(instance_type) {
            context
                .error(
                    &path::join_index(&types_path, i),
                    format!("invalid instance type \"{instance_type}\""),
                )
                .set_help("write FAMILY.SIZE, such as t3.large");
        }
    }
    values::check_no_repeats(context, &types_path, &raw.instance_types);

    let percentage = match u8::try_from(raw.on_demand_percentage_above_base_capacity) {
        Ok(percent) if percent <= 100 => percent,
        _ => {
            context
                .error(
                    &path::join_key(at, "onDemandPercentageAboveBaseCapacity"),
                    format!(
                        "{} is not a percentage",
                        raw.on_demand_percentage_above_base_capacity
                    ),
                )
                .set_help("write 0 to 100; 0 runs spot instances only above the base");
            100
        }
    };

    model::SpotOptions {
        instance_types: raw.instance_types.clone(),
        on_demand_base_capacity: raw.on_demand_base_capacity,
        on_demand_percentage_above_base_capacity: percentage,
        allocation_strategy: match raw.allocation_strategy {
            raw::SpotAllocationStrategy::PriceCapacityOptimized => {
                model::SpotAllocationStrategy::PriceCapacityOptimized
            }
            raw::SpotAllocationStrategy::CapacityOptimized => {
                model::SpotAllocationStrategy::CapacityOptimized
            }
            raw::SpotAllocationStrategy::CapacityOptimizedPrioritized => {
                model::SpotAllocationStrategy::CapacityOptimizedPrioritized
            }
            raw::SpotAllocationStrategy::LowestPrice => model::SpotAllocationStrategy::LowestPrice,
        },
    }
}

fn capacity_providers(
    raw: &[raw::CapacityProvider],
    index: &Index,
    context: &mut Context<'_>,
) -> Vec<model::CapacityProvider> {
    let list = "spec.compute.capacityProviders";
    check_ids(
        context,
        "capacity provider",
        list,
        raw.iter().map(|p| p.id.as_str()),
    );
    check_unique_names(context, "capacity provider", names(list, raw, |p| &p.name));

    let mut providers: Vec<model::CapacityProvider> = Vec::new();
    for (i, provider) in raw.iter().enumerate() {
        let at = path::join_index(list, i);
        let name_path = path::join_key(&at, "name");
        check_ecs_name(
            context,
            &name_path,
            &provider.name,
            "capacity provider name",
        );
        let lower = provider.name.to_ascii_lowercase();
        if let Some(prefix) = ["aws", "ecs", "fargate"]
            .into_iter()
            .find(|p| lower.starts_with(p))
        {
            context
                .error(&name_path, format!("capacity provider name \"{}\" starts with {prefix}", provider.name))
                .set_help("ECS reserves names that start with aws, ecs or fargate, so prefix it with the stack name");
        }

        let group_path = path::join_key(&at, "autoScalingGroup");
        index
            .auto_scaling_groups
            .check(context, &group_path, &provider.auto_scaling_group);
        if let Some(j) = providers
            .iter()
            .position(|p| p.auto_scaling_group == provider.auto_scaling_group)
        {
            let line = context.line_of(&path::join_index(list, j));
            context
                .error(
                    &group_path,
                    format!(
                        "Auto Scaling group \"{}\" already belongs to capacity provider \"{}\" (line {line})",
                        provider.auto_scaling_group, providers[j].id
                    ),
                )
                .set_help("a group backs one capacity provider, so give each provider its own group");
        }

        let managed_scaling = provider.managed_scaling.as_ref().map(|scaling| {
            managed_scaling(scaling, &path::join_key(&at, "managedScaling"), context)
        });
        if provider.managed_termination_protection && managed_scaling.is_none() {
            context
                .error(
                    &path::join_key(&at, "managedTerminationProtection"),
                    "managed termination protection needs managed scaling",
                )
                .set_help("add managedScaling, or set managedTerminationProtection: false");
        }

        providers.push(model::CapacityProvider {
            id: provider.id.clone(),
            name: provider.name.clone(),
            auto_scaling_group: provider.auto_scaling_group.clone(),
            managed_scaling,
            managed_termination_protection: provider.managed_termination_protection,
        });
    }
    providers
}

fn managed_scaling(
    raw: &raw::ManagedScaling,
    at: &str,
    context: &mut Context<'_>,
) -> model::ManagedScaling {
    let mut check_range = |field: &str, value: u32, range: std::ops::RangeInclusive<u32>| {
        if !range.contains(&value) {
            context
                .error(
                    &path::join_key(at, field),
                    format!("{field} {value} is out of range"),
                )
                .set_help(format!("write {} to {}", range.start(), range.end()));
        }
    };
    check_range("targetCapacity", raw.target_capacity, 1..=100);
    check_range(
        "minimumScalingStepSize",
        raw.minimum_scaling_step_size,
        1..=10_000,
    );
    check_range(
        "maximumScalingStepSize",
        raw.maximum_scaling_step_size,
        1..=10_000,
    );
    if let Some(warmup) = raw.instance_warmup_period {
        check_range("instanceWarmupPeriod", warmup, 0..=10_000);
    }
    if raw.minimum_scaling_step_size > raw.maximum_scaling_step_size {
        context
            .error(
                &path::join_key(at, "minimumScalingStepSize"),
                format!(
                    "minimumScalingStepSize {} is greater than maximumScalingStepSize {}",
                    raw.minimum_scaling_step_size, raw.maximum_scaling_step_size
                ),
            )
            .set_help("lower the minimum or raise the maximum");
    }

    model::ManagedScaling {
        target_capacity: raw.target_capacity,
        minimum_scaling_step_size: raw.minimum_scaling_step_size,
        maximum_scaling_step_size: raw.maximum_scaling_step_size,
        instance_warmup_period: raw.instance_warmup_period,
    }
}

fn clusters(raw: &[raw::Cluster], index: &Index, context: &mut Context<'_>) -> Vec<model::Cluster> {
    let list = "spec.compute.clusters";
    check_ids(context, "cluster", list, raw.iter().map(|c| c.id.as_str()));
    check_unique_names(context, "cluster", names(list, raw, |c| &c.name));

    // Capacity provider id to the path of the first cluster that uses it.
    let mut owners: Vec<(&str, String)> = Vec::new();
    let mut clusters = Vec::new();

    for (i, cluster) in raw.iter().enumerate() {
        let at = path::join_index(list, i);
        check_ecs_name(
            context,
            &path::join_key(&at, "name"),
            &cluster.name,
            "cluster name",
        );

        let providers_path = path::join_key(&at, "capacityProviders");
        index
            .capacity_providers
            .check_all(context, &providers_path, &cluster.capacity_providers);
        values::check_no_repeats(context, &providers_path, &cluster.capacity_providers);
        for (j, provider) in cluster.capacity_providers.iter().enumerate() {
            if let Some((_, owner)) = owners.iter().find(|(id, _)| id == provider) {
                let line = context.line_of(owner);
                context
                    .error(
                        &path::join_index(&providers_path, j),
                        format!("capacity provider \"{provider}\" already belongs to the cluster at line {line}"),
                    )
                    .set_help("a capacity provider serves one cluster");
            } else {
                owners.push((provider, at.clone()));
            }
        }

        let strategy_path = path::join_key(&at, "defaultStrategy");
        let mut strategy = Vec::new();
        for (j, item) in cluster.default_strategy.iter().enumerate() {
            let item_path = path::join_index(&strategy_path, j);
            let provider_path = path::join_key(&item_path, "capacityProvider");
            if index
                .capacity_providers
                .check(context, &provider_path, &item.capacity_provider)
                && !cluster.capacity_providers.contains(&item.capacity_provider)
            {
                context
                    .error(
                        &provider_path,
                        format!(
                            "capacity provider \"{}\" is not one of this cluster's",
                            item.capacity_provider
                        ),
                    )
                    .set_help("add it to the cluster's capacityProviders");
            }
            if item.weight > 1000 {
                context
                    .error(
                        &path::join_key(&item_path, "weight"),
                        format!("weight {} is out of range", item.weight),
                    )
                    .set_help("write 0 to 1000");
            }
            if item.base > 100_000 {
                context
                    .error(
                        &path::join_key(&item_path, "base"),
                        format!("base {} is out of range", item.base),
                    )
                    .set_help("write 0 to 100000");
            }
            strategy.push(model::CapacityProviderStrategyItem {
                capacity_provider: item.capacity_provider.clone(),
                weight: item.weight,
                base: item.base,
            });
        }
        if strategy.iter().filter(|item| item.base > 0).count() > 1 {
            context
                .error(&strategy_path, "more than one strategy item has a base")
                .set_help("ECS allows a base on one capacity provider of a strategy only");
        }
        if !strategy.is_empty() && strategy.iter().all(|item| item.weight == 0) {
            context
                .error(&strategy_path, "every strategy item has weight 0")
                .set_help("give at least one capacity provider a weight above 0");
        }

        clusters.push(model::Cluster {
            id: cluster.id.clone(),
            name: cluster.name.clone(),
            capacity_providers: cluster.capacity_providers.clone(),
            default_strategy: strategy,
        });
    }
    clusters
}

/// Rejects managed termination protection on a group whose instances ECS cannot protect.
fn check_protection(compute: &model::Compute, context: &mut Context<'_>) {
    for (i, provider) in compute.capacity_providers.iter().enumerate() {
        if !provider.managed_termination_protection {
            continue;
        }
        let group = compute
            .auto_scaling_groups
            .iter()
            .find(|group| group.id == provider.auto_scaling_group);
        if group.is_some_and(|group| !group.new_instances_protected_from_scale_in) {
            let at = path::join_key(
                &path::join_index("spec.compute.capacityProviders", i),
                "managedTerminationProtection",
            );
            context
                .error(
                    &at,
                    format!(
                        "managed termination protection needs newInstancesProtectedFromScaleIn on \
                         Auto Scaling group \"{}\"",
                        provider.auto_scaling_group
                    ),
                )
                .set_help("set newInstancesProtectedFromScaleIn: true on the group");
        }
    }
}

/// Rejects launch templates whose instances join another cluster than the one whose capacity
/// provider launches them.
fn check_cluster_membership(compute: &model::Compute, context: &mut Context<'_>) {
    for cluster in &compute.clusters {
        for provider_id in &cluster.capacity_providers {
            let template = compute
                .capacity_providers
                .iter()
                .find(|p| &p.id == provider_id)
                .and_then(|p| {
                    compute
                        .auto_scaling_groups
                        .iter()
                        .find(|g| g.id == p.auto_scaling_group)
                })
                .and_then(|g| {
                    compute
                        .launch_templates
                        .iter()
                        .enumerate()
                        .find(|(_, t)| t.id == g.launch_template)
                });
            let Some((i, template)) = template else {
                continue;
            };
            let at = path::join_index("spec.compute.launchTemplates", i);
            match &template.cluster {
                Some(joined) if *joined != cluster.id => {
                    context
                        .error(
                            &path::join_key(&at, "cluster"),
                            format!(
                                "instances join cluster \"{joined}\", but capacity provider \"{provider_id}\" \
                                 serves cluster \"{}\"",
                                cluster.id
                            ),
                        )
                        .set_help(format!("write cluster: {}", cluster.id));
                }
                Some(_) => {}
                None => {
                    context
                        .warning(&at, format!("instances of launch template \"{}\" join no cluster", template.id))
                        .set_help(format!(
                            "without cluster: {}, the instances register with the cluster named default",
                            cluster.id
                        ));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instance_types_need_family_and_size() {
        assert!(is_instance_type("t3.large"));
        assert!(is_instance_type("m7g.2xlarge"));
        assert!(!is_instance_type("t3large"));
        assert!(!is_instance_type("T3.large"));
        assert!(!is_instance_type(".large"));
    }
}
