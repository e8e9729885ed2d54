//! The CloudFront calls of the distribution component: observe and apply.

use super::config::{Resolved, desired_view, merged_config, new_config};
use super::diff::{Action, ORIGIN_TYPE, SIGNING_BEHAVIOR, SIGNING_PROTOCOL};
use super::view::DistributionView;
use super::{
    DistributionComponent, DistributionLive, LiveDistribution, LiveKeyGroup,
    LiveOriginAccessControl, LivePublicKey,
};
use crate::tags::{ID_TAG, STACK_TAG, TagDelta, comparable};
use aws_sdk_cloudfront::Client;
use aws_sdk_cloudfront::error::BuildError;
use aws_sdk_cloudfront::operation::create_distribution_with_tags::CreateDistributionWithTagsError;
use aws_sdk_cloudfront::operation::create_key_group::CreateKeyGroupError;
use aws_sdk_cloudfront::operation::create_origin_access_control::CreateOriginAccessControlError;
use aws_sdk_cloudfront::operation::create_public_key::CreatePublicKeyError;
use aws_sdk_cloudfront::operation::get_distribution::GetDistributionError;
use aws_sdk_cloudfront::operation::update_distribution::UpdateDistributionError;
use aws_sdk_cloudfront::types::{
    DistributionConfigWithTags, KeyGroupConfig, OriginAccessControlConfig,
    OriginAccessControlOriginTypes, OriginAccessControlSigningBehaviors,
    OriginAccessControlSigningProtocols, PublicKeyConfig, Tag, TagKeys, Tags,
};
use futures::future::try_join_all;
use stackd_engine::{ComponentError, Inputs};
use stackd_spec::model::Origin;
use std::collections::{BTreeMap, BTreeSet};

/// Observes the distribution, its origin access control, its public keys and its key group.
pub(super) async fn observe(
    component: &DistributionComponent,
) -> Result<DistributionLive, ComponentError> {
    let client = &component.clients.cloudfront;
    let bucket_origin = matches!(component.desired.origin, Origin::Bucket(_));
    let signed = component.desired.signed_urls.is_some();

    let control = async {
        if bucket_origin {
            find_origin_access_control(client, &component.origin_access_control_name()).await
        } else {
            Ok(None)
        }
    };
    let keys = async {
        if signed {
            find_public_keys(client, component).await
        } else {
            Ok(BTreeMap::new())
        }
    };
    let group = async {
        if signed {
            find_key_group(client, &component.key_group_name()).await
        } else {
            Ok(None)
        }
    };
    let (distribution, origin_access_control, public_keys, key_group) =
        tokio::try_join!(find_distribution(component), control, keys, group)?;
    Ok(DistributionLive {
        distribution,
        origin_access_control,
        public_keys,
        key_group,
    })
}

/// Finds the distribution that carries this stack's tags for this logical id. The id
/// found last time is read directly; otherwise, or when that distribution is gone or
/// no longer ours, every distribution of the account is listed with its tags.
async fn find_distribution(
    component: &DistributionComponent,
) -> Result<Option<LiveDistribution>, ComponentError> {
    let client = &component.clients.cloudfront;
    let logical = component.logical_id();
    let stack = component.tagger.stack();
    let is_ours = |tags: &BTreeMap<String, String>| {
        tags.get(STACK_TAG).map(String::as_str) == Some(stack)
            && tags.get(ID_TAG).map(String::as_str) == Some(logical.as_str())
    };

    let known = component
        .found_id
        .lock()
        .expect("the lock is never poisoned")
        .clone();
    if let Some(id) = known
        && let Some(found) = read_distribution(client, &id).await?
        && is_ours(&found.tags)
    {
        return Ok(Some(found));
    }

    // NOTE: the scan costs one ListTagsForResource per distribution of the account,
    // because ListDistributions returns no tags. It runs on the first pass of a
    // process and after the distribution disappears.
    let summaries = list_distributions(client).await?;
    let tagged = try_join_all(summaries.iter().map(|(id, arn)| async move {
        let tags = distribution_tags(client, arn).await?;
        Ok::<_, ComponentError>((id.clone(), tags))
    }))
    .await?;
    let ours: Vec<String> = tagged
        .into_iter()
        .filter(|(_, tags)| is_ours(tags))
        .map(|(id, _)| id)
        .collect();
    let found = match ours.as_slice() {
        [] => None,
        [id] => read_distribution(client, id).await?,
        _ => {
            return Err(ComponentError::Blocked(format!(
                "distributions {} all carry {STACK_TAG}={stack} and {ID_TAG}={logical}; delete \
                 all but one, or remove the tags from the others, so that stackd knows which \
                 one is {logical}",
                ours.join(", ")
            )));
        }
    };
    *component
        .found_id
        .lock()
        .expect("the lock is never poisoned") = found.as_ref().map(|found| found.id.clone());
    Ok(found)
}

