#!/usr/bin/env bash
# edge.sh: the h2o edge in front of cetd (TLS, HTTP/2, static pages, proxy).
#
# Run it:     tools/edge/edge.sh run   --socket /path/cetd.sock   (foreground; Ctrl-C stops)
#             tools/edge/edge.sh start --socket /path/cetd.sock   (background, pid file)
#             tools/edge/edge.sh stop  [--state DIR]
# Source it:  . tools/edge/edge.sh; edge_start --socket S [options]; ...; edge_stop
#             (edge_start runs h2o as a child of the calling shell and prints its
#             URL; edge_stop stops it. A caller traps INT/TERM/EXIT and calls
#             edge_stop: a background child of a script does not get Ctrl-C.)
#
# The config is rendered from tools/edge/h2o.conf.in into the state directory,
# with a self-signed certificate made there by openssl unless --cert/--key are
# given. Why each setting: docs/deployment.md.

EDGE_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# One logfmt line per request, UTC (h2o is started with TZ=UTC), with the
# request id cetd answered with. Kept equal to CETREG_ACCESS_LOG_FORMAT in
# dist/CMakeLists.txt (the packaged config).
EDGE_ACCESS_LOG_FORMAT='ts=%{%Y-%m-%dT%H:%M:%S}t.%{msec_frac}t+00:00 level=info comp=edge event=request request_id=%{x-request-id}o method=%m path=\\"%U%q\\" status=%s bytes=%b duration_s=%{duration}x client=%h proto=%H'

EDGE_REPO="$(cd "$EDGE_DIR/../.." && pwd)"

edge_usage() {
    cat <<'EOF'
usage: edge.sh run|start|stop|config|cert [options]
  run                 start h2o in the foreground; Ctrl-C or SIGTERM stops it
  start               start h2o in the background (stop it with: edge.sh stop)
  stop                stop the h2o of --state (by its pid file)
  config              only render the config; print its path
  cert                only make the self-signed certificate
options:
  --socket PATH       cetd's unix socket (required for run/start/config)
  --state DIR         config, certificate, logs, pid (default: var/edge in the repo)
  --https-port N      HTTPS + HTTP/2 port (default 8443)
  --http-port N       plain HTTP port that redirects to HTTPS (default 8080; 0 = none)
  --bind ADDR         address to listen on (default 127.0.0.1; 0.0.0.0 for all)
  --host NAME         public host name: certificate name and redirect fallback (default localhost)
  --cert FILE --key FILE  a real certificate chain and key (default: self-signed)
  --www DIR           static pages (default: tools/www)
  --threads N         h2o threads (default: number of cores)
  --max-connections N client connections (default 8192)
  --h2-streams N      concurrent requests per HTTP/2 connection (default 16)
  --asset-max-age S   Cache-Control max-age of /assets/ (default 600)
  --user NAME         user h2o switches to (default: root when started as root,
                      otherwise no switch)
  --conn-rate N       requests/s one client connection may send on to cetd (default 50,
                      burst twice that; 0 = no limit: load benchmarks only)
  --addr-rate N       ... one client address (default 1000; 0 = no limit)
EOF
}

