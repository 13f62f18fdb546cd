//! Classifying an arbitrary `_bulk` answer never panics: any status, any body (JSON from the
//! cluster, HTML from a proxy, cut short, or garbage), any number of items sent; an `Items`
//! answer has exactly one class per item sent.
#![no_main]

use cwlogs_pipeline::index::{ResponseClass, classify_response};
use cwlogs_pipeline::sink::Reply;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 3 {
        return;
    }
    let status = u16::from_be_bytes([data[0], data[1]]) % 1000;
    let items = usize::from(data[2]);
    let reply = Reply {
        status,
        body: data[3..].to_vec(),
    };
    if let ResponseClass::Items(classes) = classify_response(&reply, items) {
        assert_eq!(classes.len(), items, "one class per item sent");
    }
});
