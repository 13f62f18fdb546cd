//! The index function on S3 objects, end to end under faults: the real `Indexer` reading
//! through the real S3 reader (`S3Source`, the body streamed) from moto and indexing into
//! osmem-server, with fault proxies in front of both (S3 503 storms past the retries, a body cut
//! mid-object, `_bulk` items throttled inside a 200, a cluster answering after the Lambda
//! deadline), dead letters to a bucket. Each test plays SQS (or S3 Batch Operations): it
//! delivers again the messages (tasks) the answer hands back until none is, then reads the
//! index: every record of every object is indexed exactly once (`_count` = distinct `_id`s =
//! the ids of (bucket, key, position) of every record), or its object is a dead letter with a
//! classified error.
//!
//! Run: `scripts/test.sh`, or with moto and osmem-server running and their variables exported,
//! `cargo test -p cwlogs-e2e --features integration -- s3_faults::`.
#![cfg(feature = "integration")]

use crate::common::{moto, region_env};
use cwlogs_aws::{Auth, Credentials, OpenSearchIndex, S3Archive, S3Source, sdk_config_with};
use cwlogs_lambda::{IndexSummary, Indexer, Response, RetryLater};
use cwlogs_pipeline::sources::ObjectRef;
use cwlogs_pipeline::sources::notification::url_encode;
use cwlogs_pipeline::{Backoff, Config, doc_id};
use cwlogs_testkit::lambda::invocation;
use cwlogs_testkit::proxy::{Action, Proxy, Reply};
use cwlogs_testkit::services::{moto_url, plain_opensearch_url, unique};
use opensearch::http::Method;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

const TEST_LIMIT: Duration = Duration::from_secs(90);
const LONG_DEADLINE_MS: u64 = 30_000;
const SHORT_DEADLINE_MS: u64 = 2_000;
const MAX_ROUNDS: usize = 8;

const TRAIL: &str = "AWSLogs/123456789012/CloudTrail/eu-west-1/2025/11/25/123456789012_CloudTrail_eu-west-1_20251125T1000Z_a.json.gz";
const FLOWS: &str = "AWSLogs/123456789012/vpcflowlogs/eu-west-1/2025/11/25/123456789012_vpcflowlogs_eu-west-1_fl-1_20251125T1000Z_h.log.gz";
const ALB: &str = "AWSLogs/123456789012/elasticloadbalancing/eu-west-1/2025/11/25/123456789012_elasticloadbalancing_eu-west-1_app.web.1_20251125T1000Z_10.0.0.1_x.log.gz";
const DIGEST: &str = "AWSLogs/123456789012/CloudTrail-Digest/eu-west-1/2025/11/25/d.json.gz";

fn sdk_at(url: &str) -> aws_config::SdkConfig {
    sdk_config_with(
        url,
        "us-east-1",
        Credentials::new("testing", "testing", None, None, "s3-faults"),
    )
}

fn fast() -> Backoff {
    Backoff {
        base: Duration::from_millis(5),
        cap: Duration::from_millis(20),
        max_attempts: 3,
    }
}

fn gz(data: &[u8]) -> Vec<u8> {
    cwlogs_testkit::events::gzip(data)
}

