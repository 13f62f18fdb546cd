//! Source text to [`Ast`]: classification (spec §2), terms (§3), JSON (§5), space-delimited (§6).
//!
//! Every loop advances by at least one character and the only recursion (JSON parentheses) is
//! bounded by [`crate::MAX_NESTING`], so parsing is linear in the pattern length and cannot
//! overflow the stack.

use crate::ast::*;
use crate::aws_regex;
use crate::error::{Error, ErrorKind};

/// Longest pattern CloudWatch accepts, in characters.
pub const MAX_PATTERN_CHARS: usize = 1024;

fn err<T>(src: &str, kind: ErrorKind, start: usize, end: usize) -> Result<T, Error> {
    Err(Error::new(kind, src, start..end))
}

fn invalid_chars<T>(src: &str, start: usize, end: usize) -> Result<T, Error> {
    let term = src[start..end].to_string();
    err(src, ErrorKind::InvalidCharacters { term }, start, end)
}

/// End of the char starting at byte `i`.
fn next_char_end(s: &str, i: usize) -> usize {
    s[i..].chars().next().map_or(i, |c| i + c.len_utf8())
}

fn is_space(c: char) -> bool {
    c.is_whitespace()
}

/// Characters allowed in an unquoted term (decision §10.4): alphanumerics (any script), `_`, and
/// the punctuation that is harmless in a word. `*` and `,` are observed to be rejected; `"`, `%`,
/// `?` and the grouping characters have a meaning elsewhere and must be quoted.
pub(crate) fn is_term_char(c: char) -> bool {
    c.is_alphanumeric()
        || matches!(
            c,
            '_' | '-'
                | '.'
                | ':'
                | '/'
                | '@'
                | '#'
                | '='
                | '+'
                | '\''
                | ';'
                | '!'
                | '~'
                | '^'
                | '&'
                | '<'
                | '>'
                | '\\'
                | '$'
                | '|'
        )
}

/// Characters of a JSON member name after `.` and of a space-delimited field name.
fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

/// Characters of an unquoted value (JSON and space-delimited).
fn is_word_char(c: char) -> bool {
    c.is_alphanumeric()
        || matches!(
            c,
            '_' | '-' | '.' | '*' | '+' | '/' | '@' | '#' | '\'' | ';' | '~' | '^' | '?'
        )
}

/// Is `s` a number literal: optional sign, digits, optional fraction, optional exponent?
pub(crate) fn is_number_literal(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        i += 1;
    }
    let d0 = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    if i == d0 {
        return false;
    }
    if i < b.len() && b[i] == b'.' {
        i += 1;
        let f0 = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == f0 {
            return false;
        }
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        let e0 = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == e0 {
            return false;
        }
    }
    i == b.len()
}

/// Parses a filter pattern.
pub fn parse(src: &str) -> Result<Ast, Error> {
    let chars = src.chars().count();
    if chars > MAX_PATTERN_CHARS {
        return err(src, ErrorKind::TooLong { chars }, 0, src.len());
    }
    let start = src.len() - src.trim_start_matches(is_space).len();
    let ast = match src[start..].chars().next() {
        None => return Ok(Ast::MatchAll),
        Some('{') => parse_json(src, start)?,
        Some('[') => parse_delimited(src, start)?,
        Some(_) => parse_terms(src, start)?,
    };
    check_regex_quota(src, &ast)?;
    Ok(ast)
}

/// All regex literals of a tree, in source order.
pub(crate) fn regexes(ast: &Ast) -> Vec<&RegexLit> {
    fn json<'a>(e: &'a JsonExpr, out: &mut Vec<&'a RegexLit>) {
        match e {
            JsonExpr::Or(xs) | JsonExpr::And(xs) => xs.iter().for_each(|x| json(x, out)),
            JsonExpr::Group(x) => json(x, out),
            JsonExpr::Test(_, JsonTest::Compare(_, Value::Regex(r))) => out.push(r),
            JsonExpr::Test(..) => {}
        }
    }
    let mut out = Vec::new();
    match ast {
        Ast::MatchAll => {}
        Ast::Terms(ts) => {
            for t in ts {
                if let TermBody::Regex(r) = &t.body {
                    out.push(r);
                }
            }
        }
        Ast::Json(e) => json(e, &mut out),
        Ast::Delimited(fs) => {
            for f in fs {
                if let Field::Conditions(ors, _) = f {
                    for c in ors.iter().flatten() {
                        if let Value::Regex(r) = &c.value {
                            out.push(r);
                        }
                    }
                }
            }
        }
    }
    out
}

