//! Alerts: what the occurrences of a run ([`crate::rules::evaluate`]) turn into on an SNS topic.
//!
//! Per rule, group (`group_by` values) and window (aligned to the rule's `window`, by event
//! time):
//!
//! - the first `max_per_window` events go out at once, one message each ([`send_alerts`]);
//! - once the window has ended (plus `[alerts] grace` for late events), one summary reports
//!   what was not sent individually ([`flush_summaries`]): "37 matches of access-denied for
//!   role X in 5 min, 34 not sent individually". Events arriving after the summary get another
//!   one for the rest. When more than [`DIGEST_AFTER`] summaries of one rule are due together,
//!   they go out as one digest message instead;
//! - individual alerts spend tokens of the rule's bucket (`rate`: `burst` per `interval`, all
//!   groups together); events refused for lack of tokens are counted in their window's summary,
//!   and the next message that goes out says how many were suppressed since when.
//!
//! The counts live in a [`StateStore`], updated with conditional writes, so concurrent
//! invocations sharing a DynamoDB table agree on who sends what: one alert per event slot,
//! one summary per window. Everything that could be redelivered is recognised: a batch
//! already counted in a window is not counted again, an event already alerted is not alerted
//! again, and every message carries a deterministic dedup id (FIFO topics get it as
//! `MessageDeduplicationId`).
//!
//! Failures: a publish that can never succeed comes back in [`AlertReport::failed`] with the
//! message, for the dead letter. A publish still failing at the deadline rolls its window's
//! counts back and reports the input records in [`AlertReport::pending_records`], so the
//! trigger's redelivery sends it then.
//!
//! # Input safety
//!
//! Messages are at most [`MAX_MESSAGE_BYTES`] (SNS's limit): event texts are cut at a
//! character boundary (and marked `truncated`), samples and group lists shrink until the JSON
//! fits; JSON is never cut mid-token. Subjects are at most [`MAX_SUBJECT_CHARS`] ASCII
//! characters without line breaks. State items hold at most a few samples, 64 batch hashes
//! and 100 alerted event ids; a rule's pending list holds at most [`MAX_PENDING`] windows.

mod message;
mod state;

pub(crate) use state::update;

pub use message::{insights_url, subject};

use crate::rules::evaluate::{AlertEvent, Occurrences, cut};
use crate::rules::{AlertRule, Rule, RuleSet};
use crate::sink::{AlertMessage, Class, DeadLetter, Publish, SendError, StateStore, StateWrite};
use crate::util::hash::short_hash;
use crate::util::time::UtcTime;
use message::*;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::json;
use state::*;
use std::collections::BTreeSet;
use std::time::Instant;

/// The largest SNS message, in bytes.
pub const MAX_MESSAGE_BYTES: usize = 256 * 1024;
/// The longest subject SNS accepts (it must be under 100 characters).
pub const MAX_SUBJECT_CHARS: usize = 99;
/// Sample events kept per window for its summary.
pub const SAMPLES_PER_SUMMARY: usize = 3;
/// Longest sample text in a summary, in bytes.
pub const SAMPLE_TEXT: usize = 4096;
/// Due summaries of one rule above which they go out as one digest.
pub const DIGEST_AFTER: usize = 3;
/// Windows a rule's pending list remembers (the oldest are forgotten first).
pub const MAX_PENDING: usize = 1000;
/// Groups listed in one digest.
pub const DIGEST_GROUPS: usize = 50;
/// Conditional-write attempts before giving up on a contended item (retried later).
const MAX_ATTEMPTS: usize = 25;
/// Batch hashes remembered per window.
const MAX_BATCHES: usize = 64;
/// Alerted event ids remembered per window (`max_per_window` is at most this).
const MAX_ALERTED: usize = 100;

/// How a run sends alerts.
#[derive(Debug, Clone, Default)]
pub struct AlertOptions {
    /// Now, in ms since the epoch (wall clock): when windows are due and buckets refill.
    pub now_ms: i64,
    /// When sends must stop.
    pub deadline: Option<Instant>,
    /// When giving back the claim of alerts that could not be sent must stop (`None`: at
    /// `deadline`). Set it later than `deadline`: a claim not given back makes the
    /// redelivery take its batch for done, and its alerts are never sent.
    pub undo_deadline: Option<Instant>,
    /// Send every pending summary now, ended or not (the end of a `cwlogs replay`).
    pub flush_all: bool,
    /// Replaces every rule's topic (`cwlogs replay --alert-to`).
    pub topic: Option<String>,
}

