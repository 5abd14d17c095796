"""One owner per data directory (issue 9.2): the process that opens a data
directory for writing holds its lock (DIR/cetreg.pid, an flock) for its whole
life.

  - a second cetd on the same data directory exits non-zero at once with one
    line naming the holder's pid, and the first keeps serving;
  - `cetctl import campuses` (and every other writing subcommand) refuses a held
    directory with one line naming the holder; nothing changes, and the live
    engine's counters still match the disk (`cetctl check`);
  - read-only subcommands (export, check, stats) work beside the live engine;
  - after SIGTERM, or after kill -9 (the kernel drops the lock with the
    process: no stale lock), cetctl writes again and cetd starts again.
"""
import csv
import io
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import DataDir, Engine, cetctl, free_port, metrics  # noqa: E402

LOCK_FILE = "cetreg.pid"


def cut_capacity(data, campus, subject, capacity, path):
    """Writes an import file of data's campuses with one capacity changed."""
    rows = data.export("campuses")
    for r in rows:
        if r["campus_code"] == campus and r["subject"] == subject:
            r["capacity"] = str(capacity)
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(rows[0].keys()), lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    with open(path, "w", encoding="utf-8") as f:
        f.write(buf.getvalue())


def capacity_of(data, campus, subject):
    for r in data.export("campuses"):
        if r["campus_code"] == campus and r["subject"] == subject:
            return int(r["capacity"])
    raise AssertionError(f"no offer {campus}/{subject}")


class DataLock(unittest.TestCase):
    def healthz(self):
        c = self.engine.client()
        try:
            return c.request("GET", "/healthz")[0]
        finally:
            c.close()

    @classmethod
    def setUpClass(cls):
        cls.data = DataDir(candidates=300)
        cls.engine = Engine(cls.data)

    @classmethod
    def tearDownClass(cls):
        try:
            if cls.engine.alive():
                assert cls.engine.stop() == 0
        finally:
            cls.data.cleanup()

    def test_1_lock_file_names_the_owner(self):
        with open(os.path.join(self.data.data, LOCK_FILE)) as f:
            pid, program = f.read().split("\n")[:2]
        self.assertEqual(int(pid), self.engine.proc.pid)
        self.assertEqual(program, "cetd")

    def test_2_second_cetd_exits_with_one_line(self):
        # the first one's very command line (whatever flags the harness gives), another port
        args = list(self.engine.args)
        args[args.index("--listen") + 1] = f"127.0.0.1:{free_port()}"
        p = subprocess.run(args, capture_output=True, text=True, timeout=30)
        self.assertNotEqual(p.returncode, 0)
        lines = [l for l in p.stderr.splitlines() if l.strip()]
        self.assertEqual(len(lines), 1, p.stderr)
        self.assertIn("held by cetd", lines[0])
        self.assertIn(f"pid {self.engine.proc.pid}", lines[0])
        self.assertNotIn("listening", p.stdout)
        # the owner still serves
        self.assertEqual(self.healthz(), 200)

    def test_3_cetctl_import_refused_while_held(self):
        campus, subject = "100130", "1"
        before = capacity_of(self.data, campus, subject)
        path = os.path.join(self.data.path, "campuses-cut.csv")
        cut_capacity(self.data, campus, subject, 10, path)
        p = cetctl("import", "campuses", "--data", self.data.data, path, check=False)
        self.assertNotEqual(p.returncode, 0)
        lines = [l for l in p.stderr.splitlines() if l.strip()]
        self.assertEqual(len(lines), 1, p.stderr)
        self.assertIn("held by cetd", lines[0])
        self.assertIn(f"pid {self.engine.proc.pid}", lines[0])
        self.assertIn("refusing to write", lines[0])
        self.assertEqual(capacity_of(self.data, campus, subject), before)
        # the other writing subcommands refuse too
        for args in (["bench-prep", "--data", self.data.data, "--candidates", "1", "--out",
                      os.path.join(self.data.path, "x.tsv")],
                     ["demo", "--data", self.data.data]):
            p = cetctl(*args, check=False)
            self.assertNotEqual(p.returncode, 0, args)
            self.assertIn("held by cetd", p.stderr, args)

    def test_4_readers_work_beside_the_owner(self):
        self.assertEqual(self.data.check().returncode, 0, self.data.check().stderr)
        cetctl("stats", "--data", self.data.data)
        self.assertTrue(len(self.data.export("registrations")) >= 0)
        left, _ = metrics(self.engine)
        cap = capacity_of(self.data, "100130", "1")
        self.assertEqual(left[("100130", "1")], cap)  # nobody registered: counter = capacity

    def test_5_after_stop_cetctl_writes(self):
        self.assertEqual(self.engine.stop(), 0)
        path = os.path.join(self.data.path, "campuses-cut.csv")
        cut_capacity(self.data, "100130", "1", 10, path)
        cetctl("import", "campuses", "--data", self.data.data, path)
        self.assertEqual(capacity_of(self.data, "100130", "1"), 10)
        # and the engine starts again, owning the directory with its new counters
        self.engine.start()
        left, _ = metrics(self.engine)
        self.assertEqual(left[("100130", "1")], 10)

    def test_6_kill9_leaves_no_stale_lock(self):
        if not self.engine.alive():
            self.engine.start()
        self.engine.kill9()
        # the pid file still names the dead process; the flock died with it
        path = os.path.join(self.data.path, "campuses-cut.csv")
        cut_capacity(self.data, "100130", "1", 12, path)
        cetctl("import", "campuses", "--data", self.data.data, path)
        self.assertEqual(capacity_of(self.data, "100130", "1"), 12)
        self.engine.start()
        self.assertEqual(self.healthz(), 200)
        self.assertEqual(self.data.check().returncode, 0)


if __name__ == "__main__":
    harness.main()
