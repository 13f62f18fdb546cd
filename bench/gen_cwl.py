#!/usr/bin/env python3
"""Writes a data set of CloudWatch Logs subscription deliveries for the benchmarks.

Every batch is one subscription delivery as CloudWatch Logs sends it to a Lambda function: an
envelope (`messageType`, `owner`, `logGroup`, `logStream`, `subscriptionFilters`,
`logEvents`), compact JSON, gzip level 6, base64 inside `{"awslogs":{"data":...}}`.

The mix, by message bytes: CloudTrail records 40%, JSON application logs 25% (about one in
seven behind a Lambda runtime prefix `ts\\treqid\\tLEVEL\\t`), VPC flow log lines (version 2)
15%, Apache combined access lines 20%. A batch holds one kind of log (one log group) and a
log-uniform number of events between 100 and 10,000; it is cut short when its Lambda event
would pass 1 MiB. The vocabulary (event names, error codes, regions, services, levels,
statuses, ports, phrases) is the one the rules of crates/pipeline/benches/e2e.rs look for, so
those rules match a realistic share of the messages.

Layout under OUT_DIR:
  payloads/NNNNN.json.gz   the gzip payload (what base64-decodes out of awslogs.data)
  events/NNNNN.json        the Lambda event for it
  special/max1mb.json      one Lambda event of CloudTrail records, as large as fits in 1 MiB
  special/max1mb.json.gz   its payload
  manifest.json            per-batch counts and sizes, and totals

The output depends only on --mb and --seed (gzip is written with mtime 0), so a data set can
be rebuilt anywhere instead of being shipped. Keep OUT_DIR outside the repository.

usage: python3 bench/gen_cwl.py OUT_DIR [--mb 200] [--seed 42]
"""
import argparse
import base64
import gzip
import json
import math
import os
import random
import sys
import time

EVENT_LIMIT = 1024 * 1024  # the largest Lambda event a batch may become, in bytes
START_MS = 1_717_200_000_000  # 2024-06-01T00:00:00Z
SHARES = {"cloudtrail": 0.40, "app": 0.25, "vpcflow": 0.15, "apache": 0.20}

ACCOUNTS = ["123456789012", "210987654321", "444455556666", "777788889999"]
REGIONS = ["us-east-1", "us-west-2", "eu-west-1", "ap-southeast-2"]
# (service, event name, read-only): the names the e2e rules count.
API_CALLS = [
    ("s3", "GetObject", True), ("s3", "PutObject", False), ("s3", "ListBucket", True),
    ("ec2", "DescribeInstances", True), ("ec2", "RunInstances", False),
    ("iam", "GetRole", True), ("iam", "CreateAccessKey", False), ("iam", "DeleteAccessKey", False),
    ("sts", "AssumeRole", True), ("kms", "Decrypt", True), ("kms", "GenerateDataKey", True),
    ("lambda", "Invoke", False), ("dynamodb", "DescribeTable", True),
    ("logs", "PutLogEvents", False), ("signin", "ConsoleLogin", False),
]
SDK_AGENTS = [
    "aws-cli/2.17.4 md/awscrt#0.20.11 ua/2.0 os/linux#6.1.92 md/arch#x86_64 lang/python#3.11.8 md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe prompt/off command/s3.cp",
    "Boto3/1.34.131 md/Botocore#1.34.131 ua/2.0 os/linux#5.10.217 md/arch#x86_64 lang/python#3.12.3 md/pyimpl#CPython exec-env/AWS_Lambda_python3.12 cfg/retry-mode#legacy Botocore/1.34.131",
    "aws-sdk-java/2.26.7 Linux/5.10.217 OpenJDK_64-Bit_Server_VM/21.0.3+9-LTS Java/21.0.3 vendor/Amazon.com_Inc. exec-env/AWS_ECS_FARGATE io/sync http/Apache cfg/retry-mode/adaptive",
    "aws-sdk-go-v2/1.30.0 os/linux lang/go#1.22.4 md/GOOS#linux md/GOARCH#arm64 api/sts#1.30.0",
    "console.amazonaws.com",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
]
BROWSERS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0",
    "curl/8.8.0", "ELB-HealthChecker/2.0", "python-requests/2.32.3", "Go-http-client/1.1",
]
PATHS = ["/", "/index.html", "/login", "/healthz", "/favicon.ico", "/static/css/site.css",
         "/static/js/main.{hex}.js", "/api/v1/orders", "/api/v1/orders/{num}",
         "/api/v1/users/{num}/profile", "/api/v2/cart/{hex}/items", "/search?q=boots&page={small}"]
