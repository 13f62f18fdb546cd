//! The CloudWatch regex subset (spec §4): validation and translation to the `regex` crate.
//!
//! CloudWatch accepts letters, digits, `: _ # = @ / ; , -`, the space, and the operators
//! `^ $ ? * + { } [ ] | . \`. Anything else (parentheses included, even escaped) is an invalid
//! character. What passes that check is translated into `regex` syntax with every shorthand
//! class spelled out in ASCII (`\w` is `[a-zA-Z_0-9]`, `\d` is `[0-9]`) and every punctuation
//! literal written as `\x{..}`, so no `regex` crate extension (set operations in classes, word
//! boundaries, flags) can be reached from a pattern.

use regex::{Regex, RegexBuilder};

/// Compiled-program size bound for one regex, in bytes.
pub const REGEX_SIZE_LIMIT: usize = 1 << 20;
/// Lazy-DFA cache bound for one regex, in bytes.
pub const REGEX_DFA_LIMIT: usize = 1 << 20;

fn is_allowed(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(
            c,
            ':' | '_'
                | '#'
                | '='
                | '@'
                | '/'
                | ';'
                | ','
                | '-'
                | ' '
                | '^'
                | '$'
                | '?'
                | '*'
                | '+'
                | '{'
                | '}'
                | '['
                | ']'
                | '|'
                | '.'
                | '\\'
        )
}

/// Byte offset of the first character CloudWatch does not accept in a regex body.
pub fn first_invalid_char(body: &str) -> Option<usize> {
    body.char_indices()
        .find(|&(_, c)| !is_allowed(c))
        .map(|(i, _)| i)
}

const SPACE: &str = r"\t\n\x0B\x0C\r ";

fn lit(out: &mut String, c: char) {
    if c.is_ascii_alphanumeric() {
        out.push(c);
    } else {
        out.push_str(&format!("\\x{{{:02x}}}", c as u32));
    }
}

/// Translates an escape (the char after `\`); the output is valid inside and outside `[...]`.
fn escape(
    chars: &mut std::iter::Peekable<std::str::Chars<'_>>,
    out: &mut String,
) -> Result<(), ()> {
    let c = chars.next().ok_or(())?;
    match c {
        'd' => out.push_str("[0-9]"),
        'D' => out.push_str("[^0-9]"),
        'w' => out.push_str("[0-9A-Za-z_]"),
        'W' => out.push_str("[^0-9A-Za-z_]"),
        's' => out.push_str(&format!("[{SPACE}]")),
        'S' => out.push_str(&format!("[^{SPACE}]")),
        'x' => {
            let h1 = chars.next().filter(char::is_ascii_hexdigit).ok_or(())?;
            let h2 = chars.next().filter(char::is_ascii_hexdigit).ok_or(())?;
            out.push_str(&format!("\\x{{{h1}{h2}}}"));
        }
        c if c.is_ascii_alphanumeric() => return Err(()),
        c => lit(out, c),
    }
    Ok(())
}

/// Translates a validated body into `regex` syntax. `Err` means it cannot compile.
pub fn translate(body: &str) -> Result<String, ()> {
    let mut out = String::with_capacity(body.len() * 2);
    let mut chars = body.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => escape(&mut chars, &mut out)?,
            '[' => {
                out.push('[');
                if chars.peek() == Some(&'^') {
                    chars.next();
                    out.push('^');
                }
                let mut items = 0usize;
                let mut prev_literal = false;
                loop {
                    let c = chars.next().ok_or(())?;
                    match c {
                        ']' => break,
                        '\\' => {
                            let simple = chars
                                .peek()
                                .is_some_and(|n| !matches!(n, 'd' | 'D' | 'w' | 'W' | 's' | 'S'));
                            escape(&mut chars, &mut out)?;
                            prev_literal = simple;
                        }
                        '-' if prev_literal && chars.peek().is_some_and(|&n| n != ']') => {
                            out.push('-');
                            prev_literal = false;
                        }
                        c => {
                            lit(&mut out, c);
                            prev_literal = true;
                        }
                    }
                    items += 1;
                }
                if items == 0 {
                    return Err(());
                }
                out.push(']');
            }
            '{' => {
                out.push('{');
                if chars.peek() == Some(&',') {
                    out.push('0');
                }
                // Counts are copied as written; the `regex` crate rejects malformed ones.
                while let Some(&n) = chars.peek() {
                    if !(n.is_ascii_digit() || n == ',') {
                        break;
                    }
                    out.push(n);
                    chars.next();
                }
            }
            '^' | '$' | '?' | '*' | '+' | '}' | '|' | '.' => out.push(c),
            c => lit(&mut out, c),
        }
    }
    Ok(out)
}

/// Translates and compiles a validated body with the size bounds.
pub fn compile(body: &str) -> Result<Regex, ()> {
    let translated = translate(body)?;
    RegexBuilder::new(&translated)
        .size_limit(REGEX_SIZE_LIMIT)
        .dfa_size_limit(REGEX_DFA_LIMIT)
        .nest_limit(64)
        .build()
        .map_err(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn translation_is_ascii_and_literal() {
        assert_eq!(translate(r"a\d").unwrap(), "a[0-9]");
        assert_eq!(translate(r"[a-z\-]").unwrap(), r"[a-z\x{2d}]");
        assert_eq!(translate("x{,3}").unwrap(), "x{0,3}");
        assert_eq!(translate(r"\x28").unwrap(), r"\x{28}");
        assert!(translate(r"\q").is_err());
        assert!(translate("[abc").is_err());
        assert!(compile("[abc").is_err());
        assert!(
            compile(r"^ERROR\s[0-9]{3}$")
                .unwrap()
                .is_match("ERROR\n500")
        );
        assert!(compile(r"\w+").unwrap().find("é").is_none());
    }
}
