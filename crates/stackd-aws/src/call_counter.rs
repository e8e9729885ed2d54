//! Counts of AWS calls by service, operation and outcome, collected by an SDK interceptor.
//!
//! [`AwsCallCounter`] is registered on every client of [`AwsClients`](crate::AwsClients).
//! It counts each HTTP attempt, so a call that the SDK retried twice after
//! throttling counts two `throttled` attempts and one `ok`. The daemon renders
//! the counts in /metrics; benchmarks and tests read them through
//! [`AwsCallCounter::snapshot`].

use aws_runtime::retries::classifiers::THROTTLING_ERRORS;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::FinalizerInterceptorContextRef;
use aws_smithy_runtime_api::client::orchestrator::{Metadata, OrchestratorError};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};

/// The result of one attempt of an AWS call: the `outcome` label of the call counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CallOutcome {
    /// A successful response.
    Ok,
    /// A throttling error (Throttling, ThrottlingException, RequestLimitExceeded,
    /// SlowDown, TooManyRequestsException …) or HTTP 429.
    Throttled,
    /// Any other error response with a 4xx status, such as a resource not found.
    ClientError,
    /// Any other error response with a 5xx status.
    ServerError,
    /// No response within the SDK's timeout.
    Timeout,
    /// The connection failed, or closed or reset before the whole response arrived.
    Connection,
    /// A response that the SDK could not read, or a failure before sending.
    Other,
}

impl CallOutcome {
    /// Every outcome, in label order.
    pub const ALL: [CallOutcome; 7] = [
        CallOutcome::Ok,
        CallOutcome::Throttled,
        CallOutcome::ClientError,
        CallOutcome::ServerError,
        CallOutcome::Timeout,
        CallOutcome::Connection,
        CallOutcome::Other,
    ];

    /// Returns the Prometheus label value.
    pub fn label(self) -> &'static str {
        match self {
            CallOutcome::Ok => "ok",
            CallOutcome::Throttled => "throttled",
            CallOutcome::ClientError => "client_error",
            CallOutcome::ServerError => "server_error",
            CallOutcome::Timeout => "timeout",
            CallOutcome::Connection => "connection_error",
            CallOutcome::Other => "other_error",
        }
    }
}

impl fmt::Display for CallOutcome {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.label())
    }
}

/// The labels of one counter: service, operation and outcome.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CallKey {
    /// The SDK's service name in lower case, such as `ec2` or `elasticache`.
    pub service: String,
    /// The operation name, such as `DescribeVpcs`.
    pub operation: String,
    pub outcome: CallOutcome,
}

/// Counts of AWS call attempts, shared by every client that registered it.
///
/// Cloning is cheap and every clone counts into the same table, so one counter
/// can outlive the clients built for a file that was reloaded.
#[derive(Debug, Clone, Default)]
pub struct AwsCallCounter {
    counts: Arc<Mutex<BTreeMap<CallKey, u64>>>,
}

