//! Whole-stack creation through the fault proxy: stackd converges, and the
//! emulator then contains exactly the resources of a creation without faults.
//!
//! The short form runs in `cargo test` with the seeds of
//! `STACKD_FAULT_SEEDS` (default `1,2`). `cargo xtask faults` runs 50
//! seeds and the ignored tests: creations killed with SIGKILL and a
//! minute of sustained throttling. Every seed is printed, so that a failing
//! run can be replayed with `STACKD_FAULT_SEEDS=SEED`.

mod common;

use common::{config_file, describe};
use stackd_tests::proxy::{Fault, Proxy, ProxyConfig};
use stackd_tests::{AWS_ENV_REMOVED, Emulator, aws_env};
use std::collections::BTreeMap;
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Share of calls faulted in the seeded creations.
const FAULT_RATE: f64 = 0.2;

/// Seeds of the short form.
const DEFAULT_SEEDS: &str = "1,2";

/// Bound on one `reconcile --once` under faults, passed as `--wait`.
const WAIT: &str = "300s";

/// Resources of the emulator by kind, each named by its `stackd:id` tag
/// when it has one and by its AWS id or name otherwise.
type Census = BTreeMap<&'static str, Vec<String>>;

/// Runs `reconcile --once` over the demo file against `endpoint`.
fn reconcile_through(endpoint: &str) -> Output {
    let file = config_file();
    let mut command = Command::new(env!("CARGO_BIN_EXE_stackd"));
    command
        .args(["reconcile", "-f"])
        .arg(&file)
        .args(["--once", "--requeue-after", "1s", "--wait", WAIT])
        .args(["--endpoint-url", endpoint])
        .envs(aws_env())
        .stdin(Stdio::null());
    for name in AWS_ENV_REMOVED {
        command.env_remove(name);
    }
    command.output().expect("the stackd binary runs")
}

/// Returns the seeds of `STACKD_FAULT_SEEDS`: a comma-separated list of
/// numbers and ranges such as `1-50`.
fn seeds() -> Vec<u64> {
    let text = std::env::var("STACKD_FAULT_SEEDS").unwrap_or_else(|_| DEFAULT_SEEDS.to_owned());
    let mut seeds = Vec::new();
    for part in text
        .split(',')
        .map(str::trim)
        .filter(|part| !part.is_empty())
    {
        match part.split_once('-') {
            Some((first, last)) => {
                let first: u64 = first.parse().expect("STACKD_FAULT_SEEDS range start");
                let last: u64 = last.parse().expect("STACKD_FAULT_SEEDS range end");
                seeds.extend(first..=last);
            }
            None => seeds.push(part.parse().expect("STACKD_FAULT_SEEDS lists numbers")),
        }
    }
    seeds
}

/// The census of a creation without faults, made once per test process.
fn reference_census() -> &'static Census {
    static REFERENCE: OnceLock<Census> = OnceLock::new();
    REFERENCE.get_or_init(|| {
        let emulator = Emulator::start().expect("the emulator starts");
        let output = reconcile_through(&emulator.endpoint());
        assert_eq!(
            output.status.code(),
            Some(0),
            "reference creation: {}",
            describe(&output)
        );
        runtime().block_on(census(&emulator))
    })
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a Tokio runtime starts")
}

/// Asserts that the emulator contains the stack once: a plan finds nothing to
/// change, and every kind of resource has as many members, with the same
/// names, as after a creation without faults.
fn assert_stack_once(emulator: &Emulator, context: &str) {
    let plan = common::plan(emulator, &config_file());
    assert_eq!(
        plan.status.code(),
        Some(0),
        "{context}: plan after convergence: {}",
        describe(&plan)
    );
    let found = runtime().block_on(census(emulator));
    let reference = reference_census();
    for (kind, expected) in reference {
        let actual = found.get(kind).cloned().unwrap_or_default();
        assert_eq!(
            &actual, expected,
            "{context}: {kind} differ from a creation without faults"
        );
    }
    for (kind, actual) in &found {
        assert!(
            reference.contains_key(kind),
            "{context}: {kind} exist only after the faulted run: {actual:?}"
        );
    }
}

