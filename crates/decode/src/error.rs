//! Decode errors: every error names the stage that failed.

use std::fmt;

/// The stage of decoding that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Stage {
    /// The input as a whole: empty, too large, or of no recognised shape.
    Input,
    /// Base64 decoding of a record's `data`.
    Base64,
    /// Gunzip of the payload (not gzip, truncated, corrupt, or over the size cap).
    Gzip,
    /// JSON syntax of the trigger event or of the decompressed payload.
    Json,
    /// JSON that parses but is not the expected shape: a missing or mistyped field, an unknown
    /// `messageType`, a data message without events.
    Envelope,
}

impl Stage {
    /// The lowercase name used in messages and dead-letter records (`base64`, `gzip`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Input => "input",
            Stage::Base64 => "base64",
            Stage::Gzip => "gzip",
            Stage::Json => "json",
            Stage::Envelope => "envelope",
        }
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an input, a record or a payload could not be decoded.
///
/// Displays as `stage: detail`, followed by the record and the log group when they are known,
/// e.g. `gzip: corrupt deflate stream (record 49590338271490256608559692538361571095921575989136588898)`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct DecodeError {
    stage: Stage,
    detail: String,
    record: Option<String>,
    log_group: Option<String>,
}

impl DecodeError {
    /// A new error at `stage`.
    pub fn new(stage: Stage, detail: impl Into<String>) -> Self {
        DecodeError {
            stage,
            detail: detail.into(),
            record: None,
            log_group: None,
        }
    }

    /// Attaches the record identifier (Kinesis sequence number, Firehose record id, or index).
    #[must_use]
    pub fn with_record(mut self, record: impl Into<String>) -> Self {
        self.record = Some(record.into());
        self
    }

    /// Attaches the log group, when it could be read.
    #[must_use]
    pub fn with_log_group(mut self, log_group: impl Into<String>) -> Self {
        self.log_group = Some(log_group.into());
        self
    }

    /// The stage that failed.
    pub fn stage(&self) -> Stage {
        self.stage
    }

    /// What went wrong, without the stage prefix.
    pub fn detail(&self) -> &str {
        &self.detail
    }

    /// The record the error belongs to, if known.
    pub fn record(&self) -> Option<&str> {
        self.record.as_deref()
    }

    /// The log group of the payload, if it could be read.
    pub fn log_group(&self) -> Option<&str> {
        self.log_group.as_deref()
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.stage, self.detail)?;
        match (&self.record, &self.log_group) {
            (Some(r), Some(g)) => write!(f, " (record {r}, log group {g})"),
            (Some(r), None) => write!(f, " (record {r})"),
            (None, Some(g)) => write!(f, " (log group {g})"),
            (None, None) => Ok(()),
        }
    }
}

/// Maps a serde_json error to the `json` stage (syntax, truncation) or the `envelope` stage
/// (valid JSON of the wrong shape), saying where the position is: `serde_json`'s message, then
/// `at line L column C of {place}` (`the Lambda event`, `the decompressed payload`), so that the
/// stage is named once and the position is not taken for one in the input file.
pub(crate) fn from_json(err: &serde_json::Error, place: &str) -> DecodeError {
    let stage = match err.classify() {
        serde_json::error::Category::Data => Stage::Envelope,
        _ => Stage::Json,
    };
    let text = err.to_string();
    let at = format!(" at line {} column {}", err.line(), err.column());
    let detail = match text.strip_suffix(&at) {
        Some(message) if err.line() > 0 => format!("{message}{at} of {place}"),
        _ => format!("{text} (in {place})"),
    };
    DecodeError::new(stage, detail)
}
