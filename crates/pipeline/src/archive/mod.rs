//! `[archive]`: every event kept as gzip NDJSON objects at deterministic, Athena-friendly keys.
//!
//! [`archive_object`] builds an object (key and body) from a batch; `config.rs` checks the
//! section. Writing is the [`crate::sink::Archive`] seam's (S3 in `cwlogs-aws`, a directory
//! in the CLI, memory in tests).

mod config;

pub use config::ArchiveConfig;
pub(crate) use config::RawArchive;

use crate::util::hash::short_hash;
use crate::util::json::{push_int, push_str};
use crate::util::time::UtcTime;
use cwlogs_decode::LogBatch;

/// One archive object, ready to be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveObject {
    /// The object key (relative path under the archive root).
    pub key: String,
    /// gzip of the NDJSON lines.
    pub body: Vec<u8>,
    /// How many events the object holds.
    pub events: usize,
}

impl ArchiveObject {
    /// The object as a sink writes it: `application/x-ndjson`, `Content-Encoding: gzip`.
    pub fn as_object(&self) -> crate::Object<'_> {
        crate::Object {
            key: &self.key,
            body: &self.body,
            content_type: "application/x-ndjson",
            content_encoding: Some("gzip"),
        }
    }
}

/// Percent-encodes a Hive partition value: every byte outside `[A-Za-z0-9._-]` becomes `%XX`,
/// as Hive escapes partition paths (`/aws/lambda/x` -> `%2Faws%2Flambda%2Fx`).
pub fn hive_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 8);
    for &b in value.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    if out.is_empty() {
        out.push_str("%00");
    }
    out
}

/// The first 16 hex digits of SHA-256 of the log stream name: short, stable, and safe in a key.
pub fn stream_hash(stream: &str) -> String {
    short_hash(stream.as_bytes())
}

/// The object key of a batch:
/// `{prefix}/account={owner}/region={region}/log_group={group}/dt=YYYY-MM-DD/hour=HH/{stream-hash}-{first-id}-{last-id}.ndjson.gz`.
///
/// A function of the batch alone, so a redelivered batch overwrites its own object. Date and
/// hour are those of the first event (UTC). The batch must hold at least one event (the decoder
/// guarantees it for data messages).
pub fn archive_key(prefix: &str, region: &str, batch: &LogBatch<'_>) -> String {
    let first = batch.log_events.first();
    let last = batch.log_events.last();
    let t = UtcTime::from_millis(first.map_or(0, |e| e.timestamp));
    let mut key = String::with_capacity(256);
    if !prefix.is_empty() {
        key.push_str(prefix);
        key.push('/');
    }
    key.push_str(&format!(
        "account={}/region={}/log_group={}/dt={}/hour={:02}/{}-{}-{}.ndjson.gz",
        hive_escape(&batch.owner),
        hive_escape(region),
        hive_escape(&batch.log_group),
        t.date(),
        t.hour,
        stream_hash(&batch.log_stream),
        hive_escape(first.map_or("", |e| &e.id)),
        hive_escape(last.map_or("", |e| &e.id)),
    ));
    key
}

/// Appends the NDJSON archive lines of a batch (the [`cwlogs_decode::ArchiveRecord`] schema):
/// `{"timestamp":…,"id":…,"message":…,"owner":…,"region":…,"log_group":…,"log_stream":…}`.
pub fn archive_lines(region: &str, batch: &LogBatch<'_>, out: &mut Vec<u8>) {
    // Everything after the message is the same for the whole batch: build it once.
    let mut tail = Vec::with_capacity(128);
    tail.extend_from_slice(b",\"owner\":");
    push_str(&mut tail, &batch.owner);
    tail.extend_from_slice(b",\"region\":");
    push_str(&mut tail, region);
    tail.extend_from_slice(b",\"log_group\":");
    push_str(&mut tail, &batch.log_group);
    tail.extend_from_slice(b",\"log_stream\":");
    push_str(&mut tail, &batch.log_stream);
    tail.extend_from_slice(b"}\n");
    for e in &batch.log_events {
        out.extend_from_slice(b"{\"timestamp\":");
        push_int(out, e.timestamp);
        out.extend_from_slice(b",\"id\":");
        push_str(out, &e.id);
        out.extend_from_slice(b",\"message\":");
        push_str(out, &e.message);
        out.extend_from_slice(&tail);
    }
}

