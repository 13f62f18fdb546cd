//! `OpenSearchIndex` with `send_items` / `index_items` (and the index function's handler)
//! against a real OpenSearch API: osmem-server started by `scripts/test.sh`, or the cluster
//! `OPENSEARCH_URL` points at. Every test writes to indices and templates of its own
//! (`cwlt-<test>-<pid>-<time>-<n>-…`) and deletes them when it ends.
//!
//! What osmem cannot do (whole-request 413 with AWS's body, whole 429 and 5xx, 401/403,
//! resets, slow answers) is played by a local stub in `tests/opensearch_faults.rs`.
#![cfg(feature = "integration")]

use cwlogs_aws::{Auth, OpenSearchIndex};
use cwlogs_lambda::{IndexSummary, Indexer, Response};
use cwlogs_pipeline::index::{BulkOptions, BulkReport, Fate, index_items, send_items};
use cwlogs_pipeline::{Backoff, Config, IndexConfig, MemoryArchive, process_batch, process_input};
use cwlogs_testkit::events::{direct_event_of, envelope, sample_bytes};
use cwlogs_testkit::lambda::invocation;
use cwlogs_testkit::services::opensearch_url;
use lambda_runtime::LambdaEvent;
use opensearch::http::Method;
use serde_json::json;
use serde_json::value::RawValue;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn client() -> OpenSearchIndex {
    OpenSearchIndex::new(&opensearch_url(), Auth::None).expect("a valid OPENSEARCH_URL")
}

/// A fast retry schedule for what should not need retries.
fn fast() -> Backoff {
    Backoff {
        base: Duration::from_millis(5),
        cap: Duration::from_millis(20),
        max_attempts: 4,
    }
}

fn options(compress: bool, backoff: Backoff) -> BulkOptions {
    BulkOptions {
        compress,
        backoff,
        ..BulkOptions::default()
    }
}

/// Indices, templates and a configuration of one test's own: documents go to
/// `<prefix>-d-<date>`, quarantined ones to `<prefix>-q-<date>`. Dropping it deletes them.
struct Scratch {
    os: OpenSearchIndex,
    prefix: String,
    config: Config,
}

impl Scratch {
    fn new(tag: &str) -> Scratch {
        static N: AtomicU32 = AtomicU32::new(0);
        let millis = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() % 1_000_000_000);
        let prefix = format!(
            "cwlt-{tag}-{}-{millis}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        );
        let toml = format!(
            "[index]\nindex = \"{prefix}-d-{{yyyy.MM.dd}}\"\n\
             quarantine_index = \"{prefix}-q-{{yyyy.MM.dd}}\"\n"
        );
        let config = Config::from_toml(&toml, &|k| {
            (k == "AWS_REGION").then(|| "eu-west-1".to_string())
        })
        .unwrap_or_else(|e| panic!("test config: {e:?}"));
        Scratch {
            os: client(),
            prefix,
            config,
        }
    }

    fn index(&self) -> &IndexConfig {
        self.config.index.as_ref().expect("indexing is on")
    }

    /// The `_bulk` items of `input` (any supported shape) and its number of log events.
    fn items(&self, input: &[u8]) -> (Vec<Vec<u8>>, usize) {
        let config = &self.config;
        let processed = process_input(config, "test", "test", input, |region, batch| {
            process_batch(config, region, batch)
        });
        assert!(processed.dead.is_none(), "{:?}", processed.dead);
        let mut items = Vec::new();
        let mut events = 0;
        for record in &processed.records {
            assert!(record.dead.is_none(), "{:?}", record.dead);
            events += record.events;
            for out in &record.outputs {
                for chunk in &out.bulk {
                    items.extend(chunk.items().map(<[u8]>::to_vec));
                }
            }
        }
        (items, events)
    }

    async fn send(&self, items: &[Vec<u8>], options: &BulkOptions) -> BulkReport {
        let refs: Vec<&[u8]> = items.iter().map(Vec::as_slice).collect();
        send_items(&self.os, &refs, options, None).await
    }

    async fn index_items(&self, items: &[Vec<u8>], options: &BulkOptions) -> BulkReport {
        let refs: Vec<&[u8]> = items.iter().map(Vec::as_slice).collect();
        index_items(&self.os, &refs, self.index(), options, None).await
    }

    /// Documents in the main indices, after a refresh.
    async fn count(&self) -> u64 {
        self.count_in(&format!("{}-d-*", self.prefix)).await
    }

    /// Documents in the quarantine indices, after a refresh.
    async fn quarantined(&self) -> u64 {
        self.count_in(&format!("{}-q-*", self.prefix)).await
    }

