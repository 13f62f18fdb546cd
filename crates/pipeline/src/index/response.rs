//! What a `_bulk` answer means: one pure classifier for the whole request and each item,
//! tested from recorded responses (`tests/fixtures/bulk`).

use crate::sink::Reply;
use serde::Deserialize;
use serde::de::IgnoredAny;
use std::collections::BTreeMap;

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
