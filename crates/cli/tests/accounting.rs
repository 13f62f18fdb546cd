//! The accounting invariant of `cwlogs replay`: `summary.json` accounts for every event of
//! the decoded batches, per sink, as delivered, filtered out, dead-lettered or failed (listed
//! for a later replay), on the shipped samples (broken ones included), with filters, against
//! a cluster that answers `_bulk` with a mix of per-item outcomes, and against an S3 endpoint
//! that refuses every object. The remote ends are local HTTP stubs (`cwlogs_testkit::stub`), so
//! no service is needed.

use cwlogs_testkit::events::samples_dir as samples;
use cwlogs_testkit::stub::{self, Answer, Request, Step, Stub, bulk_actions};
use std::path::Path;
use std::process::{Command, Output};

/// `cwlogs replay` with `args`, with fake credentials and no instance metadata lookups.
fn replay(args: &[&str], endpoint: Option<&str>) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_cwlogs"));
    c.arg("replay")
        .args(args)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "eu-west-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_ENDPOINT_URL_S3");
    if let Some(e) = endpoint {
        c.env("AWS_ENDPOINT_URL", e);
    }
    c.output().expect("run cwlogs")
}

fn summary(out: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(out.join("summary.json")).expect("summary"))
        .expect("json")
}

fn n(s: &serde_json::Value, field: &str) -> u64 {
    s[field]
        .as_u64()
        .unwrap_or_else(|| panic!("{field} missing: {s}"))
}

fn check_archive(what: &str, s: &serde_json::Value) {
    assert_eq!(
        n(s, "events"),
        n(s, "archived_events") + n(s, "archive_filtered") + n(s, "archive_dead_lettered_events"),
        "{what}: archive counts do not add up: {s:#}"
    );
}

fn check_index(what: &str, s: &serde_json::Value) {
    assert_eq!(
        n(s, "events"),
        n(s, "indexed_events")
            + n(s, "index_existing")
            + n(s, "index_quarantined")
            + n(s, "index_failed")
            + n(s, "index_filtered"),
        "{what}: index counts do not add up: {s:#}"
    );
}

#[test]
fn local_replay_of_every_sample_adds_up() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tmp.path().join("out");
    let samples = samples();
    let o = replay(
        &[
            "--out",
            out.to_str().expect("utf8"),
            samples.to_str().expect("utf8"),
        ],
        None,
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let s = summary(&out);
    check_archive("samples", &s);
    check_index("samples", &s);
    assert!(
        n(&s, "dead_lettered") > 0,
        "the broken samples are dead letters"
    );
    assert_eq!(n(&s, "archive_dead_lettered_events"), 0);
}

#[test]
fn filtered_replay_adds_up() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let config = tmp.path().join("cwlogs.toml");
    std::fs::write(
        &config,
        "[archive]\nexclude = '{ $.level = \"DEBUG\" || $.level = \"INFO\" }'\n\n[index]\nexclude = '{ $.level = \"DEBUG\" }'\n",
    )
    .expect("write config");
    let out = tmp.path().join("out");
    let samples = samples();
    let o = replay(
        &[
            "--config",
            config.to_str().expect("utf8"),
            "--out",
            out.to_str().expect("utf8"),
            samples.to_str().expect("utf8"),
        ],
        None,
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let s = summary(&out);
    check_archive("filtered", &s);
    check_index("filtered", &s);
    assert!(
        n(&s, "archive_filtered") > 0 && n(&s, "index_filtered") > 0,
        "{s:#}"
    );
}

/// A cluster answering each item by its `_id`: created, already there, refused for good, or
/// throttled (forever); anything but `_bulk` (templates) gets `{}`.
fn mixed_cluster(request: &Request) -> Answer {
    if !request.path().contains("_bulk") {
        return Answer::json(200, &serde_json::json!({"acknowledged": true}));
    }
    let body = request.decoded_body().unwrap_or_default();
    let items: Vec<serde_json::Value> = bulk_actions(&body)
        .into_iter()
        .map(|(index, id)| {
            let pick = id
                .bytes()
                .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(b.into()))
                % 4;
            let (status, error) = match pick {
                0 => (201, None),
                1 => (409, Some("version_conflict_engine_exception")),
                2 => (403, Some("cluster_block_exception")),
                _ => (429, Some("es_rejected_execution_exception")),
            };
            let mut item = serde_json::json!({"_index": index, "_id": id, "status": status});
            if let Some(kind) = error {
                item["error"] = serde_json::json!({"type": kind, "reason": kind});
            }
            serde_json::json!({ "create": item })
        })
        .collect();
    Answer::json(
        200,
        &serde_json::json!({"took": 1, "errors": true, "items": items}),
    )
}

