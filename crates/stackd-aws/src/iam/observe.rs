//! Reads the stack's roles, instance profiles and users by name, each with its
//! policies, all concurrently. A resource that does not exist is left out.

use super::policy::decode_document;
use super::{DesiredIam, IamLive, LiveInstanceProfile, LiveRole, LiveUser};
use crate::tags::comparable;
use aws_sdk_iam::Client;
use aws_sdk_iam::operation::get_instance_profile::GetInstanceProfileError;
use aws_sdk_iam::operation::get_role::GetRoleError;
use aws_sdk_iam::operation::get_user::GetUserError;
use aws_sdk_iam::types::Tag;
use futures::future::try_join_all;
use serde_json::Value;
use stackd_engine::ComponentError;
use std::collections::{BTreeMap, BTreeSet};

/// Observes every role, instance profile and user of the file.
pub(super) async fn observe(
    client: &Client,
    desired: &DesiredIam,
) -> Result<IamLive, ComponentError> {
    let roles = try_join_all(desired.roles.iter().map(|role| async move {
        let live = observe_role(client, &role.name).await?;
        Ok::<_, ComponentError>(live.map(|live| (role.id.clone(), live)))
    }));
    let instance_profiles = try_join_all(
        desired
            .roles
            .iter()
            .filter(|role| role.instance_profile)
            .map(|role| async move {
                let live = observe_instance_profile(client, &role.name).await?;
                Ok::<_, ComponentError>(live.map(|live| (role.id.clone(), live)))
            }),
    );
    let users = try_join_all(desired.users.iter().map(|user| async move {
        let live = observe_user(client, &user.name).await?;
        Ok::<_, ComponentError>(live.map(|live| (user.id.clone(), live)))
    }));

    let (roles, instance_profiles, users) = tokio::try_join!(roles, instance_profiles, users)?;
    Ok(IamLive {
        roles: roles.into_iter().flatten().collect(),
        instance_profiles: instance_profiles.into_iter().flatten().collect(),
        users: users.into_iter().flatten().collect(),
    })
}

fn tags(tags: &[Tag]) -> BTreeMap<String, String> {
    comparable(
        tags.iter()
            .map(|tag| (tag.key().to_owned(), tag.value().to_owned())),
    )
}

/// Reads a role and its policy lists at once, because all three need only the
/// name. When the role does not exist, the failed lists are dropped.
async fn observe_role(client: &Client, name: &str) -> Result<Option<LiveRole>, ComponentError> {
    let (found, managed_policies, inline_policies) = tokio::join!(
        client.get_role().role_name(name).send(),
        attached_role_policies(client, name),
        role_inline_policies(client, name),
    );
    let response = match found {
        Ok(response) => response,
        Err(error)
            if matches!(
                error.as_service_error(),
                Some(GetRoleError::NoSuchEntityException(_))
            ) =>
        {
            return Ok(None);
        }
        Err(error) => {
            return Err(crate::failures::call_failed(
                format!("GetRole {name}"),
                error,
            ));
        }
    };
    let role = response
        .role()
        .ok_or_else(|| ComponentError::Unexpected(format!("GetRole {name} returned no role")))?;
    let trust_policy = role
        .assume_role_policy_document()
        .map(decode_document)
        .unwrap_or(Value::Null);
    Ok(Some(LiveRole {
        arn: role.arn().to_owned(),
        trust_policy,
        managed_policies: managed_policies?,
        inline_policies: inline_policies?,
        tags: tags(role.tags()),
    }))
}

async fn attached_role_policies(
    client: &Client,
    role: &str,
) -> Result<BTreeSet<String>, ComponentError> {
    let attached = client
        .list_attached_role_policies()
        .role_name(role)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(|error| {
            crate::failures::call_failed(format!("ListAttachedRolePolicies {role}"), error)
        })?;
    Ok(attached
        .iter()
        .filter_map(|policy| policy.policy_arn().map(str::to_owned))
        .collect())
}

