//! `[index]`: the section as written, checked into an [`IndexConfig`].

use crate::error::{Invalid, Report};
use crate::index::names::IndexNamePattern;
use crate::route::{Glob, Route};
use crate::shape::ShapeConfig;
use serde::Deserialize;
use toml::Spanned;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawIndex {
    #[serde(default = "crate::util::yes")]
    enabled: bool,
    endpoint: Option<Spanned<String>>,
    auth: Option<Spanned<String>>,
    secret: Option<Spanned<String>>,
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

/// `[index]`: `_bulk` bodies for OpenSearch / Elasticsearch.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct IndexConfig {
    /// The cluster endpoint (`endpoint`, or `CWLOGS_INDEX_ENDPOINT`), `http(s)://host[:port][/path]`
    /// without a trailing `/`; local sinks ignore it.
    pub endpoint: Option<String>,
    /// How requests are authenticated (`auth`, or `CWLOGS_INDEX_AUTH`; by default inferred
    /// from the endpoint).
    pub auth: IndexAuth,
    /// The AWS Secrets Manager secret holding the credentials of `auth = "basic"` (`username`,
    /// `password`) or `auth = "api-key"` (`api_key`), as JSON (`secret`, or
    /// `CWLOGS_INDEX_SECRET`): its ARN. Read at cold start instead of the environment, and read
    /// again when the cluster answers 401 or 403 (rotation).
    pub secret: Option<String>,
    /// The index name template.
    pub index: IndexNamePattern,
    /// Whether `index` names data streams (`data_stream`, default false): the installed template
    /// then declares a data stream, and the template must not contain a date (the stream rolls
    /// over by itself).
    pub data_stream: bool,
    /// Where documents the cluster rejects for their mapping go, with the error
    /// (`quarantine_index`, default `cwl-quarantine-{yyyy.MM.dd}`).
    pub quarantine_index: IndexNamePattern,
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
    /// The index records read from S3 objects go to (`[sources.s3] index`, with `{service}`
    /// where this pattern says `{log_group}`); `None` when that source is off. The index
    /// templates cover it too.
    pub source_index: Option<IndexNamePattern>,
}

/// How `_bulk` requests are authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexAuth {
    /// SigV4 for Amazon OpenSearch Service (service `es`), with the function's credentials.
    SigV4,
    /// SigV4 for Amazon OpenSearch Serverless (service `aoss`).
    SigV4Serverless,
    /// HTTP basic auth from `secret`, else `CWLOGS_INDEX_USERNAME` and `CWLOGS_INDEX_PASSWORD`.
    Basic,
    /// `Authorization: ApiKey` from `secret`, else `CWLOGS_INDEX_API_KEY` (Elasticsearch API
    /// keys).
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
    /// `[parse]` and `[[enrich]]`: typed fields from AWS formats, multiline merging, added
    /// fields (the top-level sections, set here by the configuration check).
    pub shape: ShapeConfig,
}

