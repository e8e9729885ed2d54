//! Checks of ECS services and their task definitions.

use std::collections::BTreeMap;

use super::{Context, Index, check_ids, check_unique_names, split_reference, values};
use crate::model::{self, TemplatePart};
use crate::path;
use crate::raw;

/// Service principal that ECS uses to assume task and execution roles.
const ECS_TASKS_PRINCIPAL: &str = "ecs-tasks.amazonaws.com";

/// Task-level CPU units that ECS accepts for tasks on EC2 instances (0.125 to 192 vCPUs), from
/// the `cpu` field of the ECS RegisterTaskDefinition API reference.
const TASK_CPU_UNITS: std::ops::RangeInclusive<u32> = 128..=196_608;

pub(super) fn services(
    raw: &[raw::Service],
    iam: &model::Iam,
    load_balancers: &[model::LoadBalancer],
    index: &Index,
    context: &mut Context<'_>,
) -> Vec<model::Service> {
    let list = "spec.services";
    check_ids(context, "service", list, raw.iter().map(|s| s.id.as_str()));
    check_unique_names(
        context,
        "service",
        raw.iter().enumerate().map(|(i, s)| {
            (
                path::join_key(&path::join_index(list, i), "name"),
                format!("{}/{}", s.cluster, s.name),
            )
        }),
    );

    let mut services = Vec::new();
    for (i, service) in raw.iter().enumerate() {
        let at = path::join_index(list, i);
        let name_ok = !service.name.is_empty()
            && service.name.len() <= 255
            && service
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !name_ok {
            context
                .error(
                    &path::join_key(&at, "name"),
                    format!("invalid service name \"{}\"", service.name),
                )
                .set_help("use 1 to 255 letters, digits, hyphens and underscores");
        }
        index
            .clusters
            .check(context, &path::join_key(&at, "cluster"), &service.cluster);

        let subnets_path = path::join_key(&at, "subnets");
        if service.subnets.is_empty() {
            context
                .error(&subnets_path, "a service needs at least one subnet")
                .set_help("list the subnets of the tasks' network interfaces");
        }
        index
            .subnets
            .check_all(context, &subnets_path, &service.subnets);
        values::check_no_repeats(context, &subnets_path, &service.subnets);
        let groups_path = path::join_key(&at, "securityGroups");
        index
            .security_groups
            .check_all(context, &groups_path, &service.security_groups);
        values::check_no_repeats(context, &groups_path, &service.security_groups);

        let task_definition = task_definition(
            &service.task_definition,
            &path::join_key(&at, "taskDefinition"),
            iam,
            index,
            context,
        );
        let load_balancer = service.load_balancer.as_ref().and_then(|raw| {
            service_load_balancer(
                raw,
                &path::join_key(&at, "loadBalancer"),
                &task_definition,
                load_balancers,
                index,
                context,
            )
        });

        services.push(model::Service {
            id: service.id.clone(),
            name: service.name.clone(),
            cluster: service.cluster.clone(),
            desired_count: service.desired_count,
            subnets: service.subnets.clone(),
            security_groups: service.security_groups.clone(),
            load_balancer,
            task_definition,
            ignore_changes: ignore_changes(&service.ignore_changes),
        });
    }
    services
}

