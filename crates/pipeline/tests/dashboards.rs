//! `dashboards/opensearch/cwlogs.ndjson`, the OpenSearch Dashboards saved objects for the
//! indices cwlogs writes: every line parses (and the JSON held in strings too), every
//! reference resolves, and every field a saved object names is one cwlogs writes. The list of
//! fields is not written here: it comes from the index template cwlogs installs and from
//! documents the real `DocumentBuilder` builds from CloudTrail records and Lambda lines (the
//! `json.*` fields), with OpenSearch's dynamic `.keyword` sub-field for their strings.

use crate::common::compared_values;
use cwlogs_decode::{LogBatch, LogEvent, MessageType};
use cwlogs_pipeline::index::mapping_templates;
use cwlogs_pipeline::{Config, DocumentBuilder};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

fn root() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The saved objects, by (type, id).
fn objects() -> BTreeMap<(String, String), Value> {
    let path = root().join("dashboards/opensearch/cwlogs.ndjson");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    let mut out = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("line {}: {e}", n + 1));
        let key = (
            v["type"].as_str().expect("type").to_string(),
            v["id"].as_str().expect("id").to_string(),
        );
        assert!(v["attributes"].is_object(), "{key:?}: attributes");
        assert!(v["references"].is_array(), "{key:?}: references");
        assert!(out.insert(key.clone(), v).is_none(), "{key:?} twice");
    }
    out
}

/// The JSON held in string attribute `name` (`visState`, `searchSourceJSON`, ...).
fn embedded(object: &Value, pointer: &str) -> Option<Value> {
    object.pointer(pointer).map(|s| {
        serde_json::from_str(s.as_str().expect("a JSON string"))
            .unwrap_or_else(|e| panic!("{pointer}: {e}"))
    })
}

/// Leaf paths of a document, with whether the leaf is a string.
fn leaves(prefix: &str, v: &Value, out: &mut BTreeMap<String, bool>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                let path = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                leaves(&path, v, out);
            }
        }
        Value::Array(a) => {
            for v in a {
                leaves(prefix, v, out);
            }
        }
        v => {
            *out.entry(prefix.to_string()).or_default() |= v.is_string();
        }
    }
}

/// Every field cwlogs writes, from the installed template and built documents.
fn written_fields() -> BTreeSet<String> {
    let config = Config::builtin(&|_| None);
    let index = config.index.as_ref().expect("indexing is on by default");
    let templates = mapping_templates(index).expect("templates");
    let mut fields = BTreeSet::new();
    fn mapped(prefix: &str, props: &Value, out: &mut BTreeSet<String>) {
        for (k, v) in props.as_object().expect("properties") {
            let path = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            match v.get("properties") {
                Some(p) => mapped(&path, p, out),
                None => {
                    out.insert(path);
                }
            }
        }
    }
    mapped(
        "",
        &templates[0].1["template"]["mappings"]["properties"],
        &mut fields,
    );
    // Messages from the pack fixtures: CloudTrail records and Lambda / ECS lines.
    let fixtures = root().join("crates/pipeline/tests/fixtures");
    let mut messages = Vec::new();
    for file in ["cis/cloudtrail.jsonl", "ops/lambda-ecs.jsonl"] {
        let text = std::fs::read_to_string(fixtures.join(file)).expect("fixture");
        for line in text.lines() {
            let v: Value = serde_json::from_str(line).expect("fixture line");
            messages.push(match v["message"].as_str() {
                Some(m) => m.to_string(),
                None => v["record"].to_string(),
            });
        }
    }
    let batch = LogBatch {
        message_type: MessageType::Data,
        owner: "111122223333".into(),
        log_group: "aws-cloudtrail-logs-111122223333".into(),
        log_stream: "s".into(),
        subscription_filters: vec![],
        policy_level: None,
        region: None,
        log_events: vec![],
    };
    let mut builder = DocumentBuilder::new(&index.documents, "eu-west-1", &batch);
    let mut found: BTreeMap<String, bool> = BTreeMap::new();
    for (i, m) in messages.iter().enumerate() {
        let mut out = Vec::new();
        builder.push(
            &mut out,
            &LogEvent {
                id: format!("{i}").into(),
                timestamp: 1_764_064_800_000,
                message: m.as_str().into(),
            },
        );
        let doc: Value = serde_json::from_slice(&out).expect("document JSON");
        leaves("", &doc, &mut found);
    }
    for (path, is_string) in found {
        // Fields the template does not map are mapped dynamically: strings as `text` with a
        // `keyword` sub-field.
        if is_string && !fields.contains(&path) {
            fields.insert(format!("{path}.keyword"));
        }
        fields.insert(path);
    }
    fields
}

