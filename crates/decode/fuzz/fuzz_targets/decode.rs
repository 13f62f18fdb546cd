//! Decoding arbitrary bytes never panics: detect, decompress (with a small cap) and parse.
#![no_main]

use cwlogs_decode::{Limits, detect};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(trigger) = detect(data) {
        for record in &trigger.records {
            if let Ok(payload) = record.decompress(&Limits { max_decompressed: 1 << 20 }) {
                if let Ok(batches) = payload.batches() {
                    for b in &batches {
                        let _ = b.log_events.len();
                    }
                }
            }
        }
    }
});
