//! AWS WAF logs: one JSON object a line (`timestamp`, `action`, `webaclId`, `httpRequest`,
//! ...). The whole object is indexed as the message's fields (under `json_key`, as any JSON
//! message); these go to ECS fields as well:
//!
//! | WAF field | document field | type |
//! | --- | --- | --- |
//! | `timestamp` (ms) | `@timestamp` | date |
//! | `action` | `event.action` | keyword |
//! | `httpRequest.clientIp` | `source.ip` (an IP address) or `source.address` | ip / keyword |
//! | `httpRequest.country` | `source.geo.country_iso_code` | keyword |
//! | `httpRequest.httpMethod`, `.httpVersion` (`HTTP/1.1` -> `1.1`), `.requestId` | `http.request.method`, `http.version`, `http.request.id` | keyword |
//! | `httpRequest.uri`, `.args` | `url.path`, `url.query` | keyword |
//! | `webaclId`, `terminatingRuleId`, `terminatingRuleType`, `httpSourceName`, `httpSourceId` | `aws.waf.web_acl_id`, `.terminating_rule_id`, `.terminating_rule_type`, `.source.name`, `.source.id` | keyword |
//!
//! A line that is JSON but not a WAF record (no `webaclId`, or values of the wrong type) gets
//! `cwlogs.parse_error` and none of these fields; its JSON is still indexed.

use crate::shape::{Parsed, ip_ok, keyword_ok};
use crate::util::json::{push_key, push_str};
use serde::Deserialize;
use std::borrow::Cow;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Record<'a> {
    timestamp: Option<i64>,
    #[serde(borrow)]
    action: Option<Cow<'a, str>>,
    #[serde(borrow)]
    webacl_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    terminating_rule_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    terminating_rule_type: Option<Cow<'a, str>>,
    #[serde(borrow)]
    http_source_name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    http_source_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    http_request: Option<Request<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Request<'a> {
    #[serde(borrow)]
    client_ip: Option<Cow<'a, str>>,
    #[serde(borrow)]
    country: Option<Cow<'a, str>>,
    #[serde(borrow)]
    uri: Option<Cow<'a, str>>,
    #[serde(borrow)]
    args: Option<Cow<'a, str>>,
    #[serde(borrow)]
    http_version: Option<Cow<'a, str>>,
    #[serde(borrow)]
    http_method: Option<Cow<'a, str>>,
    #[serde(borrow)]
    request_id: Option<Cow<'a, str>>,
}

/// Whether `line` (the first of an object) looks like a WAF log record.
pub fn detect(line: &str) -> bool {
    let t = line.trim_start();
    t.starts_with('{') && t.contains("\"webaclId\"") && t.contains("\"httpRequest\"")
}

