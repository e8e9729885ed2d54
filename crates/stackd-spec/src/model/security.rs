//! Security groups, their rules, and VPC endpoints.

use ipnet::Ipv4Net;
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SecurityGroup {
    pub id: String,
    /// AWS group name, unique in the stack and never starting with `sg-`.
    pub name: String,
    pub description: String,
    /// One rule per peer.
    pub ingress: Vec<Rule>,
    /// One rule per peer. When the file omits `egress`, this is AWS's default rule
    /// (all protocols to 0.0.0.0/0). An explicit empty list in the file leaves it empty.
    pub egress: Vec<Rule>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Rule {
    pub protocol: Protocol,
    /// Ports of TCP and UDP rules, always set for them. `None` for [`Protocol::All`] and for
    /// [`Protocol::Icmp`], which then covers all ICMP types.
    pub ports: Option<PortRange>,
    pub peer: Peer,
    pub description: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Protocol {
    Tcp,
    Udp,
    Icmp,
    All,
}

/// Inclusive port range, `from <= to`, both in 1..=65535.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PortRange {
    pub from: u16,
    pub to: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Peer {
    /// A CIDR block. Subnet peers in the file become their subnet's CIDR.
    Cidr(Ipv4Net),
    /// Logical id of a security group, which may be the rule's own group.
    SecurityGroup(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VpcEndpoint {
    pub id: String,
    /// Short service name such as `s3`, whose full name is `com.amazonaws.REGION.SERVICE`.
    pub service: String,
    pub endpoint_type: EndpointType,
    /// Logical ids of route tables, for gateway endpoints only.
    pub route_tables: Vec<String>,
    /// Logical ids of subnets, at most one per zone, for interface endpoints only.
    pub subnets: Vec<String>,
    /// Logical ids of security groups, for interface endpoints only.
    pub security_groups: Vec<String>,
    /// Always false for gateway endpoints.
    pub private_dns: bool,
}

/// Endpoint type: a gateway endpoint has route tables and no subnets, and an interface
/// endpoint has subnets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum EndpointType {
    Gateway,
    Interface,
}

impl PortRange {
    /// Builds the range of one port.
    pub fn single(port: u16) -> Self {
        PortRange {
            from: port,
            to: port,
        }
    }

    /// Returns whether the range contains `port`.
    pub fn contains(&self, port: u16) -> bool {
        self.from <= port && port <= self.to
    }
}
