# Writes crates/pipeline/testdata/parse/vpc-flow.toml from AWS's documented records, with the
# expected fields computed here independently of the Rust parser (a second implementation of
# the contract of issue 18).
# python3 vpc_flow_cases.py
import datetime, ipaddress, json, pathlib

SRC = "https://docs.aws.amazon.com/vpc/latest/userguide/flow-logs-records-examples.html"
DEFAULT = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status".split()
TRANSPORT = {0:"hopopt",1:"icmp",2:"igmp",6:"tcp",17:"udp",41:"ipv6",47:"gre",50:"esp",51:"ah",58:"ipv6-icmp",132:"sctp"}
INT = {"version", "tcp-flags", "traffic-path"}
IPS = {"pkt-srcaddr", "pkt-dstaddr"}

def rfc(secs):
    return datetime.datetime.fromtimestamp(int(secs), datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")

def expect(fmt, line):
    vals = line.split()
    assert len(vals) == len(fmt), (fmt, line)
    f = {}
    for name, v in zip(fmt, vals):
        if v == "-":
            continue
        if name == "srcaddr": ipaddress.ip_address(v); f["source.ip"] = v
        elif name == "dstaddr": ipaddress.ip_address(v); f["destination.ip"] = v
        elif name == "srcport": f["source.port"] = int(v)
        elif name == "dstport": f["destination.port"] = int(v)
        elif name == "protocol":
            f["network.iana_number"] = str(int(v))
            if int(v) in TRANSPORT: f["network.transport"] = TRANSPORT[int(v)]
        elif name == "packets": f["source.packets"] = int(v)
        elif name == "bytes": f["source.bytes"] = int(v)
        elif name == "start": f["event.start"] = rfc(v)
        elif name == "end": f["event.end"] = rfc(v)
        elif name in INT: f["aws.vpcflow." + name.replace("-", "_")] = int(v)
        elif name in IPS: ipaddress.ip_address(v); f["aws.vpcflow." + name.replace("-", "_")] = v
        else: f["aws.vpcflow." + name.replace("-", "_")] = v
    return f

def q(s): return json.dumps(s)

cases = []
def case(what, anchor, line, fmt=None, fields=None, error=None, source=None):
    cases.append(dict(what=what, source=source or f"{SRC}#{anchor}", line=line, fmt=fmt, fields=fields, error=error))

A = "flow-log-example-accepted-rejected"
case("SSH traffic accepted (default format)", A, "2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK")
case("RDP traffic rejected (default format)", A, "2 123456789010 eni-1235b8ca123456789 172.31.9.69 172.31.9.12 49761 3389 6 20 4249 1418530010 1418530070 REJECT OK")
N = "flow-log-example-no-data"
case("no data in the aggregation interval: NODATA, only what it has", N, "2 123456789010 eni-1235b8ca123456789 - - - - - - - 1431280876 1431280934 - NODATA")
case("records skipped: SKIPDATA", N, "2 123456789010 eni-11111111aaaaaaaaa - - - - - - - 1431280876 1431280934 - SKIPDATA")
S = "flow-log-example-security-groups"
case("ICMP ping accepted", S, "2 123456789010 eni-1235b8ca123456789 203.0.113.12 172.31.16.139 0 0 1 4 336 1432917027 1432917142 ACCEPT OK")
case("ICMP response rejected by the network ACL", S, "2 123456789010 eni-1235b8ca123456789 172.31.16.139 203.0.113.12 0 0 1 4 336 1432917094 1432917142 REJECT OK")
case("IPv6 SSH traffic", "flow-log-example-ipv6", "2 123456789010 eni-1235b8ca123456789 2001:db8:1234:a100:8d6e:3477:df66:f105 2001:db8:1234:a102:3304:8879:34cf:4071 34892 22 6 54 8855 1477913708 1477913820 ACCEPT OK")

TCP = "version vpc-id subnet-id instance-id interface-id account-id type srcaddr dstaddr srcport dstport pkt-srcaddr pkt-dstaddr protocol bytes packets start end action tcp-flags log-status".split()
T = "flow-log-example-tcp-flag"
for what, line in [
    ("TCP flags: SYN from the client (2)", "3 vpc-abcdefab012345678 subnet-aaaaaaaa012345678 i-01234567890123456 eni-1235b8ca123456789 123456789010 IPv4 52.213.180.42 10.0.0.62 43416 5001 52.213.180.42 10.0.0.62 6 568 8 1566848875 1566848933 ACCEPT 2 OK"),
    ("TCP flags: SYN-ACK from the server (18)", "3 vpc-abcdefab012345678 subnet-aaaaaaaa012345678 i-01234567890123456 eni-1235b8ca123456789 123456789010 IPv4 10.0.0.62 52.213.180.42 5001 43416 10.0.0.62 52.213.180.42 6 376 7 1566848875 1566848933 ACCEPT 18 OK"),
    ("TCP flags: FIN (1)", "3 vpc-abcdefab012345678 subnet-aaaaaaaa012345678 i-01234567890123456 eni-1235b8ca123456789 123456789010 IPv4 52.213.180.42 10.0.0.62 43418 5001 52.213.180.42 10.0.0.62 6 23294588 15774 1566848933 1566849113 ACCEPT 1 OK"),
    ("TCP flags: SYN and FIN in one interval (3)", "3 vpc-abcdefab012345678 subnet-aaaaaaaa012345678 i-01234567890123456 eni-1235b8ca123456789 123456789010 IPv4 52.213.180.42 10.0.0.62 43638 5001 52.213.180.42 10.0.0.62 6 1260 17 1566933133 1566933193 ACCEPT 3 OK"),
    ("TCP flags: SYN-ACK and FIN (19); the page has two spaces between two fields", "3 vpc-abcdefab012345678 subnet-aaaaaaaa012345678 i-01234567890123456 eni-1235b8ca123456789 123456789010 IPv4 10.0.0.62 52.213.180.42 5001 43638  10.0.0.62 52.213.180.42 6 967 14 1566933133 1566933193 ACCEPT 19 OK"),
]:
    case(what, T, line, fmt=TCP)

NAT = "instance-id interface-id srcaddr dstaddr pkt-srcaddr pkt-dstaddr".split()
NA = "flow-log-example-nat"
for what, line in [
    ("NAT gateway interface: instance to the gateway (no version field, instance-id -)", "- eni-1235b8ca123456789 10.0.1.5 10.0.0.220 10.0.1.5 203.0.113.5"),
    ("NAT gateway interface: gateway to the internet host", "- eni-1235b8ca123456789 10.0.0.220 203.0.113.5 10.0.0.220 203.0.113.5"),
    ("NAT gateway interface: response to the instance", "- eni-1235b8ca123456789 10.0.0.220 10.0.1.5 203.0.113.5 10.0.1.5"),
    ("the instance's own interface", "i-01234567890123456 eni-1111aaaa2222bbbb3 10.0.1.5 203.0.113.5 10.0.1.5 203.0.113.5"),
]:
    case(what, NA, line, fmt=NAT)

TGW = "version interface-id account-id vpc-id subnet-id instance-id srcaddr dstaddr srcport dstport protocol tcp-flags type pkt-srcaddr pkt-dstaddr action log-status".split()
TG = "flow-log-example-tgw"
for what, line in [
    ("transit gateway: request on the web server's interface", "3 eni-33333333333333333 123456789010 vpc-abcdefab012345678 subnet-22222222bbbbbbbbb i-01234567890123456 10.20.33.164 10.40.2.236 39812 80 6 3 IPv4 10.20.33.164 10.40.2.236 ACCEPT OK"),
    ("transit gateway: response on the web server's interface", "3 eni-33333333333333333 123456789010 vpc-abcdefab012345678 subnet-22222222bbbbbbbbb i-01234567890123456 10.40.2.236 10.20.33.164 80 39812 6 19 IPv4 10.40.2.236 10.20.33.164 ACCEPT OK"),
    ("transit gateway: requester-managed interface (instance-id -)", "3 eni-11111111111111111 123456789010 vpc-abcdefab012345678 subnet-11111111aaaaaaaaa - 10.40.1.175 10.40.2.236 39812 80 6 3 IPv4 10.20.33.164 10.40.2.236 ACCEPT OK"),
    ("transit gateway: response on the other requester-managed interface", "3 eni-22222222222222222 123456789010 vpc-abcdefab012345678 subnet-22222222bbbbbbbbb - 10.40.2.236 10.40.2.31 80 39812 6 19 IPv4 10.40.2.236 10.20.33.164 ACCEPT OK"),
]:
    case(what, TG, line, fmt=TGW)

V5 = "version srcaddr dstaddr srcport dstport protocol start end type packets bytes account-id vpc-id subnet-id instance-id interface-id region az-id sublocation-type sublocation-id action tcp-flags pkt-srcaddr pkt-dstaddr pkt-src-aws-service pkt-dst-aws-service traffic-path flow-direction log-status".split()
P = "flow-log-example-traffic-path"
case("version 5: ingress from S3 (service name, flow direction)", P, "5 52.95.128.179 10.0.0.71 80 34210 6 1616729292 1616729349 IPv4 14 15044 123456789012 vpc-abcdefab012345678 subnet-aaaaaaaa012345678 i-0c50d5961bcb2d47b eni-1235b8ca123456789 ap-southeast-2 apse2-az3 - - ACCEPT 19 52.95.128.179 10.0.0.71 S3 - - ingress OK", fmt=V5)
case("version 5: egress to S3 through an internet gateway (traffic-path 8)", P, "5 10.0.0.71 52.95.128.179 34210 80 6 1616729292 1616729349 IPv4 7 471 123456789012 vpc-abcdefab012345678 subnet-aaaaaaaa012345678 i-0c50d5961bcb2d47b eni-1235b8ca123456789 ap-southeast-2 apse2-az3 - - ACCEPT 3 10.0.0.71 52.95.128.179 - S3 8 egress OK", fmt=V5)

FIELDS_SRC = "https://docs.aws.amazon.com/vpc/latest/userguide/flow-log-records.html#flow-logs-fields"
ALL = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status vpc-id subnet-id instance-id tcp-flags type pkt-srcaddr pkt-dstaddr region az-id sublocation-type sublocation-id pkt-src-aws-service pkt-dst-aws-service flow-direction traffic-path ecs-cluster-arn ecs-cluster-name ecs-container-instance-arn ecs-container-instance-id ecs-container-id ecs-second-container-id ecs-service-name ecs-task-definition-arn ecs-task-arn ecs-task-id reject-reason".split()
case("every field of versions 2 to 8 (a record written by hand from the field table: ECS task traffic, a wavelength sublocation, BPA reject reason)", None,
     "8 123456789012 eni-0123456789abcdef0 10.0.1.10 198.51.100.7 49152 443 17 3 1024 1700000000 1700000060 REJECT OK vpc-0123456789abcdef0 subnet-0123456789abcdef0 i-0123456789abcdef0 0 IPv4 10.0.1.10 198.51.100.7 us-east-1 - wavelength us-east-1-wl1-bos-wlz-1 - AMAZON egress 2 arn:aws:ecs:us-east-1:123456789012:cluster/web web arn:aws:ecs:us-east-1:123456789012:container-instance/web/0123456789abcdef 0123456789abcdef 1d2c3b4a5f6e 6e5f4a3b2c1d api arn:aws:ecs:us-east-1:123456789012:task-definition/api:7 arn:aws:ecs:us-east-1:123456789012:task/web/0123456789abcdef 0123456789abcdef BPA",
     fmt=ALL, source=FIELDS_SRC)

# Records that look like a format and do not parse: an error, no typed field.
E = "cwlogs: records that look like the default format and break it (issue 18)"
for what, line, err in [
    ("a port past 65535", "2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 70000 6 20 4249 1418530010 1418530070 ACCEPT OK", "vpc-flow: field 7 (dstport) is not a port"),
    ("an address that is no IP address", "2 123456789010 eni-1235b8ca123456789 172.31.16.300 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK", "vpc-flow: field 4 (srcaddr) is not an IP address"),
    ("a count past 64 bits", "2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 18446744073709551616 4249 1418530010 1418530070 ACCEPT OK", "vpc-flow: field 9 (packets) is not a count"),
    ("a negative count", "2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 -5 4249 1418530010 1418530070 ACCEPT OK", "vpc-flow: field 9 (packets) is not a count"),
    ("a protocol number past 255", "2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 256 20 4249 1418530010 1418530070 ACCEPT OK", "vpc-flow: field 8 (protocol) is not a protocol number"),
    ("a time past year 9999", "2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 253402300800 1418530070 ACCEPT OK", "vpc-flow: field 11 (start) is not a time"),
    ("an unknown action", "2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 DROP OK", "vpc-flow: field 13 (action) is not ACCEPT or REJECT"),
    ("an unknown log status", "2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT MAYBE", "vpc-flow: field 14 (log-status) is not OK, NODATA or SKIPDATA"),
    ("a field missing", "2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT", "vpc-flow: 13 fields; the format has 14"),
    ("a field too many", "2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK extra", "vpc-flow: 15 fields; the format has 14"),
]:
    case(what, None, line, error=err, source=E)
case("a custom format where dstport is field 6 (the error text of issue 18)", None, "5 10.0.0.71 52.95.128.179 34210 6 http", fmt="version srcaddr dstaddr srcport protocol dstport".split(), error="vpc-flow: field 6 (dstport) is not a port", source=E)

out = ["# VPC flow log records from AWS's documentation (`source`), each with every field cwlogs",
       "# must write for it (`fields`: dotted names, exact JSON types) or the parse error it must",
       "# give (`parse_error`, and then no typed field). `format` is the custom LogFormat of the",
       "# flow log that wrote the record (the default format without it). Run by",
       "# src/shape/tests.rs. Written by vpc_flow_cases.py from the records and the field table of",
       "# issue 18, independently of the parser.",
       ""]
for c in cases:
    out.append("[[case]]")
    out.append(f"what = {q(c['what'])}")
    out.append(f"source = {q(c['source'])}")
    if c["fmt"]:
        out.append("format = " + q(" ".join("${" + f + "}" for f in c["fmt"])))
    out.append(f"message = {q(c['line'])}")
    if c["error"]:
        out.append(f"parse_error = {q(c['error'])}")
    else:
        fields = expect(c["fmt"] or DEFAULT, c["line"])
        out.append("[case.fields]")
        for k, v in fields.items():
            out.append(f"{q(k)} = {q(v)}")
    out.append("")
open(pathlib.Path(__file__).resolve().parent / "vpc-flow.toml", "w").write("\n".join(out))
print(f"vpc-flow.toml: {len(cases)} cases")
