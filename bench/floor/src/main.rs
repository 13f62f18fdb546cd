//! The floor: the least work a CloudWatch Logs subscription function can do, stage by stage,
//! on one core, over a data set written by `bench/gen_cwl.py`.
//!
//! cwlogs is judged as a ratio to this program, so it has to be the fastest plain way to do the
//! same job with the same crates (serde_json, base64, flate2 on zlib-rs): one pass, buffers
//! reused from event to event, strings borrowed from the input where they need no unescaping,
//! nothing else. It has no configuration, no error paths worth the name (the data is checked
//! once, when it is loaded) and no output but its timings: whatever cwlogs spends beyond it is
//! the price of being a product (validation, dead letters, rules, accounting).
//!
//! ```text
//! cwl-floor DATA_DIR [--reps N] [--stages a,b,...] [--json OUT.jsonl]
//! cwl-floor --one EVENT.json [--dump BULK_OUT]
//! cwl-floor --list
//! ```
//!
//! Files are read into memory before anything is timed: the stages measure computation, not
//! the disk. Each stage runs once untimed (warm-up, and the reference counts every later run
//! must reproduce, so the compiler cannot skip work and no run goes wrong unnoticed), then
//! `--reps` times, the stages taking turns within each rep so machine noise spreads over all
//! of them alike. Speeds are MB (10^6 bytes) of decompressed payload JSON per second, as
//! everywhere in BENCHMARKS.md (`gz1_only` and `gz6_only`: MB of NDJSON per second).
//!
//! `--one` runs `full_gz6` once on one Lambda event, from reading the file to the gzip archive
//! body, for what a single invocation costs: peak RSS under `/usr/bin/time`, and start-up.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::hint::black_box;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use flate2::Compression;
use flate2::bufread::GzDecoder;
use flate2::write::GzEncoder;
use memchr::memmem;
use serde::Deserialize;

/// The term of the one term filter (an unscoped `ERROR` pattern, the most common there is).
const TERM: &[u8] = b"ERROR";
/// The one JSON filter: `{ $.errorCode = "AccessDenied" }`.
const ERROR_CODE: &str = "AccessDenied";
/// gzip level of the archive body: cwlogs' default.
const ARCHIVE_LEVEL: u32 = 6;

// ---------------------------------------------------------------------------------------------
// What arrives: the Lambda event and the payload inside it. Strings are `Cow` so that serde_json
// borrows them from the input and copies only those that hold escapes (a JSON message inside
// the envelope always does: its quotes).

/// `{"awslogs":{"data":"<base64 of the gzip payload>"}}`.
#[derive(Deserialize)]
struct LambdaEvent<'a> {
    #[serde(borrow)]
    awslogs: AwsLogs<'a>,
}

/// The `awslogs` member of a Lambda event.
#[derive(Deserialize)]
struct AwsLogs<'a> {
    #[serde(borrow)]
    data: Cow<'a, str>,
}

/// The subscription payload. `subscriptionFilters` is left out on purpose: nothing downstream
/// needs it, and serde skips members it is not asked for without building them.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Envelope<'a> {
    #[serde(borrow)]
    message_type: Cow<'a, str>,
    #[serde(borrow)]
    owner: Cow<'a, str>,
    #[serde(borrow)]
    log_group: Cow<'a, str>,
    #[serde(borrow)]
    log_stream: Cow<'a, str>,
    #[serde(borrow, default)]
    log_events: Vec<LogEvent<'a>>,
}

/// One log event of the payload.
#[derive(Deserialize)]
struct LogEvent<'a> {
    #[serde(borrow)]
    id: Cow<'a, str>,
    timestamp: i64,
    #[serde(borrow)]
    message: Cow<'a, str>,
}

/// What the JSON filter reads of a JSON message: deserializing it still checks the whole
/// object (serde_json parses every member it skips), but builds nothing but this one field.
/// A DOM per message (`serde_json::Value`) costs about as much as the rest of the path
/// together: the `full_dom` stage shows it.
#[derive(Deserialize)]
struct ErrorCodeProbe<'a> {
    #[serde(borrow, rename = "errorCode")]
    error_code: Option<Cow<'a, str>>,
}

// ---------------------------------------------------------------------------------------------
// The pieces every stage is made of.

