"""t53_support: the support desk's account look-up, GET /api/v1/admin/accounts
(by email, 通行证ID or ID number; support staff only; every look-up audited), and the
guide's case 4(2)b end to end through it: wrong email, forgotten password, already
bound; support finds the old account by the ID number and rebinds it to the new one.

Against the real cetd over real HTTP and real LMDB files (harness.py, world.py).

Run: CET_BUILD_DIR=build python3 tests/integration/t53_support.py [Class.test_name]
"""
import os
import sys
import unittest
import urllib.parse
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from world import RulesCase  # noqa: E402

PATH = "/api/v1/admin/accounts"


class SupportDesk(RulesCase):

    def bind(self, p, email_addr=None):
        email_addr, account_id = self.create_account(email_addr)
        tok = self.login(email_addr)
        self.assertStatus(self.api("POST", "/api/v1/agreement", token=tok), 200)
        self.assertStatus(self.api("POST", "/api/v1/candidate", dict(p.ident(), confirmed=True),
                                   token=tok), 201)
        return email_addr, tok, account_id

    def find(self, token=None, **q):
        return self.api("GET", PATH + "?" + urllib.parse.urlencode(q),
                        token=token if token is not None else self.staff("support"))

    def lookups(self):
        return [a for a in self.world.dd.export("audit") if a["action"] == "account_lookup"]

    def test_finds_by_each_key(self):
        p = self.world.take("u130")
        email_addr, tok, acct = self.bind(p, f"Desk{uuid.uuid4().hex[:6]}@rules.test")
        p.token = tok
        self.assertStatus(self.register(p, "1"), 201)
        for q in ({"email": email_addr}, {"email": email_addr.lower()},
                  {"account_id": acct}, {"account_id": acct.upper()},
                  {"id_type": p.id_type, "id_number": p.id_number}):
            r = self.find(**q)
            self.assertStatus(r, 200)
            self.assertEqual(len(r.body["accounts"]), 1, q)
            a = r.body["accounts"][0]
            self.assertEqual(a["account_id"], acct)
            self.assertEqual(a["email"], email_addr, "support sees the full email")
            self.assertTrue(a["bound"])
            b = a["binding"]
            self.assertEqual(b["id_type"], "mainland")
            self.assertEqual(b["school"], f"{p.school:05d}")
            self.assertNotEqual(b["id_number"], p.id_number, "masked")
            self.assertIn("*", b["id_number"])
            self.assertNotEqual(b["name"], p.name, "masked")
            self.assertEqual([(x["subject"], x["state"]) for x in a["registrations"]],
                             [("1", "unpaid")])
            self.assertRegex(a["created_at"], r"\+08:00$")
        # an unbound account; nothing found is an empty list
        e2, a2 = self.create_account()
        r = self.find(account_id=a2)
        self.assertStatus(r, 200)
        self.assertEqual(r.body["accounts"][0]["bound"], False)
        self.assertIsNone(r.body["accounts"][0]["binding"])
        self.assertEqual(r.body["accounts"][0]["registrations"], [])
        for q in ({"email": "nobody@nowhere.test"}, {"account_id": "0" * 32},
                  {"id_type": "mainland", "id_number": "110105194912310020"}):
            r = self.find(**q)
            self.assertStatus(r, 200)
            self.assertEqual(r.body, {"accounts": []})
        # exactly one well-formed key
        for q in ({}, {"email": e2, "account_id": a2}, {"account_id": "xyz"},
                  {"id_type": "spaceship", "id_number": "1"}, {"id_type": "mainland"},
                  {"email": ""}):
            self.assertErr(self.find(**q), 400, "bad_query")

    def test_only_support_staff(self):
        _, acct = self.create_account()
        for user in ("teacher10013", "prov11"):
            self.assertErr(self.find(token=self.staff(user), account_id=acct), 403, "forbidden")
        cand = self.new_session()
        self.assertErr(self.find(token=cand, account_id=acct), 401, "unauthorized")
        self.assertErr(self.find(token="", account_id=acct), 401, "unauthorized")

    def test_every_lookup_is_audited(self):
        before = len(self.lookups())
        email_addr, acct = self.create_account()
        self.assertStatus(self.find(email=email_addr), 200)
        self.assertStatus(self.find(account_id=acct), 200)
        self.assertStatus(self.find(id_type="mainland", id_number="110105194912310020"), 200)
        self.find(token=self.staff("teacher10013"), account_id=acct)  # refused: not audited
        got = self.lookups()[before:]
        self.assertEqual(len(got), 3, got)
        self.assertTrue(all(a["actor"] == "support" for a in got))
        details = [a["detail"] for a in got]
        self.assertTrue(any(email_addr in d for d in details), details)
        self.assertTrue(any(acct in d for d in details), details)
        self.assertTrue(any("110105194912310020" in d for d in details), details)

    def test_guide_case_find_by_id_number_and_rebind(self):
        """Wrong email, forgotten password, already bound: the candidate makes a new
        account and reads its 通行证ID; support finds the old account by the ID number
        and rebinds the record to the new account."""
        p = self.world.take("u130")
        wrong, old_tok, old_id = self.bind(p, f"typo{uuid.uuid4().hex[:6]}@wrong.test")
        p.token = old_tok
        self.assertStatus(self.register(p, "1"), 201)
        right, new_id = self.create_account(f"right{uuid.uuid4().hex[:6]}@rules.test")
        new_tok = self.login(right)
        r = self.find(id_type=p.id_type, id_number=p.id_number)
        self.assertStatus(r, 200)
        old = r.body["accounts"][0]
        self.assertEqual((old["account_id"], old["email"]), (old_id, wrong))
        self.assertEqual([x["subject"] for x in old["registrations"]], ["1"])
        self.assertFalse(self.find(account_id=new_id).body["accounts"][0]["bound"])
        r = self.api("POST", "/api/v1/admin/rebindings", dict(p.ident(), to_account_id=new_id),
                     token=self.staff("support"))
        self.assertStatus(r, 200)
        self.assertEqual((r.body["from_account_id"], r.body["to_account_id"]), (old_id, new_id))
        # the desk now finds the new account on the record; the old one is unbound
        r = self.find(id_type=p.id_type, id_number=p.id_number)
        self.assertEqual(r.body["accounts"][0]["account_id"], new_id)
        self.assertEqual([x["subject"] for x in r.body["accounts"][0]["registrations"]], ["1"])
        gone = self.find(email=wrong).body["accounts"][0]
        self.assertFalse(gone["bound"])
        self.assertEqual(gone["registrations"], [])
        # the new account sees the registration, the old one does not
        page = self.api("GET", "/api/v1/candidate", token=new_tok)
        self.assertStatus(page, 200)
        self.assertEqual([row["subject"] for row in page.body["written"]], ["1"])
        self.assertErr(self.api("GET", "/api/v1/candidate", token=old_tok), 409, "not_bound")


if __name__ == "__main__":
    unittest.main(verbosity=2)
