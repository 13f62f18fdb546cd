//! The rule packs against the events they are written for.
//!
//! `fixtures/cis/cloudtrail.jsonl` holds CloudTrail records as CloudTrail delivers them to
//! CloudWatch Logs (one record per log event; fields from the CloudTrail record contents and
//! `userIdentity` element references: console sign-ins with `additionalEventData.MFAUsed` and
//! `responseElements.ConsoleLogin`, root calls with and without `invokedBy`, service events,
//! `errorCode`s, ...), each tagged with the exact set of `cis-aws-foundations` rules it must
//! match (`[]` for near misses: the same eventName from another service, failed or federated
//! sign-ins, read-only calls). `fixtures/ops/lambda-ecs.jsonl` does the same for
//! `lambda-ecs-ops` with Lambda runtime lines and ECS task state changes (EventBridge events
//! in a log group), each with the log group it arrives in.
//!
//! Every event goes through the real engine: a configuration with `packs = [...]` and a
//! [`RuleRun`] over a batch holding the event (all patterns in one `PatternSet` pass, log
//! groups checked), cross-checked against each rule's own compiled pattern.

use crate::common::compared_values;
use cwlogs_decode::{LogBatch, LogEvent, MessageType};
use cwlogs_filter::Message;
use cwlogs_pipeline::{Config, RuleRun};
use std::collections::{BTreeMap, BTreeSet};

/// The log group CloudTrail events arrive in (the CIS pack takes every group).
const TRAIL_GROUP: &str = "aws-cloudtrail-logs-111122223333-org";
/// 2025-11-25T10:00:00Z.
const T: i64 = 1_764_064_800_000;

/// One fixture line.
struct Case {
    case: String,
    log_group: String,
    message: String,
    matches: BTreeSet<String>,
}

fn load(path: &str) -> Vec<Case> {
    let path = format!("{}/tests/fixtures/{path}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    text.lines()
        .enumerate()
        .map(|(n, line)| {
            let v: serde_json::Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("{path}:{}: {e}", n + 1));
            let case = v["case"].as_str().expect("case").to_string();
            let message = match (&v["record"], v["message"].as_str()) {
                // CloudTrail writes each record as one compact JSON log event.
                (serde_json::Value::Object(_), _) => v["record"].to_string(),
                (_, Some(m)) => m.to_string(),
                _ => panic!("{path}:{}: neither record nor message", n + 1),
            };
            let matches = v["matches"]
                .as_array()
                .expect("matches")
                .iter()
                .map(|m| m.as_str().expect("rule name").to_string())
                .collect();
            Case {
                case,
                log_group: v["log_group"].as_str().unwrap_or(TRAIL_GROUP).to_string(),
                message,
                matches,
            }
        })
        .collect()
}

fn pack_config(pack: &str) -> Config {
    Config::from_toml(&format!("packs = [\"{pack}\"]\n"), &|_| None)
        .unwrap_or_else(|e| panic!("{pack}: {e:?}"))
}

fn batch<'a>(group: &'a str, events: impl IntoIterator<Item = &'a str>) -> LogBatch<'a> {
    LogBatch {
        message_type: MessageType::Data,
        owner: "111122223333".into(),
        log_group: group.into(),
        log_stream: "111122223333_CloudTrail_eu-west-1".into(),
        subscription_filters: vec![],
        policy_level: None,
        region: None,
        log_events: events
            .into_iter()
            .enumerate()
            .map(|(i, m)| LogEvent {
                id: format!("{:056}", i).into(),
                timestamp: T + i as i64 * 1000,
                message: m.into(),
            })
            .collect(),
    }
}

/// The rules `message` matches in `group`, through a [`RuleRun`] (every pack rule alerts, so
/// each match is an occurrence naming its rule).
fn engine_matches(config: &Config, group: &str, message: &str) -> BTreeSet<String> {
    let mut run = RuleRun::new(&config.rules);
    let n = run.add_batch("eu-west-1", &batch(group, [message]), 0);
    let names: BTreeSet<String> = run
        .occurrences()
        .map(|o| config.rules[o.rule].name.clone())
        .collect();
    assert_eq!(n as usize, names.len(), "one occurrence per matching rule");
    names
}

/// The same through each rule's own compiled pattern and log groups.
fn pattern_matches(config: &Config, group: &str, message: &str) -> BTreeSet<String> {
    let m = Message::new(message);
    config
        .rules
        .iter()
        .filter(|r| r.takes_group(group) && r.pattern.is_match(&m))
        .map(|r| r.name.clone())
        .collect()
}

