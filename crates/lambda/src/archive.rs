//! The archive function's handler: every event to the archive, or to a dead letter.

use crate::InvocationSummary;
use crate::dead_letter::DeadLetters;
use crate::handler::{Deliver, Invocation};
use crate::response::{Delivered, FirehoseRecord, FirehoseResult, Response};
use crate::summary::Summary as _;
use cwlogs_decode::{Shape, detect};
use cwlogs_pipeline::redact::RedactCounts;
use cwlogs_pipeline::{
    Archive, ArchiveObject, Class, Config, DeadLetter, archive_ndjson, oldest_event_ms,
    process_input,
};
use futures_util::StreamExt as _;
use std::ops::ControlFlow;

/// How many S3 writes one invocation keeps in flight.
const CONCURRENT_PUTS: usize = 16;

/// Lambda's limit on a synchronous response (a Firehose transformation's answer), less room
/// for the JSON around the records.
const MAX_RESPONSE_BYTES: usize = 6 * 1024 * 1024 - 64 * 1024;

/// The archive function: decodes whatever trigger invoked it and writes every data batch's
/// archive object; what cannot be decoded, or that the archive refuses for good, goes to the
/// dead-letter prefix of the same bucket. Built once at cold start and borrowed by every
/// invocation.
#[derive(Debug)]
pub struct Archiver<A> {
    config: Config,
    archive: A,
    timeout: std::time::Duration,
}

/// How one archive object ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum ObjectOutcome {
    /// The batch had no object (every event filtered out).
    #[default]
    None,
    Archived,
    DeadLettered,
    Pending,
}

/// How one record ended.
#[derive(Debug, Default)]
struct RecordFate {
    /// How each output's object ended, in the record's output order.
    outcomes: Vec<ObjectOutcome>,
    archived_objects: usize,
    archived_events: usize,
    dead_letters: usize,
    dead_lettered_events: usize,
    pending_events: usize,
    /// Why the record must be delivered again; `None` when it is settled.
    pending: Option<String>,
}

impl<A: Archive> Archiver<A> {
    /// A handler archiving with `config` into `archive`. Only the archive section is used:
    /// the index section is for the index function, and is dropped here so that no work is
    /// spent building bulk bodies.
    pub fn new(mut config: Config, archive: A) -> Self {
        config.index = None;
        Archiver {
            config,
            archive,
            timeout: crate::DEFAULT_FUNCTION_TIMEOUT,
        }
    }

    /// The sink written to.
    pub fn archive(&self) -> &A {
        &self.archive
    }

    /// The validated configuration in use.
    pub fn config(&self) -> &Config {
        &self.config
    }

    crate::handler::entry_points!(
        InvocationSummary,
        "Handles one invocation (see the crate docs for the answer each trigger gets)."
    );

    /// Direct, Kinesis and hand-invoked payloads: write objects and dead letters.
    async fn write(&self, input: &Invocation<'_>) -> Delivered<InvocationSummary> {
        let config = &self.config;
        let (decoded, mut summary) = match self.decode_batches(input, config).await {
            ControlFlow::Continue(decoded) => decoded,
            ControlFlow::Break(answer) => return answer,
        };

        let twins = decoded.dead_letter_twins();
        let records = decoded.records.iter().zip(&twins);
        let decoded = &decoded;
        let fates = futures_util::stream::iter(records.map(|(record, twin)| async move {
            let mut fate = RecordFate::default();
            // A record sharing an earlier record's dead letter is settled with it, below.
            if let (Some(dead), None) = (&record.dead, twin) {
                fate = self
                    .record_dead_letter(&decoded.record_letter(dead), input)
                    .await;
            }
            for out in &record.outputs {
                let mut outcome = ObjectOutcome::None;
                if let Some(object) = &out.archive {
                    let f = self.archive_object(object, input).await;
                    fate.archived_objects += f.archived_objects;
                    fate.archived_events += f.archived_events;
                    fate.dead_letters += f.dead_letters;
                    outcome = if f.dead_letters > 0 {
                        fate.dead_lettered_events += object.events;
                        ObjectOutcome::DeadLettered
                    } else if f.pending.is_some() {
                        fate.pending_events += object.events;
                        ObjectOutcome::Pending
                    } else {
                        ObjectOutcome::Archived
                    };
                    fate.pending = fate.pending.or(f.pending);
                }
                fate.outcomes.push(outcome);
            }
            fate
        }))
        .buffered(CONCURRENT_PUTS)
        .collect::<Vec<RecordFate>>()
        .await;
        let mut fates = fates;
        for (i, twin) in twins.iter().enumerate() {
            if let Some(first) = *twin {
                fates[i].pending = fates[first].pending.clone();
            }
        }

        let mut pending = Vec::with_capacity(fates.len());
        for (record, fate) in decoded.records.iter().zip(fates) {
            summary.events += record.events;
            summary.control_messages += record.control;
            for (out, outcome) in record.outputs.iter().zip(&fate.outcomes) {
                summary.filtered_events += out.archive_filtered;
                summary.redacted.merge(&out.archive_redacted);
                let n = out.archive.as_ref().map_or(0, |o| o.events) as u64;
                let g = summary.groups.entry("archive", &out.log_group);
                g.events += n + out.archive_filtered as u64;
                g.filtered += out.archive_filtered as u64;
                match outcome {
                    ObjectOutcome::None => {}
                    ObjectOutcome::Archived => g.deliver(n, out.oldest_ms),
                    ObjectOutcome::DeadLettered => g.dead_lettered += n,
                    ObjectOutcome::Pending => g.pending += n,
                }
            }
            summary.archived_events += fate.archived_events;
            summary.archived_objects += fate.archived_objects;
            summary.dead_letters += fate.dead_letters;
            summary.dead_lettered_events += fate.dead_lettered_events;
            summary.pending_events += fate.pending_events;
            summary.pending_records += usize::from(fate.pending.is_some());
            pending.push(fate.pending);
        }
        decoded.answer(input, &pending, summary, "not archived")
    }

