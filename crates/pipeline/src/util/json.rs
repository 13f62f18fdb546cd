//! Writing JSON by splicing, without building a DOM: one string quoter for every builder
//! (documents, archive lines, index actions, EMF lines), byte for byte as `serde_json` writes.

/// Appends `s` as a JSON string literal, byte for byte as `serde_json` writes it (`\"`, `\\`,
/// `\b \t \n \f \r`, `\u00XX` for other control characters), scanning eight bytes at a time
/// for the few that need escaping.
pub fn push_str(out: &mut Vec<u8>, s: &str) {
    #[inline(always)]
    fn escape(out: &mut Vec<u8>, b: u8) {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            0x08 => out.extend_from_slice(b"\\b"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            0x0c => out.extend_from_slice(b"\\f"),
            b'\r' => out.extend_from_slice(b"\\r"),
            _ => out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(b >> 4)],
                HEX[usize::from(b & 15)],
            ]),
        }
    }
    let bytes = s.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut run = 0; // start of the bytes not yet copied
    let mut words = bytes.chunks_exact(8);
    let mut at = 0;
    for word in &mut words {
        let mut hits = to_escape(word);
        while hits != 0 {
            let j = at + (hits.trailing_zeros() / 8) as usize;
            out.extend_from_slice(&bytes[run..j]);
            escape(out, bytes[j]);
            run = j + 1;
            hits &= hits - 1;
        }
        at += 8;
    }
    for (k, &b) in words.remainder().iter().enumerate() {
        if b == b'"' || b == b'\\' || b < 0x20 {
            let j = at + k;
            out.extend_from_slice(&bytes[run..j]);
            escape(out, b);
            run = j + 1;
        }
    }
    out.extend_from_slice(&bytes[run..]);
    out.push(b'"');
}

/// The high bit of each byte of an eight-byte `word` that a JSON string escapes: `"`, `\\`
/// or a control character (below 0x20), exactly.
#[inline(always)]
fn to_escape(word: &[u8]) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(word);
    let x = u64::from_le_bytes(w);
    zero_bytes(x ^ splat(b'"')) | zero_bytes(x ^ splat(b'\\')) | zero_bytes(x & splat(0xe0))
}

const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;

pub(crate) const fn splat(b: u8) -> u64 {
    0x0101_0101_0101_0101 * b as u64
}

/// The high bit of each byte of `x` that is zero, exactly (no borrow between bytes).
pub(crate) fn zero_bytes(x: u64) -> u64 {
    !(((x & LOW7) + LOW7) | x | LOW7)
}

/// The length of the longest prefix of `bytes` that a JSON string holds as is: up to the first
/// `"`, `\\` or control character (below 0x20), found eight bytes at a time; `bytes.len()` when
/// there is none.
pub fn plain_len(bytes: &[u8]) -> usize {
    let mut words = bytes.chunks_exact(8);
    let mut at = 0;
    for word in &mut words {
        let hits = first_to_escape(word);
        if hits != 0 {
            return at + (hits.trailing_zeros() / 8) as usize;
        }
        at += 8;
    }
    at + words
        .remainder()
        .iter()
        .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
        .unwrap_or(words.remainder().len())
}

/// Like [`to_escape`], exact for the lowest byte only (which is all [`plain_len`] reads), in
/// fewer steps: `(v - 0x01..) & !v` flags the first zero byte of `v` exactly (no borrow
/// reaches it from below) and may flag bytes above it; `(x - 0x20..) & !x` the same for the
/// first byte below 0x20.
#[inline(always)]
fn first_to_escape(word: &[u8]) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(word);
    let x = u64::from_le_bytes(w);
    let (q, b) = (x ^ splat(b'"'), x ^ splat(b'\\'));
    (q.wrapping_sub(splat(1)) & !q
        | b.wrapping_sub(splat(1)) & !b
        | x.wrapping_sub(splat(0x20)) & !x)
        & splat(0x80)
}

/// Whether `bytes` holds a control character (below 0x20), eight bytes at a time.
pub(crate) fn has_control(bytes: &[u8]) -> bool {
    let mut words = bytes.chunks_exact(8);
    let mut found = 0;
    for word in &mut words {
        let mut w = [0u8; 8];
        w.copy_from_slice(word);
        found |= zero_bytes(u64::from_le_bytes(w) & splat(0xe0));
    }
    found != 0 || words.remainder().iter().any(|&b| b < 0x20)
}

