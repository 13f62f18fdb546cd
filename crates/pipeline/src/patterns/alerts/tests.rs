//! Tests of pattern alerts: the configuration, warm-up, new patterns across containers,
//! surges and their baseline, concurrent writers, bounds, a flood, and the messages.

use super::*;
use crate::block_on;
use crate::config::Config;
use crate::rules::alert::{AlertOptions, flush_summaries, send_alerts};
use crate::sink::{MemoryPublisher, MemoryStateStore, StateWrite, Versioned};
use cwlogs_decode::{LogEvent, MessageType};

const T: i64 = 1_764_028_800_000;
const MIN: i64 = 60_000;
const TOPIC: &str = "arn:aws:sns:eu-west-1:123456789012:patterns";

fn config(extra: &str) -> Config {
    let text = format!(
        "[alerts]\ntopic = \"{TOPIC}\"\n[patterns]\nenabled = true\nwarmup = \"10m\"\n[patterns.new_alert]\n[patterns.surge_alert]\n{extra}"
    );
    Config::from_toml(&text, &|_| None).expect("config")
}

fn batch<'a>(group: &'a str, events: &[(i64, String)]) -> LogBatch<'a> {
    LogBatch {
        message_type: MessageType::Data,
        owner: "123456789012".into(),
        log_group: group.into(),
        log_stream: "stream".into(),
        subscription_filters: vec![],
        policy_level: None,
        region: None,
        log_events: events
            .iter()
            .map(|(ts, m)| LogEvent {
                id: format!("{ts}-{}", m.len()).into(),
                timestamp: *ts,
                message: m.clone().into(),
            })
            .collect(),
    }
}

fn ev(ts: i64, m: &str) -> (i64, String) {
    (ts, m.to_string())
}

/// One invocation: `events` of `group` through the detector, merged into `store`; the
/// occurrences and findings.
fn invoke<S: StateStore>(
    c: &Config,
    det: &mut PatternDetector,
    store: &S,
    group: &str,
    events: &[(i64, String)],
) -> (Vec<Occurrences>, Found) {
    det.observe_batch("eu-west-1", &batch(group, events), 0);
    let mut occurrences = Vec::new();
    let mut all = Found::default();
    for d in det.take() {
        let (st, found) =
            block_on(sync_group(store, &d, det.config(), T, None)).expect("state written");
        det.learned(&d.log_group, &st);
        occurrences.extend(occurrences_of(c, &d, &found));
        all.new.extend(found.new);
        all.surges.extend(found.surges);
        all.aliased += found.aliased;
        all.learned += found.learned;
        all.evicted += found.evicted;
    }
    (occurrences, all)
}

fn occurrences_of(c: &Config, d: &GroupDelta, found: &Found) -> Vec<Occurrences> {
    occurrences(&c.rules, d, found, &mut RedactCounts::default())
}

fn stored(store: &MemoryStateStore, group: &str) -> GroupState {
    let v = block_on(store.get(&state_key(group), None))
        .expect("read")
        .expect("an item");
    serde_json::from_str(&v.value).expect("state json")
}

