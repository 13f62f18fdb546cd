//! The cwlogs pipeline: validated configuration, routing, and the pure builders of what every
//! sink sends.
//!
//! Nothing here does I/O. Given a decoded [`LogBatch`] and a [`Config`], [`process_batch`]
//! returns the archive object (key and gzip NDJSON body) and the `_bulk` items the batch turns
//! into; the CLI writes them to local directories, the Lambda functions send them to S3 and
//! OpenSearch. The same inputs always give the same bytes, which is what makes redelivery safe.
//!
//! Rules (`[[rule]]`, [`rules`]) run over the same batches ([`RuleRun`]): their matches become
//! CloudWatch Embedded Metric Format documents ([`rules::metrics`]) and SNS alerts
//! ([`rules::alert`]) that are grouped, summarised per window and rate-limited, with their
//! shared state behind the [`StateStore`] trait and their sending behind [`Publish`] (DynamoDB
//! and SNS in `cwlogs-aws`, memory here).
//!
//! # Layout
//!
//! One module per stage and per destination; each holds its configuration section, its pure
//! builders and what its destination's answers mean. Modules depend downwards only (`util`
//! and `error` at the bottom, `sink` and `route` above them, the destinations and `rules`
//! above those, `config` and `input` on top, this file's `process_batch` as the facade);
//! `scripts/check-modules.py` fails CI on a cycle.
//!
//! | module | what |
//! | --- | --- |
//! | [`config`] | the file's top level: `RawConfig` -> [`Config`], each section checked by its own module |
//! | [`input`] | one delivered input, start to finish: shape, records, batches, dead letters |
//! | [`patterns`] | log patterns: message templates learned online per log group, bounded (issue 21) |
//! | [`route`] | log-group globs and include / exclude patterns, per destination |
//! | [`archive`] | `[archive]`: object keys, gzip NDJSON bodies |
//! | [`index`] | `[index]`: index names, documents, `_bulk` items, the send loop, the quarantine, mappings |
//! | [`redact`] | `[redact]`: secrets and personal data replaced in documents, alerts and metrics (issue 19) |
//! | [`shape`] | `[parse]`, `[[enrich]]`: AWS formats to typed ECS fields, multiline merging, added fields (what is indexed, never the archive) |
//! | [`sources`] | `[sources.s3]`: logs AWS delivers to S3 (CloudTrail, VPC flow, load balancer, WAF) read from the objects as a stream; S3 notifications and Batch Operations tasks |
//! | [`rules`] | `[[rule]]`, packs, `[alerts]`: evaluation, EMF metrics, SNS alerts and their state |
//! | [`sink`] | the seams ([`Archive`], [`sink::BulkTransport`], [`StateStore`], [`Publish`]), [`Class`], [`Backoff`], the AWS error classifier, dead letters, the in-memory doubles |
//! | [`util`] | JSON splicing, UTC time, content hashes |
//! | [`error`] | [`ConfigError`] and the checks' typed errors |
//!
//! **Adding a destination** (say Loki or Kafka): a module beside [`archive`] and [`index`]
//! with its `Raw*` section and `build` (one field in `config::RawConfig` and [`Config`]), its
//! pure request builder, and a classifier of its answers; a seam in [`sink`] when none of the
//! existing traits fits, with an in-memory double there; its output in [`BatchOutput`] and
//! [`process_batch`]. Outside this crate: the I/O implementation in `cwlogs-aws` (or the CLI for
//! a local file), a handler in `cwlogs-lambda` (its `deliver` step and counters; the skeleton
//! does the rest) with a thin `functions/<name>/src/main.rs`, the local sink in `cwlogs replay`,
//! and the infrastructure (`infra/sam`, `infra/cdk`).
//!
//! **Adding a stage** that changes what is indexed (parsing AWS formats, enrichment,
//! redaction, pattern ids): a module of its own (`shape/`, `patterns/`) with its section and
//! `build`, called from [`process_batch`] between the route and the builders, so the CLI and
//! every function run it through one code path. The archive keeps events as delivered.
//!
//! ```
//! use cwlogs_pipeline::{Config, process_batch};
//! use cwlogs_decode::{LogBatch, LogEvent, MessageType};
//!
//! let config = Config::builtin(&|_| None);
//! let batch = LogBatch {
//!     message_type: MessageType::Data,
//!     owner: "123456789012".into(),
//!     log_group: "/aws/lambda/app".into(),
//!     log_stream: "stream".into(),
//!     subscription_filters: vec![],
//!     policy_level: None,
//!     region: None,
//!     log_events: vec![LogEvent { id: "1".into(), timestamp: 1_764_028_800_000, message: "hi".into() }],
//! };
//! let out = process_batch(&config, "eu-west-1", &batch);
//! let object = out.archive.expect("archiving is on by default");
//! assert!(object.key.starts_with("cwl/account=123456789012/region=eu-west-1/log_group=%2Faws%2Flambda%2Fapp/dt=2025-11-25/hour=00/"));
//! assert_eq!(out.bulk[0].index, "cwl-aws-lambda-app-2025.11.25");
//! ```
//!
//! # Input safety
//!
//! - The configuration file is capped at [`config::MAX_CONFIG_BYTES`] and parsed with
//!   unknown keys rejected; every value is range-checked once, at load.
//! - Builders splice strings into JSON with proper escaping (sizes are bounded by the decoder's
//!   gunzip cap).
//! - JSON messages are parsed once when documents are built, with caps from `[index]`:
//!   nesting (`max_depth`, default 10: deeper values are kept as JSON text), fields per document
//!   (`max_fields`, default 500: the rest stay in `message` only), keys the cluster would reject
//!   renamed and duplicate keys reduced to the last; a document where anything was capped says
//!   so in `cwlogs.truncated` ([`index::document`] has the rules). The parse never recurses deeper than
//!   `max_depth` levels, so no nesting, however deep, can exhaust the stack.
//! - The parsers of `[parse]` ([`shape`]) recognise a format with a prefilter that allocates
//!   nothing, split a flow log record into at most 42 fields (a longer record is refused
//!   without reading further), and check every value before writing it: IP addresses as the
//!   standard library parses them, ports within 16 bits, counts and integers within 64 bits
//!   (digits are counted before they are converted), times within years 1970-9999, decimals
//!   of at most 15 + 9 digits, keywords of at most 1024 bytes. A message that does not parse
//!   gets `cwlogs.parse_error` (a fixed text, never the input) and no typed field, so no
//!   document carries a value of the wrong type for the index template. CloudTrail records
//!   and Lambda platform events are read from the document builder's one pass over the
//!   JSON, which still never recurses deeper than `max_depth` (or the three levels those
//!   parsers look into, `record.metrics` the deepest) and skips what is deeper iteratively. No parser allocates per field
//!   beyond the copy of an escaped JSON string it keeps.
//! - `[[parse.multiline]]` merges at most [`shape::multiline::MAX_EVENTS`] events and
//!   [`shape::multiline::MAX_BYTES`] bytes into one document; its regexes are compiled with
//!   1 MiB size limits (the `regex` crate matches in linear time).
//! - Index names are sanitised and capped at 255 bytes; key components are percent-encoded.
//! - Rules: metric dimension values are cut at 255 characters and each rule keeps at most
//!   [`rules::metrics::MAX_DIMENSION_SETS`] dimension sets per run; alert buckets per run are capped
//!   ([`rules::evaluate::MAX_BUCKETS`]) and keep at most
//!   [`rules::evaluate::MAX_CANDIDATES`] events of [`rules::evaluate::MAX_EVENT_TEXT`] bytes
//!   each; SNS messages stay within 256 KB and subjects
//!   within 99 ASCII characters ([`rules::alert`] has the rules).
//!
//! # Errors
//!
//! Configuration errors ([`ConfigError`]) carry the line and column of the fault. Builders
//! cannot fail.

