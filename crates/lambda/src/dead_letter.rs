//! Dead letters from any function: written to the archive bucket's dead-letter prefix, with
//! one log line each.

use cwlogs_pipeline::{Archive, Config, DeadLetter, SendError, put_dead_letter};
use std::time::Instant;

/// The dead-letter prefix when the configuration has no `[archive]` section.
const DEFAULT_PREFIX: &str = "dead-letter";

/// Why a dead letter was not written: the input it holds must stay with the trigger for
/// redelivery. The message starts with the dead letter's own error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum DeadLetterError {
    /// The function has no bucket to write dead letters to.
    #[error("{error} (kept for redelivery: no dead-letter bucket is configured)")]
    NoBucket {
        /// The dead letter's error.
        error: String,
    },
    /// The bucket refused the dead letter, or kept failing until the deadline.
    #[error("{error} (and its dead letter could not be written: {cause})")]
    NotWritten {
        /// The dead letter's error.
        error: String,
        /// Why the write failed.
        cause: SendError,
    },
}

/// Where a handler's dead letters go: under `prefix` of `archive`, or nowhere when there is no
/// archive (then every dead letter fails with [`DeadLetterError::NoBucket`]).
#[derive(Debug)]
pub(crate) struct DeadLetters<'a, A> {
    /// The bucket, when there is one.
    pub archive: Option<&'a A>,
    /// The key prefix (`[archive] dead_letter_prefix`).
    pub prefix: &'a str,
}

/// A handler's own dead-letter bucket, kept from cold start: the archive (or none) and the
/// prefix.
#[derive(Debug)]
pub(crate) struct DeadLetterBucket<A> {
    archive: Option<A>,
    prefix: String,
}

impl<A> DeadLetterBucket<A> {
    /// Dead letters to `archive` under the prefix `config` sets ([`prefix`]).
    pub(crate) fn new(archive: Option<A>, config: &Config) -> Self {
        DeadLetterBucket {
            archive,
            prefix: prefix(config).to_string(),
        }
    }

    /// The bucket, when there is one.
    pub(crate) fn archive(&self) -> Option<&A> {
        self.archive.as_ref()
    }

    /// The key prefix.
    pub(crate) fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Where the dead letters go, for [`DeadLetters::write`].
    pub(crate) fn destination(&self) -> DeadLetters<'_, A> {
        DeadLetters {
            archive: self.archive.as_ref(),
            prefix: &self.prefix,
        }
    }
}

/// The dead-letter prefix `config` sets (`[archive] dead_letter_prefix`), else `dead-letter`.
pub(crate) fn prefix(config: &Config) -> &str {
    config
        .archive
        .as_ref()
        .map_or(DEFAULT_PREFIX, |a| a.dead_letter_prefix.as_str())
}

impl<A: Archive> DeadLetters<'_, A> {
    /// Writes `dead` until `until`, dated `now_ms` (milliseconds since the epoch: the day is
    /// part of the key), logging `DeadLettered` (or `DeadLetterFailed`).
    pub(crate) async fn write(
        &self,
        dead: &DeadLetter,
        now_ms: i64,
        until: Option<Instant>,
    ) -> Result<(), DeadLetterError> {
        let key = dead.keys(self.prefix, now_ms).0;
        let Some(archive) = self.archive else {
            tracing::error!(
                event = "DeadLetterFailed",
                key = %key,
                stage = dead.stage,
                error = "no dead-letter bucket: set `[archive] bucket` or CWLOGS_ARCHIVE_BUCKET",
                original_error = %dead.error,
            );
            return Err(DeadLetterError::NoBucket {
                error: dead.error.clone(),
            });
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
        let written = Box::pin(put_dead_letter(archive, self.prefix, dead, now_ms, until)).await;
        written.map_err(|cause| {
            tracing::error!(
                event = "DeadLetterFailed",
                key = %key,
                error = %cause,
                original_error = %dead.error,
            );
            DeadLetterError::NotWritten {
                error: dead.error.clone(),
                cause,
            }
        })
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;
    use cwlogs_pipeline::{Class, MemoryArchive};

    #[test]
    fn record_names_leave_out_the_input_hash() {
        assert_eq!(
            record_name("kinesis", "0a1b", "0a1b.record-77ff.b64"),
            "kinesis-record-77ff.b64"
        );
        // A single-record input's dead letter is the input: its hash stays.
        assert_eq!(record_name("direct", "0a1b", "0a1b"), "direct-0a1b");
    }

    #[test]
    fn the_errors_say_what_became_of_the_input() {
        let none = DeadLetterError::NoBucket {
            error: "bad gzip".into(),
        };
        assert_eq!(
            none.to_string(),
            "bad gzip (kept for redelivery: no dead-letter bucket is configured)"
        );
        let refused = DeadLetterError::NotWritten {
            error: "bad gzip".into(),
            cause: SendError {
                class: Class::Reject,
                message: "AccessDenied".into(),
            },
        };
        assert_eq!(
            refused.to_string(),
            "bad gzip (and its dead letter could not be written: AccessDenied)"
        );
    }

    #[tokio::test]
    async fn no_archive_keeps_the_input() {
        let dead = DeadLetter::unread("x.bin".into(), "test".into(), "unreadable".into());
        let nowhere = DeadLetters::<MemoryArchive> {
            archive: None,
            prefix: "dl",
        };
        assert!(matches!(
            nowhere.write(&dead, 0, None).await,
            Err(DeadLetterError::NoBucket { .. })
        ));
        let archive = MemoryArchive::new();
        let bucket = DeadLetters {
            archive: Some(&archive),
            prefix: "dl",
        };
        // 2024-02-29: the key's day is the one given, not today's.
        bucket
            .write(&dead, 1_709_164_800_000, None)
            .await
            .expect("written");
        let keys: Vec<String> = archive.objects().into_keys().collect();
        assert_eq!(keys, ["dl/dt=2024-02-29/x.bin.error.json"]);
    }
}
