#!/usr/bin/env bash
# The benchmarks of BENCHMARKS.md, start to finish: data, the floor, cwlogs, the peers, in
# interleaved rounds, then footprint and multi-core. Not run in CI (CI only compiles benches).
#
# usage: scripts/bench.sh [DATA_DIR] [--mb 100] [--rounds 5] [--out DIR] [--only LIST]
#   DATA_DIR  where the generated data lives (default /tmp/cwl-data; keep it outside the repo):
#             gen_cwl.py --seed 42 writes it when DATA_DIR/manifest.json is missing, and
#             scripts/bench-small-events.py adds special/small10k.json
#   --only    comma-separated parts: speed, footprint, multicore, lambda (default: the first
#             three)
#   lambda    the function bootstraps as deployed (`cargo lambda build --release`, fat LTO),
#             started against the test kit's Runtime API emulator with the SAM stack's
#             environment, their AWS clients pointed at moto and osmem-server (started here
#             unless AWS_ENDPOINT_URL and OPENSEARCH_URL are set; from .venv, which
#             scripts/test.sh makes): cold starts beside the Node blueprint (the index
#             function also against a stub cluster that answers at once: osmem-server's
#             indexing time is not the function's), warm containers, the bootstraps' sizes
#             (crates/e2e/examples/lambda_footprint.rs). env: LAMBDA_RUNS
#             (cold starts per function, default 21), LAMBDA_INVOCATIONS (per warm process,
#             default 10000), LAMBDA_MAX_EVENTS (log events per warm delivery, default 100).
# The kit is bench/ in this repository (bench/README.md): gen_cwl.py, floor/, peers/.
# env: FLOOR_TARGET (default target/bench-floor: the floor's own cargo target dir),
#      BENCH_VENV (default /tmp/cwl-bench-venv: a venv with orjson for the Python peer).
#
# Ratios are computed round by round from neighbouring runs (scripts/bench-summary.py); compare
# ratios, never absolute times from different runs. Check `uptime` first: other work on the
# machine skews whatever runs beside it.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

DATA=/tmp/cwl-data MB=100 ROUNDS=5 OUT="" ONLY=speed,footprint,multicore
while [ $# -gt 0 ]; do
  case $1 in
    --mb) MB=$2; shift ;;
    --rounds) ROUNDS=$2; shift ;;
    --out) OUT=$2; shift ;;
    --only) ONLY=$2; shift ;;
    -h | --help) sed -n '2,27p' "$0"; exit 0 ;;
    -*) echo "unknown option $1" >&2; exit 2 ;;
    *) DATA=$1 ;;
  esac
  shift
done
KIT=$ROOT/bench
FLOOR_TARGET=${FLOOR_TARGET:-$ROOT/target/bench-floor}
BENCH_VENV=${BENCH_VENV:-/tmp/cwl-bench-venv}
OUT=${OUT:-$(mktemp -d /tmp/cwl-bench.XXXXXX)}
mkdir -p "$OUT"
want() { case ",$ONLY," in *",$1,"*) return 0 ;; *) return 1 ;; esac; }
step() { printf '\n==> %s [%ds]\n' "$*" "$SECONDS"; }

step "machine"
uname -srm
grep -m1 'model name' /proc/cpuinfo || true
echo "cores: $(nproc); load: $(cut -d' ' -f1-3 /proc/loadavg)"
rustc --version
node --version
python3 --version

step "data in $DATA"
if [ ! -f "$DATA/manifest.json" ]; then
  python3 "$KIT/gen_cwl.py" "$DATA" --mb "$MB" --seed 42 >/dev/null
fi
if [ ! -f "$DATA/special/small10k.json" ]; then
  python3 scripts/bench-small-events.py "$DATA"
fi
python3 -c 'import json,sys
t = json.load(open(sys.argv[1]))["totals"]
print(t["payloads"], "Lambda events,", t["events"], "log events,", round(t["json_bytes"] / 1e6, 1), "MB of JSON,", round(t["gz_bytes"] / 1e6, 1), "MB gzip")' "$DATA/manifest.json"

