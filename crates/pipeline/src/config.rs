//! The configuration file: TOML, checked once into a typed [`Config`].

use crate::index::IndexTemplate;
use crate::route::{Glob, Route};
use crate::rules::{
    AlertRule, AlertsConfig, GroupKey, MAX_DIMENSIONS, MAX_GROUP_BY, MAX_METRIC_TEXT, MetricRule,
    RateLimit, Rule, STANDARD_UNITS, Severity, check_metric_text, check_rule_name, check_topic_arn,
    parse_duration,
};
use serde::Deserialize;
use std::fmt;
use toml::Spanned;

/// The largest configuration file accepted, in bytes.
pub const MAX_CONFIG_BYTES: usize = 1 << 20;

/// The configuration used when none is given: archive and index every event.
pub const DEFAULT_CONFIG: &str = r#"# cwlogs built-in configuration: archive and index every event.
[archive]
prefix = "cwl"

[index]
index = "cwl-{log_group}-{yyyy.MM.dd}"
"#;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    region: Option<Spanned<String>>,
    #[serde(default)]
    decode: RawDecode,
    archive: Option<RawArchive>,
    index: Option<RawIndex>,
    alerts: Option<RawAlerts>,
    #[serde(default)]
    packs: Vec<Spanned<toml::Value>>,
    #[serde(default)]
    rule: Vec<RawRule>,
}

/// A pack's text: `[[rule]]`s only.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPack {
    pub(crate) rule: Vec<RawRule>,
}

impl RawRule {
    /// The rule's name.
    pub(crate) fn name(&self) -> &str {
        self.name.get_ref()
    }

