//! Whole flows of the Slack alerts: a daemon and `stackd plan --alert` against the
//! moto emulator, posting to a Slack-compatible webhook listener of the test's own
//! on loopback.

mod common;

use aws_sdk_ec2::types::{IpPermission, IpRange};
use stackd_tests::{AWS_ENV_REMOVED, Emulator, aws_env};
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Time allowed for the first pass, which creates the whole stack.
const FIRST_PASS_TIMEOUT: Duration = Duration::from_secs(120);
/// Time allowed for a drift to be seen, put back or alerted. The daemon runs with
/// `--interval 2s`, so this is many intervals on a busy machine.
const PASS_TIMEOUT: Duration = Duration::from_secs(60);

/// A fake AWS secret key, distinct enough to be searched for in every output.
const FAKE_SECRET_KEY: &str = "stackdAlertTestSecretKey0123456789abcdefZ";
/// The secret part of the webhook URL's path.
const WEBHOOK_TOKEN: &str = "xTestWebhookToken7f3c9a";

/// Response behaviour of the listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Ok,
    /// 429 with `Retry-After: 1` to the first request, then 200.
    RateLimitedOnce,
    /// Reads the request and never responds.
    Hang,
    /// Responds 200 to the first request after 3 s, then at once.
    SlowFirst,
}

/// One POST the listener received.
#[derive(Debug, Clone)]
struct Received {
    at: Instant,
    path: String,
    body: String,
}

/// A Slack-compatible incoming webhook on 127.0.0.1.
#[derive(Debug, Clone)]
struct Slack {
    address: SocketAddr,
    mode: Arc<Mutex<Mode>>,
    received: Arc<Mutex<Vec<Received>>>,
}

impl Slack {
    fn start(mode: Mode) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let slack = Slack {
            address: listener.local_addr().unwrap(),
            mode: Arc::new(Mutex::new(mode)),
            received: Arc::new(Mutex::new(Vec::new())),
        };
        let server = slack.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let server = server.clone();
                std::thread::spawn(move || server.answer(stream));
            }
        });
        slack
    }

    fn url(&self) -> String {
        format!(
            "http://{}/services/T0TEST/B0TEST/{WEBHOOK_TOKEN}",
            self.address
        )
    }

    fn set_mode(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    fn bodies(&self) -> Vec<String> {
        self.received().into_iter().map(|r| r.body).collect()
    }

    /// Serves every request of one connection.
    fn answer(&self, stream: TcpStream) {
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut stream = stream;
        loop {
            let mut request_line = String::new();
            if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
                return;
            }
            let path = request_line
                .split_whitespace()
                .nth(1)
                .unwrap_or_default()
                .to_owned();
            let mut length = 0;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    return;
                }
                if line == "\r\n" {
                    break;
                }
                if let Some((name, value)) = line.split_once(':')
                    && name.eq_ignore_ascii_case("content-length")
                {
                    length = value.trim().parse().unwrap();
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            let mode = *self.mode.lock().unwrap();
            let first = {
                let mut received = self.received.lock().unwrap();
                received.push(Received {
                    at: Instant::now(),
                    path,
                    body: String::from_utf8(body).unwrap(),
                });
                received.len() == 1
            };
            let response = match mode {
                Mode::Hang => {
                    std::thread::sleep(Duration::from_secs(3600));
                    return;
                }
                Mode::SlowFirst if first => {
                    std::thread::sleep(Duration::from_secs(3));
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"
                }
                Mode::RateLimitedOnce if first => {
                    "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\nContent-Length: 12\r\n\r\nrate_limited"
                }
                _ => "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok",
            };
            if stream.write_all(response.as_bytes()).is_err() {
                return;
            }
        }
    }
}

static FOLDER_COUNT: AtomicUsize = AtomicUsize::new(0);

/// A temporary folder with the desired-state file, its keys, the clock offset file
/// and the logs, removed on drop.
struct Workspace {
    folder: PathBuf,
}

