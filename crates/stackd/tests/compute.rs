//! Whole flows of the compute path against the emulator: the launch template,
//! Auto Scaling group, capacity provider and cluster, and the internal network
//! load balancer with its target group and listener. Each is created once, left
//! alone on the next pass, and put back after a hand-made change, except the
//! group's desired capacity, which ECS managed scaling owns.

use aws_sdk_elasticloadbalancingv2::Client;
use aws_sdk_elasticloadbalancingv2::types::TargetGroup;
use stackd_tests::Emulator;

mod common;
use common::*;

/// Names of the compute resources in config/beezyup-prod-c01.yaml.
const LAUNCH_TEMPLATE: &str = "beezyup-prod-c01-ecs-spot";
const GROUP: &str = "beezyup-prod-c01-ecs-spot";
const CAPACITY_PROVIDER: &str = "beezyup-prod-c01-ecs-spot";
const CLUSTER: &str = "beezyup-prod-c01";

/// Name of the load balancer and of its target group in config/beezyup-prod-c01.yaml.
const BALANCER: &str = "beezyup-prod-c01-api";
const TARGET_GROUP: &str = "beezyup-prod-c01-api";

async fn elbv2(emulator: &Emulator) -> Client {
    Client::new(&sdk_config(emulator).await)
}

async fn live_target_group(client: &Client) -> TargetGroup {
    let response = client
        .describe_target_groups()
        .names(TARGET_GROUP)
        .send()
        .await
        .expect("DescribeTargetGroups succeeds");
    response.target_groups()[0].clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn load_balancer_created_then_left_alone() {
    let emulator = create_stack();
    let client = elbv2(&emulator).await;

    let balancers = client
        .describe_load_balancers()
        .names(BALANCER)
        .send()
        .await
        .expect("DescribeLoadBalancers succeeds");
    let balancer = &balancers.load_balancers()[0];
    assert_eq!(balancer.r#type().map(|kind| kind.as_str()), Some("network"));
    assert_eq!(
        balancer.scheme().map(|scheme| scheme.as_str()),
        Some("internal")
    );
    assert_eq!(
        balancer.availability_zones().len(),
        2,
        "one subnet in each of the two zones"
    );

    let group = live_target_group(&client).await;
    assert_eq!(group.target_type().map(|kind| kind.as_str()), Some("ip"));
    assert_eq!(
        group.protocol().map(|protocol| protocol.as_str()),
        Some("TCP")
    );
    assert_eq!(group.port(), Some(80));
    assert_eq!(group.health_check_interval_seconds(), Some(30));
    assert_eq!(group.healthy_threshold_count(), Some(3));
    assert_eq!(group.unhealthy_threshold_count(), Some(3));

    let listeners = client
        .describe_listeners()
        .load_balancer_arn(balancer.load_balancer_arn().unwrap())
        .send()
        .await
        .expect("DescribeListeners succeeds");
    assert_eq!(listeners.listeners().len(), 1);
    let listener = &listeners.listeners()[0];
    assert_eq!(listener.port(), Some(80));
    assert_eq!(
        listener.default_actions()[0].target_group_arn(),
        group.target_group_arn(),
        "the listener forwards to the target group"
    );

    emulator.reset_calls();
    let again = reconcile(&emulator, &config_file());
    assert_eq!(
        again.status.code(),
        Some(0),
        "second reconcile: {}",
        describe(&again)
    );
    assert!(
        operations(&emulator.calls()).contains(&"DescribeTargetGroups"),
        "the second reconcile observed the target group"
    );
    assert_eq!(
        emulator.mutating_calls(),
        Vec::new(),
        "the second reconcile changed nothing"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn health_check_drift_is_put_back() {
    let emulator = create_stack();
    let client = elbv2(&emulator).await;
    let arn = live_target_group(&client)
        .await
        .target_group_arn()
        .unwrap()
        .to_owned();
    client
        .modify_target_group()
        .target_group_arn(&arn)
        .health_check_interval_seconds(10)
        .healthy_threshold_count(5)
        .send()
        .await
        .expect("the hand-made change succeeds");

    plan_shows_drift(
        &emulator,
        &config_file(),
        &[
            "healthCheck.intervalSeconds: 10 -> 30",
            "healthCheck.healthyThreshold: 5 -> 3",
        ],
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
        ["ModifyTargetGroup"],
        "exactly one mutating call"
    );
    let group = live_target_group(&client).await;
    assert_eq!(group.health_check_interval_seconds(), Some(30));
    assert_eq!(group.healthy_threshold_count(), Some(3));
}

async fn live_group(emulator: &Emulator) -> aws_sdk_autoscaling::types::AutoScalingGroup {
    let client = aws_sdk_autoscaling::Client::new(&sdk_config(emulator).await);
    let response = client
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(GROUP)
        .send()
        .await
        .expect("DescribeAutoScalingGroups succeeds");
    response.auto_scaling_groups()[0].clone()
}

/// Returns the launch template's id and the data of its default version.
async fn default_template(
    ec2: &aws_sdk_ec2::Client,
) -> (String, i64, aws_sdk_ec2::types::ResponseLaunchTemplateData) {
    let response = ec2
        .describe_launch_template_versions()
        .launch_template_name(LAUNCH_TEMPLATE)
        .versions("$Default")
        .send()
        .await
        .expect("DescribeLaunchTemplateVersions succeeds");
    let version = &response.launch_template_versions()[0];
    (
        version.launch_template_id().unwrap().to_owned(),
        version.version_number().unwrap(),
        version.launch_template_data().unwrap().clone(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn compute_created_in_dependency_order() {
    let emulator = create_stack();
    let config = sdk_config(&emulator).await;
    let ec2 = aws_sdk_ec2::Client::new(&config);
    let ecs = aws_sdk_ecs::Client::new(&config);

    let (template_id, version, data) = default_template(&ec2).await;
    assert_eq!(
        data.image_id(),
        Some("resolve:ssm:/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id"),
        "EC2 reads the AMI from the public SSM parameter at launch"
    );
    assert_eq!(
        data.instance_type().map(|kind| kind.as_str()),
        Some("t3.large")
    );
    assert_eq!(
        data.iam_instance_profile()
            .and_then(|profile| profile.name()),
        Some("beezyup-prod-c01-ecs-instance")
    );
    assert_eq!(data.security_group_ids().len(), 1);
    let user_data = aws_smithy_types::base64::decode(data.user_data().unwrap()).unwrap();
    assert!(
        String::from_utf8(user_data)
            .unwrap()
            .contains("ECS_CLUSTER=beezyup-prod-c01"),
        "the instances join the cluster"
    );

    let group = live_group(&emulator).await;
    let policy = group
        .mixed_instances_policy()
        .expect("the group has a mixed instances policy");
    let specification = policy
        .launch_template()
        .and_then(|template| template.launch_template_specification())
        .unwrap();
    assert_eq!(
        specification.launch_template_id(),
        Some(template_id.as_str())
    );
    assert_eq!(specification.version(), Some(version.to_string().as_str()));
    let distribution = policy.instances_distribution().unwrap();
    assert_eq!(
        distribution.on_demand_percentage_above_base_capacity(),
        Some(0)
    );
    assert_eq!(
        distribution.spot_allocation_strategy(),
        Some("price-capacity-optimized")
    );
    assert_eq!(group.min_size(), Some(0));
    assert_eq!(group.max_size(), Some(4));
    assert_eq!(group.new_instances_protected_from_scale_in(), Some(true));
    assert_eq!(
        group.vpc_zone_identifier().unwrap().split(',').count(),
        2,
        "the group spans both private subnets"
    );

    let providers = ecs
        .describe_capacity_providers()
        .capacity_providers(CAPACITY_PROVIDER)
        .send()
        .await
        .expect("DescribeCapacityProviders succeeds");
    let provider = providers.capacity_providers()[0]
        .auto_scaling_group_provider()
        .unwrap();
    assert_eq!(
        provider.auto_scaling_group_arn(),
        group.auto_scaling_group_arn().unwrap()
    );
    let scaling = provider.managed_scaling().unwrap();
    assert_eq!(scaling.target_capacity(), Some(75));
    assert_eq!(
        provider
            .managed_termination_protection()
            .map(|value| value.as_str()),
        Some("ENABLED")
    );

    let clusters = ecs
        .describe_clusters()
        .clusters(CLUSTER)
        .send()
        .await
        .expect("DescribeClusters succeeds");
    let cluster = &clusters.clusters()[0];
    assert_eq!(cluster.capacity_providers(), [CAPACITY_PROVIDER]);
    let strategy = cluster.default_capacity_provider_strategy();
    assert_eq!(strategy.len(), 1);
    assert_eq!(strategy[0].capacity_provider(), CAPACITY_PROVIDER);
    assert_eq!(strategy[0].weight(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn desired_capacity_change_is_not_drift() {
    let emulator = create_stack();
    let client = aws_sdk_autoscaling::Client::new(&sdk_config(&emulator).await);
    client
        .update_auto_scaling_group()
        .auto_scaling_group_name(GROUP)
        .desired_capacity(2)
        .send()
        .await
        .expect("the hand-made change succeeds");

    let output = plan(&emulator, &config_file());

    assert_eq!(
        output.status.code(),
        Some(0),
        "plan finds no change: {}",
        describe(&output)
    );
    assert_eq!(live_group(&emulator).await.desired_capacity(), Some(2));
}

#[tokio::test(flavor = "multi_thread")]
async fn launch_template_drift_is_put_back() {
    let emulator = create_stack();
    let ec2 = aws_sdk_ec2::Client::new(&sdk_config(&emulator).await);
    let (template_id, version, data) = default_template(&ec2).await;
    // A new default version made by hand, with another instance type.
    let created = ec2
        .create_launch_template_version()
        .launch_template_id(&template_id)
        .source_version(version.to_string())
        .launch_template_data(
            aws_sdk_ec2::types::RequestLaunchTemplateData::builder()
                .instance_type(aws_sdk_ec2::types::InstanceType::T3Micro)
                .build(),
        )
        .send()
        .await
        .expect("the hand-made version is created");
    let hand_made = created
        .launch_template_version()
        .and_then(|version| version.version_number())
        .unwrap();
    ec2.modify_launch_template()
        .launch_template_id(&template_id)
        .default_version(hand_made.to_string())
        .send()
        .await
        .expect("the hand-made version becomes the default");

    plan_shows_drift(
        &emulator,
        &config_file(),
        &["instanceType: t3.micro -> t3.large"],
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
        [
            "CreateLaunchTemplateVersion",
            "ModifyLaunchTemplate",
            "UpdateAutoScalingGroup"
        ],
        "one new version, made the default, and the group follows it"
    );
    let (_, repaired, data_now) = default_template(&ec2).await;
    assert!(repaired > hand_made, "a new version is the default");
    assert_eq!(data_now.instance_type(), data.instance_type());
    let group = live_group(&emulator).await;
    let specification = group
        .mixed_instances_policy()
        .and_then(|policy| policy.launch_template())
        .and_then(|template| template.launch_template_specification())
        .unwrap();
    assert_eq!(specification.version(), Some(repaired.to_string().as_str()));
}
