//! The Slack incoming-webhook URL, read from the environment or a file, and the HTTP
//! client that posts to it.
//!
//! The URL is a bearer secret: whoever has it can post to the channel. It never comes
//! from the desired-state file, and [`WebhookUrl`] prints as a placeholder, so that
//! no log line, error or /status document can show it.

use anyhow::Context;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Environment variable that contains the webhook URL.
pub const URL_ENV: &str = "STACKD_SLACK_WEBHOOK_URL";
/// Name of the systemd credential (`LoadCredential=slack-webhook:…`) that contains the URL.
pub const CREDENTIAL: &str = "slack-webhook";

/// Time allowed for one POST, connection included.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The webhook URL. `Debug` and `Display` print a placeholder.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookUrl(hyper::Uri);

impl std::fmt::Debug for WebhookUrl {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("WebhookUrl([hidden])")
    }
}

impl WebhookUrl {
    /// Parses a URL. It must be https, or http to a loopback address (a local relay or
    /// a test listener). Errors never quote the URL.
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let uri: hyper::Uri = text
            .trim()
            .parse()
            .map_err(|_| anyhow::anyhow!("the Slack webhook URL is not a valid URL"))?;
        let host = uri.host().unwrap_or_default();
        let loopback = host == "localhost"
            || host
                .trim_matches(['[', ']'])
                .parse::<std::net::IpAddr>()
                .is_ok_and(|address| address.is_loopback());
        match uri.scheme_str() {
            Some("https") => {}
            Some("http") if loopback => {}
            _ => anyhow::bail!(
                "the Slack webhook URL must start with https:// (http:// only to a loopback address)"
            ),
        }
        Ok(WebhookUrl(uri))
    }

    /// Returns the URL text, for the POST and for checks that a text does not contain it.
    pub fn expose(&self) -> String {
        self.0.to_string()
    }
}

/// Sources of the webhook URL, in order: `--alert-webhook-file`, the
/// systemd credential, then the environment variable.
#[derive(Debug, Clone, Default)]
pub struct UrlSource {
    pub file: Option<PathBuf>,
}

impl UrlSource {
    /// Reads the URL, or returns `None` when no source is set. An empty file counts
    /// as no URL, so that a service can declare the credential before the webhook exists.
    pub fn read(&self) -> anyhow::Result<Option<WebhookUrl>> {
        if let Some(file) = &self.file {
            return read_file(file);
        }
        if let Some(folder) = std::env::var_os("CREDENTIALS_DIRECTORY") {
            let file = Path::new(&folder).join(CREDENTIAL);
            if file.exists() {
                return read_file(&file);
            }
        }
        match std::env::var(URL_ENV) {
            Ok(text) if !text.trim().is_empty() => WebhookUrl::parse(&text)
                .with_context(|| format!("invalid {URL_ENV}"))
                .map(Some),
            _ => Ok(None),
        }
    }
}

fn read_file(file: &Path) -> anyhow::Result<Option<WebhookUrl>> {
    let text = std::fs::read_to_string(file).with_context(|| {
        format!(
            "failed to read the Slack webhook URL from {}",
            file.display()
        )
    })?;
    if text.trim().is_empty() {
        return Ok(None);
    }
    WebhookUrl::parse(&text)
        .with_context(|| format!("invalid Slack webhook URL in {}", file.display()))
        .map(Some)
}

/// Outcome of one POST to the webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    Delivered,
    /// 429 or 5xx: worth another try, after `retry_after` when the response sets it.
    Retry {
        status: u16,
        retry_after: Option<Duration>,
    },
    /// Another status, such as 404 for a revoked webhook: another try would fail too.
    Rejected {
        status: u16,
        body: String,
    },
    /// No response: connection refused, TLS failure, timeout. Worth another try.
    Unreachable(String),
}

/// Posts JSON documents to the webhook.
#[derive(Debug, Clone)]
pub struct Poster {
    url: WebhookUrl,
    client: Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>,
}