#[test]
fn the_section_takes_alert_tables_with_their_bounds() {
    let c = config("factor = 3.5\nmin_count = 50\nbaseline = \"1h\"\nseverity = \"high\"\n");
    let p = c.patterns.as_ref().expect("on");
    assert_eq!(p.surge.factor, 3.5);
    assert_eq!((p.surge.min_count, p.surge.baseline_ms), (50, 3_600_000));
    let names: Vec<&str> = c
        .rules
        .pattern_rules
        .iter()
        .map(|r| r.name.as_str())
        .collect();
    assert_eq!(names, [NEW_RULE_NAME, SURGE_RULE_NAME]);
    let new = c.rules.pattern_rules[0].alert.as_ref().expect("alert");
    assert_eq!(new.severity, crate::rules::Severity::Low);
    assert_eq!(
        new.topic.as_deref(),
        Some(TOPIC),
        "[alerts] topic by default"
    );
    assert_eq!(new.window_ms, 3_600_000);
    let surge = c.rules.pattern_rules[1].alert.as_ref().expect("alert");
    assert_eq!(surge.severity, crate::rules::Severity::High);
    assert_eq!(
        c.rules
            .alert_rule(c.rules.len() + 1)
            .map(|r| r.name.as_str()),
        Some(SURGE_RULE_NAME)
    );

    // Off unless the table is there.
    let plain = Config::from_toml("[patterns]\nenabled = true\n", &|_| None).expect("config");
    assert!(plain.rules.pattern_rules.is_empty());
    assert!(!plain.patterns.as_ref().expect("on").alerts());

    let errs = Config::from_toml(
        "[patterns]\nenabled = true\n[patterns.new_alert]\nfactor = 2.0\n[patterns.surge_alert]\nfactor = 1.0\nbaseline = \"90s\"\nwindow = \"7m\"\nrate = { burst = 0, interval = \"1h\" }\nnope = 1\n",
        &|_| None,
    )
    .expect_err("invalid");
    let shown: Vec<String> = errs.iter().map(ToString::to_string).collect();
    assert!(
        shown.iter().any(|e| e.contains("unknown field `nope`")),
        "{shown:?}"
    );
    let errs = Config::from_toml(
        "[patterns]\nenabled = true\n[patterns.new_alert]\nfactor = 2.0\n[patterns.surge_alert]\nfactor = 1.0\nbaseline = \"90s\"\nwindow = \"7m\"\nrate = { burst = 0, interval = \"1h\" }\n",
        &|_| None,
    )
    .expect_err("invalid");
    let shown: Vec<String> = errs.iter().map(ToString::to_string).collect();
    assert_eq!(shown.len(), 5, "{shown:?}");
    assert!(
        shown[0]
            .starts_with("line 4, column 10: `factor` is a setting of `[patterns.surge_alert]`"),
        "{shown:?}"
    );
    assert!(
        shown
            .iter()
            .any(|e| e.starts_with("line 6, column 10: `factor` must be")),
        "{shown:?}"
    );
    assert!(
        shown.iter().any(|e| e.contains("`baseline` must be")),
        "{shown:?}"
    );
    assert!(
        shown
            .iter()
            .any(|e| e.contains("`[patterns.surge_alert] window`")),
        "{shown:?}"
    );
    assert!(
        shown
            .iter()
            .any(|e| e.contains("`[patterns.surge_alert] rate`")),
        "{shown:?}"
    );

    // The built-in rules' names are taken.
    let errs = Config::from_toml(
        &format!("[alerts]\ntopic = \"{TOPIC}\"\n[[rule]]\nname = \"patterns-new\"\npattern = 'ERROR'\nalert = {{}}\n[patterns]\nenabled = true\n[patterns.new_alert]\n"),
        &|_| None,
    )
    .expect_err("name taken");
    assert!(
        errs[0].message.contains("`patterns-new` is taken"),
        "{errs:?}"
    );
}

const NEW_RULE_NAME: &str = super::super::NEW_RULE;
const SURGE_RULE_NAME: &str = super::super::SURGE_RULE;

#[test]
fn templates_of_the_warm_up_are_the_baseline_then_a_new_one_is_reported_once() {
    let c = config("");
    let p = c.patterns.as_ref().expect("on");
    let mut det = PatternDetector::new(p);
    let store = MemoryStateStore::new();
    let g = "/aws/lambda/api";
    let (o, f) = invoke(
        &c,
        &mut det,
        &store,
        g,
        &[
            ev(T, "request 1 served in 12 ms"),
            ev(T + 5 * MIN, "cache warmed"),
            ev(T + 9 * MIN, "request 2 served in 14 ms"),
        ],
    );
    assert!(o.is_empty(), "{o:?}");
    assert_eq!((f.new.len(), f.learned), (0, 2));
    // Eleven minutes after the group's first message: new.
    let later = [
        ev(T + 11 * MIN, "request 3 served in 9 ms"),
        ev(T + 11 * MIN + 1, "database connection lost after 3 retries"),
        ev(T + 11 * MIN + 2, "database connection lost after 4 retries"),
    ];
    let (o, f) = invoke(&c, &mut det, &store, g, &later);
    assert_eq!(f.new.len(), 1, "{f:?}");
    assert_eq!(o.len(), 1);
    let e = &o[0].events[0];
    let pe = e.pattern.as_ref().expect("pattern event");
    assert_eq!(pe.kind, "new");
    assert_eq!(pe.template, "database connection lost after <*> retries");
    assert_eq!((pe.count, pe.log_group.as_str()), (2, g));
    assert_eq!(e.message, "database connection lost after 3 retries");
    assert_eq!(o[0].group, [g.to_string(), pe.id.clone()]);
    assert_eq!(
        c.rules.alert_rule(o[0].rule).map(|r| r.name.as_str()),
        Some(NEW_RULE_NAME)
    );
    // Known from now on: in this container, and in a fresh one (a restart).
    let (o, _) = invoke(&c, &mut det, &store, g, &later);
    assert!(o.is_empty());
    let mut fresh = PatternDetector::new(p);
    let (o, f) = invoke(&c, &mut fresh, &store, g, &later);
    assert!(o.is_empty() && f.new.is_empty(), "{f:?}");
    assert_eq!(stored(&store, g).first_ms, T);
}

