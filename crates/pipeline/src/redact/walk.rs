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
/// At most this many passes over a value that had something replaced ([`Redactor::string`]):
/// each pass after the first costs one more look at the value, and only values with a
/// replacement get one.
const MAX_PASSES: usize = 8;

/// Whether the value found elsewhere at `start..end` of `b` stands alone there, as its
/// detector finds values: not inside a longer word (a letter or digit on either side), nor,
/// for an IP address, inside a longer run of dots and colons (the address `::2` is not in
/// `::2::3`, nor `10.0.0.1` in `10.0.0.1.5`). Cutting a value out of a longer one would leave
/// pieces that a second redaction finds anew.
fn stands_alone(b: &[u8], start: usize, end: usize, det: usize) -> bool {
    let joins = |c: u8| {
        c.is_ascii_alphanumeric() || (matches!(det, IPV4 | IPV6) && matches!(c, b'.' | b':'))
    };
    let before = start.checked_sub(1).map(|i| b[i]);
    !before.is_some_and(joins) && !b.get(end).copied().is_some_and(joins)
}

/// What one document (or text) found so far: each distinct value and its detector, so that a
/// value found in one field is redacted in every other, and counted once.
#[derive(Default)]
pub(crate) struct State {
    known: Vec<(String, usize, memchr::memmem::Finder<'static>)>,
    /// Whether a walk with candidates passed a key with candidates in it (keys are not
    /// redacted by the walk itself).
    pub(crate) key_candidates: bool,
    /// Whether a walk with candidates met one outside every string and number it looked at,
    /// or in a string it could not unescape: the text is not the JSON it was taken for.
    pub(crate) stray_candidates: bool,
    /// Whether a value is known that a string may hold without a candidate of its own (a
    /// secret access key or a password: their candidates are the key names and `://` next
    /// to them; card numbers, IP addresses, custom regexes' values): see
    /// [`Redactor::known_in`].
    unmarked: bool,
}

impl State {
    pub(crate) fn count(&self, r: &Redactor, counts: &mut RedactCounts) {
        for (_, d, _) in &self.known {
            counts.add(r.name(*d), 1);
        }
    }

