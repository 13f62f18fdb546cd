//! Decode throughput against a bare gunzip + `serde_json` floor, in MB/s of decompressed JSON.
//!
//! Data: `CWLOGS_BENCH_DATA=DIR` where DIR was written by `python3 bench/gen_cwl.py DIR`
//! (its `events/*.json` Lambda events are read); without it, a small synthetic set.

// criterion_group! generates an undocumented public function.
#![allow(missing_docs)]

use base64::Engine as _;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use cwlogs_decode::{Limits, detect};
use std::hint::black_box;
use std::io::{Read, Write};

/// Lambda events (as bytes) and, for the floor, their raw gzip payloads.
fn load() -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let mut events = Vec::new();
    if let Ok(dir) = std::env::var("CWLOGS_BENCH_DATA") {
        let mut paths: Vec<_> = std::fs::read_dir(format!("{dir}/events"))
            .expect("CWLOGS_BENCH_DATA/events")
            .map(|e| e.expect("dir entry").path())
            .collect();
        paths.sort();
        let max_mb: usize = std::env::var("CWLOGS_BENCH_MB")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(60);
        let mut total = 0;
        for p in paths {
            let bytes = std::fs::read(&p).expect("read event");
            total += bytes.len();
            events.push(bytes);
            if total > max_mb << 20 {
                break;
            }
        }
    } else {
        for n in 0..20 {
            let mut env = String::from(
                r#"{"messageType":"DATA_MESSAGE","owner":"123456789012","logGroup":"/aws/lambda/app","logStream":"s","subscriptionFilters":["f"],"logEvents":["#,
            );
            for i in 0..1000 {
                if i > 0 {
                    env.push(',');
                }
                env.push_str(&format!(
                    r#"{{"id":"{n}{i:055}","timestamp":{},"message":"{{\"level\":\"INFO\",\"msg\":\"request {i} done\",\"latency_ms\":{i}}}"}}"#,
                    1717200000000u64 + i
                ));
            }
            env.push_str("]}");
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
            gz.write_all(env.as_bytes()).expect("gzip");
            let gz = gz.finish().expect("gzip");
            let b64 = base64::engine::general_purpose::STANDARD.encode(gz);
            events.push(format!(r#"{{"awslogs":{{"data":"{b64}"}}}}"#).into_bytes());
        }
    }
    let payloads = events
        .iter()
        .map(|e| {
            let v: serde_json::Value = serde_json::from_slice(e).expect("event json");
            let data = v["awslogs"]["data"].as_str().expect("awslogs.data");
            base64::engine::general_purpose::STANDARD
                .decode(data)
                .expect("base64")
        })
        .collect();
    (events, payloads)
}

fn gunzip_plain(gz: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(gz)
        .read_to_end(&mut out)
        .expect("gunzip");
    out
}

fn bench(c: &mut Criterion) {
    let (events, payloads) = load();
    let json_bytes: u64 = payloads.iter().map(|p| gunzip_plain(p).len() as u64).sum();
    let limits = Limits::default();
    let mut g = c.benchmark_group("decode");
    g.throughput(Throughput::Bytes(json_bytes));
    g.sample_size(10);

    g.bench_function("floor: gunzip + serde_json IgnoredAny", |b| {
        b.iter(|| {
            for p in &payloads {
                let json = gunzip_plain(p);
                let v: serde::de::IgnoredAny = serde_json::from_slice(&json).expect("json");
                black_box(v);
            }
        })
    });
    g.bench_function("floor: gunzip + serde_json Value", |b| {
        b.iter(|| {
            for p in &payloads {
                let json = gunzip_plain(p);
                let v: serde_json::Value = serde_json::from_slice(&json).expect("json");
                black_box(v);
            }
        })
    });
    g.bench_function("cwlogs: raw gzip payload -> batches", |b| {
        b.iter(|| {
            for p in &payloads {
                let t = detect(p).expect("detect");
                for r in &t.records {
                    let payload = r.decompress(&limits).expect("decompress");
                    black_box(payload.batches().expect("batches").len());
                }
            }
        })
    });
    g.bench_function(
        "cwlogs: Lambda event -> batches (base64 + gunzip + envelope)",
        |b| {
            b.iter(|| {
                for e in &events {
                    let t = detect(e).expect("detect");
                    for r in &t.records {
                        let payload = r.decompress(&limits).expect("decompress");
                        black_box(payload.batches().expect("batches").len());
                    }
                }
            })
        },
    );
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
