//! The skeleton of a JSON object message, read in one pass without building its tokens: the
//! key the miner's exact-skeleton cache is asked with, so that a JSON message whose shape was
//! seen before is answered without parsing it into tokens ([`super::tokens::tokenize`] runs only
//! on a cache miss).
//!
//! The skeleton is the object as written (members in their order, keys as written), with what
//! its tokens depend on and nothing else: each value's kind (`<num>`, `<bool>`, `null`,
//! `<str>`, an array, an object too deep to read), nested objects as far as the tokens read
//! them, the value of a level key (`level`, ...), and the masked text of a message key (`msg`,
//! ...). Equal skeletons have equal tokens (the tokens are a function of it: sorting the
//! members, keeping the last of duplicate keys, the field and token caps are all done on what
//! it holds).
//!
//! It is written only for a message that `serde_json` certainly parses (the tokens of one it
//! rejects are those of its text): strict JSON syntax, and anything whose acceptance depends
//! on details of the parser (surrogate escapes, numbers of more than [`MAX_NUMBER_BYTES`] or
//! with a long exponent, nesting past [`MAX_NEST`], escaped keys) gives up, and the message
//! takes the token path instead, as every message did before. Giving up is always right;
//! answering is right only for JSON that parses.
//!
//! Its bytes: structure tags are bytes `0xf5..=0xfe`, which UTF-8 never holds, so no key,
//! value or token written into it can be mistaken for one, and no text or token-built key
//! (UTF-8 tokens each followed by `0xff`) is ever equal to it.

use super::tokens::{CLOUDTRAIL_KEYS, LEVEL_KEYS, MESSAGE_KEYS, fixed_value_ok, scan_text};

/// Opens a JSON skeleton (its first byte).
const START: u8 = 0xfe;
/// An object whose members follow, up to [`END`].
const OBJ: u8 = 0xf5;
const END: u8 = 0xf6;
/// An object below the depth the tokens read (only its kind counts).
const DEEP: u8 = 0xf7;
const ARR: u8 = 0xf8;
const NUM: u8 = 0xf9;
const BOOL: u8 = 0xfa;
const NULL: u8 = 0xfb;
/// A string whose value does not count.
const STR: u8 = 0xfc;
/// A string written as is, up to the next [`RAW`] (a level key's value).
const RAW: u8 = 0xfd;
/// The masked tokens of a message key's text (each followed by `0xff`), up to the next `TEXT`.
const TEXT: u8 = 0xfe;

/// Nesting (objects and arrays) past this gives up: far inside `serde_json`'s own limit.
const MAX_NEST: usize = 100;
/// A longer number gives up (so does an exponent of more than two digits): every number
/// accepted is finite as an `f64`, whatever the parser's features.
const MAX_NUMBER_BYTES: usize = 200;
/// The depth (the message's own object is 0) of the deepest objects whose members the tokens
/// read (see `tokens::object_tokens`): objects below it are one `<object>`.
const READ_DEPTH: usize = super::tokens::MAX_JSON_DEPTH - 1;

/// Writes the skeleton of the JSON object `object` (the whole text, `{` to `}`), after the
/// Lambda runtime `level` if there is one, to `key` (cleared first). `false` when it gave up
/// (`key` then holds no meaning); `max` bounds the skeleton's length (giving up past it).
pub(crate) fn json_skeleton(
    level: Option<&str>,
    object: &str,
    key: &mut Vec<u8>,
    max: usize,
) -> bool {
    key.clear();
    key.push(START);
    if let Some(l) = level {
        key.extend_from_slice(l.as_bytes());
    }
    let mut s = Scan {
        b: object.as_bytes(),
        text: object,
        i: 0,
        key,
        max,
        nest: 0,
        top: level.is_none(),
        trail: Trail::default(),
    };
    s.top().is_some() && s.trail.finish(s.key)
}

