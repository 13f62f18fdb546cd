//! The index function's handler: every event into OpenSearch / Elasticsearch, into the
//! quarantine index, into a dead letter, or back to the trigger.

use crate::response::{Delivered, Response};
use crate::{Budget, GroupTallies, RetryLater};
use cwlogs_decode::Shape;
use cwlogs_pipeline::index::{BulkOptions, Fate, index_items};
use cwlogs_pipeline::sink::BulkTransport;
use cwlogs_pipeline::util::short_hash;
use cwlogs_pipeline::{
    Archive, Backoff, Config, DeadLetter, IndexConfig, process_batch, process_input,
};
use lambda_runtime::LambdaEvent;
use serde::Serialize;
use serde_json::value::RawValue;
use std::time::{Instant, SystemTime};

/// The index function: decodes whatever trigger invoked it, builds each data batch's
/// documents and sends them in `_bulk` requests (see [`cwlogs_pipeline::index`]). Documents the
/// cluster rejects for their mapping go to the quarantine index; records with documents it
/// will never take go, whole, to a dead letter in the archive bucket (replaying them is
/// harmless: what was indexed answers 409); what is still failing at the deadline is left to
/// the trigger. Built once at cold start and borrowed by every invocation.
#[derive(Debug)]
pub struct Indexer<T, A> {
    config: Config,
    index: IndexConfig,
    transport: T,
    dead_letters: Option<A>,
    dead_letter_prefix: String,
    options: BulkOptions,
}

