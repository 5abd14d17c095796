"""t25_cet6_review: the CET6 review: when it is offered, how it is decided, its life, its approval
(docs/rules.md R10..R13).

Against the real cetd over real HTTP and real LMDB files; the data and RulesCase
are world.py. Each test cites the rules it checks.

Run: CET_BUILD_DIR=build python3 tests/integration/t25_cet6_review.py [Class.test_name]
"""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from world import RulesCase  # noqa: E402


class ReviewRules(RulesCase):
    """R10..R13: the candidate's review calls and the staff decision."""

    # docs/rules.md#R10
    def test_review_not_offered(self):
        p = self.world.take("barred")
        self.assertIs(self.page(p)["cet6_review_offered"], False)
        self.assertErr(self.review(p, "100130242190101"), 409, "review_not_offered")
        q = self.world.take("e6")  # already qualified for English-6
        self.assertIs(self.page(q)["cet6_review_offered"], False)
        self.assertErr(self.review(q, "100130242190101"), 409, "review_not_offered")
        self.assertErr(self.api("GET", "/api/v1/cet6-review", token=q.token), 404,
                       "review_not_found")
        self.assertIs(self.page(self.world.people["rauto"][-1])["cet6_review_offered"], True)

    # docs/rules.md#R10
    def test_review_not_offered_without_cet6_at_campus(self):
        p = self.world.take("o994")  # campus 993040 offers no English-6
        self.assertIs(self.page(p)["cet6_review_offered"], False)
        self.assertErr(self.review(p, "993040242190101"), 409, "review_not_offered")

    # docs/rules.md#R11, docs/rules.md#R12, docs/rules.md#R13
    def test_review_auto_approved(self):
        p = self.world.take("rauto")
        self.assertErr(self.register(p, "2"), 409, "not_qualified")
        r = self.review(p)
        b = self.assertStatus(r, 201)
        self.assertEqual(b["state"], "auto_approved")
        self.assertIn("2", b["qualified_subjects"])
        self.assertEqual(self.api("GET", "/api/v1/cet6-review", token=p.token).body["state"],
                         "auto_approved")
        self.assertIn("2", [s["code"] for s in self.page(p)["qualified_subjects"]])
        self.assertEqual(self.api("GET", "/api/v1/me", token=p.token).body["cet6_review"],
                         "auto_approved")
        r = self.register(p, "2")
        self.assertEqual(self.assertStatus(r, 201)["subject"], "2")
        # approved: never changed or withdrawn
        self.assertErr(self.review(p, method="PUT"), 409, "review_not_editable")
        self.assertErr(self.api("DELETE", "/api/v1/cet6-review", token=p.token), 409,
                       "review_not_editable")
        self.assertErr(self.decide(p, "reject"), 409, "review_not_editable")
        self.assertEqual(self.api("GET", "/api/v1/cet6-review", token=p.token).body["state"],
                         "auto_approved")

    # docs/rules.md#R12
    def test_review_one_per_account(self):
        p = self.world.take("rauto")
        self.assertStatus(self.review(p), 201)
        self.assertErr(self.review(p), 409, "review_exists")
        q = self.world.take("rpend")
        self.assertStatus(self.review(q), 201)
        self.assertErr(self.review(q), 409, "review_exists")

    # docs/rules.md#R11, docs/rules.md#R12
    def test_review_pending_cannot_change(self):
        p = self.world.take("rpend")
        r = self.review(p)
        self.assertEqual(self.assertStatus(r, 201)["state"], "pending")
        self.assertNotIn("2", r.body["qualified_subjects"])
        self.assertEqual(self.api("GET", "/api/v1/cet6-review", token=p.token).body["state"],
                         "pending")
        self.assertErr(self.review(p, method="PUT"), 409, "review_not_editable")
        self.assertErr(self.api("DELETE", "/api/v1/cet6-review", token=p.token), 409,
                       "review_not_editable")
        self.assertErr(self.register(p, "2"), 409, "not_qualified")

    # docs/rules.md#R11
    def test_review_refused_stores_nothing(self):
        p = self.world.take("rauto")
        # no such score record
        self.assertErr(self.review(p, p.ticket[:-2] + "29"), 422, "review_refused")
        self.assertErr(self.api("GET", "/api/v1/cet6-review", token=p.token), 404,
                       "review_not_found")
        # somebody else's ticket: neither the ID number nor the name match
        other = self.world.people["rauto"][-1]
        self.assertErr(self.review(p, other.ticket), 422, "review_refused")
        # a failed CET4 (below 425) never qualifies
        f = self.world.take("rfail")
        self.assertErr(self.review(f), 422, "review_refused")
        self.assertErr(self.api("GET", "/api/v1/cet6-review", token=f.token), 404,
                       "review_not_found")
        self.assertIsNone(self.api("GET", "/api/v1/me", token=f.token).body["cet6_review"])
        # nothing stored: the account may still apply
        self.assertEqual(self.assertStatus(self.review(p), 201)["state"], "auto_approved")

    # docs/rules.md#R11
    def test_review_ticket_format(self):
        p = self.world.take("rauto")
        for bad in (p.ticket[:-1], p.ticket + "1", "10013024219A101", "100130042190101",
                    "100130992190101"):
            self.assertErr(self.review(p, bad), 422, "ticket_invalid")
        self.assertErr(self.review(p, confirmed=False), 422, "not_confirmed")
        self.assertErr(self.api("GET", "/api/v1/cet6-review", token=p.token), 404,
                       "review_not_found")
        self.assertStatus(self.review(p), 201)

    # docs/rules.md#R12, docs/rules.md#R13
    def test_review_staff_approve(self):
        p = self.world.take("rpend")
        self.assertStatus(self.review(p), 201)
        r = self.decide(p, "approve")
        self.assertEqual(self.assertStatus(r, 200)["state"], "approved")
        self.assertEqual(self.api("GET", "/api/v1/cet6-review", token=p.token).body["state"],
                         "approved")
        self.assertIn("2", [s["code"] for s in self.page(p)["qualified_subjects"]])
        self.assertStatus(self.register(p, "2"), 201)
        # approved never changes
        self.assertErr(self.decide(p, "reject"), 409, "review_not_editable")
        self.assertErr(self.review(p, method="PUT"), 409, "review_not_editable")
        self.assertErr(self.api("DELETE", "/api/v1/cet6-review", token=p.token), 409,
                       "review_not_editable")

    # docs/rules.md#R12
    def test_review_staff_reject_then_edit_or_delete(self):
        p = self.world.take("rpend")
        self.assertErr(self.review(p, method="PUT"), 404, "review_not_found")
        self.assertErr(self.api("DELETE", "/api/v1/cet6-review", token=p.token), 404,
                       "review_not_found")
        self.assertStatus(self.review(p), 201)
        r = self.decide(p, "reject")
        self.assertEqual(self.assertStatus(r, 200)["state"], "rejected")
        self.assertErr(self.decide(p, "approve"), 409, "review_not_editable")
        self.assertErr(self.register(p, "2"), 409, "not_qualified")
        # a rejected one may be edited and sent again: it is decided afresh
        r = self.review(p, method="PUT")
        self.assertEqual(self.assertStatus(r, 200)["state"], "pending")
        self.assertErr(self.review(p, method="PUT"), 409, "review_not_editable")
        self.assertStatus(self.decide(p, "reject"), 200)
        # ... or deleted
        self.assertEqual(self.assertStatus(
            self.api("DELETE", "/api/v1/cet6-review", token=p.token), 200)["state"], "deleted")
        self.assertErr(self.api("GET", "/api/v1/cet6-review", token=p.token), 404,
                       "review_not_found")
        self.assertStatus(self.review(p), 201)

    # docs/rules.md#R12, docs/rules.md#R24
    def test_review_decision_staff_scope(self):
        p = self.world.take("rpend")
        self.assertStatus(self.review(p), 201)
        self.assertErr(self.decide(p, "approve", user="teacher99101"), 403, "forbidden")
        self.assertEqual(self.api("GET", "/api/v1/cet6-review", token=p.token).body["state"],
                         "pending")
        r = self.decide(p, "maybe")
        self.assertErr(r, 422, "invalid_field")
        r = self.api("POST", f"/api/v1/admin/reviews/{'0' * 32}", {"decision": "approve"},
                     token=self.staff("teacher10013"))
        self.assertErr(r, 404, "review_not_found")
        self.assertErr(self.api("POST", f"/api/v1/admin/reviews/{self.account_id(p.token)}",
                                {"decision": "approve"}), 401, "unauthorized")
        # province 11 staff see BUPT (province 11)
        self.assertEqual(self.assertStatus(self.decide(p, "approve", user="prov11"), 200)["state"],
                         "approved")


if __name__ == "__main__":
    unittest.main(verbosity=2)