/// What a member's key makes of a string value: its type, its value (level keys) or its
/// masked text (message keys).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// Any other key: the value's type.
    Other,
    /// A level key (`level`, ...).
    Level,
    /// A message key (`msg`, ...).
    Message,
    /// A key of the message's own object whose string value makes a CloudTrail record's fixed
    /// template: the index in [`CLOUDTRAIL_KEYS`] (`eventSource`, `eventName`, `errorCode`).
    Fixed(u8),
    /// `eventVersion` in the message's own object (a CloudTrail record has a string there).
    Version,
}

/// What the message's own object holds of a CloudTrail record (see `tokens::json_tokens`),
/// followed while its skeleton is written: the last of each key counts, as in the tokens.
/// When it is one, [`Trail::finish`] makes the skeleton the record's fixed key (its template
/// values), so that records of every shape share a cache entry.
///
/// A message whose first member is a string `eventVersion` (as AWS writes CloudTrail records)
/// is taken for one: from there on the skeleton is written *lean* (nested objects are not
/// read into it), since a record's fixed key does not depend on them. If it turns out not to
/// be a record after all, the skeleton is incomplete and [`Trail::finish`] says so (the
/// miner then reads the message itself).
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Trail {
    /// Members of the message's own object so far.
    members: u32,
    /// Nested objects are not written: see above.
    lean: bool,
    /// The last `eventVersion` is a string.
    version: bool,
    /// Where the last value of each of [`CLOUDTRAIL_KEYS`] is in the skeleton, when it is a
    /// string that a fixed template takes.
    values: [Option<(usize, usize)>; 3],
}

impl Trail {
    /// A member of the message's own object named `name`: its role, if it is one of the
    /// record's (and what an earlier member of that name said no longer counts).
    fn member(&mut self, name: &[u8]) -> Option<Role> {
        self.members += 1;
        if name == b"eventVersion" {
            self.version = false;
            return Some(Role::Version);
        }
        let i = CLOUDTRAIL_KEYS.iter().position(|k| k.as_bytes() == name)?;
        self.values[i] = None;
        Some(Role::Fixed(i as u8))
    }

    /// A string value of a member with `role`, `value` as the tokens read it: writes it to
    /// `key` (the skeleton).
    fn string(&mut self, key: &mut Vec<u8>, role: Role, value: &[u8]) {
        match role {
            Role::Version => {
                self.version = true;
                self.lean |= self.members == 1;
                key.push(STR);
            }
            Role::Fixed(i) => {
                let start = key.len() + 1;
                raw(key, value);
                if fixed_value_ok(value) {
                    self.values[usize::from(i)] = Some((start, start + value.len()));
                }
            }
            _ => {}
        }
    }

    /// Ends a skeleton: when the message is a CloudTrail record, `key` becomes its fixed key
    /// (`0xff`, `c`, then the template's values each after `0xff`: no text key starts with
    /// `0xff`, no JSON skeleton either). `false` when the skeleton is incomplete (written
    /// lean for a message that is no record): it must not be used.
    fn finish(&self, key: &mut Vec<u8>) -> bool {
        let [Some(source), Some(name), error] = self.values else {
            return !self.lean;
        };
        if !self.version {
            return !self.lean;
        }
        let end = key.len();
        key.extend_from_slice(&[0xff, b'c']);
        key.extend_from_within(source.0..source.1);
        key.push(0xff);
        key.extend_from_within(name.0..name.1);
        if let Some(e) = error {
            key.push(0xff);
            key.extend_from_within(e.0..e.1);
        }
        key.drain(..end);
        true
    }
}

/// A JSON skeleton written from another parser's walk over the message (the document
/// builder's validating pass, `index::document::probe`), in the format [`json_skeleton`]
/// writes: the same key for the same message when its keys and values hold no escapes, and
/// a key that decides the tokens in any case (keys and strings are written as the walk
/// decodes them). Only a walk of the whole message, that found it valid, may be used.
pub(crate) mod from_walk {
    use super::*;

