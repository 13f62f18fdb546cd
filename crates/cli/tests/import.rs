//! `cwlogs import`: the corpus of describe-metric-filters outputs under `testdata/import/`,
//! each imported and then replayed over events whose metric values were worked out by hand from
//! the filter's own semantics (value, default, dimensions, unit); the bad inputs, which must
//! write nothing; `--merge`; the subscription filters' routes; the exit statuses.

use crate::common::cwlogs;
use serde_json::Value;
use std::path::Path;
use std::process::Output;

fn corpus(name: &str) -> String {
    format!("{}/testdata/import/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn path(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 path")
}

/// The EMF documents of a replay as comparable values: rule, namespace, metric, unit,
/// dimensions, minute and `[value, count]` pairs.
fn metrics(file: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(file).expect("metrics.ndjson");
    let mut out: Vec<String> = text
        .lines()
        .map(|l| {
            let d: Value = serde_json::from_str(l).expect("EMF JSON");
            let cw = &d["_aws"]["CloudWatchMetrics"][0];
            let m = &cw["Metrics"][0];
            let name = m["Name"].as_str().expect("name");
            let dims: serde_json::Map<String, Value> = cw["Dimensions"][0]
                .as_array()
                .expect("dimension names")
                .iter()
                .map(|k| {
                    let k = k.as_str().expect("name");
                    (k.to_string(), d[k].clone())
                })
                .collect();
            let values: Vec<Value> = d[name]["Values"]
                .as_array()
                .expect("values")
                .iter()
                .zip(d[name]["Counts"].as_array().expect("counts"))
                .map(|(v, n)| serde_json::json!([v, n]))
                .collect();
            serde_json::json!({
                "rule": d["cwlogsRule"], "namespace": cw["Namespace"], "metric": name,
                "unit": m.get("Unit").cloned().unwrap_or(Value::Null), "dimensions": dims,
                "minute": d["_aws"]["Timestamp"], "values": values,
            })
            .to_string()
        })
        .collect();
    out.sort();
    out
}

fn expected(name: &str) -> Vec<String> {
    let text = std::fs::read_to_string(corpus(&format!("expected/{name}.json"))).expect("expected");
    let list: Vec<Value> = serde_json::from_str(&text).expect("JSON");
    let mut out: Vec<String> = list.iter().map(Value::to_string).collect();
    out.sort();
    out
}

/// Each corpus file imported, then replayed: the metrics are what the filters would publish.
#[test]
fn imported_filters_publish_what_cloudwatch_would() {
    let dir = tempfile::tempdir().expect("dir");
    for name in [
        "cis-security-hub",
        "json-dimensions-defaults-units",
        "space-delimited",
        "terms",
    ] {
        let config = dir.path().join(format!("{name}.toml"));
        let o = cwlogs(&[
            "import",
            "metric-filters",
            &corpus(&format!("{name}.json")),
            "--out",
            path(&config),
        ]);
        assert!(o.status.success(), "{name}: {}", stderr(&o));
        assert!(
            o.stdout.is_empty(),
            "{name}: --out writes nothing to stdout"
        );
        let c = cwlogs(&["check-config", path(&config)]);
        assert!(c.status.success(), "{name}: {}", stderr(&c));

        let out = dir.path().join(format!("out-{name}"));
        let r = cwlogs(&[
            "replay",
            "--config",
            path(&config),
            "--out",
            path(&out),
            &corpus(&format!("replay/{name}")),
        ]);
        assert!(r.status.success(), "{name}: {}", stderr(&r));
        let got = metrics(&out.join("metrics.ndjson"));
        let want = expected(name);
        assert_eq!(got, want, "{name}: the replayed metrics");
        // Only the metrics: the imported configuration has no [archive] or [index].
        assert!(!out.join("archive").exists() && !out.join("index").exists());
    }
}

