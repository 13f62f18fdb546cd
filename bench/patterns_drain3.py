#!/usr/bin/env python3
"""Template mining speed and grouping accuracy: cwlogs against Drain3, on the same messages.

    python3 -m venv /tmp/drain3-venv && /tmp/drain3-venv/bin/pip install drain3==0.9.11
    cargo build --release -p cwlogs
    /tmp/drain3-venv/bin/python bench/patterns_drain3.py \
        crates/pipeline/testdata/loghub/loghub2k-dev.jsonl.gz --cwlogs target/release/cwlogs

The data: JSON lines with `system`, `content` and `event_id` (the Loghub-2k development sets
in crates/pipeline/testdata/loghub/). Each system is one log group (one miner).

- Drain3 (in-process): one `TemplateMiner` per system with Drain3's defaults (no masking, depth
  4, similarity threshold 0.4, max children 100); the time is that of the `add_log_message`
  calls over every message, in file order, nothing else (no start-up, no reading).
- cwlogs: the whole `cwlogs patterns --jsonl` process (start-up, reading stdin, JSON in and
  out, learning), fed the same messages as `{"group": system, "message": content}` lines from
  a file, output to a file.

Prints the best and median of --rounds runs of each, their ratio, and the grouping accuracy
(GA, Zhu et al. 2019) of each per system: Drain3's by cluster, cwlogs' by the pattern id each
message was answered with online (the ids --jsonl prints; a template that generalises keeps
its id, so this is the grouping a consumer of the ids sees).
"""

import argparse
import collections
import gzip
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time


def ga(truth, pred):
    t = collections.defaultdict(set)
    p = collections.defaultdict(set)
    for i, (a, b) in enumerate(zip(truth, pred)):
        t[a].add(i)
        p[b].add(i)
    return sum(1 for a, b in zip(truth, pred) if t[a] == p[b]) / len(truth)


def ga_table(rows, pred):
    by = collections.defaultdict(list)
    for i, r in enumerate(rows):
        by[r["system"]].append(i)
    return {s: ga([rows[i]["event_id"] for i in idx], [pred[i] for i in idx]) for s, idx in sorted(by.items())}


def print_table(name, table):
    print(f"{name} grouping accuracy:")
    for s, g in table.items():
        print(f"  {s:12} {g:.4f}")
    print(f"  {'average':12} {sum(table.values()) / len(table):.4f}")


def run_drain3(rows):
    from drain3 import TemplateMiner
    from drain3.template_miner_config import TemplateMinerConfig

    config = TemplateMinerConfig()  # Drain3's defaults
    miners = {}
    pred = []
    started = time.perf_counter()
    for r in rows:
        m = miners.get(r["system"])
        if m is None:
            m = miners[r["system"]] = TemplateMiner(config=config)
        pred.append((r["system"], m.add_log_message(r["content"])["cluster_id"]))
    return time.perf_counter() - started, pred


def run_cwlogs(binary, input_path, output_path):
    with open(input_path, "rb") as i, open(output_path, "wb") as o:
        started = time.perf_counter()
        subprocess.run([binary, "patterns", "--jsonl"], stdin=i, stdout=o, check=True)
        return time.perf_counter() - started


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("data")
    ap.add_argument("--cwlogs", default="target/release/cwlogs")
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()

    rows = [json.loads(line) for line in gzip.open(args.data, "rt")]
    import logging

    logging.disable(logging.WARNING)  # Drain3 warns that it has no drain3.ini

    drain_times = []
    for _ in range(args.rounds):
        t, drain_pred = run_drain3(rows)
        drain_times.append(t)

    with tempfile.TemporaryDirectory() as tmp:
        input_path = os.path.join(tmp, "in.jsonl")
        output_path = os.path.join(tmp, "out.jsonl")
        with open(input_path, "w") as f:
            for r in rows:
                f.write(json.dumps({"group": r["system"], "message": r["content"]}) + "\n")
        cw_times = [run_cwlogs(args.cwlogs, input_path, output_path) for _ in range(args.rounds)]
        with open(output_path) as f:
            out = [json.loads(line) for line in f]
    if len(out) != len(rows):
        sys.exit(f"cwlogs wrote {len(out)} lines for {len(rows)} inputs")
    cw_pred = [(r["system"], o["pattern_id"]) for r, o in zip(rows, out)]

    n = len(rows)
    d_best, d_med = min(drain_times), statistics.median(drain_times)
    c_best, c_med = min(cw_times), statistics.median(cw_times)
    print(f"{n} messages, {args.rounds} rounds")
    print(f"Drain3 in-process:               best {d_best:.3f} s  median {d_med:.3f} s  ({n / d_med:,.0f} messages/s)")
    print(f"cwlogs patterns --jsonl process: best {c_best:.3f} s  median {c_med:.3f} s  ({n / c_med:,.0f} messages/s)")
    print(f"speed-up (median): {d_med / c_med:.1f}x  (best: {d_best / c_best:.1f}x)")
    print_table("Drain3 0.9.11 (defaults)", ga_table(rows, drain_pred))
    print_table("cwlogs (online ids)", ga_table(rows, cw_pred))


if __name__ == "__main__":
    main()
