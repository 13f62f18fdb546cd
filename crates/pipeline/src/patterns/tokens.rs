//! A message as the miner sees it: a bounded list of tokens with the variable parts masked by
//! built-in token classes, the same for every log group.
//!
//! - **Text**: split on ASCII whitespace. A token (without its opening brackets and quotes and
//!   its closing punctuation) is a variable when it holds a digit (numbers, hex, UUIDs, IPs,
//!   times, dates, versions, ids such as `blk_-123` or `node-12`), is a path (`/x`, `~/x`,
//!   `C:\x`) or a URL (`scheme://`), or names a day or a month. `key=value` keeps its key
//!   (`status=<*>`), `key:value` too when the value is a variable (`PendingReds:<*>`); dot
//!   leaders keep their label (`icbi.........<*>`). A unit after a number joins it
//!   (`384.0 KB` -> `<*>`), a time zone after a variable too; a quoted string over several
//!   tokens is one variable; consecutive variables are one.
//! - **JSON objects** (`{...}`, also after a Lambda runtime prefix
//!   `TIMESTAMP\tREQUEST_ID\tLEVEL\t`): the template is over keys and value types
//!   (`count=<num>`), nested objects flattened (`a.b=<str>`), except the level keys, whose
//!   value is kept (`level=ERROR`), and the message keys (`msg`, `message`, `error`, ...),
//!   whose text is masked like a plain message (`msg=" user <*> logged in "`).
//! - **Bounds**: at most [`MAX_SCAN_BYTES`] of a message are read, at most [`MAX_TOKENS`]
//!   tokens kept (a cut message ends in `<*>`), a token longer than [`MAX_TOKEN_BYTES`] is a
//!   variable; JSON is parsed only up to [`MAX_JSON_BYTES`], [`MAX_JSON_DEPTH`] levels and
//!   [`MAX_JSON_FIELDS`] fields.

use std::borrow::Cow;

/// The wildcard: a variable part of a template.
pub const WILD: &str = "<*>";
/// Bytes of a message read; the rest is one variable.
pub const MAX_SCAN_BYTES: usize = 16 * 1024;
/// Tokens kept per message; the rest is one variable.
pub const MAX_TOKENS: usize = 96;
/// A longer token is a variable.
pub const MAX_TOKEN_BYTES: usize = 96;
/// A JSON message longer than this is read as text.
pub const MAX_JSON_BYTES: usize = 64 * 1024;
/// Nested objects deeper than this are one `<object>` value.
pub const MAX_JSON_DEPTH: usize = 4;
/// Fields of a JSON message beyond this are one trailing variable.
pub const MAX_JSON_FIELDS: usize = 48;
/// A quoted string spanning more tokens than this is not taken as one.
const MAX_QUOTED_TOKENS: usize = 16;

/// Keys whose string value is the message text: masked and kept, not reduced to its type.
pub(super) const MESSAGE_KEYS: &[&str] = &[
    "msg",
    "message",
    "error",
    "err",
    "errormessage",
    "error_message",
    "reason",
    "event",
];
/// Keys whose short value is kept as a constant.
pub(super) const LEVEL_KEYS: &[&str] = &[
    "level",
    "severity",
    "lvl",
    "loglevel",
    "log_level",
    "levelname",
];

/// Units that join the number before them.
const UNITS: [&str; 24] = [
    "b", "kb", "mb", "gb", "tb", "kib", "mib", "gib", "tib", "bytes", "ms", "us", "µs", "ns", "s",
    "sec", "secs", "seconds", "min", "mins", "minutes", "h", "hours", "%",
];
/// Time zones that join the variable before them.
const ZONES: [&str; 16] = [
    "utc", "gmt", "z", "est", "edt", "cst", "cdt", "mst", "mdt", "pst", "pdt", "cet", "cest",
    "bst", "ist", "jst",
];
/// Day and month names: parts of dates.
const DATE_WORDS: [&str; 37] = [
    "mon",
    "tue",
    "wed",
    "thu",
    "fri",
    "sat",
    "sun",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
    "jan",
    "feb",
    "mar",
    "apr",
    "may",
    "jun",
    "jul",
    "aug",
    "sep",
    "oct",
    "nov",
    "dec",
    "january",
    "february",
    "march",
    "april",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

/// The tokens of `message`, variables masked.
pub fn tokenize(message: &str) -> Vec<Cow<'_, str>> {
    let mut out = Vec::new();
    let trimmed = message.trim_ascii();
    if let Some((prefix, rest)) = lambda_prefix(trimmed)
        && looks_like_object(rest)
        && json_tokens(rest, false, &mut out)
    {
        out.splice(0..0, prefix);
        return out;
    }
    if looks_like_object(trimmed) && json_tokens(trimmed, true, &mut out) {
        return out;
    }
    out.clear();
    if let Some((action, status)) = vpc_flow_default(trimmed) {
        out.extend(vpc_flow_tokens(action, status));
        return out;
    }
    text_tokens(trimmed, &mut out);
    out
}

/// The first token of a CloudTrail record's fixed template.
pub(super) const CLOUDTRAIL: &str = "cloudtrail";
/// The first token of a VPC flow log record's fixed template.
pub(super) const VPC_FLOW: &str = "vpc-flow";
/// The top-level keys of a CloudTrail record whose values make its fixed template, in the
/// template's order (`errorCode` only when the record has one).
pub(super) const CLOUDTRAIL_KEYS: [&str; 3] = ["eventSource", "eventName", "errorCode"];
/// The longest value a fixed template takes as is (a longer one: not a fixed template).
pub(super) const MAX_FIXED_VALUE: usize = 128;

/// Whether `v` may stand in a fixed template: 1 to [`MAX_FIXED_VALUE`] bytes, none of them
/// whitespace, a control character, a quote or a backslash.
pub(super) fn fixed_value_ok(v: &[u8]) -> bool {
    !v.is_empty()
        && v.len() <= MAX_FIXED_VALUE
        && v.iter()
            .all(|&c| c > b' ' && c != b'"' && c != b'\\' && c != 0x7f)
}

/// Whether `tokens` are a fixed template (a CloudTrail record's or a VPC flow log record's):
/// such a template matches only the same tokens and is never generalised.
pub(super) fn is_fixed<S: AsRef<str>>(tokens: &[S]) -> bool {
    let t = |i: usize| tokens.get(i).map_or("", AsRef::as_ref);
    match t(0) {
        CLOUDTRAIL => {
            (3..=4).contains(&tokens.len())
                && t(1).starts_with("eventSource=")
                && t(2).starts_with("eventName=")
                && (tokens.len() == 3 || t(3).starts_with("errorCode="))
        }
        VPC_FLOW => {
            tokens.len() == 3 && t(1).starts_with("action=") && t(2).starts_with("log-status=")
        }
        _ => false,
    }
}

/// A VPC flow log record in the default format (version 2: fourteen fields, one space
/// between them, as AWS writes them): its action and log status, when they are ones AWS
/// writes (`ACCEPT`, `REJECT` or `-`; `OK`, `NODATA` or `SKIPDATA`).
///
/// The cheap refusals are inlined into every caller (most messages are not such records); the
/// record is read out of line.
#[inline(always)]
pub(super) fn vpc_flow_default(s: &str) -> Option<(&str, &str)> {
    let b = s.as_bytes();
    if b.len() < 28 || b.len() > 1024 || !b.starts_with(b"2 ") {
        return None;
    }
    vpc_flow_fields(s)
}

