#!/usr/bin/env bash
# Runs every cargo-fuzz target of the workspace (crates/*/fuzz) for SECONDS each (default
# 300), one after the other, or only the targets named. Not run in CI (scripts/test.sh only
# compiles the targets).
#
#   scripts/fuzz.sh                 # every target, 300 s each
#   scripts/fuzz.sh 60 config       # the `config` target, 60 s
#   FUZZ_SANITIZER=none scripts/fuzz.sh 60   # without AddressSanitizer (about 2x the exec/s)
#
# - cargo-fuzz is installed when missing (pinned: 0.13.2 builds on stable 1.95). Only stable
#   Rust is installed here: RUSTC_BOOTSTRAP=1 lets cargo-fuzz pass its nightly flags
#   (-Zsanitizer=address, sanitizer coverage); the stable toolchain ships the ASan runtime.
# - Corpora live in crates/*/fuzz/corpus/<target> (not committed). Before each run,
#   crates/*/fuzz/seed.py (when there is one, and python3) writes seed-* inputs taken from the
#   repository there: samples/, the filter conformance corpus, config examples, bulk fixtures.
# - crates/*/fuzz/dicts/<target>.dict, when there is one, is passed as libFuzzer's -dict.
# - libFuzzer's output goes to crates/*/fuzz/artifacts/<target>.log; a line of figures per
#   target is printed, and a table of all of them at the end.
# - A crash, a timeout (an input taking over 10 s) or running out of memory (2 GiB) stops that
#   target's run; its input is copied to crates/*/fuzz/regressions/<target>/ so that it can be
#   committed and turned into a named regression test (crates/*/tests/fuzz_regressions.rs).
#   The script then goes on with the next target and exits 1 at the end.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SECONDS_PER_TARGET="${1:-300}"
shift || true
ONLY=("$@")
SANITIZER="${FUZZ_SANITIZER:-address}"
CARGO_FUZZ_VERSION="0.13.2"

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz.sh: installing cargo-fuzz $CARGO_FUZZ_VERSION" >&2
  cargo install cargo-fuzz --locked --version "$CARGO_FUZZ_VERSION"
fi
export RUSTC_BOOTSTRAP=1

# "key: value" of libFuzzer's final stats (-print_final_stats=1), or of its last status line.
stat() { grep -a "^stat::$1:" "$2" | tail -n 1 | awk '{print $2}'; }
status_field() {
  grep -a -E '^#[0-9]+' "$2" | tail -n 1 | grep -o -E "$1: [^ ]+" | awk '{print $2}'
}

status=0
rows=()
for fuzz in "$ROOT"/crates/*/fuzz; do
  [ -f "$fuzz/Cargo.toml" ] || continue
  crate="$(basename "$(dirname "$fuzz")")"
  for target in $(cd "$fuzz" && cargo fuzz list); do
    if [ "${#ONLY[@]}" -gt 0 ] && [[ ! " ${ONLY[*]} " =~ " $target " ]]; then
      continue
    fi
    echo "== $crate/$target: ${SECONDS_PER_TARGET}s (sanitizer $SANITIZER)"
    corpus="$fuzz/corpus/$target"
    mkdir -p "$corpus" "$fuzz/artifacts/$target"
    if [ -f "$fuzz/seed.py" ] && command -v python3 >/dev/null; then
      python3 "$fuzz/seed.py" "$target" "$corpus"
    fi
    extra=()
    if [ -f "$fuzz/dicts/$target.dict" ]; then
      extra+=("-dict=$fuzz/dicts/$target.dict")
    fi
    # Build first, so that the time limit is spent fuzzing and the log holds libFuzzer only.
    (cd "$fuzz" && cargo fuzz build --sanitizer "$SANITIZER" "$target")
    log="$fuzz/artifacts/$target.log"
    started="$fuzz/artifacts/.$target.started"
    touch "$started"
    result=ok
    if ! (cd "$fuzz" && cargo fuzz run --sanitizer "$SANITIZER" "$target" "$corpus" -- \
      -max_total_time="$SECONDS_PER_TARGET" -rss_limit_mb=2048 -timeout=10 \
      -print_final_stats=1 "${extra[@]}") >"$log" 2>&1; then
      status=1
      result=FAILED
      tail -n 40 "$log" >&2
      mkdir -p "$fuzz/regressions/$target"
      while IFS= read -r -d '' found; do
        cp "$found" "$fuzz/regressions/$target/"
        result="$result $(basename "$found")"
        echo "kept: $fuzz/regressions/$target/$(basename "$found")" >&2
        echo "  reproduce: (cd $fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run $target $found)" >&2
      done < <(find "$fuzz/artifacts/$target" -type f -newer "$started" -print0)
    fi
    runs="$(stat number_of_executed_units "$log")"
    speed="$(stat average_exec_per_sec "$log")"
    files="$(find "$corpus" -type f | wc -l)"
    row="$(printf '%-9s %-14s %6ss %12s %8s/s %7s %9s %6s %7s  %s' "$crate" "$target" \
      "$SECONDS_PER_TARGET" "${runs:-?}" "${speed:-?}" "$files" \
      "$(status_field corp "$log")" "$(status_field cov "$log")" \
      "$(status_field ft "$log")" "$result")"
    echo "$row"
    rows+=("$row")
  done
done
echo
printf '%-9s %-14s %7s %12s %10s %7s %9s %6s %7s  %s\n' crate target time executions \
  exec/s files corp cov ft result
printf '%s\n' "${rows[@]}"
exit "$status"
