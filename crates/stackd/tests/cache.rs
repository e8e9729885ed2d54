//! Whole flows of the ElastiCache Serverless cache against the emulator: create it
//! with its limits, change one limit or two, put drift back, refuse a downgrade.

use aws_sdk_ec2::types::Filter;
use aws_sdk_elasticache::types::{CacheUsageLimits, EcpuPerSecond, ServerlessCache, Tag};
use stackd_tests::{Call, Emulator};

mod common;
use common::*;

const CACHE: &str = "beezyup-prod-c01";

/// The cache's limits in config/beezyup-prod-c01.yaml, as the file writes them.
const STORAGE_LINE: &str = "dataStorageMaxGb: 5 # PLACEHOLDER";
const ECPU_LINE: &str = "ecpuPerSecondMax: 5000 # PLACEHOLDER";
const VERSION_LINE: &str = "majorVersion: \"8\"";

async fn elasticache(emulator: &Emulator) -> aws_sdk_elasticache::Client {
    aws_sdk_elasticache::Client::new(&sdk_config(emulator).await)
}

/// Returns the cache as DescribeServerlessCaches reports it.
async fn live_cache(client: &aws_sdk_elasticache::Client) -> ServerlessCache {
    let response = client
        .describe_serverless_caches()
        .serverless_cache_name(CACHE)
        .send()
        .await
        .expect("DescribeServerlessCaches succeeds");
    response.serverless_caches()[0].clone()
}

fn storage_maximum(cache: &ServerlessCache) -> Option<i32> {
    cache
        .cache_usage_limits()
        .and_then(CacheUsageLimits::data_storage)
        .and_then(|storage| storage.maximum())
}

fn ecpu_maximum(cache: &ServerlessCache) -> Option<i32> {
    cache
        .cache_usage_limits()
        .and_then(CacheUsageLimits::ecpu_per_second)
        .and_then(EcpuPerSecond::maximum)
}

/// Creates the stack in a fresh emulator and checks that it converged.
fn create_stack() -> Emulator {
    let emulator = Emulator::start().expect("the emulator starts");
    let output = reconcile(&emulator, &config_file());
    assert_eq!(
        output.status.code(),
        Some(0),
        "first reconcile: {}",
        describe(&output)
    );
    emulator
}

