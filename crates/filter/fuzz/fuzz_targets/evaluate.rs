//! An arbitrary pattern against an arbitrary message: never panics, and a one-pattern
//! `PatternSet` agrees with the pattern. Input: pattern, a NUL byte, message.
#![no_main]

use cwlogs_filter::{Message, MetricValue, Pattern, PatternSet};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (pat, msg) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &b""[..]),
    };
    let pat = String::from_utf8_lossy(pat);
    let msg = String::from_utf8_lossy(msg);
    let Ok(p) = Pattern::new(&pat) else {
        return;
    };
    let m = Message::new(&msg);
    let hit = p.is_match(&m);
    assert_eq!(p.extract(&m).is_some(), hit);
    let set = PatternSet::new([p.clone(), p.clone()]);
    let mut out = Vec::new();
    set.matches(&m, &mut out);
    assert_eq!(out, if hit { vec![0, 1] } else { vec![] });
    for expr in ["$.a", "$.a[1].b", "$1", "$3", "$a", "2.5"] {
        if let Ok(v) = MetricValue::parse(expr) {
            let value = p.metric_value(&m, &v);
            assert!(value.is_none() || hit);
            let _ = p.field_text(&m, &v);
        }
    }
});
