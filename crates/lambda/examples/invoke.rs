//! Runs one function's handler on one Lambda event file, offline, the way the function's
//! `main` does (cold start: tracing, configuration; then one invocation on a multi-threaded
//! tokio runtime), with sinks that accept everything and keep nothing (no network). For
//! footprint measurements: peak RSS (`/usr/bin/time -v`) and process start to first event
//! handled.
//!
//! ```sh
//! cargo build --release -p cwlogs-lambda --example invoke
//! /usr/bin/time -v target/release/examples/invoke archive DATA/special/max1mb.json
//! target/release/examples/invoke alert EVENT.json --config rules.toml
//! ```
//!
//! Prints one JSON line: the function, the handler's answer, the handler's time and the
//! process's peak RSS (`VmHWM`, Linux) in kB. Without `--config` the built-in configuration
//! is used (the alert function needs `[[rule]]`s, so give it one).

use cwlogs_lambda::{Alerter, Archiver, Indexer};
use cwlogs_pipeline::sink::Object;
use cwlogs_pipeline::sink::{BulkTransport, Reply};
use cwlogs_pipeline::{Archive, Config, MemoryPublisher, MemoryStateStore, SendError};
use lambda_runtime::{Context, LambdaEvent};
use serde_json::value::RawValue;
use std::time::{Duration, Instant};

/// An S3 stand-in: every object is taken, none kept.
struct NullArchive;

impl Archive for NullArchive {
    async fn put(&self, object: Object<'_>, _: Option<Instant>) -> Result<(), SendError> {
        std::hint::black_box(object.body.len());
        Ok(())
    }
}

/// An OpenSearch stand-in: every `_bulk` request is answered "all created", none kept.
struct NullCluster;

impl BulkTransport for NullCluster {
    async fn post_bulk(
        &self,
        body: Vec<u8>,
        _: bool,
        _: Option<Instant>,
    ) -> Result<Reply, SendError> {
        std::hint::black_box(body.len());
        Ok(Reply {
            status: 200,
            body: br#"{"took":1,"errors":false,"items":[]}"#.to_vec(),
        })
    }

    async fn sleep(&self, delay: Duration) {
        tokio::time::sleep(delay).await;
    }
}

/// The process's peak resident set, in kB (Linux).
fn peak_rss_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn usage() -> ! {
    eprintln!("usage: invoke archive|index|alert EVENT.json [--config FILE]");
    std::process::exit(2);
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(function), Some(path)) = (args.first(), args.get(1)) else {
        usage()
    };
    let config_file = match args.get(2).map(String::as_str) {
        Some("--config") => Some(args.get(3).cloned().unwrap_or_else(|| usage())),
        Some(_) => usage(),
        None => None,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    // Cold start, as the functions' `main` does it.
    cwlogs_lambda::init_tracing();
    let env = |k: &str| {
        if k == "CWLOGS_CONFIG" {
            return config_file.clone();
        }
        std::env::var(k).ok().filter(|v| !v.is_empty())
    };
    let config: Config = cwlogs_lambda::load_config(&env)?;
    let text = std::fs::read_to_string(path)?;
    let payload = RawValue::from_string(text)?;
    let event = LambdaEvent::new(payload, Context::default());
    let started = Instant::now();
    let answer = runtime.block_on(async {
        match function.as_str() {
            "archive" => {
                let handler = Archiver::new(config, NullArchive);
                serde_json::to_string(&handler.handle(event).await.map_err(|e| e.message)?)
                    .map_err(|e| e.to_string())
            }
            "index" => {
                let Some(handler) = Indexer::new(config, NullCluster, None::<NullArchive>) else {
                    return Err("the index function needs `[index]` enabled".to_string());
                };
                serde_json::to_string(&handler.handle(event).await.map_err(|e| e.message)?)
                    .map_err(|e| e.to_string())
            }
            "alert" => {
                cwlogs_lambda::check_alert_config(&config).map_err(|e| e.to_string())?;
                let handler = Alerter::new(
                    config,
                    MemoryStateStore::new(),
                    MemoryPublisher::new(),
                    None::<NullArchive>,
                )
                .with_metrics_out(Box::new(|line| {
                    std::hint::black_box(line.len());
                }));
                serde_json::to_string(&handler.handle(event).await.map_err(|e| e.message)?)
                    .map_err(|e| e.to_string())
            }
            _ => usage(),
        }
    })?;
    let handled = started.elapsed();
    println!(
        r#"{{"function":"{function}","handler_ms":{:.2},"peak_rss_kb":{},"answer":{answer}}}"#,
        handled.as_secs_f64() * 1e3,
        peak_rss_kb().unwrap_or(0),
    );
    Ok(())
}
