//! Reads an HTTP API and its VPC link by their tags, then the API's authorizer,
//! integration, routes and stage.

use super::{
    ApiComponent, ApiLive, CanonicalCors, LiveApi, LiveAuthorizer, LiveIntegration, LiveRoute,
    LiveStage, LiveVpcLink, ids,
};
use crate::tags::{ID_TAG, STACK_TAG, Tagger, comparable};
use aws_sdk_apigatewayv2::Client;
use aws_sdk_apigatewayv2::operation::get_stage::GetStageError;
use aws_sdk_apigatewayv2::types::{Api, Authorizer, Integration, Route, VpcLink};
use stackd_engine::ComponentError;
use std::collections::{BTreeMap, HashMap};

/// Observes the API and the VPC link, then, when the API exists, its children.
///
/// An API or VPC link that has the expected name but not this stack's tags belongs to
/// someone else: the component is blocked and stackd never changes it.
pub(super) async fn observe(component: &ApiComponent) -> Result<ApiLive, ComponentError> {
    let client = &component.clients.apigatewayv2;
    let desired = &component.desired;
    let tagger = &component.tagger;
    let region = region_of(client);

    let (apis, links) = tokio::try_join!(get_apis(client), get_vpc_links(client))?;
    let api_id = ids::api(&desired.id);
    let api = find_ours(
        "HTTP API",
        &desired.name,
        &api_id,
        tagger,
        apis.iter()
            .map(|api| (api, api.name().unwrap_or_default(), api.tags())),
    )?
    .map(|api| live_api(api, &region));
    let link_id = ids::vpc_link(&desired.id);
    let vpc_link = find_ours(
        "VPC link",
        &component.vpc_link_name(),
        &link_id,
        tagger,
        links
            .iter()
            .map(|link| (link, link.name().unwrap_or_default(), link.tags())),
    )?
    .map(|link| live_vpc_link(link, &region));

    let Some(api) = api else {
        return Ok(ApiLive {
            api: None,
            vpc_link,
            ..ApiLive::default()
        });
    };
    let (authorizers, integrations, routes, stage) = tokio::try_join!(
        get_authorizers(client, &api.id),
        get_integrations(client, &api.id),
        get_routes(client, &api.id),
        get_stage(client, &api.id, &desired.stage.name),
    )?;

    let authorizer = desired.jwt_authorizer.as_ref().and_then(|wanted| {
        authorizers
            .iter()
            .find(|found| found.name() == Some(wanted.name.as_str()))
            .map(live_authorizer)
    });
    // Integrations have no name or tags: stackd's is the one with its description.
    // CreateIntegration goes without SDK retries, so a lost response leaves none
    // twice. Should two exist all the same, the one with the lowest id is used.
    let description = component.integration_description();
    let mut ours: Vec<&Integration> = integrations
        .iter()
        .filter(|found| found.description() == Some(description.as_str()))
        .collect();
    ours.sort_by_key(|found| found.integration_id().unwrap_or_default().to_owned());
    let integration = ours.first().map(|found| live_integration(found));

    Ok(ApiLive {
        api: Some(api),
        vpc_link,
        authorizer,
        integration,
        routes: routes.iter().map(live_route).collect(),
        stage,
    })
}

/// Returns the Region of the client, which API Gateway ARNs name.
fn region_of(client: &Client) -> String {
    client
        .config()
        .region()
        .map(|region| region.as_ref().to_owned())
        .unwrap_or_default()
}

/// Returns the ARN that TagResource takes for an API Gateway resource, such as
/// `arn:aws:apigateway:eu-west-3::/apis/a1b2c3`.
pub(super) fn resource_arn(region: &str, collection: &str, id: &str) -> String {
    format!("arn:aws:apigateway:{region}::/{collection}/{id}")
}

fn tags_of(tags: Option<&HashMap<String, String>>) -> BTreeMap<String, String> {
    comparable(tags.cloned().unwrap_or_default())
}

