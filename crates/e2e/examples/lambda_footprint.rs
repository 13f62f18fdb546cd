//! Cold start and warm containers of the function bootstraps as deployed (issue 22): each
//! `bootstrap` that `cargo lambda build --release` wrote (`<dir>/<function>/bootstrap`) is
//! started as Lambda starts it, against the Runtime API emulator of the test kit
//! (`cwlogs_testkit::runtime_api`), with the environment the SAM stack gives it (the shipped
//! `infra/sam/config/cwlogs.toml` as `CWLOGS_CONFIG`, `CWLOGS_ARCHIVE_BUCKET`,
//! `CWLOGS_ARCHIVE_KMS_KEY`, `CWLOGS_SELF_METRICS`, `CWLOGS_FUNCTION_TIMEOUT`, the index's
//! `CWLOGS_INDEX_*`, the alert's `CWLOGS_ALERT_TOPIC` and `CWLOGS_ALERT_TABLE`), its real AWS
//! clients pointed at moto and osmem-server on 127.0.0.1 (the variables `scripts/test.sh`'s
//! `start_services` exports: `AWS_ENDPOINT_URL`, `OPENSEARCH_URL`, the throwaway credentials).
//!
//! ```sh
//! cargo build --release -p cwlogs-e2e --example lambda_footprint
//! lambda_footprint cold DATA --bootstraps $CARGO_TARGET_DIR/lambda --rules rules10.toml --runs 21
//! lambda_footprint warm DATA --bootstraps $CARGO_TARGET_DIR/lambda --rules rules10.toml \
//!     --invocations 10000 --every 1000
//! ```
//!
//! `DATA` is a `bench/gen_cwl.py` data set. `--rules` is the alert function's rules
//! (`cargo bench -p cwlogs-pipeline --bench e2e -- --rules 10` prints them; their `[alerts]
//! topic` is replaced by the stack's topic). The index function runs with `[patterns] enabled
//! = true` added to the shipped configuration.
//!
//! - `cold`: for each function, `--runs` fresh processes (cold starts), each given the data
//!   set's median event (the manifest's file of median event count, as `scripts/bench.sh`
//!   picks it), queued before the process starts. Measured: process start (spawn) to the end
//!   of init (the first `GET .../next`) and to the answer received by the emulator, and peak RSS (`VmHWM` of `/proc/<pid>/status`, read
//!   right after the answer), and the CPU time
//!   the process used until then (its threads' `schedstat`: what is the function's own, apart
//!   from the time the local services take to answer); medians. Then the same event through `node
//!   bench/peers/node_blueprint.js --one FILE`: spawn to exit, and peak RSS from `/usr/bin/time
//!   -f %M` (separate runs, so that the wrapper does not count in the time). The index
//!   function runs twice: against osmem-server, and against a stub cluster that answers every
//!   `_bulk` at once (`index, stub OS`), so that the cluster's own indexing time (which
//!   osmem-server spends on one thread, and which a real cluster spends elsewhere) is apart.
//! - `warm`: one process per function, `--invocations` invocations of the data set's event files
//!   round-robin (each cut into deliveries of at most `--max-events` events when given, cycling
//!   through the pieces), `VmRSS` and `VmHWM` sampled after invocation 100, every `--every`
//!   invocations and at the end. Growth is the end's `VmHWM` over the one after invocation
//!   100. Every `--every` invocations the services are emptied (the archive bucket's objects,
//!   the indices `cwl-*`) so that moto and osmem-server stay small; that is the tool's work
//!   between two invocations, not the function's. `--instant-cluster`: the index function
//!   against the stub cluster instead (a quick look at its memory, without osmem-server's time).
//!
//! Every answer must be a response (not an error) with `events` > 0: anything else stops the
//! run with the answer, so a misconfigured function cannot pass for a fast one.

use base64::Engine as _;
use cwlogs_testkit::runtime_api::{Answer, Deadline, RuntimeApi};
use serde_json::Value;
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a function may take to answer one invocation.
const PATIENCE: Duration = Duration::from_secs(60);
/// The functions, in the order measured.
const FUNCTIONS: [&str; 3] = ["archive", "index", "alert"];
/// The SAM stack's defaults (`MemorySize`, `Timeout`).
const MEMORY_MB: &str = "512";
const TIMEOUT_S: &str = "60";

