//! The skeleton every function's handler plugs into. A handler ([`Deliver`]) supplies its
//! delivery step and its summary (with its self-metrics counters); the skeleton does the
//! rest once: the clock and the deadline budget, the invocation's log line and self-metrics,
//! decoding with the dead letter of an input that is not a subscription payload at all, the
//! names of record dead letters, and writing dead letters.

use crate::dead_letter::{DeadLetterError, DeadLetters, record_name};
use crate::response::{Delivered, Response};
use crate::summary::Summary;
use crate::{Budget, RetryLater};
use cwlogs_decode::Shape;
use cwlogs_pipeline::util::short_hash;
use cwlogs_pipeline::{
    Archive, BatchOutput, Config, DeadLetter, LogBatch, ProcessedRecord, process_batch,
    process_input,
};
use lambda_runtime::LambdaEvent;
use serde_json::value::RawValue;
use std::ops::ControlFlow;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// One invocation, as a handler's delivery step sees it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Invocation<'a> {
    /// The event's payload, raw JSON as received.
    pub bytes: &'a [u8],
    /// Lambda's request id.
    pub request_id: &'a str,
    /// When the invocation started, the handlers' `now`: the budget is counted from it, dead
    /// letters are dated by it and alert windows judged at it.
    pub started_at: SystemTime,
    /// The deadlines of the invocation's sends and dead letters.
    pub budget: Budget,
}

impl Invocation<'_> {
    /// Where the input came from, as dead letters record it: `lambda:{request id}`.
    pub(crate) fn source(&self) -> String {
        format!("lambda:{}", self.request_id)
    }

    /// [`Invocation::started_at`] in milliseconds since the epoch.
    pub(crate) fn now_ms(&self) -> i64 {
        self.started_at
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64)
    }
}

/// An input decoded by [`Deliver::decode`]: its records, and what names their dead letters.
#[derive(Debug)]
pub(crate) struct Decoded<T> {
    /// The trigger's shape.
    pub shape: Option<Shape>,
    /// The records, in input order.
    pub records: Vec<ProcessedRecord<T>>,
    /// The input's short hash, the stem of its dead letters' names.
    pub hash: String,
    /// `lambda:{request id}` ([`Invocation::source`]).
    pub source: String,
}

impl<T> Decoded<T> {
    /// The shape's name (`direct`, `kinesis`, ...), as summaries and dead letters give it.
    pub(crate) fn shape_name(&self) -> &'static str {
        self.shape.map_or("unknown", Shape::as_str)
    }

    /// A record's dead letter from `process_input`, named `{shape}-...` ([`record_name`]).
    pub(crate) fn record_letter(&self, dead: &DeadLetter) -> DeadLetter {
        DeadLetter {
            name: record_name(self.shape_name(), &self.hash, &dead.name),
            ..dead.clone()
        }
    }

    /// For each record, the earlier record whose dead letter it shares, if any. Records with
    /// identical bytes that fail share one dead letter, named by those bytes and listing every
    /// occurrence (`process_input` merges them): it is written and counted once, for the first
    /// of them, and the others are settled or pending with it.
    pub(crate) fn dead_letter_twins(&self) -> Vec<Option<usize>> {
        let mut first: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
        self.records
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let name = r.dead.as_ref()?.name.as_str();
                match first.entry(name) {
                    std::collections::hash_map::Entry::Occupied(e) => Some(*e.get()),
                    std::collections::hash_map::Entry::Vacant(e) => {
                        e.insert(i);
                        None
                    }
                }
            })
            .collect()
    }

    /// The answer once each record is settled (`None`) or pending (`Some(why)`): see
    /// [`crate::response::answer`]; a direct invocation's error says the records are
    /// `not_done`.
    pub(crate) fn answer<S: Clone>(
        &self,
        input: &Invocation<'_>,
        pending: &[Option<String>],
        summary: S,
        not_done: &str,
    ) -> Delivered<S> {
        let (shape, records) = (self.shape, &self.records);
        crate::response::answer(shape, input.bytes, records, pending, summary, not_done)
    }
}

/// What a function's handler supplies to the skeleton: its summary type, where its dead letters
/// go, and its delivery step. [`handle_counted`] does the rest.
pub(crate) trait Deliver {
    /// What one invocation did.
    type Summary: Summary;
    /// The bucket dead letters are written to.
    type DeadLetterArchive: Archive;

    /// Where dead letters go.
    fn dead_letter_destination(&self) -> DeadLetters<'_, Self::DeadLetterArchive>;

    /// The function's timeout, for invocations whose deadline cannot be Lambda's
    /// ([`Budget::for_invocation`]).
    fn timeout(&self) -> Duration;

