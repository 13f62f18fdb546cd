"""Seeds the corpus of a fuzz target of this crate from the repository (scripts/fuzz.sh runs it).

    python3 seed.py TARGET OUT_DIR

`decode`: every file of samples/ as delivered (mode byte 0), and the decompressed payload of
every sample that has one, in each transport shape (mode bytes 1-7: see fuzz_targets/decode.rs),
plus archive lines. Inputs over 8 KiB are left out (samples/broken/gzip-bomb.json.gz, the
71 KB payload of cloudtrail-denied-burst): libFuzzer's input size limit follows the largest
seed, and inputs that large slow the whole run; the small caps the target draws reach the same
code as the bomb.
Standard library only; writes seed-* files, overwriting earlier seeds.
"""

import base64
import gzip
import json
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[3]
MAX_SEED = 8 << 10
CAP = 14 << 3  # mode bits 3-6: cap 128 << 14 = 2 MiB


def payloads(raw: bytes):
    """The decompressed payloads a sample holds, as far as they decode."""
    if raw[:2] == b"\x1f\x8b":
        try:
            yield gzip.decompress(raw)
        except Exception:
            pass
        return
    try:
        event = json.loads(raw)
    except Exception:
        return
    texts = []
    if isinstance(event, dict):
        if isinstance(event.get("awslogs"), dict):
            texts.append(event["awslogs"].get("data"))
        for r in event.get("Records") or []:
            if isinstance(r, dict) and isinstance(r.get("kinesis"), dict):
                texts.append(r["kinesis"].get("data"))
        for r in event.get("records") or []:
            if isinstance(r, dict):
                texts.append(r.get("data"))
    for t in texts:
        try:
            yield gzip.decompress(base64.b64decode(t))
        except Exception:
            pass


def main():
    target, out = sys.argv[1], pathlib.Path(sys.argv[2])
    if target != "decode":
        return
    out.mkdir(parents=True, exist_ok=True)
    n = 0
    shape = 0
    for path in sorted((ROOT / "samples").rglob("*")):
        if not path.is_file():
            continue
        raw = path.read_bytes()
        if len(raw) > MAX_SEED:
            continue
        (out / f"seed-raw-{path.parent.name}-{path.name}").write_bytes(bytes([CAP]) + raw)
        n += 1
        for i, p in enumerate(payloads(raw)):
            if len(p) > MAX_SEED:
                continue
            shape = shape % 7 + 1
            escape = 0x80 if i % 2 else 0
            name = f"seed-wrapped-{shape}-{path.parent.name}-{path.name}-{i}"
            (out / name).write_bytes(bytes([shape | CAP | escape]) + p)
            n += 1
    line = lambda i, stream: json.dumps(
        {"timestamp": 1717200000000 + i, "id": str(i), "message": f"m{i}\t\"x\"",
         "owner": "123456789012", "region": "eu-west-1", "log_group": "/aws/lambda/app",
         "log_stream": stream}
    )
    archive = "\n".join([line(1, "a"), line(2, "a"), line(3, "b")]) + "\n"
    (out / "seed-wrapped-5-archive").write_bytes(bytes([5 | CAP]) + archive.encode())
    n += 1
    print(f"seed.py: {n} seeds for {target}")


main()
