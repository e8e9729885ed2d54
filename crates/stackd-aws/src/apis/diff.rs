//! The pure diff of an HTTP API and its parts.

use super::{
    ApiComponent, ApiLive, CanonicalCors, LiveAuthorizer, LiveIntegration, LiveRoute, LiveStage,
    Placement, ids,
};
use crate::tags::{TagDelta, Tagger};
use serde_json::{Value, json};
use stackd_engine::{Change, ChangeKind, Planned, UNKNOWN_UNTIL_APPLIED};
use stackd_spec::model::{HttpApi, Throttling};
use std::collections::{BTreeMap, BTreeSet};

/// The only protocol that stackd manages: WebSocket APIs have no CORS or VPC links.
pub(crate) const PROTOCOL_HTTP: &str = "HTTP";
pub(crate) const AUTHORIZER_JWT: &str = "JWT";
pub(crate) const AUTHORIZATION_NONE: &str = "NONE";
pub(crate) const INTEGRATION_HTTP_PROXY: &str = "HTTP_PROXY";
pub(crate) const CONNECTION_VPC_LINK: &str = "VPC_LINK";
/// The method that the integration sends to the listener: the request's own.
pub(crate) const INTEGRATION_METHOD_ANY: &str = "ANY";
/// API Gateway supports only payload format 1.0 for HTTP_PROXY integrations.
pub(crate) const PAYLOAD_FORMAT: &str = "1.0";

/// One step of an apply. Routes are named by their route key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    CreateApi,
    /// Sets the name and the CORS configuration of the existing API.
    UpdateApi,
    /// Removes the CORS configuration that the file no longer has.
    DeleteCors,
    CreateVpcLink,
    RenameVpcLink,
    CreateAuthorizer,
    /// Sets the type, identity source, issuer and audience of the existing authorizer.
    UpdateAuthorizer,
    CreateIntegration,
    /// Sets every field of the file on the existing integration.
    UpdateIntegration,
    CreateRoute(String),
    UpdateRoute {
        route_id: String,
        key: String,
    },
    /// Deletes a route of this stack's API that left the file.
    DeleteRoute {
        route_id: String,
    },
    CreateStage,
    /// Sets auto-deploy and, when the file sets them, the throttling limits.
    UpdateStage,
    Retag {
        arn: String,
        delta: TagDelta,
    },
    /// A change that API Gateway can only make by replacing a resource, refused at apply.
    Refuse(String),
}

/// Returns the CORS configuration of the file in canonical form.
pub(crate) fn desired_cors(desired: &HttpApi) -> Option<CanonicalCors> {
    desired.cors.as_ref().map(|cors| {
        CanonicalCors::new(
            &cors.allow_origins,
            &cors.allow_methods,
            &cors.allow_headers,
            &cors.expose_headers,
            cors.allow_credentials,
            cors.max_age_seconds
                .map(|seconds| i32::try_from(seconds).unwrap_or(i32::MAX)),
        )
    })
}

/// The settings of the one integration, as API Gateway reports them.
#[derive(Debug, Clone, PartialEq, Eq)]
struct IntegrationFields {
    integration_type: String,
    connection_type: String,
    connection_id: Value,
    integration_uri: Value,
    integration_method: String,
    payload_format_version: String,
}

/// Shows an id that exists only once its resource is created.
fn known_or_unknown(value: Option<&str>) -> Value {
    value.map_or_else(|| json!(UNKNOWN_UNTIL_APPLIED), |value| json!(value))
}

/// Shows a set of AWS ids, or the placeholder when some of them do not exist yet.
fn shown(ids: &BTreeSet<String>, complete: bool) -> Value {
    if complete {
        json!(ids)
    } else {
        json!(UNKNOWN_UNTIL_APPLIED)
    }
}

