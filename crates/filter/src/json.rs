//! A small JSON reader for log messages: borrows from the message, keeps each number's spelling
//! (spec §5.5 compares numbers as text against string literals), keeps duplicate keys (the last
//! one wins on lookup, spec §5.3) and stops at [`MAX_JSON_DEPTH`] levels of nesting.

use crate::compile::Step;
use std::borrow::Cow;

/// Deepest nesting of arrays and objects read in a message; deeper messages do not match JSON
/// patterns.
pub const MAX_JSON_DEPTH: usize = 128;

/// A JSON value borrowed from a message.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Json<'a> {
    Null,
    Bool(bool),
    /// The number as spelled in the message.
    Num(&'a str),
    Str(Cow<'a, str>),
    Arr(Vec<Json<'a>>),
    /// Members in message order, duplicates included.
    Obj(Vec<(Cow<'a, str>, Json<'a>)>),
}

impl<'a> Json<'a> {
    /// The value of member `key`: the last occurrence wins.
    pub(crate) fn get(&self, key: &str) -> Option<&Json<'a>> {
        match self {
            Json::Obj(members) => members.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// Member values of an object, one per distinct key (the last occurrence's value).
    pub(crate) fn member_values<'s>(&'s self, out: &mut Vec<&'s Json<'a>>) {
        let Json::Obj(members) = self else { return };
        if members.len() <= 16 {
            for (i, (k, v)) in members.iter().enumerate() {
                if !members[i + 1..].iter().any(|(k2, _)| k2 == k) {
                    out.push(v);
                }
            }
        } else {
            let mut seen = std::collections::HashSet::with_capacity(members.len());
            let start = out.len();
            for (k, v) in members.iter().rev() {
                if seen.insert(k.as_ref()) {
                    out.push(v);
                }
            }
            out[start..].reverse();
        }
    }
}

/// Parses `text` as one JSON document whose top level is an object. `None` for anything else.
pub(crate) fn parse_object(text: &str) -> Option<Json<'_>> {
    parse_object_kept(text, &Keep::ALL)
}

/// The parts of a message's JSON that some patterns can look at: the paths of their selectors,
/// as a tree of keys. A [`crate::PatternSet`] reads each JSON message once through the union of
/// its patterns' paths ([`parse_object_kept`]): members on no path are checked (the message must
/// still be valid JSON, as for [`parse_object`]) but not built, which is most of a CloudTrail
/// record for a rule on `errorCode`.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Keep {
    /// Everything below is kept (a selector ends here, or goes on with `.*` / `[*]`).
    all: bool,
    /// The members to keep, by key, with what to keep below each.
    keys: Vec<(String, Keep)>,
    /// Bit `len % 64` set for the length of each key of `keys`: most members of a message
    /// are skipped on their key's length alone, without comparing it to every kept key.
    lengths: u64,
    /// What to keep of each element, when this is an array some selector indexes.
    items: Option<Box<Keep>>,
}

impl Keep {
    /// Everything kept: the whole parse.
    const ALL: Keep = Keep {
        all: true,
        keys: Vec::new(),
        lengths: 0,
        items: None,
    };

    /// Keeps what a selector's `steps` reach from here, and everything below it.
    pub(crate) fn add(&mut self, steps: &[Step]) {
        if self.all {
            return;
        }
        let Some((step, rest)) = steps.split_first() else {
            *self = Keep {
                all: true,
                ..Keep::default()
            };
            return;
        };
        match step {
            Step::Key(k) => match self.keys.iter().position(|(x, _)| x == k) {
                Some(i) => self.keys[i].1.add(rest),
                None => {
                    let mut child = Keep::default();
                    child.add(rest);
                    self.keys.push((k.clone(), child));
                    self.lengths |= 1 << (k.len() % 64);
                }
            },
            Step::Index(_) => self.items.get_or_insert_with(Box::default).add(rest),
            Step::AnyMember | Step::AnyElement => self.add(&[]),
        }
    }