    /// Writes one archive object; an object refused for good becomes a dead letter (its body
    /// is the gzip NDJSON, which `cwlogs replay` reads back as an archive object).
    async fn archive_object(&self, object: &ArchiveObject, input: &Invocation<'_>) -> RecordFate {
        let put = self
            .archive
            .put(object.as_object(), input.budget.send_until)
            .await;
        match put {
            Ok(()) => RecordFate {
                archived_objects: 1,
                archived_events: object.events,
                ..RecordFate::default()
            },
            Err(e) if e.class == Class::Retry => RecordFate {
                pending: Some(e.message),
                ..RecordFate::default()
            },
            Err(e) => {
                let to = format!("{} {}", input.source(), object.key);
                let dead = DeadLetter::refused(&object.key, &object.body, to, e.message);
                self.record_dead_letter(&dead, input).await
            }
        }
    }

    /// Writes a dead letter (raw bytes, then the error file). If the bucket refuses that too,
    /// the record stays pending, so the trigger keeps the input (Kinesis retries it, a direct
    /// invocation ends in the function's failure destination).
    async fn record_dead_letter(&self, dead: &DeadLetter, input: &Invocation<'_>) -> RecordFate {
        match self.dead_letter(dead, input).await {
            Ok(()) => RecordFate {
                dead_letters: 1,
                ..RecordFate::default()
            },
            Err(why) => RecordFate {
                pending: Some(why.to_string()),
                ..RecordFate::default()
            },
        }
    }

    /// A Firehose transformation: answer with the archive's NDJSON lines per record, for
    /// Firehose to buffer, compress and store itself.
    fn firehose(&self, input: &Invocation<'_>) -> (InvocationSummary, Response) {
        let config = &self.config;
        let (source, bytes) = (input.source(), input.bytes);
        let processed = process_input(config, "firehose", &source, bytes, |region, batch| {
            let mut lines = Vec::new();
            let mut redacted = RedactCounts::default();
            let (kept, filtered) = archive_ndjson(config, region, batch, &mut lines, &mut redacted);
            let group = batch.log_group.to_string();
            (
                lines,
                kept,
                filtered,
                group,
                oldest_event_ms(batch),
                redacted,
            )
        });
        // The original record data, echoed for Dropped and ProcessingFailed records.
        let originals = crate::response::original_records(bytes);
        let shape = Shape::FirehoseTransform.as_str();
        let mut summary = InvocationSummary::started(shape, processed.records.len());
        let mut size = 0usize;
        let mut records = Vec::with_capacity(processed.records.len());
        for (i, record) in processed.records.iter().enumerate() {
            summary.events += record.events;
            summary.control_messages += record.control;
            let original = originals.get(i).cloned().unwrap_or_default();
            let record_id = record.id.clone().unwrap_or_default();
            let (result, data) = if let Some(dead) = &record.dead {
                tracing::warn!(
                    event = "ProcessingFailed",
                    record_id = %record_id,
                    stage = dead.stage,
                    log_group = dead.log_group.as_deref(),
                    error = %dead.error,
                );
                summary.dead_letters += 1;
                (FirehoseResult::ProcessingFailed, original)
            } else {
                let mut lines = Vec::new();
                let mut kept = 0;
                for (l, k, filtered, group, _, redacted) in &record.outputs {
                    summary.redacted.merge(redacted);
                    lines.extend_from_slice(l);
                    kept += k;
                    summary.filtered_events += filtered;
                    let g = summary.groups.entry("archive", group);
                    g.events += (k + filtered) as u64;
                    g.filtered += *filtered as u64;
                }
                let fits = size + lines.len().div_ceil(3) * 4 <= MAX_RESPONSE_BYTES;
                for (_, k, _, group, oldest, _) in &record.outputs {
                    let g = summary.groups.entry("archive", group);
                    if fits {
                        g.deliver(*k as u64, *oldest);
                    } else {
                        g.dead_lettered += *k as u64;
                    }
                }
                if kept == 0 {
                    (FirehoseResult::Dropped, original)
                } else if !fits {
                    tracing::warn!(
                        event = "ProcessingFailed",
                        record_id = %record_id,
                        error = "the transformed records exceed Lambda's 6 MB response limit; lower the Firehose buffer size of the processor",
                    );
                    summary.dead_letters += 1;
                    summary.dead_lettered_events += kept;
                    (FirehoseResult::ProcessingFailed, original)
                } else {
                    summary.archived_events += kept;
                    (FirehoseResult::Ok, crate::response::base64(&lines))
                }
            };
            size += data.len() + record_id.len() + 48;
            records.push(FirehoseRecord {
                record_id,
                result,
                data,
            });
        }
        (summary, Response::Firehose { records })
    }
}

impl<A: Archive> Deliver for Archiver<A> {
    type Summary = InvocationSummary;
    type DeadLetterArchive = A;

    /// A Firehose transformation is answered with the transformed records; any other trigger
    /// has its objects written to the archive.
    async fn deliver(&self, input: &Invocation<'_>) -> Delivered<InvocationSummary> {
        match detect(input.bytes).map(|t| t.shape) {
            Ok(Shape::FirehoseTransform) => Ok(self.firehose(input)),
            _ => self.write(input).await,
        }
    }

    fn timeout(&self) -> std::time::Duration {
        self.timeout
    }

    fn dead_letter_destination(&self) -> DeadLetters<'_, A> {
        DeadLetters {
            archive: Some(&self.archive),
            prefix: crate::dead_letter::prefix(&self.config),
        }
    }
}
