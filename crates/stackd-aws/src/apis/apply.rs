//! Carries out an API plan, one call per action, in the order the diff planned them.

use super::diff::{
    AUTHORIZATION_NONE, Action, INTEGRATION_METHOD_ANY, PAYLOAD_FORMAT, route_target,
};
use super::{ApiComponent, ApiLive, Placement, VPC_LINK_AVAILABLE, ids};
use crate::tags::TagDelta;
use aws_sdk_apigatewayv2::Client;
use aws_sdk_apigatewayv2::config::retry::RetryConfig;
use aws_sdk_apigatewayv2::types::{
    AuthorizationType, AuthorizerType, ConnectionType, Cors, IntegrationType, JwtConfiguration,
    ProtocolType, RouteSettings,
};
use stackd_engine::ComponentError;
use stackd_spec::model::{HttpApi, Stage};
use std::collections::HashMap;

/// Ids that the actions need: the live ones, and the ones that this apply creates.
#[derive(Debug, Default)]
struct Known {
    api: Option<String>,
    vpc_link: Option<String>,
    vpc_link_available: bool,
    authorizer: Option<String>,
    integration: Option<String>,
}

impl Known {
    fn from_live(live: &ApiLive) -> Self {
        Known {
            api: live.api.as_ref().map(|api| api.id.clone()),
            vpc_link: live.vpc_link.as_ref().map(|link| link.id.clone()),
            vpc_link_available: live
                .vpc_link
                .as_ref()
                .is_some_and(|link| link.status == VPC_LINK_AVAILABLE),
            authorizer: live.authorizer.as_ref().map(|found| found.id.clone()),
            integration: live.integration.as_ref().map(|found| found.id.clone()),
        }
    }

    fn api(&self) -> Result<&str, ComponentError> {
        self.api
            .as_deref()
            .ok_or_else(|| ComponentError::Unexpected("the HTTP API has no id yet".into()))
    }
}

/// Runs the actions in order and stops at the first failed call. Refusals stop
/// nothing else: they are reported together once the rest has run. The integration
/// waits for its VPC link to be available, and routes wait for the integration and
/// the authorizer: such actions are skipped, and the next pass runs them.
pub(super) async fn apply(
    component: &ApiComponent,
    live: &ApiLive,
    placement: &Placement,
    actions: Vec<Action>,
) -> Result<(), ComponentError> {
    let mut known = Known::from_live(live);
    let mut refused = Vec::new();
    for action in actions {
        match action {
            Action::Refuse(reason) => refused.push(reason),
            action => run(component, live, placement, &mut known, action).await?,
        }
    }
    if refused.is_empty() {
        Ok(())
    } else {
        Err(ComponentError::Blocked(refused.join("; ")))
    }
}

fn cors(desired: &HttpApi) -> Option<Cors> {
    desired.cors.as_ref().map(|cors| {
        Cors::builder()
            .set_allow_origins(Some(cors.allow_origins.clone()))
            .set_allow_methods(Some(cors.allow_methods.clone()))
            .set_allow_headers(Some(cors.allow_headers.clone()))
            .set_expose_headers(Some(cors.expose_headers.clone()))
            .allow_credentials(cors.allow_credentials)
            .set_max_age(
                cors.max_age_seconds
                    .map(|seconds| i32::try_from(seconds).unwrap_or(i32::MAX)),
            )
            .build()
    })
}

fn jwt_configuration(desired: &HttpApi) -> Option<JwtConfiguration> {
    desired.jwt_authorizer.as_ref().map(|authorizer| {
        JwtConfiguration::builder()
            .issuer(&authorizer.issuer)
            .set_audience(Some(authorizer.audience.clone()))
            .build()
    })
}

/// Returns the default route settings of the stage: only the throttling limits that
/// the file sets, so that API Gateway never receives an unset limit as 0.
pub(crate) fn route_settings(stage: &Stage) -> Option<RouteSettings> {
    stage.throttling.as_ref().map(|throttling| {
        RouteSettings::builder()
            .throttling_rate_limit(f64::from(throttling.rate_limit))
            .throttling_burst_limit(i32::try_from(throttling.burst_limit).unwrap_or(i32::MAX))
            .build()
    })
}

/// Makes the SDK send a create once: API Gateway takes no client token, so a retry
/// after a response lost in transit would create a second copy. It is used for the
/// API, the VPC link, the authorizer and the integration. Routes and stages have
/// unique keys, so AWS rejects a retry of those instead.
fn without_retries() -> aws_sdk_apigatewayv2::config::Builder {
    aws_sdk_apigatewayv2::config::Builder::default().retry_config(RetryConfig::disabled())
}

