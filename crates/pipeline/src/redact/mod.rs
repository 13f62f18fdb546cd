//! `[redact]`: secrets and personal data replaced before anything leaves the function
//! (issue 19).
//!
//! A [`Redactor`] is built once from the section (`build`) and applied to each indexed
//! document as a whole ([`Redactor::document`]): every JSON string value (the `message`, the
//! fields of a JSON message, values kept as JSON text past `max_depth`, `[[index.extract]]`
//! fields, the fields of `[parse]`) is checked *after unescaping*, and a string that holds a
//! JSON object or array (the `message` of a JSON message, a Lambda runtime line's JSON) is
//! walked as JSON too, so `a\u0040b.com` is an email wherever it is written. A value found
//! in one field of a document is redacted in every other field of that document, so the
//! `message` and the fields parsed from it agree. `@timestamp` and `event.id` are never
//! touched; document ids are made from the event ids before redaction, so they never change.
//!
//! One pass per value: an Aho-Corasick automaton over the detectors' literals (`@`, `AKIA`
//! and the other key id prefixes, `secret`, `eyJ`, `-----BEGIN`, `://`) and a byte scan for
//! digit runs decide which detectors look at a value; a document with none of them (and no
//! JSON escape) is copied as it is. Every regex is the `regex` crate's (linear time).

mod detect;
mod walk;

use crate::error::Report;
use regex::Regex;
use serde::Deserialize;
use std::collections::BTreeMap;
use toml::Spanned;

pub use detect::luhn;

/// The built-in detectors' names, in the order their counts are listed.
pub const DETECTORS: [&str; 9] = [
    "aws-access-key-id",
    "aws-secret-access-key",
    "email",
    "credit-card",
    "jwt",
    "private-key",
    "url-credentials",
    "ipv4",
    "ipv6",
];

/// What `apply_to` takes.
pub const APPLY_TO: [&str; 4] = ["index", "archive", "alerts", "metrics"];

/// The default `replacement`: `{detector}` stands for the detector's name.
pub const DEFAULT_REPLACEMENT: &str = "[REDACTED:{detector}]";

pub(crate) const AKID: usize = 0;
pub(crate) const SECRET: usize = 1;
pub(crate) const EMAIL: usize = 2;
pub(crate) const CARD: usize = 3;
pub(crate) const JWT: usize = 4;
pub(crate) const PEM: usize = 5;
pub(crate) const URL: usize = 6;
pub(crate) const IPV4: usize = 7;
pub(crate) const IPV6: usize = 8;

/// `[redact]` as written.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRedact {
    detectors: Option<Spanned<Vec<Spanned<String>>>>,
    apply_to: Option<Spanned<Vec<Spanned<String>>>>,
    replacement: Option<Spanned<String>>,
    #[serde(default)]
    custom: Vec<RawCustom>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCustom {
    name: Spanned<String>,
    regex: Spanned<String>,
}

/// Where redaction applies (`apply_to`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApplyTo {
    /// Indexed documents (and the quarantine).
    pub index: bool,
    /// The S3 archive (off by default).
    pub archive: bool,
    /// Alert subjects and sample events.
    pub alerts: bool,
    /// Metric dimension values.
    pub metrics: bool,
}

/// Counts of values redacted, per detector name (never the values).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RedactCounts(pub BTreeMap<String, u64>);

impl RedactCounts {
    /// Adds `n` to `detector`'s count.
    pub fn add(&mut self, detector: &str, n: u64) {
        if n > 0 {
            *self.0.entry(detector.to_string()).or_default() += n;
        }
    }

    /// Adds every count of `other`.
    pub fn merge(&mut self, other: &RedactCounts) {
        for (k, v) in &other.0 {
            self.add(k, *v);
        }
    }

    /// The sum over detectors.
    pub fn total(&self) -> u64 {
        self.0.values().sum()
    }

