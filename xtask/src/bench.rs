//! `cargo xtask bench <name>`: the speed and memory benchmarks of stackd
//! against the emulator, with the fault proxy adding latency to every call.
//!
//! Each benchmark prints its figures; docs/benchmarks.md records them with
//! the machine and the date.

use std::collections::BTreeMap;
use std::fs;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result, bail};
use clap::ValueEnum;
use stackd_tests::proxy::{Proxy, ProxyConfig};
use stackd_tests::{AWS_ENV_REMOVED, Emulator, aws_env};

use crate::{Workspace, run_step, venv};

/// Desired-state file of every benchmark: the production file with the
/// emulator's account.
const STACK_FILE: &str = "config/demo.yaml";

/// Latency the proxy adds to every AWS call in the noop and create benchmarks.
const CALL_LATENCY: Duration = Duration::from_millis(50);

/// Second latency of the noop and create benchmarks. The growth of the wall
/// time from [`CALL_LATENCY`] to this one, divided by the difference, is the
/// number of calls that followed one another in the run.
const DOUBLE_LATENCY: Duration = Duration::from_millis(100);

/// The daemon's default interval between passes (`--interval`).
const DEFAULT_INTERVAL: Duration = Duration::from_secs(60);

/// Number of changes made behind the daemon's back in the daemon benchmark.
const DRIFT_SAMPLES: usize = 3;

/// Passes of the memory benchmark.
const MEMORY_PASSES: u64 = 1000;

/// Bound on the memory benchmark's run time, so that it ends even when the
/// passes are much slower than expected.
const MEMORY_TIMEOUT: Duration = Duration::from_secs(45 * 60);

/// Time allowed for one `stackd reconcile --once` or first daemon pass.
const RUN_TIMEOUT: Duration = Duration::from_secs(15 * 60);

/// The benchmarks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Benchmark {
    /// A no-op `reconcile --once` over the converged stack, 50 ms per call.
    Noop,
    /// Creation of the whole stack from empty, 50 ms per call.
    Create,
    /// Daemon: time from a change behind its back to its repair, and AWS calls per second.
    Daemon,
    /// Daemon: resident memory over 1,000 passes.
    Memory,
}

/// Builds stackd and runs `benchmark`.
pub fn run(workspace: &Workspace, benchmark: Benchmark, release: bool) -> Result<()> {
    venv::ensure(workspace)?;
    let profile = if release { "release" } else { "debug" };
    let mut build = workspace.cargo();
    if release {
        build.args(["build", "--release", "-p", "stackd"]);
    } else {
        // `cargo test --workspace` builds the binary with the dependency
        // features that `cargo xtask test` uses. `cargo build -p stackd` or
        // `cargo test -p stackd` would each select other features and rebuild
        // the AWS SDK crates.
        build.args(["test", "--no-run", "--workspace"]);
    }
    run_step(&format!("build the stackd binary ({profile})"), &mut build)?;
    let bench = Bench {
        stackd: workspace.target_dir.join(profile).join("stackd"),
        root: workspace.root.clone(),
    };
    eprintln!("xtask: benchmark {benchmark:?} with the {profile} build");
    match benchmark {
        Benchmark::Noop => bench.noop(),
        Benchmark::Create => bench.create(),
        Benchmark::Daemon => bench.daemon(),
        Benchmark::Memory => bench.memory(),
    }
}

/// The stackd binary and the workspace it runs in.
#[derive(Debug)]
struct Bench {
    stackd: PathBuf,
    root: PathBuf,
}

impl Bench {
    /// A stackd command in the workspace root that sends every call to `endpoint`.
    fn command(&self, endpoint: &str, args: &[&str]) -> Command {
        let mut command = Command::new(&self.stackd);
        command
            .current_dir(&self.root)
            .args(args)
            .args(["--endpoint-url", endpoint])
            .envs(aws_env())
            .stdin(Stdio::null());
        for name in AWS_ENV_REMOVED {
            command.env_remove(name);
        }
        command
    }

