//! Semantic validation: turns the raw types into the model, collecting every error on the way.
//!
//! Each section's converter reports problems to the [`Context`] and still returns a model
//! value, using a harmless stand-in where a field is invalid, so that later sections can look
//! components up. `load` discards the model when any error was reported.

mod alerts;
mod api_gateway;
mod cloudfront;
mod compute;
mod ecs;
mod elasticache;
mod iam;
mod lease;
mod load_balancing;
mod network;
mod s3;
mod security;
mod stack;
mod templates;
mod values;
mod warnings;

use std::collections::{BTreeMap, HashSet};

use serde_json::Value;

use crate::diagnostic::{Diagnostic, Severity};
use crate::model;
use crate::path;
use crate::raw;
use crate::suggest::did_you_mean;
use crate::yaml::Positions;

/// Validates a deserialised file and builds its model, reporting problems to `context`.
pub(crate) fn validate(raw: &raw::Stack, context: &mut Context<'_>) -> model::Stack {
    let index = Index::new(raw);
    let envelope = stack::envelope(raw, context);
    let spec = &raw.spec;

    let network = network::network(&spec.network, &envelope.region, &index, context);
    let security_groups =
        security::security_groups(&spec.security_groups, &network, &index, context);
    let vpc_endpoints = security::vpc_endpoints(&spec.vpc_endpoints, &network, &index, context);
    let iam = iam::iam(&spec.iam, &index, context);
    let compute = compute::compute(&spec.compute, &iam, &index, context);
    let load_balancers = load_balancing::load_balancers(
        &spec.load_balancers,
        &envelope.region,
        &network,
        &index,
        context,
    );
    let services = ecs::services(&spec.services, &iam, &load_balancers, &index, context);
    let apis = api_gateway::apis(&spec.apis, &index, context);
    let buckets = s3::buckets(&spec.buckets, &envelope.tags, context);
    let distributions = cloudfront::distributions(&spec.distributions, &index, context);
    let caches = elasticache::caches(&spec.caches, &envelope.tags, &network, &index, context);
    let lease = lease::lease(spec.lease.as_ref(), &envelope.name, &buckets, context);
    let alerts = alerts::alerts(spec.alerts.as_ref(), context);

    let mut stack = model::Stack {
        name: envelope.name,
        labels: envelope.labels,
        account: envelope.account,
        region: envelope.region,
        tags: envelope.tags,
        network,
        security_groups,
        vpc_endpoints,
        iam,
        compute,
        load_balancers,
        services,
        apis,
        buckets,
        distributions,
        caches,
        lease,
        alerts,
        drift: model::DriftPolicies::default(),
    };
    // Drift policies name components, which exist only once the other sections are read.
    let components: Vec<String> = stack.components().into_iter().map(|c| c.id).collect();
    stack.drift = alerts::drift(spec.drift.as_ref(), &components, context);

    templates::check_stray_interpolations(context);
    warnings::warn(&stack, context);
    stack
}

/// The file being validated and the diagnostics found so far.
pub(crate) struct Context<'a> {
    file: &'a str,
    positions: &'a Positions,
    value: &'a Value,
    pub diagnostics: Vec<Diagnostic>,
    /// Paths of the strings parsed as templates, where `${…}` is allowed.
    template_paths: HashSet<String>,
}

impl<'a> Context<'a> {
    pub fn new(file: &'a str, positions: &'a Positions, value: &'a Value) -> Self {
        Context {
            file,
            positions,
            value,
            diagnostics: Vec::new(),
            template_paths: HashSet::new(),
        }
    }

    /// Reports an error on the value at `at`.
    pub fn error(&mut self, at: &str, message: impl Into<String>) -> &mut Diagnostic {
        self.report(Severity::Error, at, message.into(), false)
    }

    /// Reports an error on the key at `at`, for problems with the field rather than its value.
    pub fn error_at_key(&mut self, at: &str, message: impl Into<String>) -> &mut Diagnostic {
        self.report(Severity::Error, at, message.into(), true)
    }

    /// Reports a warning on the value at `at`.
    pub fn warning(&mut self, at: &str, message: impl Into<String>) -> &mut Diagnostic {
        self.report(Severity::Warning, at, message.into(), false)
    }

