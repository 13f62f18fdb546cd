//! Findings of the fuzz targets (crates/filter/fuzz): crashers kept by scripts/fuzz.sh under
//! fuzz/regressions/<target>/ are replayed through the same calls as the targets (each once
//! failed, and must not any more), and slow inputs found while fuzzing are named tests.

#![allow(clippy::unwrap_used)]

use cwlogs_filter::{Message, MetricValue, Pattern, PatternSet, parse};
use cwlogs_testkit::files::fuzz_regressions;

/// fuzz_targets/roundtrip.rs: parse -> print -> parse gives the same tree.
#[test]
fn roundtrip_crashers_round_trip() {
    for (name, bytes) in fuzz_regressions(env!("CARGO_MANIFEST_DIR"), "roundtrip") {
        let Ok(src) = std::str::from_utf8(&bytes) else {
            continue;
        };
        let Ok(ast) = parse(src) else {
            continue;
        };
        let compact = format!("{ast:#}");
        assert_eq!(parse(&compact).unwrap(), ast, "{name}: {compact:?}");
        let printed = ast.to_string();
        if printed.chars().count() <= cwlogs_filter::MAX_PATTERN_CHARS {
            assert_eq!(parse(&printed).unwrap(), ast, "{name}: {printed:?}");
        }
    }
}

/// fuzz_targets/evaluate.rs: `pattern NUL message [NUL value-expr [NUL pattern]...]`; a set
/// answers what its patterns answer one by one, and values come only with a match.
#[test]
fn evaluate_crashers_agree() {
    for (name, data) in fuzz_regressions(env!("CARGO_MANIFEST_DIR"), "evaluate") {
        let mut parts = data.split(|&b| b == 0);
        let first = parts.next().unwrap_or_default();
        let msg = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
        let expr = parts.next().map(String::from_utf8_lossy);
        let patterns: Vec<Pattern> = std::iter::once(first)
            .chain(parts)
            .take(8)
            .filter_map(|s| Pattern::new(&String::from_utf8_lossy(s)).ok())
            .collect();
        let value = expr.as_deref().and_then(|e| MetricValue::parse(e).ok());
        let mut hits = Vec::new();
        for (i, p) in patterns.iter().enumerate() {
            let m = Message::new(&msg);
            let hit = p.is_match(&m);
            assert_eq!(p.extract(&m).is_some(), hit, "{name}: {p:?}");
            if let Some(v) = &value {
                assert!(p.metric_value(&m, v).is_none() || hit, "{name}: {p:?}");
                assert!(p.field_text(&m, v).is_none() || hit, "{name}: {p:?}");
            }
            if hit {
                hits.push(i);
            }
        }
        let mut out = Vec::new();
        PatternSet::new(patterns).matches(&Message::new(&msg), &mut out);
        assert_eq!(out, hits, "{name}");
    }
}

/// Found by profiling the `evaluate` target (issue 10): it ran at 260 exec/s because nearly
/// all of its time went to `PatternSet::new`, which builds two Aho-Corasick automata over the
/// term literals with the crate's default kind, a DFA below ~100 literals. A DFA's build time
/// grows with (total literal bytes x distinct bytes): 100 rules whose patterns are 1,000-char
/// quoted phrases (a valid 100 KB configuration) take about 4 s and 60 MB to load in release
/// (2 s and 31 MB per automaton), every cold start. A contiguous NFA builds the same automaton
/// in under 3 ms in 0.8 MB, and searched as fast or faster in a quick comparison.
#[test]
fn pattern_set_of_long_phrases_builds_quickly() {
    let alphabet: Vec<char> = ('a'..='z').chain('A'..='Z').chain('0'..='9').collect();
    let patterns: Vec<Pattern> = (0..100)
        .map(|i| {
            let phrase: String = (0..1000)
                .map(|j| alphabet[(i * 7 + j * 13 + j / 5) % alphabet.len()])
                .collect();
            Pattern::new(&format!("\"{phrase}\"")).unwrap()
        })
        .collect();
    let message = patterns[42].source().trim_matches('"').to_string();
    let set = PatternSet::new(patterns);
    let mut out = Vec::new();
    set.matches(&Message::new(&message), &mut out);
    assert_eq!(out, vec![42]);
    // Checked by size, not time (tests are not timers): the DFAs were 31 MB each, built in
    // seconds; the NFAs hold about 0.8 MB for the 100,000 literal bytes.
    let bytes = set.literal_index_bytes();
    assert!(
        bytes < 8 << 20,
        "the literal index of 100 x 1000-char phrases holds {bytes} bytes"
    );
}
