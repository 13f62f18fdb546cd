//! Sending `_bulk` requests so that nothing is lost and nothing is duplicated.
//!
//! [`send_items`] takes `_bulk` items (an action line and a document line each, built by
//! [`crate::bulk_chunks`]) and drives them to a final [`Fate`] through a [`BulkTransport`]
//! (the HTTP client lives in `cwlogs-aws`; [`MemoryIndex`] is an in-memory cluster for tests):
//!
//! - requests are cut at item boundaries below a byte budget and sent gzip-compressed;
//! - every answer goes through one pure function, [`classify_response`] (whole request) and
//!   [`classify_item`] (each item), tested from recorded responses;
//! - items that failed for now (429, 5xx, rejected execution) are sent again, alone, after a
//!   jittered backoff that stops in time for the deadline;
//! - a 413 halves the request, down to the single item that is too large;
//! - 401/403 on the whole request stop at once: the input is kept for the trigger to deliver
//!   again, with an error that says what to fix.
//!
//! Documents are created with a deterministic `_id`, so a redelivered event answers 409 and
//! counts as done: sending twice never duplicates.

use crate::sink::{Backoff, Class, SendError, jitter};
use serde::Deserialize;
use serde::de::IgnoredAny;
use std::collections::BTreeMap;
use std::future::Future;
use std::io::Write as _;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// No request starts with less than this left before the deadline.
pub const MIN_ATTEMPT: Duration = Duration::from_millis(250);

/// The largest response body read from a cluster, in bytes. A `_bulk` answer is ~150 bytes per
/// item; this is far above what a 100 MB request gets back.
pub const MAX_RESPONSE_BYTES: usize = 64 << 20;

/// The status and body of one `_bulk` answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// The body (JSON for the cluster's own answers; anything from proxies in front of it).
    pub body: Vec<u8>,
}

/// The HTTP seam: one `_bulk` POST, and the runtime's timer.
pub trait BulkTransport: Send + Sync {
    /// Posts one `_bulk` body (NDJSON, gzip-compressed when `gzip`) and returns the answer,
    /// whatever its status. An error means there was no answer: a connection failure or a
    /// timeout ([`Class::Retry`]), or a request that cannot be made at all ([`Class::Reject`],
    /// e.g. no credentials). The attempt must end by `deadline`.
    fn post_bulk(
        &self,
        body: Vec<u8>,
        gzip: bool,
        deadline: Option<Instant>,
    ) -> impl Future<Output = Result<Reply, SendError>> + Send;

    /// Waits `delay` before the next attempt.
    fn sleep(&self, delay: Duration) -> impl Future<Output = ()> + Send;
}

/// What the cluster said about one item, and what to do with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemClass {
    /// Indexed now (`created`) or already there (409 on `create`: a redelivery).
    Done {
        /// False when the document already existed.
        created: bool,
    },
    /// Failed for now (429, 5xx, rejected execution): send it again.
    Retry(String),
    /// The cluster rejected the document for its mapping: store it in the quarantine index.
    Quarantine {
        /// The error type (`mapper_parsing_exception`, ...).
        kind: String,
        /// The reason, with the innermost cause.
        reason: String,
    },
    /// Will never be accepted as sent (write-blocked index, missing index, bad index name):
    /// dead-letter the input.
    Reject(String),
}

/// What a whole `_bulk` answer means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResponseClass {
    /// Per-item results, in request order.
    Items(Vec<ItemClass>),
    /// 413: the request is too large; split it. Also a whole-request 400, which can be one bad
    /// item: splitting isolates it.
    Split(String),
    /// Throttled or unavailable (429, 5xx): send the whole request again later.
    Retry(String),
    /// Misconfigured (401, 403, 404, ...): stop, keep the input, and say what to fix.
    Stop(String),
    /// A single item the cluster will never take (413 or 400 on one item alone).
    Reject(String),
}

#[derive(Deserialize)]
struct Summary {
    #[serde(default)]
    errors: bool,
    items: Option<IgnoredAny>,
}

#[derive(Deserialize)]
struct Full {
    items: Vec<BTreeMap<String, ItemBody>>,
}

#[derive(Deserialize)]
struct ItemBody {
    status: u16,
    #[serde(default)]
    error: Option<serde_json::Value>,
}

/// The error type and reason of an item or a whole answer, with the innermost `caused_by`.
fn error_text(error: &serde_json::Value) -> (String, String) {
    match error {
        serde_json::Value::String(s) => (String::new(), s.clone()),
        serde_json::Value::Object(o) => {
            let kind = o
                .get("type")
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_string();
            let mut reason = o
                .get("reason")
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_string();
            let mut cause = o.get("caused_by");
            let mut depth = 0;
            while let Some(c) = cause.filter(|_| depth < 8) {
                if let Some(r) = c.get("reason").and_then(|v| v.as_str()) {
                    let t = c.get("type").and_then(|v| v.as_str()).unwrap_or_default();
                    reason = format!("{reason}: {t}: {r}");
                }
                cause = c.get("caused_by");
                depth += 1;
            }
            (kind, reason)
        }
        other => (String::new(), other.to_string()),
    }
}