    /// A skeleton starts (its object comes next, through [`object`] at depth 0): `key` is
    /// cleared.
    pub(crate) fn start(key: &mut Vec<u8>, trail: &mut Trail) {
        key.clear();
        key.push(START);
        *trail = Trail::default();
    }

    /// The walk ended, and found the message valid: the skeleton is complete (and becomes a
    /// CloudTrail record's fixed key if the message is one); `false` when it may not be used
    /// (see [`Trail`]).
    pub(crate) fn finish(key: &mut Vec<u8>, trail: &Trail) -> bool {
        trail.finish(key)
    }

    /// A member's key, in an object whose members are written (`top`: the message's own);
    /// its role.
    pub(crate) fn member(key: &mut Vec<u8>, trail: &mut Trail, name: &str, top: bool) -> Role {
        key.extend_from_slice(name.as_bytes());
        let b = name.as_bytes();
        if let Some(role) = top.then(|| trail.member(b)).flatten() {
            role
        } else if is_named(b, &LEVEL) {
            Role::Level
        } else if is_named(b, &MESSAGE) {
            Role::Message
        } else {
            Role::Other
        }
    }

    /// An object value at `depth` (the message's own object is 0) opens: whether its
    /// members are written (else it is one `<object>` and nothing below it is written).
    pub(crate) fn object(key: &mut Vec<u8>, trail: &Trail, depth: usize) -> bool {
        if depth == 0 || (depth <= READ_DEPTH && !trail.lean) {
            key.push(OBJ);
            true
        } else {
            key.push(DEEP);
            false
        }
    }

    /// The end of an object whose members were written.
    pub(crate) fn end(key: &mut Vec<u8>) {
        key.push(END);
    }

    /// An array value (nothing in it is written).
    pub(crate) fn array(key: &mut Vec<u8>) {
        key.push(ARR);
    }

    /// A number value.
    pub(crate) fn number(key: &mut Vec<u8>) {
        key.push(NUM);
    }

    /// A `true` or `false` value.
    pub(crate) fn boolean(key: &mut Vec<u8>) {
        key.push(BOOL);
    }

    /// A `null` value.
    pub(crate) fn null(key: &mut Vec<u8>) {
        key.push(NULL);
    }

    /// A string value (`decoded`) of a member with `role`; `escaped` when it was written
    /// with an escape (or may have been).
    pub(crate) fn string(
        key: &mut Vec<u8>,
        trail: &mut Trail,
        role: Role,
        decoded: &str,
        escaped: bool,
    ) {
        match role {
            Role::Other => key.push(STR),
            Role::Level => {
                let v = decoded.as_bytes();
                if escaped || (v.len() <= 16 && v.iter().all(u8::is_ascii_alphabetic)) {
                    key.push(RAW);
                    key.extend_from_slice(v);
                    key.push(RAW);
                } else {
                    key.push(STR);
                }
            }
            Role::Message => {
                key.push(TEXT);
                masked(key, decoded);
                key.push(TEXT);
            }
            Role::Fixed(_) | Role::Version => trail.string(key, role, decoded.as_bytes()),
        }
    }
}

/// A string value written as is, between [`RAW`] tags.
fn raw(key: &mut Vec<u8>, value: &[u8]) {
    key.push(RAW);
    key.extend_from_slice(value);
    key.push(RAW);
}

/// A message key's text as its tokens mask it.
fn masked(key: &mut Vec<u8>, text: &str) {
    scan_text(text, &mut |parts| {
        for p in parts {
            key.extend_from_slice(p.as_bytes());
        }
        key.push(0xff);
    });
}

struct Scan<'m, 'k> {
    b: &'m [u8],
    text: &'m str,
    i: usize,
    key: &'k mut Vec<u8>,
    max: usize,
    nest: usize,
    /// The message's own object has no Lambda prefix: a CloudTrail record's fixed template
    /// may apply (its keys' values are written).
    top: bool,
    trail: Trail,
}

