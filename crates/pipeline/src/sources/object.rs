//! One S3 object, start to finish: its format (from the key and its first bytes), its records
//! one at a time, and their `_bulk` items in chunks of about `max_bulk_bytes`.

use super::elb::{self, ElbKind};
use super::layout::KeyLayout;
use super::read::{self, Content, RecordsArray};
use super::{S3SourceConfig, SourceError, SourceErrorKind, parse_iso_ms, waf};
use crate::index::{BulkChunk, DocIds, DocumentBuilder, IndexConfig};
use crate::shape::config::Formats;
use crate::shape::vpc_flow::{self, FlowFormat};
use crate::util::json::push_str;
use cwlogs_decode::{LogBatch, LogEvent, MessageType};
use std::borrow::Cow;
use std::io::Read;

/// The most records in one chunk, whatever their size.
const MAX_CHUNK_RECORDS: usize = 50_000;

/// What the records of S3 objects are indexed with, built once from the configuration:
/// `[index]` (its documents with the CloudTrail parser on and nothing else of `[parse]`: the
/// formats here have their own parsers) and `[sources.s3]`.
#[derive(Debug, Clone)]
pub struct S3Indexing {
    index: IndexConfig,
    source: S3SourceConfig,
}

impl S3Indexing {
    /// From `[index]` and `[sources.s3]`.
    pub fn new(index: &IndexConfig, source: &S3SourceConfig) -> S3Indexing {
        let mut index = index.clone();
        let shape = &mut index.documents.shape;
        shape.formats = Formats {
            cloudtrail: true,
            ..Formats::NONE
        };
        shape.vpc_flow.clear();
        shape.multiline.clear();
        S3Indexing {
            index,
            source: source.clone(),
        }
    }

    /// `[index]` as used for S3 records.
    pub fn index(&self) -> &IndexConfig {
        &self.index
    }

    /// `[sources.s3]`.
    pub fn source(&self) -> &S3SourceConfig {
        &self.source
    }
}

/// A log format read from S3.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Format {
    /// CloudTrail log files.
    CloudTrail,
    /// VPC flow logs, in the format their header names.
    VpcFlow(FlowFormat),
    /// Elastic Load Balancing access logs.
    Elb(ElbKind),
    /// WAF logs.
    Waf,
}

impl Format {
    /// A short name: `cloudtrail`, `vpc-flow`, `alb`, `elb`, `nlb`, `waf`.
    pub fn name(&self) -> &'static str {
        match self {
            Format::CloudTrail => "cloudtrail",
            Format::VpcFlow(_) => "vpc-flow",
            Format::Elb(k) => k.as_str(),
            Format::Waf => "waf",
        }
    }

    /// The service segment AWS delivers the format under, lowercased: `{service}` when the
    /// key does not say.
    pub fn service(&self) -> &'static str {
        match self {
            Format::CloudTrail => "cloudtrail",
            Format::VpcFlow(_) => "vpcflowlogs",
            Format::Elb(_) => "elasticloadbalancing",
            Format::Waf => "waflogs",
        }
    }
}

/// What an object holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Detected {
    /// Records of a log format.
    Records(Format),
    /// Nothing to index, on purpose (a CloudTrail digest file, an empty log file): counted
    /// as skipped.
    Skip(&'static str),
    /// None of the formats here: for the subscription decoder (archive objects, dead letters,
    /// Lambda events), which dead-letters what it cannot read either.
    NotALog,
}

/// Why an object is skipped without reading it, from its key alone: CloudTrail digest files.
pub fn skip_reason(key: &str) -> Option<&'static str> {
    KeyLayout::of(key)
        .is_digest()
        .then_some("CloudTrail digest file")
}

/// The records of one object read so far, as `_bulk` items.
#[derive(Debug, Default)]
pub struct ObjectChunk {
    /// Items per target index, in first-seen order.
    pub bulk: Vec<BulkChunk>,
    /// Records read (documents built plus those the index's route left out).
    pub records: usize,
    /// Records the index's route left out.
    pub filtered: usize,
    /// Values `[redact]` replaced in these records' documents, per detector.
    pub redacted: crate::redact::RedactCounts,
    /// The time of the oldest record, for the delivery lag.
    pub oldest_ms: Option<i64>,
    /// The records as events of a batch (log group `s3://{bucket}/{service}`, stream the key,
    /// event ids the positions), when asked for ([`ObjectStream::keep_events`]): for the
    /// rules.
    pub batch: Option<LogBatch<'static>>,
}

