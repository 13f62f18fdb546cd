//! A scripted HTTP/1.1 server on 127.0.0.1 for the fault tests: it plays the answers real
//! services give but local servers will not (throttling, 5xx, 413, resets, slow answers, cut
//! bodies), one request per connection, and records every request (line, headers, body) so
//! that tests can check what the client sent and how many times.
//!
//! Used by the fault tests of `cwlogs-aws` (S3, SNS, OpenSearch) and by `cwlogs`'s accounting
//! tests (a cluster and a bucket that misbehave). Needs no service and no feature.

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
/// The largest request the stub reads (head and body).
const MAX_REQUEST: usize = 64 << 20;

/// One request as the stub read it.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// The request line (`PUT /bucket/key?x-id=PutObject HTTP/1.1`).
    pub line: String,
    /// The headers, names in lower case, in the order sent.
    pub headers: Vec<(String, String)>,
    /// The body as sent (by `Content-Length`, or the raw chunked encoding); for a
    /// [`Step::Drop`] only what came with the head.
    pub body: Vec<u8>,
}

impl Request {
    /// The method (`POST`).
    pub fn method(&self) -> &str {
        self.line.split(' ').next().unwrap_or_default()
    }

    /// The path and query (`/_bulk`).
    pub fn path(&self) -> &str {
        self.line.split(' ').nth(1).unwrap_or_default()
    }

    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body with its `Content-Encoding: gzip` undone (as sent otherwise); `None` when it
    /// says gzip but is not.
    pub fn decoded_body(&self) -> Option<Vec<u8>> {
        if self
            .header("content-encoding")
            .is_some_and(|e| e.eq_ignore_ascii_case("gzip"))
        {
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(&self.body[..])
                .read_to_end(&mut out)
                .ok()?;
            Some(out)
        } else {
            Some(self.body.clone())
        }
    }
}

/// An answer: status, headers, body. `Content-Length` and `Connection: close` are added.
#[derive(Debug, Clone)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// Extra headers.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
    /// The `Content-Length` announced, when it is not the body's (a body cut short).
    pub claimed_length: Option<usize>,
}

impl Answer {
    /// `status` with `body`, no extra header.
    pub fn new(status: u16, body: impl Into<Vec<u8>>) -> Answer {
        Answer {
            status,
            headers: Vec::new(),
            body: body.into(),
            claimed_length: None,
        }
    }

    /// `status` with a JSON body (`Content-Type: application/json`).
    pub fn json(status: u16, body: &serde_json::Value) -> Answer {
        Answer::new(status, body.to_string()).header("Content-Type", "application/json")
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: &str) -> Answer {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// Announces `length` bytes whatever the body's size (then closes).
    pub fn claiming(mut self, length: usize) -> Answer {
        self.claimed_length = Some(length);
        self
    }
}

/// Builds an answer from the request.
pub type Responder = Arc<dyn Fn(&Request) -> Answer + Send + Sync>;

/// What the stub does with one request.
#[derive(Clone)]
pub enum Step {
    /// Reads the request and answers this.
    Answer(Answer),
    /// Reads the request and answers what the function makes of it.
    Reply(Responder),
    /// Reads the request head and closes the connection without a byte of answer.
    Drop,
    /// Reads the request, waits this long (or until the stub is stopped), then answers.
    Slow(Duration, Answer),
}

impl Step {
    /// A step answering with `f(request)`.
    pub fn reply(f: impl Fn(&Request) -> Answer + Send + Sync + 'static) -> Step {
        Step::Reply(Arc::new(f))
    }
}

/// A one-thread HTTP/1.1 server on 127.0.0.1 that plays its steps in order, one request per
/// connection, then a fallback step for anything more (by default a 500, so counts show it).
pub struct Stub {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    seen: Arc<Mutex<Vec<Request>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Stub {
    /// Plays `steps`, then answers 500 to any further request.
    pub fn start(steps: Vec<Step>) -> Stub {
        Stub::start_then(
            steps,
            Step::Answer(Answer::new(500, "unexpected extra request")),
        )
    }

    /// Plays `steps`, then `then` for every further request.
    pub fn start_then(steps: Vec<Step>, then: Step) -> Stub {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let url = format!("http://{}", listener.local_addr().expect("local addr"));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (seen, stop) = (seen.clone(), stop.clone());
            std::thread::spawn(move || serve(listener, steps, then, &seen, &stop))
        };
        Stub {
            url,
            seen,
            stop,
            thread: Some(thread),
        }
    }

