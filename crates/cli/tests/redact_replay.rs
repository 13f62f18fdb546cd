//! `cwlogs replay` with `[redact]` (issue 19): the index files hold no planted secret, the
//! archive keeps events as delivered (by default), and summary.json counts per detector.

use crate::common::cwlogs;
use cwlogs_testkit::events::{direct_event_of, envelope};
use cwlogs_testkit::files::tree;
use serde_json::json;

#[test]
fn replay_redacts_the_index_and_counts_per_detector() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let input = tmp.path().join("in.json");
    let events = vec![
        json!({"id": "1", "timestamp": 1_764_028_800_000_i64, "message": "{\"errorCode\":\"AccessDenied\",\"user\":\"jane\\u0040example.com\"}"}),
        json!({"id": "2", "timestamp": 1_764_028_800_001_i64, "message": "card 4111 1111 1111 1111 key AKIAIOSFODNN7EXAMPLE"}),
    ];
    std::fs::write(&input, direct_event_of(&envelope("/app", "s", events))).expect("input");
    let config = tmp.path().join("c.toml");
    std::fs::write(
        &config,
        "[redact]\n[[rule]]\nname = \"denied\"\npattern = '{ $.errorCode = \"AccessDenied\" }'\nalert = { group_by = [\"$.user\"], window = \"5m\" }\n",
    )
    .expect("config");
    let out = tmp.path().join("out");
    let o = cwlogs(&[
        "replay",
        "--config",
        config.to_str().expect("utf-8"),
        "--out",
        out.to_str().expect("utf-8"),
        input.to_str().expect("utf-8"),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let index: String = tree(&out.join("index"))
        .values()
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .collect();
    for secret in ["jane", "4111", "AKIAIOSFODNN7EXAMPLE"] {
        assert!(!index.contains(secret), "{secret} in {index}");
    }
    let alerts = std::fs::read_to_string(out.join("alerts.ndjson")).unwrap_or_default();
    assert!(!alerts.contains("jane"), "{alerts}");
    let s: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).expect("summary"))
            .expect("json");
    assert_eq!(s["redacted"]["email"], 1, "{s}");
    assert_eq!(s["redacted"]["credit-card"], 1);
    assert_eq!(s["redacted"]["aws-access-key-id"], 1);
    assert!(
        s["redacted_rules"]["email"].as_u64().expect("count") >= 1,
        "{s}"
    );
    assert_eq!(s["indexed_events"], 2);
    let html = std::fs::read_to_string(out.join("report.html")).expect("report");
    assert!(
        html.contains("id=\"stat-redacted\""),
        "no redaction count in report.html"
    );
    assert!(!html.contains("jane@") && !html.contains("AKIAIOSFODNN7EXAMPLE"));
}
