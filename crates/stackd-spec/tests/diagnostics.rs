//! Error collection across a file, and "did you mean" suggestions, on edits of the real file.

use stackd_spec::{Diagnostic, LoadError, Severity};

const TEXT: &str = include_str!("../../../config/beezyup-prod-c01.yaml");
const FILE: &str = "config/beezyup-prod-c01.yaml";

/// Applies each `(from, to)` edit to the production file, where each `from` must occur once.
fn edited(edits: &[(&str, &str)]) -> String {
    let mut text = TEXT.to_owned();
    for (from, to) in edits {
        assert_eq!(
            text.matches(from).count(),
            1,
            "edit {from:?} must match once"
        );
        text = text.replacen(from, to, 1);
    }
    text
}

fn load_error(text: &str) -> LoadError {
    stackd_spec::load(text, FILE).expect_err("the edited file must not load")
}

fn errors(text: &str) -> Vec<Diagnostic> {
    load_error(text).errors().cloned().collect()
}

#[test]
fn semantic_errors_are_all_reported() {
    let text = edited(&[
        ("cidr: 10.0.1.0/24", "cidr: 10.0.1.1/24"),
        ("securityGroups: [endpoints]", "securityGroups: [endpoint]"),
        (
            "name: beezyup-prod-private-files",
            "name: beezyup_prod_private_files",
        ),
    ]);
    let errors = errors(&text);
    let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(
        paths,
        vec![
            "spec.network.subnets[1].cidr",
            "spec.vpcEndpoints[1].securityGroups[0]",
            "spec.buckets[1].name",
        ]
    );
}

#[test]
fn load_error_keeps_warnings_sorted() {
    let error = load_error(&edited(&[("region: eu-west-3", "region: eu-west3")]));
    let lines: Vec<usize> = error.diagnostics.iter().map(|d| d.line).collect();
    let mut sorted = lines.clone();
    sorted.sort_unstable();
    assert_eq!(lines, sorted);
    assert!(
        error
            .diagnostics
            .iter()
            .any(|d| d.severity == Severity::Warning)
    );
}

#[test]
fn structural_errors_in_several_items_are_all_reported() {
    let text = edited(&[
        (
            "      - id: public-b\n        tier: public\n",
            "      - id: public-b\n        tier: public\n        color: red\n",
        ),
        (
            "      - id: private-b\n        tier: private\n",
            "      - id: private-b\n        tier: private\n        size: 3\n",
        ),
    ]);
    let errors = errors(&text);
    let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(
        paths,
        vec![
            "spec.network.subnets[1].color",
            "spec.network.subnets[3].size"
        ]
    );
    assert_eq!(errors[1].line, 50);
}

#[test]
fn zone_outside_region_is_rejected() {
    let errors = errors(&edited(&[(
        "zone: eu-west-3b\n        cidr: 10.0.1.0/24",
        "zone: eu-west-1b\n        cidr: 10.0.1.0/24",
    )]));
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0].message.contains("is in eu-west-1"),
        "{}",
        errors[0]
    );
}

#[test]
fn private_table_internet_route_is_rejected() {
    let errors = errors(&edited(&[(
        "      - id: private-a\n        subnets: [private-a]\n        routes:\n          - destination: 0.0.0.0/0\n            target: { natGateway: nat-a }",
        "      - id: private-a\n        subnets: [private-a]\n        routes:\n          - destination: 0.0.0.0/0\n            target: { internetGateway: true }",
    )]));
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0]
            .message
            .contains("has private subnets (private-a)"),
        "{}",
        errors[0]
    );
}

#[test]
fn secrets_without_execution_role_are_rejected() {
    let errors = errors(&edited(&[("        executionRole: task-execution\n", "")]));
    assert_eq!(errors.len(), 1);
    assert!(errors[0].message.contains("executionRole"), "{}", errors[0]);
}

#[test]
fn managed_termination_protection_needs_scale_in_protection() {
    let errors = errors(&edited(&[(
        "newInstancesProtectedFromScaleIn: true",
        "newInstancesProtectedFromScaleIn: false",
    )]));
    assert_eq!(errors.len(), 1);
    assert_eq!(
        errors[0].path,
        "spec.compute.capacityProviders[0].managedTerminationProtection"
    );
}

#[test]
fn instance_profile_role_needs_profile() {
    let errors = errors(&edited(&[("        instanceProfile: true\n", "")]));
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0].message.contains("has no instance profile"),
        "{}",
        errors[0]
    );
}

