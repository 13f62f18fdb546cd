//! The parsers on real records (testdata/parse/*.toml: AWS's documented examples with the
//! fields each must give), property tests, hostile input, the configuration checks, multiline
//! and enrichment, all through the real document builder (the code path of `cwlogs replay` and
//! the index function).

use crate::Config;
use crate::index::DocumentBuilder;
use cwlogs_decode::{LogBatch, LogEvent, MessageType};
use serde_json::Value;
use std::collections::BTreeMap;

use cwlogs_testkit::json::Strict;

fn strict(doc: &[u8]) -> Value {
    match serde_json::from_slice::<Strict>(doc) {
        Ok(Strict(v)) => v,
        Err(e) => panic!("{e}: {}", String::from_utf8_lossy(doc)),
    }
}

fn no_env(_: &str) -> Option<String> {
    None
}

fn config(text: &str) -> Config {
    Config::from_toml(text, &no_env).unwrap_or_else(|e| panic!("{e:?}\n{text}"))
}

fn batch<'a>(group: &str, messages: &[&'a str]) -> LogBatch<'a> {
    LogBatch {
        message_type: MessageType::Data,
        owner: "123456789012".into(),
        log_group: group.to_string().into(),
        log_stream: "s".into(),
        subscription_filters: vec![],
        policy_level: None,
        region: None,
        log_events: messages
            .iter()
            .enumerate()
            .map(|(i, m)| LogEvent {
                id: format!("{i:056}").into(),
                timestamp: 1_764_028_800_000 + i as i64,
                message: (*m).into(),
            })
            .collect(),
    }
}

/// The documents `config` builds for `messages` in `group`, as the index path builds them
/// (`bulk_chunks`, multiline included), checked to be strict JSON.
fn documents(config: &Config, group: &str, messages: &[&str]) -> Vec<Value> {
    let index = config.index.as_ref().expect("index");
    let b = batch(group, messages);
    let mut docs = Vec::new();
    for chunk in crate::index::bulk_chunks(index, "eu-west-1", &b) {
        for item in chunk.items() {
            let doc = &item[item.iter().position(|&c| c == b'\n').expect("action") + 1..];
            docs.push(strict(doc));
        }
    }
    docs
}

fn document(config: &Config, group: &str, message: &str) -> Value {
    let index = config.index.as_ref().expect("index");
    let b = batch(group, &[message]);
    let mut out = Vec::new();
    DocumentBuilder::new(&index.documents, "eu-west-1", &b).push(&mut out, &b.log_events[0]);
    assert!(out.ends_with(b"\n") && !out[..out.len() - 1].contains(&b'\n'));
    strict(&out)
}

/// Leaf fields of a document, dotted, with their values.
fn flatten(prefix: &str, v: &Value, out: &mut BTreeMap<String, Value>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                let path = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&path, v, out);
            }
        }
        v => {
            out.insert(prefix.to_string(), v.clone());
        }
    }
}

/// What the parsers (and enrichment) added: every leaf but the document's own fields, the
/// `json` object, what it says about `json` (`cwlogs.truncated`, `cwlogs.reasons`) and the
/// parse error.
fn added(doc: &Value) -> BTreeMap<String, Value> {
    const OWN: [&str; 8] = [
        "@timestamp",
        "message",
        "event.id",
        "cloud.provider",
        "cloud.account.id",
        "cloud.region",
        "aws.cloudwatch.log_group",
        "aws.cloudwatch.log_stream",
    ];
    let mut all = BTreeMap::new();
    flatten("", doc, &mut all);
    all.retain(|k, _| {
        !OWN.contains(&k.as_str())
            && !k.starts_with("json.")
            && !["cwlogs.parse_error", "cwlogs.truncated", "cwlogs.reasons"].contains(&k.as_str())
    });
    all
}