impl AwsCallCounter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Returns every count, sorted by service, operation and outcome.
    pub fn snapshot(&self) -> Vec<(CallKey, u64)> {
        self.lock()
            .iter()
            .map(|(key, count)| (key.clone(), *count))
            .collect()
    }

    /// Returns the number of attempts counted so far, whatever their outcome.
    pub fn total(&self) -> u64 {
        self.lock().values().sum()
    }

    fn record(&self, service: &str, operation: &str, outcome: CallOutcome) {
        let key = CallKey {
            service: service.to_ascii_lowercase(),
            operation: operation.to_owned(),
            outcome,
        };
        *self.lock().entry(key).or_insert(0) += 1;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<CallKey, u64>> {
        // Counts stay valid after a panic elsewhere: each update is one addition.
        self.counts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Intercept for AwsCallCounter {
    fn name(&self) -> &'static str {
        "AwsCallCounter"
    }

    fn read_after_attempt(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let (service, operation) = match cfg.load::<Metadata>() {
            Some(metadata) => (metadata.service(), metadata.name()),
            None => ("unknown", "unknown"),
        };
        let outcome = match context.output_or_error() {
            Some(Ok(_)) => CallOutcome::Ok,
            Some(Err(error)) => classify_error(error, context.response()),
            // The attempt ended before the SDK had a result to give.
            None => CallOutcome::Other,
        };
        self.record(service, operation, outcome);
        Ok(())
    }
}

/// Classifies a failed attempt. Operation errors are read from the HTTP
/// response, because the interceptor receives them type-erased and cannot
/// read their error code.
fn classify_error<E>(
    error: &OrchestratorError<E>,
    response: Option<&aws_smithy_runtime_api::http::Response>,
) -> CallOutcome {
    if let Some(connector) = error.as_connector_error() {
        return if connector.is_timeout() {
            CallOutcome::Timeout
        } else if connector.is_io() {
            CallOutcome::Connection
        } else {
            CallOutcome::Other
        };
    }
    if error.is_timeout_error() {
        return CallOutcome::Timeout;
    }
    if !error.is_operation_error() {
        return CallOutcome::Other;
    }
    match response {
        Some(response) => classify_response(
            response.status().as_u16(),
            response.headers().get("x-amzn-errortype"),
            response.body().bytes().unwrap_or_default(),
        ),
        None => CallOutcome::Other,
    }
}

/// Classifies an error response from its status, its `x-amzn-ErrorType`
/// header and its body.
fn classify_response(status: u16, error_type: Option<&str>, body: &[u8]) -> CallOutcome {
    let code = error_type
        .map(sanitize_error_code)
        .or_else(|| error_code_in_body(body));
    let throttled =
        status == 429 || code.is_some_and(|code| THROTTLING_ERRORS.contains(&code.as_str()));
    if throttled {
        CallOutcome::Throttled
    } else if status >= 500 {
        CallOutcome::ServerError
    } else if status >= 400 {
        CallOutcome::ClientError
    } else {
        CallOutcome::Other
    }
}

/// Finds the error code in an error body: `__type` or `code` in a JSON
/// object (the JSON protocols), else the first `<Code>` element (EC2, the
/// query protocol, S3 and the other XML services).
fn error_code_in_body(body: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?.trim_start();
    if text.starts_with('{') {
        let value: serde_json::Value = serde_json::from_str(text).ok()?;
        let code = value
            .get("__type")
            .or_else(|| value.get("code"))
            .and_then(serde_json::Value::as_str)?;
        return Some(sanitize_error_code(code));
    }
    let start = text.find("<Code>")? + "<Code>".len();
    let length = text[start..].find("</Code>")?;
    Some(text[start..start + length].trim().to_owned())
}

/// Removes the namespace and the URL suffix that some services add, as in
/// `aws.protocoltests#ThrottlingException:http://internal.amazon.com/`.
fn sanitize_error_code(code: &str) -> String {
    let code = code.split(':').next().unwrap_or(code);
    code.rsplit('#').next().unwrap_or(code).trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_iam::operation::get_role::GetRoleOutput;
    use aws_sdk_iam::types::Role;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};
    use aws_smithy_types::DateTime;
    use aws_smithy_types::retry::RetryConfig;
    use std::time::Duration;

    #[test]
    fn error_responses_are_classified_by_code_and_status() {
        let cases: [(&str, u16, Option<&str>, &str, CallOutcome); 11] = [
            (
                "EC2 throttling",
                503,
                None,
                "<Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>Request limit exceeded.</Message></Error></Errors><RequestID>r</RequestID></Response>",
                CallOutcome::Throttled,
            ),
            (
                "query-protocol throttling",
                400,
                None,
                "<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error></ErrorResponse>",
                CallOutcome::Throttled,
            ),
            (
                "awsJson throttling",
                400,
                None,
                r#"{"__type":"com.amazonaws.ecs#ThrottlingException","message":"Rate exceeded"}"#,
                CallOutcome::Throttled,
            ),
            (
                "restJson throttling in the header",
                429,
                Some("TooManyRequestsException:http://internal.amazon.com/"),
                r#"{"message":"Too Many Requests"}"#,
                CallOutcome::Throttled,
            ),
            (
                "S3 SlowDown",
                503,
                None,
                "<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>",
                CallOutcome::Throttled,
            ),
            (
                "HTTP 429 without a body",
                429,
                None,
                "",
                CallOutcome::Throttled,
            ),
            (
                "resource not found",
                400,
                None,
                "<ErrorResponse><Error><Code>NoSuchEntity</Code></Error></ErrorResponse>",
                CallOutcome::ClientError,
            ),
            (
                "S3 HEAD 404 without a body",
                404,
                None,
                "",
                CallOutcome::ClientError,
            ),
            (
                "EC2 internal error",
                500,
                None,
                "<Response><Errors><Error><Code>InternalError</Code></Error></Errors></Response>",
                CallOutcome::ServerError,
            ),
            (
                "S3 HEAD 503 without a body",
                503,
                None,
                "",
                CallOutcome::ServerError,
            ),
            (
                "a code that only contains a throttling code",
                400,
                None,
                "<Error><Code>NotThrottlingAtAll</Code></Error>",
                CallOutcome::ClientError,
            ),
        ];
        for (reason, status, header, body, expected) in cases {
            assert_eq!(
                classify_response(status, header, body.as_bytes()),
                expected,
                "{reason}"
            );
        }
    }

    fn role() -> Role {
        Role::builder()
            .path("/")
            .role_name("r")
            .role_id("AROAEXAMPLE")
            .arn("arn:aws:iam::123456789012:role/r")
            .create_date(DateTime::from_secs(0))
            .build()
            .unwrap()
    }

    #[tokio::test]
    async fn retried_attempts_are_counted_one_by_one() {
        let throttling = "<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error></ErrorResponse>";
        let get_role = mock!(aws_sdk_iam::Client::get_role)
            .sequence()
            .http_status(400, Some(throttling.to_owned()))
            .times(2)
            .output(|| GetRoleOutput::builder().role(role()).build())
            .build();
        let counter = AwsCallCounter::new();
        let registered = counter.clone();
        let client = mock_client!(
            aws_sdk_iam,
            RuleMode::Sequential,
            [&get_role],
            move |config| config.interceptor(registered.clone()).retry_config(
                RetryConfig::standard()
                    .with_max_attempts(3)
                    .with_initial_backoff(Duration::from_millis(1))
            )
        );

        client.get_role().role_name("r").send().await.unwrap();

        let counts = counter.snapshot();
        let count = |outcome| {
            counts
                .iter()
                .find(|(key, _)| {
                    key.service == "iam" && key.operation == "GetRole" && key.outcome == outcome
                })
                .map(|(_, count)| *count)
        };
        assert_eq!(count(CallOutcome::Throttled), Some(2), "{counts:?}");
        assert_eq!(count(CallOutcome::Ok), Some(1), "{counts:?}");
        assert_eq!(counter.total(), 3);
    }

    #[tokio::test]
    async fn final_error_counts_its_kind() {
        let not_found = "<ErrorResponse><Error><Type>Sender</Type><Code>NoSuchEntity</Code><Message>missing</Message></Error></ErrorResponse>";
        let get_role = mock!(aws_sdk_iam::Client::get_role)
            .sequence()
            .http_status(404, Some(not_found.to_owned()))
            .build();
        let counter = AwsCallCounter::new();
        let registered = counter.clone();
        let client = mock_client!(
            aws_sdk_iam,
            RuleMode::Sequential,
            [&get_role],
            move |config| config.interceptor(registered.clone())
        );

        let error = client.get_role().role_name("r").send().await.unwrap_err();
        assert!(
            error
                .as_service_error()
                .is_some_and(|error| error.is_no_such_entity_exception()),
            "{error:?}"
        );
        let counts = counter.snapshot();
        assert_eq!(counts.len(), 1, "{counts:?}");
        assert_eq!(counts[0].0.outcome, CallOutcome::ClientError);
        assert_eq!(counts[0].1, 1);
    }
}
