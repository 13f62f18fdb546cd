//! The functions' own metrics, as CloudWatch Embedded Metric Format lines on stdout: counters per
//! invocation (namespace `cwlogs`, dimension `Function`), and per sink and log group as
//! `CWLOGS_SELF_METRICS` asks (`off`, `function`, `sink`, `log_group`). Only the functions
//! write them; the dashboards and alarms of the deployment read them.

use std::collections::BTreeMap;

/// Appends `s` as a JSON string literal.
fn push_json_str(out: &mut String, s: &str) {
    // A str always serializes.
    out.push_str(&serde_json::to_string(s).unwrap_or_default());
}

/// The namespace of the functions' own metrics.
pub const SELF_NAMESPACE: &str = "cwlogs";

/// One EMF document of a function's own counters for one invocation: namespace
/// [`SELF_NAMESPACE`], dimension `Function` = `function`, one `Count` metric per counter
/// (`EventsIn`, `EventsDelivered`, `EventsFiltered`, `DeadLetters`, `RecordsPending`, ...).
/// The dashboards and alarms of the deployment read these.
pub fn self_metrics_line(function: &str, timestamp_ms: i64, counters: &[(&str, u64)]) -> String {
    let mut out = String::with_capacity(128 + counters.len() * 48);
    out.push_str("{\"_aws\":{\"Timestamp\":");
    out.push_str(&timestamp_ms.to_string());
    out.push_str(",\"CloudWatchMetrics\":[{\"Namespace\":");
    push_json_str(&mut out, SELF_NAMESPACE);
    out.push_str(",\"Dimensions\":[[\"Function\"]],\"Metrics\":[");
    for (i, (name, _)) in counters.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"Name\":");
        push_json_str(&mut out, name);
        out.push_str(",\"Unit\":\"Count\"}");
    }
    out.push_str("]}]},\"Function\":");
    push_json_str(&mut out, function);
    for (name, value) in counters {
        out.push(',');
        push_json_str(&mut out, name);
        out.push(':');
        out.push_str(&value.to_string());
    }
    out.push('}');
    out
}

/// The EMF documents of `[redact]`'s counts for one invocation: one per detector that
/// replaced anything, metric `RedactedValues` (unit `Count`), dimensions `Function` and
/// `Detector` (the detector's name; never a value).
pub fn redacted_values_lines(
    function: &str,
    timestamp_ms: i64,
    counts: &BTreeMap<String, u64>,
) -> Vec<String> {
    counts
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(detector, n)| {
            let mut out = String::with_capacity(256);
            out.push_str("{\"_aws\":{\"Timestamp\":");
            out.push_str(&timestamp_ms.to_string());
            out.push_str(",\"CloudWatchMetrics\":[{\"Namespace\":");
            push_json_str(&mut out, SELF_NAMESPACE);
            out.push_str(",\"Dimensions\":[[\"Function\",\"Detector\"]],\"Metrics\":[{\"Name\":\"RedactedValues\",\"Unit\":\"Count\"}]}]},\"Function\":");
            push_json_str(&mut out, function);
            out.push_str(",\"Detector\":");
            push_json_str(&mut out, detector);
            out.push_str(",\"RedactedValues\":");
            out.push_str(&n.to_string());
            out.push('}');
            out
        })
        .collect()
}

/// How much of the functions' own metrics each invocation emits (`CWLOGS_SELF_METRICS`).
///
/// Every distinct dimension combination is a CloudWatch custom metric, billed monthly: with
/// thousands of log groups, [`SelfMetricsDetail::LogGroup`] means thousands of metrics per
/// sink, and `sink` (per function and sink only) is the cheaper choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SelfMetricsDetail {
    /// No self-metrics.
    Off,
    /// One document per invocation, dimension `Function`.
    Function,
    /// Also one document per sink, dimensions `Function`, `Sink`.
    Sink,
    /// Also one document per sink and log group, dimensions `Function`, `Sink`, `LogGroup`
    /// (each also rolled up to `Function`, `Sink`). The default.
    #[default]
    LogGroup,
}

impl SelfMetricsDetail {
    /// Parses `off`, `function`, `sink` or `log_group` (any case); `None` otherwise.
    pub fn parse(s: &str) -> Option<SelfMetricsDetail> {
        match s.trim().to_ascii_lowercase().as_str() {
            "off" | "none" => Some(SelfMetricsDetail::Off),
            "function" => Some(SelfMetricsDetail::Function),
            "sink" => Some(SelfMetricsDetail::Sink),
            "log_group" | "loggroup" | "log-group" => Some(SelfMetricsDetail::LogGroup),
            _ => None,
        }
    }
}