    async fn count_in(&self, pattern: &str) -> u64 {
        self.os.refresh(pattern).await.expect("refresh");
        self.os.count(pattern).await.expect("count")
    }

    /// Sets (or with `null`, lifts) an index setting.
    async fn set(&self, index: &str, setting: &str, value: serde_json::Value) {
        self.os
            .json(
                Method::Put,
                &format!("{index}/_settings"),
                Some(&json!({ setting: value })),
            )
            .await
            .unwrap_or_else(|e| panic!("PUT {index}/_settings {setting}: {e}"));
    }

    async fn create_index(&self, index: &str) {
        self.os
            .json(Method::Put, index, Some(&json!({})))
            .await
            .unwrap_or_else(|e| panic!("PUT {index}: {e}"));
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        // A fresh client on a runtime of its own: the test's runtime may be shutting down.
        let prefix = self.prefix.clone();
        let cleanup = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async {
                let os = client();
                let listed = os
                    .json(
                        Method::Get,
                        &format!("_cat/indices/{prefix}-*?format=json&h=index"),
                        None,
                    )
                    .await;
                for row in listed
                    .ok()
                    .and_then(|v| v.as_array().cloned())
                    .unwrap_or_default()
                {
                    if let Some(index) = row["index"].as_str() {
                        let _ = os.json(Method::Delete, index, None).await;
                    }
                }
                for template in [
                    format!("cwlogs-{prefix}-d"),
                    format!("cwlogs-quarantine-{prefix}-q"),
                ] {
                    let _ = os
                        .json(Method::Delete, &format!("_index_template/{template}"), None)
                        .await;
                }
            });
        });
        let _ = cleanup.join();
    }
}

/// The `_index` of a `_bulk` item.
fn index_of(item: &[u8]) -> String {
    let action = item.split(|&b| b == b'\n').next().unwrap_or_default();
    let v: serde_json::Value = serde_json::from_slice(action).expect("an action line");
    v.as_object()
        .and_then(|o| o.values().next())
        .and_then(|m| m["_index"].as_str())
        .expect("_index")
        .to_string()
}

/// The one index all of `items` go to.
fn single_index(items: &[Vec<u8>]) -> String {
    let index = index_of(&items[0]);
    assert!(items.iter().all(|i| index_of(i) == index));
    index
}

/// A direct subscription event (`{"awslogs": {"data": ...}}`) carrying `messages` from one log
/// stream, at one time, with event ids starting at `first_id`.
fn direct_event(messages: &[serde_json::Value], first_id: u64) -> Vec<u8> {
    let events: Vec<serde_json::Value> = messages
        .iter()
        .enumerate()
        .map(|(i, m)| {
            json!({
                "id": format!("{:056}", first_id + i as u64),
                "timestamp": 1_764_028_860_000_i64 + i as i64,
                "message": m.to_string(),
            })
        })
        .collect();
    direct_event_of(&envelope("/cwlogs/test/mapping", "app/1", events)).into_bytes()
}

#[tokio::test]
async fn every_sample_is_counted_once_however_often_it_is_sent() {
    for name in [
        "direct/app-json.json",
        "direct/cloudtrail.json",
        "direct/vpc-flow.json",
        "direct/lambda-runtime.json",
        "direct/apache-access.json",
        "kinesis/fanout.json",
        "firehose/transform.json",
    ] {
        let s = Scratch::new("count");
        s.os.install_templates(s.index())
            .await
            .expect("install templates");
        let (items, events) = s.items(&sample_bytes(name));
        assert!(events > 0 && items.len() == events, "{name}");
        let options = options(true, fast());

        let first = s.index_items(&items, &options).await;
        assert_eq!(first.created(), events, "{name}: {:?}", first.fates);
        assert_eq!(s.count().await, events as u64, "{name}");

        let second = s.index_items(&items, &options).await;
        assert_eq!(second.existed(), events, "{name}: {:?}", second.fates);
        assert_eq!(s.count().await, events as u64, "{name}: no duplicates");
        assert_eq!(s.quarantined().await, 0, "{name}");
    }
}

