//! Elastic Load Balancing access logs as delivered to S3: Application Load Balancer entries
//! (one request a line), Classic Load Balancer entries, and Network Load Balancer TLS entries.
//! Fields are separated by spaces; some are in double quotes (and may hold spaces); `-` is
//! absent. AWS adds fields at the end over time: fields past those known here are ignored, as
//! AWS asks.
//!
//! | ALB field | document field | type |
//! | --- | --- | --- |
//! | `type` | `aws.elb.type` | keyword |
//! | `time` | `@timestamp`, `event.end` | date |
//! | `elb` | `aws.elb.name` | keyword |
//! | `client:port` | `source.ip`, `source.port` | ip, long |
//! | `target:port` | `aws.elb.target.ip`, `aws.elb.target.port` | ip, long |
//! | `request_processing_time`, `target_processing_time`, `response_processing_time` | `aws.elb.request_processing_time.sec`, `.target_processing_time.sec`, `.response_processing_time.sec`; their sum, when none is `-1`, as `event.duration` | double; long (ns) |
//! | `elb_status_code`, `target_status_code` | `http.response.status_code`, `aws.elb.target.status_code` | long |
//! | `received_bytes`, `sent_bytes` | `http.request.bytes`, `http.response.bytes` | long |
//! | `"request"` (`METHOD URL PROTOCOL`) | `http.request.method`, `url.original`, `http.version` (`1.1`) | keyword |
//! | `"user_agent"` | `user_agent.original` | keyword |
//! | `ssl_cipher`, `ssl_protocol` | `tls.cipher`, `tls.version` (`1.2`) and `tls.version_protocol` (`tls`) | keyword |
//! | `target_group_arn`, `"trace_id"` | `aws.elb.target_group.arn`, `aws.elb.trace_id` | keyword |
//! | `"domain_name"` | `tls.client.server_name` | keyword |
//! | `"chosen_cert_arn"`, `matched_rule_priority` | `aws.elb.chosen_cert.arn`, `aws.elb.matched_rule_priority` | keyword |
//! | `request_creation_time` | `event.start` | date |
//! | `"actions_executed"` | `aws.elb.action_executed` (one value per action) | keyword |
//! | `"redirect_url"`, `"error_reason"` | `aws.elb.redirect_url`, `aws.elb.error_reason` | keyword |
//! | `"target:port_list"`, `"target_status_code_list"` | `aws.elb.target_port_list`, `aws.elb.target_status_code_list` (one value each) | keyword |
//! | `"classification"`, `"classification_reason"`, `conn_trace_id` | `aws.elb.classification`, `.classification_reason`, `.connection_trace_id` | keyword |
//!
//! Classic Load Balancer entries (`time elb client:port backend:port request_processing_time
//! backend_processing_time response_processing_time elb_status_code backend_status_code
//! received_bytes sent_bytes "request" "user_agent" ssl_cipher ssl_protocol`) write the same
//! fields (the backend as `aws.elb.target.*`, `backend_processing_time` as
//! `target_processing_time`) with `aws.elb.type` `classic`.
//!
//! Network Load Balancer TLS entries (`type version time elb listener client:port
//! destination:port connection_time tls_handshake_time received_bytes sent_bytes
//! incoming_tls_alert chosen_cert_arn chosen_cert_serial tls_cipher tls_protocol_version
//! tls_named_group domain_name alpn_fe_protocol alpn_be_protocol alpn_client_preference_list
//! tls_connection_creation_time`) write `aws.elb.type` (`tls`), `.version`, `.name`,
//! `.listener`, `source.*`, `destination.*`, `aws.elb.connection_time.ms`,
//! `.tls_handshake_time.ms`, `source.bytes` and `destination.bytes`, `aws.elb.incoming_tls_alert`,
//! `aws.elb.chosen_cert.arn` and `.serial`, `tls.cipher`, `tls.version`, `tls.curve`,
//! `tls.client.server_name`, `tls.next_protocol`, `aws.elb.alpn_be_protocol`,
//! `aws.elb.alpn_client_preference_list`, `event.start` and `event.end`.
//!
//! A line that does not parse gets `cwlogs.parse_error` (`alb: field 9 (elb_status_code) is
//! not a status code`) and no typed field, as the parsers of `[parse]` do.

