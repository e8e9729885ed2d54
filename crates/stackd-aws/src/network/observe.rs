//! Reads the live network of a stack: one describe call per resource type, all at once.

use super::{
    LiveAddress, LiveAssociation, LiveInternetGateway, LiveNatGateway, LiveRouteTable,
    LiveRouteTarget, LiveSubnet, LiveVpc, NetworkLive,
};
use crate::ec2::{by_logical_id, filter, from_sdk, stack_filter, stack_logical_id};
use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::{RouteTable, VpcAttributeName};
use stackd_engine::ComponentError;
use std::collections::BTreeMap;

/// Observes every network resource tagged with the stack's name.
///
/// The six describe calls run concurrently and each returns every resource of its
/// type in the stack, so the cost does not grow with the number of subnets or
/// route tables. Only the two VPC attributes need a call of their own.
pub async fn observe(client: &Client, stack: &str) -> Result<NetworkLive, ComponentError> {
    let (vpcs, subnets, gateways, addresses, nat_gateways, route_tables) = tokio::try_join!(
        describe_vpcs(client, stack),
        describe_subnets(client, stack),
        describe_internet_gateways(client, stack),
        describe_addresses(client, stack),
        describe_nat_gateways(client, stack),
        describe_route_tables(client, stack),
    )?;

    let vpc = match vpcs.into_iter().next() {
        Some((id, cidr, tags)) => {
            let (dns_support, dns_hostnames) = tokio::try_join!(
                vpc_attribute(client, &id, VpcAttributeName::EnableDnsSupport),
                vpc_attribute(client, &id, VpcAttributeName::EnableDnsHostnames),
            )?;
            Some(LiveVpc {
                id,
                cidr,
                dns_support,
                dns_hostnames,
                tags,
            })
        }
        None => None,
    };

    Ok(NetworkLive {
        vpc,
        subnets,
        internet_gateway: gateways,
        addresses,
        nat_gateways,
        route_tables,
    })
}

type TaggedVpc = (String, String, BTreeMap<String, String>);

async fn describe_vpcs(client: &Client, stack: &str) -> Result<Vec<TaggedVpc>, ComponentError> {
    let response = client
        .describe_vpcs()
        .filters(stack_filter(stack))
        .send()
        .await
        .map_err(|error| crate::failures::call_failed("DescribeVpcs", error))?;
    let vpcs = by_logical_id(
        "VPC",
        response.vpcs().to_vec(),
        |vpc| stack_logical_id(vpc.tags(), stack),
        |vpc| vpc.vpc_id().unwrap_or_default().to_owned(),
    )?;
    Ok(vpcs
        .into_iter()
        .filter(|(logical_id, _)| logical_id == super::ids::VPC)
        .map(|(_, vpc)| {
            (
                vpc.vpc_id().unwrap_or_default().to_owned(),
                vpc.cidr_block().unwrap_or_default().to_owned(),
                from_sdk(vpc.tags()),
            )
        })
        .collect())
}

async fn vpc_attribute(
    client: &Client,
    vpc_id: &str,
    attribute: VpcAttributeName,
) -> Result<bool, ComponentError> {
    let response = client
        .describe_vpc_attribute()
        .vpc_id(vpc_id)
        .attribute(attribute.clone())
        .send()
        .await
        .map_err(|error| {
            crate::failures::call_failed(
                format!("DescribeVpcAttribute {attribute} on {vpc_id}"),
                error,
            )
        })?;
    let value = match attribute {
        VpcAttributeName::EnableDnsHostnames => response.enable_dns_hostnames(),
        _ => response.enable_dns_support(),
    };
    Ok(value.and_then(|value| value.value()).unwrap_or(false))
}

async fn describe_subnets(
    client: &Client,
    stack: &str,
) -> Result<BTreeMap<String, LiveSubnet>, ComponentError> {
    let response = client
        .describe_subnets()
        .filters(stack_filter(stack))
        .send()
        .await
        .map_err(|error| crate::failures::call_failed("DescribeSubnets", error))?;
    let subnets = by_logical_id(
        "subnet",
        response.subnets().to_vec(),
        |subnet| stack_logical_id(subnet.tags(), stack),
        |subnet| subnet.subnet_id().unwrap_or_default().to_owned(),
    )?;
    Ok(subnets
        .into_iter()
        .map(|(logical_id, subnet)| {
            let live = LiveSubnet {
                id: subnet.subnet_id().unwrap_or_default().to_owned(),
                cidr: subnet.cidr_block().unwrap_or_default().to_owned(),
                zone: subnet.availability_zone().unwrap_or_default().to_owned(),
                map_public_ip_on_launch: subnet.map_public_ip_on_launch().unwrap_or(false),
                tags: from_sdk(subnet.tags()),
            };
            (logical_id, live)
        })
        .collect())
}

