//! Carries out a network plan with EC2 calls, in the order the diff planned them.

use super::diff::Action;
use super::{NetworkLive, ids};
use crate::ec2::{filter, tag_specification, update_tags, without_retries};
use crate::tags::Tagger;
use aws_sdk_ec2::Client;
use aws_sdk_ec2::error::ProvideErrorMetadata;
use aws_sdk_ec2::types::{AttributeBooleanValue, DomainType, ResourceType};
use stackd_engine::ComponentError;
use stackd_spec::model::{Network, Route, RouteTarget};
use std::collections::{BTreeMap, BTreeSet};

/// AWS ids by logical id: those observed, and those created during this apply.
struct Ids {
    by_logical_id: BTreeMap<String, String>,
    /// NAT gateways that are not available yet; routes to them wait for a later pass.
    pending_nat_gateways: BTreeSet<String>,
}

impl Ids {
    fn from_live(live: &NetworkLive) -> Self {
        let mut by_logical_id = BTreeMap::new();
        if let Some(vpc) = &live.vpc {
            by_logical_id.insert(ids::VPC.to_owned(), vpc.id.clone());
        }
        for (logical_id, subnet) in &live.subnets {
            by_logical_id.insert(logical_id.clone(), subnet.id.clone());
        }
        if let Some(gateway) = &live.internet_gateway {
            by_logical_id.insert(ids::INTERNET_GATEWAY.to_owned(), gateway.id.clone());
        }
        for (nat_gateway, address) in &live.addresses {
            by_logical_id.insert(ids::elastic_ip(nat_gateway), address.allocation_id.clone());
        }
        let mut pending_nat_gateways = BTreeSet::new();
        for (logical_id, nat) in &live.nat_gateways {
            by_logical_id.insert(logical_id.clone(), nat.id.clone());
            if nat.state != "available" {
                pending_nat_gateways.insert(logical_id.clone());
            }
        }
        for (logical_id, table) in &live.route_tables {
            by_logical_id.insert(logical_id.clone(), table.id.clone());
        }
        Ids {
            by_logical_id,
            pending_nat_gateways,
        }
    }

    fn get(&self, logical_id: &str) -> Result<&str, ComponentError> {
        self.by_logical_id
            .get(logical_id)
            .map(String::as_str)
            .ok_or_else(|| ComponentError::Unexpected(format!("{logical_id} has no AWS id yet")))
    }
}

/// Runs every action in order. A refused replacement does not stop the others;
/// it is reported once they are done.
pub async fn apply(
    client: &Client,
    desired: &Network,
    tagger: &Tagger,
    live: &NetworkLive,
    actions: Vec<Action>,
) -> Result<(), ComponentError> {
    let mut ids = Ids::from_live(live);
    let mut refused = Vec::new();
    for action in actions {
        match action {
            Action::RefuseReplacement { reason, .. } => refused.push(reason),
            action => run(client, desired, tagger, &mut ids, action).await?,
        }
    }
    if refused.is_empty() {
        Ok(())
    } else {
        Err(ComponentError::Blocked(format!(
            "{}; a replacement is never applied without explicit permission",
            refused.join("; ")
        )))
    }
}