use super::parse_iso_ms;
use crate::shape::{Parsed, ip_ok, keyword_ok};
use crate::util::json::{push_key, push_str, push_u64};
use crate::util::time::push_rfc3339;

/// The most fields read from a line.
const MAX_TOKENS: usize = 48;

/// Which load balancer wrote a log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ElbKind {
    /// Application Load Balancer.
    Alb,
    /// Classic Load Balancer.
    Classic,
    /// Network Load Balancer (TLS listeners).
    Nlb,
}

impl ElbKind {
    /// The format's name in parse errors: `alb`, `elb`, `nlb`.
    pub fn as_str(self) -> &'static str {
        match self {
            ElbKind::Alb => "alb",
            ElbKind::Classic => "elb",
            ElbKind::Nlb => "nlb",
        }
    }
}

/// Which load balancer's format `line` (the first of an object) is in, if any.
pub fn detect(line: &str) -> Option<ElbKind> {
    let mut tokens = [""; MAX_TOKENS];
    let n = split(line, &mut tokens);
    let t = &tokens[..n];
    match t {
        [ty, time, ..]
            if n >= 13
                && matches!(*ty, "http" | "https" | "h2" | "grpcs" | "ws" | "wss")
                && parse_iso_ms(time).is_some() =>
        {
            Some(ElbKind::Alb)
        }
        ["tls", version, time, ..]
            if n >= 12
                && version.bytes().all(|b| b.is_ascii_digit() || b == b'.')
                && parse_iso_ms(time).is_some() =>
        {
            Some(ElbKind::Nlb)
        }
        [time, ..] if n >= 13 && parse_iso_ms(time).is_some() => Some(ElbKind::Classic),
        _ => None,
    }
}

/// Splits a line into its fields: runs of non-spaces, or `"..."` (without the quotes; `\"`
/// inside is kept as written). Returns how many there are (at most [`MAX_TOKENS`]).
fn split<'l>(line: &'l str, tokens: &mut [&'l str; MAX_TOKENS]) -> usize {
    let b = line.as_bytes();
    let mut n = 0;
    let mut i = 0;
    while n < MAX_TOKENS {
        while i < b.len() && b[i] == b' ' {
            i += 1;
        }
        if i >= b.len() {
            break;
        }
        let (start, end);
        if b[i] == b'"' {
            start = i + 1;
            let mut j = start;
            while j < b.len() && b[j] != b'"' {
                j += if b[j] == b'\\' { 2 } else { 1 };
            }
            end = j.min(b.len());
            i = end + 1;
        } else {
            start = i;
            while i < b.len() && b[i] != b' ' {
                i += 1;
            }
            end = i;
        }
        // Quotes and spaces are ASCII: both ends are character boundaries.
        tokens[n] = line.get(start..end).unwrap_or_default();
        n += 1;
    }
    n
}

/// A JSON object being written: members separated by commas.
#[derive(Default)]
struct Obj(Vec<u8>);

impl Obj {
    fn key(&mut self, key: &str) {
        if !self.0.is_empty() {
            self.0.push(b',');
        }
        push_key(&mut self.0, key);
    }
    fn str(&mut self, key: &str, value: &str) {
        self.key(key);
        push_str(&mut self.0, value);
    }
    fn raw(&mut self, key: &str, value: &[u8]) {
        self.key(key);
        self.0.extend_from_slice(value);
    }
    fn int(&mut self, key: &str, value: u64) {
        self.key(key);
        push_u64(&mut self.0, value);
    }
    fn time(&mut self, key: &str, ms: i64) {
        self.key(key);
        self.0.push(b'"');
        push_rfc3339(&mut self.0, ms);
        self.0.push(b'"');
    }
    fn obj(&mut self, key: &str, inner: Obj) {
        if !inner.0.is_empty() {
            self.key(key);
            self.0.push(b'{');
            self.0.extend_from_slice(&inner.0);
            self.0.push(b'}');
        }
    }
    fn list(&mut self, key: &str, values: &str) {
        self.key(key);
        self.0.push(b'[');
        for (i, v) in values.split(',').enumerate() {
            if i > 0 {
                self.0.push(b',');
            }
            push_str(&mut self.0, v);
        }
        self.0.push(b']');
    }
}

