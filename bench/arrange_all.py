#!/usr/bin/env python3
"""arrange_all.py: arranges every campus-subject `cetctl bench-paid` made, through the real
op (POST /api/v1/admin/arrangements as the demo's province staff), one after the other,
and reports the time from the first request to the last answer.

Usage: arrange_all.py --port 9080 --campuses 40 [--parallel N] [--user prov11 --password ...]
--parallel N keeps N requests in flight on N connections (staff of many schools at once):
the group-commit writer then applies several arrangements in one txn and one fsync.
(docs/benchmarks.md, "Print day").
"""
import argparse
import http.client
import json
import sys
import threading
import time

FIRST = 190010  # tools/cetctl_tickets.c: PAID_SCHOOL_FIRST * 10


def call(conn, method, path, body=None, token=None):
    h = {"Content-Type": "application/json"}
    if token:
        h["Authorization"] = "Bearer " + token
    conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=h)
    r = conn.getresponse()
    return r.status, json.loads(r.read() or b"null")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=9080)
    ap.add_argument("--campuses", type=int, required=True)
    ap.add_argument("--subject", default="1")
    ap.add_argument("--parallel", type=int, default=1)
    ap.add_argument("--user", default="prov11")
    ap.add_argument("--password", default="demo-Staff-2026")
    a = ap.parse_args()
    conn = http.client.HTTPConnection(a.host, a.port, timeout=600)
    st, body = call(conn, "POST", "/api/v1/admin/sessions", {"user": a.user, "password": a.password})
    if st != 201:
        sys.exit(f"staff login: {st} {body}")
    token = body["token"]
    seats = rooms = 0
    each = []
    todo = list(range(a.campuses))
    lock = threading.Lock()
    failed = []

    def worker():
        nonlocal seats, rooms
        c = http.client.HTTPConnection(a.host, a.port, timeout=600)
        while True:
            with lock:
                if not todo or failed:
                    return
                i = todo.pop(0)
            t = time.monotonic()
            st, body = call(c, "POST", "/api/v1/admin/arrangements",
                            {"campus": str(FIRST + 10 * i), "subject": a.subject}, token)
            with lock:
                each.append(time.monotonic() - t)
                if st != 200:
                    failed.append(f"campus {FIRST + 10 * i}: {st} {body}")
                    return
                seats += body["seats"]
                rooms += body["rooms"]

    t0 = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(a.parallel)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failed:
        sys.exit(failed[0])
    total = time.monotonic() - t0
    each.sort()
    print(f"arranged {seats} paid registrations into {rooms} rooms at {a.campuses} campuses "
          f"in {total:.2f} s, {a.parallel} in flight (per campus-subject: median {each[len(each) // 2] * 1000:.0f} ms, "
          f"max {each[-1] * 1000:.0f} ms)")


if __name__ == "__main__":
    main()