fn service_load_balancer(
    raw: &raw::ServiceLoadBalancer,
    at: &str,
    task_definition: &model::TaskDefinition,
    load_balancers: &[model::LoadBalancer],
    index: &Index,
    context: &mut Context<'_>,
) -> Option<model::ServiceLoadBalancer> {
    let group_path = path::join_key(at, "targetGroup");
    let port_path = path::join_key(at, "port");
    let port = values::port(context, &port_path, raw.port);

    let (balancer_id, group_id) = split_reference(
        context,
        &group_path,
        &raw.target_group,
        "target group",
        "LOAD_BALANCER_ID/TARGET_GROUP_ID, such as api/api",
    )?;
    if index
        .target_groups
        .check(context, &group_path, &raw.target_group)
    {
        let group = load_balancers
            .iter()
            .find(|lb| lb.id == balancer_id)
            .and_then(|lb| lb.target_group(group_id));
        if let Some(group) = group
            && group.target_type != model::TargetType::Ip
        {
            context
                .error(&group_path, format!("target group \"{}\" does not take ip targets", raw.target_group))
                .set_help("ECS tasks in awsvpc network mode register by IP address, so set targetType: ip on the group");
        }
    }

    let container_path = path::join_key(at, "container");
    match task_definition.container(&raw.container) {
        None => {
            let names: Vec<String> = task_definition
                .containers
                .iter()
                .map(|c| c.name.clone())
                .collect();
            super::Ids::new("container", &names).check(context, &container_path, &raw.container);
        }
        Some(container) if container.port != Some(port) => {
            let exposed = container
                .port
                .map_or("no port".to_owned(), |p| format!("port {p}"));
            context
                .error(
                    &port_path,
                    format!(
                        "container \"{}\" exposes {exposed}, not port {port}",
                        container.name
                    ),
                )
                .set_help("use the container's port, or add this port to the container");
        }
        Some(_) => {}
    }

    Some(model::ServiceLoadBalancer {
        target_group: model::TargetGroupRef {
            load_balancer: balancer_id.to_owned(),
            target_group: group_id.to_owned(),
        },
        container: raw.container.clone(),
        port,
    })
}

fn task_definition(
    raw: &raw::TaskDefinition,
    at: &str,
    iam: &model::Iam,
    index: &Index,
    context: &mut Context<'_>,
) -> model::TaskDefinition {
    let family_ok = !raw.family.is_empty()
        && raw.family.len() <= 255
        && raw
            .family
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !family_ok {
        context
            .error(
                &path::join_key(at, "family"),
                format!("invalid task definition family \"{}\"", raw.family),
            )
            .set_help("use 1 to 255 letters, digits, hyphens and underscores");
    }
    if let Some(cpu) = raw.cpu
        && !TASK_CPU_UNITS.contains(&cpu)
    {
        context
            .error(
                &path::join_key(at, "cpu"),
                format!("cpu {cpu} is out of range"),
            )
            .set_help(format!(
                "write {} to {} CPU units; 1024 units are one vCPU",
                TASK_CPU_UNITS.start(),
                TASK_CPU_UNITS.end()
            ));
    }
    if raw.memory == Some(0) {
        context
            .error(
                &path::join_key(at, "memory"),
                "memory 0 leaves the task no memory",
            )
            .set_help("write the task's memory in MiB");
    }

    for (field, role) in [
        ("executionRole", &raw.execution_role),
        ("taskRole", &raw.task_role),
    ] {
        let Some(role_id) = role else { continue };
        let role_path = path::join_key(at, field);
        if index.roles.check(context, &role_path, role_id)
            && let Some(role) = iam.roles.iter().find(|r| &r.id == role_id)
            && !role
                .trusted_services
                .iter()
                .any(|s| s == ECS_TASKS_PRINCIPAL)
        {
            context
                .error(
                    &role_path,
                    format!("role \"{role_id}\" does not trust {ECS_TASKS_PRINCIPAL}"),
                )
                .set_help(format!(
                    "add {ECS_TASKS_PRINCIPAL} to the role's trustedServices"
                ));
        }
    }

    let containers_path = path::join_key(at, "containers");
    if raw.containers.is_empty() {
        context.error(
            &containers_path,
            "a task definition needs at least one container",
        );
    }
    check_unique_names(
        context,
        "container",
        raw.containers.iter().enumerate().map(|(i, c)| {
            (
                path::join_key(&path::join_index(&containers_path, i), "name"),
                c.name.clone(),
            )
        }),
    );
    if !raw.containers.is_empty() && raw.containers.iter().all(|c| !c.essential) {
        context
            .error(&containers_path, "no container is essential")
            .set_help("ECS needs at least one container with essential: true");
    }

    let mut containers = Vec::new();
    for (i, container) in raw.containers.iter().enumerate() {
        let container_path = path::join_index(&containers_path, i);
        containers.push(container_definition(
            container,
            &container_path,
            raw.execution_role.is_some(),
            index,
            context,
        ));
    }

    model::TaskDefinition {
        family: raw.family.clone(),
        cpu: raw.cpu,
        memory: raw.memory,
        execution_role: raw.execution_role.clone(),
        task_role: raw.task_role.clone(),
        containers,
    }
}

