"""Seeds the corpus of a fuzz target of this crate from the repository (scripts/fuzz.sh runs it).

    python3 seed.py TARGET OUT_DIR

From the conformance corpus (crates/filter/testdata/*.toml, 1,100+ rows observed from
CloudWatch or taken from the spec):
- `roundtrip`: every row's pattern (valid and invalid ones);
- `evaluate`: `pattern NUL message NUL value-expr NUL other-pattern` per row (the format of
  fuzz_targets/evaluate.rs), the other pattern being the next row's, so that the seeds hold
  pattern sets too.
Standard library only (tomllib: Python 3.11+); writes seed-* files, overwriting earlier seeds.
"""

import pathlib
import sys
import tomllib

HERE = pathlib.Path(__file__).resolve().parent


def main():
    target, out = sys.argv[1], pathlib.Path(sys.argv[2])
    rows = []
    for path in sorted((HERE.parent / "testdata").glob("*.toml")):
        rows += tomllib.loads(path.read_text(encoding="utf-8")).get("test", [])
    out.mkdir(parents=True, exist_ok=True)
    n = 0
    for i, row in enumerate(rows):
        pattern = row.get("pattern", "").encode()
        name = "".join(c if c.isalnum() or c in "-_" else "_" for c in row.get("name", str(i)))
        if target == "roundtrip":
            data = pattern
        elif target == "evaluate":
            if "message" not in row:
                continue
            other = rows[(i + 1) % len(rows)].get("pattern", "").encode()
            data = b"\0".join(
                [pattern, row["message"].encode(), row.get("value_expr", "").encode(), other]
            )
        else:
            return
        (out / f"seed-{i:04}-{name}"[:120]).write_bytes(data)
        n += 1
    print(f"seed.py: {n} seeds for {target}")


main()
