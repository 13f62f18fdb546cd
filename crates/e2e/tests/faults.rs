//! End to end under faults: the real handlers (`Archiver`, `Indexer`, `Alerter`) with the real
//! sinks (`S3Archive`, `OpenSearchIndex`, `SnsPublisher`, `DynamoStateStore`) against the real
//! services (moto for S3, SNS, SQS and DynamoDB; osmem-server for OpenSearch, both started by
//! `scripts/test.sh`), with the fault proxy (`cwlogs_testkit::proxy`) between a sink and its service that
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
//! `cargo test -p cwlogs-e2e --features integration -- faults::`.
#![cfg(feature = "integration")]

use crate::common;

use base64::Engine as _;
use common::moto::{self, state_table, unique};
use common::{
    Wiring, alert_config, alerts_and_summary, b64, cloudtrail_data, direct_event, gunzip,
    kinds_and_users, region_env, sample,
};
use cwlogs_aws::{
    Auth, Credentials, DynamoStateStore, OpenSearchIndex, S3Archive, S3Source, S3Url, SnsPublisher,
    sdk_config_with,
};
use cwlogs_lambda::{
    AlertSummary, Alerter, Archiver, FirehoseResult, IndexSummary, Indexer, InvocationSummary,
    Response, RetryLater,
};
use cwlogs_pipeline::{Backoff, Config, doc_id};
use cwlogs_testkit::events::{kinesis_event, kinesis_records};
use cwlogs_testkit::proxy::{Action, Pick, Proxy, Reply, Request};
use cwlogs_testkit::services::{moto_url, plain_opensearch_url};
use lambda_runtime::LambdaEvent;
use opensearch::http::Method;
use serde_json::value::RawValue;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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

/// A configuration with explicit endpoint and throwaway credentials (nothing read from the
/// environment), on the same client stack as the functions.
fn sdk_at(url: &str) -> aws_config::SdkConfig {
    sdk_config_with(
        url,
        "us-east-1",
        Credentials::new("testing", "testing", None, None, "faults"),
    )
}

/// The last delivery of `rounds` succeeded, and the subscriber got each alert and the summary
/// of `alerts_and_summary` exactly once.
async fn each_alert_once_in_the_end<S>(what: &str, rounds: &[Round<S>], wiring: &Wiring) {
    let trace = trace(rounds);
    assert_eq!(
        trace.last().map(String::as_str),
        Some("ok"),
        "{what}: {trace:?}"
    );
    assert_eq!(
        kinds_and_users(&wiring.drain(3).await),
        alerts_and_summary(),
        "{what}: {trace:?}"
    );
}

