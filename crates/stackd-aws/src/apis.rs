//! Names of the api node that the distribution component reads. The api itself (an
//! API Gateway HTTP API with its JWT authorizer, VPC link, private integration,
//! routes and stage) is still listed as unsupported by the graph.

/// The kind name of api nodes in the graph.
pub const KIND: &str = "api";

/// Output keys that dependents read.
pub mod outputs {
    /// The API's default domain, such as `a1b2c3d4e5.execute-api.eu-west-3.amazonaws.com`.
    pub const ENDPOINT: &str = "endpoint";
}