/// Lists the id and ARN of every distribution of the account.
async fn list_distributions(client: &Client) -> Result<Vec<(String, String)>, ComponentError> {
    let pages = client
        .list_distributions()
        .into_paginator()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(|error| crate::failures::call_failed("ListDistributions", error))?;
    Ok(pages
        .into_iter()
        .filter_map(|page| page.distribution_list)
        .flat_map(|list| list.items.unwrap_or_default())
        .map(|summary| (summary.id, summary.arn))
        .collect())
}

async fn distribution_tags(
    client: &Client,
    arn: &str,
) -> Result<BTreeMap<String, String>, ComponentError> {
    let response = client
        .list_tags_for_resource()
        .resource(arn)
        .send()
        .await
        .map_err(|error| {
            crate::failures::call_failed(format!("ListTagsForResource {arn}"), error)
        })?;
    Ok(comparable(
        response
            .tags
            .and_then(|tags| tags.items)
            .unwrap_or_default()
            .into_iter()
            .map(|tag| (tag.key, tag.value.unwrap_or_default())),
    ))
}

/// Reads a distribution with its ETag and tags. A distribution that does not exist is `None`.
async fn read_distribution(
    client: &Client,
    id: &str,
) -> Result<Option<LiveDistribution>, ComponentError> {
    let response = match client.get_distribution().id(id).send().await {
        Ok(response) => response,
        Err(error)
            if matches!(
                error.as_service_error(),
                Some(GetDistributionError::NoSuchDistribution(_))
            ) =>
        {
            return Ok(None);
        }
        Err(error) => {
            return Err(crate::failures::call_failed(
                format!("GetDistribution {id}"),
                error,
            ));
        }
    };
    let etag = response.e_tag.ok_or_else(|| {
        ComponentError::Unexpected(format!("GetDistribution {id} returned no ETag"))
    })?;
    let distribution = response.distribution.ok_or_else(|| {
        ComponentError::Unexpected(format!("GetDistribution {id} returned no distribution"))
    })?;
    let config = distribution.distribution_config.ok_or_else(|| {
        ComponentError::Unexpected(format!("GetDistribution {id} returned no configuration"))
    })?;
    let tags = distribution_tags(client, &distribution.arn).await?;
    Ok(Some(LiveDistribution {
        id: distribution.id,
        arn: distribution.arn,
        domain_name: distribution.domain_name,
        status: distribution.status,
        etag,
        view: DistributionView::from_config(&config),
        config,
        tags,
    }))
}

