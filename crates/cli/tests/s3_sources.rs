//! `cwlogs replay` over logs AWS delivers to S3 (`[sources.s3]`): local copies of CloudTrail,
//! VPC flow log and load balancer objects (and, against moto, `s3://` prefixes of them) give
//! one document per record with the index function's ids; digests are skipped and counted; an
//! object of none of the formats, or a broken one, is a dead letter with its error.

use crate::common::cwlogs;
use cwlogs_testkit::files::tree;
use serde_json::Value;
use std::io::Write as _;
use std::path::Path;

const TRAIL: &str = "AWSLogs/123456789012/CloudTrail/eu-west-1/2025/11/25/123456789012_CloudTrail_eu-west-1_20251125T1000Z_a.json.gz";
const DIGEST: &str = "AWSLogs/123456789012/CloudTrail-Digest/eu-west-1/2025/11/25/123456789012_CloudTrail-Digest_eu-west-1_t_us-east-1_20251125T1000Z.json.gz";
const FLOWS: &str = "AWSLogs/123456789012/vpcflowlogs/eu-west-1/2025/11/25/123456789012_vpcflowlogs_eu-west-1_fl-1_20251125T1000Z_h.log.gz";
const ALB: &str = "AWSLogs/123456789012/elasticloadbalancing/eu-west-1/2025/11/25/123456789012_elasticloadbalancing_eu-west-1_app.web.1_20251125T1000Z_10.0.0.1_x.log.gz";
const BAD_TRAIL: &str = "AWSLogs/123456789012/CloudTrail/eu-west-1/2025/11/25/bad.json.gz";

pub fn gz(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).expect("gzip");
    e.finish().expect("gzip")
}

