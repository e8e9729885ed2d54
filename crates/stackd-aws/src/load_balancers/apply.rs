//! Carries out a load balancer plan, one call per action, in the order the diff planned them.

use super::diff::{Action, health_check_port, target_type_name};
use super::{LoadBalancerLive, Placement, ids, protocol_name};
use crate::tags::{TagDelta, Tagger};
use aws_sdk_elasticloadbalancingv2::Client;
use aws_sdk_elasticloadbalancingv2::types::{
    Action as ElbAction, ActionTypeEnum, Certificate, LoadBalancerSchemeEnum, LoadBalancerTypeEnum,
    ProtocolEnum, Tag, TargetTypeEnum,
};
use stackd_engine::ComponentError;
use stackd_spec::model::{self, LoadBalancerScheme, LoadBalancerType};
use std::collections::BTreeMap;

/// ARNs by logical id: the live ones, and the ones that this apply creates.
struct Known(BTreeMap<String, String>);

impl Known {
    fn from_live(desired: &model::LoadBalancer, tagger: &Tagger, live: &LoadBalancerLive) -> Self {
        let mut arns = BTreeMap::new();
        if let Some(balancer) = &live.load_balancer {
            arns.insert(ids::load_balancer(&desired.id), balancer.arn.clone());
        }
        for (id, group) in &live.target_groups {
            arns.insert(ids::target_group(&desired.id, id), group.arn.clone());
        }
        for listener in &live.listeners {
            if let Some(logical_id) = super::diff::logical_id_of(&listener.tags, tagger) {
                arns.insert(logical_id.clone(), listener.arn.clone());
            }
        }
        Known(arns)
    }

    fn get(&self, logical_id: &str) -> Result<&str, ComponentError> {
        self.0
            .get(logical_id)
            .map(String::as_str)
            .ok_or_else(|| ComponentError::Unexpected(format!("{logical_id} has no ARN yet")))
    }
}

/// Runs the actions in order and stops at the first failed call. Refusals stop
/// nothing else: they are reported together once the rest has run. Deletions
/// reach this function only when the engine's destruction gate allowed them.
pub(super) async fn apply(
    client: &Client,
    desired: &model::LoadBalancer,
    tagger: &Tagger,
    placement: &Placement,
    live: &LoadBalancerLive,
    actions: Vec<Action>,
) -> Result<(), ComponentError> {
    let mut known = Known::from_live(desired, tagger, live);
    let mut refused = Vec::new();
    for action in actions {
        match action {
            Action::Refuse(reason) => refused.push(reason),
            action => run(client, desired, tagger, placement, &mut known, action).await?,
        }
    }
    if refused.is_empty() {
        Ok(())
    } else {
        Err(ComponentError::Blocked(refused.join("; ")))
    }
}

fn elb_tags(tags: &BTreeMap<String, String>) -> Vec<Tag> {
    tags.iter()
        .map(|(key, value)| Tag::builder().key(key).value(value).build())
        .collect()
}

fn protocol(protocol: model::ElbProtocol) -> ProtocolEnum {
    ProtocolEnum::from(protocol_name(protocol))
}

fn api_integer(value: u32) -> i32 {
    i32::try_from(value).unwrap_or(i32::MAX)
}

fn forward(target_group_arn: &str) -> ElbAction {
    ElbAction::builder()
        .r#type(ActionTypeEnum::Forward)
        .target_group_arn(target_group_arn)
        .build()
}

fn certificates(listener: &model::Listener) -> Option<Vec<Certificate>> {
    listener
        .certificate_arn
        .as_ref()
        .map(|arn| vec![Certificate::builder().certificate_arn(arn).build()])
}

fn target_group<'a>(
    desired: &'a model::LoadBalancer,
    id: &str,
) -> Result<&'a model::TargetGroup, ComponentError> {
    desired
        .target_group(id)
        .ok_or_else(|| ComponentError::Unexpected(format!("target group {id} is not in the file")))
}

fn listener<'a>(
    desired: &'a model::LoadBalancer,
    id: &str,
) -> Result<&'a model::Listener, ComponentError> {
    desired
        .listener(id)
        .ok_or_else(|| ComponentError::Unexpected(format!("listener {id} is not in the file")))
}

fn waiting_for_placement(desired: &model::LoadBalancer) -> ComponentError {
    ComponentError::Blocked(format!(
        "{} waits for its VPC, subnets and security groups to exist",
        ids::load_balancer(&desired.id)
    ))
}

