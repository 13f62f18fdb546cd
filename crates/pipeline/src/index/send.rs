//! Sending `_bulk` requests so that nothing is lost and nothing is duplicated.
//!
//! [`send_items`] takes `_bulk` items (an action line and a document line each, built by
//! [`crate::bulk_chunks`]) and drives them to a final [`Fate`] through a [`BulkTransport`]
//! (the HTTP client lives in `cwlogs-aws`; [`crate::sink::MemoryIndex`] is an in-memory cluster for tests):
//!
//! - requests are cut at item boundaries below a byte budget and sent gzip-compressed;
//! - every answer goes through one pure function, [`classify_response`] (whole request) and
//!   [`crate::index::classify_item`] (each item), tested from recorded responses;
//! - items that failed for now (429, 5xx, rejected execution) are sent again, alone, after a
//!   jittered backoff that stops in time for the deadline;
//! - a 413 halves the request, down to the single item that is too large;
//! - 401/403 on the whole request stop at once: the input is kept for the trigger to deliver
//!   again, with an error that says what to fix.
//!
//! Documents are created with a deterministic `_id`, so a redelivered event answers 409 and
//! counts as done: sending twice never duplicates.

use crate::index::IndexConfig;
use crate::index::quarantine::quarantine_item;
use crate::index::response::{ItemClass, ResponseClass, classify_response};
use crate::sink::{Backoff, BulkTransport, Class, MIN_ATTEMPT, SendError, jitter};
use std::time::Instant;

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
    let mut body = Vec::with_capacity(len);
    for &i in group {
        body.extend_from_slice(items[i]);
    }
    if compress {
        crate::util::gzip::gzip(&body, GZIP_LEVEL)
    } else {
        body
    }
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

/// Whether another request fits before `deadline`, by the transport's clock.
fn time_left(now: Instant, deadline: Option<Instant>) -> bool {
    deadline.is_none_or(|d| now + MIN_ATTEMPT < d)
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
            if !time_left(transport.now(), deadline) {
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
            transport.now(),
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

/// [`send_items`], then the quarantine: items the cluster rejected for their mapping are stored
/// in the quarantine index ([`quarantine_item`]). A quarantined item ends [`Fate::Quarantine`]
/// once stored; if the quarantine index refuses it too it ends [`Fate::Rejected`] (a dead
/// letter), and if that cannot finish in time, [`Fate::Pending`].
pub async fn index_items<T: BulkTransport>(
    transport: &T,
    items: &[&[u8]],
    config: &IndexConfig,
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
