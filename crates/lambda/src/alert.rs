//! The alert function's handler: every data batch through the `[[rule]]`s, their metrics out
//! as EMF lines on stdout, their alerts and summaries to SNS, what SNS refuses for good to a
//! dead letter, and what is still failing at the deadline back to the trigger.

use crate::dead_letter::{DeadLetterBucket, DeadLetters};
use crate::handler::{Deliver, Invocation};
use crate::response::{Delivered, Response};
use crate::summary::Summary as _;
use crate::{AlertSummary, ColdStartError};
use cwlogs_pipeline::patterns::alerts::{PatternCounts, PatternDetector, occurrences, sync_group};
use cwlogs_pipeline::redact::RedactCounts;
use cwlogs_pipeline::rules::alert::{AlertOptions, AlertReport, flush_summaries, send_alerts};
use cwlogs_pipeline::sources::{NoObjects, ObjectSource, S3Indexing};
use cwlogs_pipeline::{Archive, Config, LogBatch, Publish, RuleRun, StateStore, oldest_event_ms};
use serde::Deserialize;
use std::borrow::Cow;
use std::ops::ControlFlow;
use std::sync::{Arc, Mutex};

/// Payloads larger than this are never EventBridge events (those are a few hundred bytes), so
/// they are not probed for one.
const MAX_SCHEDULED_EVENT_BYTES: usize = 64 * 1024;

/// Where EMF lines go: stdout by default (see [`Alerter::with_metrics_out`]).
type MetricsOut = Box<dyn Fn(&str) + Send + Sync>;

/// The alert function: runs the configuration's `[[rule]]`s over whatever trigger invoked it
/// ([`cwlogs_pipeline::rules::evaluate`]), prints the metrics as CloudWatch Embedded Metric Format
/// lines on stdout (where CloudWatch turns them into metrics), and sends alerts and window
/// summaries through `publisher` with their state in `store` ([`cwlogs_pipeline::rules::alert`]).
/// Messages the topic refuses for good go to a dead letter in the archive bucket; messages
/// still failing at the deadline leave their records with the trigger, their counts rolled
/// back, so the redelivery sends them.
///
/// Batches of the function's own log group (`AWS_LAMBDA_LOG_GROUP_NAME`, where its EMF lines
/// go) are never looked at, whatever the subscription says: no feedback loop.
///
/// An EventBridge scheduled event (`"detail-type": "Scheduled Event"`) only sends the
/// summaries of windows that ended, so that they go out even when no more events arrive.
///
/// S3 notifications (directly, through SQS or EventBridge) and S3 Batch Operations jobs: the
/// records of the objects they name go through the rules as events of the log group
/// `s3://{bucket}/{service}` (CloudTrail in S3, say), read through `O`
/// ([`Alerter::with_objects`]).
///
/// Built once at cold start and borrowed by every invocation.
pub struct Alerter<S, P, A, O = NoObjects> {
    pub(crate) config: Config,
    pub(crate) store: S,
    pub(crate) publisher: P,
    pub(crate) dead_letters: DeadLetterBucket<A>,
    pub(crate) metrics_out: MetricsOut,
    timeout: std::time::Duration,
    /// Where the objects of S3 notifications are read from.
    pub(crate) objects: O,
    /// How their records are read (`[sources.s3]`); `None` when that source is off.
    pub(crate) s3: Option<Arc<S3Indexing>>,
    /// The miner of `[patterns]` alerts, kept by the container across invocations; `None`
    /// when they are off.
    pub(crate) patterns: Option<Mutex<PatternDetector>>,
}

impl<S, P, A, O> std::fmt::Debug for Alerter<S, P, A, O> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Alerter")
            .field("rules", &self.config.rules.len())
            .field("dead_letters", &self.dead_letters.archive().is_some())
            .field("dead_letter_prefix", &self.dead_letters.prefix())
            .finish_non_exhaustive()
    }
}

/// The fields of an EventBridge event that say it comes from a schedule.
#[derive(Deserialize)]
struct EventBridgeProbe<'a> {
    #[serde(borrow)]
    source: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "detail-type")]
    detail_type: Option<Cow<'a, str>>,
}

