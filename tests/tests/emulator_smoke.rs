//! Smoke test of the emulator and its harness: EC2 and S3 calls through the Rust SDK, and the call log.

use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_ec2::config::Credentials;
use aws_sdk_ec2::types::{Filter, ResourceType, Tag, TagSpecification};
use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration};
use stackd_tests::{Call, Emulator};

const REGION: &str = "eu-west-3";

/// SDK configuration that sends every request to the emulator.
async fn sdk_config(emulator: &Emulator) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(emulator.endpoint())
        .region(REGION)
        .credentials_provider(Credentials::new(
            "testing",
            "testing",
            None,
            None,
            "stackd-tests",
        ))
        .load()
        .await
}

/// Returns an S3 client of the emulator in path style, because virtual-host
/// style would put the bucket name in front of 127.0.0.1.
async fn s3_client(emulator: &Emulator) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk_config(emulator).await)
            .force_path_style(true)
            .build(),
    )
}

/// Returns the AWS error code of a failed call.
fn error_code<E, R>(error: &aws_sdk_ec2::error::SdkError<E, R>) -> Option<&str>
where
    E: aws_sdk_ec2::error::ProvideErrorMetadata,
{
    error.as_service_error().and_then(|error| error.code())
}

fn find_call<'a>(calls: &'a [Call], service: &str, operation: &str) -> Option<&'a Call> {
    calls
        .iter()
        .find(|call| call.service == service && call.operation == operation)
}

#[tokio::test]
async fn vpc_tags_filter_and_call_log() {
    let emulator = Emulator::start().expect("the emulator starts");
    let ec2 = aws_sdk_ec2::Client::new(&sdk_config(&emulator).await);

    let stack_tag = Tag::builder().key("stackd:stack").value("smoke").build();
    let created = ec2
        .create_vpc()
        .cidr_block("10.0.0.0/16")
        .tag_specifications(
            TagSpecification::builder()
                .resource_type(ResourceType::Vpc)
                .tags(stack_tag.clone())
                .build(),
        )
        .send()
        .await
        .expect("CreateVpc succeeds");
    let vpc_id = created
        .vpc()
        .and_then(|vpc| vpc.vpc_id())
        .expect("CreateVpc returns a VPC id")
        .to_owned();

    let described = ec2
        .describe_vpcs()
        .filters(
            Filter::builder()
                .name("tag:stackd:stack")
                .values("smoke")
                .build(),
        )
        .send()
        .await
        .expect("DescribeVpcs succeeds");
    let found: Vec<&str> = described
        .vpcs()
        .iter()
        .filter_map(|vpc| vpc.vpc_id())
        .collect();
    assert_eq!(
        found,
        [vpc_id.as_str()],
        "the tag filter finds exactly the new VPC"
    );
    let tags = described.vpcs()[0].tags();
    assert!(
        tags.contains(&stack_tag),
        "DescribeVpcs returns the tag, got {tags:?}"
    );

    let calls = emulator.calls();
    let create_vpc = find_call(&calls, "ec2", "CreateVpc").expect("the log records CreateVpc");
    assert!(create_vpc.mutating, "CreateVpc is mutating: {create_vpc:?}");
    assert_eq!(
        create_vpc.status,
        Some(200),
        "CreateVpc succeeded: {create_vpc:?}"
    );
    let describe_vpcs =
        find_call(&calls, "ec2", "DescribeVpcs").expect("the log records DescribeVpcs");
    assert!(
        !describe_vpcs.mutating,
        "DescribeVpcs is not mutating: {describe_vpcs:?}"
    );
    let mutating: Vec<String> = emulator
        .mutating_calls()
        .into_iter()
        .map(|call| call.operation)
        .collect();
    assert_eq!(mutating, ["CreateVpc"], "only CreateVpc is mutating");
}

