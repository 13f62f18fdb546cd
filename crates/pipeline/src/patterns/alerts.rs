//! Pattern alerts: *new pattern* and *surge* (issue 21).
//!
//! # What they mean
//!
//! - **New pattern**: a message whose template this log group has never had, first seen more
//!   than `warmup` after the group's first message (a deployment's first templates, or those
//!   of a group seen for the first time, are its baseline, not news).
//! - **Surge**: a known pattern's count in one minute is at least `factor` times its baseline
//!   and at least `min_count`. The baseline is an exponentially weighted moving average of
//!   the pattern's per-minute counts (minutes without a message count as zero), smoothing
//!   `2 / (N + 1)` for a `baseline` span of N minutes; a pattern known for less than the span
//!   has no baseline yet and does not surge (a new one is reported as new).
//!
//! Both go out as the alerts of the built-in rules [`super::NEW_RULE`] and
//! [`super::SURGE_RULE`] ([`crate::rules::RuleSet::pattern_rules`]), grouped by log group and
//! pattern id, through [`crate::rules::alert::send_alerts`]: windows, summaries, digests,
//! rate limits and their state work as for every rule.
//!
//! # How
//!
//! Pure except [`sync_group`]. A [`PatternDetector`] per container (or replay) runs the miner
//! over every event ([`PatternDetector::observe_batch`]) and keeps, per log group, the
//! patterns this invocation saw (first example, tokens, batch, record) and their per-minute
//! counts: a [`GroupDelta`]. At the end of the invocation each delta is merged into the log
//! group's [`GroupState`] in the [`StateStore`] ([`sync_group`]: read, [`merge`], conditional
//! write, again on a conflict). The merge decides:
//!
//! - a pattern whose id the state does not know, and whose template no known template
//!   matches token for token (another container, or this one before a restart, learned the
//!   same shape under another id), is new; it is added to the state;
//! - a pattern's minute counts are added to the state's, the baseline rolled forward; the
//!   write that takes a minute's count across the threshold reports the surge.
//!
//! The conditional write is the claim: of concurrent containers, the one whose write adds a
//! pattern (or crosses a threshold) reports it; the other's retried merge finds it known.
//! Concurrent writers merge, never overwrite. After the merge the container's miner is
//! seeded with the state's templates ([`PatternDetector::learned`], once per log group), so
//! that it generalises as the containers before it did.
//!
//! # Bounds
//!
//! A state item holds at most [`MAX_STATE_PATTERNS`] patterns and about [`MAX_STATE_BYTES`]
//! of JSON (DynamoDB items are at most 400 KB): the least recently seen patterns are evicted
//! and counted ([`GroupState::evicted`]); templates longer than [`MAX_STORED_TEMPLATE_BYTES`]
//! are kept by id only. Per invocation a detector keeps at most [`MAX_SEEN`] patterns per log
//! group, [`MAX_SEEN_TOTAL`] in all and [`MAX_GROUPS`] log groups (the rest counted in
//! [`DetectStats::dropped`]); at most [`MAX_NEW_ALERTS`] new patterns per log group and
//! invocation become alerts of their own, the rest one occurrence together (group
//! `[log group, "*"]`). A flood of new templates therefore costs bounded memory, bounded
//! state, and the rule's rate limit in messages.
//!
//! A new-pattern alert is decided when its state is written: if its publish then fails until
//! the deadline, the redelivery finds the pattern known and does not send it again (the
//! window's summary still counts it).

use super::{Miner, PatternsConfig, WILD};
use crate::redact::{RedactCounts, Redactor};
use crate::rules::RuleSet;
pub use crate::rules::evaluate::PatternEvent;
use crate::rules::evaluate::{AlertEvent, MAX_CANDIDATES, MAX_EVENT_TEXT, Occurrences, batch_hash};
use crate::sink::{SendError, StateStore};
use cwlogs_decode::LogBatch;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::time::Instant;

