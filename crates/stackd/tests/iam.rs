//! Whole flows of the iam component against the moto emulator: roles, the
//! instance profile, the user and their policies are created, left alone when
//! converged, and put back after a change behind stackd's back.

use aws_config::BehaviorVersion;
use percent_encoding::percent_decode_str;
use serde_json::{Value, json};
use stackd_tests::Emulator;
use std::path::{Path, PathBuf};

mod common;
use common::*;

const ECS_INSTANCE_ROLE: &str = "beezyup-prod-c01-ecs-instance";
const TASK_EXECUTION_ROLE: &str = "beezyup-prod-c01-task-execution";
const TASK_ROLE: &str = "beezyup-prod-c01-task";
const UPLOADER: &str = "beezyup-prod-media-uploader";
const UPLOADER_SECRET: &str = "beezyup/prod/media-uploader";
const EC2_CONTAINER_POLICY: &str =
    "arn:aws:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role";
const TASK_EXECUTION_POLICY: &str =
    "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy";

fn config_folder() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config")
}

/// Writes `text` as a desired-state file in a fresh folder under Cargo's test
/// temp dir, next to a copy of `config/keys` that the file names relative to
/// its folder, and returns the file's path.
fn write_config_copy(test: &str, text: &str) -> PathBuf {
    let folder =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("iam-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&folder);
    let keys = folder.join("keys");
    std::fs::create_dir_all(&keys).expect("the temp config folder is created");
    for entry in std::fs::read_dir(config_folder().join("keys")).expect("config/keys exists") {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), keys.join(entry.file_name())).expect("a key file is copied");
    }
    let file = folder.join("beezyup-prod-c01.yaml");
    std::fs::write(&file, text).expect("the config copy is written");
    file
}

async fn iam_client(emulator: &Emulator) -> aws_sdk_iam::Client {
    let config = aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(emulator.endpoint())
        .region(aws_config::Region::new("eu-west-3"))
        .credentials_provider(aws_sdk_iam::config::Credentials::new(
            "testing",
            "testing",
            None,
            None,
            "stackd-tests",
        ))
        .load()
        .await;
    aws_sdk_iam::Client::new(&config)
}

/// Returns the names of the mutating IAM calls since the last reset, sorted.
fn mutating_iam_calls(emulator: &Emulator) -> Vec<String> {
    let mut calls: Vec<String> = emulator
        .mutating_calls()
        .into_iter()
        .filter(|call| call.service == "iam")
        .map(|call| call.operation)
        .collect();
    calls.sort();
    calls
}

/// Parses a policy document as IAM returns it, URL-encoded.
fn decode(document: &str) -> Value {
    let text = percent_decode_str(document)
        .decode_utf8()
        .expect("the document is UTF-8");
    serde_json::from_str(&text).expect("the document is JSON")
}

fn trust_policy(service: &str) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": { "Service": [service] },
            "Action": ["sts:AssumeRole"],
        }],
    })
}

fn app_buckets_policy() -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Action": ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"],
            "Resource": [
                "arn:aws:s3:::beezyup-prod-private-files/*",
                "arn:aws:s3:::beezyup-prod-public-media/*",
            ],
        }],
    })
}

async fn tag(client: &aws_sdk_iam::Client, role: &str, key: &str) -> Option<String> {
    let response = client.get_role().role_name(role).send().await.unwrap();
    response
        .role()
        .unwrap()
        .tags()
        .iter()
        .find(|tag| tag.key() == key)
        .map(|tag| tag.value().to_owned())
}

async fn attached_role_policies(client: &aws_sdk_iam::Client, role: &str) -> Vec<String> {
    let response = client
        .list_attached_role_policies()
        .role_name(role)
        .send()
        .await
        .unwrap();
    let mut arns: Vec<String> = response
        .attached_policies()
        .iter()
        .filter_map(|policy| policy.policy_arn().map(str::to_owned))
        .collect();
    arns.sort();
    arns
}

