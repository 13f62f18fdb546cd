//! Archive body building (NDJSON lines + gzip) against a bare gzip of the same bytes, at the
//! same level, in one run. Goal: the archive body at 80% or more of the bare gzip's speed.
//!
//! Data: 10,000 events of a CloudTrail-like JSON shape (about 4 MB of NDJSON), built here so
//! the benchmark needs no files.

// criterion_group! generates an undocumented public function.
#![allow(missing_docs)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use cwlogs_decode::{LogBatch, LogEvent, MessageType};
use cwlogs_pipeline::archive::{archive_lines, archive_object, gzip};
use std::hint::black_box;

/// A batch like the ones CloudTrail and application logs deliver: JSON messages of a few
/// hundred bytes, with ids and timestamps that vary.
pub fn batch(events: usize) -> LogBatch<'static> {
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let names = [
        "ConsoleLogin",
        "AssumeRole",
        "GetObject",
        "PutObject",
        "Decrypt",
    ];
    let log_events = (0..events)
        .map(|i| {
            let r = next();
            LogEvent {
                id: format!("{:056}", 37_000_000_000_000_000u64 + i as u64).into(),
                timestamp: 1_764_028_800_000 + i as i64 * 37,
                message: format!(
                    r#"{{"eventVersion":"1.09","userIdentity":{{"type":"AssumedRole","arn":"arn:aws:sts::123456789012:assumed-role/role-{}/session-{:x}"}},"eventTime":"2025-11-25T00:{:02}:{:02}Z","eventSource":"s3.amazonaws.com","eventName":"{}","awsRegion":"eu-west-1","sourceIPAddress":"10.{}.{}.{}","userAgent":"aws-cli/2.15.30","requestID":"{:016X}","eventID":"{:08x}-{:04x}","readOnly":{}}}"#,
                    r % 17,
                    r >> 40,
                    (i / 60) % 60,
                    i % 60,
                    names[(r % 5) as usize],
                    r % 256,
                    (r >> 8) % 256,
                    (r >> 16) % 256,
                    r,
                    r >> 32,
                    r & 0xffff,
                    r % 3 == 0
                )
                .into(),
            }
        })
        .collect();
    LogBatch {
        message_type: MessageType::Data,
        owner: "123456789012".into(),
        log_group: "aws-cloudtrail-logs-123456789012".into(),
        log_stream: "123456789012_CloudTrail_eu-west-1".into(),
        subscription_filters: vec!["all".into()],
        policy_level: None,
        region: None,
        log_events,
    }
}

fn bench(c: &mut Criterion) {
    let b = batch(10_000);
    let mut lines = Vec::new();
    archive_lines("eu-west-1", &b, &mut lines);
    let mut g = c.benchmark_group("archive_body");
    g.throughput(Throughput::Bytes(lines.len() as u64));
    g.sample_size(20);
    for level in [1u32, 6] {
        g.bench_function(format!("floor_bare_gzip_level{level}"), |bench| {
            bench.iter(|| gzip(black_box(&lines), level))
        });
        g.bench_function(format!("cwlogs_archive_object_level{level}"), |bench| {
            bench.iter(|| archive_object("cwl", "eu-west-1", level, black_box(&b)))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