/// A CloudTrail log file of `n` records (`tag` in each, so that versions differ).
fn trail(n: usize, tag: &str) -> Vec<u8> {
    let records: Vec<String> = (0..n)
        .map(|i| {
            format!(
                r#"{{"eventVersion":"1.08","eventTime":"2025-11-25T10:{:02}:00Z","eventSource":"s3.amazonaws.com","eventName":"GetObject","eventID":"{tag}-{i}","sourceIPAddress":"10.0.{}.{}","requestParameters":{{"bucketName":"b","key":"k{i}"}}}}"#,
                i % 60,
                i / 250 % 250,
                i % 250
            )
        })
        .collect();
    gz(format!(r#"{{"Records":[{}]}}"#, records.join(",")).as_bytes())
}

fn flows(n: usize) -> Vec<u8> {
    let mut text = String::from(
        "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status\n",
    );
    for i in 0..n {
        text.push_str(&format!(
            "2 123456789012 eni-1 10.0.0.{} 10.0.1.2 {} 443 6 10 840 {} 1764064860 ACCEPT OK\n",
            i % 250,
            1024 + i,
            1_764_064_800 + i
        ));
    }
    gz(text.as_bytes())
}

fn alb(n: usize) -> Vec<u8> {
    let mut text = String::new();
    for i in 0..n {
        text.push_str(&format!(
            r#"https 2025-11-25T10:00:{:02}.186641Z app/web/1 192.168.1.{}:2817 10.0.0.1:80 0.086 0.048 0.037 200 200 0 57 "GET https://www.example.com:443/p{i} HTTP/1.1" "curl/8" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 - "Root=1-{i}" "www.example.com" "-" 1 2025-11-25T10:00:00.000000Z "forward" "-" "-" "10.0.0.1:80" "200" "-" "-" TID_{i}"#,
            i % 60,
            i % 250
        ));
        text.push('\n');
    }
    gz(text.as_bytes())
}

/// A source bucket and a dead-letter bucket of their own, indices `{prefix}-...`, and fault
/// proxies in front of the cluster and of moto.
struct Rig {
    prefix: String,
    source: String,
    dead: String,
    os: Proxy,
    s3: Proxy,
    client: aws_sdk_s3::Client,
}

impl Rig {
    async fn new(cluster: &str, tag: &str, versioned: bool) -> Rig {
        let client = moto::s3(&sdk_at(&moto_url()));
        let source = moto::new_bucket(&client, tag).await;
        if versioned {
            client
                .put_bucket_versioning()
                .bucket(&source)
                .versioning_configuration(
                    aws_sdk_s3::types::VersioningConfiguration::builder()
                        .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
                        .build(),
                )
                .send()
                .await
                .expect("versioning");
        }
        Rig {
            prefix: unique(tag),
            dead: moto::new_bucket(&client, &format!("{tag}-dl")).await,
            source,
            os: Proxy::start(cluster).await,
            s3: Proxy::start(&moto_url()).await,
            client,
        }
    }

    /// The index function: cluster and S3 (reads and dead letters) through the proxies,
    /// `_bulk` requests of at most 64 KiB.
    fn indexer(&self) -> Indexer<OpenSearchIndex, S3Archive, S3Source> {
        let toml = format!(
            "[index]\nendpoint = \"{}\"\nauth = \"none\"\ninstall_template = false\nmax_bulk_bytes = 65536\n\
             index = \"{p}-d-{{yyyy.MM.dd}}\"\nquarantine_index = \"{p}-q-{{yyyy.MM.dd}}\"\n\
             [sources.s3]\nindex = \"{p}-s3-{{service}}-{{yyyy.MM.dd}}\"\n\
             [archive]\nbucket = \"{}\"\n",
            self.os.url,
            self.dead,
            p = self.prefix
        );
        let config = Config::from_toml(&toml, &region_env).expect("config");
        let sdk = sdk_at(&self.s3.url);
        Indexer::new(
            config,
            OpenSearchIndex::new(&self.os.url, Auth::None).expect("proxy url"),
            Some(S3Archive::new(&sdk, &self.dead, None).with_backoff(fast())),
        )
        .expect("indexing on")
        .with_backoff(fast())
        .with_objects(S3Source::new(&sdk).with_backoff(fast()))
    }

    /// Writes an object (straight to moto) and returns it as a notification names it.
    async fn put(&self, key: &str, body: Vec<u8>) -> ObjectRef {
        let size = body.len() as u64;
        let out = self
            .client
            .put_object()
            .bucket(&self.source)
            .key(key)
            .body(body.into())
            .send()
            .await
            .expect("put");
        ObjectRef {
            bucket: self.source.clone(),
            key: key.to_string(),
            version_id: out.version_id().map(String::from),
            etag: out.e_tag().map(|e| e.trim_matches('"').to_string()),
            size: Some(size),
        }
    }

    /// `_count` of the S3 indices and the `_id` of every document.
    async fn indexed(&self) -> (u64, Vec<String>) {
        let os = OpenSearchIndex::new(&plain_opensearch_url().expect("checked"), Auth::None)
            .expect("url");
        let pattern = format!("{}-s3-*", self.prefix);
        os.refresh(&pattern).await.expect("refresh");
        let count = os.count(&pattern).await.expect("count");
        let hits = os
            .json(
                Method::Post,
                &format!("{pattern}/_search"),
                Some(&json!({"size": 10_000, "_source": false, "query": {"match_all": {}}})),
            )
            .await
            .expect("search");
        let ids = hits["hits"]["hits"]
            .as_array()
            .expect("hits")
            .iter()
            .map(|h| h["_id"].as_str().expect("_id").to_string())
            .collect();
        (count, ids)
    }

    /// Every record indexed exactly once: `_count` = hits = distinct ids = `expected`.
    async fn indexed_once(&self, what: &str, expected: &BTreeSet<String>) {
        let (count, ids) = self.indexed().await;
        let distinct: BTreeSet<String> = ids.iter().cloned().collect();
        assert_eq!(
            (count as usize, ids.len()),
            (distinct.len(), distinct.len()),
            "{what}: a document indexed twice"
        );
        let lost = expected.difference(&distinct).count();
        let extra = distinct.difference(expected).count();
        assert_eq!(
            (lost, extra),
            (0, 0),
            "{what}: {lost} lost, {extra} never sent"
        );
    }

    /// The error files of the dead-letter bucket: (stage, error).
    async fn dead_letters(&self) -> Vec<(String, String)> {
        let list = self
            .client
            .list_objects_v2()
            .bucket(&self.dead)
            .send()
            .await
            .expect("list");
        let mut out = Vec::new();
        for o in list.contents() {
            let key = o.key().expect("key");
            if !key.ends_with(".error.json") {
                continue;
            }
            let body = self
                .client
                .get_object()
                .bucket(&self.dead)
                .key(key)
                .send()
                .await
                .expect("get")
                .body
                .collect()
                .await
                .expect("body")
                .into_bytes();
            let v: Value = serde_json::from_slice(&body).expect("json");
            out.push((
                v["stage"].as_str().unwrap_or("").to_string(),
                v["error"].as_str().unwrap_or("").to_string(),
            ));
        }
        out.sort();
        out
    }
}

/// The `_id`s of records `positions` of `o`.
fn ids(o: &ObjectRef, positions: impl IntoIterator<Item = usize>) -> BTreeSet<String> {
    positions
        .into_iter()
        .map(|p| doc_id(&o.bucket, &o.key, &p.to_string()))
        .collect()
}

/// An S3 notification's record for `o`.
fn record(o: &ObjectRef) -> Value {
    let mut object =
        json!({"key": url_encode(&o.key), "size": o.size, "eTag": o.etag, "sequencer": "00"});
    if let Some(v) = &o.version_id {
        object["versionId"] = v.clone().into();
    }
    json!({"eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
           "eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": o.bucket}, "object": object}})
}

