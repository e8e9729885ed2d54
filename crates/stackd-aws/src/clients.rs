//! AWS SDK clients built from the standard configuration chain.

use crate::call_counter::AwsCallCounter;
use aws_config::BehaviorVersion;
use aws_config::environment::EnvironmentVariableCredentialsProvider;
use aws_config::meta::credentials::CredentialsProviderChain;
use aws_config::profile::ProfileFileCredentialsProvider;
use aws_types::region::Region;

/// Region and endpoint of the clients.
#[derive(Debug, Clone, Default)]
pub struct ClientOptions {
    /// Region of the stack; the file sets it, and it overrides the environment.
    pub region: String,
    /// One endpoint for every service, such as the local emulator's
    /// `http://127.0.0.1:5000`. `None` uses AWS's own endpoints.
    pub endpoint_url: Option<String>,
    /// Counter registered on every client, shared with the code that renders it.
    pub calls: AwsCallCounter,
}

/// Builds a client of the SDK crate `$sdk` from `$config`, with the call
/// counter `$calls` registered as an interceptor.
macro_rules! counted_client {
    ($sdk:ident, $config:expr, $calls:expr) => {
        $sdk::Client::from_conf(
            $sdk::config::Builder::from($config)
                .interceptor($calls.clone())
                .build(),
        )
    };
}

/// One client per AWS service that stackd calls.
#[derive(Debug, Clone)]
pub struct AwsClients {
    pub autoscaling: aws_sdk_autoscaling::Client,
    pub apigatewayv2: aws_sdk_apigatewayv2::Client,
    pub cloudfront: aws_sdk_cloudfront::Client,
    pub ec2: aws_sdk_ec2::Client,
    pub ecs: aws_sdk_ecs::Client,
    pub elbv2: aws_sdk_elasticloadbalancingv2::Client,
    pub elasticache: aws_sdk_elasticache::Client,
    pub s3: aws_sdk_s3::Client,
    pub sts: aws_sdk_sts::Client,
    pub iam: aws_sdk_iam::Client,
    pub ssm: aws_sdk_ssm::Client,
    pub secretsmanager: aws_sdk_secretsmanager::Client,
}

impl AwsClients {
    /// Loads credentials and settings from the standard chain (environment,
    /// profile, instance role) and builds the clients. With a custom endpoint,
    /// only the environment and profile provide credentials.
    pub async fn load(options: &ClientOptions) -> Self {
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(options.region.clone()));
        if let Some(url) = &options.endpoint_url {
            // An emulator takes the credentials of the environment or a profile.
            // The instance-metadata and container providers are left out, so that
            // a run against an emulator never calls a metadata address.
            let chain = CredentialsProviderChain::first_try(
                "Environment",
                EnvironmentVariableCredentialsProvider::new(),
            )
            .or_else("Profile", ProfileFileCredentialsProvider::builder().build());
            loader = loader.endpoint_url(url).credentials_provider(chain);
        }
        let config = loader.load().await;
        Self::counted(&config, options.endpoint_url.is_some(), &options.calls)
    }

    /// Builds the clients from a loaded configuration, each counting its calls
    /// into a counter of its own.
    pub fn from_config(config: &aws_config::SdkConfig, custom_endpoint: bool) -> Self {
        Self::counted(config, custom_endpoint, &AwsCallCounter::new())
    }

    /// Builds the clients from a loaded configuration, each counting its calls
    /// into `calls`. A custom endpoint serves every bucket on one host, so S3
    /// then uses path-style addressing.
    pub fn counted(
        config: &aws_config::SdkConfig,
        custom_endpoint: bool,
        calls: &AwsCallCounter,
    ) -> Self {
        let s3_config = aws_sdk_s3::config::Builder::from(config)
            .force_path_style(custom_endpoint)
            .interceptor(calls.clone())
            .build();
        AwsClients {
            autoscaling: counted_client!(aws_sdk_autoscaling, config, calls),
            apigatewayv2: counted_client!(aws_sdk_apigatewayv2, config, calls),
            cloudfront: counted_client!(aws_sdk_cloudfront, config, calls),
            ec2: counted_client!(aws_sdk_ec2, config, calls),
            ecs: counted_client!(aws_sdk_ecs, config, calls),
            elbv2: counted_client!(aws_sdk_elasticloadbalancingv2, config, calls),
            elasticache: counted_client!(aws_sdk_elasticache, config, calls),
            s3: aws_sdk_s3::Client::from_conf(s3_config),
            sts: counted_client!(aws_sdk_sts, config, calls),
            iam: counted_client!(aws_sdk_iam, config, calls),
            ssm: counted_client!(aws_sdk_ssm, config, calls),
            secretsmanager: counted_client!(aws_sdk_secretsmanager, config, calls),
        }
    }
}