async fn find_origin_access_control(
    client: &Client,
    name: &str,
) -> Result<Option<LiveOriginAccessControl>, ComponentError> {
    let mut marker: Option<String> = None;
    loop {
        let response = client
            .list_origin_access_controls()
            .set_marker(marker.clone())
            .send()
            .await
            .map_err(|error| crate::failures::call_failed("ListOriginAccessControls", error))?;
        let Some(list) = response.origin_access_control_list else {
            return Ok(None);
        };
        if let Some(found) = list
            .items
            .unwrap_or_default()
            .into_iter()
            .find(|control| control.name == name)
        {
            return Ok(Some(LiveOriginAccessControl {
                id: found.id,
                signing_protocol: found.signing_protocol.as_str().to_owned(),
                signing_behavior: found.signing_behavior.as_str().to_owned(),
                origin_type: found.origin_access_control_origin_type.as_str().to_owned(),
            }));
        }
        match list.next_marker.filter(|next| !next.is_empty()) {
            Some(next) if list.is_truncated => marker = Some(next),
            _ => return Ok(None),
        }
    }
}

/// Finds the file's public keys by name, keyed by their logical id.
async fn find_public_keys(
    client: &Client,
    component: &DistributionComponent,
) -> Result<BTreeMap<String, LivePublicKey>, ComponentError> {
    let mut by_name = BTreeMap::new();
    let mut marker: Option<String> = None;
    loop {
        let response = client
            .list_public_keys()
            .set_marker(marker.clone())
            .send()
            .await
            .map_err(|error| crate::failures::call_failed("ListPublicKeys", error))?;
        let Some(list) = response.public_key_list else {
            break;
        };
        for key in list.items.unwrap_or_default() {
            by_name.insert(
                key.name,
                LivePublicKey {
                    id: key.id,
                    encoded_key: key.encoded_key,
                },
            );
        }
        match list.next_marker.filter(|next| !next.is_empty()) {
            Some(next) => marker = Some(next),
            None => break,
        }
    }
    Ok(component
        .keys
        .iter()
        .filter_map(|key| {
            by_name
                .get(&key.name)
                .map(|found| (key.id.clone(), found.clone()))
        })
        .collect())
}

async fn find_key_group(
    client: &Client,
    name: &str,
) -> Result<Option<LiveKeyGroup>, ComponentError> {
    let mut marker: Option<String> = None;
    loop {
        let response = client
            .list_key_groups()
            .set_marker(marker.clone())
            .send()
            .await
            .map_err(|error| crate::failures::call_failed("ListKeyGroups", error))?;
        let Some(list) = response.key_group_list else {
            return Ok(None);
        };
        for summary in list.items.unwrap_or_default() {
            let Some(group) = summary.key_group else {
                continue;
            };
            let Some(config) = group.key_group_config else {
                continue;
            };
            if config.name == name {
                return Ok(Some(LiveKeyGroup {
                    id: group.id,
                    items: config.items.into_iter().collect(),
                }));
            }
        }
        match list.next_marker.filter(|next| !next.is_empty()) {
            Some(next) => marker = Some(next),
            None => return Ok(None),
        }
    }
}

/// Ids of the resources that the distribution references, as they become known
/// during an apply.
struct Created {
    origin_access_control: Option<String>,
    public_keys: BTreeMap<String, String>,
    key_group: Option<String>,
}

fn unexpected(error: BuildError) -> ComponentError {
    ComponentError::Unexpected(format!("invalid CloudFront request: {error}"))
}

