#!/usr/bin/env bash
# Proves that the pure crates stay pure: no I/O crate among the normal (non-dev) dependencies of
# cwlogs-pipeline, cwlogs-decode and cwlogs-filter, direct or transitive. I/O crates: tokio
# (tokio-*), the AWS crates (aws-*, aws_*), reqwest, hyper (hyper-*) and lambda_runtime
# (lambda_runtime_*). Their dev-dependencies may use them (tests against moto and so on).
#
# Usage: scripts/check-deps.sh [PACKAGE...]   (default: the three crates above)
# Every feature is on and every target platform counted, so an optional or platform-only
# dependency cannot slip through. Exits 1 naming each crate, offending dependency and the path
# that brings it in (`cargo tree -i`).
set -euo pipefail
cd "$(dirname "$0")/.."

packages=("$@")
[ ${#packages[@]} -gt 0 ] || packages=(cwlogs-pipeline cwlogs-decode cwlogs-filter)

# Crate names (as cargo tree prints them) that do I/O.
io_crates='^(tokio|tokio-.*|aws-.*|aws_.*|reqwest|reqwest-.*|hyper|hyper-.*|lambda_runtime|lambda_runtime_.*|lambda-runtime.*)$'

tree() {
  cargo tree --locked --all-features --target all -e normal "$@"
}

failed=0
for pkg in "${packages[@]}"; do
  # One line per package of the graph, "name vX.Y.Z (...)"; the names only, once each.
  deps=$(tree -p "$pkg" --prefix none | awk '{ print $1 }' | sort -u)
  count=$(printf '%s\n' "$deps" | grep -c . || true)
  offending=$(printf '%s\n' "$deps" | grep -E "$io_crates" || true)
  if [ -z "$offending" ]; then
    echo "$pkg: no I/O crate among its $count normal dependencies (itself included)"
    continue
  fi
  failed=1
  for dep in $offending; do
    echo "error: $pkg depends on the I/O crate $dep (normal dependency); the path:" >&2
    # Inverted: from the offending crate up to $pkg.
    tree -p "$pkg" -i "$dep" | sed 's/^/    /' >&2
  done
done

if [ "$failed" -ne 0 ]; then
  echo "check-deps: a pure crate depends on an I/O crate; move that code into cwlogs-aws or cwlogs-lambda (or make it a dev-dependency)" >&2
  exit 1
fi
echo "check-deps: ${packages[*]}: no tokio, aws-*, reqwest, hyper or lambda_runtime among the normal dependencies"