fn unexpected(operation: &str) -> ComponentError {
    ComponentError::Unexpected(format!("{operation} returned no id"))
}

async fn run(
    component: &ApiComponent,
    live: &ApiLive,
    placement: &Placement,
    known: &mut Known,
    action: Action,
) -> Result<(), ComponentError> {
    let client = &component.clients.apigatewayv2;
    let desired = &component.desired;
    match action {
        Action::CreateApi => {
            let tags: HashMap<String, String> = component
                .tagger
                .desired(&ids::api(&desired.id), &desired.name)
                .into_iter()
                .collect();
            let response = client
                .create_api()
                .name(&desired.name)
                .protocol_type(ProtocolType::Http)
                .set_cors_configuration(cors(desired))
                .set_tags(Some(tags))
                .customize()
                .config_override(without_retries())
                .send()
                .await
                .map_err(|error| {
                    crate::failures::call_failed(format!("CreateApi {}", desired.name), error)
                })?;
            let id = response.api_id().ok_or_else(|| unexpected("CreateApi"))?;
            known.api = Some(id.to_owned());
            tracing::info!(api = %desired.name, id, "created HTTP API");
        }
        Action::UpdateApi => {
            let api_id = known.api()?;
            client
                .update_api()
                .api_id(api_id)
                .name(&desired.name)
                .set_cors_configuration(cors(desired))
                .send()
                .await
                .map_err(|error| {
                    crate::failures::call_failed(format!("UpdateApi {api_id}"), error)
                })?;
            tracing::info!(api = %desired.name, "updated name and CORS configuration");
        }
        Action::DeleteCors => {
            let api_id = known.api()?;
            client
                .delete_cors_configuration()
                .api_id(api_id)
                .send()
                .await
                .map_err(|error| {
                    crate::failures::call_failed(format!("DeleteCorsConfiguration {api_id}"), error)
                })?;
            tracing::info!(api = %desired.name, "deleted CORS configuration");
        }
        Action::CreateVpcLink => create_vpc_link(component, placement, known).await?,
        Action::RenameVpcLink => {
            let link_id = known
                .vpc_link
                .as_deref()
                .ok_or_else(|| unexpected("VPC link"))?;
            let name = component.vpc_link_name();
            client
                .update_vpc_link()
                .vpc_link_id(link_id)
                .name(&name)
                .send()
                .await
                .map_err(|error| {
                    crate::failures::call_failed(format!("UpdateVpcLink {link_id}"), error)
                })?;
            tracing::info!(vpc_link = link_id, name, "renamed VPC link");
        }
        Action::CreateAuthorizer | Action::UpdateAuthorizer => {
            put_authorizer(client, desired, live, known).await?;
        }
        Action::CreateIntegration | Action::UpdateIntegration => {
            put_integration(component, placement, known).await?;
        }
        Action::CreateRoute(key) => put_route(client, desired, known, &key, None).await?,
        Action::UpdateRoute { route_id, key } => {
            put_route(client, desired, known, &key, Some(&route_id)).await?;
        }
        Action::DeleteRoute { route_id } => {
            let api_id = known.api()?;
            client
                .delete_route()
                .api_id(api_id)
                .route_id(&route_id)
                .send()
                .await
                .map_err(|error| {
                    crate::failures::call_failed(format!("DeleteRoute {api_id} {route_id}"), error)
                })?;
            tracing::info!(api = %desired.name, route_id, "deleted route that left the file");
        }
        Action::CreateStage => {
            let api_id = known.api()?;
            let stage = &desired.stage;
            client
                .create_stage()
                .api_id(api_id)
                .stage_name(&stage.name)
                .auto_deploy(true)
                .set_default_route_settings(route_settings(stage))
                .send()
                .await
                .map_err(|error| {
                    crate::failures::call_failed(
                        format!("CreateStage {api_id} {}", stage.name),
                        error,
                    )
                })?;
            tracing::info!(api = %desired.name, stage = %stage.name, "created stage");
        }
        Action::UpdateStage => {
            let api_id = known.api()?;
            let stage = &desired.stage;
            client
                .update_stage()
                .api_id(api_id)
                .stage_name(&stage.name)
                .auto_deploy(true)
                .set_default_route_settings(route_settings(stage))
                .send()
                .await
                .map_err(|error| {
                    crate::failures::call_failed(
                        format!("UpdateStage {api_id} {}", stage.name),
                        error,
                    )
                })?;
            tracing::info!(api = %desired.name, stage = %stage.name, "updated stage");
        }
        Action::Retag { arn, delta } => retag(client, &arn, &delta).await?,
        Action::Refuse(_) => unreachable!("apply handles refusals before calling run"),
    }
    Ok(())
}

