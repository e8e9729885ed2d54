//! The api component: one API Gateway HTTP API with its CORS configuration, JWT
//! authorizer, VPC link, private integration to a load balancer listener, routes and
//! stage.
//!
//! The API and the VPC link carry the `stackd:stack` and `stackd:id` tags from their
//! create call on, and are found by those tags. API Gateway takes no client token, so
//! the SDK does not retry these two creates: a retried request whose first try took
//! effect would make a second copy, while the next pass finds the first by its tags.
//! The children of the API cannot be tagged and are found inside it: the authorizer
//! by name, the integration by its description, the routes by route key (unique in
//! an API) and the stage by name.

mod apply;
mod diff;
mod observe;

use crate::clients::AwsClients;
use crate::tags::Tagger;
use crate::{load_balancers, network, security_groups};
use async_trait::async_trait;
use stackd_engine::{Component, ComponentError, ComponentId, Inputs, Outputs, Planned, Readiness};
use stackd_spec::model::HttpApi;
use std::collections::{BTreeMap, BTreeSet};

pub use diff::Action;

/// The kind name of api nodes in the graph.
pub const KIND: &str = "api";

/// Output keys that dependents read.
pub mod outputs {
    /// The API's default domain, such as `a1b2c3d4e5.execute-api.eu-west-3.amazonaws.com`.
    pub const ENDPOINT: &str = "endpoint";
    pub const ID: &str = "id";
}

/// Logical ids of the resources of one API, as written in the `stackd:id` tag of the
/// taggable ones and shown in plans.
pub(crate) mod ids {
    pub fn api(id: &str) -> String {
        format!("api/{id}")
    }
    pub fn vpc_link(id: &str) -> String {
        format!("vpc-link/{id}")
    }
    pub fn authorizer(id: &str) -> String {
        format!("authorizer/{id}")
    }
    pub fn integration(id: &str) -> String {
        format!("integration/{id}")
    }
    pub fn route(id: &str, key: &str) -> String {
        format!("route/{id}/{key}")
    }
    pub fn stage(id: &str, name: &str) -> String {
        format!("stage/{id}/{name}")
    }
}

/// The VPC link status in which integrations can use the link.
pub(crate) const VPC_LINK_AVAILABLE: &str = "AVAILABLE";

/// Live state of one HTTP API and its parts. The children are empty or `None`
/// while the API does not exist.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ApiLive {
    pub api: Option<LiveApi>,
    pub vpc_link: Option<LiveVpcLink>,
    pub authorizer: Option<LiveAuthorizer>,
    pub integration: Option<LiveIntegration>,
    /// Every route of the API, in the order API Gateway returns them.
    pub routes: Vec<LiveRoute>,
    pub stage: Option<LiveStage>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LiveApi {
    pub id: String,
    pub arn: String,
    /// The default endpoint without its scheme.
    pub endpoint: String,
    pub name: String,
    /// `HTTP` or `WEBSOCKET`.
    pub protocol_type: String,
    pub cors: Option<CanonicalCors>,
    pub tags: BTreeMap<String, String>,
}

/// A CORS configuration in the form that compares equal whenever API Gateway treats
/// two configurations alike: lists become sets, methods upper case and header names
/// lower case (API Gateway returns header names in lower case).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CanonicalCors {
    pub allow_origins: BTreeSet<String>,
    pub allow_methods: BTreeSet<String>,
    pub allow_headers: BTreeSet<String>,
    pub expose_headers: BTreeSet<String>,
    pub allow_credentials: bool,
    pub max_age_seconds: Option<i32>,
}

