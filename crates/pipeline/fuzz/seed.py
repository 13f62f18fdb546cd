"""Seeds the corpus of a fuzz target of this crate from the repository (scripts/fuzz.sh runs it).

    python3 seed.py TARGET OUT_DIR

- `config`: the built-in configuration (DEFAULT_CONFIG in src/config.rs), the stack's
  infra/sam/config/cwlogs.toml, the rule packs (packs/*.toml: `[[rule]]`s are config too) and
  every ```toml block of README.md, and the TOML raw strings (`r#"..."#` holding a `[table]`)
  of the workspace's sources and tests.
- `bulk_classify`: every answer of tests/fixtures/bulk/*.json in the target's format (status as
  two big-endian bytes, the number of items sent, the body): as many items as the answer
  lists (so that the per-item classification is reached), or 1 and 2 for whole-request answers
  (one item and several take different branches).
- `patterns`: the Loghub-2k development messages (testdata/loghub/), 64 lines of one system per
  seed, four seeds per system; and the AWS records of testdata/parse/*.toml (CloudTrail and VPC
  flow log records take fixed templates), one seed per file.
- `parse`: the AWS records of testdata/parse/*.toml (flow log records, Lambda lines and
  platform events, CloudTrail records), one seed per record and one per file, for each of the
  target's log groups (its first byte), and a stack trace for the multiline group.
Standard library only; writes seed-* files, overwriting earlier seeds.
"""

import gzip
import json
import pathlib
import re
import sys
import tomllib

HERE = pathlib.Path(__file__).resolve().parent
CRATE = HERE.parent
ROOT = CRATE.parents[1]


def configs():
    src = (CRATE / "src" / "config.rs").read_text(encoding="utf-8")
    m = re.search(r'pub const DEFAULT_CONFIG: &str = r#"(.*?)"#;', src, re.S)
    if m:
        yield "default", m.group(1)
    sam = ROOT / "infra" / "sam" / "config" / "cwlogs.toml"
    if sam.exists():
        yield "sam", sam.read_text(encoding="utf-8")
    for pack in sorted((CRATE / "packs").glob("*.toml")):
        yield f"pack-{pack.stem}", pack.read_text(encoding="utf-8")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for i, block in enumerate(re.findall(r"```toml\n(.*?)```", readme, re.S)):
        yield f"readme-{i}", block
    for path in sorted(ROOT.glob("crates/*/*/*.rs")):
        if path.parent.name not in ("src", "tests"):
            continue
        text = path.read_text(encoding="utf-8")
        for i, lit in enumerate(re.findall(r'r#"(.*?)"#', text, re.S)):
            if re.search(r"^\s*\[\[?[a-z]", lit, re.M):
                yield f"{path.parent.parent.name}-{path.stem}-{i}", lit


def answers():
    for path in sorted((CRATE / "tests" / "fixtures" / "bulk").glob("*.json")):
        fixture = json.loads(path.read_text(encoding="utf-8"))
        body = fixture.get("body")
        raw = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        items = body.get("items") if isinstance(body, dict) else None
        counts = [len(items)] if isinstance(items, list) else [1, 2]
        for n in counts:
            head = (int(fixture.get("status", 200)) % 65536).to_bytes(2, "big") + bytes([n % 256])
            yield f"{path.stem}-{n}", head + raw


def messages():
    data = CRATE / "testdata" / "loghub" / "loghub2k-dev.jsonl.gz"
    by = {}
    for line in gzip.open(data, "rt", encoding="utf-8"):
        row = json.loads(line)
        by.setdefault(row["system"], []).append(row["content"])
    for system, lines in sorted(by.items()):
        for k in range(4):
            chunk = lines[k * 500 : k * 500 + 64]
            yield f"{system}-{k}", "\n".join(chunk).encode()
    # The AWS records with fixed templates (CloudTrail, VPC flow logs) and the other parsed
    # formats, one file of records a seed.
    for path in sorted((CRATE / "testdata" / "parse").glob("*.toml")):
        cases = tomllib.loads(path.read_text(encoding="utf-8"))["case"]
        lines = [c["message"].replace("\n", " ") for c in cases]
        yield f"records-{path.stem}", "\n".join(lines).encode()


def records():
    for path in sorted((CRATE / "testdata" / "parse").glob("*.toml")):
        cases = tomllib.loads(path.read_text(encoding="utf-8"))["case"]
        lines = [c["message"] for c in cases]
        for group in range(5):
            for i, line in enumerate(lines):
                yield f"{path.stem}-{group}-{i}", bytes([group]) + line.encode()
            yield f"{path.stem}-{group}-all", bytes([group]) + "\n".join(lines).encode()
    trace = [
        "2025-11-25 10:00:00 ERROR boom",
        "Traceback (most recent call last):",
        '  File "app.py", line 1, in <module>',
        "ValueError: x",
        "2025-11-25 10:00:01 INFO fine",
    ]
    yield "multiline", bytes([2]) + "\n".join(trace).encode()


def main():
    target, out = sys.argv[1], pathlib.Path(sys.argv[2])
    seeds = {
        "config": lambda: ((k, v.encode()) for k, v in configs()),
        "bulk_classify": answers,
        "patterns": messages,
        "parse": records,
    }
    if target not in seeds:
        return
    out.mkdir(parents=True, exist_ok=True)
    n = 0
    for name, data in seeds[target]():
        (out / f"seed-{name}").write_bytes(data)
        n += 1
    print(f"seed.py: {n} seeds for {target}")


main()