/// What sending alerts did.
#[derive(Debug, Default, Clone, Serialize)]
pub struct AlertReport {
    /// Messages published (alerts, summaries, digests).
    pub published: usize,
    /// Individual alerts published.
    pub alerts: usize,
    /// Summaries and digests published.
    pub summaries: usize,
    /// Events not sent individually because the rule's rate limit had no tokens left.
    pub rate_limited: u64,
    /// Occurrences whose batches were all counted before (a redelivery): nothing sent.
    pub redelivered: usize,
    /// Messages the topic will never take, with the error: dead-letter them.
    #[serde(skip)]
    pub failed: Vec<FailedAlert>,
    /// Input records whose alerts could not be sent yet (counts rolled back): redeliver them.
    #[serde(skip)]
    pub pending_records: BTreeSet<usize>,
    /// The last retryable error, when something is pending.
    pub pending_error: Option<String>,
}

impl AlertReport {
    /// Adds `other`'s counts and failures to these.
    pub fn merge(&mut self, other: AlertReport) {
        self.published += other.published;
        self.alerts += other.alerts;
        self.summaries += other.summaries;
        self.rate_limited += other.rate_limited;
        self.redelivered += other.redelivered;
        self.failed.extend(other.failed);
        self.pending_records.extend(other.pending_records);
        if other.pending_error.is_some() {
            self.pending_error = other.pending_error;
        }
    }
}

/// A message the topic refused for good.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedAlert {
    /// The message as it would have been sent.
    pub message: AlertMessage,
    /// Why it was refused.
    pub error: SendError,
}

impl FailedAlert {
    /// The dead letter keeping it: the message as JSON (stage `sns`), named after
    /// `name_prefix` and the dedup id, so a retry overwrites its own dead letter.
    pub fn dead_letter(&self, name_prefix: &str, input: &str) -> DeadLetter {
        let raw = serde_json::to_vec_pretty(&self.message).unwrap_or_default();
        DeadLetter {
            name: format!("{name_prefix}alert-{}.json", self.message.dedup_id),
            raw: Some(raw),
            input: input.to_string(),
            shape: None,
            record: None,
            record_id: None,
            stage: "sns",
            error: self.error.message.clone(),
            log_group: self
                .message
                .attributes
                .iter()
                .find(|(k, _)| k == "log_group")
                .map(|(_, v)| v.clone()),
            occurrences: Vec::new(),
        }
    }
}

/// Sends the individual alerts of `occurrences` and records their counts (see the module
/// docs). Call [`flush_summaries`] afterwards for the windows that ended.
pub async fn send_alerts<S: StateStore, P: Publish>(
    rules: &RuleSet,
    occurrences: Vec<Occurrences>,
    store: &S,
    publisher: &P,
    options: &AlertOptions,
) -> AlertReport {
    let mut report = AlertReport::default();
    for o in occurrences {
        let Some(rule) = rules.alert_rule(o.rule) else {
            continue;
        };
        let Some(alert) = &rule.alert else {
            continue;
        };
        if let Err(e) = send_one(
            rules,
            rule,
            alert,
            &o,
            store,
            publisher,
            options,
            &mut report,
        )
        .await
        {
            report.pending_records.extend(o.records.iter().copied());
            report.pending_error = Some(e.message);
        }
    }
    report
}

/// What claiming a window gave.
enum Claim {
    Redelivered,
    Claimed {
        /// Event ids to send individually.
        chosen: Vec<String>,
        /// Whether the window must be added to the pending list.
        list: bool,
    },
}

