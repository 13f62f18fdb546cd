//! Hostile input, no services: a gzip bomb, a 1 MB message, a 10,000-event batch, JSON nested
//! 100,000 levels deep (in a thread with a 256 KiB stack, to prove nothing recurses per
//! level), invalid UTF-8 inside a base64-gzip payload, lone surrogates, NUL bytes, patterns at
//! and past the 1,024-character limit, a config of 5,000 rules and one past the 1 MiB cap.
//! Each ends in output of bounded size or a clear error naming the stage, never a panic.

use base64::Engine as _;
use cwlogs_lambda::{Archiver, Indexer, Response};
use cwlogs_pipeline::config::MAX_CONFIG_BYTES;
use cwlogs_pipeline::sink::MemoryIndex;
use cwlogs_pipeline::{
    BatchOutput, Config, MemoryArchive, ProcessedInput, RuleRun, RuleStats, process_batch,
    process_input,
};
use cwlogs_testkit::events::{b64, direct_event, gzip, samples_dir};
use cwlogs_testkit::lambda::invocation;
use lambda_runtime::LambdaEvent;
use serde_json::value::RawValue;
use std::time::Instant;

/// The stack the deep-nesting tests run on: far less than one frame per level would need.
const SMALL_STACK: usize = 256 * 1024;

fn env(k: &str) -> Option<String> {
    (k == "AWS_REGION").then(|| "eu-west-1".to_string())
}

/// The built-in config plus `rules` (TOML).
fn config(rules: &str) -> Config {
    Config::from_toml(&format!("[archive]\n\n[index]\n\n{rules}"), &env).expect("config")
}

const JSON_RULE: &str = r#"
[[rule]]
name = "deep"
pattern = '{ $.a.a.a = 1 || $.level = "ERROR" }'
metric = { namespace = "Hostile", name = "Deep", value = "1", unit = "Count" }

[[rule]]
name = "text"
pattern = '"ERROR" -"DEBUG"'
metric = { namespace = "Hostile", name = "Text", value = "1", unit = "Count" }
"#;

/// A gzip CloudWatch Logs envelope holding `messages` (raw JSON string bodies allowed: each
/// is written between quotes as given, so tests can put escapes in).
fn envelope_raw(messages: &[String]) -> Vec<u8> {
    let mut json = String::from(
        r#"{"messageType":"DATA_MESSAGE","owner":"123456789012","logGroup":"/hostile/app","logStream":"s-1","subscriptionFilters":["f"],"logEvents":["#,
    );
    for (i, m) in messages.iter().enumerate() {
        if i > 0 {
            json.push(',');
        }
        json.push_str(&format!(
            r#"{{"id":"{:056}","timestamp":1764633600000,"message":"{m}"}}"#,
            i
        ));
    }
    json.push_str("]}");
    json.into_bytes()
}

/// `messages` escaped as JSON strings.
fn escaped(messages: &[String]) -> Vec<String> {
    messages
        .iter()
        .map(|m| {
            let s = serde_json::to_string(m).expect("json");
            s[1..s.len() - 1].to_string()
        })
        .collect()
}

/// A direct subscription invocation carrying `payload` (gzip bytes).
fn direct(payload: &[u8]) -> String {
    direct_event(&b64().encode(payload))
}

/// Runs decode, archive, documents and rules over one input.
fn run(config: &Config, bytes: &[u8]) -> (ProcessedInput<BatchOutput>, RuleStats) {
    let mut rules = RuleRun::new(&config.rules);
    let out = process_input(config, "hostile", "test", bytes, |region, batch| {
        rules.add_batch(region, batch, 0);
        process_batch(config, region, batch)
    });
    let _ = rules.emf_lines();
    let _ = rules.take_occurrences();
    (out, rules.stats())
}

fn only_dead_letter(out: &ProcessedInput<BatchOutput>) -> &cwlogs_pipeline::DeadLetter {
    let dead: Vec<_> = out.dead_letters().collect();
    assert_eq!(dead.len(), 1, "{dead:?}");
    dead[0]
}

/// Output bytes of one input: archive bodies and bulk bodies.
fn output_bytes(out: &ProcessedInput<BatchOutput>) -> usize {
    out.records
        .iter()
        .flat_map(|r| &r.outputs)
        .map(|o| {
            o.archive.as_ref().map_or(0, |a| a.body.len())
                + o.bulk.iter().map(|c| c.body.len()).sum::<usize>()
        })
        .sum()
}

fn events(out: &ProcessedInput<BatchOutput>) -> usize {
    out.records.iter().map(|r| r.events).sum()
}

fn on_small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(SMALL_STACK)
        .spawn(f)
        .expect("thread")
        .join()
        .expect("no stack overflow, no panic")
}

