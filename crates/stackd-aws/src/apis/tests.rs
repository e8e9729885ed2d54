//! API Gateway responses that moto cannot show, played with aws-smithy-mocks: how the
//! service spells what it returns, and what stackd leaves out of its requests.

use super::*;
use crate::mocks::{mock_client, offline_clients};
use aws_sdk_apigatewayv2::Client;
use aws_sdk_apigatewayv2::operation::create_stage::{CreateStageInput, CreateStageOutput};
use aws_sdk_apigatewayv2::operation::get_apis::GetApisOutput;
use aws_sdk_apigatewayv2::operation::get_authorizers::GetAuthorizersOutput;
use aws_sdk_apigatewayv2::operation::get_integrations::GetIntegrationsOutput;
use aws_sdk_apigatewayv2::operation::get_routes::GetRoutesOutput;
use aws_sdk_apigatewayv2::operation::get_stage::{GetStageError, GetStageOutput};
use aws_sdk_apigatewayv2::operation::get_vpc_links::GetVpcLinksOutput;
use aws_sdk_apigatewayv2::operation::update_stage::{UpdateStageInput, UpdateStageOutput};
use aws_sdk_apigatewayv2::types::error::NotFoundException;
use aws_sdk_apigatewayv2::types::{
    self as sdk, AuthorizationType, AuthorizerType, ConnectionType, IntegrationType,
    JwtConfiguration, ProtocolType, RouteSettings, VpcLinkStatus,
};
use aws_smithy_mocks::{Rule, mock};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use stackd_engine::ChangeKind;
use stackd_spec::model::{
    ApiRoute, Cors, Integration, JwtAuthorizer, ListenerRef, RouteKey, Stage, Throttling, VpcLink,
};
use std::sync::{Arc, Mutex};

const STACK: &str = "s";
const API_ID: &str = "a1b2c3";
const LINK_ID: &str = "vl1";
const AUTHORIZER_ID: &str = "au1";
const INTEGRATION_ID: &str = "in1";
const LISTENER_ARN: &str =
    "arn:aws:elasticloadbalancing:eu-west-3:123456789012:listener/net/api/1/2";

fn desired(throttling: Option<Throttling>) -> HttpApi {
    HttpApi {
        id: "api".to_owned(),
        name: "s-api".to_owned(),
        cors: Some(Cors {
            allow_origins: vec![
                "https://app.example.com".to_owned(),
                "https://www.example.com".to_owned(),
            ],
            allow_methods: vec!["GET".to_owned(), "POST".to_owned(), "OPTIONS".to_owned()],
            allow_headers: vec!["Authorization".to_owned(), "Content-Type".to_owned()],
            expose_headers: vec!["X-Request-Id".to_owned()],
            allow_credentials: false,
            max_age_seconds: Some(3600),
        }),
        jwt_authorizer: Some(JwtAuthorizer {
            name: "supabase".to_owned(),
            issuer: "https://project.supabase.co/auth/v1".to_owned(),
            audience: vec!["authenticated".to_owned()],
            identity_source: "$request.header.Authorization".to_owned(),
        }),
        vpc_link: VpcLink {
            subnets: vec!["private-a".to_owned()],
            security_groups: vec!["ecs".to_owned()],
        },
        integration: Integration {
            listener: ListenerRef {
                load_balancer: "api".to_owned(),
                listener: "tcp-80".to_owned(),
            },
        },
        routes: vec![
            ApiRoute {
                key: RouteKey::Route {
                    method: "ANY".to_owned(),
                    path: "/{proxy+}".to_owned(),
                },
                public: false,
            },
            ApiRoute {
                key: RouteKey::Route {
                    method: "GET".to_owned(),
                    path: "/health".to_owned(),
                },
                public: true,
            },
        ],
        stage: Stage {
            name: "$default".to_owned(),
            throttling,
        },
    }
}

fn limits() -> Throttling {
    Throttling {
        rate_limit: 100,
        burst_limit: 200,
    }
}

fn inputs() -> Inputs {
    let network = Outputs::from([(
        network::outputs::subnet_id("private-a"),
        "subnet-a".to_owned(),
    )]);
    let groups = Outputs::from([(security_groups::group_id_output("ecs"), "sg-ecs".to_owned())]);
    let balancer = Outputs::from([(
        load_balancers::outputs::listener_arn("tcp-80"),
        LISTENER_ARN.to_owned(),
    )]);
    Inputs::new(BTreeMap::from([
        (ComponentId::single(network::KIND), network),
        (ComponentId::single(security_groups::KIND), groups),
        (ComponentId::named(load_balancers::KIND, "api"), balancer),
    ]))
}