    /// What to keep below member `key`; `None`: skip it.
    fn member(&self, key: &str) -> Option<&Keep> {
        if self.all {
            return Some(self);
        }
        if self.lengths & (1 << (key.len() % 64)) == 0 {
            return None;
        }
        self.keys.iter().find(|(k, _)| k == key).map(|(_, c)| c)
    }

    /// What to keep of each element of an array here; `None`: skip them.
    fn items(&self) -> Option<&Keep> {
        if self.all {
            Some(self)
        } else {
            self.items.as_deref()
        }
    }
}

/// [`parse_object`] keeping only what `keep` names: the same documents are accepted, and every
/// path of `keep` finds what it would in the whole tree.
pub(crate) fn parse_object_kept<'a>(text: &'a str, keep: &Keep) -> Option<Json<'a>> {
    let mut p = Reader {
        s: text,
        b: text.as_bytes(),
        i: 0,
    };
    p.ws();
    if p.b.get(p.i) != Some(&b'{') {
        return None;
    }
    let v = p.value(0, keep)?;
    p.ws();
    (p.i == p.b.len()).then_some(v)
}

struct Reader<'a> {
    s: &'a str,
    b: &'a [u8],
    i: usize,
}

impl<'a> Reader<'a> {
    fn ws(&mut self) {
        while let Some(&c) = self.b.get(self.i) {
            if !matches!(c, b' ' | b'\t' | b'\n' | b'\r') {
                break;
            }
            self.i += 1;
        }
    }

    fn eat(&mut self, c: u8) -> Option<()> {
        self.ws();
        (self.b.get(self.i) == Some(&c)).then(|| self.i += 1)
    }

    fn lit(&mut self, word: &str, v: Json<'a>) -> Option<Json<'a>> {
        if self.b[self.i..].starts_with(word.as_bytes()) {
            self.i += word.len();
            Some(v)
        } else {
            None
        }
    }

    /// A value with only what `keep` names built ([`Keep::ALL`]: all of it); the rest is
    /// checked by [`Reader::skip`].
    fn value(&mut self, depth: usize, keep: &Keep) -> Option<Json<'a>> {
        self.ws();
        match *self.b.get(self.i)? {
            b'{' => {
                if depth >= MAX_JSON_DEPTH {
                    return None;
                }
                self.i += 1;
                self.ws();
                if self.b.get(self.i) == Some(&b'}') {
                    self.i += 1;
                    return Some(Json::Obj(Vec::new()));
                }
                // Log objects have a handful to a few dozen members: a whole one starts past
                // the first doublings; a kept one has room for each kept key once (no growth).
                let mut members = Vec::with_capacity(if keep.all { 8 } else { keep.keys.len() });
                loop {
                    self.ws();
                    if self.b.get(self.i) != Some(&b'"') {
                        return None;
                    }
                    let k = self.string()?;
                    self.eat(b':')?;
                    match keep.member(&k) {
                        Some(child) => {
                            let v = self.value(depth + 1, child)?;
                            members.push((k, v));
                        }
                        None => self.skip(depth + 1)?,
                    }
                    self.ws();
                    match self.b.get(self.i)? {
                        b',' => self.i += 1,
                        b'}' => {
                            self.i += 1;
                            return Some(Json::Obj(members));
                        }
                        _ => return None,
                    }
                }
            }
            b'[' => match keep.items() {
                Some(child) => {
                    if depth >= MAX_JSON_DEPTH {
                        return None;
                    }
                    self.i += 1;
                    let mut items = Vec::new();
                    self.ws();
                    if self.b.get(self.i) == Some(&b']') {
                        self.i += 1;
                        return Some(Json::Arr(items));
                    }
                    loop {
                        items.push(self.value(depth + 1, child)?);
                        self.ws();
                        match self.b.get(self.i)? {
                            b',' => self.i += 1,
                            b']' => {
                                self.i += 1;
                                return Some(Json::Arr(items));
                            }
                            _ => return None,
                        }
                    }
                }
                // No selector indexes it: only a key could be looked up in it, and arrays
                // have none.
                None => self.skip(depth).map(|()| Json::Arr(Vec::new())),
            },
            b'"' => self.string().map(Json::Str),
            b't' => self.lit("true", Json::Bool(true)),
            b'f' => self.lit("false", Json::Bool(false)),
            b'n' => self.lit("null", Json::Null),
            b'-' | b'0'..=b'9' => self.number(),
            _ => None,
        }
    }

