//! The built-in detectors: literal prefilters, then a regex or a scan per candidate.

use super::*;
use aho_corasick::AhoCorasick;

/// One value found: a byte range of the text and the detector (built-ins, then customs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Hit {
    pub start: usize,
    pub end: usize,
    pub det: usize,
}

/// The AWS access key id prefixes (IAM user, STS, group, role, ...).
const KEY_PREFIXES: [&str; 12] = [
    "AKIA", "ASIA", "AGPA", "AIDA", "AROA", "AIPA", "ANPA", "ANVA", "APKA", "ABIA", "ACCA", "A3T",
];

/// The prefilter's literals and the detector each stands for: three bytes or more each, so
/// that the SIMD searcher compares three-byte fingerprints (with a one-byte literal it would
/// stop at every `s`, `e` or `A`). `@` and JSON escapes are found by `memchr` instead, and
/// `://` only where there is an `@` (url-credentials need both; web server logs have a
/// `://` in most lines, and no `@`).
fn literals() -> Vec<(&'static str, usize)> {
    let mut v: Vec<(&str, usize)> = KEY_PREFIXES.iter().map(|p| (*p, AKID)).collect();
    v.extend([
        ("secret", SECRET),
        ("Secret", SECRET),
        ("SECRET", SECRET),
        ("eyJ", JWT),
        ("-----BEGIN", PEM),
    ]);
    v
}

#[derive(Debug, Clone)]
pub(crate) struct Detectors {
    ac: AhoCorasick,
    /// The same literals for the SIMD searcher alone (Teddy, on x86_64 and aarch64), when the
    /// target has it: it confirms its own matches, where the automaton above re-reads each
    /// one (the bench data's CloudTrail events have two or three key-id-like ids each).
    packed: Option<aho_corasick::packed::Searcher>,
    /// The JSON escapes that may hide anything: `\u` and `\/`.
    lits: Vec<usize>,
    /// `://`, looked for where there is an `@`.
    scheme_end: memchr::memmem::Finder<'static>,
    akid: Regex,
    secret: Regex,
    email: Regex,
    jwt: Regex,
    pem: Regex,
    url: Regex,
    ipv4: Regex,
    ipv6: Regex,
}

fn re(p: &str) -> Regex {
    Regex::new(p).expect("built-in regexes compile")
}