fn container_definition(
    raw: &raw::ContainerDefinition,
    at: &str,
    has_execution_role: bool,
    index: &Index,
    context: &mut Context<'_>,
) -> model::ContainerDefinition {
    let name_ok = !raw.name.is_empty()
        && raw.name.len() <= 255
        && raw
            .name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !name_ok {
        context
            .error(
                &path::join_key(at, "name"),
                format!("invalid container name \"{}\"", raw.name),
            )
            .set_help("use 1 to 255 letters, digits, hyphens and underscores");
    }

    let image_path = path::join_key(at, "image");
    let image = context.template(&image_path, &raw.image, index);
    if raw.image.trim().is_empty() || raw.image.chars().any(char::is_whitespace) {
        context
            .error(&image_path, format!("invalid image \"{}\"", raw.image))
            .set_help("write REPOSITORY:TAG or REPOSITORY@sha256:DIGEST, without spaces");
    }

    let port = raw
        .port
        .map(|port| values::port(context, &path::join_key(at, "port"), port));

    let environment_path = path::join_key(at, "environment");
    let secrets_path = path::join_key(at, "secrets");
    let mut environment = BTreeMap::new();
    for (name, value) in &raw.environment {
        let variable_path = path::join_key(&environment_path, name);
        check_variable_name(context, &variable_path, name);
        environment.insert(name.clone(), context.template(&variable_path, value, index));
    }

    let mut secrets = BTreeMap::new();
    for (name, value) in &raw.secrets {
        let variable_path = path::join_key(&secrets_path, name);
        check_variable_name(context, &variable_path, name);
        if raw.environment.contains_key(name) {
            context
                .error_at_key(
                    &variable_path,
                    format!("variable {name} is in both environment and secrets"),
                )
                .set_help("ECS takes each variable name once, so remove it from one of the two");
        }
        let template = context.template(&variable_path, value, index);
        let is_arn = matches!(template.parts.first(), Some(TemplatePart::Literal(text)) if text.starts_with("arn:"));
        if !is_arn {
            context
                .error(&variable_path, format!("secret {name} is not an ARN"))
                .set_help("write the ARN of a Secrets Manager secret or SSM parameter, such as arn:aws:secretsmanager:${region}:${account}:secret:NAME");
        }
        secrets.insert(name.clone(), template);
    }
    if !raw.secrets.is_empty() && !has_execution_role {
        context
            .error(&secrets_path, "secrets need the task definition's executionRole")
            .set_help("ECS reads secrets with the execution role, so add executionRole to the task definition");
    }

    if let Some(log_group) = &raw.log_group {
        let ok = !log_group.is_empty()
            && log_group.len() <= 512
            && log_group
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-/#".contains(c));
        if !ok {
            context
                .error(
                    &path::join_key(at, "logGroup"),
                    format!("invalid log group name \"{log_group}\""),
                )
                .set_help("use 1 to 512 letters, digits and the characters . _ - / #");
        }
    }

    model::ContainerDefinition {
        name: raw.name.clone(),
        image,
        port,
        essential: raw.essential,
        environment,
        secrets,
        log_group: raw.log_group.clone(),
    }
}

fn check_variable_name(context: &mut Context<'_>, at: &str, name: &str) {
    let ok = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !ok {
        context
            .error_at_key(at, format!("invalid environment variable name \"{name}\""))
            .set_help("use letters, digits and underscores, not starting with a digit");
    }
}

/// Converts the attributes that the file hands to another system, without repeats.
fn ignore_changes(attributes: &[raw::ServiceAttribute]) -> Vec<model::ServiceAttribute> {
    let mut ignored = Vec::new();
    for attribute in attributes {
        let attribute = match attribute {
            raw::ServiceAttribute::DesiredCount => model::ServiceAttribute::DesiredCount,
        };
        if !ignored.contains(&attribute) {
            ignored.push(attribute);
        }
    }
    ignored
}
