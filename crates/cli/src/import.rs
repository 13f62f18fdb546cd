//! `cwlogs import`: existing CloudWatch Logs metric filters and subscription filters as a cwlogs
//! configuration.
//!
//! - `cwlogs import metric-filters FILE`: FILE is what `aws logs describe-metric-filters`
//!   prints (one page, or several pages one after the other). Each filter becomes one
//!   `[[rule]]` that publishes the metric the filter publishes: namespace, name, value
//!   (`metricValue`), default (`defaultValue`), dimensions and unit as CloudWatch has them,
//!   over `log_groups = [logGroupName]`.
//! - `cwlogs import subscription-filters FILE`: FILE is what `aws logs
//!   describe-subscription-filters` prints. The log groups and their filter patterns become the
//!   routes of `[archive]` and `[index]` (`log_groups` and `include`).
//!
//! Nothing is half-written: the whole input is read and checked first (a malformed or truncated
//! file, a pattern CloudWatch would refuse, a `metricValue` or dimension the pattern cannot
//! provide, a filter listed twice: every problem is reported, each naming its filter, and
//! nothing is written); the configuration is validated as `cwlogs check-config` would; `--out`
//! writes a temporary file beside the target and renames it. Filters that cwlogs cannot express
//! (metric filters on transformed logs or with system-field selection, subscription patterns
//! that one route cannot hold) are left out, listed on stderr with the reason, and the exit
//! status is 3.

use clap::{Args, Subcommand};
use cwlogs_filter::{MetricValue, Pattern};
use cwlogs_pipeline::Config;
use cwlogs_pipeline::rules::MAX_RULE_NAME;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Exit status: the input or the `--merge` configuration cannot be used, or the output cannot
/// be written; nothing was written.
pub const EXIT_FAILED: u8 = 1;
/// Exit status: usage errors (clap's own), an input or `--merge` file that cannot be read, and
/// a `--merge` configuration that is not valid (the scheme of every command: main.rs).
pub const EXIT_USAGE: u8 = 2;
/// Exit status: the configuration was written, but some filters could not be expressed (each
/// listed on stderr with the reason).
pub const EXIT_PARTIAL: u8 = 3;

/// The largest input read, in bytes (describe-* output is a few hundred bytes per filter).
const MAX_INPUT_BYTES: u64 = 64 << 20;

const EXIT_CODES: &str = "Exit status: 0 every filter was imported; 1 nothing was written (the \
input is malformed or truncated, a filter is one CloudWatch would refuse, a name clashes, or the \
output cannot be written; every problem is printed, naming its filter); 2 usage errors, an input \
or --merge file that cannot be read, and a --merge configuration that is not valid; 3 the \
configuration was written, but the filters listed on stderr could not be expressed.";

/// `cwlogs import ...`.
#[derive(Args)]
pub struct ImportArgs {
    #[command(subcommand)]
    command: ImportCommand,
}

#[derive(Subcommand)]
enum ImportCommand {
    /// Turn CloudWatch metric filters (the JSON of `aws logs describe-metric-filters`) into
    /// `[[rule]]`s that publish the same metrics.
    #[command(after_help = EXIT_CODES)]
    MetricFilters(ImportOptions),
    /// Turn CloudWatch subscription filters (the JSON of `aws logs
    /// describe-subscription-filters`) into the `[archive]` and `[index]` routes of those log
    /// groups.
    #[command(after_help = EXIT_CODES)]
    SubscriptionFilters(ImportOptions),
}

#[derive(Args)]
struct ImportOptions {
    /// The JSON the AWS CLI printed: one page or several pages one after the other; `-` reads
    /// standard input.
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// Write the configuration to this file (whole or not at all) instead of standard output.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Add to this configuration instead of starting an empty one: metric filters become
    /// `[[rule]]`s after its own (a name it already has is an error); subscription filters set
    /// the routes of its `[archive]` and `[index]` (a route it already has is an error).
    #[arg(long, value_name = "CONFIG")]
    merge: Option<PathBuf>,
}

/// What an import found wrong: every problem, each naming its filter.
struct Problems(Vec<String>);

/// Runs `cwlogs import`.
pub fn run(args: ImportArgs) -> anyhow::Result<ExitCode> {
    let (kind, options) = match args.command {
        ImportCommand::MetricFilters(o) => (Kind::Metric, o),
        ImportCommand::SubscriptionFilters(o) => (Kind::Subscription, o),
    };
    let shown = options.file.display().to_string();
    let text = match read_input(&options.file) {
        Ok(t) => t,
        // A file named on the command line that cannot be read is a usage error.
        Err(Unread::Io(e)) => return Err(crate::UsageError(format!("import: {e}")).into()),
        Err(Unread::Content(e)) => {
            eprintln!("cwlogs import: {e}; nothing was written");
            return Ok(ExitCode::from(EXIT_FAILED));
        }
    };
    let merge = match &options.merge {
        None => None,
        Some(path) => match read_merge(path)
            .map_err(|e| crate::UsageError(format!("import: --merge {}: {e:#}", path.display())))?
        {
            Ok(m) => Some(m),
            Err(report) => {
                eprint!("{report}");
                eprintln!(
                    "cwlogs import: --merge {}: not a valid configuration; nothing was written",
                    path.display()
                );
                return Ok(ExitCode::from(EXIT_USAGE));
            }
        },
    };
    let result = match kind {
        Kind::Metric => import_metric_filters(&text, &shown, merge.as_ref()),
        Kind::Subscription => import_subscription_filters(&text, &shown, merge.as_ref()),
    };
    let output = match result {
        Ok(o) => o,
        Err(Problems(list)) => {
            for p in &list {
                eprintln!("{shown}: {p}");
            }
            eprintln!(
                "cwlogs import: {} problem{} in {shown}; nothing was written",
                list.len(),
                if list.len() == 1 { "" } else { "s" }
            );
            return Ok(ExitCode::from(EXIT_FAILED));
        }
    };
    for s in &output.skipped {
        eprintln!("{shown}: not imported: {s}");
    }
    match &options.out {
        Some(path) => {
            if let Err(e) = write_whole(path, &output.text) {
                eprintln!(
                    "cwlogs import: cannot write {}: {e}; nothing was written",
                    path.display()
                );
                return Ok(ExitCode::from(EXIT_FAILED));
            }
        }
        None => {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            if let Err(e) = out
                .write_all(output.text.as_bytes())
                .and_then(|()| out.flush())
                && e.kind() != std::io::ErrorKind::BrokenPipe
            {
                eprintln!("cwlogs import: cannot write to standard output: {e}");
                return Ok(ExitCode::from(EXIT_FAILED));
            }
        }
    }
    eprintln!(
        "cwlogs import: {}{}",
        output.summary,
        options
            .out
            .as_ref()
            .map(|p| format!(" into {}", p.display()))
            .unwrap_or_default()
    );
    if output.skipped.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!(
            "cwlogs import: {} filter{} could not be expressed (listed above): exit status {EXIT_PARTIAL}",
            output.skipped.len(),
            if output.skipped.len() == 1 { "" } else { "s" }
        );
        Ok(ExitCode::from(EXIT_PARTIAL))
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Metric,
    Subscription,
}

