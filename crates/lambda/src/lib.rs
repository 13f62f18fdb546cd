//! cwlogs Lambda glue: what every cwlogs function does around its sink.
//!
//! The handlers: [`Archiver`] (the archive function: S3), [`Indexer`] (the index function:
//! OpenSearch / Elasticsearch) and [`Alerter`] (the alert function: `[[rule]]` metrics as EMF
//! lines on stdout, alerts and window summaries to SNS, state in DynamoDB or memory). Each
//! supplies only its delivery step and its summary ([`InvocationSummary`], [`IndexSummary`],
//! [`AlertSummary`], with its self-metrics counters); one skeleton (the private `handler`
//! module) does the rest for all three: the start time and the [`Budget`], decoding, the dead
//! letter of an input that is no subscription payload at all, dead-letter names and writes,
//! the summary line and the self-metrics. `handle_counted_at` runs an invocation as if it
//! started at a given time.
//!
//! - **Trigger detection**: one handler takes any trigger a subscription can use (direct
//!   `awslogs`, Kinesis Data Streams, a Firehose transformation), detected by the payload's
//!   shape, read as raw JSON and decoded by `cwlogs-decode` without an intermediate tree.
//! - **The answer each trigger expects** ([`Response`]; README.md, "The archive function"): a direct (asynchronous)
//!   invocation succeeds when every event is delivered, filtered out or dead-lettered and fails
//!   (so Lambda retries, then uses the function's failure destination) only while retryable
//!   failures remain; Kinesis gets `batchItemFailures` naming the records to retry; a Firehose
//!   transformation gets `Ok` / `Dropped` / `ProcessingFailed` per record.
//! - **Deadlines** ([`Budget`]): retries stop early enough to write dead letters and answer
//!   before the function times out. A deadline that cannot be Lambda's (already past, or more
//!   than [`MAX_FUNCTION_TIMEOUT`] away, such as the `600000` that cargo lambda's emulator
//!   sends) is replaced by the function's timeout ([`function_timeout`]), with a warning.
//! - **Logs**: JSON through `tracing` (with Lambda's `AWS_LAMBDA_LOG_FORMAT=JSON`), one summary
//!   line per invocation (`InvocationSummary`: `outcome`, `summary` holding the function's
//!   summary serialised as one JSON object, `input_bytes`, `duration_ms`) and one line per dead
//!   letter, never one per event. The alert
//!   function's EMF lines are the exception: raw stdout lines, where CloudWatch looks for them.
//! - **Recursion guard**: the rules never look at the function's own log group
//!   (`AWS_LAMBDA_LOG_GROUP_NAME`), where its logs and EMF lines go, whatever the
//!   subscription says.
//! - **Cold start** ([`load_config`]): the configuration is read and validated once; a bad
//!   file fails the cold start with every error and its line, not each invocation.
//!
//! ```
//! # async fn example() -> Result<(), lambda_runtime::Error> {
//! use cwlogs_lambda::{Archiver, Response};
//! use cwlogs_pipeline::{Config, MemoryArchive};
//! use lambda_runtime::{Context, LambdaEvent};
//!
//! let config = Config::builtin(&|_| None);
//! let handler = Archiver::new(config, MemoryArchive::new());
//! let payload = serde_json::value::RawValue::from_string(r#"{"awslogs":{"data":"H4sIAAAAAAAA/6tWyk0tLk5MT1WyUkpJLElUqgUAZ0kgrBMAAAA="}}"#.into())?;
//! let answer = handler.handle(LambdaEvent::new(payload, Context::default())).await;
//! // Not a subscription payload inside: dead-lettered, so the invocation itself succeeds.
//! assert!(matches!(answer, Ok(Response::Summary(_))));
//! # Ok(()) }
//! ```
//!
//! # Input safety
//!
//! The event is held as raw JSON (Lambda caps it at 6 MB for synchronous and 1 MB for
//! asynchronous invocations) and decoded with the decoder's caps (gunzip output, nesting).
//! A Firehose answer is kept under Lambda's 6 MB response limit: records past it are answered
//! `ProcessingFailed`, so Firehose keeps them in its error output instead of failing the batch.
//! Only payloads under 64 KiB are probed for an EventBridge scheduled event. What the rules
//! keep per invocation is bounded by `cwlogs_pipeline::rules::evaluate` (candidate events per group
//! and window, distinct buckets), and alert messages by `cwlogs_pipeline::rules::alert` (256 KB).
//!
//! # Errors
//!
//! A handler fails only with [`RetryLater`] (retryable failures remain and the trigger should
//! redeliver). Configuration problems surface at cold start as [`ColdStartError`].

