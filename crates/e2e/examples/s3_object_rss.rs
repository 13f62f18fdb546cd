//! Peak memory of the index function on one large S3 object (issue 20: at most 128 MB of RSS for
//! a 1 GB uncompressed object). Two steps, so that making the object does not count:
//!
//! ```sh
//! # moto running, its variables exported (scripts/test.sh's start_services):
//! cargo build --profile bench -p cwlogs-e2e --example s3_object_rss
//! target/release/examples/s3_object_rss put BUCKET 1024     # a 1024 MiB (uncompressed) flow log
//! /usr/bin/time -v target/release/examples/s3_object_rss index BUCKET
//! ```
//!
//! `put` writes a gzip VPC flow log of that many MiB (uncompressed) to moto under the AWS key
//! layout, streaming (the gzip is built in a temporary file). `index` runs the real index
//! function (`Indexer` with the real `S3Source`, body streamed) on an SQS event naming it, with a
//! cluster that answers 201 to every document and keeps nothing (so that only the function's
//! memory is measured), and prints what it indexed and how fast; `/usr/bin/time -v` gives its
//! maximum resident set size.

use cwlogs_aws::{S3Source, sdk_config};
use cwlogs_lambda::{IndexSummary, Indexer, Response};
use cwlogs_pipeline::sink::{BulkTransport, Reply};
use cwlogs_pipeline::sources::notification::url_encode;
use cwlogs_pipeline::{Config, MemoryArchive, SendError};
use serde_json::json;
use std::io::{Read as _, Write as _};
use std::time::{Duration, Instant};

const KEY: &str = "AWSLogs/123456789012/vpcflowlogs/us-east-1/2025/11/25/123456789012_vpcflowlogs_us-east-1_fl-rss_20251125T1000Z_big.log.gz";

/// A cluster that takes every document and keeps nothing.
struct NullIndex;

impl BulkTransport for NullIndex {
    async fn post_bulk(
        &self,
        body: Vec<u8>,
        gzip: bool,
        _: Option<Instant>,
    ) -> Result<Reply, SendError> {
        let plain = if gzip {
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(&body[..])
                .read_to_end(&mut out)
                .map_err(|e| SendError {
                    class: cwlogs_pipeline::Class::Reject,
                    message: e.to_string(),
                })?;
            out
        } else {
            body
        };
        let items = plain.iter().filter(|&&b| b == b'\n').count() / 2;
        let mut answer = String::with_capacity(32 + items * 32);
        answer.push_str(r#"{"took":1,"errors":false,"items":["#);
        for i in 0..items {
            if i > 0 {
                answer.push(',');
            }
            answer.push_str(r#"{"create":{"status":201}}"#);
        }
        answer.push_str("]}");
        Ok(Reply {
            status: 200,
            body: answer.into_bytes(),
        })
    }

    async fn sleep(&self, delay: Duration) {
        tokio::time::sleep(delay).await;
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (mode, bucket) = match (args.get(1), args.get(2)) {
        (Some(m), Some(b)) => (m.as_str(), b.as_str()),
        _ => {
            eprintln!("usage: s3_object_rss put BUCKET MIB | index BUCKET");
            std::process::exit(2);
        }
    };
    let sdk = sdk_config(Some("us-east-1")).await;
    assert!(
        sdk.endpoint_url().is_some(),
        "AWS_ENDPOINT_URL is not set: run against moto"
    );
    match mode {
        "put" => {
            let mib: usize = args.get(3).and_then(|a| a.parse().ok()).unwrap_or(1024);
            put(&sdk, bucket, mib).await;
        }
        "index" => index(&sdk, bucket).await,
        _ => panic!("mode: put or index"),
    }
}

async fn put(sdk: &aws_config::SdkConfig, bucket: &str, mib: usize) {
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(sdk)
            .force_path_style(true)
            .build(),
    );
    let _ = s3.create_bucket().bucket(bucket).send().await;
    let path = std::env::temp_dir().join(format!("s3-object-rss-{}.gz", std::process::id()));
    let file = std::fs::File::create(&path).expect("temp file");
    let mut gz = flate2::write::GzEncoder::new(
        std::io::BufWriter::new(file),
        flate2::Compression::default(),
    );
    gz.write_all(b"version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status\n")
        .expect("write");
    let target = mib << 20;
    let (mut written, mut i) = (0usize, 0u64);
    while written < target {
        let line = format!(
            "2 123456789012 eni-0a1b2c3d4e5f60718 10.0.{}.{} 172.31.{}.{} {} 443 6 {} {} {} {} {} OK\n",
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
        );
        gz.write_all(line.as_bytes()).expect("write");
        written += line.len();
        i += 1;
    }
    gz.finish().expect("finish");
    let size = std::fs::metadata(&path).expect("size").len();
    let body = aws_sdk_s3::primitives::ByteStream::from_path(&path)
        .await
        .expect("body");
    s3.put_object()
        .bucket(bucket)
        .key(KEY)
        .body(body)
        .send()
        .await
        .expect("put");
    std::fs::remove_file(&path).ok();
    println!(
        "put s3://{bucket}/{KEY}: {i} records, {written} bytes uncompressed, {size} bytes gzip"
    );
}

async fn index(sdk: &aws_config::SdkConfig, bucket: &str) {
    let config = Config::from_toml(
        "[index]\nendpoint = \"http://127.0.0.1:1\"\nauth = \"none\"\ninstall_template = false\n",
        &|k| std::env::var(k).ok(),
    )
    .expect("config");
    let max = config
        .sources
        .s3
        .as_ref()
        .map_or(u64::MAX, |s| s.max_object_bytes);
    let h: Indexer<NullIndex, MemoryArchive, S3Source> =
        Indexer::new(config, NullIndex, Some(MemoryArchive::new()))
            .expect("index on")
            .with_objects(S3Source::new(sdk).with_max_object_bytes(max));
    let event = json!({"Records": [{"messageId": "m0", "eventSource": "aws:sqs", "body": json!({"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
        "s3": {"bucket": {"name": bucket}, "object": {"key": url_encode(KEY)}}}]}).to_string()}]});
    let started = Instant::now();
    let (s, answer): (IndexSummary, _) = h
        .handle_counted(cwlogs_testkit::lambda::invocation(
            &event.to_string(),
            "rss",
            None,
        ))
        .await;
    let secs = started.elapsed().as_secs_f64();
    assert!(
        matches!(&answer, Ok(Response::Sqs { batch_item_failures }) if batch_item_failures.is_empty()),
        "{answer:?}"
    );
    println!(
        "indexed {} records ({} requests, {} bytes sent) in {secs:.1} s: {:.0} records/s",
        s.indexed_events,
        s.requests,
        s.bytes_sent,
        s.indexed_events as f64 / secs
    );
}
