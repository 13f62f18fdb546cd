//! `SnsPublisher` against a scripted local HTTP stub: the answers real SNS gives but moto will
//! not (5xx, throttling, authorization errors, dropped connections), each checked for the
//! class the publisher ends in and for how many requests it took, and the request bodies it
//! sends (FIFO parameters only for FIFO topics). No service is needed.
//!
//! SNS speaks the AWS query protocol: the request is a form (`Action=Publish&TopicArn=…`),
//! the answer XML (`<PublishResponse><PublishResult><MessageId>…`, errors as
//! `<ErrorResponse><Error><Type>Sender</Type><Code>…</Code>…`).

use crate::common::stub_sdk as sdk;
use cwlogs_aws::SnsPublisher;
use cwlogs_pipeline::{AlertMessage, Backoff, Class, Publish};
use cwlogs_testkit::stub::{Answer, Step, Stub};
use std::time::{Duration, Instant};

const STANDARD: &str = "arn:aws:sns:us-east-1:123456789012:cwlogs-alerts";
const FIFO: &str = "arn:aws:sns:us-east-1:123456789012:cwlogs-alerts.fifo";

/// An SNS answer: `status` with an XML body and the headers SNS sends.
fn sns_answer(status: u16, body: &str) -> Answer {
    Answer::new(status, body)
        .header("Content-Type", "text/xml")
        .header("x-amzn-RequestId", "STUB")
}

/// A successful `Publish` with this message id.
fn published(id: &str) -> Step {
    Step::Answer(sns_answer(
        200,
        &format!(
            "<PublishResponse xmlns=\"http://sns.amazonaws.com/doc/2010-03-31/\">\
             <PublishResult><MessageId>{id}</MessageId></PublishResult>\
             <ResponseMetadata><RequestId>STUB</RequestId></ResponseMetadata>\
             </PublishResponse>"
        ),
    ))
}

/// An SNS error: `status` with an `<ErrorResponse>` of this type (`Sender` / `Receiver`) and
/// code.
fn error(status: u16, kind: &str, code: &str) -> Step {
    Step::Answer(sns_answer(
        status,
        &format!(
            "<ErrorResponse xmlns=\"http://sns.amazonaws.com/doc/2010-03-31/\">\
             <Error><Type>{kind}</Type><Code>{code}</Code><Message>scripted {code}</Message>\
             </Error><RequestId>STUB</RequestId></ErrorResponse>"
        ),
    ))
}

/// A publisher on this stub with a fast retry schedule.
fn publisher(stub: &Stub) -> SnsPublisher {
    SnsPublisher::new(&sdk(stub)).with_backoff(Backoff {
        base: Duration::from_millis(5),
        cap: Duration::from_millis(20),
        max_attempts: 4,
    })
}

fn message(topic: &str, group_id: Option<&str>) -> AlertMessage {
    AlertMessage {
        topic: topic.to_string(),
        subject: "cwlogs: access-denied (3 events)".into(),
        message: "{\"rule\":\"access-denied\",\"count\":3}".into(),
        attributes: vec![
            ("rule".into(), "access-denied".into()),
            ("severity".into(), "high".into()),
        ],
        group_id: group_id.map(String::from),
        dedup_id: "access-denied/5f1e/1714568400000".into(),
    }
}

