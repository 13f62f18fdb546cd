//! The OpenSearch path against decoding alone, in one run:
//!
//! - (a) `decode`: gunzip + envelope parse of every payload (`cwlogs_decode`);
//! - (b) `decode_documents`: (a) + `bulk_chunks` with the default configuration (documents with
//!   JSON fields, NDJSON `_bulk` bodies);
//! - (c) `decode_documents_gzip1`: (b) + gzip level 1 of every chunk body, as bulk requests are
//!   sent.
//!
//! Throughput is bytes of decompressed payload JSON. Goal: (c) at 50% or more of (a).
//!
//! Data: `CWLOGS_BENCH_DATA` names a directory with `payloads/*.json.gz`, as written by
//! `python3 bench/gen_cwl.py DIR --mb 50 --seed 42` (keep it outside the
//! repository); without it a built-in mix of the same four kinds of logs is used.
//!
//! `cargo bench --bench bulk` first prints a summary of interleaved rounds (events/s, MB/s and
//! the ratios, measured in the same run), then runs the criterion groups; the `json_messages`
//! group compares the document path on the JSON messages alone with a `serde_json::Value` parse
//! and re-serialisation of the same messages.

// criterion_group! generates an undocumented public function.
#![allow(missing_docs)]

mod common;

use criterion::{Criterion, SamplingMode, Throughput};
use cwlogs_decode::{LogBatch, MessageType, Payload, Record, RecordData};
use cwlogs_pipeline::{Config, DocumentBuilder, IndexConfig, bulk_chunks};
use flate2::Compression;
use flate2::write::GzEncoder;
use std::hint::black_box;
use std::io::Write;
use std::time::{Duration, Instant};

/// The payloads (gzip), their decompressed size, and their event count.
struct Data {
    payloads: Vec<Vec<u8>>,
    json_bytes: u64,
    events: u64,
    source: String,
}

fn load() -> Data {
    let mut payloads = Vec::new();
    let source = match std::env::var_os("CWLOGS_BENCH_DATA") {
        Some(dir) => {
            let dir = std::path::PathBuf::from(dir);
            for p in common::files(&dir, "payloads", ".json.gz") {
                payloads.push(std::fs::read(p).expect("payload file"));
            }
            dir.join("payloads").display().to_string()
        }
        None => {
            payloads = common::synthetic();
            "built-in synthetic mix".to_string()
        }
    };
    let (mut json_bytes, mut events) = (0u64, 0u64);
    for gz in &payloads {
        let payload = decompress(gz);
        json_bytes += payload.bytes().len() as u64;
        for b in payload.batches().expect("envelope") {
            events += b.log_events.len() as u64;
        }
    }
    Data {
        payloads,
        json_bytes,
        events,
        source,
    }
}

fn decompress(gz: &[u8]) -> Payload {
    Record {
        id: None,
        region: None,
        data: RecordData::Gzip(gz),
    }
    .decompress(&cwlogs_decode::Limits::default())
    .expect("gzip")
}

/// (a) decode only.
fn decode(data: &Data) -> usize {
    let mut n = 0;
    for gz in &data.payloads {
        let payload = decompress(gz);
        for b in payload.batches().expect("envelope") {
            n += black_box(&b).log_events.len();
        }
    }
    n
}

/// (b) decode + documents and `_bulk` bodies; (c) with `gzip` also gzip level 1 of each body.
fn documents(data: &Data, config: &IndexConfig, gzip: bool) -> usize {
    let mut n = 0;
    for gz in &data.payloads {
        let payload = decompress(gz);
        for b in payload.batches().expect("envelope") {
            for chunk in bulk_chunks(config, "eu-west-1", &b) {
                n += if gzip {
                    let mut enc = GzEncoder::new(
                        Vec::with_capacity(chunk.body.len() / 4),
                        Compression::new(1),
                    );
                    enc.write_all(&chunk.body).expect("gzip into a Vec");
                    enc.finish().expect("gzip into a Vec").len()
                } else {
                    black_box(&chunk).body.len()
                };
            }
        }
    }
    n
}

fn index_config() -> IndexConfig {
    Config::builtin(&|_| None)
        .index
        .expect("indexing is on by default")
}