/// Error types that mean "this document does not fit the index's mapping".
fn is_mapping_error(kind: &str, reason: &str) -> bool {
    matches!(
        kind,
        "mapper_parsing_exception"
            | "document_parsing_exception"
            | "strict_dynamic_mapping_exception"
            | "mapper_exception"
            | "json_parse_exception"
            | "x_content_parse_exception"
            | "parse_exception"
    ) || (kind == "illegal_argument_exception"
        && ["mapping", "field", "Limit of", "mapper"]
            .iter()
            .any(|w| reason.contains(w)))
}

/// Classifies one item of a `_bulk` answer from its status and error.
pub fn classify_item(status: u16, error: Option<&serde_json::Value>) -> ItemClass {
    let (kind, reason) = error.map(error_text).unwrap_or_default();
    let text = || {
        if kind.is_empty() {
            format!("status {status}: {reason}")
        } else {
            format!("status {status}: {kind}: {reason}")
        }
    };
    match status {
        200..=299 => ItemClass::Done {
            created: status == 201,
        },
        409 => ItemClass::Done { created: false },
        _ if kind.contains("rejected_execution_exception") => ItemClass::Retry(text()),
        429 | 500..=599 => ItemClass::Retry(text()),
        400 if is_mapping_error(&kind, &reason) => ItemClass::Quarantine {
            kind: if kind.is_empty() {
                "unknown".into()
            } else {
                kind.clone()
            },
            reason,
        },
        403 => ItemClass::Reject(format!(
            "{}; the index is write-blocked (index.blocks.write, or the domain is low on storage): the input is kept as a dead letter, replay it once writes are allowed",
            text()
        )),
        400 if reason.contains("Document ID is not supported") => ItemClass::Reject(format!(
            "{}; this OpenSearch Serverless collection (time series or vector search) takes no document ids: set `document_ids = false` in [index] (redeliveries can then duplicate documents) or use a search collection",
            text()
        )),
        404 => ItemClass::Reject(format!(
            "{}; the index does not exist and the cluster does not create indices on write (action.auto_create_index)",
            text()
        )),
        _ => ItemClass::Reject(text()),
    }
}

/// A short, printable excerpt of a body that is not the cluster's JSON (proxies answer HTML).
fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(300)]);
    let text: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.is_empty() {
        "(empty body)".into()
    } else {
        text
    }
}

/// The message of a whole-request error body: the cluster's `error` (object or string), AWS's
/// `Message`/`message`, or an excerpt.
fn request_error(body: &[u8]) -> String {
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) {
        if let Some(e) = v.get("error") {
            let (kind, reason) = error_text(e);
            return if kind.is_empty() {
                reason
            } else {
                format!("{kind}: {reason}")
            };
        }
        for k in ["Message", "message"] {
            if let Some(m) = v.get(k).and_then(|m| m.as_str()) {
                return m.to_string();
            }
        }
    }
    excerpt(body)
}

/// Classifies a whole `_bulk` answer to a request of `items` items.
pub fn classify_response(reply: &Reply, items: usize) -> ResponseClass {
    let status = reply.status;
    match status {
        200..=299 => {}
        413 if items > 1 => {
            return ResponseClass::Split(format!(
                "413 request too large: {}",
                request_error(&reply.body)
            ));
        }
        413 => {
            return ResponseClass::Reject(format!(
                "413: this document alone is larger than the cluster accepts ({}); raise http.max_content_length or keep such events out of the index",
                request_error(&reply.body)
            ));
        }
        400 if items > 1 => {
            return ResponseClass::Split(format!("400: {}", request_error(&reply.body)));
        }
        400 => {
            return ResponseClass::Reject(format!(
                "400 on this item alone: {}",
                request_error(&reply.body)
            ));
        }
        429 | 500..=599 => {
            return ResponseClass::Retry(format!("{status}: {}", request_error(&reply.body)));
        }
        // Amazon OpenSearch Service blocks writes by itself under JVM memory pressure or low
        // disk, and lifts the block by itself: a 403 that is not about credentials.
        403 if request_error(&reply.body).starts_with("cluster_block_exception") => {
            return ResponseClass::Retry(format!(
                "403 {}: the cluster blocks writes (on Amazon OpenSearch Service: JVM memory pressure or low free storage; the block is lifted once that passes)",
                request_error(&reply.body)
            ));
        }
        401 | 403 => {
            return ResponseClass::Stop(format!(
                "{status} from the cluster: {}. Check the credentials: for Amazon OpenSearch Service the function's role must be allowed by the domain's access policy and mapped to a role with bulk write permission in OpenSearch security (fine-grained access control); for basic auth, CWLOGS_INDEX_USERNAME and CWLOGS_INDEX_PASSWORD. The input is kept for redelivery",
                request_error(&reply.body)
            ));
        }
        _ => {
            return ResponseClass::Stop(format!(
                "{status} from the cluster: {}. Check the endpoint URL (it must be the cluster's base URL, without /_bulk); the input is kept for redelivery",
                request_error(&reply.body)
            ));
        }
    }
    let summary: Summary = match serde_json::from_slice(&reply.body) {
        Ok(s) => s,
        Err(e) => {
            return ResponseClass::Retry(format!(
                "{status} with a body that is not a _bulk answer ({e}): {}",
                excerpt(&reply.body)
            ));
        }
    };
    if summary.items.is_none() {
        return ResponseClass::Retry(format!(
            "{status} without `items`: {}",
            excerpt(&reply.body)
        ));
    }
    if !summary.errors {
        return ResponseClass::Items(vec![ItemClass::Done { created: true }; items]);
    }
    let full: Full = match serde_json::from_slice(&reply.body) {
        Ok(f) => f,
        Err(e) => {
            return ResponseClass::Retry(format!("unreadable _bulk items ({e})"));
        }
    };
    if full.items.len() != items {
        return ResponseClass::Retry(format!(
            "the answer has {} items for {items} sent",
            full.items.len()
        ));
    }
    ResponseClass::Items(
        full.items
            .iter()
            .map(|item| match item.values().next() {
                Some(b) => classify_item(b.status, b.error.as_ref()),
                None => ItemClass::Retry("an empty item in the answer".into()),
            })
            .collect(),
    )
}

