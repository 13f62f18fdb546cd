//! The index function's handler: every event into OpenSearch / Elasticsearch, into the
//! quarantine index, into a dead letter, or back to the trigger.

use crate::IndexSummary;
use crate::dead_letter::{DeadLetterBucket, DeadLetters};
use crate::handler::{Deliver, Invocation};
use crate::response::Delivered;
use cwlogs_pipeline::index::{BulkOptions, Fate, index_items};
use cwlogs_pipeline::sink::BulkTransport;
use cwlogs_pipeline::sources::{NoObjects, ObjectSource, S3Indexing};
use cwlogs_pipeline::{Archive, Backoff, Config, DeadLetter, IndexConfig};
use std::ops::ControlFlow;
use std::sync::Arc;

/// The index function: decodes whatever trigger invoked it, builds each data batch's
/// documents and sends them in `_bulk` requests (see [`cwlogs_pipeline::index`]). Documents the
/// cluster rejects for their mapping go to the quarantine index; records with documents it
/// will never take go, whole, to a dead letter in the archive bucket (replaying them is
/// harmless: what was indexed answers 409); what is still failing at the deadline is left to
/// the trigger. Built once at cold start and borrowed by every invocation.
///
/// It also takes S3 event notifications (directly, through SQS or EventBridge) and S3 Batch
/// Operations jobs: the objects they name are read through `O` ([`Indexer::with_objects`];
/// without a reader, each such object is a dead letter) as a stream, and their records indexed
/// (`cwlogs_pipeline::sources`).
#[derive(Debug)]
pub struct Indexer<T, A, O = NoObjects> {
    pub(crate) config: Config,
    pub(crate) index: IndexConfig,
    pub(crate) transport: T,
    pub(crate) dead_letters: DeadLetterBucket<A>,
    pub(crate) options: BulkOptions,
    /// Where the objects of S3 notifications are read from.
    pub(crate) objects: O,
    /// How their records are indexed (`[sources.s3]`), shared with the threads that read
    /// them; `None` when that source is off.
    pub(crate) s3: Option<Arc<S3Indexing>>,
    /// The function's timeout, for deadlines that cannot be Lambda's.
    pub(crate) timeout: std::time::Duration,
    /// `[patterns]`: the container's template miner (kept across invocations; documents
    /// carry `cwlogs.pattern.id`); `None` when patterns are off.
    pub(crate) patterns: Option<std::sync::Mutex<cwlogs_pipeline::Miner>>,
}

/// How the documents of one record ended.
#[derive(Debug, Default)]
struct Tally {
    created: usize,
    existed: usize,
    quarantined: usize,
    refused: usize,
    pending_docs: usize,
    first_refusal: Option<String>,
    pending: Option<String>,
}

impl<T: BulkTransport, A: Archive> Indexer<T, A> {
    /// A handler indexing with `config` (its `[index]` section, which must be on) through
    /// `transport`; dead letters go to `dead_letters` under `[archive] dead_letter_prefix`.
    /// Without a dead-letter archive, records the cluster refuses stay with the trigger.
    /// Returns `None` when indexing is off in `config`.
    pub fn new(mut config: Config, transport: T, dead_letters: Option<A>) -> Option<Self> {
        let index = config.index.clone()?;
        let dead_letters = DeadLetterBucket::new(dead_letters, &config);
        // Archiving is the archive function's job: no archive bodies are built here.
        config.archive = None;
        let options = BulkOptions {
            max_bytes: index.max_bulk_bytes,
            compress: index.compress,
            backoff: Backoff::default(),
        };
        let s3 = config
            .sources
            .s3
            .as_ref()
            .map(|source| Arc::new(S3Indexing::new(&index, source)));
        Some(
            Indexer {
                config,
                index,
                transport,
                dead_letters,
                options,
                objects: NoObjects,
                s3,
                timeout: crate::DEFAULT_FUNCTION_TIMEOUT,
                patterns: None,
            }
            .with_patterns(),
        )
    }
}

impl<T: BulkTransport, A: Archive, O: ObjectSource> Indexer<T, A, O> {
    /// Reads the objects of S3 notifications and Batch Operations tasks through `objects`.
    pub fn with_objects<P: ObjectSource>(self, objects: P) -> Indexer<T, A, P> {
        Indexer {
            config: self.config,
            index: self.index,
            transport: self.transport,
            dead_letters: self.dead_letters,
            options: self.options,
            objects,
            s3: self.s3,
            timeout: self.timeout,
            patterns: self.patterns,
        }
    }

    /// Where objects are read from.
    pub fn objects(&self) -> &O {
        &self.objects
    }

    /// Replaces the retry schedule (tests use a fast one).
    pub fn with_backoff(mut self, backoff: Backoff) -> Self {
        self.options.backoff = backoff;
        self
    }

    /// The transport requests go through.
    pub fn transport(&self) -> &T {
        &self.transport
    }

    /// Where dead letters go, when anywhere.
    pub fn dead_letters(&self) -> Option<&A> {
        self.dead_letters.archive()
    }

    /// The validated configuration in use (without its archive section).
    pub fn config(&self) -> &Config {
        &self.config
    }

    crate::handler::entry_points!(
        IndexSummary,
        "Handles one invocation: the direct trigger gets the summary (or an error while \
         records are pending), Kinesis its `batchItemFailures`, a Firehose transformation \
         each record back unchanged (`Ok`) once indexed, or `ProcessingFailed` while \
         pending."
    );
}

impl<T: BulkTransport, A: Archive, O: ObjectSource> Deliver for Indexer<T, A, O> {
    type Summary = IndexSummary;
    type DeadLetterArchive = A;

