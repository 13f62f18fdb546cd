//! Loading an arbitrary configuration never panics: `Config::from_toml` on any UTF-8 text
//! (with and without a Region in the environment) gives a config or line-numbered errors, at
//! least one. A config it gives has one compiled pattern per rule, and every log-group glob of
//! a rule takes the group its glob spells with the `*`s left out.
#![no_main]

use cwlogs_pipeline::Config;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let _ = Config::from_toml(text, &|_| None);
    let region = |k: &str| (k == "AWS_REGION").then(|| "eu-west-1".to_string());
    match Config::from_toml(text, &region) {
        Ok(config) => {
            assert_eq!(config.rules.patterns().len(), config.rules.len());
            for rule in &config.rules {
                for glob in &rule.log_groups {
                    let group = glob.as_str().replace('*', "");
                    assert!(glob.matches(&group), "{glob:?} does not take {group:?}");
                    assert!(rule.takes_group(&group));
                }
            }
        }
        Err(errors) => {
            assert!(!errors.is_empty(), "an error without a message");
            for e in &errors {
                let _ = e.to_string();
            }
        }
    }
});