impl Workspace {
    fn new(text: &str) -> Self {
        let number = FOLDER_COUNT.fetch_add(1, Ordering::Relaxed);
        let folder =
            std::env::temp_dir().join(format!("stackd-alerts-{}-{number}", std::process::id()));
        let _ = fs::remove_dir_all(&folder);
        fs::create_dir_all(folder.join("keys")).unwrap();
        let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config");
        fs::write(folder.join("stack.yaml"), text).unwrap();
        for entry in fs::read_dir(config.join("keys")).unwrap() {
            let entry = entry.unwrap();
            fs::copy(entry.path(), folder.join("keys").join(entry.file_name())).unwrap();
        }
        Workspace { folder }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.folder.join(name)
    }

    fn daemon_log(&self) -> String {
        fs::read_to_string(self.path("stderr.log")).unwrap_or_default()
    }
}

impl Drop for Workspace {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("daemon stderr:\n{}", self.daemon_log());
        }
        let _ = fs::remove_dir_all(&self.folder);
    }
}

/// Sets the environment of every stackd run of these tests: the emulator's test
/// credentials with a distinctive secret key, the webhook URL and the test clock.
fn environment(command: &mut Command, workspace: &Workspace, slack: &Slack) {
    for name in
        AWS_ENV_REMOVED
            .iter()
            .chain(&["NOTIFY_SOCKET", "WATCHDOG_USEC", "CREDENTIALS_DIRECTORY"])
    {
        command.env_remove(name);
    }
    command.envs(aws_env());
    command.env("AWS_SECRET_ACCESS_KEY", FAKE_SECRET_KEY);
    command.env("STACKD_SLACK_WEBHOOK_URL", slack.url());
    command.env(
        "STACKD_TEST_CLOCK_OFFSET_FILE",
        workspace.path("clock-offset"),
    );
}

/// A daemon process, killed on drop.
struct Daemon {
    child: Child,
    address: SocketAddr,
}