async fn role_policy_names(client: &aws_sdk_iam::Client, role: &str) -> Vec<String> {
    let response = client
        .list_role_policies()
        .role_name(role)
        .send()
        .await
        .unwrap();
    let mut names = response.policy_names().to_vec();
    names.sort();
    names
}

async fn role_policy(client: &aws_sdk_iam::Client, role: &str, policy: &str) -> Value {
    let response = client
        .get_role_policy()
        .role_name(role)
        .policy_name(policy)
        .send()
        .await
        .unwrap();
    decode(response.policy_document())
}

#[tokio::test(flavor = "multi_thread")]
async fn first_reconcile_creates_roles_with_policies() {
    let emulator = create_stack();
    let iam = iam_client(&emulator).await;

    for (role, service, managed, inline, id) in [
        (
            ECS_INSTANCE_ROLE,
            "ec2.amazonaws.com",
            vec![EC2_CONTAINER_POLICY],
            vec![],
            "role/ecs-instance",
        ),
        (
            TASK_EXECUTION_ROLE,
            "ecs-tasks.amazonaws.com",
            vec![TASK_EXECUTION_POLICY],
            vec!["read-app-secrets"],
            "role/task-execution",
        ),
        (
            TASK_ROLE,
            "ecs-tasks.amazonaws.com",
            vec![],
            vec!["app-buckets"],
            "role/task",
        ),
    ] {
        let found = iam.get_role().role_name(role).send().await.unwrap();
        let found = found.role().expect("the role exists");
        assert_eq!(found.path(), "/", "{role} path");
        assert_eq!(
            decode(found.assume_role_policy_document().unwrap()),
            trust_policy(service),
            "{role} trust policy"
        );
        assert_eq!(
            tag(&iam, role, "stackd:stack").await.as_deref(),
            Some(STACK),
            "{role} stackd:stack tag"
        );
        assert_eq!(
            tag(&iam, role, "stackd:id").await.as_deref(),
            Some(id),
            "{role} stackd:id tag"
        );
        assert_eq!(
            attached_role_policies(&iam, role).await,
            managed,
            "{role} managed policies"
        );
        assert_eq!(
            role_policy_names(&iam, role).await,
            inline,
            "{role} inline policies"
        );
    }

    assert_eq!(
        role_policy(&iam, TASK_ROLE, "app-buckets").await,
        app_buckets_policy(),
        "bucket ARNs are rendered from the bucket names"
    );
    assert_eq!(
        role_policy(&iam, TASK_EXECUTION_ROLE, "read-app-secrets").await["Statement"][0]["Resource"],
        json!([format!(
            "arn:aws:secretsmanager:eu-west-3:{EMULATOR_ACCOUNT}:secret:beezyup/prod/*"
        )]),
        "region and account are rendered from the stack"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn first_reconcile_creates_profile_and_user() {
    let emulator = create_stack();
    let iam = iam_client(&emulator).await;

    let profile = iam
        .get_instance_profile()
        .instance_profile_name(ECS_INSTANCE_ROLE)
        .send()
        .await
        .unwrap();
    let profile = profile.instance_profile().expect("the profile exists");
    let roles: Vec<&str> = profile
        .roles()
        .iter()
        .map(|role| role.role_name())
        .collect();
    assert_eq!(roles, [ECS_INSTANCE_ROLE], "the profile carries its role");
    let profile_id = profile
        .tags()
        .iter()
        .find(|tag| tag.key() == "stackd:id")
        .map(|tag| tag.value());
    assert_eq!(profile_id, Some("instance-profile/ecs-instance"));

    let user = iam.get_user().user_name(UPLOADER).send().await.unwrap();
    let user_id = user
        .user()
        .expect("the user exists")
        .tags()
        .iter()
        .find(|tag| tag.key() == "stackd:id")
        .map(|tag| tag.value().to_owned());
    assert_eq!(user_id.as_deref(), Some("user/media-uploader"));

    let policy = iam
        .get_user_policy()
        .user_name(UPLOADER)
        .policy_name("media-upload")
        .send()
        .await
        .unwrap();
    assert_eq!(
        decode(policy.policy_document()),
        json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow",
                "Action": ["s3:DeleteObject", "s3:PutObject"],
                "Resource": ["arn:aws:s3:::beezyup-prod-public-media/*"],
            }],
        })
    );
}

