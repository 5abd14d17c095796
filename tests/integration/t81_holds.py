"""t81_holds: holds, late notices and the pending-order pause, rule by rule (docs/rules.md R9,
R19, R22, R23), with a short --hold-ttl and --order-ttl. t80_expiry checks the
same machinery by its counters and across a restart.

Against the real cetd over real HTTP and real LMDB files; the data and RulesCase
are world.py. Each test cites the rules it checks.

Run: CET_BUILD_DIR=build python3 tests/integration/t81_holds.py [Class.test_name]
"""
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import pay_notice  # noqa: E402
from world import RulesCase, parse_time  # noqa: E402


class ExpiryRules(RulesCase):
    """R19 holds, R22 late notices and R9 empty candidates, with --hold-ttl 4 --order-ttl 1."""

    engine_kw = {"hold_ttl": 4, "order_ttl": 1}

    # docs/rules.md#R19, docs/rules.md#R17
    def test_unpaid_hold_expires_and_seat_returns(self):
        p = self.world.take("w130")
        left0 = self.seats_left(100130, "1")
        self.assertStatus(self.register(p, "1"), 201)
        self.assertStatus(self.register(p, "F"), 201)
        self.assertEqual(self.seats_left(100130, "1"), left0 - 1)
        self.assertTrue(self.wait_until(lambda: "1" not in self.regs_or_empty(p)),
                        "the unpaid hold did not expire")
        self.assertEqual(self.regs_or_empty(p), {})  # its oral went with it
        self.assertEqual(self.seats_left(100130, "1"), left0)

    # docs/rules.md#R19, docs/rules.md#R25
    def test_locked_registration_does_not_expire(self):
        p = self.world.take("w130")
        self.assertStatus(self.register(p, "1"), 201)
        self.assertStatus(self.lock(p, "1"), 200)
        time.sleep(5.5)
        self.assertIs(self.regs(p)["1"]["locked"], True)
        # unlocked: a fresh hold of --hold-ttl, then it goes
        b = self.assertStatus(self.lock(p, "1", locked=False), 200)
        self.assertAlmostEqual(parse_time(b["expires_at"]) - time.time(), 4, delta=2)
        self.assertTrue(self.wait_until(lambda: "1" not in self.regs_or_empty(p)))

    # docs/rules.md#R22, docs/rules.md#R23
    def test_late_notice_pays_when_registrations_remain(self):
        p = self.world.take("w130")
        self.assertStatus(self.register(p, "1"), 201)
        b = self.assertStatus(self.order(p, ["1"]), 201)
        oid = b["order_id"]
        self.assertTrue(self.wait_until(lambda: self.api(
            "GET", f"/api/v1/payments/{oid}", token=p.token).body["state"] == "expired", 5))
        # the order timed out but the registration is still held: a late notice pays it
        st, js = pay_notice(self.engine, oid, 3000)
        self.assertEqual((st, js["status"]), (200, "paid"))
        self.assertEqual(self.api("GET", f"/api/v1/payments/{oid}", token=p.token).body["state"],
                         "paid")
        self.assertEqual(self.regs(p)["1"]["state"], "paid")

    # docs/rules.md#R22, docs/rules.md#R23
    def test_late_notice_for_gone_registrations_is_refund(self):
        p = self.world.take("w130")
        self.assertStatus(self.register(p, "1"), 201)
        b = self.assertStatus(self.order(p, ["1"]), 201)
        oid = b["order_id"]
        self.assertTrue(self.wait_until(lambda: "1" not in self.regs_or_empty(p)),
                        "the hold did not expire after the order did")
        st, js = pay_notice(self.engine, oid, 3000)
        self.assertEqual((st, js["status"]), (200, "refund"))
        self.assertEqual(self.api("GET", f"/api/v1/payments/{oid}", token=p.token).body["state"],
                         "refund")
        st, js = pay_notice(self.engine, oid, 3000)  # another notice: recorded, refund too
        self.assertEqual((st, js["status"]), (200, "refund"))

    # docs/rules.md#R16, docs/rules.md#R19, docs/rules.md#R21
    def test_no_oral_without_its_written_after_expiry(self):
        """R16: nobody may hold an oral subject without its written one, whatever way
        the oral was paid: the school pays only the oral (group payment) while the written
        subject stays unpaid; its hold then runs out."""
        p = self.world.take("w130")
        self.assertStatus(self.register(p, "1"), 201)
        self.assertStatus(self.register(p, "F"), 201)
        self.assertStatus(self.lock(p, "F"), 200)
        # the oral cannot be paid before its written subject
        self.assertErr(self.group_pay(p, ["F"]), 409, "oral_needs_written")
        time.sleep(5.5)  # past --hold-ttl 4 of the written subject
        regs = self.regs_or_empty(p)
        # the written hold expired and took its (locked, unpaid) oral with it
        self.assertEqual(regs, {}, f"an oral subject is left without its written one: {regs}")

    # docs/rules.md#R9
    def test_candidate_without_registrations_is_deleted(self):
        tok = self.new_session()
        p = self.world.take("u130")
        b = self.assertStatus(self.api("POST", "/api/v1/candidate", dict(p.ident(),
                                                                         confirmed=True),
                                       token=tok), 201)
        self.assertTrue(b["bound"])
        self.assertTrue(self.wait_until(
            lambda: self.api("GET", "/api/v1/me", token=tok).body["bound"] is False))
        self.assertErr(self.api("GET", "/api/v1/candidate", token=tok), 409, "not_bound")
        # the account may bind again later
        self.assertStatus(self.api("POST", "/api/v1/candidate", dict(p.ident(), confirmed=True),
                                   token=tok), 201)


class OrderPauseRules(RulesCase):
    """R19, R23: registrations in a pending order do not expire until the order resolves or
    its own timeout passes (--hold-ttl 2 --order-ttl 5)."""

    engine_kw = {"hold_ttl": 2, "order_ttl": 5}

    # docs/rules.md#R19, docs/rules.md#R23
    def test_pending_order_pauses_the_hold(self):
        a, b, c = (self.world.take("w130") for _ in range(3))
        for p in (a, b, c):
            self.assertStatus(self.register(p, "1"), 201)
        oa = self.assertStatus(self.order(a, ["1"]), 201)
        ob = self.assertStatus(self.order(b, ["1"]), 201)
        time.sleep(3.0)  # past the 2 s hold
        self.assertNotIn("1", self.regs_or_empty(c))  # no order: gone
        self.assertEqual(self.regs(a)["1"]["order_id"], oa["order_id"])  # paused
        self.assertEqual(self.regs(b)["1"]["order_id"], ob["order_id"])
        st, js = pay_notice(self.engine, oa["order_id"], 3000)
        self.assertEqual((st, js["status"]), (200, "paid"))
        self.assertEqual(self.regs(a)["1"]["state"], "paid")
        # b's order times out (5 s): its hold, long past, ends at once
        self.assertTrue(self.wait_until(
            lambda: "1" not in self.regs_or_empty(b), 8))
        self.assertEqual(self.api("GET", f"/api/v1/payments/{ob['order_id']}",
                                  token=b.token).body["state"], "expired")
        time.sleep(1.0)
        self.assertEqual(self.regs(a)["1"]["state"], "paid")  # paid never expires


if __name__ == "__main__":
    unittest.main(verbosity=2)
