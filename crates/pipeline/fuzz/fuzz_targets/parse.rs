//! The parsers of `[parse]` on anything (issue 18): the first byte picks the log group (the
//! default parsers, a custom flow log format of every field, `[[parse.multiline]]`,
//! `[[enrich]]`), the rest is split into messages at line feeds (invalid UTF-8 replaced, as
//! the decoder's lossy paths do). The `_bulk` items built for them never panic, every document
//! is one line of JSON naming no key twice (the cluster rejects `Duplicate field`), every
//! typed field has its type (IP addresses, ports, counts, numbers, RFC 3339 times), and a
//! document with `cwlogs.parse_error` has no typed field.
#![no_main]

use cwlogs_decode::{LogBatch, LogEvent, MessageType};
use cwlogs_pipeline::{Config, bulk_chunks};
use libfuzzer_sys::fuzz_target;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use std::fmt;
use std::sync::OnceLock;

const CONFIG: &str = r#"[index]
[[parse.vpc_flow]]
log_groups = ["/vpc/custom"]
format = "${version} ${account-id} ${interface-id} ${srcaddr} ${dstaddr} ${srcport} ${dstport} ${protocol} ${packets} ${bytes} ${start} ${end} ${action} ${log-status} ${vpc-id} ${subnet-id} ${instance-id} ${tcp-flags} ${type} ${pkt-srcaddr} ${pkt-dstaddr} ${region} ${az-id} ${sublocation-type} ${sublocation-id} ${pkt-src-aws-service} ${pkt-dst-aws-service} ${flow-direction} ${traffic-path} ${ecs-cluster-arn} ${ecs-cluster-name} ${ecs-container-instance-arn} ${ecs-container-instance-id} ${ecs-container-id} ${ecs-second-container-id} ${ecs-service-name} ${ecs-task-definition-arn} ${ecs-task-arn} ${ecs-task-id} ${reject-reason}"
[[parse.vpc_flow]]
log_groups = ["/vpc/custom"]
format = "${srcaddr} ${dstaddr}"
[[parse.multiline]]
log_groups = ["/ml/*"]
start = '^\d{4}-\d{2}-\d{2} '
[[enrich]]
log_groups = ["/enrich"]
fields = { "service.name" = "{log_group}", "event.dataset" = "x", "aws.team" = "t", "log.logger" = "l", "cloud.zone" = "z" }
[enrich.accounts]
"123456789012" = "prod"
"#;

const GROUPS: [&str; 5] = ["/g", "/vpc/custom", "/ml/app", "/enrich", "/aws/lambda/f"];

/// A JSON value, refusing duplicate keys.
struct Strict(Value);

