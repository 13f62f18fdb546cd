//! VPC flow log records: space-separated fields in the default format (version 2, 14 fields)
//! or in a custom `LogFormat` of `${field}`s, as AWS takes it.
//!
//! | field | document field | type |
//! | --- | --- | --- |
//! | `srcaddr`, `dstaddr` | `source.ip`, `destination.ip` | ip |
//! | `srcport`, `dstport` | `source.port`, `destination.port` | long (0-65535) |
//! | `protocol` | `network.iana_number` (`"6"`) and `network.transport` (`tcp`, ...) | keyword |
//! | `packets`, `bytes` | `source.packets`, `source.bytes` | long (unsigned 64-bit) |
//! | `start`, `end` | `event.start`, `event.end` | date (RFC 3339, UTC) |
//! | `action` | `aws.vpcflow.action` (`ACCEPT` / `REJECT`) | keyword |
//! | `log-status` | `aws.vpcflow.log_status` (`OK` / `NODATA` / `SKIPDATA`) | keyword |
//! | `version`, `tcp-flags`, `traffic-path` | `aws.vpcflow.version`, `.tcp_flags`, `.traffic_path` | long |
//! | `pkt-srcaddr`, `pkt-dstaddr` | `aws.vpcflow.pkt_srcaddr`, `.pkt_dstaddr` | ip |
//! | every other field | `aws.vpcflow.<name with - as _>` | keyword |
//!
//! A value `-` is absent (so `NODATA` and `SKIPDATA` records carry only what they have).
//! Fields are separated by spaces (a run of spaces counts as one).

use super::{MAX_KEYWORD, Parsed, keyword_ok, push_plain};
use crate::util::json::{push_key, push_u64, splat, zero_bytes};
use crate::util::time::push_rfc3339;
use std::borrow::Cow;

/// How a field's value is checked and where it goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// `aws.vpcflow.<key>`, a string.
    Keyword,
    /// `aws.vpcflow.<key>`, an integer up to the bound.
    Int(u64),
    /// `aws.vpcflow.<key>`, an IP address.
    Ip,
    /// `aws.vpcflow.<key>`, one of the words (and what to say when it is not).
    Choice(&'static [&'static str], &'static str),
    SourceIp,
    DestinationIp,
    SourcePort,
    DestinationPort,
    Protocol,
    Packets,
    Bytes,
    Start,
    End,
}

/// One field AWS documents for flow log records.
#[derive(Debug, PartialEq, Eq)]
pub struct FieldDef {
    /// The name in a `LogFormat` (`${name}`).
    pub name: &'static str,
    /// The key under `aws.vpcflow` (for the fields that go there).
    pub key: &'static str,
    kind: Kind,
    /// The flow log version that introduced the field (0: newer than version 8).
    pub version: u8,
}

const fn def(name: &'static str, key: &'static str, kind: Kind, version: u8) -> FieldDef {
    FieldDef {
        name,
        key,
        kind,
        version,
    }
}

const ACTIONS: &[&str] = &["ACCEPT", "REJECT"];
const STATUSES: &[&str] = &["OK", "NODATA", "SKIPDATA"];

