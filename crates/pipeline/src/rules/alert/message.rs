//! The SNS messages: one alert, a window summary, a digest of summaries; each within SNS's
//! limits.
/// `5 min`, `1 h`, `90 s`.
pub(super) fn human_duration(ms: i64) -> String {
    if ms % 3_600_000 == 0 {
        format!("{} h", ms / 3_600_000)
    } else if ms % 60_000 == 0 {
        format!("{} min", ms / 60_000)
    } else {
        format!("{} s", ms / 1000)
    }
}

use super::*;

pub(super) fn rfc3339(ms: i64) -> String {
    UtcTime::from_millis(ms).rfc3339()
}

/// `HH:MM` UTC.
pub(super) fn clock(ms: i64) -> String {
    let t = UtcTime::from_millis(ms);
    format!("{:02}:{:02}", t.hour, t.minute)
}

/// The group as a JSON object (`{"$.userIdentity.arn": "arn:…"}`).
pub(super) fn group_json(alert: &AlertRule, group: &[String]) -> serde_json::Value {
    let map: serde_json::Map<String, serde_json::Value> = alert
        .group_by
        .iter()
        .zip(group)
        .map(|(k, v)| (k.source().to_string(), json!(v)))
        .collect();
    serde_json::Value::Object(map)
}

/// The group's values for humans: `arn:…, /aws/x`, or `all events` without `group_by`.
pub(super) fn group_text(group: &[String]) -> String {
    if group.is_empty() {
        "all events".to_string()
    } else {
        group.join(", ")
    }
}

/// A subject SNS accepts: printable ASCII (others become `?`), single spaces, at most
/// [`MAX_SUBJECT_CHARS`] characters (cut with `...`).
pub fn subject(text: &str) -> String {
    let mut s = String::with_capacity(text.len().min(MAX_SUBJECT_CHARS));
    for c in text.chars() {
        let c = if c.is_ascii_graphic() {
            c
        } else if c.is_whitespace() {
            ' '
        } else {
            '?'
        };
        if c == ' ' && (s.is_empty() || s.ends_with(' ')) {
            continue;
        }
        s.push(c);
    }
    let s = s.trim_end().to_string();
    if s.chars().count() <= MAX_SUBJECT_CHARS {
        return s;
    }
    let mut cutoff: String = s.chars().take(MAX_SUBJECT_CHARS - 3).collect();
    cutoff.push_str("...");
    cutoff
}

/// Encodes a string value of the console's Logs Insights link: form-encoded, then `%` as `*`.
pub(super) fn console_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 2);
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' => out.push(b as char),
            b' ' => out.push('+'),
            _ => out.push_str(&format!("*{b:02X}")),
        }
    }
    out
}

/// A CloudWatch Logs Insights console link for `log_groups` from `start_ms` to `end_ms`,
/// listing the events that mention `needle` (the group value) when there is one.
pub fn insights_url(
    region: &str,
    log_groups: &[String],
    start_ms: i64,
    end_ms: i64,
    needle: Option<&str>,
) -> String {
    let mut query = String::from("fields @timestamp, @logStream, @message\n");
    if let Some(n) = needle.filter(|n| !n.is_empty() && *n != "-") {
        let escaped = n.replace('\\', "\\\\").replace('"', "\\\"");
        query.push_str(&format!("| filter @message like \"{escaped}\"\n"));
    }
    query.push_str("| sort @timestamp desc\n| limit 200");
    // The fragment is a jsurl-style value whose punctuation is itself escaped: `~` `$257E`,
    // `(` `$2528`, `)` `$2529`, `'` `$2527`.
    let (t, open, close, q) = ("$257E", "$2528", "$2529", "$2527");
    let mut s = format!(
        "https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}#logsV2:logs-insights$3FqueryDetail$3D{t}{open}end{t}{q}{}{t}start{t}{q}{}{t}timeType{t}{q}ABSOLUTE{t}tz{t}{q}UTC{t}editorString{t}{q}{}{t}source{t}{open}",
        console_string(&rfc3339(end_ms)),
        console_string(&rfc3339(start_ms)),
        console_string(&query),
    );
    for g in log_groups.iter().take(crate::rules::evaluate::MAX_NAMES) {
        s.push_str(t);
        s.push_str(q);
        s.push_str(&console_string(g));
    }
    s.push_str(close);
    s.push_str(close);
    s
}

