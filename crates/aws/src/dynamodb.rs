//! The DynamoDB state store: alert windows, pending summaries and rate-limit buckets shared by
//! every concurrent invocation.

use crate::error::send_error;
use crate::retry::with_retry;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};
use cwlogs_pipeline::sink::classify::Service;
use cwlogs_pipeline::sink::jitter;
use cwlogs_pipeline::{Backoff, Class, SendError, StateStore, StateWrite, Versioned};
use std::collections::HashMap;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// The partition key: the state key, as given.
const PK: &str = "pk";
/// The version, a number incremented by every successful write (1 for the first).
const VERSION: &str = "v";
/// The state, as JSON text.
const STATE: &str = "state";
/// When the item may be forgotten, in seconds since the epoch: the table's TTL attribute.
const EXPIRES_AT: &str = "expires_at";
/// A random token naming the write that stored the item, so that a write retried after an
/// answer that never came recognizes itself when its condition then fails.
const WRITER: &str = "w";

/// A [`StateStore`] on one DynamoDB table: optimistic concurrency with conditional writes, so
/// that concurrent invocations (and containers) share alert windows and counters safely.
///
/// # Table layout
///
/// One item per key; the table is created by the stack (SAM / CDK), not here:
///
/// | attribute | type | meaning |
/// | --- | --- | --- |
/// | `pk` | S | the partition key (no sort key): the state key |
/// | `v` | N | the version: 1 for the first write, then one more for each |
/// | `state` | S | the state, as JSON text |
/// | `expires_at` | N | seconds since the epoch: the table's TTL attribute |
/// | `w` | S | a random token naming the write that stored the item |
///
/// Billing on demand (`PAY_PER_REQUEST`) suits the bursty load; no index is needed. With the
/// AWS CLI:
///
/// ```text
/// aws dynamodb create-table --table-name cwlogs-alerts \
///   --attribute-definitions AttributeName=pk,AttributeType=S \
///   --key-schema AttributeName=pk,KeyType=HASH --billing-mode PAY_PER_REQUEST
/// aws dynamodb update-time-to-live --table-name cwlogs-alerts \
///   --time-to-live-specification Enabled=true,AttributeName=expires_at
/// ```
///
/// The function's role needs `dynamodb:GetItem` and `dynamodb:PutItem` on the table.
///
/// # Semantics
///
/// - `get` is a `GetItem` with `ConsistentRead`, so a read sees every write acknowledged
///   before it. An item whose `expires_at` has passed counts as absent: DynamoDB deletes
///   expired items lazily (typically within days), and until then they are still returned.
/// - `put` is a `PutItem` of the whole item with the condition
///   `attribute_not_exists(pk) OR expires_at < :now` when no version is expected (no item, or
///   only an expired one), else `v = :expected AND expires_at >= :now` (the version read, and
///   not expired since). A failed condition (`ConditionalCheckFailedException`) is
///   `Ok(false)`, not an error: someone else wrote first, read again.
/// - A write whose answer was lost (timeout, dropped connection, 5xx) is retried; if the lost
///   attempt had in fact been stored, the retry's condition fails, and the item returned with
///   the failure (`ReturnValuesOnConditionCheckFailure = ALL_OLD`) carries this write's own
///   token in `w`: the write is reported done (`Ok(true)`), not as lost to another writer.
/// - `expires_at` is compared with this machine's clock, in whole seconds.
///
/// Other failures are retried through [`with_retry`] as [`cwlogs_pipeline::sink::classify`]
/// decides for [`Service::DynamoDb`]; the error names the table, the key, the DynamoDB error
/// code and what to check. Items are at most 400 KB (DynamoDB's own limit); an item without a
/// numeric `v` and a string `state` is refused with an error rather than overwritten.
#[derive(Debug, Clone)]
pub struct DynamoStateStore {
    client: Client,
    table: String,
    backoff: Backoff,
}

impl DynamoStateStore {
    /// A store on `table`, on `sdk`'s configuration (region, credentials, endpoint, HTTPS
    /// client).
    pub fn new(sdk: &aws_config::SdkConfig, table: &str) -> Self {
        DynamoStateStore {
            client: Client::new(sdk),
            table: table.to_string(),
            backoff: Backoff::default(),
        }
    }

    /// The same store with another retry schedule.
    pub fn with_backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// The table's name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// How errors name the item: `table T, pk "K"`.
    fn target(&self, key: &str) -> String {
        format!("table {}, pk {key:?}", self.table)
    }

    async fn get_once(&self, key: &str) -> Result<Option<Versioned>, SendError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(PK, AttributeValue::S(key.to_string()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| send_error(Service::DynamoDb, "GetItem", &self.target(key), &e))?;
        let Some(item) = out.item() else {
            return Ok(None);
        };
        read_item(item, now_secs()).map_err(|why| SendError {
            class: Class::Reject,
            message: format!(
                "DynamoDB GetItem {}: not a cwlogs state item: {why} -- the table must hold \
                 only cwlogs alert state (`v` N, `state` S, `expires_at` N)",
                self.target(key)
            ),
        })
    }

