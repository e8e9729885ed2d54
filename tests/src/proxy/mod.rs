//! A fault and latency proxy on loopback between stackd and the emulator.
//!
//! [`Proxy::start`] listens on a free port of 127.0.0.1 and forwards each
//! HTTP/1.1 request to the upstream endpoint on a connection of its own. It
//! sleeps a configured delay before forwarding, counts requests by service
//! and operation, and replaces a configured share of them with a fault:
//!
//! ```no_run
//! use stackd_tests::proxy::{Fault, Proxy, ProxyConfig};
//! let emulator = stackd_tests::Emulator::start()?;
//! let proxy = Proxy::start(&emulator.endpoint(), ProxyConfig {
//!     fault_rate: 0.2,
//!     seed: 7,
//!     ..ProxyConfig::default()
//! })?;
//! // ... run stackd with `--endpoint-url` set to `proxy.endpoint()` ...
//! println!("{:?}", proxy.faults());
//! # anyhow::Ok(())
//! ```
//!
//! Only signed requests are delayed or faulted, so the emulator's own
//! `/_stackd/` endpoints stay reliable. The seed fixes the sequence of
//! decisions, but concurrent connections take from it in the order their
//! requests arrive, so a replay with the same seed faults the same share of
//! calls, not always the same calls.

pub mod http;
pub mod operation;

use std::collections::BTreeMap;
use std::io::{BufReader, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use anyhow::{Context, Result};

use self::http::{Header, Request, Response};
use self::operation::{Identified, Protocol};

/// Read timeout on a client connection. The AWS SDK for Rust drops idle
/// pooled connections sooner, so this only ends connections left behind.
const CLIENT_IDLE_TIMEOUT: Duration = Duration::from_secs(120);

/// Read and write timeout of one forwarded request. As an estimate, the emulator responds to
/// control-plane calls in well under a second.
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(60);

/// A fault the proxy can put in place of a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Fault {
    /// The service's throttling error in its protocol's shape: EC2
    /// `RequestLimitExceeded`, JSON `ThrottlingException`, S3 `SlowDown`,
    /// query and CloudFront `Throttling`, API Gateway `TooManyRequestsException`.
    Throttling,
    /// HTTP 500 with the protocol's `InternalError` body.
    InternalError,
    /// HTTP 503 with the protocol's `ServiceUnavailable` body.
    ServiceUnavailable,
    /// The connection is reset before the request reaches the emulator.
    ConnectionReset,
    /// The request reaches the emulator and takes effect, then the
    /// connection is reset instead of returning the response.
    ResponseLost,
}

impl Fault {
    /// Every fault, in the order [`ProxyConfig::default`] lists them.
    pub const ALL: [Fault; 5] = [
        Fault::Throttling,
        Fault::InternalError,
        Fault::ServiceUnavailable,
        Fault::ConnectionReset,
        Fault::ResponseLost,
    ];
}

/// How the proxy delays and faults requests.
#[derive(Debug, Clone)]
pub struct ProxyConfig {
    /// Time slept before each signed request is forwarded.
    pub delay: Duration,
    /// Share of signed requests, from 0.0 to 1.0, replaced with a fault.
    pub fault_rate: f64,
    /// Seed of the generator that picks faulted requests and their fault.
    pub seed: u64,
    /// The faults to pick from, with equal odds. Empty means none.
    pub faults: Vec<Fault>,
}

impl Default for ProxyConfig {
    /// No delay, no fault, every kind of fault enabled once a rate is set.
    fn default() -> Self {
        ProxyConfig {
            delay: Duration::ZERO,
            fault_rate: 0.0,
            seed: 0,
            faults: Fault::ALL.to_vec(),
        }
    }
}

/// One signed request that the proxy received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxiedCall {
    pub service: String,
    pub operation: String,
    /// The fault put in place of the response, if any.
    pub fault: Option<Fault>,
}

/// State shared by the accept loop and the connection threads.
#[derive(Debug)]
struct Shared {
    upstream: String,
    settings: Mutex<Settings>,
    calls: Mutex<Vec<ProxiedCall>>,
    /// Clones of the open client connections, shut down when the proxy stops.
    clients: Mutex<Vec<TcpStream>>,
    stopping: AtomicBool,
}

#[derive(Debug)]
struct Settings {
    config: ProxyConfig,
    random: fastrand::Rng,
}

/// A running proxy, stopped on drop.
#[derive(Debug)]
pub struct Proxy {
    address: String,
    shared: Arc<Shared>,
    accept_thread: Option<JoinHandle<()>>,
}

