//! The configuration file: TOML, checked once into a typed [`Config`].
//!
//! This module holds the file's top level and the order of the checks; each section checks
//! itself where its settings are used (`[archive]` in [`crate::archive`], `[index]` in
//! [`crate::index`], `[parse]` and `[[enrich]]` in [`crate::shape`], `[[rule]]`, `packs` and
//! `[alerts]` in [`crate::rules`]), reporting every
//! problem with its position, so that one run shows them all. A new section is a `Raw*`
//! struct with a `build` method in its own module and one field here.

use crate::archive::{ArchiveConfig, RawArchive};
use crate::error::NOWHERE;
use crate::index::{IndexConfig, RawIndex};
use crate::patterns::{PatternsConfig, RawPatterns};
use crate::rules::{RawAlerts, RawRule, RuleSet};
use crate::shape::{RawEnrichList, RawParse};
use crate::sources::{RawSources, SourcesConfig};
use serde::Deserialize;
use toml::Spanned;

pub use crate::error::ConfigError;

mod items;

/// The largest configuration file accepted, in bytes.
pub const MAX_CONFIG_BYTES: usize = 1 << 20;

/// The configuration used when none is given: archive and index every event. An empty file
/// means the same: a destination section that is absent has its defaults, and only `enabled =
/// false` turns one off ([`SectionState`]).
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
    parse: Option<RawParse>,
    enrich: Option<RawEnrichList>,
    alerts: Option<RawAlerts>,
    #[serde(default)]
    packs: Vec<Spanned<toml::Value>>,
    #[serde(default)]
    rule: Vec<RawRule>,
    #[serde(default)]
    sources: RawSources,
    #[serde(default)]
    patterns: RawPatterns,
    redact: Option<crate::redact::RawRedact>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawDecode {
    max_decompressed_bytes: Option<Spanned<u64>>,
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
    /// Archive settings; `None` when archiving is off (`[archive] enabled = false`).
    pub archive: Option<ArchiveConfig>,
    /// How the file set `[archive]`: in the file, absent (its defaults), or turned off.
    pub archive_state: SectionState,
    /// Index settings; `None` when indexing is off (`[index] enabled = false`).
    pub index: Option<IndexConfig>,
    /// How the file set `[index]`: in the file, absent (its defaults), or turned off.
    pub index_state: SectionState,
    /// `[[rule]]`s (in file order, after the packs' rules) and `[alerts]`.
    pub rules: RuleSet,
    /// `[sources]`: logs read from S3 objects (`[sources.s3]`, on by default).
    pub sources: SourcesConfig,
    /// `[patterns]`: log patterns (`None` unless `enabled = true`): index documents carry
    /// `cwlogs.pattern.id` when the caller passes a miner to
    /// [`crate::process_batch_with`].
    pub patterns: Option<PatternsConfig>,
    /// `[redact]` (issue 19); `None` when the section is absent. With `apply_to` taking the
    /// index, the same redactor is in the index's document settings.
    pub redact: Option<std::sync::Arc<crate::redact::Redactor>>,
    /// The log group the function itself writes to (`AWS_LAMBDA_LOG_GROUP_NAME`): its events
    /// are never processed, whatever the subscription says, so that a function subscribed to
    /// its own logs (or the EMF lines it prints) cannot feed itself.
    pub own_log_group: Option<String>,
}

/// How a configuration sets a destination section (`[archive]`, `[index]`). A section that is
/// absent means its defaults, so that a file of `[[rule]]`s alone still archives and indexes;
/// `enabled = false` is the one way to turn a destination off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SectionState {
    /// The section is in the file (and not `enabled = false`): on, with its settings.
    Configured,
    /// The file has no such section: on, with the section's defaults.
    Default,
    /// `enabled = false`: off.
    Disabled,
}

impl SectionState {
    fn of(given: bool, on: bool) -> SectionState {
        match (given, on) {
            (_, false) => SectionState::Disabled,
            (true, true) => SectionState::Configured,
            (false, true) => SectionState::Default,
        }
    }

    /// Whether the destination is on.
    pub fn is_on(self) -> bool {
        self != SectionState::Disabled
    }

    /// `on` or `off`, and why, for `section` (`archive`, `index`): what `cwlogs replay` and
    /// `cwlogs check-config` print.
    pub fn describe(self, section: &str) -> String {
        match self {
            SectionState::Configured => format!("on ([{section}] in the configuration)"),
            SectionState::Default => format!("on (no [{section}] section: its defaults)"),
            SectionState::Disabled => format!("off ([{section}] enabled = false)"),
        }
    }
}

