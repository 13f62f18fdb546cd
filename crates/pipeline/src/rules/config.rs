//! `[[rule]]`, `packs` and `[alerts]`: the sections as written, checked into [`Rule`]s and
//! [`AlertsConfig`].

use crate::error::{NOWHERE, Report, inside_string};
use crate::route::Glob;
use crate::rules::{
    AlertRule, AlertsConfig, GroupKey, MAX_DIMENSIONS, MAX_GROUP_BY, MAX_METRIC_TEXT, MetricRule,
    RateLimit, Rule, RuleSet, STANDARD_UNITS, Severity, check_metric_text, check_rule_name,
    check_topic_arn, parse_duration,
};
use serde::Deserialize;
use toml::Spanned;
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
pub(crate) struct RawAlerts {
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

/// `[alerts]` checked (every problem goes to `err`), and the topic every rule's alert sends to
/// unless it names its own. `env` supplies `CWLOGS_ALERT_TOPIC` and `CWLOGS_ALERT_TABLE`.
fn build_alerts(
    raw: Option<RawAlerts>,
    env: &dyn Fn(&str) -> Option<String>,
    err: &mut Report<'_>,
) -> (AlertsConfig, Option<String>) {
    let alerts_raw = raw;
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
        default_topic: default_topic.clone(),
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
    (alerts, default_topic)
}

/// `[[rule]]`s, `packs` and `[alerts]` checked into one [`RuleSet`] (every problem goes to
/// `err`). `own_log_group` is the function's own log group, which the rules never read.
pub(crate) fn build(
    rules: Vec<RawRule>,
    packs: &[Spanned<toml::Value>],
    alerts: Option<RawAlerts>,
    own_log_group: Option<String>,
    env: &dyn Fn(&str) -> Option<String>,
    err: &mut Report<'_>,
) -> RuleSet {
    let (alerts, default_topic) = build_alerts(alerts, env, err);
    let rules = build_rules(rules, packs, default_topic.as_deref(), err);
    RuleSet::new(rules, alerts, own_log_group)
}

/// Validates one `[[rule]]` whose `pattern` is set: pattern compiled, metric and alert settings
/// checked against what CloudWatch and SNS accept. Every problem is reported at its position (a
/// pattern's at the fault inside it), and a bad pattern does not hide the rule's other
/// problems: only the checks that need the pattern (the fields it can extract) are left out.
fn build_rule(
    r: RawRule,
    pattern_text: &Spanned<String>,
    default_topic: Option<&str>,
    err: &mut Report<'_>,
) -> Option<Rule> {
    {
        let name = r.name.get_ref().clone();
        let compiled = match cwlogs_filter::Pattern::new(pattern_text.get_ref()) {
            Ok(p) => Some(p),
            Err(e) => {
                let at = inside_string(pattern_text.span(), pattern_text.get_ref(), e.span().start);
                err(at, format!("rule `{name}`: `pattern`: {}", e.aws_message()));
                None
            }
        };
        let pattern = compiled.as_ref();
        let field = |text: &Spanned<String>,
                     what: &str,
                     err: &mut dyn FnMut(std::ops::Range<usize>, String)| {
            let v = cwlogs_filter::MetricValue::parse(text.get_ref()).and_then(|v| match pattern {
                Some(p) => p.check_dimension(&v).map(|()| v),
                None => Ok(v),
            });
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
                        .and_then(|v| match pattern {
                            Some(p) => p.check_metric_value(&v).map(|()| v),
                            None => Ok(v),
                        })
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
            pattern: compiled?,
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

/// The rules of the configuration: those of the enabled `packs` (each overridden, or disabled
/// with `enabled = false`, by a `[[rule]]` of the same name), then the file's own, in order.
fn build_rules(
    raw: Vec<RawRule>,
    packs: &[Spanned<toml::Value>],
    default_topic: Option<&str>,
    err: &mut Report<'_>,
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
        let Some(pack) = crate::rules::packs::find(name) else {
            err(
                p.span(),
                format!(
                    "unknown pack `{name}`: the packs are {}",
                    crate::rules::packs::names().join(", ")
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
            err(r.name.span(), m.to_string());
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
