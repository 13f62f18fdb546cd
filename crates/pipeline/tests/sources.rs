//! Whole S3 objects through `sources::ObjectStream`: formats, documents, ids, skips and
//! errors.

use cwlogs_pipeline::Config;
use cwlogs_pipeline::sources::elb::ElbKind;
use cwlogs_pipeline::sources::{
    Detected, Format, ObjectStream, S3Indexing, SourceError, SourceErrorKind, skip_reason,
};
use serde_json::{Value, json};
use std::io::Write as _;

const TRAIL_KEY: &str = "AWSLogs/123456789012/CloudTrail/eu-west-1/2025/11/25/123456789012_CloudTrail_eu-west-1_20251125T0000Z_a.json.gz";

fn gz(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).expect("gzip");
    e.finish().expect("gzip")
}

fn indexing(text: &str) -> S3Indexing {
    let c = Config::from_toml(text, &|_| None).expect("config");
    S3Indexing::new(
        c.index.as_ref().expect("index"),
        c.sources.s3.as_ref().expect("s3"),
    )
}

/// (index, `_id`, document) of each record.
type Docs = Vec<(String, String, Value)>;

/// Every (index, id, document) of an object, and what it was detected as.
fn read_all(
    s3: &S3Indexing,
    bucket: &str,
    key: &str,
    body: &[u8],
) -> Result<(Detected, Docs), SourceError> {
    let mut stream = ObjectStream::open(s3, bucket, key, "us-east-1", body)?;
    let detected = stream.detected().clone();
    let mut docs = Vec::new();
    while let Some(chunk) = stream.next_chunk()? {
        for c in &chunk.bulk {
            for item in c.items() {
                let text = std::str::from_utf8(item).expect("utf-8");
                let (action, doc) = text.trim_end().split_once('\n').expect("two lines");
                let action: Value = serde_json::from_str(action).expect("action");
                let doc: Value = serde_json::from_str(doc).expect("document");
                assert_eq!(action["create"]["_index"], c.index.as_str());
                docs.push((
                    c.index.clone(),
                    action["create"]["_id"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                    doc,
                ));
            }
        }
    }
    Ok((detected, docs))
}

fn trail(records: &str) -> Vec<u8> {
    gz(format!(r#"{{"Records":[{records}]}}"#).as_bytes())
}

const DENIED: &str = r#"{"eventVersion":"1.08","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::123456789012:user/alice","accountId":"123456789012"},"eventTime":"2025-11-25T10:00:01Z","eventSource":"s3.amazonaws.com","eventName":"GetObject","awsRegion":"eu-west-1","sourceIPAddress":"203.0.113.7","userAgent":"aws-cli/2","errorCode":"AccessDenied","errorMessage":"Access Denied","requestParameters":{"bucketName":"b"},"eventID":"e1"}"#;

#[test]
fn cloudtrail_files_give_one_document_per_record() {
    let s3 = indexing("");
    let body = trail(&format!(
        r#"{DENIED}, {{"eventVersion":"1.08","eventTime":"2025-11-26T00:00:00Z","eventSource":"iam.amazonaws.com","eventName":"ListUsers","sourceIPAddress":"AWS Internal"}}"#
    ));
    let (detected, docs) = read_all(&s3, "trail-bucket", TRAIL_KEY, &body).expect("read");
    assert_eq!(detected, Detected::Records(Format::CloudTrail));
    assert_eq!(docs.len(), 2);
    let (index, id, doc) = &docs[0];
    assert_eq!(index, "cwl-s3-cloudtrail-2025.11.25");
    assert_eq!(*id, cwlogs_pipeline::doc_id("trail-bucket", TRAIL_KEY, "0"));
    assert_eq!(doc["@timestamp"], "2025-11-25T10:00:01.000Z");
    assert_eq!(doc["message"], DENIED);
    assert_eq!(doc["event"]["id"], id.as_str());
    assert_eq!(doc["event"]["action"], "GetObject");
    assert_eq!(doc["event"]["outcome"], "failure");
    assert_eq!(doc["source"]["ip"], "203.0.113.7");
    assert_eq!(doc["aws"]["cloudtrail"]["error_code"], "AccessDenied");
    assert_eq!(
        doc["aws"]["s3"],
        json!({"bucket": {"name": "trail-bucket"}, "object": {"key": TRAIL_KEY}})
    );
    assert!(doc["aws"].get("cloudwatch").is_none());
    assert_eq!(
        doc["cloud"],
        json!({"provider": "aws", "account": {"id": "123456789012"}, "region": "eu-west-1"})
    );
    assert_eq!(doc["json"]["requestParameters"]["bucketName"], "b");
    // The second record: its own day, position 1.
    assert_eq!(docs[1].0, "cwl-s3-cloudtrail-2025.11.26");
    assert_eq!(
        docs[1].1,
        cwlogs_pipeline::doc_id("trail-bucket", TRAIL_KEY, "1")
    );
    assert_eq!(docs[1].2["source"]["address"], "AWS Internal");
    // The same object read again gives the same bytes; another key other ids.
    let again = read_all(&s3, "trail-bucket", TRAIL_KEY, &body).expect("read");
    assert_eq!(again.1, docs);
    let other =
        read_all(&s3, "trail-bucket", &TRAIL_KEY.replace("_a.", "_b."), &body).expect("read");
    assert_ne!(other.1[0].1, docs[0].1);
}

#[test]
fn cloudtrail_files_detected_by_content_and_digests_skipped() {
    let s3 = indexing("");
    let (detected, docs) = read_all(
        &s3,
        "b",
        "copies/trail.json",
        format!(r#"{{"Records":[{DENIED}]}}"#).as_bytes(),
    )
    .expect("read");
    assert_eq!(detected, Detected::Records(Format::CloudTrail));
    assert_eq!(docs[0].0, "cwl-s3-cloudtrail-2025.11.25");
    // Without the layout: the account is unknown, the region the caller's.
    assert_eq!(docs[0].2["cloud"]["account"]["id"], "unknown");
    assert_eq!(docs[0].2["cloud"]["region"], "us-east-1");

    let digest_key = "AWSLogs/123456789012/CloudTrail-Digest/eu-west-1/2025/11/25/x.json.gz";
    assert_eq!(skip_reason(digest_key), Some("CloudTrail digest file"));
    let (detected, docs) = read_all(&s3, "b", digest_key, &gz(b"{}")).expect("read");
    assert_eq!(detected, Detected::Skip("CloudTrail digest file"));
    assert!(docs.is_empty());
    let digest = br#"{"awsAccountId":"123456789012","digestStartTime":"2025-11-25T00:00:00Z","digestS3Object":"x","logFiles":[]}"#;
    let (detected, _) = read_all(&s3, "b", "copy/digest.json", digest).expect("read");
    assert_eq!(detected, Detected::Skip("CloudTrail digest file"));
}

#[test]
fn cloudtrail_files_whose_records_are_not_an_array() {
    let s3 = indexing("");
    for (body, what) in [
        (
            r#"{"Records":{"eventVersion":"1.08"}}"#,
            "`Records` is an object, not an array",
        ),
        (r#"{"Records":"x"}"#, "`Records` is a string, not an array"),
        (r#"{"other":1}"#, "has no `Records`"),
    ] {
        let e = read_all(&s3, "b", TRAIL_KEY, &gz(body.as_bytes())).expect_err(body);
        assert_eq!(e.kind, SourceErrorKind::Format, "{body}");
        assert!(!e.is_retryable());
        assert!(e.message.contains(what), "{body}: {e}");
    }
}

const FLOW_KEY: &str = "AWSLogs/123456789012/vpcflowlogs/eu-west-1/2025/11/25/123456789012_vpcflowlogs_eu-west-1_fl-1_20251125T0000Z_h.log.gz";

#[test]
fn vpc_flow_logs_read_their_header() {
    let s3 = indexing("");
    let text = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status\n\
                2 123456789012 eni-1 10.0.0.1 10.0.0.2 443 49152 6 10 840 1764064800 1764064860 ACCEPT OK\n\
                \n\
                2 123456789012 eni-1 - - - - - - - 1764064800 1764064860 - NODATA\n";
    let (detected, docs) = read_all(&s3, "flows", FLOW_KEY, &gz(text.as_bytes())).expect("read");
    assert!(matches!(detected, Detected::Records(Format::VpcFlow(_))));
    assert_eq!(docs.len(), 2);
    let doc = &docs[0].2;
    assert_eq!(docs[0].0, "cwl-s3-vpcflowlogs-2025.11.25");
    // Positions are line numbers: the header is line 0, the blank line 2.
    assert_eq!(docs[0].1, cwlogs_pipeline::doc_id("flows", FLOW_KEY, "1"));
    assert_eq!(docs[1].1, cwlogs_pipeline::doc_id("flows", FLOW_KEY, "3"));
    assert_eq!(doc["@timestamp"], "2025-11-25T10:00:00.000Z");
    assert_eq!(doc["source"]["ip"], "10.0.0.1");
    assert_eq!(doc["destination"]["port"], 49152);
    assert_eq!(doc["network"]["transport"], "tcp");
    assert_eq!(doc["aws"]["vpcflow"]["action"], "ACCEPT");
    assert_eq!(docs[1].2["aws"]["vpcflow"]["log_status"], "NODATA");

    // A custom format, found by content alone.
    let custom = "srcaddr dstaddr action start\n10.0.0.9 10.0.0.8 REJECT 1764064801\n";
    let (_, docs) = read_all(&s3, "b", "copy/flows.log", custom.as_bytes()).expect("read");
    assert_eq!(docs[0].2["aws"]["vpcflow"]["action"], "REJECT");
    assert_eq!(docs[0].2["@timestamp"], "2025-11-25T10:00:01.000Z");
    // A record that does not fit the header: a parse error, still indexed.
    let bad = "srcaddr dstaddr action start\n10.0.0.9 10.0.0.8\n";
    let (_, docs) = read_all(&s3, "b", "copy/flows.log", bad.as_bytes()).expect("read");
    assert_eq!(
        docs[0].2["cwlogs"]["parse_error"],
        "vpc-flow: 2 fields; the format has 4"
    );
}

#[test]
fn a_flow_log_header_naming_unknown_fields_is_an_error() {
    let s3 = indexing("");
    let e = read_all(
        &s3,
        "b",
        FLOW_KEY,
        &gz(b"version srcaddr frobnicate\n2 1.2.3.4 x\n"),
    )
    .expect_err("unknown field");
    assert_eq!(e.kind, SourceErrorKind::Format);
    assert!(e.message.contains("unknown field `${frobnicate}`"), "{e}");
    let e =
        read_all(&s3, "b", "copy/f.log", b"srcaddr dstaddr frobnicate\n").expect_err("by content");
    assert!(e.message.contains("frobnicate"), "{e}");
    let e = read_all(&s3, "b", FLOW_KEY, b"PAR1....").expect_err("parquet");
    assert!(e.message.contains("Parquet"), "{e}");
}

const ALB_KEY: &str = "AWSLogs/123456789012/elasticloadbalancing/us-east-2/2018/07/02/123456789012_elasticloadbalancing_us-east-2_app.my-loadbalancer.50dc6c495c0c9188_20180702T2225Z_192.168.131.39_2ie3k0v.log.gz";

#[test]
fn load_balancer_and_waf_logs() {
    let s3 = indexing("");
    let alb = r#"http 2018-07-02T22:23:00.186641Z app/my-loadbalancer/50dc6c495c0c9188 192.168.131.39:2817 10.0.0.1:80 0.000 0.001 0.000 200 200 34 366 "GET http://www.example.com:80/ HTTP/1.1" "curl/7.46.0" - - arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/my-targets/73e2d6bc24d8a067 "Root=1-58337262-36d228ad5d99923122bbe354" "-" "-" 0 2018-07-02T22:22:48.364000Z "forward" "-" "-" "10.0.0.1:80" "200" "-" "-" TID_1234abcd5678ef90"#;
    let (detected, docs) = read_all(
        &s3,
        "lb",
        ALB_KEY,
        &gz(format!("{alb}\n{alb}\n").as_bytes()),
    )
    .expect("read");
    assert_eq!(detected, Detected::Records(Format::Elb(ElbKind::Alb)));
    assert_eq!(docs.len(), 2);
    let doc = &docs[0].2;
    assert_eq!(docs[0].0, "cwl-s3-elasticloadbalancing-2018.07.02");
    assert_eq!(doc["@timestamp"], "2018-07-02T22:23:00.186Z");
    assert_eq!(doc["http"]["request"]["method"], "GET");
    assert_eq!(doc["http"]["response"]["status_code"], 200);
    assert_eq!(doc["url"]["original"], "http://www.example.com:80/");
    assert_eq!(doc["user_agent"]["original"], "curl/7.46.0");
    assert_eq!(doc["aws"]["elb"]["type"], "http");
    assert_eq!(doc["cloud"]["region"], "us-east-2");
    assert_ne!(docs[0].1, docs[1].1, "the same line twice is two records");

    let waf_key = "AWSLogs/123456789012/WAFLogs/us-east-1/acl/2025/11/25/10/05/x.log.gz";
    let line = r#"{"timestamp":1764064800000,"formatVersion":1,"webaclId":"arn:aws:wafv2:us-east-1:123456789012:regional/webacl/acl/1","terminatingRuleId":"Default_Action","terminatingRuleType":"REGULAR","action":"ALLOW","httpSourceName":"ALB","httpSourceId":"x","httpRequest":{"clientIp":"1.2.3.4","country":"FR","headers":[],"uri":"/","args":"","httpVersion":"HTTP/2.0","httpMethod":"GET","requestId":"r"}}"#;
    let (detected, docs) = read_all(&s3, "w", waf_key, &gz(line.as_bytes())).expect("read");
    assert_eq!(detected, Detected::Records(Format::Waf));
    assert_eq!(docs[0].0, "cwl-s3-waflogs-2025.11.25");
    assert_eq!(docs[0].2["event"]["action"], "ALLOW");
    assert_eq!(docs[0].2["json"]["httpRequest"]["country"], "FR");
    assert_eq!(docs[0].2["@timestamp"], "2025-11-25T10:00:00.000Z");
}

#[test]
fn other_objects_are_not_logs_and_bad_gzip_is_an_error() {
    let s3 = indexing("");
    for (key, body) in [
        (
            "cwl/account=1/x.ndjson.gz",
            gz(br#"{"timestamp":1,"id":"1","message":"m"}"#),
        ),
        (
            "dead-letter/dt=2025-11-25/direct-1.json",
            br#"{"awslogs":{"data":"x"}}"#.to_vec(),
        ),
        ("random.bin", b"\x00\x01\x02".to_vec()),
        ("empty", Vec::new()),
    ] {
        let (detected, docs) = read_all(&s3, "b", key, &body).expect(key);
        assert_eq!(detected, Detected::NotALog, "{key}");
        assert!(docs.is_empty());
    }
    let body = trail(DENIED);
    let e = read_all(&s3, "b", TRAIL_KEY, &body[..body.len() - 9]).expect_err("truncated");
    assert_eq!(
        (e.kind, e.message.as_str()),
        (SourceErrorKind::Gzip, "truncated gzip stream")
    );
    assert!(!e.is_retryable());
    let e = read_all(&s3, "b", ALB_KEY, &gz(b"hello world\n")).expect_err("not an entry");
    assert_eq!(e.kind, SourceErrorKind::Format);
}

#[test]
fn caps_and_the_index_setting() {
    let s3 = indexing(
        "[sources.s3]\nindex = \"logs-{service}-{account}\"\nmax_decompressed_bytes = 2048\n",
    );
    let big = trail(&vec![DENIED; 20].join(","));
    let e = read_all(&s3, "b", TRAIL_KEY, &big).expect_err("over the cap");
    assert_eq!(e.kind, SourceErrorKind::TooLarge);
    assert!(e.message.contains("max_decompressed_bytes"), "{e}");
    let (_, docs) = read_all(&s3, "b", TRAIL_KEY, &trail(DENIED)).expect("small");
    assert_eq!(docs[0].0, "logs-cloudtrail-123456789012");
    let s3 = indexing("[sources.s3]\nmax_object_bytes = 1024\n");
    let e = read_all(&s3, "b", TRAIL_KEY, &vec![b' '; 5000]).expect_err("stored size");
    assert_eq!(e.kind, SourceErrorKind::TooLarge);
    let errs = Config::from_toml(
        "[sources.s3]\nindex = \"x-{log_group}\"\nmax_object_bytes = 1\n",
        &|_| None,
    )
    .expect_err("invalid");
    assert_eq!(errs.len(), 2, "{errs:?}");
    assert!(
        Config::from_toml("[sources.s3]\nenabled = false\n", &|_| None)
            .expect("valid")
            .sources
            .s3
            .is_none()
    );
}

#[test]
fn chunks_stay_near_max_bulk_bytes_and_routes_apply() {
    let s3 =
        indexing("[index]\nmax_bulk_bytes = 65536\nexclude = '{ $.eventName = \"ListUsers\" }'\n");
    let denied: Vec<String> = (0..600)
        .map(|i| DENIED.replace("\"e1\"", &format!("\"e{i}\"")))
        .collect();
    let mut all = denied.clone();
    all.push(r#"{"eventVersion":"1.08","eventTime":"2025-11-26T00:00:00Z","eventSource":"iam.amazonaws.com","eventName":"ListUsers"}"#.into());
    let body = trail(&all.join(","));
    let mut stream = ObjectStream::open(&s3, "b", TRAIL_KEY, "r", &body[..])
        .expect("open")
        .keep_events(true);
    let (mut records, mut filtered, mut docs, mut chunks) = (0, 0, 0, 0);
    while let Some(c) = stream.next_chunk().expect("chunk") {
        chunks += 1;
        records += c.records;
        filtered += c.filtered;
        let bytes: usize = c.bulk.iter().map(|b| b.body.len()).sum();
        assert!(bytes < 65536 + 4096, "{bytes}");
        docs += c.bulk.iter().map(|b| b.ends.len()).sum::<usize>();
        let batch = c.batch.expect("events kept");
        assert_eq!(batch.log_group, "s3://b/cloudtrail");
        assert_eq!(batch.log_events.len(), c.records);
    }
    assert!(chunks > 10, "{chunks}");
    assert_eq!((records, filtered, docs), (601, 1, 600));
}

#[test]
fn lambda_events_and_s3_notifications_are_not_cloudtrail() {
    let s3 = indexing("");
    for body in [
        r#"{"Records":[{"kinesis":{"data":"x"},"eventSource":"aws:kinesis","eventVersion":"1.0","eventName":"aws:kinesis:record"}]}"#,
        r#"{"Records": [{"eventVersion": "2.1", "eventSource" : "aws:s3", "eventName": "ObjectCreated:Put", "s3": {}}]}"#,
        r#"{"Records":[{"messageId":"1","eventSource":"aws:sqs","body":"{\"eventVersion\":1}"}]}"#,
    ] {
        let (detected, _) = read_all(&s3, "b", "copy/event.json", body.as_bytes()).expect(body);
        assert_eq!(detected, Detected::NotALog, "{body}");
    }
}
