//! HTTP/1.1 message framing for the proxy: read one request or response
//! whole, with its body framed by Content-Length, chunked encoding or the end
//! of the stream, and write it back out.

use anyhow::{Context, Result, bail};
use std::io::{BufRead, Read, Write};

/// Maximum size of a request or response head.
const MAX_HEAD: usize = 64 * 1024;
/// Maximum size of a body. AWS control-plane calls stay far below it.
const MAX_BODY: usize = 64 * 1024 * 1024;
/// Maximum number of header fields in one head.
const MAX_HEADERS: usize = 128;

/// One header field, its name as received.
pub type Header = (String, String);

/// A request read from the client.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// The request target: the path and the query string.
    pub target: String,
    pub headers: Vec<Header>,
    /// The body, decoded from chunked encoding when it was chunked.
    pub body: Vec<u8>,
}

/// A response read from the upstream server.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub reason: String,
    pub headers: Vec<Header>,
    pub body: Vec<u8>,
}

/// Returns the value of the first header named `name`, compared without case.
pub fn header<'a>(headers: &'a [Header], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .map(|(_, value)| value.as_str())
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }

    /// Returns the path without the query string.
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or_default()
    }

    /// Returns the query string, empty when there is none.
    pub fn query(&self) -> &str {
        self.target
            .split_once('?')
            .map(|(_, query)| query)
            .unwrap_or("")
    }

    /// Writes the request with `Connection: close`, so that the upstream
    /// server closes the connection after its response.
    pub fn write_closing(&self, stream: &mut impl Write) -> std::io::Result<()> {
        let mut head = format!("{} {} HTTP/1.1\r\n", self.method, self.target);
        for (name, value) in &self.headers {
            if is_hop_by_hop(name) || name.eq_ignore_ascii_case("content-length") {
                continue;
            }
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str(&format!(
            "Content-Length: {}\r\nConnection: close\r\n\r\n",
            self.body.len()
        ));
        stream.write_all(head.as_bytes())?;
        stream.write_all(&self.body)?;
        stream.flush()
    }
}

impl Response {
    /// Builds a response with the given fields and a Content-Length.
    pub fn new(status: u16, reason: &str, headers: Vec<Header>, body: Vec<u8>) -> Self {
        Response {
            status,
            reason: reason.to_owned(),
            headers,
            body,
        }
    }