#[tokio::test]
async fn bucket_create_then_head() {
    let emulator = Emulator::start().expect("the emulator starts");
    let s3 = s3_client(&emulator).await;

    // Outside us-east-1, CreateBucket needs the region as location constraint.
    let bucket = "stackd-smoke-bucket";
    s3.create_bucket()
        .bucket(bucket)
        .create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(REGION))
                .build(),
        )
        .send()
        .await
        .expect("CreateBucket succeeds");
    s3.head_bucket()
        .bucket(bucket)
        .send()
        .await
        .expect("HeadBucket finds the new bucket");

    let calls = emulator.calls();
    let create_bucket =
        find_call(&calls, "s3", "CreateBucket").expect("the log records CreateBucket");
    assert!(
        create_bucket.mutating,
        "CreateBucket is mutating: {create_bucket:?}"
    );
    // The Rust SDK sends `/bucket/`, with a trailing slash.
    assert_eq!(
        create_bucket.path.trim_end_matches('/'),
        format!("/{bucket}"),
        "the request is path-style"
    );
    let head_bucket = find_call(&calls, "s3", "HeadBucket").expect("the log records HeadBucket");
    assert!(
        !head_bucket.mutating,
        "HeadBucket is not mutating: {head_bucket:?}"
    );
}

#[tokio::test]
async fn reset_empties_call_log() {
    let emulator = Emulator::start().expect("the emulator starts");
    let ec2 = aws_sdk_ec2::Client::new(&sdk_config(&emulator).await);
    ec2.describe_vpcs()
        .send()
        .await
        .expect("DescribeVpcs succeeds");
    assert_eq!(emulator.calls().len(), 1, "the log records DescribeVpcs");

    emulator.reset_calls();

    assert_eq!(emulator.calls(), [], "reset empties the call log");
}

#[tokio::test]
async fn bucket_versioning_reads_back_in_every_state() {
    use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};

    let emulator = Emulator::start().expect("the emulator starts");
    let s3 = s3_client(&emulator).await;
    s3.create_bucket()
        .bucket("versioned")
        .create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::EuWest3)
                .build(),
        )
        .send()
        .await
        .expect("CreateBucket succeeds");

    let never = s3.get_bucket_versioning().bucket("versioned").send().await;
    assert_eq!(never.expect("never versioned reads back").status(), None);

    for status in [
        BucketVersioningStatus::Enabled,
        BucketVersioningStatus::Suspended,
    ] {
        s3.put_bucket_versioning()
            .bucket("versioned")
            .versioning_configuration(
                VersioningConfiguration::builder()
                    .status(status.clone())
                    .build(),
            )
            .send()
            .await
            .expect("PutBucketVersioning succeeds");
        let read = s3.get_bucket_versioning().bucket("versioned").send().await;
        assert_eq!(read.expect("versioning reads back").status(), Some(&status));
    }
}

/// Creates a VPC and returns its id.
async fn create_vpc(ec2: &aws_sdk_ec2::Client) -> String {
    ec2.create_vpc()
        .cidr_block("10.0.0.0/16")
        .send()
        .await
        .expect("CreateVpc succeeds")
        .vpc
        .and_then(|vpc| vpc.vpc_id)
        .expect("CreateVpc returns the VPC id")
}

