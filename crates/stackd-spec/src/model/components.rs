//! The units that stackd reconciles one by one, named as plans, alerts and drift policies name them.

use serde::Serialize;
use serde_json::{Value, json};

use super::{Origin, Stack};

/// One component of the stack and the part of the file that describes it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ComponentSpec {
    /// Such as `network`, `security-groups` or `bucket/media`.
    pub id: String,
    /// The model values this component's desired state is computed from, apart from the
    /// stack's name, account, region and tags, which every component reads, and the
    /// outputs of the components it needs.
    pub desired: Value,
}

impl Stack {
    /// Lists the components of the stack, in the order of the file.
    ///
    /// The ids are the ones `stackd-aws` gives the nodes of its graph; a test there
    /// checks that both lists agree, so a new kind of node is added in both places.
    pub fn components(&self) -> Vec<ComponentSpec> {
        let mut components = vec![
            component("network", json!(self.network)),
            component("security-groups", json!(self.security_groups)),
        ];
        if !self.vpc_endpoints.is_empty() {
            components.push(component("vpc-endpoints", json!(self.vpc_endpoints)));
        }
        for bucket in &self.buckets {
            components.push(component(&format!("bucket/{}", bucket.id), json!(bucket)));
        }
        // IAM policies and container environments may interpolate bucket and cache
        // attributes, so those sections are part of their desired state.
        let referenced = json!({ "buckets": self.buckets, "caches": self.caches });
        let iam = &self.iam;
        if !iam.roles.is_empty() || !iam.users.is_empty() {
            components.push(component(
                "iam",
                json!({ "iam": iam, "referenced": referenced }),
            ));
        }
        for user in &iam.users {
            if user.access_key_secret.is_some() {
                components.push(component(&format!("access-key/{}", user.id), json!(user)));
            }
        }
        let compute = &self.compute;
        let has_compute = !compute.launch_templates.is_empty()
            || !compute.auto_scaling_groups.is_empty()
            || !compute.capacity_providers.is_empty()
            || !compute.clusters.is_empty();
        if has_compute {
            components.push(component("compute", json!(compute)));
        }
        for balancer in &self.load_balancers {
            components.push(component(
                &format!("load-balancer/{}", balancer.id),
                json!(balancer),
            ));
        }
        for cache in &self.caches {
            components.push(component(&format!("cache/{}", cache.id), json!(cache)));
        }
        // Finds the caches that left the file, so its desired state is the list
        // of the names that remain.
        let cache_names: Vec<&str> = self
            .caches
            .iter()
            .map(|cache| cache.name.as_str())
            .collect();
        components.push(component("retired-caches", json!(cache_names)));
        for service in &self.services {
            components.push(component(
                &format!("service/{}", service.id),
                json!({ "service": service, "referenced": referenced }),
            ));
        }
        for api in &self.apis {
            components.push(component(&format!("api/{}", api.id), json!(api)));
        }
        for distribution in &self.distributions {
            components.push(component(
                &format!("distribution/{}", distribution.id),
                json!(distribution),
            ));
        }
        for distribution in &self.distributions {
            if let Origin::Bucket(bucket) = &distribution.origin {
                components.push(component(
                    &format!("bucket-policy/{bucket}"),
                    json!({ "bucket": bucket, "distribution": distribution.id }),
                ));
            }
        }
        components
    }
}

fn component(id: &str, desired: Value) -> ComponentSpec {
    ComponentSpec {
        id: id.to_owned(),
        desired,
    }
}
