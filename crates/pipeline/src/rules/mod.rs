//! Rules (`[[rule]]`): a CloudWatch filter pattern over some log groups that turns matches into
//! a metric ([`crate::rules::metrics`], Embedded Metric Format) and/or alerts ([`crate::rules::alert`], SNS).
//!
//! ```toml
//! [[rule]]
//! name = "access-denied"
//! pattern = '{ $.errorCode = "AccessDenied" }'
//! log_groups = ["/aws/cloudtrail/*"]
//! metric = { namespace = "Security", name = "AccessDenied", value = "1", default = 0, unit = "Count" }
//! alert = { topic = "arn:aws:sns:eu-west-1:123456789012:security", group_by = ["$.userIdentity.arn"], window = "5m", max_per_window = 3 }
//! ```
//!
//! Validation follows CloudWatch's `PutMetricFilter`: metric names and namespaces at most 255
//! characters without `:`, `*` or `$`; at most 3 dimensions, each a field reference the
//! pattern can extract (`$.path` for JSON patterns, `$name` / `$N` for space-delimited ones),
//! and no `default` together with dimensions; `unit` one of CloudWatch's standard units.

//!
//! Where the pieces live: `config.rs` checks the sections, [`packs`] holds the built-in rule
//! packs, [`evaluate`] runs the rules over batches, [`metrics`] turns matches into EMF
//! lines, and [`alert`] turns them into SNS messages with their state in a
//! [`crate::sink::StateStore`].

pub mod alert;
mod config;
pub mod evaluate;
pub mod metrics;
pub mod packs;

pub(crate) use config::{RawAlerts, RawRule, build as build_config};

use crate::error::Invalid;
use crate::route::Glob;
use cwlogs_filter::{Message, MetricValue, Pattern, PatternSet};

/// The most dimensions a metric may have (CloudWatch metric filters).
pub const MAX_DIMENSIONS: usize = 3;
/// The most `group_by` entries an alert may have.
pub const MAX_GROUP_BY: usize = 5;
/// Longest metric name, namespace, dimension name or dimension value, in characters.
pub const MAX_METRIC_TEXT: usize = 255;
/// Longest rule name.
pub const MAX_RULE_NAME: usize = 64;

/// CloudWatch's `StandardUnit` values.
pub const STANDARD_UNITS: &[&str] = &[
    "Seconds",
    "Microseconds",
    "Milliseconds",
    "Bytes",
    "Kilobytes",
    "Megabytes",
    "Gigabytes",
    "Terabytes",
    "Bits",
    "Kilobits",
    "Megabits",
    "Gigabits",
    "Terabits",
    "Percent",
    "Count",
    "Bytes/Second",
    "Kilobytes/Second",
    "Megabytes/Second",
    "Gigabytes/Second",
    "Terabytes/Second",
    "Bits/Second",
    "Kilobits/Second",
    "Megabits/Second",
    "Gigabits/Second",
    "Terabits/Second",
    "Count/Second",
    "None",
];

/// One validated `[[rule]]`.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Rule {
    /// Unique name: letters, digits, `-`, `_` and `.`, at most [`MAX_RULE_NAME`].
    pub name: String,
    /// The filter pattern.
    pub pattern: Pattern,
    /// Log-group globs; empty means every group.
    pub log_groups: Vec<Glob>,
    /// The metric published for matches.
    pub metric: Option<MetricRule>,
    /// The alert sent for matches.
    pub alert: Option<AlertRule>,
}

impl Rule {
    /// Whether the rule looks at events of `log_group`.
    pub fn takes_group(&self, log_group: &str) -> bool {
        self.log_groups.is_empty() || self.log_groups.iter().any(|g| g.matches(log_group))
    }
}

/// `metric = { ... }`: CloudWatch metric-filter semantics.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct MetricRule {
    /// `namespace`.
    pub namespace: String,
    /// `name`.
    pub name: String,
    /// `value` (`metricValue`): a number, `$.path` or `$field` (default `1`).
    pub value: MetricValue,
    /// `default` (`defaultValue`): published once per minute in which the rule's log groups
    /// had events but none matched.
    pub default: Option<f64>,
    /// `unit` (a CloudWatch standard unit); `None` publishes without a unit.
    pub unit: Option<String>,
    /// `dimensions`: name and the field its value comes from, sorted by name.
    pub dimensions: Vec<(String, MetricValue)>,
}