fn check_regex_quota(src: &str, ast: &Ast) -> Result<(), Error> {
    if let Some(third) = regexes(ast).get(crate::MAX_REGEXES) {
        return err(
            src,
            ErrorKind::TooManyRegexes,
            third.span.start,
            third.span.end,
        );
    }
    Ok(())
}

/// Reads `%...%` starting at `at` (which holds `%`). Returns the literal and the end offset.
/// `limit` is the end of the region the regex must close in.
fn parse_regex_lit(src: &str, at: usize, limit: usize) -> Result<(RegexLit, usize), Error> {
    let body_start = at + 1;
    let close = src[body_start..limit].find('%').map(|i| body_start + i);
    let body_end = close.unwrap_or(limit);
    if let Some(bad) = aws_regex::first_invalid_char(&src[body_start..body_end]) {
        let bad = body_start + bad;
        return invalid_chars(src, at, next_char_end(src, bad));
    }
    let Some(close) = close else {
        return invalid_chars(src, at, limit);
    };
    let lit = RegexLit {
        source: src[body_start..close].to_string(),
        span: Span::new(at, close + 1),
    };
    Ok((lit, close + 1))
}

// ---------------------------------------------------------------------------------------------
// Terms

fn parse_terms(src: &str, start: usize) -> Result<Ast, Error> {
    let mut terms = Vec::new();
    let mut i = start;
    let end = src.len();
    while i < end {
        let c = src[i..].chars().next().unwrap_or(' ');
        if is_space(c) {
            i += c.len_utf8();
            continue;
        }
        let tok = i;
        let prefix = match c {
            '-' => TermPrefix::Exclude,
            '?' => TermPrefix::Optional,
            _ => TermPrefix::Required,
        };
        if prefix != TermPrefix::Required {
            i += 1;
            if src[i..].chars().next().is_none_or(is_space) {
                return invalid_chars(src, tok, i);
            }
        }
        let c = src[i..].chars().next().unwrap_or(' ');
        let body = match c {
            '"' => {
                let Some(close) = src[i + 1..].find('"').map(|k| i + 1 + k) else {
                    return invalid_chars(src, i, src.trim_end_matches(is_space).len());
                };
                let text = src[i + 1..close].to_string();
                i = close + 1;
                TermBody::Phrase(text)
            }
            '%' => {
                let (lit, after) = parse_regex_lit(src, i, end)?;
                i = after;
                TermBody::Regex(lit)
            }
            _ => {
                let w0 = i;
                while let Some(c) = src[i..].chars().next() {
                    if is_space(c) {
                        break;
                    }
                    if !is_term_char(c) {
                        if c == ',' {
                            return err(src, ErrorKind::InvalidFilterPattern, i, i + 1);
                        }
                        let stop = src[i..].find(is_space).map_or(end, |k| i + k);
                        return invalid_chars(src, i, stop);
                    }
                    i += c.len_utf8();
                }
                TermBody::Word(src[w0..i].to_string())
            }
        };
        // A quoted phrase or regex must be followed by whitespace or the end.
        if let Some(c) = src[i..].chars().next()
            && !is_space(c)
        {
            if c == ',' {
                return err(src, ErrorKind::InvalidFilterPattern, i, i + 1);
            }
            let stop = src[i..].find(is_space).map_or(end, |k| i + k);
            return invalid_chars(src, i, stop);
        }
        terms.push(Term {
            prefix,
            body,
            span: Span::new(tok, i),
        });
    }
    Ok(Ast::Terms(terms))
}

// ---------------------------------------------------------------------------------------------
// JSON

#[derive(Debug)]
enum Tok {
    LParen,
    RParen,
    And,
    Or,
    Op(Op),
    Sel(Selector),
    Quoted(String),
    Regex(RegexLit),
    Word(String),
}

