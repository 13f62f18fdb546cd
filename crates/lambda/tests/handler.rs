//! The archive handler as a plain async function, fed `LambdaEvent`s built from the shipped
//! samples in every transport shape, writing to the in-memory archive.

use base64::Engine as _;
use cwlogs_lambda::{Archiver, FirehoseResult, Response};
use cwlogs_pipeline::{
    Class, Config, MemoryArchive, SendError, archive_ndjson, process_batch, process_input,
};
use cwlogs_testkit::events::{sample, samples_dir};
use lambda_runtime::LambdaEvent;
use serde_json::value::RawValue;

fn event(text: &str) -> LambdaEvent<Box<RawValue>> {
    cwlogs_testkit::lambda::invocation(text, "req-1", None)
}

fn config() -> Config {
    Config::builtin(&|k| (k == "AWS_REGION").then(|| "eu-west-1".to_string()))
}

/// The objects `cwlogs replay` would build for the same input: the handler must write exactly
/// these.
fn expected_objects(text: &str) -> Vec<(String, Vec<u8>)> {
    let config = config();
    let out = process_input(&config, "x", "x", text.as_bytes(), |r, b| {
        process_batch(&config, r, b)
    });
    out.records
        .iter()
        .flat_map(|r| &r.outputs)
        .filter_map(|o| o.archive.as_ref())
        .map(|a| (a.key.clone(), a.body.clone()))
        .collect()
}

fn reject(msg: &str) -> SendError {
    SendError {
        class: Class::Reject,
        message: msg.into(),
    }
}

#[tokio::test]
async fn direct_samples_archive_every_event_at_the_replay_keys() {
    for name in [
        "direct/app-json.json",
        "direct/cloudtrail.json",
        "direct/vpc-flow.json",
        "direct/apache-access.json",
        "direct/lambda-runtime.json",
        "direct/account-policy.json",
    ] {
        let text = sample(name);
        let handler = Archiver::new(config(), MemoryArchive::new());
        let Ok(Response::Summary(s)) = handler.handle(event(&text)).await else {
            panic!("{name}: not a summary");
        };
        assert_eq!(s.shape, "direct", "{name}");
        assert!(
            s.events > 0 && s.archived_events == s.events,
            "{name}: {s:?}"
        );
        assert_eq!((s.dead_letters, s.pending_records), (0, 0), "{name}");
        let objects = handler_objects(&handler);
        let want = expected_objects(&text);
        assert_eq!(objects.len(), want.len(), "{name}");
        for (key, body) in want {
            let got = &objects[&key];
            assert_eq!(got.body, body, "{name}: {key}");
            assert_eq!(got.content_type, "application/x-ndjson");
            assert_eq!(got.content_encoding, Some("gzip"));
            assert!(key.starts_with("cwl/account="), "{key}");
        }
    }
}

fn handler_objects(
    h: &Archiver<MemoryArchive>,
) -> std::collections::BTreeMap<String, cwlogs_pipeline::sink::StoredObject> {
    h.archive().objects()
}

#[tokio::test]
async fn invoking_twice_leaves_the_same_objects() {
    let text = sample("direct/app-json.json");
    let handler = Archiver::new(config(), MemoryArchive::new());
    handler.handle(event(&text)).await.expect("first");
    let first = handler_objects(&handler);
    handler.handle(event(&text)).await.expect("second");
    let second = handler_objects(&handler);
    assert_eq!(
        first.keys().collect::<Vec<_>>(),
        second.keys().collect::<Vec<_>>()
    );
    for (k, o) in &second {
        assert_eq!(o.body, first[k].body);
        assert_eq!(o.writes, 2);
    }
}

#[tokio::test]
async fn control_messages_are_skipped_not_archived() {
    let handler = Archiver::new(config(), MemoryArchive::new());
    let Ok(Response::Summary(s)) = handler
        .handle(event(&sample("direct/control-message.json")))
        .await
    else {
        panic!("summary");
    };
    assert_eq!((s.control_messages, s.events), (1, 0));
    assert!(handler.archive().is_empty());
}

