"""t52_admin: the admin API of the school's side (api.md "School, province and support
staff"), scoped and audited: the scope matrix (school A, school B, province, support,
candidate), roster uploads (dry run with errors by line, GBK CSV with Chinese headers,
.xlsx, a row of another school refusing the whole file), reviews to decide, offers
(capacity never below live), school settings, announcements (read back on the
candidate's page), exports (CSV with a BOM and IDs intact, .xlsx read back with
openpyxl), the audit hash chain re-verified here and by `cetctl check`, and a tampered
or removed entry caught by `cetctl check`.

Against the real cetd over real HTTP and real LMDB files (world.py: the demo staff
teacher10013 of school 10013 in province 11, teacher99101 of school 99101 in province
99, prov11, support).

Run: CET_BUILD_DIR=build python3 tests/integration/t52_admin.py [Class.test_name]
"""
import csv
import hashlib
import io
import json
import os
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import DataDir, cetctl  # noqa: E402
from world import ROSTER_COLS, RulesCase, csv_line, mainland_id  # noqa: E402

SYSTEM_PYTHON = "/usr/bin/python3"  # Debian's, where python3-openpyxl installs (as t96)


def has_openpyxl():
    return os.path.exists(SYSTEM_PYTHON) and subprocess.run(
        [SYSTEM_PYTHON, "-c", "import openpyxl"], capture_output=True).returncode == 0


OPENPYXL = has_openpyxl()


def run_py(code, stdin):
    p = subprocess.run([SYSTEM_PYTHON, "-c", code], input=stdin, capture_output=True,
                       timeout=120)
    assert p.returncode == 0, p.stderr.decode()
    return p.stdout


def xlsx_write(rows):
    """A workbook made by openpyxl (an independent writer) from rows of text."""
    code = ("import io, json, sys, openpyxl\n"
            "wb = openpyxl.Workbook(); ws = wb.active\n"
            "for r in json.load(sys.stdin): ws.append(r)\n"
            "b = io.BytesIO(); wb.save(b); sys.stdout.buffer.write(b.getvalue())\n")
    return run_py(code, json.dumps(rows).encode())


def xlsx_read(data):
    """[[value, ...], ...] of the first sheet, each value as [type name, value]."""
    code = ("import io, json, sys, openpyxl\n"
            "wb = openpyxl.load_workbook(io.BytesIO(sys.stdin.buffer.read()))\n"
            "ws = wb.worksheets[0]\n"
            "print(json.dumps([[[type(c.value).__name__, c.value] for c in r] "
            "for r in ws.iter_rows()], default=str))\n")
    return json.loads(run_py(code, data))

ZH_COLS = ["证件类型", "证件号码", "姓名", "性别", "学校代码", "校区代码", "学历", "学制", "入学年份",
           "年级", "院系", "专业", "班级", "学号", "备注", "资格科目", "禁报六级"]


def row(seq, school=10013, campus=100130, name=None, id_number=None, zh=False):
    idn = id_number or mainland_id("990303", seq)
    return ["居民身份证" if zh else "mainland", idn, name or f"上传{seq:03d}", "女" if zh else "F",
            f"{school:05d}", f"{campus:06d}", "本科", 4, 2024, 2, "外国语学院", "英语", "20240101",
            f"U{seq:06d}", "", "1;F", 0]


def csv_bytes(rows, zh=False, encoding="utf-8"):
    text = csv_line(ZH_COLS if zh else ROSTER_COLS) + "".join(csv_line(r) for r in rows)
    return text.encode(encoding)


def netstring(s):
    b = s.encode("utf-8")
    return str(len(b)).encode() + b":" + b + b","


def entry_hash(e):
    """The chain's hash of one entry (docs/storage.md, audit)."""
    h = hashlib.sha256()
    for v in (str(e["seq"]), e["at"], e["actor"], e["action"], e["target"], e["detail"],
              e["prev_hash"]):
        h.update(netstring(v))
    return h.hexdigest()


