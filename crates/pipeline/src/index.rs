//! Index names, document ids, documents and `_bulk` bodies.

use crate::config::IndexConfig;
use crate::document::DocumentBuilder;
use crate::json::push_str;
use crate::time::UtcTime;
use cwlogs_decode::LogBatch;
use sha2::{Digest, Sha256};

/// The longest index name OpenSearch and Elasticsearch accept, in bytes.
pub const MAX_INDEX_NAME: usize = 255;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    LogGroup,
    Account,
    Region,
    Date(Vec<DatePart>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DatePart {
    Year,
    Month,
    Day,
    Hour,
    Sep(char),
}

/// An index name template such as `cwl-{log_group}-{yyyy.MM.dd}`.
///
/// Placeholders: `{log_group}`, `{account}`, `{region}`, and a date of the event time (UTC)
/// built from `yyyy`, `MM`, `dd`, `HH` and the separators `.`, `-`, `_`. The rendered name is
/// made valid for OpenSearch and Elasticsearch: lowercase, characters other than
/// `a-z 0-9 . _ - +` replaced by `-`, no leading `-`, `_`, `+` or `.`, at most 255 bytes
/// (longer names keep a prefix and a hash of the whole).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexTemplate {
    parts: Vec<Part>,
    hourly: bool,
}

impl Default for IndexTemplate {
    fn default() -> Self {
        IndexTemplate::parse("cwl-{log_group}-{yyyy.MM.dd}").expect("the default template is valid")
    }
}

impl IndexTemplate {
    /// Parses a template; the error says which placeholder is wrong.
    pub fn parse(text: &str) -> Result<IndexTemplate, String> {
        let mut parts = Vec::new();
        let mut rest = text;
        while !rest.is_empty() {
            match rest.find('{') {
                Some(0) => {
                    let end = rest
                        .find('}')
                        .ok_or_else(|| format!("unclosed `{{` in index template `{text}`"))?;
                    let name = &rest[1..end];
                    parts.push(match name {
                        "log_group" => Part::LogGroup,
                        "account" | "owner" => Part::Account,
                        "region" => Part::Region,
                        _ => Part::Date(parse_date(name).ok_or_else(|| {
                            format!(
                                "unknown placeholder `{{{name}}}` in index template: use {{log_group}}, {{account}}, {{region}} or a date such as {{yyyy.MM.dd}}"
                            )
                        })?),
                    });
                    rest = &rest[end + 1..];
                }
                Some(n) => {
                    parts.push(Part::Literal(rest[..n].to_string()));
                    rest = &rest[n..];
                }
                None => {
                    if rest.contains('}') {
                        return Err(format!("unmatched `}}` in index template `{text}`"));
                    }
                    parts.push(Part::Literal(rest.to_string()));
                    rest = "";
                }
            }
        }
        if parts.is_empty() {
            return Err("the index template is empty".into());
        }
        let hourly = parts
            .iter()
            .any(|p| matches!(p, Part::Date(d) if d.contains(&DatePart::Hour)));
        Ok(IndexTemplate { parts, hourly })
    }

    /// The default quarantine index: `cwl-quarantine-{yyyy.MM.dd}`.
    pub fn quarantine() -> IndexTemplate {
        IndexTemplate::parse("cwl-quarantine-{yyyy.MM.dd}")
            .expect("the quarantine template is valid")
    }

    /// The text before the first placeholder, sanitised as index names are (`cwl-` for the
    /// default template): what every rendered name starts with.
    pub fn literal_prefix(&self) -> String {
        match self.parts.first() {
            Some(Part::Literal(s)) => {
                let name = sanitize_index_name(s);
                if name == "cwl" && !s.to_ascii_lowercase().starts_with("cwl") {
                    String::new()
                } else {
                    name
                }
            }
            _ => String::new(),
        }
    }

    /// Whether the template contains a date placeholder.
    pub fn has_date(&self) -> bool {
        self.parts.iter().any(|p| matches!(p, Part::Date(_)))
    }

    /// The span of time one rendered name covers, in milliseconds (a day, or an hour when the
    /// template uses `HH`): events in the same span of the same batch share a name.
    fn granularity(&self) -> i64 {
        if self.hourly { 3_600_000 } else { 86_400_000 }
    }

