//! Table of invalid files under tests/invalid/: each yields one error at a known place.

use std::path::Path;

use stackd_spec::{Diagnostic, Severity};

/// One invalid file and the error it must produce.
struct Case {
    file: &'static str,
    line: usize,
    column: usize,
    path: &'static str,
    message: &'static str,
}

const fn case(
    file: &'static str,
    line: usize,
    column: usize,
    path: &'static str,
    message: &'static str,
) -> Case {
    Case {
        file,
        line,
        column,
        path,
        message,
    }
}

#[rustfmt::skip]
const CASES: &[Case] = &[
    // YAML and structure
    case("syntax_error", 10, 12, "", "invalid YAML"),
    case("duplicate_key", 8, 3, "spec.region", "duplicate key `region`, first defined at line 7"),
    case("unknown_field", 14, 9, "spec.network.subnets[0].cdir", "unknown field `cdir`, did you mean `cidr`?"),
    case("missing_field", 11, 9, "spec.network.subnets[0].zone", "missing field `zone`"),
    case("wrong_type", 6, 12, "spec.account", "invalid type: integer `123456789012`, expected a string"),
    case("unknown_enum_value", 11, 31, "spec.network.subnets[0].tier", "unknown value \"pubic\", did you mean \"public\"?"),
    // Envelope
    case("api_version", 1, 13, "apiVersion", "unsupported apiVersion \"stackd.dev/v1\""),
    case("kind", 2, 7, "kind", "unsupported kind \"Stak\", did you mean \"Stack\"?"),
    case("stack_name", 4, 9, "metadata.name", "invalid stack name \"Beezyup_Prod\""),
    case("account", 6, 12, "spec.account", "expected 12 digits"),
    case("region", 7, 11, "spec.region", "invalid region \"euwest-3\""),
    // Network
    case("cidr_host_bits", 14, 15, "spec.network.subnets[0].cidr", "invalid CIDR \"10.0.1.5/24\": host bits are set"),
    case("cidr_malformed", 11, 63, "spec.network.subnets[0].cidr", "invalid CIDR \"10.0.0/24\""),
    case("cidr_outside_vpc", 11, 63, "spec.network.subnets[0].cidr", "outside the VPC's CIDR 10.0.0.0/16"),
    case("cidr_overlap", 12, 63, "spec.network.subnets[1].cidr", "subnet \"public-b\" (10.0.1.0/24) overlaps subnet \"public-a\""),
    case("zone_other_region", 11, 45, "spec.network.subnets[0].zone", "\"eu-west-1a\" is in eu-west-1, not in the stack's region eu-west-3"),
    case("duplicate_id", 12, 15, "spec.network.subnets[1].id", "duplicate subnet id \"public-a\""),
    case("nat_unknown_subnet", 23, 17, "spec.network.natGateways[0].subnet", "subnet \"publc-a\" not found, did you mean \"public-a\"?"),
    case("nat_in_private_subnet", 23, 17, "spec.network.natGateways[0].subnet", "is in private subnet \"private-a\""),
    case("nat_gateway_not_found", 25, 35, "spec.network.routeTables[1].routes[0].target.natGateway", "NAT gateway \"nat-b\" not found"),
    case("subnet_in_two_route_tables", 22, 30, "spec.network.routeTables[1].subnets[1]", "already associated with route table \"public\""),
    case("public_route_table_to_nat", 20, 52, "spec.network.routeTables[0].routes[0].target", "default route goes to NAT gateway \"nat-a\""),
    // Security groups and endpoints
    case("security_group_unknown_peer", 34, 30, "spec.securityGroups[1].ingress[0].from[0].securityGroup", "security group \"ecss\" not found, did you mean \"ecs\"?"),
    case("security_group_name_prefix", 23, 13, "spec.securityGroups[0].name", "starts with sg-"),
    case("port_out_of_range", 27, 17, "spec.securityGroups[0].ingress[0].port", "port 70000 is out of range"),
    case("port_range_reversed", 27, 22, "spec.securityGroups[0].egress[0].portRange", "from is greater than to"),
    case("gateway_endpoint_service", 24, 13, "spec.vpcEndpoints[0].type", "secretsmanager has no gateway endpoint"),
    case("endpoint_unknown_route_table", 25, 21, "spec.vpcEndpoints[0].routeTables[0]", "route table \"pubic\" not found, did you mean \"public\"?"),
    // Compute
    case("role_not_found", 33, 26, "spec.compute.launchTemplates[0].instanceProfile", "role \"ecs-instanse\" not found"),
    case("ami_both_sources", 32, 14, "spec.compute.launchTemplates[0].ami", "exactly one of `ssmParameter` and `id`"),
    case("launch_template_not_found", 38, 25, "spec.compute.autoScalingGroups[0].launchTemplate", "launch template \"ecs-spot\" not found"),
    case("auto_scaling_group_sizes", 40, 18, "spec.compute.autoScalingGroups[0].minSize", "minSize 3 is greater than maxSize 2"),
    case("capacity_provider_not_found", 53, 29, "spec.compute.clusters[0].capacityProviders[0]", "capacity provider \"ecs-spot\" not found"),
    // Services and caches
    case("cluster_not_found", 67, 16, "spec.services[0].cluster", "cluster \"mian\" not found, did you mean \"main\"?"),
    case("target_group_not_found", 70, 36, "spec.services[0].loadBalancer.targetGroup", "target group \"api/apj\" not found, did you mean \"api/api\"?"),
    case("container_port_mismatch", 70, 67, "spec.services[0].loadBalancer.port", "exposes port 80, not port 8080"),
    case("cache_interpolation_not_found", 78, 27, "spec.services[0].taskDefinition.containers[0].environment.REDIS_HOST", "cache \"mian\" not found"),
    case("interpolation_unknown_form", 78, 27, "spec.services[0].taskDefinition.containers[0].environment.REDIS_HOST", "unknown interpolation \"${cache:main.host}\""),
    case("cache_major_version", 83, 21, "spec.caches[0].majorVersion", "invalid major version \"eight\""),
    case("cache_major_version_minor", 83, 21, "spec.caches[0].majorVersion", "invalid major version \"7.1\" for valkey"),
    case("cache_limit_minimum_above_maximum", 87, 27, "spec.caches[0].limits.dataStorageMinGb", "dataStorageMinGb 10 is greater than dataStorageMaxGb 5"),
    case("cache_snapshot_retention", 85, 31, "spec.caches[0].snapshotRetentionLimit", "snapshotRetentionLimit 40 is out of range"),
    case("cache_daily_snapshot_time", 85, 26, "spec.caches[0].dailySnapshotTime", "invalid daily snapshot time \"3am\""),
    // APIs, buckets, IAM and distributions
    case("listener_not_found", 41, 19, "spec.apis[0].integration.listener", "listener \"api/tcp-81\" not found, did you mean \"api/tcp-80\"?"),
    case("cors_origin_trailing_slash", 35, 24, "spec.apis[0].cors.allowOrigins[0]", "not even a trailing /"),
    case("bucket_name_invalid", 46, 13, "spec.buckets[0].name", "invalid bucket name \"Test_Public_Media\""),
    case("bucket_interpolation_not_found", 67, 29, "spec.iam.roles[0].inlinePolicies[0].statements[0].resources[0]", "bucket \"medai\" not found, did you mean \"media\"?"),
    case("api_not_found", 52, 14, "spec.distributions[0].origin.api", "API \"web\" not found"),
    case("distribution_origin_both", 52, 9, "spec.distributions[0].origin", "exactly one of `api` and `bucket`"),
    case("cache_policy_unknown", 54, 22, "spec.distributions[0].defaultBehavior.cachePolicy", "did you mean \"CachingDisabled\"?"),
    case("certificate_region", 50, 23, "spec.distributions[0].certificateArn", "must be in us-east-1"),
    case("stray_interpolation", 50, 23, "spec.distributions[0].certificateArn", "interpolations are not allowed in this field"),
    // Alerts and drift policies
    case("alerts_webhook_in_file", 13, 5, "spec.alerts.webhookUrl", "the Slack webhook URL is a secret and cannot be in the desired-state file"),
    case("alerts_remind_after", 12, 25, "spec.alerts.remindAfterMinutes", "remindAfterMinutes 0 is out of range"),
    case("alerts_error_after", 12, 29, "spec.alerts.errorAfterFailedPasses", "errorAfterFailedPasses 0 is out of range"),
    case("alerts_progressing_after", 12, 35, "spec.alerts.progressingAlertAfterMinutes", "progressingAlertAfterMinutes 2000 is out of range"),
    case("alerts_max_messages", 12, 25, "spec.alerts.maxMessagesPerHour", "maxMessagesPerHour -5 is out of range"),
    case("alerts_language", 12, 15, "spec.alerts.language", "unknown value \"french\""),
    case("drift_component_not_found", 15, 7, "spec.drift.components.security-group", "component \"security-group\" not found, did you mean \"security-groups\"?"),
    case("drift_policy_unknown", 13, 16, "spec.drift.components.network", "unknown value \"alertonly\", did you mean \"alertOnly\"?"),
];

