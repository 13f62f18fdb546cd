//! The S3 archive sink and the S3 reader.

use crate::error::send_error;
use crate::retry::with_retry;
use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ChecksumAlgorithm, ServerSideEncryption};
use cwlogs_pipeline::sink::classify::Service;
use cwlogs_pipeline::sources::{BodyError, GetError, GetErrorKind, ObjectRef, ObjectSource};
use cwlogs_pipeline::{Archive, Backoff, Class, Listed, Object, SendError};
use std::fmt;
use std::io::{self, Read};
use std::sync::Mutex;
use std::time::Instant;

/// The most keys one listing returns; a prefix with more is refused with a clear error
/// (narrow the prefix) rather than read for hours.
pub const MAX_LISTED_KEYS: usize = 1_000_000;

/// An `s3://bucket/prefix` location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Url {
    /// The bucket.
    pub bucket: String,
    /// The key or key prefix, without a leading `/` (may be empty).
    pub key: String,
}

impl S3Url {
    /// Parses `s3://bucket[/key]`; `None` for anything else.
    pub fn parse(text: &str) -> Option<S3Url> {
        let rest = text.strip_prefix("s3://")?;
        let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
        let valid = (3..=63).contains(&bucket.len())
            && bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-');
        valid.then(|| S3Url {
            bucket: bucket.to_string(),
            key: key.to_string(),
        })
    }
}

impl fmt::Display for S3Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.key)
    }
}

/// Writes archive objects and dead letters to one bucket.
#[derive(Debug, Clone)]
pub struct S3Archive {
    client: Client,
    bucket: String,
    kms_key_id: Option<String>,
    backoff: Backoff,
}

impl S3Archive {
    /// A sink writing to `bucket`, with SSE-KMS under `kms_key_id` when given (and an S3
    /// Bucket Key, which cuts KMS requests), else SSE-S3.
    pub fn new(sdk: &aws_config::SdkConfig, bucket: &str, kms_key_id: Option<&str>) -> Self {
        S3Archive {
            client: s3_client(sdk),
            bucket: bucket.to_string(),
            kms_key_id: kms_key_id.map(String::from),
            backoff: Backoff::default(),
        }
    }

    /// The same sink with another retry schedule.
    pub fn with_backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// The bucket written to.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    async fn put_once(&self, object: Object<'_>) -> Result<(), SendError> {
        let mut req = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(object.key)
            .content_type(object.content_type)
            .checksum_algorithm(ChecksumAlgorithm::Crc32C)
            .body(ByteStream::from(object.body.to_vec()));
        if let Some(enc) = object.content_encoding {
            req = req.content_encoding(enc);
        }
        req = match &self.kms_key_id {
            Some(key) => req
                .server_side_encryption(ServerSideEncryption::AwsKms)
                .ssekms_key_id(key)
                .bucket_key_enabled(true),
            None => req.server_side_encryption(ServerSideEncryption::Aes256),
        };
        req.send().await.map(drop).map_err(|e| {
            send_error(
                Service::S3,
                "PutObject",
                &format!("s3://{}/{}", self.bucket, object.key),
                &e,
            )
        })
    }
}

impl Archive for S3Archive {
    async fn put(&self, object: Object<'_>, deadline: Option<Instant>) -> Result<(), SendError> {
        with_retry(&self.backoff, deadline, || self.put_once(object)).await
    }

    async fn list(
        &self,
        prefix: &str,
        max: usize,
        deadline: Option<Instant>,
    ) -> Result<Vec<Listed>, SendError> {
        let target = format!("s3://{}/{prefix}", self.bucket);
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        while out.len() < max {
            let page = with_retry(&self.backoff, deadline, || {
                let req = self
                    .client
                    .list_objects_v2()
                    .bucket(&self.bucket)
                    .prefix(prefix)
                    .set_continuation_token(token.clone());
                let target = &target;
                async move {
                    req.send()
                        .await
                        .map_err(|e| send_error(Service::S3, "ListObjectsV2", target, &e))
                }
            })
            .await?;
            for o in page.contents() {
                if let Some(k) = o.key() {
                    out.push(Listed {
                        key: k.to_string(),
                        last_modified_ms: o
                            .last_modified()
                            .and_then(|t| t.to_millis().ok())
                            .unwrap_or(0),
                    });
                }
            }
            match page.next_continuation_token() {
                Some(t) if page.is_truncated() == Some(true) => token = Some(t.to_string()),
                _ => break,
            }
        }
        out.truncate(max);
        Ok(out)
    }

    async fn get(&self, key: &str, deadline: Option<Instant>) -> Result<Vec<u8>, SendError> {
        let target = format!("s3://{}/{key}", self.bucket);
        with_retry(&self.backoff, deadline, || async {
            let out = self
                .client
                .get_object()
                .bucket(&self.bucket)
                .key(key)
                .send()
                .await
                .map_err(|e| send_error(Service::S3, "GetObject", &target, &e))?;
            out.body
                .collect()
                .await
                .map(|b| b.into_bytes().to_vec())
                .map_err(|e| SendError {
                    class: Class::Retry,
                    message: format!("S3 GetObject {target}: reading the body: {e}"),
                })
        })
        .await
    }