/// How an item ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fate {
    /// In the index (now, or already before).
    Done {
        /// False when it was already there (a redelivery).
        created: bool,
    },
    /// Rejected for its mapping: goes to the quarantine index.
    Quarantine {
        /// The error type.
        kind: String,
        /// The reason.
        reason: String,
    },
    /// Will never be accepted: the input goes to a dead letter.
    Rejected(String),
    /// Not settled by the deadline, or the cluster refused us: the trigger must deliver the
    /// input again.
    Pending(String),
}

/// How requests are cut and sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BulkOptions {
    /// Upper bound on one request body before compression, in bytes.
    pub max_bytes: usize,
    /// Whether bodies are gzip-compressed.
    pub compress: bool,
    /// The retry schedule for items and requests that failed for now.
    pub backoff: Backoff,
}

impl Default for BulkOptions {
    fn default() -> Self {
        BulkOptions {
            max_bytes: 5_000_000,
            compress: true,
            backoff: Backoff::default(),
        }
    }
}

/// What [`send_items`] did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BulkReport {
    /// One fate per item, in input order.
    pub fates: Vec<Fate>,
    /// Requests sent (first attempts, retries and halves).
    pub requests: usize,
    /// Bytes sent on the wire (after compression).
    pub bytes_sent: usize,
    /// Re-sends of items (after a retryable failure or a split): an item sent three times
    /// counts twice.
    pub retried_items: usize,
}

impl BulkReport {
    /// Items in the index, created now.
    pub fn created(&self) -> usize {
        self.count(|f| matches!(f, Fate::Done { created: true }))
    }

    /// Items that were already in the index.
    pub fn existed(&self) -> usize {
        self.count(|f| matches!(f, Fate::Done { created: false }))
    }

    /// Items whose fate matches `pred`.
    pub fn count(&self, pred: impl Fn(&Fate) -> bool) -> usize {
        self.fates.iter().filter(|f| pred(f)).count()
    }
}

/// Gzip level for request bodies: transfer compression, where speed matters more than size.
const GZIP_LEVEL: u32 = 1;

fn request_body(items: &[&[u8]], group: &[usize], compress: bool) -> Vec<u8> {
    let len: usize = group.iter().map(|&i| items[i].len()).sum();
    if !compress {
        let mut body = Vec::with_capacity(len);
        for &i in group {
            body.extend_from_slice(items[i]);
        }
        return body;
    }
    let mut gz = flate2::write::GzEncoder::new(
        Vec::with_capacity(len / 6 + 64),
        flate2::Compression::new(GZIP_LEVEL),
    );
    for &i in group {
        // Writing into a Vec cannot fail.
        let _ = gz.write_all(items[i]);
    }
    gz.finish().unwrap_or_default()
}

/// Cuts `todo` (item positions) into requests of at most `max_bytes` each (an item larger than
/// that goes alone).
fn cut(items: &[&[u8]], todo: &[usize], max_bytes: usize) -> Vec<Vec<usize>> {
    let mut groups = Vec::new();
    let mut group = Vec::new();
    let mut size = 0;
    for &i in todo {
        let len = items[i].len();
        if !group.is_empty() && size + len > max_bytes {
            groups.push(std::mem::take(&mut group));
            size = 0;
        }
        group.push(i);
        size += len;
    }
    if !group.is_empty() {
        groups.push(group);
    }
    groups
}

fn time_left(deadline: Option<Instant>) -> bool {
    deadline.is_none_or(|d| Instant::now() + MIN_ATTEMPT < d)
}

