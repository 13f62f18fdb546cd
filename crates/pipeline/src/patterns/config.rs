//! `[patterns]`: the section as written, checked into a [`PatternsConfig`].
//!
//! ```toml
//! [patterns]
//! enabled = true              # default false: documents get no pattern id
//! max_templates = 1000        # per log group (10..=100000)
//! max_group_bytes = 1048576   # estimated bytes per log group (64 KiB..=64 MiB)
//! max_total_bytes = 67108864  # estimated bytes of all log groups (1 MiB..=4 GiB)
//! warmup = "10m"              # a template is "new" only this long after its log group's first message
//!
//! [patterns.new_alert]        # alert on new patterns (off unless the table is given)
//! severity = "low"            # as a rule's `alert`: topic, severity, window ("1h"),
//! window = "1h"               #   max_per_window (1), rate ({ burst = 20, interval = "1h" })
//!
//! [patterns.surge_alert]      # alert on surges (off unless the table is given)
//! factor = 5.0                # this minute's count >= factor x baseline (1.5..=1000)
//! min_count = 20              # ... and >= min_count (1..=1000000)
//! baseline = "30m"            # span of the baseline's moving average (5m..=1d)
//! severity = "medium"         # plus topic, window, max_per_window, rate as above
//! ```
//!
//! Pattern alerts go out as the alerts of two built-in rules, `patterns-new` and
//! `patterns-surge` (names no `[[rule]]` may take while they are on), through the alert
//! machinery of [`crate::rules::alert`]: windows, summaries, rate limits, `[alerts] table`.

use super::Limits;
use crate::error::Report;
use serde::Deserialize;
use toml::Spanned;

/// The default warm-up: ten minutes.
pub const DEFAULT_WARMUP_MS: i64 = 600_000;

/// The name of the built-in rule of new-pattern alerts.
pub const NEW_RULE: &str = "patterns-new";
/// The name of the built-in rule of surge alerts.
pub const SURGE_RULE: &str = "patterns-surge";
/// The default surge factor.
pub const DEFAULT_SURGE_FACTOR: f64 = 5.0;
/// The default least count of a surge minute.
pub const DEFAULT_SURGE_MIN_COUNT: u64 = 20;
/// The default span of the surge baseline: thirty minutes.
pub const DEFAULT_SURGE_BASELINE_MS: i64 = 1_800_000;
/// The default window of pattern alerts: an hour.
pub const DEFAULT_PATTERN_WINDOW_MS: i64 = 3_600_000;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPatterns {
    #[serde(default)]
    enabled: bool,
    max_templates: Option<Spanned<u64>>,
    max_group_bytes: Option<Spanned<u64>>,
    max_total_bytes: Option<Spanned<u64>>,
    warmup: Option<Spanned<String>>,
    new_alert: Option<Spanned<RawPatternAlert>>,
    surge_alert: Option<Spanned<RawPatternAlert>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPatternAlert {
    topic: Option<Spanned<String>>,
    severity: Option<Spanned<String>>,
    window: Option<Spanned<String>>,
    max_per_window: Option<Spanned<u32>>,
    rate: Option<Spanned<RawRate>>,
    factor: Option<Spanned<f64>>,
    min_count: Option<Spanned<u64>>,
    baseline: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRate {
    burst: u32,
    interval: String,
}

/// How a pattern alert goes out: what a rule's `alert = { ... }` says, without `group_by`
/// (pattern alerts are grouped by log group and pattern).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PatternAlert {
    /// `topic`; `None`: `[alerts] topic` or `CWLOGS_ALERT_TOPIC`.
    pub topic: Option<String>,
    /// `severity` (default `low` for new patterns, `medium` for surges).
    pub severity: crate::rules::Severity,
    /// `window` (default 1 hour).
    pub window_ms: i64,
    /// `max_per_window` (default 1): per log group and pattern.
    pub max_per_window: u32,
    /// `rate` (default 20 per hour): every log group and pattern together.
    pub rate: crate::rules::RateLimit,
}

/// When a pattern's minute is a surge.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct Surge {
    /// `factor`: the minute's count is at least this many times the baseline.
    pub factor: f64,
    /// `min_count`: and at least this many messages.
    pub min_count: u64,
    /// `baseline`: the span (ms) of the exponentially weighted moving average of the pattern's
    /// per-minute counts (smoothing `2 / (minutes + 1)`); a pattern known for less than this
    /// has no baseline yet and never surges.
    pub baseline_ms: i64,
}

