//! Loading an arbitrary configuration never panics: `Config::from_toml` on any UTF-8 text
//! (with and without a Region in the environment) gives a config or line-numbered errors.
#![no_main]

use cwlogs_pipeline::Config;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let _ = Config::from_toml(text, &|_| None);
    let region = |k: &str| (k == "AWS_REGION").then(|| "eu-west-1".to_string());
    if let Err(errors) = Config::from_toml(text, &region) {
        for e in &errors {
            let _ = e.to_string();
        }
    }
});