/// Reads a selector at `at` (which holds `$`). Stops at the first character that cannot continue
/// it. Returns the selector and its end.
pub(crate) fn parse_selector(
    src: &str,
    at: usize,
    limit: usize,
) -> Result<(Selector, usize), Error> {
    let b = src.as_bytes();
    let mut i = at + 1;
    let mut segments = Vec::new();
    loop {
        if i >= limit {
            break;
        }
        // Where AWS starts the quoted token of an error in this segment.
        let quote_from = if segments.is_empty() { at } else { i };
        match b[i] {
            b'.' => {
                let j = i + 1;
                if j < limit && b[j] == b'*' {
                    segments.push(Segment::AnyMember);
                    i = j + 1;
                } else if src[j..limit].starts_with("['") {
                    let k0 = j + 2;
                    let Some(close) = src[k0..limit].find("']").map(|k| k0 + k) else {
                        return invalid_chars(src, quote_from, limit);
                    };
                    segments.push(Segment::QuotedKey(src[k0..close].to_string()));
                    i = close + 2;
                } else {
                    let mut k = j;
                    while k < limit && is_name_char(b[k] as char) {
                        k += 1;
                    }
                    if k == j {
                        return invalid_chars(
                            src,
                            quote_from,
                            next_char_end(src, j.min(limit)).max(j),
                        );
                    }
                    segments.push(Segment::Name(src[j..k].to_string()));
                    i = k;
                }
            }
            b'[' => {
                let j = i + 1;
                if src[j..limit].starts_with("*]") {
                    segments.push(Segment::AnyElement);
                    i = j + 2;
                } else {
                    let mut k = j;
                    while k < limit && b[k].is_ascii_digit() {
                        k += 1;
                    }
                    if k == j || k >= limit || b[k] != b']' {
                        let bad_end = if k < limit {
                            next_char_end(src, k)
                        } else {
                            limit
                        };
                        return invalid_chars(src, quote_from, bad_end);
                    }
                    let Ok(n) = src[j..k].parse::<u32>() else {
                        return err(src, ErrorKind::InvalidMetricFilterPattern, i, k + 1);
                    };
                    segments.push(Segment::Index(n));
                    i = k + 1;
                }
            }
            _ => break,
        }
    }
    if segments.is_empty() {
        return err(src, ErrorKind::InvalidMetricFilterPattern, at, i);
    }
    let sel = Selector {
        segments,
        span: Span::new(at, i),
    };
    if sel.wildcards() > 1 {
        return err(src, ErrorKind::TooManyWildcardsInSelector, at, i);
    }
    Ok((sel, i))
}

/// Reads a comparison operator at `i`, if there is one. `==` is a structural error.
fn lex_op(src: &str, i: usize) -> Result<Option<(Op, usize)>, Error> {
    let rest = &src[i..];
    let two = |op| Ok(Some((op, i + 2)));
    if rest.starts_with("==") {
        return err(src, ErrorKind::InvalidMetricFilterPattern, i, i + 2);
    }
    if rest.starts_with("!=") {
        return two(Op::Ne);
    }
    if rest.starts_with("<=") {
        return two(Op::Le);
    }
    if rest.starts_with(">=") {
        return two(Op::Ge);
    }
    Ok(match rest.as_bytes().first() {
        Some(b'=') => Some((Op::Eq, i + 1)),
        Some(b'<') => Some((Op::Lt, i + 1)),
        Some(b'>') => Some((Op::Gt, i + 1)),
        _ => None,
    })
}

/// An invalid character at `i`: quote it together with the punctuation right after it.
fn bad_punct<T>(src: &str, i: usize, limit: usize) -> Result<T, Error> {
    let mut k = next_char_end(src, i);
    while let Some(c) = src[k..limit].chars().next() {
        if c.is_alphanumeric() || is_space(c) || matches!(c, '$' | '"' | '_') {
            break;
        }
        k += c.len_utf8();
    }
    invalid_chars(src, i, k)
}