    /// Writes the response for a client whose connection stays open: the
    /// hop-by-hop fields are dropped and the body is framed by Content-Length.
    pub fn write_keep_alive(
        &self,
        stream: &mut impl Write,
        head_only: bool,
    ) -> std::io::Result<()> {
        let mut head = format!("HTTP/1.1 {} {}\r\n", self.status, self.reason);
        let mut length = None;
        for (name, value) in &self.headers {
            if is_hop_by_hop(name) {
                continue;
            }
            if name.eq_ignore_ascii_case("content-length") {
                length = Some(value.clone());
                continue;
            }
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        // A response to HEAD keeps the Content-Length of the body it would
        // have had, and has no body.
        let length = if head_only {
            length.unwrap_or_else(|| "0".to_owned())
        } else {
            self.body.len().to_string()
        };
        head.push_str(&format!("Content-Length: {length}\r\n\r\n"));
        stream.write_all(head.as_bytes())?;
        if !head_only {
            stream.write_all(&self.body)?;
        }
        stream.flush()
    }
}

/// Whether a header field only concerns one connection and is not forwarded.
fn is_hop_by_hop(name: &str) -> bool {
    [
        "connection",
        "keep-alive",
        "transfer-encoding",
        "te",
        "trailer",
        "upgrade",
        "proxy-connection",
    ]
    .iter()
    .any(|hop| name.eq_ignore_ascii_case(hop))
}

/// Reads one request. Returns `None` when the client closed the connection
/// before sending a byte of it. A request with `Expect: 100-continue` gets
/// its interim response on `client` before its body is read.
pub fn read_request(reader: &mut impl BufRead, client: &mut impl Write) -> Result<Option<Request>> {
    let Some(head) = read_head(reader)? else {
        return Ok(None);
    };
    let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut parsed = httparse::Request::new(&mut fields);
    match parsed.parse(&head).context("invalid request head")? {
        httparse::Status::Complete(_) => {}
        httparse::Status::Partial => bail!("incomplete request head"),
    }
    let method = parsed.method.unwrap_or_default().to_owned();
    let target = parsed.path.unwrap_or_default().to_owned();
    let mut headers = collect_headers(parsed.headers);
    let expects_continue =
        header(&headers, "expect").is_some_and(|value| value.eq_ignore_ascii_case("100-continue"));
    if expects_continue {
        client.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
        client.flush()?;
        // The body is forwarded whole, so the upstream server has nothing to confirm.
        headers.retain(|(name, _)| !name.eq_ignore_ascii_case("expect"));
    }
    let body = read_body(reader, &headers, BodyEnd::Request)?;
    Ok(Some(Request {
        method,
        target,
        headers,
        body,
    }))
}

/// Reads one final response (1xx interim responses are skipped) to a
/// request with `method`.
pub fn read_response(reader: &mut impl BufRead, method: &str) -> Result<Response> {
    loop {
        let head =
            read_head(reader)?.context("the server closed the connection without a response")?;
        let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut parsed = httparse::Response::new(&mut fields);
        match parsed.parse(&head).context("invalid response head")? {
            httparse::Status::Complete(_) => {}
            httparse::Status::Partial => bail!("incomplete response head"),
        }
        let status = parsed.code.unwrap_or_default();
        let reason = parsed.reason.unwrap_or_default().to_owned();
        let headers = collect_headers(parsed.headers);
        if (100..200).contains(&status) {
            continue;
        }
        let body = if method == "HEAD" || status == 204 || status == 304 {
            Vec::new()
        } else {
            read_body(reader, &headers, BodyEnd::Response)?
        };
        return Ok(Response {
            status,
            reason,
            headers,
            body,
        });
    }
}

fn collect_headers(fields: &[httparse::Header<'_>]) -> Vec<Header> {
    fields
        .iter()
        .map(|field| {
            (
                field.name.to_owned(),
                String::from_utf8_lossy(field.value).into_owned(),
            )
        })
        .collect()
}

/// Reads up to and including the blank line that ends a head. Returns
/// `None` at end of stream before the first byte.
fn read_head(reader: &mut impl BufRead) -> Result<Option<Vec<u8>>> {
    let mut head = Vec::new();
    loop {
        let before = head.len();
        let read = reader.read_until(b'\n', &mut head)?;
        if read == 0 {
            if head.is_empty() {
                return Ok(None);
            }
            bail!("the connection closed in the middle of a head");
        }
        let line = &head[before..];
        if line == b"\r\n" || line == b"\n" {
            if before == 0 {
                // A stray blank line between messages, allowed by RFC 9112.
                head.clear();
                continue;
            }
            return Ok(Some(head));
        }
        if head.len() > MAX_HEAD {
            bail!("head longer than {MAX_HEAD} bytes");
        }
    }
}

/// What ends a message body that has neither Content-Length nor chunked encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BodyEnd {
    /// A request without either has no body.
    Request,
    /// A response without either ends when the server closes the connection.
    Response,
}

fn read_body(reader: &mut impl BufRead, headers: &[Header], end: BodyEnd) -> Result<Vec<u8>> {
    let chunked = header(headers, "transfer-encoding")
        .is_some_and(|value| value.to_ascii_lowercase().contains("chunked"));
    if chunked {
        return read_chunked(reader);
    }
    if let Some(length) = header(headers, "content-length") {
        let length: usize = length
            .trim()
            .parse()
            .with_context(|| format!("invalid Content-Length {length:?}"))?;
        if length > MAX_BODY {
            bail!("body of {length} bytes is larger than {MAX_BODY}");
        }
        let mut body = vec![0; length];
        reader
            .read_exact(&mut body)
            .context("the connection closed in the middle of a body")?;
        return Ok(body);
    }
    match end {
        BodyEnd::Request => Ok(Vec::new()),
        BodyEnd::Response => {
            let mut body = Vec::new();
            reader.take(MAX_BODY as u64 + 1).read_to_end(&mut body)?;
            if body.len() > MAX_BODY {
                bail!("body larger than {MAX_BODY} bytes");
            }
            Ok(body)
        }
    }
}

/// Reads a chunked body and returns it decoded. Trailer fields are dropped.
fn read_chunked(reader: &mut impl BufRead) -> Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let size = line.trim().split(';').next().unwrap_or_default();
        let size = usize::from_str_radix(size, 16)
            .with_context(|| format!("invalid chunk size line {line:?}"))?;
        if size == 0 {
            // Trailer fields, then the blank line.
            loop {
                let mut trailer = String::new();
                let read = reader.read_line(&mut trailer)?;
                if read == 0 || trailer.trim().is_empty() {
                    return Ok(body);
                }
            }
        }
        if body.len() + size > MAX_BODY {
            bail!("chunked body larger than {MAX_BODY} bytes");
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(&mut body[start..])?;
        let mut crlf = [0; 2];
        reader.read_exact(&mut crlf)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::BufReader;

    #[test]
    fn request_with_length_is_read_whole() {
        let raw = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhelloGET /next";
        let mut reader = BufReader::new(&raw[..]);
        let request = read_request(&mut reader, &mut Vec::new()).unwrap().unwrap();
        assert_eq!(request.method, "POST");
        assert_eq!(request.body, b"hello");
        let mut rest = String::new();
        reader.read_to_string(&mut rest).unwrap();
        assert_eq!(rest, "GET /next", "the next request stays unread");
    }

    #[test]
    fn chunked_body_is_decoded() {
        let raw = b"PUT /b?tagging HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\nTrailer: t\r\n\r\n";
        let request = read_request(&mut BufReader::new(&raw[..]), &mut Vec::new())
            .unwrap()
            .unwrap();
        assert_eq!(request.body, b"abcde");
        assert_eq!(request.path(), "/b");
        assert_eq!(request.query(), "tagging");
    }

    #[test]
    fn closed_connection_is_no_request() {
        let request = read_request(&mut BufReader::new(&b""[..]), &mut Vec::new()).unwrap();
        assert!(request.is_none());
    }

    #[test]
    fn expect_continue_is_answered_before_the_body() {
        let raw = b"PUT /b/k HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nok";
        let mut interim = Vec::new();
        let request = read_request(&mut BufReader::new(&raw[..]), &mut interim)
            .unwrap()
            .unwrap();
        assert_eq!(interim, b"HTTP/1.1 100 Continue\r\n\r\n");
        assert_eq!(request.body, b"ok");
        assert_eq!(
            request.header("expect"),
            None,
            "the expectation is not forwarded"
        );
    }

    #[test]
    fn response_without_length_ends_at_close() {
        let raw = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nConnection: close\r\n\r\n<ok/>";
        let response = read_response(&mut BufReader::new(&raw[..]), "GET").unwrap();
        assert_eq!(response.status, 200);
        assert_eq!(response.body, b"<ok/>");
    }

    #[test]
    fn response_to_head_has_no_body() {
        let raw = b"HTTP/1.1 200 OK\r\nContent-Length: 42\r\n\r\n";
        let response = read_response(&mut BufReader::new(&raw[..]), "HEAD").unwrap();
        assert!(response.body.is_empty());
        let mut written = Vec::new();
        response.write_keep_alive(&mut written, true).unwrap();
        let written = String::from_utf8(written).unwrap();
        assert!(written.contains("Content-Length: 42\r\n"), "{written}");
    }

    #[test]
    fn forwarded_response_drops_hop_by_hop_fields() {
        let response = Response::new(
            200,
            "OK",
            vec![
                ("Connection".to_owned(), "close".to_owned()),
                ("Transfer-Encoding".to_owned(), "chunked".to_owned()),
                ("x-amzn-RequestId".to_owned(), "r".to_owned()),
            ],
            b"{}".to_vec(),
        );
        let mut written = Vec::new();
        response.write_keep_alive(&mut written, false).unwrap();
        let written = String::from_utf8(written).unwrap();
        assert_eq!(
            written,
            "HTTP/1.1 200 OK\r\nx-amzn-RequestId: r\r\nContent-Length: 2\r\n\r\n{}"
        );
    }

    #[test]
    fn forwarded_request_closes_its_connection() {
        let request = Request {
            method: "POST".to_owned(),
            target: "/".to_owned(),
            headers: vec![
                ("Host".to_owned(), "x".to_owned()),
                ("Connection".to_owned(), "keep-alive".to_owned()),
                ("Content-Length".to_owned(), "2".to_owned()),
            ],
            body: b"ab".to_vec(),
        };
        let mut written = Vec::new();
        request.write_closing(&mut written).unwrap();
        assert_eq!(
            String::from_utf8(written).unwrap(),
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\nab"
        );
    }
}