/// [`vpc_flow_default`] past its cheap refusals.
fn vpc_flow_fields(s: &str) -> Option<(&str, &str)> {
    let b = s.as_bytes();
    // A byte loop: the record is short and its spaces close together.
    let mut spaces = b
        .iter()
        .enumerate()
        .filter(|(_, c)| **c == b' ')
        .map(|(i, _)| i);
    let mut at = [0usize; 13];
    for a in &mut at {
        *a = spaces.next()?;
    }
    if spaces.next().is_some() || at.windows(2).any(|w| w[1] == w[0] + 1) {
        return None;
    }
    let (action, status) = (&s[at[11] + 1..at[12]], &s[at[12] + 1..]);
    (matches!(action, "ACCEPT" | "REJECT" | "-") && matches!(status, "OK" | "NODATA" | "SKIPDATA"))
        .then_some((action, status))
}

/// The tokens of a fixed template from its cache key (a VPC flow log record's, written by
/// [`skeleton`], or a CloudTrail record's, by the skeleton's `Trail`): no need to read the
/// message again. `None` for any other key.
pub(super) fn fixed_key_tokens(key: &[u8]) -> Option<Vec<Cow<'static, str>>> {
    let rest = key.strip_prefix(&[0xff])?;
    let (kind, rest) = rest.split_first()?;
    let mut parts = rest.split(|&b| b == 0xff).map(std::str::from_utf8);
    let mut next = || parts.next().and_then(Result::ok);
    match kind {
        b'v' => {
            let (action, status) = (next()?, next()?);
            Some(
                vpc_flow_tokens(action, status)
                    .into_iter()
                    .map(own)
                    .collect(),
            )
        }
        b'c' => {
            let mut out = vec![
                Cow::Borrowed(CLOUDTRAIL),
                own(keyed("eventSource=", next()?)),
                own(keyed("eventName=", next()?)),
            ];
            if let Some(error) = next() {
                out.push(own(keyed("errorCode=", error)));
            }
            Some(out)
        }
        _ => None,
    }
}

/// The tokens of a text message from its skeleton key (each token's bytes, then `0xff`, as
/// [`skeleton`] writes them for text): the tokens [`tokenize`] gives the message, without
/// scanning it again. `None` for any other key (a JSON skeleton starts with a structure tag, a
/// fixed template's key with `0xff`; no token starts with either).
pub(super) fn text_key_tokens(key: &[u8]) -> Option<Vec<Cow<'_, str>>> {
    if key.first().is_some_and(|&b| b >= 0xf5) {
        return None;
    }
    let Some(body) = key.strip_suffix(&[0xff]) else {
        return key.is_empty().then(Vec::new);
    };
    body.split(|&b| b == 0xff)
        .map(|t| std::str::from_utf8(t).ok().map(Cow::Borrowed))
        .collect()
}

fn own(c: Cow<'_, str>) -> Cow<'static, str> {
    Cow::Owned(c.into_owned())
}

fn vpc_flow_tokens<'a>(action: &str, status: &str) -> [Cow<'a, str>; 3] {
    [
        Cow::Borrowed(VPC_FLOW),
        keyed("action=", action),
        keyed("log-status=", status),
    ]
}

fn looks_like_object(s: &str) -> bool {
    s.len() <= MAX_JSON_BYTES && s.starts_with('{') && s.ends_with('}')
}

