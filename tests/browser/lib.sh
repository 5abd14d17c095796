# lib.sh: what the browser tier's run scripts share (run.sh, run_admin.sh,
# run_lifecycle.sh, run_tickets.sh). Sourced, bash. A script sets NAME (its name
# in messages and in the summary line), HERE (its directory) and REPO, sources this
# file and calls:
#
#   browser_args RUN ART "$@"     --cetd PATH --cetctl PATH [--work DIR] [--artifacts DIR],
#                                 plus the options named in BROWSER_EXTRA ("candidates
#                                 paysim": --candidates V sets CANDIDATES, a - in a
#                                 name is a _ in the variable's); then
#                                 browser_tools and browser_paths RUN ART
#   browser_tools                 exits 77 (CTest: skipped) when h2o, node, npm, curl,
#                                 openssl, python3 or Debian's chromium is missing
#   browser_paths RUN ART         CETD and CETCTL checked and made absolute; WORK and ARTIFACTS
#                                 default to BUILD/tests/RUN and BUILD/tests/artifacts/ART
#   pass MSG / fail MSG / summary the counts every script ends with
#   free_port                     a free TCP port on 127.0.0.1 (the kernel's pick)
#   stop_pid VAR                  SIGTERM the process whose pid is in $VAR, SIGKILL after
#                                 10 s, wait, and empty VAR
#   browser_npm_ci                npm ci (playwright-core); the installed node_modules
#                                 if that fails; else returns 1
#   browser_node SCRIPT ARGS...   runs a node test (output also in WORK/browser.log) and
#                                 adds its "browser test: N passed, N failed" to the counts
# shellcheck shell=bash

CETD="" CETCTL="" WORK="" ARTIFACTS=""
PASSED=0 FAILED=0
pass() { PASSED=$((PASSED + 1)); echo "PASS $*"; }
fail() { FAILED=$((FAILED + 1)); echo "FAIL $*"; }
summary() { echo "$NAME: $PASSED passed, $FAILED failed (artifacts: $ARTIFACTS, logs: $WORK)"; }

browser_args() {
    local run="$1" art="$2" name x
    shift 2
    while [ $# -gt 0 ]; do
        case "$1" in
        --cetd) CETD="$2" ;;
        --cetctl) CETCTL="$2" ;;
        --work) WORK="$2" ;;
        --artifacts) ARTIFACTS="$2" ;;
        *)
            name=""
            for x in ${BROWSER_EXTRA:-}; do [ "$1" = "--$x" ] && name="$x"; done
            [ -n "$name" ] || { echo "$NAME: unknown argument $1" >&2; exit 2; }
            name="${name//-/_}"
            printf -v "${name^^}" '%s' "$2" ;;
        esac
        shift 2
    done
    [ -n "$CETD" ] && [ -n "$CETCTL" ] ||
        { echo "usage: $(basename "$0") --cetd PATH --cetctl PATH [--work DIR] [--artifacts DIR]" >&2; exit 2; }
    browser_tools
    browser_paths "$run" "$art"
}

browser_tools() {
    local t
    for t in h2o node npm curl openssl python3 /usr/bin/chromium; do
        command -v "$t" >/dev/null 2>&1 || { echo "$NAME: SKIP: $t not installed" >&2; exit 77; }
    done
}

browser_paths() {
    local t
    for t in "$CETD" "$CETCTL"; do
        [ -x "$t" ] || { echo "$NAME: $t is not an executable (build it first)" >&2; exit 2; }
    done
    CETD="$(cd "$(dirname "$CETD")" && pwd)/$(basename "$CETD")"
    CETCTL="$(cd "$(dirname "$CETCTL")" && pwd)/$(basename "$CETCTL")"
    local build
    build="$(dirname "$(dirname "$CETD")")"
    [ -n "$WORK" ] || WORK="$build/tests/$1"
    [ -n "$ARTIFACTS" ] || ARTIFACTS="$build/tests/artifacts/$2"
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

stop_pid() {
    local pid="${!1}"
    [ -n "$pid" ] || return 0
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    printf -v "$1" '%s' ""
}

browser_npm_ci() {
    if (cd "$HERE" && npm ci --no-audit --no-fund --loglevel=error >"$WORK/npm.log" 2>&1); then
        pass "npm ci (playwright-core)"
    elif [ -d "$HERE/node_modules/playwright-core" ]; then
        pass "npm ci failed, using the installed node_modules (see $WORK/npm.log)"
    else
        fail "npm ci: $(tail -n 3 "$WORK/npm.log")"
        return 1
    fi
}

browser_node() {
    local script="$1" node_rc line np nf=0
    shift
    node "$HERE/$script" "$@" 2>&1 | tee "$WORK/browser.log"
    node_rc=${PIPESTATUS[0]}
    line="$(grep -E '^browser test: [0-9]+ passed, [0-9]+ failed' "$WORK/browser.log" | tail -n 1)"
    if [ -n "$line" ]; then
        np="$(printf '%s' "$line" | sed -E 's/^browser test: ([0-9]+) passed.*/\1/')"
        nf="$(printf '%s' "$line" | sed -E 's/^browser test: [0-9]+ passed, ([0-9]+) failed.*/\1/')"
        PASSED=$((PASSED + np)) FAILED=$((FAILED + nf))
    fi
    if [ "$node_rc" != 0 ] && { [ -z "$line" ] || [ "$nf" = 0 ]; }; then
        fail "the node test $script exited $node_rc"
    fi
}
