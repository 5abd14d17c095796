"""t55_phases: the sitting's phases: before the window opens, after it closed (docs/rules.md R6),
with cetd's clock shifted (CET_CLOCK_OFFSET_S).

Against the real cetd over real HTTP and real LMDB files; the data and RulesCase
are world.py. Each test cites the rules it checks.

Run: CET_BUILD_DIR=build python3 tests/integration/t55_phases.py [Class.test_name]
"""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from world import RulesCase, DAY, BENCH_PASSWORD  # noqa: E402


class LookupPhaseRules(RulesCase):
    """'now' shifted 5 days back: lookup opened (now-10d) but registration (now-1d) not yet."""

    clock_offset = -5 * DAY

    # docs/rules.md#R6
    def test_phase_is_lookup(self):
        tok = self.new_session()
        self.assertEqual(self.api("GET", "/api/v1/me", token=tok).body["phase"], "lookup")

    # docs/rules.md#R6, docs/rules.md#R7
    def test_lookup_only_before_window(self):
        tok = self.new_session()
        a, b = self.world.take("u130"), self.world.take("u130")
        for p in (a, b):
            r = self.api("POST", "/api/v1/qualification", p.ident(), token=tok)
            self.assertEqual(self.assertStatus(r, 200)["roster"]["id_number"], p.id_number)
            self.assertIs(r.body["can_bind"], False)
        r = self.api("POST", "/api/v1/candidate", dict(a.ident(), confirmed=True), token=tok)
        self.assertErr(r, 409, "window_closed")
        self.assertIs(self.api("GET", "/api/v1/me", token=tok).body["bound"], False)

    # docs/rules.md#R6, docs/rules.md#R14
    def test_no_registration_before_window(self):
        p = self.world.take("w130")
        self.assertErr(self.register(p, "1"), 409, "window_closed")
        self.assertEqual(self.regs(p), {})
        self.assertEqual(self.offers(p), {})  # nothing may be taken now


class ClosedWindowRules(RulesCase):
    """'now' = 20 days after now: the window (until now+14d) has closed."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()  # a normal engine first: make registrations inside the window
        h = cls()
        # a locked registration never expires, so these stay bound after the window
        cls.kept = [cls.world.take("w130") for _ in range(3)]
        for p in cls.kept:
            h.assertStatus(h.register(p, "1"), 201)
            h.assertStatus(h.lock(p, "1"), 200)
        cls.http.close()
        assert cls.engine.stop() == 0
        cls.engine.start(env=dict(os.environ, CET_CLOCK_OFFSET_S=str(20 * DAY)))
        cls._staff = {}  # staff sessions (12 hours) ended too

    def bench_login(self, p):
        # bench-prep sessions ended 12 hours after "real" now: log in again
        return self.login(p.email, BENCH_PASSWORD)

    # docs/rules.md#R6
    def test_phase_is_closed(self):
        tok = self.bench_login(self.kept[0])
        me = self.api("GET", "/api/v1/me", token=tok).body
        self.assertEqual((me["phase"], me["bound"]), ("closed", True))

    # docs/rules.md#R6, docs/rules.md#R14
    def test_no_registration_after_window(self):
        p = self.kept[1]
        p.token = self.bench_login(p)
        self.assertErr(self.register(p, "F"), 409, "window_closed")
        self.assertEqual(self.offers(p), {})
        self.assertEqual(set(self.regs(p)), {"1"})

    # docs/rules.md#R6, docs/rules.md#R20
    def test_no_cancel_after_window(self):
        p = self.kept[2]
        p.token = self.bench_login(p)
        self.assertStatus(self.lock(p, "1", locked=False), 200)
        self.assertErr(self.cancel(p, "1"), 409, "window_closed")

    # docs/rules.md#R3
    def test_session_expires(self):
        # bench-prep sessions were made 20 days ago (12 hour sessions): over
        p = self.world.take("w130")
        self.assertErr(self.api("GET", "/api/v1/me", token=p.token), 401, "unauthorized")
        self.assertStatus(self.api("GET", "/api/v1/me", token=self.bench_login(p)), 200)

    # docs/rules.md#R6
    def test_no_lookup_or_bind_after_window(self):
        tok = self.new_session()
        p = self.world.take("u130")
        r = self.api("POST", "/api/v1/qualification", p.ident(), token=tok)
        self.assertErr(r, 409, "window_closed")
        r = self.api("POST", "/api/v1/candidate", dict(p.ident(), confirmed=True), token=tok)
        self.assertErr(r, 409, "window_closed")


if __name__ == "__main__":
    unittest.main(verbosity=2)