#[tokio::test]
async fn ec2_client_token_returns_first_result() {
    let emulator = Emulator::start().expect("the emulator starts");
    let ec2 = aws_sdk_ec2::Client::new(&sdk_config(&emulator).await);
    let vpc = create_vpc(&ec2).await;
    let create = |service: &'static str| {
        ec2.create_vpc_endpoint()
            .vpc_id(&vpc)
            .service_name(service)
            .client_token("token-1")
            .send()
    };

    let first = create("com.amazonaws.eu-west-3.s3")
        .await
        .expect("the first CreateVpcEndpoint succeeds");
    let again = create("com.amazonaws.eu-west-3.s3")
        .await
        .expect("a repeat with the same token and parameters succeeds");
    let mismatch = create("com.amazonaws.eu-west-3.dynamodb")
        .await
        .expect_err("the same token with another service is rejected");

    let id = |output: &aws_sdk_ec2::operation::create_vpc_endpoint::CreateVpcEndpointOutput| {
        output
            .vpc_endpoint
            .as_ref()
            .and_then(|endpoint| endpoint.vpc_endpoint_id.clone())
    };
    assert!(id(&first).is_some(), "{first:?}");
    assert_eq!(
        id(&again),
        id(&first),
        "the repeat returns the first endpoint"
    );
    assert_eq!(
        error_code(&mismatch),
        Some("IdempotentParameterMismatch"),
        "{mismatch:?}"
    );
    let endpoints = ec2
        .describe_vpc_endpoints()
        .send()
        .await
        .expect("DescribeVpcEndpoints succeeds")
        .vpc_endpoints
        .unwrap_or_default();
    assert_eq!(endpoints.len(), 1, "{endpoints:?}");
}

#[tokio::test]
async fn cloudfront_names_and_caller_references_are_unique() {
    use aws_sdk_cloudfront::types::{KeyGroupConfig, PublicKeyConfig};

    let emulator = Emulator::start().expect("the emulator starts");
    let cloudfront = aws_sdk_cloudfront::Client::new(&sdk_config(&emulator).await);
    let pem = "-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----\n";
    let create_key = |name: &str, reference: &str| {
        cloudfront
            .create_public_key()
            .public_key_config(
                PublicKeyConfig::builder()
                    .caller_reference(reference)
                    .name(name)
                    .encoded_key(pem)
                    .build()
                    .unwrap(),
            )
            .send()
    };

    let key = create_key("signer", "ref-1")
        .await
        .expect("the first CreatePublicKey succeeds")
        .public_key
        .expect("CreatePublicKey returns the key")
        .id;
    for (name, reference) in [("signer", "ref-2"), ("other", "ref-1")] {
        let rejected = create_key(name, reference)
            .await
            .expect_err("a second key of the same name or caller reference is rejected");
        assert_eq!(
            error_code(&rejected),
            Some("PublicKeyAlreadyExists"),
            "{name} {reference}: {rejected:?}"
        );
    }

    let group = || {
        cloudfront
            .create_key_group()
            .key_group_config(
                KeyGroupConfig::builder()
                    .name("signers")
                    .items(&key)
                    .build()
                    .unwrap(),
            )
            .send()
    };
    group().await.expect("the first CreateKeyGroup succeeds");
    let rejected = group()
        .await
        .expect_err("a second group of the name is rejected");
    assert_eq!(
        error_code(&rejected),
        Some("KeyGroupAlreadyExists"),
        "{rejected:?}"
    );

    let keys = cloudfront
        .list_public_keys()
        .send()
        .await
        .expect("ListPublicKeys succeeds")
        .public_key_list
        .and_then(|list| list.items)
        .unwrap_or_default();
    assert_eq!(keys.len(), 1, "{keys:?}");
}