fn tags(logical_id: &str, name: &str) -> std::collections::HashMap<String, String> {
    Tagger::new(STACK, &BTreeMap::new())
        .desired(logical_id, name)
        .into_iter()
        .collect()
}

/// The API as API Gateway returns it: header names in lower case and every list in
/// an order of its own.
fn live_api(cors: sdk::Cors) -> sdk::Api {
    sdk::Api::builder()
        .api_id(API_ID)
        .api_endpoint(format!(
            "https://{API_ID}.execute-api.eu-west-3.amazonaws.com"
        ))
        .name("s-api")
        .protocol_type(ProtocolType::Http)
        .route_selection_expression("$request.method $request.path")
        .cors_configuration(cors)
        .set_tags(Some(tags("api/api", "s-api")))
        .build()
}

fn lowercased_cors() -> sdk::Cors {
    sdk::Cors::builder()
        .allow_origins("https://www.example.com")
        .allow_origins("https://app.example.com")
        .allow_methods("OPTIONS")
        .allow_methods("GET")
        .allow_methods("POST")
        .allow_headers("content-type")
        .allow_headers("authorization")
        .expose_headers("x-request-id")
        .allow_credentials(false)
        .max_age(3600)
        .build()
}

fn route(
    id: &str,
    key: &str,
    authorization: AuthorizationType,
    authorizer: Option<&str>,
) -> sdk::Route {
    sdk::Route::builder()
        .route_id(id)
        .route_key(key)
        .authorization_type(authorization)
        .set_authorizer_id(authorizer.map(str::to_owned))
        .target(format!("integrations/{INTEGRATION_ID}"))
        .build()
}

/// Builds rules that return, for every read, with a converged API whose CORS configuration is
/// `cors` and whose stage is `stage`, or no stage.
fn read_rules(cors: sdk::Cors, stage: Option<RouteSettings>) -> Vec<Rule> {
    let api = live_api(cors);
    let apis = mock!(Client::get_apis)
        .then_output(move || GetApisOutput::builder().items(api.clone()).build());
    let links = mock!(Client::get_vpc_links).then_output(|| {
        GetVpcLinksOutput::builder()
            .items(
                sdk::VpcLink::builder()
                    .vpc_link_id(LINK_ID)
                    .name("s-api-vpc-link")
                    .subnet_ids("subnet-a")
                    .security_group_ids("sg-ecs")
                    .vpc_link_status(VpcLinkStatus::Available)
                    .set_tags(Some(tags("vpc-link/api", "s-api-vpc-link")))
                    .build(),
            )
            .build()
    });
    let authorizers = mock!(Client::get_authorizers).then_output(|| {
        GetAuthorizersOutput::builder()
            .items(
                sdk::Authorizer::builder()
                    .authorizer_id(AUTHORIZER_ID)
                    .name("supabase")
                    .authorizer_type(AuthorizerType::Jwt)
                    .identity_source("$request.header.Authorization")
                    .jwt_configuration(
                        JwtConfiguration::builder()
                            .issuer("https://project.supabase.co/auth/v1")
                            .audience("authenticated")
                            .build(),
                    )
                    .build(),
            )
            .build()
    });
    let integrations = mock!(Client::get_integrations).then_output(|| {
        GetIntegrationsOutput::builder()
            .items(
                sdk::Integration::builder()
                    .integration_id(INTEGRATION_ID)
                    .integration_type(IntegrationType::HttpProxy)
                    .connection_type(ConnectionType::VpcLink)
                    .connection_id(LINK_ID)
                    .integration_uri(LISTENER_ARN)
                    .integration_method("ANY")
                    .payload_format_version("1.0")
                    .description("Managed by stackd: s integration/api")
                    .build(),
            )
            .build()
    });
    let routes = mock!(Client::get_routes).then_output(|| {
        GetRoutesOutput::builder()
            .items(route("r1", "GET /health", AuthorizationType::None, None))
            .items(route(
                "r2",
                "ANY /{proxy+}",
                AuthorizationType::Jwt,
                Some(AUTHORIZER_ID),
            ))
            .build()
    });
    let stage = match stage {
        Some(settings) => mock!(Client::get_stage).then_output(move || {
            GetStageOutput::builder()
                .stage_name("$default")
                .auto_deploy(true)
                .default_route_settings(settings.clone())
                .build()
        }),
        None => mock!(Client::get_stage)
            .then_error(|| GetStageError::NotFoundException(NotFoundException::builder().build())),
    };
    vec![apis, links, authorizers, integrations, routes, stage]
}

