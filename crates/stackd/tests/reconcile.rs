//! Whole flows of the `stackd` binary against the moto emulator: create the
//! beezyup stack, change nothing on the second pass, see drift and put it back.

use aws_sdk_ec2::types::{Filter, IpPermission, IpRange, Tag};
use aws_sdk_s3::types::PublicAccessBlockConfiguration;
use stackd_tests::Emulator;
use std::path::{Path, PathBuf};

mod common;
use common::*;

fn stack_filter() -> Filter {
    Filter::builder()
        .name("tag:stackd:stack")
        .values(STACK)
        .build()
}

fn stackd_id(tags: &[Tag]) -> Option<String> {
    tags.iter()
        .find(|tag| tag.key() == Some("stackd:id"))
        .and_then(|tag| tag.value().map(str::to_owned))
}

#[tokio::test(flavor = "multi_thread")]
async fn first_reconcile_creates_every_resource_tagged() {
    let emulator = create_stack();
    let config = sdk_config(&emulator).await;
    let ec2 = aws_sdk_ec2::Client::new(&config);

    let vpcs = ec2
        .describe_vpcs()
        .filters(stack_filter())
        .send()
        .await
        .unwrap();
    assert_eq!(vpcs.vpcs().len(), 1, "one VPC");
    assert_eq!(vpcs.vpcs()[0].cidr_block(), Some("10.0.0.0/16"));

    let subnets = ec2
        .describe_subnets()
        .filters(stack_filter())
        .send()
        .await
        .unwrap();
    let mut subnet_ids: Vec<String> = subnets
        .subnets()
        .iter()
        .filter_map(|subnet| stackd_id(subnet.tags()))
        .collect();
    subnet_ids.sort();
    assert_eq!(
        subnet_ids,
        [
            "subnet/private-a",
            "subnet/private-b",
            "subnet/public-a",
            "subnet/public-b"
        ]
    );

    let gateways = ec2
        .describe_internet_gateways()
        .filters(stack_filter())
        .send()
        .await
        .unwrap();
    assert_eq!(
        gateways.internet_gateways().len(),
        1,
        "one internet gateway"
    );
    assert_eq!(
        gateways.internet_gateways()[0].attachments().len(),
        1,
        "attached"
    );

    let nat = ec2
        .describe_nat_gateways()
        .filter(stack_filter())
        .send()
        .await
        .unwrap();
    assert_eq!(nat.nat_gateways().len(), 1, "one NAT gateway");
    let addresses = ec2
        .describe_addresses()
        .filters(stack_filter())
        .send()
        .await
        .unwrap();
    assert_eq!(addresses.addresses().len(), 1, "one Elastic IP");

    let tables = ec2
        .describe_route_tables()
        .filters(stack_filter())
        .send()
        .await
        .unwrap();
    assert_eq!(tables.route_tables().len(), 3, "three route tables");

    let groups = ec2
        .describe_security_groups()
        .filters(stack_filter())
        .send()
        .await
        .unwrap();
    assert_eq!(groups.security_groups().len(), 3, "three security groups");

    let endpoints = ec2
        .describe_vpc_endpoints()
        .filters(stack_filter())
        .send()
        .await
        .unwrap();
    assert_eq!(endpoints.vpc_endpoints().len(), 2, "two VPC endpoints");

    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(true)
            .build(),
    );
    for (bucket, id) in [
        ("beezyup-prod-public-media", "bucket/media"),
        ("beezyup-prod-private-files", "bucket/files"),
    ] {
        let tagging = s3.get_bucket_tagging().bucket(bucket).send().await.unwrap();
        let tag = tagging
            .tag_set()
            .iter()
            .find(|tag| tag.key() == "stackd:id");
        assert_eq!(
            tag.map(|tag| tag.value()),
            Some(id),
            "{bucket} carries its stackd:id"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn second_pass_makes_no_mutating_call() {
    let emulator = create_stack();
    emulator.reset_calls();

    let planned = plan(&emulator, &config_file());
    assert_eq!(
        planned.status.code(),
        Some(0),
        "plan after reconcile: {}",
        describe(&planned)
    );
    let again = reconcile(&emulator, &config_file());
    assert_eq!(
        again.status.code(),
        Some(0),
        "second reconcile: {}",
        describe(&again)
    );

    assert!(!emulator.calls().is_empty(), "the second pass observed AWS");
    assert_eq!(
        emulator.mutating_calls(),
        Vec::new(),
        "the second pass changed nothing"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn drift_behind_our_back_is_planned_and_put_back() {
    let emulator = create_stack();
    let config = sdk_config(&emulator).await;
    let ec2 = aws_sdk_ec2::Client::new(&config);
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(true)
            .build(),
    );

    // 1. Someone opens SSH on the ecs group in the console.
    let groups = ec2
        .describe_security_groups()
        .filters(stack_filter())
        .send()
        .await
        .unwrap();
    let ecs = groups
        .security_groups()
        .iter()
        .find(|group| stackd_id(group.tags()).as_deref() == Some("security-group/ecs"))
        .expect("the ecs group exists");
    ec2.authorize_security_group_ingress()
        .group_id(ecs.group_id().unwrap())
        .ip_permissions(
            IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(22)
                .to_port(22)
                .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
                .build(),
        )
        .send()
        .await
        .unwrap();

    // 2. Someone deletes the default route of a private route table.
    let tables = ec2
        .describe_route_tables()
        .filters(stack_filter())
        .send()
        .await
        .unwrap();
    let private_a = tables
        .route_tables()
        .iter()
        .find(|table| stackd_id(table.tags()).as_deref() == Some("route-table/private-a"))
        .expect("the private-a route table exists");
    ec2.delete_route()
        .route_table_id(private_a.route_table_id().unwrap())
        .destination_cidr_block("0.0.0.0/0")
        .send()
        .await
        .unwrap();

    // 3. Someone turns off the public access block of the media bucket.
    s3.put_public_access_block()
        .bucket("beezyup-prod-public-media")
        .public_access_block_configuration(
            PublicAccessBlockConfiguration::builder()
                .block_public_acls(false)
                .ignore_public_acls(false)
                .block_public_policy(false)
                .restrict_public_buckets(false)
                .build(),
        )
        .send()
        .await
        .unwrap();

    // 4. Someone renames a subnet.
    let subnets = ec2
        .describe_subnets()
        .filters(stack_filter())
        .send()
        .await
        .unwrap();
    let private_b = subnets
        .subnets()
        .iter()
        .find(|subnet| stackd_id(subnet.tags()).as_deref() == Some("subnet/private-b"))
        .expect("the private-b subnet exists");
    ec2.create_tags()
        .resources(private_b.subnet_id().unwrap())
        .tags(Tag::builder().key("Name").value("renamed-by-hand").build())
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
        "ingress: tcp 22 0.0.0.0/0 -> (none)",
        "routes[0.0.0.0/0]: (none) -> nat-gateway/nat-a",
        "publicAccessBlock.blockPublicAcls: false -> true",
        "publicAccessBlock.restrictPublicBuckets: false -> true",
        "tags.Name: renamed-by-hand -> beezyup-prod-c01-private-b",
    ] {
        assert!(text.contains(expected), "plan shows {expected:?}:\n{text}");
    }

    let repaired = reconcile(&emulator, &config_file());
    assert_eq!(
        repaired.status.code(),
        Some(0),
        "reconcile repairs: {}",
        describe(&repaired)
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
async fn untagged_bucket_with_our_name_is_left_alone() {
    let emulator = Emulator::start().expect("the emulator starts");
    let config = sdk_config(&emulator).await;
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(true)
            .build(),
    );
    s3.create_bucket()
        .bucket("beezyup-prod-public-media")
        .create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::EuWest3)
                .build(),
        )
        .send()
        .await
        .unwrap();
    emulator.reset_calls();

    let output = reconcile(&emulator, &config_file());
    assert_eq!(
        output.status.code(),
        Some(3),
        "refused by the ownership guard: {}",
        describe(&output)
    );
    let text = stdout(&output);
    assert!(text.contains("bucket/media"), "{text}");
    assert!(text.contains("belongs to someone else"), "{text}");

    let modified: Vec<_> = emulator
        .mutating_calls()
        .into_iter()
        .filter(|call| call.path.starts_with("/beezyup-prod-public-media"))
        .collect();
    assert_eq!(modified, Vec::new(), "no call changed the foreign bucket");
}

#[test]
fn invalid_files_never_reach_aws() {
    let emulator = Emulator::start().expect("the emulator starts");
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("../stackd-spec/tests/invalid");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&folder)
        .expect("the invalid files exist")
        .map(|entry| entry.unwrap().path())
        .filter(|path| {
            path.extension()
                .is_some_and(|extension| extension == "yaml")
        })
        .collect();
    files.sort();
    assert!(
        files.len() >= 20,
        "at least 20 invalid files, found {}",
        files.len()
    );

    for file in &files {
        let output = plan(&emulator, file);
        assert_eq!(
            output.status.code(),
            Some(1),
            "{} is rejected: {}",
            file.display(),
            describe(&output)
        );
        let stderr = String::from_utf8_lossy(&output.stderr);
        let name = file.file_name().unwrap().to_string_lossy();
        assert!(
            stderr
                .lines()
                .any(|line| line.contains(name.as_ref()) && line.contains(": error: ")),
            "{} names the file, a position and the error:\n{stderr}",
            file.display()
        );
    }
    assert_eq!(emulator.calls(), Vec::new(), "no invalid file reached AWS");
}

#[test]
fn json_plan_matches_documented_schema() {
    let emulator = Emulator::start().expect("the emulator starts");
    let file = config_file();
    let output = stackd(
        &emulator,
        &["plan", "-f", file.to_str().unwrap(), "--output", "json"],
    );
    assert_eq!(
        output.status.code(),
        Some(2),
        "plan of an empty emulator: {}",
        describe(&output)
    );
    let document: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("the plan is JSON");

    let schema_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/plan.schema.json");
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(schema_path).unwrap())
            .expect("the schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("the schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(&document)
        .map(|error| error.to_string())
        .collect();
    assert_eq!(
        errors,
        Vec::<String>::new(),
        "the plan matches docs/plan.schema.json"
    );

    assert_eq!(document["hasChanges"], true);
    assert_eq!(document["stack"], STACK);
}
