//! `cwlogs replay`: the whole pipeline over files, with local sinks.

use crate::sinks::{
    DeadLetter, LocalArchive, LocalDeadLetters, LocalIndex, flat_name, is_error_sidecar,
    prepare_out_dir,
};
use anyhow::{Context, Result};
use cwlogs_decode::{DecodeError, MessageType, RecordData, detect};
use cwlogs_pipeline::{BatchOutput, Config, process_batch, resolve_region};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rayon::prelude::*;
use serde::Serialize;
use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

/// The largest input file read, in bytes. Lambda events are at most 6 MB and archive objects a
/// few tens of MB; anything larger is dead-lettered unread.
pub const MAX_INPUT_BYTES: u64 = 256 << 20;

/// How many inputs are decoded in parallel before their outputs are written, in input order.
const WINDOW_PER_THREAD: usize = 8;

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
    /// Lambda events of any supported trigger, raw gzip payloads, base64 payloads, cwlogs
    /// archive objects (.ndjson.gz) or dead letters; directories are read recursively.
    #[arg(required = true, value_name = "INPUT")]
    inputs: Vec<PathBuf>,
}

/// Counts for the summary; also written to `summary.json`.
#[derive(Debug, Default, Clone, Serialize)]
struct Summary {
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
    dead_lettered: usize,
    dead_lettered_inputs: usize,
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
}

/// Runs `cwlogs replay`.
pub fn run(args: ReplayArgs) -> Result<ExitCode> {
    let env = |k: &str| std::env::var(k).ok();
    let config = match &args.config {
        Some(path) => match crate::load_config(path, &env)? {
            Ok(c) => c,
            Err(report) => {
                eprint!("{report}");
                return Ok(ExitCode::from(2));
            }
        },
        None => Config::builtin(&env),
    };
    let inputs = collect_inputs(&args.inputs, &args.out)?;
    prepare_out_dir(&args.out)?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.jobs.unwrap_or(0))
        .build()
        .context("cannot start worker threads")?;

    let total_bytes: u64 = inputs
        .iter()
        .map(|p| std::fs::metadata(p).map_or(0, |m| m.len()))
        .sum();
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

    let archive = config
        .archive
        .as_ref()
        .map(|_| LocalArchive::new(args.out.join("archive")));
    let mut index = config
        .index
        .as_ref()
        .map(|i| LocalIndex::new(args.out.join("index"), i.max_bulk_bytes));
    let dead_letters = LocalDeadLetters::new(args.out.join("dead-letter"));

    let started = Instant::now();
    let mut sum = Summary::default();
    let window = pool.current_num_threads().max(1) * WINDOW_PER_THREAD;
    for chunk in inputs.chunks(window) {
        let results: Vec<InputResult> = pool.install(|| {
            chunk
                .par_iter()
                .map(|p| process_input(&config, p))
                .collect()
        });
        for r in results {
            sum.inputs += 1;
            sum.input_bytes += r.bytes;
            sum.records += r.records;
            sum.decompressed_bytes += r.decompressed;
            sum.batches += r.batches;
            sum.control_messages += r.control;
            sum.events += r.events;
            for out in &r.outputs {
                sum.archive_filtered += out.archive_filtered;
                sum.index_filtered += out.index_filtered;
                if let (Some(sink), Some(object)) = (&archive, &out.archive) {
                    sink.put(object)?;
                    sum.archive_objects += 1;
                    sum.archived_events += object.events;
                }
                if let Some(sink) = index.as_mut() {
                    for c in &out.bulk {
                        sink.append(c)?;
                        sum.indexed_events += c.ends.len();
                    }
                }
            }
            if r.dead.iter().any(|d| d.record.is_none()) {
                sum.dead_lettered_inputs += 1;
            }
            for d in &r.dead {
                dead_letters.put(d)?;
                sum.dead_lettered += 1;
            }
            progress.inc(r.bytes);
        }
    }
    progress.finish_and_clear();
    sum.index_files = index.as_ref().map_or(0, |i| i.files_written);
    let elapsed = started.elapsed();

    let mut json = serde_json::to_vec_pretty(&sum)?;
    json.push(b'\n');
    let summary_path = args.out.join("summary.json");
    std::fs::write(&summary_path, json)
        .with_context(|| format!("cannot write {}", summary_path.display()))?;
    print_summary(&sum, &config, &args.out, elapsed.as_secs_f64());
    Ok(ExitCode::SUCCESS)
}