/// Lists every resource kind stackd creates, straight from the emulator.
async fn census(emulator: &Emulator) -> Census {
    let config = common::sdk_config(emulator).await;
    let mut census = Census::new();
    let mut add = |kind: &'static str, name: String| census.entry(kind).or_default().push(name);

    // Untagged resources (the emulator's default VPC and its subnets) have ids
    // that differ from one emulator to the next, so they count without them: an
    // extra untagged copy made by stackd still shows as one more entry.
    fn named(tags: Option<String>, _id: Option<&str>) -> String {
        tags.unwrap_or_else(|| "untagged".to_owned())
    }
    fn ec2_id(tags: &[aws_sdk_ec2::types::Tag]) -> Option<String> {
        tags.iter()
            .find(|tag| tag.key() == Some("stackd:id"))
            .and_then(|tag| tag.value())
            .map(str::to_owned)
    }

    // 1. EC2: network, security groups, endpoints, launch templates.
    let ec2 = aws_sdk_ec2::Client::new(&config);
    for vpc in ec2.describe_vpcs().send().await.unwrap().vpcs() {
        add("ec2 vpc", named(ec2_id(vpc.tags()), vpc.vpc_id()));
    }
    for subnet in ec2.describe_subnets().send().await.unwrap().subnets() {
        add(
            "ec2 subnet",
            named(ec2_id(subnet.tags()), subnet.subnet_id()),
        );
    }
    for gateway in ec2
        .describe_internet_gateways()
        .send()
        .await
        .unwrap()
        .internet_gateways()
    {
        add(
            "ec2 internet gateway",
            named(ec2_id(gateway.tags()), gateway.internet_gateway_id()),
        );
    }
    for gateway in ec2
        .describe_nat_gateways()
        .send()
        .await
        .unwrap()
        .nat_gateways()
    {
        let deleted = gateway
            .state()
            .is_some_and(|state| state.as_str() == "deleted");
        if !deleted {
            add(
                "ec2 NAT gateway",
                named(ec2_id(gateway.tags()), gateway.nat_gateway_id()),
            );
        }
    }
    for address in ec2.describe_addresses().send().await.unwrap().addresses() {
        add(
            "ec2 elastic IP",
            named(ec2_id(address.tags()), address.allocation_id()),
        );
    }
    for table in ec2
        .describe_route_tables()
        .send()
        .await
        .unwrap()
        .route_tables()
    {
        let main = table
            .associations()
            .iter()
            .any(|association| association.main() == Some(true));
        if !main {
            let routes = table.routes().len();
            let name = named(ec2_id(table.tags()), table.route_table_id());
            add("ec2 route table", format!("{name} ({routes} routes)"));
        }
    }
    for group in ec2
        .describe_security_groups()
        .send()
        .await
        .unwrap()
        .security_groups()
    {
        if group.group_name() != Some("default") {
            add(
                "ec2 security group",
                named(ec2_id(group.tags()), group.group_id()),
            );
        }
    }
    for endpoint in ec2
        .describe_vpc_endpoints()
        .send()
        .await
        .unwrap()
        .vpc_endpoints()
    {
        add(
            "ec2 VPC endpoint",
            named(ec2_id(endpoint.tags()), endpoint.vpc_endpoint_id()),
        );
    }
    for template in ec2
        .describe_launch_templates()
        .send()
        .await
        .unwrap()
        .launch_templates()
    {
        add(
            "ec2 launch template",
            named(ec2_id(template.tags()), template.launch_template_name()),
        );
    }

    // 2. Compute, load balancing and the API.
    let autoscaling = aws_sdk_autoscaling::Client::new(&config);
    for group in autoscaling
        .describe_auto_scaling_groups()
        .send()
        .await
        .unwrap()
        .auto_scaling_groups()
    {
        add(
            "autoscaling group",
            group.auto_scaling_group_name().unwrap_or("?").to_owned(),
        );
    }
    let ecs = aws_sdk_ecs::Client::new(&config);
    let clusters = ecs.list_clusters().send().await.unwrap();
    for cluster in clusters.cluster_arns() {
        add("ecs cluster", cluster.clone());
        let services = ecs.list_services().cluster(cluster).send().await.unwrap();
        for service in services.service_arns() {
            add("ecs service", service.clone());
        }
    }
    for family in ecs
        .list_task_definitions()
        .send()
        .await
        .unwrap()
        .task_definition_arns()
    {
        add("ecs task definition", family.clone());
    }
    for provider in ecs
        .describe_capacity_providers()
        .send()
        .await
        .unwrap()
        .capacity_providers()
    {
        add(
            "ecs capacity provider",
            provider.name().unwrap_or("?").to_owned(),
        );
    }
    let elbv2 = aws_sdk_elasticloadbalancingv2::Client::new(&config);
    for balancer in elbv2
        .describe_load_balancers()
        .send()
        .await
        .unwrap()
        .load_balancers()
    {
        add(
            "elbv2 load balancer",
            balancer.load_balancer_name().unwrap_or("?").to_owned(),
        );
        let listeners = elbv2
            .describe_listeners()
            .load_balancer_arn(balancer.load_balancer_arn().unwrap_or_default())
            .send()
            .await
            .unwrap();
        for listener in listeners.listeners() {
            add(
                "elbv2 listener",
                format!("{:?} {:?}", listener.protocol(), listener.port()),
            );
        }
    }
    for group in elbv2
        .describe_target_groups()
        .send()
        .await
        .unwrap()
        .target_groups()
    {
        add(
            "elbv2 target group",
            group.target_group_name().unwrap_or("?").to_owned(),
        );
    }
    let apis = aws_sdk_apigatewayv2::Client::new(&config);
    for api in apis.get_apis().send().await.unwrap().items() {
        add("apigateway API", api.name().unwrap_or("?").to_owned());
        let id = api.api_id().unwrap_or_default();
        for route in apis.get_routes().api_id(id).send().await.unwrap().items() {
            add(
                "apigateway route",
                route.route_key().unwrap_or("?").to_owned(),
            );
        }
        for integration in apis
            .get_integrations()
            .api_id(id)
            .send()
            .await
            .unwrap()
            .items()
        {
            add(
                "apigateway integration",
                format!("{:?}", integration.integration_type()),
            );
        }
        for stage in apis.get_stages().api_id(id).send().await.unwrap().items() {
            add(
                "apigateway stage",
                stage.stage_name().unwrap_or("?").to_owned(),
            );
        }
        for authorizer in apis
            .get_authorizers()
            .api_id(id)
            .send()
            .await
            .unwrap()
            .items()
        {
            add(
                "apigateway authorizer",
                authorizer.name().unwrap_or("?").to_owned(),
            );
        }
    }
    for link in apis.get_vpc_links().send().await.unwrap().items() {
        add("apigateway VPC link", link.name().unwrap_or("?").to_owned());
    }

    // 3. Storage, identities, the CDN and the cache.
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(true)
            .build(),
    );
    for bucket in s3.list_buckets().send().await.unwrap().buckets() {
        add("s3 bucket", bucket.name().unwrap_or("?").to_owned());
    }
    let iam = aws_sdk_iam::Client::new(&config);
    for role in iam.list_roles().send().await.unwrap().roles() {
        add("iam role", role.role_name().to_owned());
    }
    for user in iam.list_users().send().await.unwrap().users() {
        add("iam user", user.user_name().to_owned());
    }
    for profile in iam
        .list_instance_profiles()
        .send()
        .await
        .unwrap()
        .instance_profiles()
    {
        add(
            "iam instance profile",
            profile.instance_profile_name().to_owned(),
        );
    }
    let local = aws_sdk_iam::types::PolicyScopeType::Local;
    for policy in iam
        .list_policies()
        .scope(local)
        .send()
        .await
        .unwrap()
        .policies()
    {
        add(
            "iam managed policy",
            policy.policy_name().unwrap_or("?").to_owned(),
        );
    }
    let cloudfront = aws_sdk_cloudfront::Client::new(&config);
    let distributions = cloudfront.list_distributions().send().await.unwrap();
    if let Some(list) = distributions.distribution_list() {
        for distribution in list.items() {
            let aliases = distribution
                .aliases()
                .map(|aliases| aliases.items().join(","))
                .unwrap_or_default();
            add("cloudfront distribution", aliases);
        }
    }
    let controls = cloudfront
        .list_origin_access_controls()
        .send()
        .await
        .unwrap();
    if let Some(list) = controls.origin_access_control_list() {
        for control in list.items() {
            add(
                "cloudfront origin access control",
                control.name().to_owned(),
            );
        }
    }
    let keys = cloudfront.list_public_keys().send().await.unwrap();
    if let Some(list) = keys.public_key_list() {
        for key in list.items() {
            add("cloudfront public key", key.name().to_owned());
        }
    }
    let groups = cloudfront.list_key_groups().send().await.unwrap();
    if let Some(list) = groups.key_group_list() {
        for group in list.items() {
            add(
                "cloudfront key group",
                group
                    .key_group()
                    .and_then(|group| group.key_group_config())
                    .map(|config| config.name().to_owned())
                    .unwrap_or_default(),
            );
        }
    }
    let elasticache = aws_sdk_elasticache::Client::new(&config);
    for cache in elasticache
        .describe_serverless_caches()
        .send()
        .await
        .unwrap()
        .serverless_caches()
    {
        add(
            "elasticache serverless cache",
            cache.serverless_cache_name().unwrap_or("?").to_owned(),
        );
    }

    for names in census.values_mut() {
        names.sort();
    }
    census
}