/// The configuration an import produced.
#[derive(Debug)]
struct Output {
    /// The whole file to write.
    text: String,
    /// Filters left out, each with the reason.
    skipped: Vec<String>,
    /// One line for stderr: what was imported.
    summary: String,
}

/// A `--merge` configuration: its text and what it holds.
struct Merge {
    path: PathBuf,
    text: String,
    config: Config,
}

fn no_env(_: &str) -> Option<String> {
    None
}

/// Why the input was not read: the file itself (a usage error), or what it holds.
enum Unread {
    Io(String),
    Content(String),
}

fn read_input(path: &Path) -> Result<String, Unread> {
    let mut bytes = Vec::new();
    let read = if path.as_os_str() == "-" {
        std::io::stdin()
            .lock()
            .take(MAX_INPUT_BYTES + 1)
            .read_to_end(&mut bytes)
    } else {
        std::fs::File::open(path).and_then(|f| f.take(MAX_INPUT_BYTES + 1).read_to_end(&mut bytes))
    };
    let shown = path.display();
    read.map_err(|e| Unread::Io(format!("cannot read {shown}: {e}")))?;
    if bytes.len() as u64 > MAX_INPUT_BYTES {
        return Err(Unread::Content(format!(
            "{shown}: larger than {MAX_INPUT_BYTES} bytes; split it (one describe page per file)"
        )));
    }
    String::from_utf8(bytes).map_err(|e| {
        Unread::Content(format!(
            "{shown}: not UTF-8 text (byte {}): not what the AWS CLI prints",
            e.utf8_error().valid_up_to()
        ))
    })
}

/// Reads and validates a `--merge` configuration: the outer error is I/O, the inner one the
/// report of its problems.
fn read_merge(path: &Path) -> anyhow::Result<Result<Merge, String>> {
    let config = match crate::load_config(path, &no_env)? {
        Ok(c) => c,
        Err(report) => return Ok(Err(report)),
    };
    let text = std::fs::read_to_string(path)?;
    Ok(Ok(Merge {
        path: path.to_path_buf(),
        text,
        config,
    }))
}

// ------------------------------------------------------------------------- reading the JSON

/// One filter as it appears in the input: the document it came from, its position there, and
/// its JSON object.
struct Entry {
    /// 1-based document (describe page) number.
    doc: usize,
    /// 1-based position in the document's list.
    pos: usize,
    object: serde_json::Map<String, Value>,
}

impl Entry {
    fn str(&self, key: &str) -> Option<&str> {
        self.object.get(key).and_then(Value::as_str)
    }

    /// How the filter is named in messages: `filter "NAME" (log group "GROUP")`, or its
    /// position when it has no name.
    fn who(&self) -> String {
        match (self.str("filterName"), self.str("logGroupName")) {
            (Some(n), Some(g)) => format!("filter {} (log group {})", quote(n), quote(g)),
            (Some(n), None) => format!("filter {}", quote(n)),
            _ => format!("filter #{} of document {}", self.pos, self.doc),
        }
    }
}

/// `"text"` as JSON would write it (so that odd characters stay visible).
fn quote(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| format!("{text:?}"))
}

/// Every filter of every document in `text` (describe pages, one after the other): the objects
/// of each document's `list_key` array. A document that is not such a page, and JSON that is
/// malformed or cut short, is reported with its line and column and the filter it was in.
fn read_documents(text: &str, list_key: &str, command: &str) -> Result<Vec<Entry>, Problems> {
    let mut entries = Vec::new();
    let mut problems = Vec::new();
    let stream = serde_json::Deserializer::from_str(text).into_iter::<Value>();
    let mut doc = 0;
    for item in stream {
        doc += 1;
        let value = match item {
            Ok(v) => v,
            Err(e) => {
                let at = offset_of(text, e.line(), e.column());
                let within = last_filter_name(&text[..at])
                    .map(|n| format!(", in or after filter {}", quote(&n)))
                    .unwrap_or_default();
                let what = if e.classify() == serde_json::error::Category::Eof {
                    "the JSON ends in the middle of a document (truncated?)".to_string()
                } else {
                    format!("not valid JSON: {e}")
                };
                problems.push(format!(
                    "{}:{}: document {doc}{within}: {what}",
                    e.line(),
                    e.column()
                ));
                return Err(Problems(problems));
            }
        };
        let Some(object) = value.as_object() else {
            problems.push(format!(
                "document {doc} is not a JSON object: expected what `aws logs {command}` prints, {{\"{list_key}\": [...]}}"
            ));
            continue;
        };
        let Some(list) = object.get(list_key) else {
            let other = if list_key == "metricFilters" {
                "subscriptionFilters"
            } else {
                "metricFilters"
            };
            let hint = if object.contains_key(other) {
                format!(
                    " (it has `{other}`: use `cwlogs import {}`)",
                    if other == "metricFilters" {
                        "metric-filters"
                    } else {
                        "subscription-filters"
                    }
                )
            } else {
                String::new()
            };
            problems.push(format!(
                "document {doc} has no `{list_key}`: expected what `aws logs {command}` prints{hint}"
            ));
            continue;
        };
        let Some(list) = list.as_array() else {
            problems.push(format!("document {doc}: `{list_key}` is not a list"));
            continue;
        };
        for (i, f) in list.iter().enumerate() {
            match f.as_object() {
                Some(object) => entries.push(Entry {
                    doc,
                    pos: i + 1,
                    object: object.clone(),
                }),
                None => problems.push(format!(
                    "document {doc}: entry #{} of `{list_key}` is not an object",
                    i + 1
                )),
            }
        }
    }
    if doc == 0 {
        problems.push(format!(
            "no JSON in the file: expected what `aws logs {command}` prints"
        ));
    }
    if problems.is_empty() {
        Ok(entries)
    } else {
        Err(Problems(problems))
    }
}