impl Detectors {
    pub(crate) fn new() -> Detectors {
        let lits = literals();
        // Case-sensitive and leftmost-first, so that the SIMD (Teddy) searcher applies.
        let ac = AhoCorasick::builder()
            .match_kind(aho_corasick::MatchKind::LeftmostFirst)
            .build(lits.iter().map(|(l, _)| l))
            .expect("the literals build");
        let packed = aho_corasick::packed::Config::new()
            .match_kind(aho_corasick::packed::MatchKind::LeftmostFirst)
            .builder()
            .extend(lits.iter().map(|(l, _)| l))
            .build();
        Detectors {
            ac,
            packed,
            lits: lits.iter().map(|(_, d)| *d).collect(),
            scheme_end: memchr::memmem::Finder::new(b"://").into_owned(),
            akid: re(
                r"(?:AKIA|ASIA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|APKA|ABIA|ACCA|A3T[A-Z0-9])[A-Z2-7]{16}",
            ),
            secret: re(
                r#"(?i)secret[_-]?access[_-]?key\\?["']?\s*(?:=>|[:=])\s*\\?["']?([A-Za-z0-9/+]{40})"#,
            ),
            email: re(
                r"[A-Za-z0-9.!#$%&*+^_~-]+@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}",
            ),
            jwt: re(r"eyJ[A-Za-z0-9_-]{2,}\.eyJ[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*"),
            pem: re(
                r"(?s)-----BEGIN [A-Z0-9 ]{0,40}PRIVATE KEY-----(?:.*?-----END [A-Z0-9 ]{0,40}PRIVATE KEY-----|.*)",
            ),
            url: re(r#"[A-Za-z][A-Za-z0-9+.-]{0,31}://[^\s:/?#@"'<>\\]*:([^\s/?#@"'<>\\]+)@"#),
            ipv4: re(
                r"(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])",
            ),
            ipv6: re(r"[0-9A-Fa-f:]*:[0-9A-Fa-f]*:[0-9A-Fa-f:.]*"),
        }
    }

    /// Where the prefilter's literals are in `b` (leftmost first, not overlapping): start and
    /// pattern index.
    fn literals<'a>(&'a self, b: &'a [u8]) -> impl Iterator<Item = (usize, usize)> + 'a {
        let (packed, ac) = match &self.packed {
            Some(p) => (Some(p.find_iter(b)), None),
            None => (None, Some(self.ac.find_iter(b))),
        };
        packed
            .into_iter()
            .flatten()
            .chain(ac.into_iter().flatten())
            .map(|m| (m.start(), m.pattern().as_usize()))
    }

    /// [`Detectors::literals`] by the automaton alone (for tests: the SIMD searcher must find
    /// the same).
    #[cfg(test)]
    pub(crate) fn literals_by_automaton(&self, b: &[u8]) -> Vec<(usize, usize)> {
        self.ac
            .find_iter(b)
            .map(|m| (m.start(), m.pattern().as_usize()))
            .collect()
    }

    /// [`Detectors::literals`], collected (for tests).
    #[cfg(test)]
    pub(crate) fn literals_found(&self, b: &[u8]) -> Vec<(usize, usize)> {
        self.literals(b).collect()
    }

    /// Which detectors have candidates in `bytes` (see [`Detectors::candidates`]), and whether
    /// it has a JSON escape; `None` when it has neither (custom regexes: never `None`).
    pub(crate) fn seen(&self, r: &Redactor, bytes: &[u8]) -> Option<[bool; 9]> {
        let mut m = [false; 9];
        let mut any = !r.custom.is_empty();
        self.scan(r, bytes, &mut |_, d| {
            any = true;
            match m.get_mut(d) {
                Some(x) => *x = true,
                // An escape may hide anything: every detector looks.
                None => m = [true; 9],
            }
            false
        });
        if !any {
            return None;
        }
        // Custom regexes do not prefilter; the built-ins' own scans are cheap.
        if !r.custom.is_empty() {
            m[CARD] = true;
        }
        Some(m)
    }

    /// Records where something may be found in `bytes` (a whole document): the byte offset of
    /// each candidate and the detector it is for (`usize::MAX`: a JSON escape), in ascending
    /// order. One pass of the literal automaton, then one word-at-a-time pass each for digit
    /// runs, dotted quads and colon runs (for the detectors that are on).
    pub(crate) fn candidates(&self, r: &Redactor, bytes: &[u8], out: &mut Vec<(usize, usize)>) {
        self.scan(r, bytes, &mut |at, d| {
            out.push((at, d));
            false
        });
        out.sort_unstable();
    }

    /// Calls `found(offset, detector)` for each candidate (see [`Detectors::candidates`])
    /// until it returns `true`; returns whether it did.
    fn scan(&self, r: &Redactor, b: &[u8], found: &mut dyn FnMut(usize, usize) -> bool) -> bool {
        for (start, pattern) in self.literals(b) {
            let d = self.lits[pattern];
            let wanted = match d {
                usize::MAX => true,
                // Only where the regex can match: a key id's 16 base-32 characters follow
                // (unique ids such as `AIDA...` with other characters are no candidates), a
                // JWT's first part is followed by `.eyJ`. An escape inside either is a
                // candidate of its own.
                AKID => r.on[AKID] && akid_shape(b, start),
                JWT => r.on[JWT] && jwt_shape(b, start),
                d => r.on[d],
            };
            if wanted && found(start, d) {
                return true;
            }
        }
        // `@` (emails; url-credentials have `://` as well), and the JSON escapes `\u` and `\/`,
        // which may hide anything (`\"`, `\\`, `\n` and the like hide nothing a detector
        // looks for), in one search.
        let email = r.on[EMAIL];
        // `://` alone is every URL: url-credentials need an `@` too.
        let mut urls = r.on[URL];
        for i in memchr::memchr2_iter(b'@', b'\\', b) {
            if b[i] == b'@' && std::mem::take(&mut urls) {
                for u in self.scheme_end.find_iter(b) {
                    if found(u, URL) {
                        return true;
                    }
                }
            }
            let hit = if b[i] == b'@' {
                // An address has a local-part character before its `@` and a letter or digit
                // after (`"@timestamp"` is no candidate).
                let local = i > 0 && is_local(b[i - 1]);
                let domain = b.get(i + 1).is_some_and(u8::is_ascii_alphanumeric);
                (email && local && domain).then_some(EMAIL)
            } else {
                matches!(b.get(i + 1), Some(b'u' | b'/')).then_some(usize::MAX)
            };
            if let Some(d) = hit
                && found(i, d)
            {
                return true;
            }
        }
        if r.on[CARD] {
            // Card numbers are digits, spaces and dashes, which JSON never escapes: the
            // numbers found in the raw bytes are the candidates (a 56-digit event id is none).
            let mut stop = false;
            cards(b, &mut |s, _| stop = stop || found(s, CARD));
            if stop {
                return true;
            }
        }
        if r.on[IPV4] {
            // A dotted quad is a run of digits and dots with three dots or more.
            let mut skip = 0;
            for i in memchr::memchr_iter(b'.', b) {
                if i < skip || i == 0 || !b[i - 1].is_ascii_digit() {
                    continue;
                }
                let mut j = i;
                let mut dots = 0;
                while j < b.len() && (b[j].is_ascii_digit() || b[j] == b'.') {
                    dots += usize::from(b[j] == b'.');
                    j += 1;
                }
                skip = j;
                if dots >= 3 && found(i, IPV4) {
                    return true;
                }
            }
        }
        if r.on[IPV6] {
            // An IPv6 address has `::`, or six colons or more (seven, or six and a dotted
            // quad), in one run of hex digits, colons and dots.
            let mut skip = 0;
            for i in memchr::memchr_iter(b':', b) {
                if i < skip {
                    continue;
                }
                let mut j = i;
                let mut colons = 0;
                let mut double = false;
                while j < b.len() && (b[j].is_ascii_hexdigit() || b[j] == b':' || b[j] == b'.') {
                    if b[j] == b':' {
                        colons += 1;
                        double |= b.get(j + 1) == Some(&b':');
                    }
                    j += 1;
                }
                skip = j;
                if (double || colons >= 6) && found(i, IPV6) {
                    return true;
                }
            }
        }
        false
    }

    /// Appends what the detectors that are on find in `s` to `hits`; `key` is the JSON key the
    /// value is under, if any. `seen`: which detectors' candidates are in `s`, when the
    /// caller knows (from a document's candidates); otherwise they are looked for here.
    pub(crate) fn hits(
        &self,
        r: &Redactor,
        s: &str,
        key: Option<&str>,
        seen: Option<[bool; 9]>,
        hits: &mut Vec<Hit>,
    ) {
        let b = s.as_bytes();
        if r.on[SECRET] && key.is_some_and(names_secret_key) && is_secret(b) {
            hits.push(Hit {
                start: 0,
                end: b.len(),
                det: SECRET,
            });
        }
        let seen = seen.unwrap_or_else(|| {
            let mut seen = [false; 9];
            for (_, pattern) in self.literals(b) {
                let d = self.lits[pattern];
                if d != usize::MAX {
                    seen[d] = true;
                }
            }
            // The scans are cheap and exact enough: the regexes below run only on their
            // candidates.
            seen[EMAIL] = memchr::memchr(b'@', b).is_some();
            seen[CARD] = true;
            seen[IPV4] = b.contains(&b'.');
            seen[IPV6] = b.contains(&b':');
            seen
        });
        let alnum = |i: usize| b.get(i).is_some_and(|c| c.is_ascii_alphanumeric());
        if r.on[AKID] && seen[AKID] {
            for m in self.akid.find_iter(s) {
                if (m.start() == 0 || !alnum(m.start() - 1)) && !alnum(m.end()) {
                    hits.push(hit(m.start(), m.end(), AKID));
                }
            }
        }
        if r.on[SECRET] && seen[SECRET] {
            for c in self.secret.captures_iter(s) {
                let g = c.get(1).expect("group 1");
                if !b.get(g.end()).is_some_and(|&c| is_b64(c)) {
                    hits.push(hit(g.start(), g.end(), SECRET));
                }
            }
        }
        if r.on[URL] && seen[URL] && memchr::memchr(b'@', b).is_some() {
            for c in self.url.captures_iter(s) {
                let g = c.get(1).expect("group 1");
                hits.push(hit(g.start(), g.end(), URL));
            }
        }
        if r.on[EMAIL] && seen[EMAIL] {
            for m in self.email.find_iter(s) {
                if !alnum(m.end())
                    && b.get(m.end()) != Some(&b'-')
                    && !b[..m.start()].ends_with(b"://")
                {
                    hits.push(hit(m.start(), m.end(), EMAIL));
                }
            }
        }
        if r.on[JWT] && seen[JWT] {
            for m in self.jwt.find_iter(s) {
                hits.push(hit(m.start(), m.end(), JWT));
            }
        }
        if r.on[PEM] && seen[PEM] {
            for m in self.pem.find_iter(s) {
                hits.push(hit(m.start(), m.end(), PEM));
            }
        }
        if r.on[CARD] && seen[CARD] {
            cards(b, &mut |start, end| hits.push(hit(start, end, CARD)));
        }
        if r.on[IPV4] && seen[IPV4] {
            for m in self.ipv4.find_iter(s) {
                let before = m.start().checked_sub(1).map(|i| b[i]);
                let after = b.get(m.end()).copied();
                let after2 = b.get(m.end() + 1).copied();
                let joined = before.is_some_and(|c| c.is_ascii_alphanumeric() || c == b'.')
                    || after.is_some_and(|c| c.is_ascii_alphanumeric())
                    || (after == Some(b'.') && after2.is_some_and(|c| c.is_ascii_digit()));
                if !joined {
                    hits.push(hit(m.start(), m.end(), IPV4));
                }
            }
        }
        if r.on[IPV6] && seen[IPV6] {
            for m in self.ipv6.find_iter(s) {
                let t = m.as_str().trim_end_matches('.');
                let before = m.start().checked_sub(1).map(|i| b[i]);
                if t.len() >= 3
                    && !before.is_some_and(|c| c.is_ascii_alphanumeric())
                    && !b
                        .get(m.start() + t.len())
                        .is_some_and(|c| c.is_ascii_alphanumeric())
                    && t.parse::<std::net::Ipv6Addr>().is_ok()
                {
                    hits.push(hit(m.start(), m.start() + t.len(), IPV6));
                }
            }
        }
        for (i, (_, re)) in r.custom.iter().enumerate() {
            for m in re.find_iter(s) {
                if m.end() > m.start() {
                    hits.push(hit(m.start(), m.end(), DETECTORS.len() + i));
                }
            }
        }
    }
}

/// Whether an access key id can start at `p` (where a prefix of [`KEY_PREFIXES`] is): the
/// 16 characters after the four-character prefix are base 32 (`A3T` takes any letter or
/// digit as its fourth).
fn akid_shape(b: &[u8], p: usize) -> bool {
    b.get(p + 4..p + 20).is_some_and(|t| {
        t.iter()
            .all(|&c| c.is_ascii_uppercase() || (b'2'..=b'7').contains(&c))
    }) && b
        .get(p + 3)
        .is_some_and(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

/// Whether a JWT can start at `p` (where `eyJ` is): two base64url characters or more, then
/// `.eyJ`.
fn jwt_shape(b: &[u8], p: usize) -> bool {
    let rest = &b[(p + 3).min(b.len())..];
    let n = rest
        .iter()
        .position(|&c| !(c.is_ascii_alphanumeric() || c == b'_' || c == b'-'))
        .unwrap_or(rest.len());
    n >= 2 && rest[n..].starts_with(b".eyJ")
}

/// A character of an email address's local part (as the email regex takes them).
fn is_local(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b".!#$%&*+^_~-".contains(&c)
}

fn hit(start: usize, end: usize, det: usize) -> Hit {
    Hit { start, end, det }
}

fn is_b64(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'/' || c == b'+'
}

/// A 40-character secret access key, alone.
fn is_secret(b: &[u8]) -> bool {
    b.len() == 40 && b.iter().all(|&c| is_b64(c))
}

/// Whether a JSON key names a secret access key (`SecretAccessKey`, `aws_secret_access_key`,
/// `secretAccessKey`, `AWS_SECRET_ACCESS_KEY`, ...).
pub(crate) fn names_secret_key(key: &str) -> bool {
    let k: String = key
        .bytes()
        .filter(|b| b.is_ascii_alphanumeric())
        .map(|b| b.to_ascii_lowercase() as char)
        .collect();
    k.ends_with("secretaccesskey")
}

/// The Luhn check over `digits` (ASCII digits only).
pub fn luhn(digits: &[u8]) -> bool {
    let mut sum = 0u32;
    for (i, d) in digits.iter().rev().enumerate() {
        let mut v = u32::from(d - b'0');
        if i % 2 == 1 {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
    }
    sum.is_multiple_of(10)
}

/// Whether `digits` start with a card issuer's range and have a length it issues.
fn issuer(d: &[u8]) -> bool {
    let n = d.len();
    let p = |k: usize| -> u32 {
        d[..k.min(n)]
            .iter()
            .fold(0, |a, &c| a * 10 + u32::from(c - b'0'))
    };
    match d[0] {
        b'4' => matches!(n, 13 | 16 | 19),                          // Visa
        b'5' if (51..=55).contains(&p(2)) => n == 16,               // Mastercard
        b'5' if p(2) == 50 || (56..=58).contains(&p(2)) => n >= 12, // Maestro
        b'2' => (2221..=2720).contains(&p(4)) && n == 16,           // Mastercard 2-series
        b'3' => {
            let two = p(2);
            (two == 34 || two == 37) && n == 15 // Amex
                || (300..=305).contains(&p(3)) && (14..=19).contains(&n) // Diners
                || (two == 36 || two == 38 || two == 39) && (14..=19).contains(&n)
                || (3528..=3589).contains(&p(4)) && (16..=19).contains(&n) // JCB
        }
        b'6' => {
            (p(4) == 6011 || (644..=649).contains(&p(3)) || p(2) == 65 || p(2) == 62 || p(2) == 67)
                && (16..=19).contains(&n)
        }
        _ => false,
    }
}

/// Calls `found(start, end)` for each card number in `b`: 13 to 19 digits, in groups split
/// by single spaces or dashes, not inside a longer run of digits (letters around it do not
/// hide it), in an issuer's
/// range and passing the Luhn check. Linear: a run is read once, and each group start tries
/// at most 19 groups.
pub(crate) fn cards(b: &[u8], found: &mut dyn FnMut(usize, usize)) {
    // Only the runs of digits, spaces and dashes that can hold a card number are read digit
    // by digit (in most logs they are rare; timestamps, ids and VPC flow lines' numbers have
    // none).
    let (mut groups, mut digits) = (Vec::new(), Vec::new());
    card_runs(b, &mut |s, e| {
        cards_in(&b[s..e], &mut groups, &mut digits, &mut |cs, ce| {
            found(s + cs, s + ce)
        })
    });
}

const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// The card bytes (space, dash, digits) as bits of a word: all are below 64.
const CARD_BYTES: u64 = (1 << b' ') | (1 << b'-') | (0x3ff << b'0');

/// Whether `c` is a digit, a space or a dash, without a branch.
fn is_card_byte(c: u8) -> bool {
    (c < 64) & ((CARD_BYTES >> (c & 63)) & 1 == 1)
}

/// Calls `found(start, end)` for each maximal run of digits, spaces and dashes in `b` at
/// least 13 bytes long (the shortest card number) that can hold a card number, in order. On
/// x86_64 that is a run with a group of digits (after no digit) that starts one of the shapes
/// [`cards_in`] takes: 13 digits in a row, four groups `4-4-4-d`, or `4-6-4` (any separator);
/// [`cards_in`] finds nothing in any other run. Elsewhere the check is weaker
/// ([`may_hold_card`]), and runs over 64 bytes are not checked.
///
/// On x86_64, 64 bytes at a time with SSE2 (part of every x86_64 CPU): a mask of the block's
/// card bytes (four 16-byte compares), joined to the next block's in a 128-bit word, where
/// five shifts and ANDs leave the starts of 13 card bytes in a row. A block with none (nearly
/// all of them) costs one branch. Otherwise the masks of the digits give the shapes as shifts
/// and ANDs too; at a candidate, its run is read to both ends, eight bytes at a time, and
/// later candidates inside it are skipped. Elsewhere, the probing scan
/// ([`card_runs_probing`]) and the check of each run it finds.
pub(crate) fn card_runs(b: &[u8], found: &mut dyn FnMut(usize, usize)) {
    #[cfg(target_arch = "x86_64")]
    card_runs_sse2(b, found);
    #[cfg(not(target_arch = "x86_64"))]
    card_runs_probing(b, &mut |s, e| {
        if may_hold_card(&b[s..e]) {
            found(s, e)
        }
    });
}

/// The shortest card number, in bytes.
const CARD_MIN: usize = 13;

/// Bit `a` of the result: bits `a ..= a + 12` of `w` are all set.
#[cfg(target_arch = "x86_64")]
fn thirteen_from(w: u128) -> u128 {
    let two = w & (w >> 1);
    let four = two & (two >> 2);
    let eight = four & (four >> 4);
    eight & (four >> 8) & (w >> 12)
}

/// [`card_runs`] with SSE2.
#[cfg(target_arch = "x86_64")]
fn card_runs_sse2(b: &[u8], found: &mut dyn FnMut(usize, usize)) {
    if b.len() < CARD_MIN {
        return;
    }
    let mut pad = [0u8; 64];
    let blocks = Blocks::new(b, &mut pad);
    // The end of the last run read: candidates before it are in it.
    let mut done = 0;
    let mut card = blocks.masks::<false>(0).0;
    for k in 0..blocks.n {
        let card_next = blocks.masks::<false>(k + 1).0;
        // Bit `i` of the low half: byte `i` of this block; of the high half: of the next.
        let c = u128::from(card) | (u128::from(card_next) << 64);
        // Where rows of 13 card bytes start: every candidate starts one.
        let rows = thirteen_from(c) as u64;
        // Nearly every block has none.
        if rows != 0 {
            let (_, before) = blocks.masks::<true>(k.wrapping_sub(1));
            let (_, digits) = blocks.masks::<true>(k);
            let (_, next) = blocks.masks::<true>(k + 1);
            let d = u128::from(digits) | (u128::from(next) << 64);
            // Digit groups' starts: a digit after no digit.
            let u = u128::from(before) | (u128::from(digits) << 64);
            let starts = ((u & !(u << 1)) >> 64) as u64;
            let sep = c & !d;
            // Bit `i`: bits `i + from ..= i + to` of `m` are all set.
            let all = |m: u128, from: u32, to: u32| (from..=to).fold(!0u128, |a, j| a & (m >> j));
            // 4-4-4-1 at least, and 4-6-4 (see `grouped_as_cards_are`): both start with a
            // group of four and a separator.
            let first = all(d, 1, 3) & (sep >> 4);
            let fours =
                first & all(d, 5, 8) & (sep >> 9) & all(d, 10, 13) & (sep >> 14) & (d >> 15);
            let amex = first & all(d, 5, 10) & (sep >> 11) & all(d, 12, 15);
            let shapes = (fours | amex | thirteen_from(d)) as u64;
            let mut candidates = starts & rows & shapes;
            while candidates != 0 {
                let h = 64 * k + candidates.trailing_zeros() as usize;
                candidates &= candidates - 1;
                if h >= done {
                    let (s, e) = (card_start(b, h), card_end(b, h + 1));
                    found(s, e);
                    done = e;
                }
            }
        }
        card = card_next;
    }
}

/// A text as blocks of 64 bytes for [`card_masks`]; the last one is read where it ends (the
/// 64 bytes ending the text, or a zero-padded copy of a text shorter than that).
#[cfg(target_arch = "x86_64")]
struct Blocks<'a> {
    full: &'a [[u8; 64]],
    /// The last block when it is short: 64 bytes, and how far to shift their masks so that
    /// bit 0 stands for the block's first byte.
    last: Option<(&'a [u8; 64], u32)>,
    /// The number of blocks.
    n: usize,
}

#[cfg(target_arch = "x86_64")]
impl<'a> Blocks<'a> {
    /// `pad` holds a text shorter than a block.
    fn new(b: &'a [u8], pad: &'a mut [u8; 64]) -> Blocks<'a> {
        let (full, tail) = b.as_chunks::<64>();
        let last = match b.len().checked_sub(64) {
            _ if tail.is_empty() => None,
            Some(start) => b[start..]
                .first_chunk::<64>()
                .map(|block| (block, 64 - tail.len() as u32)),
            None => {
                pad[..tail.len()].copy_from_slice(tail);
                Some((&*pad, 0))
            }
        };
        Blocks {
            full,
            n: full.len() + usize::from(last.is_some()),
            last,
        }
    }

    /// [`card_masks`] of block `k` (with `DIGITS`, the digits too); none past either end.
    fn masks<const DIGITS: bool>(&self, k: usize) -> (u64, u64) {
        match (self.full.get(k), self.last) {
            (Some(block), _) => card_masks::<DIGITS>(block),
            (None, Some((block, shift))) if k == self.full.len() => {
                let (c, d) = card_masks::<DIGITS>(block);
                (c >> shift, d >> shift)
            }
            _ => (0, 0),
        }
    }
}

/// The card bytes (digits, space, dash) of `block`, and with `DIGITS` its digits: bit `k`
/// of each is set when byte `k` is one.
#[cfg(target_arch = "x86_64")]
fn card_masks<const DIGITS: bool>(block: &[u8; 64]) -> (u64, u64) {
    use safe_arch::{
        bitor_m128i, cmp_eq_mask_i8_m128i, m128i, min_u8_m128i, move_mask_i8_m128i,
        set_splat_i8_m128i, sub_i8_m128i,
    };
    let zero = set_splat_i8_m128i(b'0' as i8);
    let nine = set_splat_i8_m128i(9);
    let space = set_splat_i8_m128i(b' ' as i8);
    let dash = set_splat_i8_m128i(b'-' as i8);
    let (mut card, mut digits) = (0u64, 0u64);
    for (k, chunk) in block.as_chunks::<16>().0.iter().enumerate() {
        let v = m128i::from(*chunk);
        // A digit less `'0'` is at most 9 as an unsigned byte; nothing else is.
        let d = sub_i8_m128i(v, zero);
        let digit = cmp_eq_mask_i8_m128i(min_u8_m128i(d, nine), d);
        let sep = bitor_m128i(
            cmp_eq_mask_i8_m128i(v, space),
            cmp_eq_mask_i8_m128i(v, dash),
        );
        let bits = |m: m128i| u64::from(move_mask_i8_m128i(m) as u32 & 0xffff) << (16 * k);
        card |= bits(bitor_m128i(digit, sep));
        if DIGITS {
            digits |= bits(digit);
        }
    }
    (card, digits)
}

/// Every maximal run of card bytes at least 13 bytes long, without SIMD (what [`card_runs`]
/// checks further): most bytes are never read. A run of 13 holds one of any 13
/// consecutive bytes, so it holds one of the bytes at `12`, `25`, `38`, ... (the probes).
/// The probes are read first, a batch of 32 at a time, without a branch each: the card bytes
/// among them are written down (in text with digits here and there, one probe in five is
/// one: a branch on each would be mispredicted often). Then for each card byte found, a run
/// of 13 through it holds the 7 bytes that end at it or the 7 that start at it: when neither
/// are all card bytes (short numbers, hex ids, dates), there is none; otherwise its run is
/// read to both ends, eight bytes at a time, and reported when long enough. Probes inside a
/// run already read are skipped. (Probing one byte at a time with a branch each, four at a
/// time, or two consecutive bytes 12 apart cost more on the bench data.)
#[cfg(any(test, not(target_arch = "x86_64")))]
pub(crate) fn card_runs_probing(b: &[u8], found: &mut dyn FnMut(usize, usize)) {
    const MIN: usize = CARD_MIN;
    // 32 probes (416 bytes): most messages are one batch, and the list of the batch's probes
    // that found a card byte (their numbers in the batch) is small enough to clear inline
    // (64 positions as `usize` took a call to `memset` per message).
    const BATCH: usize = 32;
    let mut hits = [0u8; BATCH];
    // The end of the last run read: probes before it are in it.
    let mut done = 0;
    let mut p = MIN - 1;
    while p < b.len() {
        let first = p;
        let end = b.len().min(p + BATCH * MIN);
        let mut n = 0;
        let mut k = 0u8;
        while p < end {
            hits[n] = k;
            n += usize::from(is_card_byte(b[p]));
            p += MIN;
            k += 1;
        }
        for &k in &hits[..n] {
            let h = first + MIN * usize::from(k);
            if h < done {
                continue;
            }
            if h >= 7 && h + 8 <= b.len() {
                let left = non_card_bytes(word(b, h - 7)) & 0x8080_8080_8080_8000;
                let right = non_card_bytes(word(b, h)) & 0x0080_8080_8080_8080;
                if left != 0 && right != 0 {
                    continue;
                }
            }
            // The byte that ended the last run is none: the run does not reach back before
            // it.
            let s = card_start(b, h);
            let e = card_end(b, h + 1);
            if e - s >= MIN {
                found(s, e);
            }
            done = e;
        }
    }
}

/// Whether [`cards_in`] can find a card number in `run` (a run of card bytes): it needs a
/// group of four digits followed by one separator and a digit (the start of a number in
/// groups), or a group of 13 digits or more. Runs of up to 64 bytes are checked with a mask
/// of their digits, without a branch per byte or per group (a VPC flow line's numbers, such
/// as `22 34396 6 489 266805 1717200210 1717200270`, have neither); longer ones are
/// [`cards_in`]'s to read.
#[cfg(any(test, not(target_arch = "x86_64")))]
pub(crate) fn may_hold_card(run: &[u8]) -> bool {
    if run.len() > 64 {
        return true;
    }
    // Bit `k`: byte `k` is a digit (bytes past the run: none).
    let mut d = 0u64;
    for (k, chunk) in run.chunks(8).enumerate() {
        let mut w = [0u8; 8];
        w[..chunk.len()].copy_from_slice(chunk);
        let digits = !non_digits(u64::from_le_bytes(w)) & HIGHS;
        // The high bits gathered into the low eight, byte `i`'s into bit `i`.
        d |= ((digits >> 7).wrapping_mul(0x0102_0408_1020_4080) >> 56) << (8 * k);
    }
    let starts = d & !(d << 1);
    let four = starts & (d >> 1) & (d >> 2) & (d >> 3) & !(d >> 4) & (d >> 5);
    let mut long = d & (d >> 1);
    long &= long >> 2;
    long &= long >> 4;
    long &= long >> 5;
    (four | (starts & long)) != 0
}

/// The high bit of each byte of `w` that is no card byte (exact, no carries between bytes).
fn non_card_bytes(w: u64) -> u64 {
    let digits = !non_digits(w) & HIGHS;
    !(digits | zero_bytes(w ^ 0x2020_2020_2020_2020) | zero_bytes(w ^ 0x2d2d_2d2d_2d2d_2d2d))
        & HIGHS
}

/// The high bit of each zero byte of `x` (exact, no carries between bytes).
fn zero_bytes(x: u64) -> u64 {
    !(((x & LOW7) + LOW7) | x) & HIGHS
}

/// The eight bytes of `b` at `i` as a little-endian word.
fn word(b: &[u8], i: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[i..i + 8]);
    u64::from_le_bytes(w)
}

/// The first byte at or after `from` that is no card byte (or `b.len()`), eight bytes at a
/// time: most runs end within the first word, without a branch per byte.
fn card_end(b: &[u8], mut from: usize) -> usize {
    while from + 8 <= b.len() {
        let nc = non_card_bytes(word(b, from));
        if nc != 0 {
            return from + nc.trailing_zeros() as usize / 8;
        }
        from += 8;
    }
    while from < b.len() && is_card_byte(b[from]) {
        from += 1;
    }
    from
}

/// The start of the run of card bytes that ends at `to` (exclusive): the byte after the last
/// one before `to` that is no card byte (or 0), eight bytes at a time.
fn card_start(b: &[u8], mut to: usize) -> usize {
    while to >= 8 {
        let nc = non_card_bytes(word(b, to - 8));
        if nc != 0 {
            return to - nc.leading_zeros() as usize / 8;
        }
        to -= 8;
    }
    while to > 0 && is_card_byte(b[to - 1]) {
        to -= 1;
    }
    to
}

/// Whether digit groups (their byte ranges in `b`) are written as card numbers are: one
/// group, or one separator throughout with 4-4-4-4 (the last group of one to four digits:
/// 4-4-4-1, 4-4-4-4-3) or 4-6-5 and 4-6-4 (American Express, Diners). Numbers that merely
/// follow one another (a VPC flow log's bytes and start time, `444327 1717200210`) are not
/// one card, even when their digits would pass Luhn.
fn grouped_as_cards_are(b: &[u8], groups: &[(usize, usize)]) -> bool {
    let len = |g: &(usize, usize)| g.1 - g.0;
    let n = groups.len();
    if n == 1 {
        return true;
    }
    let sep = b[groups[0].1];
    if groups[..n - 1].iter().any(|g| b[g.1] != sep) || len(&groups[0]) != 4 {
        return false;
    }
    let amex = n == 3 && len(&groups[1]) == 6 && matches!(len(&groups[2]), 4 | 5);
    let fours =
        groups[1..n - 1].iter().all(|g| len(g) == 4) && (1..=4).contains(&len(&groups[n - 1]));
    amex || fours
}

/// [`cards`] within one run of card bytes; `groups` and `digits` are scratch space (kept
/// from run to run).
pub(crate) fn cards_in(
    b: &[u8],
    groups: &mut Vec<(usize, usize)>,
    digits: &mut Vec<u8>,
    found: &mut dyn FnMut(usize, usize),
) {
    let mut i = 0;
    while i < b.len() {
        match next_digit(b, i) {
            Some(d) => i = d,
            None => break,
        }
        // The run: digit groups separated by one space or dash.
        groups.clear();
        let mut j = i;
        let mut n = 0;
        let mut longest = 0;
        loop {
            let s = j;
            j = digits_end(b, j);
            groups.push((s, j));
            n += j - s;
            longest = longest.max(j - s);
            if j + 1 < b.len() && (b[j] == b' ' || b[j] == b'-') && b[j + 1].is_ascii_digit() {
                j += 1;
            } else {
                break;
            }
        }
        // Most runs (dates, times, counts, ids) are too short, or one group too long.
        if n >= 13 && (groups.len() > 1 || longest <= 19) {
            let mut g = 0;
            while g < groups.len() {
                // Issuers' numbers start with 2 to 6; a number of more than one group starts
                // with a group of four ([`grouped_as_cards_are`]), one of one group has 13 to
                // 19 digits.
                let first = groups[g].1 - groups[g].0;
                if !(b'2'..=b'6').contains(&b[groups[g].0])
                    || (first != 4 && !(13..=19).contains(&first))
                {
                    g += 1;
                    continue;
                }
                let mut end_group = None;
                digits.clear();
                for (k, &(s, e)) in groups[g..].iter().enumerate() {
                    if digits.len() + (e - s) > 19 {
                        break;
                    }
                    digits.extend_from_slice(&b[s..e]);
                    if digits.len() >= 13
                        && grouped_as_cards_are(b, &groups[g..=g + k])
                        && issuer(digits)
                        && luhn(digits)
                    {
                        end_group = Some(g + k);
                    }
                }
                if let Some(last) = end_group {
                    found(groups[g].0, groups[last].1);
                    g = last + 1;
                } else {
                    g += 1;
                }
            }
        }
        i = j;
    }
}

/// A mask with the high bit of each byte of `w` that is not an ASCII digit (exact, no
/// carries between bytes).
fn non_digits(w: u64) -> u64 {
    // A digit XOR 0x30 is below 10; adding 0x76 to the low seven bits sets the high bit of
    // those at 10 or more, and the XOR's own high bit stands for bytes of 0x80 or more.
    let t = w ^ 0x3030_3030_3030_3030;
    (((t & LOW7) + 0x7676_7676_7676_7676) | t) & HIGHS
}

/// The position of the first ASCII digit of `b` at or after `from`, eight bytes at a time.
pub(crate) fn next_digit(b: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while i + 8 <= b.len() {
        let w = u64::from_le_bytes(b[i..i + 8].try_into().expect("8 bytes"));
        let digits = !non_digits(w) & 0x8080_8080_8080_8080;
        if digits != 0 {
            return Some(i + digits.trailing_zeros() as usize / 8);
        }
        i += 8;
    }
    b[i..].iter().position(u8::is_ascii_digit).map(|p| i + p)
}

/// The position of the first byte of `b` at or after `from` that is not an ASCII digit (or
/// `b.len()`), eight bytes at a time.
fn digits_end(b: &[u8], from: usize) -> usize {
    let mut i = from;
    while i + 8 <= b.len() {
        let w = u64::from_le_bytes(b[i..i + 8].try_into().expect("8 bytes"));
        let other = non_digits(w);
        if other != 0 {
            return i + other.trailing_zeros() as usize / 8;
        }
        i += 8;
    }
    b[i..]
        .iter()
        .position(|c| !c.is_ascii_digit())
        .map_or(b.len(), |p| i + p)
}
