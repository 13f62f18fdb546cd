//! The index handler on S3 notifications (SQS, direct, EventBridge) and S3 Batch Operations
//! tasks, reading objects from the in-memory store (`MemoryObjects`, versioned, with faults)
//! into the in-memory cluster: every record indexed once across redeliveries, deadlines and
//! partial failures; every bad object a dead letter with a classified error. The same against
//! moto and osmem-server through the fault proxy: `cwlogs-e2e`'s `s3_faults`.

use cwlogs_lambda::{IndexSummary, Indexer, Response};
use cwlogs_pipeline::sink::{Fault, MemoryIndex};
use cwlogs_pipeline::sources::{GetError, GetErrorKind, MemoryObjects, ObjectFault, ObjectRef};
use cwlogs_pipeline::{Backoff, Config, MemoryArchive};
use cwlogs_testkit::lambda::{event, invocation};
use serde_json::{Value, json};
use std::io::Write as _;
use std::time::Duration;

type Handler = Indexer<MemoryIndex, MemoryArchive, MemoryObjects>;

const TRAIL: &str = "AWSLogs/123456789012/CloudTrail/eu-west-1/2025/11/25/123456789012_CloudTrail_eu-west-1_20251125T1000Z_a.json.gz";
const FLOWS: &str = "AWSLogs/123456789012/vpcflowlogs/eu-west-1/2025/11/25/f.log.gz";

fn gz(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).expect("gzip");
    e.finish().expect("gzip")
}

