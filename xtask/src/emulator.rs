//! Starting the moto emulator (`python -m stackd_emulator`), in the foreground or as a child.

use std::fs::{self, File};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::venv::{self, Venv};
use crate::{Workspace, run_step};

/// Address the emulator binds. It only accepts loopback addresses.
const HOST: &str = "127.0.0.1";

/// Start of the line the emulator prints to stdout once it accepts connections.
const READY_PREFIX: &str = "stackd-emulator ready on ";

/// Time allowed from spawning the emulator to its ready line. It starts in
/// about 2 s on an idle 2-core machine, and the margin covers one busy compiling.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// Runs the emulator on `127.0.0.1:port` until it exits (Ctrl-C stops it).
pub fn run_foreground(workspace: &Workspace, port: u16) -> Result<()> {
    let venv = venv::ensure(workspace)?;
    let mut command = emulator_command(&venv, port);
    run_step(
        &format!("python -m stackd_emulator --host {HOST} --port {port}"),
        &mut command,
    )
}

/// An emulator running as a child process, killed on drop.
#[derive(Debug)]
pub struct BackgroundEmulator {
    child: Child,
    endpoint: String,
    log_path: PathBuf,
}

impl BackgroundEmulator {
    /// Starts the emulator on a free loopback port, with its stderr (the
    /// request log) in `<target>/emulator/logs/NAME.log`, and waits for its
    /// ready line.
    pub fn start(workspace: &Workspace, venv: &Venv, name: &str) -> Result<Self> {
        let log_dir = workspace.target_dir.join("emulator/logs");
        fs::create_dir_all(&log_dir)
            .with_context(|| format!("failed to create {}", log_dir.display()))?;
        let log_path = log_dir.join(format!("{name}.log"));
        let log = File::create(&log_path)
            .with_context(|| format!("failed to create {}", log_path.display()))?;

        // Port 0 lets the emulator bind a free port and name it in the
        // ready line, so no other process can take the port in between.
        let mut child = emulator_command(venv, 0)
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .with_context(|| format!("failed to start {}", venv.python.display()))?;
        let stdout = child
            .stdout
            .take()
            .context("the emulator's stdout is not piped")?;

        let (ready_sender, ready_receiver) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(endpoint) = line.strip_prefix(READY_PREFIX) {
                    // After start() returns, the send fails harmlessly and the
                    // loop only drains stdout, so the child never blocks on it.
                    let _ = ready_sender.send(endpoint.trim().to_owned());
                }
            }
        });

        let mut emulator = Self {
            child,
            endpoint: String::new(),
            log_path,
        };
        match ready_receiver.recv_timeout(READY_TIMEOUT) {
            Ok(endpoint) => emulator.endpoint = endpoint,
            Err(mpsc::RecvTimeoutError::Timeout) => bail!(
                "the emulator printed no ready line within {} s; its log is {}",
                READY_TIMEOUT.as_secs(),
                emulator.log_path.display()
            ),
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                let status = emulator
                    .child
                    .wait()
                    .context("failed to wait for the emulator")?;
                bail!(
                    "the emulator exited with {status} before it was ready; its log is {}",
                    emulator.log_path.display()
                );
            }
        }
        Ok(emulator)
    }

    /// Base URL of the emulator, such as `http://127.0.0.1:41235`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// File that receives the emulator's stderr.
    pub fn log_path(&self) -> &PathBuf {
        &self.log_path
    }
}

impl Drop for BackgroundEmulator {
    fn drop(&mut self) {
        // The emulator keeps no state worth a graceful shutdown.
        if let Err(error) = self.child.kill() {
            eprintln!(
                "xtask: failed to kill the emulator (process {}): {error}",
                self.child.id()
            );
        }
        let _ = self.child.wait();
    }
}

fn emulator_command(venv: &Venv, port: u16) -> Command {
    let mut command = Command::new(&venv.python);
    command
        .args(["-m", "stackd_emulator", "--host", HOST, "--port"])
        .arg(port.to_string())
        .env("PYTHONPATH", &venv.emulator_source);
    command
}
