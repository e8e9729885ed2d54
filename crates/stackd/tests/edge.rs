//! Whole flows of the edge path against the emulator: the media and files
//! distributions with their origin access controls and trusted key group, and the
//! bucket policies that admit exactly their distribution. Each is created once,
//! left alone when converged, and put back after a change behind stackd's back.

use aws_sdk_cloudfront::types::{DistributionConfig, TrustedKeyGroups};
use serde_json::{Value, json};
use stackd_tests::Emulator;
use std::collections::BTreeMap;

mod common;
use common::*;

const MEDIA_BUCKET: &str = "beezyup-prod-public-media";
const FILES_BUCKET: &str = "beezyup-prod-private-files";
/// Ids of the AWS managed cache policies, as AWS documents them.
const CACHING_OPTIMIZED: &str = "658327ea-f89d-4fab-a63d-7e88639e58f6";
const CACHING_DISABLED: &str = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad";

async fn cloudfront(emulator: &Emulator) -> aws_sdk_cloudfront::Client {
    aws_sdk_cloudfront::Client::new(&sdk_config(emulator).await)
}

async fn s3(emulator: &Emulator) -> aws_sdk_s3::Client {
    let config = aws_sdk_s3::config::Builder::from(&sdk_config(emulator).await)
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

/// A distribution as GetDistribution returns it, with its ETag.
struct Found {
    id: String,
    arn: String,
    etag: String,
    config: DistributionConfig,
}

/// Returns every distribution of the emulator, keyed by its `stackd:id` tag.
async fn distributions(client: &aws_sdk_cloudfront::Client) -> BTreeMap<String, Found> {
    let list = client
        .list_distributions()
        .send()
        .await
        .expect("ListDistributions succeeds");
    let mut found = BTreeMap::new();
    let summaries = list
        .distribution_list()
        .map(|list| list.items().to_vec())
        .unwrap_or_default();
    for summary in summaries {
        let tags = client
            .list_tags_for_resource()
            .resource(summary.arn())
            .send()
            .await
            .expect("ListTagsForResource succeeds");
        let id_tag = tags
            .tags()
            .and_then(|tags| {
                tags.items()
                    .iter()
                    .find(|tag| tag.key() == "stackd:id")
                    .and_then(|tag| tag.value().map(str::to_owned))
            })
            .unwrap_or_default();
        let response = client
            .get_distribution()
            .id(summary.id())
            .send()
            .await
            .expect("GetDistribution succeeds");
        let distribution = response.distribution().expect("a distribution").clone();
        found.insert(
            id_tag,
            Found {
                id: distribution.id().to_owned(),
                arn: distribution.arn().to_owned(),
                etag: response.e_tag().expect("an ETag").to_owned(),
                config: distribution
                    .distribution_config()
                    .expect("a configuration")
                    .clone(),
            },
        );
    }
    found
}

/// Sends one UpdateDistribution, as a person in the console would.
async fn update_by_hand(
    client: &aws_sdk_cloudfront::Client,
    found: &Found,
    config: DistributionConfig,
) {
    client
        .update_distribution()
        .id(&found.id)
        .if_match(&found.etag)
        .distribution_config(config)
        .send()
        .await
        .expect("UpdateDistribution succeeds");
}

async fn bucket_policy(client: &aws_sdk_s3::Client, bucket: &str) -> Value {
    let response = client
        .get_bucket_policy()
        .bucket(bucket)
        .send()
        .await
        .expect("GetBucketPolicy succeeds");
    serde_json::from_str(response.policy().expect("a policy")).expect("the policy is JSON")
}

/// Returns a value that the policy writes as a string or a list of one, as a list.
fn as_list(value: &Value) -> Value {
    match value {
        Value::Array(_) => value.clone(),
        other => json!([other]),
    }
}

fn default_key_groups(config: &DistributionConfig) -> Vec<String> {
    config
        .default_cache_behavior()
        .and_then(|behavior| behavior.trusted_key_groups())
        .filter(|groups| groups.enabled())
        .map(|groups| groups.items().to_vec())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn edge_created_then_left_alone() {
    let emulator = create_stack();
    let client = cloudfront(&emulator).await;
    let found = distributions(&client).await;

    // Each distribution exists once. The api distribution is checked with the API.
    let ids: Vec<&str> = found.keys().map(String::as_str).collect();
    assert_eq!(
        ids,
        [
            "distribution/api",
            "distribution/files",
            "distribution/media"
        ]
    );

    for (logical, bucket) in [
        ("distribution/media", MEDIA_BUCKET),
        ("distribution/files", FILES_BUCKET),
    ] {
        let config = &found[logical].config;
        let origins = config.origins().expect("origins").items();
        assert_eq!(origins.len(), 1, "{logical} has one origin");
        assert_eq!(
            origins[0].domain_name(),
            format!("{bucket}.s3.eu-west-3.amazonaws.com"),
            "{logical} points at its bucket"
        );
        assert!(
            origins[0]
                .origin_access_control_id()
                .is_some_and(|id| !id.is_empty()),
            "{logical} reaches its bucket through an origin access control"
        );
        let behavior = config.default_cache_behavior().expect("a default behavior");
        assert_eq!(behavior.cache_policy_id(), Some(CACHING_OPTIMIZED));
    }
    assert!(
        default_key_groups(&found["distribution/media"].config).is_empty(),
        "media needs no signed URL"
    );
    assert_eq!(
        default_key_groups(&found["distribution/files"].config).len(),
        1,
        "files trusts one key group"
    );

    let controls = client.list_origin_access_controls().send().await.unwrap();
    let control_count = controls
        .origin_access_control_list()
        .map(|list| list.items().len())
        .unwrap_or_default();
    assert_eq!(
        control_count, 2,
        "one origin access control per bucket distribution"
    );

    // Each bucket admits exactly its own distribution.
    let s3 = s3(&emulator).await;
    for (logical, bucket) in [
        ("distribution/media", MEDIA_BUCKET),
        ("distribution/files", FILES_BUCKET),
    ] {
        let policy = bucket_policy(&s3, bucket).await;
        let statements = as_list(&policy["Statement"]);
        assert_eq!(
            statements.as_array().unwrap().len(),
            1,
            "{bucket}: one statement"
        );
        let statement = &statements[0];
        assert_eq!(
            as_list(&statement["Principal"]["Service"]),
            json!(["cloudfront.amazonaws.com"])
        );
        assert_eq!(
            as_list(&statement["Condition"]["StringEquals"]["AWS:SourceArn"]),
            json!([found[logical].arn]),
            "{bucket} admits {logical} only"
        );
    }

    emulator.reset_calls();
    let again = reconcile(&emulator, &config_file());
    assert_eq!(
        again.status.code(),
        Some(0),
        "second reconcile: {}",
        describe(&again)
    );
    let calls = emulator.calls();
    assert!(
        operations(&calls).contains(&"GetDistribution"),
        "the second reconcile read the distributions: {:?}",
        operations(&calls)
    );
    assert_eq!(
        emulator.mutating_calls(),
        Vec::new(),
        "the second reconcile changed nothing"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn edge_drift_is_put_back() {
    let emulator = create_stack();
    let client = cloudfront(&emulator).await;
    let s3 = s3(&emulator).await;
    let found = distributions(&client).await;

    // 1. Someone widens the media bucket's policy to a second principal.
    let mut widened = bucket_policy(&s3, MEDIA_BUCKET).await;
    let statement = &mut widened["Statement"][0];
    statement["Principal"] = json!({
        "Service": "cloudfront.amazonaws.com",
        "AWS": "arn:aws:iam::123456789012:root",
    });
    s3.put_bucket_policy()
        .bucket(MEDIA_BUCKET)
        .policy(widened.to_string())
        .send()
        .await
        .unwrap();

    // 2. Someone switches the media distribution's default behavior to CachingDisabled.
    let media = &found["distribution/media"];
    let mut config = media.config.clone();
    config
        .default_cache_behavior
        .as_mut()
        .unwrap()
        .cache_policy_id = Some(CACHING_DISABLED.to_owned());
    update_by_hand(&client, media, config).await;

    // 3. Someone removes the trusted key group from the files distribution.
    let files = &found["distribution/files"];
    let mut config = files.config.clone();
    config
        .default_cache_behavior
        .as_mut()
        .unwrap()
        .trusted_key_groups = Some(
        TrustedKeyGroups::builder()
            .enabled(false)
            .quantity(0)
            .build()
            .unwrap(),
    );
    update_by_hand(&client, files, config).await;

    let drifted = plan(&emulator, &config_file());
    assert_eq!(
        drifted.status.code(),
        Some(2),
        "plan sees drift: {}",
        describe(&drifted)
    );
    let text = stdout(&drifted);
    for expected in [
        "policy.Statement.0.Principal.AWS",
        &format!("defaultBehavior.cachePolicyId: {CACHING_DISABLED} -> {CACHING_OPTIMIZED}"),
        "defaultBehavior.trustedKeyGroups",
    ] {
        assert!(text.contains(expected), "plan shows {expected:?}:\n{text}");
    }

    emulator.reset_calls();
    let repaired = reconcile(&emulator, &config_file());
    assert_eq!(
        repaired.status.code(),
        Some(0),
        "reconcile repairs: {}",
        describe(&repaired)
    );
    let mut mutating: Vec<String> = stack_writes(&emulator)
        .into_iter()
        .map(|call| call.operation)
        .collect();
    mutating.sort();
    assert_eq!(
        mutating,
        [
            "PutBucketPolicy",
            "UpdateDistribution",
            "UpdateDistribution"
        ],
        "one call per drifted resource"
    );

    let policy = bucket_policy(&s3, MEDIA_BUCKET).await;
    assert_eq!(
        policy["Statement"][0]["Principal"].get("AWS"),
        None,
        "the second principal is gone"
    );
    let after = distributions(&client).await;
    let media_behavior = after["distribution/media"]
        .config
        .default_cache_behavior()
        .unwrap()
        .clone();
    assert_eq!(media_behavior.cache_policy_id(), Some(CACHING_OPTIMIZED));
    assert_eq!(
        default_key_groups(&after["distribution/files"].config).len(),
        1,
        "files trusts its key group again"
    );
    assert_eq!(after.len(), 3, "no distribution was added");

    let converged = plan(&emulator, &config_file());
    assert_eq!(
        converged.status.code(),
        Some(0),
        "plan after repair: {}",
        describe(&converged)
    );
}