#[tokio::test(flavor = "multi_thread")]
async fn reconcile_creates_cache_then_changes_nothing() {
    let emulator = create_stack();
    let config = sdk_config(&emulator).await;
    let client = aws_sdk_elasticache::Client::new(&config);
    let ec2 = aws_sdk_ec2::Client::new(&config);

    let cache = live_cache(&client).await;
    assert_eq!(cache.status(), Some("available"));
    assert_eq!(cache.engine(), Some("valkey"));
    assert_eq!(cache.major_engine_version(), Some("8"));
    assert_eq!(storage_maximum(&cache), Some(5));
    assert_eq!(
        cache
            .cache_usage_limits()
            .and_then(CacheUsageLimits::data_storage)
            .and_then(|storage| storage.unit())
            .map(|unit| unit.as_str()),
        Some("GB")
    );
    assert_eq!(ecpu_maximum(&cache), Some(5000));
    let address = cache
        .endpoint()
        .and_then(|endpoint| endpoint.address())
        .unwrap_or_default();
    assert!(
        address.ends_with(".serverless.euw3.cache.amazonaws.com"),
        "{address}"
    );

    // The cache sits in the private subnets, behind the cache security group.
    let subnets = ec2
        .describe_subnets()
        .filters(
            Filter::builder()
                .name("tag:stackd:stack")
                .values(STACK)
                .build(),
        )
        .filters(
            Filter::builder()
                .name("tag:stackd:id")
                .values("subnet/private-a")
                .values("subnet/private-b")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let mut private: Vec<&str> = subnets
        .subnets()
        .iter()
        .filter_map(|subnet| subnet.subnet_id())
        .collect();
    private.sort_unstable();
    let mut placed: Vec<&str> = cache.subnet_ids().iter().map(String::as_str).collect();
    placed.sort_unstable();
    assert_eq!(placed, private, "the cache is in the private subnets");
    let groups = ec2
        .describe_security_groups()
        .filters(
            Filter::builder()
                .name("tag:stackd:id")
                .values("security-group/cache")
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        cache.security_group_ids(),
        [groups.security_groups()[0].group_id().unwrap().to_owned()],
        "the cache has the cache security group only"
    );

    let tags = client
        .list_tags_for_resource()
        .resource_name(cache.arn().unwrap())
        .send()
        .await
        .unwrap();
    let id_tag = tags
        .tag_list()
        .iter()
        .find(|tag| tag.key() == Some("stackd:id"))
        .and_then(|tag| tag.value());
    assert_eq!(id_tag, Some("cache/main"));

    emulator.reset_calls();
    let again = reconcile(&emulator, &config_file());
    assert_eq!(
        again.status.code(),
        Some(0),
        "second reconcile: {}",
        describe(&again)
    );
    assert!(
        operations(&emulator.calls()).contains(&"DescribeServerlessCaches"),
        "the second reconcile observed the cache"
    );
    assert_eq!(
        emulator.mutating_calls(),
        Vec::new(),
        "the second reconcile changed nothing"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn raised_ecpu_limit_is_one_modify() {
    let emulator = create_stack();
    let raised = EditedStack::new(&[(ECPU_LINE, "ecpuPerSecondMax: 6000")]);
    emulator.reset_calls();

    let output = reconcile(&emulator, &raised.file);
    assert_eq!(
        output.status.code(),
        Some(0),
        "reconcile: {}",
        describe(&output)
    );

    assert_eq!(
        operations(&stack_writes(&emulator)),
        ["ModifyServerlessCache"],
        "exactly one mutating call"
    );
    let cache = live_cache(&elasticache(&emulator).await).await;
    assert_eq!(ecpu_maximum(&cache), Some(6000));
    assert_eq!(
        storage_maximum(&cache),
        Some(5),
        "data storage is unchanged"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn two_changed_limits_are_two_modifies_in_sequence() {
    let emulator = create_stack();
    let raised = EditedStack::new(&[
        (STORAGE_LINE, "dataStorageMaxGb: 10"),
        (ECPU_LINE, "ecpuPerSecondMax: 6000"),
    ]);
    emulator.reset_calls();

    let output = reconcile(&emulator, &raised.file);
    assert_eq!(
        output.status.code(),
        Some(0),
        "reconcile: {}",
        describe(&output)
    );

    let calls = emulator.calls();
    assert_eq!(
        operations(&stack_writes(&emulator)),
        ["ModifyServerlessCache", "ModifyServerlessCache"],
        "two mutating calls"
    );
    let modifies: Vec<usize> = calls
        .iter()
        .enumerate()
        .filter(|(_, call)| call.operation == "ModifyServerlessCache")
        .map(|(index, _)| index)
        .collect();
    for index in &modifies {
        assert_eq!(calls[*index].status, Some(200), "modify {index} succeeded");
    }
    let describes_between = calls[modifies[0]..modifies[1]]
        .iter()
        .filter(|call| call.operation == "DescribeServerlessCaches")
        .count();
    assert!(
        describes_between >= 2,
        "the second modify waited for the cache to be available again: {:?}",
        operations(&calls)
    );
    let cache = live_cache(&elasticache(&emulator).await).await;
    assert_eq!(storage_maximum(&cache), Some(10));
    assert_eq!(ecpu_maximum(&cache), Some(6000));
}

#[tokio::test(flavor = "multi_thread")]
async fn hand_changed_limit_and_tag_are_put_back() {
    let emulator = create_stack();
    let client = elasticache(&emulator).await;
    client
        .modify_serverless_cache()
        .serverless_cache_name(CACHE)
        .cache_usage_limits(
            CacheUsageLimits::builder()
                .ecpu_per_second(EcpuPerSecond::builder().maximum(9000).build())
                .build(),
        )
        .send()
        .await
        .expect("the hand-made modify succeeds");
    let arn = live_cache(&client).await.arn().unwrap().to_owned();
    client
        .add_tags_to_resource()
        .resource_name(&arn)
        .tags(Tag::builder().key("owner").value("alice").build())
        .send()
        .await
        .expect("the hand-made tag is added");

    plan_shows_drift(
        &emulator,
        &config_file(),
        &[
            "limits.ecpuPerSecondMax: 9000 -> 5000",
            "tags.owner: alice -> (none)",
        ],
    );

    let repaired = reconcile(&emulator, &config_file());
    assert_eq!(
        repaired.status.code(),
        Some(0),
        "reconcile repairs: {}",
        describe(&repaired)
    );
    assert_eq!(ecpu_maximum(&live_cache(&client).await), Some(5000));
    let tags = client
        .list_tags_for_resource()
        .resource_name(&arn)
        .send()
        .await
        .unwrap();
    assert!(
        tags.tag_list().iter().all(|tag| tag.key() != Some("owner")),
        "the hand-made tag is removed: {:?}",
        tags.tag_list()
    );
    let after = plan(&emulator, &config_file());
    assert_eq!(
        after.status.code(),
        Some(0),
        "plan after repair: {}",
        describe(&after)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn major_version_downgrade_is_refused() {
    let emulator = create_stack();
    let downgraded = EditedStack::new(&[(VERSION_LINE, "majorVersion: \"7\"")]);
    emulator.reset_calls();

    let planned = plan(&emulator, &downgraded.file);
    assert_eq!(
        planned.status.code(),
        Some(2),
        "plan shows the downgrade: {}",
        describe(&planned)
    );
    let text = stdout(&planned);
    assert!(text.contains("majorVersion: 8 -> 7"), "{text}");
    assert!(text.contains("REPLACE"), "{text}");

    // Without permission for destructive changes, the engine withholds it.
    let refused = reconcile(&emulator, &downgraded.file);
    assert_eq!(
        refused.status.code(),
        Some(3),
        "reconcile refuses: {}",
        describe(&refused)
    );
    let text = stdout(&refused);
    assert!(
        text.contains("replacing cache/main needs --max-destructive"),
        "{text}"
    );

    // With permission, the cache component still refuses: it never replaces
    // a cache, whose data would be lost.
    let permitted = reconcile_with(&emulator, &downgraded.file, &["--max-destructive", "1"]);
    assert_eq!(
        permitted.status.code(),
        Some(3),
        "reconcile refuses: {}",
        describe(&permitted)
    );
    let text = stdout(&permitted);
    assert!(
        text.contains("cannot downgrade a serverless cache's major engine version from 8 to 7"),
        "{text}"
    );
    assert!(
        !operations(&emulator.calls()).contains(&"ModifyServerlessCache"),
        "no ModifyServerlessCache call"
    );
    let cache = live_cache(&elasticache(&emulator).await).await;
    assert_eq!(cache.major_engine_version(), Some("8"));
}

#[tokio::test(flavor = "multi_thread")]
async fn untagged_cache_with_our_name_is_left_alone() {
    let emulator = Emulator::start().expect("the emulator starts");
    let client = elasticache(&emulator).await;
    client
        .create_serverless_cache()
        .serverless_cache_name(CACHE)
        .engine("valkey")
        .send()
        .await
        .expect("the hand-made cache is created");
    emulator.reset_calls();

    let output = reconcile(&emulator, &config_file());
    assert_eq!(
        output.status.code(),
        Some(3),
        "refused by the ownership guard: {}",
        describe(&output)
    );
    let text = stdout(&output);
    assert!(text.contains("cache/main"), "{text}");
    assert!(text.contains("belongs to someone else"), "{text}");
    let changed: Vec<Call> = emulator
        .mutating_calls()
        .into_iter()
        .filter(|call| call.service == "elasticache")
        .collect();
    assert_eq!(changed, Vec::new(), "no call changed the foreign cache");
}

/// Returns the stack file without its cache: the cache section and the two
/// environment values that read the cache's endpoint are removed.
fn without_cache(text: &str) -> String {
    let start = text
        .find("  caches:\n")
        .expect("the file has a caches section");
    let end = start + text[start..].find("\n\n").expect("the section ends") + 1;
    let mut text = format!("{}{}", &text[..start], &text[end..]);
    for line in [
        "              REDIS_HOST: \"${cache:main.endpoint}\"\n",
        "              REDIS_PORT: \"${cache:main.port}\"\n",
    ] {
        assert_eq!(
            text.matches(line).count(),
            1,
            "the file contains {line:?} once"
        );
        text = text.replace(line, "");
    }
    text
}

async fn cache_names(client: &aws_sdk_elasticache::Client) -> Vec<String> {
    let response = client
        .describe_serverless_caches()
        .send()
        .await
        .expect("DescribeServerlessCaches succeeds");
    response
        .serverless_caches()
        .iter()
        .filter_map(|cache| cache.serverless_cache_name().map(str::to_owned))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn removed_cache_follows_deletion_policy() {
    let emulator = create_stack();
    let client = elasticache(&emulator).await;

    // Retained by default: pruning leaves it alone.
    let removed = EditedStack::with_text(&without_cache(&stack_text()));
    emulator.reset_calls();
    let pruned = reconcile_with(
        &emulator,
        &removed.file,
        &["--prune", "--max-destructive", "5"],
    );
    assert_eq!(pruned.status.code(), Some(0), "{}", describe(&pruned));
    assert!(
        !operations(&emulator.calls()).contains(&"DeleteServerlessCache"),
        "a retained cache is never deleted"
    );
    assert_eq!(cache_names(&client).await, [CACHE]);

    // `retain: false` is written to the cache as its deletion policy.
    let deletable = EditedStack::new(&[(VERSION_LINE, "majorVersion: \"8\"\n      retain: false")]);
    let retagged = reconcile(&emulator, &deletable.file);
    assert_eq!(retagged.status.code(), Some(0), "{}", describe(&retagged));
    let tags = client
        .list_tags_for_resource()
        .resource_name(live_cache(&client).await.arn().unwrap())
        .send()
        .await
        .unwrap();
    assert!(
        tags.tag_list().contains(
            &Tag::builder()
                .key("stackd:deletion-policy")
                .value("delete")
                .build()
        ),
        "{:?}",
        tags.tag_list()
    );

    // Now leaving the file plans a deletion, which needs --prune.
    let removed = EditedStack::with_text(&without_cache(&stack_text()));
    let planned = plan(&emulator, &removed.file);
    assert_eq!(planned.status.code(), Some(2), "{}", describe(&planned));
    let text = stdout(&planned);
    assert!(
        text.lines()
            .any(|line| line.contains("cache/main") && line.contains("<-- DELETE")),
        "{text}"
    );
    let refused = reconcile(&emulator, &removed.file);
    assert_eq!(refused.status.code(), Some(3), "{}", describe(&refused));
    assert_eq!(cache_names(&client).await, [CACHE]);

    emulator.reset_calls();
    let deleted = reconcile_with(
        &emulator,
        &removed.file,
        &["--prune", "--max-destructive", "1"],
    );
    assert_eq!(deleted.status.code(), Some(0), "{}", describe(&deleted));
    let calls = emulator.calls();
    let deletes = operations(&calls)
        .into_iter()
        .filter(|operation| *operation == "DeleteServerlessCache")
        .count();
    assert_eq!(deletes, 1);
    assert_eq!(cache_names(&client).await, Vec::<String>::new());
}