/// Checks every case; panics listing every case that matched otherwise.
fn check_cases(pack: &str, cases: &[Case]) {
    let config = pack_config(pack);
    let names: BTreeSet<&str> = config.rules.iter().map(|r| r.name.as_str()).collect();
    let mut wrong = Vec::new();
    for c in cases {
        for m in &c.matches {
            assert!(
                names.contains(m.as_str()),
                "{}: no rule {m} in {pack}",
                c.case
            );
        }
        let got = engine_matches(&config, &c.log_group, &c.message);
        let direct = pattern_matches(&config, &c.log_group, &c.message);
        assert_eq!(got, direct, "{}: RuleRun and the patterns disagree", c.case);
        if got != c.matches {
            wrong.push(format!(
                "{}: expected {:?}, matched {:?}",
                c.case, c.matches, got
            ));
        }
    }
    assert!(wrong.is_empty(), "{pack}:\n{}", wrong.join("\n"));
}

fn record_field(c: &Case, field: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(&c.message).ok()?;
    v[field].as_str().map(String::from)
}

#[test]
fn cis_records_match_exactly_their_rules() {
    let cases = load("cis/cloudtrail.jsonl");
    assert!(cases.len() > 100, "{} cases", cases.len());
    check_cases("cis-aws-foundations", &cases);
}

