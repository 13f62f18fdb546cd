//! What each trigger gets back.

use crate::RetryLater;
use base64::Engine as _;
use cwlogs_decode::{Shape, detect};
use cwlogs_pipeline::ProcessedRecord;
use serde::Serialize;

/// The answer of one invocation, serialised as the trigger expects it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Response<S = crate::InvocationSummary> {
    /// Kinesis (with `ReportBatchItemFailures`): the records to retry; empty when all are done.
    Kinesis {
        /// Records that still need a retry.
        #[serde(rename = "batchItemFailures")]
        batch_item_failures: Vec<BatchItemFailure>,
    },
    /// A Firehose data transformation: one result per input record, in order.
    Firehose {
        /// The transformed records.
        records: Vec<FirehoseRecord>,
    },
    /// A direct (asynchronous) invocation, or a payload invoked by hand: what was done.
    Summary(S),
    /// SQS (with `ReportBatchItemFailures`): the messages to deliver again (their objects
    /// failed with a retryable error, or were not finished before the deadline).
    Sqs {
        /// Messages that still need a retry, by message id.
        #[serde(rename = "batchItemFailures")]
        batch_item_failures: Vec<BatchItemFailure>,
    },
    /// An S3 Batch Operations job: one result per task.
    BatchOperations(BatchOperationsAnswer),
}

/// What an S3 Batch Operations job gets back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchOperationsAnswer {
    /// The invocation's schema version, repeated.
    pub invocation_schema_version: String,
    /// What a task naming a missing key counts as: `PermanentFailure`.
    pub treat_missing_keys_as: &'static str,
    /// The invocation's id, repeated.
    pub invocation_id: String,
    /// One per task, in order.
    pub results: Vec<BatchOperationsResult>,
}

/// One task's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchOperationsResult {
    /// The task's id.
    pub task_id: String,
    /// `Succeeded`, `TemporaryFailure` (Batch Operations tries the task again) or
    /// `PermanentFailure`.
    pub result_code: &'static str,
    /// What happened, for the job's completion report.
    pub result_string: String,
}

/// One Kinesis record to retry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BatchItemFailure {
    /// The record's sequence number.
    #[serde(rename = "itemIdentifier")]
    pub item_identifier: String,
}

/// One record of a Firehose transformation answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FirehoseRecord {
    /// The input record's id.
    #[serde(rename = "recordId")]
    pub record_id: String,
    /// What became of it.
    pub result: FirehoseResult,
    /// Base64 of the transformed bytes (`Ok`), or of the original bytes (`Dropped`,
    /// `ProcessingFailed`, so that Firehose's error output keeps them).
    pub data: String,
}

/// The per-record result values Firehose accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum FirehoseResult {
    /// Transformed: `data` holds the archive's NDJSON lines.
    Ok,
    /// Nothing to deliver: a control message, or every event filtered out.
    Dropped,
    /// Could not be decoded (or did not fit the response): Firehose writes it to its
    /// processing-failed output.
    ProcessingFailed,
}

/// How a handler's delivery ended: the counts with the trigger's answer, or with the error that
/// makes Lambda retry the invocation.
pub(crate) type Delivered<S> = Result<(S, Response<S>), (S, RetryLater)>;

/// The raw data of each record of `bytes` (base64 text as received), for the records a
/// Firehose answer echoes back; empty when `bytes` cannot be read.
pub(crate) fn original_records(bytes: &[u8]) -> Vec<String> {
    detect(bytes)
        .map(|t| {
            t.records
                .iter()
                .map(|r| String::from_utf8_lossy(r.raw()).into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Base64 of `data`, for a Firehose record's `data`.
pub(crate) fn base64(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(data)
}

/// What the trigger gets once each record of `records` (decoded from `bytes`) is settled
/// (`None`) or pending (`Some(why)`): Kinesis the pending records' sequence numbers; a
/// Firehose transformation every record echoed back, `Ok` or `ProcessingFailed`; a direct
/// invocation `summary`, or, while any record is pending, an error ("N of M records
/// {not_done}; ...") that makes Lambda retry the invocation.
pub(crate) fn answer<S: Clone, T>(
    shape: Option<Shape>,
    bytes: &[u8],
    records: &[ProcessedRecord<T>],
    pending: &[Option<String>],
    summary: S,
    not_done: &str,
) -> Delivered<S> {
    let id = |r: &ProcessedRecord<T>| r.id.clone().unwrap_or_default();
    match shape {
        Some(Shape::Kinesis) => {
            let batch_item_failures = records
                .iter()
                .zip(pending)
                .filter(|(_, why)| why.is_some())
                .map(|(r, _)| BatchItemFailure {
                    item_identifier: id(r),
                })
                .collect();
            Ok((
                summary,
                Response::Kinesis {
                    batch_item_failures,
                },
            ))
        }
        Some(Shape::FirehoseTransform) => {
            let mut originals = original_records(bytes).into_iter();
            let records = records
                .iter()
                .zip(pending)
                .map(|(r, why)| FirehoseRecord {
                    record_id: id(r),
                    result: if why.is_some() {
                        FirehoseResult::ProcessingFailed
                    } else {
                        FirehoseResult::Ok
                    },
                    data: originals.next().unwrap_or_default(),
                })
                .collect();
            Ok((summary, Response::Firehose { records }))
        }
        _ => match pending.iter().flatten().next() {
            None => Ok((summary.clone(), Response::Summary(summary))),
            Some(why) => {
                let left = pending.iter().flatten().count();
                let message = format!(
                    "{left} of {} records {not_done}; Lambda will retry the invocation: {why}",
                    records.len()
                );
                Err((summary, RetryLater { message }))
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_shapes() {
        let k: Response = Response::Kinesis {
            batch_item_failures: vec![BatchItemFailure {
                item_identifier: "4959".into(),
            }],
        };
        assert_eq!(
            serde_json::to_string(&k).expect("json"),
            r#"{"batchItemFailures":[{"itemIdentifier":"4959"}]}"#
        );
        let f: Response = Response::Firehose {
            records: vec![FirehoseRecord {
                record_id: "r1".into(),
                result: FirehoseResult::ProcessingFailed,
                data: "eA==".into(),
            }],
        };
        assert_eq!(
            serde_json::to_string(&f).expect("json"),
            r#"{"records":[{"recordId":"r1","result":"ProcessingFailed","data":"eA=="}]}"#
        );
    }
}
