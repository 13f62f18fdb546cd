//! Shape detection: which transport delivered the input, and its records.

use crate::envelope::{LogBatch, parse_payload};
use crate::error::{DecodeError, Stage, from_json};
use crate::gunzip::{gunzip, is_gzip};
use base64::Engine as _;
use serde::Deserialize;
use std::borrow::Cow;

/// How a CloudWatch Logs payload reached us, told by the input's shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Shape {
    /// A direct Lambda subscription: `{"awslogs": {"data": "<base64 gzip>"}}`.
    Direct,
    /// A Kinesis Data Streams Lambda event: `Records[].kinesis.data`.
    Kinesis,
    /// A Firehose data-transformation Lambda event: `records[]` with `recordId` and `data`.
    FirehoseTransform,
    /// A Firehose HTTP-endpoint delivery request: `requestId`, `timestamp`, `records[].data`.
    FirehoseHttp,
    /// A raw gzip payload (what `awslogs.data` base64-decodes to, an S3 object, a capture), or
    /// a cwlogs archive object.
    Gzip,
    /// The base64 text of a gzip payload, as found in `awslogs.data` or a dead letter.
    Base64Text,
    /// An uncompressed envelope (`{"messageType": ...}`), as printed by debugging tools.
    Envelope,
}

impl Shape {
    /// A short stable name (`direct`, `kinesis`, `firehose-transform`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Shape::Direct => "direct",
            Shape::Kinesis => "kinesis",
            Shape::FirehoseTransform => "firehose-transform",
            Shape::FirehoseHttp => "firehose-http",
            Shape::Gzip => "gzip",
            Shape::Base64Text => "base64",
            Shape::Envelope => "envelope",
        }
    }
}

/// Limits applied while decoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The most bytes one record may decompress to. Default 64 MiB; CloudWatch Logs batches
    /// are at most about 1 MB compressed.
    pub max_decompressed: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_decompressed: 64 << 20,
        }
    }
}

/// The bytes of one record as delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordData<'a> {
    /// Base64 text (the `data` field of every Lambda trigger).
    Base64(Cow<'a, str>),
    /// Raw gzip bytes.
    Gzip(&'a [u8]),
    /// An uncompressed envelope.
    Json(&'a [u8]),
}

/// One record of a trigger: one subscription payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record<'a> {
    /// The transport's id for the record: the Kinesis sequence number or the Firehose
    /// `recordId`; `None` where the transport has none.
    pub id: Option<Cow<'a, str>>,
    /// The region, where the transport says it (Kinesis `awsRegion`, Firehose ARN or `region`).
    pub region: Option<Cow<'a, str>>,
    /// The payload as delivered.
    pub data: RecordData<'a>,
}

impl Record<'_> {
    /// The record's payload exactly as delivered (the base64 text, or the raw bytes): what a dead
    /// letter keeps.
    pub fn raw(&self) -> &[u8] {
        match &self.data {
            RecordData::Base64(s) => s.as_bytes(),
            RecordData::Gzip(b) | RecordData::Json(b) => b,
        }
    }

    /// Decodes the record into its decompressed payload (base64 and gunzip, as the shape needs).
    pub fn decompress(&self, limits: &Limits) -> Result<Payload, DecodeError> {
        let result = match &self.data {
            RecordData::Base64(text) => decode_base64(text)
                .and_then(|bytes| {
                    if is_gzip(&bytes) {
                        gunzip(&bytes, limits.max_decompressed)
                    } else {
                        Err(not_gzip_after_base64(&bytes))
                    }
                })
                .map(|bytes| Payload { bytes }),
            RecordData::Gzip(bytes) => {
                gunzip(bytes, limits.max_decompressed).map(|bytes| Payload { bytes })
            }
            RecordData::Json(bytes) => Ok(Payload {
                bytes: bytes.to_vec(),
            }),
        };
        result.map_err(|e| match &self.id {
            Some(id) => e.with_record(id.to_string()),
            None => e,
        })
    }
}

/// The error for base64 text that decodes fine to something that is not gzip: says what was
/// tried, so that text which merely looks like base64 (a line of letters) is not reported as
/// if it had been given as gzip.
fn not_gzip_after_base64(bytes: &[u8]) -> DecodeError {
    let starts = match bytes {
        [] => "it is empty".to_string(),
        [a] => format!("it is the one byte {a:02x}"),
        [a, b, ..] => format!("it starts with {a:02x} {b:02x}, not 1f 8b"),
    };
    DecodeError::new(
        Stage::Gzip,
        format!("base64-decoded, but the result is not gzip ({starts})"),
    )
}

fn decode_base64(text: &str) -> Result<Vec<u8>, DecodeError> {
    base64::engine::general_purpose::STANDARD
        .decode(text.trim_ascii())
        .map_err(|e| DecodeError::new(Stage::Base64, format!("invalid base64: {e}")))
}

/// A decompressed payload. Parse it with [`Payload::batches`]; the batches borrow from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payload {
    bytes: Vec<u8>,
}

impl Payload {
    /// Wraps bytes that are already decompressed.
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Payload { bytes }
    }

    /// The decompressed bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Parses the envelope(s), or the lines of a cwlogs archive object.
    pub fn batches(&self) -> Result<Vec<LogBatch<'_>>, DecodeError> {
        parse_payload(&self.bytes)
    }
}

