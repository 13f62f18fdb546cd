//! What tells a function that objects are there to read: S3 event notifications (delivered to
//! Lambda directly, through SQS, or through SNS then SQS), EventBridge `Object Created` events
//! (directly or through SQS), and S3 Batch Operations jobs (invocation schema 1.0 and 2.0).
//! Pure: the objects named, per message or task, and the dead letter that names one object
//! again.

use serde_json::Value;

/// One object to read: where it is and which version the notification was about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectRef {
    /// The bucket.
    pub bucket: String,
    /// The key, decoded.
    pub key: String,
    /// The version the notification was about (versioned buckets): the one read.
    pub version_id: Option<String>,
    /// The ETag the notification saw (unversioned buckets): the read is conditional on it.
    pub etag: Option<String>,
    /// The size the notification saw.
    pub size: Option<u64>,
}

impl ObjectRef {
    /// `s3://bucket/key` (and `?versionId=` when there is one).
    pub fn url(&self) -> String {
        match &self.version_id {
            Some(v) => format!("s3://{}/{}?versionId={v}", self.bucket, self.key),
            None => format!("s3://{}/{}", self.bucket, self.key),
        }
    }

    /// A direct S3 event notification naming this object alone: what a dead letter of the
    /// object keeps (the index function, or `cwlogs replay`, reads the object again from it).
    pub fn notification(&self) -> Vec<u8> {
        let mut object = serde_json::json!({"key": url_encode(&self.key)});
        if let Some(s) = self.size {
            object["size"] = s.into();
        }
        if let Some(e) = &self.etag {
            object["eTag"] = e.clone().into();
        }
        if let Some(v) = &self.version_id {
            object["versionId"] = v.clone().into();
        }
        let n = serde_json::json!({"Records": [{
            "eventVersion": "2.1",
            "eventSource": "aws:s3",
            "eventName": "ObjectCreated:Put",
            "s3": {"s3SchemaVersion": "1.0", "bucket": {"name": self.bucket}, "object": object}
        }]});
        let mut out = serde_json::to_vec(&n).unwrap_or_default();
        out.push(b'\n');
        out
    }

    /// The dead letter name of this object: `s3-{hash of bucket, key and version}.json`.
    pub fn dead_letter_name(&self) -> String {
        let id = format!(
            "{}\0{}\0{}",
            self.bucket,
            self.key,
            self.version_id.as_deref().unwrap_or("")
        );
        format!("s3-{}.json", crate::util::hash::short_hash(id.as_bytes()))
    }
}

/// How the notifications arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotificationShape {
    /// An SQS event: each message an S3 notification, an EventBridge event, or an SNS
    /// notification holding an S3 notification.
    Sqs,
    /// An S3 event notification invoking the function directly.
    S3,
    /// An EventBridge event invoking the function directly.
    EventBridge,
    /// An S3 Batch Operations job's tasks.
    BatchOperations,
}

impl NotificationShape {
    /// A short stable name: `sqs`, `s3`, `eventbridge`, `s3-batch`.
    pub fn as_str(self) -> &'static str {
        match self {
            NotificationShape::Sqs => "sqs",
            NotificationShape::S3 => "s3",
            NotificationShape::EventBridge => "eventbridge",
            NotificationShape::BatchOperations => "s3-batch",
        }
    }
}

/// One message (SQS), record (direct S3) or task (Batch Operations): what is answered for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// The SQS message id or the Batch Operations task id.
    pub id: Option<String>,
    /// The objects it names (created objects only: removals and test events name none).
    pub objects: Vec<ObjectRef>,
    /// Why the message could not be read, when it could not (then it names no object).
    pub error: Option<String>,
    /// The message as received, for its dead letter when it cannot be read.
    pub raw: Vec<u8>,
}

/// An event that names objects to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notifications {
    /// How it arrived.
    pub shape: NotificationShape,
    /// Its items, in order.
    pub items: Vec<Item>,
    /// Batch Operations: the invocation id and schema version the answer repeats.
    pub invocation_id: Option<String>,
    /// Batch Operations: `1.0` or `2.0`.
    pub schema_version: Option<String>,
}

