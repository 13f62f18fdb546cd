//! The index function on S3 objects: the objects named by S3 event notifications (direct,
//! through SQS or SNS then SQS, through EventBridge) and by S3 Batch Operations tasks are read
//! as a stream on a blocking thread (`cwlogs_pipeline::sources`), their records sent in `_bulk`
//! requests chunk by chunk as they are read, so that memory does not grow with the object.
//!
//! Each object ends in one of four states: read to its end (or skipped on purpose: CloudTrail
//! digests), dead-lettered (a dead letter holding a notification that names the object again,
//! and the error: gone, refused, too large, broken, not a log, documents refused), superseded
//! (changed since its notification in an unversioned bucket: its new content has a
//! notification of its own), or pending (a retryable failure, or the deadline came first).
//! Pending objects are left for redelivery: SQS gets their messages in `batchItemFailures`,
//! a direct invocation fails, a Batch Operations task answers `TemporaryFailure`. Every
//! record's `_id` is a function of (bucket, key, position), so what a redelivery sends again
//! answers 409 and is counted as already there.

use crate::handler::{Deliver, Invocation};
use crate::index::Indexer;
use crate::response::{
    BatchItemFailure, BatchOperationsAnswer, BatchOperationsResult, Delivered, Response,
};
use crate::summary::Summary;
use crate::{IndexSummary, RetryLater};
use cwlogs_pipeline::index::{BulkReport, Fate, index_items};
use cwlogs_pipeline::sink::BulkTransport;
use cwlogs_pipeline::sink::redrive::RedrivePolicy;
use cwlogs_pipeline::sources::notification::{NotificationShape, Notifications, ObjectRef};
use cwlogs_pipeline::sources::{
    Detected, GetError, GetErrorKind, ObjectChunk, ObjectSource, ObjectStream, S3Indexing,
    SourceError, skip_reason,
};
use cwlogs_pipeline::{Archive, DeadLetter, process_batch, process_input};
use std::io::Read;
use std::sync::Arc;
use std::time::Instant;

/// How one object (or one message or task) ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Read to its end, or skipped on purpose: what happened.
    Done(String),
    /// Changed since its notification: nothing to read.
    Superseded(String),
    /// Dead-lettered: why.
    Failed(String),
    /// Left for redelivery: why.
    Pending(String),
}

/// What the reading thread hands over.
pub(crate) enum Msg {
    Opened(Detected, String),
    Chunk(Box<ObjectChunk>),
    Failed(SourceError),
}

/// The documents of one chunk, by how they ended.
#[derive(Debug, Default)]
struct Tally {
    delivered: u64,
    refused: u64,
    pending: u64,
    first_refusal: Option<String>,
    first_pending: Option<String>,
}

impl<T: BulkTransport, A: Archive, O: ObjectSource> Indexer<T, A, O> {
    /// Handles an event naming S3 objects.
    pub(crate) async fn deliver_objects(
        &self,
        input: &Invocation<'_>,
        s3: &Arc<S3Indexing>,
        n: Notifications,
    ) -> Delivered<IndexSummary> {
        let mut summary = IndexSummary::started(n.shape.as_str(), n.items.len());
        let mut outcomes = Vec::with_capacity(n.items.len());
        for item in &n.items {
            if let Some(error) = &item.error {
                // Not a notification at all: kept whole, never retried.
                let mut dead = DeadLetter::unread(
                    format!(
                        "{}-notification-{}.json",
                        n.shape.as_str(),
                        cwlogs_pipeline::util::short_hash(&item.raw)
                    ),
                    input.source(),
                    error.clone(),
                );
                dead.raw = Some(item.raw.clone());
                dead.shape = Some(n.shape.as_str());
                dead.stage = "notification";
                dead.record_id = item.id.clone();
                outcomes.push(match self.dead_letter(&dead, input).await {
                    Ok(()) => {
                        summary.count_dead_letter();
                        Outcome::Failed(error.clone())
                    }
                    Err(e) => Outcome::Pending(e.to_string()),
                });
                continue;
            }
            let mut outcome = Outcome::Done(String::new());
            let mut done = Vec::new();
            for object in &item.objects {
                let o = self
                    .index_object(input, s3, object, n.shape, &mut summary)
                    .await;
                match (&outcome, o) {
                    (_, Outcome::Pending(why)) => outcome = Outcome::Pending(why),
                    (Outcome::Pending(_), _) => {}
                    (_, Outcome::Failed(why)) => outcome = Outcome::Failed(why),
                    (Outcome::Failed(_), _) => {}
                    (_, Outcome::Superseded(why)) | (_, Outcome::Done(why)) => done.push(why),
                }
            }
            if let Outcome::Done(_) = outcome {
                outcome = Outcome::Done(done.join("; "));
            }
            outcomes.push(outcome);
        }
        summary.pending_records = outcomes
            .iter()
            .filter(|o| matches!(o, Outcome::Pending(_)))
            .count();
        answer(&n, &outcomes, summary)
    }