/// Log groups given their own self-metrics document in one invocation; the events of any
/// further groups are counted under [`OTHER_LOG_GROUPS`] (a Kinesis batch can hold thousands).
pub const MAX_SELF_METRIC_GROUPS: usize = 100;
/// The `LogGroup` dimension value of the groups past [`MAX_SELF_METRIC_GROUPS`].
pub const OTHER_LOG_GROUPS: &str = "(other)";
/// The `LogGroup` dimension value of batches without a log group name (CloudWatch refuses
/// empty dimension values).
pub const NO_LOG_GROUP: &str = "(none)";

/// What one sink did with the events of one log group in one invocation. `events =
/// delivered + filtered + dead_lettered + pending`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupCounts {
    /// Events of the group in the invocation's data batches.
    pub events: u64,
    /// Events the sink took (archived, indexed or already indexed, quarantined, or looked at
    /// by the rules).
    pub delivered: u64,
    /// Events left out on purpose (the sink's route, or the function's own log group).
    pub filtered: u64,
    /// Events kept in a dead letter (refused for good).
    pub dead_lettered: u64,
    /// Events handed back to the trigger (a retryable failure outlasted the invocation).
    pub pending: u64,
    /// The time of the oldest event among the delivered ones (milliseconds since the epoch).
    pub oldest_delivered_ms: Option<i64>,
}

impl GroupCounts {
    /// Counts `n` delivered events of a batch whose oldest event is at `oldest_ms`.
    pub fn deliver(&mut self, n: u64, oldest_ms: Option<i64>) {
        self.delivered += n;
        if n > 0
            && let Some(t) = oldest_ms
        {
            self.oldest_delivered_ms = Some(self.oldest_delivered_ms.map_or(t, |o| o.min(t)));
        }
    }

    fn merge(&mut self, other: &GroupCounts) {
        self.events += other.events;
        self.filtered += other.filtered;
        self.dead_lettered += other.dead_lettered;
        self.pending += other.pending;
        self.deliver(other.delivered, other.oldest_delivered_ms);
    }
}

/// The per sink and log group counts of one invocation, for the self-metrics documents.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupTallies {
    counts: BTreeMap<(&'static str, String), GroupCounts>,
}

impl GroupTallies {
    /// The counts of `sink` for `log_group`, created empty on first use.
    pub fn entry(&mut self, sink: &'static str, log_group: &str) -> &mut GroupCounts {
        let group = if log_group.is_empty() {
            NO_LOG_GROUP
        } else {
            log_group
        };
        self.counts.entry((sink, group.to_string())).or_default()
    }

    /// The counts of `sink` for `log_group`, if it had events.
    pub fn get(&self, sink: &'static str, log_group: &str) -> Option<&GroupCounts> {
        self.counts.get(&(sink, log_group.to_string()))
    }

    /// Every `(sink, log group, counts)`, by sink then group name.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &str, &GroupCounts)> {
        self.counts.iter().map(|((s, g), c)| (*s, g.as_str(), c))
    }

    /// True when no events were counted.
    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }

    /// The EMF documents for these counts (see [`SelfMetricsDetail`]): per sink and log group
    /// (at most 100 groups per sink, the busiest; the rest as
    /// `(other)`), or per sink. Each holds `EventsIn`, `EventsDelivered`,
    /// `EventsFiltered`, `EventsDeadLettered`, `EventsPending` (`Count`) and, when events were
    /// delivered, `DeliveryLag`: `now_ms` less the oldest delivered event's time
    /// (`Milliseconds`, 0 for events stamped in the future).
    pub fn emf_lines(&self, function: &str, now_ms: i64, detail: SelfMetricsDetail) -> Vec<String> {
        let mut per_sink: BTreeMap<&'static str, Vec<(&str, &GroupCounts)>> = BTreeMap::new();
        for ((sink, group), counts) in &self.counts {
            per_sink
                .entry(sink)
                .or_default()
                .push((group.as_str(), counts));
        }
        let mut lines = Vec::new();
        for (sink, mut groups) in per_sink {
            match detail {
                SelfMetricsDetail::Off | SelfMetricsDetail::Function => {}
                SelfMetricsDetail::Sink => {
                    let mut all = GroupCounts::default();
                    for (_, c) in &groups {
                        all.merge(c);
                    }
                    lines.push(group_document(function, sink, None, now_ms, &all));
                }
                SelfMetricsDetail::LogGroup => {
                    // The busiest groups first; ties by name, so the output is stable.
                    groups.sort_by(|a, b| b.1.events.cmp(&a.1.events).then(a.0.cmp(b.0)));
                    let mut other = GroupCounts::default();
                    for (i, (group, c)) in groups.iter().enumerate() {
                        if i < MAX_SELF_METRIC_GROUPS {
                            lines.push(group_document(function, sink, Some(group), now_ms, c));
                        } else {
                            other.merge(c);
                        }
                    }
                    if groups.len() > MAX_SELF_METRIC_GROUPS {
                        let g = Some(OTHER_LOG_GROUPS);
                        lines.push(group_document(function, sink, g, now_ms, &other));
                    }
                }
            }
        }
        lines
    }
}