/// `TIMESTAMP\tREQUEST_ID\tLEVEL\tREST` as the Lambda runtimes print it: the prefix's tokens
/// (the time and request id one variable, then the level) and the rest.
fn lambda_prefix(s: &str) -> Option<([Cow<'static, str>; 2], &str)> {
    let (level, rest) = lambda_split(s)?;
    Some(([Cow::Borrowed(WILD), Cow::Owned(level.to_string())], rest))
}

/// The level and the rest of a Lambda runtime line (see [`lambda_prefix`]).
///
/// The cheap refusal is inlined into every caller: most messages are not runtime lines, whose
/// time starts with four digits.
#[inline(always)]
fn lambda_split(s: &str) -> Option<(&str, &str)> {
    if !s
        .as_bytes()
        .get(..4)
        .is_some_and(|d| d.iter().all(u8::is_ascii_digit))
    {
        return None;
    }
    lambda_fields(s)
}

/// [`lambda_split`] past its cheap refusal.
fn lambda_fields(s: &str) -> Option<(&str, &str)> {
    if !s.as_bytes().contains(&b'\t') {
        return None;
    }
    let mut parts = s.splitn(4, '\t');
    let (time, id, level, rest) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let ok = time.len() >= 10
        && time.as_bytes()[..4].iter().all(u8::is_ascii_digit)
        && id.len() <= 64
        && id.bytes().any(|b| b.is_ascii_digit())
        && !level.is_empty()
        && level.len() <= 8
        && level.bytes().all(|b| b.is_ascii_uppercase());
    ok.then(|| (level, rest.trim_start()))
}

/// Splits a token into its opening brackets and quotes, its core, and its closing punctuation
/// (a closing bracket only when the core does not open it).
#[inline(always)]
fn split3(tok: &str) -> (&str, &str, &str) {
    let b = tok.as_bytes();
    // Most tokens neither open nor close with punctuation.
    if let (Some(f), Some(l)) = (b.first(), b.last())
        && (f.is_ascii_alphanumeric() || *f >= 0x80)
        && (l.is_ascii_alphanumeric() || *l >= 0x80)
    {
        return ("", tok, "");
    }
    let mut i = 0;
    while i < b.len() && matches!(b[i], b'(' | b'[' | b'{' | b'<' | b'"' | b'\'') {
        i += 1;
    }
    let mut j = b.len();
    while j > i {
        let c = b[j - 1];
        let closes = match c {
            b',' | b';' | b':' | b'.' | b'!' | b'?' | b'"' | b'\'' => true,
            b')' => !b[i..j - 1].contains(&b'('),
            b']' => !b[i..j - 1].contains(&b'['),
            b'}' => !b[i..j - 1].contains(&b'{'),
            b'>' => !b[i..j - 1].contains(&b'<'),
            _ => false,
        };
        if !closes {
            break;
        }
        j -= 1;
    }
    (&tok[..i], &tok[i..j], &tok[j..])
}

/// Up to 15 bytes, lowercased, in one integer with their length: words compare as integers.
const fn pack(w: &[u8]) -> u128 {
    let mut x = w.len() as u128;
    let mut i = 0;
    while i < w.len() && i < 15 {
        x |= (w[i].to_ascii_lowercase() as u128) << (8 * (i + 1));
        i += 1;
    }
    x
}

/// The words packed, sorted (for [`is_word_in`]'s binary search).
const fn pack_all<const N: usize>(words: &[&str; N]) -> [u128; N] {
    let mut out = [0u128; N];
    let mut i = 0;
    while i < N {
        out[i] = pack(words[i].as_bytes());
        // Insertion sort: a few dozen words, at compile time.
        let mut j = i;
        while j > 0 && out[j - 1] > out[j] {
            let t = out[j];
            out[j] = out[j - 1];
            out[j - 1] = t;
            j -= 1;
        }
        i += 1;
    }
    out
}

/// Whether `w` (at most 15 bytes) is, ignoring ASCII case, one of the packed `words` (as
/// [`pack_all`] sorts them).
fn is_word_in(w: &[u8], words: &[u128]) -> bool {
    w.len() <= 15 && words.binary_search(&pack(w)).is_ok()
}

/// Whether a token's core is a variable by its class.
fn is_variable(core: &str) -> bool {
    let b = core.as_bytes();
    let mut colon = false;
    for &c in b {
        if c.is_ascii_digit() {
            return true;
        }
        colon |= c == b':';
    }
    let Some(&first) = b.first() else {
        return false;
    };
    if (b.len() > 1 && first == b'/') || (first == b'~' && b.get(1) == Some(&b'/')) {
        return true;
    }
    if colon {
        if b.len() > 2 && first.is_ascii_alphabetic() && b[1] == b':' && b[2] == b'\\' {
            return true;
        }
        if b.windows(3).any(|w| w == b"://") {
            return true;
        }
    }
    is_date_word(b)
}

fn is_date_word(b: &[u8]) -> bool {
    static PACKED: [u128; DATE_WORDS.len()] = pack_all(&DATE_WORDS);
    // Every day and month name starts with one of these letters.
    matches!(b.len(), 3 | 5..=9)
        && matches!(
            b[0].to_ascii_lowercase(),
            b'm' | b't' | b'w' | b'f' | b's' | b'j' | b'a' | b'n' | b'o' | b'd'
        )
        && is_word_in(b, &PACKED)
}

/// The length of `key` in `key<sep>...`: a letter or `_`, then letters, `_ . -` (and digits
/// before `=`).
fn key_len(core: &str, sep: u8) -> Option<usize> {
    let b = core.as_bytes();
    if !(b.first()?.is_ascii_alphabetic() || b[0] == b'_') {
        return None;
    }
    for (i, &c) in b.iter().enumerate().skip(1) {
        if c == sep {
            return Some(i);
        }
        // `r24=` is a key, `Interconnect-0T00:` is not.
        let digit_ok = sep == b'=' && c.is_ascii_digit();
        if !(c.is_ascii_alphabetic() || digit_ok || matches!(c, b'_' | b'.' | b'-')) {
            return None;
        }
    }
    None
}

/// A token as the parts it is written with (slices of the message and [`WILD`]s): masking
/// never allocates.
#[derive(Clone, Copy)]
struct Parts<'a> {
    p: [&'a str; 5],
    n: usize,
}

impl<'a> Parts<'a> {
    fn one(s: &'a str) -> Parts<'a> {
        Parts {
            p: [s, "", "", "", ""],
            n: 1,
        }
    }

    fn of(parts: &[&'a str]) -> Parts<'a> {
        let mut p = [""; 5];
        let mut n = 0;
        for s in parts.iter().filter(|s| !s.is_empty()) {
            p[n] = s;
            n += 1;
        }
        Parts { p, n }
    }

    fn is_wild(&self) -> bool {
        self.n == 1 && self.p[0] == WILD
    }

    fn as_slice(&self) -> &[&'a str] {
        &self.p[..self.n]
    }
}

/// One token, masked.
fn mask(tok: &str) -> Parts<'_> {
    // Fast paths: a word (with one closing punctuation mark) and a plain number.
    let b = tok.as_bytes();
    let word = match b.last() {
        Some(b',' | b'.' | b':' | b';') => &b[..b.len() - 1],
        _ => b,
    };
    if !word.is_empty() && word.len() <= MAX_TOKEN_BYTES && word.iter().all(u8::is_ascii_alphabetic)
    {
        if is_date_word(word) {
            return Parts::of(&[WILD, &tok[word.len()..]]);
        }
        return Parts::one(tok);
    }
    if b.iter().all(|c| c.is_ascii_digit() || *c == b'.')
        && b.first().is_some_and(u8::is_ascii_digit)
        && b.last().is_some_and(u8::is_ascii_digit)
    {
        return Parts::one(WILD);
    }
    let (lead, core, trail) = split3(tok);
    if core.is_empty() {
        return Parts::one(if tok.len() > MAX_TOKEN_BYTES {
            WILD
        } else {
            tok
        });
    }
    if core.len() > MAX_TOKEN_BYTES {
        return Parts::of(&[lead, WILD, trail]);
    }
    if let Some(k) = key_len(core, b'=') {
        if k + 1 == core.len() {
            return Parts::one(tok);
        }
        return Parts::of(&[lead, &core[..=k], WILD, trail]);
    }
    if let Some(k) = key_len(core, b':') {
        let value = &core[k + 1..];
        if !value.is_empty() && !value.starts_with(['/', '\\']) && is_variable(value) {
            return Parts::of(&[lead, &core[..=k], WILD, trail]);
        }
    }
    let b = core.as_bytes();
    if let Some(at) = b.windows(3).position(|w| w == b"...")
        && at > 0
    {
        let end = at + b[at..].iter().take_while(|&&c| c == b'.').count();
        let (left, dots, right) = (&core[..at], &core[at..end], &core[end..]);
        if is_variable(left) || is_variable(right) {
            let (l, r) = (
                if is_variable(left) { WILD } else { left },
                if is_variable(right) { WILD } else { right },
            );
            return Parts {
                p: [lead, l, dots, r, trail],
                n: 5,
            }
            .compact();
        }
        return Parts::one(tok);
    }
    if is_variable(core) {
        return Parts::of(&[lead, WILD, trail]);
    }
    Parts::one(tok)
}

impl<'a> Parts<'a> {
    fn compact(self) -> Parts<'a> {
        Parts::of(&self.p[..self.n])
    }
}

/// The largest index `<= at` on a char boundary of `s`.
fn floor_boundary(s: &str, mut at: usize) -> usize {
    if at >= s.len() {
        return s.len();
    }
    while !s.is_char_boundary(at) {
        at -= 1;
    }
    at
}

/// Whether a token's core joins the variable before it (a unit, a time zone).
fn joins_variable(core: &str) -> bool {
    let b = core.as_bytes();
    static PACKED_UNITS: [u128; UNITS.len()] = pack_all(&UNITS);
    static PACKED_ZONES: [u128; ZONES.len()] = pack_all(&ZONES);
    !b.is_empty() && b.len() <= 7 && (is_word_in(b, &PACKED_UNITS) || is_word_in(b, &PACKED_ZONES))
}

/// Byte classes of [`CLASS`].
const C_WS: u8 = 1;
const C_DIGIT: u8 = 2;
const C_EQ: u8 = 4;
const C_COLON: u8 = 8;
const C_SLASH: u8 = 16;
const C_DOT: u8 = 32;
/// Anything but a letter or one of the above (brackets, quotes, `-`, `~`, `\`, non-ASCII).
const C_OTHER: u8 = 64;

/// The class of each byte (letters: 0).
static CLASS: [u8; 256] = {
    let mut t = [C_OTHER; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        t[c] = match b {
            b' ' | b'\t' | b'\n' | 0x0c | b'\r' => C_WS,
            b'0'..=b'9' => C_DIGIT,
            b'a'..=b'z' | b'A'..=b'Z' => 0,
            b'=' => C_EQ,
            b':' => C_COLON,
            b'/' => C_SLASH,
            b'.' => C_DOT,
            _ => C_OTHER,
        };
        c += 1;
    }
    t
};

/// The tokens of a text (split on ASCII whitespace, as `split_ascii_whitespace`), each with
/// the classes of its bytes, found in one pass.
#[derive(Clone)]
struct Words<'a> {
    s: &'a str,
    i: usize,
}

impl<'a> Words<'a> {
    /// The tokens of `s`.
    fn new(s: &'a str) -> Words<'a> {
        let mut w = Words { s, i: 0 };
        w.skip_space();
        w
    }

    /// Past the whitespace at `i`: the next token starts there (the invariant between calls).
    #[inline(always)]
    fn skip_space(&mut self) {
        let b = self.s.as_bytes();
        while self.i < b.len() && CLASS[b[self.i] as usize] == C_WS {
            self.i += 1;
        }
    }

    /// The first byte of the next token, without taking it.
    #[inline(always)]
    fn peek_byte(&self) -> Option<u8> {
        self.s.as_bytes().get(self.i).copied()
    }
}

impl<'a> Iterator for Words<'a> {
    type Item = (&'a str, u8);

    #[inline(always)]
    fn next(&mut self) -> Option<(&'a str, u8)> {
        let b = self.s.as_bytes();
        let mut i = self.i;
        if i >= b.len() {
            return None;
        }
        let start = i;
        // The end: eight bytes at a time to one at or below a space, then a byte at a time
        // (a control character that is not whitespace belongs to the token).
        const ONES: u64 = 0x0101_0101_0101_0101;
        i += 1;
        loop {
            while i + 8 <= b.len() {
                let mut w = [0u8; 8];
                w.copy_from_slice(&b[i..i + 8]);
                let w = u64::from_le_bytes(w);
                let low = w.wrapping_sub(ONES * 0x21) & !w & (ONES * 0x80);
                if low != 0 {
                    i += (low.trailing_zeros() / 8) as usize;
                    break;
                }
                i += 8;
            }
            while i < b.len() && b[i] > b' ' {
                i += 1;
            }
            if i == b.len() || CLASS[b[i] as usize] == C_WS {
                break;
            }
            i += 1;
        }
        let mut cls = 0;
        for &c in &b[start..i] {
            cls |= CLASS[c as usize];
        }
        self.i = i;
        self.skip_space();
        // Whitespace is ASCII: both ends are on char boundaries.
        Some((&self.s[start..i], cls))
    }
}

/// Whether `b` holds `...`.
#[inline]
fn has_leader(b: &[u8]) -> bool {
    b.windows(3)
        .any(|w| w[0] == b'.' && w[1] == b'.' && w[2] == b'.')
}

/// [`mask`], first sorting the token by the classes of its bytes (`cls`, from [`Words`]):
/// most tokens need one look at their ends, not each of `mask`'s scans. The same answers.
#[inline(always)]
fn mask_classed(tok: &str, cls: u8) -> Parts<'_> {
    if tok.len() > MAX_TOKEN_BYTES
        || cls & C_EQ != 0
        || (cls & C_DOT != 0 && has_leader(tok.as_bytes()))
    {
        return mask(tok);
    }
    // No `key=` and no dot leaders from here on.
    if cls & C_DIGIT != 0 {
        // A variable (its core, never empty: a digit is in it), unless it is `key:<value>`.
        let (lead, core, trail) = split3(tok);
        if cls & C_COLON != 0
            && let Some(k) = key_len(core, b':')
        {
            let value = &core[k + 1..];
            if !value.is_empty() && !value.starts_with(['/', '\\']) && is_variable(value) {
                return Parts::of(&[lead, &core[..=k], WILD, trail]);
            }
        }
        return Parts::of(&[lead, WILD, trail]);
    }
    if cls & C_COLON != 0 {
        return mask(tok);
    }
    // A word, or a path: a variable when it is a path or names a day or a month.
    let core = if cls & (C_OTHER | C_DOT | C_SLASH) == 0 {
        tok
    } else {
        split3(tok).1
    };
    let b = core.as_bytes();
    let path = cls & C_SLASH != 0
        && ((b.len() > 1 && b[0] == b'/') || (b.len() > 1 && b[0] == b'~' && b[1] == b'/'));
    if path || is_date_word(b) {
        let (lead, _, trail) = split3(tok);
        return Parts::of(&[lead, WILD, trail]);
    }
    Parts::one(tok)
}

/// Whether `tok` (of classes `cls`) masks to [`WILD`] alone: it holds a digit, no `key=`,
/// `key:` or dot leaders, and neither opens nor closes with punctuation (what
/// [`mask_classed`] answers for it).
#[inline(always)]
fn is_plain_variable(tok: &str, cls: u8) -> bool {
    let b = tok.as_bytes();
    cls & (C_DIGIT | C_EQ | C_COLON) == C_DIGIT
        && b.len() <= MAX_TOKEN_BYTES
        && (cls & C_DOT == 0 || !has_leader(b))
        && b.first()
            .is_some_and(|&f| f.is_ascii_alphanumeric() || f >= 0x80)
        && b.last()
            .is_some_and(|&l| l.is_ascii_alphanumeric() || l >= 0x80)
}

/// Whether the next token may be a unit or a time zone joining a variable before it: it
/// starts with a letter, `%` or `µ`.
#[inline(always)]
fn unit_may_follow(toks: &Words<'_>) -> bool {
    toks.peek_byte()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'%' || b == 0xc2)
}

/// Scans a text message and calls `emit` with each token's parts, in order: the tokens of
/// [`tokenize`], without allocating. Consecutive variables are one; at most [`MAX_TOKENS`].
pub(super) fn scan_text<'a>(message: &'a str, emit: &mut impl FnMut(&[&'a str])) {
    let cut = floor_boundary(message, MAX_SCAN_BYTES);
    let mut toks = Words::new(&message[..cut]);
    // (tokens written, whether the last one is a variable)
    let mut st = (0usize, false);
    let mut out = |parts: &Parts<'a>, st: &mut (usize, bool)| {
        let wild = parts.is_wild();
        if wild && st.1 {
            return;
        }
        st.1 = wild;
        st.0 += 1;
        emit(parts.as_slice());
    };
    while let Some((tok, cls)) = toks.next() {
        if st.0 >= MAX_TOKENS {
            out(&Parts::one(WILD), &mut st);
            return;
        }
        // A quoted string over several tokens is one variable.
        let q = tok.as_bytes()[0];
        if (q == b'"' || q == b'\'') && !(tok.len() > 1 && split3(tok).2.as_bytes().contains(&q)) {
            let mut ahead = toks.clone();
            let mut found = None;
            for _ in 1..MAX_QUOTED_TOKENS {
                let Some((next, _)) = ahead.next() else { break };
                let t = next.trim_end_matches([',', ';', '.', ')', ']', '}', ':']);
                if t.as_bytes().last() == Some(&q) {
                    found = Some(next);
                    break;
                }
            }
            if let Some(last) = found {
                toks = ahead;
                let close = last
                    .as_bytes()
                    .iter()
                    .rposition(|&c| c == q)
                    .map_or(last.len(), |p| p + 1);
                out(&Parts::of(&[WILD, &last[close..]]), &mut st);
                continue;
            }
        }
        // The commonest token of all, a plain variable (a number, an id): after another
        // variable, nothing to write unless a unit joins it.
        if st.1 && is_plain_variable(tok, cls) && !unit_may_follow(&toks) {
            continue;
        }
        let masked = mask_classed(tok, cls);
        // A unit or a time zone (a letter, `%` or `µ` first) joins the variable before it.
        if masked.is_wild() && unit_may_follow(&toks) {
            let mut ahead = toks.clone();
            if let Some((next, _)) = ahead.next() {
                let (lead, core, trail) = split3(next);
                if lead.is_empty() && joins_variable(core) {
                    toks = ahead;
                    out(&Parts::of(&[WILD, trail]), &mut st);
                    continue;
                }
            }
        }
        out(&masked, &mut st);
    }
    if cut < message.len() {
        out(&Parts::one(WILD), &mut st);
    }
}

fn text_tokens<'a>(message: &'a str, out: &mut Vec<Cow<'a, str>>) {
    scan_text(message, &mut |parts| {
        out.push(match parts {
            [one] => Cow::Borrowed(*one),
            _ => Cow::Owned(parts.concat()),
        })
    });
}

