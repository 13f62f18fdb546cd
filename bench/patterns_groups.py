#!/usr/bin/env python3
"""Writes `cwlogs patterns --jsonl` input for the memory measurement of BENCHMARKS.md ("Log
patterns"): GROUPS log groups, each with TEMPLATES templates of its own (distinct words in
three positions, so none generalises into another), each template seen REPEATS times with other
numbers; lines interleaved across groups, as many functions logging at once.

    python3 bench/patterns_groups.py 10000 20 3 > /tmp/groups.jsonl
    /usr/bin/time -v target/release/cwlogs patterns --jsonl < /tmp/groups.jsonl > /dev/null
"""

import json
import random
import sys


def word(n):
    letters = "abcdefghijklmnopqrstuvwxyz"
    out = ""
    n += 26 * 26
    while n:
        out += letters[n % 26]
        n //= 26
    return out


def main():
    groups, templates, repeats = (int(a) for a in sys.argv[1:4])
    rnd = random.Random(42)
    out = sys.stdout
    for r in range(repeats):
        for t in range(templates):
            for g in range(groups):
                base = (g * templates + t) * 3
                msg = (
                    f"{word(base)} request {word(base + 1)} finished in {rnd.randint(1, 999)} ms "
                    f"for user {rnd.randint(1, 10**6)} with status {word(base + 2)}"
                )
                out.write(json.dumps({"group": f"/aws/lambda/fn-{g:05d}", "message": msg}) + "\n")


if __name__ == "__main__":
    main()
