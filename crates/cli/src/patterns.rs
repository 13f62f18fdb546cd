//! `cwlogs patterns`: the log patterns of captured inputs (issue 21; the miner is
//! `cwlogs_pipeline::patterns`).
//!
//! - `cwlogs patterns INPUT...` reads what `cwlogs replay` reads and prints, per log group,
//!   the top templates with their counts, share, first and last seen and one example
//!   (`--top N`, `--json` for one JSON document).
//! - `cwlogs patterns --jsonl` is the machine interface: stdin lines
//!   `{"group": "...", "message": "..."}`, stdout one line per input line, in order,
//!   `{"pattern_id": "...", "template": "..."}` (the template as learned so far), learned
//!   online per `group`. A line that is not such an object is answered with
//!   `{"pattern_id": null, "template": null, "error": "..."}`; blank lines are skipped.
//!
//! Inputs or records that cannot be read or decoded are named on stderr and left out (replay
//! makes dead letters of them); the exit status is 0 unless stdout cannot be written.

use anyhow::Context as _;
use cwlogs_pipeline::patterns::{Limits, Miner, Template};
use cwlogs_pipeline::util::time::UtcTime;
use cwlogs_pipeline::{Config, process_input};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::io::{BufRead, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `cwlogs patterns`.
#[derive(clap::Args)]
pub struct PatternsArgs {
    /// What `cwlogs replay` reads: Lambda events of any trigger, raw gzip or base64 payloads,
    /// cwlogs archive objects (.ndjson.gz), dead letters; directories recursively;
    /// `s3://BUCKET/PREFIX`.
    #[arg(required_unless_present = "jsonl", value_name = "INPUT")]
    inputs: Vec<PathBuf>,
    /// Templates shown per log group, most frequent first.
    #[arg(long, value_name = "N", default_value_t = 10)]
    top: usize,
    /// Print one JSON document instead of text.
    #[arg(long)]
    json: bool,
    /// Read `{"group", "message"}` JSON lines from stdin and write
    /// `{"pattern_id", "template"}` JSON lines to stdout, learning online per group.
    #[arg(long, conflicts_with_all = ["inputs", "top", "json"])]
    jsonl: bool,
}

/// Runs `cwlogs patterns`.
pub fn run(args: PatternsArgs) -> anyhow::Result<ExitCode> {
    if args.jsonl {
        jsonl(std::io::stdin().lock(), std::io::stdout().lock())?;
        return Ok(ExitCode::SUCCESS);
    }
    let config = Config::builtin(&|k| std::env::var(k).ok());
    let mut miner = Miner::new(Limits::default());
    let mut unreadable = 0usize;
    crate::replay::for_each_input(&args.inputs, |name, shown, bytes| {
        let bytes = match bytes {
            Ok(b) => b,
            Err(e) => {
                eprintln!("cwlogs patterns: {shown}: {e}");
                unreadable += 1;
                return;
            }
        };
        let processed = process_input(&config, name, shown, &bytes, |_, batch| {
            for e in &batch.log_events {
                miner.observe(&batch.log_group, &e.message, e.timestamp);
            }
        });
        for dead in processed.dead_letters() {
            eprintln!("cwlogs patterns: {}: {}", dead.input, dead.error);
            unreadable += 1;
        }
    })?;
    let report = Report::new(&miner, args.top);
    let stdout = std::io::stdout().lock();
    let mut out = BufWriter::new(stdout);
    if args.json {
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
    } else {
        report.write_text(&mut out)?;
    }
    out.flush()?;
    if unreadable > 0 {
        eprintln!(
            "cwlogs patterns: {unreadable} input{} or record{} could not be read or decoded (left out)",
            if unreadable == 1 { "" } else { "s" },
            if unreadable == 1 { "" } else { "s" },
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// What `--json` prints.
#[derive(Serialize)]
struct Report {
    log_groups: Vec<GroupReport>,
}

#[derive(Serialize)]
struct GroupReport {
    log_group: String,
    messages: u64,
    patterns: usize,
    /// Templates evicted by the per-group caps.
    evicted: u64,
    top: Vec<PatternReport>,
}

#[derive(Serialize)]
struct PatternReport {
    id: String,
    template: String,
    count: u64,
    share: f64,
    first_seen: String,
    last_seen: String,
    example: String,
}

impl Report {
    fn new(miner: &Miner, top: usize) -> Report {
        let mut log_groups: Vec<GroupReport> = miner
            .groups()
            .map(|(name, g)| {
                let messages = g.stats().messages;
                let mut templates: Vec<&Template> = g.templates().collect();
                templates.sort_by(|a, b| b.count().cmp(&a.count()).then(a.id().cmp(b.id())));
                GroupReport {
                    log_group: name.to_string(),
                    messages,
                    patterns: g.len(),
                    evicted: g.stats().evicted,
                    top: templates
                        .into_iter()
                        .take(top)
                        .map(|t| PatternReport {
                            id: t.id().to_string(),
                            template: t.text().to_string(),
                            count: t.count(),
                            share: t.count() as f64 / messages.max(1) as f64,
                            first_seen: UtcTime::from_millis(t.first_seen()).rfc3339(),
                            last_seen: UtcTime::from_millis(t.last_seen()).rfc3339(),
                            example: t.example().to_string(),
                        })
                        .collect(),
                }
            })
            .collect();
        log_groups.sort_by(|a, b| a.log_group.cmp(&b.log_group));
        Report { log_groups }
    }

    fn write_text(&self, out: &mut impl Write) -> std::io::Result<()> {
        for (i, g) in self.log_groups.iter().enumerate() {
            if i > 0 {
                writeln!(out)?;
            }
            let evicted = if g.evicted > 0 {
                format!(", {} evicted", g.evicted)
            } else {
                String::new()
            };
            writeln!(
                out,
                "{}: {} messages, {} patterns{evicted}",
                g.log_group, g.messages, g.patterns
            )?;
            for p in &g.top {
                writeln!(
                    out,
                    "  {:>9} {:>6.2}%  {}  {} .. {}",
                    p.count,
                    p.share * 100.0,
                    p.id,
                    p.first_seen,
                    p.last_seen
                )?;
                writeln!(out, "      {}", p.template)?;
                if p.example != p.template {
                    writeln!(out, "      e.g. {}", p.example)?;
                }
            }
        }
        Ok(())
    }
}

#[derive(Deserialize)]
struct Input<'a> {
    #[serde(borrow)]
    group: Cow<'a, str>,
    #[serde(borrow)]
    message: Cow<'a, str>,
}

#[derive(Serialize)]
struct Output<'a> {
    pattern_id: &'a str,
    template: &'a str,
}

#[derive(Serialize)]
struct Failure {
    pattern_id: Option<&'static str>,
    template: Option<&'static str>,
    error: String,
}

fn trim_newline(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// The common line, `{"group": "...", "message": "..."}` in that order with no escape in
/// either string, read without serde; `None` for anything else (serde reads it then).
fn plain_input(line: &[u8]) -> Option<(&str, &str)> {
    fn ws(b: &[u8], mut i: usize) -> usize {
        while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\r' | b'\n') {
            i += 1;
        }
        i
    }
    fn lit(b: &[u8], i: usize, s: &[u8]) -> Option<usize> {
        b.get(i..i + s.len())
            .filter(|x| *x == s)
            .map(|_| i + s.len())
    }
    // A string without escapes or control characters: its content and the index after it.
    fn string(b: &[u8], i: usize) -> Option<(&[u8], usize)> {
        let i = lit(b, i, b"\"")?;
        let end = i + b[i..]
            .iter()
            .position(|&c| c == b'"' || c == b'\\' || c < 0x20)?;
        (b[end] == b'"').then(|| (&b[i..end], end + 1))
    }
    let b = line;
    let i = lit(b, ws(b, 0), b"{")?;
    let i = lit(b, ws(b, i), b"\"group\"")?;
    let i = lit(b, ws(b, i), b":")?;
    let (group, i) = string(b, ws(b, i))?;
    let i = lit(b, ws(b, i), b",")?;
    let i = lit(b, ws(b, i), b"\"message\"")?;
    let i = lit(b, ws(b, i), b":")?;
    let (message, i) = string(b, ws(b, i))?;
    let i = lit(b, ws(b, i), b"}")?;
    if ws(b, i) != b.len() {
        return None;
    }
    Some((
        std::str::from_utf8(group).ok()?,
        std::str::from_utf8(message).ok()?,
    ))
}

fn jsonl(mut input: impl BufRead, out: impl Write) -> anyhow::Result<()> {
    let mut out = BufWriter::with_capacity(1 << 16, out);
    let mut miner = Miner::new(Limits::default());
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
        let parsed = match plain_input(line) {
            Some((group, message)) => Ok(Input {
                group: Cow::Borrowed(group),
                message: Cow::Borrowed(message),
            }),
            None => serde_json::from_slice::<Input<'_>>(line),
        };
        match parsed {
            Ok(i) => {
                let o = miner.observe(&i.group, &i.message, 0);
                serde_json::to_writer(
                    &mut out,
                    &Output {
                        pattern_id: o.id,
                        template: o.template,
                    },
                )?;
            }
            Err(e) => serde_json::to_writer(
                &mut out,
                &Failure {
                    pattern_id: None,
                    template: None,
                    error: format!(
                        "invalid input line (want {{\"group\": string, \"message\": string}}): {e}"
                    ),
                },
            )?,
        }
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_jsonl(input: &str) -> Vec<serde_json::Value> {
        let mut out = Vec::new();
        jsonl(input.as_bytes(), &mut out).expect("jsonl runs");
        String::from_utf8(out)
            .expect("UTF-8 output")
            .lines()
            .map(|l| serde_json::from_str(l).expect("a JSON line"))
            .collect()
    }

    #[test]
    fn jsonl_one_line_per_input_in_order() {
        let out = run_jsonl(concat!(
            r#"{"group": "a", "message": "user 1 logged in"}"#,
            "\n",
            r#"{"group": "a", "message": "user 2 logged in"}"#,
            "\n\n",
            "not json\n",
            r#"{"group": "b", "message": "disk full on /dev/sda1"}"#,
            "\n",
        ));
        assert_eq!(out.len(), 4);
        assert_eq!(out[0]["template"], "user <*> logged in");
        assert_eq!(out[0]["pattern_id"], out[1]["pattern_id"]);
        assert_eq!(out[0].as_object().map(|o| o.len()), Some(2));
        assert!(out[2]["pattern_id"].is_null());
        assert!(
            out[2]["error"]
                .as_str()
                .is_some_and(|e| e.contains("invalid input line"))
        );
        assert_eq!(out[3]["template"], "disk full on <*>");
    }

    #[test]
    fn plain_lines_read_as_serde_reads_them() {
        for line in [
            r#"{"group": "a", "message": "x y"}"#,
            r#"{"group":"a","message":""}"#,
            r#" { "group" : "/aws/lambda/f" , "message" : "é 1" } "#,
        ] {
            let (g, m) = plain_input(line.as_bytes()).expect("a plain line");
            let i: Input<'_> = serde_json::from_str(line).expect("valid");
            assert_eq!((g, m), (&*i.group, &*i.message));
        }
        for line in [
            r#"{"group": "a", "message": "x \"y\""}"#,
            r#"{"message": "x", "group": "a"}"#,
            r#"{"group": "a", "message": "x", "extra": 1}"#,
            r#"{"group": "a", "message": "x"} trailing"#,
            r#"{"group": "a", "message": "x"#,
        ] {
            assert!(plain_input(line.as_bytes()).is_none(), "{line}");
        }
    }

    #[test]
    fn report_orders_by_count() {
        let mut m = Miner::new(Limits::default());
        for i in 0..3 {
            m.observe("g", &format!("job {i} done"), 1_764_028_800_000);
        }
        m.observe("g", "starting", 1_764_028_860_000);
        let r = Report::new(&m, 1);
        assert_eq!(r.log_groups.len(), 1);
        let g = &r.log_groups[0];
        assert_eq!((g.messages, g.patterns, g.top.len()), (4, 2, 1));
        assert_eq!(g.top[0].template, "job <*> done");
        assert_eq!(g.top[0].count, 3);
        assert_eq!(g.top[0].first_seen, "2025-11-25T00:00:00.000Z");
        let mut text = Vec::new();
        r.write_text(&mut text).expect("text");
        let text = String::from_utf8(text).expect("UTF-8");
        assert!(text.starts_with("g: 4 messages, 2 patterns\n"), "{text}");
        assert!(text.contains("75.00%"), "{text}");
    }
}