fn errors_of(file: &str) -> Vec<Diagnostic> {
    let name = format!("tests/invalid/{file}.yaml");
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(&name))
        .unwrap_or_else(|error| panic!("cannot read {name}: {error}"));
    match stackd_spec::load(&text, &name) {
        Ok(_) => panic!("{name} loaded without errors"),
        Err(error) => error.errors().cloned().collect(),
    }
}

#[test]
fn each_invalid_file_reports_its_error() {
    for case in CASES {
        let errors = errors_of(case.file);
        let listing: Vec<String> = errors.iter().map(ToString::to_string).collect();
        let listing = listing.join("\n");

        assert_eq!(
            errors.len(),
            1,
            "{}: expected one error, got:\n{listing}",
            case.file
        );
        let error = &errors[0];
        assert_eq!(error.severity, Severity::Error, "{}", case.file);
        assert_eq!(error.line, case.line, "{}: line of\n{listing}", case.file);
        assert_eq!(
            error.column, case.column,
            "{}: column of\n{listing}",
            case.file
        );
        assert_eq!(error.path, case.path, "{}: path of\n{listing}", case.file);
        assert!(
            error.message.contains(case.message),
            "{}: message of\n{listing}",
            case.file
        );
    }
}

#[test]
fn every_invalid_file_is_in_table() {
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/invalid");
    for entry in std::fs::read_dir(folder).expect("tests/invalid exists") {
        let name = entry
            .expect("readable entry")
            .file_name()
            .to_string_lossy()
            .into_owned();
        let stem = name.trim_end_matches(".yaml");
        assert!(
            CASES.iter().any(|case| case.file == stem),
            "{name} has no case in the table"
        );
    }
}