/// One self-metrics document of one sink (and log group, when given).
fn group_document(
    function: &str,
    sink: &str,
    group: Option<&str>,
    now_ms: i64,
    c: &GroupCounts,
) -> String {
    let lag = c
        .oldest_delivered_ms
        .map(|t| now_ms.saturating_sub(t).max(0));
    let counters = [
        ("EventsIn", c.events),
        ("EventsDelivered", c.delivered),
        ("EventsFiltered", c.filtered),
        ("EventsDeadLettered", c.dead_lettered),
        ("EventsPending", c.pending),
    ];
    let mut out = String::with_capacity(512);
    out.push_str("{\"_aws\":{\"Timestamp\":");
    out.push_str(&now_ms.to_string());
    out.push_str(",\"CloudWatchMetrics\":[{\"Namespace\":");
    push_json_str(&mut out, SELF_NAMESPACE);
    if group.is_some() {
        out.push_str(
            ",\"Dimensions\":[[\"Function\",\"Sink\",\"LogGroup\"],[\"Function\",\"Sink\"]],\"Metrics\":[",
        );
    } else {
        out.push_str(",\"Dimensions\":[[\"Function\",\"Sink\"]],\"Metrics\":[");
    }
    for (i, (name, _)) in counters.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"Name\":\"");
        out.push_str(name);
        out.push_str("\",\"Unit\":\"Count\"}");
    }
    if lag.is_some() {
        out.push_str(",{\"Name\":\"DeliveryLag\",\"Unit\":\"Milliseconds\"}");
    }
    out.push_str("]}]},\"Function\":");
    push_json_str(&mut out, function);
    out.push_str(",\"Sink\":");
    push_json_str(&mut out, sink);
    if let Some(g) = group {
        out.push_str(",\"LogGroup\":");
        push_json_str(&mut out, g);
    }
    for (name, value) in counters {
        out.push_str(",\"");
        out.push_str(name);
        out.push_str("\":");
        out.push_str(&value.to_string());
    }
    if let Some(lag) = lag {
        out.push_str(",\"DeliveryLag\":");
        out.push_str(&lag.to_string());
    }
    out.push('}');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacted_values_per_detector() {
        let counts: BTreeMap<String, u64> = [("email".to_string(), 3), ("jwt".to_string(), 0)]
            .into_iter()
            .collect();
        let lines = redacted_values_lines("index", 1_764_028_800_000, &counts);
        assert_eq!(lines.len(), 1);
        let v: serde_json::Value = serde_json::from_str(&lines[0]).expect("json");
        assert_eq!(v["RedactedValues"], 3);
        assert_eq!(v["Detector"], "email");
        assert_eq!(v["Function"], "index");
        assert_eq!(
            v["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0],
            serde_json::json!(["Function", "Detector"])
        );
        assert_eq!(
            v["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"],
            "RedactedValues"
        );
    }

    #[test]
    fn self_metrics() {
        let line = self_metrics_line(
            "cwlogs-archive",
            1000,
            &[("EventsIn", 12), ("DeadLetters", 0)],
        );
        let doc: serde_json::Value = serde_json::from_str(&line).expect("json");
        assert_eq!(doc["_aws"]["CloudWatchMetrics"][0]["Namespace"], "cwlogs");
        assert_eq!(
            doc["_aws"]["CloudWatchMetrics"][0]["Metrics"][1]["Name"],
            "DeadLetters"
        );
        assert_eq!(
            (doc["Function"].as_str(), doc["EventsIn"].as_u64()),
            (Some("cwlogs-archive"), Some(12))
        );
    }

    fn parse(line: &str) -> serde_json::Value {
        serde_json::from_str(line).expect("json")
    }

    #[test]
    fn self_metrics_per_sink_and_log_group() {
        let mut t = GroupTallies::default();
        let g = t.entry("index", "/aws/lambda/api");
        g.events = 10;
        g.filtered = 2;
        g.pending = 1;
        g.deliver(4, Some(9_000));
        g.deliver(3, Some(7_500));
        g.deliver(0, Some(1_000)); // nothing delivered: not the oldest delivered event
        let e = t.entry("index", "");
        e.events = 1;
        e.dead_lettered = 1;

        let lines = t.emf_lines("fn-index", 10_000, SelfMetricsDetail::LogGroup);
        assert_eq!(lines.len(), 2);
        let api = parse(&lines[0]);
        assert_eq!(
            api["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            serde_json::json!([["Function", "Sink", "LogGroup"], ["Function", "Sink"]])
        );
        assert_eq!(
            (&api["Function"], &api["Sink"], &api["LogGroup"]),
            (
                &serde_json::json!("fn-index"),
                &serde_json::json!("index"),
                &serde_json::json!("/aws/lambda/api")
            )
        );
        let counts: Vec<u64> = [
            "EventsIn",
            "EventsDelivered",
            "EventsFiltered",
            "EventsDeadLettered",
            "EventsPending",
            "DeliveryLag",
        ]
        .iter()
        .map(|k| api[*k].as_u64().expect(k))
        .collect();
        assert_eq!(counts, [10, 7, 2, 0, 1, 2_500]);
        let metrics = api["_aws"]["CloudWatchMetrics"][0]["Metrics"]
            .as_array()
            .expect("metrics");
        assert_eq!(metrics.len(), 6);
        assert_eq!(metrics[5]["Unit"], "Milliseconds");

        // The group without a name, nothing delivered: no lag, and a non-empty dimension.
        let none = parse(&lines[1]);
        assert_eq!(none["LogGroup"], NO_LOG_GROUP);
        assert!(none.get("DeliveryLag").is_none());
        assert_eq!(
            none["_aws"]["CloudWatchMetrics"][0]["Metrics"]
                .as_array()
                .map(Vec::len),
            Some(5)
        );
    }

    #[test]
    fn self_metrics_per_sink_merge_the_groups() {
        let mut t = GroupTallies::default();
        for (i, group) in ["a", "b", "c"].iter().enumerate() {
            let g = t.entry("archive", group);
            g.events = 5;
            g.deliver(5, Some(1_000 * i as i64));
        }
        // An event stamped in the future has no negative lag.
        t.entry("rules", "d").deliver(1, Some(99_000));
        t.entry("rules", "d").events = 1;

        let lines = t.emf_lines("f", 50_000, SelfMetricsDetail::Sink);
        assert_eq!(lines.len(), 2);
        let archive = parse(&lines[0]);
        assert_eq!(
            archive["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            serde_json::json!([["Function", "Sink"]])
        );
        assert!(archive.get("LogGroup").is_none());
        assert_eq!(archive["EventsIn"], 15);
        assert_eq!(archive["EventsDelivered"], 15);
        assert_eq!(archive["DeliveryLag"], 50_000);
        assert_eq!(parse(&lines[1])["DeliveryLag"], 0);
        assert!(
            t.emf_lines("f", 0, SelfMetricsDetail::Function).is_empty()
                && t.emf_lines("f", 0, SelfMetricsDetail::Off).is_empty()
        );
    }

    #[test]
    fn self_metrics_fold_the_quietest_groups_past_the_cap() {
        let mut t = GroupTallies::default();
        let n = MAX_SELF_METRIC_GROUPS + 5;
        for i in 0..n {
            let g = t.entry("index", &format!("g{i:04}"));
            g.events = i as u64 + 1;
            g.deliver(i as u64 + 1, Some(0));
        }
        let lines = t.emf_lines("f", 0, SelfMetricsDetail::LogGroup);
        assert_eq!(lines.len(), MAX_SELF_METRIC_GROUPS + 1);
        // The busiest first; the five quietest (1 to 5 events) folded into one document.
        assert_eq!(parse(&lines[0])["LogGroup"], format!("g{:04}", n - 1));
        let other = parse(lines.last().expect("other"));
        assert_eq!(other["LogGroup"], OTHER_LOG_GROUPS);
        assert_eq!(other["EventsIn"], 1 + 2 + 3 + 4 + 5);
        let total: u64 = lines
            .iter()
            .map(|l| parse(l)["EventsIn"].as_u64().unwrap_or(0))
            .sum();
        assert_eq!(total, (1..=n as u64).sum::<u64>());
    }

    #[test]
    fn self_metrics_detail_parses_its_settings() {
        assert_eq!(
            ["off", "Function", "sink", "LOG_GROUP", " log-group "].map(SelfMetricsDetail::parse),
            [
                Some(SelfMetricsDetail::Off),
                Some(SelfMetricsDetail::Function),
                Some(SelfMetricsDetail::Sink),
                Some(SelfMetricsDetail::LogGroup),
                Some(SelfMetricsDetail::LogGroup),
            ]
        );
        assert_eq!(SelfMetricsDetail::parse("groups"), None);
    }
}
