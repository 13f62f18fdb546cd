//! In-memory sinks and stores for tests and benchmarks: an archive, a cluster, a state store and
//! a publisher, each able to fail on request to exercise the failure paths.

use crate::sink::{
    AlertMessage, Archive, BulkTransport, Object, Publish, Reply, SendError, StateStore,
    StateWrite, Versioned,
};
use serde::Serialize;
use serde::de::{DeserializeOwned, IgnoredAny};
use std::any::Any;
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// An archive held in memory: what tests and benchmarks write to. It can be told to fail
/// writes whose key contains a given text, to exercise the failure paths.
#[derive(Debug, Default)]
pub struct MemoryArchive {
    objects: Mutex<BTreeMap<String, StoredObject>>,
    failures: Mutex<Vec<(String, SendError)>>,
}

/// What [`MemoryArchive`] keeps of an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredObject {
    /// The bytes.
    pub body: Vec<u8>,
    /// `Content-Type`.
    pub content_type: &'static str,
    /// `Content-Encoding`.
    pub content_encoding: Option<&'static str>,
    /// How many times it was written.
    pub writes: usize,
}

impl MemoryArchive {
    /// An empty archive.
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes every later write of a key containing `key_part` fail with `error`.
    pub fn fail_keys(&self, key_part: &str, error: SendError) {
        lock(&self.failures).push((key_part.to_string(), error));
    }

    /// A copy of every object, by key.
    pub fn objects(&self) -> BTreeMap<String, StoredObject> {
        lock(&self.objects).clone()
    }

    /// How many objects are held.
    pub fn len(&self) -> usize {
        lock(&self.objects).len()
    }

    /// Whether no object is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding the lock cannot leave the map half-written: recover the data.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Archive for MemoryArchive {
    fn put(
        &self,
        object: Object<'_>,
        _deadline: Option<Instant>,
    ) -> impl Future<Output = Result<(), SendError>> + Send {
        let failure = lock(&self.failures)
            .iter()
            .find(|(part, _)| object.key.contains(part.as_str()))
            .map(|(_, e)| e.clone());
        let result = match failure {
            Some(e) => Err(e),
            None => {
                let mut objects = lock(&self.objects);
                let writes = objects.get(object.key).map_or(0, |o| o.writes) + 1;
                objects.insert(
                    object.key.to_string(),
                    StoredObject {
                        body: object.body.to_vec(),
                        content_type: object.content_type,
                        content_encoding: object.content_encoding,
                        writes,
                    },
                );
                Ok(())
            }
        };
        std::future::ready(result)
    }

    fn list(
        &self,
        prefix: &str,
        max: usize,
        _deadline: Option<Instant>,
    ) -> impl Future<Output = Result<Vec<crate::sink::Listed>, SendError>> + Send {
        let listed = lock(&self.objects)
            .keys()
            .filter(|k| k.starts_with(prefix))
            .take(max)
            .map(|k| crate::sink::Listed {
                key: k.clone(),
                last_modified_ms: 0,
            })
            .collect();
        std::future::ready(Ok(listed))
    }

    fn get(
        &self,
        key: &str,
        _deadline: Option<Instant>,
    ) -> impl Future<Output = Result<Vec<u8>, SendError>> + Send {
        let body = lock(&self.objects).get(key).map(|o| o.body.clone());
        std::future::ready(body.ok_or_else(|| SendError {
            class: crate::sink::Class::Reject,
            message: format!("NoSuchKey: {key}"),
        }))
    }

    fn delete(
        &self,
        key: &str,
        _deadline: Option<Instant>,
    ) -> impl Future<Output = Result<(), SendError>> + Send {
        lock(&self.objects).remove(key);
        std::future::ready(Ok(()))
    }
}

/// A [`StateStore`] in memory: state shared by the invocations of one container (or one
/// `cwlogs replay` run), not across containers. Expiry is not enforced (a container's life
/// is short); the contents can be inspected in tests.
///
/// An item written by [`StateStore::update_value`] is kept as the value itself and turned
/// into JSON text only when [`StateStore::get`] or [`MemoryStateStore::items`] asks for it;
/// one written by [`StateStore::put`] is kept as its text, and parsed when `update_value`
/// reads it. Either way an item has one version, and both paths see the same items.
#[derive(Debug, Default)]
pub struct MemoryStateStore {
    items: Mutex<HashMap<String, Item>>,
}