    /// Renders the index name for an event of `batch` at `timestamp`.
    pub fn render(&self, batch: &LogBatch<'_>, region: &str, timestamp: i64) -> String {
        self.render_for(&batch.owner, &batch.log_group, region, timestamp)
    }

    /// Renders the index name for an event of `log_group` in account `owner` at `timestamp`.
    pub fn render_for(&self, owner: &str, log_group: &str, region: &str, timestamp: i64) -> String {
        let t = UtcTime::from_millis(timestamp);
        let mut name = String::with_capacity(64);
        for part in &self.parts {
            match part {
                Part::Literal(s) => name.push_str(s),
                Part::LogGroup => name.push_str(log_group.trim_matches('/')),
                Part::Account => name.push_str(owner),
                Part::Region => name.push_str(region),
                Part::Date(d) => {
                    for p in d {
                        match p {
                            DatePart::Year => name.push_str(&format!("{:04}", t.year)),
                            DatePart::Month => name.push_str(&format!("{:02}", t.month)),
                            DatePart::Day => name.push_str(&format!("{:02}", t.day)),
                            DatePart::Hour => name.push_str(&format!("{:02}", t.hour)),
                            DatePart::Sep(c) => name.push(*c),
                        }
                    }
                }
            }
        }
        sanitize_index_name(&name)
    }
}

fn parse_date(spec: &str) -> Option<Vec<DatePart>> {
    let mut out = Vec::new();
    let mut rest = spec;
    while !rest.is_empty() {
        let (part, len) = if rest.starts_with("yyyy") {
            (DatePart::Year, 4)
        } else if rest.starts_with("MM") {
            (DatePart::Month, 2)
        } else if rest.starts_with("dd") {
            (DatePart::Day, 2)
        } else if rest.starts_with("HH") {
            (DatePart::Hour, 2)
        } else if let Some(c @ ('.' | '-' | '_')) = rest.chars().next() {
            (DatePart::Sep(c), 1)
        } else {
            return None;
        };
        out.push(part);
        rest = &rest[len..];
    }
    (!out.is_empty()).then_some(out)
}

/// Makes `name` a valid index name (see [`IndexTemplate`]).
pub fn sanitize_index_name(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-' | '+') {
                c
            } else {
                '-'
            }
        })
        .collect();
    let trimmed = out.trim_start_matches(['-', '_', '+', '.']).len();
    out.drain(..out.len() - trimmed);
    if out.is_empty() {
        out.push_str("cwl");
    }
    if out.len() > MAX_INDEX_NAME {
        let hash: String = Sha256::digest(out.as_bytes())[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        out.truncate(MAX_INDEX_NAME - 17);
        out.push('-');
        out.push_str(&hash);
    }
    out
}

/// The document `_id` of an event: 32 hex digits of SHA-256 over log group, stream and event
/// id. Deterministic, so a redelivered event is recognised (`create` answers 409).
pub fn doc_id(log_group: &str, log_stream: &str, event_id: &str) -> String {
    let mut hex = Vec::with_capacity(32);
    DocIds::new(log_group, log_stream).push(&mut hex, event_id);
    hex.into_iter().map(char::from).collect()
}

/// The [`doc_id`]s of one log stream: the hash state after the group and the stream is
/// computed once per batch, and each id is written in place.
struct DocIds(Sha256);

impl DocIds {
    fn new(log_group: &str, log_stream: &str) -> DocIds {
        let mut h = Sha256::new();
        h.update(log_group.as_bytes());
        h.update([0]);
        h.update(log_stream.as_bytes());
        h.update([0]);
        DocIds(h)
    }

    /// Appends the 32 hex digits of the id of `event_id`.
    fn push(&self, out: &mut Vec<u8>, event_id: &str) {
        let mut h = self.0.clone();
        h.update(event_id.as_bytes());
        for b in &h.finalize()[..16] {
            out.push(b"0123456789abcdef"[usize::from(b >> 4)]);
            out.push(b"0123456789abcdef"[usize::from(b & 15)]);
        }
    }
}

