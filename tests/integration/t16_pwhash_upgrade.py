"""t16_pwhash_upgrade: password hashes made with older argon2id costs are made
again at today's (base/cet_limits.h CET_PWHASH_OPS / CET_PWHASH_MEM_BYTES:
m = 19 MiB, t = 2, p = 1) by the next successful login, candidates and staff
alike (docs/rules.md R3).

The old hashes come from a real path, `cetctl bench-prep --legacy-pwhash` and
`cetctl staff add --legacy-pwhash` (libsodium's INTERACTIVE costs, 64 MiB, what
every hash had before); the stored hashes are read back with `cetctl stats`
(its "password hashes by argon2id costs" lines), beside the running cetd.

Run: CET_BUILD_DIR=build python3 tests/integration/t16_pwhash_upgrade.py [Class.test_name]
"""
import os
import re
import statistics
import sys
import time
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import DataDir, Engine, EngineCase, cetctl, error_code, main, metrics  # noqa: E402

BENCH_PASSWORD = "bench-Pass-2026"   # cetctl bench-prep's default
STAFF_PASSWORD = "legacy-Staff-2026"
OLD = "m=65536,t=2,p=1"              # libsodium's INTERACTIVE argon2id costs
NEW = "m=19456,t=2,p=1"              # OWASP's minimum: today's


