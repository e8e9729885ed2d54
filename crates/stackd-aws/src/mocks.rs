//! Helpers for tests that play AWS responses with aws-smithy-mocks.

use std::time::Duration;

/// Builds a client of an AWS SDK crate that answers from the given rules (matched in
/// any order), retries like the SDK's standard mode, and never sleeps between tries.
///
/// `mock_client!` of aws-smithy-mocks does the same but needs the `test-util` feature
/// of each SDK crate, which would compile the crate a second time.
macro_rules! mock_client {
    ($sdk:ident, [$($rule:expr),* $(,)?]) => {{
        let mut interceptor = aws_smithy_mocks::MockResponseInterceptor::new()
            .rule_mode(aws_smithy_mocks::RuleMode::MatchAny);
        $(interceptor = interceptor.with_rule($rule);)*
        let config = $sdk::Config::builder()
            .behavior_version($sdk::config::BehaviorVersion::latest())
            .region($sdk::config::Region::new("eu-west-3"))
            .credentials_provider($sdk::config::Credentials::new(
                "AKIDTEST", "secret", None, None, "mocks",
            ))
            .http_client(aws_smithy_mocks::create_mock_http_client())
            .interceptor(interceptor)
            .retry_config($sdk::config::retry::RetryConfig::standard().with_max_attempts(3))
            .sleep_impl($sdk::config::SharedAsyncSleep::new($crate::mocks::NoSleep))
            .build();
        $sdk::Client::from_conf(config)
    }};
}
pub(crate) use mock_client;

/// A sleep that ends at once, so that retries in tests take no time.
#[derive(Debug)]
pub(crate) struct NoSleep;

impl aws_sdk_cloudfront::config::AsyncSleep for NoSleep {
    fn sleep(&self, _duration: Duration) -> aws_sdk_cloudfront::config::Sleep {
        aws_sdk_cloudfront::config::Sleep::new(std::future::ready(()))
    }
}

/// Returns AWS clients that send nothing: building them makes no call.
pub(crate) fn offline_clients() -> crate::clients::AwsClients {
    let config = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .build();
    crate::clients::AwsClients::from_config(&config, false)
}