/// Buffers kept from event to event, so the steady state allocates only the envelope's vector
/// of events and the messages that needed unescaping.
struct Scratch {
    /// The gzip payload, out of base64.
    gz: Vec<u8>,
    /// The payload JSON, out of gzip.
    json: Vec<u8>,
    /// The `_bulk` request body.
    bulk: Vec<u8>,
    /// The archive's NDJSON (the documents, one a line).
    ndjson: Vec<u8>,
    /// The archive body, gzip of `ndjson`.
    archive: Vec<u8>,
    /// The end of every document of the current payload: owner, log group, log stream.
    tail: Vec<u8>,
    /// The `ERROR` searcher, built once.
    term: memmem::Finder<'static>,
    /// The date of the last timestamp formatted, as index name and as ISO date.
    day: DayCache,
}

impl Scratch {
    fn new() -> Self {
        Self {
            gz: Vec::new(),
            json: Vec::new(),
            bulk: Vec::new(),
            ndjson: Vec::new(),
            archive: Vec::new(),
            tail: Vec::new(),
            term: memmem::Finder::new(TERM),
            day: DayCache::default(),
        }
    }
}

/// Reads the Lambda event's JSON and base64-decodes its payload into `gz`.
fn event_payload(event: &[u8], gz: &mut Vec<u8>) {
    let event: LambdaEvent<'_> = serde_json::from_slice(event).expect("checked at load");
    gz.clear();
    BASE64
        .decode_vec(event.awslogs.data.as_bytes(), gz)
        .expect("checked at load");
}

/// Decompresses a gzip payload into `out`, which is sized from the gzip trailer first (the
/// uncompressed length modulo 2^32) so it grows once, not by doubling.
fn gunzip(gz: &[u8], out: &mut Vec<u8>) -> std::io::Result<()> {
    out.clear();
    if let Some(trailer) = gz.last_chunk::<4>() {
        out.reserve(u32::from_le_bytes(*trailer) as usize);
    }
    GzDecoder::new(gz).read_to_end(out).map(drop)
}

/// Compresses `data` at `level` into `out` (gzip, as the archive objects are written).
fn gzip(data: &[u8], level: u32, out: &mut Vec<u8>) {
    out.clear();
    let mut encoder = GzEncoder::new(std::mem::take(out), Compression::new(level));
    encoder.write_all(data).expect("writing to memory");
    *out = encoder.finish().expect("writing to memory");
}

/// The message as a JSON object, when it is one: its text trimmed of white space, if that
/// starts with `{`, ends with `}` and parses; with whether the JSON filter matches it. Other
/// messages (text lines, JSON behind a prefix, broken JSON) are text, at the cost of two byte
/// comparisons.
fn json_object(message: &str) -> Option<(&str, bool)> {
    let text = message.trim_ascii();
    if !(text.starts_with('{') && text.ends_with('}')) {
        return None;
    }
    let probe: ErrorCodeProbe<'_> = serde_json::from_str(text).ok()?;
    Some((text, probe.error_code.as_deref() == Some(ERROR_CODE)))
}

/// Appends `s` as a JSON string.
fn push_json_str(out: &mut Vec<u8>, s: &str) {
    serde_json::to_writer(&mut *out, s).expect("writing to memory");
}

/// Sets `tail` to the members every document of a payload ends with, and the closing brace and
/// newline: written once per payload instead of once per event.
fn document_tail(tail: &mut Vec<u8>, envelope: &Envelope<'_>) {
    tail.clear();
    tail.extend_from_slice(b",\"@owner\":");
    push_json_str(tail, &envelope.owner);
    tail.extend_from_slice(b",\"@log_group\":");
    push_json_str(tail, &envelope.log_group);
    tail.extend_from_slice(b",\"@log_stream\":");
    push_json_str(tail, &envelope.log_stream);
    tail.extend_from_slice(b"}\n");
}

/// Appends one `_bulk` item: the action line (daily index `cwl-YYYY.MM.DD`, the event id as
/// document id) and the document: the members of a JSON message spliced in as they are (the
/// blueprint's merge of the parsed message, without parsing it again), then `@id`,
/// `@timestamp`, `@message` and the payload's tail. Returns where the document starts, for the
/// archive's copy.
fn push_bulk_item(
    out: &mut Vec<u8>,
    day: &mut DayCache,
    event: &LogEvent<'_>,
    object: Option<&str>,
    tail: &[u8],
) -> usize {
    let (date, time) = day.split(event.timestamp);
    out.extend_from_slice(b"{\"index\":{\"_index\":\"cwl-");
    out.extend_from_slice(&date.index);
    out.extend_from_slice(b"\",\"_id\":");
    push_json_str(out, &event.id);
    out.extend_from_slice(b"}}\n");
    let start = out.len();
    out.push(b'{');
    if let Some(object) = object {
        let members = object[1..object.len() - 1].trim_ascii();
        if !members.is_empty() {
            out.extend_from_slice(members.as_bytes());
            out.push(b',');
        }
    }
    out.extend_from_slice(b"\"@id\":");
    push_json_str(out, &event.id);
    out.extend_from_slice(b",\"@timestamp\":\"");
    out.extend_from_slice(&date.iso);
    out.push(b'T');
    out.extend_from_slice(&time);
    out.extend_from_slice(b"Z\",\"@message\":");
    push_json_str(out, &event.message);
    out.extend_from_slice(tail);
    start
}

