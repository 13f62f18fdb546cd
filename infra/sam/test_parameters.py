"""Bad input for the SAM template: what CloudFormation would refuse before creating anything.

cfn-lint checks the template itself, not the values a deployment passes, so this checks those:
each parameter's constraints (AllowedPattern, AllowedValues, MinValue / MaxValue, MaxLength)
against values that must pass and values that must fail, the template's Rules against
parameter sets (direct without log groups, direct with three functions, ...), and that the CDK
construct checks its props with the same patterns. Run with the
Python that has cfn-lint (its decoder reads the template's short-form tags):

    .tools/infra-venv/bin/python infra/sam/test_parameters.py

Prints 'N passed, N failed' and exits non-zero on any failure.
"""

import os
import re
import sys

from cfnlint.decode import decode

TEMPLATE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "template.yaml")
MEMBER = os.path.join(os.path.dirname(TEMPLATE), "member.yaml")

# (parameter, values CloudFormation must accept, values it must reject)
CASES = [
    ("Topology", ["direct", "fan-out", "central"], ["both", "Direct", ""]),
    ("CentralOrganizationId", ["", "o-a1b2c3d4e5"], ["o-abc", "O-A1B2C3D4E5", "123456789012"]),
    ("CentralAccountIds", ["", "111122223333,444455556666"], ["1111", "111122223333,abc"]),
    ("LogGroupNames", ["/aws/lambda/app,/ecs/web", "aws-cloudtrail-logs-123_x#1"], ["/a,bad name", "/a,x*"]),
    ("ExcludedLogGroupNames", ["", "/aws/noisy"], ["/a b"]),
    ("SubscriptionFilterPattern", ["", "ERROR", "{ $.level = ERROR }"], ['{ $.level = "ERROR" }', "a\\b", "x" * 1025]),
    ("ArchiveBucketName", ["", "my-log-archive", "logs.example.com"], ["My_Bucket", "ab", "-bucket", "a" * 64]),
    ("ArchivePrefix", ["cwl", "logs/cwl"], ["", "/cwl", "cwl/", "a//b", "a b"]),
    (
        "ArchiveKmsKeyArn",
        ["", "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"],
        ["alias/aws/s3", "arn:aws:kms:eu-west-1:123456789012:alias/mine", "arn:aws:kms:eu-west-1:1234:key/x"],
    ),
    (
        "IndexEndpoint",
        ["", "https://search-logs-abc.eu-west-1.es.amazonaws.com", "http://10.0.0.5:9200", "https://h/prefix"],
        ["search-logs.es.amazonaws.com", "ftp://host", "https://host/?q=1", "https://"],
    ),
    (
        "IndexDomainArn",
        ["", "arn:aws:es:eu-west-1:123456789012:domain/logs"],
        ["arn:aws:es:eu-west-1:123456789012:domain/Logs", "arn:aws:aoss:eu-west-1:123456789012:collection/abc", "logs"],
    ),
    (
        "IndexCollectionArn",
        ["", "arn:aws:aoss:eu-west-1:123456789012:collection/abcdefghij0123456789"],
        ["arn:aws:es:eu-west-1:123456789012:domain/logs", "arn:aws:aoss:eu-west-1:123456789012:collection/A"],
    ),
    ("IndexAuth", ["", "basic", "api-key"], ["sigv4", "Basic", "none"]),
    (
        "IndexSecretArn",
        ["", "arn:aws:secretsmanager:eu-west-1:123456789012:secret:cwlogs/elastic-AbCdEf"],
        ["cwlogs/elastic", "arn:aws:ssm:eu-west-1:123456789012:parameter/x", "arn:aws:secretsmanager:eu-west-1:1234:secret:x"],
    ),
    (
        "IndexSecretKmsKeyArn",
        ["", "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"],
        ["alias/aws/secretsmanager", "arn:aws:kms:eu-west-1:123456789012:alias/x"],
    ),
    ("IndexSubnetIds", ["", "subnet-0123456789abcdef0,subnet-01234567"], ["subnet-xyz", "sg-01234567"]),
    ("IndexSecurityGroupIds", ["", "sg-0123456789abcdef0"], ["subnet-01234567", "sg-1"]),
    ("IndexVpcId", ["", "vpc-0123456789abcdef0"], ["vpc-1", "subnet-01234567"]),
    ("IndexRouteTableIds", ["", "rtb-0123456789abcdef0,rtb-01234567"], ["rtb-x", "vpc-01234567"]),
    ("ReservedConcurrency", ["1", "20", "1000"], ["0", "1001"]),
    ("EnableAlerts", ["true", "false"], ["yes", "True"]),
    (
        "AlertTopicArn",
        ["", "arn:aws:sns:eu-west-1:123456789012:security", "arn:aws:sns:eu-west-1:123456789012:alerts.fifo"],
        ["arn:aws:sqs:eu-west-1:123456789012:q", "security", "arn:aws:sns:eu-west-1:12345:x"],
    ),
    ("AlertScheduleExpression", ["rate(1 minute)", "rate(5 minutes)", "cron(0/5 * * * ? *)"], ["rate(0 minutes)", "every minute", "rate(1 second)"]),
    ("Architecture", ["arm64", "x86_64"], ["aarch64", "amd64"]),
    ("MemorySize", ["128", "512", "10240"], ["64", "10241"]),
    ("Timeout", ["5", "900"], ["1", "901"]),
    ("LogLevel", ["INFO", "DEBUG"], ["info", "VERBOSE"]),
    ("SelfMetrics", ["log_group", "sink", "function", "off"], ["LogGroup", "groups", ""]),
    ("LogRetentionDays", ["30", "3653"], ["0", "31", "forever"]),
    ("StreamMode", ["ON_DEMAND", "PROVISIONED"], ["on-demand"]),
    ("StreamShardCount", ["1", "500"], ["0", "501"]),
    ("StreamRetentionHours", ["24", "8760"], ["23", "8761"]),
    ("BatchSize", ["1", "10000"], ["0", "10001"]),
    ("MaximumBatchingWindowInSeconds", ["0", "300"], ["301"]),
    ("ParallelizationFactor", ["1", "10"], ["0", "11"]),
    ("MaximumRetryAttempts", ["0", "10000"], ["-1", "10001"]),
    ("MaximumRecordAgeInSeconds", ["60", "604800"], ["59", "604801"]),
    ("AlarmTopicArn", ["", "arn:aws:sns:eu-west-1:123456789012:ops"], ["arn:aws:sns:eu-west-1:123456789012:ops.fifo"]),
    ("IteratorAgeAlarmMilliseconds", ["1000", "600000"], ["999"]),
    ("S3SourceBucketName", ["", "trail-logs", "logs.example.com"], ["Trail_Logs", "ab", "a" * 64]),
    (
        "S3SourcePrefixes",
        ["AWSLogs/", "", "AWSLogs/123456789012/CloudTrail/,AWSLogs/123456789012/vpcflowlogs/", "alb/AWSLogs/"],
        ["/AWSLogs/", "AWSLogs/*", "a b", "AWSLogs/,x!"],
    ),
    ("S3SourceNotification", ["eventbridge", "s3"], ["sqs", "EventBridge", ""]),
    (
        "S3SourceKmsKeyArn",
        ["", "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"],
        ["alias/aws/s3", "arn:aws:kms:eu-west-1:123456789012:alias/x"],
    ),
    ("S3SourceBatchSize", ["1", "10", "100"], ["0", "101"]),
    ("EnableBatchOperations", ["true", "false"], ["yes", "True", ""]),
    ("RedriveScheduleExpression", ["", "rate(1 hour)", "rate(15 minutes)", "rate(1 day)", "cron(0 * * * ? *)"], ["rate(0 hours)", "hourly", "rate(1 second)"]),
    ("RedriveMaxAttempts", ["1", "5", "100"], ["0", "101"]),
    ("DeadLetterAgeAlarmSeconds", ["300", "86400", "2592000"], ["299", "2592001"]),
]