impl Daemon {
    fn start(emulator: &Emulator, workspace: &Workspace, slack: &Slack) -> Self {
        let address = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let stderr = fs::File::create(workspace.path("stderr.log")).unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_stackd"));
        command
            .args(["-vv", "reconcile", "-f"])
            .arg(workspace.path("stack.yaml"))
            .args(["--interval", "2s", "--requeue-after", "1s"])
            .arg("--alert-state")
            .arg(workspace.path("alert-state.json"))
            .arg("--listen")
            .arg(address.to_string())
            .arg("--endpoint-url")
            .arg(emulator.endpoint())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr);
        environment(&mut command, workspace, slack);
        Daemon {
            child: command.spawn().expect("the stackd binary starts"),
            address,
        }
    }

    fn get(&self, path: &str) -> Option<String> {
        let mut stream = TcpStream::connect_timeout(&self.address, Duration::from_secs(2)).ok()?;
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .ok()?;
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            self.address
        );
        stream.write_all(request.as_bytes()).ok()?;
        let mut response = String::new();
        stream.read_to_string(&mut response).ok()?;
        let (head, body) = response.split_once("\r\n\r\n")?;
        head.starts_with("HTTP/1.1 200").then(|| body.to_owned())
    }

    /// Returns the total of `stackd_passes_total`, or 0 before the first pass.
    fn passes(&self) -> u64 {
        self.metric_sum("stackd_passes_total{")
    }

    fn metric_sum(&self, prefix: &str) -> u64 {
        let text = self.get("/metrics").unwrap_or_default();
        text.lines()
            .filter(|line| line.starts_with(prefix))
            .filter_map(|line| line.rsplit(' ').next()?.parse::<u64>().ok())
            .sum()
    }

    fn terminate(&mut self) {
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(sent.success(), "kill -TERM failed");
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(40) {
            if self.child.try_wait().unwrap().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("the daemon did not stop within 40 s of SIGTERM");
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `check` every 250 ms until it returns true, or panics after `timeout`.
fn eventually(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
    let started = Instant::now();
    while started.elapsed() < timeout {
        if check() {
            return;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    panic!("{what} did not happen within {timeout:?}");
}

async fn ec2(emulator: &Emulator) -> aws_sdk_ec2::Client {
    aws_sdk_ec2::Client::new(&common::sdk_config(emulator).await)
}

/// Returns the id of the security group of the `endpoints` entry.
async fn endpoints_group(ec2: &aws_sdk_ec2::Client) -> String {
    let groups = ec2
        .describe_security_groups()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("group-name")
                .values("beezyup-prod-c01-endpoints")
                .build(),
        )
        .send()
        .await
        .unwrap();
    groups.security_groups()[0].group_id().unwrap().to_owned()
}

fn ssh_from_anywhere() -> IpPermission {
    IpPermission::builder()
        .ip_protocol("tcp")
        .from_port(22)
        .to_port(22)
        .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
        .build()
}

async fn open_ssh(ec2: &aws_sdk_ec2::Client, group: &str) {
    ec2.authorize_security_group_ingress()
        .group_id(group)
        .ip_permissions(ssh_from_anywhere())
        .send()
        .await
        .unwrap();
}

async fn close_ssh(ec2: &aws_sdk_ec2::Client, group: &str) {
    ec2.revoke_security_group_ingress()
        .group_id(group)
        .ip_permissions(ssh_from_anywhere())
        .send()
        .await
        .unwrap();
}

/// Returns the id of the private-a route table and whether its default route exists.
async fn private_a_default_route(ec2: &aws_sdk_ec2::Client) -> (String, bool) {
    let tables = ec2
        .describe_route_tables()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("tag:stackd:id")
                .values("route-table/private-a")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let table = &tables.route_tables()[0];
    let present = table
        .routes()
        .iter()
        .any(|route| route.destination_cidr_block() == Some("0.0.0.0/0"));
    (table.route_table_id().unwrap().to_owned(), present)
}

/// Returns the production file with the emulator's account, in French, with the security
/// groups on `alertOnly`.
fn alert_only_security_groups() -> String {
    let text = common::stack_text();
    let from = "  drift:\n    default: correct\n";
    assert_eq!(
        text.matches(from).count(),
        1,
        "the file has a drift section"
    );
    assert!(
        text.contains("    language: fr\n"),
        "the file asks for French"
    );
    text.replace(
        from,
        "  drift:\n    default: correct\n    components:\n      security-groups: alertOnly\n",
    )
}

fn assert_no_secret(what: &str, text: &str, slack: &Slack) {
    for secret in [slack.url().as_str(), WEBHOOK_TOKEN, FAKE_SECRET_KEY] {
        assert!(
            !text.contains(secret),
            "{what} contains {secret:?}:\n{text}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn daemon_drift_alert_lifecycle() {
    let emulator = Emulator::start().expect("the emulator starts");
    let workspace = Workspace::new(&alert_only_security_groups());
    let slack = Slack::start(Mode::Ok);
    let mut daemon = Daemon::start(&emulator, &workspace, &slack);
    let ec2 = ec2(&emulator).await;

    // 1. Creating the stack is a pending change, not a drift: no message.
    eventually("the first pass", FIRST_PASS_TIMEOUT, || {
        daemon.passes() >= 1
    });
    let after_first = daemon.passes();
    eventually("two more passes", PASS_TIMEOUT, || {
        daemon.passes() >= after_first + 2
    });
    assert_eq!(slack.received().len(), 0, "{:?}", slack.bodies());

    // 2. A rule added in the console is one message, in French, with the field,
    //    both values, what stackd did and a console link.
    let group = endpoints_group(&ec2).await;
    open_ssh(&ec2, &group).await;
    eventually("the drift message", PASS_TIMEOUT, || {
        !slack.received().is_empty()
    });
    let message = slack.received()[0].clone();
    assert_eq!(
        message.path,
        format!("/services/T0TEST/B0TEST/{WEBHOOK_TOKEN}")
    );
    let document: serde_json::Value = serde_json::from_str(&message.body).unwrap();
    let text = document.to_string();
    assert!(document["blocks"].is_array(), "Block Kit: {text}");
    assert!(text.contains("Dérive sur security-groups"), "{text}");
    assert!(text.contains("beezyup-prod-c01"), "{text}");
    assert!(text.contains("security-group/endpoints"), "{text}");
    assert!(text.contains("`ingress`"), "{text}");
    assert!(text.contains("attendu :"), "{text}");
    assert!(text.contains("réel :"), "{text}");
    assert!(text.contains("tcp 22"), "the live rule: {text}");
    assert!(text.contains("0.0.0.0/0"), "the live rule: {text}");
    assert!(
        text.contains("attendu : `—`"),
        "no such rule in the file: {text}"
    );
    assert!(text.contains("*Action :* aucune"), "{text}");
    assert!(
        text.contains("#SecurityGroups:tag:Name=beezyup-prod-c01-endpoints"),
        "{text}"
    );

    // 3. The drift stays over many passes, and alertOnly leaves it in place: still
    //    one message.
    let seen = daemon.passes();
    eventually("five more passes", PASS_TIMEOUT, || {
        daemon.passes() >= seen + 5
    });
    assert_eq!(slack.received().len(), 1, "{:#?}", slack.bodies());
    let rules = ec2
        .describe_security_groups()
        .group_ids(&group)
        .send()
        .await
        .unwrap();
    assert!(
        rules.security_groups()[0]
            .ip_permissions()
            .iter()
            .any(|rule| rule.from_port() == Some(22)),
        "alertOnly left the rule in place"
    );

    // 4. Two days later on the alerts' clock, a reminder.
    fs::write(workspace.path("clock-offset"), "172800\n").unwrap();
    eventually("the reminder", PASS_TIMEOUT, || slack.received().len() >= 2);
    let reminder = &slack.bodies()[1];
    assert!(
        reminder.contains("Rappel : la dérive sur security-groups persiste"),
        "{reminder}"
    );

    // 5. Fixed by hand: resolved.
    close_ssh(&ec2, &group).await;
    eventually("the resolved message", PASS_TIMEOUT, || {
        slack.received().len() >= 3
    });
    let resolved = &slack.bodies()[2];
    assert!(
        resolved.contains("Résolu : dérive sur security-groups"),
        "{resolved}"
    );

    // 6. With the webhook hanging, a deleted route is still put back at once, and
    //    the failed tries show in the metrics.
    slack.set_mode(Mode::Hang);
    let (table, _) = private_a_default_route(&ec2).await;
    ec2.delete_route()
        .route_table_id(&table)
        .destination_cidr_block("0.0.0.0/0")
        .send()
        .await
        .unwrap();
    let deleted = Instant::now();
    let mut put_back = false;
    while deleted.elapsed() < PASS_TIMEOUT {
        if private_a_default_route(&ec2).await.1 {
            put_back = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(put_back, "the route is put back while the webhook hangs");
    let passes = daemon.passes();
    eventually("passes go on while the webhook hangs", PASS_TIMEOUT, || {
        daemon.passes() >= passes + 3
    });
    eventually("a retried try in /metrics", PASS_TIMEOUT, || {
        daemon.metric_sum("stackd_alert_retries_total ") >= 1
    });
    assert!(
        workspace
            .daemon_log()
            .contains("failed to send a Slack alert, retrying"),
        "the failure is logged"
    );
    daemon.terminate();

    // 7. No log line and no message contains the webhook URL or the secret key.
    assert_no_secret("the daemon's log", &workspace.daemon_log(), &slack);
    for body in slack.bodies() {
        assert_no_secret("a message", &body, &slack);
    }
}

fn run(workspace: &Workspace, slack: &Slack, emulator: &Emulator, args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_stackd"));
    command
        .arg("-vv")
        .args(args)
        .arg("-f")
        .arg(workspace.path("stack.yaml"))
        .arg("--alert-state")
        .arg(workspace.path("alert-state.json"))
        .arg("--endpoint-url")
        .arg(emulator.endpoint());
    environment(&mut command, workspace, slack);
    command.output().expect("the stackd binary runs")
}

#[tokio::test(flavor = "multi_thread")]
async fn plan_alert_posts_the_drift_in_ci() {
    let emulator = Emulator::start().expect("the emulator starts");
    let workspace =
        Workspace::new(&common::stack_text().replace("    language: fr\n", "    language: en\n"));
    let slack = Slack::start(Mode::Ok);
    let ec2 = ec2(&emulator).await;

    // 1. The first run creates the stack and records it: no message.
    let created = run(
        &workspace,
        &slack,
        &emulator,
        &[
            "reconcile",
            "--once",
            "--requeue-after",
            "1s",
            "--wait",
            "60s",
            "--alert",
        ],
    );
    assert_eq!(
        created.status.code(),
        Some(0),
        "{}",
        common::describe(&created)
    );
    assert_eq!(slack.received().len(), 0, "{:?}", slack.bodies());

    // 2. A plan after a console change posts it, in English, as a plan.
    let group = endpoints_group(&ec2).await;
    open_ssh(&ec2, &group).await;
    let planned = run(&workspace, &slack, &emulator, &["plan", "--alert"]);
    assert_eq!(
        planned.status.code(),
        Some(2),
        "{}",
        common::describe(&planned)
    );
    let bodies = slack.bodies();
    assert_eq!(bodies.len(), 1, "{bodies:#?}");
    assert!(
        bodies[0].contains("Drift on security-groups"),
        "{}",
        bodies[0]
    );
    assert!(bodies[0].contains("desired:"), "{}", bodies[0]);
    assert!(
        bodies[0].contains("`stackd plan` changes nothing"),
        "{}",
        bodies[0]
    );

    // 3. The same drift in the next plan is not posted again.
    let again = run(&workspace, &slack, &emulator, &["plan", "--alert"]);
    assert_eq!(again.status.code(), Some(2), "{}", common::describe(&again));
    assert_eq!(slack.received().len(), 1, "{:#?}", slack.bodies());

    // 4. reconcile --once puts it back and posts the "resolved" message.
    let fixed = run(
        &workspace,
        &slack,
        &emulator,
        &[
            "reconcile",
            "--once",
            "--requeue-after",
            "1s",
            "--wait",
            "60s",
            "--alert",
        ],
    );
    assert_eq!(fixed.status.code(), Some(0), "{}", common::describe(&fixed));
    let bodies = slack.bodies();
    assert_eq!(bodies.len(), 2, "{bodies:#?}");
    assert!(
        bodies[1].contains("Resolved: drift on security-groups"),
        "{}",
        bodies[1]
    );

    for output in [&created, &planned, &again, &fixed] {
        let text = common::describe(output);
        assert_no_secret("a run's output", &text, &slack);
    }
    for body in slack.bodies() {
        assert_no_secret("a message", &body, &slack);
    }
}

#[test]
fn alert_test_retries_after_429_with_retry_after() {
    let workspace = Workspace::new(&common::stack_text());
    let slack = Slack::start(Mode::RateLimitedOnce);
    let mut command = Command::new(env!("CARGO_BIN_EXE_stackd"));
    command
        .args(["-v", "alert", "test", "-f"])
        .arg(workspace.path("stack.yaml"));
    environment(&mut command, &workspace, &slack);
    let output = command.output().expect("the stackd binary runs");
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        common::describe(&output)
    );

    let received = slack.received();
    assert_eq!(received.len(), 2, "one 429, then one 200");
    let gap = received[1].at.duration_since(received[0].at);
    assert!(
        gap >= Duration::from_secs(1),
        "waited {gap:?}, Retry-After is 1 s"
    );
    assert_eq!(
        received[0].body, received[1].body,
        "the same message is sent again"
    );
    assert!(
        received[1].body.contains("Message de test de stackd"),
        "{}",
        received[1].body
    );
    assert_no_secret("alert test's output", &common::describe(&output), &slack);
}

#[tokio::test(flavor = "multi_thread")]
async fn once_leaves_alert_only_drift_and_succeeds() {
    let emulator = Emulator::start().expect("the emulator starts");
    let workspace = Workspace::new(&alert_only_security_groups());
    let slack = Slack::start(Mode::Ok);
    let ec2 = ec2(&emulator).await;
    let once = [
        "reconcile",
        "--once",
        "--requeue-after",
        "1s",
        "--wait",
        "60s",
        "--alert",
    ];
    let created = run(&workspace, &slack, &emulator, &once);
    assert_eq!(
        created.status.code(),
        Some(0),
        "{}",
        common::describe(&created)
    );

    // A rule added in the console stays: the policy sends an alert and changes nothing,
    // as the file sets, so the run succeeds.
    let group = endpoints_group(&ec2).await;
    open_ssh(&ec2, &group).await;
    emulator.reset_calls();
    let held = run(&workspace, &slack, &emulator, &once);
    assert_eq!(held.status.code(), Some(0), "{}", common::describe(&held));
    let text = common::stdout(&held);
    assert!(
        text.contains("drift policy alertOnly: not applied"),
        "{text}"
    );
    assert_eq!(common::stack_writes(&emulator), Vec::new(), "no write");
    let bodies = slack.bodies();
    assert_eq!(bodies.len(), 1, "one alert: {bodies:#?}");
    assert!(bodies[0].contains("security-groups"), "{}", bodies[0]);
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_sends_the_queued_alerts_before_the_exit() {
    let emulator = Emulator::start().expect("the emulator starts");
    let workspace =
        Workspace::new(&common::stack_text().replace("    language: fr\n", "    language: en\n"));
    let slack = Slack::start(Mode::SlowFirst);
    let ec2 = ec2(&emulator).await;

    // A --once run creates the stack and records it as converged.
    let created = run(
        &workspace,
        &slack,
        &emulator,
        &[
            "reconcile",
            "--once",
            "--requeue-after",
            "1s",
            "--wait",
            "60s",
        ],
    );
    assert_eq!(
        created.status.code(),
        Some(0),
        "{}",
        common::describe(&created)
    );

    // Two drifts on two components: the daemon's first pass queues two messages,
    // and the webhook takes 3 s to accept the first.
    open_ssh(&ec2, &endpoints_group(&ec2).await).await;
    let (table, _) = private_a_default_route(&ec2).await;
    ec2.delete_route()
        .route_table_id(&table)
        .destination_cidr_block("0.0.0.0/0")
        .send()
        .await
        .unwrap();
    let mut daemon = Daemon::start(&emulator, &workspace, &slack);
    eventually("the first message", FIRST_PASS_TIMEOUT, || {
        !slack.received().is_empty()
    });

    // SIGTERM while the first message is in flight and the second queued.
    daemon.terminate();
    assert_eq!(daemon.child.wait().unwrap().code(), Some(0));
    let bodies = slack.bodies();
    assert_eq!(bodies.len(), 2, "both messages went out: {bodies:#?}");
    assert!(
        bodies.iter().any(|body| body.contains("security-groups")),
        "{bodies:#?}"
    );
    assert!(
        bodies.iter().any(|body| body.contains("network")),
        "{bodies:#?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn blocked_component_alerts_once_after_failed_passes() {
    let emulator = Emulator::start().expect("the emulator starts");
    // Someone else's cache has the stack's cache name, so cache/main stays blocked.
    aws_sdk_elasticache::Client::new(&common::sdk_config(&emulator).await)
        .create_serverless_cache()
        .serverless_cache_name("beezyup-prod-c01")
        .engine("valkey")
        .send()
        .await
        .expect("the hand-made cache is created");
    let workspace =
        Workspace::new(&common::stack_text().replace("    language: fr\n", "    language: en\n"));
    let slack = Slack::start(Mode::Ok);
    let mut daemon = Daemon::start(&emulator, &workspace, &slack);

    // The file sets errorAfterFailedPasses: 3, so the first passes post no alert.
    eventually("the first pass", FIRST_PASS_TIMEOUT, || {
        daemon.passes() >= 1
    });
    let failing: Vec<String> = slack
        .bodies()
        .into_iter()
        .filter(|body| body.contains("fails to converge"))
        .collect();
    assert_eq!(
        failing,
        Vec::<String>::new(),
        "no alert on the first failure"
    );

    eventually("the failure alert", PASS_TIMEOUT, || {
        slack
            .bodies()
            .iter()
            .any(|body| body.contains("cache/main fails to converge"))
    });
    let passes = daemon.passes();
    assert!(passes >= 3, "alerted after {passes} passes");
    let body = slack
        .bodies()
        .into_iter()
        .find(|body| body.contains("cache/main fails to converge"))
        .unwrap();
    assert!(body.contains("belongs to someone else"), "{body}");

    // Later passes fail the same way and post nothing more about it.
    eventually("three more passes", PASS_TIMEOUT, || {
        daemon.passes() >= passes + 3
    });
    let alerts = slack
        .bodies()
        .into_iter()
        .filter(|body| body.contains("cache/main"))
        .count();
    assert_eq!(alerts, 1, "{:#?}", slack.bodies());
    daemon.terminate();
}