struct Args {
    mode: String,
    data: PathBuf,
    bootstraps: PathBuf,
    rules: Option<PathBuf>,
    shipped: PathBuf,
    runs: usize,
    invocations: usize,
    every: usize,
    max_events: Option<usize>,
    functions: Vec<String>,
    node: bool,
    instant_cluster: bool,
}

fn usage() -> ! {
    eprintln!(
        "usage: lambda_footprint cold|warm DATA --bootstraps DIR [--rules FILE] [--config FILE] \
         [--runs N] [--invocations N] [--every N] [--max-events N] [--functions a,b] [--no-node] \
         [--instant-cluster]"
    );
    std::process::exit(2)
}

fn args() -> Args {
    let mut a = std::env::args().skip(1);
    let mode = a.next().unwrap_or_else(|| usage());
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut args = Args {
        mode,
        data: PathBuf::new(),
        bootstraps: PathBuf::new(),
        rules: None,
        shipped: root.join("infra/sam/config/cwlogs.toml"),
        runs: 21,
        invocations: 10_000,
        every: 1000,
        max_events: None,
        functions: FUNCTIONS.iter().map(|f| f.to_string()).collect(),
        node: true,
        instant_cluster: false,
    };
    while let Some(k) = a.next() {
        let mut value = || a.next().unwrap_or_else(|| usage());
        let number = |v: String| v.parse::<usize>().unwrap_or_else(|_| usage());
        match k.as_str() {
            "--bootstraps" => args.bootstraps = value().into(),
            "--rules" => args.rules = Some(value().into()),
            "--config" => args.shipped = value().into(),
            "--runs" => args.runs = number(value()).max(1),
            "--invocations" => args.invocations = number(value()).max(1),
            "--every" => args.every = number(value()).max(1),
            "--max-events" => args.max_events = Some(number(value()).max(1)),
            "--functions" => args.functions = value().split(',').map(String::from).collect(),
            "--no-node" => args.node = false,
            "--instant-cluster" => args.instant_cluster = true,
            _ if !k.starts_with('-') => args.data = k.into(),
            _ => usage(),
        }
    }
    if args.data.as_os_str().is_empty() || args.bootstraps.as_os_str().is_empty() {
        usage()
    }
    args
}

/// What the functions are pointed at: moto's bucket, topic and table, osmem-server's URL, and
/// a configuration file per function.
struct Stack {
    bucket: String,
    topic: String,
    table: String,
    opensearch: String,
    configs: PathBuf,
    sdk: aws_config::SdkConfig,
}

impl Stack {
    async fn new(args: &Args) -> Stack {
        let sdk = cwlogs_testkit::moto::sdk().await;
        let s3 = cwlogs_testkit::moto::s3(&sdk);
        let bucket = cwlogs_testkit::moto::new_bucket(&s3, "footprint").await;
        let topic = cwlogs_testkit::moto::Topic::create(&sdk, "footprint", false)
            .await
            .arn;
        let table = cwlogs_testkit::moto::state_table(&sdk, "footprint").await;
        let configs = std::env::temp_dir().join(cwlogs_testkit::services::unique("footprint"));
        std::fs::create_dir_all(&configs).expect("config dir");
        let shipped = std::fs::read_to_string(&args.shipped)
            .unwrap_or_else(|e| panic!("{}: {e}", args.shipped.display()));
        // archive: as shipped; index: with log patterns; alert: the rules given (their
        // `[alerts] topic` dropped: the stack's topic comes from CWLOGS_ALERT_TOPIC).
        std::fs::write(configs.join("archive.toml"), &shipped).expect("write config");
        std::fs::write(
            configs.join("index.toml"),
            format!("{shipped}\n[patterns]\nenabled = true\n"),
        )
        .expect("write config");
        let alert = match &args.rules {
            Some(path) => {
                let rules = std::fs::read_to_string(path)
                    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                let rules: String = rules
                    .lines()
                    .filter(|l| l.trim() != "[alerts]" && !l.starts_with("topic ="))
                    .map(|l| format!("{l}\n"))
                    .collect();
                format!("[archive]\nprefix = \"cwl\"\n\n[alerts]\ngrace = \"1m\"\n\n{rules}")
            }
            None => shipped.clone(),
        };
        std::fs::write(configs.join("alert.toml"), alert).expect("write config");
        Stack {
            bucket,
            topic,
            table,
            opensearch: cwlogs_testkit::services::opensearch_url(),
            configs,
            sdk,
        }
    }

