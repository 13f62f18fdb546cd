//! `cwlogs replay` with `[patterns] enabled = true` (issue 21): index documents carry
//! `cwlogs.pattern.id`, the archive does not change, `patterns.ndjson` and report.html's
//! "Patterns" section, the same ids in every run.

use crate::common::cwlogs;
use cwlogs_testkit::events::samples_dir as samples;
use cwlogs_testkit::files::tree;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

fn replay(out: &Path, config: Option<&Path>) {
    let mut args = vec![
        "replay".to_string(),
        "--out".into(),
        out.display().to_string(),
    ];
    if let Some(c) = config {
        args.push("--config".into());
        args.push(c.display().to_string());
    }
    args.push(samples().display().to_string());
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = cwlogs(&refs);
    assert!(
        o.status.success(),
        "replay failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Every document by `_id`.
fn documents(out: &Path) -> BTreeMap<String, serde_json::Value> {
    let mut docs = BTreeMap::new();
    for body in tree(&out.join("index")).values() {
        let text = std::str::from_utf8(body).expect("utf8");
        let lines: Vec<&str> = text.lines().collect();
        for pair in lines.chunks(2) {
            let action: serde_json::Value = serde_json::from_str(pair[0]).expect("action");
            let doc: serde_json::Value = serde_json::from_str(pair[1]).expect("doc");
            let id = action["create"]["_id"].as_str().expect("id").to_string();
            docs.insert(id, doc);
        }
    }
    docs
}

#[test]
fn replay_tags_documents_and_writes_the_patterns() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let config = tmp.path().join("cwlogs.toml");
    std::fs::write(&config, "[patterns]\nenabled = true\n").expect("config");
    let (off, on, again) = (
        tmp.path().join("off"),
        tmp.path().join("on"),
        tmp.path().join("again"),
    );
    replay(&off, None);
    replay(&on, Some(&config));
    replay(&again, Some(&config));

    // The archive does not change.
    assert_eq!(tree(&off.join("archive")), tree(&on.join("archive")));
    assert!(!off.join("patterns.ndjson").exists());

    // Every document carries an id; nothing else changes.
    let (plain, tagged) = (documents(&off), documents(&on));
    assert_eq!(plain.len(), tagged.len());
    assert!(!plain.is_empty());
    let mut ids = BTreeSet::new();
    for (key, doc) in &tagged {
        let id = doc["cwlogs"]["pattern"]["id"]
            .as_str()
            .expect("a pattern id");
        assert_eq!(id.len(), 16, "{doc}");
        ids.insert(id.to_string());
        let mut d = doc.clone();
        let cwlogs = d["cwlogs"].as_object_mut().expect("cwlogs");
        cwlogs.remove("pattern");
        if cwlogs.is_empty() {
            d.as_object_mut().expect("doc").remove("cwlogs");
        }
        assert_eq!(&d, &plain[key], "{key}");
    }
    // The same ids in another run.
    assert_eq!(documents(&again), tagged);

    // patterns.ndjson: every pattern of the documents, with its log group and counts.
    let text = std::fs::read_to_string(on.join("patterns.ndjson")).expect("patterns.ndjson");
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    // A document tagged before its template merged into another carries the merged id.
    let listed: BTreeSet<String> = lines
        .iter()
        .flat_map(|l| {
            let merged = l["merged_ids"].as_array().expect("merged_ids").clone();
            std::iter::once(l["id"].clone()).chain(merged)
        })
        .map(|id| id.as_str().expect("id").to_string())
        .collect();
    assert!(ids.is_subset(&listed), "{ids:?} {listed:?}");
    let counted: u64 = lines
        .iter()
        .map(|l| l["count"].as_u64().expect("count"))
        .sum();
    let written: usize = tree(&on.join("index"))
        .values()
        .map(|b| b.iter().filter(|&&c| c == b'\n').count() / 2)
        .sum();
    assert_eq!(counted as usize, written, "every document observed once");
    for l in &lines {
        for k in [
            "template",
            "log_group",
            "first_seen",
            "last_seen",
            "example",
        ] {
            assert!(l[k].is_string(), "{k}: {l}");
        }
        assert!(l["new"].is_boolean(), "{l}");
    }
    assert_eq!(
        text,
        std::fs::read_to_string(again.join("patterns.ndjson")).expect("again")
    );

    // report.html: the section, with the top pattern of a log group.
    let html = std::fs::read_to_string(on.join("report.html")).expect("report");
    assert!(
        html.contains("<section id=\"patterns\">"),
        "no patterns section"
    );
    assert!(html.contains("id=\"patterns-top-0\""));
    let first = lines[0]["id"].as_str().expect("id");
    assert!(html.contains(first), "{first}");
    let html_off = std::fs::read_to_string(off.join("report.html")).expect("report");
    assert!(!html_off.contains("<section id=\"patterns\">"));
}

#[test]
fn replay_writes_new_pattern_alerts_after_the_warm_up() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let config = tmp.path().join("cwlogs.toml");
    std::fs::write(
        &config,
        "[alerts]\ntopic = \"arn:aws:sns:eu-west-1:123456789012:patterns\"\n[patterns]\nenabled = true\nwarmup = \"10m\"\n[patterns.new_alert]\n",
    )
    .expect("config");
    let t: i64 = 1_764_028_800_000;
    let envelope = |events: &[(i64, &str)]| {
        serde_json::json!({
            "messageType": "DATA_MESSAGE",
            "owner": "123456789012",
            "logGroup": "/aws/lambda/orders",
            "logStream": "s",
            "subscriptionFilters": ["f"],
            "logEvents": events.iter().enumerate().map(|(i, (ts, m))| serde_json::json!({
                "id": format!("{ts}{i}"), "timestamp": ts, "message": m,
            })).collect::<Vec<_>>(),
        })
    };
    let inputs = tmp.path().join("in");
    std::fs::create_dir(&inputs).expect("dir");
    let first = envelope(&[(t, "order 1 placed"), (t + 60_000, "order 2 placed")]);
    let second = envelope(&[
        (t + 1_200_000, "order 3 placed"),
        (t + 1_200_001, "inventory sync failed: upstream 503"),
    ]);
    std::fs::write(
        inputs.join("a.json"),
        cwlogs_testkit::events::direct_event_of(&first),
    )
    .expect("write");
    std::fs::write(
        inputs.join("b.json"),
        cwlogs_testkit::events::direct_event_of(&second),
    )
    .expect("write");
    let out = tmp.path().join("out");
    let o = cwlogs(&[
        "replay",
        "--out",
        &out.display().to_string(),
        "--config",
        &config.display().to_string(),
        &inputs.display().to_string(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let alerts = std::fs::read_to_string(out.join("alerts.ndjson")).expect("alerts.ndjson");
    let messages: Vec<serde_json::Value> = alerts
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    assert_eq!(messages.len(), 1, "{alerts}");
    let m = &messages[0];
    assert!(
        m["subject"]
            .as_str()
            .expect("subject")
            .starts_with("[LOW] New log pattern in /aws/lambda/orders: inventory sync failed"),
        "{m}"
    );
    let body: serde_json::Value =
        serde_json::from_str(m["message"].as_str().expect("body")).expect("json");
    assert_eq!(body["rule"], "patterns-new");
    assert_eq!(
        body["event"]["message"],
        "inventory sync failed: upstream 503"
    );
}

#[test]
fn patterns_prints_the_top_templates_per_log_group_as_json_and_text() {
    let run = |args: &[&str]| {
        let mut all = vec!["patterns"];
        all.extend_from_slice(args);
        let input = samples().display().to_string();
        all.push(&input);
        let o = cwlogs(&all);
        assert!(
            o.status.success(),
            "patterns failed: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stdout).expect("UTF-8")
    };
    let json = run(&["--top", "2", "--json"]);
    assert_eq!(
        json,
        run(&["--top", "2", "--json"]),
        "the same ids every run"
    );
    let report: serde_json::Value = serde_json::from_str(&json).expect("one JSON document");
    let groups = report["log_groups"].as_array().expect("log_groups");
    assert!(groups.len() > 1, "{json}");
    for g in groups {
        let top = g["top"].as_array().expect("top");
        let patterns = g["patterns"].as_u64().expect("patterns");
        assert_eq!(top.len() as u64, patterns.min(2), "{g}");
        let counts: Vec<u64> = top
            .iter()
            .map(|p| p["count"].as_u64().expect("count"))
            .collect();
        assert!(counts.windows(2).all(|w| w[0] >= w[1]), "by count: {g}");
        let messages = g["messages"].as_u64().expect("messages") as f64;
        for p in top {
            let id = p["id"].as_str().expect("id");
            assert!(
                id.len() == 16
                    && id
                        .bytes()
                        .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()),
                "{id}"
            );
            let share = p["share"].as_f64().expect("share");
            assert!((share - p["count"].as_f64().expect("count") / messages).abs() < 1e-9);
            assert!(p["first_seen"].as_str().expect("first").ends_with('Z'));
            assert!(p["last_seen"].as_str() >= p["first_seen"].as_str());
            // The command keeps each template's first message (the functions keep none).
            assert!(!p["example"].as_str().expect("example").is_empty(), "{p}");
            assert!(!p["template"].as_str().expect("template").is_empty());
        }
    }
    // Text: one heading per log group, at most one template under each with --top 1.
    let text = run(&["--top", "1"]);
    let headings = text.lines().filter(|l| l.contains(" messages, ")).count();
    assert_eq!(headings, groups.len(), "{text}");
    let shown = text
        .lines()
        .filter(|l| {
            l.split_whitespace()
                .nth(1)
                .is_some_and(|s| s.ends_with('%'))
        })
        .count();
    assert_eq!(shown, headings, "{text}");
}
