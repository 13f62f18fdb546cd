//! `cwlogs replay`: the whole pipeline over files, with local sinks.

use crate::UsageError;
use crate::report::{RuleLine, RulesReport, RunReport, Timeline};
use crate::sinks::{
    AlertFile, LocalArchive, LocalDeadLetters, LocalIndex, flat_name, is_error_sidecar,
    prepare_out_dir,
};
use anyhow::{Context, Result};
use cwlogs_aws::{DynamoStateStore, OpenSearchIndex, S3Archive, S3Source, S3Url, SnsPublisher};
use cwlogs_decode::{LogBatch, LogEvent};
use cwlogs_pipeline::index::{BulkOptions, Fate, index_items};
use cwlogs_pipeline::patterns::alerts::{PatternDetector, occurrences, sync_group};
use cwlogs_pipeline::redact::RedactCounts;
use cwlogs_pipeline::rules::alert::{AlertOptions, AlertReport, flush_summaries, send_alerts};
use cwlogs_pipeline::rules::evaluate::ThinBatch;
use cwlogs_pipeline::sink::is_error_file;
use cwlogs_pipeline::{
    Archive, ArchiveObject, BatchOutput, Config, DeadLetter, IndexAuth, IndexConfig,
    MemoryStateStore, Miner, Occurrences, RuleRun, SectionState, SendError, StateStore, StateWrite,
    Versioned, process_batch, process_batch_with, process_input, put_dead_letter,
};
use futures_util::StreamExt as _;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rayon::prelude::*;
use serde::Serialize;
use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// The largest input file read, in bytes. Lambda events are at most 6 MB and archive objects a
/// few tens of MB; anything larger is dead-lettered unread.
pub const MAX_INPUT_BYTES: u64 = 256 << 20;

/// How many inputs are decoded in parallel before their outputs are written, in input order:
/// at most this many per worker thread. Each window waits for its slowest input, so several
/// threads need several inputs each to stay busy; and a window's S3 inputs are fetched, and its
/// objects and documents sent, together, so remote sources and destinations need several
/// inputs to overlap their round trips. One worker thread reading and writing local files has
/// neither need and takes one input at a time.
const WINDOW_PER_THREAD: usize = 8;

/// ...and at most about this many input bytes per worker thread (a window has at least one
/// input, whatever its size). Up to three windows are alive at once (one decoded, one waiting,
/// one being written), and an input's outputs are many times its size (the `_bulk` bodies of a
/// base64 Lambda event are about ten times its bytes): bounded by bytes, the memory a run holds
/// follows the inputs' sizes (archive objects of tens of MB), not their number.
const WINDOW_BYTES_PER_THREAD: u64 = 4 << 20;

/// The most inputs and about the most input bytes of a window, for `threads` worker threads,
/// with (`remote`) or without S3 inputs or a remote destination.
fn window_bounds(threads: usize, remote: bool) -> (usize, u64) {
    let threads = threads.max(1);
    let inputs = if threads == 1 && !remote {
        1
    } else {
        threads * WINDOW_PER_THREAD
    };
    (inputs, threads as u64 * WINDOW_BYTES_PER_THREAD)
}

/// The inputs cut into windows of at most `per_window` inputs and about `bytes_per_window` bytes
/// each (`(input, size)` pairs; a window ends at the input that reaches the byte bound), in
/// order.
fn windows<T>(
    inputs: &[(T, u64)],
    per_window: usize,
    bytes_per_window: u64,
) -> impl Iterator<Item = &[(T, u64)]> {
    let mut rest = inputs;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let mut bytes = 0u64;
        let mut n = 0;
        for (_, size) in rest.iter().take(per_window.max(1)) {
            n += 1;
            bytes = bytes.saturating_add(*size);
            if bytes >= bytes_per_window {
                break;
            }
        }
        let (window, after) = rest.split_at(n);
        rest = after;
        Some(window)
    })
}

/// Arguments of `cwlogs replay`.
#[derive(clap::Args)]
pub struct ReplayArgs {
    /// Configuration file (TOML). Without it, the built-in configuration archives and indexes
    /// every event.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Output directory.
    #[arg(long, value_name = "DIR", default_value = "cwlogs-out")]
    out: PathBuf,
    /// Worker threads (default: one per core).
    #[arg(long, value_name = "N")]
    jobs: Option<usize>,
    /// Write the archive to S3 instead of OUT/archive: `s3://BUCKET[/PREFIX]` (the prefix
    /// replaces the configured one). Dead letters then go to the bucket's dead-letter prefix.
    /// Region, credentials and endpoint come from the standard AWS environment
    /// (AWS_REGION, AWS_PROFILE, AWS_ENDPOINT_URL_S3, ...).
    #[arg(long, value_name = "S3_URL")]
    archive_to: Option<String>,
    /// Send documents to this OpenSearch / Elasticsearch cluster instead of writing OUT/index:
    /// its base URL (`https://search-x.eu-west-1.es.amazonaws.com`, `http://127.0.0.1:9200`).
    /// Same requests, retries and quarantine as the index function; index templates are
    /// installed first unless `install_template = false`.
    #[arg(long, value_name = "URL")]
    index_to: Option<String>,
    /// How to authenticate to --index-to: sigv4, sigv4-serverless, basic
    /// (CWLOGS_INDEX_USERNAME, CWLOGS_INDEX_PASSWORD), api-key (CWLOGS_INDEX_API_KEY) or none;
    /// basic and api-key read the configuration's `[index] secret` (Secrets Manager) instead
    /// of those variables when it has one.
    /// Default: the configuration's `auth`, else inferred from the URL (SigV4 for
    /// *.es.amazonaws.com and *.aoss.amazonaws.com, none otherwise).
    #[arg(long, value_name = "AUTH", requires = "index_to")]
    index_auth: Option<String>,
    /// Publish the `[[rule]]` alerts to this SNS topic (its ARN; it replaces every rule's
    /// topic), as well as writing them to OUT/alerts.ndjson. Region, credentials and endpoint
    /// come from the standard AWS environment (AWS_ENDPOINT_URL_SNS, ...).
    #[arg(long, value_name = "ARN")]
    alert_to: Option<String>,
    /// Keep alert state (windows, counts, rate limits) in this DynamoDB table instead of in
    /// memory for the run: a replay then shares windows with the alert function (or another
    /// replay) using the same table.
    #[arg(long, value_name = "NAME")]
    alert_table: Option<String>,
    /// The longest the delivery of one window of inputs to --archive-to, --index-to and
    /// --alert-to may take, retries included: an unreachable or stalled destination cannot
    /// hold the run. What still fails then is kept in OUT/dead-letter or listed in
    /// summary.json (`index_failed_inputs`, `alert_failed_inputs`) to replay later.
    #[arg(long, value_name = "SECONDS", default_value_t = 300,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    send_timeout: u64,
    /// Lambda events of any supported trigger, raw gzip payloads, base64 payloads, cwlogs
    /// archive objects (.ndjson.gz) or dead letters; directories are read recursively, and
    /// `s3://BUCKET/PREFIX` reads every object under the prefix (an archive, or dead letters).
    ///
    /// With `[[rule]]`s in the configuration, the rules run over every event: their metrics go
    /// to OUT/metrics.ndjson (EMF documents, aggregated over the whole run) and their alerts
    /// to OUT/alerts.ndjson (one SNS message as JSON per line: alerts as each input is read,
    /// every window's summary at the end). Without rules neither file is written.
    /// OUT/report.html shows the run on one self-contained page: events over time per log
    /// group, rule hits, alerts sent and held back, dead letters with their errors, throughput.
    /// With `[patterns] enabled = true`, index documents carry `cwlogs.pattern.id` (one miner
    /// for the run, the inputs read in order by one worker), OUT/patterns.ndjson holds every
    /// pattern (id, template, log group, count, first and last seen, new) and report.html the
    /// top and new patterns per log group.
    #[arg(required = true, value_name = "INPUT")]
    inputs: Vec<PathBuf>,
}

