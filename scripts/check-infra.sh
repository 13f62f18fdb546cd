#!/usr/bin/env bash
# Checks the deployment (infra/, issues 8 and 23) without an AWS account: the SAM templates
# (the stack, and member.yaml for the member accounts of topology central) with cfn-lint and their
# parameter constraints and Rules against good and bad values; the configuration the stack ships
# with `cwlogs check-config`; the CDK construct's unit tests; `cdk synth` of every topology
# (direct, fan-out, central with the index in a VPC reading a secret) and of the member stack,
# with bundling skipped (the functions are not compiled: scripts/test.sh builds them with cargo
# lambda in its next stage); cfn-lint on what it synthesized; and checkov (the security review)
# on the SAM templates and the synthesized ones: every finding either fixed or skipped in the
# template with its reason.
#
# It installs what it needs, pinned, into ignored folders: cfn-lint into .tools/infra-venv,
# checkov into .tools/checkov-venv (apart: their dependencies do not agree), the CDK packages
# into infra/cdk/node_modules (`npm ci` from the committed lock). Needs Node 20+ and Python 3.
# scripts/test.sh runs it; it runs alone too.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

step() { printf '\n--> %s [%ds]\n' "$*" "$SECONDS"; }

CFN_LINT_PIN="cfn-lint==1.58.0"
CHECKOV_PIN="checkov==3.3.30"
VENV=$ROOT/.tools/infra-venv
CHECKOV_VENV=$ROOT/.tools/checkov-venv
CDK=$ROOT/infra/cdk
# Synthesized assemblies: a directory per run, so that two runs in one work tree do not meet.
OUT=$(mktemp -d "${TMPDIR:-/tmp}/cwlogs-infra.XXXXXX")
trap 'rm -rf "$OUT"' EXIT

