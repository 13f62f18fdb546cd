//! The alert handler as a plain async function, fed `LambdaEvent`s built from the shipped
//! CloudTrail sample (3 `AccessDenied` events: one by `ci-deployer/session-2`, two by
//! `intruder/session-4`), with state in `MemoryStateStore`, messages in `MemoryPublisher`
//! (with scripted failures) and dead letters in `MemoryArchive`. The same paths against SNS,
//! SQS and DynamoDB (moto): `cwlogs-e2e`'s `alert_services`.

use cwlogs_lambda::{AlertSummary, Alerter, RetryLater};
use cwlogs_pipeline::{
    AlertMessage, Class, Config, MemoryArchive, MemoryPublisher, MemoryStateStore, SendError,
    StateStore, StateWrite,
};
use cwlogs_testkit::events::{DEPLOYER, INTRUDER, alert_rules, direct_event_of, envelope, sample};
use cwlogs_testkit::lambda::invocation;
use lambda_runtime::LambdaEvent;
use serde_json::value::RawValue;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

type Handler = Alerter<MemoryStateStore, MemoryPublisher, MemoryArchive>;

const TOPIC: &str = "arn:aws:sns:eu-west-1:123456789012:security";

fn event(text: &str) -> LambdaEvent<Box<RawValue>> {
    invocation(text, "req-1", None)
}

fn rules(grace: &str) -> String {
    alert_rules(TOPIC, grace)
}

fn config_with(text: &str, own_log_group: Option<&str>) -> Config {
    let own = own_log_group.map(String::from);
    let env = move |k: &str| match k {
        "AWS_REGION" => Some("eu-west-1".to_string()),
        "AWS_LAMBDA_LOG_GROUP_NAME" => own.clone(),
        _ => None,
    };
    Config::from_toml(text, &env).expect("config")
}

/// A handler, and the EMF lines it prints.
fn alerter(config: Config, store: MemoryStateStore) -> (Handler, Arc<Mutex<Vec<String>>>) {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&lines);
    let h = Alerter::new(
        config,
        store,
        MemoryPublisher::new(),
        Some(MemoryArchive::new()),
    )
    .with_metrics_out(Box::new(move |l| {
        sink.lock().expect("lock").push(l.to_string())
    }));
    (h, lines)
}

async fn summary(h: &Handler, text: &str) -> AlertSummary {
    match h.handle(event(text)).await {
        Ok(cwlogs_lambda::Response::Summary(s)) => s,
        other => panic!("not a summary: {other:?}"),
    }
}

fn body(m: &AlertMessage) -> serde_json::Value {
    serde_json::from_str(&m.message).expect("message is JSON")
}

fn attribute<'a>(m: &'a AlertMessage, name: &str) -> Option<&'a str> {
    m.attributes
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// A copy of `store`: what a later invocation of the same container would see.
async fn copy(store: &MemoryStateStore) -> MemoryStateStore {
    let copy = MemoryStateStore::new();
    for (k, v) in store.items() {
        assert!(
            copy.put(StateWrite::new(&k, &v.value, None, 0), None)
                .await
                .expect("put")
        );
    }
    copy
}

#[tokio::test]
async fn cloudtrail_sample_gives_metrics_alerts_and_one_summary() {
    let (h, lines) = alerter(config_with(&rules("1m"), None), MemoryStateStore::new());
    let text = sample("direct/cloudtrail.json");
    let s = summary(&h, &text).await;
    assert_eq!((s.shape, s.records, s.events), ("direct", 1, 8));
    assert_eq!(
        (s.rules.events, s.rules.matches, s.rules.datapoints),
        (8, 3, 3)
    );

    // One EMF document: the minute 00:00, value 1 three times.
    let emf = lines.lock().expect("lock").clone();
    assert_eq!(emf.len(), 1, "{emf:#?}");
    assert_eq!(s.metric_documents, 1);
    let doc: serde_json::Value = serde_json::from_str(&emf[0]).expect("EMF is JSON");
    assert_eq!(doc["AccessDenied"]["Values"], serde_json::json!([1]));
    assert_eq!(doc["AccessDenied"]["Counts"], serde_json::json!([3]));
    assert_eq!(doc["_aws"]["Timestamp"], 1_764_028_800_000i64);
    assert_eq!(doc["_aws"]["CloudWatchMetrics"][0]["Namespace"], "Security");

    // One alert per user, then (the sample is long past its window and grace) the summary
    // of the user with two events.
    let sent = h.publisher().sent();
    assert_eq!(sent.len(), 3, "{sent:#?}");
    assert_eq!(
        (s.alerts.alerts, s.alerts.summaries, s.alerts.published),
        (2, 1, 3)
    );
    let alerts: Vec<&AlertMessage> = sent
        .iter()
        .filter(|m| attribute(m, "kind") == Some("alert"))
        .collect();
    let mut users: Vec<String> = alerts
        .iter()
        .map(|m| {
            body(m)["group"]["$.userIdentity.arn"]
                .as_str()
                .unwrap_or("")
                .to_string()
        })
        .collect();
    users.sort();
    assert_eq!(users, [DEPLOYER, INTRUDER]);
    for m in &sent {
        assert_eq!(m.topic, TOPIC);
        assert!(
            m.subject.starts_with("[HIGH] access-denied: "),
            "{}",
            m.subject
        );
        assert!(m.subject.len() < 100);
        assert_eq!(attribute(m, "rule"), Some("access-denied"));
        assert_eq!(attribute(m, "severity"), Some("high"));
        assert_eq!(attribute(m, "account"), Some("123456789012"));
        assert_eq!(attribute(m, "region"), Some("eu-west-1"));
        assert_eq!(
            attribute(m, "log_group"),
            Some("aws-cloudtrail-logs-123456789012")
        );
        assert_eq!(m.group_id, None, "not a FIFO topic");
    }
    let summaries: Vec<&AlertMessage> = sent
        .iter()
        .filter(|m| attribute(m, "kind") == Some("summary"))
        .collect();
    assert_eq!(summaries.len(), 1);
    let b = body(summaries[0]);
    assert_eq!(b["group"]["$.userIdentity.arn"], INTRUDER);
    assert_eq!(
        (b["count"].as_u64(), b["reported_now"].as_u64()),
        (Some(2), Some(1))
    );
    assert!(
        b["summary"]
            .as_str()
            .is_some_and(|t| t.contains("2 matches of access-denied")
                && t.ends_with("1 not sent individually")),
        "{b}"
    );
    assert!(h.dead_letters().is_some_and(MemoryArchive::is_empty));

    // The same event again (a Lambda retry): counted before, nothing new goes out.
    let again = summary(&h, &text).await;
    assert_eq!(h.publisher().sent().len(), 3);
    assert_eq!((again.alerts.published, again.alerts.redelivered), (0, 2));
    // Metrics are per invocation: CloudWatch gets the datapoints again (as it would from a
    // metric filter seeing the events again).
    assert_eq!(lines.lock().expect("lock").len(), 2);
}