/// The byte offset of 1-based `line` and `column` (serde_json's error position) in `text`.
fn offset_of(text: &str, line: usize, column: usize) -> usize {
    let mut at = 0;
    for (n, l) in text.split_inclusive('\n').enumerate() {
        if n + 1 == line {
            return (at + column).min(text.len());
        }
        at += l.len();
    }
    text.len()
}

/// The value of the last complete `"filterName": "..."` in `text`.
fn last_filter_name(text: &str) -> Option<String> {
    let mut rest = text;
    let mut found = None;
    while let Some(i) = rest.find("\"filterName\"") {
        rest = &rest[i + "\"filterName\"".len()..];
        let after = rest.trim_start().strip_prefix(':')?.trim_start();
        let mut de = serde_json::Deserializer::from_str(after).into_iter::<String>();
        if let Some(Ok(name)) = de.next() {
            found = Some(name);
        }
    }
    found
}

/// Problems with the keys every filter has, and duplicates: `(logGroupName, filterName)` must be
/// unique (CloudWatch names filters per log group).
fn check_identity(entries: &[Entry], problems: &mut Vec<String>) {
    let mut seen: HashMap<(String, String), (usize, usize)> = HashMap::new();
    for e in entries {
        let (name, group) = (e.str("filterName"), e.str("logGroupName"));
        if name.is_none_or(str::is_empty) {
            problems.push(format!("{}: no `filterName`", e.who()));
        }
        if group.is_none_or(str::is_empty) {
            problems.push(format!("{}: no `logGroupName`", e.who()));
        }
        if let Some(g) = group
            && (!g.bytes().all(|b| {
                b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'/' | b'#')
            }) || g.len() > 512)
        {
            problems.push(format!(
                "{}: `logGroupName` is not a log group name (1-512 of a-z A-Z 0-9 . - _ / #)",
                e.who()
            ));
        }
        if let (Some(n), Some(g)) = (name, group)
            && let Some((doc, pos)) = seen.insert((g.to_string(), n.to_string()), (e.doc, e.pos))
        {
            problems.push(format!(
                    "{}: listed twice (document {doc} entry #{pos}, and document {} entry #{}): a filter name is unique per log group",
                    e.who(),
                    e.doc,
                    e.pos
                ));
        }
        if !matches!(e.object.get("filterPattern"), None | Some(Value::String(_))) {
            problems.push(format!("{}: `filterPattern` is not a string", e.who()));
        }
    }
}

/// Why cwlogs cannot run a filter as CloudWatch does, if it cannot: `applyOnTransformedLogs`
/// (cwlogs sees the events as ingested, never a log transformer's output), and metric filters'
/// system-field selection and dimensions.
fn unsupported_keys(e: &Entry) -> Option<String> {
    if e.object.get("applyOnTransformedLogs") == Some(&Value::Bool(true)) {
        return Some(
            "it applies to transformed logs (`applyOnTransformedLogs`): cwlogs reads the events as they were ingested, before any log transformer".into(),
        );
    }
    if let Some(c) = e
        .str("fieldSelectionCriteria")
        .filter(|c| !c.trim().is_empty())
    {
        return Some(format!(
            "it selects events by system fields (`fieldSelectionCriteria` {}), which cwlogs has no equivalent for",
            quote(c)
        ));
    }
    if let Some(list) = e
        .object
        .get("emitSystemFieldDimensions")
        .and_then(Value::as_array)
        .filter(|l| !l.is_empty())
    {
        let names: Vec<String> = list.iter().map(ToString::to_string).collect();
        return Some(format!(
            "it emits system-field dimensions (`emitSystemFieldDimensions` [{}]), which cwlogs metrics do not have",
            names.join(", ")
        ));
    }
    None
}

/// The filter pattern compiled; `Err(Some(..))` when CloudWatch would refuse it (AWS's own
/// text), `Err(None)` with `skip` set when only cwlogs cannot take it.
fn compile(e: &Entry, problems: &mut Vec<String>) -> Result<Pattern, Option<String>> {
    let text = e.str("filterPattern").unwrap_or_default();
    match Pattern::new(text) {
        Ok(p) => Ok(p),
        Err(err) if matches!(err.kind(), cwlogs_filter::ErrorKind::NestingTooDeep) => {
            Err(Some(format!("its pattern: {}", err.aws_message())))
        }
        Err(err) => {
            problems.push(format!(
                "{}: `filterPattern` {}: CloudWatch would refuse it: {}",
                e.who(),
                quote(text),
                err.aws_message()
            ));
            Err(None)
        }
    }
}

// ------------------------------------------------------------------------- TOML text

/// A TOML string: literal (`'...'`) when it can be, else basic with escapes.
fn toml_str(s: &str) -> String {
    if !s.contains('\'') && !s.chars().any(char::is_control) {
        return format!("'{s}'");
    }
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A TOML key: bare when it can be, else quoted.
fn toml_key(k: &str) -> String {
    if !k.is_empty()
        && k.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        k.to_string()
    } else {
        toml_str(k)
    }
}

/// A number as TOML: integers without a fraction, others as Rust prints them (shortest
/// round-trip form).
fn toml_number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        format!("{n:?}")
    }
}

fn toml_list(items: &[&str]) -> String {
    let parts: Vec<String> = items.iter().map(|s| toml_str(s)).collect();
    format!("[{}]", parts.join(", "))
}