class AdminApi(RulesCase):
    """Every admin call in scope and 403 out of it; every change audited."""

    A, B, PROV, SUPPORT = "teacher10013", "teacher99101", "prov11", "support"

    def upload(self, data, user, dry_run, content_type="text/csv"):
        return self.api("POST", f"/api/v1/admin/roster?dry_run={1 if dry_run else 0}",
                        raw=data, headers={"Content-Type": content_type},
                        token=self.staff(user))

    def bind(self, token, r):
        return self.api("POST", "/api/v1/candidate", {"id_type": "mainland", "id_number": r[1],
                                                       "name": r[2], "confirmed": True},
                        token=token)

    def audit(self, user):
        entries, after = [], 0
        while True:
            r = self.api("GET", f"/api/v1/admin/audit?after={after}", token=self.staff(user))
            self.assertStatus(r, 200)
            entries += r.body["entries"]
            if not r.body["entries"]:
                return entries
            after = r.body["next_after"]

    def verify_chain(self, entries):
        prev = "0" * 64
        for i, e in enumerate(entries):
            self.assertEqual(e["seq"], i + 1)
            self.assertEqual(e["prev_hash"], prev, f"entry {e['seq']}")
            if not e.get("redacted"):
                self.assertEqual(entry_hash(e), e["hash"], f"entry {e['seq']}")
            prev = e["hash"]

    # ---- the scope matrix ----
    def test_scope_matrix(self):
        cand = self.world.take("w130")
        calls = [("GET", "/api/v1/admin/reviews?state=pending", None),
                 ("GET", "/api/v1/admin/announcements", None),
                 ("GET", "/api/v1/admin/audit", None),
                 ("GET", "/api/v1/admin/dashboard", None),
                 ("GET", "/api/v1/admin/registrations", None),
                 ("GET", "/api/v1/admin/exports/candidates?format=csv", None),
                 ("PUT", "/api/v1/admin/offers/100130/1", {"capacity": 1000}),
                 ("PUT", "/api/v1/admin/schools/10013/settings", {"oral_elsewhere": True}),
                 ("POST", "/api/v1/admin/announcements", {"title": "t", "body": "b"})]
        for m, path, body in calls:
            self.assertErr(self.api(m, path, body, token=self.staff(self.SUPPORT)), 403,
                           "forbidden")
            self.assertErr(self.api(m, path, body, token=cand.token), 401, "unauthorized")
            self.assertErr(self.api(m, path, body), 401, "unauthorized")
        self.assertErr(self.upload(csv_bytes([row(1)]), self.SUPPORT, True), 403, "forbidden")
        # school A on school B's offer, settings, export, announcement; B on A's
        for user, campus, school in [(self.A, 991010, 99101), (self.B, 100130, 10013)]:
            r = self.api("PUT", f"/api/v1/admin/offers/{campus}/1", {"capacity": 1000},
                         token=self.staff(user))
            self.assertErr(r, 403, "forbidden")
            r = self.api("PUT", f"/api/v1/admin/schools/{school}/settings",
                         {"oral_elsewhere": False}, token=self.staff(user))
            self.assertErr(r, 403, "forbidden")
            r = self.api("GET", f"/api/v1/admin/exports/registrations?school={school}",
                         token=self.staff(user))
            self.assertErr(r, 403, "forbidden")
            r = self.api("POST", "/api/v1/admin/announcements",
                         {"scope": "school", "school": f"{school:05d}", "title": "x", "body": "y"},
                         token=self.staff(user))
            self.assertErr(r, 403, "forbidden")
            r = self.api("POST", "/api/v1/admin/announcements",
                         {"scope": "province", "title": "x", "body": "y"}, token=self.staff(user))
            self.assertErr(r, 403, "forbidden")
        # in scope: A on its own school
        r = self.api("PUT", "/api/v1/admin/schools/10013/settings", {"oral_elsewhere": True},
                     token=self.staff(self.A))
        self.assertEqual(self.assertStatus(r, 200), {"school": "10013", "oral_elsewhere": True})
        # the province across its schools only
        r = self.api("PUT", "/api/v1/admin/schools/10013/settings", {"oral_elsewhere": True},
                     token=self.staff(self.PROV))
        self.assertStatus(r, 200)
        r = self.api("PUT", "/api/v1/admin/schools/99101/settings", {"oral_elsewhere": False},
                     token=self.staff(self.PROV))
        self.assertErr(r, 403, "forbidden")
        r = self.api("PUT", "/api/v1/admin/offers/991010/1", {"capacity": 1000},
                     token=self.staff(self.PROV))
        self.assertErr(r, 403, "forbidden")
        r = self.api("GET", "/api/v1/admin/exports/candidates?school=99101",
                     token=self.staff(self.PROV))
        self.assertErr(r, 403, "forbidden")
        r = self.api("GET", "/api/v1/admin/exports/candidates?school=10013",
                     token=self.staff(self.PROV))
        self.assertStatus(r, 200)
        d = self.assertStatus(self.api("GET", "/api/v1/admin/dashboard",
                                       token=self.staff(self.PROV)), 200)
        self.assertEqual(sorted(s["code"] for s in d["schools"]), ["10013"])
        d = self.assertStatus(self.api("GET", "/api/v1/admin/dashboard",
                                       token=self.staff(self.B)), 200)
        self.assertEqual([s["code"] for s in d["schools"]], ["99101"])
        self.assertTrue(all(o["school"] == "99101" for o in d["offers"]))

    # ---- roster uploads ----
    def test_roster_dry_run_shows_errors_and_applies_nothing(self):
        rows = [row(10), row(11), row(12)]
        rows[1][1] = rows[1][1][:-1] + ("1" if rows[1][1][-1] != "1" else "2")  # check digit
        rows[2][6] = "博士"                                                         # education
        r = self.upload(csv_bytes(rows), self.A, True)
        body = self.assertStatus(r, 422)
        self.assertEqual(body["error"]["code"], "roster_refused")
        self.assertEqual(body["rows"], 3)
        self.assertEqual((body["inserted"], body["updated"]), (0, 0))
        errs = {(e["line"], e["field"], e["code"]) for e in body["errors"]}
        self.assertIn((3, "id_number", "id_check_digit"), errs)
        self.assertIn((4, "education", "invalid_field"), errs)
        # nothing applied: the good row is not there either
        self.assertNotIn(rows[0][1], self.export_text("candidates"))
        self.assertErr(self.bind(self.new_session(), rows[0]), 404, "roster_not_found")
        # a good file in dry run: counts, still nothing applied; then applied
        good = [row(13), row(14)]
        body = self.assertStatus(self.upload(csv_bytes(good), self.A, True), 200)
        self.assertEqual((body["rows"], body["inserted"], body["updated"], body["errors"]),
                         (2, 2, 0, []))
        self.assertIs(body["dry_run"], True)
        tok = self.new_session()
        self.assertErr(self.bind(tok, good[0]), 404, "roster_not_found")
        body = self.assertStatus(self.upload(csv_bytes(good), self.A, False), 200)
        self.assertEqual((body["rows"], body["inserted"], body["updated"]), (2, 2, 0))
        self.assertStatus(self.bind(tok, good[0]), 201)
        # the same file again: updates
        body = self.assertStatus(self.upload(csv_bytes(good), self.A, False), 200)
        self.assertEqual((body["inserted"], body["updated"]), (0, 2))
        acts = [e for e in self.audit(self.A) if e.get("action") == "roster_import"]
        self.assertEqual(len(acts), 2)
        self.assertEqual(acts[-1]["actor"], self.A)
        self.assertEqual(acts[-1]["target"], "school:10013")
        self.assertIn(hashlib.sha256(csv_bytes(good)).hexdigest(), acts[-1]["detail"])

    def test_roster_gbk_chinese_headers_applies(self):
        rows = [row(20, zh=True, name="张三丰"), row(21, zh=True, name="李四")]
        data = csv_bytes(rows, zh=True, encoding="gbk")
        self.assertRaises(UnicodeDecodeError, data.decode, "utf-8")
        body = self.assertStatus(self.upload(data, self.A, False), 200)
        self.assertEqual((body["rows"], body["inserted"], body["errors"]), (2, 2, []))
        tok = self.new_session()
        self.assertStatus(self.bind(tok, rows[0]), 201)

    @unittest.skipUnless(OPENPYXL, "python3-openpyxl is not installed")
    def test_roster_xlsx_applies(self):
        rows = [row(30, zh=True, name="王五"), row(31, zh=True, name="赵六")]
        data = xlsx_write([ZH_COLS] + [[str(v) for v in r_] for r_ in rows])
        ct = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        body = self.assertStatus(self.upload(data, self.A, False, ct), 200)
        self.assertEqual((body["rows"], body["inserted"], body["errors"]), (2, 2, []))
        self.assertIn(rows[1][1], self.roster_ids())

    def test_roster_other_school_refuses_whole_file(self):
        rows = [row(40), row(41, school=99101, campus=991010), row(42)]
        body = self.assertStatus(self.upload(csv_bytes(rows), self.A, False), 403)
        self.assertEqual(body["error"]["code"], "forbidden")
        self.assertEqual([(e["line"], e["field"], e["code"]) for e in body["errors"]],
                         [(3, "school", "roster_other_school")])
        self.assertEqual((body["inserted"], body["updated"]), (0, 0))
        self.assertNotIn(rows[0][1], self.roster_ids())
        # the province: its own schools yes, another province's no
        body = self.assertStatus(self.upload(csv_bytes(rows), self.PROV, True), 403)
        self.assertEqual([e["line"] for e in body["errors"]], [3])
        body = self.assertStatus(self.upload(csv_bytes([row(43)]), self.PROV, False), 200)
        self.assertEqual(body["inserted"], 1)
        # a campus of another school in a row of one's own
        body = self.assertStatus(self.upload(csv_bytes([row(44, campus=991010)]), self.A, True),
                                 422)
        self.assertEqual([(e["line"], e["field"], e["code"]) for e in body["errors"]],
                         [(2, "campus", "campus_not_found")])
        # a file that is not one: said so
        r = self.upload(b"PK\x03\x04garbage", self.A, True)
        self.assertEqual((r.status, r.body["error"]["code"]), (422, "sheet_unreadable"))

    def roster_ids(self):
        return "".join(r["id_number"] for r in self.world.dd.export("roster"))

    # ---- reviews ----
    def test_reviews_pending_oldest_first_and_decided(self):
        ps = [self.world.take("rpend") for _ in range(2)]
        for p in ps:
            self.assertStatus(self.review(p), 201)
            time.sleep(1.1)  # created_at has seconds: one apart, so the order is theirs
        r = self.api("GET", "/api/v1/admin/reviews?state=pending", token=self.staff(self.A))
        lst = self.assertStatus(r, 200)["reviews"]
        mine = [x for x in lst if x["candidate"]["id_number"] in (ps[0].id_number, ps[1].id_number)]
        self.assertEqual([x["candidate"]["id_number"] for x in mine],
                         [ps[0].id_number, ps[1].id_number])
        self.assertEqual(mine[0]["ticket"], ps[0].ticket)
        self.assertEqual(mine[0]["candidate"]["name"], ps[0].name)
        self.assertEqual(mine[0]["cet4_score"]["score"], 520)
        self.assertIs(mine[0]["cet4_score"]["id_matches"], False)
        self.assertEqual(sorted(x["created_at"] for x in lst), [x["created_at"] for x in lst])
        # school B and the province 99 see none of them
        for user in (self.B,):
            r = self.api("GET", "/api/v1/admin/reviews?state=pending", token=self.staff(user))
            ids = [x["candidate"]["id_number"] for x in self.assertStatus(r, 200)["reviews"]]
            self.assertNotIn(ps[0].id_number, ids)
        self.assertErr(self.decide(ps[0], "approve", user=self.B), 403, "forbidden")
        self.assertErr(self.decide(ps[0], "approve", user=self.SUPPORT), 403, "forbidden")
        self.assertEqual(self.assertStatus(self.decide(ps[0], "approve"), 200)["state"],
                         "approved")
        r = self.api("GET", "/api/v1/admin/reviews?state=pending", token=self.staff(self.A))
        ids = [x["candidate"]["id_number"] for x in self.assertStatus(r, 200)["reviews"]]
        self.assertNotIn(ps[0].id_number, ids)
        self.assertIn(ps[1].id_number, ids)
        d = [e for e in self.audit(self.A) if e.get("action") == "review_decide"]
        self.assertTrue(d and d[-1]["target"] == "school:10013" and d[-1]["actor"] == self.A)
        self.assertErr(self.api("GET", "/api/v1/admin/reviews?state=maybe",
                                token=self.staff(self.A)), 400, "bad_query")

    # ---- offers ----
    def test_offer_settings_capacity_below_live(self):
        ps = [self.world.take("b132") for _ in range(2)]
        for p in ps:
            self.assertStatus(self.register(p, "1"), 201)
        path = "/api/v1/admin/offers/100132/1"
        r = self.api("PUT", path, {"capacity": 1}, token=self.staff(self.A))
        self.assertErr(r, 409, "capacity_below_live")
        r = self.api("PUT", path, {"capacity": 500, "fee": 3500}, token=self.staff(self.A))
        body = self.assertStatus(r, 200)
        self.assertEqual((body["capacity"], body["fee"], body["live"]), (500, 3500, 2))
        r = self.api("PUT", path, {"window_closes": "2020-01-01T00:00:00+08:00"},
                     token=self.staff(self.A))
        self.assertErr(r, 422, "invalid_field")
        r = self.api("PUT", path, {"fee": -1}, token=self.staff(self.A))
        self.assertErr(r, 422, "invalid_field")
        r = self.api("PUT", path, {}, token=self.staff(self.A))
        self.assertErr(r, 400, "missing_field")
        r = self.api("PUT", path, {"capacity": 1000, "fee": 3000}, token=self.staff(self.A))
        self.assertStatus(r, 200)
        offers = self.assertStatus(self.api("GET", "/api/v1/admin/dashboard",
                                            token=self.staff(self.A)), 200)["offers"]
        o = [x for x in offers if x["campus"] == "100132" and x["subject"] == "1"][0]
        self.assertEqual((o["capacity"], o["fee"], o["own_registrations"]), (1000, 3000, 2))
        acts = [e for e in self.audit(self.A) if e.get("action") == "offer_set"]
        self.assertTrue(any("capacity 1000->500" in e["detail"] for e in acts), acts)

    # ---- announcements ----
    def test_announcements_post_list_delete_and_candidate_page(self):
        p = self.world.take("w130")
        r = self.api("POST", "/api/v1/admin/announcements",
                     {"title": "缴费提醒", "body": "请于本周内完成缴费。"}, token=self.staff(self.A))
        a = self.assertStatus(r, 201)
        self.assertEqual((a["scope"], a["code"]), ("school", "10013"))
        page = self.page(p)
        self.assertIn("请于本周内完成缴费。", page["announcements"]["school"])
        r = self.api("POST", "/api/v1/admin/announcements",
                     {"scope": "province", "title": "北京考区", "body": "考区通知"},
                     token=self.staff(self.PROV))
        pa = self.assertStatus(r, 201)
        self.assertIn("考区通知", self.page(p)["announcements"]["province"])
        lst = self.assertStatus(self.api("GET", "/api/v1/admin/announcements",
                                         token=self.staff(self.A)), 200)["announcements"]
        self.assertIn(a["id"], [x["id"] for x in lst])
        self.assertIn(pa["id"], [x["id"] for x in lst])
        lst = self.assertStatus(self.api("GET", "/api/v1/admin/announcements",
                                         token=self.staff(self.B)), 200)["announcements"]
        self.assertNotIn(a["id"], [x["id"] for x in lst])
        # B may not delete A's, nor A the province's; A may its own
        path = f"/api/v1/admin/announcements/{a['id']}"
        self.assertErr(self.api("DELETE", path, token=self.staff(self.B)), 403, "forbidden")
        self.assertErr(self.api("DELETE", f"/api/v1/admin/announcements/{pa['id']}",
                                token=self.staff(self.A)), 403, "forbidden")
        self.assertStatus(self.api("DELETE", path, token=self.staff(self.A)), 200)
        self.assertErr(self.api("DELETE", path, token=self.staff(self.A)), 404,
                       "announcement_not_found")
        self.assertNotIn("请于本周内完成缴费。", self.page(p)["announcements"]["school"])
        acts = [e["action"] for e in self.audit(self.A) if e.get("action", "").startswith("announce")]
        self.assertEqual(acts[-2:], ["announce_post", "announce_delete"])

    # ---- exports ----
    def export(self, kind, user=None, fmt="csv", school=None):
        q = f"?format={fmt}" + (f"&school={school}" if school else "")
        st, body, hd = self.raw_get(f"/api/v1/admin/exports/{kind}{q}", self.staff(user or self.A))
        self.assertEqual(st, 200, body[:300])
        return body, hd

    def export_text(self, kind, user=None):
        body, _ = self.export(kind, user)
        return body.decode("utf-8-sig")

    def raw_get(self, path, token):
        import http.client
        c = http.client.HTTPConnection("127.0.0.1", self.engine.port, timeout=30)
        c.request("GET", path, headers={"Authorization": "Bearer " + token})
        r = c.getresponse()
        body = r.read()
        hd = {k.lower(): v for k, v in r.getheaders()}
        c.close()
        return r.status, body, hd

    def test_exports_csv_bom_ids_and_xlsx(self):
        p = self.world.take("w130")
        self.assertStatus(self.register(p, "1"), 201)
        for kind in ("candidates", "registrations", "orders", "reviews"):
            body, hd = self.export(kind)
            self.assertTrue(body.startswith(b"\xef\xbb\xbf"), kind)
            self.assertIn("text/csv", hd["content-type"])
            self.assertIn("attachment", hd["content-disposition"])
        text = self.export_text("registrations")
        rows = list(csv.reader(io.StringIO(text)))
        self.assertEqual(rows[0][0], "证件号码")
        mine = [r_ for r_ in rows if r_[0] == p.id_number]
        self.assertEqual(len(mine), 1)
        self.assertIn("30.00", mine[0])  # yuan with two decimals
        # the group payment list: A's candidate for A and the province, not for B
        for user, seen in ((self.A, True), (self.PROV, True), (self.B, False)):
            r = self.api("GET", "/api/v1/admin/registrations?state=unpaid", token=self.staff(user))
            ids = [x["id_number"] for x in self.assertStatus(r, 200)["registrations"]]
            self.assertEqual(p.id_number in ids, seen, user)
        # school B's export does not hold A's candidate
        self.assertNotIn(p.id_number, self.export_text("registrations", self.B))
        self.assertErr(self.api("GET", "/api/v1/admin/exports/secrets",
                                token=self.staff(self.A)), 404, "export_unknown")
        self.assertErr(self.api("GET", "/api/v1/admin/exports/orders?format=pdf",
                                token=self.staff(self.A)), 400, "bad_query")
        if not OPENPYXL:
            self.skipTest("python3-openpyxl is not installed")
        body, hd = self.export("registrations", fmt="xlsx")
        self.assertTrue(body.startswith(b"PK\x03\x04"))
        self.assertIn("spreadsheetml", hd["content-type"])
        vals = xlsx_read(body)
        self.assertEqual(vals[0][0], ["str", "证件号码"])
        got = [v for v in vals if v[0][1] == p.id_number]
        self.assertEqual(len(got), 1)
        self.assertEqual(got[0][0][0], "str")  # the ID stayed text
        self.assertIn(["float", 30], [[t, v] for t, v in got[0] if t in ("int", "float")]
                      + [["float", float(v)] for t, v in got[0] if t == "int"])

    # ---- the audit chain ----
    def test_zz_audit_chain_verifies(self):
        """Runs last (name order): re-verifies the chain over the API and with cetctl."""
        self.assertStatus(self.api("PUT", "/api/v1/admin/offers/100130/F", {"capacity": 1000},
                                   token=self.staff(self.A)), 200)
        for user in (self.A, self.B, self.PROV):
            entries = self.audit(user)
            self.assertGreater(len(entries), 1)
            self.verify_chain(entries)
        a = self.audit(self.A)
        self.assertTrue(any(e.get("redacted") for e in self.audit(self.B)))
        self.assertTrue(all(e.get("redacted") or "10013" in e["target"] or e["actor"] == self.A
                            or e["target"].startswith("province:11") for e in a))
        self.assertErr(self.api("GET", "/api/v1/admin/audit?after=x", token=self.staff(self.A)),
                       400, "bad_query")
        p = self.world.dd.check()
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("audit_chain", p.stdout)


class AuditTamper(unittest.TestCase):
    """`cetctl check` finds a changed and a removed audit entry."""

    def test_tampered_and_removed_entries_are_caught(self):
        for what in ("audit-tamper", "audit-remove"):
            dd = DataDir(candidates=20, seed=3)
            try:
                p = dd.check()
                self.assertEqual(p.returncode, 0, p.stdout)
                p = cetctl("audit", "verify", "--data", dd.data)
                self.assertIn("the chain verifies", p.stdout)
                cetctl("debug-corrupt", "--data", dd.data, "--what", what)
                p = dd.check()
                self.assertNotEqual(p.returncode, 0, p.stdout)
                bad = [ln for ln in p.stdout.splitlines() if ln.startswith("audit_chain:")]
                self.assertEqual(len(bad), 1, p.stdout)
                self.assertIn("audit entry 1: its hash" if what == "audit-tamper" else "audit",
                              bad[0])
                p = cetctl("audit", "verify", "--data", dd.data, check=False)
                self.assertEqual(p.returncode, 1, p.stdout)
                self.assertIn("FAILED", p.stdout)
            finally:
                dd.cleanup()


if __name__ == "__main__":
    tempfile.tempdir = None
    unittest.main(verbosity=2)