SERVICES = ["checkout", "payments", "catalog", "auth", "inventory", "notifications"]
PHRASES = ["request completed", "request completed", "request completed", "cache miss",
           "db query finished", "retrying request", "rate limit exceeded", "validation failed",
           "item not found", "payment authorized", "order created", "user authenticated",
           "upstream timeout", "connection reset by peer"]
ERROR_TYPES = ["TimeoutError", "ConnectionError", "ValueError", "KeyError"]
MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()


class Writer:
    """Random pieces of log text, all drawn from one seeded generator."""

    def __init__(self, rng):
        self.rng = rng

    def hex(self, n):
        return "%0*x" % (n, self.rng.getrandbits(4 * n))

    def upper_id(self, prefix, n):
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
        return prefix + "".join(self.rng.choice(alphabet) for _ in range(n))

    def uuid(self):
        h = self.hex(32)
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"

    def public_ip(self):
        r = self.rng
        return f"{r.choice([3, 18, 34, 52, 54, 99, 198, 203])}.{r.randrange(256)}.{r.randrange(256)}.{r.randrange(1, 255)}"

    def private_ip(self):
        r = self.rng
        return f"10.{r.randrange(256)}.{r.randrange(256)}.{r.randrange(1, 255)}"

    def path(self):
        r = self.rng
        return (r.choice(PATHS).replace("{hex}", self.hex(8))
                .replace("{num}", str(r.randrange(1, 10**6))).replace("{small}", str(r.randrange(1, 30))))


def iso_ms(ms):
    """2024-06-01T00:00:00.000Z"""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + ".%03dZ" % (ms % 1000)


def iso_s(ms):
    """2024-06-01T00:00:00Z, CloudTrail's eventTime"""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ms // 1000))


def compact(obj):
    return json.dumps(obj, separators=(",", ":"))


