#!/usr/bin/env bash
# Runs every check and test of the workspace. This is the one test command: README.md names it
# and .ci/run calls it. It installs what it needs (pinned) into the repo's ignored folders.
#
# Stages that need services: the pinned Python packages go into .venv/, start_services starts
# each service on 127.0.0.1 (a free port), registers its PID for stop_services (run on exit,
# success or not) and exports its *_ENDPOINT / *_URL variables; then every package with an
# `integration` feature is tested with it on.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

# Incremental compilation off, in CI and on a developer's machine alike, unless the caller set
# CARGO_INCREMENTAL: its caches under target/ took about 7 GB of disk across some fifty test
# binaries, and this script rebuilds after edits anyway (CI builds once, in a fresh clone, where
# they would only take room, never save time).
export CARGO_INCREMENTAL=${CARGO_INCREMENTAL:-0}

# Each stage's heading shows the seconds since the start, so slow stages stand out in CI logs.
step() { printf '\n==> %s [%ds]\n' "$*" "$SECONDS"; }

# Python tools, pinned, in the ignored .venv/: moto (the S3 API the integration tests talk to),
# osmem-server (an in-memory OpenSearch: a static binary shipped inside the wheel) and
# cargo-lambda (builds the functions). ziglang is cargo-lambda's own dependency (the zig it
# links with); it is pinned too so that the linker does not change under us.
PY_PINS=(
  "moto[server]==5.2.5"
  "osmem-server==0.1.6"
  "cargo-lambda==1.9.2"
  "ziglang==0.17.1"
)
VENV=$ROOT/.venv