pub mod archive;
pub mod config;
pub mod error;
pub mod index;
pub mod input;
pub mod patterns;
pub mod redact;
pub mod route;
pub mod rules;
pub mod shape;
pub mod sink;
pub mod sources;
pub mod util;

pub use archive::{ArchiveConfig, ArchiveObject, archive_key, archive_lines, archive_object};
pub use config::{Config, DEFAULT_CONFIG, SectionState};
pub use cwlogs_decode::LogBatch;
pub use error::ConfigError;
pub use index::{
    BulkChunk, DocumentBuilder, DocumentConfig, Extract, IndexAuth, IndexConfig, IndexNamePattern,
    bulk_chunks, bulk_chunks_with, doc_id,
};
pub use input::{ProcessedInput, ProcessedRecord, process_input};
pub use patterns::{Miner, PatternsConfig};
pub use route::{Glob, Route};
pub use rules::evaluate::{AlertEvent, Occurrences, RuleRun, RuleStats};
pub use rules::{
    AlertRule, AlertsConfig, GroupKey, MetricRule, RateLimit, Rule, RuleSet, Severity,
};
pub use sink::{
    AlertMessage, Archive, Backoff, Class, DeadLetter, Listed, MemoryArchive, MemoryPublisher,
    MemoryStateStore, Object, Publish, SendError, StateStore, StateWrite, Versioned,
    put_dead_letter,
};

