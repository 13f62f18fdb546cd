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

use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
use cwlogs_aws::SnsPublisher;
use cwlogs_pipeline::{AlertMessage, Class, Publish};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The SDK configuration from the environment, refusing to run against real AWS by accident.
async fn sdk() -> aws_config::SdkConfig {
    let sdk = cwlogs_aws::sdk_config(Some("us-east-1")).await;
    assert!(
        sdk.endpoint_url().is_some(),
        "AWS_ENDPOINT_URL is not set: run the integration tests through scripts/test.sh, \
         which starts moto and points the SDK at it"
    );
    sdk
}

/// A name no other test (or earlier run against the same server) uses.
fn unique(tag: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() % 1_000_000_000_000);
    format!(
        "cwlogs-{tag}-{}-{nanos}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

/// A topic and a queue subscribed to it (with the queue policy real SQS needs), made with the
/// SDK directly, bypassing the code under test.
struct Wiring {
    sns: aws_sdk_sns::Client,
    sqs: aws_sdk_sqs::Client,
    topic_arn: String,
}

impl Wiring {
    fn new(sdk: &aws_config::SdkConfig) -> Wiring {
        Wiring {
            sns: aws_sdk_sns::Client::new(sdk),
            sqs: aws_sdk_sqs::Client::new(sdk),
            topic_arn: String::new(),
        }
    }

    /// Creates the topic (FIFO when `fifo`: name ending in `.fifo`, no content-based
    /// deduplication, so the explicit dedup id is what counts).
    async fn topic(mut self, tag: &str, fifo: bool) -> Wiring {
        let name = if fifo {
            format!("{}.fifo", unique(tag))
        } else {
            unique(tag)
        };
        let mut req = self.sns.create_topic().name(&name);
        if fifo {
            req = req
                .attributes("FifoTopic", "true")
                .attributes("ContentBasedDeduplication", "false");
        }
        let out = req
            .send()
            .await
            .unwrap_or_else(|e| panic!("create topic {name}: {e:?}"));
        self.topic_arn = out.topic_arn().expect("a topic ARN").to_string();
        self
    }

    /// Creates a queue (FIFO like the topic) subscribed to the topic; returns its URL.
    async fn queue(&self, raw: bool) -> String {
        let fifo = self.topic_arn.ends_with(".fifo");
        let name = if fifo {
            format!("{}.fifo", unique("q"))
        } else {
            unique("q")
        };
        let mut req = self.sqs.create_queue().queue_name(&name);
        if fifo {
            req = req.attributes(QueueAttributeName::FifoQueue, "true");
        }
        let url = req
            .send()
            .await
            .unwrap_or_else(|e| panic!("create queue {name}: {e:?}"))
            .queue_url()
            .expect("a queue URL")
            .to_string();
        let attributes = self
            .sqs
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .expect("queue attributes");
        let queue_arn = attributes
            .attributes()
            .and_then(|a| a.get(&QueueAttributeName::QueueArn))
            .expect("a queue ARN")
            .clone();
        // Real SQS accepts SNS's deliveries only with this policy; moto does not check it.
        let policy = serde_json::json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow",
                "Principal": {"Service": "sns.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": self.topic_arn}},
            }],
        });
        self.sqs
            .set_queue_attributes()
            .queue_url(&url)
            .attributes(QueueAttributeName::Policy, policy.to_string())
            .send()
            .await
            .expect("queue policy");
        let mut sub = self
            .sns
            .subscribe()
            .topic_arn(&self.topic_arn)
            .protocol("sqs")
            .endpoint(&queue_arn);
        if raw {
            sub = sub.attributes("RawMessageDelivery", "true");
        }
        sub.send().await.expect("subscribe the queue");
        url
    }

    /// Every message in the queue: received until `want` are in and then until a receive
    /// comes back empty, or `patience` runs out. Messages are not deleted (they stay in
    /// flight, so a receive never returns one twice).
    async fn drain(
        &self,
        url: &str,
        want: usize,
        patience: Duration,
    ) -> Vec<aws_sdk_sqs::types::Message> {
        let mut messages = Vec::new();
        let until = Instant::now() + patience;
        while Instant::now() < until {
            let out = self
                .sqs
                .receive_message()
                .queue_url(url)
                .max_number_of_messages(10)
                .wait_time_seconds(if messages.len() < want { 1 } else { 0 })
                .message_system_attribute_names(MessageSystemAttributeName::All)
                .message_attribute_names("All")
                .send()
                .await
                .expect("receive");
            let got = out.messages();
            if got.is_empty() && messages.len() >= want {
                break;
            }
            messages.extend_from_slice(got);
        }
        messages
    }
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
    let wiring = Wiring::new(&sdk).topic("std", false).await;
    let enveloped = wiring.queue(false).await;
    let raw = wiring.queue(true).await;
    let publisher = SnsPublisher::new(&sdk);

    let sent = [
        alert(&wiring.topic_arn, "access-denied", "d-1"),
        alert(&wiring.topic_arn, "throttled", "d-2"),
    ];
    let mut ids = Vec::new();
    for m in &sent {
        let id = publisher.publish(m, None).await.expect("published");
        assert!(!id.is_empty(), "a message id");
        ids.push(id);
    }

    // Through the SNS envelope (the default): Subject, Message and MessageAttributes with
    // their type.
    let mut got = wiring
        .drain(&enveloped, sent.len(), Duration::from_secs(10))
        .await;
    assert_eq!(got.len(), sent.len(), "{got:?}");
    got.sort_by_key(|m| m.body().unwrap_or_default().contains("throttled"));
    for (m, received) in sent.iter().zip(&got) {
        let envelope: Value =
            serde_json::from_str(received.body().expect("a body")).expect("the SNS envelope");
        assert_eq!(envelope["Type"], "Notification");
        assert_eq!(envelope["TopicArn"], wiring.topic_arn.as_str());
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
    let mut got = wiring
        .drain(&raw, sent.len(), Duration::from_secs(10))
        .await;
    assert_eq!(got.len(), sent.len(), "{got:?}");
    got.sort_by_key(|m| m.body().unwrap_or_default().contains("throttled"));
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
    let wiring = Wiring::new(&sdk).topic("fifo", true).await;
    let queue = wiring.queue(false).await;
    let publisher = SnsPublisher::new(&sdk);

    let first = alert(
        &wiring.topic_arn,
        "access-denied",
        "access-denied/g1/1714568400000",
    );
    let mut other = alert(
        &wiring.topic_arn,
        "access-denied",
        "access-denied/g2/1714568400000",
    );
    other.group_id = Some("arn:aws:iam::123456789012:user/mallory".into());
    publisher.publish(&first, None).await.expect("published");
    // A redelivered invocation publishes the same alert again: same dedup id.
    publisher.publish(&first, None).await.expect("published");
    publisher.publish(&other, None).await.expect("published");

    // Ask for three, so that a delivered repeat would be waited for (3 s) and seen.
    let got = wiring.drain(&queue, 3, Duration::from_secs(3)).await;
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
