//! Lambda's platform lines: `START`, `END` and `REPORT` in the text log format (with the
//! `XRAY TraceId` tail), and the `platform.start`, `platform.runtimeDone` and `platform.report`
//! events of the JSON log format (other `platform.*` events are recognised and add nothing).
//!
//! | AWS writes | document field | type |
//! | --- | --- | --- |
//! | `RequestId`, `record.requestId` | `aws.lambda.request_id` | keyword |
//! | `Version`, `record.version` | `aws.lambda.version` | keyword |
//! | `Duration`, `metrics.durationMs` | `aws.lambda.duration_ms` | double |
//! | `Billed Duration`, `metrics.billedDurationMs` | `aws.lambda.billed_duration_ms` | long |
//! | `Memory Size`, `metrics.memorySizeMB` | `aws.lambda.memory_size_mb` | long |
//! | `Max Memory Used`, `metrics.maxMemoryUsedMB` | `aws.lambda.max_memory_used_mb` | long |
//! | `Init Duration`, `metrics.initDurationMs` (cold starts only) | `aws.lambda.init_duration_ms` | double |
//! | `Restore Duration`, `metrics.restoreDurationMs` (SnapStart) | `aws.lambda.restore_duration_ms` | double |
//! | `Billed Restore Duration` (SnapStart) | `aws.lambda.billed_restore_duration_ms` | long |
//! | `XRAY TraceId`, the `Root` of `record.tracing.value` | `trace.id` | keyword |
//!
//! Numbers are written as AWS wrote them (`102.25`, `103`) once checked to be non-negative
//! decimal numbers (integers for the `long` fields, at most 20 digits and within 64 bits).

use super::Parsed;
use super::capture::{Capture, Field, Val, type_name};
use crate::util::json::{push_key, push_str, push_u64};
use std::borrow::Cow;
use std::io::Write as _;

/// A number as it will be written.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Num<'a> {
    /// Decimal text, checked.
    Text(&'a str),
    U64(u64),
    F64(f64),
}

/// The fields of one line or event.
#[derive(Debug, Default)]
struct Fields<'a> {
    request_id: Option<Cow<'a, str>>,
    version: Option<Cow<'a, str>>,
    duration: Option<Num<'a>>,
    billed: Option<u64>,
    memory: Option<u64>,
    max_memory: Option<u64>,
    init: Option<Num<'a>>,
    restore: Option<Num<'a>>,
    billed_restore: Option<u64>,
    trace_id: Option<Cow<'a, str>>,
}

impl Fields<'_> {
    fn write(&self, parsed: &mut Parsed) {
        let out = &mut parsed.aws;
        out.extend_from_slice(b"\"lambda\":{");
        let start = out.len();
        let sep = |out: &mut Vec<u8>| {
            if out.len() > start {
                out.push(b',');
            }
        };
        for (key, v) in [("request_id", &self.request_id), ("version", &self.version)] {
            if let Some(v) = v {
                sep(out);
                push_key(out, key);
                push_str(out, v);
            }
        }
        let nums = [
            ("duration_ms", self.duration),
            ("billed_duration_ms", self.billed.map(Num::U64)),
            ("memory_size_mb", self.memory.map(Num::U64)),
            ("max_memory_used_mb", self.max_memory.map(Num::U64)),
            ("init_duration_ms", self.init),
            ("restore_duration_ms", self.restore),
            (
                "billed_restore_duration_ms",
                self.billed_restore.map(Num::U64),
            ),
        ];
        for (key, n) in nums {
            if let Some(n) = n {
                sep(out);
                push_key(out, key);
                match n {
                    Num::Text(t) => out.extend_from_slice(t.as_bytes()),
                    Num::U64(u) => push_u64(out, u),
                    Num::F64(f) => {
                        let _ = write!(out, "{f}");
                    }
                }
            }
        }
        if out.len() == start {
            out.truncate(start - b"\"lambda\":{".len());
        } else {
            out.extend_from_slice(b"},");
        }
        if let Some(t) = &self.trace_id {
            parsed.top.extend_from_slice(b",\"trace\":{\"id\":");
            push_str(&mut parsed.top, t);
            parsed.top.push(b'}');
        }
    }
}

/// A request id: 1 to 64 letters, digits, `-` or `_` (AWS's documentation writes ids such as
/// `8f507cfc-xmpl-4697-b07a-ac58fc914c95`, so hex digits are not required).
fn request_id_ok(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// An X-Ray trace id (`1-5e34a614-10bdxmplf1fb44f07bc535a1`): 1 to 64 letters, digits or `-`.
fn trace_id_ok(s: &str) -> bool {
    (1..=64).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// A function version or alias: 1 to 128 visible ASCII characters.
fn version_ok(s: &str) -> bool {
    (1..=128).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_graphic())
}

/// A non-negative decimal as JSON writes it: `0` or digits without a leading zero (at most
/// 15), then optionally `.` and 1 to 9 digits.
fn decimal_ok(s: &str) -> bool {
    let (int, frac) = match s.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (s, None),
    };
    let int_ok = !int.is_empty()
        && int.len() <= 15
        && int.bytes().all(|b| b.is_ascii_digit())
        && (int == "0" || !int.starts_with('0'));
    int_ok
        && frac.is_none_or(|f| (1..=9).contains(&f.len()) && f.bytes().all(|b| b.is_ascii_digit()))
}