# cfn-lint in a venv of its own (it pulls sympy and networkx, which nothing else needs); the
# stamp makes a warm run offline, as in test.sh's setup_venv.
setup_cfn_lint() {
  local stamp=$VENV/.cwlogs-pins
  if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c '' 2>/dev/null &&
    [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$CFN_LINT_PIN" ]; then
    return
  fi
  step "cfn-lint into .tools/infra-venv ($CFN_LINT_PIN)"
  if ! { [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c '' 2>/dev/null; }; then
    rm -rf "$VENV"
    python3 -m venv "$VENV"
  fi
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check "$CFN_LINT_PIN"
  printf '%s\n' "$CFN_LINT_PIN" >"$stamp"
}

# checkov in a venv of its own, with the same stamp.
setup_checkov() {
  local stamp=$CHECKOV_VENV/.cwlogs-pins
  if [ -x "$CHECKOV_VENV/bin/python" ] && "$CHECKOV_VENV/bin/python" -c '' 2>/dev/null &&
    [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$CHECKOV_PIN" ]; then
    return
  fi
  step "checkov into .tools/checkov-venv ($CHECKOV_PIN)"
  if ! { [ -x "$CHECKOV_VENV/bin/python" ] && "$CHECKOV_VENV/bin/python" -c '' 2>/dev/null; }; then
    rm -rf "$CHECKOV_VENV"
    python3 -m venv "$CHECKOV_VENV"
  fi
  "$CHECKOV_VENV/bin/python" -m pip install -q --disable-pip-version-check "$CHECKOV_PIN"
  printf '%s\n' "$CHECKOV_PIN" >"$stamp"
}

# checkov on CloudFormation templates, offline (--skip-download: no policy metadata fetched).
# A failed check fails the run; the template must fix it or skip it with its reason
# (Metadata.checkov.skip).
checkov_scan() {
  "$CHECKOV_VENV/bin/checkov" --framework cloudformation --skip-download --compact --quiet \
    --output cli "$@" 2> >(grep -v -e 'enriched resources' >&2)
}

# The CDK packages exactly as locked; skipped when node_modules was installed from this lock.
setup_node() {
  command -v node >/dev/null && command -v npm >/dev/null || {
    echo "error: node and npm (Node 20+) are needed for the CDK checks" >&2
    exit 1
  }
  local stamp=$CDK/node_modules/.cwlogs-lock want
  want="$(node --version) $(sha256sum "$CDK/package-lock.json" | cut -d' ' -f1)"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    return
  fi
  step "npm ci (infra/cdk, $(node --version))"
  (cd "$CDK" && npm ci --no-audit --no-fund --loglevel=error)
  printf '%s\n' "$want" >"$stamp"
}

setup_cfn_lint
setup_checkov
setup_node

step "cfn-lint infra/sam/template.yaml infra/sam/member.yaml"
"$VENV/bin/cfn-lint" infra/sam/template.yaml infra/sam/member.yaml
echo "no findings"

step "SAM parameters: constraints and rules against good and bad values"
"$VENV/bin/python" infra/sam/test_parameters.py

step "cwlogs check-config infra/sam/config/cwlogs.toml (the configuration the stack ships)"
# scripts/test.sh passes the CLI it already built; alone, this builds it.
if [ -n "${CWLOGS_BIN:-}" ] && [ -x "$CWLOGS_BIN" ]; then
  "$CWLOGS_BIN" check-config infra/sam/config/cwlogs.toml
else
  cargo run --locked -q -p cwlogs -- check-config infra/sam/config/cwlogs.toml
fi

step "CDK: compile and type-check (tsc), unit tests (jest)"
(cd "$CDK" && npx tsc && npx jest --ci)

# The app as compiled above (cdk.json's app command would compile it again). The CLI runs with
# no AWS credentials, no instance metadata lookups, no telemetry, no version check and no
# notices: nothing leaves the machine. The stack is environment-agnostic, so no account is
# needed to synthesize it.
cdk_synth() {
  local name=$1 stack=${STACK:-Cwlogs}
  shift
  (cd "$CDK" && env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_SESSION_TOKEN \
    -u AWS_PROFILE -u AWS_DEFAULT_PROFILE -u AWS_ENDPOINT_URL \
    AWS_EC2_METADATA_DISABLED=true CDK_DISABLE_CLI_TELEMETRY=true CDK_DISABLE_VERSION_CHECK=true \
    npx cdk synth --app "node dist/bin/cwlogs.js" --no-notices --quiet -c skipBundling=true "$@" \
    -o "$OUT/cdk.out-$name")
  node -e 'const t = require(process.argv[1]); const n = {};
    for (const r of Object.values(t.Resources)) n[r.Type] = (n[r.Type] || 0) + 1;
    console.log(Object.keys(t.Resources).length + " resources: " +
      Object.entries(n).map(([k, v]) => `${k.replace("AWS::", "")} ${v}`).join(", "));' \
    "$OUT/cdk.out-$name/$stack.template.json"
}

step "cdk synth: direct (archive + alert on two log groups), bundling skipped"
cdk_synth direct -c topology=direct -c logGroupNames=/aws/lambda/app,/ecs/web

step "cdk synth: fan-out (archive + index + alert, account policy, Kinesis; the index reading a bucket of AWS logs, Batch Operations role, dead-letter re-drive), bundling skipped"
cdk_synth fan-out -c topology=fan-out \
  -c indexEndpoint=https://search-logs-abc.eu-west-1.es.amazonaws.com \
  -c indexDomainArn=arn:aws:es:eu-west-1:123456789012:domain/logs \
  -c s3SourceBucketName=trail-logs -c s3SourcePrefixes=AWSLogs/123456789012/CloudTrail/,AWSLogs/123456789012/vpcflowlogs/ \
  -c enableBatchOperations=true

step "cdk synth: central (Organization destination; index in a VPC, credentials from a secret), bundling skipped"
cdk_synth central -c topology=central -c centralOrganizationId=o-a1b2c3d4e5 \
  -c indexEndpoint=https://logs.es.example.com:9243 -c indexAuth=basic \
  -c indexSecretArn=arn:aws:secretsmanager:eu-west-1:123456789012:secret:cwlogs/elastic-AbCdEf \
  -c indexSecretKmsKeyArn=arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab \
  -c indexSubnetIds=subnet-0123456789abcdef0,subnet-0123456789abcdef1 \
  -c indexSecurityGroupIds=sg-0123456789abcdef0 -c indexVpcId=vpc-0123456789abcdef0 \
  -c indexRouteTableIds=rtb-0123456789abcdef0

step "cdk synth: the member-account stack (account-level subscription to the central destination)"
STACK=CwlogsMember cdk_synth member -c stack=member \
  -c destinationArn=arn:aws:logs:eu-west-1:123456789012:destination:cwlogs-cwlogs

SYNTHESIZED=(
  "$OUT/cdk.out-direct/Cwlogs.template.json"
  "$OUT/cdk.out-fan-out/Cwlogs.template.json"
  "$OUT/cdk.out-central/Cwlogs.template.json"
  "$OUT/cdk.out-member/CwlogsMember.template.json"
)

# W3005 (a DependsOn that a reference already implies) is aws-cdk-lib's own doing: a Function
# always depends explicitly on its role. Everything else cfn-lint says fails the check.
step "cfn-lint on the synthesized templates"
"$VENV/bin/cfn-lint" --ignore-checks W3005 -- "${SYNTHESIZED[@]}"
echo "no findings"

step "checkov: the SAM templates and the synthesized ones"
for t in infra/sam/template.yaml infra/sam/member.yaml "${SYNTHESIZED[@]}"; do
  checkov_scan -f "$t"
  echo "$(basename "$(dirname "$t")")/$(basename "$t"): no failed check"
done

step "infra checks passed"
