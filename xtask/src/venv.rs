//! The emulator's Python venv: created on first use, reinstalled when its requirements change.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

use anyhow::{Context, Result};

use crate::{Workspace, run_step};

/// Interpreter that creates the venv. The emulator's packages are pinned
/// for Python 3.11, the version CI runs.
const BASE_PYTHON: &str = "python3";

/// File in the venv whose modification time records the last successful install.
const STAMP_FILE: &str = "stackd-requirements.stamp";

/// Paths of the emulator's Python environment.
#[derive(Debug)]
pub struct Venv {
    /// The venv's interpreter, `<target>/emulator/venv/bin/python`.
    pub python: PathBuf,
    /// Directory of the `stackd_emulator` package, for PYTHONPATH.
    pub emulator_source: PathBuf,
}

/// Creates the venv if it is missing and installs `tests/emulator/requirements.txt`
/// into it when that file is newer than the last install.
pub fn ensure(workspace: &Workspace) -> Result<Venv> {
    let emulator_source = workspace.root.join("tests/emulator");
    let requirements = emulator_source.join("requirements.txt");
    let dir = workspace.target_dir.join("emulator/venv");
    let python = dir.join("bin/python");
    let stamp = dir.join(STAMP_FILE);

    if !python.exists() {
        fs::create_dir_all(&dir).with_context(|| format!("failed to create {}", dir.display()))?;
        run_step(
            &format!("{BASE_PYTHON} -m venv {}", dir.display()),
            Command::new(BASE_PYTHON).arg("-m").arg("venv").arg(&dir),
        )?;
    }

    if is_stale(&stamp, &requirements)? {
        run_step(
            &format!("pip install -r {}", requirements.display()),
            Command::new(&python)
                .args([
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                    "-r",
                ])
                .arg(&requirements),
        )?;
        fs::write(&stamp, "packages of requirements.txt installed\n")
            .with_context(|| format!("failed to write {}", stamp.display()))?;
    }

    Ok(Venv {
        python,
        emulator_source,
    })
}

/// Returns whether `requirements` changed after the install that wrote `stamp`,
/// or no install finished yet.
fn is_stale(stamp: &Path, requirements: &Path) -> Result<bool> {
    let Some(installed_at) = modified(stamp)? else {
        return Ok(true);
    };
    let changed_at =
        modified(requirements)?.with_context(|| format!("{} not found", requirements.display()))?;
    Ok(changed_at > installed_at)
}

fn modified(path: &Path) -> Result<Option<SystemTime>> {
    match fs::metadata(path) {
        Ok(metadata) => {
            let time = metadata.modified().with_context(|| {
                format!("failed to read the modification time of {}", path.display())
            })?;
            Ok(Some(time))
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(error).with_context(|| format!("failed to read {}", path.display())),
    }
}
