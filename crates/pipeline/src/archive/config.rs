//! `[archive]`: the section as written, checked into an [`ArchiveConfig`].

use crate::error::Report;
use crate::route::Route;
use serde::Deserialize;
use toml::Spanned;
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawArchive {
    #[serde(default = "crate::util::yes")]
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

impl RawArchive {
    /// The section checked (every problem goes to `err`), or `None` when `enabled = false`.
    /// `env` supplies `CWLOGS_ARCHIVE_BUCKET` and `CWLOGS_ARCHIVE_KMS_KEY`.
    pub(crate) fn build(
        self,
        env: &dyn Fn(&str) -> Option<String>,
        err: &mut Report<'_>,
    ) -> Option<ArchiveConfig> {
        let a = self;
        if !a.enabled {
            return None;
        }
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
        Some(ArchiveConfig {
            bucket: a.bucket.or_else(|| env("CWLOGS_ARCHIVE_BUCKET")),
            prefix,
            kms_key_id,
            dead_letter_prefix,
            gzip_level,
            route: Route::build(&a.log_groups, a.include, a.exclude, err),
        })
    }
}