/// An object being read: opened with [`ObjectStream::open`], then [`ObjectStream::next_chunk`]
/// until `None`.
pub struct ObjectStream<'c, R: Read> {
    s3: &'c S3Indexing,
    content: Content<R>,
    detected: Detected,
    layout: KeyLayout,
    bucket: String,
    key: String,
    service: String,
    account: String,
    region: String,
    group: String,
    builder: Option<DocumentBuilder<'c>>,
    ids: DocIds,
    /// The current record's `_id` (hex).
    id: Vec<u8>,
    buf: Vec<u8>,
    array: RecordsArray,
    /// The position of the next record (line number, or index in `Records`).
    position: u64,
    scratch: vpc_flow::Scratch,
    /// The flow log field giving the time (`start`, else `end`), by position.
    flow_time: Option<usize>,
    /// The header names the default format.
    flow_default: bool,
    done: bool,
    keep_events: bool,
    /// Documents built in all.
    pub documents: u64,
}

impl<R: Read> std::fmt::Debug for ObjectStream<'_, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectStream")
            .field("bucket", &self.bucket)
            .field("key", &self.key)
            .field("detected", &self.detected)
            .field("position", &self.position)
            .finish()
    }
}

impl<'c, R: Read> ObjectStream<'c, R> {
    /// Opens the object `bucket`/`key` whose body is `body`: reads its first bytes and tells
    /// its format. `region` is used when the key does not name one.
    pub fn open(
        s3: &'c S3Indexing,
        bucket: &str,
        key: &str,
        region: &str,
        body: R,
    ) -> Result<ObjectStream<'c, R>, SourceError> {
        let layout = KeyLayout::of(key);
        let source = &s3.source;
        let (head, content) =
            read::open(body, source.max_object_bytes, source.max_decompressed_bytes)?;
        let detected = if layout.is_digest() {
            Detected::Skip("CloudTrail digest file")
        } else {
            detect(&layout, &head)?
        };
        let service = match (&layout.service, &detected) {
            (Some(s), _) => s.clone(),
            (None, Detected::Records(f)) => f.service().to_string(),
            (None, _) => "unknown".to_string(),
        };
        let account = layout.account.clone().unwrap_or_else(|| "unknown".into());
        let region = layout.region.clone().unwrap_or_else(|| region.to_string());
        let group = format!("s3://{bucket}/{service}");
        let flow_time = match &detected {
            Detected::Records(Format::VpcFlow(f)) => ["start", "end"]
                .iter()
                .find_map(|name| f.fields().iter().position(|d| d.name == *name)),
            _ => None,
        };
        let detected_format = match &detected {
            Detected::Records(Format::VpcFlow(f)) => Some(f.clone()),
            _ => None,
        };
        let builder = match &detected {
            Detected::Records(_) => Some(DocumentBuilder::for_object(
                &s3.index.documents,
                &region,
                &account,
                &group,
                bucket,
                key,
            )),
            _ => None,
        };
        Ok(ObjectStream {
            s3,
            content,
            done: !matches!(detected, Detected::Records(_)),
            detected,
            layout,
            bucket: bucket.to_string(),
            key: key.to_string(),
            service,
            account,
            region,
            group,
            builder,
            ids: DocIds::new(bucket, key),
            id: Vec::with_capacity(32),
            buf: Vec::new(),
            array: RecordsArray::default(),
            position: 0,
            scratch: vpc_flow::Scratch::default(),
            flow_time,
            flow_default: matches!(&detected_format, Some(f) if f == FlowFormat::default_format()),
            keep_events: false,
            documents: 0,
        })
    }

    /// Also returns each chunk's records as a batch ([`ObjectChunk::batch`]), for the rules.
    pub fn keep_events(mut self, keep: bool) -> Self {
        self.keep_events = keep;
        self
    }

    /// What the object holds.
    pub fn detected(&self) -> &Detected {
        &self.detected
    }

    /// `{service}`: the key's service segment, or the format's.
    pub fn service(&self) -> &str {
        &self.service
    }

    /// The log group the records stand for in routes, enrichment, rules and self-metrics:
    /// `s3://{bucket}/{service}`.
    pub fn group(&self) -> &str {
        &self.group
    }

    /// Whether the object was gzip.
    pub fn is_gzip(&self) -> bool {
        read::is_gzip(&self.content)
    }

    /// Bytes read so far: as stored, and decompressed.
    pub fn bytes_read(&self) -> (u64, u64) {
        read::counts(&self.content)
    }

    /// The next records, as `_bulk` items of about `max_bulk_bytes` (at least one record
    /// unless the object has no more); `None` at the end. After an error, the object cannot
    /// be read further.
    pub fn next_chunk(&mut self) -> Result<Option<ObjectChunk>, SourceError> {
        if self.done {
            return Ok(None);
        }
        let max_bytes = self.s3.index.max_bulk_bytes.max(1);
        let mut chunk = ObjectChunk::default();
        let mut size = 0usize;
        let mut events: Vec<LogEvent<'static>> = Vec::new();
        let span = self.s3.index.index.granularity();
        let mut current: Option<(i64, usize)> = None;
        while size < max_bytes && chunk.records < MAX_CHUNK_RECORDS {
            let Some((position, time)) = self.read_record().inspect_err(|_| self.done = true)?
            else {
                self.done = true;
                break;
            };
            if self.buf.is_empty()
                && !matches!(self.detected, Detected::Records(Format::CloudTrail))
            {
                continue; // a blank line
            }
            chunk.records += 1;
            // The common case checked at `from_utf8`'s speed; invalid bytes become U+FFFD.
            let text = match std::str::from_utf8(&self.buf) {
                Ok(t) => Cow::Borrowed(t),
                Err(_) => String::from_utf8_lossy(&self.buf),
            };
            let mut digits = [0u8; 20];
            self.id.clear();
            self.ids
                .push(&mut self.id, position_text(position, &mut digits));
            let id = std::str::from_utf8(&self.id).unwrap_or_default();
            // The parsers that read the record themselves give its time; CloudTrail's was
            // found while reading it.
            let builder = self.builder.as_mut().ok_or_else(|| {
                SourceError::new(SourceErrorKind::Format, "no format to read the object with")
            })?;
            let parsed_time = match &self.detected {
                Detected::Records(Format::VpcFlow(f)) => {
                    let parsed = builder.parsed_mut();
                    parsed.clear();
                    // The default format has the parser's fast path.
                    let f = if self.flow_default {
                        FlowFormat::default_format()
                    } else {
                        f
                    };
                    if let Err(e) = vpc_flow::parse(f, &text, parsed, &mut self.scratch) {
                        e.report(parsed);
                    }
                    self.flow_time
                        .and_then(|i| nth_field(&text, i))
                        .and_then(|t| t.parse::<i64>().ok())
                        .filter(|s| (0..=253_402_300_799).contains(s))
                        .map(|s| s * 1000)
                }
                Detected::Records(Format::Elb(kind)) => {
                    elb::parse(*kind, &text, builder.parsed_mut())
                }
                Detected::Records(Format::Waf) => waf::parse(&text, builder.parsed_mut()),
                _ => time,
            };
            let timestamp = parsed_time.or(self.layout.date_ms).unwrap_or(0);
            if self.keep_events {
                events.push(LogEvent {
                    id: Cow::Owned(position.to_string()),
                    timestamp,
                    message: Cow::Owned(text.to_string()),
                });
            }
            let route = &self.s3.index.route;
            if !route.takes_group(&self.group)
                || (route.filters_events() && !route.takes(&cwlogs_filter::Message::new(&text)))
            {
                chunk.filtered += 1;
                continue;
            }
            chunk.oldest_ms = Some(chunk.oldest_ms.map_or(timestamp, |o| o.min(timestamp)));
            let event = LogEvent {
                id: Cow::Borrowed(id),
                timestamp,
                message: Cow::Borrowed(&text),
            };
            let bucket = timestamp.div_euclid(span);
            let at = match current {
                Some((b, i)) if b == bucket => i,
                _ => {
                    let name = self.s3.source.index.render(
                        &self.service,
                        &self.account,
                        &self.region,
                        timestamp,
                    );
                    let i = match chunk.bulk.iter().position(|c| c.index == name) {
                        Some(i) => i,
                        None => {
                            chunk.bulk.push(BulkChunk {
                                index: name,
                                body: Vec::with_capacity(if chunk.bulk.is_empty() {
                                    max_bytes + max_bytes / 4
                                } else {
                                    0
                                }),
                                ends: Vec::new(),
                            });
                            chunk.bulk.len() - 1
                        }
                    };
                    current = Some((bucket, i));
                    i
                }
            };
            let c = &mut chunk.bulk[at];
            let before = c.body.len();
            let out = &mut c.body;
            out.extend_from_slice(b"{\"create\":{\"_index\":");
            push_str(out, &c.index);
            if self.s3.index.document_ids {
                out.extend_from_slice(b",\"_id\":\"");
                out.extend_from_slice(id.as_bytes());
                out.extend_from_slice(b"\"}}\n");
            } else {
                out.extend_from_slice(b"}}\n");
            }
            match &self.detected {
                Detected::Records(Format::CloudTrail) => builder.push(out, &event),
                _ => builder.push_parsed(out, &event),
            }
            c.ends.push(out.len());
            size += out.len() - before;
            self.documents += 1;
        }
        if chunk.records == 0 {
            return Ok(None);
        }
        if let Some(b) = self.builder.as_mut() {
            chunk.redacted = b.take_redacted();
        }
        if self.keep_events {
            chunk.batch = Some(LogBatch {
                message_type: MessageType::Data,
                owner: Cow::Owned(self.account.clone()),
                log_group: Cow::Owned(self.group.clone()),
                log_stream: Cow::Owned(self.key.clone()),
                subscription_filters: Vec::new(),
                policy_level: None,
                region: Some(Cow::Owned(self.region.clone())),
                log_events: events,
            });
        }
        Ok(Some(chunk))
    }

    /// Reads the next record into `self.buf`: its position and, for CloudTrail, its
    /// `eventTime`; `None` at the end.
    fn read_record(&mut self) -> Result<Option<(u64, Option<i64>)>, SourceError> {
        let Detected::Records(format) = &self.detected else {
            return Ok(None);
        };
        if *format == Format::CloudTrail {
            let Some(element) = self.array.next(&mut self.content, &mut self.buf)? else {
                return Ok(None);
            };
            let position = self.position;
            self.position += 1;
            let time = element
                .event_time
                .and_then(|(s, e)| std::str::from_utf8(&self.buf[s..e]).ok())
                .and_then(parse_iso_ms);
            return Ok(Some((position, time)));
        }
        loop {
            if !read::read_line(&mut self.content, &mut self.buf)? {
                return Ok(None);
            }
            let position = self.position;
            self.position += 1;
            // The flow log header is not a record.
            if position == 0 && matches!(format, Format::VpcFlow(_)) {
                continue;
            }
            return Ok(Some((position, None)));
        }
    }
}

