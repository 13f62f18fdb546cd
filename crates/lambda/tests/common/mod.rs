//! What the alert tests against services (`tests/alert_services.rs`, `tests/faults.rs`) share:
//! the samples, the access-denied rule, the CloudTrail sample's events re-timed, and a topic
//! with a queue subscribed to read back what the alert function published. Resources in moto
//! are made by [`moto`] (shared with other crates' tests too).
#![allow(dead_code)]

pub mod counts;
pub mod moto;

use base64::Engine as _;
use cwlogs_pipeline::Config;
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::{Read as _, Write as _};
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub const INTRUDER: &str = "arn:aws:sts::123456789012:assumed-role/intruder/session-4";
pub const DEPLOYER: &str = "arn:aws:sts::123456789012:assumed-role/ci-deployer/session-2";

/// A Lambda invocation of the event `text`, with request id `request` and, when given,
/// `deadline_ms` of Lambda time left (else `Context::default()`'s: no deadline).
pub fn invocation(
    text: &str,
    request: &str,
    deadline_ms: Option<u64>,
) -> lambda_runtime::LambdaEvent<Box<serde_json::value::RawValue>> {
    let mut context = lambda_runtime::Context::default();
    context.request_id = request.into();
    if let Some(left) = deadline_ms {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock")
            .as_millis() as u64;
        context.deadline = now + left;
    }
    lambda_runtime::LambdaEvent::new(
        serde_json::value::RawValue::from_string(text.to_string()).expect("json"),
        context,
    )
}

/// The text of `samples/{rel}`.
pub fn sample(rel: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../samples")
        .join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(bytes).expect("gzip");
    gz.finish().expect("gzip")
}

pub fn gunzip(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .ok()?;
    Some(out)
}

/// The environment of a function in eu-west-1.
pub fn region_env(k: &str) -> Option<String> {
    (k == "AWS_REGION").then(|| "eu-west-1".to_string())
}

/// One rule, `access-denied`: a metric, and an alert to `topic` per user and 5-minute window
/// (at most one; then the window's summary, due `grace` after the window ends).
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

/// [`alert_rules`] with the summary due at once (`grace = "0s"`).
pub fn alert_config(topic: &str) -> Config {
    Config::from_toml(&alert_rules(topic, "0s"), &region_env).expect("config")
}

/// The envelope of `samples/direct/cloudtrail.json` (3 `AccessDenied`: one by the deployer,
/// two by the intruder), gzip, base64. `recent`: its events moved into the previous 5-minute
/// window (same offsets, same ids), so that with `grace = "0s"` the window's summary is due at
/// once; else as shipped (from 2025).
pub fn cloudtrail_data(recent: bool) -> String {
    let event: Value = serde_json::from_str(&sample("direct/cloudtrail.json")).expect("json");
    let data = b64()
        .decode(event["awslogs"]["data"].as_str().expect("data"))
        .expect("base64");
    let mut envelope: Value =
        serde_json::from_slice(&gunzip(&data).expect("gzip")).expect("envelope");
    if recent {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock")
            .as_millis() as i64;
        let base = now.div_euclid(300_000) * 300_000 - 300_000;
        for e in envelope["logEvents"].as_array_mut().expect("events") {
            let ts = e["timestamp"].as_i64().expect("timestamp");
            e["timestamp"] = (base + ts % 300_000).into();
        }
    }
    b64().encode(gzip(envelope.to_string().as_bytes()))
}

/// A direct subscription event of base64 `data`.
pub fn direct_event(data: &str) -> String {
    serde_json::json!({"awslogs": {"data": data}}).to_string()
}

/// A topic (FIFO or not) with an SQS queue subscribed (the SNS envelope delivered, not raw).
pub struct Wiring {
    pub topic: moto::Topic,
    pub queue_url: String,
}

impl Wiring {
    pub async fn new(sdk: &aws_config::SdkConfig, fifo: bool) -> Wiring {
        let topic = moto::Topic::create(sdk, "alerts", fifo).await;
        let queue_url = topic.queue(false).await;
        Wiring { topic, queue_url }
    }

    /// Every message in the queue: received until `want` are in and a receive then comes
    /// back empty, or 15 s have passed. Messages stay in flight (never received twice).
    pub async fn drain(&self, want: usize) -> Vec<aws_sdk_sqs::types::Message> {
        self.topic
            .drain(&self.queue_url, want, Duration::from_secs(15))
            .await
    }
}

/// The SNS envelope of a received message.
pub fn envelope(m: &aws_sdk_sqs::types::Message) -> Value {
    serde_json::from_str(m.body().expect("a body")).expect("the SNS envelope")
}

/// The envelope's `MessageAttributes`: name -> value (all of type String).
pub fn attributes(envelope: &Value) -> BTreeMap<String, String> {
    envelope["MessageAttributes"]
        .as_object()
        .expect("MessageAttributes")
        .iter()
        .map(|(k, a)| {
            assert_eq!(a["Type"], "String", "{k}");
            (k.clone(), a["Value"].as_str().unwrap_or("").to_string())
        })
        .collect()
}

/// (kind, user) of each received message, sorted.
pub fn kinds_and_users(received: &[aws_sdk_sqs::types::Message]) -> Vec<(String, String)> {
    let mut shown: Vec<(String, String)> = received
        .iter()
        .map(|m| {
            let env = envelope(m);
            let body: Value =
                serde_json::from_str(env["Message"].as_str().expect("Message")).expect("JSON");
            (
                attributes(&env).get("kind").cloned().unwrap_or_default(),
                body["group"]["$.userIdentity.arn"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
            )
        })
        .collect();
    shown.sort();
    shown
}

/// The expected (kind, user) of the recent CloudTrail sample's messages: an alert per user,
/// and the intruder's window summary.
pub fn alerts_and_summary() -> [(String, String); 3] {
    [
        ("alert".to_string(), DEPLOYER.to_string()),
        ("alert".to_string(), INTRUDER.to_string()),
        ("summary".to_string(), INTRUDER.to_string()),
    ]
}
