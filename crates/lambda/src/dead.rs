//! Dead letters from any function: written to the archive bucket's dead-letter prefix, with
//! one log line each.

use cwlogs_pipeline::{Archive, DeadLetter, put_dead_letter};
use std::time::{Instant, SystemTime};

/// The name a handler gives the dead letter of one record of an input that `process_input`
/// named `hash`: `{shape}-{name}`, without the input's hash for a record of a multi-record
/// input (`{hash}.record-{record hash}.{ext}` becomes `{shape}-record-{record hash}.{ext}`), so
/// that a partial redelivery, a different input, names it the same.
pub(crate) fn record_name(shape: &str, hash: &str, name: &str) -> String {
    let own = name
        .strip_prefix(hash)
        .and_then(|rest| rest.strip_prefix('.'))
        .unwrap_or(name);
    format!("{shape}-{own}")
}

/// Writes `dead` under `prefix` of `archive` until `until`, logging `DeadLettered` (or
/// `DeadLetterFailed`). On failure, or when there is no archive to write to, returns why the
/// input must stay with the trigger for redelivery.
pub(crate) async fn write<A: Archive>(
    archive: Option<&A>,
    prefix: &str,
    dead: &DeadLetter,
    until: Option<Instant>,
) -> Result<(), String> {
    let now_ms = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let key = dead.keys(prefix, now_ms).0;
    let Some(archive) = archive else {
        tracing::error!(
            event = "DeadLetterFailed",
            key = %key,
            stage = dead.stage,
            error = "no dead-letter bucket: set `[archive] bucket` or CWLOGS_ARCHIVE_BUCKET",
            original_error = %dead.error,
        );
        return Err(format!(
            "{} (kept for redelivery: no dead-letter bucket is configured)",
            dead.error
        ));
    };
    tracing::warn!(
        event = "DeadLettered",
        key = %key,
        stage = dead.stage,
        log_group = dead.log_group.as_deref(),
        error = %dead.error,
    );
    // Boxed: dead letters are rare, and nesting this generic future inline grows the
    // handler's future type past the compiler's layout depth limit.
    let written = Box::pin(put_dead_letter(archive, prefix, dead, now_ms, until)).await;
    written.map_err(|e| {
        tracing::error!(
            event = "DeadLetterFailed",
            key = %key,
            error = %e,
            original_error = %dead.error,
        );
        format!(
            "{} (and its dead letter could not be written: {e})",
            dead.error
        )
    })
}

#[cfg(test)]
mod tests {
    use super::record_name;

    #[test]
    fn record_names_leave_out_the_input_hash() {
        assert_eq!(
            record_name("kinesis", "0a1b", "0a1b.record-77ff.b64"),
            "kinesis-record-77ff.b64"
        );
        // A single-record input's dead letter is the input: its hash stays.
        assert_eq!(record_name("direct", "0a1b", "0a1b"), "direct-0a1b");
    }
}
