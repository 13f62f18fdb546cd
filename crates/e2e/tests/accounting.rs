//! The accounting invariant of every handler, under injected faults: each event of a decoded
//! batch ends delivered, filtered out on purpose, dead-lettered, or handed back to the trigger
//! for retry, and the counts of the summary add up to the events in. Undecodable records,
//! whose events cannot be counted, are dead letters (or pending records) of their own.
//!
//! The summaries come from `handle_counted`, which returns them whatever the trigger's answer
//! (a Kinesis or Firehose answer, or a `RetryLater`, does not carry them).

use crate::common;

use common::counts::{check_alert, check_archive, check_index};
use common::sample;
use cwlogs_lambda::{Alerter, Archiver, Indexer, Response};
use cwlogs_pipeline::sink::{Fault, MemoryIndex};
use cwlogs_pipeline::{
    Backoff, Class, Config, MemoryArchive, MemoryPublisher, MemoryStateStore, SendError,
    process_batch, process_input,
};
use lambda_runtime::LambdaEvent;
use serde_json::value::RawValue;
use std::time::Duration;

/// An invocation with `deadline_ms` of Lambda time left.
fn event_with_deadline(text: &str, deadline_ms: u64) -> LambdaEvent<Box<RawValue>> {
    common::invocation(text, "req-acct", Some(deadline_ms))
}

fn event(text: &str) -> LambdaEvent<Box<RawValue>> {
    event_with_deadline(text, 60_000)
}

fn builtin() -> Config {
    Config::builtin(&|k| (k == "AWS_REGION").then(|| "eu-west-1".to_string()))
}

fn retry(msg: &str) -> SendError {
    SendError {
        class: Class::Retry,
        message: msg.into(),
    }
}

fn reject(msg: &str) -> SendError {
    SendError {
        class: Class::Reject,
        message: msg.into(),
    }
}

/// The archive keys `process_input` builds for `text`, per record.
fn keys_per_record(config: &Config, text: &str) -> Vec<Vec<String>> {
    let out = process_input(config, "x", "x", text.as_bytes(), |r, b| {
        process_batch(config, r, b)
    });
    out.records
        .iter()
        .map(|r| {
            r.outputs
                .iter()
                .filter_map(|o| o.archive.as_ref().map(|a| a.key.clone()))
                .collect()
        })
        .collect()
}

// ---------------------------------------------------------------- archive

#[tokio::test]
async fn archive_counts_add_up_on_clean_and_broken_inputs() {
    for name in [
        "direct/app-json.json",
        "direct/cloudtrail.json",
        "direct/control-message.json",
        "kinesis/fanout.json",
        "broken/kinesis-one-bad-record.json",
        "broken/not-gzip.json",
        "broken/empty-log-events.json",
        "firehose/transform.json",
    ] {
        let h = Archiver::new(builtin(), MemoryArchive::new());
        let (s, answer) = h.handle_counted(event(&sample(name))).await;
        assert!(answer.is_ok(), "{name}: {answer:?}");
        check_archive(name, &s);
        assert_eq!(s.pending_events, 0, "{name}");
    }
}

#[tokio::test]
async fn archive_counts_add_up_when_one_object_keeps_failing() {
    let config = builtin();
    let text = sample("kinesis/fanout.json");
    let keys = keys_per_record(&config, &text);
    let victim = keys[1][0].clone();
    let archive = MemoryArchive::new();
    archive.fail_keys(&victim, retry("503 SlowDown"));
    let h = Archiver::new(config, archive);
    let (s, answer) = h.handle_counted(event(&text)).await;
    let Ok(Response::Kinesis {
        batch_item_failures,
    }) = answer
    else {
        panic!("kinesis answer: {answer:?}");
    };
    check_archive("one object failing", &s);
    assert!(s.pending_events > 0, "{s:?}");
    assert_eq!(batch_item_failures.len(), s.pending_records);
    assert_eq!(s.pending_records, 1);
}