#[test]
fn merge_key_is_rejected_with_help() {
    let errors = errors(&edited(&[(
        "    vpc:\n      cidr: 10.0.0.0/16\n",
        "    vpc:\n      <<: { cidr: 10.0.0.0/16 }\n      cidr: 10.0.0.0/16\n",
    )]));
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].path, "spec.network.vpc[\"<<\"]");
    assert!(
        errors[0]
            .help
            .as_deref()
            .unwrap_or_default()
            .contains("merge keys")
    );
}

#[test]
fn unquoted_major_version_suggests_quotes() {
    let errors = errors(&edited(&[("majorVersion: \"8\"", "majorVersion: 8")]));
    assert_eq!(errors.len(), 1);
    assert_eq!(
        errors[0].help.as_deref(),
        Some("quote the value to keep it a string: \"8\"")
    );
}

/// Edits of the production file and the suggestion each must produce, or `None` for none.
const SUGGESTIONS: &[(&str, &str, Option<&str>)] = &[
    (
        "enableDnsHostnames: true",
        "enableDnsHostname: true",
        Some("did you mean `enableDnsHostnames`?"),
    ),
    (
        "tier: private\n        zone: eu-west-3a",
        "tier: privat\n        zone: eu-west-3a",
        Some("did you mean \"private\"?"),
    ),
    (
        "subnet: public-a\n",
        "subnet: public-aa\n",
        Some("did you mean \"public-a\"?"),
    ),
    ("subnet: public-a\n", "subnet: database\n", None),
    (
        "securityGroups: [cache]",
        "securityGroups: [cahce]",
        Some("did you mean \"cache\"?"),
    ),
    (
        "cachePolicy: CachingDisabled",
        "cachePolicy: CachingDisable",
        Some("did you mean \"CachingDisabled\"?"),
    ),
    (
        "originRequestPolicy: AllViewerExceptHostHeader\n        allowedMethods",
        "originRequestPolicy: AllViewerExceptHost\n        allowedMethods",
        Some("did you mean \"AllViewerExceptHostHeader\"?"),
    ),
    (
        "minimumProtocolVersion: TLSv1.2_2021\n      origin:\n        api: api",
        "minimumProtocolVersion: TLSv1.2_202\n      origin:\n        api: api",
        Some("did you mean \"TLSv1.2_2021\"?"),
    ),
    (
        "encryption: AES256\n    - id: files",
        "encryption: aes256\n    - id: files",
        Some("did you mean \"AES256\"?"),
    ),
    (
        "allocationStrategy: price-capacity-optimized",
        "allocationStrategy: price-capacity-optimised",
        Some("did you mean \"price-capacity-optimized\"?"),
    ),
    (
        "kind: Stack",
        "kind: stack",
        Some("did you mean \"Stack\"?"),
    ),
    (
        "listener: api/tcp-80",
        "listener: api/tcp-8O",
        Some("did you mean \"api/tcp-80\"?"),
    ),
    (
        "executionRole: task-execution",
        "executionRole: task-executon",
        Some("did you mean \"task-execution\"?"),
    ),
];

#[test]
fn suggestions_table() {
    for (from, to, expected) in SUGGESTIONS {
        let errors = errors(&edited(&[(from, to)]));
        assert_eq!(errors.len(), 1, "{to}: {errors:?}");
        let message = &errors[0].message;
        match expected {
            Some(suggestion) => assert!(message.contains(suggestion), "{to}: {message}"),
            None => assert!(!message.contains("did you mean"), "{to}: {message}"),
        }
    }
}

#[test]
fn json_schema_describes_spec() {
    let schema = stackd_spec::json_schema();
    assert!(schema.is_object());
    assert!(schema["properties"]["spec"].is_object(), "{schema}");
    assert!(schema["properties"]["apiVersion"].is_object(), "{schema}");
    assert_eq!(
        schema["additionalProperties"],
        serde_json::Value::Bool(false)
    );
}

#[test]
fn json_schema_describes_alerts_without_webhook() {
    let schema = stackd_spec::json_schema();
    let alerts = &schema["$defs"]["Alerts"]["properties"];
    assert!(alerts["language"].is_object(), "{schema}");
    assert!(alerts["remindAfterMinutes"].is_object(), "{schema}");
    assert!(
        alerts.get("webhookUrl").is_none(),
        "editors must flag a webhook URL in the file: {alerts}"
    );
    let policies = &schema["$defs"]["DriftPolicy"];
    assert!(policies.to_string().contains("alertOnly"), "{policies}");
}