#[allow(clippy::too_many_arguments)]
async fn send_one<S: StateStore, P: Publish>(
    rules: &RuleSet,
    rule: &Rule,
    alert: &AlertRule,
    o: &Occurrences,
    store: &S,
    publisher: &P,
    options: &AlertOptions,
    report: &mut AlertReport,
) -> Result<(), SendError> {
    let key = window_key(&rule.name, &o.group, o.window_start);
    let window_end = o.window_start + alert.window_ms;
    let expires = (window_end.max(options.now_ms) + rules.alerts.grace_ms) / 1000 + 86_400;
    let max = u64::from(alert.max_per_window);
    let claim = update_in_place(
        store,
        &key,
        expires,
        options.deadline,
        |cur: &mut Option<WindowState>| {
            if let Some(st) = cur
                && !o.batches.is_empty()
                && o.batches.iter().all(|b| st.batches.contains(b))
            {
                return (false, Claim::Redelivered);
            }
            let st = cur.get_or_insert_with(|| WindowState {
                group: o.group.clone(),
                window_start: o.window_start,
                first_ms: o.first_ms,
                last_ms: o.last_ms,
                ..WindowState::default()
            });
            st.count += o.count;
            st.first_ms = st.first_ms.min(o.first_ms);
            st.last_ms = st.last_ms.max(o.last_ms);
            for g in &o.log_groups {
                if st.log_groups.len() < crate::rules::evaluate::MAX_NAMES
                    && !st.log_groups.contains(g)
                {
                    st.log_groups.push(g.clone());
                }
            }
            for e in &o.events {
                if st.samples.len() >= SAMPLES_PER_SUMMARY {
                    break;
                }
                if !st.samples.iter().any(|s| s.id == e.id) {
                    st.samples.push(sample_of(e));
                }
            }
            for b in &o.batches {
                if !st.batches.contains(b) {
                    st.batches.push(b.clone());
                }
            }
            let extra = st.batches.len().saturating_sub(MAX_BATCHES);
            st.batches.drain(..extra);
            let room = max.saturating_sub(st.sent) as usize;
            let chosen: Vec<String> = o
                .events
                .iter()
                .filter(|e| !st.alerted.contains(&e.id))
                .take(room)
                .map(|e| e.id.clone())
                .collect();
            st.sent += chosen.len() as u64;
            st.alerted.extend(chosen.iter().cloned());
            let extra = st.alerted.len().saturating_sub(MAX_ALERTED);
            st.alerted.drain(..extra);
            let list = st.unreported() > 0 && !st.listed;
            st.listed |= list;
            (true, Claim::Claimed { chosen, list })
        },
    )
    .await?;
    let (chosen, list) = match claim {
        Claim::Redelivered => {
            report.redelivered += 1;
            return Ok(());
        }
        Claim::Claimed { chosen, list } => (chosen, list),
    };
    // From here the window holds this occurrence's claim: a step that fails before its alerts
    // are published gives the claim back (`give_back`), so that the redelivery sends them.
    if list && let Err(e) = add_pending(rule, &key, window_end, store, options).await {
        return give_back(store, &key, expires, o, &chosen, options, e).await;
    }
    if chosen.is_empty() {
        return Ok(());
    }
    let (granted, suppressed) =
        match take_tokens(rule, alert, chosen.len() as u64, store, options).await {
            Ok(taken) => taken,
            Err(e) => return give_back(store, &key, expires, o, &chosen, options, e).await,
        };
    let granted = granted as usize;
    let refused = &chosen[granted..];
    if !refused.is_empty() {
        report.rate_limited += refused.len() as u64;
        // In place: a window holds up to its samples, event ids and batches, which a copy
        // of it for each refund would allocate again.
        let refunded = update_in_place(
            store,
            &key,
            expires,
            options.deadline,
            |cur: &mut Option<WindowState>| {
                let Some(st) = cur else {
                    return (false, false);
                };
                st.sent = st.sent.saturating_sub(refused.len() as u64);
                st.rate_limited += refused.len() as u64;
                let list = st.unreported() > 0 && !st.listed;
                st.listed |= list;
                (true, list)
            },
        )
        .await;
        let list = match refunded {
            Ok(list) => list,
            Err(e) => return give_back(store, &key, expires, o, &chosen, options, e).await,
        };
        if list && let Err(e) = add_pending(rule, &key, window_end, store, options).await {
            let unsent = &chosen[..granted];
            return give_back(store, &key, expires, o, unsent, options, e).await;
        }
    }
    let mut suppressed = suppressed;
    for (n, id) in chosen[..granted].iter().enumerate() {
        let Some(event) = o.events.iter().find(|e| &e.id == id) else {
            continue;
        };
        let message = alert_message(rule, alert, o, event, suppressed.take(), options);
        let sent = publish_in_time(publisher, &message, options.deadline).await;
        match sent {
            Ok(_) => {
                report.published += 1;
                report.alerts += 1;
            }
            Err(e) if e.class == Class::Retry => {
                let unsent = &chosen[n..granted];
                return give_back(store, &key, expires, o, unsent, options, e).await;
            }
            Err(e) => report.failed.push(FailedAlert { message, error: e }),
        }
    }
    Ok(())
}

/// A window's sample of `e`: its message cut to [`SAMPLE_TEXT`]. Built field by field, so
/// that the whole message (up to [`crate::rules::evaluate::MAX_EVENT_TEXT`]) is not copied
/// only to be dropped.
fn sample_of(e: &AlertEvent) -> AlertEvent {
    let (text, cut_off) = cut(&e.message, SAMPLE_TEXT);
    AlertEvent {
        id: e.id.clone(),
        timestamp: e.timestamp,
        log_group: e.log_group.clone(),
        log_stream: e.log_stream.clone(),
        account: e.account.clone(),
        region: e.region.clone(),
        message: text.to_string(),
        truncated: e.truncated || cut_off,
        pattern: e.pattern.clone(),
    }
}