async fn run(
    client: &Client,
    desired: &Network,
    tagger: &Tagger,
    ids: &mut Ids,
    action: Action,
) -> Result<(), ComponentError> {
    match action {
        Action::CreateVpc => {
            let tags = tagger.desired(ids::VPC, &tagger.name("vpc"));
            let response = client
                .create_vpc()
                .cidr_block(desired.vpc.cidr.to_string())
                .tag_specifications(tag_specification(ResourceType::Vpc, &tags))
                .customize()
                .config_override(without_retries())
                .send()
                .await
                .map_err(|error| crate::failures::call_failed("CreateVpc", error))?;
            let vpc_id = created_id(response.vpc().and_then(|vpc| vpc.vpc_id()), "CreateVpc")?;
            tracing::info!(vpc_id, cidr = %desired.vpc.cidr, "created VPC");
            ids.by_logical_id.insert(ids::VPC.to_owned(), vpc_id);
        }
        Action::SetDnsSupport(value) => {
            let vpc_id = ids.get(ids::VPC)?;
            client
                .modify_vpc_attribute()
                .vpc_id(vpc_id)
                .enable_dns_support(boolean(value))
                .send()
                .await
                .map_err(|error| {
                    crate::failures::call_failed(
                        format!("ModifyVpcAttribute enableDnsSupport on {vpc_id}"),
                        error,
                    )
                })?;
            tracing::info!(vpc_id, value, "set enableDnsSupport");
        }
        Action::SetDnsHostnames(value) => {
            let vpc_id = ids.get(ids::VPC)?;
            client
                .modify_vpc_attribute()
                .vpc_id(vpc_id)
                .enable_dns_hostnames(boolean(value))
                .send()
                .await
                .map_err(|error| {
                    crate::failures::call_failed(
                        format!("ModifyVpcAttribute enableDnsHostnames on {vpc_id}"),
                        error,
                    )
                })?;
            tracing::info!(vpc_id, value, "set enableDnsHostnames");
        }
        Action::CreateSubnet(id) => {
            let subnet = desired
                .subnets
                .iter()
                .find(|subnet| subnet.id == id)
                .ok_or_else(|| {
                    ComponentError::Unexpected(format!("subnet {id} is not in the file"))
                })?;
            let logical_id = ids::subnet(&id);
            let tags = tagger.desired(&logical_id, &tagger.name(&id));
            let response = client
                .create_subnet()
                .vpc_id(ids.get(ids::VPC)?)
                .cidr_block(subnet.cidr.to_string())
                .availability_zone(&subnet.zone)
                .tag_specifications(tag_specification(ResourceType::Subnet, &tags))
                .customize()
                .config_override(without_retries())
                .send()
                .await
                .map_err(|error| {
                    crate::failures::call_failed(format!("CreateSubnet {logical_id}"), error)
                })?;
            let subnet_id = created_id(
                response.subnet().and_then(|subnet| subnet.subnet_id()),
                "CreateSubnet",
            )?;
            tracing::info!(subnet_id, %logical_id, cidr = %subnet.cidr, zone = %subnet.zone, "created subnet");
            ids.by_logical_id.insert(logical_id, subnet_id);
        }
        Action::SetMapPublicIpOnLaunch { subnet, value } => {
            let subnet_id = ids.get(&ids::subnet(&subnet))?;
            client
                .modify_subnet_attribute()
                .subnet_id(subnet_id)
                .map_public_ip_on_launch(boolean(value))
                .send()
                .await
                .map_err(|error| {
                    crate::failures::call_failed(
                        format!("ModifySubnetAttribute on {subnet_id}"),
                        error,
                    )
                })?;
            tracing::info!(subnet_id, value, "set mapPublicIpOnLaunch");
        }
        Action::CreateInternetGateway => {
            let tags = tagger.desired(ids::INTERNET_GATEWAY, &tagger.name("igw"));
            let response = client
                .create_internet_gateway()
                .tag_specifications(tag_specification(ResourceType::InternetGateway, &tags))
                .customize()
                .config_override(without_retries())
                .send()
                .await
                .map_err(|error| crate::failures::call_failed("CreateInternetGateway", error))?;
            let gateway_id = created_id(
                response
                    .internet_gateway()
                    .and_then(|gateway| gateway.internet_gateway_id()),
                "CreateInternetGateway",
            )?;
            tracing::info!(gateway_id, "created internet gateway");
            ids.by_logical_id
                .insert(ids::INTERNET_GATEWAY.to_owned(), gateway_id);
        }
        Action::AttachInternetGateway => {
            let gateway_id = ids.get(ids::INTERNET_GATEWAY)?;
            let vpc_id = ids.get(ids::VPC)?;
            client
                .attach_internet_gateway()
                .internet_gateway_id(gateway_id)
                .vpc_id(vpc_id)
                .send()
                .await
                .map_err(|error| {
                    crate::failures::call_failed(
                        format!("AttachInternetGateway {gateway_id} to {vpc_id}"),
                        error,
                    )
                })?;
            tracing::info!(gateway_id, vpc_id, "attached internet gateway");
        }
        Action::AllocateAddress { nat_gateway } => {
            let logical_id = ids::elastic_ip(&nat_gateway);
            let tags = tagger.desired(&logical_id, &tagger.name(&nat_gateway));
            let response = client
                .allocate_address()
                .domain(DomainType::Vpc)
                .tag_specifications(tag_specification(ResourceType::ElasticIp, &tags))
                .customize()
                .config_override(without_retries())
                .send()
                .await
                .map_err(|error| {
                    crate::failures::call_failed(format!("AllocateAddress {logical_id}"), error)
                })?;
            let allocation_id = created_id(response.allocation_id(), "AllocateAddress")?;
            tracing::info!(allocation_id, %logical_id, "allocated Elastic IP");
            ids.by_logical_id.insert(logical_id, allocation_id);
        }
        Action::CreateNatGateway(id) => {
            let nat = desired
                .nat_gateways
                .iter()
                .find(|nat| nat.id == id)
                .ok_or_else(|| {
                    ComponentError::Unexpected(format!("NAT gateway {id} is not in the file"))
                })?;
            let logical_id = ids::nat_gateway(&id);
            let tags = tagger.desired(&logical_id, &tagger.name(&id));
            let subnet_id = ids.get(&ids::subnet(&nat.subnet))?.to_owned();
            let allocation_id = ids.get(&ids::elastic_ip(&id))?.to_owned();
            let response = client
                .create_nat_gateway()
                .subnet_id(&subnet_id)
                .allocation_id(&allocation_id)
                .client_token(
                    tagger.client_token(&logical_id, &format!("{subnet_id} {allocation_id}")),
                )
                .tag_specifications(tag_specification(ResourceType::Natgateway, &tags))
                .send()
                .await;
            let response = match response {
                Ok(response) => response,
                // A NAT gateway deleted behind stackd's back keeps its Elastic IP
                // until it has finished deleting, which takes minutes. The next
                // pass tries again; the engine reports the gateway as not there yet.
                Err(error) if error.code() == Some("Resource.AlreadyAssociated") => {
                    tracing::info!(%logical_id, allocation_id, "Elastic IP still held by a deleting NAT gateway; retrying later");
                    return Ok(());
                }
                Err(error) => {
                    return Err(crate::failures::call_failed(
                        format!("CreateNatGateway {logical_id}"),
                        error,
                    ));
                }
            };
            let gateway = response.nat_gateway();
            let nat_id = created_id(
                gateway.and_then(|gateway| gateway.nat_gateway_id()),
                "CreateNatGateway",
            )?;
            let available = gateway
                .and_then(|gateway| gateway.state())
                .is_some_and(|state| state.as_str() == "available");
            if !available {
                ids.pending_nat_gateways.insert(logical_id.clone());
            }
            tracing::info!(nat_id, %logical_id, subnet_id, "created NAT gateway");
            ids.by_logical_id.insert(logical_id, nat_id);
        }
        Action::CreateRouteTable(id) => {
            let logical_id = ids::route_table(&id);
            let tags = tagger.desired(&logical_id, &tagger.name(&id));
            let response = client
                .create_route_table()
                .vpc_id(ids.get(ids::VPC)?)
                .client_token(tagger.client_token(&logical_id, ids.get(ids::VPC)?))
                .tag_specifications(tag_specification(ResourceType::RouteTable, &tags))
                .send()
                .await
                .map_err(|error| {
                    crate::failures::call_failed(format!("CreateRouteTable {logical_id}"), error)
                })?;
            let table_id = created_id(
                response
                    .route_table()
                    .and_then(|table| table.route_table_id()),
                "CreateRouteTable",
            )?;
            tracing::info!(table_id, %logical_id, "created route table");
            ids.by_logical_id.insert(logical_id, table_id);
        }
        Action::CreateRoute { table, route } => {
            let Some(target) = route_target(ids, &route)? else {
                return Ok(());
            };
            let table_id = ids.get(&ids::route_table(&table))?;
            let request = client
                .create_route()
                .route_table_id(table_id)
                .destination_cidr_block(route.destination.to_string());
            let request = match &target {
                Target::Gateway(id) => request.gateway_id(id),
                Target::NatGateway(id) => request.nat_gateway_id(id),
            };
            request.send().await.map_err(|error| {
                crate::failures::call_failed(
                    format!("CreateRoute {} in {table_id}", route.destination),
                    error,
                )
            })?;
            tracing::info!(table_id, destination = %route.destination, target = %target, "created route");
        }
        Action::ReplaceRoute { table, route } => {
            let Some(target) = route_target(ids, &route)? else {
                return Ok(());
            };
            let table_id = ids.get(&ids::route_table(&table))?;
            let request = client
                .replace_route()
                .route_table_id(table_id)
                .destination_cidr_block(route.destination.to_string());
            let request = match &target {
                Target::Gateway(id) => request.gateway_id(id),
                Target::NatGateway(id) => request.nat_gateway_id(id),
            };
            request.send().await.map_err(|error| {
                crate::failures::call_failed(
                    format!("ReplaceRoute {} in {table_id}", route.destination),
                    error,
                )
            })?;
            tracing::info!(table_id, destination = %route.destination, target = %target, "replaced route");
        }
        Action::DeleteRoute { table, destination } => {
            let table_id = ids.get(&ids::route_table(&table))?;
            client
                .delete_route()
                .route_table_id(table_id)
                .destination_cidr_block(&destination)
                .send()
                .await
                .map_err(|error| {
                    crate::failures::call_failed(
                        format!("DeleteRoute {destination} in {table_id}"),
                        error,
                    )
                })?;
            tracing::info!(table_id, destination, "deleted route");
        }
        Action::SetAssociations {
            table,
            associate,
            disassociate,
        } => {
            let table_id = ids.get(&ids::route_table(&table))?.to_owned();
            for association_id in disassociate {
                let removed = client
                    .disassociate_route_table()
                    .association_id(&association_id)
                    .send()
                    .await;
                match removed {
                    Ok(_) => tracing::info!(table_id, association_id, "removed subnet association"),
                    // Another table of this apply may have moved the subnet already,
                    // which replaces the association and retires its id.
                    Err(error) if error.code() == Some("InvalidAssociationID.NotFound") => {
                        tracing::debug!(association_id, "association already gone");
                    }
                    Err(error) => {
                        return Err(crate::failures::call_failed(
                            format!("DisassociateRouteTable {association_id}"),
                            error,
                        ));
                    }
                }
            }
            for subnet in associate {
                let subnet_id = ids.get(&ids::subnet(&subnet))?.to_owned();
                associate_subnet(client, &table_id, &subnet_id).await?;
            }
        }
        Action::Retag { logical_id, delta } => {
            let resource_id = ids.get(&logical_id)?.to_owned();
            update_tags(client, &resource_id, &delta).await?;
        }
        Action::DeleteSubnet(logical_id) => {
            let subnet_id = ids.get(&logical_id)?.to_owned();
            client
                .delete_subnet()
                .subnet_id(&subnet_id)
                .send()
                .await
                .map_err(|error| {
                    crate::failures::call_failed(format!("DeleteSubnet {subnet_id}"), error)
                })?;
        }
        Action::RefuseReplacement { .. } => {
            unreachable!("apply handles refusals before calling run")
        }
    }
    Ok(())
}