/// A day, formatted both ways a document needs it.
#[derive(Clone, Copy, Default)]
struct Date {
    /// `YYYY.MM.DD`, for the index name.
    index: [u8; 10],
    /// `YYYY-MM-DD`, for `@timestamp`.
    iso: [u8; 10],
}

/// The last day formatted. A payload's events come from minutes or hours, so the calendar
/// arithmetic runs about once per payload; the time of day is a few divisions per event.
#[derive(Default)]
struct DayCache {
    day: Option<i64>,
    date: Date,
}

impl DayCache {
    /// The date and `HH:MM:SS.mmm` of a timestamp in milliseconds since the epoch (UTC).
    fn split(&mut self, ms: i64) -> (Date, [u8; 12]) {
        let day = ms.div_euclid(86_400_000);
        if self.day != Some(day) {
            self.day = Some(day);
            self.date = format_date(day);
        }
        let in_day = ms.rem_euclid(86_400_000);
        let mut time = *b"00:00:00.000";
        put_digits(&mut time[0..2], in_day / 3_600_000);
        put_digits(&mut time[3..5], in_day / 60_000 % 60);
        put_digits(&mut time[6..8], in_day / 1000 % 60);
        put_digits(&mut time[9..12], in_day % 1000);
        (self.date, time)
    }
}