fn lex_json(src: &str, start: usize, limit: usize) -> Result<Vec<(Tok, Span)>, Error> {
    let mut toks = Vec::new();
    let mut i = start;
    while i < limit {
        let c = src[i..].chars().next().unwrap_or(' ');
        if is_space(c) {
            i += c.len_utf8();
            continue;
        }
        let t0 = i;
        let tok = match c {
            '(' => {
                i += 1;
                Tok::LParen
            }
            ')' => {
                i += 1;
                Tok::RParen
            }
            '&' | '|' => {
                if src[i + 1..limit].starts_with(c) {
                    i += 2;
                    if c == '&' { Tok::And } else { Tok::Or }
                } else {
                    return bad_punct(src, i, limit);
                }
            }
            '$' => {
                let (sel, end) = parse_selector(src, i, limit)?;
                i = end;
                Tok::Sel(sel)
            }
            '"' => {
                let Some(close) = src[i + 1..limit].find('"').map(|k| i + 1 + k) else {
                    return invalid_chars(src, i, limit);
                };
                let s = src[i + 1..close].to_string();
                i = close + 1;
                Tok::Quoted(s)
            }
            '%' => {
                let (lit, end) = parse_regex_lit(src, i, limit)?;
                i = end;
                Tok::Regex(lit)
            }
            _ => {
                if let Some((op, end)) = lex_op(src, i)? {
                    i = end;
                    Tok::Op(op)
                } else if is_word_char(c) {
                    while let Some(c) = src[i..limit].chars().next() {
                        if !is_word_char(c) {
                            break;
                        }
                        i += c.len_utf8();
                    }
                    Tok::Word(src[t0..i].to_string())
                } else {
                    return bad_punct(src, i, limit);
                }
            }
        };
        toks.push((tok, Span::new(t0, i)));
    }
    Ok(toks)
}

struct JsonParser<'s> {
    src: &'s str,
    toks: Vec<(Tok, Span)>,
    pos: usize,
    /// Offset used for "unexpected end" errors.
    end: usize,
}

impl JsonParser<'_> {
    fn fail<T>(&self, kind: ErrorKind) -> Result<T, Error> {
        let span = self
            .toks
            .get(self.pos)
            .map_or(Span::new(self.end, self.end + 1), |t| t.1);
        err(self.src, kind, span.start, span.end)
    }

    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|t| &t.0)
    }

    fn expr(&mut self, depth: usize) -> Result<JsonExpr, Error> {
        let mut ors = vec![self.and(depth)?];
        while matches!(self.peek(), Some(Tok::Or)) {
            self.pos += 1;
            ors.push(self.and(depth)?);
        }
        Ok(if ors.len() == 1 {
            ors.pop().unwrap_or(JsonExpr::Or(Vec::new()))
        } else {
            JsonExpr::Or(ors)
        })
    }

    fn and(&mut self, depth: usize) -> Result<JsonExpr, Error> {
        let mut ands = vec![self.atom(depth)?];
        while matches!(self.peek(), Some(Tok::And)) {
            self.pos += 1;
            ands.push(self.atom(depth)?);
        }
        Ok(if ands.len() == 1 {
            ands.pop().unwrap_or(JsonExpr::And(Vec::new()))
        } else {
            JsonExpr::And(ands)
        })
    }

    fn atom(&mut self, depth: usize) -> Result<JsonExpr, Error> {
        match self.peek() {
            Some(Tok::LParen) => {
                if depth >= crate::MAX_NESTING {
                    return self.fail(ErrorKind::NestingTooDeep);
                }
                self.pos += 1;
                let inner = self.expr(depth + 1)?;
                if !matches!(self.peek(), Some(Tok::RParen)) {
                    return self.fail(ErrorKind::InvalidMetricFilterPattern);
                }
                self.pos += 1;
                Ok(JsonExpr::Group(Box::new(inner)))
            }
            Some(Tok::Sel(_)) => {
                let Some((Tok::Sel(sel), _)) = self.toks.get(self.pos) else {
                    return self.fail(ErrorKind::InvalidMetricFilterPattern);
                };
                let sel = sel.clone();
                self.pos += 1;
                let test = self.test()?;
                Ok(JsonExpr::Test(sel, test))
            }
            _ => self.fail(ErrorKind::InvalidMetricFilterPattern),
        }
    }

    fn word_at(&self, pos: usize) -> Option<&str> {
        match self.toks.get(pos) {
            Some((Tok::Word(w), _)) => Some(w),
            _ => None,
        }
    }

    fn test(&mut self) -> Result<JsonTest, Error> {
        match self.toks.get(self.pos) {
            Some((Tok::Op(op), _)) => {
                let op = *op;
                self.pos += 1;
                let value = match self.toks.get(self.pos) {
                    Some((Tok::Quoted(s), _)) => Value::Quoted(s.clone()),
                    Some((Tok::Regex(r), _)) => Value::Regex(r.clone()),
                    Some((Tok::Word(w), _)) if w != "null" => {
                        if is_number_literal(w) {
                            Value::Number(w.clone())
                        } else {
                            Value::Word(w.clone())
                        }
                    }
                    _ => return self.fail(ErrorKind::InvalidMetricFilterPattern),
                };
                if op.is_ordering() && !matches!(value, Value::Number(_)) {
                    // AWS quotes the value: `Invalid character(s) in term '"Alpha"'`.
                    let span = self.toks[self.pos].1;
                    return invalid_chars(self.src, span.start, span.end);
                }
                self.pos += 1;
                Ok(JsonTest::Compare(op, value))
            }
            Some((Tok::Word(w), _)) if w == "IS" => {
                self.pos += 1;
                let t = match self.word_at(self.pos) {
                    Some("NULL") => JsonTest::IsNull,
                    Some("TRUE") => JsonTest::IsTrue,
                    Some("FALSE") => JsonTest::IsFalse,
                    Some(other) => {
                        let term = other.to_string();
                        return self.fail(ErrorKind::InvalidCharacters { term });
                    }
                    None => return self.fail(ErrorKind::InvalidMetricFilterPattern),
                };
                self.pos += 1;
                Ok(t)
            }
            Some((Tok::Word(w), _)) if w == "NOT" => {
                self.pos += 1;
                if self.word_at(self.pos) != Some("EXISTS") {
                    return self.fail(ErrorKind::InvalidMetricFilterPattern);
                }
                self.pos += 1;
                Ok(JsonTest::NotExists)
            }
            _ => self.fail(ErrorKind::InvalidMetricFilterPattern),
        }
    }
}