/// A comment line's text: one line, no control characters.
fn comment(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

// ------------------------------------------------------------------------- metric filters

/// A rule name from a filter name: the letters, digits, `-`, `_` and `.` a rule name may hold
/// (anything else becomes `-`), at most [`MAX_RULE_NAME`] characters.
fn rule_name_base(filter_name: &str) -> String {
    let mut s = String::new();
    for c in filter_name.chars() {
        let c = if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
            c
        } else {
            '-'
        };
        if c == '-' && s.ends_with('-') {
            continue;
        }
        s.push(c);
    }
    let mut s: String = s.trim_matches('-').chars().take(MAX_RULE_NAME).collect();
    while s.ends_with('-') {
        s.pop();
    }
    if s.is_empty() {
        "metric-filter".to_string()
    } else {
        s
    }
}

/// `base`, or `base-2`, `base-3`, ... : the first not in `taken` (which it is then added to).
fn unique_name(base: &str, taken: &mut HashSet<String>) -> String {
    if taken.insert(base.to_string()) {
        return base.to_string();
    }
    for n in 2.. {
        let suffix = format!("-{n}");
        let head: String = base.chars().take(MAX_RULE_NAME - suffix.len()).collect();
        let name = format!("{}{suffix}", head.trim_end_matches('-'));
        if taken.insert(name.clone()) {
            return name;
        }
    }
    unreachable!("some suffix is free")
}

/// One metric transformation, read and checked against the filter's pattern.
struct Transformation {
    namespace: String,
    name: String,
    value: String,
    default: Option<f64>,
    dimensions: BTreeMap<String, String>,
    unit: Option<String>,
}

/// The metric transformation of a filter (CloudWatch allows exactly one), with every problem.
fn transformation(
    e: &Entry,
    pattern: Option<&Pattern>,
    problems: &mut Vec<String>,
) -> Option<Transformation> {
    let who = e.who();
    let list = match e.object.get("metricTransformations") {
        Some(Value::Array(l)) => l,
        Some(_) => {
            problems.push(format!("{who}: `metricTransformations` is not a list"));
            return None;
        }
        None => {
            problems.push(format!("{who}: no `metricTransformations`"));
            return None;
        }
    };
    if list.len() != 1 {
        problems.push(format!(
            "{who}: {} metric transformations; CloudWatch gives a metric filter exactly one",
            list.len()
        ));
        return None;
    }
    let Some(t) = list[0].as_object() else {
        problems.push(format!("{who}: the metric transformation is not an object"));
        return None;
    };
    let before = problems.len();
    let text = |key: &str, problems: &mut Vec<String>| -> Option<String> {
        match t.get(key) {
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => {
                problems.push(format!("{who}: `{key}` is not a string"));
                None
            }
            None => None,
        }
    };
    let namespace = text("metricNamespace", problems);
    let name = text("metricName", problems);
    let value = text("metricValue", problems);
    for (key, v) in [
        ("metricNamespace", &namespace),
        ("metricName", &name),
        ("metricValue", &value),
    ] {
        if v.is_none() && !t.contains_key(key) {
            problems.push(format!("{who}: no `{key}` in its metric transformation"));
        }
    }
    let unit = text("unit", problems);
    let default = match t.get("defaultValue") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => n.as_f64(),
        Some(_) => {
            problems.push(format!("{who}: `defaultValue` is not a number"));
            None
        }
    };
    let mut dimensions = BTreeMap::new();
    match t.get("dimensions") {
        None | Some(Value::Null) => {}
        Some(Value::Object(d)) => {
            for (k, v) in d {
                match v.as_str() {
                    Some(v) => {
                        dimensions.insert(k.clone(), v.to_string());
                    }
                    None => problems.push(format!("{who}: dimension `{k}` is not a string")),
                }
            }
        }
        Some(_) => problems.push(format!("{who}: `dimensions` is not an object")),
    }
    // The references against the pattern, with the filter crate's (AWS's) texts.
    if let (Some(p), Some(v)) = (pattern, &value)
        && let Err(err) = MetricValue::parse(v).and_then(|mv| p.check_metric_value(&mv))
    {
        problems.push(format!(
            "{who}: `metricValue` {}: {} (the pattern {} does not extract it)",
            quote(v),
            err.aws_message(),
            quote(p.source())
        ));
    }
    if let Some(p) = pattern {
        for (k, v) in &dimensions {
            if let Err(err) = MetricValue::parse(v).and_then(|mv| p.check_dimension(&mv)) {
                problems.push(format!(
                    "{who}: dimension `{k}` = {}: {}",
                    quote(v),
                    err.aws_message()
                ));
            }
        }
    }
    if problems.len() > before {
        return None;
    }
    Some(Transformation {
        namespace: namespace?,
        name: name?,
        value: value?,
        default,
        dimensions,
        unit,
    })
}

/// One imported rule's TOML (`[[rule]]` and its keys), with a comment naming the filter.
fn rule_text(e: &Entry, rule: &str, t: &Transformation) -> String {
    let mut metric = format!(
        "namespace = {}, name = {}, value = {}",
        toml_str(&t.namespace),
        toml_str(&t.name),
        toml_str(&t.value)
    );
    if let Some(d) = t.default {
        let _ = write!(metric, ", default = {}", toml_number(d));
    }
    if let Some(u) = &t.unit {
        let _ = write!(metric, ", unit = {}", toml_str(u));
    }
    if !t.dimensions.is_empty() {
        let dims: Vec<String> = t
            .dimensions
            .iter()
            .map(|(k, v)| format!("{} = {}", toml_key(k), toml_str(v)))
            .collect();
        let _ = write!(metric, ", dimensions = {{ {} }}", dims.join(", "));
    }
    let group = e.str("logGroupName").unwrap_or_default();
    format!(
        "# metric filter {} on log group {}\n[[rule]]\nname = {}\npattern = {}\nlog_groups = {}\nmetric = {{ {metric} }}\n",
        comment(&quote(e.str("filterName").unwrap_or_default())),
        comment(&quote(group)),
        toml_str(rule),
        toml_str(e.str("filterPattern").unwrap_or_default()),
        toml_list(&[group]),
    )
}

