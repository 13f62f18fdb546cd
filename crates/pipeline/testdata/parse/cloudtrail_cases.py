# Writes cloudtrail.toml: the records of the CloudTrail user guide (log file examples, console
# sign-in events, record contents), compacted as CloudTrail sends them to a log group, with the
# fields issue 18 says each gives, written here from the records (not by the parser).
# python3 cloudtrail_cases.py
import json, pathlib
EX = "https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-log-file-examples.html"
SIGNIN = "https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-aws-console-sign-in-events.html"
CONTENTS = "https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-record-contents.html"
alice = {"type": "IAMUser","principalId": "EX_PRINCIPAL_ID","arn": "arn:aws:iam::123456789012:user/Alice","accessKeyId": "EXAMPLE_KEY_ID","accountId": "123456789012","userName": "Alice"}
cases = []
def case(what, source, rec, fields=None, error=None, raw=None):
    cases.append((what, source, raw if raw is not None else json.dumps(rec, separators=(",", ":")), fields, error))

def ident(u):
    f = {}
    for k, name in [("type","type"),("arn","arn"),("accountId","account_id")]:
        if u.get(k): f["aws.cloudtrail.user_identity."+name] = u[k]
    return f

r = {"eventVersion": "1.0","userIdentity": alice,"eventTime": "2014-03-06T21:22:54Z","eventSource": "ec2.amazonaws.com","eventName": "StartInstances","awsRegion": "us-east-2","sourceIPAddress": "205.251.233.176","userAgent": "ec2-api-tools 1.6.12.2","requestParameters": {"instancesSet": {"items": [{"instanceId": "i-ebeaf9e2"}]}},"responseElements": {"instancesSet": {"items": [{"instanceId": "i-ebeaf9e2","currentState": {"code": 0,"name": "pending"},"previousState": {"code": 80,"name": "stopped"}}]}}}
base = lambda r: {"event.action": r["eventName"], "event.provider": r["eventSource"], "event.outcome": "failure" if ("errorCode" in r or "errorMessage" in r) else "success", **ident(r["userIdentity"]), "user_agent.original": r["userAgent"]}
case("EC2 StartInstances by an IAM user (the record of a log file's Records array, as CloudTrail sends it to a log group)", EX+"#cloudtrail-log-file-examples-ec2", r, {**base(r), "source.ip": "205.251.233.176"})
r2 = dict(r, eventTime="2014-03-06T21:01:59Z", eventName="StopInstances", requestParameters={"instancesSet": {"items": [{"instanceId": "i-ebeaf9e2"}]},"force": False}, responseElements={"instancesSet": {"items": [{"instanceId": "i-ebeaf9e2","currentState": {"code": 64,"name": "stopping"},"previousState": {"code": 16,"name": "running"}}]}})
case("EC2 StopInstances", EX+"#cloudtrail-log-file-examples-ec2", r2, {**base(r2), "source.ip": "205.251.233.176"})
u3 = dict(alice, sessionContext={"attributes": {"mfaAuthenticated": "false","creationDate": "2014-03-06T15:15:06Z"}})
r3 = {"eventVersion": "1.0","userIdentity": u3,"eventTime": "2014-03-06T17:10:34Z","eventSource": "ec2.amazonaws.com","eventName": "CreateKeyPair","awsRegion": "us-east-2","sourceIPAddress": "72.21.198.64","userAgent": "EC2ConsoleBackend, aws-sdk-java/Linux/x.xx.fleetxen Java_HotSpot(TM)_64-Bit_Server_VM/xx","requestParameters": {"keyName": "mykeypair"},"responseElements": {"keyName": "mykeypair","keyFingerprint": "30:1d:46:d0:5b:ad:7e:1b:b6:70:62:8b:ff:38:b5:e9:ab:5d:b8:21","keyMaterial": "\u003csensitiveDataRemoved\u003e"}}
# Keep the page's \u003c escapes: an escaped string in the record.
raw3 = json.dumps(r3, separators=(",", ":")).replace("<sensitiveDataRemoved>", "\\u003csensitiveDataRemoved\\u003e")
case("EC2 CreateKeyPair from the console backend (escaped characters in the record)", EX+"#cloudtrail-log-file-examples-ec2", r3, {**base(r3), "source.ip": "72.21.198.64"}, raw=raw3)
r4 = {"eventVersion": "1.0","userIdentity": alice,"eventTime": "2014-03-24T21:11:59Z","eventSource": "iam.amazonaws.com","eventName": "CreateUser","awsRegion": "us-east-2","sourceIPAddress": "127.0.0.1","userAgent": "aws-cli/1.3.2 Python/2.7.5 Windows/7","requestParameters": {"userName": "Bob"},"responseElements": {"user": {"createDate": "Mar 24, 2014 9:11:59 PM","userName": "Bob","arn": "arn:aws:iam::123456789012:user/Bob","path": "/","userId": "EXAMPLEUSERID"}}}
case("IAM CreateUser", EX+"#cloudtrail-log-file-examples-iam", r4, {**base(r4), "source.ip": "127.0.0.1"})
r5 = {"eventVersion": "1.0","userIdentity": dict(alice, sessionContext={"attributes": {"mfaAuthenticated": "false","creationDate": "2014-03-25T18:45:11Z"}}),"eventTime": "2014-03-25T21:08:14Z","eventSource": "iam.amazonaws.com","eventName": "AddUserToGroup","awsRegion": "us-east-2","sourceIPAddress": "127.0.0.1","userAgent": "AWSConsole","requestParameters": {"userName": "Bob","groupName": "admin"},"responseElements": None}
case("IAM AddUserToGroup from the console", EX+"#cloudtrail-log-file-examples-iam", r5, {**base(r5), "source.ip": "127.0.0.1"})
r6 = {"eventVersion": "1.04","userIdentity": alice,"eventTime": "2016-07-14T19:15:45Z","eventSource": "cloudtrail.amazonaws.com","eventName": "UpdateTrail","awsRegion": "us-east-2","sourceIPAddress": "205.251.233.182","userAgent": "aws-cli/1.10.32 Python/2.7.9 Windows/7 botocore/1.4.22","errorCode": "TrailNotFoundException","errorMessage": "Unknown trail: myTrail2 for the user: 123456789012","requestParameters": {"name": "myTrail2"},"responseElements": None,"requestID": "5d40662a-49f7-11e6-97e4-d9cb6ff7d6a3","eventID": "b7d4398e-b2f0-4faa-9c76-e2d316a8d67f","eventType": "AwsApiCall","recipientAccountId": "123456789012"}
case("error code and message: UpdateTrail of a trail that does not exist", EX+"#error-code-and-error-message", r6, {**base(r6), "source.ip": "205.251.233.182", "aws.cloudtrail.error_code": "TrailNotFoundException", "aws.cloudtrail.error_message": "Unknown trail: myTrail2 for the user: 123456789012"})
anaya = {"type":"IAMUser","principalId":"AIDACKCEVSQ6C2EXAMPLE","arn":"arn:aws:iam::111122223333:user/anaya","accountId":"111122223333","userName":"anaya"}
r7 = {"eventVersion":"1.05","userIdentity":anaya,"eventTime":"2018-08-29T16:24:34Z","eventSource":"signin.amazonaws.com","eventName":"ConsoleLogin","awsRegion":"us-east-2","sourceIPAddress":"192.0.2.0","userAgent":"Mozilla/5.0 (Macintosh; Intel Mac OS X 10.12; rv:62.0) Gecko/20100101 Firefox/62.0","requestParameters":None,"responseElements":{"ConsoleLogin":"Success"},"additionalEventData":{"MobileVersion":"No","LoginTo":"https://console.aws.amazon.com/sns","MFAUsed":"No"},"eventID":"3fcfb182-98f8-4744-bd45-10a395ab61cb","eventType": "AwsConsoleSignin"}
case("console sign-in of an IAM user", SIGNIN, r7, {**base(r7), "source.ip": "192.0.2.0"})
u8 = {"type": "IAMUser","principalId": "AIDACKCEVSQ6C2EXAMPLE","accountId": "111122223333","accessKeyId": "","userName": "anaya"}
r8 = {"eventVersion": "1.05","userIdentity": u8,"eventTime": "2018-07-24T18:32:11Z","eventSource": "signin.amazonaws.com","eventName": "ConsoleLogin","awsRegion": "us-east-1","sourceIPAddress": "192.0.2.0","userAgent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_11_6) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/67.0.3396.99 Safari/537.36","errorMessage": "Failed authentication","requestParameters": None,"responseElements": {"ConsoleLogin": "Failure"},"additionalEventData": {"LoginTo": "https://console.aws.amazon.com/console/home?state=hashArgs%23&isauthcode=true","MobileVersion": "No","MFAUsed": "Yes"},"eventID": "d38ce1b3-4575-4cb8-a632-611b8243bfc3","eventType": "AwsConsoleSignIn","recipientAccountId": "111122223333"}
case("failed console sign-in of an IAM user: errorMessage without errorCode is a failure", SIGNIN, r8, {**base(r8), "source.ip": "192.0.2.0", "aws.cloudtrail.error_message": "Failed authentication"})
root = {"type": "Root","principalId": "AIDACKCEVSQ6C2EXAMPLE","arn": "arn:aws:iam::111122223333:root","accountId": "111122223333","accessKeyId": ""}
r9 = {"eventVersion": "1.05","userIdentity": root,"eventTime": "2018-08-25T18:10:29Z","eventSource": "signin.amazonaws.com","eventName": "ConsoleLogin","awsRegion": "us-east-1","sourceIPAddress": "192.0.2.0","userAgent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_11_6) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/68.0.3440.106 Safari/537.36","errorMessage": "Failed authentication","requestParameters": None,"responseElements": {"ConsoleLogin": "Failure"},"additionalEventData": {"LoginTo": "https://console.aws.amazon.com/console/home?state=hashArgs%23&isauthcode=true","MobileVersion": "No","MFAUsed": "No"},"eventID": "a4fbbe77-91a0-4238-804a-64314184edb6","eventType": "AwsConsoleSignIn","recipientAccountId": "111122223333"}
case("failed console sign-in of the root user", SIGNIN, r9, {**base(r9), "source.ip": "192.0.2.0", "aws.cloudtrail.error_message": "Failed authentication"})
# sourceIPAddress that is no address: AWS Internal, a service's DNS name (record contents page).
r10 = {"eventVersion": "1.08","userIdentity": {"type": "AWSService","invokedBy": "lambda.amazonaws.com"},"eventTime": "2021-07-30T17:23:29Z","eventSource": "sts.amazonaws.com","eventName": "AssumeRole","awsRegion": "us-east-1","sourceIPAddress": "lambda.amazonaws.com","userAgent": "lambda.amazonaws.com","requestParameters": {"roleArn": "arn:aws:iam::111122223333:role/example","roleSessionName": "example"},"responseElements": None,"eventType": "AwsApiCall","recipientAccountId": "111122223333"}
case("a call by a service: sourceIPAddress is the service's name, so source.address (the page: 'for services, the DNS name of the service'; record written from it)", CONTENTS, r10, {**base(r10), "source.address": "lambda.amazonaws.com"})
r11 = {"eventVersion": "1.08","userIdentity": {"type": "Unknown","principalId": "509318101470","arn": "","accountId": "509318101470","accessKeyId": ""},"eventTime": "2021-07-30T17:23:29Z","eventSource": "signin.amazonaws.com","eventName": "CredentialChallenge","awsRegion": "us-east-1","sourceIPAddress": "AWS Internal","userAgent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/91.0.4472.164 Safari/537.36","requestParameters": None,"responseElements": None,"additionalEventData": {"AuthWorkflowID": "6602f256-3b76-4977-96dc-306a7283269e","CredentialType": "SMARTCARD"},"requestID": "65551a6d-654a-4be8-90b5-bbfef7187d3a","eventID": "fb603838-f119-4304-9fdc-c0f947a82116","readOnly": False,"eventType": "AwsServiceEvent","managementEvent": True,"eventCategory": "Management","recipientAccountId": "509318101470","serviceEventDetails": {"CredentialChallenge": "Success"}}
case("sign-in with a smart card: sourceIPAddress AWS Internal goes to source.address; an empty arn is left out", "https://docs.aws.amazon.com/IAM/latest/UserGuide/cloudtrail-integration.html#cloudtrail-integration_signin-smartcard", r11, {**base(r11), "source.address": "AWS Internal"})
r12 = dict(r7, sourceIPAddress="2001:db8:1234:a100:8d6e:3477:df66:f105")
case("console sign-in from an IPv6 address (the IAM user record with an IPv6 sourceIPAddress)", SIGNIN, r12, {**base(r12), "source.ip": "2001:db8:1234:a100:8d6e:3477:df66:f105"})
# Errors: looks like a record (eventVersion and eventSource) and is not one.
E = "cwlogs: records that look like CloudTrail and break it (issue 18)"
case("eventName is a number", E, dict(r, eventName=7), error="cloudtrail: eventName is a number, not a string")
bad = dict(r); del bad["eventName"]
case("eventName is missing", E, bad, error="cloudtrail: eventName is missing")
case("userIdentity is a string", E, dict(r, userIdentity="Alice"), error="cloudtrail: userIdentity is a string, not an object")
case("errorCode is an object", E, dict(r, errorCode={"code": "x"}), error="cloudtrail: errorCode is an object, not a string")

out = ["# CloudTrail records from AWS's documentation (`source`), as CloudTrail sends them to a log",
       "# group (one record per event, compact JSON), each with every field cwlogs must write for it",
       "# (`fields`) or its parse error (`parse_error`). The record's own members also go under",
       "# `json` as for any JSON message (not listed here). Run by src/shape/tests.rs; written by",
       "# cloudtrail_cases.py.", ""]
q = lambda s: json.dumps(s)
for what, source, msg, fields, error in cases:
    out += ["[[case]]", f"what = {q(what)}", f"source = {q(source)}", f"message = {q(msg)}"]
    if error:
        out.append(f"parse_error = {q(error)}")
    else:
        out.append("[case.fields]")
        for k, v in fields.items():
            out.append(f"{q(k)} = {q(v)}")
    out.append("")
open(pathlib.Path(__file__).resolve().parent / "cloudtrail.toml", "w").write("\n".join(out))
print(f"cloudtrail.toml: {len(cases)} cases")