fn toml_to_json(v: &toml::Value) -> Value {
    match v {
        toml::Value::String(s) => Value::String(s.clone()),
        toml::Value::Integer(i) => Value::from(*i),
        toml::Value::Float(f) => Value::from(*f),
        toml::Value::Boolean(b) => Value::Bool(*b),
        other => panic!("unexpected {other:?}"),
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    what: String,
    source: String,
    message: String,
    format: Option<String>,
    parse_error: Option<String>,
    fields: Option<BTreeMap<String, toml::Value>>,
}

#[derive(serde::Deserialize)]
struct Cases {
    case: Vec<Case>,
}

fn run_cases(file: &str) -> usize {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/parse")
        .join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    let cases: Cases = toml::from_str(&text).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    let mut failures = Vec::new();
    for c in &cases.case {
        assert!(!c.source.is_empty(), "{}: no source", c.what);
        let mut text = String::from("[index]\n");
        if let Some(f) = &c.format {
            text.push_str(&format!(
                "[[parse.vpc_flow]]\nlog_groups = [\"/test\"]\nformat = {}\n",
                toml::Value::String(f.clone())
            ));
        }
        let doc = document(&config(&text), "/test", &c.message);
        let got = added(&doc);
        let error = doc["cwlogs"]["parse_error"].as_str().map(str::to_string);
        let want: BTreeMap<String, Value> = c
            .fields
            .iter()
            .flatten()
            .map(|(k, v)| (k.clone(), toml_to_json(v)))
            .collect();
        if c.parse_error.is_some() && c.fields.is_some() {
            failures.push(format!("{}: both parse_error and fields", c.what));
        }
        if got != want || error != c.parse_error {
            failures.push(format!(
                "{} ({})\n  want {want:?} {:?}\n  got  {got:?} {error:?}",
                c.what, c.source, c.parse_error
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    cases.case.len()
}

#[test]
fn aws_vpc_flow_log_records() {
    assert!(run_cases("vpc-flow.toml") >= 30);
}

#[test]
fn aws_lambda_platform_lines_and_events() {
    assert!(run_cases("lambda-platform.toml") >= 15);
}

#[test]
fn aws_cloudtrail_records() {
    assert!(run_cases("cloudtrail.toml") >= 10);
}

// ---------------------------------------------------------------------------------------------
// Properties.

mod properties {
    use super::*;
    use proptest::prelude::*;

    fn ipv4() -> impl Strategy<Value = String> {
        any::<[u8; 4]>().prop_map(|b| std::net::Ipv4Addr::from(b).to_string())
    }

    fn ip() -> impl Strategy<Value = String> {
        prop_oneof![
            3 => ipv4(),
            1 => any::<[u8; 16]>().prop_map(|b| std::net::Ipv6Addr::from(b).to_string()),
        ]
    }

    fn time() -> impl Strategy<Value = u64> {
        0u64..=253_402_300_799
    }

    fn rfc(secs: u64) -> String {
        crate::util::time::UtcTime::from_millis(secs as i64 * 1000).rfc3339()
    }

    /// A default-format record from random values, `-` (absent) anywhere AWS may write it.
    #[derive(Debug, Clone)]
    struct Record {
        account: String,
        interface: String,
        src: Option<String>,
        dst: Option<String>,
        sport: Option<u16>,
        dport: Option<u16>,
        proto: Option<u8>,
        packets: Option<u64>,
        bytes: Option<u64>,
        start: u64,
        end: u64,
        action: Option<&'static str>,
        status: &'static str,
    }

    fn record() -> impl Strategy<Value = Record> {
        (
            (
                prop_oneof!["[0-9]{12}", Just("unknown".to_string())],
                "eni-[0-9a-f]{8,17}",
                proptest::option::weighted(0.9, ip()),
                proptest::option::weighted(0.9, ip()),
                proptest::option::weighted(0.9, any::<u16>()),
                proptest::option::weighted(0.9, any::<u16>()),
                proptest::option::weighted(0.9, any::<u8>()),
            ),
            (
                proptest::option::weighted(0.9, any::<u64>()),
                proptest::option::weighted(0.9, any::<u64>()),
                time(),
                time(),
                proptest::option::weighted(0.9, prop_oneof![Just("ACCEPT"), Just("REJECT")]),
                prop_oneof![Just("OK"), Just("NODATA"), Just("SKIPDATA")],
            ),
        )
            .prop_map(
                |(
                    (account, interface, src, dst, sport, dport, proto),
                    (packets, bytes, start, end, action, status),
                )| Record {
                    account,
                    interface,
                    src,
                    dst,
                    sport,
                    dport,
                    proto,
                    packets,
                    bytes,
                    start,
                    end,
                    action,
                    status,
                },
            )
    }

    fn dash<T: ToString>(v: &Option<T>) -> String {
        v.as_ref().map_or("-".to_string(), ToString::to_string)
    }

    impl Record {
        fn line(&self) -> String {
            format!(
                "2 {} {} {} {} {} {} {} {} {} {} {} {} {}",
                self.account,
                self.interface,
                dash(&self.src),
                dash(&self.dst),
                dash(&self.sport),
                dash(&self.dport),
                dash(&self.proto),
                dash(&self.packets),
                dash(&self.bytes),
                self.start,
                self.end,
                dash(&self.action),
                self.status
            )
        }

        fn fields(&self) -> BTreeMap<String, Value> {
            let mut f = BTreeMap::new();
            let mut put = |k: &str, v: Value| {
                f.insert(k.to_string(), v);
            };
            put("aws.vpcflow.version", 2.into());
            put("aws.vpcflow.account_id", self.account.clone().into());
            put("aws.vpcflow.interface_id", self.interface.clone().into());
            if let Some(v) = &self.src {
                put("source.ip", v.clone().into());
            }
            if let Some(v) = &self.dst {
                put("destination.ip", v.clone().into());
            }
            if let Some(v) = self.sport {
                put("source.port", v.into());
            }
            if let Some(v) = self.dport {
                put("destination.port", v.into());
            }
            if let Some(v) = self.proto {
                put("network.iana_number", v.to_string().into());
                if let Some(t) = crate::shape::vpc_flow::transport(v) {
                    put("network.transport", t.into());
                }
            }
            if let Some(v) = self.packets {
                put("source.packets", v.into());
            }
            if let Some(v) = self.bytes {
                put("source.bytes", v.into());
            }
            put("event.start", rfc(self.start).into());
            put("event.end", rfc(self.end).into());
            if let Some(v) = self.action {
                put("aws.vpcflow.action", v.into());
            }
            put("aws.vpcflow.log_status", self.status.into());
            f
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Any default-format record gives its fields back, with their types.
        #[test]
        fn default_format_records_give_their_fields_back(r in record()) {
            let config = config("[index]\n");
            let doc = document(&config, "vpc-flow-logs", &r.line());
            prop_assert_eq!(doc["cwlogs"].get("parse_error"), None, "{}", r.line());
            prop_assert_eq!(added(&doc), r.fields());
        }

        /// The default format's fast path writes the very bytes the general path writes for
        /// the same format given as a custom one, errors included (fields 1 and 2 stay valid:
        /// they are the default format's prefilter).
        #[test]
        fn the_default_fast_path_writes_what_the_general_path_writes(
            r in record(),
            spoil in proptest::option::of((2usize..14, prop_oneof![
                Just("x"), Just("99999"), Just("-1"), Just("18446744073709551616"), Just("1.2.3"),
            ])),
        ) {
            let line = r.line();
            let mut parts: Vec<&str> = line.split(' ').collect();
            if let Some((i, bad)) = spoil {
                parts[i] = bad;
            }
            let line = parts.join(" ");
            let fast = config("[index]\n");
            let general = config(&format!(
                "[index]\n[[parse.vpc_flow]]\nlog_groups = [\"/g\"]\nformat = \"{}\"\n",
                crate::shape::vpc_flow::FlowFormat::default_format().text()
            ));
            prop_assert_eq!(document(&fast, "/g", &line), document(&general, "/g", &line));
        }

        /// Any custom format (a random choice and order of fields) gives the fields of its
        /// records back: the same values as the default-format record written from them.
        #[test]
        fn custom_formats_give_their_fields_back(
            r in record(),
            pick in proptest::collection::vec(any::<bool>(), 14),
            order in Just((0..14).collect::<Vec<usize>>()).prop_shuffle(),
        ) {
            let names = crate::shape::vpc_flow::FlowFormat::default_format().fields();
            let line = r.line();
            let values: Vec<&str> = line.split(' ').collect();
            let chosen: Vec<usize> = order.into_iter().filter(|&i| pick[i]).collect();
            prop_assume!(!chosen.is_empty());
            let format: Vec<String> = chosen.iter().map(|&i| format!("${{{}}}", names[i].name)).collect();
            let message: Vec<&str> = chosen.iter().map(|&i| values[i]).collect();
            let config = config(&format!(
                "[index]\n[[parse.vpc_flow]]\nlog_groups = [\"/vpc/custom\"]\nformat = \"{}\"\n",
                format.join(" ")
            ));
            let doc = document(&config, "/vpc/custom", &message.join(" "));
            prop_assert_eq!(doc["cwlogs"].get("parse_error"), None, "{:?}", message);
            // The expected fields: those of the chosen positions.
            let all = r.fields();
            let key_of = |i: usize| -> Vec<&'static str> {
                match i {
                    0 => vec!["aws.vpcflow.version"],
                    1 => vec!["aws.vpcflow.account_id"],
                    2 => vec!["aws.vpcflow.interface_id"],
                    3 => vec!["source.ip"],
                    4 => vec!["destination.ip"],
                    5 => vec!["source.port"],
                    6 => vec!["destination.port"],
                    7 => vec!["network.iana_number", "network.transport"],
                    8 => vec!["source.packets"],
                    9 => vec!["source.bytes"],
                    10 => vec!["event.start"],
                    11 => vec!["event.end"],
                    12 => vec!["aws.vpcflow.action"],
                    _ => vec!["aws.vpcflow.log_status"],
                }
            };
            let want: BTreeMap<String, Value> = all
                .into_iter()
                .filter(|(k, _)| chosen.iter().any(|&i| key_of(i).contains(&k.as_str())))
                .collect();
            prop_assert_eq!(added(&doc), want);
        }

        /// Lines near the formats never give a document the cluster would reject: strict JSON
        /// (no key twice), every typed field of its type, or a parse error and no typed field.
        #[test]
        fn near_miss_lines_never_give_a_wrong_type(
            line in prop_oneof![
                "2 [0-9]{12} [ -~]{0,20}( [0-9a-zA-Z:.-]{0,12}){0,16}",
                "2 unknown( [0-9.:-]{0,8}){10,16}",
                "(START|END|REPORT) RequestId: [ -~]{0,40}( [A-Za-z :.0-9\t\n]{0,30}){0,8}",
                "REPORT RequestId: [0-9a-f-]{36}\t(Duration|Billed Duration|Memory Size|Max Memory Used|Init Duration|Restore Duration|XRAY TraceId): [0-9.e+-]{0,24} (ms|MB)?\t",
            ],
        ) {
            let config = config("[index]\n");
            let doc = document(&config, "/g", &line);
            check_types(&doc)?;
        }

        /// The same for JSON that looks like CloudTrail records or Lambda platform events.
        #[test]
        fn near_miss_json_never_gives_a_wrong_type(
            values in proptest::collection::vec(prop_oneof![
                Just("\"x\"".to_string()),
                Just("null".to_string()),
                Just("7".to_string()),
                Just("-1".to_string()),
                Just("1.5e300".to_string()),
                Just("18446744073709551616".to_string()),
                Just("{}".to_string()),
                Just("[]".to_string()),
                Just("\"203.0.113.9\"".to_string()),
                Just("\"::1\"".to_string()),
                Just("\"Root=1-abc;Sampled=1\"".to_string()),
                Just("{\"type\":\"X-Amzn-Trace-Id\",\"value\":\"Root=1-5e34a614-10bd;P=1\"}".to_string()),
                Just("{\"durationMs\":1.5,\"billedDurationMs\":2.5,\"memorySizeMB\":-3}".to_string()),
                Just("\"\\u00e9\\\"\"".to_string()),
            ], 12),
            platform in any::<bool>(),
        ) {
            let keys: &[&str] = if platform {
                &["time", "type", "record", "requestId", "version", "metrics", "tracing", "durationMs", "x", "y", "z", "w"]
            } else {
                &["eventVersion", "eventSource", "eventName", "errorCode", "errorMessage", "userAgent", "sourceIPAddress", "userIdentity", "type", "arn", "accountId", "x"]
            };
            let mut members: Vec<String> = keys.iter().zip(&values).map(|(k, v)| format!("\"{k}\":{v}")).collect();
            if platform {
                members.push("\"type\":\"platform.report\"".into());
                members.push(format!("\"record\":{{\"requestId\":\"r-1\",\"metrics\":{},\"tracing\":{}}}", values[0], values[1]));
            }
            let json = format!("{{{}}}", members.join(","));
            for key in ["json", ""] {
                let config = config(&format!("[index]\njson_key = \"{key}\"\n"));
                let doc = document(&config, "/g", &json);
                check_types(&doc)?;
            }
        }
    }

    /// Every field the index template types has a value of that type; a parse error comes
    /// with no typed field at all.
    fn check_types(doc: &Value) -> Result<(), TestCaseError> {
        let mut fields = BTreeMap::new();
        flatten("", doc, &mut fields);
        let typed = added(doc);
        if doc["cwlogs"].get("parse_error").is_some() {
            prop_assert!(typed.is_empty(), "a parse error with fields: {doc}");
        }
        for (k, v) in &typed {
            let ok = match k.as_str() {
                "source.ip"
                | "destination.ip"
                | "aws.vpcflow.pkt_srcaddr"
                | "aws.vpcflow.pkt_dstaddr" => v
                    .as_str()
                    .is_some_and(|s| s.parse::<std::net::IpAddr>().is_ok()),
                "source.port" | "destination.port" => v.as_u64().is_some_and(|p| p <= 65_535),
                "source.packets"
                | "source.bytes"
                | "aws.vpcflow.version"
                | "aws.vpcflow.tcp_flags"
                | "aws.vpcflow.traffic_path"
                | "aws.lambda.billed_duration_ms"
                | "aws.lambda.memory_size_mb"
                | "aws.lambda.max_memory_used_mb"
                | "aws.lambda.billed_restore_duration_ms"
                | "cwlogs.multiline.events" => v.as_u64().is_some(),
                "aws.lambda.duration_ms"
                | "aws.lambda.init_duration_ms"
                | "aws.lambda.restore_duration_ms" => {
                    v.as_f64().is_some_and(|f| f.is_finite() && f >= 0.0)
                }
                "event.start" | "event.end" => v
                    .as_str()
                    .is_some_and(|s| crate::util::time::UtcTime::parse_rfc3339(s).is_some()),
                _ => v.as_str().is_some_and(|s| {
                    s.len() <= 1024
                        || k.starts_with("aws.cloudtrail")
                        || k == "user_agent.original"
                        || k == "source.address"
                        || k.starts_with("event.")
                }),
            };
            prop_assert!(ok, "{k} = {v} in {doc}");
        }
        Ok(())
    }

    use proptest::test_runner::TestCaseError;
}

// ---------------------------------------------------------------------------------------------
// Hostile input.

#[test]
fn hostile_lines_never_panic_nor_give_a_wrong_type() {
    let config = config(
        "[index]\n[[parse.vpc_flow]]\nlog_groups = [\"/vpc/*\"]\nformat = \"${version} ${srcaddr} ${dstaddr} ${bytes}\"\n",
    );
    let million = format!("2 123456789012{}", " 1".repeat(1_000_000));
    let token = "x".repeat(1 << 20);
    let big_token = format!("2 123456789012 eni-{token} 10.0.0.1 10.0.0.2 1 2 6 1 1 1 1 ACCEPT OK");
    let big_number = format!(
        "2 123456789012 eni-1 10.0.0.1 10.0.0.2 1 2 6 {} 1 1 1 ACCEPT OK",
        "9".repeat(400)
    );
    let report = format!(
        "REPORT RequestId: r\tDuration: {}.5 ms\t",
        "1".repeat(100_000)
    );
    let deep = format!(
        "{{\"eventVersion\":\"1\",\"eventSource\":\"s\",\"eventName\":\"n\",\"x\":{}1{}}}",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let wide = format!(
        "{{\"eventVersion\":\"1\",\"eventSource\":\"s\",\"eventName\":\"n\",{}}}",
        (0..20_000)
            .map(|i| format!("\"k{i}\":{i}"))
            .collect::<Vec<_>>()
            .join(",")
    );
    let cases: Vec<(&str, &str, Option<&str>)> = vec![
        (
            "/g",
            &million,
            Some("vpc-flow: more than 42 fields; the format has 14"),
        ),
        // A custom format of the group does not have its number of fields; the default
        // format's prefilter takes it.
        (
            "/vpc/x",
            &million,
            Some("vpc-flow: more than 42 fields; the format has 14"),
        ),
        (
            "/g",
            &big_token,
            Some("vpc-flow: field 3 (interface-id) is longer than 1024 bytes"),
        ),
        (
            "/g",
            &big_number,
            Some("vpc-flow: field 9 (packets) is not a count"),
        ),
        (
            "/g",
            &report,
            Some("lambda-platform: REPORT Duration is not a number of ms"),
        ),
        (
            "/g",
            "2 123456789012 eni-1 \u{fffd}\u{fffd} 10.0.0.2 1 2 6 1 1 1 1 ACCEPT OK",
            Some("vpc-flow: field 4 (srcaddr) is not an IP address"),
        ),
        (
            "/g",
            "REPORT RequestId: \u{fffd}",
            Some("lambda-platform: REPORT RequestId is not a request id"),
        ),
        ("/g", &deep, None),
        ("/g", &wide, None),
    ];
    for (group, line, error) in cases {
        let doc = document(&config, group, line);
        assert_eq!(
            doc["cwlogs"]["parse_error"].as_str(),
            error,
            "{}",
            &line[..line.len().min(80)]
        );
        if error.is_some() {
            assert!(added(&doc).is_empty(), "{}", &line[..80]);
        }
    }
    // A CloudTrail record too deep and too wide for the document's caps still gives its
    // fields (the JSON pass walks to its end), and its JSON is capped as before.
    for line in [&deep, &wide] {
        let doc = document(&config, "/g", line);
        assert_eq!(doc["event"]["action"], "n");
        assert_eq!(doc["cwlogs"]["truncated"], true);
    }
}

#[test]
fn json_parsers_read_the_one_pass() {
    let record = r#"{"eventVersion":"1.09","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::1:user/a\"b","accountId":"111122223333"},"eventSource":"iam.amazonaws.com","eventName":"CreateUser","sourceIPAddress":"203.0.113.9","userAgent":"c\u00e9li"}"#;
    let want = |doc: &Value| {
        assert_eq!(doc["event"]["action"], "CreateUser");
        assert_eq!(doc["event"]["provider"], "iam.amazonaws.com");
        assert_eq!(doc["event"]["outcome"], "success");
        assert_eq!(
            doc["aws"]["cloudtrail"]["user_identity"]["arn"],
            "arn:aws:iam::1:user/a\"b"
        );
        assert_eq!(doc["user_agent"]["original"], "c\u{e9}li");
        assert_eq!(doc["source"]["ip"], "203.0.113.9");
    };
    // With the JSON fields, without them (json_key = ""), with caps that send the message to
    // the rewrite (max_depth = 1: userIdentity is too deep for `json`; max_fields = 2).
    for extra in [
        "",
        "json_key = \"\"\n",
        "max_depth = 1\n",
        "max_fields = 2\n",
    ] {
        let doc = document(&config(&format!("[index]\n{extra}")), "/g", record);
        want(&doc);
    }
    let doc = document(&config("[index]\nmax_depth = 1\n"), "/g", record);
    assert!(doc["json"]["userIdentity"].is_string(), "{doc}");
    // After a Lambda runtime prefix, a record is an application's text: not parsed.
    let prefixed =
        format!("2025-11-25T10:00:00.000Z\t8b2b1e3c-5d0f-4a8e-9c1b-0123456789ab\tINFO\t{record}");
    let doc = document(&config("[index]\n"), "/g", &prefixed);
    assert!(doc["event"].get("action").is_none() && doc.get("user_agent").is_none());
    assert_eq!(doc["json"]["eventName"], "CreateUser");
    // Invalid JSON: no record.
    let doc = document(&config("[index]\n"), "/g", &record.replace("}", ""));
    assert!(doc["event"].get("action").is_none(), "{doc}");
    // Parsing off: the same document as before [parse] existed.
    let doc = document(&config("[index]\n[parse]\nformats = []\n"), "/g", record);
    assert!(doc["event"].get("action").is_none() && doc.get("source").is_none());
    // Only some parsers on.
    let doc = document(
        &config("[index]\n[parse]\nformats = [\"vpc-flow\"]\n"),
        "/g",
        record,
    );
    assert!(doc["event"].get("action").is_none());
    let doc = document(
        &config("[index]\n[parse]\nformats = [\"cloudtrail\"]\n"),
        "/g",
        "REPORT RequestId: r\tDuration: 1.00 ms\t",
    );
    assert!(doc["aws"].get("lambda").is_none());
}

// ---------------------------------------------------------------------------------------------
// Configuration.

fn errors(text: &str) -> Vec<String> {
    match Config::from_toml(text, &no_env) {
        Ok(_) => panic!("valid: {text}"),
        Err(e) => e.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn formats_aws_would_refuse_are_errors_with_their_position() {
    let text = r#"[parse]
formats = ["vpc-flow", "lambda-platform", "cloudtrail", "nginx", "cloudtrail"]

[[parse.vpc_flow]]
log_groups = ["/vpc/a"]
format = "${version} ${srcaddr} ${nope}"

[[parse.vpc_flow]]
format = "${version} ${srcaddr} ${version}"

[[parse.vpc_flow]]
format = "   "

[[parse.vpc_flow]]
format = "version srcaddr"

[[parse.multiline]]
log_groups = ["/ecs/*"]
start = '^\d{4'
"#;
    let shown = errors(text);
    let expect = [
        "line 2, column 57: unknown format `nginx`: the formats are vpc-flow, lambda-platform, cloudtrail",
        "line 2, column 66: `cloudtrail` is listed twice in `formats`",
        "line 6, column 10: `format`: unknown field `${nope}`",
        "line 9, column 10: `format`: `${version}` appears twice",
        "line 12, column 10: `format`: the format has no fields",
        "line 15, column 10: `format`: `version` is not a field: a format is `${field}`s separated by spaces",
        "line 19, column 9: `start` is not a valid regex: unclosed counted repetition",
    ];
    assert_eq!(shown, expect, "{}", shown.join("\n"));
    // A custom format needs the parser.
    let shown = errors("[parse]\nformats = []\n[[parse.vpc_flow]]\nformat = \"${srcaddr}\"\n");
    assert_eq!(
        shown,
        ["line 4, column 10: `[[parse.vpc_flow]]` needs `vpc-flow` in `[parse] formats`"]
    );
    let shown = errors("[parse]\nformat = []\n");
    assert!(shown[0].contains("unknown field `format`"), "{shown:?}");
}

#[test]
fn enrichment_is_checked() {
    let text = r#"[index]
json_key = "app.fields"

[[enrich]]
log_groups = ["/aws/lambda/orders-*"]
fields = { "service.name" = "orders", "event.id" = "x", "source.ip" = "1.2.3.4", "cloud.account.name" = "p", "app.x" = "y", "labels.n" = 3, "labels.where" = "{logGroup}", "event" = "e", "_x" = "u" }

[[enrich]]
fields = { "service" = "billing" }

[enrich.accounts]
"123456789012" = "prod"
"12345" = "short"
"#;
    let shown = errors(text);
    let expect = [
        "line 6, column 194: `fields`: `_x`: a field name must not start with `_` or `@`",
        "line 6, column 120: `fields`: `app.x`: `app` holds the message's JSON fields (`json_key`)",
        "line 6, column 105: `fields`: `cloud.account.name`: cwlogs writes `cloud.account` itself (account names go in `[enrich.accounts]`)",
        "line 6, column 182: `fields`: `event`: cwlogs writes `event` as an object; name a field in it (`event.something`)",
        "line 6, column 52: `fields`: `event.id`: cwlogs writes `event.id` itself",
        "line 6, column 138: `fields`: `labels.n` is an integer; enrichment values are strings",
        "line 6, column 158: `fields`: `labels.where`: unknown placeholder `{logGroup}`: use {log_group}, {account} or {region}",
        "line 6, column 71: `fields`: `source.ip`: cwlogs writes `source` itself",
        "line 13, column 11: `accounts`: `12345` is not a 12-digit account id",
        "line 9, column 24: `fields`: `service` is a value, but `service.name` makes it an object",
    ];
    assert_eq!(shown, expect, "{}", shown.join("\n"));
}

// ---------------------------------------------------------------------------------------------
// Enrichment.

#[test]
fn enrichment_adds_fields_where_they_belong() {
    let text = r#"[index]
[[enrich]]
log_groups = ["/aws/lambda/orders-*"]
fields = { "service.name" = "orders", "labels.team" = "payments", "labels.source" = "{log_group} in {account}/{region}", "event.dataset" = "lambda", "aws.team" = "t", "log.logger" = "app", "cloud.zone" = "z" }

[[enrich]]
fields = { service = { name = "ignored: the first entry wins", version = "2" }, "labels.all" = "yes" }

[enrich.accounts]
"123456789012" = "prod"
"#;
    let c = config(text);
    let report = "REPORT RequestId: 8f507cfc-xmpl-4697-b07a-ac58fc914c95\tDuration: 1.00 ms\t";
    let doc = document(&c, "/aws/lambda/orders-api", report);
    assert_eq!(
        added(&doc),
        [
            ("aws.lambda.duration_ms", Value::from(1.0)),
            (
                "aws.lambda.request_id",
                "8f507cfc-xmpl-4697-b07a-ac58fc914c95".into()
            ),
            ("aws.team", "t".into()),
            ("cloud.account.name", "prod".into()),
            ("cloud.zone", "z".into()),
            ("event.dataset", "lambda".into()),
            ("labels.all", "yes".into()),
            (
                "labels.source",
                "/aws/lambda/orders-api in 123456789012/eu-west-1".into()
            ),
            ("labels.team", "payments".into()),
            ("log.logger", "app".into()),
            ("service.name", "orders".into()),
            ("service.version", "2".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect::<BTreeMap<_, _>>()
    );
    // A Lambda runtime line: `log` holds the level and the enrichment's logger.
    let line = "2025-11-25T10:00:00.000Z\t8b2b1e3c-5d0f-4a8e-9c1b-0123456789ab\tERROR\tboom";
    let doc = document(&c, "/aws/lambda/orders-api", line);
    assert_eq!(
        doc["log"],
        serde_json::json!({"level": "ERROR", "logger": "app"})
    );
    assert_eq!(
        doc["aws"]["lambda"]["request_id"],
        "8b2b1e3c-5d0f-4a8e-9c1b-0123456789ab"
    );
    // Another group: only the second entry, and the account name.
    let doc = document(&c, "/ecs/web", "hello");
    assert_eq!(
        added(&doc).keys().collect::<Vec<_>>(),
        [
            "cloud.account.name",
            "labels.all",
            "service.name",
            "service.version"
        ]
    );
    assert_eq!(doc["service"]["name"], "ignored: the first entry wins");
    // A lone [enrich.accounts] (TOML makes `enrich` one table).
    let c = config("[index]\n[enrich.accounts]\n\"123456789012\" = \"prod\"\n");
    assert_eq!(document(&c, "/g", "x")["cloud"]["account"]["name"], "prod");
    // Every accounts table is one map, whichever entry TOML puts it in.
    let c = config(
        "[index]\n[[enrich]]\nfields = { a = \"1\" }\n[enrich.accounts]\n\"111111111111\" = \"one\"\n[[enrich]]\nlog_groups = [\"/nothing\"]\nfields = { b = \"2\" }\n[enrich.accounts]\n\"123456789012\" = \"two\"\n",
    );
    assert_eq!(document(&c, "/g", "x")["cloud"]["account"]["name"], "two");
}

#[test]
fn the_index_template_types_every_field() {
    let c = config(
        "[index]\n[[enrich]]\nfields = { \"service.name\" = \"x\", \"event.dataset\" = \"y\" }\n",
    );
    let templates =
        crate::index::mapping_templates(c.index.as_ref().expect("index")).expect("templates");
    let props = &templates[0].1["template"]["mappings"]["properties"];
    let ty = |path: &str| {
        let mut at = props;
        for (i, part) in path.split('.').enumerate() {
            at = if i == 0 {
                &at[part]
            } else {
                &at["properties"][part]
            };
        }
        at["type"].as_str().unwrap_or_default().to_string()
    };
    for (path, want) in [
        ("source.ip", "ip"),
        ("destination.ip", "ip"),
        ("source.port", "long"),
        ("source.bytes", "long"),
        ("source.address", "keyword"),
        ("network.iana_number", "keyword"),
        ("event.start", "date"),
        ("event.outcome", "keyword"),
        ("aws.vpcflow.pkt_srcaddr", "ip"),
        ("aws.vpcflow.tcp_flags", "long"),
        ("aws.vpcflow.ecs_task_id", "keyword"),
        ("aws.lambda.duration_ms", "double"),
        ("aws.lambda.billed_duration_ms", "long"),
        ("aws.cloudtrail.user_identity.arn", "keyword"),
        ("cwlogs.parse_error", "keyword"),
        ("cwlogs.multiline.events", "long"),
        ("cloud.account.name", "keyword"),
        ("service.name", "keyword"),
        ("event.dataset", "keyword"),
        ("trace.id", "keyword"),
    ] {
        assert_eq!(ty(path), want, "{path}");
    }
    // Every field the data-driven cases write is typed by the template.
    for file in ["vpc-flow.toml", "lambda-platform.toml", "cloudtrail.toml"] {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("testdata/parse")
            .join(file);
        let cases: Cases =
            toml::from_str(&std::fs::read_to_string(path).expect("read")).expect("toml");
        for c in cases.case {
            for k in c.fields.iter().flatten().map(|(k, _)| k) {
                assert!(!ty(k).is_empty(), "{k} is not in the index template");
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Multiline.

#[test]
fn continuation_lines_merge_in_the_index_only() {
    let text = "[archive]\nprefix = \"cwl\"\n[index]\n[[parse.multiline]]\nlog_groups = [\"/ecs/*\"]\nstart = '^\\d{4}-\\d{2}-\\d{2} '\n";
    let c = config(text);
    let lines = [
        "    at orphan (before any start: its own document)",
        "2025-11-25 10:00:00 ERROR boom",
        "Traceback (most recent call last):",
        "  File \"app.py\", line 1",
        "2025-11-25 10:00:01 INFO fine",
        "2025-11-25 10:00:02 WARN x",
        "\tcontinued",
    ];
    let docs = documents(&c, "/ecs/app", &lines);
    let messages: Vec<&str> = docs
        .iter()
        .map(|d| d["message"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        messages,
        [
            lines[0],
            "2025-11-25 10:00:00 ERROR boom\nTraceback (most recent call last):\n  File \"app.py\", line 1",
            lines[4],
            "2025-11-25 10:00:02 WARN x\n\tcontinued",
        ]
    );
    let events: Vec<Option<u64>> = docs
        .iter()
        .map(|d| d["cwlogs"]["multiline"]["events"].as_u64())
        .collect();
    assert_eq!(events, [None, Some(3), None, Some(2)]);
    // The merged documents keep their first event's id (so its _id) and time.
    assert_eq!(docs[1]["event"]["id"], format!("{:056}", 1));
    assert_eq!(docs[1]["@timestamp"], "2025-11-25T00:00:00.001Z");
    let index = c.index.as_ref().expect("index");
    let b = batch("/ecs/app", &lines);
    let chunks = crate::index::bulk_chunks(index, "eu-west-1", &b);
    let action: Value = serde_json::from_slice(
        chunks[0]
            .items()
            .nth(1)
            .expect("item")
            .split(|&c| c == b'\n')
            .next()
            .expect("action"),
    )
    .expect("json");
    assert_eq!(
        action["create"]["_id"],
        crate::index::doc_id("/ecs/app", "s", &format!("{:056}", 1))
    );
    // The archive keeps every event as delivered.
    let out = crate::process_batch(&c, "eu-west-1", &b);
    let archive = out.archive.expect("archive");
    let mut text = String::new();
    use std::io::Read as _;
    flate2::read::GzDecoder::new(&archive.body[..])
        .read_to_string(&mut text)
        .expect("gzip");
    assert_eq!(text.lines().count(), lines.len());
    // Another group: no merging.
    assert_eq!(documents(&c, "/other", &lines).len(), lines.len());
}

#[test]
fn merged_documents_are_bounded() {
    let c = config("[index]\n[[parse.multiline]]\nstart = '^START'\n");
    let many: Vec<String> = std::iter::once("START".to_string())
        .chain((0..2500).map(|i| format!("line {i}")))
        .collect();
    let refs: Vec<&str> = many.iter().map(String::as_str).collect();
    let docs = documents(&c, "/g", &refs);
    let counts: Vec<u64> = docs
        .iter()
        .map(|d| d["cwlogs"]["multiline"]["events"].as_u64().unwrap_or(1))
        .collect();
    assert_eq!(counts, [1000, 1000, 501]);
    let big = "y".repeat(400_000);
    let refs = ["START", big.as_str(), big.as_str(), big.as_str()];
    let docs = documents(&c, "/g", &refs);
    assert!(
        docs.iter()
            .all(|d| d["message"].as_str().unwrap_or_default().len()
                <= crate::shape::multiline::MAX_BYTES)
    );
    assert_eq!(docs.len(), 2);
}

proptest::proptest! {
    /// The parsers' quick quoter writes what the general one writes.
    #[test]
    fn plain_strings_quote_as_any(s in "(?s)[a-z0-9:./_\"\\\\\t-]{0,24}|.{0,12}") {
        let (mut a, mut b) = (Vec::new(), Vec::new());
        crate::shape::push_plain(&mut a, &s);
        crate::util::json::push_str(&mut b, &s);
        proptest::prop_assert_eq!(a, b);
    }

    /// Dotted quads and IPv6 text: what the standard library takes, and nothing else.
    #[test]
    fn addresses_as_std_reads_them(s in "[0-9.]{0,16}|[0-9a-f:.]{0,40}|(25[0-9]|2[0-4][0-9]|1?[0-9]?[0-9])(\\.(25[0-9]|2[0-4][0-9]|1?[0-9]?[0-9])){3}") {
        proptest::prop_assert_eq!(crate::shape::ip_ok(&s), s.parse::<std::net::IpAddr>().is_ok(), "{}", s);
    }
}
