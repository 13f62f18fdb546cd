//! parse -> print -> parse gives the same tree, and printing is a fixed point.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(ast) = cwlogs_filter::parse(src) {
        let printed = ast.to_string();
        let again = cwlogs_filter::parse(&printed)
            .unwrap_or_else(|e| panic!("{src:?} printed as {printed:?} does not parse:\n{e}"));
        assert_eq!(again, ast, "{src:?} printed as {printed:?}");
        assert_eq!(again.to_string(), printed);
    }
});