/// An SQS event carrying `messages` (id, object).
fn sqs_event(messages: &[(String, ObjectRef)]) -> String {
    let records: Vec<Value> = messages
        .iter()
        .map(|(id, o)| {
            json!({"messageId": id, "eventSource": "aws:sqs", "awsRegion": "us-east-1",
                   "body": json!({"Records": [record(o)]}).to_string()})
        })
        .collect();
    json!({"Records": records}).to_string()
}

type Answer = Result<Response<IndexSummary>, RetryLater>;

/// Plays SQS: delivers the messages, then again those in `batchItemFailures`, until none is
/// (at most [`MAX_ROUNDS`]); the first delivery with `first_deadline_ms` of Lambda time left.
/// Returns each round's failures and summary.
async fn drive_sqs(
    h: &Indexer<OpenSearchIndex, S3Archive, S3Source>,
    messages: Vec<(String, ObjectRef)>,
    first_deadline_ms: u64,
) -> Vec<(Vec<String>, IndexSummary)> {
    let mut rounds = Vec::new();
    let mut left = messages;
    let mut deadline = first_deadline_ms;
    while !left.is_empty() {
        assert!(
            rounds.len() < MAX_ROUNDS,
            "the faults never stop: {rounds:?}"
        );
        let text = sqs_event(&left);
        let (summary, answer): (IndexSummary, Answer) = h
            .handle_counted(invocation(
                &text,
                &format!("req-{}", rounds.len()),
                Some(deadline),
            ))
            .await;
        let failed = match answer {
            Ok(Response::Sqs {
                batch_item_failures,
            }) => batch_item_failures
                .into_iter()
                .map(|f| f.item_identifier)
                .collect::<Vec<_>>(),
            other => panic!("not an SQS answer: {other:?}"),
        };
        crate::common::counts::check_index("s3 objects", &summary);
        left.retain(|(id, _)| failed.contains(id));
        rounds.push((failed, summary));
        deadline = LONG_DEADLINE_MS;
    }
    rounds
}