#[test]
fn another_container_knows_a_generalised_template_by_its_tokens() {
    let c = config("");
    let p = c.patterns.as_ref().expect("on");
    let store = MemoryStateStore::new();
    let g = "/app";
    let mut a = PatternDetector::new(p);
    let users = ["alice", "bob", "carol"].map(|u| ev(T + MIN, &format!("user {u} logged in")));
    invoke(&c, &mut a, &store, g, &[ev(T, "boot")]);
    invoke(&c, &mut a, &store, g, &users);
    let st = stored(&store, g);
    assert!(
        st.patterns
            .values()
            .any(|k| k.tokens == ["user", "<*>", "logged", "in"]),
        "{st:?}"
    );
    // A fresh container, after the warm-up: "dave" makes a template of its own in its miner,
    // which the state knows by its tokens: not new. Its miner is seeded afterwards, so
    // "erin" matches the stored template and its id.
    let mut b = PatternDetector::new(p);
    let (o, f) = invoke(
        &c,
        &mut b,
        &store,
        g,
        &[ev(T + 20 * MIN, "user dave logged in")],
    );
    assert!(o.is_empty(), "{o:?}");
    assert_eq!(f.aliased, 1);
    let id_in_a = a
        .miner()
        .group(g)
        .and_then(|grp| grp.templates().find(|t| t.text() == "user <*> logged in"))
        .map(|t| t.id().to_string())
        .expect("generalised in a");
    let (o, f) = invoke(
        &c,
        &mut b,
        &store,
        g,
        &[ev(T + 21 * MIN, "user erin logged in from a new place")],
    );
    assert_eq!(f.new.len(), 1, "a different template is new");
    assert_eq!(o.len(), 1);
    b.observe_batch(
        "eu-west-1",
        &batch(g, &[ev(T + 22 * MIN, "user frank logged in")]),
        0,
    );
    let d = b.take();
    assert!(
        d[0].seen.contains_key(&id_in_a) || d[0].seen.values().any(|s| s.tokens[1] == "frank"),
        "{d:?}"
    );
}

/// A store where another writer's merge lands between this one's read and write, once per
/// key: the write fails its condition and is merged again.
struct Racing {
    inner: MemoryStateStore,
    other: std::sync::Mutex<Option<(GroupDelta, PatternsConfig)>>,
}

impl StateStore for Racing {
    async fn get(
        &self,
        key: &str,
        deadline: Option<Instant>,
    ) -> Result<Option<Versioned>, SendError> {
        self.inner.get(key, deadline).await
    }

    async fn put(
        &self,
        write: StateWrite<'_>,
        deadline: Option<Instant>,
    ) -> Result<bool, SendError> {
        let other = self.other.lock().expect("lock").take();
        if let Some((delta, config)) = other {
            sync_group(&self.inner, &delta, &config, T, None).await?;
        }
        self.inner.put(write, deadline).await
    }
}

