#!/usr/bin/env python3
"""tickets_verify.py: every candidate of a `cetctl bench-paid` file downloads their ticket
twice (forwards, then backwards), --parallel at once, and each body is compared byte for
byte with the file cetd kept for it (DATA_DIR/tickets/<key>.pdf, found by the key in the
ETag). With more tickets than the memory cache holds (256 MB, ~5,500), entries are
evicted while replies that refer to them are still being written: the check that serving
without a copy never sends the wrong bytes. Run against the print date's clock, after the
tickets were rendered (ahead, or by a first round). docs/benchmarks.md, "Print day".

Usage: tickets_verify.py --port 19182 --candidates paid2.tsv --data D2 [--parallel 48]
"""
import argparse
import http.client
import os
import sys
import threading


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--candidates", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--subject", default="1")
    ap.add_argument("--parallel", type=int, default=48)
    a = ap.parse_args()
    tokens = [line.split("\t")[0] for line in open(a.candidates) if line.strip()]
    tdir = os.path.join(a.data, "tickets")
    files = {f[:16]: os.path.join(tdir, f) for f in os.listdir(tdir) if f.endswith(".pdf")}
    work = tokens + tokens[::-1]
    lock = threading.Lock()
    wrong, done = [], [0]

    def worker(i):
        c = http.client.HTTPConnection(a.host, a.port, timeout=60)
        for k in range(i, len(work), a.parallel):
            c.request("GET", f"/api/v1/admission-tickets/{a.subject}",
                      headers={"Authorization": "Bearer " + work[k]})
            r = c.getresponse()
            body = r.read()
            etag = (r.getheader("ETag") or '"-"').strip('"').split("-")[-1]
            want = None
            if etag in files:
                with open(files[etag], "rb") as f:
                    want = f.read()
            with lock:
                done[0] += 1
                if r.status != 200 or body != want:
                    wrong.append(f"candidate {k % len(tokens)}: status {r.status}, "
                                 f"{len(body)} bytes, kept file: {len(want or b'')} bytes")

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(a.parallel)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(f"tickets_verify: {done[0]} downloads, {len(wrong)} wrong")
    for w in wrong[:10]:
        print("  " + w)
    sys.exit(1 if wrong or not done[0] else 0)


if __name__ == "__main__":
    main()