impl Proxy {
    /// Starts a proxy on a free port of 127.0.0.1 that forwards to
    /// `upstream`, an `http://127.0.0.1:PORT` endpoint.
    ///
    /// # Errors
    ///
    /// Fails when `upstream` is not an `http://` URL on a loopback address or
    /// when no port can be bound.
    pub fn start(upstream: &str, config: ProxyConfig) -> Result<Self> {
        let upstream_address = upstream
            .strip_prefix("http://")
            .with_context(|| format!("upstream {upstream} is not an http:// URL"))?
            .trim_end_matches('/')
            .to_owned();
        let is_loopback =
            upstream_address.starts_with("127.") || upstream_address.starts_with("localhost:");
        anyhow::ensure!(is_loopback, "upstream {upstream} is not on loopback");

        let listener =
            TcpListener::bind("127.0.0.1:0").context("failed to bind the proxy's port")?;
        let address = listener.local_addr()?.to_string();
        let random = fastrand::Rng::with_seed(config.seed);
        let shared = Arc::new(Shared {
            upstream: upstream_address,
            settings: Mutex::new(Settings { config, random }),
            calls: Mutex::new(Vec::new()),
            clients: Mutex::new(Vec::new()),
            stopping: AtomicBool::new(false),
        });
        let accept_shared = Arc::clone(&shared);
        let accept_thread = thread::Builder::new()
            .name("stackd-proxy-accept".to_owned())
            .spawn(move || accept_loop(&listener, &accept_shared))
            .context("failed to start the proxy's accept thread")?;
        Ok(Proxy {
            address,
            shared,
            accept_thread: Some(accept_thread),
        })
    }

    /// Base URL of the proxy, such as `http://127.0.0.1:41236`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Changes the share of faulted requests from the next request on.
    pub fn set_fault_rate(&self, rate: f64) {
        lock(&self.shared.settings).config.fault_rate = rate;
    }

    /// Changes the faults to pick from, from the next request on.
    pub fn set_faults(&self, faults: &[Fault]) {
        lock(&self.shared.settings).config.faults = faults.to_vec();
    }

    /// Changes the delay before each forwarded request, from the next one on.
    pub fn set_delay(&self, delay: Duration) {
        lock(&self.shared.settings).config.delay = delay;
    }

    /// Returns every signed request received since the start or the last
    /// [`reset`](Self::reset), oldest first.
    pub fn calls(&self) -> Vec<ProxiedCall> {
        lock(&self.shared.calls).clone()
    }

    /// Returns the number of signed requests received by service and operation.
    pub fn counts(&self) -> BTreeMap<(String, String), usize> {
        let mut counts = BTreeMap::new();
        for call in lock(&self.shared.calls).iter() {
            *counts
                .entry((call.service.clone(), call.operation.clone()))
                .or_insert(0) += 1;
        }
        counts
    }

    /// Returns the number of faults injected, by kind.
    pub fn faults(&self) -> BTreeMap<Fault, usize> {
        let mut counts = BTreeMap::new();
        for fault in lock(&self.shared.calls)
            .iter()
            .filter_map(|call| call.fault)
        {
            *counts.entry(fault).or_insert(0) += 1;
        }
        counts
    }

    /// Empties the list of received requests.
    pub fn reset(&self) {
        lock(&self.shared.calls).clear();
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        // A connection of our own wakes the accept loop, which then reads the flag.
        let _ = TcpStream::connect(&self.address);
        if let Some(thread) = self.accept_thread.take() {
            let _ = thread.join();
        }
        for client in lock(&self.shared.clients).drain(..) {
            let _ = client.shutdown(Shutdown::Both);
        }
    }
}

/// Locks `mutex`, going on with the data when another thread panicked with it held.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn accept_loop(listener: &TcpListener, shared: &Arc<Shared>) {
    for stream in listener.incoming() {
        if shared.stopping.load(Ordering::SeqCst) {
            return;
        }
        let Ok(stream) = stream else { continue };
        if let Ok(clone) = stream.try_clone() {
            let mut clients = lock(&shared.clients);
            // Forget connections that have closed, so the list stays short.
            clients.retain(|client| client.peer_addr().is_ok());
            clients.push(clone);
        }
        let connection_shared = Arc::clone(shared);
        let spawned = thread::Builder::new()
            .name("stackd-proxy-connection".to_owned())
            .spawn(move || serve_connection(stream, &connection_shared));
        if spawned.is_err() {
            // Out of threads: the client sees its connection closed and retries.
            continue;
        }
    }
}

/// Serves the requests of one client connection until it closes, fails or
/// gets a connection fault.
fn serve_connection(stream: TcpStream, shared: &Shared) {
    let _ = stream.set_read_timeout(Some(CLIENT_IDLE_TIMEOUT));
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    loop {
        let request = match http::read_request(&mut reader, &mut writer) {
            Ok(Some(request)) => request,
            Ok(None) | Err(_) => return,
        };
        let keep_open = serve_request(&request, &mut writer, shared);
        let client_closes = request
            .header("connection")
            .is_some_and(|value| value.eq_ignore_ascii_case("close"));
        if !keep_open || client_closes || shared.stopping.load(Ordering::SeqCst) {
            return;
        }
    }
}

