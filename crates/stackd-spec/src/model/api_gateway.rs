//! API Gateway HTTP APIs with a JWT authorizer and a private integration through a VPC link.

use serde::Serialize;

use super::ListenerRef;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpApi {
    pub id: String,
    pub name: String,
    pub cors: Option<Cors>,
    pub jwt_authorizer: Option<JwtAuthorizer>,
    pub vpc_link: VpcLink,
    /// The private integration that every route uses.
    pub integration: Integration,
    pub routes: Vec<ApiRoute>,
    pub stage: Stage,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Cors {
    /// `*` or origins such as `https://app.example.com`.
    pub allow_origins: Vec<String>,
    pub allow_methods: Vec<String>,
    pub allow_headers: Vec<String>,
    pub expose_headers: Vec<String>,
    pub allow_credentials: bool,
    /// Seconds, at most 86400.
    pub max_age_seconds: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JwtAuthorizer {
    pub name: String,
    /// HTTPS URL of the token issuer.
    pub issuer: String,
    /// At least one accepted `aud` value.
    pub audience: Vec<String>,
    /// Such as `$request.header.Authorization`, the default.
    pub identity_source: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VpcLink {
    /// Logical ids of subnets.
    pub subnets: Vec<String>,
    /// Logical ids of security groups.
    pub security_groups: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Integration {
    /// Listener of a load balancer of the stack.
    pub listener: ListenerRef,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiRoute {
    pub key: RouteKey,
    /// Whether the route skips the JWT authorizer.
    pub public: bool,
}

/// Route key of an HTTP API.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum RouteKey {
    /// `$default`: requests that match no other route.
    Default,
    /// `METHOD /path`, where the method is `ANY` or an upper-case HTTP method.
    Route { method: String, path: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Stage {
    /// `$default` unless the file names another stage.
    pub name: String,
    pub throttling: Option<Throttling>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Throttling {
    /// Steady-state requests per second. Whole numbers only, although AWS accepts fractions.
    pub rate_limit: u32,
    /// Maximum concurrent requests.
    pub burst_limit: u32,
}

impl std::fmt::Display for RouteKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RouteKey::Default => f.write_str("$default"),
            RouteKey::Route { method, path } => write!(f, "{method} {path}"),
        }
    }
}
