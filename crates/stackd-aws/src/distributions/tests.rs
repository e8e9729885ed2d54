//! Call sequences of the distribution component that moto cannot show, played with
//! aws-smithy-mocks against a small in-memory CloudFront.

use super::*;
use crate::mocks::{mock_client, offline_clients};
use crate::tags::ID_TAG;
use aws_sdk_cloudfront::Client;
use aws_sdk_cloudfront::operation::create_distribution_with_tags::{
    CreateDistributionWithTagsError, CreateDistributionWithTagsOutput,
};
use aws_sdk_cloudfront::operation::create_public_key::CreatePublicKeyError;
use aws_sdk_cloudfront::operation::get_distribution::{
    GetDistributionError, GetDistributionOutput,
};
use aws_sdk_cloudfront::operation::list_distributions::ListDistributionsOutput;
use aws_sdk_cloudfront::operation::list_origin_access_controls::ListOriginAccessControlsOutput;
use aws_sdk_cloudfront::operation::list_public_keys::ListPublicKeysOutput;
use aws_sdk_cloudfront::operation::list_tags_for_resource::ListTagsForResourceOutput;
use aws_sdk_cloudfront::operation::update_distribution::{
    UpdateDistributionError, UpdateDistributionOutput,
};
use aws_sdk_cloudfront::types::error::{
    DistributionAlreadyExists, NoSuchDistribution, PreconditionFailed, PublicKeyAlreadyExists,
};
use aws_sdk_cloudfront::types::{
    self as sdk, DistributionList, DistributionSummary, HttpVersion, OriginAccessControlList,
    OriginAccessControlOriginTypes, OriginAccessControlSigningBehaviors,
    OriginAccessControlSigningProtocols, OriginAccessControlSummary, PriceClass, PublicKeyList,
    PublicKeySummary, Tag, Tags,
};
use aws_smithy_mocks::{MockResponse, Rule, mock};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::DateTime;
use aws_smithy_types::body::SdkBody;
use stackd_spec::model::{AllowedMethods, CacheBehavior, ManagedPolicy};
use std::sync::{Arc, Mutex as StdMutex};

const STACK: &str = "s";
const BUCKET_DOMAIN: &str = "media.s3.eu-west-3.amazonaws.com";
const CONTROL_ID: &str = "E2OAC";

/// A distribution as the in-memory CloudFront stores it.
#[derive(Debug, Clone)]
struct Stored {
    id: String,
    config: sdk::DistributionConfig,
    etag: String,
    tags: BTreeMap<String, String>,
}

impl Stored {
    fn arn(&self) -> String {
        format!("arn:aws:cloudfront::123456789012:distribution/{}", self.id)
    }

    fn distribution(&self) -> sdk::Distribution {
        sdk::Distribution::builder()
            .id(&self.id)
            .arn(self.arn())
            .status("Deployed")
            .last_modified_time(DateTime::from_secs(0))
            .in_progress_invalidation_batches(0)
            .domain_name(format!("{}.cloudfront.net", self.id.to_lowercase()))
            .distribution_config(self.config.clone())
            .build()
            .unwrap()
    }
}

/// The state of the in-memory CloudFront and what it was asked.
#[derive(Debug, Default)]
struct CloudFront {
    distributions: Vec<Stored>,
    creates: usize,
    /// The If-Match header of each UpdateDistribution, in order.
    update_if_matches: Vec<String>,
    etag_count: usize,
}

impl CloudFront {
    fn next_etag(&mut self) -> String {
        self.etag_count += 1;
        format!("ETAG{}", self.etag_count)
    }
}

type Shared = Arc<StdMutex<CloudFront>>;

fn http_500() -> HttpResponse {
    HttpResponse::new(StatusCode::try_from(500).unwrap(), SdkBody::empty())
}