#[tokio::test]
async fn kinesis_reports_only_the_records_left_to_retry() {
    let text = sample("kinesis/fanout.json");
    let handler = Archiver::new(config(), MemoryArchive::new());
    let answer = handler.handle(event(&text)).await.expect("answer");
    assert_eq!(
        answer,
        Response::Kinesis {
            batch_item_failures: vec![]
        }
    );
    let want = expected_objects(&text);
    assert_eq!(handler.archive().len(), want.len());

    // Make the objects of one record's log group fail for now: only that record is retried.
    let doc: serde_json::Value = serde_json::from_str(&text).expect("json");
    let seqs: Vec<String> = doc["Records"]
        .as_array()
        .expect("records")
        .iter()
        .map(|r| r["kinesis"]["sequenceNumber"].as_str().expect("seq").into())
        .collect();
    let config = config();
    let per_record = process_input(&config, "x", "x", text.as_bytes(), |r, b| {
        process_batch(&config, r, b)
    });
    let victim_key = per_record.records[1].outputs[0]
        .archive
        .as_ref()
        .expect("object")
        .key
        .clone();
    let archive = MemoryArchive::new();
    archive.fail_keys(
        &victim_key,
        SendError {
            class: Class::Retry,
            message: "503 SlowDown".into(),
        },
    );
    let handler = Archiver::new(config.clone(), archive);
    let Ok(Response::Kinesis {
        batch_item_failures,
    }) = handler.handle(event(&text)).await
    else {
        panic!("kinesis answer");
    };
    let failed: Vec<&str> = batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    // Every record whose objects include the victim key is retried; here that is record 1.
    let expected: Vec<&str> = per_record
        .records
        .iter()
        .zip(&seqs)
        .filter(|(r, _)| {
            r.outputs
                .iter()
                .any(|o| o.archive.as_ref().is_some_and(|a| a.key == victim_key))
        })
        .map(|(_, s)| s.as_str())
        .collect();
    assert_eq!(failed, expected);
    assert!(failed.contains(&seqs[1].as_str()));
}

#[tokio::test]
async fn an_undecodable_kinesis_record_is_dead_lettered_with_its_bytes() {
    let text = sample("broken/kinesis-one-bad-record.json");
    let handler = Archiver::new(config(), MemoryArchive::new());
    let answer = handler.handle(event(&text)).await.expect("answer");
    assert_eq!(
        answer,
        Response::Kinesis {
            batch_item_failures: vec![]
        }
    );
    let objects = handler_objects(&handler);
    let dead: Vec<&String> = objects
        .keys()
        .filter(|k| k.starts_with("dead-letter/dt="))
        .collect();
    assert_eq!(dead.len(), 2, "{dead:?}");
    let raw_key = dead
        .iter()
        .find(|k| !k.ends_with(".error.json"))
        .expect("raw");
    // Named by the record's own bytes (not by its position or the batch, which change when
    // Kinesis redelivers part of a batch): `kinesis-record-<hash>.b64`.
    let doc: serde_json::Value = serde_json::from_str(&text).expect("json");
    let err: serde_json::Value =
        serde_json::from_slice(&objects[&format!("{raw_key}.error.json")].body).expect("json");
    // Records are counted from 1.
    let i = err["record"].as_u64().expect("record number") as usize;
    let bad = doc["Records"][i - 1]["kinesis"]["data"]
        .as_str()
        .expect("data");
    assert_eq!(objects[*raw_key].body, bad.as_bytes());
    let hash = cwlogs_pipeline::util::short_hash(bad.as_bytes());
    assert!(
        raw_key.ends_with(&format!("/kinesis-record-{hash}.b64")),
        "{raw_key}"
    );
    assert_eq!(err["input"], "lambda:req-1");
    assert!(err["error"].as_str().is_some_and(|e| !e.is_empty()));
}

#[tokio::test]
async fn broken_direct_inputs_are_kept_whole() {
    for name in [
        "broken/not-gzip.json",
        "broken/not-base64.json",
        "broken/truncated-gzip.json",
        "broken/gzip-bomb.json.gz",
        "broken/not-json.json",
        "broken/wrong-shape.json",
        "broken/mistyped-fields.json",
    ] {
        let bytes = std::fs::read(samples_dir().join(name)).expect("sample");
        // Events reach Lambda as JSON; a sample that is not JSON is wrapped as a JSON string.
        let text = match serde_json::from_slice::<serde_json::Value>(&bytes) {
            Ok(_) => String::from_utf8(bytes.clone()).expect("utf8"),
            Err(_) => continue,
        };
        let handler = Archiver::new(config(), MemoryArchive::new());
        let Ok(Response::Summary(s)) = handler.handle(event(&text)).await else {
            panic!("{name}: summary");
        };
        assert_eq!(s.dead_letters, 1, "{name}: {s:?}");
        let objects = handler_objects(&handler);
        let raw = objects
            .iter()
            .find(|(k, _)| k.starts_with("dead-letter/") && !k.ends_with(".error.json"))
            .expect("dead letter");
        // The payload exactly as Lambda handed it over (JSON, without trailing whitespace).
        assert_eq!(raw.1.body, text.trim_end().as_bytes(), "{name}");
    }
}