async fn describe_internet_gateways(
    client: &Client,
    stack: &str,
) -> Result<Option<LiveInternetGateway>, ComponentError> {
    let response = client
        .describe_internet_gateways()
        .filters(stack_filter(stack))
        .send()
        .await
        .map_err(|error| crate::failures::call_failed("DescribeInternetGateways", error))?;
    let mut gateways = by_logical_id(
        "internet gateway",
        response.internet_gateways().to_vec(),
        |gateway| stack_logical_id(gateway.tags(), stack),
        |gateway| gateway.internet_gateway_id().unwrap_or_default().to_owned(),
    )?;
    Ok(gateways
        .remove(super::ids::INTERNET_GATEWAY)
        .map(|gateway| LiveInternetGateway {
            id: gateway.internet_gateway_id().unwrap_or_default().to_owned(),
            attached_vpcs: gateway
                .attachments()
                .iter()
                .filter_map(|attachment| attachment.vpc_id().map(str::to_owned))
                .collect(),
            tags: from_sdk(gateway.tags()),
        }))
}

async fn describe_addresses(
    client: &Client,
    stack: &str,
) -> Result<BTreeMap<String, LiveAddress>, ComponentError> {
    let response = client
        .describe_addresses()
        .filters(stack_filter(stack))
        .send()
        .await
        .map_err(|error| crate::failures::call_failed("DescribeAddresses", error))?;
    let addresses = by_logical_id(
        "Elastic IP",
        response.addresses().to_vec(),
        |address| stack_logical_id(address.tags(), stack),
        |address| address.allocation_id().unwrap_or_default().to_owned(),
    )?;
    Ok(addresses
        .into_iter()
        .filter_map(|(logical_id, address)| {
            let nat_gateway = logical_id.strip_prefix("elastic-ip/")?.to_owned();
            let live = LiveAddress {
                allocation_id: address.allocation_id().unwrap_or_default().to_owned(),
                tags: from_sdk(address.tags()),
            };
            Some((nat_gateway, live))
        })
        .collect())
}

async fn describe_nat_gateways(
    client: &Client,
    stack: &str,
) -> Result<BTreeMap<String, LiveNatGateway>, ComponentError> {
    let response = client
        .describe_nat_gateways()
        .filter(stack_filter(stack))
        .filter(filter("state", ["pending", "available"]))
        .send()
        .await
        .map_err(|error| crate::failures::call_failed("DescribeNatGateways", error))?;
    let gateways = by_logical_id(
        "NAT gateway",
        response.nat_gateways().to_vec(),
        |gateway| stack_logical_id(gateway.tags(), stack),
        |gateway| gateway.nat_gateway_id().unwrap_or_default().to_owned(),
    )?;
    Ok(gateways
        .into_iter()
        .map(|(logical_id, gateway)| {
            let live = LiveNatGateway {
                id: gateway.nat_gateway_id().unwrap_or_default().to_owned(),
                subnet_id: gateway.subnet_id().unwrap_or_default().to_owned(),
                state: gateway
                    .state()
                    .map(|state| state.as_str().to_owned())
                    .unwrap_or_default(),
                tags: from_sdk(gateway.tags()),
            };
            (logical_id, live)
        })
        .collect())
}

async fn describe_route_tables(
    client: &Client,
    stack: &str,
) -> Result<BTreeMap<String, LiveRouteTable>, ComponentError> {
    let response = client
        .describe_route_tables()
        .filters(stack_filter(stack))
        .send()
        .await
        .map_err(|error| crate::failures::call_failed("DescribeRouteTables", error))?;
    let tables = by_logical_id(
        "route table",
        response.route_tables().to_vec(),
        |table| stack_logical_id(table.tags(), stack),
        |table| table.route_table_id().unwrap_or_default().to_owned(),
    )?;
    Ok(tables
        .into_iter()
        .map(|(logical_id, table)| (logical_id, live_route_table(&table)))
        .collect())
}

fn live_route_table(table: &RouteTable) -> LiveRouteTable {
    let mut routes = BTreeMap::new();
    for route in table.routes() {
        // The local route belongs to the VPC, and prefix-list routes to gateway
        // VPC endpoints: neither is stackd's to manage here.
        let Some(destination) = route.destination_cidr_block() else {
            continue;
        };
        if route.gateway_id() == Some("local") {
            continue;
        }
        let target = if let Some(nat) = route.nat_gateway_id() {
            LiveRouteTarget::NatGateway(nat.to_owned())
        } else if let Some(gateway) = route.gateway_id().filter(|id| id.starts_with("igw-")) {
            LiveRouteTarget::InternetGateway(gateway.to_owned())
        } else {
            let other = route
                .gateway_id()
                .or(route.network_interface_id())
                .or(route.transit_gateway_id())
                .or(route.vpc_peering_connection_id())
                .or(route.instance_id())
                .unwrap_or("unknown target");
            LiveRouteTarget::Other(other.to_owned())
        };
        routes.insert(destination.to_owned(), target);
    }
    let associations = table
        .associations()
        .iter()
        .filter(|association| !association.main().unwrap_or(false))
        .filter_map(|association| {
            Some(LiveAssociation {
                id: association.route_table_association_id()?.to_owned(),
                subnet_id: association.subnet_id()?.to_owned(),
            })
        })
        .collect();
    LiveRouteTable {
        id: table.route_table_id().unwrap_or_default().to_owned(),
        routes,
        associations,
        tags: from_sdk(table.tags()),
    }
}
