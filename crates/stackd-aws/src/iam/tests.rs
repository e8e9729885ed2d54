//! Call sequences of the iam component that moto cannot show, played with
//! aws-smithy-mocks through the engine's real passes.

use super::*;
use aws_sdk_iam::operation::add_role_to_instance_profile::{
    AddRoleToInstanceProfileError, AddRoleToInstanceProfileOutput,
};
use aws_sdk_iam::operation::attach_role_policy::AttachRolePolicyOutput;
use aws_sdk_iam::operation::create_instance_profile::CreateInstanceProfileOutput;
use aws_sdk_iam::operation::create_role::CreateRoleOutput;
use aws_sdk_iam::operation::get_instance_profile::{
    GetInstanceProfileError, GetInstanceProfileOutput,
};
use aws_sdk_iam::operation::get_role::{GetRoleError, GetRoleOutput};
use aws_sdk_iam::operation::list_attached_role_policies::ListAttachedRolePoliciesOutput;
use aws_sdk_iam::operation::list_role_policies::ListRolePoliciesOutput;
use aws_sdk_iam::types::error::NoSuchEntityException;
use aws_sdk_iam::types::{AttachedPolicy, InstanceProfile, Role, Tag};
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use aws_smithy_types::DateTime;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use stackd_engine::{Graph, Mode, Node, PassOptions, PassReport, Status, run_pass};

const STACK: &str = "s";
const ROLE: &str = "s-ecs-instance";
const MANAGED_POLICY: &str =
    "arn:aws:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role";

fn tagger() -> Tagger {
    Tagger::new(STACK, &BTreeMap::new())
}

/// Returns the file's IAM section: one EC2 role with a managed policy and an instance profile.
fn iam() -> Iam {
    Iam {
        roles: vec![stackd_spec::model::Role {
            id: "ecs-instance".to_owned(),
            name: ROLE.to_owned(),
            trusted_services: vec!["ec2.amazonaws.com".to_owned()],
            managed_policies: vec![MANAGED_POLICY.to_owned()],
            inline_policies: Vec::new(),
            instance_profile: true,
        }],
        users: Vec::new(),
    }
}

fn sdk_tags(logical_id: &str) -> Vec<Tag> {
    tagger()
        .desired(logical_id, ROLE)
        .into_iter()
        .map(|(key, value)| Tag::builder().key(key).value(value).build().unwrap())
        .collect()
}

/// The role as IAM returns it, with its trust policy URL-encoded.
fn live_role() -> Role {
    let trust_policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    Role::builder()
        .path("/")
        .role_name(ROLE)
        .role_id("AROAEXAMPLE")
        .arn(format!("arn:aws:iam::123456789012:role/{ROLE}"))
        .create_date(DateTime::from_secs(0))
        .assume_role_policy_document(
            utf8_percent_encode(trust_policy, NON_ALPHANUMERIC).to_string(),
        )
        .set_tags(Some(sdk_tags(&ids::role("ecs-instance"))))
        .build()
        .unwrap()
}

fn live_instance_profile(roles: Vec<Role>) -> InstanceProfile {
    InstanceProfile::builder()
        .path("/")
        .instance_profile_name(ROLE)
        .instance_profile_id("AIPAEXAMPLE")
        .arn(format!("arn:aws:iam::123456789012:instance-profile/{ROLE}"))
        .create_date(DateTime::from_secs(0))
        .set_roles(Some(roles))
        .set_tags(Some(sdk_tags(&ids::instance_profile("ecs-instance"))))
        .build()
        .unwrap()
}

fn no_such_entity(message: &str) -> NoSuchEntityException {
    NoSuchEntityException::builder().message(message).build()
}

async fn apply_pass(graph: &Graph) -> PassReport {
    let options = PassOptions::new(Mode::Apply, 4);
    run_pass(graph, &options).await
}

