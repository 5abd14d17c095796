"""t50_staff: staff calls: capacity, locks and group payments, each within the staff's scope
(docs/rules.md R17, R24..R26; the review decision is in t25_cet6_review).

Against the real cetd over real HTTP and real LMDB files; the data and RulesCase
are world.py. Each test cites the rules it checks.

Run: CET_BUILD_DIR=build python3 tests/integration/t50_staff.py [Class.test_name]
"""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from world import RulesCase  # noqa: E402


class StaffRules(RulesCase):
    """R24 (scope), R25 (locks, group payment), R26 (capacity) with R17."""

    # docs/rules.md#R26, docs/rules.md#R24, docs/rules.md#R17
    def test_staff_capacity_changes_seats(self):
        ps = [self.world.take("b133") for _ in range(3)]
        key = ("3", "100133")
        r = self.api("PUT", "/api/v1/admin/offers/100133/3", {"capacity": 2},
                     token=self.staff("teacher99101"))
        self.assertErr(r, 403, "forbidden")
        r = self.api("PUT", "/api/v1/admin/offers/100133/3", {"capacity": 2},
                     token=self.staff("teacher10013"))
        self.assertEqual(self.assertStatus(r, 200)["capacity"], 2)
        r = self.api("PUT", "/api/v1/admin/offers/100133/F", {"capacity": 2},
                     token=self.staff("teacher10013"))
        self.assertErr(r, 404, "offer_not_found")
        self.assertEqual(self.offers(ps[0])[key]["seats"], "green")
        self.assertStatus(self.register(ps[0], "3"), 201)
        self.assertEqual(self.offers(ps[0])[key]["seats"], "green")  # 1 of 2: half
        self.assertStatus(self.register(ps[1], "3"), 201)
        self.assertEqual(self.offers(ps[2])[key]["seats"], "none")
        self.assertErr(self.register(ps[2], "3"), 409, "seats_full")
        # raise it again: one more seat
        r = self.api("PUT", "/api/v1/admin/offers/100133/3", {"capacity": 3},
                     token=self.staff("teacher10013"))
        self.assertStatus(r, 200)
        self.assertEqual(self.offers(ps[2])[key]["seats"], "yellow")
        self.assertStatus(self.register(ps[2], "3"), 201)

    # docs/rules.md#R17, docs/rules.md#R26
    def test_capacity_cut_below_taken_never_oversells(self):
        """A school may not lower a capacity below the seats already held (the write txn
        checks it: 409 capacity_below_live); down to exactly those it may, and then
        only a cancellation opens a seat."""
        ps = [self.world.take("b132") for _ in range(4)]
        for p in ps[:3]:
            self.assertStatus(self.register(p, "1"), 201)
        r = self.api("PUT", "/api/v1/admin/offers/100132/1", {"capacity": 1},
                     token=self.staff("teacher10013"))
        self.assertErr(r, 409, "capacity_below_live")
        r = self.api("PUT", "/api/v1/admin/offers/100132/1", {"capacity": 3},
                     token=self.staff("teacher10013"))
        self.assertStatus(r, 200)
        self.assertEqual(self.offers(ps[3])[("1", "100132")]["seats"], "none")
        self.assertErr(self.register(ps[3], "1"), 409, "seats_full")
        self.assertEqual(self.seats_left(100132, "1"), 0)
        self.assertStatus(self.cancel(ps[0], "1"), 200)  # 2 held, capacity 3: one seat
        self.assertEqual(self.seats_left(100132, "1"), 1)
        self.assertStatus(self.register(ps[3], "1"), 201)
        self.assertErr(self.register(ps[0], "1"), 409, "seats_full")

    # docs/rules.md#R25, docs/rules.md#R24, docs/rules.md#R21, docs/rules.md#R20
    def test_locked_paid_by_school(self):
        p = self.world.take("w130")
        self.assertStatus(self.register(p, "1"), 201)
        gp = {"id_type": p.id_type, "id_number": p.id_number, "subjects": ["1"]}
        r = self.api("POST", "/api/v1/admin/group-payments", gp, token=self.staff("teacher10013"))
        self.assertErr(r, 409, "nothing_to_pay")  # not locked for group payment
        self.assertStatus(self.lock(p, "1"), 200)
        self.assertErr(self.order(p, ["1"]), 409, "registration_locked")
        r = self.api("POST", "/api/v1/admin/group-payments", gp, token=self.staff("teacher99101"))
        self.assertErr(r, 403, "forbidden")
        r = self.api("POST", "/api/v1/admin/group-payments", gp, token=self.staff("teacher10013"))
        self.assertEqual(self.assertStatus(r, 200)["paid"], ["1"])
        row = self.regs(p)["1"]
        self.assertEqual((row["state"], row["locked"]), ("paid", False))
        self.assertErr(self.cancel(p, "1"), 409, "registration_paid")
        self.assertErr(self.lock(p, "1"), 409, "registration_paid")
        r = self.api("POST", "/api/v1/admin/group-payments", gp, token=self.staff("teacher10013"))
        self.assertErr(r, 409, "registration_paid")

    # docs/rules.md#R24, docs/rules.md#R25
    def test_lock_staff_scope(self):
        p = self.world.take("w130")
        t = self.world.take("t991")
        self.assertStatus(self.register(p, "1"), 201)
        self.assertStatus(self.register(t, "1"), 201)
        self.assertErr(self.lock(p, "1", user="teacher99101"), 403, "forbidden")
        self.assertErr(self.lock(t, "1", user="teacher10013"), 403, "forbidden")
        self.assertErr(self.lock(t, "1", user="prov11"), 403, "forbidden")  # province 99
        self.assertIs(self.regs(p)["1"]["locked"], False)
        self.assertStatus(self.lock(p, "1", user="prov11"), 200)
        self.assertStatus(self.lock(t, "1", user="teacher99101"), 200)
        self.assertStatus(self.lock(t, "1", locked=False, user="support"), 200)
        self.assertErr(self.lock(p, "F"), 404, "registration_not_found")
        # lock while in a pending order: refused
        q = self.world.take("w130")
        self.assertStatus(self.register(q, "1"), 201)
        self.assertStatus(self.order(q, ["1"]), 201)
        self.assertErr(self.lock(q, "1"), 409, "payment_pending")


if __name__ == "__main__":
    unittest.main(verbosity=2)