/// Whether `bytes` is an EventBridge scheduled event.
fn is_scheduled_event(bytes: &[u8]) -> bool {
    if bytes.len() > MAX_SCHEDULED_EVENT_BYTES {
        return false;
    }
    serde_json::from_slice::<EventBridgeProbe<'_>>(bytes).is_ok_and(|p| {
        p.source.as_deref() == Some("aws.events")
            && p.detail_type.as_deref() == Some("Scheduled Event")
    })
}

/// Checks, at cold start, that `config` gives the alert function something to do: at least
/// one `[[rule]]` (each has a `metric` or an `alert`) or `[patterns]` alerts, and a topic for
/// every rule with an alert. The error names every rule without a topic.
pub fn check_alert_config(config: &Config) -> Result<(), ColdStartError> {
    if config.rules.is_empty() && config.rules.pattern_rules.is_empty() {
        return Err(ColdStartError(
            "the alert function needs at least one `[[rule]]` with a `metric` or an `alert`, or `[patterns]` alerts".into(),
        ));
    }
    let missing: Vec<&str> = config
        .rules
        .alert_rules()
        .filter(|r| r.alert.as_ref().is_some_and(|a| a.topic.is_none()))
        .map(|r| r.name.as_str())
        .collect();
    if !missing.is_empty() {
        return Err(ColdStartError(format!(
            "no SNS topic for the alerts of rule{} `{}`: set `topic` in the rule's `alert`, `[alerts] topic`, or CWLOGS_ALERT_TOPIC",
            if missing.len() == 1 { "" } else { "s" },
            missing.join("`, `")
        )));
    }
    Ok(())
}

impl<S: StateStore, P: Publish, A: Archive> Alerter<S, P, A> {
    /// A handler running the rules of `config`, with alert state in `store` (DynamoDB shared
    /// by every container, or memory per container), publishing through `publisher`; dead
    /// letters go to `dead_letters` under `[archive] dead_letter_prefix`. Without a
    /// dead-letter archive, undecodable records stay with the trigger, and messages the topic
    /// refuses are logged whole instead.
    pub fn new(config: Config, store: S, publisher: P, dead_letters: Option<A>) -> Self {
        let dead_letters = DeadLetterBucket::new(dead_letters, &config);
        // The records of S3 objects are read as the index function reads them (its built-in
        // settings when `[index]` is off: only their events are used here).
        let builtin = Config::builtin(&|_| None).index;
        let s3 = match (
            &config.sources.s3,
            config.index.as_ref().or(builtin.as_ref()),
        ) {
            (Some(source), Some(index)) => Some(Arc::new(S3Indexing::new(index, source))),
            _ => None,
        };
        let patterns = config.patterns.as_ref().filter(|p| p.alerts()).map(|p| {
            Mutex::new(PatternDetector::new(p).with_redactor(config.rules.redact_alerts.clone()))
        });
        Alerter {
            patterns,
            config,
            store,
            publisher,
            dead_letters,
            metrics_out: Box::new(|line| println!("{line}")),
            timeout: crate::DEFAULT_FUNCTION_TIMEOUT,
            objects: NoObjects,
            s3,
        }
    }
}

impl<S: StateStore, P: Publish, A: Archive, O: ObjectSource> Alerter<S, P, A, O> {
    /// Reads the objects of S3 notifications and Batch Operations tasks through `objects`.
    pub fn with_objects<Q: ObjectSource>(self, objects: Q) -> Alerter<S, P, A, Q> {
        Alerter {
            config: self.config,
            store: self.store,
            publisher: self.publisher,
            dead_letters: self.dead_letters,
            metrics_out: self.metrics_out,
            timeout: self.timeout,
            objects,
            s3: self.s3,
            patterns: self.patterns,
        }
    }

    /// Sends EMF lines to `out` instead of stdout (tests capture them). In Lambda they must
    /// stay raw stdout lines: CloudWatch extracts metrics from log events that are EMF
    /// documents, so they never go through `tracing`.
    pub fn with_metrics_out(mut self, out: Box<dyn Fn(&str) + Send + Sync>) -> Self {
        self.metrics_out = out;
        self
    }

    /// The validated configuration in use.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Where alert state lives.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// Where the objects of S3 notifications are read from.
    pub fn objects(&self) -> &O {
        &self.objects
    }