    /// Runs `reconcile --once` against `endpoint` and returns its wall time.
    fn reconcile_once(&self, endpoint: &str) -> Result<Duration> {
        let started = Instant::now();
        let output = self
            .command(endpoint, &["reconcile", "-f", STACK_FILE, "--once"])
            .output()
            .context("failed to run stackd")?;
        let elapsed = started.elapsed();
        if !output.status.success() {
            bail!(
                "stackd reconcile --once failed with {}:\n{}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Ok(elapsed)
    }

    /// Starts an emulator and creates the stack in it, without added latency.
    fn converged_emulator(&self) -> Result<Emulator> {
        let emulator = Emulator::start()?;
        self.reconcile_once(&emulator.endpoint())
            .context("failed to create the stack before the benchmark")?;
        emulator.reset_calls();
        Ok(emulator)
    }

    fn noop(&self) -> Result<()> {
        let emulator = self.converged_emulator()?;
        let mut walls = Vec::new();
        let mut counts = BTreeMap::new();
        for latency in [CALL_LATENCY, DOUBLE_LATENCY] {
            let proxy = Proxy::start(&emulator.endpoint(), latency_only(latency))?;
            walls.push(self.reconcile_once(&proxy.endpoint())?);
            if latency == CALL_LATENCY {
                counts = proxy.counts();
            }
        }
        let writes = emulator.mutating_calls();
        println!("no-op reconcile --once over {STACK_FILE}");
        print_latency_figures(&walls);
        print_counts(&counts);
        println!(
            "mutating calls that reached the emulator: {} {:?}",
            writes.len(),
            writes
                .iter()
                .map(|call| format!("{} {}", call.service, call.operation))
                .collect::<Vec<_>>()
        );
        Ok(())
    }

    fn create(&self) -> Result<()> {
        let mut walls = Vec::new();
        let mut counts = BTreeMap::new();
        for latency in [CALL_LATENCY, DOUBLE_LATENCY] {
            let emulator = Emulator::start()?;
            let proxy = Proxy::start(&emulator.endpoint(), latency_only(latency))?;
            walls.push(self.reconcile_once(&proxy.endpoint())?);
            if latency == CALL_LATENCY {
                counts = proxy.counts();
            }
        }
        println!("reconcile --once from empty over {STACK_FILE}");
        print_latency_figures(&walls);
        print_counts(&counts);
        Ok(())
    }

    fn daemon(&self) -> Result<()> {
        let emulator = self.converged_emulator()?;
        let proxy = Proxy::start(&emulator.endpoint(), ProxyConfig::default())?;
        let daemon = Daemon::start(self, &proxy.endpoint(), &[])?;
        daemon.wait_ready()?;

        // 1. Calls per second over two quiet intervals after the first pass.
        proxy.reset();
        let quiet = DEFAULT_INTERVAL * 2;
        thread::sleep(quiet);
        let quiet_calls = proxy.calls().len();
        let calls_per_second = quiet_calls as f64 / quiet.as_secs_f64();

        // 2. Route deletions at pseudo-random moments in the interval, each
        //    timed until the daemon's CreateRoute puts the route back.
        let mut detections = Vec::new();
        let mut random = clock_seeded();
        for sample in 0..DRIFT_SAMPLES {
            let pause = Duration::from_millis(random.next() % DEFAULT_INTERVAL.as_millis() as u64);
            thread::sleep(pause);
            let table = private_a_route_table(&emulator)?;
            emulator.ec2_query(&[
                ("Action", "DeleteRoute"),
                ("RouteTableId", &table),
                ("DestinationCidrBlock", "0.0.0.0/0"),
            ])?;
            let deleted = Instant::now();
            proxy.reset();
            loop {
                if deleted.elapsed() > DEFAULT_INTERVAL * 3 {
                    bail!("drift sample {sample}: the route was not put back within 3 intervals");
                }
                let repaired = proxy
                    .calls()
                    .iter()
                    .any(|call| call.operation == "CreateRoute");
                if repaired {
                    break;
                }
                thread::sleep(Duration::from_millis(100));
            }
            detections.push(deleted.elapsed());
            println!(
                "drift sample {sample}: route deleted {:.1} s into the wait, put back after {:.1} s",
                pause.as_secs_f64(),
                deleted.elapsed().as_secs_f64()
            );
        }
        daemon.stop();

        let mean = detections.iter().sum::<Duration>() / detections.len() as u32;
        let max = detections.iter().max().copied().unwrap_or_default();
        println!("daemon at --interval {}s", DEFAULT_INTERVAL.as_secs());
        println!(
            "AWS calls in {} s without drift: {quiet_calls} ({calls_per_second:.2} per second)",
            quiet.as_secs()
        );
        println!(
            "change to repair: mean {:.1} s, max {:.1} s over {} samples",
            mean.as_secs_f64(),
            max.as_secs_f64(),
            detections.len()
        );
        Ok(())
    }

    fn memory(&self) -> Result<()> {
        let emulator = self.converged_emulator()?;
        let daemon = Daemon::start(
            self,
            &emulator.endpoint(),
            &["--interval", "10ms", "--requeue-after", "10ms"],
        )?;
        daemon.wait_ready()?;

        let started = Instant::now();
        let mut samples: Vec<(u64, u64)> = Vec::new();
        let mut next_sample = 1;
        loop {
            let passes = daemon.passes()?;
            if passes >= next_sample {
                let rss = daemon.resident_kib()?;
                println!("pass {passes:>5}: VmRSS {rss} KiB");
                samples.push((passes, rss));
                next_sample = if next_sample == 1 {
                    100
                } else {
                    next_sample + 100
                };
            }
            if passes >= MEMORY_PASSES {
                break;
            }
            if started.elapsed() > MEMORY_TIMEOUT {
                println!(
                    "stopped after {} s at pass {passes}: the bound on the run time",
                    MEMORY_TIMEOUT.as_secs()
                );
                break;
            }
            thread::sleep(Duration::from_millis(500));
        }
        daemon.stop();

        let max = samples.iter().map(|(_, rss)| *rss).max().unwrap_or(0);
        let after_100 = samples
            .iter()
            .find(|(passes, _)| *passes >= 100)
            .map(|(_, rss)| *rss);
        let last = samples.last().copied().unwrap_or((0, 0));
        println!(
            "{} passes in {:.0} s, VmRSS max {:.1} MiB, at pass {} {:.1} MiB",
            last.0,
            started.elapsed().as_secs_f64(),
            max as f64 / 1024.0,
            last.0,
            last.1 as f64 / 1024.0
        );
        if let Some(after_100) = after_100 {
            println!(
                "growth from pass 100 to pass {}: {} KiB",
                last.0,
                last.1 as i64 - after_100 as i64
            );
        }
        Ok(())
    }
}

fn latency_only(delay: Duration) -> ProxyConfig {
    ProxyConfig {
        delay,
        ..ProxyConfig::default()
    }
}

/// Prints the wall times at both latencies and the number of calls that
/// followed one another, derived from their difference.
fn print_latency_figures(walls: &[Duration]) {
    let [at_single, at_double] = walls else {
        return;
    };
    let added = DOUBLE_LATENCY - CALL_LATENCY;
    let sequential = (at_double.as_secs_f64() - at_single.as_secs_f64()) / added.as_secs_f64();
    println!(
        "wall time: {:.2} s at {} ms per call, {:.2} s at {} ms per call",
        at_single.as_secs_f64(),
        CALL_LATENCY.as_millis(),
        at_double.as_secs_f64(),
        DOUBLE_LATENCY.as_millis()
    );
    println!("calls one after another (measured critical path): {sequential:.1}");
}

fn print_counts(counts: &BTreeMap<(String, String), usize>) {
    let total: usize = counts.values().sum();
    println!(
        "AWS calls at {} ms per call: {total}",
        CALL_LATENCY.as_millis()
    );
    for ((service, operation), count) in counts {
        println!("  {count:>4}  {service} {operation}");
    }
}

/// Returns the id of the route table that carries `stackd:id=route-table/private-a`.
fn private_a_route_table(emulator: &Emulator) -> Result<String> {
    let xml = emulator.ec2_query(&[
        ("Action", "DescribeRouteTables"),
        ("Filter.1.Name", "tag:stackd:id"),
        ("Filter.1.Value.1", "route-table/private-a"),
    ])?;
    let start = xml
        .find("<routeTableId>")
        .context("no route table carries stackd:id=route-table/private-a")?
        + "<routeTableId>".len();
    let end = xml[start..]
        .find("</routeTableId>")
        .context("the DescribeRouteTables response is cut short")?;
    Ok(xml[start..start + end].to_owned())
}

/// A xorshift generator seeded from the clock: the drift samples only need
/// moments spread over the interval, not a replayable sequence.
struct Xorshift(u64);

impl Xorshift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn clock_seeded() -> Xorshift {
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|elapsed| elapsed.subsec_nanos())
        .unwrap_or(1);
    Xorshift(u64::from(nanos) | 1)
}

/// A stackd daemon started by a benchmark, killed on drop.
struct Daemon {
    child: Child,
    address: SocketAddr,
    log: PathBuf,
}

impl Daemon {
    fn start(bench: &Bench, endpoint: &str, extra: &[&str]) -> Result<Self> {
        let address = TcpListener::bind("127.0.0.1:0")?.local_addr()?;
        let log = std::env::temp_dir().join(format!("stackd-bench-{}.log", std::process::id()));
        let stderr = fs::File::create(&log)?;
        let listen = address.to_string();
        let mut args = vec!["reconcile", "-f", STACK_FILE, "--listen", &listen];
        args.extend_from_slice(extra);
        let child = bench
            .command(endpoint, &args)
            .env_remove("NOTIFY_SOCKET")
            .env_remove("WATCHDOG_USEC")
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .context("failed to start the stackd daemon")?;
        Ok(Daemon {
            child,
            address,
            log,
        })
    }