mod alert;
mod alert_objects;
mod archive;
mod dead_letter;
mod handler;
mod index;
mod objects;
mod redrive;
mod response;
mod self_metrics;
mod summary;

pub use alert::{Alerter, check_alert_config};
pub use archive::Archiver;
pub use index::Indexer;
pub use response::{
    BatchItemFailure, BatchOperationsAnswer, BatchOperationsResult, FirehoseRecord, FirehoseResult,
    Response,
};
pub use self_metrics::{GroupCounts, GroupTallies, SelfMetricsDetail, redacted_values_lines};
pub use summary::RedriveCounts;
pub use summary::{AlertSummary, IndexSummary, InvocationSummary};

use cwlogs_pipeline::Config;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The largest configuration file read at cold start (the pipeline also caps what it parses).
const MAX_CONFIG_FILE: u64 = cwlogs_pipeline::config::MAX_CONFIG_BYTES as u64 + 1;

/// The handler's only error: some of the input could not be delivered or dead-lettered yet,
/// and the trigger should deliver it again.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct RetryLater {
    /// What is pending and why.
    pub message: String,
}

impl From<RetryLater> for lambda_runtime::Diagnostic {
    fn from(e: RetryLater) -> Self {
        lambda_runtime::Diagnostic {
            error_type: "cwlogs.RetryLater".into(),
            error_message: e.message,
        }
    }
}

/// Why a cold start failed: the configuration cannot be read or is not valid for the
/// function. The message lists every problem, with file, line and column.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cwlogs configuration: {0}")]
pub struct ColdStartError(pub String);

/// Where the configuration is read from: `CWLOGS_CONFIG`, else `cwlogs.toml` beside the
/// function's executable when present, else nowhere (the built-in configuration).
pub fn config_path(
    env: &dyn Fn(&str) -> Option<String>,
    exe_dir: Option<&Path>,
) -> Option<PathBuf> {
    if let Some(p) = env("CWLOGS_CONFIG").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    exe_dir
        .map(|d| d.join("cwlogs.toml"))
        .filter(|p| p.is_file())
}

/// Reads and validates the configuration once, at cold start (see [`config_path`]), with the
/// log pattern miner's budget fitted to the function's memory ([`fit_patterns_to_memory`])
/// and no example message kept per template (no function reads one: a new-pattern alert's
/// example is the event that raised it).
pub fn load_config(env: &dyn Fn(&str) -> Option<String>) -> Result<Config, ColdStartError> {
    let mut config = read_config(env)?;
    fit_patterns_to_memory(&mut config, env);
    if let Some(patterns) = config.patterns.as_mut() {
        patterns.limits.example_bytes = 0;
    }
    Ok(config)
}

/// The share of the function's memory the log pattern miner's estimated bytes may take:
/// one eighth (the estimate leaves out the allocator's overhead, about half again on top in
/// `BENCHMARKS.md`, "Memory for 10,000 log groups"; the rest is the invocation's own work,
/// up to about 31 MB for a 1 MB event).
pub const PATTERN_MEMORY_SHARE: u64 = 8;

