//! The fault proxy between the Rust SDK and the emulator: counts, throttling
//! errors as the SDK reads them, and lost responses that still take effect.

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_ec2::config::Credentials;
use aws_sdk_ec2::error::ProvideErrorMetadata;
use stackd_tests::Emulator;
use stackd_tests::proxy::{Fault, Proxy, ProxyConfig};

/// SDK configuration that sends every request to `endpoint` and never retries,
/// so that each fault reaches the test.
async fn sdk_config(endpoint: String) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region("eu-west-3")
        .credentials_provider(Credentials::new(
            "testing",
            "testing",
            None,
            None,
            "stackd-tests",
        ))
        .retry_config(RetryConfig::disabled())
        .load()
        .await
}

fn only(fault: Fault) -> ProxyConfig {
    ProxyConfig {
        fault_rate: 1.0,
        faults: vec![fault],
        ..ProxyConfig::default()
    }
}

#[tokio::test]
async fn proxy_forwards_and_counts_calls() {
    let emulator = Emulator::start().expect("the emulator starts");
    let proxy = Proxy::start(&emulator.endpoint(), ProxyConfig::default()).unwrap();
    let config = sdk_config(proxy.endpoint()).await;
    let ec2 = aws_sdk_ec2::Client::new(&config);
    let s3 = aws_sdk_s3::Client::new(&config);

    ec2.describe_vpcs()
        .send()
        .await
        .expect("DescribeVpcs passes");
    ec2.describe_vpcs()
        .send()
        .await
        .expect("DescribeVpcs passes");
    s3.list_buckets().send().await.expect("ListBuckets passes");

    let counts = proxy.counts();
    assert_eq!(counts.get(&("ec2".into(), "DescribeVpcs".into())), Some(&2));
    assert_eq!(counts.get(&("s3".into(), "ListBuckets".into())), Some(&1));
    assert!(proxy.faults().is_empty());
}

#[tokio::test]
async fn throttling_reaches_sdk_as_throttling() {
    let emulator = Emulator::start().expect("the emulator starts");
    let proxy = Proxy::start(&emulator.endpoint(), only(Fault::Throttling)).unwrap();
    let config = sdk_config(proxy.endpoint()).await;

    let ec2_error = aws_sdk_ec2::Client::new(&config)
        .describe_vpcs()
        .send()
        .await
        .expect_err("the proxy throttles DescribeVpcs");
    assert_eq!(ec2_error.code(), Some("RequestLimitExceeded"));

    let s3_error = aws_sdk_s3::Client::new(&config)
        .list_buckets()
        .send()
        .await
        .expect_err("the proxy throttles ListBuckets");
    assert_eq!(s3_error.code(), Some("SlowDown"));

    assert_eq!(proxy.faults().get(&Fault::Throttling), Some(&2));
    assert!(
        emulator.calls().is_empty(),
        "throttled calls never reach the emulator"
    );
}

#[tokio::test]
async fn lost_response_still_takes_effect() {
    let emulator = Emulator::start().expect("the emulator starts");
    let proxy = Proxy::start(&emulator.endpoint(), only(Fault::ResponseLost)).unwrap();
    let lossy = aws_sdk_ec2::Client::new(&sdk_config(proxy.endpoint()).await);
    let direct = aws_sdk_ec2::Client::new(&sdk_config(emulator.endpoint()).await);

    let error = lossy
        .create_vpc()
        .cidr_block("10.9.0.0/16")
        .send()
        .await
        .expect_err("the response to CreateVpc is lost");
    assert!(
        matches!(
            error,
            aws_sdk_ec2::error::SdkError::DispatchFailure(_)
                | aws_sdk_ec2::error::SdkError::ResponseError(_)
        ),
        "the client sees a broken connection: {error:?}"
    );

    let vpcs = direct.describe_vpcs().send().await.unwrap();
    assert!(
        vpcs.vpcs()
            .iter()
            .any(|vpc| vpc.cidr_block() == Some("10.9.0.0/16")),
        "the VPC exists although its response was lost"
    );
}

#[tokio::test]
async fn connection_reset_never_reaches_emulator() {
    let emulator = Emulator::start().expect("the emulator starts");
    let proxy = Proxy::start(&emulator.endpoint(), only(Fault::ConnectionReset)).unwrap();
    let ec2 = aws_sdk_ec2::Client::new(&sdk_config(proxy.endpoint()).await);

    let error = ec2
        .create_vpc()
        .cidr_block("10.8.0.0/16")
        .send()
        .await
        .expect_err("the connection is reset");
    assert!(
        matches!(
            error,
            aws_sdk_ec2::error::SdkError::DispatchFailure(_)
                | aws_sdk_ec2::error::SdkError::ResponseError(_)
        ),
        "the client sees a broken connection: {error:?}"
    );
    assert!(emulator.mutating_calls().is_empty());
}
