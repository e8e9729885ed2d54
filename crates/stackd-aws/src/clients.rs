//! AWS SDK clients built from the standard configuration chain.

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
        Self::from_config(&config, options.endpoint_url.is_some())
    }

    /// Builds the clients from a loaded configuration. A custom endpoint serves
    /// every bucket on one host, so S3 then uses path-style addressing.
    pub fn from_config(config: &aws_config::SdkConfig, custom_endpoint: bool) -> Self {
        let s3_config = aws_sdk_s3::config::Builder::from(config)
            .force_path_style(custom_endpoint)
            .build();
        AwsClients {
            autoscaling: aws_sdk_autoscaling::Client::new(config),
            apigatewayv2: aws_sdk_apigatewayv2::Client::new(config),
            cloudfront: aws_sdk_cloudfront::Client::new(config),
            ec2: aws_sdk_ec2::Client::new(config),
            ecs: aws_sdk_ecs::Client::new(config),
            elbv2: aws_sdk_elasticloadbalancingv2::Client::new(config),
            elasticache: aws_sdk_elasticache::Client::new(config),
            s3: aws_sdk_s3::Client::from_conf(s3_config),
            sts: aws_sdk_sts::Client::new(config),
            iam: aws_sdk_iam::Client::new(config),
            ssm: aws_sdk_ssm::Client::new(config),
            secretsmanager: aws_sdk_secretsmanager::Client::new(config),
        }
    }
}
