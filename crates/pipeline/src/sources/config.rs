//! `[sources.s3]`: the section as written, checked into an [`S3SourceConfig`].

use crate::error::{Invalid, Report};
use crate::index::IndexNamePattern;
use serde::Deserialize;
use toml::Spanned;

/// The default index of records read from S3 objects.
pub const DEFAULT_S3_INDEX: &str = "cwl-s3-{service}-{yyyy.MM.dd}";

/// The default with `[index] data_stream = true`: data streams roll over by themselves.
pub const DEFAULT_S3_DATA_STREAM: &str = "cwl-s3-{service}";

/// The default cap on an object's stored size: 2 GiB.
pub const DEFAULT_MAX_OBJECT_BYTES: u64 = 2 << 30;

/// The default cap on what an object decompresses to: 8 GiB.
pub const DEFAULT_MAX_DECOMPRESSED_BYTES: u64 = 8 << 30;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSources {
    s3: Option<RawS3>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawS3 {
    #[serde(default = "crate::util::yes")]
    enabled: bool,
    index: Option<Spanned<String>>,
    max_object_bytes: Option<Spanned<u64>>,
    max_decompressed_bytes: Option<Spanned<u64>>,
}

/// `[sources]`: where logs come from besides CloudWatch Logs subscriptions.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SourcesConfig {
    /// `[sources.s3]`: logs AWS services deliver to S3 (CloudTrail, VPC flow logs, load
    /// balancer and WAF logs); `None` when `enabled = false`.
    pub s3: Option<S3SourceConfig>,
}

impl Default for SourcesConfig {
    fn default() -> Self {
        SourcesConfig {
            s3: Some(S3SourceConfig::default()),
        }
    }
}

/// `[sources.s3]`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct S3SourceConfig {
    /// Where the records go (`index`, default `cwl-s3-{service}-{yyyy.MM.dd}`).
    pub index: SourceIndex,
    /// The largest object read, as stored (`max_object_bytes`, default 2 GiB): a larger one is
    /// refused before it is read.
    pub max_object_bytes: u64,
    /// The most bytes an object may decompress to (`max_decompressed_bytes`, default 8 GiB).
    pub max_decompressed_bytes: u64,
    /// Whether `index` was written (else the default applies: `cwl-s3-{service}` with
    /// `[index] data_stream = true`).
    pub(crate) index_given: bool,
}

impl Default for S3SourceConfig {
    fn default() -> Self {
        S3SourceConfig {
            index: SourceIndex::parse(DEFAULT_S3_INDEX).expect("the default is valid"),
            max_object_bytes: DEFAULT_MAX_OBJECT_BYTES,
            max_decompressed_bytes: DEFAULT_MAX_DECOMPRESSED_BYTES,
            index_given: false,
        }
    }
}

/// The index name pattern of S3 records: `{service}` (the service segment of the key, or of
/// the format: `cloudtrail`, `vpcflowlogs`, `elasticloadbalancing`, `waflogs`), `{account}`,
/// `{region}` and a date of the record's time (`{yyyy.MM.dd}`, ...), made valid as
/// [`IndexNamePattern`] makes names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceIndex {
    text: String,
    pattern: IndexNamePattern,
}

impl SourceIndex {
    /// Parses a pattern; the error names the wrong placeholder.
    pub fn parse(text: &str) -> Result<SourceIndex, Invalid> {
        let mut rest = text;
        while let Some(open) = rest.find('{') {
            let Some(close) = rest[open..].find('}') else {
                break;
            };
            let name = &rest[open + 1..open + close];
            if name == "log_group" || name == "owner" {
                return Err(Invalid(format!(
                    "`{{{name}}}` is not a placeholder of `[sources.s3] index`: use {{service}}, {{account}}, {{region}} or a date such as {{yyyy.MM.dd}}"
                )));
            }
            rest = &rest[open + close + 1..];
        }
        let pattern = IndexNamePattern::parse(&text.replace("{service}", "{log_group}"))
            .map_err(|e| Invalid(e.0.replace("{log_group}", "{service}")))?;
        Ok(SourceIndex {
            text: text.to_string(),
            pattern,
        })
    }

    /// The pattern as written.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The pattern, with `{service}` standing where [`IndexNamePattern`] has `{log_group}`.
    pub fn pattern(&self) -> &IndexNamePattern {
        &self.pattern
    }

    /// The index of a record of `service` in `account` and `region` at `timestamp`.
    pub fn render(&self, service: &str, account: &str, region: &str, timestamp: i64) -> String {
        self.pattern.render_for(account, service, region, timestamp)
    }
}

impl RawSources {
    /// The section checked (every problem goes to `err`).
    pub(crate) fn build(self, err: &mut Report<'_>) -> SourcesConfig {
        let Some(s3) = self.s3 else {
            return SourcesConfig::default();
        };
        if !s3.enabled {
            return SourcesConfig { s3: None };
        }
        let mut out = S3SourceConfig::default();
        if let Some(t) = s3.index {
            match SourceIndex::parse(t.get_ref()) {
                Ok(i) => {
                    out.index = i;
                    out.index_given = true;
                }
                Err(e) => err(t.span(), format!("`index`: {e}")),
            }
        }
        if let Some(m) = s3.max_object_bytes {
            match *m.get_ref() {
                v @ 1024..=5_497_558_138_880 => out.max_object_bytes = v,
                _ => err(
                    m.span(),
                    "`max_object_bytes` must be between 1024 and 5497558138880 (5 TiB)".into(),
                ),
            }
        }
        if let Some(m) = s3.max_decompressed_bytes {
            match *m.get_ref() {
                v @ 1024..=u64::MAX => out.max_decompressed_bytes = v,
                _ => err(
                    m.span(),
                    "`max_decompressed_bytes` must be at least 1024".into(),
                ),
            }
        }
        SourcesConfig { s3: Some(out) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_patterns() {
        let i = SourceIndex::parse(DEFAULT_S3_INDEX).expect("valid");
        assert_eq!(
            i.render("cloudtrail", "123456789012", "eu-west-1", 1_764_028_800_000),
            "cwl-s3-cloudtrail-2025.11.25"
        );
        let i = SourceIndex::parse("logs-{account}-{service}-{region}").expect("valid");
        assert_eq!(
            i.render("vpcflowlogs", "1", "us-east-1", 0),
            "logs-1-vpcflowlogs-us-east-1"
        );
        for bad in ["x-{log_group}", "x-{nope}", "x-{", ""] {
            assert!(SourceIndex::parse(bad).is_err(), "{bad}");
        }
        let e = SourceIndex::parse("x-{nope}").expect_err("unknown");
        assert!(
            e.0.contains("{service}") && !e.0.contains("{log_group}"),
            "{e}"
        );
    }
}