    /// Reads one object and indexes its records.
    async fn index_object(
        &self,
        input: &Invocation<'_>,
        s3: &Arc<S3Indexing>,
        object: &ObjectRef,
        shape: NotificationShape,
        summary: &mut IndexSummary,
    ) -> Outcome {
        summary.objects += 1;
        let outcome = self.read_object(input, s3, object, summary).await;
        let outcome = match outcome {
            Err((stage, error)) => {
                let mut dead =
                    DeadLetter::unread(object.dead_letter_name(), object.url(), error.clone());
                dead.raw = Some(object.notification());
                dead.shape = Some(shape.as_str());
                dead.stage = stage;
                match self.dead_letter(&dead, input).await {
                    Ok(()) => {
                        summary.count_dead_letter();
                        Outcome::Failed(error)
                    }
                    Err(e) => Outcome::Pending(e.to_string()),
                }
            }
            Ok(o) => o,
        };
        match &outcome {
            Outcome::Done(_) => summary.objects_done += 1,
            Outcome::Failed(_) => summary.objects_failed += 1,
            Outcome::Pending(_) => summary.objects_pending += 1,
            Outcome::Superseded(_) => summary.objects_superseded += 1,
        }
        outcome
    }

    /// Reads one object: its outcome, or the stage and error of its dead letter.
    async fn read_object(
        &self,
        input: &Invocation<'_>,
        s3: &Arc<S3Indexing>,
        object: &ObjectRef,
        summary: &mut IndexSummary,
    ) -> Result<Outcome, (&'static str, String)> {
        if let Some(why) = skip_reason(&object.key) {
            summary.objects_skipped += 1;
            return Ok(Outcome::Done(format!("skipped: {why}")));
        }
        let until = input.budget.send_until;
        if until.is_some_and(|u| Instant::now() >= u) {
            return Ok(Outcome::Pending(
                "the deadline came before the object was read".into(),
            ));
        }
        let max = s3.source().max_object_bytes;
        if let Some(size) = object.size.filter(|&s| s > max) {
            return Err((
                "size",
                format!(
                    "{}: {size} bytes, over [sources.s3] max_object_bytes ({max}); raise it or read the object with `cwlogs replay`",
                    object.url()
                ),
            ));
        }
        let body = match self.open(object, until).await {
            Ok(b) => b,
            Err(o) => return o,
        };
        let (reader, mut rx) = spawn_reader(s3, object, &self.config.region, body, false);
        let mut group = String::new();
        let mut records = 0usize;
        let mut tally = Tally::default();
        let mut outcome = None;
        while let Some(msg) = rx.recv().await {
            match msg {
                Msg::Opened(Detected::Records(_), g) => group = g,
                Msg::Opened(Detected::Skip(why), _) => {
                    summary.objects_skipped += 1;
                    outcome = Some(Ok(Outcome::Done(format!("skipped: {why}"))));
                }
                Msg::Opened(Detected::NotALog, _) => {
                    drop(rx);
                    let _ = reader.await;
                    return self.read_payload(input, object, summary).await;
                }
                Msg::Chunk(chunk) => {
                    records += chunk.records;
                    let t = self.send_chunk(&chunk, &group, until, summary).await;
                    tally.delivered += t.delivered;
                    tally.refused += t.refused;
                    tally.pending += t.pending;
                    tally.first_refusal = tally.first_refusal.or(t.first_refusal);
                    if let Some(why) = t.first_pending {
                        outcome = Some(Ok(Outcome::Pending(why)));
                    } else if until.is_some_and(|u| Instant::now() >= u) {
                        outcome = Some(Ok(Outcome::Pending(format!(
                            "the deadline came after {records} records, before the end of the object"
                        ))));
                    }
                }
                Msg::Failed(e) if e.is_retryable() => {
                    outcome = Some(Ok(Outcome::Pending(format!("{}: {e}", object.url()))));
                }
                Msg::Failed(e) => {
                    outcome = Some(Err((
                        e.kind.stage(),
                        format!("{}: {e} (after {records} records)", object.url()),
                    )));
                }
            }
            if outcome.is_some() {
                break;
            }
        }
        drop(rx);
        // The reader stops at its next chunk; a stalled body stops at the deadline. Only
        // waited for when the object is finished with (it is then about to end).
        if !matches!(outcome, Some(Ok(Outcome::Pending(_)))) {
            let _ = reader.await;
        }
        match outcome {
            Some(o) => o,
            None => match tally.first_refusal {
                Some(first) => Err((
                    "index",
                    format!(
                        "{}: {} of {} documents refused by the cluster; first: {first}",
                        object.url(),
                        tally.refused,
                        tally.delivered + tally.refused
                    ),
                )),
                None => Ok(Outcome::Done(format!("{records} records"))),
            },
        }
    }

