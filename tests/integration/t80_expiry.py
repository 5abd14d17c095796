"""Expiry of holds, empty candidates and payment orders, with a short --hold-ttl.

cetd runs with --hold-ttl 3 and --order-ttl 8:
  1. unpaid holds vanish after the ttl and their seats return (export empty for
     them, cetd_expiries_total up by exactly what went, seats_left back); a
     written registration takes its unpaid oral with it; a paid one stays; a
     candidate left with no registration is deleted,
  2. a candidate bound (over HTTP) with no subjects is deleted after the ttl
     (GET /api/v1/me says bound false) and the account may bind again,
  3. a locked registration (staff lock) outlives the ttl; unlocked it gets a
     fresh ttl from the unlock and then expires,
  4. a registration in a pending order does not expire while the order is
     pending; when the order times out it expires at once; a late notice for
     it is answered "refund",
  5. across a restart: holds made, cetd stopped, the ttl passes, cetd starts:
     the holds are gone at once, every counter is exact, `cetctl check` passes.
"""
import collections
import datetime
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import DataDir, Engine, EngineCase, error_code, pay_notice, metrics, staff_token  # noqa: E402

HOLD_TTL = 3
ORDER_TTL = 8
CAMPUS = "100131"   # offers English-4 written and oral (tools/cetctl_demo.c)
STAFF_USER, STAFF_PASSWORD = "support", "demo-Staff-2026"


def counter(engine, name):
    return int(float(metrics(engine)[1][name]))


def parse_time(s):
    return datetime.datetime.fromisoformat(s).timestamp()


def wait_until(pred, timeout, step=0.1):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return pred()