fn component(client: Client, throttling: Option<Throttling>) -> ApiComponent {
    let clients = AwsClients {
        apigatewayv2: client,
        ..offline_clients()
    };
    ApiComponent::new(
        clients,
        Tagger::new(STACK, &BTreeMap::new()),
        desired(throttling),
    )
}

fn stage_settings() -> RouteSettings {
    RouteSettings::builder()
        .throttling_rate_limit(100.0)
        .throttling_burst_limit(200)
        .build()
}

#[tokio::test]
async fn lowercased_cors_headers_make_no_diff() {
    let rules = read_rules(lowercased_cors(), Some(stage_settings()));
    let client = mock_client!(
        aws_sdk_apigatewayv2,
        [
            &rules[0], &rules[1], &rules[2], &rules[3], &rules[4], &rules[5]
        ]
    );
    let component = component(client, Some(limits()));

    let live = component.observe().await.unwrap();
    let plan = component.diff(&live, &inputs());

    assert!(plan.is_empty(), "{plan:#?}");
    assert_eq!(
        component.outputs(&live)[outputs::ENDPOINT],
        format!("{API_ID}.execute-api.eu-west-3.amazonaws.com")
    );
}

#[tokio::test]
async fn added_cors_origin_is_one_field() {
    let mut cors = lowercased_cors();
    cors.allow_origins
        .get_or_insert_with(Vec::new)
        .push("https://evil.example.com".to_owned());
    let rules = read_rules(cors, Some(stage_settings()));
    let client = mock_client!(
        aws_sdk_apigatewayv2,
        [
            &rules[0], &rules[1], &rules[2], &rules[3], &rules[4], &rules[5]
        ]
    );
    let component = component(client, Some(limits()));

    let live = component.observe().await.unwrap();
    let plan = component.diff(&live, &inputs());

    assert_eq!(plan.len(), 1, "{plan:#?}");
    assert_eq!(plan[0].action, Action::UpdateApi);
    let paths: Vec<&str> = plan[0]
        .change
        .fields
        .iter()
        .map(|field| field.path.as_str())
        .collect();
    assert_eq!(paths, ["cors.allowOrigins"]);
}

/// Returns a rule that records each CreateStage request.
fn recording_create_stage(requests: &Arc<Mutex<Vec<CreateStageInput>>>) -> Rule {
    let seen = Arc::clone(requests);
    mock!(Client::create_stage)
        .match_requests(move |input| {
            seen.lock().unwrap().push(input.clone());
            true
        })
        .then_output(|| CreateStageOutput::builder().stage_name("$default").build())
}

fn recording_update_stage(requests: &Arc<Mutex<Vec<UpdateStageInput>>>) -> Rule {
    let seen = Arc::clone(requests);
    mock!(Client::update_stage)
        .match_requests(move |input| {
            seen.lock().unwrap().push(input.clone());
            true
        })
        .then_output(|| UpdateStageOutput::builder().stage_name("$default").build())
}

#[tokio::test]
async fn unset_throttling_is_not_sent() {
    // Without a stage, the plan creates one: with the file's limits, or with none.
    for (throttling, expected) in [(Some(limits()), Some((100.0, 200))), (None, None)] {
        let requests = Arc::default();
        let rules = read_rules(lowercased_cors(), None);
        let create = recording_create_stage(&requests);
        let client = mock_client!(
            aws_sdk_apigatewayv2,
            [
                &rules[0], &rules[1], &rules[2], &rules[3], &rules[4], &rules[5], &create
            ]
        );
        let component = component(client, throttling);
        let live = component.observe().await.unwrap();
        let plan = component.diff(&live, &inputs());
        let actions: Vec<Action> = plan.into_iter().map(|step| step.action).collect();
        assert_eq!(actions, [Action::CreateStage]);

        component.apply(&live, actions, &inputs()).await.unwrap();

        let requests = requests.lock().unwrap();
        assert_eq!(requests.len(), 1);
        let settings = requests[0].default_route_settings();
        let sent = settings.map(|settings| {
            (
                settings.throttling_rate_limit(),
                settings.throttling_burst_limit(),
            )
        });
        match expected {
            Some((rate, burst)) => assert_eq!(sent, Some((Some(rate), Some(burst)))),
            None => assert_eq!(sent, None, "no default route settings at all"),
        }
        assert_eq!(requests[0].auto_deploy(), Some(true));
    }
}