# Creates .venv if needed and installs PY_PINS into it, unless the stamp file says this exact
# list is already installed (then nothing is downloaded or checked: a warm run stays offline).
setup_venv() {
  local stamp=$VENV/.cwlogs-pins want
  want=$(printf '%s\n' "${PY_PINS[@]}")
  if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c '' 2>/dev/null &&
    [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    return
  fi
  step "python tools into .venv (${PY_PINS[*]})"
  # A .venv whose python no longer runs (the host python moved) is made anew.
  if ! { [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c '' 2>/dev/null; }; then
    rm -rf "$VENV"
    python3 -m venv "$VENV"
  fi
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check "${PY_PINS[@]}"
  printf '%s\n' "$want" >"$stamp"
}

SERVICE_PIDS=()
stop_services() {
  for pid in "${SERVICE_PIDS[@]:-}"; do
    [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  done
}

# What every `cargo test` run printed (its standard output: the test harness's lines), for the
# closing line's totals. run_tests keeps cargo's exit status: pipefail is on, so a failing test
# still stops the script (and the totals still come, from the EXIT trap).
TEST_LOG=$(mktemp)
TESTS_RAN=0
run_tests() {
  TESTS_RAN=1
  cargo test "$@" | tee -a "$TEST_LOG"
}

# The closing line: the sums of every `test result: ok. X passed; Y failed; ...` (or FAILED)
# line of the runs above, alone on the script's last line.
print_test_totals() {
  [ "$TESTS_RAN" -eq 1 ] || return 0
  awk '/^test result: (ok|FAILED)\. [0-9]+ passed; [0-9]+ failed;/ {
      passed += $4; failed += $6
    }
    END { printf "tests: %d passed, %d failed\n", passed, failed }' "$TEST_LOG"
}

on_exit() {
  stop_services
  print_test_totals
  rm -f "$TEST_LOG"
}
trap on_exit EXIT

# A TCP port on 127.0.0.1 that nothing listens on right now.
free_port() {
  "$VENV/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Waits (at most $3 seconds) until $2 answers HTTP; fails with the tail of log $4 if it never
# does or if the process $1 dies first.
wait_http() {
  local pid=$1 url=$2 limit=$3 log=$4 end=$((SECONDS + $3))
  until "$VENV/bin/python" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)' "$url" 2>/dev/null; do
    if ! kill -0 "$pid" 2>/dev/null || [ "$SECONDS" -ge "$end" ]; then
      echo "error: $url did not answer within ${limit}s (or its server exited); last lines of $log:" >&2
      tail -n 30 "$log" >&2 || true
      exit 1
    fi
    sleep 0.3
  done
}

start_services() {
  setup_venv
  mkdir -p "$ROOT/target"

  step "start moto (S3) on 127.0.0.1"
  local port url
  port=$(free_port)
  url=http://127.0.0.1:$port
  # scripts/moto-server.py: moto_server with DynamoDB conditional writes made atomic.
  "$VENV/bin/python" "$ROOT/scripts/moto-server.py" -H 127.0.0.1 -p "$port" >"$ROOT/target/moto.log" 2>&1 &
  SERVICE_PIDS+=($!)
  wait_http "$!" "$url/" 30 "$ROOT/target/moto.log"
  echo "moto answers at $url (log: target/moto.log)"
  # The standard AWS variables, so the SDK (and anything else) reaches moto with throwaway
  # credentials; anything that could point it elsewhere is cleared.
  unset AWS_ENDPOINT_URL_S3 AWS_PROFILE AWS_SESSION_TOKEN AWS_DEFAULT_PROFILE
  export AWS_ENDPOINT_URL=$url CWLOGS_MOTO_URL=$url
  export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing
  export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true

  # OpenSearch: a cluster named by OPENSEARCH_URL is used as it is (the same integration tests
  # then run against a real OpenSearch or Elasticsearch); otherwise osmem-server, started here.
  if [ -n "${OPENSEARCH_URL:-}" ]; then
    # Credentials in the URL (https://user:password@host) stay out of the log.
    step "OpenSearch: using OPENSEARCH_URL=$(printf '%s' "$OPENSEARCH_URL" | sed 's|//[^/@]*@|//***@|') (not starting osmem-server)"
    export OPENSEARCH_URL
  else
    step "start osmem-server (OpenSearch) on 127.0.0.1"
    # The wheel knows where its binary is (OSMEM_SERVER_BIN overrides it); ask it rather than
    # guess the site-packages path.
    local osmem
    osmem=$("$VENV/bin/python" -c 'import osmem_server; print(osmem_server.resolve_binary())')
    port=$(free_port)
    url=http://127.0.0.1:$port
    # Started in the background, its stdin is /dev/null: without -no-stdin-watch it would read
    # EOF and exit at once. -parent-pid stops it too if this script is killed outright (SIGKILL
    # skips the EXIT trap).
    "$osmem" -addr "127.0.0.1:$port" -no-stdin-watch -parent-pid "$$" \
      >"$ROOT/target/osmem.log" 2>&1 &
    SERVICE_PIDS+=($!)
    wait_http "$!" "$url/" 30 "$ROOT/target/osmem.log"
    echo "osmem-server answers at $url (log: target/osmem.log)"
    export OPENSEARCH_URL=$url
  fi
}

step "format"
cargo fmt --all --check

step "module cycles (scripts/check-modules.py)"
scripts/check-modules.py --self-test
scripts/check-modules.py

step "pure crates have no I/O dependency (scripts/check-deps.sh)"
scripts/check-deps.sh

step "clippy"
# Every feature on, so the `integration` tests (and each optional sink of cwlogs-aws) are linted
# too; the features are additive.
cargo clippy --workspace --all-targets --all-features --locked -- -D warnings

step "unit, corpus, property and CLI tests"
run_tests --workspace --locked

step "benchmarks compile"
# That they compile, not how fast they run: the bench targets in the dev profile, which reuses
# what the tests built (their dev-dependencies include the AWS SDKs, which the release profile's
# LTO would build again for minutes). scripts/bench.sh runs them for real.
cargo bench --workspace --benches --locked --no-run --profile dev

for fuzz in crates/*/fuzz; do
  [ -f "$fuzz/Cargo.toml" ] || continue
  step "fuzz targets compile ($fuzz)"
  # cargo-fuzz needs nightly flags to instrument; a plain check proves the targets build.
  cargo check --manifest-path "$fuzz/Cargo.toml" --locked --target-dir "$ROOT/target/fuzz-check"
done

start_services

# Every package with an `integration` feature (its tests need the services above): found from
# the manifests, so a crate that adds the feature is tested here without editing this script.
integration_args=()
for manifest in crates/*/Cargo.toml functions/*/Cargo.toml; do
  grep -q '^integration *=' "$manifest" || continue
  pkg=$(sed -n 's/^name *= *"\(.*\)"/\1/p' "$manifest" | head -n 1)
  integration_args+=(-p "$pkg" --features "$pkg/integration")
done
if [ ${#integration_args[@]} -gt 0 ]; then
  # cwlogs's report.html is tested in headless Chromium (crates/cli/tests/report.rs): Debian's
  # package, installed only when it is missing.
  if ! command -v chromium >/dev/null 2>&1; then
    step "install chromium (report.html tests)"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium
  fi
  step "integration tests against the services (${integration_args[*]})"
  run_tests --locked "${integration_args[@]}"
fi

step "docs"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked

step "main job on the samples"
# The README's main command, on the debug binary the tests already built (`cargo run -p
# cwlogs` alone would build the CLI again with another feature set of its dependencies:
# minutes on two cores, proving nothing more; the functions are built for release below).
# check-infra.sh runs `cwlogs check-config` with the same binary.
export CWLOGS_BIN="${CARGO_TARGET_DIR:-$ROOT/target}/debug/cwlogs"
[ -x "$CWLOGS_BIN" ] || cargo build --locked -q -p cwlogs
out=$(mktemp -d)
"$CWLOGS_BIN" replay --out "$out/out" samples
rm -rf "$out"

step "infra: SAM and CDK templates, CDK tests, cdk synth, cfn-lint, checkov (scripts/check-infra.sh)"
scripts/check-infra.sh

# The Lambda functions, as they are deployed: `cargo lambda build` with cargo-lambda's default
# compiler, zig (the pinned ziglang wheel, so nothing is downloaded). zig links against an old
# glibc, so the bootstrap also runs on the Lambda runtime's (AL2023: glibc 2.34), which a plain
# `cargo build` on a newer host does not promise.
lambda_packages=()
for manifest in functions/*/Cargo.toml; do
  [ -f "$manifest" ] || continue
  lambda_packages+=(-p "$(sed -n 's/^name *= *"\(.*\)"/\1/p' "$manifest" | head -n 1)")
done
if [ ${#lambda_packages[@]} -gt 0 ]; then
  setup_venv
  step "cargo lambda build (${lambda_packages[*]})"
  # cargo lambda writes under the target folder (CARGO_TARGET_DIR when set).
  lambda_out="${CARGO_TARGET_DIR:-$ROOT/target}/lambda"
  rm -rf "$lambda_out" # so that a stale bootstrap cannot pass the check below
  # Release, for the Lambda target, but without the release profile's cross-crate LTO and single
  # codegen unit: they change no line of code and triple this stage's time on two cores. What
  # is deployed (sam build, cdk deploy) is built with the full profile.
  CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
    PATH="$VENV/bin:$PATH" cargo lambda build --release --locked "${lambda_packages[@]}"
  for manifest in functions/*/Cargo.toml; do
    # The [[bin]] names (cargo lambda names each output folder after its binary), else the
    # package name.
    bins=$(sed -n '/^\[\[bin\]\]/,/^$/s/^name *= *"\(.*\)"/\1/p' "$manifest")
    [ -n "$bins" ] || bins=$(sed -n 's/^name *= *"\(.*\)"/\1/p' "$manifest" | head -n 1)
    for bin in $bins; do
      bootstrap=$lambda_out/$bin/bootstrap
      [ -x "$bootstrap" ] || {
        echo "error: cargo lambda build did not produce $bootstrap" >&2
        exit 1
      }
      echo "$bootstrap: $(wc -c <"$bootstrap") bytes"
    done
  done
fi

echo
echo "all checks passed"