    /// The environment of function `name`, as Lambda and the SAM stack set it.
    fn env(&self, name: &str, api: &RuntimeApi) -> Vec<(String, String)> {
        let mut env: Vec<(String, String)> = [
            ("AWS_LAMBDA_RUNTIME_API", api.endpoint()),
            ("AWS_LAMBDA_FUNCTION_NAME", format!("cwlogs-{name}")),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", MEMORY_MB.into()),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".into()),
            (
                "AWS_LAMBDA_LOG_GROUP_NAME",
                format!("/aws/lambda/cwlogs-{name}"),
            ),
            ("AWS_LAMBDA_LOG_STREAM_NAME", "2026/12/05/[$LATEST]0".into()),
            ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".into()),
            ("_HANDLER", "bootstrap".into()),
            ("TZ", ":UTC".into()),
            ("LANG", "en_US.UTF-8".into()),
            (
                "CWLOGS_CONFIG",
                self.configs
                    .join(format!("{name}.toml"))
                    .display()
                    .to_string(),
            ),
            ("CWLOGS_ARCHIVE_BUCKET", self.bucket.clone()),
            ("CWLOGS_ARCHIVE_KMS_KEY", String::new()),
            ("CWLOGS_SELF_METRICS", "log_group".into()),
            ("CWLOGS_FUNCTION_TIMEOUT", TIMEOUT_S.into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        match name {
            "index" => {
                env.push(("CWLOGS_INDEX_ENDPOINT".into(), self.opensearch.clone()));
                env.push(("CWLOGS_INDEX_AUTH".into(), String::new()));
                env.push(("CWLOGS_INDEX_SECRET".into(), String::new()));
            }
            "alert" => {
                env.push(("CWLOGS_ALERT_TOPIC".into(), self.topic.clone()));
                env.push(("CWLOGS_ALERT_TABLE".into(), self.table.clone()));
            }
            _ => {}
        }
        // Where the AWS clients go: moto, with the throwaway credentials (as exported by
        // scripts/test.sh); Lambda passes a role's credentials the same way.
        for k in [
            "AWS_ENDPOINT_URL",
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_REGION",
            "AWS_DEFAULT_REGION",
            "AWS_EC2_METADATA_DISABLED",
        ] {
            if let Ok(v) = std::env::var(k) {
                env.push((k.into(), v));
            }
        }
        env
    }

    /// Empties the archive bucket and deletes the indices `cwl-*`.
    async fn empty(&self) {
        let s3 = cwlogs_testkit::moto::s3(&self.sdk);
        loop {
            let listed = s3
                .list_objects_v2()
                .bucket(&self.bucket)
                .send()
                .await
                .expect("list the bucket");
            let keys: Vec<_> = listed
                .contents()
                .iter()
                .filter_map(|o| o.key())
                .map(|k| {
                    aws_sdk_s3::types::ObjectIdentifier::builder()
                        .key(k)
                        .build()
                        .expect("object id")
                })
                .collect();
            if keys.is_empty() {
                break;
            }
            s3.delete_objects()
                .bucket(&self.bucket)
                .delete(
                    aws_sdk_s3::types::Delete::builder()
                        .set_objects(Some(keys))
                        .build()
                        .expect("delete"),
                )
                .send()
                .await
                .expect("delete objects");
        }
        http_delete(&self.opensearch, "/cwl-*");
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.configs);
    }
}