async fn with_cluster(body: impl AsyncFnOnce(&str)) {
    let Some(cluster) = plain_opensearch_url() else {
        return;
    };
    tokio::time::timeout(TEST_LIMIT, body(&cluster))
        .await
        .unwrap_or_else(|_| panic!("the test took longer than {TEST_LIMIT:?}"));
}

fn get_of(key: &'static str) -> impl Fn(&cwlogs_testkit::proxy::Request) -> bool {
    move |r| r.method == "GET" && r.target.contains(&url_encode(key).replace('+', "%20"))
}

/// S3 503 storms longer than the retries on one object, a body cut mid-object on another,
/// `_bulk` items throttled twice each inside 200 answers: the first SQS delivery settles what
/// it can and hands back the two messages whose objects failed; the second finishes them.
/// Every record of every object once; the digest skipped.
#[tokio::test]
async fn sqs_objects_under_get_and_bulk_faults_are_indexed_once() {
    with_cluster(async |cluster| {
        let rig = Rig::new(cluster, "s3f-sqs", false).await;
        let trail_o = rig.put(TRAIL, trail(600, "t")).await;
        let flows_o = rig.put(FLOWS, flows(300)).await;
        let alb_o = rig.put(ALB, alb(200)).await;
        let digest_o = rig.put(DIGEST, gz(b"{}")).await;
        rig.s3.rule(get_of(TRAIL), Action::ForwardThenReset, 1);
        rig.s3.rule(
            get_of(ALB),
            Action::Answer(Reply::s3_error(503, "SlowDown")),
            4,
        );
        let throttled: cwlogs_testkit::proxy::Pick =
            Arc::new(|i, _| (i % 7 == 0).then(|| (429, "es_rejected_execution_exception".into())));
        rig.os
            .rule(|r| r.is_bulk(), Action::BulkItems(throttled), 2);
        let h = rig.indexer();
        let messages = vec![
            ("m0".to_string(), trail_o.clone()),
            ("m1".to_string(), flows_o.clone()),
            ("m2".to_string(), alb_o.clone()),
            ("m3".to_string(), digest_o),
        ];
        let rounds = drive_sqs(&h, messages, LONG_DEADLINE_MS).await;
        let trace: Vec<&Vec<String>> = rounds.iter().map(|(f, _)| f).collect();
        assert_eq!(
            trace,
            [&vec!["m0".to_string(), "m2".to_string()], &vec![]],
            "{rounds:?}"
        );
        assert_eq!(rounds[0].1.objects_skipped, 1);
        assert_eq!(rig.s3.count("forward-then-reset"), 1);
        let mut expected = ids(&trail_o, 0..600);
        expected.extend(ids(&flows_o, 1..301));
        expected.extend(ids(&alb_o, 0..200));
        rig.indexed_once("sqs", &expected).await;
        assert!(rig.dead_letters().await.is_empty());
    })
    .await;
}

/// The cluster answers after the Lambda deadline (its writes land): the object is left for
/// redelivery part-way; the redelivery indexes the rest and finds the first part there.
#[tokio::test]
async fn a_cluster_slower_than_the_deadline_leaves_the_object_part_way_for_redelivery() {
    with_cluster(async |cluster| {
        let rig = Rig::new(cluster, "s3f-slow", false).await;
        let o = rig.put(TRAIL, trail(3000, "s")).await;
        rig.os.rule(
            |r| r.is_bulk(),
            Action::ForwardThenHold(Duration::from_millis(SHORT_DEADLINE_MS * 2)),
            1,
        );
        let h = rig.indexer();
        let rounds = drive_sqs(&h, vec![("m0".into(), o.clone())], SHORT_DEADLINE_MS).await;
        assert_eq!(rounds.len(), 2, "{rounds:?}");
        assert_eq!(rounds[0].0, ["m0"]);
        assert_eq!(rounds[0].1.objects_pending, 1);
        let again = &rounds[1].1;
        assert!(
            again.existing_events > 0,
            "the held writes landed: {again:?}"
        );
        assert_eq!(again.indexed_events + again.existing_events, 3000);
        rig.indexed_once("slow cluster", &ids(&o, 0..3000)).await;
    })
    .await;
}

