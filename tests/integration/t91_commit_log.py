"""The commit log in front of LMDB (docs/storage.md, "The commit log").

- kill -9 during a registration load, then two recoveries of the same crashed
  directory: one as the crash left it (the page cache had everything: LMDB's
  newest meta page is good), one with what a power loss may leave instead
  (every page past the checkpoint's last page cut off, LMDB's meta pages left
  as they were, pointing at pages that are now gone). Both must come back to
  the same export, with every registration answered 201 in it, `cetctl check`
  clean, and the second one must say it went back to the checkpoint.
- A reading cetctl on the power-loss image, before any cetd, recovers it
  itself and reads the same.
- A clean stop leaves nothing to replay (the restart says so in its log).
- A damaged `checkpoint` is refused with one line, nothing started.
- A torn last record (the crash cut its write) ends the log: the records
  before it are applied, cetd starts.
- `cetctl restore` over a directory drops that directory's log and checkpoint.
- Checkpoints that fail (DIR/checkpoint.tmp made a directory, so the file cannot be
  written) are reported: `cetd_checkpoint_failing`, `cetd_checkpoint_failures_total`,
  `cetd_checkpoint_age_seconds` and `/readyz`'s `checks.checkpoint`; one error line,
  not one per try. Registrations keep being acknowledged through the log, a kill -9
  then replays all of them from the last good checkpoint; with no writes at all the
  writer's idle ticks keep trying, and once the file can be written again the next
  try succeeds and says so.
"""
import os
import queue
import shutil
import struct
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import CETD, DataDir, Engine, cetctl, metrics  # noqa: E402

THREADS = 16
PAGE_HEADER = 16       # MDB_page: pgno u64, pad u16, flags u16, lower u16, upper u16
META_LAST_PG = PAGE_HEADER + 4 + 4 + 8 + 8 + 2 * 48   # mm_last_pg in MDB_meta
META_TXNID = META_LAST_PG + 8


def read_checkpoint(data):
    """(psize, gen, off, seq, txnid, metas) from DIR/checkpoint."""
    with open(os.path.join(data, "checkpoint"), "rb") as f:
        raw = f.read()
    magic, version, psize, gen, off, seq, txnid = struct.unpack_from("<8sIIQQQQ", raw, 0)
    assert magic == b"CETCKPT1" and version == 1, (magic, version)
    metas = raw[48:48 + 2 * psize]
    return psize, gen, off, seq, txnid, metas


def snapshot_last_page(psize, metas):
    """The last page of the snapshot the checkpoint's meta copy names (the newer meta)."""
    best = None
    for i in range(2):
        page = metas[i * psize:(i + 1) * psize]
        last_pg, txnid = struct.unpack_from("<QQ", page, META_LAST_PG)
        if best is None or txnid > best[1]:
            best = (last_pg, txnid)
    return best


def register_until_killed(engine, rows, seconds):
    """Registers rows from THREADS threads; kill -9 after `seconds`. The set answered 201."""
    q = queue.Queue()
    for r in rows:
        q.put(r)
    acked, lock = set(), threading.Lock()

    def work():
        c = None
        while True:
            try:
                row = q.get_nowait()
            except queue.Empty:
                return
            try:
                c = engine.client(row["token"])
                st, _, _ = c.request("POST", "/api/v1/registrations",
                                     {"subject": "1", "campus": row["campus"]})
                c.close()
            except OSError:
                return   # the engine is gone
            if st == 201:
                with lock:
                    acked.add(row["id_number"])

    threads = [threading.Thread(target=work) for _ in range(THREADS)]
    for t in threads:
        t.start()
    time.sleep(seconds)
    engine.kill9()
    for t in threads:
        t.join(timeout=60)
    return acked


def english4_rows(export):
    return sorted((r["id_number"], r["subject"], r["campus"], r["state"]) for r in export
                  if r["subject"] == "1")