/// A set high bit in each byte of `w` that is `"`, `\` or below 0x20; exact for the lowest
/// such byte (a borrow may set bits above it).
#[inline(always)]
fn specials(w: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let q = w ^ (ONES * u64::from(b'"'));
    let bs = w ^ (ONES * u64::from(b'\\'));
    ((q.wrapping_sub(ONES) & !q)
        | (bs.wrapping_sub(ONES) & !bs)
        | (w.wrapping_sub(ONES * 0x20) & !w))
        & HIGH
}

impl Scan<'_, '_> {
    #[inline(always)]
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    #[inline(always)]
    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.i += 1;
        }
    }

    #[inline(always)]
    fn eat(&mut self, c: u8) -> Option<()> {
        (self.peek()? == c).then(|| self.i += 1)
    }

    /// The whole message: one object, nothing after it.
    fn top(&mut self) -> Option<()> {
        self.ws();
        self.eat(b'{')?;
        self.key.push(OBJ);
        self.members(0)?;
        self.ws();
        (self.i == self.b.len()).then_some(())
    }

    /// A string, from its opening quote: its raw text (between the quotes) and whether it
    /// holds an escape. Gives up on a surrogate escape; fails on a control character or a
    /// bad escape.
    fn string(&mut self) -> Option<(usize, usize, bool)> {
        self.eat(b'"')?;
        let start = self.i;
        let b = self.b;
        let mut escaped = false;
        loop {
            // Eight bytes at a time to the next quote, backslash or control character.
            while self.i + 8 <= b.len() {
                let mut w = [0u8; 8];
                w.copy_from_slice(&b[self.i..self.i + 8]);
                let m = specials(u64::from_le_bytes(w));
                if m != 0 {
                    self.i += (m.trailing_zeros() / 8) as usize;
                    break;
                }
                self.i += 8;
            }
            let c = self.peek()?;
            match c {
                b'"' => {
                    self.i += 1;
                    return Some((start, self.i - 1, escaped));
                }
                b'\\' => {
                    escaped = true;
                    self.i += 1;
                    match self.peek()? {
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => self.i += 1,
                        b'u' => {
                            let hex = b.get(self.i + 1..self.i + 5)?;
                            let s = std::str::from_utf8(hex).ok()?;
                            let v = u16::from_str_radix(s, 16).ok()?;
                            if !hex.iter().all(u8::is_ascii_hexdigit)
                                || (0xd800..=0xdfff).contains(&v)
                            {
                                return None;
                            }
                            self.i += 5;
                        }
                        _ => return None,
                    }
                }
                c if c < 0x20 => return None,
                _ => self.i += 1,
            }
        }
    }

    /// A number, strictly as JSON writes them, bounded (see [`MAX_NUMBER_BYTES`]).
    fn number(&mut self) -> Option<()> {
        let start = self.i;
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        match self.peek()? {
            b'0' => self.i += 1,
            b'1'..=b'9' => self.digits(),
            _ => return None,
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            if !self.peek()?.is_ascii_digit() {
                return None;
            }
            self.digits();
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.i += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.i += 1;
            }
            let at = self.i;
            self.digits();
            if !(1..=2).contains(&(self.i - at)) {
                return None;
            }
        }
        (self.i - start <= MAX_NUMBER_BYTES).then_some(())
    }

    #[inline(always)]
    fn digits(&mut self) {
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.i += 1;
        }
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        let end = self.i + word.len();
        (self.b.get(self.i..end)? == word).then(|| self.i = end)
    }

    /// Any value, validated, nothing written; its kind.
    fn skip(&mut self) -> Option<u8> {
        match self.peek()? {
            b'"' => self.string().map(|_| STR),
            b'{' => {
                self.i += 1;
                self.nested(|s| {
                    s.ws();
                    if s.eat(b'}').is_some() {
                        return Some(());
                    }
                    loop {
                        s.ws();
                        s.string()?;
                        s.ws();
                        s.eat(b':')?;
                        s.ws();
                        s.skip()?;
                        s.ws();
                        match s.peek()? {
                            b',' => s.i += 1,
                            b'}' => {
                                s.i += 1;
                                return Some(());
                            }
                            _ => return None,
                        }
                    }
                })?;
                Some(DEEP)
            }
            b'[' => {
                self.i += 1;
                self.nested(|s| {
                    s.ws();
                    if s.eat(b']').is_some() {
                        return Some(());
                    }
                    loop {
                        s.ws();
                        s.skip()?;
                        s.ws();
                        match s.peek()? {
                            b',' => s.i += 1,
                            b']' => {
                                s.i += 1;
                                return Some(());
                            }
                            _ => return None,
                        }
                    }
                })?;
                Some(ARR)
            }
            b't' => self.literal(b"true").map(|()| BOOL),
            b'f' => self.literal(b"false").map(|()| BOOL),
            b'n' => self.literal(b"null").map(|()| NULL),
            _ => self.number().map(|()| NUM),
        }
    }

    fn nested(&mut self, f: impl FnOnce(&mut Self) -> Option<()>) -> Option<()> {
        self.nest += 1;
        if self.nest > MAX_NEST {
            return None;
        }
        f(self)?;
        self.nest -= 1;
        Some(())
    }

    /// The members of an object at `depth` (the message's own: 0), from after its `{` to
    /// after its `}`, written with [`END`] after them.
    fn members(&mut self, depth: usize) -> Option<()> {
        self.nest += 1;
        self.ws();
        if self.eat(b'}').is_some() {
            self.key.push(END);
            self.nest -= 1;
            return Some(());
        }
        loop {
            self.ws();
            let (ks, ke, escaped) = self.string()?;
            if escaped {
                // The tokens read the key unescaped (and match level and message keys on
                // that): not worth doing here.
                return None;
            }
            self.key.extend_from_slice(&self.b[ks..ke]);
            let name = &self.b[ks..ke];
            let trail_role = if depth == 0 && self.top {
                self.trail.member(name)
            } else {
                None
            };
            self.ws();
            self.eat(b':')?;
            self.ws();
            match self.peek()? {
                b'{' if depth < READ_DEPTH && !self.trail.lean => {
                    self.i += 1;
                    self.key.push(OBJ);
                    self.members(depth + 1)?;
                }
                b'"' => {
                    let (vs, ve, escaped) = self.string()?;
                    let value = &self.b[vs..ve];
                    if let Some(role) = trail_role {
                        // The fixed template takes the value unescaped: not worth doing here.
                        if escaped && role != Role::Version {
                            return None;
                        }
                        self.trail.string(self.key, role, value);
                    } else if is_named(name, &LEVEL) {
                        let short = value.len() <= 16 && value.iter().all(u8::is_ascii_alphabetic);
                        if short || escaped {
                            raw(self.key, value);
                        } else {
                            self.key.push(STR);
                        }
                    } else if is_named(name, &MESSAGE) {
                        self.key.push(TEXT);
                        let raw = &self.text[vs..ve];
                        if escaped {
                            let decoded: String =
                                serde_json::from_str(&self.text[vs - 1..=ve]).ok()?;
                            self.masked(&decoded);
                        } else {
                            self.masked(raw);
                        }
                        self.key.push(TEXT);
                    } else {
                        self.key.push(STR);
                    }
                }
                _ => {
                    let kind = self.skip()?;
                    self.key.push(kind);
                }
            }
            if self.key.len() > self.max {
                return None;
            }
            self.ws();
            match self.peek()? {
                b',' => self.i += 1,
                b'}' => {
                    self.i += 1;
                    self.key.push(END);
                    self.nest -= 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    fn masked(&mut self, text: &str) {
        masked(self.key, text);
    }
}

/// A filter for a list of lowercase keys: a bit for each length (below 32) and each first
/// letter in it. Most keys fail it and are never compared.
struct KeyList {
    keys: &'static [&'static str],
    lengths: u32,
    firsts: u32,
}

impl KeyList {
    const fn new(keys: &'static [&'static str]) -> KeyList {
        let (mut lengths, mut firsts) = (0u32, 0u32);
        let mut i = 0;
        while i < keys.len() {
            let k = keys[i].as_bytes();
            assert!(!k.is_empty() && k.len() < 32 && k[0].is_ascii_lowercase());
            lengths |= 1 << k.len();
            firsts |= 1 << (k[0] - b'a');
            i += 1;
        }
        KeyList {
            keys,
            lengths,
            firsts,
        }
    }
}

static LEVEL: KeyList = KeyList::new(LEVEL_KEYS);
static MESSAGE: KeyList = KeyList::new(MESSAGE_KEYS);

/// Whether `name` (as written, no escapes) is one of `list`, ignoring ASCII case.
#[inline(always)]
fn is_named(name: &[u8], list: &KeyList) -> bool {
    let Some(&first) = name.first() else {
        return false;
    };
    let f = first.to_ascii_lowercase().wrapping_sub(b'a');
    name.len() < 32
        && list.lengths & (1 << name.len()) != 0
        && f < 26
        && list.firsts & (1 << f) != 0
        && list
            .keys
            .iter()
            .any(|l| l.as_bytes().eq_ignore_ascii_case(name))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::super::tokens::{skeleton, tokenize};
    use super::*;
    use std::collections::HashMap;

    /// A small deterministic generator (xorshift).
    pub(crate) struct Rng(pub(crate) u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
            from[(self.next() % from.len() as u64) as usize]
        }
        /// A number below `n`.
        pub(crate) fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    const KEYS: &[&str] = &[
        "\"a\"",
        "\"b\"",
        "\"msg\"",
        "\"Message\"",
        "\"level\"",
        "\"LEVEL\"",
        "\"x y\"",
        "\"k\\\"q\"",
        "\"\"",
        "\"error\"",
    ];
    const SCALARS: &[&str] = &[
        "1",
        "-0.5",
        "1e5",
        "1E+10",
        "1e400",
        "01",
        "-",
        "2.",
        "123456789012345678901234567890",
        "true",
        "false",
        "null",
        "nul",
        "\"INFO\"",
        "\"warn\"",
        "\"a long level value here\"",
        "\"user 42 logged in\"",
        "\"user 43 logged in\"",
        "\"user alice logged in\"",
        "\"esc \\n aped \\\"q\\\" 7\"",
        "\"\\ud800\"",
        "\"\\ud83d\\ude00\"",
        "\"\\u0041\"",
        "\"\\u00e9t\\u00e9 5 ms\"",
        "\"ctl\u{1}\"",
        "\"bad \\x escape\"",
        "\"\"",
        "\"tab\tin\"",
    ];
    const SPACE: &[&str] = &["", "", "", " ", "\n", "\t", "\u{c}"];

    /// Shapes come from `shape` (few of them), scalars from `r`: many messages share a shape
    /// and differ in their values, anywhere in it.
    fn value(shape: &mut Rng, r: &mut Rng, depth: usize, out: &mut String) {
        match shape.below(if depth > 6 { 2 } else { 5 }) {
            0 | 1 => {
                // Strings stay strings mostly (a kind change is an easy difference).
                let pick = r.pick(SCALARS);
                out.push_str(if shape.below(2) == 0 {
                    pick
                } else {
                    SCALARS[(shape.below(SCALARS.len() as u64)) as usize]
                });
            }
            2 | 3 => object(shape, r, depth + 1, out),
            _ => {
                out.push('[');
                for i in 0..shape.below(3) {
                    if i > 0 {
                        out.push(',');
                    }
                    value(shape, r, depth + 1, out);
                }
                out.push(']');
            }
        }
    }

    fn object(shape: &mut Rng, r: &mut Rng, depth: usize, out: &mut String) {
        out.push('{');
        for i in 0..shape.below(4) {
            if i > 0 {
                out.push(',');
            }
            out.push_str(shape.pick(SPACE));
            out.push_str(shape.pick(KEYS));
            out.push_str(shape.pick(SPACE));
            out.push(':');
            value(shape, r, depth, out);
        }
        out.push('}');
    }

    /// Values of a CloudTrail record's template keys: plain ones, and ones no fixed template
    /// takes (escaped, spaced, empty, too long, not strings).
    const TRAIL_VALUES: &[&str] = &[
        "\"s3.amazonaws.com\"",
        "\"iam.amazonaws.com\"",
        "\"GetObject\"",
        "\"PutObject\"",
        "\"DeleteBucket\"",
        "\"AccessDenied\"",
        "\"Get\\u004fbject\"",
        "\"two words\"",
        "\"\"",
        "1",
        "null",
        "{\"a\":1}",
    ];

    /// A CloudTrail-like record: `eventVersion` (mostly), `eventSource`, `eventName` and
    /// sometimes `errorCode` among other members, in varying order, now and then twice.
    fn cloudtrail(shape: &mut Rng, r: &mut Rng, out: &mut String) {
        let long = format!("\"{}\"", "x".repeat(200));
        let mut members: Vec<String> = Vec::new();
        if shape.below(6) != 0 {
            members.push(format!(
                "\"eventVersion\":{}",
                shape.pick(&["\"1.09\"", "\"1.08\"", "1"])
            ));
        }
        for key in ["eventSource", "eventName", "errorCode", "eventName", "a"] {
            if (key == "errorCode" || key == "a") && shape.below(2) == 0 {
                continue;
            }
            if key == "eventName"
                && members.iter().any(|m| m.contains("eventName"))
                && shape.below(4) != 0
            {
                continue;
            }
            // Mostly values a fixed template takes.
            let v = match r.below(40) {
                0 => long.as_str(),
                1..=12 => r.pick(TRAIL_VALUES),
                _ => r.pick(&TRAIL_VALUES[..6]),
            };
            members.push(format!(
                "\"{key}\"{}:{}{v}",
                shape.pick(SPACE),
                shape.pick(SPACE)
            ));
        }
        let mut nested = String::new();
        object(shape, r, 1, &mut nested);
        members.push(format!("\"userIdentity\":{nested}"));
        let at = shape.below(members.len() as u64) as usize;
        members.rotate_left(at);
        out.push('{');
        out.push_str(&members.join(","));
        out.push('}');
    }

    /// A JSON message (sometimes after a Lambda prefix, sometimes a byte off) from a few
    /// thousand shapes, with values varying anywhere in them.
    pub(crate) fn message(r: &mut Rng) -> String {
        let mut shape = Rng((1 + r.below(3000)).wrapping_mul(0x2545_f491_4f6c_dd1d));
        let mut m = String::new();
        if shape.below(4) == 0 {
            m.push_str(shape.pick(&[
                "2025-11-25T10:00:00.000Z\tc0ffee00-1111\tINFO\t",
                "2025-11-25T10:00:00.000Z\tc0ffee00-2222\tERROR\t ",
                "2025-11-25\tnodigits\tINFO\t",
            ]));
        }
        m.push_str(shape.pick(SPACE));
        if shape.below(4) == 0 {
            cloudtrail(&mut shape, r, &mut m);
        } else {
            object(&mut shape, r, 0, &mut m);
        }
        m.push_str(shape.pick(SPACE));
        // Now and then a byte off: not JSON any more (or still).
        if r.below(6) == 0 && !m.is_empty() {
            let at = (r.below(m.len() as u64)) as usize;
            if m.is_char_boundary(at) {
                m.insert(at, ['"', ',', '}', 'x'][r.below(4) as usize]);
            }
        }
        m
    }

    /// The skeleton decides the tokens: messages with equal keys have equal tokens, and the
    /// tokens given back on the way are those of [`tokenize`].
    #[test]
    fn equal_skeletons_equal_tokens() {
        let mut r = Rng(0x9e37_79b9_7f4a_7c15);
        let mut seen: HashMap<Vec<u8>, (String, Vec<String>)> = HashMap::new();
        let (mut fast, mut json, mut trail) = (0, 0, 0);
        let mut key = Vec::new();
        for _ in 0..40_000 {
            let m = message(&mut r);
            let built = skeleton(&m, &mut key, 4096);
            let tokens: Vec<String> = tokenize(&m).into_iter().map(|t| t.into_owned()).collect();
            if let Some(b) = built {
                let b: Vec<String> = b.into_iter().map(|t| t.into_owned()).collect();
                assert_eq!(b, tokens, "{m:?}");
            }
            // A fixed key gives its tokens without the message.
            if let Some(f) = super::super::tokens::fixed_key_tokens(&key) {
                let f: Vec<String> = f.into_iter().map(|t| t.into_owned()).collect();
                assert_eq!(f, tokens, "{m:?}");
            }
            // A JSON message's tokens: its keys and types, or a CloudTrail record's fixed
            // template.
            let of_json = tokens.iter().any(|t| t == "{")
                || tokens
                    .first()
                    .is_some_and(|t| t == super::super::tokens::CLOUDTRAIL);
            if key.first() == Some(&START) {
                fast += 1;
                assert!(of_json, "{m:?}");
            }
            json += usize::from(of_json);
            trail += usize::from(tokens.first().is_some_and(|t| t == "cloudtrail"));
            match seen.get(&key) {
                Some((first, t)) => assert_eq!(t, &tokens, "{first:?} and {m:?}"),
                None => {
                    seen.insert(key.clone(), (m, tokens));
                }
            }
        }
        // The cases are hard ones: still, most JSON messages take the skeleton.
        assert!(fast > 10_000 && json > fast, "{fast} of {json}");
        // CloudTrail records' fixed templates among them.
        assert!(trail > 300, "{trail} CloudTrail records");
        eprintln!(
            "{fast} of {json} JSON messages took the skeleton, {} distinct",
            seen.len()
        );
        assert!(seen.len() < 30_000, "{}", seen.len());
    }

    /// The skeleton is written only for JSON that parses.
    #[test]
    fn gives_up_on_what_may_not_parse() {
        let mut key = Vec::new();
        let ok = |m: &str, key: &mut Vec<u8>| json_skeleton(None, m, key, 4096);
        for good in [
            r#"{}"#,
            r#"{"a":1,"a":"two"}"#,
            r#" {"a" : [1, {"b": [true, null]}] , "n": -0.5e-12}"#,
            r#"{"s":"\u0041\n\"","msg":"caf\u00e9 42"}"#,
            r#"{"n":123456789012345678901234567890}"#,
        ] {
            assert!(ok(good, &mut key), "{good}");
            assert!(serde_json::from_str::<serde_json::Value>(good).is_ok());
        }
        let deep = format!("{{\"a\":{}1{}}}", "[".repeat(150), "]".repeat(150));
        for bad in [
            r#"{"a":1} "#.trim_end(),
            r#"{"a":1}}"#,
            r#"{"a":1,}"#,
            r#"{"a":01}"#,
            r#"{"a":1e400}"#,
            r#"{"a":"\ud800"}"#,
            "{\"a\":\"\u{1}\"}",
            r#"{"a":"\x"}"#,
            r#"{"a\"b":1}"#,
            r#"{"a":tru}"#,
            r#"{"a":1 "b":2}"#,
            r#"{"a":-}"#,
            &deep,
        ] {
            if bad == r#"{"a":1}"# {
                continue;
            }
            assert!(!ok(bad, &mut key), "{bad}");
        }
        // A bound on the skeleton's length.
        assert!(!json_skeleton(
            None,
            r#"{"aaaaaaaa":1,"bbbbbbbb":2}"#,
            &mut key,
            12
        ));
    }
}
