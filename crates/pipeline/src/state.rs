//! The seams of the alert path: [`StateStore`], where alert windows, pending summaries and
//! rate-limit buckets live (DynamoDB when a table is configured, memory otherwise), and
//! [`Publish`], where alert messages go (SNS, or a local file). Both are traits so that the
//! planning in [`crate::alert`] stays pure and is tested against the in-memory versions here.

use crate::sink::SendError;
use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;
use std::time::Instant;

/// One stored item: a JSON text and the version it was written at (1 for the first write).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Versioned {
    /// The state, as JSON text.
    pub value: String,
    /// Incremented by every successful [`StateStore::put`].
    pub version: u64,
}

/// A small versioned key-value store with conditional writes: the whole of what concurrent
/// invocations need to share windows and counters safely (optimistic concurrency: read,
/// compute, write if nobody wrote in between, else read again).
///
/// The DynamoDB implementation (`cwlogs-aws`, feature `dynamodb`) maps a key to an item
/// (`pk`), the version to a number attribute checked in a `ConditionExpression`, and
/// `expires_at` to the table's TTL attribute. [`MemoryStateStore`] is the per-container
/// fallback when no table is configured.
pub trait StateStore: Send + Sync {
    /// The item at `key`, read consistently; `None` when there is none (or it expired).
    fn get(
        &self,
        key: &str,
        deadline: Option<Instant>,
    ) -> impl Future<Output = Result<Option<Versioned>, SendError>> + Send;

    /// Writes `value` at `key` with version `expected + 1` (`1` when `expected` is `None`),
    /// only if the stored version is still `expected` (`None`: only if there is no item).
    /// Returns `Ok(false)` when the condition failed: someone else wrote first. `expires_at`
    /// (seconds since the epoch) is when the store may forget the item.
    fn put(
        &self,
        key: &str,
        value: &str,
        expected: Option<u64>,
        expires_at: i64,
        deadline: Option<Instant>,
    ) -> impl Future<Output = Result<bool, SendError>> + Send;
}

/// A [`StateStore`] in memory: state shared by the invocations of one container (or one
/// `cwlogs replay` run), not across containers. Expiry is not enforced (a container's life
/// is short); the contents can be inspected in tests.
#[derive(Debug, Default)]
pub struct MemoryStateStore {
    items: Mutex<HashMap<String, Versioned>>,
}

impl MemoryStateStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// A copy of every item, for tests.
    pub fn items(&self) -> HashMap<String, Versioned> {
        self.items.lock().map(|m| m.clone()).unwrap_or_default()
    }
}

impl StateStore for MemoryStateStore {
    async fn get(
        &self,
        key: &str,
        _deadline: Option<Instant>,
    ) -> Result<Option<Versioned>, SendError> {
        Ok(self.items.lock().ok().and_then(|m| m.get(key).cloned()))
    }

    async fn put(
        &self,
        key: &str,
        value: &str,
        expected: Option<u64>,
        _expires_at: i64,
        _deadline: Option<Instant>,
    ) -> Result<bool, SendError> {
        let Ok(mut items) = self.items.lock() else {
            return Ok(false);
        };
        let current = items.get(key).map(|v| v.version);
        if current != expected {
            return Ok(false);
        }
        items.insert(
            key.to_string(),
            Versioned {
                value: value.to_string(),
                version: expected.unwrap_or(0) + 1,
            },
        );
        Ok(true)
    }
}

/// One SNS message, complete: everything `Publish` needs, and what `cwlogs replay` writes
/// to `alerts.ndjson`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AlertMessage {
    /// The topic ARN.
    pub topic: String,
    /// `Subject` (email subscriptions): at most 100 ASCII characters, no line breaks.
    pub subject: String,
    /// The body: JSON text, at most [`crate::alert::MAX_MESSAGE_BYTES`].
    pub message: String,
    /// String message attributes for subscription filter policies: `rule`, `log_group`,
    /// `account`, `region`, `severity`, `kind`.
    pub attributes: Vec<(String, String)>,
    /// `MessageGroupId` (FIFO topics only).
    pub group_id: Option<String>,
    /// The deterministic dedup id; sent as `MessageDeduplicationId` to FIFO topics.
    pub dedup_id: String,
}

impl AlertMessage {
    /// Whether the topic is a FIFO topic (its name ends in `.fifo`).
    pub fn is_fifo(&self) -> bool {
        self.topic.ends_with(".fifo")
    }
}

/// Where alert messages go. Retries retryable failures until `deadline`; the error is the
/// last attempt's ([`SendError::class`] says whether it could ever succeed).
pub trait Publish: Send + Sync {
    /// Publishes `message`; returns the message id the service gave it.
    fn publish(
        &self,
        message: &AlertMessage,
        deadline: Option<Instant>,
    ) -> impl Future<Output = Result<String, SendError>> + Send;
}

/// Keeps published messages in memory, for tests; can be told to fail messages whose
/// subject or body contains a text.
#[derive(Debug, Default)]
pub struct MemoryPublisher {
    sent: Mutex<Vec<AlertMessage>>,
    failures: Mutex<Vec<(String, SendError)>>,
}

impl MemoryPublisher {
    /// No messages yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Fails every message whose subject or body contains `needle` with `error`.
    pub fn fail_containing(&self, needle: &str, error: SendError) {
        if let Ok(mut f) = self.failures.lock() {
            f.push((needle.to_string(), error));
        }
    }

    /// Every message published, in order.
    pub fn sent(&self) -> Vec<AlertMessage> {
        self.sent.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

impl Publish for MemoryPublisher {
    async fn publish(
        &self,
        message: &AlertMessage,
        _deadline: Option<Instant>,
    ) -> Result<String, SendError> {
        if let Ok(failures) = self.failures.lock()
            && let Some((_, e)) = failures
                .iter()
                .find(|(n, _)| message.subject.contains(n) || message.message.contains(n))
        {
            return Err(e.clone());
        }
        let mut sent = self.sent.lock().map_err(|_| SendError {
            class: crate::Class::Reject,
            message: "publisher lock poisoned".into(),
        })?;
        sent.push(message.clone());
        Ok(format!("memory-{}", sent.len()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditional_writes() {
        let s = MemoryStateStore::new();
        assert_eq!(crate::block_on(s.get("k", None)).expect("get"), None);
        assert!(crate::block_on(s.put("k", "a", None, 0, None)).expect("put"));
        assert!(
            !crate::block_on(s.put("k", "b", None, 0, None)).expect("put"),
            "exists"
        );
        assert!(
            !crate::block_on(s.put("k", "b", Some(7), 0, None)).expect("put"),
            "stale"
        );
        assert!(crate::block_on(s.put("k", "b", Some(1), 0, None)).expect("put"));
        let v = crate::block_on(s.get("k", None))
            .expect("get")
            .expect("item");
        assert_eq!((v.value.as_str(), v.version), ("b", 2));
    }
}
