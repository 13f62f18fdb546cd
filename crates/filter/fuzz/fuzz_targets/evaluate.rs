//! Arbitrary patterns against an arbitrary message: nothing panics, and the answers agree.
//!
//! Input: NUL-separated parts, `pattern NUL message [NUL value-expr [NUL pattern]...]` (up to
//! 8 patterns in all; invalid UTF-8 is read lossily). Checks, for every pattern that compiles:
//!
//! - `extract` is `Some` exactly when `is_match`;
//! - a `PatternSet` of all the patterns (several share literals, prefixes of each other, or
//!   none) answers exactly the patterns that match one by one, each on a fresh `Message` (so
//!   the set's shared literal pass and the message's lazily cached JSON and fields must not
//!   change an answer), and `matches_among` answers the same restricted to the wanted ones;
//! - for the value expression given (and a few fixed ones), `metric_value` and `field_text`
//!   answer only for a matching message, a metric value is finite, and the checks
//!   `check_metric_value` / `check_dimension` never panic.
#![no_main]

use cwlogs_filter::{Message, MetricValue, Pattern, PatternSet};
use libfuzzer_sys::fuzz_target;

const MAX_PATTERNS: usize = 8;
const FIXED_EXPRS: [&str; 6] = ["$.a", "$.a[1].b", "$1", "$3", "$a", "2.5"];

fuzz_target!(|data: &[u8]| {
    let mut parts = data.split(|&b| b == 0);
    let first = parts.next().unwrap_or_default();
    let msg = String::from_utf8_lossy(parts.next().unwrap_or_default());
    let expr = parts.next().map(String::from_utf8_lossy);
    let sources: Vec<_> = std::iter::once(first)
        .chain(parts)
        .take(MAX_PATTERNS)
        .map(String::from_utf8_lossy)
        .collect();
    let patterns: Vec<Pattern> = sources
        .iter()
        .filter_map(|s| Pattern::new(s).ok())
        .collect();
    if patterns.is_empty() {
        return;
    }

    let mut values: Vec<MetricValue> = FIXED_EXPRS
        .iter()
        .filter_map(|e| MetricValue::parse(e).ok())
        .collect();
    if let Some(v) = expr.as_deref().and_then(|e| MetricValue::parse(e).ok()) {
        values.push(v);
    }

    let mut hits = Vec::new();
    for (i, p) in patterns.iter().enumerate() {
        let m = Message::new(&msg);
        let hit = p.is_match(&m);
        assert_eq!(p.extract(&m).is_some(), hit, "{p:?}");
        assert_eq!(p.is_match(&Message::new(&msg)), hit, "{p:?} twice");
        if hit {
            hits.push(i);
        }
        for v in &values {
            let _ = p.check_metric_value(v);
            let _ = p.check_dimension(v);
            let value = p.metric_value(&m, v);
            assert!(
                value.is_none() || hit,
                "{p:?} {v:?}: a value without a match"
            );
            assert!(value.is_none_or(f64::is_finite), "{p:?} {v:?}: {value:?}");
            let text = p.field_text(&m, v);
            assert!(
                text.is_none() || hit,
                "{p:?} {v:?}: a field without a match"
            );
        }
    }

    let set = PatternSet::new(patterns.iter().cloned());
    assert_eq!(set.len(), patterns.len());
    let m = Message::new(&msg);
    let mut out = Vec::new();
    set.matches(&m, &mut out);
    assert_eq!(out, hits, "PatternSet {patterns:?} on {msg:?}");
    // Only the patterns at even positions (or odd ones, depending on the message's length).
    let parity = msg.len() % 2;
    let wanted = |i: usize| i % 2 == parity;
    set.matches_among(&Message::new(&msg), &wanted, &mut out);
    let expected: Vec<usize> = hits.iter().copied().filter(|&i| wanted(i)).collect();
    assert_eq!(out, expected, "matches_among {patterns:?} on {msg:?}");
});
