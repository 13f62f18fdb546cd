//! `cwlogs replay` and `cwlogs check-config` end to end, through the built binary.

use crate::common::cwlogs;
use cwlogs_decode::{ArchiveRecord, gunzip};
use cwlogs_testkit::events::samples_dir as samples;
use cwlogs_testkit::files::tree;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Output;

fn replay(out: &Path, inputs: &[&Path]) -> Output {
    let mut args = vec![
        "replay".to_string(),
        "--out".into(),
        out.display().to_string(),
    ];
    args.extend(inputs.iter().map(|p| p.display().to_string()));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = cwlogs(&refs);
    assert!(
        o.status.success(),
        "replay failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

/// Every file under `dir` with its bytes, by relative path.
fn summary(out: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(out.join("summary.json")).expect("summary"))
        .expect("json")
}

#[test]
fn replays_the_samples_and_accounts_for_every_input() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tmp.path().join("out");
    let o = replay(&out, &[&samples()]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("96 events"), "{stdout}");

    let s = summary(&out);
    assert_eq!(s["inputs"], 23);
    assert_eq!(s["events"], 96);
    assert_eq!(s["archived_events"], 96);
    assert_eq!(s["indexed_events"], 96);
    assert_eq!(s["control_messages"], 3);
    // 10 broken inputs and one bad Kinesis record.
    assert_eq!(s["dead_lettered"], 11);
    assert_eq!(s["dead_lettered_inputs"], 10);

    // Archive objects: gzip NDJSON in the documented schema, at Hive-style keys.
    let archive = tree(&out.join("archive"));
    let mut lines = 0;
    for (key, body) in &archive {
        assert!(key.starts_with("cwl/account=123456789012/region="), "{key}");
        assert!(
            key.contains("/dt=2025-11-25/hour=00/") && key.ends_with(".ndjson.gz"),
            "{key}"
        );
        let text = gunzip(body, 1 << 20).expect("gzip");
        for line in text.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            let rec: ArchiveRecord<'_> = serde_json::from_slice(line).expect("archive line");
            assert!(key.contains(&format!("account={}", rec.owner)));
            lines += 1;
        }
    }
    // 96 events, of which 3 are delivered twice (the Kinesis sample's first record reappears in
    // the broken Kinesis sample) and land in the same object.
    assert_eq!(lines, 93);

    // _bulk files: create actions with ids, one file per index.
    let index = tree(&out.join("index"));
    assert!(index.contains_key("cwl-aws-cloudtrail-logs-123456789012-2025.11.25.ndjson"));
    let mut docs = 0;
    for body in index.values() {
        let text = std::str::from_utf8(body).expect("utf8");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len() % 2, 0);
        for pair in lines.chunks(2) {
            let action: serde_json::Value = serde_json::from_str(pair[0]).expect("action");
            assert_eq!(action["create"]["_id"].as_str().map(str::len), Some(32));
            let doc: serde_json::Value = serde_json::from_str(pair[1]).expect("doc");
            assert!(doc["@timestamp"].is_string() && doc["message"].is_string());
            docs += 1;
        }
    }
    assert_eq!(docs, 96);

    // Dead letters keep the input byte for byte, with the error beside it.
    let original = std::fs::read(samples().join("broken/not-gzip.json")).expect("sample");
    let dl = out.join("dead-letter");
    let names: Vec<String> = tree(&dl).into_keys().collect();
    let nz = names
        .iter()
        .find(|n| n.ends_with("broken__not-gzip.json"))
        .expect("dead letter");
    assert_eq!(std::fs::read(dl.join(nz)).expect("read"), original);
    let err: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dl.join(format!("{nz}.error.json"))).expect("err"))
            .expect("json");
    assert_eq!(err["stage"], "gzip");
    let bad_record = names
        .iter()
        .find(|n| n.contains("kinesis-one-bad-record.json.record-") && n.ends_with(".b64"))
        .expect("record dl");
    assert_eq!(
        std::fs::read(dl.join(bad_record)).expect("read"),
        b"%%%not-base64%%%"
    );
    // Records are counted from 1: the bad one is the second of its batch.
    let err: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dl.join(format!("{bad_record}.error.json"))).expect("err"),
    )
    .expect("json");
    assert_eq!(err["record"], 2, "{err}");
    assert_eq!(err["occurrences"][0]["record"], 2, "{err}");
    // The stage is named once.
    let n = names
        .iter()
        .find(|n| n.ends_with("broken__mistyped-fields.json.error.json"))
        .expect("mistyped");
    let err: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dl.join(n)).expect("read")).expect("json");
    let text = err["error"].as_str().expect("error");
    assert!(
        text.starts_with("envelope: invalid type:") && !text.contains("envelope: envelope"),
        "{text}"
    );
    for (file, stage) in [
        ("not-base64.json", "base64"),
        ("truncated-gzip.json", "gzip"),
        ("gzip-bomb.json.gz", "gzip"),
        ("not-json.json", "json"),
        ("mistyped-fields.json", "envelope"),
        ("empty-log-events.json", "envelope"),
        ("empty.json", "input"),
        ("wrong-shape.json", "envelope"),
    ] {
        let n = names
            .iter()
            .find(|n| n.ends_with(&format!("broken__{file}.error.json")))
            .expect(file);
        let err: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dl.join(n)).expect("read")).expect("json");
        assert_eq!(err["stage"], stage, "{file}");
        assert!(
            err["error"].as_str().is_some_and(|e| e.starts_with(stage)),
            "{file}: {err}"
        );
    }
}

