//! Tests of the service diff against task definitions and services as AWS describes
//! them, with the fields that ECS fills in.

use super::diff::{Action, ServiceUpdate};
use super::*;
use crate::mocks::{mock_client, offline_clients};
use aws_sdk_ecs::operation::describe_services::DescribeServicesOutput;
use aws_sdk_ecs::operation::describe_task_definition::DescribeTaskDefinitionOutput;
use aws_sdk_ecs::types::{
    AssignPublicIp, AwsVpcConfiguration, CapacityProviderStrategyItem, Compatibility,
    ContainerDefinition, KeyValuePair, LoadBalancer, LogConfiguration, LogDriver, MountPoint,
    NetworkConfiguration, NetworkMode, PortMapping, Secret, Service as EcsService, Tag,
    TaskDefinition, TaskDefinitionStatus, TransportProtocol,
};
use aws_smithy_mocks::mock;
use stackd_spec::model::{ContainerDefinition as Container, ServiceLoadBalancer, TargetGroupRef};

const ACCOUNT: &str = "111122223333";
const TASK_DEFINITION_ARN: &str = "arn:aws:ecs:eu-west-3:111122223333:task-definition/s-api:7";
const TARGET_GROUP_ARN: &str =
    "arn:aws:elasticloadbalancing:eu-west-3:111122223333:targetgroup/s-api/0123";
const EXECUTION_ROLE_ARN: &str = "arn:aws:iam::111122223333:role/s-task-execution";
const TASK_ROLE_ARN: &str = "arn:aws:iam::111122223333:role/s-task";
const SECRET_ARN: &str = "arn:aws:secretsmanager:eu-west-3:111122223333:secret:app-key";
const CACHE_ADDRESS: &str = "s-main.serverless.euw3.cache.amazonaws.com";

fn tagger() -> Tagger {
    Tagger::new("s", &BTreeMap::new())
}

fn template(text: &str) -> Template {
    Template::parse(text).expect("the test template parses")
}

/// Builds the api service of the beezyup file, with short names.
fn desired() -> Service {
    Service {
        id: "api".to_owned(),
        name: "s-api".to_owned(),
        cluster: "main".to_owned(),
        desired_count: 2,
        subnets: vec!["private-a".to_owned(), "private-b".to_owned()],
        security_groups: vec!["ecs".to_owned()],
        load_balancer: Some(ServiceLoadBalancer {
            target_group: TargetGroupRef {
                load_balancer: "api".to_owned(),
                target_group: "api".to_owned(),
            },
            container: "api".to_owned(),
            port: 80,
        }),
        task_definition: stackd_spec::model::TaskDefinition {
            family: "s-api".to_owned(),
            cpu: Some(512),
            memory: Some(1024),
            execution_role: Some("task-execution".to_owned()),
            task_role: Some("task".to_owned()),
            containers: vec![Container {
                name: "api".to_owned(),
                image: template("registry.example/api:1.0"),
                port: Some(80),
                essential: true,
                environment: BTreeMap::from([
                    ("APP_ENV".to_owned(), template("production")),
                    ("REDIS_HOST".to_owned(), template("${cache:main.endpoint}")),
                    ("REDIS_PORT".to_owned(), template("${cache:main.port}")),
                ]),
                secrets: BTreeMap::from([(
                    "APP_KEY".to_owned(),
                    template("arn:aws:secretsmanager:${region}:${account}:secret:app-key"),
                )]),
                log_group: Some("/ecs/s/api".to_owned()),
            }],
        },
        ignore_changes: Vec::new(),
    }
}

fn context() -> ServiceContext {
    ServiceContext {
        cluster_name: "s-main".to_owned(),
        default_strategy: vec![compute::StrategyItem {
            capacity_provider: "s-ecs-spot".to_owned(),
            weight: 1,
            base: 0,
        }],
        values: TemplateValues {
            account: ACCOUNT.to_owned(),
            region: "eu-west-3".to_owned(),
            stack: "s".to_owned(),
            buckets: BTreeMap::new(),
        },
        role_names: BTreeMap::new(),
    }
}

/// Returns the outputs of the dependencies once they all exist.
fn inputs() -> Inputs {
    let pairs = |pairs: &[(&str, &str)]| -> Outputs {
        pairs
            .iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
            .collect()
    };
    Inputs::new(BTreeMap::from([
        (
            ComponentId::single(network::KIND),
            pairs(&[
                ("subnet.private-a.id", "subnet-a"),
                ("subnet.private-b.id", "subnet-b"),
            ]),
        ),
        (
            ComponentId::single(security_groups::KIND),
            pairs(&[("security-group.ecs.id", "sg-ecs")]),
        ),
        (
            ComponentId::single(iam::KIND),
            pairs(&[
                ("role.task-execution.arn", EXECUTION_ROLE_ARN),
                ("role.task.arn", TASK_ROLE_ARN),
            ]),
        ),
        (
            ComponentId::named(load_balancers::KIND, "api"),
            pairs(&[("target-group.api.arn", TARGET_GROUP_ARN)]),
        ),
        (
            ComponentId::named(caches::KIND, "main"),
            pairs(&[
                ("endpoint.address", CACHE_ADDRESS),
                ("endpoint.port", "6379"),
            ]),
        ),
    ]))
}

