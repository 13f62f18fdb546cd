#!/usr/bin/env python3
"""Writes the benchmark's "many small events" payload: one direct-subscription Lambda event
of 10,000 small log events (JSON application lines, Lambda runtime lines, VPC flow lines,
Apache access lines; 60-200 bytes each), filled with varied text until the event is just
under 1 MiB, the most an asynchronous invocation takes. It is the worst case for per-event
costs (allocation, document ids, index names), where gen_cwl.py's special/max1mb.json
(about 4,400 CloudTrail events) is the worst case for bytes.

usage: scripts/bench-small-events.py DATA_DIR [--events 10000] [--limit 1048576] [--seed 42]
writes DATA_DIR/special/small10k.json (the Lambda event) and small10k.json.gz (the payload).
Deterministic for a given seed. Keep DATA_DIR outside the repository.
"""
import argparse
import base64
import gzip
import json
import os
import random

LEVELS = ["DEBUG", "INFO", "INFO", "INFO", "WARN", "ERROR"]
WORDS = ["request completed", "cache miss", "db query finished", "upstream timeout",
         "retrying request", "user authenticated", "item not found", "order created"]


def hexs(rng, n):
    return "".join(rng.choices("0123456789abcdef", k=n))


def message(rng, i, ms, pad):
    """A small message of one of four kinds; `pad` extra varied characters tune the size."""
    extra = hexs(rng, pad)
    kind = i % 4
    if kind == 0:
        return json.dumps({"level": rng.choice(LEVELS), "msg": rng.choice(WORDS),
                           "status": rng.choice([200, 200, 201, 404, 500]),
                           "latency": round(rng.random() * 300, 2), "rid": extra},
                          separators=(",", ":"))
    if kind == 1:
        lvl = rng.choice(LEVELS)
        return f"2024-06-01T00:00:{i % 60:02d}.{ms % 1000:03d}Z\t{hexs(rng, 8)}\t{lvl}\t{rng.choice(WORDS)} {extra}\n"
    if kind == 2:
        act = "ACCEPT" if rng.random() < 0.9 else "REJECT"
        return (f"2 123456789012 eni-{hexs(rng, 17)} 10.0.{rng.randrange(256)}.{rng.randrange(256)} "
                f"10.1.{rng.randrange(256)}.{rng.randrange(256)} 443 {rng.randrange(1024, 65535)} 6 "
                f"{rng.randrange(1, 500)} {rng.randrange(40, 500000)} {ms // 1000} {ms // 1000 + 60} {act} OK {extra}")
    return (f'52.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)} - - '
            f'[01/Jun/2024:00:00:{i % 60:02d} +0000] "GET /api/{extra} HTTP/1.1" '
            f'{rng.choice([200, 200, 304, 404, 500])} {rng.randrange(60000)} "-" "curl/8.5.0"')


def build(n, seed, pad):
    rng = random.Random(seed)
    ms = 1717200000000
    events = []
    for i in range(n):
        ms += rng.randrange(0, 5)
        eid = f"{ms:013d}{i:010d}{(ms * 2654435761 + i * 40503) % 10**33:033d}"[:56]
        events.append({"id": eid, "timestamp": ms, "message": message(rng, i, ms, pad)})
    doc = {"messageType": "DATA_MESSAGE", "owner": "123456789012",
           "logGroup": "/aws/lambda/orders-prod",
           "logStream": "2024/06/01/[$LATEST]0123456789abcdef0123456789abcdef",
           "subscriptionFilters": ["all-to-cwlogs"], "logEvents": events}
    raw = json.dumps(doc, separators=(",", ":")).encode()
    gz = gzip.compress(raw, compresslevel=6, mtime=0)
    ev = json.dumps({"awslogs": {"data": base64.b64encode(gz).decode()}},
                    separators=(",", ":")).encode()
    return raw, gz, ev


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--events", type=int, default=10000)
    ap.add_argument("--limit", type=int, default=1024 * 1024)
    ap.add_argument("--seed", type=int, default=42)
    a = ap.parse_args()
    lo, hi = 0, 400  # padding characters per message: the largest that fits
    best = build(a.events, a.seed, 0)
    if len(best[2]) > a.limit:
        raise SystemExit(f"{a.events} events do not fit in {a.limit} bytes even unpadded")
    while lo < hi:
        mid = (lo + hi + 1) // 2
        b = build(a.events, a.seed, mid)
        if len(b[2]) <= a.limit:
            lo, best = mid, b
        else:
            hi = mid - 1
    raw, gz, ev = best
    os.makedirs(os.path.join(a.out, "special"), exist_ok=True)
    with open(os.path.join(a.out, "special", "small10k.json"), "wb") as f:
        f.write(ev)
    with open(os.path.join(a.out, "special", "small10k.json.gz"), "wb") as f:
        f.write(gz)
    print(json.dumps({"events": a.events, "pad": lo, "json_bytes": len(raw), "gz_bytes": len(gz),
                      "event_json_bytes": len(ev)}))


if __name__ == "__main__":
    main()
