//! The write guard that keeps stackd out of the wrong account and region.

use async_trait::async_trait;
use stackd_engine::{Refusal, WriteGuard};

/// Checks, before the first write of a pass, that the credentials belong to the
/// account the file names and that the clients call the file's region.
///
/// STS GetCallerIdentity needs no permission, so the check works with any
/// credentials. It runs once per pass that writes: credentials can change under
/// a long-running daemon (a rotated profile, another role).
#[derive(Debug, Clone)]
pub struct AccountGuard {
    sts: aws_sdk_sts::Client,
    account: String,
    region: String,
}

impl AccountGuard {
    pub fn new(sts: aws_sdk_sts::Client, account: &str, region: &str) -> Self {
        AccountGuard {
            sts,
            account: account.to_owned(),
            region: region.to_owned(),
        }
    }
}

#[async_trait]
impl WriteGuard for AccountGuard {
    async fn check(&self) -> Result<(), Refusal> {
        let client_region = self.sts.config().region().map(|region| region.as_ref());
        if client_region != Some(self.region.as_str()) {
            return Err(Refusal::stop(format!(
                "the AWS clients are configured for region {}, but the file names {}: nothing was written",
                client_region.unwrap_or("(none)"),
                self.region
            )));
        }
        let identity = self.sts.get_caller_identity().send().await.map_err(|error| {
            let reason = format!(
                "STS GetCallerIdentity failed, so the account could not be checked and nothing was written: {}",
                aws_smithy_types::error::display::DisplayErrorContext(&error)
            );
            // Throttling or a lost connection may be gone by the next pass.
            if crate::failures::is_transient(&error) {
                Refusal::retry(reason)
            } else {
                Refusal::stop(reason)
            }
        })?;
        match identity.account() {
            Some(account) if account == self.account => Ok(()),
            Some(account) => Err(Refusal::stop(format!(
                "the credentials belong to account {account}, but the file names account {}: nothing was written; use credentials for {} or fix spec.account",
                self.account, self.account
            ))),
            None => Err(Refusal::stop(
                "STS GetCallerIdentity returned no account, so nothing was written",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_sts::operation::get_caller_identity::GetCallerIdentityOutput;
    use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};

    fn guard_for(caller_account: &'static str) -> AccountGuard {
        let rule = mock!(aws_sdk_sts::Client::get_caller_identity).then_output(move || {
            GetCallerIdentityOutput::builder()
                .account(caller_account)
                .arn(format!("arn:aws:iam::{caller_account}:user/ops"))
                .build()
        });
        let sts = mock_client!(aws_sdk_sts, RuleMode::MatchAny, [&rule], |config| config
            .region(aws_types::region::Region::new("eu-west-3")));
        AccountGuard::new(sts, "111122223333", "eu-west-3")
    }

    #[tokio::test]
    async fn matching_account_passes() {
        assert_eq!(guard_for("111122223333").check().await, Ok(()));
    }

    #[tokio::test]
    async fn other_account_is_rejected() {
        let error = guard_for("999988887777").check().await.unwrap_err().reason;
        assert!(
            error.contains("credentials belong to account 999988887777"),
            "{error}"
        );
        assert!(error.contains("nothing was written"), "{error}");
    }

    #[tokio::test]
    async fn sts_server_error_lets_next_pass_retry() {
        use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
        use aws_smithy_runtime_api::http::StatusCode;
        use aws_smithy_types::body::SdkBody;

        let unavailable =
            mock!(aws_sdk_sts::Client::get_caller_identity).then_http_response(|| {
                HttpResponse::new(StatusCode::try_from(503).unwrap(), SdkBody::empty())
            });
        let sts = crate::mocks::mock_client!(aws_sdk_sts, [&unavailable]);
        let guard = AccountGuard::new(sts, "111122223333", "eu-west-3");

        let refusal = guard.check().await.unwrap_err();

        assert!(refusal.retry, "{refusal:?}");
        assert!(refusal.reason.contains("GetCallerIdentity"), "{refusal:?}");
    }

    #[tokio::test]
    async fn other_region_is_rejected() {
        let no_rules: [&Rule; 0] = [];
        let sts = mock_client!(aws_sdk_sts, RuleMode::MatchAny, no_rules, |config| config
            .region(aws_types::region::Region::new("us-east-1")));
        let guard = AccountGuard::new(sts, "111122223333", "eu-west-3");
        let error = guard.check().await.unwrap_err().reason;
        assert!(error.contains("region us-east-1"), "{error}");
    }
}