/// `_bulk` items (action line + document line) for one index.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BulkChunk {
    /// The target index.
    pub index: String,
    /// NDJSON: `{"create":{...}}\n{document}\n` per item.
    pub body: Vec<u8>,
    /// End offset in `body` of each item, so bodies can be split between items.
    pub ends: Vec<usize>,
}

impl BulkChunk {
    /// The items, each an action line and a document line.
    pub fn items(&self) -> impl Iterator<Item = &[u8]> + '_ {
        let mut start = 0;
        self.ends.iter().map(move |&end| {
            let item = &self.body[start..end];
            start = end;
            item
        })
    }
}

/// Builds the `_bulk` items of a batch, grouped by target index in first-seen order.
///
/// The action is `create` with [`doc_id`] and the index from `config.index`; the document is
/// built by [`DocumentBuilder`] from `config.documents` (ECS metadata, the message, and the
/// message's JSON or extracted fields under `json_key`).
pub fn bulk_chunks(config: &IndexConfig, region: &str, batch: &LogBatch<'_>) -> Vec<BulkChunk> {
    let template = &config.index;
    let mut documents = DocumentBuilder::new(&config.documents, region, batch);
    let ids = DocIds::new(&batch.log_group, &batch.log_stream);
    // Size the bodies once: metadata, the message with room for escapes, and once more for
    // messages that may be JSON (text and fields).
    let capacity: usize = batch
        .log_events
        .iter()
        .map(|e| {
            let m = e.message.as_bytes();
            let json = m.first() == Some(&b'{') || (m.len() > 60 && m[4] == b'-');
            512 + m.len() + m.len() / 4 + if json { m.len() } else { 0 }
        })
        .sum();

    let span = template.granularity();
    let mut chunks: Vec<BulkChunk> = Vec::new();
    let mut current: Option<(i64, usize)> = None; // (time span, chunk index)
    for e in &batch.log_events {
        let bucket = e.timestamp.div_euclid(span);
        let at = match current {
            Some((b, i)) if b == bucket => i,
            _ => {
                let name = template.render(batch, region, e.timestamp);
                let i = match chunks.iter().position(|c| c.index == name) {
                    Some(i) => i,
                    None => {
                        chunks.push(BulkChunk {
                            index: name,
                            body: Vec::with_capacity(capacity),
                            ends: Vec::with_capacity(batch.log_events.len()),
                        });
                        chunks.len() - 1
                    }
                };
                current = Some((bucket, i));
                i
            }
        };
        let chunk = &mut chunks[at];
        let out = &mut chunk.body;
        out.extend_from_slice(b"{\"create\":{\"_index\":");
        push_str(out, &chunk.index);
        if config.document_ids {
            out.extend_from_slice(b",\"_id\":\"");
            ids.push(out, &e.id);
            out.extend_from_slice(b"\"}}\n");
        } else {
            out.extend_from_slice(b"}}\n");
        }
        documents.push(out, e);
        chunk.ends.push(out.len());
    }
    chunks
}

#[cfg(test)]
mod tests {
    use super::*;
    use cwlogs_decode::{LogEvent, MessageType};

