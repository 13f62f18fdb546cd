//! End to end, as a function runs it, from the Lambda event bytes: event JSON, base64, gunzip,
//! envelope ([`process_input`]), then per data batch the `[[rule]]`s ([`RuleRun`], 0, 10 or
//! 100 of them, with their EMF lines and alert occurrences built at the end of each
//! invocation) and [`process_batch`] (the `_bulk` bodies; with the archive on, also the gzip
//! NDJSON archive object). No network, no files written.
//!
//! Stages (all over the same data, interleaved in rounds, so machine drift hits them alike):
//!
//! | stage | what |
//! | --- | --- |
//! | `index_r0`, `index_r10`, `index_r100` | the OpenSearch path (`[index]` only) with N rules |
//! | `index_r10_own` | `index_r0` with ten other realistic rules ([`own_rules_toml`]: the CIS CloudTrail alarms, ...) |
//! | `index_r0_noparse` | `index_r0` with `[parse] formats = []`: the built-in parsers' cost is `index_r0` over this |
//! | `index_r0_redact`, `index_r0_redact_all` | `index_r0` with `[redact]`: the default detectors, and all nine built-ins (the IP addresses turn the document prefilter off) |
//! | `index_r0_patterns` | `index_r0` with `[patterns] enabled = true`: every document's message observed by one miner per pass (a container's), `cwlogs.pattern.id` written |
//! | `archive_index_r0`, `archive_index_r10` | `[archive]` (gzip level 6) and `[index]`, N rules |
//! | `rules_r10`, `rules_r100` | the rules alone, as the alert function runs them |
//! | `archive_gz1`, `archive_gz6` | the archive object alone at gzip level 1 and 6 |
//!
//! Throughput is bytes of decompressed payload JSON (what the floor and the peers report);
//! the rules are realistic ones for the four kinds of logs in the data ([`rules_toml`]).
//!
//! Data: `CWLOGS_BENCH_DATA` names a directory written by
//! `python3 bench/gen_cwl.py DIR --mb 100 --seed 42` (keep it outside the
//! repository); its `events/*.json` are read. Without it a small built-in mix is used.
//!
//! ```sh
//! cargo bench -p cwlogs-pipeline --bench e2e                      # 5 rounds, table
//! cargo bench -p cwlogs-pipeline --bench e2e -- --rounds 1 --json out.jsonl --stages index_r10
//! cargo bench -p cwlogs-pipeline --bench e2e -- --rules 10        # print the rules (TOML)
//! cargo bench -p cwlogs-pipeline --bench e2e -- --own-rules       # index_r10_own's rules
//! ```
//!
//! `scripts/bench.sh` runs this beside the floor and the peers, round after round, and prints
//! the ratios. Without `--bench` (as `cargo test --benches` runs it) every stage runs once over
//! the built-in data, as a smoke test.

mod common;

use cwlogs_pipeline::{Config, PatternsConfig, RuleRun, process_batch_with, process_input};
use std::fmt::Write as _;
use std::hint::black_box;
use std::time::Instant;

/// The Lambda events, their decompressed JSON size and their event count.
struct Data {
    events: Vec<Vec<u8>>,
    json_bytes: u64,
    n_events: u64,
    source: String,
}

/// The Lambda events of `dir/events/*.json`, or without `dir` the built-in data.
fn load(dir: Option<std::path::PathBuf>) -> Data {
    let (events, source): (Vec<Vec<u8>>, String) = match dir {
        Some(dir) => {
            let events = common::files(&dir, "events", ".json")
                .iter()
                .map(|p| std::fs::read(p).expect("event file"))
                .collect();
            (events, dir.join("events").display().to_string())
        }
        None => (
            common::synthetic()
                .iter()
                .map(|gz| common::lambda_event(gz))
                .collect(),
            "built-in synthetic mix".to_string(),
        ),
    };
    let config =
        Config::from_toml("[archive]\nenabled = false\n[index]\n", &|_| None).expect("config");
    let (mut json_bytes, mut n_events) = (0, 0);
    for ev in &events {
        let out = process_input(&config, "bench", "bench", ev, |_, _| ());
        assert!(
            out.dead_letters().next().is_none(),
            "undecodable bench input"
        );
        for r in &out.records {
            json_bytes += r.decompressed;
            n_events += r.events as u64;
        }
    }
    Data {
        events,
        json_bytes,
        n_events,
        source,
    }
}