fn parse_json(src: &str, open: usize) -> Result<Ast, Error> {
    let trimmed = src.trim_end_matches(is_space).len();
    if trimmed < open + 2 || !src[..trimmed].ends_with('}') {
        return err(
            src,
            ErrorKind::UnclosedBrace,
            trimmed.saturating_sub(1),
            trimmed,
        );
    }
    let close = trimmed - 1;
    let toks = lex_json(src, open + 1, close)?;
    let mut p = JsonParser {
        src,
        toks,
        pos: 0,
        end: close,
    };
    let expr = p.expr(0)?;
    if p.pos != p.toks.len() {
        return p.fail(ErrorKind::InvalidMetricFilterPattern);
    }
    // Wildcard quota per pattern.
    let mut sels = Vec::new();
    collect_selectors(&expr, &mut sels);
    if let Some(fourth) = sels
        .iter()
        .filter(|s| s.wildcards() > 0)
        .nth(crate::MAX_WILDCARD_SELECTORS)
    {
        return err(
            src,
            ErrorKind::TooManyWildcardSelectors,
            fourth.span.start,
            fourth.span.end,
        );
    }
    Ok(Ast::Json(expr))
}

fn collect_selectors<'a>(e: &'a JsonExpr, out: &mut Vec<&'a Selector>) {
    match e {
        JsonExpr::Or(xs) | JsonExpr::And(xs) => xs.iter().for_each(|x| collect_selectors(x, out)),
        JsonExpr::Group(x) => collect_selectors(x, out),
        JsonExpr::Test(s, _) => out.push(s),
    }
}

// ---------------------------------------------------------------------------------------------
// Space-delimited

fn parse_delimited(src: &str, open: usize) -> Result<Ast, Error> {
    let trimmed = src.trim_end_matches(is_space).len();
    if trimmed < open + 2 || !src[..trimmed].ends_with(']') {
        return err(
            src,
            ErrorKind::InvalidFilterPattern,
            trimmed.saturating_sub(1),
            trimmed,
        );
    }
    let close = trimmed - 1;
    let inner = &src[open + 1..close];
    let mut fields = Vec::new();
    if !inner.trim_matches(is_space).is_empty() {
        // Split at commas outside quotes and regexes.
        let mut piece = open + 1;
        let mut i = open + 1;
        while i <= close {
            let c = if i == close {
                ','
            } else {
                src[i..].chars().next().unwrap_or(',')
            };
            match c {
                '"' | '%' => {
                    let Some(k) = src[i + 1..close].find(c) else {
                        if c == '%' {
                            // Let the regex reader report the invalid character or the open end.
                            parse_regex_lit(src, i, close)?;
                        }
                        return invalid_chars(src, i, close);
                    };
                    i = i + 1 + k + 1;
                }
                ',' => {
                    fields.push(parse_field(src, piece, i)?);
                    i += 1;
                    piece = i;
                }
                _ => i += c.len_utf8(),
            }
        }
    }
    let mut seen: Vec<&str> = Vec::new();
    for f in &fields {
        let (name, span) = match f {
            Field::Ellipsis(s) => ("...", s),
            Field::Name(n, s) => (n.as_str(), s),
            Field::Conditions(_, s) => (f.name().unwrap_or(""), s),
            Field::Unnamed(_) => continue,
        };
        if seen.contains(&name) {
            let kind = ErrorKind::DuplicateField {
                name: name.to_string(),
            };
            return err(src, kind, span.start, span.end);
        }
        seen.push(name);
    }
    Ok(Ast::Delimited(fields))
}