fn pair(name: &str, value: &str) -> KeyValuePair {
    KeyValuePair::builder().name(name).value(value).build()
}

/// Builds the revision that RegisterTaskDefinition made from the file, as
/// DescribeTaskDefinition returns it. ECS has filled in the container cpu, the
/// essential flag, the host port, the protocol and empty lists. The environment
/// is in another order, and fields that stackd does not set are present.
fn described_task_definition(image: &str) -> TaskDefinition {
    let container = ContainerDefinition::builder()
        .name("api")
        .image(image)
        .cpu(0)
        .essential(true)
        .port_mappings(
            PortMapping::builder()
                .container_port(80)
                .host_port(80)
                .protocol(TransportProtocol::Tcp)
                .build(),
        )
        .environment(pair("REDIS_PORT", "6379"))
        .environment(pair("REDIS_HOST", CACHE_ADDRESS))
        .environment(pair("APP_ENV", "production"))
        .set_mount_points(Some(Vec::<MountPoint>::new()))
        .set_volumes_from(Some(Vec::new()))
        .set_system_controls(Some(Vec::new()))
        .secrets(
            Secret::builder()
                .name("APP_KEY")
                .value_from(SECRET_ARN)
                .build()
                .unwrap(),
        )
        .log_configuration(
            LogConfiguration::builder()
                .log_driver(LogDriver::Awslogs)
                .options("awslogs-stream-prefix", "api")
                .options("awslogs-region", "eu-west-3")
                .options("awslogs-group", "/ecs/s/api")
                .build()
                .unwrap(),
        )
        .build();
    TaskDefinition::builder()
        .task_definition_arn(TASK_DEFINITION_ARN)
        .family("s-api")
        .revision(7)
        .status(TaskDefinitionStatus::Active)
        .network_mode(NetworkMode::Awsvpc)
        .requires_compatibilities(Compatibility::Ec2)
        .compatibilities(Compatibility::Ec2)
        .cpu("512")
        .memory("1024")
        .execution_role_arn(EXECUTION_ROLE_ARN)
        .task_role_arn(TASK_ROLE_ARN)
        .container_definitions(container)
        .set_volumes(Some(Vec::new()))
        .set_placement_constraints(Some(Vec::new()))
        .registered_by("arn:aws:sts::111122223333:assumed-role/stackd/ci")
        .build()
}

fn ecs_tags(logical_id: &str, name: &str) -> Vec<Tag> {
    tagger()
        .desired(logical_id, name)
        .into_iter()
        .map(|(key, value)| Tag::builder().key(key).value(value).build())
        .collect()
}

/// Builds the service as DescribeServices returns it, with or without the
/// cluster's default strategy.
fn described_service(strategy: bool) -> EcsService {
    let awsvpc = AwsVpcConfiguration::builder()
        .subnets("subnet-b")
        .subnets("subnet-a")
        .security_groups("sg-ecs")
        .assign_public_ip(AssignPublicIp::Disabled)
        .build()
        .unwrap();
    let mut service = EcsService::builder()
        .service_arn("arn:aws:ecs:eu-west-3:111122223333:service/s-main/s-api")
        .service_name("s-api")
        .status("ACTIVE")
        .task_definition(TASK_DEFINITION_ARN)
        .desired_count(2)
        .network_configuration(
            NetworkConfiguration::builder()
                .awsvpc_configuration(awsvpc)
                .build(),
        )
        .load_balancers(
            LoadBalancer::builder()
                .target_group_arn(TARGET_GROUP_ARN)
                .container_name("api")
                .container_port(80)
                .build(),
        )
        .set_tags(Some(ecs_tags("service/api", "s-api")));
    if strategy {
        service = service.capacity_provider_strategy(
            CapacityProviderStrategyItem::builder()
                .capacity_provider("s-ecs-spot")
                .weight(1)
                .base(0)
                .build()
                .unwrap(),
        );
    }
    service.build()
}

fn component(client: aws_sdk_ecs::Client) -> ServiceComponent {
    let mut clients = offline_clients();
    clients.ecs = client;
    ServiceComponent::new(
        clients,
        tagger(),
        desired(),
        context(),
        vec!["main".to_owned()],
    )
}

/// Observes the service through mocks that describe `definition` and `service`.
async fn observe_described(definition: TaskDefinition, service: EcsService) -> ServiceComponent {
    let describe_definition =
        mock!(aws_sdk_ecs::Client::describe_task_definition).then_output(move || {
            DescribeTaskDefinitionOutput::builder()
                .task_definition(definition.clone())
                .set_tags(Some(ecs_tags("task-definition/api", "s-api")))
                .build()
        });
    let describe_services = mock!(aws_sdk_ecs::Client::describe_services).then_output(move || {
        DescribeServicesOutput::builder()
            .services(service.clone())
            .build()
    });
    component(mock_client!(
        aws_sdk_ecs,
        [&describe_definition, &describe_services]
    ))
}