/// Every field a flow log format may name, the 14 of the default format first, in its order.
pub static FIELDS: [FieldDef; 42] = [
    def("version", "version", Kind::Int(255), 2),
    def("account-id", "account_id", Kind::Keyword, 2),
    def("interface-id", "interface_id", Kind::Keyword, 2),
    def("srcaddr", "", Kind::SourceIp, 2),
    def("dstaddr", "", Kind::DestinationIp, 2),
    def("srcport", "", Kind::SourcePort, 2),
    def("dstport", "", Kind::DestinationPort, 2),
    def("protocol", "", Kind::Protocol, 2),
    def("packets", "", Kind::Packets, 2),
    def("bytes", "", Kind::Bytes, 2),
    def("start", "", Kind::Start, 2),
    def("end", "", Kind::End, 2),
    def(
        "action",
        "action",
        Kind::Choice(ACTIONS, "is not ACCEPT or REJECT"),
        2,
    ),
    def(
        "log-status",
        "log_status",
        Kind::Choice(STATUSES, "is not OK, NODATA or SKIPDATA"),
        2,
    ),
    def("vpc-id", "vpc_id", Kind::Keyword, 3),
    def("subnet-id", "subnet_id", Kind::Keyword, 3),
    def("instance-id", "instance_id", Kind::Keyword, 3),
    def("tcp-flags", "tcp_flags", Kind::Int(65_535), 3),
    def("type", "type", Kind::Keyword, 3),
    def("pkt-srcaddr", "pkt_srcaddr", Kind::Ip, 3),
    def("pkt-dstaddr", "pkt_dstaddr", Kind::Ip, 3),
    def("region", "region", Kind::Keyword, 4),
    def("az-id", "az_id", Kind::Keyword, 4),
    def("sublocation-type", "sublocation_type", Kind::Keyword, 4),
    def("sublocation-id", "sublocation_id", Kind::Keyword, 4),
    def(
        "pkt-src-aws-service",
        "pkt_src_aws_service",
        Kind::Keyword,
        5,
    ),
    def(
        "pkt-dst-aws-service",
        "pkt_dst_aws_service",
        Kind::Keyword,
        5,
    ),
    def("flow-direction", "flow_direction", Kind::Keyword, 5),
    def("traffic-path", "traffic_path", Kind::Int(255), 5),
    def("ecs-cluster-arn", "ecs_cluster_arn", Kind::Keyword, 7),
    def("ecs-cluster-name", "ecs_cluster_name", Kind::Keyword, 7),
    def(
        "ecs-container-instance-arn",
        "ecs_container_instance_arn",
        Kind::Keyword,
        7,
    ),
    def(
        "ecs-container-instance-id",
        "ecs_container_instance_id",
        Kind::Keyword,
        7,
    ),
    def("ecs-container-id", "ecs_container_id", Kind::Keyword, 7),
    def(
        "ecs-second-container-id",
        "ecs_second_container_id",
        Kind::Keyword,
        7,
    ),
    def("ecs-service-name", "ecs_service_name", Kind::Keyword, 7),
    def(
        "ecs-task-definition-arn",
        "ecs_task_definition_arn",
        Kind::Keyword,
        7,
    ),
    def("ecs-task-arn", "ecs_task_arn", Kind::Keyword, 7),
    def("ecs-task-id", "ecs_task_id", Kind::Keyword, 7),
    def("reject-reason", "reject_reason", Kind::Keyword, 8),
    def("resource-id", "resource_id", Kind::Keyword, 0),
    def("encryption-status", "encryption_status", Kind::Keyword, 0),
];

/// The most fields a record can have (a format names each field at most once).
pub const MAX_FIELDS: usize = 42;

static DEFAULT_FIELDS: [&FieldDef; 14] = [
    &FIELDS[0],
    &FIELDS[1],
    &FIELDS[2],
    &FIELDS[3],
    &FIELDS[4],
    &FIELDS[5],
    &FIELDS[6],
    &FIELDS[7],
    &FIELDS[8],
    &FIELDS[9],
    &FIELDS[10],
    &FIELDS[11],
    &FIELDS[12],
    &FIELDS[13],
];

static DEFAULT: FlowFormat = FlowFormat {
    fields: Cow::Borrowed(&DEFAULT_FIELDS),
};

/// The documents' fields under `aws.vpcflow`, with their index template types (`ip`, `long`,
/// `keyword`); the ECS fields a record also writes are listed by the index template itself.
pub fn vpcflow_mapping() -> impl Iterator<Item = (&'static str, &'static str)> {
    FIELDS.iter().filter(|f| !f.key.is_empty()).map(|f| {
        let ty = match f.kind {
            Kind::Int(_) => "long",
            Kind::Ip => "ip",
            _ => "keyword",
        };
        (f.key, ty)
    })
}

/// A flow log format: the fields of a record, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowFormat {
    fields: Cow<'static, [&'static FieldDef]>,
}