/// Caps `[patterns] max_total_bytes` (and `max_group_bytes`) at [`PATTERN_MEMORY_SHARE`] of
/// the function's memory, `AWS_LAMBDA_FUNCTION_MEMORY_SIZE` (MB, which Lambda sets): the
/// default budget (64 MiB) is what a container receiving many log groups grows to, which a
/// function of 128 MB cannot hold beside a 1 MB event. Returns the budget when it lowered it
/// (logged as `PatternBudgetFitted`); nothing changes without patterns or the variable.
pub fn fit_patterns_to_memory(
    config: &mut Config,
    env: &dyn Fn(&str) -> Option<String>,
) -> Option<usize> {
    let patterns = config.patterns.as_mut()?;
    let mb: u64 = env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")?
        .trim()
        .parse()
        .ok()?;
    let budget = usize::try_from(mb.saturating_mul(1 << 20) / PATTERN_MEMORY_SHARE).ok()?;
    let limits = &mut patterns.limits;
    if limits.max_total_bytes <= budget {
        return None;
    }
    tracing::info!(
        event = "PatternBudgetFitted",
        memory_mb = mb,
        configured = limits.max_total_bytes,
        max_total_bytes = budget,
        message = "[patterns] max_total_bytes lowered to an eighth of the function's memory"
    );
    limits.max_total_bytes = budget;
    limits.max_group_bytes = limits.max_group_bytes.min(budget);
    Some(budget)
}

fn read_config(env: &dyn Fn(&str) -> Option<String>) -> Result<Config, ColdStartError> {
    let exe = std::env::current_exe().ok();
    let Some(path) = config_path(env, exe.as_deref().and_then(Path::parent)) else {
        return Ok(Config::builtin(env));
    };
    let shown = path.display();
    let mut text = String::new();
    let read = std::fs::File::open(&path).and_then(|f| {
        use std::io::Read;
        f.take(MAX_CONFIG_FILE).read_to_string(&mut text)
    });
    if let Err(e) = read {
        return Err(ColdStartError(format!("cannot read {shown}: {e}")));
    }
    Config::from_toml(&text, env).map_err(|errors| {
        let lines: Vec<String> = errors
            .iter()
            .map(|e| match e.position {
                Some((l, c)) => format!("{shown}:{l}:{c}: {}", e.message),
                None => format!("{shown}: {}", e.message),
            })
            .collect();
        ColdStartError(lines.join("; "))
    })
}

/// Lambda's longest function timeout (15 minutes): a deadline further than this from the
/// start of an invocation is not one Lambda sends.
pub const MAX_FUNCTION_TIMEOUT: Duration = Duration::from_secs(15 * 60);

/// The timeout assumed for an invocation whose deadline cannot be right, when none is
/// configured: 60 s, the stacks' default `Timeout` (SAM and CDK).
pub const DEFAULT_FUNCTION_TIMEOUT: Duration = Duration::from_secs(60);

/// The function's timeout, for the invocations whose deadline cannot be Lambda's (see
/// [`Budget::for_invocation`]): `CWLOGS_FUNCTION_TIMEOUT`, else `AWS_LAMBDA_FUNCTION_TIMEOUT`
/// (what local emulators such as AWS's Runtime Interface Emulator read; Lambda itself sets
/// neither, and passes the timeout only as each invocation's deadline), in seconds from 1 to
/// 900; else [`DEFAULT_FUNCTION_TIMEOUT`]. `env` looks the variables up (the functions pass
/// the process environment).
pub fn function_timeout(env: &dyn Fn(&str) -> Option<String>) -> Duration {
    ["CWLOGS_FUNCTION_TIMEOUT", "AWS_LAMBDA_FUNCTION_TIMEOUT"]
        .iter()
        .filter_map(|name| env(name))
        .filter_map(|v| v.trim().parse::<u64>().ok())
        .find(|s| (1..=MAX_FUNCTION_TIMEOUT.as_secs()).contains(s))
        .map_or(DEFAULT_FUNCTION_TIMEOUT, Duration::from_secs)
}

/// How long an invocation may spend on what: sends stop at `send_until`, dead letters at
/// `dead_letter_until`, so that the answer always goes out before Lambda's deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Last moment to start or wait for a send (retries included).
    pub send_until: Option<Instant>,
    /// Last moment for dead-letter writes.
    pub dead_letter_until: Option<Instant>,
}

impl Budget {
    /// The budget for an invocation whose deadline is `deadline_ms` (milliseconds since the
    /// epoch, from the Lambda context; 0 means none, as in tests), seen at `now`. A fifth of
    /// the time left is kept back, at least 200 ms and at most 2 s: half of it for dead
    /// letters, half for answering.
    pub fn new(deadline_ms: u64, now: SystemTime) -> Budget {
        if deadline_ms == 0 {
            return Budget {
                send_until: None,
                dead_letter_until: None,
            };
        }
        let now_ms = now
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let left = Duration::from_millis(deadline_ms.saturating_sub(now_ms));
        let reserve = (left / 5).clamp(Duration::from_millis(200), Duration::from_secs(2));
        let start = Instant::now();
        Budget {
            send_until: Some(start + left.saturating_sub(reserve)),
            dead_letter_until: Some(start + left.saturating_sub(reserve / 2)),
        }
    }

