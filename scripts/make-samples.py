#!/usr/bin/env python3
"""Writes the sample inputs under samples/ (run from anywhere) (deterministic: run it again, get the same bytes).

Every transport shape CloudWatch Logs uses, realistic messages, and a set of broken inputs.
`cwlogs replay samples/` runs the whole pipeline over them.
"""
import base64
import gzip
import json
import os

HERE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "samples")
T0 = 1764028800000  # 2025-11-25T00:00:00Z
ACCOUNT = "123456789012"


def eid(ms, n):
    # CloudWatch event ids are 56-digit decimal strings.
    return f"{ms:013d}{n:043d}"


def gz(obj_or_bytes):
    raw = obj_or_bytes if isinstance(obj_or_bytes, bytes) else json.dumps(obj_or_bytes, separators=(",", ":")).encode()
    return gzip.compress(raw, compresslevel=6, mtime=0)


def b64(data):
    return base64.b64encode(data).decode()


def envelope(group, stream, messages, start, owner=ACCOUNT, **extra):
    events = [{"id": eid(start + i * 1000, i), "timestamp": start + i * 1000, "message": m} for i, m in enumerate(messages)]
    env = {"messageType": "DATA_MESSAGE", "owner": owner, "logGroup": group, "logStream": stream,
           "subscriptionFilters": [group.strip("/").replace("/", "-") + "-to-cwlogs"]}
    env.update(extra)
    env["logEvents"] = events
    return env


def direct(env):
    return {"awslogs": {"data": b64(gz(env))}}