impl FlowFormat {
    /// The default format: `${version} ${account-id} ${interface-id} ${srcaddr} ${dstaddr}
    /// ${srcport} ${dstport} ${protocol} ${packets} ${bytes} ${start} ${end} ${action}
    /// ${log-status}`.
    pub fn default_format() -> &'static FlowFormat {
        &DEFAULT
    }

    /// Checks a custom format string as AWS would: `${field}`s separated by spaces, each a
    /// field AWS documents, none twice, at least one.
    pub fn parse(text: &str) -> Result<FlowFormat, String> {
        let mut fields: Vec<&'static FieldDef> = Vec::new();
        for token in text.split_ascii_whitespace() {
            let Some(name) = token.strip_prefix("${").and_then(|t| t.strip_suffix('}')) else {
                return Err(format!(
                    "`{token}` is not a field: a format is `${{field}}`s separated by spaces"
                ));
            };
            let Some(f) = FIELDS.iter().find(|f| f.name == name) else {
                return Err(format!("unknown field `${{{name}}}`"));
            };
            if fields.iter().any(|g| std::ptr::eq(*g, f)) {
                return Err(format!("`${{{name}}}` appears twice"));
            }
            fields.push(f);
        }
        if fields.is_empty() {
            return Err("the format has no fields".into());
        }
        Ok(FlowFormat {
            fields: Cow::Owned(fields),
        })
    }

    /// The fields, in order.
    pub fn fields(&self) -> &[&'static FieldDef] {
        &self.fields
    }

    /// The format as AWS writes it (`${version} ${account-id} ...`).
    pub fn text(&self) -> String {
        let names: Vec<String> = self
            .fields
            .iter()
            .map(|f| format!("${{{}}}", f.name))
            .collect();
        names.join(" ")
    }
}

/// Buffers reused from record to record: one per object a record writes into, and the date
/// of the last time written (records of a batch share their day).
#[derive(Debug, Default)]
pub struct Scratch {
    vpc: Vec<u8>,
    source: Vec<u8>,
    destination: Vec<u8>,
    network: Vec<u8>,
    event: Vec<u8>,
    /// `(day since the epoch + 1, "YYYY-MM-DDT")`; day 0 means none yet.
    date: (u64, [u8; 11]),
}

impl Scratch {
    /// Writes `secs` (at most [`MAX_SECONDS`]) into the event members.
    fn push_time(&mut self, secs: u64) {
        push_time(&mut self.event, &mut self.date, secs);
    }
}

/// Writes `secs` (at most [`MAX_SECONDS`]) as [`push_rfc3339`] does, in one copy, the date
/// from `date` when it is the last one's (`(day + 1, "YYYY-MM-DDT")`, day 0 meaning none).
fn push_time(out: &mut Vec<u8>, date: &mut (u64, [u8; 11]), secs: u64) {
    let day = secs / 86_400;
    if date.0 != day + 1 {
        let mut d = Vec::with_capacity(24);
        push_rfc3339(&mut d, (day * 86_400_000) as i64);
        date.1.copy_from_slice(&d[..11]);
        date.0 = day + 1;
    }
    let rem = secs % 86_400;
    let (h, m, s) = (rem / 3600, rem / 60 % 60, rem % 60);
    let d = &date.1;
    out.extend_from_slice(&[
        d[0],
        d[1],
        d[2],
        d[3],
        d[4],
        d[5],
        d[6],
        d[7],
        d[8],
        d[9],
        d[10],
        b'0' + (h / 10) as u8,
        b'0' + (h % 10) as u8,
        b':',
        b'0' + (m / 10) as u8,
        b'0' + (m % 10) as u8,
        b':',
        b'0' + (s / 10) as u8,
        b'0' + (s % 10) as u8,
        b'.',
        b'0',
        b'0',
        b'0',
        b'Z',
    ]);
}

impl Scratch {
    fn clear_buffers(&mut self) {
        self.vpc.clear();
        self.source.clear();
        self.destination.clear();
        self.network.clear();
        self.event.clear();
    }
}

/// Why a record did not parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowError {
    /// The record has another number of fields than the format (`found` is
    /// [`MAX_FIELDS`] + 1 for "more").
    Count {
        /// Fields found.
        found: usize,
        /// Fields of the format.
        expected: usize,
    },
    /// A field's value is not of its type.
    Field {
        /// 1-based position.
        index: usize,
        /// The field's name.
        name: &'static str,
        /// What is wrong (`is not a port`).
        what: &'static str,
    },
}

