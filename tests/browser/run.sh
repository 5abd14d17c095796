#!/usr/bin/env bash
# run.sh: the browser test, end to end, against the real cetd.
#
#   tests/browser/run.sh --cetd build/net/cetd --cetctl build/tools/cetctl \
#       [--work DIR] [--artifacts DIR] [--candidates N] [--paysim CMD]
# (--paysim: a command starting the payment simulator; it gets PAYSIM_PORT,
#  PAYSIM_SECRET_FILE and PAYSIM_NOTIFY_URL in its environment)
#
# 1. a fresh demo data set (cetctl demo); one oral offer's capacity lowered to 1
#    (cetctl export/import campuses) so the "seat gone" refusal happens for real;
# 2. cetd --captcha off on a unix socket, a payment secret, pay_url on a free port;
# 3. the h2o edge (tools/edge/edge.sh) on free ports: HTTPS + HTTP/2;
# 4. checks that the edge speaks HTTP/2 (curl --http2, h2load) and redirects HTTP;
# 5. npm ci + candidate.test.js (headless Chromium through the edge);
# 6. stops everything, runs cetctl check on the data, prints "N passed, N failed".
# Exit 0 only if every check passed; 77 (CTest: skipped) when a tool is missing.
set -u

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
CANDIDATES=3000 PAYSIM=""
BROWSER_EXTRA="candidates paysim"
NAME=browser
# shellcheck source=lib.sh
. "$HERE/lib.sh"
browser_args browser-run browser "$@"

rm -rf "$WORK" "$ARTIFACTS"
mkdir -p "$WORK" "$ARTIFACTS" || exit 2
DATA="$WORK/data" SOCK="$WORK/cetd.sock" SECRET="$WORK/payment.secret"

CETD_PID="" PAYSIM_PID="" LOOKUP_PID=""
# shellcheck source=../../tools/edge/edge.sh
. "$REPO/tools/edge/edge.sh"
cleanup() {
    edge_stop
    if [ -n "$LOOKUP_PID" ]; then kill -TERM "$LOOKUP_PID" 2>/dev/null; wait "$LOOKUP_PID" 2>/dev/null; LOOKUP_PID=""; fi
    if [ -n "$PAYSIM_PID" ]; then kill -TERM "$PAYSIM_PID" 2>/dev/null; wait "$PAYSIM_PID" 2>/dev/null; fi
    stop_pid CETD_PID
}
trap 'cleanup; summary; exit 1' INT TERM

# ---- 1. data ----
if "$CETCTL" demo --data "$DATA" --candidates "$CANDIDATES" --seed 7 >"$WORK/demo.out" 2>"$WORK/demo.err"; then
    pass "cetctl demo ($CANDIDATES candidates)"
else
    fail "cetctl demo: $(tail -n 3 "$WORK/demo.err")"; summary; exit 1
fi
"$CETCTL" export roster --data "$DATA" >"$WORK/roster.csv" 2>>"$WORK/demo.err" &&
    "$CETCTL" export campuses --data "$DATA" >"$WORK/campuses.csv" 2>>"$WORK/demo.err" &&
    "$CETCTL" export scores --data "$DATA" >"$WORK/scores.csv" 2>>"$WORK/demo.err" ||
    { fail "cetctl export roster/campuses/scores: $(tail -n 3 "$WORK/demo.err")"; summary; exit 1; }

# Pick the tested candidates and the fillers, and lower one oral offer to 1 seat.
# The desk candidate: mainland ID, qualified for English-4 written + oral and
# Japanese-4 (to meet one_per_level in the page), at a campus whose school lets
# candidates take the oral elsewhere and which offers English-4 oral, with
# another campus of the school offering it too (where the candidate goes after
# the seat is gone). Fillers: other candidates of the same campus with 1 and F.
# The phone candidate: mainland ID, English-4 written + oral, no English-6, not
# barred, a passed CET4 score (2005 or later) under the same ID number (the
# CET6 review approves automatically), at a campus offering 2 and S.
if ! python3 - "$WORK" <<'EOF'
import csv, json, sys
work = sys.argv[1]
roster = list(csv.DictReader(open(work + "/roster.csv", encoding="utf-8")))
offers = list(csv.DictReader(open(work + "/campuses.csv", encoding="utf-8")))
def subj(r): return set(c for c in r["subjects"].replace(";", "").replace(",", "") if c.strip())
oral_f = {}
for o in offers:
    if o["subject"] == "F" and int(o["capacity"]) > 1 and o["oral_elsewhere"] in ("1", "true", "yes"):
        oral_f.setdefault(o["school_code"], []).append(o)
best = None
for want in (set("13F"), set("1F")):
    for r in roster:
        if r["id_type"] != "mainland" or not want <= subj(r) or "2" in subj(r):
            continue
        camps = oral_f.get(r["school"], [])
        if r["campus"] not in [o["campus_code"] for o in camps] or len(camps) < 2:
            continue
        best = r
        break
    if best:
        break
if not best:
    sys.exit("no suitable candidate in the demo roster")