/// Associates a subnet with a route table. A subnet can be associated with one
/// table only, so one that is associated elsewhere (by hand, or with the VPC's
/// main table's explicit association) is moved with ReplaceRouteTableAssociation.
async fn associate_subnet(
    client: &Client,
    table_id: &str,
    subnet_id: &str,
) -> Result<(), ComponentError> {
    let associated = client
        .associate_route_table()
        .route_table_id(table_id)
        .subnet_id(subnet_id)
        .send()
        .await;
    match associated {
        Ok(_) => {
            tracing::info!(table_id, subnet_id, "associated subnet");
            Ok(())
        }
        Err(error) if error.code() == Some("Resource.AlreadyAssociated") => {
            let response = client
                .describe_route_tables()
                .filters(filter("association.subnet-id", [subnet_id]))
                .send()
                .await
                .map_err(|error| {
                    crate::failures::call_failed(
                        format!("DescribeRouteTables for {subnet_id}"),
                        error,
                    )
                })?;
            let association_id = response
                .route_tables()
                .iter()
                .flat_map(|table| table.associations())
                .find(|association| association.subnet_id() == Some(subnet_id))
                .and_then(|association| association.route_table_association_id())
                .ok_or_else(|| {
                    crate::failures::call_failed(
                        format!("AssociateRouteTable {subnet_id} to {table_id}"),
                        error,
                    )
                })?
                .to_owned();
            client
                .replace_route_table_association()
                .association_id(&association_id)
                .route_table_id(table_id)
                .send()
                .await
                .map_err(|error| {
                    crate::failures::call_failed(
                        format!("ReplaceRouteTableAssociation {association_id}"),
                        error,
                    )
                })?;
            tracing::info!(
                table_id,
                subnet_id,
                association_id,
                "moved subnet association"
            );
            Ok(())
        }
        Err(error) => Err(crate::failures::call_failed(
            format!("AssociateRouteTable {subnet_id} to {table_id}"),
            error,
        )),
    }
}

