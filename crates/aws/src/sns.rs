//! The SNS alert publisher.

use crate::error::send_error;
use crate::retry::with_retry;
use aws_sdk_sns::Client;
use aws_sdk_sns::types::MessageAttributeValue;
use cwlogs_pipeline::sink::classify::Service;
use cwlogs_pipeline::{AlertMessage, Backoff, Class, Publish, SendError};
use std::time::Instant;

/// The message group of a FIFO message whose [`AlertMessage::group_id`] is `None` and that has
/// no `rule` attribute either.
const DEFAULT_GROUP_ID: &str = "cwlogs";

/// Publishes alert messages to SNS topics (the topic is each message's own), one `Publish`
/// call per message:
///
/// - `TopicArn` and `Message`; `Subject` unless it is empty;
/// - each attribute as a `String` message attribute, for subscription filter policies (an
///   attribute with an empty value is left out: SNS refuses empty values, and a filter
///   policy could not match one);
/// - for FIFO topics ([`AlertMessage::is_fifo`]) only: `MessageGroupId` (the message's
///   `group_id`, else its `rule` attribute, else `cwlogs`) and
///   `MessageDeduplicationId` (its `dedup_id`), so that a redelivered invocation publishes
///   nothing twice within SNS's five-minute deduplication interval. Standard topics get
///   neither (SNS refuses them there) and may deliver a repeat.
///
/// Failures are retried through [`with_retry`] as [`cwlogs_pipeline::sink::classify`] decides
/// for [`Service::Sns`]; the error names the topic, the SNS error code and what to check.
#[derive(Debug, Clone)]
pub struct SnsPublisher {
    client: Client,
    backoff: Backoff,
}

impl SnsPublisher {
    /// A publisher on `sdk`'s configuration (region, credentials, endpoint, HTTPS client).
    pub fn new(sdk: &aws_config::SdkConfig) -> Self {
        SnsPublisher {
            client: Client::new(sdk),
            backoff: Backoff::default(),
        }
    }

    /// The same publisher with another retry schedule.
    pub fn with_backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    async fn publish_once(&self, message: &AlertMessage) -> Result<String, SendError> {
        let mut req = self
            .client
            .publish()
            .topic_arn(&message.topic)
            .message(&message.message);
        if !message.subject.is_empty() {
            req = req.subject(&message.subject);
        }
        for (name, value) in &message.attributes {
            if value.is_empty() {
                continue;
            }
            let attribute = MessageAttributeValue::builder()
                .data_type("String")
                .string_value(value)
                .build()
                .map_err(|e| SendError {
                    class: Class::Reject,
                    message: format!(
                        "SNS Publish {}: message attribute {name}: {e}",
                        message.topic
                    ),
                })?;
            req = req.message_attributes(name, attribute);
        }
        if message.is_fifo() {
            req = req
                .message_group_id(group_id(message))
                .message_deduplication_id(&message.dedup_id);
        }
        let out = req
            .send()
            .await
            .map_err(|e| send_error(Service::Sns, "Publish", &message.topic, &e))?;
        Ok(out.message_id().unwrap_or_default().to_string())
    }
}

/// The `MessageGroupId` of a FIFO message: its group id, else the rule's name.
fn group_id(message: &AlertMessage) -> &str {
    message
        .group_id
        .as_deref()
        .or_else(|| {
            message
                .attributes
                .iter()
                .find(|(name, value)| name == "rule" && !value.is_empty())
                .map(|(_, value)| value.as_str())
        })
        .unwrap_or(DEFAULT_GROUP_ID)
}

impl Publish for SnsPublisher {
    async fn publish(
        &self,
        message: &AlertMessage,
        deadline: Option<Instant>,
    ) -> Result<String, SendError> {
        with_retry(&self.backoff, deadline, || self.publish_once(message)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(group_id: Option<&str>, attributes: &[(&str, &str)]) -> AlertMessage {
        AlertMessage {
            topic: "arn:aws:sns:us-east-1:123456789012:alerts.fifo".into(),
            subject: String::new(),
            message: "{}".into(),
            attributes: attributes
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            group_id: group_id.map(String::from),
            dedup_id: "d".into(),
        }
    }

    #[test]
    fn fifo_group_is_the_group_id_else_the_rule() {
        assert_eq!(group_id(&message(Some("g"), &[("rule", "r")])), "g");
        assert_eq!(
            group_id(&message(None, &[("severity", "high"), ("rule", "r")])),
            "r"
        );
        assert_eq!(group_id(&message(None, &[("rule", "")])), DEFAULT_GROUP_ID);
        assert_eq!(group_id(&message(None, &[])), DEFAULT_GROUP_ID);
    }
}