/// The form fields of a query-protocol request body, percent-decoded, in order.
fn form(body: &[u8]) -> Vec<(String, String)> {
    fn decode(text: &str) -> String {
        let bytes = text.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'%' => {
                    let hex = bytes
                        .get(i + 1..i + 3)
                        .and_then(|h| std::str::from_utf8(h).ok())
                        .and_then(|h| u8::from_str_radix(h, 16).ok());
                    match hex {
                        Some(b) => {
                            out.push(b);
                            i += 3;
                        }
                        None => {
                            out.push(b'%');
                            i += 1;
                        }
                    }
                }
                b'+' => {
                    out.push(b' ');
                    i += 1;
                }
                b => {
                    out.push(b);
                    i += 1;
                }
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    }
    String::from_utf8_lossy(body)
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

/// The value of form field `name`.
fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

#[tokio::test]
async fn internal_error_then_ok_succeeds_on_the_retry() {
    let stub = Stub::start(vec![
        error(500, "Receiver", "InternalError"),
        published("m-1"),
    ]);
    let id = publisher(&stub)
        .publish(&message(STANDARD, None), None)
        .await;
    assert_eq!(id.as_deref(), Ok("m-1"));
    assert_eq!(stub.requests(), 2);
}

#[tokio::test]
async fn a_dropped_connection_then_ok_succeeds_on_the_retry() {
    let stub = Stub::start(vec![Step::Drop, published("m-2")]);
    let id = publisher(&stub)
        .publish(&message(STANDARD, None), None)
        .await;
    assert_eq!(id.as_deref(), Ok("m-2"));
    assert_eq!(stub.requests(), 2);
}

#[tokio::test]
async fn throttling_is_retried_until_the_deadline_then_kept_for_retry() {
    // SNS throttles with a 400 and the code `Throttling`: retryable whatever the status.
    let stub = Stub::start_then(vec![], error(400, "Sender", "Throttling"));
    let publisher = SnsPublisher::new(&sdk(&stub)).with_backoff(Backoff {
        base: Duration::from_millis(20),
        cap: Duration::from_millis(80),
        max_attempts: 1000,
    });
    let started = Instant::now();
    let e = publisher
        .publish(
            &message(STANDARD, None),
            Some(started + Duration::from_millis(1500)),
        )
        .await
        .expect_err("throttled to the end");
    let took = started.elapsed();
    assert_eq!(e.class, Class::Retry, "{e}");
    assert!(
        e.message.contains("Throttling")
            && e.message.contains(STANDARD)
            && e.message.contains("attempts)"),
        "{e}"
    );
    assert!(stub.requests() >= 3, "{} requests", stub.requests());
    assert!(took < Duration::from_secs(3), "took {took:?}");
}

#[tokio::test]
async fn authorization_error_is_rejected_at_once_with_the_hint() {
    let stub = Stub::start(vec![
        error(403, "Sender", "AuthorizationError"),
        published("never"),
    ]);
    let e = publisher(&stub)
        .publish(&message(STANDARD, None), None)
        .await
        .expect_err("403 is final");
    assert_eq!(e.class, Class::Reject, "{e}");
    assert!(
        e.message.contains("SNS Publish")
            && e.message.contains(STANDARD)
            && e.message.contains("AuthorizationError")
            && e.message.contains("HTTP 403")
            && e.message.contains("sns:Publish")
            && e.message.contains("kms:GenerateDataKey"),
        "{e}"
    );
    assert_eq!(stub.requests(), 1);
}

#[tokio::test]
async fn a_missing_topic_is_rejected_naming_it() {
    let stub = Stub::start(vec![error(404, "Sender", "NotFound"), published("never")]);
    let e = publisher(&stub)
        .publish(&message(STANDARD, None), None)
        .await
        .expect_err("404 is final");
    assert_eq!(e.class, Class::Reject, "{e}");
    assert!(
        e.message.contains(STANDARD) && e.message.contains("NotFound"),
        "{e}"
    );
    assert_eq!(stub.requests(), 1);
}

#[tokio::test]
async fn kms_throttling_is_retried_and_kms_disabled_is_not() {
    let stub = Stub::start(vec![
        error(400, "Sender", "KMSThrottling"),
        published("m-3"),
    ]);
    let id = publisher(&stub).publish(&message(FIFO, None), None).await;
    assert_eq!(id.as_deref(), Ok("m-3"));
    assert_eq!(stub.requests(), 2);

    let stub = Stub::start(vec![
        error(400, "Sender", "KMSDisabled"),
        published("never"),
    ]);
    let e = publisher(&stub)
        .publish(&message(FIFO, None), None)
        .await
        .expect_err("a disabled key stays disabled");
    assert_eq!(e.class, Class::Reject, "{e}");
    assert!(e.message.contains("KMS"), "{e}");
    assert_eq!(stub.requests(), 1);
}

#[tokio::test]
async fn a_slow_answer_is_cut_at_the_deadline() {
    let stub = Stub::start(vec![
        Step::Slow(Duration::from_secs(10), sns_answer(200, "")),
        published("never"),
    ]);
    let started = Instant::now();
    let e = publisher(&stub)
        .publish(
            &message(STANDARD, None),
            Some(started + Duration::from_millis(500)),
        )
        .await
        .expect_err("no answer before the deadline");
    assert_eq!(e.class, Class::Retry, "{e}");
    assert!(e.message.contains("deadline"), "{e}");
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(stub.requests(), 1);
}

#[tokio::test]
async fn a_standard_topic_gets_no_fifo_parameters() {
    let stub = Stub::start(vec![published("m-4")]);
    let mut m = message(STANDARD, Some("ignored-group"));
    m.attributes.push(("empty".into(), String::new()));
    publisher(&stub).publish(&m, None).await.expect("published");
    let seen = stub.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].method(), "POST");
    let f = form(&seen[0].body);
    assert_eq!(field(&f, "Action"), Some("Publish"));
    assert_eq!(field(&f, "TopicArn"), Some(STANDARD));
    assert_eq!(field(&f, "Message"), Some(m.message.as_str()));
    assert_eq!(field(&f, "Subject"), Some(m.subject.as_str()));
    assert_eq!(field(&f, "MessageGroupId"), None, "{f:?}");
    assert_eq!(field(&f, "MessageDeduplicationId"), None, "{f:?}");
    // Every non-empty attribute as a String message attribute; the empty one is left out.
    let mut attributes = Vec::new();
    for n in 1.. {
        let Some(name) = field(&f, &format!("MessageAttributes.entry.{n}.Name")) else {
            break;
        };
        let value = |part: &str| {
            field(&f, &format!("MessageAttributes.entry.{n}.Value.{part}")).map(String::from)
        };
        attributes.push((name.to_string(), value("DataType"), value("StringValue")));
    }
    attributes.sort();
    assert_eq!(
        attributes,
        vec![
            (
                "rule".to_string(),
                Some("String".to_string()),
                Some("access-denied".to_string())
            ),
            (
                "severity".to_string(),
                Some("String".to_string()),
                Some("high".to_string())
            ),
        ]
    );
}