scores = list(csv.DictReader(open(work + "/scores.csv", encoding="utf-8")))
passed = {}
for sc in scores:
    if int(sc["score"]) >= 425 and int(sc["year"]) >= 2005:
        passed.setdefault(sc["id_number"].upper(), sc["ticket"])
offered = {}
for o in offers:
    offered.setdefault(o["campus_code"], set()).add(o["subject"])
phone = None
for r in roster:
    if r is best or r["id_type"] != "mainland" or r["cet6_barred"] not in ("0", "", "false"):
        continue
    if not set("1F") <= subj(r) or "2" in subj(r) or r["id_number"].upper() not in passed:
        continue
    if not set("12FS") <= offered.get(r["campus"], set()) or r["campus"] == best["campus"]:
        continue
    phone = r
    break
if not phone:
    sys.exit("no candidate for the CET6 review in the demo roster")
fillers = [r for r in roster if r is not best and r["campus"] == best["campus"] and set("1F") <= subj(r)][:4]
if not fillers:
    sys.exit("no filler candidates at campus " + best["campus"])
target = next(o for o in offers if o["campus_code"] == best["campus"] and o["subject"] == "F")
with open(work + "/campus-small.csv", "w", encoding="utf-8", newline="") as f:
    w = csv.DictWriter(f, fieldnames=list(offers[0].keys()))
    w.writeheader()
    target = dict(target, capacity="1")
    w.writerow(target)
pick = lambda r: {"id_type": r["id_type"], "id_number": r["id_number"], "name": r["name"]}
json.dump({"candidate": pick(best), "phone": dict(pick(phone), ticket=passed[phone["id_number"].upper()]),
           "fillers": [pick(r) for r in fillers],
           "seat_gone": {"subject": "F", "campus": best["campus"]},
           "subjects": sorted(subj(best))}, open(work + "/people.json", "w"), ensure_ascii=False)
print("candidate %s %s campus %s subjects %s; %d fillers; F@%s capacity 1" % (
    best["name"], best["id_number"], best["campus"], ";".join(sorted(subj(best))), len(fillers), best["campus"]))
print("phone candidate %s %s campus %s subjects %s, CET4 ticket %s" % (
    phone["name"], phone["id_number"], phone["campus"], ";".join(sorted(subj(phone))), passed[phone["id_number"].upper()]))
EOF
then
    fail "choosing candidates from the demo roster"; summary; exit 1
fi
if "$CETCTL" import campuses --data "$DATA" "$WORK/campus-small.csv" >>"$WORK/demo.out" 2>>"$WORK/demo.err"; then
    pass "one oral offer lowered to 1 seat (cetctl import campuses)"
else
    fail "cetctl import campuses: $(tail -n 3 "$WORK/demo.err")"
fi

# ---- 2. cetd ----
# A second cetd on a copy of the data with its clock 5 days back: the sitting's
# lookup-only phase (guide step 8: lookup before the registration window). The
# browser test sends one walk's API calls there (the pages still come from the
# edge).
cp -a "$DATA" "$WORK/data-lookup"
LOOKUP_PORT="$(free_port)"
CET_CLOCK_OFFSET_S=-432000 "$CETD" --dev --data "$WORK/data-lookup" --listen "127.0.0.1:$LOOKUP_PORT" --captcha off \
    >"$WORK/cetd-lookup.out" 2>"$WORK/cetd-lookup.log" &
LOOKUP_PID=$!

head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$SECRET"
chmod 600 "$SECRET"
PAY_PORT="$(free_port)"
PAY_URL="http://127.0.0.1:$PAY_PORT/pay"
API_PORT="$(free_port)"
"$CETD" --dev --data "$DATA" --listen "unix:$SOCK" --listen "127.0.0.1:$API_PORT" --captcha off --payment-secret-file "$SECRET" \
    --pay-url "$PAY_URL" >"$WORK/cetd.out" 2>"$WORK/cetd.log" &
CETD_PID=$!
for _ in $(seq 1 200); do
    grep -q "cetd: listening on unix:" "$WORK/cetd.out" 2>/dev/null && break
    kill -0 "$CETD_PID" 2>/dev/null || break
    sleep 0.1
done
if grep -q "cetd: listening on unix:" "$WORK/cetd.out" 2>/dev/null; then
    pass "cetd started (captcha off, unix socket)"
    for _ in $(seq 1 100); do grep -q "cetd: listening" "$WORK/cetd-lookup.out" 2>/dev/null && break; sleep 0.1; done
    if grep -q "cetd: listening" "$WORK/cetd-lookup.out" 2>/dev/null; then
        pass "a second cetd in the lookup-only phase (clock 5 days back) on 127.0.0.1:$LOOKUP_PORT"
    else
        fail "the lookup-phase cetd did not start: $(tail -n 5 "$WORK/cetd-lookup.log")"
    fi
else
    fail "cetd did not start: $(tail -n 5 "$WORK/cetd.log")"; cleanup; summary; exit 1
fi

