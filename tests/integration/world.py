"""world: the shared ground of the rules tests (t10..t55, t81): the imported data,
the candidates of each kind, and RulesCase, the TestCase base with one World and one
cetd per class. harness.py starts the processes; this module makes the records every
rule of docs/rules.md needs exist exactly.

Every refused case asserts the exact HTTP status AND error code; the allowed
case is asserted beside it. Each TestCase class shares one World and one
Engine (setUpClass); every test takes its own fresh candidates from a pool so
the tests do not depend on each other's state or order.

The data: `cetctl demo` (schools 10013 BUPT with campuses 100130..100133, oral
elsewhere allowed; 99101 test school, oral only at its own campus 991010; staff
teacher10013, teacher99101, prov11, support / demo-Staff-2026; sitting with
lookup opening now-10d, registration now-1d .. now+14d), plus small CSV files
imported with `cetctl import` so that every record a rule needs exists
exactly: roster records per kind (see KINDS), CET4 scores for the CET6 review,
capacities of the demo offers raised to 1000 (the demo sizes them to its own
candidates), one small campus (school 99303, campus 993030) whose English-4
offer has 4 seats and English-4 oral 2 seats, and school 99304 (oral elsewhere
allowed) with offers that a rule excludes (window closed or not yet open, oral
fee 0, oral without exam date). Records bound before the engine starts come
from `cetctl bench-prep` (fast: no password hashing per candidate); records
left unbound are imported after it, for the account/lookup/bind path.

Time rules (t55: lookup-only phase, window closed) run a cetd with
CET_CLOCK_OFFSET_S set (RulesCase.clock_offset); expiry rules (t81) run one
with a short --hold-ttl and --order-ttl (RulesCase.engine_kw).

Python 3 standard library only.
"""
import http.client
import os
import re
import sys
import time
import unittest
import uuid
from datetime import datetime, timedelta, timezone

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import DataDir, Engine, captcha_answer, cetctl, error_code, pay_notice  # noqa: E402

DAY = 86400
STAFF_PASSWORD = "demo-Staff-2026"
BENCH_PASSWORD = "bench-Pass-2026"
PASSWORD = "rules-Pass-2026"

# ---- the imported data ---------------------------------------------------------------------

# kind -> (school, campus, subjects, cet6 barred, how many, bound by bench-prep, score)
# score: None, "auto" (ticket + ID match, passed), "pending" (ticket + name, other ID),
#        "fail" (ticket + ID, score below 425)
KINDS = {
    "w130": (10013, 100130, "1;F", 0, 40, True, None),
    "e6": (10013, 100130, "1;2;F;S", 0, 4, True, None),
    "jp": (10013, 100130, "1;3;4;F", 0, 4, True, None),
    "b133": (10013, 100133, "1;3;F", 0, 5, True, None),
    "b132": (10013, 100132, "1;F", 0, 4, True, None),
    "t991": (99101, 991010, "1;F", 0, 6, True, None),
    "barred": (10013, 100130, "1;F", 1, 2, True, None),
    "rauto": (10013, 100130, "1;F", 0, 6, True, "auto"),
    "rpend": (10013, 100130, "1;F", 0, 8, True, "pending"),
    "rfail": (10013, 100130, "1;F", 0, 2, True, "fail"),
    "small": (99303, 993030, "1;F", 0, 6, True, None),
    "o994": (99304, 993040, "1;3;5;F", 0, 3, True, None),
    # left unbound: the account / lookup / bind path
    "u130": (10013, 100130, "1;F", 0, 16, False, None),
}

ROSTER_COLS = ["id_type", "id_number", "name", "gender", "school", "campus", "education",
               "program_years", "entry_year", "grade", "department", "major", "class_name",
               "student_no", "remarks", "subjects", "cet6_barred"]

SURNAMES = "赵钱孙李周吴郑王冯陈褚卫蒋沈韩杨"
GIVEN = "一二三四五六七八九十甲乙丙丁戊己"


def id_check_char(d17):
    w = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    return "10X98765432"[sum(int(c) * k for c, k in zip(d17, w)) % 11]


def mainland_id(area, seq, birth="20040615"):
    d17 = f"{area}{birth}{seq:03d}"
    return d17 + id_check_char(d17)


def wrong_check(idn):
    """The same ID number with a wrong check character."""
    good = idn[-1]
    return idn[:-1] + ("1" if good != "1" else "2")