/// Serves one request and returns whether the connection stays open.
fn serve_request(request: &Request, client: &mut TcpStream, shared: &Shared) -> bool {
    let identified = operation::identify(request);
    let signed = identified.service != "unsigned";
    let (delay, fault) = if signed {
        decide(shared)
    } else {
        (Duration::ZERO, None)
    };
    if signed {
        lock(&shared.calls).push(ProxiedCall {
            service: identified.service.clone(),
            operation: identified.operation.clone(),
            fault,
        });
    }
    if !delay.is_zero() {
        thread::sleep(delay);
    }

    match fault {
        Some(Fault::ConnectionReset) => {
            reset(client);
            return false;
        }
        Some(Fault::Throttling | Fault::InternalError | Fault::ServiceUnavailable) => {
            let fault = fault.unwrap_or(Fault::InternalError);
            let response = fault_response(fault, &identified);
            return response
                .write_keep_alive(client, request.method == "HEAD")
                .is_ok();
        }
        Some(Fault::ResponseLost) | None => {}
    }

    let response = match forward(request, &shared.upstream) {
        Ok(response) => response,
        Err(_) => {
            // The emulator is gone or failed mid-response: the client sees a
            // closed connection, as it would from a failed load balancer.
            reset(client);
            return false;
        }
    };
    if fault == Some(Fault::ResponseLost) {
        reset(client);
        return false;
    }
    response
        .write_keep_alive(client, request.method == "HEAD")
        .is_ok()
}

/// Picks the delay and, from the seeded generator, the fault of one request.
fn decide(shared: &Shared) -> (Duration, Option<Fault>) {
    let mut settings = lock(&shared.settings);
    let Settings { config, random } = &mut *settings;
    let faulted = !config.faults.is_empty() && random.f64() < config.fault_rate;
    let fault = faulted.then(|| config.faults[random.usize(..config.faults.len())]);
    (config.delay, fault)
}

/// Closes the client connection with a TCP reset rather than an orderly close.
fn reset(client: &TcpStream) {
    // A zero linger time makes close send RST and drop unsent data.
    let _ = socket2::SockRef::from(client).set_linger(Some(Duration::ZERO));
    let _ = client.shutdown(Shutdown::Both);
}

/// Sends `request` to `upstream` on a new connection and reads the response.
fn forward(request: &Request, upstream: &str) -> Result<Response> {
    let mut stream =
        TcpStream::connect(upstream).with_context(|| format!("failed to connect to {upstream}"))?;
    stream.set_read_timeout(Some(UPSTREAM_TIMEOUT))?;
    stream.set_write_timeout(Some(UPSTREAM_TIMEOUT))?;
    request
        .write_closing(&mut stream)
        .context("failed to send the request upstream")?;
    stream.flush()?;
    let mut reader = BufReader::new(stream);
    http::read_response(&mut reader, &request.method)
}