/// Writes `value` in decimal, right-aligned and zero-padded, over all of `out`.
fn put_digits(out: &mut [u8], mut value: i64) {
    for digit in out.iter_mut().rev() {
        *digit = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

/// Formats a day (days since 1970-01-01) of the proleptic Gregorian calendar.
fn format_date(day: i64) -> Date {
    let (year, month, dom) = civil_from_days(day);
    let mut iso = *b"0000-00-00";
    put_digits(&mut iso[0..4], year);
    put_digits(&mut iso[5..7], month);
    put_digits(&mut iso[8..10], dom);
    let mut index = iso;
    index[4] = b'.';
    index[7] = b'.';
    Date { index, iso }
}

/// (year, month, day) of a day counted from 1970-01-01: Howard Hinnant's `civil_from_days`,
/// which counts years from March so that the leap day falls at the end of the year.
fn civil_from_days(day: i64) -> (i64, i64, i64) {
    let z = day + 719_468; // days since 0000-03-01
    let era = z.div_euclid(146_097); // 400-year cycles
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let dom = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = era * 400 + year_of_era + i64::from(month <= 2);
    (year, month, dom)
}

// ---------------------------------------------------------------------------------------------
// The stages.

/// What a stage produced, summed over the data set. Every run of a stage must give the same
/// counts; they also keep the optimizer from dropping work whose result is never used.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Counts {
    /// Log events seen.
    events: u64,
    /// Messages that are JSON objects.
    json: u64,
    /// Messages holding the term.
    term_hits: u64,
    /// JSON messages the JSON filter matches.
    filter_hits: u64,
    /// Bytes of output (base64-decoded payloads, decompressed JSON or `_bulk` bodies).
    out_bytes: u64,
    /// Bytes of gzip archive bodies.
    gz_bytes: u64,
}

/// The data set, in memory.
struct Data {
    /// `events/*.json`: the Lambda events, what a function is given.
    events: Vec<Vec<u8>>,
    /// `payloads/*.json.gz`: the same payloads, gzip, for the stages that start there.
    payloads: Vec<Vec<u8>>,
    /// The archive NDJSON of every payload, built at load for the `*_only` stages.
    ndjson: Vec<Vec<u8>>,
    /// Bytes of decompressed payload JSON: the basis of every MB/s.
    json_bytes: u64,
    /// Bytes of log messages.
    message_bytes: u64,
    /// Bytes of archive NDJSON.
    ndjson_bytes: u64,
    /// Log events.
    log_events: u64,
}

type StageFn = fn(&Data, &mut Scratch) -> Counts;

/// A stage: name, what it does, the function.
struct Stage {
    name: &'static str,
    what: &'static str,
    run: StageFn,
}

const STAGES: &[Stage] = &[
    Stage {
        name: "event",
        what: "Lambda event JSON + base64 decode",
        run: st_event,
    },
    Stage {
        name: "gunzip",
        what: "gunzip of the payloads alone",
        run: st_gunzip,
    },
    Stage {
        name: "envelope",
        what: "gunzip + envelope parse (borrowed strings)",
        run: st_envelope,
    },
    Stage {
        name: "decode",
        what: "event JSON + base64 + gunzip + envelope: what every function does first",
        run: st_decode,
    },
    Stage {
        name: "messages",
        what: "decode + JSON check of every message (`{...}` parsed, nothing built)",
        run: st_messages,
    },
    Stage {
        name: "filter",
        what: "messages + term scan (ERROR) + JSON filter (errorCode = AccessDenied)",
        run: st_filter,
    },
    Stage {
        name: "full",
        what: "filter + _bulk body: the OpenSearch path from event bytes",
        run: st_full,
    },
    Stage {
        name: "full_gz6",
        what: "full + gzip-6 NDJSON archive body: OpenSearch and S3 paths from event bytes",
        run: st_full_gz6,
    },
    Stage {
        name: "full_dom",
        what: "full with a serde_json::Value per JSON message, documents written from it",
        run: st_full_dom,
    },
    Stage {
        name: "gz1_only",
        what: "gzip-1 of prebuilt archive NDJSON alone (MB/s of NDJSON)",
        run: st_gz1_only,
    },
    Stage {
        name: "gz6_only",
        what: "gzip-6 of prebuilt archive NDJSON alone (MB/s of NDJSON)",
        run: st_gz6_only,
    },
];

fn st_event(data: &Data, s: &mut Scratch) -> Counts {
    let mut c = Counts::default();
    for event in &data.events {
        event_payload(event, &mut s.gz);
        c.out_bytes += s.gz.len() as u64;
    }
    c
}

fn st_gunzip(data: &Data, s: &mut Scratch) -> Counts {
    let mut c = Counts::default();
    for gz in &data.payloads {
        gunzip(gz, &mut s.json).expect("checked at load");
        c.out_bytes += s.json.len() as u64;
    }
    c
}

fn st_envelope(data: &Data, s: &mut Scratch) -> Counts {
    let mut c = Counts::default();
    for gz in &data.payloads {
        gunzip(gz, &mut s.json).expect("checked at load");
        let envelope: Envelope<'_> = serde_json::from_slice(&s.json).expect("checked at load");
        c.events += black_box(&envelope).log_events.len() as u64;
        c.out_bytes += s.json.len() as u64;
    }
    c
}

fn st_decode(data: &Data, s: &mut Scratch) -> Counts {
    let mut c = Counts::default();
    for event in &data.events {
        event_payload(event, &mut s.gz);
        gunzip(&s.gz, &mut s.json).expect("checked at load");
        let envelope: Envelope<'_> = serde_json::from_slice(&s.json).expect("checked at load");
        c.events += black_box(&envelope).log_events.len() as u64;
        c.out_bytes += s.json.len() as u64;
    }
    c
}

fn st_messages(data: &Data, s: &mut Scratch) -> Counts {
    let mut c = Counts::default();
    for event in &data.events {
        event_payload(event, &mut s.gz);
        gunzip(&s.gz, &mut s.json).expect("checked at load");
        let envelope: Envelope<'_> = serde_json::from_slice(&s.json).expect("checked at load");
        for e in &envelope.log_events {
            c.events += 1;
            if json_object(&e.message).is_some() {
                c.json += 1;
            }
        }
    }
    c
}

fn st_filter(data: &Data, s: &mut Scratch) -> Counts {
    let mut c = Counts::default();
    for event in &data.events {
        event_payload(event, &mut s.gz);
        gunzip(&s.gz, &mut s.json).expect("checked at load");
        let envelope: Envelope<'_> = serde_json::from_slice(&s.json).expect("checked at load");
        for e in &envelope.log_events {
            c.events += 1;
            if s.term.find(e.message.as_bytes()).is_some() {
                c.term_hits += 1;
            }
            if let Some((_, hit)) = json_object(&e.message) {
                c.json += 1;
                c.filter_hits += u64::from(hit);
            }
        }
    }
    c
}

fn st_full(data: &Data, s: &mut Scratch) -> Counts {
    opensearch_path(data, s, false)
}

fn st_full_gz6(data: &Data, s: &mut Scratch) -> Counts {
    opensearch_path(data, s, true)
}

/// From each Lambda event to its `_bulk` body, with the one term and one JSON filter on every
/// message; with `archive`, also the gzip NDJSON of the documents (the archive object) in the
/// same pass, as a function writing both would.
fn opensearch_path(data: &Data, s: &mut Scratch, archive: bool) -> Counts {
    let mut c = Counts::default();
    for event in &data.events {
        event_payload(event, &mut s.gz);
        gunzip(&s.gz, &mut s.json).expect("checked at load");
        let envelope: Envelope<'_> = serde_json::from_slice(&s.json).expect("checked at load");
        if envelope.message_type != "DATA_MESSAGE" {
            continue;
        }
        document_tail(&mut s.tail, &envelope);
        s.bulk.clear();
        s.ndjson.clear();
        for e in &envelope.log_events {
            c.events += 1;
            if s.term.find(e.message.as_bytes()).is_some() {
                c.term_hits += 1;
            }
            let object = json_object(&e.message);
            if let Some((_, hit)) = object {
                c.json += 1;
                c.filter_hits += u64::from(hit);
            }
            let document = push_bulk_item(
                &mut s.bulk,
                &mut s.day,
                e,
                object.map(|(text, _)| text),
                &s.tail,
            );
            if archive {
                s.ndjson.extend_from_slice(&s.bulk[document..]);
            }
        }
        c.out_bytes += s.bulk.len() as u64;
        if archive {
            gzip(&s.ndjson, ARCHIVE_LEVEL, &mut s.archive);
            c.gz_bytes += s.archive.len() as u64;
        }
    }
    c
}

/// `full` done the obvious way: every JSON message into a `serde_json::Value`, the filter read
/// from it, the document built as a map and serialized. Not a floor: the measure of what
/// splicing the message saves.
fn st_full_dom(data: &Data, s: &mut Scratch) -> Counts {
    use serde_json::{Map, Value};
    let mut c = Counts::default();
    for event in &data.events {
        event_payload(event, &mut s.gz);
        gunzip(&s.gz, &mut s.json).expect("checked at load");
        let envelope: Envelope<'_> = serde_json::from_slice(&s.json).expect("checked at load");
        s.bulk.clear();
        for e in &envelope.log_events {
            c.events += 1;
            if s.term.find(e.message.as_bytes()).is_some() {
                c.term_hits += 1;
            }
            let text = e.message.trim_ascii();
            let mut doc = Map::new();
            if text.starts_with('{')
                && text.ends_with('}')
                && let Ok(Value::Object(members)) = serde_json::from_str(text)
            {
                c.json += 1;
                if members.get("errorCode").and_then(Value::as_str) == Some(ERROR_CODE) {
                    c.filter_hits += 1;
                }
                doc = members;
            }
            let (date, time) = s.day.split(e.timestamp);
            let index = format!("cwl-{}", String::from_utf8_lossy(&date.index));
            let timestamp = format!(
                "{}T{}Z",
                String::from_utf8_lossy(&date.iso),
                String::from_utf8_lossy(&time)
            );
            doc.insert("@id".into(), e.id.as_ref().into());
            doc.insert("@timestamp".into(), timestamp.into());
            doc.insert("@message".into(), e.message.as_ref().into());
            doc.insert("@owner".into(), envelope.owner.as_ref().into());
            doc.insert("@log_group".into(), envelope.log_group.as_ref().into());
            doc.insert("@log_stream".into(), envelope.log_stream.as_ref().into());
            let action = serde_json::json!({"index": {"_index": index, "_id": e.id}});
            serde_json::to_writer(&mut s.bulk, &action).expect("writing to memory");
            s.bulk.push(b'\n');
            serde_json::to_writer(&mut s.bulk, &doc).expect("writing to memory");
            s.bulk.push(b'\n');
        }
        c.out_bytes += s.bulk.len() as u64;
    }
    c
}

fn st_gz1_only(data: &Data, s: &mut Scratch) -> Counts {
    compress_only(data, s, 1)
}

fn st_gz6_only(data: &Data, s: &mut Scratch) -> Counts {
    compress_only(data, s, ARCHIVE_LEVEL)
}

/// The archive's compression alone, at `level`: the deflate share of `full_gz6`, and the speed
/// to weigh a gzip level by.
fn compress_only(data: &Data, s: &mut Scratch, level: u32) -> Counts {
    let mut c = Counts::default();
    for ndjson in &data.ndjson {
        gzip(ndjson, level, &mut s.archive);
        c.gz_bytes += s.archive.len() as u64;
    }
    c
}

// ---------------------------------------------------------------------------------------------
// Loading, running, reporting.

/// The files of `dir/sub` ending in `suffix`, in name order (the generator numbers them).
fn files(dir: &Path, sub: &str, suffix: &str) -> Result<Vec<PathBuf>, String> {
    let path = dir.join(sub);
    let entries = std::fs::read_dir(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut out = Vec::new();
    for entry in entries {
        let p = entry
            .map_err(|e| format!("{}: {e}", path.display()))?
            .path();
        if p.to_string_lossy().ends_with(suffix) {
            out.push(p);
        }
    }
    out.sort();
    Ok(out)
}

fn read(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))
}

