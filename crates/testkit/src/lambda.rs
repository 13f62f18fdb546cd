//! Lambda invocations as the handlers take them: a `LambdaEvent` of raw JSON with its
//! `Context` (request id, deadline). Feature `lambda`.

use lambda_runtime::{Context, LambdaEvent};
use serde_json::value::RawValue;
use std::time::{SystemTime, UNIX_EPOCH};

/// An invocation of the event `text` (JSON), with request id `request` and, when given,
/// `deadline_ms` of Lambda time left (else `Context::default()`'s: no deadline).
pub fn invocation(
    text: &str,
    request: &str,
    deadline_ms: Option<u64>,
) -> LambdaEvent<Box<RawValue>> {
    let mut context = Context::default();
    context.request_id = request.into();
    if let Some(left) = deadline_ms {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock")
            .as_millis() as u64;
        context.deadline = now + left;
    }
    LambdaEvent::new(
        RawValue::from_string(text.to_string()).expect("an event is JSON"),
        context,
    )
}

/// An invocation of `text` with request id `req-1` and no deadline.
pub fn event(text: &str) -> LambdaEvent<Box<RawValue>> {
    invocation(text, "req-1", None)
}
