//! A Lambda Runtime API emulator: a tokio HTTP/1.1 server on 127.0.0.1 that a function binary
//! talks to as it talks to Lambda (`AWS_LAMBDA_RUNTIME_API` = [`RuntimeApi::endpoint`]). The
//! test queues invocations with the `lambda-runtime-deadline-ms` of its choice ([`Deadline`]:
//! an epoch time as Lambda sends, or a raw value such as cargo lambda's `600000`) and reads
//! the function's answers. Feature `runtime-api`.
//!
//! What it serves (the Runtime API, version 2018-06-01):
//!
//! - `GET /2018-06-01/runtime/invocation/next`: waits for a queued invocation and answers with
//!   its payload and the headers Lambda sends (`Lambda-Runtime-Aws-Request-Id`,
//!   `Lambda-Runtime-Deadline-Ms`, `Lambda-Runtime-Invoked-Function-Arn`,
//!   `Lambda-Runtime-Trace-Id`);
//! - `POST /2018-06-01/runtime/invocation/{id}/response` and `.../error` (with its
//!   `Lambda-Runtime-Function-Error-Type`): the answer, kept for [`RuntimeApi::answer`];
//! - `POST /2018-06-01/runtime/init/error`: a failed cold start, kept as
//!   [`RuntimeApi::init_error`].
//!
//! Connections are kept alive, as the runtime client expects; bodies are read by
//! `Content-Length` or chunked.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

/// The largest request body read (Lambda's response limit is 6 MB).
const MAX_BODY: usize = 16 << 20;

/// The `lambda-runtime-deadline-ms` an invocation is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deadline {
    /// As Lambda sends it: now plus this much, in milliseconds since the epoch.
    In(Duration),
    /// This exact value (cargo lambda's emulator sends `600000`, a duration).
    Raw(u64),
}

impl Deadline {
    /// The header's value, as of now.
    pub fn header(self) -> u64 {
        match self {
            Deadline::In(left) => {
                let now = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_millis() as u64);
                now + left.as_millis() as u64
            }
            Deadline::Raw(v) => v,
        }
    }
}

/// How the function answered an invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// `POST .../response`: the body.
    Response(String),
    /// `POST .../error`: the `Lambda-Runtime-Function-Error-Type` header and the body.
    Error {
        /// The error type (`cwlogs.RetryLater`, ...).
        error_type: String,
        /// The body (`{"errorType": ..., "errorMessage": ...}`).
        body: String,
    },
}

#[derive(Default)]
struct State {
    queued: VecDeque<(String, String, u64)>,
    answers: HashMap<String, Answer>,
    init_error: Option<String>,
    served: usize,
    /// When the first `GET .../next` came (the function's init was over).
    first_poll: Option<Instant>,
    /// When each answer came.
    answered_at: HashMap<String, Instant>,
}

/// The emulator; stops when dropped.
pub struct RuntimeApi {
    addr: std::net::SocketAddr,
    state: Arc<Mutex<State>>,
    changed: Arc<Notify>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn lock(state: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    state
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl RuntimeApi {
    /// Starts the emulator on a free port of 127.0.0.1 (in the current tokio runtime).
    pub async fn start() -> RuntimeApi {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1");
        let addr = listener.local_addr().expect("local address");
        let state = Arc::new(Mutex::new(State::default()));
        let changed = Arc::new(Notify::new());
        let (s, c) = (state.clone(), changed.clone());
        let server = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, s.clone(), c.clone()));
            }
        });
        RuntimeApi {
            addr,
            state,
            changed,
            server,
        }
    }

    /// What `AWS_LAMBDA_RUNTIME_API` is set to: `127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        self.addr.to_string()
    }

    /// Queues an invocation of `payload` (JSON) with request id `request_id` and `deadline`.
    pub fn invoke(&self, request_id: &str, payload: &str, deadline: Deadline) {
        lock(&self.state).queued.push_back((
            request_id.to_string(),
            payload.to_string(),
            deadline.header(),
        ));
        self.changed.notify_waiters();
    }

    /// The answer to `request_id`, waiting at most `patience`; `None` if none came (a failed
    /// cold start is in [`RuntimeApi::init_error`]).
    pub async fn answer(&self, request_id: &str, patience: Duration) -> Option<Answer> {
        let until = tokio::time::Instant::now() + patience;
        loop {
            let notified = self.changed.notified();
            {
                let s = lock(&self.state);
                if let Some(a) = s.answers.get(request_id) {
                    return Some(a.clone());
                }
                if s.init_error.is_some() {
                    return None;
                }
            }
            if tokio::time::timeout_at(until, notified).await.is_err() {
                return None;
            }
        }
    }

    /// The body of `POST /runtime/init/error`, when the function reported a failed cold start.
    pub fn init_error(&self) -> Option<String> {
        lock(&self.state).init_error.clone()
    }

    /// How many invocations were handed out by `GET .../next`.
    pub fn served(&self) -> usize {
        lock(&self.state).served
    }

    /// When the function first asked for an invocation (`GET .../next`): the end of its init.
    pub fn first_poll(&self) -> Option<Instant> {
        lock(&self.state).first_poll
    }

    /// When the answer to `request_id` was received (the `POST` read in full).
    pub fn answered_at(&self, request_id: &str) -> Option<Instant> {
        lock(&self.state).answered_at.get(request_id).copied()
    }
}