/// Reads the data set and checks every event all the way through once, so the stages may
/// treat a failure as impossible; keeps the NDJSON of the `*_only` stages only when they are
/// asked for (it is larger than the payload JSON).
fn load(dir: &Path, with_ndjson: bool) -> Result<Data, String> {
    let events = files(dir, "events", ".json")?
        .iter()
        .map(|p| read(p))
        .collect::<Result<Vec<_>, _>>()?;
    let payloads = files(dir, "payloads", ".json.gz")?
        .iter()
        .map(|p| read(p))
        .collect::<Result<Vec<_>, _>>()?;
    if events.is_empty() || events.len() != payloads.len() {
        return Err(format!(
            "{}: {} events and {} payloads: not a data set of bench/gen_cwl.py",
            dir.display(),
            events.len(),
            payloads.len()
        ));
    }
    let mut data = Data {
        events,
        payloads,
        ndjson: Vec::new(),
        json_bytes: 0,
        message_bytes: 0,
        ndjson_bytes: 0,
        log_events: 0,
    };
    let mut s = Scratch::new();
    for (i, event) in data.events.iter().enumerate() {
        let lambda: LambdaEvent<'_> =
            serde_json::from_slice(event).map_err(|e| format!("event {i}: {e}"))?;
        BASE64
            .decode_vec(lambda.awslogs.data.as_bytes(), &mut s.gz)
            .map_err(|e| format!("event {i}: base64: {e}"))?;
        if s.gz != data.payloads[i] {
            return Err(format!("event {i} does not hold payload {i}"));
        }
        s.gz.clear();
        gunzip(&data.payloads[i], &mut s.json).map_err(|e| format!("payload {i}: {e}"))?;
        data.json_bytes += s.json.len() as u64;
        let envelope: Envelope<'_> =
            serde_json::from_slice(&s.json).map_err(|e| format!("payload {i}: {e}"))?;
        document_tail(&mut s.tail, &envelope);
        s.bulk.clear();
        let mut ndjson = Vec::new();
        for e in &envelope.log_events {
            data.log_events += 1;
            data.message_bytes += e.message.len() as u64;
            let object = json_object(&e.message).map(|(text, _)| text);
            let start = push_bulk_item(&mut s.bulk, &mut s.day, e, object, &s.tail);
            ndjson.extend_from_slice(&s.bulk[start..]);
        }
        data.ndjson_bytes += ndjson.len() as u64;
        if with_ndjson {
            data.ndjson.push(ndjson);
        }
    }
    Ok(data)
}

