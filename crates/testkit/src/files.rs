//! The files of a folder, read whole: the crashers kept by the fuzz targets, what a replay
//! wrote.

use std::collections::BTreeMap;
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

/// Every file under `dir` (recursively), by its path relative to `dir`; empty when `dir` does
/// not exist. What `cwlogs replay` wrote, for comparing two runs or a run with a bucket.
pub fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for e in std::fs::read_dir(dir).expect("read dir") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let rel = p.strip_prefix(root).expect("prefix").display().to_string();
                out.insert(rel, std::fs::read(&p).expect("read"));
            }
        }
    }
    let mut out = BTreeMap::new();
    if dir.exists() {
        walk(dir, dir, &mut out);
    }
    out
}
