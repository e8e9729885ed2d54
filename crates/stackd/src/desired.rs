//! Reading a desired-state file from disk, with the file it extends.

use stackd_spec::Loaded;
use std::path::Path;

/// A desired-state file read and validated.
#[derive(Debug)]
pub struct Read {
    pub loaded: Loaded,
    /// The text of the file, followed by the text of the file it extends if
    /// any, so that a change to either shows as a change.
    pub text: String,
}

/// Reads and validates `path`, and the file it extends. The error is every
/// diagnostic, one per line, ready to print.
pub fn read(path: &Path) -> Result<Read, String> {
    let file = path.display().to_string();
    let text = read_text(path)?;
    let Some(base_name) =
        stackd_spec::extends_of(&text, &file).map_err(|error| error.to_string())?
    else {
        let loaded = stackd_spec::load(&text, &file).map_err(|error| error.to_string())?;
        return Ok(Read { loaded, text });
    };

    let folder = path.parent().unwrap_or_else(|| Path::new(""));
    let base = folder.join(&base_name);
    let base_text = read_text(&base).map_err(|error| {
        format!(
            "{error}\n  help: `extends: {base_name}` in {file} is relative to the folder of {file}"
        )
    })?;
    let loaded = stackd_spec::load_extending(&text, &file, &base_text, &base.display().to_string())
        .map_err(|error| error.to_string())?;
    Ok(Read {
        loaded,
        text: format!("{text}\n{base_text}"),
    })
}

fn read_text(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|error| {
        format!(
            "{}: error: cannot read the desired-state file: {error}",
            path.display()
        )
    })
}