    /// Returns the file name given to `load`.
    pub fn file(&self) -> &str {
        self.file
    }

    /// Returns the line of the value at `at`, for messages that point at a second place.
    pub fn line_of(&self, at: &str) -> usize {
        self.positions.find(at).value.line
    }

    fn report(
        &mut self,
        severity: Severity,
        at: &str,
        message: String,
        on_key: bool,
    ) -> &mut Diagnostic {
        let located = self.positions.find(at);
        let position = if on_key {
            located.key.unwrap_or(located.value)
        } else {
            located.value
        };
        self.diagnostics.push(Diagnostic {
            severity,
            file: self.positions.file_of(&located).to_owned(),
            line: position.line,
            column: position.column,
            path: at.to_owned(),
            message,
            help: None,
        });
        self.diagnostics.last_mut().expect("just pushed")
    }

    /// Parses a string where `${…}` interpolations are allowed, and checks the ids it names.
    pub fn template(&mut self, at: &str, source: &str, index: &Index) -> model::Template {
        self.template_paths.insert(at.to_owned());
        match model::Template::parse(source) {
            Ok(template) => {
                for interpolation in template.interpolations() {
                    match interpolation {
                        model::Interpolation::Bucket { id, .. } => {
                            index.buckets.check(self, at, id);
                        }
                        model::Interpolation::Cache { id, .. } => {
                            index.caches.check(self, at, id);
                        }
                        model::Interpolation::Account
                        | model::Interpolation::Region
                        | model::Interpolation::Stack => {}
                    }
                }
                template
            }
            Err(error) => {
                let diagnostic = self.error(at, error.message);
                diagnostic.help = error.help;
                model::Template::literal(source)
            }
        }
    }
}

/// The logical ids of one kind of component, for reference checks.
pub(crate) struct Ids {
    /// Singular name of the kind, such as `subnet`.
    kind: &'static str,
    ids: Vec<String>,
}

impl Ids {
    fn new<'a>(kind: &'static str, ids: impl IntoIterator<Item = &'a String>) -> Self {
        Ids {
            kind,
            ids: ids.into_iter().cloned().collect(),
        }
    }

    pub fn contains(&self, id: &str) -> bool {
        self.ids.iter().any(|known| known == id)
    }

    /// Reports `KIND "ID" not found` at `at` unless `id` exists, and returns whether it exists.
    pub fn check(&self, context: &mut Context<'_>, at: &str, id: &str) -> bool {
        if self.contains(id) {
            return true;
        }
        let mut message = format!("{} \"{id}\" not found", self.kind);
        if let Some(close) = did_you_mean(id, self.ids.iter().map(String::as_str)) {
            message.push_str(&format!(", did you mean \"{close}\"?"));
        }
        let help = if self.ids.is_empty() {
            format!("the file defines no {}", plural(self.kind))
        } else {
            format!("defined {}: {}", plural(self.kind), self.ids.join(", "))
        };
        context.error(at, message).set_help(help);
        false
    }

    /// Checks each id of the list of references at `at`.
    pub fn check_all(&self, context: &mut Context<'_>, at: &str, ids: &[String]) {
        for (i, id) in ids.iter().enumerate() {
            self.check(context, &path::join_index(at, i), id);
        }
    }
}

fn plural(kind: &str) -> String {
    if kind.ends_with('s') || kind.ends_with("ch") {
        format!("{kind}es")
    } else {
        format!("{kind}s")
    }
}

/// The ids of every kind of component, collected before validation so references can point
/// forward in the file.
pub(crate) struct Index {
    pub subnets: Ids,
    pub nat_gateways: Ids,
    pub route_tables: Ids,
    pub security_groups: Ids,
    pub roles: Ids,
    pub launch_templates: Ids,
    pub auto_scaling_groups: Ids,
    pub capacity_providers: Ids,
    pub clusters: Ids,
    /// `LOAD_BALANCER_ID/TARGET_GROUP_ID`.
    pub target_groups: Ids,
    /// `LOAD_BALANCER_ID/LISTENER_ID`.
    pub listeners: Ids,
    pub apis: Ids,
    pub buckets: Ids,
    pub caches: Ids,
}

