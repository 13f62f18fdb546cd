//! `S3Archive` against a scripted local HTTP stub: the faults real S3 produces but a local S3
//! server will not (5xx, throttling, resets, redirects, slow answers), each checked for the
//! class the sink ends in and for how many requests it took. No service is needed.

use cwlogs_aws::{Credentials, S3Archive, S3Source, S3Url, sdk_config_with};
use cwlogs_pipeline::{Archive, Backoff, Class, Object};
use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The longest a stub lives, whatever the test does: no test can hang on it.
const STUB_LIFETIME: Duration = Duration::from_secs(30);
/// The longest the stub waits for one request to arrive in full.
const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// What the stub does with one request.
#[derive(Clone)]
enum Step {
    /// Answers 200 with this body (`Content-Type: application/xml` when there is one).
    Ok(&'static str),
    /// Answers with this status, an S3 XML error body with this code, and extra headers.
    Error(u16, &'static str, &'static [(&'static str, &'static str)]),
    /// Announces `Content-Length: .1` but sends only `.0`, then closes.
    Truncated(&'static str, usize),
    /// Reads the request head and closes the connection without a byte of answer.
    Drop,
    /// Waits this long (or until the stub is stopped) before answering 200.
    Slow(Duration),
}

const OK: Step = Step::Ok("");

/// A one-thread HTTP/1.1 server on 127.0.0.1 that plays `steps` in order, one request per
/// connection, then answers anything more with 500 so the count shows it.
struct Stub {
    url: String,
    /// The request line (`PUT /bucket/key?x-id=PutObject HTTP/1.1`) of each request read.
    seen: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Stub {
    fn start(steps: Vec<Step>) -> Stub {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let url = format!("http://{}", listener.local_addr().expect("local addr"));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (seen, stop) = (seen.clone(), stop.clone());
            std::thread::spawn(move || serve(listener, steps, &seen, &stop))
        };
        Stub {
            url,
            seen,
            stop,
            thread: Some(thread),
        }
    }

    fn requests(&self) -> usize {
        self.request_lines().len()
    }

    fn request_lines(&self) -> Vec<String> {
        self.seen.lock().map(|s| s.clone()).unwrap_or_default()
    }

    fn sdk(&self) -> aws_config::SdkConfig {
        sdk_config_with(
            &self.url,
            "us-east-1",
            Credentials::new("AKIDSTUB", "stub-secret", None, None, "stub"),
        )
    }

    /// A reader on this stub (with the default retry schedule: its first delay is short).
    fn source(&self) -> S3Source {
        S3Source::new(&self.sdk())
    }

    /// A sink on this stub with a fast retry schedule.
    fn archive(&self) -> S3Archive {
        S3Archive::new(&self.sdk(), "stub-bucket", None).with_backoff(Backoff {
            base: Duration::from_millis(5),
            cap: Duration::from_millis(20),
            max_attempts: 4,
        })
    }
}

impl Drop for Stub {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(listener: TcpListener, steps: Vec<Step>, seen: &Mutex<Vec<String>>, stop: &AtomicBool) {
    let until = Instant::now() + STUB_LIFETIME;
    let mut steps = steps.into_iter();
    while !stop.load(Ordering::SeqCst) && Instant::now() < until {
        let conn = match listener.accept() {
            Ok((conn, _)) => conn,
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(2));
                continue;
            }
            Err(_) => return,
        };
        let step = steps
            .next()
            .unwrap_or(Step::Error(500, "UnexpectedExtraRequest", &[]));
        let _ = handle(conn, step, seen, stop, until);
    }
}

fn handle(
    mut conn: TcpStream,
    step: Step,
    seen: &Mutex<Vec<String>>,
    stop: &AtomicBool,
    until: Instant,
) -> std::io::Result<()> {
    conn.set_nonblocking(false)?;
    conn.set_read_timeout(Some(READ_TIMEOUT))?;
    conn.set_write_timeout(Some(READ_TIMEOUT))?;
    let line = read_request(&mut conn, matches!(step, Step::Drop))?;
    if let Ok(mut seen) = seen.lock() {
        seen.push(line);
    }
    let (status, body, length, headers) = match step {
        Step::Drop => return Ok(()), // dropping `conn` closes it unanswered
        Step::Slow(wait) => {
            let end = (Instant::now() + wait).min(until);
            while Instant::now() < end && !stop.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(10));
            }
            (200, String::new(), 0, &[][..])
        }
        Step::Ok(body) => (200, body.to_string(), body.len(), &[][..]),
        Step::Truncated(body, claimed) => (200, body.to_string(), claimed, &[][..]),
        Step::Error(status, code, headers) => {
            let body = format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code>\
                 <Message>scripted {code}</Message><RequestId>STUB</RequestId>\
                 <HostId>stub</HostId></Error>"
            );
            let length = body.len();
            (status, body, length, headers)
        }
    };
    let mut answer = format!(
        "HTTP/1.1 {status} Stub\r\nContent-Length: {length}\r\nConnection: close\r\n\
         x-amz-request-id: STUB\r\nETag: \"0123\"\r\n"
    );
    if !body.is_empty() {
        answer.push_str("Content-Type: application/xml\r\n");
    }
    for (name, value) in headers {
        answer.push_str(&format!("{name}: {value}\r\n"));
    }
    answer.push_str("\r\n");
    answer.push_str(&body);
    conn.write_all(answer.as_bytes())?;
    conn.flush()
}