/// Deleted, changed (unversioned), versioned, truncated, oversized and malformed objects in
/// one SQS batch: nothing to deliver again, each bad one a dead letter with its stage (the
/// changed one superseded, no dead letter), the versioned one read at the version named.
#[tokio::test]
async fn bad_objects_settle_with_classified_errors_and_versions_are_read_as_named() {
    with_cluster(async |cluster| {
        let rig = Rig::new(cluster, "s3f-bad", true).await;
        let v1 = rig.put(TRAIL, trail(2, "v1")).await;
        let _v2 = rig.put(TRAIL, trail(5, "v2")).await;
        let deleted = rig
            .put(&TRAIL.replace("_a.", "_gone."), trail(1, "g"))
            .await;
        rig.client
            .delete_object()
            .bucket(&rig.source)
            .key(&deleted.key)
            .send()
            .await
            .expect("delete");
        let deleted = ObjectRef {
            version_id: None,
            ..deleted
        };
        let full = trail(300, "x");
        let truncated = rig
            .put(
                &TRAIL.replace("_a.", "_cut."),
                full[..full.len() / 2].to_vec(),
            )
            .await;
        let unknown = rig
            .put(FLOWS, gz(b"version srcaddr frobnicate\n2 1.2.3.4 x\n"))
            .await;
        let not_array = rig
            .put(
                &TRAIL.replace("_a.", "_obj."),
                gz(br#"{"Records":{"eventVersion":"1.08"}}"#),
            )
            .await;
        let mut huge = rig
            .put(&TRAIL.replace("_a.", "_huge."), trail(1, "h"))
            .await;
        huge.size = Some(5 << 30);
        let h = rig.indexer();
        let truncated_o = truncated.clone();
        let messages: Vec<(String, ObjectRef)> =
            [v1.clone(), deleted, truncated, unknown, not_array, huge]
                .into_iter()
                .enumerate()
                .map(|(i, o)| (format!("m{i}"), o))
                .collect();
        let rounds = drive_sqs(&h, messages, LONG_DEADLINE_MS).await;
        assert_eq!(rounds.len(), 1, "nothing is handed back: {rounds:?}");
        let s = &rounds[0].1;
        assert_eq!((s.objects_done, s.objects_failed), (1, 5), "{s:?}");
        let stages: Vec<String> = rig
            .dead_letters()
            .await
            .into_iter()
            .map(|(stage, _)| stage)
            .collect();
        assert_eq!(stages, ["format", "format", "gzip", "s3-gone", "size"]);
        // Version 1's two records, not version 2's five; and the records of the truncated
        // object before the break (read as a stream: they are in, the object is a dead letter,
        // and a second read would find them there).
        let before_the_break = s.indexed_events - 2;
        assert!(before_the_break > 0 && before_the_break < 300, "{s:?}");
        let mut expected = ids(&v1, 0..2);
        expected.extend(ids(&truncated_o, 0..before_the_break));
        rig.indexed_once("versions", &expected).await;

        // Unversioned: the notification's ETag is no longer the object's.
        let plain = Rig::new(cluster, "s3f-etag", false).await;
        let old = plain.put(TRAIL, trail(2, "old")).await;
        let _new = plain.put(TRAIL, trail(3, "new")).await;
        let h = plain.indexer();
        let rounds = drive_sqs(&h, vec![("m0".into(), old)], LONG_DEADLINE_MS).await;
        assert_eq!(rounds[0].1.objects_superseded, 1);
        assert!(plain.dead_letters().await.is_empty());
        plain.indexed_once("superseded", &BTreeSet::new()).await;
    })
    .await;
}

/// An S3 Batch Operations job (invocation schema 2.0): a task whose object S3 keeps throttling
/// answers TemporaryFailure, a missing key PermanentFailure; Batch Operations runs the
/// temporary ones again, and they succeed. Every record once.
#[tokio::test]
async fn batch_operations_tasks_answer_per_task_and_retried_tasks_index_once() {
    with_cluster(async |cluster| {
        let rig = Rig::new(cluster, "s3f-batch", false).await;
        let trail_o = rig.put(TRAIL, trail(400, "b")).await;
        let flows_o = rig.put(FLOWS, flows(100)).await;
        rig.s3.rule(get_of(FLOWS), Action::Answer(Reply::s3_error(503, "SlowDown")), 3);
        let task = |id: &str, key: &str| {
            json!({"taskId": id, "s3BucketName": rig.source, "s3Key": url_encode(key), "s3VersionId": null})
        };
        let job = |tasks: Vec<Value>| {
            json!({"invocationSchemaVersion": "2.0", "invocationId": "inv", "job": {"id": "job-1", "userArguments": {}}, "tasks": tasks})
                .to_string()
        };
        let h = rig.indexer();
        let first = job(vec![
            task("t1", TRAIL),
            task("t2", FLOWS),
            task("t3", "AWSLogs/123456789012/CloudTrail/eu-west-1/2025/11/25/missing.json.gz"),
        ]);
        let answer = h
            .handle(invocation(&first, "req-1", Some(LONG_DEADLINE_MS)))
            .await
            .expect("answered");
        let json = serde_json::to_value(&answer).expect("json");
        let codes: Vec<&str> = json["results"]
            .as_array()
            .expect("results")
            .iter()
            .map(|r| r["resultCode"].as_str().unwrap_or(""))
            .collect();
        assert_eq!(codes, ["Succeeded", "TemporaryFailure", "PermanentFailure"], "{json}");
        let again = h
            .handle(invocation(&job(vec![task("t2", FLOWS)]), "req-2", Some(LONG_DEADLINE_MS)))
            .await
            .expect("answered");
        let json = serde_json::to_value(&again).expect("json");
        assert_eq!(json["results"][0]["resultCode"], "Succeeded", "{json}");
        let mut expected = ids(&trail_o, 0..400);
        expected.extend(ids(&flows_o, 1..101));
        rig.indexed_once("batch", &expected).await;
    })
    .await;
}

/// S3 refuses to read an object (403, as a missing `s3:GetObject` or a KMS key policy
/// would): a dead letter, `s3-get`. Once the cause is fixed, the scheduled re-drive reads the
/// object again through the same dead letter (listed, read and deleted in moto), indexes
/// every record once, and the bucket holds no dead letter any more.
#[tokio::test]
async fn an_object_s3_refused_to_read_is_redriven_once_the_cause_is_fixed() {
    with_cluster(async |cluster| {
        let rig = Rig::new(cluster, "s3f-redrive", false).await;
        let o = rig.put(TRAIL, trail(250, "r")).await;
        rig.s3.rule(
            get_of(TRAIL),
            Action::Answer(Reply::s3_error(403, "AccessDenied")),
            usize::MAX,
        );
        let h = rig.indexer();
        let rounds = drive_sqs(&h, vec![("m0".into(), o.clone())], LONG_DEADLINE_MS).await;
        assert_eq!(rounds.len(), 1, "refused: not handed back: {rounds:?}");
        let stages: Vec<String> = rig.dead_letters().await.into_iter().map(|d| d.0).collect();
        assert_eq!(stages, ["s3-get"]);
        // The schedule runs while the cause is still there: rescheduled.
        let redrive = r#"{"cwlogs_redrive": {"base_minutes": 1}}"#;
        let (s, _) = h
            .handle_counted(invocation(redrive, "sched-1", Some(LONG_DEADLINE_MS)))
            .await;
        let c = s.redrive.expect("a re-drive run");
        assert_eq!((c.stored, c.attempted, c.failed), (1, 1, 1), "{c:?}");
        // Fixed; the next run (after the backoff) delivers it.
        rig.s3.heal();
        let later = std::time::SystemTime::now() + Duration::from_secs(120);
        let (s, _) = h
            .handle_counted_at(
                invocation(redrive, "sched-2", Some(LONG_DEADLINE_MS + 120_000)),
                later,
            )
            .await;
        let c = s.redrive.expect("a re-drive run");
        assert_eq!((c.attempted, c.delivered), (1, 1), "{c:?}");
        assert!(rig.dead_letters().await.is_empty());
        rig.indexed_once("redrive", &ids(&o, 0..250)).await;
    })
    .await;
}
