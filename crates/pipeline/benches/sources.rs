//! Throughput of logs read from S3 objects (`sources`) against the CloudWatch Logs path, per
//! byte of log text (issue 20's goal: at least the CloudWatch Logs path's). The same lines are
//! indexed both ways:
//!
//! | stage | what |
//! | --- | --- |
//! | `cwl_vpcflow`, `cwl_cloudtrail` | Lambda events of a direct subscription (base64, gzip, the envelope JSON), each line an event's message: `process_input` + `process_batch` with `[index]` only (the `[parse]` parsers on), as the index function runs them |
//! | `s3_vpcflow`, `s3_cloudtrail` | the same lines as an S3 object (gzip: a flow log with its header, a CloudTrail `{"Records": [...]}` file): `ObjectStream` to `_bulk` chunks, as the index function runs it |
//! | `s3_alb` | Application Load Balancer lines as an S3 object (no CloudWatch counterpart) |
//!
//! Throughput is bytes of log text (the lines, or the CloudTrail records' JSON): what both
//! paths have in common. No network, nothing written.
//!
//! ```sh
//! cargo bench -p cwlogs-pipeline --bench sources                 # 5 rounds, ~40 MB per format
//! cargo bench -p cwlogs-pipeline --bench sources -- --rounds 3 --mb 20
//! cargo bench -p cwlogs-pipeline --bench sources -- --only s3_vpcflow   # one stage (perf)
//! ```
//!
//! Without `--bench` (as `cargo test --benches` runs it) every stage runs once on 1 MB.

mod common;

use cwlogs_pipeline::sources::{ObjectStream, S3Indexing};
use cwlogs_pipeline::{Config, process_batch, process_input};
use std::hint::black_box;
use std::io::Write as _;
use std::time::Instant;

const FLOW_KEY: &str = "AWSLogs/123456789012/vpcflowlogs/eu-west-1/2025/11/25/123456789012_vpcflowlogs_eu-west-1_fl-1_20251125T1000Z_h.log.gz";
const TRAIL_KEY: &str = "AWSLogs/123456789012/CloudTrail/eu-west-1/2025/11/25/123456789012_CloudTrail_eu-west-1_20251125T1000Z_a.json.gz";
const ALB_KEY: &str = "AWSLogs/123456789012/elasticloadbalancing/eu-west-1/2025/11/25/123456789012_elasticloadbalancing_eu-west-1_app.web.1_20251125T1000Z_10.0.0.1_x.log.gz";

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
    e.write_all(data).expect("gzip");
    e.finish().expect("gzip")
}

/// Lines of one kind, about `bytes` of them.
fn lines(kind: &str, bytes: usize) -> Vec<String> {
    let mut out = Vec::new();
    let (mut n, mut i) = (0usize, 0u64);
    while n < bytes {
        let line = match kind {
            "vpcflow" => format!(
                "2 123456789012 eni-0a1b2c3d4e5f60718 10.0.{}.{} 172.31.{}.{} {} 443 6 {} {} {} {} {} OK",
                i / 250 % 250,
                i % 250,
                i / 7 % 250,
                i % 13,
                1024 + i % 60000,
                1 + i % 97,
                40 + i % 9000,
                1_764_064_800 + i / 1000,
                1_764_064_860 + i / 1000,
                if i % 5 == 0 { "REJECT" } else { "ACCEPT" }
            ),
            "cloudtrail" => format!(
                r#"{{"eventVersion":"1.08","userIdentity":{{"type":"AssumedRole","principalId":"AROAEXAMPLE:session-{}","arn":"arn:aws:sts::123456789012:assumed-role/app/session-{}","accountId":"123456789012","accessKeyId":"ASIAEXAMPLE{}","sessionContext":{{"sessionIssuer":{{"type":"Role","principalId":"AROAEXAMPLE","arn":"arn:aws:iam::123456789012:role/app","accountId":"123456789012","userName":"app"}},"attributes":{{"creationDate":"2025-11-25T09:00:00Z","mfaAuthenticated":"false"}}}}}},"eventTime":"2025-11-25T10:{:02}:{:02}Z","eventSource":"s3.amazonaws.com","eventName":"{}","awsRegion":"eu-west-1","sourceIPAddress":"10.0.{}.{}","userAgent":"aws-sdk-java/2.20.0","requestParameters":{{"bucketName":"data-{}","key":"objects/{}.json"}},"responseElements":null,"requestID":"REQ{}","eventID":"6a7b8c9d-{:04}-4000-8000-{:012}","readOnly":true,"eventType":"AwsApiCall","managementEvent":false,"recipientAccountId":"123456789012"{}}}"#,
                i % 100,
                i % 100,
                i % 1000,
                i / 60 % 60,
                i % 60,
                ["GetObject", "PutObject", "ListObjects", "HeadObject"][i as usize % 4],
                i / 250 % 250,
                i % 250,
                i % 10,
                i,
                i,
                i % 10000,
                i,
                if i % 50 == 0 {
                    r#","errorCode":"AccessDenied","errorMessage":"Access Denied""#
                } else {
                    ""
                }
            ),
            _ => format!(
                r#"https 2025-11-25T10:00:{:02}.186641Z app/web/1 192.168.{}.{}:{} 10.0.0.{}:80 0.086 0.048 0.037 200 200 {} {} "GET https://www.example.com:443/p/{}?q={} HTTP/1.1" "Mozilla/5.0 (X11; Linux x86_64)" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/web/73e2d6bc24d8a067 "Root=1-5833{:04x}-1d84f3d73c47ec4e58577259" "www.example.com" "arn:aws:acm:eu-west-1:123456789012:certificate/1" 1 2025-11-25T10:00:00.000000Z "forward" "-" "-" "10.0.0.{}:80" "200" "-" "-" TID_{}"#,
                i % 60,
                i / 250 % 250,
                i % 250,
                1024 + i % 60000,
                i % 20,
                200 + i % 800,
                500 + i % 9000,
                i % 1000,
                i,
                i % 65536,
                i % 20,
                i
            ),
        };
        n += line.len();
        out.push(line);
        i += 1;
    }
    out
}

