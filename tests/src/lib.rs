//! Harness for whole-flow tests against the moto AWS emulator in `tests/emulator`.
//!
//! [`Emulator::start`] runs `python -m stackd_emulator` on a free loopback
//! port and kills it when the value is dropped. Its call log shows which
//! AWS operations stackd sent:
//!
//! ```no_run
//! let emulator = stackd_tests::Emulator::start()?;
//! let endpoint = emulator.endpoint(); // pass to `--endpoint-url` or an SDK config
//! // ... run stackd against `endpoint` ...
//! assert!(emulator.mutating_calls().is_empty());
//! # anyhow::Ok(())
//! ```
//!
//! The emulator runs in the venv that `cargo xtask test` creates under the
//! target directory. `STACKD_EMULATOR_PYTHON` names another interpreter.

use std::env;
use std::fs::{self, File};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde::Deserialize;

pub mod proxy;

/// Environment variable naming the Python interpreter that runs the emulator.
pub const PYTHON_ENV: &str = "STACKD_EMULATOR_PYTHON";

/// Start of the line the emulator prints to stdout once it accepts connections.
const READY_PREFIX: &str = "stackd-emulator ready on ";

/// Time allowed from spawning the emulator to its ready line. It starts in
/// about 2 s on an idle 2-core machine, and the margin covers one busy compiling.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// Read and write timeout of one request to the emulator's call log.
const CONTROL_TIMEOUT: Duration = Duration::from_secs(10);

/// Numbers the log files of the emulators that one test process starts.
static EMULATOR_COUNT: AtomicUsize = AtomicUsize::new(0);

/// Returns the environment that a child process talking to the emulator
/// needs: test credentials, region `eu-west-3` and no instance metadata
/// lookups. Also remove [`AWS_ENV_REMOVED`] from the child's environment.
pub fn aws_env() -> Vec<(&'static str, &'static str)> {
    vec![
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_REGION", "eu-west-3"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ]
}

/// Variables to remove from a child's environment so that a developer's
/// own AWS profile or session cannot mix into a test.
pub const AWS_ENV_REMOVED: [&str; 3] = ["AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN"];

/// One AWS request that the emulator served, as its call log records it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Call {
    /// SigV4 signing name of the service, such as `ec2` or `s3`.
    pub service: String,
    /// Operation name, such as `CreateVpc`. For REST requests that the
    /// emulator cannot name it is `METHOD /path`.
    pub operation: String,
    /// HTTP method.
    pub method: String,
    /// Request path without the query string.
    pub path: String,
    /// False for Describe*, Get*, List* and Head* operations and for REST
    /// GET and HEAD requests, true for everything else.
    pub mutating: bool,
    /// HTTP status of the response: `None` while the response has not
    /// started, 500 when moto raised an exception.
    pub status: Option<u16>,
}

/// A running emulator, killed on drop.
///
/// Its stderr, the request log, goes to a file under
/// `<target>/emulator/logs/`. The file is deleted on drop unless the
/// thread is panicking, as in a failing test. Then its path is printed.
#[derive(Debug)]
pub struct Emulator {
    child: Child,
    endpoint: String,
    log_path: PathBuf,
    /// Set when the log explains a failure, so drop leaves it in place.
    keep_log: bool,
}

