//! The safety guards against the emulator: the account guard, the write lease,
//! pruning and the destruction budget.

use aws_sdk_ec2::types::Filter;
use stackd_tests::Emulator;

mod common;
use common::*;

/// Exit code of `reconcile --once` when a guard refused a change.
const EXIT_REFUSED: i32 = 3;

/// A subnet that only the edited copies of the file contain.
const SPARE_SUBNET: &str = "      - id: spare\n        tier: private\n        zone: eu-west-3a\n        cidr: 10.0.20.0/24\n";
/// The last line of the subnets list, after which the spare subnet goes.
const LAST_SUBNET_LINE: &str = "        cidr: 10.0.11.0/24\n";

async fn subnet_cidrs(emulator: &Emulator) -> Vec<String> {
    let ec2 = aws_sdk_ec2::Client::new(&sdk_config(emulator).await);
    let response = ec2
        .describe_subnets()
        .filters(
            Filter::builder()
                .name("tag:stackd:stack")
                .values(STACK)
                .build(),
        )
        .send()
        .await
        .expect("DescribeSubnets succeeds");
    let mut cidrs: Vec<String> = response
        .subnets()
        .iter()
        .filter_map(|subnet| subnet.cidr_block().map(str::to_owned))
        .collect();
    cidrs.sort();
    cidrs
}

#[test]
fn account_guard_refuses_before_any_write() {
    let emulator = Emulator::start().expect("the emulator starts");
    let other_account = EditedStack::new(&[(
        &format!("account: \"{EMULATOR_ACCOUNT}\""),
        "account: \"111111111111\"",
    )]);

    let output = reconcile(&emulator, &other_account.file);

    assert_eq!(
        output.status.code(),
        Some(EXIT_REFUSED),
        "{}",
        describe(&output)
    );
    assert_eq!(emulator.mutating_calls(), Vec::new(), "nothing was written");
    assert!(
        stdout(&output).contains("the credentials belong to account 123456789012, but the file names account 111111111111"),
        "{}",
        describe(&output)
    );
}

#[tokio::test]
async fn removed_subnet_needs_pruning() {
    let emulator = Emulator::start().expect("the emulator starts");
    let with_spare = EditedStack::new(&[(
        LAST_SUBNET_LINE,
        &format!("{LAST_SUBNET_LINE}{SPARE_SUBNET}"),
    )]);
    let created = reconcile(&emulator, &with_spare.file);
    assert_eq!(created.status.code(), Some(0), "{}", describe(&created));
    assert!(
        subnet_cidrs(&emulator)
            .await
            .contains(&"10.0.20.0/24".to_owned())
    );

    // Without pruning, the subnet stays and the run reports what it withheld.
    let refused = reconcile(&emulator, &config_file());
    assert_eq!(
        refused.status.code(),
        Some(EXIT_REFUSED),
        "{}",
        describe(&refused)
    );
    assert!(
        stdout(&refused).contains("deleting subnet/spare needs pruning"),
        "{}",
        describe(&refused)
    );
    assert!(
        subnet_cidrs(&emulator)
            .await
            .contains(&"10.0.20.0/24".to_owned())
    );

    // Pruning without a budget still deletes nothing.
    let no_budget = reconcile_with(&emulator, &config_file(), &["--prune"]);
    assert_eq!(
        no_budget.status.code(),
        Some(EXIT_REFUSED),
        "{}",
        describe(&no_budget)
    );
    assert!(
        subnet_cidrs(&emulator)
            .await
            .contains(&"10.0.20.0/24".to_owned())
    );

    // With both, the subnet is deleted and the stack converges.
    let pruned = reconcile_with(
        &emulator,
        &config_file(),
        &["--prune", "--max-destructive", "1"],
    );
    assert_eq!(pruned.status.code(), Some(0), "{}", describe(&pruned));
    assert!(
        !subnet_cidrs(&emulator)
            .await
            .contains(&"10.0.20.0/24".to_owned())
    );
}

#[tokio::test]
async fn vpc_cidr_change_is_refused_without_permission() {
    let emulator = create_stack();
    let moved = EditedStack::with_text(&stack_text().replace("10.0.", "10.1."));
    emulator.reset_calls();

    let output = reconcile(&emulator, &moved.file);

    assert_eq!(
        output.status.code(),
        Some(EXIT_REFUSED),
        "{}",
        describe(&output)
    );
    assert!(
        stdout(&output).contains("replacing vpc needs --max-destructive"),
        "{}",
        describe(&output)
    );
    assert_eq!(emulator.mutating_calls(), Vec::new(), "nothing was written");
    assert!(
        subnet_cidrs(&emulator)
            .await
            .contains(&"10.0.10.0/24".to_owned())
    );
}

#[tokio::test]
async fn held_lease_makes_once_wait_then_refuse() {
    let emulator = Emulator::start().expect("the emulator starts");
    hold_lease_elsewhere(&emulator, 3600).await;
    emulator.reset_calls();

    let output = reconcile_with(&emulator, &config_file(), &["--lock-timeout", "2s"]);

    assert_eq!(
        output.status.code(),
        Some(EXIT_REFUSED),
        "{}",
        describe(&output)
    );
    assert!(
        stdout(&output).contains("is held by ops-box pid 4242 (daemon"),
        "the refusal names the holder: {}",
        describe(&output)
    );
    assert_eq!(emulator.mutating_calls(), Vec::new(), "nothing was written");
    assert_eq!(lease_record(&emulator).await["holder"]["pid"], 4242);
}

#[tokio::test]
async fn stale_lease_is_taken_over_after_its_ttl() {
    let emulator = Emulator::start().expect("the emulator starts");
    // Its holder stopped renewing it: after 10 s without a change, it is free.
    hold_lease_elsewhere(&emulator, 10).await;

    let output = reconcile_with(&emulator, &config_file(), &["--lock-timeout", "30s"]);

    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
    let record = lease_record(&emulator).await;
    assert_eq!(
        record["holder"],
        serde_json::Value::Null,
        "released: {record}"
    );
    assert_eq!(record["generation"], 8, "{record}");
    assert_eq!(subnet_cidrs(&emulator).await.len(), 4);
}

#[tokio::test]
async fn two_concurrent_runs_take_turns() {
    let emulator = Emulator::start().expect("the emulator starts");
    let file = config_file();
    let (first, second) = std::thread::scope(|scope| {
        let first = scope.spawn(|| reconcile_with(&emulator, &file, &["--lock-timeout", "1s"]));
        let second = scope.spawn(|| reconcile_with(&emulator, &file, &["--lock-timeout", "1s"]));
        (first.join().unwrap(), second.join().unwrap())
    });

    let mut codes = [first.status.code(), second.status.code()];
    codes.sort();
    assert_eq!(
        codes,
        [Some(0), Some(EXIT_REFUSED)],
        "exactly one run writes:\n{}\n{}",
        describe(&first),
        describe(&second)
    );
    let loser = if first.status.code() == Some(EXIT_REFUSED) {
        &first
    } else {
        &second
    };
    assert!(
        stdout(loser).contains("was not free within --lock-timeout 1s"),
        "{}",
        describe(loser)
    );
    let vpcs = aws_sdk_ec2::Client::new(&sdk_config(&emulator).await)
        .describe_vpcs()
        .filters(
            Filter::builder()
                .name("tag:stackd:stack")
                .values("beezyup-prod-c01")
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(vpcs.vpcs().len(), 1, "one VPC, not two");
}