/// Plans the steps that bring the API and its parts to the file, in the order apply
/// runs them. The authorizer and the integration come before the routes that point
/// at them, and the routes that left the file are deleted last.
pub(crate) fn diff(
    component: &ApiComponent,
    live: &ApiLive,
    placement: &Placement,
) -> Vec<Planned<Action>> {
    let desired = &component.desired;
    let tagger = &component.tagger;
    let mut plan = Vec::new();
    diff_api(desired, tagger, live, &mut plan);
    diff_vpc_link(component, live, placement, &mut plan);
    diff_authorizer(desired, live.authorizer.as_ref(), &mut plan);
    diff_integration(component, live, placement, &mut plan);
    diff_routes(desired, live, &mut plan);
    diff_stage(desired, live.stage.as_ref(), &mut plan);
    plan
}

fn retag(
    plan: &mut Vec<Planned<Action>>,
    logical_id: &str,
    arn: &str,
    live: &BTreeMap<String, String>,
    desired: &BTreeMap<String, String>,
) {
    let delta = TagDelta::between(live, desired);
    if delta.is_empty() {
        return;
    }
    let mut change = Change::new(ChangeKind::Update, logical_id);
    for (key, value) in &delta.set {
        change.push_if_differs(format!("tags.{key}"), json!(live.get(key)), value.as_str());
    }
    for key in &delta.remove {
        change.push_if_differs(format!("tags.{key}"), json!(live.get(key)), Value::Null);
    }
    plan.push(Planned {
        change,
        action: Action::Retag {
            arn: arn.to_owned(),
            delta,
        },
    });
}

/// Shows a CORS configuration with its sets as sorted lists.
fn cors_json(cors: Option<&CanonicalCors>) -> Value {
    match cors {
        None => Value::Null,
        Some(cors) => json!({
            "allowOrigins": cors.allow_origins,
            "allowMethods": cors.allow_methods,
            "allowHeaders": cors.allow_headers,
            "exposeHeaders": cors.expose_headers,
            "allowCredentials": cors.allow_credentials,
            "maxAge": cors.max_age_seconds,
        }),
    }
}

/// Adds one field per CORS setting that differs, such as `cors.allowOrigins`.
fn push_cors_fields(
    change: &mut Change,
    live: Option<&CanonicalCors>,
    desired: Option<&CanonicalCors>,
) {
    if live.is_none() || desired.is_none() {
        change.push_if_differs("cors", cors_json(live), cors_json(desired));
        return;
    }
    let (Value::Object(live), Value::Object(desired)) = (cors_json(live), cors_json(desired))
    else {
        return;
    };
    for (key, desired_value) in desired {
        let live_value = live.get(&key).cloned().unwrap_or(Value::Null);
        change.push_if_differs(format!("cors.{key}"), live_value, desired_value);
    }
}

fn diff_api(desired: &HttpApi, tagger: &Tagger, live: &ApiLive, plan: &mut Vec<Planned<Action>>) {
    let logical_id = ids::api(&desired.id);
    let tags = tagger.desired(&logical_id, &desired.name);
    let cors = desired_cors(desired);
    let Some(found) = &live.api else {
        let change = Change::new(ChangeKind::Create, &logical_id)
            .field("name", Value::Null, desired.name.as_str())
            .field("protocolType", Value::Null, PROTOCOL_HTTP)
            .field("cors", Value::Null, cors_json(cors.as_ref()))
            .field("tags", Value::Null, json!(tags));
        plan.push(Planned {
            change,
            action: Action::CreateApi,
        });
        return;
    };

    if found.protocol_type != PROTOCOL_HTTP {
        let change = Change::new(ChangeKind::Replace, &logical_id).field(
            "protocolType",
            found.protocol_type.as_str(),
            PROTOCOL_HTTP,
        );
        let reason = format!(
            "{logical_id}: API Gateway cannot change the protocol of an API in place, and \
             replacing the API changes its endpoint, which stackd never does without \
             explicit permission"
        );
        plan.push(Planned {
            change,
            action: Action::Refuse(reason),
        });
    }

    let mut change = Change::new(ChangeKind::Update, &logical_id);
    change.push_if_differs("name", found.name.as_str(), desired.name.as_str());
    let names_differ = !change.fields.is_empty();
    push_cors_fields(&mut change, found.cors.as_ref(), cors.as_ref());
    let cors_differs = found.cors != cors;
    if names_differ || (cors_differs && cors.is_some()) {
        plan.push(Planned {
            change,
            action: Action::UpdateApi,
        });
    } else if cors_differs {
        plan.push(Planned {
            change,
            action: Action::DeleteCors,
        });
    }
    retag(plan, &logical_id, &found.arn, &found.tags, &tags);
}

