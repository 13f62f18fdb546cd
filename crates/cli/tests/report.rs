//! `report.html` in a real browser: a replay of the shipped samples with the rule packs, the
//! page loaded by headless Chromium (Debian's `chromium`, or `$CHROMIUM`), which must report
//! no console message at all (the page has no script; a blocked load or a script error would
//! be one), and whose rendered DOM and SVG charts must carry the run's counts, checked against
//! what the replay wrote beside it (archive lines, metrics.ndjson, alerts.ndjson, dead letters).
//!
//! Behind the `integration` feature (scripts/test.sh installs `chromium` when it is missing).

#![cfg(feature = "integration")]

use cwlogs_testkit::events::samples_dir as samples;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const CONFIG: &str = r#"
packs = ["cis-aws-foundations", "lambda-ecs-ops"]

[index]

[[rule]]
name = "access-denied"
pattern = '{ $.errorCode = "AccessDenied" }'
metric = { namespace = "Security", name = "AccessDenied", value = "1", default = 0, unit = "Count" }
alert = { group_by = ["$.userIdentity.arn"], window = "5m", max_per_window = 1 }
"#;

/// What the browser made of a page: the serialized DOM, and the console messages it logged.
struct Loaded {
    dom: String,
    console: Vec<String>,
}

/// Loads `page` in headless Chromium (60 s at most).
fn chromium(page: &Path, profile: &Path) -> Loaded {
    let bin = std::env::var("CHROMIUM").unwrap_or_else(|_| "chromium".into());
    let url = format!(
        "file://{}",
        page.canonicalize().expect("page path").display()
    );
    let mut child = Command::new(&bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--enable-logging=stderr",
            "--v=0",
            "--no-first-run",
            "--allow-file-access-from-files",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(["--dump-dom", &url])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot run {bin} (apt-get install chromium, or set CHROMIUM): {e}")
        });
    // Read both pipes on threads so that neither fills up while we wait.
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut out, &mut s).map(|_| s)
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut err, &mut s).map(|_| s)
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for chromium") {
            break status;
        }
        if started.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("chromium did not finish within 60 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let dom = out.join().expect("stdout thread").expect("stdout");
    let stderr = err.join().expect("stderr thread").expect("stderr");
    assert!(status.success(), "chromium failed: {status}\n{stderr}");
    // Chromium logs every console message (errors, warnings, CSP violations, uncaught
    // exceptions) to stderr as `[...:INFO:CONSOLE:LINE] "text", source: URL (LINE)`.
    let console = stderr
        .lines()
        .filter(|l| l.contains(":CONSOLE"))
        .map(String::from)
        .collect();
    Loaded { dom, console }
}

/// The text of `<tag ... id="ID">...</tag>`, from the opening tag to the first `</tag>`.
fn element<'a>(dom: &'a str, tag: &str, id: &str) -> &'a str {
    let open = format!("id=\"{id}\"");
    let at = dom
        .find(&open)
        .unwrap_or_else(|| panic!("no element with {open}"));
    let start = dom[..at].rfind('<').expect("tag start");
    let close = format!("</{tag}>");
    let end = dom[start..].find(&close).expect("closing tag") + start + close.len();
    &dom[start..end]
}

/// The contents of every `<text>` element in `svg`, trimmed, in document order.
fn svg_texts(svg: &str) -> Vec<String> {
    let mut texts = Vec::new();
    let mut rest = svg;
    while let Some(at) = rest.find("<text") {
        let body = &rest[at..];
        let open_end = body.find('>').expect("text tag end") + 1;
        let close = body.find("</text>").expect("</text>");
        texts.push(body[open_end..close].trim().to_string());
        rest = &body[close..];
    }
    texts
}

