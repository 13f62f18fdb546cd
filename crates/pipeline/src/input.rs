//! One delivered input, start to finish: detect its shape, decode every record, and turn every
//! data batch into outputs, or the record into a dead letter. The CLI and every Lambda function
//! run inputs through [`process_input`], so a file replayed locally and the same payload
//! delivered to Lambda give the same objects.

use crate::Config;
use crate::time::UtcTime;
use cwlogs_decode::{DecodeError, LogBatch, MessageType, RecordData, Shape, detect};
use serde::Serialize;

/// What is kept of an input, or of one record of it, that could not be decoded (or whose
/// output a sink refused for good): the bytes exactly as received and the error.
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
    /// The record's position in the input (0-based), for multi-record inputs.
    pub record: Option<usize>,
    /// The record's id (Kinesis sequence number, Firehose record id).
    pub record_id: Option<String>,
    /// The failing stage: read, input, base64, gzip, json, envelope, or the sink that refused.
    pub stage: &'static str,
    /// The error, for humans.
    pub error: String,
    /// The log group, when it could be read.
    pub log_group: Option<String>,
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
        }
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
        }
    }

    /// The error file written beside the raw bytes: this dead letter as pretty JSON.
    pub fn error_json(&self) -> Vec<u8> {
        let mut json = serde_json::to_vec_pretty(self).unwrap_or_default();
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
    format!(
        "refused-{}-{base}",
        crate::archive::short_hash(key.as_bytes())
    )
}

/// Whether `name` is a dead letter's error file (skipped when dead letters are replayed).
pub fn is_error_file(name: &str) -> bool {
    name.ends_with(".error.json")
}

/// A dead letter for record `i` of a multi-record input, holding the record's bytes as
/// received (base64 text, gzip or JSON, named by extension); stage and error to be filled in.
/// Named `{name}.record-{hash of the record's bytes}.{ext}`: the record's position would change
/// when Kinesis redelivers part of a batch from its checkpoint, and a second name would keep
/// the same dead letter twice.
fn record_letter(
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
        name: format!(
            "{name}.record-{}.{ext}",
            crate::archive::short_hash(record.raw())
        ),
        raw: Some(record.raw().to_vec()),
        input: input.to_string(),
        shape: Some(shape),
        record: Some(i),
        record_id: record.id.as_deref().map(String::from),
        stage: "",
        error: String::new(),
        log_group: None,
    }
}

impl DeadLetter {
    /// A dead letter for record `index` of `bytes` (decoded fine, but a sink refused some of
    /// what it became for good): the whole input when it has one record (named `{name}-{hash of
    /// the input}`), else the record's bytes, named as [`process_input`] names undecodable
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
                name: format!("{name}-{}", crate::archive::short_hash(bytes)),
                raw: Some(bytes.to_vec()),
                input: input.to_string(),
                shape: Some(shape),
                record: None,
                record_id: record.id.as_deref().map(String::from),
                stage: "",
                error: String::new(),
                log_group: None,
            }
        } else {
            record_letter(name, input, shape, index, record)
        };
        d.stage = stage;
        d.error = error;
        Some(d)
    }
}

/// What one record of an input turned into.
#[derive(Debug)]
pub struct ProcessedRecord<T> {
    /// The record's id (Kinesis sequence number, Firehose record id), when the transport has one.
    pub id: Option<String>,
    /// One output per data batch, in order.
    pub outputs: Vec<T>,
    /// Set when the record could not be decoded. For a single-record input this is the whole
    /// input (`record` is `None`).
    pub dead: Option<DeadLetter>,
    /// Batches decoded (data and control).
    pub batches: usize,
    /// Control messages skipped.
    pub control: usize,
    /// Log events in data batches.
    pub events: usize,
    /// Decompressed payload bytes.
    pub decompressed: u64,
}

/// What one input turned into.
#[derive(Debug)]
pub struct ProcessedInput<T> {
    /// The input's size.
    pub bytes: u64,
    /// The detected shape; `None` when detection failed (then `dead` is set).
    pub shape: Option<Shape>,
    /// The records, in input order.
    pub records: Vec<ProcessedRecord<T>>,
    /// Set when the input as a whole could not be recognised.
    pub dead: Option<DeadLetter>,
}

impl<T> ProcessedInput<T> {
    /// Every dead letter: the whole input's, then each record's.
    pub fn dead_letters(&self) -> impl Iterator<Item = &DeadLetter> {
        self.dead
            .iter()
            .chain(self.records.iter().filter_map(|r| r.dead.as_ref()))
    }
}