#[tokio::test]
async fn archive_counts_add_up_when_objects_are_refused() {
    let archive = MemoryArchive::new();
    archive.fail_keys("cwl/", reject("AccessDenied (HTTP 403)"));
    let h = Archiver::new(builtin(), archive);
    let (s, answer) = h
        .handle_counted(event(&sample("kinesis/fanout.json")))
        .await;
    assert!(answer.is_ok());
    check_archive("refused", &s);
    assert_eq!(s.dead_lettered_events, s.events);
    assert_eq!((s.archived_events, s.pending_events), (0, 0));
}

#[tokio::test]
async fn archive_counts_add_up_when_nothing_can_be_written() {
    let archive = MemoryArchive::new();
    archive.fail_keys("", reject("NoSuchBucket (HTTP 404)"));
    let h = Archiver::new(builtin(), archive);
    let (s, answer) = h
        .handle_counted(event(&sample("direct/app-json.json")))
        .await;
    assert!(answer.is_err(), "the invocation is retried");
    check_archive("no bucket", &s);
    assert_eq!(s.pending_events, s.events);
}

#[tokio::test]
async fn archive_counts_add_up_with_a_filter() {
    let config = Config::from_toml(
        "[archive]\nexclude = '{ $.level = \"DEBUG\" || $.level = \"INFO\" }'\n",
        &|_| None,
    )
    .expect("config");
    for name in ["direct/app-json.json", "firehose/transform.json"] {
        let h = Archiver::new(config.clone(), MemoryArchive::new());
        let (s, _) = h.handle_counted(event(&sample(name))).await;
        check_archive(name, &s);
    }
}

// ---------------------------------------------------------------- index

fn indexer(config: Config) -> Indexer<MemoryIndex, MemoryArchive> {
    Indexer::new(config, MemoryIndex::new(), Some(MemoryArchive::new()))
        .expect("indexing is on")
        .with_backoff(Backoff {
            base: Duration::from_millis(1),
            cap: Duration::from_millis(2),
            max_attempts: 3,
        })
}

/// The `_id`s the cluster holds after a clean run of `text`.
async fn ids_of(text: &str) -> Vec<String> {
    let h = indexer(builtin());
    let (_, answer) = h.handle_counted(event(text)).await;
    assert!(answer.is_ok());
    h.transport().docs().into_keys().map(|(_, id)| id).collect()
}

#[tokio::test]
async fn index_counts_add_up_on_clean_broken_and_repeated_inputs() {
    for name in [
        "direct/app-json.json",
        "kinesis/fanout.json",
        "broken/kinesis-one-bad-record.json",
        "broken/not-gzip.json",
        "firehose/transform.json",
    ] {
        let h = indexer(builtin());
        let text = sample(name);
        let (s, answer) = h.handle_counted(event(&text)).await;
        assert!(answer.is_ok(), "{name}");
        check_index(name, &s);
        // The redelivery: everything already there, still adding up.
        let (again, _) = h.handle_counted(event(&text)).await;
        check_index(name, &again);
        assert_eq!(again.existing_events, s.indexed_events, "{name}");
    }
}

#[tokio::test]
async fn index_counts_add_up_under_item_faults() {
    let text = sample("kinesis/fanout.json");
    let ids = ids_of(&text).await;
    assert!(ids.len() >= 4, "{ids:?}");
    let h = indexer(builtin());
    // One document refused for good, one throttled past the attempts, one mapping conflict
    // (quarantined), one throttled twice (then indexed).
    let faults = [
        (0, usize::MAX, 403, "cluster_block_exception"),
        (1, usize::MAX, 429, "es_rejected_execution_exception"),
        (2, 1, 400, "mapper_parsing_exception"),
        (3, 2, 429, "es_rejected_execution_exception"),
    ];
    for (i, n, status, kind) in faults {
        h.transport().fault(Fault::Item {
            needle: ids[i].clone(),
            n,
            status,
            kind: kind.into(),
        });
    }
    let (s, answer) = h.handle_counted(event(&text)).await;
    let Ok(Response::Kinesis {
        batch_item_failures,
    }) = answer
    else {
        panic!("kinesis answer: {answer:?}");
    };
    check_index("item faults", &s);
    assert!(s.pending_events >= 1, "{s:?}");
    assert!(s.refused_events + s.pending_events + s.quarantined_events >= 2);
    assert_eq!(batch_item_failures.len(), s.pending_records);
    // Never twice: each id at most once in the cluster (quarantine uses the same id).
    let docs = h.transport().docs();
    let mut seen: Vec<&String> = docs.keys().map(|(_, id)| id).collect();
    let total = seen.len();
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), total);
}