    /// Waits for /readyz to return 200, that is for the first pass to end.
    fn wait_ready(&self) -> Result<()> {
        let started = Instant::now();
        while started.elapsed() < RUN_TIMEOUT {
            if let Some((200, _)) = http_get(self.address, "/readyz") {
                return Ok(());
            }
            thread::sleep(Duration::from_millis(250));
        }
        bail!(
            "the daemon was not ready within {} s; its log is {}",
            RUN_TIMEOUT.as_secs(),
            self.log.display()
        )
    }

    /// Returns the number of passes so far, summed over `stackd_passes_total`.
    fn passes(&self) -> Result<u64> {
        let (_, metrics) =
            http_get(self.address, "/metrics").context("the daemon did not answer /metrics")?;
        Ok(metrics
            .lines()
            .filter(|line| line.starts_with("stackd_passes_total{"))
            .filter_map(|line| line.rsplit(' ').next()?.parse::<u64>().ok())
            .sum())
    }

    /// Returns VmRSS of /proc/PID/status, in KiB.
    fn resident_kib(&self) -> Result<u64> {
        let path = Path::new("/proc")
            .join(self.child.id().to_string())
            .join("status");
        let status = fs::read_to_string(&path)
            .with_context(|| format!("failed to read {}", path.display()))?;
        let line = status
            .lines()
            .find(|line| line.starts_with("VmRSS:"))
            .context("no VmRSS line in /proc/PID/status")?;
        line.split_whitespace()
            .nth(1)
            .context("VmRSS has no value")?
            .parse()
            .context("VmRSS is not a number")
    }

    /// Sends SIGTERM and waits for the exit; drop kills it if it hangs.
    fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(60) {
            if let Ok(Some(status)) = self.child.try_wait() {
                report_exit(status);
                return;
            }
            thread::sleep(Duration::from_millis(100));
        }
    }
}

fn report_exit(status: ExitStatus) {
    if !status.success() {
        eprintln!("xtask: the daemon exited with {status}");
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = fs::remove_file(&self.log);
    }
}

/// Sends a GET to the daemon's HTTP endpoint and returns the status and body.
fn http_get(address: SocketAddr, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(2)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {address}\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.split_whitespace().nth(1)?.parse().ok()?;
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())?;
    Some((status, body))
}
