//! `[[parse.multiline]]`: lines that continue the event before them (a stack trace that the
//! awslogs driver split into one event per line) merged back into it, for the index only.
//!
//! Within a batch (one log stream), an event whose message does not match the entry's `start`
//! regex is appended, after a line feed, to the event before it. The merged document keeps the
//! first event's id (so its `_id`) and time, and says how many events it holds in
//! `cwlogs.multiline.events`. A batch's first event starts a document whether or not it
//! matches (the event it continues, if any, came in an earlier batch). A merged document holds
//! at most [`MAX_EVENTS`] events and [`MAX_BYTES`] bytes of message: the next line starts a
//! document of its own, so no input grows one document without bound.

use crate::route::Glob;
use cwlogs_decode::LogEvent;
use std::ops::Range;

/// The most events one merged document holds.
pub const MAX_EVENTS: usize = 1000;

/// The most message bytes one merged document holds (line feeds included).
pub const MAX_BYTES: usize = 1 << 20;

/// One `[[parse.multiline]]` entry.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Multiline {
    /// Log-group globs; empty means every group.
    pub log_groups: Vec<Glob>,
    /// What the first line of an event matches.
    pub start: regex::Regex,
}

impl Multiline {
    /// An entry (the regex is compiled by the configuration check).
    pub fn new(log_groups: Vec<Glob>, start: regex::Regex) -> Multiline {
        Multiline { log_groups, start }
    }

    /// Whether the entry applies to `log_group`.
    pub fn takes(&self, log_group: &str) -> bool {
        self.log_groups.is_empty() || self.log_groups.iter().any(|g| g.matches(log_group))
    }

    /// The documents `events` become: ranges of consecutive events, each merged into one.
    pub fn spans(&self, events: &[LogEvent<'_>]) -> Vec<Range<usize>> {
        let mut spans: Vec<Range<usize>> = Vec::new();
        let mut bytes = 0;
        for (i, e) in events.iter().enumerate() {
            let len = e.message.len();
            let continues = match spans.last() {
                Some(last) => {
                    last.len() < MAX_EVENTS
                        && bytes + 1 + len <= MAX_BYTES
                        && !self.start.is_match(&e.message)
                }
                None => false,
            };
            match spans.last_mut() {
                Some(last) if continues => {
                    last.end = i + 1;
                    bytes += 1 + len;
                }
                _ => {
                    spans.push(i..i + 1);
                    bytes = len;
                }
            }
        }
        spans
    }
}

/// The message of a merged document: the events' messages joined with line feeds.
pub fn merged_message(events: &[LogEvent<'_>]) -> String {
    let len = events.iter().map(|e| e.message.len() + 1).sum::<usize>();
    let mut out = String::with_capacity(len);
    for (i, e) in events.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&e.message);
    }
    out
}