#[tokio::test]
async fn installed_templates_map_the_time_and_ids() {
    let s = Scratch::new("templates");
    let names =
        s.os.install_templates(s.index())
            .await
            .expect("install templates");
    assert_eq!(
        names,
        [
            format!("cwlogs-{}-d", s.prefix),
            // `[sources.s3] index` (default `cwl-s3-...`), which this index pattern does not
            // cover.
            "cwlogs-cwl-s3".to_string(),
            format!("cwlogs-quarantine-{}-q", s.prefix)
        ]
    );
    let (items, events) = s.items(&sample_bytes("direct/app-json.json"));
    let r = s.index_items(&items, &options(true, fast())).await;
    assert_eq!(r.created(), events, "{:?}", r.fates);

    let index = single_index(&items);
    let mapping =
        s.os.json(Method::Get, &format!("{index}/_mapping"), None)
            .await
            .expect("mapping");
    let properties = &mapping[&index]["mappings"]["properties"];
    assert_eq!(properties["@timestamp"]["type"], "date", "{mapping}");
    assert_eq!(
        properties["event"]["properties"]["id"]["type"], "keyword",
        "{mapping}"
    );
    assert_eq!(
        properties["aws"]["properties"]["cloudwatch"]["properties"]["log_group"]["type"], "keyword",
        "{mapping}"
    );
    assert_eq!(properties["message"]["type"], "text", "{mapping}");

    // Time-range queries work on the mapped date.
    s.os.refresh(&index).await.expect("refresh");
    let found = s
        .os
        .json(
            Method::Post,
            &format!("{index}/_search"),
            Some(&json!({
                "size": 0,
                "track_total_hits": true,
                "query": {"range": {"@timestamp": {"gte": "2025-11-25T00:00:00Z", "lt": "2025-11-26T00:00:00Z"}}}
            })),
        )
        .await
        .expect("search");
    assert_eq!(found["hits"]["total"]["value"], events, "{found}");
}

#[tokio::test]
async fn throttled_items_are_retried_until_the_block_is_lifted() {
    let s = Scratch::new("throttled");
    let (items, events) = s.items(&sample_bytes("direct/app-json.json"));
    let index = single_index(&items);
    s.create_index(&index).await;
    s.set(&index, "index.blocks.read_only_allow_delete", json!(true))
        .await;

    // Lifted after about a second, while the retries (up to ~8 s in all) go on.
    let lift = {
        let os = client();
        let index = index.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(1)).await;
            os.json(
                Method::Put,
                &format!("{index}/_settings"),
                Some(&json!({"index.blocks.read_only_allow_delete": null})),
            )
            .await
        })
    };
    let backoff = Backoff {
        base: Duration::from_millis(200),
        cap: Duration::from_secs(1),
        max_attempts: 12,
    };
    let r = s.send(&items, &options(true, backoff)).await;
    lift.await.expect("join").expect("lift the block");
    assert_eq!(r.created(), events, "{:?}", r.fates);
    assert!(r.retried_items > 0, "{r:?}");
    assert!(r.requests > 1, "{r:?}");
    assert_eq!(s.count().await, events as u64);
}

#[tokio::test]
async fn write_blocked_items_are_rejected_kept_and_sent_again_later() {
    let s = Scratch::new("blocked");
    let (items, events) = s.items(&sample_bytes("direct/app-json.json"));
    let index = single_index(&items);
    s.create_index(&index).await;
    s.set(&index, "index.blocks.write", json!(true)).await;

    let r = s.send(&items, &options(true, fast())).await;
    assert!(
        r.fates
            .iter()
            .all(|f| matches!(f, Fate::Rejected(m) if m.contains("write-blocked"))),
        "{:?}",
        r.fates
    );
    assert_eq!(r.requests, 1, "a block is not retried item by item");
    assert_eq!(s.count().await, 0);

    s.set(&index, "index.blocks.write", serde_json::Value::Null)
        .await;
    let r = s.send(&items, &options(true, fast())).await;
    assert_eq!(r.created(), events, "{:?}", r.fates);
    assert_eq!(s.count().await, events as u64);
}

fn event(bytes: &[u8]) -> LambdaEvent<Box<RawValue>> {
    let text = std::str::from_utf8(bytes).expect("a Lambda event is UTF-8 JSON");
    invocation(text, "req-opensearch-it", None)
}

async fn summary(h: &Indexer<OpenSearchIndex, MemoryArchive>, bytes: &[u8]) -> IndexSummary {
    match h.handle(event(bytes)).await {
        Ok(Response::Summary(s)) => s,
        other => panic!("not a summary: {other:?}"),
    }
}

