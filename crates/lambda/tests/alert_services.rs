//! The alert handler against real service APIs: SNS topics, SQS queues subscribed to them (to
//! read back what was published) and a DynamoDB state table, all in moto (server mode, started
//! by `scripts/test.sh`, reached through `AWS_ENDPOINT_URL` and throwaway credentials). Every
//! test makes its own topic, queue and table.
//!
//! The events are those of `samples/direct/cloudtrail.json` (3 `AccessDenied`: one by
//! `ci-deployer/session-2`, two by `intruder/session-4`), re-timed into the previous 5-minute
//! window so that the window has ended (with `grace = "0s"`, its summary is due at once).
#![cfg(feature = "integration")]

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};
use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
use base64::Engine as _;
use cwlogs_aws::{DynamoStateStore, SnsPublisher};
use cwlogs_lambda::{AlertSummary, Alerter, Response};
use cwlogs_pipeline::{Config, MemoryArchive, MemoryStateStore, StateStore};
use lambda_runtime::{Context, LambdaEvent};
use serde_json::Value;
use serde_json::value::RawValue;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const INTRUDER: &str = "arn:aws:sts::123456789012:assumed-role/intruder/session-4";
const DEPLOYER: &str = "arn:aws:sts::123456789012:assumed-role/ci-deployer/session-2";

/// The SDK configuration from the environment, refusing to run against real AWS by accident.
async fn sdk() -> aws_config::SdkConfig {
    let sdk = cwlogs_aws::sdk_config(Some("us-east-1")).await;
    assert!(
        sdk.endpoint_url().is_some(),
        "AWS_ENDPOINT_URL is not set: run the integration tests through scripts/test.sh, \
         which starts moto and points the SDK at it"
    );
    sdk
}

/// A name no other test (or earlier run against the same server) uses.
fn unique(tag: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() % 1_000_000_000_000);
    format!(
        "cwlogs-{tag}-{}-{nanos}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

/// A topic with an SQS queue subscribed (the SNS envelope delivered, not raw), made with the
/// SDK directly, bypassing the code under test.
struct Wiring {
    sqs: aws_sdk_sqs::Client,
    topic_arn: String,
    queue_url: String,
}

impl Wiring {
    async fn new(sdk: &aws_config::SdkConfig, fifo: bool) -> Wiring {
        let sns = aws_sdk_sns::Client::new(sdk);
        let sqs = aws_sdk_sqs::Client::new(sdk);
        let suffix = if fifo { ".fifo" } else { "" };
        let mut topic = sns
            .create_topic()
            .name(format!("{}{suffix}", unique("alerts")));
        if fifo {
            topic = topic
                .attributes("FifoTopic", "true")
                .attributes("ContentBasedDeduplication", "false");
        }
        let topic_arn = topic
            .send()
            .await
            .expect("create topic")
            .topic_arn()
            .expect("a topic ARN")
            .to_string();
        let mut queue = sqs
            .create_queue()
            .queue_name(format!("{}{suffix}", unique("q")));
        if fifo {
            queue = queue.attributes(QueueAttributeName::FifoQueue, "true");
        }
        let queue_url = queue
            .send()
            .await
            .expect("create queue")
            .queue_url()
            .expect("a queue URL")
            .to_string();
        let queue_arn = sqs
            .get_queue_attributes()
            .queue_url(&queue_url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .expect("queue attributes")
            .attributes()
            .and_then(|a| a.get(&QueueAttributeName::QueueArn))
            .expect("a queue ARN")
            .clone();
        sns.subscribe()
            .topic_arn(&topic_arn)
            .protocol("sqs")
            .endpoint(&queue_arn)
            .send()
            .await
            .expect("subscribe the queue");
        Wiring {
            sqs,
            topic_arn,
            queue_url,
        }
    }

    /// Every message in the queue: received until `want` are in and a receive then comes
    /// back empty, or 15 s have passed. Messages stay in flight (never received twice).
    async fn drain(&self, want: usize) -> Vec<aws_sdk_sqs::types::Message> {
        let mut messages = Vec::new();
        let until = Instant::now() + Duration::from_secs(15);
        while Instant::now() < until {
            let out = self
                .sqs
                .receive_message()
                .queue_url(&self.queue_url)
                .max_number_of_messages(10)
                .wait_time_seconds(if messages.len() < want { 1 } else { 0 })
                .message_system_attribute_names(MessageSystemAttributeName::All)
                .send()
                .await
                .expect("receive");
            let got = out.messages();
            if got.is_empty() && messages.len() >= want {
                break;
            }
            messages.extend_from_slice(got);
        }
        messages
    }
}

/// A state table as the stack creates it: partition key `pk` (S), on demand.
async fn table(sdk: &aws_config::SdkConfig) -> String {
    let client = aws_sdk_dynamodb::Client::new(sdk);
    let table = unique("state");
    client
        .create_table()
        .table_name(&table)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("pk")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .expect("attribute definition"),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("pk")
                .key_type(KeyType::Hash)
                .build()
                .expect("key schema"),
        )
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .unwrap_or_else(|e| panic!("create table {table}: {e:?}"));
    table
}

fn config(topic: &str) -> Config {
    let text = format!(
        r#"[alerts]
grace = "0s"

[[rule]]
name = "access-denied"
pattern = '{{ $.errorCode = "AccessDenied" }}'
log_groups = ["aws-cloudtrail-logs-*"]
metric = {{ namespace = "Security", name = "AccessDenied", value = "1", unit = "Count" }}
alert = {{ topic = "{topic}", group_by = ["$.userIdentity.arn"], window = "5m", max_per_window = 1, severity = "high" }}
"#
    );
    let env = |k: &str| (k == "AWS_REGION").then(|| "eu-west-1".to_string());
    Config::from_toml(&text, &env).expect("config")
}

fn alerter<S: StateStore>(
    config: Config,
    store: S,
    sdk: &aws_config::SdkConfig,
) -> Alerter<S, SnsPublisher, MemoryArchive> {
    Alerter::new(config, store, SnsPublisher::new(sdk), None).with_metrics_out(Box::new(|_| {}))
}

/// The CloudTrail sample's envelope with `f` applied to it, as a direct subscription event.
fn sample_event(f: impl Fn(&mut Value)) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../samples/direct/cloudtrail.json");
    let text = std::fs::read_to_string(path).expect("sample");
    let event: Value = serde_json::from_str(&text).expect("json");
    let b64 = base64::engine::general_purpose::STANDARD;
    let data = b64
        .decode(event["awslogs"]["data"].as_str().expect("data"))
        .expect("base64");
    let mut json = String::new();
    flate2::read::GzDecoder::new(&data[..])
        .read_to_string(&mut json)
        .expect("gzip");
    let mut envelope: Value = serde_json::from_str(&json).expect("envelope");
    f(&mut envelope);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(envelope.to_string().as_bytes()).expect("gzip");
    serde_json::json!({"awslogs": {"data": b64.encode(gz.finish().expect("gzip"))}}).to_string()
}