/// The lines as Lambda events of a direct subscription, 5,000 events each.
fn cloudwatch_events(kind: &str, lines: &[String]) -> Vec<Vec<u8>> {
    lines
        .chunks(5_000)
        .enumerate()
        .map(|(b, chunk)| {
            let events: Vec<serde_json::Value> = chunk
                .iter()
                .enumerate()
                .map(|(i, m)| {
                    serde_json::json!({"id": format!("{:056}", b * 5_000 + i), "timestamp": 1_764_064_800_000i64 + i as i64, "message": m})
                })
                .collect();
            let group = if kind == "cloudtrail" {
                "aws-cloudtrail-logs-123456789012"
            } else {
                "/vpc/flow-logs"
            };
            let envelope = serde_json::json!({"messageType": "DATA_MESSAGE", "owner": "123456789012",
                "logGroup": group, "logStream": "stream", "subscriptionFilters": ["all"], "logEvents": events});
            common::lambda_event(&gzip(envelope.to_string().as_bytes()))
        })
        .collect()
}

/// The lines as one S3 object's body.
fn s3_object(kind: &str, lines: &[String]) -> Vec<u8> {
    let text = match kind {
        "vpcflow" => format!(
            "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status\n{}\n",
            lines.join("\n")
        ),
        "cloudtrail" => format!("{{\"Records\":[{}]}}", lines.join(",")),
        _ => format!("{}\n", lines.join("\n")),
    };
    gzip(text.as_bytes())
}

struct Stage {
    name: String,
    run: Box<dyn Fn() -> usize>,
    bytes: usize,
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let bench = args.iter().any(|a| a == "--bench");
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let mb: usize =
        value("--mb").map_or(if bench { 40 } else { 1 }, |v| v.parse().expect("--mb N"));
    let rounds: usize = value("--rounds").map_or(if bench { 5 } else { 1 }, |v| {
        v.parse().expect("--rounds N")
    });
    let config: &'static Config = Box::leak(Box::new(
        Config::from_toml("[archive]\nenabled = false\n[index]\n", &|_| None).expect("config"),
    ));
    let s3: &'static S3Indexing = Box::leak(Box::new(S3Indexing::new(
        config.index.as_ref().expect("index"),
        config.sources.s3.as_ref().expect("s3"),
    )));
    let mut stages = Vec::new();
    for kind in ["vpcflow", "cloudtrail", "alb"] {
        let lines = lines(kind, mb << 20);
        let bytes: usize = lines.iter().map(String::len).sum();
        if kind != "alb" {
            let events = cloudwatch_events(kind, &lines);
            stages.push(Stage {
                name: format!("cwl_{kind}"),
                bytes,
                run: Box::new(move || {
                    let mut docs = 0;
                    for ev in &events {
                        let out = process_input(config, "b", "b", ev, |region, batch| {
                            process_batch(config, region, batch)
                        });
                        for r in &out.records {
                            for o in &r.outputs {
                                docs += o.bulk.iter().map(|c| c.ends.len()).sum::<usize>();
                                black_box(&o.bulk);
                            }
                        }
                    }
                    docs
                }),
            });
        }
        let object = s3_object(kind, &lines);
        let key = match kind {
            "vpcflow" => FLOW_KEY,
            "cloudtrail" => TRAIL_KEY,
            _ => ALB_KEY,
        };
        stages.push(Stage {
            name: format!("s3_{kind}"),
            bytes,
            run: Box::new(move || {
                let mut stream =
                    ObjectStream::open(s3, "bench-bucket", key, "eu-west-1", &object[..])
                        .expect("open");
                let mut docs = 0;
                while let Some(chunk) = stream.next_chunk().expect("chunk") {
                    docs += chunk.bulk.iter().map(|c| c.ends.len()).sum::<usize>();
                    black_box(&chunk.bulk);
                }
                docs
            }),
        });
    }
    if let Some(only) = value("--only") {
        stages.retain(|s| s.name == only);
    }
    let mut best = vec![f64::MAX; stages.len()];
    let mut docs = vec![0; stages.len()];
    for _ in 0..rounds {
        for (i, s) in stages.iter().enumerate() {
            let t = Instant::now();
            docs[i] = (s.run)();
            best[i] = best[i].min(t.elapsed().as_secs_f64());
        }
    }
    println!("| stage | log text MB | documents | best of {rounds} (s) | MB/s of log text |");
    println!("| --- | ---: | ---: | ---: | ---: |");
    for (i, s) in stages.iter().enumerate() {
        println!(
            "| `{}` | {:.1} | {} | {:.3} | {:.1} |",
            s.name,
            s.bytes as f64 / 1e6,
            docs[i],
            best[i],
            s.bytes as f64 / 1e6 / best[i]
        );
    }
}
