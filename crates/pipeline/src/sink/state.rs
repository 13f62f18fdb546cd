//! The seams of the alert path: [`StateStore`], where alert windows, pending summaries and
//! rate-limit buckets live (DynamoDB when a table is configured, memory otherwise), and
//! [`Publish`], where alert messages go (SNS, or a local file). Both are traits so that the
//! planning of the alerts (the `rules::alert` module) stays pure and is tested against the in-memory versions in
//! [`crate::sink::MemoryStateStore`] and [`crate::sink::MemoryPublisher`].

use crate::sink::SendError;
use std::future::Future;
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
/// `expires_at` to the table's TTL attribute. [`crate::sink::MemoryStateStore`] is the per-container
/// fallback when no table is configured.
pub trait StateStore: Send + Sync {
    /// The item at `key`, read consistently; `None` when there is none (or it expired).
    fn get(
        &self,
        key: &str,
        deadline: Option<Instant>,
    ) -> impl Future<Output = Result<Option<Versioned>, SendError>> + Send;

    /// Makes `write` if its condition holds. Returns `Ok(false)` when the condition failed:
    /// someone else wrote first.
    fn put(
        &self,
        write: StateWrite<'_>,
        deadline: Option<Instant>,
    ) -> impl Future<Output = Result<bool, SendError>> + Send;

    /// One read-modify-write of `key` on the value itself, for a store in this process's
    /// memory: `f` gets the current value (`None`: no item, or one that is not a `T`), changes
    /// it in place and says whether it did (it must leave it as it was when it says no), under
    /// the store's lock, so nobody can write in between. Nothing is serialised or copied: the
    /// alert path's windows hold sample events and its pending lists up to a thousand window
    /// keys, and writing them out as JSON and reading them back on every update was most of
    /// its cost in `cwlogs replay` and in a container without a table.
    ///
    /// Returns `None` when the store has no such path (the default: a remote store); the
    /// caller then reads and writes JSON text with [`StateStore::get`] and
    /// [`StateStore::put`]. A store in memory keeps no expiry, so none is given here.
    fn update_value<T, R>(
        &self,
        key: &str,
        f: &mut dyn FnMut(&mut Option<T>) -> (bool, R),
    ) -> Option<R>
    where
        T: serde::Serialize + serde::de::DeserializeOwned + Send + Sync + 'static,
    {
        let _ = (key, f);
        None
    }
}

/// One conditional write of a [`StateStore`]: `value` at `key` with version `expected + 1`
/// (`1` when `expected` is `None`), only if the stored version is still `expected` (`None`:
/// only if there is no item). `expires_at` (seconds since the epoch) is when the store may
/// forget the item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StateWrite<'a> {
    /// The item's key.
    pub key: &'a str,
    /// The new value (JSON text).
    pub value: &'a str,
    /// The version the item must still have (`None`: there must be no item).
    pub expected: Option<u64>,
    /// When the store may forget the item, in seconds since the epoch.
    pub expires_at: i64,
}

impl<'a> StateWrite<'a> {
    /// The write of `value` at `key`, conditional on `expected`, expiring at `expires_at`.
    pub const fn new(key: &'a str, value: &'a str, expected: Option<u64>, expires_at: i64) -> Self {
        StateWrite {
            key,
            value,
            expected,
            expires_at,
        }
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
    /// The body: JSON text, at most 256 KB (SNS's limit, which the alert builder keeps to).
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