/// A field of a line, by position, with its name for errors.
struct Fields<'l> {
    tokens: &'l [&'l str],
    names: &'static [&'static str],
}

type Why = (usize, &'static str);

impl<'l> Fields<'l> {
    /// Field `i` (0-based), `None` when absent (`-`, or past the end).
    fn get(&self, i: usize) -> Option<&'l str> {
        self.tokens
            .get(i)
            .copied()
            .filter(|t| *t != "-" && !t.is_empty())
    }
    fn keyword(&self, i: usize) -> Result<Option<&'l str>, Why> {
        match self.get(i) {
            Some(v) if !keyword_ok(v) => Err((i, "is longer than 1024 bytes")),
            v => Ok(v),
        }
    }
    fn int(&self, i: usize, max: u64, what: &'static str) -> Result<Option<u64>, Why> {
        match self.get(i) {
            None => Ok(None),
            Some(v) => match v.parse::<u64>() {
                Ok(n) if n <= max && v.bytes().all(|b| b.is_ascii_digit()) => Ok(Some(n)),
                _ => Err((i, what)),
            },
        }
    }
    fn seconds(&self, i: usize) -> Result<Option<&'l str>, Why> {
        match self.get(i) {
            None => Ok(None),
            Some(v) if is_decimal(v) => Ok(Some(v)),
            Some(_) => Err((i, "is not a number of seconds")),
        }
    }
    fn time(&self, i: usize) -> Result<Option<i64>, Why> {
        match self.get(i) {
            None => Ok(None),
            Some(v) => parse_iso_ms(v).map(Some).ok_or((i, "is not a time")),
        }
    }
    /// `ip:port` (IPv6 without brackets too: the port is after the last `:`).
    fn address(&self, i: usize) -> Result<Option<(&'l str, u64)>, Why> {
        let Some(v) = self.get(i) else {
            return Ok(None);
        };
        let (ip, port) = v.rsplit_once(':').ok_or((i, "is not ip:port"))?;
        let ip = ip.trim_start_matches('[').trim_end_matches(']');
        let port = port.parse::<u16>().map_err(|_| (i, "has no port"))?;
        if !ip_ok(ip) {
            return Err((i, "is not an IP address"));
        }
        Ok(Some((ip, u64::from(port))))
    }
}

/// A decimal number as JSON takes it (`0.000`, `-1`, `12.5`).
fn is_decimal(v: &str) -> bool {
    let digits = v.strip_prefix('-').unwrap_or(v);
    let (int, frac) = digits.split_once('.').unwrap_or((digits, "0"));
    !int.is_empty()
        && int.len() <= 18
        && !frac.is_empty()
        && frac.len() <= 18
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.bytes().all(|b| b.is_ascii_digit())
        && (int.len() == 1 || !int.starts_with('0'))
}

/// Nanoseconds in a decimal number of seconds (`0.086` -> 86_000_000); `None` when negative.
fn nanos(v: &str) -> Option<u64> {
    if v.starts_with('-') {
        return None;
    }
    let (int, frac) = v.split_once('.').unwrap_or((v, ""));
    let mut n: u64 = int.parse::<u64>().ok()?.checked_mul(1_000_000_000)?;
    let mut scale = 100_000_000;
    for b in frac.bytes().take(9) {
        n += u64::from(b - b'0') * scale;
        scale /= 10;
    }
    Some(n)
}

/// `TLSv1.2` / `tlsv12` -> (`tls`, `1.2`).
fn tls_version(v: &str) -> Option<(&'static str, String)> {
    let lower = v.to_ascii_lowercase();
    let (proto, rest) = if let Some(r) = lower.strip_prefix("tlsv") {
        ("tls", r)
    } else if let Some(r) = lower.strip_prefix("sslv") {
        ("ssl", r)
    } else {
        return None;
    };
    let version = match rest {
        "12" => "1.2".to_string(),
        "13" => "1.3".to_string(),
        "11" => "1.1".to_string(),
        "10" => "1.0".to_string(),
        r if r.contains('.') && r.bytes().all(|b| b.is_ascii_digit() || b == b'.') => r.to_string(),
        _ => return None,
    };
    Some((proto, version))
}

