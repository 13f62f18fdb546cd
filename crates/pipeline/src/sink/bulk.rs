//! The `_bulk` seam: one POST to a cluster, and the runtime's timer. The HTTP client lives in
//! `cwlogs-aws`; [`crate::sink::MemoryIndex`] is an in-memory cluster for tests.

#[cfg(doc)]
use crate::sink::Class;
use crate::sink::SendError;
use std::future::Future;
use std::time::{Duration, Instant};

/// The largest response body read from a cluster, in bytes. A `_bulk` answer is ~150 bytes per
/// item; this is far above what a 100 MB request gets back.
pub const MAX_RESPONSE_BYTES: usize = 64 << 20;

/// The status and body of one `_bulk` answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// The body (JSON for the cluster's own answers; anything from proxies in front of it).
    pub body: Vec<u8>,
}

/// The HTTP seam: one `_bulk` POST, and the runtime's timer and clock (so that what time
/// decides can be tested without waiting).
pub trait BulkTransport: Send + Sync {
    /// Posts one `_bulk` body (NDJSON, gzip-compressed when `gzip`) and returns the answer,
    /// whatever its status. An error means there was no answer: a connection failure or a
    /// timeout ([`Class::Retry`]), or a request that cannot be made at all ([`Class::Reject`],
    /// e.g. no credentials). The attempt must end by `deadline`.
    fn post_bulk(
        &self,
        body: Vec<u8>,
        gzip: bool,
        deadline: Option<Instant>,
    ) -> impl Future<Output = Result<Reply, SendError>> + Send;

    /// Waits `delay` before the next attempt.
    fn sleep(&self, delay: Duration) -> impl Future<Output = ()> + Send;

    /// The time now, for deadlines: whether another attempt fits before one.
    fn now(&self) -> Instant {
        Instant::now()
    }
}