impl Default for Surge {
    fn default() -> Surge {
        Surge {
            factor: DEFAULT_SURGE_FACTOR,
            min_count: DEFAULT_SURGE_MIN_COUNT,
            baseline_ms: DEFAULT_SURGE_BASELINE_MS,
        }
    }
}

/// `[patterns]`: log patterns learned online per log group; index documents carry
/// `cwlogs.pattern.id`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct PatternsConfig {
    /// What the miner may hold.
    pub limits: Limits,
    /// How long after a log group's first message a template first seen counts as new
    /// (milliseconds; a new deployment's templates during the warm-up are not "new").
    pub warmup_ms: i64,
    /// `[patterns.new_alert]`: alerts for new patterns (`None`: off).
    pub new_alert: Option<PatternAlert>,
    /// `[patterns.surge_alert]`: alerts for surges (`None`: off).
    pub surge_alert: Option<PatternAlert>,
    /// When a minute is a surge (`[patterns.surge_alert]` `factor`, `min_count`, `baseline`).
    pub surge: Surge,
}

impl Default for PatternsConfig {
    fn default() -> PatternsConfig {
        PatternsConfig {
            limits: Limits::default(),
            warmup_ms: DEFAULT_WARMUP_MS,
            new_alert: None,
            surge_alert: None,
            surge: Surge::default(),
        }
    }
}

impl PatternsConfig {
    /// An empty miner within these limits.
    pub fn miner(&self) -> super::Miner {
        super::Miner::new(self.limits)
    }

    /// Whether new-pattern or surge alerts are on.
    pub fn alerts(&self) -> bool {
        self.new_alert.is_some() || self.surge_alert.is_some()
    }

    /// The built-in rules the pattern alerts go out as ([`NEW_RULE`], [`SURGE_RULE`]), those
    /// that are on; `default_topic` for those without a `topic`.
    pub fn alert_rules(&self, default_topic: Option<&str>) -> Vec<crate::rules::Rule> {
        let mut out = Vec::new();
        for (name, a) in [(NEW_RULE, &self.new_alert), (SURGE_RULE, &self.surge_alert)] {
            let Some(a) = a else { continue };
            let Ok(pattern) = cwlogs_filter::Pattern::new("") else {
                continue;
            };
            out.push(crate::rules::Rule {
                name: name.to_string(),
                pattern,
                log_groups: Vec::new(),
                metric: None,
                alert: Some(crate::rules::AlertRule {
                    topic: a
                        .topic
                        .clone()
                        .or_else(|| default_topic.map(str::to_string)),
                    group_by: vec![crate::rules::GroupKey::LogGroup],
                    window_ms: a.window_ms,
                    max_per_window: a.max_per_window,
                    severity: a.severity,
                    rate: a.rate,
                }),
            });
        }
        out
    }
}