# edge__opts ARGS...: parses options into EDGE_* variables (defaults first).
edge__opts() {
    EDGE_SOCKET="" EDGE_STATE="$EDGE_REPO/var/edge" EDGE_HTTPS_PORT=8443 EDGE_HTTP_PORT=8080
    EDGE_BIND=127.0.0.1 EDGE_HOST=localhost EDGE_CERT="" EDGE_KEY="" EDGE_WWW="$EDGE_REPO/tools/www"
    EDGE_THREADS="$(nproc 2>/dev/null || echo 1)" EDGE_MAX_CONNECTIONS=8192 EDGE_H2_STREAMS=16
    EDGE_ASSET_MAX_AGE=600 EDGE_BODY_BYTES_MAX=16384 EDGE_USER=""
    EDGE_CONN_RATE=50 EDGE_ADDR_RATE=1000
    if [ "$(id -u)" = 0 ]; then EDGE_USER=root; fi
    while [ $# -gt 0 ]; do
        case "$1" in
        --socket) EDGE_SOCKET="$2"; shift 2 ;;
        --state) EDGE_STATE="$2"; shift 2 ;;
        --https-port) EDGE_HTTPS_PORT="$2"; shift 2 ;;
        --http-port) EDGE_HTTP_PORT="$2"; shift 2 ;;
        --bind) EDGE_BIND="$2"; shift 2 ;;
        --host) EDGE_HOST="$2"; shift 2 ;;
        --cert) EDGE_CERT="$2"; shift 2 ;;
        --key) EDGE_KEY="$2"; shift 2 ;;
        --www) EDGE_WWW="$2"; shift 2 ;;
        --threads) EDGE_THREADS="$2"; shift 2 ;;
        --max-connections) EDGE_MAX_CONNECTIONS="$2"; shift 2 ;;
        --h2-streams) EDGE_H2_STREAMS="$2"; shift 2 ;;
        --asset-max-age) EDGE_ASSET_MAX_AGE="$2"; shift 2 ;;
        --user) EDGE_USER="$2"; shift 2 ;;
        --conn-rate) EDGE_CONN_RATE="$2"; shift 2 ;;
        --addr-rate) EDGE_ADDR_RATE="$2"; shift 2 ;;
        -h|--help) edge_usage; return 2 ;;
        *) echo "edge: unknown option $1" >&2; edge_usage >&2; return 2 ;;
        esac
    done
    local n
    for n in "$EDGE_HTTPS_PORT" "$EDGE_HTTP_PORT" "$EDGE_THREADS" "$EDGE_MAX_CONNECTIONS" \
             "$EDGE_H2_STREAMS" "$EDGE_ASSET_MAX_AGE" "$EDGE_CONN_RATE" "$EDGE_ADDR_RATE"; do
        case "$n" in ''|*[!0-9]*) echo "edge: not a number: '$n'" >&2; return 2 ;; esac
    done
    case "$EDGE_HOST" in ''|*[!A-Za-z0-9.:-]*) echo "edge: bad --host '$EDGE_HOST'" >&2; return 2 ;; esac
    if { [ -n "$EDGE_CERT" ] && [ -z "$EDGE_KEY" ]; } || { [ -z "$EDGE_CERT" ] && [ -n "$EDGE_KEY" ]; }; then
        echo "edge: --cert and --key go together" >&2; return 2
    fi
    return 0
}

# edge_cert: makes (or reuses) the self-signed certificate in $EDGE_STATE/tls.
edge_cert() {
    local dir="$EDGE_STATE/tls"
    EDGE_CERT="$dir/cert.pem" EDGE_KEY="$dir/key.pem"
    mkdir -p "$dir" || return 1
    if [ -s "$EDGE_CERT" ] && [ -s "$EDGE_KEY" ] &&
        openssl x509 -in "$EDGE_CERT" -noout -checkend 86400 >/dev/null 2>&1; then
        return 0
    fi
    local san="DNS:localhost,IP:127.0.0.1,IP:::1"
    case "$EDGE_HOST" in
    localhost) ;;
    *[!0-9.]*) san="DNS:$EDGE_HOST,$san" ;;
    *) san="IP:$EDGE_HOST,$san" ;;
    esac
    (umask 077 && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -keyout "$dir/key.pem.tmp" -out "$dir/cert.pem.tmp" -days 397 -sha256 \
        -subj "/O=cetreg edge (self-signed)/CN=$EDGE_HOST" -addext "subjectAltName=$san" \
        -addext "keyUsage=critical,digitalSignature" -addext "extendedKeyUsage=serverAuth" \
        >/dev/null 2>&1) || { echo "edge: openssl could not make a certificate" >&2; return 1; }
    mv "$dir/key.pem.tmp" "$EDGE_KEY" && mv "$dir/cert.pem.tmp" "$EDGE_CERT" || return 1
    echo "edge: made a self-signed certificate for $EDGE_HOST: $EDGE_CERT" >&2
}

