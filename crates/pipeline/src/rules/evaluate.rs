//! Running the `[[rule]]`s over decoded batches: which events match which rule, the metric
//! datapoints they give ([`crate::rules::metrics`]), and the occurrences each alert rule collects
//! per group and window (sent by [`crate::rules::alert`]).
//!
//! All patterns are evaluated together ([`cwlogs_filter::PatternSet`]): one literal scan and
//! at most one JSON parse per message, however many rules there are.

use crate::rules::RuleSet;
use crate::rules::metrics::{MetricAggregator, minute_of};
use crate::util::hash::short_hash;
use cwlogs_decode::{LogBatch, LogEvent};
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

/// Events of one group and window kept whole per invocation, as candidates for alerts of
/// their own (the rest are counted).
pub const MAX_CANDIDATES: usize = 20;
/// Longest message text kept for an alert, in bytes (cut at a character boundary, marked).
pub const MAX_EVENT_TEXT: usize = 32 * 1024;
/// Longest group value kept, in bytes.
pub const MAX_GROUP_VALUE: usize = 256;
/// Distinct log groups, accounts or regions remembered per group and window.
pub const MAX_NAMES: usize = 10;
/// Distinct (rule, group, window) buckets one invocation collects; occurrences beyond it are
/// counted in [`RuleStats::alert_overflow`] (their events still count in metrics).
pub const MAX_BUCKETS: usize = 10_000;

/// One event as an alert shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AlertEvent {
    /// The CloudWatch event id.
    pub id: String,
    /// Event time, ms since the epoch.
    pub timestamp: i64,
    /// Log group.
    pub log_group: String,
    /// Log stream.
    pub log_stream: String,
    /// The account that owns the log group.
    pub account: String,
    /// The region.
    pub region: String,
    /// The message, at most [`MAX_EVENT_TEXT`] bytes.
    pub message: String,
    /// Whether `message` was cut.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
    /// For the alerts of `[patterns]`: the pattern that is new or surging (`message` is an
    /// example of it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<PatternEvent>,
}

/// What a `[patterns]` alert is about (a new or surging pattern): carried by its event
/// ([`AlertEvent::pattern`]), shown in the message.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PatternEvent {
    /// `new` or `surge`.
    pub kind: String,
    /// The pattern id.
    pub id: String,
    /// The template (redacted when `[redact]` applies to alerts).
    pub template: String,
    /// The log group.
    pub log_group: String,
    /// Messages of the pattern: in the surging minute (all containers), or in this
    /// invocation (new).
    pub count: u64,
    /// The per-minute baseline the minute surged above, one decimal (surges only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<String>,
    /// The minute that surged (its start, ms since the epoch; surges only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minute_ms: Option<i64>,
}

/// What one alert rule collected for one group and window in this invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Occurrences {
    /// The rule's index in [`RuleSet`].
    pub rule: usize,
    /// The `group_by` values, in order.
    pub group: Vec<String>,
    /// Window start, ms since the epoch (a multiple of the rule's window).
    pub window_start: i64,
    /// Matching events.
    pub count: u64,
    /// The first [`MAX_CANDIDATES`] events, in delivery order.
    pub events: Vec<AlertEvent>,
    /// Hashes of the batches the events came from (what makes a redelivery recognisable).
    pub batches: BTreeSet<String>,
    /// Input records the events came from (what the trigger redelivers on failure).
    pub records: BTreeSet<usize>,
    /// Log groups seen (at most [`MAX_NAMES`]).
    pub log_groups: BTreeSet<String>,
    /// Earliest and latest event time.
    pub first_ms: i64,
    /// See `first_ms`.
    pub last_ms: i64,
}

/// Counters of one run of the rules.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct RuleStats {
    /// Events looked at (of batches not skipped).
    pub events: u64,
    /// (rule, event) matches.
    pub matches: u64,
    /// Events of the function's own log group, never processed.
    pub own_log_group_events: u64,
    /// Metric datapoints (default values included).
    pub datapoints: u64,
    /// Matches that published no datapoint: the value or a dimension was missing or not a
    /// number (as CloudWatch metric filters do).
    pub unpublished: u64,
    /// Datapoints dropped for the per-rule dimension-set cap.
    pub dropped_datapoints: u64,
    /// Matches of alert rules past [`MAX_BUCKETS`] buckets.
    pub alert_overflow: u64,
}

/// Which rules of `rules` take `log_group`, by index; `None` for the function's own log group,
/// which no rule looks at.
fn takes(rules: &RuleSet, log_group: &str) -> Option<Vec<bool>> {
    (rules.own_log_group.as_deref() != Some(log_group))
        .then(|| rules.iter().map(|r| r.takes_group(log_group)).collect())
}