    /// Checks one value as [`Reader::value`] would read it, building nothing (strings with
    /// escapes excepted: they are decoded to be checked).
    fn skip(&mut self, depth: usize) -> Option<()> {
        self.ws();
        match *self.b.get(self.i)? {
            open @ (b'{' | b'[') => {
                if depth >= MAX_JSON_DEPTH {
                    return None;
                }
                let close = if open == b'{' { b'}' } else { b']' };
                self.i += 1;
                self.ws();
                if self.b.get(self.i) == Some(&close) {
                    self.i += 1;
                    return Some(());
                }
                loop {
                    if open == b'{' {
                        self.ws();
                        if self.b.get(self.i) != Some(&b'"') {
                            return None;
                        }
                        self.skip_string()?;
                        self.eat(b':')?;
                    }
                    self.skip(depth + 1)?;
                    self.ws();
                    match *self.b.get(self.i)? {
                        b',' => self.i += 1,
                        c if c == close => {
                            self.i += 1;
                            return Some(());
                        }
                        _ => return None,
                    }
                }
            }
            b'"' => self.skip_string(),
            _ => self.value(depth, &Keep::ALL).map(|_| ()),
        }
    }

    /// Checks a string at `"` as [`Reader::string`] would read it, building nothing.
    fn skip_string(&mut self) -> Option<()> {
        self.i += 1;
        loop {
            self.i = special(self.b, self.i)?;
            match self.b[self.i] {
                b'"' => {
                    self.i += 1;
                    return Some(());
                }
                b'\\' => {}
                _ => return None,
            }
            self.i += 1;
            match *self.b.get(self.i)? {
                b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => self.i += 1,
                b'u' => {
                    self.i += 1;
                    self.unicode_escape()?;
                }
                _ => return None,
            }
        }
    }

    fn digits(&mut self) -> usize {
        let s = self.i;
        while self.b.get(self.i).is_some_and(u8::is_ascii_digit) {
            self.i += 1;
        }
        self.i - s
    }

    fn number(&mut self) -> Option<Json<'a>> {
        let s = self.i;
        if self.b[self.i] == b'-' {
            self.i += 1;
        }
        match self.b.get(self.i)? {
            b'0' => self.i += 1,
            b'1'..=b'9' => {
                self.digits();
            }
            _ => return None,
        }
        if self.b.get(self.i) == Some(&b'.') {
            self.i += 1;
            if self.digits() == 0 {
                return None;
            }
        }
        if matches!(self.b.get(self.i), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.b.get(self.i), Some(b'+' | b'-')) {
                self.i += 1;
            }
            if self.digits() == 0 {
                return None;
            }
        }
        Some(Json::Num(&self.s[s..self.i]))
    }

    /// Reads a string at `"`; borrows when there are no escapes.
    fn string(&mut self) -> Option<Cow<'a, str>> {
        self.i += 1;
        let start = self.i;
        // The common case, a string without escapes: find the closing quote (or a backslash,
        // or a control character, which makes the message invalid) in one pass.
        let end = special(self.b, start)?;
        self.i = end;
        match self.b[end] {
            b'"' => {
                self.i += 1;
                return Some(Cow::Borrowed(&self.s[start..end]));
            }
            b'\\' => {}
            _ => return None,
        }
        let mut out = String::from(&self.s[start..self.i]);
        loop {
            let c = *self.b.get(self.i)?;
            match c {
                b'"' => {
                    self.i += 1;
                    return Some(Cow::Owned(out));
                }
                b'\\' => {
                    self.i += 1;
                    let e = *self.b.get(self.i)?;
                    self.i += 1;
                    match e {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => out.push(char::from_u32(self.unicode_escape()?)?),
                        _ => return None,
                    }
                }
                0..=0x1f => return None,
                _ => {
                    // Copy the run of plain bytes at once (it is valid UTF-8: it comes from a &str
                    // and stops only at ASCII bytes).
                    let s = self.i;
                    self.i = special(self.b, s).unwrap_or(self.b.len());
                    out.push_str(&self.s[s..self.i]);
                }
            }
        }
    }

    /// The code point of a `\\u` escape whose four hex digits are at the cursor, with the
    /// low half of a surrogate pair after it; `None` for a lone or reversed surrogate.
    fn unicode_escape(&mut self) -> Option<u32> {
        let hi = self.hex4()?;
        if (0xD800..0xDC00).contains(&hi) {
            if !self.b[self.i..].starts_with(b"\\u") {
                return None;
            }
            self.i += 2;
            let lo = self.hex4()?;
            if !(0xDC00..0xE000).contains(&lo) {
                return None;
            }
            Some(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00))
        } else if (0xDC00..0xE000).contains(&hi) {
            None
        } else {
            Some(hi)
        }
    }

    fn hex4(&mut self) -> Option<u32> {
        let h = self.s.get(self.i..self.i + 4)?;
        let v = u32::from_str_radix(h, 16).ok()?;
        if !h.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        self.i += 4;
        Some(v)
    }
}

