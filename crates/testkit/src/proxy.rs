//! A fault proxy on 127.0.0.1 for the end-to-end fault tests (`cwlogs-e2e`'s `faults`; feature
//! `proxy`): it sits in front of a real service (moto, osmem-server) and, for each request,
//! either forwards it or misbehaves as its rules say:
//!
//! - [`Action::Answer`]: answers a fault itself, the service never sees the request;
//! - [`Action::ForwardThenAnswer`]: forwards, then answers a fault instead of the service's
//!   answer (the write happened, the client is told it did not);
//! - [`Action::ForwardThenReset`]: forwards, then sends the head and half of the body of the
//!   service's answer and resets the connection (TCP RST);
//! - [`Action::ForwardThenHold`]: forwards, then holds the service's answer this long;
//! - [`Action::Hold`]: answers a fault this much later, the service never sees the request
//!   (a service that hangs);
//! - [`Action::BulkItems`]: for a `_bulk` request, keeps the items it picks away from the
//!   cluster, forwards the rest and answers the picked ones with a per-item error inside the
//!   cluster's 200 (what a cluster under write pressure does: those items were not indexed).
//!
//! Rules are tried in the order they were added; the first that matches the request and has
//! uses left is applied (and used up by one); a request no rule takes is forwarded. Every
//! request is logged with the action taken.
//!
//! Why not [`crate::stub`]: that stub plays scripted answers on one blocking thread, one
//! connection at a time, and never talks to a real service; the handlers keep up to 16 writes
//! in flight and the point here is that the real service holds the outcome.
//!
//! Bounds: a proxy lives at most [`PROXY_LIFETIME`] (then stops accepting and drops every
//! connection), is stopped when dropped, reads and writes with [`IO_TIMEOUT`], and reads at
//! most [`MAX_MESSAGE`] bytes per message: no test can hang on it.

use std::io::Read as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;

/// The longest a proxy lives, whatever the test does.
pub const PROXY_LIFETIME: Duration = Duration::from_secs(90);
/// The longest one read or write (or connect) may take.
pub const IO_TIMEOUT: Duration = Duration::from_secs(15);
/// The largest request or answer read (head and body).
pub const MAX_MESSAGE: usize = 64 << 20;

/// One HTTP request as the client sent it.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// `PUT`, `POST`, ...
    pub method: String,
    /// The path and query.
    pub target: String,
    /// The headers in the order sent, names as sent.
    pub headers: Vec<(String, String)>,
    /// The body as sent (still chunked or gzip-encoded when it was).
    pub body: Vec<u8>,
}

impl Request {
    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }

    /// The path and query (`/_bulk`, `/bucket/key?x-id=PutObject`).
    pub fn path(&self) -> &str {
        &self.target
    }

    /// The body with a chunked transfer encoding and a gzip content encoding undone.
    pub fn decoded_body(&self) -> Vec<u8> {
        let body = if is_chunked(&self.headers) {
            dechunk(&self.body).map_or_else(|| self.body.clone(), |(b, _)| b)
        } else {
            self.body.clone()
        };
        if self
            .header("content-encoding")
            .is_some_and(|e| e.eq_ignore_ascii_case("gzip"))
        {
            let mut out = Vec::new();
            if flate2::read::GzDecoder::new(&body[..])
                .read_to_end(&mut out)
                .is_ok()
            {
                return out;
            }
        }
        body
    }

    /// Whether this is an S3 `PutObject` (a `PUT` of a key in a bucket, path style).
    pub fn is_put_object(&self) -> bool {
        self.method == "PUT" && self.target.trim_start_matches('/').contains('/')
    }

    /// Whether this is a `_bulk` request.
    pub fn is_bulk(&self) -> bool {
        self.method == "POST" && self.target.split('?').next() == Some("/_bulk")
    }

    /// Whether this is an SNS `Publish` (a query-protocol form, or a JSON-protocol target).
    pub fn is_sns_publish(&self) -> bool {
        self.method == "POST"
            && (self
                .header("x-amz-target")
                .is_some_and(|t| t.ends_with(".Publish"))
                || self.body.windows(15).any(|w| w == b"Action=Publish&"))
    }
}

/// An HTTP answer: status, headers, body (`Content-Length` and `Connection: close` are added
/// when it is sent).
#[derive(Debug, Clone)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// Headers, without `Content-Length`, `Transfer-Encoding` or `Connection`.
    pub headers: Vec<(String, String)>,
    /// The body (de-chunked).
    pub body: Vec<u8>,
}