    async fn delete(&self, key: &str, deadline: Option<Instant>) -> Result<(), SendError> {
        let target = format!("s3://{}/{key}", self.bucket);
        with_retry(&self.backoff, deadline, || async {
            self.client
                .delete_object()
                .bucket(&self.bucket)
                .key(key)
                .send()
                .await
                .map(drop)
                .map_err(|e| send_error(Service::S3, "DeleteObject", &target, &e))
        })
        .await
    }
}

/// The S3 client for `sdk`: path-style addressing when an endpoint override is set (local
/// S3-compatible servers are reached by address, not by bucket subdomain).
fn s3_client(sdk: &aws_config::SdkConfig) -> Client {
    let conf = aws_sdk_s3::config::Builder::from(sdk)
        .force_path_style(sdk.endpoint_url().is_some() || s3_endpoint_override(sdk).is_some())
        .build();
    Client::from_conf(conf)
}

/// The S3-only endpoint override (`AWS_ENDPOINT_URL_S3`, or `endpoint_url` in the profile's
/// `services` section), which the S3 config builder takes from `sdk` but `sdk.endpoint_url()`
/// does not show. Looked up with the same key the SDK's own builder uses.
fn s3_endpoint_override(sdk: &aws_config::SdkConfig) -> Option<String> {
    let key = aws_types::service_config::ServiceConfigKey::builder()
        .service_id("S3")
        .env("AWS_ENDPOINT_URL")
        .profile("endpoint_url")
        .build()
        .ok()?;
    sdk.service_config()?.load_config(key)
}

/// Lists and reads objects: for replaying an archive (or its dead letters), and, as an
/// [`ObjectSource`], the objects S3 notifications name (streamed).
#[derive(Debug, Clone)]
pub struct S3Source {
    client: Client,
    backoff: Backoff,
    max_object_bytes: Option<u64>,
}

impl S3Source {
    /// A reader on `sdk`'s configuration.
    pub fn new(sdk: &aws_config::SdkConfig) -> Self {
        S3Source {
            client: s3_client(sdk),
            backoff: Backoff::default(),
            max_object_bytes: None,
        }
    }

    /// The same reader refusing, as an [`ObjectSource`], objects larger than `max` bytes
    /// (`[sources.s3] max_object_bytes`) before reading them.
    pub fn with_max_object_bytes(mut self, max: u64) -> Self {
        self.max_object_bytes = Some(max);
        self
    }

    /// The same reader with another retry schedule.
    pub fn with_backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// The keys and sizes under `url` (a prefix, or one exact key), in key order.
    pub async fn list(&self, url: &S3Url) -> Result<Vec<(String, u64)>, SendError> {
        let mut keys = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = with_retry(&self.backoff, None, || {
                let req = self
                    .client
                    .list_objects_v2()
                    .bucket(&url.bucket)
                    .prefix(&url.key)
                    .set_continuation_token(token.clone());
                async move {
                    req.send()
                        .await
                        .map_err(|e| send_error(Service::S3, "ListObjectsV2", &url.to_string(), &e))
                }
            })
            .await?;
            for o in page.contents() {
                if let Some(k) = o.key() {
                    keys.push((k.to_string(), o.size().unwrap_or(0).max(0) as u64));
                }
            }
            if keys.len() > MAX_LISTED_KEYS {
                return Err(SendError {
                    class: Class::Reject,
                    message: format!(
                        "{url} holds more than {MAX_LISTED_KEYS} objects; replay a narrower prefix"
                    ),
                });
            }
            match page.next_continuation_token() {
                Some(t) if page.is_truncated() == Some(true) => token = Some(t.to_string()),
                _ => break,
            }
        }
        keys.sort();
        Ok(keys)
    }

    /// Reads one object, refusing more than `max_bytes`.
    pub async fn get(&self, bucket: &str, key: &str, max_bytes: u64) -> Result<Vec<u8>, SendError> {
        let target = format!("s3://{bucket}/{key}");
        with_retry(&self.backoff, None, || async {
            let out = self
                .client
                .get_object()
                .bucket(bucket)
                .key(key)
                .send()
                .await
                .map_err(|e| send_error(Service::S3, "GetObject", &target, &e))?;
            let too_big = || SendError {
                class: Class::Reject,
                message: format!("{target} is larger than {max_bytes} bytes"),
            };
            if out.content_length().unwrap_or(0).max(0) as u64 > max_bytes {
                return Err(too_big());
            }
            let mut body = out.body;
            let mut bytes = Vec::new();
            loop {
                match body.try_next().await {
                    Ok(Some(chunk)) => {
                        if (bytes.len() + chunk.len()) as u64 > max_bytes {
                            return Err(too_big());
                        }
                        bytes.extend_from_slice(&chunk);
                    }
                    Ok(None) => return Ok(bytes),
                    Err(e) => {
                        return Err(SendError {
                            class: Class::Retry,
                            message: format!("S3 GetObject {target}: reading the body: {e}"),
                        });
                    }
                }
            }
        })
        .await
    }
}

