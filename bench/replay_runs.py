#!/usr/bin/env python3
"""Whole `cwlogs replay` runs, side by side: the rules' cost and the floor's `full_gz6`.

Issue 22 measures two things on whole processes, not in memory: the cost of ten rules on the
index path ("the same way replay is measured: whole runs, medians") and the default replay
against the floor's `full_gz6`. This runs them in interleaved rounds so that every ratio is
taken from runs made side by side:

    python3 bench/gen_cwl.py /tmp/cwl-data40 --mb 40 --seed 42
    cargo build --release -p cwlogs
    cargo bench -p cwlogs-pipeline --bench e2e --no-run     # prints the rule sets
    CARGO_TARGET_DIR=target/bench-floor cargo build --release --manifest-path bench/floor/Cargo.toml
    python3 bench/replay_runs.py /tmp/cwl-data40/events --cwlogs target/release/cwlogs \\
        --e2e target/release/deps/e2e-HASH [--floor target/bench-floor/release/cwl-floor] \\
        [--rounds 11] [--sets r0,r10,own,default] [--core 1] [--seed 42]

Sets (each a `cwlogs replay --jobs 1` over DATA, pinned to one core with `taskset`):
- `r0`: the index path alone (`[archive] enabled = false`, `[index]`), no rule;
- `r10`: `r0` with the e2e bench's ten rules (`e2e --rules 10`);
- `own`: `r0` with the bench's other ten rules (`e2e --own-rules`);
- `default`: the default configuration (archive and index), set against the floor's
  `full_gz6` when `--floor` is given.

Before each run the output directory is removed and `sync` is run, outside the timed part:
replay writes about 140 MB of index files per run, and the kernel's writeback of the last
run's pages otherwise lands in the next one. Several `--cwlogs` binaries (comma-separated)
take turns in each round, to set two builds side by side.

Prints, per binary and set, the median and best time, and for `r10` and `own` their cost over
`r0` (for `default`, its speed against the floor's): the ratio of the medians and the median of
the per-round ratios (each round's runs are seconds apart, so this one is less moved by the
machine's drift).

The output directory is made under `TMPDIR`: `TMPDIR=/dev/shm` writes to memory (tmpfs), which
keeps the disk's writeback out of the figures; the kernel's copy of the files is still in them.
"""

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

INDEX_ONLY = '[archive]\nenabled = false\n\n[index]\nindex = "cwl-{log_group}-{yyyy.MM.dd}"\n\n'


def configs(e2e, sets, tmp):
    """The config file of each set (`None`: the default configuration)."""
    out = {}
    for s in sets:
        if s == "default":
            out[s] = None
            continue
        rules = ""
        if s == "r10":
            rules = subprocess.run([e2e, "--rules", "10"], check=True, capture_output=True, text=True).stdout
        elif s == "own":
            rules = subprocess.run([e2e, "--own-rules"], check=True, capture_output=True, text=True).stdout
        elif s != "r0":
            sys.exit(f"unknown set {s!r} (r0, r10, own, default)")
        path = os.path.join(tmp, f"{s}.toml")
        with open(path, "w") as f:
            f.write(INDEX_ONLY + rules)
        out[s] = path
    return out


def run_replay(core, binary, config, data, out):
    shutil.rmtree(out, ignore_errors=True)
    subprocess.run(["sync"], check=True)
    cmd = ["taskset", "-c", core, binary, "replay", "--jobs", "1", "--out", out, data]
    if config:
        cmd[5:5] = ["--config", config]
    started = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def run_floor(core, floor, data):
    """The floor's `full_gz6`, one timed pass (it reads the data set's directory)."""
    out = subprocess.run(
        ["taskset", "-c", core, floor, os.path.dirname(os.path.abspath(data)), "--reps", "1",
         "--stages", "full_gz6", "--json", "/dev/stdout"],
        check=True, capture_output=True, text=True,
    ).stdout
    for line in out.splitlines():
        if line.startswith("{"):
            d = json.loads(line)
            if d.get("stage") == "full_gz6":
                return d.get("median_s") or d.get("best_s") or d["times"][0]
    sys.exit("the floor printed no full_gz6 figure")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("data", help="a directory of Lambda events (gen_cwl.py's events/)")
    ap.add_argument("--cwlogs", required=True, help="cwlogs binaries, comma-separated")
    ap.add_argument("--e2e", help="the e2e bench binary (prints the rule sets)")
    ap.add_argument("--floor", help="cwl-floor, for `default` against full_gz6")
    ap.add_argument("--rounds", type=int, default=11)
    ap.add_argument("--sets", default="r0,r10,own")
    ap.add_argument("--core", default="1")
    ap.add_argument("--seed", type=int, default=42, help="seed of the runs' order in each round")
    args = ap.parse_args()
    sets = args.sets.split(",")
    bins = args.cwlogs.split(",")
    if any(s in ("r10", "own") for s in sets) and not args.e2e:
        sys.exit("--e2e is needed for the r10 and own sets")
    if any(s in ("r10", "own") for s in sets) and "r0" not in sets:
        sys.exit("r10 and own are measured against r0: add it to --sets")
    with tempfile.TemporaryDirectory() as tmp:
        cfg = configs(args.e2e, sets, tmp)
        out = os.path.join(tmp, "out")
        times = {(b, s): [] for b in bins for s in sets}
        floor = []
        # Each round runs its runs in a shuffled order (seeded: the same orders every time).
        # In a fixed order the first run of a round measured 2-4% slower than the same run
        # again right after it, which a fixed order charges to one set.
        order = random.Random(args.seed)
        floor_on = bool(args.floor and "default" in sets)
        for _ in range(args.rounds):
            runs = [(b, s) for b in bins for s in sets] + ([None] if floor_on else [])
            order.shuffle(runs)
            for run in runs:
                if run is None:
                    floor.append(run_floor(args.core, args.floor, args.data))
                else:
                    b, s = run
                    times[(b, s)].append(run_replay(args.core, b, cfg[s], args.data, out))
    print(f"{args.rounds} rounds, core {args.core}, {args.data}")
    if floor:
        print(f"floor full_gz6: median {statistics.median(floor):.3f} s  best {min(floor):.3f} s")
    for b in bins:
        for s in sets:
            t = times[(b, s)]
            m = statistics.median(t)
            line = f"{b} {s:8} median {m:.3f} s  best {min(t):.3f} s"
            if s in ("r10", "own"):
                base = times[(b, "r0")]
                paired = statistics.median(x / y for x, y in zip(t, base))
                line += f"  over r0: {100 * (m / statistics.median(base) - 1):+.1f}% (medians), {100 * (paired - 1):+.1f}% (per round)"
            if s == "default" and floor:
                paired = statistics.median(f / x for f, x in zip(floor, t))
                line += (
                    f"  {100 * statistics.median(floor) / m:.0f}% of full_gz6's speed (medians),"
                    f" {100 * paired:.0f}% (per round)"
                )
            print(line)


if __name__ == "__main__":
    main()