#[tokio::test]
async fn index_counts_add_up_when_the_cluster_fails_to_the_deadline() {
    let h = indexer(builtin()).with_backoff(Backoff {
        base: Duration::from_millis(20),
        cap: Duration::from_millis(50),
        max_attempts: u32::MAX,
    });
    h.transport().fault(Fault::Request {
        n: usize::MAX,
        status: 503,
        body: "Service Unavailable".into(),
    });
    let text = sample("kinesis/fanout.json");
    // Little time left: retries stop at the deadline, the records go back to Kinesis.
    let (s, answer) = h.handle_counted(event_with_deadline(&text, 1_500)).await;
    let Ok(Response::Kinesis {
        batch_item_failures,
    }) = answer
    else {
        panic!("kinesis answer: {answer:?}");
    };
    check_index("503 to the deadline", &s);
    assert_eq!(s.pending_events, s.events - s.filtered_events);
    assert_eq!(batch_item_failures.len(), 2, "both data records");

    let h = indexer(builtin());
    h.transport().fault(Fault::Request {
        n: usize::MAX,
        status: 429,
        body: "Too Many Requests".into(),
    });
    let (s, answer) = h
        .handle_counted(event_with_deadline(&sample("direct/app-json.json"), 1_500))
        .await;
    assert!(answer.is_err(), "a direct invocation is retried by Lambda");
    check_index("429 to the deadline", &s);
    assert_eq!(s.pending_events, s.events);
}

#[tokio::test]
async fn index_counts_add_up_with_a_filter() {
    let config = Config::from_toml(
        "[index]\nexclude = '{ $.level = \"DEBUG\" || $.level = \"INFO\" }'\n",
        &|k| (k == "AWS_REGION").then(|| "eu-west-1".to_string()),
    )
    .expect("config");
    let h = indexer(config);
    let (s, _) = h
        .handle_counted(event(&sample("direct/app-json.json")))
        .await;
    check_index("filtered", &s);
    assert!(s.filtered_events > 0, "{s:?}");
}

// ---------------------------------------------------------------- alert

const TOPIC: &str = "arn:aws:sns:eu-west-1:123456789012:security";

fn alert_config(own_log_group: Option<&str>) -> Config {
    let text = common::alert_rules(TOPIC, "1m");
    let own = own_log_group.map(String::from);
    let env = move |k: &str| match k {
        "AWS_REGION" => Some("eu-west-1".to_string()),
        "AWS_LAMBDA_LOG_GROUP_NAME" => own.clone(),
        _ => None,
    };
    Config::from_toml(&text, &env).expect("config")
}

fn alerter(config: Config) -> Alerter<MemoryStateStore, MemoryPublisher, MemoryArchive> {
    Alerter::new(
        config,
        MemoryStateStore::new(),
        MemoryPublisher::new(),
        Some(MemoryArchive::new()),
    )
    .with_metrics_out(Box::new(|_| {}))
}

