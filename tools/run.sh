#!/usr/bin/env bash
# run.sh: the main job. Installs what it needs, builds, makes demo data if
# there is none, and runs cetd + the h2o edge + the payment simulator until
# Ctrl-C, which stops all three cleanly.
#
#   tools/run.sh [--candidates N] [--https-port 8443] [--http-port 8080]
#                [--api-port 9080] [--pay-port 8090] [--smtp-port 2525]
#                [--mail-port 8025] [--data DIR]
#
# Serves https://localhost:8443/ (HTTP/2, self-signed certificate made on first
# run); cetd also answers plain HTTP on 127.0.0.1:9080 for tools and the bench.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
candidates=20000 https_port=8443 http_port=8080 api_port=9080 pay_port=8090
smtp_port=2525 mail_port=8025
data="$repo/var/demo"
while [ $# -gt 0 ]; do
    case "$1" in
    --candidates) candidates="$2"; shift 2 ;;
    --https-port) https_port="$2"; shift 2 ;;
    --http-port) http_port="$2"; shift 2 ;;
    --api-port) api_port="$2"; shift 2 ;;
    --pay-port) pay_port="$2"; shift 2 ;;
    --smtp-port) smtp_port="$2"; shift 2 ;;
    --mail-port) mail_port="$2"; shift 2 ;;
    --data) data="$2"; shift 2 ;;
    -h|--help) sed -n 2,13p "$0"; exit 0 ;;
    *) echo "run.sh: unknown option $1" >&2; exit 2 ;;
    esac
done

"$repo/tools/setup-deps.sh" run
"$repo/tools/build.sh" "$repo/build"
bin="$repo/build"
var="$repo/var"
mkdir -p "$var/run"

if [ ! -f "$data/data.mdb" ]; then
    echo "run: making demo data ($candidates candidates) in $data" >&2
    "$bin/tools/cetctl" demo --data "$data" --candidates "$candidates" 2>"$var/demo.txt"
fi
secret="$var/payment.secret"
[ -s "$secret" ] || { head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$secret"; chmod 600 "$secret"; }

sock="$var/run/cetd.sock"
pids=()
stop_all() {
    # a second Ctrl-C (or a signal forwarded twice) must not cut the clean-up short
    trap '' INT TERM
    trap - EXIT
    echo >&2
    echo "run: stopping" >&2
    [ -n "${EDGE_PID:-}" ] && edge_stop || true
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    echo "run: stopped" >&2
}
trap stop_all INT TERM EXIT

"$bin/net/cetd" --dev --data "$data" --listen "unix:$sock" --listen "127.0.0.1:$api_port" \
    --payment-secret-file "$secret" --pay-url "http://127.0.0.1:$pay_port/pay" \
    --smtp-url "smtp://127.0.0.1:$smtp_port" --mail-from "noreply@localhost" \
    --public-url "https://localhost:$https_port" \
    --log-file "$var/cetd.log" >"$var/run/cetd.out" &
pids+=($!)
for _ in $(seq 1 100); do
    grep -q "listening on 127.0.0.1:$api_port" "$var/run/cetd.out" 2>/dev/null && break
    kill -0 "${pids[0]}" 2>/dev/null || { tail -n 20 "$var/cetd.log" >&2; exit 1; }
    sleep 0.1
done

# a local SMTP sink: the outbox's mail (password-reset links, notices) lands there
# (cetd's sender retries until it is up)
python3 "$repo/tools/mailsink.py" --smtp "127.0.0.1:$smtp_port" --dir "$var/mail" \
    --http "127.0.0.1:$mail_port" >"$var/run/mailsink.out" 2>&1 &
pids+=($!)

python3 "$repo/tools/paysim.py" serve --port "$pay_port" --engine "http://127.0.0.1:$api_port" \
    --secret-file "$secret" --return-url "https://localhost:$https_port/#/registration" \
    2>"$var/paysim.log" &
pids+=($!)

# shellcheck source=tools/edge/edge.sh
. "$repo/tools/edge/edge.sh"
edge_start --socket "$sock" --https-port "$https_port" --http-port "$http_port" --state "$var/edge"

cat <<MSG

  cetreg is running on demo data ($data).
    candidate pages   https://localhost:$https_port/   (HTTP/2; self-signed certificate)
    API, direct       http://127.0.0.1:$api_port/api/v1/   (/healthz, /metrics)
    payment simulator http://127.0.0.1:$pay_port/pay
    mail (local sink) http://127.0.0.1:$mail_port/   (password-reset links and notices)
  Register an account on the page (or use --captcha off via cetd for scripts), then look up
  one of these demo candidates (ID type, name, ID number) from $var/demo.txt:
$(grep -A7 "candidates to try" "$var/demo.txt" 2>/dev/null | tail -n +2 | sed 's/^/    /')
  Staff logins: teacher10013 / teacher99101 / prov11 / support, password demo-Staff-2026.
  Logs: $var/cetd.log, $var/edge/, $var/paysim.log; mail kept in $var/mail/.   Ctrl-C stops everything.

MSG
wait "${pids[0]}"
