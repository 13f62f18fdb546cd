//! The seams between building and sending, one trait per kind of destination, and what every
//! send shares:
//!
//! | seam | what | implementations |
//! | --- | --- | --- |
//! | [`Archive`] | objects and dead letters | S3 (`cwlogs-aws`), a directory (CLI), [`MemoryArchive`] |
//! | [`BulkTransport`] | one `_bulk` POST | OpenSearch (`cwlogs-aws`), [`MemoryIndex`] |
//! | [`StateStore`] | alert windows, pending summaries, rate buckets | DynamoDB (`cwlogs-aws`), [`MemoryStateStore`] |
//! | [`Publish`] | alert messages | SNS (`cwlogs-aws`), a file (CLI), [`MemoryPublisher`] |
//!
//! Every send ends in a [`Class`] (done, retry, dead letter); [`classify`] decides it for AWS
//! services' errors from one table per service; [`Backoff`] spaces the retries; [`dead_letter`]
//! is what is kept of what could not be delivered.
//!
//! A new destination is a trait here (when none of these fits), its I/O implementation in
//! `cwlogs-aws` or the CLI, its pure request builder in a module of its own beside
//! the index builders (the `index` module), and its handler in `cwlogs-lambda`.

mod bulk;
pub mod classify;
pub mod dead_letter;
mod memory;
pub mod redrive;
mod state;

pub use bulk::{BulkTransport, MAX_RESPONSE_BYTES, Reply};
pub use dead_letter::{DeadLetter, Occurrence, is_error_file, put_dead_letter, refused_name};
pub use memory::{
    Fault, MemoryArchive, MemoryIndex, MemoryPublisher, MemoryStateStore, StoredDoc, StoredObject,
};
pub use state::{AlertMessage, Publish, StateStore, StateWrite, Versioned};

use std::future::Future;
use std::time::{Duration, Instant};

/// No request starts with less than this left before the deadline: a shorter attempt would
/// only time out, and what is left is for the dead letters and the answer.
pub const MIN_ATTEMPT: Duration = Duration::from_millis(250);

/// How one attempt to send something ended .
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Written; nothing more to do.
    Done,
    /// Failed for now (throttling, 5xx, timeouts, connection errors): try again while the
    /// deadline allows.
    Retry,
    /// Will never succeed as sent (access denied, missing bucket, bad request): dead-letter it.
    Reject,
}

/// Why a send did not end in [`Class::Done`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SendError {
    /// [`Class::Retry`] or [`Class::Reject`].
    pub class: Class,
    /// What went wrong, for humans: the service's error code and message, and what to check.
    pub message: String,
}

impl SendError {
    /// Whether trying again later could succeed.
    pub fn is_retryable(&self) -> bool {
        self.class == Class::Retry
    }
}

/// One object to write: key, bytes and how to label them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Object<'a> {
    /// The key under the bucket (or directory) root.
    pub key: &'a str,
    /// The bytes, exactly as they are to be stored.
    pub body: &'a [u8],
    /// `Content-Type`.
    pub content_type: &'static str,
    /// `Content-Encoding`, when the body is compressed for transfer (`gzip`).
    pub content_encoding: Option<&'static str>,
}

/// Where archive objects and dead letters are written. Writes overwrite: writing the same
/// object twice leaves one object, which is what makes redelivery harmless.
///
/// Listing, reading and deleting are for dead letters that re-drive themselves
/// ([`redrive`]); an archive that cannot do them refuses (the defaults).
pub trait Archive: Send + Sync {
    /// Writes `object`, retrying retryable failures until `deadline` (if any) is near. The
    /// error is the last attempt's.
    fn put(
        &self,
        object: Object<'_>,
        deadline: Option<Instant>,
    ) -> impl Future<Output = Result<(), SendError>> + Send;

    /// The keys under `prefix`, in key order, at most `max`, with their last-modified times.
    fn list(
        &self,
        prefix: &str,
        max: usize,
        deadline: Option<Instant>,
    ) -> impl Future<Output = Result<Vec<Listed>, SendError>> + Send {
        let _ = (prefix, max, deadline);
        std::future::ready(Err(unsupported("list")))
    }

    /// The bytes of `key`.
    fn get(
        &self,
        key: &str,
        deadline: Option<Instant>,
    ) -> impl Future<Output = Result<Vec<u8>, SendError>> + Send {
        let _ = (key, deadline);
        std::future::ready(Err(unsupported("read")))
    }