pub(super) fn attributes(
    rule: &Rule,
    alert: &AlertRule,
    kind: &str,
    log_group: &str,
    account: &str,
    region: &str,
) -> Vec<(String, String)> {
    [
        ("rule", rule.name.as_str()),
        ("kind", kind),
        ("severity", alert.severity.as_str()),
        ("log_group", log_group),
        ("account", account),
        ("region", region),
    ]
    .into_iter()
    .filter(|(_, v)| !v.is_empty())
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

pub(super) fn suppressed_json(s: Option<Suppressed>) -> serde_json::Value {
    match s {
        Some(s) => json!({ "suppressed": s.count, "since": rfc3339(s.since_ms) }),
        None => serde_json::Value::Null,
    }
}

pub(super) fn event_json(e: &AlertEvent) -> serde_json::Value {
    let mut v = json!({
        "id": e.id,
        "timestamp": rfc3339(e.timestamp),
        "log_group": e.log_group,
        "log_stream": e.log_stream,
        "account": e.account,
        "region": e.region,
        "message": e.message,
    });
    if e.truncated {
        v["truncated"] = json!(true);
    }
    if let Some(p) = &e.pattern {
        v["log_pattern"] = json!(p);
    }
    v
}

/// The summary and subject of a `[patterns]` alert: what is new or surging, where, how much.
fn pattern_texts(
    alert: &AlertRule,
    p: &crate::rules::evaluate::PatternEvent,
    event: &AlertEvent,
) -> (String, String) {
    let sev = alert.severity.as_str().to_uppercase();
    if p.kind == "surge" {
        let baseline = p.baseline.as_deref().unwrap_or("0");
        let minute = p.minute_ms.unwrap_or(event.timestamp);
        (
            format!(
                "Log pattern surge in {}: {} messages in the minute from {} UTC, baseline {}/min: {}",
                p.log_group,
                p.count,
                rfc3339(minute),
                baseline,
                p.template
            ),
            format!(
                "[{sev}] Pattern surge {}/min (baseline {baseline}) in {}: {}",
                p.count, p.log_group, p.template
            ),
        )
    } else {
        (
            format!(
                "New log pattern in {} (first seen {} UTC, {} messages so far): {}",
                p.log_group,
                rfc3339(event.timestamp),
                p.count,
                p.template
            ),
            format!("[{sev}] New log pattern in {}: {}", p.log_group, p.template),
        )
    }
}

/// Serializes `body`, shrinking it with `shrink` (called with increasing steps; `false` when
/// nothing is left to shrink) until it fits in [`MAX_MESSAGE_BYTES`].
pub(super) fn fit(
    mut body: serde_json::Value,
    mut shrink: impl FnMut(&mut serde_json::Value, usize) -> bool,
) -> String {
    let mut step = 0;
    loop {
        let text = serde_json::to_string_pretty(&body).unwrap_or_default();
        if text.len() <= MAX_MESSAGE_BYTES || !shrink(&mut body, step) {
            return text;
        }
        step += 1;
    }
}

/// Cuts every string field named `message` below `value` to `max` bytes.
pub(super) fn cut_messages(value: &mut serde_json::Value, max: usize) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                if k == "message"
                    && let serde_json::Value::String(s) = v
                    && s.len() > max
                {
                    *s = cut(s, max).0.to_string();
                } else {
                    cut_messages(v, max);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(|v| cut_messages(v, max)),
        _ => {}
    }
}

pub(super) fn shrink_messages(body: &mut serde_json::Value, step: usize) -> bool {
    let max = MAX_EVENT_TEXT_STEPS.get(step);
    if let Some(&max) = max {
        cut_messages(body, max);
        true
    } else {
        false
    }
}

pub(super) const MAX_EVENT_TEXT_STEPS: [usize; 4] = [16 * 1024, 4096, 1024, 256];