    async fn deliver(&self, input: &Invocation<'_>) -> Delivered<IndexSummary> {
        if let Some(policy) = cwlogs_pipeline::sink::redrive::RedrivePolicy::request(input.bytes) {
            return Box::pin(self.redrive(input, policy)).await;
        }
        if let Some(s3) = &self.s3
            && let Some(n) = cwlogs_pipeline::sources::notification::parse(input.bytes)
        {
            // Boxed: its future is large, and the trigger's own path should not carry it.
            return Box::pin(self.deliver_objects(input, s3, n)).await;
        }
        let config = &self.config;
        let decoded = match &self.patterns {
            None => self.decode_batches(input, config).await,
            Some(miner) => {
                let build = |region: &str, batch: &cwlogs_pipeline::LogBatch<'_>| {
                    let mut m = miner
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    cwlogs_pipeline::process_batch_with(config, region, batch, Some(&mut m))
                };
                self.decode(input, config, build).await
            }
        };
        let (decoded, mut summary) = match decoded {
            ControlFlow::Continue(decoded) => decoded,
            ControlFlow::Break(answer) => return answer,
        };

        // Every document of the invocation in one list, so that requests are as full as the
        // byte budget allows; `owner` maps each back to its record.
        let mut items: Vec<&[u8]> = Vec::new();
        // `owner`: each item's record and output (numbered across records), for the counts.
        let mut owner: Vec<(usize, usize)> = Vec::new();
        let mut outputs = 0;
        for (r, record) in decoded.records.iter().enumerate() {
            for out in &record.outputs {
                summary.filtered_events += out.index_filtered;
                summary.redacted.merge(&out.redacted);
                for chunk in &out.bulk {
                    for item in chunk.items() {
                        items.push(item);
                        owner.push((r, outputs));
                    }
                }
                outputs += 1;
            }
        }
        let report = index_items(
            &self.transport,
            &items,
            &self.index,
            &self.options,
            input.budget.send_until,
        )
        .await;
        summary.requests = report.requests;
        summary.retried_events = report.retried_items;
        summary.bytes_sent = report.bytes_sent;

        let mut tallies: Vec<Tally> = decoded.records.iter().map(|_| Tally::default()).collect();
        // Per output: documents delivered (created, existing or quarantined), refused, pending.
        let mut per_output = vec![[0u64; 3]; outputs];
        for (fate, &(r, o)) in report.fates.iter().zip(&owner) {
            let t = &mut tallies[r];
            let c = &mut per_output[o];
            match fate {
                Fate::Done { created: true } => t.created += 1,
                Fate::Done { created: false } => t.existed += 1,
                Fate::Quarantine { .. } => t.quarantined += 1,
                Fate::Rejected(why) => {
                    t.refused += 1;
                    t.first_refusal.get_or_insert_with(|| why.clone());
                    c[1] += 1;
                }
                Fate::Pending(why) => {
                    t.pending_docs += 1;
                    t.pending.get_or_insert_with(|| why.clone());
                    c[2] += 1;
                }
            }
            if matches!(fate, Fate::Done { .. } | Fate::Quarantine { .. }) {
                c[0] += 1;
            }
        }
        let all_outputs = decoded.records.iter().flat_map(|r| &r.outputs);
        for (out, [delivered, refused, pending]) in all_outputs.zip(per_output) {
            let g = summary.groups.entry("index", &out.log_group);
            g.events += out.index_filtered as u64 + delivered + refused + pending;
            g.filtered += out.index_filtered as u64;
            g.deliver(delivered, out.oldest_ms);
            g.dead_lettered += refused;
            g.pending += pending;
        }

        let shape_name = decoded.shape_name();
        let twins = decoded.dead_letter_twins();
        let mut pending: Vec<Option<String>> = vec![None; decoded.records.len()];
        for (i, (record, t)) in decoded.records.iter().zip(&tallies).enumerate() {
            summary.events += record.events;
            summary.control_messages += record.control;
            summary.indexed_events += t.created;
            summary.existing_events += t.existed;
            summary.quarantined_events += t.quarantined;
            summary.refused_events += t.refused;
            summary.pending_events += t.pending_docs;
            let mut why = t.pending.clone();
            let dead = match (&record.dead, &t.first_refusal) {
                _ if why.is_some() => None,
                // Written (and counted) once, for the first record with these bytes.
                (Some(_), _) if twins[i].is_some() => {
                    why = twins[i].and_then(|first| pending[first].clone());
                    None
                }
                (Some(dead), _) => Some(decoded.record_letter(dead)),
                (None, Some(first)) => DeadLetter::for_record(
                    &format!("{shape_name}-index"),
                    &decoded.source,
                    input.bytes,
                    i,
                    "index",
                    format!(
                        "{} of {} documents refused by the cluster; first: {first}",
                        t.refused,
                        t.created + t.existed + t.quarantined + t.refused
                    ),
                ),
                (None, None) => None,
            };
            if let Some(dead) = dead {
                match self.dead_letter(&dead, input).await {
                    Ok(()) => summary.dead_letters += 1,
                    Err(e) => why = Some(e.to_string()),
                }
            }
            if why.is_some() {
                summary.pending_records += 1;
                pending[i] = why;
            }
        }
        decoded.answer(input, &pending, summary, "not indexed")
    }

    fn timeout(&self) -> std::time::Duration {
        self.timeout
    }

    fn dead_letter_destination(&self) -> DeadLetters<'_, A> {
        self.dead_letters.destination()
    }
}

impl<T, A, O> Indexer<T, A, O> {
    /// The miner of `[patterns]`, when the configuration turns it on.
    fn with_patterns(mut self) -> Self {
        self.patterns = self
            .config
            .patterns
            .as_ref()
            .map(|p| std::sync::Mutex::new(p.miner()));
        self
    }
}