/// What [`RuleRun`] needs of a batch, made apart from the run (on another thread, while the
/// batch still borrows its payload): its header and, owned, only the events that some rule
/// taking its log group matches, with what the run counts of all of them (their number, their
/// minutes, the batch's hash). [`RuleRun::add_thin`] then gives what [`RuleRun::add_batch`]
/// gives for the whole batch, without a copy of every message (`cwlogs replay` keeps one per
/// batch until the rules' thread reaches it).
#[derive(Debug, Clone)]
pub struct ThinBatch {
    /// The header, and the events some rule matched.
    pub batch: LogBatch<'static>,
    /// The whole batch's number of events.
    events: u64,
    /// The minutes of its events, each run of one minute once.
    minutes: Vec<i64>,
    /// Its [`batch_hash`].
    hash: String,
    /// The rules each kept event matched and what they read of it, one event after another:
    /// event `k`'s are `reads[ends[k - 1]..ends[k]]` (from 0 for the first), so that
    /// [`RuleRun::add_thin`] does not match them again.
    reads: Vec<Read>,
    /// Where each kept event's reads end.
    ends: Vec<u32>,
}

/// What a rule reads of an event it matched, before `[redact]` and cutting: its metric's value
/// and dimension values, its alert's group values. Read where the event was matched, the
/// message's JSON is parsed once for both.
#[derive(Debug, Clone)]
struct Read {
    /// The rule's index in [`RuleSet`].
    rule: usize,
    value: Option<f64>,
    /// Each dimension's value, in order (`None`: missing).
    dims: Vec<Option<String>>,
    group: Vec<String>,
}

impl Read {
    fn of(
        rules: &RuleSet,
        i: usize,
        message: &cwlogs_filter::Message<'_>,
        batch: &LogBatch<'_>,
    ) -> Read {
        let rule = &rules[i];
        let mut read = Read {
            rule: i,
            value: None,
            dims: Vec::new(),
            group: Vec::new(),
        };
        if let Some(m) = &rule.metric {
            // A literal value needs no second evaluation: the message matched.
            read.value = match m.value.literal() {
                Some(n) => Some(n),
                None => rule.pattern.metric_value(message, &m.value),
            };
            // Up to the first missing one, as a metric filter reads them.
            for (_, v) in &m.dimensions {
                let t = rule.pattern.field_text(message, v);
                let missing = t.is_none();
                read.dims.push(t);
                if missing {
                    break;
                }
            }
        }
        if let Some(a) = &rule.alert {
            read.group = a
                .group_by
                .iter()
                .map(|g| g.value(&rule.pattern, message, &batch.log_group, &batch.log_stream))
                .collect();
        }
        read
    }
}

impl ThinBatch {
    /// `batch` thinned for `rules`.
    pub fn new(rules: &RuleSet, batch: &LogBatch<'_>) -> ThinBatch {
        let mut minutes: Vec<i64> = batch
            .log_events
            .iter()
            .map(|e| minute_of(e.timestamp))
            .collect();
        minutes.dedup();
        let takes = takes(rules, &batch.log_group);
        let skipped = takes.as_ref().is_none_or(|t| !t.contains(&true));
        let takes = takes.unwrap_or_else(|| vec![false; rules.len()]);
        let mut hits = Vec::new();
        let mut ends = Vec::new();
        let mut reads = Vec::new();
        let mut thin = batch.to_static_header();
        if !skipped {
            let among = rules.patterns().among(&|i| takes[i]);
            let mut kept = Vec::new();
            for e in &batch.log_events {
                let message = rules.patterns().message(&e.message);
                among.matches(&message, &mut hits);
                if hits.is_empty() {
                    continue;
                }
                reads.extend(hits.iter().map(|&i| Read::of(rules, i, &message, batch)));
                // The reads of a batch fit: at most its events times the configured rules.
                ends.push(reads.len() as u32);
                kept.push(e);
            }
            // The message itself only for alert candidates: an event among the first
            // MAX_CANDIDATES of its rule, group and window in this batch. The run keeps the
            // first MAX_CANDIDATES of each bucket, which are among those (its buckets' group
            // values are these, redacted and cut: one of its buckets is one or more of these).
            let mut candidates: std::collections::HashMap<(usize, i64, &[String]), usize> =
                std::collections::HashMap::new();
            let mut from = 0;
            for (e, &end) in kept.iter().zip(&ends) {
                let end = end as usize;
                let mut candidate = false;
                for read in &reads[from..end] {
                    let Some(a) = &rules[read.rule].alert else {
                        continue;
                    };
                    let window = e.timestamp.div_euclid(a.window_ms) * a.window_ms;
                    let n = candidates
                        .entry((read.rule, window, &read.group))
                        .or_default();
                    candidate |= *n < MAX_CANDIDATES;
                    *n += 1;
                }
                from = end;
                // The run reads an event's id and message only for an alert candidate.
                let (id, message) = match candidate {
                    true => (
                        std::borrow::Cow::Owned(e.id.to_string()),
                        std::borrow::Cow::Owned(e.message.to_string()),
                    ),
                    false => (
                        std::borrow::Cow::Borrowed(""),
                        std::borrow::Cow::Borrowed(""),
                    ),
                };
                thin.log_events.push(cwlogs_decode::LogEvent {
                    id,
                    timestamp: e.timestamp,
                    message,
                });
            }
        }
        ThinBatch {
            batch: thin,
            events: batch.log_events.len() as u64,
            minutes,
            hash: batch_hash(batch),
            reads,
            ends,
        }
    }
}

