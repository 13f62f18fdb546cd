//! `S3Archive` and `S3Source` against a real S3 API: moto in server mode, started by
//! `scripts/test.sh`, reached through the standard environment (`AWS_ENDPOINT_URL`,
//! `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`). Every test makes its own bucket.
//!
//! What moto cannot reproduce is covered elsewhere: it accepts any SSE-KMS key id (missing or
//! disabled keys are not refused, so KMS errors are not tested here), and it never throttles,
//! fails or redirects; `tests/s3_faults.rs` plays those answers from a local stub.
#![cfg(feature = "integration")]

use crate::common;

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ChecksumMode, ServerSideEncryption};
use common::sdk;
use cwlogs_aws::{S3Archive, S3Source, S3Url};
use cwlogs_pipeline::{Archive, Class, Object};
use cwlogs_testkit::events::gzip;
use cwlogs_testkit::moto::{new_bucket, s3 as client};
use futures_util::StreamExt;

const KEY: &str = "cwl/account=123456789012/region=us-east-1/log_group=%2Faws%2Flambda%2Fx/\
                   dt=2024-05-01/hour=13/0a1b2c3d-36000000000000000001-36000000000000000009.ndjson.gz";

fn object(body: &[u8]) -> Object<'_> {
    Object {
        key: KEY,
        body,
        content_type: "application/x-ndjson",
        content_encoding: Some("gzip"),
    }
}

async fn read_back(client: &Client, bucket: &str, key: &str) -> Vec<u8> {
    let out = client
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .unwrap_or_else(|e| panic!("get s3://{bucket}/{key}: {e:?}"));
    out.body
        .collect()
        .await
        .expect("read the body")
        .into_bytes()
        .to_vec()
}

#[tokio::test]
async fn an_archive_object_reads_back_byte_for_byte_with_its_headers() {
    let sdk = sdk().await;
    let s3 = client(&sdk);
    let bucket = new_bucket(&s3, "sse-s3").await;
    let body = gzip(
        "{\"id\":\"1\",\"message\":\"hello\"}\n{\"id\":\"2\",\"message\":\"world\"}\n".as_bytes(),
    );

    S3Archive::new(&sdk, &bucket, None)
        .put(object(&body), None)
        .await
        .expect("put through the sink");

    assert_eq!(read_back(&s3, &bucket, KEY).await, body);
    let head = s3
        .head_object()
        .bucket(&bucket)
        .key(KEY)
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await
        .expect("head");
    assert_eq!(head.content_type(), Some("application/x-ndjson"));
    assert_eq!(head.content_encoding(), Some("gzip"));
    assert_eq!(
        head.server_side_encryption(),
        Some(&ServerSideEncryption::Aes256)
    );
    assert_eq!(head.content_length(), Some(body.len() as i64));
    // The CRC32C the sink asked the SDK to send was checked and kept by the server.
    assert!(head.checksum_crc32_c().is_some(), "{head:?}");

    // The reader gets the stored bytes too (gzip untouched: decoding is the caller's job).
    let again = S3Source::new(&sdk)
        .get(&bucket, KEY, body.len() as u64)
        .await
        .expect("read through the source");
    assert_eq!(again, body);
}

#[tokio::test]
async fn sse_kms_sends_the_key_id_and_a_bucket_key() {
    let sdk = sdk().await;
    let s3 = client(&sdk);
    let bucket = new_bucket(&s3, "sse-kms").await;
    // moto stores whatever key id it is given (it does not look the key up in its KMS), so a
    // made-up ARN is enough to check what the sink sends.
    let key_id = "arn:aws:kms:us-east-1:123456789012:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";
    let body = gzip("{\"id\":\"1\"}\n".as_bytes());

    S3Archive::new(&sdk, &bucket, Some(key_id))
        .put(object(&body), None)
        .await
        .expect("put with SSE-KMS");

    let head = s3
        .head_object()
        .bucket(&bucket)
        .key(KEY)
        .send()
        .await
        .expect("head");
    assert_eq!(
        head.server_side_encryption(),
        Some(&ServerSideEncryption::AwsKms)
    );
    assert_eq!(head.ssekms_key_id(), Some(key_id));
    assert_eq!(head.bucket_key_enabled(), Some(true));
    assert_eq!(read_back(&s3, &bucket, KEY).await, body);
}

#[tokio::test]
async fn putting_the_same_object_twice_leaves_one_object() {
    let sdk = sdk().await;
    let s3 = client(&sdk);
    let bucket = new_bucket(&s3, "twice").await;
    let body = gzip("{\"id\":\"1\"}\n".as_bytes());
    let archive = S3Archive::new(&sdk, &bucket, None);

    archive.put(object(&body), None).await.expect("first put");
    archive.put(object(&body), None).await.expect("redelivery");

    let listed = s3
        .list_objects_v2()
        .bucket(&bucket)
        .send()
        .await
        .expect("list");
    let keys: Vec<_> = listed.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, [KEY]);
    assert_eq!(read_back(&s3, &bucket, KEY).await, body);
}

