//! The stackd desired-state file: YAML parsing, validation, and the validated model.
//!
//! [`load`] takes the text of a file and its name, and returns a [`model::Stack`] in which every
//! reference between components is resolved and checked, or every error found. Loading runs in
//! two stages: the YAML becomes [`raw`] types that mirror the file, and validation turns those
//! into the [`model`]. This crate does no IO: callers read the file, and paths inside it (such
//! as CloudFront public key files) stay paths. A file may extend another ([`extends_of`],
//! [`load_extending`]): the caller reads both, and this crate lays one over the other.
//!
//! Diagnostics carry the 1-based line and column of the value at fault and print in the
//! compiler manner:
//!
//! ```text
//! config/x.yaml:31:15: error: spec.network.subnets[2].cidr: invalid CIDR "10.0.0.1/16": host bits are set
//!   help: write 10.0.0.0/16, the network that contains this address
//! ```

mod deserialize;
mod diagnostic;
pub mod model;
mod overlay;
mod path;
pub mod raw;
mod suggest;
mod validate;
mod yaml;

pub use diagnostic::{Diagnostic, LoadError, Severity};

/// A loaded stack and the warnings found in its file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loaded {
    pub stack: model::Stack,
    /// Settings that load but are likely mistakes, sorted by position.
    pub warnings: Vec<Diagnostic>,
}

/// Parses and validates the text of a desired-state file.
///
/// `file` names the file in diagnostics, and its folder is where relative paths inside the
/// file are resolved (without reading them).
///
/// # Errors
/// Returns every error found: YAML syntax, unknown or missing fields, wrong types, and all
/// semantic errors. A YAML syntax error or a structural error stops loading before the
/// semantic checks, so only those are reported then.
pub fn load(text: &str, file: &str) -> Result<Loaded, LoadError> {
    let document = yaml::parse(text, file).map_err(|diagnostics| LoadError { diagnostics })?;
    load_document(document)
}

/// Returns the file named by the `extends` field of a desired-state file, as
/// written (relative to the file's folder), or `None` when it has none.
///
/// # Errors
/// Returns a YAML syntax error, or an error when `extends` is not a string.
pub fn extends_of(text: &str, file: &str) -> Result<Option<String>, LoadError> {
    let document = yaml::parse(text, file).map_err(|diagnostics| LoadError { diagnostics })?;
    match document.value.get("extends") {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(base)) => Ok(Some(base.clone())),
        Some(_) => {
            let located = document.positions.find("extends");
            Err(LoadError {
                diagnostics: vec![Diagnostic {
                    severity: Severity::Error,
                    file: file.to_owned(),
                    line: located.value.line,
                    column: located.value.column,
                    path: "extends".to_owned(),
                    message: "invalid extends: expected the path of a file".to_owned(),
                    help: Some("write the path of the base file, relative to this file's folder, such as `extends: beezyup-prod-c01.yaml`".to_owned()),
                }],
            })
        }
    }
}

/// Parses and validates a file laid over the base file it extends: mappings
/// merge key by key, any other value replaces the base's, and `null` removes a
/// key (a JSON Merge Patch, RFC 7396). Diagnostics name the file each value
/// came from.
///
/// # Errors
/// Returns every error of the merged file, as [`load`] does, and an error when
/// the base itself extends another file: only one level is supported.
pub fn load_extending(
    text: &str,
    file: &str,
    base_text: &str,
    base_file: &str,
) -> Result<Loaded, LoadError> {
    let base =
        yaml::parse(base_text, base_file).map_err(|diagnostics| LoadError { diagnostics })?;
    if base.positions.contains("extends") {
        let located = base.positions.find("extends");
        return Err(LoadError {
            diagnostics: vec![Diagnostic {
                severity: Severity::Error,
                file: base_file.to_owned(),
                line: located.value.line,
                column: located.value.column,
                path: "extends".to_owned(),
                message: format!("{file} extends {base_file}, which extends another file"),
                help: Some(
                    "only one level of extends is supported: extend the last file directly"
                        .to_owned(),
                ),
            }],
        });
    }
    let top = yaml::parse(text, file).map_err(|diagnostics| LoadError { diagnostics })?;
    load_document(overlay::overlay(base, top))
}

/// Deserializes and validates a parsed document.
fn load_document(document: yaml::Document) -> Result<Loaded, LoadError> {
    let file = document.positions.files[0].clone();
    let raw = deserialize::deserialize(&document, &file);
    let raw = match raw {
        Ok(raw) if document.diagnostics.is_empty() => raw,
        Ok(_) => return Err(failure(document.diagnostics)),
        Err(structural) => {
            let mut diagnostics = document.diagnostics;
            diagnostics.extend(structural);
            return Err(failure(diagnostics));
        }
    };

    let mut context = validate::Context::new(&file, &document.positions, &document.value);
    let stack = validate::validate(&raw, &mut context);
    let mut diagnostics = context.diagnostics;
    diagnostic::sort(&mut diagnostics);

    if diagnostics.iter().any(|d| d.severity == Severity::Error) {
        return Err(LoadError { diagnostics });
    }
    Ok(Loaded {
        stack,
        warnings: diagnostics,
    })
}

fn failure(mut diagnostics: Vec<Diagnostic>) -> LoadError {
    diagnostic::sort(&mut diagnostics);
    LoadError { diagnostics }
}

/// Returns the JSON Schema of the file format, generated from the [`raw`] types.
pub fn json_schema() -> serde_json::Value {
    let schema = schemars::schema_for!(raw::Stack);
    serde_json::to_value(schema).expect("a JSON Schema serialises to JSON")
}