/// One item of a [`MemoryStateStore`].
#[derive(Debug)]
struct Item {
    version: u64,
    stored: Stored,
}

/// What an [`Item`] holds.
enum Stored {
    /// JSON text, as [`StateStore::put`] wrote it.
    Text(String),
    /// A value, as [`StateStore::update_value`] left it.
    Value(Box<dyn StoredValue>),
}

impl std::fmt::Debug for Stored {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text())
    }
}

impl Stored {
    /// The item as JSON text.
    fn text(&self) -> String {
        match self {
            Stored::Text(t) => t.clone(),
            Stored::Value(v) => v.text(),
        }
    }

    /// The item read as a `T` (`None`: it is not one).
    fn parse<T: DeserializeOwned>(&self) -> Option<T> {
        match self {
            Stored::Text(t) => serde_json::from_str(t).ok(),
            Stored::Value(v) => serde_json::from_str(&v.text()).ok(),
        }
    }
}

/// A value kept as it is: its type (for [`StateStore::update_value`]) and its JSON text (for
/// [`StateStore::get`]).
trait StoredValue: Send + Sync {
    fn text(&self) -> String;
    fn as_any_mut(&mut self) -> &mut dyn Any;
}

/// Values are kept as `Option<T>`, the form [`StateStore::update_value`] changes them in.
impl<T: Serialize + Send + Sync + 'static> StoredValue for Option<T> {
    /// The alert path's states are plain structs of strings and numbers, which always
    /// serialise; `null` (read as no state) stands in should one ever not.
    fn text(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "null".to_string())
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

impl MemoryStateStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// A copy of every item, as JSON text, for tests.
    pub fn items(&self) -> HashMap<String, Versioned> {
        self.items
            .lock()
            .map(|m| m.iter().map(|(k, i)| (k.clone(), i.versioned())).collect())
            .unwrap_or_default()
    }
}

impl Item {
    fn versioned(&self) -> Versioned {
        Versioned {
            value: self.stored.text(),
            version: self.version,
        }
    }
}

impl StateStore for MemoryStateStore {
    async fn get(
        &self,
        key: &str,
        _deadline: Option<Instant>,
    ) -> Result<Option<Versioned>, SendError> {
        Ok(self
            .items
            .lock()
            .ok()
            .and_then(|m| m.get(key).map(Item::versioned)))
    }

    async fn put(
        &self,
        write: StateWrite<'_>,
        _deadline: Option<Instant>,
    ) -> Result<bool, SendError> {
        let StateWrite {
            key,
            value,
            expected,
            ..
        } = write;
        let Ok(mut items) = self.items.lock() else {
            return Ok(false);
        };
        let current = items.get(key).map(|i| i.version);
        if current != expected {
            return Ok(false);
        }
        items.insert(
            key.to_string(),
            Item {
                version: expected.unwrap_or(0) + 1,
                stored: Stored::Text(value.to_string()),
            },
        );
        Ok(true)
    }

    fn update_value<T, R>(
        &self,
        key: &str,
        f: &mut dyn FnMut(&mut Option<T>) -> (bool, R),
    ) -> Option<R>
    where
        T: Serialize + DeserializeOwned + Send + Sync + 'static,
    {
        // A poisoned lock: the text path answers (its `put` refuses, as before).
        let mut items = self.items.lock().ok()?;
        // A value of this type is changed where it lies.
        if let Some(item) = items.get_mut(key)
            && let Stored::Value(v) = &mut item.stored
            && let Some(cur) = v.as_any_mut().downcast_mut::<Option<T>>()
        {
            let (changed, result) = f(cur);
            if changed {
                item.version += 1;
            }
            return Some(result);
        }
        // Otherwise read (a text, or a value of another type, through its text), then store.
        let (version, mut cur) = match items.get(key) {
            Some(i) => (i.version, i.stored.parse::<T>()),
            None => (0, None),
        };
        let (changed, result) = f(&mut cur);
        if changed && cur.is_some() {
            items.insert(
                key.to_string(),
                Item {
                    version: version + 1,
                    stored: Stored::Value(Box::new(cur)),
                },
            );
        }
        Some(result)
    }
}

