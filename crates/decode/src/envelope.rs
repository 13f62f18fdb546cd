//! The CloudWatch Logs subscription envelope, and the archive lines cwlogs writes.

use crate::error::{DecodeError, Stage, from_json};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

/// `messageType` of a subscription payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum MessageType {
    /// Log events.
    #[serde(rename = "DATA_MESSAGE")]
    Data,
    /// A health check CloudWatch Logs sends when a subscription is created; carries no log data.
    #[serde(rename = "CONTROL_MESSAGE")]
    Control,
}

/// One log event.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct LogEvent<'a> {
    /// The event id: a 56-digit decimal string, unique within the log group.
    #[serde(borrow)]
    pub id: Cow<'a, str>,
    /// Event time, milliseconds since the Unix epoch.
    pub timestamp: i64,
    /// The log message.
    #[serde(borrow)]
    pub message: Cow<'a, str>,
}

impl LogEvent<'_> {
    /// An owned copy.
    pub fn to_static(&self) -> LogEvent<'static> {
        LogEvent {
            id: Cow::Owned(self.id.to_string()),
            timestamp: self.timestamp,
            message: Cow::Owned(self.message.to_string()),
        }
    }
}

/// One batch of log events from one log stream: a decoded subscription payload.
///
/// Strings borrow from the decompressed payload where they contain no JSON escapes.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogBatch<'a> {
    /// Data or control message.
    pub message_type: MessageType,
    /// The AWS account id that owns the log group.
    #[serde(borrow, default)]
    pub owner: Cow<'a, str>,
    /// The log group name.
    #[serde(borrow, default)]
    pub log_group: Cow<'a, str>,
    /// The log stream name.
    #[serde(borrow, default)]
    pub log_stream: Cow<'a, str>,
    /// Names of the subscription filters that matched.
    #[serde(borrow, default)]
    pub subscription_filters: Vec<Cow<'a, str>>,
    /// `ACCOUNT_LEVEL_POLICY` when delivered through an account-level subscription policy.
    #[serde(borrow, default)]
    pub policy_level: Option<Cow<'a, str>>,
    /// The region, when the payload carries it (archive lines do; CloudWatch envelopes do not:
    /// it then comes from the trigger or the configuration).
    #[serde(skip)]
    pub region: Option<Cow<'a, str>>,
    /// The events, oldest first.
    #[serde(borrow)]
    pub log_events: Vec<LogEvent<'a>>,
}

impl<'a> LogBatch<'a> {
    /// A copy of the batch's header (type, owner, group, stream, filters, policy level, region)
    /// with no events: the start of a batch holding a subset of the events.
    pub fn clone_header(&self) -> LogBatch<'a> {
        LogBatch {
            message_type: self.message_type,
            owner: self.owner.clone(),
            log_group: self.log_group.clone(),
            log_stream: self.log_stream.clone(),
            subscription_filters: self.subscription_filters.clone(),
            policy_level: self.policy_level.clone(),
            region: self.region.clone(),
            log_events: Vec::new(),
        }
    }

    /// An owned copy of the batch's header, as [`LogBatch::clone_header`], with no events.
    pub fn to_static_header(&self) -> LogBatch<'static> {
        let own = |c: &Cow<'_, str>| Cow::Owned(c.to_string());
        LogBatch {
            message_type: self.message_type,
            owner: own(&self.owner),
            log_group: own(&self.log_group),
            log_stream: own(&self.log_stream),
            subscription_filters: self.subscription_filters.iter().map(own).collect(),
            policy_level: self.policy_level.as_ref().map(own),
            region: self.region.as_ref().map(own),
            log_events: Vec::new(),
        }
    }

    /// Checks what serde cannot: a data message names its owner, group and stream and carries at
    /// least one event.
    fn validate(&self) -> Result<(), DecodeError> {
        if self.message_type == MessageType::Control {
            return Ok(());
        }
        let missing = [
            ("owner", &self.owner),
            ("logGroup", &self.log_group),
            ("logStream", &self.log_stream),
        ]
        .into_iter()
        .find(|(_, v)| v.is_empty());
        if let Some((field, _)) = missing {
            return Err(DecodeError::new(
                Stage::Envelope,
                format!("data message with an empty or missing `{field}`"),
            ));
        }
        if self.log_events.is_empty() {
            return Err(DecodeError::new(
                Stage::Envelope,
                "data message with no log events",
            ));
        }
        Ok(())
    }
}

