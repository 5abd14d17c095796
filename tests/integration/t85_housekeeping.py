"""Housekeeping: expired sessions and Idempotency-Key records are swept from LMDB
(a bounded slice per writer tick), and the operator's exports of payment orders
(refunds) and the audit log say what happened. Real cetd, real LMDB files; the
databases are counted with mdb_stat (lmdb-utils)."""
import os
import re
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import DataDir, Engine, error_code, pay_notice, staff_token  # noqa: E402


def entries(data, db):
    """Number of entries of one named LMDB database, from mdb_stat."""
    out = subprocess.run(["mdb_stat", "-s", db, data.data], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, timeout=60, check=True).stdout
    return int(re.search(r"Entries: (\d+)", out).group(1))


class Housekeeping(unittest.TestCase):
    def setUp(self):
        self.data = DataDir(candidates=500, seed=5)
        self.rows = self.data.bench_prep(20)
        self.engine = None

    def tearDown(self):
        try:
            if self.engine and self.engine.alive():
                self.assertEqual(self.engine.stop(), 0)
        finally:
            self.data.cleanup()

    # docs/rules.md#R3, docs/rules.md#R27
    def test_expired_sessions_and_idempotency_records_are_swept(self):
        self.engine = Engine(self.data)
        for i, r in enumerate(self.rows[:10]):
            c = self.engine.client(r["token"])
            st, body, _ = c.request("POST", "/api/v1/registrations",
                                    {"subject": "1", "campus": r["campus"]},
                                    headers={"Idempotency-Key": f"reg-{i}"})
            self.assertIn(st, (201, 409), body)
            c.close()
        self.assertEqual(self.engine.stop(), 0)
        sessions, idem = entries(self.data, "session"), entries(self.data, "idem")
        self.assertEqual(sessions, 20)
        self.assertEqual(idem, 10)

        # a day and a bit later (sessions live 12 h, idempotency records 24 h)
        env = dict(os.environ, CET_CLOCK_OFFSET_S=str(25 * 3600))
        self.engine.start(env=env)
        c = self.engine.client(self.rows[0]["token"])
        st, body, _ = c.request("GET", "/api/v1/me")
        c.close()
        self.assertEqual((st, error_code(body)), (401, "unauthorized"))
        time.sleep(2)  # ten writer ticks: both databases are swept through
        self.assertEqual(self.engine.stop(), 0)
        self.assertEqual(entries(self.data, "session"), 0)
        self.assertEqual(entries(self.data, "idem"), 0)
        self.assertEqual(self.data.check().returncode, 0)

    # docs/rules.md#R3
    def test_live_sessions_survive_the_sweep(self):
        self.engine = Engine(self.data)
        time.sleep(1)  # several ticks
        c = self.engine.client(self.rows[0]["token"])
        st, _, _ = c.request("GET", "/api/v1/me")
        c.close()
        self.assertEqual(st, 200)
        self.assertEqual(self.engine.stop(), 0)
        self.assertEqual(entries(self.data, "session"), 20)

    # docs/rules.md#R22, docs/rules.md#R24
    def test_exports_of_orders_and_audit(self):
        self.engine = Engine(self.data)
        r = self.rows[0]
        c = self.engine.client(r["token"])
        self.assertEqual(c.request("POST", "/api/v1/registrations",
                                   {"subject": "1", "campus": r["campus"]})[0], 201)
        st, order, _ = c.request("POST", "/api/v1/payments",
                                 {"subjects": ["1"], "channel": "alipay"})
        self.assertEqual(st, 201, order)
        c.close()
        st, body = pay_notice(self.engine, order["order_id"], order["amount"] + 1)
        self.assertEqual((st, error_code(body)), (422, "amount_mismatch"))
        st, body = pay_notice(self.engine, order["order_id"], order["amount"], txn="TXN-FIRST")
        self.assertEqual((st, body.get("status")), (200, "paid"))
        # a second, different payment of a paid order is owed back
        st, body = pay_notice(self.engine, order["order_id"], order["amount"], txn="TXN-SECOND")
        self.assertEqual((st, body.get("status")), (200, "refund"))
        tok = staff_token(self.engine)
        sc = self.engine.client(tok)
        st, _, _ = sc.request("PUT", f"/api/v1/admin/offers/{r['campus']}/1", {"capacity": 900})
        sc.close()
        self.assertEqual(st, 200)
        orders = self.data.export("orders")
        self.assertEqual(len(orders), 1)
        o = orders[0]
        self.assertEqual((o["order_id"], o["id_number"], o["subjects"], o["state"],
                          o["gateway_txn"]),
                         (order["order_id"], r["id_number"], "1", "paid", "TXN-FIRST"))
        audit = self.data.export("audit")
        self.assertEqual(audit[0]["action"], "demo")  # cetctl demo audits itself
        self.assertEqual([a["action"] for a in audit[1:]], ["amount_mismatch", "refund", "capacity"])
        self.assertIn("TXN-SECOND", audit[2]["detail"])
        self.assertEqual(audit[3]["actor"], "support")


if __name__ == "__main__":
    unittest.main(verbosity=2)