/// Field `n` (0-based) of a space-separated record: found with the spaces' positions (SIMD),
/// as the flow log parser splits (a run of spaces counts as one).
fn nth_field(text: &str, n: usize) -> Option<&str> {
    let b = text.as_bytes();
    let mut start = 0;
    let mut seen = 0;
    let mut spaces = memchr::memchr_iter(b' ', b);
    loop {
        let end = spaces.next().unwrap_or(b.len());
        if end > start {
            if seen == n {
                return text.get(start..end);
            }
            seen += 1;
        }
        if end == b.len() {
            return None;
        }
        start = end + 1;
    }
}

/// `n` in decimal, in `digits`.
fn position_text(mut n: u64, digits: &mut [u8; 20]) -> &str {
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    std::str::from_utf8(&digits[at..]).unwrap_or("0")
}

/// The first line of `head` (all of it when it has no line feed), lossily as text.
fn first_line(head: &[u8]) -> Cow<'_, str> {
    let end = memchr::memchr(b'\n', head).unwrap_or(head.len());
    let line = &head[..end];
    String::from_utf8_lossy(line.strip_suffix(b"\r").unwrap_or(line))
}

/// The flow log format a first line names, when it looks like a header (lowercase field names
/// and at least one field every flow log has); an error when it names unknown fields.
fn flow_header(line: &str) -> Option<Result<FlowFormat, String>> {
    const CORE: [&str; 8] = [
        "srcaddr",
        "dstaddr",
        "srcport",
        "dstport",
        "interface-id",
        "account-id",
        "log-status",
        "action",
    ];
    let tokens: Vec<&str> = line.split_ascii_whitespace().collect();
    let names = tokens.len() >= 2
        && tokens.iter().all(|t| {
            t.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
                && t.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        });
    if !names || !tokens.iter().any(|t| CORE.contains(t)) {
        return None;
    }
    Some(header_format(&tokens))
}

