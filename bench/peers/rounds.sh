#!/usr/bin/env bash
# Interleaved rounds of the floor and the peers over one data set: each round runs the floor,
# the Node blueprint, Python with json and Python with orjson once, one after the other, so
# whatever else the machine is doing slows them alike and per-round ratios stay meaningful
# where absolute times do not. bench/peers/summarize.py turns OUT_DIR into the table.
#
# usage: bench/peers/rounds.sh DATA_DIR OUT_DIR [ROUNDS]     (ROUNDS defaults to 3)
# env:   FLOOR   the cwl-floor binary (default: target/bench-floor/release/cwl-floor of the
#                repository, built with the command below when missing)
#        PYTHON  the Python for the Python peer (default python3); the orjson runs are skipped
#                when it cannot import orjson
#        REPS    timed passes per stage and round (default 3; the Python peer runs 1, it is
#                slow enough for one pass to dwarf the noise)
set -euo pipefail
if [ $# -lt 2 ]; then
  sed -n '2,14p' "$0"
  exit 2
fi
DATA=$1 OUT=$2 ROUNDS=${3:-3}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
REPS=${REPS:-3}
PYTHON=${PYTHON:-python3}
FLOOR=${FLOOR:-$ROOT/target/bench-floor/release/cwl-floor}
if [ ! -x "$FLOOR" ]; then
  CARGO_TARGET_DIR=$ROOT/target/bench-floor cargo build -q --release \
    --manifest-path "$ROOT/bench/floor/Cargo.toml"
  FLOOR=$ROOT/target/bench-floor/release/cwl-floor
fi
CODECS=json
if "$PYTHON" -c 'import orjson' 2>/dev/null; then
  CODECS="json orjson"
else
  echo "no orjson for $PYTHON: the orjson runs are skipped" >&2
fi
mkdir -p "$OUT"
for r in $(seq 1 "$ROUNDS"); do
  d=$OUT/round$r
  mkdir -p "$d"
  "$FLOOR" "$DATA" --reps "$REPS" --stages decode,full,full_gz6 --json "$d/floor.jsonl" \
    >"$d/floor.txt" 2>&1
  node "$HERE/node_blueprint.js" "$DATA" "$REPS" >"$d/node.jsonl" 2>"$d/node.err"
  for codec in $CODECS; do
    WARMUP=0 "$PYTHON" "$HERE/py_forwarder.py" "$DATA" 1 --codec "$codec" \
      >"$d/py-$codec.jsonl" 2>"$d/py-$codec.err"
  done
  echo "round $r of $ROUNDS done; load $(cut -d' ' -f1 /proc/loadavg)"
done
