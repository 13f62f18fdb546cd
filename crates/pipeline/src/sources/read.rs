//! Reading an object as a stream: gunzip when it is gzip (flate2's read decoder, every member),
//! a cap on the bytes it may decompress to, the body's own read errors told apart from bad
//! data, and records one at a time (lines, or the elements of CloudTrail's `Records` array)
//! into one reused buffer, so that memory does not grow with the object.

use super::{SourceError, SourceErrorKind};
use std::io::{self, BufRead, BufReader, Read};

/// The longest record (line or CloudTrail record) read; a longer one fails the object.
pub const MAX_RECORD_BYTES: usize = 8 << 20;

/// The buffer between the decoder and the record readers.
const BUFFER: usize = 256 << 10;

/// An error of the body itself (the connection to S3 broke, a timeout): retryable, unlike an
/// error in what the body holds. Carried through the decoder inside an [`io::Error`].
#[derive(Debug)]
pub struct BodyError(pub String);

impl std::fmt::Display for BodyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BodyError {}

/// Wraps a body so that its own read errors are recognised ([`BodyError`]) after they pass
/// through the decoder, and counts what it read.
pub(crate) struct Tracked<R> {
    inner: R,
    pub(crate) read: u64,
    max: u64,
}

impl<R: Read> Read for Tracked<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.inner.read(buf) {
            Ok(n) => {
                self.read += n as u64;
                if self.read > self.max {
                    return Err(io::Error::other(Capped(format!(
                        "the object is larger than the limit of {} bytes ([sources.s3] max_object_bytes)",
                        self.max
                    ))));
                }
                Ok(n)
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Err(e),
            Err(e) => {
                if e.get_ref().is_some_and(|x| x.is::<BodyError>()) {
                    return Err(e);
                }
                Err(io::Error::other(BodyError(e.to_string())))
            }
        }
    }
}

/// A cap was passed (stored or decompressed size): the object can never be read whole.
#[derive(Debug)]
pub(crate) struct Capped(String);

impl std::fmt::Display for Capped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Capped {}

/// Counts decompressed bytes and fails past the cap.
pub(crate) struct Limited<R> {
    inner: R,
    read: u64,
    max: u64,
}

impl<R: Read> Read for Limited<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        if self.read > self.max {
            return Err(io::Error::other(Capped(format!(
                "the object decompresses to more than the limit of {} bytes ([sources.s3] max_decompressed_bytes)",
                self.max
            ))));
        }
        Ok(n)
    }
}

/// The decompressed content of an object, unbuffered.
pub(crate) type Raw<R> = Limited<Decoder<R>>;

/// The decompressed content of an object, buffered, with its first bytes peeked.
pub(crate) type Content<R> = BufReader<Prefixed<Raw<R>>>;

/// How many bytes are peeked to tell the format.
pub(crate) const HEAD: usize = 8 << 10;

/// The object's bytes as stored, or gunzipped.
pub(crate) enum Decoder<R: Read> {
    Plain(Prefixed<Tracked<R>>),
    Gzip(Box<flate2::read::MultiGzDecoder<Prefixed<Tracked<R>>>>),
}

impl<R: Read> Read for Decoder<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Decoder::Plain(r) => r.read(buf),
            Decoder::Gzip(r) => r.read(buf),
        }
    }
}

/// A reader with a few bytes already taken from it put back in front.
pub(crate) struct Prefixed<R> {
    head: Vec<u8>,
    at: usize,
    inner: R,
}

impl<R: Read> Read for Prefixed<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.at < self.head.len() {
            let n = (self.head.len() - self.at).min(buf.len());
            buf[..n].copy_from_slice(&self.head[self.at..self.at + n]);
            self.at += n;
            return Ok(n);
        }
        self.inner.read(buf)
    }
}