/// `DELETE path` on `url` (plain HTTP, as osmem-server serves), the answer ignored.
fn http_delete(url: &str, path: &str) {
    let Some(host) = url.strip_prefix("http://") else {
        return;
    };
    let host = host.trim_end_matches('/');
    if let Ok(mut s) = std::net::TcpStream::connect(host) {
        let _ = s.set_read_timeout(Some(Duration::from_secs(30)));
        let _ = write!(
            s,
            "DELETE {path} HTTP/1.1\r\nhost: {host}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
        );
        let mut sink = Vec::new();
        let _ = s.read_to_end(&mut sink);
    }
}

/// A function process, killed when dropped.
struct Function {
    child: Child,
    started: Instant,
}

impl Drop for Function {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts function `name` against `api` with the stack's environment, the index endpoint
/// replaced by `cluster` when given.
fn start_with(
    args: &Args,
    stack: &Stack,
    name: &str,
    api: &RuntimeApi,
    cluster: Option<&str>,
) -> Function {
    let bootstrap = args.bootstraps.join(name).join("bootstrap");
    let mut env = stack.env(name, api);
    if let Some(url) = cluster {
        for (k, v) in &mut env {
            if k == "CWLOGS_INDEX_ENDPOINT" {
                *v = url.to_string();
            }
        }
    }
    let mut cmd = Command::new(&bootstrap);
    cmd.env_clear()
        .envs(env)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let started = Instant::now();
    let child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("start {}: {e}", bootstrap.display()));
    Function { child, started }
}

/// `VmRSS` and `VmHWM` of a process, in kB.
fn memory(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// CPU time the process has run, in ms: the sum over its threads of
/// `/proc/<pid>/task/<tid>/schedstat`'s first field (nanoseconds on a CPU).
fn cpu_ms(pid: u32) -> f64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return f64::NAN;
    };
    let ns: u64 = tasks
        .filter_map(Result::ok)
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum();
    ns as f64 / 1e6
}

/// Invokes the function behind `api` with `payload` and waits for its answer: the summary, or
/// a panic naming what came back instead.
async fn invoke(api: &RuntimeApi, name: &str, id: &str, payload: &str) -> Value {
    api.invoke(id, payload, Deadline::In(Duration::from_secs(60)));
    match api.answer(id, PATIENCE).await {
        Some(Answer::Response(body)) => {
            let s: Value = serde_json::from_str(&body).expect("a JSON summary");
            assert!(
                s["events"].as_u64().unwrap_or(0) > 0,
                "{name} answered {id} without events: {s}"
            );
            s
        }
        Some(Answer::Error { error_type, body }) => {
            panic!("{name} answered {id} with {error_type}: {body}")
        }
        None => panic!(
            "{name} did not answer {id} within {PATIENCE:?} (init error: {:?})",
            api.init_error()
        ),
    }
}