fn header_format(tokens: &[&str]) -> Result<FlowFormat, String> {
    let text: Vec<String> = tokens.iter().map(|t| format!("${{{t}}}")).collect();
    FlowFormat::parse(&text.join(" "))
        .map_err(|e| format!("the flow log header line is not a format AWS documents: {e}"))
}

/// Whether `text` holds an `"eventSource": "aws:..."` member: the records of Lambda events
/// (`aws:kinesis`, `aws:sqs`) and S3 notifications (`aws:s3`) look like CloudTrail's
/// (`Records`, `eventVersion`), but CloudTrail's event sources are service hosts
/// (`iam.amazonaws.com`).
fn transport_event(text: &str) -> bool {
    text.match_indices("\"eventSource\"").any(|(at, key)| {
        let rest = text[at + key.len()..].trim_start();
        rest.strip_prefix(':')
            .map(str::trim_start)
            .is_some_and(|v| v.starts_with("\"aws:"))
    })
}

/// Tells the format of an object from its key's layout and its first decompressed bytes.
fn detect(layout: &KeyLayout, head: &[u8]) -> Result<Detected, SourceError> {
    let format_error = |m: String| SourceError::new(SourceErrorKind::Format, m);
    let line = first_line(head);
    let blank = head.iter().all(u8::is_ascii_whitespace);
    let json = head.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
    match layout.service.as_deref() {
        Some(s) if s.starts_with("cloudtrail") => {
            return Ok(if blank {
                Detected::Skip("empty object")
            } else {
                Detected::Records(Format::CloudTrail)
            });
        }
        Some("vpcflowlogs") => {
            if blank {
                return Ok(Detected::Skip("empty object"));
            }
            if head.starts_with(b"PAR1") {
                return Err(format_error(
                    "a Parquet flow log: only the text format can be read (choose `plain-text` for the flow log's file format)".into(),
                ));
            }
            let tokens: Vec<&str> = line.split_ascii_whitespace().collect();
            return header_format(&tokens)
                .map(|f| Detected::Records(Format::VpcFlow(f)))
                .map_err(format_error);
        }
        Some("elasticloadbalancing") => {
            if blank {
                return Ok(Detected::Skip("empty object"));
            }
            return elb::detect(&line)
                .map(|k| Detected::Records(Format::Elb(k)))
                .ok_or_else(|| {
                    format_error(
                        "the key is an Elastic Load Balancing log's, but the first line is not an access log entry of an Application, Classic or Network Load Balancer".into(),
                    )
                });
        }
        Some("waflogs") => {
            return Ok(if blank {
                Detected::Skip("empty object")
            } else {
                Detected::Records(Format::Waf)
            });
        }
        _ => {}
    }
    if json {
        let text = String::from_utf8_lossy(head);
        let compact: String = text
            .chars()
            .filter(|c| !c.is_whitespace())
            .take(12)
            .collect();
        if compact.starts_with("{\"Records\":")
            && text.contains("\"eventVersion\"")
            && !transport_event(&text)
        {
            return Ok(Detected::Records(Format::CloudTrail));
        }
        if text.contains("\"digestStartTime\"") && text.contains("\"digestS3Object\"") {
            return Ok(Detected::Skip("CloudTrail digest file"));
        }
        if waf::detect(&line) {
            return Ok(Detected::Records(Format::Waf));
        }
        return Ok(Detected::NotALog);
    }
    if let Some(f) = flow_header(&line) {
        return f
            .map(|f| Detected::Records(Format::VpcFlow(f)))
            .map_err(format_error);
    }
    if let Some(k) = elb::detect(&line) {
        return Ok(Detected::Records(Format::Elb(k)));
    }
    Ok(Detected::NotALog)
}
