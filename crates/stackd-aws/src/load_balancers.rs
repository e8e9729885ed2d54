//! The load-balancer component: one Elastic Load Balancing v2 load balancer with its
//! target groups and listeners.
//!
//! The load balancer and its target groups are found by name, which ELB keeps unique
//! in a region, and their `stackd:stack` and `stackd:id` tags tell whether they are
//! ours. Listeners are found on the load balancer by their `stackd:id` tag, so a
//! listener keeps its identity when the file changes its port.

mod apply;
mod diff;
mod observe;

use crate::clients::AwsClients;
use crate::tags::Tagger;
use crate::{network, security_groups};
use async_trait::async_trait;
use stackd_engine::{Component, ComponentError, ComponentId, Inputs, Outputs, Planned, Readiness};
use stackd_spec::model::{ElbProtocol, LoadBalancer};
use std::collections::{BTreeMap, BTreeSet};

pub use diff::Action;

/// The kind name of load-balancer nodes in the graph.
pub const KIND: &str = "load-balancer";

/// Logical ids, as written in each resource's `stackd:id` tag. Target group and
/// listener ids are unique within their load balancer only, so their tags name it too.
pub(crate) mod ids {
    pub fn load_balancer(id: &str) -> String {
        format!("load-balancer/{id}")
    }
    pub fn target_group(load_balancer: &str, id: &str) -> String {
        format!("target-group/{load_balancer}/{id}")
    }
    pub fn listener(load_balancer: &str, id: &str) -> String {
        format!("listener/{load_balancer}/{id}")
    }
}

/// Output keys that dependents read.
pub mod outputs {
    pub const ARN: &str = "arn";
    pub const DNS_NAME: &str = "dnsName";

    pub fn target_group_arn(id: &str) -> String {
        format!("target-group.{id}.arn")
    }
    pub fn listener_arn(id: &str) -> String {
        format!("listener.{id}.arn")
    }
}

/// The state in which a load balancer routes traffic. `active_impaired` also routes,
/// with less capacity, so it counts as ready too.
const ACTIVE_STATES: [&str; 2] = ["active", "active_impaired"];

/// Live state of one load balancer and its parts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LoadBalancerLive {
    pub load_balancer: Option<LiveLoadBalancer>,
    /// Target groups of the file that exist, keyed by their id in the file.
    pub target_groups: BTreeMap<String, LiveTargetGroup>,
    /// Every listener of the load balancer, in the order ELB returns them.
    pub listeners: Vec<LiveListener>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LiveLoadBalancer {
    pub arn: String,
    pub dns_name: String,
    /// `provisioning`, `active`, `active_impaired` or `failed`.
    pub state: String,
    /// `network`, `application` or `gateway`.
    pub load_balancer_type: String,
    /// `internal` or `internet-facing`.
    pub scheme: String,
    pub subnet_ids: BTreeSet<String>,
    pub security_group_ids: BTreeSet<String>,
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LiveTargetGroup {
    pub arn: String,
    pub protocol: String,
    pub port: u16,
    /// `ip`, `instance`, `alb` or `lambda`.
    pub target_type: String,
    pub vpc_id: String,
    pub health_check: LiveHealthCheck,
    pub tags: BTreeMap<String, String>,
}

/// Health check settings as ELB reports them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveHealthCheck {
    pub protocol: String,
    /// A port number, or `traffic-port`.
    pub port: String,
    pub path: Option<String>,
    pub interval_seconds: Option<u32>,
    pub timeout_seconds: Option<u32>,
    pub healthy_threshold: Option<u32>,
    pub unhealthy_threshold: Option<u32>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LiveListener {
    pub arn: String,
    pub protocol: String,
    pub port: u16,
    /// Target groups that the default actions forward to.
    pub target_group_arns: Vec<String>,
    pub certificate_arns: Vec<String>,
    pub tags: BTreeMap<String, String>,
}

/// Returns the protocol as the ELB API spells it.
pub(crate) fn protocol_name(protocol: ElbProtocol) -> &'static str {
    match protocol {
        ElbProtocol::Tcp => "TCP",
        ElbProtocol::Udp => "UDP",
        ElbProtocol::TcpUdp => "TCP_UDP",
        ElbProtocol::Tls => "TLS",
        ElbProtocol::Http => "HTTP",
        ElbProtocol::Https => "HTTPS",
    }
}