/// What one invocation of the index function did: logged as one line, and the answer to
/// direct invocations.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct IndexSummary {
    /// The trigger's shape (`direct`, `kinesis`, `firehose-transform`, ...).
    pub shape: &'static str,
    /// Records in the event.
    pub records: usize,
    /// Log events in data batches.
    pub events: usize,
    /// Control messages skipped.
    pub control_messages: usize,
    /// Documents created.
    pub indexed_events: usize,
    /// Documents that were already in the index (a redelivery).
    pub existing_events: usize,
    /// Documents stored in the quarantine index.
    pub quarantined_events: usize,
    /// Events the index's route left out.
    pub filtered_events: usize,
    /// Documents the cluster will never take (their records are dead-lettered).
    pub refused_events: usize,
    /// Documents still failing with a retryable error at the deadline: their records are
    /// handed back to the trigger. `events = indexed_events + existing_events +
    /// quarantined_events + filtered_events + refused_events + pending_events`; undecodable
    /// records, whose events cannot be counted, are in `dead_letters` (or `pending_records`).
    pub pending_events: usize,
    /// Dead letters written.
    pub dead_letters: usize,
    /// Records left for the trigger to deliver again.
    pub pending_records: usize,
    /// `_bulk` requests sent.
    pub requests: usize,
    /// Re-sends of documents (after a retryable failure or a split of a request too large).
    pub retried_events: usize,
    /// Bytes on the wire (compressed).
    pub bytes_sent: usize,
    /// The event counts per log group (sink `index`), for the self-metrics.
    #[serde(skip)]
    pub groups: GroupTallies,
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
        let dead_letter_prefix = config
            .archive
            .as_ref()
            .map_or("dead-letter".to_string(), |a| a.dead_letter_prefix.clone());
        // Archiving is the archive function's job: no archive bodies are built here.
        config.archive = None;
        let options = BulkOptions {
            max_bytes: index.max_bulk_bytes,
            compress: index.compress,
            backoff: Backoff::default(),
        };
        Some(Indexer {
            config,
            index,
            transport,
            dead_letters,
            dead_letter_prefix,
            options,
        })
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
        self.dead_letters.as_ref()
    }

    /// The validated configuration in use (without its archive section).
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Handles one invocation: the direct trigger gets the summary (or an error while records
    /// are pending), Kinesis its `batchItemFailures`, a Firehose transformation each record
    /// back unchanged (`Ok`) once indexed, or `ProcessingFailed` while pending.
    pub async fn handle(
        &self,
        event: LambdaEvent<Box<RawValue>>,
    ) -> Result<Response<IndexSummary>, RetryLater> {
        self.handle_counted(event).await.1
    }

    /// [`Indexer::handle`], with the invocation's counts whatever the answer (a Kinesis or
    /// Firehose answer, or an error, does not carry them).
    pub async fn handle_counted(
        &self,
        event: LambdaEvent<Box<RawValue>>,
    ) -> (IndexSummary, Result<Response<IndexSummary>, RetryLater>) {
        let started = Instant::now();
        let budget = Budget::new(event.context.deadline, SystemTime::now());
        let bytes = event.payload.get().as_bytes();
        let result = self.deliver(bytes, &event.context.request_id, budget).await;
        let (s, outcome) = crate::response::outcome(&result);
        tracing::info!(
            event = "InvocationSummary",
            outcome,
            shape = s.shape,
            records = s.records,
            events = s.events,
            control_messages = s.control_messages,
            indexed_events = s.indexed_events,
            existing_events = s.existing_events,
            quarantined_events = s.quarantined_events,
            filtered_events = s.filtered_events,
            refused_events = s.refused_events,
            pending_events = s.pending_events,
            dead_letters = s.dead_letters,
            pending_records = s.pending_records,
            requests = s.requests,
            retried_events = s.retried_events,
            bytes_sent = s.bytes_sent,
            input_bytes = bytes.len(),
            duration_ms = started.elapsed().as_millis() as u64,
        );
        crate::emit_self_metrics(
            &[
                ("EventsIn", s.events as u64),
                (
                    "EventsDelivered",
                    (s.indexed_events + s.existing_events + s.quarantined_events) as u64,
                ),
                ("EventsFiltered", s.filtered_events as u64),
                ("DeadLetters", s.dead_letters as u64),
                ("RecordsPending", s.pending_records as u64),
            ],
            &s.groups,
        );
        crate::response::split(result)
    }

    async fn dead_letter(&self, dead: &DeadLetter, budget: Budget) -> Result<(), String> {
        crate::dead::write(
            self.dead_letters.as_ref(),
            &self.dead_letter_prefix,
            dead,
            budget.dead_letter_until,
        )
        .await
    }

    async fn deliver(
        &self,
        bytes: &[u8],
        request: &str,
        budget: Budget,
    ) -> Delivered<IndexSummary> {
        let config = &self.config;
        let hash = short_hash(bytes);
        let input = format!("lambda:{request}");
        let processed = process_input(config, &hash, &input, bytes, |region, batch| {
            process_batch(config, region, batch)
        });
        let shape = processed.shape;
        let mut summary = IndexSummary {
            shape: shape.map_or("unknown", Shape::as_str),
            records: processed.records.len(),
            ..IndexSummary::default()
        };

        if let Some(dead) = &processed.dead {
            let dead = DeadLetter {
                name: format!("unrecognised-{hash}.bin"),
                ..dead.clone()
            };
            return match self.dead_letter(&dead, budget).await {
                Ok(()) => {
                    summary.dead_letters = 1;
                    Ok((summary.clone(), Response::Summary(summary)))
                }
                Err(why) => Err((summary, RetryLater { message: why })),
            };
        }

        // Every document of the invocation in one list, so that requests are as full as the
        // byte budget allows; `owner` maps each back to its record.
        let mut items: Vec<&[u8]> = Vec::new();
        // `owner`: each item's record and output (numbered across records), for the counts.
        let mut owner: Vec<(usize, usize)> = Vec::new();
        let mut outputs = 0;
        for (r, record) in processed.records.iter().enumerate() {
            for out in &record.outputs {
                summary.filtered_events += out.index_filtered;
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
            budget.send_until,
        )
        .await;
        summary.requests = report.requests;
        summary.retried_events = report.retried_items;
        summary.bytes_sent = report.bytes_sent;

        let mut tallies: Vec<Tally> = processed.records.iter().map(|_| Tally::default()).collect();
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
        let all_outputs = processed.records.iter().flat_map(|r| &r.outputs);
        for (out, [delivered, refused, pending]) in all_outputs.zip(per_output) {
            let g = summary.groups.entry("index", &out.log_group);
            g.events += out.index_filtered as u64 + delivered + refused + pending;
            g.filtered += out.index_filtered as u64;
            g.deliver(delivered, out.oldest_ms);
            g.dead_lettered += refused;
            g.pending += pending;
        }

        let shape_name = summary.shape;
        let mut pending: Vec<Option<String>> = vec![None; processed.records.len()];
        for (i, (record, t)) in processed.records.iter().zip(&tallies).enumerate() {
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
                (Some(dead), _) => Some(DeadLetter {
                    name: crate::dead::record_name(shape_name, &hash, &dead.name),
                    ..dead.clone()
                }),
                (None, Some(first)) => DeadLetter::for_record(
                    &format!("{shape_name}-index"),
                    &input,
                    bytes,
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
                match self.dead_letter(&dead, budget).await {
                    Ok(()) => summary.dead_letters += 1,
                    Err(e) => why = Some(e),
                }
            }
            if why.is_some() {
                summary.pending_records += 1;
                pending[i] = why;
            }
        }
        let not_done = "not indexed";
        crate::response::answer(
            shape,
            bytes,
            &processed.records,
            &pending,
            summary,
            not_done,
        )
    }
}