/// Runs the planned actions in order.
pub(super) async fn apply(
    component: &DistributionComponent,
    live: &DistributionLive,
    actions: Vec<Action>,
    inputs: &Inputs,
) -> Result<(), ComponentError> {
    // A rejection stops the whole apply before any call.
    let rejections: Vec<&str> = actions
        .iter()
        .filter_map(|action| match action {
            Action::Reject(reason) => Some(reason.as_str()),
            _ => None,
        })
        .collect();
    if !rejections.is_empty() {
        return Err(ComponentError::Blocked(rejections.join("; ")));
    }

    let client = &component.clients.cloudfront;
    let mut created = Created {
        origin_access_control: live.origin_access_control.as_ref().map(|c| c.id.clone()),
        public_keys: live
            .public_keys
            .iter()
            .map(|(id, key)| (id.clone(), key.id.clone()))
            .collect(),
        key_group: live.key_group.as_ref().map(|group| group.id.clone()),
    };
    for action in actions {
        match action {
            Action::CreateOriginAccessControl => {
                created.origin_access_control =
                    Some(create_origin_access_control(client, component).await?);
            }
            Action::UpdateOriginAccessControl => {
                let id = created.origin_access_control.as_deref().ok_or_else(|| {
                    ComponentError::Unexpected("no origin access control to update".to_owned())
                })?;
                update_origin_access_control(client, component, id).await?;
            }
            Action::CreatePublicKey(key) => {
                let id = create_public_key(client, component, &key).await?;
                created.public_keys.insert(key, id);
            }
            Action::CreateKeyGroup => {
                let items = key_group_items(component, &created)?;
                created.key_group = Some(create_key_group(client, component, items).await?);
            }
            Action::UpdateKeyGroup => {
                let id = created.key_group.clone().ok_or_else(|| {
                    ComponentError::Unexpected("no key group to update".to_owned())
                })?;
                let items = key_group_items(component, &created)?;
                update_key_group(client, component, &id, items).await?;
            }
            Action::CreateDistribution => {
                let resolved = resolve(component, &created, inputs)?;
                create_distribution(component, &resolved).await?;
            }
            Action::UpdateDistribution => {
                let found = live.distribution.as_ref().ok_or_else(|| {
                    ComponentError::Unexpected(format!(
                        "{} vanished before its update",
                        component.logical_id()
                    ))
                })?;
                let resolved = resolve(component, &created, inputs)?;
                update_distribution(component, found, &resolved).await?;
            }
            Action::Retag(delta) => {
                let found = live.distribution.as_ref().ok_or_else(|| {
                    ComponentError::Unexpected(format!(
                        "{} vanished before retagging",
                        component.logical_id()
                    ))
                })?;
                retag(client, &found.arn, &delta).await?;
            }
            // Rejections returned before the first call.
            Action::Reject(_) => {}
        }
    }
    Ok(())
}

/// Resolves every value of the desired distribution for a create or update call.
fn resolve(
    component: &DistributionComponent,
    created: &Created,
    inputs: &Inputs,
) -> Result<Resolved, ComponentError> {
    let logical = component.logical_id();
    let origin_domain = component.origin_domain(inputs).ok_or_else(|| {
        ComponentError::Blocked(format!(
            "{logical} waits for the domain name of its origin {}",
            component.origin_component()
        ))
    })?;
    let bucket_origin = matches!(component.desired.origin, Origin::Bucket(_));
    let origin_access_control_id = match (&created.origin_access_control, bucket_origin) {
        (Some(id), _) => id.clone(),
        (None, false) => String::new(),
        (None, true) => {
            return Err(ComponentError::Unexpected(format!(
                "{logical} has no origin access control to name"
            )));
        }
    };
    let key_group_id = match (&created.key_group, component.desired.signed_urls.is_some()) {
        (Some(id), _) => id.clone(),
        (None, false) => String::new(),
        (None, true) => {
            return Err(ComponentError::Unexpected(format!(
                "{logical} has no key group to trust"
            )));
        }
    };
    Ok(Resolved {
        origin_domain: origin_domain.to_owned(),
        origin_access_control_id,
        key_group_id,
    })
}

fn origin_access_control_config(
    component: &DistributionComponent,
) -> Result<OriginAccessControlConfig, ComponentError> {
    OriginAccessControlConfig::builder()
        .name(component.origin_access_control_name())
        .description(format!(
            "Origin access control of {} in stack {}, managed by stackd",
            component.logical_id(),
            component.tagger.stack()
        ))
        .signing_protocol(OriginAccessControlSigningProtocols::from(SIGNING_PROTOCOL))
        .signing_behavior(OriginAccessControlSigningBehaviors::from(SIGNING_BEHAVIOR))
        .origin_access_control_origin_type(OriginAccessControlOriginTypes::from(ORIGIN_TYPE))
        .build()
        .map_err(unexpected)
}