/// Returns the user's access key ids, as ListAccessKeys reports them.
async fn access_key_ids(iam: &aws_sdk_iam::Client) -> Vec<String> {
    let keys = iam
        .list_access_keys()
        .user_name(UPLOADER)
        .send()
        .await
        .unwrap();
    keys.access_key_metadata()
        .iter()
        .filter_map(|key| key.access_key_id().map(str::to_owned))
        .collect()
}

/// Returns the key that the uploader's secret contains, as its JSON value.
async fn stored_key(emulator: &Emulator) -> Value {
    let secrets = aws_sdk_secretsmanager::Client::new(&sdk_config(emulator).await);
    let value = secrets
        .get_secret_value()
        .secret_id(UPLOADER_SECRET)
        .send()
        .await
        .expect("the secret exists");
    serde_json::from_str(
        value
            .secret_string()
            .expect("the secret has a string value"),
    )
    .expect("the secret holds JSON")
}

#[tokio::test(flavor = "multi_thread")]
async fn access_key_stored_in_secret() {
    let emulator = Emulator::start().expect("the emulator starts");
    let created = reconcile(&emulator, &config_file());
    assert_eq!(created.status.code(), Some(0), "{}", describe(&created));
    let iam = iam_client(&emulator).await;

    let keys = access_key_ids(&iam).await;
    assert_eq!(keys.len(), 1, "exactly one key: {keys:?}");
    let stored = stored_key(&emulator).await;
    assert_eq!(stored["AccessKeyId"], json!(keys[0]));
    let secret_key = stored["SecretAccessKey"]
        .as_str()
        .expect("the secret key is stored");
    assert!(!secret_key.is_empty());
    let printed = describe(&created);
    assert!(
        !printed.contains(secret_key),
        "the secret key never appears in the output"
    );
    assert!(
        stdout(&created).lines().any(|line| line
            .trim_start()
            .starts_with("access-key/media-uploader")
            && line.contains("Synced")),
        "the access key is created: {printed}"
    );

    // In sync: no new key.
    emulator.reset_calls();
    let again = reconcile(&emulator, &config_file());
    assert_eq!(again.status.code(), Some(0), "{}", describe(&again));
    assert_eq!(access_key_ids(&iam).await, keys);

    // A key deleted by hand is replaced, and the secret contains the new one.
    iam.delete_access_key()
        .user_name(UPLOADER)
        .access_key_id(&keys[0])
        .send()
        .await
        .unwrap();
    let replaced = reconcile(&emulator, &config_file());
    assert_eq!(replaced.status.code(), Some(0), "{}", describe(&replaced));
    let new_keys = access_key_ids(&iam).await;
    assert_eq!(new_keys.len(), 1, "{new_keys:?}");
    assert_ne!(new_keys, keys);
    assert_eq!(
        stored_key(&emulator).await["AccessKeyId"],
        json!(new_keys[0])
    );

    // A key that the secret does not hold is never replaced on stackd's own.
    iam.create_access_key()
        .user_name(UPLOADER)
        .send()
        .await
        .unwrap();
    iam.delete_access_key()
        .user_name(UPLOADER)
        .access_key_id(&new_keys[0])
        .send()
        .await
        .unwrap();
    let before = access_key_ids(&iam).await;
    let refused = reconcile(&emulator, &config_file());
    assert_eq!(refused.status.code(), Some(3), "{}", describe(&refused));
    assert!(
        stdout(&refused).contains("never replaces a key on its own"),
        "{}",
        describe(&refused)
    );
    assert_eq!(access_key_ids(&iam).await, before);
}

