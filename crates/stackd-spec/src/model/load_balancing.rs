//! Elastic Load Balancing v2: load balancers, target groups and listeners.

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LoadBalancer {
    pub id: String,
    /// At most 32 characters.
    pub name: String,
    pub load_balancer_type: LoadBalancerType,
    pub scheme: LoadBalancerScheme,
    /// Logical ids of subnets, at most one per zone.
    pub subnets: Vec<String>,
    /// Logical ids of security groups.
    pub security_groups: Vec<String>,
    pub target_groups: Vec<TargetGroup>,
    pub listeners: Vec<Listener>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum LoadBalancerType {
    Network,
    Application,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LoadBalancerScheme {
    Internal,
    InternetFacing,
}

/// Protocol of a listener, target group or health check, spelled as in the ELB API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ElbProtocol {
    Tcp,
    Udp,
    TcpUdp,
    Tls,
    Http,
    Https,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TargetGroup {
    /// Logical id, unique within its load balancer.
    pub id: String,
    /// At most 32 characters.
    pub name: String,
    pub protocol: ElbProtocol,
    pub port: u16,
    pub target_type: TargetType,
    pub health_check: HealthCheck,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum TargetType {
    Ip,
    Instance,
    Alb,
}

/// Health check settings. `None` leaves the ELB default for that field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HealthCheck {
    pub protocol: ElbProtocol,
    /// `None` probes the traffic port.
    pub port: Option<u16>,
    /// HTTP and HTTPS health checks only.
    pub path: Option<String>,
    pub interval_seconds: Option<u32>,
    pub timeout_seconds: Option<u32>,
    pub healthy_threshold: Option<u32>,
    pub unhealthy_threshold: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Listener {
    /// Logical id, unique within its load balancer.
    pub id: String,
    pub protocol: ElbProtocol,
    pub port: u16,
    /// Logical id of a target group of the same load balancer.
    pub target_group: String,
    /// ACM certificate, set exactly for TLS and HTTPS listeners.
    pub certificate_arn: Option<String>,
}

/// Reference to a target group, written `LOAD_BALANCER_ID/TARGET_GROUP_ID` in the file.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TargetGroupRef {
    pub load_balancer: String,
    pub target_group: String,
}

/// Reference to a listener, written `LOAD_BALANCER_ID/LISTENER_ID` in the file.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ListenerRef {
    pub load_balancer: String,
    pub listener: String,
}

impl LoadBalancer {
    /// Finds a target group of this load balancer by logical id.
    pub fn target_group(&self, id: &str) -> Option<&TargetGroup> {
        self.target_groups.iter().find(|group| group.id == id)
    }

    /// Finds a listener of this load balancer by logical id.
    pub fn listener(&self, id: &str) -> Option<&Listener> {
        self.listeners.iter().find(|listener| listener.id == id)
    }
}

impl std::fmt::Display for TargetGroupRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.load_balancer, self.target_group)
    }
}

impl std::fmt::Display for ListenerRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.load_balancer, self.listener)
    }
}