/// A batch's events as [`RuleRun::add_events`] reads them: lent by the caller, or the run's own
/// (a [`ThinBatch`]'s), whose ids and messages an alert event takes instead of copying them.
enum Events<'e, 'a> {
    Lent(&'e [LogEvent<'a>]),
    Own(&'e mut [LogEvent<'a>]),
}

impl<'e, 'a> Events<'e, 'a> {
    fn len(&self) -> usize {
        match self {
            Events::Lent(e) => e.len(),
            Events::Own(e) => e.len(),
        }
    }

    fn get(&self, k: usize) -> &LogEvent<'a> {
        match self {
            Events::Lent(e) => &e[k],
            Events::Own(e) => &e[k],
        }
    }

    /// Event `k`'s id and message: an own event's taken with `last` (its last use); before
    /// that, and for a lent event, the id copied and the message borrowed (the caller copies
    /// only what it keeps of it).
    fn texts(&mut self, k: usize, last: bool) -> (String, Cow<'_, str>) {
        match self {
            Events::Own(e) if last => {
                let e = &mut e[k];
                (
                    std::mem::take(&mut e.id).into_owned(),
                    Cow::Owned(std::mem::take(&mut e.message).into_owned()),
                )
            }
            _ => {
                let e = self.get(k);
                (e.id.to_string(), Cow::Borrowed(&e.message))
            }
        }
    }
}

/// The rules run over the batches of one invocation (or one replay).
#[derive(Debug)]
pub struct RuleRun<'c> {
    rules: &'c RuleSet,
    metrics: MetricAggregator,
    /// `(rule, minute)` of events the rule looked at, for rules with a `default`.
    seen_minutes: BTreeSet<(usize, i64)>,
    /// `(rule, minute)` with at least one match.
    matched_minutes: BTreeSet<(usize, i64)>,
    buckets: BTreeMap<(usize, Vec<String>, i64), Occurrences>,
    stats: RuleStats,
    defaults_added: bool,
    hits: Vec<usize>,
    /// Matches per rule, by index in [`RuleSet`].
    rule_matches: Vec<u64>,
    /// Values `[redact]` replaced in alert events, group values and metric dimensions.
    redacted: crate::redact::RedactCounts,
}

