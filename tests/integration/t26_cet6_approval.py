"""t26_cet6_approval (docs/rules.md R13): an approved CET6 review qualifies for
English-6 as the roster would, written (2) and oral (S), whether the approval is automatic
(ticket + ID number), by a school teacher (ticket + name, pending first) or
carried over when the same account binds the same record again; and it adds
nothing else (the other languages keep what the roster gave).

Data: `cetctl demo` (school 10013, campus 100130 offers 2 and S) plus our own
roster records and CET4 scores imported with `cetctl import`. Accounts are made
over the API (cetd --captcha off). Python 3 standard library only.

Run: CET_BUILD_DIR=build python3 tests/integration/t26_cet6_approval.py
"""
import os
import sys
import time
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import DataDir, Engine, EngineCase, cetctl, error_code, staff_token  # noqa: E402

PASSWORD = "cet6-Pass-2026"
CAMPUS = 100130
ROSTER_COLS = ["id_type", "id_number", "name", "gender", "school", "campus", "education",
               "program_years", "entry_year", "grade", "department", "major", "class_name",
               "student_no", "remarks", "subjects", "cet6_barred"]


def mainland_id(seq):
    d17 = f"99010120040615{seq:03d}"
    w = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    return d17 + "10X98765432"[sum(int(c) * k for c, k in zip(d17, w)) % 11]


class Person:
    def __init__(self, seq, name, subjects, score):
        self.id_number = mainland_id(seq)
        self.name = name
        self.subjects = subjects          # the roster's qualified subjects
        self.score = score                # "auto" (ticket + ID) or "pending" (ticket + name)
        self.ticket = f"{CAMPUS:06d}2421{800 + seq:03d}01"
        self.token = None

    def ident(self):
        return {"id_type": "mainland", "id_number": self.id_number, "name": self.name}


PEOPLE = {
    "auto": Person(1, "钱审一", "1;F", "auto"),
    "pending": Person(2, "孙审二", "1;F", "pending"),
    "japanese": Person(3, "李审三", "1;3;4;F", "auto"),
    "rebind": Person(4, "周审四", "1;F", "auto"),
}


def make_data(people):
    dd = DataDir(candidates=40, seed=7)
    roster = os.path.join(dd.path, "cet6-roster.csv")
    with open(roster, "w", encoding="utf-8") as f:
        f.write(",".join(ROSTER_COLS) + "\n")
        for p in people:
            f.write(",".join(str(v) for v in [
                "mainland", p.id_number, p.name, "M", 10013, CAMPUS, "本科", 4, 2023, 3,
                "审核学院", "审核专业", "20230101", "C" + p.id_number[-6:], "", p.subjects, 0]) + "\n")
    cetctl("import", "roster", "--data", dd.data, roster)
    scores = os.path.join(dd.path, "cet6-scores.csv")
    with open(scores, "w", encoding="utf-8") as f:
        f.write("ticket,id_number,name,score,year\n")
        for p in people:
            idn = p.id_number if p.score == "auto" else mainland_id(500)
            f.write(f"{p.ticket},{idn},{p.name},520,2024\n")
    cetctl("import", "scores", "--data", dd.data, scores)
    return dd


class Cet6Base(EngineCase):
    def api(self, method, path, body=None, token=None):
        st, js, _ = self.http.request(method, path, body=body, token=token or "",
                                      headers={"Idempotency-Key": uuid.uuid4().hex}
                                      if method != "GET" else None)
        return st, js

    def ok(self, r, status):
        self.assertEqual(r[0], status, str(r[1])[:300])
        return r[1]

    def captcha(self):
        return self.ok(self.api("POST", "/api/v1/captcha", {}), 201)["captcha_id"]

    def bind(self, p):
        email = f"cet6-{uuid.uuid4().hex[:10]}@example.com"
        self.ok(self.api("POST", "/api/v1/accounts", {"email": email, "password": PASSWORD,
                                                      "captcha_id": self.captcha(),
                                                      "captcha_answer": "00000"}), 201)
        p.token = self.ok(self.api("POST", "/api/v1/sessions",
                                   {"email": email, "password": PASSWORD,
                                    "captcha_id": self.captcha(), "captcha_answer": "00000"}),
                          201)["token"]
        self.ok(self.api("POST", "/api/v1/agreement", {}, p.token), 200)
        self.ok(self.api("POST", "/api/v1/candidate", dict(p.ident(), confirmed=True), p.token),
                201)

    def qualified(self, p):
        page = self.ok(self.api("GET", "/api/v1/candidate", token=p.token), 200)
        return sorted(s["code"] for s in page["qualified_subjects"])

    def oral_offers(self, p):
        b = self.ok(self.api("GET", "/api/v1/offers?kind=oral", token=p.token), 200)
        return {(o["subject"], o["campus"]["code"]) for o in b["offers"]}

    def review(self, p):
        return self.api("POST", "/api/v1/cet6-review",
                        {"ticket_number": p.ticket, "confirmed": True}, p.token)

    def assert_english6_written_and_oral(self, p):
        """English-6 written then oral register; the oral is offered once the written is in."""
        st, b = self.api("POST", "/api/v1/registrations", {"subject": "S", "campus": f"{CAMPUS}"},
                         p.token)
        self.assertEqual((st, error_code(b)), (409, "oral_needs_written"), b)
        r = self.ok(self.api("POST", "/api/v1/registrations",
                             {"subject": "2", "campus": f"{CAMPUS}"}, p.token), 201)
        self.assertEqual(r["subject"], "2")
        self.assertIn(("S", f"{CAMPUS}"), self.oral_offers(p))
        r = self.ok(self.api("POST", "/api/v1/registrations",
                             {"subject": "S", "campus": f"{CAMPUS}"}, p.token), 201)
        self.assertEqual((r["subject"], r["state"]), ("S", "unpaid"))