/// Appends `s` as a JSON string literal to a `String`.
pub(crate) fn push_str_to_string(out: &mut String, s: &str) {
    let mut v = Vec::with_capacity(s.len() + 2);
    push_str(&mut v, s);
    // Escaping only adds ASCII to valid UTF-8.
    out.push_str(std::str::from_utf8(&v).unwrap_or_default());
}

/// Appends a decimal integer.
pub(crate) fn push_int(out: &mut Vec<u8>, n: i64) {
    out.extend_from_slice(n.to_string().as_bytes());
}

/// Appends an unsigned decimal integer, without allocating: the digits are written into a
/// 20-byte buffer from its start, which is copied whole (a fixed-size copy, no call to
/// `memcpy` and its mispredicted size dispatch) and cut back to the digits.
#[inline]
pub(crate) fn push_u64(out: &mut Vec<u8>, n: u64) {
    let len = n.checked_ilog10().map_or(1, |l| l as usize + 1);
    let mut digits = [b'0'; 20];
    let mut m = n;
    for at in (0..len).rev() {
        digits[at] = b'0' + (m % 10) as u8;
        m /= 10;
    }
    let end = out.len() + len;
    out.extend_from_slice(&digits);
    out.truncate(end);
}

/// Appends `"key":` for a key that needs no escaping (a constant of the crate).
pub(crate) fn push_key(out: &mut Vec<u8>, key: &str) {
    out.push(b'"');
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(b"\":");
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn plain_len_stops_at_what_needs_escaping() {
        for (s, n) in [
            ("", 0),
            ("abc", 3),
            ("abcdefghijk\"x", 11),
            ("abcdefgh\\", 8),
            ("a\u{1f}", 1),
            ("é ü long enough to take words", 31),
            ("\"", 0),
        ] {
            assert_eq!(plain_len(s.as_bytes()), n, "{s:?}");
        }
    }

    #[test]
    fn escapes() {
        let mut v = Vec::new();
        push_str(&mut v, "a\"b\\c\n\t\u{1}\u{8}\u{c}\r\u{1f}é");
        assert_eq!(
            String::from_utf8(v).expect("utf8"),
            r#""a\"b\\c\n\t\u0001\b\f\r\u001fé""#
        );
        let mut s = String::from("x");
        push_str_to_string(&mut s, "\"");
        assert_eq!(s, r#"x"\"""#);
    }

    #[test]
    fn unsigned_integers() {
        for n in [0, 7, 10, 99, 65_535, u64::MAX] {
            let mut v = Vec::new();
            push_u64(&mut v, n);
            assert_eq!(v, n.to_string().into_bytes());
        }
    }

    proptest! {
        /// The word-at-a-time quoter writes exactly what serde_json writes.
        #[test]
        fn same_bytes_as_serde_json(s in "(?s).{0,40}", ctl in proptest::collection::vec(0u8..0x20, 0..4)) {
            let mut text = s;
            for c in ctl {
                text.push(char::from(c));
                text.push('"');
            }
            let mut ours = Vec::new();
            push_str(&mut ours, &text);
            prop_assert_eq!(ours, serde_json::to_vec(&text).expect("a str serializes"));
            let first = text.bytes().position(|b| b == b'"' || b == b'\\' || b < 0x20);
            prop_assert_eq!(plain_len(text.as_bytes()), first.unwrap_or(text.len()));
        }

        /// The first byte to escape, wherever it lies in a word and whatever lies around it
        /// (bytes just above and below each class boundary, in any order).
        #[test]
        fn plain_len_finds_the_first_byte_to_escape(
            bytes in proptest::collection::vec(
                proptest::sample::select(vec![0u8, 1, 0x1f, 0x20, 0x21, b'"', b'#', b'[', b'\\', b']', b'a', 0x7f, 0x80, 0xa2, 0xdc, 0xe0, 0xff]),
                0..40,
            )
        ) {
            let first = bytes.iter().position(|&b| b == b'"' || b == b'\\' || b < 0x20);
            prop_assert_eq!(plain_len(&bytes), first.unwrap_or(bytes.len()));
        }
    }
}