/// The objects of the tests, by key.
pub fn objects() -> Vec<(&'static str, Vec<u8>)> {
    let record = |i: usize, name: &str, code: &str| {
        format!(
            r#"{{"eventVersion":"1.08","eventTime":"2025-11-25T10:0{i}:00Z","eventSource":"iam.amazonaws.com","eventName":"{name}","sourceIPAddress":"203.0.113.{i}","userIdentity":{{"type":"IAMUser","arn":"arn:aws:iam::123456789012:user/u{i}"}}{code}}}"#
        )
    };
    let trail = format!(
        r#"{{"Records":[{},{},{}]}}"#,
        record(1, "ListUsers", ""),
        record(2, "CreateAccessKey", r#","errorCode":"AccessDenied""#),
        record(3, "GetUser", "")
    );
    let flows = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status\n\
                 2 123456789012 eni-1 10.0.0.1 10.0.0.2 443 49152 6 10 840 1764064800 1764064860 ACCEPT OK\n\
                 2 123456789012 eni-1 10.0.0.3 10.0.0.2 22 49153 6 1 40 1764064801 1764064860 REJECT OK\n";
    let alb = r#"https 2025-11-25T10:00:00.186641Z app/web/1 192.168.1.9:2817 10.0.0.1:80 0.086 0.048 0.037 200 200 0 57 "GET https://www.example.com:443/ HTTP/1.1" "curl/8" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 - "Root=1-5" "www.example.com" "-" 1 2025-11-25T10:00:00.000000Z "forward" "-" "-" "10.0.0.1:80" "200" "-" "-" TID_1"#;
    vec![
        (TRAIL, gz(trail.as_bytes())),
        (
            DIGEST,
            gz(br#"{"awsAccountId":"123456789012","digestStartTime":"x","digestS3Object":"y"}"#),
        ),
        (FLOWS, gz(flows.as_bytes())),
        (ALB, gz(format!("{alb}\n").as_bytes())),
        (BAD_TRAIL, gz(br#"{"Records":{"eventVersion":"1.08"}}"#)),
        ("other/notes.txt", b"just some text\n".to_vec()),
    ]
}

/// Every `_bulk` item of a replay's `index/`, as (index, _id, document).
pub fn documents(out: &Path) -> Vec<(String, String, Value)> {
    let mut docs = Vec::new();
    for (_, bytes) in tree(&out.join("index")) {
        let text = String::from_utf8(bytes).expect("utf-8");
        let lines: Vec<&str> = text.lines().collect();
        for pair in lines.chunks(2) {
            let action: Value = serde_json::from_str(pair[0]).expect("action");
            let doc: Value = serde_json::from_str(pair[1]).expect("document");
            docs.push((
                action["create"]["_index"]
                    .as_str()
                    .expect("index")
                    .to_string(),
                action["create"]["_id"].as_str().expect("id").to_string(),
                doc,
            ));
        }
    }
    docs.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    docs
}

#[test]
fn local_copies_of_s3_logs_are_read_as_their_format() {
    let tmp = tempfile::tempdir().expect("tmp");
    let input = tmp.path().join("in");
    for (key, body) in objects() {
        let path = input.join(key);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, body).expect("write");
    }
    let out = tmp.path().join("out");
    let run = cwlogs(&[
        "replay",
        "--out",
        out.to_str().expect("utf8"),
        input.to_str().expect("utf8"),
    ]);
    // Dead letters are not a failure of the run.
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let summary: Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).expect("summary"))
            .expect("json");
    assert_eq!(summary["inputs"], 6);
    assert_eq!(summary["events"], 3 + 2 + 1, "{summary}");
    assert_eq!(summary["indexed_events"], 6);
    assert_eq!(summary["archived_events"], 0);
    assert_eq!(summary["archive_filtered"], 6);
    assert_eq!(summary["skipped_objects"], 1);
    assert_eq!(summary["dead_lettered"], 2);

    let docs = documents(&out);
    let indices: Vec<&str> = docs.iter().map(|d| d.0.as_str()).collect();
    assert_eq!(
        indices,
        [
            "cwl-s3-cloudtrail-2025.11.25",
            "cwl-s3-cloudtrail-2025.11.25",
            "cwl-s3-cloudtrail-2025.11.25",
            "cwl-s3-elasticloadbalancing-2025.11.25",
            "cwl-s3-vpcflowlogs-2025.11.25",
            "cwl-s3-vpcflowlogs-2025.11.25",
        ]
    );
    let denied = docs
        .iter()
        .find(|d| d.2["aws"]["cloudtrail"]["error_code"] == "AccessDenied")
        .expect("the AccessDenied record");
    assert_eq!(denied.2["event"]["action"], "CreateAccessKey");
    assert_eq!(denied.2["@timestamp"], "2025-11-25T10:02:00.000Z");
    let key = input.join(TRAIL).display().to_string();
    assert_eq!(denied.1, cwlogs_pipeline::doc_id("", &key, "1"));
    assert_eq!(denied.2["aws"]["s3"]["object"]["key"], key.as_str());
    let alb = docs
        .iter()
        .find(|d| d.0.contains("elasticloadbalancing"))
        .expect("alb");
    assert_eq!(alb.2["http"]["response"]["status_code"], 200);
    assert_eq!(alb.2["tls"]["version"], "1.2");

    // The dead letters: the broken CloudTrail file (format) and the text file (not a log).
    let dead = tree(&out.join("dead-letter"));
    let errors: Vec<Value> = dead
        .iter()
        .filter(|(k, _)| k.ends_with(".error.json"))
        .map(|(_, v)| serde_json::from_slice(v).expect("error json"))
        .collect();
    assert_eq!(errors.len(), 2, "{errors:?}");
    let format = errors
        .iter()
        .find(|e| e["stage"] == "format")
        .expect("format error");
    assert!(
        format["error"]
            .as_str()
            .expect("text")
            .contains("`Records` is an object, not an array")
    );
    assert_eq!(format["shape"], "s3-object");

    // A second replay gives the same bytes.
    let again = tmp.path().join("again");
    let run = cwlogs(&[
        "replay",
        "--out",
        again.to_str().expect("utf8"),
        input.to_str().expect("utf8"),
    ]);
    assert!(run.status.success());
    assert!(tree(&out.join("index")) == tree(&again.join("index")));
}

#[test]
fn rules_run_on_cloudtrail_records_read_from_s3_objects() {
    let tmp = tempfile::tempdir().expect("tmp");
    let input = tmp.path().join(TRAIL.rsplit('/').next().expect("name"));
    let trail = objects()
        .into_iter()
        .find(|(k, _)| *k == TRAIL)
        .expect("trail")
        .1;
    std::fs::write(&input, trail).expect("write");
    let config = tmp.path().join("c.toml");
    std::fs::write(
        &config,
        "[[rule]]\nname = \"denied\"\npattern = '{ $.errorCode = \"AccessDenied\" }'\nlog_groups = [\"s3://*/cloudtrail\"]\nmetric = { namespace = \"Security\", name = \"Denied\" }\n",
    )
    .expect("config");
    let out = tmp.path().join("out");
    let run = cwlogs(&[
        "replay",
        "--config",
        config.to_str().expect("utf8"),
        "--out",
        out.to_str().expect("utf8"),
        input.to_str().expect("utf8"),
    ]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let summary: Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).expect("summary"))
            .expect("json");
    assert_eq!(summary["rule_matches"], 1, "{summary}");
}