class CommitLog(unittest.TestCase):
    def setUp(self):
        self.data = DataDir(candidates=6000, seed=91)
        self.copies = []

    def tearDown(self):
        self.data.cleanup()
        for c in self.copies:
            shutil.rmtree(c, ignore_errors=True)

    def copy_of(self, name):
        dst = os.path.join(self.data.path, name)
        shutil.copytree(self.data.data, dst)
        self.copies.append(dst)
        return dst

    def recovered(self, data_dir):
        """Starts and stops cetd on data_dir; (its log, the E4 export, check result)."""
        view = DataDir.__new__(DataDir)
        view.path, view.data, view.secret_file = self.data.path, data_dir, self.data.secret_file
        eng = Engine(view)
        log = eng.read_log()
        self.assertEqual(eng.stop(), 0)
        export = english4_rows(view.export("registrations"))
        return log + eng.read_log(), export, view.check()

    def test_kill9_then_power_loss_image(self):
        rows = self.data.bench_prep(4000)
        eng = Engine(self.data)
        acked = register_until_killed(eng, rows, 2.5)
        self.assertGreater(len(acked), 200, "the load registered too little to test")
        psize, gen, off, seq, txnid, metas = read_checkpoint(self.data.data)
        last_pg, meta_txnid = snapshot_last_page(psize, metas)
        self.assertEqual(meta_txnid, txnid)

        as_left = self.copy_of("as-left")
        power = self.copy_of("power-loss")
        power_ro = self.copy_of("power-loss-read")
        mdb = os.path.join(power, "data.mdb")
        with open(mdb, "rb") as f:
            f.seek(0)
            disk_metas = f.read(2 * psize)
        # LMDB went on after the checkpoint: its meta pages on disk are newer
        self.assertNotEqual(disk_metas, metas, "no commit after the checkpoint: kill came too early")
        size_before = os.path.getsize(mdb)
        os.truncate(mdb, (last_pg + 1) * psize)   # later pages never reached the disk
        # (commits after the checkpoint may all have reused pages free in it: then
        # nothing is cut and the image differs by its meta pages alone; unit.store_log
        # makes sure of a cut)
        print(f"power-loss image: {size_before - os.path.getsize(mdb)} bytes cut", flush=True)
        os.truncate(os.path.join(power_ro, "data.mdb"), (last_pg + 1) * psize)

        log_a, export_a, check_a = self.recovered(as_left)
        log_b, export_b, check_b = self.recovered(power)
        self.assertEqual(check_a.returncode, 0, check_a.stdout + check_a.stderr)
        self.assertEqual(check_b.returncode, 0, check_b.stdout + check_b.stderr)
        self.assertIn("back to the checkpoint", log_b)
        self.assertIn("log records applied again", log_b)
        self.assertEqual(export_a, export_b)
        # a reading cetctl first, before any cetd: it recovers the directory itself
        view = DataDir.__new__(DataDir)
        view.path, view.data, view.secret_file = self.data.path, power_ro, self.data.secret_file
        check_c = view.check()
        self.assertEqual(check_c.returncode, 0, check_c.stdout + check_c.stderr)
        self.assertIn("recovered before reading", check_c.stderr)
        self.assertEqual(english4_rows(view.export("registrations")), export_b)
        present = {r[0] for r in export_b}
        lost = acked - present
        self.assertEqual(lost, set(), f"{len(lost)} acknowledged registrations lost")

    def test_clean_stop_replays_nothing(self):
        rows = self.data.bench_prep(50)
        eng = Engine(self.data)
        for row in rows:
            c = eng.client(row["token"])
            st, body, _ = c.request("POST", "/api/v1/registrations",
                                    {"subject": "1", "campus": row["campus"]})
            c.close()
            self.assertEqual(st, 201, body)
        self.assertEqual(eng.stop(), 0)
        seq0 = read_checkpoint(self.data.data)[3]
        eng2 = Engine(self.data)
        log = eng2.read_log()
        self.assertEqual(eng2.stop(), 0)
        self.assertNotIn("log records applied again", log)
        self.assertNotIn("back to the checkpoint", log)
        self.assertEqual(len([r for r in self.data.export("registrations") if r["subject"] == "1"]),
                         len(rows))
        self.assertGreaterEqual(read_checkpoint(self.data.data)[3], seq0)

    def test_damaged_checkpoint_refused(self):
        eng = Engine(self.data)
        self.assertEqual(eng.stop(), 0)
        path = os.path.join(self.data.data, "checkpoint")
        with open(path, "r+b") as f:
            f.seek(100)
            b = f.read(1)
            f.seek(100)
            f.write(bytes([b[0] ^ 0xff]))
        p = subprocess.run([CETD, "--dev", "--data", self.data.data, "--listen",
                            f"127.0.0.1:{harness.free_port()}", "--captcha", "off",
                            "--payment-secret-file", self.data.secret_file],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("checkpoint is damaged", p.stderr)
        self.assertNotIn("listening on", p.stdout)

    def test_torn_last_record_ends_the_log(self):
        rows = self.data.bench_prep(300)
        eng = Engine(self.data)
        acked = register_until_killed(eng, rows, 1.2)
        psize, gen, off, seq, txnid, metas = read_checkpoint(self.data.data)
        wal = os.path.join(self.data.data, f"wal-{gen & 1}.log")
        # walk the records after the checkpoint to the last one, and cut it in half
        recs = []
        with open(wal, "rb") as f:
            at, want = off, seq + 1
            while True:
                f.seek(at)
                h = f.read(24)
                if len(h) < 24:
                    break
                magic, length, rseq, _ = struct.unpack("<IIQQ", h)
                if magic != 0x57544543 or rseq != want:
                    break
                recs.append((at, length))
                at += 24 + length
                want += 1
        self.assertGreater(len(recs), 1, "too few records after the checkpoint to cut one")
        last_at, last_len = recs[-1]
        with open(wal, "r+b") as f:
            f.seek(last_at + 24 + last_len // 2)
            f.write(b"\0" * (last_len - last_len // 2))
        view = self.data
        eng2 = Engine(view)
        log = eng2.read_log()
        self.assertEqual(eng2.stop(), 0)
        self.assertIn(f"{len(recs) - 1} log records applied again", log)
        self.assertEqual(view.check().returncode, 0)
        # the registrations of the cut record were acknowledged: cutting it is damage, not
        # a crash, so only the ones before it are required
        self.assertGreater(len(acked), 0)

    def test_restore_drops_the_replaced_log(self):
        # a crashed directory: its checkpoint's meta pages differ from data.mdb's
        rows = self.data.bench_prep(200)
        eng = Engine(self.data)
        register_until_killed(eng, rows, 1.0)
        target = self.copy_of("target")
        # a backup of other data, restored over it
        other = DataDir(candidates=300, seed=7)
        try:
            backup = os.path.join(other.path, "backup")
            cetctl("backup", "--data", other.data, backup)
            want = sorted(tuple(r.values()) for r in other.export("candidates"))
            cetctl("restore", "--data", target, "--force", backup)
            self.assertFalse(os.path.exists(os.path.join(target, "wal-0.log")))
            view = DataDir.__new__(DataDir)
            view.path, view.data, view.secret_file = self.data.path, target, self.data.secret_file
            eng2 = Engine(view)
            log = eng2.read_log()
            self.assertEqual(eng2.stop(), 0)
            # the replaced data's checkpoint was not applied to the backup's data
            self.assertNotIn("back to the checkpoint", log)
            self.assertEqual(view.check().returncode, 0)
            self.assertEqual(sorted(tuple(r.values()) for r in view.export("candidates")), want)
        finally:
            other.cleanup()

    def register(self, eng, row):
        c = eng.client(row["token"])
        st, body, _ = c.request("POST", "/api/v1/registrations",
                                {"subject": "1", "campus": row["campus"]})
        c.close()
        self.assertEqual(st, 201, body)
        return row["id_number"]

    def wait_metric(self, eng, rows, name, want, seconds=20):
        """Registers a row every 0.2 s (commits are what start checkpoints) until the
        metric `name` reads `want`; returns (the metrics, the ids registered)."""
        ids = []
        deadline = time.time() + seconds
        while True:
            _, values = metrics(eng)
            if float(values.get(name, "nan")) == want:
                return values, ids
            self.assertLess(time.time(), deadline, f"{name} never read {want}: {values.get(name)}"
                            + eng.read_log()[-2000:])
            ids.append(self.register(eng, rows.pop()))
            time.sleep(0.2)

    def poll_metric(self, eng, name, ok, seconds=10):
        """Polls /metrics (no writes) until ok(value of name); returns the metrics."""
        deadline = time.time() + seconds
        while True:
            _, values = metrics(eng)
            if name in values and ok(values[name]):
                return values
            self.assertLess(time.time(), deadline, f"{name} stayed at {values.get(name)}"
                            + eng.read_log()[-2000:])
            time.sleep(0.1)

    def readyz(self, eng):
        c = eng.client()
        st, body, _ = c.request("GET", "/readyz")
        c.close()
        return st, body

    def test_failing_checkpoints_reported_and_recovered(self):
        rows = self.data.bench_prep(400)
        eng = Engine(self.data)
        _, values = metrics(eng)
        self.assertEqual(values["cetd_checkpoint_failing"], "0")
        self.assertEqual(values["cetd_checkpoint_failures_total"], "0")
        self.assertFalse(self.readyz(eng)[1]["checks"]["checkpoint"]["failing"])
        # the checkpoint file's temporary name taken by a directory: it cannot be written
        tmp = os.path.join(self.data.data, "checkpoint.tmp")
        os.mkdir(tmp)
        values, acked = self.wait_metric(eng, rows, "cetd_checkpoint_failing", 1)
        acked += [self.register(eng, rows.pop()) for _ in range(20)]
        time.sleep(1.5)
        acked.append(self.register(eng, rows.pop()))   # a commit past the next due time
        _, values = metrics(eng)
        self.assertGreaterEqual(int(values["cetd_checkpoint_failures_total"]), 2)
        self.assertGreaterEqual(float(values["cetd_checkpoint_age_seconds"]), 1.5)
        st, body = self.readyz(eng)
        self.assertEqual(st, 200, body)   # writes are durable through the log meanwhile
        self.assertTrue(body["checks"]["checkpoint"]["failing"], body)
        self.assertGreaterEqual(body["checks"]["checkpoint"]["last_ms_ago"], 1500, body)
        log = eng.read_log()
        self.assertEqual(log.count("checkpoint failed"), 1, log[-3000:])
        # a crash while they fail: the log since the last good checkpoint has every 201
        eng.kill9()
        os.rmdir(tmp)
        eng = Engine(self.data)
        self.assertIn("log records applied again", eng.read_log())
        # failing again; with no write at all the writer's idle ticks go on trying, and once
        # the file can be written the next try succeeds (still without a write)
        os.mkdir(tmp)
        values, more = self.wait_metric(eng, rows, "cetd_checkpoint_failing", 1)
        tries = int(values["cetd_checkpoint_failures_total"])
        self.poll_metric(eng, "cetd_checkpoint_failures_total", lambda v: int(v) > tries)
        os.rmdir(tmp)
        values = self.poll_metric(eng, "cetd_checkpoint_failing", lambda v: v == "0")
        after = [self.register(eng, rows.pop()) for _ in range(5)]
        self.assertLess(float(values["cetd_checkpoint_age_seconds"]), 5)
        self.assertIn("checkpoints succeed again", eng.read_log())
        self.assertFalse(self.readyz(eng)[1]["checks"]["checkpoint"]["failing"])
        self.assertEqual(eng.stop(), 0)
        present = {r["id_number"] for r in self.data.export("registrations")
                   if r["subject"] == "1"}
        self.assertEqual(set(acked + more + after) - present, set(),
                         "registrations acknowledged while checkpoints failed were lost")
        self.assertEqual(self.data.check().returncode, 0)


if __name__ == "__main__":
    harness.main()
