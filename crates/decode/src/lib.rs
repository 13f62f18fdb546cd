//! Decode what CloudWatch Logs subscriptions deliver.
//!
//! A subscription hands its data over in one of several shapes: directly to Lambda
//! (`{"awslogs": {"data": ...}}`), through Kinesis Data Streams (`Records[].kinesis.data`),
//! through a Firehose transformation (`records[].data` with `recordId`) or a Firehose HTTP
//! endpoint (`requestId`, `records[].data`), or as a raw gzip payload (an S3 object, a capture).
//! Every shape carries the same payload: base64 of a gzip of a JSON envelope
//! (`messageType`, `owner`, `logGroup`, `logStream`, `subscriptionFilters`, `logEvents`).
//!
//! Decoding happens in three steps so that one bad record never sinks its neighbours:
//!
//! 1. [`detect`] tells the shape and splits the input into [`Record`]s, borrowing the base64
//!    text from the input;
//! 2. [`Record::decompress`] base64-decodes and gunzips one record, under a size cap;
//! 3. [`Payload::batches`] parses the envelope(s) into [`LogBatch`]es whose strings borrow from
//!    the decompressed bytes wherever they contain no JSON escapes.
//!
//! ```
//! use cwlogs_decode::{detect, Limits, MessageType, Shape};
//! # use std::io::Write;
//! # let envelope = br#"{"messageType":"DATA_MESSAGE","owner":"123456789012","logGroup":"/aws/lambda/app","logStream":"2024/06/01/[$LATEST]abc","subscriptionFilters":["all"],"logEvents":[{"id":"1","timestamp":1717200000000,"message":"hello"}]}"#;
//! # let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
//! # gz.write_all(envelope).unwrap();
//! # let gz = gz.finish().unwrap();
//! # use base64::Engine as _;
//! # let event = format!(r#"{{"awslogs":{{"data":"{}"}}}}"#, base64::engine::general_purpose::STANDARD.encode(&gz));
//! let trigger = detect(event.as_bytes())?;
//! assert_eq!(trigger.shape, Shape::Direct);
//! for record in &trigger.records {
//!     let payload = record.decompress(&Limits::default())?;
//!     for batch in payload.batches()? {
//!         assert_eq!(batch.message_type, MessageType::Data);
//!         assert_eq!(batch.log_group, "/aws/lambda/app");
//!         assert_eq!(batch.log_events[0].message, "hello");
//!     }
//! }
//! # Ok::<(), cwlogs_decode::DecodeError>(())
//! ```
//!
//! Besides CloudWatch's own shapes, the decoder reads the base64 text of a payload on its own,
//! an uncompressed envelope, and the gzip NDJSON objects cwlogs archives ([`ArchiveRecord`]), so
//! that archives and dead letters can be replayed.
//!
//! # Input safety
//!
//! - Gunzip output is capped per record ([`Limits::max_decompressed`], default 64 MiB); the
//!   pre-allocated buffer is bounded by the cap and by deflate's maximum ratio, never by the
//!   untrusted gzip trailer alone.
//! - JSON nesting is bounded by `serde_json`'s recursion limit (128); the envelope's shape is
//!   fixed, so deeper input is an error, never a stack overflow.
//! - Nothing here panics on any input; the `decode` fuzz target and the property tests check it.
//! - The caller bounds the size of the whole input (the CLI caps files; Lambda caps events).
//!
//! # Errors
//!
//! Every [`DecodeError`] names the [`Stage`] that failed (`input`, `base64`, `gzip`, `json`,
//! `envelope`) and, when known, the record and the log group.

mod envelope;
mod error;
mod gunzip;
mod transport;

pub use envelope::{ArchiveRecord, LogBatch, LogEvent, MessageType, parse_payload};
pub use error::{DecodeError, Stage};
pub use gunzip::{GZIP_MAGIC, gunzip, is_gzip};
pub use transport::{Limits, Payload, Record, RecordData, Shape, Trigger, detect};