impl RawPatternAlert {
    /// The alert settings checked (`what`: the table's name, for messages); the surge
    /// settings into `surge` when `surge` is given, an error for them otherwise.
    fn build(
        self,
        what: &str,
        severity: crate::rules::Severity,
        surge: Option<&mut Surge>,
        err: &mut Report<'_>,
    ) -> PatternAlert {
        use crate::rules::{RateLimit, Severity, check_topic_arn, parse_duration};
        let mut a = PatternAlert {
            topic: None,
            severity,
            window_ms: DEFAULT_PATTERN_WINDOW_MS,
            max_per_window: 1,
            rate: RateLimit::default(),
        };
        if let Some(t) = self.topic {
            if let Err(m) = check_topic_arn(t.get_ref()) {
                err(t.span(), format!("`[patterns.{what}] topic`: {m}"));
            }
            a.topic = Some(t.into_inner());
        }
        if let Some(s) = self.severity {
            match Severity::parse(s.get_ref()) {
                Some(v) => a.severity = v,
                None => err(
                    s.span(),
                    format!(
                        "`[patterns.{what}] severity`: unknown severity `{}`: use info, low, medium, high or critical",
                        s.get_ref()
                    ),
                ),
            }
        }
        if let Some(w) = self.window {
            match parse_duration(w.get_ref()) {
                Some(ms) if (60_000..=86_400_000).contains(&ms) && 86_400_000 % ms == 0 => {
                    a.window_ms = ms
                }
                _ => err(
                    w.span(),
                    format!(
                        "`[patterns.{what}] window` must be a duration from 1m to 1d that divides a day, such as `5m` or `1h`"
                    ),
                ),
            }
        }
        if let Some(m) = self.max_per_window {
            if (1..=100).contains(m.get_ref()) {
                a.max_per_window = *m.get_ref();
            } else {
                err(
                    m.span(),
                    format!("`[patterns.{what}] max_per_window` must be between 1 and 100"),
                );
            }
        }
        if let Some(r) = self.rate {
            let interval = parse_duration(&r.get_ref().interval)
                .filter(|ms| (1000..=7 * 86_400_000).contains(ms));
            match (r.get_ref().burst, interval) {
                (1..=10_000, Some(interval_ms)) => {
                    a.rate = RateLimit {
                        burst: r.get_ref().burst,
                        interval_ms,
                    }
                }
                _ => err(
                    r.span(),
                    format!(
                        "`[patterns.{what}] rate` needs `burst` from 1 to 10000 and an `interval` from 1s to 7d"
                    ),
                ),
            }
        }
        let only_surge = |span: std::ops::Range<usize>, key: &str, err: &mut Report<'_>| {
            err(
                span,
                format!(
                    "`{key}` is a setting of `[patterns.surge_alert]`, not of `[patterns.{what}]`"
                ),
            )
        };
        match surge {
            Some(surge) => {
                if let Some(f) = self.factor {
                    if f.get_ref().is_finite() && (1.5..=1000.0).contains(f.get_ref()) {
                        surge.factor = *f.get_ref();
                    } else {
                        err(f.span(), "`factor` must be between 1.5 and 1000".into());
                    }
                }
                if let Some(m) = self.min_count {
                    if (1..=1_000_000).contains(m.get_ref()) {
                        surge.min_count = *m.get_ref();
                    } else {
                        err(m.span(), "`min_count` must be between 1 and 1000000".into());
                    }
                }
                if let Some(b) = self.baseline {
                    match parse_duration(b.get_ref()) {
                        Some(ms) if (300_000..=86_400_000).contains(&ms) && ms % 60_000 == 0 => {
                            surge.baseline_ms = ms
                        }
                        _ => err(
                            b.span(),
                            "`baseline` must be whole minutes from 5m to 1d, such as `30m`".into(),
                        ),
                    }
                }
            }
            None => {
                if let Some(f) = self.factor {
                    only_surge(f.span(), "factor", err);
                }
                if let Some(m) = self.min_count {
                    only_surge(m.span(), "min_count", err);
                }
                if let Some(b) = self.baseline {
                    only_surge(b.span(), "baseline", err);
                }
            }
        }
        a
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
        if let Some(n) = self.new_alert {
            c.new_alert =
                Some(
                    n.into_inner()
                        .build("new_alert", crate::rules::Severity::Low, None, err),
                );
        }
        if let Some(s) = self.surge_alert {
            let mut surge = c.surge;
            c.surge_alert = Some(s.into_inner().build(
                "surge_alert",
                crate::rules::Severity::Medium,
                Some(&mut surge),
                err,
            ));
            c.surge = surge;
        }
        self.enabled.then_some(c)
    }
}