    fn batch(times: &[i64]) -> LogBatch<'static> {
        LogBatch {
            message_type: MessageType::Data,
            owner: "123456789012".into(),
            log_group: "/aws/lambda/Checkout".into(),
            log_stream: "s".into(),
            subscription_filters: vec![],
            policy_level: None,
            region: None,
            log_events: times
                .iter()
                .enumerate()
                .map(|(i, &t)| LogEvent {
                    id: format!("{i:056}").into(),
                    timestamp: t,
                    message: format!("msg \"{i}\"").into(),
                })
                .collect(),
        }
    }

    fn index_config() -> IndexConfig {
        crate::Config::builtin(&|_| None)
            .index
            .expect("indexing is on by default")
    }

    #[test]
    fn template_rendering() {
        let b = batch(&[1_764_028_800_000]);
        let t = IndexTemplate::default();
        assert_eq!(
            t.render(&b, "eu-west-1", 1_764_028_800_000),
            "cwl-aws-lambda-checkout-2025.11.25"
        );
        let t = IndexTemplate::parse("logs-{account}-{region}-{yyyy-MM-dd_HH}").expect("valid");
        assert_eq!(
            t.render(&b, "eu-west-1", 1_764_028_800_000),
            "logs-123456789012-eu-west-1-2025-11-25_00"
        );
        assert!(
            IndexTemplate::parse("x-{date}")
                .expect_err("bad")
                .contains("{date}")
        );
        assert!(IndexTemplate::parse("x-{yyyy").is_err());
        assert!(IndexTemplate::parse("x-}").is_err());
        assert!(IndexTemplate::parse("").is_err());
    }

    #[test]
    fn sanitizing() {
        assert_eq!(sanitize_index_name("_A B#C:d*"), "a-b-c-d-");
        assert_eq!(sanitize_index_name("---"), "cwl");
        let long = sanitize_index_name(&"x".repeat(400));
        assert_eq!(long.len(), MAX_INDEX_NAME);
    }

    #[test]
    fn ids_can_be_left_to_the_cluster() {
        let mut config = crate::Config::builtin(&|_| None).index.expect("index");
        config.document_ids = false;
        let chunks = bulk_chunks(&config, "r", &batch(&[1_764_028_800_000]));
        let text = String::from_utf8(chunks[0].body.clone()).expect("utf8");
        let action: serde_json::Value =
            serde_json::from_str(text.lines().next().expect("line")).expect("json");
        assert!(action["create"].get("_id").is_none(), "{action}");
        assert!(action["create"]["_index"].is_string());
    }

    #[test]
    fn ids_are_deterministic_and_distinct() {
        let a = doc_id("g", "s", "1");
        assert_eq!(a, doc_id("g", "s", "1"));
        assert_eq!(a.len(), 32);
        assert_ne!(a, doc_id("g", "s1", ""));
        assert_ne!(a, doc_id("gs", "", "1"));
        // Known value: the first 16 bytes of SHA-256("g\0s\01").
        assert_eq!(a, "b8612a68d6cebfcfe10b5d49d6c2e678");
    }

    #[test]
    fn bulk_body_shape() {
        let b = batch(&[1_764_028_800_000, 1_764_028_801_000]);
        let chunks = bulk_chunks(&index_config(), "eu-west-1", &b);
        assert_eq!(chunks.len(), 1);
        let c = &chunks[0];
        assert_eq!(c.items().count(), 2);
        let text = String::from_utf8(c.body.clone()).expect("utf8");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4);
        let action: serde_json::Value = serde_json::from_str(lines[0]).expect("action");
        assert_eq!(
            action["create"]["_index"],
            "cwl-aws-lambda-checkout-2025.11.25"
        );
        assert_eq!(
            action["create"]["_id"],
            doc_id("/aws/lambda/Checkout", "s", &"0".repeat(56))
        );
        let doc: serde_json::Value = serde_json::from_str(lines[1]).expect("doc");
        assert_eq!(
            doc,
            serde_json::json!({
                "@timestamp": "2025-11-25T00:00:00.000Z",
                "message": "msg \"0\"",
                "event": {"id": "0".repeat(56)},
                "cloud": {"provider": "aws", "account": {"id": "123456789012"}, "region": "eu-west-1"},
                "aws": {"cloudwatch": {"log_group": "/aws/lambda/Checkout", "log_stream": "s"}}
            })
        );
    }

    #[test]
    fn events_split_by_day() {
        let day = 86_400_000;
        let b = batch(&[
            1_764_028_800_000 - 1,
            1_764_028_800_000,
            1_764_028_800_000 - 2,
            1_764_028_800_000 + day,
        ]);
        let chunks = bulk_chunks(&index_config(), "r", &b);
        let names: Vec<(&str, usize)> = chunks
            .iter()
            .map(|c| (c.index.as_str(), c.ends.len()))
            .collect();
        assert_eq!(
            names,
            [
                ("cwl-aws-lambda-checkout-2025.11.24", 2),
                ("cwl-aws-lambda-checkout-2025.11.25", 1),
                ("cwl-aws-lambda-checkout-2025.11.26", 1)
            ]
        );
    }
}
