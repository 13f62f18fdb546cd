//! What the alert path keeps in the [`StateStore`] per window, pending list and rate bucket,
//! and the conditional updates that change it.
/// The state of one rule, group and window.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(super) struct WindowState {
    pub(super) group: Vec<String>,
    pub(super) window_start: i64,
    pub(super) count: u64,
    /// Events sent (or being sent) individually.
    pub(super) sent: u64,
    /// Events refused individually by the rate limit.
    pub(super) rate_limited: u64,
    /// Events reported by summaries so far.
    pub(super) reported: u64,
    pub(super) first_ms: i64,
    pub(super) last_ms: i64,
    pub(super) log_groups: Vec<String>,
    pub(super) samples: Vec<AlertEvent>,
    pub(super) batches: Vec<String>,
    pub(super) alerted: Vec<String>,
    /// Whether the window is on its rule's pending list.
    pub(super) listed: bool,
}

use super::*;

impl WindowState {
    pub(super) fn unreported(&self) -> u64 {
        self.count.saturating_sub(self.sent + self.reported)
    }
}

/// A rule's windows waiting for a summary: `(window key, window end ms)`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(super) struct PendingState {
    pub(super) windows: Vec<(String, i64)>,
}

/// A rule's token bucket.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(super) struct RateState {
    pub(super) tokens: f64,
    pub(super) at_ms: i64,
    /// Events suppressed since `since_ms` and not reported yet.
    pub(super) suppressed: u64,
    pub(super) since_ms: i64,
}

/// Suppressed events to report in the next message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Suppressed {
    pub(super) count: u64,
    pub(super) since_ms: i64,
}

pub(super) fn window_key(rule: &str, group: &[String], start: i64) -> String {
    format!(
        "w#{rule}#{}#{start}",
        short_hash(group.join("\u{1f}").as_bytes())
    )
}

pub(super) fn contention(key: &str) -> SendError {
    SendError {
        class: Class::Retry,
        message: format!("alert state `{key}`: too many concurrent updates; will retry"),
    }
}

/// Reads `key`, lets `f` compute the new state and a result, and writes it if nobody wrote in
/// between (else reads again). `f` returns `None` as the state when nothing needs writing.
pub(crate) async fn update<S, T, R>(
    store: &S,
    key: &str,
    expires_at: i64,
    deadline: Option<Instant>,
    mut f: impl FnMut(Option<T>) -> (Option<T>, R),
) -> Result<R, SendError>
where
    S: StateStore,
    T: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
{
    let in_place = |cur: &mut Option<T>| {
        let (next, result) = f(cur.clone());
        let changed = next.is_some();
        if changed {
            *cur = next;
        }
        (changed, result)
    };
    update_in_place(store, key, expires_at, deadline, in_place).await
}

/// [`update`] with `f` changing the state where it lies and saying whether it did (it must
/// leave the state as it was when it says no): a store in memory then copies nothing
/// ([`StateStore::update_value`]).
pub(crate) async fn update_in_place<S, T, R>(
    store: &S,
    key: &str,
    expires_at: i64,
    deadline: Option<Instant>,
    mut f: impl FnMut(&mut Option<T>) -> (bool, R),
) -> Result<R, SendError>
where
    S: StateStore,
    T: Serialize + DeserializeOwned + Send + Sync + 'static,
{
    if let Some(result) = store.update_value(key, &mut f) {
        return Ok(result);
    }
    for _ in 0..MAX_ATTEMPTS {
        let current = store.get(key, deadline).await?;
        // A state that does not parse (written by another version) starts afresh.
        let mut state = current
            .as_ref()
            .and_then(|v| serde_json::from_str::<T>(&v.value).ok());
        let (changed, result) = f(&mut state);
        let Some(next) = state.filter(|_| changed) else {
            return Ok(result);
        };
        let text = serde_json::to_string(&next).map_err(|e| SendError {
            class: Class::Reject,
            message: format!("alert state `{key}` cannot be written: {e}"),
        })?;
        let expected = current.map(|v| v.version);
        match store
            .put(StateWrite::new(key, &text, expected, expires_at), deadline)
            .await
        {
            Ok(true) => return Ok(result),
            Ok(false) => {}
            Err(e) => {
                // The write may have been stored with its answer lost (and the store's own
                // retries lost too): read it back. Taking a stored write for a failed one
                // would hand the record back with the state already claimed, and the
                // redelivery would take its batch for done and never send its alerts.
                let mine = expected.map_or(1, |v| v.saturating_add(1));
                return match store.get(key, deadline).await {
                    Ok(Some(v)) if v.version == mine && v.value == text => Ok(result),
                    _ => Err(e),
                };
            }
        }
    }
    Err(contention(key))
}

