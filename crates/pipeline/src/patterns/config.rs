//! `[patterns]`: the section as written, checked into a [`PatternsConfig`].
//!
//! ```toml
//! [patterns]
//! enabled = true              # default false: documents get no pattern id
//! max_templates = 1000        # per log group (10..=100000)
//! max_group_bytes = 1048576   # estimated bytes per log group (64 KiB..=64 MiB)
//! max_total_bytes = 67108864  # estimated bytes of all log groups (1 MiB..=4 GiB)
//! warmup = "10m"              # a template is "new" only this long after its log group's first message
//! ```

use super::Limits;
use crate::error::Report;
use serde::Deserialize;
use toml::Spanned;

/// The default warm-up: ten minutes.
pub const DEFAULT_WARMUP_MS: i64 = 600_000;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPatterns {
    #[serde(default)]
    enabled: bool,
    max_templates: Option<Spanned<u64>>,
    max_group_bytes: Option<Spanned<u64>>,
    max_total_bytes: Option<Spanned<u64>>,
    warmup: Option<Spanned<String>>,
}

/// `[patterns]`: log patterns learned online per log group; index documents carry
/// `cwlogs.pattern.id`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PatternsConfig {
    /// What the miner may hold.
    pub limits: Limits,
    /// How long after a log group's first message a template first seen counts as new
    /// (milliseconds; a new deployment's templates during the warm-up are not "new").
    pub warmup_ms: i64,
}

impl Default for PatternsConfig {
    fn default() -> PatternsConfig {
        PatternsConfig {
            limits: Limits::default(),
            warmup_ms: DEFAULT_WARMUP_MS,
        }
    }
}

impl PatternsConfig {
    /// An empty miner within these limits.
    pub fn miner(&self) -> super::Miner {
        super::Miner::new(self.limits)
    }
}

/// `90s`, `10m`, `1h`, `1d` in milliseconds.
fn duration_ms(text: &str) -> Option<i64> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit())?;
    let (n, unit) = t.split_at(split);
    let n: i64 = n.parse().ok()?;
    let ms = match unit {
        "s" => 1000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return None,
    };
    n.checked_mul(ms)
}

impl RawPatterns {
    /// The section checked (every problem goes to `err`), or `None` unless `enabled = true`.
    pub(crate) fn build(self, err: &mut Report<'_>) -> Option<PatternsConfig> {
        let mut c = PatternsConfig::default();
        let mut bound =
            |v: Option<Spanned<u64>>, name: &str, lo: u64, hi: u64, into: &mut usize| {
                if let Some(v) = v {
                    match usize::try_from(*v.get_ref()) {
                        Ok(n) if (lo..=hi).contains(&(n as u64)) => *into = n,
                        _ => err(v.span(), format!("`{name}` must be between {lo} and {hi}")),
                    }
                }
            };
        bound(
            self.max_templates,
            "max_templates",
            10,
            100_000,
            &mut c.limits.max_templates,
        );
        bound(
            self.max_group_bytes,
            "max_group_bytes",
            64 << 10,
            64 << 20,
            &mut c.limits.max_group_bytes,
        );
        bound(
            self.max_total_bytes,
            "max_total_bytes",
            1 << 20,
            4 << 30,
            &mut c.limits.max_total_bytes,
        );
        if let Some(w) = self.warmup {
            match duration_ms(w.get_ref()) {
                Some(ms) if ms <= 7 * 86_400_000 => c.warmup_ms = ms,
                _ => err(
                    w.span(),
                    "`warmup` must be a duration such as `90s`, `10m`, `1h` (at most 7d)".into(),
                ),
            }
        }
        self.enabled.then_some(c)
    }
}
