"""Storage faults (issue 9.6): a full disk, for real, under the real cetd over HTTP.

The data directory lives on a small tmpfs this test mounts (it needs root; if
the mount is refused the test FAILS, it never skips). A ballast file leaves
FREE_BYTES free, then registrations run until the disk is full:

  - cetd never dies (before: SIGBUS with MDB_WRITEMAP over a sparse file);
    every write it cannot commit is answered 503 storage_full (with
    Retry-After), every other answer is a 201;
  - reads keep being served (/healthz, /api/v1/me, offers);
  - the full state is logged once, not per request or batch;
  - a restart while the disk is full starts and serves reads (writes 503);
  - once the ballast is gone, writes commit again by themselves (logged once),
    and the candidates refused while full register now;
  - nothing acknowledged is lost (`cetctl export registrations`) and
    `cetctl check` passes.
"""
import collections
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import SECRET, Engine, cetctl, error_code  # noqa: E402

# demo data, cetd's start-up writes, then ballast. Room to spare after the ballast
# goes: while a checkpoint is pinned (up to ~2 s) commits take fresh pages, and the
# refused candidates' writes all come at once then (docs/storage.md, "The commit log")
TMPFS_BYTES = 256 << 20
FREE_BYTES = 512 << 10  # the commit log pins a checkpoint: commits take fresh pages until the next
CANDIDATES = 3000
THREADS = 8
FULL_LOG = "no space left for the data"
BACK_LOG = "space is back"


class TmpfsData:
    """A demo data directory on a tmpfs of its own (logs and tokens stay on disk)."""

    def __init__(self):
        self.path = tempfile.mkdtemp(prefix="cet-int-full-")
        self.mnt = os.path.join(self.path, "mnt")
        os.mkdir(self.mnt)
        p = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={TMPFS_BYTES},mode=0750",
                            "tmpfs", self.mnt], capture_output=True, text=True)
        if p.returncode != 0:
            shutil.rmtree(self.path, ignore_errors=True)
            raise AssertionError(
                "test_storage_faults needs to mount a tmpfs (run it as root, with CAP_SYS_ADMIN): "
                f"mount exited {p.returncode}: {p.stderr.strip()}")
        self.mounted = True
        self.data = os.path.join(self.mnt, "data")
        cetctl("demo", "--data", self.data, "--candidates", str(CANDIDATES))
        self.tokens = os.path.join(self.path, "cands.tsv")
        cetctl("bench-prep", "--data", self.data, "--candidates", str(CANDIDATES),
               "--out", self.tokens)
        self.secret_file = os.path.join(self.path, "payment.secret")
        with open(self.secret_file, "wb") as f:
            f.write(SECRET)
        self.ballast = os.path.join(self.mnt, "ballast")

    def rows(self):
        out = []
        with open(self.tokens, encoding="utf-8") as f:
            for line in f:
                t = line.rstrip("\n").split("\t")
                out.append({"token": t[0], "id_number": t[3], "campus": t[5]})
        return out

    def fill(self, leave):
        """Fills the tmpfs with ballast, then gives back `leave` bytes of it."""
        chunk = b"\0" * (64 << 10)
        # unbuffered: a buffered file would try its last chunk again at close and raise
        with open(self.ballast, "ab", buffering=0) as f:
            try:
                while f.write(chunk):
                    pass
            except OSError:
                pass
        size = os.path.getsize(self.ballast)
        os.truncate(self.ballast, max(0, size - leave))
        st = os.statvfs(self.mnt)
        return st.f_bfree * st.f_frsize

    def unfill(self):
        os.unlink(self.ballast)

    def export(self, kind):
        import csv
        import io
        p = cetctl("export", kind, "--data", self.data)
        return list(csv.DictReader(io.StringIO(p.stdout)))

    def check(self):
        return cetctl("check", "--data", self.data, check=False)

    def cleanup(self):
        if self.mounted:
            subprocess.run(["umount", self.mnt], capture_output=True)
            self.mounted = False
        shutil.rmtree(self.path, ignore_errors=True)