async fn create_vpc_link(
    component: &ApiComponent,
    placement: &Placement,
    known: &mut Known,
) -> Result<(), ComponentError> {
    let desired = &component.desired;
    if !placement.complete {
        return Err(ComponentError::Blocked(format!(
            "{} waits for its subnets and security groups to exist",
            ids::vpc_link(&desired.id)
        )));
    }
    let name = component.vpc_link_name();
    let tags: HashMap<String, String> = component
        .tagger
        .desired(&ids::vpc_link(&desired.id), &name)
        .into_iter()
        .collect();
    let response = component
        .clients
        .apigatewayv2
        .create_vpc_link()
        .name(&name)
        .set_subnet_ids(Some(placement.subnets.iter().cloned().collect()))
        .set_security_group_ids(Some(placement.security_groups.iter().cloned().collect()))
        .set_tags(Some(tags))
        .customize()
        .config_override(without_retries())
        .send()
        .await
        .map_err(|error| crate::failures::call_failed(format!("CreateVpcLink {name}"), error))?;
    let id = response
        .vpc_link_id()
        .ok_or_else(|| unexpected("CreateVpcLink"))?;
    known.vpc_link = Some(id.to_owned());
    known.vpc_link_available = response
        .vpc_link_status()
        .is_some_and(|status| status.as_str() == VPC_LINK_AVAILABLE);
    tracing::info!(vpc_link = %name, id, "created VPC link");
    Ok(())
}

async fn put_authorizer(
    client: &Client,
    desired: &HttpApi,
    live: &ApiLive,
    known: &mut Known,
) -> Result<(), ComponentError> {
    let Some(wanted) = &desired.jwt_authorizer else {
        return Ok(());
    };
    let api_id = known.api()?.to_owned();
    let identity_source = vec![wanted.identity_source.clone()];
    match &live.authorizer {
        Some(found) => {
            client
                .update_authorizer()
                .api_id(&api_id)
                .authorizer_id(&found.id)
                .name(&wanted.name)
                .authorizer_type(AuthorizerType::Jwt)
                .set_identity_source(Some(identity_source))
                .set_jwt_configuration(jwt_configuration(desired))
                .send()
                .await
                .map_err(|error| {
                    crate::failures::call_failed(
                        format!("UpdateAuthorizer {api_id} {}", found.id),
                        error,
                    )
                })?;
            tracing::info!(authorizer = %wanted.name, "updated JWT authorizer");
        }
        None => {
            let response = client
                .create_authorizer()
                .api_id(&api_id)
                .name(&wanted.name)
                .authorizer_type(AuthorizerType::Jwt)
                .set_identity_source(Some(identity_source))
                .set_jwt_configuration(jwt_configuration(desired))
                .customize()
                .config_override(without_retries())
                .send()
                .await
                .map_err(|error| {
                    crate::failures::call_failed(
                        format!("CreateAuthorizer {api_id} {}", wanted.name),
                        error,
                    )
                })?;
            let id = response
                .authorizer_id()
                .ok_or_else(|| unexpected("CreateAuthorizer"))?;
            known.authorizer = Some(id.to_owned());
            tracing::info!(authorizer = %wanted.name, id, "created JWT authorizer");
        }
    }
    Ok(())
}

