//! `cwlogs test-pattern`: test a filter pattern against messages (README.md, "`cwlogs` commands").
//!
//! Human mode prints, like `aws logs test-metric-filter`, the messages that match with their
//! 1-based event numbers and extracted values. `--jsonl` mode is a contract for other tools: one
//! JSON line in, `{"pattern", "message", "value_expr"?}`, one JSON line out,
//! `{"match", "value", "error"}`, in order.

use anyhow::Context as _;
use cwlogs_filter::{Message, MetricValue, Pattern};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::io::{BufRead, BufWriter, Write};
use std::process::ExitCode;

/// Arguments of `cwlogs test-pattern`.
#[derive(clap::Args)]
pub struct TestPatternArgs {
    /// The filter pattern (CloudWatch Logs syntax). Not used with `--jsonl`.
    #[arg(required_unless_present = "jsonl")]
    pattern: Option<String>,
    /// Messages to test; read from stdin, one per line, when none are given.
    messages: Vec<String>,
    /// Also print the metric value that `metricValue = EXPR` would publish for each match
    /// (a number, `$.path`, `$name` or `$N`).
    #[arg(long, value_name = "EXPR")]
    value: Option<String>,
    /// Read `{"pattern", "message", "value_expr"}` JSON lines from stdin and write
    /// `{"match", "value", "error"}` JSON lines to stdout.
    #[arg(long, conflicts_with_all = ["pattern", "messages", "value"])]
    jsonl: bool,
}

/// Runs `cwlogs test-pattern`.
pub fn run(args: TestPatternArgs) -> anyhow::Result<ExitCode> {
    let stdin = std::io::stdin().lock();
    let stdout = std::io::stdout().lock();
    if args.jsonl {
        jsonl(stdin, stdout)?;
        return Ok(ExitCode::SUCCESS);
    }
    let pattern = args.pattern.unwrap_or_default();
    let messages = if args.messages.is_empty() {
        read_lines(stdin)?
    } else {
        args.messages
    };
    human(&pattern, args.value.as_deref(), &messages, stdout)
}

fn read_lines(mut input: impl BufRead) -> anyhow::Result<Vec<String>> {
    let mut out = Vec::new();
    let mut buf = Vec::new();
    loop {
        buf.clear();
        if input.read_until(b'\n', &mut buf).context("reading stdin")? == 0 {
            return Ok(out);
        }
        out.push(String::from_utf8_lossy(trim_newline(&buf)).into_owned());
    }
}

fn trim_newline(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn human(
    pattern: &str,
    value: Option<&str>,
    messages: &[String],
    out: impl Write,
) -> anyhow::Result<ExitCode> {
    let pattern = match Pattern::new(pattern) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: invalid filter pattern: {e}");
            return Ok(ExitCode::from(crate::EXIT_USAGE));
        }
    };
    let value = match value.map(MetricValue::parse).transpose() {
        Ok(v) => v,
        Err(e) => {
            eprintln!("error: invalid metric value: {e}");
            return Ok(ExitCode::from(crate::EXIT_USAGE));
        }
    };
    if let Some(v) = &value
        && let Err(e) = pattern.check_metric_value(v)
    {
        eprintln!("error: {e}");
        return Ok(ExitCode::from(crate::EXIT_USAGE));
    }
    let mut out = BufWriter::new(out);
    let mut matched = 0;
    for (i, text) in messages.iter().enumerate() {
        let msg = Message::new(text);
        let Some(extracted) = pattern.extract(&msg) else {
            continue;
        };
        matched += 1;
        writeln!(out, "Event {}: {text}", i + 1)?;
        for (k, v) in extracted.iter() {
            writeln!(out, "  {k} = {v}")?;
        }
        if let Some(v) = &value {
            match pattern.metric_value(&msg, v) {
                Some(n) => writeln!(out, "  metric value = {n}")?,
                None => writeln!(out, "  metric value = (none: no numeric value)")?,
            }
        }
    }
    writeln!(
        out,
        "{matched} of {} message{} matched {}",
        messages.len(),
        if messages.len() == 1 { "" } else { "s" },
        pattern
    )?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

#[derive(Deserialize)]
struct Input {
    pattern: String,
    message: String,
    #[serde(default)]
    value_expr: Option<String>,
}

#[derive(Serialize)]
struct Output {
    #[serde(rename = "match")]
    matched: bool,
    value: Option<f64>,
    error: Option<String>,
}

/// Compiled patterns kept across lines; cleared when it grows past this many entries.
const CACHE_LIMIT: usize = 4096;

fn jsonl(mut input: impl BufRead, out: impl Write) -> anyhow::Result<()> {
    let mut out = BufWriter::new(out);
    let mut cache: HashMap<String, Result<Pattern, String>> = HashMap::new();
    let mut buf = Vec::new();
    loop {
        buf.clear();
        if input.read_until(b'\n', &mut buf).context("reading stdin")? == 0 {
            break;
        }
        let line = trim_newline(&buf);
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let result = one_line(line, &mut cache);
        serde_json::to_writer(&mut out, &result)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(())
}

fn one_line(line: &[u8], cache: &mut HashMap<String, Result<Pattern, String>>) -> Output {
    let fail = |error: String| Output {
        matched: false,
        value: None,
        error: Some(error),
    };
    let input: Input = match serde_json::from_slice(line) {
        Ok(i) => i,
        Err(e) => {
            return fail(format!(
                "invalid input line (want {{\"pattern\": string, \"message\": string, \"value_expr\"?: string}}): {e}"
            ));
        }
    };
    if cache.len() >= CACHE_LIMIT && !cache.contains_key(&input.pattern) {
        cache.clear();
    }
    let compiled = cache
        .entry(input.pattern.clone())
        .or_insert_with(|| Pattern::new(&input.pattern).map_err(|e| e.aws_message()));
    let pattern = match compiled {
        Ok(p) => p,
        Err(e) => return fail(e.clone()),
    };
    let msg = Message::new(&input.message);
    let matched = pattern.is_match(&msg);
    let Some(expr) = input.value_expr else {
        return Output {
            matched,
            value: None,
            error: None,
        };
    };
    let checked = MetricValue::parse(&expr).and_then(|v| {
        pattern.check_metric_value(&v)?;
        Ok(v)
    });
    match checked {
        Ok(v) => Output {
            matched,
            value: pattern.metric_value(&msg, &v),
            error: None,
        },
        Err(e) => Output {
            matched,
            value: None,
            error: Some(e.aws_message()),
        },
    }
}
