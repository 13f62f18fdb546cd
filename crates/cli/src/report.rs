//! `report.html`: what a replay did, as one self-contained page.
//!
//! [`render`] is a pure function from a [`RunReport`] (the run's counts, events per log group
//! over time, hits per rule, alerts, dead letters) to the page's HTML. Charts are rendered
//! here, to inline SVG, by `plotters`; the page has no script and loads nothing (its
//! Content-Security-Policy forbids it), so it opens the same from a laptop, an artifact store
//! or an air-gapped machine. Every string that comes from the input (log group names, rule
//! names, inputs, error texts) is HTML-escaped.
//!
//! Input safety: the timeline keeps at most [`MAX_GROUPS`] log groups (the rest are counted
//! together) and at most [`MAX_POINTS`] (group, time bucket) counts, coarsening its buckets
//! (1 minute up to 1 week) when a run spans more; the page lists at most
//! [`MAX_DEAD_LETTERS_SHOWN`] dead letters, errors cut at [`MAX_ERROR_CHARS`] characters.

use cwlogs_pipeline::util::time::UtcTime;
use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Log groups the timeline tells apart; events of further groups count under [`OTHER`].
pub const MAX_GROUPS: usize = 500;
/// (group, bucket) counts the timeline keeps before it coarsens its buckets.
pub const MAX_POINTS: usize = 50_000;
/// Dead letters listed on the page (all are counted).
pub const MAX_DEAD_LETTERS_SHOWN: usize = 200;
/// Longest error text shown per dead letter, in characters.
pub const MAX_ERROR_CHARS: usize = 2_000;
/// Log groups drawn as lines of their own in the events chart; the rest are one line.
const CHART_GROUPS: usize = 8;
/// Most points per line in the events chart.
const CHART_BUCKETS: i64 = 300;
/// Where the groups past the caps go.
pub const OTHER: &str = "(other log groups)";

/// Bucket sizes, finest first: 1 minute, 5, 15, 1 hour, 6, 1 day, 1 week.
const BUCKETS_MS: [i64; 7] = [
    60_000,
    300_000,
    900_000,
    3_600_000,
    21_600_000,
    86_400_000,
    604_800_000,
];

/// Events per log group and time bucket (event time, UTC).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timeline {
    bucket_ms: i64,
    counts: BTreeMap<String, BTreeMap<i64, u64>>,
    points: usize,
}

impl Default for Timeline {
    fn default() -> Self {
        Timeline {
            bucket_ms: BUCKETS_MS[0],
            counts: BTreeMap::new(),
            points: 0,
        }
    }
}

impl Timeline {
    /// Counts the events of one batch (their timestamps, ms since the epoch) for `log_group`.
    pub fn add_batch(&mut self, log_group: &str, timestamps: impl IntoIterator<Item = i64>) {
        let group = if self.counts.contains_key(log_group) || self.counts.len() < MAX_GROUPS {
            log_group
        } else {
            OTHER
        };
        let bucket_ms = self.bucket_ms;
        let counts = self.counts.entry(group.to_string()).or_default();
        let mut run: Option<(i64, u64)> = None;
        let mut added = 0;
        let mut add = |counts: &mut BTreeMap<i64, u64>, (bucket, n): (i64, u64)| {
            let c = counts.entry(bucket).or_insert_with(|| {
                added += 1;
                0
            });
            *c += n;
        };
        for t in timestamps {
            let bucket = t.div_euclid(bucket_ms) * bucket_ms;
            match &mut run {
                Some((b, n)) if *b == bucket => *n += 1,
                _ => {
                    if let Some(r) = run.take() {
                        add(counts, r);
                    }
                    run = Some((bucket, 1));
                }
            }
        }
        if let Some(r) = run {
            add(counts, r);
        }
        self.points += added;
        while self.points > MAX_POINTS {
            let Some(&next) = BUCKETS_MS.iter().find(|&&b| b > self.bucket_ms) else {
                break;
            };
            self.rebucket(next);
        }
    }

    /// Adds `other`'s counts to these (in the coarser of the two bucket sizes).
    pub fn merge(&mut self, mut other: Timeline) {
        if other.bucket_ms > self.bucket_ms {
            self.rebucket(other.bucket_ms);
        } else if other.bucket_ms < self.bucket_ms {
            other.rebucket(self.bucket_ms);
        }
        for (group, counts) in other.counts {
            let group = if self.counts.contains_key(&group) || self.counts.len() < MAX_GROUPS {
                group
            } else {
                OTHER.to_string()
            };
            let mine = self.counts.entry(group).or_default();
            for (bucket, n) in counts {
                let c = mine.entry(bucket).or_insert(0);
                if *c == 0 {
                    self.points += 1;
                }
                *c += n;
            }
        }
        while self.points > MAX_POINTS {
            let Some(&next) = BUCKETS_MS.iter().find(|&&b| b > self.bucket_ms) else {
                break;
            };
            self.rebucket(next);
        }
    }

