//! `cwlogs replay` with `[[rule]]`s over the shipped CloudTrail samples, through the built
//! binary: metrics.ndjson and alerts.ndjson hold exactly what the AccessDenied rule gives;
//! `check-config` reports bad rules at their lines.
//!
//! The samples: `direct/cloudtrail.json` has 3 `AccessDenied` events at 00:00 (one by
//! `ci-deployer/session-2`, two by `intruder/session-4`); `direct/cloudtrail-denied-burst.json`
//! has 40 by `backup-sync` from 00:12:30 to 00:18:21 (17 before the 00:15 window boundary, 23
//! after), among successes and other errors (`AccessDeniedException` included, which the
//! pattern must not match).

use cwlogs_pipeline::AlertMessage;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const T0: i64 = 1_764_028_800_000; // 2025-11-25T00:00:00Z

const RULES: &str = r#"
[archive]
prefix = "cwl"

[[rule]]
name = "access-denied"
pattern = '{ $.errorCode = "AccessDenied" }'
log_groups = ["aws-cloudtrail-logs-*"]
metric = { namespace = "Security", name = "AccessDenied", value = "1", unit = "Count" }
alert = { group_by = ["$.userIdentity.arn"], window = "5m", max_per_window = 1 }
"#;

/// 3 `AccessDenied` at 00:00.
const CLOUDTRAIL: &str = "direct/cloudtrail.json";
/// 40 `AccessDenied` from 00:12:30 to 00:18:21.
const BURST: &str = "direct/cloudtrail-denied-burst.json";

/// The path of `samples/{rel}`.
fn sample(rel: &str) -> String {
    let path = cwlogs_testkit::events::samples_dir().join(rel);
    arg(&path).to_string()
}

fn arg(path: &Path) -> &str {
    path.to_str().expect("utf8")
}

fn cwlogs(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cwlogs"))
        .args(args)
        .env_remove("AWS_LAMBDA_LOG_GROUP_NAME")
        .env_remove("CWLOGS_ALERT_TOPIC")
        .env_remove("CWLOGS_ALERT_TABLE")
        .output()
        .expect("run cwlogs")
}

/// `cwlogs replay [--config config] {options} --out out` over the samples `inputs`.
fn replay_with(config: Option<&Path>, options: &[&str], out: &Path, inputs: &[&str]) -> Output {
    let mut args = vec!["replay".to_string()];
    if let Some(config) = config {
        args.extend(["--config".to_string(), arg(config).to_string()]);
    }
    args.extend(options.iter().map(|o| o.to_string()));
    args.extend(["--out".to_string(), arg(out).to_string()]);
    args.extend(inputs.iter().map(|rel| sample(rel)));
    cwlogs(&args.iter().map(String::as_str).collect::<Vec<_>>())
}

/// `cwlogs replay` of both samples with `config`, which must succeed.
fn replay(config: &Path, out: &Path) -> Output {
    let o = replay_with(Some(config), &[], out, &[CLOUDTRAIL, BURST]);
    assert!(
        o.status.success(),
        "replay failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .expect("read")
        .lines()
        .map(String::from)
        .collect()
}

/// The `AlertMessage`s of an output directory's alerts.ndjson.
fn alert_messages(out: &Path) -> Vec<AlertMessage> {
    lines(&out.join("alerts.ndjson"))
        .iter()
        .map(|l| serde_json::from_str(l).expect("an AlertMessage per line"))
        .collect()
}

/// A message's JSON body.
fn body(m: &AlertMessage) -> serde_json::Value {
    serde_json::from_str(&m.message).expect("JSON body")
}

/// A temporary directory holding `rules.toml` with `text`; its path.
fn rules_file(text: &str) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let config = tmp.path().join("rules.toml");
    std::fs::write(&config, text).expect("write");
    (tmp, config)
}

fn kind(m: &AlertMessage) -> &str {
    m.attributes
        .iter()
        .find(|(k, _)| k == "kind")
        .map_or("", |(_, v)| v.as_str())
}

