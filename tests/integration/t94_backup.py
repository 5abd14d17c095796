"""t94_backup: the backup and restore drill of docs/operations.md (issue 14, item 5).

Against the real cetd over real HTTP and real LMDB files:
  - candidates register written and oral subjects and some pay them;
  - `cetctl backup` runs while cetd serves and while registrations keep coming;
    the backup has the data's mode (0640, whatever cetctl's umask) and owner;
  - `cetctl restore` onto the directory cetd holds is refused with one line,
    and so are a backup into a non-empty directory and a restore into a
    non-empty one without --force;
  - cetd stops; the backup is restored into a new directory (the restore runs the
    checks of `cetctl check`); a cetd started on it answers every registration
    acknowledged before the backup exactly as before, with the same sessions, and
    every later one either as acknowledged or not at all; `cetctl check` passes.

Run: CET_BUILD_DIR=build python3 tests/integration/t94_backup.py
"""
import os
import shutil
import stat
import subprocess
import tempfile
import threading
import time
import unittest

import harness

CANDIDATES = 6000
PREP = 2600          # bound, logged-in candidates from bench-prep
BEFORE = 120         # of them register (and half of those pay) before the backup
WRITERS = 4          # threads registering while the backup runs
AFTER_S = 0.4        # the writers go on this long after the backup returned


