//! The alert handler against real service APIs: SNS topics, SQS queues subscribed to them (to
//! read back what was published) and a DynamoDB state table, all in moto (server mode, started
//! by `scripts/test.sh`, reached through `AWS_ENDPOINT_URL` and throwaway credentials). Every
//! test makes its own topic, queue and table.
//!
//! The events are those of `samples/direct/cloudtrail.json` (3 `AccessDenied`: one by
//! `ci-deployer/session-2`, two by `intruder/session-4`), re-timed into the previous 5-minute
//! window so that the window has ended (with `grace = "0s"`, its summary is due at once).
#![cfg(feature = "integration")]

use crate::common;

use aws_sdk_sqs::types::MessageSystemAttributeName;
use common::moto::state_table;
use common::sdk;
use common::{
    Wiring, alert_config as config, alerts_and_summary, attributes, cloudtrail_data, direct_event,
    envelope, kinds_and_users,
};
use cwlogs_aws::{DynamoStateStore, SnsPublisher};
use cwlogs_lambda::{AlertSummary, Alerter, Response};
use cwlogs_pipeline::{Config, MemoryArchive, MemoryStateStore, StateStore};
use lambda_runtime::LambdaEvent;
use serde_json::value::RawValue;

fn alerter<S: StateStore>(
    config: Config,
    store: S,
    sdk: &aws_config::SdkConfig,
) -> Alerter<S, SnsPublisher, MemoryArchive> {
    Alerter::new(config, store, SnsPublisher::new(sdk), None).with_metrics_out(Box::new(|_| {}))
}

/// An alert function (container) with its own clients, keeping its state in `table`.
fn sharing(
    topic: &str,
    table: &str,
    sdk: &aws_config::SdkConfig,
) -> Alerter<DynamoStateStore, SnsPublisher, MemoryArchive> {
    alerter(config(topic), DynamoStateStore::new(sdk, table), sdk)
}

/// Two containers sharing the state table `table` handle `text` at the same time (requests
/// `req-a` and `req-b`): their summaries.
async fn two_sharing(
    topic: &str,
    table: &str,
    sdk: &aws_config::SdkConfig,
    text: &str,
) -> (AlertSummary, AlertSummary) {
    let (a, b) = (sharing(topic, table, sdk), sharing(topic, table, sdk));
    let (sa, sb) = tokio::join!(
        a.handle(invoke(text, "req-a")),
        b.handle(invoke(text, "req-b"))
    );
    (summary(sa), summary(sb))
}

/// The sample's events moved into the previous 5-minute window (same offsets, same ids), as a
/// direct subscription event.
fn recent_event() -> String {
    direct_event(&cloudtrail_data(true))
}

fn invoke(text: &str, request: &str) -> LambdaEvent<Box<RawValue>> {
    common::invocation(text, request, None)
}

fn summary(answer: Result<Response<AlertSummary>, cwlogs_lambda::RetryLater>) -> AlertSummary {
    match answer {
        Ok(Response::Summary(s)) => s,
        other => panic!("not a summary: {other:?}"),
    }
}

#[tokio::test]
async fn two_containers_sharing_a_table_send_one_alert_per_group_and_window() {
    let sdk = sdk().await;
    let wiring = Wiring::new(&sdk, false).await;
    let table = state_table(&sdk, "state").await;
    let text = recent_event();
    let (sa, sb) = two_sharing(&wiring.topic.arn, &table, &sdk, &text).await;
    assert_eq!(sa.alerts.alerts + sb.alerts.alerts, 2, "{sa:?}\n{sb:?}");
    assert_eq!(
        sa.alerts.summaries + sb.alerts.summaries,
        1,
        "{sa:?}\n{sb:?}"
    );
    assert!(sa.alerts.pending_error.is_none() && sb.alerts.pending_error.is_none());

    let received = wiring.drain(3).await;
    assert_eq!(kinds_and_users(&received), alerts_and_summary());
    for m in &received {
        let env = envelope(m);
        assert_eq!(env["TopicArn"], wiring.topic.arn.as_str());
        assert!(
            env["Subject"]
                .as_str()
                .is_some_and(|s| s.starts_with("[HIGH] access-denied: ")),
            "{env}"
        );
        let attrs = attributes(&env);
        assert_eq!(attrs["rule"], "access-denied");
        assert_eq!(attrs["log_group"], "aws-cloudtrail-logs-123456789012");
        assert_eq!(attrs["account"], "123456789012");
        assert_eq!(attrs["region"], "eu-west-1");
        assert_eq!(attrs["severity"], "high");
    }

    // A third container later, and a Lambda retry of either: nothing new goes out.
    let c = sharing(&wiring.topic.arn, &table, &sdk);
    let sc = summary(c.handle(invoke(&text, "req-c")).await);
    assert_eq!(
        (sc.alerts.published, sc.alerts.redelivered),
        (0, 2),
        "{sc:?}"
    );
    assert!(wiring.drain(0).await.is_empty());
}

#[tokio::test]
async fn fifo_topics_get_the_group_and_the_deterministic_dedup_id() {
    let sdk = sdk().await;
    let wiring = Wiring::new(&sdk, true).await;
    let text = recent_event();
    // Without a shared table, two containers both send: the FIFO dedup ids (the same for the
    // same alert, whoever sends it) keep the subscriber from seeing any message twice.
    let a = alerter(config(&wiring.topic.arn), MemoryStateStore::new(), &sdk);
    let b = alerter(config(&wiring.topic.arn), MemoryStateStore::new(), &sdk);
    let sa = summary(a.handle(invoke(&text, "req-a")).await);
    let sb = summary(b.handle(invoke(&text, "req-b")).await);
    assert_eq!((sa.alerts.published, sb.alerts.published), (3, 3));

    let received = wiring.drain(3).await;
    assert_eq!(received.len(), 3, "{received:#?}");
    let mut dedup_ids = Vec::new();
    for m in &received {
        let system = m.attributes().expect("system attributes");
        assert_eq!(
            system
                .get(&MessageSystemAttributeName::MessageGroupId)
                .map(String::as_str),
            Some("access-denied")
        );
        let dedup = system
            .get(&MessageSystemAttributeName::MessageDeduplicationId)
            .expect("a MessageDeduplicationId")
            .clone();
        assert!(
            dedup.starts_with("a-") || dedup.starts_with("s-"),
            "{dedup}"
        );
        dedup_ids.push(dedup);
    }
    dedup_ids.sort();
    dedup_ids.dedup();
    assert_eq!(dedup_ids.len(), 3);
}

/// The shipped sample as it is: events from 2025, older than a day. The window state the
/// first container writes must still be there for the second one.
#[tokio::test]
async fn old_events_share_the_table_too() {
    let sdk = sdk().await;
    let wiring = Wiring::new(&sdk, false).await;
    let table = state_table(&sdk, "state").await;
    let text = direct_event(&cloudtrail_data(false));
    let (sa, sb) = two_sharing(&wiring.topic.arn, &table, &sdk, &text).await;
    assert_eq!(
        sa.alerts.published + sb.alerts.published,
        3,
        "{sa:?}\n{sb:?}"
    );
    assert_eq!(wiring.drain(3).await.len(), 3);
}