/// What a summary reads of a claimed window: all of it but the event ids and batches it
/// remembers against redeliveries (up to [`MAX_ALERTED`] and [`MAX_BATCHES`] strings, which
/// no message shows).
fn summary_copy(st: &mut WindowState) -> WindowState {
    let alerted = std::mem::take(&mut st.alerted);
    let batches = std::mem::take(&mut st.batches);
    let copy = st.clone();
    st.alerted = alerted;
    st.batches = batches;
    copy
}

/// Publishes `message` unless the deadline has passed (then a retryable error, without trying).
async fn publish_in_time<P: Publish>(
    publisher: &P,
    message: &AlertMessage,
    deadline: Option<Instant>,
) -> Result<String, SendError> {
    if deadline.is_some_and(|d| Instant::now() >= d) {
        return Err(SendError {
            class: Class::Retry,
            message: "no time left before the deadline".into(),
        });
    }
    publisher.publish(message, deadline).await
}

/// A claimed summary: the window's state after the claim (without its event ids and batches:
/// [`summary_copy`]) and what this summary reports.
struct Due {
    key: String,
    state: WindowState,
    reporting: u64,
}

/// Sends the summaries of windows that ended (`grace` ago), or of every window with
/// `flush_all`. Each window's summary is claimed with a conditional write first, so
/// concurrent invocations send it once.
pub async fn flush_summaries<S: StateStore, P: Publish>(
    rules: &RuleSet,
    store: &S,
    publisher: &P,
    options: &AlertOptions,
) -> AlertReport {
    let mut report = AlertReport::default();
    for rule in rules.alert_rules() {
        let Some(alert) = &rule.alert else {
            continue;
        };
        if let Err(e) = flush_rule(rules, rule, alert, store, publisher, options, &mut report).await
        {
            report.pending_error = Some(e.message);
        }
    }
    report
}