impl ObjectSource for S3Source {
    type Body = S3Body;

    /// `GetObject` of the version the notification names (`versionId`), else conditional on
    /// its ETag (`If-Match`): a changed object fails with [`GetErrorKind::Changed`], a deleted
    /// one (or version) with [`GetErrorKind::Gone`]. Retried while retryable, until `deadline`.
    async fn get(&self, object: &ObjectRef, deadline: Option<Instant>) -> Result<S3Body, GetError> {
        let target = object.url();
        let kind = Mutex::new(GetErrorKind::Refused);
        let out = with_retry(&self.backoff, deadline, || {
            let mut req = self
                .client
                .get_object()
                .bucket(&object.bucket)
                .key(&object.key);
            match (&object.version_id, &object.etag) {
                (Some(v), _) => req = req.version_id(v),
                (None, Some(e)) if e.starts_with('"') => req = req.if_match(e),
                (None, Some(e)) => req = req.if_match(format!("\"{e}\"")),
                (None, None) => {}
            }
            let (target, kind) = (&target, &kind);
            async move {
                req.send().await.map_err(|e| {
                    let status = e.raw_response().map(|r| r.status().as_u16());
                    let code = aws_smithy_types::error::metadata::ProvideErrorMetadata::code(&e);
                    let k = match (code, status) {
                        (Some("NoSuchKey" | "NoSuchVersion"), _) | (None, Some(404)) => {
                            GetErrorKind::Gone
                        }
                        (Some("PreconditionFailed"), _) | (_, Some(412)) => GetErrorKind::Changed,
                        _ => GetErrorKind::Refused,
                    };
                    if let Ok(mut slot) = kind.lock() {
                        *slot = k;
                    }
                    send_error(Service::S3, "GetObject", target, &e)
                })
            }
        })
        .await
        .map_err(|e| GetError {
            kind: if e.is_retryable() {
                GetErrorKind::Retry
            } else {
                kind.lock().map_or(GetErrorKind::Refused, |k| *k)
            },
            message: e.message,
        })?;
        let length = out.content_length().unwrap_or(0).max(0) as u64;
        if let Some(max) = self.max_object_bytes.filter(|&m| length > m) {
            return Err(GetError {
                kind: GetErrorKind::TooLarge,
                message: format!(
                    "{target}: {length} bytes, over [sources.s3] max_object_bytes ({max})"
                ),
            });
        }
        Ok(S3Body {
            stream: out.body,
            handle: tokio::runtime::Handle::current(),
            chunk: Vec::new(),
            at: 0,
            done: false,
            deadline,
            target,
        })
    }
}

/// The body of an object being read, for a blocking thread (`spawn_blocking`): each chunk is
/// waited for on the runtime it was opened on, at most until the deadline; a body that breaks
/// or stalls fails with a [`BodyError`] (retryable).
#[derive(Debug)]
pub struct S3Body {
    stream: ByteStream,
    handle: tokio::runtime::Handle,
    chunk: Vec<u8>,
    at: usize,
    done: bool,
    deadline: Option<Instant>,
    target: String,
}

impl Read for S3Body {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.at == self.chunk.len() {
            if self.done {
                return Ok(0);
            }
            let next = self.stream.try_next();
            let next = match self.deadline {
                None => self.handle.block_on(next),
                Some(d) => {
                    let until = tokio::time::Instant::from_std(d);
                    match self
                        .handle
                        .block_on(async { tokio::time::timeout_at(until, next).await })
                    {
                        Ok(r) => r,
                        Err(_) => {
                            return Err(io::Error::other(BodyError(format!(
                                "S3 GetObject {}: reading the body: no data before the deadline",
                                self.target
                            ))));
                        }
                    }
                }
            };
            match next {
                Ok(Some(c)) => {
                    self.chunk.clear();
                    self.chunk.extend_from_slice(&c);
                    self.at = 0;
                }
                Ok(None) => {
                    self.done = true;
                    return Ok(0);
                }
                Err(e) => {
                    return Err(io::Error::other(BodyError(format!(
                        "S3 GetObject {}: reading the body: {}",
                        self.target,
                        crate::error::error_chain(&e)
                    ))));
                }
            }
        }
        let n = buf.len().min(self.chunk.len() - self.at);
        buf[..n].copy_from_slice(&self.chunk[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_urls() {
        assert_eq!(
            S3Url::parse("s3://my-bucket/cwl/account=1/"),
            Some(S3Url {
                bucket: "my-bucket".into(),
                key: "cwl/account=1/".into()
            })
        );
        assert_eq!(
            S3Url::parse("s3://my-bucket"),
            Some(S3Url {
                bucket: "my-bucket".into(),
                key: String::new()
            })
        );
        assert_eq!(S3Url::parse("s3://My_Bucket/x"), None);
        assert_eq!(S3Url::parse("/tmp/x"), None);
        assert_eq!(S3Url::parse("s3://ab"), None);
    }
}