/// The alert function publishing to `topic` through `sns`, its state in `table` through
/// `dynamo`, its dead letters in `dead_letters`; fast retries, EMF lines dropped.
fn alerter(
    topic: &str,
    dynamo: &aws_config::SdkConfig,
    table: &str,
    sns: &aws_config::SdkConfig,
    dead_letters: Option<S3Archive>,
) -> Alerter<DynamoStateStore, SnsPublisher, S3Archive> {
    Alerter::new(
        alert_config(topic),
        DynamoStateStore::new(dynamo, table).with_backoff(fast()),
        SnsPublisher::new(sns).with_backoff(fast()),
        dead_letters,
    )
    .with_metrics_out(Box::new(|_| {}))
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

/// Runs an index test's body, bounded in time, with the URL of the cluster behind the proxy;
/// skips it (saying so) when there is none the proxy can forward to.
async fn with_cluster(body: impl AsyncFnOnce(&str)) {
    let Some(cluster) = plain_opensearch_url() else {
        return;
    };
    bounded(body(&cluster)).await;
}

async fn new_bucket(tag: &str) -> String {
    moto::new_bucket(&moto::s3(&sdk_at(&moto_url())), tag).await
}

// ---------------------------------------------------------------- inputs and their events

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

/// The undecodable record (`…999`) of `samples/broken/kinesis-one-bad-record.json`:
/// (sequence number, data).
fn bad_record() -> (String, String) {
    kinesis_records("broken/kinesis-one-bad-record.json")
        .into_iter()
        .find(|(seq, _)| seq.ends_with("999"))
        .expect("the bad record")
}

/// `samples/kinesis/fanout.json` (CloudTrail `…890`, payments `…891`, a control message
/// `…892`) with the [`bad_record`] (`…999`) at the end.
fn mixed_kinesis_batch() -> String {
    let mut records = kinesis_records("kinesis/fanout.json");
    records.push(bad_record());
    kinesis_event(&records)
}

/// Every decodable event of a trigger's event, as a set: what must end up delivered once.
fn expected_events(event: &str) -> BTreeSet<Ev> {
    events_of(event).into_iter().collect()
}

const CLOUDTRAIL: &str = "aws-cloudtrail-logs-123456789012";
const PAYMENTS: &str = "/aws/lambda/payments-prod";

// ---------------------------------------------------------------- the trigger

fn invoke(text: &str, deadline_ms: u64) -> LambdaEvent<Box<RawValue>> {
    // Lambda's own retries of an asynchronous invocation keep its request id.
    common::invocation(text, "faults-req", Some(deadline_ms))
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

/// A function under test as the trigger sees it: one delivery, with the invocation's counts
/// whatever the answer.
trait Function {
    type Summary: std::fmt::Debug;

    async fn deliver(
        &self,
        event: LambdaEvent<Box<RawValue>>,
    ) -> (Self::Summary, Result<Response<Self::Summary>, RetryLater>);
}

/// A function whose counts account for every event of its input.
trait Counted: Function {
    fn check_counts(summary: &Self::Summary);
}

impl Function for Archiver<S3Archive> {
    type Summary = InvocationSummary;

    async fn deliver(
        &self,
        event: LambdaEvent<Box<RawValue>>,
    ) -> (InvocationSummary, Result<Response, RetryLater>) {
        self.handle_counted(event).await
    }
}

impl Counted for Archiver<S3Archive> {
    fn check_counts(s: &InvocationSummary) {
        common::counts::check_archive("fault run", s);
    }
}

impl Function for Indexer<OpenSearchIndex, S3Archive> {
    type Summary = IndexSummary;

    async fn deliver(
        &self,
        event: LambdaEvent<Box<RawValue>>,
    ) -> (IndexSummary, Result<Response<IndexSummary>, RetryLater>) {
        self.handle_counted(event).await
    }
}

impl Counted for Indexer<OpenSearchIndex, S3Archive> {
    fn check_counts(s: &IndexSummary) {
        common::counts::check_index("fault run", s);
    }
}

impl Function for Alerter<DynamoStateStore, SnsPublisher, S3Archive> {
    type Summary = AlertSummary;

    async fn deliver(
        &self,
        event: LambdaEvent<Box<RawValue>>,
    ) -> (AlertSummary, Result<Response<AlertSummary>, RetryLater>) {
        self.handle_counted(event).await
    }
}

/// Delivers `first` to `h` with `deadline_ms` of Lambda time, then whatever the trigger would
/// deliver again, until nothing is handed back. Every answer must come before the deadline.
async fn drive<H: Function>(h: &H, first: &str, deadline_ms: u64) -> Vec<Round<H::Summary>> {
    let mut rounds = Vec::new();
    let mut next = Some(first.to_string());
    while let Some(event) = next.take() {
        assert!(
            rounds.len() < MAX_ROUNDS,
            "still handed back after {MAX_ROUNDS} deliveries: {}",
            trace(&rounds).join(" ")
        );
        let started = Instant::now();
        let (summary, answer) = h.deliver(invoke(&event, deadline_ms)).await;
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

/// [`drive`] with an ordinary deadline; then checks the answers (`want`, as [`trace`] shows
/// them) and the counts of every round.
async fn settle<H: Counted>(
    h: &H,
    event: &str,
    want: &[&str],
    what: &str,
) -> Vec<Round<H::Summary>> {
    let rounds = drive(h, event, LONG_DEADLINE_MS).await;
    check_rounds::<H>(&rounds, want, what);
    rounds
}

/// The answers of `rounds` are `want`, and the counts of every round add up.
fn check_rounds<H: Counted>(rounds: &[Round<H::Summary>], want: &[&str], what: &str) {
    assert_eq!(trace(rounds), want, "{what}");
    rounds.iter().for_each(|r| H::check_counts(&r.summary));
}

/// The first delivery of `event` with [`SHORT_DEADLINE_MS`] left, meeting answers that `held`
/// (the proxy) keeps past it: the function must answer before the deadline. Then the fault
/// passes (`held` heals) and the redeliveries go as in [`settle`].
async fn settle_after_slow<H: Counted>(
    h: &H,
    event: &str,
    held: &Proxy,
    want: &[&str],
    what: &str,
) -> Vec<Round<H::Summary>> {
    let started = Instant::now();
    let (summary, answer) = h.deliver(invoke(event, SHORT_DEADLINE_MS)).await;
    let took = started.elapsed();
    assert!(
        took < Duration::from_millis(SHORT_DEADLINE_MS),
        "{what}: {took:?}"
    );
    held.heal();
    let mut rounds = vec![Round { summary, answer }];
    if let Some(again) = redelivery(event, &rounds[0].answer) {
        rounds.extend(drive(h, &again, LONG_DEADLINE_MS).await);
    }
    check_rounds::<H>(&rounds, want, what);
    rounds
}

/// What [`settle_after_slow`] sees, per input, when every write's answer is held past the
/// deadline: the direct invocation fails, Kinesis gets both data records back; the
/// redelivery finishes.
const SLOW_CASES: [(&str, &[&str]); 2] = [
    ("direct/app-json.json", &["error", "ok"]),
    ("kinesis/fanout.json", &["kinesis[8890,8891]", "kinesis[]"]),
];

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
            Ok(Response::Sqs {
                batch_item_failures,
            }) => format!(
                "sqs[{}]",
                batch_item_failures
                    .iter()
                    .map(|f| f.item_identifier.as_str())
                    .collect::<Vec<_>>()
                    .join(",")
            ),
            Ok(Response::BatchOperations(a)) => format!(
                "batch[{}]",
                a.results
                    .iter()
                    .map(|r| r.result_code)
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
    let os = OpenSearchIndex::new(&plain_opensearch_url().expect("checked"), Auth::None)
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

/// A bucket of its own in moto, and a fault proxy in front of moto for the archive function's
/// S3 client.
struct ArchiveRig {
    bucket: String,
    s3: Proxy,
}

impl ArchiveRig {
    async fn new(tag: &str) -> ArchiveRig {
        ArchiveRig {
            bucket: new_bucket(tag).await,
            s3: Proxy::start(&moto_url()).await,
        }
    }

    /// The archive function writing to the bucket through the proxy.
    fn archiver(&self) -> Archiver<S3Archive> {
        let config = Config::from_toml(
            &format!("[archive]\nbucket = \"{}\"\n", self.bucket),
            &region_env,
        )
        .expect("config");
        Archiver::new(
            config,
            S3Archive::new(&sdk_at(&self.s3.url), &self.bucket, None).with_backoff(fast()),
        )
    }

    /// What the bucket holds, after checking that every event of `expected` is in exactly
    /// one archive object and nothing else is archived.
    async fn archived_once(&self, what: &str, expected: &BTreeSet<Ev>) -> BucketContents {
        let contents = bucket_contents(&self.bucket).await;
        assert_archived_once(what, &contents, expected);
        contents
    }
}

/// Indices `{prefix}-…` and a bucket (for dead letters) of their own, and fault proxies in
/// front of the cluster and of moto for the index function's clients.
struct IndexRig {
    prefix: String,
    bucket: String,
    os: Proxy,
    s3: Proxy,
}

impl IndexRig {
    async fn new(cluster: &str, tag: &str) -> IndexRig {
        IndexRig {
            prefix: unique(tag),
            bucket: new_bucket(tag).await,
            os: Proxy::start(cluster).await,
            s3: Proxy::start(&moto_url()).await,
        }
    }

    /// The index function of the rig's indices.
    fn indexer(&self) -> Indexer<OpenSearchIndex, S3Archive> {
        self.indexer_to(&self.prefix)
    }

    /// The index function sending to `{prefix}-d-…` (quarantine `{prefix}-q-…`) through the
    /// cluster's proxy, with dead letters to the bucket through the S3 proxy.
    fn indexer_to(&self, prefix: &str) -> Indexer<OpenSearchIndex, S3Archive> {
        let toml = format!(
            "[index]\nendpoint = \"{}\"\nauth = \"none\"\ninstall_template = false\n\
             index = \"{prefix}-d-{{yyyy.MM.dd}}\"\nquarantine_index = \"{prefix}-q-{{yyyy.MM.dd}}\"\n\
             \n[archive]\nbucket = \"{}\"\n",
            self.os.url, self.bucket
        );
        let config = Config::from_toml(&toml, &region_env).expect("config");
        Indexer::new(
            config,
            OpenSearchIndex::new(&self.os.url, Auth::None).expect("proxy url"),
            Some(S3Archive::new(&sdk_at(&self.s3.url), &self.bucket, None).with_backoff(fast())),
        )
        .expect("indexing is on")
        .with_backoff(fast())
    }

    /// [`assert_indexed_once`] over the rig's indices.
    async fn indexed_once(
        &self,
        what: &str,
        expected: &BTreeSet<Ev>,
        dead_lettered: &BTreeSet<Ev>,
    ) -> BTreeSet<String> {
        assert_indexed_once(what, &self.prefix, expected, dead_lettered).await
    }
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
                let rig = ArchiveRig::new("s3burst").await;
                rig.s3.rule(
                    |r| r.is_put_object(),
                    Action::Answer(Reply::s3_error(status, code)),
                    burst,
                );
                let event = sample("direct/app-json.json");
                settle(&rig.archiver(), &event, &want, &what).await;
                assert_eq!(rig.s3.count("answer"), burst, "{what}");
                let expected = expected_events(&event);
                assert_eq!(expected.len(), 5);
                let contents = rig.archived_once(&what, &expected).await;
                assert!(contents.dead_letters.is_empty(), "{what}");
            }

            // Kinesis: the CloudTrail object fails twice (absorbed), the payments object four
            // times (its record is handed back once).
            let what = format!("kinesis, {status} {code}");
            let rig = ArchiveRig::new("s3burstk").await;
            rig.s3
                .rule(
                    |r| r.is_put_object() && contains(r, CLOUDTRAIL),
                    Action::Answer(Reply::s3_error(status, code)),
                    2,
                )
                .rule(
                    |r| r.is_put_object() && contains(r, "payments-prod"),
                    Action::Answer(Reply::s3_error(status, code)),
                    4,
                );
            let event = sample("kinesis/fanout.json");
            let want = ["kinesis[8891]", "kinesis[]"];
            let rounds = settle(&rig.archiver(), &event, &want, &what).await;
            assert_eq!(rounds[0].summary.pending_events, 3, "{what}");
            let expected = expected_events(&event);
            assert_eq!(expected.len(), 6);
            let contents = rig.archived_once(&what, &expected).await;
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
        let what = "landed but 500";
        let rig = ArchiveRig::new("s3landed").await;
        rig.s3.rule(
            |r| r.is_put_object(),
            Action::ForwardThenAnswer(Reply::s3_error(500, "InternalError")),
            4,
        );
        let event = sample("direct/app-json.json");
        settle(&rig.archiver(), &event, &["error", "ok"], what).await;
        assert_eq!(rig.s3.count("forward-then-answer"), 4);
        let contents = rig.archived_once(what, &expected_events(&event)).await;
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
        let what = "reset mid-answer";
        let rig = ArchiveRig::new("s3reset").await;
        rig.s3
            .rule(
                |r| r.is_put_object() && contains(r, CLOUDTRAIL),
                Action::ForwardThenReset,
                1,
            )
            .rule(
                |r| r.is_put_object() && contains(r, "payments-prod"),
                Action::ForwardThenReset,
                4,
            );
        let event = sample("kinesis/fanout.json");
        let want = ["kinesis[8891]", "kinesis[]"];
        settle(&rig.archiver(), &event, &want, what).await;
        assert_eq!(rig.s3.count("forward-then-reset"), 5);
        let contents = rig.archived_once(what, &expected_events(&event)).await;
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
        for (name, want) in SLOW_CASES {
            let rig = ArchiveRig::new("s3slow").await;
            rig.s3.rule(
                |r| r.is_put_object(),
                Action::ForwardThenHold(HOLD),
                usize::MAX,
            );
            let event = sample(name);
            // The first delivery meets the held answers; then the fault passes.
            let rounds = settle_after_slow(&rig.archiver(), &event, &rig.s3, want, name).await;
            let first = &rounds[0].summary;
            assert_eq!(first.pending_events, first.events, "{name}");
            rig.archived_once(name, &expected_events(&event)).await;
        }
    })
    .await;
}

/// The archive function over [`mixed_kinesis_batch`] while the payments object keeps failing
/// (503 SlowDown for four attempts: more than one invocation's three), delivered until
/// settled: that record is handed back once. Returns the batch and what the bucket holds.
async fn archive_mixed_batch(tag: &str) -> (String, BucketContents) {
    let rig = ArchiveRig::new(tag).await;
    rig.s3.rule(
        |r| r.is_put_object() && contains(r, "payments-prod"),
        Action::Answer(Reply::s3_error(503, "SlowDown")),
        4,
    );
    let event = mixed_kinesis_batch();
    let want = ["kinesis[8891]", "kinesis[]"];
    settle(&rig.archiver(), &event, &want, tag).await;
    (event, bucket_contents(&rig.bucket).await)
}

/// A Kinesis batch with an undecodable record and a record whose object keeps failing (503
/// SlowDown for four attempts: more than one invocation's three): the bad record is
/// dead-lettered (never handed back), the failing one is handed back until written; the
/// batch is redelivered from the failed record on (the bad record with it).
#[tokio::test]
async fn s3_kinesis_batch_with_a_bad_record_and_a_record_that_keeps_failing() {
    bounded(async {
        let (event, contents) = archive_mixed_batch("s3mixed").await;
        let expected = expected_events(&event);
        assert_eq!(expected.len(), 6);
        assert_archived_once("mixed batch", &contents, &expected);
        // The bad record, byte for byte, with its error file.
        let bad = bad_record();
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
        let (_, contents) = archive_mixed_batch("s3dltwice").await;
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
        let rig = ArchiveRig::new("s3refused").await;
        rig.s3.rule(
            |r| r.is_put_object() && !contains(r, "/dead-letter/"),
            Action::Answer(Reply::s3_error(403, "AccessDenied")),
            usize::MAX,
        );
        let event = sample("kinesis/fanout.json");
        let rounds = settle(&rig.archiver(), &event, &["kinesis[]"], "refused").await;
        let s = &rounds[0].summary;
        assert_eq!((s.dead_lettered_events, s.dead_letters), (6, 2), "{s:?}");
        let contents = bucket_contents(&rig.bucket).await;
        assert!(contents.archived.is_empty());
        assert_eq!(contents.dead_lettered_events(), expected_events(&event));
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
    with_cluster(async |cluster| {
        for (name, want) in [
            ("direct/app-json.json", "ok"),
            ("kinesis/fanout.json", "kinesis[]"),
        ] {
            let rig = IndexRig::new(cluster, "os429").await;
            let event = sample(name);
            let expected = expected_events(&event);
            let storm: BTreeSet<String> = expected.iter().step_by(2).map(Ev::doc_id).collect();
            rig.os.rule(
                Request::is_bulk,
                Action::BulkItems(item_fault(storm, 429, "es_rejected_execution_exception", 2)),
                usize::MAX,
            );
            let rounds = settle(&rig.indexer(), &event, &[want], name).await;
            let s = &rounds[0].summary;
            assert_eq!(s.indexed_events, expected.len(), "{name}: {s:?}");
            assert_eq!(s.requests, 3, "{name}: {s:?}");
            let indexed = rig.indexed_once(name, &expected, &BTreeSet::new()).await;
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
    with_cluster(async |cluster| {
        let rig = IndexRig::new(cluster, "os413").await;
        let event = sample("kinesis/fanout.json");
        let expected = expected_events(&event);
        // The limit: the size of the first (whole) request, learnt from a clean run into
        // throwaway indices, divided by 3.
        let probe = rig.indexer_to(&unique("os413p"));
        assert!(probe.handle(invoke(&event, LONG_DEADLINE_MS)).await.is_ok());
        let whole = rig.os.seen()[0].decoded_len;
        let limit = whole / 3;
        rig.os.rule(
            move |r| r.is_bulk() && r.decoded_body().len() > limit,
            Action::Answer(Reply::json(
                413,
                &json!({"Message": "Request size exceeded 1000 bytes"}),
            )),
            usize::MAX,
        );
        let seen_before = rig.os.seen().len();
        let rounds = settle(&rig.indexer(), &event, &["kinesis[]"], "413").await;
        let s = &rounds[0].summary;
        assert_eq!(s.indexed_events, 6, "{s:?}");
        let seen = &rig.os.seen()[seen_before..];
        assert!(
            seen.iter().filter(|r| r.action == "answer").count() >= 2,
            "{seen:?}"
        );
        for r in seen.iter().filter(|r| r.action == "forward") {
            assert!(r.decoded_len <= limit, "{r:?}");
        }
        rig.indexed_once("413", &expected, &BTreeSet::new()).await;
    })
    .await;
}

/// Whole-request 429 and 503 answered by the proxy: two in a row are absorbed by the
/// retries; four outlast the invocation's three attempts, and the redelivery finishes.
#[tokio::test]
async fn opensearch_whole_request_429_and_503_bursts() {
    with_cluster(async |cluster| {
        for status in [429, 503] {
            for (burst, want) in [(2, vec!["ok"]), (4, vec!["error", "ok"])] {
                let what = format!("{burst} x {status}");
                let rig = IndexRig::new(cluster, "osburst").await;
                rig.os.rule(
                    Request::is_bulk,
                    Action::Answer(Reply::json(
                        status,
                        &json!({"error": {"type": "injected", "reason": "by the fault proxy"}, "status": status}),
                    )),
                    burst,
                );
                let event = sample("direct/app-json.json");
                settle(&rig.indexer(), &event, &want, &what).await;
                let expected = expected_events(&event);
                rig.indexed_once(&what, &expected, &BTreeSet::new()).await;
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
    with_cluster(async |cluster| {
        for (what, action) in [
            (
                "forwarded, then 503",
                Action::ForwardThenAnswer(Reply::json(503, &json!({"message": "injected"}))),
            ),
            ("forwarded, then reset mid-answer", Action::ForwardThenReset),
        ] {
            let rig = IndexRig::new(cluster, "oslanded").await;
            rig.os.rule(Request::is_bulk, action, 4);
            let event = sample("direct/app-json.json");
            let rounds = settle(&rig.indexer(), &event, &["error", "ok"], what).await;
            let last = &rounds[1].summary;
            assert_eq!(
                (last.indexed_events, last.existing_events),
                (0, 5),
                "{what}: {last:?}"
            );
            let expected = expected_events(&event);
            rig.indexed_once(what, &expected, &BTreeSet::new()).await;
        }
    })
    .await;
}

/// `_bulk` forwarded at once, its answer held past the deadline: the handler answers in time
/// with everything handed back (Kinesis: both data records; direct: an error); the redelivery
/// finds the documents already there.
#[tokio::test]
async fn opensearch_answers_slower_than_the_lambda_deadline() {
    with_cluster(async |cluster| {
        for (name, want) in SLOW_CASES {
            let rig = IndexRig::new(cluster, "osslow").await;
            rig.os
                .rule(Request::is_bulk, Action::ForwardThenHold(HOLD), usize::MAX);
            let event = sample(name);
            let rounds = settle_after_slow(&rig.indexer(), &event, &rig.os, want, name).await;
            let first = &rounds[0].summary;
            assert_eq!(first.pending_events, first.events, "{name}: {first:?}");
            let expected = expected_events(&event);
            let last = &rounds[rounds.len() - 1].summary;
            assert_eq!(last.existing_events, expected.len(), "{name}: {last:?}");
            rig.indexed_once(name, &expected, &BTreeSet::new()).await;
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
    with_cluster(async |cluster| {
        let rig = IndexRig::new(cluster, "osmixed").await;
        let event = mixed_kinesis_batch();
        let expected = expected_events(&event);
        let cloudtrail: BTreeSet<Ev> = expected
            .iter()
            .filter(|e| e.group == CLOUDTRAIL)
            .cloned()
            .collect();
        let payments = doc_ids(expected.iter().filter(|e| e.group == PAYMENTS));
        let refused = doc_ids(&cloudtrail);
        let throttle = item_fault(payments, 429, "es_rejected_execution_exception", 4);
        rig.os.rule(
            Request::is_bulk,
            Action::BulkItems(Arc::new(move |i, action| {
                if refused.contains(&action_id(action)) {
                    return Some((403, "cluster_block_exception".into()));
                }
                throttle(i, action)
            })),
            usize::MAX,
        );
        rig.s3.rule(
            |r| r.is_put_object() && contains(r, "/dead-letter/"),
            Action::Answer(Reply::s3_error(503, "SlowDown")),
            3,
        );
        let want = ["kinesis[8890,8891]", "kinesis[]"];
        settle(&rig.indexer(), &event, &want, "mixed batch").await;
        let contents = bucket_contents(&rig.bucket).await;
        let dead = contents.dead_lettered_events();
        assert_eq!(dead, cloudtrail, "only the refused record's events");
        let indexed = rig.indexed_once("mixed batch", &expected, &dead).await;
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

/// The records of a Firehose answer (the only round a Firehose delivery has).
fn firehose_records<S: std::fmt::Debug>(rounds: &[Round<S>]) -> &[cwlogs_lambda::FirehoseRecord] {
    match &rounds[0].answer {
        Ok(Response::Firehose { records }) => records,
        other => panic!("{other:?}"),
    }
}

/// The records of a Firehose event whose `recordId` `keep` says.
fn firehose_event_records(event: &Value, keep: impl Fn(&Value) -> bool) -> Vec<Value> {
    event["records"]
        .as_array()
        .expect("records")
        .iter()
        .filter(|r| keep(r))
        .cloned()
        .collect()
}

/// A Firehose transformation while the cluster answers 503 to the deadline: every record is
/// answered `ProcessingFailed` with its original data (Firehose keeps those in its error
/// output), in time. Replayed from that output once the cluster is back: `Ok`, each event
/// indexed once.
#[tokio::test]
async fn opensearch_firehose_records_failing_to_the_deadline_keep_their_data() {
    with_cluster(async |cluster| {
        let rig = IndexRig::new(cluster, "osfh").await;
        rig.os.rule(
            Request::is_bulk,
            Action::Answer(Reply::json(503, &json!({"message": "injected"}))),
            usize::MAX,
        );
        let h = rig.indexer();
        let event = sample("firehose/transform.json");
        let rounds = drive(&h, &event, SHORT_DEADLINE_MS).await;
        let original: Value = serde_json::from_str(&event).expect("json");
        let data_records = firehose_event_records(&original, |r| {
            !events_of_data(r["data"].as_str().unwrap_or("")).is_empty()
        });
        let failed: Vec<_> = firehose_records(&rounds)
            .iter()
            .filter(|r| r.result == FirehoseResult::ProcessingFailed)
            .collect();
        assert_eq!(failed.len(), data_records.len(), "{:?}", trace(&rounds));
        for (f, r) in failed.iter().zip(&data_records) {
            assert_eq!(f.record_id, r["recordId"].as_str().expect("recordId"));
            assert_eq!(f.data, r["data"].as_str().expect("data"));
        }
        Indexer::check_counts(&rounds[0].summary);

        // The operator replays the error output once the cluster is back.
        rig.os.heal();
        let mut replay = original.clone();
        let ids: BTreeSet<&str> = failed.iter().map(|f| f.record_id.as_str()).collect();
        replay["records"] = firehose_event_records(&original, |r| {
            ids.contains(r["recordId"].as_str().unwrap_or(""))
        })
        .into();
        let again = drive(&h, &replay.to_string(), LONG_DEADLINE_MS).await;
        assert!(
            firehose_records(&again)
                .iter()
                .all(|r| r.result == FirehoseResult::Ok),
            "{:?}",
            trace(&again)
        );
        let expected = expected_events(&event);
        assert!(!expected.is_empty());
        rig.indexed_once("firehose", &expected, &BTreeSet::new())
            .await;
    })
    .await;
}

// ---------------------------------------------------------------- alert function (SNS)

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
            let table = state_table(&moto, "state").await;
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
            let h = alerter(&wiring.topic.arn, &moto, &table, &sdk_at(&sns.url), None);
            let data = cloudtrail_data(true);
            let event = if kinesis {
                kinesis_event(&[(
                    "49590338271490256608559692538361571095921575989136588890".into(),
                    data,
                )])
            } else {
                direct_event(&data)
            };
            let rounds = drive(&h, &event, LONG_DEADLINE_MS).await;
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
                kinds_and_users(&wiring.drain(3).await),
                alerts_and_summary(),
                "{what}"
            );
        }
    })
    .await;
}

/// SNS takes the publish, then the answer is lost: the connection reset mid-answer, or the
/// answer held past the Lambda deadline. The alert function cannot know the message went out,
/// so it retries (in the invocation, or by handing the record back); on a FIFO topic the
/// `MessageDeduplicationId` makes the repeats no-ops, and the subscriber gets each alert and
/// summary exactly once. (A standard topic has no deduplication: there a lost answer means a
/// repeated message, a documented limit.)
#[tokio::test]
async fn sns_answers_lost_after_the_publish_send_each_alert_once_on_fifo_topics() {
    bounded(async {
        let moto = sdk_at(&moto_url());
        let cases = [
            (
                "reset mid-answer",
                Action::ForwardThenReset,
                LONG_DEADLINE_MS,
            ),
            (
                "answer held past the deadline",
                Action::ForwardThenHold(Duration::from_millis(SHORT_DEADLINE_MS * 2)),
                SHORT_DEADLINE_MS,
            ),
        ];
        for (what, action, deadline_ms) in cases {
            let wiring = Wiring::new(&moto, true).await;
            let table = state_table(&moto, "state").await;
            let sns = Proxy::start(&moto_url()).await;
            let name = action.name();
            sns.rule(
                |r| r.is_sns_publish() && String::from_utf8_lossy(&r.body).contains("intruder"),
                action,
                2,
            );
            let h = alerter(&wiring.topic.arn, &moto, &table, &sdk_at(&sns.url), None);
            let rounds = drive(&h, &direct_event(&cloudtrail_data(true)), deadline_ms).await;
            assert_eq!(sns.count(name), 2, "{what}: the fault happened");
            each_alert_once_in_the_end(what, &rounds, &wiring).await;
        }
    })
    .await;
}

/// SNS hangs: every publish of the intruder's alert gets no answer before the Lambda deadline
/// (standard topic, nothing reaches it). The claim of the unsent alert must be undone although
/// the send deadline has passed (else the redelivery finds its batch claimed and sends
/// nothing): the record is handed back, and the redelivery sends each alert once.
#[tokio::test]
async fn sns_hanging_past_the_deadline_hands_the_record_back_and_the_alert_goes_out() {
    bounded(async {
        let moto = sdk_at(&moto_url());
        let wiring = Wiring::new(&moto, false).await;
        let table = state_table(&moto, "state").await;
        let sns = Proxy::start(&moto_url()).await;
        let hang = Action::Hold(
            Duration::from_millis(SHORT_DEADLINE_MS * 2),
            Reply::sns_error(500, "Receiver", "InternalError"),
        );
        sns.rule(
            |r| r.is_sns_publish() && String::from_utf8_lossy(&r.body).contains("intruder"),
            hang,
            1,
        );
        let h = alerter(&wiring.topic.arn, &moto, &table, &sdk_at(&sns.url), None);
        let rounds = drive(&h, &direct_event(&cloudtrail_data(true)), SHORT_DEADLINE_MS).await;
        assert_eq!(trace(&rounds), ["error", "ok"]);
        assert_eq!(sns.count("hold"), 1);
        assert_eq!(
            kinds_and_users(&wiring.drain(3).await),
            alerts_and_summary()
        );
    })
    .await;
}

/// The alert state table misbehaves: DynamoDB throttles (`ProvisionedThroughputExceeded`), and
/// claims that were stored lose their answer (reset mid-answer). A lost answer is retried, and
/// the retry's failed condition is recognised as this writer's own earlier attempt (the
/// writer token returned with the failure); throttling is retried. Each alert and summary
/// still reaches the subscriber once, on a standard topic.
#[tokio::test]
async fn state_table_throttling_and_lost_answers_send_each_alert_once() {
    bounded(async {
        let moto = sdk_at(&moto_url());
        let throttled = Reply::new(
            400,
            "application/x-amz-json-1.0",
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException","message":"injected by the fault proxy"}"#,
        );
        let cases = [
            ("throttled", Action::Answer(throttled)),
            ("claims stored, answers lost", Action::ForwardThenReset),
        ];
        for (what, action) in cases {
            let wiring = Wiring::new(&moto, false).await;
            let table = state_table(&moto, "state").await;
            let dynamo = Proxy::start(&moto_url()).await;
            let name = action.name();
            dynamo.rule(
                |r| {
                    r.header("x-amz-target")
                        .is_some_and(|t| t.ends_with(".PutItem"))
                },
                action,
                3,
            );
            let h = alerter(&wiring.topic.arn, &sdk_at(&dynamo.url), &table, &moto, None);
            let rounds = drive(&h, &direct_event(&cloudtrail_data(true)), LONG_DEADLINE_MS).await;
            assert_eq!(dynamo.count(name), 3, "{what}: the fault happened");
            each_alert_once_in_the_end(what, &rounds, &wiring).await;
        }
    })
    .await;
}

/// SNS refuses the intruder's messages for good (`AuthorizationError`), and the bucket the
/// dead letters go to answers `503 SlowDown` twice: the refused alert and summary are kept as
/// dead letters (retried into the bucket, each once), the deployer's alert is published, and
/// the invocation succeeds (a refusal is not retried).
#[tokio::test]
async fn alerts_sns_refuses_are_dead_lettered_through_a_slow_bucket() {
    bounded(async {
        let moto = sdk_at(&moto_url());
        let wiring = Wiring::new(&moto, false).await;
        let table = state_table(&moto, "state").await;
        let bucket = new_bucket("alert-dl").await;
        let sns = Proxy::start(&moto_url()).await;
        sns.rule(
            |r| r.is_sns_publish() && String::from_utf8_lossy(&r.body).contains("intruder"),
            Action::Answer(Reply::sns_error(403, "Sender", "AuthorizationError")),
            usize::MAX,
        );
        let s3 = Proxy::start(&moto_url()).await;
        s3.rule(
            |r| r.is_put_object(),
            Action::Answer(Reply::s3_error(503, "SlowDown")),
            2,
        );
        let h = alerter(
            &wiring.topic.arn,
            &moto,
            &table,
            &sdk_at(&sns.url),
            Some(S3Archive::new(&sdk_at(&s3.url), &bucket, None).with_backoff(fast())),
        );
        let rounds = drive(&h, &direct_event(&cloudtrail_data(true)), LONG_DEADLINE_MS).await;
        assert_eq!(trace(&rounds), ["ok"]);
        assert_eq!(rounds[0].summary.dead_letters, 2, "{:?}", rounds[0].summary);
        assert_eq!(s3.count("answer"), 2, "the bucket's faults happened");
        // Published: the deployer's alert only.
        let received = kinds_and_users(&wiring.drain(1).await);
        assert_eq!(
            received,
            [("alert".to_string(), common::DEPLOYER.to_string())]
        );
        // Kept: the intruder's alert and summary, each once, with the refusal.
        let contents = bucket_contents(&bucket).await;
        assert_eq!(
            contents.dead_letters.len(),
            2,
            "{:?}",
            contents.dead_letters.keys()
        );
        let mut kinds: Vec<String> = contents
            .dead_letters
            .values()
            .map(|body| {
                let m: Value = serde_json::from_slice(body).expect("the SNS message, as JSON");
                let inner: Value =
                    serde_json::from_str(m["message"].as_str().expect("message")).expect("body");
                assert!(inner.to_string().contains("intruder"), "{inner}");
                inner["kind"].as_str().unwrap_or_default().to_string()
            })
            .collect();
        kinds.sort();
        assert_eq!(kinds, ["alert", "summary"]);
        for error in contents.error_files.values() {
            assert!(error.to_string().contains("AuthorizationError"), "{error}");
        }
    })
    .await;
}