/// Opens `body` (at most `max_object` bytes as stored): gunzipped when it starts with the
/// gzip magic, capped at `max_decompressed` bytes, buffered; with its first [`HEAD`]
/// decompressed bytes (fewer when it is shorter), which are still to be read.
pub(crate) fn open<R: Read>(
    body: R,
    max_object: u64,
    max_decompressed: u64,
) -> Result<(Vec<u8>, Content<R>), SourceError> {
    let mut raw = open_raw(body, max_object, max_decompressed)?;
    let mut head = vec![0u8; HEAD];
    let mut got = 0;
    while got < HEAD {
        match raw.read(&mut head[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(classify(&e, "reading the object")),
        }
    }
    head.truncate(got);
    let content = BufReader::with_capacity(
        BUFFER,
        Prefixed {
            head: head.clone(),
            at: 0,
            inner: raw,
        },
    );
    Ok((head, content))
}

fn open_raw<R: Read>(
    body: R,
    max_object: u64,
    max_decompressed: u64,
) -> Result<Raw<R>, SourceError> {
    let mut tracked = Tracked {
        inner: body,
        read: 0,
        max: max_object,
    };
    let mut head = Vec::with_capacity(2);
    while head.len() < 2 {
        let mut b = [0u8; 2];
        let n = tracked
            .read(&mut b[..2 - head.len()])
            .map_err(|e| classify(&e, "reading the object"))?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&b[..n]);
    }
    let gzip = head == cwlogs_decode::GZIP_MAGIC;
    let prefixed = Prefixed {
        head,
        at: 0,
        inner: tracked,
    };
    let decoder = if gzip {
        Decoder::Gzip(Box::new(flate2::read::MultiGzDecoder::new(prefixed)))
    } else {
        Decoder::Plain(prefixed)
    };
    Ok(Limited {
        inner: decoder,
        read: 0,
        max: max_decompressed,
    })
}

/// Whether the content was gzip.
pub(crate) fn is_gzip<R: Read>(content: &Content<R>) -> bool {
    matches!(content.get_ref().inner.inner, Decoder::Gzip(_))
}

/// Bytes read from the body so far (as stored) and decompressed so far.
pub(crate) fn counts<R: Read>(content: &Content<R>) -> (u64, u64) {
    let limited = &content.get_ref().inner;
    let stored = match &limited.inner {
        Decoder::Plain(p) => p.inner.read,
        Decoder::Gzip(g) => g.get_ref().inner.read,
    };
    (stored, limited.read)
}

/// What an I/O error met while reading means: the body failed (retry), a cap was passed, or
/// the data is not valid gzip (both for good).
pub(crate) fn classify(e: &io::Error, doing: &str) -> SourceError {
    if let Some(inner) = e.get_ref() {
        if let Some(b) = inner.downcast_ref::<BodyError>() {
            return SourceError::new(SourceErrorKind::Read, format!("{doing}: {b}"));
        }
        if let Some(c) = inner.downcast_ref::<Capped>() {
            return SourceError::new(SourceErrorKind::TooLarge, c.0.clone());
        }
    }
    let detail = match e.kind() {
        io::ErrorKind::UnexpectedEof => "truncated gzip stream".to_string(),
        _ => format!("corrupt gzip stream: {e}"),
    };
    SourceError::new(SourceErrorKind::Gzip, detail)
}

/// Reads the next line (without its `\n` and any `\r` before it) into `buf`; false at the end.
/// A line longer than [`MAX_RECORD_BYTES`] fails.
pub(crate) fn read_line<B: BufRead>(r: &mut B, buf: &mut Vec<u8>) -> Result<bool, SourceError> {
    buf.clear();
    loop {
        let available = match r.fill_buf() {
            Ok(a) => a,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(classify(&e, "reading the object")),
        };
        if available.is_empty() {
            return Ok(!buf.is_empty());
        }
        let (take, done) = match memchr::memchr(b'\n', available) {
            Some(i) => (i + 1, true),
            None => (available.len(), false),
        };
        if buf.len() + take > MAX_RECORD_BYTES + 1 {
            return Err(SourceError::new(
                SourceErrorKind::Format,
                format!("a line is longer than {MAX_RECORD_BYTES} bytes"),
            ));
        }
        buf.extend_from_slice(&available[..take]);
        r.consume(take);
        if done {
            buf.pop();
            if buf.last() == Some(&b'\r') {
                buf.pop();
            }
            return Ok(true);
        }
    }
}

/// Reads the elements of the `Records` array of a CloudTrail log file
/// (`{"Records": [{...}, ...]}`) one at a time, without holding more than one.
#[derive(Debug, Default)]
pub(crate) struct RecordsArray {
    state: ArrayState,
}

#[derive(Debug, Default, PartialEq, Eq)]
enum ArrayState {
    #[default]
    Start,
    First,
    Next,
    Done,
}

/// One element read by [`RecordsArray::next`]: where its top-level `eventTime` string is in
/// the buffer, when it has one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Element {
    pub(crate) event_time: Option<(usize, usize)>,
}