#[test]
fn the_cis_corpus_has_every_control() {
    let o = cwlogs(&["import", "metric-filters", &corpus("cis-security-hub.json")]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(text.matches("\n[[rule]]\n").count(), 14, "{text}");
    assert!(
        text.contains(r#"pattern = '{$.userIdentity.type="Root" && $.userIdentity.invokedBy NOT EXISTS && $.eventType !="AwsServiceEvent"}'"#),
        "{text}"
    );
    assert!(stderr(&o).contains("14 of 14 metric filters imported"));
}

#[test]
fn filters_cwlogs_cannot_express_are_listed_and_exit_3() {
    let dir = tempfile::tempdir().expect("dir");
    let config = dir.path().join("c.toml");
    let o = cwlogs(&[
        "import",
        "metric-filters",
        &corpus("not-expressible.json"),
        "--out",
        path(&config),
    ]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let err = stderr(&o);
    for (filter, why) in [
        ("transformed-errors", "applyOnTransformedLogs"),
        ("central-errors", "fieldSelectionCriteria"),
        ("central-errors-by-account", "emitSystemFieldDimensions"),
    ] {
        assert!(
            err.lines().any(|l| l.contains("not imported")
                && l.contains(&format!("\"{filter}\""))
                && l.contains(why)),
            "{filter}: {err}"
        );
    }
    let text = std::fs::read_to_string(&config).expect("written");
    assert_eq!(text.matches("\n[[rule]]\n").count(), 1);
    assert!(text.contains("name = 'plain-errors'"));
}

/// Every bad input: exit 1, the problem named with its filter, and `--out` left as it was.
#[test]
fn bad_input_writes_nothing() {
    let dir = tempfile::tempdir().expect("dir");
    let out = dir.path().join("rules.toml");
    for (file, says) in [
        (
            "bad/truncated.json",
            vec!["truncated", "\"CIS-4.5-CloudTrailChanges\""],
        ),
        ("bad/malformed.json", vec!["not valid JSON", "\"ok\""]),
        (
            "bad/rejected-pattern.json",
            vec![
                "filter \"unclosed-json\" (log group \"/app\"): `filterPattern`",
                "If a filter pattern starts with '{' it must end with '}'",
                "filter \"bad-term\"",
                "Invalid character(s) in term '*'",
            ],
        ),
        (
            "bad/metric-value-not-extracted.json",
            vec![
                "filter \"delimited-size\"",
                "Invalid metric value '$size'",
                "filter \"term-latency\"",
                "filter \"term-dimension\"",
                "The specified filter pattern does not support dimensions",
            ],
        ),
        (
            "bad/duplicate.json",
            vec!["filter \"errors\" (log group \"/app\"): listed twice"],
        ),
        (
            "bad/dimensions-with-default.json",
            vec!["filter \"both\"", "cannot have a `default`"],
        ),
    ] {
        std::fs::write(&out, "# before\n").expect("write");
        let o = cwlogs(&[
            "import",
            "metric-filters",
            &corpus(file),
            "--out",
            path(&out),
        ]);
        assert_eq!(o.status.code(), Some(1), "{file}: {}", stderr(&o));
        let err = stderr(&o);
        for s in says {
            assert!(err.contains(s), "{file}: expected {s:?} in\n{err}");
        }
        assert!(err.contains("nothing was written"), "{file}: {err}");
        assert_eq!(
            std::fs::read_to_string(&out).expect("read"),
            "# before\n",
            "{file}"
        );
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .expect("dir")
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(left.len(), 1, "{file}: no temporary file left: {left:?}");
    }
}

#[test]
fn merge_adds_rules_and_refuses_clashes() {
    let dir = tempfile::tempdir().expect("dir");
    let base = dir.path().join("base.toml");
    std::fs::write(
        &base,
        "# my rules\n[archive]\nprefix = \"cwl\"\n\n[[rule]]\nname = \"mine\"\npattern = 'ERROR'\nmetric = { namespace = \"Mine\", name = \"Errors\" }\n",
    )
    .expect("write");
    let o = cwlogs(&[
        "import",
        "metric-filters",
        &corpus("terms.json"),
        "--merge",
        path(&base),
        "--out",
        path(&base),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let merged = std::fs::read_to_string(&base).expect("read");
    assert!(merged.starts_with("# my rules\n"), "{merged}");
    let l = cwlogs(&["rules", "list", "--config", path(&base)]);
    let listed = String::from_utf8_lossy(&l.stdout);
    for name in [
        "mine",
        "lambda-errors",
        "lambda-timeouts",
        "fatal-or-panic",
        "errors-not-retried",
    ] {
        assert!(listed.contains(name), "{name}: {listed}");
    }
    // The same import again: every name clashes, and the file is left as it is.
    let o = cwlogs(&[
        "import",
        "metric-filters",
        &corpus("terms.json"),
        "--merge",
        path(&base),
        "--out",
        path(&base),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("would become rule `lambda-errors`, which"),
        "{}",
        stderr(&o)
    );
    assert_eq!(std::fs::read_to_string(&base).expect("read"), merged);

    // A --merge configuration that is not valid is a usage error.
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[archive]\nbukket = 1\n").expect("write");
    let o = cwlogs(&[
        "import",
        "metric-filters",
        &corpus("terms.json"),
        "--merge",
        path(&bad),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("unknown field `bukket`"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn subscription_filters_become_routes() {
    let dir = tempfile::tempdir().expect("dir");
    let config = dir.path().join("routes.toml");
    let o = cwlogs(&[
        "import",
        "subscription-filters",
        &corpus("subscription-filters.json"),
        "--out",
        path(&config),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = std::fs::read_to_string(&config).expect("written");
    assert_eq!(
        text.matches("log_groups = ['/ecs/checkout', '/ecs/payments', '/aws/lambda/orders']")
            .count(),
        2,
        "{text}"
    );
    assert_eq!(
        text.matches(r#"include = '{ $.level = "ERROR" || $.level = "WARN" }'"#)
            .count(),
        2
    );

    // Replayed: only the routed groups' matching events are archived.
    let events = dir.path().join("events.json");
    std::fs::write(
        &events,
        serde_json::json!({"messageType": "DATA_MESSAGE", "owner": "123456789012", "logGroup": "/ecs/checkout",
            "logStream": "s", "subscriptionFilters": ["x"], "logEvents": [
                {"id": "1", "timestamp": 1768003200000i64, "message": "{\"level\":\"ERROR\"}"},
                {"id": "2", "timestamp": 1768003201000i64, "message": "{\"level\":\"INFO\"}"}]})
        .to_string(),
    )
    .expect("write");
    let out = dir.path().join("out");
    let r = cwlogs(&[
        "replay",
        "--config",
        path(&config),
        "--out",
        path(&out),
        path(&events),
    ]);
    assert!(r.status.success(), "{}", stderr(&r));
    let summary: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).expect("summary"))
            .expect("JSON");
    assert_eq!(summary["archived_events"], 1, "{summary}");

    // Log groups whose pattern differs from the one the route keeps: listed, exit 3.
    let o = cwlogs(&[
        "import",
        "subscription-filters",
        &corpus("subscription-filters-mixed.json"),
    ]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("log group \"/web/access\"")
            && err.contains("log group \"/aws/lambda/orders\""),
        "{err}"
    );
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("log_groups = ['/ecs/checkout', '/ecs/payments']"),
        "{text}"
    );
}

#[test]
fn usage_errors_exit_2() {
    let o = cwlogs(&["import", "metric-filters"]);
    assert_eq!(o.status.code(), Some(2));
    let o = cwlogs(&["import", "alarms", "x.json"]);
    assert_eq!(o.status.code(), Some(2));
    // A file named on the command line that cannot be read is a usage error, as in every command.
    let o = cwlogs(&["import", "metric-filters", "/nonexistent/filters.json"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("cannot read /nonexistent/filters.json"),
        "{}",
        stderr(&o)
    );
    let o = cwlogs(&[
        "import",
        "metric-filters",
        &corpus("terms.json"),
        "--merge",
        "/nonexistent/c.toml",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("--merge /nonexistent/c.toml"),
        "{}",
        stderr(&o)
    );
    // What the file holds is not a usage error: not UTF-8, nothing written.
    let dir = tempfile::tempdir().expect("dir");
    let binary = dir.path().join("filters.json");
    std::fs::write(&binary, [0xff, 0xfe, 0x00]).expect("write");
    let o = cwlogs(&["import", "metric-filters", path(&binary)]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("not UTF-8"), "{}", stderr(&o));
    let help = cwlogs(&["import", "metric-filters", "--help"]);
    assert!(
        String::from_utf8_lossy(&help.stdout).contains("Exit status: 0 every filter was imported")
    );
}
