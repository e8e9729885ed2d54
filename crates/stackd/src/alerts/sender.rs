//! Delivery of the messages: a bounded queue drained by a task of its own, a rate
//! limit, and retries of 429 and 5xx responses.
//!
//! The reconcile loop only pushes onto the queue with `try_send`, so a webhook that
//! is slow or down never blocks or slows a pass. When the queue is full, or the
//! hourly limit is reached, the message is dropped, counted and logged.

use super::webhook::{Delivery, Poster};
use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// Messages waiting for delivery before new ones are dropped.
const QUEUE_CAPACITY: usize = 64;
/// Window of the rate limit.
const RATE_WINDOW: Duration = Duration::from_secs(3600);

/// Delivery settings.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// Maximum messages posted per hour; the others are dropped.
    pub max_per_hour: u32,
    /// Tries per message, the first one included.
    pub max_attempts: u32,
    /// Delay before the first retry when the response has no Retry-After; doubled
    /// after each failed try, up to `max_backoff`.
    pub backoff: Duration,
    pub max_backoff: Duration,
    /// Longest Retry-After honoured; a longer one is cut to this.
    pub max_retry_after: Duration,
}

impl Settings {
    pub fn new(max_per_hour: u32) -> Self {
        Settings {
            max_per_hour,
            max_attempts: 5,
            backoff: Duration::from_secs(2),
            max_backoff: Duration::from_secs(60),
            max_retry_after: Duration::from_secs(300),
        }
    }
}

/// Counts of what happened to the messages, for /metrics.
#[derive(Debug, Default)]
pub struct Counters {
    pub delivered: AtomicU64,
    /// Messages given up after every try, or rejected by the webhook.
    pub failed: AtomicU64,
    /// Tries that got 429, 5xx or no response and were tried again.
    pub retried: AtomicU64,
    /// Messages dropped because the queue was full or the hourly limit was reached.
    pub dropped: AtomicU64,
}

impl Counters {
    fn add(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

/// One message: its JSON body and a short label for the logs.
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// Such as `drift security-groups 3f2a…`; never contains a value of the message.
    pub label: String,
    pub body: String,
}

/// The reconcile side of the queue.
#[derive(Debug, Clone)]
pub struct Sender {
    queue: mpsc::Sender<Outgoing>,
    pub counters: Arc<Counters>,
}

impl Sender {
    /// Starts the delivery task and returns the queue's handle and the task.
    pub fn start(poster: Poster, settings: Settings) -> (Sender, JoinHandle<()>) {
        let (queue, receiver) = mpsc::channel(QUEUE_CAPACITY);
        let counters = Arc::new(Counters::default());
        let task = tokio::spawn(deliver(poster, settings, receiver, Arc::clone(&counters)));
        (Sender { queue, counters }, task)
    }

    /// Queues a message without waiting. Returns false when it was dropped.
    pub fn enqueue(&self, message: Outgoing) -> bool {
        match self.queue.try_send(message) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(message)) => {
                Counters::add(&self.counters.dropped);
                tracing::warn!(
                    message = message.label,
                    capacity = QUEUE_CAPACITY,
                    dropped_total = Counters::get(&self.counters.dropped),
                    "dropped a Slack alert: the delivery queue is full because the webhook is slow or down"
                );
                false
            }
            Err(mpsc::error::TrySendError::Closed(message)) => {
                Counters::add(&self.counters.dropped);
                tracing::error!(
                    message = message.label,
                    "dropped a Slack alert: the delivery task stopped"
                );
                false
            }
        }
    }
}

/// Waits up to `timeout` for the task to deliver what the queue holds, once every
/// [`Sender`] is dropped. Returns false when time ran out.
pub async fn drain(task: JoinHandle<()>, timeout: Duration) -> bool {
    tokio::time::timeout(timeout, task).await.is_ok()
}

async fn deliver(
    poster: Poster,
    settings: Settings,
    mut receiver: mpsc::Receiver<Outgoing>,
    counters: Arc<Counters>,
) {
    let mut sent: VecDeque<Instant> = VecDeque::new();
    while let Some(message) = receiver.recv().await {
        let now = Instant::now();
        while sent
            .front()
            .is_some_and(|time| now.duration_since(*time) >= RATE_WINDOW)
        {
            sent.pop_front();
        }
        if sent.len() >= settings.max_per_hour as usize {
            Counters::add(&counters.dropped);
            tracing::warn!(
                message = message.label,
                max_per_hour = settings.max_per_hour,
                dropped_total = Counters::get(&counters.dropped),
                "dropped a Slack alert: maxMessagesPerHour reached"
            );
            continue;
        }
        sent.push_back(now);
        send_one(&poster, &settings, &message, &counters).await;
    }
}

/// Posts one message, trying again after 429, 5xx or no answer.
async fn send_one(poster: &Poster, settings: &Settings, message: &Outgoing, counters: &Counters) {
    let mut backoff = settings.backoff;
    for attempt in 1..=settings.max_attempts {
        let (problem, retry_after) = match poster.post(&message.body).await {
            Delivery::Delivered => {
                Counters::add(&counters.delivered);
                tracing::debug!(message = message.label, attempt, "sent a Slack alert");
                return;
            }
            Delivery::Rejected { status, body } => {
                Counters::add(&counters.failed);
                tracing::error!(
                    message = message.label,
                    status,
                    answer = body,
                    "the Slack webhook rejected an alert; check that the webhook still exists"
                );
                return;
            }
            Delivery::Retry {
                status,
                retry_after,
            } => (format!("status {status}"), retry_after),
            Delivery::Unreachable(error) => (error, None),
        };
        if attempt == settings.max_attempts {
            Counters::add(&counters.failed);
            tracing::error!(
                message = message.label,
                attempts = attempt,
                error = problem,
                "failed to send a Slack alert, giving up"
            );
            return;
        }
        let delay = match retry_after {
            Some(wait) => wait.min(settings.max_retry_after),
            None => backoff,
        };
        backoff = (backoff * 2).min(settings.max_backoff);
        Counters::add(&counters.retried);
        tracing::warn!(
            message = message.label,
            attempt,
            error = problem,
            retry_in = ?delay,
            "failed to send a Slack alert, retrying"
        );
        tokio::time::sleep(delay).await;
    }
}