impl FlowError {
    /// Records the error as the message's parse error.
    pub fn report(&self, parsed: &mut Parsed) {
        match *self {
            FlowError::Count { found, expected } if found > MAX_FIELDS => parsed.fail(
                "vpc-flow",
                format_args!("more than {MAX_FIELDS} fields; the format has {expected}"),
            ),
            FlowError::Count { found, expected } => parsed.fail(
                "vpc-flow",
                format_args!("{found} fields; the format has {expected}"),
            ),
            FlowError::Field { index, name, what } => {
                parsed.fail("vpc-flow", format_args!("field {index} ({name}) {what}"))
            }
        }
    }
}

/// The prefilter of the default format, allocation-free: `2 `, then a 12-digit account id
/// (or `unknown`, which AWS writes for interfaces of AWS services, or `-`) and a space.
pub fn looks_default(b: &[u8]) -> bool {
    if b.len() < 16 || b[0] != b'2' || b[1] != b' ' {
        return false;
    }
    let rest = &b[2..];
    (rest[..12].iter().all(u8::is_ascii_digit) && rest[12] == b' ')
        || rest.starts_with(b"unknown ")
        || rest.starts_with(b"- ")
}

/// Splits a record into its fields; returns how many there are ([`MAX_FIELDS`] + 1 for "more
/// than fit"), without allocating. Spaces are found eight bytes at a time (a branch per space,
/// not per byte: the byte loop mispredicted at the end of every field).
fn split<'m>(message: &'m str, tokens: &mut [&'m str; MAX_FIELDS + 1]) -> usize {
    let b = message.as_bytes();
    let mut n = 0;
    let mut start = 0;
    // Records the field before the space at `at` (none for a run of spaces); false once
    // there are more fields than fit.
    let mut field = |at: usize, start: &mut usize| -> bool {
        if at > *start {
            if n == tokens.len() {
                return false;
            }
            // Spaces are ASCII, so both ends are character boundaries.
            tokens[n] = message.get(*start..at).unwrap_or_default();
            n += 1;
        }
        *start = at + 1;
        true
    };
    let mut words = b.chunks_exact(8);
    let mut base = 0;
    for word in &mut words {
        let mut w = [0u8; 8];
        w.copy_from_slice(word);
        let mut spaces = zero_bytes(u64::from_le_bytes(w) ^ splat(b' '));
        while spaces != 0 {
            let at = base + (spaces.trailing_zeros() / 8) as usize;
            if !field(at, &mut start) {
                return tokens.len();
            }
            spaces &= spaces - 1;
        }
        base += 8;
    }
    for (k, &c) in words.remainder().iter().enumerate() {
        if c == b' ' && !field(base + k, &mut start) {
            return tokens.len();
        }
    }
    if !field(b.len(), &mut start) {
        return tokens.len();
    }
    n
}

/// Parses `message` as a record of `format` into `parsed` (which the caller cleared).
pub fn parse(
    format: &FlowFormat,
    message: &str,
    parsed: &mut Parsed,
    scratch: &mut Scratch,
) -> Result<(), FlowError> {
    let mut tokens = [""; MAX_FIELDS + 1];
    let n = split(message, &mut tokens);
    parse_tokens(format, &tokens[..n], parsed, scratch)
}