#[test]
fn concurrent_writers_merge_and_one_of_them_reports_a_new_pattern() {
    let c = config("");
    let p = c.patterns.as_ref().expect("on").clone();
    let g = "/app";
    let warm = [ev(T, "boot")];
    let seed = MemoryStateStore::new();
    invoke(&c, &mut PatternDetector::new(&p), &seed, g, &warm);
    let base = block_on(seed.get(&state_key(g), None))
        .expect("read")
        .expect("item");
    // Both containers see "disk full" after the warm-up; the other also "queue stalled".
    let mut other = PatternDetector::new(&p);
    other.observe_batch(
        "eu-west-1",
        &batch(
            g,
            &[
                ev(T + 20 * MIN, "disk full on vol 3"),
                ev(T + 20 * MIN, "queue stalled"),
            ],
        ),
        0,
    );
    let other_delta = other.take().remove(0);
    let racing = Racing {
        inner: MemoryStateStore::new(),
        other: std::sync::Mutex::new(Some((other_delta, p.clone()))),
    };
    block_on(
        racing
            .inner
            .put(StateWrite::new(&state_key(g), &base.value, None, 0), None),
    )
    .expect("seeded");
    let mut mine = PatternDetector::new(&p);
    let (o, f) = invoke(
        &c,
        &mut mine,
        &racing,
        g,
        &[
            ev(T + 21 * MIN, "disk full on vol 4"),
            ev(T + 21 * MIN, "cert expires soon"),
        ],
    );
    // "disk full" was the other writer's; "cert expires" is this one's; both kept.
    assert_eq!(f.new.len(), 1, "{f:?}");
    assert_eq!(
        o[0].events[0].pattern.as_ref().expect("p").template,
        "cert expires soon"
    );
    let st = stored(&racing.inner, g);
    let texts: Vec<String> = st.patterns.values().map(|k| k.tokens.join(" ")).collect();
    for t in [
        "boot",
        "disk full on vol <*>",
        "queue stalled",
        "cert expires soon",
    ] {
        assert!(texts.iter().any(|x| x == t), "{t}: {texts:?}");
    }
    assert_eq!(
        block_on(racing.inner.get(&state_key(g), None))
            .expect("read")
            .expect("item")
            .version,
        3,
        "seed, the other's write, this one's retried write"
    );
}

/// `n` messages of `text` in minute `m` (after T).
fn minute(m: i64, n: usize, text: &str) -> Vec<(i64, String)> {
    (0..n)
        .map(|i| (T + m * MIN + i as i64, text.to_string()))
        .collect()
}

#[test]
fn a_minute_far_above_the_baseline_is_one_surge() {
    let c = config("");
    let p = c.patterns.as_ref().expect("on");
    let mut det = PatternDetector::new(p);
    let store = MemoryStateStore::new();
    let g = "/api";
    let text = "GET /health 200";
    // A new pattern's busy first minutes: no baseline yet, no surge.
    let (o, f) = invoke(&c, &mut det, &store, g, &minute(0, 100, text));
    assert!(o.is_empty() && f.surges.is_empty());
    // 40 minutes of 2 a minute (one invocation each).
    for m in 1..41 {
        let (_, f) = invoke(&c, &mut det, &store, g, &minute(m, 2, text));
        assert!(f.surges.is_empty(), "minute {m}: {f:?}");
    }
    let b = stored(&store, g)
        .patterns
        .values()
        .next()
        .expect("one")
        .baseline;
    assert!((1.5..6.0).contains(&b), "baseline {b}");
    // 15 in a minute: above 5x the baseline? not above min_count 20: nothing.
    let (_, f) = invoke(&c, &mut det, &store, g, &minute(41, 15, text));
    assert!(f.surges.is_empty(), "{f:?}");
    // 60 in a minute, in three invocations: one surge, when the threshold is crossed.
    let mut surges = Vec::new();
    let mut occurrences = Vec::new();
    for part in 0..3 {
        let events: Vec<_> = (0..20)
            .map(|i| (T + 42 * MIN + part * 20 + i, text.to_string()))
            .collect();
        let (o, f) = invoke(&c, &mut det, &store, g, &events);
        surges.extend(f.surges);
        occurrences.extend(o);
    }
    assert_eq!(surges.len(), 1, "{surges:?}");
    assert!(surges[0].count >= 20 && surges[0].count as f64 >= 5.0 * surges[0].baseline);
    assert_eq!(occurrences.len(), 1);
    let pe = occurrences[0].events[0].pattern.as_ref().expect("pattern");
    let template = det
        .miner()
        .group(g)
        .and_then(|grp| grp.templates().find(|t| t.id() == pe.id))
        .map(|t| t.text().to_string());
    assert_eq!(
        (pe.kind.as_str(), Some(pe.template.clone())),
        ("surge", template)
    );
    assert_eq!(pe.minute_ms, Some(T + 42 * MIN));
    assert!(pe.baseline.is_some());
    assert_eq!(
        c.rules
            .alert_rule(occurrences[0].rule)
            .map(|r| r.name.as_str()),
        Some(SURGE_RULE_NAME)
    );
}

