//! `OpenSearchIndex` + `send_items` against a scripted local HTTP stub: the whole-request
//! answers a real cluster, Amazon OpenSearch Service or a proxy gives but osmem-server will
//! not (413 with AWS's body, 429 in plain text, 502/503/504, 401/403, a write block on the
//! whole request, resets, refused connections, slow answers), each checked for the fate every
//! item ends in and for how many requests it took; and what goes on the wire (gzip NDJSON,
//! `Content-Type`, no `_type`, the `Authorization` of each auth kind). No service is needed.

use aws_credential_types::provider::SharedCredentialsProvider;
use base64::Engine as _;
use cwlogs_aws::{Auth, Credentials, OpenSearchIndex};
use cwlogs_pipeline::Backoff;
use cwlogs_pipeline::index::{BulkOptions, BulkReport, Fate, send_items};
use cwlogs_testkit::stub::{self, Answer, Request, Step, Stub, bulk_actions};
use sha2::Digest as _;
use std::time::{Duration, Instant};

/// A fast retry schedule: tests stay well under a second.
fn backoff(max_attempts: u32) -> Backoff {
    Backoff {
        base: Duration::from_millis(5),
        cap: Duration::from_millis(20),
        max_attempts,
    }
}

fn options(compress: bool, max_attempts: u32) -> BulkOptions {
    BulkOptions {
        compress,
        backoff: backoff(max_attempts),
        ..BulkOptions::default()
    }
}

/// A `_bulk` item (action and document line) of about 130 bytes.
fn item(i: usize) -> Vec<u8> {
    format!(
        "{{\"create\":{{\"_index\":\"cwlt-stub\",\"_id\":\"id{i:04}\"}}}}\n\
         {{\"@timestamp\":\"2024-05-01T13:00:00.000Z\",\"message\":\"event number {i:04} of the stub test\"}}\n"
    )
    .into_bytes()
}

fn items(n: usize) -> Vec<Vec<u8>> {
    (0..n).map(item).collect()
}

fn client(url: &str, auth: Auth) -> OpenSearchIndex {
    OpenSearchIndex::new(url, auth).expect("a valid endpoint")
}

async fn send(
    url: &str,
    items: &[Vec<u8>],
    options: &BulkOptions,
    deadline: Option<Instant>,
) -> BulkReport {
    let refs: Vec<&[u8]> = items.iter().map(Vec::as_slice).collect();
    send_items(&client(url, Auth::None), &refs, options, deadline).await
}

/// What a cluster answers to `request` when it takes every item: 201 `created` each.
fn created(request: &Request) -> Answer {
    let Some(body) = request.decoded_body() else {
        return Answer::json(
            400,
            &serde_json::json!({"error": {"type": "parsing_exception", "reason": "invalid gzip body"}, "status": 400}),
        );
    };
    let items: Vec<serde_json::Value> = bulk_actions(&body)
        .into_iter()
        .map(|(index, id)| {
            serde_json::json!({"create": {
                "_index": index, "_id": id, "_version": 1, "result": "created",
                "_shards": {"total": 2, "successful": 1, "failed": 0},
                "_seq_no": 0, "_primary_term": 1, "status": 201
            }})
        })
        .collect();
    Answer::json(
        200,
        &serde_json::json!({"took": 3, "errors": false, "items": items}),
    )
}

fn all_done(r: &BulkReport) -> bool {
    r.fates
        .iter()
        .all(|f| matches!(f, Fate::Done { created: true }))
}

/// AWS's answer to a request over the domain's limit (10 MiB on small instance types).
const AWS_413: &str = r#"{"Message":"Request size exceeded 10485760 bytes"}"#;

/// Answers 413 (AWS's body) to requests whose NDJSON is larger than `limit`, else takes them.
fn limited(limit: usize) -> Step {
    Step::reply(move |request| match request.decoded_body() {
        Some(body) if body.len() > limit => {
            Answer::json(413, &serde_json::from_str(AWS_413).expect("valid json"))
        }
        _ => created(request),
    })
}

#[tokio::test]
async fn too_large_requests_are_halved_until_they_pass() {
    const LIMIT: usize = 1000;
    let stub = Stub::start_then(vec![], limited(LIMIT));
    let all = items(16);
    assert!(all.iter().map(Vec::len).sum::<usize>() > 2 * LIMIT);
    let r = send(&stub.url, &all, &options(true, 4), None).await;
    assert!(all_done(&r), "{:?}", r.fates);

    let seen = stub.seen();
    assert_eq!(seen.len(), r.requests);
    let mut indexed = Vec::new();
    let mut sends = 0;
    for request in &seen {
        let body = request.decoded_body().expect("gzip");
        sends += bulk_actions(&body).len();
        if body.len() <= LIMIT {
            indexed.extend(bulk_actions(&body).into_iter().map(|(_, id)| id));
        }
    }
    indexed.sort();
    let want: Vec<String> = (0..16).map(|i| format!("id{i:04}")).collect();
    assert_eq!(indexed, want, "each item taken exactly once");
    assert!(
        seen.len() > 3,
        "the first request was split: {}",
        seen.len()
    );
    // `retried_items` counts every send of an item after its first, halves included.
    assert_eq!(r.retried_items, sends - 16);
}

