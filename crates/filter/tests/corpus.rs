//! Runs every row of `testdata/*.toml` (format: testdata/README.md) against the engine.
//!
//! On failure it lists every failing row, not just the first.

use cwlogs_filter::{Message, MetricValue, Pattern, PatternSet};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap, HashSet};

const FILES: [(&str, &[u8]); 8] = [
    ("terms", include_bytes!("../testdata/terms.toml")),
    ("regex", include_bytes!("../testdata/regex.toml")),
    ("json", include_bytes!("../testdata/json.toml")),
    ("delimited", include_bytes!("../testdata/delimited.toml")),
    ("metric", include_bytes!("../testdata/metric.toml")),
    ("errors", include_bytes!("../testdata/errors.toml")),
    ("decisions", include_bytes!("../testdata/decisions.toml")),
    (
        "regressions",
        include_bytes!("../testdata/regressions.toml"),
    ),
];

#[derive(Deserialize)]
struct File {
    #[serde(default)]
    test: Vec<Row>,
}

#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
struct Row {
    name: String,
    pattern: String,
    message: Option<String>,
    matches: Option<bool>,
    error: Option<String>,
    value_expr: Option<String>,
    value: Option<toml::Value>,
    extracted: Option<BTreeMap<String, String>>,
    #[allow(dead_code)]
    source: String,
}

fn load() -> Vec<(&'static str, Vec<Row>)> {
    FILES
        .iter()
        .map(|(family, bytes)| {
            let text = std::str::from_utf8(bytes)
                .unwrap_or_else(|e| panic!("{family}.toml is not UTF-8: {e}"));
            let file: File = toml::from_str(text)
                .unwrap_or_else(|e| panic!("{family}.toml does not parse: {e}"));
            (*family, file.test)
        })
        .collect()
}

/// Checks one row; `Err` describes the failure.
fn check(row: &Row) -> Result<(), String> {
    let compiled = Pattern::new(&row.pattern);
    if let Some(want) = &row.error {
        if row.message.is_some() || row.matches.is_some() {
            return Err("row has both `error` and `message`/`matches`".into());
        }
        return match compiled {
            Ok(p) => Err(format!(
                "expected error containing {want:?}, got a valid {:?} pattern",
                p.kind()
            )),
            Err(e) if e.aws_message().contains(want.as_str()) => Ok(()),
            Err(e) => Err(format!(
                "expected error containing {want:?}, got {:?}",
                e.aws_message()
            )),
        };
    }
    let (Some(message), Some(want)) = (&row.message, row.matches) else {
        return Err("row needs `message` and `matches` (or `error`)".into());
    };
    let p = compiled.map_err(|e| format!("expected a valid pattern, got error:\n{e}"))?;
    let msg = Message::new(message);
    let got = p.is_match(&msg);
    let mut problems = Vec::new();
    if got != want {
        problems.push(format!("expected matches = {want}, got {got}"));
    }
    let set = PatternSet::new([p.clone()]);
    let mut hits = Vec::new();
    set.matches(&msg, &mut hits);
    if hits.is_empty() == got {
        problems.push(format!("PatternSet disagrees with Pattern: {hits:?}"));
    }
    match (&row.value_expr, &row.value) {
        (Some(expr), Some(value)) => {
            let want: Option<f64> = match value {
                toml::Value::Float(f) => Some(*f),
                toml::Value::Integer(i) => Some(*i as f64),
                toml::Value::String(s) if s == "null" => None,
                other => return Err(format!("bad `value` {other:?}")),
            };
            match MetricValue::parse(expr) {
                Err(e) => problems.push(format!("value_expr {expr:?} rejected:\n{e}")),
                Ok(mv) => {
                    let got = p.metric_value(&msg, &mv);
                    if got != want {
                        problems.push(format!("expected value {want:?}, got {got:?}"));
                    }
                }
            }
        }
        (None, None) => {}
        _ => problems.push("`value_expr` and `value` go together".into()),
    }
    if let Some(want) = &row.extracted {
        let got: BTreeMap<String, String> = p
            .extract(&msg)
            .map(|e| {
                e.iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect()
            })
            .unwrap_or_default();
        if &got != want {
            problems.push(format!("expected extracted {want:?}, got {got:?}"));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

#[test]
fn corpus() {
    let files = load();
    let mut failures = Vec::new();
    let mut summary = Vec::new();
    let mut total = 0;
    for (family, rows) in &files {
        let mut pass = 0;
        for row in rows {
            match check(row) {
                Ok(()) => pass += 1,
                Err(why) => failures.push(format!(
                    "{}\n    pattern:  {:?}\n    message:  {:?}\n    expected: matches={:?} error={:?} value={:?} extracted={:?}\n    got:      {}",
                    row.name, row.pattern, row.message, row.matches, row.error, row.value, row.extracted, why
                )),
            }
        }
        total += rows.len();
        summary.push(format!("{family}: {pass}/{} pass", rows.len()));
    }
    println!("corpus ({total} rows):\n  {}", summary.join("\n  "));
    assert!(
        failures.is_empty(),
        "{} failing rows:\n{}\n\n{}",
        failures.len(),
        failures.join("\n"),
        summary.join("\n")
    );
}

#[test]
fn names_are_unique_and_prefixed_by_family() {
    let mut seen = HashSet::new();
    let mut bad = Vec::new();
    for (family, rows) in load() {
        for row in rows {
            if !row.name.starts_with(&format!("{family}/")) {
                bad.push(format!("{} is not in family {family}/", row.name));
            }
            if !seen.insert(row.name.clone()) {
                bad.push(format!("{} appears twice", row.name));
            }
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn testdata_holds_only_the_known_files() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata");
    let known: HashSet<String> = FILES.iter().map(|(f, _)| format!("{f}.toml")).collect();
    let mut extra = Vec::new();
    for entry in std::fs::read_dir(dir).expect("testdata/ is readable") {
        let name = entry
            .expect("dir entry")
            .file_name()
            .to_string_lossy()
            .into_owned();
        if name.ends_with(".toml") && !known.contains(&name) {
            extra.push(name);
        }
    }
    assert!(
        extra.is_empty(),
        "testdata/ holds unknown .toml files: {extra:?}"
    );
}

/// Every valid corpus pattern in one PatternSet, against every corpus message: the set must
/// agree with evaluating each pattern alone.
#[test]
fn pattern_set_agrees_with_single_patterns() {
    let rows: Vec<Row> = load().into_iter().flat_map(|(_, r)| r).collect();
    let mut seen = HashMap::new();
    let patterns: Vec<Pattern> = rows
        .iter()
        .filter_map(|r| Pattern::new(&r.pattern).ok())
        .filter(|p| seen.insert(p.source().to_string(), ()).is_none())
        .collect();
    let messages: HashSet<&str> = rows.iter().filter_map(|r| r.message.as_deref()).collect();
    let set = PatternSet::new(patterns.clone());
    let mut hits = Vec::new();
    let mut disagreements = Vec::new();
    for m in messages {
        let msg = Message::new(m);
        set.matches(&msg, &mut hits);
        let want: Vec<usize> = (0..patterns.len())
            .filter(|&i| patterns[i].is_match(&msg))
            .collect();
        if hits != want {
            disagreements.push(format!("{m:?}: set {hits:?} vs single {want:?}"));
        }
        // The set's own message builds only the JSON its patterns read: same answers.
        set.matches(&set.message(m), &mut hits);
        if hits != want {
            disagreements.push(format!("{m:?}: kept set {hits:?} vs single {want:?}"));
        }
    }
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
}
