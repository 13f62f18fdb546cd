//! The log patterns of a replay (`[patterns] enabled = true`, issue 21): `patterns.ndjson` and
//! report.html's "Patterns" section (top patterns per log group, and the new ones: first seen
//! after the group's warm-up, `[patterns] warmup`).

use anyhow::Context as _;
use cwlogs_pipeline::patterns::{Miner, Template};
use cwlogs_pipeline::util::time::UtcTime;
use serde::Serialize;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

/// Patterns shown per log group in report.html, most frequent first.
pub const TOP: usize = 10;
/// New patterns shown per log group in report.html, latest first.
pub const NEW_SHOWN: usize = 10;

/// One line of `patterns.ndjson`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct PatternLine {
    /// The pattern id (what documents carry in `cwlogs.pattern.id`).
    pub id: String,
    /// The template, `<*>` for each variable part.
    pub template: String,
    /// The log group.
    pub log_group: String,
    /// Messages it took.
    pub count: u64,
    /// Its earliest event time (RFC 3339).
    pub first_seen: String,
    /// Its latest event time (RFC 3339).
    pub last_seen: String,
    /// First seen after its log group's warm-up.
    pub new: bool,
    /// The ids of templates merged into it: documents tagged before the merge carry them.
    pub merged_ids: Vec<String>,
    /// The first message it took (cut).
    pub example: String,
}

/// One log group's patterns, for report.html.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupPatterns {
    /// The log group.
    pub log_group: String,
    /// Messages observed.
    pub messages: u64,
    /// Live templates.
    pub patterns: usize,
    /// Templates evicted by the caps.
    pub evicted: u64,
    /// The most frequent, at most [`TOP`].
    pub top: Vec<PatternLine>,
    /// The new ones (first seen after the warm-up), latest first, at most [`NEW_SHOWN`].
    pub new: Vec<PatternLine>,
    /// How many new ones there are in all.
    pub new_total: usize,
}

/// What report.html shows of the patterns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PatternsReport {
    /// The warm-up, milliseconds.
    pub warmup_ms: i64,
    /// Per log group, by name.
    pub groups: Vec<GroupPatterns>,
}

fn line(group: &str, t: &Template, new: bool) -> PatternLine {
    PatternLine {
        id: t.id().to_string(),
        template: t.text().to_string(),
        log_group: group.to_string(),
        count: t.count(),
        first_seen: UtcTime::from_millis(t.first_seen()).rfc3339(),
        last_seen: UtcTime::from_millis(t.last_seen()).rfc3339(),
        new,
        merged_ids: t.merged_ids().map(str::to_string).collect(),
        example: t.example().to_string(),
    }
}

/// Every template of `miner`: by log group, then most frequent first (then by id).
pub fn lines(miner: &Miner, warmup_ms: i64) -> Vec<PatternLine> {
    let mut groups: Vec<_> = miner.groups().collect();
    groups.sort_by(|a, b| a.0.cmp(b.0));
    let mut out = Vec::new();
    for (name, g) in groups {
        let new: std::collections::HashSet<&str> =
            g.new_templates(warmup_ms).map(Template::id).collect();
        let mut ts: Vec<&Template> = g.templates().collect();
        ts.sort_by(|a, b| b.count().cmp(&a.count()).then(a.id().cmp(b.id())));
        out.extend(ts.into_iter().map(|t| line(name, t, new.contains(t.id()))));
    }
    out
}

/// Writes `patterns.ndjson` (one [`PatternLine`] per template); returns how many.
pub fn write_ndjson(path: &Path, miner: &Miner, warmup_ms: i64) -> anyhow::Result<usize> {
    let lines = lines(miner, warmup_ms);
    let mut body = Vec::new();
    for l in &lines {
        serde_json::to_writer(&mut body, l)?;
        body.push(b'\n');
    }
    std::fs::File::create(path)
        .and_then(|mut f| f.write_all(&body))
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(lines.len())
}

