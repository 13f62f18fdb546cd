//! The shipped samples (`samples/` at the repository's root), gzip and base64, and the trigger
//! events the handlers and the CLI take, built from them or from log events: a direct
//! subscription event (`{"awslogs": {"data": …}}`), a Kinesis event (`Records`) and a Firehose
//! transformation event (`records`), each shaped like the sample of its transport. Also the
//! `access-denied` rule and the users of `samples/direct/cloudtrail.json` that the alert tests
//! share.

use base64::Engine as _;
use serde_json::{Value, json};
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};

/// `samples/` at the repository's root.
pub fn samples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../samples")
}

/// The text of `samples/{rel}`.
pub fn sample(rel: &str) -> String {
    let path = samples_dir().join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The bytes of `samples/{rel}`.
pub fn sample_bytes(rel: &str) -> Vec<u8> {
    let path = samples_dir().join(rel);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Standard base64 with padding: the encoding of the `data` of every transport.
pub fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

/// `bytes` gzipped (fast level).
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(bytes).expect("gzip");
    gz.finish().expect("gzip")
}

/// `bytes` gunzipped; `None` when they are not whole gzip.
pub fn gunzip(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .ok()?;
    Some(out)
}

/// A subscription envelope (`DATA_MESSAGE`) of account 123456789012 carrying `log_events`
/// (each `{"id", "timestamp", "message"}`) of `log_group` / `log_stream`.
pub fn envelope(log_group: &str, log_stream: &str, log_events: Vec<Value>) -> Value {
    json!({
        "messageType": "DATA_MESSAGE",
        "owner": "123456789012",
        "logGroup": log_group,
        "logStream": log_stream,
        "subscriptionFilters": ["to-cwlogs"],
        "logEvents": log_events,
    })
}

/// The `data` of every transport for `envelope`: its JSON gzipped, in base64.
pub fn data_of(envelope: &Value) -> String {
    b64().encode(gzip(envelope.to_string().as_bytes()))
}

/// A direct subscription event of base64 `data`.
pub fn direct_event(data: &str) -> String {
    json!({"awslogs": {"data": data}}).to_string()
}

/// A direct subscription event carrying `envelope` ([`data_of`] it).
pub fn direct_event_of(envelope: &Value) -> String {
    direct_event(&data_of(envelope))
}

/// A Kinesis event of these records (sequence number, base64 data), in this order, shaped
/// like `samples/kinesis/fanout.json`.
pub fn kinesis_event(records: &[(String, String)]) -> String {
    let fanout: Value = serde_json::from_str(&sample("kinesis/fanout.json")).expect("json");
    let template = fanout["Records"][0].clone();
    let records: Vec<Value> = records
        .iter()
        .map(|(seq, data)| {
            let mut r = template.clone();
            r["kinesis"]["sequenceNumber"] = seq.as_str().into();
            r["kinesis"]["data"] = data.as_str().into();
            r["eventID"] = format!("shardId-000000000000:{seq}").into();
            r
        })
        .collect();
    json!({ "Records": records }).to_string()
}

/// (sequence number, data) of the records of a Kinesis sample.
pub fn kinesis_records(rel: &str) -> Vec<(String, String)> {
    let v: Value = serde_json::from_str(&sample(rel)).expect("json");
    v["Records"]
        .as_array()
        .expect("Records")
        .iter()
        .map(|r| {
            (
                r["kinesis"]["sequenceNumber"]
                    .as_str()
                    .expect("sequenceNumber")
                    .to_string(),
                r["kinesis"]["data"].as_str().expect("data").to_string(),
            )
        })
        .collect()
}

/// A Firehose transformation event of these records (record id, base64 data), in this order,
/// shaped like `samples/firehose/transform.json`.
pub fn firehose_event(records: &[(String, String)]) -> String {
    let mut event: Value = serde_json::from_str(&sample("firehose/transform.json")).expect("json");
    let template = event["records"][0].clone();
    event["records"] = records
        .iter()
        .map(|(id, data)| {
            let mut r = template.clone();
            r["recordId"] = id.as_str().into();
            r["data"] = data.as_str().into();
            r
        })
        .collect();
    event.to_string()
}

/// The user of the one `AccessDenied` by the deployer in `samples/direct/cloudtrail.json`.
pub const DEPLOYER: &str = "arn:aws:sts::123456789012:assumed-role/ci-deployer/session-2";
/// The user of the two `AccessDenied` by the intruder in `samples/direct/cloudtrail.json`.
pub const INTRUDER: &str = "arn:aws:sts::123456789012:assumed-role/intruder/session-4";

/// The configuration text of one rule, `access-denied`: a metric, and an alert to `topic` per
/// user and 5-minute window (at most one; then the window's summary, due `grace` after the
/// window ends).
pub fn alert_rules(topic: &str, grace: &str) -> String {
    format!(
        r#"[alerts]
grace = "{grace}"

[[rule]]
name = "access-denied"
pattern = '{{ $.errorCode = "AccessDenied" }}'
log_groups = ["aws-cloudtrail-logs-*"]
metric = {{ namespace = "Security", name = "AccessDenied", value = "1", unit = "Count" }}
alert = {{ topic = "{topic}", group_by = ["$.userIdentity.arn"], window = "5m", max_per_window = 1, severity = "high" }}
"#
    )
}

/// The environment of a function in eu-west-1 (`AWS_REGION` alone), for `Config::from_toml`
/// and `Config::builtin`.
pub fn region_env(k: &str) -> Option<String> {
    (k == "AWS_REGION").then(|| "eu-west-1".to_string())
}

/// The envelope of `samples/direct/cloudtrail.json` (3 `AccessDenied`: one by the
/// [`DEPLOYER`], two by the [`INTRUDER`]), gzip, base64. `recent`: its events moved into the
/// previous 5-minute window (same offsets, same ids), so that with `grace = "0s"` the window's
/// summary is due at once; else as shipped (from 2025).
pub fn cloudtrail_data(recent: bool) -> String {
    let event: Value = serde_json::from_str(&sample("direct/cloudtrail.json")).expect("json");
    let data = b64()
        .decode(event["awslogs"]["data"].as_str().expect("data"))
        .expect("base64");
    let mut envelope: Value =
        serde_json::from_slice(&gunzip(&data).expect("gzip")).expect("envelope");
    if recent {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_millis() as i64;
        let base = now.div_euclid(300_000) * 300_000 - 300_000;
        for e in envelope["logEvents"].as_array_mut().expect("events") {
            let ts = e["timestamp"].as_i64().expect("timestamp");
            e["timestamp"] = (base + ts % 300_000).into();
        }
    }
    data_of(&envelope)
}