/// Runs a future whose awaits all complete at once (the in-memory sinks and stores never
/// wait), for unit tests without an async runtime.
#[cfg(test)]
pub(crate) fn block_on<F: std::future::Future>(f: F) -> F::Output {
    use std::task::{Context, Poll, Waker};
    let mut f = std::pin::pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

/// What one batch turns into.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BatchOutput {
    /// The archive object, when archiving is on and took at least one event.
    pub archive: Option<ArchiveObject>,
    /// `_bulk` items per target index, when indexing is on.
    pub bulk: Vec<BulkChunk>,
    /// Events the archive's route left out (by log group or pattern).
    pub archive_filtered: usize,
    /// Events the index's route left out (by log group or pattern).
    pub index_filtered: usize,
    /// The batch's log group (for the self-metrics per log group).
    pub log_group: String,
    /// The time of the batch's oldest event, milliseconds since the epoch (for the delivery
    /// lag); `None` for an empty batch.
    pub oldest_ms: Option<i64>,
    /// Values `[redact]` replaced in the indexed documents, per detector.
    pub redacted: redact::RedactCounts,
    /// Values `[redact]` replaced in the archive object's events, per detector (only when
    /// `apply_to` takes `archive`).
    pub archive_redacted: redact::RedactCounts,
}

/// The time of the oldest event of `batch` (events usually come oldest first, but are not
/// trusted to).
pub fn oldest_event_ms(batch: &LogBatch<'_>) -> Option<i64> {
    batch.log_events.iter().map(|e| e.timestamp).min()
}

/// The region to record for a batch: the batch's own (archive lines), the transport's, or the
/// configured fallback, in that order.
pub fn resolve_region<'a>(
    config: &'a Config,
    batch: &'a LogBatch<'_>,
    transport: Option<&'a str>,
) -> &'a str {
    batch
        .region
        .as_deref()
        .or(transport)
        .unwrap_or(&config.region)
}

/// The events of `batch` a route takes, as a batch of its own; `None` when it takes them all
/// (the common case, which costs nothing). Each message is wrapped once in `messages`, so its
/// JSON is parsed at most once however many routes look at it.
fn routed<'a>(
    route: &Route,
    batch: &LogBatch<'a>,
    messages: &[cwlogs_filter::Message<'_>],
) -> Option<LogBatch<'a>> {
    if !route.takes_group(&batch.log_group) {
        return Some(LogBatch {
            log_events: Vec::new(),
            ..batch.clone_header()
        });
    }
    if !route.filters_events() {
        return None;
    }
    let log_events = batch
        .log_events
        .iter()
        .zip(messages)
        .filter(|(_, m)| route.takes(m))
        .map(|(e, _)| e.clone())
        .collect();
    Some(LogBatch {
        log_events,
        ..batch.clone_header()
    })
}