/// The field names of the ALB format, in order.
const ALB: &[&str] = &[
    "type",
    "time",
    "elb",
    "client:port",
    "target:port",
    "request_processing_time",
    "target_processing_time",
    "response_processing_time",
    "elb_status_code",
    "target_status_code",
    "received_bytes",
    "sent_bytes",
    "request",
    "user_agent",
    "ssl_cipher",
    "ssl_protocol",
    "target_group_arn",
    "trace_id",
    "domain_name",
    "chosen_cert_arn",
    "matched_rule_priority",
    "request_creation_time",
    "actions_executed",
    "redirect_url",
    "error_reason",
    "target:port_list",
    "target_status_code_list",
    "classification",
    "classification_reason",
    "conn_trace_id",
];

/// The field names of the Network Load Balancer format, in order.
const NLB: &[&str] = &[
    "type",
    "version",
    "time",
    "elb",
    "listener",
    "client:port",
    "destination:port",
    "connection_time",
    "tls_handshake_time",
    "received_bytes",
    "sent_bytes",
    "incoming_tls_alert",
    "chosen_cert_arn",
    "chosen_cert_serial",
    "tls_cipher",
    "tls_protocol_version",
    "tls_named_group",
    "domain_name",
    "alpn_fe_protocol",
    "alpn_be_protocol",
    "alpn_client_preference_list",
    "tls_connection_creation_time",
];

/// Parses `line`, a `kind` entry, into `parsed` (cleared first); returns the entry's time in
/// milliseconds since the epoch (`None` when it has none or did not parse).
pub fn parse(kind: ElbKind, line: &str, parsed: &mut Parsed) -> Option<i64> {
    parsed.clear();
    let mut tokens = [""; MAX_TOKENS];
    let n = split(line, &mut tokens);
    let (names, min) = match kind {
        ElbKind::Alb => (ALB, 13),
        ElbKind::Classic => (&ALB[1..], 13),
        ElbKind::Nlb => (NLB, 12),
    };
    if n < min {
        parsed.fail(
            kind.as_str(),
            format_args!("{n} fields; the format has at least {min}"),
        );
        return None;
    }
    let f = Fields {
        tokens: &tokens[..n],
        names,
    };
    let result = match kind {
        ElbKind::Alb => http(&f, 0, kind, parsed),
        ElbKind::Classic => http(&f, 1, kind, parsed),
        ElbKind::Nlb => nlb(&f, parsed),
    };
    match result {
        Ok(time) => time,
        Err((i, what)) => {
            let name = f.names.get(i).copied().unwrap_or("field");
            parsed.fail(
                kind.as_str(),
                format_args!("field {} ({name}) {what}", i + 1),
            );
            None
        }
    }
}