/// Patterns a log group's state item holds.
pub const MAX_STATE_PATTERNS: usize = 2000;
/// Bytes of JSON a log group's state item holds, about (DynamoDB's limit is 400 KB).
pub const MAX_STATE_BYTES: usize = 300 * 1024;
/// Templates longer than this (rendered) are stored by id only.
pub const MAX_STORED_TEMPLATE_BYTES: usize = 1024;
/// Patterns one log group keeps per invocation.
pub const MAX_SEEN: usize = 2000;
/// Patterns all log groups keep per invocation.
pub const MAX_SEEN_TOTAL: usize = 10_000;
/// Log groups per invocation.
pub const MAX_GROUPS: usize = 1000;
/// New patterns of one log group per invocation that become alerts of their own.
pub const MAX_NEW_ALERTS: usize = 20;
/// Bytes of an example message kept.
pub const MAX_EXAMPLE_BYTES: usize = 4096;
/// Bytes of a template shown in an alert.
pub const MAX_TEMPLATE_TEXT: usize = 4096;
/// How long an unchanged state item is kept (seconds).
pub const STATE_TTL_S: i64 = 90 * 86_400;
/// Log groups whose templates a detector has seeded its miner with, at most.
const MAX_SEEDED: usize = 10_000;
/// Minutes of silence the baseline decays over, at most (it is zero long before).
const MAX_GAP_MINUTES: i64 = 100_000;

/// What the state keeps of one pattern of a log group.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct KnownPattern {
    /// Its template's tokens (empty when the template was too long to keep).
    #[serde(rename = "t", default, skip_serializing_if = "Vec::is_empty")]
    pub tokens: Vec<String>,
    /// First seen (event time, ms).
    #[serde(rename = "a")]
    pub first_ms: i64,
    /// Last seen.
    #[serde(rename = "z")]
    pub last_ms: i64,
    /// The minute (ms / 60000) `count` counts.
    #[serde(rename = "m")]
    pub minute: i64,
    /// Messages in `minute`, every container's.
    #[serde(rename = "c")]
    pub count: u64,
    /// The baseline: moving average of the counts of the minutes before `minute`.
    #[serde(rename = "b")]
    pub baseline: f64,
}

/// A log group's patterns as the [`StateStore`] keeps them (item `pt#{log group}`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GroupState {
    /// The group's first message (event time, ms): the warm-up starts there.
    #[serde(rename = "f")]
    pub first_ms: i64,
    /// Patterns evicted for the item's bounds, ever.
    #[serde(rename = "e", default)]
    pub evicted: u64,
    /// The known patterns by id.
    #[serde(rename = "p", default)]
    pub patterns: BTreeMap<String, KnownPattern>,
}

/// One pattern as an invocation saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    /// The template's tokens when first seen (empty when too long to store).
    pub tokens: Vec<String>,
    /// The template's text when first seen.
    pub template: String,
    /// Messages.
    pub count: u64,
    /// Earliest and latest event time.
    pub first_ms: i64,
    /// See `first_ms`.
    pub last_ms: i64,
    /// The first message (cut at [`MAX_EXAMPLE_BYTES`], not redacted yet).
    pub example: AlertEvent,
    /// The batch and input record it came from.
    pub batch: String,
    /// See `batch`.
    pub record: usize,
}

/// What one invocation saw of one log group.
#[derive(Debug, Clone, Default)]
pub struct GroupDelta {
    /// The log group.
    pub log_group: String,
    /// Its earliest event time in the invocation.
    pub first_ms: i64,
    /// Its patterns by id.
    pub seen: BTreeMap<String, Seen>,
    /// Messages per (pattern id, minute).
    pub minutes: BTreeMap<(String, i64), u64>,
}

/// Counters of a detector.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct DetectStats {
    /// Messages mined.
    pub messages: u64,
    /// Messages not tracked for alerts (past [`MAX_SEEN`], [`MAX_SEEN_TOTAL`] or
    /// [`MAX_GROUPS`]).
    pub dropped: u64,
}

/// What the pattern alerts of one invocation (or replay) did, for its summary.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct PatternCounts {
    /// Log groups whose state was merged.
    pub groups: usize,
    /// New patterns found.
    pub new: usize,
    /// Surging minutes found.
    pub surges: usize,
    /// Patterns found known under another id (same template).
    pub aliased: usize,
    /// Patterns evicted from the state items.
    pub evicted: u64,
    /// Messages not tracked for alerts (bounds).
    pub dropped: u64,
    /// Log groups whose state could not be written (their records are handed back).
    pub state_errors: usize,
}

impl PatternCounts {
    /// Adds what one merge found.
    pub fn add(&mut self, found: &Found) {
        self.groups += 1;
        self.new += found.new.len();
        self.surges += found.surges.len();
        self.aliased += found.aliased;
        self.evicted += found.evicted;
    }
}