async fn create_origin_access_control(
    client: &Client,
    component: &DistributionComponent,
) -> Result<String, ComponentError> {
    let name = component.origin_access_control_name();
    let sent = client
        .create_origin_access_control()
        .origin_access_control_config(origin_access_control_config(component)?)
        .send()
        .await;
    let error = match sent {
        Ok(response) => {
            let control = response.origin_access_control.ok_or_else(|| {
                ComponentError::Unexpected(format!(
                    "CreateOriginAccessControl {name} returned no origin access control"
                ))
            })?;
            tracing::info!(origin_access_control = %control.id, name, "created origin access control");
            return Ok(control.id);
        }
        Err(error) => error,
    };
    // Names are unique in the account, and the observation found none of this
    // name: an earlier create whose response was lost made it.
    if matches!(
        error.as_service_error(),
        Some(CreateOriginAccessControlError::OriginAccessControlAlreadyExists(_))
    ) && let Some(found) = find_origin_access_control(client, &name).await?
    {
        tracing::info!(origin_access_control = %found.id, name, "origin access control already created by an earlier call");
        return Ok(found.id);
    }
    Err(crate::failures::call_failed(
        format!("CreateOriginAccessControl {name}"),
        error,
    ))
}

async fn update_origin_access_control(
    client: &Client,
    component: &DistributionComponent,
    id: &str,
) -> Result<(), ComponentError> {
    let current = client
        .get_origin_access_control()
        .id(id)
        .send()
        .await
        .map_err(|error| {
            crate::failures::call_failed(format!("GetOriginAccessControl {id}"), error)
        })?;
    client
        .update_origin_access_control()
        .id(id)
        .set_if_match(current.e_tag)
        .origin_access_control_config(origin_access_control_config(component)?)
        .send()
        .await
        .map_err(|error| {
            crate::failures::call_failed(format!("UpdateOriginAccessControl {id}"), error)
        })?;
    tracing::info!(origin_access_control = id, "updated origin access control");
    Ok(())
}

pub(super) async fn create_public_key(
    client: &Client,
    component: &DistributionComponent,
    key_id: &str,
) -> Result<String, ComponentError> {
    let key = component
        .keys
        .iter()
        .find(|key| key.id == key_id)
        .ok_or_else(|| {
            ComponentError::Unexpected(format!("public key {key_id} is not in the file"))
        })?;
    let pem = key
        .pem
        .as_ref()
        .map_err(|reason| ComponentError::Blocked(reason.clone()))?;
    let logical = format!("public-key/{}/{}", component.desired.id, key.id);
    let config = PublicKeyConfig::builder()
        .caller_reference(component.tagger.client_token(&logical, pem))
        .name(&key.name)
        .encoded_key(pem)
        .comment(format!(
            "Signs the URLs of {} in stack {}, managed by stackd",
            component.logical_id(),
            component.tagger.stack()
        ))
        .build()
        .map_err(unexpected)?;
    let sent = client
        .create_public_key()
        .public_key_config(config)
        .send()
        .await;
    let error = match sent {
        Ok(response) => {
            let created = response.public_key.ok_or_else(|| {
                ComponentError::Unexpected(format!("CreatePublicKey {} returned no key", key.name))
            })?;
            tracing::info!(public_key = %created.id, name = %key.name, "created public key");
            return Ok(created.id);
        }
        Err(error) => error,
    };
    // The caller reference comes from the stack, the key and its content, and the
    // name is unique: an earlier create whose response was lost made it.
    if matches!(
        error.as_service_error(),
        Some(CreatePublicKeyError::PublicKeyAlreadyExists(_))
    ) && let Some(found) = find_public_keys(client, component).await?.remove(key_id)
    {
        tracing::info!(public_key = %found.id, name = %key.name, "public key already created by an earlier call");
        return Ok(found.id);
    }
    Err(crate::failures::call_failed(
        format!("CreatePublicKey {}", key.name),
        error,
    ))
}

