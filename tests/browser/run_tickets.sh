#!/usr/bin/env bash
# run_tickets.sh: print day in the candidate's pages (tickets.test.js), end to end,
# against the real cetd through the h2o edge (HTTPS + HTTP/2):
#
#   tests/browser/run_tickets.sh --cetd build/net/cetd --cetctl build/tools/cetctl \
#       [--work DIR] [--artifacts DIR]
#
# 1. a fresh demo data set and `cetctl bench-paid` (one campus, 6 candidates, each
#    bound, logged in and holding a paid English-4 registration; sessions made at the
#    print date's clock, CET_CLOCK_OFFSET_S, so they are valid then);
# 2. cetd at day 16 (the window closed): the province's staff arranges the campus
#    (POST /api/v1/admin/arrangements); `cetctl export registrations` has the seats;
# 3. cetd at day 31 (the print date) and the edge; GET /api/v1/candidate gives each
#    candidate's ticket number, which must carry the exported room and seat;
# 4. npm ci + tickets.test.js (headless Chromium, a phone and a desk);
# 5. stops everything, runs cetctl check.
# Exit 0 only if every check passed; 77 (CTest: skipped) when a tool is missing.
set -u

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
NAME=browser.tickets
# shellcheck source=lib.sh
. "$HERE/lib.sh"
browser_args browser-tickets-run browser-tickets "$@"

rm -rf "$WORK" "$ARTIFACTS"
mkdir -p "$WORK" "$ARTIFACTS" || exit 2
DATA="$WORK/data" SOCK="$WORK/cetd.sock" SECRET="$WORK/payment.secret"
DAY=86400 ARRANGE_AT=$((16 * 86400)) PRINT_AT=$((31 * 86400))
CETD_PID=""
# shellcheck source=../../tools/edge/edge.sh
. "$REPO/tools/edge/edge.sh"
stop_cetd() { stop_pid CETD_PID; }
cleanup() { edge_stop; stop_cetd; }
trap 'cleanup; summary; exit 1' INT TERM
# start_cetd OFFSET_S: cetd on the socket and 127.0.0.1:$API_PORT at that clock
start_cetd() {
    CET_CLOCK_OFFSET_S="$1" "$CETD" --data "$DATA" --listen "unix:$SOCK" --listen "127.0.0.1:$API_PORT" \
        --captcha off --payment-secret-file "$SECRET" --pay-url "http://127.0.0.1:1/pay" \
        >"$WORK/cetd-$1.out" 2>"$WORK/cetd-$1.log" &
    CETD_PID=$!
    for _ in $(seq 1 200); do
        grep -q "cetd: listening on unix:" "$WORK/cetd-$1.out" 2>/dev/null && return 0
        kill -0 "$CETD_PID" 2>/dev/null || break
        sleep 0.1
    done
    return 1
}
API="http://127.0.0.1"

# ---- 1. data ----
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$SECRET"
chmod 600 "$SECRET"
if "$CETCTL" demo --data "$DATA" --candidates 300 --seed 13 >"$WORK/demo.out" 2>"$WORK/demo.err" &&
    CET_CLOCK_OFFSET_S=$PRINT_AT "$CETCTL" bench-paid --data "$DATA" --campuses 1 --per-campus 6 \
        --out "$WORK/paid.tsv" >>"$WORK/demo.out" 2>>"$WORK/demo.err"; then
    pass "cetctl demo + bench-paid (6 paid English-4 registrations at one campus)"
else
    fail "cetctl: $(tail -n 3 "$WORK/demo.err")"; summary; exit 1
fi

# ---- 2. arranged with the window closed ----
API_PORT="$(free_port)"
if start_cetd $ARRANGE_AT; then
    pass "cetd at day 16 (the window closed)"
else
    fail "cetd did not start: $(tail -n 5 "$WORK/cetd-$ARRANGE_AT.log")"; cleanup; summary; exit 1