impl RecordsArray {
    /// Reads the next element into `buf`; `None` after the last.
    pub(crate) fn next<B: BufRead>(
        &mut self,
        r: &mut B,
        buf: &mut Vec<u8>,
    ) -> Result<Option<Element>, SourceError> {
        buf.clear();
        let mut s = Scanner { r };
        if self.state == ArrayState::Start {
            s.find_records()?;
            self.state = ArrayState::First;
        }
        if self.state == ArrayState::Done {
            return Ok(None);
        }
        match s.skip_ws()? {
            Some(b']') => {
                s.r.consume(1);
                self.state = ArrayState::Done;
                return Ok(None);
            }
            Some(b',') if self.state == ArrayState::Next => {
                s.r.consume(1);
            }
            Some(_) if self.state == ArrayState::First => {}
            Some(b) => {
                return Err(format_error(format!(
                    "`Records`: expected `,` or `]` between records, found `{}`",
                    b.escape_ascii()
                )));
            }
            None => return Err(truncated()),
        }
        if self.state == ArrayState::Next {
            s.skip_ws()?.ok_or_else(truncated)?;
        }
        self.state = ArrayState::Next;
        let element = s.value(buf)?;
        if buf.is_empty() {
            return Err(format_error("`Records` holds an empty element".into()));
        }
        Ok(Some(element))
    }
}

fn format_error(message: String) -> SourceError {
    SourceError::new(SourceErrorKind::Format, message)
}

fn truncated() -> SourceError {
    format_error("the CloudTrail log file ends inside its `Records` array".into())
}

struct Scanner<'r, B> {
    r: &'r mut B,
}