/// The sample's events moved into the previous 5-minute window (same offsets, same ids).
fn recent_event() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64;
    let base = now.div_euclid(300_000) * 300_000 - 300_000;
    sample_event(|envelope| {
        for e in envelope["logEvents"].as_array_mut().expect("events") {
            let ts = e["timestamp"].as_i64().expect("timestamp");
            e["timestamp"] = (base + ts % 300_000).into();
        }
    })
}

fn invoke(text: &str, request: &str) -> LambdaEvent<Box<RawValue>> {
    let mut context = Context::default();
    context.request_id = request.into();
    LambdaEvent::new(
        RawValue::from_string(text.to_string()).expect("json"),
        context,
    )
}

fn summary(answer: Result<Response<AlertSummary>, cwlogs_lambda::RetryLater>) -> AlertSummary {
    match answer {
        Ok(Response::Summary(s)) => s,
        other => panic!("not a summary: {other:?}"),
    }
}

/// The SNS envelope of a received message.
fn envelope(m: &aws_sdk_sqs::types::Message) -> Value {
    serde_json::from_str(m.body().expect("a body")).expect("the SNS envelope")
}

/// The envelope's `MessageAttributes`: name -> value (all of type String).
fn attributes(envelope: &Value) -> BTreeMap<String, String> {
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
fn kinds_and_users(received: &[aws_sdk_sqs::types::Message]) -> Vec<(String, String)> {
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

#[tokio::test]
async fn two_containers_sharing_a_table_send_one_alert_per_group_and_window() {
    let sdk = sdk().await;
    let wiring = Wiring::new(&sdk, false).await;
    let table = table(&sdk).await;
    // Two containers: each its own clients, the same table.
    let a = alerter(
        config(&wiring.topic_arn),
        DynamoStateStore::new(&sdk, &table),
        &sdk,
    );
    let b = alerter(
        config(&wiring.topic_arn),
        DynamoStateStore::new(&sdk, &table),
        &sdk,
    );
    let text = recent_event();
    let (sa, sb) = tokio::join!(
        a.handle(invoke(&text, "req-a")),
        b.handle(invoke(&text, "req-b"))
    );
    let (sa, sb) = (summary(sa), summary(sb));
    assert_eq!(sa.alerts.alerts + sb.alerts.alerts, 2, "{sa:?}\n{sb:?}");
    assert_eq!(
        sa.alerts.summaries + sb.alerts.summaries,
        1,
        "{sa:?}\n{sb:?}"
    );
    assert!(sa.alerts.pending_error.is_none() && sb.alerts.pending_error.is_none());

    let received = wiring.drain(3).await;
    assert_eq!(
        kinds_and_users(&received),
        [
            ("alert".to_string(), DEPLOYER.to_string()),
            ("alert".to_string(), INTRUDER.to_string()),
            ("summary".to_string(), INTRUDER.to_string()),
        ]
    );
    for m in &received {
        let env = envelope(m);
        assert_eq!(env["TopicArn"], wiring.topic_arn.as_str());
        assert!(
            env["Subject"]
                .as_str()
                .is_some_and(|s| s.starts_with("[HIGH] access-denied: ")),
            "{env}"
        );
        let attrs = attributes(&env);
        assert_eq!(attrs["rule"], "access-denied");
        assert_eq!(attrs["log_group"], "aws-cloudtrail-logs-123456789012");
        assert_eq!(attrs["account"], "123456789012");
        assert_eq!(attrs["region"], "eu-west-1");
        assert_eq!(attrs["severity"], "high");
    }

    // A third container later, and a Lambda retry of either: nothing new goes out.
    let c = alerter(
        config(&wiring.topic_arn),
        DynamoStateStore::new(&sdk, &table),
        &sdk,
    );
    let sc = summary(c.handle(invoke(&text, "req-c")).await);
    assert_eq!(
        (sc.alerts.published, sc.alerts.redelivered),
        (0, 2),
        "{sc:?}"
    );
    assert!(wiring.drain(0).await.is_empty());
}

#[tokio::test]
async fn fifo_topics_get_the_group_and_the_deterministic_dedup_id() {
    let sdk = sdk().await;
    let wiring = Wiring::new(&sdk, true).await;
    let text = recent_event();
    // Without a shared table, two containers both send: the FIFO dedup ids (the same for the
    // same alert, whoever sends it) keep the subscriber from seeing any message twice.
    let a = alerter(config(&wiring.topic_arn), MemoryStateStore::new(), &sdk);
    let b = alerter(config(&wiring.topic_arn), MemoryStateStore::new(), &sdk);
    let sa = summary(a.handle(invoke(&text, "req-a")).await);
    let sb = summary(b.handle(invoke(&text, "req-b")).await);
    assert_eq!((sa.alerts.published, sb.alerts.published), (3, 3));

    let received = wiring.drain(3).await;
    assert_eq!(received.len(), 3, "{received:#?}");
    let mut dedup_ids = Vec::new();
    for m in &received {
        let system = m.attributes().expect("system attributes");
        assert_eq!(
            system
                .get(&MessageSystemAttributeName::MessageGroupId)
                .map(String::as_str),
            Some("access-denied")
        );
        let dedup = system
            .get(&MessageSystemAttributeName::MessageDeduplicationId)
            .expect("a MessageDeduplicationId")
            .clone();
        assert!(
            dedup.starts_with("a-") || dedup.starts_with("s-"),
            "{dedup}"
        );
        dedup_ids.push(dedup);
    }
    dedup_ids.sort();
    dedup_ids.dedup();
    assert_eq!(dedup_ids.len(), 3);
}

/// The shipped sample as it is: events from 2025, older than a day. The window state the
/// first container writes must still be there for the second one.
#[tokio::test]
async fn old_events_share_the_table_too() {
    let sdk = sdk().await;
    let wiring = Wiring::new(&sdk, false).await;
    let table = table(&sdk).await;
    let text = sample_event(|_| {});
    let a = alerter(
        config(&wiring.topic_arn),
        DynamoStateStore::new(&sdk, &table),
        &sdk,
    );
    let b = alerter(
        config(&wiring.topic_arn),
        DynamoStateStore::new(&sdk, &table),
        &sdk,
    );
    let (sa, sb) = tokio::join!(
        a.handle(invoke(&text, "req-a")),
        b.handle(invoke(&text, "req-b"))
    );
    let (sa, sb) = (summary(sa), summary(sb));
    assert_eq!(
        sa.alerts.published + sb.alerts.published,
        3,
        "{sa:?}\n{sb:?}"
    );
    assert_eq!(wiring.drain(3).await.len(), 3);
}