# edge_config: renders $EDGE_STATE/h2o.conf and checks it with h2o -t.
edge_config() {
    [ -n "$EDGE_SOCKET" ] || { echo "edge: --socket is required" >&2; return 2; }
    case "$EDGE_SOCKET" in /*) ;; *) EDGE_SOCKET="$(pwd)/$EDGE_SOCKET" ;; esac
    [ -f "$EDGE_WWW/index.html" ] || { echo "edge: no index.html in $EDGE_WWW" >&2; return 1; }
    mkdir -p "$EDGE_STATE" || return 1
    EDGE_STATE="$(cd "$EDGE_STATE" && pwd)"
    EDGE_WWW="$(cd "$EDGE_WWW" && pwd)"
    if [ -z "$EDGE_CERT" ]; then edge_cert || return 1; fi
    local user_line="" suffix=":$EDGE_HTTPS_PORT"
    [ -n "$EDGE_USER" ] && user_line="user: $EDGE_USER"
    [ "$EDGE_HTTPS_PORT" = 443 ] && suffix=""
    local conf="$EDGE_STATE/h2o.conf" v
    # the rapid-reset gate, with this edge's rates
    sed -e "s|^CONN_RATE = .*|CONN_RATE = $EDGE_CONN_RATE.0|" \
        -e "s|^CONN_BURST = .*|CONN_BURST = $((EDGE_CONN_RATE * 2)).0|" \
        -e "s|^ADDR_RATE = .*|ADDR_RATE = $EDGE_ADDR_RATE.0|" \
        -e "s|^ADDR_BURST = .*|ADDR_BURST = $((EDGE_ADDR_RATE * 2)).0|" \
        "$EDGE_DIR/edge_limit.rb" >"$EDGE_STATE/edge_limit.rb" || return 1
    # Substitution values must not break the YAML or the sed expression.
    for v in "$EDGE_SOCKET" "$EDGE_STATE" "$EDGE_WWW" "$EDGE_CERT" "$EDGE_KEY"; do
        case "$v" in *[\"\|\\\&\ ]*) echo "edge: unsupported character in path '$v'" >&2; return 2 ;; esac
    done
    sed -e "s|@USER_LINE@|$user_line|" \
        -e "s|@STATE_DIR@|$EDGE_STATE|g" \
        -e "s|@RUN_DIR@|$EDGE_STATE|g" \
        -e "s|@LOG_DIR@|$EDGE_STATE|g" \
        -e "s|@ACCESS_LOG_FORMAT@|$EDGE_ACCESS_LOG_FORMAT|g" \
        -e "s|@LIMIT_RB@|$EDGE_STATE/edge_limit.rb|g" \
        -e "s|@THREADS@|$EDGE_THREADS|g" \
        -e "s|@MAX_CONNECTIONS@|$EDGE_MAX_CONNECTIONS|g" \
        -e "s|@H2_STREAMS@|$EDGE_H2_STREAMS|g" \
        -e "s|@BODY_BYTES_MAX@|$EDGE_BODY_BYTES_MAX|g" \
        -e "s|@BIND@|$EDGE_BIND|g" \
        -e "s|@HTTP_PORT@|$EDGE_HTTP_PORT|g" \
        -e "s|@HTTPS_PORT@|$EDGE_HTTPS_PORT|g" \
        -e "s|@HTTPS_PORT_SUFFIX@|$suffix|g" \
        -e "s|@PUBLIC_HOST@|$EDGE_HOST|g" \
        -e "s|@CERT_FILE@|$EDGE_CERT|g" \
        -e "s|@KEY_FILE@|$EDGE_KEY|g" \
        -e "s|@SOCKET@|$EDGE_SOCKET|g" \
        -e "s|@WWW_DIR@|$EDGE_WWW|g" \
        -e "s|@ASSET_MAX_AGE@|$EDGE_ASSET_MAX_AGE|g" \
        "$EDGE_DIR/h2o.conf.in" >"$conf.tmp" || return 1
    if [ "$EDGE_HTTP_PORT" = 0 ]; then
        # No plain listener: drop the "plain-http" host block.
        awk '/^  "plain-http":/{skip=1; next} /^  "default":/{skip=0} !skip' "$conf.tmp" >"$conf.tmp2" &&
            mv "$conf.tmp2" "$conf.tmp"
    fi
    if grep -q '@[A-Z_]*@' "$conf.tmp"; then
        echo "edge: unrendered placeholder in $conf.tmp" >&2; return 1
    fi
    local out
    if ! out="$(h2o -t -c "$conf.tmp" 2>&1)"; then
        echo "edge: h2o rejects the config:" >&2; echo "$out" >&2; return 1
    fi
    mv "$conf.tmp" "$conf"
    EDGE_CONF="$conf"
}

# edge__url_host: the host to print and to probe (a wildcard bind is probed on loopback).
edge__url_host() {
    case "$EDGE_BIND" in
    0.0.0.0|'*'|::|'[::]') echo 127.0.0.1 ;;
    *:*) echo "[$EDGE_BIND]" ;;
    *) echo "$EDGE_BIND" ;;
    esac
}

# edge__wait_ready PID: waits until the HTTPS listener answers (or h2o died).
edge__wait_ready() {
    local pid="$1" host i
    host="$(edge__url_host)"
    for i in $(seq 1 100); do
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "edge: h2o exited; last lines of $EDGE_STATE/error.log:" >&2
            tail -n 15 "$EDGE_STATE/error.log" >&2 2>/dev/null
            return 1
        fi
        if curl -sk -o /dev/null --max-time 1 "https://$host:$EDGE_HTTPS_PORT/" 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    echo "edge: h2o did not answer on port $EDGE_HTTPS_PORT within 10 s" >&2
    return 1
}

edge__raise_nofile() {
    local want=$((EDGE_MAX_CONNECTIONS * 2 + 1024))
    [ "$(ulimit -n)" = unlimited ] && return 0
    [ "$(ulimit -n)" -ge "$want" ] 2>/dev/null && return 0
    ulimit -n "$want" 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
    if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$want" ]; then
        echo "edge: warning: open files limit $(ulimit -n) < $want for $EDGE_MAX_CONNECTIONS connections" >&2
    fi
}

edge__announce() {
    local host
    host="$(edge__url_host)"
    echo "edge: listening on https://$host:$EDGE_HTTPS_PORT/ (h2o pid $EDGE_PID, config $EDGE_CONF)"
    if [ "$EDGE_HTTP_PORT" != 0 ]; then
        echo "edge: http://$host:$EDGE_HTTP_PORT/ redirects to HTTPS"
    fi
}

# edge_start [options]: starts h2o as a background child of this shell, waits
# until it serves, prints its URL. Sets EDGE_PID. h2o also gets SIGTERM if
# this shell dies (setpriv --pdeathsig), so a killed parent leaves no orphan.
edge_start() {
    edge__opts "$@" || return $?
    edge_config || return $?
    edge__raise_nofile
    if command -v setpriv >/dev/null 2>&1; then
        TZ=UTC setpriv --pdeathsig TERM h2o -c "$EDGE_CONF" >>"$EDGE_STATE/error.log" 2>&1 &
    else
        TZ=UTC h2o -c "$EDGE_CONF" >>"$EDGE_STATE/error.log" 2>&1 &
    fi
    EDGE_PID=$!
    if ! edge__wait_ready "$EDGE_PID"; then
        kill -TERM "$EDGE_PID" 2>/dev/null
        wait "$EDGE_PID" 2>/dev/null
        EDGE_PID=""
        return 1
    fi
    edge__announce
}

# edge_stop: stops the h2o that edge_start started (SIGTERM, then SIGKILL after 10 s).
edge_stop() {
    [ -n "${EDGE_PID:-}" ] || return 0
    local i
    kill -TERM "$EDGE_PID" 2>/dev/null || true
    for i in $(seq 1 100); do
        kill -0 "$EDGE_PID" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$EDGE_PID" 2>/dev/null || true
    wait "$EDGE_PID" 2>/dev/null || true
    EDGE_PID=""
    return 0
}

edge_main() {
    local cmd="${1:-}"
    [ $# -gt 0 ] && shift
    case "$cmd" in
    run)
        edge_start "$@" || exit 1
        trap 'edge_stop; exit 0' INT TERM
        trap 'edge_stop' EXIT
        wait "$EDGE_PID"
        local rc=$?
        EDGE_PID=""
        exit "$rc"
        ;;
    start)
        edge__opts "$@" || exit $?
        edge_config || exit 1
        edge__raise_nofile
        if [ -s "$EDGE_STATE/h2o.pid" ] && kill -0 "$(cat "$EDGE_STATE/h2o.pid")" 2>/dev/null; then
            echo "edge: already running (pid $(cat "$EDGE_STATE/h2o.pid"))" >&2; exit 1
        fi
        TZ=UTC setsid h2o -c "$EDGE_CONF" >>"$EDGE_STATE/error.log" 2>&1 </dev/null &
        EDGE_PID=$!
        edge__wait_ready "$EDGE_PID" || { kill -TERM "$EDGE_PID" 2>/dev/null; exit 1; }
        edge__announce
        ;;
    stop)
        edge__opts "$@" || exit $?
        local pidf="$EDGE_STATE/h2o.pid" pid i
        [ -s "$pidf" ] || { echo "edge: not running (no $pidf)" >&2; exit 0; }
        pid="$(cat "$pidf")"
        if kill -TERM "$pid" 2>/dev/null; then
            for i in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
            kill -KILL "$pid" 2>/dev/null
            echo "edge: stopped (pid $pid)"
        fi
        rm -f "$pidf"
        ;;
    config)
        edge__opts "$@" || exit $?
        edge_config || exit 1
        echo "$EDGE_CONF"
        ;;
    cert)
        edge__opts "$@" || exit $?
        edge_cert || exit 1
        echo "$EDGE_CERT"
        ;;
    -h|--help|help) edge_usage ;;
    *) edge_usage >&2; exit 2 ;;
    esac
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    set -u
    edge_main "$@"
fi