    async fn put_once(&self, write: StateWrite<'_>, token: &str) -> Result<bool, SendError> {
        let StateWrite {
            key,
            value,
            expected,
            expires_at,
        } = write;
        let version = expected.map_or(1, |v| v.saturating_add(1));
        let mut req = self
            .client
            .put_item()
            .table_name(&self.table)
            .item(PK, AttributeValue::S(key.to_string()))
            .item(VERSION, AttributeValue::N(version.to_string()))
            .item(STATE, AttributeValue::S(value.to_string()))
            .item(EXPIRES_AT, AttributeValue::N(expires_at.to_string()))
            .item(WRITER, AttributeValue::S(token.to_string()))
            .expression_attribute_values(":now", AttributeValue::N(now_secs().to_string()))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        req = match expected {
            None => req
                .condition_expression(format!("attribute_not_exists({PK}) OR {EXPIRES_AT} < :now")),
            Some(v) => req
                .condition_expression(format!("{VERSION} = :expected AND {EXPIRES_AT} >= :now"))
                .expression_attribute_values(":expected", AttributeValue::N(v.to_string())),
        };
        match req.send().await {
            Ok(_) => Ok(true),
            Err(e) => match e.as_service_error() {
                Some(PutItemError::ConditionalCheckFailedException(failed)) => {
                    // Ours already, from an attempt whose answer was lost?
                    let stored = failed
                        .item()
                        .and_then(|item| item.get(WRITER))
                        .and_then(|w| w.as_s().ok());
                    Ok(stored.is_some_and(|w| w == token))
                }
                _ => Err(send_error(
                    Service::DynamoDb,
                    "PutItem",
                    &self.target(key),
                    &e,
                )),
            },
        }
    }
}

impl StateStore for DynamoStateStore {
    async fn get(
        &self,
        key: &str,
        deadline: Option<Instant>,
    ) -> Result<Option<Versioned>, SendError> {
        with_retry(&self.backoff, deadline, || self.get_once(key)).await
    }

    async fn put(
        &self,
        write: StateWrite<'_>,
        deadline: Option<Instant>,
    ) -> Result<bool, SendError> {
        let token = format!("{:016x}{:016x}", jitter(), jitter());
        with_retry(&self.backoff, deadline, || self.put_once(write, &token)).await
    }
}

/// The state in a stored item, `None` when it expired before `now`; an error saying what is
/// missing when the item is not one this store wrote.
fn read_item(
    item: &HashMap<String, AttributeValue>,
    now: i64,
) -> Result<Option<Versioned>, String> {
    let number = |name: &str| -> Result<Option<&str>, String> {
        match item.get(name) {
            None => Ok(None),
            Some(AttributeValue::N(n)) => Ok(Some(n.as_str())),
            Some(_) => Err(format!("`{name}` is not a number")),
        }
    };
    if let Some(t) = number(EXPIRES_AT)? {
        // A fractional or out-of-range TTL is compared as DynamoDB would: as a number.
        let t: f64 = t
            .parse()
            .map_err(|_| format!("`{EXPIRES_AT}` = {t} is not a number"))?;
        if t < now as f64 {
            return Ok(None);
        }
    }
    let version = number(VERSION)?
        .ok_or_else(|| format!("no `{VERSION}`"))?
        .parse::<u64>()
        .map_err(|_| format!("`{VERSION}` is not a whole number"))?;
    let value = match item.get(STATE) {
        Some(AttributeValue::S(s)) => s.clone(),
        Some(_) => return Err(format!("`{STATE}` is not a string")),
        None => return Err(format!("no `{STATE}`")),
    };
    Ok(Some(Versioned { value, version }))
}

/// Seconds since the epoch, by this machine's clock.
fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(attributes: &[(&str, AttributeValue)]) -> HashMap<String, AttributeValue> {
        attributes
            .iter()
            .map(|(n, v)| (n.to_string(), v.clone()))
            .collect()
    }

    fn n(x: i64) -> AttributeValue {
        AttributeValue::N(x.to_string())
    }

    #[test]
    fn items_read_back_and_expire() {
        let live = item(&[
            ("pk", AttributeValue::S("k".into())),
            ("v", n(3)),
            ("state", AttributeValue::S("{}".into())),
            ("expires_at", n(100)),
        ]);
        let want = Versioned {
            value: "{}".into(),
            version: 3,
        };
        assert_eq!(read_item(&live, 99), Ok(Some(want.clone())));
        assert_eq!(read_item(&live, 100), Ok(Some(want)), "not yet past");
        assert_eq!(read_item(&live, 101), Ok(None), "expired counts as absent");
    }

    #[test]
    fn foreign_items_are_named_not_guessed() {
        let no_version = item(&[("state", AttributeValue::S("{}".into()))]);
        assert!(read_item(&no_version, 0).is_err_and(|e| e.contains("`v`")));
        let text_version = item(&[
            ("v", AttributeValue::S("1".into())),
            ("state", AttributeValue::S("{}".into())),
        ]);
        assert!(read_item(&text_version, 0).is_err_and(|e| e.contains("`v`")));
        let no_state = item(&[("v", n(1))]);
        assert!(read_item(&no_state, 0).is_err_and(|e| e.contains("`state`")));
    }
}
