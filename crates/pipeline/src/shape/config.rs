//! `[parse]` (with `[[parse.vpc_flow]]` and `[[parse.multiline]]`) and `[[enrich]]` (with its
//! `accounts`), as written, checked into a [`ShapeConfig`].

use super::enrich::{EnrichEntry, Enrichment, Template, check_path};
use super::multiline::Multiline;
use super::vpc_flow::FlowFormat;
use crate::error::{NOWHERE, Report};
use crate::route::Glob;
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use std::collections::BTreeMap;
use std::fmt;
use toml::Spanned;

/// The names `formats` takes.
pub const FORMAT_NAMES: [&str; 3] = ["vpc-flow", "lambda-platform", "cloudtrail"];

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawParse {
    formats: Option<Spanned<Vec<Spanned<String>>>>,
    #[serde(default)]
    vpc_flow: Vec<RawVpcFlow>,
    #[serde(default)]
    multiline: Vec<RawMultiline>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVpcFlow {
    #[serde(default)]
    log_groups: Vec<String>,
    format: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMultiline {
    #[serde(default)]
    log_groups: Vec<String>,
    start: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEnrich {
    #[serde(default)]
    log_groups: Vec<String>,
    #[serde(default)]
    fields: BTreeMap<String, Spanned<toml::Value>>,
    #[serde(default)]
    accounts: BTreeMap<String, Spanned<String>>,
}

/// `enrich` as TOML gives it: an array of `[[enrich]]` tables, or one table (a lone
/// `[enrich.accounts]` makes `enrich` a table).
pub(crate) struct RawEnrichList(Vec<RawEnrich>);

impl<'de> Deserialize<'de> for RawEnrichList {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawEnrichList;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("`[[enrich]]` tables")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawEnrichList, A::Error> {
                let mut v = Vec::new();
                while let Some(e) = seq.next_element::<RawEnrich>()? {
                    v.push(e);
                }
                Ok(RawEnrichList(v))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawEnrichList, A::Error> {
                RawEnrich::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(|e| RawEnrichList(vec![e]))
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// Which built-in parsers are on (`[parse] formats`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Formats {
    /// `vpc-flow`: VPC flow log records.
    pub vpc_flow: bool,
    /// `lambda-platform`: Lambda `START` / `END` / `REPORT` lines and `platform.*` events.
    pub lambda_platform: bool,
    /// `cloudtrail`: CloudTrail records.
    pub cloudtrail: bool,
}

impl Formats {
    /// Every parser (the default).
    pub const ALL: Formats = Formats {
        vpc_flow: true,
        lambda_platform: true,
        cloudtrail: true,
    };

    /// No parser (`formats = []`).
    pub const NONE: Formats = Formats {
        vpc_flow: false,
        lambda_platform: false,
        cloudtrail: false,
    };

    /// Whether any parser is on.
    pub fn any(self) -> bool {
        self.vpc_flow || self.lambda_platform || self.cloudtrail
    }
}

/// A custom flow log format and the log groups it is recognised in.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct CustomFlow {
    /// Log-group globs; empty means every group.
    pub log_groups: Vec<Glob>,
    /// The format.
    pub format: FlowFormat,
}

/// `[parse]` and `[[enrich]]`: how events are shaped before they are indexed.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ShapeConfig {
    /// The built-in parsers that are on.
    pub formats: Formats,
    /// `[[parse.vpc_flow]]`, in file order.
    pub vpc_flow: Vec<CustomFlow>,
    /// `[[parse.multiline]]`, in file order (the first that takes a log group applies).
    pub multiline: Vec<Multiline>,
    /// `[[enrich]]` and its account names.
    pub enrich: Enrichment,
    /// `[redact]` when it applies to the index (set by the configuration check): every
    /// document is redacted as a whole once built ([`crate::redact`]).
    pub redact: Option<std::sync::Arc<crate::redact::Redactor>>,
}

impl Default for ShapeConfig {
    /// Every parser on, nothing else: what a configuration without `[parse]` and
    /// `[[enrich]]` gets.
    fn default() -> Self {
        ShapeConfig {
            formats: Formats::ALL,
            vpc_flow: Vec::new(),
            multiline: Vec::new(),
            enrich: Enrichment::default(),
            redact: None,
        }
    }
}

impl ShapeConfig {
    /// Nothing at all: no parser, no merging, no enrichment (documents as before `[parse]`
    /// existed).
    pub fn off() -> ShapeConfig {
        ShapeConfig {
            formats: Formats::NONE,
            ..ShapeConfig::default()
        }
    }

    /// The `[[parse.multiline]]` entry for `log_group`, if one takes it.
    pub fn multiline_for(&self, log_group: &str) -> Option<&Multiline> {
        self.multiline.iter().find(|m| m.takes(log_group))
    }
}

/// One line of a regex error (the `regex` crate's messages span several).
fn regex_error(e: &regex::Error) -> String {
    let text = e.to_string();
    text.lines()
        .find_map(|l| l.strip_prefix("error: "))
        .map(str::to_string)
        .unwrap_or_else(|| text.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// Flattens `fields` (dotted keys, nested tables) into `(name, value, span)`.
fn flatten(
    prefix: &str,
    value: &toml::Value,
    span: std::ops::Range<usize>,
    out: &mut Vec<(String, Result<String, String>, std::ops::Range<usize>)>,
) {
    match value {
        toml::Value::String(s) => out.push((prefix.to_string(), Ok(s.clone()), span)),
        toml::Value::Table(t) => {
            if t.is_empty() {
                out.push((
                    prefix.to_string(),
                    Err(format!("`{prefix}` is an empty table; values are strings")),
                    span.clone(),
                ));
            }
            for (k, v) in t {
                flatten(&format!("{prefix}.{k}"), v, span.clone(), out);
            }
        }
        other => {
            let ty = other.type_str();
            let a = if ty.starts_with(['a', 'i']) {
                "an"
            } else {
                "a"
            };
            out.push((
                prefix.to_string(),
                Err(format!(
                    "`{prefix}` is {a} {ty}; enrichment values are strings"
                )),
                span,
            ))
        }
    }
}

/// Checks `[parse]` and `[[enrich]]` (every problem goes to `err`). `json_root` is the first
/// part of `[index] json_key`, which no enrichment field may take.
pub(crate) fn build(
    parse: Option<RawParse>,
    enrich: Option<RawEnrichList>,
    json_root: Option<&str>,
    err: &mut Report<'_>,
) -> ShapeConfig {
    let parse = parse.unwrap_or_default();
    let formats = match &parse.formats {
        None => Formats::ALL,
        Some(list) => {
            let mut f = Formats::NONE;
            let mut seen: Vec<&str> = Vec::new();
            for name in list.get_ref() {
                let n = name.get_ref().as_str();
                if seen.contains(&n) {
                    err(name.span(), format!("`{n}` is listed twice in `formats`"));
                    continue;
                }
                seen.push(n);
                match n {
                    "vpc-flow" => f.vpc_flow = true,
                    "lambda-platform" => f.lambda_platform = true,
                    "cloudtrail" => f.cloudtrail = true,
                    _ => err(
                        name.span(),
                        format!(
                            "unknown format `{n}`: the formats are {}",
                            FORMAT_NAMES.join(", ")
                        ),
                    ),
                }
            }
            f
        }
    };

    let mut vpc_flow = Vec::new();
    for v in parse.vpc_flow {
        if !formats.vpc_flow {
            err(
                v.format.span(),
                "`[[parse.vpc_flow]]` needs `vpc-flow` in `[parse] formats`".into(),
            );
            continue;
        }
        match FlowFormat::parse(v.format.get_ref()) {
            Ok(format) => vpc_flow.push(CustomFlow {
                log_groups: v.log_groups.iter().map(|g| Glob::new(g)).collect(),
                format,
            }),
            Err(e) => err(v.format.span(), format!("`format`: {e}")),
        }
    }

    let mut multiline = Vec::new();
    for m in parse.multiline {
        let compiled = regex::RegexBuilder::new(m.start.get_ref())
            .size_limit(1 << 20)
            .dfa_size_limit(1 << 20)
            .build();
        match compiled {
            Ok(start) => multiline.push(Multiline::new(
                m.log_groups.iter().map(|g| Glob::new(g)).collect(),
                start,
            )),
            Err(e) => err(
                m.start.span(),
                format!("`start` is not a valid regex: {}", regex_error(&e)),
            ),
        }
    }

    let mut enrichment = Enrichment::default();
    let mut all_paths: Vec<(String, std::ops::Range<usize>)> = Vec::new();
    for e in enrich.map(|l| l.0).unwrap_or_default() {
        if e.fields.is_empty() && e.accounts.is_empty() {
            err(
                NOWHERE,
                "an `[[enrich]]` entry has neither `fields` nor `accounts`".into(),
            );
            continue;
        }
        for (id, name) in &e.accounts {
            if id.len() != 12 || !id.bytes().all(|b| b.is_ascii_digit()) {
                err(
                    name.span(),
                    format!("`accounts`: `{id}` is not a 12-digit account id"),
                );
                continue;
            }
            let n = name.get_ref();
            if n.trim().is_empty() || n.len() > super::MAX_KEYWORD {
                err(
                    name.span(),
                    format!("`accounts`: the name of `{id}` must be 1 to 1024 bytes"),
                );
                continue;
            }
            match enrichment.accounts.get(id) {
                Some(other) if other != n => err(
                    name.span(),
                    format!("`accounts`: `{id}` is named twice (`{other}` and `{n}`)"),
                ),
                Some(_) => {}
                None => {
                    enrichment.accounts.insert(id.clone(), n.clone());
                }
            }
        }
        let mut flat = Vec::new();
        for (k, v) in &e.fields {
            flatten(k, v.get_ref(), v.span(), &mut flat);
        }
        let mut fields: Vec<(String, Template)> = Vec::new();
        for (path, value, span) in flat {
            let value = match value {
                Ok(v) => v,
                Err(m) => {
                    err(span, format!("`fields`: {m}"));
                    continue;
                }
            };
            if let Err(m) = check_path(&path, json_root) {
                err(span, format!("`fields`: {m}"));
                continue;
            }
            if fields.iter().any(|(p, _)| *p == path) {
                err(span, format!("`fields`: `{path}` is set twice"));
                continue;
            }
            match Template::parse(&value) {
                Ok(t) => fields.push((path.clone(), t)),
                Err(m) => {
                    err(span.clone(), format!("`fields`: `{path}`: {m}"));
                    continue;
                }
            }
            all_paths.push((path, span));
        }
        if !fields.is_empty() {
            enrichment.entries.push(EnrichEntry::new(
                e.log_groups.iter().map(|g| Glob::new(g)).collect(),
                fields,
            ));
        }
    }
    // A name that is both a value and an object (`team` and `team.name`) cannot be written,
    // whichever entries set them.
    for (path, span) in &all_paths {
        if let Some((other, _)) = all_paths.iter().find(|(o, _)| {
            o.len() > path.len() && o.starts_with(path.as_str()) && o.as_bytes()[path.len()] == b'.'
        }) {
            err(
                span.clone(),
                format!("`fields`: `{path}` is a value, but `{other}` makes it an object"),
            );
        }
    }
    ShapeConfig {
        formats,
        vpc_flow,
        multiline,
        enrich: enrichment,
        redact: None,
    }
}