async fn create_key_group(
    client: &Client,
    component: &DistributionComponent,
    items: Vec<String>,
) -> Result<String, ComponentError> {
    let name = component.key_group_name();
    let sent = client
        .create_key_group()
        .key_group_config(key_group_config(component, items.clone())?)
        .send()
        .await;
    match sent {
        Ok(response) => {
            let group = response.key_group.ok_or_else(|| {
                ComponentError::Unexpected("CreateKeyGroup returned no key group".to_owned())
            })?;
            tracing::info!(key_group = %group.id, name, "created key group");
            Ok(group.id)
        }
        // Names are unique in the account, and the observation found none of this
        // name: an earlier create whose response was lost made it. Its keys are
        // set again in case that create listed others.
        Err(error)
            if matches!(
                error.as_service_error(),
                Some(CreateKeyGroupError::KeyGroupAlreadyExists(_))
            ) =>
        {
            let Some(found) = find_key_group(client, &name).await? else {
                return Err(crate::failures::call_failed(
                    format!("CreateKeyGroup {name}"),
                    error,
                ));
            };
            tracing::info!(key_group = %found.id, name, "key group already created by an earlier call");
            if found.items != items.iter().cloned().collect::<BTreeSet<_>>() {
                update_key_group(client, component, &found.id, items).await?;
            }
            Ok(found.id)
        }
        Err(error) => Err(crate::failures::call_failed(
            format!("CreateKeyGroup {name}"),
            error,
        )),
    }
}

/// Returns the ids of the file's public keys, in the file's order.
fn key_group_items(
    component: &DistributionComponent,
    created: &Created,
) -> Result<Vec<String>, ComponentError> {
    component
        .keys
        .iter()
        .map(|key| {
            created.public_keys.get(&key.id).cloned().ok_or_else(|| {
                ComponentError::Unexpected(format!("public key {} was not created", key.id))
            })
        })
        .collect()
}

fn key_group_config(
    component: &DistributionComponent,
    items: Vec<String>,
) -> Result<KeyGroupConfig, ComponentError> {
    KeyGroupConfig::builder()
        .name(component.key_group_name())
        .set_items(Some(items))
        .comment(format!(
            "Trusted signers of {} in stack {}, managed by stackd",
            component.logical_id(),
            component.tagger.stack()
        ))
        .build()
        .map_err(unexpected)
}

async fn update_key_group(
    client: &Client,
    component: &DistributionComponent,
    id: &str,
    items: Vec<String>,
) -> Result<(), ComponentError> {
    let current = client
        .get_key_group()
        .id(id)
        .send()
        .await
        .map_err(|error| crate::failures::call_failed(format!("GetKeyGroup {id}"), error))?;
    client
        .update_key_group()
        .id(id)
        .set_if_match(current.e_tag)
        .key_group_config(key_group_config(component, items.clone())?)
        .send()
        .await
        .map_err(|error| crate::failures::call_failed(format!("UpdateKeyGroup {id}"), error))?;
    tracing::info!(key_group = id, keys = ?items, "updated key group");
    Ok(())
}