/// Writes the skeleton of `message` to `key` (for text, each token's bytes, then `0xff`, a
/// byte UTF-8 never holds; for a JSON object, its [`super::skeleton::json_skeleton`]): equal
/// keys, equal token lists. Returns the tokens when they had to be built (a JSON message the
/// skeleton scan gave up on); otherwise scans without allocating, and [`tokenize`] is for a
/// cache miss. Keys longer than `max` are not cached: they may be left unfinished.
pub(crate) fn skeleton<'a>(
    message: &'a str,
    key: &mut Vec<u8>,
    max: usize,
) -> Option<Vec<Cow<'a, str>>> {
    key.clear();
    let trimmed = message.trim_ascii();
    let object = match lambda_split(trimmed) {
        Some((level, rest)) if looks_like_object(rest) => Some((Some(level), rest)),
        _ if looks_like_object(trimmed) => Some((None, trimmed)),
        _ => None,
    };
    if let Some((level, object)) = object {
        if super::skeleton::json_skeleton(level, object, key, max) {
            return None;
        }
        key.clear();
        let tokens = tokenize(message);
        for t in &tokens {
            key.extend_from_slice(t.as_bytes());
            key.push(0xff);
        }
        return Some(tokens);
    }
    if let Some((action, status)) = vpc_flow_default(trimmed) {
        // No text key starts with 0xff (tokens are never empty), no JSON key with 0xff.
        key.extend_from_slice(&[0xff, b'v']);
        key.extend_from_slice(action.as_bytes());
        key.push(0xff);
        key.extend_from_slice(status.as_bytes());
        return None;
    }
    scan_text(trimmed, &mut |parts| {
        for p in parts {
            key.extend_from_slice(p.as_bytes());
        }
        key.push(0xff);
    });
    None
}