/// ALB and Classic entries; `shift` is 1 for Classic (no `type` field first).
fn http(
    f: &Fields<'_>,
    shift: usize,
    kind: ElbKind,
    parsed: &mut Parsed,
) -> Result<Option<i64>, Why> {
    // Positions in the ALB layout; Classic has every field one place earlier and stops after
    // ssl_protocol.
    let at = |i: usize| i - shift;
    let mut elb = Obj::default();
    let mut event = Obj::default();
    let mut source = Obj::default();
    let mut http = Obj::default();
    let mut request = Obj::default();
    let mut response = Obj::default();
    let mut url = Obj::default();
    let mut tls = Obj::default();
    let mut agent = Obj::default();

    let time = f.time(at(1))?;
    if shift == 0 {
        if let Some(t) = f.keyword(0)? {
            elb.str("type", t);
        }
    } else {
        elb.str("type", "classic");
    }
    if let Some(name) = f.keyword(at(2))? {
        elb.str("name", name);
    }
    if let Some((ip, port)) = f.address(at(3))? {
        source.str("ip", ip);
        source.int("port", port);
    }
    let mut target = Obj::default();
    if let Some((ip, port)) = f.address(at(4))? {
        target.str("ip", ip);
        target.int("port", port);
    }
    let mut total = Some(0u64);
    for (i, key) in [
        (5, "request_processing_time"),
        (6, "target_processing_time"),
        (7, "response_processing_time"),
    ] {
        let v = f.seconds(at(i))?;
        total = match (total, v.and_then(nanos)) {
            (Some(t), Some(n)) => t.checked_add(n),
            _ => None,
        };
        if let Some(v) = v {
            let mut sec = Obj::default();
            sec.raw("sec", v.as_bytes());
            elb.obj(key, sec);
        }
    }
    if let Some(status) = f.int(at(8), 999, "is not a status code")? {
        response.int("status_code", status);
    }
    if let Some(status) = f.int(at(9), 999, "is not a status code")? {
        target.int("status_code", status);
    }
    elb.obj("target", target);
    if let Some(b) = f.int(at(10), u64::MAX, "is not a byte count")? {
        request.int("bytes", b);
    }
    if let Some(b) = f.int(at(11), u64::MAX, "is not a byte count")? {
        response.int("bytes", b);
    }
    if let Some(req) = f.get(at(12)) {
        // `METHOD URL PROTOCOL`; `- - - ` for TCP listeners.
        let mut parts = req.splitn(3, ' ');
        let method = parts.next().filter(|m| *m != "-" && !m.is_empty());
        let original = parts.next().filter(|u| *u != "-" && !u.is_empty());
        let version = parts
            .next()
            .map(str::trim)
            .filter(|v| *v != "-" && !v.is_empty());
        if let Some(m) = method {
            if m.len() > 32 || !m.bytes().all(|b| b.is_ascii_alphabetic()) {
                return Err((at(12), "has no HTTP method"));
            }
            request.str("method", m);
        }
        if let Some(u) = original {
            if !keyword_ok(u) {
                return Err((at(12), "has a URL longer than 1024 bytes"));
            }
            url.str("original", u);
        }
        if let Some(v) = version {
            http.str("version", v.strip_prefix("HTTP/").unwrap_or(v));
        }
    }
    if let Some(ua) = f.keyword(at(13))? {
        agent.str("original", ua);
    }
    if let Some(c) = f.keyword(at(14))? {
        tls.str("cipher", c);
    }
    if let Some((proto, version)) = f.keyword(at(15))?.and_then(tls_version) {
        tls.str("version", &version);
        tls.str("version_protocol", proto);
    }
    if kind == ElbKind::Alb {
        if let Some(arn) = f.keyword(16)? {
            let mut tg = Obj::default();
            tg.str("arn", arn);
            elb.obj("target_group", tg);
        }
        if let Some(t) = f.keyword(17)? {
            elb.str("trace_id", t);
        }
        if let Some(d) = f.keyword(18)? {
            let mut client = Obj::default();
            client.str("server_name", d);
            tls.obj("client", client);
        }
        if let Some(arn) = f.keyword(19)? {
            let mut cert = Obj::default();
            cert.str("arn", arn);
            elb.obj("chosen_cert", cert);
        }
        if let Some(p) = f.keyword(20)? {
            elb.str("matched_rule_priority", p);
        }
        if let Some(start) = f.time(21)? {
            event.time("start", start);
        }
        if let Some(a) = f.keyword(22)? {
            elb.list("action_executed", a);
        }
        for (i, key) in [(23, "redirect_url"), (24, "error_reason")] {
            if let Some(v) = f.keyword(i)? {
                elb.str(key, v);
            }
        }
        for (i, key) in [(25, "target_port_list"), (26, "target_status_code_list")] {
            if let Some(v) = f.keyword(i)? {
                elb.list(key, v);
            }
        }
        for (i, key) in [
            (27, "classification"),
            (28, "classification_reason"),
            (29, "connection_trace_id"),
        ] {
            if let Some(v) = f.keyword(i)? {
                elb.str(key, v);
            }
        }
    }
    if let Some(t) = time {
        event.time("end", t);
    }
    if let Some(ns) = total.filter(|_| f.get(at(5)).is_some()) {
        event.int("duration", ns);
    }
    http.obj("request", request);
    http.obj("response", response);
    write(
        parsed,
        event,
        elb,
        [
            ("source", source),
            ("destination", Obj::default()),
            ("http", http),
            ("url", url),
            ("user_agent", agent),
            ("tls", tls),
        ],
    );
    Ok(time)
}

