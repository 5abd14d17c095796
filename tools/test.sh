#!/usr/bin/env bash
# test.sh: the whole test suite. Installs what it needs (Debian packages; npm
# packages for the browser and OpenAPI tests), builds, and runs every CTest
# test: unit, integration (real cetd over HTTP, crash, expiry, bad input),
# fuzz (libFuzzer, a short run), bench smoke, OpenAPI lint, browser (h2o +
# Chromium). Exit status 0 only when every test passed.
#
#   tools/test.sh [-R REGEX] [--asan]
#     -R REGEX   only the tests whose name matches (ctest -R); names are
#                KIND.NAME (tests/README.md): -R '^unit\.', -R '^int\.t35'
#     --asan     build with ASan+UBSan (build-asan/) and run the suite there
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
regex="" dir="$repo/build" extra=()
while [ $# -gt 0 ]; do
    case "$1" in
    -R) regex="$2"; shift 2 ;;
    --asan) dir="$repo/build-asan"; extra+=(-DCET_SANITIZE=ON); shift ;;
    -h|--help) sed -n 2,11p "$0"; exit 0 ;;
    *) echo "test.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
"$repo/tools/setup-deps.sh" test
"$repo/tools/build.sh" "$dir" "${extra[@]}"
if [ ${#extra[@]} -gt 0 ]; then
    export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:print_stacktrace=1"
    export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
fi
cd "$dir"
args=(--output-on-failure --timeout 900)
[ -n "$regex" ] && args+=(-R "$regex")
log="$dir/ctest.log"
status=0
ctest "${args[@]}" 2>&1 | tee "$log" || status=$?
# This script installs everything every test needs, so a test that skipped
# itself (exit 77: no chromium, node, h2o...) means a broken set-up: fail.
if grep -q "The following tests did not run" "$log"; then
    echo "test.sh: some tests did not run (skipped); the suite is not complete" >&2
    exit 1
fi
exit "$status"