/// Reads `bytes` as an event naming S3 objects; `None` when it is none of those (a
/// subscription's payload, say).
pub fn parse(bytes: &[u8]) -> Option<Notifications> {
    // Cheap checks first: subscription payloads never get parsed twice.
    let probe = &bytes[..bytes.len().min(4096)];
    let mentions = |s: &[u8]| memchr::memmem::find(probe, s).is_some();
    if !(mentions(b"aws:sqs")
        || mentions(b"aws:s3")
        || mentions(b"aws.s3")
        || mentions(b"invocationSchemaVersion"))
    {
        return None;
    }
    let v: Value = serde_json::from_slice(bytes).ok()?;
    if let Some(schema) = v.get("invocationSchemaVersion").and_then(Value::as_str) {
        return Some(batch(&v, schema));
    }
    if v.get("source").and_then(Value::as_str) == Some("aws.s3") && v.get("detail").is_some() {
        let objects = eventbridge(&v).map(|o| vec![o]).unwrap_or_default();
        return Some(Notifications {
            shape: NotificationShape::EventBridge,
            items: vec![Item {
                id: v.get("id").and_then(Value::as_str).map(String::from),
                objects,
                error: None,
                raw: bytes.to_vec(),
            }],
            invocation_id: None,
            schema_version: None,
        });
    }
    let records = v.get("Records")?.as_array()?;
    let first = records.first()?;
    match first.get("eventSource").and_then(Value::as_str)? {
        "aws:sqs" => Some(Notifications {
            shape: NotificationShape::Sqs,
            items: records.iter().map(sqs_message).collect(),
            invocation_id: None,
            schema_version: None,
        }),
        "aws:s3" => Some(Notifications {
            shape: NotificationShape::S3,
            items: vec![Item {
                id: None,
                objects: s3_records(records),
                error: None,
                raw: bytes.to_vec(),
            }],
            invocation_id: None,
            schema_version: None,
        }),
        _ => None,
    }
}

fn sqs_message(m: &Value) -> Item {
    let id = m.get("messageId").and_then(Value::as_str).map(String::from);
    let body = m.get("body").and_then(Value::as_str).unwrap_or_default();
    let mut item = Item {
        id,
        objects: Vec::new(),
        error: None,
        raw: body.as_bytes().to_vec(),
    };
    match message_objects(body, 0) {
        Ok(objects) => item.objects = objects,
        Err(e) => item.error = Some(e),
    }
    item
}

/// The objects an SQS message body names.
fn message_objects(body: &str, depth: u8) -> Result<Vec<ObjectRef>, String> {
    let v: Value =
        serde_json::from_str(body).map_err(|e| format!("the SQS message is not JSON: {e}"))?;
    if v.get("Event").and_then(Value::as_str) == Some("s3:TestEvent") {
        return Ok(Vec::new());
    }
    if let Some(records) = v.get("Records").and_then(Value::as_array) {
        return Ok(s3_records(records));
    }
    if v.get("source").and_then(Value::as_str) == Some("aws.s3") && v.get("detail").is_some() {
        return Ok(eventbridge(&v).into_iter().collect());
    }
    // S3 -> SNS -> SQS: the notification is the SNS message.
    if depth == 0
        && v.get("Type").and_then(Value::as_str) == Some("Notification")
        && let Some(inner) = v.get("Message").and_then(Value::as_str)
    {
        return message_objects(inner, 1);
    }
    Err("the SQS message is not an S3 event notification, an EventBridge S3 event or an SNS notification holding one".into())
}

/// The created objects of S3 notification records (keys URL-decoded).
fn s3_records(records: &[Value]) -> Vec<ObjectRef> {
    records
        .iter()
        .filter(|r| {
            r.get("eventName")
                .and_then(Value::as_str)
                .is_some_and(|n| n.starts_with("ObjectCreated:"))
        })
        .filter_map(|r| {
            let s3 = r.get("s3")?;
            let object = s3.get("object")?;
            Some(ObjectRef {
                bucket: s3.get("bucket")?.get("name")?.as_str()?.to_string(),
                key: url_decode(object.get("key")?.as_str()?),
                version_id: string(object.get("versionId")),
                etag: string(object.get("eTag")),
                size: object.get("size").and_then(Value::as_u64),
            })
        })
        .collect()
}