def cloudtrail(w, ms, account, region):
    """One CloudTrail record, as CloudTrail writes it to a log group: one JSON object."""
    r = w.rng
    service, name, read_only = r.choice(API_CALLS)
    source = f"{service}.amazonaws.com"
    user = r.choice(["alice", "bob", "carol", "deploy-bot", "ci-runner", "etl-worker"])
    key_id = w.upper_id("ASIA", 16)
    if name == "ConsoleLogin" or r.random() < 0.35:
        identity = {"type": "IAMUser", "principalId": w.upper_id("AIDA", 17),
                    "arn": f"arn:aws:iam::{account}:user/{user}", "accountId": account,
                    "accessKeyId": key_id, "userName": user}
    else:
        role = r.choice(["AdminRole", "ReadOnly", "LambdaExecution", "EtlWorker", "Deployer"])
        role_id = w.upper_id("AROA", 17)
        identity = {
            "type": "AssumedRole", "principalId": f"{role_id}:{user}",
            "arn": f"arn:aws:sts::{account}:assumed-role/{role}/{user}", "accountId": account,
            "accessKeyId": key_id,
            "sessionContext": {
                "sessionIssuer": {"type": "Role", "principalId": role_id,
                                  "arn": f"arn:aws:iam::{account}:role/{role}",
                                  "accountId": account, "userName": role},
                "attributes": {"creationDate": iso_s(ms - r.randrange(3_600_000)),
                               "mfaAuthenticated": "true" if r.random() < 0.3 else "false"}}}
    rec = {"eventVersion": "1.10", "userIdentity": identity, "eventTime": iso_s(ms),
           "eventSource": source, "eventName": name, "awsRegion": region,
           "sourceIPAddress": w.public_ip() if r.random() < 0.85 else source,
           "userAgent": "console.amazonaws.com" if name == "ConsoleLogin" else r.choice(SDK_AGENTS)}
    roll = r.random()
    if roll < 0.10:
        rec["errorCode"] = "AccessDenied"
        rec["errorMessage"] = (f"User: {identity['arn']} is not authorized to perform: "
                               f"{service}:{name} because no identity-based policy allows the "
                               f"{service}:{name} action")
    elif roll < 0.15:
        code = r.choice(["ThrottlingException", "NoSuchKey", "InvalidParameterValue",
                         "ResourceNotFoundException"])
        rec["errorCode"] = code
        rec["errorMessage"] = "Rate exceeded" if code == "ThrottlingException" else \
            "The specified resource does not exist."
    if service == "s3":
        bucket = f"prod-{r.choice(['exports', 'assets', 'backups'])}-{account[-4:]}"
        obj_key = f"{r.randrange(2020, 2025)}/{w.hex(12)}.parquet"
        rec["requestParameters"] = {"bucketName": bucket, "Host": f"{bucket}.s3.{region}.amazonaws.com",
                                    "key": obj_key}
        rec["additionalEventData"] = {"SignatureVersion": "SigV4", "CipherSuite": "TLS_AES_128_GCM_SHA256",
                                      "bytesTransferredIn": 0, "bytesTransferredOut": r.randrange(10**7),
                                      "AuthenticationMethod": "AuthHeader", "x-amz-id-2": w.hex(40)}
        rec["resources"] = [{"type": "AWS::S3::Object", "ARN": f"arn:aws:s3:::{bucket}/{obj_key}"},
                            {"accountId": account, "type": "AWS::S3::Bucket", "ARN": f"arn:aws:s3:::{bucket}"}]
    elif service == "ec2":
        rec["requestParameters"] = {"instancesSet": {"items": [
            {"instanceId": f"i-{w.hex(17)}"} for _ in range(r.randrange(1, 4))]}, "filterSet": {}}
    elif service == "kms":
        rec["requestParameters"] = {"encryptionAlgorithm": "SYMMETRIC_DEFAULT", "encryptionContext": {
            "aws:lambda:FunctionArn": f"arn:aws:lambda:{region}:{account}:function:{r.choice(SERVICES)}-prod"}}
        rec["resources"] = [{"accountId": account, "type": "AWS::KMS::Key",
                             "ARN": f"arn:aws:kms:{region}:{account}:key/{w.uuid()}"}]
    elif service in ("iam", "sts"):
        rec["requestParameters"] = {"roleName": r.choice(["AdminRole", "ReadOnly"]),
                                    "durationSeconds": 3600} if r.random() < 0.6 else None
    else:
        rec["requestParameters"] = None
    rec["responseElements"] = None
    rec["requestID"] = w.uuid()
    rec["eventID"] = w.uuid()
    rec["readOnly"] = read_only
    rec["eventType"] = "AwsConsoleSignIn" if name == "ConsoleLogin" else "AwsApiCall"
    management = service != "s3" or name == "ListBucket"
    rec["managementEvent"] = management
    rec["recipientAccountId"] = account
    rec["eventCategory"] = "Management" if management else "Data"
    rec["tlsDetails"] = {"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256",
                         "clientProvidedHostHeader": f"{service}.{region}.amazonaws.com"}
    return compact(rec)


def app_log(w, ms, service):
    """One structured application log line; sometimes as the Lambda runtime prints it."""
    r = w.rng
    level = r.choices(["DEBUG", "INFO", "WARN", "ERROR"], weights=[8, 72, 12, 8])[0]
    if level == "ERROR":
        status = r.choice([500, 500, 502, 503, 400])
    else:
        status = r.choice([200, 200, 200, 200, 201, 204, 302, 400, 404])
    line = {"timestamp": iso_ms(ms), "level": level, "service": service,
            "msg": r.choice(PHRASES), "latency": round(r.lognormvariate(3.2, 1.1), 3),
            "status": status, "method": r.choice(["GET", "GET", "GET", "POST", "PUT", "DELETE"]),
            "path": w.path(), "request_id": w.uuid(), "trace_id": f"1-{w.hex(8)}-{w.hex(24)}",
            "user_id": r.randrange(1, 100_000), "region": r.choice(REGIONS)}
    if level == "ERROR":
        kind = r.choice(ERROR_TYPES)
        line["error"] = {"type": kind, "message": r.choice(PHRASES),
                         "stack": ("Traceback (most recent call last):\n"
                                   '  File "/var/task/handler.py", line 57, in handle\n'
                                   "    result = client.send(request)\n"
                                   f"{kind}: {r.choice(PHRASES)}\n")}
    text = compact(line)
    if r.random() < 0.15:
        return f"{iso_ms(ms)}\t{w.uuid()}\t{level}\t{text}\n"
    return text


