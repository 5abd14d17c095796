"""t35_registrations: registering written and oral subjects, cancelling them, the Idempotency-Key
(docs/rules.md R15, R16, R20, R27).

Against the real cetd over real HTTP and real LMDB files; the data and RulesCase
are world.py. Each test cites the rules it checks.

Run: CET_BUILD_DIR=build python3 tests/integration/t35_registrations.py [Class.test_name]
"""
import os
import sys
import time
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from world import RulesCase, DAY, parse_time  # noqa: E402


class RegistrationRules(RulesCase):
    """R15 (written), R16 (oral), R20 (cancellation), R27 (Idempotency-Key)."""

    # docs/rules.md#R15, docs/rules.md#R19
    def test_registration_response(self):
        p = self.world.take("w130")
        t0 = time.time()
        r = self.register(p, "1")
        b = self.assertStatus(r, 201)
        self.assertEqual(b["subject"], "1")
        self.assertEqual(b["campus"], "100130")
        self.assertEqual(b["fee"], 3000)
        self.assertEqual(b["state"], "unpaid")
        self.assertAlmostEqual(parse_time(b["expires_at"]) - t0, DAY, delta=120)
        row = self.regs(p)["1"]
        self.assertEqual((row["state"], row["fee"], row["locked"], row["arrangement"],
                          row["method"]), ("unpaid", 3000, False, "unarranged", "candidate"))
        self.assertEqual(self.page(p)["unpaid"]["total"], 3000)
        self.assertIs(self.offers(p)[("1", "100130")]["registered"], True)

    # docs/rules.md#R15
    def test_registration_not_qualified(self):
        p = self.world.take("w130")
        self.assertErr(self.register(p, "2"), 409, "not_qualified")
        self.assertErr(self.register(p, "3"), 409, "not_qualified")
        self.assertErr(self.register(p, "S"), 409, "not_qualified")
        self.assertEqual(self.regs(p), {})
        self.assertStatus(self.register(p, "1"), 201)

    # docs/rules.md#R15
    def test_registration_offer_not_found(self):
        p = self.world.take("b133")  # 100133 offers 1, 2, 3 and no oral
        self.assertErr(self.register(p, "Z"), 404, "offer_not_found")
        self.assertStatus(self.register(p, "1"), 201)
        self.assertErr(self.register(p, "F"), 404, "offer_not_found")
        self.assertErr(self.register(p, "1", campus=100139), 404, "offer_not_found")
        r = self.api("POST", "/api/v1/registrations", {"subject": "1", "campus": "10013"},
                     token=p.token)
        self.assertErr(r, 422, "invalid_field")
        r = self.api("POST", "/api/v1/registrations", {"subject": "11", "campus": "100133"},
                     token=p.token)
        self.assertErr(r, 422, "invalid_field")

    # docs/rules.md#R15
    def test_written_only_at_own_campus(self):
        p = self.world.take("w130")
        self.assertErr(self.register(p, "1", campus=100131), 409, "campus_not_allowed")
        self.assertErr(self.register(p, "1", campus=991010), 409, "campus_not_allowed")
        self.assertStatus(self.register(p, "1", campus=100130), 201)

    # docs/rules.md#R15
    def test_one_written_subject_per_level(self):
        p = self.world.take("jp")
        self.assertStatus(self.register(p, "1"), 201)
        self.assertErr(self.register(p, "3"), 409, "one_per_level")
        # English-4 and Japanese-6 may be taken together
        self.assertStatus(self.register(p, "4"), 201)
        self.assertEqual(set(self.regs(p)), {"1", "4"})
        # the other way round: Japanese-4 first excludes English-4
        q = self.world.take("jp")
        self.assertStatus(self.register(q, "3"), 201)
        self.assertErr(self.register(q, "1"), 409, "one_per_level")
        # after cancelling Japanese-4, English-4 is possible
        self.assertStatus(self.cancel(q, "3"), 200)
        self.assertStatus(self.register(q, "1"), 201)

    # docs/rules.md#R15, docs/rules.md#R16
    def test_already_registered(self):
        p = self.world.take("w130")
        self.assertStatus(self.register(p, "1"), 201)
        self.assertErr(self.register(p, "1"), 409, "already_registered")
        self.assertStatus(self.register(p, "F"), 201)
        self.assertErr(self.register(p, "F"), 409, "already_registered")
        self.assertErr(self.register(p, "F", campus=100131), 409, "already_registered")
        self.assertEqual(set(self.regs(p)), {"1", "F"})

    # docs/rules.md#R16
    def test_oral_needs_written(self):
        p = self.world.take("w130")
        self.assertErr(self.register(p, "F"), 409, "oral_needs_written")
        e6 = self.world.take("e6")
        self.assertStatus(self.register(e6, "1"), 201)
        self.assertErr(self.register(e6, "S"), 409, "oral_needs_written")  # needs 2, not 1
        self.assertStatus(self.register(e6, "2"), 201)
        self.assertStatus(self.register(e6, "S"), 201)
        self.assertStatus(self.register(p, "1"), 201)
        b = self.assertStatus(self.register(p, "F"), 201)
        self.assertEqual((b["fee"], b["state"]), (5000, "unpaid"))

    # docs/rules.md#R16
    def test_oral_only_own_campus_when_school_says_so(self):
        t = self.world.take("t991")
        self.assertStatus(self.register(t, "1"), 201)
        self.assertErr(self.register(t, "F", campus=993010), 409, "campus_not_allowed")
        self.assertErr(self.register(t, "F", campus=100130), 409, "campus_not_allowed")
        self.assertStatus(self.register(t, "F", campus=991010), 201)

    # docs/rules.md#R16
    def test_oral_elsewhere_when_school_allows(self):
        p = self.world.take("w130")
        self.assertStatus(self.register(p, "1"), 201)
        r = self.register(p, "F", campus=100131)
        self.assertEqual(self.assertStatus(r, 201)["campus"], "100131")
        self.assertEqual(self.regs(p)["F"]["campus"]["code"], "100131")
        # another campus that does not offer the oral subject
        q = self.world.take("w130")
        self.assertStatus(self.register(q, "1"), 201)
        self.assertErr(self.register(q, "F", campus=100132), 404, "offer_not_found")

    # docs/rules.md#R20
    def test_cancel_unpaid(self):
        p = self.world.take("w130")
        self.assertErr(self.cancel(p, "1"), 404, "registration_not_found")
        self.assertStatus(self.register(p, "1"), 201)
        r = self.cancel(p, "1")
        self.assertEqual(self.assertStatus(r, 200)["cancelled"], ["1"])
        self.assertEqual(self.regs(p), {})
        self.assertErr(self.cancel(p, "1"), 404, "registration_not_found")
        self.assertStatus(self.register(p, "1"), 201)

    # docs/rules.md#R20, docs/rules.md#R17
    def test_cancel_written_takes_unpaid_oral(self):
        p = self.world.take("w130")
        self.assertStatus(self.register(p, "1"), 201)
        self.assertStatus(self.register(p, "F"), 201)
        left1, leftf = self.seats_left(100130, "1"), self.seats_left(100130, "F")
        r = self.cancel(p, "1")
        self.assertEqual(sorted(self.assertStatus(r, 200)["cancelled"]), ["1", "F"])
        self.assertEqual(self.regs(p), {})
        self.assertEqual((self.seats_left(100130, "1"), self.seats_left(100130, "F")),
                         (left1 + 1, leftf + 1))
        # the oral alone may be cancelled and leaves the written one
        self.assertStatus(self.register(p, "1"), 201)
        self.assertStatus(self.register(p, "F"), 201)
        self.assertEqual(self.assertStatus(self.cancel(p, "F"), 200)["cancelled"], ["F"])
        self.assertEqual(set(self.regs(p)), {"1"})

    # docs/rules.md#R20
    def test_cancel_paid_never(self):
        p = self.world.take("w130")
        self.assertStatus(self.register(p, "1"), 201)
        self.pay(p, ["1"])
        self.assertErr(self.cancel(p, "1"), 409, "registration_paid")
        self.assertEqual(self.regs(p)["1"]["state"], "paid")

    # docs/rules.md#R20, docs/rules.md#R25, docs/rules.md#R19
    def test_cancel_locked_never(self):
        p = self.world.take("w130")
        self.assertStatus(self.register(p, "1"), 201)
        r = self.lock(p, "1")
        b = self.assertStatus(r, 200)
        self.assertIs(b["locked"], True)
        self.assertIsNone(b["expires_at"])  # a locked registration does not expire
        self.assertIs(self.regs(p)["1"]["locked"], True)
        self.assertErr(self.cancel(p, "1"), 409, "registration_locked")
        # unlocked: a fresh hold, and cancellable again
        b = self.assertStatus(self.lock(p, "1", locked=False), 200)
        self.assertIs(b["locked"], False)
        self.assertAlmostEqual(parse_time(b["expires_at"]) - time.time(), DAY, delta=120)
        self.assertStatus(self.cancel(p, "1"), 200)

    # docs/rules.md#R20
    def test_cancel_written_with_locked_oral(self):
        p = self.world.take("w130")
        self.assertStatus(self.register(p, "1"), 201)
        self.assertStatus(self.register(p, "F"), 201)
        self.assertStatus(self.lock(p, "F"), 200)
        self.assertErr(self.cancel(p, "1"), 409, "registration_locked")
        self.assertEqual(set(self.regs(p)), {"1", "F"})

    # docs/rules.md#R20, docs/rules.md#R21, docs/rules.md#R25
    def test_cancel_written_whose_oral_is_paid(self):
        # An oral is paid with or after its written subject (candidates and
        # group payments alike), so a paid oral always has a paid written one,
        # which cannot be cancelled; the oral alone cannot be paid first.
        p = self.world.take("w130")
        self.assertStatus(self.register(p, "1"), 201)
        self.assertStatus(self.register(p, "F"), 201)
        self.assertStatus(self.lock(p, "F"), 200)
        self.assertErr(self.group_pay(p, ["F"]), 409, "oral_needs_written")
        self.assertStatus(self.lock(p, "1"), 200)
        self.assertStatus(self.group_pay(p, ["1", "F"]), 200)
        regs = self.regs(p)
        self.assertEqual((regs["1"]["state"], regs["F"]["state"]), ("paid", "paid"))
        self.assertErr(self.cancel(p, "1"), 409, "registration_paid")
        self.assertErr(self.cancel(p, "F"), 409, "registration_paid")
        self.assertEqual(set(self.regs(p)), {"1", "F"})

    # docs/rules.md#R20
    def test_cancel_in_pending_order(self):
        p = self.world.take("w130")
        self.assertStatus(self.register(p, "1"), 201)
        self.assertStatus(self.register(p, "F"), 201)
        self.assertStatus(self.order(p, ["1", "F"]), 201)
        self.assertErr(self.cancel(p, "1"), 409, "payment_pending")
        self.assertErr(self.cancel(p, "F"), 409, "payment_pending")
        self.assertEqual(set(self.regs(p)), {"1", "F"})

    # docs/rules.md#R27
    def test_idempotency_key(self):
        p = self.world.take("w130")
        key = {"Idempotency-Key": "reg-" + uuid.uuid4().hex}
        r1 = self.register(p, "1", headers=key)
        self.assertStatus(r1, 201)
        self.assertNotIn("idempotent-replayed", r1.headers)
        r2 = self.register(p, "1", headers=key)
        self.assertEqual((r2.status, r2.body), (201, r1.body))
        self.assertEqual(r2.headers.get("idempotent-replayed"), "true")
        self.assertEqual(list(self.regs(p)), ["1"])
        # the same key for another request
        r3 = self.register(p, "F", headers=key)
        self.assertErr(r3, 422, "idempotency_conflict")
        self.assertEqual(list(self.regs(p)), ["1"])
        # a new key for a request the rules refuse: refused as without a key
        key2 = {"Idempotency-Key": "reg-" + uuid.uuid4().hex}
        self.assertErr(self.register(p, "1", headers=key2), 409, "already_registered")
        # payments: one order for one key
        key3 = {"Idempotency-Key": "pay-" + uuid.uuid4().hex}
        o1 = self.order(p, ["1"], headers=key3)
        o2 = self.order(p, ["1"], headers=key3)
        self.assertStatus(o1, 201)
        self.assertEqual((o2.status, o2.body["order_id"]), (201, o1.body["order_id"]))
        self.assertEqual(o2.headers.get("idempotent-replayed"), "true")
        # keys are per account: another candidate's same key is a new request
        q = self.world.take("w130")
        self.assertStatus(self.register(q, "1", headers=key), 201)


if __name__ == "__main__":
    unittest.main(verbosity=2)
