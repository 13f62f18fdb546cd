//! The archive function's handler: every event to the archive, or to a dead letter.

use crate::response::{Delivered, FirehoseRecord, FirehoseResult, Response};
use crate::{Budget, GroupTallies, RetryLater};
use cwlogs_decode::{Shape, detect};
use cwlogs_pipeline::util::short_hash;
use cwlogs_pipeline::{
    Archive, ArchiveObject, Class, Config, DeadLetter, archive_ndjson, oldest_event_ms,
    process_batch, process_input,
};
use futures_util::StreamExt as _;
use lambda_runtime::LambdaEvent;
use serde::Serialize;
use serde_json::value::RawValue;
use std::time::{Instant, SystemTime};

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
}

/// What one invocation did: logged as one line, and the answer to direct invocations.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct InvocationSummary {
    /// The trigger's shape (`direct`, `kinesis`, `firehose-transform`, ...).
    pub shape: &'static str,
    /// Records in the event.
    pub records: usize,
    /// Log events in data batches.
    pub events: usize,
    /// Control messages skipped.
    pub control_messages: usize,
    /// Events written to the archive (or returned to Firehose).
    pub archived_events: usize,
    /// Archive objects written.
    pub archived_objects: usize,
    /// Events the archive's route left out.
    pub filtered_events: usize,
    /// Events of archive objects the bucket refused for good, kept whole as dead letters (and
    /// of Firehose records answered `ProcessingFailed` for the response limit, which Firehose
    /// keeps in its error output).
    pub dead_lettered_events: usize,
    /// Events of archive objects still failing with a retryable error: their records are
    /// handed back to the trigger. `events = archived_events + filtered_events +
    /// dead_lettered_events + pending_events`; undecodable records, whose events cannot be
    /// counted, are in `dead_letters` (or `pending_records`).
    pub pending_events: usize,
    /// Dead letters written (undecodable inputs and records, refused objects).
    pub dead_letters: usize,
    /// Records left for the trigger to deliver again.
    pub pending_records: usize,
    /// The same counts per log group (sink `archive`), for the self-metrics.
    #[serde(skip)]
    pub groups: GroupTallies,
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
        Archiver { config, archive }
    }

    /// The sink written to.
    pub fn archive(&self) -> &A {
        &self.archive
    }

    /// The validated configuration in use.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Handles one invocation (see the crate docs for the answer each trigger gets).
    pub async fn handle(&self, event: LambdaEvent<Box<RawValue>>) -> Result<Response, RetryLater> {
        self.handle_counted(event).await.1
    }

    /// [`Archiver::handle`], with the invocation's counts whatever the answer (a Kinesis or
    /// Firehose answer, or an error, does not carry them).
    pub async fn handle_counted(
        &self,
        event: LambdaEvent<Box<RawValue>>,
    ) -> (InvocationSummary, Result<Response, RetryLater>) {
        let started = Instant::now();
        let budget = Budget::new(event.context.deadline, SystemTime::now());
        let bytes = event.payload.get().as_bytes();
        let request = &event.context.request_id;
        let result = match detect(bytes).map(|t| t.shape) {
            Ok(Shape::FirehoseTransform) => Ok(self.firehose(bytes, request)),
            _ => self.deliver(bytes, request, budget).await,
        };
        let (summary, outcome) = crate::response::outcome(&result);
        tracing::info!(
            event = "InvocationSummary",
            outcome,
            shape = summary.shape,
            records = summary.records,
            events = summary.events,
            control_messages = summary.control_messages,
            archived_events = summary.archived_events,
            archived_objects = summary.archived_objects,
            filtered_events = summary.filtered_events,
            dead_lettered_events = summary.dead_lettered_events,
            pending_events = summary.pending_events,
            dead_letters = summary.dead_letters,
            pending_records = summary.pending_records,
            input_bytes = bytes.len(),
            duration_ms = started.elapsed().as_millis() as u64,
        );
        crate::emit_self_metrics(
            &[
                ("EventsIn", summary.events as u64),
                ("EventsDelivered", summary.archived_events as u64),
                ("EventsFiltered", summary.filtered_events as u64),
                ("DeadLetters", summary.dead_letters as u64),
                ("RecordsPending", summary.pending_records as u64),
            ],
            &summary.groups,
        );
        crate::response::split(result)
    }

    /// Direct, Kinesis and hand-invoked payloads: write objects and dead letters.
    async fn deliver(
        &self,
        bytes: &[u8],
        request: &str,
        budget: Budget,
    ) -> Delivered<InvocationSummary> {
        let config = &self.config;
        let hash = short_hash(bytes);
        let input = format!("lambda:{request}");
        let processed = process_input(config, &hash, &input, bytes, |region, batch| {
            process_batch(config, region, batch)
        });
        let shape = processed.shape;
        let mut summary = InvocationSummary {
            shape: shape.map_or("unknown", Shape::as_str),
            records: processed.records.len(),
            ..InvocationSummary::default()
        };

        // The whole input could not even be recognised: keep it, and answer.
        if let Some(dead) = &processed.dead {
            let dead = DeadLetter {
                name: format!("unrecognised-{hash}.bin"),
                ..dead.clone()
            };
            let fate = self.dead_letter(&dead, budget).await;
            summary.dead_letters += fate.dead_letters;
            return match fate.pending {
                None => Ok((summary.clone(), Response::Summary(summary))),
                Some(why) => Err((summary, RetryLater { message: why })),
            };
        }

        let shape_name = summary.shape;
        let fates = futures_util::stream::iter(processed.records.iter().map(|record| async {
            let mut fate = RecordFate::default();
            if let Some(dead) = &record.dead {
                let dead = DeadLetter {
                    name: crate::dead::record_name(shape_name, &hash, &dead.name),
                    ..dead.clone()
                };
                fate = self.dead_letter(&dead, budget).await;
            }
            for out in &record.outputs {
                let mut outcome = ObjectOutcome::None;
                if let Some(object) = &out.archive {
                    let f = self.archive_object(object, &input, budget).await;
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

        let mut pending = Vec::with_capacity(fates.len());
        for (record, fate) in processed.records.iter().zip(fates) {
            summary.events += record.events;
            summary.control_messages += record.control;
            for (out, outcome) in record.outputs.iter().zip(&fate.outcomes) {
                summary.filtered_events += out.archive_filtered;
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
        let not_done = "not archived";
        crate::response::answer(
            shape,
            bytes,
            &processed.records,
            &pending,
            summary,
            not_done,
        )
    }

    /// Writes one archive object; an object refused for good becomes a dead letter (its body
    /// is the gzip NDJSON, which `cwlogs replay` reads back as an archive object).
    async fn archive_object(
        &self,
        object: &ArchiveObject,
        input: &str,
        budget: Budget,
    ) -> RecordFate {
        let put = self
            .archive
            .put(object.as_object(), budget.send_until)
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
                let to = format!("{input} {}", object.key);
                let dead = DeadLetter::refused(&object.key, &object.body, to, e.message);
                self.dead_letter(&dead, budget).await
            }
        }
    }

    /// Writes a dead letter (raw bytes, then the error file). If the bucket refuses that too,
    /// the record stays pending, so the trigger keeps the input (Kinesis retries it, a direct
    /// invocation ends in the function's failure destination).
    async fn dead_letter(&self, dead: &DeadLetter, budget: Budget) -> RecordFate {
        let prefix = self
            .config
            .archive
            .as_ref()
            .map_or("dead-letter", |a| a.dead_letter_prefix.as_str());
        match crate::dead::write(Some(&self.archive), prefix, dead, budget.dead_letter_until).await
        {
            Ok(()) => RecordFate {
                dead_letters: 1,
                ..RecordFate::default()
            },
            Err(why) => RecordFate {
                pending: Some(why),
                ..RecordFate::default()
            },
        }
    }

    /// A Firehose transformation: answer with the archive's NDJSON lines per record, for
    /// Firehose to buffer, compress and store itself.
    fn firehose(&self, bytes: &[u8], request: &str) -> (InvocationSummary, Response) {
        let config = &self.config;
        let input = format!("lambda:{request}");
        let processed = process_input(config, "firehose", &input, bytes, |region, batch| {
            let mut lines = Vec::new();
            let (kept, filtered) = archive_ndjson(config, region, batch, &mut lines);
            let group = batch.log_group.to_string();
            (lines, kept, filtered, group, oldest_event_ms(batch))
        });
        // The original record data, echoed for Dropped and ProcessingFailed records.
        let originals = crate::response::original_records(bytes);
        let mut summary = InvocationSummary {
            shape: Shape::FirehoseTransform.as_str(),
            records: processed.records.len(),
            ..InvocationSummary::default()
        };
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
                for (l, k, filtered, group, _) in &record.outputs {
                    lines.extend_from_slice(l);
                    kept += k;
                    summary.filtered_events += filtered;
                    let g = summary.groups.entry("archive", group);
                    g.events += (k + filtered) as u64;
                    g.filtered += *filtered as u64;
                }
                let fits = size + lines.len().div_ceil(3) * 4 <= MAX_RESPONSE_BYTES;
                for (_, k, _, group, oldest) in &record.outputs {
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
