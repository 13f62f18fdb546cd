//! Pattern errors: the AWS text, plus the pattern with a caret under the fault.

use std::fmt;
use std::ops::Range;

/// Why a filter pattern (or a metric value expression) was rejected.
///
/// [`Error::aws_message`] gives the text CloudWatch Logs replies with; `Display` adds the pattern
/// and a caret under the fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    pattern: String,
    span: Range<usize>,
}

/// The kind of a pattern error.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The pattern is longer than 1024 characters.
    TooLong {
        /// Length of the pattern in characters.
        chars: usize,
    },
    /// The pattern starts with `{` but does not end with `}`.
    UnclosedBrace,
    /// Characters CloudWatch does not accept in a term, regex or JSON token.
    InvalidCharacters {
        /// The offending text, as AWS quotes it.
        term: String,
    },
    /// A structural error outside JSON patterns (`Invalid filter pattern`).
    InvalidFilterPattern,
    /// A structural error in a JSON or space-delimited expression
    /// (`Invalid metric filter pattern`).
    InvalidMetricFilterPattern,
    /// A `%regex%` that does not compile, or exceeds the compiled-size limit.
    RegexCompile,
    /// More than 2 regular expressions in one pattern.
    TooManyRegexes,
    /// More than 3 JSON selectors with a wildcard in one pattern.
    TooManyWildcardSelectors,
    /// More than 1 wildcard in one JSON selector.
    TooManyWildcardsInSelector,
    /// A space-delimited field name (or `...`) used twice.
    DuplicateField {
        /// The repeated name.
        name: String,
    },
    /// Parentheses nested deeper than [`crate::MAX_NESTING`] (a cwlogs bound, not an AWS rule).
    NestingTooDeep,
    /// A dimension (or a field reference) used with a pattern kind that cannot provide it.
    DimensionsNotSupported,
    /// A metric value expression that is not a number, `$.path`, `$name` or `$N`.
    InvalidMetricValue {
        /// Why, in words.
        reason: String,
    },
}

impl Error {
    pub(crate) fn new(kind: ErrorKind, pattern: &str, span: Range<usize>) -> Error {
        // Snap to char boundaries so rendering can slice the pattern.
        let mut end = span.end.min(pattern.len());
        while !pattern.is_char_boundary(end) {
            end += 1;
        }
        let mut start = span.start.min(end);
        while !pattern.is_char_boundary(start) {
            start -= 1;
        }
        Error {
            kind,
            pattern: pattern.to_string(),
            span: start..end,
        }
    }

    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    /// The pattern (or expression) that was rejected, as given.
    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    /// Byte range of the fault inside [`Error::pattern`].
    pub fn span(&self) -> Range<usize> {
        self.span.clone()
    }

    /// The text CloudWatch Logs gives for this error (spec §9), without the caret rendering.
    pub fn aws_message(&self) -> String {
        match &self.kind {
            ErrorKind::TooLong { .. } => format!(
                "1 validation error detected: Value '{}' at 'filterPattern' failed to satisfy \
                 constraint: Member must have length less than or equal to 1024",
                self.pattern
            ),
            ErrorKind::UnclosedBrace => {
                "If a filter pattern starts with '{' it must end with '}'".to_string()
            }
            ErrorKind::InvalidCharacters { term } => {
                format!("Invalid character(s) in term '{term}'")
            }
            ErrorKind::InvalidFilterPattern => "Invalid filter pattern".to_string(),
            ErrorKind::InvalidMetricFilterPattern => "Invalid metric filter pattern".to_string(),
            ErrorKind::RegexCompile => "Failed to compile regular expression.".to_string(),
            ErrorKind::TooManyRegexes => "Your input has exceeded the maximum of 2 regular \
                                          expressions per filter pattern."
                .to_string(),
            ErrorKind::TooManyWildcardSelectors => "Your input has exceeded the maximum of 3 JSON \
                                                    wildcard selectors allowed per filter pattern."
                .to_string(),
            ErrorKind::TooManyWildcardsInSelector => {
                "Your filter pattern has a JSON path selector \
                                                      that exceeds the maximum of 1 wildcard \
                                                      allowed per json selector."
                    .to_string()
            }
            ErrorKind::DuplicateField { name } => format!("Duplicate field '{name}'"),
            ErrorKind::NestingTooDeep => format!(
                "Invalid metric filter pattern (cwlogs: parentheses nested deeper than {} levels)",
                crate::MAX_NESTING
            ),
            ErrorKind::DimensionsNotSupported => {
                "The specified filter pattern does not support dimensions".to_string()
            }
            ErrorKind::InvalidMetricValue { reason } => {
                format!("Invalid metric value '{}': {reason}", self.pattern)
            }
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.aws_message())?;
        // One display column per char; control characters become spaces so the caret lines up.
        let shown: String = self
            .pattern
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        writeln!(f, "  {shown}")?;
        let col = self.pattern[..self.span.start].chars().count();
        let width = self.pattern[self.span.clone()].chars().count().max(1);
        write!(f, "  {}{}", " ".repeat(col), "^".repeat(width))
    }
}

impl std::error::Error for Error {}
