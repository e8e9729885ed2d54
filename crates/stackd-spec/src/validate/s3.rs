//! Checks of S3 buckets.

use std::collections::BTreeMap;

use super::{Context, check_ids, check_unique_names, values};
use crate::model;
use crate::path;
use crate::raw;
use crate::suggest::did_you_mean;

/// The `encryption` values, as the S3 API spells its SSE algorithms.
const ENCRYPTIONS: &[&str] = &["AES256", "aws:kms"];

pub(super) fn buckets(
    raw: &[raw::Bucket],
    stack_tags: &BTreeMap<String, String>,
    context: &mut Context<'_>,
) -> Vec<model::Bucket> {
    let list = "spec.buckets";
    check_ids(context, "bucket", list, raw.iter().map(|b| b.id.as_str()));
    check_unique_names(
        context,
        "bucket",
        raw.iter().enumerate().map(|(i, b)| {
            (
                path::join_key(&path::join_index(list, i), "name"),
                b.name.clone(),
            )
        }),
    );

    let mut buckets = Vec::new();
    for (i, bucket) in raw.iter().enumerate() {
        let at = path::join_index(list, i);
        if let Some(problem) = values::bucket_name_problem(&bucket.name) {
            context
                .error(&path::join_key(&at, "name"), format!("invalid bucket name \"{}\": {problem}", bucket.name))
                .set_help(
                    "S3 bucket names have 3 to 63 lowercase letters, digits, dots and hyphens, and start \
                     and end with a letter or digit",
                );
        }

        let encryption_path = path::join_key(&at, "encryption");
        let encryption = match bucket.encryption.as_deref().unwrap_or("AES256") {
            "AES256" => {
                if bucket.kms_key_id.is_some() {
                    context
                        .error(
                            &path::join_key(&at, "kmsKeyId"),
                            "kmsKeyId needs encryption: aws:kms",
                        )
                        .set_help("set encryption: aws:kms, or remove kmsKeyId");
                }
                model::BucketEncryption::Aes256
            }
            "aws:kms" => model::BucketEncryption::Kms {
                key_id: bucket.kms_key_id.clone(),
            },
            other => {
                let mut message = format!("unknown encryption \"{other}\"");
                if let Some(close) = did_you_mean(other, ENCRYPTIONS.iter().copied()) {
                    message.push_str(&format!(", did you mean \"{close}\"?"));
                }
                context
                    .error(&encryption_path, message)
                    .set_help("write AES256 for SSE-S3 or aws:kms for SSE-KMS");
                model::BucketEncryption::Aes256
            }
        };

        // A bucket carries the stack's tags and its own, so count them together.
        let mut all_tags = stack_tags.clone();
        all_tags.extend(bucket.tags.clone());
        values::check_tags(
            context,
            &path::join_key(&at, "tags"),
            &bucket.tags,
            values::MAX_USER_TAGS,
        );
        if all_tags.len() > values::MAX_USER_TAGS && bucket.tags.len() <= values::MAX_USER_TAGS {
            context
                .error(
                    &path::join_key(&at, "tags"),
                    format!(
                        "with the stack's tags, the bucket has {} tags",
                        all_tags.len()
                    ),
                )
                .set_help(format!(
                    "AWS allows 50 tags and stackd adds 2, so at most {} remain",
                    values::MAX_USER_TAGS
                ));
        }

        buckets.push(model::Bucket {
            id: bucket.id.clone(),
            name: bucket.name.clone(),
            encryption,
            versioning: bucket.versioning,
            retain: bucket.retain,
            tags: bucket.tags.clone(),
        });
    }
    buckets
}