    /// Opens `object`: the body, or how the object ends when it cannot be opened.
    async fn open(
        &self,
        object: &ObjectRef,
        until: Option<Instant>,
    ) -> Result<O::Body, Result<Outcome, (&'static str, String)>> {
        self.objects.get(object, until).await.map_err(not_opened)
    }

    /// Sends one chunk's documents and counts them.
    async fn send_chunk(
        &self,
        chunk: &ObjectChunk,
        group: &str,
        until: Option<Instant>,
        summary: &mut IndexSummary,
    ) -> Tally {
        summary.events += chunk.records;
        summary.filtered_events += chunk.filtered;
        summary.redacted.merge(&chunk.redacted);
        let items: Vec<&[u8]> = chunk.bulk.iter().flat_map(|b| b.items()).collect();
        let report = index_items(&self.transport, &items, &self.index, &self.options, until).await;
        let t = count(&report, summary);
        let g = summary.groups.entry("index", group);
        g.events += chunk.filtered as u64 + t.delivered + t.refused + t.pending;
        g.filtered += chunk.filtered as u64;
        g.deliver(t.delivered, chunk.oldest_ms);
        g.dead_lettered += t.refused;
        g.pending += t.pending;
        t
    }

    /// An object of none of the S3 log formats: read whole (up to `[decode]
    /// max_decompressed_bytes`) and decoded as a subscription payload, as `cwlogs replay` does
    /// (a cwlogs archive object, a dead letter, a Lambda event).
    async fn read_payload(
        &self,
        input: &Invocation<'_>,
        object: &ObjectRef,
        summary: &mut IndexSummary,
    ) -> Result<Outcome, (&'static str, String)> {
        let until = input.budget.send_until;
        let body = match self.open(object, until).await {
            Ok(b) => b,
            Err(o) => return o,
        };
        let cap = self.config.limits.max_decompressed;
        let read = tokio::task::spawn_blocking(move || {
            let mut bytes = Vec::new();
            body.take(cap as u64 + 1)
                .read_to_end(&mut bytes)
                .map(|_| bytes)
        })
        .await;
        let bytes = match read {
            Ok(Ok(b)) if b.len() > cap => {
                return Err((
                    "size",
                    format!(
                        "{}: not a CloudTrail, VPC flow, load balancer or WAF log, and larger than the {cap} bytes a subscription payload may be",
                        object.url()
                    ),
                ));
            }
            Ok(Ok(b)) => b,
            Ok(Err(e)) => return Ok(Outcome::Pending(format!("{}: {e}", object.url()))),
            Err(e) => return Ok(Outcome::Pending(format!("{}: {e}", object.url()))),
        };
        let config = &self.config;
        let name = object.dead_letter_name();
        let processed = process_input(config, &name, &object.url(), &bytes, |region, batch| {
            process_batch(config, region, batch)
        });
        if let Some(dead) = &processed.dead {
            return Err((
                dead.stage,
                format!(
                    "{}: not a CloudTrail, VPC flow, load balancer or WAF log, nor a subscription payload: {}",
                    object.url(),
                    dead.error
                ),
            ));
        }
        let mut items: Vec<&[u8]> = Vec::new();
        for out in processed.records.iter().flat_map(|r| &r.outputs) {
            summary.filtered_events += out.index_filtered;
            summary.redacted.merge(&out.redacted);
            items.extend(out.bulk.iter().flat_map(|c| c.items()));
        }
        summary.events += processed.records.iter().map(|r| r.events).sum::<usize>();
        let report = index_items(&self.transport, &items, &self.index, &self.options, until).await;
        let t = count(&report, summary);
        for dead in processed.records.iter().filter_map(|r| r.dead.as_ref()) {
            match self.dead_letter(dead, input).await {
                Ok(()) => summary.count_dead_letter(),
                Err(e) => return Ok(Outcome::Pending(e.to_string())),
            }
        }
        if let Some(why) = t.first_pending {
            return Ok(Outcome::Pending(why));
        }
        if let Some(first) = t.first_refusal {
            return Err((
                "index",
                format!(
                    "{}: documents refused by the cluster; first: {first}",
                    object.url()
                ),
            ));
        }
        Ok(Outcome::Done(format!("{} events", t.delivered)))
    }
}