async fn role_inline_policies(
    client: &Client,
    role: &str,
) -> Result<BTreeMap<String, Value>, ComponentError> {
    let names = client
        .list_role_policies()
        .role_name(role)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(|error| crate::failures::call_failed(format!("ListRolePolicies {role}"), error))?;
    let documents = try_join_all(names.into_iter().map(|policy| async move {
        let response = client
            .get_role_policy()
            .role_name(role)
            .policy_name(&policy)
            .send()
            .await
            .map_err(|error| {
                crate::failures::call_failed(format!("GetRolePolicy {role} {policy}"), error)
            })?;
        let document = decode_document(response.policy_document());
        Ok::<_, ComponentError>((policy, document))
    }))
    .await?;
    Ok(documents.into_iter().collect())
}

async fn observe_instance_profile(
    client: &Client,
    name: &str,
) -> Result<Option<LiveInstanceProfile>, ComponentError> {
    let response = match client
        .get_instance_profile()
        .instance_profile_name(name)
        .send()
        .await
    {
        Ok(response) => response,
        Err(error)
            if matches!(
                error.as_service_error(),
                Some(GetInstanceProfileError::NoSuchEntityException(_))
            ) =>
        {
            return Ok(None);
        }
        Err(error) => {
            return Err(crate::failures::call_failed(
                format!("GetInstanceProfile {name}"),
                error,
            ));
        }
    };
    let profile = response.instance_profile().ok_or_else(|| {
        ComponentError::Unexpected(format!("GetInstanceProfile {name} returned no profile"))
    })?;
    Ok(Some(LiveInstanceProfile {
        arn: profile.arn().to_owned(),
        roles: profile
            .roles()
            .iter()
            .map(|role| role.role_name().to_owned())
            .collect(),
        tags: tags(profile.tags()),
    }))
}

/// Reads a user and its policy lists at once, as `observe_role` does for a role.
async fn observe_user(client: &Client, name: &str) -> Result<Option<LiveUser>, ComponentError> {
    let (found, managed_policies, inline_policies) = tokio::join!(
        client.get_user().user_name(name).send(),
        attached_user_policies(client, name),
        user_inline_policies(client, name),
    );
    let response = match found {
        Ok(response) => response,
        Err(error)
            if matches!(
                error.as_service_error(),
                Some(GetUserError::NoSuchEntityException(_))
            ) =>
        {
            return Ok(None);
        }
        Err(error) => {
            return Err(crate::failures::call_failed(
                format!("GetUser {name}"),
                error,
            ));
        }
    };
    let user = response
        .user()
        .ok_or_else(|| ComponentError::Unexpected(format!("GetUser {name} returned no user")))?;
    Ok(Some(LiveUser {
        arn: user.arn().to_owned(),
        managed_policies: managed_policies?,
        inline_policies: inline_policies?,
        tags: tags(user.tags()),
    }))
}

async fn attached_user_policies(
    client: &Client,
    user: &str,
) -> Result<BTreeSet<String>, ComponentError> {
    let attached = client
        .list_attached_user_policies()
        .user_name(user)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(|error| {
            crate::failures::call_failed(format!("ListAttachedUserPolicies {user}"), error)
        })?;
    Ok(attached
        .iter()
        .filter_map(|policy| policy.policy_arn().map(str::to_owned))
        .collect())
}

async fn user_inline_policies(
    client: &Client,
    user: &str,
) -> Result<BTreeMap<String, Value>, ComponentError> {
    let names = client
        .list_user_policies()
        .user_name(user)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(|error| crate::failures::call_failed(format!("ListUserPolicies {user}"), error))?;
    let documents = try_join_all(names.into_iter().map(|policy| async move {
        let response = client
            .get_user_policy()
            .user_name(user)
            .policy_name(&policy)
            .send()
            .await
            .map_err(|error| {
                crate::failures::call_failed(format!("GetUserPolicy {user} {policy}"), error)
            })?;
        let document = decode_document(response.policy_document());
        Ok::<_, ComponentError>((policy, document))
    }))
    .await?;
    Ok(documents.into_iter().collect())
}
