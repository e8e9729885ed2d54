//! The iam component: roles with their trust, managed and inline policies, the
//! instance profiles that carry roles to EC2, and users with their policies.
//!
//! IAM names are unique in an account, so each resource is found by its name,
//! and the `stackd:stack` and `stackd:id` tags tell whether it is ours. IAM is
//! global: the component makes no regional call.

mod apply;
mod diff;
mod observe;
pub(crate) mod policy;

use crate::clients::AwsClients;
use crate::tags::{ID_TAG, STACK_TAG, Tagger};
use async_trait::async_trait;
use serde_json::Value;
use stackd_engine::{Component, ComponentError, ComponentId, Inputs, Outputs, Planned, Readiness};
use stackd_spec::model::{Iam, InlinePolicy};
use std::collections::{BTreeMap, BTreeSet};

pub use diff::Action;
pub use policy::TemplateValues;

/// The kind name of the iam node in the graph.
pub const KIND: &str = "iam";

/// Logical ids, as written in each resource's `stackd:id` tag.
pub(crate) mod ids {
    pub fn role(id: &str) -> String {
        format!("role/{id}")
    }
    pub fn instance_profile(role: &str) -> String {
        format!("instance-profile/{role}")
    }
    pub fn user(id: &str) -> String {
        format!("user/{id}")
    }
}

/// Output keys that dependents read.
pub mod outputs {
    pub fn role_arn(id: &str) -> String {
        format!("role.{id}.arn")
    }
    pub fn role_name(id: &str) -> String {
        format!("role.{id}.name")
    }
    /// Returns the key of the ARN of a role's instance profile, named by the role's id.
    pub fn instance_profile_arn(role: &str) -> String {
        format!("instance-profile.{role}.arn")
    }
    pub fn user_arn(id: &str) -> String {
        format!("user.{id}.arn")
    }
}

/// A role as the file wants it, with its policy documents rendered and canonical.
#[derive(Debug, Clone, PartialEq)]
pub struct DesiredRole {
    pub id: String,
    pub name: String,
    pub trust_policy: Value,
    pub managed_policies: BTreeSet<String>,
    /// Canonical documents by policy name.
    pub inline_policies: BTreeMap<String, Value>,
    /// Whether an instance profile of the same name carries the role.
    pub instance_profile: bool,
}

/// A user as the file wants it, with its policy documents rendered and canonical.
#[derive(Debug, Clone, PartialEq)]
pub struct DesiredUser {
    pub id: String,
    pub name: String,
    pub managed_policies: BTreeSet<String>,
    /// Canonical documents by policy name.
    pub inline_policies: BTreeMap<String, Value>,
    /// Secrets Manager secret meant to store the user's access key.
    pub access_key_secret: Option<String>,
}

/// Every role and user of the stack, in the order of the file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DesiredIam {
    pub roles: Vec<DesiredRole>,
    pub users: Vec<DesiredUser>,
}

impl DesiredIam {
    /// Renders the file's roles and users. The second value lists the policies
    /// whose resources cannot be rendered, one message each.
    pub fn render(iam: &Iam, values: &TemplateValues) -> (DesiredIam, Vec<String>) {
        let mut invalid = Vec::new();
        let mut documents = |owner: String, policies: &[InlinePolicy]| {
            let mut rendered = BTreeMap::new();
            for policy in policies {
                match policy::inline_policy(&policy.statements, values) {
                    Ok(document) => {
                        rendered.insert(policy.name.clone(), document);
                    }
                    Err(reason) => {
                        invalid.push(format!("{owner} inline policy {}: {reason}", policy.name));
                    }
                }
            }
            rendered
        };

        let roles = iam
            .roles
            .iter()
            .map(|role| DesiredRole {
                id: role.id.clone(),
                name: role.name.clone(),
                trust_policy: policy::trust_policy(&role.trusted_services),
                managed_policies: role.managed_policies.iter().cloned().collect(),
                inline_policies: documents(ids::role(&role.id), &role.inline_policies),
                instance_profile: role.instance_profile,
            })
            .collect();
        let users = iam
            .users
            .iter()
            .map(|user| DesiredUser {
                id: user.id.clone(),
                name: user.name.clone(),
                managed_policies: user.managed_policies.iter().cloned().collect(),
                inline_policies: documents(ids::user(&user.id), &user.inline_policies),
                access_key_secret: user.access_key_secret.clone(),
            })
            .collect();
        (DesiredIam { roles, users }, invalid)
    }

    fn role(&self, id: &str) -> Result<&DesiredRole, ComponentError> {
        self.roles
            .iter()
            .find(|role| role.id == id)
            .ok_or_else(|| ComponentError::Unexpected(format!("role {id} is not in the file")))
    }

    fn user(&self, id: &str) -> Result<&DesiredUser, ComponentError> {
        self.users
            .iter()
            .find(|user| user.id == id)
            .ok_or_else(|| ComponentError::Unexpected(format!("user {id} is not in the file")))
    }
}

