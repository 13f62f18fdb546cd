#!/usr/bin/env python3
"""Peer: the core loop of the Python forwarders of CloudWatch Logs subscriptions (the Elastic
Serverless Forwarder and the Datadog Forwarder both do this at heart for an `awslogs` Lambda
event), written here from their documented behaviour: base64, gzip.decompress, json.loads of
the envelope; per log event, a message that is a JSON object parsed into the document, the
fields @id, @timestamp, @message, @owner, @log_group, @log_stream added, and the action line
and document serialized into an OpenSearch `_bulk` body.

Only the core loop: the HTTPS request is left out (the body is built and measured, then
dropped), and so are the forwarders' own layers (ESF's inputs and shippers, Datadog's
enrichment and batching), which flatters them.

--codec json (default) uses the standard library, with json.dumps' default separators as
those forwarders leave them; --codec orjson swaps in orjson's loads and dumps for the payload
and the messages (ESF can use it). The Lambda event itself is parsed with the standard
library either way, as the Python runtime does before the handler runs.

Stages (all from the Lambda event's bytes):
  decode    base64 + gunzip + envelope
  bulk      the OpenSearch path: decode + documents + _bulk body
  bulk_gz6  bulk + the documents as NDJSON, gzip level 6 (the archive object)

usage: [WARMUP=1] python3 bench/peers/py_forwarder.py DATA_DIR [REPS] [STAGE,...] [--codec json|orjson]
         WARMUP untimed passes (default 1), then REPS (default 3) timed passes per stage,
         stages taking turns; one JSON line per stage on stdout, progress on stderr
       python3 bench/peers/py_forwarder.py --one EVENT.json [--codec json|orjson] [--dump OUT]
         the bulk path once on one event (peak RSS, start-up time)
"""
import base64
import gzip
import json
import os
import statistics
import sys
import time
from datetime import datetime, timezone


def take_option(args, name, default=None):
    """Removes `name VALUE` from args; returns VALUE (or default)."""
    if name not in args:
        return default
    i = args.index(name)
    if i + 1 >= len(args):
        sys.exit(f"{name} needs a value")
    value = args[i + 1]
    del args[i:i + 2]
    return value


ARGS = sys.argv[1:]
CODEC = take_option(ARGS, "--codec", "json")
DUMP = take_option(ARGS, "--dump")
if CODEC == "orjson":
    try:
        import orjson
    except ImportError:
        sys.exit("--codec orjson: orjson is not installed (pip install orjson)")
    loads = orjson.loads
    dumps = orjson.dumps  # bytes, compact
elif CODEC == "json":
    loads = json.loads

    def dumps(obj):
        return json.dumps(obj).encode()
else:
    sys.exit(f"--codec json or orjson, not {CODEC}")

UTC = timezone.utc


def decode(event_bytes):
    event = json.loads(event_bytes)
    return loads(gzip.decompress(base64.b64decode(event["awslogs"]["data"])))


def documents(payload):
    """(action, document) bytes for every log event of a data message."""
    if payload.get("messageType") != "DATA_MESSAGE":
        return
    owner, group, stream = payload["owner"], payload["logGroup"], payload["logStream"]
    for log_event in payload["logEvents"]:
        message = log_event["message"]
        doc = {}
        text = message.strip()
        if text.startswith("{") and text.endswith("}"):
            try:
                parsed = loads(text)
            except ValueError:
                parsed = None
            if isinstance(parsed, dict):
                doc = parsed
        when = datetime.fromtimestamp(log_event["timestamp"] / 1000, tz=UTC)
        doc["@id"] = log_event["id"]
        doc["@timestamp"] = when.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        doc["@message"] = message
        doc["@owner"] = owner
        doc["@log_group"] = group
        doc["@log_stream"] = stream
        action = {"index": {"_index": when.strftime("cwl-%Y.%m.%d"), "_id": log_event["id"]}}
        yield dumps(action), dumps(doc)


def bulk_body(payload, with_ndjson=False):
    """The _bulk body, and the NDJSON of the documents when asked for."""
    lines, docs = [], []
    for action, doc in documents(payload):
        lines.append(action)
        lines.append(doc)
        if with_ndjson:
            docs.append(doc)
    body = b"\n".join(lines) + b"\n" if lines else b""
    ndjson = b"\n".join(docs) + b"\n" if docs else b""
    return body, ndjson


def send(body):
    """Stands in for the HTTPS _bulk request: the body's size, so the work is used."""
    return len(body)


def stage_bulk_gz6(event_bytes):
    body, ndjson = bulk_body(decode(event_bytes), with_ndjson=True)
    return send(body) + len(gzip.compress(ndjson, compresslevel=6))


STAGES = {
    "decode": lambda b: len(decode(b)["logEvents"]),
    "bulk": lambda b: send(bulk_body(decode(b))[0]),
    "bulk_gz6": stage_bulk_gz6,
}


def one(path):
    with open(path, "rb") as f:
        payload = decode(f.read())
    body, _ = bulk_body(payload)
    if DUMP:
        with open(DUMP, "wb") as f:
            f.write(body)
    print(f"one: events={len(payload['logEvents'])} bulk_bytes={len(body)}")


def main():
    if not ARGS or ARGS[0] in ("-h", "--help"):
        print("usage: " + __doc__.split("usage: ", 1)[1].rstrip())
        return
    if ARGS[0] == "--one":
        one(ARGS[1])
        return
    data = ARGS[0]
    reps = int(ARGS[1]) if len(ARGS) > 1 else 3
    names = ARGS[2].split(",") if len(ARGS) > 2 else list(STAGES)
    unknown = [n for n in names if n not in STAGES]
    if unknown:
        sys.exit(f"no stage {', '.join(unknown)}; stages: {', '.join(STAGES)}")
    with open(os.path.join(data, "manifest.json")) as f:
        totals = json.load(f)["totals"]
    event_dir = os.path.join(data, "events")
    blobs = []
    for name in sorted(os.listdir(event_dir)):
        if name.endswith(".json"):
            with open(os.path.join(event_dir, name), "rb") as f:
                blobs.append(f.read())
    warmup = int(os.environ.get("WARMUP", "1"))
    times = {n: [] for n in names}
    reference = {}
    for rep in range(warmup + reps):
        for name in names:
            stage = STAGES[name]
            start = time.perf_counter()
            check = 0
            for blob in blobs:
                check += stage(blob)
            seconds = time.perf_counter() - start
            if reference.setdefault(name, check) != check:
                sys.exit(f"{name}: {check} != {reference[name]}")
            timed = rep >= warmup
            if timed:
                times[name].append(seconds)
            label = f"rep {rep - warmup + 1}" if timed else "warm-up"
            print(f"{label} {name} {seconds:.3f} s ({check})", file=sys.stderr)
    for name in names:
        t = sorted(times[name])
        med = statistics.median(t)
        print(json.dumps({
            "harness": f"py-{CODEC}", "peer": f"python-{sys.version.split()[0]}-{CODEC}",
            "stage": name, "reps": reps, "median_s": round(med, 5), "min_s": round(t[0], 5),
            "max_s": round(t[-1], 5), "mb_per_s_json": round(totals["json_bytes"] / 1e6 / med, 2),
            "mb_per_s_msg": round(totals["message_bytes"] / 1e6 / med, 2),
            "events_per_s": round(totals["events"] / med), "check": reference[name],
            "times": [round(x, 5) for x in times[name]],
        }))


if __name__ == "__main__":
    main()