/// A surging minute the merge found.
#[derive(Debug, Clone, PartialEq)]
pub struct SurgeMinute {
    /// The pattern id (as the state knows it).
    pub id: String,
    /// The id the invocation saw it under.
    pub seen_id: String,
    /// The minute (ms / 60000).
    pub minute: i64,
    /// Its count when it crossed the threshold.
    pub count: u64,
    /// The baseline it crossed.
    pub baseline: f64,
}

/// What merging a delta into the state found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Found {
    /// Ids of the new patterns (after the warm-up).
    pub new: Vec<String>,
    /// Patterns the state did not know, first seen during the warm-up.
    pub learned: usize,
    /// Patterns known under another id (same template), by the id seen.
    pub aliased: usize,
    /// Surging minutes.
    pub surges: Vec<SurgeMinute>,
    /// Patterns evicted from the state by this merge.
    pub evicted: u64,
}

/// The key of a log group's state item.
pub fn state_key(log_group: &str) -> String {
    format!("pt#{log_group}")
}

/// Whether template `tokens` (`<*>` takes any token) matches `other` token for token.
fn matches(tokens: &[String], other: &[String]) -> bool {
    tokens.len() == other.len() && tokens.iter().zip(other).all(|(a, b)| a == WILD || a == b)
}

/// Estimated JSON bytes of one pattern of the state.
fn state_bytes(id: &str, p: &KnownPattern) -> usize {
    id.len() + 96 + p.tokens.iter().map(|t| t.len() + 3).sum::<usize>()
}

fn alpha(config: &PatternsConfig) -> f64 {
    let n = (config.surge.baseline_ms / 60_000).max(1) as f64;
    2.0 / (n + 1.0)
}

/// Moves `p`'s minute forward to `minute`: the counted minute enters the baseline, and so do
/// the silent minutes between.
fn roll(p: &mut KnownPattern, minute: i64, alpha: f64) {
    if minute <= p.minute {
        return;
    }
    p.baseline = alpha * p.count as f64 + (1.0 - alpha) * p.baseline;
    let gap = (minute - p.minute - 1).min(MAX_GAP_MINUTES);
    p.baseline *= (1.0 - alpha).powi(gap as i32);
    if !p.baseline.is_finite() {
        p.baseline = 0.0;
    }
    p.minute = minute;
    p.count = 0;
}