/// The AWS ids of the load balancer's subnets and security groups and of the VPC,
/// read from the outputs of the network and security-groups components. A name whose
/// resource does not exist yet stays out of the set, and `complete` is then false.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Placement {
    pub vpc_id: Option<String>,
    pub subnets: BTreeSet<String>,
    pub security_groups: BTreeSet<String>,
    pub complete: bool,
}

impl Placement {
    fn resolve(desired: &LoadBalancer, inputs: &Inputs) -> Self {
        let network_id = ComponentId::single(network::KIND);
        let groups_id = ComponentId::single(security_groups::KIND);
        let subnets: Vec<Option<&str>> = desired
            .subnets
            .iter()
            .map(|subnet| inputs.get(&network_id, &network::outputs::subnet_id(subnet)))
            .collect();
        let groups: Vec<Option<&str>> = desired
            .security_groups
            .iter()
            .map(|group| inputs.get(&groups_id, &security_groups::group_id_output(group)))
            .collect();
        let vpc_id = inputs
            .get(&network_id, network::outputs::VPC_ID)
            .map(str::to_owned);
        Placement {
            complete: vpc_id.is_some()
                && subnets.iter().all(Option::is_some)
                && groups.iter().all(Option::is_some),
            vpc_id,
            subnets: subnets.into_iter().flatten().map(str::to_owned).collect(),
            security_groups: groups.into_iter().flatten().map(str::to_owned).collect(),
        }
    }
}

/// Reconciles one load balancer, its target groups and its listeners.
#[derive(Debug)]
pub struct LoadBalancerComponent {
    clients: AwsClients,
    tagger: Tagger,
    desired: LoadBalancer,
}

impl LoadBalancerComponent {
    pub fn new(clients: AwsClients, tagger: Tagger, desired: LoadBalancer) -> Self {
        LoadBalancerComponent {
            clients,
            tagger,
            desired,
        }
    }
}

#[async_trait]
impl Component for LoadBalancerComponent {
    type Live = LoadBalancerLive;
    type Action = Action;

    fn id(&self) -> ComponentId {
        ComponentId::named(KIND, &self.desired.id)
    }

    fn needs(&self) -> Vec<ComponentId> {
        vec![
            ComponentId::single(network::KIND),
            ComponentId::single(security_groups::KIND),
        ]
    }

    async fn observe(&self) -> Result<LoadBalancerLive, ComponentError> {
        observe::observe(&self.clients.elbv2, &self.desired, &self.tagger).await
    }

    fn diff(&self, live: &LoadBalancerLive, inputs: &Inputs) -> Vec<Planned<Action>> {
        let placement = Placement::resolve(&self.desired, inputs);
        diff::diff(&self.desired, &self.tagger, &placement, live)
    }

    async fn apply(
        &self,
        live: &LoadBalancerLive,
        actions: Vec<Action>,
        inputs: &Inputs,
    ) -> Result<(), ComponentError> {
        let placement = Placement::resolve(&self.desired, inputs);
        apply::apply(
            &self.clients.elbv2,
            &self.desired,
            &self.tagger,
            &placement,
            live,
            actions,
        )
        .await
    }

    fn outputs(&self, live: &LoadBalancerLive) -> Outputs {
        let mut outputs = Outputs::new();
        let Some(balancer) = &live.load_balancer else {
            return outputs;
        };
        outputs.insert(outputs::ARN.to_owned(), balancer.arn.clone());
        outputs.insert(outputs::DNS_NAME.to_owned(), balancer.dns_name.clone());
        for (id, group) in &live.target_groups {
            outputs.insert(outputs::target_group_arn(id), group.arn.clone());
        }
        for listener in &self.desired.listeners {
            let logical_id = ids::listener(&self.desired.id, &listener.id);
            if let Some(found) = live
                .listeners
                .iter()
                .find(|found| diff::logical_id_of(&found.tags, &self.tagger) == Some(&logical_id))
            {
                outputs.insert(outputs::listener_arn(&listener.id), found.arn.clone());
            }
        }
        outputs
    }

    fn readiness(&self, live: &LoadBalancerLive) -> Readiness {
        match &live.load_balancer {
            Some(balancer) if !ACTIVE_STATES.contains(&balancer.state.as_str()) => {
                Readiness::Progressing(format!(
                    "{} is {}",
                    ids::load_balancer(&self.desired.id),
                    balancer.state
                ))
            }
            _ => Readiness::Ready,
        }
    }
}