#[tokio::test]
async fn unseen_role_is_retried_not_recreated() {
    // Pass 1 finds nothing, creates the role and the profile, and IAM does not
    // see the new role yet when the role is added to the profile. Pass 2 finds
    // both and only adds the role. Its second observation finds the role in the profile.
    let get_role = mock!(aws_sdk_iam::Client::get_role)
        .sequence()
        .error(|| GetRoleError::NoSuchEntityException(no_such_entity("role not found")))
        .output(|| GetRoleOutput::builder().role(live_role()).build())
        .times(2)
        .build();
    let get_instance_profile = mock!(aws_sdk_iam::Client::get_instance_profile)
        .sequence()
        .error(|| {
            GetInstanceProfileError::NoSuchEntityException(no_such_entity("profile not found"))
        })
        .output(|| {
            GetInstanceProfileOutput::builder()
                .instance_profile(live_instance_profile(Vec::new()))
                .build()
        })
        .output(|| {
            GetInstanceProfileOutput::builder()
                .instance_profile(live_instance_profile(vec![live_role()]))
                .build()
        })
        .build();
    let list_attached = mock!(aws_sdk_iam::Client::list_attached_role_policies).then_output(|| {
        ListAttachedRolePoliciesOutput::builder()
            .attached_policies(
                AttachedPolicy::builder()
                    .policy_name("AmazonEC2ContainerServiceforEC2Role")
                    .policy_arn(MANAGED_POLICY)
                    .build(),
            )
            .is_truncated(false)
            .build()
    });
    let list_inline = mock!(aws_sdk_iam::Client::list_role_policies).then_output(|| {
        ListRolePoliciesOutput::builder()
            .set_policy_names(Some(Vec::new()))
            .is_truncated(false)
            .build()
            .unwrap()
    });
    let create_role = mock!(aws_sdk_iam::Client::create_role)
        .then_output(|| CreateRoleOutput::builder().role(live_role()).build());
    let attach = mock!(aws_sdk_iam::Client::attach_role_policy)
        .then_output(|| AttachRolePolicyOutput::builder().build());
    let create_instance_profile =
        mock!(aws_sdk_iam::Client::create_instance_profile).then_output(|| {
            CreateInstanceProfileOutput::builder()
                .instance_profile(live_instance_profile(Vec::new()))
                .build()
        });
    let add_role = mock!(aws_sdk_iam::Client::add_role_to_instance_profile)
        .sequence()
        .error(|| {
            AddRoleToInstanceProfileError::NoSuchEntityException(no_such_entity(
                "The role with name s-ecs-instance cannot be found.",
            ))
        })
        .output(|| AddRoleToInstanceProfileOutput::builder().build())
        .build();
    let client = mock_client!(
        aws_sdk_iam,
        RuleMode::MatchAny,
        [
            &get_role,
            &get_instance_profile,
            &list_attached,
            &list_inline,
            &create_role,
            &attach,
            &create_instance_profile,
            &add_role,
        ]
    );

    let config = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .build();
    let clients = AwsClients {
        iam: client,
        ..AwsClients::from_config(&config, false)
    };
    let component = IamComponent::new(clients, tagger(), &iam(), &TemplateValues::default());
    let graph = Graph::new(vec![Node::component(component)]).unwrap();

    let first = apply_pass(&graph).await;
    let report = &first.components[0];
    assert_eq!(report.status, Status::Error, "{}", report.reason);
    assert!(
        report
            .reason
            .contains("AddRoleToInstanceProfile s-ecs-instance"),
        "{}",
        report.reason
    );

    let second = apply_pass(&graph).await;
    let report = &second.components[0];
    assert_eq!(report.status, Status::Synced, "{}", report.reason);
    assert_eq!(
        report.changes.len(),
        1,
        "only the role is added: {:?}",
        report.changes
    );
    assert_eq!(report.changes[0].resource, "instance-profile/ecs-instance");

    assert_eq!(create_role.num_calls(), 1, "CreateRole calls");
    assert_eq!(
        create_instance_profile.num_calls(),
        1,
        "CreateInstanceProfile calls"
    );
    assert_eq!(attach.num_calls(), 1, "AttachRolePolicy calls");
    assert_eq!(add_role.num_calls(), 2, "AddRoleToInstanceProfile calls");
}