    /// The budget of an invocation that starts at `now` with Lambda's `deadline_ms`, for a
    /// function whose timeout is `timeout`. A deadline that cannot be Lambda's, already past
    /// or more than [`MAX_FUNCTION_TIMEOUT`] away (cargo lambda's emulator sends `600000`, a
    /// duration, which read as a time is in 1970), is taken as `now + timeout` instead: the
    /// second value says why, for the warning the handler logs. 0 means no deadline (tests).
    pub fn for_invocation(
        deadline_ms: u64,
        now: SystemTime,
        timeout: Duration,
    ) -> (Budget, Option<String>) {
        if deadline_ms == 0 {
            return (Budget::new(0, now), None);
        }
        let now_ms = now
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let max = MAX_FUNCTION_TIMEOUT.as_millis() as u64;
        let why = if deadline_ms <= now_ms {
            "is already past"
        } else if deadline_ms - now_ms > max {
            "is more than 15 minutes away (Lambda's longest timeout)"
        } else {
            return (Budget::new(deadline_ms, now), None);
        };
        let assumed = now_ms + timeout.as_millis() as u64;
        let when = cwlogs_pipeline::util::time::UtcTime::from_millis(deadline_ms as i64).rfc3339();
        let message = format!(
            "the invocation's deadline ({deadline_ms} ms since the epoch, {when}) {why}: not one \
             Lambda sends (a local emulator may send a duration); the function's timeout, {} s, \
             is taken instead (CWLOGS_FUNCTION_TIMEOUT, default {} s)",
            timeout.as_secs(),
            DEFAULT_FUNCTION_TIMEOUT.as_secs()
        );
        (Budget::new(assumed, now), Some(message))
    }
}

