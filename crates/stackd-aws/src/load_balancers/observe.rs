//! Reads a load balancer, its target groups and its listeners, with their tags.

use super::{
    LiveHealthCheck, LiveListener, LiveLoadBalancer, LiveTargetGroup, LoadBalancerLive, ids,
};
use crate::tags::{ID_TAG, STACK_TAG, Tagger, comparable};
use aws_sdk_elasticloadbalancingv2::Client;
use aws_sdk_elasticloadbalancingv2::operation::describe_load_balancers::DescribeLoadBalancersError;
use aws_sdk_elasticloadbalancingv2::operation::describe_target_groups::DescribeTargetGroupsError;
use aws_sdk_elasticloadbalancingv2::types::{Listener, LoadBalancer, TargetGroup};
use futures::future::try_join_all;
use stackd_engine::ComponentError;
use stackd_spec::model;
use std::collections::BTreeMap;

/// The maximum number of ARNs that one DescribeTags request takes.
const TAGS_PER_REQUEST: usize = 20;

/// Observes the load balancer and the target groups of the file by name, then the
/// load balancer's listeners, then the tags of all of them in as few calls as ELB allows.
///
/// A load balancer or target group that has the file's name but not this stack's tags
/// belongs to someone else: the component is blocked and stackd never changes it.
pub(super) async fn observe(
    client: &Client,
    desired: &model::LoadBalancer,
    tagger: &Tagger,
) -> Result<LoadBalancerLive, ComponentError> {
    let groups = try_join_all(desired.target_groups.iter().map(|group| async move {
        let found = describe_target_group(client, &group.name).await?;
        Ok::<_, ComponentError>(found.map(|found| (group.id.clone(), found)))
    }));
    let (balancer, groups) =
        tokio::try_join!(describe_load_balancer(client, &desired.name), groups)?;
    let groups: Vec<(String, TargetGroup)> = groups.into_iter().flatten().collect();

    let listeners = match &balancer {
        Some(balancer) => describe_listeners(client, arn_of(balancer.load_balancer_arn())?).await?,
        None => Vec::new(),
    };

    let mut arns: Vec<String> = Vec::new();
    if let Some(balancer) = &balancer {
        arns.push(arn_of(balancer.load_balancer_arn())?.to_owned());
    }
    for (_, group) in &groups {
        arns.push(arn_of(group.target_group_arn())?.to_owned());
    }
    for listener in &listeners {
        arns.push(arn_of(listener.listener_arn())?.to_owned());
    }
    let mut tags = describe_tags(client, &arns).await?;
    let mut tags_of = |arn: Option<&str>| tags.remove(arn.unwrap_or_default()).unwrap_or_default();

    let load_balancer = match balancer {
        Some(balancer) => {
            let tags = tags_of(balancer.load_balancer_arn());
            check_owner(
                "load balancer",
                &desired.name,
                &tags,
                tagger,
                &ids::load_balancer(&desired.id),
            )?;
            Some(live_load_balancer(&balancer, tags))
        }
        None => None,
    };
    let mut target_groups = BTreeMap::new();
    for (id, group) in groups {
        let tags = tags_of(group.target_group_arn());
        check_owner(
            "target group",
            group.target_group_name().unwrap_or_default(),
            &tags,
            tagger,
            &ids::target_group(&desired.id, &id),
        )?;
        target_groups.insert(id, live_target_group(&group, tags));
    }
    let listeners = listeners
        .iter()
        .map(|listener| {
            let tags = tags_of(listener.listener_arn());
            live_listener(listener, tags)
        })
        .collect();
    Ok(LoadBalancerLive {
        load_balancer,
        target_groups,
        listeners,
    })
}

fn arn_of(arn: Option<&str>) -> Result<&str, ComponentError> {
    arn.ok_or_else(|| ComponentError::Unexpected("ELB returned a resource without an ARN".into()))
}

fn check_owner(
    kind: &str,
    name: &str,
    tags: &BTreeMap<String, String>,
    tagger: &Tagger,
    logical_id: &str,
) -> Result<(), ComponentError> {
    let stack = tagger.stack();
    let ours = tags.get(STACK_TAG).map(String::as_str) == Some(stack)
        && tags.get(ID_TAG).map(String::as_str) == Some(logical_id);
    if ours {
        return Ok(());
    }
    Err(ComponentError::Blocked(format!(
        "{kind} {name} exists without the tags {STACK_TAG}={stack} and {ID_TAG}={logical_id}, so it \
         belongs to someone else; stackd leaves it alone until it is adopted by adding those tags"
    )))
}

async fn describe_load_balancer(
    client: &Client,
    name: &str,
) -> Result<Option<LoadBalancer>, ComponentError> {
    match client.describe_load_balancers().names(name).send().await {
        Ok(response) => Ok(response.load_balancers().first().cloned()),
        Err(error)
            if matches!(
                error.as_service_error(),
                Some(DescribeLoadBalancersError::LoadBalancerNotFoundException(_))
            ) =>
        {
            Ok(None)
        }
        Err(error) => Err(crate::failures::call_failed(
            format!("DescribeLoadBalancers {name}"),
            error,
        )),
    }
}