/// Reads one request: the head, then (unless `head_only`) a `Content-Length` body or a chunked
/// body up to its last chunk, and returns the request line. Bounded by the read timeout and a
/// size cap.
fn read_request(conn: &mut TcpStream, head_only: bool) -> std::io::Result<String> {
    const CAP: usize = 1 << 20;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = find(&buf, b"\r\n\r\n") {
            break i + 4;
        }
        let n = conn.read(&mut chunk)?;
        if n == 0 || buf.len() > CAP {
            return Err(ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let line = String::from_utf8_lossy(&buf[..head_end])
        .lines()
        .next()
        .unwrap_or_default()
        .to_string();
    if head_only {
        return Ok(line);
    }
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let header = |name: &str| {
        head.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(':').map(str::trim))
            .map(String::from)
    };
    if header("expect").is_some_and(|v| v == "100-continue") {
        conn.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
    }
    let done = |body: &[u8]| match header("content-length") {
        Some(n) => body.len() >= n.parse::<usize>().unwrap_or(0),
        None if header("transfer-encoding").is_some_and(|v| v.contains("chunked")) => {
            find(body, b"0\r\n").is_some() && body.ends_with(b"\r\n\r\n")
        }
        None => true,
    };
    while !done(&buf[head_end..]) {
        let n = conn.read(&mut chunk)?;
        if n == 0 || buf.len() > CAP {
            return Err(ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Ok(line)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
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
    let stub = Stub::start(vec![Step::Error(500, "InternalError", &[]), OK]);
    let r = stub.archive().put(object(), None).await;
    assert_eq!(r, Ok(()));
    assert_eq!(stub.requests(), 2);
}

#[tokio::test]
async fn slow_down_then_ok_succeeds_on_the_retry() {
    let stub = Stub::start(vec![Step::Error(503, "SlowDown", &[]), OK]);
    let r = stub.archive().put(object(), None).await;
    assert_eq!(r, Ok(()));
    assert_eq!(stub.requests(), 2);
}

#[tokio::test]
async fn a_dropped_connection_then_ok_succeeds_on_the_retry() {
    let stub = Stub::start(vec![Step::Drop, OK]);
    let r = stub.archive().put(object(), None).await;
    assert_eq!(r, Ok(()));
    assert_eq!(stub.requests(), 2);
}

#[tokio::test]
async fn retryable_failures_stop_after_the_attempt_budget() {
    let stub = Stub::start(vec![
        Step::Error(503, "SlowDown", &[]),
        Step::Error(500, "InternalError", &[]),
        Step::Drop,
        Step::Error(503, "ServiceUnavailable", &[]),
        OK,
    ]);
    let e = stub
        .archive()
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
    let stub = Stub::start(vec![Step::Error(403, "AccessDenied", &[]), OK]);
    let e = stub
        .archive()
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
        Step::Error(
            301,
            "PermanentRedirect",
            &[("x-amz-bucket-region", "eu-west-1")],
        ),
        OK,
    ]);
    let e = stub
        .archive()
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
    let stub = Stub::start(vec![Step::Slow(Duration::from_secs(10)), OK]);
    let started = Instant::now();
    let e = stub
        .archive()
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
        Step::Ok("<html><body>502 Bad Gateway</body></html>"),
        Step::Ok(LISTING),
    ]);
    let url = S3Url::parse("s3://stub-bucket/cwl/").expect("valid url");
    let listed = stub.source().list(&url).await;
    assert_eq!(listed, Ok(vec![("cwl/a.ndjson.gz".to_string(), 42)]));
    assert_eq!(stub.requests(), 2);
}

#[tokio::test]
async fn a_body_cut_short_is_read_again() {
    let stub = Stub::start(vec![
        Step::Truncated("0123456789", 20),
        Step::Ok("0123456789abcdefghij"),
    ]);
    let body = stub.source().get("stub-bucket", "cwl/a", 1024).await;
    assert_eq!(body.as_deref(), Ok(&b"0123456789abcdefghij"[..]));
    assert_eq!(stub.requests(), 2);
}

#[tokio::test]
async fn get_refuses_an_announced_size_over_the_cap_without_retrying() {
    let stub = Stub::start(vec![Step::Ok("0123456789abcdefghij"), OK]);
    let e = stub
        .source()
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
    let stub = Stub::start(vec![OK]);
    // A host name, not an address: by subdomain the bucket would be `stub-bucket.localhost`.
    let url = stub.url.replace("127.0.0.1", "localhost");
    let mut sdk = stub.sdk().to_builder();
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
