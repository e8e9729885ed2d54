//! Diagnostics in the compiler manner (`file:line:column: error: path: message`) and the load error.

use std::fmt;

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Severity {
    /// The file is rejected.
    Error,
    /// The file loads, but the setting is risky.
    Warning,
}

/// One problem found in a file, with the position of the value at fault.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Diagnostic {
    pub severity: Severity,
    /// File name as given to [`crate::load`].
    pub file: String,
    /// 1-based.
    pub line: usize,
    /// 1-based, in characters.
    pub column: usize,
    /// Field path such as `spec.network.subnets[2].cidr`, empty for YAML syntax errors.
    pub path: String,
    pub message: String,
    /// Suggested fix, when there is a likely one.
    pub help: Option<String>,
}

/// Every error found in a file, and the warnings found beside them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    /// Diagnostics sorted by position, at least one of them an error.
    pub diagnostics: Vec<Diagnostic>,
}

impl Diagnostic {
    /// Sets the help line.
    pub(crate) fn set_help(&mut self, help: impl Into<String>) {
        self.help = Some(help.into());
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        })
    }
}

/// Writes `file:line:column: severity: path: message`, then an indented `help:` line if any.
impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}: ",
            self.file, self.line, self.column, self.severity
        )?;
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        f.write_str(&self.message)?;
        if let Some(help) = &self.help {
            write!(f, "\n  help: {help}")?;
        }
        Ok(())
    }
}

impl LoadError {
    /// Iterates over the diagnostics of severity error.
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics
            .iter()
            .filter(|diagnostic| diagnostic.severity == Severity::Error)
    }
}

/// Writes every diagnostic, one after another.
impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, diagnostic) in self.diagnostics.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{diagnostic}")?;
        }
        Ok(())
    }
}

impl std::error::Error for LoadError {}

/// Sorts by position, keeping the order of discovery for equal positions.
pub(crate) fn sort(diagnostics: &mut [Diagnostic]) {
    diagnostics.sort_by_key(|diagnostic| (diagnostic.line, diagnostic.column));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cidr_error() -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            file: "config/x.yaml".into(),
            line: 31,
            column: 15,
            path: "spec.network.subnets[2].cidr".into(),
            message: "invalid CIDR \"10.0.0.1/16\": host bits are set".into(),
            help: Some("write 10.0.0.0/16, the network that contains this address".into()),
        }
    }

    #[test]
    fn display_follows_compiler_format() {
        assert_eq!(
            cidr_error().to_string(),
            "config/x.yaml:31:15: error: spec.network.subnets[2].cidr: invalid CIDR \
             \"10.0.0.1/16\": host bits are set\n  help: write 10.0.0.0/16, the network \
             that contains this address"
        );
    }

    #[test]
    fn display_omits_empty_path() {
        let diagnostic = Diagnostic {
            path: String::new(),
            help: None,
            message: "invalid YAML".into(),
            ..cidr_error()
        };
        assert_eq!(
            diagnostic.to_string(),
            "config/x.yaml:31:15: error: invalid YAML"
        );
    }

    #[test]
    fn load_error_display_lists_every_diagnostic() {
        let error = LoadError {
            diagnostics: vec![cidr_error(), cidr_error()],
        };
        assert_eq!(error.to_string().matches("host bits are set").count(), 2);
    }
}
