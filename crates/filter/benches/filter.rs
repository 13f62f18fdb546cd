//! Benchmarks of cwlogs-filter on gen_cwl.py data.
//!
//! Set `CWLOGS_BENCH_DATA` to a directory written by
//! `python3 bench/gen_cwl.py DIR --mb 20 --seed 42`; its `payloads/*.json.gz` are decoded
//! and their messages used. Without it a small synthetic set is used so `cargo bench` still runs.
//!
//! Groups: `json_messages` compares one JSON rule with a bare `serde_json::Value` parse of the
//! same messages (the floor); `all_messages` runs one term rule, one JSON rule, one
//! space-delimited rule and 100 mixed rules through a `PatternSet`.

use criterion::{Criterion, Throughput, criterion_main};
use cwlogs_filter::{Message, Pattern, PatternSet};
use std::hint::black_box;
use std::io::Read;
use std::time::Duration;

fn load() -> Vec<String> {
    let Ok(dir) = std::env::var("CWLOGS_BENCH_DATA") else {
        return synthetic();
    };
    let mut files: Vec<_> = std::fs::read_dir(format!("{dir}/payloads"))
        .expect("CWLOGS_BENCH_DATA/payloads is readable")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.to_string_lossy().ends_with(".json.gz"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let mut text = String::new();
        flate2::read::GzDecoder::new(std::fs::File::open(&f).expect("payload opens"))
            .read_to_string(&mut text)
            .expect("payload gunzips");
        let v: serde_json::Value = serde_json::from_str(&text).expect("payload is JSON");
        for e in v["logEvents"].as_array().expect("logEvents") {
            out.push(e["message"].as_str().expect("message").to_string());
        }
    }
    out
}

fn synthetic() -> Vec<String> {
    (0..5000)
        .map(|i| match i % 4 {
            0 => format!(
                r#"{{"eventVersion":"1.09","eventName":"GetObject","errorCode":"{}","latency":{},"userIdentity":{{"type":"AssumedRole","arn":"arn:aws:sts::1:assumed-role/R/u{}"}},"tags":["a","b",null]}}"#,
                if i % 8 == 0 { "AccessDenied" } else { "None" },
                i % 900,
                i
            ),
            1 => format!(
                r#"{{"level":"{}","msg":"request {} done","durationMs":{}}}"#,
                if i % 5 == 0 { "ERROR" } else { "INFO" },
                i,
                i % 300
            ),
            2 => format!("2 123456789012 eni-0a1b2c3d 10.0.0.{} 10.0.1.5 443 {} 6 10 8400 1620000000 1620000060 ACCEPT OK", i % 250, 1024 + i),
            _ => format!(
                r#"192.168.1.{} - frank [10/Oct/2000:13:25:15 -0700] "GET /index{}.html HTTP/1.0" {} {}"#,
                i % 250,
                i,
                if i % 7 == 0 { 404 } else { 200 },
                i * 3
            ),
        })
        .collect()
}

/// 100 rules of every family, most of them matching rarely (as real alerting rules do).
fn mixed_rules() -> Vec<Pattern> {
    let mut src = Vec::new();
    for i in 0..40 {
        src.push(match i % 4 {
            0 => format!("ERROR{i}"),
            1 => format!("\"Task timed out {i}\""),
            2 => format!("?WARN{i} ?FATAL{i}"),
            _ => format!("Exception{i} -DEBUG"),
        });
    }
    for i in 0..40 {
        src.push(match i % 5 {
            0 => format!(r#"{{ $.errorCode = "Code{i}" }}"#),
            1 => format!("{{ $.latency > {} }}", 1000 + i),
            2 => format!(r#"{{ $.eventName = "Get{i}*" && $.awsRegion = "us-east-1" }}"#),
            3 => format!(r#"{{ $.userIdentity.type = "Root{i}" || $.level = "FATAL{i}" }}"#),
            _ => format!("{{ $.requestParameters.bucketName{i} NOT EXISTS && $.x{i} IS NULL }}"),
        });
    }
    for i in 0..20 {
        src.push(match i % 2 {
            0 => format!(
                "[ip, id, user, timestamp, request, status_code = {}, size]",
                500 + i
            ),
            _ => format!("[version, account, eni, src = 10.9.9.{i}, ...]"),
        });
    }
    src.iter()
        .map(|s| Pattern::new(s).expect("bench rule compiles"))
        .collect()
}

fn bench(c: &mut Criterion) {
    let all = load();
    let json: Vec<&str> = all
        .iter()
        .map(String::as_str)
        .filter(|m| m.trim_start().starts_with('{'))
        .collect();
    let bytes = |ms: &[&str]| ms.iter().map(|m| m.len() as u64).sum::<u64>();
    let all_refs: Vec<&str> = all.iter().map(String::as_str).collect();
    eprintln!(
        "bench data: {} messages ({} bytes), {} JSON messages ({} bytes)",
        all_refs.len(),
        bytes(&all_refs),
        json.len(),
        bytes(&json)
    );

    let json_rule = Pattern::new(r#"{ $.errorCode = "AccessDenied" }"#).expect("compiles");
    let term_rule = Pattern::new("ERROR").expect("compiles");
    let delimited_rule = Pattern::new("[ip, id, user, timestamp, request, status_code = 4*, size]")
        .expect("compiles");
    let set = PatternSet::new(mixed_rules());

    let mut g = c.benchmark_group("json_messages");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
        .throughput(Throughput::Bytes(bytes(&json)));
    g.bench_function("serde_json_value", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for m in &json {
                if let Ok(v) = serde_json::from_str::<serde_json::Value>(m) {
                    n += usize::from(v.is_object());
                }
            }
            black_box(n)
        })
    });
    g.bench_function("one_json_rule", |b| {
        b.iter(|| {
            json.iter()
                .filter(|m| json_rule.is_match(&Message::new(m)))
                .count()
        })
    });
    g.finish();

    let mut g = c.benchmark_group("all_messages");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
        .throughput(Throughput::Bytes(bytes(&all_refs)));
    for (name, p) in [
        ("one_term_rule", &term_rule),
        ("one_json_rule", &json_rule),
        ("one_delimited_rule", &delimited_rule),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| {
                all_refs
                    .iter()
                    .filter(|m| p.is_match(&Message::new(m)))
                    .count()
            })
        });
    }
    let rules = mixed_rules();
    let parts = [
        ("mixed_100_rules_set", set.clone()),
        (
            "part_40_term_rules_set",
            PatternSet::new(rules[..40].to_vec()),
        ),
        (
            "part_40_json_rules_set",
            PatternSet::new(rules[40..80].to_vec()),
        ),
        (
            "part_20_delimited_rules_set",
            PatternSet::new(rules[80..].to_vec()),
        ),
    ];
    let only = std::env::var("CWLOGS_BENCH_PARTS").is_ok();
    for (name, set) in parts {
        if name.starts_with("part") && !only {
            continue;
        }
        g.bench_function(name, |b| {
            let mut hits = Vec::new();
            b.iter(|| {
                let mut n = 0;
                for m in &all_refs {
                    set.matches(&Message::new(m), &mut hits);
                    n += hits.len();
                }
                black_box(n)
            })
        });
    }
    g.finish();
}

mod group {
    // `criterion_group!` expands to an undocumented `pub fn`.
    #![allow(missing_docs)]
    criterion::criterion_group!(benches, super::bench);
}
criterion_main!(group::benches);
