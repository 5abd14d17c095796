#!/usr/bin/env bash
# run_lint.sh: the openapi.lint test. Lints docs/openapi.yaml with Redocly CLI
# (the version pinned in package-lock.json) and the rules of redocly.yaml.
#
#   tests/openapi/run_lint.sh [--work DIR]
#
# DIR (default: this directory) gets node_modules. `npm ci` runs only when
# node_modules is missing or package-lock.json changed since the last install
# (a stamp with its SHA-256); after that the lint needs no network (telemetry
# and update checks are off). Exit 0: no errors (warnings are printed but
# pass); 1: lint errors or a failed install; 77 (CTest: skipped): no node/npm,
# or a Node.js the pinned CLI does not support.
set -u

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
WORK="$HERE"
while [ $# -gt 0 ]; do
    case "$1" in
    --work) WORK="$2"; shift 2 ;;
    *) echo "run_lint.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done

for t in node npm sha256sum; do
    command -v "$t" >/dev/null 2>&1 || { echo "run_lint.sh: SKIP: $t not installed" >&2; exit 77; }
done
# @redocly/cli 2.x: Node.js >= 22.12, or 20.19 and later 20.x
if ! node -e '
    const [a, b] = process.versions.node.split(".").map(Number);
    process.exit((a === 20 && b >= 19) || (a === 22 && b >= 12) || a >= 23 ? 0 : 1);'; then
    echo "run_lint.sh: SKIP: Node.js $(node --version) is too old for the pinned @redocly/cli" >&2
    exit 77
fi

mkdir -p "$WORK" || exit 1
if [ "$WORK" != "$HERE" ]; then
    for f in package.json package-lock.json; do
        cmp -s "$HERE/$f" "$WORK/$f" || cp "$HERE/$f" "$WORK/$f" || exit 1
    done
fi
want="$(sha256sum "$HERE/package-lock.json" | cut -d' ' -f1)"
stamp="$WORK/node_modules/.cetreg-package-lock.sha256"
if [ ! -x "$WORK/node_modules/.bin/redocly" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "run_lint.sh: npm ci in $WORK"
    (cd "$WORK" && npm ci --no-audit --no-fund) || { echo "run_lint.sh: npm ci failed" >&2; exit 1; }
    echo "$want" >"$stamp"
fi

export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true NO_UPDATE_NOTIFIER=1
"$WORK/node_modules/.bin/redocly" lint --config "$HERE/redocly.yaml" "$REPO/docs/openapi.yaml"
rc=$?
[ $rc -eq 0 ] || echo "run_lint.sh: docs/openapi.yaml has lint errors (exit $rc)" >&2
exit $rc