/// Interleaved rounds of (a), (b), (c), the median of each, and the ratios to (a).
fn summary(data: &Data, config: &IndexConfig) {
    const ROUNDS: usize = 7;
    let mut times = [[0f64; ROUNDS]; 3];
    for round in 0..ROUNDS {
        for (stage, t) in times.iter_mut().enumerate() {
            let start = Instant::now();
            match stage {
                0 => black_box(decode(data)),
                1 => black_box(documents(data, config, false)),
                _ => black_box(documents(data, config, true)),
            };
            t[round] = start.elapsed().as_secs_f64();
        }
    }
    let median = |t: &mut [f64; ROUNDS]| {
        t.sort_by(f64::total_cmp);
        t[ROUNDS / 2]
    };
    let [mut a, mut b, mut c] = times;
    let (a, b, c) = (median(&mut a), median(&mut b), median(&mut c));
    let mb = data.json_bytes as f64 / 1e6;
    println!(
        "bulk summary: {} payloads, {} events, {:.1} MB of JSON ({})",
        data.payloads.len(),
        data.events,
        mb,
        data.source
    );
    let (mut body, mut packed) = (0usize, 0usize);
    for gz in &data.payloads {
        let payload = decompress(gz);
        for b in payload.batches().expect("envelope") {
            for chunk in bulk_chunks(config, "eu-west-1", &b) {
                body += chunk.body.len();
                let mut enc = GzEncoder::new(Vec::new(), Compression::new(1));
                enc.write_all(&chunk.body).expect("gzip into a Vec");
                packed += enc.finish().expect("gzip into a Vec").len();
            }
        }
    }
    println!(
        "  _bulk bodies: {:.1} MB, {:.1} MB with gzip level 1",
        body as f64 / 1e6,
        packed as f64 / 1e6
    );
    for (name, t) in [
        ("(a) decode", a),
        ("(b) decode + documents", b),
        ("(c) (b) + gzip level 1", c),
    ] {
        println!(
            "  {name:<26} {:>8.1} MB/s {:>10.0} events/s  {:>5.1}% of (a)",
            mb / t,
            data.events as f64 / t,
            100.0 * a / t
        );
    }
}

fn bench(c: &mut Criterion, data: &Data, config: &IndexConfig) {
    let mut g = c.benchmark_group("bulk");
    g.throughput(Throughput::Bytes(data.json_bytes));
    g.sampling_mode(SamplingMode::Flat);
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(10));
    g.bench_function("a_decode", |b| b.iter(|| decode(data)));
    g.bench_function("b_decode_documents", |b| {
        b.iter(|| documents(data, config, false))
    });
    g.bench_function("c_decode_documents_gzip1", |b| {
        b.iter(|| documents(data, config, true))
    });
    let mut text_only = config.clone();
    text_only.documents.json_key = None;
    g.bench_function("b_decode_documents_text_only", |b| {
        b.iter(|| documents(data, &text_only, false))
    });
    g.finish();

    // The JSON-object messages alone, as one batch: the document path against a DOM.
    let payloads: Vec<Payload> = data.payloads.iter().map(|gz| decompress(gz)).collect();
    let mut batch = LogBatch {
        message_type: MessageType::Data,
        owner: "123456789012".into(),
        log_group: "g".into(),
        log_stream: "s".into(),
        subscription_filters: vec![],
        policy_level: None,
        region: None,
        log_events: Vec::new(),
    };
    for p in &payloads {
        for b in p.batches().expect("envelope") {
            batch.log_events.extend(
                b.log_events
                    .into_iter()
                    .filter(|e| e.message.trim_ascii().starts_with('{')),
            );
        }
    }
    let bytes: usize = batch.log_events.iter().map(|e| e.message.len()).sum();
    let mut g = c.benchmark_group("json_messages");
    g.throughput(Throughput::Bytes(bytes as u64));
    g.sample_size(10);
    let mut out = Vec::with_capacity(bytes * 3);
    g.bench_function("documents_probe_and_splice", |b| {
        b.iter(|| {
            out.clear();
            let mut d = DocumentBuilder::new(&config.documents, "eu-west-1", &batch);
            for e in &batch.log_events {
                d.push(&mut out, e);
            }
            out.len()
        })
    });
    g.bench_function("documents_text_only", |b| {
        b.iter(|| {
            out.clear();
            let mut d = DocumentBuilder::new(&text_only.documents, "eu-west-1", &batch);
            for e in &batch.log_events {
                d.push(&mut out, e);
            }
            out.len()
        })
    });
    g.bench_function("serde_ignored_any", |b| {
        b.iter(|| {
            batch
                .log_events
                .iter()
                .filter(|e| serde_json::from_str::<serde::de::IgnoredAny>(&e.message).is_ok())
                .count()
        })
    });
    g.bench_function("serde_value_parse_and_write", |b| {
        b.iter(|| {
            out.clear();
            for e in &batch.log_events {
                if let Ok(v) = serde_json::from_str::<serde_json::Value>(&e.message) {
                    serde_json::to_writer(&mut out, &v).expect("write into a Vec");
                }
            }
            out.len()
        })
    });
    g.finish();
}

fn main() {
    let data = load();
    let config = index_config();
    // `cargo bench` passes `--bench`; `cargo test --benches` does not: skip the long summary,
    // and skip it when profiling (`--profile-time`) too.
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--bench") && !args.iter().any(|a| a == "--profile-time") {
        summary(&data, &config);
    }
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c, &data, &config);
    c.final_summary();
}