#[cfg(feature = "integration")]
mod against_moto {
    use super::*;
    use cwlogs_testkit::moto;

    #[test]
    fn s3_prefixes_of_aws_logs_replay_with_the_bucket_in_their_ids() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let c = moto::s3(&rt.block_on(moto::sdk()));
        let bucket = rt.block_on(moto::new_bucket(&c, "awslogs"));
        for (key, body) in objects() {
            rt.block_on(
                c.put_object()
                    .bucket(&bucket)
                    .key(key)
                    .body(body.into())
                    .send(),
            )
            .expect("put");
        }
        let tmp = tempfile::tempdir().expect("tmp");
        let out = tmp.path().join("out");
        let url = format!("s3://{bucket}/AWSLogs/");
        let run = cwlogs(&["replay", "--out", out.to_str().expect("utf8"), &url]);
        assert!(
            run.status.success(),
            "{}",
            String::from_utf8_lossy(&run.stderr)
        );
        let docs = documents(&out);
        assert_eq!(docs.len(), 6);
        let first_trail = docs
            .iter()
            .find(|d| d.2["event"]["action"] == "ListUsers")
            .expect("record 0");
        assert_eq!(first_trail.1, cwlogs_pipeline::doc_id(&bucket, TRAIL, "0"));
        assert_eq!(
            first_trail.2["aws"]["s3"]["bucket"]["name"],
            bucket.as_str()
        );
        let summary: Value =
            serde_json::from_slice(&std::fs::read(out.join("summary.json")).expect("summary"))
                .expect("json");
        assert_eq!(summary["skipped_objects"], 1);
        assert_eq!(summary["dead_lettered"], 1, "the broken trail file");

        // The dead letter the index function keeps of an object (a notification naming it):
        // replayed, the object is read from S3, with the index function's ids.
        let o = cwlogs_pipeline::sources::ObjectRef {
            bucket: bucket.clone(),
            key: TRAIL.to_string(),
            version_id: None,
            etag: None,
            size: None,
        };
        let letter = tmp.path().join("dead").join(o.dead_letter_name());
        std::fs::create_dir_all(letter.parent().expect("dir")).expect("mkdir");
        std::fs::write(&letter, o.notification()).expect("write");
        let again = tmp.path().join("again");
        let run = cwlogs(&[
            "replay",
            "--out",
            again.to_str().expect("utf8"),
            letter.to_str().expect("utf8"),
        ]);
        assert!(
            run.status.success(),
            "{}",
            String::from_utf8_lossy(&run.stderr)
        );
        let redone = documents(&again);
        assert_eq!(redone.len(), 3, "the trail's three records");
        let ids: Vec<&str> = redone.iter().map(|d| d.1.as_str()).collect();
        for pos in 0..3 {
            assert!(
                ids.contains(&cwlogs_pipeline::doc_id(&bucket, TRAIL, &pos.to_string()).as_str())
            );
        }
        // A notification for an object that is gone: a dead letter again, saying so.
        let gone = cwlogs_pipeline::sources::ObjectRef {
            key: "AWSLogs/123456789012/CloudTrail/eu-west-1/2025/11/25/gone.json.gz".into(),
            ..o
        };
        std::fs::write(&letter, gone.notification()).expect("write");
        let third = tmp.path().join("third");
        let run = cwlogs(&[
            "replay",
            "--out",
            third.to_str().expect("utf8"),
            letter.to_str().expect("utf8"),
        ]);
        assert!(
            run.status.success(),
            "{}",
            String::from_utf8_lossy(&run.stderr)
        );
        let errors: Vec<Value> = tree(&third.join("dead-letter"))
            .into_iter()
            .filter(|(k, _)| k.ends_with(".error.json"))
            .map(|(_, v)| serde_json::from_slice(&v).expect("json"))
            .collect();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0]["stage"], "s3-gone", "{errors:?}");
    }
}
