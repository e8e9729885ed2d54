//! IAM roles, users and their policies.

use serde::Serialize;

use super::Template;

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Iam {
    pub roles: Vec<Role>,
    pub users: Vec<User>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Role {
    pub id: String,
    pub name: String,
    /// Service principals in the trust policy, such as `ecs-tasks.amazonaws.com`.
    pub trusted_services: Vec<String>,
    /// ARNs of managed policies to attach.
    pub managed_policies: Vec<String>,
    pub inline_policies: Vec<InlinePolicy>,
    /// Whether an instance profile of the same name carries the role to EC2 instances.
    pub instance_profile: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub id: String,
    pub name: String,
    pub managed_policies: Vec<String>,
    pub inline_policies: Vec<InlinePolicy>,
    /// Secrets Manager secret name that stores the user's only access key, if it has one.
    pub access_key_secret: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InlinePolicy {
    pub name: String,
    pub statements: Vec<PolicyStatement>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyStatement {
    pub effect: Effect,
    /// Actions such as `s3:GetObject`, with `*` wildcards allowed.
    pub actions: Vec<String>,
    /// Resource ARNs, which may name buckets of the stack through interpolations.
    pub resources: Vec<Template>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Effect {
    Allow,
    Deny,
}