    fn rebucket(&mut self, bucket_ms: i64) {
        self.bucket_ms = bucket_ms;
        self.points = 0;
        for counts in self.counts.values_mut() {
            let old = std::mem::take(counts);
            for (bucket, n) in old {
                *counts
                    .entry(bucket.div_euclid(bucket_ms) * bucket_ms)
                    .or_insert(0) += n;
            }
            self.points += counts.len();
        }
    }

    /// Events per log group, largest first (ties by name).
    pub fn totals(&self) -> Vec<(&str, u64)> {
        let mut t: Vec<(&str, u64)> = self
            .counts
            .iter()
            .map(|(g, c)| (g.as_str(), c.values().sum()))
            .filter(|(_, n)| *n > 0)
            .collect();
        t.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        t
    }

    /// Every event counted.
    #[cfg(test)]
    fn events(&self) -> u64 {
        self.counts.values().flat_map(|c| c.values()).sum()
    }
}

/// One rule's line in the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleLine {
    /// The rule's name.
    pub name: String,
    /// Events it matched.
    pub hits: u64,
    /// Whether it has an `alert`.
    pub alerting: bool,
    /// Alerts of its own sent for single events.
    pub alerts_sent: usize,
    /// Summaries and digests sent for it.
    pub summaries: usize,
}

/// Totals of the rules and their alerts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RulesReport {
    /// The rules, in configuration order.
    pub rules: Vec<RuleLine>,
    /// Metric datapoints written.
    pub metric_datapoints: u64,
    /// Messages published (alerts, summaries, digests).
    pub alerts_published: usize,
    /// Summaries and digests among them.
    pub alert_summaries: usize,
    /// Events held back by a rule's rate limit (counted in their window's summary).
    pub alerts_rate_limited: u64,
    /// Messages the topic refused (dead letters).
    pub alerts_failed: usize,
}

/// A dead letter as the report lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetterLine {
    /// Where the input came from (the first occurrence's).
    pub input: String,
    /// The records' positions in the input, counted from 1, for multi-record inputs: one per
    /// occurrence of the dead letter's bytes.
    pub records: Vec<usize>,
    /// How many times its bytes failed (inputs and records; each is in its error file).
    pub occurrences: usize,
    /// The failing stage.
    pub stage: String,
    /// The log group, when known.
    pub log_group: Option<String>,
    /// The error.
    pub error: String,
}

/// What one replay did: everything the page shows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunReport {
    /// Inputs read.
    pub inputs: usize,
    /// Their bytes.
    pub input_bytes: u64,
    /// Records (Lambda events hold one; Kinesis and Firehose events many).
    pub records: usize,
    /// Decompressed bytes.
    pub decompressed_bytes: u64,
    /// Data batches.
    pub batches: usize,
    /// Control messages skipped.
    pub control_messages: usize,
    /// Events decoded.
    pub events: usize,
    /// Events archived (`None`: archiving is off).
    pub archived_events: Option<usize>,
    /// Events the archive's filters left out.
    pub archive_filtered: usize,
    /// Events indexed (`None`: indexing is off).
    pub indexed_events: Option<usize>,
    /// Events the index's filters left out.
    pub index_filtered: usize,
    /// `[redact]`: values replaced per detector (index documents, alerts and metrics).
    pub redacted: std::collections::BTreeMap<String, u64>,
    /// Wall-clock time of the run, in seconds.
    pub elapsed_secs: f64,
    /// Events per log group over time.
    pub timeline: Timeline,
    /// The rules (`None`: the configuration has none).
    pub rules: Option<RulesReport>,
    /// Dead letters, the first [`MAX_DEAD_LETTERS_SHOWN`].
    pub dead_letters: Vec<DeadLetterLine>,
    /// Every dead letter.
    pub dead_lettered: usize,
    /// The log patterns (`None`: `[patterns]` is off).
    pub patterns: Option<crate::pattern_report::PatternsReport>,
}

impl RunReport {
    /// Keeps a dead letter for the list (past [`MAX_DEAD_LETTERS_SHOWN`], only counted).
    pub fn add_dead_letter(&mut self, d: &cwlogs_pipeline::DeadLetter) {
        self.dead_lettered += 1;
        if self.dead_letters.len() < MAX_DEAD_LETTERS_SHOWN {
            let occurrences = d.occurrences();
            self.dead_letters.push(DeadLetterLine {
                input: d.input.clone(),
                records: occurrences.iter().filter_map(|o| o.record).collect(),
                occurrences: occurrences.len(),
                stage: d.stage.to_string(),
                log_group: d.log_group.clone(),
                error: d.error.chars().take(MAX_ERROR_CHARS).collect(),
            });
        }
    }
}

/// `text` with `& < > " '` escaped, for HTML text and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() && c != '\n' && c != '\t' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// A label for a chart: control characters replaced, at most 60 characters (plotters escapes
/// the SVG text itself).
fn label(text: &str) -> String {
    let clean: String = text
        .chars()
        .map(|c| if c.is_control() { '\u{fffd}' } else { c })
        .collect();
    if clean.chars().count() > 60 {
        let mut s: String = clean.chars().take(59).collect();
        s.push('…');
        s
    } else {
        clean
    }
}