fn import_metric_filters(
    text: &str,
    source: &str,
    merge: Option<&Merge>,
) -> Result<Output, Problems> {
    let entries = read_documents(text, "metricFilters", "describe-metric-filters")?;
    let mut problems = Vec::new();
    check_identity(&entries, &mut problems);
    let existing: HashMap<&str, ()> = merge
        .map(|m| {
            m.config
                .rules
                .iter()
                .map(|r| (r.name.as_str(), ()))
                .collect()
        })
        .unwrap_or_default();
    let mut taken: HashSet<String> = HashSet::new();
    let mut rules = Vec::new();
    let mut skipped = Vec::new();
    for e in &entries {
        let skip = unsupported_keys(e);
        let pattern = match compile(e, &mut problems) {
            Ok(p) => Some(p),
            Err(Some(why)) => {
                skipped.push(format!("{}: {why}", e.who()));
                None
            }
            Err(None) => None,
        };
        let t = transformation(e, pattern.as_ref(), &mut problems);
        if let Some(why) = skip {
            skipped.push(format!("{}: {why}", e.who()));
            continue;
        }
        let (Some(_), Some(t)) = (pattern, t) else {
            continue;
        };
        let name = unique_name(
            &rule_name_base(e.str("filterName").unwrap_or_default()),
            &mut taken,
        );
        if let Some(m) = merge
            && existing.contains_key(name.as_str())
        {
            problems.push(format!(
                    "{}: would become rule `{name}`, which {} already has (rename one of them, or import into a new file)",
                    e.who(),
                    m.path.display()
                ));
            continue;
        }
        let text = rule_text(e, &name, &t);
        // Each rule checked as `cwlogs check-config` would: what CloudWatch refuses in a metric
        // (reserved namespaces, `:` in names, units, dimensions with a default) is refused here.
        if let Err(errors) = Config::from_toml(&text, &no_env) {
            for err in errors {
                problems.push(format!("{}: {}", e.who(), err.message));
            }
            continue;
        }
        rules.push(text);
    }
    if !problems.is_empty() {
        return Err(Problems(problems));
    }
    let imported = rules.len();
    let mut out = match merge {
        Some(m) => {
            let mut t = m.text.clone();
            if !t.is_empty() && !t.ends_with('\n') {
                t.push('\n');
            }
            let _ = write!(
                t,
                "\n# ---- {imported} metric filter{} imported by `cwlogs import metric-filters {}`\n",
                if imported == 1 { "" } else { "s" },
                comment(source)
            );
            t
        }
        None => format!(
            "# cwlogs configuration imported by `cwlogs import metric-filters {}`:\n\
             # {imported} CloudWatch metric filter{} as [[rule]]s, each publishing the metric its filter\n\
             # publishes (namespace, name, value, default, dimensions and unit as CloudWatch has them).\n\
             # Add `alert = {{ ... }}` to a rule to have it alert too.\n\
             #\n\
             # Archive and index are off, so that `cwlogs replay --config THIS ARCHIVE` computes the\n\
             # metrics (and alerts) only, without archiving or indexing the archive again. To deploy\n\
             # the rules, import with `--merge` into the stack's cwlogs.toml instead.\n\
             [archive]\n\
             enabled = false\n\
             \n\
             [index]\n\
             enabled = false\n",
            comment(source),
            if imported == 1 { "" } else { "s" }
        ),
    };
    for r in &rules {
        out.push('\n');
        out.push_str(r);
    }
    // The whole file, as the functions and `check-config` will read it.
    if let Err(errors) = Config::from_toml(&out, &no_env) {
        return Err(Problems(
            errors
                .iter()
                .map(|e| format!("the imported configuration does not validate: {e}"))
                .collect(),
        ));
    }
    Ok(Output {
        text: out,
        summary: format!(
            "{imported} of {} metric filter{} imported as [[rule]]s",
            entries.len(),
            if entries.len() == 1 { "" } else { "s" }
        ),
        skipped,
    })
}

// ------------------------------------------------------------------------- subscription filters

/// The route the subscription filters make: the log groups and the one pattern they share.
#[derive(Debug, PartialEq)]
struct RoutePlan {
    log_groups: Vec<String>,
    /// `None`: every event (an empty filter pattern).
    include: Option<String>,
}

/// Maps the filters of each log group to one route. A log group with an empty pattern (or
/// one of its two filters empty) takes every event; one with two different patterns cannot be
/// one pattern. Across log groups the route has one `include`: the pattern most log groups
/// share (every event wins a tie, then the first seen) is kept, and the log groups with another
/// are left out and reported.
fn plan_route(entries: &[(&Entry, Pattern)], skipped: &mut Vec<String>) -> RoutePlan {
    // Per log group, in input order: its patterns.
    let mut order: Vec<&str> = Vec::new();
    let mut per_group: HashMap<&str, Vec<(&Entry, &Pattern)>> = HashMap::new();
    for (e, p) in entries {
        let g = e.str("logGroupName").unwrap_or_default();
        if !per_group.contains_key(g) {
            order.push(g);
        }
        per_group.entry(g).or_default().push((e, p));
    }
    // Each group's effective pattern: `None` = every event.
    let mut effective: Vec<(&str, Option<String>)> = Vec::new();
    for g in &order {
        let filters = &per_group[g];
        let texts: Vec<&str> = filters.iter().map(|(_, p)| p.source().trim()).collect();
        if texts.iter().any(|t| t.is_empty()) {
            effective.push((g, None));
        } else if texts.iter().all(|t| *t == texts[0]) {
            effective.push((g, Some(filters[0].1.source().to_string())));
        } else {
            let names: Vec<String> = filters
                .iter()
                .map(|(e, p)| {
                    format!(
                        "{} {}",
                        quote(e.str("filterName").unwrap_or_default()),
                        quote(p.source())
                    )
                })
                .collect();
            skipped.push(format!(
                "log group {}: its filters {} have different patterns, and a route takes one pattern (the union of two patterns is not one CloudWatch pattern); left out of the routes",
                quote(g),
                names.join(" and ")
            ));
        }
    }
    // The pattern most groups share.
    let mut counts: Vec<(Option<String>, usize)> = Vec::new();
    for (_, p) in &effective {
        match counts.iter_mut().find(|(q, _)| q == p) {
            Some((_, n)) => *n += 1,
            None => counts.push((p.clone(), 1)),
        }
    }
    let best = counts
        .iter()
        .enumerate()
        .max_by_key(|(i, (p, n))| (*n, p.is_none(), std::cmp::Reverse(*i)))
        .map(|(_, (p, _))| p.clone());
    let Some(include) = best else {
        return RoutePlan {
            log_groups: Vec::new(),
            include: None,
        };
    };
    let mut log_groups = Vec::new();
    for (g, p) in &effective {
        if *p == include {
            log_groups.push(g.to_string());
        } else {
            let show = |p: &Option<String>| match p {
                None => "every event (empty pattern)".to_string(),
                Some(p) => quote(p),
            };
            skipped.push(format!(
                "log group {}: its filter pattern {} differs from {}, the pattern most of the log groups share, and `[archive]` / `[index]` take one `include` for all their log groups; left out of the routes (give it a configuration of its own, or route it by hand)",
                quote(g),
                show(p),
                show(&include)
            ));
        }
    }
    RoutePlan {
        log_groups,
        include,
    }
}

