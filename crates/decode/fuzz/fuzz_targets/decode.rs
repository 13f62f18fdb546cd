//! Decoding never panics, at every layer: the transport shapes, base64, gunzip (under a size cap
//! taken from the input) and the envelope.
//!
//! The first byte of the input picks the mode; the rest is the body:
//!
//! - bits 0-2 = 0: the body is the input as delivered (any bytes): detect, decompress, parse.
//! - bits 0-2 = 1..=7: the body is a *decompressed payload* (an envelope, archive lines, or
//!   anything). The target gzips it (7: as two gzip members), base64-encodes it and wraps it in
//!   a transport shape (1 direct, 2 Kinesis with two records, 3 Firehose transformation,
//!   4 Firehose HTTP endpoint, 5 raw gzip, 6 base64 text, 7 Kinesis again), so that the fuzzer
//!   reaches the envelope parser through every layer instead of having to forge gzip CRCs.
//!   Then: `detect` gives the expected shape and record count, and every record decompresses to
//!   the body exactly (or fails at stage `gzip` when the body is over the cap).
//! - bits 3-6: the decompression cap, `128 << n` bytes (128 B .. 2 MiB).
//! - bit 7: in JSON shapes, write `/` in the base64 text as `\/` (a JSON escape: the record's
//!   text is then owned, not borrowed).
//!
//! Every batch parsed from a CloudWatch envelope (not from archive lines) that is a data
//! message has an owner, a log group, a log stream and at least one event.
#![no_main]

use base64::Engine as _;
use cwlogs_decode::{DecodeError, Limits, MessageType, Shape, Stage, detect};
use flate2::{Compression, write::GzEncoder};
use libfuzzer_sys::fuzz_target;
use std::io::Write;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, body)) = data.split_first() else {
        return;
    };
    let limits = Limits {
        max_decompressed: 128 << ((mode >> 3) & 0x0f),
    };
    match mode & 7 {
        0 => as_delivered(body, &limits),
        shape => wrapped(shape, mode & 0x80 != 0, body, &limits),
    }
});

/// Any input, as a Lambda trigger or a file would hand it over.
fn as_delivered(input: &[u8], limits: &Limits) {
    let Ok(trigger) = detect(input) else {
        return;
    };
    for record in &trigger.records {
        let _ = record.raw();
        match record.decompress(limits) {
            Ok(payload) => {
                assert!(payload.bytes().len() <= limits.max_decompressed);
                check_batches(&payload);
            }
            Err(e) => {
                let _ = e.to_string();
            }
        }
    }
}

fn gzip(parts: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    for part in parts {
        let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
        gz.write_all(part).expect("write to a Vec");
        out.extend(gz.finish().expect("finish a gzip member"));
    }
    out
}

/// `body` as the decompressed payload of every record of a trigger of shape `shape`.
fn wrapped(shape: u8, escape_slashes: bool, body: &[u8], limits: &Limits) {
    let gz = if shape == 7 {
        let (a, b) = body.split_at(body.len() / 2);
        gzip(&[a, b])
    } else {
        gzip(&[body])
    };
    let b64 = base64::engine::general_purpose::STANDARD.encode(&gz);
    let text = if escape_slashes {
        b64.replace('/', "\\/")
    } else {
        b64.clone()
    };
    let (input, expect_shape, expect_records): (Vec<u8>, Shape, usize) = match shape {
        1 => (
            format!(r#"{{"awslogs":{{"data":"{text}"}}}}"#).into_bytes(),
            Shape::Direct,
            1,
        ),
        2 | 7 => (
            format!(
                r#"{{"Records":[{{"kinesis":{{"data":"{text}","sequenceNumber":"1"}},"awsRegion":"eu-west-1"}},{{"kinesis":{{"data":"{text}"}}}}]}}"#
            )
            .into_bytes(),
            Shape::Kinesis,
            2,
        ),
        3 => (
            format!(
                r#"{{"invocationId":"i","deliveryStreamArn":"arn:aws:firehose:eu-west-1:123456789012:deliverystream/s","records":[{{"recordId":"r1","data":"{text}"}}]}}"#
            )
            .into_bytes(),
            Shape::FirehoseTransform,
            1,
        ),
        4 => (
            format!(r#"{{"requestId":"q","timestamp":1,"records":[{{"data":"{text}"}}]}}"#)
                .into_bytes(),
            Shape::FirehoseHttp,
            1,
        ),
        5 => (gz, Shape::Gzip, 1),
        _ => (b64.into_bytes(), Shape::Base64Text, 1),
    };
    let trigger = detect(&input).unwrap_or_else(|e| panic!("{expect_shape:?} not detected: {e}"));
    assert_eq!(trigger.shape, expect_shape);
    assert_eq!(trigger.records.len(), expect_records);
    for record in &trigger.records {
        match record.decompress(limits) {
            Ok(payload) => {
                assert_eq!(payload.bytes(), body, "the payload changed on the way");
                check_batches(&payload);
            }
            Err(e) => {
                assert!(
                    body.len() > limits.max_decompressed && e.stage() == Stage::Gzip,
                    "a {} byte payload under a {} byte cap failed: {e}",
                    body.len(),
                    limits.max_decompressed
                );
            }
        }
    }
}

fn check_batches(payload: &cwlogs_decode::Payload) {
    let batches = match payload.batches() {
        Ok(b) => b,
        Err(e) => {
            check_error(&e);
            return;
        }
    };
    for b in &batches {
        // Archive lines carry their region; CloudWatch envelopes do not and are validated.
        if b.region.is_none() && b.message_type == MessageType::Data {
            assert!(!b.owner.is_empty() && !b.log_group.is_empty() && !b.log_stream.is_empty());
            assert!(!b.log_events.is_empty());
        }
        let header = b.clone_header();
        assert!(header.log_events.is_empty());
        assert_eq!(header.log_group, b.log_group);
    }
}

fn check_error(e: &DecodeError) {
    assert!(matches!(e.stage(), Stage::Json | Stage::Envelope), "{e}");
    let _ = e.to_string();
}