#[test]
fn the_access_denied_rule_over_the_cloudtrail_samples() {
    let (tmp, config) = rules_file(RULES);
    let out = tmp.path().join("out");
    let o = replay(&config, &out);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains("43 matches, 43 metric datapoints"),
        "{stdout}"
    );
    assert!(
        stdout.contains("7 published (3 summaries, 0 rate-limited events, 0 failed)"),
        "{stdout}"
    );

    // Metrics: one EMF document per minute with matches; the counts are the AccessDenied
    // events of that minute.
    let per_minute: Vec<(i64, u64)> = lines(&out.join("metrics.ndjson"))
        .iter()
        .map(|l| {
            let doc: serde_json::Value = serde_json::from_str(l).expect("EMF is JSON");
            let metrics = &doc["_aws"]["CloudWatchMetrics"][0];
            assert_eq!(metrics["Namespace"], "Security");
            assert_eq!(metrics["Metrics"][0]["Name"], "AccessDenied");
            assert_eq!(metrics["Metrics"][0]["Unit"], "Count");
            assert_eq!(doc["AccessDenied"]["Values"], serde_json::json!([1]));
            let count = doc["AccessDenied"]["Counts"][0].as_u64().expect("count");
            assert_eq!(doc["AccessDenied"]["Sum"].as_u64(), Some(count));
            let minute = doc["_aws"]["Timestamp"].as_i64().expect("timestamp");
            ((minute - T0) / 60_000, count)
        })
        .collect();
    assert_eq!(
        per_minute,
        [
            (0, 3),
            (12, 4),
            (13, 6),
            (14, 7),
            (15, 7),
            (16, 6),
            (17, 7),
            (18, 3)
        ]
    );
    assert_eq!(per_minute.iter().map(|(_, c)| c).sum::<u64>(), 43);

    // Alerts: the first event of each user and window, then a summary of every window with
    // more than one event.
    let messages = alert_messages(&out);
    let shown: Vec<(String, String, Option<u64>)> = messages
        .iter()
        .map(|m| {
            let body = body(m);
            let user = body["group"]["$.userIdentity.arn"]
                .as_str()
                .and_then(|a| a.rsplit(":assumed-role/").next())
                .unwrap_or("")
                .to_string();
            (kind(m).to_string(), user, body["count"].as_u64())
        })
        .collect();
    let row = |k: &str, u: &str, c: Option<u64>| (k.to_string(), u.to_string(), c);
    assert_eq!(
        shown,
        [
            row("alert", "ci-deployer/session-2", None),
            row("alert", "intruder/session-4", None),
            row("alert", "backup-sync/i-0a1b2c3d4e5f60718", None),
            row("alert", "backup-sync/i-0a1b2c3d4e5f60718", None),
            row("summary", "intruder/session-4", Some(2)),
            row("summary", "backup-sync/i-0a1b2c3d4e5f60718", Some(17)),
            row("summary", "backup-sync/i-0a1b2c3d4e5f60718", Some(23)),
        ]
    );
    for m in &messages {
        assert!(
            m.subject.starts_with("[MEDIUM] access-denied: "),
            "{}",
            m.subject
        );
        assert!(m.subject.len() <= 99, "{}", m.subject);
        assert_eq!(m.topic, "", "no topic configured, no --alert-to");
    }
    let summaries: Vec<String> = messages
        .iter()
        .filter(|m| kind(m) == "summary")
        .map(|m| body(m)["summary"].as_str().unwrap_or("").to_string())
        .collect();
    assert!(
        summaries[0].contains("(00:00-00:05 UTC), 1 not sent individually"),
        "{summaries:?}"
    );
    assert!(
        summaries[1].contains("17 matches of access-denied"),
        "{summaries:?}"
    );
    assert!(
        summaries[1].ends_with("(00:10-00:15 UTC), 16 not sent individually"),
        "{summaries:?}"
    );
    assert!(
        summaries[2].ends_with("(00:15-00:20 UTC), 22 not sent individually"),
        "{summaries:?}"
    );
    // The burst's first alert is its first AccessDenied, not the success before it.
    let burst = body(&messages[2]);
    assert_eq!(burst["event"]["timestamp"], "2025-11-25T00:12:30.000Z");
    assert!(
        burst["event"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("\"errorCode\":\"AccessDenied\""))
    );

    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).expect("summary"))
            .expect("json");
    assert_eq!(summary["rule_matches"], 43);
    assert_eq!(summary["metric_datapoints"], 43);
    assert_eq!(summary["alerts_published"], 7);
    assert_eq!(summary["alert_summaries"], 3);
    assert_eq!(summary["alerts_rate_limited"], 0);
    assert_eq!(summary["alerts_failed"], 0);

    // Deterministic: the same run gives the same bytes.
    let again = tmp.path().join("again");
    replay(&config, &again);
    for file in ["metrics.ndjson", "alerts.ndjson"] {
        assert_eq!(
            std::fs::read(out.join(file)).expect("read"),
            std::fs::read(again.join(file)).expect("read"),
            "{file}"
        );
    }
}