/// Reads one target group by name. ELB fails a whole DescribeTargetGroups request when
/// one of its names does not exist, so each name gets its own request.
async fn describe_target_group(
    client: &Client,
    name: &str,
) -> Result<Option<TargetGroup>, ComponentError> {
    match client.describe_target_groups().names(name).send().await {
        Ok(response) => Ok(response.target_groups().first().cloned()),
        Err(error)
            if matches!(
                error.as_service_error(),
                Some(DescribeTargetGroupsError::TargetGroupNotFoundException(_))
            ) =>
        {
            Ok(None)
        }
        Err(error) => Err(crate::failures::call_failed(
            format!("DescribeTargetGroups {name}"),
            error,
        )),
    }
}

async fn describe_listeners(
    client: &Client,
    load_balancer_arn: &str,
) -> Result<Vec<Listener>, ComponentError> {
    client
        .describe_listeners()
        .load_balancer_arn(load_balancer_arn)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(|error| {
            crate::failures::call_failed(format!("DescribeListeners {load_balancer_arn}"), error)
        })
}

/// Returns the tags of each ARN, without AWS's reserved tags.
async fn describe_tags(
    client: &Client,
    arns: &[String],
) -> Result<BTreeMap<String, BTreeMap<String, String>>, ComponentError> {
    let responses = try_join_all(arns.chunks(TAGS_PER_REQUEST).map(|chunk| async move {
        client
            .describe_tags()
            .set_resource_arns(Some(chunk.to_vec()))
            .send()
            .await
            .map_err(|error| crate::failures::call_failed("DescribeTags", error))
    }))
    .await?;
    let mut tags = BTreeMap::new();
    for response in responses {
        for description in response.tag_descriptions() {
            let Some(arn) = description.resource_arn() else {
                continue;
            };
            let pairs = description.tags().iter().filter_map(|tag| {
                Some((
                    tag.key()?.to_owned(),
                    tag.value().unwrap_or_default().to_owned(),
                ))
            });
            tags.insert(arn.to_owned(), comparable(pairs));
        }
    }
    Ok(tags)
}

fn live_load_balancer(balancer: &LoadBalancer, tags: BTreeMap<String, String>) -> LiveLoadBalancer {
    LiveLoadBalancer {
        arn: balancer.load_balancer_arn().unwrap_or_default().to_owned(),
        dns_name: balancer.dns_name().unwrap_or_default().to_owned(),
        state: balancer
            .state()
            .and_then(|state| state.code())
            .map(|code| code.as_str().to_owned())
            .unwrap_or_default(),
        load_balancer_type: balancer
            .r#type()
            .map(|kind| kind.as_str().to_owned())
            .unwrap_or_default(),
        scheme: balancer
            .scheme()
            .map(|scheme| scheme.as_str().to_owned())
            .unwrap_or_default(),
        subnet_ids: balancer
            .availability_zones()
            .iter()
            .filter_map(|zone| zone.subnet_id().map(str::to_owned))
            .collect(),
        security_group_ids: balancer.security_groups().iter().cloned().collect(),
        tags,
    }
}

fn count(value: Option<i32>) -> Option<u32> {
    value.and_then(|value| u32::try_from(value).ok())
}

fn live_target_group(group: &TargetGroup, tags: BTreeMap<String, String>) -> LiveTargetGroup {
    LiveTargetGroup {
        arn: group.target_group_arn().unwrap_or_default().to_owned(),
        protocol: group
            .protocol()
            .map(|protocol| protocol.as_str().to_owned())
            .unwrap_or_default(),
        port: group
            .port()
            .and_then(|port| u16::try_from(port).ok())
            .unwrap_or_default(),
        target_type: group
            .target_type()
            .map(|kind| kind.as_str().to_owned())
            .unwrap_or_default(),
        vpc_id: group.vpc_id().unwrap_or_default().to_owned(),
        health_check: LiveHealthCheck {
            protocol: group
                .health_check_protocol()
                .map(|protocol| protocol.as_str().to_owned())
                .unwrap_or_default(),
            port: group.health_check_port().unwrap_or_default().to_owned(),
            path: group.health_check_path().map(str::to_owned),
            interval_seconds: count(group.health_check_interval_seconds()),
            timeout_seconds: count(group.health_check_timeout_seconds()),
            healthy_threshold: count(group.healthy_threshold_count()),
            unhealthy_threshold: count(group.unhealthy_threshold_count()),
        },
        tags,
    }
}

fn live_listener(listener: &Listener, tags: BTreeMap<String, String>) -> LiveListener {
    let target_group_arns = listener
        .default_actions()
        .iter()
        .flat_map(|action| {
            // A forward action names its group directly, or in a forward
            // configuration when it spreads traffic over several groups.
            let direct = action.target_group_arn().map(str::to_owned);
            let weighted = action
                .forward_config()
                .map(|config| {
                    config
                        .target_groups()
                        .iter()
                        .filter_map(|tuple| tuple.target_group_arn().map(str::to_owned))
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default();
            direct.into_iter().chain(weighted)
        })
        .fold(Vec::new(), |mut arns, arn| {
            if !arns.contains(&arn) {
                arns.push(arn);
            }
            arns
        });
    LiveListener {
        arn: listener.listener_arn().unwrap_or_default().to_owned(),
        protocol: listener
            .protocol()
            .map(|protocol| protocol.as_str().to_owned())
            .unwrap_or_default(),
        port: listener
            .port()
            .and_then(|port| u16::try_from(port).ok())
            .unwrap_or_default(),
        target_group_arns,
        certificate_arns: listener
            .certificates()
            .iter()
            .filter_map(|certificate| certificate.certificate_arn().map(str::to_owned))
            .collect(),
        tags,
    }
}