impl Emulator {
    /// Starts the emulator on a free port of 127.0.0.1 and waits up to 30 s
    /// for it to accept connections.
    ///
    /// # Errors
    ///
    /// Fails when the emulator's Python venv is missing, when the process
    /// cannot start, or when it exits or stays silent before it is ready.
    pub fn start() -> Result<Self> {
        let workspace = workspace_root();
        let python = emulator_python(&workspace)?;

        let log_dir = target_dir(&workspace).join("emulator/logs");
        fs::create_dir_all(&log_dir)
            .with_context(|| format!("failed to create {}", log_dir.display()))?;
        let number = EMULATOR_COUNT.fetch_add(1, Ordering::Relaxed);
        let log_path = log_dir.join(format!("test-{}-{number}.log", std::process::id()));
        let log = File::create(&log_path)
            .with_context(|| format!("failed to create {}", log_path.display()))?;

        // Port 0 lets the emulator bind a free port and name it in the
        // ready line, so no other test can take the port in between.
        let mut child = Command::new(&python)
            .args([
                "-m",
                "stackd_emulator",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
            ])
            .env("PYTHONPATH", workspace.join("tests/emulator"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .with_context(|| format!("failed to start the emulator with {}", python.display()))?;
        let stdout = child
            .stdout
            .take()
            .context("the emulator's stdout is not piped")?;

        let mut emulator = Self {
            child,
            endpoint: String::new(),
            log_path,
            keep_log: false,
        };
        match wait_for_ready_line(stdout) {
            Ok(endpoint) => {
                emulator.endpoint = endpoint;
                Ok(emulator)
            }
            Err(error) => {
                emulator.keep_log = true;
                let exit = match emulator.exit_status() {
                    Some(status) => format!(" (it exited with {status})"),
                    None => String::new(),
                };
                Err(error.context(format!(
                    "the emulator did not start{exit}; its log is {}",
                    emulator.log_path.display()
                )))
            }
        }
    }

    /// Returns the exit status once the child has exited, waiting up to 1 s.
    fn exit_status(&mut self) -> Option<std::process::ExitStatus> {
        // Stdout closes while the process exits, a moment before it can be reaped.
        for _ in 0..20 {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            thread::sleep(Duration::from_millis(50));
        }
        None
    }

    /// Base URL of the emulator, such as `http://127.0.0.1:41235`, for
    /// `--endpoint-url` or an SDK client's endpoint.
    pub fn endpoint(&self) -> String {
        self.endpoint.clone()
    }

    /// Returns every AWS request served since the start or the last
    /// [`reset_calls`](Self::reset_calls), oldest first.
    ///
    /// # Panics
    ///
    /// Panics when the request to the emulator fails or its response is not
    /// valid JSON.
    pub fn calls(&self) -> Vec<Call> {
        let body = self
            .control_request("GET", "/_stackd/calls")
            .unwrap_or_else(|error| panic!("failed to read the emulator's call log: {error:#}"));
        serde_json::from_slice(&body)
            .unwrap_or_else(|error| panic!("the emulator's call log is not valid JSON: {error}"))
    }

    /// Returns the calls that could change AWS state: every call except
    /// Describe*, Get*, List* and Head* operations and REST GET and HEAD.
    ///
    /// # Panics
    ///
    /// Panics like [`calls`](Self::calls).
    pub fn mutating_calls(&self) -> Vec<Call> {
        self.calls()
            .into_iter()
            .filter(|call| call.mutating)
            .collect()
    }

    /// Empties the call log.
    ///
    /// # Panics
    ///
    /// Panics when the request to the emulator fails.
    pub fn reset_calls(&self) {
        self.control_request("POST", "/_stackd/calls/reset")
            .unwrap_or_else(|error| panic!("failed to reset the emulator's call log: {error:#}"));
    }

    /// Sends one EC2 query-protocol request, such as
    /// `[("Action", "DescribeVpcs")]`, straight to the emulator and returns
    /// the XML body of its 200 response. The request carries a test
    /// credential scope for `eu-west-3` and no real signature, which the
    /// emulator does not check. For programs without the AWS SDK, such as
    /// the benchmarks that change a resource behind stackd's back.
    ///
    /// # Errors
    ///
    /// Fails when the request fails or the emulator returns another status.
    pub fn ec2_query(&self, parameters: &[(&str, &str)]) -> Result<String> {
        let mut body = String::from("Version=2016-11-15");
        for (name, value) in parameters {
            body.push_str(&format!("&{}={}", form_encode(name), form_encode(value)));
        }
        let headers = "Content-Type: application/x-www-form-urlencoded; charset=utf-8\r\n\
             Authorization: AWS4-HMAC-SHA256 Credential=testing/20260101/eu-west-3/ec2/aws4_request, \
             SignedHeaders=host, Signature=0\r\n";
        let response = self.http_request("POST", "/", headers, body.as_bytes())?;
        Ok(String::from_utf8_lossy(&response).into_owned())
    }

    /// Sends one HTTP/1.0 request to a `/_stackd/` endpoint and returns the
    /// body of its 200 response.
    fn control_request(&self, method: &str, path: &str) -> Result<Vec<u8>> {
        self.http_request(method, path, "", b"")
    }

    /// Sends one HTTP/1.0 request with `headers` (each line ending in CRLF)
    /// and `body`, and returns the body of its 200 response.
    fn http_request(
        &self,
        method: &str,
        path: &str,
        headers: &str,
        body: &[u8],
    ) -> Result<Vec<u8>> {
        let address = self
            .endpoint
            .strip_prefix("http://")
            .with_context(|| format!("endpoint {} is not an http:// URL", self.endpoint))?;
        let mut stream = TcpStream::connect(address)
            .with_context(|| format!("failed to connect to {address}"))?;
        stream.set_read_timeout(Some(CONTROL_TIMEOUT))?;
        stream.set_write_timeout(Some(CONTROL_TIMEOUT))?;

        // HTTP/1.0 without keep-alive: the server closes the connection
        // after the response, so the response ends at end of stream.
        let request = format!(
            "{method} {path} HTTP/1.0\r\nHost: {address}\r\n{headers}Content-Length: {}\r\n\r\n",
            body.len()
        );
        stream
            .write_all(request.as_bytes())
            .and_then(|()| stream.write_all(body))
            .with_context(|| format!("failed to send {method} {path}"))?;
        let mut response = Vec::new();
        stream
            .read_to_end(&mut response)
            .with_context(|| format!("failed to read the response to {method} {path}"))?;

        let header_end = response
            .windows(4)
            .position(|window| window == b"\r\n\r\n")
            .with_context(|| format!("the response to {method} {path} has no end of headers"))?;
        let head = String::from_utf8_lossy(&response[..header_end]);
        let status_line = head.lines().next().unwrap_or_default();
        let body = response[header_end + 4..].to_vec();
        if status_line.split_whitespace().nth(1) != Some("200") {
            bail!(
                "{method} {path} returned `{status_line}`: {}",
                String::from_utf8_lossy(&body)
            );
        }
        Ok(body)
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        // The emulator keeps no state worth a graceful shutdown.
        let _ = self.child.kill();
        let _ = self.child.wait();
        if self.keep_log {
            return;
        }
        if thread::panicking() {
            eprintln!(
                "stackd-tests: emulator log kept in {}",
                self.log_path.display()
            );
        } else {
            let _ = fs::remove_file(&self.log_path);
        }
    }
}

/// Percent-encodes a form field name or value.
fn form_encode(text: &str) -> String {
    let mut encoded = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

/// Reads the emulator's stdout until the ready line and returns the
/// endpoint it names. A thread keeps draining stdout afterwards so that
/// the emulator never blocks on a full pipe.
fn wait_for_ready_line(stdout: impl Read + Send + 'static) -> Result<String> {
    let (sender, receiver) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(endpoint) = line.strip_prefix(READY_PREFIX) {
                // The receiver is gone after the first ready line, so
                // later sends fail and are ignored.
                let _ = sender.send(endpoint.trim().to_owned());
            }
        }
    });