/// Field names in a KQL query: what stands before each `:` outside quoted strings.
fn kql_fields(query: &str) -> Vec<String> {
    let mut unquoted = String::new();
    let mut quoted = false;
    let mut escaped = false;
    for c in query.chars() {
        match (quoted, escaped, c) {
            (true, false, '\\') => escaped = true,
            (true, _, '"') if !escaped => quoted = false,
            (true, _, _) => escaped = false,
            (false, _, '"') => {
                quoted = true;
                unquoted.push(' ');
            }
            (false, _, c) => unquoted.push(c),
        }
    }
    let mut fields = Vec::new();
    for (at, _) in unquoted.match_indices(':') {
        let name: String = unquoted[..at]
            .chars()
            .rev()
            .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '@'))
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        assert!(!name.is_empty(), "no field before ':' in {query}");
        fields.push(name);
    }
    fields
}

/// Every field a saved object names (columns, sort, time field, aggregation fields, query
/// fields), with where it was found.
fn named_fields(objects: &BTreeMap<(String, String), Value>) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for ((kind, id), o) in objects {
        let at = |what: &str| format!("{kind} {id}: {what}");
        let a = &o["attributes"];
        if let Some(f) = a["timeFieldName"].as_str() {
            out.push((f.to_string(), at("timeFieldName")));
        }
        for c in a["columns"].as_array().into_iter().flatten() {
            out.push((c.as_str().expect("column").to_string(), at("columns")));
        }
        for s in a["sort"].as_array().into_iter().flatten() {
            out.push((s[0].as_str().expect("sort field").to_string(), at("sort")));
        }
        if let Some(source) = embedded(o, "/attributes/kibanaSavedObjectMeta/searchSourceJSON") {
            assert_eq!(source["query"]["language"], "kuery", "{}", at("query"));
            let query = source["query"]["query"].as_str().expect("query");
            for f in kql_fields(query) {
                out.push((f, at("query")));
            }
        }
        if let Some(state) = embedded(o, "/attributes/visState") {
            for agg in state["aggs"].as_array().expect("aggs") {
                if let Some(f) = agg["params"]["field"].as_str() {
                    out.push((f.to_string(), at("aggregation field")));
                }
                for filter in agg["params"]["filters"].as_array().into_iter().flatten() {
                    let query = filter["input"]["query"].as_str().expect("filter query");
                    for f in kql_fields(query) {
                        out.push((f, at("filters aggregation")));
                    }
                }
            }
        }
    }
    out
}