impl<B: BufRead> Scanner<'_, B> {
    /// The next byte, not consumed; `None` at the end.
    fn peek(&mut self) -> Result<Option<u8>, SourceError> {
        loop {
            match self.r.fill_buf() {
                Ok(a) => return Ok(a.first().copied()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(classify(&e, "reading the object")),
            }
        }
    }

    /// Skips JSON whitespace; the next byte, not consumed.
    fn skip_ws(&mut self) -> Result<Option<u8>, SourceError> {
        loop {
            match self.peek()? {
                Some(b' ' | b'\t' | b'\n' | b'\r') => self.r.consume(1),
                other => return Ok(other),
            }
        }
    }

    fn expect(&mut self, want: u8, what: &str) -> Result<(), SourceError> {
        match self.skip_ws()? {
            Some(b) if b == want => {
                self.r.consume(1);
                Ok(())
            }
            Some(b) => Err(format_error(format!(
                "not a CloudTrail log file: expected {what}, found `{}`",
                b.escape_ascii()
            ))),
            None => Err(format_error(format!(
                "not a CloudTrail log file: it ends where {what} was expected"
            ))),
        }
    }

    /// Reads `{` and the members before `"Records"`, up to and including its `[`.
    fn find_records(&mut self) -> Result<(), SourceError> {
        self.expect(b'{', "`{`")?;
        let mut key = Vec::new();
        loop {
            match self.skip_ws()? {
                Some(b'"') => {}
                Some(b'}') => {
                    return Err(format_error(
                        "not a CloudTrail log file: the object has no `Records`".into(),
                    ));
                }
                _ => return Err(format_error("not a CloudTrail log file".into())),
            }
            key.clear();
            self.value(&mut key)?;
            self.expect(b':', "`:`")?;
            if key == b"\"Records\"" {
                return match self.skip_ws()? {
                    Some(b'[') => {
                        self.r.consume(1);
                        Ok(())
                    }
                    Some(b) => Err(format_error(format!(
                        "`Records` is {}, not an array",
                        kind_of(b)
                    ))),
                    None => Err(truncated()),
                };
            }
            let mut skipped = Vec::new();
            self.skip_ws()?;
            self.value(&mut skipped)?;
            match self.skip_ws()? {
                Some(b',') => self.r.consume(1),
                _ => {
                    return Err(format_error(
                        "not a CloudTrail log file: the object has no `Records`".into(),
                    ));
                }
            }
        }
    }

    /// Copies one JSON value (the next non-blank byte starts it) into `buf`, checking only its
    /// structure (brackets and strings; `serde_json` validates it later), and notes where the
    /// string value of a top-level `eventTime` key is.
    fn value(&mut self, buf: &mut Vec<u8>) -> Result<Element, SourceError> {
        let mut element = Element { event_time: None };
        let mut depth = 0usize;
        let mut in_str = false;
        let mut esc = false;
        // At depth 1 of an object: whether the next string is a key, the last key was
        // `eventTime`, and where the current string started.
        let mut expect_key = false;
        let mut time_key = false;
        let mut str_start = 0usize;
        let mut str_is_key = false;
        let first = self.skip_ws()?.ok_or_else(truncated)?;
        let scalar = !matches!(first, b'{' | b'[' | b'"');
        loop {
            let available = match self.r.fill_buf() {
                Ok(a) => a,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(classify(&e, "reading the object")),
            };
            if available.is_empty() {
                if scalar && !buf.is_empty() {
                    return Ok(element);
                }
                return Err(truncated());
            }
            let mut end = None;
            let mut i = 0;
            while i < available.len() {
                let b = available[i];
                i += 1;
                if in_str && !esc && b != b'"' && b != b'\\' {
                    // Inside a string: jump to its next quote or backslash.
                    match memchr::memchr2(b'"', b'\\', &available[i..]) {
                        Some(n) => i += n,
                        None => i = available.len(),
                    }
                    continue;
                }
                let i = i - 1;
                if in_str {
                    if esc {
                        esc = false;
                    } else if b == b'\\' {
                        esc = true;
                    } else if b == b'"' {
                        in_str = false;
                        let at = buf.len() + i;
                        if depth == 1 && str_is_key {
                            // The key's bytes, quotes excluded, are in `buf` or this slice.
                            time_key = at - str_start == 9 && {
                                let mut k = [0u8; 9];
                                for (j, slot) in k.iter_mut().enumerate() {
                                    let p = str_start + j;
                                    *slot = if p < buf.len() {
                                        buf[p]
                                    } else {
                                        available[p - buf.len()]
                                    };
                                }
                                &k == b"eventTime"
                            };
                            expect_key = false;
                        } else if depth == 1 && time_key {
                            element.event_time = Some((str_start, at));
                            time_key = false;
                        }
                        if depth == 0 {
                            end = Some(i + 1);
                            break;
                        }
                    }
                    continue;
                }
                match b {
                    b'"' => {
                        in_str = true;
                        str_start = buf.len() + i + 1;
                        str_is_key = depth == 1 && expect_key;
                    }
                    b'{' | b'[' => {
                        depth += 1;
                        if depth > 512 {
                            return Err(format_error(
                                "a CloudTrail record nests deeper than 512 levels".into(),
                            ));
                        }
                        expect_key = depth == 1 && b == b'{';
                    }
                    b'}' | b']' => {
                        if depth == 0 {
                            end = Some(i);
                            break;
                        }
                        depth -= 1;
                        if depth == 0 {
                            end = Some(i + 1);
                            break;
                        }
                    }
                    b',' if depth == 1 => {
                        expect_key = true;
                        time_key = false;
                    }
                    b',' if depth == 0 => {
                        end = Some(i);
                        break;
                    }
                    b':' => {}
                    b' ' | b'\t' | b'\n' | b'\r' if depth == 0 && scalar => {
                        end = Some(i);
                        break;
                    }
                    _ => {
                        if depth == 1 {
                            // A number, `true`... as a value: not a time.
                            time_key = time_key && !b.is_ascii_alphanumeric();
                        }
                    }
                }
            }
            let take = end.unwrap_or(available.len());
            if buf.len() + take > MAX_RECORD_BYTES {
                return Err(format_error(format!(
                    "a CloudTrail record is longer than {MAX_RECORD_BYTES} bytes"
                )));
            }
            buf.extend_from_slice(&available[..take]);
            self.r.consume(take);
            if end.is_some() {
                return Ok(element);
            }
        }
    }
}

