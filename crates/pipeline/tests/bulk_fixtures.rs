//! The `_bulk` classifier against recorded and documented answers (tests/fixtures/bulk, see
//! its README for where each comes from and why it is classified so).

use cwlogs_pipeline::index::{ItemClass, ResponseClass, classify_response};
use cwlogs_pipeline::sink::Reply;
use std::path::Path;

/// The expected class of the whole answer, and of each item when it has items.
const EXPECTED: &[(&str, &str, &str)] = &[
    // file, whole, items (d = done, r = retry, q = quarantine, x = dead letter)
    ("osmem-created", "items", "ddd"),
    ("osmem-conflict", "items", "ddd"),
    ("osmem-mapping", "items", "qq"),
    ("osmem-mixed", "items", "ddqd"),
    ("osmem-date-parse", "items", "q"),
    ("osmem-strict-dynamic", "items", "q"),
    ("osmem-total-fields-limit", "items", "q"),
    ("osmem-flat-object", "items", "dq"),
    ("osmem-malformed-source", "items", "qd"),
    ("osmem-read-only-allow-delete", "items", "rr"),
    ("osmem-blocks-write", "items", "xx"),
    ("osmem-blocks-read-only", "items", "x"),
    ("osmem-cluster-read-only", "items", "x"),
    ("osmem-index-closed", "items", "x"),
    ("osmem-bad-index-name", "items", "xd"),
    ("osmem-require-alias-not-found", "items", "x"),
    ("osmem-data-stream-unsupported", "items", "x"),
    ("osmem-gzip", "items", "dd"),
    ("osmem-gzip-header-plain-body", "split", ""),
    ("osmem-malformed", "split", ""),
    ("osmem-unknown-action", "split", ""),
    ("osmem-no-trailing-newline", "split", ""),
    ("osmem-id-too-long", "split", ""),
    ("osmem-413-too-large", "split", ""),
    ("osmem-406-content-type", "stop", ""),
    ("es7-created", "items", "dd"),
    ("es7-rejected-execution", "items", "drr"),
    ("opensearch2-rejected-execution", "items", "drr"),
    ("es7-unavailable-shards", "items", "rr"),
    ("es7-mapper-parsing", "items", "qd"),
    ("es8-document-parsing", "items", "q"),
    ("opensearch2-total-fields-limit", "items", "q"),
    ("es8-total-fields-limit", "items", "q"),
    ("es7-strict-dynamic-mapping", "items", "q"),
    ("es7-index-not-found-auto-create-off", "items", "xd"),
    ("aoss-document-id-not-supported", "items", "xx"),
    ("opensearch2-429-indexing-pressure", "retry", ""),
    ("aws-429-es-rejected", "retry", ""),
    ("aws-429-too-many-requests", "retry", ""),
    ("aws-504-gateway-timeout", "retry", ""),
    ("aws-413-request-too-large", "split", ""),
    ("proxy-413-html", "split", ""),
    ("es7-malformed-action-line", "split", ""),
    ("opensearch-cluster-read-only", "retry", ""),
    ("aws-403-cluster-block-write", "retry", ""),
    ("aws-403-token-invalid", "stop", ""),
    ("aws-403-token-expired", "stop", ""),
    ("aws-403-signature-mismatch", "stop", ""),
    ("aws-403-anonymous", "stop", ""),
    ("aoss-403-forbidden", "stop", ""),
    ("opensearch-security-401", "stop", ""),
    ("es8-security-401", "stop", ""),
    ("opensearch-security-403", "stop", ""),
];

fn load(name: &str) -> (Reply, usize) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/bulk")
        .join(format!("{name}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
    let f: serde_json::Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
    let status = f["status"]
        .as_u64()
        .unwrap_or_else(|| panic!("{name}: status")) as u16;
    let body = match &f["body"] {
        serde_json::Value::String(s) => s.clone().into_bytes(),
        v => serde_json::to_vec(v).unwrap_or_default(),
    };
    let items = f["body"]["items"].as_array().map_or(3, Vec::len);
    (Reply { status, body }, items)
}

#[test]
fn every_fixture_is_classified_as_expected() {
    let mut failures = Vec::new();
    for &(name, whole, items) in EXPECTED {
        let (reply, n) = load(name);
        let got = classify_response(&reply, n);
        let (got_whole, got_items) = match &got {
            ResponseClass::Items(v) => (
                "items",
                v.iter()
                    .map(|c| match c {
                        ItemClass::Done { .. } => 'd',
                        ItemClass::Retry(_) => 'r',
                        ItemClass::Quarantine { .. } => 'q',
                        ItemClass::Reject(_) => 'x',
                    })
                    .collect::<String>(),
            ),
            ResponseClass::Split(_) => ("split", String::new()),
            ResponseClass::Retry(_) => ("retry", String::new()),
            ResponseClass::Stop(_) => ("stop", String::new()),
            ResponseClass::Reject(_) => ("reject", String::new()),
        };
        if got_whole != whole || got_items != items {
            failures.push(format!(
                "{name}: expected {whole} {items}, got {got_whole} {got_items}: {got:?}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_fixture_file_is_listed() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bulk");
    for entry in std::fs::read_dir(&dir).expect("fixture dir") {
        let name = entry
            .expect("entry")
            .file_name()
            .to_string_lossy()
            .into_owned();
        let Some(stem) = name.strip_suffix(".json") else {
            continue;
        };
        if stem.starts_with("osmem-api-") {
            continue;
        }
        assert!(
            EXPECTED.iter().any(|(n, _, _)| *n == stem),
            "{name} has no expected class"
        );
    }
}

#[test]
fn single_items_that_still_fail_are_dead_letters() {
    for name in [
        "osmem-no-trailing-newline",
        "aws-413-request-too-large",
        "osmem-id-too-long",
    ] {
        let (reply, _) = load(name);
        assert!(
            matches!(classify_response(&reply, 1), ResponseClass::Reject(_)),
            "{name}"
        );
    }
}

#[test]
fn messages_say_what_to_fix() {
    let (reply, n) = load("aws-403-anonymous");
    let ResponseClass::Stop(m) = classify_response(&reply, n) else {
        panic!("stop")
    };
    assert!(
        m.contains("not authorized") && m.contains("access policy"),
        "{m}"
    );
    let (reply, n) = load("aoss-document-id-not-supported");
    let ResponseClass::Items(items) = classify_response(&reply, n) else {
        panic!("items")
    };
    assert!(matches!(&items[0], ItemClass::Reject(m) if m.contains("document_ids = false")));
    let (reply, n) = load("aws-429-too-many-requests");
    let ResponseClass::Retry(m) = classify_response(&reply, n) else {
        panic!("retry")
    };
    assert!(m.contains("Too Many Requests"), "{m}");
}