fi
CAMPUS="$(cut -f6 "$WORK/paid.tsv" | head -n 1)"
arranged="$(python3 - "$API:$API_PORT" "$CAMPUS" <<'PY'
import json, sys, urllib.request
base, campus = sys.argv[1], sys.argv[2]
def post(path, body, token=None):
    req = urllib.request.Request(base + path, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json",
                                          **({"Authorization": "Bearer " + token} if token else {})})
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.status, json.load(r)
st, s = post("/api/v1/admin/sessions", {"user": "prov11", "password": "demo-Staff-2026"})
st, a = post("/api/v1/admin/arrangements", {"campus": campus, "subject": "1"}, s["token"])
print(st, a.get("seats"))
PY
)"
stop_cetd
case "$arranged" in
"200 6") pass "the province's staff arranged campus $CAMPUS: 6 seats" ;;
*) fail "arrangement: $arranged"; summary; exit 1 ;;
esac

# ---- 3. print day: cetd, the edge, the API's tickets against the export's seats ----
if start_cetd $PRINT_AT; then
    pass "cetd at day 31 (the print date)"
else
    fail "cetd did not start: $(tail -n 5 "$WORK/cetd-$PRINT_AT.log")"; cleanup; summary; exit 1
fi
"$CETCTL" export registrations --data "$DATA" >"$WORK/registrations.csv" 2>"$WORK/export.err"
cands="$(python3 - "$API:$API_PORT" "$WORK/paid.tsv" "$WORK/registrations.csv" <<'PY'
import csv, json, sys, urllib.request
base, paid, regs = sys.argv[1:4]
seats = {}
with open(regs, encoding="utf-8") as f:
    for r in csv.DictReader(f):
        if r["subject"] == "1" and r["arranged"] == "1":
            seats[r["id_number"]] = (int(r["room"]), int(r["seat"]))
out = []
for line in open(paid, encoding="utf-8"):
    t = line.rstrip("\n").split("\t")
    token, id_number, name = t[0], t[3], t[4]
    req = urllib.request.Request(base + "/api/v1/candidate", headers={"Authorization": "Bearer " + token})
    with urllib.request.urlopen(req, timeout=30) as r:
        page = json.load(r)
    tk = next(w for w in page["written"] if w["subject"] == "1")["ticket"]
    room, seat = seats[id_number]
    assert (tk["room"], tk["seat"]) == (room, seat), (tk, room, seat)
    assert tk["number"].endswith("%03d%02d" % (room, seat)), tk
    out.append({"token": token, "id_number": id_number, "name": name, "number": tk["number"],
                "room": room, "seat": seat})
print(json.dumps(out[:2], ensure_ascii=False))
PY
)"
if [ -n "$cands" ]; then
    pass "GET /api/v1/candidate: every ticket number carries the exported room and seat"
else
    fail "GET /api/v1/candidate against the export (see above)"; cleanup; summary; exit 1
fi
HTTPS_PORT="$(free_port)" HTTP_PORT="$(free_port)"
if edge_start --socket "$SOCK" --state "$WORK/edge" --https-port "$HTTPS_PORT" --http-port "$HTTP_PORT" \
    --max-connections 256 >"$WORK/edge.out" 2>&1; then
    pass "h2o edge started"
else
    fail "h2o edge did not start: $(cat "$WORK/edge.out")"; cleanup; summary; exit 1
fi
BASE="https://127.0.0.1:$HTTPS_PORT"

# ---- 4. the browser ----
browser_npm_ci || { cleanup; summary; exit 1; }
browser_node tickets.test.js --base "$BASE" --artifacts "$ARTIFACTS" --candidates "$cands"

# ---- 5. stop, and check the data ----
cleanup
if "$CETCTL" check --data "$DATA" >"$WORK/check.out" 2>&1; then
    pass "cetctl check: every invariant holds"
else
    fail "cetctl check: $(tail -n 5 "$WORK/check.out")"
fi
summary
[ "$FAILED" = 0 ]