    /// Whether nothing was redacted.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The checked `[redact]` section.
#[derive(Debug)]
pub struct Redactor {
    /// Which built-ins are on, by position in [`DETECTORS`].
    pub(crate) on: [bool; 9],
    /// `[[redact.custom]]`: name and compiled regex.
    pub(crate) custom: Vec<(String, Regex)>,
    /// The replacement text per detector (built-ins, then customs).
    pub(crate) replacements: Vec<String>,
    /// Finds the replacement texts in a value (every occurrence, overlapping ones too): what
    /// lies in them is no detector's ([`Redactor::string`]).
    pub(crate) replaced: aho_corasick::AhoCorasick,
    /// Where it applies.
    pub apply_to: ApplyTo,
    pub(crate) detect: detect::Detectors,
}

impl Redactor {
    /// A redactor with the given built-ins (by name) and the default replacement, applied to
    /// the default destinations; for tests and `cwlogs test-redact` without a file.
    pub fn with_detectors(names: &[&str]) -> Redactor {
        let mut on = [false; 9];
        for n in names {
            if let Some(i) = DETECTORS.iter().position(|d| d == n) {
                on[i] = true;
            }
        }
        Redactor::new(on, Vec::new(), DEFAULT_REPLACEMENT, default_apply_to())
    }

    /// The default detectors (every built-in but the IP addresses).
    pub fn defaults() -> Redactor {
        Redactor::with_detectors(&DETECTORS[..7])
    }

    fn new(
        on: [bool; 9],
        custom: Vec<(String, Regex)>,
        replacement: &str,
        apply_to: ApplyTo,
    ) -> Redactor {
        let replacements = DETECTORS
            .iter()
            .copied()
            .chain(custom.iter().map(|(n, _)| n.as_str()))
            .map(|n| replacement.replace("{detector}", n))
            .collect::<Vec<_>>();
        let replaced =
            aho_corasick::AhoCorasick::new(replacements.iter().filter(|r| !r.is_empty()))
                .expect("replacement texts are bounded by the configuration's size");
        Redactor {
            on,
            custom,
            replacements,
            replaced,
            apply_to,
            detect: detect::Detectors::new(),
        }
    }

    /// Redacts the document that starts at `start` in `out` and runs to its end (one JSON
    /// object, no line feed), adding what it found to `counts` (the caller's: the document
    /// builder of one batch keeps its own, so concurrent batches never mix their counts).
    pub fn redact_in_place(&self, out: &mut Vec<u8>, start: usize, counts: &mut RedactCounts) {
        if let Some(new) = self.document(&out[start..], counts) {
            out.truncate(start);
            out.extend_from_slice(&new);
        }
    }

    /// A JSON object message redacted before its document is built from it, so that what the
    /// document derives from it (its JSON fields, the parsers' fields) is built from the
    /// redacted values: the same values as when the document is walked afterwards (JSON
    /// parsing only moves values), at the cost of one walk instead of two (the message text
    /// and its fields). `None` when this does not apply and the document must be walked:
    /// custom regexes (they look at every value), a message that is not one JSON object (a
    /// candidate outside its strings and numbers, or in a string that does not unescape), or
    /// candidates in its keys (a walk leaves keys alone). `Some(None)`: nothing
    /// found. Values are looked at only where the one prefilter pass over the message found
    /// candidates; each distinct value found is counted once.
    pub fn json_message(&self, text: &str, counts: &mut RedactCounts) -> Option<Option<String>> {
        if !self.custom.is_empty() {
            return None;
        }
        let mut cands = Vec::new();
        self.detect.candidates(self, text.as_bytes(), &mut cands);
        if cands.is_empty() {
            return Some(None);
        }
        let t = text.trim_matches(|c: char| c.is_ascii_whitespace());
        if !(t.starts_with('{') && t.ends_with('}')) {
            return None;
        }
        // No separate validation: the walk reports candidates it met outside the strings and
        // numbers it looked at (which valid JSON cannot have), and then the document is walked.
        let mut st = walk::State::default();
        let mut out = Vec::with_capacity(text.len() + 64);
        let changed = self.json(text, 1, false, &mut out, &mut st, Some(&cands[..]));
        if st.key_candidates || st.stray_candidates {
            return None;
        }
        if !changed {
            st.count(self, counts);
            return Some(None);
        }
        // Walked JSON is UTF-8 (text copied as it was, replacements pushed as JSON strings);
        // were it not, the document walk redacts instead of the message going out as it was.
        let redacted = String::from_utf8(out).ok()?;
        st.count(self, counts);
        Some(Some(redacted))
    }

