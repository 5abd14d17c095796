"""Running cetd like a service (issue 14) and its production defaults (issue 9, items 2, 9, 10).

  - fail closed: no payment secret, a secret readable by others, no --pay-url, an
    unusable --data: each exits non-zero with one line, unless --dev; a --pay-url
    that is local or plain HTTP is warned about once (not refused) without --dev;
  - --config (INI; flags override it), --check-config, --version on every binary;
  - a port another process holds, or another cetd holds, is refused;
  - an unknown method gets a JSON 405; a 401 carries WWW-Authenticate: Bearer;
  - X-Request-Id: taken from the edge or made, sent back, in error JSON and logs;
  - logs are logfmt in UTC;
  - /livez, /readyz (writer alive, disk floor);
  - /metrics passes promtool check metrics (when promtool is installed), with the
    commit and fsync latency histograms from the start;
  - --trusted-proxy: X-Forwarded-For believed from a trusted TCP peer only (an
    unusable one is a 400);
  - --socket-mode: the unix socket's mode.
"""
import json
import os
import re
import shutil
import socket
import stat
import subprocess
import tempfile
import urllib.error
import urllib.request

import harness

CETD = harness.CETD


def run_cetd(*args, timeout=20):
    p = subprocess.run([CETD, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def http(method, url, headers=None, body=None):
    req = urllib.request.Request(url, method=method, headers=headers or {}, data=body)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


class FailClosedTest(harness.unittest.TestCase):
    """Start-up refusals: no engine needed beyond a directory."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="cet-ops-")
        self.secret = os.path.join(self.tmp, "secret")
        with open(self.secret, "wb") as f:
            f.write(harness.SECRET)
        os.chmod(self.secret, 0o600)
        self.data = os.path.join(self.tmp, "data")
        self.port = harness.free_port()
        self.base = ["--data", self.data, "--listen", f"127.0.0.1:{self.port}",
                     "--check-config"]

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def refused(self, args, needle):
        rc, out, err = run_cetd(*args)
        self.assertNotEqual(rc, 0, err)
        lines = [ln for ln in err.splitlines() if ln.strip()]
        self.assertEqual(len(lines), 1, err)
        self.assertIn(needle, lines[0])

    def test_missing_secret(self):
        self.refused(self.base + ["--pay-url", "https://pay.example/p"], "--payment-secret-file")
        rc, out, err = run_cetd(*self.base, "--dev")
        self.assertEqual(rc, 0, err)

    def test_secret_readable_by_others(self):
        os.chmod(self.secret, 0o644)
        self.refused(self.base + ["--payment-secret-file", self.secret, "--pay-url",
                                  "https://pay.example/p"], "readable by group or others")
        rc, _, err = run_cetd(*self.base, "--payment-secret-file", self.secret, "--dev")
        self.assertEqual(rc, 0, err)

    def test_pay_url_required(self):
        self.refused(self.base + ["--payment-secret-file", self.secret], "--pay-url")

    def test_pay_url_of_a_simulator_warned(self):
        # a production start pointed at a local or plain-HTTP payment page: one warning
        args = self.base + ["--payment-secret-file", self.secret, "--pay-url"]
        for url in ("http://127.0.0.1:8090/pay", "https://localhost/pay", "http://pay.example/p"):
            rc, _, err = run_cetd(*args, url)
            self.assertEqual(rc, 0, err)
            self.assertEqual(err.count("warning: --pay-url"), 1, err)
            self.assertIn(url, err)
        # a real platform's page, or --dev (tests, the simulator): no warning
        for extra in (["https://pay.example/p"], ["http://127.0.0.1:8090/pay", "--dev"]):
            rc, _, err = run_cetd(*args, *extra)
            self.assertEqual(rc, 0, err)
            self.assertNotIn("warning", err)

    def test_unusable_data(self):
        notdir = os.path.join(self.tmp, "file")
        open(notdir, "w").close()
        args = ["--data", notdir, "--listen", f"127.0.0.1:{self.port}", "--dev"]
        self.refused(args, "cannot use --data")

    def test_config_file(self):
        conf = os.path.join(self.tmp, "cetd.conf")
        with open(conf, "w") as f:
            f.write(f"; a comment\n[cetd]\ndata = {self.data}\nlisten = 127.0.0.1:{self.port}\n"
                    f"payment-secret-file = {self.secret}\npay-url = https://pay.example/p\n"
                    "threads = 2\nlog-level = warn\n")
        rc, out, err = run_cetd("--config", conf, "--check-config")
        self.assertEqual((rc, out.strip()), (0, "cetd: config ok"), err)
        # a flag overrides the file, and is checked like it
        self.refused(["--config", conf, "--check-config", "--threads", "0"], "--threads")
        with open(conf, "a") as f:
            f.write("no-such-key = 1\n")
        self.refused(["--config", conf, "--check-config"], "unknown setting 'no-such-key'")

    def test_versions(self):
        for binary, name in ((CETD, "cetd"), (harness.CETCTL, "cetctl"),
                             (os.path.join(harness.BUILD, "bench", "cetbench"), "cetbench")):
            if not os.path.exists(binary):
                continue
            p = subprocess.run([binary, "--version"], stdout=subprocess.PIPE, text=True,
                               timeout=10)
            self.assertEqual(p.returncode, 0)
            self.assertRegex(p.stdout, rf"^{name} \d+\.\d+\.\d+\S*\n$")

    def test_port_held_by_another_process(self):
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            s.bind(("127.0.0.1", self.port))
            s.listen()
            rc, _, err = run_cetd("--dev", "--data", self.data, "--listen",
                                  f"127.0.0.1:{self.port}")
            self.assertNotEqual(rc, 0)
            self.assertIn("another process holds the port", err)


class NotifyTest(harness.unittest.TestCase):
    """Under systemd (NOTIFY_SOCKET, WATCHDOG_USEC): READY=1 once serving, WATCHDOG=1
    from core 0's loop while the writer commits, STOPPING=1 on SIGTERM."""

    def test_sd_notify(self):
        data = harness.DataDir(candidates=20)
        sock_path = os.path.join(data.path, "notify.sock")
        ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        ns.bind(sock_path)
        ns.settimeout(10)
        env = os.environ.copy()
        env.update(NOTIFY_SOCKET=sock_path, WATCHDOG_USEC="1000000")
        engine = None
        try:
            engine = harness.Engine(data, extra=[])
            engine.stop()
            engine.start(env=env)
            got = []
            while not any("WATCHDOG=1" in g for g in got) or len(got) < 3:
                got.append(ns.recv(4096).decode())
            self.assertIn("READY=1", got[0])
            self.assertTrue(sum("WATCHDOG=1" in g for g in got) >= 1, got)
            self.assertEqual(engine.stop(), 0)
            rest = []
            ns.settimeout(2)
            try:
                while True:
                    rest.append(ns.recv(4096).decode())
            except socket.timeout:
                pass
            self.assertTrue(any("STOPPING=1" in g for g in rest), rest)
        finally:
            ns.close()
            if engine and engine.proc and engine.proc.poll() is None:
                engine.stop()
            data.cleanup()


class DiskFloorTest(harness.EngineCase):
    """/readyz turns 503 below --disk-free-min (here: more than any disk has); /livez stays 200."""

    @classmethod
    def setUpClass(cls):
        cls.data = harness.DataDir(candidates=20)
        cls.engine = harness.Engine(cls.data, extra=["--disk-free-min", str(1 << 30)])

    def test_readyz_disk_floor(self):
        st, h, body = http("GET", self.engine.base + "/readyz")
        r = json.loads(body)
        self.assertEqual((st, r["status"]), (503, "unready"), r)
        self.assertFalse(r["checks"]["disk"]["ok"])
        self.assertTrue(r["checks"]["writer"]["ok"])
        self.assertEqual(h.get("Retry-After"), "1")
        st, _, _ = http("GET", self.engine.base + "/livez")
        self.assertEqual(st, 200)


class ServiceTest(harness.EngineCase):
    @classmethod
    def setUpClass(cls):
        cls.data = harness.DataDir(candidates=50)
        cls.sock = os.path.join(cls.data.path, "cetd.sock")
        cls.engine = harness.Engine(cls.data, extra=[
            "--listen", f"unix:{cls.sock}", "--socket-mode", "0640",
            "--trusted-proxy", "127.0.0.1/32", "--log-level", "debug"])
        cls.url = cls.engine.base

    def test_second_cetd_on_the_port(self):
        other = os.path.join(self.data.path, "other")
        rc, _, err = run_cetd("--dev", "--data", other, "--listen",
                              f"127.0.0.1:{self.engine.port}")
        self.assertNotEqual(rc, 0)
        self.assertIn("another cetd holds this port", err)
        st, _, _ = http("GET", self.url + "/healthz")
        self.assertEqual(st, 200)

    def test_unknown_method_is_json_405(self):
        with socket.create_connection(("127.0.0.1", self.engine.port), timeout=5) as s:
            s.sendall(b"FOO / HTTP/1.1\r\nHost: x\r\n\r\n")
            head = s.recv(4096).decode()
        self.assertTrue(head.startswith("HTTP/1.1 405"), head)
        self.assertIn('"code":"method_not_allowed"', head)
        self.assertIn("application/json", head)

    def test_401_www_authenticate_and_request_id(self):
        st, h, body = http("GET", self.url + "/api/v1/me")
        self.assertEqual(st, 401)
        self.assertTrue(h.get("WWW-Authenticate", "").startswith("Bearer"), h)
        err = json.loads(body)["error"]
        self.assertEqual(err["request_id"], h["X-Request-Id"])
        # the edge's id is kept; a malformed one is replaced
        st, h, body = http("GET", self.url + "/api/v1/me", {"X-Request-Id": "edge-abc.123_x"})
        self.assertEqual(h["X-Request-Id"], "edge-abc.123_x")
        self.assertEqual(json.loads(body)["error"]["request_id"], "edge-abc.123_x")
        st, h, _ = http("GET", self.url + "/api/v1/me", {"X-Request-Id": "bad id\"="})
        self.assertNotEqual(h["X-Request-Id"], "bad id\"=")
        # the request's log line carries it (debug level), in logfmt, UTC
        log = self.engine.read_log()
        lines = [ln for ln in log.splitlines() if "request_id=edge-abc.123_x" in ln]
        self.assertTrue(lines, log[-2000:])
        self.assertRegex(lines[0], r"^ts=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00 "
                                   r"level=debug event=request ")
        self.assertIn("status=401", lines[0])

    def test_log_lines_cannot_be_forged(self):
        http("GET", self.url + "/api/v1/x%0Ats=forged%20level=error")
        for ln in self.engine.read_log().splitlines():
            self.assertFalse(ln.startswith("ts=forged"), ln)
            self.assertRegex(ln, r"^ts=\S+ level=(debug|info|warn|error) ")

    def test_livez_readyz(self):
        st, _, body = http("GET", self.url + "/livez")
        self.assertEqual((st, json.loads(body)["status"]), (200, "ok"))
        st, _, body = http("GET", self.url + "/readyz")
        r = json.loads(body)
        self.assertEqual((st, r["status"]), (200, "ok"), r)
        self.assertTrue(r["checks"]["writer"]["ok"])
        self.assertTrue(r["checks"]["disk"]["ok"])

    def test_metrics_promtool(self):
        st, _, body = http("GET", self.url + "/metrics")
        self.assertEqual(st, 200)
        text = body.decode()
        for fam in ("cetd_build_info", "process_cpu_seconds_total", "process_open_fds",
                    "cetd_commit_batch_size_sum", "cetd_registrations_total",
                    'cetd_commit_seconds_bucket{le="+Inf"}', "cetd_commit_seconds_sum",
                    "cetd_commit_seconds_count", 'cetd_fsync_seconds_bucket{le="0.001"}',
                    "cetd_fsync_seconds_sum", "cetd_fsync_seconds_count",
                    "cetd_commit_queue_depth", "cetd_connections_deadline_closed_total"):
            self.assertIn(fam, text)
        types = re.findall(r"^# TYPE (\S+)", text, re.M)
        helps = set(re.findall(r"^# HELP (\S+)", text, re.M))
        self.assertEqual([t for t in types if t not in helps], [])
        promtool = shutil.which("promtool")
        if not promtool:
            self.skipTest("promtool not installed (tools/setup-deps.sh test)")
        p = subprocess.run([promtool, "check", "metrics"], input=body, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=30)
        self.assertEqual(p.returncode, 0, p.stdout.decode())

    def test_socket_mode(self):
        self.assertEqual(stat.S_IMODE(os.stat(self.sock).st_mode), 0o640)

    def test_trusted_proxy_buckets(self):
        """Behind a trusted TCP proxy each client has its own login bucket (100 a minute)."""
        def login(i, xff):
            body = json.dumps({"email": f"nobody{i}@example.com", "password": "wrong-password-1",
                               "captcha_id": "x", "captcha_answer": "x"}).encode()
            st, _, _ = http("POST", self.url + "/api/v1/sessions",
                            {"Content-Type": "application/json", "X-Forwarded-For": xff}, body)
            return st
        statuses = [login(i, f"198.51.100.{i % 250 + 1}, 127.0.0.1") for i in range(110)]
        self.assertNotIn(429, statuses)
        self.assertTrue(all(s == 401 for s in statuses), statuses)
        # who cetd takes as the client, from its request log line (debug level)
        def client_of(xff, rid):
            http("GET", self.url + "/api/v1/me", {"X-Forwarded-For": xff, "X-Request-Id": rid})
            for ln in reversed(self.engine.read_log().splitlines()):
                if f"request_id={rid} " in ln and "event=request" in ln:
                    return re.search(r" client=(\S+)", ln).group(1)
            raise AssertionError(f"no log line for {rid}")
        self.assertEqual(client_of("198.51.100.9, 127.0.0.1", "xff-1"), "198.51.100.9")
        # trusted hops are skipped from the right
        self.assertEqual(client_of("198.51.100.10, 127.0.0.1, 127.0.0.1", "xff-2"),
                         "198.51.100.10")
        # an entry on the walk that is no address is refused (400): never a shared name
        for xff in ("not-an-address, 127.0.0.1", "198.51.100.11, <evil>", "1.2.3.4 5.6.7.8"):
            st, _, body = http("GET", self.url + "/api/v1/me", {"X-Forwarded-For": xff})
            self.assertEqual((st, json.loads(body)["error"]["code"]), (400, "bad_request"), xff)


if __name__ == "__main__":
    harness.main()