enum Target {
    Gateway(String),
    NatGateway(String),
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Gateway(id) | Target::NatGateway(id) => f.write_str(id),
        }
    }
}

/// Resolves the AWS id of a route's target, or returns `None` when the target
/// is a NAT gateway that is still pending. AWS would accept the route, but it
/// would drop traffic until the gateway is available, so the route waits for a
/// later pass.
fn route_target(ids: &Ids, route: &Route) -> Result<Option<Target>, ComponentError> {
    match &route.target {
        RouteTarget::InternetGateway => Ok(Some(Target::Gateway(
            ids.get(ids::INTERNET_GATEWAY)?.to_owned(),
        ))),
        RouteTarget::NatGateway(id) => {
            let logical_id = ids::nat_gateway(id);
            if ids.pending_nat_gateways.contains(&logical_id) {
                tracing::debug!(nat_gateway = %logical_id, "route waits for the NAT gateway");
                return Ok(None);
            }
            Ok(Some(Target::NatGateway(ids.get(&logical_id)?.to_owned())))
        }
    }
}

fn boolean(value: bool) -> AttributeBooleanValue {
    AttributeBooleanValue::builder().value(value).build()
}

fn created_id(id: Option<&str>, operation: &str) -> Result<String, ComponentError> {
    id.map(str::to_owned)
        .ok_or_else(|| ComponentError::Unexpected(format!("{operation} returned no id")))
}