/// Builds the response of a throttling, 500 or 503 fault in the shape of the
/// request's protocol, as AWS returns it.
pub fn fault_response(fault: Fault, request: &Identified) -> Response {
    let (code, message) = match (fault, request.protocol) {
        (Fault::Throttling, Protocol::Ec2Query) => {
            ("RequestLimitExceeded", "Request limit exceeded.")
        }
        (Fault::Throttling, Protocol::AwsJson) => ("ThrottlingException", "Rate exceeded"),
        (Fault::Throttling, Protocol::S3) => ("SlowDown", "Please reduce your request rate."),
        (Fault::Throttling, Protocol::RestJson) => {
            ("TooManyRequestsException", "Too Many Requests")
        }
        (Fault::Throttling, Protocol::AwsQuery | Protocol::RestXml) => {
            ("Throttling", "Rate exceeded")
        }
        (Fault::ServiceUnavailable, _) => {
            ("ServiceUnavailable", "Service is unavailable. Try again.")
        }
        _ => ("InternalError", "An internal error occurred. Try again."),
    };
    let status = match (fault, request.protocol) {
        (Fault::Throttling, Protocol::Ec2Query | Protocol::S3) => 503,
        (Fault::Throttling, Protocol::RestJson) => 429,
        (Fault::Throttling, _) => 400,
        (Fault::ServiceUnavailable, _) => 503,
        _ => 500,
    };
    let reason = match status {
        400 => "Bad Request",
        429 => "Too Many Requests",
        503 => "Service Unavailable",
        _ => "Internal Server Error",
    };
    let request_id = "00000000-0000-4000-8000-000000000000";
    let xml = |body: String| -> (Vec<Header>, Vec<u8>) {
        (
            vec![("Content-Type".to_owned(), "text/xml".to_owned())],
            body.into_bytes(),
        )
    };
    let (headers, body) = match request.protocol {
        Protocol::Ec2Query => xml(format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>{code}</Code>\
             <Message>{message}</Message></Error></Errors><RequestID>{request_id}</RequestID></Response>"
        )),
        Protocol::AwsQuery | Protocol::RestXml => xml(format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ErrorResponse><Error><Type>Sender</Type>\
             <Code>{code}</Code><Message>{message}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>"
        )),
        Protocol::S3 => xml(format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message>\
             <RequestId>{request_id}</RequestId></Error>"
        )),
        Protocol::AwsJson => (
            vec![(
                "Content-Type".to_owned(),
                "application/x-amz-json-1.1".to_owned(),
            )],
            format!("{{\"__type\":\"{code}\",\"message\":\"{message}\"}}").into_bytes(),
        ),
        Protocol::RestJson => (
            vec![
                ("Content-Type".to_owned(), "application/json".to_owned()),
                ("x-amzn-ErrorType".to_owned(), code.to_owned()),
            ],
            format!("{{\"message\":\"{message}\"}}").into_bytes(),
        ),
    };
    let mut headers = headers;
    headers.push(("x-amzn-RequestId".to_owned(), request_id.to_owned()));
    Response::new(status, reason, headers, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identified(service: &str, protocol: Protocol) -> Identified {
        Identified {
            service: service.to_owned(),
            operation: "Any".to_owned(),
            protocol,
        }
    }

    #[test]
    fn throttling_takes_each_protocol_shape() {
        let cases = [
            (
                Protocol::Ec2Query,
                503,
                "<Response><Errors><Error><Code>RequestLimitExceeded</Code>",
            ),
            (
                Protocol::AwsQuery,
                400,
                "<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code>",
            ),
            (
                Protocol::AwsJson,
                400,
                "{\"__type\":\"ThrottlingException\"",
            ),
            (Protocol::S3, 503, "<Error><Code>SlowDown</Code>"),
            (Protocol::RestXml, 400, "<Code>Throttling</Code>"),
            (
                Protocol::RestJson,
                429,
                "{\"message\":\"Too Many Requests\"}",
            ),
        ];
        for (protocol, status, body) in cases {
            let response = fault_response(Fault::Throttling, &identified("svc", protocol));
            let text = String::from_utf8(response.body.clone()).unwrap();
            assert_eq!(response.status, status, "{protocol:?}");
            assert!(text.contains(body), "{protocol:?}: {text}");
        }
    }

    #[test]
    fn rest_json_throttling_names_its_type_in_a_header() {
        let response = fault_response(
            Fault::Throttling,
            &identified("apigateway", Protocol::RestJson),
        );
        assert_eq!(
            http::header(&response.headers, "x-amzn-errortype"),
            Some("TooManyRequestsException")
        );
    }

    #[test]
    fn server_errors_have_their_status() {
        for protocol in [Protocol::Ec2Query, Protocol::AwsJson, Protocol::S3] {
            let internal = fault_response(Fault::InternalError, &identified("svc", protocol));
            let unavailable =
                fault_response(Fault::ServiceUnavailable, &identified("svc", protocol));
            assert_eq!(internal.status, 500, "{protocol:?}");
            assert_eq!(unavailable.status, 503, "{protocol:?}");
            let text = String::from_utf8(unavailable.body).unwrap();
            assert!(text.contains("ServiceUnavailable"), "{protocol:?}: {text}");
        }
    }

    #[test]
    fn same_seed_picks_same_faults() {
        let picks = |seed| {
            let shared = Shared {
                upstream: String::new(),
                settings: Mutex::new(Settings {
                    config: ProxyConfig {
                        fault_rate: 0.5,
                        seed,
                        ..ProxyConfig::default()
                    },
                    random: fastrand::Rng::with_seed(seed),
                }),
                calls: Mutex::new(Vec::new()),
                clients: Mutex::new(Vec::new()),
                stopping: AtomicBool::new(false),
            };
            (0..200).map(|_| decide(&shared).1).collect::<Vec<_>>()
        };
        let first = picks(11);
        assert_eq!(first, picks(11));
        assert_ne!(first, picks(12));
        let faulted = first.iter().filter(|fault| fault.is_some()).count();
        assert!(
            (60..140).contains(&faulted),
            "{faulted} of 200 faulted at rate 0.5"
        );
        for fault in Fault::ALL {
            assert!(first.contains(&Some(fault)), "{fault:?} is picked");
        }
    }
}
