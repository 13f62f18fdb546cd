//! Crashers kept by scripts/fuzz.sh (crates/pipeline/fuzz/regressions/<target>/*), replayed
//! through the same calls as the fuzz targets: each once crashed, and must not any more.

use cwlogs_pipeline::Config;
use cwlogs_pipeline::index::{ResponseClass, classify_response};
use cwlogs_pipeline::redact::{DETECTORS, RedactCounts, Redactor};
use cwlogs_pipeline::sink::Reply;
use cwlogs_testkit::files::fuzz_regressions;

#[test]
fn config_crashers_load_or_fail_cleanly() {
    for (name, bytes) in fuzz_regressions(env!("CARGO_MANIFEST_DIR"), "config") {
        let Ok(text) = std::str::from_utf8(&bytes) else {
            continue;
        };
        let _ = Config::from_toml(text, &|_| None);
        let region = |k: &str| (k == "AWS_REGION").then(|| "eu-west-1".to_string());
        match Config::from_toml(text, &region) {
            Ok(config) => {
                assert_eq!(config.rules.patterns().len(), config.rules.len(), "{name}");
                for rule in &config.rules {
                    for glob in &rule.log_groups {
                        let group = glob.as_str().replace('*', "");
                        assert!(glob.matches(&group), "{name}: {glob:?}");
                        assert!(rule.takes_group(&group), "{name}: {glob:?}");
                    }
                }
            }
            Err(errors) => {
                assert!(!errors.is_empty(), "{name}");
                for e in &errors {
                    let _ = e.to_string();
                }
            }
        }
    }
}

#[test]
fn bulk_classify_crashers_classify() {
    for (name, data) in fuzz_regressions(env!("CARGO_MANIFEST_DIR"), "bulk_classify") {
        if data.len() < 3 {
            continue;
        }
        let status = u16::from_be_bytes([data[0], data[1]]) % 1000;
        let items = usize::from(data[2]);
        let reply = Reply {
            status,
            body: data[3..].to_vec(),
        };
        if let ResponseClass::Items(classes) = classify_response(&reply, items) {
            assert_eq!(classes.len(), items, "{name}");
        }
    }
}

#[test]
fn redact_crashers_redact_idempotently() {
    let all = Redactor::with_detectors(&DETECTORS);
    for (name, data) in fuzz_regressions(env!("CARGO_MANIFEST_DIR"), "redact") {
        let text = String::from_utf8_lossy(&data);
        let mut counts = RedactCounts::default();
        let once = all.text(&text, &mut counts);
        assert_eq!(all.text(&once, &mut counts), once, "{name}");
    }
}
