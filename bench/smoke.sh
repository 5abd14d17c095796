#!/usr/bin/env bash
# bench/smoke.sh: short cetbench runs for CTest (a few seconds, loopback only).
#
#   smoke.sh hello   CETBENCH HELLO_EVHTTP     cetbench against the evhttp ceiling
#   smoke.sh opening CETBENCH CETD CETCTL      the opening scenario against a real
#                                              cetd with --verify (exit 0 expected)
#   smoke.sh tickets CETBENCH CETD CETCTL      print day: bench-paid data arranged with
#                                              bench/arrange_all.py, then the tickets
#                                              scenario (every PDF answered 200)
# CETD / CETCTL may be "find:BUILD_DIR" (looked up in the build tree); if they
# are not built, the test is skipped (exit 77).
set -euo pipefail

mode=${1:?mode}
cetbench=${2:?cetbench}
work=$(mktemp -d /tmp/cetbench-smoke.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Waits until FILE has a line containing TEXT (at most 10 s).
wait_for() {
    local file=$1 text=$2
    for _ in $(seq 1 100); do
        grep -q "$text" "$file" 2>/dev/null && return 0
        sleep 0.1
    done
    echo "smoke: '$text' never appeared in $file:" >&2
    cat "$file" >&2
    return 1
}

resolve() { # resolve NAME SPEC: a path, or find:DIR
    local name=$1 spec=$2
    if [[ $spec == find:* ]]; then
        find "${spec#find:}" -maxdepth 3 -type f -name "$name" -perm -u+x 2>/dev/null | head -1
    else
        echo "$spec"
    fi
}

case $mode in
hello)
    hello=${3:?hello_evhttp}
    port=$(free_port)
    "$hello" --listen 127.0.0.1:"$port" >"$work/hello.log" 2>&1 &
    pids+=($!)
    wait_for "$work/hello.log" "listening on"
    # closed loop, then open loop; both must answer everything with 200
    "$cetbench" --target http://127.0.0.1:"$port" --scenario raw --duration 1.5 --connections 8 \
        --json "$work/closed.json" --svg "$work/closed.svg" --quiet
    "$cetbench" --target http://127.0.0.1:"$port" --scenario raw --duration 1.5 --connections 8 \
        --rate 2000 --json "$work/open.json" --quiet
    grep -q '"status": {"200": ' "$work/closed.json"
    # the per-second series counts 2xx answers; no registration, no durable figures
    python3 - "$work/closed.json" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
ok = sum(s["ok_2xx"] for s in r["series"])
assert ok == r["status"]["200"] == r["answered"], (ok, r["status"], r["answered"])
assert all(s["registrations_201"] == 0 for s in r["series"])
d = r["durable"]
assert d["registrations_201"] == 0 and d["rate_per_s"] == 0 and d["flatness"] is None, d
EOF
    grep -q '"connect_failures": 0' "$work/closed.json"
    grep -q '<polyline' "$work/closed.svg"
    # open loop at 2000/s for 1.5 s: about 3000 answers
    answered=$(sed -n 's/.*"answered": \([0-9]*\),.*/\1/p' "$work/open.json" | head -1)
    if (( answered < 2700 || answered > 3100 )); then
        echo "smoke: open loop answered $answered, expected about 3000" >&2
        exit 1
    fi
    echo "smoke: hello ok"
    ;;
opening)
    cetd=$(resolve cetd "${3:?cetd}")
    cetctl=$(resolve cetctl "${4:?cetctl}")
    if [[ -z $cetd || -z $cetctl || ! -x $cetd || ! -x $cetctl ]]; then
        echo "smoke: cetd or cetctl not built yet: skipped"
        exit 77
    fi
    data=$work/data
    "$cetctl" demo --data "$data" --candidates 2000 >"$work/demo.log" 2>&1
    "$cetctl" bench-prep --data "$data" --candidates 500 --out "$work/cands.tsv" >"$work/prep.log" 2>&1
    head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$work/secret"
    port=$(free_port)
    "$cetd" --dev --data "$data" --listen 127.0.0.1:"$port" --captcha off --threads 2 \
        --payment-secret-file "$work/secret" >"$work/cetd.log" 2>&1 &
    pids+=($!)
    wait_for "$work/cetd.log" "cetd: listening on"
    rc=0
    "$cetbench" --target http://127.0.0.1:"$port" --scenario opening --candidates "$work/cands.tsv" \
        --payment-secret-file "$work/secret" --threads 2 --connections 16 --rate 400 --duration 3 \
        --verify --data "$data" --cetctl "$cetctl" --json "$work/opening.json" --quiet || rc=$?
    if (( rc != 0 )); then
        echo "smoke: cetbench opening exited $rc; cetd log:" >&2
        tail -20 "$work/cetd.log" >&2
        exit 1
    fi
    grep -q '"verify": "passed"' "$work/opening.json"
    # the opening must have taken seats and taken payments
    grep -q '"201": ' "$work/opening.json"
    grep -q '"notify"' "$work/opening.json"
    # durable registrations: every 201 registration, counted per second and over the time
    # they were produced, with a flatness figure; consistent with the answers by status
    python3 - "$work/opening.json" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