/// A section that the file does not have, as if it were written empty: its defaults (serde's,
/// `enabled` included).
fn absent<T: serde::de::DeserializeOwned>() -> T {
    T::deserialize(toml::de::ValueDeserializer::new("{}")).expect("every section can be empty")
}

/// 1-based line and column of byte offset `at` in `text`.
fn line_col(text: &str, at: usize) -> (usize, usize) {
    let before = &text.as_bytes()[..at.min(text.len())];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let col = before.iter().rev().take_while(|&&b| b != b'\n').count() + 1;
    (line, col)
}

impl Config {
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
        // Every unknown key and mistyped value, then (on what is left) every section's checks.
        let read = items::deserialize_all::<RawConfig>(text);
        let mut errors: Vec<ConfigError> = read
            .found
            .into_iter()
            .map(|(span, message)| ConfigError {
                position: span.map(|s| line_col(text, s.start)),
                message,
            })
            .collect();
        let Some(raw) = read.value else {
            return Err(errors);
        };
        let placeholders = read.placeholders;
        let mut err = |span: std::ops::Range<usize>, message: String| {
            // What the checks say about a placeholder of a mistyped value (reported above).
            if placeholders.iter().any(|p| p.contains(&span.start)) {
                return;
            }
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

        let archive_given = raw.archive.is_some();
        let archive = raw.archive.unwrap_or_else(absent).build(env, &mut err);
        let archive_state = SectionState::of(archive_given, archive.is_some());
        let index_given = raw.index.is_some();
        let mut index = raw.index.unwrap_or_else(absent).build(env, &mut err);
        let index_state = SectionState::of(index_given, index.is_some());
        // `[parse]` and `[[enrich]]` shape what is indexed: checked here (an enrichment field
        // must not take the `json_key` object), kept with the document settings.
        let json_root = index
            .as_ref()
            .and_then(|i| i.documents.json_key.as_deref())
            .map(|k| k.split('.').next().unwrap_or(k).to_string());
        let shape =
            crate::shape::config::build(raw.parse, raw.enrich, json_root.as_deref(), &mut err);
        if let Some(i) = &mut index {
            i.documents.shape = shape;
        }
        let redact = crate::redact::build(raw.redact, &mut err).map(std::sync::Arc::new);
        if let (Some(i), Some(r)) = (&mut index, &redact)
            && r.apply_to.index
        {
            i.documents.shape.redact = Some(r.clone());
        }
        let mut sources = raw.sources.build(&mut err);
        if let (Some(i), Some(s3)) = (&mut index, &mut sources.s3) {
            if i.data_stream && s3.index.pattern().has_date() {
                if s3.index_given {
                    err(
                        NOWHERE,
                        "with `[index] data_stream = true`, `[sources.s3] index` names data streams too and must not contain a date".into(),
                    );
                } else if let Ok(streams) = crate::sources::SourceIndex::parse(
                    crate::sources::config::DEFAULT_S3_DATA_STREAM,
                ) {
                    s3.index = streams;
                }
            }
            i.source_index = Some(s3.index.pattern().clone());
        }
        let patterns = raw.patterns.build(&mut err);
        let own_log_group = env("AWS_LAMBDA_LOG_GROUP_NAME").filter(|g| !g.is_empty());
        let mut rules = crate::rules::build_config(
            raw.rule,
            &raw.packs,
            raw.alerts,
            own_log_group.clone(),
            env,
            &mut err,
        );
        if let Some(p) = &patterns {
            rules.pattern_rules = p.alert_rules(rules.alerts.default_topic.as_deref());
            for r in rules.iter() {
                if rules.pattern_rules.iter().any(|p| p.name == r.name) {
                    err(
                        NOWHERE,
                        format!(
                            "rule name `{}` is taken by the `[patterns]` alerts: rename the rule",
                            r.name
                        ),
                    );
                }
            }
        }
        if let Some(r) = &redact {
            rules.redact_alerts = r.apply_to.alerts.then(|| r.clone());
            rules.redact_metrics = r.apply_to.metrics.then(|| r.clone());
        }

        if errors.is_empty() {
            Ok(Config {
                region,
                limits,
                archive,
                archive_state,
                index,
                index_state,
                rules,
                sources,
                redact,
                patterns,
                own_log_group,
            })
        } else {
            Err(errors)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::IndexAuth;
    use crate::rules::{GroupKey, RateLimit, Severity};

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
        // At the fault inside the pattern (`*`), not at the string's start.
        assert_eq!(errs[0].position, Some((5, 15)));
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
        assert_eq!(c.rules.alerts.table.as_deref(), Some("cwlogs-alerts"));
        assert_eq!(c.rules.alerts.grace_ms, 60_000);
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
            // At the fault inside the pattern: the missing value before `}`.
            "line 3, column 20: rule `a`: `pattern`: Invalid metric filter pattern",
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

    /// Every mistake at once (issue 24): every unknown key, a rule whose name is mistyped or
    /// invalid still checked, a bad pattern hiding none of its rule's other problems and
    /// pointed at where it goes wrong.
    #[test]
    fn every_mistake_at_once() {
        let text = r#"[archive]
bukket = "x"
prefx = "y"

[index]
indx = "z"

[[rule]]
name = 7
pattern = 'ERROR'
metric = { namespace = "N", name = "M:1" }

[[rule]]
name = "bad name!"
pattern = '{ $.x = }'
metric = { namespace = "AWS/N", name = "M", unitt = "Count" }
alert = { window = "7m" }
"#;
        let errs = Config::from_toml(text, &no_env).expect_err("invalid");
        let shown: Vec<String> = errs.iter().map(ToString::to_string).collect();
        let expect = [
            "line 2, column 1: unknown field `bukket`",
            "line 3, column 1: unknown field `prefx`",
            "line 6, column 1: unknown field `indx`",
            "line 9, column 8: invalid type: integer `7`, expected a string",
            "line 16, column 45: unknown field `unitt`",
            "line 11, column 36: rule `7`: the metric name `M:1` must not contain `:`",
            "line 14, column 8: rule name `bad name!` must be",
            "line 15, column 20: rule `bad name!`: `pattern`: Invalid metric filter pattern",
            "line 16, column 24: rule `bad name!`: namespaces starting with `AWS/` are reserved",
            "line 17, column 20: rule `bad name!`: `window` must be a duration",
        ];
        for (i, e) in expect.iter().enumerate() {
            assert!(
                shown.get(i).is_some_and(|s| s.starts_with(e)),
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
        assert_eq!(c.archive_state, SectionState::Disabled);
        // An absent section has its defaults: only `enabled = false` turns one off.
        assert!(c.index.is_some());
        assert_eq!(c.index_state, SectionState::Default);
        let c = Config::from_toml(
            "[index]\nenabled = false\n[archive]\nprefix = \"x\"\n",
            &no_env,
        )
        .expect("config");
        assert!(c.index.is_none() && c.archive.is_some());
        assert_eq!(
            (c.archive_state, c.index_state),
            (SectionState::Configured, SectionState::Disabled)
        );
        assert_eq!(
            c.index_state.describe("index"),
            "off ([index] enabled = false)"
        );
    }

    #[test]
    fn absent_sections_mean_their_defaults() {
        // A configuration of rules alone still archives and indexes, as the built-in one does.
        let rules_only = "[[rule]]\nname = \"errors\"\npattern = 'ERROR'\nmetric = { namespace = \"App\", name = \"Errors\" }\n";
        let builtin = Config::builtin(&no_env);
        for text in ["", rules_only] {
            let c = Config::from_toml(text, &no_env).expect("valid");
            let (a, i) = (c.archive.expect("archive on"), c.index.expect("index on"));
            let (ba, bi) = (builtin.archive.as_ref(), builtin.index.as_ref());
            assert_eq!(Some(&a.prefix), ba.map(|a| &a.prefix));
            assert_eq!(Some(a.gzip_level), ba.map(|a| a.gzip_level));
            assert_eq!(
                Some(&a.dead_letter_prefix),
                ba.map(|a| &a.dead_letter_prefix)
            );
            assert_eq!(
                Some(&i.index),
                bi.map(|i| &i.index),
                "the default index name"
            );
            assert_eq!(Some(i.max_bulk_bytes), bi.map(|i| i.max_bulk_bytes));
            assert_eq!(
                (c.archive_state, c.index_state),
                (SectionState::Default, SectionState::Default)
            );
        }
        // The environment still fills what a default section reads from it.
        let env = |k: &str| (k == "CWLOGS_ARCHIVE_BUCKET").then(|| "b".to_string());
        let c = Config::from_toml(rules_only, &env).expect("valid");
        assert_eq!(c.archive.and_then(|a| a.bucket).as_deref(), Some("b"));
        let builtin = Config::builtin(&no_env);
        assert_eq!(
            (builtin.archive_state, builtin.index_state),
            (SectionState::Configured, SectionState::Configured)
        );
    }

    #[test]
    fn size_cap() {
        let big = "#".repeat(MAX_CONFIG_BYTES + 1);
        assert!(Config::from_toml(&big, &no_env).is_err());
    }
}
