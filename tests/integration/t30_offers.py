"""t30_offers: what is offered: written and oral offers, windows, fees, exam dates, seat colours
(docs/rules.md R14).

Against the real cetd over real HTTP and real LMDB files; the data and RulesCase
are world.py. Each test cites the rules it checks.

Run: CET_BUILD_DIR=build python3 tests/integration/t30_offers.py [Class.test_name]
"""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from world import RulesCase  # noqa: E402


class OfferRules(RulesCase):
    """R14 (and the seats of R17 as the offers show them)."""

    # docs/rules.md#R14
    def test_offers_written_only_qualified_at_own_campus(self):
        p = self.world.take("w130")
        offers = self.offers(p, "written")
        self.assertEqual(set(offers), {("1", "100130")})
        o = offers[("1", "100130")]
        self.assertEqual(o["fee"], 3000)
        self.assertEqual(o["kind"], "written")
        self.assertIn(o["seats"], ("green", "yellow"))
        self.assertTrue(o["window_opens"] and o["window_closes"] and o["exam_date"])
        q = self.world.take("jp")
        self.assertEqual(set(self.offers(q, "written")),
                         {("1", "100130"), ("3", "100130"), ("4", "100130")})
        r = self.api("GET", "/api/v1/offers?kind=both", token=p.token)
        self.assertErr(r, 400, "bad_query")

    # docs/rules.md#R14
    def test_offers_oral_campuses_per_school_setting(self):
        bupt = self.world.take("w130")
        # BUPT allows oral elsewhere: both BUPT campuses that offer English-4 oral
        self.assertEqual(set(self.offers(bupt, "oral")), {("F", "100130"), ("F", "100131")})
        t = self.world.take("t991")
        # 99101 allows only its own campus
        self.assertEqual(set(self.offers(t, "oral")), {("F", "991010")})
        e6 = self.world.take("e6")
        self.assertEqual(set(self.offers(e6, "oral")),
                         {("F", "100130"), ("F", "100131"), ("S", "100130")})

    # docs/rules.md#R14, docs/rules.md#R15, docs/rules.md#R17, docs/rules.md#R20
    def test_offer_seat_colours_and_seats_full(self):
        ps = [self.world.take("small") for _ in range(6)]
        key = ("1", "993030")
        self.assertEqual(self.offers(ps[0])[key]["seats"], "green")  # 4 of 4
        for p in ps[:2]:
            self.assertStatus(self.register(p, "1"), 201)
        self.assertEqual(self.offers(ps[0])[key]["seats"], "green")  # 2 of 4: half
        self.assertStatus(self.register(ps[2], "1"), 201)
        self.assertEqual(self.offers(ps[0])[key]["seats"], "yellow")  # 1 of 4
        self.assertStatus(self.register(ps[3], "1"), 201)
        self.assertEqual(self.offers(ps[4])[key]["seats"], "none")
        self.assertErr(self.register(ps[4], "1"), 409, "seats_full")
        self.assertNotIn("1", self.regs(ps[4]))
        # an unpaid cancellation gives the seat back to the pool
        r = self.cancel(ps[3], "1")
        self.assertEqual(self.assertStatus(r, 200)["cancelled"], ["1"])
        self.assertEqual(self.offers(ps[4])[key]["seats"], "yellow")
        self.assertStatus(self.register(ps[4], "1"), 201)
        self.assertErr(self.register(ps[5], "1"), 409, "seats_full")
        # oral: 2 seats
        for p in ps[:2]:
            self.assertStatus(self.register(p, "F"), 201)
        self.assertEqual(self.offers(ps[2], "oral")[("F", "993030")]["seats"], "none")
        self.assertErr(self.register(ps[2], "F"), 409, "seats_full")

    # docs/rules.md#R14, docs/rules.md#R15
    def test_written_only_inside_offer_window(self):
        p = self.world.take("o994")
        self.assertEqual(set(self.offers(p)), {("1", "993040")})
        self.assertErr(self.register(p, "3"), 409, "window_closed")  # closed yesterday
        self.assertErr(self.register(p, "5"), 409, "window_closed")  # opens later
        self.assertEqual(self.regs(p), {})
        self.assertStatus(self.register(p, "1"), 201)

    # docs/rules.md#R14, docs/rules.md#R16
    def test_oral_offer_needs_window_fee_and_exam_date(self):
        p = self.world.take("o994")
        self.assertStatus(self.register(p, "1"), 201)
        oral = {c for (s, c) in self.offers(p, "oral")}
        self.assertIn("993040", oral)
        self.assertIn("991010", oral)  # 99304 allows other campuses of its province
        self.assertFalse(oral & {"993041", "993042", "993043"}, oral)
        self.assertNotIn("100130", oral)  # another province
        self.assertErr(self.register(p, "F", campus=993041), 404, "offer_not_found")  # fee 0
        self.assertErr(self.register(p, "F", campus=993042), 404, "offer_not_found")  # no date
        self.assertErr(self.register(p, "F", campus=993043), 409, "window_closed")
        self.assertErr(self.register(p, "F", campus=100130), 409, "campus_not_allowed")
        r = self.register(p, "F", campus=991010)
        self.assertEqual(self.assertStatus(r, 201)["campus"], "991010")


if __name__ == "__main__":
    unittest.main(verbosity=2)
