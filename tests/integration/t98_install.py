"""Install and package (issue 14, item 2): `cmake --install` under a prefix, the
CPack .deb (contents, conffiles, maintainer scripts), the systemd units
(`systemd-analyze verify`) and the man pages.

Needs the build tree of CET_BUILD_DIR (CTest sets it). Steps whose tool is not
installed (cpack's dpkg-deb, systemd-analyze, groff) are skipped with a note;
tools/setup-deps.sh test installs them all.
"""
import os
import re
import shutil
import subprocess
import tempfile

import harness

BUILD = harness.BUILD


def read(path):
    with open(path) as f:
        return f.read()


def run(*cmd, check=True, **kw):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       timeout=300, **kw)
    if check and p.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} exited {p.returncode}:\n{p.stdout[-3000:]}")
    return p


class InstallTest(harness.unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="cet-install-")
        cls.prefix = os.path.join(cls.tmp, "prefix")
        run("cmake", "--install", BUILD, "--prefix", cls.prefix)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_layout(self):
        p = self.prefix
        for rel in ("bin/cetd", "bin/cetctl", "lib/systemd/system/cetd.service",
                    "lib/systemd/system/cetreg-edge.service", "etc/cetreg/cetd.conf",
                    "etc/cetreg/h2o.conf", "share/cetreg/www/index.html",
                    "share/man/man8/cetd.8", "share/man/man5/cetd.conf.5",
                    "share/man/man8/cetctl.8", "share/man/man1/cetbench.1"):
            self.assertTrue(os.path.exists(os.path.join(p, rel)), rel)
        unit = read(os.path.join(p, "lib/systemd/system/cetd.service"))
        self.assertIn(f"ExecStart={p}/bin/cetd --config {p}/etc/cetreg/cetd.conf", unit)
        for line in ("Type=notify", "WatchdogSec=", "User=cetd", "NoNewPrivileges=yes",
                     "ProtectSystem=strict", "ReadWritePaths=/var/lib/cetd", "PrivateTmp=yes"):
            self.assertIn(line, unit)
        out = run(os.path.join(p, "bin/cetd"), "--version").stdout
        self.assertRegex(out, r"^cetd \d+\.\d+\.\d+")

    def test_sample_config(self):
        """The sample config parses; as shipped it fails closed (no secret, no pay-url)."""
        cetd = os.path.join(self.prefix, "bin/cetd")
        conf = os.path.join(self.prefix, "etc/cetreg/cetd.conf")
        p = run(cetd, "--config", conf, "--check-config", check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertEqual(len(p.stdout.strip().splitlines()), 1, p.stdout)
        secret = os.path.join(self.tmp, "secret")
        with open(secret, "wb") as f:
            f.write(harness.SECRET)
        os.chmod(secret, 0o600)
        text = read(conf)
        text = re.sub(r"(?m)^data = .*$", f"data = {self.tmp}/data", text)
        text = re.sub(r"(?m)^socket-group = .*$", "", text)
        text = re.sub(r"(?m)^payment-secret-file = .*$", f"payment-secret-file = {secret}", text)
        text = re.sub(r"(?m)^; pay-url = ", "pay-url = ", text)
        mine = os.path.join(self.tmp, "cetd.conf")
        with open(mine, "w") as f:
            f.write(text)
        p = run(cetd, "--config", mine, "--check-config")
        self.assertEqual(p.stdout.strip(), "cetd: config ok")

    def test_units_verify(self):
        sa = shutil.which("systemd-analyze")
        if not sa:
            self.skipTest("systemd-analyze not installed")
        units = os.path.join(self.prefix, "lib/systemd/system")
        run(sa, "verify", "--man=no", os.path.join(units, "cetd.service"),
            os.path.join(units, "cetreg-edge.service"))

    def test_man_pages(self):
        groff = shutil.which("groff")
        if not groff:
            self.skipTest("groff not installed")
        mandir = os.path.join(self.prefix, "share/man")
        for sec, name in (("8", "cetd"), ("5", "cetd.conf"), ("8", "cetctl"), ("1", "cetbench")):
            p = run(groff, "-man", "-Tutf8", "-ww", "-z", os.path.join(mandir, f"man{sec}",
                                                                      f"{name}.{sec}"))
            self.assertEqual(p.stdout.strip(), "", f"{name}.{sec}: {p.stdout}")

    def test_deb(self):
        if not shutil.which("dpkg-deb") or not shutil.which("cpack"):
            self.skipTest("dpkg-deb or cpack not installed")
        out = os.path.join(self.tmp, "pkg")
        run("cpack", "-G", "DEB", "-B", out, "--config", os.path.join(BUILD, "CPackConfig.cmake"))
        debs = [f for f in os.listdir(out) if f.endswith(".deb")]
        self.assertEqual(len(debs), 1, debs)
        deb = os.path.join(out, debs[0])
        listing = run("dpkg-deb", "-c", deb).stdout
        files = {ln.split()[-1].lstrip(".") for ln in listing.splitlines()}
        for f in ("/usr/bin/cetd", "/usr/bin/cetctl", "/usr/lib/systemd/system/cetd.service",
                  "/usr/lib/systemd/system/cetreg-edge.service", "/etc/cetreg/cetd.conf",
                  "/etc/cetreg/h2o.conf", "/usr/share/cetreg/www/index.html",
                  "/usr/share/man/man8/cetd.8"):
            self.assertIn(f, files)
        info = run("dpkg-deb", "-I", deb).stdout
        self.assertIn("Package: cetreg", info)
        self.assertRegex(info, r"Depends:.*adduser")
        x = os.path.join(self.tmp, "x")
        os.makedirs(x)
        run("dpkg-deb", "-e", deb, os.path.join(x, "DEBIAN"))
        run("dpkg-deb", "-x", deb, x)
        ctl = os.path.join(x, "DEBIAN")
        conffiles = read(os.path.join(ctl, "conffiles")).split()
        self.assertEqual(sorted(conffiles), ["/etc/cetreg/cetd.conf", "/etc/cetreg/h2o.conf"])
        postinst = read(os.path.join(ctl, "postinst"))
        for needle in ("adduser --system --ingroup cetd", "cetd-edge",
                       "install -d -o cetd -g cetd -m 0750 /var/lib/cetd", "chmod 0600"):
            self.assertIn(needle, postinst)
        for script in ("postinst", "prerm", "postrm"):
            path = os.path.join(ctl, script)
            self.assertTrue(os.stat(path).st_mode & 0o111, script)
            run("sh", "-n", path)
        unit = read(os.path.join(x, "usr/lib/systemd/system/cetd.service"))
        self.assertIn("ExecStart=/usr/bin/cetd --config /etc/cetreg/cetd.conf", unit)
        edge = read(os.path.join(x, "etc/cetreg/h2o.conf"))
        self.assertIn('proxy.reverse.url: "http://[unix:/run/cetd/cetd.sock]/api/"', edge)
        self.assertIn("/usr/share/cetreg/www", edge)
        self.assertNotRegex(edge, r"@[A-Z_]+@")
        sa = shutil.which("systemd-analyze")
        if sa:  # the packaged units, against the packaged binaries in the scratch root
            units = [os.path.join(x, "usr/lib/systemd/system", u)
                     for u in ("cetd.service", "cetreg-edge.service")]
            for u in units:
                text = read(u).replace("/usr/bin/cetd", os.path.join(x, "usr/bin/cetd"))
                with open(u, "w") as f:
                    f.write(text)
            run(sa, "verify", "--man=no", *units)
        # the packaged binary runs from the scratch root
        p = run(os.path.join(x, "usr/bin/cetd"), "--version")
        self.assertTrue(p.stdout.startswith("cetd "))


if __name__ == "__main__":
    harness.main()