/// Picks the one resource that carries this stack's tags for `logical_id`. Two such
/// resources, or none and one of the same name without the tags, block the component.
fn find_ours<'a, T>(
    kind: &str,
    name: &str,
    logical_id: &str,
    tagger: &Tagger,
    candidates: impl Iterator<Item = (&'a T, &'a str, Option<&'a HashMap<String, String>>)>,
) -> Result<Option<&'a T>, ComponentError> {
    let stack = tagger.stack();
    let mut ours = Vec::new();
    let mut same_name = false;
    for (resource, resource_name, tags) in candidates {
        let tags = tags_of(tags);
        let is_ours = tags.get(STACK_TAG).map(String::as_str) == Some(stack)
            && tags.get(ID_TAG).map(String::as_str) == Some(logical_id);
        if is_ours {
            ours.push(resource);
        } else if resource_name == name {
            same_name = true;
        }
    }
    match ours.len() {
        0 if same_name => Err(ComponentError::Blocked(format!(
            "{kind} {name} exists without the tags {STACK_TAG}={stack} and {ID_TAG}={logical_id}, \
             so it belongs to someone else; stackd leaves it alone until it is adopted by \
             adding those tags"
        ))),
        0 => Ok(None),
        1 => Ok(ours.pop()),
        count => Err(ComponentError::Blocked(format!(
            "{count} resources of kind {kind} carry the tags {STACK_TAG}={stack} and \
             {ID_TAG}={logical_id}; delete all but one of them so that stackd knows which one \
             to keep"
        ))),
    }
}

/// Pages through a Get* call of API Gateway, which returns `items` and `nextToken`.
macro_rules! all_pages {
    ($request:expr, $operation:expr) => {{
        let mut items = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let response = $request
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|error| crate::failures::call_failed($operation, error))?;
            items.extend(response.items().iter().cloned());
            match response.next_token() {
                Some(next) if !next.is_empty() => token = Some(next.to_owned()),
                _ => break,
            }
        }
        Ok::<_, ComponentError>(items)
    }};
}

async fn get_apis(client: &Client) -> Result<Vec<Api>, ComponentError> {
    all_pages!(client.get_apis(), "GetApis")
}

async fn get_vpc_links(client: &Client) -> Result<Vec<VpcLink>, ComponentError> {
    all_pages!(client.get_vpc_links(), "GetVpcLinks")
}

async fn get_authorizers(client: &Client, api_id: &str) -> Result<Vec<Authorizer>, ComponentError> {
    all_pages!(
        client.get_authorizers().api_id(api_id),
        format!("GetAuthorizers {api_id}")
    )
}

async fn get_integrations(
    client: &Client,
    api_id: &str,
) -> Result<Vec<Integration>, ComponentError> {
    all_pages!(
        client.get_integrations().api_id(api_id),
        format!("GetIntegrations {api_id}")
    )
}

async fn get_routes(client: &Client, api_id: &str) -> Result<Vec<Route>, ComponentError> {
    all_pages!(
        client.get_routes().api_id(api_id),
        format!("GetRoutes {api_id}")
    )
}

async fn get_stage(
    client: &Client,
    api_id: &str,
    name: &str,
) -> Result<Option<LiveStage>, ComponentError> {
    match client
        .get_stage()
        .api_id(api_id)
        .stage_name(name)
        .send()
        .await
    {
        Ok(response) => {
            let settings = response.default_route_settings();
            Ok(Some(LiveStage {
                name: response.stage_name().unwrap_or(name).to_owned(),
                auto_deploy: response.auto_deploy().unwrap_or(false),
                throttling_rate_limit: settings
                    .and_then(|settings| settings.throttling_rate_limit()),
                throttling_burst_limit: settings
                    .and_then(|settings| settings.throttling_burst_limit()),
            }))
        }
        Err(error)
            if matches!(
                error.as_service_error(),
                Some(GetStageError::NotFoundException(_))
            ) =>
        {
            Ok(None)
        }
        Err(error) => Err(crate::failures::call_failed(
            format!("GetStage {api_id} {name}"),
            error,
        )),
    }
}

