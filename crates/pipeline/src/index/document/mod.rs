//! Documents: what one log event is indexed as, and what a document the cluster rejected is
//! quarantined as.
//!
//! # Shape
//!
//! Every document carries, with ECS names:
//!
//! ```json
//! {"@timestamp": "2025-11-25T10:00:00.000Z", "message": "<the message, exactly>",
//!  "event": {"id": "<CloudWatch event id>"},
//!  "log": {"level": "ERROR"},                                  // Lambda runtime lines only
//!  "cloud": {"provider": "aws", "account": {"id": "123456789012"}, "region": "eu-west-1"},
//!  "aws": {"lambda": {"request_id": "8b2b1e3c-..."},           // Lambda runtime lines only
//!          "cloudwatch": {"log_group": "/aws/lambda/app", "log_stream": "..."}},
//!  "json": {...},                                              // under `json_key`, see below
//!  "cwlogs": {"truncated": true, "reasons": ["max_depth"]}}    // only when fields were capped
//! ```
//!
//! **Fields of `[parse]` and `[[enrich]]`** ([`crate::shape`]): the typed ECS fields of a VPC
//! flow log record, a Lambda platform line or event, or a CloudTrail record, and the batch's
//! enrichment, go into the objects above where they belong (`event.start` into `event`,
//! `aws.vpcflow` into `aws`, `cloud.account.name` into `cloud.account`) or after `aws` as
//! objects of their own (`source`, `destination`, `network`, `user_agent`, `trace`, ...), so
//! that no document names a key twice; `cwlogs.parse_error` and `cwlogs.multiline.events` join
//! `cwlogs`. The JSON parsers read the values they need from the validating pass below
//! (`probe.rs`), which runs once per JSON message whatever reads it.
//!
//! **Fields from the message**, under [`DocumentConfig::json_key`] (a dotted key such as
//! `app.fields` gives nested objects, never a dotted name); none when `json_key` is off:
//!
//! - A message that is a JSON object (after trimming ASCII whitespace), or a Lambda runtime line
//!   whose text after the prefix is one, gives its members. Lambda runtime lines are
//!   `TIMESTAMP\tREQUEST_ID\tLEVEL\ttext` (Node.js) and `[LEVEL]\tTIMESTAMP\tREQUEST_ID\ttext`
//!   (Python), with an ISO 8601 timestamp, a UUID request id and an uppercase level word; they
//!   set `log.level` and `aws.lambda.request_id` whether or not the text is JSON.
//! - Otherwise, the first `[[index.extract]]` entry whose log groups take the batch and whose
//!   space-delimited pattern matches the message gives the pattern's named fields, as strings.
//! - Anything else (JSON arrays and scalars, invalid JSON) stays in `message` only.
//!
//! **Mapping safety.** The common case copies the message's JSON text into the document as it
//! is (line breaks between tokens become spaces), after one validating `serde_json` pass that
//! builds no tree (measured in `benches/bulk.rs`: well under half the cost of a
//! `serde_json::Value` round trip). The members are rewritten only when the text would make the cluster reject the
//! document or grow its mapping without bound; the document then gets
//! `"cwlogs":{"truncated":true,"reasons":[...]}` naming what was done:
//!
//! - `max_depth`: objects and arrays nest at most [`DocumentConfig::max_depth`] levels (the
//!   message's own object is level 1; a key `a.b` counts as the objects it stands for). A
//!   deeper object becomes its JSON text, as a string, at the member that holds it; an array
//!   whose content is too deep becomes its JSON text as a whole (never an array that mixes
//!   strings with objects). Key dots that would pass the limit become `_`.
//! - `max_fields`: at most [`DocumentConfig::max_fields`] fields (object members, at any level)
//!   are kept; later members are left out (the full text is in `message`).
//! - `invalid_key`: keys Elasticsearch and OpenSearch reject (`""`, whitespace only, starting or
//!   ending with `.`, containing `..` or a blank part) have their dots replaced by `_`; an empty
//!   or blank key becomes `_empty`. Keys starting with `_` are fine below `json_key` (only the
//!   document's top level holds metadata fields such as `_id`).
//! - `duplicate_key`: the cluster rejects an object naming a key twice (`Duplicate field`); the
//!   last one is kept, as JSON parsers do.
//!
//! Numbers and strings are always copied as written, so large integers keep every digit. JSON
//! that `serde_json` rejects (syntax, numbers beyond `f64`, lone surrogate escapes) is not
//! indexed as fields. Nothing here recurses deeper than `max_depth` levels: deeper input is
//! skipped by `serde_json`'s iterative skipper, however deep it is.

mod lambda;
mod probe;
mod rewrite;

pub(crate) use lambda::is_iso_timestamp;

use crate::index::DocumentConfig;
use crate::redact::RedactCounts;
use crate::shape::Shaper;
use crate::shape::capture::{Capture, JsonKinds};
use crate::util::json::{has_control, push_str, push_u64, splat, zero_bytes};
use crate::util::time::push_rfc3339;
use cwlogs_decode::{LogBatch, LogEvent};
use cwlogs_filter::{Message, Pattern};
use lambda::*;
use probe::*;
use rewrite::*;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::fmt;

/// Top-level names of the document that `json_key` must not start with: the document's own
/// fields and those the parsers of `[parse]` write.
pub const RESERVED_FIELDS: [&str; 15] = [
    "@timestamp",
    "message",
    "event",
    "log",
    "cloud",
    "aws",
    "cwlogs",
    "source",
    "destination",
    "network",
    "user_agent",
    "trace",
    "http",
    "url",
    "tls",
];

const DEPTH: u8 = 1;
const FIELDS: u8 = 2;
const KEY: u8 = 4;
const DUPLICATE: u8 = 8;
const REASONS: [(u8, &str); 4] = [
    (DEPTH, "max_depth"),
    (FIELDS, "max_fields"),
    (KEY, "invalid_key"),
    (DUPLICATE, "duplicate_key"),
];

