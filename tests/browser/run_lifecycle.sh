#!/usr/bin/env bash
# run_lifecycle.sh: the account lifecycle's browser test (lifecycle.test.js), end to
# end, against the real cetd through the h2o edge (HTTPS + HTTP/2), with real mail:
#
#   tests/browser/run_lifecycle.sh --cetd build/net/cetd --cetctl build/tools/cetctl \
#       [--work DIR] [--artifacts DIR]
#
# 1. a fresh demo data set; two mainland roster candidates picked (one per viewport);
# 2. tools/mailsink.py (SMTP, Debian's python3-aiosmtpd) on a free loopback port,
#    keeping the mails in WORK/mail;
# 3. cetd --captcha off on a unix socket, --smtp-url to the sink, --public-url the
#    edge's https URL; 4. the edge on free ports;
# 5. npm ci + lifecycle.test.js (headless Chromium, a 390x844 phone, a 1366x768 desk);
# 6. stops everything, runs cetctl check (invariants and the audit chain).
# The screenshots are ARTIFACTS/lifecycle-*.png; only those are replaced (the
# directory is browser.candidate's too).
# Exit 0 only if every check passed; 77 (CTest: skipped) when a tool is missing.
set -u

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
NAME=browser.lifecycle
# shellcheck source=lib.sh
. "$HERE/lib.sh"
browser_args browser-lifecycle-run browser "$@"

rm -rf "$WORK"; mkdir -p "$ARTIFACTS" && rm -f "$ARTIFACTS"/lifecycle-*.png
mkdir -p "$WORK" "$ARTIFACTS" || exit 2
DATA="$WORK/data" SOCK="$WORK/cetd.sock"
CETD_PID="" SINK_PID=""
# shellcheck source=../../tools/edge/edge.sh
. "$REPO/tools/edge/edge.sh"
cleanup() {
    edge_stop
    stop_pid CETD_PID
    if [ -n "$SINK_PID" ]; then kill -TERM "$SINK_PID" 2>/dev/null; wait "$SINK_PID" 2>/dev/null; SINK_PID=""; fi
}
trap 'cleanup; summary; exit 1' INT TERM

# ---- 1. data ----
python3 -c 'import aiosmtpd' 2>/dev/null || [ -d /usr/lib/python3/dist-packages/aiosmtpd ] ||
    { echo "run_lifecycle.sh: SKIP: python3-aiosmtpd not installed" >&2; exit 77; }
if "$CETCTL" demo --data "$DATA" --candidates 600 --seed 13 >"$WORK/demo.out" 2>"$WORK/demo.err"; then
    pass "cetctl demo"
else
    fail "cetctl demo: $(tail -n 3 "$WORK/demo.err")"; summary; exit 1
fi
"$CETCTL" export roster --data "$DATA" >"$WORK/roster.csv" 2>>"$WORK/demo.err" ||
    { fail "cetctl export roster: $(tail -n 3 "$WORK/demo.err")"; summary; exit 1; }
if ! python3 - "$WORK" <<'PY'
import csv, json, sys
work = sys.argv[1]
roster = [r for r in csv.DictReader(open(work + "/roster.csv", encoding="utf-8")) if r["id_type"] == "mainland"]
if len(roster) < 2:
    sys.exit("fewer than 2 mainland candidates in the demo roster")
pick = lambda r: {"id_type": r["id_type"], "id_number": r["id_number"], "name": r["name"]}
json.dump([pick(roster[0]), pick(roster[len(roster) // 2])], open(work + "/people.json", "w"), ensure_ascii=False)
PY
then
    fail "choosing candidates from the demo roster"; summary; exit 1
fi

# ---- 2. the mail sink ----
SMTP_PORT="$(free_port)" MAILWEB_PORT="$(free_port)" MAILDIR="$WORK/mail"
python3 "$REPO/tools/mailsink.py" --smtp "127.0.0.1:$SMTP_PORT" --dir "$MAILDIR" \
    --http "127.0.0.1:$MAILWEB_PORT" >"$WORK/mailsink.out" 2>&1 &
SINK_PID=$!
for _ in $(seq 1 100); do
    grep -q "mailsink: smtp on" "$WORK/mailsink.out" 2>/dev/null && break
    kill -0 "$SINK_PID" 2>/dev/null || break
    sleep 0.1
done
if grep -q "mailsink: smtp on" "$WORK/mailsink.out" 2>/dev/null; then
    pass "mailsink: smtp on 127.0.0.1:$SMTP_PORT, its page on 127.0.0.1:$MAILWEB_PORT"
else
    fail "mailsink did not start: $(tail -n 5 "$WORK/mailsink.out")"; cleanup; summary; exit 1
fi

# ---- 3. cetd, 4. the edge ----
HTTPS_PORT="$(free_port)" HTTP_PORT="$(free_port)"
BASE="https://127.0.0.1:$HTTPS_PORT"
API_PORT="$(free_port)" SECRET="$WORK/payment.secret"
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$SECRET"
chmod 600 "$SECRET"
"$CETD" --data "$DATA" --listen "unix:$SOCK" --listen "127.0.0.1:$API_PORT" --captcha off \
    --payment-secret-file "$SECRET" --pay-url "http://127.0.0.1:1/pay" \
    --smtp-url "smtp://127.0.0.1:$SMTP_PORT" --mail-from "noreply@cet.test" --public-url "$BASE" \
    >"$WORK/cetd.out" 2>"$WORK/cetd.log" &
CETD_PID=$!
for _ in $(seq 1 200); do
    grep -q "cetd: listening on unix:" "$WORK/cetd.out" 2>/dev/null && break
    kill -0 "$CETD_PID" 2>/dev/null || break
    sleep 0.1
done
if grep -q "cetd: listening on unix:" "$WORK/cetd.out" 2>/dev/null; then
    pass "cetd started (captcha off, mail to the sink, public URL $BASE)"
else
    fail "cetd did not start: $(tail -n 5 "$WORK/cetd.log")"; cleanup; summary; exit 1
fi
if edge_start --socket "$SOCK" --state "$WORK/edge" --https-port "$HTTPS_PORT" --http-port "$HTTP_PORT" \
    --max-connections 256 >"$WORK/edge.out" 2>&1; then
    pass "h2o edge started"
else
    fail "h2o edge did not start: $(cat "$WORK/edge.out")"; cleanup; summary; exit 1
fi
code="$(curl --http2 -k -sS -o /dev/null -w '%{http_code} %{http_version}' "$BASE/reset?token=0")"
case "$code" in
"200 2") pass "the edge serves /reset (the mailed link's path) over HTTP/2" ;;
*) fail "GET /reset through the edge: $code" ;;
esac

# ---- 5. the browser ----
browser_npm_ci || { cleanup; summary; exit 1; }
browser_node lifecycle.test.js --base "$BASE" --artifacts "$ARTIFACTS" --mail-dir "$MAILDIR" \
    --people "$(cat "$WORK/people.json")"

# ---- 6. stop, and check the data (invariants and the audit chain) ----
cleanup
if "$CETCTL" check --data "$DATA" >"$WORK/check.out" 2>&1; then
    pass "cetctl check: every invariant holds, the audit chain verifies"
else
    fail "cetctl check: $(tail -n 5 "$WORK/check.out")"
fi
summary
[ "$FAILED" = 0 ]