def write(rel, data):
    path = os.path.join(HERE, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if not isinstance(data, bytes):
        data = (json.dumps(data, indent=2) + "\n").encode()
    with open(path, "wb") as f:
        f.write(data)


def cloudtrail(i, name, source, error=None, arn=None, ip="198.51.100.23"):
    ev = {
        "eventVersion": "1.09",
        "userIdentity": {"type": "AssumedRole", "principalId": f"AROAEXAMPLE{i:04d}:session",
                         "arn": arn or f"arn:aws:sts::{ACCOUNT}:assumed-role/ci-deployer/session-{i}",
                         "accountId": ACCOUNT, "accessKeyId": f"ASIAEXAMPLE{i:08d}"},
        "eventTime": f"2025-11-25T00:00:{i % 60:02d}Z",
        "eventSource": source, "eventName": name, "awsRegion": "eu-west-1",
        "sourceIPAddress": ip, "userAgent": "aws-cli/2.15.30 Python/3.11.8 Linux/6.1.79",
        "requestParameters": {"bucketName": "prod-data"} if source.startswith("s3") else None,
        "responseElements": None,
        "requestID": f"{i:08X}EXAMPLE", "eventID": f"0000{i:04d}-1111-2222-3333-444455556666",
        "readOnly": name.startswith(("Get", "List", "Describe")), "eventType": "AwsApiCall",
        "managementEvent": True, "recipientAccountId": ACCOUNT,
    }
    if error:
        ev["errorCode"] = error
        ev["errorMessage"] = f"User: {ev['userIdentity']['arn']} is not authorized to perform: {source.split('.')[0]}:{name}"
    return json.dumps(ev, separators=(",", ":"))


def cloudtrail_burst():
    """40 AccessDenied from one assumed role over 6 minutes (00:12:30-00:18:21, across the
    00:15 window boundary), with a few successes and other errors from other principals in
    between: what the alert rules group, summarise and rate-limit."""
    T = 1764029550000  # 2025-11-25T00:12:30Z
    ROLE = f"arn:aws:sts::{ACCOUNT}:assumed-role/backup-sync/i-0a1b2c3d4e5f60718"
    def iso(ms):
        import datetime
        return datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    def trail(n, ms, name, source, arn, key, error=None, ip="10.0.7.41", params=None):
        ev = {"eventVersion": "1.09",
              "userIdentity": {"type": "AssumedRole", "principalId": f"AROA{key}:{arn.rsplit('/', 1)[1]}", "arn": arn,
                               "accountId": ACCOUNT, "accessKeyId": f"ASIA{key}",
                               "sessionContext": {"sessionIssuer": {"type": "Role", "principalId": f"AROA{key}",
                                                                    "arn": f"arn:aws:iam::{ACCOUNT}:role/{arn.split('/')[1]}",
                                                                    "accountId": ACCOUNT, "userName": arn.split('/')[1]},
                                                  "attributes": {"creationDate": "2025-11-25T00:05:12Z", "mfaAuthenticated": "false"}}},
              "eventTime": iso(ms), "eventSource": source, "eventName": name, "awsRegion": "eu-west-1",
              "sourceIPAddress": ip, "userAgent": "Boto3/1.35.40 md/Botocore#1.35.40 ua/2.0 os/linux#6.1.112 lang/python#3.12.6",
              "requestParameters": params, "responseElements": None,
              "requestID": f"B{n:05d}EXAMPLE{n * 7919 % 100000:05d}", "eventID": f"b0b0{n:04d}-7e57-4c1d-9a2b-{n * 104729 % 10**12:012d}",
              "readOnly": name.startswith(("Get", "List", "Describe", "Head")), "eventType": "AwsApiCall",
              "managementEvent": source != "s3.amazonaws.com", "recipientAccountId": ACCOUNT}
        if error:
            ev["errorCode"] = error
            ev["errorMessage"] = (f"User: {arn} is not authorized to perform: {source.split('.')[0]}:{name} "
                                  f"because no identity-based policy allows the {source.split('.')[0]}:{name} action")
        return json.dumps(ev, separators=(",", ":"))
    denied = [("GetObject", "s3.amazonaws.com", {"bucketName": "prod-finance-exports", "key": "2025/11/ledger.parquet"}),
              ("ListObjects", "s3.amazonaws.com", {"bucketName": "prod-finance-exports", "prefix": "2025/"}),
              ("GetBucketPolicy", "s3.amazonaws.com", {"bucketName": "prod-finance-exports"}),
              ("GetParameter", "ssm.amazonaws.com", {"name": "/prod/finance/db-password", "withDecryption": True})]
    events = []
    n = 0
    for i in range(40):
        ms = T + i * 9000
        name, source, params = denied[i % len(denied)]
        events.append((ms, trail(n, ms, name, source, ROLE, "BACKUPSYNC0001", "AccessDenied", params=params)))
        n += 1
    others = [  # offset ms, event
        (4_000, "GetObject", "s3.amazonaws.com", "backup-sync/i-0a1b2c3d4e5f60718", None, {"bucketName": "prod-backups", "key": "daily/2025-11-24.tar.zst"}),
        (61_500, "PutObject", "s3.amazonaws.com", "backup-sync/i-0a1b2c3d4e5f60718", None, {"bucketName": "prod-backups", "key": "daily/2025-11-25.tar.zst"}),
        (95_000, "DescribeInstances", "ec2.amazonaws.com", "ci-deployer/session-91", None, None),
        (150_500, "Decrypt", "kms.amazonaws.com", "ci-deployer/session-91", "AccessDeniedException", None),
        (203_000, "RunInstances", "ec2.amazonaws.com", "ci-deployer/session-91", "Client.UnauthorizedOperation", None),
        (247_500, "GetCallerIdentity", "sts.amazonaws.com", "backup-sync/i-0a1b2c3d4e5f60718", None, None),
        (301_000, "PutMetricData", "monitoring.amazonaws.com", "backup-sync/i-0a1b2c3d4e5f60718", "ThrottlingException", None),
        (340_500, "ListBuckets", "s3.amazonaws.com", "ci-deployer/session-91", None, None),
    ]
    for off, name, source, who, err, params in others:
        arn = f"arn:aws:sts::{ACCOUNT}:assumed-role/{who}"
        key = "BACKUPSYNC0001" if who.startswith("backup") else "CIDEPLOYER0091"
        ip = "10.0.7.41" if who.startswith("backup") else "198.51.100.23"
        events.append((T + off, trail(n, T + off, name, source, arn, key, err, ip=ip, params=params)))
        n += 1
    events.sort(key=lambda e: e[0])
    log_events = [{"id": f"{ms:013d}{i:043d}", "timestamp": ms, "message": m} for i, (ms, m) in enumerate(events)]
    env = {"messageType": "DATA_MESSAGE", "owner": ACCOUNT, "logGroup": "aws-cloudtrail-logs-123456789012",
           "logStream": f"{ACCOUNT}_CloudTrail_eu-west-1", "subscriptionFilters": ["aws-cloudtrail-logs-123456789012-to-cwlogs"],
           "logEvents": log_events}
    raw = gzip.compress(json.dumps(env, separators=(",", ":")).encode(), compresslevel=6, mtime=0)
    out = {"awslogs": {"data": base64.b64encode(raw).decode()}}
    return out


def main():
    ct = [
        cloudtrail(1, "GetObject", "s3.amazonaws.com"),
        cloudtrail(2, "PutBucketPolicy", "s3.amazonaws.com", error="AccessDenied"),
        cloudtrail(3, "DescribeInstances", "ec2.amazonaws.com"),
        cloudtrail(4, "CreateAccessKey", "iam.amazonaws.com", error="AccessDenied",
                   arn=f"arn:aws:sts::{ACCOUNT}:assumed-role/intruder/session-4", ip="203.0.113.9"),
        cloudtrail(5, "ConsoleLogin", "signin.amazonaws.com"),
        cloudtrail(6, "Decrypt", "kms.amazonaws.com", error="AccessDenied",
                   arn=f"arn:aws:sts::{ACCOUNT}:assumed-role/intruder/session-4", ip="203.0.113.9"),
        cloudtrail(7, "StopLogging", "cloudtrail.amazonaws.com"),
        cloudtrail(8, "AuthorizeSecurityGroupIngress", "ec2.amazonaws.com", error="UnauthorizedOperation"),
    ]
    write("direct/cloudtrail-denied-burst.json", cloudtrail_burst())
    write("direct/cloudtrail.json", direct(envelope("aws-cloudtrail-logs-123456789012", f"{ACCOUNT}_CloudTrail_eu-west-1", ct, T0)))

    app = [
        json.dumps({"level": "INFO", "service": "checkout", "msg": "order created", "order_id": "o-1001", "latency_ms": 42}),
        json.dumps({"level": "DEBUG", "service": "checkout", "msg": "cache miss", "key": "cart:77"}),
        json.dumps({"level": "WARN", "service": "checkout", "msg": "retrying request", "attempt": 2, "latency_ms": 830}),
        json.dumps({"level": "ERROR", "service": "checkout", "msg": "upstream timeout", "upstream": "payments", "latency_ms": 3001,
                    "error": {"type": "TimeoutError", "stack": ["at call (payments.js:10)", "at main (index.js:3)"]}}),
        json.dumps({"level": "INFO", "service": "checkout", "msg": "request completed", "status": 200, "path": "/api/v1/orders", "user": {"id": 7, "tier": "gold"}}),
    ]
    write("direct/app-json.json", direct(envelope("/ecs/checkout-prod", "checkout/app/9f1c2d", app, T0 + 60_000)))

    req = "8f5d2c1e-1b2a-4c3d-9e8f-0a1b2c3d4e5f"
    runtime = [
        f"START RequestId: {req} Version: $LATEST",
        f"2025-11-25T00:02:00.120Z\t{req}\tINFO\t" + json.dumps({"msg": "processing batch", "records": 25}),
        f"2025-11-25T00:02:00.480Z\t{req}\tERROR\tInvoke Error \t" + json.dumps({"errorType": "Error", "errorMessage": "connect ECONNREFUSED 10.0.3.7:5432"}),
        f"2025-11-25T00:02:00.481Z\t{req}\tINFO\tplain text line with \"quotes\" and a tab\there",
        f"END RequestId: {req}",
        f"REPORT RequestId: {req}\tDuration: 361.52 ms\tBilled Duration: 362 ms\tMemory Size: 128 MB\tMax Memory Used: 71 MB\tInit Duration: 180.33 ms\t",
        f"2025-11-25T00:02:03.000Z {req} Task timed out after 3.00 seconds",
    ]
    write("direct/lambda-runtime.json", direct(envelope("/aws/lambda/payments-prod", "2025/11/25/[$LATEST]0123456789abcdef0123456789abcdef", runtime, T0 + 120_000)))

    flows = [
        f"2 {ACCOUNT} eni-0a1b2c3d4e5f60718 10.0.1.12 10.0.2.34 49152 443 6 10 8400 1764028800 1764028860 ACCEPT OK",
        f"2 {ACCOUNT} eni-0a1b2c3d4e5f60718 203.0.113.9 10.0.1.12 51515 22 6 3 180 1764028800 1764028860 REJECT OK",
        f"2 {ACCOUNT} eni-0a1b2c3d4e5f60718 10.0.1.12 10.0.0.2 33000 53 17 1 72 1764028800 1764028860 ACCEPT OK",
        f"2 {ACCOUNT} eni-0a1b2c3d4e5f60718 - - - - - - - 1764028800 1764028860 - NODATA",
    ]
    write("direct/vpc-flow.json", direct(envelope("vpc-flow-logs", "eni-0a1b2c3d4e5f60718-all", flows, T0 + 180_000)))

    apache = [
        '198.51.100.7 - - [25/Nov/2025:00:04:00 +0000] "GET /index.html HTTP/1.1" 200 5120 "-" "Mozilla/5.0 (X11; Linux x86_64)"',
        '198.51.100.7 - frank [25/Nov/2025:00:04:01 +0000] "GET /api/v1/orders/1001 HTTP/1.1" 404 287 "https://shop.example.com/" "curl/8.5.0"',
        '203.0.113.9 - - [25/Nov/2025:00:04:02 +0000] "POST /login HTTP/1.1" 500 1534 "-" "python-requests/2.31.0"',
        '10.0.0.5 - - [25/Nov/2025:00:04:03 +0000] "GET /healthz HTTP/1.1" 200 2 "-" "ELB-HealthChecker/2.0"',
    ]
    write("direct/apache-access.json", direct(envelope("/ecs/frontend/apache-access", "ecs/httpd/5d41402abc4b2a76", apache, T0 + 240_000)))

    control = {"messageType": "CONTROL_MESSAGE", "owner": "CloudwatchLogs", "logGroup": "", "logStream": "",
               "subscriptionFilters": [], "logEvents": [{"id": "", "timestamp": T0,
                                                          "message": "CWL CONTROL MESSAGE: Checking health of destination Kinesis stream."}]}
    write("direct/control-message.json", direct(control))

    policy = envelope("/aws/lambda/inventory-prod", "2025/11/25/[$LATEST]fedcba9876543210fedcba9876543210",
                      [json.dumps({"level": "INFO", "msg": "stock updated", "sku": "SKU-9", "delta": -3})], T0 + 300_000,
                      policyLevel="ACCOUNT_LEVEL_POLICY")
    policy["subscriptionFilters"] = ["org-wide-to-kinesis"]
    write("direct/account-policy.json", direct(policy))

    # Kinesis: an account-level subscription policy feeding a stream; three records.
    krecs = []
    for n, env in enumerate([
        envelope("aws-cloudtrail-logs-123456789012", f"{ACCOUNT}_CloudTrail_eu-west-1", ct[3:6], T0 + 360_000, policyLevel="ACCOUNT_LEVEL_POLICY"),
        envelope("/aws/lambda/payments-prod", "2025/11/25/[$LATEST]0123456789abcdef0123456789abcdef", runtime[:3], T0 + 420_000, policyLevel="ACCOUNT_LEVEL_POLICY"),
        control,
    ]):
        krecs.append({"kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey": f"pk-{n}",
                                  "sequenceNumber": f"4959033827149025660855969253836157109592157598913658{8890 + n}",
                                  "data": b64(gz(env)), "approximateArrivalTimestamp": (T0 + 420_000) / 1000},
                      "eventSource": "aws:kinesis", "eventVersion": "1.0",
                      "eventID": f"shardId-000000000000:4959033827149025660855969253836157109592157598913658{8890 + n}",
                      "eventName": "aws:kinesis:record", "invokeIdentityArn": f"arn:aws:iam::{ACCOUNT}:role/cwlogs-index",
                      "awsRegion": "eu-west-1", "eventSourceARN": f"arn:aws:kinesis:eu-west-1:{ACCOUNT}:stream/cwlogs-fanout"})
    write("kinesis/fanout.json", {"Records": krecs})

    # Firehose data transformation.
    fh = {"invocationId": "4a5b6c7d-0000-1111-2222-333344445555",
          "deliveryStreamArn": f"arn:aws:firehose:eu-west-1:{ACCOUNT}:deliverystream/cwlogs-archive",
          "region": "eu-west-1",
          "records": [
              {"recordId": "49546986683135544286507457936321625675700192471156785154", "approximateArrivalTimestamp": T0 + 480_000,
               "data": b64(gz(envelope("vpc-flow-logs", "eni-0a1b2c3d4e5f60718-all", flows[:2], T0 + 480_000)))},
              {"recordId": "49546986683135544286507457936321625675700192471156785155", "approximateArrivalTimestamp": T0 + 480_000,
               "data": b64(gz(envelope("/ecs/frontend/apache-access", "ecs/httpd/5d41402abc4b2a76", apache[1:3], T0 + 481_000)))},
              {"recordId": "49546986683135544286507457936321625675700192471156785156", "approximateArrivalTimestamp": T0 + 480_000,
               "data": b64(gz(control))},
          ]}
    write("firehose/transform.json", fh)

    http = {"requestId": "ed4acda5-034f-9f42-bba1-f29aea6d7d8f", "timestamp": T0 + 540_000,
            "records": [{"data": b64(gz(envelope("/ecs/checkout-prod", "checkout/app/9f1c2d", app[2:4], T0 + 540_000)))}]}
    write("firehose/http-endpoint.json", http)

    write("raw/apache-access.json.gz", gz(envelope("/ecs/frontend/apache-access", "ecs/httpd/aa11bb22", apache[::-1], T0 + 600_000)))

    # Broken inputs: each must be dead-lettered with a clear error.
    write("broken/not-base64.json", {"awslogs": {"data": "this is not base64!"}})
    write("broken/not-gzip.json", {"awslogs": {"data": b64(b"just some text, not gzip")}})
    good = gz(envelope("/aws/lambda/x", "s", ["hello"], T0))
    write("broken/truncated-gzip.json", {"awslogs": {"data": b64(good[: len(good) // 2])}})
    write("broken/gzip-bomb.json.gz", gzip.compress(b"\0" * (70 << 20), compresslevel=9, mtime=0))
    write("broken/not-json.json", {"awslogs": {"data": b64(gz(b"<html>502 Bad Gateway</html>"))}})
    write("broken/wrong-shape.json", {"detail-type": "Scheduled Event", "source": "aws.events", "detail": {}})
    missing = envelope("/aws/lambda/x", "s", ["hello"], T0)
    del missing["logStream"]
    missing["logEvents"][0]["timestamp"] = "yesterday"
    write("broken/mistyped-fields.json", direct(missing))
    write("broken/empty-log-events.json", direct(envelope("/aws/lambda/empty", "s", [], T0)))
    write("broken/empty.json", b"")
    write("broken/garbage.bin", bytes(range(256)))
    mixed = {"Records": [dict(krecs[0]), {"kinesis": {"sequenceNumber": "49590338271490256608559692538361571095921575989136588999",
                                                       "data": "%%%not-base64%%%", "partitionKey": "pk-x"},
                                          "eventSource": "aws:kinesis", "awsRegion": "eu-west-1"}]}
    write("broken/kinesis-one-bad-record.json", mixed)


if __name__ == "__main__":
    main()