impl Reply {
    /// `status` with a body of `content_type`.
    pub fn new(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Reply {
        Reply {
            status,
            headers: vec![
                ("Content-Type".into(), content_type.into()),
                ("x-amzn-RequestId".into(), "FAULT-PROXY".into()),
                ("x-amz-request-id".into(), "FAULT-PROXY".into()),
            ],
            body: body.into(),
        }
    }

    /// An S3 error document (`<Error><Code>SlowDown</Code>…`).
    pub fn s3_error(status: u16, code: &str) -> Reply {
        Reply::new(
            status,
            "application/xml",
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code>\
                 <Message>injected by the fault proxy</Message><RequestId>FAULT-PROXY</RequestId>\
                 <HostId>proxy</HostId></Error>"
            ),
        )
    }

    /// An SNS (query protocol) error (`<ErrorResponse><Error><Type>Sender</Type>…`).
    pub fn sns_error(status: u16, kind: &str, code: &str) -> Reply {
        Reply::new(
            status,
            "text/xml",
            format!(
                "<ErrorResponse xmlns=\"http://sns.amazonaws.com/doc/2010-03-31/\">\
                 <Error><Type>{kind}</Type><Code>{code}</Code><Message>injected by the fault proxy</Message>\
                 </Error><RequestId>FAULT-PROXY</RequestId></ErrorResponse>"
            ),
        )
    }

    /// A JSON answer (an OpenSearch error, or a proxy's).
    pub fn json(status: u16, body: &serde_json::Value) -> Reply {
        Reply::new(status, "application/json", body.to_string())
    }

    /// Headers sent as they are, plus `Content-Length` and `Connection: close`; with
    /// `claim` a `Content-Length` other than the body's.
    fn head(&self, claim: Option<usize>) -> Vec<u8> {
        let mut head = format!(
            "HTTP/1.1 {} Fault-Proxy\r\nContent-Length: {}\r\nConnection: close\r\n",
            self.status,
            claim.unwrap_or(self.body.len())
        );
        for (n, v) in &self.headers {
            head.push_str(&format!("{n}: {v}\r\n"));
        }
        head.push_str("\r\n");
        head.into_bytes()
    }
}

/// Picks `_bulk` items to fail: given the item's position in the request and its action line,
/// the status and error type to answer it with, or `None` to forward it.
pub type Pick = Arc<dyn Fn(usize, &[u8]) -> Option<(u16, String)> + Send + Sync>;

/// What the proxy does with one request.
#[derive(Clone)]
pub enum Action {
    /// Forwards it and relays the answer.
    Forward,
    /// Answers this, without forwarding.
    Answer(Reply),
    /// Forwards it, then answers this instead of the service's answer.
    ForwardThenAnswer(Reply),
    /// Forwards it, sends the head and half the body of the answer (announcing all of it;
    /// at least 64 bytes are announced), then resets the connection.
    ForwardThenReset,
    /// Forwards it at once, then relays the answer this much later.
    ForwardThenHold(Duration),
    /// Answers this, this much later, without forwarding.
    Hold(Duration, Reply),
    /// A `_bulk` request: the items `pick` takes are not forwarded and are answered with the
    /// status and error type it gives (429 `es_rejected_execution_exception`, ...); the rest
    /// are forwarded, their answers kept in place.
    BulkItems(Pick),
}

impl Action {
    /// The action's name in the log.
    pub fn name(&self) -> &'static str {
        match self {
            Action::Forward => "forward",
            Action::Answer(_) => "answer",
            Action::ForwardThenAnswer(_) => "forward-then-answer",
            Action::ForwardThenReset => "forward-then-reset",
            Action::ForwardThenHold(_) => "forward-then-hold",
            Action::Hold(..) => "hold",
            Action::BulkItems(_) => "bulk-items",
        }
    }
}

/// A request predicate.
pub type When = Arc<dyn Fn(&Request) -> bool + Send + Sync>;

struct Rule {
    when: When,
    action: Action,
    left: usize,
}

/// One request the proxy handled: its request line and what was done.
#[derive(Debug, Clone)]
pub struct Seen {
    /// `METHOD target`.
    pub line: String,
    /// The [`Action::name`] applied.
    pub action: &'static str,
    /// The body size as decoded.
    pub decoded_len: usize,
}