/// The route keys, one per line.
fn route_lines(plan: &RoutePlan) -> String {
    let groups: Vec<&str> = plan.log_groups.iter().map(String::as_str).collect();
    let mut s = format!("log_groups = {}\n", toml_list(&groups));
    if let Some(p) = &plan.include {
        let _ = writeln!(s, "include = {}", toml_str(p));
    }
    s
}

fn import_subscription_filters(
    text: &str,
    source: &str,
    merge: Option<&Merge>,
) -> Result<Output, Problems> {
    let entries = read_documents(text, "subscriptionFilters", "describe-subscription-filters")?;
    let mut problems = Vec::new();
    check_identity(&entries, &mut problems);
    let mut skipped = Vec::new();
    let mut compiled = Vec::new();
    let mut destinations: Vec<String> = Vec::new();
    for e in &entries {
        let skip = unsupported_keys(e);
        let pattern = match compile(e, &mut problems) {
            Ok(p) => Some(p),
            Err(Some(why)) => {
                skipped.push(format!(
                    "{}: {why}; its log group is left out of the routes",
                    e.who()
                ));
                None
            }
            Err(None) => None,
        };
        if let Some(why) = skip {
            skipped.push(format!(
                "{}: {why}; its log group is left out of the routes",
                e.who()
            ));
            continue;
        }
        if let Some(d) = e.str("destinationArn")
            && !destinations.iter().any(|x| x == d)
        {
            destinations.push(d.to_string());
        }
        if let Some(p) = pattern {
            compiled.push((e, p));
        }
    }
    if !problems.is_empty() {
        return Err(Problems(problems));
    }
    // A log group one of whose filters was left out is left out whole: a route for it would
    // take events that filter alone sent.
    let left_out: HashSet<&str> = entries
        .iter()
        .filter(|e| !compiled.iter().any(|(c, _)| std::ptr::eq(*c, *e)))
        .filter_map(|e| e.str("logGroupName"))
        .collect();
    compiled.retain(|(e, _)| !left_out.contains(e.str("logGroupName").unwrap_or_default()));
    let plan = plan_route(&compiled, &mut skipped);
    if plan.log_groups.is_empty() {
        return Err(Problems(vec![if entries.is_empty() {
            "no subscription filters in the file: nothing to route".to_string()
        } else {
            "no log group could be routed (see above): nothing to write".to_string()
        }]));
    }
    let mut header = format!(
        "# Routes imported by `cwlogs import subscription-filters {}`: {} log group{} whose\n\
         # subscription filters sent {} to:\n",
        comment(source),
        plan.log_groups.len(),
        if plan.log_groups.len() == 1 { "" } else { "s" },
        match &plan.include {
            None => "every event".to_string(),
            Some(p) => format!("the events matching {}", comment(&quote(p))),
        },
    );
    for d in &destinations {
        let _ = writeln!(header, "#   {}", comment(d));
    }
    let routes = route_lines(&plan);
    let out = match merge {
        None => format!(
            "{header}# The archive and the index take those log groups and events only.\n\n[archive]\nprefix = \"cwl\"\n{routes}\n[index]\n{routes}"
        ),
        Some(m) => merge_routes(m, &header, &routes)?,
    };
    let config = Config::from_toml(&out, &no_env).map_err(|errors| {
        Problems(
            errors
                .iter()
                .map(|e| format!("the imported configuration does not validate: {e}"))
                .collect(),
        )
    })?;
    // What the sections now say must be the plan, whatever the merged file looked like.
    let routes: Vec<&cwlogs_pipeline::Route> = config
        .archive
        .iter()
        .map(|a| &a.route)
        .chain(config.index.iter().map(|i| &i.route))
        .collect();
    for r in &routes {
        let groups: Vec<&str> = r.log_groups.iter().map(|g| g.as_str()).collect();
        let include = r.include.as_ref().map(|p| p.source().to_string());
        if groups
            != plan
                .log_groups
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>()
            || include != plan.include
        {
            return Err(Problems(vec![
                "the merged configuration's routes are not the imported ones (a section written in an unusual form?): set them by hand".into(),
            ]));
        }
    }
    let sections = routes.len();
    Ok(Output {
        text: out,
        summary: format!(
            "{} of {} subscription filter{} imported as the routes of {} ({} log group{})",
            compiled
                .iter()
                .filter(|(e, _)| plan
                    .log_groups
                    .iter()
                    .any(|g| Some(g.as_str()) == e.str("logGroupName")))
                .count(),
            entries.len(),
            if entries.len() == 1 { "" } else { "s" },
            match (config.archive.is_some(), config.index.is_some()) {
                (true, true) => "[archive] and [index]",
                (true, false) => "[archive]",
                _ => "[index]",
            },
            plan.log_groups.len(),
            if plan.log_groups.len() == 1 { "" } else { "s" },
        ) + if sections == 0 { " (no section)" } else { "" },
        skipped,
    })
}