#[tokio::test(flavor = "multi_thread")]
async fn second_reconcile_makes_no_iam_call_that_changes() {
    let emulator = create_stack();
    emulator.reset_calls();

    let again = reconcile(&emulator, &config_file());
    assert_eq!(
        again.status.code(),
        Some(0),
        "second reconcile: {}",
        describe(&again)
    );

    let iam_reads = emulator
        .calls()
        .into_iter()
        .filter(|call| call.service == "iam")
        .count();
    assert!(iam_reads > 0, "the second pass observed IAM");
    assert_eq!(
        mutating_iam_calls(&emulator),
        Vec::<String>::new(),
        "the second pass changed nothing in IAM"
    );
    let planned = plan(&emulator, &config_file());
    assert_eq!(
        planned.status.code(),
        Some(0),
        "plan after reconcile: {}",
        describe(&planned)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn policy_drift_is_planned_and_put_back() {
    let emulator = create_stack();
    let iam = iam_client(&emulator).await;

    // 1. Someone narrows the task role's inline policy in the console.
    let narrowed = json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": [
                "arn:aws:s3:::beezyup-prod-private-files/*",
                "arn:aws:s3:::beezyup-prod-public-media/*",
            ],
        }],
    });
    iam.put_role_policy()
        .role_name(TASK_ROLE)
        .policy_name("app-buckets")
        .policy_document(narrowed.to_string())
        .send()
        .await
        .unwrap();

    // 2. Someone attaches a managed policy to the task role by hand.
    iam.attach_role_policy()
        .role_name(TASK_ROLE)
        .policy_arn("arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess")
        .send()
        .await
        .unwrap();

    let drifted = plan(&emulator, &config_file());
    assert_eq!(
        drifted.status.code(),
        Some(2),
        "plan sees drift: {}",
        describe(&drifted)
    );
    let text = stdout(&drifted);
    for expected in [
        r#"inlinePolicies.app-buckets.Statement[0].Action: ["s3:GetObject"] -> ["s3:DeleteObject","s3:GetObject","s3:PutObject"]"#,
        "managedPolicies[arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess]: attached -> (none)",
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
    assert_eq!(
        mutating_iam_calls(&emulator),
        ["DetachRolePolicy", "PutRolePolicy"],
        "one call per drifted policy"
    );
    assert_eq!(
        role_policy(&iam, TASK_ROLE, "app-buckets").await,
        app_buckets_policy()
    );
    assert_eq!(
        attached_role_policies(&iam, TASK_ROLE).await,
        Vec::<String>::new()
    );

    let after = plan(&emulator, &config_file());
    assert_eq!(
        after.status.code(),
        Some(0),
        "plan after repair: {}",
        describe(&after)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn inline_policy_added_to_file_puts_only_it() {
    let emulator = create_stack();
    let iam = iam_client(&emulator).await;

    let original = stack_text();
    let anchor = "        name: beezyup-prod-c01-task\n        trustedServices: [ecs-tasks.amazonaws.com]\n        inlinePolicies:\n";
    assert!(
        original.contains(anchor),
        "the task role is in the config file"
    );
    let added = "          - name: read-parameters\n            statements:\n              - effect: Allow\n                actions: [ssm:GetParameter]\n                resources: [\"arn:aws:ssm:${region}:${account}:parameter/beezyup/prod/*\"]\n";
    let file = write_config_copy(
        "added-policy",
        &original.replace(anchor, &format!("{anchor}{added}")),
    );

    emulator.reset_calls();
    let output = reconcile(&emulator, &file);
    assert_eq!(
        output.status.code(),
        Some(0),
        "reconcile with the new policy: {}",
        describe(&output)
    );
    assert_eq!(
        mutating_iam_calls(&emulator),
        ["PutRolePolicy"],
        "only the new policy is put"
    );
    assert_eq!(
        role_policy_names(&iam, TASK_ROLE).await,
        ["app-buckets", "read-parameters"]
    );
    assert_eq!(
        role_policy(&iam, TASK_ROLE, "read-parameters").await["Statement"][0]["Resource"],
        json!([format!(
            "arn:aws:ssm:eu-west-3:{EMULATOR_ACCOUNT}:parameter/beezyup/prod/*"
        )])
    );

    // A failing test keeps its copy for a look; a passing one removes it.
    if let Some(folder) = file.parent() {
        let _ = std::fs::remove_dir_all(folder);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn untagged_role_with_our_name_is_left_alone() {
    let emulator = Emulator::start().expect("the emulator starts");
    let iam = iam_client(&emulator).await;
    let foreign_trust = trust_policy("lambda.amazonaws.com");
    iam.create_role()
        .role_name(TASK_ROLE)
        .assume_role_policy_document(foreign_trust.to_string())
        .send()
        .await
        .unwrap();

    let output = reconcile(&emulator, &config_file());
    assert_eq!(
        output.status.code(),
        Some(3),
        "refused by the ownership guard: {}",
        describe(&output)
    );
    let text = stdout(&output);
    assert!(
        text.contains("role beezyup-prod-c01-task exists without the tags"),
        "{text}"
    );
    assert!(text.contains("belongs to someone else"), "{text}");

    let found = iam.get_role().role_name(TASK_ROLE).send().await.unwrap();
    let found = found.role().unwrap();
    assert_eq!(
        decode(found.assume_role_policy_document().unwrap()),
        foreign_trust,
        "the foreign trust policy is unchanged"
    );
    assert!(found.tags().is_empty(), "the foreign role is not tagged");
    assert_eq!(
        role_policy_names(&iam, TASK_ROLE).await,
        Vec::<String>::new(),
        "no policy is put on the foreign role"
    );
    assert_eq!(
        role_policy_names(&iam, TASK_EXECUTION_ROLE).await,
        ["read-app-secrets"],
        "the other roles are reconciled"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn key_of_interrupted_create_is_replaced() {
    let emulator = create_stack();
    let iam = iam_client(&emulator).await;
    let secrets = aws_sdk_secretsmanager::Client::new(&sdk_config(&emulator).await);
    let stored = access_key_ids(&iam).await;

    // What a run killed between CreateAccessKey and PutSecretValue leaves: the
    // pending tag on the secret and a key that the secret does not contain.
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    secrets
        .tag_resource()
        .secret_id(UPLOADER_SECRET)
        .tags(
            aws_sdk_secretsmanager::types::Tag::builder()
                .key("stackd:access-key-pending")
                .value(since.to_string())
                .build(),
        )
        .send()
        .await
        .unwrap();
    iam.delete_access_key()
        .user_name(UPLOADER)
        .access_key_id(&stored[0])
        .send()
        .await
        .unwrap();
    let lost = iam
        .create_access_key()
        .user_name(UPLOADER)
        .send()
        .await
        .unwrap()
        .access_key
        .unwrap()
        .access_key_id;

    let repaired = reconcile(&emulator, &config_file());

    assert_eq!(repaired.status.code(), Some(0), "{}", describe(&repaired));
    let keys = access_key_ids(&iam).await;
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert_ne!(keys[0], lost, "the unstored key is deleted");
    assert_eq!(stored_key(&emulator).await["AccessKeyId"], json!(keys[0]));
    let tags = secrets
        .describe_secret()
        .secret_id(UPLOADER_SECRET)
        .send()
        .await
        .unwrap()
        .tags
        .unwrap_or_default();
    assert!(
        tags.iter()
            .all(|tag| tag.key() != Some("stackd:access-key-pending")),
        "the pending tag is removed: {tags:?}"
    );
}