/// The key of a group's repeat cache for `message`: messages with equal keys have equal
/// skeletons (see [`skeleton`]). For a message [`skeleton`] reads as text (not a JSON object,
/// also after a Lambda runtime prefix; not a VPC flow log record) of at most
/// [`MAX_SCAN_BYTES`] and without `=`, it is written into `out`: a `0xfe` tag (no UTF-8 text
/// holds that byte), then the message with every ASCII digit written `0`. `None` for any other
/// message: its key is its own bytes.
///
/// Why equal keys give equal skeletons: the text scan reads a digit only for its class (its
/// tokens split on whitespace; a token holding a digit is a variable, or `key:` and a
/// variable with a key that holds no digit), never for its value, and writes no digit into
/// the skeleton but through a `key=` (so no `=`). Equal keys have equal lengths, so the
/// bounds (token length, the scan's cut, which the length bound rules out anyway) fall alike.
/// The text-or-not decision reads digits' values only for a VPC flow log record's version,
/// and such records have no key here. `repeat_keys_give_equal_skeletons` tries it.
pub(crate) fn repeat_key<'k>(message: &str, out: &'k mut Vec<u8>) -> Option<&'k [u8]> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = ONES * 0x80;
    let b = message.as_bytes();
    if b.len() > MAX_SCAN_BYTES {
        return None;
    }
    let trimmed = message.trim_ascii();
    let object = trimmed.starts_with('{')
        || lambda_split(trimmed).is_some_and(|(_, rest)| rest.starts_with('{'));
    if object || vpc_flow_default(trimmed).is_some() {
        return None;
    }
    out.clear();
    out.resize(b.len() + 1, 0);
    out[0] = 0xfe;
    let mut words = b.chunks_exact(8);
    let mut keys = out[1..].chunks_exact_mut(8);
    for (word, key) in (&mut words).zip(&mut keys) {
        let mut w = [0u8; 8];
        w.copy_from_slice(word);
        let x = u64::from_le_bytes(w);
        let eq = x ^ (ONES * u64::from(b'='));
        if eq.wrapping_sub(ONES) & !eq & HIGH != 0 {
            return None;
        }
        // Each byte with its high bit set, so that no subtraction borrows from the next one:
        // the high bit then tells `byte & 0x7f >= 0x30` (and `>= 0x3a`); ASCII bytes only.
        let set = x | HIGH;
        let digit = set.wrapping_sub(ONES * 0x30) & !set.wrapping_sub(ONES * 0x3a) & !x & HIGH;
        let m = (digit >> 7) * 0xff;
        key.copy_from_slice(&((x & !m) | (m & (ONES * u64::from(b'0')))).to_le_bytes());
    }
    for (&c, k) in words.remainder().iter().zip(keys.into_remainder()) {
        if c == b'=' {
            return None;
        }
        *k = if c.is_ascii_digit() { b'0' } else { c };
    }
    Some(out)
}

fn push<'a>(out: &mut Vec<Cow<'a, str>>, tok: Cow<'a, str>) {
    if tok == WILD && out.last().is_some_and(|l| l == WILD) {
        return;
    }
    out.push(tok);
}

/// The tokens of a JSON object message; `false` (and `out` partly written) when it is not one.
///
/// The message is read once into a light tree of its own ([`Node`]: keys and strings borrowed
/// where they hold no escape, arrays and objects past [`MAX_JSON_DEPTH`] skipped without
/// being built), with the members of each object in key order and the last of duplicate
/// keys kept, as a `serde_json::Value` map has them.
///
/// A CloudTrail record (`top`: the message's own object, no Lambda prefix; string
/// `eventVersion`, `eventSource` and `eventName` at its top) has the fixed template
/// `cloudtrail eventSource=... eventName=...`, with `errorCode=...` when it has one.
fn json_tokens<'a>(message: &str, top: bool, out: &mut Vec<Cow<'a, str>>) -> bool {
    let mut de = serde_json::Deserializer::from_str(message);
    let Ok(Node::Obj(map)) = serde::de::DeserializeSeed::deserialize(NodeSeed(0), &mut de) else {
        return false;
    };
    if de.end().is_err() {
        return false;
    }
    if top && let Some(fixed) = cloudtrail_tokens(&map) {
        out.extend(fixed);
        return true;
    }
    out.push(Cow::Borrowed("{"));
    let mut fields = 0;
    object_tokens(&map, &mut String::new(), 1, &mut fields, out);
    out.push(Cow::Borrowed("}"));
    true
}

/// A JSON value as the tokens need it.
enum Node<'m> {
    /// An object whose members were read (in key order).
    Obj(Vec<(Cow<'m, str>, Node<'m>)>),
    /// An object too deep to read, or an empty one.
    Leaf,
    Arr,
    Num,
    Bool,
    Null,
    Str(Cow<'m, str>),
}

/// Reads a value whose parent object is at depth `.0` (the message's own object: 0).
#[derive(Clone, Copy)]
struct NodeSeed(usize);

impl<'de> serde::de::DeserializeSeed<'de> for NodeSeed {
    type Value = Node<'de>;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Node<'de>, D::Error> {
        d.deserialize_any(self)
    }
}

/// A string, borrowed when the text holds it as is.
struct Text<'m>(Cow<'m, str>);

impl<'de> serde::Deserialize<'de> for Text<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Text<'de>, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(v.to_string())))
            }
            fn visit_string<E>(self, v: String) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

impl<'de> serde::de::Visitor<'de> for NodeSeed {
    type Value = Node<'de>;
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<Node<'de>, E> {
        Ok(Node::Bool)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Node<'de>, E> {
        Ok(Node::Num)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Node<'de>, E> {
        Ok(Node::Num)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Node<'de>, E> {
        Ok(Node::Num)
    }
    fn visit_unit<E>(self) -> Result<Node<'de>, E> {
        Ok(Node::Null)
    }
    fn visit_none<E>(self) -> Result<Node<'de>, E> {
        Ok(Node::Null)
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Node<'de>, E> {
        Ok(Node::Str(Cow::Borrowed(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Node<'de>, E> {
        Ok(Node::Str(Cow::Owned(v.to_string())))
    }
    fn visit_string<E>(self, v: String) -> Result<Node<'de>, E> {
        Ok(Node::Str(Cow::Owned(v)))
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Node<'de>, A::Error> {
        while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
        Ok(Node::Arr)
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Node<'de>, A::Error> {
        // The message's object (depth 0 here) and objects whose parent is above
        // MAX_JSON_DEPTH are read; deeper ones are skipped.
        if self.0 != 0 && self.0 >= MAX_JSON_DEPTH {
            while map
                .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
                .is_some()
            {}
            return Ok(Node::Leaf);
        }
        let mut members: Vec<(Cow<'de, str>, Node<'de>)> = Vec::new();
        while let Some(Text(k)) = map.next_key::<Text<'de>>()? {
            let v = map.next_value_seed(NodeSeed(self.0 + 1))?;
            members.push((k, v));
        }
        if members.is_empty() && self.0 != 0 {
            return Ok(Node::Leaf);
        }
        members.sort_by(|a, b| a.0.cmp(&b.0));
        // The last of duplicate keys, as a map keeps it.
        members.dedup_by(|later, earlier| {
            if later.0 == earlier.0 {
                std::mem::swap(later, earlier);
                true
            } else {
                false
            }
        });
        Ok(Node::Obj(members))
    }
}

