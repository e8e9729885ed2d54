//! Whole flows of the HTTP API against the emulator: the API with its JWT authorizer,
//! VPC link, private integration, routes and stage is created once with the api
//! distribution in front of it, left alone when converged, and put back after a
//! change behind stackd's back.

use aws_sdk_apigatewayv2::types::{Api, Cors, RouteSettings};
use stackd_tests::Emulator;

mod common;
use common::*;

const API_NAME: &str = "beezyup-prod-c01-api";
const ID_TAG: &str = "stackd:id";

async fn apigateway(emulator: &Emulator) -> aws_sdk_apigatewayv2::Client {
    aws_sdk_apigatewayv2::Client::new(&sdk_config(emulator).await)
}

/// Returns the APIs whose `stackd:id` tag is `api/api`.
async fn our_apis(client: &aws_sdk_apigatewayv2::Client) -> Vec<Api> {
    let response = client.get_apis().send().await.expect("GetApis succeeds");
    response
        .items()
        .iter()
        .filter(|api| {
            api.tags()
                .and_then(|tags| tags.get(ID_TAG))
                .is_some_and(|id| id == "api/api")
        })
        .cloned()
        .collect()
}

fn sorted(values: &[String]) -> Vec<String> {
    let mut values = values.to_vec();
    values.sort();
    values
}

#[tokio::test(flavor = "multi_thread")]
async fn api_created_then_left_alone() {
    let emulator = create_stack();
    let client = apigateway(&emulator).await;

    let apis = our_apis(&client).await;
    assert_eq!(apis.len(), 1, "exactly one API: {apis:?}");
    let api = &apis[0];
    let api_id = api.api_id().expect("an id");
    assert_eq!(api.name(), Some(API_NAME));
    let cors = api.cors_configuration().expect("a CORS configuration");
    assert_eq!(
        sorted(cors.allow_origins()),
        ["https://app.beezyup.com", "https://www.beezyup.com"]
    );
    assert_eq!(
        sorted(cors.allow_headers()),
        ["authorization", "content-type"],
        "the emulator returns header names in lower case, as API Gateway does"
    );

    let authorizers = client
        .get_authorizers()
        .api_id(api_id)
        .send()
        .await
        .expect("GetAuthorizers succeeds");
    assert_eq!(authorizers.items().len(), 1);
    let authorizer = &authorizers.items()[0];
    assert_eq!(
        authorizer.authorizer_type().map(|kind| kind.as_str()),
        Some("JWT")
    );
    let jwt = authorizer.jwt_configuration().expect("a JWT configuration");
    assert_eq!(
        jwt.issuer(),
        Some("https://PLACEHOLDER.supabase.co/auth/v1")
    );
    assert_eq!(jwt.audience(), ["authenticated"]);

    let links = client
        .get_vpc_links()
        .send()
        .await
        .expect("GetVpcLinks succeeds");
    assert_eq!(links.items().len(), 1, "one VPC link");
    let link = &links.items()[0];
    assert_eq!(
        link.vpc_link_status().map(|status| status.as_str()),
        Some("AVAILABLE")
    );
    assert_eq!(link.subnet_ids().len(), 2, "the two private subnets");

    let integrations = client
        .get_integrations()
        .api_id(api_id)
        .send()
        .await
        .expect("GetIntegrations succeeds");
    assert_eq!(integrations.items().len(), 1);
    let integration = &integrations.items()[0];
    assert_eq!(
        integration.integration_type().map(|kind| kind.as_str()),
        Some("HTTP_PROXY")
    );
    assert_eq!(
        integration.connection_type().map(|kind| kind.as_str()),
        Some("VPC_LINK")
    );
    assert_eq!(integration.connection_id(), link.vpc_link_id());
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&sdk_config(&emulator).await);
    let balancers = elb
        .describe_load_balancers()
        .names(API_NAME)
        .send()
        .await
        .expect("DescribeLoadBalancers succeeds");
    let listeners = elb
        .describe_listeners()
        .set_load_balancer_arn(
            balancers.load_balancers()[0]
                .load_balancer_arn()
                .map(str::to_owned),
        )
        .send()
        .await
        .expect("DescribeListeners succeeds");
    assert_eq!(
        integration.integration_uri(),
        listeners.listeners()[0].listener_arn(),
        "the integration points at the NLB listener"
    );

    let routes = client
        .get_routes()
        .api_id(api_id)
        .send()
        .await
        .expect("GetRoutes succeeds");
    let mut authorization: Vec<(String, String, bool)> = routes
        .items()
        .iter()
        .map(|route| {
            (
                route.route_key().unwrap_or_default().to_owned(),
                route
                    .authorization_type()
                    .map(|kind| kind.as_str().to_owned())
                    .unwrap_or_default(),
                route.authorizer_id().is_some_and(|id| !id.is_empty()),
            )
        })
        .collect();
    authorization.sort();
    assert_eq!(
        authorization,
        [
            ("ANY /{proxy+}".to_owned(), "JWT".to_owned(), true),
            ("GET /health".to_owned(), "NONE".to_owned(), false),
            ("OPTIONS /{proxy+}".to_owned(), "NONE".to_owned(), false),
        ]
    );

    let stage = client
        .get_stage()
        .api_id(api_id)
        .stage_name("$default")
        .send()
        .await
        .expect("GetStage succeeds");
    assert_eq!(stage.auto_deploy(), Some(true));
    let settings = stage.default_route_settings().expect("route settings");
    assert_eq!(settings.throttling_rate_limit(), Some(100.0));
    assert_eq!(settings.throttling_burst_limit(), Some(200));

    // The api distribution now exists and points at the API's endpoint.
    let cloudfront = aws_sdk_cloudfront::Client::new(&sdk_config(&emulator).await);
    let endpoint = api
        .api_endpoint()
        .and_then(|endpoint| endpoint.strip_prefix("https://"))
        .expect("an https endpoint");
    let list = cloudfront
        .list_distributions()
        .send()
        .await
        .expect("ListDistributions succeeds");
    let origins: Vec<String> = list
        .distribution_list()
        .map(|list| list.items().to_vec())
        .unwrap_or_default()
        .iter()
        .flat_map(|summary| summary.origins().map(|origins| origins.items().to_vec()))
        .flatten()
        .map(|origin| origin.domain_name().to_owned())
        .collect();
    assert!(
        origins.iter().any(|domain| domain == endpoint),
        "a distribution points at {endpoint}: {origins:?}"
    );

    emulator.reset_calls();
    let again = reconcile(&emulator, &config_file());
    assert_eq!(
        again.status.code(),
        Some(0),
        "second reconcile: {}",
        describe(&again)
    );
    assert_eq!(
        emulator.mutating_calls(),
        Vec::new(),
        "the second reconcile changed nothing"
    );
    assert_eq!(our_apis(&client).await.len(), 1, "still one API");
}

