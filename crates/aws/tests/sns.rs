//! `SnsPublisher` against a real SNS API: moto in server mode, started by `scripts/test.sh`,
//! reached through the standard environment (`AWS_ENDPOINT_URL`, `AWS_ACCESS_KEY_ID`,
//! `AWS_SECRET_ACCESS_KEY`). Every test makes its own topics and SQS queues, subscribes the
//! queues and reads what SNS delivered back from them.
//!
//! What moto does not reproduce: it never throttles or fails, does not check IAM or KMS, and
//! does not deduplicate on FIFO *topics* (a repeated `MessageDeduplicationId` is passed on to
//! the subscribed queue, and it is the FIFO *queue* that drops the repeat). Real SNS drops it
//! at the topic; either way a subscriber gets it once, which is what the FIFO test checks.
//! `tests/sns_faults.rs` plays the failures from a local stub.
#![cfg(feature = "integration")]

use crate::common;

use aws_sdk_sqs::types::{Message, MessageSystemAttributeName};
use common::sdk;
use cwlogs_aws::SnsPublisher;
use cwlogs_pipeline::{AlertMessage, Class, Publish};
use cwlogs_testkit::moto::{Topic, unique};
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;

/// The messages of the two `sent` (the first `access-denied`, the second `throttled`) from
/// the queue `url`, in the order sent.
async fn received_in_order(topic: &Topic, url: &str, sent: &[AlertMessage]) -> Vec<Message> {
    let mut got = topic.drain(url, sent.len(), Duration::from_secs(10)).await;
    assert_eq!(got.len(), sent.len(), "{got:?}");
    got.sort_by_key(|m| m.body().unwrap_or_default().contains("throttled"));
    got
}

fn alert(topic: &str, rule: &str, dedup_id: &str) -> AlertMessage {
    AlertMessage {
        topic: topic.to_string(),
        subject: format!("cwlogs: {rule} in /aws/lambda/payments"),
        message: serde_json::json!({"rule": rule, "count": 3, "dedup": dedup_id}).to_string(),
        attributes: vec![
            ("rule".into(), rule.into()),
            ("log_group".into(), "/aws/lambda/payments".into()),
            ("account".into(), "123456789012".into()),
            ("region".into(), "us-east-1".into()),
            ("severity".into(), "high".into()),
        ],
        group_id: None,
        dedup_id: dedup_id.to_string(),
    }
}

/// The attributes as the SNS envelope carries them: name -> (Type, Value).
fn envelope_attributes(envelope: &Value) -> BTreeMap<String, (String, String)> {
    envelope["MessageAttributes"]
        .as_object()
        .expect("MessageAttributes in the envelope")
        .iter()
        .map(|(name, a)| {
            let text = |k: &str| a[k].as_str().unwrap_or_default().to_string();
            (name.clone(), (text("Type"), text("Value")))
        })
        .collect()
}

fn expected_attributes(m: &AlertMessage) -> BTreeMap<String, (String, String)> {
    m.attributes
        .iter()
        .map(|(n, v)| (n.clone(), ("String".to_string(), v.clone())))
        .collect()
}