fn print_summary(s: &Summary, config: &Config, out: &Path, secs: f64) {
    let mb = s.decompressed_bytes as f64 / 1e6;
    println!(
        "cwlogs replay: {} inputs ({:.1} MB), {} records, {} batches, {} events",
        s.inputs,
        s.input_bytes as f64 / 1e6,
        s.records,
        s.batches,
        s.events
    );
    if config.archive.is_some() {
        println!(
            "  archived       {:>9} events in {} objects ({} filtered out)  -> {}",
            s.archived_events,
            s.archive_objects,
            s.archive_filtered,
            out.join("archive").display()
        );
    }
    if config.index.is_some() {
        println!(
            "  indexed        {:>9} events in {} _bulk files ({} filtered out)  -> {}",
            s.indexed_events,
            s.index_files,
            s.index_filtered,
            out.join("index").display()
        );
    }
    println!(
        "  control        {:>9} messages skipped",
        s.control_messages
    );
    println!(
        "  dead-lettered  {:>9} ({} whole inputs, {} records)  -> {}",
        s.dead_lettered,
        s.dead_lettered_inputs,
        s.dead_lettered - s.dead_lettered_inputs,
        out.join("dead-letter").display()
    );
    let secs = secs.max(1e-9);
    println!(
        "  throughput     {:.1} MB/s of decompressed JSON, {:.0} events/s ({:.2} s)",
        mb / secs,
        s.events as f64 / secs,
        secs
    );
}

/// Expands directories (recursively, in name order), skipping dead-letter error files, hidden
/// files and the output directory itself. Files named explicitly are always taken.
fn collect_inputs(inputs: &[PathBuf], out: &Path) -> Result<Vec<PathBuf>> {
    let out_abs = std::fs::canonicalize(out).ok();
    let mut files = Vec::new();
    for input in inputs {
        let meta = std::fs::metadata(input);
        match meta {
            Ok(m) if m.is_dir() => walk(input, out_abs.as_deref(), &mut files)?,
            // Files, and paths that cannot be read: those become dead letters with the error.
            _ => files.push(input.clone()),
        }
    }
    Ok(files)
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
    let mut bytes = Vec::new();
    file.take(MAX_INPUT_BYTES + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_INPUT_BYTES {
        return Err(std::io::Error::other(format!(
            "input is larger than {MAX_INPUT_BYTES} bytes"
        )));
    }
    Ok(bytes)
}

/// Decodes one input and builds its outputs; never fails: what cannot be decoded becomes a dead
/// letter.
fn process_input(config: &Config, path: &Path) -> InputResult {
    let mut r = InputResult::default();
    let name = flat_name(path);
    let input = path.display().to_string();
    let bytes = match read_input(path) {
        Ok(b) => b,
        Err(e) => {
            r.dead.push(DeadLetter {
                name,
                raw: None,
                input,
                shape: None,
                record: None,
                record_id: None,
                stage: "read",
                error: format!("cannot read input: {e}"),
                log_group: None,
            });
            return r;
        }
    };
    r.bytes = bytes.len() as u64;
    let whole = |e: &DecodeError, shape: Option<&'static str>| DeadLetter {
        name: name.clone(),
        raw: Some(bytes.clone()),
        input: input.clone(),
        shape,
        record: None,
        record_id: e.record().map(String::from),
        stage: e.stage().as_str(),
        error: e.to_string(),
        log_group: e.log_group().map(String::from),
    };
    let trigger = match detect(&bytes) {
        Ok(t) => t,
        Err(e) => {
            r.dead.push(whole(&e, None));
            return r;
        }
    };
    let shape = trigger.shape.as_str();
    let single = trigger.records.len() == 1;
    for (i, record) in trigger.records.iter().enumerate() {
        r.records += 1;
        let dead = |e: &DecodeError| {
            if single {
                return whole(e, Some(shape));
            }
            let ext = match record.data {
                RecordData::Base64(_) => "b64",
                RecordData::Gzip(_) => "gz",
                RecordData::Json(_) => "json",
            };
            DeadLetter {
                name: format!("{name}.record-{i}.{ext}"),
                raw: Some(record.raw().to_vec()),
                input: input.clone(),
                shape: Some(shape),
                record: Some(i),
                record_id: record.id.as_deref().map(String::from),
                stage: e.stage().as_str(),
                error: e.to_string(),
                log_group: e.log_group().map(String::from),
            }
        };
        let payload = match record.decompress(&config.limits) {
            Ok(p) => p,
            Err(e) => {
                r.dead.push(dead(&e));
                continue;
            }
        };
        let batches = match payload.batches() {
            Ok(b) => b,
            Err(e) => {
                r.dead.push(dead(&e));
                continue;
            }
        };
        r.decompressed += payload.bytes().len() as u64;
        for batch in &batches {
            r.batches += 1;
            if batch.message_type == MessageType::Control {
                r.control += 1;
                continue;
            }
            r.events += batch.log_events.len();
            let region = resolve_region(config, batch, record.region.as_deref());
            r.outputs.push(process_batch(config, region, batch));
        }
    }
    r
}