/// Sends `items` (each an action line and a document line) and returns every item's fate.
/// Items that fail for now are sent again, alone, until they succeed, fail for good, run out
/// of attempts, or `deadline` is too near; whatever is left is [`Fate::Pending`].
pub async fn send_items<T: BulkTransport>(
    transport: &T,
    items: &[&[u8]],
    options: &BulkOptions,
    deadline: Option<Instant>,
) -> BulkReport {
    let mut fates: Vec<Option<Fate>> = vec![None; items.len()];
    let mut report = BulkReport::default();
    let mut todo: Vec<usize> = (0..items.len()).collect();
    let mut attempt = 0u32;
    let mut sent_before = vec![false; items.len()];
    // Why the items of this round are being sent again, for the message if time runs out.
    let mut previous_error: Option<String> = None;
    'rounds: while !todo.is_empty() {
        attempt += 1;
        let mut again: Vec<usize> = Vec::new();
        let mut last_error = String::new();
        // Requests still to send this round; halves are pushed back on top.
        let mut stack: Vec<Vec<usize>> = cut(items, &todo, options.max_bytes);
        stack.reverse();
        while let Some(group) = stack.pop() {
            if !time_left(deadline) {
                let why = match &previous_error {
                    Some(e) => format!(
                        "{e} (still failing when the invocation's deadline came; kept for redelivery)"
                    ),
                    None => "the invocation's deadline came before this item was sent; it is kept for redelivery".into(),
                };
                for i in stack.drain(..).flatten().chain(group) {
                    fates[i] = Some(Fate::Pending(why.clone()));
                }
                break;
            }
            for &i in &group {
                if std::mem::replace(&mut sent_before[i], true) && fates[i].is_none() {
                    report.retried_items += 1;
                }
            }
            let body = request_body(items, &group, options.compress);
            report.requests += 1;
            report.bytes_sent += body.len();
            let verdict = match transport.post_bulk(body, options.compress, deadline).await {
                Ok(reply) => classify_response(&reply, group.len()),
                Err(e) if e.class == Class::Retry => ResponseClass::Retry(e.message),
                Err(e) => ResponseClass::Stop(e.message),
            };
            match verdict {
                ResponseClass::Items(classes) => {
                    for (&i, class) in group.iter().zip(classes) {
                        match class {
                            ItemClass::Done { created } => fates[i] = Some(Fate::Done { created }),
                            ItemClass::Retry(why) => {
                                last_error = why;
                                again.push(i);
                            }
                            ItemClass::Quarantine { kind, reason } => {
                                fates[i] = Some(Fate::Quarantine { kind, reason });
                            }
                            ItemClass::Reject(why) => fates[i] = Some(Fate::Rejected(why)),
                        }
                    }
                }
                ResponseClass::Split(_) => {
                    let (a, b) = group.split_at(group.len() / 2);
                    stack.push(b.to_vec());
                    stack.push(a.to_vec());
                }
                ResponseClass::Reject(why) => {
                    for &i in &group {
                        fates[i] = Some(Fate::Rejected(why.clone()));
                    }
                }
                ResponseClass::Retry(why) => {
                    last_error = why;
                    again.extend(group);
                }
                ResponseClass::Stop(why) => {
                    for i in stack
                        .drain(..)
                        .flatten()
                        .chain(group)
                        .chain(again.drain(..))
                    {
                        fates[i] = Some(Fate::Pending(why.clone()));
                    }
                    break 'rounds;
                }
            }
        }
        if again.is_empty() {
            break;
        }
        again.sort_unstable();
        let delay = options.backoff.delay(attempt, jitter());
        let error = SendError {
            class: Class::Retry,
            message: last_error,
        };
        if !options.backoff.should_retry(
            &error,
            attempt,
            delay,
            Instant::now(),
            deadline,
            MIN_ATTEMPT,
        ) {
            let stop = if attempt < options.backoff.max_attempts {
                ", stopped for the invocation's deadline"
            } else {
                ""
            };
            let why = format!(
                "{} (after {attempt} attempts{stop}); kept for redelivery",
                error.message
            );
            for i in again {
                fates[i] = Some(Fate::Pending(why.clone()));
            }
            break;
        }
        transport.sleep(delay).await;
        previous_error = Some(error.message);
        todo = again;
    }
    report.fates = fates
        .into_iter()
        .map(|f| f.unwrap_or_else(|| Fate::Pending("not sent".into())))
        .collect();
    report
}