fn median(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    }
}

/// Options of a data-set run.
struct Options {
    dir: PathBuf,
    reps: usize,
    stages: Vec<&'static Stage>,
    json: Option<PathBuf>,
}

fn run(opts: &Options) -> Result<(), String> {
    let started = Instant::now();
    let want_ndjson = opts.stages.iter().any(|s| s.name.ends_with("_only"));
    let data = load(&opts.dir, want_ndjson)?;
    eprintln!(
        "{}: {} Lambda events, {} log events, {:.1} MB of payload JSON, {:.1} MB of messages, \
         {:.1} MB of archive NDJSON; loaded and checked in {:.1} s; gzip: flate2 on zlib-rs",
        opts.dir.display(),
        data.events.len(),
        data.log_events,
        data.json_bytes as f64 / 1e6,
        data.message_bytes as f64 / 1e6,
        data.ndjson_bytes as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );
    let mut s = Scratch::new();
    let reference: Vec<Counts> = opts
        .stages
        .iter()
        .map(|st| (st.run)(&data, &mut s))
        .collect();
    let mut times = vec![Vec::with_capacity(opts.reps); opts.stages.len()];
    for _ in 0..opts.reps {
        for (k, st) in opts.stages.iter().enumerate() {
            let t = Instant::now();
            let counts = black_box((st.run)(&data, &mut s));
            times[k].push(t.elapsed().as_secs_f64());
            if counts != reference[k] {
                return Err(format!(
                    "stage {}: {counts:?}, but the warm-up gave {:?}",
                    st.name, reference[k]
                ));
            }
        }
    }
    println!(
        "{:<9} {:>8} {:>8} {:>8} {:>9} {:>9} {:>7}  what",
        "stage", "med_s", "min_s", "max_s", "MB/s", "Mev/s", "spread"
    );
    let mut jsonl = String::new();
    for (k, st) in opts.stages.iter().enumerate() {
        let mut sorted = times[k].clone();
        sorted.sort_by(f64::total_cmp);
        let (med, min, max) = (median(&sorted), sorted[0], sorted[sorted.len() - 1]);
        let (basis, unit) = if st.name.ends_with("_only") {
            (data.ndjson_bytes, "ndjson")
        } else {
            (data.json_bytes, "json")
        };
        println!(
            "{:<9} {:>8.3} {:>8.3} {:>8.3} {:>9.1} {:>9.3} {:>6.1}%  {}",
            st.name,
            med,
            min,
            max,
            basis as f64 / 1e6 / med,
            data.log_events as f64 / 1e6 / med,
            (max - min) / med * 100.0,
            st.what
        );
        let c = reference[k];
        let list = times[k]
            .iter()
            .map(|t| format!("{t:.5}"))
            .collect::<Vec<_>>()
            .join(",");
        let _ = writeln!(
            jsonl,
            "{{\"harness\":\"floor\",\"backend\":\"zlib-rs\",\"stage\":\"{}\",\"reps\":{},\
             \"median_s\":{med:.5},\"min_s\":{min:.5},\"max_s\":{max:.5},\"basis\":\"{unit}\",\
             \"mb_per_s\":{:.2},\"mb_per_s_json\":{:.2},\"mb_per_s_msg\":{:.2},\
             \"mb_per_s_ndjson\":{:.2},\"events_per_s\":{:.0},\"counts\":{{\"events\":{},\
             \"json\":{},\"term_hits\":{},\"filter_hits\":{},\"out_bytes\":{},\"gz_bytes\":{}}},\
             \"times\":[{list}]}}",
            st.name,
            opts.reps,
            basis as f64 / 1e6 / med,
            data.json_bytes as f64 / 1e6 / med,
            data.message_bytes as f64 / 1e6 / med,
            data.ndjson_bytes as f64 / 1e6 / med,
            data.log_events as f64 / med,
            c.events,
            c.json,
            c.term_hits,
            c.filter_hits,
            c.out_bytes,
            c.gz_bytes,
        );
    }
    for (k, st) in opts.stages.iter().enumerate() {
        eprintln!("counts {:<9} {:?}", st.name, reference[k]);
    }
    if let Some(path) = &opts.json {
        std::fs::write(path, jsonl).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}

/// `full_gz6` on one Lambda event, from reading its file; `dump` receives the `_bulk` body.
fn one(path: &Path, dump: Option<&Path>) -> Result<(), String> {
    let event = read(path)?;
    let mut s = Scratch::new();
    let lambda: LambdaEvent<'_> =
        serde_json::from_slice(&event).map_err(|e| format!("{}: {e}", path.display()))?;
    BASE64
        .decode_vec(lambda.awslogs.data.as_bytes(), &mut s.gz)
        .map_err(|e| format!("{}: base64: {e}", path.display()))?;
    gunzip(&s.gz, &mut s.json).map_err(|e| format!("{}: gzip: {e}", path.display()))?;
    let envelope: Envelope<'_> =
        serde_json::from_slice(&s.json).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut c = Counts::default();
    document_tail(&mut s.tail, &envelope);
    for e in &envelope.log_events {
        c.events += 1;
        if s.term.find(e.message.as_bytes()).is_some() {
            c.term_hits += 1;
        }
        let object = json_object(&e.message);
        if let Some((_, hit)) = object {
            c.json += 1;
            c.filter_hits += u64::from(hit);
        }
        let start = push_bulk_item(
            &mut s.bulk,
            &mut s.day,
            e,
            object.map(|(text, _)| text),
            &s.tail,
        );
        s.ndjson.extend_from_slice(&s.bulk[start..]);
    }
    gzip(&s.ndjson, ARCHIVE_LEVEL, &mut s.archive);
    c.out_bytes = s.bulk.len() as u64;
    c.gz_bytes = s.archive.len() as u64;
    if let Some(dump) = dump {
        std::fs::write(dump, &s.bulk).map_err(|e| format!("{}: {e}", dump.display()))?;
    }
    println!(
        "one: event_bytes={} gz_bytes={} json_bytes={} events={} json={} term_hits={} \
         filter_hits={} bulk_bytes={} archive_gz_bytes={}",
        event.len(),
        s.gz.len(),
        s.json.len(),
        c.events,
        c.json,
        c.term_hits,
        c.filter_hits,
        c.out_bytes,
        c.gz_bytes
    );
    Ok(())
}

const USAGE: &str = "usage: cwl-floor DATA_DIR [--reps N] [--stages a,b,...] [--json OUT.jsonl]
       cwl-floor --one EVENT.json [--dump BULK_OUT]
       cwl-floor --list
DATA_DIR is written by bench/gen_cwl.py; --reps defaults to 5, --stages to all.";

enum Command {
    Run(Options),
    One(PathBuf, Option<PathBuf>),
    List,
    Help,
}

fn parse(args: &[String]) -> Result<Command, String> {
    let mut dir = None;
    let mut reps = 5;
    let mut stages: Vec<&'static Stage> = STAGES.iter().collect();
    let mut json = None;
    let mut one = None;
    let mut dump = None;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = || it.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "-h" | "--help" => return Ok(Command::Help),
            "--list" => return Ok(Command::List),
            "--reps" => {
                reps = value()?
                    .parse()
                    .map_err(|_| "--reps takes a positive number".to_string())?;
                if reps == 0 {
                    return Err("--reps takes a positive number".into());
                }
            }
            "--stages" => {
                stages = value()?
                    .split(',')
                    .map(|name| {
                        STAGES
                            .iter()
                            .find(|s| s.name == name)
                            .ok_or(format!("no stage {name} (--list names them)"))
                    })
                    .collect::<Result<_, _>>()?;
            }
            "--json" => json = Some(PathBuf::from(value()?)),
            "--one" => one = Some(PathBuf::from(value()?)),
            "--dump" => dump = Some(PathBuf::from(value()?)),
            a if a.starts_with('-') => return Err(format!("unknown option {a}")),
            a if dir.is_none() => dir = Some(PathBuf::from(a)),
            a => return Err(format!("unexpected argument {a}")),
        }
    }
    match (one, dir) {
        (Some(event), None) => Ok(Command::One(event, dump)),
        (None, Some(dir)) => Ok(Command::Run(Options {
            dir,
            reps,
            stages,
            json,
        })),
        _ => Err("give either DATA_DIR or --one EVENT.json".into()),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match parse(&args) {
        Ok(Command::Help) => {
            println!("{USAGE}");
            Ok(())
        }
        Ok(Command::List) => {
            for st in STAGES {
                println!("{:<9} {}", st.name, st.what);
            }
            Ok(())
        }
        Ok(Command::One(event, dump)) => one(&event, dump.as_deref()),
        Ok(Command::Run(opts)) => run(&opts),
        Err(e) => {
            eprintln!("cwl-floor: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cwl-floor: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_match_known_days() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_875), (2024, 6, 1));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        let (date, time) = DayCache::default().split(1_717_200_000_000 + 45_296_789);
        assert_eq!(&date.index, b"2024.06.01");
        assert_eq!(&date.iso, b"2024-06-01");
        assert_eq!(&time, b"12:34:56.789");
    }

    #[test]
    fn bulk_item_splices_json_messages_and_escapes_text() {
        let envelope: Envelope<'_> = serde_json::from_str(
            r#"{"messageType":"DATA_MESSAGE","owner":"1","logGroup":"g","logStream":"s",
                "logEvents":[{"id":"7","timestamp":0,"message":" {\"a\":1} "},
                             {"id":"8","timestamp":0,"message":"say \"hi\""}]}"#,
        )
        .expect("valid");
        let mut tail = Vec::new();
        document_tail(&mut tail, &envelope);
        let mut out = Vec::new();
        let mut day = DayCache::default();
        for e in &envelope.log_events {
            let object = json_object(&e.message).map(|(t, _)| t);
            push_bulk_item(&mut out, &mut day, e, object, &tail);
        }
        let text = String::from_utf8(out).expect("utf-8");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            r#"{"index":{"_index":"cwl-1970.01.01","_id":"7"}}"#
        );
        let doc: serde_json::Value = serde_json::from_str(lines[1]).expect("a document");
        assert_eq!(doc["a"], 1);
        assert_eq!(doc["@timestamp"], "1970-01-01T00:00:00.000Z");
        assert_eq!(doc["@log_stream"], "s");
        let doc: serde_json::Value = serde_json::from_str(lines[3]).expect("a document");
        assert_eq!(doc["@message"], "say \"hi\"");
        assert_eq!(doc["@id"], "8");
    }

    #[test]
    fn json_filter_reads_only_objects() {
        assert_eq!(
            json_object(r#"{"errorCode":"AccessDenied"}"#).map(|(_, hit)| hit),
            Some(true)
        );
        assert_eq!(
            json_object(r#"{"errorCode":"AccessDeniedException"}"#).map(|(_, hit)| hit),
            Some(false)
        );
        assert!(json_object("2024-06-01T00:00:00Z\tid\tINFO\t{\"a\":1}").is_none());
        assert!(json_object("{not json}").is_none());
    }
}