/// The object of an EventBridge `Object Created` event (keys are not encoded there).
fn eventbridge(v: &Value) -> Option<ObjectRef> {
    if v.get("detail-type").and_then(Value::as_str) != Some("Object Created") {
        return None;
    }
    let d = v.get("detail")?;
    let object = d.get("object")?;
    Some(ObjectRef {
        bucket: d.get("bucket")?.get("name")?.as_str()?.to_string(),
        key: object.get("key")?.as_str()?.to_string(),
        version_id: string(object.get("version-id")),
        etag: string(object.get("etag")),
        size: object.get("size").and_then(Value::as_u64),
    })
}

fn batch(v: &Value, schema: &str) -> Notifications {
    let tasks = v.get("tasks").and_then(Value::as_array);
    let items = tasks
        .into_iter()
        .flatten()
        .map(|t| {
            let id = t.get("taskId").and_then(Value::as_str).map(String::from);
            let bucket = t
                .get("s3BucketName")
                .and_then(Value::as_str)
                .map(String::from)
                .or_else(|| {
                    t.get("s3BucketArn")
                        .and_then(Value::as_str)
                        .and_then(|a| a.rsplit(':').next())
                        .map(String::from)
                });
            let key = t.get("s3Key").and_then(Value::as_str).map(url_decode);
            let raw = serde_json::to_vec(t).unwrap_or_default();
            match (bucket, key) {
                (Some(bucket), Some(key)) => Item {
                    id,
                    objects: vec![ObjectRef {
                        bucket,
                        key,
                        version_id: string(t.get("s3VersionId")),
                        etag: None,
                        size: None,
                    }],
                    error: None,
                    raw,
                },
                _ => Item {
                    id,
                    objects: Vec::new(),
                    error: Some("the task names no bucket or no key".into()),
                    raw,
                },
            }
        })
        .collect();
    Notifications {
        shape: NotificationShape::BatchOperations,
        items,
        invocation_id: v
            .get("invocationId")
            .and_then(Value::as_str)
            .map(String::from),
        schema_version: Some(schema.to_string()),
    }
}

fn string(v: Option<&Value>) -> Option<String> {
    v.and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(String::from)
}