/// Cuts `text` to at most `max` bytes at a character boundary.
pub fn cut(text: &str, max: usize) -> (&str, bool) {
    if text.len() <= max {
        return (text, false);
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    (&text[..end], true)
}

impl<'c> RuleRun<'c> {
    /// Nothing seen yet.
    pub fn new(rules: &'c RuleSet) -> Self {
        RuleRun {
            rules,
            metrics: MetricAggregator::new(),
            seen_minutes: BTreeSet::new(),
            matched_minutes: BTreeSet::new(),
            buckets: BTreeMap::new(),
            stats: RuleStats::default(),
            defaults_added: false,
            hits: Vec::new(),
            rule_matches: vec![0; rules.len()],
            redacted: crate::redact::RedactCounts::default(),
        }
    }

    /// What `[redact]` replaced in alert events, group values and metric dimension values so
    /// far, per detector.
    pub fn redacted(&self) -> &crate::redact::RedactCounts {
        &self.redacted
    }

    /// Whether the configuration has any rules (when not, [`RuleRun::add_batch`] does nothing).
    pub fn has_rules(&self) -> bool {
        !self.rules.is_empty()
    }

    /// Runs every rule over `batch`, which came from input record `record`, in `region`.
    /// Returns the number of (rule, event) matches. Batches of the function's own log group
    /// are skipped.
    pub fn add_batch(&mut self, region: &str, batch: &LogBatch<'_>, record: usize) -> u64 {
        let all = batch.log_events.len() as u64;
        let mut minutes = batch.log_events.iter().map(|e| minute_of(e.timestamp));
        self.add_events(
            region,
            batch,
            Events::Lent(&batch.log_events),
            all,
            &mut minutes,
            || batch_hash(batch),
            record,
            None,
        )
    }

    /// [`RuleRun::add_batch`] of the whole batch that `thin` was made from: the same matches,
    /// metrics, occurrences and counts. Takes the batch: what its rules read (dimension and
    /// group values) moves into the run instead of being copied.
    pub fn add_thin(&mut self, region: &str, thin: ThinBatch, record: usize) -> u64 {
        let ThinBatch {
            mut batch,
            events,
            minutes,
            hash,
            mut reads,
            ends,
        } = thin;
        // The kept events are the batch's own: an alert event takes its id and message.
        let mut own = std::mem::take(&mut batch.log_events);
        self.add_events(
            region,
            &batch,
            Events::Own(&mut own),
            events,
            &mut minutes.into_iter(),
            || hash,
            record,
            Some((&mut reads, &ends)),
        )
    }

    /// Runs the rules over the events of `batch`, of a batch of `all` events whose minutes
    /// are `minutes` and whose [`batch_hash`] is `hash`'s (see [`RuleRun::add_batch`]). With
    /// `known` (a [`ThinBatch`]'s reads and their ends), the rules each event matched and what
    /// they read of it are taken from there instead of matching it again.
    #[allow(clippy::too_many_arguments)]
    fn add_events(
        &mut self,
        region: &str,
        batch: &LogBatch<'_>,
        mut events: Events<'_, '_>,
        all: u64,
        minutes: &mut dyn Iterator<Item = i64>,
        hash: impl FnOnce() -> String,
        record: usize,
        mut known: Option<(&mut [Read], &[u32])>,
    ) -> u64 {
        let rules = self.rules;
        if rules.is_empty() {
            return 0;
        }
        let Some(takes) = takes(rules, &batch.log_group) else {
            self.stats.own_log_group_events += all;
            return 0;
        };
        self.stats.events += all;
        if !takes.contains(&true) {
            return 0;
        }
        let batch_hash = hash();
        let mut matched = 0;
        let mut hits = std::mem::take(&mut self.hits);
        // Rules with a `default` remember the minutes they looked at: once per minute of the
        // batch, not once per event (events come in time order, mostly).
        let with_default: Vec<usize> = (0..rules.len())
            .filter(|&i| {
                takes[i]
                    && rules[i]
                        .metric
                        .as_ref()
                        .is_some_and(|m| m.default.is_some())
            })
            .collect();
        if !with_default.is_empty() {
            let mut last_minute = None;
            for minute in minutes {
                if last_minute != Some(minute) {
                    last_minute = Some(minute);
                    for &i in &with_default {
                        self.seen_minutes.insert((i, minute));
                    }
                }
            }
        }
        // The rules that take this batch's log group, sorted once for all its events.
        let mut among = None;
        let mut here = Vec::new();
        for k in 0..events.len() {
            let timestamp = events.get(k).timestamp;
            let minute = minute_of(timestamp);
            // The rules this event matched, with what they read of it.
            let reads: &mut [Read] = match &mut known {
                Some((reads, ends)) => {
                    let end = |k: usize| ends.get(k).map_or(0, |&e| e as usize);
                    let from = k.checked_sub(1).map_or(0, end);
                    reads.get_mut(from..end(k)).unwrap_or_default()
                }
                None => {
                    let message = rules.patterns().message(&events.get(k).message);
                    among
                        .get_or_insert_with(|| rules.patterns().among(&|i| takes[i]))
                        .matches(&message, &mut hits);
                    here.clear();
                    here.extend(hits.iter().map(|&i| Read::of(rules, i, &message, batch)));
                    &mut here
                }
            };
            // What each read holds is taken, not copied: it is read once.
            let alert_reads = reads
                .iter()
                .filter(|r| rules[r.rule].alert.is_some())
                .count();
            let mut alert_read = 0;
            for read in reads {
                let i = read.rule;
                matched += 1;
                self.stats.matches += 1;
                self.rule_matches[i] += 1;
                let rule = &rules[i];
                if rule.metric.is_some() {
                    self.matched_minutes.insert((i, minute));
                    let dims: Option<Vec<String>> = std::mem::take(&mut read.dims)
                        .into_iter()
                        .map(|t| {
                            t.map(|t| {
                                let mut t: String = match &self.rules.redact_metrics {
                                    Some(r) => r.text(&t, &mut self.redacted),
                                    None => t,
                                };
                                let kept = cut(&t, crate::rules::MAX_METRIC_TEXT).0.len();
                                t.truncate(kept);
                                t
                            })
                        })
                        .collect();
                    match (read.value, dims) {
                        (Some(v), Some(d)) => {
                            if self.metrics.add(i, d, timestamp, v) {
                                self.stats.datapoints += 1;
                            } else {
                                self.stats.dropped_datapoints += 1;
                            }
                        }
                        _ => self.stats.unpublished += 1,
                    }
                }
                if let Some(a) = &rule.alert {
                    alert_read += 1;
                    let mut group = std::mem::take(&mut read.group);
                    for v in &mut group {
                        if let Some(r) = &self.rules.redact_alerts {
                            *v = r.text(v, &mut self.redacted);
                        }
                        let kept = cut(v, MAX_GROUP_VALUE).0.len();
                        v.truncate(kept);
                    }
                    let window_start = timestamp.div_euclid(a.window_ms) * a.window_ms;
                    // One lookup: most matches fall in a bucket that exists.
                    let full = self.buckets.len() >= MAX_BUCKETS;
                    let b = match self.buckets.entry((i, group, window_start)) {
                        std::collections::btree_map::Entry::Occupied(o) => o.into_mut(),
                        std::collections::btree_map::Entry::Vacant(_) if full => {
                            self.stats.alert_overflow += 1;
                            continue;
                        }
                        std::collections::btree_map::Entry::Vacant(v) => {
                            let (rule, group, start) = v.key();
                            let o = Occurrences {
                                rule: *rule,
                                group: group.clone(),
                                window_start: *start,
                                count: 0,
                                events: Vec::new(),
                                batches: BTreeSet::new(),
                                records: BTreeSet::new(),
                                log_groups: BTreeSet::new(),
                                first_ms: timestamp,
                                last_ms: timestamp,
                            };
                            v.insert(o)
                        }
                    };
                    b.count += 1;
                    b.first_ms = b.first_ms.min(timestamp);
                    b.last_ms = b.last_ms.max(timestamp);
                    // Looked up before copying: most matches come from a batch and a log
                    // group already listed.
                    if b.batches.len() < 64 && !b.batches.contains(&batch_hash) {
                        b.batches.insert(batch_hash.clone());
                    }
                    b.records.insert(record);
                    if b.log_groups.len() < MAX_NAMES && !b.log_groups.contains(&*batch.log_group) {
                        b.log_groups.insert(batch.log_group.to_string());
                    }
                    if b.events.len() < MAX_CANDIDATES {
                        // Own texts are taken by the event's last alert, borrowed before.
                        let (id, whole) = events.texts(k, alert_read == alert_reads);
                        // Redacted whole before it is cut, so a cut cannot leave part of a
                        // secret that the detectors no longer recognise.
                        let text = match &self.rules.redact_alerts {
                            Some(r) => Cow::Owned(r.text(&whole, &mut self.redacted)),
                            None => whole,
                        };
                        let (kept, truncated) = {
                            let (t, truncated) = cut(&text, MAX_EVENT_TEXT);
                            (t.len(), truncated)
                        };
                        let message = match text {
                            Cow::Owned(mut t) => {
                                t.truncate(kept);
                                t
                            }
                            Cow::Borrowed(t) => t[..kept].to_string(),
                        };
                        b.events.push(AlertEvent {
                            id,
                            timestamp,
                            log_group: batch.log_group.to_string(),
                            log_stream: batch.log_stream.to_string(),
                            account: batch.owner.to_string(),
                            region: region.to_string(),
                            message,
                            truncated,
                            pattern: None,
                        });
                    }
                }
            }
        }
        self.hits = hits;
        matched
    }

    /// Adds the `default` datapoints (once per minute in which a rule with a default looked at
    /// events and none matched) and returns the EMF documents, one per line.
    pub fn emf_lines(&mut self) -> Vec<String> {
        if !self.defaults_added {
            self.defaults_added = true;
            let missing: Vec<(usize, i64)> = self
                .seen_minutes
                .difference(&self.matched_minutes)
                .copied()
                .collect();
            for (i, minute) in missing {
                if let Some(d) = self.rules[i].metric.as_ref().and_then(|m| m.default) {
                    self.metrics.add(i, Vec::new(), minute, d);
                    self.stats.datapoints += 1;
                }
            }
        }
        let rules = self.rules;
        self.metrics.emf_lines(|i| {
            let r = rules.get(i)?;
            Some((r.name.as_str(), r.metric.as_ref()?))
        })
    }

    /// The alert occurrences collected, by rule, group and window.
    pub fn occurrences(&self) -> impl Iterator<Item = &Occurrences> {
        self.buckets.values()
    }

    /// Takes the occurrences out, leaving none (what [`crate::rules::alert::send_alerts`] consumes).
    pub fn take_occurrences(&mut self) -> Vec<Occurrences> {
        std::mem::take(&mut self.buckets).into_values().collect()
    }

    /// The counters so far.
    pub fn stats(&self) -> RuleStats {
        self.stats
    }

    /// Matches so far per rule, by index in [`RuleSet`] (their sum is
    /// [`RuleStats::matches`]).
    pub fn rule_matches(&self) -> &[u64] {
        &self.rule_matches
    }

    /// The rules being run.
    pub fn rules(&self) -> &'c RuleSet {
        self.rules
    }
}

