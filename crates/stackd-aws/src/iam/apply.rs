//! Carries out an IAM plan, one call per action, in the order the diff planned them.

use super::diff::{Action, Principal};
use super::{DesiredIam, ids};
use crate::tags::{TagDelta, Tagger};
use aws_sdk_iam::Client;
use aws_sdk_iam::operation::add_role_to_instance_profile::AddRoleToInstanceProfileError;
use aws_sdk_iam::types::Tag;
use serde_json::Value;
use stackd_engine::ComponentError;
use std::collections::BTreeMap;

/// The path of every role, instance profile and user that stackd creates.
const PATH: &str = "/";

/// Runs the actions in order and stops at the first failed call. Refusals do not
/// stop the other actions: they are reported together once the rest has run.
pub(super) async fn apply(
    client: &Client,
    desired: &DesiredIam,
    tagger: &Tagger,
    actions: Vec<Action>,
) -> Result<(), ComponentError> {
    let mut refused = Vec::new();
    for action in actions {
        match action {
            Action::Refuse(reason) => refused.push(reason),
            action => run(client, desired, tagger, action).await?,
        }
    }
    if refused.is_empty() {
        Ok(())
    } else {
        Err(ComponentError::Blocked(refused.join("; ")))
    }
}

async fn run(
    client: &Client,
    desired: &DesiredIam,
    tagger: &Tagger,
    action: Action,
) -> Result<(), ComponentError> {
    match action {
        Action::CreateRole(id) => {
            let role = desired.role(&id)?;
            let tags = tagger.desired(&ids::role(&id), &role.name);
            client
                .create_role()
                .role_name(&role.name)
                .path(PATH)
                .assume_role_policy_document(document_text(&role.trust_policy)?)
                .set_tags(Some(iam_tags(&tags)?))
                .send()
                .await
                .map_err(|error| {
                    crate::failures::call_failed(format!("CreateRole {}", role.name), error)
                })?;
            tracing::info!(role = %role.name, "created role");
        }
        Action::UpdateTrustPolicy(id) => {
            let role = desired.role(&id)?;
            client
                .update_assume_role_policy()
                .role_name(&role.name)
                .policy_document(document_text(&role.trust_policy)?)
                .send()
                .await
                .map_err(|error| {
                    crate::failures::call_failed(
                        format!("UpdateAssumeRolePolicy {}", role.name),
                        error,
                    )
                })?;
            tracing::info!(role = %role.name, "updated trust policy");
        }
        Action::CreateUser(id) => {
            let user = desired.user(&id)?;
            let tags = tagger.desired(&ids::user(&id), &user.name);
            client
                .create_user()
                .user_name(&user.name)
                .path(PATH)
                .set_tags(Some(iam_tags(&tags)?))
                .send()
                .await
                .map_err(|error| {
                    crate::failures::call_failed(format!("CreateUser {}", user.name), error)
                })?;
            tracing::info!(user = %user.name, "created user");
        }
        Action::AttachPolicy { principal, arn } => {
            attach_policy(client, desired, &principal, &arn).await?;
        }
        Action::DetachPolicy { principal, arn } => {
            detach_policy(client, desired, &principal, &arn).await?;
        }
        Action::PutPolicy { principal, policy } => {
            put_policy(client, desired, &principal, &policy).await?;
        }
        Action::DeletePolicy { principal, policy } => {
            delete_policy(client, desired, &principal, &policy).await?;
        }
        Action::RetagRole { role, delta } => {
            retag_role(client, &desired.role(&role)?.name, &delta).await?
        }
        Action::RetagUser { user, delta } => {
            retag_user(client, &desired.user(&user)?.name, &delta).await?
        }
        Action::RetagInstanceProfile { role, delta } => {
            retag_instance_profile(client, &desired.role(&role)?.name, &delta).await?;
        }
        Action::CreateInstanceProfile(id) => {
            let role = desired.role(&id)?;
            let tags = tagger.desired(&ids::instance_profile(&id), &role.name);
            client
                .create_instance_profile()
                .instance_profile_name(&role.name)
                .path(PATH)
                .set_tags(Some(iam_tags(&tags)?))
                .send()
                .await
                .map_err(|error| {
                    crate::failures::call_failed(
                        format!("CreateInstanceProfile {}", role.name),
                        error,
                    )
                })?;
            tracing::info!(instance_profile = %role.name, "created instance profile");
        }
        Action::SetInstanceProfileRole { role, remove, add } => {
            let name = &desired.role(&role)?.name;
            for other in &remove {
                client
                    .remove_role_from_instance_profile()
                    .instance_profile_name(name)
                    .role_name(other)
                    .send()
                    .await
                    .map_err(|error| {
                        crate::failures::call_failed(
                            format!("RemoveRoleFromInstanceProfile {name} {other}"),
                            error,
                        )
                    })?;
                tracing::info!(instance_profile = %name, role = %other, "removed role from instance profile");
            }
            if add {
                add_role_to_instance_profile(client, name).await?;
            }
        }
        Action::Refuse(reason) => return Err(ComponentError::Blocked(reason)),
    }
    Ok(())
}