/// `tree`, with the timings (the throughput section) cut out of report.html: the only part of
/// the output that depends on the clock.
fn tree_without_timings(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut t = tree(dir);
    let report = t.get_mut("report.html").expect("report.html");
    let text = String::from_utf8(std::mem::take(report)).expect("utf-8");
    let start = text
        .find("<section id=\"throughput\">")
        .expect("throughput");
    let end = text[start..].find("</section>").expect("section end") + start;
    *report = format!("{}{}", &text[..start], &text[end..]).into_bytes();
    t
}

#[test]
fn two_runs_give_byte_identical_output() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let a = tmp.path().join("a");
    let b = tmp.path().join("b");
    replay(&a, &[&samples()]);
    replay(&b, &[&samples()]);
    let ta = tree_without_timings(&a);
    assert!(ta.len() > 30);
    assert_eq!(ta, tree_without_timings(&b));
    // Running again into the same directory replaces, never appends.
    replay(&a, &[&samples()]);
    assert_eq!(ta, tree_without_timings(&a));
}

#[test]
fn archive_and_dead_letters_replay_back() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let first = tmp.path().join("first");
    let second = tmp.path().join("second");
    replay(&first, &[&samples()]);
    replay(
        &second,
        &[&first.join("archive"), &first.join("dead-letter")],
    );
    assert_eq!(tree(&first.join("archive")), tree(&second.join("archive")));
    let s = summary(&second);
    // Dead letters stay dead letters (their sidecars are skipped, not read as inputs).
    assert_eq!(s["dead_lettered"], 11);
    assert_eq!(s["inputs"], 13 + 11);
}

#[test]
fn a_missing_input_path_is_a_usage_error_before_any_output() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let missing = tmp.path().join("no/such/path");
    let out = tmp.path().join("out");
    let o = cwlogs(&[
        "replay",
        "--out",
        &out.display().to_string(),
        &samples().join("direct").display().to_string(),
        &missing.display().to_string(),
    ]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("cannot read {}", missing.display())),
        "{stderr}"
    );
    assert!(
        o.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    assert!(!out.exists(), "nothing is written");
}

#[cfg(unix)]
#[test]
fn a_file_of_a_directory_that_cannot_be_read_is_dead_lettered() {
    // Found in a directory, not named on the command line: like a file that vanishes during
    // the run, it becomes a dead letter holding the error.
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("in");
    std::fs::create_dir_all(&dir).expect("dir");
    std::os::unix::fs::symlink(tmp.path().join("gone.json"), dir.join("gone.json"))
        .expect("symlink");
    let out = tmp.path().join("out");
    replay(&out, &[&dir]);
    let s = summary(&out);
    assert_eq!(s["dead_lettered"], 1);
    let dl = tree(&out.join("dead-letter"));
    let (_, err) = dl.iter().next().expect("one sidecar");
    let err: serde_json::Value = serde_json::from_slice(err).expect("json");
    assert_eq!(err["stage"], "read");
}