    /// The pattern, as written.
    pub(crate) fn pattern(&self) -> Option<&str> {
        self.pattern.as_ref().map(|p| p.get_ref().as_str())
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAlerts {
    table: Option<Spanned<String>>,
    topic: Option<Spanned<String>>,
    grace: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRule {
    name: Spanned<String>,
    pattern: Option<Spanned<String>>,
    log_groups: Option<Vec<String>>,
    enabled: Option<bool>,
    metric: Option<Spanned<RawMetric>>,
    alert: Option<Spanned<RawAlert>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMetric {
    namespace: Spanned<String>,
    name: Spanned<String>,
    value: Option<Spanned<toml::Value>>,
    default: Option<Spanned<f64>>,
    unit: Option<Spanned<String>>,
    dimensions: Option<Spanned<std::collections::BTreeMap<String, Spanned<String>>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAlert {
    topic: Option<Spanned<String>>,
    #[serde(default)]
    group_by: Vec<Spanned<String>>,
    window: Option<Spanned<String>>,
    max_per_window: Option<Spanned<u32>>,
    severity: Option<Spanned<String>>,
    rate: Option<Spanned<RawRate>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRate {
    burst: u32,
    interval: String,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawDecode {
    max_decompressed_bytes: Option<Spanned<u64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawArchive {
    #[serde(default = "yes")]
    enabled: bool,
    bucket: Option<String>,
    prefix: Option<Spanned<String>>,
    kms_key_id: Option<Spanned<String>>,
    dead_letter_prefix: Option<Spanned<String>>,
    gzip_level: Option<Spanned<u32>>,
    #[serde(default)]
    log_groups: Vec<String>,
    include: Option<Spanned<String>>,
    exclude: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIndex {
    #[serde(default = "yes")]
    enabled: bool,
    endpoint: Option<Spanned<String>>,
    auth: Option<Spanned<String>>,
    index: Option<Spanned<String>>,
    data_stream: Option<bool>,
    quarantine_index: Option<Spanned<String>>,
    install_template: Option<bool>,
    document_ids: Option<bool>,
    max_bulk_bytes: Option<Spanned<u64>>,
    compress: Option<bool>,
    json_key: Option<Spanned<String>>,
    max_depth: Option<Spanned<u32>>,
    max_fields: Option<Spanned<u32>>,
    #[serde(default)]
    extract: Vec<RawExtract>,
    #[serde(default)]
    log_groups: Vec<String>,
    include: Option<Spanned<String>>,
    exclude: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExtract {
    #[serde(default)]
    log_groups: Vec<String>,
    pattern: Spanned<String>,
}

fn yes() -> bool {
    true
}

/// A validated configuration. Build it once (cold start, CLI start) and pass it by reference.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Config {
    /// The region to record when the transport does not say (direct subscriptions): the
    /// `region` key, else `AWS_REGION` from the environment, else `unknown`.
    pub region: String,
    /// Decoder limits.
    pub limits: cwlogs_decode::Limits,
    /// Archive settings; `None` when archiving is off.
    pub archive: Option<ArchiveConfig>,
    /// Index settings; `None` when indexing is off.
    pub index: Option<IndexConfig>,
    /// `[[rule]]`s, in file order.
    pub rules: Vec<Rule>,
    /// `[alerts]`: what every rule's alerts share.
    pub alerts: AlertsConfig,
    /// The log group the function itself writes to (`AWS_LAMBDA_LOG_GROUP_NAME`): its events
    /// are never processed, whatever the subscription says, so that a function subscribed to
    /// its own logs (or the EMF lines it prints) cannot feed itself.
    pub own_log_group: Option<String>,
    /// Every rule's pattern, compiled together (index = rule index).
    rule_patterns: cwlogs_filter::PatternSet,
}

/// `[archive]`: gzip NDJSON objects at deterministic keys.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ArchiveConfig {
    /// The S3 bucket (`bucket`, or `CWLOGS_ARCHIVE_BUCKET`); local sinks ignore it.
    pub bucket: Option<String>,
    /// Key prefix without leading or trailing `/` (default `cwl`; may be empty).
    pub prefix: String,
    /// Server-side encryption with this KMS key (`kms_key_id`, or `CWLOGS_ARCHIVE_KMS_KEY`);
    /// `None` means SSE-S3 (AES256), which is always requested.
    pub kms_key_id: Option<String>,
    /// Where dead letters go in the bucket (default `dead-letter`), outside the archive prefix
    /// so that an Athena table over the archive never reads them.
    pub dead_letter_prefix: String,
    /// gzip level, 0-9 (default 6).
    pub gzip_level: u32,
    /// Which events are archived (`log_groups`, `include`, `exclude`); default all.
    pub route: Route,
}

/// `[index]`: `_bulk` bodies for OpenSearch / Elasticsearch.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct IndexConfig {
    /// The cluster endpoint (`endpoint`, or `CWLOGS_INDEX_ENDPOINT`), `http(s)://host[:port][/path]`
    /// without a trailing `/`; local sinks ignore it.
    pub endpoint: Option<String>,
    /// How requests are authenticated (`auth`; by default inferred from the endpoint).
    pub auth: IndexAuth,
    /// The index name template.
    pub index: IndexTemplate,
    /// Whether `index` names data streams (`data_stream`, default false): the installed template
    /// then declares a data stream, and the template must not contain a date (the stream rolls
    /// over by itself).
    pub data_stream: bool,
    /// Where documents the cluster rejects for their mapping go, with the error
    /// (`quarantine_index`, default `cwl-quarantine-{yyyy.MM.dd}`).
    pub quarantine_index: IndexTemplate,
    /// Whether the index template (keyword ids, date `@timestamp`) is installed on first use
    /// (`install_template`, default true).
    pub install_template: bool,
    /// Whether documents get the deterministic `_id` (`document_ids`, default true), which
    /// makes redelivery harmless. OpenSearch Serverless time series and vector search
    /// collections refuse ids: there, `document_ids = false` lets the cluster choose them, and
    /// a redelivered batch is indexed again.
    pub document_ids: bool,
    /// Upper bound on one `_bulk` body before compression, in bytes (default 5 MB).
    pub max_bulk_bytes: usize,
    /// Whether `_bulk` bodies are sent gzip-compressed (`compress`, default true).
    pub compress: bool,
    /// How documents are built from events.
    pub documents: DocumentConfig,
    /// Which events are indexed (`log_groups`, `include`, `exclude`); default all.
    pub route: Route,
}

/// How `_bulk` requests are authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexAuth {
    /// SigV4 for Amazon OpenSearch Service (service `es`), with the function's credentials.
    SigV4,
    /// SigV4 for Amazon OpenSearch Serverless (service `aoss`).
    SigV4Serverless,
    /// HTTP basic auth from `CWLOGS_INDEX_USERNAME` and `CWLOGS_INDEX_PASSWORD`.
    Basic,
    /// `Authorization: ApiKey` from `CWLOGS_INDEX_API_KEY` (Elasticsearch API keys).
    ApiKey,
    /// No authentication (a cluster behind a VPC endpoint policy, or local tests).
    None,
}

impl IndexAuth {
    /// Parses the `auth` setting.
    pub fn parse(text: &str) -> Option<IndexAuth> {
        Some(match text {
            "sigv4" => IndexAuth::SigV4,
            "sigv4-serverless" => IndexAuth::SigV4Serverless,
            "basic" => IndexAuth::Basic,
            "api-key" => IndexAuth::ApiKey,
            "none" => IndexAuth::None,
            _ => return None,
        })
    }

    /// The default for an endpoint: SigV4 for `*.es.amazonaws.com` (and `.cn`) domains,
    /// serverless SigV4 for `*.aoss.amazonaws.com`, none otherwise (a custom domain name in
    /// front of an AWS domain needs `auth = "sigv4"`).
    pub fn infer(endpoint: Option<&str>) -> IndexAuth {
        let host = endpoint
            .and_then(|e| e.split_once("://").map(|(_, rest)| rest))
            .map(|rest| rest.split(['/', ':']).next().unwrap_or_default())
            .unwrap_or_default()
            .to_ascii_lowercase();
        let host = host.trim_end_matches(".cn");
        if host.ends_with(".aoss.amazonaws.com") {
            IndexAuth::SigV4Serverless
        } else if host.ends_with(".es.amazonaws.com") {
            IndexAuth::SigV4
        } else {
            IndexAuth::None
        }
    }

    /// The setting's name.
    pub fn as_str(self) -> &'static str {
        match self {
            IndexAuth::SigV4 => "sigv4",
            IndexAuth::SigV4Serverless => "sigv4-serverless",
            IndexAuth::Basic => "basic",
            IndexAuth::ApiKey => "api-key",
            IndexAuth::None => "none",
        }
    }
}

/// How documents are built from events (`[index]` keys `json_key`, `max_depth`, `max_fields`,
/// `[[index.extract]]`).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct DocumentConfig {
    /// Where the fields of a JSON message go (`json_key`, default `json`); `None` (an empty
    /// `json_key`) keeps messages as text only.
    pub json_key: Option<String>,
    /// Deepest object nesting kept as fields below `json_key` (default 10); deeper values are
    /// kept as JSON text.
    pub max_depth: usize,
    /// Most fields (leaves) kept per document from one message (default 500); the rest stay in
    /// `message` only.
    pub max_fields: usize,
    /// Space-delimited patterns whose named fields become document fields.
    pub extract: Vec<Extract>,
}

impl Default for DocumentConfig {
    fn default() -> Self {
        DocumentConfig {
            json_key: Some("json".into()),
            max_depth: 10,
            max_fields: 500,
            extract: Vec::new(),
        }
    }
}

/// One `[[index.extract]]`: events of `log_groups` (all when empty) that match the
/// space-delimited `pattern` get its named fields, under `json_key`.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Extract {
    /// Log-group globs; empty means every group.
    pub log_groups: Vec<Glob>,
    /// A space-delimited pattern (`[ip, user, ..., status_code = 5*, size]`).
    pub pattern: cwlogs_filter::Pattern,
}

/// A configuration error, with the line and column it was found at when known.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    /// 1-based line and column.
    pub position: Option<(usize, usize)>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.position {
            Some((line, col)) => write!(f, "line {line}, column {col}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// 1-based line and column of byte offset `at` in `text`.
fn line_col(text: &str, at: usize) -> (usize, usize) {
    let before = &text.as_bytes()[..at.min(text.len())];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let col = before.iter().rev().take_while(|&&b| b != b'\n').count() + 1;
    (line, col)
}

impl Config {
    /// Every rule's pattern, compiled together for one pass per message (pattern `i` is
    /// `rules[i].pattern`).
    pub fn rule_patterns(&self) -> &cwlogs_filter::PatternSet {
        &self.rule_patterns
    }

    /// The built-in configuration ([`DEFAULT_CONFIG`]).
    pub fn builtin(env: &dyn Fn(&str) -> Option<String>) -> Config {
        // The built-in text is a constant checked by `builtin_parses`, and nothing it reads
        // from the environment is validated, so this cannot fail. A silent fallback here would
        // quietly turn archiving and indexing off.
        Config::from_toml(DEFAULT_CONFIG, env).expect("the built-in configuration is valid")
    }

    /// Parses and validates a configuration file. `env` looks up environment variables
    /// (`CWLOGS_ARCHIVE_BUCKET`, `CWLOGS_INDEX_ENDPOINT`, `AWS_REGION`), so that tests never
    /// touch the process environment.
    pub fn from_toml(
        text: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, Vec<ConfigError>> {
        if text.len() > MAX_CONFIG_BYTES {
            return Err(vec![ConfigError {
                position: None,
                message: format!(
                    "configuration is {} bytes; the limit is {MAX_CONFIG_BYTES}",
                    text.len()
                ),
            }]);
        }
        let raw: RawConfig = toml::from_str(text).map_err(|e| {
            vec![ConfigError {
                position: e.span().map(|s| line_col(text, s.start)),
                message: e.message().to_string(),
            }]
        })?;
        let mut errors = Vec::new();
        let mut err = |span: std::ops::Range<usize>, message: String| {
            errors.push(ConfigError {
                position: (span != NOWHERE).then(|| line_col(text, span.start)),
                message,
            });
        };

        let region = match raw.region {
            Some(r) if r.get_ref().trim().is_empty() => {
                err(r.span(), "`region` must not be empty".into());
                String::new()
            }
            Some(r) => r.into_inner(),
            None => env("AWS_REGION").unwrap_or_else(|| "unknown".into()),
        };

        let mut limits = cwlogs_decode::Limits::default();
        if let Some(m) = raw.decode.max_decompressed_bytes {
            match usize::try_from(*m.get_ref()) {
                Ok(v) if (1024..=(1 << 30)).contains(&v) => limits.max_decompressed = v,
                _ => err(
                    m.span(),
                    "`max_decompressed_bytes` must be between 1024 and 1073741824".into(),
                ),
            }
        }

        let archive = raw.archive.filter(|a| a.enabled).map(|a| {
            let mut key_prefix = |p: Option<Spanned<String>>, name: &str, default: &str| match p {
                Some(p) => {
                    let v = p.get_ref().trim_matches('/').to_string();
                    if v.contains("//") || v.chars().any(char::is_control) {
                        err(
                            p.span(),
                            format!("`{name}` must not contain `//` or control characters"),
                        );
                    }
                    v
                }
                None => default.to_string(),
            };
            let prefix = key_prefix(a.prefix, "prefix", "cwl");
            let dead_letter_prefix =
                key_prefix(a.dead_letter_prefix, "dead_letter_prefix", "dead-letter");
            if dead_letter_prefix.is_empty() {
                err(0..0, "`dead_letter_prefix` must not be empty".into());
            }
            let kms_key_id = match a.kms_key_id {
                Some(k) if k.get_ref().trim().is_empty() => {
                    err(k.span(), "`kms_key_id` must not be empty".into());
                    None
                }
                Some(k) => Some(k.into_inner()),
                None => env("CWLOGS_ARCHIVE_KMS_KEY").filter(|k| !k.is_empty()),
            };
            let gzip_level = match a.gzip_level {
                Some(l) if *l.get_ref() > 9 => {
                    err(l.span(), "`gzip_level` must be between 0 and 9".into());
                    6
                }
                Some(l) => l.into_inner(),
                None => 6,
            };
            ArchiveConfig {
                bucket: a.bucket.or_else(|| env("CWLOGS_ARCHIVE_BUCKET")),
                prefix,
                kms_key_id,
                dead_letter_prefix,
                gzip_level,
                route: build_route(&a.log_groups, a.include, a.exclude, &mut err),
            }
        });

        let index = raw.index.filter(|i| i.enabled).map(|i| {
            let template = match &i.index {
                Some(t) => IndexTemplate::parse(t.get_ref()).unwrap_or_else(|e| {
                    err(t.span(), e);
                    IndexTemplate::default()
                }),
                None => IndexTemplate::default(),
            };
            let endpoint = match i.endpoint {
                Some(e) => Some(check_endpoint(e.get_ref()).unwrap_or_else(|m| {
                    err(e.span(), m);
                    String::new()
                })),
                None => env("CWLOGS_INDEX_ENDPOINT")
                    .filter(|e| !e.is_empty())
                    .map(|e| check_endpoint(&e).unwrap_or(e)),
            };
            let auth = match i.auth {
                Some(a) => IndexAuth::parse(a.get_ref()).unwrap_or_else(|| {
                    err(
                        a.span(),
                        format!(
                            "unknown `auth` `{}`: use sigv4, sigv4-serverless, basic, api-key or none",
                            a.get_ref()
                        ),
                    );
                    IndexAuth::None
                }),
                None => IndexAuth::infer(endpoint.as_deref()),
            };
            let data_stream = i.data_stream.unwrap_or(false);
            if data_stream && template.has_date() {
                err(
                    i.index.as_ref().map_or(0..0, Spanned::span),
                    "with `data_stream = true` the `index` template must not contain a date: the data stream rolls over by itself".into(),
                );
            }
            let quarantine_index = match i.quarantine_index {
                Some(t) => IndexTemplate::parse(t.get_ref()).unwrap_or_else(|e| {
                    err(t.span(), e);
                    IndexTemplate::quarantine()
                }),
                None => IndexTemplate::quarantine(),
            };
            let json_key = match i.json_key {
                Some(k) if k.get_ref().is_empty() => None,
                Some(k) => {
                    let v = k.get_ref();
                    let first = v.split('.').next().unwrap_or_default();
                    if v.starts_with(['.', '_', '@'])
                        || v.ends_with('.')
                        || v.contains("..")
                        || v.split('.').any(|p| p.trim().is_empty())
                        || v.chars().any(char::is_control)
                    {
                        err(
                            k.span(),
                            "`json_key` must be a field name such as `json` or `app.fields` (no leading `.`, `_` or `@`, no empty parts)".into(),
                        );
                    } else if crate::document::RESERVED_FIELDS.contains(&first) {
                        err(
                            k.span(),
                            format!(
                                "`json_key` must not start with `{first}`: the document's own fields are {}",
                                crate::document::RESERVED_FIELDS.join(", ")
                            ),
                        );
                    }
                    Some(k.into_inner())
                }
                None => Some("json".into()),
            };
            let mut bounded = |v: Option<Spanned<u32>>, name: &str, max: u32, default: usize| match v {
                Some(v) if !(1..=max).contains(v.get_ref()) => {
                    err(v.span(), format!("`{name}` must be between 1 and {max}"));
                    default
                }
                Some(v) => v.into_inner() as usize,
                None => default,
            };
            let max_depth = bounded(i.max_depth, "max_depth", 64, 10);
            let max_fields = bounded(i.max_fields, "max_fields", 10_000, 500);
            let extract = i
                .extract
                .into_iter()
                .filter_map(|x| {
                    let pattern = match cwlogs_filter::Pattern::new(x.pattern.get_ref()) {
                        Ok(p) if p.kind() == cwlogs_filter::PatternKind::Delimited => p,
                        Ok(_) => {
                            err(
                                x.pattern.span(),
                                "`extract` patterns must be space-delimited (`[a, b, ...]`)".into(),
                            );
                            return None;
                        }
                        Err(e) => {
                            err(x.pattern.span(), format!("`extract`: {}", e.aws_message()));
                            return None;
                        }
                    };
                    Some(Extract {
                        log_groups: x.log_groups.iter().map(|g| Glob::new(g)).collect(),
                        pattern,
                    })
                })
                .collect();
            let max_bulk_bytes = match i.max_bulk_bytes {
                Some(m) => match usize::try_from(*m.get_ref()) {
                    Ok(v) if (64 << 10..=(100 << 20)).contains(&v) => v,
                    _ => {
                        err(
                            m.span(),
                            "`max_bulk_bytes` must be between 65536 and 104857600".into(),
                        );
                        5_000_000
                    }
                },
                None => 5_000_000,
            };
            IndexConfig {
                endpoint,
                auth,
                index: template,
                data_stream,
                quarantine_index,
                install_template: i.install_template.unwrap_or(true),
                document_ids: i.document_ids.unwrap_or(true),
                max_bulk_bytes,
                compress: i.compress.unwrap_or(true),
                documents: DocumentConfig {
                    json_key,
                    max_depth,
                    max_fields,
                    extract,
                },
                route: build_route(&i.log_groups, i.include, i.exclude, &mut err),
            }
        });

        let alerts_raw = raw.alerts;
        let default_topic = match alerts_raw.as_ref().and_then(|a| a.topic.as_ref()) {
            Some(t) => {
                if let Err(m) = check_topic_arn(t.get_ref()) {
                    err(t.span(), format!("`[alerts] topic`: {m}"));
                }
                Some(t.get_ref().clone())
            }
            None => env("CWLOGS_ALERT_TOPIC").filter(|t| !t.is_empty()),
        };
        let mut alerts = AlertsConfig {
            table: env("CWLOGS_ALERT_TABLE").filter(|t| !t.is_empty()),
            ..AlertsConfig::default()
        };
        if let Some(a) = alerts_raw {
            if let Some(t) = a.table {
                if t.get_ref().trim().is_empty() {
                    err(t.span(), "`[alerts] table` must not be empty".into());
                }
                alerts.table = Some(t.into_inner());
            }
            if let Some(g) = a.grace {
                match parse_duration(g.get_ref()) {
                    Some(ms) if (0..=3_600_000).contains(&ms) => alerts.grace_ms = ms,
                    _ => err(
                        g.span(),
                        "`grace` must be a duration from 0s to 1h, such as `1m`".into(),
                    ),
                }
            }
        }
        let rules = build_rules(raw.rule, &raw.packs, default_topic.as_deref(), &mut err);

        if errors.is_empty() {
            Ok(Config {
                region,
                limits,
                archive,
                index,
                alerts,
                own_log_group: env("AWS_LAMBDA_LOG_GROUP_NAME").filter(|g| !g.is_empty()),
                rule_patterns: cwlogs_filter::PatternSet::new(
                    rules.iter().map(|r| r.pattern.clone()),
                ),
                rules,
            })
        } else {
            Err(errors)
        }
    }
}

/// Checks an endpoint URL (`http://` or `https://`, a host, no query) and drops a trailing `/`.
fn check_endpoint(text: &str) -> Result<String, String> {
    let t = text.trim().trim_end_matches('/');
    let rest = t
        .strip_prefix("https://")
        .or_else(|| t.strip_prefix("http://"))
        .ok_or_else(|| format!("`endpoint` `{text}` must start with https:// or http://"))?;
    if rest.is_empty() || rest.starts_with(['/', ':']) || rest.contains(['?', '#', ' ']) {
        return Err(format!(
            "`endpoint` `{text}` must be a URL such as https://search-logs-abc.eu-west-1.es.amazonaws.com"
        ));
    }
    Ok(t.to_string())
}

/// Validates one `[[rule]]` whose `pattern` is set: pattern compiled, metric and alert settings
/// checked against what CloudWatch and SNS accept. Every problem is reported at its position.
fn build_rule(
    r: RawRule,
    pattern_text: &Spanned<String>,
    default_topic: Option<&str>,
    err: &mut dyn FnMut(std::ops::Range<usize>, String),
) -> Option<Rule> {
    {
        let name = r.name.get_ref().clone();
        let pattern = match cwlogs_filter::Pattern::new(pattern_text.get_ref()) {
            Ok(p) => p,
            Err(e) => {
                err(
                    pattern_text.span(),
                    format!("rule `{name}`: `pattern`: {}", e.aws_message()),
                );
                return None;
            }
        };
        let field = |text: &Spanned<String>,
                     what: &str,
                     err: &mut dyn FnMut(std::ops::Range<usize>, String)| {
            let v = cwlogs_filter::MetricValue::parse(text.get_ref())
                .and_then(|v| pattern.check_dimension(&v).map(|()| v));
            v.map_err(|e| {
                err(
                    text.span(),
                    format!(
                        "rule `{name}`: {what} `{}`: {}",
                        text.get_ref(),
                        e.aws_message()
                    ),
                );
            })
            .ok()
        };
        let metric = r.metric.map(|m| {
            let span = m.span();
            let m = m.into_inner();
            for (what, t) in [("namespace", &m.namespace), ("name", &m.name)] {
                if let Err(e) = check_metric_text(what, t.get_ref()) {
                    err(t.span(), format!("rule `{name}`: {e}"));
                }
            }
            if m.namespace.get_ref().starts_with("AWS/") {
                err(
                    m.namespace.span(),
                    format!("rule `{name}`: namespaces starting with `AWS/` are reserved for AWS"),
                );
            }
            let value_text = match m.value.as_ref().map(Spanned::get_ref) {
                None => Some("1".to_string()),
                Some(toml::Value::String(s)) => Some(s.clone()),
                Some(toml::Value::Integer(i)) => Some(i.to_string()),
                Some(toml::Value::Float(f)) => Some(f.to_string()),
                Some(_) => None,
            };
            let value_span = m.value.as_ref().map_or(span.clone(), Spanned::span);
            let value = value_text
                .ok_or_else(|| "a number or a field reference such as `$.bytes`".to_string())
                .and_then(|t| {
                    cwlogs_filter::MetricValue::parse(&t)
                        .and_then(|v| pattern.check_metric_value(&v).map(|()| v))
                        .map_err(|e| e.aws_message())
                })
                .unwrap_or_else(|e| {
                    err(value_span, format!("rule `{name}`: metric `value`: {e}"));
                    cwlogs_filter::MetricValue::parse("1").expect("a literal")
                });
            let unit = m.unit.map(|u| {
                if !STANDARD_UNITS.contains(&u.get_ref().as_str()) {
                    err(
                        u.span(),
                        format!(
                            "rule `{name}`: unknown unit `{}`: use one of {}",
                            u.get_ref(),
                            STANDARD_UNITS.join(", ")
                        ),
                    );
                }
                u.into_inner()
            });
            let mut dimensions = Vec::new();
            if let Some(d) = &m.dimensions {
                if d.get_ref().len() > MAX_DIMENSIONS {
                    err(
                        d.span(),
                        format!(
                            "rule `{name}`: {} dimensions; a metric may have at most {MAX_DIMENSIONS}",
                            d.get_ref().len()
                        ),
                    );
                }
                for (dim, text) in d.get_ref() {
                    if dim.trim().is_empty()
                        || dim.chars().count() > MAX_METRIC_TEXT
                        || dim.starts_with(':')
                        || !dim.is_ascii()
                        || dim.chars().any(|c| c.is_ascii_control())
                    {
                        err(
                            d.span(),
                            format!("rule `{name}`: dimension name `{dim}` must be 1-255 ASCII characters, not starting with `:`"),
                        );
                    }
                    if let Some(v) = field(text, "dimension", err) {
                        dimensions.push((dim.clone(), v));
                    }
                }
                if let (Some(dflt), false) = (&m.default, d.get_ref().is_empty()) {
                    err(
                        dflt.span(),
                        format!("rule `{name}`: a metric with dimensions cannot have a `default` (CloudWatch refuses it)"),
                    );
                }
            }
            MetricRule {
                namespace: m.namespace.into_inner(),
                name: m.name.into_inner(),
                value,
                default: m.default.map(Spanned::into_inner).filter(|d| d.is_finite()),
                unit,
                dimensions,
            }
        });
        let alert = r.alert.map(|a| {
            let span = a.span();
            let a = a.into_inner();
            let topic = match &a.topic {
                Some(t) => {
                    if let Err(m) = check_topic_arn(t.get_ref()) {
                        err(t.span(), format!("rule `{name}`: {m}"));
                    }
                    Some(t.get_ref().clone())
                }
                None => default_topic.map(str::to_string),
            };
            if a.group_by.len() > MAX_GROUP_BY {
                err(
                    span.clone(),
                    format!("rule `{name}`: `group_by` has {} entries; at most {MAX_GROUP_BY}", a.group_by.len()),
                );
            }
            let group_by = a
                .group_by
                .iter()
                .filter_map(|g| match g.get_ref().as_str() {
                    "@log_group" => Some(GroupKey::LogGroup),
                    "@log_stream" => Some(GroupKey::LogStream),
                    _ => field(g, "group_by", err).map(GroupKey::Field),
                })
                .collect();
            let window_ms = match &a.window {
                Some(w) => match parse_duration(w.get_ref()) {
                    Some(ms) if (60_000..=86_400_000).contains(&ms) && 86_400_000 % ms == 0 => ms,
                    _ => {
                        err(
                            w.span(),
                            format!("rule `{name}`: `window` must be a duration from 1m to 1d that divides a day, such as `5m` or `1h`"),
                        );
                        300_000
                    }
                },
                None => 300_000,
            };
            let max_per_window = match &a.max_per_window {
                Some(m) if !(1..=100).contains(m.get_ref()) => {
                    err(m.span(), format!("rule `{name}`: `max_per_window` must be between 1 and 100"));
                    1
                }
                Some(m) => *m.get_ref(),
                None => 1,
            };
            let severity = match &a.severity {
                Some(s) => Severity::parse(s.get_ref()).unwrap_or_else(|| {
                    err(
                        s.span(),
                        format!("rule `{name}`: unknown severity `{}`: use info, low, medium, high or critical", s.get_ref()),
                    );
                    Severity::Medium
                }),
                None => Severity::Medium,
            };
            let rate = match &a.rate {
                Some(r) => {
                    let interval = parse_duration(&r.get_ref().interval)
                        .filter(|ms| (1000..=7 * 86_400_000).contains(ms));
                    match (r.get_ref().burst, interval) {
                        (1..=10_000, Some(interval_ms)) => RateLimit {
                            burst: r.get_ref().burst,
                            interval_ms,
                        },
                        _ => {
                            err(
                                r.span(),
                                format!("rule `{name}`: `rate` needs `burst` from 1 to 10000 and an `interval` from 1s to 7d"),
                            );
                            RateLimit::default()
                        }
                    }
                }
                None => RateLimit::default(),
            };
            AlertRule {
                topic,
                group_by,
                window_ms,
                max_per_window,
                severity,
                rate,
            }
        });
        Some(Rule {
            name,
            pattern,
            log_groups: r
                .log_groups
                .unwrap_or_default()
                .iter()
                .map(|g| Glob::new(g))
                .collect(),
            metric,
            alert,
        })
    }
}

/// No position: for errors in text other than the configuration file (a pack).
const NOWHERE: std::ops::Range<usize> = usize::MAX..usize::MAX;

/// The rules of the configuration: those of the enabled `packs` (each overridden, or disabled
/// with `enabled = false`, by a `[[rule]]` of the same name), then the file's own, in order.
fn build_rules(
    raw: Vec<RawRule>,
    packs: &[Spanned<toml::Value>],
    default_topic: Option<&str>,
    err: &mut dyn FnMut(std::ops::Range<usize>, String),
) -> Vec<Rule> {
    // The packs' rules, built as they ship (their texts are checked by tests).
    let mut rules: Vec<Option<Rule>> = Vec::new();
    let mut pack_names: Vec<&str> = Vec::new();
    for p in packs {
        let (name, log_groups) = match p.get_ref() {
            toml::Value::String(n) => (n.as_str(), None),
            toml::Value::Table(t) => {
                let name = t
                    .get("name")
                    .and_then(toml::Value::as_str)
                    .unwrap_or_default();
                let groups = t
                    .get("log_groups")
                    .and_then(toml::Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(toml::Value::as_str)
                            .map(str::to_string)
                            .collect::<Vec<_>>()
                    });
                if t.keys().any(|k| k != "name" && k != "log_groups") {
                    err(
                        p.span(),
                        "a pack is a name, or { name = \"...\", log_groups = [...] }".into(),
                    );
                }
                (name, groups)
            }
            _ => ("", None),
        };
        let Some(pack) = crate::packs::find(name) else {
            err(
                p.span(),
                format!(
                    "unknown pack `{name}`: the packs are {}",
                    crate::packs::names().join(", ")
                ),
            );
            continue;
        };
        if pack_names.contains(&pack.name) {
            continue;
        }
        pack_names.push(pack.name);
        for mut r in pack.raw_rules() {
            if log_groups.is_some() {
                r.log_groups = log_groups.clone();
            }
            let Some(text) = r.pattern.clone() else {
                continue;
            };
            let mut pack_err = |_: std::ops::Range<usize>, m: String| {
                err(NOWHERE, format!("pack `{}`: {m}", pack.name));
            };
            rules.push(build_rule(r, &text, default_topic, &mut pack_err));
        }
    }
    let pack_rules = rules.len();
    let mut names = std::collections::HashSet::new();
    for r in raw {
        let name = r.name.get_ref().clone();
        // Reported, and the rule still checked, so that one run shows every problem.
        if let Err(m) = check_rule_name(&name) {
            err(r.name.span(), m);
        } else if !names.insert(name.clone()) {
            err(r.name.span(), format!("rule `{name}` is defined twice"));
        }
        let in_pack = rules[..pack_rules]
            .iter()
            .position(|p| p.as_ref().is_some_and(|p| p.name == name));
        if r.enabled == Some(false) {
            match in_pack {
                Some(i) => rules[i] = None,
                None if r.pattern.is_none() => err(
                    r.name.span(),
                    format!(
                        "rule `{name}` is disabled, but no enabled pack has a rule of that name: {}",
                        pack_rule_names(&rules[..pack_rules])
                    ),
                ),
                None => {}
            }
            continue;
        }
        let Some(i) = in_pack else {
            let Some(text) = r.pattern.clone() else {
                err(
                    r.name.span(),
                    format!(
                        "rule `{name}` has no `pattern`, and no enabled pack has a rule of that name: {}",
                        pack_rule_names(&rules[..pack_rules])
                    ),
                );
                continue;
            };
            if r.metric.is_none() && r.alert.is_none() {
                err(
                    r.name.span(),
                    format!("rule `{name}` has neither `metric` nor `alert`: it would do nothing"),
                );
            }
            rules.push(build_rule(r, &text, default_topic, err));
            continue;
        };
        // An override: what it sets replaces the pack rule's, the rest is inherited.
        let Some(base) = rules[i].take() else {
            continue;
        };
        let text = r
            .pattern
            .clone()
            .unwrap_or_else(|| Spanned::new(r.name.span(), base.pattern.source().to_string()));
        let (own_groups, own_metric, own_alert) = (
            r.log_groups.is_some(),
            r.metric.is_some(),
            r.alert.is_some(),
        );
        let Some(mut rule) = build_rule(r, &text, default_topic, err) else {
            rules[i] = Some(base);
            continue;
        };
        if !own_groups {
            rule.log_groups = base.log_groups;
        }
        if !own_metric {
            rule.metric = base.metric;
        }
        if !own_alert {
            rule.alert = base.alert;
        }
        let mut refs: Vec<&cwlogs_filter::MetricValue> = Vec::new();
        if let Some(m) = &rule.metric {
            if let Err(e) = rule.pattern.check_metric_value(&m.value) {
                err(
                    text.span(),
                    format!(
                        "rule `{name}`: the pack's metric `value` does not fit this pattern: {}",
                        e.aws_message()
                    ),
                );
            }
            refs.extend(m.dimensions.iter().map(|(_, v)| v));
        }
        if let Some(a) = &rule.alert {
            refs.extend(a.group_by.iter().filter_map(|g| match g {
                GroupKey::Field(v) => Some(v),
                _ => None,
            }));
        }
        for v in refs {
            if let Err(e) = rule.pattern.check_dimension(v) {
                err(
                    text.span(),
                    format!(
                        "rule `{name}`: the pack's `{}` does not fit this pattern: {}",
                        v.source(),
                        e.aws_message()
                    ),
                );
            }
        }
        rules[i] = Some(rule);
    }
    rules.into_iter().flatten().collect()
}

/// The names of the packs' rules, for error messages.
fn pack_rule_names(rules: &[Option<Rule>]) -> String {
    let names: Vec<&str> = rules.iter().flatten().map(|r| r.name.as_str()).collect();
    if names.is_empty() {
        "no pack is enabled (`packs = [...]`)".to_string()
    } else {
        format!("the packs' rules are {}", names.join(", "))
    }
}

/// Compiles a section's routing; pattern errors are reported at the pattern's position with
/// CloudWatch's own message.
fn build_route(
    log_groups: &[String],
    include: Option<Spanned<String>>,
    exclude: Option<Spanned<String>>,
    err: &mut dyn FnMut(std::ops::Range<usize>, String),
) -> Route {
    let mut pattern = |p: Option<Spanned<String>>, key: &str| {
        let p = p?;
        match cwlogs_filter::Pattern::new(p.get_ref()) {
            Ok(compiled) => Some(compiled),
            Err(e) => {
                err(p.span(), format!("`{key}`: {}", e.aws_message()));
                None
            }
        }
    };
    Route {
        include: pattern(include, "include"),
        exclude: pattern(exclude, "exclude"),
        log_groups: log_groups.iter().map(|g| Glob::new(g)).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn builtin_parses() {
        let c = Config::from_toml(DEFAULT_CONFIG, &no_env).expect("built-in config");
        assert_eq!(c.archive.as_ref().map(|a| a.prefix.as_str()), Some("cwl"));
        assert!(c.index.is_some());
        assert_eq!(c.region, "unknown");
    }

    #[test]
    fn environment_fills_endpoints() {
        let env = |k: &str| match k {
            "CWLOGS_ARCHIVE_BUCKET" => Some("b".to_string()),
            "AWS_REGION" => Some("eu-west-1".to_string()),
            _ => None,
        };
        let c = Config::from_toml(DEFAULT_CONFIG, &env).expect("config");
        assert_eq!(c.archive.and_then(|a| a.bucket).as_deref(), Some("b"));
        assert_eq!(c.region, "eu-west-1");
    }

    #[test]
    fn errors_carry_line_numbers() {
        let text =
            "[archive]\nprefix = \"x\"\ngzip_level = 12\n\n[index]\nindex = \"cwl-{nope}\"\n";
        let errs = Config::from_toml(text, &no_env).expect_err("invalid");
        let shown: Vec<String> = errs.iter().map(ToString::to_string).collect();
        assert_eq!(shown.len(), 2, "{shown:?}");
        assert!(
            shown[0].starts_with("line 3, column 14: `gzip_level`"),
            "{shown:?}"
        );
        assert!(shown[1].starts_with("line 6, column 9: "), "{shown:?}");

        let errs = Config::from_toml("[archive]\nbukket = 1\n", &no_env).expect_err("unknown");
        assert_eq!(errs[0].position, Some((2, 1)));
        assert!(
            errs[0].message.contains("unknown field `bukket`"),
            "{errs:?}"
        );
    }

    #[test]
    fn routes_compile_patterns() {
        let text = "[index]\nlog_groups = [\"/aws/lambda/*\"]\nexclude = '{ $.level = \"DEBUG\" }'\n[archive]\ninclude = 'ERR*'\n";
        let errs = Config::from_toml(text, &no_env).expect_err("bad include");
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].position, Some((5, 11)));
        assert!(
            errs[0].message.contains("Invalid character(s) in term '*'"),
            "{errs:?}"
        );
        let c = Config::from_toml(&text.replace("ERR*", "ERROR"), &no_env).expect("valid");
        let index = c.index.expect("index");
        assert!(index.route.exclude.is_some());
        assert!(index.route.takes_group("/aws/lambda/x") && !index.route.takes_group("/ecs/x"));
    }

    #[test]
    fn index_settings() {
        let c = Config::from_toml(
            "[index]\nendpoint = \"https://search-x-abc.eu-west-1.es.amazonaws.com/\"\nmax_depth = 3\njson_key = \"app\"\n[[index.extract]]\nlog_groups = [\"/web/*\"]\npattern = '[ip, user, status]'\n",
            &no_env,
        )
        .expect("valid");
        let i = c.index.expect("index");
        assert_eq!(
            i.endpoint.as_deref(),
            Some("https://search-x-abc.eu-west-1.es.amazonaws.com")
        );
        assert_eq!(i.auth, IndexAuth::SigV4);
        assert_eq!(i.documents.max_depth, 3);
        assert_eq!(i.documents.json_key.as_deref(), Some("app"));
        assert_eq!(i.documents.extract.len(), 1);
        assert!(i.compress && i.install_template && !i.data_stream);

        assert_eq!(
            IndexAuth::infer(Some("https://abc.us-east-1.aoss.amazonaws.com")),
            IndexAuth::SigV4Serverless
        );
        assert_eq!(
            IndexAuth::infer(Some("http://127.0.0.1:9200")),
            IndexAuth::None
        );

        let errs = Config::from_toml(
            "[index]\nendpoint = \"search.example.com\"\nauth = \"kerberos\"\nindex = \"logs-{yyyy}\"\ndata_stream = true\nmax_fields = 0\njson_key = \"_x\"\n[[index.extract]]\npattern = '{ $.a = 1 }'\n",
            &no_env,
        )
        .expect_err("invalid");
        let shown: Vec<String> = errs.iter().map(ToString::to_string).collect();
        assert_eq!(shown.len(), 6, "{shown:?}");
        let errs = Config::from_toml("[index]\njson_key = \"log.fields\"\n", &no_env)
            .expect_err("reserved");
        assert!(
            errs[0].message.contains("must not start with `log`"),
            "{errs:?}"
        );
        for (at, what) in [
            (0, "line 2, column 12: `endpoint`"),
            (1, "line 3, column 8: unknown `auth`"),
            (2, "line 4, column 9: with `data_stream = true`"),
            (3, "line 7, column 12: `json_key`"),
            (4, "line 6, column 14: `max_fields`"),
            (
                5,
                "line 9, column 11: `extract` patterns must be space-delimited",
            ),
        ] {
            assert!(shown[at].starts_with(what), "{at}: {shown:?}");
        }
    }

    const RULES: &str = r#"[alerts]
topic = "arn:aws:sns:eu-west-1:123456789012:security"

[[rule]]
name = "access-denied"
pattern = '{ $.errorCode = "AccessDenied" }'
log_groups = ["/aws/cloudtrail/*"]
metric = { namespace = "Security", name = "AccessDenied", value = "1", default = 0, unit = "Count" }
alert = { group_by = ["$.userIdentity.arn", "@log_group"], window = "5m", max_per_window = 3, severity = "high", rate = { burst = 5, interval = "10m" } }

[[rule]]
name = "bytes"
pattern = '[ip, user, username, timestamp, request, status_code, size]'
metric = { namespace = "Web", name = "Bytes", value = "$size", unit = "Bytes", dimensions = { Status = "$status_code" } }
"#;

    #[test]
    fn rules() {
        let c = Config::from_toml(RULES, &no_env).expect("valid");
        assert_eq!(c.rules.len(), 2);
        let r = &c.rules[0];
        assert!(r.takes_group("/aws/cloudtrail/org") && !r.takes_group("/aws/lambda/x"));
        let m = r.metric.as_ref().expect("metric");
        assert_eq!((m.namespace.as_str(), m.default), ("Security", Some(0.0)));
        let a = r.alert.as_ref().expect("alert");
        assert_eq!(
            a.topic.as_deref(),
            Some("arn:aws:sns:eu-west-1:123456789012:security"),
            "the [alerts] topic is the default"
        );
        assert_eq!(a.group_by.len(), 2);
        assert_eq!(a.group_by[1], GroupKey::LogGroup);
        assert_eq!((a.window_ms, a.max_per_window), (300_000, 3));
        assert_eq!(a.severity, Severity::High);
        assert_eq!(
            a.rate,
            RateLimit {
                burst: 5,
                interval_ms: 600_000
            }
        );
        let m = c.rules[1].metric.as_ref().expect("metric");
        assert_eq!(m.dimensions[0].0, "Status");
        assert_eq!(m.value.source(), "$size");

        let env = |k: &str| (k == "CWLOGS_ALERT_TABLE").then(|| "cwlogs-alerts".to_string());
        let c = Config::from_toml(RULES, &env).expect("valid");
        assert_eq!(c.alerts.table.as_deref(), Some("cwlogs-alerts"));
        assert_eq!(c.alerts.grace_ms, 60_000);
    }

    #[test]
    fn bad_rules_are_reported_where_they_are() {
        let text = r#"[[rule]]
name = "a"
pattern = '{ $.x = }'
metric = { namespace = "N", name = "M" }

[[rule]]
name = "b"
pattern = '{ $.x = 1 }'
metric = { namespace = "N", name = "M:1", value = "$.y", default = 1, dimensions = { A = "$.a", B = "$.b", C = "$.c", D = "$.d" } }

[[rule]]
name = "b"
pattern = 'ERROR'
metric = { namespace = "N", name = "M", value = "$.x", unit = "Furlongs", dimensions = { A = "$.a" } }
alert = { topic = "arn:aws:sns:eu-west-1:1234:t", window = "7m", severity = "urgent", group_by = ["$.a"] }

[[rule]]
name = "nothing"
pattern = ''
"#;
        let errs = Config::from_toml(text, &no_env).expect_err("invalid");
        let shown: Vec<String> = errs.iter().map(ToString::to_string).collect();
        let expect = [
            "line 3, column 11: rule `a`: `pattern`: Invalid metric filter pattern",
            "line 9, column 36: rule `b`: the metric name `M:1` must not contain `:`",
            "line 9, column 84: rule `b`: 4 dimensions; a metric may have at most 3",
            "line 9, column 68: rule `b`: a metric with dimensions cannot have a `default`",
            "line 12, column 8: rule `b` is defined twice",
            "line 14, column 49: rule `b`: metric `value`: Invalid metric value '$.x': `$.path` needs a JSON pattern",
            "line 14, column 63: rule `b`: unknown unit `Furlongs`",
            "line 14, column 94: rule `b`: dimension `$.a`: The specified filter pattern does not support dimensions",
            "line 15, column 19: rule `b`: `arn:aws:sns:eu-west-1:1234:t` is not an SNS topic ARN",
            "line 15, column 99: rule `b`: group_by `$.a`: The specified filter pattern does not support dimensions",
            "line 15, column 60: rule `b`: `window` must be a duration",
            "line 15, column 77: rule `b`: unknown severity `urgent`",
            "line 18, column 8: rule `nothing` has neither `metric` nor `alert`",
        ];
        for (i, e) in expect.iter().enumerate() {
            assert!(
                shown.iter().any(|s| s.starts_with(e)),
                "{i}: {e}\n{}",
                shown.join("\n")
            );
        }
        assert_eq!(shown.len(), expect.len(), "{}", shown.join("\n"));
    }

    #[test]
    fn disabled_sections() {
        let c = Config::from_toml("[archive]\nenabled = false\n", &no_env).expect("config");
        assert!(c.archive.is_none());
        assert!(c.index.is_none());
    }

    #[test]
    fn size_cap() {
        let big = "#".repeat(MAX_CONFIG_BYTES + 1);
        assert!(Config::from_toml(&big, &no_env).is_err());
    }
}
