//! Checks of API Gateway HTTP APIs: CORS, JWT authorizer, VPC link, integration and routes.

use super::{Context, Index, check_ids, check_unique_names, split_reference, values};
use crate::model;
use crate::path;
use crate::raw;

/// Methods allowed in route keys, beside `ANY`.
const ROUTE_METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

/// Default identity source of a JWT authorizer.
const DEFAULT_IDENTITY_SOURCE: &str = "$request.header.Authorization";

/// Longest CORS max age that API Gateway accepts, in seconds.
const MAX_CORS_AGE: u32 = 86_400;

pub(super) fn apis(
    raw: &[raw::HttpApi],
    index: &Index,
    context: &mut Context<'_>,
) -> Vec<model::HttpApi> {
    let list = "spec.apis";
    check_ids(context, "API", list, raw.iter().map(|api| api.id.as_str()));
    check_unique_names(
        context,
        "API",
        raw.iter().enumerate().map(|(i, api)| {
            (
                path::join_key(&path::join_index(list, i), "name"),
                api.name.clone(),
            )
        }),
    );

    let mut apis = Vec::new();
    for (i, api) in raw.iter().enumerate() {
        let at = path::join_index(list, i);
        if api.name.is_empty() || api.name.len() > 128 {
            context
                .error(
                    &path::join_key(&at, "name"),
                    "an API name has 1 to 128 characters",
                )
                .set_help("shorten the name");
        }

        let cors = api
            .cors
            .as_ref()
            .map(|cors| cors_to_model(cors, &path::join_key(&at, "cors"), context));
        let jwt_authorizer = api.jwt_authorizer.as_ref().map(|authorizer| {
            jwt_authorizer(authorizer, &path::join_key(&at, "jwtAuthorizer"), context)
        });

        let link_path = path::join_key(&at, "vpcLink");
        let subnets_path = path::join_key(&link_path, "subnets");
        if api.vpc_link.subnets.is_empty() {
            context.error(&subnets_path, "a VPC link needs at least one subnet");
        }
        index
            .subnets
            .check_all(context, &subnets_path, &api.vpc_link.subnets);
        values::check_no_repeats(context, &subnets_path, &api.vpc_link.subnets);
        let groups_path = path::join_key(&link_path, "securityGroups");
        index
            .security_groups
            .check_all(context, &groups_path, &api.vpc_link.security_groups);
        values::check_no_repeats(context, &groups_path, &api.vpc_link.security_groups);

        let listener_path = path::join_key(&path::join_key(&at, "integration"), "listener");
        let reference = &api.integration.listener;
        let listener = match split_reference(
            context,
            &listener_path,
            reference,
            "listener",
            "LOAD_BALANCER_ID/LISTENER_ID, such as api/tcp-80",
        ) {
            Some((load_balancer, listener)) => {
                index.listeners.check(context, &listener_path, reference);
                model::ListenerRef {
                    load_balancer: load_balancer.to_owned(),
                    listener: listener.to_owned(),
                }
            }
            None => model::ListenerRef {
                load_balancer: String::new(),
                listener: String::new(),
            },
        };

        let routes = routes(&api.routes, &path::join_key(&at, "routes"), context);
        let stage = stage(&api.stage, &path::join_key(&at, "stage"), context);

        apis.push(model::HttpApi {
            id: api.id.clone(),
            name: api.name.clone(),
            cors,
            jwt_authorizer,
            vpc_link: model::VpcLink {
                subnets: api.vpc_link.subnets.clone(),
                security_groups: api.vpc_link.security_groups.clone(),
            },
            integration: model::Integration { listener },
            routes,
            stage,
        });
    }
    apis
}