/// Rules that answer the distribution calls from the shared state.
fn rules(cloudfront: &Shared) -> Vec<Rule> {
    let state = Arc::clone(cloudfront);
    let list = mock!(Client::list_distributions).then_compute_output(move |_| {
        let state = state.lock().unwrap();
        let items: Vec<DistributionSummary> = state
            .distributions
            .iter()
            .map(|stored| {
                DistributionSummary::builder()
                    .id(&stored.id)
                    .arn(stored.arn())
                    .status("Deployed")
                    .last_modified_time(DateTime::from_secs(0))
                    .domain_name("d.cloudfront.net")
                    .comment(&stored.config.comment)
                    .price_class(PriceClass::PriceClassAll)
                    .enabled(true)
                    .web_acl_id("")
                    .http_version(HttpVersion::Http2)
                    .staging(false)
                    .is_ipv6_enabled(true)
                    .build()
                    .unwrap()
            })
            .collect();
        ListDistributionsOutput::builder()
            .distribution_list(
                DistributionList::builder()
                    .marker("")
                    .max_items(100)
                    .is_truncated(false)
                    .quantity(items.len() as i32)
                    .set_items(Some(items))
                    .build()
                    .unwrap(),
            )
            .build()
    });

    let state = Arc::clone(cloudfront);
    let tags = mock!(Client::list_tags_for_resource).then_compute_output(move |input| {
        let state = state.lock().unwrap();
        let found = state
            .distributions
            .iter()
            .find(|stored| Some(stored.arn().as_str()) == input.resource());
        let items: Vec<Tag> = found
            .map(|stored| {
                stored
                    .tags
                    .iter()
                    .map(|(key, value)| Tag::builder().key(key).value(value).build().unwrap())
                    .collect()
            })
            .unwrap_or_default();
        ListTagsForResourceOutput::builder()
            .tags(Tags::builder().set_items(Some(items)).build())
            .build()
    });

    let state = Arc::clone(cloudfront);
    let get = mock!(Client::get_distribution).then_compute_response(move |input| {
        let state = state.lock().unwrap();
        match state
            .distributions
            .iter()
            .find(|stored| Some(stored.id.as_str()) == input.id())
        {
            Some(stored) => MockResponse::Output(
                GetDistributionOutput::builder()
                    .distribution(stored.distribution())
                    .e_tag(&stored.etag)
                    .build(),
            ),
            None => MockResponse::Error(GetDistributionError::NoSuchDistribution(
                NoSuchDistribution::builder().build(),
            )),
        }
    });

    let state = Arc::clone(cloudfront);
    let update = mock!(Client::update_distribution).then_compute_response(move |input| {
        let mut state = state.lock().unwrap();
        let if_match = input.if_match().unwrap_or_default().to_owned();
        state.update_if_matches.push(if_match.clone());
        let etag = state.next_etag();
        let stored = state
            .distributions
            .iter_mut()
            .find(|stored| Some(stored.id.as_str()) == input.id())
            .unwrap();
        if stored.etag != if_match {
            return MockResponse::Error(UpdateDistributionError::PreconditionFailed(
                PreconditionFailed::builder().build(),
            ));
        }
        stored.config = input.distribution_config().unwrap().clone();
        stored.etag = etag.clone();
        MockResponse::Output(
            UpdateDistributionOutput::builder()
                .distribution(stored.distribution())
                .e_tag(etag)
                .build(),
        )
    });

    let controls = mock!(Client::list_origin_access_controls).then_output(|| {
        let control = OriginAccessControlSummary::builder()
            .id(CONTROL_ID)
            .description("")
            .name(format!("{STACK}-media"))
            .signing_protocol(OriginAccessControlSigningProtocols::Sigv4)
            .signing_behavior(OriginAccessControlSigningBehaviors::Always)
            .origin_access_control_origin_type(OriginAccessControlOriginTypes::S3)
            .build()
            .unwrap();
        ListOriginAccessControlsOutput::builder()
            .origin_access_control_list(
                OriginAccessControlList::builder()
                    .marker("")
                    .max_items(100)
                    .is_truncated(false)
                    .quantity(1)
                    .items(control)
                    .build()
                    .unwrap(),
            )
            .build()
    });

    vec![list, tags, get, update, controls]
}

/// Stores the distribution that a create request describes, or returns the
/// DistributionAlreadyExists error of CloudFront for a caller reference it knows.
fn store_created(
    state: &mut CloudFront,
    request: &sdk::DistributionConfigWithTags,
) -> Result<sdk::Distribution, Box<CreateDistributionWithTagsError>> {
    state.creates += 1;
    let config = request.distribution_config().unwrap().clone();
    if state
        .distributions
        .iter()
        .any(|stored| stored.config.caller_reference == config.caller_reference)
    {
        return Err(Box::new(
            CreateDistributionWithTagsError::DistributionAlreadyExists(
                DistributionAlreadyExists::builder()
                    .message("The caller reference is associated with another distribution.")
                    .build(),
            ),
        ));
    }
    let tags = request
        .tags()
        .and_then(|tags| tags.items.clone())
        .unwrap_or_default()
        .into_iter()
        .map(|tag| (tag.key, tag.value.unwrap_or_default()))
        .collect();
    let etag = state.next_etag();
    let stored = Stored {
        id: format!("E{}", state.distributions.len() + 1),
        config,
        etag,
        tags,
    };
    let distribution = stored.distribution();
    state.distributions.push(stored);
    Ok(distribution)
}

