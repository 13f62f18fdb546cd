//! The alert function on S3 notifications: CloudTrail records read from an S3 object (the
//! in-memory store) go through the rules as events of `s3://{bucket}/cloudtrail`; the alert goes
//! out once across redeliveries, an object that cannot be read yet is handed back, a deleted
//! one is a dead letter.

use cwlogs_lambda::{AlertSummary, Alerter, Response};
use cwlogs_pipeline::sources::{GetError, GetErrorKind, MemoryObjects, ObjectFault, ObjectRef};
use cwlogs_pipeline::{Config, MemoryArchive, MemoryPublisher, MemoryStateStore};
use cwlogs_testkit::lambda::event;
use serde_json::json;
use std::io::Write as _;
use std::sync::{Arc, Mutex};

type Handler = Alerter<MemoryStateStore, MemoryPublisher, MemoryArchive, MemoryObjects>;

const TOPIC: &str = "arn:aws:sns:eu-west-1:123456789012:security";
const KEY: &str = "AWSLogs/123456789012/CloudTrail/eu-west-1/2025/11/25/123456789012_CloudTrail_eu-west-1_20251125T1000Z_a.json.gz";

fn handler() -> (Handler, Arc<Mutex<Vec<String>>>) {
    let rules = format!(
        r#"[[rule]]
name = "access-denied"
pattern = '{{ $.errorCode = "AccessDenied" }}'
log_groups = ["s3://*/cloudtrail"]
metric = {{ namespace = "Security", name = "AccessDenied", value = "1", unit = "Count" }}
alert = {{ topic = "{TOPIC}", group_by = ["$.userIdentity.arn"], window = "5m", max_per_window = 1 }}
"#
    );
    let config = Config::from_toml(&rules, &|k| (k == "AWS_REGION").then(|| "eu-west-1".into()))
        .expect("config");
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&lines);
    let h = Alerter::new(
        config,
        MemoryStateStore::new(),
        MemoryPublisher::new(),
        Some(MemoryArchive::new()),
    )
    .with_metrics_out(Box::new(move |l| {
        sink.lock().expect("lock").push(l.to_string())
    }))
    .with_objects(MemoryObjects::new());
    (h, lines)
}

fn trail() -> Vec<u8> {
    let record = |i: usize, code: &str| {
        format!(
            r#"{{"eventVersion":"1.08","eventTime":"2025-11-25T10:00:0{i}Z","eventSource":"iam.amazonaws.com","eventName":"CreateAccessKey","userIdentity":{{"type":"IAMUser","arn":"arn:aws:iam::123456789012:user/u{i}"}}{code}}}"#
        )
    };
    let text = format!(
        r#"{{"Records":[{},{},{}]}}"#,
        record(1, ""),
        record(2, r#","errorCode":"AccessDenied""#),
        record(3, "")
    );
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(text.as_bytes()).expect("gzip");
    e.finish().expect("gzip")
}

fn sqs(objects: &[&ObjectRef]) -> String {
    let records: Vec<_> = objects
        .iter()
        .enumerate()
        .map(|(i, o)| {
            let n = json!({"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
                "s3": {"bucket": {"name": o.bucket}, "object": {"key": o.key, "versionId": o.version_id}}}]});
            json!({"messageId": format!("m{i}"), "eventSource": "aws:sqs", "body": n.to_string()})
        })
        .collect();
    json!({"Records": records}).to_string()
}

fn failures(answer: &Result<Response<AlertSummary>, cwlogs_lambda::RetryLater>) -> Vec<String> {
    match answer {
        Ok(Response::Sqs {
            batch_item_failures,
        }) => batch_item_failures
            .iter()
            .map(|f| f.item_identifier.clone())
            .collect(),
        other => panic!("not an SQS answer: {other:?}"),
    }
}

#[tokio::test]
async fn cloudtrail_records_in_s3_go_through_the_rules_and_alert_once() {
    let (h, lines) = handler();
    let o = h.objects().put("trail-bucket", KEY, trail());
    let gone = h
        .objects()
        .put("trail-bucket", &KEY.replace("_a.", "_gone."), trail());
    h.objects().delete("trail-bucket", &gone.key);
    let slow = h
        .objects()
        .put("trail-bucket", &KEY.replace("_a.", "_slow."), trail());
    h.objects().fault([
        ObjectFault::BreakAfter(usize::MAX),
        ObjectFault::BreakAfter(usize::MAX),
        ObjectFault::Fail(GetError {
            kind: GetErrorKind::Retry,
            message: "SlowDown".into(),
        }),
    ]);
    let (s, answer) = h.handle_counted(event(&sqs(&[&o, &gone, &slow]))).await;
    assert_eq!(failures(&answer), ["m2"], "{s:?}");
    assert_eq!((s.objects, s.objects_failed, s.objects_pending), (3, 1, 1));
    assert_eq!(s.events, 3);
    assert_eq!(s.rules.matches, 1, "{s:?}");
    let kind = |m: &cwlogs_pipeline::AlertMessage| {
        serde_json::from_str::<serde_json::Value>(&m.message).expect("json")["kind"]
            .as_str()
            .unwrap_or("")
            .to_string()
    };
    let sent = h.publisher().sent();
    assert_eq!(
        sent.iter().filter(|m| kind(m) == "alert").count(),
        1,
        "one alert: {sent:?}"
    );
    assert!(
        lines
            .lock()
            .expect("lock")
            .iter()
            .any(|l| l.contains("\"AccessDenied\"")),
        "the metric"
    );
    // The redelivery of every message: the alert is not sent again (the state has its window).
    let (s, answer) = h.handle_counted(event(&sqs(&[&o, &slow]))).await;
    assert!(failures(&answer).is_empty(), "{s:?}");
    let sent = h.publisher().sent();
    assert_eq!(
        sent.iter().filter(|m| kind(m) == "alert").count(),
        1,
        "still one: {sent:?}"
    );
    let ids: std::collections::BTreeSet<&str> = sent.iter().map(|m| m.dedup_id.as_str()).collect();
    assert_eq!(ids.len(), sent.len(), "nothing sent twice");
}