/// A [`UsageError`] (exit status 2) saying `what`.
fn usage(what: impl Into<String>) -> anyhow::Error {
    UsageError(what.into()).into()
}

/// Objects read from S3 at once.
const CONCURRENT_GETS: usize = 8;
/// Objects written to S3 at once.
const CONCURRENT_PUTS: usize = 16;

/// One input: a local file, or an S3 object.
enum Input {
    File(PathBuf),
    S3 { bucket: String, key: String },
}

impl Input {
    /// Where it came from, as the user would write it.
    fn shown(&self) -> String {
        match self {
            Input::File(p) => p.display().to_string(),
            Input::S3 { bucket, key } => format!("s3://{bucket}/{key}"),
        }
    }

    /// A file name for its dead letters.
    fn name(&self) -> String {
        match self {
            Input::File(p) => flat_name(p),
            Input::S3 { bucket, key } => flat_name(Path::new(&format!("s3/{bucket}/{key}"))),
        }
    }
}

/// The AWS side of a replay, set up only when an S3 input or `--archive-to` asks for it.
struct Remote {
    rt: tokio::runtime::Runtime,
    sdk: aws_config::SdkConfig,
}

impl Remote {
    fn new() -> Result<Remote> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .context("cannot start the async runtime")?;
        let sdk = rt.block_on(cwlogs_aws::sdk_config(None));
        Ok(Remote { rt, sdk })
    }
}

/// Where archive objects (and, with S3, dead letters) go.
enum ArchiveSink {
    Local(LocalArchive),
    S3 {
        archive: S3Archive,
        prefix: String,
        dead_letter_prefix: String,
    },
}

/// The run's dead letters by name, in the order first seen, without their bytes. Dead letters
/// are named by what they hold, so the same bytes failing again (identical records, the same
/// file given twice) are one dead letter, whose error file lists every occurrence; the summary
/// counts the dead letters written, what a reader finds in `dead-letter/`.
#[derive(Default)]
struct KeptDeadLetters {
    letters: Vec<DeadLetter>,
    by_name: std::collections::HashMap<String, usize>,
}

impl KeptDeadLetters {
    /// Keeps `d`: what to write (`d` with every occurrence of its name so far), or `None` when
    /// it adds no occurrence to what was written already.
    fn add(&mut self, d: &DeadLetter) -> Option<DeadLetter> {
        let Some(&i) = self.by_name.get(&d.name) else {
            self.by_name.insert(d.name.clone(), self.letters.len());
            self.letters.push(DeadLetter {
                raw: None,
                ..d.clone()
            });
            return Some(d.clone());
        };
        let kept = &mut self.letters[i];
        let before = kept.occurrences().len();
        kept.merge(d);
        (kept.occurrences().len() > before).then(|| DeadLetter {
            raw: d.raw.clone(),
            ..kept.clone()
        })
    }

    /// The dead-letter counts of the summary.
    fn count(&self, sum: &mut Summary) {
        sum.dead_lettered = self.letters.len();
        sum.dead_lettered_records = self.letters.iter().filter(|d| d.record.is_some()).count();
        // Whole inputs: not a record, nor an archive object S3 refused.
        sum.dead_lettered_inputs = self
            .letters
            .iter()
            .filter(|d| d.record.is_none() && d.stage != "s3")
            .count();
        sum.dead_letter_occurrences = self.letters.iter().map(|d| d.occurrences().len()).sum();
    }
}

/// Which outputs a replay writes, each `on` or `off` and why: the summary's `outputs` line and
/// `summary.json`'s `outputs`.
#[derive(Debug, Default, Clone, Serialize)]
struct Outputs {
    archive: String,
    index: String,
    rules: String,
}

impl Outputs {
    /// The outputs of `config`, read from a file (`--config`) or the built-in one.
    fn of(config: &Config, from_file: bool) -> Outputs {
        let section = |state: SectionState, name: &str| {
            if from_file {
                state.describe(name)
            } else {
                "on (the built-in configuration)".to_string()
            }
        };
        let n = config.rules.len();
        Outputs {
            archive: section(config.archive_state, "archive"),
            index: section(config.index_state, "index"),
            rules: match n {
                0 => "off (no [[rule]] and no packs)".to_string(),
                1 => "on (1 rule)".to_string(),
                n => format!("on ({n} rules)"),
            },
        }
    }
}

/// Counts for the summary; also written to `summary.json`.
#[derive(Debug, Default, Clone, Serialize)]
struct Summary {
    /// Which outputs are on and off, and why.
    outputs: Outputs,
    inputs: usize,
    input_bytes: u64,
    records: usize,
    decompressed_bytes: u64,
    batches: usize,
    control_messages: usize,
    events: usize,
    archived_events: usize,
    archive_filtered: usize,
    archive_objects: usize,
    indexed_events: usize,
    index_filtered: usize,
    index_files: usize,
    /// With --index-to: documents that were already in the index.
    index_existing: usize,
    /// With --index-to: documents stored in the quarantine index.
    index_quarantined: usize,
    /// With --index-to: documents the cluster refused, or that were still failing at the end.
    index_failed: usize,
    /// With --index-to: the inputs with failed documents, to replay once the cause is fixed.
    index_failed_inputs: Vec<String>,
    /// Dead letters written (each a file and its `.error.json`, or two objects in S3).
    dead_lettered: usize,
    /// Those holding a whole input.
    dead_lettered_inputs: usize,
    /// S3 log objects skipped on purpose (CloudTrail digest files, empty log files).
    skipped_objects: usize,
    /// Those holding one record of an input.
    dead_lettered_records: usize,
    /// Every input or record the dead letters hold: more than `dead_lettered` when the same
    /// bytes failed more than once (each error file lists its `occurrences`).
    dead_letter_occurrences: usize,
    archive_failed: usize,
    /// Events of the archive objects S3 refused (kept as dead letters holding the object):
    /// `events = archived_events + archive_filtered + archive_dead_lettered_events`, and with
    /// an index `events = indexed_events + index_existing + index_quarantined + index_failed
    /// + index_filtered`. Undecodable inputs and records, whose events cannot be counted,
    /// are in `dead_lettered`.
    archive_dead_lettered_events: usize,
    /// (rule, event) matches.
    rule_matches: u64,
    /// Metric datapoints in metrics.ndjson.
    metric_datapoints: u64,
    /// Alert messages published (individual alerts, summaries and digests).
    alerts_published: usize,
    /// Summaries and digests among them.
    alert_summaries: usize,
    /// Events not alerted individually because of a rule's rate limit (counted in summaries).
    alerts_rate_limited: u64,
    /// Messages the topic refused (kept as dead letters).
    alerts_failed: usize,
    /// Inputs whose alerts were still failing at the end (retryable errors): replay them.
    alert_failed_inputs: Vec<String>,
    /// `[redact]`: values replaced in the indexed documents, per detector (never the values).
    redacted: std::collections::BTreeMap<String, u64>,
    /// `[redact]`: values replaced in alert events, group values and metric dimensions.
    redacted_rules: std::collections::BTreeMap<String, u64>,
}

/// Everything one input produced, held until it is written in input order.
#[derive(Default)]
struct InputResult {
    bytes: u64,
    records: usize,
    decompressed: u64,
    batches: usize,
    control: usize,
    events: usize,
    outputs: Vec<BatchOutput>,
    dead: Vec<DeadLetter>,
    /// The batches some rule looks at, with their region, for the run's rules (which see
    /// every input in order, on one thread).
    rule_batches: Vec<(String, ForRules)>,
    /// Events per log group and minute, for report.html.
    timeline: Timeline,
    /// A log object skipped on purpose (`[sources.s3]`).
    skipped: bool,
}