#[test]
fn the_baseline_rolls_forward_and_decays_over_silent_minutes() {
    let mut p = KnownPattern {
        minute: 10,
        count: 30,
        ..KnownPattern::default()
    };
    let a = 2.0 / 31.0;
    roll(&mut p, 11, a);
    assert!((p.baseline - 30.0 * a).abs() < 1e-9);
    assert_eq!((p.minute, p.count), (11, 0));
    let before = p.baseline;
    roll(&mut p, 21, a);
    // Minute 11 counted 0, and 9 silent minutes.
    assert!((p.baseline - before * (1.0 - a).powi(10)).abs() < 1e-9);
    roll(&mut p, 5, a);
    assert_eq!(p.minute, 21, "never backwards");
    roll(&mut p, i64::MAX, a);
    assert!(p.baseline.is_finite() && p.baseline >= 0.0);
}

#[test]
fn the_state_item_stays_within_its_bounds() {
    let config = PatternsConfig::default();
    let mut delta = GroupDelta {
        log_group: "/g".into(),
        first_ms: T,
        ..GroupDelta::default()
    };
    let long = "x".repeat(900);
    for i in 0..5000 {
        let tokens = vec![format!("w{i}"), long.clone(), "\u{1}\"\\".repeat(30)];
        delta.seen.insert(
            format!("{i:016x}"),
            Seen {
                template: tokens.join(" "),
                tokens,
                count: 1,
                first_ms: T + i,
                last_ms: T + i,
                example: AlertEvent {
                    id: "1".into(),
                    timestamp: T,
                    log_group: "/g".into(),
                    log_stream: "s".into(),
                    account: String::new(),
                    region: String::new(),
                    message: "m".into(),
                    truncated: false,
                    pattern: None,
                },
                batch: "b".into(),
                record: 0,
            },
        );
    }
    let (st, found) = merge(None, &delta, &config);
    let json = serde_json::to_string(&st).expect("json");
    assert!(json.len() <= 400 * 1024, "{}", json.len());
    assert!(st.patterns.len() < 5000);
    assert_eq!(found.evicted, 5000 - st.patterns.len() as u64);
    assert_eq!(st.evicted, found.evicted);
    // The most recently seen are kept.
    assert!(st.patterns.contains_key(&format!("{:016x}", 4999)));
    assert!(!st.patterns.contains_key(&format!("{:016x}", 0)));
}

/// `i` as letters (`a`, `b`, ..., `ba`, ...): a word no token class masks.
fn word(mut i: usize) -> String {
    let mut w = Vec::new();
    loop {
        w.push(b'a' + (i % 26) as u8);
        i /= 26;
        if i == 0 {
            break;
        }
    }
    String::from_utf8(w).expect("ascii")
}

#[test]
fn a_flood_of_new_templates_stays_bounded_and_rate_limited() {
    let c = Config::from_toml(
        &format!("[alerts]\ntopic = \"{TOPIC}\"\n[patterns]\nenabled = true\nmax_templates = 500\n[patterns.new_alert]\nrate = {{ burst = 5, interval = \"1h\" }}\n"),
        &|_| None,
    )
    .expect("config");
    let p = c.patterns.as_ref().expect("on");
    let mut det = PatternDetector::new(p);
    let store = MemoryStateStore::new();
    let sns = MemoryPublisher::new();
    let g = "/flood";
    invoke(&c, &mut det, &store, g, &[ev(T, "boot")]);
    let mut published_alerts = 0;
    let mut rate_limited = 0;
    let mut new_found = 0;
    // 100k lines, a new template each, in 10 invocations of 10k.
    for inv in 0..10 {
        let events: Vec<_> = (0..10_000)
            .map(|i| {
                let n = inv * 10_000 + i;
                (T + 20 * MIN + n as i64, format!("{} happened", word(n)))
            })
            .collect();
        let (o, f) = invoke(&c, &mut det, &store, g, &events);
        new_found += f.new.len();
        assert!(o.len() <= MAX_NEW_ALERTS + 1, "{}", o.len());
        let r = block_on(send_alerts(
            &c.rules,
            o,
            &store,
            &sns,
            &AlertOptions {
                now_ms: T + 20 * MIN,
                ..AlertOptions::default()
            },
        ));
        published_alerts += r.alerts;
        rate_limited += r.rate_limited;
        // The miner's cap and budget hold; so does the state item.
        let grp = det.miner().group(g).expect("group");
        assert!(grp.len() <= 500);
        assert!(det.miner().bytes() <= p.limits.max_total_bytes);
        let v = block_on(store.get(&state_key(g), None))
            .expect("read")
            .expect("item");
        assert!(v.value.len() <= 400 * 1024, "{}", v.value.len());
    }
    assert_eq!(published_alerts, 5, "the rate limit holds");
    assert!(rate_limited > 0);
    assert!(new_found <= 10 * MAX_SEEN, "{new_found}");
    // Kept per invocation: at most MAX_SEEN patterns; the rest only counted (words of hex
    // letters are masked: they share one template).
    assert!(
        det.stats().dropped >= 100_000 - 10 * MAX_SEEN as u64 - 1000,
        "{:?} {new_found}",
        det.stats()
    );
    let st = stored(&store, g);
    assert!(st.patterns.len() <= MAX_STATE_PATTERNS);
    assert!(st.evicted > 0);
    // What was not sent goes out as summaries, folded into a digest: a handful of messages.
    let r = block_on(flush_summaries(
        &c.rules,
        &store,
        &sns,
        &AlertOptions {
            now_ms: T + 10 * 3_600_000,
            ..AlertOptions::default()
        },
    ));
    assert!(r.summaries >= 1 && r.summaries <= 3, "{r:?}");
    assert!(sns.sent().len() <= 8, "{}", sns.sent().len());
}