    /// Where alerts go.
    pub fn publisher(&self) -> &P {
        &self.publisher
    }

    /// Where dead letters go, when anywhere.
    pub fn dead_letters(&self) -> Option<&A> {
        self.dead_letters.archive()
    }

    crate::handler::entry_points!(
        AlertSummary,
        "Handles one invocation: the direct trigger gets the summary (or an error while \
         records are pending), Kinesis its `batchItemFailures`, a Firehose transformation \
         each record back unchanged (`Ok`), or `ProcessingFailed` while pending; a \
         scheduled event gets the summary of the summaries it flushed."
    );

    /// The alerts' options: the invocation's start is their `now`.
    pub(crate) fn options(input: &Invocation<'_>) -> AlertOptions {
        AlertOptions {
            now_ms: input.now_ms(),
            deadline: input.budget.send_until,
            // Giving back a claim is as important as a dead letter: it keeps the alert.
            undo_deadline: input.budget.dead_letter_until,
            flush_all: false,
            topic: None,
        }
    }

    /// A scheduled event: the summaries of the windows that ended. A summary still failing
    /// stays listed for the next schedule (or invocation), so the answer is a success.
    async fn scheduled(&self, input: &Invocation<'_>) -> (AlertSummary, Response<AlertSummary>) {
        let options = Self::options(input);
        let report = Box::pin(flush_summaries(
            &self.config.rules,
            &self.store,
            &self.publisher,
            &options,
        ))
        .await;
        let mut summary = AlertSummary::started("scheduled", 0);
        summary.dead_letters = self.dead_letter_alerts(&report, input).await;
        summary.alerts = report;
        (summary.clone(), Response::Summary(summary))
    }

    /// The end of a rule run, whatever the input was: the EMF lines out, the run's counts in
    /// `summary`, the alerts sent and the window summaries that are due flushed, and the
    /// messages the topic refused for good dead-lettered. The report says which input records
    /// are still pending.
    pub(crate) async fn finish_run(
        &self,
        run: &mut RuleRun<'_>,
        summary: &mut AlertSummary,
        input: &Invocation<'_>,
    ) -> AlertReport {
        let config = &self.config;
        let lines = run.emf_lines();
        for line in &lines {
            (self.metrics_out)(line);
        }
        summary.metric_documents = lines.len();
        let mut occurrences = run.take_occurrences();
        summary.rules = run.stats();
        summary.redacted.merge(run.redacted());

        let options = Self::options(input);
        let mut pending = AlertReport::default();
        if let Some(p) = self.pattern_occurrences(&options, &mut pending).await {
            occurrences.extend(p.0);
            summary.patterns = Some(p.1);
        }
        let mut report = Box::pin(send_alerts(
            &config.rules,
            occurrences,
            &self.store,
            &self.publisher,
            &options,
        ))
        .await;
        report.merge(
            Box::pin(flush_summaries(
                &config.rules,
                &self.store,
                &self.publisher,
                &options,
            ))
            .await,
        );
        report.merge(pending);
        summary.dead_letters += self.dead_letter_alerts(&report, input).await;
        report
    }

    /// The start of an invocation for the `[patterns]` alerts: what an earlier invocation
    /// that stopped early had mined is not this one's.
    pub(crate) fn begin_patterns(&self) {
        if let Some(p) = &self.patterns {
            p.lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .discard();
        }
    }

    /// Mines `batch` (input record `record`) for the `[patterns]` alerts, when they are on
    /// (never the function's own log group).
    pub(crate) fn observe_patterns(&self, region: &str, batch: &LogBatch<'_>, record: usize) {
        let Some(p) = &self.patterns else {
            return;
        };
        if self.config.own_log_group.as_deref() == Some(&*batch.log_group) {
            return;
        }
        // A panic while holding the lock leaves the detector as it was: keep using it.
        let mut d = p.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        d.observe_batch(region, batch, record);
    }

