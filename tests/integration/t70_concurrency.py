"""Concurrency: many clients racing for the last seats, one candidate racing itself.

(a) 300 bound candidates of one campus, each on its own keep-alive connection
    in its own thread, released together by a barrier, register English-4 at
    an offer whose capacity a staff member just cut to 50: exactly 50 get 201,
    the other 250 get 409 seats_full; the export holds exactly 50 rows for the
    offer, the counter reads 0, `cetctl check` passes. Then 5 winners cancel
    and the 250 losers race again: exactly 5 more win.
(b) One candidate qualified for English-4 ('1') and Japanese-4 ('3') sends
    both at once on two connections: exactly one 201, the other 409
    one_per_level; 20 fresh candidates. Afterwards every counter of every
    offer equals capacity minus live registrations (the loser's seat went back).
"""
import collections
import os
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import DataDir, Engine, EngineCase, error_code, metrics, staff_token  # noqa: E402

STAFF_USER = "support"          # national support desk (tools/cetctl_demo.c)
STAFF_PASSWORD = "demo-Staff-2026"
RACE_CAMPUS = "100130"
RACE_SUBJECT = "1"
RACE_CAPACITY = 50
RACERS = 300
PAIR_RACES = 20
# campuses whose offers include Japanese-4 (tools/cetctl_demo.c), minus the tiny one
JAPANESE_CAMPUSES = {"100130", "100131", "100133", "991010", "993010", "993020"}


def counters_exact(tc, data, engine):
    """Every offer's counter == capacity - live registrations (from the exports)."""
    caps = {(r["campus_code"], r["subject"]): int(r["capacity"]) for r in data.export("campuses")}
    live = collections.Counter((r["campus"], r["subject"]) for r in data.export("registrations"))
    left, _ = metrics(engine)
    tc.assertEqual(set(left), set(caps), "metrics and export list different offers")
    bad = {k: (left[k], caps[k], live[k]) for k in caps if left[k] != max(0, caps[k] - live[k])}
    tc.assertEqual(bad, {}, "offers whose counter != capacity - live (left, capacity, live)")
    over = {k: (live[k], caps[k]) for k in caps if live[k] > caps[k]}
    tc.assertEqual(over, {}, "offers above capacity (live, capacity)")