impl<T: BulkTransport, A: Archive, O: ObjectSource> Indexer<T, A, O> {
    /// A re-drive run over the index function's dead letters (`index`: documents the cluster
    /// refused; `s3-get`: objects S3 refused to read): see [`crate::redrive`].
    pub(crate) async fn redrive(
        &self,
        input: &Invocation<'_>,
        policy: RedrivePolicy,
    ) -> Delivered<IndexSummary> {
        let mut summary = IndexSummary::started("redrive", 0);
        let counts = crate::redrive::run(
            &self.dead_letters,
            &["index", "s3-get"],
            &policy,
            input,
            async |raw: Vec<u8>| self.redeliver(input, &raw, &mut summary).await,
        )
        .await;
        summary.redrive = Some(counts);
        Ok((summary.clone(), Response::Summary(summary)))
    }

    /// Delivers a dead letter's bytes again: a notification's objects read again, or a
    /// payload's documents sent again (what was indexed answers 409). `Ok` when everything is
    /// in now; else why not (nothing is dead-lettered anew: the dead letter keeps the error).
    async fn redeliver(
        &self,
        input: &Invocation<'_>,
        raw: &[u8],
        summary: &mut IndexSummary,
    ) -> Result<(), String> {
        if let (Some(s3), Some(n)) = (&self.s3, cwlogs_pipeline::sources::notification::parse(raw))
        {
            for item in &n.items {
                if let Some(e) = &item.error {
                    return Err(e.clone());
                }
                for object in &item.objects {
                    summary.objects += 1;
                    match self.read_object(input, s3, object, summary).await {
                        Ok(Outcome::Done(_) | Outcome::Superseded(_)) => {}
                        Ok(Outcome::Failed(why) | Outcome::Pending(why)) | Err((_, why)) => {
                            return Err(why);
                        }
                    }
                }
            }
            return Ok(());
        }
        let config = &self.config;
        let processed = process_input(config, "redrive", &input.source(), raw, |region, batch| {
            process_batch(config, region, batch)
        });
        if let Some(dead) = processed.dead_letters().next() {
            return Err(dead.error.clone());
        }
        let mut items: Vec<&[u8]> = Vec::new();
        for out in processed.records.iter().flat_map(|r| &r.outputs) {
            summary.filtered_events += out.index_filtered;
            summary.redacted.merge(&out.redacted);
            items.extend(out.bulk.iter().flat_map(|c| c.items()));
        }
        summary.events += processed.records.iter().map(|r| r.events).sum::<usize>();
        let until = input.budget.send_until;
        let report = index_items(&self.transport, &items, &self.index, &self.options, until).await;
        let t = count(&report, summary);
        match (t.first_pending, t.first_refusal) {
            (Some(why), _) | (None, Some(why)) => Err(why),
            (None, None) => Ok(()),
        }
    }
}

/// Reads `object`'s `body` on a blocking thread (`ObjectStream`), handing over what it is
/// and then its chunks (with their records as batches when `keep_events`) through a channel of
/// one: the reader waits while the last chunk is being sent.
pub(crate) fn spawn_reader<B: std::io::Read + Send + 'static>(
    s3: &Arc<S3Indexing>,
    object: &ObjectRef,
    region: &str,
    body: B,
    keep_events: bool,
) -> (
    tokio::task::JoinHandle<()>,
    tokio::sync::mpsc::Receiver<Msg>,
) {
    let (tx, rx) = tokio::sync::mpsc::channel::<Msg>(1);
    let s3 = Arc::clone(s3);
    let (bucket, key) = (object.bucket.clone(), object.key.clone());
    let region = region.to_string();
    let reader = tokio::task::spawn_blocking(move || {
        let mut stream = match ObjectStream::open(&s3, &bucket, &key, &region, body) {
            Ok(s) => s.keep_events(keep_events),
            Err(e) => {
                let _ = tx.blocking_send(Msg::Failed(e));
                return;
            }
        };
        let opened = Msg::Opened(stream.detected().clone(), stream.group().to_string());
        if tx.blocking_send(opened).is_err() {
            return;
        }
        loop {
            let msg = match stream.next_chunk() {
                Ok(Some(chunk)) => Msg::Chunk(Box::new(chunk)),
                Ok(None) => return,
                Err(e) => Msg::Failed(e),
            };
            let last = matches!(msg, Msg::Failed(_));
            if tx.blocking_send(msg).is_err() || last {
                return;
            }
        }
    });
    (reader, rx)
}