    /// The occurrences of the `[patterns]` alerts of this invocation: what it mined merged
    /// into each log group's state in the store ([`sync_group`]), and the counts. A log
    /// group whose state cannot be written hands its records back (`pending`): the
    /// redelivery mines them again.
    async fn pattern_occurrences(
        &self,
        options: &AlertOptions,
        pending: &mut AlertReport,
    ) -> Option<(Vec<cwlogs_pipeline::Occurrences>, PatternCounts)> {
        let lock = self.patterns.as_ref()?;
        let (deltas, stats, config) = {
            let mut d = lock
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            (d.take(), d.take_stats(), d.config().clone())
        };
        let mut counts = PatternCounts {
            dropped: stats.dropped,
            ..PatternCounts::default()
        };
        let mut out = Vec::new();
        let mut redacted = RedactCounts::default();
        for delta in &deltas {
            match Box::pin(sync_group(
                &self.store,
                delta,
                &config,
                options.now_ms,
                options.deadline,
            ))
            .await
            {
                Ok((state, found)) => {
                    lock.lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .learned(&delta.log_group, &state);
                    counts.add(&found);
                    out.extend(occurrences(
                        &self.config.rules,
                        delta,
                        &found,
                        &mut redacted,
                    ));
                }
                Err(e) => {
                    counts.state_errors += 1;
                    pending
                        .pending_records
                        .extend(delta.seen.values().map(|s| s.record));
                    pending.pending_error = Some(e.message);
                }
            }
        }
        Some((out, counts))
    }

    /// Dead-letters the messages the topic refused for good; returns how many were written.
    /// Their counts stay in the state (a redelivery would not send them again), so one that
    /// cannot be written is logged whole rather than kept for the trigger.
    pub(crate) async fn dead_letter_alerts(
        &self,
        report: &AlertReport,
        input: &Invocation<'_>,
    ) -> usize {
        let mut written = 0;
        let source = input.source();
        for failed in &report.failed {
            let dead = failed.dead_letter("", &source);
            match self.dead_letter(&dead, input).await {
                Ok(()) => written += 1,
                Err(_) => tracing::error!(
                    event = "AlertLost",
                    subject = %failed.message.subject,
                    dedup_id = %failed.message.dedup_id,
                    error = %failed.error,
                    alert = %serde_json::to_string(&failed.message).unwrap_or_default(),
                ),
            }
        }
        written
    }

    /// Data batches: through the rules, their metrics out, their alerts and summaries sent.
    async fn evaluate(&self, input: &Invocation<'_>) -> Delivered<AlertSummary> {
        let config = &self.config;
        self.begin_patterns();
        // `process_input` does not say which record a batch came from: each batch is given
        // its sequence number as the record index, and mapped back to its record below.
        let mut run = RuleRun::new(&config.rules);
        let mut next_batch = 0usize;
        // Per batch: log group, events, whether it is the function's own group, oldest event.
        let mut batches: Vec<(String, u64, bool, Option<i64>)> = Vec::new();
        let build = |region: &str, batch: &LogBatch<'_>| {
            let n = next_batch;
            next_batch += 1;
            run.add_batch(region, batch, n);
            self.observe_patterns(region, batch, n);
            let own = config.own_log_group.as_deref() == Some(&*batch.log_group);
            batches.push((
                batch.log_group.to_string(),
                batch.log_events.len() as u64,
                own,
                oldest_event_ms(batch),
            ));
            n
        };
        let (decoded, mut summary) = match self.decode(input, config, build).await {
            ControlFlow::Continue(decoded) => decoded,
            ControlFlow::Break(answer) => return answer,
        };
        let record_of: Vec<usize> = decoded
            .records
            .iter()
            .enumerate()
            .flat_map(|(r, record)| record.outputs.iter().map(move |_| r))
            .collect();

        let report = self.finish_run(&mut run, &mut summary, input).await;

        let mut pending: Vec<Option<String>> = vec![None; decoded.records.len()];
        for n in &report.pending_records {
            if let Some(&r) = record_of.get(*n) {
                pending[r] = Some(
                    report
                        .pending_error
                        .clone()
                        .unwrap_or_else(|| "alerts not sent yet".into()),
                );
            }
        }
        let twins = decoded.dead_letter_twins();
        for (i, record) in decoded.records.iter().enumerate() {
            summary.events += record.events;
            summary.control_messages += record.control;
            if let (Some(_), Some(first)) = (&record.dead, twins[i]) {
                // One dead letter for records with the same bytes: written for the first.
                if pending[i].is_none() {
                    pending[i] = pending[first].clone();
                }
            } else if let Some(dead) = &record.dead {
                match self.dead_letter(&decoded.record_letter(dead), input).await {
                    Ok(()) => summary.dead_letters += 1,
                    Err(e) => pending[i] = Some(e.to_string()),
                }
            }
        }
        summary.alerts = report;