/// The first position at or after `from` holding a byte a JSON string cannot hold as it is:
/// `"`, `\\` or a control character (below 0x20). Eight bytes at a time, in one pass: a string
/// costs no call and no tail loop (the words run past the string's end, which is unknown).
fn special(b: &[u8], from: usize) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = ONES * 0x80;
    let mut i = from;
    while let Some(chunk) = b.get(i..i + 8) {
        let mut a = [0u8; 8];
        a.copy_from_slice(chunk);
        let w = u64::from_le_bytes(a);
        let quote = w ^ (ONES * u64::from(b'"'));
        let backslash = w ^ (ONES * u64::from(b'\\'));
        // A byte's high bit is set for a zero byte of `quote` or `backslash`, or a byte of `w`
        // below 0x20; a borrow can also set it in bytes above such a byte, never below, so
        // the lowest one set is exact.
        let found = (quote.wrapping_sub(ONES) & !quote
            | backslash.wrapping_sub(ONES) & !backslash
            | w.wrapping_sub(ONES * 0x20) & !w)
            & HIGH;
        if found != 0 {
            return Some(i + (found.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    b.get(i..)?
        .iter()
        .position(|&c| c == b'"' || c == b'\\' || c < 0x20)
        .map(|k| i + k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn special_bytes_are_found_eight_bytes_at_a_time() {
        let naive = |b: &[u8], from: usize| {
            (from..b.len()).find(|&i| b[i] == b'"' || b[i] == b'\\' || b[i] < 0x20)
        };
        for len in 0..24 {
            for at in 0..len {
                for c in [
                    0u8, 0x1f, 0x20, b'"', b'\\', 0x7f, 0x80, 0x9f, 0xff, 0x21, 0x5d,
                ] {
                    // Around it: plain ASCII, bytes at or above 0x80, and bytes one above each
                    // special byte (a borrow out of the special byte could flag them).
                    for fill in [b'a', 0xe9, 0x01, 0x23, 0x5d, 0x20] {
                        let mut b = vec![fill; len];
                        b[at] = c;
                        for from in 0..=len {
                            assert_eq!(special(&b, from), naive(&b, from), "{b:?} from {from}");
                        }
                    }
                }
                // Two special bytes: the first one is found.
                let mut b = vec![b'a'; len];
                b[at] = b'\\';
                if at + 1 < len {
                    b[at + 1] = 0;
                }
                assert_eq!(special(&b, 0), Some(at));
            }
        }
    }

    #[test]
    fn reads_objects_only() {
        assert!(parse_object(r#"{"a":[1,-2.5e+3,true,null,"x\u00e9\ud83d\ude00"]}"#).is_some());
        assert!(parse_object("[1]").is_none());
        assert!(parse_object("{} x").is_none());
        assert!(parse_object(r#"{"a":01}"#).is_none());
        assert!(parse_object(r#"{"a":"\ud800"}"#).is_none());
        let deep = "[".repeat(10_000);
        assert!(parse_object(&format!("{{\"a\":{deep}")).is_none());
        let v = parse_object(r#"{"v":1,"v":2}"#).unwrap();
        assert_eq!(v.get("v"), Some(&Json::Num("2")));
    }

    fn keep(paths: &[&[Step]]) -> Keep {
        let mut k = Keep::default();
        for p in paths {
            k.add(p);
        }
        k
    }

    fn key(k: &str) -> Step {
        Step::Key(k.to_string())
    }

    #[test]
    fn kept_parse_builds_only_the_paths() {
        let text =
            r#"{"a":{"b":1,"c":[1,2,{"d":"x"}]},"e":"skip\u00e9","f":[{"g":true}],"a":{"b":2}}"#;
        let k = keep(&[&[key("a"), key("b")], &[key("f"), Step::Index(0), key("g")]]);
        let v = parse_object_kept(text, &k).expect("valid");
        assert_eq!(v.get("e"), None);
        // Both occurrences of `a` are kept, so the last still wins.
        assert_eq!(v.get("a").and_then(|a| a.get("b")), Some(&Json::Num("2")));
        let Some(Json::Arr(f)) = v.get("f") else {
            panic!("f is kept")
        };
        assert_eq!(f[0].get("g"), Some(&Json::Bool(true)));
        // A selector ending on a container keeps all of it.
        let whole = parse_object_kept(text, &keep(&[&[key("a")]])).expect("valid");
        assert_eq!(whole.get("a"), parse_object(text).expect("valid").get("a"));
        // `.*` keeps everything below.
        assert_eq!(
            parse_object_kept(text, &keep(&[&[Step::AnyMember]])),
            parse_object(text)
        );
    }

    #[test]
    fn kept_parse_accepts_exactly_what_the_full_parse_accepts() {
        let k = keep(&[&[key("a"), key("b")]]);
        let deep = "[".repeat(200) + &"]".repeat(200);
        let texts = [
            r#"{"x":01}"#.to_string(),
            r#"{"x":"\ud800"}"#.to_string(),
            r#"{"x":[1,]}"#.to_string(),
            r#"{"x":{"y":1,}}"#.to_string(),
            "{\"x\":\"a\nb\"}".to_string(),
            r#"{"x":tru}"#.to_string(),
            r#"{"x":[1 2]}"#.to_string(),
            r#"{"x":{}} "#.to_string(),
            r#"{"x":[]}"#.to_string(),
            r#"{"x":{"a":{"b":[[[]]]}}}"#.to_string(),
            r#"{"a":{"b":1}} x"#.to_string(),
            format!("{{\"x\":{deep}}}"),
            format!("{{\"a\":{{\"b\":{deep}}}}}"),
            format!("{{\"a\":{deep}}}"),
            // Skipped strings are checked as read ones are: escapes, surrogates, controls.
            r#"{"x":"\ud83d\ude00"}"#.to_string(),
            r#"{"x":"\udc00"}"#.to_string(),
            r#"{"x":"\ud83dx"}"#.to_string(),
            r#"{"x":"\ud83d\u0041"}"#.to_string(),
            r#"{"x":"\q"}"#.to_string(),
            r#"{"x":"\u12"}"#.to_string(),
            r#"{"x":"a\u00e9\n\t\\\/\"b"}"#.to_string(),
            "{\"x\":\"abcdefghijklmnop\u{1}q\"}".to_string(),
            "{\"x\":\"abcdefghijklmnop\u{7f}\u{e9}q\"}".to_string(),
            r#"{"\u0078":1,"a":{"b":2}}"#.to_string(),
            "{\"x\u{1}\":1}".to_string(),
            r#"{"x":{"\ud800":1}}"#.to_string(),
            r#"{"x":"unterminated}"#.to_string(),
        ];
        for text in &texts {
            assert_eq!(
                parse_object_kept(text, &k).is_some(),
                parse_object(text).is_some(),
                "{text}"
            );
        }
    }
}