/// The fields of a document that name where it belongs.
#[derive(Deserialize, Default)]
#[serde(default)]
struct Origin {
    #[serde(rename = "@timestamp")]
    timestamp: String,
    cloud: OriginCloud,
    aws: OriginAws,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct OriginCloud {
    account: OriginAccount,
    region: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct OriginAccount {
    id: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct OriginAws {
    cloudwatch: OriginGroup,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct OriginGroup {
    log_group: String,
}

#[derive(Deserialize)]
struct Action {
    #[serde(rename = "_index")]
    index: String,
    #[serde(rename = "_id")]
    id: Option<String>,
}

/// The `_bulk` item that stores a document the cluster rejected for its mapping in the
/// quarantine index (`config.quarantine_index`, rendered from the document's own time, account,
/// region and log group), under the same `_id`: see
/// [`crate::document::quarantine_document`] for what it holds.
pub fn quarantine_item(
    config: &crate::IndexConfig,
    item: &[u8],
    kind: &str,
    reason: &str,
) -> Vec<u8> {
    let (action, doc) = match item.iter().position(|&b| b == b'\n') {
        Some(at) => (&item[..at], &item[at + 1..]),
        None => (item, &b""[..]),
    };
    let doc = doc.strip_suffix(b"\n").unwrap_or(doc);
    let action: Option<Action> = serde_json::from_slice::<BTreeMap<String, Action>>(action)
        .ok()
        .and_then(|m| m.into_values().next());
    let origin: Origin = serde_json::from_slice(doc).unwrap_or_default();
    let timestamp = crate::time::UtcTime::parse_rfc3339(&origin.timestamp).unwrap_or(0);
    let index = config.quarantine_index.render_for(
        &origin.cloud.account.id,
        &origin.aws.cloudwatch.log_group,
        &origin.cloud.region,
        timestamp,
    );
    let original_index = action.as_ref().map_or("", |a| a.index.as_str());
    let mut out = Vec::with_capacity(doc.len() * 2 + 256);
    out.extend_from_slice(b"{\"create\":{\"_index\":");
    crate::json::push_str(&mut out, &index);
    if let Some(id) = action.as_ref().and_then(|a| a.id.as_deref()) {
        out.extend_from_slice(b",\"_id\":");
        crate::json::push_str(&mut out, id);
    }
    out.extend_from_slice(b"}}\n");
    out.extend_from_slice(&crate::document::quarantine_document(
        doc,
        original_index,
        kind,
        reason,
    ));
    out.push(b'\n');
    out
}

/// [`send_items`], then the quarantine: items the cluster rejected for their mapping are stored
/// in the quarantine index ([`quarantine_item`]). A quarantined item ends [`Fate::Quarantine`]
/// once stored; if the quarantine index refuses it too it ends [`Fate::Rejected`] (a dead
/// letter), and if that cannot finish in time, [`Fate::Pending`].
pub async fn index_items<T: BulkTransport>(
    transport: &T,
    items: &[&[u8]],
    config: &crate::IndexConfig,
    options: &BulkOptions,
    deadline: Option<Instant>,
) -> BulkReport {
    let mut report = send_items(transport, items, options, deadline).await;
    let quarantined: Vec<usize> = (0..items.len())
        .filter(|&i| matches!(report.fates[i], Fate::Quarantine { .. }))
        .collect();
    if quarantined.is_empty() {
        return report;
    }
    let built: Vec<Vec<u8>> = quarantined
        .iter()
        .map(|&i| match &report.fates[i] {
            Fate::Quarantine { kind, reason } => quarantine_item(config, items[i], kind, reason),
            _ => Vec::new(),
        })
        .collect();
    let refs: Vec<&[u8]> = built.iter().map(Vec::as_slice).collect();
    let second = send_items(transport, &refs, options, deadline).await;
    report.requests += second.requests;
    report.bytes_sent += second.bytes_sent;
    report.retried_items += second.retried_items;
    for (&i, fate) in quarantined.iter().zip(second.fates) {
        match fate {
            Fate::Done { .. } => {}
            Fate::Quarantine { reason, .. } | Fate::Rejected(reason) => {
                let first = match &report.fates[i] {
                    Fate::Quarantine { kind, reason } => format!("{kind}: {reason}"),
                    _ => String::new(),
                };
                report.fates[i] = Fate::Rejected(format!(
                    "rejected for its mapping ({first}), and the quarantine index refused it too: {reason}"
                ));
            }
            Fate::Pending(why) => report.fates[i] = Fate::Pending(why),
        }
    }
    report
}

/// The index templates `config` needs, as `(name, body)` for `PUT _index_template/<name>`
/// (composable templates: OpenSearch 1+, Elasticsearch 7.8+):
///
/// - `cwlogs-<prefix>` for the indices of the `index` template (the pattern is its literal
///   prefix and `*`): `@timestamp` a date, ids, account, region, log group and stream
///   keywords, `message` text; a data stream when `data_stream` is on;
/// - `cwlogs-quarantine-<prefix>` for the quarantine indices, at a higher priority (it often
///   shares the prefix): fixed fields only and `dynamic: false`, so that a quarantined
///   document can never itself hit a mapping conflict.
///
/// An `index` template that starts with a placeholder has no usable pattern: that is an
/// error (install the template by hand, or set `install_template = false`).
pub fn index_templates(
    config: &crate::IndexConfig,
) -> Result<Vec<(String, serde_json::Value)>, SendError> {
    use serde_json::json;
    let keyword = json!({"type": "keyword", "ignore_above": 1024});
    let common = json!({
        "@timestamp": {"type": "date"},
        "message": {"type": "text"},
        "event": {"properties": {"id": keyword, "original": {"type": "text", "index": false}}},
        "cloud": {"properties": {
            "provider": keyword,
            "region": keyword,
            "account": {"properties": {"id": keyword}}
        }},
        "aws": {"properties": {
            "cloudwatch": {"properties": {"log_group": keyword, "log_stream": keyword}},
            "lambda": {"properties": {"request_id": keyword}}
        }},
        "log": {"properties": {"level": keyword}},
        "cwlogs": {"properties": {"truncated": {"type": "boolean"}, "reasons": keyword}},
    });
    let pattern = |t: &crate::IndexTemplate, what: &str| {
        let prefix = t.literal_prefix();
        if prefix.is_empty() {
            Err(SendError {
                class: Class::Reject,
                message: format!(
                    "the {what} template starts with a placeholder, so no index pattern can select its indices: install an index template by hand and set install_template = false"
                ),
            })
        } else {
            Ok(prefix)
        }
    };
    let main = pattern(&config.index, "index")?;
    let quarantine = pattern(&config.quarantine_index, "quarantine_index")?;
    let mut out = Vec::new();
    let mut body = json!({
        "index_patterns": [format!("{main}*")],
        "priority": 100,
        "template": {
            "mappings": {"properties": common.clone()}
        },
        "_meta": {"managed_by": "cwlogs"}
    });
    if config.data_stream {
        body["data_stream"] = json!({});
    }
    out.push((
        format!("cwlogs-{}", main.trim_end_matches(['-', '_', '.'])),
        body,
    ));
    let mut q = common;
    q["error"] = json!({"properties": {"type": keyword, "message": {"type": "text"}}});
    q["cwlogs"]["properties"]["original_index"] = keyword;
    out.push((
        format!(
            "cwlogs-quarantine-{}",
            quarantine.trim_end_matches(['-', '_', '.'])
        ),
        json!({
            "index_patterns": [format!("{quarantine}*")],
            "priority": 200,
            "template": {"mappings": {"dynamic": false, "properties": q}},
            "_meta": {"managed_by": "cwlogs"}
        }),
    ));
    Ok(out)
}

/// A document [`MemoryIndex`] holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredDoc {
    /// The document line as sent.
    pub source: Vec<u8>,
}

/// A scripted failure of [`MemoryIndex`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer the next `n` requests with this status and body.
    Request {
        /// How many requests.
        n: usize,
        /// HTTP status.
        status: u16,
        /// Body.
        body: String,
    },
    /// Items whose action or document line contains `needle` get `status` and an error of type `kind`,
    /// `n` times per `_id` (then they succeed), or forever when `n` is `usize::MAX`.
    Item {
        /// Text that selects the items.
        needle: String,
        /// How many times per item.
        n: usize,
        /// Item status.
        status: u16,
        /// Error type.
        kind: String,
    },
    /// Requests whose body (uncompressed) is larger than this get 413.
    MaxBody(usize),
}

#[derive(Debug, Default)]
struct MemoryState {
    docs: BTreeMap<(String, String), StoredDoc>,
    faults: Vec<Fault>,
    item_hits: BTreeMap<String, usize>,
    requests: usize,
}

/// An in-memory cluster for tests and benchmarks: `create` with an `_id` answers 201 the first
/// time and 409 after, as a real cluster does; scripted [`Fault`]s exercise the failure paths.
/// Bodies are read gzip-compressed or not. Sleeping returns at once.
#[derive(Debug, Default)]
pub struct MemoryIndex {
    state: Mutex<MemoryState>,
}

impl MemoryIndex {
    /// An empty cluster.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a scripted failure.
    pub fn fault(&self, fault: Fault) {
        self.lock().faults.push(fault);
    }

    /// Documents per `(index, _id)`.
    pub fn docs(&self) -> BTreeMap<(String, String), StoredDoc> {
        self.lock().docs.clone()
    }

    /// Documents in `index`.
    pub fn count(&self, index: &str) -> usize {
        self.lock().docs.keys().filter(|(i, _)| i == index).count()
    }

    /// Requests answered.
    pub fn requests(&self) -> usize {
        self.lock().requests
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, MemoryState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn answer(&self, body: &[u8]) -> Reply {
        let mut s = self.lock();
        s.requests += 1;
        let st = &mut *s;
        for f in &mut st.faults {
            match f {
                Fault::Request { n, status, body } if *n > 0 => {
                    *n -= 1;
                    return Reply {
                        status: *status,
                        body: body.clone().into_bytes(),
                    };
                }
                Fault::MaxBody(max) if body.len() > *max => {
                    return Reply {
                        status: 413,
                        body: b"{\"Message\":\"Request size exceeded\"}".to_vec(),
                    };
                }
                _ => {}
            }
        }
        let text = String::from_utf8_lossy(body);
        let mut lines = text.lines();
        let mut items = Vec::new();
        let mut errors = false;
        while let (Some(action), Some(doc)) = (lines.next(), lines.next()) {
            let meta: serde_json::Value = serde_json::from_str(action).unwrap_or_default();
            let (op, m) = match meta.as_object().and_then(|o| o.iter().next()) {
                Some((op, m)) => (op.clone(), m.clone()),
                None => ("create".into(), serde_json::Value::Null),
            };
            let index = m["_index"].as_str().unwrap_or_default().to_string();
            // Without an `_id` the cluster picks one, as a real one does.
            let id = match m["_id"].as_str() {
                Some(id) => id.to_string(),
                None => format!("auto-{}", st.docs.len() + items.len()),
            };
            let key = (index.clone(), id.clone());
            let mut fault = None;
            for f in &st.faults {
                if let Fault::Item {
                    needle,
                    n,
                    status,
                    kind,
                } = f
                    && (action.contains(needle.as_str()) || doc.contains(needle.as_str()))
                {
                    let hits = st.item_hits.entry(id.clone()).or_default();
                    if *hits < *n {
                        *hits += 1;
                        fault = Some((*status, kind.clone()));
                    }
                    break;
                }
            }
            let (status, error) = match fault {
                Some((status, kind)) => (
                    status,
                    Some(serde_json::json!({"type": kind, "reason": "scripted fault"})),
                ),
                None if serde_json::from_str::<IgnoredAny>(doc).is_err() => (
                    400,
                    Some(
                        serde_json::json!({"type": "document_parsing_exception", "reason": "not JSON"}),
                    ),
                ),
                None if op == "create" && st.docs.contains_key(&key) => (
                    409,
                    Some(serde_json::json!({
                        "type": "version_conflict_engine_exception",
                        "reason": format!("[{id}]: version conflict, document already exists")
                    })),
                ),
                None => {
                    st.docs.insert(
                        key,
                        StoredDoc {
                            source: doc.as_bytes().to_vec(),
                        },
                    );
                    (201, None)
                }
            };
            errors |= status >= 300;
            let mut item = serde_json::json!({"_index": index, "_id": id, "status": status});
            if let Some(e) = error {
                item["error"] = e;
            }
            items.push(serde_json::json!({ op: item }));
        }
        Reply {
            status: 200,
            body: serde_json::to_vec(
                &serde_json::json!({"took": 1, "errors": errors, "items": items}),
            )
            .unwrap_or_default(),
        }
    }
}

impl BulkTransport for MemoryIndex {
    fn post_bulk(
        &self,
        body: Vec<u8>,
        gzip: bool,
        _deadline: Option<Instant>,
    ) -> impl Future<Output = Result<Reply, SendError>> + Send {
        let plain = if gzip {
            let mut out = Vec::new();
            match std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&body[..]), &mut out)
            {
                Ok(_) => out,
                Err(e) => {
                    return std::future::ready(Ok(Reply {
                        status: 400,
                        body: format!("{{\"error\":\"bad gzip: {e}\"}}").into_bytes(),
                    }));
                }
            }
        } else {
            body
        };
        std::future::ready(Ok(self.answer(&plain)))
    }

    fn sleep(&self, _delay: Duration) -> impl Future<Output = ()> + Send {
        std::future::ready(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(index: &str, id: &str, doc: &str) -> Vec<u8> {
        format!("{{\"create\":{{\"_index\":\"{index}\",\"_id\":\"{id}\"}}}}\n{doc}\n").into_bytes()
    }

    fn items(n: usize) -> Vec<Vec<u8>> {
        (0..n)
            .map(|i| {
                item(
                    "i",
                    &format!("id{i:03}"),
                    &format!("{{\"message\":\"m{i:03}\"}}"),
                )
            })
            .collect()
    }

    fn send(index: &MemoryIndex, items: &[Vec<u8>], options: &BulkOptions) -> BulkReport {
        let refs: Vec<&[u8]> = items.iter().map(Vec::as_slice).collect();
        crate::block_on(send_items(index, &refs, options, None))
    }

    #[test]
    fn created_then_existing() {
        let index = MemoryIndex::new();
        let all = items(10);
        let r = send(&index, &all, &BulkOptions::default());
        assert_eq!(r.created(), 10);
        assert_eq!(index.count("i"), 10);
        let r = send(&index, &all, &BulkOptions::default());
        assert_eq!((r.created(), r.existed()), (0, 10));
        assert_eq!(index.count("i"), 10);
    }

    #[test]
    fn requests_are_cut_by_bytes() {
        let index = MemoryIndex::new();
        let all = items(100);
        let per = all[0].len();
        let options = BulkOptions {
            max_bytes: per * 10,
            compress: false,
            ..BulkOptions::default()
        };
        let r = send(&index, &all, &options);
        assert_eq!(r.requests, 10);
        assert_eq!(r.created(), 100);
    }

    #[test]
    fn item_throttling_is_retried_alone() {
        let index = MemoryIndex::new();
        index.fault(Fault::Item {
            needle: "m003".into(),
            n: 2,
            status: 429,
            kind: "es_rejected_execution_exception".into(),
        });
        let r = send(&index, &items(5), &BulkOptions::default());
        assert_eq!(r.created(), 5);
        assert_eq!(r.requests, 3);
        assert_eq!(r.retried_items, 2);
    }

    #[test]
    fn retries_end_pending_after_the_budget() {
        let index = MemoryIndex::new();
        index.fault(Fault::Item {
            needle: "m001".into(),
            n: usize::MAX,
            status: 503,
            kind: "unavailable_shards_exception".into(),
        });
        let r = send(&index, &items(3), &BulkOptions::default());
        assert_eq!(r.created(), 2);
        assert!(
            matches!(&r.fates[1], Fate::Pending(m) if m.contains("unavailable_shards_exception") && m.contains("after 8 attempts")),
            "{:?}",
            r.fates[1]
        );
    }

    #[test]
    fn too_large_halves_down_to_the_item() {
        let index = MemoryIndex::new();
        let mut all = items(8);
        all[5] = item(
            "i",
            "big",
            &format!("{{\"message\":\"{}\"}}", "x".repeat(5000)),
        );
        index.fault(Fault::MaxBody(1000));
        let r = send(
            &index,
            &all,
            &BulkOptions {
                compress: false,
                ..BulkOptions::default()
            },
        );
        assert_eq!(r.created(), 7);
        assert!(matches!(&r.fates[5], Fate::Rejected(m) if m.starts_with("413")));
    }

    #[test]
    fn whole_request_throttling_backs_off() {
        let index = MemoryIndex::new();
        index.fault(Fault::Request {
            n: 2,
            status: 429,
            body: "429 Too Many Requests /_bulk".into(),
        });
        let r = send(&index, &items(4), &BulkOptions::default());
        assert_eq!(r.created(), 4);
        assert_eq!(r.requests, 3);
    }

    #[test]
    fn forbidden_stops_at_once_and_keeps_everything() {
        let index = MemoryIndex::new();
        index.fault(Fault::Request {
            n: 1,
            status: 403,
            body: r#"{"message":"The security token included in the request is invalid."}"#.into(),
        });
        let all = items(50);
        let options = BulkOptions {
            max_bytes: all[0].len() * 10,
            ..BulkOptions::default()
        };
        let r = send(&index, &all, &options);
        assert_eq!(r.requests, 1);
        assert_eq!(
            r.count(|f| matches!(f, Fate::Pending(m) if m.contains("security token"))),
            50
        );
        assert_eq!(index.count("i"), 0);
    }

    #[test]
    fn mapping_errors_and_blocks() {
        let index = MemoryIndex::new();
        index.fault(Fault::Item {
            needle: "m001".into(),
            n: usize::MAX,
            status: 400,
            kind: "mapper_parsing_exception".into(),
        });
        index.fault(Fault::Item {
            needle: "m002".into(),
            n: usize::MAX,
            status: 403,
            kind: "cluster_block_exception".into(),
        });
        let r = send(&index, &items(4), &BulkOptions::default());
        assert!(
            matches!(&r.fates[1], Fate::Quarantine { kind, .. } if kind == "mapper_parsing_exception")
        );
        assert!(matches!(&r.fates[2], Fate::Rejected(m) if m.contains("write-blocked")));
        assert_eq!(r.created(), 2);
    }

    #[test]
    fn deadline_leaves_items_pending() {
        let index = MemoryIndex::new();
        let all = items(3);
        let refs: Vec<&[u8]> = all.iter().map(Vec::as_slice).collect();
        let r = crate::block_on(send_items(
            &index,
            &refs,
            &BulkOptions::default(),
            Some(Instant::now()),
        ));
        assert_eq!(r.count(|f| matches!(f, Fate::Pending(_))), 3);
        assert_eq!(index.requests(), 0);
    }

    #[test]
    fn whole_request_classes() {
        let reply = |status: u16, body: &str| Reply {
            status,
            body: body.as_bytes().to_vec(),
        };
        assert!(matches!(
            classify_response(&reply(502, "<html>Bad Gateway</html>"), 3),
            ResponseClass::Retry(m) if m.contains("Bad Gateway")
        ));
        assert!(matches!(
            classify_response(&reply(401, "Unauthorized"), 3),
            ResponseClass::Stop(m) if m.starts_with("401") && m.contains("Unauthorized")
        ));
        assert!(matches!(
            classify_response(&reply(404, r#"{"error":{"type":"x","reason":"no handler"}}"#), 3),
            ResponseClass::Stop(m) if m.contains("x: no handler") && m.contains("endpoint URL")
        ));
        assert!(matches!(
            classify_response(&reply(200, "not json"), 3),
            ResponseClass::Retry(_)
        ));
        assert_eq!(
            classify_response(
                &reply(200, r#"{"took":1,"errors":false,"items":[{},{}]}"#),
                2
            ),
            ResponseClass::Items(vec![ItemClass::Done { created: true }; 2])
        );
    }
}