/// What an alert is grouped by.
#[derive(Debug, Clone, PartialEq)]
pub enum GroupKey {
    /// A field of the event (`$.path`, `$name`, `$N`).
    Field(MetricValue),
    /// `@log_group`.
    LogGroup,
    /// `@log_stream`.
    LogStream,
}

impl GroupKey {
    /// The key as written in the configuration.
    pub fn source(&self) -> &str {
        match self {
            GroupKey::Field(v) => v.source(),
            GroupKey::LogGroup => "@log_group",
            GroupKey::LogStream => "@log_stream",
        }
    }

    /// The key's value for one matching event; `-` when the field is missing.
    pub fn value(
        &self,
        pattern: &Pattern,
        message: &Message<'_>,
        log_group: &str,
        log_stream: &str,
    ) -> String {
        match self {
            GroupKey::Field(v) => pattern
                .field_text(message, v)
                .unwrap_or_else(|| "-".to_string()),
            GroupKey::LogGroup => log_group.to_string(),
            GroupKey::LogStream => log_stream.to_string(),
        }
    }
}

/// How important an alert is; sent as the `severity` message attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// `info`.
    Info,
    /// `low`.
    Low,
    /// `medium` (the default).
    Medium,
    /// `high`.
    High,
    /// `critical`.
    Critical,
}

impl Severity {
    /// Parses `info`, `low`, `medium`, `high` or `critical`.
    pub fn parse(text: &str) -> Option<Severity> {
        Some(match text {
            "info" => Severity::Info,
            "low" => Severity::Low,
            "medium" => Severity::Medium,
            "high" => Severity::High,
            "critical" => Severity::Critical,
            _ => return None,
        })
    }

    /// The setting's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

/// `alert = { ... }`.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct AlertRule {
    /// The SNS topic ARN (`topic`, else `[alerts] topic`, else `CWLOGS_ALERT_TOPIC`); `None`
    /// when none is set (the CLI then writes alerts to a file only).
    pub topic: Option<String>,
    /// `group_by`: alerts are grouped by these values (none: one group per rule).
    pub group_by: Vec<GroupKey>,
    /// `window` (default 5 minutes): windows are aligned to multiples of it (UTC), by event
    /// time, so every invocation puts an event in the same window.
    pub window_ms: i64,
    /// `max_per_window` (default 1): events of one group and window that go out as alerts of
    /// their own; the rest are counted in the window's summary.
    pub max_per_window: u32,
    /// `severity` (default `medium`).
    pub severity: Severity,
    /// `rate`: at most `burst` messages per `interval` for the rule, all groups together.
    pub rate: RateLimit,
}

/// A token bucket: `burst` tokens, refilled at `burst` per `interval`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Bucket size (default 20).
    pub burst: u32,
    /// Refill period (default 1 hour).
    pub interval_ms: i64,
}

impl Default for RateLimit {
    fn default() -> Self {
        RateLimit {
            burst: 20,
            interval_ms: 3_600_000,
        }
    }
}

/// `[alerts]`: settings shared by every rule's alerts.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AlertsConfig {
    /// The DynamoDB table holding alert state (`table`, or `CWLOGS_ALERT_TABLE`); without
    /// one, each container keeps its own state (so concurrent containers alert separately).
    pub table: Option<String>,
    /// How long after a window ends its summary waits for late events (`grace`, default 1m).
    pub grace_ms: i64,
    /// The topic of alerts that name none (`[alerts] topic`, or `CWLOGS_ALERT_TOPIC`).
    pub default_topic: Option<String>,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        AlertsConfig {
            table: None,
            grace_ms: 60_000,
            default_topic: None,
        }
    }
}