/// Builds the documents of one batch. Made once per batch (the parts every document of the
/// batch shares are rendered once), then [`DocumentBuilder::push`] per event.
#[derive(Debug)]
pub struct DocumentBuilder<'c> {
    config: &'c DocumentConfig,
    /// `"app":{"fields":` for `json_key = "app.fields"`; `None` when fields are off.
    key_open: Option<Vec<u8>>,
    /// How many `}` close `key_open` beyond the value's own.
    key_close: usize,
    /// `,"cloud":{...},"aws":{`
    cloud: Vec<u8>,
    /// `"cloudwatch":{...}}`
    cloudwatch: Vec<u8>,
    /// The extract patterns whose log groups take this batch, in configuration order.
    extract: Vec<&'c Pattern>,
    probe: Probe,
    /// `[parse]` and `[[enrich]]` for this batch.
    shaper: Shaper<'c>,
    /// The pattern id of the next documents (`cwlogs.pattern.id`); empty: none.
    pattern: String,
    /// What `[redact]` replaced in the documents built so far (per builder, so per batch).
    redacted: RedactCounts,
    /// Whether `[redact]` must look at whole documents: the parts not derived from the
    /// message (account, log group, stream, enrichment) may hold something. Otherwise only
    /// each message is redacted, before its document is built from it.
    redact_whole: bool,
}

impl<'c> DocumentBuilder<'c> {
    /// Prepares the documents of `batch`, recorded in `region`.
    ///
    /// A `json_key` whose first part is one of [`RESERVED_FIELDS`], or that has an empty or
    /// blank part, would collide with the document's own fields: no fields are added then
    /// (the configuration check rejects such keys).
    pub fn new(
        config: &'c DocumentConfig,
        region: &str,
        batch: &LogBatch<'_>,
    ) -> DocumentBuilder<'c> {
        let key_open = config.json_key.as_deref().and_then(|key| {
            let parts: Vec<&str> = key.split('.').collect();
            let usable =
                !RESERVED_FIELDS.contains(&parts[0]) && parts.iter().all(|p| !p.trim().is_empty());
            usable.then(|| {
                let mut open = Vec::new();
                for (i, p) in parts.iter().enumerate() {
                    if i > 0 {
                        open.push(b'{');
                    }
                    push_str(&mut open, p);
                    open.push(b':');
                }
                open
            })
        });
        let key_close = config
            .json_key
            .as_deref()
            .map_or(0, |k| k.matches('.').count());

        let shaper = Shaper::new(&config.shape, &batch.log_group, &batch.owner, region);
        let mut cloud = Vec::with_capacity(96);
        cloud.extend_from_slice(b",\"cloud\":{\"provider\":\"aws\",\"account\":{\"id\":");
        push_str(&mut cloud, &batch.owner);
        if let Some(name) = &shaper.enriched.account_name {
            cloud.extend_from_slice(b",\"name\":");
            push_str(&mut cloud, name);
        }
        cloud.extend_from_slice(b"},\"region\":");
        push_str(&mut cloud, region);
        cloud.extend_from_slice(&shaper.enriched.cloud);
        cloud.extend_from_slice(b"},\"aws\":{");
        let mut cloudwatch = Vec::with_capacity(128);
        cloudwatch.extend_from_slice(b"\"cloudwatch\":{\"log_group\":");
        push_str(&mut cloudwatch, &batch.log_group);
        cloudwatch.extend_from_slice(b",\"log_stream\":");
        push_str(&mut cloudwatch, &batch.log_stream);
        cloudwatch.extend_from_slice(b"}}");