fn cors_to_model(raw: &raw::Cors, at: &str, context: &mut Context<'_>) -> model::Cors {
    let origins_path = path::join_key(at, "allowOrigins");
    for (i, origin) in raw.allow_origins.iter().enumerate() {
        if let Some(problem) = origin_problem(origin) {
            let fixed = origin.trim_end_matches('/');
            let help = if fixed != origin && origin_problem(fixed).is_none() {
                format!("write {fixed}")
            } else {
                "write * or SCHEME://HOST[:PORT], such as https://app.example.com".to_owned()
            };
            context
                .error(
                    &path::join_index(&origins_path, i),
                    format!("invalid CORS origin \"{origin}\": {problem}"),
                )
                .set_help(help);
        }
    }
    if raw.allow_credentials && raw.allow_origins.iter().any(|o| o == "*") {
        context
            .error(
                &path::join_key(at, "allowCredentials"),
                "allowCredentials cannot go with the origin *",
            )
            .set_help("list the allowed origins one by one");
    }

    let methods_path = path::join_key(at, "allowMethods");
    for (i, method) in raw.allow_methods.iter().enumerate() {
        if method != "*" && !ROUTE_METHODS.contains(&method.as_str()) {
            let mut message = format!("unknown HTTP method \"{method}\"");
            if let Some(close) = crate::suggest::did_you_mean(method, ROUTE_METHODS.iter().copied())
            {
                message.push_str(&format!(", did you mean \"{close}\"?"));
            }
            context
                .error(&path::join_index(&methods_path, i), message)
                .set_help(format!("write * or one of {}", ROUTE_METHODS.join(", ")));
        }
    }
    if let Some(age) = raw.max_age_seconds
        && age > MAX_CORS_AGE
    {
        context
            .error(
                &path::join_key(at, "maxAgeSeconds"),
                format!("maxAgeSeconds {age} is more than {MAX_CORS_AGE}"),
            )
            .set_help(format!("write 0 to {MAX_CORS_AGE}"));
    }

    model::Cors {
        allow_origins: raw.allow_origins.clone(),
        allow_methods: raw.allow_methods.clone(),
        allow_headers: raw.allow_headers.clone(),
        expose_headers: raw.expose_headers.clone(),
        allow_credentials: raw.allow_credentials,
        max_age_seconds: raw.max_age_seconds,
    }
}

/// Returns the reason that `origin` is not `*` or `scheme://host[:port]`, if there is one.
fn origin_problem(origin: &str) -> Option<&'static str> {
    if origin == "*" {
        return None;
    }
    let Some((scheme, authority)) = origin.split_once("://") else {
        return Some("it has no scheme");
    };
    if !matches!(scheme, "http" | "https") {
        return Some("the scheme is not http or https");
    }
    if authority.is_empty() {
        return Some("it has no host");
    }
    if authority.contains('/') {
        return Some("an origin has no path, not even a trailing /");
    }
    let host = authority
        .rsplit_once(':')
        .map_or(authority, |(host, port)| {
            if port.parse::<u16>().is_ok() {
                host
            } else {
                ""
            }
        });
    let host_ok = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '*');
    if !host_ok {
        return Some("the host is not a domain name");
    }
    None
}

fn jwt_authorizer(
    raw: &raw::JwtAuthorizer,
    at: &str,
    context: &mut Context<'_>,
) -> model::JwtAuthorizer {
    if raw.name.is_empty() || raw.name.len() > 128 {
        context.error(
            &path::join_key(at, "name"),
            "an authorizer name has 1 to 128 characters",
        );
    }
    let issuer_ok = raw
        .issuer
        .strip_prefix("https://")
        .is_some_and(|rest| !rest.is_empty() && !rest.starts_with('/'));
    if !issuer_ok {
        context
            .error(
                &path::join_key(at, "issuer"),
                format!("invalid issuer \"{}\"", raw.issuer),
            )
            .set_help("write the issuer's HTTPS URL, the `iss` claim of its tokens");
    }
    if raw.audience.is_empty() {
        context
            .error(
                &path::join_key(at, "audience"),
                "a JWT authorizer needs at least one audience",
            )
            .set_help("list the `aud` values to accept, such as authenticated");
    }
    let identity_source = raw
        .identity_source
        .clone()
        .unwrap_or_else(|| DEFAULT_IDENTITY_SOURCE.to_owned());
    if !(identity_source.starts_with("$request.") || identity_source.starts_with("$context.")) {
        context
            .error(
                &path::join_key(at, "identitySource"),
                format!("invalid identity source \"{identity_source}\""),
            )
            .set_help(format!(
                "write an expression such as {DEFAULT_IDENTITY_SOURCE}"
            ));
    }

    model::JwtAuthorizer {
        name: raw.name.clone(),
        issuer: raw.issuer.clone(),
        audience: raw.audience.clone(),
        identity_source,
    }
}

