//! `[[enrich]]`: fields added to every document of some log groups, and names for accounts.
//!
//! ```toml
//! [[enrich]]
//! log_groups = ["/aws/lambda/orders-*"]
//! fields = { "service.name" = "orders", "labels.team" = "payments", "labels.source" = "{log_group}" }
//! [enrich.accounts]
//! "123456789012" = "prod"            # -> cloud.account.name
//! ```
//!
//! - Field names are dotted (`service.name` becomes `{"service":{"name":...}}`); a nested
//!   table (`fields = { service = { name = "orders" } }`) says the same. Values are strings,
//!   with the placeholders `{log_group}`, `{account}` and `{region}` filled in per batch.
//! - Every entry whose log groups take a batch adds its fields (an entry without
//!   `log_groups` takes every group); when two entries set the same field, the first one in
//!   the file wins.
//! - Fields go into the document's own objects where they belong (`event.dataset` into
//!   `event`, `aws.team` into `aws`), but never over a field cwlogs writes: the configuration
//!   check refuses `event.id`, `cloud.account.*`, `source.*`, `cwlogs.*`, the `json_key`
//!   object and the like (see [`check_path`]).
//! - `accounts` maps 12-digit account ids to names, written as `cloud.account.name`. TOML puts
//!   an `[enrich.accounts]` table inside the `[[enrich]]` entry written before it (or makes it
//!   the only entry when there is none): every `accounts` table, wherever it stands, is part
//!   of one map for every log group.
//!
//! A batch's fields are rendered once, when its documents are prepared.

use crate::route::Glob;
use crate::util::json::push_str;
use std::collections::BTreeMap;

/// Top-level fields that belong to cwlogs entirely: no `[[enrich]]` field goes under them.
pub const OWNED_ROOTS: [&str; 9] = [
    "@timestamp",
    "message",
    "cwlogs",
    "source",
    "destination",
    "network",
    "user_agent",
    "trace",
    "error",
];

/// Objects cwlogs shares with `[[enrich]]`, with the keys in them that are cwlogs' own.
pub const SHARED_ROOTS: [(&str, &[&str]); 4] = [
    (
        "event",
        &[
            "id", "original", "action", "provider", "outcome", "start", "end",
        ],
    ),
    ("log", &["level"]),
    ("cloud", &["provider", "account", "region"]),
    ("aws", &["lambda", "vpcflow", "cloudtrail", "cloudwatch"]),
];

/// The most parts a field name may have.
pub const MAX_PARTS: usize = 16;

/// Checks an `[[enrich]]` field name: dotted parts, none empty or blank, no control
/// characters, not starting with `_` or `@`, at most [`MAX_PARTS`] parts, and nothing cwlogs
/// writes itself (the fields of [`OWNED_ROOTS`], the cwlogs keys of [`SHARED_ROOTS`], and the
/// object of `json_key`, whose first part is `json_root`).
pub fn check_path(path: &str, json_root: Option<&str>) -> Result<(), String> {
    let parts: Vec<&str> = path.split('.').collect();
    if parts.iter().any(|p| p.trim().is_empty()) || path.chars().any(char::is_control) {
        return Err(format!(
            "`{path}` is not a field name: dotted parts, none empty (such as `service.name`)"
        ));
    }
    if path.starts_with(['_', '@']) {
        return Err(format!(
            "`{path}`: a field name must not start with `_` or `@`"
        ));
    }
    if parts.len() > MAX_PARTS {
        return Err(format!("`{path}` has more than {MAX_PARTS} parts"));
    }
    let root = parts[0];
    if OWNED_ROOTS.contains(&root) {
        return Err(format!("`{path}`: cwlogs writes `{root}` itself"));
    }
    if json_root == Some(root) {
        return Err(format!(
            "`{path}`: `{root}` holds the message's JSON fields (`json_key`)"
        ));
    }
    if let Some((_, own)) = SHARED_ROOTS.iter().find(|(r, _)| *r == root) {
        match parts.get(1) {
            None => {
                return Err(format!(
                    "`{path}`: cwlogs writes `{root}` as an object; name a field in it (`{root}.something`)"
                ));
            }
            Some(k) if own.contains(k) => {
                let hint = if path.starts_with("cloud.account") {
                    " (account names go in `[enrich.accounts]`)"
                } else {
                    ""
                };
                return Err(format!("`{path}`: cwlogs writes `{root}.{k}` itself{hint}"));
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// A field value with its placeholders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template(Vec<Piece>);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    LogGroup,
    Account,
    Region,
}

impl Template {
    /// Parses a value: `{log_group}`, `{account}` and `{region}` are placeholders; any other
    /// `{word}` is an error (a misspelt placeholder), other braces are text.
    pub fn parse(text: &str) -> Result<Template, String> {
        let mut pieces = Vec::new();
        let mut rest = text;
        let mut literal = String::new();
        while let Some(at) = rest.find('{') {
            literal.push_str(&rest[..at]);
            let after = &rest[at + 1..];
            let word_end = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            let word = &after[..word_end];
            if !word.is_empty() && after[word_end..].starts_with('}') {
                let piece = match word {
                    "log_group" => Piece::LogGroup,
                    "account" => Piece::Account,
                    "region" => Piece::Region,
                    _ => {
                        return Err(format!(
                            "unknown placeholder `{{{word}}}`: use {{log_group}}, {{account}} or {{region}}"
                        ));
                    }
                };
                if !literal.is_empty() {
                    pieces.push(Piece::Text(std::mem::take(&mut literal)));
                }
                pieces.push(piece);
                rest = &after[word_end + 1..];
            } else {
                literal.push('{');
                rest = after;
            }
        }
        literal.push_str(rest);
        if !literal.is_empty() {
            pieces.push(Piece::Text(literal));
        }
        Ok(Template(pieces))
    }

    fn render(&self, log_group: &str, account: &str, region: &str) -> String {
        let mut out = String::new();
        for p in &self.0 {
            out.push_str(match p {
                Piece::Text(t) => t,
                Piece::LogGroup => log_group,
                Piece::Account => account,
                Piece::Region => region,
            });
        }
        out
    }
}

/// One `[[enrich]]` entry.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct EnrichEntry {
    /// Log-group globs; empty means every group.
    pub log_groups: Vec<Glob>,
    /// Dotted field names and their values.
    pub fields: Vec<(String, Template)>,
}

impl EnrichEntry {
    /// An entry (its names checked by the configuration).
    pub fn new(log_groups: Vec<Glob>, fields: Vec<(String, Template)>) -> EnrichEntry {
        EnrichEntry { log_groups, fields }
    }
}

/// Every `[[enrich]]` entry and the account names.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Enrichment {
    /// The entries, in file order.
    pub entries: Vec<EnrichEntry>,
    /// Account id -> name (`cloud.account.name`).
    pub accounts: BTreeMap<String, String>,
}

/// The enrichment of one batch, as JSON members ready to splice into the document's objects.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Enriched {
    /// Members of `event`, each preceded by `,`.
    pub event: Vec<u8>,
    /// Members of `log`, each preceded by `,`.
    pub log: Vec<u8>,
    /// Members of `cloud` (after `region`), each preceded by `,`.
    pub cloud: Vec<u8>,
    /// Members of `aws` (before `cloudwatch`), each followed by `,`.
    pub aws: Vec<u8>,
    /// Top-level members, each preceded by `,`.
    pub top: Vec<u8>,
    /// `cloud.account.name`.
    pub account_name: Option<String>,
}