fn diff_vpc_link(
    component: &ApiComponent,
    live: &ApiLive,
    placement: &Placement,
    plan: &mut Vec<Planned<Action>>,
) {
    let desired = &component.desired;
    let logical_id = ids::vpc_link(&desired.id);
    let name = component.vpc_link_name();
    let tags = component.tagger.desired(&logical_id, &name);
    let Some(found) = &live.vpc_link else {
        let change = Change::new(ChangeKind::Create, &logical_id)
            .field("name", Value::Null, name.as_str())
            .field(
                "subnetIds",
                Value::Null,
                shown(&placement.subnets, placement.complete),
            )
            .field(
                "securityGroupIds",
                Value::Null,
                shown(&placement.security_groups, placement.complete),
            )
            .field("tags", Value::Null, json!(tags));
        plan.push(Planned {
            change,
            action: Action::CreateVpcLink,
        });
        return;
    };

    let mut replace = Change::new(ChangeKind::Replace, &logical_id);
    if placement.complete {
        replace.push_if_differs(
            "subnetIds",
            json!(found.subnet_ids),
            json!(placement.subnets),
        );
        replace.push_if_differs(
            "securityGroupIds",
            json!(found.security_group_ids),
            json!(placement.security_groups),
        );
    }
    if !replace.fields.is_empty() {
        let reason = format!(
            "{logical_id}: API Gateway cannot change the subnets or security groups of a VPC \
             link in place, and replacing it cuts the API off from the load balancer until the \
             new link is available, which stackd never does without explicit permission"
        );
        plan.push(Planned {
            change: replace,
            action: Action::Refuse(reason),
        });
    }
    let mut rename = Change::new(ChangeKind::Update, &logical_id);
    if rename.push_if_differs("name", found.name.as_str(), name.as_str()) {
        plan.push(Planned {
            change: rename,
            action: Action::RenameVpcLink,
        });
    }
    retag(plan, &logical_id, &found.arn, &found.tags, &tags);
}

fn diff_authorizer(
    desired: &HttpApi,
    found: Option<&LiveAuthorizer>,
    plan: &mut Vec<Planned<Action>>,
) {
    let Some(wanted) = &desired.jwt_authorizer else {
        return;
    };
    let logical_id = ids::authorizer(&desired.id);
    let audience: BTreeSet<&String> = wanted.audience.iter().collect();
    let identity_source = vec![wanted.identity_source.as_str()];
    let Some(found) = found else {
        let change = Change::new(ChangeKind::Create, &logical_id)
            .field("name", Value::Null, wanted.name.as_str())
            .field("authorizerType", Value::Null, AUTHORIZER_JWT)
            .field("identitySource", Value::Null, json!(identity_source))
            .field(
                "jwtConfiguration.issuer",
                Value::Null,
                wanted.issuer.as_str(),
            )
            .field("jwtConfiguration.audience", Value::Null, json!(audience));
        plan.push(Planned {
            change,
            action: Action::CreateAuthorizer,
        });
        return;
    };
    let mut change = Change::new(ChangeKind::Update, &logical_id);
    change.push_if_differs(
        "authorizerType",
        found.authorizer_type.as_str(),
        AUTHORIZER_JWT,
    );
    change.push_if_differs(
        "identitySource",
        json!(found.identity_source),
        json!(identity_source),
    );
    change.push_if_differs(
        "jwtConfiguration.issuer",
        json!(found.issuer),
        wanted.issuer.as_str(),
    );
    change.push_if_differs(
        "jwtConfiguration.audience",
        json!(found.audience),
        json!(audience),
    );
    if !change.fields.is_empty() {
        plan.push(Planned {
            change,
            action: Action::UpdateAuthorizer,
        });
    }
}