#[tokio::test]
async fn stage_update_without_throttling_sends_none() {
    // A stage whose auto-deploy was turned off behind stackd's back, and a file
    // without throttling: the update sets auto-deploy and leaves the limits out.
    let requests = Arc::default();
    let mut rules = read_rules(lowercased_cors(), None);
    rules[5] = mock!(Client::get_stage).then_output(|| {
        GetStageOutput::builder()
            .stage_name("$default")
            .auto_deploy(false)
            .default_route_settings(stage_settings())
            .build()
    });
    let update = recording_update_stage(&requests);
    let client = mock_client!(
        aws_sdk_apigatewayv2,
        [
            &rules[0], &rules[1], &rules[2], &rules[3], &rules[4], &rules[5], &update
        ]
    );
    let component = component(client, None);
    let live = component.observe().await.unwrap();
    let plan = component.diff(&live, &inputs());
    assert_eq!(plan.len(), 1, "{plan:#?}");
    let paths: Vec<&str> = plan[0]
        .change
        .fields
        .iter()
        .map(|field| field.path.as_str())
        .collect();
    assert_eq!(
        paths,
        ["autoDeploy"],
        "limits absent from the file are not compared"
    );

    let actions = vec![plan[0].action.clone()];
    component.apply(&live, actions, &inputs()).await.unwrap();

    let requests = requests.lock().unwrap();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].auto_deploy(), Some(true));
    assert_eq!(requests[0].default_route_settings(), None);
}

#[tokio::test]
async fn create_api_is_sent_once() {
    // API Gateway takes no client token: a 500 may hide an API that was created, so
    // the SDK must not send the create again. The next pass finds it by its tags.
    let calls = Arc::new(Mutex::new(0));
    let counted = Arc::clone(&calls);
    let create = mock!(Client::create_api)
        .match_requests(move |_| {
            *counted.lock().unwrap() += 1;
            true
        })
        .then_http_response(|| {
            HttpResponse::new(StatusCode::try_from(500).unwrap(), SdkBody::empty())
        });
    let client = mock_client!(aws_sdk_apigatewayv2, [&create]);
    let component = component(client, None);

    let result = component
        .apply(&ApiLive::default(), vec![Action::CreateApi], &inputs())
        .await;

    let error = result.expect_err("the create failed");
    assert!(error.chain().contains("CreateApi"), "{}", error.chain());
    assert_eq!(*calls.lock().unwrap(), 1, "sent once, never retried");
}

#[test]
fn pending_vpc_link_is_progressing() {
    let component = component(offline_clients().apigatewayv2, None);
    let live = ApiLive {
        vpc_link: Some(LiveVpcLink {
            id: LINK_ID.to_owned(),
            arn: String::new(),
            name: "s-api-vpc-link".to_owned(),
            status: "PENDING".to_owned(),
            status_message: Some("VPC link is provisioning ENIs".to_owned()),
            subnet_ids: BTreeSet::new(),
            security_group_ids: BTreeSet::new(),
            tags: BTreeMap::new(),
        }),
        ..ApiLive::default()
    };
    assert_eq!(
        component.readiness(&live),
        Readiness::Progressing("vpc-link/api is PENDING: VPC link is provisioning ENIs".to_owned())
    );
}

#[test]
fn missing_api_plans_every_create() {
    let component = component(offline_clients().apigatewayv2, Some(limits()));
    let plan = component.diff(&ApiLive::default(), &Inputs::default());
    let kinds: Vec<(String, ChangeKind)> = plan
        .iter()
        .map(|step| (step.change.resource.clone(), step.change.kind))
        .collect();
    assert_eq!(
        kinds,
        [
            ("api/api".to_owned(), ChangeKind::Create),
            ("vpc-link/api".to_owned(), ChangeKind::Create),
            ("authorizer/api".to_owned(), ChangeKind::Create),
            ("integration/api".to_owned(), ChangeKind::Create),
            ("route/api/ANY /{proxy+}".to_owned(), ChangeKind::Create),
            ("route/api/GET /health".to_owned(), ChangeKind::Create),
            ("stage/api/$default".to_owned(), ChangeKind::Create),
        ]
    );
    let health = &plan[5].change;
    let authorization = health
        .fields
        .iter()
        .find(|field| field.path == "authorizationType")
        .unwrap();
    assert_eq!(authorization.desired, serde_json::json!("NONE"));
    let protected = &plan[4].change;
    let authorization = protected
        .fields
        .iter()
        .find(|field| field.path == "authorizationType")
        .unwrap();
    assert_eq!(authorization.desired, serde_json::json!("JWT"));
}