class Cet6Approval(Cet6Base):
    @classmethod
    def setUpClass(cls):
        cls.data = make_data([PEOPLE["auto"], PEOPLE["pending"], PEOPLE["japanese"]])
        cls.engine = Engine(cls.data)
        cls.http = cls.engine.client()

    @classmethod
    def tearDownClass(cls):
        cls.http.close()
        super().tearDownClass()

    # docs/rules.md#R11, docs/rules.md#R13, docs/rules.md#R16
    def test_auto_approval_grants_written_and_oral(self):
        p = PEOPLE["auto"]
        self.bind(p)
        self.assertEqual(self.qualified(p), ["1", "F"])
        self.assertNotIn("S", {s for s, _ in self.oral_offers(p)})
        st, b = self.api("POST", "/api/v1/registrations", {"subject": "S", "campus": f"{CAMPUS}"},
                         p.token)
        self.assertEqual((st, error_code(b)), (409, "not_qualified"), b)
        b = self.ok(self.review(p), 201)
        self.assertEqual(b["state"], "auto_approved")
        self.assertEqual(sorted(b["qualified_subjects"]), ["1", "2", "F", "S"])
        self.assertEqual(self.qualified(p), ["1", "2", "F", "S"])
        self.assertIs(self.ok(self.api("GET", "/api/v1/candidate", token=p.token), 200)
                      ["cet6_review_offered"], False)
        self.assert_english6_written_and_oral(p)

    # docs/rules.md#R12, docs/rules.md#R13
    def test_staff_approval_grants_written_and_oral(self):
        p = PEOPLE["pending"]
        self.bind(p)
        b = self.ok(self.review(p), 201)
        self.assertEqual(b["state"], "pending")
        self.assertEqual(self.qualified(p), ["1", "F"])  # nothing before the teacher decides
        acct = self.ok(self.api("GET", "/api/v1/me", token=p.token), 200)["account_id"]
        staff = staff_token(self.engine, "teacher10013")
        b = self.ok(self.api("POST", f"/api/v1/admin/reviews/{acct}", {"decision": "approve"},
                             staff), 200)
        self.assertEqual(b["state"], "approved")
        self.assertEqual(self.qualified(p), ["1", "2", "F", "S"])
        self.assert_english6_written_and_oral(p)

    # docs/rules.md#R13
    def test_other_languages_keep_the_roster(self):
        p = PEOPLE["japanese"]
        self.bind(p)
        self.assertEqual(self.ok(self.review(p), 201)["state"], "auto_approved")
        # English-6 written and oral added; Japanese stays as the roster had it (no oral)
        self.assertEqual(self.qualified(p), ["1", "2", "3", "4", "F", "S"])


class Cet6ApprovalRebind(Cet6Base):
    """A candidate with no subjects is deleted after the hold TTL; the same account
    binding the same record again keeps the approved review: English-6 written and oral."""

    HOLD_TTL_S = 3

    @classmethod
    def setUpClass(cls):
        cls.data = make_data([PEOPLE["rebind"]])
        cls.engine = Engine(cls.data, hold_ttl=cls.HOLD_TTL_S)
        cls.http = cls.engine.client()

    @classmethod
    def tearDownClass(cls):
        cls.http.close()
        super().tearDownClass()

    # docs/rules.md#R8, docs/rules.md#R9, docs/rules.md#R13
    def test_rebind_keeps_english6_written_and_oral(self):
        p = PEOPLE["rebind"]
        self.bind(p)
        self.assertEqual(self.ok(self.review(p), 201)["state"], "auto_approved")
        self.assertEqual(self.qualified(p), ["1", "2", "F", "S"])
        deadline = time.time() + 30
        while time.time() < deadline:
            if not self.ok(self.api("GET", "/api/v1/me", token=p.token), 200)["bound"]:
                break
            time.sleep(0.5)
        else:
            self.fail("the empty candidate was not deleted")
        st, b = self.api("GET", "/api/v1/candidate", token=p.token)
        self.assertEqual((st, error_code(b)), (409, "not_bound"), b)
        self.ok(self.api("POST", "/api/v1/candidate", dict(p.ident(), confirmed=True), p.token),
                201)
        self.assertEqual(self.qualified(p), ["1", "2", "F", "S"])
        self.assert_english6_written_and_oral(p)


if __name__ == "__main__":
    unittest.main(verbosity=2)