fn nlb(f: &Fields<'_>, parsed: &mut Parsed) -> Result<Option<i64>, Why> {
    let mut elb = Obj::default();
    let mut event = Obj::default();
    let mut source = Obj::default();
    let mut destination = Obj::default();
    let mut tls = Obj::default();
    if let Some(t) = f.keyword(0)? {
        elb.str("type", t);
    }
    if let Some(v) = f.keyword(1)? {
        elb.str("version", v);
    }
    let time = f.time(2)?;
    for (i, key) in [(3, "name"), (4, "listener")] {
        if let Some(v) = f.keyword(i)? {
            elb.str(key, v);
        }
    }
    if let Some((ip, port)) = f.address(5)? {
        source.str("ip", ip);
        source.int("port", port);
    }
    if let Some((ip, port)) = f.address(6)? {
        destination.str("ip", ip);
        destination.int("port", port);
    }
    for (i, key) in [(7, "connection_time"), (8, "tls_handshake_time")] {
        if let Some(v) = f.int(i, u64::MAX, "is not a number of milliseconds")? {
            let mut ms = Obj::default();
            ms.int("ms", v);
            elb.obj(key, ms);
        }
    }
    if let Some(b) = f.int(9, u64::MAX, "is not a byte count")? {
        source.int("bytes", b);
    }
    if let Some(b) = f.int(10, u64::MAX, "is not a byte count")? {
        destination.int("bytes", b);
    }
    if let Some(v) = f.keyword(11)? {
        elb.str("incoming_tls_alert", v);
    }
    let mut cert = Obj::default();
    if let Some(v) = f.keyword(12)? {
        cert.str("arn", v);
    }
    if let Some(v) = f.keyword(13)? {
        cert.str("serial", v);
    }
    elb.obj("chosen_cert", cert);
    if let Some(c) = f.keyword(14)? {
        tls.str("cipher", c);
    }
    if let Some((proto, version)) = f.keyword(15)?.and_then(tls_version) {
        tls.str("version", &version);
        tls.str("version_protocol", proto);
    }
    if let Some(g) = f.keyword(16)? {
        tls.str("curve", g);
    }
    if let Some(d) = f.keyword(17)? {
        let mut client = Obj::default();
        client.str("server_name", d);
        tls.obj("client", client);
    }
    if let Some(p) = f.keyword(18)? {
        tls.str("next_protocol", p);
    }
    for (i, key) in [
        (19, "alpn_be_protocol"),
        (20, "alpn_client_preference_list"),
    ] {
        if let Some(v) = f.keyword(i)? {
            elb.str(key, v);
        }
    }
    if let Some(start) = f.time(21)? {
        event.time("start", start);
    }
    if let Some(t) = time {
        event.time("end", t);
    }
    write(
        parsed,
        event,
        elb,
        [
            ("source", source),
            ("destination", destination),
            ("http", Obj::default()),
            ("url", Obj::default()),
            ("user_agent", Obj::default()),
            ("tls", tls),
        ],
    );
    Ok(time)
}

