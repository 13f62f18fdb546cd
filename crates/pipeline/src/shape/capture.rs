//! What the JSON parsers (CloudTrail records, Lambda platform events) need from a JSON message,
//! collected during the document builder's one validating pass over it: the pass asks
//! [`slot`] about each key of the objects it may care about and hands the values to
//! [`Capture::set`]. Nothing here parses JSON; a message is never parsed twice.
//!
//! Strings without escapes are borrowed from the message; only escaped strings in the few
//! captured places are copied.

use std::borrow::Cow;

/// Which JSON parsers are on (a set of flags).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct JsonKinds {
    /// CloudTrail records.
    pub cloudtrail: bool,
    /// Lambda's JSON log format `platform.*` events.
    pub platform: bool,
}

impl JsonKinds {
    /// Whether any JSON parser is on.
    pub fn any(self) -> bool {
        self.cloudtrail || self.platform
    }
}

/// An object the pass walks with an eye on its keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ctx {
    /// The message's own object.
    Top,
    /// CloudTrail `userIdentity`.
    UserIdentity,
    /// Lambda `record`.
    Record,
    /// Lambda `record.metrics`.
    Metrics,
    /// Lambda `record.tracing`.
    Tracing,
}

/// A captured place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Field {
    // CloudTrail, top level.
    EventVersion,
    EventSource,
    EventName,
    ErrorCode,
    ErrorMessage,
    UserAgent,
    SourceIp,
    UserIdentity,
    // CloudTrail, `userIdentity`.
    IdentityType,
    IdentityArn,
    IdentityAccount,
    // Lambda, top level.
    Time,
    Type,
    Record,
    // Lambda, `record`.
    RequestId,
    Version,
    Metrics,
    Tracing,
    // Lambda, `record.metrics`.
    DurationMs,
    BilledDurationMs,
    MemorySizeMb,
    MaxMemoryUsedMb,
    InitDurationMs,
    RestoreDurationMs,
    // Lambda, `record.tracing`.
    TracingType,
    TracingValue,
}

const FIELDS: usize = Field::TracingValue as usize + 1;

/// What a key leads to: a value to keep, and the object to watch when the value is one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    /// The place the value is kept.
    pub field: Field,
    /// The keys of the value to watch, when it is an object.
    pub child: Option<Ctx>,
}

const fn leaf(field: Field) -> Option<Slot> {
    Some(Slot { field, child: None })
}

const fn object(field: Field, child: Ctx) -> Option<Slot> {
    Some(Slot {
        field,
        child: Some(child),
    })
}

/// The slot of `key` in an object watched as `ctx`, for the parsers that are on; `None` for
/// every other key (the common case: one length switch and a compare).
pub fn slot(kinds: JsonKinds, ctx: Ctx, key: &str) -> Option<Slot> {
    match ctx {
        Ctx::Top => {
            let ct = kinds.cloudtrail;
            let lambda = kinds.platform;
            match key {
                "eventVersion" if ct => leaf(Field::EventVersion),
                "eventSource" if ct => leaf(Field::EventSource),
                "eventName" if ct => leaf(Field::EventName),
                "errorCode" if ct => leaf(Field::ErrorCode),
                "errorMessage" if ct => leaf(Field::ErrorMessage),
                "userAgent" if ct => leaf(Field::UserAgent),
                "sourceIPAddress" if ct => leaf(Field::SourceIp),
                "userIdentity" if ct => object(Field::UserIdentity, Ctx::UserIdentity),
                "time" if lambda => leaf(Field::Time),
                "type" if lambda => leaf(Field::Type),
                "record" if lambda => object(Field::Record, Ctx::Record),
                _ => None,
            }
        }
        Ctx::UserIdentity => match key {
            "type" => leaf(Field::IdentityType),
            "arn" => leaf(Field::IdentityArn),
            "accountId" => leaf(Field::IdentityAccount),
            _ => None,
        },
        Ctx::Record => match key {
            "requestId" => leaf(Field::RequestId),
            "version" => leaf(Field::Version),
            "metrics" => object(Field::Metrics, Ctx::Metrics),
            "tracing" => object(Field::Tracing, Ctx::Tracing),
            _ => None,
        },
        Ctx::Metrics => match key {
            "durationMs" => leaf(Field::DurationMs),
            "billedDurationMs" => leaf(Field::BilledDurationMs),
            "memorySizeMB" => leaf(Field::MemorySizeMb),
            "maxMemoryUsedMB" => leaf(Field::MaxMemoryUsedMb),
            "initDurationMs" => leaf(Field::InitDurationMs),
            "restoreDurationMs" => leaf(Field::RestoreDurationMs),
            _ => None,
        },
        Ctx::Tracing => match key {
            "type" => leaf(Field::TracingType),
            "value" => leaf(Field::TracingValue),
            _ => None,
        },
    }
}

/// A captured JSON value: scalars as they were read, objects and arrays only as such.
#[derive(Debug, Clone, PartialEq)]
pub enum Val<'m> {
    /// A string.
    Str(Cow<'m, str>),
    /// A non-negative integer.
    U64(u64),
    /// A negative integer.
    I64(i64),
    /// Any other number.
    F64(f64),
    /// `true` or `false`.
    Bool(bool),
    /// `null`.
    Null,
    /// An object.
    Object,
    /// An array.
    Array,
}

/// The values of one JSON message's captured places (a duplicate key keeps the last value,
/// as the document's rewrite does).
#[derive(Debug, Clone)]
pub struct Capture<'m> {
    /// The parsers that are on.
    pub kinds: JsonKinds,
    values: [Option<Val<'m>>; FIELDS],
}

impl<'m> Capture<'m> {
    /// An empty capture for the parsers in `kinds`.
    pub fn new(kinds: JsonKinds) -> Capture<'m> {
        Capture {
            kinds,
            values: [const { None }; FIELDS],
        }
    }

    /// Keeps `value` for `field`.
    pub fn set(&mut self, field: Field, value: Val<'m>) {
        self.values[field as usize] = Some(value);
    }

    /// The value kept for `field`; `None` when the message had none (`null` counts as one).
    pub fn get(&self, field: Field) -> Option<&Val<'m>> {
        self.values[field as usize].as_ref()
    }

    /// The value of `field` unless it is absent or `null`.
    pub fn present(&self, field: Field) -> Option<&Val<'m>> {
        self.get(field).filter(|v| **v != Val::Null)
    }

    /// Whether anything was captured.
    pub fn is_empty(&self) -> bool {
        self.values.iter().all(Option::is_none)
    }
}

/// The JSON type of a value, for error messages.
pub(crate) fn type_name(v: &Val<'_>) -> &'static str {
    match v {
        Val::Str(_) => "a string",
        Val::U64(_) | Val::I64(_) | Val::F64(_) => "a number",
        Val::Bool(_) => "a boolean",
        Val::Null => "null",
        Val::Object => "an object",
        Val::Array => "an array",
    }
}