#[tokio::test]
async fn an_item_too_large_alone_is_rejected_and_the_rest_indexed() {
    const LIMIT: usize = 1000;
    let stub = Stub::start_then(vec![], limited(LIMIT));
    let mut all = items(8);
    all[5] = format!(
        "{{\"create\":{{\"_index\":\"cwlt-stub\",\"_id\":\"big\"}}}}\n{{\"message\":\"{}\"}}\n",
        "x".repeat(3 * LIMIT)
    )
    .into_bytes();
    let r = send(&stub.url, &all, &options(true, 4), None).await;
    for (i, fate) in r.fates.iter().enumerate() {
        if i == 5 {
            assert!(
                matches!(fate, Fate::Rejected(m) if m.starts_with("413") && m.contains("Request size exceeded 10485760 bytes")),
                "{fate:?}"
            );
        } else {
            assert_eq!(fate, &Fate::Done { created: true }, "item {i}");
        }
    }
    assert_eq!(r.created(), 7);
}

#[tokio::test]
async fn whole_request_throttling_and_gateway_errors_back_off_then_succeed() {
    let stub = Stub::start_then(
        vec![
            Step::Answer(
                Answer::new(429, "429 Too Many Requests /_bulk")
                    .header("Content-Type", "text/plain"),
            ),
            Step::Answer(
                Answer::new(502, "<html><body><h1>502 Bad Gateway</h1></body></html>")
                    .header("Content-Type", "text/html"),
            ),
            Step::Answer(Answer::json(
                503,
                &serde_json::json!({"message": "Service Unavailable"}),
            )),
            Step::Answer(Answer::new(504, "")),
        ],
        Step::reply(created),
    );
    let all = items(6);
    let r = send(&stub.url, &all, &options(true, 6), None).await;
    assert!(all_done(&r), "{:?}", r.fates);
    assert_eq!((r.requests, stub.requests()), (5, 5));
    assert_eq!(r.retried_items, 4 * 6, "six items sent again four times");
}

#[tokio::test]
async fn throttling_that_outlasts_the_attempts_leaves_items_pending() {
    let stub = Stub::start_then(
        vec![],
        Step::Answer(Answer::new(429, "429 Too Many Requests /_bulk")),
    );
    let r = send(&stub.url, &items(3), &options(true, 4), None).await;
    assert_eq!(stub.requests(), 4);
    assert!(
        r.fates.iter().all(|f| matches!(f, Fate::Pending(m)
            if m.contains("429 Too Many Requests") && m.contains("after 4 attempts"))),
        "{:?}",
        r.fates
    );
}

#[tokio::test]
async fn credentials_errors_stop_after_one_request_and_keep_every_item() {
    let answers = [
        (401, "Unauthorized", "Unauthorized"),
        (
            403,
            r#"{"message":"The security token included in the request is invalid"}"#,
            "security token",
        ),
        (
            403,
            r#"{"Message":"User: anonymous is not authorized to perform: es:ESHttpPost because no resource-based policy allows the es:ESHttpPost action"}"#,
            "anonymous is not authorized",
        ),
        (
            403,
            r#"{"error":{"root_cause":[{"type":"security_exception","reason":"no permissions for [indices:data/write/bulk] and User [name=cwlogs, backend_roles=[], requestedTenant=null]"}],"type":"security_exception","reason":"no permissions for [indices:data/write/bulk] and User [name=cwlogs, backend_roles=[], requestedTenant=null]"},"status":403}"#,
            "no permissions for [indices:data/write/bulk]",
        ),
    ];
    for (status, body, quoted) in answers {
        let stub = Stub::start_then(
            vec![Step::Answer(Answer::new(status, body))],
            Step::reply(created),
        );
        let all = items(30);
        // Three requests' worth: the first answer stops everything.
        let options = BulkOptions {
            max_bytes: all[0].len() * 10,
            ..options(true, 4)
        };
        let r = send(&stub.url, &all, &options, None).await;
        assert_eq!(stub.requests(), 1, "{status} {body}");
        assert_eq!(r.requests, 1);
        assert!(
            r.fates.iter().all(|f| matches!(f, Fate::Pending(m)
                if m.starts_with(&status.to_string()) && m.contains(quoted) && m.contains("Check the credentials"))),
            "{status}: {:?}",
            r.fates[0]
        );
    }
}