fn integration_fields(live: Option<&LiveIntegration>) -> Option<IntegrationFields> {
    live.map(|found| IntegrationFields {
        integration_type: found.integration_type.clone(),
        connection_type: found.connection_type.clone(),
        connection_id: json!(found.connection_id),
        integration_uri: json!(found.integration_uri),
        integration_method: found.integration_method.clone().unwrap_or_default(),
        payload_format_version: found.payload_format_version.clone().unwrap_or_default(),
    })
}

fn diff_integration(
    component: &ApiComponent,
    live: &ApiLive,
    placement: &Placement,
    plan: &mut Vec<Planned<Action>>,
) {
    let logical_id = ids::integration(&component.desired.id);
    let connection_id = live.vpc_link.as_ref().map(|link| link.id.as_str());
    let wanted = IntegrationFields {
        integration_type: INTEGRATION_HTTP_PROXY.to_owned(),
        connection_type: CONNECTION_VPC_LINK.to_owned(),
        connection_id: known_or_unknown(connection_id),
        integration_uri: known_or_unknown(placement.listener_arn.as_deref()),
        integration_method: INTEGRATION_METHOD_ANY.to_owned(),
        payload_format_version: PAYLOAD_FORMAT.to_owned(),
    };
    let Some(found) = integration_fields(live.integration.as_ref()) else {
        let change = Change::new(ChangeKind::Create, &logical_id)
            .field("integrationType", Value::Null, wanted.integration_type)
            .field("connectionType", Value::Null, wanted.connection_type)
            .field("connectionId", Value::Null, wanted.connection_id)
            .field("integrationUri", Value::Null, wanted.integration_uri)
            .field("integrationMethod", Value::Null, wanted.integration_method)
            .field(
                "payloadFormatVersion",
                Value::Null,
                wanted.payload_format_version,
            );
        plan.push(Planned {
            change,
            action: Action::CreateIntegration,
        });
        return;
    };
    let mut change = Change::new(ChangeKind::Update, &logical_id);
    change.push_if_differs(
        "integrationType",
        found.integration_type,
        wanted.integration_type,
    );
    change.push_if_differs(
        "connectionType",
        found.connection_type,
        wanted.connection_type,
    );
    // An id that does not exist yet is no difference: the link's own create shows it.
    if connection_id.is_some() {
        change.push_if_differs("connectionId", found.connection_id, wanted.connection_id);
    }
    if placement.listener_arn.is_some() {
        change.push_if_differs(
            "integrationUri",
            found.integration_uri,
            wanted.integration_uri,
        );
    }
    change.push_if_differs(
        "integrationMethod",
        found.integration_method,
        wanted.integration_method,
    );
    change.push_if_differs(
        "payloadFormatVersion",
        found.payload_format_version,
        wanted.payload_format_version,
    );
    if !change.fields.is_empty() {
        plan.push(Planned {
            change,
            action: Action::UpdateIntegration,
        });
    }
}

/// Returns the authorization type and authorizer id of a route: the JWT authorizer
/// unless the file marks the route public or has no authorizer.
fn route_authorization(
    desired: &HttpApi,
    public: bool,
    authorizer: Option<&LiveAuthorizer>,
) -> (&'static str, Value) {
    if public || desired.jwt_authorizer.is_none() {
        return (AUTHORIZATION_NONE, Value::Null);
    }
    (
        AUTHORIZER_JWT,
        known_or_unknown(authorizer.map(|found| found.id.as_str())),
    )
}

/// Returns a route's target, `integrations/ID`.
pub(crate) fn route_target(integration_id: &str) -> String {
    format!("integrations/{integration_id}")
}

