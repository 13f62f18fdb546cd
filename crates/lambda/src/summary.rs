//! What one invocation of each function did: logged as one line, counted in the self-metrics,
//! and the answer to direct invocations.

use crate::GroupTallies;
use cwlogs_pipeline::RuleStats;
use cwlogs_pipeline::redact::RedactCounts;
use cwlogs_pipeline::rules::alert::AlertReport;
use serde::Serialize;

/// What the handler skeleton needs of a function's summary.
pub(crate) trait Summary: Serialize + Clone + Default {
    /// The summary of an input of shape `shape` with `records` records, before any delivery.
    fn started(shape: &'static str, records: usize) -> Self;
    /// Counts one more dead letter written.
    fn count_dead_letter(&mut self);
    /// The counts per sink and log group, for the self-metrics.
    fn groups(&self) -> &GroupTallies;
    /// The function's self-metrics counters (`EventsIn`, `EventsDelivered`, `EventsFiltered`,
    /// `DeadLetters`, `RecordsPending`, then the function's own).
    fn counters(&self) -> Vec<(&'static str, u64)>;
    /// What `[redact]` replaced in this invocation, per detector (self-metric
    /// `RedactedValues`, dimension `Detector`).
    fn redacted(&self) -> &RedactCounts;
}

/// Implements [`Summary`] for a summary struct: every one has the fields `shape`, `records`,
/// `events`, `dead_letters`, `pending_records` and `groups`. Given summary `s`, `delivered` and
/// `filtered` are its `EventsDelivered` and `EventsFiltered` counters, and any `"Name": value`
/// pairs after them the function's own counters.
macro_rules! summary {
    ($name:ident, |$s:ident| delivered: $delivered:expr, filtered: $filtered:expr
        $(, $counter:literal: $value:expr)* $(,)?) => {
        impl Summary for $name {
            fn started(shape: &'static str, records: usize) -> Self {
                $name {
                    shape,
                    records,
                    ..$name::default()
                }
            }

            fn count_dead_letter(&mut self) {
                self.dead_letters += 1;
            }

            fn groups(&self) -> &GroupTallies {
                &self.groups
            }

            fn redacted(&self) -> &RedactCounts {
                &self.redacted
            }

            fn counters(&self) -> Vec<(&'static str, u64)> {
                let $s = self;
                vec![
                    ("EventsIn", $s.events as u64),
                    ("EventsDelivered", $delivered),
                    ("EventsFiltered", $filtered),
                    ("DeadLetters", $s.dead_letters as u64),
                    ("RecordsPending", $s.pending_records as u64),
                    $(($counter, $value),)*
                ]
            }
        }
    };
}

/// What one invocation of the archive function did.
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
    /// Values `[redact]` replaced in the archived events, per detector (when `apply_to`
    /// takes `archive`), for the self-metric `RedactedValues`.
    #[serde(skip)]
    pub redacted: RedactCounts,
}

summary!(InvocationSummary, |s|
    delivered: s.archived_events as u64,
    filtered: s.filtered_events as u64,
);

/// What one invocation of the index function did.
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
    /// S3 objects named by the notifications or tasks (their records count as events).
    #[serde(skip_serializing_if = "is_zero")]
    pub objects: usize,
    /// Objects read to their end (or skipped on purpose).
    #[serde(skip_serializing_if = "is_zero")]
    pub objects_done: usize,
    /// Objects skipped on purpose (CloudTrail digest files, empty log files).
    #[serde(skip_serializing_if = "is_zero")]
    pub objects_skipped: usize,
    /// Objects dead-lettered: unreadable (gone, refused, too large, not a log, broken), or
    /// with documents the cluster refused. `objects = objects_done + objects_failed +
    /// objects_pending + objects_superseded`.
    #[serde(skip_serializing_if = "is_zero")]
    pub objects_failed: usize,
    /// Objects left for redelivery (a retryable failure, or the deadline came first).
    #[serde(skip_serializing_if = "is_zero")]
    pub objects_pending: usize,
    /// Objects changed since their notification (unversioned buckets): their new content has a
    /// notification of its own.
    #[serde(skip_serializing_if = "is_zero")]
    pub objects_superseded: usize,
    /// A re-drive run (`{"cwlogs_redrive": ...}`): what it found and did with the dead
    /// letters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redrive: Option<RedriveCounts>,
    /// The event counts per log group (sink `index`), for the self-metrics.
    #[serde(skip)]
    pub groups: GroupTallies,
    /// Values `[redact]` replaced in the indexed documents, per detector, for the
    /// self-metric `RedactedValues`.
    #[serde(skip)]
    pub redacted: RedactCounts,
}