d, series = r["durable"], r["series"]
n = d["registrations_201"]
assert n > 0 and n == r["acknowledged_registrations"], (n, r["acknowledged_registrations"])
assert sum(s["registrations_201"] for s in series) == n
ok = sum(v for k, v in r["status"].items() if k.startswith("2"))
assert sum(s["ok_2xx"] for s in series) == ok, (ok, [s["ok_2xx"] for s in series])
assert all(s["registrations_201"] <= s["ok_2xx"] <= s["answered"] for s in series)
assert 0 < d["until_s"] <= r["elapsed_s"] + 0.001, (d["until_s"], r["elapsed_s"])
assert abs(d["rate_per_s"] - n / d["until_s"]) <= 0.1 + n / d["until_s"] * 1e-3, d
assert d["latency"]["count"] == n and d["latency"]["p50_ms"] <= d["latency"]["p99_ms"]
f = d["flatness"]
assert f is not None and 1 <= f["seconds"] <= d["until_s"], f
whole = [s["registrations_201"] for s in series[: f["seconds"]]]
assert f["min"] == min(whole) and f["max"] == max(whole) and f["min"] <= f["median"] <= f["max"], (f, whole)
assert 1 <= f["head_s"] <= f["seconds"]
assert abs(f["first_mean"] - sum(whole[: f["head_s"]]) / f["head_s"]) < 0.06, f
assert abs(f["last_mean"] - sum(whole[-f["head_s"]:]) / f["head_s"]) < 0.06, f
print(f"smoke: durable {n} registrations, {d['rate_per_s']}/s over {d['until_s']} s; flatness {f}")
EOF
    echo "smoke: opening ok"
    ;;
tickets)
    cetd=$(resolve cetd "${3:?cetd}")
    cetctl=$(resolve cetctl "${4:?cetctl}")
    if [[ -z $cetd || -z $cetctl || ! -x $cetd || ! -x $cetctl ]]; then
        echo "smoke: cetd or cetctl not built yet: skipped"
        exit 77
    fi
    data=$work/data
    offset=$((31 * 86400)) # the demo's print date
    "$cetctl" demo --data "$data" --candidates 100 >"$work/demo.log" 2>&1
    CET_CLOCK_OFFSET_S=$offset "$cetctl" bench-paid --data "$data" --campuses 2 --per-campus 150 \
        --out "$work/paid.tsv" >"$work/paid.log" 2>&1
    port=$(free_port)
    CET_CLOCK_OFFSET_S=$offset "$cetd" --dev --data "$data" --listen 127.0.0.1:"$port" --captcha off \
        --threads 2 >"$work/cetd.log" 2>&1 &
    pids+=($!)
    wait_for "$work/cetd.log" "cetd: listening on"
    python3 "$(dirname "$0")/arrange_all.py" --port "$port" --campuses 2 --parallel 2 \
        >"$work/arrange.log"
    grep -q "arranged 300 paid registrations" "$work/arrange.log"
    # every candidate once (rendered), then a second round (kept)
    "$cetbench" --target http://127.0.0.1:"$port" --scenario tickets --candidates "$work/paid.tsv" \
        --connections 16 --requests 600 --json "$work/tickets.json" --quiet
    grep -q '"status": {"200": 600}' "$work/tickets.json" || {
        echo "smoke: tickets: not every PDF answered 200:" >&2
        cat "$work/tickets.json" >&2
        exit 1
    }
    echo "smoke: tickets ok"
    ;;
*)
    echo "usage: smoke.sh hello|opening|tickets ..." >&2
    exit 2
    ;;
esac
