//! The index handler as a plain async function, fed `LambdaEvent`s built from the shipped
//! samples, sending to the in-memory cluster (`MemoryIndex`, which answers `_bulk` as a real
//! cluster does: 201, then 409 for the same `_id`) with scripted faults, and dead-lettering to
//! the in-memory archive. The same paths against a real server: `cwlogs-e2e`'s `opensearch`.

use cwlogs_lambda::{FirehoseResult, IndexSummary, Indexer, Response};
use cwlogs_pipeline::sink::{Fault, MemoryIndex};
use cwlogs_pipeline::{Backoff, Config, MemoryArchive};
use cwlogs_testkit::events::sample;
use cwlogs_testkit::lambda::event;
use std::time::Duration;

fn indexer(dead_letters: bool) -> Indexer<MemoryIndex, MemoryArchive> {
    let config = Config::builtin(&|k| (k == "AWS_REGION").then(|| "eu-west-1".to_string()));
    Indexer::new(
        config,
        MemoryIndex::new(),
        dead_letters.then(MemoryArchive::new),
    )
    .expect("indexing is on in the built-in config")
    .with_backoff(Backoff {
        base: Duration::from_millis(1),
        cap: Duration::from_millis(2),
        max_attempts: 3,
    })
}

async fn summary(h: &Indexer<MemoryIndex, MemoryArchive>, text: &str) -> IndexSummary {
    match h.handle(event(text)).await {
        Ok(Response::Summary(s)) => s,
        other => panic!("not a summary: {other:?}"),
    }
}

#[tokio::test]
async fn every_event_is_indexed_once_however_often_it_comes() {
    for name in [
        "direct/app-json.json",
        "direct/cloudtrail.json",
        "direct/vpc-flow.json",
        "direct/lambda-runtime.json",
    ] {
        let text = sample(name);
        let h = indexer(true);
        let s = summary(&h, &text).await;
        assert!(
            s.events > 0 && s.indexed_events == s.events,
            "{name}: {s:?}"
        );
        assert_eq!(h.transport().docs().len(), s.events, "{name}");
        let again = summary(&h, &text).await;
        assert_eq!(
            (again.indexed_events, again.existing_events),
            (0, s.events),
            "{name}"
        );
        assert_eq!(
            h.transport().docs().len(),
            s.events,
            "{name}: no duplicates"
        );
    }
}

#[tokio::test]
async fn throttled_documents_are_retried_until_indexed() {
    let h = indexer(true);
    h.transport().fault(Fault::Item {
        needle: "\"message\"".into(),
        n: 2,
        status: 429,
        kind: "es_rejected_execution_exception".into(),
    });
    let s = summary(&h, &sample("direct/app-json.json")).await;
    assert_eq!(s.indexed_events, s.events);
    assert_eq!(s.retried_events, s.events * 2);
    assert_eq!(s.requests, 3);
}

#[tokio::test]
async fn mapping_conflicts_land_in_quarantine() {
    let h = indexer(true);
    // Every document of the sample refused for its mapping, once per id (so the quarantine
    // document, under the same id, is taken).
    h.transport().fault(Fault::Item {
        needle: "\"message\"".into(),
        n: 1,
        status: 400,
        kind: "mapper_parsing_exception".into(),
    });
    let text = sample("direct/app-json.json");
    let s = summary(&h, &text).await;
    assert_eq!(s.quarantined_events, s.events, "{s:?}");
    let docs = h.transport().docs();
    let quarantined: Vec<_> = docs
        .iter()
        .filter(|((index, _), _)| index.starts_with("cwl-quarantine-"))
        .collect();
    assert_eq!(quarantined.len(), s.events);
    let (_, doc) = quarantined[0];
    let doc: serde_json::Value = serde_json::from_slice(&doc.source).expect("json");
    assert_eq!(doc["error"]["type"], "mapper_parsing_exception");
    assert!(
        doc["event"]["original"]
            .as_str()
            .is_some_and(|o| o.contains("@timestamp"))
    );
    assert_eq!(s.dead_letters, 0);
}

#[tokio::test]
async fn refused_records_are_dead_lettered_whole_and_replay_cleanly() {
    let h = indexer(true);
    h.transport().fault(Fault::Item {
        needle: "\"message\"".into(),
        n: 1,
        status: 403,
        kind: "cluster_block_exception".into(),
    });
    let text = sample("kinesis/fanout.json");
    let Ok(Response::Kinesis {
        batch_item_failures,
    }) = h.handle(event(&text)).await
    else {
        panic!("kinesis answer")
    };
    assert!(batch_item_failures.is_empty(), "dead-lettered, not retried");
    let letters = h_dead_letters(&h);
    let raw: Vec<_> = letters
        .iter()
        .filter(|k| !k.ends_with(".error.json"))
        .collect();
    // Two data records; the third is a control message, with nothing to index.
    assert_eq!(raw.len(), 2, "{letters:?}");
    assert!(
        raw.iter()
            .all(|k| k.contains("/kinesis-index.record-") && k.ends_with(".b64"))
    );
    // The block is gone (one refusal each): the same input now indexes everything.
    let Ok(Response::Kinesis {
        batch_item_failures,
    }) = h.handle(event(&text)).await
    else {
        panic!("kinesis answer")
    };
    assert!(batch_item_failures.is_empty());
}

