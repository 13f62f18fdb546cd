//! Index names: the pattern a document's index is named by (`cwl-{log_group}-{yyyy.MM.dd}`),
//! rendered per event and made valid for OpenSearch and Elasticsearch.

use crate::error::Invalid;
use crate::util::time::UtcTime;
use cwlogs_decode::LogBatch;
use sha2::{Digest, Sha256};

/// The longest index name OpenSearch and Elasticsearch accept, in bytes.
pub const MAX_INDEX_NAME: usize = 255;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    LogGroup,
    Account,
    Region,
    Date(Vec<DatePart>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DatePart {
    Year,
    Month,
    Day,
    Hour,
    Sep(char),
}

/// An index name pattern such as `cwl-{log_group}-{yyyy.MM.dd}`.
///
/// Placeholders: `{log_group}`, `{account}`, `{region}`, and a date of the event time (UTC)
/// built from `yyyy`, `MM`, `dd`, `HH` and the separators `.`, `-`, `_`. The rendered name is
/// made valid for OpenSearch and Elasticsearch: lowercase, characters other than
/// `a-z 0-9 . _ - +` replaced by `-`, no leading `-`, `_`, `+` or `.`, at most 255 bytes
/// (longer names keep a prefix and a hash of the whole).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexNamePattern {
    parts: Vec<Part>,
    hourly: bool,
}

impl Default for IndexNamePattern {
    fn default() -> Self {
        IndexNamePattern::parse("cwl-{log_group}-{yyyy.MM.dd}")
            .expect("the default template is valid")
    }
}

impl IndexNamePattern {
    /// Parses a template; the error says which placeholder is wrong.
    pub fn parse(text: &str) -> Result<IndexNamePattern, Invalid> {
        let mut parts = Vec::new();
        let mut rest = text;
        while !rest.is_empty() {
            match rest.find('{') {
                Some(0) => {
                    let end = rest.find('}').ok_or_else(|| {
                        Invalid(format!("unclosed `{{` in index template `{text}`"))
                    })?;
                    let name = &rest[1..end];
                    parts.push(match name {
                        "log_group" => Part::LogGroup,
                        "account" | "owner" => Part::Account,
                        "region" => Part::Region,
                        _ => Part::Date(parse_date(name).ok_or_else(|| {
                            Invalid(format!(
                                "unknown placeholder `{{{name}}}` in index template: use {{log_group}}, {{account}}, {{region}} or a date such as {{yyyy.MM.dd}}"
                            ))
                        })?),
                    });
                    rest = &rest[end + 1..];
                }
                Some(n) => {
                    parts.push(Part::Literal(rest[..n].to_string()));
                    rest = &rest[n..];
                }
                None => {
                    if rest.contains('}') {
                        return Err(Invalid(format!(
                            "unmatched `}}` in index template `{text}`"
                        )));
                    }
                    parts.push(Part::Literal(rest.to_string()));
                    rest = "";
                }
            }
        }
        if parts.is_empty() {
            return Err(Invalid("the index template is empty".into()));
        }
        let hourly = parts
            .iter()
            .any(|p| matches!(p, Part::Date(d) if d.contains(&DatePart::Hour)));
        Ok(IndexNamePattern { parts, hourly })
    }

    /// The default quarantine index: `cwl-quarantine-{yyyy.MM.dd}`.
    pub fn quarantine() -> IndexNamePattern {
        IndexNamePattern::parse("cwl-quarantine-{yyyy.MM.dd}")
            .expect("the quarantine template is valid")
    }

    /// The text before the first placeholder, sanitised as index names are (`cwl-` for the
    /// default template): what every rendered name starts with.
    pub fn literal_prefix(&self) -> String {
        match self.parts.first() {
            Some(Part::Literal(s)) => {
                let name = sanitize_index_name(s);
                if name == "cwl" && !s.to_ascii_lowercase().starts_with("cwl") {
                    String::new()
                } else {
                    name
                }
            }
            _ => String::new(),
        }
    }

    /// Whether the template contains a date placeholder.
    pub fn has_date(&self) -> bool {
        self.parts.iter().any(|p| matches!(p, Part::Date(_)))
    }

    /// The span of time one rendered name covers, in milliseconds (a day, or an hour when the
    /// template uses `HH`): events in the same span of the same batch share a name.
    pub(crate) fn granularity(&self) -> i64 {
        if self.hourly { 3_600_000 } else { 86_400_000 }
    }

    /// Renders the index name for an event of `batch` at `timestamp`.
    pub fn render(&self, batch: &LogBatch<'_>, region: &str, timestamp: i64) -> String {
        self.render_for(&batch.owner, &batch.log_group, region, timestamp)
    }

    /// Renders the index name for an event of `log_group` in account `owner` at `timestamp`.
    pub fn render_for(&self, owner: &str, log_group: &str, region: &str, timestamp: i64) -> String {
        let t = UtcTime::from_millis(timestamp);
        let mut name = String::with_capacity(64);
        for part in &self.parts {
            match part {
                Part::Literal(s) => name.push_str(s),
                Part::LogGroup => name.push_str(log_group.trim_matches('/')),
                Part::Account => name.push_str(owner),
                Part::Region => name.push_str(region),
                Part::Date(d) => {
                    for p in d {
                        match p {
                            DatePart::Year => name.push_str(&format!("{:04}", t.year)),
                            DatePart::Month => name.push_str(&format!("{:02}", t.month)),
                            DatePart::Day => name.push_str(&format!("{:02}", t.day)),
                            DatePart::Hour => name.push_str(&format!("{:02}", t.hour)),
                            DatePart::Sep(c) => name.push(*c),
                        }
                    }
                }
            }
        }
        sanitize_index_name(&name)
    }
}

fn parse_date(spec: &str) -> Option<Vec<DatePart>> {
    let mut out = Vec::new();
    let mut rest = spec;
    while !rest.is_empty() {
        let (part, len) = if rest.starts_with("yyyy") {
            (DatePart::Year, 4)
        } else if rest.starts_with("MM") {
            (DatePart::Month, 2)
        } else if rest.starts_with("dd") {
            (DatePart::Day, 2)
        } else if rest.starts_with("HH") {
            (DatePart::Hour, 2)
        } else if let Some(c @ ('.' | '-' | '_')) = rest.chars().next() {
            (DatePart::Sep(c), 1)
        } else {
            return None;
        };
        out.push(part);
        rest = &rest[len..];
    }
    (!out.is_empty()).then_some(out)
}

/// Makes `name` a valid index name (see [`IndexNamePattern`]).
pub fn sanitize_index_name(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-' | '+') {
                c
            } else {
                '-'
            }
        })
        .collect();
    let trimmed = out.trim_start_matches(['-', '_', '+', '.']).len();
    out.drain(..out.len() - trimmed);
    if out.is_empty() {
        out.push_str("cwl");
    }
    if out.len() > MAX_INDEX_NAME {
        let hash: String = Sha256::digest(out.as_bytes())[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        out.truncate(MAX_INDEX_NAME - 17);
        out.push('-');
        out.push_str(&hash);
    }
    out
}