#[test]
fn every_line_parses_and_every_reference_resolves() {
    let objects = objects();
    let kinds: BTreeSet<&str> = objects.keys().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        kinds,
        BTreeSet::from(["dashboard", "index-pattern", "search", "visualization"])
    );
    for ((kind, id), o) in &objects {
        let refs: BTreeMap<&str, &Value> = o["references"]
            .as_array()
            .expect("references")
            .iter()
            .map(|r| (r["name"].as_str().expect("reference name"), r))
            .collect();
        for r in refs.values() {
            let target = (
                r["type"].as_str().expect("reference type").to_string(),
                r["id"].as_str().expect("reference id").to_string(),
            );
            assert!(
                objects.contains_key(&target),
                "{kind} {id} references {target:?}, not in the file"
            );
        }
        // Every `...RefName` names one of the object's references.
        let mut ref_names = Vec::new();
        if let Some(s) = embedded(o, "/attributes/kibanaSavedObjectMeta/searchSourceJSON")
            && let Some(n) = s["indexRefName"].as_str()
        {
            ref_names.push(n.to_string());
        }
        if let Some(n) = o["attributes"]["savedSearchRefName"].as_str() {
            ref_names.push(n.to_string());
        }
        if let Some(panels) = embedded(o, "/attributes/panelsJSON") {
            for p in panels.as_array().expect("panels") {
                ref_names.push(
                    p["panelRefName"]
                        .as_str()
                        .expect("panelRefName")
                        .to_string(),
                );
            }
        }
        for n in &ref_names {
            assert!(
                refs.contains_key(n.as_str()),
                "{kind} {id}: {n} is no reference"
            );
        }
        for (pointer, what) in [
            ("/attributes/visState", "visState"),
            ("/attributes/uiStateJSON", "uiStateJSON"),
            ("/attributes/optionsJSON", "optionsJSON"),
            ("/attributes/fields", "fields"),
        ] {
            if o.pointer(pointer).is_some() {
                assert!(embedded(o, pointer).is_some(), "{kind} {id}: {what}");
            }
        }
    }
    // The dashboard shows every visualization and search of the file.
    let dashboard = objects
        .iter()
        .find(|((k, _), _)| k == "dashboard")
        .map(|(_, o)| o)
        .expect("a dashboard");
    let shown: BTreeSet<(String, String)> = dashboard["references"]
        .as_array()
        .expect("references")
        .iter()
        .map(|r| {
            (
                r["type"].as_str().unwrap_or_default().to_string(),
                r["id"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    for key in objects.keys() {
        if key.0 == "visualization" || key.0 == "search" {
            assert!(shown.contains(key), "{key:?} is not on the dashboard");
        }
    }
}

#[test]
fn the_index_pattern_selects_what_cwlogs_writes() {
    let objects = objects();
    let pattern = &objects[&(
        "index-pattern".to_string(),
        "cwlogs-index-pattern".to_string(),
    )];
    let config = Config::builtin(&|_| None);
    let index = config.index.as_ref().expect("index");
    let templates = mapping_templates(index).expect("templates");
    let selected = templates[0].1["index_patterns"][0]
        .as_str()
        .expect("pattern");
    assert_eq!(pattern["attributes"]["title"], selected);
    assert_eq!(pattern["attributes"]["timeFieldName"], "@timestamp");
    assert_eq!(
        templates[0].1["template"]["mappings"]["properties"]["@timestamp"]["type"],
        "date"
    );
}

#[test]
fn every_field_named_is_one_cwlogs_writes() {
    let written = written_fields();
    for expected in [
        "aws.cloudwatch.log_group",
        "log.level",
        "json.eventName.keyword",
        "json.userIdentity.invokedBy",
    ] {
        assert!(written.contains(expected), "{expected} not derived");
    }
    let objects = objects();
    let named = named_fields(&objects);
    assert!(named.len() > 30, "{named:?}");
    let unknown: Vec<&(String, String)> =
        named.iter().filter(|(f, _)| !written.contains(f)).collect();
    assert!(
        unknown.is_empty(),
        "fields cwlogs does not write: {unknown:#?}"
    );
}

/// The CIS visualization has one filter per rule of the pack, in order, and each names the
/// event source and every event name the rule's pattern lists.
#[test]
fn cis_visualization_follows_the_pack() {
    let objects = objects();
    let vis = &objects[&(
        "visualization".to_string(),
        "cwlogs-cis-rule-hits".to_string(),
    )];
    let state = embedded(vis, "/attributes/visState").expect("visState");
    let filters = state["aggs"]
        .as_array()
        .expect("aggs")
        .iter()
        .find(|a| a["type"] == "filters")
        .map(|a| a["params"]["filters"].as_array().expect("filters").clone())
        .expect("a filters aggregation");
    let pack = cwlogs_pipeline::rules::packs::find("cis-aws-foundations").expect("pack");
    let rules = pack.rules();
    let labels: Vec<&str> = filters
        .iter()
        .map(|f| f["label"].as_str().expect("label"))
        .collect();
    let names: Vec<&str> = rules.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(labels, names);
    let listed = compared_values;
    for (rule, filter) in rules.iter().zip(&filters) {
        let query = filter["input"]["query"].as_str().expect("query");
        assert_eq!(filter["input"]["language"], "kuery");
        for name in listed(&rule.pattern, "eventName") {
            assert!(
                query.contains(&format!("\"{name}\"")),
                "{}: {name} missing from {query}",
                rule.name
            );
        }
        for source in listed(&rule.pattern, "eventSource") {
            assert!(
                query.contains(&format!("json.eventSource.keyword:\"{source}\"")),
                "{}: eventSource {source} missing from {query}",
                rule.name
            );
        }
    }
}

/// The CloudWatch dashboards of the deployment (SAM and CDK) graph every metric of the packs.
#[test]
fn cloudwatch_dashboards_show_every_pack_metric() {
    let config = Config::from_toml(
        "packs = [\"cis-aws-foundations\", \"lambda-ecs-ops\"]\n",
        &|_| None,
    )
    .expect("packs");
    for file in ["infra/sam/template.yaml", "infra/cdk/lib/pipeline.ts"] {
        let text = std::fs::read_to_string(root().join(file)).expect(file);
        for rule in &config.rules {
            let metric = rule.metric.as_ref().expect("every pack rule has a metric");
            for name in [&metric.namespace, &metric.name] {
                assert!(
                    text.contains(&format!("\"{name}\"")) || text.contains(&format!("'{name}'")),
                    "{file}: no {name} (rule {})",
                    rule.name
                );
            }
        }
    }
}

/// The views of the parsed fields (issue 18: rejected flows and top talkers, Lambda duration
/// percentiles and memory, CloudTrail failures by action and principal) aggregate on fields
/// the index template types as they need (numbers on `long` / `double`, buckets on `keyword`,
/// `ip` or `long`), and documents built from AWS's example records carry every field a view
/// names, with its query matching.
#[test]
fn parser_views_use_typed_fields() {
    let config = Config::builtin(&|_| None);
    let index = config.index.as_ref().expect("index");
    let templates = mapping_templates(index).expect("templates");
    let props = &templates[0].1["template"]["mappings"]["properties"];
    let ty = |path: &str| -> String {
        let mut at = props;
        for (i, part) in path.split('.').enumerate() {
            at = if i == 0 {
                &at[part]
            } else {
                &at["properties"][part]
            };
        }
        at["type"].as_str().unwrap_or("unmapped").to_string()
    };
    let records = [
        (
            "cwlogs-vpc-rejected-flows",
            "vpc-flow-logs",
            "2 123456789010 eni-1235b8ca123456789 172.31.9.69 172.31.9.12 49761 3389 6 20 4249 1418530010 1418530070 REJECT OK",
        ),
        (
            "cwlogs-vpc-top-talkers",
            "vpc-flow-logs",
            "2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK",
        ),
        (
            "cwlogs-lambda-duration",
            "/aws/lambda/f",
            "REPORT RequestId: 8f507cfc-xmpl-4697-b07a-ac58fc914c95\tDuration: 15.74 ms\tBilled Duration: 16 ms\tMemory Size: 128 MB\tMax Memory Used: 56 MB\tInit Duration: 130.49 ms\t",
        ),
        (
            "cwlogs-lambda-memory",
            "/aws/lambda/f",
            "REPORT RequestId: 8f507cfc-xmpl-4697-b07a-ac58fc914c95\tDuration: 15.74 ms\tBilled Duration: 16 ms\tMemory Size: 128 MB\tMax Memory Used: 56 MB\tInit Duration: 130.49 ms\t",
        ),
        (
            "cwlogs-cloudtrail-failures",
            "aws-cloudtrail-logs-123456789012",
            r#"{"eventVersion":"1.04","userIdentity":{"type":"IAMUser","principalId":"EX_PRINCIPAL_ID","arn":"arn:aws:iam::123456789012:user/Alice","accountId":"123456789012","accessKeyId":"EXAMPLE_KEY_ID","userName":"Alice"},"eventTime":"2016-07-14T19:15:45Z","eventSource":"cloudtrail.amazonaws.com","eventName":"UpdateTrail","awsRegion":"us-east-2","sourceIPAddress":"205.251.233.182","userAgent":"aws-cli/1.10.32 Python/2.7.9 Windows/7 botocore/1.4.22","errorCode":"TrailNotFoundException","errorMessage":"Unknown trail: myTrail2 for the user: 123456789012","requestParameters":{"name":"myTrail2"},"responseElements":null}"#,
        ),
    ];
    let objects = objects();
    for (id, group, message) in records {
        let vis = &objects[&("visualization".to_string(), id.to_string())];
        let state = embedded(vis, "/attributes/visState").expect("visState");
        let batch = LogBatch {
            message_type: MessageType::Data,
            owner: "123456789012".into(),
            log_group: group.into(),
            log_stream: "s".into(),
            subscription_filters: vec![],
            policy_level: None,
            region: None,
            log_events: vec![],
        };
        let mut out = Vec::new();
        DocumentBuilder::new(&index.documents, "eu-west-1", &batch).push(
            &mut out,
            &LogEvent {
                id: "1".into(),
                timestamp: 1_764_064_800_000,
                message: message.into(),
            },
        );
        let doc: Value = serde_json::from_slice(&out).expect("document");
        let mut found = BTreeMap::new();
        leaves("", &doc, &mut found);
        let value = |path: &str| -> Option<Value> {
            path.split('.').try_fold(&doc, |v, p| v.get(p)).cloned()
        };
        for agg in state["aggs"].as_array().expect("aggs") {
            let Some(field) = agg["params"]["field"].as_str() else {
                continue;
            };
            if field == "@timestamp" {
                continue;
            }
            let t = ty(field);
            let want: &[&str] = match agg["type"].as_str() {
                Some("sum" | "max" | "avg" | "percentiles") => &["long", "double"],
                Some("terms") => &["keyword", "ip", "long"],
                other => panic!("{id}: aggregation {other:?}"),
            };
            assert!(want.contains(&t.as_str()), "{id}: {field} is {t}");
            assert!(found.contains_key(field), "{id}: {field} not in {doc}");
        }
        let source =
            embedded(vis, "/attributes/kibanaSavedObjectMeta/searchSourceJSON").expect("search");
        let query = source["query"]["query"].as_str().expect("query");
        let (field, want) = query.split_once(':').expect("field:value");
        let got = value(field).unwrap_or_else(|| panic!("{id}: {field} not in {doc}"));
        assert!(
            want == "*" || got == want,
            "{id}: {query} does not match {got}"
        );
    }
}
