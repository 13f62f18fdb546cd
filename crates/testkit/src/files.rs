//! The files of a folder, read whole.

use std::path::Path;

/// Every file of `dir` as (path, bytes), sorted by path; none when `dir` does not exist. The
/// fuzz regression tests replay `fuzz/regressions/<target>/` with it.
pub fn files_in(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<(String, Vec<u8>)> = entries
        .filter_map(Result::ok)
        .map(|e| {
            let bytes = std::fs::read(e.path())
                .unwrap_or_else(|err| panic!("{}: {err}", e.path().display()));
            (e.path().display().to_string(), bytes)
        })
        .collect();
    out.sort();
    out
}

/// The crashers that `scripts/fuzz.sh` kept for `target` of the crate in `manifest_dir`
/// (`<manifest_dir>/fuzz/regressions/<target>/`), as [`files_in`] reads them.
pub fn fuzz_regressions(manifest_dir: &str, target: &str) -> Vec<(String, Vec<u8>)> {
    files_in(
        &Path::new(manifest_dir)
            .join("fuzz/regressions")
            .join(target),
    )
}