/// A fault proxy in front of `upstream` (see the module docs).
pub struct Proxy {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    rules: Arc<Mutex<Vec<Rule>>>,
    log: Arc<Mutex<Vec<Seen>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    /// A proxy forwarding to `upstream` (`http://host:port`) until rules say otherwise.
    pub async fn start(upstream: &str) -> Proxy {
        let upstream = upstream
            .trim_end_matches('/')
            .strip_prefix("http://")
            .unwrap_or_else(|| panic!("the fault proxy forwards to http:// only: {upstream}"))
            .to_string();
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let url = format!("http://{}", listener.local_addr().expect("local addr"));
        let rules: Arc<Mutex<Vec<Rule>>> = Arc::default();
        let log: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let task = tokio::spawn(serve(listener, upstream, rules.clone(), log.clone()));
        Proxy {
            url,
            rules,
            log,
            task,
        }
    }

    /// Adds a rule: the next `times` requests for which `when` holds get `action`.
    pub fn rule(
        &self,
        when: impl Fn(&Request) -> bool + Send + Sync + 'static,
        action: Action,
        times: usize,
    ) -> &Self {
        lock(&self.rules).push(Rule {
            when: Arc::new(when),
            action,
            left: times,
        });
        self
    }

    /// Drops every rule: from now on everything is forwarded (the fault has passed).
    pub fn heal(&self) {
        lock(&self.rules).clear();
    }

    /// Every request handled so far.
    pub fn seen(&self) -> Vec<Seen> {
        lock(&self.log).clone()
    }

