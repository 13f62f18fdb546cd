//! Mining arbitrary messages never panics and stays within its bounds: each line of the input
//! is a message of one of four log groups (chosen by its first byte); the miner, with small
//! limits so eviction runs, answers every message with a 16-hex-digit id and a template of at
//! most its token bounds, keeps each group within its template cap and its total within the
//! budget (plus one template), and gives the same ids when run again on the same lines.
//!
//! Then the same lines drive pattern alerts: the lines in batches of a few (each line's time
//! from its length, so minutes, warm-up and surges all happen) through a detector with the same
//! small limits, each batch's deltas merged into per-group states: never a panic, a state
//! within its pattern and byte bounds, every new pattern and surge naming a pattern of the
//! state, and the merge deterministic.
#![no_main]

use cwlogs_decode::{LogBatch, LogEvent, MessageType};
use cwlogs_pipeline::patterns::alerts::{
    GroupState, MAX_STATE_BYTES, MAX_STATE_PATTERNS, PatternDetector, merge,
};
use cwlogs_pipeline::patterns::{Limits, MAX_TOKEN_BYTES, MAX_TOKENS, Miner, PatternsConfig};
use libfuzzer_sys::fuzz_target;
use std::collections::BTreeMap;

fn alerts(text: &str, limits: Limits) {
    let mut config = PatternsConfig::default();
    config.limits = limits;
    config.warmup_ms = 60_000;
    let mut det = PatternDetector::new(&config);
    let mut states: BTreeMap<String, GroupState> = BTreeMap::new();
    let lines: Vec<&str> = text.split('\n').collect();
    let mut t = 0i64;
    for chunk in lines.chunks(4) {
        for (g, group) in ["a", "b"].iter().enumerate() {
            let events: Vec<LogEvent<'_>> = chunk
                .iter()
                .enumerate()
                .filter(|(_, l)| l.len() % 2 == g)
                .map(|(i, l)| {
                    t += (l.len() as i64 % 7) * 20_000;
                    LogEvent {
                        id: format!("{t}-{i}").into(),
                        timestamp: t,
                        message: (*l).into(),
                    }
                })
                .collect();
            let batch = LogBatch {
                message_type: MessageType::Data,
                owner: "123456789012".into(),
                log_group: (*group).into(),
                log_stream: "s".into(),
                subscription_filters: vec![],
                policy_level: None,
                region: None,
                log_events: events,
            };
            det.observe_batch("eu-west-1", &batch, 0);
        }
        for delta in det.take() {
            let before = states.get(&delta.log_group).cloned();
            let (st, found) = merge(before.clone(), &delta, det.config());
            let (again, found_again) = merge(before, &delta, det.config());
            assert_eq!((&st, &found), (&again, &found_again), "deterministic");
            assert!(st.patterns.len() <= MAX_STATE_PATTERNS);
            let json = serde_json::to_string(&st).expect("a state serialises");
            assert!(json.len() <= MAX_STATE_BYTES + MAX_STATE_BYTES / 4, "{}", json.len());
            for id in &found.new {
                assert!(st.patterns.contains_key(id) || found.evicted > 0);
            }
            for s in &found.surges {
                assert!(s.count as f64 >= s.baseline * config.surge.factor);
                assert!(s.count >= config.surge.min_count);
            }
            det.learned(&delta.log_group, &st);
            states.insert(delta.log_group.clone(), st);
        }
    }
}

fn run(text: &str, limits: Limits) -> Vec<String> {
    let mut miner = Miner::new(limits);
    let mut ids = Vec::new();
    for line in text.split('\n') {
        let group = ["a", "b", "c", "d"][line.bytes().next().map_or(0, |b| usize::from(b & 3))];
        let o = miner.observe(group, line, ids.len() as i64);
        assert_eq!(o.id.len(), 16);
        assert!(o.id.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        // A token is at most MAX_TOKEN_BYTES of the message, or a JSON key of 48 characters
        // (4 bytes each at most) with its path, plus separators.
        assert!(o.template.len() <= (MAX_TOKENS + 2) * (MAX_TOKEN_BYTES.max(4 * 48 * 4) + 16));
        // The tokens are ranges of the template text, in order.
        let mut rest = o.template;
        for t in o.tokens.iter() {
            let at = rest.find(t).expect("a token is in its template, in order");
            rest = &rest[at + t.len()..];
        }
        ids.push(o.id.to_string());
        for (_, g) in miner.groups() {
            assert!(g.len() <= limits.max_templates);
        }
        assert!(miner.bytes() <= limits.max_total_bytes + (256 << 10));
    }
    ids
}

fuzz_target!(|text: &str| {
    let limits = Limits {
        max_templates: 8,
        max_group_bytes: 16 << 10,
        max_total_bytes: 40 << 10,
        ..Limits::default()
    };
    assert_eq!(run(text, limits), run(text, limits));
    alerts(text, limits);
});
