//! `cwlogs replay` over logs AWS delivers to S3 (CloudTrail, VPC flow, load balancer and WAF
//! logs): an input that is one of those is read with the pipeline's `sources` (the same
//! documents, ids and indices as the index function gives it); anything else goes to the
//! subscription decoder as before.

use cwlogs_decode::LogBatch;
use cwlogs_pipeline::sources::{Detected, ObjectStream, S3Indexing};
use cwlogs_pipeline::{BatchOutput, Config, DeadLetter};

/// What an S3 log object turned into.
#[derive(Debug, Default)]
pub(crate) struct ObjectResult {
    /// One output per chunk of records: `_bulk` items, no archive (the archive keeps
    /// CloudWatch events; these records are already in S3), every record counted as left out
    /// by the archive's route so that the counts add up.
    pub outputs: Vec<BatchOutput>,
    /// Records read (each counted as an event).
    pub records: usize,
    /// Decompressed bytes.
    pub decompressed: u64,
    /// The records as batches, for the rules (region, batch).
    pub rule_batches: Vec<(String, LogBatch<'static>)>,
    /// The object could not be read whole: nothing of it is indexed, it is dead-lettered.
    pub dead: Option<DeadLetter>,
    /// Skipped on purpose (a CloudTrail digest file, an empty log file).
    pub skipped: bool,
    /// The log group the records stand for (`s3://{bucket}/{service}`).
    pub group: String,
    /// Every record's time, for report.html.
    pub times: Vec<i64>,
}

/// Reads `bytes`, the object `bucket`/`key` (for a local file: no bucket, its path), when it is
/// a log format of `[sources.s3]`; `None` when it is not (or that source is off), for the
/// subscription decoder. `name` and `shown` name its dead letter.
pub(crate) fn read_object(
    config: &Config,
    bucket: &str,
    key: &str,
    name: &str,
    shown: &str,
    bytes: &[u8],
) -> Option<ObjectResult> {
    let source = config.sources.s3.as_ref()?;
    // Without [index], the records still go to the rules: documents are built with the
    // built-in index settings and not written.
    let builtin;
    let index = match &config.index {
        Some(i) => i,
        None => {
            builtin = Config::builtin(&|_| None).index?;
            &builtin
        }
    };
    let s3 = S3Indexing::new(index, source);
    let mut out = ObjectResult::default();
    let dead = |e: &cwlogs_pipeline::sources::SourceError| {
        let mut d = DeadLetter::unread(name.to_string(), shown.to_string(), e.to_string());
        d.raw = Some(bytes.to_vec());
        d.shape = Some("s3-object");
        d.stage = e.kind.stage();
        d
    };
    let mut stream = match ObjectStream::open(&s3, bucket, key, &config.region, bytes) {
        Ok(s) => s.keep_events(true),
        Err(e) => {
            out.dead = Some(dead(&e));
            return Some(out);
        }
    };
    match stream.detected() {
        Detected::NotALog => return None,
        Detected::Skip(_) => {
            out.skipped = true;
            return Some(out);
        }
        Detected::Records(_) => {}
    }
    let group = stream.group().to_string();
    out.group = group.clone();
    loop {
        match stream.next_chunk() {
            Ok(Some(chunk)) => {
                out.records += chunk.records;
                if let Some(batch) = chunk.batch {
                    out.times
                        .extend(batch.log_events.iter().map(|e| e.timestamp));
                    let takes = config.rules.iter().any(|r| r.takes_group(&group));
                    if takes {
                        let region = batch.region.as_deref().unwrap_or_default().to_string();
                        out.rule_batches.push((region, batch));
                    }
                }
                out.outputs.push(BatchOutput {
                    archive: None,
                    bulk: if config.index.is_some() {
                        chunk.bulk
                    } else {
                        Vec::new()
                    },
                    archive_filtered: chunk.records,
                    index_filtered: if config.index.is_some() {
                        chunk.filtered
                    } else {
                        chunk.records
                    },
                    log_group: group.clone(),
                    oldest_ms: chunk.oldest_ms,
                    ..BatchOutput::default()
                });
            }
            Ok(None) => break,
            Err(e) => {
                // All or nothing: a replay keeps the object whole as a dead letter.
                return Some(ObjectResult {
                    dead: Some(dead(&e)),
                    decompressed: stream.bytes_read().1,
                    ..ObjectResult::default()
                });
            }
        }
    }
    out.decompressed = stream.bytes_read().1;
    Some(out)
}
