//! Each function binary (archive, index, alert) run as Lambda runs it (issue 24): started with
//! the Runtime API's environment pointed at an emulator (`cwlogs_testkit::runtime_api`), and
//! at moto and osmem-server through the variables `scripts/test.sh` exports; an invocation of
//! `samples/direct/cloudtrail.json` must be answered over the Runtime API with the function's
//! summary, both with a deadline as Lambda sends it and with the `lambda-runtime-deadline-ms:
//! 600000` that cargo lambda's emulator sends (a duration: read as a time it is in 1970, and
//! the functions gave up before trying, answering `cwlogs.RetryLater`).
//!
//! The binaries: `CARGO_BIN_EXE_*` names only a package's own binaries, and the functions are
//! packages of their own with no library, so this test builds them with `cargo build -p
//! cwlogs-function-archive -p cwlogs-function-index -p cwlogs-function-alert` into its own
//! target directory (a no-op when they are up to date) and runs `target/debug/<function>`.
#![cfg(feature = "integration")]

use cwlogs_testkit::events::sample;
use cwlogs_testkit::runtime_api::{Answer, Deadline, RuntimeApi};
use cwlogs_testkit::services::{opensearch_url, unique};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

/// How long a function may take to start and answer one invocation.
const PATIENCE: Duration = Duration::from_secs(60);

/// The target directory this test was built in: `<target>/debug/deps/tests-<hash>`.
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable");
    exe.ancestors()
        .nth(3)
        .expect("<target>/debug/deps/<test>")
        .to_path_buf()
}

/// `<target>/debug`, with the three function binaries built (once per test run).
fn functions() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let target = target_dir();
        let out = Command::new(env!("CARGO"))
            .args(["build", "--locked", "--quiet"])
            .args(["-p", "cwlogs-function-archive"])
            .args(["-p", "cwlogs-function-index"])
            .args(["-p", "cwlogs-function-alert"])
            .arg("--target-dir")
            .arg(&target)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .expect("run cargo build");
        assert!(
            out.status.success(),
            "cargo build of the functions failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        target.join("debug")
    })
}

/// A function process, killed when dropped.
struct Function(Child);

impl Drop for Function {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts function `name` against `api`, with the variables Lambda sets and `env` (the AWS
/// and OpenSearch endpoints come from this process's environment, as scripts/test.sh exports
/// them).
fn start(name: &str, api: &RuntimeApi, env: &[(&str, String)]) -> Function {
    let mut cmd = Command::new(functions().join(name));
    cmd.env("AWS_LAMBDA_RUNTIME_API", api.endpoint())
        .env("AWS_LAMBDA_FUNCTION_NAME", format!("cwlogs-{name}"))
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env(
            "AWS_LAMBDA_LOG_GROUP_NAME",
            format!("/aws/lambda/cwlogs-{name}"),
        )
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "2025/11/25/[$LATEST]0")
        .env("CWLOGS_SELF_METRICS", "off")
        .env_remove("CWLOGS_CONFIG")
        .env_remove("CWLOGS_FUNCTION_TIMEOUT")
        .env_remove("AWS_LAMBDA_FUNCTION_TIMEOUT")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    Function(cmd.spawn().unwrap_or_else(|e| panic!("start {name}: {e}")))
}

/// Invokes the function behind `api` with the CloudTrail sample and `deadline`: its summary,
/// or a panic naming what came back instead.
async fn invoke(api: &RuntimeApi, name: &str, deadline: Deadline) -> Value {
    let id = unique(name);
    api.invoke(&id, &sample("direct/cloudtrail.json"), deadline);
    match api.answer(&id, PATIENCE).await {
        Some(Answer::Response(body)) => serde_json::from_str(&body).expect("a JSON summary"),
        Some(Answer::Error { error_type, body }) => {
            panic!("{name} ({deadline:?}) answered {error_type}: {body}")
        }
        None => panic!(
            "{name} ({deadline:?}) did not answer within {PATIENCE:?} (init error: {:?})",
            api.init_error()
        ),
    }
}

/// A configuration file for the test, in a temporary directory kept while it runs.
fn config(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write config");
    path.display().to_string()
}

/// Both deadlines: as Lambda sends it, and cargo lambda's `600000`.
const DEADLINES: [Deadline; 2] = [
    Deadline::In(Duration::from_secs(30)),
    Deadline::Raw(600_000),
];

#[tokio::test]
async fn the_archive_function_answers_over_the_runtime_api() {
    let sdk = cwlogs_testkit::moto::sdk().await;
    let s3 = cwlogs_testkit::moto::s3(&sdk);
    let bucket = cwlogs_testkit::moto::new_bucket(&s3, "rtapi").await;
    let api = RuntimeApi::start().await;
    let _f = start(
        "archive",
        &api,
        &[("CWLOGS_ARCHIVE_BUCKET", bucket.clone())],
    );
    for deadline in DEADLINES {
        let s = invoke(&api, "archive", deadline).await;
        let events = s["events"].as_u64().expect("events");
        assert!(events > 0, "{s}");
        assert_eq!(s["archived_events"], events, "{deadline:?}: {s}");
    }
    let listed = s3
        .list_objects_v2()
        .bucket(&bucket)
        .prefix("cwl/")
        .send()
        .await
        .expect("list");
    assert!(listed.key_count().unwrap_or(0) > 0, "objects in the bucket");
    assert_eq!(api.served(), 2);
}

#[tokio::test]
async fn the_index_function_answers_over_the_runtime_api() {
    let dir = tempfile_dir();
    let prefix = unique("rtapi");
    let config = config(
        &dir,
        "index.toml",
        &format!("[index]\nindex = \"{prefix}-{{log_group}}\"\ninstall_template = false\n"),
    );
    let api = RuntimeApi::start().await;
    let _f = start(
        "index",
        &api,
        &[
            ("CWLOGS_CONFIG", config),
            ("CWLOGS_INDEX_ENDPOINT", opensearch_url()),
            ("CWLOGS_INDEX_AUTH", "none".to_string()),
        ],
    );
    let mut indexed = 0;
    for deadline in DEADLINES {
        let s = invoke(&api, "index", deadline).await;
        let events = s["events"].as_u64().expect("events");
        assert!(events > 0, "{s}");
        // The second invocation is a redelivery: every document is there already.
        let done =
            s["indexed_events"].as_u64().unwrap_or(0) + s["existing_events"].as_u64().unwrap_or(0);
        assert_eq!(done, events, "{deadline:?}: {s}");
        indexed += s["indexed_events"].as_u64().unwrap_or(0);
    }
    assert!(indexed > 0);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn the_alert_function_answers_over_the_runtime_api() {
    let sdk = cwlogs_testkit::moto::sdk().await;
    let topic = cwlogs_testkit::moto::Topic::create(&sdk, "rtapi", false).await;
    let dir = tempfile_dir();
    let config = config(
        &dir,
        "alert.toml",
        &cwlogs_testkit::events::alert_rules(&topic.arn, "1m"),
    );
    let api = RuntimeApi::start().await;
    let _f = start("alert", &api, &[("CWLOGS_CONFIG", config)]);
    for deadline in DEADLINES {
        let s = invoke(&api, "alert", deadline).await;
        assert!(s["events"].as_u64().expect("events") > 0, "{s}");
        assert_eq!(s["rules"]["matches"], 3, "{deadline:?}: {s}");
        assert_eq!(s["pending_records"], 0, "{deadline:?}: {s}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A fresh temporary directory.
fn tempfile_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(unique("rtapi"));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}
