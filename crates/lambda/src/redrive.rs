//! Dead letters that re-drive themselves (the index function's, and the archive function's):
//! a scheduled invocation (`{"cwlogs_redrive": {...}}`, EventBridge Scheduler's input) lists
//! the dead-letter prefix, delivers again those whose cause can pass and whose time has come
//! (`cwlogs_pipeline::sink::redrive`: exponential backoff, at most `max_attempts`), deletes
//! each one that now goes through, and keeps the new error and the next attempt's time in the
//! error file of each that does not. It also reports how many dead letters the bucket holds
//! and the age of the oldest (self-metrics `DeadLettersStored`, `DeadLetterOldestAgeSeconds`:
//! the alarm's metric). `cwlogs replay s3://BUCKET/dead-letter/` stays the manual path.

use crate::dead_letter::DeadLetterBucket;
use crate::handler::Invocation;
use crate::summary::RedriveCounts;
use cwlogs_pipeline::sink::redrive::{Due, RedrivePolicy, due, failed, raw_key};
use cwlogs_pipeline::{Archive, Object};
use serde_json::Value;
use std::time::Instant;

/// The longest listing read by one run.
const MAX_LISTED: usize = 100_000;

/// One re-drive run over `bucket`'s dead letters of `stages`, delivering each due one with
/// `redeliver` (its raw bytes; `Ok` when everything in them is now delivered, else why not).
pub(crate) async fn run<A: Archive>(
    bucket: &DeadLetterBucket<A>,
    stages: &[&str],
    policy: &RedrivePolicy,
    input: &Invocation<'_>,
    mut redeliver: impl AsyncFnMut(Vec<u8>) -> Result<(), String>,
) -> RedriveCounts {
    let mut counts = RedriveCounts::default();
    let Some(archive) = bucket.archive() else {
        return counts;
    };
    let now_ms = input.now_ms();
    let until = input.budget.send_until;
    let prefix = format!("{}/", bucket.prefix());
    let listed = match archive.list(&prefix, MAX_LISTED, until).await {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!(event = "RedriveListFailed", error = %e);
            return counts;
        }
    };
    let errors: Vec<_> = listed
        .iter()
        .filter(|l| l.key.ends_with(".error.json"))
        .collect();
    counts.stored = errors.len();
    counts.oldest_age_ms = errors
        .iter()
        .map(|l| l.last_modified_ms)
        .filter(|&t| t > 0)
        .min()
        .map_or(0, |oldest| (now_ms - oldest).max(0) as u64);
    for listed in errors {
        let past = |until: Option<Instant>| until.is_some_and(|u| Instant::now() >= u);
        let Ok(bytes) = archive.get(&listed.key, until).await else {
            continue;
        };
        let Ok(error) = serde_json::from_slice::<Value>(&bytes) else {
            continue;
        };
        let stage = error.get("stage").and_then(Value::as_str).unwrap_or("");
        if !stages.contains(&stage) {
            continue;
        }
        let attempt = match due(&error, now_ms, policy) {
            Due::Now { attempt } => attempt,
            Due::Later(_) => {
                counts.waiting += 1;
                continue;
            }
            Due::Never(_) => continue,
        };
        if counts.attempted >= policy.per_run || past(until) {
            counts.left += 1;
            continue;
        }
        let Some(raw_key) = raw_key(&listed.key) else {
            continue;
        };
        counts.attempted += 1;
        let outcome = match archive.get(raw_key, until).await {
            Ok(raw) => redeliver(raw).await,
            Err(e) => Err(format!("the dead letter's bytes could not be read: {e}")),
        };
        match outcome {
            Ok(()) => {
                // The error file last: a dead letter without one is never re-driven again.
                let deleted = match archive.delete(raw_key, until).await {
                    Ok(()) => archive.delete(&listed.key, until).await,
                    Err(e) => Err(e),
                };
                match deleted {
                    Ok(()) => counts.delivered += 1,
                    Err(e) => {
                        tracing::warn!(event = "RedriveDeleteFailed", key = %listed.key, error = %e)
                    }
                }
            }
            Err(why) => {
                let after = failed(&error, attempt, &why, now_ms, policy);
                if after["redrive"]["exhausted"] == Value::Bool(true) {
                    counts.exhausted += 1;
                } else {
                    counts.failed += 1;
                }
                let mut body = serde_json::to_vec_pretty(&after).unwrap_or_default();
                body.push(b'\n');
                let object = Object {
                    key: &listed.key,
                    body: &body,
                    content_type: "application/json",
                    content_encoding: None,
                };
                if let Err(e) = archive.put(object, until).await {
                    tracing::warn!(event = "RedriveUpdateFailed", key = %listed.key, error = %e);
                }
            }
        }
    }
    if let Some(function) = std::env::var("AWS_LAMBDA_FUNCTION_NAME")
        .ok()
        .filter(|f| !f.is_empty())
    {
        let line = crate::self_metrics::self_metrics_line(
            &function,
            now_ms,
            &[
                ("DeadLettersStored", counts.stored as u64),
                ("DeadLetterOldestAgeSeconds", counts.oldest_age_ms / 1000),
                ("DeadLettersRedriven", counts.delivered as u64),
                (
                    "DeadLettersRedriveFailed",
                    (counts.failed + counts.exhausted) as u64,
                ),
            ],
        );
        println!("{line}");
    }
    counts
}