async fn put_integration(
    component: &ApiComponent,
    placement: &Placement,
    known: &mut Known,
) -> Result<(), ComponentError> {
    let logical_id = ids::integration(&component.desired.id);
    let (Some(link_id), true, Some(listener_arn)) = (
        known.vpc_link.clone(),
        known.vpc_link_available,
        placement.listener_arn.as_deref(),
    ) else {
        tracing::debug!(integration = %logical_id, "waits for an available VPC link and the listener");
        return Ok(());
    };
    let client = &component.clients.apigatewayv2;
    let api_id = known.api()?.to_owned();
    let description = component.integration_description();
    match known.integration.clone() {
        Some(integration_id) => {
            client
                .update_integration()
                .api_id(&api_id)
                .integration_id(&integration_id)
                .integration_type(IntegrationType::HttpProxy)
                .connection_type(ConnectionType::VpcLink)
                .connection_id(&link_id)
                .integration_uri(listener_arn)
                .integration_method(INTEGRATION_METHOD_ANY)
                .payload_format_version(PAYLOAD_FORMAT)
                .description(&description)
                .send()
                .await
                .map_err(|error| {
                    crate::failures::call_failed(
                        format!("UpdateIntegration {api_id} {integration_id}"),
                        error,
                    )
                })?;
            tracing::info!(integration = %logical_id, "updated integration");
        }
        None => {
            let response = client
                .create_integration()
                .api_id(&api_id)
                .integration_type(IntegrationType::HttpProxy)
                .connection_type(ConnectionType::VpcLink)
                .connection_id(&link_id)
                .integration_uri(listener_arn)
                .integration_method(INTEGRATION_METHOD_ANY)
                .payload_format_version(PAYLOAD_FORMAT)
                .description(&description)
                .customize()
                .config_override(without_retries())
                .send()
                .await
                .map_err(|error| {
                    crate::failures::call_failed(format!("CreateIntegration {api_id}"), error)
                })?;
            let id = response
                .integration_id()
                .ok_or_else(|| unexpected("CreateIntegration"))?;
            known.integration = Some(id.to_owned());
            tracing::info!(integration = %logical_id, id, "created integration");
        }
    }
    Ok(())
}

/// Creates the route, or updates the route `route_id`, with its authorization and target.
async fn put_route(
    client: &Client,
    desired: &HttpApi,
    known: &Known,
    key: &str,
    route_id: Option<&str>,
) -> Result<(), ComponentError> {
    let logical_id = ids::route(&desired.id, key);
    let public = desired
        .routes
        .iter()
        .find(|route| route.key.to_string() == key)
        .is_some_and(|route| route.public);
    let protected = !public && desired.jwt_authorizer.is_some();
    let Some(integration_id) = known.integration.as_deref() else {
        tracing::debug!(route = %logical_id, "waits for the integration");
        return Ok(());
    };
    let authorizer_id = match (protected, known.authorizer.as_deref()) {
        (true, None) => {
            tracing::debug!(route = %logical_id, "waits for the authorizer");
            return Ok(());
        }
        (true, Some(id)) => Some(id.to_owned()),
        (false, _) => None,
    };
    let authorization_type = if protected {
        AuthorizationType::Jwt
    } else {
        AuthorizationType::from(AUTHORIZATION_NONE)
    };
    let api_id = known.api()?;
    let target = route_target(integration_id);
    match route_id {
        Some(route_id) => {
            // NOTE: an empty authorizer id is how this sends "no authorizer" when a
            // route becomes public; the API reference does not document how to clear it.
            client
                .update_route()
                .api_id(api_id)
                .route_id(route_id)
                .route_key(key)
                .authorization_type(authorization_type)
                .authorizer_id(authorizer_id.unwrap_or_default())
                .target(&target)
                .send()
                .await
                .map_err(|error| {
                    crate::failures::call_failed(format!("UpdateRoute {api_id} {route_id}"), error)
                })?;
            tracing::info!(route = %logical_id, "updated route");
        }
        None => {
            client
                .create_route()
                .api_id(api_id)
                .route_key(key)
                .authorization_type(authorization_type)
                .set_authorizer_id(authorizer_id)
                .target(&target)
                .send()
                .await
                .map_err(|error| {
                    crate::failures::call_failed(format!("CreateRoute {api_id} {key}"), error)
                })?;
            tracing::info!(route = %logical_id, "created route");
        }
    }
    Ok(())
}

async fn retag(client: &Client, arn: &str, delta: &TagDelta) -> Result<(), ComponentError> {
    if !delta.set.is_empty() {
        client
            .tag_resource()
            .resource_arn(arn)
            .set_tags(Some(delta.set.clone().into_iter().collect()))
            .send()
            .await
            .map_err(|error| crate::failures::call_failed(format!("TagResource {arn}"), error))?;
    }
    if !delta.remove.is_empty() {
        client
            .untag_resource()
            .resource_arn(arn)
            .set_tag_keys(Some(delta.remove.clone()))
            .send()
            .await
            .map_err(|error| crate::failures::call_failed(format!("UntagResource {arn}"), error))?;
    }
    tracing::info!(resource = arn, set = ?delta.set.keys(), removed = ?delta.remove, "updated tags");
    Ok(())
}