#[tokio::test]
async fn a_refused_object_becomes_a_dead_letter_holding_its_body() {
    let text = sample("direct/app-json.json");
    let archive = MemoryArchive::new();
    archive.fail_keys("cwl/", reject("AccessDenied (HTTP 403)"));
    let handler = Archiver::new(config(), archive);
    let Ok(Response::Summary(s)) = handler.handle(event(&text)).await else {
        panic!("summary");
    };
    let want = expected_objects(&text);
    assert_eq!(s.dead_letters, want.len());
    assert_eq!(s.archived_events, 0);
    let objects = handler_objects(&handler);
    for (key, body) in want {
        let name = cwlogs_pipeline::sink::refused_name(&key);
        let (k, o) = objects
            .iter()
            .find(|(k, _)| k.ends_with(&name))
            .expect("dead letter of the object");
        assert_eq!(o.body, body);
        let err: serde_json::Value =
            serde_json::from_slice(&objects[&format!("{k}.error.json")].body).expect("json");
        assert_eq!(err["stage"], "s3");
        assert!(err["input"].as_str().is_some_and(|i| i.ends_with(&key)));
        assert!(
            err["error"]
                .as_str()
                .is_some_and(|e| e.contains("AccessDenied"))
        );
    }
}

#[tokio::test]
async fn when_nothing_can_be_written_the_trigger_keeps_the_input() {
    // A missing bucket refuses the objects and their dead letters alike.
    let archive = MemoryArchive::new();
    archive.fail_keys("", reject("NoSuchBucket (HTTP 404)"));
    let handler = Archiver::new(config(), archive);
    let err = handler
        .handle(event(&sample("direct/app-json.json")))
        .await
        .expect_err("direct: retry");
    assert!(err.message.contains("NoSuchBucket"), "{err}");
    assert!(
        err.message.contains("dead letter could not be written"),
        "{err}"
    );

    let archive = MemoryArchive::new();
    archive.fail_keys("", reject("NoSuchBucket (HTTP 404)"));
    let handler = Archiver::new(config(), archive);
    let text = sample("kinesis/fanout.json");
    let Ok(Response::Kinesis {
        batch_item_failures,
    }) = handler.handle(event(&text)).await
    else {
        panic!("kinesis");
    };
    // Every record that had something to write is retried (a control-only record has not).
    let config = config();
    let with_objects = process_input(&config, "x", "x", text.as_bytes(), |r, b| {
        process_batch(&config, r, b)
    })
    .records
    .iter()
    .filter(|r| r.outputs.iter().any(|o| o.archive.is_some()))
    .count();
    assert!(with_objects >= 2);
    assert_eq!(batch_item_failures.len(), with_objects);
}

#[tokio::test]
async fn retryable_failures_fail_a_direct_invocation() {
    let archive = MemoryArchive::new();
    archive.fail_keys(
        "cwl/",
        SendError {
            class: Class::Retry,
            message: "no answer before the deadline".into(),
        },
    );
    let handler = Archiver::new(config(), archive);
    let err = handler
        .handle(event(&sample("direct/cloudtrail.json")))
        .await
        .expect_err("retry");
    assert!(err.message.contains("Lambda will retry"), "{err}");
    // Nothing was dead-lettered: a retryable failure is not a reason to give up on the input.
    assert!(handler.archive().is_empty());
}

#[tokio::test]
async fn firehose_gets_the_archive_lines_per_record() {
    let text = sample("firehose/transform.json");
    let handler = Archiver::new(config(), MemoryArchive::new());
    let Ok(Response::Firehose { records }) = handler.handle(event(&text)).await else {
        panic!("firehose answer");
    };
    let doc: serde_json::Value = serde_json::from_str(&text).expect("json");
    let inputs = doc["records"].as_array().expect("records");
    assert_eq!(records.len(), inputs.len());
    let config = config();
    let want = process_input(&config, "x", "x", text.as_bytes(), |r, b| {
        let mut lines = Vec::new();
        archive_ndjson(&config, r, b, &mut lines, &mut Default::default());
        lines
    });
    let b64 = base64::engine::general_purpose::STANDARD;
    for ((got, input), want) in records.iter().zip(inputs).zip(&want.records) {
        assert_eq!(got.record_id, input["recordId"].as_str().expect("id"));
        let lines: Vec<u8> = want.outputs.concat();
        if lines.is_empty() {
            assert_eq!(got.result, FirehoseResult::Dropped);
            assert_eq!(got.data, input["data"].as_str().expect("data"));
        } else {
            assert_eq!(got.result, FirehoseResult::Ok);
            assert_eq!(b64.decode(&got.data).expect("base64"), lines);
        }
    }
    assert!(records.iter().any(|r| r.result == FirehoseResult::Ok));
    // Firehose writes the archive itself: nothing goes to the bucket.
    assert!(handler.archive().is_empty());
}