#[tokio::test]
async fn elbv2_repeated_creates_return_existing() {
    use aws_sdk_elasticloadbalancingv2::types::{
        Action, ActionTypeEnum, LoadBalancerSchemeEnum, LoadBalancerTypeEnum, ProtocolEnum,
    };

    let emulator = Emulator::start().expect("the emulator starts");
    let config = sdk_config(&emulator).await;
    let ec2 = aws_sdk_ec2::Client::new(&config);
    let elbv2 = aws_sdk_elasticloadbalancingv2::Client::new(&config);
    let vpc = create_vpc(&ec2).await;
    let subnet = ec2
        .create_subnet()
        .vpc_id(&vpc)
        .cidr_block("10.0.0.0/24")
        .availability_zone("eu-west-3a")
        .send()
        .await
        .expect("CreateSubnet succeeds")
        .subnet
        .and_then(|subnet| subnet.subnet_id)
        .expect("CreateSubnet returns the subnet id");
    let create_balancer = || async {
        elbv2
            .create_load_balancer()
            .name("internal")
            .r#type(LoadBalancerTypeEnum::Network)
            .scheme(LoadBalancerSchemeEnum::Internal)
            .subnets(&subnet)
            .send()
            .await
            .expect("CreateLoadBalancer succeeds")
            .load_balancers
            .unwrap_or_default()
            .remove(0)
            .load_balancer_arn
            .expect("CreateLoadBalancer returns the ARN")
    };
    let create_group = || async {
        elbv2
            .create_target_group()
            .name("app")
            .protocol(ProtocolEnum::Tcp)
            .port(8080)
            .vpc_id(&vpc)
            .send()
            .await
            .expect("CreateTargetGroup succeeds")
            .target_groups
            .unwrap_or_default()
            .remove(0)
            .target_group_arn
            .expect("CreateTargetGroup returns the ARN")
    };
    let balancer = create_balancer().await;
    let group = create_group().await;
    assert_eq!(
        create_balancer().await,
        balancer,
        "a repeated CreateLoadBalancer returns the first"
    );
    assert_eq!(
        create_group().await,
        group,
        "a repeated CreateTargetGroup returns the first"
    );
    let create = |protocol: ProtocolEnum| {
        elbv2
            .create_listener()
            .load_balancer_arn(&balancer)
            .protocol(protocol)
            .port(80)
            .default_actions(
                Action::builder()
                    .r#type(ActionTypeEnum::Forward)
                    .target_group_arn(&group)
                    .build(),
            )
            .send()
    };
    let arn = |output: aws_sdk_elasticloadbalancingv2::operation::create_listener::CreateListenerOutput| {
        output
            .listeners
            .unwrap_or_default()
            .first()
            .and_then(|listener| listener.listener_arn.clone())
    };

    let first = arn(create(ProtocolEnum::Tcp)
        .await
        .expect("the first CreateListener succeeds"));
    let again = arn(create(ProtocolEnum::Tcp)
        .await
        .expect("a repeat with the same settings succeeds"));
    let rejected = create(ProtocolEnum::Udp)
        .await
        .expect_err("another protocol on the same port is rejected");

    assert!(first.is_some());
    assert_eq!(again, first, "the repeat returns the first listener");
    assert_eq!(
        error_code(&rejected),
        Some("DuplicateListener"),
        "{rejected:?}"
    );
    let listeners = elbv2
        .describe_listeners()
        .load_balancer_arn(&balancer)
        .send()
        .await
        .expect("DescribeListeners succeeds")
        .listeners
        .unwrap_or_default();
    assert_eq!(listeners.len(), 1, "{listeners:?}");
}

#[tokio::test]
async fn bucket_created_with_its_tags() {
    let emulator = Emulator::start().expect("the emulator starts");
    let s3 = s3_client(&emulator).await;
    let tag = |key: &str, value: &str| {
        aws_sdk_s3::types::Tag::builder()
            .key(key)
            .value(value)
            .build()
            .unwrap()
    };

    s3.create_bucket()
        .bucket("stackd-tagged-bucket")
        .create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(REGION))
                .tags(tag("stackd:stack", "smoke"))
                .tags(tag("stackd:id", "bucket/tagged"))
                .build(),
        )
        .send()
        .await
        .expect("CreateBucket succeeds");

    let tags: Vec<(String, String)> = s3
        .get_bucket_tagging()
        .bucket("stackd-tagged-bucket")
        .send()
        .await
        .expect("GetBucketTagging succeeds")
        .tag_set
        .into_iter()
        .map(|tag| (tag.key, tag.value))
        .collect();
    assert_eq!(
        tags,
        [
            ("stackd:stack".to_owned(), "smoke".to_owned()),
            ("stackd:id".to_owned(), "bucket/tagged".to_owned()),
        ]
    );
}