    /// Delivers one invocation's input: the counts, with the trigger's answer or the error that
    /// makes Lambda retry the invocation.
    async fn deliver(&self, input: &Invocation<'_>) -> Delivered<Self::Summary>;

    /// Writes `dead` by the budget's dead-letter deadline, dated by the invocation's start.
    async fn dead_letter(
        &self,
        dead: &DeadLetter,
        input: &Invocation<'_>,
    ) -> Result<(), DeadLetterError> {
        let until = input.budget.dead_letter_until;
        let destination = self.dead_letter_destination();
        destination.write(dead, input.now_ms(), until).await
    }

    /// Decodes the input with `process_input`, calling `build` for each data batch, and starts
    /// the summary with the shape and the number of records. An input that is not a
    /// subscription payload at all is dead-lettered whole (`unrecognised-{hash}.bin`) and
    /// answered here: `Break` holds that answer.
    async fn decode<T>(
        &self,
        input: &Invocation<'_>,
        config: &Config,
        build: impl FnMut(&str, &LogBatch<'_>) -> T,
    ) -> ControlFlow<Delivered<Self::Summary>, (Decoded<T>, Self::Summary)> {
        let hash = short_hash(input.bytes);
        let source = input.source();
        let processed = process_input(config, &hash, &source, input.bytes, build);
        let decoded = Decoded {
            shape: processed.shape,
            records: processed.records,
            hash,
            source,
        };
        let mut summary = Self::Summary::started(decoded.shape_name(), decoded.records.len());
        let Some(dead) = processed.dead else {
            return ControlFlow::Continue((decoded, summary));
        };
        // The whole input could not even be recognised: keep it, and answer.
        let dead = DeadLetter {
            name: format!("unrecognised-{}.bin", decoded.hash),
            ..dead
        };
        ControlFlow::Break(match self.dead_letter(&dead, input).await {
            Ok(()) => {
                summary.count_dead_letter();
                Ok((summary.clone(), Response::Summary(summary)))
            }
            Err(e) => Err((
                summary,
                RetryLater {
                    message: e.to_string(),
                },
            )),
        })
    }

    /// [`Deliver::decode`] building each batch's archive object and index documents
    /// (`process_batch`).
    async fn decode_batches(
        &self,
        input: &Invocation<'_>,
        config: &Config,
    ) -> ControlFlow<Delivered<Self::Summary>, (Decoded<BatchOutput>, Self::Summary)> {
        let build = |region: &str, batch: &LogBatch<'_>| process_batch(config, region, batch);
        self.decode(input, config, build).await
    }
}

/// The public entry points of a handler type whose summary is `$summary`, each a call of the
/// skeleton: `handle` (documented by `$doc`), `handle_counted` and `handle_counted_at`.
macro_rules! entry_points {
    ($summary:ty, $doc:literal) => {
        /// Sets the function's timeout (default [`crate::DEFAULT_FUNCTION_TIMEOUT`]; the
        /// functions pass [`crate::function_timeout`]): the budget of an invocation whose
        /// deadline cannot be Lambda's, such as the `600000` of cargo lambda's emulator.
        pub fn with_timeout(mut self, timeout: ::std::time::Duration) -> Self {
            self.timeout = timeout;
            self
        }

        #[doc = $doc]
        pub async fn handle(
            &self,
            event: ::lambda_runtime::LambdaEvent<Box<::serde_json::value::RawValue>>,
        ) -> Result<$crate::Response<$summary>, $crate::RetryLater> {
            self.handle_counted(event).await.1
        }

        /// [`Self::handle`], with the invocation's counts whatever the answer (a Kinesis or
        /// Firehose answer, or an error, does not carry them).
        pub async fn handle_counted(
            &self,
            event: ::lambda_runtime::LambdaEvent<Box<::serde_json::value::RawValue>>,
        ) -> (
            $summary,
            Result<$crate::Response<$summary>, $crate::RetryLater>,
        ) {
            $crate::handler::handle_counted(self, event).await
        }

        /// [`Self::handle_counted`] for an invocation that started at `started_at` (instead of
        /// now): the deadline budget is counted from it, dead letters are dated by it and, in
        /// the alert function, alert windows are judged at it.
        pub async fn handle_counted_at(
            &self,
            event: ::lambda_runtime::LambdaEvent<Box<::serde_json::value::RawValue>>,
            started_at: ::std::time::SystemTime,
        ) -> (
            $summary,
            Result<$crate::Response<$summary>, $crate::RetryLater>,
        ) {
            $crate::handler::handle_counted_at(self, event, started_at).await
        }
    };
}
pub(crate) use entry_points;

/// Handles one invocation with `handler`, starting now.
pub(crate) async fn handle_counted<D: Deliver>(
    handler: &D,
    event: LambdaEvent<Box<RawValue>>,
) -> (D::Summary, Result<Response<D::Summary>, RetryLater>) {
    handle_counted_at(handler, event, SystemTime::now()).await
}

/// Handles one invocation with `handler`, started at `started_at`: the budget from Lambda's
/// deadline, the handler's delivery, one `InvocationSummary` log line (the outcome, the summary
/// as one JSON value, the input's size and the time taken) and the self-metrics. Returns the
/// counts whatever the answer (a Kinesis or Firehose answer, or an error, does not carry them).
pub(crate) async fn handle_counted_at<D: Deliver>(
    handler: &D,
    event: LambdaEvent<Box<RawValue>>,
    started_at: SystemTime,
) -> (D::Summary, Result<Response<D::Summary>, RetryLater>) {
    let started = Instant::now();
    let (budget, implausible) =
        Budget::for_invocation(event.context.deadline, started_at, handler.timeout());
    if let Some(message) = implausible {
        tracing::warn!(
            event = "ImplausibleDeadline",
            deadline_ms = event.context.deadline,
            timeout_s = handler.timeout().as_secs(),
            message = %message
        );
    }
    let input = Invocation {
        bytes: event.payload.get().as_bytes(),
        request_id: &event.context.request_id,
        started_at,
        budget,
    };
    let delivered = handler.deliver(&input).await;
    let (summary, outcome) = match &delivered {
        Ok((s, _)) => (s, "ok"),
        Err((s, _)) => (s, "retry"),
    };
    let duration_ms = started.elapsed().as_millis() as u64;
    let line = summary_line(outcome, summary, input.bytes.len(), duration_ms, started_at);
    println!("{line}");
    crate::emit_self_metrics(&summary.counters(), summary.groups(), summary.redacted());
    match delivered {
        Ok((s, answer)) => (s, Ok(answer)),
        Err((s, e)) => (s, Err(e)),
    }
}

/// The invocation's one log line: a JSON object laid out as the JSON log lines of `tracing`
/// (`timestamp`, `level`, `fields`, `target`), with the summary's own fields inside `fields`
/// beside `event`, `outcome`, `input_bytes` and `duration_ms`, so that CloudWatch Logs Insights
/// reads each of them (`fields.events`, `fields.dead_letters`, ...) without parsing a string.
/// Written with `println!` as the EMF lines are, whatever the log format.
pub fn summary_line<S: serde::Serialize>(
    outcome: &str,
    summary: &S,
    input_bytes: usize,
    duration_ms: u64,
    at: SystemTime,
) -> String {
    use serde_json::{Value, json};
    let mut fields = match serde_json::to_value(summary) {
        Ok(Value::Object(map)) => map,
        _ => serde_json::Map::new(),
    };
    fields.insert("event".into(), json!("InvocationSummary"));
    fields.insert("outcome".into(), json!(outcome));
    fields.insert("input_bytes".into(), json!(input_bytes));
    fields.insert("duration_ms".into(), json!(duration_ms));
    let ms = at
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    json!({
        "timestamp": cwlogs_pipeline::util::time::UtcTime::from_millis(ms).rfc3339(),
        "level": "INFO",
        "fields": fields,
        "target": "cwlogs_lambda",
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use crate::{Archiver, InvocationSummary, Response, RetryLater};
    use cwlogs_pipeline::{Config, MemoryArchive};
    use lambda_runtime::tracing::subscriber::fmt::{self, MakeWriter};
    use lambda_runtime::{Context, LambdaEvent};
    use serde_json::Value;
    use serde_json::value::RawValue;
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    /// JSON, but no trigger's shape.
    const NOT_A_PAYLOAD: &str = r#"{"not":"a subscription payload"}"#;

    /// A writer keeping what the subscriber writes.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("lock").extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl MakeWriter<'_> for Captured {
        type Writer = Captured;

        fn make_writer(&self) -> Captured {
            self.clone()
        }
    }

    /// Runs one invocation of `handler` on `payload`, started at `started_at`, with Lambda's
    /// JSON log format: the counts, the answer, and the log lines.
    fn invoke(
        handler: &Archiver<MemoryArchive>,
        payload: &str,
        started_at: SystemTime,
    ) -> (InvocationSummary, Result<Response, RetryLater>, Vec<Value>) {
        invoke_with_deadline(handler, payload, started_at, 0)
    }

    /// [`invoke`] with `lambda-runtime-deadline-ms` = `deadline_ms`.
    fn invoke_with_deadline(
        handler: &Archiver<MemoryArchive>,
        payload: &str,
        started_at: SystemTime,
        deadline_ms: u64,
    ) -> (InvocationSummary, Result<Response, RetryLater>, Vec<Value>) {
        let payload = RawValue::from_string(payload.to_string()).expect("json");
        let mut context = Context::default();
        context.request_id = "req-1".into();
        context.deadline = deadline_ms;
        let event = LambdaEvent::new(payload, context);
        let out = Captured::default();
        let subscriber = fmt::Subscriber::builder()
            .json()
            .with_writer(out.clone())
            .finish();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let (summary, answer) = tracing::subscriber::with_default(subscriber, || {
            runtime.block_on(handler.handle_counted_at(event, started_at))
        });
        let text = String::from_utf8(out.0.lock().expect("lock").clone()).expect("utf-8");
        let lines = text
            .lines()
            .map(|l| serde_json::from_str(l).expect("one JSON object a line"))
            .collect();
        (summary, answer, lines)
    }

    #[test]
    fn an_unrecognised_input_is_dead_lettered_whole_on_the_day_the_invocation_started() {
        let handler = Archiver::new(Config::builtin(&|_| None), MemoryArchive::new());
        // 2024-02-29T23:59:59.999Z: the dead letter is dated by the start, whatever the clock
        // says when it is written.
        let started_at = UNIX_EPOCH + Duration::from_millis(1_709_251_199_999);
        let (summary, answer, _) = invoke(&handler, NOT_A_PAYLOAD, started_at);
        assert_eq!(answer, Ok(Response::Summary(summary.clone())));
        assert_eq!((summary.shape, summary.records), ("unknown", 0));
        assert_eq!(summary.dead_letters, 1);
        let objects = handler.archive().objects();
        let keys: Vec<&String> = objects.keys().collect();
        assert_eq!(keys.len(), 2, "{keys:?}");
        for key in &keys {
            assert!(
                key.starts_with("dead-letter/dt=2024-02-29/unrecognised-"),
                "{key}"
            );
        }
        let error = String::from_utf8_lossy(&objects[keys[1]].body);
        assert!(error.contains(r#""input": "lambda:req-1""#), "{error}");
    }

    #[test]
    fn the_summary_is_logged_as_one_json_object() {
        let handler = Archiver::new(Config::builtin(&|_| None), MemoryArchive::new());
        let started_at = UNIX_EPOCH + Duration::from_millis(1_709_251_199_999);
        let (summary, _, _) = invoke(&handler, NOT_A_PAYLOAD, started_at);
        let line = crate::handler::summary_line("ok", &summary, 33, 7, started_at);
        let line: Value = serde_json::from_str(&line).expect("one JSON object");
        assert_eq!(line["timestamp"], "2024-02-29T23:59:59.999Z");
        assert_eq!(line["level"], "INFO");
        let fields = &line["fields"];
        assert_eq!(fields["event"], "InvocationSummary");
        assert_eq!(fields["outcome"], "ok");
        assert_eq!(
            (&fields["input_bytes"], &fields["duration_ms"]),
            (&33.into(), &7.into())
        );
        // The summary's own fields, as values: nothing to parse again.
        assert_eq!(fields["shape"], "unknown");
        assert_eq!(fields["dead_letters"], 1);
        assert_eq!(fields["records"], 0);
    }

    /// cargo lambda's emulator sends `lambda-runtime-deadline-ms: 600000`: the invocation runs
    /// with the function's timeout instead (here 30 s), and one warning line says so.
    #[test]
    fn an_implausible_deadline_is_the_function_timeout_with_one_warning() {
        let handler = Archiver::new(Config::builtin(&|_| None), MemoryArchive::new())
            .with_timeout(Duration::from_secs(30));
        let text = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../samples/direct/cloudtrail.json"),
        )
        .expect("sample");
        let (summary, answer, lines) =
            invoke_with_deadline(&handler, &text, SystemTime::now(), 600_000);
        assert_eq!(answer, Ok(Response::Summary(summary.clone())));
        assert!(summary.events > 0 && summary.archived_events == summary.events);
        let warnings: Vec<&Value> = lines
            .iter()
            .filter(|l| l["fields"]["event"] == "ImplausibleDeadline")
            .collect();
        assert_eq!(warnings.len(), 1, "{lines:?}");
        assert_eq!(warnings[0]["level"], "WARN");
        assert_eq!(warnings[0]["fields"]["timeout_s"], 30);
        let message = warnings[0]["fields"]["message"].as_str().expect("message");
        assert!(
            message.contains("600000 ms since the epoch, 1970-01-01T00:10:00"),
            "{message}"
        );
        // A deadline Lambda would send: no warning.
        let now = SystemTime::now();
        let ms = now.duration_since(UNIX_EPOCH).expect("clock").as_millis() as u64;
        let (_, answer, lines) = invoke_with_deadline(&handler, &text, now, ms + 20_000);
        assert!(answer.is_ok());
        assert!(
            !lines
                .iter()
                .any(|l| l["fields"]["event"] == "ImplausibleDeadline")
        );
    }
}
