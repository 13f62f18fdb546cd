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
//!   `{"pattern_id": null, "template": null, "error": "..."}` (so is a line over 8 MiB); blank
//!   lines are skipped.
//!
//! Inputs or records that cannot be read or decoded are named on stderr and left out (replay
//! makes dead letters of them); the exit status is 0 unless stdout cannot be written.

use anyhow::Context as _;
use cwlogs_pipeline::patterns::{Limits, Miner, Observation, Template};
use cwlogs_pipeline::util::json;
use cwlogs_pipeline::util::time::UtcTime;
use cwlogs_pipeline::{Config, process_input};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::io::{BufWriter, Read, Write};
use std::ops::Range;
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
        let mut miner = Miner::new(jsonl_limits());
        jsonl(
            &mut miner,
            std::io::stdin().lock(),
            std::io::stdout().lock(),
        )?;
        // The process ends next: its memory goes back whole, not one template at a time.
        std::mem::forget(miner);
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
struct Failure {
    pattern_id: Option<&'static str>,
    template: Option<&'static str>,
    error: String,
}

/// The longest input line `--jsonl` reads (a CloudWatch Logs event is at most 1 MiB, escaped
/// JSON at most six bytes for each of its bytes); a longer one is answered with an error line
/// and skipped.
const MAX_JSONL_LINE: usize = 8 << 20;

/// Bytes read from stdin at a time.
const JSONL_CHUNK: usize = 1 << 16;

/// `--jsonl` writes its answers out once they reach this many bytes.
const JSONL_FLUSH: usize = 1 << 16;

