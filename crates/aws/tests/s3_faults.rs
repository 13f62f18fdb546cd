//! `S3Archive` against a scripted local HTTP stub: the faults real S3 produces but a local S3
//! server will not (5xx, throttling, resets, redirects, slow answers), each checked for the
//! class the sink ends in and for how many requests it took. No service is needed.

use crate::common::stub_sdk as sdk;
use cwlogs_aws::{S3Archive, S3Source, S3Url};
use cwlogs_pipeline::{Archive, Backoff, Class, Object};
use cwlogs_testkit::stub::{Answer, Step, Stub};
use std::time::{Duration, Instant};

/// An S3 answer: `status` with `body` (`Content-Type: application/xml` when there is one) and
/// the headers S3 always sends.
fn s3_answer(status: u16, body: &str) -> Answer {
    let a = Answer::new(status, body)
        .header("x-amz-request-id", "STUB")
        .header("ETag", "\"0123\"");
    if body.is_empty() {
        a
    } else {
        a.header("Content-Type", "application/xml")
    }
}

/// Answers 200 with this body.
fn ok(body: &str) -> Step {
    Step::Answer(s3_answer(200, body))
}

/// Answers `status` with an S3 XML error body with this code, and extra headers.
fn error(status: u16, code: &str, headers: &[(&str, &str)]) -> Step {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code>\
         <Message>scripted {code}</Message><RequestId>STUB</RequestId>\
         <HostId>stub</HostId></Error>"
    );
    let mut a = s3_answer(status, &body);
    for (name, value) in headers {
        a = a.header(name, value);
    }
    Step::Answer(a)
}

/// Announces `Content-Length: claimed` but sends only `body`, then closes.
fn truncated(body: &str, claimed: usize) -> Step {
    Step::Answer(s3_answer(200, body).claiming(claimed))
}

/// Waits this long (or until the stub is stopped) before answering 200.
fn slow(wait: Duration) -> Step {
    Step::Slow(wait, s3_answer(200, ""))
}

/// A reader on this stub (with the default retry schedule: its first delay is short).
fn source(stub: &Stub) -> S3Source {
    S3Source::new(&sdk(stub))
}

/// A sink on this stub with a fast retry schedule.
fn archive(stub: &Stub) -> S3Archive {
    S3Archive::new(&sdk(stub), "stub-bucket", None).with_backoff(Backoff {
        base: Duration::from_millis(5),
        cap: Duration::from_millis(20),
        max_attempts: 4,
    })
}

fn object() -> Object<'static> {
    Object {
        key: "cwl/account=1/region=us-east-1/log_group=g/dt=2024-01-01/hour=00/s-1-2.ndjson.gz",
        body: b"\x1f\x8b not really gzip, the stub does not look",
        content_type: "application/x-ndjson",
        content_encoding: Some("gzip"),
    }
}

#[tokio::test]
async fn internal_error_then_ok_succeeds_on_the_retry() {
    let stub = Stub::start(vec![error(500, "InternalError", &[]), ok("")]);
    let r = archive(&stub).put(object(), None).await;
    assert_eq!(r, Ok(()));
    assert_eq!(stub.requests(), 2);
}

#[tokio::test]
async fn slow_down_then_ok_succeeds_on_the_retry() {
    let stub = Stub::start(vec![error(503, "SlowDown", &[]), ok("")]);
    let r = archive(&stub).put(object(), None).await;
    assert_eq!(r, Ok(()));
    assert_eq!(stub.requests(), 2);
}

#[tokio::test]
async fn a_dropped_connection_then_ok_succeeds_on_the_retry() {
    let stub = Stub::start(vec![Step::Drop, ok("")]);
    let r = archive(&stub).put(object(), None).await;
    assert_eq!(r, Ok(()));
    assert_eq!(stub.requests(), 2);
}

#[tokio::test]
async fn retryable_failures_stop_after_the_attempt_budget() {
    let stub = Stub::start(vec![
        error(503, "SlowDown", &[]),
        error(500, "InternalError", &[]),
        Step::Drop,
        error(503, "ServiceUnavailable", &[]),
        ok(""),
    ]);
    let e = archive(&stub)
        .put(object(), None)
        .await
        .expect_err("four retryable failures use up max_attempts = 4");
    assert_eq!(e.class, Class::Retry, "{e}");
    assert!(
        e.message.contains("ServiceUnavailable") && e.message.ends_with("(after 4 attempts)"),
        "{e}"
    );
    assert_eq!(stub.requests(), 4);
}

#[tokio::test]
async fn access_denied_is_rejected_at_once() {
    let stub = Stub::start(vec![error(403, "AccessDenied", &[]), ok("")]);
    let e = archive(&stub)
        .put(object(), None)
        .await
        .expect_err("403 is final");
    assert_eq!(e.class, Class::Reject, "{e}");
    assert!(
        e.message.contains("AccessDenied")
            && e.message.contains("HTTP 403")
            && e.message.contains("s3://stub-bucket/cwl/")
            && e.message.contains("s3:PutObject"),
        "{e}"
    );
    assert_eq!(stub.requests(), 1);
}

