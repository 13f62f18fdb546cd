#!/usr/bin/env python3
"""Summarises the rounds of scripts/bench.sh: throughput of every (harness, stage), and ratios
computed round by round (each from neighbouring runs in the same round, so machine drift
cancels), reported as the median over rounds with the min-max.

usage: scripts/bench-summary.py DATA_DIR OUT_DIR [--markdown]

Reads OUT_DIR/round*/{floor,cwlogs,node,py-json,py-orjson}.jsonl (one JSON line per stage
with "stage" and "times") and DATA_DIR/manifest.json (bytes of JSON and events).
"""
import glob
import json
import os
import statistics as st
import sys

data, out = sys.argv[1], sys.argv[2]
markdown = "--markdown" in sys.argv
tot = json.load(open(os.path.join(data, "manifest.json")))["totals"]
rounds = sorted(glob.glob(os.path.join(out, "round*")))
times = {}   # (harness, stage) -> {round: [seconds]}
extra = {}   # (harness, stage) -> last JSON line (output sizes)
for r in rounds:
    for f in glob.glob(os.path.join(r, "*.jsonl")):
        h = os.path.basename(f)[:-len(".jsonl")]
        for line in open(f):
            line = line.strip()
            if not line.startswith("{"):
                continue
            j = json.loads(line)
            stage = j.get("stage") or j.get("mode")
            times.setdefault((h, stage), {})[r] = j["times"]
            extra[(h, stage)] = j

MB = tot["json_bytes"] / 1e6
EV = tot["events"]


def med_time(k):
    return st.median(t for ts in times[k].values() for t in ts)


def ratio(num, den):
    """Per round: time(den) / time(num) = throughput(num) / throughput(den)."""
    rs = [st.median(times[den][r]) / st.median(times[num][r])
          for r in rounds if r in times.get(num, {}) and r in times.get(den, {})]
    return (st.median(rs), min(rs), max(rs)) if rs else None


def fmt(x, pct=False):
    if x is None:
        return "n/a"
    m, lo, hi = x
    if pct:
        return f"{100 * m:.0f}% ({100 * lo:.0f}-{100 * hi:.0f})"
    return f"{m:.2f}x ({lo:.2f}-{hi:.2f})"


print(f"data: {tot['payloads']} Lambda events, {EV} log events, {MB:.1f} MB of JSON; "
      f"{len(rounds)} rounds")
print()
print(f"{'harness':<10} {'stage':<18} {'med_s':>7} {'MB/s':>7} {'kev/s':>7}")
for k in sorted(times):
    t = med_time(k)
    print(f"{k[0]:<10} {k[1]:<18} {t:7.3f} {MB / t:7.1f} {EV / t / 1e3:7.0f}")

FLOOR_FULL, FLOOR_GZ = ("floor", "full"), ("floor", "full_gz6")
PEERS_BULK = [("node", "bulk_blueprint"), ("node", "bulk_lean"), ("py-json", "bulk"),
              ("py-orjson", "bulk")]
PEERS_GZ = [("node", "bulk_lean_gz6"), ("py-json", "bulk_gz6"), ("py-orjson", "bulk_gz6")]
rows = []
for stage, floor, peers in [
        ("index_r0", FLOOR_FULL, PEERS_BULK), ("index_r10", FLOOR_FULL, PEERS_BULK),
        ("index_r100", FLOOR_FULL, PEERS_BULK),
        ("archive_index_r0", FLOOR_GZ, PEERS_GZ), ("archive_index_r10", FLOOR_GZ, PEERS_GZ)]:
    k = ("cwlogs", stage)
    if k not in times:
        continue
    t = med_time(k)
    rows.append((stage, MB / t, EV / t, fmt(ratio(k, floor), pct=True),
                 {p: fmt(ratio(k, p)) for p in peers if p in times}))

print()
print("cwlogs against the floor (same round) and the peers (cwlogs is N x as fast):")
if markdown:
    print("| cwlogs stage | MB/s | events/s | % of floor | "
          "x Node blueprint | x Node lean | x Python json | x Python orjson |")
    print("| --- | ---: | ---: | --- | --- | --- | --- | --- |")
for stage, mbs, evs, pf, peers in rows:
    vals = [peers.get(p, "") for p in
            ([("node", "bulk_blueprint"), ("node", "bulk_lean"), ("py-json", "bulk"),
              ("py-orjson", "bulk")] if not stage.startswith("archive") else
             [None, ("node", "bulk_lean_gz6"), ("py-json", "bulk_gz6"), ("py-orjson", "bulk_gz6")])]
    if markdown:
        print(f"| `{stage}` | {mbs:.1f} | {evs:,.0f} | {pf} | " + " | ".join(v or "-" for v in vals) + " |")
    else:
        print(f"  {stage:<18} {mbs:7.1f} MB/s {evs:9.0f} ev/s  floor {pf:<16} " +
              "  ".join(f"{p[0]}/{p[1]} {v}" for p, v in peers.items()))

print()
print("floor and peers against each other (floor is N x as fast):")
for p in PEERS_BULK:
    if p in times:
        print(f"  floor full     vs {p[0]}/{p[1]}: {fmt(ratio(FLOOR_FULL, p))}")
for p in PEERS_GZ:
    if p in times:
        print(f"  floor full_gz6 vs {p[0]}/{p[1]}: {fmt(ratio(FLOOR_GZ, p))}")

print()
print("rules and gzip levels (same round):")
for a, b, what in [("index_r10", "index_r0", "10 rules keep"),
                   ("index_r100", "index_r0", "100 rules keep"),
                   ("archive_index_r10", "archive_index_r0", "10 rules keep (archive + index)")]:
    r = ratio(("cwlogs", a), ("cwlogs", b))
    if r:
        print(f"  {what:<32} {fmt(r, pct=True)} of the speed with 0 rules "
              f"(cost {100 * (1 / r[0] - 1):.1f}% more time)")
g1, g6 = ("cwlogs", "archive_gz1"), ("cwlogs", "archive_gz6")
if g1 in times and g6 in times:
    r = ratio(g1, g6)
    s1, s6 = extra[g1]["archive_bytes"], extra[g6]["archive_bytes"]
    print(f"  archive gzip level 1 vs 6: {fmt(r)} as fast (whole path from event bytes), "
          f"{s1 / 1e6:.1f} MB vs {s6 / 1e6:.1f} MB ({s1 / s6:.2f}x larger); "
          f"NDJSON compresses {tot['json_bytes'] / s1:.1f}x / {tot['json_bytes'] / s6:.1f}x "
          f"against the payload JSON")