    /// Whether a document built from `text` (a message, or the parts of a batch's documents
    /// not derived from messages: account, log group, stream, enrichment) needs a look: a
    /// detector's candidate or a JSON escape in it, or custom regexes (which look at every
    /// value). When a message has none, neither has any field derived from it (parsers copy
    /// parts of the message, unescape JSON, or compute numbers and times).
    pub fn needs_look(&self, text: &[u8]) -> bool {
        !self.custom.is_empty() || self.detect.seen(self, text).is_some()
    }

    /// The names of the detectors that are on.
    pub fn detector_names(&self) -> Vec<&str> {
        DETECTORS
            .iter()
            .zip(self.on)
            .filter(|(_, on)| *on)
            .map(|(n, _)| *n)
            .chain(self.custom.iter().map(|(n, _)| n.as_str()))
            .collect()
    }

    /// The name of detector `id` (built-ins, then customs).
    pub(crate) fn name(&self, id: usize) -> &str {
        DETECTORS
            .get(id)
            .copied()
            .unwrap_or_else(|| &self.custom[id - DETECTORS.len()].0)
    }

    /// `text` redacted as a plain text (a JSON object or array inside it is walked as JSON):
    /// what alerts, metric dimensions and `cwlogs test-redact` use. Counts each value found.
    pub fn text(&self, text: &str, counts: &mut RedactCounts) -> String {
        let mut st = walk::State::default();
        let out = self.string(text, None, 0, &mut st, None);
        st.count(self, counts);
        out.unwrap_or_else(|| text.to_string())
    }

    /// The document `doc` (one JSON object, no line feed) redacted, or `None` when nothing in
    /// it is found (the common case, decided by a prefilter over its bytes).
    pub fn document(&self, doc: &[u8], counts: &mut RedactCounts) -> Option<Vec<u8>> {
        // One pass over the document records where anything may be found; the walk then
        // looks only at the values those candidates are in (custom regexes: at every value).
        let mut cands = Vec::new();
        let every = !self.custom.is_empty();
        if !every {
            self.detect.candidates(self, doc, &mut cands);
            if cands.is_empty() {
                return None;
            }
        }
        let doc = std::str::from_utf8(doc).ok()?;
        let mut st = walk::State::default();
        let mut out = Vec::with_capacity(doc.len() + 64);
        let changed = self.json(
            doc,
            0,
            true,
            &mut out,
            &mut st,
            (!every).then_some(&cands[..]),
        );
        st.count(self, counts);
        changed.then_some(out)
    }
}

/// `batch` with each message redacted as text, when `redactor` applies to the archive
/// (`apply_to` takes `archive`); `None` otherwise (the archive keeps events as delivered).
/// Ids and timestamps are kept; what was replaced is added to `counts`.
pub fn for_archive<'a>(
    redactor: Option<&Redactor>,
    batch: &cwlogs_decode::LogBatch<'a>,
    counts: &mut RedactCounts,
) -> Option<cwlogs_decode::LogBatch<'a>> {
    let r = redactor.filter(|r| r.apply_to.archive)?;
    let log_events = batch
        .log_events
        .iter()
        .map(|e| cwlogs_decode::LogEvent {
            id: e.id.clone(),
            timestamp: e.timestamp,
            message: r.text(&e.message, counts).into(),
        })
        .collect();
    Some(cwlogs_decode::LogBatch {
        log_events,
        ..batch.clone_header()
    })
}

