//! Peak memory of the archive handler on the largest event a direct subscription delivers: a
//! 1 MB (compressed) payload of 10,000 events, written to the in-memory archive. Goal: under
//! 64 MB of peak RSS, so the function runs at 128 MB of Lambda memory.
//!
//! Linux only (reads `/proc/self/status`); prints one JSON line. Run with
//! `cargo bench -p cwlogs-lambda --bench handler_memory`.

use base64::Engine as _;
use cwlogs_lambda::{Archiver, Response};
use cwlogs_pipeline::{Config, MemoryArchive};
use lambda_runtime::{Context, LambdaEvent};
use std::io::Write;

fn status_kb(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// 10,000 events of varied JSON, about 1 MB once gzipped, as a direct-subscription event.
fn event_text() -> (String, usize, usize) {
    let mut seed: u64 = 0x2545_F491_4F6C_DD1D;
    let mut events = Vec::with_capacity(10_000);
    for i in 0..10_000u64 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let message = format!(
            r#"{{"level":"INFO","requestId":"{:016x}{:016x}","path":"/api/v1/orders/{}","status":{},"latencyMs":{},"user":"u-{:x}","traceId":"1-{:08x}-{:024x}","session":"{:016x}{:016x}{:016x}{:016x}","span":"{:016x}{:016x}"}}"#,
            seed,
            seed.rotate_left(17),
            seed % 100_000,
            [200, 201, 404, 500][(seed % 4) as usize],
            seed % 2000,
            seed >> 44,
            seed >> 32,
            seed.rotate_left(29),
            seed.wrapping_mul(0x9E37_79B9_7F4A_7C15),
            seed.rotate_left(7).wrapping_mul(31),
            seed.rotate_right(11) ^ i,
            seed.wrapping_add(i).rotate_left(41),
            seed.rotate_left(53) ^ 0x5555,
            seed.wrapping_mul(0xD6E8_FEB8_6659_FD93)
        );
        events.push(serde_json::json!({
            "id": format!("{:056}", 38_000_000_000_000_000u64 + i),
            "timestamp": 1_764_028_800_000u64 + i * 10,
            "message": message,
        }));
    }
    let envelope = serde_json::json!({
        "messageType": "DATA_MESSAGE",
        "owner": "123456789012",
        "logGroup": "/aws/lambda/orders",
        "logStream": "2025/11/25/[$LATEST]0123456789abcdef",
        "subscriptionFilters": ["all"],
        "logEvents": events,
    })
    .to_string();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(envelope.as_bytes()).expect("gzip");
    let gz = gz.finish().expect("gzip");
    let data = base64::engine::general_purpose::STANDARD.encode(&gz);
    (
        format!(r#"{{"awslogs":{{"data":"{data}"}}}}"#),
        gz.len(),
        envelope.len(),
    )
}

fn main() {
    // `cargo bench` passes flags such as `--bench`; this benchmark takes none.
    let (text, gz_len, json_len) = event_text();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let handler = Archiver::new(Config::builtin(&|_| None), MemoryArchive::new());
    let payload = serde_json::value::RawValue::from_string(text).expect("json");
    let before = status_kb("VmRSS:").unwrap_or(0);
    // Reset the high-water mark so that it measures the invocation alone (Linux >= 4.0).
    let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    let started = std::time::Instant::now();
    let answer = runtime.block_on(handler.handle(LambdaEvent::new(payload, Context::default())));
    let elapsed = started.elapsed();
    let peak = status_kb("VmHWM:").unwrap_or(0);
    let Ok(Response::Summary(s)) = answer else {
        panic!("the invocation failed: {answer:?}");
    };
    assert_eq!(s.archived_events, 10_000);
    println!(
        "{}",
        serde_json::json!({
            "benchmark": "archive_handler_peak_rss",
            "events": s.archived_events,
            "payload_gzip_bytes": gz_len,
            "payload_json_bytes": json_len,
            "rss_before_kb": before,
            "peak_rss_kb": peak,
            "peak_reset": reset,
            "goal_kb": 64 * 1024,
            "duration_ms": elapsed.as_secs_f64() * 1e3,
        })
    );
}
