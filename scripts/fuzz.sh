#!/usr/bin/env bash
# Runs every cargo-fuzz target of the workspace (crates/*/fuzz) for SECONDS each (default
# 300), or only the targets named. Not run in CI (scripts/test.sh only compiles the targets).
#
#   scripts/fuzz.sh                 # every target, 300 s each
#   scripts/fuzz.sh 60 config       # the `config` target, 60 s
#
# Only stable Rust is installed here: RUSTC_BOOTSTRAP=1 lets cargo-fuzz pass its nightly
# flags. Corpora live in crates/*/fuzz/corpus/<target> (not committed); a crash stops the
# run, and its input is copied to crates/*/fuzz/regressions/<target>/ so that it can be
# committed and turned into a named regression test (see STYLE.md, 7).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SECONDS_PER_TARGET="${1:-300}"
shift || true
ONLY=("$@")

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz.sh: cargo-fuzz is missing: cargo install cargo-fuzz" >&2
  exit 2
fi
export RUSTC_BOOTSTRAP=1

status=0
for fuzz in "$ROOT"/crates/*/fuzz; do
  [ -f "$fuzz/Cargo.toml" ] || continue
  for target in $(cd "$fuzz" && cargo fuzz list); do
    if [ "${#ONLY[@]}" -gt 0 ] && [[ ! " ${ONLY[*]} " =~ " $target " ]]; then
      continue
    fi
    echo "== $(basename "$(dirname "$fuzz")")/$target: ${SECONDS_PER_TARGET}s"
    mkdir -p "$fuzz/corpus/$target"
    if ! (cd "$fuzz" && cargo fuzz run "$target" "corpus/$target" -- \
      -max_total_time="$SECONDS_PER_TARGET" -rss_limit_mb=2048 -timeout=10); then
      status=1
      mkdir -p "$fuzz/regressions/$target"
      for crash in "$fuzz"/artifacts/"$target"/*; do
        [ -f "$crash" ] || continue
        cp "$crash" "$fuzz/regressions/$target/"
        echo "crasher kept: $fuzz/regressions/$target/$(basename "$crash")" >&2
        echo "  reproduce: (cd $fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run $target $crash)" >&2
      done
    fi
  done
done
exit "$status"
