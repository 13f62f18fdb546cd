//! Walking JSON text: each string value unescaped, checked, and re-escaped only when
//! something in it is replaced; everything else copied byte for byte.

use super::detect::{Hit, cards, luhn};
use super::*;
use crate::util::json::push_str;
use std::borrow::Cow;

/// How many levels of JSON held as text inside a JSON string are walked as JSON (a
/// `message` holding a JSON object is one); deeper text is checked as text.
const MAX_LEVEL: usize = 4;
/// At most this many distinct values are remembered per document.
const MAX_KNOWN: usize = 256;

/// What one document (or text) found so far: each distinct value and its detector, so that a
/// value found in one field is redacted in every other, and counted once.
#[derive(Default)]
pub(crate) struct State {
    known: Vec<(String, usize)>,
}

impl State {
    pub(crate) fn count(&self, r: &Redactor, counts: &mut RedactCounts) {
        for (_, d) in &self.known {
            counts.add(r.name(*d), 1);
        }
    }

    fn remember(&mut self, value: &str, det: usize) {
        if self.known.len() < MAX_KNOWN && !self.known.iter().any(|(v, _)| v == value) {
            self.known.push((value.to_string(), det));
        }
    }
}

fn priority(det: usize) -> u8 {
    match det {
        URL => 0,
        PEM => 1,
        _ => 2,
    }
}

impl Redactor {
    /// `s` (a string value, unescaped) redacted, or `None` when nothing in it was found.
    pub(crate) fn string(
        &self,
        s: &str,
        key: Option<&str>,
        level: usize,
        st: &mut State,
    ) -> Option<String> {
        // Most values hold nothing any detector looks for: one prefilter pass over them (their
        // JSON escapes included), nothing else. A value already found elsewhere in the
        // document is looked for all the same.
        if st.known.is_empty() && !self.detect.may_match(self, s.as_bytes()) {
            return None;
        }
        let mut cur: Cow<'_, str> = Cow::Borrowed(s);
        if level < MAX_LEVEL {
            let mut starts: Vec<usize> = [s.find('{'), s.find('[')].into_iter().flatten().collect();
            starts.sort_unstable();
            for k in starts {
                let t = s[k..].trim_end_matches(|c: char| c.is_ascii_whitespace());
                if !(t.ends_with('}') || t.ends_with(']'))
                    || serde_json::from_str::<serde::de::IgnoredAny>(t).is_err()
                {
                    continue;
                }
                let mut out = Vec::with_capacity(t.len() + 32);
                if self.json(t, level + 1, false, &mut out, st) {
                    let mut n = String::with_capacity(s.len() + 32);
                    n.push_str(&s[..k]);
                    n.push_str(std::str::from_utf8(&out).expect("walked JSON is UTF-8"));
                    n.push_str(&s[k + t.len()..]);
                    cur = Cow::Owned(n);
                }
                break;
            }
        }
        let mut hits: Vec<Hit> = Vec::new();
        self.detect.hits(self, &cur, key, &mut hits);
        for (v, d) in &st.known {
            for p in memchr::memmem::find_iter(cur.as_bytes(), v.as_bytes()) {
                hits.push(Hit {
                    start: p,
                    end: p + v.len(),
                    det: *d,
                });
            }
        }
        if hits.is_empty() {
            return match cur {
                Cow::Owned(o) => Some(o),
                Cow::Borrowed(_) => None,
            };
        }
        hits.sort_unstable_by_key(|h| (h.start, priority(h.det), std::cmp::Reverse(h.end)));
        let mut out = String::with_capacity(cur.len());
        let mut at = 0;
        for h in hits {
            if h.start < at || !cur.is_char_boundary(h.start) || !cur.is_char_boundary(h.end) {
                continue;
            }
            out.push_str(&cur[at..h.start]);
            out.push_str(&self.replacements[h.det]);
            st.remember(&cur[h.start..h.end], h.det);
            at = h.end;
        }
        out.push_str(&cur[at..]);
        Some(out)
    }

    /// Appends `src` (valid JSON) to `out` with its string values (and card numbers written
    /// as JSON numbers) redacted; returns whether anything changed. `doc`: `src` is an indexed
    /// document, whose `@timestamp` and `event.id` are left alone.
    pub(crate) fn json(
        &self,
        src: &str,
        level: usize,
        doc: bool,
        out: &mut Vec<u8>,
        st: &mut State,
    ) -> bool {
        let b = src.as_bytes();
        let mut i = 0;
        let mut copied = 0;
        let mut changed = false;
        let mut depth = 0usize;
        let mut key: Option<&str> = None;
        let mut top_key: &str = "";
        let mut prev = 0u8;
        while i < b.len() {
            match b[i] {
                b'"' => {
                    let start = i;
                    i += 1;
                    while i < b.len() {
                        match b[i] {
                            b'\\' => i += 2,
                            b'"' => break,
                            _ => i += 1,
                        }
                    }
                    let end = (i + 1).min(b.len());
                    i = end;
                    let inner = &src[start + 1..end.saturating_sub(1).max(start + 1)];
                    let mut k = end;
                    while k < b.len() && b[k].is_ascii_whitespace() {
                        k += 1;
                    }
                    if b.get(k) == Some(&b':') {
                        key = Some(inner);
                        if depth == 1 {
                            top_key = inner;
                        }
                        prev = b'"';
                        continue;
                    }
                    let value_key = if prev == b':' { key } else { None };
                    prev = b'"';
                    if doc
                        && ((depth == 1 && value_key == Some("@timestamp"))
                            || (depth == 2 && top_key == "event" && value_key == Some("id")))
                    {
                        continue;
                    }
                    let text: Cow<'_, str> = if inner.contains('\\') {
                        match serde_json::from_str::<String>(&src[start..end]) {
                            Ok(t) => Cow::Owned(t),
                            Err(_) => continue,
                        }
                    } else {
                        Cow::Borrowed(inner)
                    };
                    if let Some(new) = self.string(&text, value_key, level, st) {
                        out.extend_from_slice(&b[copied..start]);
                        push_str(out, &new);
                        copied = end;
                        changed = true;
                    }
                }
                b'0'..=b'9' | b'-' => {
                    let start = i;
                    while i < b.len()
                        && matches!(b[i], b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E')
                    {
                        i += 1;
                    }
                    prev = b'0';
                    let n = &b[start..i];
                    if self.on[CARD]
                        && (13..=19).contains(&n.len())
                        && n.iter().all(u8::is_ascii_digit)
                    {
                        let mut card = false;
                        cards(n, &mut |s, e| card |= s == 0 && e == n.len());
                        if card && luhn(n) {
                            out.extend_from_slice(&b[copied..start]);
                            push_str(out, &self.replacements[CARD]);
                            st.remember(&src[start..i], CARD);
                            copied = i;
                            changed = true;
                        }
                    }
                }
                c => {
                    match c {
                        b'{' | b'[' => depth += 1,
                        b'}' | b']' => depth = depth.saturating_sub(1),
                        _ => {}
                    }
                    if !c.is_ascii_whitespace() {
                        prev = c;
                    }
                    i += 1;
                }
            }
        }
        if changed {
            out.extend_from_slice(&b[copied..]);
        } else {
            out.extend_from_slice(b);
        }
        changed
    }
}
