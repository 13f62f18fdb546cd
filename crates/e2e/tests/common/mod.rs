//! What the end-to-end suites share (`alert_services`, `faults`, `accounting`): the accounting
//! invariants ([`counts`]), the SDK configuration of the code under test, the access-denied
//! rule's configuration, and a topic with a queue subscribed to read back what the alert
//! function published. Samples, events and resources in moto come from `cwlogs-testkit`.
#![allow(dead_code)]

pub mod counts;

// Without the `integration` feature, the service suites that use most of these are left out.
#[allow(unused_imports)]
pub use cwlogs_testkit::events::{
    DEPLOYER, INTRUDER, alert_rules, b64, cloudtrail_data, direct_event, gunzip, gzip, region_env,
    sample,
};
pub use cwlogs_testkit::lambda::invocation;
pub use cwlogs_testkit::moto;

use cwlogs_pipeline::Config;
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;

/// The SDK configuration the code under test loads from the environment (as the functions
/// do: `cwlogs_aws::sdk_config`), in us-east-1, checked to point at a local endpoint.
pub async fn sdk() -> aws_config::SdkConfig {
    moto::local(cwlogs_aws::sdk_config(Some("us-east-1")).await)
}

/// [`alert_rules`] with the summary due at once (`grace = "0s"`).
pub fn alert_config(topic: &str) -> Config {
    Config::from_toml(&alert_rules(topic, "0s"), &region_env).expect("config")
}

/// A topic (FIFO or not) with an SQS queue subscribed (the SNS envelope delivered, not raw).
pub struct Wiring {
    pub topic: moto::Topic,
    pub queue_url: String,
}

impl Wiring {
    pub async fn new(sdk: &aws_config::SdkConfig, fifo: bool) -> Wiring {
        let topic = moto::Topic::create(sdk, "alerts", fifo).await;
        let queue_url = topic.queue(false).await;
        Wiring { topic, queue_url }
    }

    /// Every message in the queue: received until `want` are in and a receive then comes
    /// back empty, or 15 s have passed. Messages stay in flight (never received twice).
    pub async fn drain(&self, want: usize) -> Vec<aws_sdk_sqs::types::Message> {
        self.topic
            .drain(&self.queue_url, want, Duration::from_secs(15))
            .await
    }
}

/// The SNS envelope of a received message.
pub fn envelope(m: &aws_sdk_sqs::types::Message) -> Value {
    serde_json::from_str(m.body().expect("a body")).expect("the SNS envelope")
}

/// The envelope's `MessageAttributes`: name -> value (all of type String).
pub fn attributes(envelope: &Value) -> BTreeMap<String, String> {
    envelope["MessageAttributes"]
        .as_object()
        .expect("MessageAttributes")
        .iter()
        .map(|(k, a)| {
            assert_eq!(a["Type"], "String", "{k}");
            (k.clone(), a["Value"].as_str().unwrap_or("").to_string())
        })
        .collect()
}

/// (kind, user) of each received message, sorted.
pub fn kinds_and_users(received: &[aws_sdk_sqs::types::Message]) -> Vec<(String, String)> {
    let mut shown: Vec<(String, String)> = received
        .iter()
        .map(|m| {
            let env = envelope(m);
            let body: Value =
                serde_json::from_str(env["Message"].as_str().expect("Message")).expect("JSON");
            (
                attributes(&env).get("kind").cloned().unwrap_or_default(),
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

/// The expected (kind, user) of the recent CloudTrail sample's messages: an alert per user,
/// and the intruder's window summary.
pub fn alerts_and_summary() -> [(String, String); 3] {
    [
        ("alert".to_string(), DEPLOYER.to_string()),
        ("alert".to_string(), INTRUDER.to_string()),
        ("summary".to_string(), INTRUDER.to_string()),
    ]
}
