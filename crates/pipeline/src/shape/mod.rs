//! `[parse]` and `[[enrich]]`: what an event is indexed as beyond its message. Built-in
//! parsers turn AWS formats into typed ECS fields, continuation lines are merged into the event
//! they continue, and fields are added per log group. Pure, like the rest of the crate; the
//! archive never sees any of it (it keeps every event as delivered).
//!
//! | file | what |
//! | --- | --- |
//! | `config.rs` | `[parse]`, `[[parse.vpc_flow]]`, `[[parse.multiline]]`, `[[enrich]]` and its `accounts`, checked into [`ShapeConfig`] |
//! | `vpc_flow.rs` | VPC flow log records: the default format and custom `${field}` formats (every field of versions 2 to 8) |
//! | `lambda_platform.rs` | Lambda's `START`, `END` and `REPORT` lines and the JSON log format's `platform.*` events |
//! | `cloudtrail.rs` | CloudTrail records in JSON messages |
//! | `capture.rs` | what the JSON parsers take from the document builder's one pass over a JSON message |
//! | `multiline.rs` | continuation lines merged into the event before them (index only) |
//! | `enrich.rs` | fields added per log group, and account names |
//!
//! The document builder (`index::document`) makes one [`Shaper`] per batch and asks it, per
//! event, for the fields of the message: [`Shaper::parse_text`] for text messages,
//! [`Shaper::parse_json`] with what its JSON pass captured for JSON ones. The fields come back
//! as JSON members ready to splice into the objects the document already has ([`Parsed`]), so
//! that a document never names a key twice.
//!
//! # Rules every parser keeps
//!
//! - A format is recognised by a cheap prefilter that allocates nothing (`2 ` and an account
//!   id for the default flow log format, `REPORT RequestId: ` and its kin for Lambda lines, the
//!   `eventVersion` and `eventSource` keys of a JSON object for CloudTrail, a `platform.` type
//!   for Lambda's JSON events).
//! - A message the prefilter takes but that does not parse gets `cwlogs.parse_error`
//!   (`vpc-flow: field 7 (dstport) is not a port`) and no typed field at all: never a partial
//!   record, never a value of the wrong type (so the index template's `ip`, `long`, `double`
//!   and `date` mappings never reject a document).
//! - Every value is checked for its type before it is written: IP addresses parse as IPv4 or
//!   IPv6, ports fit 16 bits, counts 64 bits, times fall in years 1970-9999, keywords are at
//!   most 1024 bytes, numbers are copied as AWS wrote them only when they are valid JSON.

pub mod capture;
pub mod cloudtrail;
pub mod config;
pub mod enrich;
pub mod lambda_platform;
pub mod multiline;
pub mod vpc_flow;

pub use config::{Formats, ShapeConfig};
pub(crate) use config::{RawEnrichList, RawParse};

use crate::util::json::push_str;
use capture::{Capture, JsonKinds};
use std::fmt::Write as _;

/// The longest keyword value a parser writes (the index template's `ignore_above`); a longer
/// one makes the record a parse error.
pub const MAX_KEYWORD: usize = 1024;

/// The fields parsed from one message, as JSON members ready to splice into the document's
/// objects. Only one format parses a message, and each format writes distinct keys.
#[derive(Debug, Default, Clone)]
pub struct Parsed {
    /// Members of the document's `event` object, each preceded by `,`.
    pub event: Vec<u8>,
    /// Members of the document's `aws` object (written before `cloudwatch`), each followed
    /// by `,`.
    pub aws: Vec<u8>,
    /// Top-level members (`source`, `destination`, `network`, `user_agent`, `trace`), each
    /// preceded by `,`.
    pub top: Vec<u8>,
    /// The parse error (`cwlogs.parse_error`); empty when the message parsed or was not
    /// recognised.
    pub error: String,
}

impl Parsed {
    /// Forgets the last message's fields.
    pub fn clear(&mut self) {
        self.event.clear();
        self.aws.clear();
        self.top.clear();
        self.error.clear();
    }

    /// Whether there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.event.is_empty() && self.aws.is_empty() && self.top.is_empty() && self.error.is_empty()
    }

    /// Drops every field written so far and records why the message did not parse.
    pub(crate) fn fail(&mut self, format: &str, why: std::fmt::Arguments<'_>) {
        self.clear();
        let _ = write!(self.error, "{format}: {why}");
    }
}

/// The shaping of one batch: the parsers that apply to its log group, its enrichment (rendered
/// once), and the fields of the last message parsed.
#[derive(Debug)]
pub struct Shaper<'c> {
    /// The custom flow log formats whose log groups take the batch, in configuration order.
    flow: Vec<&'c vpc_flow::FlowFormat>,
    /// The default flow log format is recognised.
    default_flow: bool,
    /// Lambda `START` / `END` / `REPORT` lines are recognised.
    lambda_text: bool,
    json: JsonKinds,
    /// `[[enrich]]` fields and the account name, rendered for the batch.
    pub enriched: enrich::Enriched,
    /// The fields of the last message.
    pub parsed: Parsed,
    scratch: vpc_flow::Scratch,
}