pub(super) fn alert_message(
    rule: &Rule,
    alert: &AlertRule,
    o: &Occurrences,
    event: &AlertEvent,
    suppressed: Option<Suppressed>,
    options: &AlertOptions,
) -> AlertMessage {
    let start = o.window_start;
    let end = start + alert.window_ms;
    let group = group_text(&o.group);
    let summary = format!(
        "{} matched {} in {} at {} UTC",
        group,
        rule.name,
        event.log_group,
        rfc3339(event.timestamp)
    );
    let pattern = event
        .pattern
        .as_ref()
        .map(|p| pattern_texts(alert, p, event));
    let summary = match &pattern {
        Some((s, _)) => s.clone(),
        None => summary,
    };
    let body = json!({
        "kind": "alert",
        "rule": rule.name,
        "severity": alert.severity.as_str(),
        "summary": summary,
        "pattern": rule.pattern.source(),
        "group": group_json(alert, &o.group),
        "window": { "start": rfc3339(start), "end": rfc3339(end) },
        "event": event_json(event),
        "rate_limit": suppressed_json(suppressed),
        "console_url": insights_url(&event.region, std::slice::from_ref(&event.log_group), event.timestamp - 60_000, event.timestamp + 60_000, o.group.first().map(String::as_str)),
    });
    let dedup = short_hash(
        format!(
            "alert\n{}\n{}\n{start}\n{}\n{}",
            rule.name,
            o.group.join("\u{1f}"),
            event.log_group,
            event.id
        )
        .as_bytes(),
    );
    let topic = topic_of(alert, options).to_string();
    let fifo = topic.ends_with(".fifo");
    let title = match pattern {
        Some((_, t)) => t,
        None => format!(
            "[{}] {}: {}",
            alert.severity.as_str().to_uppercase(),
            rule.name,
            group
        ),
    };
    AlertMessage {
        subject: subject(&title),
        message: fit(body, shrink_messages),
        attributes: attributes(
            rule,
            alert,
            "alert",
            &event.log_group,
            &event.account,
            &event.region,
        ),
        group_id: fifo.then(|| rule.name.clone()),
        dedup_id: format!("a-{dedup}"),
        topic,
    }
}

pub(super) fn summary_message(
    rule: &Rule,
    alert: &AlertRule,
    d: &Due,
    suppressed: Option<Suppressed>,
    options: &AlertOptions,
) -> AlertMessage {
    let st = &d.state;
    let start = st.window_start;
    let end = start + alert.window_ms;
    let group = group_text(&st.group);
    let earlier = st.reported - d.reporting;
    let what = if earlier == 0 {
        format!(
            "{} matches of {} for {} in {} ({}-{} UTC), {} not sent individually",
            st.count,
            rule.name,
            group,
            human_duration(alert.window_ms),
            clock(start),
            clock(end),
            d.reporting
        )
    } else {
        format!(
            "{} more matches of {} for {} in {} ({}-{} UTC) after the last summary ({} in all)",
            d.reporting,
            rule.name,
            group,
            human_duration(alert.window_ms),
            clock(start),
            clock(end),
            st.count
        )
    };
    let sample = st.samples.first();
    let region = sample.map_or("", |s| s.region.as_str());
    let account = sample.map_or("", |s| s.account.as_str());
    let log_group = st.log_groups.first().map_or("", String::as_str);
    let body = json!({
        "kind": "summary",
        "rule": rule.name,
        "severity": alert.severity.as_str(),
        "summary": what,
        "pattern": rule.pattern.source(),
        "group": group_json(alert, &st.group),
        "window": { "start": rfc3339(start), "end": rfc3339(end) },
        "count": st.count,
        "sent_individually": st.sent,
        "rate_limited": st.rate_limited,
        "reported_now": d.reporting,
        "first": rfc3339(st.first_ms),
        "last": rfc3339(st.last_ms),
        "log_groups": st.log_groups,
        "samples": st.samples.iter().map(event_json).collect::<Vec<_>>(),
        "rate_limit": suppressed_json(suppressed),
        "console_url": insights_url(region, &st.log_groups, start, end, st.group.first().map(String::as_str)),
    });
    let dedup = short_hash(
        format!(
            "summary\n{}\n{}\n{start}\n{}",
            rule.name,
            st.group.join("\u{1f}"),
            st.reported
        )
        .as_bytes(),
    );
    let topic = topic_of(alert, options).to_string();
    let fifo = topic.ends_with(".fifo");
    AlertMessage {
        subject: subject(&format!(
            "[{}] {}: {} matches for {} in {}",
            alert.severity.as_str().to_uppercase(),
            rule.name,
            st.count,
            group,
            human_duration(alert.window_ms)
        )),
        message: fit(body, |b, step| {
            if shrink_messages(b, step) {
                return true;
            }
            b["samples"] = json!([]);
            false
        }),
        attributes: attributes(rule, alert, "summary", log_group, account, region),
        group_id: fifo.then(|| rule.name.clone()),
        dedup_id: format!("s-{dedup}"),
        topic,
    }
}