def vpc_flow(w, ms, account):
    """One VPC flow log record, default (version 2) format."""
    r = w.rng
    end = ms // 1000
    port = r.choice([443, 443, 80, 22, 3306, 5432, r.randrange(1024, 65536)])
    action = "REJECT" if r.random() < 0.1 else "ACCEPT"
    src = w.private_ip() if r.random() < 0.5 else w.public_ip()
    return (f"2 {account} eni-{w.hex(17)} {src} {w.private_ip()} {r.randrange(1024, 65536)} {port} "
            f"{r.choice([6, 6, 6, 17, 1])} {r.randrange(1, 600)} {r.randrange(40, 800_000)} "
            f"{end - 60} {end} {action} OK")


def apache(w, ms):
    """One Apache combined-format access line."""
    r = w.rng
    t = time.gmtime(ms // 1000)
    stamp = f"{t.tm_mday:02d}/{MONTHS[t.tm_mon - 1]}/{t.tm_year}:{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} +0000"
    status = r.choices([200, 304, 301, 404, 403, 500, 503], weights=[74, 8, 3, 9, 2, 3, 1])[0]
    size = 0 if status == 304 else r.randrange(60_000)
    user = r.choice(["alice", "bob"]) if r.random() < 0.08 else "-"
    referer = "-" if r.random() < 0.4 else f"https://shop.example.com{w.path()}"
    method = r.choice(["GET", "GET", "GET", "GET", "POST", "HEAD"])
    return (f'{w.public_ip()} - {user} [{stamp}] "{method} {w.path()} HTTP/1.1" {status} {size} '
            f'"{referer}" "{r.choice(BROWSERS)}"')


def batch(w, kind, n, ms, seq):
    """The envelope of one delivery of `n` events of `kind` from `ms` on; the time after it."""
    r = w.rng
    account = r.choice(ACCOUNTS)
    region = r.choice(REGIONS)
    if kind == "cloudtrail":
        group, stream = f"aws-cloudtrail-logs-{account}", f"{account}_CloudTrail_{region}"
    elif kind == "app":
        service = r.choice(SERVICES)
        group = f"/aws/lambda/{service}"
        stream = f"{iso_ms(ms)[:10].replace('-', '/')}/[$LATEST]{w.hex(32)}"
    elif kind == "vpcflow":
        group, stream = "vpc-flow-logs", f"eni-{w.hex(17)}-all"
    else:
        group, stream = "/ecs/frontend/access", f"httpd/web/{w.hex(32)}"
    events = []
    for i in range(n):
        ms += r.randrange(40)
        if kind == "cloudtrail":
            message = cloudtrail(w, ms, account, region)
        elif kind == "app":
            message = app_log(w, ms, service)
        elif kind == "vpcflow":
            message = vpc_flow(w, ms, account)
        else:
            message = apache(w, ms)
        # CloudWatch Logs event ids are 56 decimal digits; time first, then a unique sequence.
        event_id = f"{ms:013d}{seq + i:020d}{r.randrange(10**23):023d}"
        events.append({"id": event_id, "timestamp": ms, "message": message})
    filter_name = group.strip("/").replace("/", "-") + "-to-cwlogs"
    envelope = {"messageType": "DATA_MESSAGE", "owner": account, "logGroup": group,
                "logStream": stream, "subscriptionFilters": [filter_name], "logEvents": events}
    return envelope, ms


def encode(envelope):
    """(payload JSON, gzip payload, Lambda event) bytes."""
    raw = compact(envelope).encode()
    gz = gzip.compress(raw, compresslevel=6, mtime=0)
    event = compact({"awslogs": {"data": base64.b64encode(gz).decode()}}).encode()
    return raw, gz, event


def fit(envelope, limit):
    """Encodes the envelope, keeping the longest prefix of its events whose Lambda event fits in
    `limit` bytes. Cutting a prefix (rather than drawing fewer events) keeps the data a pure
    function of the seed."""
    events = envelope["logEvents"]

    def encode_first(k):
        envelope["logEvents"] = events[:k]
        return encode(envelope)

    whole = encode_first(len(events))
    if len(whole[2]) <= limit:
        return whole
    # Sizes grow about linearly with the events: start from the proportional guess, step down
    # until a prefix fits, then bisect between what fits (lo) and what does not (hi).
    hi = len(events)
    lo = max(1, min(hi - 1, int(hi * limit / len(whole[2]))))
    best = encode_first(lo)
    while len(best[2]) > limit:
        if lo == 1:
            raise SystemExit("a single log event does not fit in a Lambda event")
        hi, lo = lo, max(1, int(lo * 0.95))
        best = encode_first(lo)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        enc = encode_first(mid)
        if len(enc[2]) <= limit:
            lo, best = mid, enc
        else:
            hi = mid
    envelope["logEvents"] = events[:lo]
    return best


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", help="output directory (outside the repository)")
    ap.add_argument("--mb", type=float, default=200.0, help="MB (10^6 bytes) of message text")
    ap.add_argument("--seed", type=int, default=42)
    a = ap.parse_args()
    started = time.time()
    rng = random.Random(a.seed)
    w = Writer(rng)
    for sub in ("payloads", "events", "special"):
        os.makedirs(os.path.join(a.out, sub), exist_ok=True)
    target = int(a.mb * 1e6)
    totals = {"payloads": 0, "events": 0, "message_bytes": 0, "json_bytes": 0, "gz_bytes": 0,
              "event_json_bytes": 0, "by_kind": {k: {"payloads": 0, "events": 0, "message_bytes": 0}
                                                 for k in SHARES}}
    files = []
    ms, seq = START_MS, 0
    while totals["message_bytes"] < target:
        # The kind furthest below its share of the bytes so far: the mix stays on target
        # whatever the batch sizes turn out to be.
        done = totals["message_bytes"] + 1
        kind = max(SHARES, key=lambda k: SHARES[k] * done - totals["by_kind"][k]["message_bytes"])
        n = round(math.exp(rng.uniform(math.log(100), math.log(10_000))))
        envelope, _ = batch(w, kind, n, ms, seq)
        raw, gz, event = fit(envelope, EVENT_LIMIT)
        events = envelope["logEvents"]
        ms = events[-1]["timestamp"] + 1
        seq += len(events)
        message_bytes = sum(len(e["message"].encode()) for e in events)
        name = f"{len(files):05d}"
        with open(os.path.join(a.out, "payloads", name + ".json.gz"), "wb") as f:
            f.write(gz)
        with open(os.path.join(a.out, "events", name + ".json"), "wb") as f:
            f.write(event)
        files.append({"name": name, "kind": kind, "log_group": envelope["logGroup"],
                      "events": len(events), "message_bytes": message_bytes,
                      "json_bytes": len(raw), "gz_bytes": len(gz), "event_json_bytes": len(event)})
        for key, value in (("payloads", 1), ("events", len(events)), ("message_bytes", message_bytes)):
            totals[key] += value
            totals["by_kind"][kind][key] += value
        totals["json_bytes"] += len(raw)
        totals["gz_bytes"] += len(gz)
        totals["event_json_bytes"] += len(event)

    # The largest event a function can be given, all CloudTrail (the largest messages): the
    # worst case for memory. Its own generator, so it does not depend on --mb.
    big_w = Writer(random.Random(a.seed * 1_000_003 + 1))
    envelope, _ = batch(big_w, "cloudtrail", 8_000, START_MS, 0)
    raw, gz, event = fit(envelope, EVENT_LIMIT)
    with open(os.path.join(a.out, "special", "max1mb.json"), "wb") as f:
        f.write(event)
    with open(os.path.join(a.out, "special", "max1mb.json.gz"), "wb") as f:
        f.write(gz)
    totals["max1mb"] = {"events": len(envelope["logEvents"]), "json_bytes": len(raw),
                        "gz_bytes": len(gz), "event_json_bytes": len(event)}
    totals["seconds"] = round(time.time() - started, 1)
    manifest = {"generator": "bench/gen_cwl.py", "seed": a.seed, "mb": a.mb,
                "event_limit": EVENT_LIMIT, "shares": SHARES, "totals": totals, "files": files}
    with open(os.path.join(a.out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    share = {k: round(v["message_bytes"] / max(1, totals["message_bytes"]), 3)
             for k, v in totals["by_kind"].items()}
    print(f"{totals['payloads']} Lambda events, {totals['events']} log events, "
          f"{totals['message_bytes'] / 1e6:.1f} MB of messages, {totals['json_bytes'] / 1e6:.1f} MB "
          f"of payload JSON, {totals['gz_bytes'] / 1e6:.1f} MB gzip; shares {share}; "
          f"max1mb: {totals['max1mb']['events']} events; {totals['seconds']} s", file=sys.stderr)
    print(json.dumps(totals, indent=1))


if __name__ == "__main__":
    main()