fn diff_routes(desired: &HttpApi, live: &ApiLive, plan: &mut Vec<Planned<Action>>) {
    let target = known_or_unknown(
        live.integration
            .as_ref()
            .map(|found| route_target(&found.id))
            .as_deref(),
    );
    for route in &desired.routes {
        let key = route.key.to_string();
        let logical_id = ids::route(&desired.id, &key);
        let (authorization_type, authorizer_id) =
            route_authorization(desired, route.public, live.authorizer.as_ref());
        let found: Option<&LiveRoute> = live.routes.iter().find(|found| found.route_key == key);
        let Some(found) = found else {
            let change = Change::new(ChangeKind::Create, &logical_id)
                .field("routeKey", Value::Null, key.as_str())
                .field("authorizationType", Value::Null, authorization_type)
                .field("authorizerId", Value::Null, authorizer_id)
                .field("target", Value::Null, target.clone());
            plan.push(Planned {
                change,
                action: Action::CreateRoute(key),
            });
            continue;
        };
        let mut change = Change::new(ChangeKind::Update, &logical_id);
        change.push_if_differs(
            "authorizationType",
            found.authorization_type.as_str(),
            authorization_type,
        );
        // An authorizer or integration that does not exist yet shows in its own create.
        if authorizer_id != json!(UNKNOWN_UNTIL_APPLIED) {
            change.push_if_differs("authorizerId", json!(found.authorizer_id), authorizer_id);
        }
        if target != json!(UNKNOWN_UNTIL_APPLIED) {
            change.push_if_differs("target", json!(found.target), target.clone());
        }
        if !change.fields.is_empty() {
            plan.push(Planned {
                change,
                action: Action::UpdateRoute {
                    route_id: found.id.clone(),
                    key,
                },
            });
        }
    }
    let wanted: BTreeSet<String> = desired
        .routes
        .iter()
        .map(|route| route.key.to_string())
        .collect();
    for found in &live.routes {
        if wanted.contains(&found.route_key) {
            continue;
        }
        let change = Change::new(
            ChangeKind::Delete,
            ids::route(&desired.id, &found.route_key),
        )
        .field("routeKey", found.route_key.as_str(), Value::Null);
        plan.push(Planned {
            change,
            action: Action::DeleteRoute {
                route_id: found.id.clone(),
            },
        });
    }
}

/// Adds the throttling fields of the file. Without throttling in the file, stackd
/// leaves the stage's limits as they are and sends none.
fn push_throttling(change: &mut Change, live: Option<&LiveStage>, wanted: Option<&Throttling>) {
    let Some(wanted) = wanted else {
        return;
    };
    change.push_if_differs(
        "defaultRouteSettings.throttlingRateLimit",
        json!(live.and_then(|stage| stage.throttling_rate_limit)),
        json!(f64::from(wanted.rate_limit)),
    );
    change.push_if_differs(
        "defaultRouteSettings.throttlingBurstLimit",
        json!(live.and_then(|stage| stage.throttling_burst_limit)),
        json!(wanted.burst_limit),
    );
}

fn diff_stage(desired: &HttpApi, found: Option<&LiveStage>, plan: &mut Vec<Planned<Action>>) {
    let stage = &desired.stage;
    let logical_id = ids::stage(&desired.id, &stage.name);
    let Some(live) = found else {
        let mut change = Change::new(ChangeKind::Create, &logical_id)
            .field("stageName", Value::Null, stage.name.as_str())
            .field("autoDeploy", Value::Null, true);
        push_throttling(&mut change, None, stage.throttling.as_ref());
        plan.push(Planned {
            change,
            action: Action::CreateStage,
        });
        return;
    };
    let mut change = Change::new(ChangeKind::Update, &logical_id);
    change.push_if_differs("autoDeploy", live.auto_deploy, true);
    push_throttling(&mut change, Some(live), stage.throttling.as_ref());
    if !change.fields.is_empty() {
        plan.push(Planned {
            change,
            action: Action::UpdateStage,
        });
    }
}
