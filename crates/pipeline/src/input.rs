//! One delivered input, start to finish: detect its shape, decode every record, and turn every
//! data batch into outputs, or the record into a dead letter. The CLI and every Lambda function
//! run inputs through [`process_input`], so a file replayed locally and the same payload
//! delivered to Lambda give the same objects.

use crate::config::Config;
use crate::sink::DeadLetter;
use crate::sink::dead_letter::record_letter;
use cwlogs_decode::{DecodeError, LogBatch, MessageType, Shape, detect};

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
        occurrences: Vec::new(),
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
    merge_duplicates(&mut out.records);
    out
}

/// Records with identical bytes that failed share one dead letter (it is named by its bytes):
/// each of them gets it with every occurrence, so that whichever is written, and however often,
/// the error file lists them all.
fn merge_duplicates<T>(records: &mut [ProcessedRecord<T>]) {
    let mut merged: Vec<DeadLetter> = Vec::new();
    for dead in records.iter().filter_map(|r| r.dead.as_ref()) {
        match merged.iter_mut().find(|m| m.name == dead.name) {
            Some(m) => m.merge(dead),
            None => merged.push(dead.clone()),
        }
    }
    if merged.len() == records.iter().filter(|r| r.dead.is_some()).count() {
        return;
    }
    for dead in records.iter_mut().filter_map(|r| r.dead.as_mut()) {
        if let Some(m) = merged.iter().find(|m| m.name == dead.name) {
            dead.occurrences = m.occurrences();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sink::{Occurrence, is_error_file, refused_name};

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
            occurrences: Vec::new(),
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
    fn identical_failing_records_share_one_dead_letter_listing_both() {
        let config = Config::builtin(&|_| None);
        let record = |seq: &str, data: &str| {
            format!(
                r#"{{"kinesis":{{"data":"{data}","sequenceNumber":"{seq}"}},"awsRegion":"eu-west-1"}}"#
            )
        };
        let event = format!(
            r#"{{"Records":[{},{},{}]}}"#,
            record("s1", "%%bad%%"),
            record("s2", "ok-but-not-gzip="),
            record("s3", "%%bad%%")
        );
        let out = process_input(&config, "in", "in.json", event.as_bytes(), |_, _| ());
        let dead: Vec<&DeadLetter> = out.dead_letters().collect();
        assert_eq!(dead.len(), 3, "one per failed record");
        let (first, third) = (dead[0], dead[2]);
        assert_eq!(first.name, third.name, "named by the bytes");
        assert_ne!(first.name, dead[1].name);
        // Positions count from 1; each copy lists both occurrences.
        let want = vec![
            Occurrence {
                input: "in.json".into(),
                record: Some(1),
                record_id: Some("s1".into()),
            },
            Occurrence {
                input: "in.json".into(),
                record: Some(3),
                record_id: Some("s3".into()),
            },
        ];
        assert_eq!(first.occurrences(), want);
        assert_eq!(third.occurrences(), want);
        assert_eq!(dead[1].occurrences().len(), 1);
        assert_eq!(dead[1].record, Some(2));
        let json: serde_json::Value = serde_json::from_slice(&third.error_json()).expect("json");
        assert_eq!(json["occurrences"][0]["record_id"], "s1");
        assert_eq!(json["occurrences"][1]["record"], 3);
        // Merging again adds nothing twice.
        let mut again = first.clone();
        again.merge(third);
        assert_eq!(again.occurrences(), want);
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