def csv_line(values):
    out = []
    for v in values:
        v = str(v)
        if any(c in v for c in ',"\n'):
            v = '"' + v.replace('"', '""') + '"'
        out.append(v)
    return ",".join(out) + "\n"


class Person:
    """One roster record of ours, and once bound, its bench-prep token and account."""

    def __init__(self, kind, idx, seq):
        school, campus, subjects, barred, _, _, score = KINDS[kind]
        self.kind = kind
        self.id_type = "mainland"
        self.id_number = mainland_id("990101", seq)
        self.name = SURNAMES[idx % 16] + GIVEN[(seq // 16) % 16] + GIVEN[seq % 16]
        self.school, self.campus, self.subjects, self.barred = school, campus, subjects, barred
        self.major = "规则专业"
        self.score = score
        self.ticket = None
        self.token = None
        self.email = None

    def roster_row(self, major=None, subjects=None):
        return [self.id_type, self.id_number, self.name, "F", self.school, self.campus, "本科", 4,
                2023, 3, "规则学院", major or self.major, "20230101", f"R{self.id_number[-6:]}",
                "", subjects or self.subjects, self.barred]

    def ident(self):
        return {"id_type": self.id_type, "id_number": self.id_number, "name": self.name}


class World:
    """A DataDir with demo data plus our records; people[kind] is a pool of Persons."""

    def __init__(self, demo_candidates=40):
        self.dd = DataDir(candidates=demo_candidates, seed=7)
        self.sitting = self.dd.export("sitting")[0]
        self.people = {k: [] for k in KINDS}
        seq = 1
        for kind, spec in KINDS.items():
            for i in range(spec[4]):
                self.people[kind].append(Person(kind, i, seq))
                seq += 1
        self._import_campuses()
        bound = [p for ps in self.people.values() for p in ps if KINDS[p.kind][5]]
        unbound = [p for ps in self.people.values() for p in ps if not KINDS[p.kind][5]]
        self.import_roster(bound)
        self._import_scores(bound)
        rows = self.dd.bench_prep(demo_candidates + len(bound) + 10)
        by_id = {r["id_number"]: r for r in rows}
        for p in bound:
            r = by_id[p.id_number]
            p.token, p.email = r["token"], r["email"]
        self.import_roster(unbound)

    def path(self, name):
        return os.path.join(self.dd.path, name)

    def _import_campuses(self):
        s = self.sitting
        f = self.path("campuses.csv")
        cols = ["province_code", "province_name", "school_code", "school_name", "oral_elsewhere",
                "campus_code", "campus_name", "subject", "capacity", "fee", "window_opens",
                "window_closes", "exam_date"]
        with open(f, "w", encoding="utf-8") as fh:
            fh.write(",".join(cols) + "\n")
            # the demo sizes capacities to its own candidates: make room for ours
            for row in self.dd.export("campuses"):
                row["capacity"] = max(int(row["capacity"]), 1000)
                fh.write(csv_line([row[c] for c in cols]))
            fh.write(csv_line([99, "测试省", 99303, "规则测试学校", 0, 993030, "规则校区", "1", 4, 3000,
                               s["reg_opens"], s["reg_closes"], s["written_date"]]))
            fh.write(csv_line([99, "测试省", 99303, "规则测试学校", 0, 993030, "规则校区", "F", 2, 5000,
                               s["reg_opens"], s["reg_closes"], s["oral_date_4"]]))
            # school 99304 (oral elsewhere allowed): offers that rules exclude
            opens, closes = parse_time(s["reg_opens"]), parse_time(s["reg_closes"])
            early = fmt_time(opens + 3600)    # a window that closed 23 hours ago
            late = fmt_time(closes - 3600)    # a window that opens in 14 days
            school = [99, "测试省", 99304, "规则测试学校乙", 1]
            for campus, subject, fee, wo, wc, exam in [
                    (993040, "1", 3000, s["reg_opens"], s["reg_closes"], s["written_date"]),
                    (993040, "3", 3500, s["reg_opens"], early, s["written_date"]),
                    (993040, "5", 3500, late, s["reg_closes"], s["written_date"]),
                    (993040, "F", 5000, s["reg_opens"], s["reg_closes"], s["oral_date_4"]),
                    (993041, "F", 0, s["reg_opens"], s["reg_closes"], s["oral_date_4"]),
                    (993042, "F", 5000, s["reg_opens"], s["reg_closes"], ""),
                    (993043, "F", 5000, s["reg_opens"], early, s["oral_date_4"])]:
                fh.write(csv_line(school + [campus, f"规则校区{campus % 10}", subject, 100, fee,
                                            wo, wc, exam]))
        cetctl("import", "campuses", "--data", self.dd.data, f)

    def import_roster(self, people, major=None, subjects=None, name="roster"):
        f = self.path(f"{name}-{uuid.uuid4().hex[:6]}.csv")
        with open(f, "w", encoding="utf-8") as fh:
            fh.write(",".join(ROSTER_COLS) + "\n")
            for p in people:
                fh.write(csv_line(p.roster_row(major, subjects)))
        cetctl("import", "roster", "--data", self.dd.data, f)

    def _import_scores(self, people):
        f = self.path("scores.csv")
        seat = 1
        with open(f, "w", encoding="utf-8") as fh:
            fh.write("ticket,id_number,name,score,year\n")
            for p in people:
                if not p.score:
                    continue
                # campus(6) + year(2) + half(1) + level 1 + room(3) + seat(2)
                p.ticket = f"{p.campus:06d}2421{900 + seat:03d}01"
                seat += 1
                idn = p.id_number if p.score != "pending" else mainland_id("990202", seat)
                score = 400 if p.score == "fail" else 520
                fh.write(csv_line([p.ticket, idn, p.name, score, 2024]))
        cetctl("import", "scores", "--data", self.dd.data, f)

    def take(self, kind):
        """A fresh Person of kind (each test uses its own)."""
        return self.people[kind].pop(0)

    def cleanup(self):
        self.dd.cleanup()


# ---- the shared test base -----------------------------------------------------------------

class Resp:
    def __init__(self, status, body, headers):
        self.status, self.body, self.headers = status, body, headers

    def __repr__(self):
        return f"<{self.status} {self.body}>"


class RulesCase(unittest.TestCase):
    """One World + one Engine per class."""

    engine_kw = {}
    clock_offset = None

    @classmethod
    def setUpClass(cls):
        cls.world = World()
        env = None
        if cls.clock_offset is not None:
            env = dict(os.environ, CET_CLOCK_OFFSET_S=str(cls.clock_offset))
        cls.engine = start_engine(cls.world.dd, env, **cls.engine_kw)
        cls.http = cls.engine.client()
        cls._staff = {}

    @classmethod
    def tearDownClass(cls):
        cls.http.close()
        rc = cls.engine.stop()
        cls.world.cleanup()
        if rc not in (0, None):
            raise AssertionError(f"cetd exited {rc} on SIGTERM")

    # -- HTTP --
    def api(self, method, path, body=None, token=None, headers=None, raw=None):
        st, js, hd = self.http.request(method, path, body=body, headers=headers, raw=raw,
                                       token=token if token is not None else "")
        return Resp(st, js, hd)

    def assertErr(self, r, status, code):
        self.assertEqual((r.status, error_code(r.body)), (status, code), f"answer: {r!r}")
        self.assertIsInstance(r.body["error"].get("message"), str)

    def assertStatus(self, r, status):
        self.assertEqual(r.status, status, f"answer: {r!r}")
        return r.body

    # -- accounts --
    def create_account(self, email=None, password=PASSWORD):
        email = email or f"r{uuid.uuid4().hex[:12]}@rules.test"
        r = self.api("POST", "/api/v1/accounts", {"email": email, "password": password,
                                                   "captcha_id": "x", "captcha_answer": "x"})
        self.assertStatus(r, 201)
        return email, r.body["account_id"]

    def login(self, email, password=PASSWORD):
        r = self.api("POST", "/api/v1/sessions", {"email": email, "password": password,
                                                   "captcha_id": "x", "captcha_answer": "x"})
        self.assertStatus(r, 201)
        return r.body["token"]

    def new_session(self, agree=True):
        email, _ = self.create_account()
        tok = self.login(email)
        if agree:
            self.assertStatus(self.api("POST", "/api/v1/agreement", token=tok), 200)
        return tok

    def staff(self, user):
        if user not in self._staff:
            r = self.api("POST", "/api/v1/admin/sessions", {"user": user,
                                                            "password": STAFF_PASSWORD})
            self.assertStatus(r, 201)
            type(self)._staff[user] = r.body["token"]
        return self._staff[user]

    # -- candidate calls --
    def register(self, p, subject, campus=None, headers=None):
        return self.api("POST", "/api/v1/registrations",
                        {"subject": subject, "campus": f"{campus or p.campus:06d}"},
                        token=p.token, headers=headers)

    def cancel(self, p, subject):
        return self.api("DELETE", f"/api/v1/registrations/{subject}", token=p.token)

    def page(self, p):
        r = self.api("GET", "/api/v1/candidate", token=p.token)
        self.assertStatus(r, 200)
        return r.body

    def regs(self, p):
        """subject -> registration row of GET /candidate (written and oral)."""
        b = self.page(p)
        return {row["subject"]: row for row in b["written"] + b["oral"]}

    def offers(self, p, kind="written"):
        r = self.api("GET", f"/api/v1/offers?kind={kind}", token=p.token)
        self.assertStatus(r, 200)
        return {(o["subject"], o["campus"]["code"]): o for o in r.body["offers"]}

    def order(self, p, subjects, channel="alipay", headers=None):
        return self.api("POST", "/api/v1/payments", {"subjects": subjects, "channel": channel},
                        token=p.token, headers=headers)

    def pay(self, p, subjects):
        r = self.order(p, subjects)
        self.assertStatus(r, 201)
        st, js = pay_notice(self.engine, r.body["order_id"], r.body["amount"])
        self.assertEqual(st, 200, js)
        return r.body

    def lock(self, p, subject, locked=True, user="teacher10013"):
        return self.api("POST", "/api/v1/admin/registrations/lock",
                        {"id_type": p.id_type, "id_number": p.id_number, "subject": subject,
                         "locked": locked}, token=self.staff(user))

    def seats_left(self, campus, subject):
        """The engine's seat counter of an offer (from /metrics, Prometheus text)."""
        c = http.client.HTTPConnection("127.0.0.1", self.engine.port, timeout=10)
        c.request("GET", "/metrics")
        text = c.getresponse().read().decode()
        c.close()
        m = re.search(r'cetd_seats_left\{campus="%06d",subject="%s"\} (\d+)' % (campus, subject),
                      text)
        self.assertIsNotNone(m, "no seats gauge")
        return int(m.group(1))

    def group_pay(self, p, subjects, user="teacher10013"):
        return self.api("POST", "/api/v1/admin/group-payments",
                        {"id_type": p.id_type, "id_number": p.id_number, "subjects": subjects},
                        token=self.staff(user))

    def wait_until(self, pred, timeout=10.0):
        end = time.time() + timeout
        while time.time() < end:
            if pred():
                return True
            time.sleep(0.2)
        return pred()

    def regs_or_empty(self, p):
        r = self.api("GET", "/api/v1/candidate", token=p.token)
        if r.status == 409 and error_code(r.body) == "not_bound":
            return {}
        self.assertStatus(r, 200)
        return {row["subject"]: row for row in r.body["written"] + r.body["oral"]}

    def account_id(self, token):
        r = self.api("GET", "/api/v1/me", token=token)
        self.assertStatus(r, 200)
        return r.body["account_id"]

    # -- CET6 review --
    def review(self, p, ticket=None, method="POST", confirmed=True):
        return self.api(method, "/api/v1/cet6-review",
                        {"ticket_number": ticket or p.ticket, "confirmed": confirmed},
                        token=p.token)

    def decide(self, p, decision, user="teacher10013"):
        return self.api("POST", f"/api/v1/admin/reviews/{self.account_id(p.token)}",
                        {"decision": decision}, token=self.staff(user))


def start_engine(dd, env=None, **kw):
    if env is None:
        return Engine(dd, **kw)
    # Engine() starts at once: give the clock offset to that very first start
    saved = os.environ.get("CET_CLOCK_OFFSET_S")
    os.environ["CET_CLOCK_OFFSET_S"] = env["CET_CLOCK_OFFSET_S"]
    try:
        return Engine(dd, **kw)
    finally:
        if saved is None:
            os.environ.pop("CET_CLOCK_OFFSET_S", None)
        else:
            os.environ["CET_CLOCK_OFFSET_S"] = saved


def parse_time(s):
    return datetime.fromisoformat(s).timestamp()


def fmt_time(t):
    return datetime.fromtimestamp(t, timezone(timedelta(hours=8))).isoformat(timespec="seconds")


def solve_captcha(body):
    """The answer of a challenge, from cetd's --captcha-answers file (the image is a PNG)."""
    answer = captcha_answer(body["captcha_id"])
    assert answer, f"no answer logged for {body['captcha_id']}"
    return answer