/// Each event's message wrapped for pattern matching (parsed lazily, at most once), when
/// `needed`; else nothing, so unfiltered routes cost nothing.
fn messages<'a>(batch: &'a LogBatch<'_>, needed: bool) -> Vec<cwlogs_filter::Message<'a>> {
    if !needed {
        return Vec::new();
    }
    batch
        .log_events
        .iter()
        .map(|e| cwlogs_filter::Message::new(&e.message))
        .collect()
}

/// Appends the archive's NDJSON lines for `batch` (after the archive route) to `out`, for
/// transports that write the archive themselves (a Firehose transformation answers with these
/// lines and Firehose buffers, compresses and stores them). Returns how many events were
/// written and how many the route left out; nothing is written when archiving is off. What
/// `[redact]` replaced (when `apply_to` takes `archive`) is added to `redacted`.
pub fn archive_ndjson(
    config: &Config,
    region: &str,
    batch: &LogBatch<'_>,
    out: &mut Vec<u8>,
    redacted: &mut redact::RedactCounts,
) -> (usize, usize) {
    let Some(a) = &config.archive else {
        return (0, batch.log_events.len());
    };
    let messages = messages(batch, a.route.filters_events());
    let own = routed(&a.route, batch, &messages);
    let b = own.as_ref().unwrap_or(batch);
    let red = redact::for_archive(config.redact.as_deref(), b, redacted);
    archive_lines(region, red.as_ref().unwrap_or(b), out);
    (
        b.log_events.len(),
        batch.log_events.len() - b.log_events.len(),
    )
}

/// Builds everything a data batch is sent as, after each destination's route. Control messages
/// carry no log data: callers skip them (and count them) before calling this.
///
/// Documents get no pattern id here, whatever `[patterns]` says: the miner is state kept
/// across batches, which [`process_batch_with`] takes from the caller.
pub fn process_batch(config: &Config, region: &str, batch: &LogBatch<'_>) -> BatchOutput {
    process_batch_with(config, region, batch, None)
}

/// [`process_batch`] with the caller's template miner (`[patterns]`): when `miner` is given,
/// each indexed document's message is observed by it, in order, and the document carries its
/// pattern's id in `cwlogs.pattern.id` (the archive lines do not change). The CLI keeps one
/// miner for a run, a function one per container; a miner is passed only when
/// `config.patterns` is set ([`PatternsConfig::miner`]).
pub fn process_batch_with(
    config: &Config,
    region: &str,
    batch: &LogBatch<'_>,
    miner: Option<&mut Miner>,
) -> BatchOutput {
    let log_group = batch.log_group.to_string();
    let oldest_ms = oldest_event_ms(batch);
    if config.own_log_group.as_deref() == Some(&*batch.log_group) {
        // The function's own logs (and the EMF lines it prints) never feed it back.
        let total = batch.log_events.len();
        return BatchOutput {
            archive_filtered: total,
            index_filtered: total,
            log_group,
            oldest_ms,
            ..BatchOutput::default()
        };
    }
    let any_patterns = [
        config.archive.as_ref().map(|a| &a.route),
        config.index.as_ref().map(|i| &i.route),
    ]
    .into_iter()
    .flatten()
    .any(Route::filters_events);
    let messages = messages(batch, any_patterns);
    let total = batch.log_events.len();
    let mut out = BatchOutput {
        log_group,
        oldest_ms,
        ..BatchOutput::default()
    };
    if let Some(a) = &config.archive {
        let own = routed(&a.route, batch, &messages);
        let b = own.as_ref().unwrap_or(batch);
        out.archive_filtered = total - b.log_events.len();
        if !b.log_events.is_empty() {
            let red = redact::for_archive(config.redact.as_deref(), b, &mut out.archive_redacted);
            let b = red.as_ref().unwrap_or(b);
            out.archive = Some(archive_object(&a.prefix, region, a.gzip_level, b));
        }
    }
    if let Some(i) = &config.index {
        let own = routed(&i.route, batch, &messages);
        let b = own.as_ref().unwrap_or(batch);
        out.index_filtered = total - b.log_events.len();
        let (bulk, redacted) = index::bulk_chunks_counted(i, region, b, miner);
        out.bulk = bulk;
        out.redacted.merge(&redacted);
    }
    out
}
