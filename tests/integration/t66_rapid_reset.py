"""HTTP/2 rapid reset through the h2o edge (issue 9, item 8), and the edge's logs.

cetd behind tools/edge (h2o 2.2.5, TLS, HTTP/2) on loopback. tools/edge/h2flood.py
opens 8 HTTP/2 connections from 127.0.0.2 and sends HEADERS + RST_STREAM for 5000
streams each (bounded: at most 15 s), while 12 real requests from 127.0.0.1 go
through the edge. Checked:
  - every real request is answered 200 (no 502);
  - what the flood costs cetd is bounded by edge_limit.rb: the upstream connections
    cetd's unix listener accepted stay within what the per-connection token buckets
    let through over the flood's time (CONN_BURST + CONN_RATE x seconds for each of
    the 8 connections, read from the copy of edge_limit.rb the edge runs, in its
    state directory). The bound follows the flood's time: on a loaded machine the
    flood runs longer and its buckets refill for longer (12 s: about 5700 of 40000);
  - h2o never failed to connect to cetd.
And: the edge's access log is logfmt in UTC and carries the request id cetd
answered with. Skipped when h2o or python3-h2 is missing (tools/setup-deps.sh).
"""
import json
import os
import re
import shutil
import subprocess
import time
import urllib.request

import harness

EDGE = os.path.join(harness.ROOT, "tools", "edge", "edge.sh")
FLOOD = os.path.join(harness.ROOT, "tools", "edge", "h2flood.py")
SYS_PY = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else "python3"
CONNS, STREAMS, SECONDS, PROBES = 8, 5000, 15, 12


def have_h2():
    return subprocess.run([SYS_PY, "-c", "import h2"], capture_output=True).returncode == 0


def limit_rb(state, name):
    """A constant (NAME = 12.0) of the edge_limit.rb the edge runs: edge.sh writes its
    copy, with the rates it was given, into the state directory."""
    path = os.path.join(state, "edge_limit.rb")
    with open(path) as f:
        m = re.search(rf"(?m)^{name} = ([0-9.]+)", f.read())
    if not m:
        raise AssertionError(f"no {name} in {path}")
    return float(m.group(1))


def metric(text, name):
    for ln in text.splitlines():
        if ln.startswith(name + " "):
            return float(ln.split()[1])
    raise AssertionError(f"no {name}")


@harness.unittest.skipUnless(shutil.which("h2o") and have_h2(), "needs h2o and python3-h2")
class EdgeRapidResetTest(harness.EngineCase):
    @classmethod
    def setUpClass(cls):
        cls.data = harness.DataDir(candidates=50)
        cls.sock = os.path.join(cls.data.path, "cetd.sock")
        cls.engine = harness.Engine(cls.data, extra=["--listen", f"unix:{cls.sock}"])
        cls.state = os.path.join(cls.data.path, "edge")
        cls.https = harness.free_port()
        p = subprocess.run(["bash", EDGE, "start", "--socket", cls.sock, "--state", cls.state,
                            "--https-port", str(cls.https), "--http-port", "0"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           timeout=60)
        if p.returncode != 0:
            cls.engine.stop()
            cls.data.cleanup()
            raise AssertionError("edge did not start: " + p.stdout[-2000:])

    @classmethod
    def tearDownClass(cls):
        subprocess.run(["bash", EDGE, "stop", "--state", cls.state], capture_output=True,
                       timeout=60)
        super().tearDownClass()

    def metrics(self):
        with urllib.request.urlopen(self.engine.base + "/metrics", timeout=10) as r:
            return r.read().decode()

    def test_1_access_log(self):
        p = subprocess.run(["curl", "-sk", "-o", "/dev/null", "-D", "-",
                            f"https://127.0.0.1:{self.https}/api/v1/me"],
                           stdout=subprocess.PIPE, text=True, timeout=30)
        rid = re.search(r"(?im)^x-request-id: (\S+)", p.stdout)
        self.assertTrue(rid, p.stdout)
        time.sleep(0.3)
        with open(os.path.join(self.state, "access.log")) as f:
            lines = [ln for ln in f if f"request_id={rid.group(1)}" in ln]
        self.assertTrue(lines)
        self.assertRegex(lines[0], r"^ts=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00 "
                                   r"level=info comp=edge event=request ")
        self.assertIn("status=401", lines[0])
        self.assertIn(f"request_id={rid.group(1)}", self.engine.read_log() + lines[0])

    def test_2_rapid_reset(self):
        before = metric(self.metrics(), 'cetd_connections_accepted_total{listener="unix"}')
        p = subprocess.run([SYS_PY, FLOOD, "--port", str(self.https), "--conns", str(CONNS),
                            "--streams", str(STREAMS), "--seconds", str(SECONDS),
                            "--probes", str(PROBES)],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           timeout=SECONDS + 60)
        self.assertEqual(p.returncode, 0, p.stdout)
        r = json.loads(p.stdout.strip().splitlines()[-1])
        after = metric(self.metrics(), 'cetd_connections_accepted_total{listener="unix"}')
        upstream = after - before
        print(f"rapid reset: {r['streams_sent']} streams in {r['seconds']} s from {CONNS} "
              f"connections; cetd accepted {upstream:.0f} upstream connections; probes "
              f"{r['probes']} in {r['probe_ms']} ms")
        self.assertEqual(r["flood_errors"], [])
        self.assertGreater(r["streams_sent"], CONNS * 1000)
        self.assertTrue(r["probes"], r)
        self.assertEqual(set(r["probes"]), {200}, r)
        # each flood connection's bucket: its burst, then its rate over the flood's
        # time (+1 s: the connections open before the clock starts); the probes pass
        budget = CONNS * (limit_rb(self.state, "CONN_BURST")
                          + limit_rb(self.state, "CONN_RATE") * (r["seconds"] + 1))
        # without the gate every stream is an upstream connection: far over the budget
        self.assertGreater(r["streams_sent"], 2 * budget, "the flood outran the buckets")
        self.assertLessEqual(upstream, budget + PROBES, r)
        with open(os.path.join(self.state, "error.log")) as f:
            self.assertNotIn("failed to connect", f.read())


if __name__ == "__main__":
    harness.main()