/// Builds the archive object of a batch: its key and the gzip NDJSON body at `level` (0-9).
pub fn archive_object(
    prefix: &str,
    region: &str,
    level: u32,
    batch: &LogBatch<'_>,
) -> ArchiveObject {
    let raw_len: usize = batch.log_events.iter().map(|e| e.message.len() + 200).sum();
    let mut lines = Vec::with_capacity(raw_len);
    archive_lines(region, batch, &mut lines);
    ArchiveObject {
        key: archive_key(prefix, region, batch),
        body: gzip(&lines, level),
        events: batch.log_events.len(),
    }
}

/// gzip of `data` at `level` (libdeflate's levels: 1-9 as configured), with a zero
/// modification time so equal input gives equal bytes.
pub fn gzip(data: &[u8], level: u32) -> Vec<u8> {
    crate::util::gzip::gzip(data, level)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cwlogs_decode::{ArchiveRecord, LogEvent, MessageType, parse_payload};

    pub(crate) fn batch() -> LogBatch<'static> {
        LogBatch {
            message_type: MessageType::Data,
            owner: "123456789012".into(),
            log_group: "/aws/lambda/checkout".into(),
            log_stream: "2025/11/25/[$LATEST]abc".into(),
            subscription_filters: vec![],
            policy_level: None,
            region: None,
            log_events: vec![
                LogEvent {
                    id: "3".repeat(56).into(),
                    timestamp: 1_764_032_400_123,
                    message: "{\"level\":\"INFO\"}\tx".into(),
                },
                LogEvent {
                    id: "4".repeat(56).into(),
                    timestamp: 1_764_032_500_000,
                    message: "plain \"quoted\"".into(),
                },
            ],
        }
    }

    #[test]
    fn key_layout() {
        let b = batch();
        let key = archive_key("cwl", "eu-west-1", &b);
        assert_eq!(
            key,
            format!(
                "cwl/account=123456789012/region=eu-west-1/log_group=%2Faws%2Flambda%2Fcheckout/dt=2025-11-25/hour=01/{}-{}-{}.ndjson.gz",
                stream_hash("2025/11/25/[$LATEST]abc"),
                "3".repeat(56),
                "4".repeat(56)
            )
        );
        assert_eq!(
            archive_key("", "r", &b).split('/').next(),
            Some("account=123456789012")
        );
        assert_eq!(stream_hash("x").len(), 16);
    }

    #[test]
    fn lines_follow_the_archive_schema_and_read_back() {
        let b = batch();
        let mut out = Vec::new();
        archive_lines("eu-west-1", &b, &mut out);
        let text = String::from_utf8(out.clone()).expect("utf8");
        let first = text.lines().next().expect("line");
        assert_eq!(
            first,
            format!(
                r#"{{"timestamp":1764032400123,"id":"{}","message":"{{\"level\":\"INFO\"}}\tx","owner":"123456789012","region":"eu-west-1","log_group":"/aws/lambda/checkout","log_stream":"2025/11/25/[$LATEST]abc"}}"#,
                "3".repeat(56)
            )
        );
        for line in text.lines() {
            let _: ArchiveRecord<'_> = serde_json::from_str(line).expect("archive schema");
        }
        let back = parse_payload(&out).expect("read back");
        assert_eq!(back.len(), 1);
        assert_eq!(back[0].log_events, b.log_events);
        assert_eq!(back[0].region.as_deref(), Some("eu-west-1"));
    }

    #[test]
    fn object_is_deterministic_gzip() {
        let b = batch();
        let a = archive_object("cwl", "eu-west-1", 6, &b);
        let again = archive_object("cwl", "eu-west-1", 6, &b);
        assert_eq!(a, again);
        assert_eq!(a.events, 2);
        let plain = cwlogs_decode::gunzip(&a.body, 1 << 20).expect("gunzip");
        let mut lines = Vec::new();
        archive_lines("eu-west-1", &b, &mut lines);
        assert_eq!(plain, lines);
    }

    #[test]
    fn hive_escaping() {
        assert_eq!(hive_escape("a/b c=d"), "a%2Fb%20c%3Dd");
        assert_eq!(hive_escape(""), "%00");
        assert_eq!(hive_escape("é"), "%C3%A9");
    }
}