/// A batch's identity: log group, stream and first and last event id (what a redelivery
/// repeats exactly).
pub fn batch_hash(batch: &LogBatch<'_>) -> String {
    let first = batch.log_events.first().map_or("", |e| &*e.id);
    let last = batch.log_events.last().map_or("", |e| &*e.id);
    short_hash(format!("{}\n{}\n{first}\n{last}", batch.log_group, batch.log_stream).as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use cwlogs_decode::{LogEvent, MessageType};

    pub(crate) fn batch<'a>(group: &'a str, events: &[(&'a str, i64, &'a str)]) -> LogBatch<'a> {
        LogBatch {
            message_type: MessageType::Data,
            owner: "123456789012".into(),
            log_group: group.into(),
            log_stream: "s".into(),
            subscription_filters: vec![],
            policy_level: None,
            region: None,
            log_events: events
                .iter()
                .map(|(id, ts, m)| LogEvent {
                    id: (*id).into(),
                    timestamp: *ts,
                    message: (*m).into(),
                })
                .collect(),
        }
    }

    const T: i64 = 1_764_028_800_000;

    #[test]
    fn metrics_with_defaults_and_unpublished_values() {
        let c = Config::from_toml(
            "[[rule]]\nname = \"denied\"\npattern = '{ $.errorCode = \"AccessDenied\" }'\nlog_groups = [\"/trail\"]\nmetric = { namespace = \"Sec\", name = \"Denied\", value = \"1\", default = 0 }\n\n[[rule]]\nname = \"bytes\"\npattern = '{ $.bytes = * }'\nmetric = { namespace = \"Sec\", name = \"Bytes\", value = \"$.bytes\" }\n",
            &|_| None,
        )
        .expect("config");
        let mut run = RuleRun::new(&c.rules);
        let denied = r#"{"errorCode":"AccessDenied","bytes":"x"}"#;
        let ok = r#"{"errorCode":"None","bytes":12}"#;
        let b = batch(
            "/trail",
            &[
                ("1", T, denied),
                ("2", T + 1, denied),
                ("3", T + 60_000, ok),
                ("4", T + 61_000, "not json"),
            ],
        );
        // Events 1 and 2 match both rules (`"x"` is a value for `= *`), event 3 only "bytes".
        assert_eq!(run.add_batch("eu-west-1", &b, 0), 5);
        run.add_batch(
            "eu-west-1",
            &batch("/other", &[("5", T + 120_000, denied)]),
            1,
        );
        let lines = run.emf_lines();
        let docs: Vec<serde_json::Value> = lines
            .iter()
            .map(|l| serde_json::from_str(l).expect("json"))
            .collect();
        assert_eq!(docs.len(), 3, "{lines:#?}");
        // Minute 0: two matches; minute 1: events but no match, so the default.
        assert_eq!(docs[0]["Denied"]["Counts"], serde_json::json!([2]));
        assert_eq!(docs[0]["_aws"]["Timestamp"], T);
        assert_eq!(docs[1]["Denied"]["Values"], serde_json::json!([0]));
        assert_eq!(docs[1]["_aws"]["Timestamp"], T + 60_000);
        // "bytes": "x" is not a number: no datapoint (three times); 12 is.
        assert_eq!(docs[2]["Bytes"]["Values"], serde_json::json!([12]));
        let s = run.stats();
        assert_eq!(
            (s.events, s.matches, s.unpublished, s.datapoints),
            (5, 6, 3, 4)
        );
        // "denied" took events 1 and 2 (not event 5, of another group); "bytes" 1, 2 and 3 and
        // the other group's event 5.
        assert_eq!(run.rule_matches(), &[2, 4]);
    }

    #[test]
    fn occurrences_by_group_and_window_and_own_group_skipped() {
        let env = |k: &str| {
            (k == "AWS_LAMBDA_LOG_GROUP_NAME").then(|| "/aws/lambda/cwlogs-alert".to_string())
        };
        let c = Config::from_toml(
            "[[rule]]\nname = \"denied\"\npattern = '{ $.errorCode = \"AccessDenied\" }'\nalert = { group_by = [\"$.user\"], window = \"5m\" }\n",
            &env,
        )
        .expect("config");
        let mut run = RuleRun::new(&c.rules);
        let a = r#"{"errorCode":"AccessDenied","user":"alice"}"#;
        let b = r#"{"errorCode":"AccessDenied","user":"bob"}"#;
        let n = r#"{"errorCode":"AccessDenied"}"#;
        run.add_batch(
            "r",
            &batch(
                "/trail",
                &[
                    ("1", T, a),
                    ("2", T + 1, a),
                    ("3", T + 2, b),
                    ("4", T + 300_000, a),
                    ("5", T, n),
                ],
            ),
            0,
        );
        run.add_batch("r", &batch("/aws/lambda/cwlogs-alert", &[("6", T, a)]), 1);
        let occ: Vec<&Occurrences> = run.occurrences().collect();
        let shown: Vec<(String, i64, u64)> = occ
            .iter()
            .map(|o| (o.group.join(","), o.window_start - T, o.count))
            .collect();
        assert_eq!(
            shown,
            vec![
                ("-".into(), 0, 1),
                ("alice".into(), 0, 2),
                ("alice".into(), 300_000, 1),
                ("bob".into(), 0, 1)
            ]
        );
        assert_eq!(occ[1].events.len(), 2);
        assert_eq!(occ[1].records, BTreeSet::from([0]));
        assert_eq!(run.stats().own_log_group_events, 1);
    }

    /// A batch thinned on its own (another thread) and added to the run gives what the
    /// whole batch gives: metrics with defaults, occurrences with their batches and records,
    /// counts, the own log group skipped; only matching events are copied.
    #[test]
    fn thin_batches_give_what_whole_batches_give() {
        let env = |k: &str| {
            (k == "AWS_LAMBDA_LOG_GROUP_NAME").then(|| "/aws/lambda/cwlogs-alert".to_string())
        };
        let c = Config::from_toml(
            "[redact]\n\n[[rule]]\nname = \"denied\"\npattern = '{ $.errorCode = \"AccessDenied\" }'\nlog_groups = [\"/trail\"]\nmetric = { namespace = \"Sec\", name = \"Denied\", value = \"1\", default = 0 }\nalert = { group_by = [\"$.user\"], window = \"5m\" }\n\n[[rule]]\nname = \"errors\"\npattern = 'ERROR'\nmetric = { namespace = \"App\", name = \"Errors\", value = \"1\", default = 0 }\n\n[[rule]]\nname = \"bytes\"\npattern = '{ $.bytes > 10 }'\nlog_groups = [\"/app\"]\nmetric = { namespace = \"App\", name = \"Bytes\", value = \"$.bytes\" }\n\n[[rule]]\nname = \"by-service\"\npattern = '{ $.bytes > 0 }'\nlog_groups = [\"/app\"]\nmetric = { namespace = \"App\", name = \"BytesBy\", value = \"$.bytes\", dimensions = { Service = \"$.service\", User = \"$.user\" } }\n",
            &env,
        )
        .expect("config");
        // Group values and dimensions redacted alike (`[redact]` on for alerts and metrics).
        let a = r#"{"errorCode":"AccessDenied","user":"alice@example.com"}"#;
        let b = r#"{"errorCode":"AccessDenied","user":"bob@example.com"}"#;
        let by = r#"{"bytes":12,"service":"api","user":"jane@example.com"}"#;
        let batches = [
            batch(
                "/trail",
                &[
                    ("1", T, a),
                    ("2", T + 1, "quiet"),
                    ("3", T + 61_000, "ERROR here"),
                    ("4", T + 125_000, "quiet"),
                    ("5", T + 300_000, b),
                ],
            ),
            batch(
                "/app",
                // 7a has no service: matched, but no datapoint of the dimensioned rule.
                &[
                    ("6", T, by),
                    ("7", T, r#"{"bytes":2,"service":"web","user":"bob"}"#),
                    ("7a", T, r#"{"bytes":3}"#),
                ],
            ),
            batch("/quiet", &[("8", T + 180_000, "nothing")]),
            batch("/aws/lambda/cwlogs-alert", &[("9", T, a)]),
        ];
        // Kept: the events some rule matched; their ids only for alert candidates (3 and the
        // /app events matched metric rules alone).
        let kept: [&[&str]; 4] = [&["1", "", "5"], &["", "", ""], &[], &[]];
        let (mut whole, mut thin) = (RuleRun::new(&c.rules), RuleRun::new(&c.rules));
        for (k, b) in batches.iter().enumerate() {
            let t = ThinBatch::new(&c.rules, b);
            assert_eq!(
                whole.add_batch("r", b, k),
                thin.add_thin("r", t.clone(), k),
                "batch {k}"
            );
            // Only events some rule matched were kept.
            let ids: Vec<&str> = t.batch.log_events.iter().map(|e| &*e.id).collect();
            assert_eq!(ids, kept[k], "batch {k}");
        }
        assert_eq!(whole.emf_lines(), thin.emf_lines());
        assert_eq!(whole.stats(), thin.stats());
        assert_eq!(whole.rule_matches(), thin.rule_matches());
        let occ = |r: &RuleRun<'_>| format!("{:?}", r.occurrences().collect::<Vec<_>>());
        assert_eq!(occ(&whole), occ(&thin));
        assert_eq!(
            format!("{:?}", whole.redacted()),
            format!("{:?}", thin.redacted())
        );
        assert_eq!(whole.stats().own_log_group_events, 1);
        assert_eq!(whole.stats().unpublished, 1);
        let emf = whole.emf_lines().join("\n");
        assert!(emf.contains("BytesBy") && !emf.contains("jane@"), "{emf}");
        assert!(occ(&whole).contains("[REDACTED:email]"));
    }

    /// A thin batch's own ids and messages go to the run's alert events: an event two alert
    /// rules matched gives both its message (the first a cut copy, the last the text itself),
    /// and a message past MAX_EVENT_TEXT is cut as from the whole batch.
    #[test]
    fn thin_batches_give_their_texts_to_every_alert_that_matched() {
        let c = Config::from_toml(
            "[[rule]]\nname = \"by-user\"\npattern = '{ $.errorCode = \"AccessDenied\" }'\nalert = { group_by = [\"$.user\"], window = \"5m\" }\n\n[[rule]]\nname = \"by-source\"\npattern = 'AccessDenied'\nalert = { group_by = [\"@log_stream\"], window = \"1h\" }\n",
            &|_| None,
        )
        .expect("config");
        let long = format!(
            r#"{{"errorCode":"AccessDenied","user":"carol","pad":"{}"}}"#,
            "x".repeat(MAX_EVENT_TEXT)
        );
        let events = [
            (
                "1",
                T,
                r#"{"errorCode":"AccessDenied","user":"alice","source":"s1"}"#,
            ),
            ("2", T + 1, "AccessDenied without JSON"),
            ("3", T + 2, long.as_str()),
        ];
        let b = batch("/trail", &events);
        let (mut whole, mut thin) = (RuleRun::new(&c.rules), RuleRun::new(&c.rules));
        assert_eq!(
            whole.add_batch("r", &b, 0),
            thin.add_thin("r", ThinBatch::new(&c.rules, &b), 0)
        );
        let occ = |r: &RuleRun<'_>| format!("{:?}", r.occurrences().collect::<Vec<_>>());
        assert_eq!(occ(&whole), occ(&thin));
        // Both rules' events carry the messages, the long one cut.
        let alerted: usize = thin.occurrences().map(|o| o.events.len()).sum();
        assert_eq!(alerted, 5, "three events by one rule, two by the other");
        for o in thin.occurrences() {
            for e in &o.events {
                assert!(
                    e.message
                        .starts_with(&events.iter().find(|x| x.0 == e.id).expect("id").2[..20])
                );
                assert_eq!(e.truncated, e.id == "3", "{}", e.id);
                assert!(e.message.len() <= MAX_EVENT_TEXT);
            }
        }
    }

    /// A thin batch copies the messages of the first MAX_CANDIDATES events of each rule,
    /// group and window only; the run's alert events are the same as from the whole batch.
    #[test]
    fn thin_batches_copy_only_candidate_messages() {
        let c = Config::from_toml(
            "[[rule]]\nname = \"denied\"\npattern = '{ $.errorCode = \"AccessDenied\" }'\nalert = { group_by = [\"$.user\"], window = \"5m\" }\n\n[[rule]]\nname = \"count\"\npattern = 'AccessDenied'\nmetric = { namespace = \"Sec\", name = \"Denied\", value = \"1\" }\n",
            &|_| None,
        )
        .expect("config");
        // Per window, each of two users has more than MAX_CANDIDATES events.
        let n = 2 * MAX_CANDIDATES + 5;
        let ids: Vec<String> = (0..2 * n).map(|k| k.to_string()).collect();
        let msgs: Vec<String> = (0..2 * n)
            .map(|k| {
                // Two users in turn; the second half in the next window.
                let user = ["alice", "bob"][k % 2];
                format!(r#"{{"errorCode":"AccessDenied","user":"{user}","n":{k}}}"#)
            })
            .collect();
        let events: Vec<(&str, i64, &str)> = (0..2 * n)
            .map(|k| (&*ids[k], T + if k < n { 0 } else { 300_000 }, &*msgs[k]))
            .collect();
        let b = batch("/trail", &events);
        let t = ThinBatch::new(&c.rules, &b);
        // Every event kept (both rules match), messages only while a bucket has room.
        assert_eq!(t.batch.log_events.len(), 2 * n);
        let copied = t
            .batch
            .log_events
            .iter()
            .filter(|e| !e.message.is_empty())
            .count();
        // Two users in each of two windows.
        assert_eq!(copied, 4 * MAX_CANDIDATES);
        let (mut whole, mut thin) = (RuleRun::new(&c.rules), RuleRun::new(&c.rules));
        assert_eq!(
            whole.add_batch("r", &b, 0),
            thin.add_thin("r", t.clone(), 0)
        );
        let occ = |r: &RuleRun<'_>| format!("{:?}", r.occurrences().collect::<Vec<_>>());
        assert_eq!(occ(&whole), occ(&thin));
        assert_eq!(whole.emf_lines(), thin.emf_lines());
    }

    #[test]
    fn cut_respects_characters() {
        assert_eq!(cut("héllo", 2), ("h", true));
        assert_eq!(cut("héllo", 3), ("hé", true));
        assert_eq!(cut("abc", 3), ("abc", false));
    }
}