#[tokio::test]
async fn a_whole_request_cluster_block_is_retried() {
    // Amazon OpenSearch Service's own write protection (JVM pressure, low storage): lifted by
    // AWS, so it is waited out, not reported as a credentials problem.
    let block = serde_json::json!({
        "error": {
            "root_cause": [{"type": "cluster_block_exception", "reason": "blocked by: [FORBIDDEN/8/index write (api)];"}],
            "type": "cluster_block_exception",
            "reason": "blocked by: [FORBIDDEN/8/index write (api)];"
        },
        "status": 403
    });
    let stub = Stub::start_then(
        vec![
            Step::Answer(Answer::json(403, &block)),
            Step::Answer(Answer::json(403, &block)),
        ],
        Step::reply(created),
    );
    let r = send(&stub.url, &items(4), &options(true, 4), None).await;
    assert!(all_done(&r), "{:?}", r.fates);
    assert_eq!(stub.requests(), 3);
}

#[tokio::test]
async fn dropped_connections_are_retried() {
    let stub = Stub::start_then(vec![Step::Drop, Step::Drop], Step::reply(created));
    let r = send(&stub.url, &items(4), &options(true, 4), None).await;
    assert!(all_done(&r), "{:?}", r.fates);
    assert_eq!(stub.requests(), 3);
    assert_eq!(r.retried_items, 2 * 4);
}

#[tokio::test]
async fn connections_dropped_every_time_end_pending_after_the_attempts() {
    let stub = Stub::start_then(vec![], Step::Drop);
    let r = send(&stub.url, &items(4), &options(true, 4), None).await;
    assert_eq!(stub.requests(), 4);
    assert!(
        r.fates.iter().all(|f| matches!(f, Fate::Pending(m)
            if m.contains("_bulk") && m.contains("after 4 attempts") && m.contains("kept for redelivery"))),
        "{:?}",
        r.fates
    );
}

#[tokio::test]
async fn refused_connections_end_pending_after_the_attempts() {
    let url = stub::refused_url();
    let r = send(&url, &items(3), &options(true, 4), None).await;
    assert_eq!(r.requests, 4);
    assert!(
        r.fates.iter().all(|f| matches!(f, Fate::Pending(m)
            if m.contains(&format!("POST {url}/_bulk")) && m.to_lowercase().contains("refused")
                && m.contains("after 4 attempts"))),
        "{:?}",
        r.fates
    );
}

#[tokio::test]
async fn refused_connections_are_retried_until_the_deadline() {
    let url = stub::refused_url();
    let started = Instant::now();
    let deadline = started + Duration::from_secs(1);
    // Attempts without end but for the deadline: the retries stop in time for it.
    let r = send(&url, &items(3), &options(true, 10_000), Some(deadline)).await;
    let took = started.elapsed();
    assert!(took < Duration::from_secs(1), "took {took:?}");
    assert!(r.requests > 3, "retried until the deadline: {}", r.requests);
    // The last error is kept whether the backoff stops for the deadline or a sleep ends just
    // past the point where an attempt may start.
    assert!(
        r.fates.iter().all(|f| matches!(f, Fate::Pending(m)
            if m.to_lowercase().contains("refused") && m.contains("deadline"))),
        "{:?}",
        r.fates
    );
}

#[tokio::test]
async fn a_slow_answer_is_cut_at_the_deadline() {
    let stub = Stub::start_then(
        vec![Step::Slow(Duration::from_secs(10), Answer::new(200, "{}"))],
        Step::reply(created),
    );
    let started = Instant::now();
    let deadline = started + Duration::from_millis(700);
    let r = send(&stub.url, &items(3), &options(true, 4), Some(deadline)).await;
    let took = started.elapsed();
    assert!(took < Duration::from_millis(1200), "took {took:?}");
    assert!(
        r.fates.iter().all(|f| matches!(f, Fate::Pending(m)
            if m.contains("no answer before the deadline"))),
        "{:?}",
        r.fates
    );
    assert_eq!(stub.requests(), 1, "no second attempt without time for it");
}