impl PatternsReport {
    /// The top and new patterns of every log group of `miner`.
    pub fn new(miner: &Miner, warmup_ms: i64) -> PatternsReport {
        let mut groups: Vec<GroupPatterns> = miner
            .groups()
            .map(|(name, g)| {
                let mut ts: Vec<&Template> = g.templates().collect();
                ts.sort_by(|a, b| b.count().cmp(&a.count()).then(a.id().cmp(b.id())));
                let mut new: Vec<&Template> = g.new_templates(warmup_ms).collect();
                new.sort_by(|a, b| b.first_seen().cmp(&a.first_seen()).then(a.id().cmp(b.id())));
                GroupPatterns {
                    log_group: name.to_string(),
                    messages: g.stats().messages,
                    patterns: g.len(),
                    evicted: g.stats().evicted,
                    top: ts.iter().take(TOP).map(|t| line(name, t, false)).collect(),
                    new_total: new.len(),
                    new: new
                        .iter()
                        .take(NEW_SHOWN)
                        .map(|t| line(name, t, true))
                        .collect(),
                }
            })
            .collect();
        groups.sort_by(|a, b| a.log_group.cmp(&b.log_group));
        PatternsReport { warmup_ms, groups }
    }
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

fn table(h: &mut String, id: &str, lines: &[PatternLine], messages: u64) {
    let _ = writeln!(
        h,
        "<table id=\"{}\">\n<tr><th>pattern</th><th class=\"n\">count</th><th class=\"n\">share</th><th>first seen</th><th>last seen</th><th>template</th></tr>",
        escape(id)
    );
    for l in lines {
        let _ = writeln!(
            h,
            "<tr><td><code>{}</code></td><td class=\"n\">{}</td><td class=\"n\">{:.2}%</td><td>{}</td><td>{}</td><td><code>{}</code><br><span class=\"muted\">e.g. {}</span></td></tr>",
            escape(&l.id),
            l.count,
            l.count as f64 * 100.0 / messages.max(1) as f64,
            escape(&l.first_seen),
            escape(&l.last_seen),
            escape(&l.template),
            escape(&l.example),
        );
    }
    h.push_str("</table>\n");
}

/// report.html's "Patterns" section: nothing when patterns are off (`None`).
pub fn html_section(h: &mut String, report: Option<&PatternsReport>) {
    let Some(r) = report else {
        return;
    };
    h.push_str("<section id=\"patterns\">\n<h2>Patterns</h2>\n");
    if r.groups.is_empty() {
        h.push_str("<p class=\"muted\">No message was indexed: no pattern.</p>\n</section>\n");
        return;
    }
    let _ = writeln!(
        h,
        "<p class=\"muted\">Per log group, the {TOP} most frequent patterns, and the new ones: first seen more than {} s after the log group's first message (<code>[patterns] warmup</code>). Every pattern is in <code>patterns.ndjson</code>.</p>",
        r.warmup_ms / 1000
    );
    for (i, g) in r.groups.iter().enumerate() {
        let evicted = if g.evicted > 0 {
            format!(", {} evicted", g.evicted)
        } else {
            String::new()
        };
        let _ = writeln!(
            h,
            "<h3>{}</h3>\n<p class=\"muted\">{} messages, {} patterns{evicted}, {} new</p>",
            escape(&g.log_group),
            g.messages,
            g.patterns,
            g.new_total
        );
        table(h, &format!("patterns-top-{i}"), &g.top, g.messages);
        if !g.new.is_empty() {
            let _ = writeln!(
                h,
                "<h4>New patterns{}</h4>",
                if g.new_total > g.new.len() {
                    format!(" (the latest {} of {})", g.new.len(), g.new_total)
                } else {
                    String::new()
                }
            );
            table(h, &format!("patterns-new-{i}"), &g.new, g.messages);
        }
    }
    h.push_str("</section>\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use cwlogs_pipeline::patterns::Limits;

    #[test]
    fn lines_and_section() {
        let mut m = Miner::new(Limits::default());
        for i in 0..5 {
            m.observe("/b", &format!("user {i} logged in"), i * 1000);
        }
        m.observe("/b", "disk <full> & failing", 3_600_000);
        m.observe("/a", "started", 0);
        let all = lines(&m, 600_000);
        let shown: Vec<(&str, u64, bool)> = all
            .iter()
            .map(|l| (l.log_group.as_str(), l.count, l.new))
            .collect();
        assert_eq!(shown, [("/a", 1, false), ("/b", 5, false), ("/b", 1, true)]);
        assert_eq!(all[1].template, "user <*> logged in");
        assert_eq!(all[2].first_seen, "1970-01-01T01:00:00.000Z");
        let r = PatternsReport::new(&m, 600_000);
        assert_eq!(r.groups[1].new_total, 1);
        let mut h = String::new();
        html_section(&mut h, Some(&r));
        assert!(h.contains("disk &lt;full&gt; &amp; failing"), "{h}");
        assert!(h.contains("<h4>New patterns</h4>"), "{h}");
        let mut none = String::new();
        html_section(&mut none, None);
        assert!(none.is_empty());
    }
}