    match receiver.recv_timeout(READY_TIMEOUT) {
        Ok(endpoint) => Ok(endpoint),
        Err(mpsc::RecvTimeoutError::Timeout) => {
            bail!(
                "no ready line on stdout within {} s",
                READY_TIMEOUT.as_secs()
            )
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => bail!("stdout closed before the ready line"),
    }
}

/// Returns the interpreter from `STACKD_EMULATOR_PYTHON`, else the venv's.
fn emulator_python(workspace: &Path) -> Result<PathBuf> {
    if let Some(python) = env::var_os(PYTHON_ENV) {
        return Ok(PathBuf::from(python));
    }
    let python = target_dir(workspace).join("emulator/venv/bin/python");
    if !python.exists() {
        bail!(
            "the emulator's Python venv is missing: {} not found. Run `cargo xtask test` \
             (or `cargo xtask emulator`) once to create it, or set {PYTHON_ENV} to a Python \
             that has tests/emulator/requirements.txt installed",
            python.display()
        );
    }
    Ok(python)
}

fn workspace_root() -> PathBuf {
    // This crate's Cargo.toml sits one level below the workspace root.
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the stackd-tests manifest directory has a parent")
        .to_path_buf()
}

/// Cargo's target directory: `CARGO_TARGET_DIR` if set, else `<workspace>/target`.
fn target_dir(workspace: &Path) -> PathBuf {
    match env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => workspace.join(dir),
        None => workspace.join("target"),
    }
}