fn trim_newline(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Where the common line, `{"group": "...", "message": "..."}` in that order with no escape
/// in either string, lies at the start of `b`: the byte ranges of the two strings' contents
/// and the index just past the line's `\n` (or `b.len()` when the line ends there without
/// one); `None` for anything else (serde reads it then). Whitespace is JSON's, but for `\n`,
/// which ends the line.
fn plain_line(b: &[u8]) -> Option<(Range<usize>, Range<usize>, usize)> {
    fn ws(b: &[u8], mut i: usize) -> usize {
        while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\r') {
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
    fn string(b: &[u8], i: usize) -> Option<(Range<usize>, usize)> {
        let i = lit(b, i, b"\"")?;
        let end = i + json::plain_len(&b[i..]);
        (b.get(end) == Some(&b'"')).then_some((i..end, end + 1))
    }
    let i = lit(b, ws(b, 0), b"{")?;
    let i = lit(b, ws(b, i), b"\"group\"")?;
    let i = lit(b, ws(b, i), b":")?;
    let (group, i) = string(b, ws(b, i))?;
    let i = lit(b, ws(b, i), b",")?;
    let i = lit(b, ws(b, i), b"\"message\"")?;
    let i = lit(b, ws(b, i), b":")?;
    let (message, i) = string(b, ws(b, i))?;
    let i = ws(b, lit(b, ws(b, i), b"}")?);
    match b.get(i) {
        None => Some((group, message, i)),
        Some(b'\n') => Some((group, message, i + 1)),
        Some(_) => None,
    }
}

/// The miner's limits for `--jsonl`: the defaults, but no example kept (its answers show
/// none).
fn jsonl_limits() -> Limits {
    Limits {
        example_bytes: 0,
        ..Limits::default()
    }
}

/// `--jsonl`: reads stdin in chunks and answers each line in place (no copy of it), writing
/// the answers into one buffer flushed every 64 KiB (a template's line copied when it was
/// written lately, see [`Answers`]). The complete lines of a chunk are
/// checked as UTF-8 at once; a common line (see [`plain_line`]) is then read in one pass,
/// its end included, and any other line by serde. Only the bytes read last are searched for
/// the chunk's last line end: what was kept from the read before is one line's start, without
/// a `\n`.
fn jsonl(miner: &mut Miner, mut input: impl Read, mut out: impl Write) -> anyhow::Result<()> {
    let mut answers = Answers::default();
    let mut written = Vec::with_capacity(JSONL_FLUSH + (JSONL_FLUSH >> 1));
    let mut buf = vec![0u8; JSONL_CHUNK];
    // `fresh`: where the bytes of the last read start in `buf[..filled]`.
    let (mut filled, mut fresh, mut eof, mut skipping) = (0, 0, false, false);
    loop {
        let mut start = 0;
        if skipping && let Some(nl) = buf[fresh..filled].iter().position(|&b| b == b'\n') {
            // The rest of a line too long to answer (the bytes before `fresh` hold no `\n`).
            (start, skipping) = (fresh + nl + 1, false);
        }
        if !skipping {
            let from = fresh.max(start);
            let complete = buf[from..filled]
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(start, |nl| from + nl + 1);
            let text = std::str::from_utf8(&buf[start..complete]).ok();
            let lines = &buf[start..complete];
            let mut at = 0;
            while at < lines.len() {
                if written.len() >= JSONL_FLUSH {
                    out.write_all(&written)?;
                    written.clear();
                }
                let rest = &lines[at..];
                if let Some((group, message, end)) = plain_line(rest) {
                    let strings = match text {
                        Some(t) => t
                            .get(at + group.start..at + group.end)
                            .zip(t.get(at + message.start..at + message.end)),
                        None => std::str::from_utf8(&rest[group])
                            .ok()
                            .zip(std::str::from_utf8(&rest[message]).ok()),
                    };
                    if let Some((group, message)) = strings {
                        observe(miner, &mut answers, group, message, &mut written);
                        at += end;
                        continue;
                    }
                }
                // Every line here ends with `\n`.
                let nl = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
                answer(miner, &mut answers, &rest[..nl], &mut written)?;
                at += nl + 1;
            }
            start = complete;
        }
        if eof {
            if start < filled && !skipping {
                answer(miner, &mut answers, &buf[start..filled], &mut written)?;
            }
            break;
        }
        if start > 0 {
            buf.copy_within(start..filled, 0);
            filled -= start;
        }
        if filled == buf.len() {
            if buf.len() >= MAX_JSONL_LINE {
                if !skipping {
                    failure(
                        &mut written,
                        format!("input line longer than {MAX_JSONL_LINE} bytes"),
                    )?;
                }
                (filled, skipping) = (0, true);
            } else {
                buf.resize(buf.len() * 2, 0);
            }
        }
        fresh = filled;
        let n = loop {
            match input.read(&mut buf[filled..]) {
                Ok(n) => break n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e).context("reading stdin"),
            }
        };
        (filled, eof) = (filled + n, n == 0);
    }
    out.write_all(&written)?;
    out.flush()?;
    Ok(())
}

/// Entries of [`Answers`].
const ANSWER_SLOTS: usize = 256;
/// The longest template whose answer line [`Answers`] keeps.
const MAX_ANSWER_TEMPLATE: usize = 1024;

/// The answer lines written lately, direct-mapped by the observation's revision (which stands
/// for one pattern id and one template text, see `Observation::revision`): most messages take
/// a template answered before, and copying its line costs less than quoting the template
/// again; a template that generalised has a new revision and is written anew. At most
/// [`ANSWER_SLOTS`] lines of templates up to [`MAX_ANSWER_TEMPLATE`] bytes.
#[derive(Default)]
struct Answers {
    /// `(revision, line)`; revision 0 is never given.
    slots: Vec<(u64, Vec<u8>)>,
}

impl Answers {
    /// Writes the answer line of `o` to `out`.
    fn write(&mut self, o: &Observation<'_>, out: &mut Vec<u8>) {
        if self.slots.is_empty() {
            self.slots = vec![Default::default(); ANSWER_SLOTS];
        }
        let at = (o.revision.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 56) as usize % ANSWER_SLOTS;
        let (revision, line) = &mut self.slots[at];
        if *revision == o.revision && !line.is_empty() {
            out.extend_from_slice(line);
            return;
        }
        let start = out.len();
        // What serde_json writes for `{pattern_id, template}`, byte for byte.
        out.extend_from_slice(b"{\"pattern_id\":");
        json::push_str(out, o.id);
        out.extend_from_slice(b",\"template\":");
        json::push_str(out, o.template);
        out.extend_from_slice(b"}\n");
        if o.template.len() <= MAX_ANSWER_TEMPLATE {
            *revision = o.revision;
            line.clear();
            line.extend_from_slice(&out[start..]);
        }
    }
}

/// Learns from one message of `group` and writes its answer line to `out`.
fn observe(
    miner: &mut Miner,
    answers: &mut Answers,
    group: &str,
    message: &str,
    out: &mut Vec<u8>,
) {
    let o = miner.observe(group, message, 0);
    answers.write(&o, out);
}

/// Answers one input line (without its `\n`) into `out`; blank lines get no answer.
fn answer(
    miner: &mut Miner,
    answers: &mut Answers,
    line: &[u8],
    out: &mut Vec<u8>,
) -> anyhow::Result<()> {
    let line = trim_newline(line);
    if line.iter().all(u8::is_ascii_whitespace) {
        return Ok(());
    }
    let plain = plain_line(line).and_then(|(group, message, _)| {
        Some((
            std::str::from_utf8(&line[group]).ok()?,
            std::str::from_utf8(&line[message]).ok()?,
        ))
    });
    let parsed = match plain {
        Some((group, message)) => Ok(Input {
            group: Cow::Borrowed(group),
            message: Cow::Borrowed(message),
        }),
        None => serde_json::from_slice::<Input<'_>>(line),
    };
    match parsed {
        Ok(i) => {
            observe(miner, answers, &i.group, &i.message, out);
            Ok(())
        }
        Err(e) => failure(
            out,
            format!("invalid input line (want {{\"group\": string, \"message\": string}}): {e}"),
        ),
    }
}

fn failure(out: &mut Vec<u8>, error: String) -> anyhow::Result<()> {
    serde_json::to_writer(
        &mut *out,
        &Failure {
            pattern_id: None,
            template: None,
            error,
        },
    )?;
    out.push(b'\n');
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_jsonl(input: impl AsRef<[u8]>) -> Vec<serde_json::Value> {
        let mut out = Vec::new();
        jsonl(&mut Miner::new(jsonl_limits()), input.as_ref(), &mut out).expect("jsonl runs");
        String::from_utf8(out)
            .expect("UTF-8 output")
            .lines()
            .map(|l| serde_json::from_str(l).expect("a JSON line"))
            .collect()
    }

    /// Every answer is the miner's own, whichever line was copied: templates that generalise
    /// under the same id, and more templates than [`Answers`] has entries.
    #[test]
    fn jsonl_answers_as_the_miner_does() {
        let mut input = String::new();
        let mut messages = Vec::new();
        for i in 0..3_000 {
            // A word of letters: a template of its own for each of 400 (a digit would make
            // the token a variable).
            let word: String = format!("{:03}", i % 400)
                .bytes()
                .map(|d| char::from(d + 49))
                .collect();
            let m = match i % 5 {
                0 => format!("job {} state {}", ["a", "b", "c", "d", "e"][i % 5], i % 7),
                1 => format!("w{} done in {} ms", i % 300, i),
                2 => format!("quote \" and \\ in {}", ["x", "y", "z"][i % 3]),
                3 => format!("{word} started"),
                _ => "same line".to_string(),
            };
            let group = if i % 3 == 0 { "g1" } else { "g2" };
            input.push_str(&serde_json::json!({"group": group, "message": m}).to_string());
            input.push('\n');
            messages.push((group, m));
        }
        let out = run_jsonl(&input);
        let mut miner = Miner::new(jsonl_limits());
        assert_eq!(out.len(), messages.len());
        for ((group, m), got) in messages.iter().zip(&out) {
            let o = miner.observe(group, m, 0);
            assert_eq!(
                got,
                &serde_json::json!({"pattern_id": o.id, "template": o.template})
            );
        }
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

    /// A reader giving at most `n` bytes a read.
    struct Trickle<'a>(&'a [u8], usize);

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.1.min(buf.len()).min(self.0.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    #[test]
    fn jsonl_answers_alike_however_stdin_is_read() {
        let mut input = String::new();
        for i in 0..2000 {
            input.push_str(&format!(
                "{{\"group\": \"g{}\", \"message\": \"request {i} took {} ms{}ok\"}}\r\n",
                i % 3,
                i * 7,
                // Every other message has an escape (read by serde, not the plain reader).
                if i % 2 == 0 { "\\t" } else { " " }
            ));
            if i == 1000 {
                // Longer than a read's chunk: the buffer grows while the line is read.
                input.push_str(&format!(
                    "{{\"group\": \"g1\", \"message\": \"{}\"}}\n",
                    "long ".repeat(40_000)
                ));
            }
        }
        input.push_str(r#"{"group": "g0", "message": "last line without newline"}"#);
        let mut whole = Vec::new();
        jsonl(
            &mut Miner::new(jsonl_limits()),
            input.as_bytes(),
            &mut whole,
        )
        .expect("jsonl runs");
        assert_eq!(whole.iter().filter(|&&b| b == b'\n').count(), 2002);
        for n in [1, 7, 4096] {
            let mut out = Vec::new();
            jsonl(
                &mut Miner::new(jsonl_limits()),
                Trickle(input.as_bytes(), n),
                &mut out,
            )
            .expect("jsonl runs");
            assert!(out == whole, "reads of {n} bytes");
        }
        // What serde_json writes for the answer, byte for byte.
        let first = whole.split(|&b| b == b'\n').next().expect("a line");
        let v: serde_json::Value = serde_json::from_slice(first).expect("JSON");
        assert_eq!(serde_json::to_vec(&v).expect("JSON"), first);
    }

    #[test]
    fn jsonl_answers_an_overlong_line_with_an_error_and_goes_on() {
        let mut input = Vec::new();
        input.extend_from_slice(br#"{"group": "a", "message": "before"}"#);
        input.push(b'\n');
        input.extend_from_slice(br#"{"group": "a", "message": ""#);
        // Past the limit by more than one read of a pipe.
        input.resize(input.len() + MAX_JSONL_LINE + 200_000, b'x');
        input.extend_from_slice(b"\"}\n");
        input.extend_from_slice(br#"{"group": "a", "message": "after"}"#);
        input.push(b'\n');
        let lines = run_jsonl(&input);
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0]["template"], "before");
        assert!(lines[1]["pattern_id"].is_null());
        assert!(
            lines[1]["error"]
                .as_str()
                .is_some_and(|e| e.contains("longer than"))
        );
        assert_eq!(lines[2]["template"], "after");
        // Read as a pipe gives it, 64 KiB at a time: the same answers (the skipped line's
        // rest is searched once, not again at every read).
        let mut whole = Vec::new();
        jsonl(&mut Miner::new(jsonl_limits()), &input[..], &mut whole).expect("jsonl runs");
        let mut piped = Vec::new();
        jsonl(
            &mut Miner::new(jsonl_limits()),
            Trickle(&input, 1 << 16),
            &mut piped,
        )
        .expect("jsonl runs");
        assert!(piped == whole);
    }

    #[test]
    fn plain_lines_read_as_serde_reads_them() {
        for line in [
            r#"{"group": "a", "message": "x y"}"#,
            r#"{"group":"a","message":""}"#,
            r#" { "group" : "/aws/lambda/f" , "message" : "é 1" } "#,
        ] {
            let (g, m, end) = plain_line(line.as_bytes()).expect("a plain line");
            assert_eq!(end, line.len());
            let (g, m) = (&line[g], &line[m]);
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
            assert!(plain_line(line.as_bytes()).is_none(), "{line}");
        }
        // Read from a buffer of lines: it ends past the line's `\n` (a `\r` before it is
        // whitespace), and a `\n` inside the object ends the line (serde reads what is left).
        let lines =
            b"{\"group\":\"a\",\"message\":\"x\"} \r\n{\"group\":\"b\",\"message\":\"y\"}\n";
        let (g, m, end) = plain_line(lines).expect("a plain line");
        assert_eq!((&lines[g], &lines[m], end), (&b"a"[..], &b"x"[..], 30));
        let (g, _, next) = plain_line(&lines[end..]).expect("the next line");
        assert_eq!((&lines[end..][g], end + next), (&b"b"[..], lines.len()));
        assert!(plain_line(b"{\"group\":\"a\",\n\"message\":\"x\"}\n").is_none());
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