impl Enrichment {
    /// The names of every field some entry sets (for the index template).
    pub fn field_names(&self) -> impl Iterator<Item = &str> {
        self.entries
            .iter()
            .flat_map(|e| e.fields.iter().map(|(p, _)| p.as_str()))
    }

    /// Renders the fields of the entries that take `log_group`, and the account's name.
    pub fn render(&self, log_group: &str, account: &str, region: &str) -> Enriched {
        let mut out = Enriched {
            account_name: self.accounts.get(account).cloned(),
            ..Enriched::default()
        };
        let mut fields: Vec<(&str, String)> = Vec::new();
        for e in &self.entries {
            if !(e.log_groups.is_empty() || e.log_groups.iter().any(|g| g.matches(log_group))) {
                continue;
            }
            for (path, template) in &e.fields {
                if !fields.iter().any(|(p, _)| p == path) {
                    fields.push((path, template.render(log_group, account, region)));
                }
            }
        }
        if fields.is_empty() {
            return out;
        }
        fields.sort_by(|a, b| a.0.split('.').cmp(b.0.split('.')));
        let items: Vec<(Vec<&str>, &str)> = fields
            .iter()
            .map(|(p, v)| (p.split('.').collect(), v.as_str()))
            .collect();
        let mut i = 0;
        while i < items.len() {
            let root = items[i].0[0];
            let mut j = i + 1;
            while j < items.len() && items[j].0[0] == root {
                j += 1;
            }
            let group = &items[i..j];
            match SHARED_ROOTS.iter().position(|(r, _)| *r == root) {
                Some(k) => {
                    let inner: Vec<(&[&str], &str)> = group
                        .iter()
                        .filter(|(p, _)| p.len() > 1)
                        .map(|(p, v)| (&p[1..], *v))
                        .collect();
                    let mut members = Vec::new();
                    write_members(&mut members, &inner);
                    let target = match k {
                        0 => &mut out.event,
                        1 => &mut out.log,
                        2 => &mut out.cloud,
                        _ => &mut out.aws,
                    };
                    if k == 3 {
                        target.extend_from_slice(&members);
                        target.push(b',');
                    } else {
                        target.push(b',');
                        target.extend_from_slice(&members);
                    }
                }
                None => {
                    let all: Vec<(&[&str], &str)> =
                        group.iter().map(|(p, v)| (&p[..], *v)).collect();
                    out.top.push(b',');
                    write_members(&mut out.top, &all);
                }
            }
            i = j;
        }
        out
    }
}

/// Writes `items` (sorted by their parts) as the members of one object, joined by `,`: equal
/// first parts become one nested object. A value and an object under the same name (which the
/// configuration check refuses) keep the first.
fn write_members(out: &mut Vec<u8>, items: &[(&[&str], &str)]) {
    let mut i = 0;
    let mut first = true;
    while i < items.len() {
        let head = items[i].0[0];
        let mut j = i + 1;
        while j < items.len() && items[j].0[0] == head {
            j += 1;
        }
        if !first {
            out.push(b',');
        }
        first = false;
        push_str(out, head);
        out.push(b':');
        if items[i].0.len() == 1 {
            push_str(out, items[i].1);
        } else {
            let inner: Vec<(&[&str], &str)> = items[i..j]
                .iter()
                .filter(|(p, _)| p.len() > 1)
                .map(|(p, v)| (&p[1..], *v))
                .collect();
            out.push(b'{');
            write_members(out, &inner);
            out.push(b'}');
        }
        i = j;
    }
}