/// `n` and the noun, singular for 1, as the page writes counts.
fn count(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Text as the DOM serializer writes it inside an element.
fn html_text(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn json_lines(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect()
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).expect("read dir") {
        let p = e.expect("entry").path();
        if p.is_dir() {
            files_under(&p, out);
        } else {
            out.push(p);
        }
    }
}

#[test]
fn the_harness_sees_console_errors() {
    // A page that breaks the rules report.html keeps: the check must see it.
    let tmp = tempfile::tempdir().expect("tempdir");
    let page = tmp.path().join("bad.html");
    std::fs::write(
        &page,
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'\"></head><body><img src=\"https://example.invalid/x.png\"><script>console.error('boom')</script></body></html>",
    )
    .expect("write");
    let loaded = chromium(&page, &tmp.path().join("profile"));
    assert!(loaded.dom.contains("<body>"), "{}", loaded.dom);
    assert!(
        loaded
            .console
            .iter()
            .any(|l| l.contains("Content Security Policy")),
        "{:?}",
        loaded.console
    );
}

#[test]
fn report_loads_cleanly_and_carries_the_counts() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let config = tmp.path().join("rules.toml");
    std::fs::write(&config, CONFIG).expect("config");
    let out = tmp.path().join("out");
    let o = Command::new(env!("CARGO_BIN_EXE_cwlogs"))
        .args(["replay", "--config"])
        .arg(&config)
        .arg("--out")
        .arg(&out)
        .arg(samples())
        .output()
        .expect("run cwlogs");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let page = out.join("report.html");
    let html = std::fs::read_to_string(&page).expect("report.html");
    assert!(!html.contains("<script"), "the page has no script");
    let loaded = chromium(&page, &tmp.path().join("profile"));
    assert!(
        loaded.console.is_empty(),
        "console messages: {:#?}",
        loaded.console
    );
    let dom = &loaded.dom;

    // Events: the total, and each log group's count in the chart's legend and the table,
    // against the documents in the `_bulk` files (one per event, redeliveries included).
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).expect("summary"))
            .expect("json");
    let events = summary["events"].as_u64().expect("events");
    assert!(events > 50, "{events}");
    assert!(dom.contains(&format!("<span id=\"events-total\">{events}</span>")));
    assert!(dom.contains(&format!("<b id=\"stat-events\">{events}</b>")));
    let mut per_group: BTreeMap<String, u64> = BTreeMap::new();
    let mut bodies = Vec::new();
    files_under(&out.join("index"), &mut bodies);
    for body in bodies {
        for doc in json_lines(&body).iter().skip(1).step_by(2) {
            let group = doc["aws"]["cloudwatch"]["log_group"]
                .as_str()
                .expect("aws.cloudwatch.log_group");
            *per_group.entry(group.to_string()).or_default() += 1;
        }
    }
    assert_eq!(per_group.values().sum::<u64>(), events);
    let chart = element(dom, "figure", "events-chart");
    let legend = svg_texts(chart);
    // The time axis names the day (the samples are of 2025-11-25), and events are bars: no
    // line in a series colour (the axes are black).
    assert!(
        legend.iter().any(|t| t == "time (UTC) on 2025-11-25"),
        "{legend:?}"
    );
    for line in chart.split("<polyline").skip(1) {
        let tag = &line[..line.find('>').expect("tag end")];
        assert!(tag.contains("stroke=\"#000000\""), "a line series: {tag}");
    }
    assert!(chart.matches("<rect").count() > per_group.len());
    for (group, n) in &per_group {
        let entry = format!("{} ({})", html_text(group), count(*n, "event", "events"));
        assert!(legend.contains(&entry), "{entry} not in {legend:?}");
        assert!(dom.contains(&format!(
            "<td>{}</td><td class=\"n\">{n}</td>",
            html_text(group)
        )));
    }

    // Rule hits: per rule, against the metric datapoints (every rule here publishes 1 per
    // match), in the chart's bar labels (in rule order) and in the table.
    let mut hits: BTreeMap<String, u64> = BTreeMap::new();
    for doc in json_lines(&out.join("metrics.ndjson")) {
        let rule = doc["cwlogsRule"].as_str().expect("cwlogsRule").to_string();
        let metric = doc["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"]
            .as_str()
            .expect("metric name");
        *hits.entry(rule).or_default() += doc[metric]["Sum"].as_f64().expect("Sum") as u64;
    }
    let table = element(dom, "table", "rule-hits");
    let order: Vec<&str> = table
        .split("<tr data-rule=\"")
        .skip(1)
        .map(|row| &row[..row.find('"').expect("attribute end")])
        .collect();
    assert_eq!(order.len(), 15 + 5 + 1, "{order:?}");
    assert_eq!(
        hits.values().sum::<u64>(),
        summary["rule_matches"].as_u64().expect("matches")
    );
    assert!(hits["cis-unauthorized-api-calls"] > hits["access-denied"]);
    let expected_labels: Vec<String> = order
        .iter()
        .map(|r| count(hits.get(*r).copied().unwrap_or(0), "hit", "hits"))
        .collect();
    let labels: Vec<String> = svg_texts(element(dom, "figure", "rule-hits-chart"))
        .into_iter()
        .filter(|t| t.ends_with(" hits") || t.ends_with(" hit"))
        .collect();
    assert_eq!(labels, expected_labels);
    assert!(
        expected_labels.iter().any(|l| l == "1 hit"),
        "a rule with one hit, written so: {expected_labels:?}"
    );
    for rule in &order {
        assert!(svg_texts(element(dom, "figure", "rule-hits-chart")).contains(&rule.to_string()));
    }

    // Alerts: per rule and kind, against alerts.ndjson.
    let mut sent: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    let alerts = json_lines(&out.join("alerts.ndjson"));
    for a in &alerts {
        let attr = |name: &str| {
            a["attributes"]
                .as_array()
                .expect("attributes")
                .iter()
                .find(|p| p[0] == name)
                .and_then(|p| p[1].as_str())
                .expect("attribute")
                .to_string()
        };
        let counts = sent.entry(attr("rule")).or_default();
        if attr("kind") == "alert" {
            counts.0 += 1;
        } else {
            counts.1 += 1;
        }
    }
    assert!(!alerts.is_empty());
    assert!(dom.contains(&format!("<b id=\"alerts-published\">{}</b>", alerts.len())));
    for rule in &order {
        let h = hits.get(*rule).copied().unwrap_or(0);
        let (a, s) = sent.get(*rule).copied().unwrap_or((0, 0));
        let row = format!(
            "<tr data-rule=\"{rule}\"><td>{rule}</td><td class=\"n hits\">{h}</td><td class=\"n\">{a}</td><td class=\"n\">{s}</td><td class=\"n\">{}</td></tr>",
            h - a
        );
        assert!(table.contains(&row), "{row} not in {table}");
    }
    let alert_labels = svg_texts(element(dom, "figure", "alerts-chart"));
    let (a, s) = sent["access-denied"];
    let label = format!(
        "{a} sent, {} not sent individually, {}",
        hits["access-denied"] - a,
        count(s, "summary", "summaries")
    );
    assert!(
        alert_labels.contains(&label),
        "{label} not in {alert_labels:?}"
    );

    // Dead letters: every one listed with its error.
    let dead = summary["dead_lettered"].as_u64().expect("dead_lettered");
    assert!(dead > 5);
    assert!(dom.contains(&format!("<span id=\"dead-letter-count\">{dead}</span>")));
    let list = element(dom, "table", "dead-letter-list");
    assert_eq!(list.matches("<tr>").count() as u64, dead + 1);
    let mut sidecars = Vec::new();
    files_under(&out.join("dead-letter"), &mut sidecars);
    for p in sidecars
        .iter()
        .filter(|p| p.to_string_lossy().ends_with(".error.json"))
    {
        let e: serde_json::Value =
            serde_json::from_slice(&std::fs::read(p).expect("sidecar")).expect("json");
        let error = html_text(e["error"].as_str().expect("error"));
        assert!(list.contains(&error), "{error} not listed");
    }
}
