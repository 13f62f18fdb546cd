//! CloudTrail records, one JSON object per CloudWatch event (as CloudTrail delivers them to a
//! log group). A JSON message is a record when its object has `eventVersion` and
//! `eventSource` keys; its values come from the document builder's one pass over the JSON
//! ([`super::capture`]), never from a second parse.
//!
//! | record | document field | type |
//! | --- | --- | --- |
//! | `eventName` | `event.action` | keyword |
//! | `eventSource` | `event.provider` | keyword |
//! | `errorCode`, `errorMessage` | `event.outcome`: `failure` when either is present, else `success` | keyword |
//! | `errorCode` | `aws.cloudtrail.error_code` | keyword |
//! | `errorMessage` | `aws.cloudtrail.error_message` | text |
//! | `userAgent` | `user_agent.original` | keyword |
//! | `userIdentity.type`, `.arn`, `.accountId` | `aws.cloudtrail.user_identity.type`, `.arn`, `.account_id` | keyword |
//! | `sourceIPAddress`, an IPv4 or IPv6 address | `source.ip` | ip |
//! | `sourceIPAddress`, anything else (`AWS Internal`, `lambda.amazonaws.com`) | `source.address` | keyword |
//!
//! `event.outcome` also says `failure` for a record with an `errorMessage` and no `errorCode`:
//! that is how CloudTrail records a failed console sign-in (`ConsoleLogin`, "Failed
//! authentication").
//!
//! `eventVersion`, `eventSource` and `eventName` must be strings, and the other places strings
//! (or `null`, or absent) and `userIdentity` an object: otherwise the record gets
//! `cwlogs.parse_error` and none of these fields.

use super::Parsed;
use super::capture::{Capture, Field, Val, type_name};
use crate::util::json::{push_key, push_str};

/// Writes the fields of a CloudTrail record into `parsed`; false when the message is not a
/// record (no `eventVersion` or no `eventSource`).
pub fn parse(c: &Capture<'_>, parsed: &mut Parsed) -> bool {
    if c.get(Field::EventVersion).is_none() || c.get(Field::EventSource).is_none() {
        return false;
    }
    if let Err(why) = record(c, parsed) {
        parsed.fail("cloudtrail", format_args!("{why}"));
    }
    true
}

fn string<'c>(
    c: &'c Capture<'_>,
    field: Field,
    name: &str,
    required: bool,
) -> Result<Option<&'c str>, String> {
    match c.present(field) {
        Some(Val::Str(v)) => Ok(Some(v)),
        Some(v) => Err(format!("{name} is {}, not a string", type_name(v))),
        None if required => Err(format!("{name} is missing")),
        None => Ok(None),
    }
}

fn record(c: &Capture<'_>, parsed: &mut Parsed) -> Result<(), String> {
    string(c, Field::EventVersion, "eventVersion", true)?;
    let source = string(c, Field::EventSource, "eventSource", true)?.unwrap_or_default();
    let name = string(c, Field::EventName, "eventName", true)?.unwrap_or_default();
    let code = string(c, Field::ErrorCode, "errorCode", false)?;
    let message = string(c, Field::ErrorMessage, "errorMessage", false)?;
    let agent = string(c, Field::UserAgent, "userAgent", false)?;
    let address = string(c, Field::SourceIp, "sourceIPAddress", false)?;
    match c.present(Field::UserIdentity) {
        Some(Val::Object) | None => {}
        Some(v) => return Err(format!("userIdentity is {}, not an object", type_name(v))),
    }
    let identity = [
        (
            "type",
            string(c, Field::IdentityType, "userIdentity.type", false)?,
        ),
        (
            "arn",
            string(c, Field::IdentityArn, "userIdentity.arn", false)?,
        ),
        (
            "account_id",
            string(c, Field::IdentityAccount, "userIdentity.accountId", false)?,
        ),
    ];

    let e = &mut parsed.event;
    e.extend_from_slice(b",\"action\":");
    push_str(e, name);
    e.extend_from_slice(b",\"provider\":");
    push_str(e, source);
    e.extend_from_slice(if code.is_some() || message.is_some() {
        b",\"outcome\":\"failure\""
    } else {
        b",\"outcome\":\"success\""
    });

    let a = &mut parsed.aws;
    let open = a.len();
    a.extend_from_slice(b"\"cloudtrail\":{");
    let start = a.len();
    for (key, v) in [("error_code", code), ("error_message", message)] {
        if let Some(v) = v {
            if a.len() > start {
                a.push(b',');
            }
            push_key(a, key);
            push_str(a, v);
        }
    }
    if identity
        .iter()
        .any(|(_, v)| v.is_some_and(|v| !v.is_empty()))
    {
        if a.len() > start {
            a.push(b',');
        }
        a.extend_from_slice(b"\"user_identity\":{");
        let inner = a.len();
        for (key, v) in identity {
            if let Some(v) = v.filter(|v| !v.is_empty()) {
                if a.len() > inner {
                    a.push(b',');
                }
                push_key(a, key);
                push_str(a, v);
            }
        }
        a.push(b'}');
    }
    if a.len() == start {
        a.truncate(open);
    } else {
        a.extend_from_slice(b"},");
    }

    let t = &mut parsed.top;
    if let Some(address) = address.filter(|a| !a.is_empty()) {
        // `source.ip` is mapped `ip`: only an address that parses as one goes there.
        let is_ip = super::ip_ok(address);
        t.extend_from_slice(if is_ip {
            b",\"source\":{\"ip\":"
        } else {
            b",\"source\":{\"address\":"
        });
        push_str(t, address);
        t.push(b'}');
    }
    if let Some(agent) = agent {
        t.extend_from_slice(b",\"user_agent\":{\"original\":");
        push_str(t, agent);
        t.push(b'}');
    }
    Ok(())
}
