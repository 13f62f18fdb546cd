//! Metrics in CloudWatch Embedded Metric Format (EMF), aggregated per invocation.
//!
//! Each matched event adds one value to its rule's metric for its dimension values and the
//! minute of its timestamp. [`MetricAggregator::emf_lines`] writes one EMF document per
//! metric, dimension set and minute, holding the distinct values and how often each occurred
//! (`Values` / `Counts`, with `Min`, `Max`, `Sum` and `Count`): a thousand matches of
//! `value = "1"` in one minute are one line with `"Values":[1],"Counts":[1000]`. CloudWatch
//! takes at most 100 distinct values per document, so more distinct values are split over
//! several documents; nothing is sampled away.
//!
//! Lines go to stdout in Lambda (where CloudWatch turns them into metrics) and to
//! `metrics.ndjson` in `cwlogs replay`.

use crate::rules::MetricRule;
use crate::util::json::push_str_to_string;
use std::collections::BTreeMap;

/// Distinct values CloudWatch takes in one EMF metric.
pub const MAX_VALUES_PER_DOCUMENT: usize = 100;
/// Distinct dimension-value combinations one rule may produce in one invocation; datapoints
/// beyond it are dropped and counted (CloudWatch itself may disable a metric filter that
/// produces 1000 combinations in an hour).
pub const MAX_DIMENSION_SETS: usize = 1000;
/// The EMF property naming the rule a document comes from.
pub const RULE_PROPERTY: &str = "cwlogsRule";

/// The values seen for one metric, dimension set and minute: value (as ordered bits) to count.
type Values = BTreeMap<OrderedF64, u64>;

/// An `f64` with a total order (values are finite: the filter engine never yields others).
#[derive(Debug, Clone, Copy, PartialEq)]
struct OrderedF64(f64);

impl Eq for OrderedF64 {}

impl PartialOrd for OrderedF64 {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for OrderedF64 {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}

/// Datapoints per rule, dimension values and minute, for one invocation (or one replay).
#[derive(Debug, Default, Clone)]
pub struct MetricAggregator {
    /// `(rule index, dimension values, minute start ms)` to values.
    points: BTreeMap<(usize, Vec<String>, i64), Values>,
    /// Distinct dimension sets per rule, to enforce [`MAX_DIMENSION_SETS`].
    sets: BTreeMap<usize, usize>,
    /// Datapoints dropped because a rule had too many dimension sets.
    dropped: u64,
}

/// The minute an event timestamp falls in (ms since the epoch, floored).
pub fn minute_of(timestamp_ms: i64) -> i64 {
    timestamp_ms.div_euclid(60_000) * 60_000
}

impl MetricAggregator {
    /// Nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `value` for rule `rule` (its index in the configuration) with `dimensions` (in
    /// the metric's dimension order) at `timestamp_ms`. Returns false when the datapoint was
    /// dropped for the dimension-set cap.
    pub fn add(
        &mut self,
        rule: usize,
        dimensions: Vec<String>,
        timestamp_ms: i64,
        value: f64,
    ) -> bool {
        let key = (rule, dimensions, minute_of(timestamp_ms));
        if !self.points.contains_key(&key) {
            let sets = self.sets.entry(rule).or_default();
            if !key.1.is_empty() {
                let known = self
                    .points
                    .range((rule, key.1.clone(), i64::MIN)..=(rule, key.1.clone(), i64::MAX))
                    .next()
                    .is_some();
                if !known {
                    if *sets >= MAX_DIMENSION_SETS {
                        self.dropped += 1;
                        return false;
                    }
                    *sets += 1;
                }
            }
        }
        *self
            .points
            .entry(key)
            .or_default()
            .entry(OrderedF64(value))
            .or_default() += 1;
        true
    }

    /// Datapoints dropped for the dimension-set cap.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Datapoints held (sum of counts).
    pub fn datapoints(&self) -> u64 {
        self.points.values().flat_map(|v| v.values()).sum()
    }

    /// Whether nothing was added.
    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }

    /// The EMF documents, one per line (without the newline), in rule, dimensions and minute
    /// order. `metric(rule)` gives the rule's name and metric settings.
    pub fn emf_lines<'a>(
        &self,
        metric: impl Fn(usize) -> Option<(&'a str, &'a MetricRule)>,
    ) -> Vec<String> {
        let mut lines = Vec::new();
        for ((rule, dims, minute), values) in &self.points {
            let Some((name, m)) = metric(*rule) else {
                continue;
            };
            let all: Vec<(f64, u64)> = values.iter().map(|(v, c)| (v.0, *c)).collect();
            for chunk in all.chunks(MAX_VALUES_PER_DOCUMENT) {
                lines.push(emf_document(name, m, dims, *minute, chunk));
            }
        }
        lines
    }
}

/// Appends a number as JSON (integers without a fraction).
fn push_number(out: &mut String, n: f64) {
    use std::fmt::Write;
    if n.fract() == 0.0 && n.abs() < 1e15 {
        let _ = write!(out, "{}", n as i64);
    } else {
        let _ = write!(out, "{n}");
    }
}