#[test]
fn alert_messages_name_the_template_group_count_and_an_example_redacted() {
    let c = Config::from_toml(
        &format!("[alerts]\ntopic = \"{TOPIC}\"\n[redact]\n[patterns]\nenabled = true\nwarmup = \"0s\"\n[patterns.new_alert]\n"),
        &|_| None,
    )
    .expect("config");
    let p = c.patterns.as_ref().expect("on");
    let mut det = PatternDetector::new(p).with_redactor(c.rules.redact_alerts.clone());
    let store = MemoryStateStore::new();
    let g = "/payments";
    invoke(&c, &mut det, &store, g, &[ev(T, "boot")]);
    let (o, _) = invoke(
        &c,
        &mut det,
        &store,
        g,
        &[ev(
            T + MIN,
            "refund failed for jane.doe@example.com: card declined",
        )],
    );
    assert_eq!(o.len(), 1);
    let sns = MemoryPublisher::new();
    let r = block_on(send_alerts(
        &c.rules,
        o,
        &store,
        &sns,
        &AlertOptions {
            now_ms: T + MIN,
            ..AlertOptions::default()
        },
    ));
    assert_eq!(r.alerts, 1, "{r:?}");
    let m = &sns.sent()[0];
    assert!(
        m.subject
            .starts_with("[LOW] New log pattern in /payments: refund failed for"),
        "{}",
        m.subject
    );
    assert!(!m.subject.contains("jane.doe"), "{}", m.subject);
    assert!(!m.message.contains("jane.doe"), "{}", m.message);
    // Nor does the state that goes to DynamoDB keep it: the template's tokens are redacted.
    let st = stored(&store, g);
    let tokens: Vec<&String> = st.patterns.values().flat_map(|p| &p.tokens).collect();
    assert!(
        tokens.iter().any(|t| t.contains("[REDACTED:email]")),
        "{tokens:?}"
    );
    assert!(!tokens.iter().any(|t| t.contains("jane.doe")), "{tokens:?}");
    let body: serde_json::Value = serde_json::from_str(&m.message).expect("json");
    assert_eq!(body["rule"], "patterns-new");
    assert!(
        body["summary"]
            .as_str()
            .expect("s")
            .starts_with("New log pattern in /payments (first seen"),
        "{body}"
    );
    let lp = &body["event"]["log_pattern"];
    assert_eq!(
        (
            lp["kind"].as_str(),
            lp["log_group"].as_str(),
            lp["count"].as_u64()
        ),
        (Some("new"), Some(g), Some(1))
    );
    assert!(
        body["event"]["message"]
            .as_str()
            .expect("m")
            .contains("[REDACTED:email]"),
        "{body}"
    );
    let attrs: BTreeMap<_, _> = m.attributes.iter().cloned().collect();
    assert_eq!(
        (attrs["rule"].as_str(), attrs["log_group"].as_str()),
        ("patterns-new", g)
    );
}