/// `HH:MM` when `span_ms` is within a day, else `MM-DD HH:MM` (UTC).
fn time_label(ms: i64, span_ms: i64) -> String {
    let t = UtcTime::from_millis(ms);
    if span_ms <= 86_400_000 {
        format!("{:02}:{:02}", t.hour, t.minute)
    } else {
        format!("{:02}-{:02} {:02}:{:02}", t.month, t.day, t.hour, t.minute)
    }
}

fn bucket_name(ms: i64) -> &'static str {
    match ms {
        60_000 => "minute",
        300_000 => "5 minutes",
        900_000 => "15 minutes",
        3_600_000 => "hour",
        21_600_000 => "6 hours",
        86_400_000 => "day",
        _ => "week",
    }
}

const WIDTH: u32 = 960;
const STYLE: &str = "
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0;color:#1f2328;background:#f6f8fa}
main{max-width:1000px;margin:0 auto;padding:24px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}
section{background:#fff;border:1px solid #d0d7de;border-radius:6px;padding:12px 16px;margin:12px 0}
.stats{display:grid;grid-template-columns:repeat(auto-fill,minmax(180px,1fr));gap:8px}
.stat{border:1px solid #d0d7de;border-radius:6px;padding:8px 10px;background:#fff}
.stat b{display:block;font-size:20px}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #eaeef2;vertical-align:top}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
td.err{font-family:ui-monospace,monospace;white-space:pre-wrap;word-break:break-word}
figure{margin:0}svg{max-width:100%;height:auto}
.muted{color:#656d76}
";

/// The page.
pub fn render(r: &RunReport) -> String {
    let mut h = String::with_capacity(64 * 1024);
    h.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    // Nothing may load: no scripts, no fonts, no images from anywhere.
    h.push_str("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n");
    h.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    h.push_str("<title>cwlogs replay report</title>\n<style>");
    h.push_str(STYLE);
    h.push_str("</style>\n</head>\n<body>\n<main>\n<h1>cwlogs replay</h1>\n");
    let _ = writeln!(
        h,
        "<p class=\"muted\">{} inputs, {} records, {} batches, <span id=\"events-total\">{}</span> events</p>",
        r.inputs, r.records, r.batches, r.events
    );
    stats(&mut h, r);
    events_section(&mut h, r);
    rules_section(&mut h, r);
    crate::pattern_report::html_section(&mut h, r.patterns.as_ref());
    dead_letters_section(&mut h, r);
    h.push_str("</main>\n</body>\n</html>\n");
    h
}

fn stat(h: &mut String, id: &str, value: impl std::fmt::Display, what: &str) {
    let _ = writeln!(
        h,
        "<div class=\"stat\"><b id=\"{id}\">{value}</b>{}</div>",
        escape(what)
    );
}

fn stats(h: &mut String, r: &RunReport) {
    let secs = r.elapsed_secs.max(1e-9);
    h.push_str("<section id=\"throughput\">\n<h2>Throughput</h2>\n<div class=\"stats\">\n");
    stat(h, "stat-events", r.events, "events");
    stat(
        h,
        "stat-events-per-second",
        format!("{:.0}", r.events as f64 / secs),
        "events per second",
    );
    stat(
        h,
        "stat-mb-per-second",
        format!("{:.1}", r.decompressed_bytes as f64 / 1e6 / secs),
        "MB/s of decompressed JSON",
    );
    stat(
        h,
        "stat-seconds",
        format!("{:.2}", r.elapsed_secs),
        "seconds",
    );
    stat(
        h,
        "stat-input-mb",
        format!("{:.1}", r.input_bytes as f64 / 1e6),
        "MB of input",
    );
    if let Some(n) = r.archived_events {
        stat(
            h,
            "stat-archived",
            n,
            &format!("events archived ({} filtered out)", r.archive_filtered),
        );
    }
    if let Some(n) = r.indexed_events {
        stat(
            h,
            "stat-indexed",
            n,
            &format!("events indexed ({} filtered out)", r.index_filtered),
        );
    }
    stat(
        h,
        "stat-control",
        r.control_messages,
        "control messages skipped",
    );
    stat(h, "stat-dead-lettered", r.dead_lettered, "dead letters");
    if !r.redacted.is_empty() {
        let per: Vec<String> = r.redacted.iter().map(|(d, n)| format!("{d} {n}")).collect();
        stat(
            h,
            "stat-redacted",
            r.redacted.values().sum::<u64>(),
            &format!("values redacted ({})", per.join(", ")),
        );
    }
    h.push_str("</div>\n</section>\n");
}

fn events_section(h: &mut String, r: &RunReport) {
    h.push_str("<section id=\"events\">\n<h2>Events over time, per log group</h2>\n");
    let totals = r.timeline.totals();
    if totals.is_empty() {
        h.push_str("<p class=\"muted\">No events.</p>\n</section>\n");
        return;
    }
    let _ = writeln!(
        h,
        "<figure id=\"events-chart\">{}</figure>",
        events_chart(&r.timeline).unwrap_or_else(chart_error)
    );
    h.push_str(
        "<table id=\"log-groups\">\n<tr><th>log group</th><th class=\"n\">events</th></tr>\n",
    );
    for (group, n) in &totals {
        let _ = writeln!(
            h,
            "<tr data-log-group=\"{g}\"><td>{g}</td><td class=\"n\">{n}</td></tr>",
            g = escape(group)
        );
    }
    h.push_str("</table>\n</section>\n");
}

fn rules_section(h: &mut String, r: &RunReport) {
    h.push_str("<section id=\"rules\">\n<h2>Rule hits</h2>\n");
    let Some(rules) = &r.rules else {
        h.push_str("<p class=\"muted\">The configuration has no <code>[[rule]]</code> and no <code>packs</code>: no rule ran.</p>\n</section>\n");
        return;
    };
    let _ = writeln!(
        h,
        "<figure id=\"rule-hits-chart\">{}</figure>",
        rule_hits_chart(&rules.rules).unwrap_or_else(chart_error)
    );
    h.push_str("<table id=\"rule-hits\">\n<tr><th>rule</th><th class=\"n\">hits</th><th class=\"n\">alerts sent</th><th class=\"n\">summaries</th><th class=\"n\">not sent individually</th></tr>\n");
    for line in &rules.rules {
        let (sent, summaries, held) = if line.alerting {
            (
                line.alerts_sent.to_string(),
                line.summaries.to_string(),
                line.hits
                    .saturating_sub(line.alerts_sent as u64)
                    .to_string(),
            )
        } else {
            ("-".into(), "-".into(), "-".into())
        };
        let _ = writeln!(
            h,
            "<tr data-rule=\"{n}\"><td>{n}</td><td class=\"n hits\">{}</td><td class=\"n\">{sent}</td><td class=\"n\">{summaries}</td><td class=\"n\">{held}</td></tr>",
            line.hits,
            n = escape(&line.name)
        );
    }
    h.push_str("</table>\n");
    let _ = writeln!(
        h,
        "<p>{}.</p>",
        count(
            rules.metric_datapoints,
            "metric datapoint",
            "metric datapoints"
        )
    );
    h.push_str("<h2>Alerts</h2>\n<div class=\"stats\">\n");
    stat(
        h,
        "alerts-published",
        rules.alerts_published,
        "messages published",
    );
    stat(
        h,
        "alerts-individual",
        rules.alerts_published.saturating_sub(rules.alert_summaries),
        "alerts for single events",
    );
    stat(
        h,
        "alerts-summaries",
        rules.alert_summaries,
        "summaries and digests",
    );
    stat(
        h,
        "alerts-rate-limited",
        rules.alerts_rate_limited,
        "events held back by rate limits",
    );
    stat(h, "alerts-failed", rules.alerts_failed, "messages refused");
    h.push_str("</div>\n");
    if rules.rules.iter().any(|l| l.alerting && l.hits > 0) {
        let _ = writeln!(
            h,
            "<figure id=\"alerts-chart\">{}</figure>",
            alerts_chart(&rules.rules).unwrap_or_else(chart_error)
        );
    }
    h.push_str("</section>\n");
}

fn dead_letters_section(h: &mut String, r: &RunReport) {
    h.push_str("<section id=\"dead-letters\">\n<h2>Dead letters</h2>\n");
    if r.dead_lettered == 0 {
        h.push_str("<p class=\"muted\">None: every input was decoded.</p>\n</section>\n");
        return;
    }
    let _ = writeln!(
        h,
        "<p><span id=\"dead-letter-count\">{}</span> {}, in <code>dead-letter/</code> with their errors{}.</p>",
        r.dead_lettered,
        if r.dead_lettered == 1 {
            "dead letter"
        } else {
            "dead letters"
        },
        if r.dead_lettered > r.dead_letters.len() {
            format!(" (the first {} listed)", r.dead_letters.len())
        } else {
            String::new()
        }
    );
    h.push_str("<table id=\"dead-letter-list\">\n<tr><th>input</th><th>record (from 1)</th><th>stage</th><th>log group</th><th>error</th></tr>\n");
    for d in &r.dead_letters {
        let records: Vec<String> = d.records.iter().map(ToString::to_string).collect();
        let more = match d.occurrences {
            0 | 1 => String::new(),
            n => format!(" <span class=\"muted\">({n} occurrences, in the error file)</span>"),
        };
        let _ = writeln!(
            h,
            "<tr><td>{}{more}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"err\">{}</td></tr>",
            escape(&d.input),
            records.join(", "),
            escape(&d.stage),
            escape(d.log_group.as_deref().unwrap_or("")),
            escape(&d.error)
        );
    }
    h.push_str("</table>\n</section>\n");
}

fn chart_error(e: String) -> String {
    format!("<p class=\"muted\">chart not drawn: {}</p>", escape(&e))
}

type ChartResult = Result<String, String>;

fn err<E: std::fmt::Debug>(e: E) -> String {
    format!("{e:?}")
}

/// `n` and the noun, singular for 1: `1 hit`, `17 hits`.
fn count(n: impl Into<u64>, one: &str, many: &str) -> String {
    let n = n.into();
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The charts' colours, in order: dark enough to read on white (a contrast ratio of at least
/// 3:1, WCAG's for graphics; no yellow), told apart by hue.
const PALETTE: [RGBColor; 9] = [
    RGBColor(0x1f, 0x77, 0xb4), // blue
    RGBColor(0xd5, 0x5e, 0x00), // vermillion
    RGBColor(0x00, 0x7d, 0x5f), // green
    RGBColor(0x9c, 0x27, 0x8f), // purple
    RGBColor(0x8c, 0x56, 0x4b), // brown
    RGBColor(0x80, 0x6a, 0x00), // dark gold
    RGBColor(0xc0, 0x2d, 0x4f), // crimson
    RGBColor(0x5b, 0x5b, 0x5b), // grey
    RGBColor(0x4b, 0x3f, 0x9c), // indigo
];

/// The colour of series `i`.
fn color(i: usize) -> RGBAColor {
    PALETTE[i % PALETTE.len()].to_rgba()
}

/// Matches only counted in window summaries, beside the sent ones: a mid grey (3:1 on white).
const HELD: RGBColor = RGBColor(0x8a, 0x8a, 0x8a);

/// The time axis' description: UTC and the date (or dates) the chart covers, since the tick
/// labels of a chart within a day show the time only.
fn time_axis(start_ms: i64, end_ms: i64) -> String {
    let (first, last) = (
        UtcTime::from_millis(start_ms).date(),
        UtcTime::from_millis(end_ms - 1).date(),
    );
    if first == last {
        format!("time (UTC) on {first}")
    } else {
        format!("time (UTC) from {first} to {last}")
    }
}

/// Events per bucket as stacked bars, one colour per log group (the largest [`CHART_GROUPS`],
/// the rest together), with a legend giving each group's total. A bucket without events has no
/// bar: sparse data reads as separate bars, not as lines dropping to 0 between samples.
fn events_chart(t: &Timeline) -> ChartResult {
    let totals = t.totals();
    let first = t.counts.values().filter_map(|c| c.keys().next()).min();
    let last = t.counts.values().filter_map(|c| c.keys().next_back()).max();
    let (Some(&first), Some(&last)) = (first, last) else {
        return Err("no events".into());
    };
    let bucket = BUCKETS_MS
        .iter()
        .copied()
        .find(|&b| b >= t.bucket_ms && (last - first) / b < CHART_BUCKETS)
        .unwrap_or(BUCKETS_MS[BUCKETS_MS.len() - 1]);
    let start = first.div_euclid(bucket) * bucket;
    let end = last.div_euclid(bucket) * bucket;
    let n = ((end - start) / bucket + 1) as usize;
    // Lines: the largest groups, then the rest as one.
    let mut lines: Vec<(String, u64, Vec<u64>)> = Vec::new();
    let mut rest = vec![0u64; n];
    let mut rest_total = 0;
    let mut rest_groups = 0;
    for (i, (group, total)) in totals.iter().enumerate() {
        let mut v = vec![0u64; n];
        for (&b, &c) in &t.counts[*group] {
            v[((b.div_euclid(bucket) * bucket - start) / bucket) as usize] += c;
        }
        if i < CHART_GROUPS {
            lines.push((label(group), *total, v));
        } else {
            rest_groups += 1;
            rest_total += total;
            for (r, c) in rest.iter_mut().zip(v) {
                *r += c;
            }
        }
    }
    if rest_groups > 0 {
        let name = count(rest_groups as u64, "more log group", "more log groups");
        lines.push((name, rest_total, rest));
    }
    // The tallest stack.
    let ymax = (0..n)
        .map(|k| lines.iter().map(|(_, _, v)| v[k]).sum::<u64>())
        .max()
        .unwrap_or(1)
        .max(1);
    let legend_rows = lines.len().div_ceil(2) as u32;
    let height = 340 + 22 * legend_rows;
    let span = end + bucket - start;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let (top, bottom) = root.split_vertically(340);
        let mut chart = ChartBuilder::on(&top)
            .margin(12)
            .x_label_area_size(32)
            .y_label_area_size(64)
            .build_cartesian_2d(0..n as i64, 0u64..ymax + ymax / 10 + 1)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_labels((n + 1).min(8))
            .y_labels(6)
            .x_label_formatter(&|i| time_label(start + i * bucket, span))
            .x_desc(time_axis(start, end + bucket))
            .y_desc(format!("events per {}", bucket_name(bucket)))
            .label_style(("sans-serif", 13))
            .axis_desc_style(("sans-serif", 13))
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .map_err(err)?;
        // One bar per bucket with events, the groups stacked in legend order; a pixel apart
        // when there is room.
        let gap = u32::from(n <= 200);
        let mut base = vec![0u64; n];
        for (i, (_, _, v)) in lines.iter().enumerate() {
            let color = color(i);
            let bars = v
                .iter()
                .enumerate()
                .filter(|(_, c)| **c > 0)
                .map(|(k, &c)| {
                    let y0 = base[k];
                    base[k] += c;
                    let mut bar =
                        Rectangle::new([(k as i64, y0), (k as i64 + 1, y0 + c)], color.filled());
                    bar.set_margin(0, 0, gap, gap);
                    bar
                });
            chart.draw_series(bars).map_err(err)?;
        }
        // The legend, below the chart: a swatch and "group (N events)" per group.
        let font = ("sans-serif", 14).into_font();
        for (i, (name, total, _)) in lines.iter().enumerate() {
            let color = color(i);
            let x = 76 + (i as i32 % 2) * 440;
            let y = 6 + (i as i32 / 2) * 22;
            bottom
                .draw(&Rectangle::new(
                    [(x, y + 3), (x + 22, y + 9)],
                    color.filled(),
                ))
                .map_err(err)?;
            bottom
                .draw(&Text::new(
                    format!("{name} ({})", count(*total, "event", "events")),
                    (x + 30, y),
                    font.clone(),
                ))
                .map_err(err)?;
        }
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// The chart of one horizontal bar row per name (the first at the top), `0..xmax` across.
type RowChart<'a, 'b> = ChartContext<
    'a,
    SVGBackend<'b>,
    Cartesian2d<
        plotters::coord::types::RangedCoordu64,
        plotters::coord::ranged1d::SegmentedCoord<plotters::coord::types::RangedCoordi32>,
    >,
>;

/// The width of the label area for `names`.
fn label_width(names: &[String]) -> u32 {
    names.iter().map(|s| s.chars().count()).max().unwrap_or(4) as u32 * 8 + 16
}

/// Draws the axes of a [`RowChart`] on `area`: the names down the left, `x_desc` across.
fn row_chart<'a, 'b>(
    area: &'a DrawingArea<SVGBackend<'b>, plotters::coord::Shift>,
    names: &[String],
    xmax: u64,
    x_desc: &str,
) -> Result<RowChart<'a, 'b>, String> {
    let n = names.len() as i32;
    let mut chart = ChartBuilder::on(area)
        .margin(12)
        .x_label_area_size(28)
        .y_label_area_size(label_width(names).min(WIDTH / 2))
        .build_cartesian_2d(0u64..xmax, (0..n).into_segmented())
        .map_err(err)?;
    let shown = |v: &SegmentValue<i32>| match v {
        SegmentValue::CenterOf(i) | SegmentValue::Exact(i) => {
            // Row 0 is drawn at the top.
            names.get((n - 1 - i) as usize).cloned().unwrap_or_default()
        }
        SegmentValue::Last => String::new(),
    };
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(names.len().max(1))
        .y_label_formatter(&shown)
        .x_desc(x_desc)
        .label_style(("sans-serif", 13))
        .axis_desc_style(("sans-serif", 13))
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(err)?;
    Ok(chart)
}

/// Draws bar row `i` (counted from the top) of `rows` rows: `bars` as `(from, to, color)`,
/// then `text` right of `end`.
fn draw_row(
    chart: &mut RowChart<'_, '_>,
    rows: usize,
    i: usize,
    bars: &[(u64, u64, RGBAColor)],
    end: u64,
    text: String,
) -> Result<(), String> {
    let row = rows as i32 - 1 - i as i32;
    let font = ("sans-serif", 13).into_font();
    let rects = bars.iter().map(|&(from, to, color)| {
        let mut bar = Rectangle::new(
            [
                (from, SegmentValue::Exact(row)),
                (to, SegmentValue::Exact(row + 1)),
            ],
            color.filled(),
        );
        bar.set_margin(4, 4, 0, 0);
        bar
    });
    chart.draw_series(rects).map_err(err)?;
    chart
        .draw_series(std::iter::once(
            EmptyElement::at((end, SegmentValue::CenterOf(row)))
                + Text::new(
                    text,
                    (5, 0),
                    TextStyle::from(font).pos(Pos::new(HPos::Left, VPos::Center)),
                ),
        ))
        .map_err(err)?;
    Ok(())
}

/// Horizontal bars, one per rule, each labelled `N hits` (in rule order, top to bottom).
fn rule_hits_chart(rules: &[RuleLine]) -> ChartResult {
    let xmax = rules.iter().map(|r| r.hits).max().unwrap_or(0);
    let xmax = xmax + xmax / 4 + 2;
    let names: Vec<String> = rules.iter().map(|r| label(&r.name)).collect();
    let height = 60 + 26 * rules.len().max(1) as u32;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let mut chart = row_chart(&root, &names, xmax, "events matched")?;
        let color = color(0);
        for (i, r) in rules.iter().enumerate() {
            let text = count(r.hits, "hit", "hits");
            draw_row(
                &mut chart,
                rules.len(),
                i,
                &[(0, r.hits, color)],
                r.hits,
                text,
            )?;
        }
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// Stacked bars per alerting rule with hits: alerts sent for single events, then the matches
/// only counted in window summaries (past `max_per_window`, or held back by the rate limit).
fn alerts_chart(rules: &[RuleLine]) -> ChartResult {
    let rules: Vec<&RuleLine> = rules.iter().filter(|r| r.alerting && r.hits > 0).collect();
    let xmax = rules.iter().map(|r| r.hits).max().unwrap_or(0);
    let xmax = xmax + xmax / 2 + 2;
    let names: Vec<String> = rules.iter().map(|r| label(&r.name)).collect();
    let height = 90 + 26 * rules.len().max(1) as u32;
    let sent_color = color(2);
    let held_color = HELD.to_rgba();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let (top, legend) = root.split_vertically(height - 28);
        let mut chart = row_chart(&top, &names, xmax, "matches of alerting rules")?;
        for (i, r) in rules.iter().enumerate() {
            let sent = (r.alerts_sent as u64).min(r.hits);
            let bars = [(0, sent, sent_color), (sent, r.hits, held_color)];
            let text = format!(
                "{sent} sent, {} not sent individually, {}",
                r.hits - sent,
                count(r.summaries as u64, "summary", "summaries")
            );
            draw_row(&mut chart, rules.len(), i, &bars, r.hits, text)?;
        }
        let font = ("sans-serif", 13).into_font();
        let x = label_width(&names) as i32 + 12;
        for (k, (color, what)) in [
            (sent_color, "sent as alerts of their own"),
            (
                held_color,
                "only in window summaries (max_per_window, rate limit)",
            ),
        ]
        .into_iter()
        .enumerate()
        {
            let x = x + k as i32 * 300;
            legend
                .draw(&Rectangle::new([(x, 9), (x + 22, 19)], color.filled()))
                .map_err(err)?;
            legend
                .draw(&Text::new(what, (x + 30, 7), font.clone()))
                .map_err(err)?;
        }
        root.present().map_err(err)?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: i64 = 1_764_028_800_000; // 2025-11-25T00:00:00Z

    fn sample() -> RunReport {
        let mut timeline = Timeline::default();
        timeline.add_batch("/aws/lambda/app", [T, T + 1_000, T + 61_000]);
        timeline.add_batch("/aws/lambda/<img src=x>", [T + 120_000]);
        let mut r = RunReport {
            inputs: 3,
            records: 3,
            batches: 2,
            events: 4,
            archived_events: Some(4),
            indexed_events: None,
            elapsed_secs: 0.5,
            timeline,
            rules: Some(RulesReport {
                rules: vec![
                    RuleLine {
                        name: "access-denied".into(),
                        hits: 17,
                        alerting: true,
                        alerts_sent: 2,
                        summaries: 1,
                    },
                    RuleLine {
                        name: "bytes".into(),
                        hits: 3,
                        alerting: false,
                        alerts_sent: 0,
                        summaries: 0,
                    },
                ],
                metric_datapoints: 5,
                alerts_published: 3,
                alert_summaries: 1,
                alerts_rate_limited: 0,
                alerts_failed: 0,
            }),
            ..RunReport::default()
        };
        r.add_dead_letter(&cwlogs_pipeline::DeadLetter {
            name: "x".into(),
            raw: None,
            input: "samples/<script>alert(1)</script>.json".into(),
            shape: None,
            record: Some(2),
            record_id: None,
            stage: "gzip",
            error: "gzip: invalid header & \"more\"".into(),
            log_group: Some("/x'y".into()),
            occurrences: Vec::new(),
        });
        r
    }

    #[test]
    fn page_is_self_contained_and_escapes_input() {
        let html = render(&sample());
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(!html.contains("<script"), "no scripts, and input escaped");
        assert!(!html.contains("<img"), "input escaped, also inside the SVG");
        assert!(html.contains("samples/&lt;script&gt;alert(1)&lt;/script&gt;.json"));
        assert!(html.contains("gzip: invalid header &amp; &quot;more&quot;"));
        assert!(html.contains("/x&#39;y"));
        assert!(html.contains("/aws/lambda/&lt;img src=x&gt; (1 event)"));
        for forbidden in [
            "http://", "https://", "src=\"", "href=\"", "@import", "url(",
        ] {
            let outside_svg_namespace = html.replace("http://www.w3.org/2000/svg", "");
            assert!(
                !outside_svg_namespace.contains(forbidden),
                "{forbidden} in the page"
            );
        }
        assert!(html.contains("default-src 'none'"));
    }

    #[test]
    fn charts_carry_the_counts() {
        let html = render(&sample());
        assert_eq!(html.matches("<svg").count(), 3, "events, hits, alerts");
        assert!(html.contains("/aws/lambda/app (3 events)"));
        assert!(html.contains(">\n17 hits\n</text>"));
        assert!(html.contains(">\n3 hits\n</text>"));
        assert!(html.contains("2 sent, 15 not sent individually, 1 summary"));
        assert!(html.contains("<span id=\"events-total\">4</span>"));
        assert!(html.contains("<tr data-rule=\"access-denied\"><td>access-denied</td><td class=\"n hits\">17</td><td class=\"n\">2</td><td class=\"n\">1</td><td class=\"n\">15</td></tr>"));
        assert!(
            html.contains("<td class=\"n\">-</td>"),
            "no alert columns for metric-only rules"
        );
    }

    #[test]
    fn no_rules_no_events_no_dead_letters() {
        let html = render(&RunReport::default());
        assert!(html.contains("no rule ran"));
        assert!(html.contains("No events."));
        assert!(html.contains("None: every input was decoded."));
        assert!(!html.contains("<svg"));
    }

    #[test]
    fn timeline_counts_per_minute_and_coarsens() {
        let mut t = Timeline::default();
        t.add_batch("a", [T, T + 59_999, T + 60_000]);
        let mut u = Timeline::default();
        u.add_batch("a", [T + 60_001]);
        u.add_batch("b", [T]);
        t.merge(u);
        assert_eq!(t.counts["a"], BTreeMap::from([(T, 2), (T + 60_000, 2)]));
        assert_eq!(t.totals(), vec![("a", 4), ("b", 1)]);
        assert_eq!(t.events(), 5);
        // A year of minutes coarsens until it fits.
        let mut long = Timeline::default();
        long.add_batch("a", (0..525_600).map(|m| T + m * 60_000));
        assert!(long.points <= MAX_POINTS, "{}", long.points);
        assert_eq!(long.bucket_ms, 900_000);
        assert_eq!(long.events(), 525_600);
        let mut merged = Timeline::default();
        merged.add_batch("b", [T]);
        merged.merge(long);
        assert_eq!(merged.bucket_ms, 900_000);
        assert_eq!(merged.events(), 525_601);
    }

    #[test]
    fn timeline_caps_log_groups() {
        let mut t = Timeline::default();
        for g in 0..MAX_GROUPS + 10 {
            t.add_batch(&format!("/g/{g}"), [T]);
        }
        assert_eq!(t.counts.len(), MAX_GROUPS + 1);
        assert_eq!(t.counts[OTHER][&T], 10);
        let html = render(&RunReport {
            timeline: t,
            ..RunReport::default()
        });
        assert!(html.contains("more log groups ("));
    }

    #[test]
    fn dead_letters_are_capped_and_counted() {
        let mut r = RunReport::default();
        let d = cwlogs_pipeline::DeadLetter::unread(
            "n".into(),
            "in".into(),
            "e".repeat(MAX_ERROR_CHARS + 5),
        );
        for _ in 0..MAX_DEAD_LETTERS_SHOWN + 3 {
            r.add_dead_letter(&d);
        }
        assert_eq!(r.dead_lettered, MAX_DEAD_LETTERS_SHOWN + 3);
        assert_eq!(r.dead_letters.len(), MAX_DEAD_LETTERS_SHOWN);
        assert_eq!(r.dead_letters[0].error.len(), MAX_ERROR_CHARS);
        let html = render(&r);
        assert!(html.contains(&format!("(the first {MAX_DEAD_LETTERS_SHOWN} listed)")));
    }

    /// Issue 24: the time axis names the date, sparse per-minute data are bars (no line drops
    /// to 0 between samples), every colour reads on white, counts of 1 are singular.
    #[test]
    fn charts_read_well() {
        // Two events an hour apart, and one a minute later: sparse minutes.
        let mut t = Timeline::default();
        t.add_batch("/a", [T + 5 * 60_000, T + 65 * 60_000, T + 66 * 60_000]);
        let svg = events_chart(&t).expect("chart");
        assert!(
            svg.contains("time (UTC) on 2025-11-25"),
            "the date is on the axis"
        );
        // Axes only: no polyline in a series colour.
        for line in svg.split("<polyline").skip(1) {
            let tag = &line[..line.find('>').unwrap_or(line.len())];
            assert!(tag.contains("stroke=\"#000000\""), "a line series: {tag}");
        }
        // One bar per minute with events, from the chart's baseline.
        let bars: Vec<&str> = svg
            .split("<rect")
            .skip(1)
            .filter(|r| r.contains(&format!("fill=\"#{:02X}{:02X}{:02X}\"", 0x1f, 0x77, 0xb4)))
            .collect();
        assert_eq!(
            bars.len(),
            3 + 1,
            "three bars and the legend's swatch: {svg}"
        );
        let mut days = Timeline::default();
        days.add_batch("/a", [T, T + 2 * 86_400_000]);
        let svg = events_chart(&days).expect("chart");
        assert!(
            svg.contains("time (UTC) from 2025-11-25 to 2025-11-27"),
            "{svg}"
        );

        // WCAG's contrast ratio against white, at least 3:1 for graphics.
        let luminance = |c: RGBColor| {
            let lin = |v: u8| {
                let v = f64::from(v) / 255.0;
                if v <= 0.03928 {
                    v / 12.92
                } else {
                    ((v + 0.055) / 1.055).powf(2.4)
                }
            };
            0.2126 * lin(c.0) + 0.7152 * lin(c.1) + 0.0722 * lin(c.2)
        };
        for c in PALETTE.iter().chain([&HELD]) {
            let ratio = 1.05 / (luminance(*c) + 0.05);
            assert!(ratio >= 3.0, "{c:?}: {ratio:.2}");
        }

        let mut one = sample();
        if let Some(rules) = &mut one.rules {
            rules.rules[1].hits = 1;
            rules.metric_datapoints = 1;
        }
        let html = render(&one);
        assert!(html.contains(">\n1 hit\n</text>"), "singular");
        assert!(!html.contains("1 hits"));
        assert!(html.contains("<p>1 metric datapoint.</p>"));
        assert!(html.contains("</span> dead letter, in"));
    }

    #[test]
    fn time_labels() {
        assert_eq!(time_label(T + 754 * 60_000, 3_600_000), "12:34");
        assert_eq!(time_label(T, 2 * 86_400_000), "11-25 00:00");
    }
}
