//! `[patterns]` alerts against real service APIs (moto): the template state of a log group
//! in a DynamoDB table, merged by concurrent writers, and the alert function sending a
//! new-pattern alert to an SNS topic (read back through a subscribed SQS queue) once, across
//! containers.
#![cfg(feature = "integration")]

use crate::common;

use common::moto::state_table;
use common::{Wiring, attributes, envelope, region_env, sdk};
use cwlogs_aws::{DynamoStateStore, SnsPublisher};
use cwlogs_decode::{LogBatch, LogEvent, MessageType};
use cwlogs_lambda::{AlertSummary, Alerter, Response};
use cwlogs_pipeline::patterns::alerts::{GroupState, PatternDetector, state_key, sync_group};
use cwlogs_pipeline::{Config, MemoryArchive, StateStore};
use serde_json::{Value, json};

const GROUP: &str = "/aws/lambda/payments";

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64
}

fn batch(events: &[(i64, &str)]) -> LogBatch<'static> {
    LogBatch {
        message_type: MessageType::Data,
        owner: "123456789012".into(),
        log_group: GROUP.into(),
        log_stream: "s".into(),
        subscription_filters: vec![],
        policy_level: None,
        region: None,
        log_events: events
            .iter()
            .enumerate()
            .map(|(i, (ts, m))| LogEvent {
                id: format!("{ts}{i}").into(),
                timestamp: *ts,
                message: m.to_string().into(),
            })
            .collect(),
    }
}

async fn stored(store: &DynamoStateStore) -> GroupState {
    let v = store
        .get(&state_key(GROUP), None)
        .await
        .expect("read")
        .expect("an item");
    serde_json::from_str(&v.value).expect("state")
}

#[tokio::test]
async fn concurrent_writers_merge_the_template_state_in_dynamodb() {
    let sdk = sdk().await;
    let table = state_table(&sdk, "patterns").await;
    let config = Config::from_toml("[patterns]\nenabled = true\nwarmup = \"1m\"\n", &region_env)
        .expect("config");
    let p = config.patterns.as_ref().expect("on");
    let t = now_ms() - 3_600_000;
    let store = DynamoStateStore::new(&sdk, &table);
    let mut first = PatternDetector::new(p);
    first.observe_batch("eu-west-1", &batch(&[(t, "service started")]), 0);
    for d in first.take() {
        sync_group(&store, &d, p, t, None).await.expect("written");
    }
    // Eight containers at once, after the warm-up: each a template of its own, and all the
    // same one ("card declined").
    let mut deltas = Vec::new();
    for i in 0..8 {
        let mut d = PatternDetector::new(p);
        let own = format!(
            "worker{} {} ready",
            ["a", "b", "c", "d", "e", "f", "g", "h"][i],
            "x".repeat(i + 1)
        );
        d.observe_batch(
            "eu-west-1",
            &batch(&[
                (t + 600_000, "card declined for order 17"),
                (t + 600_001, &own),
            ]),
            0,
        );
        deltas.push(d.take().remove(0));
    }
    let mut tasks = tokio::task::JoinSet::new();
    for d in deltas {
        let (s, p) = (DynamoStateStore::new(&sdk, &table), p.clone());
        tasks.spawn(async move { sync_group(&s, &d, &p, t, None).await });
    }
    let results = tasks.join_all().await;
    let mut reported_card = 0;
    let mut reported_own = 0;
    for r in results {
        let (_, found) = r.expect("merged");
        reported_card += found.new.iter().filter(|id| is_card(id)).count();
        reported_own += found.new.iter().filter(|id| !is_card(id)).count();
    }
    assert_eq!(
        reported_card, 1,
        "one writer reports the shared new pattern"
    );
    assert_eq!(reported_own, 8, "each writer its own");
    let st = stored(&store).await;
    assert_eq!(st.patterns.len(), 10, "{st:?}");
    let v = store
        .get(&state_key(GROUP), None)
        .await
        .expect("read")
        .expect("item");
    assert_eq!(v.version, 9, "every write landed, none overwrote another");

    fn is_card(id: &str) -> bool {
        id == cwlogs_pipeline::util::short_hash(b"card declined for order <*>")
    }
}

