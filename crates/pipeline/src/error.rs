//! The crate's error types, below every module that reports them: configuration problems with
//! their position ([`ConfigError`]), and the checks' own typed errors.

use std::fmt;
use std::ops::Range;

/// A configuration error, with the line and column it was found at when known.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    /// 1-based line and column.
    pub position: Option<(usize, usize)>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.position {
            Some((line, col)) => write!(f, "line {line}, column {col}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// Where a section's validation reports a problem: the byte span in the configuration text it
/// was found at (or [`NOWHERE`]) and the message. Every section reports every problem it
/// finds, so one run of `check-config` shows them all.
pub(crate) type Report<'a> = dyn FnMut(Range<usize>, String) + 'a;

/// No position: for errors in text other than the configuration file (a pack).
pub(crate) const NOWHERE: Range<usize> = usize::MAX..usize::MAX;

/// Where byte `offset` of a string's value is in the configuration text, for a fault inside
/// the string (a filter pattern): `token` is the string's span (quotes included) and `value`
/// its text. Exact when the string is written without escapes between one pair of quotes
/// (`'...'`, as patterns are best written, or `"..."`); otherwise the string's own span.
pub(crate) fn inside_string(token: Range<usize>, value: &str, offset: usize) -> Range<usize> {
    if token == NOWHERE || token.len() != value.len() + 2 {
        return token;
    }
    let at = token.start + 1 + offset.min(value.len());
    at..token.end
}

/// A value that a check refused, and why (for humans; the configuration adds where).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);
