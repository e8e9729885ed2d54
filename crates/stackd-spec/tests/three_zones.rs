//! A three-zone staging stack loads from its own file, without warnings.

use stackd_spec::model::{BucketEncryption, Peer, PortRange};

const TEXT: &str = include_str!("valid/three_zones.yaml");

#[test]
fn three_zone_stack_loads_without_warnings() {
    let loaded =
        stackd_spec::load(TEXT, "tests/valid/three_zones.yaml").unwrap_or_else(|e| panic!("{e}"));
    let listing: Vec<String> = loaded.warnings.iter().map(ToString::to_string).collect();
    assert!(loaded.warnings.is_empty(), "{}", listing.join("\n"));

    let network = &loaded.stack.network;
    assert_eq!(network.subnets.len(), 6);
    assert_eq!(network.nat_gateways.len(), 3);
    assert_eq!(network.route_tables.len(), 4);
}

#[test]
fn self_peer_and_empty_egress_are_kept() {
    let stack = stackd_spec::load(TEXT, "three_zones.yaml").unwrap().stack;
    let web = stack.security_group("web").unwrap();
    assert_eq!(web.ingress.len(), 2);
    assert_eq!(web.ingress[0].peer, Peer::SecurityGroup("web".into()));
    assert_eq!(
        web.ingress[0].ports,
        Some(PortRange {
            from: 8080,
            to: 8081
        })
    );
    assert!(
        web.egress.is_empty(),
        "an explicit empty egress list means no egress"
    );
}

#[test]
fn kms_bucket_without_key_uses_aws_managed_key() {
    let stack = stackd_spec::load(TEXT, "three_zones.yaml").unwrap().stack;
    let assets = stack.bucket("assets").unwrap();
    assert_eq!(assets.encryption, BucketEncryption::Kms { key_id: None });
    assert!(assets.versioning);
    assert!(!assets.retain);
    assert_eq!(assets.tags["Team"], "web");
}