fn event(events: &[(i64, &str)]) -> String {
    let envelope = json!({
        "messageType": "DATA_MESSAGE",
        "owner": "123456789012",
        "logGroup": GROUP,
        "logStream": "2026/12/05/[$LATEST]abc",
        "subscriptionFilters": ["cwlogs"],
        "logEvents": events.iter().enumerate().map(|(i, (ts, m))| json!({
            "id": format!("{ts}{i:04}"),
            "timestamp": ts,
            "message": m,
        })).collect::<Vec<Value>>(),
    });
    common::direct_event(&cwlogs_testkit::events::data_of(&envelope))
}

fn summary(answer: Result<Response<AlertSummary>, cwlogs_lambda::RetryLater>) -> AlertSummary {
    match answer {
        Ok(Response::Summary(s)) => s,
        other => panic!("not a summary: {other:?}"),
    }
}

#[tokio::test]
async fn the_alert_function_sends_a_new_pattern_once_across_containers() {
    let sdk = sdk().await;
    let wiring = Wiring::new(&sdk, false).await;
    let table = state_table(&sdk, "patterns").await;
    let text = format!(
        "[alerts]\ntopic = \"{}\"\ngrace = \"0s\"\n[patterns]\nenabled = true\nwarmup = \"5m\"\n[patterns.new_alert]\n[patterns.surge_alert]\n",
        wiring.topic.arn
    );
    let config = Config::from_toml(&text, &region_env).expect("config");
    cwlogs_lambda::check_alert_config(&config).expect("pattern alerts alone are enough");
    let container = || {
        Alerter::new(
            config.clone(),
            DynamoStateStore::new(&sdk, &table),
            SnsPublisher::new(&sdk),
            None::<MemoryArchive>,
        )
        .with_metrics_out(Box::new(|_| {}))
    };
    let now = now_ms();
    let warm = event(&[
        (now - 1_200_000, "payment 17 captured in 120 ms"),
        (now - 1_100_000, "payment 18 captured in 95 ms"),
    ]);
    let news = event(&[
        (now - 1000, "payment 19 captured in 101 ms"),
        (now - 900, "refund failed for order 3: gateway timeout"),
        (now - 800, "refund failed for order 4: gateway timeout"),
    ]);
    let a = container();
    let s = summary(a.handle(common::invocation(&warm, "req-1", None)).await);
    assert_eq!(s.patterns.map(|p| (p.groups, p.new)), Some((1, 0)), "{s:?}");
    // Another container (cold: its miner empty) gets the new template.
    let b = container();
    let s = summary(b.handle(common::invocation(&news, "req-2", None)).await);
    assert_eq!(s.patterns.map(|p| p.new), Some(1), "{s:?}");
    assert_eq!(s.alerts.alerts, 1, "{s:?}");
    // The first container, and a retry: known, nothing more.
    let s = summary(a.handle(common::invocation(&news, "req-3", None)).await);
    assert_eq!(
        (s.patterns.map(|p| p.new), s.alerts.published),
        (Some(0), 0),
        "{s:?}"
    );

    let received = wiring.drain(1).await;
    assert_eq!(received.len(), 1);
    let env = envelope(&received[0]);
    let subject = env["Subject"].as_str().expect("subject");
    assert!(
        subject.starts_with(&format!(
            "[LOW] New log pattern in {GROUP}: refund failed for order"
        )),
        "{subject}"
    );
    let attrs = attributes(&env);
    assert_eq!(attrs["rule"], "patterns-new");
    assert_eq!(attrs["log_group"], GROUP);
    let body: Value =
        serde_json::from_str(env["Message"].as_str().expect("Message")).expect("JSON");
    let lp = &body["event"]["log_pattern"];
    assert_eq!(lp["kind"], "new");
    assert_eq!(lp["count"], 2);
    assert!(
        lp["template"]
            .as_str()
            .expect("t")
            .starts_with("refund failed for order"),
        "{body}"
    );
    assert_eq!(
        body["event"]["message"],
        "refund failed for order 3: gateway timeout"
    );
}