    /// Deletes `key` (a missing key is no error).
    fn delete(
        &self,
        key: &str,
        deadline: Option<Instant>,
    ) -> impl Future<Output = Result<(), SendError>> + Send {
        let _ = (key, deadline);
        std::future::ready(Err(unsupported("delete")))
    }
}

/// One key a listing found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    /// The key.
    pub key: String,
    /// When it was last written, milliseconds since the epoch.
    pub last_modified_ms: i64,
}

fn unsupported(what: &str) -> SendError {
    SendError {
        class: Class::Reject,
        message: format!("this archive cannot {what} objects"),
    }
}

/// The retry schedule: exponential backoff with full jitter (the delay is uniform in
/// `[0, min(cap, base * 2^attempt)]`), so that many functions throttled at once spread out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The first delay's upper bound.
    pub base: Duration,
    /// The largest delay.
    pub cap: Duration,
    /// Attempts in all (the first one included).
    pub max_attempts: u32,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            base: Duration::from_millis(100),
            cap: Duration::from_secs(5),
            max_attempts: 8,
        }
    }
}

impl Backoff {
    /// The delay before retry number `attempt` (1-based), given a uniformly random `random`.
    pub fn delay(&self, attempt: u32, random: u64) -> Duration {
        let ceiling = self
            .base
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(20))
            .min(self.cap);
        let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(if nanos == 0 { 0 } else { random % (nanos + 1) })
    }

    /// Whether to try again after `attempt` attempts failed with `error`, the next one
    /// starting after `delay`: only retryable errors, within the attempt budget, and only when
    /// `reserve` would still be left before `deadline` after waiting.
    pub fn should_retry(
        &self,
        error: &SendError,
        attempt: u32,
        delay: Duration,
        now: Instant,
        deadline: Option<Instant>,
        reserve: Duration,
    ) -> bool {
        error.is_retryable()
            && attempt < self.max_attempts
            && deadline.is_none_or(|d| now + delay + reserve < d)
    }
}

/// A random number for retry jitter: the standard library's per-process random hash keys,
/// fresh for every call. Jitter needs spread, not cryptographic quality.
pub fn jitter() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(Instant::now().elapsed().as_nanos());
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_to_the_cap_with_jitter() {
        let b = Backoff::default();
        assert_eq!(b.delay(1, 0), Duration::ZERO);
        assert_eq!(
            b.delay(1, u64::MAX),
            Duration::from_nanos(u64::MAX % 100_000_001)
        );
        assert!(b.delay(3, u64::MAX - 7) <= Duration::from_millis(400));
        assert!(b.delay(30, 12_345_678_901) <= b.cap);
        let zero = Backoff {
            base: Duration::ZERO,
            ..b
        };
        assert_eq!(zero.delay(5, 99), Duration::ZERO);
    }

    #[test]
    fn retry_stops_at_the_deadline_and_the_budget() {
        let b = Backoff::default();
        let retry = SendError {
            class: Class::Retry,
            message: "503".into(),
        };
        let reject = SendError {
            class: Class::Reject,
            message: "403".into(),
        };
        let now = Instant::now();
        let reserve = Duration::from_secs(1);
        let soon = Some(now + Duration::from_millis(1500));
        let d = Duration::from_millis(100);
        assert!(b.should_retry(&retry, 1, d, now, soon, reserve));
        assert!(!b.should_retry(&retry, 1, Duration::from_millis(600), now, soon, reserve));
        assert!(!b.should_retry(&reject, 1, d, now, None, reserve));
        assert!(!b.should_retry(&retry, b.max_attempts, d, now, None, reserve));
        assert!(b.should_retry(&retry, 2, d, now, None, reserve));
    }

    #[test]
    fn memory_archive_overwrites_and_fails_on_request() {
        let a = MemoryArchive::new();
        let obj = Object {
            key: "a/b",
            body: b"x",
            content_type: "text/plain",
            content_encoding: None,
        };
        // `put` returns a ready future: poll it by hand, no runtime needed.
        let put = |o| futures_ready(a.put(o, None));
        assert_eq!(put(obj), Ok(()));
        assert_eq!(put(obj), Ok(()));
        assert_eq!(a.objects()["a/b"].writes, 2);
        a.fail_keys(
            "/b",
            SendError {
                class: Class::Reject,
                message: "no".into(),
            },
        );
        assert!(put(obj).is_err());
        assert_eq!(a.len(), 1);
    }

    /// Polls a future that is ready on its first poll.
    fn futures_ready<F: Future>(f: F) -> F::Output {
        let mut f = std::pin::pin!(f);
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        match f.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(v) => v,
            std::task::Poll::Pending => panic!("MemoryArchive futures are always ready"),
        }
    }
}