#[tokio::test]
async fn a_fifo_topic_gets_the_group_and_the_dedup_id() {
    let stub = Stub::start(vec![published("m-5"), published("m-6")]);
    let p = publisher(&stub);
    let mut m = message(FIFO, Some("arn:aws:iam::123456789012:user/mallory"));
    m.subject = String::new();
    p.publish(&m, None).await.expect("published");
    // No group id: the rule's name groups the messages.
    p.publish(&message(FIFO, None), None)
        .await
        .expect("published");

    let seen = stub.seen();
    assert_eq!(seen.len(), 2);
    let f = form(&seen[0].body);
    assert_eq!(field(&f, "TopicArn"), Some(FIFO));
    assert_eq!(
        field(&f, "MessageGroupId"),
        Some("arn:aws:iam::123456789012:user/mallory")
    );
    assert_eq!(
        field(&f, "MessageDeduplicationId"),
        Some("access-denied/5f1e/1714568400000")
    );
    assert_eq!(field(&f, "Subject"), None, "an empty subject is left out");
    let f = form(&seen[1].body);
    assert_eq!(field(&f, "MessageGroupId"), Some("access-denied"));
    assert_eq!(
        field(&f, "MessageDeduplicationId"),
        Some("access-denied/5f1e/1714568400000")
    );
}

#[tokio::test]
async fn an_unreadable_success_is_retried_not_taken_for_done() {
    let stub = Stub::start(vec![
        Step::Answer(sns_answer(200, "<html><body>502 Bad Gateway</body></html>")),
        published("m-7"),
    ]);
    let id = publisher(&stub).publish(&message(FIFO, None), None).await;
    assert_eq!(id.as_deref(), Ok("m-7"));
    assert_eq!(stub.requests(), 2);
}