#[tokio::test]
async fn alert_counts_add_up_on_clean_and_broken_inputs() {
    for name in [
        "direct/cloudtrail.json",
        "kinesis/fanout.json",
        "broken/kinesis-one-bad-record.json",
        "broken/not-gzip.json",
        "firehose/transform.json",
    ] {
        let h = alerter(alert_config(None));
        let (s, answer) = h.handle_counted(event(&sample(name))).await;
        assert!(answer.is_ok(), "{name}: {answer:?}");
        check_alert(name, &s);
        assert_eq!(s.pending_events, 0, "{name}");
    }
    let h = alerter(alert_config(Some("aws-cloudtrail-logs-123456789012")));
    let (s, _) = h
        .handle_counted(event(&sample("direct/cloudtrail.json")))
        .await;
    check_alert("own log group", &s);
    assert_eq!(s.rules.own_log_group_events as usize, s.events);
}

#[tokio::test]
async fn alert_counts_add_up_when_publishing_fails() {
    // Throttled to the end: the records with unsent alerts are handed back.
    for name in ["direct/cloudtrail.json", "kinesis/fanout.json"] {
        let h = alerter(alert_config(None));
        h.publisher()
            .fail_containing("intruder", retry("SNS Publish: Throttling (HTTP 400)"));
        let (s, answer) = h.handle_counted(event(&sample(name))).await;
        check_alert(name, &s);
        assert!(
            s.pending_events > 0 && s.pending_records == 1,
            "{name}: {s:?}"
        );
        match answer {
            Err(_) => assert!(name.starts_with("direct/")),
            Ok(Response::Kinesis {
                batch_item_failures,
            }) => assert_eq!(batch_item_failures.len(), 1),
            other => panic!("{name}: {other:?}"),
        }
    }
    // Refused for good: dead letters, nothing handed back.
    let h = alerter(alert_config(None));
    h.publisher().fail_containing(
        "intruder",
        reject("SNS Publish: AuthorizationError (HTTP 403)"),
    );
    let (s, answer) = h
        .handle_counted(event(&sample("direct/cloudtrail.json")))
        .await;
    assert!(answer.is_ok());
    check_alert("refused", &s);
    assert_eq!(s.pending_events, 0);
    assert!(s.dead_letters > 0, "{s:?}");
}

/// The self-metrics of a real invocation: one document for the function, then one per sink
/// and log group with the group's counts and the delivery lag of its oldest event.
#[tokio::test]
async fn self_metrics_name_each_log_group_with_its_delivery_lag() {
    let text = sample("kinesis/fanout.json");
    let h = Archiver::new(builtin(), MemoryArchive::new());
    let (s, answer) = h.handle_counted(event(&text)).await;
    assert!(answer.is_ok(), "{answer:?}");
    // The oldest event of each log group, read from the input itself.
    let mut oldest: std::collections::BTreeMap<String, i64> = Default::default();
    process_input(&builtin(), "t", "t", text.as_bytes(), |_, batch| {
        for e in &batch.log_events {
            let t = oldest
                .entry(batch.log_group.to_string())
                .or_insert(e.timestamp);
            *t = (*t).min(e.timestamp);
        }
    });
    assert!(
        oldest.len() > 1,
        "the sample should hold several log groups"
    );

    let now = 1_900_000_000_000;
    let lines = cwlogs_lambda::self_metrics_lines(
        "cwlogs-archive",
        now,
        cwlogs_lambda::SelfMetricsDetail::LogGroup,
        &[("EventsIn", s.events as u64)],
        &s.groups,
    );
    assert_eq!(lines.len(), 1 + oldest.len(), "{lines:#?}");
    let docs: Vec<serde_json::Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).expect("an EMF document"))
        .collect();
    assert_eq!(docs[0]["EventsIn"], s.events as u64);
    for doc in &docs[1..] {
        let group = doc["LogGroup"].as_str().expect("a log group");
        assert_eq!(doc["Sink"], "archive");
        assert_eq!(doc["DeliveryLag"], now - oldest[group], "{group}");
        assert_eq!(doc["EventsIn"], doc["EventsDelivered"], "{group}");
    }
    let off = cwlogs_lambda::SelfMetricsDetail::Off;
    assert!(cwlogs_lambda::self_metrics_lines("f", now, off, &[], &s.groups).is_empty());
}