#[tokio::test]
async fn a_refused_publish_is_dead_lettered_with_the_message() {
    let (h, _) = alerter(config_with(&rules("1m"), None), MemoryStateStore::new());
    h.publisher().fail_containing(
        "intruder",
        SendError {
            class: Class::Reject,
            message: "SNS Publish: AuthorizationError (HTTP 403): not authorized to publish".into(),
        },
    );
    let s = summary(&h, &sample("direct/cloudtrail.json")).await;
    // The deployer's alert went out; the intruder's alert and summary were refused.
    assert_eq!(h.publisher().sent().len(), 1);
    assert_eq!(s.alerts.failed.len(), 2);
    assert_eq!((s.dead_letters, s.pending_records), (2, 0));
    let objects = h.dead_letters().expect("archive").objects();
    assert_eq!(objects.len(), 4, "{:?}", objects.keys());
    let mut kinds = Vec::new();
    for (key, object) in &objects {
        assert!(key.starts_with("dead-letter/dt="), "{key}");
        if key.ends_with(".error.json") {
            let err: serde_json::Value = serde_json::from_slice(&object.body).expect("json");
            assert_eq!(err["stage"], "sns");
            assert!(
                err["error"]
                    .as_str()
                    .is_some_and(|e| e.contains("AuthorizationError"))
            );
            assert_eq!(err["input"], "lambda:req-1");
        } else {
            let m: AlertMessage = serde_json::from_slice(&object.body).expect("an AlertMessage");
            assert_eq!(m.topic, TOPIC);
            assert!(m.subject.contains("access-denied"));
            assert!(m.message.contains(INTRUDER));
            kinds.push(attribute(&m, "kind").unwrap_or("").to_string());
        }
    }
    kinds.sort();
    assert_eq!(kinds, ["alert", "summary"]);
}

#[tokio::test]
async fn a_publish_failing_at_the_deadline_is_left_to_the_trigger() {
    let (h, _) = alerter(config_with(&rules("1m"), None), MemoryStateStore::new());
    h.publisher().fail_containing(
        "intruder",
        SendError {
            class: Class::Retry,
            message: "SNS Publish: Throttling (HTTP 400): Rate exceeded".into(),
        },
    );
    let text = sample("direct/cloudtrail.json");
    let answer = h.handle(event(&text)).await;
    let Err(RetryLater { message }) = answer else {
        panic!("expected RetryLater, got {answer:?}");
    };
    assert!(
        message.contains("1 of 1 records") && message.contains("Rate exceeded"),
        "{message}"
    );
    assert_eq!(
        h.publisher().sent().len(),
        1,
        "the deployer's alert went out"
    );
    assert!(h.dead_letters().is_some_and(MemoryArchive::is_empty));

    // Lambda's retry, once SNS takes messages again: the intruder's counts were rolled back,
    // so its alert and summary go out now; the deployer's is not sent twice.
    let (retry, _) = alerter(config_with(&rules("1m"), None), copy(h.store()).await);
    let s = summary(&retry, &text).await;
    let sent = retry.publisher().sent();
    assert_eq!(sent.len(), 2, "{sent:#?}");
    assert!(sent.iter().all(|m| m.message.contains(INTRUDER)));
    assert_eq!(
        (s.alerts.alerts, s.alerts.summaries, s.alerts.redelivered),
        (1, 1, 1)
    );
}

