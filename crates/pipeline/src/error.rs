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

/// A value that a check refused, and why (for humans; the configuration adds where).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);