        let extract = config
            .extract
            .iter()
            .filter(|x| {
                x.log_groups.is_empty() || x.log_groups.iter().any(|g| g.matches(&batch.log_group))
            })
            .map(|x| &x.pattern)
            .collect();
        let mut b = DocumentBuilder {
            config,
            key_open,
            key_close,
            cloud,
            cloudwatch,
            extract,
            probe: Probe::default(),
            shaper,
            pattern: String::new(),
            redacted: RedactCounts::default(),
            redact_whole: false,
        };
        b.check_header();
        b
    }

    /// Decides [`DocumentBuilder::redact_whole`] from the parts every document of the batch
    /// shares.
    fn check_header(&mut self) {
        let Some(r) = &self.config.shape.redact else {
            return;
        };
        let e = &self.shaper.enriched;
        self.redact_whole = [
            &self.cloud,
            &self.cloudwatch,
            &e.event,
            &e.log,
            &e.aws,
            &e.top,
        ]
        .iter()
        .any(|part| r.needs_look(part));
    }

    /// What `[redact]` replaced in the documents built since the last call, per detector
    /// (this builder's own counts: batches built side by side never mix theirs).
    pub fn take_redacted(&mut self) -> RedactCounts {
        std::mem::take(&mut self.redacted)
    }

    /// Sets the pattern id (`[patterns]`, [`crate::patterns`]) the next documents carry in
    /// `cwlogs.pattern.id`; `None` clears it.
    pub fn set_pattern(&mut self, id: Option<&str>) {
        self.pattern.clear();
        self.pattern.push_str(id.unwrap_or(""));
    }

    /// Appends the document of `event`, and a line feed, to `out`.
    pub fn push(&mut self, out: &mut Vec<u8>, event: &LogEvent<'_>) {
        self.push_merged(out, event, 1);
    }

    /// Appends the document of `event`, and a line feed, to `out`, for an event that stands
    /// for `events` consecutive events merged by `[[parse.multiline]]` (its message their
    /// messages joined, its id and time the first one's): with more than one, the document
    /// says so in `cwlogs.multiline.events`.
    pub fn push_merged(&mut self, out: &mut Vec<u8>, event: &LogEvent<'_>, events: usize) {
        self.push_event(out, event, events, true, None);
    }

    /// [`DocumentBuilder::push_merged`], with the message observed by `miner` as a message
    /// of `group` ([`crate::patterns`]): the document carries its pattern id. A JSON message
    /// is read once for both (the validating pass writes its pattern skeleton).
    pub fn push_merged_observed(
        &mut self,
        out: &mut Vec<u8>,
        event: &LogEvent<'_>,
        events: usize,
        miner: &mut crate::patterns::Miner,
        group: &str,
    ) {
        self.push_event(out, event, events, true, Some((miner, group)));
    }

    /// Prepares the documents of the records of one S3 object (`sources`): the same documents
    /// as events get, with `aws.s3.bucket.name` and `aws.s3.object.key` where events have
    /// `aws.cloudwatch`. `group` stands for the log group where one is matched (`[[enrich]]`,
    /// `[[index.extract]]`).
    pub fn for_object(
        config: &'c DocumentConfig,
        region: &str,
        account: &str,
        group: &str,
        bucket: &str,
        key: &str,
    ) -> DocumentBuilder<'c> {
        let header = LogBatch {
            message_type: cwlogs_decode::MessageType::Data,
            owner: account.into(),
            log_group: group.into(),
            log_stream: "".into(),
            subscription_filters: Vec::new(),
            policy_level: None,
            region: None,
            log_events: Vec::new(),
        };
        let mut b = DocumentBuilder::new(config, region, &header);
        b.cloudwatch.clear();
        b.cloudwatch
            .extend_from_slice(b"\"s3\":{\"bucket\":{\"name\":");
        push_str(&mut b.cloudwatch, bucket);
        b.cloudwatch.extend_from_slice(b"},\"object\":{\"key\":");
        push_str(&mut b.cloudwatch, key);
        b.cloudwatch.extend_from_slice(b"}}}");
        b.check_header();
        b
    }

    /// The fields [`DocumentBuilder::push_parsed`] writes: fill them in (they are not cleared
    /// for you).
    pub fn parsed_mut(&mut self) -> &mut crate::shape::Parsed {
        &mut self.shaper.parsed
    }

    /// Appends the document of `event` with the fields already in
    /// [`DocumentBuilder::parsed_mut`] instead of those of `[parse]` (a parser of its own
    /// read the record); the message's JSON fields are written as usual.
    pub fn push_parsed(&mut self, out: &mut Vec<u8>, event: &LogEvent<'_>) {
        self.push_event(out, event, 1, false, None);
    }

    fn push_event(
        &mut self,
        out: &mut Vec<u8>,
        event: &LogEvent<'_>,
        events: usize,
        shape: bool,
        observe: Option<(&mut crate::patterns::Miner, &str)>,
    ) {
        let doc_start = out.len();
        // `[redact]`: a JSON object message is redacted before anything is built from it;
        // other documents are walked once built, when their message (or the batch's shared
        // parts) may hold something, or when the caller filled in their fields.
        let config: &'c DocumentConfig = self.config;
        let mut walk = None;
        let redacted;
        let mut message = &*event.message;
        if let Some(r) = config.shape.redact.as_deref() {
            let first = (shape && !self.redact_whole && message.starts_with('{'))
                .then(|| r.json_message(message, &mut self.redacted))
                .flatten();
            match first {
                Some(Some(m)) => {
                    redacted = m;
                    message = &redacted;
                }
                Some(None) => {}
                None if !shape || self.redact_whole || r.needs_look(message.as_bytes()) => {
                    walk = Some(r)
                }
                None => {}
            }
        }
        let lambda = lambda_prefix(message);
        let text = lambda.as_ref().map_or(message, |l| l.rest);
        // The one JSON pass, before anything is written: the message's fields and the JSON
        // parsers both take what they need from it. Lambda runtime lines are not parsed
        // (their request id and level are written from the prefix).
        let object = json_object_text(text);
        if shape {
            self.shaper.clear();
        }
        // The pattern skeleton is written on the way when the message is observed and is
        // what the miner reads as JSON: an object of the message itself (not after a Lambda
        // prefix), within the miner's bound on JSON messages.
        self.probe.skeleton_on = observe.is_some()
            && lambda.is_none()
            && object.is_some_and(|o| o.len() <= crate::patterns::MAX_JSON_BYTES);
        let check = match object {
            Some(o) => {
                let kinds = if lambda.is_none() && shape {
                    self.shaper.json_kinds()
                } else {
                    JsonKinds::default()
                };
                if kinds.any() {
                    let mut capture = Capture::new(kinds);
                    let (check, valid) = self.probe.check(o, self.config, Some(&mut capture));
                    if valid {
                        self.shaper.parse_json(&capture);
                    }
                    Some(check)
                } else if self.key_open.is_some() {
                    Some(self.probe.check(o, self.config, None).0)
                } else {
                    None
                }
            }
            None if lambda.is_none() && shape => {
                self.shaper.parse_text(message);
                None
            }
            None => None,
        };
        if let Some((miner, group)) = observe {
            let skeleton =
                (self.probe.skeleton_on && self.probe.skeleton_ok && check == Some(Check::Clean))
                    .then_some(&self.probe.skeleton[..]);
            let seen = miner.observe_with(group, message, event.timestamp, skeleton);
            self.pattern.clear();
            self.pattern.push_str(seen.id);
        }
        let parsed = &self.shaper.parsed;
        let enriched = &self.shaper.enriched;

        out.extend_from_slice(b"{\"@timestamp\":\"");
        push_rfc3339(out, event.timestamp);
        out.extend_from_slice(b"\",\"message\":");
        push_str(out, message);
        out.extend_from_slice(b",\"event\":{\"id\":");
        // Event ids are decimal digits; anything else is escaped like any string.
        if event.id.bytes().all(|b| b.is_ascii_alphanumeric()) {
            out.push(b'"');
            out.extend_from_slice(event.id.as_bytes());
            out.push(b'"');
        } else {
            push_str(out, &event.id);
        }
        splice(out, &parsed.event);
        splice(out, &enriched.event);
        out.push(b'}');
        if let Some(l) = &lambda {
            // The level is uppercase letters and the id hex digits and dashes: no escaping.
            out.extend_from_slice(b",\"log\":{\"level\":\"");
            out.extend_from_slice(l.level.as_bytes());
            out.push(b'"');
            splice(out, &enriched.log);
            out.push(b'}');
        } else if !enriched.log.is_empty() {
            out.extend_from_slice(b",\"log\":{");
            out.extend_from_slice(&enriched.log[1..]);
            out.push(b'}');
        }
        out.extend_from_slice(&self.cloud);
        if let Some(l) = &lambda {
            out.extend_from_slice(b"\"lambda\":{\"request_id\":\"");
            out.extend_from_slice(l.request_id.as_bytes());
            out.extend_from_slice(b"\"},");
        }
        splice(out, &parsed.aws);
        splice(out, &enriched.aws);
        out.extend_from_slice(&self.cloudwatch);
        splice(out, &parsed.top);
        splice(out, &enriched.top);
        let reasons = self.fields(out, message, object.zip(check));
        let parse_error = !self.shaper.parsed.error.is_empty();
        if reasons != 0 || parse_error || events > 1 || !self.pattern.is_empty() {
            out.extend_from_slice(b",\"cwlogs\":{");
            let start = out.len();
            if reasons != 0 {
                out.extend_from_slice(b"\"truncated\":true,\"reasons\":[");
                let mut first = true;
                for (bit, name) in REASONS {
                    if reasons & bit != 0 {
                        if !first {
                            out.push(b',');
                        }
                        first = false;
                        out.push(b'"');
                        out.extend_from_slice(name.as_bytes());
                        out.push(b'"');
                    }
                }
                out.push(b']');
            }
            if parse_error {
                if out.len() > start {
                    out.push(b',');
                }
                out.extend_from_slice(b"\"parse_error\":");
                push_str(out, &self.shaper.parsed.error);
            }
            if events > 1 {
                if out.len() > start {
                    out.push(b',');
                }
                out.extend_from_slice(b"\"multiline\":{\"events\":");
                push_u64(out, events as u64);
                out.push(b'}');
            }
            if !self.pattern.is_empty() {
                if out.len() > start {
                    out.push(b',');
                }
                out.extend_from_slice(b"\"pattern\":{\"id\":");
                // Pattern ids are hex digits: no escaping.
                if self.pattern.bytes().all(|b| b.is_ascii_alphanumeric()) {
                    out.push(b'"');
                    out.extend_from_slice(self.pattern.as_bytes());
                    out.push(b'"');
                } else {
                    push_str(out, &self.pattern);
                }
                out.push(b'}');
            }
            out.push(b'}');
        }
        out.push(b'}');
        if let Some(r) = walk {
            r.redact_in_place(out, doc_start, &mut self.redacted);
        }
        out.push(b'\n');
    }

    /// Appends `,"<json_key>":{...}` from the JSON object of the message (with what the
    /// validating pass found) or from an extract pattern matching `message`, if any; returns
    /// the reasons the fields were rewritten (0: none).
    fn fields(&mut self, out: &mut Vec<u8>, message: &str, json: Option<(&str, Check)>) -> u8 {
        let Some(open) = &self.key_open else {
            return 0;
        };
        let start = out.len();
        if let Some((object, check)) = json {
            out.push(b',');
            out.extend_from_slice(open);
            match check {
                Check::Clean => {
                    splice_json(out, object);
                    close(out, self.key_close);
                    return 0;
                }
                Check::Risky => {
                    let mut rewriter = Rewriter {
                        max_depth: self.config.max_depth,
                        max_fields: self.config.max_fields,
                        fields: 0,
                        reasons: 0,
                    };
                    if rewriter.object(out, object, 1).is_ok() {
                        close(out, self.key_close);
                        return rewriter.reasons;
                    }
                }
                Check::Invalid => {}
            }
            out.truncate(start);
        }
        if self.extract.is_empty() {
            return 0;
        }
        let msg = Message::new(message);
        let Some(found) = self.extract.iter().find_map(|p| p.extract(&msg)) else {
            return 0;
        };
        // Named fields only: `$3` is a position, not a name.
        let named: Vec<(Cow<'_, str>, &str)> = found
            .iter()
            .filter_map(|(k, v)| {
                let name = k.strip_prefix('$').unwrap_or(k);
                (!name.bytes().all(|b| b.is_ascii_digit())).then_some((Cow::Borrowed(name), v))
            })
            .collect();
        if named.is_empty() {
            return 0;
        }
        let mut rewriter = Rewriter {
            max_depth: self.config.max_depth,
            max_fields: self.config.max_fields,
            fields: 0,
            reasons: 0,
        };
        out.push(b',');
        out.extend_from_slice(open);
        let keys = rewriter.keys(named.iter().map(|(k, _)| k.clone()).collect(), 1);
        out.push(b'{');
        let mut first = true;
        for ((key, _), (_, value)) in keys.iter().zip(&named) {
            let Some(key) = key else { continue };
            if !rewriter.take_field() {
                break;
            }
            if !first {
                out.push(b',');
            }
            first = false;
            push_str(out, key);
            out.push(b':');
            push_str(out, value);
        }
        out.push(b'}');
        close(out, self.key_close);
        rewriter.reasons
    }
}

