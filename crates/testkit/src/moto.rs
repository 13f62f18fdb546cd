//! Resources in moto (server mode, started by `scripts/test.sh`) for the integration tests,
//! made with the SDKs directly, bypassing the code under test: the SDK configuration from the
//! environment, buckets, state tables, and SNS topics with SQS queues subscribed to read back
//! what was published. Every resource gets a [`unique`] name. Feature `moto`.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};
use aws_sdk_sqs::types::{Message, MessageSystemAttributeName, QueueAttributeName};
use std::time::{Duration, Instant};

pub use crate::services::unique;

/// An SDK configuration for setting up and reading back resources, from the environment
/// (`AWS_ENDPOINT_URL`, the throwaway credentials) in us-east-1, on the HTTP client the
/// functions use (rustls with ring; plain `http://` endpoints work too), with the SDK's own
/// retries; checked by [`local`]. The code under test gets its own configuration.
pub async fn sdk() -> aws_config::SdkConfig {
    use aws_smithy_http_client::{Builder, tls};
    let http = Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https();
    local(
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .http_client(http)
            .region(aws_config::Region::new("us-east-1"))
            .load()
            .await,
    )
}

/// `sdk` (e.g. the configuration the code under test loads from the same environment, such as
/// `cwlogs_aws::sdk_config`'s), after checking that it points at a local endpoint: panics when
/// no endpoint is set, so that no test runs against real AWS by accident.
pub fn local(sdk: aws_config::SdkConfig) -> aws_config::SdkConfig {
    assert!(
        sdk.endpoint_url().is_some() || std::env::var_os("AWS_ENDPOINT_URL_S3").is_some(),
        "AWS_ENDPOINT_URL is not set: run the integration tests through scripts/test.sh, \
         which starts moto and points the SDK at it"
    );
    sdk
}

/// An S3 client on `sdk` that addresses buckets by path (as moto needs).
pub fn s3(sdk: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(sdk)
            .force_path_style(true)
            .build(),
    )
}

/// Creates the bucket `unique(tag)` with `s3`. Returns its name.
pub async fn new_bucket(s3: &aws_sdk_s3::Client, tag: &str) -> String {
    let bucket = unique(tag);
    s3.create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .unwrap_or_else(|e| panic!("create bucket {bucket}: {e:?}"));
    bucket
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
    /// The SNS client that made the topic.
    pub sns: aws_sdk_sns::Client,
    /// The SQS client that makes and reads the queues.
    pub sqs: aws_sdk_sqs::Client,
    /// The topic's ARN.
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
