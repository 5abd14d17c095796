"""harness: start the real cetd on a real LMDB directory and speak real HTTP to it.

Used by every integration test (Python standard library only). Binaries come
from the environment (CETD, CETCTL, set by CTest) or the default build dir.
Everything listens on 127.0.0.1 only.
"""
import csv
import http.client
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("CET_BUILD_DIR", os.path.join(ROOT, "build"))
CETD = os.environ.get("CETD", os.path.join(BUILD, "net", "cetd"))
CETCTL = os.environ.get("CETCTL", os.path.join(BUILD, "tools", "cetctl"))
PAYSIM = os.path.join(ROOT, "tools", "paysim.py")
SECRET = b"integration-test-payment-secret-0123456789"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cetctl(*args, check=True, capture=True):
    """Runs cetctl; returns CompletedProcess (stdout text)."""
    p = subprocess.run([CETCTL, *args], stdout=subprocess.PIPE if capture else None,
                       stderr=subprocess.PIPE, text=True, timeout=600)
    if check and p.returncode != 0:
        raise AssertionError(f"cetctl {' '.join(args)} exited {p.returncode}: {p.stderr[-2000:]}")
    return p


class DataDir:
    """A temporary LMDB environment with demo data."""

    def __init__(self, candidates=2000, seed=1):
        self.path = tempfile.mkdtemp(prefix="cet-int-")
        self.data = os.path.join(self.path, "data")
        cetctl("demo", "--data", self.data, "--candidates", str(candidates), "--seed", str(seed))
        self.secret_file = os.path.join(self.path, "payment.secret")
        with open(self.secret_file, "wb") as f:
            f.write(SECRET)

    def bench_prep(self, n, hold_ttl=None, legacy_pwhash=False):
        """n bound, logged-in candidates: list of dicts (token, email, id_type, ...);
        legacy_pwhash: their password hashed at the costs before today's (upgraded at login)."""
        out = os.path.join(self.path, f"prep-{uuid.uuid4().hex[:8]}.tsv")
        args = ["bench-prep", "--data", self.data, "--candidates", str(n), "--out", out]
        if hold_ttl:
            args += ["--hold-ttl", str(hold_ttl)]
        if legacy_pwhash:
            args.append("--legacy-pwhash")
        cetctl(*args)
        rows = []
        with open(out, encoding="utf-8") as f:
            for line in f:
                t = line.rstrip("\n").split("\t")
                rows.append({"token": t[0], "email": t[1], "id_type": t[2], "id_number": t[3],
                             "name": t[4], "campus": t[5], "subjects": t[6]})
        return rows

    def check(self):
        return cetctl("check", "--data", self.data, check=False)

    def export(self, kind):
        p = cetctl("export", kind, "--data", self.data)
        return list(csv.DictReader(io.StringIO(p.stdout)))

    def cleanup(self):
        shutil.rmtree(self.path, ignore_errors=True)


CAPTCHA_ANSWER_FILES = []  # --captcha-answers files of the engines started with the captcha on


def captcha_answer(captcha_id):
    """The answer of a challenge issued by a cetd of this process (captcha on), or None."""
    for path in CAPTCHA_ANSWER_FILES:
        try:
            with open(path, encoding="ascii") as f:
                for line in f:
                    cid, _, answer = line.strip().partition(" ")
                    if cid == captcha_id:
                        return answer
        except FileNotFoundError:
            continue
    return None


class Engine:
    """One cetd process over a DataDir."""

    def __init__(self, data, hold_ttl=None, order_ttl=None, captcha="off", threads=2,
                 extra=(), sync="full"):
        self.data = data
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        # --dev: the tests run without a real payment platform (pay-url is the
        # simulator's default) and with secret files as the test wrote them.
        self.args = [CETD, "--dev", "--data", data.data, "--listen", f"127.0.0.1:{self.port}",
                     "--threads", str(threads), "--captcha", captcha,
                     "--payment-secret-file", data.secret_file, "--sync", sync, *extra]
        # with the captcha on, cetd writes each challenge's answer to a file for the
        # tests (the image is a PNG that only a person reads): see captcha_answer()
        self.captcha_answers = None
        if captcha == "on":
            self.captcha_answers = os.path.join(data.path, f"captcha-{self.port}.txt")
            self.args += ["--captcha-answers", self.captcha_answers]
            CAPTCHA_ANSWER_FILES.append(self.captcha_answers)
        if hold_ttl:
            self.args += ["--hold-ttl", str(hold_ttl)]
        if order_ttl:
            self.args += ["--order-ttl", str(order_ttl)]
        self.proc = None
        self.log_path = os.path.join(data.path, f"cetd-{self.port}.log")
        self.start()

    def start(self, env=None):
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.args, stdout=subprocess.PIPE, stderr=self.log,
                                     env=env or os.environ.copy())
        deadline = time.time() + 30
        while time.time() < deadline:
            line = self.proc.stdout.readline().decode()
            if line.startswith("cetd: listening on"):
                # keep draining stdout so the pipe never fills
                threading.Thread(target=self.proc.stdout.read, daemon=True).start()
                return
            if self.proc.poll() is not None:
                break
        raise AssertionError("cetd did not start: " + self.read_log()[-3000:])

    def read_log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "runtime error:", "LeakSanitizer",
                         "ERROR: ThreadSanitizer")

    def sanitizer_check(self):
        """Raises AssertionError with the excerpt if the log has a sanitizer report."""
        text = self.read_log()
        hits = [i for i in (text.find(m) for m in self.SANITIZER_MARKERS) if i >= 0]
        if hits:
            at = min(hits)
            raise AssertionError(f"sanitizer report in {self.log_path}:\n"
                                 + text[max(0, at - 200):at + 6000])

    def stop(self):
        """SIGTERM: drains and must exit 0. Fails on any sanitizer report in the log."""
        rc = None
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            rc = self.proc.wait(timeout=60)
            self.log.close()
            self.proc = None
        self.sanitizer_check()
        return rc

    def kill9(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)
        self.log.close()
        self.proc = None
        self.sanitizer_check()

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def client(self, token=None):
        return Client(self.port, token)