#[tokio::test(flavor = "multi_thread")]
async fn api_drift_is_put_back() {
    let emulator = create_stack();
    let client = apigateway(&emulator).await;
    let api = our_apis(&client).await.remove(0);
    let api_id = api.api_id().expect("an id").to_owned();

    // 1. Someone adds a CORS origin in the console.
    let cors = api.cors_configuration().expect("a CORS configuration");
    let mut origins = cors.allow_origins().to_vec();
    origins.push("https://evil.example.com".to_owned());
    let widened = Cors::builder()
        .set_allow_origins(Some(origins))
        .set_allow_methods(Some(cors.allow_methods().to_vec()))
        .set_allow_headers(Some(cors.allow_headers().to_vec()))
        .set_max_age(cors.max_age())
        .build();
    client
        .update_api()
        .api_id(&api_id)
        .cors_configuration(widened)
        .send()
        .await
        .expect("UpdateApi succeeds");

    // 2. Someone changes the stage's throttling.
    client
        .update_stage()
        .api_id(&api_id)
        .stage_name("$default")
        .default_route_settings(
            RouteSettings::builder()
                .throttling_rate_limit(5.0)
                .throttling_burst_limit(10)
                .build(),
        )
        .send()
        .await
        .expect("UpdateStage succeeds");

    let drifted = plan(&emulator, &config_file());
    assert_eq!(
        drifted.status.code(),
        Some(2),
        "plan sees drift: {}",
        describe(&drifted)
    );
    let text = stdout(&drifted);
    for expected in [
        "cors.allowOrigins",
        "https://evil.example.com",
        "defaultRouteSettings.throttlingRateLimit",
        "defaultRouteSettings.throttlingBurstLimit: 10 -> 200",
    ] {
        assert!(text.contains(expected), "plan shows {expected:?}:\n{text}");
    }

    emulator.reset_calls();
    let repaired = reconcile(&emulator, &config_file());
    assert_eq!(
        repaired.status.code(),
        Some(0),
        "reconcile repairs: {}",
        describe(&repaired)
    );
    let mut writes: Vec<String> = stack_writes(&emulator)
        .into_iter()
        .map(|call| call.operation)
        .collect();
    writes.sort();
    assert_eq!(
        writes,
        ["UpdateApi", "UpdateStage"],
        "one call per drifted resource"
    );

    let after = our_apis(&client).await.remove(0);
    let cors = after.cors_configuration().expect("a CORS configuration");
    assert_eq!(
        sorted(cors.allow_origins()),
        ["https://app.beezyup.com", "https://www.beezyup.com"],
        "the added origin is gone"
    );
    let stage = client
        .get_stage()
        .api_id(&api_id)
        .stage_name("$default")
        .send()
        .await
        .expect("GetStage succeeds");
    let settings = stage.default_route_settings().expect("route settings");
    assert_eq!(settings.throttling_rate_limit(), Some(100.0));
    assert_eq!(settings.throttling_burst_limit(), Some(200));

    let converged = plan(&emulator, &config_file());
    assert_eq!(
        converged.status.code(),
        Some(0),
        "plan after repair: {}",
        describe(&converged)
    );
}