fn lambda_event(text: &str) -> LambdaEvent<Box<RawValue>> {
    invocation(text, "", None)
}

#[test]
fn a_gzip_bomb_is_a_gzip_dead_letter() {
    let path = samples_dir().join("broken/gzip-bomb.json.gz");
    let bytes = std::fs::read(path).expect("sample");
    let (out, _) = run(&config(""), &bytes);
    let dead = only_dead_letter(&out);
    assert_eq!(dead.stage, "gzip", "{dead:?}");
    assert!(
        dead.error.contains("gzip") && dead.error.contains("limit"),
        "{}",
        dead.error
    );
    assert_eq!(output_bytes(&out), 0);
    // The same bomb, base64'd inside a direct invocation.
    let (out, _) = run(&config(""), direct(&bytes).as_bytes());
    assert_eq!(only_dead_letter(&out).stage, "gzip");
}

#[test]
fn a_one_megabyte_message_is_carried_whole_and_bounded() {
    let big = format!(
        "{{\"level\":\"ERROR\",\"blob\":\"{}\"}}",
        "x".repeat(1_000_000)
    );
    let bytes = gzip(&envelope_raw(&escaped(&[big])));
    let (out, stats) = run(&config(JSON_RULE), &bytes);
    assert_eq!(events(&out), 1);
    assert_eq!(out.dead_letters().count(), 0);
    assert_eq!(stats.matches, 2, "both rules see the message");
    // One archive line and one document: a few MB at most, not a multiple of the input.
    let size = output_bytes(&out);
    assert!(size < 3_000_000, "{size}");
}

#[test]
fn ten_thousand_events_split_into_bounded_requests() {
    let config = config(JSON_RULE);
    let messages: Vec<String> = (0..10_000)
        .map(|i| {
            format!(
                "{{\"level\":\"{}\",\"n\":{i}}}",
                if i % 10 == 0 { "ERROR" } else { "INFO" }
            )
        })
        .collect();
    let bytes = gzip(&envelope_raw(&escaped(&messages)));
    let started = Instant::now();
    let (out, stats) = run(&config, &bytes);
    eprintln!("10,000 events: {:?}", started.elapsed());
    assert_eq!(events(&out), 10_000);
    assert_eq!(stats.matches, 2_000);
    let max = config.index.as_ref().expect("index").max_bulk_bytes;
    let chunks: Vec<_> = out
        .records
        .iter()
        .flat_map(|r| &r.outputs)
        .flat_map(|o| &o.bulk)
        .collect();
    assert_eq!(chunks.iter().map(|c| c.ends.len()).sum::<usize>(), 10_000);
    assert!(chunks.iter().all(|c| c.body.len() <= max));
}

#[tokio::test]
async fn ten_thousand_events_through_the_handlers_add_up() {
    let messages: Vec<String> = (0..10_000).map(|i| format!("line {i}")).collect();
    let text = direct(&gzip(&envelope_raw(&escaped(&messages))));
    let a = Archiver::new(config(""), MemoryArchive::new());
    let (s, answer) = a.handle_counted(lambda_event(&text)).await;
    assert!(matches!(answer, Ok(Response::Summary(_))));
    assert_eq!((s.events, s.archived_events), (10_000, 10_000));
    let i =
        Indexer::new(config(""), MemoryIndex::new(), Some(MemoryArchive::new())).expect("index on");
    let (s, answer) = i.handle_counted(lambda_event(&text)).await;
    assert!(answer.is_ok());
    assert_eq!((s.events, s.indexed_events), (10_000, 10_000));
    assert_eq!(i.transport().docs().len(), 10_000);
}

#[test]
fn json_nested_100_000_levels_deep_needs_no_deep_stack() {
    for (open, close) in [("{\"a\":", "}"), ("[", "]")] {
        let depth = 100_000;
        let message = format!("{}1{}", open.repeat(depth), close.repeat(depth));
        let bytes = gzip(&envelope_raw(&escaped(&[message])));
        let (events, docs, size) = on_small_stack(move || {
            let config = config(JSON_RULE);
            let (out, stats) = run(&config, &bytes);
            let docs: usize = out
                .records
                .iter()
                .flat_map(|r| &r.outputs)
                .flat_map(|o| &o.bulk)
                .map(|c| c.ends.len())
                .sum();
            assert_eq!(stats.matches, 0, "too deep to match `$.a.a.a = 1`");
            (self::events(&out), docs, output_bytes(&out))
        });
        assert_eq!((events, docs), (1, 1), "{open}: indexed (as text, capped)");
        assert!(size < 4 * 600_000, "{open}: {size}");
    }
}