/// A CloudTrail log file of `n` records.
fn trail(n: usize) -> Vec<u8> {
    let records: Vec<String> = (0..n)
        .map(|i| {
            format!(
                r#"{{"eventVersion":"1.08","eventTime":"2025-11-25T10:00:00Z","eventSource":"s3.amazonaws.com","eventName":"GetObject","eventID":"e{i}","sourceIPAddress":"10.0.0.{}","requestParameters":{{"bucketName":"b","key":"k{i}"}}}}"#,
                i % 250
            )
        })
        .collect();
    gz(format!(r#"{{"Records":[{}]}}"#, records.join(",")).as_bytes())
}

fn handler(config: &str) -> Handler {
    let config = Config::from_toml(config, &|k| (k == "AWS_REGION").then(|| "eu-west-1".into()))
        .expect("config");
    Indexer::new(config, MemoryIndex::new(), Some(MemoryArchive::new()))
        .expect("index on")
        .with_backoff(Backoff {
            base: Duration::from_millis(1),
            cap: Duration::from_millis(2),
            max_attempts: 3,
        })
        .with_objects(MemoryObjects::new())
}

/// An S3 notification record for `o`, as S3 writes it (key URL-encoded).
fn record(o: &ObjectRef) -> Value {
    let mut object = json!({"key": cwlogs_pipeline::sources::notification::url_encode(&o.key), "size": o.size, "eTag": o.etag, "sequencer": "00"});
    if let Some(v) = &o.version_id {
        object["versionId"] = v.clone().into();
    }
    json!({"eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "eu-west-1", "eventTime": "2025-11-25T10:05:00.000Z",
           "eventName": "ObjectCreated:Put", "s3": {"s3SchemaVersion": "1.0", "bucket": {"name": o.bucket, "arn": format!("arn:aws:s3:::{}", o.bucket)}, "object": object}})
}

/// An SQS event, one message per object.
fn sqs(objects: &[&ObjectRef]) -> String {
    let records: Vec<Value> = objects
        .iter()
        .enumerate()
        .map(|(i, o)| {
            json!({"messageId": format!("m{i}"), "receiptHandle": "r", "eventSource": "aws:sqs",
                   "eventSourceARN": "arn:aws:sqs:eu-west-1:123456789012:q", "awsRegion": "eu-west-1",
                   "body": json!({"Records": [record(o)]}).to_string()})
        })
        .collect();
    json!({"Records": records}).to_string()
}

/// The message ids SQS is told to deliver again.
fn failures(answer: &Result<Response<IndexSummary>, cwlogs_lambda::RetryLater>) -> Vec<String> {
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

/// The dead letters' error files, parsed.
fn dead_letters(h: &Handler) -> Vec<Value> {
    h.dead_letters()
        .expect("bucket")
        .objects()
        .into_iter()
        .filter(|(k, _)| k.ends_with(".error.json"))
        .map(|(_, o)| serde_json::from_slice(&o.body).expect("json"))
        .collect()
}

#[tokio::test]
async fn an_sqs_batch_settles_each_message_by_what_became_of_its_object() {
    let h = handler("");
    let good = h.objects().put("logs", TRAIL, trail(3));
    let deleted = h.objects().put(
        "logs",
        "AWSLogs/123456789012/CloudTrail/eu-west-1/2025/11/25/gone.json.gz",
        trail(1),
    );
    h.objects().delete("logs", &deleted.key);
    let flaky = h.objects().put(
        "logs",
        FLOWS,
        gz(b"version srcaddr dstaddr action start\n2 10.0.0.1 10.0.0.2 ACCEPT 1764064800\n"),
    );
    let text = sqs(&[&good, &deleted, &flaky]);
    // The third object's read is throttled past the retries (the memory store does not
    // retry: one failure stands for the S3 reader's last).
    let slow = GetError {
        kind: GetErrorKind::Retry,
        message: "SlowDown".into(),
    };
    h.objects().fault([
        ObjectFault::BreakAfter(usize::MAX),
        ObjectFault::BreakAfter(usize::MAX),
        ObjectFault::Fail(slow),
    ]);
    let (s, answer) = h.handle_counted(event(&text)).await;
    // The deleted object is a dead letter (not retried); the throttled one goes back.
    assert_eq!(failures(&answer), ["m2"]);
    assert_eq!((s.shape, s.records, s.objects), ("sqs", 3, 3));
    assert_eq!(
        (s.objects_done, s.objects_failed, s.objects_pending),
        (1, 1, 1)
    );
    assert_eq!((s.events, s.indexed_events), (3, 3));
    let dead = dead_letters(&h);
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0]["stage"], "s3-gone");
    assert!(
        dead[0]["error"]
            .as_str()
            .expect("text")
            .contains("NoSuchKey")
    );

    // SQS delivers m2 again: read now; the first object again: all already there.
    let (s, answer) = h.handle_counted(event(&sqs(&[&good, &flaky]))).await;
    assert!(failures(&answer).is_empty());
    assert_eq!((s.indexed_events, s.existing_events), (1, 3));
    assert_eq!(h.transport().docs().len(), 4, "each record once");
    assert_eq!(h.transport().count("cwl-s3-vpcflowlogs-2025.11.25"), 1);
}

#[tokio::test]
async fn a_body_broken_mid_object_or_a_deadline_leaves_it_for_redelivery_without_duplicates() {
    let h = handler("[index]\nmax_bulk_bytes = 65536\n");
    let o = h.objects().put("logs", TRAIL, trail(3000));
    let text = sqs(&[&o]);
    h.objects().fault([ObjectFault::BreakAfter(40_000)]);
    let (s, answer) = h.handle_counted(event(&text)).await;
    assert_eq!(failures(&answer), ["m0"]);
    assert_eq!(s.objects_pending, 1);
    let first = h.transport().docs().len();
    assert!(first > 0 && first < 3000, "{first}");
    assert_eq!(s.indexed_events, first);

    // A deadline that comes part-way: the rest waits for the next delivery.
    let (s, answer) = h
        .handle_counted(invocation(&text, "req-2", Some(260)))
        .await;
    let left = failures(&answer);
    assert!(
        s.objects_pending == left.len() && s.objects_pending <= 1,
        "{s:?}"
    );
    let (s, answer) = h.handle_counted(event(&text)).await;
    assert!(failures(&answer).is_empty(), "{s:?}");
    assert_eq!(s.events, 3000);
    assert_eq!(h.transport().docs().len(), 3000, "every record once");
    assert_eq!(s.indexed_events + s.existing_events, 3000);
}

#[tokio::test]
async fn bad_objects_are_classified_dead_letters() {
    let h = handler("[sources.s3]\nmax_object_bytes = 1048576\n");
    let truncated = {
        let full = trail(200);
        h.objects().put(
            "logs",
            &TRAIL.replace("_a.", "_t."),
            full[..full.len() / 2].to_vec(),
        )
    };
    let unknown = h.objects().put(
        "logs",
        FLOWS,
        gz(b"version srcaddr frobnicate\n2 10.0.0.1 x\n"),
    );
    let not_array = h.objects().put(
        "logs",
        &TRAIL.replace("_a.", "_n."),
        gz(br#"{"Records":{"eventVersion":"1.08"}}"#),
    );
    let mut huge = h
        .objects()
        .put("logs", &TRAIL.replace("_a.", "_h."), trail(1));
    huge.size = Some(5 << 30);
    let not_a_log = h
        .objects()
        .put("logs", "notes/readme.txt", b"hello\n".to_vec());
    let digest = h.objects().put(
        "logs",
        "AWSLogs/123456789012/CloudTrail-Digest/eu-west-1/2025/11/25/d.json.gz",
        gz(b"{}"),
    );
    let text = sqs(&[&truncated, &unknown, &not_array, &huge, &not_a_log, &digest]);
    let (s, answer) = h.handle_counted(event(&text)).await;
    assert!(
        failures(&answer).is_empty(),
        "none of these can pass by retrying"
    );
    assert_eq!(
        (s.objects_failed, s.objects_done, s.objects_skipped),
        (5, 1, 1)
    );
    let mut stages: Vec<String> = dead_letters(&h)
        .iter()
        .map(|d| {
            format!(
                "{}: {}",
                d["stage"].as_str().unwrap_or(""),
                d["error"].as_str().unwrap_or("")
            )
        })
        .collect();
    stages.sort();
    assert_eq!(stages.len(), 5, "{stages:?}");
    assert!(
        stages[0].starts_with("format: ")
            && stages[0].contains("`Records` is an object, not an array"),
        "{stages:?}"
    );
    assert!(
        stages[1].starts_with("format: ") && stages[1].contains("frobnicate"),
        "{stages:?}"
    );
    assert!(
        stages[2].starts_with("gzip: ") && stages[2].contains("truncated gzip stream"),
        "{stages:?}"
    );
    assert!(
        stages[3].starts_with("input: ") || stages[3].starts_with("json: "),
        "{stages:?}"
    );
    assert!(
        stages[4].starts_with("size: ") && stages[4].contains("5368709120 bytes"),
        "{stages:?}"
    );
    // The dead letter names the object again: replayed, it is read as before.
    let letters = h.dead_letters().expect("bucket").objects();
    let raw = letters
        .iter()
        .find(|(k, _)| {
            !k.ends_with(".error.json")
                && letters.contains_key(&format!("{k}.error.json"))
                && String::from_utf8_lossy(&letters[&format!("{k}.error.json")].body)
                    .contains("frobnicate")
        })
        .map(|(_, o)| o.body.clone())
        .expect("the flow log's dead letter");
    let n = cwlogs_pipeline::sources::notification::parse(&raw).expect("a notification");
    assert_eq!(n.items[0].objects[0].key, FLOWS);
}

#[tokio::test]
async fn a_changed_object_is_read_at_the_version_named_or_superseded() {
    let h = handler("");
    let v1 = h.objects().put("logs", TRAIL, trail(2));
    let _v2 = h.objects().put("logs", TRAIL, trail(5));
    // Versioned: the version the notification names is read, not the newest.
    let (s, answer) = h.handle_counted(event(&sqs(&[&v1]))).await;
    assert!(failures(&answer).is_empty());
    assert_eq!(s.indexed_events, 2);
    // Unversioned (an ETag only, no longer the object's): superseded, not retried, not a
    // dead letter.
    let stale = ObjectRef {
        version_id: None,
        ..v1
    };
    let (s, answer) = h.handle_counted(event(&sqs(&[&stale]))).await;
    assert!(failures(&answer).is_empty());
    assert_eq!((s.objects_superseded, s.dead_letters), (1, 0));
}

#[tokio::test]
async fn direct_notifications_eventbridge_and_batch_operations() {
    let h = handler("");
    let o = h.objects().put("logs", TRAIL, trail(2));
    // Direct from S3.
    let direct = json!({"Records": [record(&o)]}).to_string();
    match h.handle(event(&direct)).await {
        Ok(Response::Summary(s)) => assert_eq!((s.shape, s.indexed_events), ("s3", 2)),
        other => panic!("{other:?}"),
    }
    // EventBridge, through SQS and directly; a retryable failure fails a direct invocation.
    let eb = json!({"version": "0", "id": "e-1", "detail-type": "Object Created", "source": "aws.s3", "account": "123456789012",
        "region": "eu-west-1", "detail": {"version": "0", "bucket": {"name": "logs"}, "object": {"key": TRAIL, "size": o.size, "etag": o.etag, "version-id": o.version_id}}});
    h.objects().fault([ObjectFault::Fail(GetError {
        kind: GetErrorKind::Retry,
        message: "503".into(),
    })]);
    assert!(h.handle(event(&eb.to_string())).await.is_err());
    match h.handle(event(&eb.to_string())).await {
        Ok(Response::Summary(s)) => assert_eq!((s.shape, s.existing_events), ("eventbridge", 2)),
        other => panic!("{other:?}"),
    }
    // A Batch Operations job: one result per task.
    let job = json!({"invocationSchemaVersion": "2.0", "invocationId": "inv-1", "job": {"id": "job-1", "userArguments": {}},
    "tasks": [
        {"taskId": "t1", "s3BucketName": "logs", "s3Key": cwlogs_pipeline::sources::notification::url_encode(TRAIL), "s3VersionId": o.version_id},
        {"taskId": "t2", "s3BucketName": "logs", "s3Key": "AWSLogs/123456789012/CloudTrail/eu-west-1/2025/11/25/missing.json.gz", "s3VersionId": null},
        {"taskId": "t3", "s3BucketName": "logs", "s3Key": cwlogs_pipeline::sources::notification::url_encode(TRAIL), "s3VersionId": null},
    ]});
    h.objects().fault([
        ObjectFault::BreakAfter(usize::MAX),
        ObjectFault::BreakAfter(usize::MAX),
        ObjectFault::Fail(GetError {
            kind: GetErrorKind::Retry,
            message: "SlowDown".into(),
        }),
    ]);
    let answer = h.handle(event(&job.to_string())).await.expect("answered");
    let json = serde_json::to_value(&answer).expect("json");
    assert_eq!(json["invocationSchemaVersion"], "2.0");
    assert_eq!(json["invocationId"], "inv-1");
    assert_eq!(json["treatMissingKeysAs"], "PermanentFailure");
    let codes: Vec<&str> = json["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| r["resultCode"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(codes, ["Succeeded", "PermanentFailure", "TemporaryFailure"]);
    assert_eq!(json["results"][0]["taskId"], "t1");
    assert_eq!(h.transport().docs().len(), 2, "each record once");
}

#[tokio::test]
async fn documents_the_cluster_refuses_dead_letter_the_object_and_a_bad_message_is_kept() {
    let h = handler("");
    let o = h.objects().put("logs", TRAIL, trail(3));
    h.transport().fault(Fault::Item {
        needle: "\"e1\"".into(),
        n: usize::MAX,
        status: 400,
        kind: "illegal_argument_exception".into(),
    });
    let mut text: Value = serde_json::from_str(&sqs(&[&o])).expect("json");
    text["Records"]
        .as_array_mut()
        .expect("records")
        .push(json!({"messageId": "bad", "eventSource": "aws:sqs", "body": "{\"not\":\"s3\"}"}));
    let (s, answer) = h.handle_counted(event(&text.to_string())).await;
    assert!(failures(&answer).is_empty());
    assert_eq!(
        (s.indexed_events, s.refused_events, s.objects_failed),
        (2, 1, 1)
    );
    let mut stages: Vec<String> = dead_letters(&h)
        .iter()
        .map(|d| d["stage"].as_str().unwrap_or("").to_string())
        .collect();
    stages.sort();
    assert_eq!(stages, ["index", "notification"]);
}

#[tokio::test]
async fn subscription_payloads_still_take_the_old_path() {
    let h = handler("");
    let text = cwlogs_testkit::events::sample("direct/cloudtrail.json");
    match h.handle(event(&text)).await {
        Ok(Response::Summary(s)) => assert!(s.indexed_events > 0 && s.objects == 0, "{s:?}"),
        other => panic!("{other:?}"),
    }
}
