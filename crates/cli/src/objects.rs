//! `cwlogs replay` over logs AWS delivers to S3 (CloudTrail, VPC flow, load balancer and WAF
//! logs): an input that is one of those is read with the pipeline's `sources` (the same
//! documents, ids and indices as the index function gives it); anything else goes to the
//! subscription decoder as before.

use cwlogs_decode::LogBatch;
use cwlogs_pipeline::sources::notification::ObjectRef;
use cwlogs_pipeline::sources::{Detected, ObjectSource, ObjectStream, S3Indexing};
use cwlogs_pipeline::{BatchOutput, Config, DeadLetter};
use std::io::Read as _;
use std::sync::OnceLock;

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
    if let Some(r) = read_notification(config, name, shown, bytes) {
        return Some(r);
    }
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

/// The largest object a notification input may name: replay's cap on any input (its
/// `MAX_INPUT_BYTES`), since the object is read whole.
const MAX_NOTIFIED_OBJECT_BYTES: u64 = 256 << 20;

/// An S3 reader on the standard AWS environment, made the first time a notification needs one.
fn remote() -> Option<&'static (tokio::runtime::Runtime, cwlogs_aws::S3Source)> {
    static REMOTE: OnceLock<Option<(tokio::runtime::Runtime, cwlogs_aws::S3Source)>> =
        OnceLock::new();
    REMOTE
        .get_or_init(|| {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .ok()?;
            let sdk = rt.block_on(cwlogs_aws::sdk_config(None));
            Some((rt, cwlogs_aws::S3Source::new(&sdk)))
        })
        .as_ref()
}

/// An input that is an S3 notification naming objects (the dead letter the index or alert
/// function keeps of an object it could not read, or a captured notification): the objects
/// read from S3 (the version named, else while they have the ETag named) and read as logs,
/// with the ids the index function gives their records. `None` for anything else.
fn read_notification(
    config: &Config,
    name: &str,
    shown: &str,
    bytes: &[u8],
) -> Option<ObjectResult> {
    let n = cwlogs_pipeline::sources::notification::parse(bytes)?;
    let objects: Vec<&ObjectRef> = n.items.iter().flat_map(|i| &i.objects).collect();
    if objects.is_empty() {
        return None;
    }
    let mut out = ObjectResult::default();
    let dead = |stage: &'static str, error: String| {
        let mut d = DeadLetter::unread(name.to_string(), shown.to_string(), error);
        d.raw = Some(bytes.to_vec());
        d.shape = Some(n.shape.as_str());
        d.stage = stage;
        d
    };
    let Some((rt, source)) = remote() else {
        out.dead = Some(dead(
            "s3-get",
            "no S3 client (cannot start the async runtime)".into(),
        ));
        return Some(out);
    };
    for o in objects {
        let body = match rt.block_on(ObjectSource::get(source, o, None)) {
            Ok(b) => b,
            Err(e) => {
                out.dead = Some(dead(e.kind.stage(), e.message));
                return Some(ObjectResult {
                    dead: out.dead,
                    ..ObjectResult::default()
                });
            }
        };
        let mut object = Vec::new();
        let limit = MAX_NOTIFIED_OBJECT_BYTES;
        if let Err(e) = body.take(limit + 1).read_to_end(&mut object) {
            out.dead = Some(dead("s3-read", format!("{}: {e}", o.url())));
            return Some(ObjectResult {
                dead: out.dead,
                ..ObjectResult::default()
            });
        }
        if object.len() as u64 > limit {
            out.dead = Some(dead(
                "size",
                format!("{}: larger than {limit} bytes", o.url()),
            ));
            return Some(ObjectResult {
                dead: out.dead,
                ..ObjectResult::default()
            });
        }
        let Some(r) = read_object(config, &o.bucket, &o.key, name, shown, &object) else {
            out.dead = Some(dead(
                "input",
                format!(
                    "{}: not a CloudTrail, VPC flow, load balancer or WAF log",
                    o.url()
                ),
            ));
            return Some(ObjectResult {
                dead: out.dead,
                ..ObjectResult::default()
            });
        };
        if r.dead.is_some() {
            return Some(ObjectResult {
                dead: r.dead,
                ..ObjectResult::default()
            });
        }
        out.records += r.records;
        out.decompressed += r.decompressed;
        out.outputs.extend(r.outputs);
        out.rule_batches.extend(r.rule_batches);
        out.times.extend(r.times);
        out.skipped |= r.skipped;
        out.group = r.group;
    }
    Some(out)
}
