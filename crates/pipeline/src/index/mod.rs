//! `[index]`: every event as an OpenSearch / Elasticsearch document, sent in `_bulk` requests
//! that lose and duplicate nothing.
//!
//! | file | what |
//! | --- | --- |
//! | `config.rs` | the section, checked into [`IndexConfig`] |
//! | `names.rs` | index name patterns (`cwl-{log_group}-{yyyy.MM.dd}`) |
//! | `document/` | what one event becomes: the builder, Lambda runtime lines, the validating probe, the rewrite of unsafe JSON |
//! | this file | document ids and the `_bulk` items of a batch ([`bulk_chunks`]) |
//! | `response.rs` | what a `_bulk` answer means, item by item (pure) |
//! | `send.rs` | the send loop: cut, compress, retry, split, quarantine |
//! | `quarantine.rs` | the document stored for one the cluster rejected for its mapping |
//! | `mapping.rs` | the index templates installed on the cluster |

mod config;
pub mod document;
pub mod mapping;
pub mod names;
pub mod quarantine;
pub mod response;
pub mod send;

pub(crate) use config::RawIndex;
pub use config::{DocumentConfig, Extract, IndexAuth, IndexConfig};
pub use document::{DocumentBuilder, RESERVED_FIELDS};
pub use mapping::mapping_templates;
pub use names::{IndexNamePattern, MAX_INDEX_NAME, sanitize_index_name};
pub use quarantine::{quarantine_document, quarantine_item};
pub use response::{ItemClass, ResponseClass, classify_item, classify_response};
pub use send::{BulkOptions, BulkReport, Fate, index_items, send_items};

use crate::patterns::Miner;
use crate::util::json::push_str;
use cwlogs_decode::{LogBatch, LogEvent};
use sha2::{Digest, Sha256};
use std::borrow::Cow;

/// The document `_id` of an event: 32 hex digits of SHA-256 over log group, stream and event
/// id. Deterministic, so a redelivered event is recognised (`create` answers 409).
pub fn doc_id(log_group: &str, log_stream: &str, event_id: &str) -> String {
    let mut hex = Vec::with_capacity(32);
    DocIds::new(log_group, log_stream).push(&mut hex, event_id);
    hex.into_iter().map(char::from).collect()
}

/// The [`doc_id`]s of one log stream: the hash state after the group and the stream is
/// computed once per batch, and each id is written in place.
pub(crate) struct DocIds(Sha256);

impl DocIds {
    pub(crate) fn new(log_group: &str, log_stream: &str) -> DocIds {
        let mut h = Sha256::new();
        h.update(log_group.as_bytes());
        h.update([0]);
        h.update(log_stream.as_bytes());
        h.update([0]);
        DocIds(h)
    }

    /// Appends the 32 hex digits of the id of `event_id`.
    pub(crate) fn push(&self, out: &mut Vec<u8>, event_id: &str) {
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
/// built by [`DocumentBuilder`] from `config.documents` (ECS metadata, the message, the
/// message's JSON or extracted fields under `json_key`, and what `[parse]` and `[[enrich]]`
/// add). With a `[[parse.multiline]]` entry for the batch's log group, continuation lines are
/// merged into the event before them first ([`crate::shape::multiline`]): one document, with
/// the first event's id and time, per run.
pub fn bulk_chunks(config: &IndexConfig, region: &str, batch: &LogBatch<'_>) -> Vec<BulkChunk> {
    bulk_chunks_with(config, region, batch, None)
}

/// [`bulk_chunks`], with each document's message (after `[[parse.multiline]]` merging)
/// observed by `miner` (`[patterns]`), in order: the document carries its pattern's id in
/// `cwlogs.pattern.id`. The miner is the caller's, kept across batches.
pub fn bulk_chunks_with(
    config: &IndexConfig,
    region: &str,
    batch: &LogBatch<'_>,
    miner: Option<&mut Miner>,
) -> Vec<BulkChunk> {
    bulk_chunks_counted(config, region, batch, miner).0
}

/// [`bulk_chunks_with`], and what `[redact]` replaced in these documents, per detector (the
/// counts of this batch alone, whatever other batches are built at the same time).
pub fn bulk_chunks_counted(
    config: &IndexConfig,
    region: &str,
    batch: &LogBatch<'_>,
    mut miner: Option<&mut Miner>,
) -> (Vec<BulkChunk>, crate::redact::RedactCounts) {
    let template = &config.index;
    let mut documents = DocumentBuilder::new(&config.documents, region, batch);
    let ids = DocIds::new(&batch.log_group, &batch.log_stream);
    // Size the bodies once: metadata, the message with room for escapes, and once more for
    // messages that may be JSON (text and fields).
    // The parsers of `[parse]` add up to a few hundred bytes.
    let parsed = if config.documents.shape.formats.any() {
        384
    } else {
        0
    };
    // `cwlogs.pattern.id` with `[patterns]` (a body that outgrows its capacity is copied
    // whole into one twice its size).
    let pattern = if miner.is_some() { 64 } else { 0 };
    let capacity: usize = batch
        .log_events
        .iter()
        .map(|e| {
            let m = e.message.as_bytes();
            let json = m.first() == Some(&b'{') || (m.len() > 60 && m[4] == b'-');
            512 + parsed + pattern + m.len() + m.len() / 4 + if json { m.len() } else { 0 }
        })
        .sum();

    let span = template.granularity();
    let mut chunks: Vec<BulkChunk> = Vec::new();
    let mut current: Option<(i64, usize)> = None; // (time span, chunk index)
    // `[[parse.multiline]]`: the documents are runs of events merged into one (index only).
    let runs = config
        .documents
        .shape
        .multiline_for(&batch.log_group)
        .map(|m| m.spans(&batch.log_events));
    let mut next = 0;
    loop {
        let (merged, events) = match &runs {
            None => match batch.log_events.get(next) {
                Some(_) => (None, next..next + 1),
                None => break,
            },
            Some(runs) => match runs.get(next) {
                Some(r) if r.len() > 1 => {
                    let all = &batch.log_events[r.clone()];
                    let merged = LogEvent {
                        id: all[0].id.clone(),
                        timestamp: all[0].timestamp,
                        message: Cow::Owned(crate::shape::multiline::merged_message(all)),
                    };
                    (Some(merged), r.clone())
                }
                Some(r) => (None, r.clone()),
                None => break,
            },
        };
        next += 1;
        let count = events.len();
        let e = merged.as_ref().unwrap_or(&batch.log_events[events.start]);
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
        match miner.as_deref_mut() {
            Some(m) => documents.push_merged_observed(out, e, count, m, &batch.log_group),
            None => documents.push_merged(out, e, count),
        }
        chunk.ends.push(out.len());
    }
    (chunks, documents.take_redacted())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::names::IndexNamePattern;
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
        let t = IndexNamePattern::default();
        assert_eq!(
            t.render(&b, "eu-west-1", 1_764_028_800_000),
            "cwl-aws-lambda-checkout-2025.11.25"
        );
        let t = IndexNamePattern::parse("logs-{account}-{region}-{yyyy-MM-dd_HH}").expect("valid");
        assert_eq!(
            t.render(&b, "eu-west-1", 1_764_028_800_000),
            "logs-123456789012-eu-west-1-2025-11-25_00"
        );
        assert!(
            IndexNamePattern::parse("x-{date}")
                .expect_err("bad")
                .to_string()
                .contains("{date}")
        );
        assert!(IndexNamePattern::parse("x-{yyyy").is_err());
        assert!(IndexNamePattern::parse("x-}").is_err());
        assert!(IndexNamePattern::parse("").is_err());
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
