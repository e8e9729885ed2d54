//! Checks of IAM roles, users and their policies.

use super::{Context, Index, check_ids, check_unique_names, values};
use crate::model::{self, BucketAttribute, Interpolation, TemplatePart};
use crate::path;
use crate::raw;

/// Maximum length of a role or user name in IAM.
const MAX_PRINCIPAL_NAME: usize = 64;

/// Maximum length of an inline policy name in IAM.
const MAX_POLICY_NAME: usize = 128;

pub(super) fn iam(raw: &raw::Iam, index: &Index, context: &mut Context<'_>) -> model::Iam {
    let roles_path = "spec.iam.roles";
    let users_path = "spec.iam.users";
    check_ids(
        context,
        "role",
        roles_path,
        raw.roles.iter().map(|r| r.id.as_str()),
    );
    check_ids(
        context,
        "user",
        users_path,
        raw.users.iter().map(|u| u.id.as_str()),
    );
    check_unique_names(
        context,
        "role",
        name_paths(roles_path, raw.roles.iter().map(|r| &r.name)),
    );
    check_unique_names(
        context,
        "user",
        name_paths(users_path, raw.users.iter().map(|u| &u.name)),
    );

    let mut roles = Vec::new();
    for (i, role) in raw.roles.iter().enumerate() {
        let at = path::join_index(roles_path, i);
        values::check_iam_name(
            context,
            &path::join_key(&at, "name"),
            &role.name,
            "role name",
            MAX_PRINCIPAL_NAME,
        );

        let trusted_path = path::join_key(&at, "trustedServices");
        if role.trusted_services.is_empty() {
            context
                .error(&trusted_path, "a role needs at least one trusted service")
                .set_help("list the service principals that assume the role, such as ecs-tasks.amazonaws.com");
        }
        for (j, service) in role.trusted_services.iter().enumerate() {
            let is_principal =
                service.ends_with(".amazonaws.com") || service.ends_with(".amazonaws.com.cn");
            if !is_principal {
                context
                    .error(
                        &path::join_index(&trusted_path, j),
                        format!("invalid service principal \"{service}\""),
                    )
                    .set_help("write the service's principal, such as ec2.amazonaws.com");
            }
        }

        roles.push(model::Role {
            id: role.id.clone(),
            name: role.name.clone(),
            trusted_services: role.trusted_services.clone(),
            managed_policies: managed_policies(&role.managed_policies, &at, context),
            inline_policies: inline_policies(&role.inline_policies, &at, index, context),
            instance_profile: role.instance_profile,
        });
    }

    let mut users = Vec::new();
    for (i, user) in raw.users.iter().enumerate() {
        let at = path::join_index(users_path, i);
        values::check_iam_name(
            context,
            &path::join_key(&at, "name"),
            &user.name,
            "user name",
            MAX_PRINCIPAL_NAME,
        );
        if let Some(secret) = &user.access_key_secret {
            check_secret_name(context, &path::join_key(&at, "accessKeySecret"), secret);
        }

        users.push(model::User {
            id: user.id.clone(),
            name: user.name.clone(),
            managed_policies: managed_policies(&user.managed_policies, &at, context),
            inline_policies: inline_policies(&user.inline_policies, &at, index, context),
            access_key_secret: user.access_key_secret.clone(),
        });
    }

    model::Iam { roles, users }
}

fn name_paths<'a>(
    list: &'a str,
    names: impl Iterator<Item = &'a String> + 'a,
) -> impl Iterator<Item = (String, String)> + 'a {
    names.enumerate().map(move |(i, name)| {
        (
            path::join_key(&path::join_index(list, i), "name"),
            name.clone(),
        )
    })
}

fn managed_policies(arns: &[String], owner_path: &str, context: &mut Context<'_>) -> Vec<String> {
    let list = path::join_key(owner_path, "managedPolicies");
    for (i, arn) in arns.iter().enumerate() {
        let is_policy = matches!(
            values::arn_fields(arn),
            Some([_, _, "iam", "", _, resource]) if resource.starts_with("policy/")
        );
        if !is_policy {
            context
                .error(&path::join_index(&list, i), format!("invalid managed policy ARN \"{arn}\""))
                .set_help("write arn:aws:iam::aws:policy/NAME, or arn:aws:iam::ACCOUNT:policy/NAME for your own");
        }
    }
    values::check_no_repeats(context, &list, arns);
    arns.to_vec()
}

