//! `[sources.s3]`: logs AWS services deliver to S3, read from the objects themselves, as a
//! stream (pure: the caller hands over the object's body as a [`std::io::Read`]).
//!
//! | file | what |
//! | --- | --- |
//! | `config.rs` | the section, checked into [`S3SourceConfig`] |
//! | `layout.rs` | the key layout AWS delivers under (`AWSLogs/<account>/<service>/<region>/YYYY/MM/DD/`) |
//! | `read.rs` | gunzip with a cap, the body's own errors told apart, records one at a time |
//! | `elb.rs` | Application, Classic and Network Load Balancer access log entries |
//! | `waf.rs` | AWS WAF log records |
//! | `object.rs` | one object, start to finish: its format, its records, their `_bulk` items |
//! | `fetch.rs` | the seam objects are read through ([`ObjectSource`]), its errors, an in-memory double |
//! | `notification.rs` | S3 event notifications (direct, in SQS, through EventBridge) and S3 Batch Operations jobs, and their answers |
//!
//! # Formats
//!
//! An object's format is told by its key (the `AWSLogs/` layout) and by its first bytes:
//!
//! - **CloudTrail** log files (`{"Records": [...]}`): one document per record, with the
//!   CloudTrail fields of `[parse]` (`crate::shape::cloudtrail`) and the record's JSON as any JSON
//!   message's; `@timestamp` from `eventTime`. Digest files (`CloudTrail-Digest/`) are
//!   skipped, and counted as skipped.
//! - **VPC flow logs**: the first line is the header naming the fields (any custom format);
//!   every other line a record, parsed with that format (`crate::shape::vpc_flow`);
//!   `@timestamp` from `start` (else `end`).
//! - **Elastic Load Balancing** access logs (Application, Classic, Network): one document per
//!   line, fields in `elb.rs`; `@timestamp` from the entry's time.
//! - **WAF** logs: one JSON record a line, fields in `waf.rs`; `@timestamp` from `timestamp`.
//!
//! Anything else ([`Detected::NotALog`]) is for the subscription decoder (`process_input`):
//! cwlogs archive objects, dead letters, Lambda events; what that cannot read either is a dead
//! letter.
//!
//! # Documents
//!
//! Each record is one document built as events are (`crate::index::document`: the message, its
//! JSON fields, `cloud.*`), with `aws.s3.bucket.name` and `aws.s3.object.key` instead of
//! `aws.cloudwatch.*`, the `_id` 32 hex digits of SHA-256 over (bucket, key, record position)
//! (the position is the line number, 0-based, or the index in `Records`), and the index
//! `[sources.s3] index` (default `cwl-s3-{service}-{yyyy.MM.dd}`). A record without a usable
//! time gets the date of the key (else the epoch). The same object read twice gives the same
//! bytes: a redelivery, a retry after a timeout or a second replay indexes nothing twice.
//!
//! # Input safety
//!
//! The stored size is capped (`max_object_bytes`, default 2 GiB) and so is what an object
//! decompresses to (`max_decompressed_bytes`, default 8 GiB); one record (a line, a CloudTrail
//! record) at most [`MAX_RECORD_BYTES`]. Memory does not grow with the object: one record and
//! one `_bulk` chunk at a time.
//!
//! # Errors
//!
//! [`SourceError`] says what failed ([`SourceErrorKind`]) and whether trying again can help
//! ([`SourceError::is_retryable`]: only when the body itself could not be read).

pub mod config;
pub mod elb;
pub mod fetch;
pub mod layout;
pub mod notification;
mod object;
mod read;
pub mod waf;

pub(crate) use config::RawSources;
pub use config::{S3SourceConfig, SourceIndex, SourcesConfig};
pub use fetch::{GetError, GetErrorKind, MemoryObjects, NoObjects, ObjectFault, ObjectSource};
pub use layout::KeyLayout;
pub use notification::{Notifications, ObjectRef};
pub use object::{Detected, Format, ObjectChunk, ObjectStream, S3Indexing, skip_reason};
pub use read::{BodyError, MAX_RECORD_BYTES};