/// Merges what an invocation saw of a log group into its stored state (`None`: none yet).
/// Pure and deterministic: the same inputs give the same state and findings, so it can run
/// again after a conflicting write.
pub fn merge(
    stored: Option<GroupState>,
    delta: &GroupDelta,
    config: &PatternsConfig,
) -> (GroupState, Found) {
    let mut st = stored.unwrap_or(GroupState {
        first_ms: delta.first_ms,
        ..GroupState::default()
    });
    st.first_ms = st.first_ms.min(delta.first_ms);
    let mut found = Found::default();
    let warm = st.first_ms.saturating_add(config.warmup_ms);
    // Known templates by (token count, first token), for the patterns known under another id.
    let mut by_shape: HashMap<(usize, &str), Vec<&str>> = HashMap::new();
    for (id, p) in &st.patterns {
        if let Some(first) = p.tokens.first() {
            by_shape
                .entry((p.tokens.len(), first.as_str()))
                .or_default()
                .push(id);
        }
    }
    // The id each seen pattern has in the state.
    let mut alias: HashMap<&str, String> = HashMap::new();
    let mut added: Vec<(&str, &Seen)> = Vec::new();
    for (id, seen) in &delta.seen {
        if st.patterns.contains_key(id) {
            continue;
        }
        let other = seen.tokens.first().and_then(|first| {
            by_shape
                .get(&(seen.tokens.len(), first.as_str()))?
                .iter()
                .find(|k| matches(&st.patterns[**k].tokens, &seen.tokens))
        });
        match other {
            Some(k) => {
                alias.insert(id, k.to_string());
                found.aliased += 1;
            }
            None => added.push((id, seen)),
        }
    }
    drop(by_shape);
    for (id, seen) in added {
        st.patterns.insert(
            id.to_string(),
            KnownPattern {
                tokens: seen.tokens.clone(),
                first_ms: seen.first_ms,
                last_ms: seen.last_ms,
                minute: seen.first_ms.div_euclid(60_000),
                count: 0,
                baseline: 0.0,
            },
        );
        if seen.first_ms > warm {
            found.new.push(id.to_string());
        } else {
            found.learned += 1;
        }
    }
    for (id, seen) in &delta.seen {
        let key = alias.get(id.as_str()).unwrap_or(id);
        if let Some(p) = st.patterns.get_mut(key) {
            p.first_ms = p.first_ms.min(seen.first_ms);
            p.last_ms = p.last_ms.max(seen.last_ms);
            // The template as it generalised since (never narrowed back).
            if key == id
                && !seen.tokens.is_empty()
                && (p.tokens.is_empty() || matches(&seen.tokens, &p.tokens))
            {
                p.tokens.clone_from(&seen.tokens);
            }
        }
    }
    let a = alpha(config);
    let s = config.surge;
    for ((id, minute), &n) in &delta.minutes {
        let key = alias.get(id.as_str()).unwrap_or(id);
        let Some(p) = st.patterns.get_mut(key) else {
            continue;
        };
        if *minute < p.minute {
            // Late: its minute is behind the state's; not counted for surges.
            continue;
        }
        roll(p, *minute, a);
        let before = p.count;
        p.count = p.count.saturating_add(n);
        let known_for = minute.saturating_mul(60_000).saturating_sub(p.first_ms);
        if known_for < s.baseline_ms {
            continue;
        }
        let threshold = (s.min_count as f64).max(s.factor * p.baseline);
        if (before as f64) < threshold && p.count as f64 >= threshold {
            found.surges.push(SurgeMinute {
                id: key.clone(),
                seen_id: id.clone(),
                minute: *minute,
                count: p.count,
                baseline: p.baseline,
            });
        }
    }
    found.evicted = bound(&mut st);
    st.evicted += found.evicted;
    (st, found)
}

/// Keeps `st` within [`MAX_STATE_PATTERNS`] and [`MAX_STATE_BYTES`]: evicts the least recently
/// seen patterns; returns how many.
fn bound(st: &mut GroupState) -> u64 {
    let mut bytes: usize = st.patterns.iter().map(|(k, p)| state_bytes(k, p)).sum();
    let mut evicted = 0;
    let fits = |st: &GroupState, bytes: usize| {
        st.patterns.len() <= MAX_STATE_PATTERNS && bytes <= MAX_STATE_BYTES
    };
    if fits(st, bytes) {
        // The estimate holds unless tokens are mostly escapes: check the real size.
        let real = serde_json::to_string(st).map_or(usize::MAX, |t| t.len());
        if real <= MAX_STATE_BYTES + MAX_STATE_BYTES / 4 {
            return 0;
        }
        bytes = real;
    }
    let mut by_age: Vec<(i64, String)> = st
        .patterns
        .iter()
        .map(|(k, p)| (p.last_ms, k.clone()))
        .collect();
    by_age.sort_unstable();
    let mut oldest = by_age.into_iter();
    loop {
        while !fits(st, bytes) {
            let Some((_, k)) = oldest.next() else { break };
            if let Some(p) = st.patterns.remove(&k) {
                bytes = bytes.saturating_sub(state_bytes(&k, &p));
                evicted += 1;
            }
        }
        let real = serde_json::to_string(st).map_or(usize::MAX, |t| t.len());
        if real <= MAX_STATE_BYTES + MAX_STATE_BYTES / 4 || st.patterns.is_empty() {
            return evicted;
        }
        // Escapes made it larger than estimated: evict a tenth more.
        bytes = real;
        let n = (st.patterns.len() / 10).max(1);
        for _ in 0..n {
            let Some((_, k)) = oldest.next() else { break };
            if st.patterns.remove(&k).is_some() {
                evicted += 1;
            }
        }
        bytes = st
            .patterns
            .iter()
            .map(|(k, p)| state_bytes(k, p))
            .sum::<usize>()
            .min(bytes);
    }
}