async fn create_distribution(
    component: &DistributionComponent,
    resolved: &Resolved,
) -> Result<(), ComponentError> {
    let client = &component.clients.cloudfront;
    let logical = component.logical_id();
    let view = desired_view(&component.desired, resolved);
    let config = new_config(&view, &component.caller_reference()).map_err(unexpected)?;
    let tags: Vec<Tag> = component
        .desired_tags()
        .into_iter()
        .map(|(key, value)| Tag::builder().key(key).value(value).build())
        .collect::<Result<_, _>>()
        .map_err(unexpected)?;
    let request = DistributionConfigWithTags::builder()
        .distribution_config(config)
        .tags(Tags::builder().set_items(Some(tags)).build())
        .build();
    match client
        .create_distribution_with_tags()
        .distribution_config_with_tags(request)
        .send()
        .await
    {
        Ok(response) => {
            let created = response.distribution.ok_or_else(|| {
                ComponentError::Unexpected(format!(
                    "CreateDistributionWithTags {logical} returned no distribution"
                ))
            })?;
            tracing::info!(distribution = %created.id, %logical, "created distribution");
            *component
                .found_id
                .lock()
                .expect("the lock is never poisoned") = Some(created.id);
            Ok(())
        }
        // The caller reference is derived from the stack and the logical id, so this
        // is an earlier create of the same distribution whose response was lost (the
        // SDK retried a 500, or the process stopped). The observation after this apply
        // finds that distribution by its tags.
        Err(error)
            if matches!(
                error.as_service_error(),
                Some(CreateDistributionWithTagsError::DistributionAlreadyExists(
                    _
                ))
            ) =>
        {
            tracing::info!(%logical, "distribution already created by an earlier call");
            Ok(())
        }
        Err(error) => Err(crate::failures::call_failed(
            format!("CreateDistributionWithTags {logical}"),
            error,
        )),
    }
}

/// Updates the distribution with If-Match. When someone changed it since it was read
/// (PreconditionFailed), it is read again and the owned fields are merged into the
/// new configuration once more, so that the other change is kept where stackd does
/// not own the field.
async fn update_distribution(
    component: &DistributionComponent,
    found: &LiveDistribution,
    resolved: &Resolved,
) -> Result<(), ComponentError> {
    let client = &component.clients.cloudfront;
    let id = found.id.as_str();
    let view = desired_view(&component.desired, resolved);
    let mut current = (found.config.clone(), found.etag.clone());
    let mut reread = false;
    loop {
        let config = merged_config(&current.0, &view).map_err(unexpected)?;
        let sent = client
            .update_distribution()
            .id(id)
            .if_match(&current.1)
            .distribution_config(config)
            .send()
            .await;
        match sent {
            Ok(_) => {
                tracing::info!(distribution = id, logical = %component.logical_id(), "updated distribution");
                return Ok(());
            }
            Err(error)
                if !reread
                    && matches!(
                        error.as_service_error(),
                        Some(UpdateDistributionError::PreconditionFailed(_))
                    ) =>
            {
                tracing::info!(
                    distribution = id,
                    "distribution changed since it was read; reading it again"
                );
                let fresh = read_distribution(client, id).await?.ok_or_else(|| {
                    ComponentError::Unexpected(format!(
                        "distribution {id} vanished during its update"
                    ))
                })?;
                current = (fresh.config, fresh.etag);
                reread = true;
            }
            Err(error) => {
                return Err(crate::failures::call_failed(
                    format!("UpdateDistribution {id}"),
                    error,
                ));
            }
        }
    }
}

async fn retag(client: &Client, arn: &str, delta: &TagDelta) -> Result<(), ComponentError> {
    if !delta.set.is_empty() {
        let tags: Vec<Tag> = delta
            .set
            .iter()
            .map(|(key, value)| Tag::builder().key(key).value(value).build())
            .collect::<Result<_, _>>()
            .map_err(unexpected)?;
        client
            .tag_resource()
            .resource(arn)
            .tags(Tags::builder().set_items(Some(tags)).build())
            .send()
            .await
            .map_err(|error| crate::failures::call_failed(format!("TagResource {arn}"), error))?;
    }
    if !delta.remove.is_empty() {
        client
            .untag_resource()
            .resource(arn)
            .tag_keys(
                TagKeys::builder()
                    .set_items(Some(delta.remove.clone()))
                    .build(),
            )
            .send()
            .await
            .map_err(|error| crate::failures::call_failed(format!("UntagResource {arn}"), error))?;
    }
    tracing::info!(resource = arn, set = ?delta.set.keys(), removed = ?delta.remove, "updated tags");
    Ok(())
}