/// Live state of the stack's IAM resources, each map keyed by the id in the file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IamLive {
    pub roles: BTreeMap<String, LiveRole>,
    /// Instance profiles keyed by the id of the role they are named after.
    pub instance_profiles: BTreeMap<String, LiveInstanceProfile>,
    pub users: BTreeMap<String, LiveUser>,
}

/// A role found by its name. Its tags tell whether it belongs to this stack.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveRole {
    pub arn: String,
    /// Canonical trust policy.
    pub trust_policy: Value,
    pub managed_policies: BTreeSet<String>,
    /// Canonical documents by policy name.
    pub inline_policies: BTreeMap<String, Value>,
    pub tags: BTreeMap<String, String>,
}

/// An instance profile found by its name. Its tags tell whether it belongs to this stack.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveInstanceProfile {
    pub arn: String,
    /// Names of the roles in the profile. IAM allows at most one.
    pub roles: Vec<String>,
    pub tags: BTreeMap<String, String>,
}

/// A user found by its name. Its tags tell whether it belongs to this stack.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveUser {
    pub arn: String,
    pub managed_policies: BTreeSet<String>,
    /// Canonical documents by policy name.
    pub inline_policies: BTreeMap<String, Value>,
    pub tags: BTreeMap<String, String>,
}

/// Returns whether a resource carries this stack's identity tags for `logical_id`.
fn is_owned(tags: &BTreeMap<String, String>, tagger: &Tagger, logical_id: &str) -> bool {
    tags.get(STACK_TAG).map(String::as_str) == Some(tagger.stack())
        && tags.get(ID_TAG).map(String::as_str) == Some(logical_id)
}

/// Reconciles the stack's IAM roles, instance profiles and users.
#[derive(Debug)]
pub struct IamComponent {
    clients: AwsClients,
    tagger: Tagger,
    desired: DesiredIam,
    /// Messages for the policies whose resources cannot be rendered. While any is
    /// listed, the component is blocked, so no live policy is replaced by a wrong one.
    invalid: Vec<String>,
}

impl IamComponent {
    pub fn new(clients: AwsClients, tagger: Tagger, iam: &Iam, values: &TemplateValues) -> Self {
        let (desired, invalid) = DesiredIam::render(iam, values);
        IamComponent {
            clients,
            tagger,
            desired,
            invalid,
        }
    }
}

#[async_trait]
impl Component for IamComponent {
    type Live = IamLive;
    type Action = Action;

    fn id(&self) -> ComponentId {
        ComponentId::single(KIND)
    }

    /// Nothing: bucket ARNs in policies are computed from the bucket names.
    fn needs(&self) -> Vec<ComponentId> {
        Vec::new()
    }

    async fn observe(&self) -> Result<IamLive, ComponentError> {
        if !self.invalid.is_empty() {
            return Err(ComponentError::Blocked(self.invalid.join("; ")));
        }
        observe::observe(&self.clients.iam, &self.desired).await
    }

    fn diff(&self, live: &IamLive, _inputs: &Inputs) -> Vec<Planned<Action>> {
        diff::diff(&self.desired, &self.tagger, live)
    }

    async fn apply(
        &self,
        _live: &IamLive,
        actions: Vec<Action>,
        _inputs: &Inputs,
    ) -> Result<(), ComponentError> {
        apply::apply(&self.clients.iam, &self.desired, &self.tagger, actions).await
    }

    /// Publishes the ARNs that AWS returned, for the resources that are ours only.
    fn outputs(&self, live: &IamLive) -> Outputs {
        let mut outputs = Outputs::new();
        for role in &self.desired.roles {
            if let Some(found) = live.roles.get(&role.id)
                && is_owned(&found.tags, &self.tagger, &ids::role(&role.id))
            {
                outputs.insert(outputs::role_arn(&role.id), found.arn.clone());
                outputs.insert(outputs::role_name(&role.id), role.name.clone());
            }
            if let Some(found) = live.instance_profiles.get(&role.id)
                && is_owned(&found.tags, &self.tagger, &ids::instance_profile(&role.id))
            {
                outputs.insert(outputs::instance_profile_arn(&role.id), found.arn.clone());
            }
        }
        for user in &self.desired.users {
            if let Some(found) = live.users.get(&user.id)
                && is_owned(&found.tags, &self.tagger, &ids::user(&user.id))
            {
                outputs.insert(outputs::user_arn(&user.id), found.arn.clone());
            }
        }
        outputs
    }

    /// Reports Ready, because IAM resources have no pending state. A role that EC2
    /// or ECS cannot see yet shows up as a failed call of a dependent, which the engine retries.
    fn readiness(&self, _live: &IamLive) -> Readiness {
        Readiness::Ready
    }
}

#[cfg(test)]
mod tests;
