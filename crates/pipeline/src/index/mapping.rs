//! The index templates cwlogs installs: mappings that type every field it writes, so the first
//! document of a day does not decide them.

use crate::index::IndexConfig;
use crate::index::names::IndexNamePattern;
use crate::sink::{Class, SendError};

/// The index templates `config` needs, as `(name, body)` for `PUT _index_template/<name>`
/// (composable templates: OpenSearch 1+, Elasticsearch 7.8+):
///
/// - `cwlogs-<prefix>` for the indices of the `index` template (the pattern is its literal
///   prefix and `*`): `@timestamp` a date, ids, account, region, log group and stream
///   keywords, `message` text, every field the parsers of `[parse]` write with its type
///   (`ip`, `long`, `double`, `date`, `keyword`) and every `[[enrich]]` field a keyword, so
///   that the first document of a day does not decide them; a data stream when `data_stream`
///   is on;
/// - `cwlogs-quarantine-<prefix>` for the quarantine indices, at a higher priority (it often
///   shares the prefix): fixed fields only and `dynamic: false`, so that a quarantined
///   document can never itself hit a mapping conflict.
///
/// An `index` template that starts with a placeholder has no usable pattern: that is an
/// error (install the template by hand, or set `install_template = false`).
pub fn mapping_templates(
    config: &IndexConfig,
) -> Result<Vec<(String, serde_json::Value)>, SendError> {
    use serde_json::json;
    let keyword = json!({"type": "keyword", "ignore_above": 1024});
    let long = json!({"type": "long"});
    let double = json!({"type": "double"});
    let date = json!({"type": "date"});
    let ip = json!({"type": "ip"});
    let mut vpcflow = serde_json::Map::new();
    for (key, ty) in crate::shape::vpc_flow::vpcflow_mapping() {
        vpcflow.insert(
            key.to_string(),
            match ty {
                "long" => long.clone(),
                "ip" => ip.clone(),
                _ => keyword.clone(),
            },
        );
    }
    let mut common = json!({
        "@timestamp": {"type": "date"},
        "message": {"type": "text"},
        "event": {"properties": {
            "id": keyword,
            "original": {"type": "text", "index": false},
            "action": keyword,
            "provider": keyword,
            "outcome": keyword,
            "start": date,
            "end": date,
            "duration": long
        }},
        "cloud": {"properties": {
            "provider": keyword,
            "region": keyword,
            "account": {"properties": {"id": keyword, "name": keyword}}
        }},
        "aws": {"properties": {
            "cloudwatch": {"properties": {"log_group": keyword, "log_stream": keyword}},
            "lambda": {"properties": {
                "request_id": keyword,
                "version": keyword,
                "duration_ms": double,
                "billed_duration_ms": long,
                "memory_size_mb": long,
                "max_memory_used_mb": long,
                "init_duration_ms": double,
                "restore_duration_ms": double,
                "billed_restore_duration_ms": long
            }},
            "vpcflow": {"properties": vpcflow},
            "cloudtrail": {"properties": {
                "error_code": keyword,
                "error_message": {"type": "text"},
                "user_identity": {"properties": {"type": keyword, "arn": keyword, "account_id": keyword}}
            }},
            // Records read from S3 objects (`sources`).
            "s3": {"properties": {
                "bucket": {"properties": {"name": keyword}},
                "object": {"properties": {"key": keyword}}
            }},
            "elb": {"properties": {
                "type": keyword, "version": keyword, "name": keyword, "listener": keyword,
                "target": {"properties": {"ip": ip, "port": long, "status_code": long}},
                "request_processing_time": {"properties": {"sec": double}},
                "target_processing_time": {"properties": {"sec": double}},
                "response_processing_time": {"properties": {"sec": double}},
                "connection_time": {"properties": {"ms": long}},
                "tls_handshake_time": {"properties": {"ms": long}},
                "target_group": {"properties": {"arn": keyword}},
                "chosen_cert": {"properties": {"arn": keyword, "serial": keyword}},
                "trace_id": keyword, "matched_rule_priority": keyword,
                "action_executed": keyword, "redirect_url": keyword, "error_reason": keyword,
                "target_port_list": keyword, "target_status_code_list": keyword,
                "classification": keyword, "classification_reason": keyword,
                "connection_trace_id": keyword, "incoming_tls_alert": keyword,
                "alpn_be_protocol": keyword, "alpn_client_preference_list": keyword
            }},
            "waf": {"properties": {
                "web_acl_id": keyword, "terminating_rule_id": keyword,
                "terminating_rule_type": keyword,
                "source": {"properties": {"name": keyword, "id": keyword}}
            }}
        }},
        "source": {"properties": {"ip": ip, "address": keyword, "port": long, "packets": long, "bytes": long,
            "geo": {"properties": {"country_iso_code": keyword}}}},
        "destination": {"properties": {"ip": ip, "port": long, "bytes": long}},
        "http": {"properties": {
            "version": keyword,
            "request": {"properties": {"method": keyword, "bytes": long, "id": keyword}},
            "response": {"properties": {"status_code": long, "bytes": long}}
        }},
        "url": {"properties": {"original": keyword, "path": keyword, "query": keyword}},
        "tls": {"properties": {
            "cipher": keyword, "version": keyword, "version_protocol": keyword, "curve": keyword,
            "next_protocol": keyword, "client": {"properties": {"server_name": keyword}}
        }},
        "network": {"properties": {"iana_number": keyword, "transport": keyword}},
        "user_agent": {"properties": {"original": keyword}},
        "trace": {"properties": {"id": keyword}},
        "log": {"properties": {"level": keyword}},
        "cwlogs": {"properties": {
            "truncated": {"type": "boolean"},
            "reasons": keyword,
            "parse_error": keyword,
            "multiline": {"properties": {"events": long}},
            "pattern": {"properties": {"id": keyword}}
        }},
    });
    // `[[enrich]]` fields are strings: keywords, at their place in the objects.
    for path in config.documents.shape.enrich.field_names() {
        let mut at = &mut common;
        let parts: Vec<&str> = path.split('.').collect();
        for (i, part) in parts.iter().enumerate() {
            let Some(obj) = at.as_object_mut() else { break };
            if i + 1 == parts.len() {
                obj.entry(part.to_string())
                    .or_insert_with(|| keyword.clone());
                break;
            }
            let node = obj
                .entry(part.to_string())
                .or_insert_with(|| json!({"properties": {}}));
            if node.get("properties").is_none() {
                break;
            }
            at = &mut node["properties"];
        }
    }
    let pattern = |t: &IndexNamePattern, what: &str| {
        let prefix = t.literal_prefix();
        if prefix.is_empty() {
            Err(SendError {
                class: Class::Reject,
                message: format!(
                    "the {what} template starts with a placeholder, so no index pattern can select its indices: install an index template by hand and set install_template = false"
                ),
            })
        } else {
            Ok(prefix)
        }
    };
    let main = pattern(&config.index, "index")?;
    let quarantine = pattern(&config.quarantine_index, "quarantine_index")?;
    let mut out = Vec::new();
    let mut body = json!({
        "index_patterns": [format!("{main}*")],
        "priority": 100,
        "template": {
            "mappings": {"properties": common.clone()}
        },
        "_meta": {"managed_by": "cwlogs"}
    });
    if config.data_stream {
        body["data_stream"] = json!({});
    }
    // The indices of S3 records (`[sources.s3] index`), when the main pattern does not
    // cover them: the same mappings.
    let source = match &config.source_index {
        Some(t) => {
            let prefix = pattern(t, "[sources.s3] index")?;
            (!prefix.starts_with(&main)).then(|| {
                let mut b = body.clone();
                b["index_patterns"] = json!([format!("{prefix}*")]);
                // Above the main template's 100: an Elasticsearch cluster refuses two templates
                // of one priority whose patterns overlap (`cwl-*` from another deployment).
                b["priority"] = json!(101);
                (
                    format!("cwlogs-{}", prefix.trim_end_matches(['-', '_', '.'])),
                    b,
                )
            })
        }
        None => None,
    };
    out.push((
        format!("cwlogs-{}", main.trim_end_matches(['-', '_', '.'])),
        body,
    ));
    out.extend(source);
    let mut q = common;
    q["error"] = json!({"properties": {"type": keyword, "message": {"type": "text"}}});
    q["cwlogs"]["properties"]["original_index"] = keyword;
    out.push((
        format!(
            "cwlogs-quarantine-{}",
            quarantine.trim_end_matches(['-', '_', '.'])
        ),
        json!({
            "index_patterns": [format!("{quarantine}*")],
            "priority": 200,
            "template": {"mappings": {"dynamic": false, "properties": q}},
            "_meta": {"managed_by": "cwlogs"}
        }),
    ));
    Ok(out)
}