class Load:
    """Threads registering English-4 at each row's campus."""

    def __init__(self, engine, rows):
        self.engine = engine
        self.q = queue.Queue()
        for r in rows:
            self.q.put(r)
        self.lock = threading.Lock()
        self.acked = set()   # (id_number, subject, campus) answered 201
        self.full = []       # rows answered 503 storage_full
        self.refused = []    # rows answered 409 seats_full (small demo campuses fill up)
        self.other = []      # anything else: must stay empty
        self.answers = collections.Counter()
        self.stop_after_full = None

    def work(self):
        while True:
            with self.lock:
                if self.stop_after_full is not None and len(self.full) >= self.stop_after_full:
                    return
            try:
                row = self.q.get_nowait()
            except queue.Empty:
                return
            c = self.engine.client(row["token"])
            try:
                st, body, hdrs = c.request("POST", "/api/v1/registrations",
                                           {"subject": "1", "campus": row["campus"]})
            except OSError as e:
                st, body, hdrs = -1, {"exception": repr(e)}, {}
            finally:
                c.close()
            with self.lock:
                self.answers[(st, error_code(body))] += 1
                if st == 201:
                    self.acked.add((row["id_number"], "1", row["campus"]))
                elif st == 503 and error_code(body) == "storage_full" and hdrs.get("retry-after"):
                    self.full.append(row)
                elif st == 409 and error_code(body) == "seats_full":
                    self.refused.append(row)
                else:
                    self.other.append((st, body))

    def run(self, stop_after_full=None):
        self.stop_after_full = stop_after_full
        ts = [threading.Thread(target=self.work) for _ in range(THREADS)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()


class StorageFull(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.data = TmpfsData()
        cls.engine = None
        try:
            cls.engine = Engine(cls.data, threads=2)
        except BaseException:
            cls.data.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            if cls.engine and cls.engine.alive():
                cls.engine.stop()
        finally:
            cls.data.cleanup()

    def log_count(self, text):
        return self.engine.read_log().count(text)

    def read_ok(self, row):
        c = self.engine.client(row["token"])
        try:
            st, body, _ = c.request("GET", "/api/v1/me")
            self.assertEqual(st, 200, body)
            st2, body2, _ = c.request("GET", "/api/v1/offers?kind=written")
            self.assertEqual(st2, 200, body2)
            st3, _, _ = c.request("GET", "/healthz")
            self.assertEqual(st3, 200)
            return body
        finally:
            c.close()

    def test_full_disk(self):
        rows = self.data.rows()
        free = self.data.fill(FREE_BYTES)
        print(f"tmpfs: {free >> 10} KiB free for {len(rows)} candidates", flush=True)

        # 1. write until the disk is full: 201s, then 503 storage_full, nothing else
        load = Load(self.engine, rows)
        load.run(stop_after_full=40)
        print("answers while filling:", dict(load.answers), flush=True)
        self.assertTrue(self.engine.alive(), "cetd died on a full disk:\n"
                        + self.engine.read_log()[-3000:])
        self.assertEqual(load.other, [], "answers other than 201 and 503 storage_full")
        self.assertGreater(len(load.acked), 0, "no write fit at all: FREE_BYTES too small")
        self.assertGreaterEqual(len(load.full), 40, "the disk never filled up")

        # 2. reads keep being served; one acknowledged registration is visible
        acked_row = next(r for r in rows if (r["id_number"], "1", r["campus"]) in load.acked)
        me = self.read_ok(acked_row)
        self.assertIn("1", str(me))

        # 3. logged once, however many batches failed
        more = Load(self.engine, load.full[:20])
        more.run()
        self.assertEqual(more.other, [])
        # as below: a write may still fit where a failed commit left file pages
        self.assertGreaterEqual(len(more.full), 15, "the disk is full: writes must be refused")
        self.assertEqual(len(more.full) + len(more.acked), 20)
        self.assertEqual(self.log_count(FULL_LOG), 1, self.engine.read_log()[-3000:])
        self.assertNotIn("writer: batch", self.engine.read_log())

        # 4. a restart on the full disk serves reads and refuses writes cleanly
        self.assertEqual(self.engine.stop(), 0)
        self.engine.start()
        self.data.fill(0)  # whatever the stop and start gave back, the disk is full again
        self.read_ok(acked_row)
        again = Load(self.engine, [r for r in load.full[:25]
                                   if (r["id_number"], "1", r["campus"]) not in more.acked][:5])
        again.run()
        print("after restart:", dict(again.answers), flush=True)
        # After a restart LMDB may reuse pages its last readers pinned (and a
        # failed commit's file pages): a write can fit without new disk space.
        # Either way every write is a durable 201 or a clean 503 storage_full.
        self.assertEqual(again.other, [])
        self.assertEqual(len(again.full) + len(again.acked), 5)
        # logged once per process that met the full disk
        self.assertEqual(self.log_count(FULL_LOG), 2 if again.full else 1)

        # 5. space returns: writes commit again by themselves
        self.data.unfill()
        back = Load(self.engine, [r for r in load.full + list(load.q.queue)
                                  if (r["id_number"], "1", r["campus"])
                                  not in again.acked | more.acked])
        back.run()
        print("answers after freeing space:", dict(back.answers), flush=True)
        self.assertEqual(back.other, [])
        self.assertEqual(back.full, [])
        # "space is back" is logged by a process that met the full disk: the
        # restarted one may not have (the commit log's preallocated blocks and
        # reusable LMDB pages can take the five writes of step 4)
        self.assertEqual(self.log_count(BACK_LOG), 1 if again.full else 0)

        # 6. nothing acknowledged is lost; every invariant holds
        self.assertEqual(self.engine.stop(), 0)
        present = {(r["id_number"], r["subject"], r["campus"])
                   for r in self.data.export("registrations")}
        acked = load.acked | more.acked | again.acked | back.acked
        self.assertEqual(acked - present, set(), "acknowledged registrations lost")
        self.assertEqual(len(acked) + len(load.refused) + len(back.refused), len(rows))
        chk = self.data.check()
        self.assertEqual(chk.returncode, 0, chk.stdout + chk.stderr)


if __name__ == "__main__":
    harness.main()