/// How an object that could not be opened ends: pending, superseded, or the stage and error
/// of its dead letter.
pub(crate) fn not_opened(e: GetError) -> Result<Outcome, (&'static str, String)> {
    match e.kind {
        GetErrorKind::Retry => Ok(Outcome::Pending(e.message)),
        GetErrorKind::Changed => Ok(Outcome::Superseded(format!(
            "{} (the object changed since the notification; its new content has a notification of its own)",
            e.message
        ))),
        GetErrorKind::Gone | GetErrorKind::Refused | GetErrorKind::TooLarge => {
            Err((e.kind.stage(), e.message))
        }
    }
}

/// Counts how the documents of `report` ended into `summary`.
fn count(report: &BulkReport, summary: &mut IndexSummary) -> Tally {
    summary.requests += report.requests;
    summary.retried_events += report.retried_items;
    summary.bytes_sent += report.bytes_sent;
    let mut t = Tally::default();
    for fate in &report.fates {
        match fate {
            Fate::Done { created: true } => summary.indexed_events += 1,
            Fate::Done { created: false } => summary.existing_events += 1,
            Fate::Quarantine { .. } => summary.quarantined_events += 1,
            Fate::Rejected(why) => {
                summary.refused_events += 1;
                t.refused += 1;
                t.first_refusal.get_or_insert_with(|| why.clone());
            }
            Fate::Pending(why) => {
                summary.pending_events += 1;
                t.pending += 1;
                t.first_pending.get_or_insert_with(|| why.clone());
            }
        }
        if matches!(fate, Fate::Done { .. } | Fate::Quarantine { .. }) {
            t.delivered += 1;
        }
    }
    t
}

/// The trigger's answer once every item has an outcome.
// `Delivered` is every handler's answer type (the summary travels with the error too).
#[allow(clippy::result_large_err)]
pub(crate) fn answer<S: Clone>(
    n: &Notifications,
    outcomes: &[Outcome],
    summary: S,
) -> Delivered<S> {
    match n.shape {
        NotificationShape::Sqs => {
            let batch_item_failures = n
                .items
                .iter()
                .zip(outcomes)
                .filter(|(_, o)| matches!(o, Outcome::Pending(_)))
                .map(|(item, _)| BatchItemFailure {
                    item_identifier: item.id.clone().unwrap_or_default(),
                })
                .collect();
            Ok((
                summary,
                Response::Sqs {
                    batch_item_failures,
                },
            ))
        }
        NotificationShape::BatchOperations => {
            let results = n
                .items
                .iter()
                .zip(outcomes)
                .map(|(item, o)| {
                    let (result_code, text) = match o {
                        Outcome::Done(t) => ("Succeeded", t.as_str()),
                        Outcome::Superseded(t) => ("PermanentFailure", t.as_str()),
                        Outcome::Failed(t) => ("PermanentFailure", t.as_str()),
                        Outcome::Pending(t) => ("TemporaryFailure", t.as_str()),
                    };
                    BatchOperationsResult {
                        task_id: item.id.clone().unwrap_or_default(),
                        result_code,
                        result_string: text.chars().take(1024).collect(),
                    }
                })
                .collect();
            let answer = BatchOperationsAnswer {
                invocation_schema_version: n.schema_version.clone().unwrap_or_else(|| "2.0".into()),
                treat_missing_keys_as: "PermanentFailure",
                invocation_id: n.invocation_id.clone().unwrap_or_default(),
                results,
            };
            Ok((summary, Response::BatchOperations(answer)))
        }
        NotificationShape::S3 | NotificationShape::EventBridge => {
            let pending: Vec<&String> = outcomes
                .iter()
                .filter_map(|o| match o {
                    Outcome::Pending(why) => Some(why),
                    _ => None,
                })
                .collect();
            match pending.first() {
                None => Ok((summary.clone(), Response::Summary(summary))),
                Some(why) => {
                    let message = format!(
                        "{} of {} notifications not done yet; Lambda will retry the invocation: {why}",
                        pending.len(),
                        outcomes.len()
                    );
                    Err((summary, RetryLater { message }))
                }
            }
        }
    }
}
