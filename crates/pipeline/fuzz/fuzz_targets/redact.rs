//! `[redact]` on anything (issue 19): the text redactor with every detector on (and a custom
//! regex) never panics and is idempotent; the index documents of the input's lines, redacted,
//! are each one line of valid JSON with `@timestamp` and `event.id` unchanged.
#![no_main]

use cwlogs_decode::{LogBatch, LogEvent, MessageType};
use cwlogs_pipeline::Config;
use cwlogs_pipeline::redact::{DETECTORS, RedactCounts, Redactor};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

const CONFIG: &str = r#"[index]
max_depth = 3
[redact]
detectors = ["aws-access-key-id", "aws-secret-access-key", "email", "credit-card", "jwt", "private-key", "url-credentials", "ipv4", "ipv6"]
[[redact.custom]]
name = "customer-id"
regex = 'CUST-[0-9]{8}'
"#;

fuzz_target!(|data: &[u8]| {
    static STATE: OnceLock<(Config, Redactor)> = OnceLock::new();
    let (config, all) = STATE.get_or_init(|| {
        (
            Config::from_toml(CONFIG, &|_| None).expect("the fuzz configuration is valid"),
            Redactor::with_detectors(&DETECTORS),
        )
    });
    let text = String::from_utf8_lossy(data);
    let mut counts = RedactCounts::default();
    let once = all.text(&text, &mut counts);
    let twice = all.text(&once, &mut counts);
    assert_eq!(once, twice, "redaction is idempotent");

    let batch = LogBatch {
        message_type: MessageType::Data,
        owner: "123456789012".into(),
        log_group: "/g".into(),
        log_stream: "s".into(),
        subscription_filters: vec![],
        policy_level: None,
        region: None,
        log_events: text
            .split('\n')
            .enumerate()
            .map(|(i, m)| LogEvent {
                id: format!("4111111111111111{i}").into(),
                timestamp: 1_764_028_800_000,
                message: m.to_string().into(),
            })
            .collect(),
    };
    let out = cwlogs_pipeline::process_batch(config, "eu-west-1", &batch);
    for chunk in &out.bulk {
        for (n, line) in chunk.body.split(|&b| b == b'\n').skip(1).step_by(2).enumerate() {
            if line.is_empty() {
                continue;
            }
            let doc: serde_json::Value =
                serde_json::from_slice(line).expect("every redacted document is valid JSON");
            assert_eq!(doc["@timestamp"], "2025-11-25T00:00:00.000Z");
            assert_eq!(doc["event"]["id"], format!("4111111111111111{n}"));
        }
    }
});