#[test]
fn every_cis_rule_and_every_event_name_it_lists_has_a_matching_record() {
    let cases = load("cis/cloudtrail.jsonl");
    let config = pack_config("cis-aws-foundations");
    assert_eq!(config.rules.len(), 15);
    let mut missing = Vec::new();
    for rule in &config.rules {
        let positives: Vec<&Case> = cases
            .iter()
            .filter(|c| c.matches.contains(&rule.name))
            .collect();
        assert!(!positives.is_empty(), "{}: no record matches it", rule.name);
        // Every record the rule must match and every near miss are in the same file, so each
        // rule also has records it must not match.
        assert!(positives.len() < cases.len());
        let sources = compared_values(rule.pattern.source(), "eventSource");
        for name in compared_values(rule.pattern.source(), "eventName") {
            let covered = positives.iter().any(|c| {
                record_field(c, "eventName").as_deref() == Some(name.as_str())
                    && (sources.is_empty()
                        || record_field(c, "eventSource").is_some_and(|s| sources.contains(&s)))
            });
            if !covered {
                missing.push(format!("{}: {name}", rule.name));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "event names without a record: {missing:?}"
    );
}

#[test]
fn eventsource_checks_keep_same_named_calls_of_other_services_out() {
    let cases = load("cis/cloudtrail.jsonl");
    let config = pack_config("cis-aws-foundations");
    let by_case: BTreeMap<&str, &Case> = cases.iter().map(|c| (c.case.as_str(), c)).collect();
    for (near_miss, rule) in [
        ("iot-createpolicy", "cis-iam-policy-changes"),
        ("autoscaling-deletepolicy", "cis-iam-policy-changes"),
        ("apigateway-createroute", "cis-route-table-changes"),
        ("apigateway-deleteroute", "cis-route-table-changes"),
        ("iot-attachpolicy", "cis-organizations-changes"),
    ] {
        let c = by_case[near_miss];
        let name = record_field(c, "eventName").expect("eventName");
        let listed = config
            .rules
            .iter()
            .find(|r| r.name == rule)
            .map(|r| compared_values(r.pattern.source(), "eventName"))
            .expect("rule");
        assert!(listed.contains(&name), "{rule} lists {name}");
        assert!(c.matches.is_empty(), "{near_miss}");
    }
    // Organizations' CreatePolicy is not IAM's.
    assert_eq!(
        by_case["organizations-CreatePolicy"].matches,
        BTreeSet::from(["cis-organizations-changes".to_string()])
    );
    assert_eq!(
        by_case["iam-CreatePolicy"].matches,
        BTreeSet::from(["cis-iam-policy-changes".to_string()])
    );
}

/// `{ (A) || (B) && (C) && (D) }` groups as `A || (B && C && D)` (`&&` binds tighter, as
/// CloudWatch evaluates it): the benchmark's exclusions of log delivery and `HeadBucket` apply
/// to `AccessDenied*` codes only. EC2's `*UnauthorizedOperation` never comes from those, so
/// nothing real is counted twice; the pattern is kept as the benchmark publishes it.
#[test]
fn unauthorized_calls_pattern_as_the_benchmark_writes_it() {
    let config = pack_config("cis-aws-foundations");
    let rule = "cis-unauthorized-api-calls";
    let hit = |fields: &str| engine_matches(&config, TRAIL_GROUP, fields).contains(rule);
    let ip = r#""sourceIPAddress":"203.0.113.24""#;
    for code in [
        "AccessDenied",
        "AccessDeniedException",
        "Client.UnauthorizedOperation",
        "UnauthorizedOperation",
    ] {
        assert!(
            hit(&format!(
                r#"{{"errorCode":"{code}","eventName":"GetObject",{ip}}}"#
            )),
            "{code}"
        );
    }
    for code in [
        "accessdenied",
        "NotAccessDenied",
        "UnauthorizedOperationX",
        "ThrottlingException",
    ] {
        assert!(
            !hit(&format!(
                r#"{{"errorCode":"{code}","eventName":"GetObject",{ip}}}"#
            )),
            "{code}"
        );
    }
    assert!(!hit(&format!(
        r#"{{"errorCode":"AccessDenied","eventName":"HeadBucket",{ip}}}"#
    )));
    assert!(hit(&format!(
        r#"{{"errorCode":"Client.UnauthorizedOperation","eventName":"HeadBucket",{ip}}}"#
    )));
    assert!(!hit(
        r#"{"errorCode":"AccessDenied","eventName":"PutObject","sourceIPAddress":"delivery.logs.amazonaws.com"}"#
    ));
    // `!=` on a field the record lacks is false, as in CloudWatch: every CloudTrail record has
    // sourceIPAddress and eventName, so this only matters for hand-made events.
    assert!(!hit(
        r#"{"errorCode":"AccessDenied","eventName":"GetObject"}"#
    ));
}

/// All records in one batch through one [`RuleRun`]: the counts per rule, the metrics in the
/// `CISBenchmark` namespace and the alert groups are those of the tags.
#[test]
fn cis_records_through_one_rule_run() {
    let cases = load("cis/cloudtrail.jsonl");
    let config = pack_config("cis-aws-foundations");
    let mut run = RuleRun::new(&config.rules);
    let expected_matches: usize = cases.iter().map(|c| c.matches.len()).sum();
    let n = run.add_batch(
        "eu-west-1",
        &batch(TRAIL_GROUP, cases.iter().map(|c| c.message.as_str())),
        0,
    );
    assert_eq!(n as usize, expected_matches);
    let mut per_rule: BTreeMap<String, u64> = BTreeMap::new();
    for o in run.occurrences() {
        *per_rule
            .entry(config.rules[o.rule].name.clone())
            .or_default() += o.count;
    }
    let mut expected: BTreeMap<String, u64> = BTreeMap::new();
    for c in &cases {
        for m in &c.matches {
            *expected.entry(m.clone()).or_default() += 1;
        }
    }
    assert_eq!(per_rule, expected);
    assert_eq!(per_rule.len(), 15, "every rule matched something");
    let stats = run.stats();
    assert_eq!(stats.events as usize, cases.len());
    assert_eq!(stats.unpublished, 0);
    let docs: Vec<serde_json::Value> = run
        .emf_lines()
        .iter()
        .map(|l| serde_json::from_str(l).expect("EMF JSON"))
        .collect();
    let mut sums: BTreeMap<String, f64> = BTreeMap::new();
    for d in &docs {
        let m = &d["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(m["Namespace"], "CISBenchmark");
        let name = m["Metrics"][0]["Name"].as_str().expect("metric name");
        *sums.entry(name.to_string()).or_default() += d[name]["Sum"].as_f64().expect("Sum");
    }
    assert_eq!(sums.len(), 15);
    assert_eq!(
        sums["UnauthorizedAPICalls"],
        expected["cis-unauthorized-api-calls"] as f64
    );
    assert_eq!(
        sums["RootAccountUsage"],
        expected["cis-root-account-usage"] as f64
    );
}

#[test]
fn ops_events_match_exactly_their_rules() {
    let cases = load("ops/lambda-ecs.jsonl");
    check_cases("lambda-ecs-ops", &cases);
    let config = pack_config("lambda-ecs-ops");
    for rule in &config.rules {
        assert!(
            cases.iter().any(|c| c.matches.contains(&rule.name)),
            "{}: no event matches it",
            rule.name
        );
    }
}

/// The ECS rule's metric has the cluster as its dimension, taken from the event.
#[test]
fn ecs_task_stopped_metric_is_per_cluster() {
    let cases = load("ops/lambda-ecs.jsonl");
    let config = pack_config("lambda-ecs-ops");
    let stopped = cases
        .iter()
        .find(|c| c.case == "ecs-essential-container-exited")
        .expect("case");
    let mut run = RuleRun::new(&config.rules);
    run.add_batch(
        "eu-west-1",
        &batch(&stopped.log_group, [stopped.message.as_str()]),
        0,
    );
    let lines = run.emf_lines();
    assert_eq!(lines.len(), 1, "{lines:?}");
    let doc: serde_json::Value = serde_json::from_str(&lines[0]).expect("EMF");
    assert_eq!(
        doc["Cluster"],
        "arn:aws:ecs:eu-west-1:111122223333:cluster/prod"
    );
    assert_eq!(doc["EcsTasksStopped"]["Sum"], 1.0);
    let occ: Vec<_> = run.occurrences().collect();
    assert_eq!(occ[0].group, vec!["service:web".to_string()]);
}