/// A decoded trigger: the shape and its records, borrowing from the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trigger<'a> {
    /// How the payloads arrived.
    pub shape: Shape,
    /// The records, in delivery order.
    pub records: Vec<Record<'a>>,
}

#[derive(Deserialize)]
struct Outer<'a> {
    #[serde(borrow)]
    awslogs: Option<AwsLogs<'a>>,
    #[serde(rename = "Records", borrow)]
    kinesis_records: Option<Vec<KinesisRecord<'a>>>,
    #[serde(borrow)]
    records: Option<Vec<FirehoseRecord<'a>>>,
    #[serde(rename = "invocationId")]
    invocation_id: Option<serde::de::IgnoredAny>,
    #[serde(rename = "requestId")]
    request_id: Option<serde::de::IgnoredAny>,
    #[serde(rename = "deliveryStreamArn", borrow)]
    delivery_stream_arn: Option<Cow<'a, str>>,
    #[serde(borrow)]
    region: Option<Cow<'a, str>>,
    #[serde(rename = "messageType")]
    message_type: Option<serde::de::IgnoredAny>,
}

#[derive(Deserialize)]
struct AwsLogs<'a> {
    #[serde(borrow)]
    data: Cow<'a, str>,
}

#[derive(Deserialize)]
struct KinesisRecord<'a> {
    #[serde(borrow)]
    kinesis: KinesisData<'a>,
    #[serde(rename = "awsRegion", borrow)]
    aws_region: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct KinesisData<'a> {
    #[serde(borrow)]
    data: Cow<'a, str>,
    #[serde(borrow)]
    sequence_number: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FirehoseRecord<'a> {
    #[serde(borrow)]
    data: Cow<'a, str>,
    #[serde(borrow)]
    record_id: Option<Cow<'a, str>>,
}

/// The region named in an ARN (`arn:aws:firehose:eu-west-1:...`).
fn arn_region(arn: &str) -> Option<&str> {
    arn.split(':').nth(3).filter(|r| !r.is_empty())
}

/// Detects the shape of `input` and splits it into records, without decoding the payloads.
///
/// Fails (stage `input`, `json` or `envelope`) only when the input as a whole is unusable; a bad
/// record surfaces later, from [`Record::decompress`] or [`Payload::batches`], so the other
/// records of the same trigger still go through.
pub fn detect(input: &[u8]) -> Result<Trigger<'_>, DecodeError> {
    let trimmed = input.trim_ascii();
    if trimmed.is_empty() {
        return Err(DecodeError::new(Stage::Input, "empty input"));
    }
    if is_gzip(input) {
        return Ok(single(Shape::Gzip, RecordData::Gzip(input)));
    }
    if trimmed[0] != b'{' {
        let is_b64 = trimmed
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='));
        if is_b64 && trimmed.len().is_multiple_of(4) {
            // Only ASCII bytes, so this cannot fail; the error arm keeps it panic-free.
            let text = std::str::from_utf8(trimmed)
                .map_err(|e| DecodeError::new(Stage::Input, e.to_string()))?;
            return Ok(single(Shape::Base64Text, RecordData::Base64(text.into())));
        }
        return Err(DecodeError::new(
            Stage::Input,
            "not a recognised input: neither a JSON Lambda event, gzip, nor base64 text",
        ));
    }
    let outer: Outer<'_> =
        serde_json::from_slice(input).map_err(|e| from_json(&e, "the Lambda event"))?;
    if outer.message_type.is_some() {
        return Ok(single(Shape::Envelope, RecordData::Json(input)));
    }
    if let Some(awslogs) = outer.awslogs {
        return Ok(single(Shape::Direct, RecordData::Base64(awslogs.data)));
    }
    if let Some(records) = outer.kinesis_records {
        let records = records
            .into_iter()
            .map(|r| Record {
                id: r.kinesis.sequence_number,
                region: r.aws_region,
                data: RecordData::Base64(r.kinesis.data),
            })
            .collect();
        return Ok(Trigger {
            shape: Shape::Kinesis,
            records,
        });
    }
    if let Some(records) = outer.records {
        let shape = if outer.invocation_id.is_some() || outer.delivery_stream_arn.is_some() {
            Shape::FirehoseTransform
        } else if outer.request_id.is_some() {
            Shape::FirehoseHttp
        } else {
            return Err(DecodeError::new(
                Stage::Envelope,
                "`records` without `invocationId` (Firehose transformation) or `requestId` (Firehose HTTP endpoint)",
            ));
        };
        let region = outer.region.clone().or_else(|| {
            outer
                .delivery_stream_arn
                .as_deref()
                .and_then(arn_region)
                .map(|r| Cow::Owned(r.to_string()))
        });
        let records = records
            .into_iter()
            .map(|r| Record {
                id: r.record_id,
                region: region.clone(),
                data: RecordData::Base64(r.data),
            })
            .collect();
        return Ok(Trigger { shape, records });
    }
    Err(DecodeError::new(
        Stage::Envelope,
        "unknown event shape: expected `awslogs`, `Records` (Kinesis), `records` (Firehose) or `messageType`",
    ))
}

fn single(shape: Shape, data: RecordData<'_>) -> Trigger<'_> {
    Trigger {
        shape,
        records: vec![Record {
            id: None,
            region: None,
            data,
        }],
    }
}