fn write(parsed: &mut Parsed, event: Obj, elb: Obj, top: [(&str, Obj); 6]) {
    if !event.0.is_empty() {
        parsed.event.push(b',');
        parsed.event.extend_from_slice(&event.0);
    }
    if !elb.0.is_empty() {
        parsed.aws.extend_from_slice(b"\"elb\":{");
        parsed.aws.extend_from_slice(&elb.0);
        parsed.aws.extend_from_slice(b"},");
    }
    for (key, obj) in top {
        if !obj.0.is_empty() {
            parsed.top.push(b',');
            push_key(&mut parsed.top, key);
            parsed.top.push(b'{');
            parsed.top.extend_from_slice(&obj.0);
            parsed.top.push(b'}');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    /// The fields of `line` as one JSON object: event, aws and top-level members.
    fn fields(kind: ElbKind, line: &str) -> (Option<i64>, Value, String) {
        let mut p = Parsed::default();
        let t = parse(kind, line, &mut p);
        let text = format!(
            "{{\"event\":{{\"id\":\"x\"{}}},\"aws\":{{{}\"cloudwatch\":{{}}}}{}}}",
            String::from_utf8_lossy(&p.event),
            String::from_utf8_lossy(&p.aws),
            String::from_utf8_lossy(&p.top)
        );
        let v = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
        (t, v, p.error)
    }

    const HTTPS: &str = r#"https 2018-07-02T22:23:00.186641Z app/my-loadbalancer/50dc6c495c0c9188 192.168.131.39:2817 10.0.0.1:80 0.086 0.048 0.037 200 200 0 57 "GET https://www.example.com:443/ HTTP/1.1" "curl/7.46.0" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/my-targets/73e2d6bc24d8a067 "Root=1-58337281-1d84f3d73c47ec4e58577259" "www.example.com" "arn:aws:acm:us-east-2:123456789012:certificate/12345678-1234-1234-1234-123456789012" 1 2018-07-02T22:22:48.364000Z "authenticate,forward" "-" "-" "10.0.0.1:80" "200" "-" "-" TID_1234abcd5678ef90"#;

    #[test]
    fn alb_https_entry() {
        assert_eq!(detect(HTTPS), Some(ElbKind::Alb));
        let (t, v, err) = fields(ElbKind::Alb, HTTPS);
        assert_eq!(err, "");
        assert_eq!(t, Some(1_530_570_180_186));
        assert_eq!(
            v,
            json!({
                "event": {"id": "x", "start": "2018-07-02T22:22:48.364Z", "end": "2018-07-02T22:23:00.186Z", "duration": 171_000_000},
                "aws": {"elb": {
                    "type": "https",
                    "name": "app/my-loadbalancer/50dc6c495c0c9188",
                    "request_processing_time": {"sec": 0.086},
                    "target_processing_time": {"sec": 0.048},
                    "response_processing_time": {"sec": 0.037},
                    "target": {"ip": "10.0.0.1", "port": 80, "status_code": 200},
                    "target_group": {"arn": "arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/my-targets/73e2d6bc24d8a067"},
                    "trace_id": "Root=1-58337281-1d84f3d73c47ec4e58577259",
                    "chosen_cert": {"arn": "arn:aws:acm:us-east-2:123456789012:certificate/12345678-1234-1234-1234-123456789012"},
                    "matched_rule_priority": "1",
                    "action_executed": ["authenticate", "forward"],
                    "target_port_list": ["10.0.0.1:80"],
                    "target_status_code_list": ["200"],
                    "connection_trace_id": "TID_1234abcd5678ef90"
                }, "cloudwatch": {}},
                "source": {"ip": "192.168.131.39", "port": 2817},
                "http": {"version": "1.1", "request": {"bytes": 0, "method": "GET"}, "response": {"status_code": 200, "bytes": 57}},
                "url": {"original": "https://www.example.com:443/"},
                "user_agent": {"original": "curl/7.46.0"},
                "tls": {"cipher": "ECDHE-RSA-AES128-GCM-SHA256", "version": "1.2", "version_protocol": "tls", "client": {"server_name": "www.example.com"}}
            })
        );
    }

    #[test]
    fn alb_entries_without_a_target_and_older_layouts() {
        // A fixed response with no target, -1 times: no duration, no target address.
        let line = r#"h2 2018-07-02T22:23:00.186641Z app/lb/1 10.0.1.252:48160 - -1 -1 -1 503 - 100 232 "GET https://x.example.com:443/a?b=1 HTTP/2.0" "-" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 - "Root=1-5" "-" "-" 0 2018-07-02T22:22:48.364000Z "fixed-response" "-" "-" "-" "-" "-" "-""#;
        let (_, v, err) = fields(ElbKind::Alb, line);
        assert_eq!(err, "");
        assert!(v["event"].get("duration").is_none());
        assert_eq!(v["aws"]["elb"]["request_processing_time"]["sec"], json!(-1));
        assert!(v["aws"]["elb"].get("target").is_none());
        assert!(v.get("user_agent").is_none());
        assert_eq!(v["http"]["version"], "2.0");
        // The first 13 fields only (as the oldest logs have): fine.
        let old = r#"http 2016-08-10T00:00:00.000000Z app/lb/1 1.2.3.4:5 - 0.000 0.001 0.000 200 200 34 366 "GET http://www.example.com:80/ HTTP/1.1""#;
        assert_eq!(fields(ElbKind::Alb, old).2, "");
        // Unknown trailing fields are ignored.
        let newer = format!("{HTTPS} \"transformed.example.com\" \"/x\" \"-\" extra");
        assert_eq!(fields(ElbKind::Alb, &newer).2, "");
    }

    #[test]
    fn bad_alb_entries_are_parse_errors_without_fields() {
        for (line, error) in [
            (
                HTTPS.replace(" 200 200 ", " 2000 200 "),
                "alb: field 9 (elb_status_code) is not a status code",
            ),
            (
                HTTPS.replace("192.168.131.39:2817", "nowhere:1"),
                "alb: field 4 (client:port) is not an IP address",
            ),
            (
                HTTPS.replace("0.086", "fast"),
                "alb: field 6 (request_processing_time) is not a number of seconds",
            ),
            (
                "http 2018-07-02T22:23:00Z x".to_string(),
                "alb: 3 fields; the format has at least 13",
            ),
        ] {
            let mut p = Parsed::default();
            parse(ElbKind::Alb, &line, &mut p);
            assert_eq!(p.error, error);
            assert!(p.event.is_empty() && p.aws.is_empty() && p.top.is_empty());
        }
    }

    #[test]
    fn classic_and_network_load_balancers() {
        let classic = r#"2015-05-13T23:39:43.945958Z my-loadbalancer 192.168.131.39:2817 10.0.0.1:80 0.000073 0.001048 0.000057 200 200 0 29 "GET http://www.example.com:80/ HTTP/1.1" "curl/7.38.0" - -"#;
        assert_eq!(detect(classic), Some(ElbKind::Classic));
        let (t, v, err) = fields(ElbKind::Classic, classic);
        assert_eq!(err, "");
        assert_eq!(t, Some(1_431_560_383_945));
        assert_eq!(v["aws"]["elb"]["type"], "classic");
        assert_eq!(
            v["aws"]["elb"]["target"],
            json!({"ip": "10.0.0.1", "port": 80, "status_code": 200})
        );
        assert_eq!(v["event"]["duration"], 1_178_000);
        let tcp = r#"2015-05-13T23:39:43.945958Z my-loadbalancer 192.168.131.39:2817 10.0.0.1:80 0.001069 0.000028 0.000041 - - 82 305 "- - - " "-" - -"#;
        let (_, v, err) = fields(ElbKind::Classic, tcp);
        assert_eq!(err, "");
        assert!(v.get("url").is_none() && v["http"].get("version").is_none());

        let nlb = "tls 2.0 2018-12-20T02:59:40 net/my-network-loadbalancer/c6e77e28c25b2234 g3d4b5e8bb8464cd 72.21.218.154:51341 172.100.100.185:443 5 2 98 246 - arn:aws:acm:us-east-2:671290407336:certificate/2a108f19-aded-46b0-8493-c63eb1ef4a99 - ECDHE-RSA-AES128-SHA tlsv12 - my-network-loadbalancer-c6e77e28c25b2234.elb.us-east-2.amazonaws.com - - - 2018-12-20T02:59:30";
        assert_eq!(detect(nlb), Some(ElbKind::Nlb));
        let (t, v, err) = fields(ElbKind::Nlb, nlb);
        assert_eq!(err, "");
        assert_eq!(t, Some(1_545_274_780_000));
        assert_eq!(
            v["source"],
            json!({"ip": "72.21.218.154", "port": 51341, "bytes": 98})
        );
        assert_eq!(
            v["destination"],
            json!({"ip": "172.100.100.185", "port": 443, "bytes": 246})
        );
        assert_eq!(v["tls"]["version"], "1.2");
        assert_eq!(v["aws"]["elb"]["connection_time"]["ms"], 5);
        assert_eq!(v["event"]["start"], "2018-12-20T02:59:30.000Z");
    }

    #[test]
    fn not_load_balancer_logs() {
        for line in [
            "",
            "2 123456789012 eni-1 1.2.3.4",
            "{\"Records\":[]}",
            "http x",
        ] {
            assert_eq!(detect(line), None, "{line}");
        }
    }

    proptest::proptest! {
        #[test]
        fn any_line_gives_valid_json_or_an_error(line in "(?s).{0,300}", kind in 0usize..3) {
            let kind = [ElbKind::Alb, ElbKind::Classic, ElbKind::Nlb][kind];
            let mut p = Parsed::default();
            parse(kind, &line, &mut p);
            let text = format!(
                "{{\"event\":{{\"id\":\"x\"{}}},\"aws\":{{{}\"cloudwatch\":{{}}}}{}}}",
                String::from_utf8_lossy(&p.event),
                String::from_utf8_lossy(&p.aws),
                String::from_utf8_lossy(&p.top)
            );
            proptest::prop_assert!(serde_json::from_str::<Value>(&text).is_ok(), "{}", text);
        }
    }
}