#[test]
fn invalid_utf8_inside_base64_gzip_is_a_json_dead_letter() {
    let mut payload = envelope_raw(&["ok".to_string()]);
    let at = payload
        .windows(4)
        .position(|w| w == b"\"ok\"")
        .expect("message")
        + 1;
    payload[at] = 0xff;
    payload[at + 1] = 0xfe;
    let text = direct(&gzip(&payload));
    let (out, _) = run(&config(JSON_RULE), text.as_bytes());
    let dead = only_dead_letter(&out);
    assert_eq!(dead.stage, "json", "{dead:?}");
    assert!(!dead.error.is_empty());
}

#[test]
fn lone_surrogates_are_dead_letters_or_text_never_panics() {
    // In the envelope itself: the envelope is not valid JSON text.
    let bytes = gzip(&envelope_raw(&["bad \\ud800 escape".to_string()]));
    let (out, _) = run(&config(JSON_RULE), &bytes);
    let dead = only_dead_letter(&out);
    assert_eq!(dead.stage, "json", "{dead:?}");
    // Inside a message that is itself JSON: the message stays text, and is delivered.
    let message = r#"{"level":"ERROR","s":"\ud800","t":"\udfff\ud800"}"#.to_string();
    let bytes = gzip(&envelope_raw(&escaped(&[message])));
    let (out, _) = run(&config(JSON_RULE), &bytes);
    assert_eq!((events(&out), out.dead_letters().count()), (1, 0));
    assert!(output_bytes(&out) > 0);
}

#[test]
fn nul_bytes_in_messages_are_kept_and_escaped() {
    let messages = vec![
        "before\0after".to_string(),
        "{\"level\":\"ERROR\",\"k\":\"a\\u0000b\"}".to_string(),
    ];
    let bytes = gzip(&envelope_raw(&escaped(&messages)));
    let (out, stats) = run(&config(JSON_RULE), &bytes);
    assert_eq!((events(&out), out.dead_letters().count()), (2, 0));
    assert_eq!(stats.events, 2);
    for chunk in out
        .records
        .iter()
        .flat_map(|r| &r.outputs)
        .flat_map(|o| &o.bulk)
    {
        for line in chunk.body.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            assert!(!line.contains(&0), "raw NUL in a bulk line");
            serde_json::from_slice::<serde_json::Value>(line).expect("each bulk line is JSON");
        }
    }
}

fn rule_with_pattern(pattern: &str) -> String {
    format!(
        "[[rule]]\nname = \"long\"\npattern = '{pattern}'\nmetric = {{ namespace = \"N\", name = \"M\", value = \"1\", unit = \"Count\" }}\n"
    )
}

#[test]
fn patterns_of_1024_characters_load_and_1025_are_refused() {
    let ok = "x".repeat(1024);
    let c = Config::from_toml(&rule_with_pattern(&ok), &env).expect("1,024 characters load");
    assert_eq!(c.rules.len(), 1);
    let long = "x".repeat(1025);
    let errors = Config::from_toml(&rule_with_pattern(&long), &env).expect_err("1,025 refused");
    let text = errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n");
    assert!(text.contains("1024") || text.contains("1,024"), "{text}");
}

#[test]
fn a_config_of_5000_rules_loads_and_runs() {
    let mut text = String::new();
    for i in 0..5_000 {
        text.push_str(&format!(
            "[[rule]]\nname = \"r{i}\"\npattern = '{{ $.code = {i} }}'\nmetric = {{ namespace = \"N\", name = \"M{i}\", value = \"1\", unit = \"Count\" }}\n"
        ));
    }
    assert!(text.len() < MAX_CONFIG_BYTES, "{}", text.len());
    let started = Instant::now();
    let c = Config::from_toml(&text, &env).expect("5,000 rules load");
    let load = started.elapsed();
    assert_eq!(c.rules.len(), 5_000);
    let messages: Vec<String> = (0..1_000).map(|i| format!("{{\"code\":{i}}}")).collect();
    let bytes = gzip(&envelope_raw(&escaped(&messages)));
    let started = Instant::now();
    let (out, stats) = run(&c, &bytes);
    let eval = started.elapsed();
    eprintln!("5,000 rules: config loaded in {load:?}; 1,000 events evaluated in {eval:?}");
    assert_eq!(events(&out), 1_000);
    assert_eq!(stats.matches, 1_000);
}

#[test]
fn a_config_past_one_mebibyte_is_refused() {
    let text = format!("{}\n", "#".repeat(MAX_CONFIG_BYTES));
    assert_eq!(text.len(), MAX_CONFIG_BYTES + 1);
    let errors = Config::from_toml(&text, &env).expect_err("refused");
    let message = errors[0].to_string();
    assert!(message.contains("limit"), "{message}");
}