/// A CreateDistributionWithTags rule that creates what it is asked.
fn create_rule(cloudfront: &Shared) -> Rule {
    let state = Arc::clone(cloudfront);
    mock!(Client::create_distribution_with_tags).then_compute_response(move |input| {
        let mut state = state.lock().unwrap();
        match store_created(&mut state, input.distribution_config_with_tags().unwrap()) {
            Ok(distribution) => MockResponse::Output(
                CreateDistributionWithTagsOutput::builder()
                    .distribution(distribution)
                    .build(),
            ),
            Err(error) => MockResponse::Error(*error),
        }
    })
}

/// A CreateDistributionWithTags rule whose first call creates the distribution and
/// then answers HTTP 500, as if the response were lost, and whose second call (the
/// SDK's retry) gets CloudFront's answer to a known caller reference.
fn create_rule_lost_after_effect(cloudfront: &Shared) -> Rule {
    // During a retry the mock sees no input, so the matcher keeps the request of
    // the first attempt for the response to store.
    let request: Arc<StdMutex<Option<sdk::DistributionConfigWithTags>>> = Arc::default();
    let seen = Arc::clone(&request);
    let state = Arc::clone(cloudfront);
    let retried = Arc::clone(cloudfront);
    mock!(Client::create_distribution_with_tags)
        .match_requests(move |input| {
            *seen.lock().unwrap() = input.distribution_config_with_tags().cloned();
            true
        })
        .sequence()
        .http_response(move || {
            let request = request.lock().unwrap().clone().unwrap();
            store_created(&mut state.lock().unwrap(), &request).unwrap();
            http_500()
        })
        .error(move || {
            retried.lock().unwrap().creates += 1;
            CreateDistributionWithTagsError::DistributionAlreadyExists(
                DistributionAlreadyExists::builder()
                    .message("The caller reference is associated with another distribution.")
                    .build(),
            )
        })
        .build()
}

fn policy(name: &str, id: &str) -> ManagedPolicy {
    ManagedPolicy {
        name: name.to_owned(),
        id: id.to_owned(),
    }
}

/// The media distribution: one bucket origin, one default behavior.
fn media() -> Distribution {
    Distribution {
        id: "media".to_owned(),
        comment: Some("media.beezyup.com".to_owned()),
        aliases: vec!["media.beezyup.com".to_owned()],
        certificate_arn: Some("arn:aws:acm:us-east-1:000000000000:certificate/1".to_owned()),
        minimum_protocol_version: Some("TLSv1.2_2021".to_owned()),
        origin: Origin::Bucket("media".to_owned()),
        default_behavior: CacheBehavior {
            path_pattern: None,
            cache_policy: policy("CachingOptimized", "658327ea-f89d-4fab-a63d-7e88639e58f6"),
            origin_request_policy: None,
            allowed_methods: AllowedMethods::GetHead,
        },
        behaviors: Vec::new(),
        signed_urls: None,
    }
}

fn component_with(cloudfront: &Shared, create: Rule) -> DistributionComponent {
    let rules = rules(cloudfront);
    let client = mock_client!(
        aws_sdk_cloudfront,
        [
            &rules[0], &rules[1], &rules[2], &rules[3], &rules[4], &create
        ]
    );
    let clients = crate::clients::AwsClients {
        cloudfront: client,
        ..offline_clients()
    };
    DistributionComponent::with_keys(
        clients,
        Tagger::new(STACK, &BTreeMap::new()),
        media(),
        Vec::new(),
    )
}

fn component(cloudfront: &Shared) -> DistributionComponent {
    component_with(cloudfront, create_rule(cloudfront))
}

fn inputs() -> Inputs {
    let mut bucket = Outputs::new();
    bucket.insert("regionalDomainName".to_owned(), BUCKET_DOMAIN.to_owned());
    Inputs::new(BTreeMap::from([(
        ComponentId::named(buckets::KIND, "media"),
        bucket,
    )]))
}

/// Runs what the engine runs in one apply pass: observe, diff, apply, observe again.
/// Returns the actions applied and the diff that remains.
async fn apply_pass(component: &DistributionComponent) -> (Vec<Action>, Vec<Planned<Action>>) {
    let inputs = inputs();
    let live = component.observe().await.unwrap();
    let actions: Vec<Action> = component
        .diff(&live, &inputs)
        .into_iter()
        .map(|step| step.action)
        .collect();
    component
        .apply(&live, actions.clone(), &inputs)
        .await
        .unwrap();
    let after = component.observe().await.unwrap();
    (actions, component.diff(&after, &inputs))
}