/// Parses `line` into `parsed` (cleared first); returns the record's time in milliseconds
/// since the epoch.
pub fn parse(line: &str, parsed: &mut Parsed) -> Option<i64> {
    parsed.clear();
    let r: Record<'_> = match serde_json::from_str(line) {
        Ok(r) => r,
        Err(e) => {
            parsed.fail("waf", format_args!("{e}"));
            return None;
        }
    };
    if r.webacl_id.is_none() {
        parsed.fail("waf", format_args!("no webaclId"));
        return None;
    }
    let all = [
        r.action.as_deref(),
        r.webacl_id.as_deref(),
        r.terminating_rule_id.as_deref(),
        r.terminating_rule_type.as_deref(),
        r.http_source_name.as_deref(),
        r.http_source_id.as_deref(),
    ];
    let req = r.http_request.as_ref();
    let req_all = req.map(|q| {
        [
            q.client_ip.as_deref(),
            q.country.as_deref(),
            q.uri.as_deref(),
            q.args.as_deref(),
            q.http_version.as_deref(),
            q.http_method.as_deref(),
            q.request_id.as_deref(),
        ]
    });
    let too_long = all
        .iter()
        .chain(req_all.iter().flatten())
        .flatten()
        .any(|v| !keyword_ok(v));
    if too_long {
        parsed.fail("waf", format_args!("a field is longer than 1024 bytes"));
        return None;
    }
    let time = r
        .timestamp
        .filter(|t| (0..=253_402_300_799_999).contains(t));
    if let Some(a) = &r.action {
        parsed.event.extend_from_slice(b",\"action\":");
        push_str(&mut parsed.event, a);
    }
    let mut waf = Vec::new();
    let member = |out: &mut Vec<u8>, key: &str, v: &str| {
        if !out.is_empty() {
            out.push(b',');
        }
        push_key(out, key);
        push_str(out, v);
    };
    for (key, v) in [
        ("web_acl_id", &r.webacl_id),
        ("terminating_rule_id", &r.terminating_rule_id),
        ("terminating_rule_type", &r.terminating_rule_type),
    ] {
        if let Some(v) = v {
            member(&mut waf, key, v);
        }
    }
    let mut source = Vec::new();
    for (key, v) in [("name", &r.http_source_name), ("id", &r.http_source_id)] {
        if let Some(v) = v {
            member(&mut source, key, v);
        }
    }
    if !source.is_empty() {
        waf.extend_from_slice(b",\"source\":{");
        waf.extend_from_slice(&source);
        waf.push(b'}');
    }
    parsed.aws.extend_from_slice(b"\"waf\":{");
    parsed.aws.extend_from_slice(&waf);
    parsed.aws.extend_from_slice(b"},");
    let Some(q) = req else {
        return time;
    };
    let mut src = Vec::new();
    if let Some(ip) = &q.client_ip {
        member(&mut src, if ip_ok(ip) { "ip" } else { "address" }, ip);
    }
    if let Some(c) = &q.country {
        if !src.is_empty() {
            src.push(b',');
        }
        src.extend_from_slice(b"\"geo\":{\"country_iso_code\":");
        push_str(&mut src, c);
        src.push(b'}');
    }
    let mut request = Vec::new();
    for (key, v) in [("method", &q.http_method), ("id", &q.request_id)] {
        if let Some(v) = v {
            member(&mut request, key, v);
        }
    }
    let mut http = Vec::new();
    if let Some(v) = &q.http_version {
        member(&mut http, "version", v.strip_prefix("HTTP/").unwrap_or(v));
    }
    if !request.is_empty() {
        if !http.is_empty() {
            http.push(b',');
        }
        http.extend_from_slice(b"\"request\":{");
        http.extend_from_slice(&request);
        http.push(b'}');
    }
    let mut url = Vec::new();
    if let Some(v) = &q.uri {
        member(&mut url, "path", v);
    }
    if let Some(v) = q.args.as_deref().filter(|a| !a.is_empty()) {
        member(&mut url, "query", v);
    }
    for (key, obj) in [("source", src), ("http", http), ("url", url)] {
        if !obj.is_empty() {
            parsed.top.push(b',');
            push_key(&mut parsed.top, key);
            parsed.top.push(b'{');
            parsed.top.extend_from_slice(&obj);
            parsed.top.push(b'}');
        }
    }
    time
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    const LINE: &str = r#"{"timestamp":1576280412771,"formatVersion":1,"webaclId":"arn:aws:wafv2:ap-southeast-2:111122223333:regional/webacl/STMTest/1EXAMPLE-2ARN-3ARN-4ARN-123456EXAMPLE","terminatingRuleId":"STMTest_SQLi_XSS","terminatingRuleType":"REGULAR","action":"BLOCK","terminatingRuleMatchDetails":[{"conditionType":"SQL_INJECTION","location":"UNKNOWN","matchedData":["10","AND","1"]}],"httpSourceName":"ALB","httpSourceId":"111122223333-app/test/7a9b","ruleGroupList":[],"rateBasedRuleList":[],"nonTerminatingMatchingRules":[],"httpRequest":{"clientIp":"1.1.1.1","country":"AU","headers":[{"name":"Host","value":"localhost:1989"}],"uri":"/myUri","args":"a=1","httpVersion":"HTTP/1.1","httpMethod":"GET","requestId":"rid"}}"#;

    #[test]
    fn waf_record() {
        assert!(detect(LINE));
        let mut p = Parsed::default();
        assert_eq!(parse(LINE, &mut p), Some(1_576_280_412_771));
        assert_eq!(p.error, "");
        let text = format!(
            "{{\"event\":{{\"id\":\"x\"{}}},\"aws\":{{{}\"cloudwatch\":{{}}}}{}}}",
            String::from_utf8_lossy(&p.event),
            String::from_utf8_lossy(&p.aws),
            String::from_utf8_lossy(&p.top)
        );
        let v: Value = serde_json::from_str(&text).expect("json");
        assert_eq!(v["event"]["action"], "BLOCK");
        assert_eq!(
            v["aws"]["waf"]["source"],
            json!({"name": "ALB", "id": "111122223333-app/test/7a9b"})
        );
        assert_eq!(
            v["source"],
            json!({"ip": "1.1.1.1", "geo": {"country_iso_code": "AU"}})
        );
        assert_eq!(
            v["http"],
            json!({"version": "1.1", "request": {"method": "GET", "id": "rid"}})
        );
        assert_eq!(v["url"], json!({"path": "/myUri", "query": "a=1"}));
    }

    #[test]
    fn not_quite_waf() {
        let mut p = Parsed::default();
        assert_eq!(parse(r#"{"timestamp":"x","webaclId":"a"}"#, &mut p), None);
        assert!(p.error.starts_with("waf: "), "{}", p.error);
        parse(r#"{"timestamp":1}"#, &mut p);
        assert_eq!(p.error, "waf: no webaclId");
        assert!(!detect("{\"a\":1}"));
    }
}
