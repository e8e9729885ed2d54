//! Classifies failed AWS calls as transient, which a later try may get past,
//! or not, which need a change. The engine requeues transient failures until
//! `--wait` runs out, and stops after a few passes on the others.

use aws_runtime::retries::classifiers::{THROTTLING_ERRORS, TRANSIENT_ERRORS};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use stackd_engine::ComponentError;

/// Returns whether `error` may not happen again on a later try: throttling, a
/// server error, a timeout, a lost connection or a broken response.
pub(crate) fn is_transient<E: ProvideErrorMetadata>(error: &SdkError<E, HttpResponse>) -> bool {
    match error {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            true
        }
        // A failed HEAD response has no body, so its error has a status but no code.
        SdkError::ServiceError(service) => {
            let status = service.raw().status();
            status.is_server_error()
                || status.as_u16() == 429
                || service.err().code().is_some_and(|code| {
                    THROTTLING_ERRORS.contains(&code) || TRANSIENT_ERRORS.contains(&code)
                })
        }
        _ => false,
    }
}

/// Wraps the error of the AWS call that `operation` names, marked transient
/// when [`is_transient`] returns true for it.
pub(crate) fn call_failed<E>(
    operation: impl Into<String>,
    error: SdkError<E, HttpResponse>,
) -> ComponentError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    if is_transient(&error) {
        ComponentError::transient_call(operation, error)
    } else {
        ComponentError::call(operation, error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_sts::operation::get_caller_identity::GetCallerIdentityError;
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;
    use aws_smithy_types::error::ErrorMetadata;

    /// Builds a service error with this HTTP status and error code.
    fn service_error(
        status: u16,
        code: Option<&str>,
    ) -> SdkError<GetCallerIdentityError, HttpResponse> {
        let mut metadata = ErrorMetadata::builder();
        if let Some(code) = code {
            metadata = metadata.code(code);
        }
        SdkError::service_error(
            GetCallerIdentityError::generic(metadata.build()),
            HttpResponse::new(StatusCode::try_from(status).unwrap(), SdkBody::empty()),
        )
    }

    #[test]
    fn transient_errors_by_status_and_code() {
        let cases = [
            (500, Some("InternalError"), true),
            (503, None, true),
            (429, None, true),
            (400, Some("Throttling"), true),
            (400, Some("RequestLimitExceeded"), true),
            (400, Some("RequestTimeout"), true),
            (403, Some("AccessDenied"), false),
            (400, Some("ValidationError"), false),
            (404, None, false),
        ];
        for (status, code, expected) in cases {
            assert_eq!(
                is_transient(&service_error(status, code)),
                expected,
                "{status} {code:?}"
            );
        }
    }

    #[test]
    fn timeout_is_transient() {
        let error: SdkError<GetCallerIdentityError, HttpResponse> =
            SdkError::timeout_error("the attempt timed out");
        assert!(is_transient(&error));
    }

    #[test]
    fn call_failed_marks_transient_errors() {
        assert!(call_failed("GetCallerIdentity", service_error(503, None)).is_transient());
        assert!(
            !call_failed(
                "GetCallerIdentity",
                service_error(403, Some("AccessDenied"))
            )
            .is_transient()
        );
    }
}