/// Tries the custom formats whose number of fields the record has, then (when it is on and
/// the record looks like it) the default format. Returns false when no custom format has the
/// record's number of fields (the default format may still take it); otherwise the record
/// parsed, or the first custom format's error is recorded.
pub fn parse_custom(
    formats: &[&FlowFormat],
    default_on: bool,
    message: &str,
    parsed: &mut Parsed,
    scratch: &mut Scratch,
) -> bool {
    let mut tokens = [""; MAX_FIELDS + 1];
    let n = split(message, &mut tokens);
    let mut first_error = None;
    for f in formats.iter().filter(|f| f.fields.len() == n) {
        match parse_tokens(f, &tokens[..n], parsed, scratch) {
            Ok(()) => return true,
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    let Some(error) = first_error else {
        return false;
    };
    if default_on
        && looks_default(message.as_bytes())
        && parse_tokens(&DEFAULT, &tokens[..n], parsed, scratch).is_ok()
    {
        return true;
    }
    error.report(parsed);
    true
}

fn parse_tokens(
    format: &FlowFormat,
    tokens: &[&str],
    parsed: &mut Parsed,
    scratch: &mut Scratch,
) -> Result<(), FlowError> {
    let expected = format.fields.len();
    if tokens.len() != expected {
        return Err(FlowError::Count {
            found: tokens.len(),
            expected,
        });
    }
    if std::ptr::eq(format, &DEFAULT) {
        return default_record(tokens, parsed, &mut scratch.date);
    }
    scratch.clear_buffers();
    for (i, (f, &value)) in format.fields.iter().zip(tokens).enumerate() {
        if value == "-" {
            continue;
        }
        field(f, value, scratch).map_err(|what| FlowError::Field {
            index: i + 1,
            name: f.name,
            what,
        })?;
    }
    let s = &*scratch;
    parsed.event.extend_from_slice(&s.event);
    if !s.vpc.is_empty() {
        parsed.aws.extend_from_slice(b"\"vpcflow\":{");
        parsed.aws.extend_from_slice(&s.vpc[1..]);
        parsed.aws.extend_from_slice(b"},");
    }
    for (name, members) in [
        (&b",\"source\":{"[..], &s.source),
        (b",\"destination\":{", &s.destination),
        (b",\"network\":{", &s.network),
    ] {
        if !members.is_empty() {
            parsed.top.extend_from_slice(name);
            parsed.top.extend_from_slice(&members[1..]);
            parsed.top.push(b'}');
        }
    }
    Ok(())
}

/// A record of the default format (14 fields), checked whole and then written straight into
/// `parsed` with constant keys: the same fields, in the same order, as the general path writes
/// for this format (the data-driven and property tests hold both to it), at a third of its
/// cost (the default format is most of what flow logs send).
fn default_record(
    t: &[&str],
    parsed: &mut Parsed,
    date: &mut (u64, [u8; 11]),
) -> Result<(), FlowError> {
    let fail = |i: usize, what: &'static str| FlowError::Field {
        index: i + 1,
        name: DEFAULT_FIELDS[i].name,
        what,
    };
    // Straight-line checks (closures here were not inlined: a third of the cost).
    macro_rules! check {
        ($i:expr, $v:ident => $ok:expr, $what:expr) => {
            match t[$i] {
                "-" => None,
                $v => Some($ok.ok_or_else(|| fail($i, $what))?),
            }
        };
    }
    let version = check!(0, v => digits(v, 20).filter(|&n| n <= 255), "is not a number");
    let account = check!(1, v => keyword_ok(v).then_some(v), LONG);
    let interface = check!(2, v => keyword_ok(v).then_some(v), LONG);
    let src = check!(3, v => super::ip_ok(v).then_some(v), "is not an IP address");
    let dst = check!(4, v => super::ip_ok(v).then_some(v), "is not an IP address");
    let sport = check!(5, v => digits(v, 5).filter(|&n| n <= 65_535), "is not a port");
    let dport = check!(6, v => digits(v, 5).filter(|&n| n <= 65_535), "is not a port");
    let protocol = check!(7, v => digits(v, 3).filter(|&n| n <= 255), "is not a protocol number");
    let packets = check!(8, v => digits(v, 20), "is not a count");
    let bytes = check!(9, v => digits(v, 20), "is not a count");
    let start = check!(10, v => digits(v, 12).filter(|&n| n <= MAX_SECONDS), "is not a time");
    let end = check!(11, v => digits(v, 12).filter(|&n| n <= MAX_SECONDS), "is not a time");
    let action = check!(
        12,
        v => ACTIONS.iter().find(|w| **w == v),
        "is not ACCEPT or REJECT"
    );
    let status = check!(
        13,
        v => STATUSES.iter().find(|w| **w == v),
        "is not OK, NODATA or SKIPDATA"
    );

    let e = &mut parsed.event;
    if let Some(v) = start {
        e.extend_from_slice(b",\"start\":\"");
        push_time(e, date, v);
        e.push(b'"');
    }
    if let Some(v) = end {
        e.extend_from_slice(b",\"end\":\"");
        push_time(e, date, v);
        e.push(b'"');
    }

    let a = &mut parsed.aws;
    a.extend_from_slice(b"\"vpcflow\":{");
    let open = a.len();
    let sep = |a: &mut Vec<u8>| {
        if a.len() > open {
            a.push(b',');
        }
    };
    if let Some(v) = version {
        a.extend_from_slice(b"\"version\":");
        push_u64(a, v);
    }
    if let Some(v) = account {
        sep(a);
        a.extend_from_slice(b"\"account_id\":");
        push_plain(a, v);
    }
    if let Some(v) = interface {
        sep(a);
        a.extend_from_slice(b"\"interface_id\":");
        push_plain(a, v);
    }
    for (key, v) in [
        (&b"\"action\":\""[..], action),
        (b"\"log_status\":\"", status),
    ] {
        if let Some(v) = v {
            sep(a);
            a.extend_from_slice(key);
            a.extend_from_slice(v.as_bytes());
            a.push(b'"');
        }
    }
    if a.len() == open {
        a.truncate(open - b"\"vpcflow\":{".len());
    } else {
        a.extend_from_slice(b"},");
    }

    let top = &mut parsed.top;
    let object = |top: &mut Vec<u8>, name: &[u8], members: &mut dyn FnMut(&mut Vec<u8>)| {
        let at = top.len();
        top.extend_from_slice(name);
        let open = top.len();
        members(top);
        if top.len() == open {
            top.truncate(at);
        } else {
            top[open] = b'{';
            top.push(b'}');
        }
    };
    // Each member is written with a leading `,`; the object's first one becomes its `{`.
    object(top, b",\"source\":", &mut |top| {
        if let Some(v) = src {
            top.extend_from_slice(b",\"ip\":\"");
            top.extend_from_slice(v.as_bytes());
            top.push(b'"');
        }
        for (key, v) in [
            (&b",\"port\":"[..], sport),
            (b",\"packets\":", packets),
            (b",\"bytes\":", bytes),
        ] {
            if let Some(v) = v {
                top.extend_from_slice(key);
                push_u64(top, v);
            }
        }
    });
    object(top, b",\"destination\":", &mut |top| {
        if let Some(v) = dst {
            top.extend_from_slice(b",\"ip\":\"");
            top.extend_from_slice(v.as_bytes());
            top.push(b'"');
        }
        if let Some(v) = dport {
            top.extend_from_slice(b",\"port\":");
            push_u64(top, v);
        }
    });
    if let Some(p) = protocol {
        top.extend_from_slice(b",\"network\":{\"iana_number\":\"");
        push_u64(top, p);
        top.push(b'"');
        if let Some(name) = transport(p as u8) {
            top.extend_from_slice(b",\"transport\":\"");
            top.extend_from_slice(name.as_bytes());
            top.push(b'"');
        }
        top.push(b'}');
    }
    Ok(())
}

/// Digits only, at most `max_len` of them, as a number (`None` past `u64::MAX`).
fn digits(s: &str, max_len: usize) -> Option<u64> {
    let b = s.as_bytes();
    if b.is_empty() || b.len() > max_len {
        return None;
    }
    let mut n: u64 = 0;
    for &c in b {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(u64::from(d))?;
    }
    Some(n)
}

/// The latest time a record may carry: 9999-12-31T23:59:59Z, in Unix seconds.
const MAX_SECONDS: u64 = 253_402_300_799;

/// Checks one value and writes it where it goes (each member preceded by `,`).
fn field(f: &FieldDef, v: &str, s: &mut Scratch) -> Result<(), &'static str> {
    match f.kind {
        Kind::Keyword => {
            if !keyword_ok(v) {
                return Err(LONG);
            }
            s.vpc.push(b',');
            push_key(&mut s.vpc, f.key);
            push_plain(&mut s.vpc, v);
        }
        Kind::Int(max) => {
            let n = digits(v, 20)
                .filter(|&n| n <= max)
                .ok_or("is not a number")?;
            s.vpc.push(b',');
            push_key(&mut s.vpc, f.key);
            push_u64(&mut s.vpc, n);
        }
        Kind::Ip => {
            ip(v)?;
            s.vpc.push(b',');
            push_key(&mut s.vpc, f.key);
            push_plain(&mut s.vpc, v);
        }
        Kind::Choice(words, what) => {
            if !words.contains(&v) {
                return Err(what);
            }
            s.vpc.push(b',');
            push_key(&mut s.vpc, f.key);
            s.vpc.push(b'"');
            s.vpc.extend_from_slice(v.as_bytes());
            s.vpc.push(b'"');
        }
        Kind::SourceIp | Kind::DestinationIp => {
            ip(v)?;
            let out = if f.kind == Kind::SourceIp {
                &mut s.source
            } else {
                &mut s.destination
            };
            out.extend_from_slice(b",\"ip\":");
            push_plain(out, v);
        }
        Kind::SourcePort | Kind::DestinationPort => {
            let port = digits(v, 5)
                .filter(|&p| p <= 65_535)
                .ok_or("is not a port")?;
            let out = if f.kind == Kind::SourcePort {
                &mut s.source
            } else {
                &mut s.destination
            };
            out.extend_from_slice(b",\"port\":");
            push_u64(out, port);
        }
        Kind::Protocol => {
            let p = digits(v, 3)
                .filter(|&p| p <= 255)
                .ok_or("is not a protocol number")?;
            s.network.extend_from_slice(b",\"iana_number\":\"");
            push_u64(&mut s.network, p);
            s.network.push(b'"');
            if let Some(name) = transport(p as u8) {
                s.network.extend_from_slice(b",\"transport\":\"");
                s.network.extend_from_slice(name.as_bytes());
                s.network.push(b'"');
            }
        }
        Kind::Packets | Kind::Bytes => {
            let n = digits(v, 20).ok_or("is not a count")?;
            s.source.extend_from_slice(if f.kind == Kind::Packets {
                b",\"packets\":"
            } else {
                b",\"bytes\":"
            });
            push_u64(&mut s.source, n);
        }
        Kind::Start | Kind::End => {
            let secs = digits(v, 12)
                .filter(|&t| t <= MAX_SECONDS)
                .ok_or("is not a time")?;
            s.event.extend_from_slice(if f.kind == Kind::Start {
                b",\"start\":\""
            } else {
                b",\"end\":\""
            });
            s.push_time(secs);
            s.event.push(b'"');
        }
    }
    Ok(())
}

