//! VPC, subnets, internet and NAT gateways, and route tables.

use ipnet::Ipv4Net;
use serde::Serialize;

/// The stack's VPC and everything that routes traffic inside and out of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Network {
    pub vpc: Vpc,
    pub subnets: Vec<Subnet>,
    /// Whether the VPC has an internet gateway attached.
    pub internet_gateway: bool,
    pub nat_gateways: Vec<NatGateway>,
    pub route_tables: Vec<RouteTable>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Vpc {
    pub cidr: Ipv4Net,
    /// Defaults to true.
    pub enable_dns_support: bool,
    /// Defaults to false.
    pub enable_dns_hostnames: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Subnet {
    pub id: String,
    pub tier: SubnetTier,
    /// Availability zone name such as `eu-west-3a`, always in the stack's region.
    pub zone: String,
    /// Canonical network inside the VPC's CIDR, overlapping no other subnet.
    pub cidr: Ipv4Net,
    /// Defaults to false.
    pub map_public_ip_on_launch: bool,
}

/// Whether a subnet routes to the internet gateway (public) or not (private).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum SubnetTier {
    Public,
    Private,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NatGateway {
    pub id: String,
    /// Logical id of the public subnet that contains the NAT gateway.
    pub subnet: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RouteTable {
    pub id: String,
    /// Logical ids of the associated subnets. No subnet is in two route tables.
    pub subnets: Vec<String>,
    pub routes: Vec<Route>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Route {
    pub destination: Ipv4Net,
    pub target: RouteTarget,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum RouteTarget {
    InternetGateway,
    /// Logical id of a NAT gateway.
    NatGateway(String),
}

impl Network {
    /// Finds a subnet by logical id.
    pub fn subnet(&self, id: &str) -> Option<&Subnet> {
        self.subnets.iter().find(|subnet| subnet.id == id)
    }

    /// Finds a NAT gateway by logical id.
    pub fn nat_gateway(&self, id: &str) -> Option<&NatGateway> {
        self.nat_gateways.iter().find(|nat| nat.id == id)
    }

    /// Finds a route table by logical id.
    pub fn route_table(&self, id: &str) -> Option<&RouteTable> {
        self.route_tables.iter().find(|table| table.id == id)
    }

    /// Finds the route table associated with a subnet, if any.
    pub fn route_table_of_subnet(&self, subnet_id: &str) -> Option<&RouteTable> {
        self.route_tables
            .iter()
            .find(|table| table.subnets.iter().any(|id| id == subnet_id))
    }
}
