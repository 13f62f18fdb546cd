//! Dead letters that re-drive themselves: which ones may (their cause can pass: a destination
//! refused or was down), when (exponential backoff from the last attempt), how many times
//! (at most `max_attempts`, then they stay with their last error), and the bookkeeping, kept in
//! the dead letter's own error file (`redrive`: attempts, the next attempt's time, whether it
//! gave up). Pure; the functions list, read, re-deliver and delete.

use serde_json::{Value, json};

/// The stages whose dead letters may pass on a later try: the cluster refused documents
/// (`index`), S3 refused an archive object (`s3`) or an object to read (`s3-get`: access
/// denied, a KMS key, an archived object), SNS refused an alert (`sns`). Undecodable input,
/// broken or deleted objects never pass.
pub const REDRIVABLE: [&str; 4] = ["index", "s3", "s3-get", "sns"];

/// Whether dead letters of `stage` are re-driven.
pub fn redrivable(stage: &str) -> bool {
    REDRIVABLE.contains(&stage)
}

/// How dead letters are re-driven (the schedule's event may set each).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RedrivePolicy {
    /// Attempts in all; then the dead letter stays with its last error (default 5).
    pub max_attempts: u32,
    /// The wait after the first failed re-drive, doubling after each (default 15 minutes).
    pub base_ms: i64,
    /// The longest wait (default 24 hours).
    pub cap_ms: i64,
    /// The most dead letters re-driven by one run (default 100): the rest wait for the next.
    pub per_run: usize,
}

impl Default for RedrivePolicy {
    fn default() -> Self {
        RedrivePolicy {
            max_attempts: 5,
            base_ms: 15 * 60_000,
            cap_ms: 24 * 3_600_000,
            per_run: 100,
        }
    }
}

impl RedrivePolicy {
    /// Reads a re-drive request: `{"cwlogs_redrive": {...}}` (any of `max_attempts`,
    /// `base_minutes`, `cap_minutes`, `per_run`, each bounded), as a scheduled event's input;
    /// `None` for any other event.
    pub fn request(bytes: &[u8]) -> Option<RedrivePolicy> {
        if bytes.len() > 4096 || memchr::memmem::find(bytes, b"cwlogs_redrive").is_none() {
            return None;
        }
        let v: Value = serde_json::from_slice(bytes).ok()?;
        let r = v.get("cwlogs_redrive")?;
        let mut p = RedrivePolicy::default();
        let int = |k: &str| r.get(k).and_then(Value::as_u64);
        if let Some(n) = int("max_attempts") {
            p.max_attempts = n.clamp(1, 100) as u32;
        }
        if let Some(n) = int("base_minutes") {
            p.base_ms = n.clamp(1, 7 * 24 * 60) as i64 * 60_000;
        }
        if let Some(n) = int("cap_minutes") {
            p.cap_ms = n.clamp(1, 30 * 24 * 60) as i64 * 60_000;
        }
        if let Some(n) = int("per_run") {
            p.per_run = n.clamp(1, 10_000) as usize;
        }
        Some(p)
    }

    /// The wait after `attempts` failed re-drives.
    pub fn wait_ms(&self, attempts: u32) -> i64 {
        let doubled = self
            .base_ms
            .saturating_mul(1i64 << attempts.saturating_sub(1).min(30));
        doubled.min(self.cap_ms)
    }
}

/// What to do with one dead letter now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Due {
    /// Re-drive it: this will be attempt number `attempt` (1-based).
    Now {
        /// The attempt's number.
        attempt: u32,
    },
    /// Not yet: its next attempt is at this time (ms since the epoch).
    Later(i64),
    /// Never: its cause cannot pass (`stage` not [`REDRIVABLE`]), or its attempts are used up.
    Never(&'static str),
}

/// Whether the dead letter whose error file is `error` is due at `now_ms`.
pub fn due(error: &Value, now_ms: i64, policy: &RedrivePolicy) -> Due {
    let stage = error.get("stage").and_then(Value::as_str).unwrap_or("");
    if !redrivable(stage) {
        return Due::Never("its cause cannot pass by trying again");
    }
    let r = error.get("redrive");
    let attempts = r
        .and_then(|r| r.get("attempts"))
        .and_then(Value::as_u64)
        .unwrap_or(0) as u32;
    if r.and_then(|r| r.get("exhausted")).and_then(Value::as_bool) == Some(true)
        || attempts >= policy.max_attempts
    {
        return Due::Never("its re-drive attempts are used up");
    }
    match r.and_then(|r| r.get("next_at_ms")).and_then(Value::as_i64) {
        Some(next) if next > now_ms => Due::Later(next),
        _ => Due::Now {
            attempt: attempts + 1,
        },
    }
}