fn live_api(api: &Api, region: &str) -> LiveApi {
    let id = api.api_id().unwrap_or_default().to_owned();
    let endpoint = api.api_endpoint().unwrap_or_default();
    LiveApi {
        arn: resource_arn(region, "apis", &id),
        id,
        endpoint: endpoint
            .strip_prefix("https://")
            .unwrap_or(endpoint)
            .trim_end_matches('/')
            .to_owned(),
        name: api.name().unwrap_or_default().to_owned(),
        protocol_type: api
            .protocol_type()
            .map(|kind| kind.as_str().to_owned())
            .unwrap_or_default(),
        cors: api.cors_configuration().map(|cors| {
            CanonicalCors::new(
                cors.allow_origins(),
                cors.allow_methods(),
                cors.allow_headers(),
                cors.expose_headers(),
                cors.allow_credentials().unwrap_or(false),
                cors.max_age(),
            )
        }),
        tags: tags_of(api.tags()),
    }
}

fn live_vpc_link(link: &VpcLink, region: &str) -> LiveVpcLink {
    let id = link.vpc_link_id().unwrap_or_default().to_owned();
    LiveVpcLink {
        arn: resource_arn(region, "vpclinks", &id),
        id,
        name: link.name().unwrap_or_default().to_owned(),
        status: link
            .vpc_link_status()
            .map(|status| status.as_str().to_owned())
            .unwrap_or_default(),
        status_message: link
            .vpc_link_status_message()
            .filter(|message| !message.is_empty())
            .map(str::to_owned),
        subnet_ids: link.subnet_ids().iter().cloned().collect(),
        security_group_ids: link.security_group_ids().iter().cloned().collect(),
        tags: tags_of(link.tags()),
    }
}

fn live_authorizer(authorizer: &Authorizer) -> LiveAuthorizer {
    let jwt = authorizer.jwt_configuration();
    LiveAuthorizer {
        id: authorizer.authorizer_id().unwrap_or_default().to_owned(),
        name: authorizer.name().unwrap_or_default().to_owned(),
        authorizer_type: authorizer
            .authorizer_type()
            .map(|kind| kind.as_str().to_owned())
            .unwrap_or_default(),
        identity_source: authorizer.identity_source().to_vec(),
        issuer: jwt.and_then(|jwt| jwt.issuer()).map(str::to_owned),
        audience: jwt
            .map(|jwt| jwt.audience().iter().cloned().collect())
            .unwrap_or_default(),
    }
}

fn live_integration(integration: &Integration) -> LiveIntegration {
    LiveIntegration {
        id: integration.integration_id().unwrap_or_default().to_owned(),
        integration_type: integration
            .integration_type()
            .map(|kind| kind.as_str().to_owned())
            .unwrap_or_default(),
        // API Gateway documents INTERNET as the default connection type.
        connection_type: integration
            .connection_type()
            .map_or_else(|| "INTERNET".to_owned(), |kind| kind.as_str().to_owned()),
        connection_id: integration.connection_id().map(str::to_owned),
        integration_uri: integration.integration_uri().map(str::to_owned),
        integration_method: integration.integration_method().map(str::to_owned),
        payload_format_version: integration.payload_format_version().map(str::to_owned),
    }
}

fn live_route(route: &Route) -> LiveRoute {
    LiveRoute {
        id: route.route_id().unwrap_or_default().to_owned(),
        route_key: route.route_key().unwrap_or_default().to_owned(),
        // API Gateway documents NONE as the default authorization type.
        authorization_type: route
            .authorization_type()
            .map_or_else(|| "NONE".to_owned(), |kind| kind.as_str().to_owned()),
        authorizer_id: route
            .authorizer_id()
            .filter(|id| !id.is_empty())
            .map(str::to_owned),
        target: route.target().map(str::to_owned),
    }
}