/// One request as read.
struct Request {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Serves one connection, request after request, until the client closes it.
async fn serve(stream: TcpStream, state: Arc<Mutex<State>>, changed: Arc<Notify>) {
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    while let Some(request) = read_request(&mut read).await {
        let (status, headers, body) = route(&request, &state, &changed).await;
        let mut head = format!(
            "HTTP/1.1 {status}\r\ncontent-length: {}\r\ncontent-type: application/json\r\n",
            body.len()
        );
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        if write.write_all(head.as_bytes()).await.is_err()
            || write.write_all(body.as_bytes()).await.is_err()
        {
            return;
        }
    }
}

/// Reads one request (head, then the body by `Content-Length` or chunked); `None` at the end
/// of the connection or on anything malformed.
async fn read_request<R: tokio::io::AsyncBufRead + Unpin>(read: &mut R) -> Option<Request> {
    let mut line = String::new();
    if read.read_line(&mut line).await.ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next()?.to_string(), parts.next()?.to_string());
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if read.read_line(&mut h).await.ok()? == 0 {
            return None;
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':')?;
        headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
    }
    let mut request = Request {
        method,
        path,
        headers,
        body: Vec::new(),
    };
    if let Some(n) = request.header("content-length") {
        let n: usize = n.parse().ok()?;
        if n > MAX_BODY {
            return None;
        }
        request.body = vec![0; n];
        read.read_exact(&mut request.body).await.ok()?;
    } else if request
        .header("transfer-encoding")
        .is_some_and(|t| t.eq_ignore_ascii_case("chunked"))
    {
        loop {
            let mut size = String::new();
            read.read_line(&mut size).await.ok()?;
            let size = usize::from_str_radix(size.trim().split(';').next()?, 16).ok()?;
            if request.body.len() + size > MAX_BODY {
                return None;
            }
            let mut chunk = vec![0; size + 2];
            read.read_exact(&mut chunk).await.ok()?;
            chunk.truncate(size);
            request.body.extend(chunk);
            if size == 0 {
                // Trailers end with an empty line (already read as the chunk's CRLF when
                // there are none).
                break;
            }
        }
    }
    Some(request)
}

/// The answer to one request: status line, extra headers, body.
async fn route(
    request: &Request,
    state: &Mutex<State>,
    changed: &Notify,
) -> (&'static str, Vec<(String, String)>, String) {
    const PREFIX: &str = "/2018-06-01/runtime";
    let accepted = ("202 Accepted", Vec::new(), r#"{"status":"OK"}"#.to_string());
    let Some(rest) = request.path.strip_prefix(PREFIX) else {
        return ("404 Not Found", Vec::new(), "{}".into());
    };
    match (request.method.as_str(), rest) {
        ("GET", "/invocation/next") => loop {
            lock(state).first_poll.get_or_insert_with(Instant::now);
            let notified = changed.notified();
            let next = {
                let mut s = lock(state);
                let next = s.queued.pop_front();
                if next.is_some() {
                    s.served += 1;
                }
                next
            };
            if let Some((id, payload, deadline)) = next {
                let headers = vec![
                    ("lambda-runtime-aws-request-id".to_string(), id),
                    (
                        "lambda-runtime-deadline-ms".to_string(),
                        deadline.to_string(),
                    ),
                    (
                        "lambda-runtime-invoked-function-arn".to_string(),
                        "arn:aws:lambda:us-east-1:123456789012:function:cwlogs-test".to_string(),
                    ),
                    (
                        "lambda-runtime-trace-id".to_string(),
                        "Root=1-00000000-000000000000000000000000;Sampled=0".to_string(),
                    ),
                ];
                return ("200 OK", headers, payload);
            }
            notified.await;
        },
        ("POST", "/init/error") => {
            lock(state).init_error = Some(String::from_utf8_lossy(&request.body).into_owned());
            changed.notify_waiters();
            accepted
        }
        ("POST", path) => {
            let Some(path) = path.strip_prefix("/invocation/") else {
                return ("404 Not Found", Vec::new(), "{}".into());
            };
            let body = String::from_utf8_lossy(&request.body).into_owned();
            let (id, answer) = if let Some(id) = path.strip_suffix("/response") {
                (id, Answer::Response(body))
            } else if let Some(id) = path.strip_suffix("/error") {
                let error_type = request
                    .header("lambda-runtime-function-error-type")
                    .unwrap_or_default()
                    .to_string();
                (id, Answer::Error { error_type, body })
            } else {
                return ("404 Not Found", Vec::new(), "{}".into());
            };
            let mut s = lock(state);
            s.answered_at.insert(id.to_string(), Instant::now());
            s.answers.insert(id.to_string(), answer);
            drop(s);
            changed.notify_waiters();
            accepted
        }
        _ => ("404 Not Found", Vec::new(), "{}".into()),
    }
}
