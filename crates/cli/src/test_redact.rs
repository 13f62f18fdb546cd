//! `cwlogs test-redact`: what `[redact]` does to messages (README.md, "`cwlogs` commands").
//!
//! Human mode prints each message redacted and the detectors that fired (with how many
//! values each replaced). `--jsonl` mode is a contract for other tools: one JSON line in,
//! `{"message"}`, one JSON line out, `{"redacted", "detectors", "error"}`, in order.
//! Redaction here is the one alerts and metrics use: the message as text, with a JSON object
//! or array inside it walked as JSON (string values unescaped).

use cwlogs_pipeline::redact::{RedactCounts, Redactor};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::{BufRead, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

/// Arguments of `cwlogs test-redact`.
#[derive(clap::Args)]
pub struct TestRedactArgs {
    /// The configuration whose `[redact]` section applies; without it (or without the
    /// section), the default detectors (every built-in but ipv4 and ipv6).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Messages to redact; read from stdin, one per line, when none are given.
    messages: Vec<String>,
    /// Read `{"message"}` JSON lines from stdin and write `{"redacted", "detectors", "error"}`
    /// JSON lines to stdout.
    #[arg(long, conflicts_with = "messages")]
    jsonl: bool,
}

/// Runs `cwlogs test-redact`.
pub fn run(args: TestRedactArgs) -> anyhow::Result<ExitCode> {
    let redactor = match &args.config {
        Some(path) => {
            let config = crate::config_arg(path, &|k| std::env::var(k).ok())?;
            match config.redact {
                Some(r) => r,
                None => {
                    eprintln!(
                        "note: {} has no [redact] section: using the default detectors",
                        path.display()
                    );
                    Arc::new(Redactor::defaults())
                }
            }
        }
        None => Arc::new(Redactor::defaults()),
    };
    let stdin = std::io::stdin().lock();
    let stdout = std::io::stdout().lock();
    if args.jsonl {
        jsonl(&redactor, stdin, stdout)?;
        return Ok(ExitCode::SUCCESS);
    }
    let messages = if args.messages.is_empty() {
        let mut v = Vec::new();
        for line in stdin.split(b'\n') {
            let line = line?;
            let line = line.strip_suffix(b"\r").unwrap_or(&line);
            v.push(String::from_utf8_lossy(line).into_owned());
        }
        v
    } else {
        args.messages
    };
    human(&redactor, &messages, stdout)?;
    Ok(ExitCode::SUCCESS)
}

fn human(r: &Redactor, messages: &[String], out: impl Write) -> anyhow::Result<()> {
    let mut out = BufWriter::new(out);
    let mut changed = 0;
    let mut total = RedactCounts::default();
    for (i, m) in messages.iter().enumerate() {
        let mut counts = RedactCounts::default();
        let redacted = r.text(m, &mut counts);
        writeln!(out, "Event {}: {redacted}", i + 1)?;
        if counts.is_empty() {
            writeln!(out, "  nothing found")?;
        } else {
            changed += 1;
            for (d, n) in &counts.0 {
                writeln!(out, "  {d}: {n}")?;
            }
        }
        total.merge(&counts);
    }
    let detectors: Vec<String> = total.0.iter().map(|(d, n)| format!("{d} {n}")).collect();
    writeln!(
        out,
        "{changed} of {} message{} redacted{}",
        messages.len(),
        if messages.len() == 1 { "" } else { "s" },
        if detectors.is_empty() {
            String::new()
        } else {
            format!(" ({})", detectors.join(", "))
        }
    )?;
    out.flush()?;
    Ok(())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Request {
    message: String,
}

#[derive(Serialize)]
struct Response {
    redacted: Option<String>,
    detectors: BTreeMap<String, u64>,
    error: Option<String>,
}

fn jsonl(r: &Redactor, input: impl BufRead, out: impl Write) -> anyhow::Result<()> {
    let mut out = BufWriter::new(out);
    for line in input.split(b'\n') {
        let line = line?;
        let line = line.strip_suffix(b"\r").unwrap_or(&line);
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let response = match serde_json::from_slice::<Request>(line) {
            Ok(req) => {
                let mut counts = RedactCounts::default();
                let redacted = r.text(&req.message, &mut counts);
                Response {
                    redacted: Some(redacted),
                    detectors: counts.0,
                    error: None,
                }
            }
            Err(e) => Response {
                redacted: None,
                detectors: BTreeMap::new(),
                error: Some(format!("invalid request: {e}")),
            },
        };
        serde_json::to_writer(&mut out, &response)?;
        out.write_all(b"\n")?;
        out.flush()?;
    }
    Ok(())
}
