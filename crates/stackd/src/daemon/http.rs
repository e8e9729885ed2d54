//! A minimal HTTP/1.1 server for the daemon's GET endpoints, and the client of `stackd status`.
//!
//! Each connection carries one request and is closed after the response. Only
//! GET and HEAD are served. This is hand-written because enabling hyper's
//! server feature would rebuild hyper and every AWS SDK crate built on it,
//! for four read-only routes on a loopback address.

use anyhow::{Context, bail};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

/// Maximum size of a request's head (request line and headers).
const MAX_REQUEST_HEAD: usize = 8 * 1024;
/// Time allowed to read a request and write its response.
const CONNECTION_TIMEOUT: Duration = Duration::from_secs(10);
/// Maximum number of connections served at the same time; the others wait.
const MAX_CONNECTIONS: usize = 32;

/// A response: status code, content type and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
}

impl Response {
    pub fn text(status: u16, body: impl Into<String>) -> Self {
        Response {
            status,
            content_type: "text/plain; charset=utf-8",
            body: body.into(),
        }
    }

    pub fn json(body: String) -> Self {
        Response {
            status: 200,
            content_type: "application/json",
            body,
        }
    }
}

/// Rejects an address that is not loopback unless `allow_any` is set,
/// because the endpoints have no authentication.
pub fn check_listen_address(address: SocketAddr, allow_any: bool) -> anyhow::Result<()> {
    if address.ip().is_loopback() || allow_any {
        return Ok(());
    }
    bail!(
        "--listen {address} is not a loopback address, and the HTTP endpoints have no \
         authentication; use 127.0.0.1 or [::1], or add --listen-any to expose them"
    )
}

/// Serves requests on `listener` until the task is dropped. `route` maps a
/// path (without its query string) to a response.
pub async fn serve<F>(listener: TcpListener, route: F)
where
    F: Fn(&str) -> Response + Send + Sync + 'static,
{
    let route = Arc::new(route);
    let permits = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let permit = Arc::clone(&permits)
            .acquire_owned()
            .await
            .expect("the semaphore is never closed");
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                // Such as too many open files: wait rather than spin.
                tracing::warn!(%error, "failed to accept an HTTP connection");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let route = Arc::clone(&route);
        tokio::spawn(async move {
            let served = tokio::time::timeout(CONNECTION_TIMEOUT, handle(stream, &*route)).await;
            match served {
                Ok(Ok(())) => {}
                Ok(Err(error)) => tracing::debug!(%peer, %error, "HTTP connection failed"),
                Err(_) => tracing::debug!(%peer, "HTTP connection timed out"),
            }
            drop(permit);
        });
    }
}

async fn handle<F>(mut stream: TcpStream, route: &F) -> std::io::Result<()>
where
    F: Fn(&str) -> Response,
{
    let head = match read_head(&mut stream).await? {
        Some(head) => head,
        None => {
            return write_response(&mut stream, &Response::text(400, "bad request\n"), true).await;
        }
    };
    let mut parts = head.lines().next().unwrap_or_default().split_whitespace();
    let (method, target) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    );
    let path = target.split('?').next().unwrap_or_default();
    let response = match method {
        "GET" | "HEAD" => route(path),
        _ => Response::text(405, "method not allowed: use GET\n"),
    };
    write_response(&mut stream, &response, method != "HEAD").await
}

/// Reads up to the blank line that ends the head. Returns `None` when the
/// head is too long or the peer closes first.
async fn read_head(stream: &mut TcpStream) -> std::io::Result<Option<String>> {
    let mut buffer = Vec::with_capacity(1024);
    let mut chunk = [0; 1024];
    loop {
        let read = stream.read(&mut chunk).await?;
        if read == 0 {
            return Ok(None);
        }
        buffer.extend_from_slice(&chunk[..read]);
        if let Some(end) = find_head_end(&buffer) {
            return Ok(Some(String::from_utf8_lossy(&buffer[..end]).into_owned()));
        }
        if buffer.len() > MAX_REQUEST_HEAD {
            return Ok(None);
        }
    }
}