# ---- 3. edge ----
HTTPS_PORT="$(free_port)" HTTP_PORT="$(free_port)"
if edge_start --socket "$SOCK" --state "$WORK/edge" --https-port "$HTTPS_PORT" --http-port "$HTTP_PORT" \
    --max-connections 1024 >"$WORK/edge.out" 2>&1; then
    pass "h2o edge started: $(grep -m1 "listening on" "$WORK/edge.out")"
else
    fail "h2o edge did not start: $(cat "$WORK/edge.out")"; cleanup; summary; exit 1
fi
BASE="https://127.0.0.1:$HTTPS_PORT"

# The payment simulator (default: tools/paysim.py serve): a command that serves
# $PAYSIM_PORT (cetd's pay_url) and posts the signed notice to cetd. Without
# one, the test signs the notice itself, as the platform would.
if [ -z "$PAYSIM" ] && [ -f "$REPO/tools/paysim.py" ]; then
    PAYSIM="python3 '$REPO/tools/paysim.py' serve --port \$PAYSIM_PORT --engine http://127.0.0.1:$API_PORT \
        --secret-file \$PAYSIM_SECRET_FILE --return-url '$BASE/#/registration'"
fi
if [ -n "$PAYSIM" ]; then
    PAYSIM_PORT="$PAY_PORT" PAYSIM_SECRET_FILE="$SECRET" \
        PAYSIM_NOTIFY_URL="$BASE/api/v1/payments/notify" bash -c "$PAYSIM" >"$WORK/paysim.log" 2>&1 &
    PAYSIM_PID=$!
    sleep 0.5
fi

# ---- 4. HTTP/2, redirect, proxy ----
head_out="$(curl --http2 -k -sS -I "$BASE/" 2>&1)"
if printf '%s\n' "$head_out" | head -n 1 | grep -q '^HTTP/2 200'; then
    pass "curl --http2: $(printf '%s' "$head_out" | head -n 1 | tr -d '\r')"
else
    fail "curl --http2 did not get HTTP/2 200: $(printf '%s' "$head_out" | head -n 1)"
fi
if command -v h2load >/dev/null 2>&1; then
    h2="$(h2load -n 40 -c 2 -m 4 "$BASE/healthz" 2>&1)"
    if printf '%s\n' "$h2" | grep -q 'Application protocol: h2' &&
        printf '%s\n' "$h2" | grep -q '40 succeeded'; then
        pass "h2load: 40 requests over h2 to /healthz through the edge"
    else
        fail "h2load: $(printf '%s\n' "$h2" | grep -E 'protocol|requests:|status codes' | tr '\n' ' ')"
    fi
fi
redir="$(curl -sS -o /dev/null -w '%{http_code} %{redirect_url}' "http://127.0.0.1:$HTTP_PORT/#/login" 2>&1)"
case "$redir" in
"301 https://127.0.0.1:$HTTPS_PORT/"*) pass "plain HTTP redirects to HTTPS ($redir)" ;;
*) fail "plain HTTP redirect: $redir" ;;
esac
cache="$(curl -k -sS -I "$BASE/assets/app.js" | tr -d '\r' | grep -i '^cache-control:')"
case "$cache" in
*max-age=*) pass "assets are cacheable ($cache)" ;;
*) fail "assets cache header: $cache" ;;
esac
api="$(curl -k -sS -o /dev/null -w '%{http_code} %{http_version}' -X POST -H 'Content-Type: application/json' \
    -d '{}' "$BASE/api/v1/captcha")"
case "$api" in
"200 2"|"201 2") pass "POST /api/v1/captcha through the edge: $api" ;;
*) fail "POST /api/v1/captcha through the edge: $api" ;;
esac

# ---- 5. the browser ----
browser_npm_ci || { cleanup; summary; exit 1; }
cand="$(python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1]))["candidate"], ensure_ascii=False))' "$WORK/people.json")"
phone="$(python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1]))["phone"], ensure_ascii=False))' "$WORK/people.json")"
fillers="$(python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1]))["fillers"], ensure_ascii=False))' "$WORK/people.json")"
gone="$(python3 -c 'import json,sys; g=json.load(open(sys.argv[1]))["seat_gone"]; print(g["subject"]+"@"+g["campus"])' "$WORK/people.json")"
browser_node candidate.test.js --base "$BASE" --artifacts "$ARTIFACTS" --candidate "$cand" --phone-candidate "$phone" \
    --fillers "$fillers" --seat-gone "$gone" --payment-secret-file "$SECRET" \
    --lookup-api "http://127.0.0.1:$LOOKUP_PORT"

# ---- 6. stop, and check the data's invariants ----
grep -q ' 50[0-9] ' "$WORK/edge/access.log" 2>/dev/null &&
    echo "note: the edge logged 5xx answers: $(grep -c ' 50[0-9] ' "$WORK/edge/access.log")"
cleanup
if "$CETCTL" check --data "$DATA" >"$WORK/check.out" 2>&1; then
    pass "cetctl check: every invariant holds after the run"
else
    fail "cetctl check: $(tail -n 5 "$WORK/check.out")"
fi
summary
[ "$FAILED" = 0 ]