/// The fixed template of a CloudTrail record (see [`json_tokens`]), from its top-level
/// members (in key order, the last of duplicates kept).
fn cloudtrail_tokens<'a>(map: &[(Cow<'_, str>, Node<'_>)]) -> Option<Vec<Cow<'a, str>>> {
    let get = |k: &str| {
        map.binary_search_by(|(key, _)| (**key).cmp(k))
            .ok()
            .map(|i| &map[i].1)
    };
    let fixed = |k: &str| match get(k) {
        Some(Node::Str(v)) if fixed_value_ok(v.as_bytes()) => Some(v),
        _ => None,
    };
    if !matches!(get("eventVersion"), Some(Node::Str(_))) {
        return None;
    }
    let (source, name) = (fixed(CLOUDTRAIL_KEYS[0])?, fixed(CLOUDTRAIL_KEYS[1])?);
    let mut out = vec![
        Cow::Borrowed(CLOUDTRAIL),
        keyed("eventSource=", source),
        keyed("eventName=", name),
    ];
    if let Some(error) = fixed(CLOUDTRAIL_KEYS[2]) {
        out.push(keyed("errorCode=", error));
    }
    Some(out)
}

/// `key` followed by `suffix`, as one token.
fn keyed(key: &str, suffix: &str) -> Cow<'static, str> {
    let mut t = String::with_capacity(key.len() + suffix.len());
    t.push_str(key);
    t.push_str(suffix);
    Cow::Owned(t)
}

