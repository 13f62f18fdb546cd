//! Runs the built `cwlogs` binary's `test-redact` subcommand in both modes.

use crate::common::{cwlogs_with_stdin as cwlogs, text};

#[test]
fn human_mode_prints_each_message_redacted_and_the_detectors() {
    let out = cwlogs(
        &[
            "test-redact",
            "mail jane@example.com key AKIAIOSFODNN7EXAMPLE",
            "nothing here",
        ],
        "",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "Event 1: mail [REDACTED:email] key [REDACTED:aws-access-key-id]\n  aws-access-key-id: 1\n  email: 1\nEvent 2: nothing here\n  nothing found\n1 of 2 messages redacted (aws-access-key-id 1, email 1)\n"
    );
}

#[test]
fn stdin_and_a_configuration_with_custom_detectors() {
    let dir = std::env::temp_dir().join(format!("cwlogs-test-redact-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let config = dir.join("c.toml");
    std::fs::write(
        &config,
        "[redact]\ndetectors = [\"ipv4\"]\nreplacement = \"<{detector}>\"\n[[redact.custom]]\nname = \"customer-id\"\nregex = 'CUST-[0-9]{8}'\n",
    )
    .expect("config");
    let out = cwlogs(
        &["test-redact", "--config", config.to_str().expect("utf-8")],
        "from 10.1.2.3 CUST-12345678 jane@example.com\n",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).starts_with("Event 1: from <ipv4> <customer-id> jane@example.com\n"),
        "{}",
        text(&out.stdout)
    );
    std::fs::write(&config, "[redact]\ndetectors = [\"ssn\"]\n").expect("config");
    let out = cwlogs(
        &[
            "test-redact",
            "--config",
            config.to_str().expect("utf-8"),
            "x",
        ],
        "",
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains(":2:14: unknown detector `ssn`: the detectors are"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn jsonl_mode_answers_line_by_line() {
    let out = cwlogs(
        &["test-redact", "--jsonl"],
        "{\"message\":\"{\\\"to\\\":\\\"a\\\\u0040b.com\\\"}\"}\nnot json\n",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let lines: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    assert_eq!(lines[0]["redacted"], "{\"to\":\"[REDACTED:email]\"}");
    assert_eq!(lines[0]["detectors"]["email"], 1);
    assert!(lines[0]["error"].is_null());
    assert!(
        lines[1]["error"]
            .as_str()
            .expect("error")
            .starts_with("invalid request")
    );
}
