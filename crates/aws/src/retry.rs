//! The one retry loop every sink uses: attempt, classify, back off, stop in time.

use cwlogs_pipeline::sink::{MIN_ATTEMPT, jitter};
use cwlogs_pipeline::{Backoff, Class, SendError};
use std::future::Future;
use std::time::{Duration, Instant};

/// What is left of the time before `deadline`, by the monotonic clock: how long an attempt
/// may still take. With [`with_retry`]'s retry decision, the one place this crate reads the
/// time for a deadline.
pub(crate) fn time_left(deadline: Instant) -> Duration {
    deadline.saturating_duration_since(Instant::now())
}

/// Runs `attempt` until it succeeds, fails for good, runs out of attempts, or `deadline` is
/// too near for another try. Each attempt is cut off at `deadline`, so a slow response cannot
/// hold the caller past it; a cut-off attempt counts as retryable (the input is kept). No
/// retry starts with less than [`MIN_ATTEMPT`] left.
pub async fn with_retry<T, F, Fut>(
    backoff: &Backoff,
    deadline: Option<Instant>,
    mut attempt: F,
) -> Result<T, SendError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, SendError>>,
{
    let mut n = 0;
    loop {
        n += 1;
        let result = match deadline {
            None => attempt().await,
            Some(d) => match tokio::time::timeout(time_left(d), attempt()).await {
                Ok(r) => r,
                Err(_) => Err(SendError {
                    class: Class::Retry,
                    message: format!(
                        "no answer before the deadline (attempt {n}); the input is kept for redelivery"
                    ),
                }),
            },
        };
        let error = match result {
            Ok(v) => return Ok(v),
            Err(e) => e,
        };
        let delay = backoff.delay(n, jitter());
        if !backoff.should_retry(&error, n, delay, Instant::now(), deadline, MIN_ATTEMPT) {
            return Err(if n > 1 {
                SendError {
                    message: format!("{} (after {n} attempts)", error.message),
                    ..error
                }
            } else {
                error
            });
        }
        tracing::debug!(attempt = n, delay_ms = delay.as_millis() as u64, error = %error, "retrying");
        tokio::time::sleep(delay).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn fast() -> Backoff {
        Backoff {
            base: Duration::from_millis(1),
            cap: Duration::from_millis(5),
            max_attempts: 4,
        }
    }

    fn err(class: Class) -> SendError {
        SendError {
            class,
            message: "boom".into(),
        }
    }

    #[tokio::test]
    async fn retries_until_success() {
        let calls = AtomicU32::new(0);
        let r = with_retry(&fast(), None, || async {
            if calls.fetch_add(1, Ordering::SeqCst) < 2 {
                Err(err(Class::Retry))
            } else {
                Ok(7)
            }
        })
        .await;
        assert_eq!(r, Ok(7));
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn gives_up_on_rejects_and_after_the_budget() {
        let calls = AtomicU32::new(0);
        let r: Result<(), _> = with_retry(&fast(), None, || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(err(Class::Reject))
        })
        .await;
        assert_eq!(r.map_err(|e| e.class), Err(Class::Reject));
        assert_eq!(calls.load(Ordering::SeqCst), 1);

        calls.store(0, Ordering::SeqCst);
        let r: Result<(), _> = with_retry(&fast(), None, || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(err(Class::Retry))
        })
        .await;
        let e = r.expect_err("retryable to the end");
        assert!(e.is_retryable() && e.message.ends_with("(after 4 attempts)"));
        assert_eq!(calls.load(Ordering::SeqCst), 4);
    }

    #[tokio::test]
    async fn a_slow_attempt_is_cut_at_the_deadline() {
        let started = Instant::now();
        let deadline = Some(started + Duration::from_millis(150));
        let r: Result<(), _> = with_retry(&fast(), deadline, || async {
            tokio::time::sleep(Duration::from_secs(30)).await;
            Ok(())
        })
        .await;
        let e = r.expect_err("cut off");
        assert!(e.is_retryable() && e.message.contains("deadline"), "{e}");
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