/// Merges `delta` into the stored state of its log group with conditional writes (read,
/// merge, write if nobody wrote in between, else again): concurrent containers merge. Returns
/// the state written and what the merge found.
pub async fn sync_group<S: StateStore>(
    store: &S,
    delta: &GroupDelta,
    config: &PatternsConfig,
    now_ms: i64,
    deadline: Option<Instant>,
) -> Result<(GroupState, Found), SendError> {
    let key = state_key(&delta.log_group);
    let expires = now_ms / 1000 + STATE_TTL_S;
    crate::rules::alert::update(store, &key, expires, deadline, |cur: Option<GroupState>| {
        let (st, found) = merge(cur, delta, config);
        (Some(st.clone()), (st, found))
    })
    .await
}

/// The miner and what the current invocation saw, per container (or replay).
#[derive(Debug)]
pub struct PatternDetector {
    config: PatternsConfig,
    miner: Miner,
    seeded: HashSet<String>,
    pending: BTreeMap<String, GroupDelta>,
    seen_total: usize,
    stats: DetectStats,
    /// `[redact]` when it applies to alerts: the template tokens kept in the state are
    /// redacted too (the state leaves the function, for DynamoDB).
    redact: Option<std::sync::Arc<Redactor>>,
}

impl PatternDetector {
    /// An empty detector for `config`.
    pub fn new(config: &PatternsConfig) -> PatternDetector {
        PatternDetector {
            config: config.clone(),
            miner: config.miner(),
            seeded: HashSet::new(),
            pending: BTreeMap::new(),
            seen_total: 0,
            stats: DetectStats::default(),
            redact: None,
        }
    }

    /// Redacts, with `redact` (the rules' `redact_alerts`), the template tokens this detector
    /// hands to the state: a secret that is constant across a template's messages (a user's
    /// email in every line of one user) is a token of it, not a variable. Each token is
    /// redacted as a text (so the same token is redacted alike in every container, and stored
    /// templates still compare token for token); the values are not counted (the alerts that
    /// show them count theirs).
    pub fn with_redactor(mut self, redact: Option<std::sync::Arc<Redactor>>) -> PatternDetector {
        self.redact = redact;
        self
    }

    /// The configuration.
    pub fn config(&self) -> &PatternsConfig {
        &self.config
    }

    /// The miner.
    pub fn miner(&self) -> &Miner {
        &self.miner
    }

    /// Its counters.
    pub fn stats(&self) -> DetectStats {
        self.stats
    }

    /// Takes its counters (they start again from zero).
    pub fn take_stats(&mut self) -> DetectStats {
        std::mem::take(&mut self.stats)
    }

    /// Mines the events of `batch` (input record `record`, in `region`).
    pub fn observe_batch(&mut self, region: &str, batch: &LogBatch<'_>, record: usize) {
        if batch.log_events.is_empty() {
            return;
        }
        let group: &str = &batch.log_group;
        if !self.pending.contains_key(group) && self.pending.len() >= MAX_GROUPS {
            for e in &batch.log_events {
                self.stats.messages += 1;
                self.stats.dropped += 1;
                self.miner.observe(group, &e.message, e.timestamp);
            }
            return;
        }
        let hash = batch_hash(batch);
        let delta = self
            .pending
            .entry(group.to_string())
            .or_insert_with(|| GroupDelta {
                log_group: group.to_string(),
                first_ms: i64::MAX,
                ..GroupDelta::default()
            });
        for e in &batch.log_events {
            self.stats.messages += 1;
            delta.first_ms = delta.first_ms.min(e.timestamp);
            let o = self.miner.observe(group, &e.message, e.timestamp);
            let minute = e.timestamp.div_euclid(60_000);
            if let Some(s) = delta.seen.get_mut(o.id) {
                s.count += 1;
                s.first_ms = s.first_ms.min(e.timestamp);
                s.last_ms = s.last_ms.max(e.timestamp);
            } else if delta.seen.len() < MAX_SEEN && self.seen_total < MAX_SEEN_TOTAL {
                self.seen_total += 1;
                let template = o.template.to_string();
                let tokens = if template.len() <= MAX_STORED_TEMPLATE_BYTES {
                    stored_tokens(self.redact.as_deref(), o.tokens)
                } else {
                    Vec::new()
                };
                let (text, truncated) = crate::rules::evaluate::cut(&e.message, MAX_EXAMPLE_BYTES);
                delta.seen.insert(
                    o.id.to_string(),
                    Seen {
                        tokens,
                        template,
                        count: 1,
                        first_ms: e.timestamp,
                        last_ms: e.timestamp,
                        example: AlertEvent {
                            id: e.id.to_string(),
                            timestamp: e.timestamp,
                            log_group: group.to_string(),
                            log_stream: batch.log_stream.to_string(),
                            account: batch.owner.to_string(),
                            region: region.to_string(),
                            message: text.to_string(),
                            truncated,
                            pattern: None,
                        },
                        batch: hash.clone(),
                        record,
                    },
                );
            } else {
                self.stats.dropped += 1;
                continue;
            }
            // Counted per minute only for the patterns kept (so bounded by them).
            *delta.minutes.entry((o.id.to_string(), minute)).or_insert(0) += 1;
        }
    }