#[tokio::test]
async fn create_lost_after_a_500_leaves_one_distribution() {
    let cloudfront: Shared = Arc::default();
    let component = component_with(&cloudfront, create_rule_lost_after_effect(&cloudfront));

    // The SDK retries the 500 with the same caller reference, which CloudFront
    // rejects as a duplicate, so the observation after the apply finds the first one.
    let (actions, remaining) = apply_pass(&component).await;
    assert_eq!(actions, [Action::CreateDistribution]);
    assert!(remaining.is_empty(), "{remaining:?}");

    // A second pass finds the distribution and creates nothing.
    let (actions, remaining) = apply_pass(&component).await;
    assert!(actions.is_empty(), "{actions:?}");
    assert!(remaining.is_empty(), "{remaining:?}");

    let state = cloudfront.lock().unwrap();
    assert_eq!(state.creates, 2, "one create and one SDK retry");
    assert_eq!(state.distributions.len(), 1, "exactly one distribution");
    let stored = &state.distributions[0];
    assert_eq!(
        stored.tags.get(ID_TAG).map(String::as_str),
        Some("distribution/media")
    );
}

#[tokio::test]
async fn create_lost_for_a_whole_pass_is_found_by_its_tags() {
    let cloudfront: Shared = Arc::default();
    let component = component(&cloudfront);
    // A create that took effect in an earlier process, whose response was lost.
    let (actions, _) = apply_pass(&component).await;
    assert_eq!(actions, [Action::CreateDistribution]);

    // A new component has no remembered id and must find it by its tags.
    let fresh = self::component(&cloudfront);
    let (actions, remaining) = apply_pass(&fresh).await;

    assert!(actions.is_empty(), "{actions:?}");
    assert!(remaining.is_empty(), "{remaining:?}");
    assert_eq!(cloudfront.lock().unwrap().distributions.len(), 1);
}

#[tokio::test]
async fn update_after_a_concurrent_change_rereads_and_succeeds() {
    let cloudfront: Shared = Arc::default();
    let component = component(&cloudfront);
    apply_pass(&component).await;

    // Drift: the default behavior's cache policy changed in the console.
    let live = component.observe().await.unwrap();
    {
        let mut state = cloudfront.lock().unwrap();
        let etag = state.next_etag();
        let stored = &mut state.distributions[0];
        let behavior = stored.config.default_cache_behavior.as_mut().unwrap();
        behavior.cache_policy_id = Some("4135ea2d-6df8-44a3-9df3-4b5a84be39ad".to_owned());
        stored.etag = etag;
    }
    let live_before_concurrent_change = component.observe().await.unwrap();
    let plan = component.diff(&live_before_concurrent_change, &inputs());
    assert_eq!(plan.len(), 1);
    assert_eq!(
        plan[0].change.fields[0].path,
        "defaultBehavior.cachePolicyId"
    );
    let read_etag = live_before_concurrent_change
        .distribution
        .as_ref()
        .unwrap()
        .etag
        .clone();
    assert_ne!(live.distribution.unwrap().etag, read_etag);

    // Someone else updates the distribution between stackd's read and its update.
    let concurrent_etag = {
        let mut state = cloudfront.lock().unwrap();
        let etag = state.next_etag();
        let stored = &mut state.distributions[0];
        stored.config.price_class = Some(PriceClass::PriceClass100);
        stored.etag = etag.clone();
        etag
    };

    let actions: Vec<Action> = plan.into_iter().map(|step| step.action).collect();
    component
        .apply(&live_before_concurrent_change, actions, &inputs())
        .await
        .unwrap();

    let state = cloudfront.lock().unwrap();
    assert_eq!(
        state.update_if_matches,
        [read_etag, concurrent_etag],
        "the stale ETag, then the one read again"
    );
    let config = &state.distributions[0].config;
    assert_eq!(
        config
            .default_cache_behavior
            .as_ref()
            .unwrap()
            .cache_policy_id
            .as_deref(),
        Some("658327ea-f89d-4fab-a63d-7e88639e58f6"),
        "the file's cache policy is back"
    );
    assert_eq!(
        config.price_class,
        Some(PriceClass::PriceClass100),
        "the concurrent change to a field the file does not own is kept"
    );
}

#[test]
fn long_names_are_bounded_and_distinct() {
    let long = "x".repeat(100);
    let first = bounded_name(&format!("{long}-a"), 64);
    let second = bounded_name(&format!("{long}-b"), 64);
    assert_eq!(first.len(), 64);
    assert_ne!(first, second);
    assert_eq!(bounded_name("short", 64), "short");
}

