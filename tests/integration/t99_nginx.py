"""nginx over TCP in front of cetd with --trusted-proxy (issue 14, item 6).

Debian's nginx runs tools/edge/nginx.conf.in (rendered here) on loopback, cetd
listens on 127.0.0.1 with --trusted-proxy 127.0.0.1/32. Clients connect to
nginx from distinct loopback source addresses (127.0.1.N), as distinct clients:
  - 110 failed logins, one from each of 110 addresses: none is rate-limited
    (100 a minute per client address): each client has its own bucket;
  - 210 from one address: that client alone is limited (429);
  - nginx's request id reaches cetd and comes back in X-Request-Id;
  - nginx's access log is logfmt in UTC with the same id.
Skipped when nginx is not installed (tools/setup-deps.sh test installs it).
"""
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import time

import harness

TEMPLATE = os.path.join(harness.ROOT, "tools", "edge", "nginx.conf.in")
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)


def login(port, i, source):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30, source_address=(source, 0))
    body = json.dumps({"email": f"nginx{i}@example.com", "password": "wrong-password-1",
                       "captcha_id": "x", "captcha_answer": "x"})
    c.request("POST", "/api/v1/sessions", body=body, headers={"Content-Type": "application/json"})
    r = c.getresponse()
    r.read()
    c.close()
    return r.status, r.getheader("X-Request-Id")


@harness.unittest.skipUnless(NGINX, "needs nginx (Debian package nginx)")
class NginxTest(harness.EngineCase):
    @classmethod
    def setUpClass(cls):
        cls.data = harness.DataDir(candidates=50)
        cls.engine = harness.Engine(cls.data, extra=["--trusted-proxy", "127.0.0.1/32"])
        cls.state = os.path.join(cls.data.path, "nginx")
        os.makedirs(cls.state)
        cls.port = harness.free_port()
        with open(TEMPLATE) as f:
            conf = f.read()
        subst = {"USER_LINE": "user root;" if os.geteuid() == 0 else "",
                 "STATE_DIR": cls.state, "CETD": f"127.0.0.1:{cls.engine.port}",
                 "LISTEN": f"127.0.0.1:{cls.port}",
                 "WWW_DIR": os.path.join(harness.ROOT, "tools", "www")}
        for k, v in subst.items():
            conf = conf.replace(f"@{k}@", v)
        assert not re.search(r"@[A-Z_]+@", conf)
        cls.conf = os.path.join(cls.state, "nginx.conf")
        with open(cls.conf, "w") as f:
            f.write(conf)
        env = dict(os.environ, TZ="UTC")
        t = subprocess.run([NGINX, "-t", "-p", cls.state, "-c", cls.conf], env=env,
                           capture_output=True, text=True, timeout=30)
        assert t.returncode == 0, t.stderr
        cls.nginx = subprocess.Popen([NGINX, "-p", cls.state, "-c", cls.conf, "-g",
                                      "daemon off;"], env=env)
        for _ in range(100):
            try:
                c = http.client.HTTPConnection("127.0.0.1", cls.port, timeout=2)
                c.request("GET", "/healthz")
                if c.getresponse().status == 200:
                    break
            except OSError:
                time.sleep(0.1)

    @classmethod
    def tearDownClass(cls):
        cls.nginx.send_signal(signal.SIGQUIT)  # graceful
        try:
            cls.nginx.wait(timeout=20)
        except subprocess.TimeoutExpired:
            cls.nginx.kill()
        super().tearDownClass()

    def test_1_request_id_and_log(self):
        st, rid = login(self.port, 0, "127.0.1.200")
        self.assertEqual(st, 401)
        self.assertRegex(rid or "", r"^[0-9a-f]{32}$")
        time.sleep(0.3)
        with open(os.path.join(self.state, "access.log")) as f:
            lines = [ln for ln in f if f"request_id={rid}" in ln]
        self.assertTrue(lines)
        self.assertRegex(lines[0], r"^ts=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00 level=info "
                                   r"comp=edge event=request ")

    def test_2_each_client_its_own_bucket(self):
        statuses = [login(self.port, i, f"127.0.1.{i + 1}")[0] for i in range(110)]
        self.assertEqual(statuses.count(429), 0, statuses)
        self.assertEqual(set(statuses), {401})

    def test_3_one_client_is_limited(self):
        # 210 > 2 x 100: some fall past the limit even when a rate window ends midway
        statuses = [login(self.port, 1000 + i, "127.0.2.1")[0] for i in range(210)]
        self.assertIn(429, statuses)
        self.assertEqual(statuses[:50].count(429), 0, statuses)


if __name__ == "__main__":
    harness.main()