impl Index {
    fn new(raw: &raw::Stack) -> Self {
        let spec = &raw.spec;
        let target_groups: Vec<String> = spec
            .load_balancers
            .iter()
            .flat_map(|lb| {
                lb.target_groups
                    .iter()
                    .map(move |tg| format!("{}/{}", lb.id, tg.id))
            })
            .collect();
        let listeners: Vec<String> = spec
            .load_balancers
            .iter()
            .flat_map(|lb| {
                lb.listeners
                    .iter()
                    .map(move |l| format!("{}/{}", lb.id, l.id))
            })
            .collect();

        Index {
            subnets: Ids::new("subnet", spec.network.subnets.iter().map(|s| &s.id)),
            nat_gateways: Ids::new(
                "NAT gateway",
                spec.network.nat_gateways.iter().map(|n| &n.id),
            ),
            route_tables: Ids::new(
                "route table",
                spec.network.route_tables.iter().map(|t| &t.id),
            ),
            security_groups: Ids::new("security group", spec.security_groups.iter().map(|g| &g.id)),
            roles: Ids::new("role", spec.iam.roles.iter().map(|r| &r.id)),
            launch_templates: Ids::new(
                "launch template",
                spec.compute.launch_templates.iter().map(|t| &t.id),
            ),
            auto_scaling_groups: Ids::new(
                "Auto Scaling group",
                spec.compute.auto_scaling_groups.iter().map(|g| &g.id),
            ),
            capacity_providers: Ids::new(
                "capacity provider",
                spec.compute.capacity_providers.iter().map(|p| &p.id),
            ),
            clusters: Ids::new("cluster", spec.compute.clusters.iter().map(|c| &c.id)),
            target_groups: Ids::new("target group", &target_groups),
            listeners: Ids::new("listener", &listeners),
            apis: Ids::new("API", spec.apis.iter().map(|api| &api.id)),
            buckets: Ids::new("bucket", spec.buckets.iter().map(|b| &b.id)),
            caches: Ids::new("cache", spec.caches.iter().map(|c| &c.id)),
        }
    }
}

/// Reports ids used twice in one list of components, and ids of an invalid form.
///
/// `at` is the list's path, and `ids` yields each item's id in list order.
pub(crate) fn check_ids<'a>(
    context: &mut Context<'_>,
    kind: &str,
    at: &str,
    ids: impl IntoIterator<Item = &'a str>,
) {
    let mut first_use: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, id) in ids.into_iter().enumerate() {
        let id_path = path::join_key(&path::join_index(at, i), "id");
        values::check_logical_id(context, &id_path, id);
        if let Some(&first) = first_use.get(id) {
            let first_path = path::join_index(at, first);
            let line = context.line_of(&first_path);
            context
                .error(&id_path, format!("duplicate {kind} id \"{id}\""))
                .set_help(format!(
                    "{first_path} (line {line}) already uses this id, so give each {kind} its own id"
                ));
        } else {
            first_use.insert(id, i);
        }
    }
}

/// Reports AWS names used twice among components whose names AWS requires to be unique.
///
/// `names` yields each component's name path and name.
pub(crate) fn check_unique_names(
    context: &mut Context<'_>,
    kind: &str,
    names: impl IntoIterator<Item = (String, String)>,
) {
    let mut first_use: BTreeMap<String, String> = BTreeMap::new();
    for (name_path, name) in names {
        if let Some(first_path) = first_use.get(&name) {
            let line = context.line_of(first_path);
            let help = format!("{first_path} (line {line}) already uses this name");
            context
                .error(&name_path, format!("duplicate {kind} name \"{name}\""))
                .set_help(help);
        } else {
            first_use.insert(name, name_path);
        }
    }
}

/// Parses a `FIRST/SECOND` reference, reporting a malformed one.
pub(crate) fn split_reference<'s>(
    context: &mut Context<'_>,
    at: &str,
    reference: &'s str,
    kind: &str,
    form: &str,
) -> Option<(&'s str, &'s str)> {
    match reference.split_once('/') {
        Some((first, second))
            if !first.is_empty() && !second.is_empty() && !second.contains('/') =>
        {
            Some((first, second))
        }
        _ => {
            context
                .error(at, format!("invalid {kind} reference \"{reference}\""))
                .set_help(format!("write {form}"));
            None
        }
    }
}