    /// How many requests got the action named `action`.
    pub fn count(&self, action: &str) -> usize {
        lock(&self.log)
            .iter()
            .filter(|s| s.action == action)
            .count()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        // The server task owns every connection task: aborting it drops them all.
        self.task.abort();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

async fn serve(
    listener: TcpListener,
    upstream: String,
    rules: Arc<Mutex<Vec<Rule>>>,
    log: Arc<Mutex<Vec<Seen>>>,
) {
    let end = Instant::now() + PROXY_LIFETIME;
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let accepted = tokio::time::timeout_at(end, listener.accept()).await;
        let Ok(Ok((conn, _))) = accepted else {
            return; // lifetime over (or the listener broke): every connection is dropped
        };
        // Reap finished connection tasks as we go.
        while connections.try_join_next().is_some() {}
        let (upstream, rules, log) = (upstream.clone(), rules.clone(), log.clone());
        connections.spawn(async move {
            let _ = tokio::time::timeout_at(end, handle(conn, &upstream, &rules, &log)).await;
        });
    }
}

async fn handle(
    mut conn: TcpStream,
    upstream: &str,
    rules: &Mutex<Vec<Rule>>,
    log: &Mutex<Vec<Seen>>,
) -> std::io::Result<()> {
    let request = read_request(&mut conn).await?;
    let action = {
        let mut rules = lock(rules);
        match rules.iter_mut().find(|r| r.left > 0 && (r.when)(&request)) {
            Some(rule) => {
                rule.left -= 1;
                rule.action.clone()
            }
            None => Action::Forward,
        }
    };
    lock(log).push(Seen {
        line: format!("{} {}", request.method, request.target),
        action: action.name(),
        decoded_len: request.decoded_body().len(),
    });
    let reply = match action {
        Action::Forward => forward(upstream, &request).await?,
        Action::Answer(reply) => reply,
        Action::ForwardThenAnswer(reply) => {
            forward(upstream, &request).await?;
            reply
        }
        Action::ForwardThenHold(hold) => {
            let reply = forward(upstream, &request).await?;
            tokio::time::sleep(hold).await;
            reply
        }
        Action::Hold(hold, reply) => {
            tokio::time::sleep(hold).await;
            reply
        }
        Action::ForwardThenReset => {
            let reply = forward(upstream, &request).await?;
            let claim = reply.body.len().max(64);
            let half = reply.body.len() / 2;
            timed(conn.write_all(&reply.head(Some(claim)))).await?;
            timed(conn.write_all(&reply.body[..half])).await?;
            timed(conn.flush()).await?;
            // SO_LINGER 0: dropping the socket sends RST, not FIN.
            conn.set_zero_linger()?;
            return Ok(());
        }
        Action::BulkItems(pick) => bulk_items(upstream, &request, &pick).await?,
    };
    timed(conn.write_all(&reply.head(None))).await?;
    timed(conn.write_all(&reply.body)).await?;
    timed(conn.flush()).await?;
    let _ = conn.shutdown().await;
    Ok(())
}

async fn timed<T>(f: impl Future<Output = std::io::Result<T>>) -> std::io::Result<T> {
    tokio::time::timeout(IO_TIMEOUT, f)
        .await
        .unwrap_or_else(|_| Err(std::io::ErrorKind::TimedOut.into()))
}

/// Sends `request` to `upstream` (with `Connection: close`, without `Expect`) and reads the
/// whole answer.
async fn forward(upstream: &str, request: &Request) -> std::io::Result<Reply> {
    let mut up = timed(TcpStream::connect(upstream)).await?;
    let mut head = format!("{} {} HTTP/1.1\r\n", request.method, request.target);
    for (n, v) in &request.headers {
        if ["connection", "expect", "keep-alive", "proxy-connection"]
            .iter()
            .any(|h| n.eq_ignore_ascii_case(h))
        {
            continue;
        }
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    head.push_str("Connection: close\r\n\r\n");
    timed(up.write_all(head.as_bytes())).await?;
    timed(up.write_all(&request.body)).await?;
    timed(up.flush()).await?;
    read_reply(&mut up).await
}

/// The `_bulk` fault: picked items answered with their error, the rest forwarded.
async fn bulk_items(upstream: &str, request: &Request, pick: &Pick) -> std::io::Result<Reply> {
    let body = request.decoded_body();
    // Items: an action line and a source line each (cwlogs sends `create` only).
    let lines: Vec<&[u8]> = body
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    let items: Vec<(&[u8], &[u8])> = lines
        .chunks(2)
        .map(|c| (c[0], c.get(1).copied().unwrap_or_default()))
        .collect();
    let picked: Vec<Option<(u16, String)>> = items
        .iter()
        .enumerate()
        .map(|(i, (action, _))| pick(i, action))
        .collect();
    let mut kept = Vec::new();
    for ((action, source), p) in items.iter().zip(&picked) {
        if p.is_none() {
            kept.extend_from_slice(action);
            kept.push(b'\n');
            kept.extend_from_slice(source);
            kept.push(b'\n');
        }
    }
    let mut answers: Vec<serde_json::Value> = Vec::new();
    if !kept.is_empty() {
        let mut headers: Vec<(String, String)> = request
            .headers
            .iter()
            .filter(|(n, _)| {
                !["content-length", "content-encoding", "transfer-encoding"]
                    .iter()
                    .any(|h| n.eq_ignore_ascii_case(h))
            })
            .cloned()
            .collect();
        headers.push(("Content-Length".into(), kept.len().to_string()));
        let forwarded = Request {
            method: request.method.clone(),
            target: request.target.clone(),
            headers,
            body: kept,
        };
        let reply = forward(upstream, &forwarded).await?;
        if reply.status != 200 {
            return Ok(reply);
        }
        let v: serde_json::Value = serde_json::from_slice(&reply.body)
            .map_err(|e| std::io::Error::other(format!("the cluster's _bulk answer: {e}")))?;
        answers = v["items"].as_array().cloned().unwrap_or_default();
    }
    let mut answers = answers.into_iter();
    let mut merged = Vec::with_capacity(items.len());
    for ((action, _), p) in items.iter().zip(&picked) {
        if let Some((status, kind)) = p {
            let a: serde_json::Value = serde_json::from_slice(action).unwrap_or_default();
            let (op, meta) = a
                .as_object()
                .and_then(|o| o.iter().next())
                .map(|(k, v)| (k.clone(), v.clone()))
                .unwrap_or_else(|| ("create".into(), serde_json::Value::Null));
            merged.push(serde_json::json!({ op: {
                "_index": meta["_index"],
                "_id": meta["_id"],
                "status": status,
                "error": {"type": kind, "reason": "injected by the fault proxy"},
            }}));
        } else {
            merged.push(answers.next().ok_or_else(|| {
                std::io::Error::other("the cluster answered fewer items than were forwarded")
            })?);
        }
    }
    Ok(Reply::json(
        200,
        &serde_json::json!({"took": 1, "errors": true, "items": merged}),
    ))
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn is_chunked(headers: &[(String, String)]) -> bool {
    header(headers, "transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked"))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// `Some((decoded, consumed))` once `buf` holds a whole chunked body.
fn dechunk(buf: &[u8]) -> Option<(Vec<u8>, usize)> {
    let mut out = Vec::new();
    let mut at = 0;
    loop {
        let end = at + find(&buf[at..], b"\r\n")?;
        let text = std::str::from_utf8(&buf[at..end]).ok()?;
        let size = usize::from_str_radix(text.split(';').next()?.trim(), 16).ok()?;
        at = end + 2;
        if size == 0 {
            // Trailers, up to an empty line.
            loop {
                let end = at + find(&buf[at..], b"\r\n")?;
                if end == at {
                    return Some((out, at + 2));
                }
                at = end + 2;
            }
        }
        if buf.len() < at + size + 2 {
            return None;
        }
        out.extend_from_slice(&buf[at..at + size]);
        at += size + 2;
    }
}

/// Reads bytes until `done(buf)` says the message is whole; `Ok(false)` at end of stream.
async fn read_until(
    conn: &mut TcpStream,
    buf: &mut Vec<u8>,
    done: impl Fn(&[u8]) -> bool,
) -> std::io::Result<bool> {
    let mut chunk = vec![0u8; 64 * 1024];
    while !done(buf) {
        let n = timed(conn.read(&mut chunk)).await?;
        if n == 0 {
            return Ok(false);
        }
        if buf.len() + n > MAX_MESSAGE {
            return Err(std::io::Error::other("message over the proxy's cap"));
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Ok(true)
}

/// Header names and values, as sent.
type Headers = Vec<(String, String)>;

/// A head: (first line, headers, where the body starts).
fn parse_head(buf: &[u8]) -> Option<(String, Headers, usize)> {
    let end = find(buf, b"\r\n\r\n")? + 4;
    let text = String::from_utf8_lossy(&buf[..end - 4]).into_owned();
    let mut lines = text.split("\r\n");
    let first = lines.next()?.to_string();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    Some((first, headers, end))
}

/// How many body bytes a message with `headers` has, when its framing says (`None` for
/// chunked or read-to-end bodies).
fn content_length(headers: &[(String, String)]) -> Option<usize> {
    header(headers, "content-length").and_then(|n| n.parse().ok())
}

async fn read_request(conn: &mut TcpStream) -> std::io::Result<Request> {
    let mut buf = Vec::new();
    if !read_until(conn, &mut buf, |b| find(b, b"\r\n\r\n").is_some()).await? {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    let (line, headers, start) =
        parse_head(&buf).ok_or_else(|| std::io::Error::other("bad request head"))?;
    let mut parts = line.split(' ');
    let method = parts.next().unwrap_or_default().to_string();
    let target = parts.next().unwrap_or_default().to_string();
    if header(&headers, "expect").is_some_and(|v| v.eq_ignore_ascii_case("100-continue")) {
        timed(conn.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")).await?;
    }
    let chunked = is_chunked(&headers);
    let length = content_length(&headers).unwrap_or(0);
    let complete = read_until(conn, &mut buf, |b| {
        if chunked {
            dechunk(&b[start..]).is_some()
        } else {
            b.len() >= start + length
        }
    })
    .await?;
    if !complete {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    Ok(Request {
        method,
        target,
        headers,
        body: buf[start..].to_vec(),
    })
}

async fn read_reply(conn: &mut TcpStream) -> std::io::Result<Reply> {
    let mut buf = Vec::new();
    if !read_until(conn, &mut buf, |b| find(b, b"\r\n\r\n").is_some()).await? {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    let (line, headers, start) =
        parse_head(&buf).ok_or_else(|| std::io::Error::other("bad answer head"))?;
    let status: u16 = line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line: {line}")))?;
    let chunked = is_chunked(&headers);
    let length = content_length(&headers);
    read_until(conn, &mut buf, |b| {
        if chunked {
            dechunk(&b[start..]).is_some()
        } else {
            length.is_some_and(|n| b.len() >= start + n)
        }
    })
    .await?;
    let body = if chunked {
        dechunk(&buf[start..])
            .map(|(b, _)| b)
            .ok_or_else(|| std::io::Error::other("an answer cut inside its chunks"))?
    } else {
        let end = length.map_or(buf.len(), |n| (start + n).min(buf.len()));
        buf[start..end].to_vec()
    };
    let headers = headers
        .into_iter()
        .filter(|(n, _)| {
            ![
                "content-length",
                "transfer-encoding",
                "connection",
                "keep-alive",
            ]
            .iter()
            .any(|h| n.eq_ignore_ascii_case(h))
        })
        .collect();
    Ok(Reply {
        status,
        headers,
        body,
    })
}