#[tokio::test]
async fn a_bucket_in_another_region_is_rejected_with_the_region_hint() {
    let stub = Stub::start(vec![
        error(
            301,
            "PermanentRedirect",
            &[("x-amz-bucket-region", "eu-west-1")],
        ),
        ok(""),
    ]);
    let e = archive(&stub)
        .put(object(), None)
        .await
        .expect_err("a redirect is final");
    assert_eq!(e.class, Class::Reject, "{e}");
    assert!(
        e.message.contains("PermanentRedirect") && e.message.contains("AWS_REGION"),
        "{e}"
    );
    assert_eq!(stub.requests(), 1);
}

#[tokio::test]
async fn a_slow_answer_is_cut_at_the_deadline_and_kept_for_retry() {
    let stub = Stub::start(vec![slow(Duration::from_secs(10)), ok("")]);
    let started = Instant::now();
    let e = archive(&stub)
        .put(object(), Some(started + Duration::from_millis(500)))
        .await
        .expect_err("no answer before the deadline");
    let took = started.elapsed();
    assert_eq!(e.class, Class::Retry, "{e}");
    assert!(e.message.contains("deadline"), "{e}");
    assert!(took < Duration::from_secs(2), "took {took:?}");
    assert_eq!(stub.requests(), 1, "no second attempt without time for it");
}

const LISTING: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>stub-bucket</Name>\
<Prefix>cwl/</Prefix><KeyCount>1</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated>\
<Contents><Key>cwl/a.ndjson.gz</Key><LastModified>2024-05-01T00:00:00.000Z</LastModified>\
<ETag>&quot;0123&quot;</ETag><Size>42</Size><StorageClass>STANDARD</StorageClass></Contents>\
</ListBucketResult>";

#[tokio::test]
async fn an_unreadable_success_is_retried_not_taken_for_done() {
    // A 200 whose body is not a listing (a proxy page): the SDK cannot parse it, so nothing
    // is known yet.
    let stub = Stub::start(vec![
        ok("<html><body>502 Bad Gateway</body></html>"),
        ok(LISTING),
    ]);
    let url = S3Url::parse("s3://stub-bucket/cwl/").expect("valid url");
    let listed = source(&stub).list(&url).await;
    assert_eq!(listed, Ok(vec![("cwl/a.ndjson.gz".to_string(), 42)]));
    assert_eq!(stub.requests(), 2);
}

#[tokio::test]
async fn a_body_cut_short_is_read_again() {
    let stub = Stub::start(vec![
        truncated("0123456789", 20),
        ok("0123456789abcdefghij"),
    ]);
    let body = source(&stub).get("stub-bucket", "cwl/a", 1024).await;
    assert_eq!(body.as_deref(), Ok(&b"0123456789abcdefghij"[..]));
    assert_eq!(stub.requests(), 2);
}

#[tokio::test]
async fn get_refuses_an_announced_size_over_the_cap_without_retrying() {
    let stub = Stub::start(vec![ok("0123456789abcdefghij"), ok("")]);
    let e = source(&stub)
        .get("stub-bucket", "cwl/a", 19)
        .await
        .expect_err("over the cap");
    assert_eq!(e.class, Class::Reject, "{e}");
    assert!(e.message.contains("larger than 19 bytes"), "{e}");
    assert_eq!(stub.requests(), 1);
}

/// An S3-only endpoint override, as `AWS_ENDPOINT_URL_S3` gives one, without touching the
/// process environment.
#[derive(Debug)]
struct S3EndpointOnly(String);

impl aws_types::service_config::LoadServiceConfig for S3EndpointOnly {
    fn load_config(&self, key: aws_types::service_config::ServiceConfigKey<'_>) -> Option<String> {
        (key.service_id() == "S3" && key.env() == "AWS_ENDPOINT_URL").then(|| self.0.clone())
    }
}

#[tokio::test]
async fn an_s3_only_endpoint_override_is_addressed_by_path() {
    let stub = Stub::start(vec![ok("")]);
    // A host name, not an address: by subdomain the bucket would be `stub-bucket.localhost`.
    let url = stub.url.replace("127.0.0.1", "localhost");
    let mut sdk = sdk(&stub).to_builder();
    sdk.set_endpoint_url(None);
    let sdk = sdk.service_config(S3EndpointOnly(url)).build();
    assert_eq!(sdk.endpoint_url(), None);

    let r = S3Archive::new(&sdk, "stub-bucket", None)
        .put(object(), None)
        .await;
    assert_eq!(r, Ok(()));
    let lines = stub.request_lines();
    assert!(
        lines.len() == 1 && lines[0].starts_with("PUT /stub-bucket/cwl/"),
        "{lines:?}"
    );
}