impl<'de> serde::Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Strict, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Strict;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("JSON")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Strict, E> {
                Ok(Strict(v.into()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Strict, E> {
                Ok(Strict(v.into()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Strict, E> {
                Ok(Strict(v.into()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Strict, E> {
                Ok(Strict(v.into()))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Strict, E> {
                Ok(Strict(v.into()))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Strict, E> {
                Ok(Strict(Value::Null))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Strict, A::Error> {
                let mut v = Vec::new();
                while let Some(Strict(x)) = a.next_element()? {
                    v.push(x);
                }
                Ok(Strict(Value::Array(v)))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Strict, A::Error> {
                let mut m = serde_json::Map::new();
                while let Some((k, Strict(v))) = a.next_entry::<String, Strict>()? {
                    if m.insert(k.clone(), v).is_some() {
                        return Err(de::Error::custom(format!("duplicate key {k:?}")));
                    }
                }
                Ok(Strict(Value::Object(m)))
            }
        }
        d.deserialize_any(V)
    }
}

fn rfc3339(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 24 && b[4] == b'-' && b[10] == b'T' && b[23] == b'Z'
}

/// Every typed field of `doc` has its type.
fn check(doc: &Value) {
    let parse_error = doc["cwlogs"].get("parse_error").is_some();
    let ip = |v: &Value| {
        v.as_str()
            .is_some_and(|s| s.parse::<std::net::IpAddr>().is_ok())
    };
    let long = |v: &Value| v.as_u64().is_some();
    let double = |v: &Value| v.as_f64().is_some_and(|f| f.is_finite() && f >= 0.0);
    let typed: [(&str, &[&str], &dyn Fn(&Value) -> bool); 8] = [
        ("source", &["ip"], &ip),
        ("destination", &["ip"], &ip),
        ("source", &["port", "packets", "bytes"], &long),
        ("destination", &["port"], &long),
        ("event", &["start", "end"], &|v: &Value| {
            v.as_str().is_some_and(rfc3339)
        }),
        ("aws", &["vpcflow"], &|v: &Value| {
            ["pkt_srcaddr", "pkt_dstaddr"]
                .iter()
                .all(|k| v.get(k).is_none_or(ip))
                && ["version", "tcp_flags", "traffic_path"]
                    .iter()
                    .all(|k| v.get(k).is_none_or(long))
        }),
        ("aws", &["lambda"], &|v: &Value| {
            ["duration_ms", "init_duration_ms", "restore_duration_ms"]
                .iter()
                .all(|k| v.get(k).is_none_or(double))
                && [
                    "billed_duration_ms",
                    "memory_size_mb",
                    "max_memory_used_mb",
                    "billed_restore_duration_ms",
                ]
                .iter()
                .all(|k| v.get(k).is_none_or(long))
        }),
        ("cwlogs", &["multiline"], &|v: &Value| {
            v["events"].as_u64().is_some_and(|n| n >= 2)
        }),
    ];
    for (object, keys, ok) in typed {
        for key in keys {
            if let Some(v) = doc.get(object).and_then(|o| o.get(key)) {
                assert!(ok(v), "{object}.{key} = {v}");
            }
        }
    }
    if parse_error {
        for top in ["source", "destination", "network", "user_agent", "trace"] {
            assert!(doc.get(top).is_none(), "a parse error with {top}");
        }
        for (object, key) in [
            ("event", "start"),
            ("event", "end"),
            ("event", "action"),
            ("event", "provider"),
            ("event", "outcome"),
            ("aws", "vpcflow"),
            ("aws", "lambda"),
            ("aws", "cloudtrail"),
        ] {
            assert!(
                doc[object].get(key).is_none(),
                "a parse error with {object}.{key}"
            );
        }
    }
    if let Some(p) = doc["source"].get("port") {
        assert!(p.as_u64().is_some_and(|p| p <= 65_535), "source.port = {p}");
    }
    if let Some(p) = doc["destination"].get("port") {
        assert!(
            p.as_u64().is_some_and(|p| p <= 65_535),
            "destination.port = {p}"
        );
    }
}

fuzz_target!(|data: &[u8]| {
    static CONF: OnceLock<Config> = OnceLock::new();
    let config = CONF.get_or_init(|| Config::from_toml(CONFIG, &|_| None).expect("fuzz config"));
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    let batch = LogBatch {
        message_type: MessageType::Data,
        owner: "123456789012".into(),
        log_group: GROUPS[usize::from(pick) % GROUPS.len()].into(),
        log_stream: "s".into(),
        subscription_filters: vec![],
        policy_level: None,
        region: None,
        log_events: text
            .split('\n')
            .take(64)
            .enumerate()
            .map(|(i, m)| LogEvent {
                id: format!("{i:056}").into(),
                timestamp: 1_764_028_800_000 + i as i64,
                message: m.into(),
            })
            .collect(),
    };
    let index = config.index.as_ref().expect("index");
    for chunk in bulk_chunks(index, "eu-west-1", &batch) {
        for item in chunk.items() {
            let at = item
                .iter()
                .position(|&b| b == b'\n')
                .expect("an action line");
            let doc = &item[at + 1..];
            assert!(doc.ends_with(b"\n") && !doc[..doc.len() - 1].contains(&b'\n'));
            let Strict(doc) = serde_json::from_slice(doc).expect("strict JSON");
            check(&doc);
        }
    }
});
