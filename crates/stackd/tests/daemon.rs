//! Whole flows of `stackd reconcile` as a daemon against the moto emulator:
//! readiness, drift repair, reload, rejected reload, SIGTERM, systemd notify
//! and the /metrics text.

mod common;

use aws_config::BehaviorVersion;
use aws_sdk_ec2::types::{Filter, Tag};
use stackd_tests::{AWS_ENV_REMOVED, Emulator, aws_env};
use std::fs;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const STACK: &str = "beezyup-prod-c01";

/// Time allowed for the first pass, which creates the whole stack.
const FIRST_PASS_TIMEOUT: Duration = Duration::from_secs(120);
/// Time allowed for a change (drift or a new file) to be applied. The daemon
/// runs with `--interval 2s`, so this is many intervals on a busy machine.
const APPLY_TIMEOUT: Duration = Duration::from_secs(60);
/// Time allowed from SIGTERM to the exit.
const STOP_TIMEOUT: Duration = Duration::from_secs(40);

static FOLDER_COUNT: AtomicUsize = AtomicUsize::new(0);

/// A temporary folder with a copy of the config file and its keys, removed on drop.
struct Workspace {
    folder: PathBuf,
}

impl Workspace {
    fn new() -> Self {
        let number = FOLDER_COUNT.fetch_add(1, Ordering::Relaxed);
        let folder =
            std::env::temp_dir().join(format!("stackd-daemon-{}-{number}", std::process::id()));
        let _ = fs::remove_dir_all(&folder);
        fs::create_dir_all(folder.join("keys")).unwrap();
        let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config");
        fs::write(folder.join("stack.yaml"), common::stack_text()).unwrap();
        for entry in fs::read_dir(config.join("keys")).unwrap() {
            let entry = entry.unwrap();
            fs::copy(entry.path(), folder.join("keys").join(entry.file_name())).unwrap();
        }
        Workspace { folder }
    }

    fn file(&self) -> PathBuf {
        self.folder.join("stack.yaml")
    }

    fn stderr(&self) -> String {
        fs::read_to_string(self.folder.join("stderr.log")).unwrap_or_default()
    }
}

impl Drop for Workspace {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("daemon stderr:\n{}", self.stderr());
        }
        let _ = fs::remove_dir_all(&self.folder);
    }
}

/// A daemon process, killed on drop if a test did not stop it.
struct Daemon {
    child: Child,
    address: SocketAddr,
}

impl Daemon {
    fn start(emulator: &Emulator, workspace: &Workspace, environment: &[(&str, &str)]) -> Self {
        let address = free_address();
        let stderr = fs::File::create(workspace.folder.join("stderr.log")).unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_stackd"));
        command
            .args(["-v", "reconcile", "-f"])
            .arg(workspace.file())
            .args(["--interval", "2s", "--requeue-after", "1s"])
            .arg("--listen")
            .arg(address.to_string())
            .arg("--endpoint-url")
            .arg(emulator.endpoint())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr);
        for name in AWS_ENV_REMOVED
            .iter()
            .chain(&["NOTIFY_SOCKET", "WATCHDOG_USEC"])
        {
            command.env_remove(name);
        }
        command.envs(aws_env());
        command.envs(environment.iter().copied());
        let child = command.spawn().expect("the stackd binary starts");
        Daemon { child, address }
    }

    fn get(&self, path: &str) -> Option<(u16, String)> {
        http_get(self.address, path)
    }

    /// Polls `path` until it returns 200, or panics after `timeout`.
    fn wait_for_200(&mut self, path: &str, timeout: Duration) {
        let started = Instant::now();
        while started.elapsed() < timeout {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("the daemon exited with {status} before {path} returned 200");
            }
            if let Some((200, _)) = self.get(path) {
                return;
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        panic!("{path} did not return 200 within {timeout:?}");
    }

    /// Sends SIGTERM and waits for the exit, or panics after `STOP_TIMEOUT`.
    fn terminate(&mut self) -> ExitStatus {
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(sent.success(), "kill -TERM failed");
        let started = Instant::now();
        while started.elapsed() < STOP_TIMEOUT {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("the daemon did not stop within {STOP_TIMEOUT:?} of SIGTERM");
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Returns a loopback address with a port that was free a moment ago.
fn free_address() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap()
}

/// Sends one GET and returns the status and body, or `None` when the
/// daemon does not answer (not listening yet).
fn http_get(address: SocketAddr, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(2)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, body.to_owned()))
}