/// The validated rules of a configuration with what they share: every pattern compiled into
/// one [`PatternSet`] (pattern `i` is rule `i`'s), `[alerts]`, and the log group the rules
/// never read (the function's own).
#[derive(Debug, Clone)]
pub struct RuleSet {
    rules: Vec<Rule>,
    patterns: PatternSet,
    /// `[alerts]`: what every rule's alerts share.
    pub alerts: AlertsConfig,
    /// The function's own log group (`AWS_LAMBDA_LOG_GROUP_NAME`): never evaluated, so that
    /// the function cannot feed itself its own EMF lines and logs.
    pub own_log_group: Option<String>,
    /// `[redact]` when `apply_to` takes `alerts`: sample events and group values (which make
    /// the subjects) are redacted when recorded (set by the configuration check).
    pub redact_alerts: Option<std::sync::Arc<crate::redact::Redactor>>,
    /// `[redact]` when `apply_to` takes `metrics`: dimension values are redacted.
    pub redact_metrics: Option<std::sync::Arc<crate::redact::Redactor>>,
    /// The built-in rules of `[patterns]` alerts (`patterns-new`, `patterns-surge`): never
    /// evaluated over events; their occurrences come from the pattern detector. Alert
    /// rule `len() + i` is pattern rule `i` ([`RuleSet::alert_rule`]).
    pub pattern_rules: Vec<Rule>,
}

impl RuleSet {
    /// The rules, their shared settings, and the pattern set compiled from them.
    pub fn new(rules: Vec<Rule>, alerts: AlertsConfig, own_log_group: Option<String>) -> Self {
        let mut patterns = PatternSet::new(rules.iter().map(|r| r.pattern.clone()));
        // What is read from matching messages: their JSON keeps these paths too.
        for r in &rules {
            if let Some(m) = &r.metric {
                patterns.keep_value(&m.value);
                m.dimensions
                    .iter()
                    .for_each(|(_, v)| patterns.keep_value(v));
            }
            for key in r.alert.iter().flat_map(|a| &a.group_by) {
                if let GroupKey::Field(v) = key {
                    patterns.keep_value(v);
                }
            }
        }
        RuleSet {
            rules,
            patterns,
            alerts,
            own_log_group,
            redact_alerts: None,
            redact_metrics: None,
            pattern_rules: Vec::new(),
        }
    }

    /// The rule an alert occurrence names: rule `i`, or pattern rule `i - len()`.
    pub fn alert_rule(&self, i: usize) -> Option<&Rule> {
        self.rules
            .get(i)
            .or_else(|| self.pattern_rules.get(i.checked_sub(self.rules.len())?))
    }

    /// Every rule that may have alerts: the rules, then the pattern rules.
    pub fn alert_rules(&self) -> impl Iterator<Item = &Rule> {
        self.rules.iter().chain(&self.pattern_rules)
    }

    /// The index ([`RuleSet::alert_rule`]) of the pattern rule named `name`.
    pub fn pattern_rule_index(&self, name: &str) -> Option<usize> {
        self.pattern_rules
            .iter()
            .position(|r| r.name == name)
            .map(|i| self.rules.len() + i)
    }

    /// Every rule's pattern, compiled together for one pass per message.
    pub fn patterns(&self) -> &PatternSet {
        &self.patterns
    }

    /// The rules, in order (the packs' first, then the file's own).
    pub fn as_slice(&self) -> &[Rule] {
        &self.rules
    }

    /// How many rules there are.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// Whether there is no rule.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The rules, in order.
    pub fn iter(&self) -> std::slice::Iter<'_, Rule> {
        self.rules.iter()
    }

    /// Rule `i`, if there is one.
    pub fn get(&self, i: usize) -> Option<&Rule> {
        self.rules.get(i)
    }
}

impl std::ops::Index<usize> for RuleSet {
    type Output = Rule;

    fn index(&self, i: usize) -> &Rule {
        &self.rules[i]
    }
}

impl<'a> IntoIterator for &'a RuleSet {
    type Item = &'a Rule;
    type IntoIter = std::slice::Iter<'a, Rule>;

    fn into_iter(self) -> Self::IntoIter {
        self.rules.iter()
    }
}

/// Parses a duration such as `90s`, `5m`, `1h` or `1d` into milliseconds.
pub fn parse_duration(text: &str) -> Option<i64> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit())?;
    let (n, unit) = t.split_at(split);
    let n: i64 = n.parse().ok()?;
    let ms = match unit.trim() {
        "s" => 1000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return None,
    };
    n.checked_mul(ms)
}

