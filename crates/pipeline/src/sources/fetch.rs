//! The seam objects are read through: [`ObjectSource`] (S3 in `cwlogs-aws`,
//! [`MemoryObjects`] here), what a read can fail with ([`GetError`]), and an in-memory double
//! with faults for the tests.

use super::notification::ObjectRef;
use std::collections::BTreeMap;
use std::future::Future;
use std::io::{self, Read};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Why an object could not be opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GetErrorKind {
    /// Throttling, 5xx, timeouts, connection errors: try again.
    Retry,
    /// The object (or the version named) no longer exists: nothing will ever be read.
    Gone,
    /// The object changed since the notification (its ETag no longer matches and the bucket
    /// keeps no versions): the new object has a notification of its own.
    Changed,
    /// Refused for now and for good as sent (access denied, a KMS key, an archived object):
    /// the cause can be fixed, then the object read again.
    Refused,
    /// Larger than `[sources.s3] max_object_bytes`.
    TooLarge,
}

impl GetErrorKind {
    /// The dead letter's stage: `s3-get`, `s3-gone`, `s3-changed`, `size`.
    pub fn stage(self) -> &'static str {
        match self {
            GetErrorKind::Retry | GetErrorKind::Refused => "s3-get",
            GetErrorKind::Gone => "s3-gone",
            GetErrorKind::Changed => "s3-changed",
            GetErrorKind::TooLarge => "size",
        }
    }
}

/// An object that could not be opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct GetError {
    /// What happened.
    pub kind: GetErrorKind,
    /// For humans: the operation, the object, the service's answer.
    pub message: String,
}

/// Where objects are read from. The body is read on a blocking thread, as a stream.
pub trait ObjectSource: Send + Sync {
    /// An object's body.
    type Body: Read + Send + 'static;

    /// Opens `object` (the version it names, else only while it has the ETag it names),
    /// retrying retryable failures until `deadline`; the body's reads stop at `deadline` too
    /// (with a [`super::BodyError`]).
    fn get(
        &self,
        object: &ObjectRef,
        deadline: Option<Instant>,
    ) -> impl Future<Output = Result<Self::Body, GetError>> + Send;
}

/// No objects at all: a handler built without an S3 reader answers every notification with
/// this refusal (so that its notifications are dead letters, not lost).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoObjects;

impl ObjectSource for NoObjects {
    type Body = io::Empty;

    async fn get(&self, object: &ObjectRef, _: Option<Instant>) -> Result<io::Empty, GetError> {
        Err(GetError {
            kind: GetErrorKind::Refused,
            message: format!(
                "{}: this function has no S3 reader (give the handler one with `with_objects`)",
                object.url()
            ),
        })
    }
}

/// A stored object of [`MemoryObjects`].
#[derive(Debug, Clone)]
struct Stored {
    body: Vec<u8>,
    etag: String,
    version: u64,
}

/// What [`MemoryObjects`] does to the next gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObjectFault {
    /// The open fails with this.
    Fail(GetError),
    /// The body breaks (a retryable read error) after this many bytes.
    BreakAfter(usize),
}

/// Objects in memory, versioned, with faults on request: for tests.
#[derive(Debug, Clone, Default)]
pub struct MemoryObjects {
    inner: Arc<Mutex<MemoryInner>>,
}

#[derive(Debug, Default)]
struct MemoryInner {
    /// (bucket, key) -> versions, oldest first; `None` a delete marker.
    objects: BTreeMap<(String, String), Vec<Option<Stored>>>,
    faults: Vec<ObjectFault>,
    gets: usize,
}

impl MemoryObjects {
    /// No objects.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, MemoryInner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Writes a new version of `bucket`/`key`; returns its [`ObjectRef`] as a notification
    /// names it (version id and ETag).
    pub fn put(&self, bucket: &str, key: &str, body: Vec<u8>) -> ObjectRef {
        let mut inner = self.lock();
        let versions = inner
            .objects
            .entry((bucket.to_string(), key.to_string()))
            .or_default();
        let version = versions.len() as u64 + 1;
        let etag = crate::util::hash::short_hash(&body);
        let size = body.len() as u64;
        versions.push(Some(Stored {
            body,
            etag: etag.clone(),
            version,
        }));
        ObjectRef {
            bucket: bucket.to_string(),
            key: key.to_string(),
            version_id: Some(format!("v{version}")),
            etag: Some(etag),
            size: Some(size),
        }
    }

    /// Deletes `bucket`/`key` (every version).
    pub fn delete(&self, bucket: &str, key: &str) {
        self.lock()
            .objects
            .remove(&(bucket.to_string(), key.to_string()));
    }

    /// Queues faults for the next gets, one each, in order.
    pub fn fault(&self, faults: impl IntoIterator<Item = ObjectFault>) {
        self.lock().faults.extend(faults);
    }

    /// Gets so far.
    pub fn gets(&self) -> usize {
        self.lock().gets
    }
}

/// A body that breaks after some bytes.
#[derive(Debug)]
pub struct MemoryBody {
    body: io::Cursor<Vec<u8>>,
    break_after: Option<usize>,
}

impl Read for MemoryBody {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let at = self.body.position() as usize;
        if let Some(limit) = self.break_after {
            if at >= limit {
                return Err(io::Error::other(super::BodyError(
                    "connection reset while reading the body".into(),
                )));
            }
            let n = buf.len().min(limit - at);
            return self.body.read(&mut buf[..n]);
        }
        self.body.read(buf)
    }
}

impl ObjectSource for MemoryObjects {
    type Body = MemoryBody;

    async fn get(&self, object: &ObjectRef, _: Option<Instant>) -> Result<MemoryBody, GetError> {
        let mut inner = self.lock();
        inner.gets += 1;
        let fault = (!inner.faults.is_empty()).then(|| inner.faults.remove(0));
        let mut break_after = None;
        match fault {
            Some(ObjectFault::Fail(e)) => return Err(e),
            Some(ObjectFault::BreakAfter(n)) => break_after = Some(n),
            None => {}
        }
        let gone = |what: &str| GetError {
            kind: GetErrorKind::Gone,
            message: format!("{}: {what}", object.url()),
        };
        let versions = inner
            .objects
            .get(&(object.bucket.clone(), object.key.clone()))
            .ok_or_else(|| gone("NoSuchKey"))?;
        let stored = match &object.version_id {
            Some(v) => versions
                .iter()
                .flatten()
                .find(|s| format!("v{}", s.version) == *v)
                .ok_or_else(|| gone("NoSuchVersion"))?,
            None => {
                let latest = versions
                    .last()
                    .and_then(Option::as_ref)
                    .ok_or_else(|| gone("NoSuchKey"))?;
                if object.etag.as_ref().is_some_and(|e| *e != latest.etag) {
                    return Err(GetError {
                        kind: GetErrorKind::Changed,
                        message: format!("{}: PreconditionFailed", object.url()),
                    });
                }
                latest
            }
        };
        Ok(MemoryBody {
            body: io::Cursor::new(stored.body.clone()),
            break_after,
        })
    }
}
