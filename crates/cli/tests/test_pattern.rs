//! Runs the built `cwlogs` binary's `test-pattern` subcommand in both modes.

use crate::common::{cwlogs_with_stdin as cwlogs, text};

#[test]
fn human_mode_prints_matches_with_event_numbers_and_extracted_values() {
    let out = cwlogs(
        &[
            "test-pattern",
            "[ip, user, status = 4*, bytes]",
            "1.2.3.4 bob 200 10",
            "1.2.3.4 frank 404 1534 extra",
        ],
        "",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(!stdout.contains("Event 1:"), "{stdout}");
    assert!(
        stdout.contains("Event 2: 1.2.3.4 frank 404 1534 extra"),
        "{stdout}"
    );
    assert!(stdout.contains("$status = 404"), "{stdout}");
    assert!(stdout.contains("$bytes = 1534 extra"), "{stdout}");
    assert!(stdout.contains("1 of 2 messages matched"), "{stdout}");
}

#[test]
fn human_mode_reads_messages_from_stdin() {
    let out = cwlogs(
        &["test-pattern", "ERROR -DEBUG"],
        "ERROR one\nDEBUG ERROR two\r\nERROR three\n",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("Event 1: ERROR one\n"), "{stdout}");
    assert!(!stdout.contains("Event 2"), "{stdout}");
    assert!(stdout.contains("Event 3: ERROR three\n"), "{stdout}");
    assert!(stdout.contains("2 of 3 messages matched"), "{stdout}");
}

#[test]
fn human_mode_rejects_a_bad_pattern_with_a_caret() {
    let out = cwlogs(&["test-pattern", "ERR*", "x"], "");
    assert_eq!(out.status.code(), Some(2), "a usage error");
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("Invalid character(s) in term '*'"),
        "{stderr}"
    );
    assert!(stderr.contains("  ERR*\n     ^"), "{stderr}");
}

#[test]
fn jsonl_mode_answers_every_line_in_order() {
    let input = [
        r#"{"pattern": "{ $.latency > 100 }", "message": "{\"latency\": 250}", "value_expr": "$.latency"}"#,
        r#"{"pattern": "{ $.latency > 100 }", "message": "{\"latency\": 50}", "value_expr": "$.latency"}"#,
        r#"{"pattern": "ERR*", "message": "ERROR"}"#,
        r#"not json"#,
        r#"{"pattern": "ERROR"}"#,
        r#"{"pattern": "[a, b]", "message": "x 7", "value_expr": "$b"}"#,
        r#"{"pattern": "ERROR", "message": "ERROR", "value_expr": "$.x"}"#,
    ]
    .join("\n");
    let out = cwlogs(&["test-pattern", "--jsonl"], &input);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let lines: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("each output line is JSON"))
        .collect();
    assert_eq!(lines.len(), 7);
    assert_eq!(
        lines[0],
        serde_json::json!({"match": true, "value": 250.0, "error": null})
    );
    assert_eq!(
        lines[1],
        serde_json::json!({"match": false, "value": null, "error": null})
    );
    assert_eq!(
        lines[2],
        serde_json::json!({"match": false, "value": null, "error": "Invalid character(s) in term '*'"})
    );
    for bad in &lines[3..5] {
        assert_eq!(bad["match"], false);
        assert!(
            bad["error"]
                .as_str()
                .is_some_and(|e| e.contains("invalid input line")),
            "{bad}"
        );
    }
    assert_eq!(
        lines[5],
        serde_json::json!({"match": true, "value": 7.0, "error": null})
    );
    assert_eq!(lines[6]["match"], true);
    assert!(lines[6]["error"].is_string());
}
