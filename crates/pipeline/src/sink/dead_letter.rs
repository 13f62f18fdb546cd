//! Dead letters: what is kept of an input that could not be decoded, or whose output a sink
//! refused for good, and how it is written.

use crate::sink::{Archive, Object, SendError};
use crate::util::hash::short_hash;
use crate::util::time::UtcTime;
use cwlogs_decode::{RecordData, detect};
use serde::Serialize;
use std::time::Instant;

/// What is kept of an input, or of one record of it, that could not be decoded (or whose
/// output a sink refused for good): the bytes exactly as received and the error.
///
/// Dead letters are named by what they hold, so the same bytes failing twice (two identical
/// records of one Kinesis batch, the same file given twice) are one dead letter: its error file
/// lists every occurrence ([`DeadLetter::occurrences`], merged by [`DeadLetter::merge`]); the
/// top-level `input`, `record` and `record_id` are the first one's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeadLetter {
    /// File or object name, unique per input (and record).
    #[serde(skip)]
    pub name: String,
    /// The bytes exactly as received (`None` when the input could not even be read).
    #[serde(skip)]
    pub raw: Option<Vec<u8>>,
    /// Where the input came from: a path, an S3 URL, or the Lambda request id.
    pub input: String,
    /// The shape of the input, when it was recognised.
    pub shape: Option<&'static str>,
    /// The record's position in the input, counted from 1 (the first record is 1), for
    /// multi-record inputs.
    pub record: Option<usize>,
    /// The record's id (Kinesis sequence number, Firehose record id).
    pub record_id: Option<String>,
    /// The failing stage: read, input, base64, gzip, json, envelope, or the sink that refused.
    pub stage: &'static str,
    /// The error, for humans.
    pub error: String,
    /// The log group, when it could be read.
    pub log_group: Option<String>,
    /// Every occurrence of these bytes failing, in order, when there is more than the one in
    /// `input`, `record` and `record_id` (empty: just that one). See [`DeadLetter::occurrences`].
    #[serde(skip)]
    pub occurrences: Vec<Occurrence>,
}

/// One place where a dead letter's bytes were found and failed: the input, the record's
/// position in it (counted from 1) and its id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Occurrence {
    /// Where the input came from: a path, an S3 URL, or `lambda:{request id}`.
    pub input: String,
    /// The record's position in the input, counted from 1, for multi-record inputs.
    pub record: Option<usize>,
    /// The record's id (Kinesis sequence number, Firehose record id).
    pub record_id: Option<String>,
}

impl DeadLetter {
    /// A dead letter for an input that could not be read at all.
    pub fn unread(name: String, input: String, error: String) -> Self {
        DeadLetter {
            name,
            raw: None,
            input,
            shape: None,
            record: None,
            record_id: None,
            stage: "read",
            error,
            log_group: None,
            occurrences: Vec::new(),
        }
    }

    /// Every occurrence of these bytes failing, the first one (`input`, `record`,
    /// `record_id`) first: what the error file lists as `occurrences`.
    pub fn occurrences(&self) -> Vec<Occurrence> {
        if self.occurrences.is_empty() {
            vec![Occurrence {
                input: self.input.clone(),
                record: self.record,
                record_id: self.record_id.clone(),
            }]
        } else {
            self.occurrences.clone()
        }
    }

    /// Adds `other`'s occurrences (those not listed yet) to this dead letter of the same name:
    /// the same bytes, found again.
    pub fn merge(&mut self, other: &DeadLetter) {
        let mut all = self.occurrences();
        for o in other.occurrences() {
            if !all.contains(&o) {
                all.push(o);
            }
        }
        self.occurrences = all;
    }

    /// A dead letter for an archive object the archive refused for good: the object's body
    /// (gzip NDJSON, which `cwlogs replay` reads back) under [`refused_name`], `input` naming
    /// where it was going.
    pub fn refused(key: &str, body: &[u8], input: String, error: String) -> Self {
        DeadLetter {
            name: refused_name(key),
            raw: Some(body.to_vec()),
            input,
            shape: None,
            record: None,
            record_id: None,
            stage: "s3",
            error,
            log_group: None,
            occurrences: Vec::new(),
        }
    }

    /// The error file written beside the raw bytes: this dead letter as pretty JSON, with
    /// `occurrences`, the list of every input and record these bytes failed in.
    pub fn error_json(&self) -> Vec<u8> {
        let mut value = serde_json::to_value(self).unwrap_or_default();
        if let serde_json::Value::Object(map) = &mut value {
            let occurrences = serde_json::to_value(self.occurrences()).unwrap_or_default();
            map.insert("occurrences".into(), occurrences);
        }
        let mut json = serde_json::to_vec_pretty(&value).unwrap_or_default();
        json.push(b'\n');
        json
    }