/// The `--merge` configuration with the route keys added to its `[archive]` and `[index]`
/// sections (each must be a `[section]` of its own, enabled, and without a route yet).
fn merge_routes(m: &Merge, header: &str, routes: &str) -> Result<String, Problems> {
    let table: toml::Table = toml::from_str(&m.text).map_err(|e| Problems(vec![e.to_string()]))?;
    let shown = m.path.display();
    let mut problems = Vec::new();
    let mut lines: Vec<String> = m.text.lines().map(str::to_string).collect();
    let mut wanted = Vec::new();
    let mut appended = Vec::new();
    for section in ["archive", "index"] {
        // Whether the destination runs with this configuration, as the pipeline reads it.
        let on = match section {
            "archive" => m.config.archive.is_some(),
            _ => m.config.index.is_some(),
        };
        if !on {
            continue;
        }
        let Some(t) = table.get(section) else {
            // On without a section of its own (its defaults): the route goes in a new one.
            appended.push(section);
            continue;
        };
        let Some(t) = t.as_table() else { continue };
        let set: Vec<&str> = ["log_groups", "include", "exclude"]
            .into_iter()
            .filter(|k| t.contains_key(*k))
            .collect();
        if !set.is_empty() {
            problems.push(format!(
                "{shown}: [{section}] already has a route (`{}`): the import would replace it; remove it first, or import into a new file",
                set.join("`, `")
            ));
            continue;
        }
        let header_at = lines.iter().position(|l| {
            let l = l.split('#').next().unwrap_or_default().trim();
            l.strip_prefix('[')
                .and_then(|r| r.strip_suffix(']'))
                .is_some_and(|name| name.trim() == section)
        });
        match header_at {
            Some(i) => wanted.push((i, section)),
            None => problems.push(format!(
                "{shown}: [{section}] is not written as a `[{section}]` section of its own: write it so, then merge"
            )),
        }
    }
    if wanted.is_empty() && appended.is_empty() && problems.is_empty() {
        problems.push(format!(
            "{shown} has no [archive] or [index] section (enabled) to set the routes in: write the sections, then merge"
        ));
    }
    if !problems.is_empty() {
        return Err(Problems(problems));
    }
    // From the bottom up, so that earlier insertions do not move later headers.
    wanted.sort_by_key(|w| std::cmp::Reverse(w.0));
    for (i, section) in wanted {
        let mut block =
            format!("# route imported by `cwlogs import subscription-filters` ({section})\n");
        block.push_str(routes.trim_end());
        lines.insert(i + 1, block);
    }
    let mut out = String::new();
    for l in header.lines() {
        out.push_str(l);
        out.push('\n');
    }
    out.push('\n');
    for l in lines {
        out.push_str(&l);
        out.push('\n');
    }
    for section in appended {
        out.push_str(&format!(
            "\n# route imported by `cwlogs import subscription-filters` ([{section}] was on with its defaults)\n[{section}]\n{routes}"
        ));
    }
    Ok(out)
}

// ------------------------------------------------------------------------- writing