    fn remember(&mut self, value: &str, det: usize) {
        if self.known.len() < MAX_KNOWN && !self.known.iter().any(|(v, _, _)| v == value) {
            let finder = memchr::memmem::Finder::new(value.as_bytes()).into_owned();
            self.known.push((value.to_string(), det, finder));
            // A key id, an email address, a JWT or a private key holds its detector's
            // candidate wherever it is written (its prefix, its `@` between an address
            // character and a letter or digit, `eyJ` then `.eyJ`, `-----BEGIN`), or else a
            // `\u` escape that is a candidate itself.
            self.unmarked |= !matches!(det, AKID | EMAIL | JWT | PEM);
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
    ///
    /// `seen`: which detectors have candidates in `s`, when the document's candidates told
    /// (then `s` is known to need a look); `None`: a prefilter pass over `s` decides.
    ///
    /// A value with something replaced is looked at again, until nothing changes (at most
    /// [`MAX_PASSES`] passes), so that redacting twice changes nothing: a replacement changes
    /// what its neighbours stand next to. In `a@b.com::2`, `::2` is no IPv6 address after the
    /// `m` of a word, but is one after the replaced email's `]`; in `.5@C8BA.CA::2`, the
    /// address `CA::2` overlaps the email and is dropped, leaving `::2`.
    pub(crate) fn string(
        &self,
        s: &str,
        key: Option<&str>,
        level: usize,
        st: &mut State,
        seen: Option<[bool; 9]>,
    ) -> Option<String> {
        let mut settled = true;
        let mut out = self.string_pass(s, key, level, st, seen, &mut settled)?;
        for _ in 1..MAX_PASSES {
            if settled {
                break;
            }
            match self.string_pass(&out, key, level, st, None, &mut settled) {
                Some(again) if again != out => out = again,
                _ => break,
            }
        }
        Some(out)
    }

    /// One pass of [`Redactor::string`]. `settled` is set to whether another pass can find
    /// nothing more: no hit was dropped for overlapping another, and every replacement has
    /// whitespace, a quote or an end of the value on both sides (so no detector's match next
    /// to it, nor its boundary checks, took in what was replaced: no match holds whitespace or
    /// a quote, the secret key's context aside, which a hit inside would have overlapped).
    fn string_pass(
        &self,
        s: &str,
        key: Option<&str>,
        level: usize,
        st: &mut State,
        seen: Option<[bool; 9]>,
        settled: &mut bool,
    ) -> Option<String> {
        *settled = true;
        // Most values hold nothing any detector looks for: one prefilter pass over them (their
        // JSON escapes included), nothing else. A value already found elsewhere in the
        // document is looked for all the same.
        let seen = match seen {
            Some(m) => m,
            None => match self.detect.seen(self, s.as_bytes()) {
                Some(m) => m,
                None if st.known.is_empty() => return None,
                None => [false; 9],
            },
        };
        let mut cur: Cow<'_, str> = Cow::Borrowed(s);
        let mut seen = Some(seen);
        let mut look = true;
        if level < MAX_LEVEL {
            let mut starts: Vec<usize> = [s.find('{'), s.find('[')].into_iter().flatten().collect();
            starts.sort_unstable();
            for k in starts {
                let t = s[k..].trim_end_matches(|c: char| c.is_ascii_whitespace());
                if !(t.ends_with('}') || t.ends_with(']')) || !valid_json(t.as_bytes()) {
                    continue;
                }
                let mut out = Vec::with_capacity(t.len() + 32);
                if self.json(t, level + 1, false, &mut out, st, None) {
                    let mut n = String::with_capacity(s.len() + 32);
                    n.push_str(&s[..k]);
                    n.push_str(std::str::from_utf8(&out).expect("walked JSON is UTF-8"));
                    n.push_str(&s[k + t.len()..]);
                    cur = Cow::Owned(n);
                }
                // Its values are done; what is left to look at (the text around the JSON, its
                // keys) is prefiltered again, so that a JSON message is not searched twice.
                seen = self.detect.seen(self, cur.as_bytes());
                look = seen.is_some();
                break;
            }
        }
        let mut hits: Vec<Hit> = Vec::new();
        if look {
            self.detect.hits(self, &cur, key, seen, &mut hits);
        }
        for (v, d, f) in &st.known {
            for p in f.find_iter(cur.as_bytes()) {
                if !stands_alone(cur.as_bytes(), p, p + v.len(), *d) {
                    continue;
                }
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
        let mut hits = self.outside_replacements(&cur, hits);
        hits.sort_unstable_by_key(|h| (h.start, priority(h.det), std::cmp::Reverse(h.end)));
        let mut out = String::with_capacity(cur.len());
        let mut at = 0;
        let b = cur.as_bytes();
        let inert = |i: Option<usize>| {
            i.and_then(|i| b.get(i))
                .is_none_or(|&c| c.is_ascii_whitespace() || c == b'"' || c == b'\'')
        };
        for h in hits {
            if h.start < at || !cur.is_char_boundary(h.start) || !cur.is_char_boundary(h.end) {
                *settled &= h.end <= at;
                continue;
            }
            *settled &= inert(h.start.checked_sub(1)) && inert(Some(h.end));
            out.push_str(&cur[at..h.start]);
            out.push_str(&self.replacements[h.det]);
            st.remember(&cur[h.start..h.end], h.det);
            at = h.end;
        }
        out.push_str(&cur[at..]);
        Some(out)
    }

    /// `hits` without what lies in a replacement text already in `s` (an earlier pass's, or
    /// one written in the log): a hit is cut into the pieces outside them, and dropped when
    /// none is left. Without this, a URL's password could take in a replacement's `:` (in
    /// `Z://x[REDACTED:url-credentials]@h`, `url-credentials]`), a custom regex could match
    /// inside one, and redacting again would change the text again.
    fn outside_replacements(&self, s: &str, hits: Vec<Hit>) -> Vec<Hit> {
        // Their union, in order (replacement texts may be alike or overlap; overlapping
        // matches come in the order they end).
        let mut spans: Vec<(usize, usize)> = self
            .replaced
            .find_overlapping_iter(s)
            .map(|m| (m.start(), m.end()))
            .collect();
        spans.sort_unstable();
        let mut union: Vec<(usize, usize)> = Vec::with_capacity(spans.len());
        for (s, e) in spans {
            match union.last_mut() {
                Some(last) if s <= last.1 => last.1 = last.1.max(e),
                _ => union.push((s, e)),
            }
        }
        if union.is_empty() {
            return hits;
        }
        let spans = union;
        let mut out = Vec::with_capacity(hits.len());
        for h in hits {
            let mut start = h.start;
            // The spans that may overlap the hit: from the first ending after its start.
            let first = spans.partition_point(|&(_, e)| e <= h.start);
            for &(ts, te) in spans[first..].iter().take_while(|&&(ts, _)| ts < h.end) {
                if ts > start {
                    out.push(Hit {
                        start,
                        end: ts,
                        det: h.det,
                    });
                }
                start = start.max(te);
            }
            if start < h.end {
                out.push(Hit {
                    start,
                    end: h.end,
                    det: h.det,
                });
            }
        }
        out
    }

    /// Whether `inner` (a JSON string's raw text) holds a value found earlier in the document.
    ///
    /// Only called for strings without candidates, in a walk over candidates found in the
    /// whole text: such a string can hold a known key id, email address, JWT or private key
    /// only where a candidate would have been found, so those are not searched for.
    fn known_in(&self, inner: &str, st: &State) -> bool {
        if !st.unmarked {
            return false;
        }
        let Some(text) = unescape(inner) else {
            return false;
        };
        st.known.iter().any(|(v, d, f)| {
            f.find_iter(text.as_bytes())
                .any(|p| stands_alone(text.as_bytes(), p, p + v.len(), *d))
        })
    }

    /// Appends `src` (valid JSON) to `out` with its string values (and card numbers written
    /// as JSON numbers) redacted; returns whether anything changed. `doc`: `src` is an indexed
    /// document, whose `@timestamp` and `event.id` are left alone. `cands`: the candidates of
    /// `src` ([`super::detect::Detectors::candidates`]): a value with none in it (and none of
    /// the values already found) is copied without being unescaped or looked at again.
    pub(crate) fn json(
        &self,
        src: &str,
        level: usize,
        doc: bool,
        out: &mut Vec<u8>,
        st: &mut State,
        cands: Option<&[(usize, usize)]>,
    ) -> bool {
        let mut next = 0; // the first candidate not behind us
        // A key naming a secret access key makes its value a candidate.
        let mut secret_key = false;
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
                    // To the closing quote, escapes skipped, a SIMD search at a time.
                    while let Some(p) = memchr::memchr2(b'"', b'\\', &b[i.min(b.len())..]) {
                        i += p;
                        if b[i] == b'"' {
                            break;
                        }
                        i += 2;
                    }
                    if i >= b.len() || b[i] != b'"' {
                        i = b.len();
                    }
                    let end = (i + 1).min(b.len());
                    i = end;
                    let inner = &src[start + 1..end.saturating_sub(1).max(start + 1)];
                    let mut k = end;
                    while k < b.len() && b[k].is_ascii_whitespace() {
                        k += 1;
                    }
                    // The detectors whose candidates are in this string, when known.
                    let mut seen: Option<[bool; 9]> = None;
                    let mut escape = false;
                    if let Some(c) = cands {
                        let mut m = [false; 9];
                        while next < c.len() && c[next].0 < end {
                            let (at, d) = c[next];
                            if at > start {
                                match m.get_mut(d) {
                                    Some(x) => *x = true,
                                    None => escape = true,
                                }
                            } else {
                                st.stray_candidates = true;
                            }
                            next += 1;
                        }
                        seen = Some(m);
                    }
                    if b.get(k) == Some(&b':') {
                        // `secret` in a key names its value (looked at below), nothing else.
                        let found_in_key = seen
                            .is_some_and(|m| m.iter().enumerate().any(|(d, &x)| x && d != SECRET));
                        if escape || found_in_key {
                            st.key_candidates = true;
                        }
                        secret_key = seen.is_some_and(|m| m[SECRET]) || escape;
                        key = Some(inner);
                        if depth == 1 {
                            top_key = inner;
                        }
                        prev = b'"';
                        continue;
                    }
                    let value_key = if prev == b':' { key } else { None };
                    let after_secret_key = std::mem::take(&mut secret_key) && prev == b':';
                    prev = b'"';
                    if doc
                        && ((depth == 1 && value_key == Some("@timestamp"))
                            || (depth == 2 && top_key == "event" && value_key == Some("id")))
                    {
                        continue;
                    }
                    if let Some(m) = &mut seen {
                        m[SECRET] |= after_secret_key;
                        let any = escape || m.iter().any(|&x| x);
                        if !any && !self.known_in(inner, st) {
                            continue;
                        }
                    }
                    if escape {
                        seen = None;
                    }
                    let text: Cow<'_, str> = match unescape(inner) {
                        Some(t) => t,
                        None => {
                            st.stray_candidates |= seen.is_none_or(|m| m.iter().any(|&x| x));
                            continue;
                        }
                    };
                    if let Some(new) = self.string(&text, value_key, level, st, seen) {
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
                    if let Some(c) = cands {
                        // Candidates in a number (card digits) are looked at here.
                        while next < c.len() && c[next].0 < i {
                            st.stray_candidates |= c[next].0 < start;
                            next += 1;
                        }
                    }
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
                    if c == b',' || c == b'{' || c == b'[' {
                        secret_key = false;
                    }
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
        if cands.is_some_and(|c| next < c.len()) {
            st.stray_candidates = true;
        }
        if changed {
            out.extend_from_slice(&b[copied..]);
        } else {
            out.extend_from_slice(b);
        }
        changed
    }
}

/// The text of a JSON string whose raw contents (between its quotes) are `inner`: borrowed
/// when it has no escape; the short escapes undone here, `\u` by `serde_json`. `None` when
/// it is not a valid JSON string.
pub(crate) fn unescape(inner: &str) -> Option<Cow<'_, str>> {
    let b = inner.as_bytes();
    let Some(first) = memchr::memchr(b'\\', b) else {
        return Some(Cow::Borrowed(inner));
    };
    let mut out = String::with_capacity(inner.len());
    out.push_str(&inner[..first]);
    let mut i = first;
    loop {
        // `i` is at a backslash.
        let c = match b.get(i + 1)? {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'n' => '\n',
            b't' => '\t',
            b'r' => '\r',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'u' => {
                return serde_json::from_str::<String>(&format!("\"{inner}\""))
                    .ok()
                    .map(Cow::Owned);
            }
            _ => return None,
        };
        out.push(c);
        i += 2;
        match memchr::memchr(b'\\', &b[i..]) {
            Some(p) => {
                out.push_str(&inner[i..i + p]);
                i += p;
            }
            None => {
                out.push_str(&inner[i..]);
                return Some(Cow::Owned(out));
            }
        }
    }
}

/// Whether `b` is one JSON value (and white space around it), nested at most 128 deep: what
/// `serde_json` accepts, checked without building anything (strings skipped a SIMD search at
/// a time).
pub(crate) fn valid_json(b: &[u8]) -> bool {
    let mut i = 0;
    value(b, &mut i, 0) && {
        ws(b, &mut i);
        i == b.len()
    }
}

fn ws(b: &[u8], i: &mut usize) {
    while matches!(b.get(*i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        *i += 1;
    }
}

fn value(b: &[u8], i: &mut usize, depth: usize) -> bool {
    ws(b, i);
    let Some(&c) = b.get(*i) else {
        return false;
    };
    match c {
        b'{' | b'[' => {
            if depth >= 128 {
                return false;
            }
            let close = if c == b'{' { b'}' } else { b']' };
            *i += 1;
            ws(b, i);
            if b.get(*i) == Some(&close) {
                *i += 1;
                return true;
            }
            loop {
                if c == b'{' {
                    ws(b, i);
                    if b.get(*i) != Some(&b'"') || !string(b, i) {
                        return false;
                    }
                    ws(b, i);
                    if b.get(*i) != Some(&b':') {
                        return false;
                    }
                    *i += 1;
                }
                if !value(b, i, depth + 1) {
                    return false;
                }
                ws(b, i);
                match b.get(*i) {
                    Some(b',') => *i += 1,
                    Some(&x) if x == close => {
                        *i += 1;
                        return true;
                    }
                    _ => return false,
                }
            }
        }
        b'"' => string(b, i),
        b't' => literal(b, i, b"true"),
        b'f' => literal(b, i, b"false"),
        b'n' => literal(b, i, b"null"),
        b'-' | b'0'..=b'9' => number(b, i),
        _ => false,
    }
}

fn literal(b: &[u8], i: &mut usize, word: &[u8]) -> bool {
    let ok = b[*i..].starts_with(word);
    *i += word.len();
    ok
}

/// A string from its opening quote at `*i`; `*i` ends after its closing quote.
fn string(b: &[u8], i: &mut usize) -> bool {
    *i += 1;
    loop {
        let Some(p) = memchr::memchr2(b'"', b'\\', &b[*i..]) else {
            return false;
        };
        if b[*i..*i + p].iter().any(|&c| c < 0x20) {
            return false;
        }
        *i += p;
        if b[*i] == b'"' {
            *i += 1;
            return true;
        }
        match b.get(*i + 1) {
            Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => *i += 2,
            Some(b'u') => {
                let hex = b.get(*i + 2..*i + 6);
                if !hex.is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) {
                    return false;
                }
                *i += 6;
            }
            _ => return false,
        }
    }
}

fn number(b: &[u8], i: &mut usize) -> bool {
    let digits = |i: &mut usize| {
        let s = *i;
        while b.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i > s
    };
    if b[*i] == b'-' {
        *i += 1;
    }
    match b.get(*i) {
        Some(b'0') => *i += 1,
        Some(b'1'..=b'9') => {
            digits(i);
        }
        _ => return false,
    }
    if b.get(*i) == Some(&b'.') {
        *i += 1;
        if !digits(i) {
            return false;
        }
    }
    if matches!(b.get(*i), Some(b'e' | b'E')) {
        *i += 1;
        if matches!(b.get(*i), Some(b'+' | b'-')) {
            *i += 1;
        }
        if !digits(i) {
            return false;
        }
    }
    true
}