fn find_head_end(buffer: &[u8]) -> Option<usize> {
    buffer.windows(4).position(|window| window == b"\r\n\r\n")
}

async fn write_response(
    stream: &mut TcpStream,
    response: &Response,
    with_body: bool,
) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n",
        response.status,
        reason_phrase(response.status),
        response.content_type,
        response.body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    if with_body {
        stream.write_all(response.body.as_bytes()).await?;
    }
    stream.shutdown().await
}

fn reason_phrase(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "",
    }
}

/// Sends `GET path` to `address` and returns the status code and body.
pub async fn get(
    address: SocketAddr,
    path: &str,
    timeout: Duration,
) -> anyhow::Result<(u16, String)> {
    with_timeout(timeout, address, path, async {
        let mut stream = TcpStream::connect(address)
            .await
            .with_context(|| format!("failed to connect to {address}; is `stackd reconcile` running with --listen {address}?"))?;
        let request =
            format!("GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await?;
        parse_response(&response).with_context(|| format!("invalid response from http://{address}{path}"))
    })
    .await
}

async fn with_timeout<T>(
    timeout: Duration,
    address: SocketAddr,
    path: &str,
    future: impl Future<Output = anyhow::Result<T>>,
) -> anyhow::Result<T> {
    match tokio::time::timeout(timeout, future).await {
        Ok(result) => result,
        Err(_) => bail!(
            "GET http://{address}{path} timed out after {} s",
            timeout.as_secs_f64()
        ),
    }
}

/// Splits a whole response, as sent by [`serve`], into status code and body.
fn parse_response(response: &[u8]) -> anyhow::Result<(u16, String)> {
    let end = find_head_end(response).context("no end of headers")?;
    let head = String::from_utf8_lossy(&response[..end]);
    let status_line = head.lines().next().unwrap_or_default();
    let status: u16 = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .with_context(|| format!("invalid status line {status_line:?}"))?;
    let body = String::from_utf8_lossy(&response[end + 4..]).into_owned();
    Ok((status, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_addresses_are_accepted() {
        for address in ["127.0.0.1:9464", "127.0.0.2:80", "[::1]:9464"] {
            let address: SocketAddr = address.parse().unwrap();
            assert!(check_listen_address(address, false).is_ok(), "{address}");
        }
    }

    #[test]
    fn other_addresses_need_listen_any() {
        for address in ["0.0.0.0:9464", "10.0.0.5:9464", "[::]:9464"] {
            let address: SocketAddr = address.parse().unwrap();
            let error = check_listen_address(address, false)
                .unwrap_err()
                .to_string();
            assert!(error.contains("--listen-any"), "{address}: {error}");
            assert!(check_listen_address(address, true).is_ok(), "{address}");
        }
    }

    #[tokio::test]
    async fn server_routes_get_and_rejects_post() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let server = tokio::spawn(serve(listener, |path| match path {
            "/healthz" => Response::text(200, "ok\n"),
            _ => Response::text(404, "not found\n"),
        }));
        let timeout = Duration::from_secs(5);

        let (status, body) = get(address, "/healthz?verbose=1", timeout).await.unwrap();
        assert_eq!((status, body.as_str()), (200, "ok\n"));
        let (status, _) = get(address, "/missing", timeout).await.unwrap();
        assert_eq!(status, 404);

        let mut stream = TcpStream::connect(address).await.unwrap();
        stream
            .write_all(b"POST /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await.unwrap();
        assert_eq!(parse_response(&response).unwrap().0, 405);
        server.abort();
    }

    #[tokio::test]
    async fn get_to_closed_port_names_the_address() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        drop(listener);
        let error = get(address, "/status", Duration::from_secs(5))
            .await
            .unwrap_err();
        assert!(
            format!("{error:#}").contains(&address.to_string()),
            "{error:#}"
        );
    }
}