async fn flush_rule<S: StateStore, P: Publish>(
    rules: &RuleSet,
    rule: &Rule,
    alert: &AlertRule,
    store: &S,
    publisher: &P,
    options: &AlertOptions,
    report: &mut AlertReport,
) -> Result<(), SendError> {
    let pending_key = format!("p#{}", rule.name);
    let grace = rules.alerts.grace_ms;
    let is_due = |end: i64| options.flush_all || end + grace <= options.now_ms;
    // Take the due windows off the list first: an event arriving after this sees its window
    // unlisted only once the claim below has reported everything before it.
    let expires = options.now_ms / 1000 + 30 * 86_400;
    // In place: the list holds up to MAX_PENDING window keys, and most flushes find none due.
    let due: Vec<(String, i64)> = update_in_place(
        store,
        &pending_key,
        expires,
        options.deadline,
        |cur: &mut Option<PendingState>| {
            let Some(st) = cur else {
                return (false, Vec::new());
            };
            if !st.windows.iter().any(|(_, end)| is_due(*end)) {
                return (false, Vec::new());
            }
            let (due, keep): (Vec<_>, Vec<_>) = std::mem::take(&mut st.windows)
                .into_iter()
                .partition(|(_, end)| is_due(*end));
            st.windows = keep;
            (true, due)
        },
    )
    .await?;
    if due.is_empty() {
        return Ok(());
    }
    let mut claimed = Vec::new();
    let mut relist = Vec::new();
    for (key, end) in &due {
        let expires = ((*end).max(options.now_ms) + grace) / 1000 + 86_400;
        let got = update_in_place(
            store,
            key,
            expires,
            options.deadline,
            |cur: &mut Option<WindowState>| {
                let Some(st) = cur else {
                    return (false, None);
                };
                let reporting = st.unreported();
                st.reported += reporting;
                st.listed = false;
                let claimed = (reporting > 0).then(|| summary_copy(st));
                (true, claimed.map(|s| (s, reporting)))
            },
        )
        .await;
        match got {
            Ok(Some((state, reporting))) => claimed.push(Due {
                key: key.clone(),
                state,
                reporting,
            }),
            Ok(None) => {}
            Err(e) => {
                relist.push((key.clone(), *end));
                report.pending_error = Some(e.message);
            }
        }
    }
    let suppressed = if claimed.is_empty() {
        None
    } else {
        take_suppressed(rule, alert, store, options).await?
    };
    let messages: Vec<(AlertMessage, Vec<usize>)> = if claimed.len() > DIGEST_AFTER {
        vec![(
            digest_message(rule, alert, &claimed, suppressed, options),
            (0..claimed.len()).collect(),
        )]
    } else {
        let mut suppressed = suppressed;
        claimed
            .iter()
            .enumerate()
            .map(|(i, d)| {
                (
                    summary_message(rule, alert, d, suppressed.take(), options),
                    vec![i],
                )
            })
            .collect()
    };
    for (message, covers) in messages {
        let sent = publish_in_time(publisher, &message, options.deadline).await;
        match sent {
            Ok(_) => {
                report.published += 1;
                report.summaries += 1;
            }
            Err(e) if e.class == Class::Retry => {
                for i in covers {
                    let d = &claimed[i];
                    let end = d.state.window_start + alert.window_ms;
                    let expires = (end.max(options.now_ms) + grace) / 1000 + 86_400;
                    update(
                        store,
                        &d.key,
                        expires,
                        options.deadline,
                        |cur: Option<WindowState>| {
                            let Some(mut st) = cur else {
                                return (None, ());
                            };
                            st.reported = st.reported.saturating_sub(d.reporting);
                            st.listed = true;
                            (Some(st), ())
                        },
                    )
                    .await?;
                    relist.push((d.key.clone(), end));
                }
                report.pending_error = Some(e.message);
            }
            Err(e) => report.failed.push(FailedAlert { message, error: e }),
        }
    }
    for (key, end) in relist {
        add_pending(rule, &key, end, store, options).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::block_on;
    use crate::config::Config;
    use crate::rules::evaluate::RuleRun;
    use crate::sink::{MemoryPublisher, MemoryStateStore};
    use cwlogs_decode::{LogBatch, LogEvent, MessageType};

    const T: i64 = 1_764_028_800_000;
    const TOPIC: &str = "arn:aws:sns:eu-west-1:123456789012:security";

    fn config(alert: &str) -> Config {
        let text = format!(
            "[alerts]\ntopic = \"{TOPIC}\"\n[[rule]]\nname = \"denied\"\npattern = '{{ $.errorCode = \"AccessDenied\" }}'\nalert = {{ group_by = [\"$.user\"], window = \"5m\"{alert} }}\n"
        );
        Config::from_toml(&text, &|_| None).expect("config")
    }

    fn batch<'a>(stream: &'a str, events: &[(String, i64, String)]) -> LogBatch<'a> {
        LogBatch {
            message_type: MessageType::Data,
            owner: "123456789012".into(),
            log_group: "/trail".into(),
            log_stream: stream.into(),
            subscription_filters: vec![],
            policy_level: None,
            region: None,
            log_events: events
                .iter()
                .map(|(id, ts, m)| LogEvent {
                    id: id.clone().into(),
                    timestamp: *ts,
                    message: m.clone().into(),
                })
                .collect(),
        }
    }

    fn denied(user: &str, id: usize, ts: i64) -> (String, i64, String) {
        (
            format!("{id:04}"),
            ts,
            format!(r#"{{"errorCode":"AccessDenied","user":"{user}","n":{id}}}"#),
        )
    }

    /// Sends the alerts of `events` (in log stream `stream`) at `now_ms`.
    fn send<S: StateStore>(
        c: &Config,
        stream: &str,
        events: &[(String, i64, String)],
        store: &S,
        sns: &MemoryPublisher,
        now_ms: i64,
    ) -> AlertReport {
        block_on(send_alerts(
            &c.rules,
            occurrences(c, stream, events),
            store,
            sns,
            &at(now_ms),
        ))
    }

    /// Flushes the summaries due at `now_ms`.
    fn flush(
        c: &Config,
        store: &MemoryStateStore,
        sns: &MemoryPublisher,
        now_ms: i64,
    ) -> AlertReport {
        block_on(flush_summaries(&c.rules, store, sns, &at(now_ms)))
    }

    fn occurrences(c: &Config, stream: &str, events: &[(String, i64, String)]) -> Vec<Occurrences> {
        let mut run = RuleRun::new(&c.rules);
        run.add_batch("eu-west-1", &batch(stream, events), 0);
        run.take_occurrences()
    }

    fn at(now_ms: i64) -> AlertOptions {
        AlertOptions {
            now_ms,
            ..AlertOptions::default()
        }
    }

    fn body(m: &AlertMessage) -> serde_json::Value {
        serde_json::from_str(&m.message).expect("json body")
    }

    /// A store whose next `left` writes to keys starting with `prefix` answer a retryable
    /// error: not stored, or (`stored`) stored with the answer lost on the way back.
    struct Faulty {
        inner: MemoryStateStore,
        prefix: &'static str,
        left: std::sync::atomic::AtomicUsize,
        stored: bool,
    }

    impl Faulty {
        fn new(prefix: &'static str, left: usize, stored: bool) -> Faulty {
            Faulty {
                inner: MemoryStateStore::new(),
                prefix,
                left: left.into(),
                stored,
            }
        }
    }

    impl StateStore for Faulty {
        async fn get(
            &self,
            key: &str,
            deadline: Option<Instant>,
        ) -> Result<Option<crate::sink::Versioned>, SendError> {
            self.inner.get(key, deadline).await
        }

        async fn put(
            &self,
            write: StateWrite<'_>,
            deadline: Option<Instant>,
        ) -> Result<bool, SendError> {
            let fail = write.key.starts_with(self.prefix)
                && self
                    .left
                    .fetch_update(
                        std::sync::atomic::Ordering::SeqCst,
                        std::sync::atomic::Ordering::SeqCst,
                        |n| n.checked_sub(1),
                    )
                    .is_ok();
            if !fail {
                return self.inner.put(write, deadline).await;
            }
            if self.stored && !self.inner.put(write, deadline).await? {
                return Ok(false);
            }
            Err(SendError {
                class: Class::Retry,
                message: "throttled, or the answer lost after the write".into(),
            })
        }
    }

    #[test]
    fn a_step_failing_after_the_claim_gives_it_back_for_the_redelivery() {
        let c = config("");
        let events = [denied("alice", 1, T + 1000)];
        // The rate limiter's bucket (`r#`) cannot be written, then the pending list (`p#`,
        // after a second event for the window's summary): each time the claim made just
        // before is given back, the record is handed back, and the redelivery sends.
        for (prefix, events) in [
            ("r#", events.to_vec()),
            (
                "p#",
                vec![denied("alice", 1, T + 1000), denied("alice", 2, T + 2000)],
            ),
        ] {
            let store = Faulty::new(prefix, 1, false);
            let sns = MemoryPublisher::new();
            let first = send(&c, "s", &events, &store, &sns, T + 5000);
            assert!(!first.pending_records.is_empty(), "{prefix}: {first:?}");
            assert!(sns.sent().is_empty(), "{prefix}");
            let again = send(&c, "s", &events, &store, &sns, T + 6000);
            assert_eq!(
                (again.alerts, again.redelivered),
                (1, 0),
                "{prefix}: {again:?}"
            );
            assert!(again.pending_records.is_empty(), "{prefix}: {again:?}");
            assert_eq!(sns.sent().len(), 1, "{prefix}");
        }
    }

    #[test]
    fn a_claim_stored_with_its_answer_lost_still_sends_the_alert() {
        let c = config("");
        let store = Faulty::new("", 1, true);
        let sns = MemoryPublisher::new();
        let events = [denied("alice", 1, T + 1000)];
        let r = send(&c, "s", &events, &store, &sns, T + 5000);
        // Read back, the write is found stored: the alert goes out now, and the record is
        // not handed back (a redelivery would have found its batch claimed and sent nothing).
        assert_eq!((r.published, r.alerts), (1, 1), "{r:?}");
        assert!(r.pending_records.is_empty(), "{r:?}");
        assert_eq!(sns.sent().len(), 1);
    }

    #[test]
    fn first_occurrence_at_once_then_one_summary_per_window() {
        let c = config(", severity = \"high\"");
        let store = MemoryStateStore::new();
        let sns = MemoryPublisher::new();
        let events = [
            denied("alice", 1, T + 1000),
            denied("bob", 2, T + 2000),
            denied("alice", 3, T + 3000),
            denied("alice", 4, T + 4000),
        ];
        let r = send(&c, "s", &events, &store, &sns, T + 5000);
        assert_eq!((r.published, r.alerts, r.summaries), (2, 2, 0));
        let sent = sns.sent();
        assert_eq!(sent[0].subject, "[HIGH] denied: alice");
        let b = body(&sent[0]);
        assert_eq!(b["kind"], "alert");
        assert_eq!(b["event"]["id"], "0001");
        assert_eq!(b["group"]["$.user"], "alice");
        assert_eq!(b["window"]["start"], "2025-11-25T00:00:00.000Z");
        assert!(b["console_url"].as_str().expect("url").starts_with("https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#logsV2:logs-insights$3FqueryDetail$3D$257E$2528end$257E$2527"));
        let attrs: std::collections::BTreeMap<_, _> = sent[0].attributes.iter().cloned().collect();
        assert_eq!(attrs["rule"], "denied");
        assert_eq!(attrs["severity"], "high");
        assert_eq!(attrs["log_group"], "/trail");
        assert_eq!(attrs["account"], "123456789012");
        assert_eq!(attrs["region"], "eu-west-1");
        assert_eq!(
            (sent[0].group_id.as_deref(), sent[0].topic.as_str()),
            (None, TOPIC)
        );

        // The window has not ended (plus grace): no summary yet.
        let r = flush(&c, &store, &sns, T + 300_000);
        assert_eq!(r.published, 0);
        let r = flush(&c, &store, &sns, T + 360_000);
        assert_eq!((r.published, r.summaries), (1, 1));
        let s = &sns.sent()[2];
        let b = body(s);
        assert_eq!(b["kind"], "summary");
        assert_eq!(
            b["summary"],
            "3 matches of denied for alice in 5 min (00:00-00:05 UTC), 2 not sent individually"
        );
        assert_eq!(
            (b["count"].as_u64(), b["sent_individually"].as_u64()),
            (Some(3), Some(1))
        );
        assert_eq!(b["samples"].as_array().map(Vec::len), Some(3));
        assert_eq!(s.subject, "[HIGH] denied: 3 matches for alice in 5 min");
        // Once only.
        assert_eq!(flush(&c, &store, &sns, T + 999_000).published, 0);

        // A late event gets a summary of its own for the rest.
        let late = [denied("alice", 5, T + 200_000)];
        let r = send(&c, "s2", &late, &store, &sns, T + 400_000);
        assert_eq!(
            r.published, 0,
            "the window's one individual alert went out already"
        );
        flush(&c, &store, &sns, T + 999_000);
        let b = body(&sns.sent()[3]);
        assert!(
            b["summary"]
                .as_str()
                .expect("text")
                .starts_with("1 more matches of denied for alice"),
            "{b}"
        );
    }

    #[test]
    fn redelivery_sends_nothing_new_and_dedup_ids_are_stable() {
        let c = config(", max_per_window = 2");
        let events = [denied("alice", 1, T), denied("alice", 2, T + 1)];
        let (store, sns) = (MemoryStateStore::new(), MemoryPublisher::new());
        send(&c, "s", &events, &store, &sns, T);
        let r = send(&c, "s", &events, &store, &sns, T);
        assert_eq!((r.published, r.redelivered), (0, 1));
        assert_eq!(sns.sent().len(), 2);
        // Another store (another container without a table) sends the same ids again.
        let other = MemoryPublisher::new();
        block_on(send_alerts(
            &c.rules,
            occurrences(&c, "s", &events),
            &MemoryStateStore::new(),
            &other,
            &at(T),
        ));
        let ids = |p: &MemoryPublisher| {
            p.sent()
                .iter()
                .map(|m| m.dedup_id.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(&sns), ids(&other));
        assert_ne!(ids(&sns)[0], ids(&sns)[1]);
    }

    #[test]
    fn a_retryable_failure_rolls_back_so_the_redelivery_sends() {
        let c = config("");
        let events = [denied("alice", 1, T)];
        let store = MemoryStateStore::new();
        let sns = MemoryPublisher::new();
        sns.fail_containing(
            "alice",
            SendError {
                class: Class::Retry,
                message: "Throttled".into(),
            },
        );
        let r = send(&c, "s", &events, &store, &sns, T);
        assert_eq!(r.pending_records, BTreeSet::from([0]));
        assert_eq!(r.pending_error.as_deref(), Some("Throttled"));
        let ok = MemoryPublisher::new();
        let r = block_on(send_alerts(
            &c.rules,
            occurrences(&c, "s", &events),
            &store,
            &ok,
            &at(T),
        ));
        assert_eq!((r.alerts, r.redelivered), (1, 0));
        // Nothing left for a summary: the one event went out individually.
        assert_eq!(
            block_on(flush_summaries(&c.rules, &store, &ok, &at(T + 999_000))).published,
            0
        );
    }

    #[test]
    fn a_refused_publish_is_kept_for_the_dead_letter() {
        let c = config("");
        let sns = MemoryPublisher::new();
        sns.fail_containing(
            "alice",
            SendError {
                class: Class::Reject,
                message: "NotFound: Topic does not exist".into(),
            },
        );
        let r = block_on(send_alerts(
            &c.rules,
            occurrences(&c, "s", &[denied("alice", 1, T)]),
            &MemoryStateStore::new(),
            &sns,
            &at(T),
        ));
        assert_eq!(r.failed.len(), 1);
        let d = r.failed[0].dead_letter("", "request-1");
        assert_eq!(d.stage, "sns");
        assert_eq!(d.log_group.as_deref(), Some("/trail"));
        let kept: AlertMessage =
            serde_json::from_slice(d.raw.as_deref().expect("raw")).expect("message");
        assert_eq!(kept, r.failed[0].message);
        assert!(r.pending_records.is_empty());
    }

    #[test]
    fn the_rate_limit_counts_what_it_suppresses_and_reports_it() {
        let c = config(", rate = { burst = 2, interval = \"1h\" }");
        let (store, sns) = (MemoryStateStore::new(), MemoryPublisher::new());
        let events: Vec<_> = ["a", "b", "c", "d", "e"]
            .iter()
            .enumerate()
            .map(|(i, u)| denied(u, i, T + i as i64))
            .collect();
        let r = send(&c, "s", &events, &store, &sns, T);
        assert_eq!((r.alerts, r.rate_limited), (2, 3));
        // The three refused windows are summarised together (3 = DIGEST_AFTER: one each).
        let r = flush(&c, &store, &sns, T + 999_000);
        assert_eq!(r.summaries, 3);
        let first = body(&sns.sent()[2]);
        assert_eq!(first["rate_limit"]["suppressed"], 3);
        assert_eq!(first["rate_limited"], 1);
        assert!(
            body(&sns.sent()[3])["rate_limit"].is_null(),
            "reported once"
        );
        // Half an hour later one token is back.
        let later = [
            denied("f", 10, T + 1_800_000),
            denied("g", 11, T + 1_800_001),
        ];
        let r = send(&c, "s2", &later, &store, &sns, T + 1_800_000);
        assert_eq!((r.alerts, r.rate_limited), (1, 1));
    }

    #[test]
    fn many_due_summaries_of_a_rule_become_one_digest() {
        let c = config("");
        let (store, sns) = (MemoryStateStore::new(), MemoryPublisher::new());
        let events: Vec<_> = (0..12)
            .map(|i| denied(&format!("user-{}", i % 6), i, T + i as i64))
            .collect();
        let r = send(&c, "s", &events, &store, &sns, T);
        assert_eq!(r.alerts, 6);
        let r = block_on(flush_summaries(
            &c.rules,
            &store,
            &sns,
            &AlertOptions {
                flush_all: true,
                ..at(T)
            },
        ));
        assert_eq!(r.summaries, 1);
        let d = sns.sent().pop().expect("digest");
        let b = body(&d);
        assert_eq!(b["kind"], "digest");
        assert_eq!(b["groups_total"], 6);
        assert_eq!(b["groups"].as_array().map(Vec::len), Some(6));
        assert!(d.subject.contains("6 matches in 6 groups"), "{}", d.subject);
    }

    #[test]
    fn fifo_topics_get_group_and_dedup_ids() {
        let c = config("");
        let sns = MemoryPublisher::new();
        let options = AlertOptions {
            topic: Some("arn:aws:sns:eu-west-1:123456789012:alerts.fifo".into()),
            ..at(T)
        };
        block_on(send_alerts(
            &c.rules,
            occurrences(&c, "s", &[denied("alice", 1, T)]),
            &MemoryStateStore::new(),
            &sns,
            &options,
        ));
        let m = &sns.sent()[0];
        assert!(m.is_fifo());
        assert_eq!(m.group_id.as_deref(), Some("denied"));
        assert!(m.dedup_id.starts_with("a-") && m.dedup_id.len() <= 128);
    }

    #[test]
    fn messages_fit_sns_limits() {
        let c = config("");
        let huge = format!(
            r#"{{"errorCode":"AccessDenied","user":"{}","pad":"{}"}}"#,
            "ü".repeat(300),
            "x".repeat(900_000)
        );
        let sns = MemoryPublisher::new();
        block_on(send_alerts(
            &c.rules,
            occurrences(&c, "s", &[("1".into(), T, huge)]),
            &MemoryStateStore::new(),
            &sns,
            &at(T),
        ));
        let m = &sns.sent()[0];
        assert!(m.message.len() <= MAX_MESSAGE_BYTES);
        assert!(m.subject.len() <= MAX_SUBJECT_CHARS && m.subject.is_ascii());
        assert!(m.subject.ends_with("..."));
        let b = body(m);
        assert_eq!(b["event"]["truncated"], true);
        assert_eq!(subject("a\n\tb  c\u{7}"), "a b c?");
    }
}