fn parse_field(src: &str, start: usize, end: usize) -> Result<Field, Error> {
    let lead = src[start..end].len() - src[start..end].trim_start_matches(is_space).len();
    let s0 = start + lead;
    let s1 = start + src[start..end].trim_end_matches(is_space).len();
    if s0 >= s1 {
        return Ok(Field::Unnamed(Span::new(s0, s0)));
    }
    let text = &src[s0..s1];
    if text == "..." {
        return Ok(Field::Ellipsis(Span::new(s0, s1)));
    }
    if text.chars().all(|c| c.is_alphanumeric() || c == '_') {
        return Ok(Field::Name(text.to_string(), Span::new(s0, s1)));
    }
    // Conditions: name op value ( (&&|||) name op value )*
    let mut ors: Vec<Vec<Condition>> = vec![Vec::new()];
    let mut i = s0;
    let skip = |i: &mut usize| {
        while let Some(c) = src[*i..s1].chars().next() {
            if !is_space(c) {
                break;
            }
            *i += c.len_utf8();
        }
    };
    loop {
        skip(&mut i);
        let c0 = i;
        while let Some(c) = src[i..s1].chars().next() {
            if !(c.is_alphanumeric() || c == '_') {
                break;
            }
            i += c.len_utf8();
        }
        if i == c0 {
            if i >= s1 {
                return err(src, ErrorKind::InvalidMetricFilterPattern, s0, s1);
            }
            return bad_punct(src, i, s1);
        }
        let name = src[c0..i].to_string();
        skip(&mut i);
        let Some((op, after)) = lex_op(src, i)? else {
            if i >= s1 {
                return err(src, ErrorKind::InvalidMetricFilterPattern, c0, s1);
            }
            return bad_punct(src, i, s1);
        };
        i = after;
        skip(&mut i);
        let v0 = i;
        let value = match src[i..s1].chars().next() {
            None => return err(src, ErrorKind::InvalidMetricFilterPattern, c0, s1),
            Some('"') => {
                let Some(close) = src[i + 1..s1].find('"').map(|k| i + 1 + k) else {
                    return invalid_chars(src, i, s1);
                };
                let v = Value::Quoted(src[i + 1..close].to_string());
                i = close + 1;
                v
            }
            Some('%') => {
                let (lit, end) = parse_regex_lit(src, i, s1)?;
                i = end;
                Value::Regex(lit)
            }
            Some(_) => {
                while let Some(c) = src[i..s1].chars().next() {
                    if !is_word_char(c) {
                        break;
                    }
                    i += c.len_utf8();
                }
                if i == v0 {
                    return bad_punct(src, i, s1);
                }
                let w = &src[v0..i];
                if is_number_literal(w) {
                    Value::Number(w.to_string())
                } else {
                    Value::Word(w.to_string())
                }
            }
        };
        if op.is_ordering() && !matches!(value, Value::Number(_)) {
            return invalid_chars(src, v0, i);
        }
        let cond = Condition {
            name,
            op,
            value,
            span: Span::new(c0, i),
        };
        if let Some(last) = ors.last_mut() {
            last.push(cond);
        }
        skip(&mut i);
        if i >= s1 {
            break;
        }
        let rest = &src[i..s1];
        if rest.starts_with("&&") {
            i += 2;
        } else if rest.starts_with("||") {
            i += 2;
            ors.push(Vec::new());
        } else {
            return bad_punct(src, i, s1);
        }
    }
    Ok(Field::Conditions(ors, Span::new(s0, s1)))
}
