//! Setting the alerts up from the command line, and `stackd alert test`.

use super::record::{FileStore, MemoryStore, RecordStore};
use super::sender::{self, Counters, Outgoing, Sender};
use super::webhook::{Poster, URL_ENV, UrlSource};
use super::{Alerter, clock};
use crate::cli::{AlertArgs, AlertTestArgs};
use crate::commands::{EXIT_ERROR, EXIT_OK};
use stackd_engine::Graph;
use stackd_spec::model::Stack;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;

/// Time a `--once` run or `alert test` waits for its messages to go out before it exits.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(60);

/// The alerts of a run and the task that delivers their messages.
#[derive(Debug)]
pub struct Started {
    pub alerter: Alerter,
    task: Option<JoinHandle<()>>,
    counters: Option<Arc<Counters>>,
}

/// Sets the alerts up, or returns `None` when the run does without them.
///
/// The daemon always tracks drift, so that drift policies apply, and sends messages
/// when a webhook URL is set. `plan` and `reconcile --once` track drift only with
/// `--alert-state`, and send only with `--alert`.
pub async fn start(
    stack: &Stack,
    graph: &Graph,
    args: &AlertArgs,
    daemon: bool,
) -> anyhow::Result<Option<Started>> {
    if !daemon && args.alert_state.is_none() {
        return Ok(None);
    }
    let source = UrlSource {
        file: args.alert_webhook_file.clone(),
    };
    let url = if daemon || args.alert {
        source.read()?
    } else {
        None
    };
    if args.alert && url.is_none() {
        anyhow::bail!(
            "--alert needs the Slack webhook URL: set {URL_ENV}, the systemd credential slack-webhook, or --alert-webhook-file"
        );
    }
    let (sender, task) = match url {
        Some(url) => {
            let poster = Poster::new(url)?;
            let (sender, task) = Sender::start(
                poster,
                sender::Settings::new(stack.alerts.max_messages_per_hour),
            );
            (Some(sender), Some(task))
        }
        None => {
            tracing::info!("no Slack webhook URL is set: drift is tracked, and no alert is sent");
            (None, None)
        }
    };
    let store: Box<dyn RecordStore> = match &args.alert_state {
        Some(path) => Box::new(FileStore::new(path)),
        None => Box::new(MemoryStore::default()),
    };
    let counters = sender.as_ref().map(|sender| Arc::clone(&sender.counters));
    let alerter = Alerter::new(stack, graph, store, clock::from_env(), sender).await?;
    Ok(Some(Started {
        alerter,
        task,
        counters,
    }))
}

impl Started {
    /// Returns the counters of the sender, if a webhook is set.
    pub fn counters(&self) -> Option<Arc<Counters>> {
        self.counters.clone()
    }

    /// Waits for the queued messages to go out, then logs what failed. Returns
    /// false when a message could not be sent.
    pub async fn finish(self) -> bool {
        self.finish_within(DRAIN_TIMEOUT).await
    }

    /// Waits at most `timeout` for the queued messages to go out, then logs what
    /// failed. Returns false when a message could not be sent.
    pub async fn finish_within(self, timeout: Duration) -> bool {
        drop(self.alerter);
        let Some(task) = self.task else {
            return true;
        };
        if !sender::drain(task, timeout).await {
            tracing::error!(?timeout, "gave up waiting for the Slack alerts to go out");
            return false;
        }
        let Some(counters) = self.counters else {
            return true;
        };
        let failed = Counters::get(&counters.failed) + Counters::get(&counters.dropped);
        if failed > 0 {
            tracing::error!(
                failed,
                "some Slack alerts were not sent; see the errors above"
            );
        }
        failed == 0
    }
}

/// `stackd alert test`: sends one message and waits for the response.
pub async fn send_test(args: &AlertTestArgs) -> anyhow::Result<u8> {
    let loaded = match crate::desired::read(&args.file.file) {
        Ok(read) => read.loaded,
        Err(error) => {
            eprintln!("{error}");
            return Ok(EXIT_ERROR);
        }
    };
    let source = UrlSource {
        file: args.alert_webhook_file.clone(),
    };
    let Some(url) = source.read()? else {
        anyhow::bail!(
            "no Slack webhook URL: set {URL_ENV}, the systemd credential slack-webhook, or --alert-webhook-file"
        );
    };
    let stack = &loaded.stack;
    let body = super::message::test_message(&super::context(stack), clock::from_env().now());
    let (sender, task) = Sender::start(
        Poster::new(url)?,
        sender::Settings::new(stack.alerts.max_messages_per_hour.max(1)),
    );
    let counters = Arc::clone(&sender.counters);
    sender.enqueue(Outgoing {
        label: "test".to_owned(),
        body: body.to_string(),
    });
    drop(sender);
    let finished = sender::drain(task, DRAIN_TIMEOUT).await;
    if finished && Counters::get(&counters.delivered) == 1 {
        println!(
            "the Slack webhook accepted the test message for stack {}",
            stack.name
        );
        Ok(EXIT_OK)
    } else {
        eprintln!(
            "error: the test message was not delivered; see the log lines above (add -v for more)"
        );
        Ok(EXIT_ERROR)
    }
}