#[test]
fn the_rate_limit_moves_alerts_into_summaries() {
    // Two alerts per hour for the rule; up to 10 per user and window.
    let (tmp, config) = rules_file(&RULES.replace(
        "max_per_window = 1 }",
        "max_per_window = 10, rate = { burst = 2, interval = \"1h\" } }",
    ));
    let out = tmp.path().join("out");
    let o = replay(&config, &out);
    let stdout = String::from_utf8_lossy(&o.stdout);
    let messages = alert_messages(&out);
    let alerts = messages.iter().filter(|m| kind(m) == "alert").count();
    assert_eq!(alerts, 2, "{stdout}");
    // The deployer's event and the intruder's first take the two tokens; the intruder's
    // second and the burst's first 10 per window (max_per_window) are suppressed: 21, all
    // reported in the summaries of the three windows with events not sent individually.
    assert!(stdout.contains("21 rate-limited events"), "{stdout}");
    assert_eq!(messages.len() - alerts, 3, "{messages:#?}");
    let rate_limited: u64 = messages
        .iter()
        .filter(|m| kind(m) == "summary")
        .map(|m| body(m)["rate_limited"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(rate_limited, 21);
}

#[test]
fn without_rules_no_alert_or_metric_files_are_written() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tmp.path().join("out");
    let o = replay_with(None, &[], &out, &[CLOUDTRAIL]);
    assert!(o.status.success());
    assert!(!out.join("alerts.ndjson").exists());
    assert!(!out.join("metrics.ndjson").exists());
    assert!(!String::from_utf8_lossy(&o.stdout).contains("alerts"));
    // --alert-to needs a rule with an alert.
    let alert_to = ["--alert-to", "arn:aws:sns:eu-west-1:123456789012:security"];
    let o = replay_with(None, &alert_to, &out, &[CLOUDTRAIL]);
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("--alert-to: no `[[rule]]`"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn check_config_reports_bad_rules_at_their_lines() {
    let (tmp, bad) = rules_file(
        r#"[[rule]]
name = "denied"
pattern = '{ $.errorCode = "AccessDenied" '
alert = { window = "5m" }

[[rule]]
name = "denied-too"
pattern = '{ $.errorCode = "AccessDenied" }'
alert = { topic = "arn:aws:sns:eu-west-1:1234:security", window = "7m" }

[[rule]]
name = "bytes"
pattern = '{ $.bytes > 0 }'
metric = { namespace = "App", name = "Bytes:Out", value = "$.bytes", dimensions = { A = "$.a", B = "$.b", C = "$.c", D = "$.d" } }
"#,
    );
    let o = cwlogs(&["check-config", arg(&bad)]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    for want in [
        "rules.toml:3:41: rule `denied`: `pattern`: If a filter pattern starts with '{' it must end with '}'",
        "rules.toml:9:19: rule `denied-too`: `arn:aws:sns:eu-west-1:1234:security` is not an SNS topic ARN: the account must be 12 digits",
        "rules.toml:9:67: rule `denied-too`: `window` must be a duration from 1m to 1d that divides a day",
        "rules.toml:14:38: rule `bytes`: the metric name `Bytes:Out` must not contain `:`",
        "rules.toml:14:83: rule `bytes`: 4 dimensions; a metric may have at most 3",
    ] {
        assert!(err.contains(want), "missing {want:?} in:\n{err}");
    }
    // replay refuses it the same way, before reading any input.
    let o = replay_with(Some(&bad), &[], &tmp.path().join("out"), &[CLOUDTRAIL]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("rules.toml:3:41:"));
}

/// `replay --alert-to` against SNS in moto (started by scripts/test.sh): the messages read
/// back from an SQS queue subscribed to the topic are those of alerts.ndjson.
#[cfg(feature = "integration")]
mod services {
    use super::*;
    use cwlogs_testkit::moto::{Topic, sdk, state_table, unique};
    use std::time::Duration;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
    }

    #[test]
    fn replay_alert_to_publishes_what_alerts_ndjson_holds() {
        let rt = runtime();
        let sdk = rt.block_on(sdk());
        // A topic with a queue subscribed, raw delivery: the bodies are the messages.
        let topic = rt.block_on(Topic::create(&sdk, "replay", false));
        let queue = rt.block_on(topic.queue(true));
        let (tmp, config) = rules_file(RULES);
        let out = tmp.path().join("out");
        let alert_to = ["--alert-to", topic.arn.as_str()];
        let o = replay_with(Some(&config), &alert_to, &out, &[CLOUDTRAIL, BURST]);
        let stdout = String::from_utf8_lossy(&o.stdout);
        assert!(
            o.status.success(),
            "{stdout}\n{}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(
            stdout.contains(&format!("-> {} and ", topic.arn)),
            "{stdout}"
        );
        let written = alert_messages(&out);
        assert_eq!(written.len(), 7);
        assert!(written.iter().all(|m| m.topic == topic.arn));
        let mut want: Vec<String> = written.iter().map(|m| m.message.clone()).collect();
        let mut got: Vec<String> = rt
            .block_on(topic.drain(&queue, want.len(), Duration::from_secs(15)))
            .iter()
            .filter_map(|m| m.body().map(String::from))
            .collect();
        want.sort();
        got.sort();
        assert_eq!(got, want);
    }

    #[test]
    fn refused_publishes_are_dead_letters_and_fail_the_replay() {
        let (tmp, config) = rules_file(RULES);
        let out = tmp.path().join("out");
        let missing = format!("arn:aws:sns:us-east-1:123456789012:{}", unique("missing"));
        let alert_to = ["--alert-to", missing.as_str()];
        let o = replay_with(Some(&config), &alert_to, &out, &[CLOUDTRAIL]);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains("3 alert messages were refused"), "{stderr}");
        // Nothing went out, so alerts.ndjson is empty; each message is a dead letter.
        assert!(lines(&out.join("alerts.ndjson")).is_empty());
        let dead: Vec<PathBuf> = std::fs::read_dir(out.join("dead-letter"))
            .expect("dead letters")
            .map(|e| e.expect("entry").path())
            .collect();
        assert_eq!(dead.len(), 6, "{dead:?}");
        for p in dead
            .iter()
            .filter(|p| !p.to_string_lossy().ends_with(".error.json"))
        {
            let m: AlertMessage =
                serde_json::from_slice(&std::fs::read(p).expect("read")).expect("AlertMessage");
            assert_eq!(m.topic, missing);
            let err: serde_json::Value = serde_json::from_slice(
                &std::fs::read(format!("{}.error.json", p.display())).expect("error file"),
            )
            .expect("json");
            assert_eq!(err["stage"], "sns");
        }
    }

    /// A state table shared by two replays: the second recognises every window and sends
    /// nothing.
    #[test]
    fn replays_sharing_an_alert_table_send_each_alert_once() {
        let rt = runtime();
        let sdk = rt.block_on(sdk());
        let table = rt.block_on(state_table(&sdk, "state"));
        let (tmp, config) = rules_file(RULES);
        for (run, published) in [("first", 7), ("second", 0)] {
            let out = tmp.path().join(run);
            let alert_table = ["--alert-table", table.as_str()];
            let o = replay_with(Some(&config), &alert_table, &out, &[CLOUDTRAIL, BURST]);
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            assert_eq!(lines(&out.join("alerts.ndjson")).len(), published, "{run}");
        }
    }
}