/// Appends parsed or enrichment members (usually none: no call to copy nothing).
#[inline(always)]
fn splice(out: &mut Vec<u8>, members: &[u8]) {
    if !members.is_empty() {
        out.extend_from_slice(members);
    }
}

fn close(out: &mut Vec<u8>, n: usize) {
    out.resize(out.len() + n, b'}');
}

/// The text of `message` when it looks like a JSON object: `{...}` after trimming ASCII
/// whitespace. Whether it is one is for the parser to say.
fn json_object_text(message: &str) -> Option<&str> {
    let t = message.trim_ascii();
    (t.len() >= 2 && t.starts_with('{') && t.ends_with('}')).then_some(t)
}

/// Copies validated JSON text, turning line breaks into spaces: valid JSON has them only
/// between tokens (strings cannot hold raw control characters), and a raw line break would
/// end the NDJSON line.
fn splice_json(out: &mut Vec<u8>, json: &str) {
    let bytes = json.as_bytes();
    if has_control(bytes) {
        out.extend(bytes.iter().map(|&b| match b {
            b'\n' | b'\r' => b' ',
            b => b,
        }));
    } else {
        out.extend_from_slice(bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::Extract;
    use crate::index::quarantine_document;
    use crate::route::Glob;
    use crate::util::time::UtcTime;
    use cwlogs_decode::MessageType;
    use serde_json::{Value, json};

    const REQ: &str = "8b2b1e3c-5d0f-4a8e-9c1b-0123456789ab";

    fn batch(group: &str) -> LogBatch<'static> {
        LogBatch {
            message_type: MessageType::Data,
            owner: "123456789012".into(),
            log_group: group.to_string().into(),
            log_stream: "s".into(),
            subscription_filters: vec![],
            policy_level: None,
            region: None,
            log_events: vec![],
        }
    }

    fn event(message: &str) -> LogEvent<'static> {
        LogEvent {
            id: "36000000000000000000000000000000000000000000000000000001".into(),
            timestamp: 1_764_064_800_000,
            message: message.to_string().into(),
        }
    }

    use cwlogs_testkit::json::Strict;

    /// The document line for `message`, checked: one line, strict JSON, the message intact.
    fn build_in(config: &DocumentConfig, group: &str, message: &str) -> (String, Value) {
        let b = batch(group);
        let mut out = Vec::new();
        DocumentBuilder::new(config, "eu-west-1", &b).push(&mut out, &event(message));
        let line = String::from_utf8(out).expect("utf8");
        assert!(line.ends_with('\n'));
        assert!(!line[..line.len() - 1].contains(['\n', '\r']), "{line}");
        let Strict(doc) = serde_json::from_str(&line).expect("strict JSON document");
        assert_eq!(doc["message"], message, "{line}");
        (line, doc)
    }

    fn build(config: &DocumentConfig, message: &str) -> Value {
        build_in(config, "/aws/lambda/app", message).1
    }

    fn with(max_depth: usize, max_fields: usize) -> DocumentConfig {
        DocumentConfig {
            max_depth,
            max_fields,
            ..DocumentConfig::default()
        }
    }

    fn reasons(doc: &Value) -> Vec<&str> {
        doc["cwlogs"]["reasons"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default()
    }

    #[test]
    fn text_messages_keep_the_metadata_only() {
        let doc = build(&DocumentConfig::default(), "hello world");
        assert_eq!(
            doc,
            json!({
                "@timestamp": "2025-11-25T10:00:00.000Z",
                "message": "hello world",
                "event": {"id": "36000000000000000000000000000000000000000000000000000001"},
                "cloud": {"provider": "aws", "account": {"id": "123456789012"}, "region": "eu-west-1"},
                "aws": {"cloudwatch": {"log_group": "/aws/lambda/app", "log_stream": "s"}}
            })
        );
    }

    #[test]
    fn json_objects_are_spliced_as_written() {
        let msg = r#"  {"level":"info","n":12345678901234567890123,"f":1.50,"a":[1,{"b":null}],"_id":"x","s":"\u00e9\n"}  "#;
        let (line, doc) = build_in(&DocumentConfig::default(), "g", msg);
        // The raw text, byte for byte: big integers and number spellings survive.
        assert!(
            line.contains(&format!(",\"json\":{}", msg.trim())),
            "{line}"
        );
        assert_eq!(doc["json"]["level"], "info");
        assert_eq!(doc["json"]["_id"], "x");
        assert!(doc.get("cwlogs").is_none());
    }

    #[test]
    fn line_breaks_between_tokens_become_spaces() {
        let msg = "{\r\n  \"a\": 1,\n  \"b\": {\"c\": \"d\"}\n}\n";
        let doc = build(&DocumentConfig::default(), msg);
        assert_eq!(doc["json"], json!({"a": 1, "b": {"c": "d"}}));
    }

    #[test]
    fn what_is_not_a_json_object_stays_text() {
        for msg in [
            "[1,2,3]",
            "\"text\"",
            "42",
            "{not json}",
            "{\"a\":1} trailing",
            "{\"a\":1}}",
            "{\"a\":1e400}",
            "{\"a\":\"\\ud800\"}",
            "{\"a\":\"tab\there\"}",
            "{",
            "",
        ] {
            let doc = build(&DocumentConfig::default(), msg);
            assert!(doc.get("json").is_none(), "{msg}: {doc}");
            assert!(doc.get("cwlogs").is_none(), "{msg}: {doc}");
        }
        assert_eq!(build(&DocumentConfig::default(), " {} ")["json"], json!({}));
    }

    #[test]
    fn lambda_runtime_lines() {
        let node = format!("2025-11-25T10:00:00.000Z\t{REQ}\tERROR\t{{\"a\":1}}\n");
        let doc = build(&DocumentConfig::default(), &node);
        assert_eq!(doc["log"]["level"], "ERROR");
        assert_eq!(doc["aws"]["lambda"]["request_id"], REQ);
        assert_eq!(doc["aws"]["cloudwatch"]["log_group"], "/aws/lambda/app");
        assert_eq!(doc["json"], json!({"a": 1}));

        let python = format!("[WARNING]\t2025-11-25T10:00:00.123Z\t{REQ}\t{{\"b\":[true]}}\n");
        let doc = build(&DocumentConfig::default(), &python);
        assert_eq!(doc["log"]["level"], "WARNING");
        assert_eq!(doc["aws"]["lambda"]["request_id"], REQ);
        assert_eq!(doc["json"], json!({"b": [true]}));

        let text = format!("2025-11-25T10:00:00+01:00\t{REQ}\tINFO\tuser signed in\n");
        let doc = build(&DocumentConfig::default(), &text);
        assert_eq!(doc["log"]["level"], "INFO");
        assert!(doc.get("json").is_none());

        // Without fields, the prefix still gives the level and the request id.
        let off = DocumentConfig {
            json_key: None,
            ..DocumentConfig::default()
        };
        let doc = build(&off, &node);
        assert_eq!(doc["log"]["level"], "ERROR");
        assert!(doc.get("json").is_none());
    }

    #[test]
    fn truncated_timestamps_are_not_timestamps() {
        let full = "2025-11-25T10:00:00.123+01:00";
        for n in 0..full.len() {
            let ts = &full[..n];
            // No prefix has a zone: none is a timestamp, and none may panic.
            let expected = false;
            assert_eq!(is_iso_timestamp(ts), expected, "{ts}");
            for msg in [
                format!("[INFO]\t{ts}\t{REQ}\tx"),
                format!("{ts}\t{REQ}\tINFO\t{}", "x".repeat(60)),
            ] {
                assert_eq!(lambda_prefix(&msg).is_some(), expected, "{msg}");
            }
        }
        assert!(is_iso_timestamp("2025-11-25T10:00:00Z"));
        assert!(is_iso_timestamp(full));
    }

    #[test]
    fn other_tab_separated_lines_are_not_lambda_lines() {
        for msg in [
            format!("2025-11-25 10:00:00\t{REQ}\tERROR\t{{\"a\":1}}"),
            "2025-11-25T10:00:00.000Z\tnot-a-request-id-at-all-but-36chars\tERROR\t{}".to_string(),
            format!("2025-11-25T10:00:00.000Z\t{REQ}\tError\t{{\"a\":1}}"),
            format!("2025-11-25T10:00:00.000Z\t{REQ}\tERROR"),
            format!("2025-11-25T10:00:00.0000000000Z\t{REQ}\tERROR\tx"),
            format!("[ERROR] 2025-11-25T10:00:00.000Z\t{REQ}\tx"),
            format!("[error]\t2025-11-25T10:00:00.000Z\t{REQ}\tx"),
            "a\tb\tERROR\t{\"a\":1}".to_string(),
            "[\t\t\t".to_string(),
            "2025-11-25T10:00:00.000Z\t\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\tERROR\t{}".to_string(),
        ] {
            assert_eq!(lambda_prefix(&msg), None, "{msg}");
            let doc = build(&DocumentConfig::default(), &msg);
            assert!(doc.get("log").is_none(), "{msg}");
            assert!(doc["aws"].get("lambda").is_none(), "{msg}");
        }
    }

    #[test]
    fn deep_objects_become_text_at_the_limit() {
        let doc = build(
            &with(3, 500),
            r#"{"a":{"b":{"c":{"d":1}},"e":2},"f":[1,[2]]}"#,
        );
        assert_eq!(
            doc["json"],
            json!({"a": {"b": {"c": "{\"d\":1}"}, "e": 2}, "f": [1, [2]]})
        );
        assert_eq!(doc["cwlogs"]["truncated"], true);
        assert_eq!(reasons(&doc), ["max_depth"]);

        // An array whose content is too deep becomes text as a whole: no array mixes objects
        // and strings.
        let doc = build(
            &with(2, 500),
            r#"{"a":[{"b":1},{"c":2}],"d":[1],"e":[[1]]}"#,
        );
        assert_eq!(
            doc["json"],
            json!({"a": "[{\"b\":1},{\"c\":2}]", "d": [1], "e": "[[1]]"})
        );

        // At exactly the limit nothing changes.
        let doc = build(&with(3, 500), r#"{"a":{"b":{"c":1}}}"#);
        assert!(doc.get("cwlogs").is_none());
    }

    #[test]
    fn dots_in_keys_count_as_levels() {
        let doc = build(&with(3, 500), r#"{"a.b":{"c":1},"x.y.z":2,"p.q.r.s":3}"#);
        assert_eq!(
            doc["json"],
            json!({"a.b": {"c": 1}, "x.y.z": 2, "p_q_r_s": 3})
        );
        assert_eq!(reasons(&doc), ["max_depth"]);
        let doc = build(&with(2, 500), r#"{"a.b":{"c":1}}"#);
        assert_eq!(doc["json"], json!({"a.b": "{\"c\":1}"}));
    }

    #[test]
    fn nesting_beyond_the_parser_limit_is_kept_as_text() {
        for n in [127, 129, 5_000, 200_000] {
            let msg = format!("{}1{}", "{\"a\":".repeat(n), "}".repeat(n));
            let doc = build(&DocumentConfig::default(), &msg);
            let mut v = &doc["json"];
            for _ in 0..10 {
                v = &v["a"];
            }
            assert!(v.is_string(), "{n}");
            assert_eq!(reasons(&doc), ["max_depth"]);
        }
        // Arrays too, and a top-level array is never fields.
        let n = 100_000;
        let msg = format!("{{\"a\":{}1{}}}", "[".repeat(n), "]".repeat(n));
        let doc = build(&DocumentConfig::default(), &msg);
        assert!(doc["json"]["a"].is_string());
        let msg = format!("{}1{}", "[".repeat(n), "]".repeat(n));
        assert!(
            build(&DocumentConfig::default(), &msg)
                .get("json")
                .is_none()
        );
    }

    #[test]
    fn fields_beyond_the_cap_are_left_out() {
        let doc = build(&with(10, 3), r#"{"a":1,"b":{"c":2,"d":3},"e":4}"#);
        assert_eq!(doc["json"], json!({"a": 1, "b": {"c": 2}}));
        assert_eq!(reasons(&doc), ["max_fields"]);
        let doc = build(&with(10, 4), r#"{"a":1,"b":{"c":2,"d":3}}"#);
        assert!(doc.get("cwlogs").is_none());
        // A wide object, more than the cap at one level.
        let wide: Vec<String> = (0..2_000).map(|i| format!("\"k{i}\":{i}")).collect();
        let doc = build(
            &DocumentConfig::default(),
            &format!("{{{}}}", wide.join(",")),
        );
        assert_eq!(doc["json"].as_object().map(|o| o.len()), Some(500));
    }

    #[test]
    fn keys_the_cluster_rejects_are_renamed() {
        let doc = build(
            &DocumentConfig::default(),
            r#"{"":1,".":2,"a..b":3,".x":4,"y.":5," ":6,"ok.key":7,"_id":8,"a. .b":9,"sub":{"":{"..":1}}}"#,
        );
        assert_eq!(
            doc["json"],
            json!({"_empty": 6, "_": 2, "a__b": 3, "_x": 4, "y_": 5, "ok.key": 7, "_id": 8, "a_ _b": 9, "sub": {"_empty": {"__": 1}}})
        );
        assert_eq!(reasons(&doc), ["invalid_key", "duplicate_key"]);
    }

    #[test]
    fn duplicate_keys_keep_the_last() {
        let doc = build(
            &DocumentConfig::default(),
            r#"{"a":1,"b":{"x":1,"x":{"y":2}},"a":3}"#,
        );
        assert_eq!(doc["json"], json!({"b": {"x": {"y": 2}}, "a": 3}));
        assert_eq!(reasons(&doc), ["duplicate_key"]);
        // The same key in sibling objects is not a duplicate.
        let doc = build(
            &DocumentConfig::default(),
            r#"{"a":{"x":1},"b":{"x":2},"c":[{"x":1},{"x":2}]}"#,
        );
        assert!(doc.get("cwlogs").is_none());
        // Escaped spellings of one key are one key.
        let doc = build(&DocumentConfig::default(), r#"{"ab":1,"a\u0062":2}"#);
        assert_eq!(doc["json"], json!({"ab": 2}));
    }

    #[test]
    fn dotted_json_key_gives_nested_objects() {
        let config = DocumentConfig {
            json_key: Some("app.fields".into()),
            ..DocumentConfig::default()
        };
        let (line, doc) = build_in(&config, "g", r#"{"a":{"":1}}"#);
        assert_eq!(doc["app"]["fields"], json!({"a": {"_empty": 1}}));
        assert!(!line.contains("\"app.fields\""));
        assert_eq!(reasons(&doc), ["invalid_key"]);
        // A key that would collide with the document's own fields adds nothing.
        for key in ["log", "aws.extra", "cwlogs", "a. .b"] {
            let config = DocumentConfig {
                json_key: Some(key.into()),
                ..DocumentConfig::default()
            };
            let doc = build(&config, r#"{"level":"x"}"#);
            assert!(
                doc.get("cwlogs").is_none() && doc.get("a").is_none(),
                "{key}"
            );
            assert!(doc.get("log").is_none(), "{key}");
        }
    }

    fn extracting(patterns: &[(&[&str], &str)]) -> DocumentConfig {
        DocumentConfig {
            extract: patterns
                .iter()
                .map(|(groups, p)| Extract {
                    log_groups: groups.iter().map(|g| Glob::new(g)).collect(),
                    pattern: Pattern::new(p).expect("pattern"),
                })
                .collect(),
            ..DocumentConfig::default()
        }
    }

    #[test]
    fn extracted_fields() {
        let access =
            r#"127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /a.gif HTTP/1.0" 404 2326"#;
        let config = extracting(&[
            (&["/other/*"], "[ip, ...]"),
            (&[], "[ip, identity, user, ts, request, status = 2*, size]"),
            (
                &["/web/*"],
                "[ip, identity, user, ts, request, status, size]",
            ),
            (&[], "[ip, ..., size]"),
        ]);
        let (_, doc) = build_in(&config, "/web/access", access);
        assert_eq!(
            doc["json"],
            json!({"ip": "127.0.0.1", "identity": "-", "user": "frank", "ts": "10/Oct/2000:13:55:36 -0700", "request": "GET /a.gif HTTP/1.0", "status": "404", "size": "2326"})
        );
        // Another group: the third entry does not apply, the fourth does; `...` has no names.
        let (_, doc) = build_in(&config, "/app", access);
        assert_eq!(doc["json"], json!({"ip": "127.0.0.1", "size": "2326"}));
        // JSON messages are not extracted; nothing matches: no fields.
        let (_, doc) = build_in(&config, "/web/x", r#"{"a": "b c d e f g"}"#);
        assert_eq!(doc["json"], json!({"a": "b c d e f g"}));
        let (_, doc) = build_in(&config, "/web/x", "");
        assert!(doc.get("json").is_none());
        // Positions only (`[]` names nothing): no fields.
        let (_, doc) = build_in(&extracting(&[(&[], "[]")]), "/g", "a b c");
        assert!(doc.get("json").is_none());
        // The field cap holds here too.
        let config = DocumentConfig {
            max_fields: 2,
            ..extracting(&[(&[], "[a, b, c]")])
        };
        let (_, doc) = build_in(&config, "/g", "1 2 3");
        assert_eq!(doc["json"], json!({"a": "1", "b": "2"}));
        assert_eq!(reasons(&doc), ["max_fields"]);
        // No json_key: no extraction.
        let config = DocumentConfig {
            json_key: None,
            ..extracting(&[(&[], "[a, b, c]")])
        };
        assert!(build_in(&config, "/g", "1 2 3").1.get("json").is_none());
    }

    /// The pattern skeleton the probe writes on its way is the one the miner's own scan
    /// writes (no escapes) and, in any case, decides the tokens.
    #[test]
    fn the_probe_writes_the_pattern_skeleton() {
        use crate::patterns::skeleton::json_skeleton;
        use crate::patterns::skeleton::tests::{Rng, message};
        let config = DocumentConfig::default();
        let mut r = Rng(0x2545_f491_4f6c_dd1d);
        let mut probe = Probe::default();
        let mut key = Vec::new();
        let mut seen: std::collections::HashMap<Vec<u8>, Vec<String>> = Default::default();
        let (mut clean, mut same) = (0, 0);
        for _ in 0..30_000 {
            let m = message(&mut r);
            let Some(o) = json_object_text(&m) else {
                continue;
            };
            probe.skeleton_on = true;
            if probe.check(o, &config, None).0 != Check::Clean || !probe.skeleton_ok {
                continue;
            }
            clean += 1;
            let tokens: Vec<String> = crate::patterns::tokenize(&m)
                .into_iter()
                .map(|t| t.into_owned())
                .collect();
            // Keys and types, or a CloudTrail record's fixed template.
            assert!(
                matches!(tokens.first().map(String::as_str), Some("{" | "cloudtrail")),
                "{m:?}"
            );
            if json_skeleton(None, o, &mut key, usize::MAX) && !o.contains('\\') {
                assert_eq!(probe.skeleton, key, "{m:?}");
                same += 1;
            }
            let first = seen
                .entry(probe.skeleton.clone())
                .or_insert_with(|| tokens.clone());
            assert_eq!(*first, tokens, "{m:?}");
        }
        assert!(
            clean > 5_000 && same > 2_000,
            "{clean} clean, {same} the same"
        );
    }

    #[test]
    fn the_probe_agrees_with_the_rewriter() {
        // Clean for the probe means the rewriter would change nothing.
        let config = with(4, 6);
        for msg in [
            r#"{"a":{"b":{"c":{"d":1}}}}"#,
            r#"{"a":[[[1]]]}"#,
            r#"{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6}"#,
            r#"{"a.b.c":{"d":1}}"#,
        ] {
            let mut probe = Probe::default();
            assert_eq!(probe.check(msg, &config, None).0, Check::Clean, "{msg}");
            let mut rw = Rewriter {
                max_depth: 4,
                max_fields: 6,
                fields: 0,
                reasons: 0,
            };
            let mut out = Vec::new();
            rw.object(&mut out, msg, 1).expect("valid");
            assert_eq!(rw.reasons, 0, "{msg}");
            assert_eq!(
                serde_json::from_slice::<Value>(&out).expect("json"),
                serde_json::from_str::<Value>(msg).expect("json")
            );
        }
        for msg in [
            r#"{"a":{"b":{"c":{"d":{}}}}}"#,
            r#"{"a":[[[[1]]]]}"#,
            r#"{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7}"#,
            r#"{"a.b.c.d.e":1}"#,
            r#"{"a":1,"a":1}"#,
            r#"{"a..b":1}"#,
        ] {
            assert_eq!(
                Probe::default().check(msg, &config, None).0,
                Check::Risky,
                "{msg}"
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn word_at_a_time_scans_agree_with_bytewise_ones(s in "(?s:.{0,40})") {
            let b = s.as_bytes();
            proptest::prop_assert_eq!(key_scan(b).1, b.contains(&b'.'));
            proptest::prop_assert_eq!(has_control(b), b.iter().any(|&c| c < 0x20));
        }

        #[test]
        fn near_miss_lambda_lines_never_panic(
            msg in "\\[?[A-Z]{0,9}\\]?\t?[0-9T:.Z+-]{0,30}\t[0-9a-f-]{0,40}\t[A-Z]{0,9}\t?.{0,70}"
        ) {
            if let Some(p) = lambda_prefix(&msg) {
                proptest::prop_assert!(is_level(p.level) && is_uuid(p.request_id));
            }
            build(&DocumentConfig::default(), &msg);
        }

        #[test]
        fn strings_escape_as_serde_json_does(s in "(?s:.{0,40})", pad in 0usize..9) {
            let s = format!("{}{s}", "a".repeat(pad));
            let mut out = Vec::new();
            push_str(&mut out, &s);
            proptest::prop_assert_eq!(
                String::from_utf8(out).expect("utf8"),
                serde_json::to_string(&s).expect("json")
            );
        }
    }

    #[test]
    fn every_control_character_escapes_as_serde_json_does() {
        let all: String = (0u8..128)
            .map(char::from)
            .chain(['\u{e9}', '\u{2028}', '\u{1f600}'])
            .collect();
        for start in 0..8 {
            let s = &all[start..];
            let mut out = Vec::new();
            push_str(&mut out, s);
            assert_eq!(
                String::from_utf8(out).expect("utf8"),
                serde_json::to_string(s).expect("json")
            );
        }
    }

    #[test]
    fn timestamps() {
        let mut out = Vec::new();
        for ms in [
            0,
            1_764_064_800_123,
            -1,
            253_402_300_799_999,
            253_402_300_800_000,
        ] {
            out.clear();
            push_rfc3339(&mut out, ms);
            assert_eq!(
                String::from_utf8_lossy(&out),
                UtcTime::from_millis(ms).rfc3339()
            );
        }
    }

    #[test]
    fn quarantine_documents() {
        let b = batch("/aws/lambda/app");
        let msg = format!("2025-11-25T10:00:00.000Z\t{REQ}\tERROR\t{{\"a\":{{\"b\":1}}}}");
        let mut original = Vec::new();
        DocumentBuilder::new(&DocumentConfig::default(), "eu-west-1", &b)
            .push(&mut original, &event(&msg));
        let q = quarantine_document(
            &original,
            "cwl-aws-lambda-app-2025.11.25",
            "mapper_parsing_exception",
            "failed to parse field [json.a] of type [long]",
        );
        assert!(!q.contains(&b'\n'));
        let Strict(q) = serde_json::from_slice(&q).expect("strict JSON");
        let original_text = String::from_utf8(original).expect("utf8");
        assert_eq!(
            q,
            json!({
                "@timestamp": "2025-11-25T10:00:00.000Z",
                "message": msg,
                "event": {
                    "id": "36000000000000000000000000000000000000000000000000000001",
                    "original": original_text.trim_end(),
                },
                "log": {"level": "ERROR"},
                "cloud": {"provider": "aws", "account": {"id": "123456789012"}, "region": "eu-west-1"},
                "aws": {
                    "cloudwatch": {"log_group": "/aws/lambda/app", "log_stream": "s"},
                    "lambda": {"request_id": REQ}
                },
                "error": {"type": "mapper_parsing_exception", "message": "failed to parse field [json.a] of type [long]"},
                "cwlogs": {"original_index": "cwl-aws-lambda-app-2025.11.25"}
            })
        );
    }

    #[test]
    fn quarantine_documents_take_only_strings_from_anything() {
        for original in [
            &b"not json \xff"[..],
            b"[1,2]",
            br#"{"@timestamp":12,"message":{"a":1},"cloud":"x","aws":{"cloudwatch":[1]},"event":{"id":7}}"#,
            br#"{"@timestamp":"yesterday","json":{"deep":{"x":1}}}"#,
        ] {
            let q = quarantine_document(original, "i", "t", "r");
            let Strict(q) = serde_json::from_slice(&q).expect("strict JSON");
            let keys: Vec<&str> = q.as_object().map_or(vec![], |o| o.keys().map(String::as_str).collect());
            assert_eq!(keys, ["@timestamp", "cwlogs", "error", "event"], "{q}");
            assert_eq!(q["@timestamp"], "1970-01-01T00:00:00.000Z");
            assert_eq!(q["event"]["original"], String::from_utf8_lossy(original).as_ref());
        }
    }

    /// Depth of a JSON value, counting objects and arrays.
    fn depth(v: &Value) -> usize {
        match v {
            Value::Object(m) => 1 + m.values().map(depth).max().unwrap_or(0),
            Value::Array(a) => 1 + a.iter().map(depth).max().unwrap_or(0),
            _ => 0,
        }
    }

    /// Object members at any depth.
    fn fields(v: &Value) -> usize {
        match v {
            Value::Object(m) => m.len() + m.values().map(fields).sum::<usize>(),
            Value::Array(a) => a.iter().map(fields).sum(),
            _ => 0,
        }
    }

    /// Keys the cluster rejects, anywhere in `v`.
    fn bad_keys(v: &Value) -> bool {
        match v {
            Value::Object(m) => m.iter().any(|(k, v)| key_dots(k).is_none() || bad_keys(v)),
            Value::Array(a) => a.iter().any(bad_keys),
            _ => false,
        }
    }

    fn json_text() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let key = prop_oneof![
            "[a-c]{1,2}",
            Just(String::new()),
            Just(".".to_string()),
            Just("a..b".to_string()),
            Just(" ".to_string()),
            "[a-b.]{1,4}",
            Just("_id".to_string()),
        ];
        let leaf = prop_oneof![
            Just("null".to_string()),
            Just("true".to_string()),
            any::<i64>().prop_map(|n| n.to_string()),
            Just("1.5e3".to_string()),
            Just("123456789012345678901234567890".to_string()),
            any::<String>().prop_map(|s| serde_json::to_string(&s).unwrap_or_default()),
        ];
        leaf.prop_recursive(14, 120, 6, move |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4)
                    .prop_map(|v| format!("[{}]", v.join(","))),
                proptest::collection::vec((key.clone(), inner, "[ \n\t]{0,1}"), 0..6).prop_map(
                    |v| {
                        let members: Vec<String> = v
                            .iter()
                            .map(|(k, v, ws)| {
                                format!("{ws}{}:{v}", serde_json::to_string(k).unwrap_or_default())
                            })
                            .collect();
                        format!("{{{}}}", members.join(","))
                    }
                ),
            ]
        })
    }

    use proptest::strategy::Strategy as _;

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]

        #[test]
        fn every_document_is_one_valid_line(
            body in proptest::prop_oneof![
                json_text(),
                proptest::prelude::any::<String>(),
                json_text().prop_map(|j| format!("2025-11-25T10:00:00.000Z\t{REQ}\tERROR\t{j}\n")),
                json_text().prop_map(|j| format!("[INFO]\t2025-11-25T10:00:00.000Z\t{REQ}\t{j}")),
                json_text().prop_map(|j| format!("{j}x")),
            ],
            max_depth in 1usize..6,
            max_fields in 1usize..12,
            key in proptest::prop_oneof![
                proptest::strategy::Just(Some("json")),
                proptest::strategy::Just(Some("a.b")),
                proptest::strategy::Just(None::<&'static str>),
            ],
        ) {
            let config = DocumentConfig {
                json_key: key.map(str::to_string),
                max_depth,
                max_fields,
                extract: Vec::new(),
                shape: crate::shape::ShapeConfig::default(),
            };
            let (_, doc) = build_in(&config, "g", &body);
            let fields_at = match key {
                Some("a.b") => &doc["a"]["b"],
                _ => &doc["json"],
            };
            if !fields_at.is_null() {
                proptest::prop_assert!(depth(fields_at) <= max_depth, "{}", fields_at);
                proptest::prop_assert!(fields(fields_at) <= max_fields, "{}", fields_at);
                proptest::prop_assert!(!bad_keys(fields_at), "{}", fields_at);
            }
            proptest::prop_assert!(depth(&doc) <= max_depth + 2);
        }
    }
}
