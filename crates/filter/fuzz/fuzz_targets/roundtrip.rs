//! parse -> print -> parse gives the same tree, and printing is a fixed point. The compact form
//! (`{:#}`) always re-parses; the readable form re-parses when it fits the 1024-char limit
//! (its added spaces can push a pattern near the limit over it: the first fuzz find).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(ast) = cwlogs_filter::parse(src) {
        let compact = format!("{ast:#}");
        assert!(
            compact.chars().count() <= src.chars().count(),
            "{src:?} -> {compact:?}"
        );
        let again = cwlogs_filter::parse(&compact)
            .unwrap_or_else(|e| panic!("{src:?} printed as {compact:?} does not parse:\n{e}"));
        assert_eq!(again, ast, "{src:?} printed as {compact:?}");
        assert_eq!(format!("{again:#}"), compact);
        let printed = ast.to_string();
        if printed.chars().count() > cwlogs_filter::MAX_PATTERN_CHARS {
            return;
        }
        let again = cwlogs_filter::parse(&printed)
            .unwrap_or_else(|e| panic!("{src:?} printed as {printed:?} does not parse:\n{e}"));
        assert_eq!(again, ast, "{src:?} printed as {printed:?}");
        assert_eq!(again.to_string(), printed);
    }
});