#[tokio::test]
async fn the_functions_own_log_group_is_never_processed() {
    let config = config_with(&rules("1m"), Some("aws-cloudtrail-logs-123456789012"));
    let (h, lines) = alerter(config, MemoryStateStore::new());
    let s = summary(&h, &sample("direct/cloudtrail.json")).await;
    assert_eq!(s.events, 8);
    assert_eq!((s.rules.own_log_group_events, s.rules.matches), (8, 0));
    assert!(lines.lock().expect("lock").is_empty());
    assert!(h.publisher().sent().is_empty());
    assert!(h.store().items().is_empty());
}

/// A direct subscription event holding `messages` of the CloudTrail log group, at `ts`.
fn direct_event(messages: &[String], ts: i64) -> String {
    let events: Vec<serde_json::Value> = messages
        .iter()
        .enumerate()
        .map(|(i, m)| {
            serde_json::json!({"id": format!("{:013}{:043}", ts, i), "timestamp": ts, "message": m})
        })
        .collect();
    direct_event_of(&envelope(
        "aws-cloudtrail-logs-123456789012",
        "123456789012_CloudTrail_eu-west-1",
        events,
    ))
}

#[tokio::test]
async fn a_scheduled_event_sends_the_summaries_that_came_due() {
    // Events a minute old in 1-minute windows, with a grace that makes their window due two
    // seconds from now: not during the data invocation, but by the scheduled one.
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64;
    let ts = now - 60_000;
    let end = ts.div_euclid(60_000) * 60_000 + 60_000;
    let grace_s = (now + 1_500 - end + 999).div_euclid(1000);
    let text = rules(&format!("{grace_s}s")).replace("window = \"5m\"", "window = \"1m\"");
    let (h, _) = alerter(config_with(&text, None), MemoryStateStore::new());
    let denied = format!(
        r#"{{"eventName":"Decrypt","errorCode":"AccessDenied","userIdentity":{{"arn":"{INTRUDER}"}}}}"#
    );
    let s = summary(&h, &direct_event(&[denied.clone(), denied], ts)).await;
    assert_eq!((s.alerts.alerts, s.alerts.summaries), (1, 0), "{s:?}");

    let due = end + grace_s * 1000;
    let wait = (due - now).max(0) as u64 + 100;
    tokio::time::sleep(Duration::from_millis(wait)).await;
    let scheduled = r#"{"version":"0","id":"53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa","detail-type":"Scheduled Event","source":"aws.events","account":"123456789012","time":"2025-11-25T00:20:00Z","region":"eu-west-1","resources":["arn:aws:events:eu-west-1:123456789012:rule/cwlogs-alert-flush"],"detail":{}}"#;
    let s = summary(&h, scheduled).await;
    assert_eq!(s.shape, "scheduled");
    assert_eq!((s.records, s.alerts.summaries, s.alerts.alerts), (0, 1, 0));
    let sent = h.publisher().sent();
    assert_eq!(sent.len(), 2);
    assert_eq!(attribute(&sent[1], "kind"), Some("summary"));
    assert!(
        body(&sent[1])["summary"]
            .as_str()
            .is_some_and(|t| t.ends_with("1 not sent individually"))
    );
    // Nothing more is due.
    let s = summary(&h, scheduled).await;
    assert_eq!(s.alerts.published, 0);
}

#[tokio::test]
async fn kinesis_records_with_unsent_alerts_are_retried_alone() {
    let (h, _) = alerter(config_with(&rules("1m"), None), MemoryStateStore::new());
    h.publisher().fail_containing(
        "intruder",
        SendError {
            class: Class::Retry,
            message: "SNS Publish: InternalError (HTTP 500)".into(),
        },
    );
    let text = sample("kinesis/fanout.json");
    let answer = h.handle(event(&text)).await.expect("an answer");
    // Record 0 holds the intruder's CloudTrail events; records 1 (Lambda logs) and 2 (a
    // control message) are done.
    let json = serde_json::to_value(&answer).expect("json");
    assert_eq!(
        json,
        serde_json::json!({"batchItemFailures": [{"itemIdentifier": "49590338271490256608559692538361571095921575989136588890"}]})
    );
}

#[tokio::test]
async fn firehose_records_come_back_unchanged() {
    let (h, _) = alerter(config_with(&rules("1m"), None), MemoryStateStore::new());
    let text = sample("firehose/transform.json");
    let answer = h.handle(event(&text)).await.expect("an answer");
    let json = serde_json::to_value(&answer).expect("json");
    let input: serde_json::Value = serde_json::from_str(&text).expect("json");
    let records = json["records"].as_array().expect("records");
    assert_eq!(
        records.len(),
        input["records"].as_array().map_or(0, Vec::len)
    );
    for (out, inp) in records
        .iter()
        .zip(input["records"].as_array().expect("records"))
    {
        assert_eq!(out["recordId"], inp["recordId"]);
        assert_eq!(out["result"], "Ok");
        assert_eq!(out["data"], inp["data"]);
    }
}