pub(super) fn topic_of<'a>(rule: &'a AlertRule, options: &'a AlertOptions) -> &'a str {
    options
        .topic
        .as_deref()
        .or(rule.topic.as_deref())
        .unwrap_or_default()
}

/// Gives back occurrence `o`'s claim in window `key` after `e` stopped its alerts: its batches
/// and count, and the slots of the alerts in `unsent`, so that the redelivery counts it again
/// and sends them. By `options.undo_deadline`, later than the send deadline that may have
/// passed. Returns `e` (or the error that kept the claim from being given back).
pub(super) async fn give_back<S: StateStore>(
    store: &S,
    key: &str,
    expires: i64,
    o: &Occurrences,
    unsent: &[String],
    options: &AlertOptions,
    e: SendError,
) -> Result<(), SendError> {
    let deadline = options.undo_deadline.or(options.deadline);
    update(store, key, expires, deadline, |cur: Option<WindowState>| {
        let Some(mut st) = cur else {
            return (None, ());
        };
        st.batches.retain(|b| !o.batches.contains(b));
        st.count = st.count.saturating_sub(o.count);
        st.sent = st.sent.saturating_sub(unsent.len() as u64);
        st.alerted.retain(|a| !unsent.contains(a));
        (Some(st), ())
    })
    .await?;
    Err(e)
}

pub(super) async fn add_pending<S: StateStore>(
    rule: &Rule,
    key: &str,
    window_end: i64,
    store: &S,
    options: &AlertOptions,
) -> Result<(), SendError> {
    let expires = options.now_ms / 1000 + 30 * 86_400;
    update_in_place(
        store,
        &format!("p#{}", rule.name),
        expires,
        options.deadline,
        |cur: &mut Option<PendingState>| {
            // The end first: it lies in the list itself, while each key is a separate
            // allocation, and a rule's windows of one end are few. (A key listed with another
            // end, by a rule whose window changed since, is listed again: its window is then
            // claimed twice, and the second claim finds nothing left to report.)
            if cur.as_ref().is_some_and(|st| {
                st.windows
                    .iter()
                    .any(|(k, end)| *end == window_end && k == key)
            }) {
                return (false, ());
            }
            let st = cur.get_or_insert_with(PendingState::default);
            st.windows.push((key.to_string(), window_end));
            let extra = st.windows.len().saturating_sub(MAX_PENDING);
            st.windows.drain(..extra);
            (true, ())
        },
    )
    .await
}

/// Takes up to `wanted` tokens from the rule's bucket; returns how many were granted and,
/// when some were and earlier events had been suppressed, that report (reset).
pub(super) async fn take_tokens<S: StateStore>(
    rule: &Rule,
    alert: &AlertRule,
    wanted: u64,
    store: &S,
    options: &AlertOptions,
) -> Result<(u64, Option<Suppressed>), SendError> {
    let burst = f64::from(alert.rate.burst);
    let interval = alert.rate.interval_ms as f64;
    let now = options.now_ms;
    let expires = (now + alert.rate.interval_ms) / 1000 + 86_400;
    update(
        store,
        &format!("r#{}", rule.name),
        expires,
        options.deadline,
        |cur: Option<RateState>| {
            let mut st = cur.unwrap_or(RateState {
                tokens: burst,
                at_ms: now,
                suppressed: 0,
                since_ms: 0,
            });
            let elapsed = (now - st.at_ms).max(0) as f64;
            st.tokens = (st.tokens + elapsed * burst / interval).min(burst);
            st.at_ms = st.at_ms.max(now);
            let granted = (st.tokens.floor().max(0.0) as u64).min(wanted);
            st.tokens -= granted as f64;
            let mut report = None;
            if granted > 0 && st.suppressed > 0 {
                report = Some(Suppressed {
                    count: st.suppressed,
                    since_ms: st.since_ms,
                });
                st.suppressed = 0;
            }
            if granted < wanted {
                if st.suppressed == 0 {
                    st.since_ms = now;
                }
                st.suppressed += wanted - granted;
            }
            (Some(st), (granted, report))
        },
    )
    .await
}

/// Takes the rule's unreported rate-limit suppressions (for a summary).
pub(super) async fn take_suppressed<S: StateStore>(
    rule: &Rule,
    alert: &AlertRule,
    store: &S,
    options: &AlertOptions,
) -> Result<Option<Suppressed>, SendError> {
    let expires = (options.now_ms + alert.rate.interval_ms) / 1000 + 86_400;
    update(
        store,
        &format!("r#{}", rule.name),
        expires,
        options.deadline,
        |cur: Option<RateState>| match cur {
            Some(mut st) if st.suppressed > 0 => {
                let s = Suppressed {
                    count: st.suppressed,
                    since_ms: st.since_ms,
                };
                st.suppressed = 0;
                (Some(st), Some(s))
            }
            _ => (None, None),
        },
    )
    .await
}