impl<'c> Shaper<'c> {
    /// Prepares the shaping of a batch of `log_group`, owned by `account`, recorded in `region`.
    pub fn new(config: &'c ShapeConfig, log_group: &str, account: &str, region: &str) -> Self {
        let f = config.formats;
        let flow = if f.vpc_flow {
            config
                .vpc_flow
                .iter()
                .filter(|c| {
                    c.log_groups.is_empty() || c.log_groups.iter().any(|g| g.matches(log_group))
                })
                .map(|c| &c.format)
                .collect()
        } else {
            Vec::new()
        };
        Shaper {
            flow,
            default_flow: f.vpc_flow,
            lambda_text: f.lambda_platform,
            json: JsonKinds {
                cloudtrail: f.cloudtrail,
                platform: f.lambda_platform,
            },
            enriched: config.enrich.render(log_group, account, region),
            parsed: Parsed::default(),
            scratch: vpc_flow::Scratch::default(),
        }
    }

    /// The JSON parsers that are on: what the document builder's JSON pass should capture.
    pub fn json_kinds(&self) -> JsonKinds {
        self.json
    }

    /// Forgets the last message's fields (a message no parser looks at).
    pub fn clear(&mut self) {
        self.parsed.clear();
    }

    /// Parses a text message (one that is not a JSON object) into [`Shaper::parsed`].
    pub fn parse_text(&mut self, message: &str) {
        self.parsed.clear();
        let b = message.as_bytes();
        if !self.flow.is_empty()
            && vpc_flow::parse_custom(
                &self.flow,
                self.default_flow,
                message,
                &mut self.parsed,
                &mut self.scratch,
            )
        {
            return;
        }
        if self.default_flow && vpc_flow::looks_default(b) {
            if let Err(e) = vpc_flow::parse(
                vpc_flow::FlowFormat::default_format(),
                message,
                &mut self.parsed,
                &mut self.scratch,
            ) {
                e.report(&mut self.parsed);
            }
            return;
        }
        if self.lambda_text {
            lambda_platform::parse_text(message, &mut self.parsed);
        }
    }

    /// Parses what the JSON pass captured from a JSON object message into
    /// [`Shaper::parsed`].
    pub fn parse_json(&mut self, capture: &Capture<'_>) {
        self.parsed.clear();
        if capture.is_empty() {
            return;
        }
        if self.json.cloudtrail && cloudtrail::parse(capture, &mut self.parsed) {
            return;
        }
        if self.json.platform {
            lambda_platform::parse_json(capture, &mut self.parsed);
        }
    }
}

/// Appends `s` as a JSON string: as it is when every byte is a letter, digit, `-`, `_`, `.`,
/// `:` or `/` (ids, addresses: the common case, checked faster than the general quoter
/// scans), else through [`push_str`].
pub(crate) fn push_plain(out: &mut Vec<u8>, s: &str) {
    let plain = s
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':' | b'/'));
    if plain {
        out.reserve(s.len() + 2);
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    } else {
        push_str(out, s);
    }
}

/// Whether `s` is a keyword a parser may write: at most [`MAX_KEYWORD`] bytes.
pub(crate) fn keyword_ok(s: &str) -> bool {
    s.len() <= MAX_KEYWORD
}

/// Whether `s` is an IPv4 or IPv6 address as the standard library reads one (what the `ip`
/// mapping takes): dotted quads by hand (the common case; octets 0-255 without leading
/// zeros, as `std` has them), anything with a `:` through `std`'s parser (at most 45 bytes,
/// the longest IPv6 text). Allocates nothing.
pub fn ip_ok(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() <= 15 && dotted_quad(b) {
        return true;
    }
    b.len() <= 45 && b.contains(&b':') && s.parse::<std::net::Ipv6Addr>().is_ok()
}

/// `a.b.c.d`, each 0-255 without leading zeros.
fn dotted_quad(b: &[u8]) -> bool {
    let mut i = 0;
    for octet in 0..4 {
        let start = i;
        let mut v: u32 = 0;
        while i < b.len() && b[i].is_ascii_digit() && i - start < 3 {
            v = v * 10 + u32::from(b[i] - b'0');
            i += 1;
        }
        let len = i - start;
        if len == 0 || v > 255 || (len > 1 && b[start] == b'0') {
            return false;
        }
        if octet < 3 {
            if b.get(i) != Some(&b'.') {
                return false;
            }
            i += 1;
        }
    }
    i == b.len()
}

#[cfg(test)]
mod tests;
