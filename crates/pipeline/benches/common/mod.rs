//! Data shared by the pipeline benchmarks: the payloads of `gen_cwl.py` when
//! `CWLOGS_BENCH_DATA` names a directory of them, else a built-in mix of the same four kinds of
//! logs, smaller. Each bench uses part of it.
#![allow(dead_code)]

use cwlogs_decode::LogEvent;
use flate2::Compression;
use flate2::write::GzEncoder;
use std::path::PathBuf;

/// Sorted files of `dir/sub` whose names end with `suffix`.
pub fn files(dir: &std::path::Path, sub: &str, suffix: &str) -> Vec<PathBuf> {
    let dir = dir.join(sub);
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("CWLOGS_BENCH_DATA: cannot read {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with(suffix))
        .collect();
    names.sort();
    names
}

/// A direct-subscription Lambda event (`{"awslogs":{"data":"<base64>"}}`) around a gzip
/// payload, as `gen_cwl.py` writes them to `events/`.
pub fn lambda_event(gz: &[u8]) -> Vec<u8> {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::with_capacity(gz.len() * 4 / 3 + 32);
    out.extend_from_slice(br#"{"awslogs":{"data":""#);
    for c in gz.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        out.push(ABC[(n >> 18) as usize & 63]);
        out.push(ABC[(n >> 12) as usize & 63]);
        out.push(if c.len() > 1 {
            ABC[(n >> 6) as usize & 63]
        } else {
            b'='
        });
        out.push(if c.len() > 2 {
            ABC[n as usize & 63]
        } else {
            b'='
        });
    }
    out.extend_from_slice(br#""}}"#);
    out
}

// ---------------------------------------------------------------------------------------------
// Built-in data: the four kinds of logs `gen_cwl.py` writes, smaller.

/// Gzip payloads of the four kinds of logs `gen_cwl.py` writes, 3 x 2,000 events each.
pub fn synthetic() -> Vec<Vec<u8>> {
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