#[test]
fn refuses_foreign_output_directory_and_bad_usage() {
    let tmp = tempfile::tempdir().expect("tempdir");
    std::fs::write(tmp.path().join("precious.txt"), "keep me").expect("write");
    let o = cwlogs(&[
        "replay",
        "--out",
        &tmp.path().display().to_string(),
        &samples().display().to_string(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not written by cwlogs"));
    assert!(tmp.path().join("precious.txt").exists());

    let o = cwlogs(&["replay"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn check_config_reports_line_numbers() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let bad = tmp.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[archive]\nprefix = \"x\"\ngzip_level = 42\n[index]\nindex = \"{nope}\"\n",
    )
    .expect("write");
    let o = cwlogs(&["check-config", &bad.display().to_string()]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("bad.toml:3:14: `gzip_level` must be between 0 and 9"),
        "{err}"
    );
    assert!(
        err.contains("bad.toml:5:9: unknown placeholder `{nope}`"),
        "{err}"
    );

    let good = tmp.path().join("good.toml");
    std::fs::write(&good, cwlogs_pipeline_default()).expect("write");
    let o = cwlogs(&["check-config", &good.display().to_string()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    // A config with indexing off: replay archives only.
    let archive_only = tmp.path().join("archive-only.toml");
    std::fs::write(
        &archive_only,
        "[archive]\nprefix = \"logs\"\ngzip_level = 1\n[index]\nenabled = false\n",
    )
    .expect("write");
    let out = tmp.path().join("out");
    let o = cwlogs(&[
        "replay",
        "--config",
        &archive_only.display().to_string(),
        "--out",
        &out.display().to_string(),
        &samples().join("direct").display().to_string(),
    ]);
    assert!(o.status.success());
    assert!(!out.join("index").exists());
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains("outputs        archive on ([archive] in the configuration), index off ([index] enabled = false), rules off (no [[rule]] and no packs)\n"),
        "{stdout}"
    );
    assert!(
        tree(&out.join("archive"))
            .keys()
            .all(|k| k.starts_with("logs/account="))
    );
}

fn cwlogs_pipeline_default() -> &'static str {
    "[archive]\nprefix = \"cwl\"\n\n[index]\nindex = \"cwl-{log_group}-{yyyy.MM.dd}\"\nmax_bulk_bytes = 5000000\n"
}

#[test]
fn routes_filter_with_cloudwatch_patterns() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let config = tmp.path().join("routes.toml");
    std::fs::write(
        &config,
        r#"
[archive]
include = '{ $.errorCode = "AccessDenied" }'

[index]
log_groups = ["/ecs/*"]
exclude = '{ $.level = "DEBUG" }'
"#,
    )
    .expect("write");
    let out = tmp.path().join("out");
    let o = cwlogs(&[
        "replay",
        "--config",
        &config.display().to_string(),
        "--out",
        &out.display().to_string(),
        &samples().join("direct").display().to_string(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let s = summary(&out);
    // direct/: 8 CloudTrail (3 AccessDenied), 48 in the CloudTrail burst (40 AccessDenied), 5 app (1 DEBUG), 7 runtime, 4 flow, 4 apache, 1 policy.
    assert_eq!(s["events"], 77);
    assert_eq!(s["archived_events"], 43);
    assert_eq!(s["archive_filtered"], 34);
    // Indexed: /ecs/ groups only (5 app + 4 apache), minus the DEBUG line.
    assert_eq!(s["indexed_events"], 8);
    assert_eq!(s["index_filtered"], 69);
    for (k, v) in [
        ("archived_events", "archive_filtered"),
        ("indexed_events", "index_filtered"),
    ] {
        assert_eq!(
            s[k].as_u64().unwrap_or(0) + s[v].as_u64().unwrap_or(0),
            77,
            "{k} + {v}"
        );
    }
}

/// A configuration of `[[rule]]`s alone still archives and indexes (an absent section means its
/// defaults); `enabled = false` turns one off; the summary, summary.json and check-config say
/// which outputs are on and why.
#[test]
fn absent_sections_mean_their_defaults_and_the_summary_says_so() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let rules_only = tmp.path().join("rules.toml");
    std::fs::write(
        &rules_only,
        "[[rule]]\nname = \"denied\"\npattern = '{ $.errorCode = \"AccessDenied\" }'\nmetric = { namespace = \"Security\", name = \"AccessDenied\" }\n",
    )
    .expect("write");
    let o = cwlogs(&["check-config", &rules_only.display().to_string()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        String::from_utf8_lossy(&o.stdout).ends_with(": ok: archive on (no [archive] section: its defaults), index on (no [index] section: its defaults), 1 rules\n"),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    let direct = samples().join("direct");
    let out = tmp.path().join("out");
    let run = |config: &Path| {
        cwlogs(&[
            "replay",
            "--config",
            &config.display().to_string(),
            "--out",
            &out.display().to_string(),
            &direct.display().to_string(),
        ])
    };
    let o = run(&rules_only);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains("outputs        archive on (no [archive] section: its defaults), index on (no [index] section: its defaults), rules on (1 rule)\n"),
        "{stdout}"
    );
    let s = summary(&out);
    assert_eq!(s["events"], 77);
    assert_eq!(s["archived_events"], 77);
    assert_eq!(s["indexed_events"], 77);
    assert_eq!(
        s["outputs"]["archive"],
        "on (no [archive] section: its defaults)"
    );
    assert!(out.join("archive").is_dir() && out.join("index").is_dir());
    assert!(out.join("metrics.ndjson").is_file());

    // `enabled = false` is how a destination is turned off, and the summary says why.
    let off = tmp.path().join("off.toml");
    let text = std::fs::read_to_string(&rules_only).expect("read");
    std::fs::write(
        &off,
        format!("[archive]\nenabled = false\n\n[index]\nenabled = false\n\n{text}"),
    )
    .expect("write");
    let o = run(&off);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains("outputs        archive off ([archive] enabled = false), index off ([index] enabled = false), rules on (1 rule)\n"),
        "{stdout}"
    );
    assert!(!stdout.contains("archived "), "{stdout}");
    assert!(!out.join("archive").exists() && !out.join("index").exists());
    assert_eq!(
        summary(&out)["outputs"]["index"],
        "off ([index] enabled = false)"
    );

    // Without --config, the built-in configuration.
    let o = cwlogs(&[
        "replay",
        "--out",
        &out.display().to_string(),
        &direct.display().to_string(),
    ]);
    assert!(
        String::from_utf8_lossy(&o.stdout).contains(
            "outputs        archive on (the built-in configuration), index on (the built-in configuration), rules off (no [[rule]] and no packs)\n"
        ),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
}

/// Two records with identical bytes that cannot be decoded share one dead letter (it is named by
/// its bytes): its error file lists both, and the summary counts the one dead letter a reader
/// finds, with the occurrences beside it.
#[test]
fn identical_bad_records_are_one_dead_letter_listing_every_occurrence() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let records: Vec<(String, String)> =
        [("701", "%%bad%%"), ("702", "%%bad%%"), ("703", "%%other%%")]
            .iter()
            .map(|(s, d)| (s.to_string(), d.to_string()))
            .collect();
    let input = tmp.path().join("twice.json");
    std::fs::write(&input, cwlogs_testkit::events::kinesis_event(&records)).expect("write");
    let out = tmp.path().join("out");
    let o = replay(&out, &[&input]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains("dead-lettered          2 (0 whole inputs, 2 records; 3 occurrences, listed in their error files)"),
        "{stdout}"
    );
    let s = summary(&out);
    assert_eq!(s["dead_lettered"], 2);
    assert_eq!(s["dead_lettered_records"], 2);
    assert_eq!(s["dead_letter_occurrences"], 3);
    let dl = tree(&out.join("dead-letter"));
    assert_eq!(dl.len(), 4, "two pairs: {:?}", dl.keys());
    let mut listed = Vec::new();
    for (name, body) in dl.iter().filter(|(n, _)| n.ends_with(".error.json")) {
        let err: serde_json::Value = serde_json::from_slice(body).expect("json");
        let occurrences = err["occurrences"].as_array().expect("occurrences");
        for o in occurrences {
            assert_eq!(o["input"], input.display().to_string(), "{name}");
            listed.push((
                o["record"].as_u64().expect("record"),
                o["record_id"].as_str().expect("id").to_string(),
            ));
        }
    }
    listed.sort();
    let want: Vec<(u64, String)> = vec![(1, "701".into()), (2, "702".into()), (3, "703".into())];
    assert_eq!(listed, want);
    let report = std::fs::read_to_string(out.join("report.html")).expect("report");
    assert!(report.contains("<td>1, 2</td>"), "both records on one line");
    assert!(report.contains("(2 occurrences, in the error file)"));
}

/// check-config reports every mistake in one run: every unknown key, the other problems of a
/// rule whose name is mistyped, a bad pattern's rule's other problems, and the column of the
/// fault inside a pattern.
#[test]
fn check_config_reports_every_mistake_at_once() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let path = tmp.path().join("typos.toml");
    std::fs::write(
        &path,
        r#"[archive]
bukket = "my-bucket"
prefx = "logs"

[[rule]]
name = 7
pattern = 'ERROR'
metric = { namespace = "App", name = "Errors:5xx" }

[[rule]]
name = "denied"
pattern = '{ $.errorCode = "AccessDenied" && $.x = }'
metric = { namespace = "Security", name = "Denied", unitt = "Count" }
alert = { window = "7m" }
"#,
    )
    .expect("write");
    let o = cwlogs(&["check-config", &path.display().to_string()]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    let p = path.display();
    for want in [
        format!("{p}:2:1: unknown field `bukket`"),
        format!("{p}:3:1: unknown field `prefx`"),
        format!("{p}:6:8: invalid type: integer `7`, expected a string"),
        format!("{p}:8:38: rule `7`: the metric name `Errors:5xx` must not contain `:`"),
        format!("{p}:13:53: unknown field `unitt`"),
        // The fault inside the pattern: the missing value before `}`.
        format!("{p}:12:52: rule `denied`: `pattern`: Invalid metric filter pattern"),
        format!("{p}:14:20: rule `denied`: `window` must be a duration"),
    ] {
        assert!(
            err.lines().any(|l| l.starts_with(&want)),
            "missing {want:?} in:\n{err}"
        );
    }
    assert_eq!(err.lines().count(), 7, "{err}");
}