step "build: the floor, the e2e bench, the invoke example, cwlogs"
# The floor and the Python peers only for the parts that run them (`--only lambda` needs
# neither: it builds the functions itself, and the e2e bench only for its rules).
if want speed || want footprint; then
  CARGO_TARGET_DIR=$FLOOR_TARGET cargo build -q --release --manifest-path "$KIT/floor/Cargo.toml"
fi
FLOOR=$FLOOR_TARGET/release/cwl-floor
# Built once; the rounds run the binaries, so edits made meanwhile cannot trigger a rebuild.
E2E=$(cargo bench -q -p cwlogs-pipeline --bench e2e --no-run --message-format=json |
  python3 -c 'import json,sys
for l in sys.stdin:
    j = json.loads(l)
    if j.get("reason") == "compiler-artifact" and j["target"]["name"] == "e2e" and j.get("executable"):
        print(j["executable"])')
if want footprint; then cargo build -q --release -p cwlogs-lambda --example invoke; fi
if want multicore; then cargo build -q --release -p cwlogs; fi
TARGET=$(cargo metadata -q --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
INVOKE=$TARGET/release/examples/invoke
CWLOGS=$TARGET/release/cwlogs
if want speed || want footprint; then
  if [ ! -x "$BENCH_VENV/bin/python" ]; then
    python3 -m venv "$BENCH_VENV"
  fi
  "$BENCH_VENV/bin/python" -c 'import orjson' 2>/dev/null ||
    "$BENCH_VENV/bin/pip" install -q --disable-pip-version-check orjson==3.13.0
fi
PY=$BENCH_VENV/bin/python
"$E2E" --rules 10 >"$OUT/rules10.toml"
echo "results in $OUT"

if want speed; then
  step "speed: $ROUNDS interleaved rounds of floor, cwlogs, Node, Python json, Python orjson"
  for r in $(seq 1 "$ROUNDS"); do
    d=$OUT/round$r
    mkdir -p "$d"
    "$FLOOR" "$DATA" --reps 1 --stages full,full_gz6 --json "$d/floor.jsonl" >"$d/floor.txt" 2>&1
    CWLOGS_BENCH_DATA=$DATA "$E2E" --bench --rounds 1 --json "$d/cwlogs.jsonl" >"$d/cwlogs.txt" 2>&1
    node "$KIT/peers/node_blueprint.js" "$DATA" 1 bulk_blueprint,bulk_lean,bulk_lean_gz6 \
      >"$d/node.jsonl" 2>"$d/node.err"
    WARMUP=0 "$PY" "$KIT/peers/py_forwarder.py" "$DATA" 1 bulk,bulk_gz6 --codec json \
      >"$d/py-json.jsonl" 2>"$d/py-json.err"
    WARMUP=0 "$PY" "$KIT/peers/py_forwarder.py" "$DATA" 1 bulk,bulk_gz6 --codec orjson \
      >"$d/py-orjson.jsonl" 2>"$d/py-orjson.err"
    echo "round $r done; load $(cut -d' ' -f1 /proc/loadavg)"
  done
  python3 scripts/bench-summary.py "$DATA" "$OUT" | tee "$OUT/summary.txt"
  python3 scripts/bench-summary.py "$DATA" "$OUT" --markdown >"$OUT/summary.md"
fi

# Median wall time, in ms, of N runs of a command (process start to exit).
wall_ms() {
  python3 - "$@" <<'EOF'
import statistics, subprocess, sys, time
n, cmd = int(sys.argv[1]), sys.argv[2:]
ts = []
for _ in range(n):
    t = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    ts.append((time.perf_counter() - t) * 1e3)
print(f"{statistics.median(ts):.1f}")
EOF
}
# Peak RSS in MB of one run (GNU time).
peak_mb() {
  /usr/bin/time -f '%M' -o "$OUT/time.txt" "$@" >/dev/null 2>&1
  awk '{printf "%.1f", $1 / 1024}' "$OUT/time.txt"
}

if want footprint; then
  step "footprint: peak RSS (MB) of one invocation, process start to first event handled"
  MEDIAN_EVENT=$(python3 -c 'import json,sys,os
m = json.load(open(sys.argv[1]))
f = sorted(m["files"], key=lambda f: f["events"])[len(m["files"]) // 2]
print(os.path.join(sys.argv[2], "events", f["name"] + ".json"), f["events"], f["kind"])' \
    "$DATA/manifest.json" "$DATA")
  set -- $MEDIAN_EVENT
  MEDIAN_FILE=$1
  echo "median event: $MEDIAN_FILE ($2 log events, $3)"
  printf '%-28s %14s %14s %18s\n' "handler" "max1mb.json" "small10k.json" "start+median (ms)"
  for f in archive index alert; do
    cfg=()
    [ "$f" = alert ] && cfg=(--config "$OUT/rules10.toml")
    label="cwlogs $f"
    [ "$f" = alert ] && label="cwlogs alert (10 rules)"
    printf '%-28s %14s %14s %18s\n' "$label" \
      "$(peak_mb "$INVOKE" "$f" "$DATA/special/max1mb.json" "${cfg[@]}")" \
      "$(peak_mb "$INVOKE" "$f" "$DATA/special/small10k.json" "${cfg[@]}")" \
      "$(wall_ms 21 "$INVOKE" "$f" "$MEDIAN_FILE" "${cfg[@]}")"
  done
  printf '%-28s %14s %14s %18s\n' "floor (full_gz6)" \
    "$(peak_mb "$FLOOR" --one "$DATA/special/max1mb.json")" \
    "$(peak_mb "$FLOOR" --one "$DATA/special/small10k.json")" \
    "$(wall_ms 21 "$FLOOR" --one "$MEDIAN_FILE")"
  printf '%-28s %14s %14s %18s\n' "Node blueprint" \
    "$(peak_mb node "$KIT/peers/node_blueprint.js" --one "$DATA/special/max1mb.json")" \
    "$(peak_mb node "$KIT/peers/node_blueprint.js" --one "$DATA/special/small10k.json")" \
    "$(wall_ms 11 node "$KIT/peers/node_blueprint.js" --one "$MEDIAN_FILE")"
  for codec in json orjson; do
    printf '%-28s %14s %14s %18s\n' "Python $codec" \
      "$(peak_mb "$PY" "$KIT/peers/py_forwarder.py" --one "$DATA/special/max1mb.json" --codec $codec)" \
      "$(peak_mb "$PY" "$KIT/peers/py_forwarder.py" --one "$DATA/special/small10k.json" --codec $codec)" \
      "$(wall_ms 11 "$PY" "$KIT/peers/py_forwarder.py" --one "$MEDIAN_FILE" --codec $codec)"
  done
  echo
  echo "function binaries (cargo lambda build --release; scripts/test.sh builds them):"
  found=0
  for b in "$TARGET"/lambda/*/bootstrap; do
    [ -x "$b" ] || continue
    found=1
    strip -o "$OUT/stripped" "$b"
    printf '  %-10s %6.1f MB as built, %6.1f MB stripped\n' "$(basename "$(dirname "$b")")" \
      "$(echo "$(wc -c <"$b") / 1048576" | bc -l)" "$(echo "$(wc -c <"$OUT/stripped") / 1048576" | bc -l)"
  done
  [ $found = 1 ] || echo "  none in $TARGET/lambda: run cargo lambda build --release first"
fi

if want multicore; then
  # One core against two: the process is pinned with taskset, and replay's default --jobs (one
  # worker per core it may use) follows the pinning.
  step "multi-core: cwlogs replay over $DATA/events on 1 core (taskset -c 0) and 2 (-c 0,1), 3 rounds"
  rm -f "$OUT/replay.txt"
  for r in 1 2 3; do
    for cpus in 0 0,1; do
      rm -rf "$OUT/replay"
      t=$(wall_ms 1 taskset -c "$cpus" "$CWLOGS" replay --out "$OUT/replay" "$DATA/events")
      echo "round $r cpus $cpus: $t ms"
      echo "$r $cpus $t" >>"$OUT/replay.txt"
    done
  done
  rm -rf "$OUT/replay"
  python3 - "$OUT/replay.txt" <<'EOF'
import statistics, sys
t = {}
for line in open(sys.argv[1]):
    r, cpus, ms = line.split()
    t.setdefault(r, {})[cpus] = float(ms)
s = [v["0"] / v["0,1"] for v in t.values()]
print(f"replay speed-up from 1 to 2 cores: {statistics.median(s):.2f}x ({min(s):.2f}-{max(s):.2f})")
EOF
fi

if want lambda; then
  step "lambda: the functions as deployed, through the Runtime API emulator, against moto and osmem-server"
  VENV=${VENV:-$ROOT/.venv}
  [ -x "$VENV/bin/cargo-lambda" ] || {
    echo "error: $VENV/bin/cargo-lambda missing: run scripts/test.sh once (it makes .venv)" >&2
    exit 1
  }
  # As deployed: the release profile in full (fat LTO, one codegen unit, stripped).
  PATH="$VENV/bin:$PATH" cargo lambda build --release --locked \
    -p cwlogs-function-archive -p cwlogs-function-index -p cwlogs-function-alert
  # The harness (emulator, set-up of moto and osmem) in the dev profile: it only waits.
  cargo build -q -p cwlogs-e2e --example lambda_footprint
  FOOTPRINT=$TARGET/debug/examples/lambda_footprint
  LAMBDA_PIDS=()
  trap 'for p in "${LAMBDA_PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null; done' EXIT
  free_port() { "$VENV/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
  wait_up() {
    for _ in $(seq 1 100); do
      "$VENV/bin/python" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)' "$1" 2>/dev/null && return 0
      sleep 0.3
    done
    echo "error: $1 did not answer" >&2
    exit 1
  }
  if [ -z "${AWS_ENDPOINT_URL:-}" ]; then
    port=$(free_port)
    "$VENV/bin/python" scripts/moto-server.py -H 127.0.0.1 -p "$port" >"$OUT/moto.log" 2>&1 &
    LAMBDA_PIDS+=($!)
    wait_up "http://127.0.0.1:$port/"
    unset AWS_ENDPOINT_URL_S3 AWS_PROFILE AWS_SESSION_TOKEN AWS_DEFAULT_PROFILE
    export AWS_ENDPOINT_URL=http://127.0.0.1:$port CWLOGS_MOTO_URL=http://127.0.0.1:$port
    export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing
    export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
  fi
  if [ -z "${OPENSEARCH_URL:-}" ]; then
    port=$(free_port)
    "$("$VENV/bin/python" -c 'import osmem_server; print(osmem_server.resolve_binary())')" \
      -addr "127.0.0.1:$port" -no-stdin-watch -parent-pid "$$" >"$OUT/osmem.log" 2>&1 &
    LAMBDA_PIDS+=($!)
    wait_up "http://127.0.0.1:$port/"
    export OPENSEARCH_URL=http://127.0.0.1:$port
  fi
  echo "moto at $AWS_ENDPOINT_URL, OpenSearch at $OPENSEARCH_URL"
  "$FOOTPRINT" cold "$DATA" --bootstraps "$TARGET/lambda" --rules "$OUT/rules10.toml" \
    --runs "${LAMBDA_RUNS:-21}" | tee "$OUT/lambda-cold.txt"
  echo
  "$FOOTPRINT" warm "$DATA" --bootstraps "$TARGET/lambda" --rules "$OUT/rules10.toml" \
    --invocations "${LAMBDA_INVOCATIONS:-10000}" --every 1000 \
    --max-events "${LAMBDA_MAX_EVENTS:-100}" | tee "$OUT/lambda-warm.txt"
  echo
  echo "bootstraps as deployed (stripped by the release profile):"
  for f in archive index alert; do
    b=$TARGET/lambda/$f/bootstrap
    printf '  %-8s %11d bytes (%.2f MiB)\n' "$f" "$(wc -c <"$b")" "$(echo "$(wc -c <"$b") / 1048576" | bc -l)"
  done
fi