/// Writes `text` to `path` whole or not at all: a temporary file in the same directory, synced,
/// then renamed over `path`.
pub(crate) fn write_whole(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| std::io::Error::other("not a file name"))?
        .to_string_lossy()
        .to_string();
    let tmp = dir.join(format!(".{name}.cwlogs-{}.tmp", std::process::id()));
    let written = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metric(json: &str) -> Result<Output, Vec<String>> {
        import_metric_filters(json, "in.json", None).map_err(|p| p.0)
    }

    const ONE: &str = r#"{"metricFilters": [{"filterName": "CIS-4.3-RootAccountUsage", "logGroupName": "aws-cloudtrail-logs", "filterPattern": "{$.userIdentity.type=\"Root\" && $.userIdentity.invokedBy NOT EXISTS && $.eventType !=\"AwsServiceEvent\"}", "metricTransformations": [{"metricName": "RootAccountUsage", "metricNamespace": "LogMetrics", "metricValue": "1", "defaultValue": 0.0, "unit": "Count"}], "creationTime": 1700000000000, "applyOnTransformedLogs": false}]}"#;

    #[test]
    fn a_filter_becomes_a_rule() {
        let out = metric(ONE).expect("imports");
        assert!(out.skipped.is_empty());
        let c = Config::from_toml(&out.text, &no_env).expect("valid");
        assert_eq!(c.rules.len(), 1);
        let r = &c.rules[0];
        assert_eq!(r.name, "CIS-4.3-RootAccountUsage");
        assert!(r.takes_group("aws-cloudtrail-logs") && !r.takes_group("aws-cloudtrail-logs-2"));
        let m = r.metric.as_ref().expect("metric");
        assert_eq!(
            (m.namespace.as_str(), m.name.as_str()),
            ("LogMetrics", "RootAccountUsage")
        );
        assert_eq!(
            (m.value.source(), m.default, m.unit.as_deref()),
            ("1", Some(0.0), Some("Count"))
        );
        assert!(r.alert.is_none());
        assert!(out.text.contains("default = 0,"), "{}", out.text);
    }

    #[test]
    fn names_are_derived_and_unique() {
        assert_eq!(
            rule_name_base("CIS 3.1: Unauthorized API calls!"),
            "CIS-3.1-Unauthorized-API-calls"
        );
        assert_eq!(rule_name_base("***"), "metric-filter");
        assert_eq!(rule_name_base(&"x".repeat(600)).len(), MAX_RULE_NAME);
        let mut taken = HashSet::new();
        assert_eq!(unique_name("errors", &mut taken), "errors");
        assert_eq!(unique_name("errors", &mut taken), "errors-2");
        assert_eq!(unique_name("errors", &mut taken), "errors-3");
        let long = "y".repeat(MAX_RULE_NAME);
        assert_eq!(unique_name(&long, &mut taken), long);
        let second = unique_name(&long, &mut taken);
        assert!(
            second.ends_with("-2") && second.len() == MAX_RULE_NAME,
            "{second}"
        );
    }

    #[test]
    fn several_pages_and_odd_text() {
        let page = |name: &str, group: &str, pattern: &str| {
            serde_json::json!({"metricFilters": [{"filterName": name, "logGroupName": group, "filterPattern": pattern,
                "metricTransformations": [{"metricName": "M", "metricNamespace": "N", "metricValue": "1"}]}], "nextToken": "x"})
            .to_string()
        };
        let text = format!(
            "{}\n{}",
            page("errors", "/a", "ERROR"),
            page("errors", "/b", "\"it's \\\\ odd\"")
        );
        let out = metric(&text).expect("imports");
        let c = Config::from_toml(&out.text, &no_env).expect("valid");
        let names: Vec<&str> = c.rules.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["errors", "errors-2"]);
        assert_eq!(c.rules[1].pattern.source(), "\"it's \\\\ odd\"");
    }

    #[test]
    fn bad_input_names_the_filter() {
        let truncated = &ONE[..ONE.len() - 40];
        let e = metric(truncated).expect_err("truncated");
        assert_eq!(e.len(), 1);
        assert!(
            e[0].contains("truncated") && e[0].contains("\"CIS-4.3-RootAccountUsage\""),
            "{e:?}"
        );

        let e = metric("{\"metricFilters\": [}").expect_err("malformed");
        assert!(
            e[0].starts_with("1:") && e[0].contains("not valid JSON"),
            "{e:?}"
        );

        let e = metric(r#"{"subscriptionFilters": []}"#).expect_err("wrong command");
        assert!(e[0].contains("cwlogs import subscription-filters"), "{e:?}");

        let bad = ONE
            .replace("{$.userIdentity", "{$.userIdentity.type = }{")
            .replace("\"1\"", "\"$.bytes\"");
        let e = metric(&bad).expect_err("pattern");
        assert!(
            e.iter().any(|m| m.contains("\"CIS-4.3-RootAccountUsage\"")
                && m.contains("CloudWatch would refuse it")),
            "{e:?}"
        );

        let e = metric(&ONE.replace("\"1\"", "\"$size\"")).expect_err("metricValue");
        assert!(
            e[0].contains("`metricValue` \"$size\"") && e[0].contains("does not extract it"),
            "{e:?}"
        );

        let twice = format!("{ONE}{ONE}");
        let e = metric(&twice).expect_err("duplicate");
        assert!(e[0].contains("listed twice"), "{e:?}");

        let e = metric(&ONE.replace("LogMetrics", "AWS/Logs")).expect_err("reserved");
        assert!(e[0].contains("reserved for AWS"), "{e:?}");
    }

    #[test]
    fn what_cwlogs_cannot_express_is_skipped() {
        let text = ONE.replace(
            "\"applyOnTransformedLogs\": false",
            "\"applyOnTransformedLogs\": true",
        );
        let out = metric(&text).expect("written");
        assert_eq!(out.skipped.len(), 1);
        assert!(
            out.skipped[0].contains("transformed logs"),
            "{:?}",
            out.skipped
        );
        let c = Config::from_toml(&out.text, &no_env).expect("valid");
        assert!(c.rules.is_empty());
    }

    #[test]
    fn toml_strings_round_trip() {
        for s in [
            "plain",
            "it's",
            "a\"b",
            "back\\slash",
            "new\nline",
            "tab\t'\"",
        ] {
            let t: toml::Table = toml::from_str(&format!("k = {}", toml_str(s))).expect(s);
            assert_eq!(t["k"].as_str(), Some(s));
        }
        assert_eq!(toml_key("Status"), "Status");
        assert_eq!(toml_key("a.b"), "'a.b'");
        assert_eq!(toml_number(0.0), "0");
        assert_eq!(toml_number(2.5), "2.5");
    }

    fn sub(group: &str, name: &str, pattern: &str) -> String {
        serde_json::json!({"subscriptionFilters": [{"filterName": name, "logGroupName": group, "filterPattern": pattern,
            "destinationArn": "arn:aws:lambda:eu-west-1:123456789012:function:ship", "distribution": "ByLogStream"}]})
        .to_string()
    }

    #[test]
    fn subscription_filters_become_routes() {
        let text = [
            sub("/a", "ship", "ERROR"),
            sub("/b", "ship", "ERROR"),
            sub("/c", "ship", ""),
        ]
        .join("\n");
        let out = import_subscription_filters(&text, "in.json", None)
            .map_err(|p| p.0)
            .expect("imports");
        assert_eq!(out.skipped.len(), 1, "{:?}", out.skipped);
        assert!(out.skipped[0].contains("\"/c\""), "{:?}", out.skipped);
        let c = Config::from_toml(&out.text, &no_env).expect("valid");
        for route in [
            &c.archive.as_ref().expect("archive").route,
            &c.index.as_ref().expect("index").route,
        ] {
            assert!(route.takes_group("/a") && route.takes_group("/b") && !route.takes_group("/c"));
            assert_eq!(route.include.as_ref().map(|p| p.source()), Some("ERROR"));
        }
        // One group, two filters, one of them empty: every event of it.
        let text = [sub("/a", "one", "ERROR"), sub("/a", "two", "")].join("\n");
        let out = import_subscription_filters(&text, "in.json", None)
            .map_err(|p| p.0)
            .expect("imports");
        assert!(out.skipped.is_empty());
        let c = Config::from_toml(&out.text, &no_env).expect("valid");
        assert!(c.archive.expect("archive").route.include.is_none());
    }

    #[test]
    fn routes_merge_into_sections() {
        let dir = std::env::temp_dir().join(format!("cwlogs-import-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("c.toml");
        let text = "# mine\n[archive] # the archive\nprefix = \"logs\"\n\n[index]\nindex = \"x-{yyyy.MM.dd}\"\n";
        let m = Merge {
            path: path.clone(),
            text: text.to_string(),
            config: Config::from_toml(text, &no_env).expect("valid"),
        };
        let out = import_subscription_filters(&sub("/a", "ship", "ERROR"), "in.json", Some(&m))
            .map_err(|p| p.0)
            .expect("merges");
        let c = Config::from_toml(&out.text, &no_env).expect("valid");
        assert_eq!(c.archive.as_ref().expect("archive").prefix, "logs");
        assert!(out.text.contains("# mine"));
        assert!(c.index.expect("index").route.takes_group("/a"));

        let routed = "[archive]\nlog_groups = [\"/x\"]\n";
        let m = Merge {
            path,
            text: routed.to_string(),
            config: Config::from_toml(routed, &no_env).expect("valid"),
        };
        let e = import_subscription_filters(&sub("/a", "ship", "ERROR"), "in.json", Some(&m))
            .map_err(|p| p.0)
            .expect_err("already routed");
        assert!(e[0].contains("already has a route"), "{e:?}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn written_whole() {
        let dir = std::env::temp_dir().join(format!("cwlogs-write-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("out.toml");
        write_whole(&path, "a = 1\n").expect("written");
        write_whole(&path, "a = 2\n").expect("replaced");
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "a = 2\n");
        let names: Vec<_> = std::fs::read_dir(&dir)
            .expect("dir")
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(names.len(), 1, "no temporary file left: {names:?}");
        assert!(write_whole(&dir.join("missing/out.toml"), "x").is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
