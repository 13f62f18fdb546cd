#!/usr/bin/env bash
# The benchmarks of BENCHMARKS.md, start to finish: data, the floor, cwlogs, the peers, in
# interleaved rounds, then footprint and multi-core. Not run in CI (CI only compiles benches).
#
# usage: scripts/bench.sh [DATA_DIR] [--mb 100] [--rounds 5] [--out DIR] [--only LIST]
#   DATA_DIR  where the generated data lives (default /tmp/cwl-data; keep it outside the repo):
#             gen_cwl.py --seed 42 writes it when DATA_DIR/manifest.json is missing, and
#             scripts/bench-small-events.py adds special/small10k.json
#   --only    comma-separated parts: speed, footprint, multicore (default: all three)
# env: BENCH_KIT (default ../shared/bench beside the repo: gen_cwl.py, floor/, peers/),
#      FLOOR_TARGET (default /tmp/cwl-floor-target: the floor's own cargo target dir),
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
    -h | --help) sed -n '2,16p' "$0"; exit 0 ;;
    -*) echo "unknown option $1" >&2; exit 2 ;;
    *) DATA=$1 ;;
  esac
  shift
done
KIT=${BENCH_KIT:-$ROOT/../shared/bench}
KIT=$(cd "$KIT" && pwd)
FLOOR_TARGET=${FLOOR_TARGET:-/tmp/cwl-floor-target}
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
CARGO_TARGET_DIR=$FLOOR_TARGET cargo build -q --release --manifest-path "$KIT/floor/Cargo.toml"
FLOOR=$FLOOR_TARGET/release/cwl-floor
# Built once; the rounds run the binaries, so edits made meanwhile cannot trigger a rebuild.
E2E=$(cargo bench -q -p cwlogs-pipeline --bench e2e --no-run --message-format=json |
  python3 -c 'import json,sys
for l in sys.stdin:
    j = json.loads(l)
    if j.get("reason") == "compiler-artifact" and j["target"]["name"] == "e2e" and j.get("executable"):
        print(j["executable"])')
if want footprint; then cargo build -q --release -p cwlogs-lambda --example invoke; fi
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
