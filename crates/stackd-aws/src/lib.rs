//! The AWS components of stackd: one module per kind of resource, each
//! implementing the engine's `Component` contract with the AWS SDK for Rust.
//!
//! [`build_graph`] turns a validated stack into the engine's graph. Components
//! never see YAML: they read the model of `stackd-spec`.

mod access_keys;
mod account_guard;
mod apis;
mod bucket_policies;
mod buckets;
mod caches;
mod call_counter;
mod clients;
mod compute;
mod distributions;
mod ec2;
mod failures;
mod graph;
mod iam;
mod json_diff;
mod lease;
mod load_balancers;
#[cfg(test)]
mod mocks;
mod network;
mod security_groups;
mod services;
mod tags;
mod vpc_endpoints;

pub use account_guard::AccountGuard;
pub use call_counter::{AwsCallCounter, CallKey, CallOutcome};
pub use clients::{AwsClients, ClientOptions};
pub use graph::build_graph;
pub use lease::{Holder, LeaseSettings, S3Lease, Waiting};
pub use tags::{ID_TAG, STACK_TAG};
