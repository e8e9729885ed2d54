//! Tests of the compute diff: an unchanged stack, fields that another
//! system owns, and a launch template change that the Auto Scaling group follows.

use super::diff::{self, Action, HTTP_TOKENS, image_id, live_template_for_tests, user_data};
use super::*;
use stackd_engine::ChangeKind;
use stackd_spec::model::{
    Ami, AutoScalingGroup, AutoScalingGroupAttribute, CapacityProvider,
    CapacityProviderStrategyItem, Cluster, LaunchTemplate, ManagedScaling, SpotAllocationStrategy,
    SpotOptions,
};

fn tagger() -> Tagger {
    Tagger::new("s", &BTreeMap::new())
}

/// Builds the compute section of the beezyup file, with short names.
fn desired() -> Compute {
    Compute {
        launch_templates: vec![LaunchTemplate {
            id: "ecs-spot".to_owned(),
            name: "s-ecs-spot".to_owned(),
            instance_type: "t3.large".to_owned(),
            ami: Ami::SsmParameter("/aws/service/ecs/image_id".to_owned()),
            instance_profile: Some("ecs-instance".to_owned()),
            security_groups: vec!["ecs".to_owned()],
            cluster: Some("main".to_owned()),
        }],
        auto_scaling_groups: vec![AutoScalingGroup {
            id: "ecs-spot".to_owned(),
            name: "s-ecs-spot".to_owned(),
            launch_template: "ecs-spot".to_owned(),
            subnets: vec!["private-a".to_owned()],
            min_size: 0,
            max_size: 4,
            desired_capacity: None,
            spot: Some(SpotOptions {
                instance_types: vec!["t3.large".to_owned()],
                on_demand_base_capacity: 0,
                on_demand_percentage_above_base_capacity: 0,
                allocation_strategy: SpotAllocationStrategy::PriceCapacityOptimized,
            }),
            new_instances_protected_from_scale_in: true,
            ignore_changes: vec![AutoScalingGroupAttribute::DesiredCapacity],
        }],
        capacity_providers: vec![CapacityProvider {
            id: "ecs-spot".to_owned(),
            name: "s-ecs-spot".to_owned(),
            auto_scaling_group: "ecs-spot".to_owned(),
            managed_scaling: Some(ManagedScaling {
                target_capacity: 75,
                minimum_scaling_step_size: 1,
                maximum_scaling_step_size: 2,
                instance_warmup_period: None,
            }),
            managed_termination_protection: true,
        }],
        clusters: vec![Cluster {
            id: "main".to_owned(),
            name: "s-main".to_owned(),
            capacity_providers: vec!["ecs-spot".to_owned()],
            default_strategy: vec![CapacityProviderStrategyItem {
                capacity_provider: "ecs-spot".to_owned(),
                weight: 1,
                base: 0,
            }],
        }],
    }
}

fn context() -> ComputeContext {
    ComputeContext {
        instance_profile_names: BTreeMap::from([(
            "ecs-instance".to_owned(),
            "s-ecs-instance".to_owned(),
        )]),
        services: BTreeMap::new(),
    }
}

fn resolved() -> Resolved {
    Resolved {
        subnets: BTreeMap::from([("private-a".to_owned(), "subnet-a".to_owned())]),
        security_groups: BTreeMap::from([("ecs".to_owned(), "sg-ecs".to_owned())]),
        instance_profiles: BTreeMap::from([(
            "ecs-instance".to_owned(),
            "arn:aws:iam::1:instance-profile/s-ecs-instance".to_owned(),
        )]),
    }
}