#[tokio::test]
async fn the_handler_dead_letters_a_write_blocked_input_and_its_replay_indexes_it() {
    let s = Scratch::new("handler");
    let input = sample_bytes("direct/app-json.json");
    let (items, events) = s.items(&input);
    let index = single_index(&items);
    s.create_index(&index).await;
    s.set(&index, "index.blocks.write", json!(true)).await;

    let h = Indexer::new(s.config.clone(), client(), Some(MemoryArchive::new()))
        .expect("indexing is on")
        .with_backoff(fast());
    let blocked = summary(&h, &input).await;
    assert_eq!(
        (blocked.events, blocked.refused_events, blocked.dead_letters),
        (events, events, 1),
        "{blocked:?}"
    );
    assert_eq!(blocked.pending_records, 0, "{blocked:?}");
    assert_eq!(s.count().await, 0);

    let letters = h.dead_letters().expect("a dead-letter archive").objects();
    let (key, raw) = letters
        .iter()
        .find(|(k, _)| !k.ends_with(".error.json"))
        .expect("the input, dead-lettered");
    let delivered = event(&input).payload.get().as_bytes().to_vec();
    assert_eq!(raw.body, delivered, "{key}: the input as delivered");
    let error = letters
        .iter()
        .find(|(k, _)| k.ends_with(".error.json"))
        .map(|(_, o)| String::from_utf8_lossy(&o.body).into_owned())
        .expect("the error");
    assert!(error.contains("write-blocked"), "{error}");

    // Once writes are allowed, the dead letter's bytes fed back index everything.
    s.set(&index, "index.blocks.write", serde_json::Value::Null)
        .await;
    let replayed = summary(&h, &raw.body).await;
    assert_eq!(
        (replayed.indexed_events, replayed.dead_letters),
        (events, 0),
        "{replayed:?}"
    );
    assert_eq!(s.count().await, events as u64);
}

#[tokio::test]
async fn documents_that_conflict_with_the_mapping_go_to_quarantine() {
    let s = Scratch::new("mapping");
    s.os.install_templates(s.index())
        .await
        .expect("install templates");
    // `json.status` becomes an object field.
    let (first, _) = s.items(&direct_event(
        &[json!({"status": {"code": 500, "text": "boom"}, "msg": "first"})],
        1,
    ));
    let r = s.index_items(&first, &options(true, fast())).await;
    assert_eq!(r.created(), 1, "{:?}", r.fates);

    // Then three messages where it is a string, and two without it.
    let messages = [
        json!({"status": "failed", "msg": "a"}),
        json!({"msg": "b"}),
        json!({"status": "failed", "msg": "c"}),
        json!({"msg": "d"}),
        json!({"status": "ok", "msg": "e"}),
    ];
    let (items, events) = s.items(&direct_event(&messages, 100));
    assert_eq!(events, 5);
    let r = s.index_items(&items, &options(true, fast())).await;
    for (i, fate) in r.fates.iter().enumerate() {
        if messages[i].get("status").is_some() {
            assert!(
                matches!(fate, Fate::Quarantine { kind, .. } if kind == "mapper_parsing_exception"),
                "{i}: {fate:?}"
            );
        } else {
            assert_eq!(fate, &Fate::Done { created: true }, "{i}");
        }
    }
    assert_eq!(
        s.count().await,
        3,
        "the first document and the two without status"
    );
    assert_eq!(s.quarantined().await, 3);

    let found =
        s.os.json(
            Method::Post,
            &format!("{}-q-*/_search", s.prefix),
            Some(&json!({"size": 10})),
        )
        .await
        .expect("search the quarantine");
    let hits = found["hits"]["hits"].as_array().expect("hits");
    assert_eq!(hits.len(), 3, "{found}");
    let main_index = single_index(&items);
    for hit in hits {
        let doc = &hit["_source"];
        assert_eq!(doc["error"]["type"], "mapper_parsing_exception", "{doc}");
        assert_eq!(
            doc["cwlogs"]["original_index"],
            main_index.as_str(),
            "{doc}"
        );
        let original: serde_json::Value =
            serde_json::from_str(doc["event"]["original"].as_str().expect("event.original"))
                .expect("the original document");
        assert!(original["json"]["status"].is_string(), "{original}");
        assert_eq!(original["event"]["id"], doc["event"]["id"], "{doc}");
        // Quarantined under the same `_id`: sending again changes nothing.
    }
    let again = s.index_items(&items, &options(true, fast())).await;
    assert_eq!(again.count(|f| matches!(f, Fate::Quarantine { .. })), 3);
    assert_eq!(again.existed(), 2);
    assert_eq!(s.quarantined().await, 3, "no duplicates in quarantine");
}

#[tokio::test]
async fn gzip_on_and_off_both_index() {
    let input = sample_bytes("direct/cloudtrail.json");
    let mut sent = Vec::new();
    for compress in [true, false] {
        let s = Scratch::new(if compress { "gzip" } else { "plain" });
        let (items, events) = s.items(&input);
        let r = s.send(&items, &options(compress, fast())).await;
        assert_eq!(r.created(), events, "compress = {compress}: {:?}", r.fates);
        assert_eq!(s.count().await, events as u64);
        sent.push(r.bytes_sent);
    }
    assert!(sent[0] < sent[1], "gzip sends fewer bytes: {sent:?}");
}
