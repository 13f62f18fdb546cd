//! The alert function on S3 objects (CloudTrail in S3, say): the records of the objects S3
//! notifications and Batch Operations tasks name go through the rules as events of the log
//! group `s3://{bucket}/{service}` (stream: the key), read as a stream as the index function
//! reads them (`crate::objects`). An object that cannot be read is pending (redelivered) or a
//! dead letter naming it again; an item whose alerts are not all sent at the deadline is
//! pending too (the alert state makes the redelivery send only what was missing).

use crate::AlertSummary;
use crate::alert::Alerter;
use crate::handler::{Deliver, Invocation};
use crate::objects::{Msg, Outcome, answer, not_opened, spawn_reader};
use crate::response::Delivered;
use crate::summary::Summary;
use cwlogs_pipeline::sources::notification::{Notifications, ObjectRef};
use cwlogs_pipeline::sources::{Detected, ObjectSource, S3Indexing, skip_reason};
use cwlogs_pipeline::{Archive, DeadLetter, Publish, RuleRun, StateStore, process_input};
use std::io::Read;
use std::sync::Arc;
use std::time::Instant;

impl<S: StateStore, P: Publish, A: Archive, O: ObjectSource> Alerter<S, P, A, O> {
    /// Handles an event naming S3 objects.
    pub(crate) async fn deliver_objects(
        &self,
        input: &Invocation<'_>,
        s3: &Arc<S3Indexing>,
        n: Notifications,
    ) -> Delivered<AlertSummary> {
        let config = &self.config;
        self.begin_patterns();
        let mut summary = AlertSummary::started(n.shape.as_str(), n.items.len());
        let mut run = RuleRun::new(&config.rules);
        let mut outcomes = Vec::with_capacity(n.items.len());
        for (i, item) in n.items.iter().enumerate() {
            if let Some(error) = &item.error {
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
            for object in &item.objects {
                summary.objects += 1;
                let o = match self
                    .rules_object(input, s3, object, i, &mut run, &mut summary)
                    .await
                {
                    Ok(o) => o,
                    Err((stage, error)) => {
                        let mut dead = DeadLetter::unread(
                            object.dead_letter_name(),
                            object.url(),
                            error.clone(),
                        );
                        dead.raw = Some(object.notification());
                        dead.shape = Some(n.shape.as_str());
                        dead.stage = stage;
                        match self.dead_letter(&dead, input).await {
                            Ok(()) => {
                                summary.count_dead_letter();
                                summary.objects_failed += 1;
                                Outcome::Failed(error)
                            }
                            Err(e) => Outcome::Pending(e.to_string()),
                        }
                    }
                };
                if let Outcome::Pending(_) = o {
                    summary.objects_pending += 1;
                }
                outcome = match (outcome, o) {
                    (Outcome::Pending(w), _) | (_, Outcome::Pending(w)) => Outcome::Pending(w),
                    (Outcome::Failed(w), _) | (_, Outcome::Failed(w)) => Outcome::Failed(w),
                    (done, _) => done,
                };
            }
            outcomes.push(outcome);
        }

        let report = self.finish_run(&mut run, &mut summary, input).await;
        for &i in &report.pending_records {
            if let Some(o) = outcomes.get_mut(i) {
                *o = Outcome::Pending(
                    report
                        .pending_error
                        .clone()
                        .unwrap_or_else(|| "alerts not sent yet".into()),
                );
            }
        }
        summary.pending_records = outcomes
            .iter()
            .filter(|o| matches!(o, Outcome::Pending(_)))
            .count();
        summary.alerts = report;
        answer(&n, &outcomes, summary)
    }

    /// Reads one object's records into `run` (as record `item`): its outcome, or the stage
    /// and error of its dead letter.
    async fn rules_object(
        &self,
        input: &Invocation<'_>,
        s3: &Arc<S3Indexing>,
        object: &ObjectRef,
        item: usize,
        run: &mut RuleRun<'_>,
        summary: &mut AlertSummary,
    ) -> Result<Outcome, (&'static str, String)> {
        if let Some(why) = skip_reason(&object.key) {
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
                    "{}: {size} bytes, over [sources.s3] max_object_bytes ({max})",
                    object.url()
                ),
            ));
        }
        let body = match self.objects.get(object, until).await {
            Ok(b) => b,
            Err(e) => return not_opened(e),
        };
        let (reader, mut rx) = spawn_reader(s3, object, &self.config.region, body, true);
        let mut outcome = None;
        while let Some(msg) = rx.recv().await {
            match msg {
                Msg::Opened(Detected::Records(_), _) => {}
                Msg::Opened(Detected::Skip(why), _) => {
                    outcome = Some(Ok(Outcome::Done(format!("skipped: {why}"))));
                }
                Msg::Opened(Detected::NotALog, _) => {
                    drop(rx);
                    let _ = reader.await;
                    return self.rules_payload(input, object, item, run, summary).await;
                }
                Msg::Chunk(chunk) => {
                    if let Some(batch) = &chunk.batch {
                        summary.events += batch.log_events.len();
                        let region = batch.region.as_deref().unwrap_or(&self.config.region);
                        run.add_batch(region, batch, item);
                        self.observe_patterns(region, batch, item);
                    }
                    if until.is_some_and(|u| Instant::now() >= u) {
                        outcome = Some(Ok(Outcome::Pending(
                            "the deadline came before the end of the object".into(),
                        )));
                    }
                }
                Msg::Failed(e) if e.is_retryable() => {
                    outcome = Some(Ok(Outcome::Pending(format!("{}: {e}", object.url()))));
                }
                Msg::Failed(e) => {
                    outcome = Some(Err((e.kind.stage(), format!("{}: {e}", object.url()))));
                }
            }
            if outcome.is_some() {
                break;
            }
        }
        drop(rx);
        if !matches!(outcome, Some(Ok(Outcome::Pending(_)))) {
            let _ = reader.await;
        }
        outcome.unwrap_or_else(|| Ok(Outcome::Done(String::new())))
    }

    /// An object of none of the S3 log formats: read whole and decoded as a subscription
    /// payload, its batches through the rules.
    async fn rules_payload(
        &self,
        input: &Invocation<'_>,
        object: &ObjectRef,
        item: usize,
        run: &mut RuleRun<'_>,
        summary: &mut AlertSummary,
    ) -> Result<Outcome, (&'static str, String)> {
        let body = match self.objects.get(object, input.budget.send_until).await {
            Ok(b) => b,
            Err(e) => return not_opened(e),
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
            Ok(Ok(b)) if b.len() <= cap => b,
            Ok(Ok(_)) => {
                return Err((
                    "size",
                    format!(
                        "{}: larger than a subscription payload may be",
                        object.url()
                    ),
                ));
            }
            Ok(Err(e)) => return Ok(Outcome::Pending(format!("{}: {e}", object.url()))),
            Err(e) => return Ok(Outcome::Pending(format!("{}: {e}", object.url()))),
        };
        let name = object.dead_letter_name();
        let processed = process_input(
            &self.config,
            &name,
            &object.url(),
            &bytes,
            |region, batch| {
                summary.events += batch.log_events.len();
                run.add_batch(region, batch, item);
                self.observe_patterns(region, batch, item);
            },
        );
        match &processed.dead {
            Some(dead) => Err((
                dead.stage,
                format!(
                    "{}: not a CloudTrail, VPC flow, load balancer or WAF log, nor a subscription payload: {}",
                    object.url(),
                    dead.error
                ),
            )),
            None => Ok(Outcome::Done(String::new())),
        }
    }
}
