//! End to end under faults: the real handlers (`Archiver`, `Indexer`, `Alerter`) with the real
//! sinks (`S3Archive`, `OpenSearchIndex`, `SnsPublisher`, `DynamoStateStore`) against the real
//! services (moto for S3, SNS, SQS and DynamoDB; osmem-server for OpenSearch, both started by
//! `scripts/test.sh`), with a fault proxy (`tests/proxy`) between a sink and its service that
//! answers errors itself, lets a write land and then says it failed, resets connections in the
//! middle of an answer, holds answers past the Lambda deadline, or throttles some `_bulk` items
//! inside a 200.
//!
//! After the faults each test plays the trigger: it delivers again what the answer hands back
//! (a Kinesis answer's `batchItemFailures`: the batch from the first failed record on, as
//! Lambda does from its checkpoint; a direct invocation that failed: the same event, as
//! Lambda's async retries do) until nothing is handed back, checks the answer of every round,
//! and then reads the services themselves: every event of the input is in the archive (S3
//! objects read back and gunzipped) or the index (`_search` over the test's indices) or a dead
//! letter (`dead-letter/` in the bucket), and none is in the archive or the index twice.
//!
//! Every test makes its own bucket, indices, topic, queue and table, so they run in parallel.
//! Run: `scripts/test.sh`, or with moto and osmem-server running and `AWS_ENDPOINT_URL`,
//! `CWLOGS_MOTO_URL`, `OPENSEARCH_URL` and the AWS test credentials exported,
//! `cargo test -p cwlogs-lambda --features integration --test faults`.
#![cfg(feature = "integration")]

mod proxy;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};
use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
use base64::Engine as _;
use cwlogs_aws::{
    Auth, Credentials, DynamoStateStore, OpenSearchIndex, S3Archive, S3Source, S3Url, SnsPublisher,
    sdk_config_with,
};
use cwlogs_lambda::{
    AlertSummary, Alerter, Archiver, FirehoseResult, IndexSummary, Indexer, InvocationSummary,
    Response, RetryLater,
};
use cwlogs_pipeline::{Backoff, Config, doc_id};
use lambda_runtime::{Context, LambdaEvent};
use opensearch::http::Method;
use proxy::{Action, Pick, Proxy, Reply, Request};
use serde_json::value::RawValue;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{Read as _, Write as _};
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The longest one test may take, whatever happens.
const TEST_LIMIT: Duration = Duration::from_secs(60);
/// Lambda time left for an ordinary invocation.
const LONG_DEADLINE_MS: u64 = 30_000;
/// Lambda time left for an invocation that meets an answer slower than that.
const SHORT_DEADLINE_MS: u64 = 2_000;
/// How long the proxy holds an answer in the slow scenarios: past any short deadline.
const HOLD: Duration = Duration::from_secs(4);
/// The most deliveries of one input a test allows before it says the faults never stop.
const MAX_ROUNDS: usize = 8;

// ---------------------------------------------------------------- environment and names

fn moto_url() -> String {
    std::env::var("CWLOGS_MOTO_URL")
        .or_else(|_| std::env::var("AWS_ENDPOINT_URL"))
        .expect(
            "CWLOGS_MOTO_URL is not set: run the integration tests through scripts/test.sh, \
             which starts moto and points the SDK at it",
        )
}

/// The cluster behind the proxy; `None` (the index tests skip, saying so) when it is not a
/// plain `http://` URL the proxy can forward to, e.g. a real cluster with TLS.
fn opensearch_url() -> Option<String> {
    let url = std::env::var("OPENSEARCH_URL").expect(
        "OPENSEARCH_URL is not set: run the integration tests through scripts/test.sh, which \
         starts osmem-server",
    );
    if url.starts_with("http://") && !url.contains('@') {
        Some(url)
    } else {
        eprintln!("skipped: the fault proxy forwards to plain http:// clusters only");
        None
    }
}

/// A configuration with explicit endpoint and throwaway credentials (nothing read from the
/// environment), on the same client stack as the functions.
fn sdk_at(url: &str) -> aws_config::SdkConfig {
    sdk_config_with(
        url,
        "us-east-1",
        Credentials::new("testing", "testing", None, None, "faults"),
    )
}

/// A name no other test (or earlier run against the same servers) uses: lower case, at most
/// 63 characters (a bucket name).
fn unique(tag: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() % 1_000_000_000_000);
    format!(
        "cwf-{tag}-{}-{nanos}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

/// A fast retry schedule: three attempts per invocation.
fn fast() -> Backoff {
    Backoff {
        base: Duration::from_millis(5),
        cap: Duration::from_millis(20),
        max_attempts: 3,
    }
}

/// Runs a test body with a bound on its time.
async fn bounded(body: impl Future<Output = ()>) {
    tokio::time::timeout(TEST_LIMIT, body)
        .await
        .unwrap_or_else(|_| panic!("the test took longer than {TEST_LIMIT:?}"));
}

async fn new_bucket(tag: &str) -> String {
    let bucket = unique(tag);
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk_at(&moto_url()))
            .force_path_style(true)
            .build(),
    );
    s3.create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .unwrap_or_else(|e| panic!("create bucket {bucket}: {e:?}"));
    bucket
}

fn region_env(k: &str) -> Option<String> {
    (k == "AWS_REGION").then(|| "eu-west-1".to_string())
}

// ---------------------------------------------------------------- inputs and their events

fn sample(rel: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../samples")
        .join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(bytes).expect("gzip");
    gz.finish().expect("gzip")
}

fn gunzip(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .ok()?;
    Some(out)
}

/// One log event, as every sink keys it: (log group, log stream, event id).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Ev {
    group: String,
    stream: String,
    id: String,
}

impl Ev {
    fn doc_id(&self) -> String {
        doc_id(&self.group, &self.stream, &self.id)
    }
}