/// Adds a role to the instance profile of the same name.
///
/// IAM is eventually consistent: right after CreateRole or CreateInstanceProfile,
/// this call may fail with NoSuchEntity. The error goes to the engine, which marks
/// the component Error and requeues it. The next pass observes the role and the
/// profile, so it plans only this call again and creates nothing twice. The
/// engine's limit on failed passes in a row bounds the retries.
async fn add_role_to_instance_profile(client: &Client, name: &str) -> Result<(), ComponentError> {
    match client
        .add_role_to_instance_profile()
        .instance_profile_name(name)
        .role_name(name)
        .send()
        .await
    {
        Ok(_) => {
            tracing::info!(instance_profile = %name, role = %name, "added role to instance profile");
            Ok(())
        }
        Err(error)
            if matches!(
                error.as_service_error(),
                Some(AddRoleToInstanceProfileError::NoSuchEntityException(_))
            ) =>
        {
            Err(crate::failures::call_failed(
                format!(
                    "AddRoleToInstanceProfile {name} (IAM may not see a role or profile created \
                     seconds ago yet; the next pass retries)"
                ),
                error,
            ))
        }
        Err(error) => Err(crate::failures::call_failed(
            format!("AddRoleToInstanceProfile {name}"),
            error,
        )),
    }
}

async fn attach_policy(
    client: &Client,
    desired: &DesiredIam,
    principal: &Principal,
    arn: &str,
) -> Result<(), ComponentError> {
    match principal {
        Principal::Role(id) => {
            let role = &desired.role(id)?.name;
            client
                .attach_role_policy()
                .role_name(role)
                .policy_arn(arn)
                .send()
                .await
                .map_err(|error| {
                    crate::failures::call_failed(format!("AttachRolePolicy {role} {arn}"), error)
                })?;
            tracing::info!(%role, policy = arn, "attached managed policy");
        }
        Principal::User(id) => {
            let user = &desired.user(id)?.name;
            client
                .attach_user_policy()
                .user_name(user)
                .policy_arn(arn)
                .send()
                .await
                .map_err(|error| {
                    crate::failures::call_failed(format!("AttachUserPolicy {user} {arn}"), error)
                })?;
            tracing::info!(%user, policy = arn, "attached managed policy");
        }
    }
    Ok(())
}

async fn detach_policy(
    client: &Client,
    desired: &DesiredIam,
    principal: &Principal,
    arn: &str,
) -> Result<(), ComponentError> {
    match principal {
        Principal::Role(id) => {
            let role = &desired.role(id)?.name;
            client
                .detach_role_policy()
                .role_name(role)
                .policy_arn(arn)
                .send()
                .await
                .map_err(|error| {
                    crate::failures::call_failed(format!("DetachRolePolicy {role} {arn}"), error)
                })?;
            tracing::info!(%role, policy = arn, "detached managed policy");
        }
        Principal::User(id) => {
            let user = &desired.user(id)?.name;
            client
                .detach_user_policy()
                .user_name(user)
                .policy_arn(arn)
                .send()
                .await
                .map_err(|error| {
                    crate::failures::call_failed(format!("DetachUserPolicy {user} {arn}"), error)
                })?;
            tracing::info!(%user, policy = arn, "detached managed policy");
        }
    }
    Ok(())
}

async fn put_policy(
    client: &Client,
    desired: &DesiredIam,
    principal: &Principal,
    policy: &str,
) -> Result<(), ComponentError> {
    let missing =
        || ComponentError::Unexpected(format!("inline policy {policy} is not in the file"));
    match principal {
        Principal::Role(id) => {
            let role = desired.role(id)?;
            let document = role.inline_policies.get(policy).ok_or_else(missing)?;
            client
                .put_role_policy()
                .role_name(&role.name)
                .policy_name(policy)
                .policy_document(document_text(document)?)
                .send()
                .await
                .map_err(|error| {
                    crate::failures::call_failed(
                        format!("PutRolePolicy {} {policy}", role.name),
                        error,
                    )
                })?;
            tracing::info!(role = %role.name, policy, "put inline policy");
        }
        Principal::User(id) => {
            let user = desired.user(id)?;
            let document = user.inline_policies.get(policy).ok_or_else(missing)?;
            client
                .put_user_policy()
                .user_name(&user.name)
                .policy_name(policy)
                .policy_document(document_text(document)?)
                .send()
                .await
                .map_err(|error| {
                    crate::failures::call_failed(
                        format!("PutUserPolicy {} {policy}", user.name),
                        error,
                    )
                })?;
            tracing::info!(user = %user.name, policy, "put inline policy");
        }
    }
    Ok(())
}

