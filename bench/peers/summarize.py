#!/usr/bin/env python3
"""Summarizes the rounds of bench/peers/rounds.sh.

Prints, for every (harness, stage), the median, min and max time over all timed passes of all
rounds with the throughput of the median; then how many times as fast the floor is as each
peer, computed round by round (the floor's median time in a round against the peer's in the
same round, so that drift between rounds cancels) and given as the median over rounds with
the min-max.

usage: python3 bench/peers/summarize.py DATA_DIR OUT_DIR

Reads OUT_DIR/round*/*.jsonl (one JSON line per stage, with "stage" and "times" in seconds;
the file name is the harness) and DATA_DIR/manifest.json (the bytes of payload JSON and of
messages, and the log events, that every throughput is counted in).
"""
import glob
import json
import os
import statistics
import sys

# (floor stage, [(harness, stage) of the peers doing the same work])
COMPARISONS = [
    ("decode", [("node", "decode"), ("py-json", "decode"), ("py-orjson", "decode")]),
    ("full", [("node", "bulk_blueprint"), ("node", "bulk_lean"), ("py-json", "bulk"),
              ("py-orjson", "bulk")]),
    ("full_gz6", [("node", "bulk_lean_gz6"), ("py-json", "bulk_gz6"), ("py-orjson", "bulk_gz6")]),
]


def read_rounds(out):
    """{(harness, stage): {round dir: [seconds]}}"""
    runs = {}
    rounds = sorted(glob.glob(os.path.join(out, "round*")),
                    key=lambda p: int("".join(c for c in os.path.basename(p) if c.isdigit()) or 0))
    for r in rounds:
        for path in glob.glob(os.path.join(r, "*.jsonl")):
            harness = os.path.basename(path)[:-len(".jsonl")]
            with open(path) as f:
                for line in f:
                    line = line.strip()
                    if line.startswith("{"):
                        j = json.loads(line)
                        runs.setdefault((harness, j["stage"]), {})[r] = j["times"]
    return rounds, runs


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: python3 bench/peers/summarize.py DATA_DIR OUT_DIR")
    data, out = sys.argv[1], sys.argv[2]
    with open(os.path.join(data, "manifest.json")) as f:
        totals = json.load(f)["totals"]
    rounds, runs = read_rounds(out)
    if not runs:
        sys.exit(f"no round*/*.jsonl under {out}")
    mb, msg_mb, events = totals["json_bytes"] / 1e6, totals["message_bytes"] / 1e6, totals["events"]
    print(f"data: {totals['payloads']} Lambda events, {events} log events, {mb:.1f} MB of payload "
          f"JSON ({msg_mb:.1f} MB of messages); {len(rounds)} rounds")
    print()
    print(f"{'harness':<10} {'stage':<15} {'med_s':>8} {'min_s':>8} {'max_s':>8} {'n':>3} "
          f"{'MB/s':>7} {'kev/s':>7}")
    for key in sorted(runs):
        times = sorted(t for ts in runs[key].values() for t in ts)
        med = statistics.median(times)
        print(f"{key[0]:<10} {key[1]:<15} {med:8.3f} {times[0]:8.3f} {times[-1]:8.3f} "
              f"{len(times):3d} {mb / med:7.1f} {events / med / 1e3:7.0f}")
    for floor_stage, peers in COMPARISONS:
        floor = runs.get(("floor", floor_stage))
        if not floor:
            continue
        print(f"\nthe floor's {floor_stage} is N x as fast as (same round; median over rounds, min-max):")
        for peer in peers:
            if peer not in runs:
                continue
            ratios = [statistics.median(runs[peer][r]) / statistics.median(floor[r])
                      for r in rounds if r in floor and r in runs[peer]]
            if ratios:
                print(f"  {peer[0]:<10} {peer[1]:<15} {statistics.median(ratios):6.2f}x "
                      f"({min(ratios):.2f}-{max(ratios):.2f}, {len(ratios)} rounds)")


if __name__ == "__main__":
    main()
