"""t40_payments: payment orders and the platform's signed notices (docs/rules.md R21, R22).

Against the real cetd over real HTTP and real LMDB files; the data and RulesCase
are world.py. Each test cites the rules it checks.

Run: CET_BUILD_DIR=build python3 tests/integration/t40_payments.py [Class.test_name]
"""
import os
import sys
import time
import unittest
import urllib.parse
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import pay_notice  # noqa: E402
from world import RulesCase, parse_time  # noqa: E402


class PaymentRules(RulesCase):
    """R21 (orders), R22 (notices)."""

    # docs/rules.md#R21, docs/rules.md#R22
    def test_payment_order_and_notice(self):
        p = self.world.take("w130")
        self.assertStatus(self.register(p, "1"), 201)
        self.assertStatus(self.register(p, "F"), 201)
        t0 = time.time()
        r = self.order(p, ["1", "F"], channel="unionpay")
        b = self.assertStatus(r, 201)
        self.assertEqual(b["amount"], 3000 + 5000)
        self.assertEqual(b["state"], "pending")
        self.assertEqual(sorted(b["subjects"]), ["1", "F"])
        q = urllib.parse.parse_qs(urllib.parse.urlparse(b["pay_url"]).query)
        self.assertEqual((q["order_id"][0], q["amount"][0]), (b["order_id"], "8000"))
        self.assertGreater(parse_time(b["expires_at"]), t0)
        oid = b["order_id"]
        g = self.assertStatus(self.api("GET", f"/api/v1/payments/{oid}", token=p.token), 200)
        self.assertEqual((g["state"], g["amount"], g["channel"]), ("pending", 8000, "unionpay"))
        self.assertEqual(self.regs(p)["1"]["order_id"], oid)
        st, js = pay_notice(self.engine, oid, 8000)
        self.assertEqual((st, js.get("status")), (200, "paid"))
        g = self.assertStatus(self.api("GET", f"/api/v1/payments/{oid}", token=p.token), 200)
        self.assertEqual(g["state"], "paid")
        self.assertTrue(g["paid_at"])
        regs = self.regs(p)
        self.assertEqual((regs["1"]["state"], regs["F"]["state"]), ("paid", "paid"))
        self.assertEqual(self.page(p)["unpaid"]["total"], 0)
        # paid: not payable again
        self.assertErr(self.order(p, ["1"]), 409, "registration_paid")

    # docs/rules.md#R21
    def test_payment_in_batches(self):
        p = self.world.take("jp")
        for s in ("1", "4", "F"):
            self.assertStatus(self.register(p, s), 201)
        o1 = self.pay(p, ["1"])
        self.assertEqual(o1["amount"], 3000)
        o2 = self.pay(p, ["4", "F"])  # F after its written subject was paid
        self.assertEqual(o2["amount"], 3500 + 5000)
        self.assertEqual({s: r["state"] for s, r in self.regs(p).items()},
                         {"1": "paid", "4": "paid", "F": "paid"})

    # docs/rules.md#R21
    def test_payment_validation(self):
        p = self.world.take("w130")
        self.assertErr(self.order(p, ["1"]), 404, "registration_not_found")
        self.assertStatus(self.register(p, "1"), 201)
        self.assertErr(self.order(p, ["1"], channel="cash"), 422, "invalid_field")
        self.assertErr(self.order(p, []), 422, "invalid_field")
        self.assertErr(self.order(p, ["1", "1"]), 422, "invalid_field")
        r = self.api("POST", "/api/v1/payments", {"channel": "alipay"}, token=p.token)
        self.assertErr(r, 400, "missing_field")
        self.assertErr(self.api("GET", "/api/v1/payments/99999999", token=p.token), 404,
                       "order_not_found")
        # another candidate's order is not found either
        b = self.assertStatus(self.order(p, ["1"]), 201)
        q = self.world.take("w130")
        self.assertErr(self.api("GET", f"/api/v1/payments/{b['order_id']}", token=q.token), 404,
                       "order_not_found")
        # in a pending order: not in a second one
        self.assertErr(self.order(p, ["1"]), 409, "payment_pending")

    # docs/rules.md#R21
    def test_oral_paid_with_or_after_its_written(self):
        p = self.world.take("w130")
        self.assertStatus(self.register(p, "1"), 201)
        self.assertStatus(self.register(p, "F"), 201)
        self.assertErr(self.order(p, ["F"]), 409, "oral_needs_written")
        b = self.assertStatus(self.order(p, ["1", "F"]), 201)
        self.assertEqual(b["amount"], 8000)

    # docs/rules.md#R22
    def test_notice_idempotent(self):
        p = self.world.take("w130")
        self.assertStatus(self.register(p, "1"), 201)
        b = self.assertStatus(self.order(p, ["1"]), 201)
        txn = "T" + uuid.uuid4().hex[:16]
        st1, js1 = pay_notice(self.engine, b["order_id"], 3000, txn=txn)
        row1 = self.regs(p)["1"]
        st2, js2 = pay_notice(self.engine, b["order_id"], 3000, txn=txn)
        self.assertEqual((st1, js1["status"], st2, js2["status"]), (200, "paid", 200, "paid"))
        self.assertIs(js2.get("duplicate"), True)
        self.assertEqual(self.regs(p)["1"], row1)
        g = self.api("GET", f"/api/v1/payments/{b['order_id']}", token=p.token).body
        self.assertEqual(g["state"], "paid")
        # the platform charged twice (another transaction): recorded for refund, never dropped
        st3, js3 = pay_notice(self.engine, b["order_id"], 3000)
        self.assertEqual((st3, js3["status"]), (200, "refund"))
        g2 = self.api("GET", f"/api/v1/payments/{b['order_id']}", token=p.token).body
        self.assertEqual(g2, g)
        self.assertEqual(self.regs(p)["1"], row1)

    # docs/rules.md#R22
    def test_notice_bad_signature(self):
        p = self.world.take("w130")
        self.assertStatus(self.register(p, "1"), 201)
        b = self.assertStatus(self.order(p, ["1"]), 201)
        st, js = pay_notice(self.engine, b["order_id"], 3000, bad_signature=True)
        self.assertEqual((st, js["error"]["code"]), (401, "invalid_signature"))
        r = self.api("POST", "/api/v1/payments/notify", {"order_id": b["order_id"],
                                                          "amount": 3000})
        self.assertErr(r, 401, "invalid_signature")  # no signature at all
        self.assertEqual(self.regs(p)["1"]["state"], "unpaid")
        self.assertEqual(self.api("GET", f"/api/v1/payments/{b['order_id']}",
                                  token=p.token).body["state"], "pending")

    # docs/rules.md#R22
    def test_notice_amount_mismatch(self):
        p = self.world.take("w130")
        self.assertStatus(self.register(p, "1"), 201)
        b = self.assertStatus(self.order(p, ["1"]), 201)
        st, js = pay_notice(self.engine, b["order_id"], 2999)
        self.assertEqual((st, js["error"]["code"]), (422, "amount_mismatch"))
        self.assertEqual(self.regs(p)["1"]["state"], "unpaid")
        self.assertEqual(self.api("GET", f"/api/v1/payments/{b['order_id']}",
                                  token=p.token).body["state"], "pending")
        st, js = pay_notice(self.engine, b["order_id"], 3000)
        self.assertEqual((st, js["status"]), (200, "paid"))

    # docs/rules.md#R22
    def test_notice_unknown_order(self):
        st, js = pay_notice(self.engine, 987654321, 3000)
        self.assertEqual((st, js["error"]["code"]), (404, "order_not_found"))


if __name__ == "__main__":
    unittest.main(verbosity=2)