#[test]
fn deploying_distribution_is_progressing() {
    let cloudfront: Shared = Arc::default();
    let component = component(&cloudfront);
    let config = sdk::DistributionConfig::builder()
        .caller_reference("ref")
        .comment("")
        .enabled(true)
        .origins(
            sdk::Origins::builder()
                .quantity(0)
                .set_items(Some(Vec::new()))
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    let live = |status: &str| DistributionLive {
        distribution: Some(LiveDistribution {
            id: "E1".to_owned(),
            arn: "arn:aws:cloudfront::123456789012:distribution/E1".to_owned(),
            domain_name: "e1.cloudfront.net".to_owned(),
            status: status.to_owned(),
            etag: "ETAG1".to_owned(),
            view: DistributionView::from_config(&config),
            config: config.clone(),
            tags: BTreeMap::new(),
        }),
        ..DistributionLive::default()
    };

    assert!(matches!(
        component.readiness(&live("InProgress")),
        Readiness::Progressing(_)
    ));
    assert_eq!(component.readiness(&live("Deployed")), Readiness::Ready);
    assert_eq!(
        component.readiness(&DistributionLive::default()),
        Readiness::Ready,
        "a missing distribution has nothing to wait for"
    );
}

const KEY_NAME: &str = "s-media-signer";

/// Builds the media distribution with one signing key, whose CloudFront client
/// serves CreatePublicKey and ListPublicKeys from these rules.
fn component_with_key(create: &Rule, list: &Rule) -> DistributionComponent {
    let clients = crate::clients::AwsClients {
        cloudfront: mock_client!(aws_sdk_cloudfront, [create, list]),
        ..offline_clients()
    };
    let key = DesiredKey {
        id: "signer".to_owned(),
        name: KEY_NAME.to_owned(),
        pem: Ok("-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----\n".to_owned()),
    };
    DistributionComponent::with_keys(
        clients,
        Tagger::new(STACK, &BTreeMap::new()),
        media(),
        vec![key],
    )
}

/// Returns a ListPublicKeys rule that lists keys of these ids and names.
fn listed_keys(keys: &'static [(&'static str, &'static str)]) -> Rule {
    mock!(Client::list_public_keys).then_output(move || {
        let items: Vec<PublicKeySummary> = keys
            .iter()
            .map(|(id, name)| {
                PublicKeySummary::builder()
                    .id(*id)
                    .name(*name)
                    .created_time(DateTime::from_secs(0))
                    .encoded_key("-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----\n")
                    .build()
                    .unwrap()
            })
            .collect();
        ListPublicKeysOutput::builder()
            .public_key_list(
                PublicKeyList::builder()
                    .max_items(100)
                    .quantity(items.len() as i32)
                    .set_items(Some(items))
                    .build()
                    .unwrap(),
            )
            .build()
    })
}

/// Returns a CreatePublicKey rule whose first call fails with HTTP 500, as if
/// the key were made and the response lost, and whose retry gets
/// PublicKeyAlreadyExists, as CloudFront returns for a known name.
fn create_key_lost_after_effect() -> Rule {
    mock!(Client::create_public_key)
        .sequence()
        .http_response(http_500)
        .error(|| {
            CreatePublicKeyError::PublicKeyAlreadyExists(
                PublicKeyAlreadyExists::builder()
                    .message("The specified public key already exists.")
                    .build(),
            )
        })
        .build()
}

#[tokio::test]
async fn lost_key_create_returns_first_key() {
    let create = create_key_lost_after_effect();
    let list = listed_keys(&[("K2OTHER", "someone-else"), ("K1FIRST", KEY_NAME)]);
    let component = component_with_key(&create, &list);

    let id = calls::create_public_key(&component.clients.cloudfront, &component, "signer")
        .await
        .unwrap();

    assert_eq!(id, "K1FIRST");
    assert_eq!(create.num_calls(), 2, "one create and one SDK retry");
    assert_eq!(list.num_calls(), 1);
}

#[tokio::test]
async fn existing_key_not_found_fails() {
    let create = create_key_lost_after_effect();
    let list = listed_keys(&[("K2OTHER", "someone-else")]);
    let component = component_with_key(&create, &list);

    let error = calls::create_public_key(&component.clients.cloudfront, &component, "signer")
        .await
        .unwrap_err();

    assert!(
        error.to_string().contains("CreatePublicKey s-media-signer"),
        "{error}"
    );
}