fn kind_of(b: u8) -> &'static str {
    match b {
        b'{' => "an object",
        b'"' => "a string",
        b't' | b'f' => "a boolean",
        b'n' => "null",
        _ => "a number",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    fn records(text: &str) -> Result<Vec<(String, Option<String>)>, SourceError> {
        let mut r = BufReader::with_capacity(7, text.as_bytes());
        let mut a = RecordsArray::default();
        let mut buf = Vec::new();
        let mut out = Vec::new();
        while let Some(e) = a.next(&mut r, &mut buf)? {
            let t = e
                .event_time
                .map(|(s, e)| String::from_utf8_lossy(&buf[s..e]).into_owned());
            out.push((String::from_utf8_lossy(&buf).into_owned(), t));
        }
        Ok(out)
    }

    #[test]
    fn records_one_at_a_time_with_their_time() {
        let text = r#" { "x": {"Records": 1}, "Records" : [ {"eventVersion":"1.08","a":{"eventTime":"no"},"eventTime":"2025-11-25T00:00:01Z","s":"a\"],}"} ,
            {"eventTime" : "2025-11-25T00:00:02Z"}, {"eventTime":5}, {} ] }"#;
        let got = records(text).expect("valid");
        assert_eq!(got.len(), 4);
        assert!(got[0].0.starts_with("{\"eventVersion\"") && got[0].0.ends_with("}\"}"));
        assert_eq!(got[0].1.as_deref(), Some("2025-11-25T00:00:01Z"));
        assert_eq!(got[1].1.as_deref(), Some("2025-11-25T00:00:02Z"));
        assert_eq!(got[2].1, None);
        assert_eq!(got[3], ("{}".to_string(), None));
        assert!(records(r#"{"Records":[]}"#).expect("empty").is_empty());
    }

    #[test]
    fn records_that_are_not_an_array_or_cut_short() {
        for (text, what) in [
            (
                r#"{"Records":{"a":1}}"#,
                "`Records` is an object, not an array",
            ),
            (r#"{"Records":"x"}"#, "`Records` is a string, not an array"),
            (r#"{"Records":null}"#, "`Records` is null, not an array"),
            (r#"{"other":[1]}"#, "has no `Records`"),
            (r#"[1,2]"#, "expected `{`"),
            (
                r#"{"Records":[{"a":1},{"b""#,
                "ends inside its `Records` array",
            ),
            (r#"{"Records":[{"a":1} {"b":1}]}"#, "expected `,` or `]`"),
        ] {
            let e = records(text).expect_err(text);
            assert_eq!(e.kind, SourceErrorKind::Format, "{text}");
            assert!(e.message.contains(what), "{text}: {e}");
        }
    }

    #[test]
    fn lines_and_caps() {
        let mut r = BufReader::with_capacity(3, &b"a\r\nbc\n\nlast"[..]);
        let mut buf = Vec::new();
        let mut lines = Vec::new();
        while read_line(&mut r, &mut buf).expect("read") {
            lines.push(String::from_utf8_lossy(&buf).into_owned());
        }
        assert_eq!(lines, ["a", "bc", "", "last"]);

        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&vec![b'x'; 10_000]).expect("gzip");
        let gz = gz.finish().expect("gzip");
        let e = open(&gz[..], 1 << 20, 5_000)
            .err()
            .expect("over the cap in the head");
        assert_eq!(e.kind, SourceErrorKind::TooLarge);
        let (_, mut c) = open(&gz[..], 1 << 20, 9_000).expect("open");
        assert!(is_gzip(&c));
        let e = read_line(&mut c, &mut buf).expect_err("over the cap");
        assert_eq!(e.kind, SourceErrorKind::TooLarge);
        let e = open(&gz[..], 10, 1 << 20)
            .err()
            .expect("stored size over the cap");
        assert_eq!(e.kind, SourceErrorKind::TooLarge);
        let (_, mut c) = open(&gz[..gz.len() - 12], 1 << 20, 1 << 20).expect("the head reads");
        let e = read_line(&mut c, &mut buf).expect_err("truncated");
        assert_eq!(
            (e.kind, e.message.as_str()),
            (SourceErrorKind::Gzip, "truncated gzip stream")
        );
    }

    #[test]
    fn body_errors_are_retryable() {
        struct Broken;
        impl Read for Broken {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::new(
                    io::ErrorKind::ConnectionReset,
                    "reset by peer",
                ))
            }
        }
        let e = open(Broken, 10, 10).err().expect("fails at once");
        assert_eq!(e.kind, SourceErrorKind::Read);
        assert!(
            e.is_retryable() && e.message.contains("reset by peer"),
            "{e}"
        );
        // Through the decoder too.
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(b"hello\n").expect("gzip");
        let gz = gz.finish().expect("gzip");
        let body = (&gz[..4]).chain(Broken);
        let e = open(body, 1 << 20, 1 << 20).err().expect("broken body");
        assert_eq!(e.kind, SourceErrorKind::Read, "{e}");
    }
}