fn routes(raw: &[raw::ApiRoute], list: &str, context: &mut Context<'_>) -> Vec<model::ApiRoute> {
    if raw.is_empty() {
        context
            .error(list, "an API needs at least one route")
            .set_help("add a route such as - key: ANY /{proxy+}");
    }

    let mut routes: Vec<model::ApiRoute> = Vec::new();
    for (i, route) in raw.iter().enumerate() {
        let key_path = path::join_key(&path::join_index(list, i), "key");
        let key = match route_key(&route.key) {
            Ok(key) => key,
            Err(problem) => {
                context
                    .error(
                        &key_path,
                        format!("invalid route key \"{}\": {problem}", route.key),
                    )
                    .set_help("write METHOD /path, ANY /path or $default, such as GET /items/{id}");
                model::RouteKey::Default
            }
        };
        if let Some(j) = routes.iter().position(|r| r.key == key) {
            let line = context.line_of(&path::join_index(list, j));
            context
                .error(
                    &key_path,
                    format!("route \"{key}\" is defined twice (first at line {line})"),
                )
                .set_help("remove one of the two routes");
        }
        routes.push(model::ApiRoute {
            key,
            public: route.public,
        });
    }
    routes
}

/// Parses `$default` or `METHOD /path`.
fn route_key(text: &str) -> Result<model::RouteKey, &'static str> {
    if text == "$default" {
        return Ok(model::RouteKey::Default);
    }
    let Some((method, route_path)) = text.split_once(' ') else {
        return Err("it has no method");
    };
    if method != "ANY" && !ROUTE_METHODS.contains(&method) {
        return Err("the method is not ANY or an upper-case HTTP method");
    }
    if !route_path.starts_with('/') {
        return Err("the path does not start with /");
    }
    if route_path.contains(char::is_whitespace) {
        return Err("the path contains a space");
    }
    let segments: Vec<&str> = route_path.split('/').collect();
    for (i, segment) in segments.iter().enumerate() {
        let greedy = segment.starts_with('{') && segment.ends_with("+}");
        if greedy && i != segments.len() - 1 {
            return Err("a greedy {name+} segment must come last");
        }
        if segment.contains(['{', '}'])
            && !(segment.starts_with('{') && segment.ends_with('}') && segment.len() > 2)
        {
            return Err("a path parameter takes a whole segment, such as {id}");
        }
    }
    Ok(model::RouteKey::Route {
        method: method.to_owned(),
        path: route_path.to_owned(),
    })
}

fn stage(raw: &raw::Stage, at: &str, context: &mut Context<'_>) -> model::Stage {
    let name = raw.name.clone().unwrap_or_else(|| "$default".to_owned());
    let name_ok = name == "$default"
        || (!name.is_empty()
            && name.len() <= 128
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'));
    if !name_ok {
        context
            .error(
                &path::join_key(at, "name"),
                format!("invalid stage name \"{name}\""),
            )
            .set_help("write $default, or 1 to 128 letters, digits, hyphens and underscores");
    }
    model::Stage {
        name,
        throttling: raw.throttling.as_ref().map(|throttling| model::Throttling {
            rate_limit: throttling.rate_limit,
            burst_limit: throttling.burst_limit,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_keys_parse() {
        assert_eq!(route_key("$default"), Ok(model::RouteKey::Default));
        assert_eq!(
            route_key("ANY /{proxy+}"),
            Ok(model::RouteKey::Route {
                method: "ANY".into(),
                path: "/{proxy+}".into()
            })
        );
        assert!(route_key("GET /health").is_ok());
        assert!(route_key("get /health").is_err());
        assert!(route_key("GET health").is_err());
        assert!(route_key("/health").is_err());
        assert!(route_key("GET /{proxy+}/x").is_err());
    }

    #[test]
    fn origins_need_scheme_and_no_path() {
        assert_eq!(origin_problem("https://app.beezyup.com"), None);
        assert_eq!(origin_problem("http://localhost:3000"), None);
        assert_eq!(origin_problem("*"), None);
        assert!(origin_problem("https://app.beezyup.com/").is_some());
        assert!(origin_problem("app.beezyup.com").is_some());
        assert!(origin_problem("ftp://x.com").is_some());
    }
}