/// Decodes a key as S3 notifications encode it (`+` for a space, `%XX`).
pub fn url_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let hex = |c: u8| (c as char).to_digit(16);
                match (hex(b[i + 1]), hex(b[i + 2])) {
                    (Some(h), Some(l)) => {
                        out.push((h * 16 + l) as u8);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Encodes a key as S3 notifications do: unreserved characters and `/` kept, a space as `+`,
/// the rest as `%XX`.
pub fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                out.push(char::from(b))
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s3_notification(key: &str, version: Option<&str>) -> String {
        let mut object = serde_json::json!({"key": key, "size": 1024, "eTag": "d41d8cd98f00b204e9800998ecf8427e", "sequencer": "0A1B2C3D4E5F678901"});
        if let Some(v) = version {
            object["versionId"] = v.into();
        }
        serde_json::json!({"Records": [{
            "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
            "eventTime": "2025-11-25T00:00:00.000Z", "eventName": "ObjectCreated:Put",
            "s3": {"s3SchemaVersion": "1.0", "bucket": {"name": "logs", "arn": "arn:aws:s3:::logs"}, "object": object}
        }]})
        .to_string()
    }

    #[test]
    fn sqs_messages_of_every_kind() {
        let eb = serde_json::json!({"version": "0", "id": "e1", "detail-type": "Object Created", "source": "aws.s3", "account": "123456789012", "region": "us-east-1",
            "detail": {"version": "0", "bucket": {"name": "logs"}, "object": {"key": "AWSLogs/a b.log", "size": 5, "etag": "abc", "version-id": "v2"}, "reason": "PutObject"}}).to_string();
        let sns = serde_json::json!({"Type": "Notification", "Message": s3_notification("x%2By+z.gz", None)}).to_string();
        let event = serde_json::json!({"Records": [
            {"messageId": "m1", "eventSource": "aws:sqs", "body": s3_notification("AWSLogs/a+b%3D.gz", Some("v1"))},
            {"messageId": "m2", "eventSource": "aws:sqs", "body": eb},
            {"messageId": "m3", "eventSource": "aws:sqs", "body": sns},
            {"messageId": "m4", "eventSource": "aws:sqs", "body": r#"{"Service":"Amazon S3","Event":"s3:TestEvent"}"#},
            {"messageId": "m5", "eventSource": "aws:sqs", "body": "not json"},
        ]})
        .to_string();
        let n = parse(event.as_bytes()).expect("an SQS event");
        assert_eq!(n.shape, NotificationShape::Sqs);
        assert_eq!(n.items.len(), 5);
        let o = &n.items[0].objects[0];
        assert_eq!(
            (o.bucket.as_str(), o.key.as_str()),
            ("logs", "AWSLogs/a b=.gz")
        );
        assert_eq!(o.version_id.as_deref(), Some("v1"));
        assert_eq!(o.size, Some(1024));
        let o = &n.items[1].objects[0];
        assert_eq!(
            (o.key.as_str(), o.version_id.as_deref(), o.etag.as_deref()),
            ("AWSLogs/a b.log", Some("v2"), Some("abc"))
        );
        assert_eq!(n.items[2].objects[0].key, "x+y z.gz");
        assert!(n.items[3].objects.is_empty() && n.items[3].error.is_none());
        assert!(
            n.items[4]
                .error
                .as_deref()
                .is_some_and(|e| e.contains("not JSON"))
        );
        assert_eq!(n.items[4].raw, b"not json");
    }

    #[test]
    fn direct_notifications_batch_jobs_and_others() {
        let n = parse(s3_notification("k", None).as_bytes()).expect("direct");
        assert_eq!(n.shape, NotificationShape::S3);
        assert_eq!(
            n.items[0].objects[0].etag.as_deref(),
            Some("d41d8cd98f00b204e9800998ecf8427e")
        );
        let job = r#"{"invocationSchemaVersion":"2.0","invocationId":"inv","job":{"id":"j","userArguments":{}},"tasks":[{"taskId":"t1","s3Key":"AWSLogs/x%20y.gz","s3VersionId":null,"s3BucketName":"logs"},{"taskId":"t2"}]}"#;
        let n = parse(job.as_bytes()).expect("batch");
        assert_eq!(n.shape, NotificationShape::BatchOperations);
        assert_eq!(n.invocation_id.as_deref(), Some("inv"));
        assert_eq!(n.items[0].objects[0].key, "AWSLogs/x y.gz");
        assert_eq!(n.items[0].objects[0].version_id, None);
        assert!(n.items[1].error.is_some());
        let v1 = r#"{"invocationSchemaVersion":"1.0","invocationId":"i","job":{"id":"j"},"tasks":[{"taskId":"t","s3Key":"k","s3VersionId":"v","s3BucketArn":"arn:aws:s3:::b1"}]}"#;
        let n = parse(v1.as_bytes()).expect("batch 1.0");
        assert_eq!(n.items[0].objects[0].bucket, "b1");
        // Not notifications.
        for other in [
            r#"{"awslogs":{"data":"x"}}"#,
            r#"{"Records":[{"kinesis":{"data":"x"},"eventSource":"aws:kinesis"}]}"#,
            r#"{"Records":[{"eventSource":"aws:s3","eventName":"ObjectRemoved:Delete"}]}"#,
        ] {
            let n = parse(other.as_bytes());
            assert!(
                n.is_none() || n.is_some_and(|n| n.items.iter().all(|i| i.objects.is_empty())),
                "{other}"
            );
        }
    }

    #[test]
    fn a_dead_letter_names_its_object_again() {
        let o = ObjectRef {
            bucket: "logs".into(),
            key: "AWSLogs/a b+c/é.gz".into(),
            version_id: Some("v1".into()),
            etag: Some("e".into()),
            size: Some(3),
        };
        let n = parse(&o.notification()).expect("a notification");
        assert_eq!(n.items[0].objects, vec![o.clone()]);
        assert!(o.dead_letter_name().starts_with("s3-") && o.dead_letter_name().ends_with(".json"));
        assert_eq!(url_decode("%zz%4"), "%zz%4");
    }
}