/// One line of an archive object written by cwlogs (`.ndjson.gz`): one log event with the
/// context needed to read it on its own. This is the documented archive schema; Athena reads
/// these columns, and `cwlogs replay` reads them back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArchiveRecord<'a> {
    /// Event time, milliseconds since the Unix epoch.
    pub timestamp: i64,
    /// The CloudWatch event id.
    #[serde(borrow)]
    pub id: Cow<'a, str>,
    /// The log message, unchanged.
    #[serde(borrow)]
    pub message: Cow<'a, str>,
    /// The AWS account id that owns the log group.
    #[serde(borrow)]
    pub owner: Cow<'a, str>,
    /// The region the events were delivered in (`unknown` when it could not be told).
    #[serde(borrow)]
    pub region: Cow<'a, str>,
    /// The log group name.
    #[serde(borrow)]
    pub log_group: Cow<'a, str>,
    /// The log stream name.
    #[serde(borrow)]
    pub log_stream: Cow<'a, str>,
}

/// Reads a decompressed payload: one or more envelopes (CloudWatch Logs, or several when a
/// transport concatenated them), or the NDJSON lines of a cwlogs archive object.
pub fn parse_payload(bytes: &[u8]) -> Result<Vec<LogBatch<'_>>, DecodeError> {
    let first = bytes.iter().position(|b| !b.is_ascii_whitespace());
    let Some(first) = first else {
        return Err(DecodeError::new(Stage::Json, "empty payload"));
    };
    if bytes[first] != b'{' {
        return Err(DecodeError::new(
            Stage::Json,
            "payload is not a JSON object (expected `{`)",
        ));
    }
    if looks_like_archive(&bytes[first..]) {
        return parse_archive(bytes);
    }
    let hinted = |err: DecodeError| match log_group_hint(bytes) {
        Some(g) => err.with_log_group(g),
        None => err,
    };
    // One UTF-8 check of the whole payload (word by word over ASCII), so that the parse reads
    // text and does not check every string again on its own (a call, and mispredicted
    // branches, per message and per field).
    let text = std::str::from_utf8(bytes).map_err(|e| {
        hinted(DecodeError::new(
            Stage::Json,
            format!(
                "invalid UTF-8 at byte {} of the decompressed payload",
                e.valid_up_to()
            ),
        ))
    })?;
    let mut batches = Vec::with_capacity(1);
    for item in serde_json::Deserializer::from_str(text).into_iter::<LogBatch<'_>>() {
        let batch = item.map_err(|e| hinted(from_json(&e, "the decompressed payload")))?;
        batch
            .validate()
            .map_err(|e| e.with_log_group(batch.log_group.to_string()))?;
        batches.push(batch);
    }
    Ok(batches)
}

/// Whether the payload is a cwlogs archive object: its first key is `timestamp`, which cwlogs
/// writes first on every archive line and which no CloudWatch envelope has. Looking at the first
/// key only keeps this O(1); the full parse that follows checks the rest.
fn looks_like_archive(bytes: &[u8]) -> bool {
    let after_brace = bytes.get(1..).unwrap_or_default();
    let key = after_brace.trim_ascii_start();
    key.starts_with(b"\"timestamp\"")
}

/// Best effort: the `logGroup` of a payload that failed to parse, to name it in the error.
fn log_group_hint(bytes: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct Hint {
        #[serde(rename = "logGroup")]
        log_group: Option<String>,
    }
    // A lenient second pass over at most the first 64 KiB: enough for the header fields, which
    // CloudWatch writes before `logEvents`.
    let head = &bytes[..bytes.len().min(64 << 10)];
    let mut de = serde_json::Deserializer::from_slice(head);
    Hint::deserialize(&mut de)
        .ok()
        .and_then(|h| h.log_group)
        .or_else(|| {
            let key = b"\"logGroup\":\"";
            let at = head.windows(key.len()).position(|w| w == key)? + key.len();
            let end = head[at..].iter().position(|&b| b == b'"')?;
            std::str::from_utf8(&head[at..at + end])
                .ok()
                .map(String::from)
        })
}