fn unsigned(s: &str) -> Option<u64> {
    (!s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

/// `s` up to its first whitespace, and the rest.
fn token(s: &str) -> (&str, &str) {
    let end = s
        .bytes()
        .position(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
        .unwrap_or(s.len());
    s.split_at(end)
}

fn skip_space(s: &str) -> &str {
    s.trim_start_matches([' ', '\t', '\n', '\r'])
}

/// What a `REPORT` item holds.
#[derive(Clone, Copy)]
enum Item {
    Duration,
    Init,
    Restore,
    Billed,
    BilledRestore,
    Memory,
    MaxMemory,
    Trace,
    Ignored,
}

const ITEMS: [(&str, Item); 11] = [
    ("Duration:", Item::Duration),
    ("Billed Duration:", Item::Billed),
    ("Memory Size:", Item::Memory),
    ("Max Memory Used:", Item::MaxMemory),
    ("Init Duration:", Item::Init),
    ("Restore Duration:", Item::Restore),
    ("Billed Restore Duration:", Item::BilledRestore),
    ("XRAY TraceId:", Item::Trace),
    ("SegmentId:", Item::Ignored),
    ("Sampled:", Item::Ignored),
    ("Status:", Item::Ignored),
];

/// Parses a `START`, `END` or `REPORT` line; anything else is left alone. The prefilter is
/// the line's first bytes (`START RequestId: `, ...).
pub fn parse_text(message: &str, parsed: &mut Parsed) {
    let (kind, rest) = match message.as_bytes().first() {
        Some(b'S') => ("START", message.strip_prefix("START RequestId: ")),
        Some(b'E') => ("END", message.strip_prefix("END RequestId: ")),
        Some(b'R') => ("REPORT", message.strip_prefix("REPORT RequestId: ")),
        _ => return,
    };
    let Some(rest) = rest else { return };
    let mut f = Fields::default();
    match line(kind, rest, &mut f) {
        Ok(()) => f.write(parsed),
        Err(why) => parsed.fail("lambda-platform", format_args!("{kind} {why}")),
    }
}

fn line<'a>(kind: &str, rest: &'a str, f: &mut Fields<'a>) -> Result<(), &'static str> {
    let (id, mut rest) = token(rest);
    if !request_id_ok(id) {
        return Err("RequestId is not a request id");
    }
    f.request_id = Some(Cow::Borrowed(id));
    match kind {
        "START" => {
            let rest = skip_space(rest);
            if let Some(v) = rest.strip_prefix("Version:") {
                let (v, _) = token(skip_space(v));
                if !version_ok(v) {
                    return Err("Version is not a version");
                }
                f.version = Some(Cow::Borrowed(v));
            }
            Ok(())
        }
        "END" => Ok(()),
        _ => {
            loop {
                rest = skip_space(rest);
                if rest.is_empty() {
                    return Ok(());
                }
                let Some((item, after)) = ITEMS
                    .iter()
                    .find_map(|(l, i)| rest.strip_prefix(l).map(|a| (*i, a)))
                else {
                    // An item this parser does not know (say, a new one): skip to the next
                    // separator (AWS separates items with tabs, the X-Ray tail with a line
                    // break).
                    rest = rest.find(['\t', '\n']).map_or("", |at| &rest[at..]);
                    continue;
                };
                let (value, after) = token(skip_space(after));
                rest = after;
                let mut unit = |want: &str| -> bool {
                    let (u, after) = token(skip_space(rest));
                    rest = after;
                    u == want
                };
                match item {
                    Item::Duration | Item::Init | Item::Restore => {
                        if !decimal_ok(value) || !unit("ms") {
                            return Err(match item {
                                Item::Duration => "Duration is not a number of ms",
                                Item::Init => "Init Duration is not a number of ms",
                                _ => "Restore Duration is not a number of ms",
                            });
                        }
                        let slot = match item {
                            Item::Duration => &mut f.duration,
                            Item::Init => &mut f.init,
                            _ => &mut f.restore,
                        };
                        *slot = Some(Num::Text(value));
                    }
                    Item::Billed | Item::BilledRestore | Item::Memory | Item::MaxMemory => {
                        let want = if matches!(item, Item::Memory | Item::MaxMemory) {
                            "MB"
                        } else {
                            "ms"
                        };
                        let n = unsigned(value).filter(|_| unit(want));
                        let Some(n) = n else {
                            return Err(match item {
                                Item::Billed => "Billed Duration is not a whole number of ms",
                                Item::BilledRestore => {
                                    "Billed Restore Duration is not a whole number of ms"
                                }
                                Item::Memory => "Memory Size is not a whole number of MB",
                                _ => "Max Memory Used is not a whole number of MB",
                            });
                        };
                        let slot = match item {
                            Item::Billed => &mut f.billed,
                            Item::BilledRestore => &mut f.billed_restore,
                            Item::Memory => &mut f.memory,
                            _ => &mut f.max_memory,
                        };
                        *slot = Some(n);
                    }
                    Item::Trace => {
                        if !trace_id_ok(value) {
                            return Err("XRAY TraceId is not a trace id");
                        }
                        f.trace_id = Some(Cow::Borrowed(value));
                    }
                    Item::Ignored => {}
                }
            }
        }
    }
}

/// Parses a JSON log format `platform.*` event from what the JSON pass captured. Returns
/// false when the message is not one (no `time`, `type` `platform.*` and `record`).
pub fn parse_json(c: &Capture<'_>, parsed: &mut Parsed) -> bool {
    let Some(Val::Str(ty)) = c.present(Field::Type) else {
        return false;
    };
    let Some(event) = ty.strip_prefix("platform.") else {
        return false;
    };
    if c.get(Field::Time).is_none() || c.get(Field::Record).is_none() {
        return false;
    }
    if !matches!(event, "start" | "runtimeDone" | "report") {
        return true;
    }
    let mut f = Fields::default();
    match json_event(event, c, &mut f) {
        Ok(()) => f.write(parsed),
        Err(why) => parsed.fail("lambda-platform", format_args!("platform.{event}: {why}")),
    }
    true
}

/// The JSON places of the `long` and `double` fields, with their names for errors.
const METRICS: [(Field, &str, bool); 6] = [
    (Field::DurationMs, "durationMs", false),
    (Field::BilledDurationMs, "billedDurationMs", true),
    (Field::MemorySizeMb, "memorySizeMB", true),
    (Field::MaxMemoryUsedMb, "maxMemoryUsedMB", true),
    (Field::InitDurationMs, "initDurationMs", false),
    (Field::RestoreDurationMs, "restoreDurationMs", false),
];

fn json_event<'a>(event: &str, c: &'a Capture<'a>, f: &mut Fields<'a>) -> Result<(), String> {
    let not_a = |what: &str, v: &Val<'_>, want: &str| -> String {
        format!("{what} is {}, not {want}", type_name(v))
    };
    match c.get(Field::Record) {
        Some(Val::Object) => {}
        Some(v) => return Err(not_a("record", v, "an object")),
        None => {}
    }
    match c.present(Field::RequestId) {
        Some(Val::Str(id)) if request_id_ok(id) => f.request_id = Some(Cow::Borrowed(id)),
        Some(Val::Str(_)) => return Err("record.requestId is not a request id".into()),
        Some(v) => return Err(not_a("record.requestId", v, "a string")),
        None => return Err("record.requestId is missing".into()),
    }
    if event == "start" {
        match c.present(Field::Version) {
            Some(Val::Str(v)) if version_ok(v) => f.version = Some(Cow::Borrowed(v)),
            Some(Val::Str(_)) => return Err("record.version is not a version".into()),
            Some(v) => return Err(not_a("record.version", v, "a string")),
            None => {}
        }
    }
    if event == "report" {
        match c.present(Field::Metrics) {
            Some(Val::Object) | None => {}
            Some(v) => return Err(not_a("record.metrics", v, "an object")),
        }
        for (field, name, integer) in METRICS {
            let Some(v) = c.present(field) else { continue };
            let bad = || {
                format!(
                    "record.metrics.{name} is not a non-negative {}",
                    if integer { "integer" } else { "number" }
                )
            };
            if integer {
                let n = match *v {
                    Val::U64(n) => n,
                    Val::F64(x) if x >= 0.0 && x.fract() == 0.0 && x < 9.0e15 => x as u64,
                    _ => return Err(bad()),
                };
                let slot = match field {
                    Field::BilledDurationMs => &mut f.billed,
                    Field::MemorySizeMb => &mut f.memory,
                    _ => &mut f.max_memory,
                };
                *slot = Some(n);
            } else {
                let n = match *v {
                    Val::U64(n) => Num::U64(n),
                    Val::F64(x) if x >= 0.0 && x.is_finite() => Num::F64(x),
                    _ => return Err(bad()),
                };
                let slot = match field {
                    Field::DurationMs => &mut f.duration,
                    Field::InitDurationMs => &mut f.init,
                    _ => &mut f.restore,
                };
                *slot = Some(n);
            }
        }
    }
    match c.present(Field::Tracing) {
        Some(Val::Object) | None => {}
        Some(v) => return Err(not_a("record.tracing", v, "an object")),
    }
    let xray = matches!(c.present(Field::TracingType), Some(Val::Str(t)) if t == "X-Amzn-Trace-Id");
    if xray && let Some(Val::Str(value)) = c.present(Field::TracingValue) {
        // `Root=1-...;Parent=...;Sampled=1`
        if let Some(root) = value
            .split(';')
            .find_map(|p| p.trim().strip_prefix("Root="))
        {
            if !trace_id_ok(root) {
                return Err("record.tracing.value has no valid Root trace id".into());
            }
            f.trace_id = Some(Cow::Borrowed(root));
        }
    }
    Ok(())
}