DIRECT = {"Topology": "direct", "LogGroupNames": "/aws/lambda/app"}
INDEX = {"IndexEndpoint": "https://search-logs-abc.eu-west-1.es.amazonaws.com"}
DOMAIN = {"IndexDomainArn": "arn:aws:es:eu-west-1:123456789012:domain/logs"}
COLLECTION = {"IndexCollectionArn": "arn:aws:aoss:eu-west-1:123456789012:collection/abcdefghij0123456789"}

FANOUT = {"Topology": "fan-out"}
ORG = {"CentralOrganizationId": "o-a1b2c3d4e5"}
ACCOUNTS = {"CentralAccountIds": "111122223333,444455556666"}
SECRET = {"IndexSecretArn": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:cwlogs/elastic-AbCdEf"}
KEY = {"IndexSecretKmsKeyArn": "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"}
SUBNETS = {"IndexSubnetIds": "subnet-0123456789abcdef0,subnet-01234567"}
GROUPS = {"IndexSecurityGroupIds": "sg-0123456789abcdef0"}
ENDPOINTS = {"IndexVpcId": "vpc-0123456789abcdef0", "IndexRouteTableIds": "rtb-0123456789abcdef0"}
S3SOURCE = {"S3SourceBucketName": "trail-logs", "S3SourcePrefixes": "AWSLogs/123456789012/CloudTrail/,AWSLogs/123456789012/vpcflowlogs/"}
S3KEY = {"S3SourceKmsKeyArn": "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"}

# (parameter overrides, the rules that must fail: empty for a valid set)
RULE_CASES = [
    (DIRECT, []),
    ({**DIRECT, **INDEX, "EnableAlerts": "false"}, []),
    ({"Topology": "fan-out", **INDEX, **DOMAIN}, []),
    ({"Topology": "fan-out", **INDEX, **COLLECTION}, []),
    ({"Topology": "direct"}, ["DirectNeedsLogGroups"]),
    ({"Topology": "direct", "LogGroupNames": "/a,,/b"}, ["DirectNeedsLogGroups"]),
    ({**DIRECT, **INDEX}, ["DirectAtMostTwoFilters"]),
    ({"Topology": "fan-out", **INDEX, **DOMAIN, **COLLECTION}, ["OneIndexTarget"]),
    ({"Topology": "fan-out", **DOMAIN}, ["IndexArnNeedsEndpoint"]),
    ({"Topology": "central", **ORG}, []),
    ({"Topology": "central", **ACCOUNTS, **INDEX, **DOMAIN}, []),
    ({"Topology": "central"}, ["CentralNeedsMembers"]),
    ({"Topology": "central", "CentralAccountIds": "111122223333,,444455556666"}, ["CentralNeedsMembers"]),
    ({"Topology": "central", **ORG, **ACCOUNTS}, ["CentralNeedsMembers"]),
    ({**FANOUT, **ORG}, ["CentralSettingsNeedCentral"]),
    ({**DIRECT, **ACCOUNTS}, ["CentralSettingsNeedCentral"]),
    ({**FANOUT, **INDEX, **SECRET, "IndexAuth": "basic"}, []),
    ({**FANOUT, **INDEX, **SECRET, **KEY, "IndexAuth": "api-key"}, []),
    ({**FANOUT, **INDEX, **SECRET}, ["IndexSecretNeedsAuth"]),
    ({**FANOUT, **SECRET, "IndexAuth": "basic"}, ["IndexSecretNeedsAuth"]),
    ({**FANOUT, **INDEX, "IndexAuth": "basic"}, ["IndexAuthNeedsSecret"]),
    ({**FANOUT, **INDEX, **KEY}, ["IndexSecretKeyNeedsSecret"]),
    ({**FANOUT, **INDEX, **SUBNETS, **GROUPS}, []),
    ({**FANOUT, **INDEX, **SUBNETS, **GROUPS, **ENDPOINTS}, []),
    ({**FANOUT, **INDEX, **SUBNETS}, ["IndexVpcNeedsBoth"]),
    ({**FANOUT, **INDEX, **GROUPS}, ["IndexVpcNeedsBoth"]),
    ({**FANOUT, **SUBNETS, **GROUPS}, ["IndexVpcNeedsIndex"]),
    ({**FANOUT, **INDEX, **SUBNETS, **GROUPS, "IndexVpcId": "vpc-0123456789abcdef0"}, ["GatewayEndpointsNeedVpc"]),
    ({**FANOUT, **INDEX, **ENDPOINTS}, ["GatewayEndpointsNeedVpc"]),
    ({**FANOUT, **INDEX, **S3SOURCE}, []),
    ({**FANOUT, **INDEX, **S3SOURCE, **S3KEY, "S3SourceNotification": "s3", "EnableBatchOperations": "true"}, []),
    ({**FANOUT, **S3SOURCE}, ["S3SourceNeedsIndex"]),
    ({**FANOUT, **INDEX, **S3KEY}, ["S3SourceSettingsNeedBucket"]),
    ({**FANOUT, "EnableBatchOperations": "true"}, ["BatchOperationsNeedIndex"]),
]

# member.yaml, the template StackSets deploy to member accounts.
MEMBER_CASES = [
    (
        "DestinationArn",
        ["arn:aws:logs:eu-west-1:123456789012:destination:cwlogs-central"],
        ["", "arn:aws:kinesis:eu-west-1:123456789012:stream/x", "arn:aws:logs:eu-west-1:1234:destination:x", "arn:aws:logs:eu-west-1:123456789012:destination:a*b"],
    ),
    ("Scope", ["account", "log-groups"], ["all", "Account"]),
    ("LogGroupNames", ["", "/aws/lambda/app,/ecs/web"], ["/a b", "/a,x*"]),
    ("ExcludedLogGroupNames", ["", "/aws/noisy,/ecs/debug"], ["/a b"]),
    ("FilterPattern", ["", "ERROR", "{ $.level = ERROR }"], ['{ $.level = "ERROR" }', "a\\b", "x" * 1025]),
]
MEMBER_DESTINATION = {"DestinationArn": "arn:aws:logs:eu-west-1:123456789012:destination:cwlogs-central"}
MEMBER_RULE_CASES = [
    (MEMBER_DESTINATION, []),
    ({**MEMBER_DESTINATION, "ExcludedLogGroupNames": "/aws/noisy"}, []),
    ({**MEMBER_DESTINATION, "Scope": "log-groups", "LogGroupNames": "/aws/lambda/app,/ecs/web"}, []),
    ({**MEMBER_DESTINATION, "Scope": "log-groups"}, ["LogGroupsNeedNames"]),
    ({**MEMBER_DESTINATION, "Scope": "log-groups", "LogGroupNames": "/a,,/b"}, ["LogGroupsNeedNames"]),
    ({**MEMBER_DESTINATION, "LogGroupNames": "/aws/lambda/app"}, ["NamesNeedLogGroups"]),
]


# The CDK construct checks the same values with the same patterns (infra/cdk/lib/validate.ts):
# its constant for each parameter, which the SAM pattern allows with an empty alternative.
CDK_PATTERNS = {
    "LOG_GROUP_NAME": "LogGroupNames",
    "BUCKET_NAME": "ArchiveBucketName",
    "KEY_PREFIX": "ArchivePrefix",
    "KMS_KEY_ARN": "ArchiveKmsKeyArn",
    "ENDPOINT_URL": "IndexEndpoint",
    "DOMAIN_ARN": "IndexDomainArn",
    "COLLECTION_ARN": "IndexCollectionArn",
    "TOPIC_ARN": "AlertTopicArn",
    "SECRET_ARN": "IndexSecretArn",
    "SUBNET_ID": "IndexSubnetIds",
    "SECURITY_GROUP_ID": "IndexSecurityGroupIds",
    "VPC_ID": "IndexVpcId",
    "ROUTE_TABLE_ID": "IndexRouteTableIds",
    "ORGANIZATION_ID": "CentralOrganizationId",
    "ACCOUNT_ID": "CentralAccountIds",
    "SOURCE_PREFIX": "S3SourcePrefixes",
}
# And the member stack's (infra/cdk/lib/member.ts) against member.yaml.
CDK_MEMBER_PATTERNS = {"DESTINATION_ARN": "DestinationArn"}
CDK_VALIDATE = os.path.join(os.path.dirname(TEMPLATE), "..", "cdk", "lib", "validate.ts")


def cdk_patterns():
    """The regex literals `export const NAME = /.../;` of validate.ts, unescaped to plain regexes."""
    with open(CDK_VALIDATE, encoding="utf-8") as f:
        text = f.read()
    return {
        name: body.replace("\\/", "/")
        for name, body in re.findall(r"^export const ([A-Z_]+) = /(.*)/;$", text, re.MULTILINE)
    }


def constraint_errors(spec, value):
    """Why CloudFormation would refuse `value` for a parameter declared as `spec`, if it would."""
    kind = spec.get("Type", "String")
    items = value.split(",") if kind == "CommaDelimitedList" else [value]
    errors = []
    for item in items:
        if "AllowedValues" in spec and item not in [str(v) for v in spec["AllowedValues"]]:
            errors.append(f"{item!r} not in AllowedValues")
        if "AllowedPattern" in spec and not re.fullmatch(spec["AllowedPattern"], item):
            errors.append(f"{item!r} does not match AllowedPattern")
        if "MaxLength" in spec and len(item) > int(spec["MaxLength"]):
            errors.append(f"{item!r} longer than MaxLength")
        if kind == "Number":
            try:
                n = float(item)
            except ValueError:
                errors.append(f"{item!r} is not a number")
                continue
            if "MinValue" in spec and n < float(spec["MinValue"]):
                errors.append(f"{item!r} below MinValue")
            if "MaxValue" in spec and n > float(spec["MaxValue"]):
                errors.append(f"{item!r} above MaxValue")
    return errors


def evaluate(expr, params):
    """The value of a Rules expression (the functions the template's Rules use)."""
    if isinstance(expr, dict) and len(expr) == 1:
        (fn, arg), = expr.items()
        if fn == "Ref":
            return params[arg]
        if fn == "Fn::Equals":
            return evaluate(arg[0], params) == evaluate(arg[1], params)
        if fn == "Fn::Not":
            return not evaluate(arg[0], params)
        if fn == "Fn::And":
            return all(evaluate(a, params) for a in arg)
        if fn == "Fn::Or":
            return any(evaluate(a, params) for a in arg)
        if fn == "Fn::Contains":
            return evaluate(arg[1], params) in evaluate(arg[0], params)
        raise ValueError(f"unsupported rule function {fn}")
    return expr


def failing_rules(template, overrides):
    params = {}
    for name, spec in template["Parameters"].items():
        value = str(overrides.get(name, spec.get("Default", "")))
        params[name] = value.split(",") if spec.get("Type") == "CommaDelimitedList" else value
    failing = []
    for name, rule in template.get("Rules", {}).items():
        if "RuleCondition" in rule and not evaluate(rule["RuleCondition"], params):
            continue
        if not all(evaluate(a["Assert"], params) for a in rule["Assertions"]):
            failing.append(name)
    return sorted(failing)


def main():
    template, matches = decode(TEMPLATE)
    member, member_matches = decode(MEMBER)
    if matches or member_matches:
        print("\n".join(str(m) for m in matches + member_matches))
        return 1
    passed = failed = 0

    def check(ok, what):
        nonlocal passed, failed
        if ok:
            passed += 1
        else:
            failed += 1
            print(f"FAIL {what}")

    cdk = cdk_patterns()
    for tpl, file, cases, rule_cases, patterns in [
        (template, "template.yaml", CASES, RULE_CASES, CDK_PATTERNS),
        (member, "member.yaml", MEMBER_CASES, MEMBER_RULE_CASES, CDK_MEMBER_PATTERNS),
    ]:
        parameters = tpl["Parameters"]
        for name, good, bad in cases:
            spec = parameters[name]
            for v in good:
                errors = constraint_errors(spec, v)
                check(not errors, f"{file} {name}={v!r} should be accepted: {errors}")
            for v in bad:
                check(bool(constraint_errors(spec, v)), f"{file} {name}={v!r} should be rejected")
            if "Default" in spec:
                check(not constraint_errors(spec, str(spec["Default"])), f"{file} {name}: the default must be accepted")
        untested = set(parameters) - {c[0] for c in cases}
        check(not untested, f"{file}: parameters without cases: {sorted(untested)}")

        for const, name in patterns.items():
            sam = parameters[name]["AllowedPattern"]
            sam = sam[len("^$|"):] if sam.startswith("^$|") else sam
            check(cdk.get(const) == sam, f"CDK {const} {cdk.get(const)!r} differs from SAM {file} {name} {sam!r}")

        for overrides, expected in rule_cases:
            got = failing_rules(tpl, overrides)
            check(got == sorted(expected), f"{file} rules for {overrides}: expected {expected} to fail, got {got}")

    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
