//! Dead letters that re-drive themselves, on the index function with in-memory sinks: a
//! scheduled `{"cwlogs_redrive": ...}` invocation delivers again the dead letters whose cause
//! can pass, on a backoff schedule, at most `max_attempts` times, deletes those that go
//! through, and leaves the others with their last error.

use cwlogs_lambda::{IndexSummary, Indexer, RedriveCounts, Response};
use cwlogs_pipeline::sink::{Fault, MemoryIndex};
use cwlogs_pipeline::sources::{GetError, GetErrorKind, MemoryObjects, ObjectFault};
use cwlogs_pipeline::{Backoff, Config, MemoryArchive};
use cwlogs_testkit::events::sample;
use cwlogs_testkit::lambda::event;
use serde_json::Value;
use std::io::Write as _;
use std::time::{Duration, SystemTime};

type Handler = Indexer<MemoryIndex, MemoryArchive, MemoryObjects>;

fn handler() -> Handler {
    let config = Config::builtin(&|k| (k == "AWS_REGION").then(|| "eu-west-1".to_string()));
    Indexer::new(config, MemoryIndex::new(), Some(MemoryArchive::new()))
        .expect("index on")
        .with_backoff(Backoff {
            base: Duration::from_millis(1),
            cap: Duration::from_millis(2),
            max_attempts: 3,
        })
        .with_objects(MemoryObjects::new())
}

/// A re-drive run `minutes` after now.
async fn redrive(h: &Handler, minutes: u64, request: &str) -> RedriveCounts {
    let at = SystemTime::now() + Duration::from_secs(minutes * 60);
    match h.handle_counted_at(event(request), at).await.1 {
        Ok(Response::Summary(IndexSummary {
            redrive: Some(c), ..
        })) => c,
        other => panic!("not a re-drive summary: {other:?}"),
    }
}

/// The error files in the bucket.
fn errors(h: &Handler) -> Vec<Value> {
    h.dead_letters()
        .expect("bucket")
        .objects()
        .into_iter()
        .filter(|(k, _)| k.ends_with(".error.json"))
        .map(|(_, o)| serde_json::from_slice(&o.body).expect("json"))
        .collect()
}

const REQUEST: &str = r#"{"cwlogs_redrive": {"max_attempts": 3, "base_minutes": 10}}"#;

#[tokio::test]
async fn refused_documents_are_redriven_on_a_schedule_until_they_pass() {
    let h = handler();
    let text = sample("direct/app-json.json");
    // The cluster refuses the batch's documents (a 400 on each, twice per document).
    h.transport().fault(Fault::Item {
        needle: "\"message\"".into(),
        n: 2,
        status: 400,
        kind: "illegal_argument_exception".into(),
    });
    let (s, _) = h.handle_counted(event(&text)).await;
    assert!(s.refused_events > 0 && s.dead_letters == 1, "{s:?}");
    assert_eq!(errors(&h)[0]["stage"], "index");

    // Attempt 1 fails (the second 400): rescheduled, 10 minutes on.
    let c = redrive(&h, 0, REQUEST).await;
    assert_eq!(
        (c.stored, c.attempted, c.failed, c.delivered),
        (1, 1, 1, 0),
        "{c:?}"
    );
    let e = &errors(&h)[0];
    assert_eq!(e["redrive"]["attempts"], 1);
    assert!(e["first_error"].as_str().is_some_and(|t| !t.is_empty()));
    // Not due yet.
    let c = redrive(&h, 5, REQUEST).await;
    assert_eq!((c.attempted, c.waiting), (0, 1), "{c:?}");
    // Due: now it goes through, and the dead letter is gone.
    let c = redrive(&h, 11, REQUEST).await;
    assert_eq!((c.attempted, c.delivered), (1, 1), "{c:?}");
    assert!(h.dead_letters().expect("bucket").is_empty());
    assert_eq!(h.transport().docs().len(), s.events, "every event once");
}

#[tokio::test]
async fn a_cause_that_never_passes_stops_after_max_attempts_and_undecodable_input_is_left() {
    let h = handler();
    h.transport().fault(Fault::Item {
        needle: "\"message\"".into(),
        n: usize::MAX,
        status: 400,
        kind: "illegal_argument_exception".into(),
    });
    let _ = h
        .handle_counted(event(&sample("direct/app-json.json")))
        .await;
    // An undecodable input: stage `input`, never re-driven.
    let _ = h.handle_counted(event(r#"{"not":"a payload"}"#)).await;
    assert_eq!(errors(&h).len(), 2);
    let mut minutes = 0;
    for attempt in 1..=3 {
        let c = redrive(&h, minutes, REQUEST).await;
        assert_eq!(c.attempted, 1, "attempt {attempt}: {c:?}");
        minutes += 10 << (attempt - 1);
        minutes += 1;
    }
    let c = redrive(&h, minutes + 10_000, REQUEST).await;
    assert_eq!((c.stored, c.attempted), (2, 0), "{c:?}");
    let index = errors(&h)
        .into_iter()
        .find(|e| e["stage"] == "index")
        .expect("kept");
    assert_eq!(index["redrive"]["exhausted"], true);
    assert_eq!(index["redrive"]["attempts"], 3);
}

fn gz(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).expect("gzip");
    e.finish().expect("gzip")
}

#[tokio::test]
async fn an_object_s3_refused_to_read_is_read_again_once_it_may_be() {
    let h = handler();
    let key = "AWSLogs/123456789012/CloudTrail/eu-west-1/2025/11/25/t.json.gz";
    let o = h.objects().put(
        "logs",
        key,
        gz(br#"{"Records":[{"eventVersion":"1.08","eventTime":"2025-11-25T10:00:00Z","eventSource":"iam.amazonaws.com","eventName":"ListUsers"}]}"#),
    );
    h.objects().fault([ObjectFault::Fail(GetError {
        kind: GetErrorKind::Refused,
        message: "AccessDenied: the role lacks s3:GetObject".into(),
    })]);
    let direct = serde_json::json!({"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
        "s3": {"bucket": {"name": "logs"}, "object": {"key": key, "versionId": o.version_id}}}]});
    let (s, _) = h.handle_counted(event(&direct.to_string())).await;
    assert_eq!((s.objects_failed, s.dead_letters), (1, 1));
    assert_eq!(errors(&h)[0]["stage"], "s3-get");
    let c = redrive(&h, 0, REQUEST).await;
    assert_eq!((c.attempted, c.delivered), (1, 1), "{c:?}");
    assert_eq!(h.transport().docs().len(), 1);
    assert!(h.dead_letters().expect("bucket").is_empty());
}
