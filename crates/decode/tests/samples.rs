//! Decoding the shipped samples in every transport shape, a differential check against
//! `aws_lambda_events`, and "never panics" properties.

use cwlogs_decode::{Limits, LogBatch, MessageType, Shape, Stage, detect};
use cwlogs_testkit::events::sample_bytes as sample;
use proptest::prelude::*;

/// Per record: its batches as (log group, events, type), or the failing stage.
type Decoded = Vec<Result<Vec<(String, usize, MessageType)>, Stage>>;

/// Decodes every record; returns per record either its batches' (group, events, type) or the
/// failing stage.
fn decode_all(input: &[u8]) -> Result<(Shape, Decoded), Stage> {
    let trigger = detect(input).map_err(|e| e.stage())?;
    let out = trigger
        .records
        .iter()
        .map(|r| {
            let payload = r.decompress(&Limits::default()).map_err(|e| e.stage())?;
            let batches = payload.batches().map_err(|e| e.stage())?;
            Ok(batches
                .iter()
                .map(|b: &LogBatch<'_>| {
                    (b.log_group.to_string(), b.log_events.len(), b.message_type)
                })
                .collect())
        })
        .collect();
    Ok((trigger.shape, out))
}

#[test]
fn every_transport_shape() {
    type Case = (&'static str, Shape, &'static [(&'static str, usize)]);
    let cases: &[Case] = &[
        (
            "direct/cloudtrail.json",
            Shape::Direct,
            &[("aws-cloudtrail-logs-123456789012", 8)],
        ),
        (
            "direct/app-json.json",
            Shape::Direct,
            &[("/ecs/checkout-prod", 5)],
        ),
        (
            "direct/lambda-runtime.json",
            Shape::Direct,
            &[("/aws/lambda/payments-prod", 7)],
        ),
        (
            "direct/vpc-flow.json",
            Shape::Direct,
            &[("vpc-flow-logs", 4)],
        ),
        (
            "direct/apache-access.json",
            Shape::Direct,
            &[("/ecs/frontend/apache-access", 4)],
        ),
        (
            "direct/account-policy.json",
            Shape::Direct,
            &[("/aws/lambda/inventory-prod", 1)],
        ),
        (
            "kinesis/fanout.json",
            Shape::Kinesis,
            &[
                ("aws-cloudtrail-logs-123456789012", 3),
                ("/aws/lambda/payments-prod", 3),
                ("", 1),
            ],
        ),
        (
            "firehose/transform.json",
            Shape::FirehoseTransform,
            &[
                ("vpc-flow-logs", 2),
                ("/ecs/frontend/apache-access", 2),
                ("", 1),
            ],
        ),
        (
            "firehose/http-endpoint.json",
            Shape::FirehoseHttp,
            &[("/ecs/checkout-prod", 2)],
        ),
        (
            "raw/apache-access.json.gz",
            Shape::Gzip,
            &[("/ecs/frontend/apache-access", 4)],
        ),
    ];
    for (file, shape, expected) in cases {
        let (got_shape, records) =
            decode_all(&sample(file)).unwrap_or_else(|s| panic!("{file}: {s}"));
        assert_eq!(got_shape, *shape, "{file}");
        let got: Vec<(String, usize)> = records
            .into_iter()
            .flat_map(|r| r.unwrap_or_else(|s| panic!("{file}: {s}")))
            .map(|(g, n, _)| (g, n))
            .collect();
        let want: Vec<(String, usize)> =
            expected.iter().map(|(g, n)| (g.to_string(), *n)).collect();
        assert_eq!(got, want, "{file}");
    }
}

#[test]
fn control_messages_and_policy_level() {
    let (_, recs) = decode_all(&sample("direct/control-message.json")).expect("decode");
    assert_eq!(recs[0].as_ref().expect("ok")[0].2, MessageType::Control);

    let input = sample("direct/account-policy.json");
    let t = detect(&input).expect("detect");
    let p = t.records[0]
        .decompress(&Limits::default())
        .expect("decompress");
    let b = p.batches().expect("batches");
    assert_eq!(b[0].policy_level.as_deref(), Some("ACCOUNT_LEVEL_POLICY"));
}

#[test]
fn regions_come_from_the_transport() {
    let input = sample("kinesis/fanout.json");
    let t = detect(&input).expect("detect");
    assert!(
        t.records
            .iter()
            .all(|r| r.region.as_deref() == Some("eu-west-1"))
    );
    assert!(
        t.records[0]
            .id
            .as_deref()
            .is_some_and(|s| s.starts_with("4959"))
    );
    let input = sample("firehose/transform.json");
    let t = detect(&input).expect("detect");
    assert_eq!(t.records[1].region.as_deref(), Some("eu-west-1"));
    assert_eq!(
        t.records[1].id.as_deref(),
        Some("49546986683135544286507457936321625675700192471156785155")
    );
}

#[test]
fn broken_inputs_name_their_stage() {
    let whole: &[(&str, Stage)] = &[
        ("broken/empty.json", Stage::Input),
        ("broken/garbage.bin", Stage::Input),
        ("broken/wrong-shape.json", Stage::Envelope),
    ];
    for (file, stage) in whole {
        assert_eq!(decode_all(&sample(file)).expect_err(file), *stage, "{file}");
    }
    let per_record: &[(&str, Stage)] = &[
        ("broken/not-base64.json", Stage::Base64),
        ("broken/not-gzip.json", Stage::Gzip),
        ("broken/truncated-gzip.json", Stage::Gzip),
        ("broken/gzip-bomb.json.gz", Stage::Gzip),
        ("broken/not-json.json", Stage::Json),
        ("broken/mistyped-fields.json", Stage::Envelope),
        ("broken/empty-log-events.json", Stage::Envelope),
    ];
    for (file, stage) in per_record {
        let (_, recs) = decode_all(&sample(file)).unwrap_or_else(|s| panic!("{file}: {s}"));
        assert_eq!(recs.len(), 1, "{file}");
        assert_eq!(recs[0].as_ref().expect_err(file), stage, "{file}");
    }
    let (_, recs) = decode_all(&sample("broken/kinesis-one-bad-record.json")).expect("detect");
    assert!(recs[0].is_ok());
    assert_eq!(recs[1].as_ref().expect_err("bad record"), &Stage::Base64);
}

/// Error texts name the stage once and say what was tried (issue 24): valid base64 that is not
/// gzip says it was base64-decoded; a mistyped envelope field is not `envelope: envelope: ...`.
#[test]
fn error_texts_say_what_was_tried() {
    let error = |input: &[u8]| {
        let t = detect(input).expect("detect");
        let e = match t.records[0].decompress(&Limits::default()) {
            Ok(p) => p.batches().expect_err("bad payload"),
            Err(e) => e,
        };
        (t.shape, e.to_string())
    };
    // A long line of letters is valid base64 text, so it is read as such.
    let (shape, e) = error(&vec![b'a'; 1 << 20]);
    assert_eq!(shape, Shape::Base64Text);
    assert_eq!(
        e,
        "gzip: base64-decoded, but the result is not gzip (it starts with 69 a6, not 1f 8b)"
    );
    let (_, e) = error(&sample("broken/not-gzip.json"));
    assert!(
        e.starts_with("gzip: base64-decoded, but the result is not gzip (it starts with "),
        "{e}"
    );
    let (_, e) = error(&sample("broken/mistyped-fields.json"));
    assert!(
        e.starts_with(
            "envelope: invalid type: string \"yesterday\", expected i64 at line 1 column "
        ) && e.ends_with(" of the decompressed payload (log group /aws/lambda/x)"),
        "{e}"
    );
    let e = detect(b"{\"awslogs\": 7}")
        .expect_err("mistyped event")
        .to_string();
    assert!(
        e.starts_with(
            "envelope: invalid type: integer `7`, expected struct AwsLogs at line 1 column "
        ) && e.ends_with(" of the Lambda event"),
        "{e}"
    );
}

#[test]
fn errors_name_record_and_log_group() {
    let input = sample("broken/kinesis-one-bad-record.json");
    let t = detect(&input).expect("detect");
    let err = t.records[1]
        .decompress(&Limits::default())
        .expect_err("bad");
    assert_eq!(
        err.record(),
        Some("49590338271490256608559692538361571095921575989136588999")
    );
    assert!(
        err.to_string().starts_with("base64: invalid base64"),
        "{err}"
    );

    let input = sample("broken/empty-log-events.json");
    let t = detect(&input).expect("detect");
    let p = t.records[0].decompress(&Limits::default()).expect("gunzip");
    let err = p.batches().expect_err("no events");
    assert_eq!(err.log_group(), Some("/aws/lambda/empty"));
}

#[test]
fn gzip_cap_is_configurable() {
    let input = sample("direct/cloudtrail.json");
    let t = detect(&input).expect("detect");
    let err = t.records[0]
        .decompress(&Limits {
            max_decompressed: 100,
        })
        .expect_err("cap");
    assert_eq!(err.stage(), Stage::Gzip);
}

/// The same bytes through `aws_lambda_events`' CloudWatch Logs types give the same batch.
#[test]
fn differential_against_aws_lambda_events() {
    use aws_lambda_events::event::cloudwatch_logs::LogsEvent;
    for file in [
        "direct/cloudtrail.json",
        "direct/app-json.json",
        "direct/lambda-runtime.json",
        "direct/vpc-flow.json",
        "direct/apache-access.json",
        "direct/account-policy.json",
        "direct/control-message.json",
    ] {
        let input = sample(file);
        let theirs: LogsEvent = serde_json::from_slice(&input).expect("aws_lambda_events");
        let t = detect(&input).expect("detect");
        let p = t.records[0]
            .decompress(&Limits::default())
            .expect("decompress");
        let ours = p.batches().expect("batches");
        let ours = &ours[0];
        let d = &theirs.aws_logs.data;
        assert_eq!(d.owner, ours.owner, "{file}");
        assert_eq!(d.log_group, ours.log_group, "{file}");
        assert_eq!(d.log_stream, ours.log_stream, "{file}");
        assert_eq!(d.subscription_filters, ours.subscription_filters, "{file}");
        let mt = serde_json::to_value(ours.message_type).expect("message type");
        assert_eq!(mt.as_str(), Some(d.message_type.as_str()), "{file}");
        assert_eq!(d.log_events.len(), ours.log_events.len(), "{file}");
        for (a, b) in d.log_events.iter().zip(&ours.log_events) {
            assert_eq!(
                (a.id.as_str(), a.timestamp, a.message.as_str()),
                (&*b.id, b.timestamp, &*b.message)
            );
        }
    }
}

fn decode_never_panics(bytes: &[u8]) {
    if let Ok(t) = detect(bytes) {
        for r in &t.records {
            if let Ok(p) = r.decompress(&Limits {
                max_decompressed: 1 << 20,
            }) {
                let _ = p.batches();
            }
        }
    }
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        decode_never_panics(&bytes);
    }

    #[test]
    fn mutated_samples_never_panic(idx in 0usize..4, flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8), cut in any::<usize>()) {
        let files = ["direct/cloudtrail.json", "kinesis/fanout.json", "firehose/transform.json", "raw/apache-access.json.gz"];
        let mut bytes = sample(files[idx]);
        for (at, x) in flips {
            let n = bytes.len();
            bytes[at % n] ^= x;
        }
        let n = bytes.len();
        bytes.truncate(cut % (n + 1));
        decode_never_panics(&bytes);
    }
}