/// One EMF document: the `_aws` metadata, the dimension values, the metric's values and
/// counts, and the rule's name.
fn emf_document(
    rule: &str,
    m: &MetricRule,
    dims: &[String],
    minute: i64,
    values: &[(f64, u64)],
) -> String {
    let mut out = String::with_capacity(256);
    out.push_str("{\"_aws\":{\"Timestamp\":");
    out.push_str(&minute.to_string());
    out.push_str(",\"CloudWatchMetrics\":[{\"Namespace\":");
    push_str_to_string(&mut out, &m.namespace);
    out.push_str(",\"Dimensions\":[[");
    for (i, (name, _)) in m.dimensions.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_str_to_string(&mut out, name);
    }
    out.push_str("]],\"Metrics\":[{\"Name\":");
    push_str_to_string(&mut out, &m.name);
    if let Some(unit) = &m.unit {
        out.push_str(",\"Unit\":");
        push_str_to_string(&mut out, unit);
    }
    out.push_str("}]}]}");
    for ((name, _), value) in m.dimensions.iter().zip(dims) {
        out.push(',');
        push_str_to_string(&mut out, name);
        out.push(':');
        push_str_to_string(&mut out, value);
    }
    out.push(',');
    push_str_to_string(&mut out, &m.name);
    out.push_str(":{\"Values\":[");
    for (i, (v, _)) in values.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_number(&mut out, *v);
    }
    out.push_str("],\"Counts\":[");
    for (i, (_, c)) in values.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&c.to_string());
    }
    let count: u64 = values.iter().map(|(_, c)| c).sum();
    let sum: f64 = values.iter().map(|(v, c)| v * *c as f64).sum();
    let min = values.first().map_or(0.0, |(v, _)| *v);
    let max = values.last().map_or(0.0, |(v, _)| *v);
    out.push_str("],\"Max\":");
    push_number(&mut out, max);
    out.push_str(",\"Min\":");
    push_number(&mut out, min);
    out.push_str(",\"Count\":");
    out.push_str(&count.to_string());
    out.push_str(",\"Sum\":");
    push_number(&mut out, sum);
    out.push_str("},");
    push_str_to_string(&mut out, RULE_PROPERTY);
    out.push(':');
    push_str_to_string(&mut out, rule);
    out.push('}');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Config;

    fn rule(text: &str) -> Config {
        Config::from_toml(text, &|_| None).expect("config")
    }

    #[test]
    fn values_and_counts_per_minute_and_dimensions() {
        let c = rule(
            "[[rule]]\nname = \"lat\"\npattern = '{ $.ms = * }'\nmetric = { namespace = \"App\", name = \"Latency\", value = \"$.ms\", unit = \"Milliseconds\", dimensions = { Op = \"$.op\" } }\n",
        );
        let m = c.rules[0].metric.as_ref().expect("metric");
        let mut agg = MetricAggregator::new();
        let t = 1_764_028_800_000;
        for (dim, ts, v) in [
            ("get", t, 5.0),
            ("get", t + 59_999, 5.0),
            ("get", t + 1, 7.5),
            ("put", t, 1.0),
            ("get", t + 60_000, 2.0),
        ] {
            assert!(agg.add(0, vec![dim.into()], ts, v));
        }
        let lines = agg.emf_lines(|i| (i == 0).then_some(("lat", m)));
        assert_eq!(lines.len(), 3, "{lines:#?}");
        let doc: serde_json::Value = serde_json::from_str(&lines[0]).expect("json");
        assert_eq!(doc["_aws"]["Timestamp"], t);
        assert_eq!(doc["_aws"]["CloudWatchMetrics"][0]["Namespace"], "App");
        assert_eq!(
            doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0][0],
            "Op"
        );
        assert_eq!(
            doc["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Unit"],
            "Milliseconds"
        );
        assert_eq!(doc["Op"], "get");
        assert_eq!(doc["Latency"]["Values"], serde_json::json!([5, 7.5]));
        assert_eq!(doc["Latency"]["Counts"], serde_json::json!([2, 1]));
        assert_eq!(doc["Latency"]["Sum"], 17.5);
        assert_eq!(doc["Latency"]["Count"], 3);
        assert_eq!(
            (
                doc["Latency"]["Min"].as_f64(),
                doc["Latency"]["Max"].as_f64()
            ),
            (Some(5.0), Some(7.5))
        );
        assert_eq!(doc[RULE_PROPERTY], "lat");
        assert_eq!(agg.datapoints(), 5);
    }

    #[test]
    fn many_distinct_values_are_split_not_sampled() {
        let c = rule(
            "[[rule]]\nname = \"n\"\npattern = ''\nmetric = { namespace = \"A\", name = \"B\" }\n",
        );
        let m = c.rules[0].metric.as_ref().expect("metric");
        let mut agg = MetricAggregator::new();
        for i in 0..250 {
            agg.add(0, vec![], 0, f64::from(i));
        }
        let lines = agg.emf_lines(|_| Some(("n", m)));
        assert_eq!(lines.len(), 3);
        let total: u64 = lines
            .iter()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).expect("json")["B"]["Count"]
                    .as_u64()
                    .expect("count")
            })
            .sum();
        assert_eq!(total, 250);
        let first: serde_json::Value = serde_json::from_str(&lines[0]).expect("json");
        assert_eq!(
            first["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            serde_json::json!([[]])
        );
        assert!(
            first["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]
                .get("Unit")
                .is_none()
        );
    }

    #[test]
    fn dimension_sets_are_capped_per_rule() {
        let mut agg = MetricAggregator::new();
        for i in 0..MAX_DIMENSION_SETS {
            assert!(agg.add(0, vec![i.to_string()], 0, 1.0));
        }
        assert!(
            agg.add(0, vec!["0".into()], 60_000, 1.0),
            "a known set in another minute"
        );
        assert!(!agg.add(0, vec!["new".into()], 0, 1.0));
        assert!(agg.add(1, vec!["new".into()], 0, 1.0), "another rule");
        assert_eq!(agg.dropped(), 1);
    }
}
