"""t20_candidate: agreement, qualification lookup and binding (docs/rules.md R5, R7, R8).

Against the real cetd over real HTTP and real LMDB files; the data and RulesCase
are world.py. Each test cites the rules it checks.

Run: CET_BUILD_DIR=build python3 tests/integration/t20_candidate.py [Class.test_name]
"""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from world import RulesCase, mainland_id, wrong_check  # noqa: E402


class CandidateRules(RulesCase):
    """R5, R7, R8 inside the open registration window."""

    # docs/rules.md#R5
    def test_agreement_required_before_lookup_and_bind(self):
        tok = self.new_session(agree=False)
        p = self.world.take("u130")
        r = self.api("POST", "/api/v1/qualification", p.ident(), token=tok)
        self.assertErr(r, 403, "agreement_required")
        r = self.api("POST", "/api/v1/candidate", dict(p.ident(), confirmed=True), token=tok)
        self.assertErr(r, 403, "agreement_required")
        r = self.api("POST", "/api/v1/agreement", token=tok)
        b = self.assertStatus(r, 200)
        self.assertIs(b["agreed"], True)
        self.assertIs(self.api("GET", "/api/v1/me", token=tok).body["agreed"], True)
        r = self.api("POST", "/api/v1/qualification", p.ident(), token=tok)
        self.assertStatus(r, 200)
        r = self.api("POST", "/api/v1/candidate", dict(p.ident(), confirmed=True), token=tok)
        self.assertStatus(r, 201)

    # docs/rules.md#R7
    def test_lookup_needs_all_three_fields(self):
        tok = self.new_session()
        p = self.world.people["u130"][-1]  # looked up only, never bound
        for missing in ("id_type", "id_number", "name"):
            body = {k: v for k, v in p.ident().items() if k != missing}
            r = self.api("POST", "/api/v1/qualification", body, token=tok)
            self.assertErr(r, 400, "missing_field")
        r = self.api("POST", "/api/v1/qualification", dict(p.ident(), name=""), token=tok)
        self.assertErr(r, 422, "invalid_field")

    # docs/rules.md#R7, docs/rules.md#R10, docs/rules.md#R6
    def test_lookup_exact_match(self):
        tok = self.new_session()
        p = self.world.people["u130"][-1]
        r = self.api("POST", "/api/v1/qualification", dict(p.ident(), name=p.name[:-1] + "零"),
                     token=tok)
        self.assertErr(r, 404, "roster_not_found")
        r = self.api("POST", "/api/v1/qualification",
                     dict(p.ident(), id_number=mainland_id("990101", 998)), token=tok)
        self.assertErr(r, 404, "roster_not_found")
        r = self.api("POST", "/api/v1/qualification", dict(p.ident(), id_type="passport"),
                     token=tok)
        self.assertErr(r, 404, "roster_not_found")
        r = self.api("POST", "/api/v1/qualification", p.ident(), token=tok)
        b = self.assertStatus(r, 200)
        self.assertEqual(b["roster"]["name"], p.name)
        self.assertEqual(b["roster"]["id_number"], p.id_number)
        self.assertEqual(b["roster"]["school"]["code"], "10013")
        self.assertEqual(b["roster"]["campus"]["code"], "100130")
        self.assertEqual([s["code"] for s in b["qualified_subjects"]], ["1", "F"])
        self.assertIs(b["cet6_review_offered"], True)
        self.assertIs(b["can_bind"], True)
        # nothing is bound by a lookup
        self.assertIs(self.api("GET", "/api/v1/me", token=tok).body["bound"], False)

    # docs/rules.md#R7
    def test_lookup_id_check_digit(self):
        tok = self.new_session()
        p = self.world.people["u130"][-1]
        r = self.api("POST", "/api/v1/qualification",
                     dict(p.ident(), id_number=wrong_check(p.id_number)), token=tok)
        self.assertErr(r, 422, "id_check_digit")
        r = self.api("POST", "/api/v1/candidate",
                     dict(p.ident(), id_number=wrong_check(p.id_number), confirmed=True),
                     token=tok)
        self.assertErr(r, 422, "id_check_digit")
        r = self.api("POST", "/api/v1/qualification", dict(p.ident(), id_number="12345"),
                     token=tok)
        self.assertErr(r, 422, "invalid_id_number")

    # docs/rules.md#R7
    def test_lookup_military_id_refused(self):
        tok = self.new_session()
        p = self.world.people["u130"][-1]
        r = self.api("POST", "/api/v1/qualification",
                     dict(p.ident(), id_type="military", id_number="军字第123456号"), token=tok)
        self.assertErr(r, 422, "id_type_refused")
        r = self.api("POST", "/api/v1/candidate",
                     dict(p.ident(), id_type="military", confirmed=True), token=tok)
        self.assertErr(r, 422, "id_type_refused")
        r = self.api("POST", "/api/v1/qualification", dict(p.ident(), id_type="alien"),
                     token=tok)
        self.assertErr(r, 422, "invalid_field")

    # docs/rules.md#R7
    def test_lookup_several_people_before_binding(self):
        tok = self.new_session()
        a, b = self.world.people["u130"][-1], self.world.people["u130"][-2]
        for p in (a, b, a):
            r = self.api("POST", "/api/v1/qualification", p.ident(), token=tok)
            self.assertStatus(r, 200)
            self.assertEqual(r.body["roster"]["id_number"], p.id_number)
        self.assertIs(self.api("GET", "/api/v1/me", token=tok).body["bound"], False)

    # docs/rules.md#R8
    def test_bind_needs_confirmed(self):
        tok = self.new_session()
        p = self.world.take("u130")
        r = self.api("POST", "/api/v1/candidate", dict(p.ident(), confirmed=False), token=tok)
        self.assertErr(r, 422, "not_confirmed")
        r = self.api("POST", "/api/v1/candidate", p.ident(), token=tok)
        self.assertErr(r, 400, "missing_field")
        r = self.api("POST", "/api/v1/candidate", dict(p.ident(), confirmed="yes"), token=tok)
        self.assertErr(r, 400, "wrong_type")
        self.assertIs(self.api("GET", "/api/v1/me", token=tok).body["bound"], False)
        r = self.api("POST", "/api/v1/candidate", dict(p.ident(), confirmed=True), token=tok)
        b = self.assertStatus(r, 201)
        self.assertIs(b["bound"], True)
        self.assertEqual((b["school"], b["campus"]), ("10013", "100130"))
        self.assertEqual(b["qualified_subjects"], ["1", "F"])
        me = self.api("GET", "/api/v1/me", token=tok).body
        self.assertIs(me["bound"], True)
        self.assertEqual(me["candidate"]["campus"], "100130")

    # docs/rules.md#R8
    def test_bind_wrong_name(self):
        tok = self.new_session()
        p = self.world.take("u130")
        r = self.api("POST", "/api/v1/candidate",
                     dict(p.ident(), name=p.name[:-1] + "零", confirmed=True), token=tok)
        self.assertErr(r, 404, "roster_not_found")
        self.assertStatus(self.api("POST", "/api/v1/candidate", dict(p.ident(), confirmed=True),
                                   token=tok), 201)

    # docs/rules.md#R8
    def test_one_account_one_candidate(self):
        tok = self.new_session()
        a, b = self.world.take("u130"), self.world.take("u130")
        self.assertStatus(self.api("POST", "/api/v1/candidate", dict(a.ident(), confirmed=True),
                                   token=tok), 201)
        r = self.api("POST", "/api/v1/candidate", dict(b.ident(), confirmed=True), token=tok)
        self.assertErr(r, 409, "already_bound")
        r = self.api("POST", "/api/v1/candidate", dict(a.ident(), confirmed=True), token=tok)
        self.assertErr(r, 409, "already_bound")
        # b is still free for somebody else
        tok2 = self.new_session()
        self.assertStatus(self.api("POST", "/api/v1/candidate", dict(b.ident(), confirmed=True),
                                   token=tok2), 201)

    # docs/rules.md#R8, docs/rules.md#R7
    def test_one_candidate_one_account(self):
        p = self.world.take("w130")  # bound by bench-prep to its own account
        tok = self.new_session()
        r = self.api("POST", "/api/v1/candidate", dict(p.ident(), confirmed=True), token=tok)
        self.assertErr(r, 409, "candidate_taken")
        self.assertIs(self.api("GET", "/api/v1/me", token=tok).body["bound"], False)
        # the lookup still works (it binds nothing)
        self.assertStatus(self.api("POST", "/api/v1/qualification", p.ident(), token=tok), 200)

    # docs/rules.md#R8, docs/rules.md#R15
    def test_roster_snapshot_frozen_at_bind(self):
        p = self.world.take("w130")
        before = self.page(p)
        self.assertEqual(before["candidate"]["major"], "规则专业")
        # the school corrects the roster record: another major, Japanese-4 added
        # cetctl never writes a directory a live cetd holds (cli.md): stop, import, start
        self.assertEqual(self.engine.stop(), 0)
        self.world.import_roster([p], major="新改专业", subjects="1;3;F", name="edit")
        self.engine.start()
        tok = self.new_session()
        r = self.api("POST", "/api/v1/qualification", p.ident(), token=tok)
        self.assertEqual(self.assertStatus(r, 200)["roster"]["major"], "新改专业")  # import took
        after = self.page(p)
        self.assertEqual(after["candidate"]["major"], "规则专业")
        self.assertEqual([s["code"] for s in after["qualified_subjects"]], ["1", "F"])
        self.assertErr(self.register(p, "3"), 409, "not_qualified")

    # docs/rules.md#R8
    def test_not_bound(self):
        tok = self.new_session()
        self.assertErr(self.api("GET", "/api/v1/candidate", token=tok), 409, "not_bound")
        self.assertErr(self.api("GET", "/api/v1/offers?kind=written", token=tok), 409,
                       "not_bound")
        r = self.api("POST", "/api/v1/registrations", {"subject": "1", "campus": "100130"},
                     token=tok)
        self.assertErr(r, 409, "not_bound")
        r = self.api("POST", "/api/v1/cet6-review", {"ticket_number": "100130242190101",
                                                     "confirmed": True}, token=tok)
        self.assertErr(r, 409, "not_bound")


if __name__ == "__main__":
    unittest.main(verbosity=2)