/// The data set's event files, in name order, with their event counts.
fn event_files(data: &Path) -> Vec<(PathBuf, u64)> {
    let manifest: Value = serde_json::from_str(
        &std::fs::read_to_string(data.join("manifest.json")).expect("DATA/manifest.json"),
    )
    .expect("manifest JSON");
    let mut files: Vec<(PathBuf, u64)> = manifest["files"]
        .as_array()
        .expect("manifest files")
        .iter()
        .map(|f| {
            (
                data.join("events")
                    .join(format!("{}.json", f["name"].as_str().expect("name"))),
                f["events"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    files.sort();
    files
}

/// The median event file, as scripts/bench.sh picks it: by event count, the middle one.
fn median_file(data: &Path) -> (PathBuf, u64) {
    let mut files = event_files(data);
    files.sort_by_key(|f| f.1);
    files[files.len() / 2].clone()
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

async fn cold(args: &Args, stack: &Stack) {
    let (file, events) = median_file(&args.data);
    let payload = std::fs::read_to_string(&file).expect("read the median event");
    println!(
        "cold start: {} runs per process on {} ({events} log events); medians (min-max)",
        args.runs,
        file.display()
    );
    println!(
        "{:<16} {:>22} {:>24} {:>20} {:>20}",
        "process", "start -> init (ms)", "start -> answer (ms)", "CPU (ms)", "peak RSS (MB)"
    );
    // Each function against the local services; the index function also against a cluster
    // that answers at once (`instant_cluster`): osmem-server's own indexing time (tens to
    // hundreds of ms for a thousand documents on this machine) is not the function's.
    let stub = args
        .functions
        .iter()
        .any(|f| f == "index")
        .then(instant_cluster);
    let mut rows: Vec<(String, &str, Option<&str>)> = args
        .functions
        .iter()
        .map(|f| (format!("cwlogs {f}"), f.as_str(), None))
        .collect();
    if let Some(url) = &stub {
        rows.push(("index, stub OS".into(), "index", Some(url.as_str())));
    }
    for (label, name, cluster) in rows {
        let (mut init, mut ms, mut cpu, mut mb) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for run in 0..args.runs {
            let api = RuntimeApi::start().await;
            let id = format!("cold-{name}-{run}");
            api.invoke(&id, &payload, Deadline::In(Duration::from_secs(60)));
            let f = start_with(args, stack, name, &api, cluster);
            let answer = api.answer(&id, PATIENCE).await;
            let (_, hwm) = memory(f.child.id());
            cpu.push(cpu_ms(f.child.id()));
            let since = |t: Option<Instant>| {
                t.map_or(f64::NAN, |t| {
                    t.duration_since(f.started).as_secs_f64() * 1e3
                })
            };
            let (init_at, answer_at) = (since(api.first_poll()), since(api.answered_at(&id)));
            match answer {
                Some(Answer::Response(body)) => {
                    let s: Value = serde_json::from_str(&body).expect("a JSON summary");
                    assert!(s["events"].as_u64().unwrap_or(0) > 0, "{name}: {s}");
                }
                other => panic!(
                    "{name} run {run}: {other:?} (init error: {:?})",
                    api.init_error()
                ),
            }
            drop(f);
            init.push(init_at);
            ms.push(answer_at);
            mb.push(hwm as f64 / 1024.0);
        }
        print_row(&label, [&mut init, &mut ms, &mut cpu, &mut mb]);
    }
    if args.node {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let script = root.join("bench/peers/node_blueprint.js");
        let (mut ms, mut mb) = (Vec::new(), Vec::new());
        let out = std::env::temp_dir().join(cwlogs_testkit::services::unique("time"));
        for _ in 0..args.runs {
            let t = Instant::now();
            let status = Command::new("node")
                .arg(&script)
                .arg("--one")
                .arg(&file)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .expect("run node");
            ms.push(t.elapsed().as_secs_f64() * 1e3);
            assert!(status.success(), "node blueprint: {status}");
            let status = Command::new("/usr/bin/time")
                .args(["-f", "%M", "-o"])
                .arg(&out)
                .arg("node")
                .arg(&script)
                .arg("--one")
                .arg(&file)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .expect("run /usr/bin/time node");
            assert!(status.success(), "node blueprint: {status}");
            let kb: f64 = std::fs::read_to_string(&out)
                .ok()
                .and_then(|t| t.lines().last().and_then(|l| l.trim().parse().ok()))
                .unwrap_or(0.0);
            mb.push(kb / 1024.0);
        }
        let _ = std::fs::remove_file(&out);
        print_row(
            "Node blueprint",
            [&mut [f64::NAN], &mut ms, &mut [f64::NAN], &mut mb],
        );
    }
}

fn print_row(label: &str, columns: [&mut [f64]; 4]) {
    let range = |v: &mut [f64]| {
        let m = median(v);
        if m.is_nan() {
            return "-".to_string();
        }
        format!("{m:.1} ({:.1}-{:.1})", v[0], v[v.len() - 1])
    };
    let [init, ms, cpu, mb] = columns;
    println!(
        "{label:<16} {:>22} {:>24} {:>20} {:>20}",
        range(init),
        range(ms),
        range(cpu),
        range(mb)
    );
}

/// Cuts a CloudWatch Logs subscription event (`{"awslogs": {"data": ...}}`) into deliveries of
/// at most `max` log events each (the same envelope).
fn cut(payload: &str, max: usize) -> Vec<String> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let event: Value = serde_json::from_str(payload).expect("event JSON");
    let gz = b64
        .decode(event["awslogs"]["data"].as_str().expect("awslogs.data"))
        .expect("base64");
    let mut json = Vec::new();
    flate2::read::GzDecoder::new(&gz[..])
        .read_to_end(&mut json)
        .expect("gzip");
    let data: Value = serde_json::from_slice(&json).expect("subscription data");
    let all = data["logEvents"].as_array().cloned().unwrap_or_default();
    all.chunks(max)
        .map(|chunk| {
            let mut d = data.clone();
            d["logEvents"] = Value::Array(chunk.to_vec());
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
            gz.write_all(&serde_json::to_vec(&d).expect("json"))
                .expect("gzip");
            let gz = gz.finish().expect("gzip");
            serde_json::json!({"awslogs": {"data": b64.encode(gz)}}).to_string()
        })
        .collect()
}

async fn warm(args: &Args, stack: &Stack) {
    // Round-robin over the files; a file cut into pieces gives its next piece each turn.
    let mut files: Vec<Vec<String>> = Vec::new();
    for (path, _) in event_files(&args.data) {
        let payload = std::fs::read_to_string(&path).expect("read an event file");
        files.push(match args.max_events {
            Some(max) => cut(&payload, max),
            None => vec![payload],
        });
    }
    let pieces: usize = files.iter().map(Vec::len).sum();
    println!(
        "warm containers: {} invocations per process, {} event files round-robin ({pieces} deliveries{}); RSS sampled after invocation 100 and every {}",
        args.invocations,
        files.len(),
        args.max_events
            .map(|m| format!(" of at most {m} log events"))
            .unwrap_or_default(),
        args.every
    );
    for name in &args.functions {
        stack.empty().await;
        let api = RuntimeApi::start().await;
        let stub = args.instant_cluster.then(instant_cluster);
        let f = start_with(args, stack, name, &api, stub.as_deref());
        let pid = f.child.id();
        let (mut events, mut base, mut curve) = (0u64, (0, 0), Vec::new());
        let t = Instant::now();
        for i in 0..args.invocations {
            let file = &files[i % files.len()];
            let payload = &file[(i / files.len()) % file.len()];
            let s = invoke(&api, name, &format!("warm-{name}-{i}"), payload).await;
            events += s["events"].as_u64().unwrap_or(0);
            let n = i + 1;
            if n == 100 {
                base = memory(pid);
            }
            if n == 100 || n % args.every == 0 || n == args.invocations {
                let (rss, hwm) = memory(pid);
                curve.push((n, rss, hwm));
            }
            if n % args.every == 0 {
                stack.empty().await;
            }
        }
        let secs = t.elapsed().as_secs_f64();
        let (rss, hwm) = memory(pid);
        drop(f);
        let mb = |kb: u64| kb as f64 / 1024.0;
        let pct = |a: u64, b: u64| {
            if b == 0 {
                0.0
            } else {
                (a as f64 - b as f64) * 100.0 / b as f64
            }
        };
        println!(
            "\ncwlogs {name}: {} invocations, {events} log events, {secs:.0} s",
            args.invocations
        );
        println!(
            "{:>12} {:>12} {:>12}",
            "invocation", "VmRSS (MB)", "VmHWM (MB)"
        );
        for (n, rss, hwm) in &curve {
            println!("{n:>12} {:>12.1} {:>12.1}", mb(*rss), mb(*hwm));
        }
        println!(
            "growth after invocation 100: VmHWM {:.1} -> {:.1} MB ({:+.1}%), VmRSS {:.1} -> {:.1} MB ({:+.1}%): {}",
            mb(base.1),
            mb(hwm),
            pct(hwm, base.1),
            mb(base.0),
            mb(rss),
            pct(rss, base.0),
            if pct(hwm, base.1) < 5.0 {
                "under 5%"
            } else {
                "NOT under 5%"
            }
        );
    }
}

/// A cluster that answers at once, for the index function's cold start without the cluster's
/// own time: on 127.0.0.1, one thread per connection (kept alive), every `_bulk` answered
/// `201 created` for each of its items, every other request `{"acknowledged": true}`. It
/// does no indexing: what the function spends is then all that is left between process start
/// and the answer.
fn instant_cluster() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the stub cluster");
    let url = format!(
        "http://{}",
        listener.local_addr().expect("stub cluster address")
    );
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            std::thread::spawn(move || serve_instantly(conn));
        }
    });
    url
}

