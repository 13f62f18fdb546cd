//! What each trigger gets back.

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
