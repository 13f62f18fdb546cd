//! The quarantine: where a document the cluster rejected for its mapping is stored, with the
//! error, in a shape that cannot itself conflict with any mapping.

use crate::index::IndexConfig;
use crate::index::document::is_iso_timestamp;
use serde::Deserialize;
use std::collections::BTreeMap;

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
/// [`quarantine_document`] for what it holds.
pub fn quarantine_item(config: &IndexConfig, item: &[u8], kind: &str, reason: &str) -> Vec<u8> {
    let (action, doc) = match item.iter().position(|&b| b == b'\n') {
        Some(at) => (&item[..at], &item[at + 1..]),
        None => (item, &b""[..]),
    };
    let doc = doc.strip_suffix(b"\n").unwrap_or(doc);
    let action: Option<Action> = serde_json::from_slice::<BTreeMap<String, Action>>(action)
        .ok()
        .and_then(|m| m.into_values().next());
    let origin: Origin = serde_json::from_slice(doc).unwrap_or_default();
    let timestamp = crate::util::time::UtcTime::parse_rfc3339(&origin.timestamp).unwrap_or(0);
    let index = config.quarantine_index.render_for(
        &origin.cloud.account.id,
        &origin.aws.cloudwatch.log_group,
        &origin.cloud.region,
        timestamp,
    );
    let original_index = action.as_ref().map_or("", |a| a.index.as_str());
    let mut out = Vec::with_capacity(doc.len() * 2 + 256);
    out.extend_from_slice(b"{\"create\":{\"_index\":");
    crate::util::json::push_str(&mut out, &index);
    if let Some(id) = action.as_ref().and_then(|a| a.id.as_deref()) {
        out.extend_from_slice(b",\"_id\":");
        crate::util::json::push_str(&mut out, id);
    }
    out.extend_from_slice(b"}}\n");
    out.extend_from_slice(&quarantine_document(doc, original_index, kind, reason));
    out.push(b'\n');
    out
}

// ---------------------------------------------------------------------------------------------
// Quarantine

/// The document stored in the quarantine index for `original`, a document the cluster rejected
/// for its mapping in `original_index` (`error_type` and `error_reason` as the `_bulk` item
/// reported them). Returns the JSON text, without a line feed.
///
/// Only fixed fields of fixed types, so it cannot itself conflict with any mapping: `@timestamp`,
/// `message`, `event.id`, `log.level`, `cloud.*`, `aws.cloudwatch.*` and
/// `aws.lambda.request_id` copied from the original when they are strings there (`@timestamp`
/// only when it is an ISO 8601 time; else the epoch, the time the quarantine index name is
/// rendered from for such a document), `error.type`, `error.message`, `cwlogs.original_index`,
/// and `event.original`: the whole original document as a string.
pub fn quarantine_document(
    original: &[u8],
    original_index: &str,
    error_type: &str,
    error_reason: &str,
) -> Vec<u8> {
    use serde_json::{Map, Value};
    let original = String::from_utf8_lossy(original.trim_ascii_end());
    let doc: Option<Value> = serde_json::from_str(&original).ok();
    let get = |pointer: &str| {
        doc.as_ref()
            .and_then(|d| d.pointer(pointer))
            .and_then(Value::as_str)
    };
    let mut root = Map::new();
    let timestamp = match get("/@timestamp") {
        Some(t) if is_iso_timestamp(t) => t.to_string(),
        _ => "1970-01-01T00:00:00.000Z".to_string(),
    };
    insert(&mut root, &["@timestamp"], timestamp);
    for path in QUARANTINE_COPIED {
        let pointer: String = path.iter().flat_map(|p| ["/", p]).collect();
        if let Some(v) = get(&pointer) {
            insert(&mut root, path, v.to_string());
        }
    }
    insert(&mut root, &["event", "original"], original.into_owned());
    insert(&mut root, &["error", "type"], error_type.to_string());
    insert(&mut root, &["error", "message"], error_reason.to_string());
    insert(
        &mut root,
        &["cwlogs", "original_index"],
        original_index.to_string(),
    );
    // A map of strings serializes into a Vec without any failure path.
    serde_json::to_vec(&Value::Object(root)).expect("serializing strings into a Vec cannot fail")
}

/// The string fields a quarantine document copies from the original.
const QUARANTINE_COPIED: [&[&str]; 9] = [
    &["message"],
    &["event", "id"],
    &["log", "level"],
    &["cloud", "provider"],
    &["cloud", "account", "id"],
    &["cloud", "region"],
    &["aws", "cloudwatch", "log_group"],
    &["aws", "cloudwatch", "log_stream"],
    &["aws", "lambda", "request_id"],
];

/// Sets the string at `path`, creating the objects on the way.
fn insert(root: &mut serde_json::Map<String, serde_json::Value>, path: &[&str], value: String) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut map = root;
    for p in parents {
        let entry = map
            .entry(p.to_string())
            .or_insert_with(|| serde_json::Value::Object(serde_json::Map::new()));
        if !entry.is_object() {
            *entry = serde_json::Value::Object(serde_json::Map::new());
        }
        let serde_json::Value::Object(m) = entry else {
            return;
        };
        map = m;
    }
    map.insert(last.to_string(), serde_json::Value::String(value));
}
