//! The stackd desired-state file: YAML parsing, validation, and the validated model.
//!
//! [`load`] takes the text of a file and its name, and returns a [`model::Stack`] in which every
//! reference between components is resolved and checked, or every error found. Loading runs in
//! two stages: the YAML becomes [`raw`] types that mirror the file, and validation turns those
//! into the [`model`]. This crate does no IO: callers read the file, and paths inside it (such
//! as CloudFront public key files) stay paths.
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

    let raw = deserialize::deserialize(&document, file);
    let raw = match raw {
        Ok(raw) if document.diagnostics.is_empty() => raw,
        Ok(_) => return Err(failure(document.diagnostics)),
        Err(structural) => {
            let mut diagnostics = document.diagnostics;
            diagnostics.extend(structural);
            return Err(failure(diagnostics));
        }
    };

    let mut context = validate::Context::new(file, &document.positions, &document.value);
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