/// Prints the function's own metrics for one invocation as EMF lines on stdout (namespace
/// `cwlogs`), which CloudWatch turns into the metrics the deployment's dashboard and alarms
/// read: the function's counters (dimension `Function`), then per sink and log group the
/// events in, delivered, filtered, dead-lettered and pending, and the delivery lag (see
/// [`self_metrics_lines`]), and `RedactedValues` per detector for what `[redact]` replaced
/// (`redacted`, see [`redacted_values_lines`]). `CWLOGS_SELF_METRICS` (`off`, `function`,
/// `sink`, `log_group`, default `log_group`) sets how much. Only inside Lambda
/// (`AWS_LAMBDA_FUNCTION_NAME` set): tests and local runs print nothing.
pub fn emit_self_metrics(
    counters: &[(&str, u64)],
    groups: &GroupTallies,
    redacted: &cwlogs_pipeline::redact::RedactCounts,
) {
    let Some(function) = std::env::var("AWS_LAMBDA_FUNCTION_NAME")
        .ok()
        .filter(|f| !f.is_empty())
    else {
        return;
    };
    let detail = match std::env::var("CWLOGS_SELF_METRICS") {
        Err(_) => SelfMetricsDetail::default(),
        Ok(v) => SelfMetricsDetail::parse(&v).unwrap_or_else(|| {
            tracing::warn!(
                event = "BadSetting",
                setting = "CWLOGS_SELF_METRICS",
                value = %v,
                message = "expected off, function, sink or log_group; using log_group"
            );
            SelfMetricsDetail::default()
        }),
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let mut lines = self_metrics_lines(&function, now, detail, counters, groups);
    if detail != SelfMetricsDetail::Off {
        lines.extend(redacted_values_lines(&function, now, &redacted.0));
    }
    for line in lines {
        println!("{line}");
    }
}

/// The EMF lines [`emit_self_metrics`] prints: the function's counters (unless `detail` is
/// `off`), then the per sink (and log group) documents of `groups`.
pub fn self_metrics_lines(
    function: &str,
    now_ms: i64,
    detail: SelfMetricsDetail,
    counters: &[(&str, u64)],
    groups: &GroupTallies,
) -> Vec<String> {
    if detail == SelfMetricsDetail::Off {
        return Vec::new();
    }
    let mut lines = vec![self_metrics::self_metrics_line(function, now_ms, counters)];
    lines.extend(groups.emf_lines(function, now_ms, detail));
    lines
}

/// Starts JSON (or, outside Lambda's JSON log format, plain) logging through `tracing`, at
/// the level in `AWS_LAMBDA_LOG_LEVEL` or `RUST_LOG` (default INFO).
pub fn init_tracing() {
    lambda_runtime::tracing::init_default_subscriber();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_keeps_a_reserve() {
        let now = SystemTime::now();
        let ms = now.duration_since(UNIX_EPOCH).expect("clock").as_millis() as u64;
        let b = Budget::new(ms + 10_000, now);
        let send = b.send_until.expect("send");
        let dl = b.dead_letter_until.expect("dl");
        let left = send.saturating_duration_since(Instant::now());
        assert!(left <= Duration::from_millis(8_000) && left > Duration::from_millis(7_500));
        assert!(dl > send);
        let tight = Budget::new(ms + 300, now);
        assert!(tight.send_until.expect("send") <= Instant::now() + Duration::from_millis(100));
        assert_eq!(Budget::new(0, now).send_until, None);
        // A deadline already past leaves no time at all, never a panic.
        assert!(
            Budget::new(ms.saturating_sub(5_000), now)
                .send_until
                .is_some()
        );
    }

    /// Issue 24: cargo lambda's emulator sends `lambda-runtime-deadline-ms: 600000`, which read
    /// as a time is in 1970; such deadlines (and ones too far away) become the function's
    /// timeout, with the reason for the warning.
    #[test]
    fn implausible_deadlines_become_the_function_timeout() {
        let now = SystemTime::now();
        let ms = now.duration_since(UNIX_EPOCH).expect("clock").as_millis() as u64;
        let timeout = Duration::from_secs(60);
        let left = |b: Budget| {
            b.send_until
                .expect("a deadline")
                .saturating_duration_since(Instant::now())
        };
        for (deadline, why) in [
            (600_000, "already past"),
            (ms - 1, "already past"),
            (ms + 16 * 60_000, "more than 15 minutes away"),
        ] {
            let (b, warning) = Budget::for_invocation(deadline, now, timeout);
            let warning = warning.expect("a warning");
            assert!(warning.contains(why), "{deadline}: {warning}");
            assert!(warning.contains("60 s"), "{warning}");
            // 60 s less the 2 s reserve.
            let l = left(b);
            assert!(
                l > Duration::from_secs(57) && l <= Duration::from_secs(58),
                "{l:?}"
            );
        }
        let (b, warning) = Budget::for_invocation(ms + 10_000, now, timeout);
        assert_eq!(warning, None, "a deadline Lambda would send");
        assert!(left(b) <= Duration::from_secs(8));
        let (b, warning) = Budget::for_invocation(ms + 15 * 60_000, now, timeout);
        assert_eq!(warning, None, "15 minutes is Lambda's longest");
        assert!(left(b) > Duration::from_secs(800));
        assert_eq!(
            Budget::for_invocation(0, now, timeout),
            (Budget::new(0, now), None)
        );
    }

    #[test]
    fn the_timeout_comes_from_the_environment() {
        let timeout = |pairs: &[(&str, &str)]| {
            let env = |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            };
            function_timeout(&env)
        };
        assert_eq!(timeout(&[]), DEFAULT_FUNCTION_TIMEOUT);
        let both = [
            ("CWLOGS_FUNCTION_TIMEOUT", "120"),
            ("AWS_LAMBDA_FUNCTION_TIMEOUT", "30"),
        ];
        assert_eq!(timeout(&both), Duration::from_secs(120));
        assert_eq!(
            timeout(&[("AWS_LAMBDA_FUNCTION_TIMEOUT", "30")]),
            Duration::from_secs(30)
        );
        for bad in ["0", "901", "1m", ""] {
            let pairs = [("CWLOGS_FUNCTION_TIMEOUT", bad)];
            assert_eq!(timeout(&pairs), DEFAULT_FUNCTION_TIMEOUT, "{bad}");
        }
    }

    #[test]
    fn config_comes_from_the_variable_then_beside_the_binary() {
        let dir = std::env::temp_dir().join(format!("cwlogs-lambda-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        assert_eq!(config_path(&|_| None, Some(&dir)), None);
        std::fs::write(dir.join("cwlogs.toml"), "[archive]\n").expect("write");
        assert_eq!(
            config_path(&|_| None, Some(&dir)),
            Some(dir.join("cwlogs.toml"))
        );
        let env = |k: &str| (k == "CWLOGS_CONFIG").then(|| "/etc/x.toml".to_string());
        assert_eq!(
            config_path(&env, Some(&dir)),
            Some(PathBuf::from("/etc/x.toml"))
        );
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn the_pattern_budget_fits_the_function_memory() {
        let dir = std::env::temp_dir().join(format!("cwlogs-lambda-mem-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("c.toml");
        let load = |text: &str, memory: Option<&str>| {
            std::fs::write(&path, text).expect("write");
            let p = path.display().to_string();
            let memory = memory.map(String::from);
            let env = move |k: &str| match k {
                "CWLOGS_CONFIG" => Some(p.clone()),
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE" => memory.clone(),
                _ => None,
            };
            load_config(&env).expect("valid")
        };
        let limits = |c: &Config| c.patterns.as_ref().expect("[patterns]").limits;
        let on = "[patterns]\nenabled = true\n";
        // 128 MB: an eighth, 16 MiB, under the default 64 MiB.
        let c = load(on, Some("128"));
        assert_eq!(limits(&c).max_total_bytes, 16 << 20);
        assert_eq!(limits(&c).max_group_bytes, 1 << 20);
        // No function reads a template's example: none is kept (the library keeps 512 bytes).
        assert_eq!(limits(&c).example_bytes, 0);
        assert_eq!(
            cwlogs_pipeline::patterns::Limits::default().example_bytes,
            cwlogs_pipeline::patterns::MAX_EXAMPLE_BYTES
        );
        // 1,024 MB: an eighth is 128 MiB, over the default: unchanged.
        let c = load(on, Some("1024"));
        assert_eq!(limits(&c).max_total_bytes, 64 << 20);
        // Outside Lambda (no variable) or unreadable: unchanged.
        assert_eq!(limits(&load(on, None)).max_total_bytes, 64 << 20);
        assert_eq!(limits(&load(on, Some("lots"))).max_total_bytes, 64 << 20);
        // A smaller budget of the configuration's own stays; a group budget above the total
        // comes down with it.
        let c = load(
            "[patterns]\nenabled = true\nmax_total_bytes = 2097152\n",
            Some("128"),
        );
        assert_eq!(limits(&c).max_total_bytes, 2 << 20);
        let c = load(
            "[patterns]\nenabled = true\nmax_group_bytes = 67108864\n",
            Some("256"),
        );
        assert_eq!(limits(&c).max_total_bytes, 32 << 20);
        assert_eq!(limits(&c).max_group_bytes, 32 << 20);
        // Patterns off: nothing to fit.
        let mut c = load("[archive]\nprefix = \"x\"\n", Some("128"));
        assert!(c.patterns.is_none());
        assert_eq!(
            fit_patterns_to_memory(&mut c, &|_| Some("128".into())),
            None
        );
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn a_bad_config_fails_the_cold_start_with_positions() {
        let dir = std::env::temp_dir().join(format!("cwlogs-lambda-bad-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("c.toml");
        std::fs::write(&path, "[archive]\ngzip_level = 42\n").expect("write");
        let p = path.display().to_string();
        let env = move |k: &str| (k == "CWLOGS_CONFIG").then(|| p.clone());
        let e = load_config(&env).expect_err("invalid");
        assert!(e.0.contains("c.toml:2:14: `gzip_level`"), "{e}");
        let missing = |k: &str| (k == "CWLOGS_CONFIG").then(|| "/nonexistent/c.toml".to_string());
        assert!(
            load_config(&missing)
                .expect_err("missing")
                .0
                .contains("cannot read")
        );
        std::fs::remove_dir_all(&dir).ok();
    }
}