/// Keeps published messages in memory, for tests; can be told to fail messages whose
/// subject or body contains a text.
#[derive(Debug, Default)]
pub struct MemoryPublisher {
    sent: Mutex<Vec<AlertMessage>>,
    failures: Mutex<Vec<(String, SendError)>>,
}

impl MemoryPublisher {
    /// No messages yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Fails every message whose subject or body contains `needle` with `error`.
    pub fn fail_containing(&self, needle: &str, error: SendError) {
        if let Ok(mut f) = self.failures.lock() {
            f.push((needle.to_string(), error));
        }
    }

    /// Every message published, in order.
    pub fn sent(&self) -> Vec<AlertMessage> {
        self.sent.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

impl Publish for MemoryPublisher {
    async fn publish(
        &self,
        message: &AlertMessage,
        _deadline: Option<Instant>,
    ) -> Result<String, SendError> {
        if let Ok(failures) = self.failures.lock()
            && let Some((_, e)) = failures
                .iter()
                .find(|(n, _)| message.subject.contains(n) || message.message.contains(n))
        {
            return Err(e.clone());
        }
        let mut sent = self.sent.lock().map_err(|_| SendError {
            class: crate::Class::Reject,
            message: "publisher lock poisoned".into(),
        })?;
        sent.push(message.clone());
        Ok(format!("memory-{}", sent.len()))
    }
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

    #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
    struct Counter {
        n: u64,
        names: Vec<String>,
    }

    #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
    struct Other {
        n: u64,
    }

    fn bump(store: &MemoryStateStore, key: &str, name: &str) -> Option<u64> {
        store.update_value(key, &mut |cur: &mut Option<Counter>| {
            let c = cur.get_or_insert_with(|| Counter {
                n: 0,
                names: Vec::new(),
            });
            c.n += 1;
            c.names.push(name.to_string());
            (true, c.n)
        })
    }

    /// Values kept as they are and texts written by `put` are one store: one version per
    /// item, each path reading what the other wrote.
    #[test]
    fn values_and_texts_share_items_and_versions() {
        let store = MemoryStateStore::new();
        assert_eq!(bump(&store, "k", "a"), Some(1));
        assert_eq!(bump(&store, "k", "b"), Some(2));
        let got = crate::block_on(store.get("k", None))
            .expect("memory")
            .expect("item");
        assert_eq!(got.version, 2);
        assert_eq!(got.value, r#"{"n":2,"names":["a","b"]}"#);
        assert_eq!(store.items()["k"], got);

        // A put conditional on the version the value path left.
        let stale = StateWrite::new("k", r#"{"n":9,"names":[]}"#, Some(1), 0);
        assert!(!crate::block_on(store.put(stale, None)).expect("memory"));
        let fresh = StateWrite::new("k", r#"{"n":10,"names":["t"]}"#, Some(2), 0);
        assert!(crate::block_on(store.put(fresh, None)).expect("memory"));
        // The value path parses the text, and counts on from its version.
        assert_eq!(bump(&store, "k", "c"), Some(11));
        let got = crate::block_on(store.get("k", None))
            .expect("memory")
            .expect("item");
        assert_eq!(
            (got.version, got.value.as_str()),
            (4, r#"{"n":11,"names":["t","c"]}"#)
        );

        // Nothing to write leaves the item and its version alone.
        let seen = store.update_value("k", &mut |cur: &mut Option<Counter>| (false, cur.clone()));
        assert_eq!(seen.flatten().map(|c| c.n), Some(11));
        assert_eq!(store.items()["k"].version, 4);

        // Read as another type, an item is read through its text; a text that is not one is
        // no state.
        let other = store.update_value("k", &mut |cur: &mut Option<Other>| (false, cur.clone()));
        assert_eq!(other, Some(Some(Other { n: 11 })));
        let none = store.update_value("k", &mut |cur: &mut Option<u64>| (false, *cur));
        assert_eq!(none, Some(None));
        assert_eq!(bump(&store, "k", "d"), Some(12));
        assert_eq!(store.items()["k"].version, 5);
    }
}