    /// The requests read so far.
    pub fn seen(&self) -> Vec<Request> {
        self.seen.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// How many requests were read.
    pub fn requests(&self) -> usize {
        self.seen.lock().map(|s| s.len()).unwrap_or_default()
    }

    /// The request line of each request read.
    pub fn request_lines(&self) -> Vec<String> {
        self.seen().into_iter().map(|r| r.line).collect()
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

/// A URL on 127.0.0.1 where nothing listens (connections are refused).
pub fn refused_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let url = format!("http://{}", listener.local_addr().expect("local addr"));
    drop(listener);
    url
}

fn serve(
    listener: TcpListener,
    steps: Vec<Step>,
    then: Step,
    seen: &Mutex<Vec<Request>>,
    stop: &AtomicBool,
) {
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
        let step = steps.next().unwrap_or_else(|| then.clone());
        let _ = handle(conn, step, seen, stop, until);
    }
}

fn handle(
    mut conn: TcpStream,
    step: Step,
    seen: &Mutex<Vec<Request>>,
    stop: &AtomicBool,
    until: Instant,
) -> std::io::Result<()> {
    conn.set_nonblocking(false)?;
    conn.set_read_timeout(Some(READ_TIMEOUT))?;
    conn.set_write_timeout(Some(READ_TIMEOUT))?;
    let request = read_request(&mut conn, matches!(step, Step::Drop))?;
    if let Ok(mut seen) = seen.lock() {
        seen.push(request.clone());
    }
    let answer = match step {
        Step::Drop => return Ok(()), // dropping `conn` closes it unanswered
        Step::Answer(a) => a,
        Step::Reply(f) => f(&request),
        Step::Slow(wait, a) => {
            let end = (Instant::now() + wait).min(until);
            while Instant::now() < end && !stop.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(10));
            }
            a
        }
    };
    let length = answer.claimed_length.unwrap_or(answer.body.len());
    let mut head = format!(
        "HTTP/1.1 {} Stub\r\nContent-Length: {length}\r\nConnection: close\r\n",
        answer.status
    );
    for (name, value) in &answer.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    conn.write_all(head.as_bytes())?;
    conn.write_all(&answer.body)?;
    conn.flush()
}

/// Reads one request: the head, then (unless `head_only`) a `Content-Length` body or a chunked
/// body up to its last chunk. Bounded by the read timeout and a size cap.
fn read_request(conn: &mut TcpStream, head_only: bool) -> std::io::Result<Request> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 64 * 1024];
    let head_end = loop {
        if let Some(i) = find(&buf, b"\r\n\r\n") {
            break i + 4;
        }
        let n = conn.read(&mut chunk)?;
        if n == 0 || buf.len() > MAX_REQUEST {
            return Err(ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let line = lines.next().unwrap_or_default().to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let mut request = Request {
        line,
        headers,
        body: Vec::new(),
    };
    if head_only {
        request.body = buf[head_end..].to_vec();
        return Ok(request);
    }
    if request
        .header("expect")
        .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"))
    {
        conn.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
    }
    let length = request
        .header("content-length")
        .map(|n| n.parse::<usize>().unwrap_or(0));
    let chunked = request
        .header("transfer-encoding")
        .is_some_and(|v| v.contains("chunked"));
    let done = |body: &[u8]| match length {
        Some(n) => body.len() >= n,
        None if chunked => find(body, b"0\r\n").is_some() && body.ends_with(b"\r\n\r\n"),
        None => true,
    };
    while !done(&buf[head_end..]) {
        let n = conn.read(&mut chunk)?;
        if n == 0 || buf.len() > MAX_REQUEST {
            return Err(ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    request.body = buf[head_end..].to_vec();
    Ok(request)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The `(_index, _id)` of each action line of a `_bulk` body of `create` actions (the
/// document lines skipped).
pub fn bulk_actions(body: &[u8]) -> Vec<(String, String)> {
    String::from_utf8_lossy(body)
        .lines()
        .step_by(2)
        .map(|action| {
            let v: serde_json::Value = serde_json::from_str(action).expect("an action line");
            let m = &v["create"];
            (
                m["_index"].as_str().unwrap_or_default().to_string(),
                m["_id"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}