/// Live state that matches `desired()`, as AWS reports it.
fn matching() -> ComputeLive {
    let tagger = tagger();
    let data = TemplateData {
        image_id: Some(image_id(&Ami::SsmParameter(
            "/aws/service/ecs/image_id".to_owned(),
        ))),
        instance_type: Some("t3.large".to_owned()),
        instance_profile: Some("s-ecs-instance".to_owned()),
        security_group_ids: BTreeSet::from(["sg-ecs".to_owned()]),
        user_data: Some(user_data("s-main")),
        http_tokens: Some(HTTP_TOKENS.to_owned()),
    };
    ComputeLive {
        launch_templates: BTreeMap::from([(
            "launch-template/ecs-spot".to_owned(),
            live_template_for_tests(
                data,
                tagger.desired("launch-template/ecs-spot", "s-ecs-spot"),
            ),
        )]),
        auto_scaling_groups: BTreeMap::from([(
            "auto-scaling-group/ecs-spot".to_owned(),
            LiveAutoScalingGroup {
                name: "s-ecs-spot".to_owned(),
                arn: "arn:asg".to_owned(),
                status: None,
                min_size: 0,
                max_size: 4,
                desired_capacity: 0,
                launch_template: Some(("lt-1".to_owned(), "1".to_owned())),
                mixed: true,
                instance_types: vec!["t3.large".to_owned()],
                on_demand_base_capacity: Some(0),
                on_demand_percentage_above_base_capacity: Some(0),
                spot_allocation_strategy: Some("price-capacity-optimized".to_owned()),
                subnet_ids: BTreeSet::from(["subnet-a".to_owned()]),
                new_instances_protected_from_scale_in: true,
                tags: tagger.desired("auto-scaling-group/ecs-spot", "s-ecs-spot"),
            },
        )]),
        capacity_providers: BTreeMap::from([(
            "capacity-provider/ecs-spot".to_owned(),
            LiveCapacityProvider {
                name: "s-ecs-spot".to_owned(),
                arn: "arn:cp".to_owned(),
                status: "ACTIVE".to_owned(),
                update_status: None,
                auto_scaling_group_arn: "arn:asg".to_owned(),
                managed_scaling: LiveManagedScaling {
                    enabled: true,
                    target_capacity: Some(75),
                    minimum_scaling_step_size: Some(1),
                    maximum_scaling_step_size: Some(2),
                    // ECS's default, which the file leaves out.
                    instance_warmup_period: Some(300),
                },
                managed_termination_protection: true,
                tags: tagger.desired("capacity-provider/ecs-spot", "s-ecs-spot"),
            },
        )]),
        clusters: BTreeMap::from([(
            "cluster/main".to_owned(),
            LiveCluster {
                name: "s-main".to_owned(),
                arn: "arn:cluster".to_owned(),
                status: "ACTIVE".to_owned(),
                capacity_providers: BTreeSet::from(["s-ecs-spot".to_owned()]),
                default_strategy: vec![StrategyItem {
                    capacity_provider: "s-ecs-spot".to_owned(),
                    weight: 1,
                    base: 0,
                }],
                tags: tagger.desired("cluster/main", "s-main"),
            },
        )]),
        leftover_services: BTreeMap::new(),
    }
}

fn plan(live: &ComputeLive) -> Vec<Planned<Action>> {
    diff::diff(&desired(), &context(), &tagger(), &resolved(), live)
}

fn actions(plan: &[Planned<Action>]) -> Vec<Action> {
    plan.iter().map(|step| step.action.clone()).collect()
}

#[test]
fn empty_account_creates_in_order() {
    let planned = plan(&ComputeLive::default());

    assert_eq!(
        actions(&planned),
        [
            Action::CreateLaunchTemplate("ecs-spot".to_owned()),
            Action::CreateAutoScalingGroup("ecs-spot".to_owned()),
            Action::CreateCapacityProvider("ecs-spot".to_owned()),
            Action::CreateCluster("main".to_owned()),
        ]
    );
}

#[test]
fn matching_state_plans_nothing() {
    assert_eq!(plan(&matching()), Vec::new());
}

#[test]
fn ignored_desired_capacity_is_no_drift() {
    let mut live = matching();
    live.auto_scaling_groups
        .get_mut("auto-scaling-group/ecs-spot")
        .unwrap()
        .desired_capacity = 3;

    assert_eq!(plan(&live), Vec::new());
}

#[test]
fn changed_instance_type_makes_version_group_follows() {
    let mut wanted = desired();
    wanted.launch_templates[0].instance_type = "t3.xlarge".to_owned();

    let planned = diff::diff(&wanted, &context(), &tagger(), &resolved(), &matching());

    assert_eq!(
        actions(&planned),
        [
            Action::CreateLaunchTemplateVersion("ecs-spot".to_owned()),
            Action::UpdateAutoScalingGroup("ecs-spot".to_owned()),
        ]
    );
    let field = &planned[0].change.fields[0];
    assert_eq!(field.path, "instanceType");
    assert_eq!(field.live, serde_json::json!("t3.large"));
    assert_eq!(field.desired, serde_json::json!("t3.xlarge"));
    assert_eq!(planned[1].change.fields[0].path, "launchTemplate.version");
}

#[test]
fn hand_changed_security_groups_are_drift() {
    let mut live = matching();
    let template = live
        .launch_templates
        .get_mut("launch-template/ecs-spot")
        .unwrap();
    template.default_data.security_group_ids = BTreeSet::from(["sg-other".to_owned()]);
    template.latest_data = template.default_data.clone();

    let planned = plan(&live);

    assert_eq!(planned[0].change.fields[0].path, "securityGroups");
    assert_eq!(
        actions(&planned)[0],
        Action::CreateLaunchTemplateVersion("ecs-spot".to_owned())
    );
}

#[test]
fn leftover_cluster_detach_needs_deletion_permission() {
    let mut wanted = desired();
    wanted.clusters.clear();

    let planned = diff::diff(&wanted, &context(), &tagger(), &resolved(), &matching());

    // The launch template loses its cluster's user data too, so only the
    // cluster's own steps are checked here.
    let cluster_steps: Vec<&Planned<Action>> = planned
        .iter()
        .filter(|step| step.change.resource.starts_with("cluster/main"))
        .collect();
    assert_eq!(cluster_steps.len(), 2, "{planned:?}");
    assert!(
        cluster_steps
            .iter()
            .all(|step| step.change.kind == ChangeKind::Delete),
        "detach and delete both need --prune"
    );
}
