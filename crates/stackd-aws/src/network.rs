//! The network component: VPC, subnets, internet gateway, NAT gateways with their
//! Elastic IPs, route tables, routes and subnet associations.

mod apply;
mod diff;
mod observe;

use crate::clients::AwsClients;
use crate::tags::Tagger;
use async_trait::async_trait;
use stackd_engine::{Component, ComponentError, ComponentId, Inputs, Outputs, Planned, Readiness};
use stackd_spec::model::Network;
use std::collections::BTreeMap;

pub use diff::Action;

/// The kind name of the network node in the graph.
pub const KIND: &str = "network";

/// Logical ids, as written in each resource's `stackd:id` tag.
pub(crate) mod ids {
    pub const VPC: &str = "vpc";
    pub const INTERNET_GATEWAY: &str = "internet-gateway";

    pub fn subnet(id: &str) -> String {
        format!("subnet/{id}")
    }
    pub fn nat_gateway(id: &str) -> String {
        format!("nat-gateway/{id}")
    }
    pub fn elastic_ip(nat_gateway: &str) -> String {
        format!("elastic-ip/{nat_gateway}")
    }
    pub fn route_table(id: &str) -> String {
        format!("route-table/{id}")
    }
}

/// Output keys that dependents read.
pub mod outputs {
    pub const VPC_ID: &str = "vpc.id";

    pub fn subnet_id(id: &str) -> String {
        format!("subnet.{id}.id")
    }
    pub fn route_table_id(id: &str) -> String {
        format!("route-table.{id}.id")
    }
}

/// Live state of the whole network, each resource keyed by its logical id.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NetworkLive {
    pub vpc: Option<LiveVpc>,
    pub subnets: BTreeMap<String, LiveSubnet>,
    pub internet_gateway: Option<LiveInternetGateway>,
    /// Elastic IPs keyed by the logical id of the NAT gateway they serve.
    pub addresses: BTreeMap<String, LiveAddress>,
    pub nat_gateways: BTreeMap<String, LiveNatGateway>,
    pub route_tables: BTreeMap<String, LiveRouteTable>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LiveVpc {
    pub id: String,
    pub cidr: String,
    pub dns_support: bool,
    pub dns_hostnames: bool,
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LiveSubnet {
    pub id: String,
    pub cidr: String,
    pub zone: String,
    pub map_public_ip_on_launch: bool,
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LiveInternetGateway {
    pub id: String,
    pub attached_vpcs: Vec<String>,
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LiveAddress {
    pub allocation_id: String,
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LiveNatGateway {
    pub id: String,
    pub subnet_id: String,
    /// `pending` or `available`; deleted and failed gateways are not observed.
    pub state: String,
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LiveRouteTable {
    pub id: String,
    /// Routes that stackd manages: IPv4 CIDR destinations other than the local route.
    pub routes: BTreeMap<String, LiveRouteTarget>,
    pub associations: Vec<LiveAssociation>,
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LiveRouteTarget {
    InternetGateway(String),
    NatGateway(String),
    /// Any other target, shown by its AWS id.
    Other(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct LiveAssociation {
    pub id: String,
    pub subnet_id: String,
}

/// Reconciles the network of one stack.
#[derive(Debug)]
pub struct NetworkComponent {
    clients: AwsClients,
    tagger: Tagger,
    desired: Network,
}

impl NetworkComponent {
    pub fn new(clients: AwsClients, tagger: Tagger, desired: Network) -> Self {
        NetworkComponent {
            clients,
            tagger,
            desired,
        }
    }
}

#[async_trait]
impl Component for NetworkComponent {
    type Live = NetworkLive;
    type Action = Action;

    fn id(&self) -> ComponentId {
        ComponentId::single(KIND)
    }

    fn needs(&self) -> Vec<ComponentId> {
        Vec::new()
    }

    async fn observe(&self) -> Result<NetworkLive, ComponentError> {
        observe::observe(&self.clients.ec2, self.tagger.stack()).await
    }

    fn diff(&self, live: &NetworkLive, _inputs: &Inputs) -> Vec<Planned<Action>> {
        diff::diff(&self.desired, &self.tagger, live)
    }

    async fn apply(
        &self,
        live: &NetworkLive,
        actions: Vec<Action>,
        _inputs: &Inputs,
    ) -> Result<(), ComponentError> {
        apply::apply(
            &self.clients.ec2,
            &self.desired,
            &self.tagger,
            live,
            actions,
        )
        .await
    }

    fn outputs(&self, live: &NetworkLive) -> Outputs {
        let mut outputs = Outputs::new();
        if let Some(vpc) = &live.vpc {
            outputs.insert(outputs::VPC_ID.to_owned(), vpc.id.clone());
        }
        for subnet in &self.desired.subnets {
            if let Some(found) = live.subnets.get(&ids::subnet(&subnet.id)) {
                outputs.insert(outputs::subnet_id(&subnet.id), found.id.clone());
            }
        }
        for table in &self.desired.route_tables {
            if let Some(found) = live.route_tables.get(&ids::route_table(&table.id)) {
                outputs.insert(outputs::route_table_id(&table.id), found.id.clone());
            }
        }
        outputs
    }

    fn readiness(&self, live: &NetworkLive) -> Readiness {
        let pending: Vec<&str> = live
            .nat_gateways
            .iter()
            .filter(|(_, nat)| nat.state != "available")
            .map(|(id, _)| id.as_str())
            .collect();
        if pending.is_empty() {
            Readiness::Ready
        } else {
            Readiness::Progressing(format!(
                "waiting for {} to become available",
                pending.join(", ")
            ))
        }
    }
}