def cetctl(*args, umask=None):
    """Runs cetctl; (exit code, stdout, stderr)."""
    p = subprocess.run([harness.CETCTL, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=300,
                       preexec_fn=(lambda: os.umask(umask)) if umask is not None else None)
    return p.returncode, p.stdout, p.stderr


def one_line(text):
    lines = [ln for ln in text.splitlines() if ln.strip()]
    return lines[0] if len(lines) == 1 else None


class RestoredData:
    """What harness.Engine needs of a DataDir, for a restored directory."""

    def __init__(self, path, data, secret_file):
        self.path, self.data, self.secret_file = path, data, secret_file


def registrations(client):
    """subject -> registration row of GET /api/v1/candidate (written and oral)."""
    st, body, _ = client.request("GET", "/api/v1/candidate")
    assert st == 200, (st, body)
    return {row["subject"]: row for row in body["written"] + body["oral"]}


def register(client, row, subject):
    st, body, _ = client.request("POST", "/api/v1/registrations",
                                 {"subject": subject, "campus": row["campus"]})
    return st, body


class BackupDrill(unittest.TestCase):

    def setUp(self):
        self.data = harness.DataDir(candidates=CANDIDATES)
        self.rows = self.data.bench_prep(PREP)
        self.engine = harness.Engine(self.data, threads=2)
        self.restored = None
        self.tmp = tempfile.mkdtemp(prefix="cet-backup-")

    def tearDown(self):
        for e in (self.engine, self.restored):
            if e and e.alive():
                e.stop()
        self.data.cleanup()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def register_and_pay(self, rows):
        """Written subject (and its oral when offered) for each row; every other row pays."""
        for i, row in enumerate(rows):
            c = self.engine.client(row["token"])
            written = row["subjects"][0]
            st, body = register(c, row, written)
            self.assertEqual(st, 201, body)
            subjects = [written]
            if written == "1" and "F" in row["subjects"]:
                st, body, _ = c.request("GET", "/api/v1/offers?kind=oral")
                self.assertEqual(st, 200, body)
                campuses = [o["campus"]["code"] for o in body["offers"] if o["subject"] == "F"]
                if campuses:
                    st, body, _ = c.request("POST", "/api/v1/registrations",
                                            {"subject": "F", "campus": campuses[0]})
                    self.assertEqual(st, 201, body)
                    subjects.append("F")
            if i % 2 == 0:
                st, order, _ = c.request("POST", "/api/v1/payments",
                                         {"subjects": subjects, "channel": "alipay"})
                self.assertEqual(st, 201, order)
                st, js = harness.pay_notice(self.engine, order["order_id"], order["amount"])
                self.assertEqual((st, js.get("status")), (200, "paid"), js)
            c.close()

    def writers(self, rows, stop):
        """Threads registering rows' written subject until stop; returns (threads, acks)."""
        acks = {}  # row index -> (monotonic time of the 201, registration id)
        lock = threading.Lock()

        def run(part):
            for i in part:
                if stop.is_set():
                    return
                c = self.engine.client(rows[i]["token"])
                st, body = register(c, rows[i], rows[i]["subjects"][0])
                c.close()
                if st == 201:
                    with lock:
                        acks[i] = time.monotonic()
        threads = [threading.Thread(target=run, args=(range(k, len(rows), WRITERS),))
                   for k in range(WRITERS)]
        for t in threads:
            t.start()
        return threads, acks

    def test_drill(self):
        before, during = self.rows[:BEFORE], self.rows[BEFORE:]
        self.register_and_pay(before)
        served = []
        for row in before:
            c = self.engine.client(row["token"])
            served.append(registrations(c))
            c.close()
        self.assertTrue(any(r["state"] == "paid" for regs in served for r in regs.values()))
        self.assertTrue(any(r["state"] == "unpaid" for regs in served for r in regs.values()))
        self.assertTrue(any(len(regs) > 1 for regs in served))

        src = os.path.join(self.data.data, "data.mdb")
        if os.geteuid() == 0:
            os.chown(src, 4242, 4343)  # the owner a backup must keep (cetd's user in production)
        src_stat = os.stat(src)
        self.assertEqual(stat.S_IMODE(src_stat.st_mode), 0o640)

        # the backup, while cetd serves and registrations keep coming
        stop = threading.Event()
        threads, acks = self.writers(during, stop)
        deadline = time.monotonic() + 30
        while len(acks) < 50 and time.monotonic() < deadline:
            time.sleep(0.01)
        self.assertGreaterEqual(len(acks), 50, "the writers are registering")
        backup = os.path.join(self.tmp, "backup")
        t_begin = time.monotonic()
        rc, out, err = cetctl("backup", "--data", self.data.data, backup, umask=0)
        t_end = time.monotonic()
        time.sleep(AFTER_S)
        stop.set()
        for t in threads:
            t.join(timeout=60)
        self.assertEqual(rc, 0, err)
        self.assertIn("backup: ", out)
        # the live directory keeps its commit log and checkpoint, and they are the
        # files cetd writes: a backup that removed them (it once did) left cetd
        # logging into unlinked files, and a power loss would lose what they held
        live = sorted(os.listdir(self.data.data))
        for name in ("checkpoint", "wal-0.log", "wal-1.log"):
            self.assertIn(name, live, "the backup left the live directory's " + name)
        fd_dir = f"/proc/{self.engine.proc.pid}/fd"
        targets = [os.readlink(os.path.join(fd_dir, f)) for f in os.listdir(fd_dir)]
        logs = [t for t in targets if os.path.basename(t).startswith("wal-")]
        self.assertTrue(logs, targets)
        self.assertFalse([t for t in logs if t.endswith("(deleted)")], logs)
        acked_before = {i for i, at in acks.items() if at < t_begin}
        acked_after = {i for i, at in acks.items() if at > t_end}
        self.assertTrue(acked_before and acked_after,
                        "registrations were acknowledged before and after the backup")

        bk = os.stat(os.path.join(backup, "data.mdb"))
        self.assertEqual(stat.S_IMODE(bk.st_mode), 0o640, "the backup has the data's mode")
        self.assertEqual((bk.st_uid, bk.st_gid), (src_stat.st_uid, src_stat.st_gid),
                         "the backup has the data's owner")
        self.assertEqual(sorted(os.listdir(backup)), ["data.mdb"], "no temporary file, no lock")

        # refusals, each in one line, changing nothing
        rc, out, err = cetctl("restore", "--data", self.data.data, "--force", backup)
        line = one_line(err)
        self.assertNotEqual(rc, 0)
        self.assertIsNotNone(line, err)
        self.assertIn("is held by cetd (pid", line)
        self.assertEqual(os.stat(src).st_ino, src_stat.st_ino, "the held data was not replaced")
        rc, _, err = cetctl("restore", "--data", self.data.data, backup)
        self.assertNotEqual(rc, 0)
        self.assertIn("is not empty", one_line(err) or err)
        rc, _, err = cetctl("backup", "--data", self.data.data, backup)
        self.assertNotEqual(rc, 0)
        self.assertIn("is not an empty directory", one_line(err) or err)
        c = self.engine.client(before[0]["token"])
        self.assertEqual(registrations(c), served[0], "cetd serves on, untouched")
        c.close()
        _, metrics = harness.metrics(self.engine)
        self.assertGreater(int(metrics["cetd_commit_seconds_count"]), 0)
        self.assertGreater(int(metrics["cetd_fsync_seconds_count"]), 0)
        self.assertEqual(self.engine.stop(), 0)

        # restore into a new directory: it runs the checks of `cetctl check`
        new = os.path.join(self.tmp, "restored")
        rc, out, err = cetctl("restore", "--data", new, backup)
        self.assertEqual(rc, 0, out + err)
        self.assertIn("restore: ", out)
        self.assertIn("check: ok (0 violations)", out)
        rs = os.stat(os.path.join(new, "data.mdb"))
        self.assertEqual(stat.S_IMODE(rs.st_mode), 0o640)
        self.assertEqual((rs.st_uid, rs.st_gid), (src_stat.st_uid, src_stat.st_gid))

        # a cetd on it serves the same data, to the same sessions
        self.restored = harness.Engine(RestoredData(self.tmp, new, self.data.secret_file),
                                       threads=2)
        for row, regs in zip(before, served):
            c = self.restored.client(row["token"])
            self.assertEqual(registrations(c), regs, row["email"])
            c.close()
        # the writes that went on: acknowledged before the backup began means in it;
        # anything in it was acknowledged, and reads as it was
        for i, row in enumerate(during):
            c = self.restored.client(row["token"])
            regs = registrations(c)
            c.close()
            written = row["subjects"][0]
            if i in acked_before:
                self.assertIn(written, regs, f"{row['email']} was acknowledged before the backup")
            if written in regs:
                self.assertIn(i, acks, f"{row['email']} is in the backup unacknowledged")
                self.assertEqual((regs[written]["state"], regs[written]["campus"]["code"]),
                                 ("unpaid", row["campus"]))
        self.assertEqual(self.restored.stop(), 0)
        rc, out, err = cetctl("check", "--data", new)
        self.assertEqual(rc, 0, out + err)
        self.assertIn("check: ok", out)


if __name__ == "__main__":
    harness.main()