fn h_dead_letters(h: &Indexer<MemoryIndex, MemoryArchive>) -> Vec<String> {
    h.dead_letters()
        .map(|a| a.objects().into_keys().collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn without_a_dead_letter_bucket_refused_records_stay_with_the_trigger() {
    let h = indexer(false);
    h.transport().fault(Fault::Item {
        needle: "\"message\"".into(),
        n: usize::MAX,
        status: 404,
        kind: "index_not_found_exception".into(),
    });
    let e = h
        .handle(event(&sample("direct/app-json.json")))
        .await
        .expect_err("kept for redelivery");
    assert!(e.message.contains("no dead-letter bucket"), "{e}");
}

#[tokio::test]
async fn a_credentials_problem_keeps_every_record() {
    let h = indexer(true);
    h.transport().fault(Fault::Request {
        n: 1,
        status: 403,
        body: r#"{"message":"The security token included in the request is invalid"}"#.into(),
    });
    let text = sample("kinesis/fanout.json");
    let Ok(Response::Kinesis {
        batch_item_failures,
    }) = h.handle(event(&text)).await
    else {
        panic!("kinesis answer")
    };
    // Both data records; the control message has nothing to index and is settled.
    assert_eq!(batch_item_failures.len(), 2);
    assert_eq!(h.transport().requests(), 1, "stopped at the first 403");
}

#[tokio::test]
async fn firehose_records_pass_through_once_indexed() {
    let h = indexer(true);
    let text = sample("firehose/transform.json");
    let Ok(Response::Firehose { records }) = h.handle(event(&text)).await else {
        panic!("firehose answer")
    };
    assert!(!records.is_empty());
    assert!(records.iter().all(|r| r.result == FirehoseResult::Ok));
    assert!(!h.transport().docs().is_empty());
}

#[tokio::test]
async fn undecodable_input_is_dead_lettered() {
    let h = indexer(true);
    let s = summary(&h, &sample("broken/not-gzip.json")).await;
    assert_eq!(s.dead_letters, 1);
    assert_eq!(h.transport().requests(), 0);
}

/// A configuration of `[[rule]]`s alone: an absent `[index]` means its defaults, so the index
/// function indexes every event (it had no `[index]` to run before).
#[tokio::test]
async fn a_configuration_of_rules_alone_still_indexes() {
    let rules_only = Config::from_toml(
        "[[rule]]\nname = \"denied\"\npattern = '{ $.errorCode = \"AccessDenied\" }'\nmetric = { namespace = \"Security\", name = \"AccessDenied\" }\n",
        &|_| None,
    )
    .expect("valid");
    let h = Indexer::new(rules_only, MemoryIndex::new(), Some(MemoryArchive::new()))
        .expect("indexing is on: the section's defaults");
    let s = summary(&h, &sample("direct/cloudtrail.json")).await;
    assert!(s.events > 0 && s.indexed_events == s.events, "{s:?}");
}

#[tokio::test]
async fn with_patterns_documents_carry_their_pattern_id() {
    let config = Config::from_toml("[patterns]\nenabled = true\n", &|k| {
        (k == "AWS_REGION").then(|| "eu-west-1".to_string())
    })
    .expect("config");
    let h = Indexer::new(config, MemoryIndex::new(), Some(MemoryArchive::new())).expect("index");
    let text = sample("direct/app-json.json");
    let s = summary(&h, &text).await;
    assert!(s.events > 0 && s.indexed_events == s.events, "{s:?}");
    let ids = |h: &Indexer<MemoryIndex, MemoryArchive>| -> Vec<String> {
        h.transport()
            .docs()
            .values()
            .map(|d| {
                let doc: serde_json::Value = serde_json::from_slice(&d.source).expect("json");
                doc["cwlogs"]["pattern"]["id"]
                    .as_str()
                    .expect("a pattern id")
                    .to_string()
            })
            .collect()
    };
    let first = ids(&h);
    assert_eq!(first.len(), s.events);
    assert!(first.iter().all(|id| id.len() == 16));
    // Without [patterns], no id.
    let plain = indexer(true);
    summary(&plain, &text).await;
    for d in plain.transport().docs().values() {
        let doc: serde_json::Value = serde_json::from_slice(&d.source).expect("json");
        assert!(doc["cwlogs"].get("pattern").is_none(), "{doc}");
    }
}