#[test]
fn webhook_in_file_is_not_repeated() {
    let error = &errors_of("alerts_webhook_in_file")[0];
    let shown = error.to_string();
    assert!(!shown.contains("hooks.slack.com"), "{shown}");
    assert!(
        error
            .help
            .as_deref()
            .is_some_and(|help| help.contains("STACKD_SLACK_WEBHOOK_URL")),
        "{shown}"
    );
}

#[test]
fn host_bits_help_names_network() {
    let error = &errors_of("cidr_host_bits")[0];
    assert_eq!(
        error.help.as_deref(),
        Some("write 10.0.1.0/24, the network that contains this address")
    );
}

#[test]
fn unknown_field_help_lists_fields() {
    let error = &errors_of("unknown_field")[0];
    let help = error.help.as_deref().unwrap_or_default();
    assert!(help.contains("`mapPublicIpOnLaunch`"), "{help}");
}

#[test]
fn overlap_message_names_both_subnets() {
    let error = &errors_of("cidr_overlap")[0];
    assert!(error.message.contains("\"public-a\""), "{}", error.message);
    assert!(error.message.contains("\"public-b\""), "{}", error.message);
}

#[test]
fn display_uses_compiler_format() {
    let error = &errors_of("cidr_host_bits")[0];
    assert_eq!(
        error.to_string(),
        "tests/invalid/cidr_host_bits.yaml:14:15: error: spec.network.subnets[0].cidr: invalid CIDR \
         \"10.0.1.5/24\": host bits are set\n  help: write 10.0.1.0/24, the network that contains \
         this address"
    );
}