    /// Takes what this invocation saw, per log group (the detector is ready for the next):
    /// each pattern under the id and template the miner has for it now (a template merged
    /// into another since is counted as the one it was merged into).
    pub fn take(&mut self) -> Vec<GroupDelta> {
        self.seen_total = 0;
        let pending = std::mem::take(&mut self.pending);
        pending.into_values().map(|d| self.refresh(d)).collect()
    }

    /// Forgets what the current invocation saw so far (the start of an invocation: an earlier
    /// one that stopped before [`PatternDetector::take`] must not lend its record numbers).
    /// The miner keeps what it learned.
    pub fn discard(&mut self) {
        self.seen_total = 0;
        self.pending.clear();
    }

    fn refresh(&self, mut d: GroupDelta) -> GroupDelta {
        let Some(g) = self.miner.group(&d.log_group) else {
            return d;
        };
        let mut now: HashMap<&str, &super::Template> = HashMap::new();
        for t in g.templates() {
            now.insert(t.id(), t);
        }
        for t in g.templates() {
            for m in t.merged_ids() {
                now.entry(m).or_insert(t);
            }
        }
        let mut seen: BTreeMap<String, Seen> = BTreeMap::new();
        for (id, mut s) in std::mem::take(&mut d.seen) {
            let target = match now.get(id.as_str()) {
                Some(t) => {
                    if t.text.len() <= MAX_STORED_TEMPLATE_BYTES {
                        s.tokens = stored_tokens(self.redact.as_deref(), t.tokens());
                    } else {
                        s.tokens.clear();
                    }
                    s.template = t.text.to_string();
                    t.id().to_string()
                }
                None => id,
            };
            match seen.entry(target) {
                std::collections::btree_map::Entry::Vacant(v) => {
                    v.insert(s);
                }
                std::collections::btree_map::Entry::Occupied(mut o) => {
                    let k = o.get_mut();
                    k.count += s.count;
                    k.last_ms = k.last_ms.max(s.last_ms);
                    if s.first_ms < k.first_ms {
                        k.first_ms = s.first_ms;
                        k.example = s.example;
                        k.batch = s.batch;
                        k.record = s.record;
                    }
                }
            }
        }
        let mut minutes: BTreeMap<(String, i64), u64> = BTreeMap::new();
        for ((id, m), n) in std::mem::take(&mut d.minutes) {
            let target = now.get(id.as_str()).map_or(id, |t| t.id().to_string());
            *minutes.entry((target, m)).or_insert(0) += n;
        }
        d.seen = seen;
        d.minutes = minutes;
        d
    }

    /// Seeds the miner with the templates of `state` (once per log group and container), so
    /// that it generalises as the containers that wrote them did.
    pub fn learned(&mut self, log_group: &str, state: &GroupState) {
        if self.seeded.contains(log_group) {
            return;
        }
        if self.seeded.len() >= MAX_SEEDED {
            self.seeded.clear();
        }
        self.seeded.insert(log_group.to_string());
        let mut by_age: Vec<(&String, &KnownPattern)> = state.patterns.iter().collect();
        by_age.sort_by_key(|(id, p)| (p.last_ms, *id));
        // The most recently seen last, so that the miner's template cap keeps them.
        for (id, p) in by_age {
            self.miner.seed(log_group, id, &p.tokens, p.first_ms);
        }
    }
}

/// A template's tokens as the state keeps them: each redacted as a text with `redact`.
fn stored_tokens(redact: Option<&Redactor>, tokens: super::Tokens<'_>) -> Vec<String> {
    tokens
        .iter()
        .map(|t| match redact {
            Some(r) => r.text(t, &mut RedactCounts::default()),
            None => t.to_string(),
        })
        .collect()
}