/// What a stage produced, to check that every round did the same work.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Counts {
    events: u64,
    bulk_bytes: u64,
    archive_bytes: u64,
    rule_matches: u64,
    emf_lines: u64,
    occurrences: u64,
}

/// One invocation per event file: decode, rules, builders.
fn run(data: &Data, config: &Config) -> Counts {
    let mut c = Counts::default();
    // `[patterns]`: one miner for the pass, as a warm container keeps one.
    let mut miner = config.patterns.as_ref().map(PatternsConfig::miner);
    for ev in &data.events {
        let mut rules = RuleRun::new(&config.rules);
        let out = process_input(config, "bench", "bench", ev, |region, batch| {
            let matches = rules.add_batch(region, batch, 0);
            (
                matches,
                process_batch_with(config, region, batch, miner.as_mut()),
            )
        });
        for r in out.records {
            c.events += r.events as u64;
            for (matches, o) in r.outputs {
                c.rule_matches += matches;
                c.bulk_bytes += o.bulk.iter().map(|b| b.body.len() as u64).sum::<u64>();
                c.archive_bytes += o.archive.map_or(0, |a| a.body.len() as u64);
            }
        }
        if rules.has_rules() {
            c.emf_lines += black_box(rules.emf_lines()).len() as u64;
            c.occurrences += black_box(rules.take_occurrences()).len() as u64;
        }
    }
    c
}

// ---------------------------------------------------------------------------------------------
// Rules: what people write for these four kinds of logs (CloudTrail, JSON application logs,
// VPC flow logs, Apache access logs). The first ten are a mix of every kind of pattern (JSON
// equality and wildcards, numeric comparisons, terms, space-delimited with conditions) and of
// metrics and alerts; the rest vary them.

const CLOUDTRAIL: &str = r#"["aws-cloudtrail-logs-*"]"#;
const LAMBDA: &str = r#"["/aws/lambda/*"]"#;
const VPC: &str = r#"["vpc-flow-logs"]"#;
const APACHE: &str = r#"["/ecs/frontend/*"]"#;
const VPC_FIELDS: &str = "version, account, eni, source, destination, srcport, destport, protocol, packets, bytes, start, end";