impl Poster {
    /// Builds the HTTPS client, with the system's CA certificates.
    pub fn new(url: WebhookUrl) -> anyhow::Result<Self> {
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_native_roots()
            .context("failed to load the system's CA certificates for the Slack webhook")?
            .https_or_http()
            .enable_http1()
            .build();
        let client = Client::builder(TokioExecutor::new()).build(connector);
        Ok(Poster { url, client })
    }

    /// Sends one message. Failure texts never contain the URL.
    pub async fn post(&self, body: &str) -> Delivery {
        let request = hyper::Request::post(self.url.0.clone())
            .header(
                hyper::header::CONTENT_TYPE,
                "application/json; charset=utf-8",
            )
            .body(Full::new(Bytes::from(body.to_owned())));
        let request = match request {
            Ok(request) => request,
            Err(_) => {
                return Delivery::Rejected {
                    status: 0,
                    body: "invalid request".to_owned(),
                };
            }
        };
        let response = match tokio::time::timeout(REQUEST_TIMEOUT, self.client.request(request))
            .await
        {
            Err(_) => return Delivery::Unreachable(format!("timed out after {REQUEST_TIMEOUT:?}")),
            Ok(Err(error)) => return Delivery::Unreachable(self.hide(&error_chain(&error))),
            Ok(Ok(response)) => response,
        };
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(hyper::header::RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let body = match tokio::time::timeout(REQUEST_TIMEOUT, response.into_body().collect()).await
        {
            Ok(Ok(collected)) => String::from_utf8_lossy(&collected.to_bytes()).into_owned(),
            _ => String::new(),
        };
        match status {
            200..=299 => Delivery::Delivered,
            429 | 500..=599 => Delivery::Retry {
                status,
                retry_after,
            },
            _ => Delivery::Rejected {
                status,
                body: self.hide(body.chars().take(200).collect::<String>().trim()),
            },
        }
    }

    /// Replaces the URL, and its path alone, by a placeholder in a text.
    fn hide(&self, text: &str) -> String {
        let url = self.url.expose();
        let mut text = text.replace(&url, "[webhook URL]");
        let path = self.url.0.path();
        if path.len() > 1 {
            text = text.replace(path, "[webhook path]");
        }
        text
    }
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_must_be_https_or_loopback() {
        assert!(WebhookUrl::parse("https://hooks.slack.com/services/T0/B0/x").is_ok());
        assert!(WebhookUrl::parse("http://127.0.0.1:8080/hook").is_ok());
        assert!(WebhookUrl::parse("http://[::1]:8080/hook").is_ok());
        let error =
            WebhookUrl::parse("http://hooks.example.com/services/T0/B0/secret").unwrap_err();
        assert!(!format!("{error:#}").contains("secret"), "{error:#}");
    }

    #[test]
    fn url_prints_as_a_placeholder() {
        let url = WebhookUrl::parse("https://hooks.slack.com/services/T0/B0/secret").unwrap();
        assert_eq!(format!("{url:?}"), "WebhookUrl([hidden])");
    }

    #[test]
    fn url_file_is_read_and_trimmed() {
        let file = std::env::temp_dir().join(format!("stackd-webhook-{}", std::process::id()));
        std::fs::write(&file, "https://hooks.slack.com/services/T0/B0/secret\n").unwrap();
        let source = UrlSource {
            file: Some(file.clone()),
        };
        let url = source.read().unwrap().unwrap();
        assert_eq!(
            url.expose(),
            "https://hooks.slack.com/services/T0/B0/secret"
        );
        std::fs::write(&file, "\n").unwrap();
        assert_eq!(source.read().unwrap(), None, "an empty file is no URL");
        std::fs::remove_file(&file).unwrap();
        let error = source.read().unwrap_err();
        assert!(format!("{error:#}").contains("failed to read"), "{error:#}");
    }
}