class Concurrency(EngineCase):
    @classmethod
    def setUpClass(cls):
        cls.data = DataDir(candidates=2000, seed=7)
        cls.rows = cls.data.bench_prep(2000)
        cls.engine = Engine(cls.data, threads=2)
        cls.staff = staff_token(cls.engine, STAFF_USER, STAFF_PASSWORD)

    def race(self, rows, body_of):
        """Each row in its own thread with its own open connection; returns [(row, status, code)]."""
        barrier = threading.Barrier(len(rows))
        results = [None] * len(rows)

        def run(i, row):
            c = self.engine.client(row["token"])
            try:
                st, _, _ = c.request("GET", "/healthz")  # open the connection first
                assert st == 200
                barrier.wait(timeout=60)
                st, body, _ = c.request("POST", "/api/v1/registrations", body_of(row))
                results[i] = (row, st, error_code(body))
            except Exception as ex:  # noqa: BLE001
                results[i] = (row, -1, repr(ex))
            finally:
                c.close()

        threads = [threading.Thread(target=run, args=(i, r)) for i, r in enumerate(rows)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        return results

    # docs/rules.md#R17
    def test_a_last_seats(self):
        t0 = time.time()
        mine = [r for r in self.rows if r["campus"] == RACE_CAMPUS][:RACERS]
        self.assertEqual(len(mine), RACERS, "demo data has too few candidates at the campus")
        c = self.engine.client(self.staff)
        st, body, _ = c.request("PUT", f"/api/v1/admin/offers/{RACE_CAMPUS}/{RACE_SUBJECT}",
                                {"capacity": RACE_CAPACITY})
        c.close()
        self.assertEqual((st, body), (200, {"capacity": RACE_CAPACITY}))
        left, _ = metrics(self.engine)
        self.assertEqual(left[(RACE_CAMPUS, RACE_SUBJECT)], RACE_CAPACITY,
                         "the seat counter did not follow the new capacity")

        res = self.race(mine, lambda r: {"subject": RACE_SUBJECT, "campus": RACE_CAMPUS})
        outcome = collections.Counter((st, code) for _, st, code in res)
        self.assertEqual(outcome, {(201, None): RACE_CAPACITY,
                                   (409, "seats_full"): RACERS - RACE_CAPACITY}, outcome)
        winners = [r for r, st, _ in res if st == 201]
        losers = [r for r, st, _ in res if st != 201]

        regs = [r for r in self.data.export("registrations")
                if r["campus"] == RACE_CAMPUS and r["subject"] == RACE_SUBJECT]
        self.assertEqual(len(regs), RACE_CAPACITY)
        self.assertEqual({r["id_number"] for r in regs}, {w["id_number"] for w in winners})
        left, _ = metrics(self.engine)
        self.assertEqual(left[(RACE_CAMPUS, RACE_SUBJECT)], 0)
        chk = self.data.check()
        self.assertEqual(chk.returncode, 0, chk.stdout + chk.stderr)

        # five winners cancel; the losers race again for exactly those five seats
        for w in winners[:5]:
            c = self.engine.client(w["token"])
            st, body, _ = c.request("DELETE", f"/api/v1/registrations/{RACE_SUBJECT}")
            c.close()
            self.assertEqual(st, 200, body)
        left, _ = metrics(self.engine)
        self.assertEqual(left[(RACE_CAMPUS, RACE_SUBJECT)], 5)
        res = self.race(losers, lambda r: {"subject": RACE_SUBJECT, "campus": RACE_CAMPUS})
        outcome = collections.Counter((st, code) for _, st, code in res)
        self.assertEqual(outcome, {(201, None): 5, (409, "seats_full"): len(losers) - 5}, outcome)
        regs = [r for r in self.data.export("registrations")
                if r["campus"] == RACE_CAMPUS and r["subject"] == RACE_SUBJECT]
        self.assertEqual(len(regs), RACE_CAPACITY)
        chk = self.data.check()
        self.assertEqual(chk.returncode, 0, chk.stdout + chk.stderr)
        counters_exact(self, self.data, self.engine)
        print(f"  last seats: {RACERS} racers, {time.time() - t0:.1f}s", file=sys.stderr)

    # docs/rules.md#R15
    def test_b_one_per_level(self):
        both = [r for r in self.rows if "1" in r["subjects"] and "3" in r["subjects"]
                and r["campus"] in JAPANESE_CAMPUSES and r["campus"] != RACE_CAMPUS]
        self.assertGreaterEqual(len(both), PAIR_RACES,
                                "demo data has too few candidates qualified for '1' and '3'")
        wins = collections.Counter()
        for row in both[:PAIR_RACES]:
            pair = [dict(row, want="1"), dict(row, want="3")]
            res = self.race(pair, lambda r: {"subject": r["want"], "campus": r["campus"]})
            got = sorted((st, code) for _, st, code in res)
            self.assertEqual(got, [(201, None), (409, "one_per_level")],
                             f"{row['id_number']}: {res}")
            winner = [r["want"] for r, st, _ in res if st == 201][0]
            wins[winner] += 1
            mine = [r["subject"] for r in self.data.export("registrations")
                    if r["id_number"] == row["id_number"]]
            self.assertEqual(mine, [winner])
        print(f"  one per level: winners {dict(wins)}", file=sys.stderr)
        chk = self.data.check()
        self.assertEqual(chk.returncode, 0, chk.stdout + chk.stderr)
        counters_exact(self, self.data, self.engine)
        self.assertTrue(self.engine.alive())


if __name__ == "__main__":
    harness.main()