#[tokio::test]
async fn standard_topic_messages_reach_the_queue_with_subject_and_attributes() {
    let sdk = sdk().await;
    let topic = Topic::create(&sdk, "std", false).await;
    let enveloped = topic.queue(false).await;
    let raw = topic.queue(true).await;
    let publisher = SnsPublisher::new(&sdk);

    let sent = [
        alert(&topic.arn, "access-denied", "d-1"),
        alert(&topic.arn, "throttled", "d-2"),
    ];
    let mut ids = Vec::new();
    for m in &sent {
        let id = publisher.publish(m, None).await.expect("published");
        assert!(!id.is_empty(), "a message id");
        ids.push(id);
    }

    // Through the SNS envelope (the default): Subject, Message and MessageAttributes with
    // their type.
    let got = received_in_order(&topic, &enveloped, &sent).await;
    for (m, received) in sent.iter().zip(&got) {
        let envelope: Value =
            serde_json::from_str(received.body().expect("a body")).expect("the SNS envelope");
        assert_eq!(envelope["Type"], "Notification");
        assert_eq!(envelope["TopicArn"], topic.arn.as_str());
        assert_eq!(envelope["Subject"], m.subject.as_str());
        assert_eq!(envelope["Message"], m.message.as_str());
        assert!(
            ids.iter().any(|id| envelope["MessageId"] == id.as_str()),
            "{envelope}"
        );
        assert_eq!(envelope_attributes(&envelope), expected_attributes(m));
    }

    // Raw delivery: the body is the message, the attributes SQS message attributes with
    // DataType String.
    let got = received_in_order(&topic, &raw, &sent).await;
    for (m, received) in sent.iter().zip(&got) {
        assert_eq!(received.body(), Some(m.message.as_str()));
        let attributes: BTreeMap<String, (String, String)> = received
            .message_attributes()
            .expect("message attributes")
            .iter()
            .map(|(n, a)| {
                (
                    n.clone(),
                    (
                        a.data_type().to_string(),
                        a.string_value().unwrap_or_default().to_string(),
                    ),
                )
            })
            .collect();
        assert_eq!(attributes, expected_attributes(m));
    }
}

#[tokio::test]
async fn fifo_topic_messages_carry_group_and_dedup_ids_and_a_repeat_arrives_once() {
    let sdk = sdk().await;
    let topic = Topic::create(&sdk, "fifo", true).await;
    let queue = topic.queue(false).await;
    let publisher = SnsPublisher::new(&sdk);

    let first = alert(
        &topic.arn,
        "access-denied",
        "access-denied/g1/1714568400000",
    );
    let mut other = alert(
        &topic.arn,
        "access-denied",
        "access-denied/g2/1714568400000",
    );
    other.group_id = Some("arn:aws:iam::123456789012:user/mallory".into());
    publisher.publish(&first, None).await.expect("published");
    // A redelivered invocation publishes the same alert again: same dedup id.
    publisher.publish(&first, None).await.expect("published");
    publisher.publish(&other, None).await.expect("published");

    // Ask for three, so that a delivered repeat would be waited for (3 s) and seen.
    let got = topic.drain(&queue, 3, Duration::from_secs(3)).await;
    let mut delivered: Vec<(String, String, String)> = got
        .iter()
        .map(|m| {
            let system = |name: MessageSystemAttributeName| {
                m.attributes()
                    .and_then(|a| a.get(&name))
                    .cloned()
                    .unwrap_or_default()
            };
            let envelope: Value =
                serde_json::from_str(m.body().expect("a body")).expect("the SNS envelope");
            (
                system(MessageSystemAttributeName::MessageGroupId),
                system(MessageSystemAttributeName::MessageDeduplicationId),
                envelope["Message"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    delivered.sort();
    assert_eq!(
        delivered,
        vec![
            // No group id: the rule's name is the group.
            (
                "access-denied".to_string(),
                first.dedup_id.clone(),
                first.message.clone()
            ),
            (
                "arn:aws:iam::123456789012:user/mallory".to_string(),
                other.dedup_id.clone(),
                other.message.clone()
            ),
        ],
        "the repeat is delivered once; group and dedup ids reach SQS"
    );
}

#[tokio::test]
async fn a_topic_that_does_not_exist_is_rejected_naming_it() {
    let sdk = sdk().await;
    let topic = format!("arn:aws:sns:us-east-1:123456789012:{}", unique("missing"));
    let e = SnsPublisher::new(&sdk)
        .publish(&alert(&topic, "access-denied", "d"), None)
        .await
        .expect_err("no such topic");
    assert_eq!(e.class, Class::Reject, "{e}");
    assert!(
        e.message.contains(&topic) && e.message.contains("NotFound"),
        "{e}"
    );
}