/// Checks an SNS topic ARN: `arn:<partition>:sns:<region>:<12-digit account>:<name>`, the
/// name 1-256 letters, digits, `-` and `_` (plus `.fifo` for FIFO topics).
pub fn check_topic_arn(arn: &str) -> Result<(), Invalid> {
    let bad = |why: &str| Err(Invalid(format!("`{arn}` is not an SNS topic ARN: {why}")));
    let parts: Vec<&str> = arn.split(':').collect();
    if parts.len() != 6 || parts[0] != "arn" {
        return bad("expected arn:aws:sns:REGION:ACCOUNT:NAME");
    }
    if !matches!(
        parts[1],
        "aws" | "aws-cn" | "aws-us-gov" | "aws-iso" | "aws-iso-b" | "aws-iso-e" | "aws-iso-f"
    ) {
        return bad("unknown partition");
    }
    if parts[2] != "sns" {
        return bad("the service must be `sns`");
    }
    let region = parts[3];
    if region.len() < 9
        || !region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        || !region.ends_with(|c: char| c.is_ascii_digit())
    {
        return bad("the region must look like eu-west-1");
    }
    if parts[4].len() != 12 || !parts[4].bytes().all(|b| b.is_ascii_digit()) {
        return bad("the account must be 12 digits");
    }
    let name = parts[5].strip_suffix(".fifo").unwrap_or(parts[5]);
    if name.is_empty()
        || name.len() > 256
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return bad("the topic name must be 1-256 letters, digits, `-` or `_`");
    }
    Ok(())
}

/// Checks a metric name or namespace (`what`): 1-255 characters, none of `:`, `*`, `$`.
pub fn check_metric_text(what: &str, text: &str) -> Result<(), Invalid> {
    if text.trim().is_empty() {
        return Err(Invalid(format!("the metric {what} must not be empty")));
    }
    if text.chars().count() > MAX_METRIC_TEXT {
        return Err(Invalid(format!(
            "the metric {what} is longer than {MAX_METRIC_TEXT} characters"
        )));
    }
    if let Some(c) = text.chars().find(|c| matches!(c, ':' | '*' | '$')) {
        return Err(Invalid(format!(
            "the metric {what} `{text}` must not contain `{c}` (CloudWatch refuses `:`, `*` and `$`)"
        )));
    }
    if text.chars().any(char::is_control) {
        return Err(Invalid(format!(
            "the metric {what} must not contain control characters"
        )));
    }
    Ok(())
}

/// Checks a rule name: 1-64 letters, digits, `-`, `_` or `.`.
pub fn check_rule_name(name: &str) -> Result<(), Invalid> {
    if name.is_empty()
        || name.len() > MAX_RULE_NAME
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        return Err(Invalid(format!(
            "rule name `{name}` must be 1-{MAX_RULE_NAME} letters, digits, `-`, `_` or `.`"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("5m"), Some(300_000));
        assert_eq!(parse_duration("90s"), Some(90_000));
        assert_eq!(parse_duration("1h"), Some(3_600_000));
        assert_eq!(parse_duration("1d"), Some(86_400_000));
        for bad in [
            "",
            "m",
            "5",
            "5 minutes",
            "-5m",
            "5ms",
            "99999999999999999999m",
        ] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn topic_arns() {
        assert!(check_topic_arn("arn:aws:sns:eu-west-1:123456789012:security").is_ok());
        assert!(check_topic_arn("arn:aws-cn:sns:cn-north-1:123456789012:a_b-c.fifo").is_ok());
        for bad in [
            "security",
            "arn:aws:sqs:eu-west-1:123456789012:q",
            "arn:aws:sns:eu-west-1:12345:x",
            "arn:aws:sns:EU:123456789012:x",
            "arn:aws:sns:eu-west-1:123456789012:",
            "arn:aws:sns:eu-west-1:123456789012:a b",
            "arn:aws:sns:eu-west-1:123456789012:x:extra",
        ] {
            assert!(check_topic_arn(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn metric_texts() {
        assert!(check_metric_text("name", "AccessDenied").is_ok());
        for bad in ["", "a:b", "a*", "$x"] {
            assert!(check_metric_text("name", bad).is_err(), "{bad}");
        }
        assert!(check_metric_text("name", &"x".repeat(256)).is_err());
    }
}