fn actions(plan: &[Planned<Action>]) -> Vec<&Action> {
    plan.iter().map(|planned| &planned.action).collect()
}

#[tokio::test]
async fn aws_defaults_make_no_diff() {
    let component = observe_described(
        described_task_definition("registry.example/api:1.0"),
        described_service(true),
    )
    .await;
    let live = component.observe().await.expect("observe succeeds");

    assert!(live.task_definition.is_some(), "the revision is observed");
    assert!(live.service.is_some(), "the service is observed");
    let plan = component.diff(&live, &inputs());
    assert_eq!(
        plan.iter()
            .map(|planned| &planned.change)
            .collect::<Vec<_>>(),
        Vec::<&stackd_engine::Change>::new(),
        "an unchanged file plans nothing"
    );
}

#[tokio::test]
async fn empty_strategy_is_cluster_default() {
    let component = observe_described(
        described_task_definition("registry.example/api:1.0"),
        described_service(false),
    )
    .await;
    let live = component.observe().await.expect("observe succeeds");

    let plan = component.diff(&live, &inputs());
    assert!(plan.is_empty(), "unexpected plan: {plan:?}");
}

#[tokio::test]
async fn new_image_registers_and_updates_service() {
    let component = observe_described(
        described_task_definition("registry.example/api:0.9"),
        described_service(true),
    )
    .await;
    let live = component.observe().await.expect("observe succeeds");

    let plan = component.diff(&live, &inputs());
    assert_eq!(
        actions(&plan),
        [
            &Action::RegisterTaskDefinition,
            &Action::UpdateService(ServiceUpdate {
                task_definition: true,
                ..ServiceUpdate::default()
            }),
        ]
    );
    let image = &plan[0].change.fields[0];
    assert_eq!(image.path, "definition.containers.api.image");
    assert_eq!(image.live, "registry.example/api:0.9");
    assert_eq!(image.desired, "registry.example/api:1.0");
}

#[test]
fn launch_type_strategy_needs_forced_deployment() {
    let mut service = observe::live_service_for_tests(&described_service(false));
    service.launch_type = Some("EC2".to_owned());
    let live = ServiceLive {
        task_definition: Some(LiveTaskDefinition {
            arn: TASK_DEFINITION_ARN.to_owned(),
            revision: 7,
            spec: observe::task_spec(&described_task_definition("registry.example/api:1.0")),
            tags: tagger().desired("task-definition/api", "s-api"),
        }),
        service: Some(service),
    };
    let resolved = Resolved::resolve(&desired(), &context(), &inputs());

    let plan = diff::diff(&desired(), &context(), &tagger(), &resolved, &live);
    let update = ServiceUpdate {
        capacity_provider_strategy: true,
        ..ServiceUpdate::default()
    };
    assert_eq!(actions(&plan), [&Action::UpdateService(update.clone())]);
    assert!(update.forces_deployment());
    assert!(
        !ServiceUpdate {
            task_definition: true,
            ..update
        }
        .forces_deployment(),
        "a new revision starts a deployment by itself"
    );
}

#[test]
fn ignored_count_is_no_drift() {
    let mut desired = desired();
    desired.ignore_changes = vec![ServiceAttribute::DesiredCount];
    let mut service = observe::live_service_for_tests(&described_service(true));
    service.desired_count = 7;
    let live = ServiceLive {
        task_definition: Some(LiveTaskDefinition {
            arn: TASK_DEFINITION_ARN.to_owned(),
            revision: 7,
            spec: observe::task_spec(&described_task_definition("registry.example/api:1.0")),
            tags: tagger().desired("task-definition/api", "s-api"),
        }),
        service: Some(service),
    };
    let resolved = Resolved::resolve(&desired, &context(), &inputs());

    let plan = diff::diff(&desired, &context(), &tagger(), &resolved, &live);
    assert!(plan.is_empty(), "unexpected plan: {plan:?}");

    let counted = diff::diff(&self::desired(), &context(), &tagger(), &resolved, &live);
    assert_eq!(
        actions(&counted),
        [&Action::UpdateService(ServiceUpdate {
            desired_count: true,
            ..ServiceUpdate::default()
        })]
    );
}

#[test]
fn missing_dependencies_are_unknown() {
    let resolved = Resolved::resolve(&desired(), &context(), &Inputs::default());
    assert!(
        resolved.missing.contains(&"subnet private-a".to_owned()),
        "missing: {:?}",
        resolved.missing
    );
    assert!(
        resolved
            .missing
            .contains(&"${cache:main.endpoint}".to_owned()),
        "missing: {:?}",
        resolved.missing
    );
    let container = &resolved.task.containers["api"];
    assert_eq!(container.environment["REDIS_HOST"], UNKNOWN);
    assert_eq!(container.secrets["APP_KEY"], SECRET_ARN);
}

const UNKNOWN: &str = stackd_engine::UNKNOWN_UNTIL_APPLIED;