/// `n` (at most 100) `[[rule]]` tables, and an `[alerts]` topic for the alert rules.
pub fn rules_toml(n: usize) -> String {
    // (name, pattern, log groups or "", metric or "", alert or "")
    let mut rules: Vec<(String, String, &str, String, String)> = Vec::new();
    let count = |ns: &str, name: &str| {
        format!(
            r#"{{ namespace = "{ns}", name = "{name}", value = "1", default = 0, unit = "Count" }}"#
        )
    };
    let alert = |by: &str, window: &str| {
        format!(r#"{{ group_by = ["{by}"], window = "{window}", max_per_window = 3 }}"#)
    };
    rules.push((
        "ct-access-denied".into(),
        r#"{ $.errorCode = "AccessDenied" }"#.into(),
        CLOUDTRAIL,
        count("Security", "AccessDenied"),
        alert("$.userIdentity.arn", "5m"),
    ));
    rules.push((
        "app-errors".into(),
        r#"{ $.level = "ERROR" }"#.into(),
        LAMBDA,
        r#"{ namespace = "App", name = "Errors", value = "1", unit = "Count", dimensions = { Service = "$.service" } }"#.into(),
        String::new(),
    ));
    rules.push((
        "vpc-rejected-bytes".into(),
        format!(r#"[{VPC_FIELDS}, action = "REJECT", status]"#),
        VPC,
        r#"{ namespace = "Network", name = "RejectedBytes", value = "$bytes", unit = "Bytes" }"#
            .into(),
        String::new(),
    ));
    rules.push((
        "apache-5xx".into(),
        "[ip, id, user, timestamp, request, status_code = 5*, size, ...]".into(),
        APACHE,
        count("Web", "ServerErrors"),
        String::new(),
    ));
    rules.push((
        "error-term".into(),
        "ERROR".into(),
        "",
        count("Logs", "ErrorTerm"),
        String::new(),
    ));
    rules.push((
        "ct-console-login-iam-user".into(),
        r#"{ ($.eventName = "ConsoleLogin") && ($.userIdentity.type = "IAMUser") }"#.into(),
        CLOUDTRAIL,
        String::new(),
        alert("$.sourceIPAddress", "1h"),
    ));
    rules.push((
        "app-slow-requests".into(),
        r#"{ $.latency > 100 }"#.into(),
        LAMBDA,
        r#"{ namespace = "App", name = "SlowRequestLatency", value = "$.latency", unit = "Milliseconds" }"#.into(),
        String::new(),
    ));
    rules.push((
        "ct-iam-access-keys".into(),
        r#"{ ($.eventSource = "iam.amazonaws.com") && (($.eventName = "CreateAccessKey") || ($.eventName = "DeleteAccessKey")) }"#.into(),
        CLOUDTRAIL,
        count("Security", "AccessKeyChanges"),
        alert("$.userIdentity.arn", "15m"),
    ));
    rules.push((
        "timeouts".into(),
        r#"?"upstream timeout" ?"connection reset""#.into(),
        "",
        count("Logs", "Timeouts"),
        String::new(),
    ));
    rules.push((
        "ct-throttling".into(),
        r#"{ $.errorCode = "*Exception" }"#.into(),
        CLOUDTRAIL,
        count("CloudTrail", "ErrorExceptions"),
        String::new(),
    ));

    // Variations, in the proportions of the first ten.
    let names = [
        "GetObject",
        "PutObject",
        "ListBucket",
        "DescribeInstances",
        "RunInstances",
        "GetRole",
        "CreateAccessKey",
        "AssumeRole",
        "Decrypt",
        "GenerateDataKey",
        "Invoke",
        "DescribeTable",
        "PutLogEvents",
        "ConsoleLogin",
    ];
    for name in names {
        rules.push((
            format!("ct-{name}"),
            format!(r#"{{ $.eventName = "{name}" }}"#),
            CLOUDTRAIL,
            count("CloudTrail", name),
            String::new(),
        ));
    }
    for code in [
        "ThrottlingException",
        "NoSuchKey",
        "InvalidParameterValue",
        "ResourceNotFoundException",
    ] {
        rules.push((
            format!("ct-error-{code}"),
            format!(r#"{{ $.errorCode = "{code}" && $.readOnly IS TRUE }}"#),
            CLOUDTRAIL,
            count("CloudTrail", code),
            String::new(),
        ));
    }
    for region in ["us-east-1", "us-west-2", "eu-west-1", "ap-southeast-2"] {
        rules.push((
            format!("ct-writes-{region}"),
            format!(r#"{{ $.awsRegion = "{region}" && $.readOnly IS FALSE }}"#),
            CLOUDTRAIL,
            count("CloudTrail", &format!("Writes-{region}")),
            String::new(),
        ));
    }
    for (i, agent) in [
        "aws-cli*",
        "Boto3*",
        "aws-sdk-java*",
        "console.amazonaws.com",
    ]
    .iter()
    .enumerate()
    {
        rules.push((
            format!("ct-agent-{i}"),
            format!(r#"{{ $.userAgent = "{agent}" && $.errorCode = "*" }}"#),
            CLOUDTRAIL,
            String::new(),
            alert("$.userIdentity.arn", "5m"),
        ));
    }
    let services = [
        "checkout",
        "payments",
        "catalog",
        "auth",
        "inventory",
        "notifications",
    ];
    for service in services {
        for level in ["ERROR", "WARN"] {
            rules.push((
                format!("app-{service}-{level}"),
                format!(r#"{{ $.service = "{service}" && $.level = "{level}" }}"#),
                LAMBDA,
                count("App", &format!("{service}-{level}")),
                String::new(),
            ));
        }
    }
    for status in [400, 404, 500, 201, 302] {
        rules.push((
            format!("app-status-{status}"),
            format!(r#"{{ $.status = {status} }}"#),
            LAMBDA,
            count("App", &format!("Status{status}")),
            String::new(),
        ));
    }
    for status in [404, 403, 500, 503, 301] {
        rules.push((
            format!("apache-{status}"),
            format!(
                "[ip, id, user, timestamp, request, status_code = {status}, size, referrer, agent]"
            ),
            APACHE,
            r#"{ namespace = "Web", name = "ResponseBytes", value = "$size", unit = "Bytes" }"#
                .into(),
            String::new(),
        ));
    }
    for port in [22, 3306, 5432, 443, 80] {
        rules.push((
            format!("vpc-port-{port}"),
            format!(
                "[version, account, eni, source, destination, srcport, destport = {port}, protocol, packets, bytes, start, end, action, status]"
            ),
            VPC,
            r#"{ namespace = "Network", name = "Bytes", value = "$bytes", unit = "Bytes", dimensions = { Action = "$action" } }"#.into(),
            String::new(),
        ));
    }
    for term in [
        r#""cache miss""#,
        r#""db query finished""#,
        r#""retrying request""#,
        r#""rate limit exceeded""#,
        r#""validation failed""#,
        r#""item not found""#,
        r#""payment authorized""#,
        r#""order created""#,
        "Traceback",
        "TimeoutError",
        "ConnectionError",
        "REJECT",
    ] {
        rules.push((
            format!("term-{}", term.trim_matches('"').replace(' ', "-")),
            term.into(),
            "",
            count("Logs", &term.trim_matches('"').replace(' ', "-")),
            String::new(),
        ));
    }
    for (i, path) in ["/api/v1/orders*", "/login", "/api/v2/cart/*", "/healthz"]
        .iter()
        .enumerate()
    {
        rules.push((
            format!("app-path-{i}"),
            format!(r#"{{ $.path = "{path}" && $.status >= 400 }}"#),
            LAMBDA,
            count("App", &format!("PathErrors{i}")),
            String::new(),
        ));
    }
    for (i, threshold) in [50, 200, 500, 1000, 2000].iter().enumerate() {
        rules.push((
            format!("app-latency-{i}"),
            format!(r#"{{ $.latency >= {threshold} && $.method = "POST" }}"#),
            LAMBDA,
            count("App", &format!("SlowPosts{threshold}")),
            String::new(),
        ));
    }
    for (i, ip) in ["52.*", "203.*", "3.*", "99.*"].iter().enumerate() {
        rules.push((
            format!("ct-source-{i}"),
            format!(r#"{{ $.sourceIPAddress = "{ip}" && $.eventType = "AwsConsoleSignIn" }}"#),
            CLOUDTRAIL,
            String::new(),
            alert("$.sourceIPAddress", "1h"),
        ));
    }
    for (i, level) in ["ERROR", "WARN", "DEBUG"].iter().enumerate() {
        rules.push((
            format!("lambda-runtime-{i}"),
            format!("[timestamp, request_id, level = {level}, ...]"),
            LAMBDA,
            count("Lambda", &format!("RuntimeLines{level}")),
            String::new(),
        ));
    }
    let mut i = 0;
    while rules.len() < 100 {
        let service = services[i % services.len()];
        rules.push((
            format!("app-{service}-5xx-{i}"),
            format!(
                r#"{{ $.service = "{service}" && $.status >= 500 && $.user_id > {} }}"#,
                i * 1000
            ),
            LAMBDA,
            count("App", &format!("{service}-5xx-{i}")),
            String::new(),
        ));
        i += 1;
    }
    assert!(n <= rules.len(), "at most {} rules", rules.len());
    let mut out = String::new();
    if rules[..n].iter().any(|r| !r.4.is_empty()) {
        out.push_str("[alerts]\ntopic = \"arn:aws:sns:eu-west-1:123456789012:cwlogs-alerts\"\n\n");
    }
    for (name, pattern, groups, metric, alert) in &rules[..n] {
        let _ = writeln!(out, "[[rule]]\nname = \"{name}\"\npattern = '{pattern}'");
        if !groups.is_empty() {
            let _ = writeln!(out, "log_groups = {groups}");
        }
        if !metric.is_empty() {
            let _ = writeln!(out, "metric = {metric}");
        }
        if !alert.is_empty() {
            let _ = writeln!(out, "alert = {alert}");
        }
        out.push('\n');
    }
    out
}

/// Ten other realistic rules (issue 22's second set, `index_r10_own`): the CIS AWS Foundations
/// Benchmark's CloudTrail alarms (unauthorized API calls, console sign-in without MFA, root
/// account use, IAM policy changes, security group changes), 5xx responses per service and
/// error or fatal lines of application logs, accepted SSH in VPC flow logs, 4xx bytes of
/// Apache access logs and an unscoped term rule for Lambda timeouts and Python tracebacks.
/// Their texts (18) are more than one shared scan takes, unlike [`rules_toml`]'s first ten.
pub fn own_rules_toml() -> String {
    let count = |ns: &str, name: &str| {
        format!(
            r#"metric = {{ namespace = "{ns}", name = "{name}", value = "1", default = 0, unit = "Count" }}"#
        )
    };
    let rules = [
        (
            "cis-unauthorized-api-calls",
            r#"{ ($.errorCode = "*UnauthorizedOperation") || ($.errorCode = "AccessDenied*") }"#,
            CLOUDTRAIL,
            count("CIS", "UnauthorizedAPICalls"),
        ),
        (
            "cis-console-signin-without-mfa",
            r#"{ ($.eventName = "ConsoleLogin") && ($.additionalEventData.MFAUsed != "Yes") }"#,
            CLOUDTRAIL,
            r#"alert = { group_by = ["$.userIdentity.arn"], window = "1h", max_per_window = 3 }"#
                .to_string(),
        ),
        (
            "cis-root-account-usage",
            r#"{ $.userIdentity.type = "Root" && $.userIdentity.invokedBy NOT EXISTS && $.eventType != "AwsServiceEvent" }"#,
            CLOUDTRAIL,
            count("CIS", "RootAccountUsage"),
        ),
        (
            "cis-iam-policy-changes",
            r#"{ ($.eventSource = "iam.amazonaws.com") && (($.eventName = "PutRolePolicy") || ($.eventName = "AttachRolePolicy") || ($.eventName = "DetachRolePolicy") || ($.eventName = "DeleteRolePolicy")) }"#,
            CLOUDTRAIL,
            r#"alert = { group_by = ["$.userIdentity.arn"], window = "15m", max_per_window = 3 }"#
                .to_string(),
        ),
        (
            "cis-security-group-changes",
            r#"{ ($.eventName = "AuthorizeSecurityGroupIngress") || ($.eventName = "RevokeSecurityGroupIngress") || ($.eventName = "CreateSecurityGroup") || ($.eventName = "DeleteSecurityGroup") }"#,
            CLOUDTRAIL,
            count("CIS", "SecurityGroupChanges"),
        ),
        (
            "app-5xx-by-service",
            r#"{ $.status >= 500 }"#,
            LAMBDA,
            r#"metric = { namespace = "App", name = "ServerErrors", value = "1", unit = "Count", dimensions = { Service = "$.service" } }"#
                .to_string(),
        ),
        (
            "app-error-or-fatal",
            r#"{ $.level = "ERROR" || $.level = "FATAL" }"#,
            LAMBDA,
            r#"alert = { group_by = ["$.service"], window = "5m", max_per_window = 3 }"#
                .to_string(),
        ),
        (
            "vpc-ssh-accepted",
            &format!(r#"[{VPC_FIELDS}, action = "ACCEPT", status]"#).replace(
                "destport, protocol",
                "destport = 22, protocol = 6",
            ),
            VPC,
            count("Network", "AcceptedSsh"),
        ),
        (
            "apache-4xx-bytes",
            "[ip, id, user, timestamp, request, status_code = 4*, size, ...]",
            APACHE,
            r#"metric = { namespace = "Web", name = "ClientErrorBytes", value = "$size", unit = "Bytes" }"#
                .to_string(),
        ),
        (
            "timeouts-and-tracebacks",
            r#"?"Task timed out" ?Traceback"#,
            "",
            count("Logs", "TimeoutsAndTracebacks"),
        ),
    ];
    let mut out =
        String::from("[alerts]\ntopic = \"arn:aws:sns:eu-west-1:123456789012:cwlogs-alerts\"\n\n");
    for (name, pattern, groups, action) in rules {
        let _ = writeln!(out, "[[rule]]\nname = \"{name}\"\npattern = '{pattern}'");
        if !groups.is_empty() {
            let _ = writeln!(out, "log_groups = {groups}");
        }
        let _ = writeln!(out, "{action}\n");
    }
    out
}

// ---------------------------------------------------------------------------------------------

/// A stage: its name, what it is, and its configuration.
struct Stage {
    name: &'static str,
    what: &'static str,
    config: Config,
}

/// A stage's configuration. A destination the stage leaves out is turned off with `enabled =
/// false` (an absent section means its defaults, which are on).
fn config(archive: Option<u32>, index: bool, rules: usize) -> Config {
    let mut text = String::new();
    match archive {
        Some(level) => {
            let _ = writeln!(text, "[archive]\nprefix = \"cwl\"\ngzip_level = {level}\n");
        }
        None => text.push_str("[archive]\nenabled = false\n\n"),
    }
    if index {
        text.push_str("[index]\nindex = \"cwl-{log_group}-{yyyy.MM.dd}\"\n\n");
    } else {
        text.push_str("[index]\nenabled = false\n\n");
    }
    text.push_str(&rules_toml(rules));
    Config::from_toml(&text, &|_| None).unwrap_or_else(|e| panic!("bench config: {e:?}"))
}

/// `index_r0` with [`own_rules_toml`]'s ten rules.
fn config_own_rules() -> Config {
    let text = format!(
        "[archive]\nenabled = false\n\n[index]\nindex = \"cwl-{{log_group}}-{{yyyy.MM.dd}}\"\n\n{}",
        own_rules_toml()
    );
    Config::from_toml(&text, &|_| None).unwrap_or_else(|e| panic!("bench config: {e:?}"))
}

/// `index_r0` without the built-in parsers of `[parse]`.
fn config_patterns() -> Config {
    Config::from_toml(
        "[archive]\nenabled = false\n\n[index]\nindex = \"cwl-{log_group}-{yyyy.MM.dd}\"\n\n[patterns]\nenabled = true\n",
        &|_| None,
    )
    .unwrap_or_else(|e| panic!("bench config: {e:?}"))
}
/// `index_r0` with `[redact]`: the default detectors, or every built-in (`all`: the IP
/// addresses too, which turn the document prefilter off).
fn config_redact(all: bool) -> Config {
    let detectors = if all {
        "detectors = [\"aws-access-key-id\", \"aws-secret-access-key\", \"email\", \"credit-card\", \"jwt\", \"private-key\", \"url-credentials\", \"ipv4\", \"ipv6\"]\n"
    } else {
        ""
    };
    Config::from_toml(
        &format!("[archive]\nenabled = false\n\n[index]\nindex = \"cwl-{{log_group}}-{{yyyy.MM.dd}}\"\n\n[redact]\n{detectors}"),
        &|_| None,
    )
    .unwrap_or_else(|e| panic!("bench config: {e:?}"))
}

fn config_noparse() -> Config {
    Config::from_toml(
        "[archive]\nenabled = false\n\n[index]\nindex = \"cwl-{log_group}-{yyyy.MM.dd}\"\n\n[parse]\nformats = []\n",
        &|_| None,
    )
    .unwrap_or_else(|e| panic!("bench config: {e:?}"))
}

fn stages() -> Vec<Stage> {
    vec![
        Stage {
            name: "index_r0",
            what: "event bytes -> decode -> _bulk bodies",
            config: config(None, true, 0),
        },
        Stage {
            name: "index_r0_noparse",
            what: "index_r0 with [parse] formats = [] (no built-in parser)",
            config: config_noparse(),
        },
        Stage {
            name: "index_r0_patterns",
            what: "index_r0 with [patterns] enabled = true (cwlogs.pattern.id)",
            config: config_patterns(),
        },
        Stage {
            name: "index_r0_redact",
            what: "index_r0 with [redact] (default detectors: all but ipv4/ipv6)",
            config: config_redact(false),
        },
        Stage {
            name: "index_r0_redact_all",
            what: "index_r0 with [redact] and all 9 built-in detectors",
            config: config_redact(true),
        },
        Stage {
            name: "index_r10",
            what: "index_r0 + 10 rules (metrics, alert occurrences)",
            config: config(None, true, 10),
        },
        Stage {
            name: "index_r10_own",
            what: "index_r0 + 10 other rules (CIS CloudTrail alarms, app, VPC, Apache)",
            config: config_own_rules(),
        },
        Stage {
            name: "index_r100",
            what: "index_r0 + 100 rules",
            config: config(None, true, 100),
        },
        Stage {
            name: "archive_index_r0",
            what: "index_r0 + gzip-6 archive object",
            config: config(Some(6), true, 0),
        },
        Stage {
            name: "archive_index_r10",
            what: "archive_index_r0 + 10 rules",
            config: config(Some(6), true, 10),
        },
        Stage {
            name: "rules_r10",
            what: "event bytes -> decode -> 10 rules (the alert function's work)",
            config: config(None, false, 10),
        },
        Stage {
            name: "rules_r100",
            what: "event bytes -> decode -> 100 rules",
            config: config(None, false, 100),
        },
        Stage {
            name: "archive_gz1",
            what: "event bytes -> decode -> archive object, gzip level 1",
            config: config(Some(1), false, 0),
        },
        Stage {
            name: "archive_gz6",
            what: "event bytes -> decode -> archive object, gzip level 6",
            config: config(Some(6), false, 0),
        },
    ]
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    if args.iter().any(|a| a == "--own-rules") {
        print!("{}", own_rules_toml());
        return;
    }
    if let Some(n) = value("--rules") {
        print!("{}", rules_toml(n.parse().expect("--rules N")));
        return;
    }
    // `cargo bench` passes `--bench`; `cargo test --benches` does not: one quick pass then.
    let smoke = !args.iter().any(|a| a == "--bench");
    let rounds: usize = value("--rounds").map_or(5, |r| r.parse().expect("--rounds N"));
    let only: Option<Vec<String>> =
        value("--stages").map(|s| s.split(',').map(String::from).collect());
    let data = load(if smoke {
        None
    } else {
        std::env::var_os("CWLOGS_BENCH_DATA").map(Into::into)
    });
    let stages: Vec<Stage> = stages()
        .into_iter()
        .filter(|s| only.as_ref().is_none_or(|o| o.iter().any(|x| x == s.name)))
        .collect();
    assert!(!stages.is_empty(), "no such stage");
    // Warm-up (one pass of each) and the counts every round must repeat.
    let counts: Vec<Counts> = stages.iter().map(|s| run(&data, &s.config)).collect();
    if smoke {
        for (s, c) in stages.iter().zip(&counts) {
            assert_eq!(c.events, data.n_events, "{}", s.name);
        }
        println!("e2e: smoke pass over the built-in data ok");
        return;
    }
    let mut times = vec![Vec::new(); stages.len()];
    for _ in 0..rounds {
        for (k, s) in stages.iter().enumerate() {
            let t = Instant::now();
            let c = black_box(run(&data, &s.config));
            times[k].push(t.elapsed().as_secs_f64());
            assert_eq!(c, counts[k], "{}: a round did different work", s.name);
        }
    }
    let mb = data.json_bytes as f64 / 1e6;
    eprintln!(
        "e2e: {} Lambda events, {} log events, {:.1} MB of JSON ({}), {rounds} rounds",
        data.events.len(),
        data.n_events,
        mb,
        data.source
    );
    println!(
        "{:<18} {:>8} {:>9} {:>10} {:>9} {:>10}  what",
        "stage", "med_s", "MB/s", "events/s", "vs r0", "out MB"
    );
    let base = median(&times[0]);
    let mut jsonl = String::new();
    for (k, s) in stages.iter().enumerate() {
        let med = median(&times[k]);
        let c = counts[k];
        println!(
            "{:<18} {:>8.3} {:>9.1} {:>10.0} {:>8.1}% {:>10.1}  {}",
            s.name,
            med,
            mb / med,
            data.n_events as f64 / med,
            100.0 * base / med,
            (c.bulk_bytes + c.archive_bytes) as f64 / 1e6,
            s.what
        );
        let _ = writeln!(
            jsonl,
            r#"{{"harness":"cwlogs","stage":"{}","median_s":{med:.5},"mb_per_s_json":{:.2},"events_per_s":{:.0},"bulk_bytes":{},"archive_bytes":{},"rule_matches":{},"emf_lines":{},"occurrences":{},"times":{:?}}}"#,
            s.name,
            mb / med,
            data.n_events as f64 / med,
            c.bulk_bytes,
            c.archive_bytes,
            c.rule_matches,
            c.emf_lines,
            c.occurrences,
            times[k]
        );
    }
    if let Some(path) = value("--json") {
        std::fs::write(&path, jsonl).unwrap_or_else(|e| panic!("{path}: {e}"));
    }
}