    /// The keys of the raw bytes and of the error file in a bucket:
    /// `{prefix}/dt=YYYY-MM-DD/{name}` and the same with `.error.json`. The date is the day
    /// the dead letter was written (`now_ms`); the name carries a hash of the input, so a
    /// redelivery on the same day overwrites its own dead letter.
    pub fn keys(&self, prefix: &str, now_ms: i64) -> (String, String) {
        let day = UtcTime::from_millis(now_ms).date();
        let raw = if prefix.is_empty() {
            format!("dt={day}/{}", self.name)
        } else {
            format!("{prefix}/dt={day}/{}", self.name)
        };
        let error = format!("{raw}.error.json");
        (raw, error)
    }
}

/// The dead-letter name of an archive object the archive refused: short enough for any file
/// system (the full key is in the error file), unique per key.
pub fn refused_name(key: &str) -> String {
    let base = key.rsplit('/').next().unwrap_or(key);
    let base: String = base.chars().take(160).collect();
    format!("refused-{}-{base}", short_hash(key.as_bytes()))
}

/// Whether `name` is a dead letter's error file (skipped when dead letters are replayed).
pub fn is_error_file(name: &str) -> bool {
    name.ends_with(".error.json")
}

/// A dead letter for record `i` (counted from 0) of a multi-record input, holding the record's bytes as
/// received (base64 text, gzip or JSON, named by extension); stage and error to be filled in.
/// Named `{name}.record-{hash of the record's bytes}.{ext}`: the record's position would change
/// when Kinesis redelivers part of a batch from its checkpoint, and a second name would keep
/// the same dead letter twice.
pub(crate) fn record_letter(
    name: &str,
    input: &str,
    shape: &'static str,
    i: usize,
    record: &cwlogs_decode::Record<'_>,
) -> DeadLetter {
    let ext = match record.data {
        RecordData::Base64(_) => "b64",
        RecordData::Gzip(_) => "gz",
        RecordData::Json(_) => "json",
    };
    DeadLetter {
        name: format!("{name}.record-{}.{ext}", short_hash(record.raw())),
        raw: Some(record.raw().to_vec()),
        input: input.to_string(),
        shape: Some(shape),
        record: Some(i + 1),
        record_id: record.id.as_deref().map(String::from),
        stage: "",
        error: String::new(),
        log_group: None,
        occurrences: Vec::new(),
    }
}

impl DeadLetter {
    /// A dead letter for record `index` (counted from 0) of `bytes` (decoded fine, but a sink refused some of
    /// what it became for good): the whole input when it has one record (named `{name}-{hash of
    /// the input}`), else the record's bytes, named as `process_input` names undecodable
    /// records (by the record's hash, so that a redelivery overwrites it). `None` when `bytes`
    /// has no such record.
    pub fn for_record(
        name: &str,
        input: &str,
        bytes: &[u8],
        index: usize,
        stage: &'static str,
        error: String,
    ) -> Option<DeadLetter> {
        let trigger = detect(bytes).ok()?;
        let record = trigger.records.get(index)?;
        let shape = trigger.shape.as_str();
        let mut d = if trigger.records.len() == 1 {
            DeadLetter {
                name: format!("{name}-{}", short_hash(bytes)),
                raw: Some(bytes.to_vec()),
                input: input.to_string(),
                shape: Some(shape),
                record: None,
                record_id: record.id.as_deref().map(String::from),
                stage: "",
                error: String::new(),
                log_group: None,
                occurrences: Vec::new(),
            }
        } else {
            record_letter(name, input, shape, index, record)
        };
        d.stage = stage;
        d.error = error;
        Some(d)
    }
}

/// Writes a dead letter into `archive` under `prefix` (see [`DeadLetter::keys`]): the
/// bytes as received, then the error file, each retried until `deadline`. The error file is
/// written last, so a dead letter with an error file is complete.
pub async fn put_dead_letter<A: Archive>(
    archive: &A,
    prefix: &str,
    dead: &DeadLetter,
    now_ms: i64,
    deadline: Option<Instant>,
) -> Result<(), SendError> {
    let (raw_key, error_key) = dead.keys(prefix, now_ms);
    if let Some(raw) = &dead.raw {
        let object = Object {
            key: &raw_key,
            body: raw,
            content_type: "application/octet-stream",
            content_encoding: None,
        };
        archive.put(object, deadline).await?;
    }
    let json = dead.error_json();
    let object = Object {
        key: &error_key,
        body: &json,
        content_type: "application/json",
        content_encoding: None,
    };
    archive.put(object, deadline).await
}