/// Reads archive lines back into batches, one batch per run of lines with the same owner,
/// region, log group and stream.
fn parse_archive(bytes: &[u8]) -> Result<Vec<LogBatch<'_>>, DecodeError> {
    let mut batches: Vec<LogBatch<'_>> = Vec::new();
    for (n, line) in bytes.split(|&b| b == b'\n').enumerate() {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let rec: ArchiveRecord<'_> = serde_json::from_slice(line)
            .map_err(|e| from_json(&e, &format!("archive line {}", n + 1)))?;
        let same = batches.last().is_some_and(|b| {
            b.owner == rec.owner
                && b.log_group == rec.log_group
                && b.log_stream == rec.log_stream
                && b.region.as_deref() == Some(&*rec.region)
        });
        let event = LogEvent {
            id: rec.id,
            timestamp: rec.timestamp,
            message: rec.message,
        };
        match batches.last_mut() {
            Some(b) if same => b.log_events.push(event),
            _ => batches.push(LogBatch {
                message_type: MessageType::Data,
                owner: rec.owner,
                log_group: rec.log_group,
                log_stream: rec.log_stream,
                subscription_filters: Vec::new(),
                policy_level: None,
                region: Some(rec.region),
                log_events: vec![event],
            }),
        }
    }
    Ok(batches)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ENVELOPE: &str = r#"{"messageType":"DATA_MESSAGE","owner":"123456789012","logGroup":"/aws/lambda/x","logStream":"s","subscriptionFilters":["f"],"logEvents":[{"id":"1","timestamp":1700000000000,"message":"hello"},{"id":"2","timestamp":1700000000001,"message":"say \"hi\""}]}"#;

    #[test]
    fn parses_and_borrows() {
        let b = parse_payload(ENVELOPE.as_bytes()).expect("parse");
        assert_eq!(b.len(), 1);
        let b = &b[0];
        assert_eq!(b.message_type, MessageType::Data);
        assert!(matches!(b.log_group, Cow::Borrowed(_)));
        assert!(matches!(b.log_events[0].message, Cow::Borrowed("hello")));
        assert_eq!(b.log_events[1].message, "say \"hi\"");
    }

    #[test]
    fn unknown_fields_are_accepted() {
        let with_policy = ENVELOPE.replace(
            "\"logEvents\"",
            "\"policyLevel\":\"ACCOUNT_LEVEL_POLICY\",\"newField\":{\"a\":[1]},\"logEvents\"",
        );
        let b = parse_payload(with_policy.as_bytes()).expect("parse");
        assert_eq!(b[0].policy_level.as_deref(), Some("ACCOUNT_LEVEL_POLICY"));
    }

    #[test]
    fn concatenated_envelopes() {
        let two = format!("{ENVELOPE}\n{ENVELOPE}");
        assert_eq!(parse_payload(two.as_bytes()).expect("parse").len(), 2);
    }

    #[test]
    fn errors_name_stage_and_group() {
        let no_events = ENVELOPE.replace(
            r#"[{"id":"1","timestamp":1700000000000,"message":"hello"},{"id":"2","timestamp":1700000000001,"message":"say \"hi\""}]"#,
            "[]",
        );
        let e = parse_payload(no_events.as_bytes()).expect_err("empty events");
        assert_eq!(e.stage(), Stage::Envelope);
        assert_eq!(e.log_group(), Some("/aws/lambda/x"));

        let bad_ts = ENVELOPE.replace("1700000000001", "\"soon\"");
        let e = parse_payload(bad_ts.as_bytes()).expect_err("mistyped");
        assert_eq!(e.stage(), Stage::Envelope);
        assert_eq!(e.log_group(), Some("/aws/lambda/x"));
        // The stage is named once, and the position is the decompressed payload's.
        assert!(
            e.to_string().starts_with(
                "envelope: invalid type: string \"soon\", expected i64 at line 1 column "
            ),
            "{e}"
        );
        assert!(
            e.to_string()
                .ends_with(" of the decompressed payload (log group /aws/lambda/x)"),
            "{e}"
        );

        let e = parse_payload(&ENVELOPE.as_bytes()[..100]).expect_err("truncated");
        assert_eq!(e.stage(), Stage::Json);
        assert_eq!(e.log_group(), Some("/aws/lambda/x"));

        let mut bad_utf8 = ENVELOPE.as_bytes().to_vec();
        let at = ENVELOPE.find("hello").expect("message");
        bad_utf8[at] = 0xff;
        let e = parse_payload(&bad_utf8).expect_err("invalid UTF-8");
        assert_eq!(e.stage(), Stage::Json);
        assert_eq!(e.log_group(), Some("/aws/lambda/x"));
        assert!(
            e.to_string().contains(&format!(
                "json: invalid UTF-8 at byte {at} of the decompressed payload"
            )),
            "{e}"
        );

        let e = parse_payload(b"[1,2]").expect_err("array");
        assert_eq!(e.stage(), Stage::Json);
        let e = parse_payload(br#"{"messageType":"OTHER"}"#).expect_err("type");
        assert_eq!(e.stage(), Stage::Envelope);
    }

    #[test]
    fn archive_lines_group_by_stream() {
        let line = |id: &str, stream: &str| {
            serde_json::to_string(&ArchiveRecord {
                timestamp: 1,
                id: id.into(),
                message: "m\tx".into(),
                owner: "1".into(),
                region: "eu-west-1".into(),
                log_group: "g".into(),
                log_stream: stream.into(),
            })
            .expect("serialize")
        };
        let text = [line("a", "s1"), line("b", "s1"), line("c", "s2")].join("\n") + "\n";
        let b = parse_payload(text.as_bytes()).expect("archive");
        assert_eq!(b.len(), 2);
        assert_eq!(b[0].log_events.len(), 2);
        assert_eq!(b[1].log_stream, "s2");
        assert_eq!(b[0].region.as_deref(), Some("eu-west-1"));
        assert_eq!(b[1].log_events[0].message, "m\tx");
    }
}