#[tokio::test]
async fn firehose_marks_undecodable_records_processing_failed() {
    let text = sample("firehose/transform.json");
    let mut doc: serde_json::Value = serde_json::from_str(&text).expect("json");
    doc["records"][0]["data"] = "bm90IGd6aXA=".into();
    let handler = Archiver::new(config(), MemoryArchive::new());
    let Ok(Response::Firehose { records }) = handler.handle(event(&doc.to_string())).await else {
        panic!("firehose answer");
    };
    assert_eq!(records[0].result, FirehoseResult::ProcessingFailed);
    assert_eq!(records[0].data, "bm90IGd6aXA=");
    assert!(
        records[1..]
            .iter()
            .all(|r| r.result != FirehoseResult::ProcessingFailed)
    );
}

#[tokio::test]
async fn a_filtered_archive_drops_what_it_leaves_out() {
    let text = sample("direct/app-json.json");
    let config = Config::from_toml(
        "[archive]\nexclude = '{ $.level = \"DEBUG\" || $.level = \"INFO\" || $.level = \"WARN\" || $.level = \"ERROR\" }'\n",
        &|_| None,
    )
    .expect("config");
    let handler = Archiver::new(config, MemoryArchive::new());
    let Ok(Response::Summary(s)) = handler.handle(event(&text)).await else {
        panic!("summary");
    };
    assert_eq!(s.archived_events + s.filtered_events, s.events, "{s:?}");
    assert!(s.filtered_events > 0, "{s:?}");
}

/// A configuration of `[[rule]]`s alone: an absent `[archive]` means its defaults, so the
/// archive function archives every event at the same keys as with the built-in configuration
/// (the alert function looks at the rules only; the index function indexes, see
/// `index_handler`).
#[tokio::test]
async fn a_configuration_of_rules_alone_still_archives() {
    let rules_only = Config::from_toml(
        "[[rule]]\nname = \"denied\"\npattern = '{ $.errorCode = \"AccessDenied\" }'\nmetric = { namespace = \"Security\", name = \"AccessDenied\" }\n",
        &|k| (k == "AWS_REGION").then(|| "eu-west-1".to_string()),
    )
    .expect("valid");
    let text = sample("direct/cloudtrail.json");
    let handler = Archiver::new(rules_only, MemoryArchive::new());
    let Ok(Response::Summary(s)) = handler.handle(event(&text)).await else {
        panic!("not a summary");
    };
    assert!(s.events > 0 && s.archived_events == s.events, "{s:?}");
    let written: Vec<(String, Vec<u8>)> = handler
        .archive()
        .objects()
        .into_iter()
        .map(|(k, o)| (k, o.body))
        .collect();
    assert_eq!(written, expected_objects(&text));
}

/// Two Kinesis records with identical bytes that cannot be decoded: one dead letter (it is
/// named by its bytes), whose error file lists both records (positions counted from 1, their
/// sequence numbers), counted once; both records are settled.
#[tokio::test]
async fn identical_bad_records_are_one_dead_letter_listing_both() {
    let records: Vec<(String, String)> = [("101", "%%bad%%"), ("102", "%%bad%%")]
        .iter()
        .map(|(s, d)| (s.to_string(), d.to_string()))
        .collect();
    let text = cwlogs_testkit::events::kinesis_event(&records);
    let handler = Archiver::new(config(), MemoryArchive::new());
    let (summary, answer) = handler.handle_counted(event(&text)).await;
    assert_eq!(
        answer.expect("answer"),
        Response::Kinesis {
            batch_item_failures: vec![]
        }
    );
    assert_eq!(summary.dead_letters, 1, "what a reader finds in the bucket");
    let objects = handler_objects(&handler);
    let errors: Vec<&String> = objects
        .keys()
        .filter(|k| k.ends_with(".error.json"))
        .collect();
    assert_eq!(objects.len(), 2, "{:?}", objects.keys());
    let err: serde_json::Value = serde_json::from_slice(&objects[errors[0]].body).expect("json");
    let occurrences: Vec<(u64, &str)> = err["occurrences"]
        .as_array()
        .expect("occurrences")
        .iter()
        .map(|o| {
            (
                o["record"].as_u64().expect("record"),
                o["record_id"].as_str().expect("id"),
            )
        })
        .collect();
    assert_eq!(occurrences, [(1, "101"), (2, "102")]);
    assert_eq!(err["record"], 1);
}