const LONG: &str = "is longer than 1024 bytes";
const _: () = assert!(MAX_KEYWORD == 1024);

fn ip(v: &str) -> Result<(), &'static str> {
    if super::ip_ok(v) {
        Ok(())
    } else {
        Err("is not an IP address")
    }
}

/// The IANA keyword of a protocol number, lowercase, as ECS `network.transport` has it.
pub fn transport(p: u8) -> Option<&'static str> {
    Some(match p {
        0 => "hopopt",
        1 => "icmp",
        2 => "igmp",
        3 => "ggp",
        4 => "ipv4",
        5 => "st",
        6 => "tcp",
        8 => "egp",
        9 => "igp",
        17 => "udp",
        27 => "rdp",
        33 => "dccp",
        41 => "ipv6",
        43 => "ipv6-route",
        44 => "ipv6-frag",
        46 => "rsvp",
        47 => "gre",
        50 => "esp",
        51 => "ah",
        58 => "ipv6-icmp",
        59 => "ipv6-nonxt",
        60 => "ipv6-opts",
        88 => "eigrp",
        89 => "ospfigp",
        94 => "ipip",
        103 => "pim",
        112 => "vrrp",
        115 => "l2tp",
        132 => "sctp",
        136 => "udplite",
        137 => "mpls-in-ip",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// The word-at-a-time split finds the fields `str::split` finds, up to the cap.
        #[test]
        fn split_finds_the_fields(s in "[ a-c\u{e9}]{0,120}", pad in 0usize..60) {
            let s = format!("{s}{}", " x".repeat(pad));
            let mut tokens = [""; MAX_FIELDS + 1];
            let n = split(&s, &mut tokens);
            let want: Vec<&str> = s.split(' ').filter(|t| !t.is_empty()).collect();
            proptest::prop_assert_eq!(n, want.len().min(MAX_FIELDS + 1));
            proptest::prop_assert_eq!(&tokens[..n], &want[..n]);
        }
    }
}