impl Default for DocumentConfig {
    fn default() -> Self {
        DocumentConfig {
            json_key: Some("json".into()),
            max_depth: 10,
            max_fields: 500,
            extract: Vec::new(),
            shape: ShapeConfig::default(),
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

impl RawIndex {
    /// The section checked (every problem goes to `err`), or `None` when `enabled = false`.
    /// `env` supplies `CWLOGS_INDEX_ENDPOINT`.
    pub(crate) fn build(
        self,
        env: &dyn Fn(&str) -> Option<String>,
        err: &mut Report<'_>,
    ) -> Option<IndexConfig> {
        let i = self;
        if !i.enabled {
            return None;
        }
        let template = match &i.index {
            Some(t) => IndexNamePattern::parse(t.get_ref()).unwrap_or_else(|e| {
                err(t.span(), e.to_string());
                IndexNamePattern::default()
            }),
            None => IndexNamePattern::default(),
        };
        let endpoint = match i.endpoint {
            Some(e) => Some(check_endpoint(e.get_ref()).unwrap_or_else(|m| {
                err(e.span(), m.to_string());
                String::new()
            })),
            None => env("CWLOGS_INDEX_ENDPOINT")
                .filter(|e| !e.is_empty())
                .map(|e| check_endpoint(&e).unwrap_or(e)),
        };
        let env_auth = env("CWLOGS_INDEX_AUTH").filter(|a| !a.is_empty());
        let auth = match (&i.auth, &env_auth) {
            (Some(a), _) => IndexAuth::parse(a.get_ref()).unwrap_or_else(|| {
                err(
                    a.span(),
                    format!(
                        "unknown `auth` `{}`: use sigv4, sigv4-serverless, basic, api-key or none",
                        a.get_ref()
                    ),
                );
                IndexAuth::None
            }),
            // Not validated here (nothing from the environment is): unknown values infer.
            (None, Some(a)) => {
                IndexAuth::parse(a).unwrap_or_else(|| IndexAuth::infer(endpoint.as_deref()))
            }
            (None, None) => IndexAuth::infer(endpoint.as_deref()),
        };
        let secret = match i.secret {
            Some(s) => {
                if let Err(m) = check_secret_arn(s.get_ref()) {
                    err(s.span(), m.to_string());
                }
                if !matches!(auth, IndexAuth::Basic | IndexAuth::ApiKey) {
                    err(
                        s.span(),
                        format!(
                            "`secret` holds the credentials of `auth = \"basic\"` or `auth = \"api-key\"`, and `auth` is `{}`: set one of those",
                            auth.as_str()
                        ),
                    );
                }
                Some(s.into_inner())
            }
            None => env("CWLOGS_INDEX_SECRET").filter(|s| !s.is_empty()),
        };
        let data_stream = i.data_stream.unwrap_or(false);
        if data_stream && template.has_date() {
            err(
                i.index.as_ref().map_or(0..0, Spanned::span),
                "with `data_stream = true` the `index` template must not contain a date: the data stream rolls over by itself".into(),
            );
        }
        let quarantine_index = match i.quarantine_index {
            Some(t) => IndexNamePattern::parse(t.get_ref()).unwrap_or_else(|e| {
                err(t.span(), e.to_string());
                IndexNamePattern::quarantine()
            }),
            None => IndexNamePattern::quarantine(),
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
                } else if crate::index::document::RESERVED_FIELDS.contains(&first) {
                    err(
                        k.span(),
                        format!(
                            "`json_key` must not start with `{first}`: the document's own fields are {}",
                            crate::index::document::RESERVED_FIELDS.join(", ")
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
        Some(IndexConfig {
            endpoint,
            auth,
            secret,
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
                shape: ShapeConfig::default(),
            },
            route: Route::build(&i.log_groups, i.include, i.exclude, err),
            source_index: None,
        })
    }
}

/// Checks a Secrets Manager secret ARN: `arn:<partition>:secretsmanager:<region>:<account>:secret:<name>`.
fn check_secret_arn(arn: &str) -> Result<(), Invalid> {
    let parts: Vec<&str> = arn.splitn(7, ':').collect();
    let ok = parts.len() == 7
        && parts[0] == "arn"
        && parts[1].starts_with("aws")
        && parts[2] == "secretsmanager"
        && !parts[3].is_empty()
        && parts[4].len() == 12
        && parts[4].bytes().all(|b| b.is_ascii_digit())
        && parts[5] == "secret"
        && !parts[6].is_empty()
        && !parts[6].contains(char::is_whitespace);
    if ok {
        Ok(())
    } else {
        Err(Invalid(format!(
            "`secret` `{arn}` is not a Secrets Manager secret ARN: expected arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME"
        )))
    }
}

/// Checks an endpoint URL (`http://` or `https://`, a host, no query) and drops a trailing `/`.
fn check_endpoint(text: &str) -> Result<String, Invalid> {
    let t = text.trim().trim_end_matches('/');
    let rest = t
        .strip_prefix("https://")
        .or_else(|| t.strip_prefix("http://"))
        .ok_or_else(|| {
            Invalid(format!(
                "`endpoint` `{text}` must start with https:// or http://"
            ))
        })?;
    if rest.is_empty() || rest.starts_with(['/', ':']) || rest.contains(['?', '#', ' ']) {
        return Err(Invalid(format!(
            "`endpoint` `{text}` must be a URL such as https://search-logs-abc.eu-west-1.es.amazonaws.com"
        )));
    }
    Ok(t.to_string())
}

#[cfg(test)]
mod tests {
    use crate::Config;
    use crate::index::IndexAuth;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    const ARN: &str = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:cwlogs/elastic-AbCdEf";

    #[test]
    fn secret_with_basic_or_api_key() {
        let c = Config::from_toml(
            &format!("[index]\nendpoint = \"https://logs.es.example.com\"\nauth = \"basic\"\nsecret = \"{ARN}\"\n"),
            &no_env,
        )
        .expect("valid");
        let i = c.index.expect("index");
        assert_eq!((i.auth, i.secret.as_deref()), (IndexAuth::Basic, Some(ARN)));

        let errs = Config::from_toml(
            "[index]\nendpoint = \"https://search-x.eu-west-1.es.amazonaws.com\"\nsecret = \"arn:aws:s3:::bucket\"\n",
            &no_env,
        )
        .expect_err("invalid");
        let shown: Vec<String> = errs.iter().map(ToString::to_string).collect();
        assert_eq!(shown.len(), 2, "{shown:?}");
        assert!(
            shown[0].contains("is not a Secrets Manager secret ARN"),
            "{shown:?}"
        );
        assert!(shown[1].contains("and `auth` is `sigv4`"), "{shown:?}");
    }

    #[test]
    fn secret_and_auth_from_the_environment() {
        let env = |k: &str| match k {
            "CWLOGS_INDEX_SECRET" => Some(ARN.to_string()),
            "CWLOGS_INDEX_AUTH" => Some("api-key".to_string()),
            "CWLOGS_INDEX_ENDPOINT" => Some("https://x.es.example.com".to_string()),
            _ => None,
        };
        let c = Config::from_toml("[index]\n", &env).expect("valid");
        let i = c.index.expect("index");
        assert_eq!(
            (i.auth, i.secret.as_deref()),
            (IndexAuth::ApiKey, Some(ARN))
        );
        // The file's `auth` wins over the environment's.
        let c = Config::from_toml("[index]\nauth = \"basic\"\n", &env).expect("valid");
        assert_eq!(c.index.expect("index").auth, IndexAuth::Basic);
    }
}
