//! `cwlogs replay --archive-to s3://…` and `cwlogs replay s3://…` against a real S3 API (moto,
//! started by scripts/test.sh), configured by the standard AWS environment variables.
#![cfg(feature = "integration")]

use crate::common::cwlogs;
use cwlogs_testkit::events::samples_dir as samples;
use cwlogs_testkit::files::tree;
use cwlogs_testkit::moto;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Output;

fn ok(o: Output) -> Output {
    assert!(
        o.status.success(),
        "cwlogs failed: {}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// Every object in `bucket`, by key.
async fn objects(c: &aws_sdk_s3::Client, bucket: &str) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let list = c
        .list_objects_v2()
        .bucket(bucket)
        .send()
        .await
        .expect("list");
    for o in list.contents() {
        let key = o.key().expect("key").to_string();
        let body = c
            .get_object()
            .bucket(bucket)
            .key(&key)
            .send()
            .await
            .expect("get")
            .body
            .collect()
            .await
            .expect("body")
            .into_bytes()
            .to_vec();
        out.insert(key, body);
    }
    out
}

/// The distinct `_bulk` items (action and document line pairs) per index, sorted.
fn bulk_items(out: &Path) -> BTreeMap<String, Vec<String>> {
    tree(&out.join("index"))
        .into_iter()
        .map(|(file, bytes)| {
            let text = String::from_utf8(bytes).expect("utf8");
            let lines: Vec<&str> = text.lines().collect();
            let mut items: Vec<String> = lines.chunks(2).map(|c| c.join("\n")).collect();
            // The samples deliver some batches twice (through two transports): their archive
            // object is written twice at one key, so the archive holds them once.
            items.sort();
            items.dedup();
            (file, items)
        })
        .collect()
}

#[test]
fn archive_to_s3_matches_the_local_archive_and_replays_back() {
    let rt = runtime();
    let c = moto::s3(&rt.block_on(moto::sdk()));
    let bucket = rt.block_on(moto::new_bucket(&c, "replay"));
    let tmp = tempfile::tempdir().expect("tmp");
    let samples = samples();
    let samples = samples.display().to_string();

    // The same samples, once to a local directory and once to S3: the same keys and bytes.
    let local = tmp.path().join("local");
    ok(cwlogs(&[
        "replay",
        "--out",
        local.to_str().expect("utf8"),
        &samples,
    ]));
    let to_s3 = tmp.path().join("s3");
    let url = format!("s3://{bucket}/cwl");
    for _ in 0..2 {
        // Twice: a second run overwrites the same objects, it never adds any.
        ok(cwlogs(&[
            "replay",
            "--archive-to",
            &url,
            "--out",
            to_s3.to_str().expect("utf8"),
            &samples,
        ]));
    }
    let stored = rt.block_on(objects(&c, &bucket));
    let archived: BTreeMap<String, Vec<u8>> = stored
        .iter()
        .filter(|(k, _)| k.starts_with("cwl/"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let local_archive = tree(&local.join("archive"));
    assert!(!archived.is_empty());
    assert_eq!(
        archived.keys().collect::<Vec<_>>(),
        local_archive.keys().collect::<Vec<_>>()
    );
    assert!(archived == local_archive, "archive bodies differ");

    // Dead letters went to the bucket, one error file beside each, none written locally.
    let dead: Vec<&String> = stored
        .keys()
        .filter(|k| k.starts_with("dead-letter/dt="))
        .collect();
    let local_dead = tree(&local.join("dead-letter"));
    assert_eq!(dead.len(), local_dead.len(), "{dead:?}");
    assert!(tree(&to_s3.join("dead-letter")).is_empty());
    for (name, bytes) in &local_dead {
        let key = dead
            .iter()
            .find(|k| k.ends_with(&format!("/{name}")))
            .unwrap_or_else(|| panic!("{name} in the bucket"));
        if !name.ends_with(".error.json") {
            assert_eq!(&stored[*key], bytes, "{name}");
        }
    }

    // Replaying the archive from S3 rebuilds the same index bodies as the original run.
    let back = tmp.path().join("back");
    ok(cwlogs(&[
        "replay",
        "--out",
        back.to_str().expect("utf8"),
        &format!("s3://{bucket}/cwl/"),
    ]));
    // Objects come back in key order rather than input order: compare the bulk items.
    assert_eq!(bulk_items(&back), bulk_items(&local));
    assert!(
        tree(&back.join("archive")) == local_archive,
        "re-archived bodies differ"
    );

    // And the dead letters read back stay dead letters, error files skipped.
    let dl = tmp.path().join("dl");
    ok(cwlogs(&[
        "replay",
        "--out",
        dl.to_str().expect("utf8"),
        &format!("s3://{bucket}/dead-letter/"),
    ]));
    let s: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dl.join("summary.json")).expect("summary"))
            .expect("json");
    assert_eq!(s["inputs"].as_u64(), Some(local_dead.len() as u64 / 2));
    assert_eq!(s["events"], 0);
}

#[test]
fn a_missing_bucket_fails_clearly_and_keeps_everything_locally() {
    let tmp = tempfile::tempdir().expect("tmp");
    let out = tmp.path().join("out");
    let url = format!("s3://{}/cwl", moto::unique("missing"));
    let o = cwlogs(&[
        "replay",
        "--archive-to",
        &url,
        "--out",
        out.to_str().expect("utf8"),
        samples()
            .join("direct/app-json.json")
            .to_str()
            .expect("utf8"),
    ]);
    assert!(!o.status.success());
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("NoSuchBucket"), "{stderr}");
    // The refused object is kept on disk, with its error.
    let dead = tree(&out.join("dead-letter"));
    assert_eq!(dead.len(), 2, "{:?}", dead.keys());
    let error = dead
        .iter()
        .find(|(k, _)| k.ends_with(".error.json"))
        .expect("error file");
    let error: serde_json::Value = serde_json::from_slice(error.1).expect("json");
    assert_eq!(error["stage"], "s3");
}

#[test]
fn unreadable_s3_prefix_is_a_clear_error() {
    let o = cwlogs(&[
        "replay",
        "--out",
        tempfile::tempdir()
            .expect("tmp")
            .path()
            .join("o")
            .to_str()
            .expect("utf8"),
        &format!("s3://{}/x/", moto::unique("nope")),
    ]);
    assert!(!o.status.success());
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("NoSuchBucket"), "{stderr}");
}