#[tokio::test]
async fn requests_are_gzip_ndjson_without_type() {
    for compress in [true, false] {
        let stub = Stub::start_then(vec![], Step::reply(created));
        let all = items(20);
        let options = BulkOptions {
            max_bytes: all[0].len() * 8,
            ..options(compress, 4)
        };
        let r = send(&stub.url, &all, &options, None).await;
        assert!(all_done(&r), "{:?}", r.fates);
        let seen = stub.seen();
        assert_eq!(seen.len(), 3);
        let mut sent = Vec::new();
        for request in &seen {
            assert_eq!(request.method(), "POST");
            assert_eq!(request.path(), "/_bulk");
            assert_eq!(request.header("content-type"), Some("application/x-ndjson"));
            assert_eq!(
                request.header("content-length"),
                Some(request.body.len().to_string().as_str())
            );
            if compress {
                assert_eq!(request.header("content-encoding"), Some("gzip"));
                assert!(request.body.starts_with(&[0x1f, 0x8b]));
            } else {
                assert_eq!(request.header("content-encoding"), None);
            }
            assert_eq!(request.header("authorization"), None);
            let body = request.decoded_body().expect("gzip body");
            assert!(body.ends_with(b"\n"), "NDJSON ends with a newline");
            let text = String::from_utf8(body.clone()).expect("utf-8");
            assert!(!text.contains("_type"), "no mapping types: {text}");
            sent.extend_from_slice(&body);
        }
        assert_eq!(sent, all.concat(), "compress = {compress}");
        assert_eq!(
            r.bytes_sent,
            seen.iter().map(|s| s.body.len()).sum::<usize>()
        );
    }
}

/// The `Authorization` header (and the whole request) of one `_bulk` sent with `auth`.
async fn authorized(auth: Auth) -> Request {
    let stub = Stub::start_then(vec![], Step::reply(created));
    let refs: Vec<&[u8]> = vec![b"{\"create\":{\"_index\":\"i\",\"_id\":\"1\"}}\n{\"a\":1}\n"];
    let r = send_items(&client(&stub.url, auth), &refs, &options(true, 2), None).await;
    assert!(all_done(&r), "{:?}", r.fates);
    let mut seen = stub.seen();
    assert_eq!(seen.len(), 1);
    seen.remove(0)
}

#[tokio::test]
async fn basic_auth_sends_the_user_and_password() {
    let request = authorized(Auth::Basic {
        username: "cwlogs".into(),
        password: "s3cret:with colon".into(),
    })
    .await;
    let want = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("cwlogs:s3cret:with colon")
    );
    assert_eq!(request.header("authorization"), Some(want.as_str()));
}

#[tokio::test]
async fn an_api_key_is_sent_as_is() {
    let request = authorized(Auth::ApiKey(
        "VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw==".into(),
    ))
    .await;
    assert_eq!(
        request.header("authorization"),
        Some("ApiKey VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw==")
    );
}

fn sigv4(service: &'static str, token: Option<&str>) -> Auth {
    Auth::SigV4 {
        credentials: SharedCredentialsProvider::new(Credentials::new(
            "AKIDSTUB",
            "stub-secret",
            token.map(String::from),
            None,
            "stub",
        )),
        region: "eu-west-1".into(),
        service,
    }
}

/// Checks a SigV4 request for `service`: the scope, the signed headers, and a payload hash
/// that is the hash of the bytes on the wire (the compressed body: signing before compressing
/// would be refused with "The request signature we calculated does not match").
fn assert_signed(request: &Request, service: &str) {
    let auth = request.header("authorization").expect("Authorization");
    let scope = format!("/eu-west-1/{service}/aws4_request, ");
    assert!(
        auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIDSTUB/") && auth.contains(&scope),
        "{auth}"
    );
    let signed = auth
        .split("SignedHeaders=")
        .nth(1)
        .and_then(|s| s.split(',').next())
        .expect("SignedHeaders");
    for h in ["host", "x-amz-date", "x-amz-content-sha256"] {
        assert!(signed.split(';').any(|s| s == h), "{h} not in {signed}");
    }
    assert!(auth.contains("Signature="), "{auth}");
    assert!(request.header("x-amz-date").is_some());
    let hash: String = sha2::Sha256::digest(&request.body)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(request.header("x-amz-content-sha256"), Some(hash.as_str()));
    assert_eq!(request.header("content-encoding"), Some("gzip"));
}

#[tokio::test]
async fn sigv4_signs_for_opensearch_service() {
    let request = authorized(sigv4("es", None)).await;
    assert_signed(&request, "es");
    assert_eq!(request.header("x-amz-security-token"), None);
}

#[tokio::test]
async fn sigv4_signs_for_serverless_with_the_session_token() {
    let request = authorized(sigv4("aoss", Some("stub-session-token"))).await;
    assert_signed(&request, "aoss");
    assert_eq!(
        request.header("x-amz-security-token"),
        Some("stub-session-token")
    );
}