/// Serves the requests of one connection until the client closes it (or sends what this
/// stub cannot read).
fn serve_instantly(mut conn: std::net::TcpStream) {
    let _ = conn.set_nodelay(true);
    let mut buf: Vec<u8> = Vec::new();
    let mut chunk = [0u8; 64 * 1024];
    loop {
        // The head.
        let head_end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            match conn.read(&mut chunk) {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
        let header = |name: &str| {
            head.lines()
                .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
                .map(|v| v.trim().to_string())
        };
        let line = head.lines().next().unwrap_or_default().to_string();
        let gzip = header("content-encoding").is_some_and(|v| v.contains("gzip"));
        let chunked = header("transfer-encoding").is_some_and(|v| v.contains("chunked"));
        let mut body = Vec::new();
        let mut rest = buf.split_off(head_end);
        buf.clear();
        if chunked {
            // size CRLF data CRLF ... 0 CRLF CRLF
            loop {
                let Some(i) = rest.windows(2).position(|w| w == b"\r\n") else {
                    match conn.read(&mut chunk) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => rest.extend_from_slice(&chunk[..n]),
                    }
                    continue;
                };
                let size = String::from_utf8_lossy(&rest[..i]);
                let Ok(size) =
                    usize::from_str_radix(size.split(';').next().unwrap_or("").trim(), 16)
                else {
                    return;
                };
                while rest.len() < i + 2 + size + 2 {
                    match conn.read(&mut chunk) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => rest.extend_from_slice(&chunk[..n]),
                    }
                }
                body.extend_from_slice(&rest[i + 2..i + 2 + size]);
                rest.drain(..i + 2 + size + 2);
                if size == 0 {
                    break;
                }
            }
        } else {
            let length: usize = header("content-length")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            while rest.len() < length {
                match conn.read(&mut chunk) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => rest.extend_from_slice(&chunk[..n]),
                }
            }
            body = rest.drain(..length).collect();
        }
        buf = rest;
        let answer = if line.contains("/_bulk") {
            let mut text = Vec::new();
            if gzip {
                if flate2::read::GzDecoder::new(&body[..])
                    .read_to_end(&mut text)
                    .is_err()
                {
                    return;
                }
            } else {
                text = body;
            }
            // Action lines (`{"create":{...}}`), each followed by its document unless it is a
            // delete. Read by their first key only: this harness is a debug build, and parsing
            // every line would put its own time into the answer's.
            let mut answer = String::from(r#"{"took":0,"errors":false,"items":["#);
            let mut lines = text.split(|b| *b == b'\n').filter(|l| !l.is_empty());
            let mut first = true;
            while let Some(action) = lines.next() {
                let op = action
                    .strip_prefix(b"{\"")
                    .and_then(|a| a.split(|b| *b == b'"').next())
                    .and_then(|op| std::str::from_utf8(op).ok());
                let Some(op) = op else {
                    return;
                };
                if op != "delete" {
                    lines.next();
                }
                if !first {
                    answer.push(',');
                }
                first = false;
                answer.push_str(&format!(
                    r#"{{"{op}":{{"status":201,"result":"created"}}}}"#
                ));
            }
            answer.push_str("]}");
            answer
        } else {
            r#"{"acknowledged":true}"#.to_string()
        };
        let reply = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{answer}",
            answer.len()
        );
        if conn.write_all(reply.as_bytes()).is_err() {
            return;
        }
    }
}

fn main() {
    let args = args();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(async {
        let stack = Stack::new(&args).await;
        match args.mode.as_str() {
            "cold" => cold(&args, &stack).await,
            "warm" => warm(&args, &stack).await,
            _ => usage(),
        }
    });
}