/// The error file after re-drive attempt `attempt` failed with `why` at `now_ms`: the error is
/// the new one (the first kept as `first_error`), the next attempt scheduled, or the dead letter
/// marked exhausted. The rest of the file is kept as it was.
pub fn failed(
    error: &Value,
    attempt: u32,
    why: &str,
    now_ms: i64,
    policy: &RedrivePolicy,
) -> Value {
    let mut out = error.clone();
    let Some(obj) = out.as_object_mut() else {
        return out;
    };
    if !obj.contains_key("first_error") {
        let first = obj.get("error").cloned().unwrap_or(Value::Null);
        obj.insert("first_error".into(), first);
    }
    obj.insert("error".into(), json!(why));
    let exhausted = attempt >= policy.max_attempts;
    let mut r = json!({
        "attempts": attempt,
        "last_attempt_ms": now_ms,
        "exhausted": exhausted,
    });
    if !exhausted {
        r["next_at_ms"] = json!(now_ms + policy.wait_ms(attempt));
    }
    obj.insert("redrive".into(), r);
    out
}

/// The raw dead letter's key of the error file `error_key` (`name.error.json` -> `name`).
pub fn raw_key(error_key: &str) -> Option<&str> {
    error_key.strip_suffix(".error.json")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_and_bookkeeping() {
        let p = RedrivePolicy::default();
        let e =
            json!({"stage": "index", "error": "403 cluster_block_exception", "input": "lambda:r"});
        assert_eq!(due(&e, 0, &p), Due::Now { attempt: 1 });
        let after = failed(&e, 1, "still blocked", 1_000, &p);
        assert_eq!(after["first_error"], "403 cluster_block_exception");
        assert_eq!(after["error"], "still blocked");
        assert_eq!(after["input"], "lambda:r");
        assert_eq!(after["redrive"]["next_at_ms"], 1_000 + 15 * 60_000);
        assert_eq!(due(&after, 2_000, &p), Due::Later(1_000 + 15 * 60_000));
        assert_eq!(
            due(&after, 1_000 + 15 * 60_000, &p),
            Due::Now { attempt: 2 }
        );
        let later = failed(&after, 2, "again", 5_000_000, &p);
        assert_eq!(later["first_error"], "403 cluster_block_exception");
        assert_eq!(later["redrive"]["next_at_ms"], 5_000_000 + 30 * 60_000);
        let last = failed(&later, 5, "gave up", 9_000_000, &p);
        assert_eq!(last["redrive"]["exhausted"], true);
        assert!(last["redrive"].get("next_at_ms").is_none());
        assert_eq!(
            due(&last, i64::MAX, &p),
            Due::Never("its re-drive attempts are used up")
        );
        for stage in [
            "gzip",
            "input",
            "format",
            "s3-gone",
            "size",
            "notification",
            "",
        ] {
            let e = json!({"stage": stage});
            assert!(matches!(due(&e, 0, &p), Due::Never(_)), "{stage}");
        }
        assert_eq!(p.wait_ms(30), p.cap_ms);
        assert_eq!(
            raw_key("dead-letter/dt=2025-11-25/x.json.error.json"),
            Some("dead-letter/dt=2025-11-25/x.json")
        );
    }

    #[test]
    fn requests() {
        assert_eq!(
            RedrivePolicy::request(br#"{"cwlogs_redrive":{}}"#),
            Some(RedrivePolicy::default())
        );
        let p = RedrivePolicy::request(
            br#"{"cwlogs_redrive":{"max_attempts":3,"base_minutes":1,"per_run":0}}"#,
        )
        .expect("a request");
        assert_eq!((p.max_attempts, p.base_ms, p.per_run), (3, 60_000, 1));
        assert_eq!(RedrivePolicy::request(br#"{"awslogs":{"data":"x"}}"#), None);
        assert_eq!(RedrivePolicy::request(b"{\"cwlogs_redrive\": 1"), None);
    }
}
