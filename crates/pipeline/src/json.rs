//! Small helpers for writing JSON by splicing, without building a DOM.

/// Appends `s` as a JSON string literal (quoted and escaped).
pub(crate) fn push_str(out: &mut Vec<u8>, s: &str) {
    // Serializing a `str` into a `Vec` has no failure path (no I/O error, no map keys).
    serde_json::to_writer(&mut *out, s).expect("serializing a str into a Vec cannot fail");
}

/// Appends `s` as a JSON string literal to a `String`.
pub(crate) fn push_json_str(out: &mut String, s: &str) {
    let mut v = Vec::with_capacity(s.len() + 2);
    push_str(&mut v, s);
    // serde_json writes valid UTF-8.
    out.push_str(std::str::from_utf8(&v).unwrap_or_default());
}

/// Appends a decimal integer.
pub(crate) fn push_int(out: &mut Vec<u8>, n: i64) {
    out.extend_from_slice(n.to_string().as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes() {
        let mut v = Vec::new();
        push_str(&mut v, "a\"b\\c\n\t\u{1}é");
        assert_eq!(
            String::from_utf8(v).expect("utf8"),
            r#""a\"b\\c\n\t\u0001é""#
        );
    }
}