/// Runs `cwlogs replay`.
pub fn run(args: ReplayArgs) -> Result<ExitCode> {
    let send_timeout = Duration::from_secs(args.send_timeout);
    let env = |k: &str| std::env::var(k).ok();
    let mut config = match &args.config {
        Some(path) => crate::config_arg(path, &env)?,
        None => Config::builtin(&env),
    };
    // Usage errors first: nothing is read or written before the arguments are known good.
    Rules::check_usage(&config, &args)?;
    if args.index_to.is_some() && config.index.is_none() {
        return Err(usage(
            "--index-to: indexing is disabled in the configuration",
        ));
    }
    if let Some(a) = &args.index_auth
        && IndexAuth::parse(a).is_none()
    {
        return Err(usage(format!(
            "--index-auth {a}: use sigv4, sigv4-serverless, basic, api-key or none"
        )));
    }
    let wants_remote = args.archive_to.is_some()
        || args.index_to.is_some()
        || args.alert_to.is_some()
        || args.alert_table.is_some()
        || args
            .inputs
            .iter()
            .any(|i| i.to_str().is_some_and(|t| t.starts_with("s3://")));
    let remote = if wants_remote {
        Some(Remote::new()?)
    } else {
        None
    };
    let archive_to = match &args.archive_to {
        None => None,
        Some(text) => {
            let url = S3Url::parse(text).ok_or_else(|| {
                usage(format!(
                    "--archive-to {text}: expected s3://BUCKET[/PREFIX]"
                ))
            })?;
            let Some(a) = config.archive.as_mut() else {
                return Err(usage(
                    "--archive-to: archiving is disabled in the configuration",
                ));
            };
            let prefix = url.key.trim_matches('/');
            if !prefix.is_empty() {
                a.prefix = prefix.to_string();
            }
            Some(url)
        }
    };
    let inputs = collect_inputs(&args.inputs, &args.out, remote.as_ref())?;
    prepare_out_dir(&args.out)?;
    let pool = rayon::ThreadPoolBuilder::new()
        // `[patterns]`: one worker, so the miner sees the inputs in order (the same ids in
        // every run).
        .num_threads(if config.patterns.is_some() {
            1
        } else {
            args.jobs.unwrap_or(0)
        })
        .build()
        .context("cannot start worker threads")?;

    let total_bytes: u64 = inputs.iter().map(|(_, size)| size).sum();
    let progress = if std::io::stdout().is_terminal() && total_bytes > (16 << 20) {
        let bar = ProgressBar::with_draw_target(Some(total_bytes), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar
    } else {
        ProgressBar::hidden()
    };

    let archive = match (&config.archive, &archive_to, &remote) {
        (None, _, _) => None,
        (Some(a), Some(url), Some(r)) => Some(ArchiveSink::S3 {
            archive: S3Archive::new(&r.sdk, &url.bucket, a.kms_key_id.as_deref()),
            prefix: format!("s3://{}/{}", url.bucket, a.prefix),
            dead_letter_prefix: a.dead_letter_prefix.clone(),
        }),
        (Some(_), _, _) => Some(ArchiveSink::Local(LocalArchive::new(
            args.out.join("archive"),
        ))),
    };
    let cluster = match (&args.index_to, &remote) {
        (Some(url), Some(r)) => Some(connect_index(
            &mut config,
            url,
            args.index_auth.as_deref(),
            r,
            &env,
            send_timeout,
        )?),
        _ => None,
    };
    let mut index = match (&config.index, &cluster) {
        (Some(i), None) => Some(LocalIndex::new(args.out.join("index"), i.max_bulk_bytes)),
        _ => None,
    };
    let dead_letters = LocalDeadLetters::new(args.out.join("dead-letter"));
    let mut rules = Rules::new(&config, &args, remote.as_ref())?;
    // `[patterns]`: one miner for the run (OUT/patterns.ndjson, report.html).
    let miner = config
        .patterns
        .as_ref()
        .map(|p| std::sync::Mutex::new(p.miner()));

    let started = Instant::now();
    let mut sum = Summary {
        outputs: Outputs::of(&config, args.config.is_some()),
        ..Summary::default()
    };
    let mut report = RunReport::default();
    let mut dead_letters_in_s3 = 0usize;
    let mut kept = KeptDeadLetters::default();
    let (window, window_bytes) = window_bounds(pool.current_num_threads(), remote.is_some());
    // Cut once: the decoding thread and this one walk the same windows.
    let windows: Vec<&[(Input, u64)]> = windows(&inputs, window, window_bytes).collect();
    // The workers decode the next window while this thread writes the last one (in input
    // order): writing no longer leaves the cores idle.
    std::thread::scope(|scope| -> Result<()> {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<InputResult>>(1);
        let (config, pool, remote, windows) = (&config, &pool, &remote, &windows);
        let miner = &miner;
        scope.spawn(move || {
            for &chunk in windows {
                let fetched = fetch_s3(remote.as_ref(), chunk);
                let results = pool.install(|| {
                    chunk
                        .par_iter()
                        .zip(fetched)
                        .map(|((input, _), bytes)| {
                            process_one(config, input, bytes, miner.as_ref())
                        })
                        .collect()
                });
                if tx.send(results).is_err() {
                    // The writer stopped on an error.
                    break;
                }
            }
        });
        for (&chunk, mut results) in windows.iter().zip(rx) {
            let mut dead: Vec<DeadLetter> = Vec::new();
            let mut objects: Vec<&ArchiveObject> = Vec::new();
            if let (Some(cluster), Some(r), Some(i)) = (&cluster, &remote, &config.index) {
                let deadline = Instant::now() + send_timeout;
                send_documents(&r.rt, cluster, i, chunk, &results, &mut sum, deadline);
            }
            // Taken out for the rules, which consume them.
            let mut rule_batches: Vec<Vec<(String, ForRules)>> = Vec::with_capacity(results.len());
            for r in &mut results {
                report.timeline.merge(std::mem::take(&mut r.timeline));
                rule_batches.push(std::mem::take(&mut r.rule_batches));
            }
            for r in &results {
                sum.inputs += 1;
                sum.input_bytes += r.bytes;
                sum.records += r.records;
                sum.decompressed_bytes += r.decompressed;
                sum.batches += r.batches;
                sum.control_messages += r.control;
                sum.events += r.events;
                sum.skipped_objects += usize::from(r.skipped);
                for out in &r.outputs {
                    for (d, n) in &out.redacted.0 {
                        *sum.redacted.entry(d.clone()).or_default() += n;
                    }
                    sum.archive_filtered += out.archive_filtered;
                    sum.index_filtered += out.index_filtered;
                    if let Some(object) = &out.archive {
                        objects.push(object);
                    }
                    if let Some(sink) = index.as_mut() {
                        for c in &out.bulk {
                            sink.append(c)?;
                            sum.indexed_events += c.ends.len();
                        }
                    }
                }
                dead.extend(r.dead.iter().cloned());
                progress.inc(r.bytes);
            }
            if let Some(rules) = rules.as_mut() {
                for ((input, _), r) in chunk.iter().zip(rule_batches) {
                    rules.add_input(&input.shown(), r, &dead_letters, &mut sum)?;
                }
            }
            match &archive {
                None => {}
                Some(ArchiveSink::Local(sink)) => {
                    for object in &objects {
                        sink.put(object)?;
                        sum.archive_objects += 1;
                        sum.archived_events += object.events;
                    }
                }
                Some(ArchiveSink::S3 { archive, .. }) => {
                    let rt = &remote.as_ref().context("no S3 client")?.rt;
                    let deadline = Instant::now() + send_timeout;
                    let refused = put_objects(rt, archive, &objects, deadline);
                    for (object, result) in objects.iter().zip(refused) {
                        match result {
                            Ok(()) => {
                                sum.archive_objects += 1;
                                sum.archived_events += object.events;
                            }
                            Err(e) => {
                                sum.archive_failed += 1;
                                sum.archive_dead_lettered_events += object.events;
                                let to = format!("s3://{}/{}", archive.bucket(), object.key);
                                let refused =
                                    DeadLetter::refused(&object.key, &object.body, to, e.message);
                                dead.push(refused);
                            }
                        }
                    }
                }
            }
            // One dead letter per name (the same bytes again: one more occurrence in its error
            // file, written again); nothing to write when it adds no occurrence.
            let dead: Vec<DeadLetter> = dead.iter().filter_map(|d| kept.add(d)).collect();
            match (&archive, &remote) {
                (
                    Some(ArchiveSink::S3 {
                        archive,
                        dead_letter_prefix,
                        ..
                    }),
                    Some(r),
                ) => {
                    for d in &dead {
                        let now_ms = std::time::SystemTime::now()
                            .duration_since(std::time::UNIX_EPOCH)
                            .map_or(0, |d| d.as_millis() as i64);
                        let until = Some(Instant::now() + send_timeout);
                        let put = put_dead_letter(archive, dead_letter_prefix, d, now_ms, until);
                        let written = r.rt.block_on(put);
                        if written.is_ok() {
                            dead_letters_in_s3 += 1;
                        }
                        if let Err(e) = written {
                            // The bucket refuses even the dead letter: keep it on disk instead.
                            eprintln!(
                                "cwlogs: {e}; kept in {}",
                                args.out.join("dead-letter").display()
                            );
                            sum.archive_failed += 1;
                            dead_letters.put(d)?;
                        }
                    }
                }
                _ => {
                    for d in &dead {
                        dead_letters.put(d)?;
                    }
                }
            }
        }
        Ok(())
    })?;
    progress.finish_and_clear();
    kept.count(&mut sum);
    for d in &kept.letters {
        report.add_dead_letter(d);
    }
    if let Some(i) = &index {
        sum.index_files = i.files_written;
    }
    let alert_to = rules.as_ref().and_then(|r| r.topic.clone());
    if let Some(rules) = rules {
        report.rules = Some(rules.finish(&args.out, &dead_letters, &mut sum)?);
    }
    if let (Some(m), Some(p)) = (&miner, &config.patterns) {
        let m = m.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        crate::pattern_report::write_ndjson(&args.out.join("patterns.ndjson"), &m, p.warmup_ms)?;
        report.patterns = Some(crate::pattern_report::PatternsReport::new(&m, p.warmup_ms));
    }
    let elapsed = started.elapsed();
    write_report(&args.out, &config, &sum, report, elapsed.as_secs_f64())?;

    let mut json = serde_json::to_vec_pretty(&sum)?;
    json.push(b'\n');
    let summary_path = args.out.join("summary.json");
    std::fs::write(&summary_path, json)
        .with_context(|| format!("cannot write {}", summary_path.display()))?;
    let mut shown = Shown {
        out: &args.out,
        archive_at: match &archive {
            Some(ArchiveSink::S3 { prefix, .. }) => prefix.clone(),
            _ => args.out.join("archive").display().to_string(),
        },
        index_to: args.index_to.as_deref(),
        alert_to: alert_to.as_deref(),
        dead_letters_at: Vec::new(),
    };
    // Where dead letters were written: the bucket's prefix (with --archive-to), the local
    // directory (without, or when the bucket refused some), or nowhere.
    if let Some(ArchiveSink::S3 {
        archive,
        dead_letter_prefix,
        ..
    }) = &archive
        && dead_letters_in_s3 > 0
    {
        let at = format!("s3://{}/{dead_letter_prefix}/", archive.bucket());
        shown.dead_letters_at.push(at);
    }
    if dead_letters.written() > 0 {
        let at = args.out.join("dead-letter").display().to_string();
        shown.dead_letters_at.push(at);
    }
    print_summary(&sum, &config, &shown, elapsed.as_secs_f64());
    if sum.index_failed > 0 {
        eprintln!(
            "cwlogs: {} documents were not indexed (see the errors above); replay these inputs once the cause is fixed (documents already indexed are not duplicated):",
            sum.index_failed
        );
        for input in &sum.index_failed_inputs {
            eprintln!("  {input}");
        }
    }
    if sum.archive_failed > 0 {
        eprintln!(
            "cwlogs: {} archive objects were not written to S3; they are dead letters with the error",
            sum.archive_failed
        );
    }
    if sum.alerts_failed > 0 {
        eprintln!(
            "cwlogs: {} alert messages were refused; they are dead letters in {} with the error",
            sum.alerts_failed,
            args.out.join("dead-letter").display()
        );
    }
    if !sum.alert_failed_inputs.is_empty() {
        eprintln!(
            "cwlogs: alerts of these inputs could not be sent (see the errors above); replay them once the cause is fixed:"
        );
        for input in &sum.alert_failed_inputs {
            eprintln!("  {input}");
        }
    }
    if sum.archive_failed > 0
        || sum.index_failed > 0
        || sum.alerts_failed > 0
        || !sum.alert_failed_inputs.is_empty()
    {
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

/// Where alert state lives during a replay: memory (the run's own), or a DynamoDB table
/// (`--alert-table`).
enum AlertState {
    Memory(MemoryStateStore),
    Dynamo(DynamoStateStore),
}

impl StateStore for AlertState {
    async fn get(
        &self,
        key: &str,
        deadline: Option<Instant>,
    ) -> std::result::Result<Option<Versioned>, SendError> {
        match self {
            AlertState::Memory(s) => s.get(key, deadline).await,
            AlertState::Dynamo(s) => s.get(key, deadline).await,
        }
    }

    async fn put(
        &self,
        write: StateWrite<'_>,
        deadline: Option<Instant>,
    ) -> std::result::Result<bool, SendError> {
        match self {
            AlertState::Memory(s) => s.put(write, deadline).await,
            AlertState::Dynamo(s) => s.put(write, deadline).await,
        }
    }

    fn update_value<T, R>(
        &self,
        key: &str,
        f: &mut dyn FnMut(&mut Option<T>) -> (bool, R),
    ) -> Option<R>
    where
        T: serde::Serialize + serde::de::DeserializeOwned + Send + Sync + 'static,
    {
        match self {
            AlertState::Memory(s) => s.update_value(key, f),
            AlertState::Dynamo(_) => None,
        }
    }
}

/// The `[[rule]]`s of a replay: one run over every input in order (metrics aggregated over the
/// whole replay), alerts sent after each input, summaries of every window at the end.
struct Rules<'c> {
    config: &'c Config,
    run: RuleRun<'c>,
    state: AlertState,
    out: AlertFile<SnsPublisher>,
    /// `--alert-to`.
    topic: Option<String>,
    rt: RulesRuntime,
    report: AlertReport,
    /// `--send-timeout`: how long each publishing round may take.
    send_timeout: Duration,
    /// `[patterns]` alerts: one miner for the run, the template state in `state`.
    patterns: Option<PatternDetector>,
    /// Occurrences of the pattern rules found, by rule name.
    pattern_hits: std::collections::BTreeMap<String, u64>,
}

/// The runtime alert sends run on: the AWS one, or a local one when nothing goes to AWS.
enum RulesRuntime {
    Local(tokio::runtime::Runtime),
    Remote(tokio::runtime::Handle),
}

impl<'c> Rules<'c> {
    /// `None` when the configuration has no rules (then `--alert-to` / `--alert-table` are
    /// usage errors).
    /// `--alert-to` and `--alert-table` need rules with alerts, and `--alert-to` a topic ARN.
    fn check_usage(config: &Config, args: &ReplayArgs) -> Result<()> {
        let alerting = config.rules.alert_rules().any(|r| r.alert.is_some());
        for (flag, given) in [
            ("--alert-to", args.alert_to.is_some()),
            ("--alert-table", args.alert_table.is_some()),
        ] {
            if given && !alerting {
                return Err(usage(format!(
                    "{flag}: no `[[rule]]` in the configuration has an `alert` (nor are `[patterns]` alerts on)"
                )));
            }
        }
        if let Some(arn) = &args.alert_to {
            cwlogs_pipeline::rules::check_topic_arn(arn)
                .map_err(|e| usage(format!("--alert-to: {e}")))?;
        }
        Ok(())
    }

    fn new(config: &'c Config, args: &ReplayArgs, remote: Option<&Remote>) -> Result<Option<Self>> {
        if config.rules.is_empty() && config.rules.pattern_rules.is_empty() {
            return Ok(None);
        }
        // Published in the topic's own region, whatever AWS_REGION says.
        let sns = match (&args.alert_to, remote) {
            (Some(arn), Some(r)) => {
                let region = arn.split(':').nth(3).unwrap_or_default().to_string();
                let sdk = r
                    .sdk
                    .to_builder()
                    .region(aws_config::Region::new(region))
                    .build();
                Some(SnsPublisher::new(&sdk))
            }
            _ => None,
        };
        let state = match (&args.alert_table, remote) {
            (Some(table), Some(r)) => AlertState::Dynamo(DynamoStateStore::new(&r.sdk, table)),
            _ => AlertState::Memory(MemoryStateStore::new()),
        };
        let rt = match remote {
            Some(r) => RulesRuntime::Remote(r.rt.handle().clone()),
            None => RulesRuntime::Local(
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .context("cannot start the async runtime")?,
            ),
        };
        Ok(Some(Rules {
            config,
            run: RuleRun::new(&config.rules),
            state,
            out: AlertFile::create(args.out.join("alerts.ndjson"), sns)?,
            topic: args.alert_to.clone(),
            rt,
            report: AlertReport::default(),
            send_timeout: Duration::from_secs(args.send_timeout),
            patterns: config
                .patterns
                .as_ref()
                .filter(|p| p.alerts())
                .map(|p| PatternDetector::new(p).with_redactor(config.rules.redact_alerts.clone())),
            pattern_hits: std::collections::BTreeMap::new(),
        }))
    }

    fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        match &self.rt {
            RulesRuntime::Local(rt) => rt.block_on(f),
            RulesRuntime::Remote(h) => h.block_on(f),
        }
    }

    fn options(&self, flush_all: bool) -> AlertOptions {
        AlertOptions {
            now_ms: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as i64),
            deadline: Some(Instant::now() + self.send_timeout),
            undo_deadline: Some(Instant::now() + 2 * self.send_timeout),
            flush_all,
            topic: self.topic.clone(),
        }
    }

    /// Runs the rules over one input's batches and sends its alerts.
    fn add_input(
        &mut self,
        shown: &str,
        rule_batches: Vec<(String, ForRules)>,
        dead_letters: &LocalDeadLetters,
        sum: &mut Summary,
    ) -> Result<()> {
        for (region, batch) in rule_batches {
            let region = &region;
            match batch {
                ForRules::Whole(batch) => {
                    self.run.add_batch(region, &batch, 0);
                    if let Some(d) = &mut self.patterns {
                        d.observe_batch(region, &batch, 0);
                    }
                }
                ForRules::Thin(thin) => {
                    self.run.add_thin(region, thin, 0);
                }
            }
        }
        let mut occurrences = self.run.take_occurrences();
        occurrences.extend(self.pattern_occurrences(shown, sum));
        if occurrences.is_empty() {
            return Ok(());
        }
        let options = self.options(false);
        let report = self.block_on(send_alerts(
            &self.config.rules,
            occurrences,
            &self.state,
            &self.out,
            &options,
        ));
        if !report.pending_records.is_empty() {
            eprintln!(
                "cwlogs: {shown}: alerts not sent: {}",
                report.pending_error.as_deref().unwrap_or("unknown error")
            );
            sum.alert_failed_inputs.push(shown.to_string());
        }
        self.settle(report, shown, dead_letters, sum)
    }

    /// The occurrences of the `[patterns]` alerts of one input: what the miner saw merged
    /// into the template state (memory, or `--alert-table`).
    fn pattern_occurrences(&mut self, shown: &str, sum: &mut Summary) -> Vec<Occurrences> {
        let Some(mut d) = self.patterns.take() else {
            return Vec::new();
        };
        let mut out = Vec::new();
        let config = d.config().clone();
        let mut redacted = RedactCounts::default();
        for delta in d.take() {
            let options = self.options(false);
            match self.block_on(sync_group(
                &self.state,
                &delta,
                &config,
                options.now_ms,
                options.deadline,
            )) {
                Ok((state, found)) => {
                    d.learned(&delta.log_group, &state);
                    let found_here = occurrences(&self.config.rules, &delta, &found, &mut redacted);
                    for o in &found_here {
                        if let Some(rule) = self.config.rules.alert_rule(o.rule) {
                            *self.pattern_hits.entry(rule.name.clone()).or_insert(0) += o.count;
                        }
                    }
                    out.extend(found_here);
                }
                Err(e) => {
                    eprintln!(
                        "cwlogs: {shown}: pattern state of {} not written: {}",
                        delta.log_group, e.message
                    );
                    if !sum.alert_failed_inputs.iter().any(|i| i == shown) {
                        sum.alert_failed_inputs.push(shown.to_string());
                    }
                }
            }
        }
        self.patterns = Some(d);
        out
    }

    /// Dead-letters what the topic refused and adds the counts.
    fn settle(
        &mut self,
        mut report: AlertReport,
        input: &str,
        dead_letters: &LocalDeadLetters,
        sum: &mut Summary,
    ) -> Result<()> {
        for failed in std::mem::take(&mut report.failed) {
            eprintln!(
                "cwlogs: alert `{}` refused: {}",
                failed.message.subject, failed.error
            );
            dead_letters.put(&failed.dead_letter("", input))?;
            sum.alerts_failed += 1;
        }
        report.pending_records.clear();
        self.report.merge(report);
        Ok(())
    }

    /// Sends every window's summary, writes metrics.ndjson and adds the counts; returns the
    /// rules' part of the report.
    fn finish(
        mut self,
        out: &Path,
        dead_letters: &LocalDeadLetters,
        sum: &mut Summary,
    ) -> Result<RulesReport> {
        let options = self.options(true);
        let report = self.block_on(flush_summaries(
            &self.config.rules,
            &self.state,
            &self.out,
            &options,
        ));
        if let Some(e) = &report.pending_error {
            eprintln!("cwlogs: window summaries not sent: {e}");
            sum.alert_failed_inputs.push("(window summaries)".into());
        }
        self.settle(report, "cwlogs replay: window summaries", dead_letters, sum)?;
        self.out.flush()?;
        let mut metrics = String::new();
        for line in self.run.emf_lines() {
            metrics.push_str(&line);
            metrics.push('\n');
        }
        let path = out.join("metrics.ndjson");
        std::fs::write(&path, metrics)
            .with_context(|| format!("cannot write {}", path.display()))?;
        let stats = self.run.stats();
        sum.rule_matches = stats.matches;
        sum.redacted_rules = self.run.redacted().0.clone();
        sum.metric_datapoints = stats.datapoints;
        sum.alerts_published = self.report.published;
        sum.alert_summaries = self.report.summaries;
        sum.alerts_rate_limited = self.report.rate_limited;
        let pattern_lines: Vec<(&cwlogs_pipeline::rules::Rule, u64)> = self
            .config
            .rules
            .pattern_rules
            .iter()
            .map(|r| (r, self.pattern_hits.get(&r.name).copied().unwrap_or(0)))
            .collect();
        let rules = self
            .config
            .rules
            .iter()
            .zip(self.run.rule_matches().iter().copied())
            .chain(pattern_lines)
            .map(|(rule, hits)| {
                let (alerts_sent, summaries) = self.out.written_for(&rule.name);
                RuleLine {
                    name: rule.name.clone(),
                    hits,
                    alerting: rule.alert.is_some(),
                    alerts_sent,
                    summaries,
                }
            })
            .collect();
        Ok(RulesReport {
            rules,
            metric_datapoints: sum.metric_datapoints,
            alerts_published: sum.alerts_published,
            alert_summaries: sum.alert_summaries,
            alerts_rate_limited: sum.alerts_rate_limited,
            alerts_failed: sum.alerts_failed,
        })
    }
}