/// `apply_to`'s default.
pub fn default_apply_to() -> ApplyTo {
    ApplyTo {
        index: true,
        archive: false,
        alerts: true,
        metrics: true,
    }
}

/// Checks `[redact]`: `None` when the section is absent.
pub(crate) fn build(raw: Option<RawRedact>, err: &mut Report<'_>) -> Option<Redactor> {
    let raw = raw?;
    let mut on = [false; 9];
    match &raw.detectors {
        None => on[..7].iter_mut().for_each(|o| *o = true),
        Some(list) => {
            for name in list.get_ref() {
                let n = name.get_ref().as_str();
                match DETECTORS.iter().position(|d| *d == n) {
                    Some(i) if on[i] => {
                        err(name.span(), format!("`{n}` is listed twice in `detectors`"))
                    }
                    Some(i) => on[i] = true,
                    None => err(
                        name.span(),
                        format!(
                            "unknown detector `{n}`: the detectors are {}",
                            DETECTORS.join(", ")
                        ),
                    ),
                }
            }
        }
    }
    let apply_to = match &raw.apply_to {
        None => default_apply_to(),
        Some(list) => {
            let mut a = ApplyTo {
                index: false,
                archive: false,
                alerts: false,
                metrics: false,
            };
            for name in list.get_ref() {
                match name.get_ref().as_str() {
                    "index" => a.index = true,
                    "archive" => a.archive = true,
                    "alerts" => a.alerts = true,
                    "metrics" => a.metrics = true,
                    n => err(
                        name.span(),
                        format!(
                            "unknown `apply_to` entry `{n}`: the entries are {}",
                            APPLY_TO.join(", ")
                        ),
                    ),
                }
            }
            a
        }
    };
    let replacement = match &raw.replacement {
        Some(r) if r.get_ref().len() > 256 => {
            err(r.span(), "`replacement` must be at most 256 bytes".into());
            DEFAULT_REPLACEMENT.to_string()
        }
        Some(r) => r.get_ref().clone(),
        None => DEFAULT_REPLACEMENT.to_string(),
    };
    let mut custom: Vec<(String, Regex)> = Vec::new();
    for c in raw.custom {
        let name = c.name.get_ref();
        let name_ok = !name.is_empty()
            && name.len() <= 64
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !name_ok {
            err(
                c.name.span(),
                "a custom detector's `name` is 1 to 64 letters, digits, `-` or `_`".into(),
            );
        } else if DETECTORS.contains(&name.as_str()) || custom.iter().any(|(n, _)| n == name) {
            err(
                c.name.span(),
                format!("the detector name `{name}` is already taken"),
            );
        }
        match compile_custom(c.regex.get_ref()) {
            Ok(re) => custom.push((name.clone(), re)),
            Err(e) => err(c.regex.span(), e),
        }
    }
    Some(Redactor::new(on, custom, &replacement, apply_to))
}

/// Compiles a custom detector's regex: size-limited, and refused when it can match the
/// empty string.
pub fn compile_custom(pattern: &str) -> Result<Regex, String> {
    let hir = regex_syntax::parse(pattern)
        .map_err(|e| format!("the custom regex does not compile: {e}"))?;
    if hir.properties().minimum_len().is_none_or(|n| n == 0) {
        return Err(format!(
            "the custom regex `{pattern}` can match the empty string: it must match at least one character"
        ));
    }
    regex::RegexBuilder::new(pattern)
        .size_limit(1 << 20)
        .dfa_size_limit(1 << 20)
        .build()
        .map_err(|e| match e {
            regex::Error::CompiledTooBig(n) => {
                format!("the custom regex is too big (more than {n} bytes compiled)")
            }
            e => format!("the custom regex does not compile: {e}"),
        })
}

#[cfg(test)]
mod tests;
