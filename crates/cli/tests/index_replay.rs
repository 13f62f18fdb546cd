//! `cwlogs replay --index-to URL` against a real OpenSearch API (osmem-server started by
//! scripts/test.sh, or the cluster OPENSEARCH_URL points at): every event indexed once, a
//! second replay changes nothing, an unreachable cluster fails with the inputs listed.
#![cfg(feature = "integration")]

use crate::common::cwlogs;
use cwlogs_testkit::events::samples_dir as samples;
use cwlogs_testkit::services::opensearch_url;

/// `GET {index}/_count` after a refresh.
fn count(url: &str, index: &str) -> u64 {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let c = cwlogs_aws::OpenSearchIndex::new(url, cwlogs_aws::Auth::None).expect("client");
    rt.block_on(async {
        c.refresh(index).await.expect("refresh");
        c.count(index).await.expect("count")
    })
}

#[test]
fn replay_indexes_every_event_once() {
    let url = opensearch_url();
    let tag = format!(
        "cwlr-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_millis()
    );
    let dir = tempfile::tempdir().expect("tmp");
    let config = dir.path().join("cwlogs.toml");
    std::fs::write(
        &config,
        format!(
            "[index]\nindex = \"{tag}-{{log_group}}-{{yyyy.MM.dd}}\"\nquarantine_index = \"{tag}-q-{{yyyy.MM.dd}}\"\n"
        ),
    )
    .expect("config");
    let out = dir.path().join("out");
    let inputs = [samples().join("direct"), samples().join("kinesis")];
    let mut args = vec![
        "replay".to_string(),
        "--config".into(),
        config.display().to_string(),
        "--out".into(),
        out.display().to_string(),
        "--index-to".into(),
        url.clone(),
    ];
    args.extend(inputs.iter().map(|p| p.display().to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();

    let first = cwlogs(&args);
    assert!(
        first.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&first.stdout),
        String::from_utf8_lossy(&first.stderr)
    );
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).expect("summary"))
            .expect("json");
    let events = summary["events"].as_u64().expect("events");
    assert!(events > 0);
    assert_eq!(summary["indexed_events"].as_u64(), Some(events));
    assert_eq!(count(&url, &format!("{tag}-*")), events);

    let second = cwlogs(&args);
    assert!(second.status.success());
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).expect("summary"))
            .expect("json");
    assert_eq!(summary["indexed_events"].as_u64(), Some(0));
    assert_eq!(summary["index_existing"].as_u64(), Some(events));
    assert_eq!(count(&url, &format!("{tag}-*")), events, "no duplicates");
}

#[test]
fn an_unreachable_cluster_fails_and_names_the_inputs() {
    // A port nothing listens on: bind one, then let it go.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let dir = tempfile::tempdir().expect("tmp");
    let input = samples().join("direct/app-json.json");
    let config = dir.path().join("c.toml");
    std::fs::write(&config, "[index]\ninstall_template = false\n").expect("config");
    let o = cwlogs(&[
        "replay",
        "--config",
        &config.display().to_string(),
        "--out",
        &dir.path().join("out").display().to_string(),
        "--index-to",
        &format!("http://127.0.0.1:{port}"),
        &input.display().to_string(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("Connection refused") || err.contains("connect"),
        "{err}"
    );
    assert!(err.contains("app-json.json"), "{err}");
}