/// What went wrong reading an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceErrorKind {
    /// The body could not be read (connection, timeout): try again.
    Read,
    /// Not valid gzip, or cut short.
    Gzip,
    /// Over `max_object_bytes` or `max_decompressed_bytes`.
    TooLarge,
    /// Not what its format says (a CloudTrail file whose `Records` is not an array, a flow log
    /// header naming unknown fields, a record too long).
    Format,
}

impl SourceErrorKind {
    /// The dead letter's stage: `s3-read`, `gzip`, `size`, `format`.
    pub fn stage(self) -> &'static str {
        match self {
            SourceErrorKind::Read => "s3-read",
            SourceErrorKind::Gzip => "gzip",
            SourceErrorKind::TooLarge => "size",
            SourceErrorKind::Format => "format",
        }
    }
}

/// Why an object could not be read (whole).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SourceError {
    /// What failed.
    pub kind: SourceErrorKind,
    /// For humans.
    pub message: String,
}

impl SourceError {
    /// An error of `kind`.
    pub fn new(kind: SourceErrorKind, message: impl Into<String>) -> Self {
        SourceError {
            kind,
            message: message.into(),
        }
    }

    /// Whether reading the object again may succeed.
    pub fn is_retryable(&self) -> bool {
        self.kind == SourceErrorKind::Read
    }
}

/// Milliseconds since the epoch of an ISO 8601 time as AWS logs write them:
/// `2025-11-25T10:00:01Z`, `2018-07-02T22:23:00.186641Z` (any number of fraction digits,
/// milliseconds kept), `2018-12-20T02:59:40` (no zone: UTC). Years 1970 to 9999.
pub fn parse_iso_ms(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() < 19
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let mut rest = &b[19..];
    let mut millis = 0i64;
    if let Some((&b'.', frac)) = rest.split_first() {
        let digits = frac.iter().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 {
            return None;
        }
        for (i, &c) in frac[..digits].iter().take(3).enumerate() {
            millis += i64::from(c - b'0') * [100, 10, 1][i];
        }
        rest = &frac[digits..];
    }
    if !(rest.is_empty() || rest == b"Z") {
        return None;
    }
    // Digits read in place (no allocation: this runs once or twice per record).
    let num = |from: usize, to: usize| -> Option<i64> {
        b[from..to].iter().try_fold(0i64, |n, &c| {
            c.is_ascii_digit().then(|| n * 10 + i64::from(c - b'0'))
        })
    };
    let (y, m, d) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    let (hh, mm, ss) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
    if !(1970..=9999).contains(&y)
        || !(1..=12).contains(&m)
        || !(1..=31).contains(&d)
        || hh > 23
        || mm > 59
        || ss > 59
    {
        return None;
    }
    // Days from civil (H. Hinnant), as `UtcTime::parse_rfc3339`.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400_000 + hh * 3_600_000 + mm * 60_000 + ss * 1000 + millis)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_times() {
        assert_eq!(
            parse_iso_ms("2025-11-25T00:00:01Z"),
            Some(1_764_028_801_000)
        );
        assert_eq!(
            parse_iso_ms("2018-07-02T22:23:00.186641Z"),
            Some(1_530_570_180_186)
        );
        assert_eq!(parse_iso_ms("2018-12-20T02:59:40"), Some(1_545_274_780_000));
        assert_eq!(
            parse_iso_ms("2025-11-25T00:00:01.5Z"),
            Some(1_764_028_801_500)
        );
        for bad in [
            "",
            "2025-11-25",
            "2025-11-25T00:00:01.Z",
            "2025-11-25T00:00:01+01:00",
            "2025-13-25T00:00:01Z",
            "1969-12-31T23:59:59Z",
        ] {
            assert_eq!(parse_iso_ms(bad), None, "{bad}");
        }
    }
}