/// Creates the stack through a proxy that faults 20 % of the calls.
fn faulted_creation(seed: u64) {
    eprintln!(
        "faults: seed {seed}: creation with {} % of calls faulted",
        FAULT_RATE * 100.0
    );
    let emulator = Emulator::start().expect("the emulator starts");
    let proxy = Proxy::start(
        &emulator.endpoint(),
        ProxyConfig {
            fault_rate: FAULT_RATE,
            seed,
            ..ProxyConfig::default()
        },
    )
    .expect("the proxy starts");
    let output = reconcile_through(&proxy.endpoint());
    let faults = proxy.faults();
    eprintln!(
        "faults: seed {seed}: {} calls, faults {faults:?}",
        proxy.calls().len()
    );
    assert_eq!(
        output.status.code(),
        Some(0),
        "seed {seed}: reconcile under faults {faults:?}: {}",
        describe(&output)
    );
    assert_stack_once(&emulator, &format!("seed {seed}"));
}

#[test]
fn creation_converges_under_faults() {
    for seed in seeds() {
        faulted_creation(seed);
    }
}

/// Number of creations killed with SIGKILL in the full form.
const KILLED_RUNS: u64 = 20;

#[test]
#[ignore = "full form, about 10 minutes: run by `cargo xtask faults`"]
fn killed_creation_converges_on_restart() {
    for run in 1..=KILLED_RUNS {
        let emulator = Emulator::start().expect("the emulator starts");
        // 50 ms per call stretches creation so that the kill lands mid-pass.
        let proxy = Proxy::start(
            &emulator.endpoint(),
            ProxyConfig {
                delay: Duration::from_millis(50),
                ..ProxyConfig::default()
            },
        )
        .expect("the proxy starts");
        let kill_after = Duration::from_millis(fastrand::Rng::with_seed(run).u64(500..15_000));
        eprintln!("faults: kill run {run}: SIGKILL after {kill_after:?}");

        let file = config_file();
        let mut command = Command::new(env!("CARGO_BIN_EXE_stackd"));
        command
            .args(["reconcile", "-f"])
            .arg(&file)
            .args(["--once", "--requeue-after", "1s", "--wait", WAIT])
            .args(["--endpoint-url", &proxy.endpoint()])
            .envs(aws_env())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        for name in AWS_ENV_REMOVED {
            command.env_remove(name);
        }
        let mut child = command.spawn().expect("the stackd binary starts");
        let started = Instant::now();
        while started.elapsed() < kill_after {
            if child.try_wait().unwrap().is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        // Kill sends SIGKILL.
        let _ = child.kill();
        let _ = child.wait();
        eprintln!(
            "faults: kill run {run}: killed after {} calls",
            proxy.calls().len()
        );

        let output = reconcile_through(&emulator.endpoint());
        assert_eq!(
            output.status.code(),
            Some(0),
            "kill run {run}: restart: {}",
            describe(&output)
        );
        assert_stack_once(&emulator, &format!("kill run {run}"));
    }
}

#[test]
#[ignore = "full form, over a minute: run by `cargo xtask faults`"]
fn sustained_throttling_then_converges() {
    let emulator = common::create_stack();
    let proxy = Proxy::start(
        &emulator.endpoint(),
        ProxyConfig {
            fault_rate: 1.0,
            faults: vec![Fault::Throttling],
            ..ProxyConfig::default()
        },
    )
    .expect("the proxy starts");

    // 1. A minute of throttling on every call: the run stops at --wait.
    let started = Instant::now();
    let file = config_file();
    let output = common::stackd_with_endpoint(
        &proxy.endpoint(),
        &[
            "reconcile",
            "-f",
            file.to_str().unwrap(),
            "--once",
            "--requeue-after",
            "1s",
            "--wait",
            "60s",
        ],
    );
    let throttled = proxy.calls().len();
    eprintln!(
        "faults: {throttled} calls in {:.0} s of throttling, exit {:?}",
        started.elapsed().as_secs_f64(),
        output.status.code()
    );
    assert_eq!(
        output.status.code(),
        Some(4),
        "a fully throttled run times out at --wait: {}",
        describe(&output)
    );
    // The pause between passes doubles while they fail without a change, so the
    // minute has room for about 6 passes (about 700 calls, SDK retries
    // included). A pass every second made about 1,600.
    assert!(
        throttled < 1_000,
        "{throttled} calls in a minute of throttling: the passes did not back off"
    );
    // 2. Throttling ends: the next run converges and changes nothing.
    proxy.set_fault_rate(0.0);
    emulator.reset_calls();
    let output = reconcile_through(&proxy.endpoint());
    assert_eq!(
        output.status.code(),
        Some(0),
        "after throttling: {}",
        describe(&output)
    );
    assert!(
        common::stack_writes(&emulator).is_empty(),
        "throttled calls changed nothing, so nothing is left to repair"
    );
}
