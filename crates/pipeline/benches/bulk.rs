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
//! `python3 /work/shared/bench/gen_cwl.py DIR --mb 50 --seed 42` (keep it outside the
//! repository); without it a built-in mix of the same four kinds of logs is used.
//!
//! `cargo bench --bench bulk` first prints a summary of interleaved rounds (events/s, MB/s and
//! the ratios, measured in the same run), then runs the criterion groups; the `json_messages`
//! group compares the document path on the JSON messages alone with a `serde_json::Value` parse
//! and re-serialisation of the same messages.

// criterion_group! generates an undocumented public function.
#![allow(missing_docs)]

use criterion::{Criterion, SamplingMode, Throughput};
use cwlogs_decode::{LogBatch, LogEvent, MessageType, Payload, Record, RecordData};
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
            let dir = std::path::PathBuf::from(dir).join("payloads");
            let mut names: Vec<_> = std::fs::read_dir(&dir)
                .unwrap_or_else(|e| panic!("CWLOGS_BENCH_DATA: cannot read {}: {e}", dir.display()))
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.to_string_lossy().ends_with(".json.gz"))
                .collect();
            names.sort();
            for p in &names {
                payloads.push(std::fs::read(p).expect("payload file"));
            }
            dir.display().to_string()
        }
        None => {
            payloads = synthetic();
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

// ---------------------------------------------------------------------------------------------
// Built-in data: the four kinds of logs `gen_cwl.py` writes, smaller.

fn synthetic() -> Vec<Vec<u8>> {
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut out = Vec::new();
    let t0 = 1_764_028_800_000i64;
    for (kind, group, stream) in [
        (
            "cloudtrail",
            "aws-cloudtrail-logs-123456789012",
            "123456789012_CloudTrail_eu-west-1",
        ),
        (
            "app",
            "/aws/lambda/checkout-prod",
            "2025/11/25/[$LATEST]0123456789abcdef",
        ),
        ("vpcflow", "vpc-flow-logs", "eni-0123456789abcdef0-all"),
        (
            "apache",
            "/ecs/frontend/apache-access",
            "ecs/httpd/0123456789abcdef",
        ),
    ] {
        for part in 0..3 {
            let n = 2_000;
            let events: Vec<LogEvent<'static>> = (0..n)
                .map(|i| {
                    let r = next();
                    let ts = t0 + (part * n + i) as i64 * 17;
                    LogEvent {
                        id: format!("{ts:013}{:010}{:033}", part * n + i, r % 1_000_000_007).into(),
                        timestamp: ts,
                        message: message(kind, r, i).into(),
                    }
                })
                .collect();
            let envelope = serde_json::json!({
                "messageType": "DATA_MESSAGE",
                "owner": "123456789012",
                "logGroup": group,
                "logStream": stream,
                "subscriptionFilters": ["all"],
                "logEvents": events.iter().map(|e| serde_json::json!({
                    "id": e.id, "timestamp": e.timestamp, "message": e.message
                })).collect::<Vec<_>>(),
            });
            let mut gz = GzEncoder::new(Vec::new(), Compression::new(6));
            serde_json::to_writer(&mut gz, &envelope).expect("gzip into a Vec");
            out.push(gz.finish().expect("gzip into a Vec"));
        }
    }
    out
}

fn message(kind: &str, r: u64, i: usize) -> String {
    let names = [
        "ConsoleLogin",
        "AssumeRole",
        "GetObject",
        "PutObject",
        "Decrypt",
    ];
    let levels = ["INFO", "INFO", "INFO", "WARN", "ERROR", "DEBUG"];
    match kind {
        "cloudtrail" => format!(
            r#"{{"eventVersion":"1.09","userIdentity":{{"type":"AssumedRole","principalId":"AROA{:016X}:session","arn":"arn:aws:sts::123456789012:assumed-role/role-{}/session-{:x}","accountId":"123456789012","sessionContext":{{"sessionIssuer":{{"type":"Role","arn":"arn:aws:iam::123456789012:role/role-{}","userName":"role-{}"}},"attributes":{{"creationDate":"2025-11-25T00:00:00Z","mfaAuthenticated":"false"}}}}}},"eventTime":"2025-11-25T00:{:02}:{:02}Z","eventSource":"s3.amazonaws.com","eventName":"{}","awsRegion":"eu-west-1","sourceIPAddress":"10.{}.{}.{}","userAgent":"aws-cli/2.15.30 Python/3.11.8 Linux/6.1.79 exe/x86_64.amzn.2023","requestParameters":{{"bucketName":"bucket-{}","key":"data/{:x}.json"}},"responseElements":null,"requestID":"{:016X}","eventID":"{:08x}-{:04x}-4000-8000-{:012x}","readOnly":{},"eventType":"AwsApiCall","managementEvent":false,"recipientAccountId":"123456789012","tlsDetails":{{"tlsVersion":"TLSv1.3","cipherSuite":"TLS_AES_128_GCM_SHA256","clientProvidedHostHeader":"s3.eu-west-1.amazonaws.com"}}}}"#,
            r,
            r % 17,
            r >> 40,
            r % 17,
            r % 17,
            (i / 60) % 60,
            i % 60,
            names[(r % 5) as usize],
            r % 256,
            (r >> 8) % 256,
            (r >> 16) % 256,
            r % 7,
            r >> 20,
            r,
            r >> 32,
            r & 0xffff,
            r & 0xffff_ffff_ffff,
            r.is_multiple_of(3)
        ),
        "app" => {
            let level = levels[(r % 6) as usize];
            let json = format!(
                r#"{{"timestamp":"2025-11-25T00:00:{:02}.{:03}Z","level":"{level}","service":"checkout","msg":"request completed","latency":{}.{:03},"status":{},"method":"GET","path":"/api/v1/orders/{:08x}","request_id":"{:08x}-{:04x}-4000-8000-{:012x}","trace_id":"1-{:08x}-{:024x}","user_id":{},"region":"eu-west-1"}}"#,
                i % 60,
                r % 1000,
                r % 300,
                r % 1000,
                [200, 200, 201, 404, 500][(r % 5) as usize],
                r >> 32,
                r >> 32,
                r & 0xffff,
                r & 0xffff_ffff_ffff,
                r >> 32,
                u128::from(r) * 7919,
                r % 1_000_000
            );
            if r.is_multiple_of(7) {
                format!(
                    "2025-11-25T00:00:{:02}.000Z\t{:08x}-{:04x}-4000-8000-{:012x}\t{level}\t{json}\n",
                    i % 60,
                    r >> 32,
                    r & 0xffff,
                    r & 0xffff_ffff_ffff
                )
            } else {
                json
            }
        }
        "vpcflow" => format!(
            "2 123456789012 eni-{:017x} 10.0.{}.{} 10.1.{}.{} 443 {} 6 {} {} 1764028800 1764028860 {} OK",
            r,
            r % 256,
            (r >> 8) % 256,
            (r >> 16) % 256,
            (r >> 24) % 256,
            1024 + r % 60000,
            r % 500,
            r % 500_000,
            if r.is_multiple_of(10) {
                "REJECT"
            } else {
                "ACCEPT"
            }
        ),
        _ => format!(
            r#"{}.{}.{}.{} - - [25/Nov/2025:00:00:{:02} +0000] "GET /api/v1/orders/{:08x} HTTP/1.1" {} {} "-" "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/123.0.0.0 Safari/537.36""#,
            52 + r % 10,
            (r >> 8) % 256,
            (r >> 16) % 256,
            (r >> 24) % 255 + 1,
            i % 60,
            r >> 32,
            [200, 200, 304, 404, 500][(r % 5) as usize],
            r % 60_000
        ),
    }
}