async fn run(
    client: &Client,
    desired: &model::LoadBalancer,
    tagger: &Tagger,
    placement: &Placement,
    known: &mut Known,
    action: Action,
) -> Result<(), ComponentError> {
    let balancer_id = ids::load_balancer(&desired.id);
    match action {
        Action::CreateLoadBalancer => {
            if !placement.complete {
                return Err(waiting_for_placement(desired));
            }
            let kind = match desired.load_balancer_type {
                LoadBalancerType::Network => LoadBalancerTypeEnum::Network,
                LoadBalancerType::Application => LoadBalancerTypeEnum::Application,
            };
            let scheme = match desired.scheme {
                LoadBalancerScheme::Internal => LoadBalancerSchemeEnum::Internal,
                LoadBalancerScheme::InternetFacing => LoadBalancerSchemeEnum::InternetFacing,
            };
            let security_groups = (!placement.security_groups.is_empty())
                .then(|| placement.security_groups.iter().cloned().collect());
            // ELB returns the existing load balancer when one of the same name and
            // settings exists, so a retried create creates nothing twice.
            let response = client
                .create_load_balancer()
                .name(&desired.name)
                .r#type(kind)
                .scheme(scheme)
                .set_subnets(Some(placement.subnets.iter().cloned().collect()))
                .set_security_groups(security_groups)
                .set_tags(Some(elb_tags(&tagger.desired(&balancer_id, &desired.name))))
                .send()
                .await
                .map_err(|error| {
                    crate::failures::call_failed(
                        format!("CreateLoadBalancer {}", desired.name),
                        error,
                    )
                })?;
            let arn = response
                .load_balancers()
                .first()
                .and_then(|balancer| balancer.load_balancer_arn())
                .ok_or_else(|| {
                    ComponentError::Unexpected(format!(
                        "CreateLoadBalancer {} returned no ARN",
                        desired.name
                    ))
                })?;
            known.0.insert(balancer_id, arn.to_owned());
            tracing::info!(load_balancer = %desired.name, "created load balancer");
        }
        Action::SetSubnets => {
            if !placement.complete {
                return Err(waiting_for_placement(desired));
            }
            let arn = known.get(&balancer_id)?;
            client
                .set_subnets()
                .load_balancer_arn(arn)
                .set_subnets(Some(placement.subnets.iter().cloned().collect()))
                .send()
                .await
                .map_err(|error| {
                    crate::failures::call_failed(format!("SetSubnets {arn}"), error)
                })?;
            tracing::info!(load_balancer = %desired.name, subnets = ?placement.subnets, "set subnets");
        }
        Action::SetSecurityGroups => {
            if !placement.complete {
                return Err(waiting_for_placement(desired));
            }
            let arn = known.get(&balancer_id)?;
            client
                .set_security_groups()
                .load_balancer_arn(arn)
                .set_security_groups(Some(placement.security_groups.iter().cloned().collect()))
                .send()
                .await
                .map_err(|error| {
                    crate::failures::call_failed(format!("SetSecurityGroups {arn}"), error)
                })?;
            tracing::info!(load_balancer = %desired.name, security_groups = ?placement.security_groups, "set security groups");
        }
        Action::CreateTargetGroup(id) => {
            let group = target_group(desired, &id)?;
            let vpc_id = placement
                .vpc_id
                .as_deref()
                .ok_or_else(|| waiting_for_placement(desired))?;
            let check = &group.health_check;
            let logical_id = ids::target_group(&desired.id, &id);
            let response = client
                .create_target_group()
                .name(&group.name)
                .protocol(protocol(group.protocol))
                .port(i32::from(group.port))
                .vpc_id(vpc_id)
                .target_type(TargetTypeEnum::from(target_type_name(group.target_type)))
                .health_check_protocol(protocol(check.protocol))
                .health_check_port(health_check_port(check))
                .set_health_check_path(check.path.clone())
                .set_health_check_interval_seconds(check.interval_seconds.map(api_integer))
                .set_health_check_timeout_seconds(check.timeout_seconds.map(api_integer))
                .set_healthy_threshold_count(check.healthy_threshold.map(api_integer))
                .set_unhealthy_threshold_count(check.unhealthy_threshold.map(api_integer))
                .set_tags(Some(elb_tags(&tagger.desired(&logical_id, &group.name))))
                .send()
                .await
                .map_err(|error| {
                    crate::failures::call_failed(format!("CreateTargetGroup {}", group.name), error)
                })?;
            let arn = response
                .target_groups()
                .first()
                .and_then(|group| group.target_group_arn())
                .ok_or_else(|| {
                    ComponentError::Unexpected(format!(
                        "CreateTargetGroup {} returned no ARN",
                        group.name
                    ))
                })?;
            known.0.insert(logical_id, arn.to_owned());
            tracing::info!(target_group = %group.name, "created target group");
        }
        Action::ModifyHealthCheck(id) => {
            let group = target_group(desired, &id)?;
            let arn = known.get(&ids::target_group(&desired.id, &id))?;
            let check = &group.health_check;
            client
                .modify_target_group()
                .target_group_arn(arn)
                .health_check_protocol(protocol(check.protocol))
                .health_check_port(health_check_port(check))
                .set_health_check_path(check.path.clone())
                .set_health_check_interval_seconds(check.interval_seconds.map(api_integer))
                .set_health_check_timeout_seconds(check.timeout_seconds.map(api_integer))
                .set_healthy_threshold_count(check.healthy_threshold.map(api_integer))
                .set_unhealthy_threshold_count(check.unhealthy_threshold.map(api_integer))
                .send()
                .await
                .map_err(|error| {
                    crate::failures::call_failed(format!("ModifyTargetGroup {}", group.name), error)
                })?;
            tracing::info!(target_group = %group.name, "set health check");
        }
        Action::CreateListener(id) => {
            let wanted = listener(desired, &id)?;
            let logical_id = ids::listener(&desired.id, &id);
            let group_arn = known.get(&ids::target_group(&desired.id, &wanted.target_group))?;
            let response = client
                .create_listener()
                .load_balancer_arn(known.get(&balancer_id)?)
                .protocol(protocol(wanted.protocol))
                .port(i32::from(wanted.port))
                .default_actions(forward(group_arn))
                .set_certificates(certificates(wanted))
                .set_tags(Some(elb_tags(&tagger.desired(&logical_id, &id))))
                .send()
                .await
                .map_err(|error| {
                    crate::failures::call_failed(format!("CreateListener {logical_id}"), error)
                })?;
            let arn = response
                .listeners()
                .first()
                .and_then(|listener| listener.listener_arn())
                .ok_or_else(|| {
                    ComponentError::Unexpected(format!(
                        "CreateListener {logical_id} returned no ARN"
                    ))
                })?;
            known.0.insert(logical_id.clone(), arn.to_owned());
            tracing::info!(listener = %logical_id, port = wanted.port, "created listener");
        }
        Action::ModifyListener(id) => {
            let wanted = listener(desired, &id)?;
            let logical_id = ids::listener(&desired.id, &id);
            let group_arn = known.get(&ids::target_group(&desired.id, &wanted.target_group))?;
            client
                .modify_listener()
                .listener_arn(known.get(&logical_id)?)
                .protocol(protocol(wanted.protocol))
                .port(i32::from(wanted.port))
                .default_actions(forward(group_arn))
                .set_certificates(certificates(wanted))
                .send()
                .await
                .map_err(|error| {
                    crate::failures::call_failed(format!("ModifyListener {logical_id}"), error)
                })?;
            tracing::info!(listener = %logical_id, port = wanted.port, "modified listener");
        }
        Action::Retag { arn, delta } => retag(client, &arn, &delta).await?,
        Action::DeleteListener { arn } => {
            client
                .delete_listener()
                .listener_arn(&arn)
                .send()
                .await
                .map_err(|error| {
                    crate::failures::call_failed(format!("DeleteListener {arn}"), error)
                })?;
            tracing::info!(listener = %arn, "deleted listener that left the file");
        }
        Action::Refuse(_) => unreachable!("apply handles refusals before calling run"),
    }
    Ok(())
}

async fn retag(client: &Client, arn: &str, delta: &TagDelta) -> Result<(), ComponentError> {
    if !delta.set.is_empty() {
        client
            .add_tags()
            .resource_arns(arn)
            .set_tags(Some(elb_tags(&delta.set)))
            .send()
            .await
            .map_err(|error| crate::failures::call_failed(format!("AddTags {arn}"), error))?;
    }
    if !delta.remove.is_empty() {
        client
            .remove_tags()
            .resource_arns(arn)
            .set_tag_keys(Some(delta.remove.clone()))
            .send()
            .await
            .map_err(|error| crate::failures::call_failed(format!("RemoveTags {arn}"), error))?;
    }
    tracing::info!(resource = arn, set = ?delta.set.keys(), removed = ?delta.remove, "updated tags");
    Ok(())
}
