//! Resources in moto (server mode, started by `scripts/test.sh`) for the integration tests of
//! several crates, made with the SDK directly, bypassing the code under test: a unique name, the
//! SDK configuration from the environment, a state table, and an SNS topic with SQS queues
//! subscribed to read back what was published.
//!
//! Shared by `cwlogs-lambda`'s tests (through `tests/common`), and by `cwlogs-aws`'s
//! `tests/dynamodb.rs` and `tests/sns.rs` and `cwlogs`'s `tests/alert_replay.rs` (with
//! `#[path = ".../lambda/tests/common/moto.rs"] mod moto;`), each using part of it.
#![allow(dead_code)]

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};
use aws_sdk_sqs::types::{Message, MessageSystemAttributeName, QueueAttributeName};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The SDK configuration from the environment, refusing to run against real AWS by accident.
pub async fn sdk() -> aws_config::SdkConfig {
    let sdk = cwlogs_aws::sdk_config(Some("us-east-1")).await;
    assert!(
        sdk.endpoint_url().is_some(),
        "AWS_ENDPOINT_URL is not set: run the integration tests through scripts/test.sh, \
         which starts moto and points the SDK at it"
    );
    sdk
}

/// A name no other test (or earlier run against the same servers) uses: lower case, at most
/// 63 characters for a tag of up to 20 (a bucket name).
pub fn unique(tag: &str) -> String {
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

/// Creates a state table named `unique(tag)` as the stack does: partition key `pk` (S) alone,
/// on demand. Returns its name.
pub async fn state_table(sdk: &aws_config::SdkConfig, tag: &str) -> String {
    let table = unique(tag);
    aws_sdk_dynamodb::Client::new(sdk)
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

/// An SNS topic, and the clients to subscribe queues to it and read them.
pub struct Topic {
    pub sns: aws_sdk_sns::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub arn: String,
}

impl Topic {
    /// Creates the topic `unique(tag)` (FIFO when `fifo`: name ending in `.fifo`, no
    /// content-based deduplication, so the explicit dedup id is what counts).
    pub async fn create(sdk: &aws_config::SdkConfig, tag: &str, fifo: bool) -> Topic {
        let sns = aws_sdk_sns::Client::new(sdk);
        let name = format!("{}{}", unique(tag), fifo_suffix(fifo));
        let mut req = sns.create_topic().name(&name);
        if fifo {
            req = req
                .attributes("FifoTopic", "true")
                .attributes("ContentBasedDeduplication", "false");
        }
        let arn = req
            .send()
            .await
            .unwrap_or_else(|e| panic!("create topic {name}: {e:?}"))
            .topic_arn()
            .expect("a topic ARN")
            .to_string();
        Topic {
            sns,
            sqs: aws_sdk_sqs::Client::new(sdk),
            arn,
        }
    }

    /// Creates a queue (FIFO like the topic) subscribed to the topic, with the queue policy
    /// real SQS needs; `raw`: raw message delivery (the body is the message), else the SNS
    /// envelope. Returns its URL.
    pub async fn queue(&self, raw: bool) -> String {
        let fifo = self.arn.ends_with(".fifo");
        let name = format!("{}{}", unique("q"), fifo_suffix(fifo));
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
        let queue_arn = self
            .sqs
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .expect("queue attributes")
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
                "Condition": {"ArnEquals": {"aws:SourceArn": self.arn}},
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
            .topic_arn(&self.arn)
            .protocol("sqs")
            .endpoint(&queue_arn);
        if raw {
            sub = sub.attributes("RawMessageDelivery", "true");
        }
        sub.send().await.expect("subscribe the queue");
        url
    }

    /// Every message in the queue `url` (with its system and message attributes): received
    /// until `want` are in and then until a receive comes back empty, or `patience` runs out.
    /// Messages are not deleted (they stay in flight, so a receive never returns one twice).
    pub async fn drain(&self, url: &str, want: usize, patience: Duration) -> Vec<Message> {
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

fn fifo_suffix(fifo: bool) -> &'static str {
    if fifo { ".fifo" } else { "" }
}