fn inline_policies(
    raw: &[raw::InlinePolicy],
    owner_path: &str,
    index: &Index,
    context: &mut Context<'_>,
) -> Vec<model::InlinePolicy> {
    let list = path::join_key(owner_path, "inlinePolicies");
    check_unique_names(
        context,
        "inline policy",
        name_paths(&list, raw.iter().map(|p| &p.name)),
    );

    let mut policies = Vec::new();
    for (i, policy) in raw.iter().enumerate() {
        let at = path::join_index(&list, i);
        values::check_iam_name(
            context,
            &path::join_key(&at, "name"),
            &policy.name,
            "policy name",
            MAX_POLICY_NAME,
        );

        let statements_path = path::join_key(&at, "statements");
        if policy.statements.is_empty() {
            context
                .error(&statements_path, "a policy needs at least one statement")
                .set_help(
                    "add a statement with effect, actions and resources, or remove the policy",
                );
        }

        let mut statements = Vec::new();
        for (j, statement) in policy.statements.iter().enumerate() {
            let statement_path = path::join_index(&statements_path, j);
            statements.push(statement_to_model(
                statement,
                &statement_path,
                index,
                context,
            ));
        }
        policies.push(model::InlinePolicy {
            name: policy.name.clone(),
            statements,
        });
    }
    policies
}

fn statement_to_model(
    raw: &raw::PolicyStatement,
    at: &str,
    index: &Index,
    context: &mut Context<'_>,
) -> model::PolicyStatement {
    let actions_path = path::join_key(at, "actions");
    let resources_path = path::join_key(at, "resources");

    if raw.actions.is_empty() {
        context.error(&actions_path, "a statement needs at least one action");
    }
    for (i, action) in raw.actions.iter().enumerate() {
        if !is_action(action) {
            context
                .error(
                    &path::join_index(&actions_path, i),
                    format!("invalid action \"{action}\""),
                )
                .set_help(
                    "write SERVICE:ACTION, such as s3:GetObject, with `*` wildcards if needed",
                );
        }
    }

    if raw.resources.is_empty() {
        context.error(&resources_path, "a statement needs at least one resource");
    }
    let mut resources = Vec::new();
    for (i, resource) in raw.resources.iter().enumerate() {
        let resource_path = path::join_index(&resources_path, i);
        let template = context.template(&resource_path, resource, index);
        check_resource(context, &resource_path, &template);
        resources.push(template);
    }

    model::PolicyStatement {
        effect: match raw.effect {
            raw::Effect::Allow => model::Effect::Allow,
            raw::Effect::Deny => model::Effect::Deny,
        },
        actions: raw.actions.clone(),
        resources,
    }
}

/// Returns whether `action` reads `*` or `service:Action`, with `*` and `?` wildcards in the action.
fn is_action(action: &str) -> bool {
    if action == "*" {
        return true;
    }
    let Some((service, name)) = action.split_once(':') else {
        return false;
    };
    let service_ok = !service.is_empty()
        && service
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    let name_ok = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'*' || b == b'?' || b == b'-');
    service_ok && name_ok
}

/// Checks that a resource renders to `*` or an ARN.
fn check_resource(context: &mut Context<'_>, at: &str, resource: &model::Template) {
    match resource.parts.first() {
        Some(TemplatePart::Literal(text)) if text == "*" || text.starts_with("arn:") => {}
        Some(TemplatePart::Interpolation(Interpolation::Bucket {
            attribute: BucketAttribute::Arn,
            ..
        })) => {}
        Some(TemplatePart::Interpolation(Interpolation::Bucket {
            id,
            attribute: BucketAttribute::Name,
        })) => {
            context
                .error(at, "resource starts with a bucket name, not an ARN")
                .set_help(format!("write ${{bucket:{id}.arn}}"));
        }
        _ => {
            context
                .error(at, format!("resource \"{resource}\" is not an ARN"))
                .set_help("write an ARN such as arn:aws:s3:::BUCKET/*, ${bucket:ID.arn}/*, or *");
        }
    }
}

/// Checks a Secrets Manager secret name: 1 to 512 of `A-Za-z0-9/_+=.@-`.
pub(super) fn check_secret_name(context: &mut Context<'_>, at: &str, name: &str) {
    let allowed = |c: char| c.is_ascii_alphanumeric() || "/_+=.@-".contains(c);
    if name.is_empty() || name.len() > 512 || !name.chars().all(allowed) {
        context
            .error(at, format!("invalid secret name \"{name}\""))
            .set_help("use 1 to 512 letters, digits and the characters / _ + = . @ -");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_need_service_prefix() {
        assert!(is_action("s3:GetObject"));
        assert!(is_action("secretsmanager:GetSecretValue"));
        assert!(is_action("s3:Get*"));
        assert!(is_action("*"));
        assert!(!is_action("s3.GetObject"));
        assert!(!is_action("GetObject"));
        assert!(!is_action("S3:GetObject"));
    }
}