        for ((group, events, own, oldest), &r) in batches.iter().zip(&record_of) {
            let g = summary.groups.entry("rules", group);
            g.events += events;
            if *own {
                g.filtered += events;
            } else if pending[r].is_some() {
                g.pending += events;
            } else {
                g.deliver(*events, *oldest);
            }
        }

        for (record, why) in decoded.records.iter().zip(&pending) {
            if why.is_some() {
                summary.pending_records += 1;
                summary.pending_events += record.events;
            }
        }
        decoded.answer(input, &pending, summary, "have alerts not sent yet")
    }
}

impl<S: StateStore, P: Publish, A: Archive, O: ObjectSource> Deliver for Alerter<S, P, A, O> {
    type Summary = AlertSummary;
    type DeadLetterArchive = A;

    /// A scheduled event flushes the summaries of ended windows; data goes through the rules.
    async fn deliver(&self, input: &Invocation<'_>) -> Delivered<AlertSummary> {
        if is_scheduled_event(input.bytes) {
            return Ok(self.scheduled(input).await);
        }
        if let Some(s3) = &self.s3
            && let Some(n) = cwlogs_pipeline::sources::notification::parse(input.bytes)
        {
            // Boxed: its future is large, and the trigger's own path should not carry it.
            return Box::pin(self.deliver_objects(input, s3, n)).await;
        }
        self.evaluate(input).await
    }

    fn timeout(&self) -> std::time::Duration {
        self.timeout
    }

    fn dead_letter_destination(&self) -> DeadLetters<'_, A> {
        self.dead_letters.destination()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cold_start_needs_rules_and_topics() {
        let env = |_: &str| None;
        let none = Config::from_toml("[archive]\n", &env).expect("config");
        assert!(
            check_alert_config(&none)
                .expect_err("no rules")
                .0
                .contains("at least one `[[rule]]`")
        );
        let rule = |name: &str, alert: &str| {
            format!("[[rule]]\nname = \"{name}\"\npattern = 'ERROR'\n{alert}\n")
        };
        let text = rule("m", "metric = { namespace = \"App\", name = \"Errors\" }")
            + &rule("a", "alert = { window = \"5m\" }")
            + &rule("b", "alert = {}");
        let c = Config::from_toml(&text, &env).expect("config");
        let e = check_alert_config(&c).expect_err("no topic").0;
        assert!(
            e.contains("rules `a`, `b`") && e.contains("CWLOGS_ALERT_TOPIC"),
            "{e}"
        );
        let topic = |k: &str| {
            (k == "CWLOGS_ALERT_TOPIC").then(|| "arn:aws:sns:eu-west-1:123456789012:t".to_string())
        };
        let c = Config::from_toml(&text, &topic).expect("config");
        assert_eq!(check_alert_config(&c), Ok(()));
        let metrics_only = Config::from_toml(
            &rule("m", "metric = { namespace = \"App\", name = \"Errors\" }"),
            &env,
        )
        .expect("config");
        assert_eq!(check_alert_config(&metrics_only), Ok(()));
    }

    #[test]
    fn scheduled_events_are_recognised() {
        let scheduled = br#"{"version":"0","id":"53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa","detail-type":"Scheduled Event","source":"aws.events","account":"123456789012","time":"2025-11-25T00:20:00Z","region":"eu-west-1","resources":["arn:aws:events:eu-west-1:123456789012:rule/cwlogs-alert-flush"],"detail":{}}"#;
        assert!(is_scheduled_event(scheduled));
        for other in [
            &br#"{"awslogs":{"data":"H4sI"}}"#[..],
            br#"{"source":"aws.events","detail-type":"EC2 Instance State-change Notification"}"#,
            br#"{"source":"my.app","detail-type":"Scheduled Event"}"#,
            br#""Scheduled Event""#,
            b"not json",
        ] {
            assert!(!is_scheduled_event(other));
        }
    }
}