class PwhashUpgrade(EngineCase):
    """R3: a login upgrades its account's (or staff user's) hash; the password still works."""

    @classmethod
    def setUpClass(cls):
        cls.data = DataDir(candidates=200)
        cls.old = cls.data.bench_prep(3, legacy_pwhash=True)
        cls.new = cls.data.bench_prep(2)
        pwfile = os.path.join(cls.data.path, "staff.pw")
        with open(pwfile, "w") as f:
            f.write(STAFF_PASSWORD + "\n")
        cetctl("staff", "add", "--data", cls.data.data, "--user", "oldstaff", "--role", "support",
               "--password-file", pwfile, "--legacy-pwhash")
        cls.before = cls.hashes()
        cls.engine = Engine(cls.data)

    @classmethod
    def hashes(cls):
        """{(kind, costs): (count, "current"|"older")} from cetctl stats."""
        out = cetctl("stats", "--data", cls.data.data).stdout
        found = {}
        for m in re.finditer(r"^  (accounts|staff)\s+(\S+)\s+(\d+)\s+(current|older)$", out, re.M):
            found[(m.group(1), m.group(2))] = (int(m.group(3)), m.group(4))
        return found

    def count(self, kind, costs):
        return self.hashes().get((kind, costs), (0, ""))[0]

    def login(self, email, password):
        c = self.engine.client()
        try:
            return c.request("POST", "/api/v1/sessions", {"email": email, "password": password,
                                                          "captcha_id": "x", "captcha_answer": "x"})
        finally:
            c.close()

    def staff_login(self, user, password):
        c = self.engine.client()
        try:
            return c.request("POST", "/api/v1/admin/sessions", {"user": user, "password": password})
        finally:
            c.close()

    # docs/rules.md#R3
    def test_1_old_costs_are_what_the_tools_made(self):
        self.assertEqual(self.before[("accounts", OLD)], (3, "older"))
        self.assertEqual(self.before[("accounts", NEW)], (2, "current"))
        self.assertEqual(self.before[("staff", OLD)], (1, "older"))
        self.assertEqual(self.before[("staff", NEW)][1], "current")  # cetctl demo's staff

    # docs/rules.md#R3
    def test_2_candidate_login_upgrades(self):
        email = self.old[0]["email"]
        # a wrong password upgrades nothing
        st, body, _ = self.login(email, "wrong-Pass-1")
        self.assertEqual((st, error_code(body)), (401, "invalid_credentials"))
        self.assertEqual(self.count("accounts", OLD), 3)
        # the right one logs in and stores the hash at today's costs
        st, body, _ = self.login(email, BENCH_PASSWORD)
        self.assertEqual(st, 201, body)
        self.assertEqual(self.count("accounts", OLD), 2)
        self.assertEqual(self.count("accounts", NEW), 3)
        c = self.engine.client(body["token"])
        st, me, _ = c.request("GET", "/api/v1/me")
        c.close()
        self.assertEqual((st, me["email"]), (200, email))
        # after the upgrade: the password still logs in, a wrong one still fails,
        # and nothing is upgraded again
        st, body, _ = self.login(email, BENCH_PASSWORD)
        self.assertEqual(st, 201, body)
        st, body, _ = self.login(email, "wrong-Pass-2")
        self.assertEqual((st, error_code(body)), (401, "invalid_credentials"))
        self.assertEqual(self.count("accounts", OLD), 2)
        self.assertEqual(self.count("accounts", NEW), 3)
        # an account already at today's costs keeps its hash
        st, body, _ = self.login(self.new[0]["email"], BENCH_PASSWORD)
        self.assertEqual(st, 201, body)
        self.assertEqual(self.count("accounts", NEW), 3)

    # docs/rules.md#R3
    def test_3_staff_login_upgrades(self):
        st, body, _ = self.staff_login("oldstaff", "wrong-Pass-1")
        self.assertEqual((st, error_code(body)), (401, "invalid_credentials"))
        self.assertEqual(self.count("staff", OLD), 1)
        st, body, _ = self.staff_login("oldstaff", STAFF_PASSWORD)
        self.assertEqual(st, 201, body)
        self.assertEqual(self.count("staff", OLD), 0)
        st, body, _ = self.staff_login("oldstaff", STAFF_PASSWORD)
        self.assertEqual(st, 201, body)
        st, body, _ = self.staff_login("oldstaff", "wrong-Pass-2")
        self.assertEqual((st, error_code(body)), (401, "invalid_credentials"))

    # docs/rules.md#R3
    def test_4_unknown_email_costs_a_verification_at_todays_costs(self):
        """The refusal of an unknown email verifies a dummy hash made with today's
        costs, so it takes about what a known account's wrong password does (with
        the old 64 MiB dummy it took several times as long). Loose bounds: the
        machine may be busy. (7 + 7 attempts: the per-address limit is 100 a minute.)"""
        known = self.new[1]["email"]

        def timed(email):
            t = time.monotonic()
            st, body, _ = self.login(email, "wrong-Pass-9")
            self.assertEqual((st, error_code(body)), (401, "invalid_credentials"))
            return time.monotonic() - t

        unknown, wrong = [], []
        for _ in range(7):
            unknown.append(timed(f"nobody{uuid.uuid4().hex[:8]}@rules.test"))
            wrong.append(timed(known))
        u, k = statistics.median(unknown), statistics.median(wrong)
        self.assertLess(u, 4 * k, (unknown, wrong))
        self.assertLess(k, 4 * u, (unknown, wrong))

    def test_5_hashes_run_in_the_pool_threads_memory(self):
        """net_pwhash_arena.c: argon2id at today's costs runs in each pool thread's own
        memory, not in a fresh mmap per hash (sanitizer builds, without jemalloc
        figures, keep libc's mmap)."""
        before = int(metrics(self.engine)[1]["cetd_pwhash_arena_total"])
        st, body, _ = self.login(self.new[1]["email"], BENCH_PASSWORD)
        self.assertEqual(st, 201, body)
        _, values = metrics(self.engine)
        after = int(values["cetd_pwhash_arena_total"])
        if not any(k.startswith("cetd_jemalloc_bytes") for k in values):
            self.assertEqual(after, 0)
            return
        self.assertEqual(after, before + 1)
        self.assertGreaterEqual(after, 10)  # the logins and refusals above

    # docs/rules.md#R3
    def test_6_check_passes(self):
        self.assertEqual(self.data.check().returncode, 0)


if __name__ == "__main__":
    main()