class Client:
    """A keep-alive HTTP/1.1 client for one thread."""

    def __init__(self, port, token=None):
        self.port = port
        self.token = token
        self.conn = None

    def request(self, method, path, body=None, headers=None, raw=None, token=None):
        """Returns (status, parsed JSON or None, headers dict with lower-case names)."""
        h = {"Content-Type": "application/json"} if (body is not None or raw is not None) else {}
        tok = token if token is not None else self.token
        if tok:
            h["Authorization"] = "Bearer " + tok
        if headers:
            h.update(headers)
        data = raw if raw is not None else (json.dumps(body, ensure_ascii=False).encode()
                                            if body is not None else None)
        for attempt in range(2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            try:
                self.conn.request(method, path, body=data, headers=h)
                r = self.conn.getresponse()
                payload = r.read()
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.conn.close()
                self.conn = None
                if attempt:
                    raise
        hdrs = {k.lower(): v for k, v in r.getheaders()}
        try:
            parsed = json.loads(payload) if payload else None
        except ValueError:
            parsed = None
        if r.getheader("Connection", "").lower() == "close":
            self.conn.close()
            self.conn = None
        return r.status, parsed, hdrs

    def close(self):
        if self.conn:
            self.conn.close()
            self.conn = None


def metrics(engine):
    """Scrapes GET /metrics: ({(campus, subject): seats_left}, {series: value text})."""
    c = engine.client()
    try:
        c.request("GET", "/healthz")
        c.conn.request("GET", "/metrics")
        r = c.conn.getresponse()
        text = r.read().decode()
        assert r.status == 200, r.status
    finally:
        c.close()
    left, values = {}, {}
    for line in text.splitlines():
        if line.startswith("#") or " " not in line:
            continue
        name, value = line.rsplit(" ", 1)
        if name.startswith("cetd_seats_left{"):
            campus = name.split('campus="', 1)[1].split('"', 1)[0]
            subject = name.split('subject="', 1)[1].split('"', 1)[0]
            left[(campus, subject)] = int(value)
        else:
            values[name] = value
    return left, values


DEMO_STAFF_PASSWORD = "demo-Staff-2026"  # cetctl demo's staff (tools/cetctl_demo.c)


def staff_token(engine, user="support", password=DEMO_STAFF_PASSWORD):
    """Logs a staff user in (POST /api/v1/admin/sessions); returns the token."""
    c = engine.client()
    st, body, _ = c.request("POST", "/api/v1/admin/sessions", {"user": user, "password": password})
    c.close()
    assert st == 201, (st, body)
    return body["token"]


def error_code(body):
    return (body or {}).get("error", {}).get("code")


def pay_notice(engine, order_id, amount, txn=None, bad_signature=False):
    """Sends a signed payment notice the way the platform does (via tools/paysim.py)."""
    sys.path.insert(0, os.path.dirname(PAYSIM))
    import paysim  # noqa: E402
    return paysim.send_notice(engine.base, SECRET, order_id, amount,
                              txn or "T" + uuid.uuid4().hex[:16], bad_signature)


class EngineCase(unittest.TestCase):
    """A TestCase class sharing one DataDir (cls.data) and one Engine (cls.engine):
    at the end cetd must stop cleanly (SIGTERM, exit 0) and the data is removed."""

    @classmethod
    def tearDownClass(cls):
        try:
            rc = cls.engine.stop()
            assert rc == 0, f"cetd exited {rc}"
        finally:
            cls.data.cleanup()


def main():
    unittest.main(verbosity=2)