/// The tokens of an object's members; `key` holds the dotted key of the object (empty for
/// the message's own) and is given back as it came.
fn object_tokens(
    map: &[(Cow<'_, str>, Node<'_>)],
    key: &mut String,
    depth: usize,
    fields: &mut usize,
    out: &mut Vec<Cow<'_, str>>,
) {
    for (k, v) in map {
        if *fields >= MAX_JSON_FIELDS || out.len() >= MAX_TOKENS {
            push(out, Cow::Borrowed(WILD));
            return;
        }
        *fields += 1;
        let base = key.len();
        if base > 0 {
            key.push('.');
        }
        for c in k.chars().take(48) {
            key.push(if c.is_whitespace() || c == '"' {
                '_'
            } else {
                c
            });
        }
        let named = |list: &[&str]| list.iter().any(|l| l.eq_ignore_ascii_case(k));
        match v {
            Node::Obj(inner) if depth < MAX_JSON_DEPTH && !inner.is_empty() => {
                object_tokens(inner, key, depth + 1, fields, out);
            }
            Node::Obj(_) | Node::Leaf => out.push(keyed(key, "=<object>")),
            Node::Arr => out.push(keyed(key, "=<array>")),
            Node::Num => out.push(keyed(key, "=<num>")),
            Node::Bool => out.push(keyed(key, "=<bool>")),
            Node::Null => out.push(keyed(key, "=null")),
            Node::Str(s) if named(LEVEL_KEYS) => {
                let short = s.len() <= 16 && s.bytes().all(|b| b.is_ascii_alphabetic());
                let value = if short { &**s } else { "<str>" };
                key.push('=');
                out.push(keyed(key, value));
            }
            Node::Str(s) if named(MESSAGE_KEYS) => {
                out.push(keyed(key, "=\""));
                let mut words = Vec::new();
                text_tokens(s, &mut words);
                let room = MAX_TOKENS.saturating_sub(out.len() + 2);
                let cut = words.len() > room;
                out.extend(
                    words
                        .into_iter()
                        .take(room)
                        .map(|w| Cow::Owned(w.into_owned())),
                );
                if cut {
                    push(out, Cow::Borrowed(WILD));
                }
                out.push(Cow::Borrowed("\""));
            }
            Node::Str(_) => out.push(keyed(key, "=<str>")),
        }
        key.truncate(base);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A text message's skeleton key gives its tokens back; a JSON skeleton gives none.
    fn key_tokens_are_the_tokens(m: &str, key: &mut Vec<u8>) {
        match skeleton(m, key, usize::MAX) {
            Some(t) => assert_eq!(t, tokenize(m), "{m:?}"),
            None => match text_key_tokens(key) {
                Some(t) => assert_eq!(t, tokenize(m), "{m:?}"),
                None => assert_eq!(key.first(), Some(&0xfe), "{m:?}"),
            },
        }
    }

    /// Messages whose repeat keys are equal (the same text but for which digits it holds) have
    /// equal skeletons, and messages the key cannot stand for have none.
    #[test]
    fn repeat_keys_give_equal_skeletons() {
        use crate::patterns::skeleton::tests::Rng;
        const PIECES: &[&str] = &[
            "blk_-1608999687919862906",
            "10.250.19.102:54106",
            "/10.250.19.102:50010",
            "src:",
            "key:123",
            "port:80",
            "id:abc1",
            "a1b2c3",
            "0x7f3a",
            "12:30:45",
            "2024-01-01",
            "2024-01-01T00:00:00.000Z",
            "Jan",
            "5",
            "ms",
            "12ms",
            "...",
            "a...1",
            "1...b",
            "\"quoted",
            "words\"",
            "'q1",
            "x'1",
            "(12)",
            "[3]",
            "{4}",
            "<5>",
            "r24",
            "r24:",
            "C:\\dir1",
            "http://h1/p2",
            "~/f1",
            "/var/log/app1.log",
            "\u{b5}s",
            "%",
            "utc",
            "MB",
            "ERROR",
            "failed",
            "core.123",
            "mon",
            "3.14",
            "-5",
            "+7",
            "1e5",
            "12,",
            "34.",
            "56;",
            "\u{e9}1",
            "\u{fc}",
            "\"a",
            "b\",",
            "'c",
            "d';",
            "9\"",
            "x9:y",
            "ab:/1",
            "k:\\2",
            "::1",
            "1:",
            ":2",
            "12%",
            "7 KB",
            "v1.2.3",
            "1-2",
            "a--1",
            "r24=5",
            "a1=b",
        ];
        let mut r = Rng(0x9e37_79b9_7f4a_7c15);
        let (mut key, mut k2, mut some) = (Vec::new(), Vec::new(), 0);
        for n in 0..20_000 {
            let mut m = String::new();
            if n % 17 == 0 {
                m.push_str("2025-11-25T10:00:00.000Z\tc0ffee00-1111\tINFO\t");
            } else if n % 19 == 0 {
                m.push_str("2 ");
            }
            for i in 0..r.below(24) {
                if i > 0 {
                    m.push_str([" ", " ", " ", "  ", "\t"][r.below(5) as usize]);
                }
                match r.below(8) {
                    0 => m.push_str(&"7".repeat(1 + r.below(120) as usize)),
                    1 => m.push_str(&format!("w{}", "x".repeat(r.below(110) as usize))),
                    _ => m.push_str(PIECES[r.below(PIECES.len() as u64) as usize]),
                }
            }
            let digits: String = m
                .chars()
                .map(|c| match c {
                    '0'..='9' => char::from(b'0' + r.below(10) as u8),
                    c => c,
                })
                .collect();
            let (a, b) = (repeat_key(&m, &mut key), repeat_key(&digits, &mut k2));
            assert_eq!(a.is_some(), b.is_some(), "{m:?} {digits:?}");
            if a.is_none() {
                continue;
            }
            some += 1;
            assert_eq!(a, b);
            // The key is the tag and the text with its digits written `0`, nothing else.
            let mut expected = vec![0xfe];
            expected.extend(m.bytes().map(|c| if c.is_ascii_digit() { b'0' } else { c }));
            assert_eq!(a, Some(&expected[..]), "{m:?}");
            let mut s1 = Vec::new();
            let mut s2 = Vec::new();
            let t1 = skeleton(&m, &mut s1, usize::MAX);
            let t2 = skeleton(&digits, &mut s2, usize::MAX);
            assert!(t1.is_none() && t2.is_none(), "{m:?}");
            assert_eq!(s1, s2, "{m:?} {digits:?}");
            assert_eq!(tokenize(&m), tokenize(&digits), "{m:?} {digits:?}");
        }
        // A text message's key gives its tokens back (the JSON ones, none).
        let mut s1 = Vec::new();
        let many = "w 1 ".repeat(MAX_TOKENS);
        let long = format!("a {}", "b ".repeat(MAX_SCAN_BYTES));
        for _ in 0..5_000 {
            let mut m = String::new();
            for _ in 0..r.below(30) {
                m.push_str(PIECES[r.below(PIECES.len() as u64) as usize]);
                m.push_str([" ", "\t", "  ", ""][r.below(4) as usize]);
            }
            key_tokens_are_the_tokens(&m, &mut s1);
        }
        for m in ["", "  \t ", "one", "{\"a\": 1}", &many, &long] {
            key_tokens_are_the_tokens(m, &mut s1);
        }
        assert!(skeleton("{\"a\": 1}", &mut s1, usize::MAX).is_none());
        assert!(text_key_tokens(&s1).is_none());
        assert!(some > 10_000, "{some}");
        // No key for these; a text message's key is never a message's own bytes.
        let vpc = "2 123456789012 eni-0a1b2c3d 10.0.1.5 10.0.2.9 443 49152 6 10 840 1717200210 1717200270 ACCEPT OK";
        for m in [
            "r24=5 done",
            "a b=1",
            "{\"a\": 1}",
            " {\"a\": 1",
            "2025-11-25T10:00:00.000Z\tc0ffee00-1111\tINFO\t{\"a\": 1}",
            vpc,
        ] {
            assert!(repeat_key(m, &mut key).is_none(), "{m}");
        }
        let long = "1".repeat(MAX_SCAN_BYTES + 1);
        assert!(repeat_key(&long, &mut key).is_none());
        let not_vpc = vpc.replacen('2', "3", 1);
        let k = repeat_key(&not_vpc, &mut key).expect("a text message");
        assert_eq!(k[0], 0xfe);
        assert_eq!(
            &k[1..],
            not_vpc
                .replace(|c: char| c.is_ascii_digit(), "0")
                .as_bytes()
        );
    }

    /// A VPC flow log record's cache key gives the tokens `tokenize` gives it.
    #[test]
    fn vpc_flow_keys_give_the_fixed_tokens() {
        let mut key = Vec::new();
        for (line, fixed) in [
            (
                "2 123456789012 eni-0a1b2c3d 10.0.1.5 10.0.2.9 443 49152 6 10 840 1717200210 1717200270 ACCEPT OK",
                true,
            ),
            (
                "2 123456789012 eni-0a1b2c3d - - - - - - - 1717200210 1717200270 - NODATA",
                true,
            ),
            (
                "2 unknown eni-0a1b2c3d - - - - - - - 1717200210 1717200270 - SKIPDATA",
                true,
            ),
            (
                " 2 123456789012 eni-0a1b2c3d 10.0.1.5 10.0.2.9 443 49152 6 10 840 1717200210 1717200270 REJECT OK ",
                true,
            ),
            (
                "2 123456789012 eni-0a1b2c3d 10.0.1.5 10.0.2.9 443 49152 6 10 840 1717200210 1717200270 ACCEPT OK x",
                false,
            ),
            (
                "2 123456789012 eni-0a1b2c3d 10.0.1.5  10.0.2.9 443 49152 6 10 840 1717200210 1717200270 ACCEPT",
                false,
            ),
            (
                "2 123456789012 eni-0a1b2c3d 10.0.1.5 10.0.2.9 443 49152 6 10 840 1717200210 1717200270 accept OK",
                false,
            ),
            (
                "3 123456789012 eni-0a1b2c3d 10.0.1.5 10.0.2.9 443 49152 6 10 840 1717200210 1717200270 ACCEPT OK",
                false,
            ),
        ] {
            assert!(skeleton(line, &mut key, 1024).is_none());
            let tokens: Vec<String> = tokenize(line).into_iter().map(Cow::into_owned).collect();
            assert_eq!(is_fixed(&tokens), fixed, "{line}");
            match fixed_key_tokens(&key) {
                Some(t) => {
                    let t: Vec<String> = t.into_iter().map(Cow::into_owned).collect();
                    assert_eq!(t, tokens, "{line}");
                }
                None => assert!(!fixed, "{line}"),
            }
        }
    }

    /// The tokens as they were made from a `serde_json::Value` (the reference for the light
    /// tree of [`json_tokens`]).
    fn value_tokens(message: &str) -> Option<Vec<String>> {
        fn walk(
            map: &serde_json::Map<String, serde_json::Value>,
            prefix: &str,
            depth: usize,
            fields: &mut usize,
            out: &mut Vec<Cow<'_, str>>,
        ) {
            use serde_json::Value;
            for (k, v) in map {
                if *fields >= MAX_JSON_FIELDS || out.len() >= MAX_TOKENS {
                    push(out, Cow::Borrowed(WILD));
                    return;
                }
                *fields += 1;
                let mut key: String = k.chars().take(48).collect();
                key = key.replace(|c: char| c.is_whitespace() || c == '"', "_");
                if !prefix.is_empty() {
                    key = format!("{prefix}.{key}");
                }
                let name = k.to_ascii_lowercase();
                match v {
                    Value::Object(inner) if depth < MAX_JSON_DEPTH && !inner.is_empty() => {
                        walk(inner, &key, depth + 1, fields, out);
                    }
                    Value::Object(_) => out.push(Cow::Owned(format!("{key}=<object>"))),
                    Value::Array(_) => out.push(Cow::Owned(format!("{key}=<array>"))),
                    Value::Number(_) => out.push(Cow::Owned(format!("{key}=<num>"))),
                    Value::Bool(_) => out.push(Cow::Owned(format!("{key}=<bool>"))),
                    Value::Null => out.push(Cow::Owned(format!("{key}=null"))),
                    Value::String(s) if LEVEL_KEYS.contains(&name.as_str()) => {
                        let short = s.len() <= 16 && s.bytes().all(|b| b.is_ascii_alphabetic());
                        let value = if short { s.as_str() } else { "<str>" };
                        out.push(Cow::Owned(format!("{key}={value}")));
                    }
                    Value::String(s) if MESSAGE_KEYS.contains(&name.as_str()) => {
                        out.push(Cow::Owned(format!("{key}=\"")));
                        let mut words = Vec::new();
                        text_tokens(s, &mut words);
                        let room = MAX_TOKENS.saturating_sub(out.len() + 2);
                        let cut = words.len() > room;
                        out.extend(
                            words
                                .into_iter()
                                .take(room)
                                .map(|w| Cow::Owned(w.into_owned())),
                        );
                        if cut {
                            push(out, Cow::Borrowed(WILD));
                        }
                        out.push(Cow::Borrowed("\""));
                    }
                    Value::String(_) => out.push(Cow::Owned(format!("{key}=<str>"))),
                }
            }
        }
        let Ok(serde_json::Value::Object(map)) = serde_json::from_str(message) else {
            return None;
        };
        let mut out = vec![Cow::Borrowed("{")];
        walk(&map, "", 1, &mut 0, &mut out);
        out.push(Cow::Borrowed("}"));
        Some(out.into_iter().map(Cow::into_owned).collect())
    }

    fn light_tokens(message: &str) -> Option<Vec<String>> {
        let mut out = Vec::new();
        json_tokens(message, false, &mut out)
            .then(|| out.into_iter().map(Cow::into_owned).collect())
    }

    #[test]
    fn json_tokens_as_a_value_gave_them() {
        let mut cases: Vec<String> = [
            r#"{}"#,
            r#"{"b":1,"a":{"z":null,"y":[1,{"x":2}],"w":{}},"msg":"user 17 logged in","level":"INFO"}"#,
            r#"{"a":1,"a":"two","b":{"c":{"d":{"e":{"f":{"g":1}}}}}}"#,
            r#"{"k\"ey":"v\u00e9","message":"esc\naped \"text\" 42","x y":true}"#,
            r#"{"a":1} trailing"#,
            r#"{"a":}"#,
            r#"[1,2]"#,
            r#"{"n":12345678901234567890123,"f":1e400}"#,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let many: String = (0..80).map(|i| format!("\"k{i}\":{i},")).collect();
        cases.push(format!("{{{many}\"z\":1}}"));
        // More from a file of JSON-encoded messages, one a line (the bench data's, say).
        if let Ok(path) = std::env::var("CWLOGS_JSON_TOKEN_CASES") {
            let text = std::fs::read_to_string(path).expect("cases");
            for line in text.lines() {
                let m: String = serde_json::from_str(line).expect("a JSON string");
                let trimmed = m.trim();
                let rest = lambda_prefix(trimmed).map_or(trimmed, |(_, r)| r);
                cases.push(rest.to_string());
            }
        }
        for c in &cases {
            assert_eq!(light_tokens(c), value_tokens(c), "{c}");
        }
    }

    /// Tokens of the Loghub sets and made-up ones (every byte class, bracket, quote and
    /// length around the caps), each split and classed as `scan_text` does.
    fn sample_tokens() -> Vec<String> {
        let mut toks: Vec<String> = crate::patterns::tests::loghub()
            .iter()
            .flat_map(|(_, m, _)| {
                m.split_ascii_whitespace()
                    .map(str::to_string)
                    .collect::<Vec<_>>()
            })
            .collect();
        let alphabet = [
            "a", "Mon", "dec", "kb", "x", "7", "0", "=", ":", "/", ".", "...", "(", ")", "[", "]",
            "{", "}", "<", ">", "\"", "'", ",", ";", "-", "~", "\\", "µ", "%", "é", "_", "!",
        ];
        let mut r: u64 = 0x1234_5678_9abc_def1;
        for _ in 0..200_000 {
            r ^= r << 13;
            r ^= r >> 7;
            r ^= r << 17;
            let n = 1 + (r % 7) as usize;
            let mut t = String::new();
            let mut x = r;
            for _ in 0..n {
                t.push_str(alphabet[(x % alphabet.len() as u64) as usize]);
                x /= alphabet.len() as u64;
            }
            if r.is_multiple_of(97) {
                t = t.repeat(1 + MAX_TOKEN_BYTES / t.len());
            }
            toks.push(t);
        }
        toks
    }

    #[test]
    fn classed_masking_is_masking() {
        for t in sample_tokens() {
            let mut words = Words::new(&t);
            let (w, cls) = words.next().expect("a token");
            assert_eq!(w, t);
            assert_eq!(mask_classed(w, cls).as_slice(), mask(w).as_slice(), "{t:?}");
        }
    }

    #[test]
    fn words_split_as_split_ascii_whitespace() {
        let texts = [
            "",
            " ",
            "a",
            " a  b\tc\nd\re\x0cf\x0bg ",
            "é µ\u{a0}x",
            "  lead and trail  ",
            "aaaaaaaaaaaa\x0bbbbbbbbbbbbbbbb cccccccccccccccccccc\x01dddd  eeeeeeeeeeeeeeeee\tffffffff",
            "\x01\x02\x03\x04\x05\x06\x07\x08 x\x1f\x7f\u{80}é0123456789=:/.,\nlong-token-of-all-sorts-1234567",
            "12345678 123456789 1234567 abcdefghijklmnop\r\n",
        ];
        for t in texts {
            let ours: Vec<(&str, u8)> = Words::new(t).collect();
            let std: Vec<(&str, u8)> = t
                .split_ascii_whitespace()
                .map(|w| (w, w.bytes().fold(0, |c, b| c | CLASS[b as usize])))
                .collect();
            assert_eq!(ours, std, "{t:?}");
        }
    }

    fn t(m: &str) -> String {
        tokenize(m).join(" ")
    }

    #[test]
    fn classes() {
        assert_eq!(
            t("PacketResponder 1 for block blk_-6952295868487656571 terminating"),
            "PacketResponder <*> for block <*> terminating"
        );
        assert_eq!(
            t("Received block of size 67108864 from /10.251.42.84"),
            "Received block of size <*> from <*>"
        );
        assert_eq!(
            t("Block rdd_4_1 stored as bytes in memory (estimated size 384.0 B, free 317.5 KB)"),
            "Block <*> stored as bytes in memory (estimated size <*>, free <*>)"
        );
        assert_eq!(
            t(
                "Component State Change: Component \\042alt0\\042 is in the unavailable state (HWID=1973)"
            ),
            "Component State Change: Component <*> is in the unavailable state (HWID=<*>)"
        );
        assert_eq!(
            t("data store interrupt caused by icbi.........0"),
            "data store interrupt caused by icbi.........<*>"
        );
        assert_eq!(
            t("synchronized to LOCAL(0), stratum 10"),
            "synchronized to <*>, stratum <*>"
        );
        assert_eq!(
            t("id 550e8400-e29b-41d4-a716-446655440000 at 2025-11-25T10:00:00Z from 10.0.0.1:443"),
            "id <*> at <*> from <*>"
        );
        assert_eq!(
            t("user=alice path=/x status=200"),
            "user=<*> path=<*> status=<*>"
        );
        assert_eq!(t("got \"a quoted value\" here"), "got <*> here");
        assert_eq!(
            t("Release Date: Fri Dec 7 EST 2005)"),
            "Release Date: <*> <*>)"
        );
        assert_eq!(
            t("PendingReds:0 ScheduledMaps:10"),
            "PendingReds:<*> ScheduledMaps:<*>"
        );
    }

    #[test]
    fn json_and_lambda() {
        assert_eq!(
            t(r#"{"level":"ERROR","msg":"user 42 logged in","n":3,"ctx":{"a":true,"b":[1]}}"#),
            r#"{ ctx.a=<bool> ctx.b=<array> level=ERROR msg=" user <*> logged in " n=<num> }"#
        );
        assert_eq!(
            t(
                "2025-11-25T10:00:00.000Z\tc0ffee00-1111-2222-3333-444455556666\tINFO\t{\"message\":\"done\",\"ms\":5}"
            ),
            r#"<*> INFO { message=" done " ms=<num> }"#
        );
        assert_eq!(
            t(
                "2025-11-25T10:00:00.000Z\tc0ffee00-1111-2222-3333-444455556666\tINFO\tloaded 5 items"
            ),
            "<*> INFO loaded <*> items"
        );
        // Not JSON after all: read as text.
        assert_eq!(t("{not json}"), "{not json}");
    }

    #[test]
    fn bounds() {
        let long = "word ".repeat(10_000);
        let toks = tokenize(&long);
        assert_eq!(toks.len(), MAX_TOKENS + 1);
        assert_eq!(toks.last().map(|c| c.as_ref()), Some(WILD));
        assert_eq!(t(&"x".repeat(500)), WILD);
        let big = format!("start {}", "é".repeat(MAX_SCAN_BYTES));
        let toks = tokenize(&big);
        assert!(toks.len() <= 3, "{toks:?}");
    }
}