/// The events of a subscription envelope (JSON), none for a control message.
fn envelope_events(envelope: &Value) -> Vec<Ev> {
    if envelope["messageType"] != "DATA_MESSAGE" {
        return Vec::new();
    }
    let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
    envelope["logEvents"]
        .as_array()
        .map(|events| {
            events
                .iter()
                .map(|e| Ev {
                    group: text(&envelope["logGroup"]),
                    stream: text(&envelope["logStream"]),
                    id: text(&e["id"]),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The events in base64 text of a gzip envelope (a record's data); none when it does not
/// decode.
fn events_of_data(data: &str) -> Vec<Ev> {
    b64()
        .decode(data.trim())
        .ok()
        .and_then(|gz| gunzip(&gz))
        .and_then(|json| serde_json::from_slice::<Value>(&json).ok())
        .map(|env| envelope_events(&env))
        .unwrap_or_default()
}

/// Every decodable event of a trigger's event (direct, Kinesis or Firehose).
fn events_of(event: &str) -> Vec<Ev> {
    let v: Value = serde_json::from_str(event).expect("an event is JSON");
    if let Some(data) = v["awslogs"]["data"].as_str() {
        return events_of_data(data);
    }
    let mut out = Vec::new();
    for r in v["Records"].as_array().into_iter().flatten() {
        out.extend(events_of_data(r["kinesis"]["data"].as_str().unwrap_or("")));
    }
    for r in v["records"].as_array().into_iter().flatten() {
        out.extend(events_of_data(r["data"].as_str().unwrap_or("")));
    }
    out
}

/// The events a dead letter holds: an archive object's gzip NDJSON, a record's base64 or gzip
/// envelope, or a whole trigger event.
fn events_in_dead_letter(bytes: &[u8]) -> Vec<Ev> {
    if let Some(plain) = bytes
        .starts_with(&[0x1f, 0x8b])
        .then(|| gunzip(bytes))
        .flatten()
    {
        if let Ok(env) = serde_json::from_slice::<Value>(&plain) {
            return envelope_events(&env);
        }
        return ndjson_events(&plain);
    }
    let text = String::from_utf8_lossy(bytes);
    match serde_json::from_str::<Value>(&text) {
        Ok(v) if v.is_object() => events_of(&text),
        _ => events_of_data(&text),
    }
}

/// The events of an archive object's NDJSON lines.
fn ndjson_events(plain: &[u8]) -> Vec<Ev> {
    plain
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| {
            let v: Value = serde_json::from_slice(l).expect("an archive line is JSON");
            let text = |k: &str| v[k].as_str().unwrap_or_default().to_string();
            Ev {
                group: text("log_group"),
                stream: text("log_stream"),
                id: text("id"),
            }
        })
        .collect()
}

/// A Kinesis event of these records (sequence number, base64 data), in this order, shaped
/// like `samples/kinesis/fanout.json`.
fn kinesis_event(records: &[(String, String)]) -> String {
    let fanout: Value = serde_json::from_str(&sample("kinesis/fanout.json")).expect("json");
    let template = fanout["Records"][0].clone();
    let records: Vec<Value> = records
        .iter()
        .map(|(seq, data)| {
            let mut r = template.clone();
            r["kinesis"]["sequenceNumber"] = seq.as_str().into();
            r["kinesis"]["data"] = data.as_str().into();
            r["eventID"] = format!("shardId-000000000000:{seq}").into();
            r
        })
        .collect();
    json!({ "Records": records }).to_string()
}

/// (sequence number, data) of the records of a Kinesis sample.
fn kinesis_records(rel: &str) -> Vec<(String, String)> {
    let v: Value = serde_json::from_str(&sample(rel)).expect("json");
    v["Records"]
        .as_array()
        .expect("Records")
        .iter()
        .map(|r| {
            (
                r["kinesis"]["sequenceNumber"]
                    .as_str()
                    .expect("sequenceNumber")
                    .to_string(),
                r["kinesis"]["data"].as_str().expect("data").to_string(),
            )
        })
        .collect()
}

/// `samples/kinesis/fanout.json` (CloudTrail `…890`, payments `…891`, a control message
/// `…892`) with the undecodable record of `samples/broken/kinesis-one-bad-record.json`
/// (`…999`) at the end.
fn mixed_kinesis_batch() -> String {
    let mut records = kinesis_records("kinesis/fanout.json");
    let bad = kinesis_records("broken/kinesis-one-bad-record.json")
        .into_iter()
        .find(|(seq, _)| seq.ends_with("999"))
        .expect("the bad record");
    records.push(bad);
    kinesis_event(&records)
}

const CLOUDTRAIL: &str = "aws-cloudtrail-logs-123456789012";
const PAYMENTS: &str = "/aws/lambda/payments-prod";

// ---------------------------------------------------------------- the trigger

fn invoke(text: &str, deadline_ms: u64) -> LambdaEvent<Box<RawValue>> {
    let mut context = Context::default();
    // Lambda's own retries of an asynchronous invocation keep its request id.
    context.request_id = "faults-req".into();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_millis() as u64;
    context.deadline = now + deadline_ms;
    LambdaEvent::new(
        RawValue::from_string(text.to_string()).expect("json"),
        context,
    )
}

/// One delivery and what came of it.
struct Round<S> {
    summary: S,
    answer: Result<Response<S>, RetryLater>,
}

/// What the trigger delivers next after `answer` to `event`: a failed direct invocation again
/// whole; a Kinesis batch from its first failed record on (the records after it too: Lambda
/// retries from the checkpoint), after checking that every failure names a record of the
/// batch; nothing after a summary, an empty failure list, or a Firehose answer (Firehose keeps
/// `ProcessingFailed` records in its error output; tests replay those themselves).
fn redelivery<S: std::fmt::Debug>(
    event: &str,
    answer: &Result<Response<S>, RetryLater>,
) -> Option<String> {
    match answer {
        Err(_) => Some(event.to_string()),
        Ok(Response::Kinesis {
            batch_item_failures,
        }) => {
            if batch_item_failures.is_empty() {
                return None;
            }
            let v: Value = serde_json::from_str(event).expect("json");
            let records = v["Records"].as_array().expect("a Kinesis event");
            let seqs: Vec<&str> = records
                .iter()
                .map(|r| r["kinesis"]["sequenceNumber"].as_str().unwrap_or(""))
                .collect();
            let first = batch_item_failures
                .iter()
                .map(|f| {
                    seqs.iter()
                        .position(|s| *s == f.item_identifier)
                        .unwrap_or_else(|| {
                            panic!(
                                "batchItemFailures names {:?}, not a record of the batch {seqs:?}",
                                f.item_identifier
                            )
                        })
                })
                .min()
                .expect("a failure");
            Some(json!({ "Records": records[first..] }).to_string())
        }
        Ok(_) => None,
    }
}

/// Delivers `first` to `handler` with `deadline_ms` of Lambda time, then whatever the trigger
/// would deliver again, until nothing is handed back. Every answer must come before the
/// deadline.
async fn drive<S, F>(handler: F, first: &str, deadline_ms: u64) -> Vec<Round<S>>
where
    S: std::fmt::Debug,
    F: AsyncFn(LambdaEvent<Box<RawValue>>) -> (S, Result<Response<S>, RetryLater>),
{
    let mut rounds = Vec::new();
    let mut next = Some(first.to_string());
    while let Some(event) = next.take() {
        assert!(
            rounds.len() < MAX_ROUNDS,
            "still handed back after {MAX_ROUNDS} deliveries: {}",
            trace(&rounds).join(" ")
        );
        let started = Instant::now();
        let (summary, answer) = handler(invoke(&event, deadline_ms)).await;
        let took = started.elapsed();
        assert!(
            took < Duration::from_millis(deadline_ms),
            "answered after the deadline ({took:?} of {deadline_ms} ms): {answer:?}"
        );
        next = redelivery(&event, &answer);
        rounds.push(Round { summary, answer });
    }
    rounds
}

/// The answers of the rounds, short: `ok` (a summary), `error` (the invocation failed),
/// `kinesis[8891]` (the last four digits of each sequence number handed back),
/// `firehose[ok,failed]`.
fn trace<S>(rounds: &[Round<S>]) -> Vec<String> {
    rounds
        .iter()
        .map(|r| match &r.answer {
            Err(_) => "error".to_string(),
            Ok(Response::Summary(_)) => "ok".to_string(),
            Ok(Response::Kinesis {
                batch_item_failures,
            }) => format!(
                "kinesis[{}]",
                batch_item_failures
                    .iter()
                    .map(|f| &f.item_identifier[f.item_identifier.len().saturating_sub(4)..])
                    .collect::<Vec<_>>()
                    .join(",")
            ),
            Ok(Response::Firehose { records }) => format!(
                "firehose[{}]",
                records
                    .iter()
                    .map(|r| match r.result {
                        FirehoseResult::Ok => "ok",
                        FirehoseResult::Dropped => "dropped",
                        FirehoseResult::ProcessingFailed => "failed",
                    })
                    .collect::<Vec<_>>()
                    .join(",")
            ),
        })
        .collect()
}

// ---------------------------------------------------------------- what the services hold

/// What a bucket holds: the events of each archive object, and each dead letter (raw bytes
/// and error file, by key).
#[derive(Debug, Default)]
struct BucketContents {
    archived: BTreeMap<String, Vec<Ev>>,
    dead_letters: BTreeMap<String, Vec<u8>>,
    error_files: BTreeMap<String, Value>,
}

impl BucketContents {
    /// The events of every dead letter.
    fn dead_lettered_events(&self) -> BTreeSet<Ev> {
        self.dead_letters
            .values()
            .flat_map(|b| events_in_dead_letter(b))
            .collect()
    }
}

/// Reads every object of `bucket` back from moto (not through the proxy).
async fn bucket_contents(bucket: &str) -> BucketContents {
    let source = S3Source::new(&sdk_at(&moto_url()));
    let keys = source
        .list(&S3Url {
            bucket: bucket.to_string(),
            key: String::new(),
        })
        .await
        .unwrap_or_else(|e| panic!("list {bucket}: {e}"));
    let mut out = BucketContents::default();
    for (key, _) in keys {
        let body = source
            .get(bucket, &key, 64 << 20)
            .await
            .unwrap_or_else(|e| panic!("get {key}: {e}"));
        if key.starts_with("dead-letter/") {
            if key.ends_with(".error.json") {
                let v = serde_json::from_slice(&body).expect("an error file is JSON");
                out.error_files.insert(key, v);
            } else {
                out.dead_letters.insert(key, body);
            }
        } else {
            let plain = gunzip(&body).unwrap_or_else(|| panic!("{key} is not gzip"));
            out.archived.insert(key, ndjson_events(&plain));
        }
    }
    out
}

/// Every event of `expected` in exactly one archive object, and nothing else archived.
fn assert_archived_once(what: &str, contents: &BucketContents, expected: &BTreeSet<Ev>) {
    let mut places: BTreeMap<&Ev, Vec<&str>> = BTreeMap::new();
    for (key, events) in &contents.archived {
        for e in events {
            places.entry(e).or_default().push(key);
        }
    }
    for e in expected {
        let at = places.get(e).map_or(&[][..], Vec::as_slice);
        assert_eq!(at.len(), 1, "{what}: {e:?} archived in {at:?}");
    }
    let extra: Vec<&&Ev> = places.keys().filter(|e| !expected.contains(e)).collect();
    assert!(
        extra.is_empty(),
        "{what}: archived but never sent: {extra:?}"
    );
}

/// The documents of the indices `{prefix}-*`: `_count`, and the `_id` of every hit.
async fn index_contents(prefix: &str) -> (u64, Vec<String>) {
    let os = OpenSearchIndex::new(&opensearch_url().expect("checked"), Auth::None)
        .expect("a valid OPENSEARCH_URL");
    let pattern = format!("{prefix}-*");
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
        .map(|h| h["_id"].as_str().expect("an _id").to_string())
        .collect();
    (count, ids)
}

/// No document twice (`_count` = hits = distinct `_id`s), none that was never sent, and
/// every event of `expected` indexed or in `dead_lettered`. Returns the ids indexed.
async fn assert_indexed_once(
    what: &str,
    prefix: &str,
    expected: &BTreeSet<Ev>,
    dead_lettered: &BTreeSet<Ev>,
) -> BTreeSet<String> {
    let (count, ids) = index_contents(prefix).await;
    let distinct: BTreeSet<String> = ids.iter().cloned().collect();
    assert_eq!(
        (count as usize, ids.len()),
        (distinct.len(), distinct.len()),
        "{what}: a document indexed twice"
    );
    let sent: BTreeSet<String> = expected.iter().map(Ev::doc_id).collect();
    let extra: Vec<&String> = distinct.difference(&sent).collect();
    assert!(
        extra.is_empty(),
        "{what}: indexed but never sent: {extra:?}"
    );
    let lost: Vec<&Ev> = expected
        .iter()
        .filter(|e| !distinct.contains(&e.doc_id()) && !dead_lettered.contains(e))
        .collect();
    assert!(
        lost.is_empty(),
        "{what}: neither indexed nor dead-lettered: {lost:?}"
    );
    distinct
}

// ---------------------------------------------------------------- the functions, wired

/// The archive function writing to `bucket` through `s3`.
fn archiver(bucket: &str, s3: &Proxy) -> Archiver<S3Archive> {
    let config = Config::from_toml(&format!("[archive]\nbucket = \"{bucket}\"\n"), &region_env)
        .expect("config");
    Archiver::new(
        config,
        S3Archive::new(&sdk_at(&s3.url), bucket, None).with_backoff(fast()),
    )
}

/// The index function sending to `{prefix}-d-…` (quarantine `{prefix}-q-…`) through `os`,
/// with dead letters to `bucket` through `s3`.
fn indexer(
    prefix: &str,
    os: &Proxy,
    bucket: &str,
    s3: &Proxy,
    max_bulk_bytes: Option<usize>,
) -> Indexer<OpenSearchIndex, S3Archive> {
    let mut toml = format!(
        "[index]\nendpoint = \"{}\"\nauth = \"none\"\ninstall_template = false\n\
         index = \"{prefix}-d-{{yyyy.MM.dd}}\"\nquarantine_index = \"{prefix}-q-{{yyyy.MM.dd}}\"\n",
        os.url
    );
    if let Some(n) = max_bulk_bytes {
        toml.push_str(&format!("max_bulk_bytes = {n}\n"));
    }
    toml.push_str(&format!("\n[archive]\nbucket = \"{bucket}\"\n"));
    let config = Config::from_toml(&toml, &region_env).expect("config");
    Indexer::new(
        config,
        OpenSearchIndex::new(&os.url, Auth::None).expect("proxy url"),
        Some(S3Archive::new(&sdk_at(&s3.url), bucket, None).with_backoff(fast())),
    )
    .expect("indexing is on")
    .with_backoff(fast())
}

fn check_archive_counts(s: &InvocationSummary) {
    assert_eq!(
        s.events,
        s.archived_events + s.filtered_events + s.dead_lettered_events + s.pending_events,
        "{s:?}"
    );
}

fn check_index_counts(s: &IndexSummary) {
    assert_eq!(
        s.events,
        s.indexed_events
            + s.existing_events
            + s.quarantined_events
            + s.filtered_events
            + s.refused_events
            + s.pending_events,
        "{s:?}"
    );
}

fn contains(r: &Request, text: &str) -> bool {
    r.target.contains(text)
}

// ---------------------------------------------------------------- archive function (S3)

/// S3 500 InternalError and 503 SlowDown bursts on PutObject, answered by the proxy (moto
/// never sees those attempts): a burst shorter than the attempts is absorbed by the retries;
/// a longer one hands the input back (the direct invocation fails, Kinesis gets the record
/// whose object failed), and the redelivery finishes it. Each event ends in exactly one object.
#[tokio::test]
async fn s3_500_and_503_bursts_are_retried_then_redelivered() {
    bounded(async {
        for (status, code) in [(500, "InternalError"), (503, "SlowDown")] {
            // Direct: one object; 2 failures fit in 3 attempts, 4 do not.
            for (burst, want) in [(2, vec!["ok"]), (4, vec!["error", "ok"])] {
                let what = format!("direct, {burst} x {status} {code}");
                let bucket = new_bucket("s3burst").await;
                let s3 = Proxy::start(&moto_url()).await;
                s3.rule(
                    |r| r.is_put_object(),
                    Action::Answer(Reply::s3_error(status, code)),
                    burst,
                );
                let h = archiver(&bucket, &s3);
                let event = sample("direct/app-json.json");
                let rounds = drive(
                    async |e| h.handle_counted(e).await,
                    &event,
                    LONG_DEADLINE_MS,
                )
                .await;
                assert_eq!(trace(&rounds), want, "{what}");
                rounds.iter().for_each(|r| check_archive_counts(&r.summary));
                assert_eq!(s3.count("answer"), burst, "{what}");
                let contents = bucket_contents(&bucket).await;
                let expected: BTreeSet<Ev> = events_of(&event).into_iter().collect();
                assert_eq!(expected.len(), 5);
                assert_archived_once(&what, &contents, &expected);
                assert!(contents.dead_letters.is_empty(), "{what}");
            }

            // Kinesis: the CloudTrail object fails twice (absorbed), the payments object four
            // times (its record is handed back once).
            let what = format!("kinesis, {status} {code}");
            let bucket = new_bucket("s3burstk").await;
            let s3 = Proxy::start(&moto_url()).await;
            s3.rule(
                |r| r.is_put_object() && contains(r, CLOUDTRAIL),
                Action::Answer(Reply::s3_error(status, code)),
                2,
            )
            .rule(
                |r| r.is_put_object() && contains(r, "payments-prod"),
                Action::Answer(Reply::s3_error(status, code)),
                4,
            );
            let h = archiver(&bucket, &s3);
            let event = sample("kinesis/fanout.json");
            let rounds = drive(
                async |e| h.handle_counted(e).await,
                &event,
                LONG_DEADLINE_MS,
            )
            .await;
            assert_eq!(trace(&rounds), ["kinesis[8891]", "kinesis[]"], "{what}");
            rounds.iter().for_each(|r| check_archive_counts(&r.summary));
            assert_eq!(rounds[0].summary.pending_events, 3, "{what}");
            let contents = bucket_contents(&bucket).await;
            let expected: BTreeSet<Ev> = events_of(&event).into_iter().collect();
            assert_eq!(expected.len(), 6);
            assert_archived_once(&what, &contents, &expected);
            assert_eq!(contents.archived.len(), 2, "{what}");
            assert!(contents.dead_letters.is_empty(), "{what}");
        }
    })
    .await;
}

/// The idempotency test: every PutObject lands in moto, but the first four are answered 500
/// (the write happened, the client is told it did not). The retries and the redelivery write
/// the same key again: one object, each event once.
#[tokio::test]
async fn s3_writes_that_landed_but_answered_500_leave_one_object() {
    bounded(async {
        let bucket = new_bucket("s3landed").await;
        let s3 = Proxy::start(&moto_url()).await;
        s3.rule(
            |r| r.is_put_object(),
            Action::ForwardThenAnswer(Reply::s3_error(500, "InternalError")),
            4,
        );
        let h = archiver(&bucket, &s3);
        let event = sample("direct/app-json.json");
        let rounds = drive(
            async |e| h.handle_counted(e).await,
            &event,
            LONG_DEADLINE_MS,
        )
        .await;
        assert_eq!(trace(&rounds), ["error", "ok"]);
        assert_eq!(s3.count("forward-then-answer"), 4);
        let contents = bucket_contents(&bucket).await;
        let expected: BTreeSet<Ev> = events_of(&event).into_iter().collect();
        assert_archived_once("landed but 500", &contents, &expected);
        assert_eq!(contents.archived.len(), 1);
    })
    .await;
}

/// PutObject forwarded (the object is written), then the connection reset in the middle of
/// the answer: the CloudTrail object once (absorbed by the retries), the payments object four
/// times (its three attempts in the first delivery, then once more): that record is handed
/// back, and the redelivery overwrites the same object.
#[tokio::test]
async fn s3_connections_reset_mid_answer_after_the_write() {
    bounded(async {
        let bucket = new_bucket("s3reset").await;
        let s3 = Proxy::start(&moto_url()).await;
        s3.rule(
            |r| r.is_put_object() && contains(r, CLOUDTRAIL),
            Action::ForwardThenReset,
            1,
        )
        .rule(
            |r| r.is_put_object() && contains(r, "payments-prod"),
            Action::ForwardThenReset,
            4,
        );
        let h = archiver(&bucket, &s3);
        let event = sample("kinesis/fanout.json");
        let rounds = drive(
            async |e| h.handle_counted(e).await,
            &event,
            LONG_DEADLINE_MS,
        )
        .await;
        assert_eq!(trace(&rounds), ["kinesis[8891]", "kinesis[]"]);
        rounds.iter().for_each(|r| check_archive_counts(&r.summary));
        assert_eq!(s3.count("forward-then-reset"), 5);
        let contents = bucket_contents(&bucket).await;
        let expected: BTreeSet<Ev> = events_of(&event).into_iter().collect();
        assert_archived_once("reset mid-answer", &contents, &expected);
        assert_eq!(contents.archived.len(), 2);
    })
    .await;
}

/// PutObject forwarded at once, its answer held past the invocation's deadline: the handler
/// stops waiting in time, answers before the deadline with the input handed back, and the
/// redelivery (answered promptly) leaves one object.
#[tokio::test]
async fn s3_answers_slower_than_the_lambda_deadline() {
    bounded(async {
        for (name, want) in [
            ("direct/app-json.json", vec!["error", "ok"]),
            (
                "kinesis/fanout.json",
                vec!["kinesis[8890,8891]", "kinesis[]"],
            ),
        ] {
            let bucket = new_bucket("s3slow").await;
            let s3 = Proxy::start(&moto_url()).await;
            s3.rule(
                |r| r.is_put_object(),
                Action::ForwardThenHold(HOLD),
                usize::MAX,
            );
            let h = archiver(&bucket, &s3);
            let event = sample(name);
            // The first delivery meets the held answers; then the fault passes.
            let started = Instant::now();
            let (summary, answer) = h.handle_counted(invoke(&event, SHORT_DEADLINE_MS)).await;
            let took = started.elapsed();
            assert!(
                took < Duration::from_millis(SHORT_DEADLINE_MS),
                "{name}: {took:?}"
            );
            s3.heal();
            let first = Round { summary, answer };
            check_archive_counts(&first.summary);
            assert_eq!(first.summary.pending_events, first.summary.events, "{name}");
            let mut rounds = vec![first];
            if let Some(again) = redelivery(&event, &rounds[0].answer) {
                rounds.extend(
                    drive(
                        async |e| h.handle_counted(e).await,
                        &again,
                        LONG_DEADLINE_MS,
                    )
                    .await,
                );
            }
            assert_eq!(trace(&rounds), want, "{name}");
            let contents = bucket_contents(&bucket).await;
            let expected: BTreeSet<Ev> = events_of(&event).into_iter().collect();
            assert_archived_once(name, &contents, &expected);
        }
    })
    .await;
}

/// A Kinesis batch with an undecodable record and a record whose object keeps failing (503
/// SlowDown for four attempts: more than one invocation's three): the bad record is
/// dead-lettered (never handed back), the failing one is handed back until written; the
/// batch is redelivered from the failed record on (the bad record with it).
#[tokio::test]
async fn s3_kinesis_batch_with_a_bad_record_and_a_record_that_keeps_failing() {
    bounded(async {
        let bucket = new_bucket("s3mixed").await;
        let s3 = Proxy::start(&moto_url()).await;
        s3.rule(
            |r| r.is_put_object() && contains(r, "payments-prod"),
            Action::Answer(Reply::s3_error(503, "SlowDown")),
            4,
        );
        let h = archiver(&bucket, &s3);
        let event = mixed_kinesis_batch();
        let rounds = drive(
            async |e| h.handle_counted(e).await,
            &event,
            LONG_DEADLINE_MS,
        )
        .await;
        assert_eq!(trace(&rounds), ["kinesis[8891]", "kinesis[]"]);
        rounds.iter().for_each(|r| check_archive_counts(&r.summary));
        let contents = bucket_contents(&bucket).await;
        let expected: BTreeSet<Ev> = events_of(&event).into_iter().collect();
        assert_eq!(expected.len(), 6);
        assert_archived_once("mixed batch", &contents, &expected);
        // The bad record, byte for byte, with its error file.
        let bad = kinesis_records("broken/kinesis-one-bad-record.json")
            .into_iter()
            .find(|(seq, _)| seq.ends_with("999"))
            .expect("the bad record");
        let kept: Vec<&String> = contents
            .dead_letters
            .iter()
            .filter(|(_, body)| body.as_slice() == bad.1.as_bytes())
            .map(|(k, _)| k)
            .collect();
        assert!(!kept.is_empty(), "{:?}", contents.dead_letters.keys());
        for key in &kept {
            let error = &contents.error_files[&format!("{key}.error.json")];
            assert_eq!(error["record_id"], bad.0.as_str());
            assert_eq!(error["stage"], "base64");
        }
    })
    .await;
}

/// The same batch redelivered from the checkpoint: the undecodable record, settled in the
/// first delivery, is dead-lettered once, not once per delivery.
#[tokio::test]
async fn s3_kinesis_redelivery_does_not_dead_letter_a_settled_record_twice() {
    bounded(async {
        let bucket = new_bucket("s3dltwice").await;
        let s3 = Proxy::start(&moto_url()).await;
        s3.rule(
            |r| r.is_put_object() && contains(r, "payments-prod"),
            Action::Answer(Reply::s3_error(503, "SlowDown")),
            4,
        );
        let h = archiver(&bucket, &s3);
        let rounds = drive(
            async |e| h.handle_counted(e).await,
            &mixed_kinesis_batch(),
            LONG_DEADLINE_MS,
        )
        .await;
        assert_eq!(trace(&rounds), ["kinesis[8891]", "kinesis[]"]);
        let contents = bucket_contents(&bucket).await;
        assert_eq!(
            contents.dead_letters.len(),
            1,
            "{:?}",
            contents.dead_letters.keys()
        );
    })
    .await;
}

/// The bucket refuses every archive object (403 AccessDenied, answered by the proxy) but
/// takes dead letters: every event ends in a dead letter (the refused object's gzip NDJSON),
/// nothing is handed back, nothing is archived.
#[tokio::test]
async fn s3_refusals_send_every_event_to_the_dead_letters() {
    bounded(async {
        let bucket = new_bucket("s3refused").await;
        let s3 = Proxy::start(&moto_url()).await;
        s3.rule(
            |r| r.is_put_object() && !contains(r, "/dead-letter/"),
            Action::Answer(Reply::s3_error(403, "AccessDenied")),
            usize::MAX,
        );
        let h = archiver(&bucket, &s3);
        let event = sample("kinesis/fanout.json");
        let rounds = drive(
            async |e| h.handle_counted(e).await,
            &event,
            LONG_DEADLINE_MS,
        )
        .await;
        assert_eq!(trace(&rounds), ["kinesis[]"]);
        let s = &rounds[0].summary;
        check_archive_counts(s);
        assert_eq!((s.dead_lettered_events, s.dead_letters), (6, 2), "{s:?}");
        let contents = bucket_contents(&bucket).await;
        assert!(contents.archived.is_empty());
        let expected: BTreeSet<Ev> = events_of(&event).into_iter().collect();
        assert_eq!(contents.dead_lettered_events(), expected);
        assert_eq!(contents.error_files.len(), 2);
        for e in contents.error_files.values() {
            assert_eq!(e["stage"], "s3");
        }
    })
    .await;
}

// ---------------------------------------------------------------- index function (OpenSearch)

/// The doc ids of `events`, for picking `_bulk` items.
fn doc_ids<'a>(events: impl IntoIterator<Item = &'a Ev>) -> BTreeSet<String> {
    events.into_iter().map(Ev::doc_id).collect()
}

/// The `_id` in a `_bulk` action line.
fn action_id(action: &[u8]) -> String {
    let v: Value = serde_json::from_slice(action).unwrap_or_default();
    v.as_object()
        .and_then(|o| o.values().next())
        .and_then(|m| m["_id"].as_str())
        .unwrap_or_default()
        .to_string()
}

/// A per-item fault for the documents in `ids`: each answered `status`/`kind` for its first
/// `times` sends, then forwarded.
fn item_fault(ids: BTreeSet<String>, status: u16, kind: &str, times: usize) -> Pick {
    let sends: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
    let kind = kind.to_string();
    Arc::new(move |_, action| {
        let id = action_id(action);
        if !ids.contains(&id) {
            return None;
        }
        let mut sends = sends
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let n = sends.entry(id).or_default();
        *n += 1;
        (*n <= times).then(|| (status, kind.clone()))
    })
}

/// A 429 storm inside 200 answers: the cluster takes only some items of each request (every
/// other one, for each item its first two sends) and answers the rest 429
/// `es_rejected_execution_exception` (those never reach it). The throttled items are sent
/// again within the invocation; everything is indexed once, and the quarantine stays empty.
#[tokio::test]
async fn opensearch_429_storms_inside_200_answers() {
    let Some(cluster) = opensearch_url() else {
        return;
    };
    bounded(async {
        for name in ["direct/app-json.json", "kinesis/fanout.json"] {
            let prefix = unique("os429");
            let bucket = new_bucket("os429").await;
            let (os, s3) = (
                Proxy::start(&cluster).await,
                Proxy::start(&moto_url()).await,
            );
            let event = sample(name);
            let expected: BTreeSet<Ev> = events_of(&event).into_iter().collect();
            let storm: BTreeSet<String> = expected.iter().step_by(2).map(Ev::doc_id).collect();
            os.rule(
                Request::is_bulk,
                Action::BulkItems(item_fault(storm, 429, "es_rejected_execution_exception", 2)),
                usize::MAX,
            );
            let h = indexer(&prefix, &os, &bucket, &s3, None);
            let rounds = drive(
                async |e| h.handle_counted(e).await,
                &event,
                LONG_DEADLINE_MS,
            )
            .await;
            let want = if name.starts_with("direct") {
                "ok"
            } else {
                "kinesis[]"
            };
            assert_eq!(trace(&rounds), [want], "{name}");
            let s = &rounds[0].summary;
            check_index_counts(s);
            assert_eq!(s.indexed_events, expected.len(), "{name}: {s:?}");
            assert_eq!(s.requests, 3, "{name}: {s:?}");
            let indexed = assert_indexed_once(name, &prefix, &expected, &BTreeSet::new()).await;
            assert_eq!(indexed, doc_ids(&expected), "{name}");
        }
    })
    .await;
}

/// A cluster that answers 413 to any `_bulk` body over a third of the batch's documents (the
/// proxy answers, the cluster never sees it): the client halves until each request fits, and
/// everything is indexed once.
#[tokio::test]
async fn opensearch_413_halves_requests_until_they_fit() {
    let Some(cluster) = opensearch_url() else {
        return;
    };
    bounded(async {
        let prefix = unique("os413");
        let bucket = new_bucket("os413").await;
        let (os, s3) = (
            Proxy::start(&cluster).await,
            Proxy::start(&moto_url()).await,
        );
        let event = sample("kinesis/fanout.json");
        let expected: BTreeSet<Ev> = events_of(&event).into_iter().collect();
        // The limit: the size of the first (whole) request, learnt from a clean run into
        // throwaway indices, divided by 3.
        let probe_prefix = unique("os413p");
        let probe = indexer(&probe_prefix, &os, &bucket, &s3, None);
        assert!(probe.handle(invoke(&event, LONG_DEADLINE_MS)).await.is_ok());
        let whole = os.seen()[0].decoded_len;
        let limit = whole / 3;
        os.rule(
            move |r| r.is_bulk() && r.decoded_body().len() > limit,
            Action::Answer(Reply::json(
                413,
                &json!({"Message": "Request size exceeded 1000 bytes"}),
            )),
            usize::MAX,
        );
        let seen_before = os.seen().len();
        let h = indexer(&prefix, &os, &bucket, &s3, None);
        let rounds = drive(
            async |e| h.handle_counted(e).await,
            &event,
            LONG_DEADLINE_MS,
        )
        .await;
        assert_eq!(trace(&rounds), ["kinesis[]"]);
        let s = &rounds[0].summary;
        check_index_counts(s);
        assert_eq!(s.indexed_events, 6, "{s:?}");
        let seen = &os.seen()[seen_before..];
        assert!(
            seen.iter().filter(|r| r.action == "answer").count() >= 2,
            "{seen:?}"
        );
        for r in seen.iter().filter(|r| r.action == "forward") {
            assert!(r.decoded_len <= limit, "{r:?}");
        }
        assert_indexed_once("413", &prefix, &expected, &BTreeSet::new()).await;
    })
    .await;
}

/// Whole-request 429 and 503 answered by the proxy: two in a row are absorbed by the
/// retries; four outlast the invocation's three attempts, and the redelivery finishes.
#[tokio::test]
async fn opensearch_whole_request_429_and_503_bursts() {
    let Some(cluster) = opensearch_url() else {
        return;
    };
    bounded(async {
        for status in [429, 503] {
            for (burst, want) in [(2, vec!["ok"]), (4, vec!["error", "ok"])] {
                let what = format!("{burst} x {status}");
                let prefix = unique("osburst");
                let bucket = new_bucket("osburst").await;
                let (os, s3) = (Proxy::start(&cluster).await, Proxy::start(&moto_url()).await);
                os.rule(
                    Request::is_bulk,
                    Action::Answer(Reply::json(
                        status,
                        &json!({"error": {"type": "injected", "reason": "by the fault proxy"}, "status": status}),
                    )),
                    burst,
                );
                let h = indexer(&prefix, &os, &bucket, &s3, None);
                let event = sample("direct/app-json.json");
                let rounds =
                    drive(async |e| h.handle_counted(e).await, &event, LONG_DEADLINE_MS).await;
                assert_eq!(trace(&rounds), want, "{what}");
                rounds.iter().for_each(|r| check_index_counts(&r.summary));
                let expected: BTreeSet<Ev> = events_of(&event).into_iter().collect();
                assert_indexed_once(&what, &prefix, &expected, &BTreeSet::new()).await;
            }
        }
    })
    .await;
}

/// Written but told otherwise: the first four `_bulk` requests reach the cluster and are then
/// answered 503 (three in the first invocation, one in the redelivery), or their answers are
/// cut by a connection reset. The documents were created the first time; every later send
/// answers 409, which counts as delivered: one document per event.
#[tokio::test]
async fn opensearch_writes_that_landed_but_failed_on_the_way_back() {
    let Some(cluster) = opensearch_url() else {
        return;
    };
    bounded(async {
        for (what, action) in [
            (
                "forwarded, then 503",
                Action::ForwardThenAnswer(Reply::json(503, &json!({"message": "injected"}))),
            ),
            ("forwarded, then reset mid-answer", Action::ForwardThenReset),
        ] {
            let prefix = unique("oslanded");
            let bucket = new_bucket("oslanded").await;
            let (os, s3) = (
                Proxy::start(&cluster).await,
                Proxy::start(&moto_url()).await,
            );
            os.rule(Request::is_bulk, action, 4);
            let h = indexer(&prefix, &os, &bucket, &s3, None);
            let event = sample("direct/app-json.json");
            let rounds = drive(
                async |e| h.handle_counted(e).await,
                &event,
                LONG_DEADLINE_MS,
            )
            .await;
            assert_eq!(trace(&rounds), ["error", "ok"], "{what}");
            rounds.iter().for_each(|r| check_index_counts(&r.summary));
            let last = &rounds[1].summary;
            assert_eq!(
                (last.indexed_events, last.existing_events),
                (0, 5),
                "{what}: {last:?}"
            );
            let expected: BTreeSet<Ev> = events_of(&event).into_iter().collect();
            assert_indexed_once(what, &prefix, &expected, &BTreeSet::new()).await;
        }
    })
    .await;
}

/// `_bulk` forwarded at once, its answer held past the deadline: the handler answers in time
/// with everything handed back (Kinesis: both data records; direct: an error); the redelivery
/// finds the documents already there.
#[tokio::test]
async fn opensearch_answers_slower_than_the_lambda_deadline() {
    let Some(cluster) = opensearch_url() else {
        return;
    };
    bounded(async {
        for (name, want) in [
            ("direct/app-json.json", vec!["error", "ok"]),
            (
                "kinesis/fanout.json",
                vec!["kinesis[8890,8891]", "kinesis[]"],
            ),
        ] {
            let prefix = unique("osslow");
            let bucket = new_bucket("osslow").await;
            let (os, s3) = (
                Proxy::start(&cluster).await,
                Proxy::start(&moto_url()).await,
            );
            os.rule(Request::is_bulk, Action::ForwardThenHold(HOLD), usize::MAX);
            let h = indexer(&prefix, &os, &bucket, &s3, None);
            let event = sample(name);
            let started = Instant::now();
            let (summary, answer) = h.handle_counted(invoke(&event, SHORT_DEADLINE_MS)).await;
            let took = started.elapsed();
            assert!(
                took < Duration::from_millis(SHORT_DEADLINE_MS),
                "{name}: {took:?}"
            );
            os.heal();
            check_index_counts(&summary);
            assert_eq!(
                summary.pending_events, summary.events,
                "{name}: {summary:?}"
            );
            let mut rounds = vec![Round { summary, answer }];
            if let Some(again) = redelivery(&event, &rounds[0].answer) {
                rounds.extend(
                    drive(
                        async |e| h.handle_counted(e).await,
                        &again,
                        LONG_DEADLINE_MS,
                    )
                    .await,
                );
            }
            assert_eq!(trace(&rounds), want, "{name}");
            let expected: BTreeSet<Ev> = events_of(&event).into_iter().collect();
            let last = &rounds[rounds.len() - 1].summary;
            assert_eq!(last.existing_events, expected.len(), "{name}: {last:?}");
            assert_indexed_once(name, &prefix, &expected, &BTreeSet::new()).await;
        }
    })
    .await;
}

/// A Kinesis batch where: the CloudTrail record's documents are refused for good (per-item
/// 403 `cluster_block_exception`), so that record is dead-lettered, but the dead-letter
/// bucket answers 503 SlowDown three times first (the record is handed back once); the
/// payments record's documents are throttled (429) for their first four sends (more than one
/// invocation's three); the record after them cannot be decoded (dead-lettered). The batch
/// comes back until everything is settled: each event indexed once or kept in a dead letter.
#[tokio::test]
async fn opensearch_kinesis_batch_with_refused_throttled_and_bad_records() {
    let Some(cluster) = opensearch_url() else {
        return;
    };
    bounded(async {
        let prefix = unique("osmixed");
        let bucket = new_bucket("osmixed").await;
        let (os, s3) = (
            Proxy::start(&cluster).await,
            Proxy::start(&moto_url()).await,
        );
        let event = mixed_kinesis_batch();
        let expected: BTreeSet<Ev> = events_of(&event).into_iter().collect();
        let cloudtrail: BTreeSet<Ev> = expected
            .iter()
            .filter(|e| e.group == CLOUDTRAIL)
            .cloned()
            .collect();
        let payments = doc_ids(expected.iter().filter(|e| e.group == PAYMENTS));
        let refused = doc_ids(&cloudtrail);
        let throttle = item_fault(payments, 429, "es_rejected_execution_exception", 4);
        os.rule(
            Request::is_bulk,
            Action::BulkItems(Arc::new(move |i, action| {
                if refused.contains(&action_id(action)) {
                    return Some((403, "cluster_block_exception".into()));
                }
                throttle(i, action)
            })),
            usize::MAX,
        );
        s3.rule(
            |r| r.is_put_object() && contains(r, "/dead-letter/"),
            Action::Answer(Reply::s3_error(503, "SlowDown")),
            3,
        );
        let h = indexer(&prefix, &os, &bucket, &s3, None);
        let rounds = drive(
            async |e| h.handle_counted(e).await,
            &event,
            LONG_DEADLINE_MS,
        )
        .await;
        assert_eq!(trace(&rounds), ["kinesis[8890,8891]", "kinesis[]"]);
        rounds.iter().for_each(|r| check_index_counts(&r.summary));
        let contents = bucket_contents(&bucket).await;
        let dead = contents.dead_lettered_events();
        assert_eq!(dead, cloudtrail, "only the refused record's events");
        let indexed = assert_indexed_once("mixed batch", &prefix, &expected, &dead).await;
        assert_eq!(
            indexed,
            doc_ids(expected.iter().filter(|e| e.group == PAYMENTS))
        );
        let stages: BTreeSet<&str> = contents
            .error_files
            .values()
            .filter_map(|e| e["stage"].as_str())
            .collect();
        assert_eq!(stages, BTreeSet::from(["base64", "index"]));
    })
    .await;
}

/// A Firehose transformation while the cluster answers 503 to the deadline: every record is
/// answered `ProcessingFailed` with its original data (Firehose keeps those in its error
/// output), in time. Replayed from that output once the cluster is back: `Ok`, each event
/// indexed once.
#[tokio::test]
async fn opensearch_firehose_records_failing_to_the_deadline_keep_their_data() {
    let Some(cluster) = opensearch_url() else {
        return;
    };
    bounded(async {
        let prefix = unique("osfh");
        let bucket = new_bucket("osfh").await;
        let (os, s3) = (
            Proxy::start(&cluster).await,
            Proxy::start(&moto_url()).await,
        );
        os.rule(
            Request::is_bulk,
            Action::Answer(Reply::json(503, &json!({"message": "injected"}))),
            usize::MAX,
        );
        let h = indexer(&prefix, &os, &bucket, &s3, None);
        let event = sample("firehose/transform.json");
        let rounds = drive(
            async |e| h.handle_counted(e).await,
            &event,
            SHORT_DEADLINE_MS,
        )
        .await;
        let Ok(Response::Firehose { records }) = &rounds[0].answer else {
            panic!("{:?}", rounds[0].answer);
        };
        let original: Value = serde_json::from_str(&event).expect("json");
        let data_records: Vec<&Value> = original["records"]
            .as_array()
            .expect("records")
            .iter()
            .filter(|r| !events_of_data(r["data"].as_str().unwrap_or("")).is_empty())
            .collect();
        let failed: Vec<_> = records
            .iter()
            .filter(|r| r.result == FirehoseResult::ProcessingFailed)
            .collect();
        assert_eq!(failed.len(), data_records.len(), "{:?}", trace(&rounds));
        for (f, r) in failed.iter().zip(&data_records) {
            assert_eq!(f.record_id, r["recordId"].as_str().expect("recordId"));
            assert_eq!(f.data, r["data"].as_str().expect("data"));
        }
        check_index_counts(&rounds[0].summary);

        // The operator replays the error output once the cluster is back.
        os.heal();
        let mut replay = original.clone();
        let ids: BTreeSet<&str> = failed.iter().map(|f| f.record_id.as_str()).collect();
        replay["records"] = original["records"]
            .as_array()
            .expect("records")
            .iter()
            .filter(|r| ids.contains(r["recordId"].as_str().unwrap_or("")))
            .cloned()
            .collect();
        let replay = replay.to_string();
        let again = drive(
            async |e| h.handle_counted(e).await,
            &replay,
            LONG_DEADLINE_MS,
        )
        .await;
        let Ok(Response::Firehose { records }) = &again[0].answer else {
            panic!("{:?}", again[0].answer);
        };
        assert!(
            records.iter().all(|r| r.result == FirehoseResult::Ok),
            "{:?}",
            trace(&again)
        );
        let expected: BTreeSet<Ev> = events_of(&event).into_iter().collect();
        assert!(!expected.is_empty());
        assert_indexed_once("firehose", &prefix, &expected, &BTreeSet::new()).await;
    })
    .await;
}

// ---------------------------------------------------------------- alert function (SNS)

const INTRUDER: &str = "arn:aws:sts::123456789012:assumed-role/intruder/session-4";
const DEPLOYER: &str = "arn:aws:sts::123456789012:assumed-role/ci-deployer/session-2";

/// A topic (FIFO or not) with an SQS queue subscribed, made in moto directly.
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

    /// (kind, user) of every message in the queue, sorted: received until `want` are in and
    /// a receive then comes back empty, or 15 s have passed.
    async fn drain(&self, want: usize) -> Vec<(String, String)> {
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
        let mut shown: Vec<(String, String)> = messages
            .iter()
            .map(|m| {
                let env: Value =
                    serde_json::from_str(m.body().expect("a body")).expect("the SNS envelope");
                let body: Value =
                    serde_json::from_str(env["Message"].as_str().expect("Message")).expect("JSON");
                (
                    env["MessageAttributes"]["kind"]["Value"]
                        .as_str()
                        .unwrap_or("")
                        .to_string(),
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
}

/// A state table as the stack creates it: partition key `pk` (S), on demand.
async fn state_table(sdk: &aws_config::SdkConfig) -> String {
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

fn alert_config(topic: &str) -> Config {
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
    Config::from_toml(&text, &region_env).expect("config")
}

/// The CloudTrail sample's envelope (3 `AccessDenied`: one by the deployer, two by the
/// intruder) re-timed into the previous 5-minute window, so that with `grace = "0s"` the
/// window's summary is due at once: gzip, base64.
fn recent_cloudtrail_data() -> String {
    let event: Value = serde_json::from_str(&sample("direct/cloudtrail.json")).expect("json");
    let data = b64()
        .decode(event["awslogs"]["data"].as_str().expect("data"))
        .expect("base64");
    let mut envelope: Value =
        serde_json::from_slice(&gunzip(&data).expect("gzip")).expect("envelope");
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64;
    let base = now.div_euclid(300_000) * 300_000 - 300_000;
    for e in envelope["logEvents"].as_array_mut().expect("events") {
        let ts = e["timestamp"].as_i64().expect("timestamp");
        e["timestamp"] = (base + ts % 300_000).into();
    }
    b64().encode(gzip(envelope.to_string().as_bytes()))
}

/// SNS throttling (400 `Throttling`), for the intruder's messages only (an alert and the
/// window's summary), four times: more than one invocation's three attempts. Standard topic:
/// the proxy answers, SNS never sees the throttled attempts. FIFO topic: every attempt is
/// forwarded and published, then answered `Throttling` (the write happened), and SNS's
/// deduplication by `MessageDeduplicationId` has to keep the subscriber from seeing repeats.
/// Direct and Kinesis triggers. The record is handed back with its counts rolled back (the
/// claims in DynamoDB stay), and the redelivery sends what was missing: the subscriber gets
/// each alert and summary exactly once.
#[tokio::test]
async fn sns_throttling_hands_the_record_back_and_each_alert_goes_out_once() {
    bounded(async {
        let moto = sdk_at(&moto_url());
        for (fifo, kinesis) in [(false, false), (false, true), (true, false), (true, true)] {
            let what = format!("fifo {fifo}, kinesis {kinesis}");
            let wiring = Wiring::new(&moto, fifo).await;
            let table = state_table(&moto).await;
            let sns = Proxy::start(&moto_url()).await;
            let throttle = Reply::sns_error(400, "Sender", "Throttling");
            let action = if fifo {
                Action::ForwardThenAnswer(throttle)
            } else {
                Action::Answer(throttle)
            };
            sns.rule(
                |r| r.is_sns_publish() && String::from_utf8_lossy(&r.body).contains("intruder"),
                action,
                4,
            );
            let h = Alerter::new(
                alert_config(&wiring.topic_arn),
                DynamoStateStore::new(&moto, &table),
                SnsPublisher::new(&sdk_at(&sns.url)).with_backoff(fast()),
                None::<S3Archive>,
            )
            .with_metrics_out(Box::new(|_| {}));
            let data = recent_cloudtrail_data();
            let event = if kinesis {
                kinesis_event(&[(
                    "49590338271490256608559692538361571095921575989136588890".into(),
                    data,
                )])
            } else {
                json!({"awslogs": {"data": data}}).to_string()
            };
            let rounds: Vec<Round<AlertSummary>> = drive(
                async |e| h.handle_counted(e).await,
                &event,
                LONG_DEADLINE_MS,
            )
            .await;
            let want = if kinesis {
                ["kinesis[8890]", "kinesis[]"]
            } else {
                ["error", "ok"]
            };
            assert_eq!(trace(&rounds), want, "{what}");
            let first = &rounds[0].summary;
            // The whole record is handed back: its 8 events (3 of them matches).
            assert_eq!(
                (first.pending_records, first.pending_events, first.events),
                (1, 8, 8),
                "{what}: {first:?}"
            );
            assert_eq!(
                sns.count(if fifo {
                    "forward-then-answer"
                } else {
                    "answer"
                }),
                4
            );
            assert_eq!(
                wiring.drain(3).await,
                [
                    ("alert".to_string(), DEPLOYER.to_string()),
                    ("alert".to_string(), INTRUDER.to_string()),
                    ("summary".to_string(), INTRUDER.to_string()),
                ],
                "{what}"
            );
        }
    })
    .await;
}
