//! `DynamoStateStore` against a real DynamoDB API: moto in server mode, started by
//! `scripts/test.sh`, reached through the standard environment (`AWS_ENDPOINT_URL`,
//! `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`). Every test makes its own table (`pk` S hash
//! key, on demand, TTL on `expires_at`), with the SDK directly.
//!
//! What moto does not reproduce: it never deletes expired items (TTL is recorded, not acted
//! on; real DynamoDB deletes lazily, typically within days, so the store's own expiry check is
//! what both rely on), never throttles, and does not check IAM. A write whose answer is lost
//! is provoked here with a small TCP proxy in front of moto that drops the first answer.
#![cfg(feature = "integration")]

use crate::common;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, TableStatus, TimeToLiveSpecification};
use common::sdk;
use cwlogs_aws::DynamoStateStore;
use cwlogs_pipeline::{Backoff, Class, StateStore, StateWrite, Versioned};
use cwlogs_testkit::moto::{self, unique};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Creates a state table as the stack will (`moto::state_table`: `pk` (S) hash key alone, on
/// demand), waits until it is active, and turns TTL on `expires_at` on.
async fn new_table(sdk: &aws_config::SdkConfig, tag: &str) -> String {
    let client = Client::new(sdk);
    let table = moto::state_table(sdk, tag).await;
    let until = Instant::now() + Duration::from_secs(60);
    loop {
        let status = client
            .describe_table()
            .table_name(&table)
            .send()
            .await
            .expect("describe table")
            .table()
            .and_then(|t| t.table_status().cloned());
        if status == Some(TableStatus::Active) {
            break;
        }
        assert!(Instant::now() < until, "{table} not active: {status:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    client
        .update_time_to_live()
        .table_name(&table)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .enabled(true)
                .attribute_name("expires_at")
                .build()
                .expect("ttl specification"),
        )
        .send()
        .await
        .expect("enable TTL");
    table
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// An hour from now.
fn later() -> i64 {
    now() + 3600
}

fn versioned(value: &str, version: u64) -> Option<Versioned> {
    Some(Versioned {
        value: value.to_string(),
        version,
    })
}

/// The stored item, read with the SDK directly.
async fn raw_item(
    client: &Client,
    table: &str,
    key: &str,
) -> Option<std::collections::HashMap<String, AttributeValue>> {
    client
        .get_item()
        .table_name(table)
        .key("pk", AttributeValue::S(key.to_string()))
        .consistent_read(true)
        .send()
        .await
        .expect("get item")
        .item()
        .cloned()
}

#[tokio::test]
async fn conditional_puts_version_the_item() {
    let sdk = sdk().await;
    let client = Client::new(&sdk);
    let table = new_table(&sdk, "versions").await;
    let store = DynamoStateStore::new(&sdk, &table);
    assert_eq!(store.table(), table);
    let key = "window#access-denied#arn:aws:iam::1:user/x#1714568400000";

    assert_eq!(store.get(key, None).await, Ok(None));
    assert_eq!(
        store
            .put(StateWrite::new(key, r#"{"n":1}"#, None, later()), None)
            .await,
        Ok(true)
    );
    assert_eq!(store.get(key, None).await, Ok(versioned(r#"{"n":1}"#, 1)));

    // Only the first writer of a new item wins; a stale or invented version is refused.
    for (value, version, written) in [
        (r#"{"n":9}"#, None, false),
        (r#"{"n":9}"#, Some(7), false),
        (r#"{"n":2}"#, Some(1), true),
        (r#"{"n":9}"#, Some(1), false),
        (r#"{"n":3}"#, Some(2), true),
    ] {
        assert_eq!(
            store
                .put(StateWrite::new(key, value, version, later()), None)
                .await,
            Ok(written),
            "{value} on version {version:?}"
        );
    }
    assert_eq!(store.get(key, None).await, Ok(versioned(r#"{"n":3}"#, 3)));

    // The documented layout.
    let expires_at = later();
    assert_eq!(
        store
            .put(
                StateWrite::new(key, r#"{"n":4}"#, Some(3), expires_at),
                None
            )
            .await,
        Ok(true)
    );
    let item = raw_item(&client, &table, key).await.expect("the item");
    assert_eq!(item.get("pk"), Some(&AttributeValue::S(key.to_string())));
    assert_eq!(item.get("v"), Some(&AttributeValue::N("4".into())));
    assert_eq!(
        item.get("state"),
        Some(&AttributeValue::S(r#"{"n":4}"#.into()))
    );
    assert_eq!(
        item.get("expires_at"),
        Some(&AttributeValue::N(expires_at.to_string()))
    );
    assert!(matches!(item.get("w"), Some(AttributeValue::S(w)) if w.len() == 32));
    assert_eq!(item.len(), 5, "{item:?}");

    // Keys are independent.
    assert_eq!(store.get("another", None).await, Ok(None));
}

#[tokio::test]
async fn an_expired_item_counts_as_absent_and_can_be_replaced() {
    let sdk = sdk().await;
    let client = Client::new(&sdk);
    let table = new_table(&sdk, "expiry").await;
    let store = DynamoStateStore::new(&sdk, &table);
    let key = "bucket#access-denied";

    assert_eq!(
        store
            .put(StateWrite::new(key, "old", None, now() - 60), None)
            .await,
        Ok(true)
    );
    assert_eq!(store.get(key, None).await, Ok(None), "expired: absent");
    // Still stored: TTL deletion is lazy (and moto never deletes).
    assert!(raw_item(&client, &table, key).await.is_some());
    // Its version cannot be built on any more: it counts as absent.
    assert_eq!(
        store
            .put(StateWrite::new(key, "stale", Some(1), later()), None)
            .await,
        Ok(false)
    );

    assert_eq!(
        store
            .put(StateWrite::new(key, "new", None, later()), None)
            .await,
        Ok(true)
    );
    assert_eq!(store.get(key, None).await, Ok(versioned("new", 1)));
    assert_eq!(
        store
            .put(StateWrite::new(key, "again", None, later()), None)
            .await,
        Ok(false)
    );
}

#[tokio::test]
async fn concurrent_read_modify_write_increments_are_never_lost() {
    const TASKS: u64 = 16;
    const INCREMENTS: u64 = 10;
    let sdk = sdk().await;
    let table = new_table(&sdk, "race").await;
    let store = Arc::new(DynamoStateStore::new(&sdk, &table));
    let key = "counter";
    let conflicts = Arc::new(AtomicUsize::new(0));

    let mut tasks = Vec::new();
    for _ in 0..TASKS {
        let (store, conflicts) = (store.clone(), conflicts.clone());
        tasks.push(tokio::spawn(async move {
            for _ in 0..INCREMENTS {
                loop {
                    let current = store.get(key, None).await.expect("get");
                    let n: u64 = current
                        .as_ref()
                        .map_or(0, |v| v.value.parse().expect("a number"));
                    let written = store
                        .put(
                            StateWrite::new(
                                key,
                                &(n + 1).to_string(),
                                current.map(|v| v.version),
                                later(),
                            ),
                            None,
                        )
                        .await
                        .expect("put");
                    if written {
                        break;
                    }
                    conflicts.fetch_add(1, Ordering::SeqCst);
                }
            }
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
    let total = TASKS * INCREMENTS;
    assert_eq!(
        store.get(key, None).await,
        Ok(versioned(&total.to_string(), total)),
        "{} conflicts",
        conflicts.load(Ordering::SeqCst)
    );
}

#[tokio::test]
async fn a_missing_table_is_rejected_naming_it() {
    let sdk = sdk().await;
    let table = unique("missing");
    let store = DynamoStateStore::new(&sdk, &table);

    let e = store.get("k", None).await.expect_err("no table");
    assert_eq!(e.class, Class::Reject, "{e}");
    assert!(
        e.message.contains("GetItem")
            && e.message.contains(&table)
            && e.message.contains("ResourceNotFoundException")
            && e.message.contains("CWLOGS_ALERT_TABLE"),
        "{e}"
    );

    let e = store
        .put(StateWrite::new("k", "{}", None, later()), None)
        .await
        .expect_err("no table");
    assert_eq!(e.class, Class::Reject, "{e}");
    assert!(
        e.message.contains("PutItem") && e.message.contains(&table),
        "{e}"
    );
}

/// No per-service settings (endpoints) from the environment.
#[derive(Debug)]
struct NoServiceConfig;

impl aws_types::service_config::LoadServiceConfig for NoServiceConfig {
    fn load_config(&self, _: aws_types::service_config::ServiceConfigKey<'_>) -> Option<String> {
        None
    }
}

/// A TCP proxy to `upstream` that, on its first `lose` connections, passes the request on but
/// closes the connection as soon as the answer starts, without passing it back: the write
/// happened, the client never hears of it. Later connections are passed through. Counts the
/// connections accepted.
async fn lossy_proxy(
    upstream: String,
    lose: usize,
) -> (String, Arc<AtomicUsize>, tokio::task::JoinHandle<()>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the proxy");
    let url = format!("http://{}", listener.local_addr().expect("proxy address"));
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    let task = tokio::spawn(async move {
        loop {
            let Ok((mut client, _)) = listener.accept().await else {
                return;
            };
            let n = count.fetch_add(1, Ordering::SeqCst);
            let Ok(mut server) = tokio::net::TcpStream::connect(&upstream).await else {
                return;
            };
            if n >= lose {
                tokio::spawn(async move {
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                });
                continue;
            }
            tokio::spawn(async move {
                let (mut client_read, _client_write) = client.split();
                let (mut server_read, mut server_write) = server.split();
                let forward = async {
                    let mut buf = [0u8; 16 * 1024];
                    loop {
                        match client_read.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(k) => {
                                if server_write.write_all(&buf[..k]).await.is_err() {
                                    return;
                                }
                            }
                        }
                    }
                };
                let mut first = [0u8; 1];
                tokio::select! {
                    _ = forward => {}
                    _ = server_read.read(&mut first) => {}
                }
                // Both halves are dropped here: the client's connection closes unanswered.
            });
        }
    });
    (url, accepted, task)
}

#[tokio::test]
async fn a_write_whose_answer_was_lost_is_recognized_on_the_retry() {
    let sdk = sdk().await;
    let table = new_table(&sdk, "lost").await;
    let direct = DynamoStateStore::new(&sdk, &table);
    let key = "window#lost";
    assert_eq!(
        direct
            .put(StateWrite::new(key, "v1", None, later()), None)
            .await,
        Ok(true)
    );

    let upstream = sdk
        .endpoint_url()
        .expect("an endpoint")
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let (url, accepted, proxy) = lossy_proxy(upstream, 1).await;
    // Through the proxy: the environment's endpoint (`AWS_ENDPOINT_URL`, which the service
    // config would apply over `endpoint_url`) is left out.
    let through_proxy = sdk
        .to_builder()
        .service_config(NoServiceConfig)
        .endpoint_url(&url)
        .build();
    let lossy = DynamoStateStore::new(&through_proxy, &table).with_backoff(Backoff {
        base: Duration::from_millis(5),
        cap: Duration::from_millis(20),
        max_attempts: 4,
    });

    // The first attempt is stored but its answer lost; the retry's condition (v = 1) then
    // fails against our own write, which the store recognizes by its token.
    let written = lossy
        .put(StateWrite::new(key, "v2", Some(1), later()), None)
        .await;
    proxy.abort();
    assert_eq!(written, Ok(true));
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        2,
        "one lost answer, one retry"
    );
    assert_eq!(direct.get(key, None).await, Ok(versioned("v2", 2)));

    // Someone else's write is still someone else's.
    assert_eq!(
        direct
            .put(StateWrite::new(key, "v3", Some(1), later()), None)
            .await,
        Ok(false)
    );
}