/// The occurrences of what [`merge`] found for `delta`, for the pattern rules of `rules`
/// (none when a rule is off). Example messages and templates are redacted when `[redact]`
/// applies to alerts.
pub fn occurrences(
    rules: &RuleSet,
    delta: &GroupDelta,
    found: &Found,
    redacted: &mut RedactCounts,
) -> Vec<Occurrences> {
    let redactor = rules.redact_alerts.as_deref();
    let mut out = Vec::new();
    let event = |seen: &Seen, kind: &str, id: &str, redacted: &mut RedactCounts| {
        let mut e = seen.example.clone();
        if let Some(r) = redactor {
            e.message = redact(r, &e.message, redacted);
        }
        let template = match redactor {
            Some(r) => redact(r, &seen.template, redacted),
            None => seen.template.clone(),
        };
        let template = crate::rules::evaluate::cut(&template, MAX_TEMPLATE_TEXT)
            .0
            .to_string();
        e.id = format!("{kind}-{id}");
        e.pattern = Some(PatternEvent {
            kind: kind.to_string(),
            id: id.to_string(),
            template,
            log_group: delta.log_group.clone(),
            count: seen.count,
            baseline: None,
            minute_ms: None,
        });
        e
    };
    let occurrence =
        |rule: usize, window_ms: i64, group: Vec<String>, e: AlertEvent, seen: &Seen| Occurrences {
            rule,
            group,
            window_start: e.timestamp.div_euclid(window_ms) * window_ms,
            count: 1,
            batches: BTreeSet::from([seen.batch.clone()]),
            records: BTreeSet::from([seen.record]),
            log_groups: BTreeSet::from([delta.log_group.clone()]),
            first_ms: e.timestamp,
            last_ms: e.timestamp,
            events: vec![e],
        };
    let window = |i: usize| {
        rules
            .alert_rule(i)
            .and_then(|r| r.alert.as_ref())
            .map_or(super::DEFAULT_PATTERN_WINDOW_MS, |a| a.window_ms)
    };
    if let Some(rule) = rules.pattern_rule_index(super::NEW_RULE) {
        let w = window(rule);
        let mut rest: Option<Occurrences> = None;
        for (n, id) in found.new.iter().enumerate() {
            let Some(seen) = delta.seen.get(id) else {
                continue;
            };
            let e = event(seen, "new", id, redacted);
            if n < MAX_NEW_ALERTS {
                let group = vec![delta.log_group.clone(), id.clone()];
                out.push(occurrence(rule, w, group, e, seen));
                continue;
            }
            // The rest of a flood: one occurrence, in the window of the first of them.
            match &mut rest {
                None => {
                    let group = vec![delta.log_group.clone(), "*".to_string()];
                    rest = Some(occurrence(rule, w, group, e, seen));
                }
                Some(o) => {
                    o.count += 1;
                    o.first_ms = o.first_ms.min(e.timestamp);
                    o.last_ms = o.last_ms.max(e.timestamp);
                    o.batches.insert(seen.batch.clone());
                    o.records.insert(seen.record);
                    if o.events.len() < MAX_CANDIDATES {
                        o.events.push(e);
                    }
                }
            }
        }
        out.extend(rest);
    }
    if let Some(rule) = rules.pattern_rule_index(super::SURGE_RULE) {
        let w = window(rule);
        for s in &found.surges {
            let Some(seen) = delta.seen.get(&s.seen_id) else {
                continue;
            };
            let mut e = event(seen, "surge", &format!("{}-{}", s.id, s.minute), redacted);
            e.timestamp = s.minute.saturating_mul(60_000);
            if let Some(p) = &mut e.pattern {
                p.id = s.id.clone();
                p.count = s.count;
                p.baseline = Some(format!("{:.1}", s.baseline));
                p.minute_ms = Some(e.timestamp);
            }
            let group = vec![delta.log_group.clone(), s.id.clone()];
            out.push(occurrence(rule, w, group, e, seen));
        }
    }
    out
}

fn redact(r: &Redactor, text: &str, counts: &mut RedactCounts) -> String {
    let t = r.text(text, counts);
    crate::rules::evaluate::cut(&t, MAX_EVENT_TEXT)
        .0
        .to_string()
}

#[cfg(test)]
mod tests;