/// Polls `check` every 500 ms until it returns true, or panics after `timeout`.
async fn eventually<F, Fut>(what: &str, timeout: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while started.elapsed() < timeout {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    panic!("{what} did not happen within {timeout:?}");
}

async fn ec2_client(emulator: &Emulator) -> aws_sdk_ec2::Client {
    let config = aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(emulator.endpoint())
        .region(aws_config::Region::new("eu-west-3"))
        .credentials_provider(aws_sdk_ec2::config::Credentials::new(
            "testing",
            "testing",
            None,
            None,
            "stackd-tests",
        ))
        .load()
        .await;
    aws_sdk_ec2::Client::new(&config)
}

fn stack_filter() -> Filter {
    Filter::builder()
        .name("tag:stackd:stack")
        .values(STACK)
        .build()
}

fn has_tag(tags: &[Tag], key: &str, value: &str) -> bool {
    tags.iter()
        .any(|tag| tag.key() == Some(key) && tag.value() == Some(value))
}

/// Returns the id of the private-a route table and whether its default route exists.
async fn private_a_default_route(ec2: &aws_sdk_ec2::Client) -> (String, bool) {
    let tables = ec2
        .describe_route_tables()
        .filters(stack_filter())
        .send()
        .await
        .unwrap();
    let table = tables
        .route_tables()
        .iter()
        .find(|table| has_tag(table.tags(), "stackd:id", "route-table/private-a"))
        .expect("the private-a route table exists");
    let present = table
        .routes()
        .iter()
        .any(|route| route.destination_cidr_block() == Some("0.0.0.0/0"));
    (table.route_table_id().unwrap().to_owned(), present)
}

async fn vpc_has_tag(ec2: &aws_sdk_ec2::Client, key: &str, value: &str) -> bool {
    let vpcs = ec2
        .describe_vpcs()
        .filters(stack_filter())
        .send()
        .await
        .unwrap();
    vpcs.vpcs()
        .iter()
        .any(|vpc| has_tag(vpc.tags(), key, value))
}

#[tokio::test(flavor = "multi_thread")]
async fn daemon_repairs_reloads_and_stops() {
    let emulator = Emulator::start().expect("the emulator starts");
    let workspace = Workspace::new();
    let mut daemon = Daemon::start(&emulator, &workspace, &[]);
    let ec2 = ec2_client(&emulator).await;

    // 1. The first pass creates the stack and makes the daemon ready.
    daemon.wait_for_200("/readyz", FIRST_PASS_TIMEOUT);
    eventually(
        "the default route of private-a exists",
        APPLY_TIMEOUT,
        || async { private_a_default_route(&ec2).await.1 },
    )
    .await;

    // 2. A route deleted behind the daemon's back is put back.
    let (table, _) = private_a_default_route(&ec2).await;
    ec2.delete_route()
        .route_table_id(&table)
        .destination_cidr_block("0.0.0.0/0")
        .send()
        .await
        .unwrap();
    eventually("the deleted route is put back", APPLY_TIMEOUT, || async {
        private_a_default_route(&ec2).await.1
    })
    .await;

    // 3. A new tag in the file, saved as editors do (write, then rename), is applied.
    let text = fs::read_to_string(workspace.file()).unwrap();
    let tagged = text.replacen(
        "    Environment: prod\n",
        "    Environment: prod\n    Team: platform\n",
        1,
    );
    assert_ne!(tagged, text, "the file has the Environment tag to extend");
    let temporary = workspace.folder.join(".stack.yaml.swp");
    fs::write(&temporary, &tagged).unwrap();
    fs::rename(&temporary, workspace.file()).unwrap();
    eventually("the new tag reaches the VPC", APPLY_TIMEOUT, || async {
        vpc_has_tag(&ec2, "Team", "platform").await
    })
    .await;

    // 4. An invalid file is rejected and the daemon keeps running.
    fs::write(
        workspace.file(),
        tagged.replacen("kind: Stack", "kind: Stak", 1),
    )
    .unwrap();
    let started = Instant::now();
    while !workspace
        .stderr()
        .contains("rejected the changed desired-state file")
    {
        assert!(
            started.elapsed() < APPLY_TIMEOUT,
            "no rejection logged:\n{}",
            workspace.stderr()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    assert!(
        workspace.stderr().contains("Stak"),
        "the diagnostic names the bad value"
    );
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(daemon.get("/healthz").map(|(status, _)| status), Some(200));
    let (status, body) = daemon.get("/status").expect("the daemon answers /status");
    assert_eq!(status, 200);
    let document: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(
        document["lastReloadError"].as_str().is_some(),
        "/status shows the rejected reload: {body}"
    );
    assert_eq!(document["stack"], STACK);

    // 5. `stackd status` prints the table.
    let output = Command::new(env!("CARGO_BIN_EXE_stackd"))
        .args(["status", "--address", &daemon.address.to_string()])
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&output.stdout);
    assert!(table.contains("COMPONENT"), "{table}");
    assert!(table.contains("network"), "{table}");

    // 6. SIGTERM stops the daemon cleanly.
    let status = daemon.terminate();
    assert_eq!(status.code(), Some(0), "exit after SIGTERM");
    assert!(workspace.stderr().contains("daemon stopped"));
}

#[tokio::test(flavor = "multi_thread")]
async fn daemon_notifies_systemd() {
    let emulator = Emulator::start().expect("the emulator starts");
    let workspace = Workspace::new();
    let socket_path = workspace.folder.join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut daemon = Daemon::start(
        &emulator,
        &workspace,
        &[
            ("NOTIFY_SOCKET", socket_path.to_str().unwrap()),
            ("WATCHDOG_USEC", "2000000"),
        ],
    );

    let mut messages: Vec<String> = Vec::new();
    let started = Instant::now();
    let seen = |messages: &[String], prefix: &str| {
        messages
            .iter()
            .any(|message| message.lines().any(|line| line.starts_with(prefix)))
    };
    while !(seen(&messages, "READY=1")
        && seen(&messages, "WATCHDOG=1")
        && seen(&messages, "STATUS="))
    {
        assert!(
            started.elapsed() < FIRST_PASS_TIMEOUT,
            "missing notifications, got {messages:?}"
        );
        let mut buffer = [0; 4096];
        if let Ok(length) = socket.recv(&mut buffer) {
            messages.push(String::from_utf8_lossy(&buffer[..length]).into_owned());
        }
    }
    let status = messages
        .iter()
        .flat_map(|message| message.lines())
        .find(|line| line.starts_with("STATUS="))
        .unwrap();
    assert!(status.contains(STACK), "{status}");

    assert_eq!(daemon.terminate().code(), Some(0));
    let mut buffer = [0; 4096];
    let mut stopping = false;
    while let Ok(length) = socket.recv(&mut buffer) {
        stopping |= String::from_utf8_lossy(&buffer[..length]).contains("STOPPING=1");
    }
    assert!(stopping, "STOPPING=1 sent on SIGTERM");
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_pass_promtool_check() {
    let Ok(promtool) = which_promtool() else {
        println!("skipped: promtool not found on PATH (Debian package `prometheus`)");
        return;
    };
    let emulator = Emulator::start().expect("the emulator starts");
    let workspace = Workspace::new();
    let mut daemon = Daemon::start(&emulator, &workspace, &[]);
    daemon.wait_for_200("/readyz", FIRST_PASS_TIMEOUT);

    let (status, metrics) = daemon.get("/metrics").expect("the daemon answers /metrics");
    assert_eq!(status, 200);
    assert!(
        metrics.contains("stackd_passes_total{outcome="),
        "{metrics}"
    );
    assert!(
        metrics.contains(
            "stackd_aws_calls_total{service=\"ec2\",operation=\"DescribeVpcs\",outcome=\"ok\"} "
        ),
        "the first pass's DescribeVpcs calls are counted:\n{metrics}"
    );
    let mut check = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    check
        .stdin
        .take()
        .unwrap()
        .write_all(metrics.as_bytes())
        .unwrap();
    let output = check.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "promtool check metrics failed:\n{}{}\n--- metrics\n{metrics}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(daemon.terminate().code(), Some(0));
}

fn which_promtool() -> Result<PathBuf, ()> {
    let path = std::env::var_os("PATH").ok_or(())?;
    std::env::split_paths(&path)
        .map(|folder| folder.join("promtool"))
        .find(|candidate| candidate.is_file())
        .ok_or(())
}

/// Returns the status and reason of a component in the daemon's /status.
fn component_status(daemon: &Daemon, id: &str) -> Option<(String, String)> {
    let (_, body) = daemon.get("/status")?;
    let document: serde_json::Value = serde_json::from_str(&body).ok()?;
    let component = document["components"]
        .as_array()?
        .iter()
        .find(|component| component["id"] == id)?;
    Some((
        component["status"].as_str()?.to_owned(),
        component["reason"].as_str()?.to_owned(),
    ))
}

#[tokio::test(flavor = "multi_thread")]
async fn daemon_waits_for_held_lease() {
    let emulator = Emulator::start().expect("the emulator starts");
    let created = common::reconcile(&emulator, &common::config_file());
    assert_eq!(
        created.status.code(),
        Some(0),
        "{}",
        common::describe(&created)
    );
    let ec2 = ec2_client(&emulator).await;

    // Another run holds the lease while a route is deleted behind stackd's back.
    common::hold_lease_elsewhere(&emulator, 3600).await;
    let (table, _) = private_a_default_route(&ec2).await;
    ec2.delete_route()
        .route_table_id(&table)
        .destination_cidr_block("0.0.0.0/0")
        .send()
        .await
        .unwrap();
    emulator.reset_calls();

    let workspace = Workspace::new();
    let mut daemon = Daemon::start(&emulator, &workspace, &[]);
    daemon.wait_for_200("/readyz", FIRST_PASS_TIMEOUT);
    let started = Instant::now();
    let reason = loop {
        if let Some((status, reason)) = component_status(&daemon, "network")
            && reason.contains("is held by ops-box pid 4242")
        {
            assert_eq!(status, "Blocked", "{reason}");
            break reason;
        }
        assert!(
            started.elapsed() < APPLY_TIMEOUT,
            "/status never named the lease holder:\n{}",
            workspace.stderr()
        );
        std::thread::sleep(Duration::from_millis(250));
    };
    assert!(reason.starts_with("waiting: "), "{reason}");
    // A few more passes at the 2 s interval, still without a write.
    std::thread::sleep(Duration::from_secs(5));
    assert_eq!(
        common::stack_writes(&emulator),
        Vec::new(),
        "no write while the lease is held"
    );
    assert!(!private_a_default_route(&ec2).await.1);
    assert_eq!(common::lease_record(&emulator).await["holder"]["pid"], 4242);

    // The other run lets the lease go: the daemon takes it and repairs the route.
    common::s3(&emulator)
        .await
        .delete_object()
        .bucket(common::LEASE_BUCKET)
        .key(common::LEASE_KEY)
        .send()
        .await
        .unwrap();
    eventually("the deleted route is put back", APPLY_TIMEOUT, || async {
        private_a_default_route(&ec2).await.1
    })
    .await;

    let status = daemon.terminate();
    assert_eq!(status.code(), Some(0), "exit after SIGTERM");
}

#[test]
fn unit_file_passes_systemd_analyze() {
    let Ok(found) = Command::new("systemd-analyze").arg("--version").output() else {
        eprintln!("systemd-analyze is not installed: deploy/stackd.service not checked");
        return;
    };
    assert!(found.status.success(), "systemd-analyze --version failed");

    // The unit names the installed binary, which the check needs to exist, so
    // the copy names the built one.
    let unit = fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/stackd.service"),
    )
    .expect("deploy/stackd.service is readable");
    let workspace = Workspace::new();
    let copy = workspace.folder.join("stackd.service");
    fs::write(
        &copy,
        unit.replace("/usr/local/bin/stackd", env!("CARGO_BIN_EXE_stackd")),
    )
    .expect("the unit copy is written");

    let verified = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&copy)
        .output()
        .expect("systemd-analyze runs");

    assert!(
        verified.status.success(),
        "systemd-analyze verify: {}",
        common::describe(&verified)
    );
}