class Expiry(EngineCase):
    @classmethod
    def setUpClass(cls):
        cls.data = DataDir(candidates=1500, seed=11)
        rows = cls.data.bench_prep(1200)
        cls.pool = [r for r in rows if r["campus"] == CAMPUS and "F" in r["subjects"]]
        cls.roster_free = cls.data.export("roster")[1300:]   # never bound by bench-prep
        cls.engine = Engine(cls.data, hold_ttl=HOLD_TTL, order_ttl=ORDER_TTL, threads=2)
        cls.staff = staff_token(cls.engine, STAFF_USER, STAFF_PASSWORD)

    # ---- helpers ----
    def take(self):
        self.assertTrue(self.pool, "demo data ran out of candidates")
        return self.pool.pop(0)

    def call(self, row_or_token, method, path, body=None):
        tok = row_or_token if isinstance(row_or_token, str) else row_or_token["token"]
        c = self.engine.client(tok)
        try:
            return c.request(method, path, body)[:2]
        finally:
            c.close()

    def register(self, row, subject):
        st, body = self.call(row, "POST", "/api/v1/registrations",
                             {"subject": subject, "campus": row["campus"]})
        self.assertEqual(st, 201, body)
        return body

    def pay(self, row, subjects, notify=True):
        st, body = self.call(row, "POST", "/api/v1/payments",
                             {"subjects": subjects, "channel": "alipay"})
        self.assertEqual(st, 201, body)
        if notify:
            nst, nbody = pay_notice(self.engine, body["order_id"], body["amount"])
            self.assertEqual((nst, (nbody or {}).get("status")), (200, "paid"), nbody)
        return body

    def regs(self, *rows):
        ids = {r["id_number"] for r in rows}
        return sorted((r["id_number"], r["subject"], r["state"])
                      for r in self.data.export("registrations") if r["id_number"] in ids)

    def bound(self, row_or_token):
        st, body = self.call(row_or_token, "GET", "/api/v1/me")
        self.assertEqual(st, 200, body)
        return body["bound"]

    def assert_counters_exact(self):
        caps = {(r["campus_code"], r["subject"]): int(r["capacity"])
                for r in self.data.export("campuses")}
        live = collections.Counter((r["campus"], r["subject"])
                                   for r in self.data.export("registrations"))
        left, _ = metrics(self.engine)
        bad = {k: (left.get(k), caps[k], live[k]) for k in caps
               if left.get(k) != max(0, caps[k] - live[k])}
        self.assertEqual(bad, {}, "counter != capacity - live (left, capacity, live)")

    # ---- tests ----
    # docs/rules.md#R19, docs/rules.md#R9, docs/rules.md#R17
    def test_1_unpaid_holds_expire_paid_stay(self):
        a, b, c = self.take(), self.take(), self.take()
        left0, _ = metrics(self.engine)
        exp0 = counter(self.engine, "cetd_expiries_total")
        del0 = counter(self.engine, "cetd_candidates_deleted_total")
        t0 = time.time()
        self.register(a, "1")
        self.register(a, "F")          # oral with its written: both unpaid
        self.register(b, "1")
        self.register(c, "1")
        self.pay(c, ["1"])
        left1, _ = metrics(self.engine)
        self.assertEqual(left1[(CAMPUS, "1")], left0[(CAMPUS, "1")] - 3)
        self.assertEqual(left1[(CAMPUS, "F")], left0[(CAMPUS, "F")] - 1)
        gone = wait_until(lambda: self.regs(a, b) == [], HOLD_TTL + 6)
        elapsed = time.time() - t0
        self.assertTrue(gone, f"unpaid holds still there: {self.regs(a, b)}")
        self.assertGreaterEqual(elapsed, HOLD_TTL - 1.2, "holds went before their ttl")
        self.assertEqual(self.regs(c), [(c["id_number"], "1", "paid")])
        self.assertEqual(counter(self.engine, "cetd_expiries_total") - exp0, 3)
        left2, _ = metrics(self.engine)
        self.assertEqual(left2[(CAMPUS, "1")], left0[(CAMPUS, "1")] - 1)
        self.assertEqual(left2[(CAMPUS, "F")], left0[(CAMPUS, "F")])
        # a and b have nothing left and were bound long ago: deleted; c stays bound
        self.assertTrue(wait_until(lambda: not self.bound(a) and not self.bound(b), 3))
        self.assertTrue(self.bound(c))
        self.assertGreaterEqual(counter(self.engine, "cetd_candidates_deleted_total") - del0, 2)
        st, body = self.call(a, "GET", "/api/v1/candidate")
        self.assertEqual((st, error_code(body)), (409, "not_bound"))
        self.assert_counters_exact()

    # docs/rules.md#R9
    def test_2_empty_candidate_deleted(self):
        rec = self.roster_free[0]
        email = f"expiry-{os.getpid()}@example.test"
        cl = self.engine.client()
        try:
            st, body, _ = cl.request("POST", "/api/v1/accounts",
                                     {"email": email, "password": "Expiry-Pass-2026",
                                      "captcha_id": "x", "captcha_answer": "x"})
            self.assertEqual(st, 201, body)
            st, body, _ = cl.request("POST", "/api/v1/sessions",
                                     {"email": email, "password": "Expiry-Pass-2026",
                                      "captcha_id": "x", "captcha_answer": "x"})
            self.assertEqual(st, 201, body)
            tok = body["token"]
        finally:
            cl.close()
        st, body = self.call(tok, "POST", "/api/v1/agreement", {})
        self.assertEqual(st, 200, body)
        ident = {"id_type": rec["id_type"], "id_number": rec["id_number"], "name": rec["name"],
                 "confirmed": True}
        del0 = counter(self.engine, "cetd_candidates_deleted_total")
        st, body = self.call(tok, "POST", "/api/v1/candidate", ident)
        self.assertEqual(st, 201, body)
        t0 = time.time()
        self.assertTrue(self.bound(tok))
        self.assertTrue(wait_until(lambda: not self.bound(tok), HOLD_TTL + 5),
                        "an empty candidate outlived the ttl")
        self.assertGreaterEqual(time.time() - t0, HOLD_TTL - 1.2, "deleted before the ttl")
        self.assertEqual(counter(self.engine, "cetd_candidates_deleted_total") - del0, 1)
        self.assertNotIn(rec["id_number"], {r["id_number"] for r in self.data.export("candidates")})
        # the account may bind again (and then gets a fresh ttl)
        st, body = self.call(tok, "POST", "/api/v1/candidate", ident)
        self.assertEqual(st, 201, body)
        self.assertTrue(self.bound(tok))

    # docs/rules.md#R19, docs/rules.md#R25
    def test_3_locked_stays_unlock_fresh_ttl(self):
        d = self.take()
        self.register(d, "1")
        lock = {"id_type": d["id_type"], "id_number": d["id_number"], "subject": "1"}
        st, body = self.call(self.staff, "POST", "/api/v1/admin/registrations/lock",
                             dict(lock, locked=True))
        self.assertEqual(st, 200, body)
        self.assertEqual((body["locked"], body["expires_at"]), (True, None))
        st, body = self.call(d, "DELETE", "/api/v1/registrations/1")
        self.assertEqual((st, error_code(body)), (409, "registration_locked"))
        time.sleep(HOLD_TTL + 1.5)
        self.assertEqual(self.regs(d), [(d["id_number"], "1", "locked")],
                         "a locked registration expired")
        st, body = self.call(self.staff, "POST", "/api/v1/admin/registrations/lock",
                             dict(lock, locked=False))
        t_unlock = time.time()
        self.assertEqual(st, 200, body)
        self.assertFalse(body["locked"])
        self.assertAlmostEqual(parse_time(body["expires_at"]), t_unlock + HOLD_TTL, delta=1.5)
        time.sleep(0.5)   # several ticks: a stale hold_due must not make it go at once
        self.assertEqual(self.regs(d), [(d["id_number"], "1", "unpaid")],
                         "unlocked registration expired without a fresh ttl")
        self.assertTrue(wait_until(lambda: self.regs(d) == [], HOLD_TTL + 5),
                        "unlocked registration never expired")
        self.assertGreaterEqual(time.time() - t_unlock, HOLD_TTL - 1.2)
        self.assert_counters_exact()

    # docs/rules.md#R19, docs/rules.md#R23, docs/rules.md#R22
    def test_4_pending_order_holds_until_timeout(self):
        e = self.take()
        self.register(e, "1")
        oexp0 = counter(self.engine, "cetd_orders_expired_total")
        order = self.pay(e, ["1"], notify=False)
        t0 = time.time()
        self.assertAlmostEqual(parse_time(order["expires_at"]), t0 + ORDER_TTL, delta=1.5)
        time.sleep(HOLD_TTL + 2)
        self.assertEqual(self.regs(e), [(e["id_number"], "1", "unpaid")],
                         "a registration in a pending order expired")
        st, body = self.call(e, "GET", f"/api/v1/payments/{order['order_id']}")
        self.assertEqual((st, body["state"]), (200, "pending"))
        self.assertTrue(wait_until(lambda: self.regs(e) == [], ORDER_TTL + 6),
                        "registration outlived its timed-out order")
        self.assertGreaterEqual(time.time() - t0, ORDER_TTL - 1.2, "went before the order timed out")
        st, body = self.call(e, "GET", f"/api/v1/payments/{order['order_id']}")
        self.assertEqual((st, body.get("state")), (200, "expired"), body)
        self.assertEqual(counter(self.engine, "cetd_orders_expired_total") - oexp0, 1)
        nst, nbody = pay_notice(self.engine, order["order_id"], order["amount"])
        self.assertEqual((nst, (nbody or {}).get("status")), (200, "refund"), nbody)
        self.assert_counters_exact()

    # docs/rules.md#R19, docs/rules.md#R17
    def test_5_restart_drains_overdue_holds(self):
        f, g, h = self.take(), self.take(), self.take()
        self.register(f, "1")
        self.register(g, "1")
        self.register(g, "F")
        self.register(h, "1")
        self.assertEqual(len(self.regs(f, g, h)), 4)
        self.assertEqual(self.engine.stop(), 0)
        time.sleep(HOLD_TTL + 1.5)
        self.engine.start()
        t0 = time.time()
        self.assertTrue(wait_until(lambda: self.regs(f, g, h) == [], 1.5, step=0.05),
                        f"overdue holds not drained at start: {self.regs(f, g, h)}")
        print(f"  overdue holds gone {time.time() - t0:.2f}s after start", file=sys.stderr)
        self.assertEqual(counter(self.engine, "cetd_expiries_total"), 4)
        self.assert_counters_exact()
        chk = self.data.check()
        self.assertEqual(chk.returncode, 0, chk.stdout + chk.stderr)


if __name__ == "__main__":
    harness.main()
