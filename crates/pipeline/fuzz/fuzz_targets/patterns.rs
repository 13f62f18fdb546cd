//! Mining arbitrary messages never panics and stays within its bounds: each line of the input
//! is a message of one of four log groups (chosen by its first byte); the miner, with small
//! limits so eviction runs, answers every message with a 16-hex-digit id and a template of at
//! most its token bounds, keeps each group within its template cap and its total within the
//! budget (plus one template), and gives the same ids when run again on the same lines.
#![no_main]

use cwlogs_pipeline::patterns::{Limits, MAX_TOKEN_BYTES, MAX_TOKENS, Miner};
use libfuzzer_sys::fuzz_target;

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
    };
    assert_eq!(run(text, limits), run(text, limits));
});