#[test]
fn replay_to_a_misbehaving_cluster_adds_up() {
    let stub = Stub::start_then(vec![], Step::reply(mixed_cluster));
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tmp.path().join("out");
    let input = samples().join("direct");
    let o = replay(
        &[
            "--out",
            out.to_str().expect("utf8"),
            "--index-to",
            &stub.url,
            "--index-auth",
            "none",
            input.to_str().expect("utf8"),
        ],
        None,
    );
    assert!(!o.status.success(), "failed documents fail the run");
    let s = summary(&out);
    check_index("mixed cluster", &s);
    assert!(
        n(&s, "index_failed") > 0 && n(&s, "index_existing") > 0,
        "{s:#}"
    );
    assert!(
        !s["index_failed_inputs"]
            .as_array()
            .expect("list")
            .is_empty(),
        "the inputs to replay are listed"
    );
}

#[test]
fn replay_to_a_refusing_bucket_adds_up() {
    let stub = Stub::start_then(
        vec![],
        Step::Answer(
            Answer::new(
                403,
                "<?xml version=\"1.0\"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>",
            )
            .header("Content-Type", "application/xml"),
        ),
    );
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tmp.path().join("out");
    let input = samples().join("direct");
    let o = replay(
        &[
            "--out",
            out.to_str().expect("utf8"),
            "--archive-to",
            "s3://cwlogs-acct/cwl",
            input.to_str().expect("utf8"),
        ],
        Some(&stub.url),
    );
    assert!(!o.status.success(), "refused objects fail the run");
    let s = summary(&out);
    check_archive("refusing bucket", &s);
    assert_eq!(n(&s, "archived_events"), 0, "{s:#}");
    assert!(n(&s, "archive_dead_lettered_events") > 0, "{s:#}");
    // The refused objects are kept on disk, whole, with their error.
    let kept = std::fs::read_dir(out.join("dead-letter"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert!(kept > 0);
}

/// A cluster that refuses connections, and one that takes every request and never answers in
/// time: with `--send-timeout 2`, the run ends in bounded time, fails, counts every document
/// as failed and lists every input to replay.
#[test]
fn replay_to_an_unreachable_or_stalled_cluster_ends_and_adds_up() {
    let stalled = Stub::start_then(
        vec![],
        Step::Slow(
            std::time::Duration::from_secs(25),
            Answer::new(200, "{\"took\":1,\"errors\":false,\"items\":[]}"),
        ),
    );
    let inputs: Vec<_> = std::fs::read_dir(samples().join("direct"))
        .expect("samples")
        .filter_map(|e| e.ok())
        .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
        .collect();
    for (what, url) in [
        ("refused", stub::refused_url()),
        ("stalled", stalled.url.clone()),
    ] {
        let tmp = tempfile::tempdir().expect("tempdir");
        let out = tmp.path().join("out");
        let input = samples().join("direct");
        let started = std::time::Instant::now();
        let o = replay(
            &[
                "--out",
                out.to_str().expect("utf8"),
                "--index-to",
                &url,
                "--index-auth",
                "none",
                "--send-timeout",
                "2",
                "--jobs",
                "1",
                input.to_str().expect("utf8"),
            ],
            None,
        );
        let took = started.elapsed();
        assert!(
            !o.status.success(),
            "{what}: undelivered documents fail the run"
        );
        let s = summary(&out);
        check_index(what, &s);
        assert_eq!(
            n(&s, "indexed_events") + n(&s, "index_existing"),
            0,
            "{what}: {s:#}"
        );
        assert!(n(&s, "index_failed") > 0, "{what}: {s:#}");
        let listed = s["index_failed_inputs"].as_array().expect("list").len();
        // Every input but the control message has documents, all failed.
        assert_eq!(listed, inputs.len() - 1, "{what}: {s:#}");
        // Template install and every window are each cut at 2 s.
        assert!(
            took < std::time::Duration::from_secs(25),
            "{what}: took {took:?}"
        );
    }
}
