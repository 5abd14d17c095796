"""Capacity changes race each other and registrations (issue 9.1); the txn is the truth.

(a) Rounds of two staff PUT /api/v1/admin/offers/{campus}/{subject} released
    together by a barrier, capacity 3 and 60, on an offer with no live
    registrations: both commit, in some order. After each round the stored
    capacity (cetctl export) is whichever committed last, and the engine's
    counter (/metrics) must be that capacity, not the other one. Then 80
    candidates race to register: no more than the stored capacity get 201,
    the rest 409 seats_full, and `cetctl check` passes.
(b) A capacity below the live registrations is 409 capacity_below_live: 0 on
    an offer with one live paid registration, and 3 racing 60 once 5 are live
    (3 is refused whatever the order, 60 stands).
"""
import collections
import os
import sys
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import (DataDir, Engine, EngineCase, error_code, metrics, pay_notice,  # noqa: E402
                     staff_token)

CAMPUS = "100130"
SUBJECT = "1"        # English-4 written, at the campus of many demo candidates
PAID_SUBJECT = "3"   # Japanese-4 written at the same campus, for (b)
ROUNDS = 8
RACERS = 80


def run_together(calls):
    """Runs each call(i) in its own thread, released by one barrier; returns their results."""
    barrier = threading.Barrier(len(calls))
    out = [None] * len(calls)

    def run(i):
        try:
            out[i] = calls[i](barrier)
        except Exception as ex:  # noqa: BLE001
            out[i] = (-1, repr(ex))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return out


class CapacityRace(EngineCase):
    @classmethod
    def setUpClass(cls):
        cls.data = DataDir(candidates=2000, seed=7)
        cls.rows = cls.data.bench_prep(2000)
        cls.engine = Engine(cls.data, threads=2)
        cls.staff = staff_token(cls.engine)
        cls.mine = [r for r in cls.rows if r["campus"] == CAMPUS]

    def put_capacity(self, capacity, subject=SUBJECT, barrier=None):
        c = self.engine.client(self.staff)
        try:
            if barrier:
                c.request("GET", "/healthz")  # the connection is open before the race
                barrier.wait(timeout=60)
            st, body, _ = c.request("PUT", f"/api/v1/admin/offers/{CAMPUS}/{subject}",
                                    {"capacity": capacity})
            return st, body
        finally:
            c.close()

    def stored_capacity(self, subject=SUBJECT):
        for r in self.data.export("campuses"):
            if r["campus_code"] == CAMPUS and r["subject"] == subject:
                return int(r["capacity"])
        self.fail("offer not exported")

    def live(self, subject=SUBJECT):
        return sum(1 for r in self.data.export("registrations")
                   if r["campus"] == CAMPUS and r["subject"] == subject)

    def counter(self, subject=SUBJECT):
        left, _ = metrics(self.engine)
        return left[(CAMPUS, subject)]

    def check_passes(self):
        chk = self.data.check()
        self.assertEqual(chk.returncode, 0, chk.stdout + chk.stderr)

    # docs/rules.md#R17, docs/rules.md#R26
    def test_a_two_capacities_then_registrations(self):
        self.assertGreaterEqual(len(self.mine), RACERS + 10, "too few demo candidates")
        self.assertEqual(self.live(), 0)
        finals = collections.Counter()
        for _ in range(ROUNDS):
            res = run_together([lambda b: self.put_capacity(3, barrier=b),
                                lambda b: self.put_capacity(60, barrier=b)])
            self.assertEqual(sorted(st for st, _ in res), [200, 200], res)
            stored = self.stored_capacity()
            self.assertIn(stored, (3, 60))
            finals[stored] += 1
            self.assertEqual(self.counter(), stored,
                             "the seat counter follows a capacity that did not commit last")
        print(f"  capacity races: last committed {dict(finals)}", file=sys.stderr)

        stored = self.stored_capacity()
        racers = self.mine[:RACERS]

        def register(row):
            def call(barrier):
                c = self.engine.client(row["token"])
                try:
                    c.request("GET", "/healthz")
                    barrier.wait(timeout=60)
                    st, body, _ = c.request("POST", "/api/v1/registrations",
                                            {"subject": SUBJECT, "campus": CAMPUS})
                    return st, error_code(body)
                finally:
                    c.close()
            return call

        res = run_together([register(r) for r in racers])
        outcome = collections.Counter(res)
        self.assertEqual(outcome, {(201, None): stored, (409, "seats_full"): RACERS - stored},
                         outcome)
        self.assertEqual(self.live(), stored)
        self.assertEqual(self.counter(), 0)
        self.check_passes()

        # the winners cancel (live 0 again): the offer is back to its whole capacity
        for row, (st, _) in zip(racers, res):
            if st == 201:
                c = self.engine.client(row["token"])
                self.assertEqual(c.request("DELETE", f"/api/v1/registrations/{SUBJECT}")[0], 200)
                c.close()
        self.assertEqual(self.counter(), stored)

    # docs/rules.md#R26, docs/rules.md#R17
    def test_b_capacity_below_live_refused(self):
        # one live paid registration: capacity 0 is refused, the capacity stays
        row = next(r for r in reversed(self.mine[RACERS + 5:]) if PAID_SUBJECT in r["subjects"])
        c = self.engine.client(row["token"])
        st, body, _ = c.request("POST", "/api/v1/registrations",
                                {"subject": PAID_SUBJECT, "campus": CAMPUS})
        self.assertEqual(st, 201, body)
        st, order, _ = c.request("POST", "/api/v1/payments",
                                 {"subjects": [PAID_SUBJECT], "channel": "alipay"})
        self.assertEqual(st, 201, order)
        st, js = pay_notice(self.engine, order["order_id"], order["amount"])
        self.assertEqual((st, js["status"]), (200, "paid"))
        c.close()
        before = self.stored_capacity(PAID_SUBJECT)
        st, body = self.put_capacity(0, subject=PAID_SUBJECT)
        self.assertEqual((st, error_code(body)), (409, "capacity_below_live"), body)
        self.assertEqual(self.stored_capacity(PAID_SUBJECT), before)
        st, body = self.put_capacity(1, subject=PAID_SUBJECT)  # equal to live: allowed
        self.assertEqual((st, body), (200, {"capacity": 1}))
        self.assertEqual(self.counter(PAID_SUBJECT), 0)

        # five live on SUBJECT, then 3 races 60: 3 is refused in either order, 60 stands
        self.assertEqual(self.put_capacity(60)[0], 200)
        five = self.mine[RACERS:RACERS + 5]
        for r in five:
            cl = self.engine.client(r["token"])
            st, body, _ = cl.request("POST", "/api/v1/registrations",
                                     {"subject": SUBJECT, "campus": CAMPUS})
            cl.close()
            self.assertEqual(st, 201, body)
        res = run_together([lambda b: self.put_capacity(3, barrier=b),
                            lambda b: self.put_capacity(60, barrier=b)])
        self.assertEqual(sorted((st, error_code(b)) for st, b in res),
                         [(200, None), (409, "capacity_below_live")], res)
        self.assertEqual(self.stored_capacity(), 60)
        self.assertEqual(self.counter(), 55)
        self.check_passes()


if __name__ == "__main__":
    harness.main()