async fn delete_policy(
    client: &Client,
    desired: &DesiredIam,
    principal: &Principal,
    policy: &str,
) -> Result<(), ComponentError> {
    match principal {
        Principal::Role(id) => {
            let role = &desired.role(id)?.name;
            client
                .delete_role_policy()
                .role_name(role)
                .policy_name(policy)
                .send()
                .await
                .map_err(|error| {
                    crate::failures::call_failed(format!("DeleteRolePolicy {role} {policy}"), error)
                })?;
            tracing::info!(%role, policy, "deleted inline policy");
        }
        Principal::User(id) => {
            let user = &desired.user(id)?.name;
            client
                .delete_user_policy()
                .user_name(user)
                .policy_name(policy)
                .send()
                .await
                .map_err(|error| {
                    crate::failures::call_failed(format!("DeleteUserPolicy {user} {policy}"), error)
                })?;
            tracing::info!(%user, policy, "deleted inline policy");
        }
    }
    Ok(())
}

async fn retag_role(client: &Client, role: &str, delta: &TagDelta) -> Result<(), ComponentError> {
    if !delta.set.is_empty() {
        client
            .tag_role()
            .role_name(role)
            .set_tags(Some(iam_tags(&delta.set)?))
            .send()
            .await
            .map_err(|error| crate::failures::call_failed(format!("TagRole {role}"), error))?;
    }
    if !delta.remove.is_empty() {
        client
            .untag_role()
            .role_name(role)
            .set_tag_keys(Some(delta.remove.clone()))
            .send()
            .await
            .map_err(|error| crate::failures::call_failed(format!("UntagRole {role}"), error))?;
    }
    tracing::info!(%role, set = delta.set.len(), removed = delta.remove.len(), "updated role tags");
    Ok(())
}

async fn retag_user(client: &Client, user: &str, delta: &TagDelta) -> Result<(), ComponentError> {
    if !delta.set.is_empty() {
        client
            .tag_user()
            .user_name(user)
            .set_tags(Some(iam_tags(&delta.set)?))
            .send()
            .await
            .map_err(|error| crate::failures::call_failed(format!("TagUser {user}"), error))?;
    }
    if !delta.remove.is_empty() {
        client
            .untag_user()
            .user_name(user)
            .set_tag_keys(Some(delta.remove.clone()))
            .send()
            .await
            .map_err(|error| crate::failures::call_failed(format!("UntagUser {user}"), error))?;
    }
    tracing::info!(%user, set = delta.set.len(), removed = delta.remove.len(), "updated user tags");
    Ok(())
}

async fn retag_instance_profile(
    client: &Client,
    profile: &str,
    delta: &TagDelta,
) -> Result<(), ComponentError> {
    if !delta.set.is_empty() {
        client
            .tag_instance_profile()
            .instance_profile_name(profile)
            .set_tags(Some(iam_tags(&delta.set)?))
            .send()
            .await
            .map_err(|error| {
                crate::failures::call_failed(format!("TagInstanceProfile {profile}"), error)
            })?;
    }
    if !delta.remove.is_empty() {
        client
            .untag_instance_profile()
            .instance_profile_name(profile)
            .set_tag_keys(Some(delta.remove.clone()))
            .send()
            .await
            .map_err(|error| {
                crate::failures::call_failed(format!("UntagInstanceProfile {profile}"), error)
            })?;
    }
    tracing::info!(instance_profile = %profile, set = delta.set.len(), removed = delta.remove.len(), "updated instance profile tags");
    Ok(())
}

fn iam_tags(tags: &BTreeMap<String, String>) -> Result<Vec<Tag>, ComponentError> {
    tags.iter()
        .map(|(key, value)| {
            Tag::builder()
                .key(key)
                .value(value)
                .build()
                .map_err(|error| ComponentError::Unexpected(error.to_string()))
        })
        .collect()
}

/// Serialises a canonical document as the JSON text that IAM takes.
fn document_text(document: &Value) -> Result<String, ComponentError> {
    serde_json::to_string(document).map_err(|error| ComponentError::Unexpected(error.to_string()))
}