summary!(IndexSummary, |s|
    delivered: (s.indexed_events + s.existing_events + s.quarantined_events) as u64,
    filtered: s.filtered_events as u64,
);

/// What one invocation of the alert function did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct AlertSummary {
    /// The trigger's shape (`direct`, `kinesis`, `firehose-transform`, ...), or `scheduled`.
    pub shape: &'static str,
    /// Records in the event.
    pub records: usize,
    /// Log events in data batches.
    pub events: usize,
    /// Control messages skipped.
    pub control_messages: usize,
    /// What the rules saw: events looked at, matches, events of the function's own log group
    /// (skipped), metric datapoints.
    pub rules: RuleStats,
    /// EMF documents printed.
    pub metric_documents: usize,
    /// What was sent: messages published, individual alerts, summaries, rate-limited events,
    /// redelivered occurrences, the last retryable error.
    pub alerts: AlertReport,
    /// Dead letters written (undecodable inputs and records, messages SNS refused for good).
    pub dead_letters: usize,
    /// Records left for the trigger to deliver again.
    pub pending_records: usize,
    /// Events of the records left for the trigger (their alerts are not all sent yet; the
    /// rules saw them, and a redelivery does not count them twice). `events = rules.events +
    /// rules.own_log_group_events`, of which `pending_events` are handed back; undecodable
    /// records, whose events cannot be counted, are in `dead_letters`.
    pub pending_events: usize,
    /// S3 objects named by the notifications or tasks (their records count as events).
    #[serde(skip_serializing_if = "is_zero")]
    pub objects: usize,
    /// Objects dead-lettered (unreadable: gone, refused, too large, broken).
    #[serde(skip_serializing_if = "is_zero")]
    pub objects_failed: usize,
    /// Objects left for redelivery (a retryable failure, the deadline, or alerts not sent).
    #[serde(skip_serializing_if = "is_zero")]
    pub objects_pending: usize,
    /// What the `[patterns]` alerts did (new patterns, surges, state merged), when on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patterns: Option<cwlogs_pipeline::patterns::alerts::PatternCounts>,
    /// The event counts per log group (sink `rules`: delivered means looked at by the rules,
    /// filtered the function's own log group), for the self-metrics.
    #[serde(skip)]
    pub groups: GroupTallies,
    /// Values `[redact]` replaced in alert events, group values and metric dimensions, per
    /// detector, for the self-metric `RedactedValues`.
    #[serde(skip)]
    pub redacted: RedactCounts,
}

summary!(AlertSummary, |s|
    delivered: s.rules.events,
    filtered: s.rules.own_log_group_events,
    "AlertsPublished": s.alerts.published as u64,
    "AlertsFailed": s.alerts.failed.len() as u64,
);

/// For `skip_serializing_if`: counts that only some triggers have stay out of the others'
/// summary lines.
fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// What one re-drive run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RedriveCounts {
    /// Dead letters in the bucket (error files under the prefix), of every function.
    pub stored: usize,
    /// Milliseconds since the oldest of them was written (0 without any).
    pub oldest_age_ms: u64,
    /// Dead letters of this function's stages that were due and re-driven.
    pub attempted: usize,
    /// Of those, delivered now (and deleted).
    pub delivered: usize,
    /// Of those, failing again (their error file updated, the next attempt scheduled).
    pub failed: usize,
    /// Of those, failing for the last time: they stay with their last error.
    pub exhausted: usize,
    /// This function's dead letters not due yet.
    pub waiting: usize,
    /// Due ones left for the next run (`per_run`, or the deadline).
    pub left: usize,
}
