//! Lambda runtime lines: `TIMESTAMP\tREQUEST_ID\tLEVEL\ttext` (Node.js) and
//! `[LEVEL]\tTIMESTAMP\tREQUEST_ID\ttext` (Python), recognised without a regex.

/// The parts of a Lambda runtime log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct LambdaPrefix<'a> {
    pub(super) level: &'a str,
    pub(super) request_id: &'a str,
    /// The text after the prefix.
    pub(super) rest: &'a str,
}

/// Recognises `TIMESTAMP\tREQUEST_ID\tLEVEL\ttext` (Node.js) and
/// `[LEVEL]\tTIMESTAMP\tREQUEST_ID\ttext` (Python), strictly: an ISO 8601 timestamp, a UUID
/// and an uppercase word, so that other tab-separated lines are not misread.
pub(super) fn lambda_prefix(message: &str) -> Option<LambdaPrefix<'_>> {
    let b = message.as_bytes();
    let (level, ts, id, rest) = if b.first() == Some(&b'[') {
        let end = message.get(..16)?.find("]\t").unwrap_or(usize::MAX);
        let level = message.get(1..end)?;
        let mut parts = message[end + 2..].splitn(3, '\t');
        (level, parts.next()?, parts.next()?, parts.next()?)
    } else {
        // Cheap reject first: `YYYY-MM-DDT`.
        if b.len() < 60 || b[4] != b'-' || b[10] != b'T' {
            return None;
        }
        let mut parts = message.splitn(4, '\t');
        let (ts, id, level) = (parts.next()?, parts.next()?, parts.next()?);
        (level, ts, id, parts.next()?)
    };
    (is_level(level) && is_iso_timestamp(ts) && is_uuid(id)).then_some(LambdaPrefix {
        level,
        request_id: id,
        rest,
    })
}

pub(super) fn is_level(s: &str) -> bool {
    (2..=10).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_uppercase())
}

/// `YYYY-MM-DDTHH:MM:SS`, optional `.fraction` (1-9 digits), then `Z` or `+HH:MM` / `-HH:MM`.
pub(crate) fn is_iso_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() < 20 {
        return false;
    }
    let digits =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|d| d.iter().all(u8::is_ascii_digit));
    let shape = digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b'T'
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19);
    if !shape {
        return false;
    }
    let mut rest = &b[19..];
    if let Some(frac) = rest.strip_prefix(b".") {
        let n = frac.iter().take_while(|c| c.is_ascii_digit()).count();
        if !(1..=9).contains(&n) {
            return false;
        }
        rest = &frac[n..];
    }
    match rest {
        b"Z" => true,
        [b'+' | b'-', h1, h2, b':', m1, m2] => [h1, h2, m1, m2].iter().all(|c| c.is_ascii_digit()),
        _ => false,
    }
}

/// `8-4-4-4-12` hex digits.
pub(super) fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}
