"""A late payment notice pays exactly the registrations its order was made for (issue 9.3).

An order names its registrations by their sequence (with campus and fee), not
by subject code. The reproduction: written 1 at campus 100130 (3000 fen) and
oral F at 100130 (5000 fen) in one order of 8000 fen; the order times out
(--order-ttl 1); the candidate cancels F and registers F at 100131, where
this test makes it cost 9000 fen; the late 8000-fen notice must not pay F at
100131 (12000 fen of seats for 8000 paid): the order is marked `refund`, the
refund is audited, both registrations stay unpaid, `cetctl check` passes.
The same holds when F is made again at the same campus and fee: another
registration than the order's. A notice whose registrations are all still
there pays them (the control). Order ids in paths and notices are strict
decimal (issue 9.10): `/api/v1/payments/+1` is 404, not order 1.
"""
import csv
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import DataDir, Engine, EngineCase, cetctl, error_code, pay_notice  # noqa: E402

CAMPUS_A = "100130"
CAMPUS_B = "100131"   # same school (10013 lets candidates take the oral elsewhere)
FEE_B = 9000


def set_fee(data, campus, subject, fee):
    rows = data.export("campuses")
    path = os.path.join(data.path, "campuses-fee.csv")
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0].keys()))
        w.writeheader()
        for r in rows:
            if r["campus_code"] == campus and r["subject"] == subject:
                r["fee"] = str(fee)
            w.writerow(r)
    cetctl("import", "campuses", "--data", data.data, path)


class LateNotice(EngineCase):
    @classmethod
    def setUpClass(cls):
        cls.data = DataDir(candidates=400, seed=7)
        set_fee(cls.data, CAMPUS_B, "F", FEE_B)
        cls.rows = [r for r in cls.data.bench_prep(400)
                    if r["campus"] == CAMPUS_A and "1" in r["subjects"] and "F" in r["subjects"]]
        cls.engine = Engine(cls.data, order_ttl=1, threads=2)

    def person(self):
        return self.engine.client(self.rows.pop(0)["token"])

    def ok(self, c, method, path, body=None, status=200):
        st, js, _ = c.request(method, path, body)
        self.assertEqual(st, status, (method, path, js))
        return js

    def register(self, c, subject, campus):
        return self.ok(c, "POST", "/api/v1/registrations", {"subject": subject, "campus": campus},
                       201)

    def expired_order(self, c):
        """1 and F at campus A in one order, waited until it timed out."""
        self.assertEqual(self.register(c, "1", CAMPUS_A)["fee"], 3000)
        self.assertEqual(self.register(c, "F", CAMPUS_A)["fee"], 5000)
        order = self.ok(c, "POST", "/api/v1/payments", {"subjects": ["1", "F"],
                                                         "channel": "alipay"}, 201)
        self.assertEqual(order["amount"], 8000)
        oid = order["order_id"]
        deadline = time.time() + 10
        while self.ok(c, "GET", f"/api/v1/payments/{oid}")["state"] != "expired":
            self.assertLess(time.time(), deadline, "the order did not time out")
            time.sleep(0.2)
        return oid

    def regs(self, c):
        page = self.ok(c, "GET", "/api/v1/candidate")
        return {r["subject"]: r for r in page["written"] + page["oral"]}

    def refund_audited(self, oid):
        """The audit line of the order's refund (its detail says why)."""
        lines = [a for a in self.data.export("audit")
                 if a["action"] == "refund" and f"order {oid} " in a["detail"]]
        self.assertTrue(lines, f"no refund audited for order {oid}")
        return lines[0]["detail"]

    def check_passes(self):
        chk = self.data.check()
        self.assertEqual(chk.returncode, 0, chk.stdout + chk.stderr)

    # docs/rules.md#R22, docs/rules.md#R23
    def test_a_remade_elsewhere_at_another_fee_is_refund(self):
        c = self.person()
        oid = self.expired_order(c)
        self.assertEqual(self.ok(c, "DELETE", "/api/v1/registrations/F")["cancelled"], ["F"])
        b = self.register(c, "F", CAMPUS_B)
        self.assertEqual((b["campus"], b["fee"]), (CAMPUS_B, FEE_B))
        st, js = pay_notice(self.engine, oid, 8000)
        self.assertEqual((st, js.get("status")), (200, "refund"), js)
        self.assertEqual(self.ok(c, "GET", f"/api/v1/payments/{oid}")["state"], "refund")
        regs = self.regs(c)
        self.assertEqual((regs["1"]["state"], regs["F"]["state"]), ("unpaid", "unpaid"), regs)
        self.assertEqual(regs["F"]["campus"]["code"], CAMPUS_B)
        why = self.refund_audited(oid)
        self.assertIn(f"({CAMPUS_A}, 5000 fen)", why)
        self.assertIn(f"({CAMPUS_B}, {FEE_B} fen)", why)
        # the same notice again: the same answer, nothing paid
        st2, js2 = pay_notice(self.engine, oid, 8000, txn=None)
        self.assertEqual((st2, js2.get("status")), (200, "refund"), js2)
        self.assertEqual(self.regs(c)["F"]["state"], "unpaid")
        self.check_passes()
        c.close()

    # docs/rules.md#R22
    def test_b_remade_at_the_same_campus_and_fee_is_refund(self):
        c = self.person()
        oid = self.expired_order(c)
        self.ok(c, "DELETE", "/api/v1/registrations/F")
        self.assertEqual(self.register(c, "F", CAMPUS_A)["fee"], 5000)
        st, js = pay_notice(self.engine, oid, 8000)
        self.assertEqual((st, js.get("status")), (200, "refund"), js)
        regs = self.regs(c)
        self.assertEqual((regs["1"]["state"], regs["F"]["state"]), ("unpaid", "unpaid"), regs)
        self.refund_audited(oid)
        self.check_passes()
        c.close()

    # docs/rules.md#R22
    def test_c_registrations_still_there_are_paid(self):
        c = self.person()
        oid = self.expired_order(c)
        st, js = pay_notice(self.engine, oid, 8000)
        self.assertEqual((st, js.get("status")), (200, "paid"), js)
        regs = self.regs(c)
        self.assertEqual((regs["1"]["state"], regs["F"]["state"]), ("paid", "paid"), regs)
        self.assertEqual(self.ok(c, "GET", f"/api/v1/payments/{oid}")["state"], "paid")
        # a wrong amount is never a payment
        c2 = self.person()
        oid2 = self.expired_order(c2)
        st, js = pay_notice(self.engine, oid2, 12000)
        self.assertEqual((st, error_code(js)), (422, "amount_mismatch"), js)
        self.check_passes()
        c.close()
        c2.close()

    # docs/rules.md#R28
    def test_d_order_ids_are_strict_decimal(self):
        c = self.person()
        self.register(c, "1", CAMPUS_A)
        order = self.ok(c, "POST", "/api/v1/payments", {"subjects": ["1"], "channel": "alipay"},
                        201)
        oid = order["order_id"]
        self.assertEqual(self.ok(c, "GET", f"/api/v1/payments/{oid}")["order_id"], oid)
        for bad in ("+" + oid, "0" + oid, oid + "x", " " + oid, "-" + oid, "0x1",
                    "99999999999999999999999", "1e3"):
            st, js, _ = c.request("GET", "/api/v1/payments/" + bad.replace(" ", "%20"))
            self.assertEqual((st, error_code(js)), (404, "order_not_found"), (bad, js))
        st, js = pay_notice(self.engine, "+" + oid, 3000)
        self.assertEqual((st, error_code(js)), (422, "invalid_field"), js)
        c.close()


if __name__ == "__main__":
    harness.main()
