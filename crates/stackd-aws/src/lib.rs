//! The AWS components of stackd: one module per kind of resource, each
//! implementing the engine's `Component` contract with the AWS SDK for Rust.
//!
//! [`build_graph`] turns a validated stack into the engine's graph. Components
//! never see YAML: they read the model of `stackd-spec`.

mod account_guard;
mod buckets;
mod caches;
mod clients;
mod ec2;
mod graph;
mod iam;
mod network;
mod security_groups;
mod tags;
mod vpc_endpoints;

pub use account_guard::AccountGuard;
pub use clients::{AwsClients, ClientOptions};
pub use graph::build_graph;
pub use tags::{ID_TAG, STACK_TAG};
