//! Whole flows of the api service against the emulator. Its task definition and
//! service are created once and left alone on the next pass. A new image makes
//! exactly one revision and one service update. A hand-made change to the
//! service's network configuration is shown field by field and put back.

use aws_sdk_ecs::Client;
use aws_sdk_ecs::types::{AssignPublicIp, AwsVpcConfiguration, NetworkConfiguration, Service};
use stackd_tests::Emulator;

mod common;
use common::*;

/// Names of the api service in config/beezyup-prod-c01.yaml.
const CLUSTER: &str = "beezyup-prod-c01";
const SERVICE: &str = "beezyup-api";
const FAMILY: &str = "beezyup-prod-c01-api";
const CAPACITY_PROVIDER: &str = "beezyup-prod-c01-ecs-spot";
/// The image line of the api container, with its placeholder tag.
const IMAGE: &str = "000000000000.dkr.ecr.eu-west-3.amazonaws.com/beezyup-api:PLACEHOLDER";

async fn ecs(emulator: &Emulator) -> Client {
    Client::new(&sdk_config(emulator).await)
}

async fn live_service(client: &Client) -> Service {
    let response = client
        .describe_services()
        .cluster(CLUSTER)
        .services(SERVICE)
        .send()
        .await
        .expect("DescribeServices succeeds");
    response.services()[0].clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn service_created_then_left_alone() {
    let emulator = create_stack();
    let client = ecs(&emulator).await;

    let described = client
        .describe_task_definition()
        .task_definition(FAMILY)
        .include(aws_sdk_ecs::types::TaskDefinitionField::Tags)
        .send()
        .await
        .expect("DescribeTaskDefinition succeeds");
    let definition = described.task_definition().unwrap();
    assert_eq!(definition.revision(), 1, "one revision was registered");
    assert_eq!(
        definition.network_mode().map(|mode| mode.as_str()),
        Some("awsvpc")
    );
    assert!(
        definition
            .execution_role_arn()
            .is_some_and(|arn| arn.ends_with(":role/beezyup-prod-c01-task-execution")),
        "execution role: {:?}",
        definition.execution_role_arn()
    );
    let container = &definition.container_definitions()[0];
    assert_eq!(container.image(), Some(IMAGE));
    let redis_host = container
        .environment()
        .iter()
        .find(|pair| pair.name() == Some("REDIS_HOST"))
        .and_then(|pair| pair.value())
        .expect("REDIS_HOST is set");
    assert!(
        redis_host.contains("cache"),
        "REDIS_HOST is the cache endpoint: {redis_host}"
    );
    assert_eq!(
        container
            .log_configuration()
            .and_then(|log| log.options())
            .and_then(|options| options.get("awslogs-group"))
            .map(String::as_str),
        Some("/ecs/beezyup-prod-c01/api")
    );
    assert!(
        described
            .tags()
            .iter()
            .any(|tag| tag.key() == Some("stackd:id") && tag.value() == Some("task-definition/api")),
        "the task definition is tagged: {:?}",
        described.tags()
    );

    let service = live_service(&client).await;
    assert_eq!(service.task_definition(), definition.task_definition_arn());
    assert_eq!(service.desired_count(), 2);
    assert_eq!(
        service.capacity_provider_strategy()[0].capacity_provider(),
        CAPACITY_PROVIDER
    );
    let awsvpc = service
        .network_configuration()
        .and_then(|network| network.awsvpc_configuration())
        .expect("the service has an awsvpc configuration");
    assert_eq!(awsvpc.subnets().len(), 2, "the two private subnets");
    assert_eq!(awsvpc.security_groups().len(), 1, "the ecs group");
    assert_eq!(awsvpc.assign_public_ip(), Some(&AssignPublicIp::Disabled));
    let balancer = &service.load_balancers()[0];
    assert_eq!(balancer.container_name(), Some("api"));
    assert_eq!(balancer.container_port(), Some(80));

    emulator.reset_calls();
    let again = reconcile(&emulator, &config_file());
    assert_eq!(
        again.status.code(),
        Some(0),
        "second reconcile: {}",
        describe(&again)
    );
    let calls = emulator.calls();
    assert!(
        operations(&calls).contains(&"DescribeTaskDefinition"),
        "the second reconcile observed the task definition"
    );
    assert_eq!(
        emulator.mutating_calls(),
        Vec::new(),
        "the second reconcile changed nothing"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn new_image_makes_one_revision() {
    let emulator = create_stack();
    let client = ecs(&emulator).await;
    let tagged = EditedStack::new(&[(
        IMAGE,
        "000000000000.dkr.ecr.eu-west-3.amazonaws.com/beezyup-api:2.0.0",
    )]);

    emulator.reset_calls();
    let output = reconcile(&emulator, &tagged.file);
    assert_eq!(
        output.status.code(),
        Some(0),
        "reconcile: {}",
        describe(&output)
    );
    assert_eq!(
        operations(&stack_writes(&emulator)),
        ["RegisterTaskDefinition", "UpdateService"],
        "one new revision and one service update"
    );
    let service = live_service(&client).await;
    assert!(
        service
            .task_definition()
            .is_some_and(|arn| arn.ends_with(&format!("task-definition/{FAMILY}:2"))),
        "the service runs revision 2: {:?}",
        service.task_definition()
    );

    emulator.reset_calls();
    let again = reconcile(&emulator, &tagged.file);
    assert_eq!(
        again.status.code(),
        Some(0),
        "second reconcile: {}",
        describe(&again)
    );
    assert_eq!(
        stack_writes(&emulator),
        Vec::new(),
        "the second reconcile changed nothing"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn network_drift_is_put_back() {
    let emulator = create_stack();
    let client = ecs(&emulator).await;
    let before = live_service(&client).await;
    let awsvpc = before
        .network_configuration()
        .and_then(|network| network.awsvpc_configuration())
        .unwrap();
    let kept_subnet = awsvpc.subnets()[0].clone();
    client
        .update_service()
        .cluster(CLUSTER)
        .service(SERVICE)
        .network_configuration(
            NetworkConfiguration::builder()
                .awsvpc_configuration(
                    AwsVpcConfiguration::builder()
                        .subnets(&kept_subnet)
                        .set_security_groups(Some(awsvpc.security_groups().to_vec()))
                        .assign_public_ip(AssignPublicIp::Enabled)
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .send()
        .await
        .expect("the hand-made change succeeds");

    let shown = plan_shows_drift(
        &emulator,
        &config_file(),
        &[
            "networkConfiguration.assignPublicIp: ENABLED -> DISABLED",
            "networkConfiguration.subnets:",
        ],
    );
    assert!(
        !shown.contains("networkConfiguration.securityGroups"),
        "the security groups did not change: {shown}"
    );

    emulator.reset_calls();
    let output = reconcile(&emulator, &config_file());
    assert_eq!(
        output.status.code(),
        Some(0),
        "reconcile: {}",
        describe(&output)
    );
    assert_eq!(
        operations(&stack_writes(&emulator)),
        ["UpdateService"],
        "exactly one mutating call"
    );
    let after = live_service(&client).await;
    let awsvpc = after
        .network_configuration()
        .and_then(|network| network.awsvpc_configuration())
        .unwrap();
    assert_eq!(awsvpc.subnets().len(), 2, "both private subnets are back");
    assert_eq!(awsvpc.assign_public_ip(), Some(&AssignPublicIp::Disabled));
}