/// Decodes one input and calls `build(region, batch)` for every data batch, in order. Never
/// fails: what cannot be decoded becomes a dead letter named after `name` (a file name,
/// unique per input), recording `input` (where it came from).
pub fn process_input<T>(
    config: &Config,
    name: &str,
    input: &str,
    bytes: &[u8],
    mut build: impl FnMut(&str, &LogBatch<'_>) -> T,
) -> ProcessedInput<T> {
    let whole = |e: &DecodeError, shape: Option<&'static str>| DeadLetter {
        name: name.to_string(),
        raw: Some(bytes.to_vec()),
        input: input.to_string(),
        shape,
        record: None,
        record_id: e.record().map(String::from),
        stage: e.stage().as_str(),
        error: e.to_string(),
        log_group: e.log_group().map(String::from),
    };
    let mut out = ProcessedInput {
        bytes: bytes.len() as u64,
        shape: None,
        records: Vec::new(),
        dead: None,
    };
    let trigger = match detect(bytes) {
        Ok(t) => t,
        Err(e) => {
            out.dead = Some(whole(&e, None));
            return out;
        }
    };
    out.shape = Some(trigger.shape);
    let shape = trigger.shape.as_str();
    let single = trigger.records.len() == 1;
    for (i, record) in trigger.records.iter().enumerate() {
        let mut r = ProcessedRecord {
            id: record.id.as_deref().map(String::from),
            outputs: Vec::new(),
            dead: None,
            batches: 0,
            control: 0,
            events: 0,
            decompressed: 0,
        };
        let dead = |e: &DecodeError| {
            if single {
                return whole(e, Some(shape));
            }
            let mut d = record_letter(name, input, shape, i, record);
            d.stage = e.stage().as_str();
            d.error = e.to_string();
            d.log_group = e.log_group().map(String::from);
            d
        };
        let payload = match record.decompress(&config.limits) {
            Ok(p) => p,
            Err(e) => {
                r.dead = Some(dead(&e));
                out.records.push(r);
                continue;
            }
        };
        match payload.batches() {
            Err(e) => r.dead = Some(dead(&e)),
            Ok(batches) => {
                r.decompressed = payload.bytes().len() as u64;
                for batch in &batches {
                    r.batches += 1;
                    if batch.message_type == MessageType::Control {
                        r.control += 1;
                        continue;
                    }
                    r.events += batch.log_events.len();
                    let region = crate::resolve_region(config, batch, record.region.as_deref());
                    r.outputs.push(build(region, batch));
                }
            }
        }
        out.records.push(r);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dead_letter_keys_and_error_file() {
        let dl = DeadLetter {
            name: "direct-0123456789abcdef.json".into(),
            raw: Some(b"{".to_vec()),
            input: "lambda:req-1".into(),
            shape: None,
            record: None,
            record_id: None,
            stage: "input",
            error: "not JSON".into(),
            log_group: None,
        };
        let (raw, err) = dl.keys("dead-letter", 1_764_028_800_000);
        assert_eq!(
            raw,
            "dead-letter/dt=2025-11-25/direct-0123456789abcdef.json"
        );
        assert_eq!(err, format!("{raw}.error.json"));
        assert!(is_error_file(&err) && !is_error_file(&raw));
        let json: serde_json::Value = serde_json::from_slice(&dl.error_json()).expect("json");
        assert_eq!(json["stage"], "input");
        assert_eq!(json["input"], "lambda:req-1");
        assert!(json.get("raw").is_none());
    }

    #[test]
    fn refused_names_are_short_and_unique() {
        let key = format!(
            "cwl/account=1/log_group={}/x-1-2.ndjson.gz",
            "g".repeat(600)
        );
        let name = refused_name(&key);
        assert!(
            name.len() < 200 && name.ends_with("x-1-2.ndjson.gz"),
            "{name}"
        );
        assert_ne!(name, refused_name(&key.replace("account=1", "account=2")));
    }

    #[test]
    fn undecodable_input_is_kept_whole() {
        let config = Config::builtin(&|_| None);
        let out = process_input(&config, "n", "i", b"\x1f\x8bnot gzip", |_, _| ());
        let dead: Vec<_> = out.dead_letters().collect();
        assert_eq!(dead.len(), 1);
        assert_eq!(dead[0].raw.as_deref(), Some(&b"\x1f\x8bnot gzip"[..]));
        assert_eq!(dead[0].stage, "gzip");
    }
}