impl CanonicalCors {
    /// Builds the canonical form from the fields as written or as returned.
    pub fn new(
        origins: &[String],
        methods: &[String],
        headers: &[String],
        expose_headers: &[String],
        allow_credentials: bool,
        max_age_seconds: Option<i32>,
    ) -> Self {
        CanonicalCors {
            allow_origins: origins.iter().cloned().collect(),
            allow_methods: methods.iter().map(|method| method.to_uppercase()).collect(),
            allow_headers: headers.iter().map(|header| header.to_lowercase()).collect(),
            expose_headers: expose_headers
                .iter()
                .map(|header| header.to_lowercase())
                .collect(),
            allow_credentials,
            max_age_seconds,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct LiveVpcLink {
    pub id: String,
    pub arn: String,
    pub name: String,
    /// `PENDING`, `AVAILABLE`, `DELETING`, `FAILED` or `INACTIVE`.
    pub status: String,
    pub status_message: Option<String>,
    pub subnet_ids: BTreeSet<String>,
    pub security_group_ids: BTreeSet<String>,
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveAuthorizer {
    pub id: String,
    pub name: String,
    /// `JWT` or `REQUEST`.
    pub authorizer_type: String,
    pub identity_source: Vec<String>,
    pub issuer: Option<String>,
    pub audience: BTreeSet<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveIntegration {
    pub id: String,
    pub integration_type: String,
    pub connection_type: String,
    pub connection_id: Option<String>,
    pub integration_uri: Option<String>,
    pub integration_method: Option<String>,
    pub payload_format_version: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveRoute {
    pub id: String,
    pub route_key: String,
    /// `NONE`, `JWT`, `AWS_IAM` or `CUSTOM`.
    pub authorization_type: String,
    pub authorizer_id: Option<String>,
    /// Such as `integrations/abc123`.
    pub target: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LiveStage {
    pub name: String,
    pub auto_deploy: bool,
    /// Requests per second of the default route settings.
    pub throttling_rate_limit: Option<f64>,
    pub throttling_burst_limit: Option<i32>,
}

/// The AWS ids that the API reads from its dependencies' outputs. A value whose
/// resource does not exist yet is missing, and `complete` is then false.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Placement {
    pub subnets: BTreeSet<String>,
    pub security_groups: BTreeSet<String>,
    pub listener_arn: Option<String>,
    pub complete: bool,
}

impl Placement {
    fn resolve(desired: &HttpApi, inputs: &Inputs) -> Self {
        let network_id = ComponentId::single(network::KIND);
        let groups_id = ComponentId::single(security_groups::KIND);
        let listener = &desired.integration.listener;
        let balancer_id = ComponentId::named(load_balancers::KIND, &listener.load_balancer);
        let subnets: Vec<Option<&str>> = desired
            .vpc_link
            .subnets
            .iter()
            .map(|subnet| inputs.get(&network_id, &network::outputs::subnet_id(subnet)))
            .collect();
        let groups: Vec<Option<&str>> = desired
            .vpc_link
            .security_groups
            .iter()
            .map(|group| inputs.get(&groups_id, &security_groups::group_id_output(group)))
            .collect();
        let listener_arn = inputs
            .get(
                &balancer_id,
                &load_balancers::outputs::listener_arn(&listener.listener),
            )
            .map(str::to_owned);
        Placement {
            complete: listener_arn.is_some()
                && subnets.iter().all(Option::is_some)
                && groups.iter().all(Option::is_some),
            listener_arn,
            subnets: subnets.into_iter().flatten().map(str::to_owned).collect(),
            security_groups: groups.into_iter().flatten().map(str::to_owned).collect(),
        }
    }
}

/// Reconciles one HTTP API and everything inside it.
#[derive(Debug)]
pub struct ApiComponent {
    clients: AwsClients,
    tagger: Tagger,
    desired: HttpApi,
}

impl ApiComponent {
    pub fn new(clients: AwsClients, tagger: Tagger, desired: HttpApi) -> Self {
        ApiComponent {
            clients,
            tagger,
            desired,
        }
    }

    /// Name of the VPC link, which the file does not set.
    fn vpc_link_name(&self) -> String {
        format!("{}-vpc-link", self.desired.name)
    }

    /// Description that marks the integration as the one stackd manages.
    fn integration_description(&self) -> String {
        format!(
            "Managed by stackd: {} {}",
            self.tagger.stack(),
            ids::integration(&self.desired.id)
        )
    }
}

#[async_trait]
impl Component for ApiComponent {
    type Live = ApiLive;
    type Action = Action;

    fn id(&self) -> ComponentId {
        ComponentId::named(KIND, &self.desired.id)
    }

    fn needs(&self) -> Vec<ComponentId> {
        vec![
            ComponentId::single(network::KIND),
            ComponentId::single(security_groups::KIND),
            ComponentId::named(
                load_balancers::KIND,
                &self.desired.integration.listener.load_balancer,
            ),
        ]
    }

    async fn observe(&self) -> Result<ApiLive, ComponentError> {
        observe::observe(self).await
    }

    fn diff(&self, live: &ApiLive, inputs: &Inputs) -> Vec<Planned<Action>> {
        diff::diff(self, live, &Placement::resolve(&self.desired, inputs))
    }

    async fn apply(
        &self,
        live: &ApiLive,
        actions: Vec<Action>,
        inputs: &Inputs,
    ) -> Result<(), ComponentError> {
        let placement = Placement::resolve(&self.desired, inputs);
        apply::apply(self, live, &placement, actions).await
    }

    fn outputs(&self, live: &ApiLive) -> Outputs {
        let mut outputs = Outputs::new();
        if let Some(api) = &live.api {
            outputs.insert(outputs::ID.to_owned(), api.id.clone());
            outputs.insert(outputs::ENDPOINT.to_owned(), api.endpoint.clone());
        }
        outputs
    }

    fn readiness(&self, live: &ApiLive) -> Readiness {
        match &live.vpc_link {
            Some(link) if link.status != VPC_LINK_AVAILABLE => Readiness::Progressing(format!(
                "{} is {}{}",
                ids::vpc_link(&self.desired.id),
                link.status,
                link.status_message
                    .as_deref()
                    .map(|message| format!(": {message}"))
                    .unwrap_or_default()
            )),
            _ => Readiness::Ready,
        }
    }
}

#[cfg(test)]
mod tests;