/// A batch kept for the run's rules.
enum ForRules {
    /// A copy of the whole batch: `[patterns]` alerts observe every event; S3 objects' records
    /// are owned already.
    Whole(LogBatch<'static>),
    /// Only what the rules need of it ([`ThinBatch`]): most events match no rule, and are
    /// not copied.
    Thin(ThinBatch),
}

/// An owned copy of `batch`, for the rules (its events are borrowed from the decompressed
/// payload, which does not outlive the worker).
fn owned_batch(batch: &LogBatch<'_>) -> LogBatch<'static> {
    let mut owned = batch.to_static_header();
    owned.log_events = batch.log_events.iter().map(LogEvent::to_static).collect();
    owned
}

/// Points the configuration's index at `url` and connects to it; installs the index templates
/// when the configuration asks for it (a failure there is a warning: indexing still works,
/// with the cluster's dynamic mappings).
fn connect_index(
    config: &mut Config,
    url: &str,
    auth: Option<&str>,
    remote: &Remote,
    env: &dyn Fn(&str) -> Option<String>,
    send_timeout: Duration,
) -> Result<OpenSearchIndex> {
    let region = config.region.clone();
    let Some(i) = config.index.as_mut() else {
        return Err(usage(
            "--index-to: indexing is disabled in the configuration",
        ));
    };
    i.auth = match auth {
        Some(a) => IndexAuth::parse(a).ok_or_else(|| {
            usage(format!(
                "--index-auth {a}: use sigv4, sigv4-serverless, basic, api-key or none"
            ))
        })?,
        None if i.endpoint.is_some() => i.auth,
        None => IndexAuth::infer(Some(url)),
    };
    i.endpoint = Some(url.trim_end_matches('/').to_string());
    // With `[index] secret` (and auth basic or api-key), the credentials come from Secrets
    // Manager, as in the index function.
    if i.secret.is_some() && !matches!(i.auth, IndexAuth::Basic | IndexAuth::ApiKey) {
        i.secret = None;
    }
    let connect = cwlogs_aws::index_client(i, &remote.sdk, &region, env);
    let cluster = remote
        .rt
        .block_on(connect)
        .map_err(|e| anyhow::anyhow!("--index-to {url}: {e}"))?;
    if i.install_template {
        // Built inside the runtime: a timer needs its reactor.
        let install =
            async { tokio::time::timeout(send_timeout, cluster.install_templates(i)).await };
        match remote.rt.block_on(install) {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => eprintln!("cwlogs: index templates not installed: {e}"),
            Err(_) => eprintln!(
                "cwlogs: index templates not installed: no answer within --send-timeout ({}s)",
                send_timeout.as_secs()
            ),
        }
    }
    Ok(cluster)
}

/// Sends the documents of a window of inputs to the cluster, in requests as full as the byte
/// budget allows, and counts how each ended; inputs with failed documents are listed.
fn send_documents(
    rt: &tokio::runtime::Runtime,
    cluster: &OpenSearchIndex,
    index: &IndexConfig,
    inputs: &[(Input, u64)],
    results: &[InputResult],
    sum: &mut Summary,
    deadline: Instant,
) {
    let mut items: Vec<&[u8]> = Vec::new();
    let mut owner: Vec<usize> = Vec::new();
    for (n, r) in results.iter().enumerate() {
        for chunk in r.outputs.iter().flat_map(|o| &o.bulk) {
            for item in chunk.items() {
                items.push(item);
                owner.push(n);
            }
        }
    }
    if items.is_empty() {
        return;
    }
    let options = BulkOptions {
        max_bytes: index.max_bulk_bytes,
        compress: index.compress,
        ..BulkOptions::default()
    };
    let report = rt.block_on(index_items(
        cluster,
        &items,
        index,
        &options,
        Some(deadline),
    ));
    let mut failed = vec![false; results.len()];
    let mut shown = 0;
    for (fate, &n) in report.fates.iter().zip(&owner) {
        match fate {
            Fate::Done { created: true } => sum.indexed_events += 1,
            Fate::Done { created: false } => sum.index_existing += 1,
            Fate::Quarantine { .. } => sum.index_quarantined += 1,
            Fate::Rejected(why) | Fate::Pending(why) => {
                sum.index_failed += 1;
                // The first error of each failed input (of the first few).
                if !std::mem::replace(&mut failed[n], true) && shown < 5 {
                    eprintln!("cwlogs: {}: {why}", inputs[n].0.shown());
                    shown += 1;
                }
            }
        }
    }
    sum.index_files += report.requests;
    for (n, f) in failed.iter().enumerate() {
        if *f {
            sum.index_failed_inputs.push(inputs[n].0.shown());
        }
    }
}

/// Reads the S3 inputs of a window, a few at a time; `None` for local files (read by the
/// workers).
fn fetch_s3(
    remote: Option<&Remote>,
    chunk: &[(Input, u64)],
) -> Vec<Option<std::result::Result<Vec<u8>, String>>> {
    let Some(r) = remote else {
        return chunk.iter().map(|_| None).collect();
    };
    let source = S3Source::new(&r.sdk);
    r.rt.block_on(
        futures_util::stream::iter(chunk.iter().map(|(input, _)| {
            let source = &source;
            async move {
                match input {
                    Input::File(_) => None,
                    Input::S3 { bucket, key } => Some(
                        source
                            .get(bucket, key, MAX_INPUT_BYTES)
                            .await
                            .map_err(|e| e.message),
                    ),
                }
            }
        }))
        .buffered(CONCURRENT_GETS)
        .collect(),
    )
}

/// Writes archive objects to S3, a few at a time, returning each one's result in order.
fn put_objects(
    rt: &tokio::runtime::Runtime,
    archive: &S3Archive,
    objects: &[&ArchiveObject],
    deadline: Instant,
) -> Vec<std::result::Result<(), cwlogs_pipeline::SendError>> {
    rt.block_on(
        futures_util::stream::iter(
            objects
                .iter()
                .map(|o| archive.put(o.as_object(), Some(deadline))),
        )
        .buffered(CONCURRENT_PUTS)
        .collect(),
    )
}

/// Where a replay's outputs went, for its summary.
struct Shown<'a> {
    /// `--out`.
    out: &'a Path,
    /// The archive's directory or S3 prefix.
    archive_at: String,
    /// `--index-to`.
    index_to: Option<&'a str>,
    /// `--alert-to`.
    alert_to: Option<&'a str>,
    /// Where dead letters were written (none: nothing was).
    dead_letters_at: Vec<String>,
}

fn print_summary(s: &Summary, config: &Config, shown: &Shown<'_>, secs: f64) {
    let (out, archive_at) = (shown.out, &shown.archive_at);
    let (index_to, alert_to) = (shown.index_to, shown.alert_to);
    let mb = s.decompressed_bytes as f64 / 1e6;
    println!(
        "cwlogs replay: {} inputs ({:.1} MB), {} records, {} batches, {} events",
        s.inputs,
        s.input_bytes as f64 / 1e6,
        s.records,
        s.batches,
        s.events
    );
    let o = &s.outputs;
    println!(
        "  outputs        archive {}, index {}, rules {}",
        o.archive, o.index, o.rules
    );
    if config.archive.is_some() {
        println!(
            "  archived       {:>9} events in {} objects ({} filtered out)  -> {}",
            s.archived_events, s.archive_objects, s.archive_filtered, archive_at
        );
    }
    match (&config.index, index_to) {
        (Some(_), Some(url)) => println!(
            "  indexed        {:>9} events in {} _bulk requests ({} already there, {} quarantined, {} failed, {} filtered out)  -> {url}",
            s.indexed_events,
            s.index_files,
            s.index_existing,
            s.index_quarantined,
            s.index_failed,
            s.index_filtered,
        ),
        (Some(_), None) => println!(
            "  indexed        {:>9} events in {} _bulk files ({} filtered out)  -> {}",
            s.indexed_events,
            s.index_files,
            s.index_filtered,
            out.join("index").display()
        ),
        (None, _) => {}
    }
    if !config.rules.is_empty() || !config.rules.pattern_rules.is_empty() {
        println!(
            "  rules          {:>9} matches, {} metric datapoints  -> {}",
            s.rule_matches,
            s.metric_datapoints,
            out.join("metrics.ndjson").display()
        );
        let to = match alert_to {
            Some(arn) => format!("{arn} and {}", out.join("alerts.ndjson").display()),
            None => out.join("alerts.ndjson").display().to_string(),
        };
        println!(
            "  alerts         {:>9} published ({} summaries, {} rate-limited events, {} failed)  -> {to}",
            s.alerts_published, s.alert_summaries, s.alerts_rate_limited, s.alerts_failed,
        );
    }
    println!(
        "  control        {:>9} messages skipped",
        s.control_messages
    );
    let dead_at = if shown.dead_letters_at.is_empty() {
        String::new()
    } else {
        format!("  -> {}", shown.dead_letters_at.join(" and "))
    };
    let mut parts = vec![
        format!("{} whole inputs", s.dead_lettered_inputs),
        format!("{} records", s.dead_lettered_records),
    ];
    let refused = s.dead_lettered - s.dead_lettered_inputs - s.dead_lettered_records;
    if refused > 0 {
        parts.push(format!("{refused} refused archive objects"));
    }
    let mut detail = parts.join(", ");
    if s.dead_letter_occurrences != s.dead_lettered {
        // The same bytes failed more than once: each error file lists its occurrences.
        detail.push_str(&format!(
            "; {} occurrences, listed in their error files",
            s.dead_letter_occurrences
        ));
    }
    println!(
        "  dead-lettered  {:>9} ({detail}){dead_at}",
        s.dead_lettered
    );
    let secs = secs.max(1e-9);
    println!(
        "  throughput     {:.1} MB/s of decompressed JSON, {:.0} events/s ({:.2} s)",
        mb / secs,
        s.events as f64 / secs,
        secs
    );
    println!(
        "  summary        {:>9}  -> {}",
        "",
        out.join("summary.json").display()
    );
    println!(
        "  report         {:>9}  -> {}",
        "",
        out.join("report.html").display()
    );
}

/// Expands directories (recursively, in name order) and S3 prefixes (in key order), skipping
/// dead-letter error files, hidden files and the output directory itself. Files named
/// explicitly are always taken. Each input comes with its size, for progress. A path that does
/// not exist or cannot be read is a [`UsageError`] naming every such path.
fn collect_inputs(
    inputs: &[PathBuf],
    out: &Path,
    remote: Option<&Remote>,
) -> Result<Vec<(Input, u64)>> {
    let out_abs = std::fs::canonicalize(out).ok();
    let mut found = Vec::new();
    let mut unreadable = Vec::new();
    for input in inputs {
        if let Some(text) = input.to_str().filter(|t| t.starts_with("s3://")) {
            let url = S3Url::parse(text)
                .ok_or_else(|| usage(format!("{text}: expected s3://BUCKET[/PREFIX]")))?;
            let r = remote.context("no S3 client")?;
            let keys =
                r.rt.block_on(S3Source::new(&r.sdk).list(&url))
                    .map_err(|e| anyhow::anyhow!("{}", e.message))?;
            for (key, size) in keys {
                if is_error_file(&key) || key.ends_with('/') {
                    continue;
                }
                let bucket = url.bucket.clone();
                found.push((Input::S3 { bucket, key }, size));
            }
            continue;
        }
        // A path named on the command line must be there and readable: a typo is a usage
        // error, before any output is written. What a directory holds, and files that vanish
        // or become unreadable during the run, are read later and become dead letters.
        let readable = std::fs::metadata(input).and_then(|m| {
            if m.is_dir() {
                std::fs::read_dir(input).map(|_| m)
            } else {
                std::fs::File::open(input).map(|_| m)
            }
        });
        match readable {
            Ok(m) if m.is_dir() => {
                let mut files = Vec::new();
                walk(input, out_abs.as_deref(), &mut files)?;
                for f in files {
                    let size = std::fs::metadata(&f).map_or(0, |m| m.len());
                    found.push((Input::File(f), size));
                }
            }
            Ok(m) => found.push((Input::File(input.clone()), m.len())),
            Err(e) => unreadable.push(format!("{}: {e}", input.display())),
        }
    }
    if !unreadable.is_empty() {
        return Err(usage(format!(
            "cannot read {}",
            unreadable.join("\ncwlogs: cannot read ")
        )));
    }
    Ok(found)
}

fn walk(dir: &Path, out: Option<&Path>, files: &mut Vec<PathBuf>) -> Result<()> {
    if out.is_some() && std::fs::canonicalize(dir).ok().as_deref() == out {
        return Ok(());
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read directory {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for p in entries {
        let hidden = p
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with('.'));
        if hidden || is_error_sidecar(&p) {
            continue;
        }
        if p.is_dir() {
            walk(&p, out, files)?;
        } else {
            files.push(p);
        }
    }
    Ok(())
}

fn read_input(path: &Path) -> std::io::Result<Vec<u8>> {
    let file = std::fs::File::open(path)?;
    // Sized once from the file's length (a `Take` gives `read_to_end` no size hint: it would
    // grow the buffer by doubling, copying what was read at every step); the read still stops
    // past the limit, whatever the length said.
    let size = file.metadata().map_or(0, |m| m.len()).min(MAX_INPUT_BYTES);
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0).saturating_add(1));
    file.take(MAX_INPUT_BYTES + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_INPUT_BYTES {
        return Err(std::io::Error::other(format!(
            "input is larger than {MAX_INPUT_BYTES} bytes"
        )));
    }
    Ok(bytes)
}

/// Reads the inputs as `replay` does (files, directories recursively in name order,
/// `s3://BUCKET/PREFIX` in key order, dead-letter error files and hidden files skipped) and
/// calls `each(name, shown, bytes)` for each, in order: `name` is a file name for it, `shown`
/// where it came from, `bytes` its content or why it could not be read. For commands that
/// read what replay reads (`cwlogs patterns`).
pub(crate) fn for_each_input(
    inputs: &[PathBuf],
    mut each: impl FnMut(&str, &str, std::result::Result<Vec<u8>, String>),
) -> Result<()> {
    let wants_remote = inputs
        .iter()
        .any(|i| i.to_str().is_some_and(|t| t.starts_with("s3://")));
    let remote = if wants_remote {
        Some(Remote::new()?)
    } else {
        None
    };
    // No output directory to leave out.
    let found = collect_inputs(inputs, Path::new(""), remote.as_ref())?;
    for chunk in found.chunks(CONCURRENT_GETS * 4) {
        let fetched = fetch_s3(remote.as_ref(), chunk);
        for ((input, _), bytes) in chunk.iter().zip(fetched) {
            let bytes = match (input, bytes) {
                (_, Some(b)) => b,
                (Input::File(path), None) => {
                    read_input(path).map_err(|e| format!("cannot read input: {e}"))
                }
                (Input::S3 { .. }, None) => Err("S3 input was not fetched".to_string()),
            };
            each(&input.name(), &input.shown(), bytes);
        }
    }
    Ok(())
}

/// Reads (unless already fetched) and decodes one input and builds its outputs; never
/// fails: what cannot be read or decoded becomes a dead letter.
fn process_one(
    config: &Config,
    input: &Input,
    fetched: Option<std::result::Result<Vec<u8>, String>>,
    miner: Option<&std::sync::Mutex<Miner>>,
) -> InputResult {
    let mut r = InputResult::default();
    let name = input.name();
    let shown = input.shown();
    let bytes = match (input, fetched) {
        (_, Some(Ok(b))) => b,
        (_, Some(Err(e))) => {
            r.dead.push(DeadLetter::unread(name, shown, e));
            return r;
        }
        (Input::File(path), None) => match read_input(path) {
            Ok(b) => b,
            Err(e) => {
                let error = format!("cannot read input: {e}");
                r.dead.push(DeadLetter::unread(name, shown, error));
                return r;
            }
        },
        (Input::S3 { .. }, None) => {
            let error = "S3 input was not fetched".to_string();
            r.dead.push(DeadLetter::unread(name, shown, error));
            return r;
        }
    };
    // Logs AWS delivers to S3 (`[sources.s3]`): read as such, all or nothing.
    let (bucket, key) = match input {
        Input::File(path) => (String::new(), path.display().to_string()),
        Input::S3 { bucket, key } => (bucket.clone(), key.clone()),
    };
    if let Some(o) = crate::objects::read_object(config, &bucket, &key, &name, &shown, &bytes) {
        r.bytes = bytes.len() as u64;
        r.records = 1;
        r.decompressed = o.decompressed;
        r.batches = o.outputs.len();
        r.events = o.records;
        r.skipped = o.skipped;
        r.timeline.add_batch(&o.group, o.times);
        r.outputs = o.outputs;
        r.rule_batches = o
            .rule_batches
            .into_iter()
            .map(|(region, b)| (region, ForRules::Whole(b)))
            .collect();
        r.dead.extend(o.dead);
        return r;
    }
    let mut timeline = Timeline::default();
    // `[patterns]` alerts look at every event of every log group.
    let patterns = !config.rules.pattern_rules.is_empty()
        || config.patterns.as_ref().is_some_and(|p| p.alerts());
    let processed = process_input(config, &name, &shown, &bytes, |region, batch| {
        timeline.add_batch(
            &batch.log_group,
            batch.log_events.iter().map(|e| e.timestamp),
        );
        let for_rules = if patterns {
            Some(ForRules::Whole(owned_batch(batch)))
        } else if config
            .rules
            .iter()
            .any(|rule| rule.takes_group(&batch.log_group))
        {
            Some(ForRules::Thin(ThinBatch::new(&config.rules, batch)))
        } else {
            None
        }
        .map(|b| (region.to_string(), b));
        let out = match miner {
            Some(m) => {
                let mut m = m.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                process_batch_with(config, region, batch, Some(&mut m))
            }
            None => process_batch(config, region, batch),
        };
        (out, for_rules)
    });
    r.timeline = timeline;
    r.bytes = processed.bytes;
    r.dead.extend(processed.dead_letters().cloned());
    for record in processed.records {
        r.records += 1;
        r.decompressed += record.decompressed;
        r.batches += record.batches;
        r.control += record.control;
        r.events += record.events;
        for (output, for_rules) in record.outputs {
            r.outputs.push(output);
            r.rule_batches.extend(for_rules);
        }
    }
    r
}

/// Writes `report.html` (see [`crate::report`]): the run's counts, its events over time per log
/// group, rule hits, alerts and dead letters, as one self-contained page.
fn write_report(
    out: &Path,
    config: &Config,
    sum: &Summary,
    mut report: RunReport,
    elapsed_secs: f64,
) -> Result<()> {
    report.inputs = sum.inputs;
    report.redacted = sum.redacted.clone();
    for (d, n) in &sum.redacted_rules {
        *report.redacted.entry(d.clone()).or_default() += n;
    }
    report.input_bytes = sum.input_bytes;
    report.records = sum.records;
    report.decompressed_bytes = sum.decompressed_bytes;
    report.batches = sum.batches;
    report.control_messages = sum.control_messages;
    report.events = sum.events;
    report.archived_events = config.archive.as_ref().map(|_| sum.archived_events);
    report.archive_filtered = sum.archive_filtered;
    report.indexed_events = config.index.as_ref().map(|_| sum.indexed_events);
    report.index_filtered = sum.index_filtered;
    report.elapsed_secs = elapsed_secs;
    let path = out.join("report.html");
    std::fs::write(&path, crate::report::render(&report))
        .with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::{window_bounds, windows};

    fn cut(sizes: &[u64], per_window: usize, bytes: u64) -> Vec<Vec<usize>> {
        let inputs: Vec<(usize, u64)> = sizes.iter().copied().enumerate().collect();
        windows(&inputs, per_window, bytes)
            .map(|w| w.iter().map(|(i, _)| *i).collect())
            .collect()
    }

    #[test]
    fn windows_are_bounded_by_count_and_bytes_and_keep_every_input_in_order() {
        // By count alone.
        assert_eq!(
            cut(&[1, 1, 1, 1, 1], 2, 100),
            vec![vec![0, 1], vec![2, 3], vec![4]]
        );
        // The input that reaches the byte bound ends its window.
        assert_eq!(
            cut(&[40, 40, 40, 10, 200, 5], 8, 100),
            vec![vec![0, 1, 2], vec![3, 4], vec![5]]
        );
        // An input larger than the bound is a window of its own; so is every input when the
        // bound is 0 or there is at most one input per window.
        assert_eq!(cut(&[500, 1, 1], 8, 100), vec![vec![0], vec![1, 2]]);
        assert_eq!(cut(&[1, 2, 3], 8, 0), vec![vec![0], vec![1], vec![2]]);
        assert_eq!(cut(&[1, 2, 3], 0, 100), vec![vec![0], vec![1], vec![2]]);
        assert!(cut(&[], 8, 100).is_empty());
        // Sizes that add up past u64 do not wrap.
        assert_eq!(cut(&[u64::MAX, u64::MAX], 8, 100), vec![vec![0], vec![1]]);
    }

    #[test]
    fn one_local_thread_takes_one_input_at_a_time_others_eight_a_thread() {
        assert_eq!(window_bounds(0, false).0, 1);
        assert_eq!(window_bounds(1, false).0, 1);
        // Remote sources and destinations overlap their round trips over a window.
        assert_eq!(window_bounds(1, true), (8, 4 << 20));
        assert_eq!(window_bounds(2, false).0, 16);
        assert_eq!(window_bounds(4, true), (32, 16 << 20));
    }
}