#[tokio::test]
async fn a_missing_bucket_is_rejected_with_the_hint() {
    let sdk = sdk().await;
    let s3 = client(&sdk);
    // Made unique the same way, but never created.
    let bucket = new_bucket(&s3, "gone").await;
    s3.delete_bucket()
        .bucket(&bucket)
        .send()
        .await
        .expect("delete the empty bucket");

    let e = S3Archive::new(&sdk, &bucket, None)
        .put(object(b"x"), None)
        .await
        .expect_err("no such bucket");
    assert_eq!(e.class, Class::Reject, "{e}");
    assert!(
        e.message.contains("NoSuchBucket")
            && e.message.contains("HTTP 404")
            && e.message.contains(&format!("s3://{bucket}/cwl/"))
            && e.message.contains("CWLOGS_ARCHIVE_BUCKET"),
        "{e}"
    );
    assert!(!e.message.contains("attempts"), "not retried: {e}");
}

#[tokio::test]
async fn list_returns_the_keys_under_the_prefix_in_order_across_pages() {
    let sdk = sdk().await;
    let s3 = client(&sdk);
    let bucket = new_bucket(&s3, "list").await;
    // More than one ListObjectsV2 page (1000 keys), put concurrently to keep the test quick.
    let keys: Vec<String> = (0..1003)
        .rev()
        .map(|i| format!("cwl/dt=2024-05-01/hour={:02}/{i:05}.ndjson.gz", i % 24))
        .collect();
    let outside = [
        "cwm/dt=2024-05-01/x.ndjson.gz",
        "cw/dt=2024-05-01/x.ndjson.gz",
        "dead-letter/cwl/x.json",
    ];
    let puts = keys.iter().map(String::as_str).chain(outside).map(|key| {
        let s3 = s3.clone();
        let bucket = bucket.clone();
        let body = ByteStream::from(key.as_bytes().to_vec());
        async move {
            s3.put_object()
                .bucket(bucket)
                .key(key)
                .body(body)
                .send()
                .await
        }
    });
    let results = futures_util::stream::iter(puts)
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await;
    for r in results {
        r.expect("setup put");
    }

    let source = S3Source::new(&sdk);
    let url = S3Url::parse(&format!("s3://{bucket}/cwl/")).expect("valid url");
    let listed = source.list(&url).await.expect("list");
    let mut want: Vec<(String, u64)> = keys.iter().map(|k| (k.clone(), k.len() as u64)).collect();
    want.sort();
    assert_eq!(listed.len(), 1003);
    assert_eq!(listed, want);

    // One exact key lists as itself; an empty prefix lists the whole bucket.
    let one = S3Url::parse(&format!("s3://{bucket}/{}", outside[0])).expect("valid url");
    assert_eq!(
        source.list(&one).await.expect("list one"),
        [(outside[0].to_string(), outside[0].len() as u64)]
    );
    let all = S3Url::parse(&format!("s3://{bucket}")).expect("valid url");
    assert_eq!(source.list(&all).await.expect("list all").len(), 1006);
}

#[tokio::test]
async fn get_refuses_an_object_over_the_cap() {
    let sdk = sdk().await;
    let s3 = client(&sdk);
    let bucket = new_bucket(&s3, "cap").await;
    let body = vec![b'x'; 4096];
    s3.put_object()
        .bucket(&bucket)
        .key("big")
        .body(ByteStream::from(body.clone()))
        .send()
        .await
        .expect("setup put");
    let source = S3Source::new(&sdk);

    let whole = source.get(&bucket, "big", 4096).await.expect("at the cap");
    assert!(
        whole == body,
        "read back {} bytes, not the 4096 put",
        whole.len()
    );
    let e = source
        .get(&bucket, "big", 4095)
        .await
        .expect_err("one byte over the cap");
    assert_eq!(e.class, Class::Reject, "{e}");
    assert!(e.message.contains("larger than 4095 bytes"), "{e}");

    let e = source
        .get(&bucket, "missing", 4096)
        .await
        .expect_err("no such key");
    assert_eq!(e.class, Class::Reject, "{e}");
    assert!(e.message.contains("NoSuchKey"), "{e}");
}

#[tokio::test]
async fn list_of_a_missing_bucket_is_rejected() {
    let sdk = sdk().await;
    let url = S3Url::parse("s3://cwlogs-never-created-bucket/cwl/").expect("valid url");
    let e = S3Source::new(&sdk)
        .list(&url)
        .await
        .expect_err("no such bucket");
    assert_eq!(e.class, Class::Reject, "{e}");
    assert!(e.message.contains("NoSuchBucket"), "{e}");
}