pub(super) fn digest_message(
    rule: &Rule,
    alert: &AlertRule,
    claimed: &[Due],
    suppressed: Option<Suppressed>,
    options: &AlertOptions,
) -> AlertMessage {
    let mut order: Vec<&Due> = claimed.iter().collect();
    order.sort_by(|a, b| {
        b.reporting
            .cmp(&a.reporting)
            .then_with(|| a.key.cmp(&b.key))
    });
    let total: u64 = order.iter().map(|d| d.reporting).sum();
    let start = order
        .iter()
        .map(|d| d.state.window_start)
        .min()
        .unwrap_or_default();
    let end = order
        .iter()
        .map(|d| d.state.window_start + alert.window_ms)
        .max()
        .unwrap_or_default();
    let mut log_groups: Vec<String> = Vec::new();
    for d in &order {
        for g in &d.state.log_groups {
            if log_groups.len() < crate::rules::evaluate::MAX_NAMES && !log_groups.contains(g) {
                log_groups.push(g.clone());
            }
        }
    }
    let sample = order.iter().find_map(|d| d.state.samples.first());
    let region = sample.map_or("", |s| s.region.as_str());
    let account = sample.map_or("", |s| s.account.as_str());
    let groups: Vec<serde_json::Value> = order
        .iter()
        .take(DIGEST_GROUPS)
        .map(|d| {
            json!({
                "group": group_json(alert, &d.state.group),
                "window": { "start": rfc3339(d.state.window_start), "end": rfc3339(d.state.window_start + alert.window_ms) },
                "count": d.state.count,
                "not_sent_individually": d.reporting,
                "sample": d.state.samples.first().map(event_json),
            })
        })
        .collect();
    let what = format!(
        "{total} matches of {} not sent individually, in {} groups and windows between {} and {} UTC",
        rule.name,
        claimed.len(),
        rfc3339(start),
        rfc3339(end)
    );
    let body = json!({
        "kind": "digest",
        "rule": rule.name,
        "severity": alert.severity.as_str(),
        "summary": what,
        "pattern": rule.pattern.source(),
        "groups_total": claimed.len(),
        "groups": groups,
        "groups_not_listed": claimed.len().saturating_sub(DIGEST_GROUPS),
        "rate_limit": suppressed_json(suppressed),
        "console_url": insights_url(region, &log_groups, start, end, None),
    });
    let mut ids: Vec<String> = claimed
        .iter()
        .map(|d| format!("{}:{}", d.key, d.state.reported))
        .collect();
    ids.sort();
    let dedup = short_hash(format!("digest\n{}\n{}", rule.name, ids.join("\n")).as_bytes());
    let topic = topic_of(alert, options).to_string();
    let fifo = topic.ends_with(".fifo");
    AlertMessage {
        subject: subject(&format!(
            "[{}] {}: {total} matches in {} groups",
            alert.severity.as_str().to_uppercase(),
            rule.name,
            claimed.len()
        )),
        message: fit(body, |b, step| {
            if shrink_messages(b, step) {
                return true;
            }
            if let Some(items) = b["groups"].as_array_mut()
                && items.len() > 1
            {
                let keep = items.len() / 2;
                items.truncate(keep);
                b["groups_not_listed"] = json!(claimed.len() - keep);
                return true;
            }
            false
        }),
        attributes: attributes(
            rule,
            alert,
            "digest",
            log_groups.first().map_or("", String::as_str),
            account,
            region,
        ),
        group_id: fifo.then(|| rule.name.clone()),
        dedup_id: format!("d-{dedup}"),
        topic,
    }
}
