"""t62_abuse: the captcha and the rate limits hold against the attacks of issue 9.

Over real HTTP against the real cetd. Distinct clients are simulated the way
h2o presents them: requests on cetd's unix socket carrying X-Forwarded-For
(cetd trusts that header only there; over TCP the peer address counts).

  - a text-extraction "solve" of the captcha finds nothing: the answer is in
    neither the JSON nor the decoded PNG, and what a regex pulls out fails;
  - one client's captcha flood gets 429 while another client's challenge
    still passes;
  - staff login takes the captcha when it is on;
  - case variants of one email share one login limit;
  - an oversized or unparseable X-Forwarded-For is 400 bad_request;
  - roster lookups are limited per client, not only per (cheap) account;
  - a stranger's flood of wrong staff passwords, from several clients, does
    not lock the staff user out.
Floods are bounded (a few hundred requests) and on loopback.
"""
import base64
import http.client
import json
import os
import re
import socket
import sys
import unittest
import uuid
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (DEMO_STAFF_PASSWORD, DataDir, Engine, EngineCase,  # noqa: E402
                     captcha_answer, error_code)

PASSWORD = "abuse-Pass-2026"


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=30):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.unix_path)
        self.sock = s


class Peer:
    """One client as h2o would present it: cetd's unix socket plus X-Forwarded-For."""

    def __init__(self, sock_path, addr):
        self.sock_path, self.addr = sock_path, addr
        self.conn = None

    def request(self, method, path, body=None, token=None, headers=None):
        """(status, parsed JSON or None, raw body bytes, headers with lower-case names)."""
        h = {"X-Forwarded-For": self.addr} if self.addr is not None else {}
        if body is not None:
            h["Content-Type"] = "application/json"
        if token:
            h["Authorization"] = "Bearer " + token
        h.update(headers or {})
        data = json.dumps(body).encode() if body is not None else None
        for attempt in range(2):
            if self.conn is None:
                self.conn = UnixHTTPConnection(self.sock_path)
            try:
                self.conn.request(method, path, body=data, headers=h)
                r = self.conn.getresponse()
                raw = r.read()
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.conn.close()
                self.conn = None
                if attempt:
                    raise
        hdrs = {k.lower(): v for k, v in r.getheaders()}
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = None
        if hdrs.get("connection", "").lower() == "close":
            self.conn.close()
            self.conn = None
        return r.status, parsed, raw, hdrs

    def close(self):
        if self.conn:
            self.conn.close()
            self.conn = None


def start(captcha):
    data = DataDir(candidates=300, seed=9)
    sock = os.path.join(data.path, "cetd.sock")
    engine = Engine(data, captcha=captcha, extra=("--listen", "unix:" + sock))
    return data, engine, sock


def png_chunks(png):
    """[(type, data)] of a PNG, checking its signature."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n", png[:8]
    out, at = [], 8
    while at < len(png):
        n = int.from_bytes(png[at:at + 4], "big")
        out.append((png[at + 4:at + 8].decode("ascii"), png[at + 8:at + 8 + n]))
        at += 12 + n
    return out


def id_check_char(d17):
    w = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    return "10X98765432"[sum(int(c) * k for c, k in zip(d17, w)) % 11]


def some_id(seq):
    d17 = f"11010120000101{seq % 1000:03d}"
    return d17 + id_check_char(d17)


class CaptchaAbuse(EngineCase):
    """The captcha on, as in production."""

    @classmethod
    def setUpClass(cls):
        cls.data, cls.engine, cls.sock = start("on")

    def peer(self, addr):
        p = Peer(self.sock, addr)
        self.addCleanup(p.close)
        return p

    def challenge(self, peer):
        st, body, raw, _ = peer.request("POST", "/api/v1/captcha")
        self.assertEqual(st, 201, body)
        return body, raw

    def test_text_extraction_solve_fails(self):
        p = self.peer("198.51.100.50")
        for _ in range(5):
            body, raw = self.challenge(p)
            answer = captcha_answer(body["captcha_id"])
            self.assertRegex(answer, r"^[A-Z0-9]{5}$")
            uri = body["image"]
            self.assertTrue(uri.startswith("data:image/png;base64,"), uri[:40])
            png = base64.b64decode(uri.split(",", 1)[1], validate=True)
            chunks = png_chunks(png)
            self.assertEqual([t for t, _ in chunks if t not in ("IHDR", "IDAT", "IEND")], [])
            pixels = zlib.decompress(b"".join(d for t, d in chunks if t == "IDAT"))
            # the answer is nowhere in what was sent, in any case, nor in the PNG,
            # compressed or not: it exists only as drawn pixels
            for hay in (raw, raw.lower(), png, pixels):
                self.assertNotIn(answer.encode(), hay)
                self.assertNotIn(answer.lower().encode(), hay)
            # the old solver (glyphs as SVG <text>) and a plain text grab find nothing
            text = raw.decode() + png.decode("latin-1")
            self.assertEqual(re.findall(r">([^<])</text>", text), [])
            guess = "".join(re.findall(r">([^<])</text>", text)) or "ACDEF"
            if guess == answer:
                guess = "HJKMN"
            st, b, _, _ = p.request("POST", "/api/v1/accounts", {
                "email": f"solve{uuid.uuid4().hex[:8]}@abuse.test", "password": PASSWORD,
                "captcha_id": body["captcha_id"], "captcha_answer": guess})
            self.assertEqual((st, error_code(b)), (422, "captcha_invalid"))
            # and the spent challenge stays spent, even for the right answer
            st, b, _, _ = p.request("POST", "/api/v1/accounts", {
                "email": f"solve{uuid.uuid4().hex[:8]}@abuse.test", "password": PASSWORD,
                "captcha_id": body["captcha_id"], "captcha_answer": answer})
            self.assertEqual((st, error_code(b)), (422, "captcha_invalid"))

    def test_flood_gets_429_and_spares_others(self):
        honest = self.peer("192.0.2.77")
        mine, _ = self.challenge(honest)
        flooder = self.peer("203.0.113.99")
        statuses = {}
        for _ in range(200):
            st, b, _, h = flooder.request("POST", "/api/v1/captcha")
            statuses[st] = statuses.get(st, 0) + 1
            if st == 429:
                self.assertEqual(error_code(b), "rate_limited")
                self.assertEqual(h.get("retry-after"), "60")
            if st == 503:  # the renderer behind (a slow build, a busy machine): retry later
                self.assertEqual(error_code(b), "overloaded")
        # CET_CAPTCHA_PER_MIN_MAX: the limit counts every challenge asked for
        self.assertEqual(statuses.get(201, 0) + statuses.get(503, 0), 60, statuses)
        self.assertGreater(statuses.get(201, 0), 0, statuses)
        self.assertEqual(statuses.get(429, 0), 140, statuses)
        # another client still gets challenges, and the one it held still works
        self.challenge(self.peer("192.0.2.78"))
        st, b, _, _ = honest.request("POST", "/api/v1/accounts", {
            "email": f"honest{uuid.uuid4().hex[:8]}@abuse.test", "password": PASSWORD,
            "captcha_id": mine["captcha_id"],
            "captcha_answer": captcha_answer(mine["captcha_id"]).lower()})
        self.assertEqual(st, 201, b)

    def test_many_clients_flood_spares_held_challenges(self):
        holders = [self.peer(f"192.0.2.{120 + i}") for i in range(5)]
        held = [self.challenge(p)[0] for p in holders]
        flood = self.peer(None)
        statuses = {}
        for i in range(3000):  # 1500 clients, two challenges each
            flood.addr = f"10.62.{i % 1500 >> 8}.{i % 1500 & 255}"
            st, b, _, _ = flood.request("POST", "/api/v1/captcha")
            statuses[st] = statuses.get(st, 0) + 1
            if st == 503:
                self.assertEqual(error_code(b), "overloaded")  # renderer behind: retry
        self.assertEqual(set(statuses) - {201, 503}, set(), statuses)
        for p, c in zip(holders, held):  # every challenge held before the flood still passes
            st, b, _, _ = p.request("POST", "/api/v1/accounts", {
                "email": f"held{uuid.uuid4().hex[:8]}@abuse.test", "password": PASSWORD,
                "captcha_id": c["captcha_id"], "captcha_answer": captcha_answer(c["captcha_id"])})
            self.assertEqual(st, 201, b)

    def test_staff_login_takes_the_captcha(self):
        p = self.peer("192.0.2.90")
        st, b, _, _ = p.request("POST", "/api/v1/admin/sessions",
                                {"user": "support", "password": DEMO_STAFF_PASSWORD})
        self.assertEqual((st, error_code(b)), (400, "missing_field"))
        c, _ = self.challenge(p)
        st, b, _, _ = p.request("POST", "/api/v1/admin/sessions", {
            "user": "support", "password": DEMO_STAFF_PASSWORD, "captcha_id": c["captcha_id"],
            "captcha_answer": "HJKMN" if captcha_answer(c["captcha_id"]) != "HJKMN" else "ACDEF"})
        self.assertEqual((st, error_code(b)), (422, "captcha_invalid"))
        c, _ = self.challenge(p)
        st, b, _, _ = p.request("POST", "/api/v1/admin/sessions", {
            "user": "support", "password": DEMO_STAFF_PASSWORD, "captcha_id": c["captcha_id"],
            "captcha_answer": captcha_answer(c["captcha_id"])})
        self.assertEqual(st, 201, b)


class LimitAbuse(EngineCase):
    """The limits themselves, with the captcha off (so nothing but the limits holds)."""

    @classmethod
    def setUpClass(cls):
        cls.data, cls.engine, cls.sock = start("off")

    def peer(self, addr):
        p = Peer(self.sock, addr)
        self.addCleanup(p.close)
        return p

    CAPTCHA = {"captcha_id": "x", "captcha_answer": "x"}

    def account(self, peer, email=None):
        email = email or f"a{uuid.uuid4().hex[:12]}@abuse.test"
        st, b, _, _ = peer.request("POST", "/api/v1/accounts",
                                   dict(self.CAPTCHA, email=email, password=PASSWORD))
        self.assertEqual(st, 201, b)
        return email

    def login(self, peer, email, password=PASSWORD):
        st, b, _, _ = peer.request("POST", "/api/v1/sessions",
                                   dict(self.CAPTCHA, email=email, password=password))
        return st, b

    def test_case_variants_share_one_login_limit(self):
        email = self.account(self.peer("192.0.2.10"))
        local, domain = email.split("@")
        attacker = self.peer("203.0.113.10")
        seen = []
        for i in range(14):
            # a different spelling of the same address every time
            variant = "".join(c.upper() if (i >> (k % 4)) & 1 else c
                              for k, c in enumerate(local)) + "@" + (
                domain.upper() if i % 2 else domain)
            st, b = self.login(attacker, variant, "wrong-Pass-1")
            seen.append((st, error_code(b)))
        self.assertEqual(seen[:10], [(401, "invalid_credentials")] * 10)
        self.assertEqual(seen[10:], [(429, "rate_limited")] * 4)
        # the owner, from their own address, is not held back by the attacker's tries
        st, b = self.login(self.peer("192.0.2.11"), email.upper())
        self.assertEqual(st, 201, b)

    def test_forwarded_for_must_be_an_address(self):
        ok = self.peer("192.0.2.20")
        st, _, _, _ = ok.request("GET", "/healthz")
        self.assertEqual(st, 200)
        long_chain = ", ".join(["10.0.0.1"] * 200) + ", 192.0.2.21"  # > CET_XFF_BYTES_MAX
        self.assertGreater(len(long_chain), 1024)
        for xff in (long_chain, "not-an-address", "192.0.2.21, <evil>", "1.2.3.4 5.6.7.8",
                    "999.1.1.1", ""):
            p = self.peer(xff)
            st, b, _, _ = p.request("POST", "/api/v1/sessions", dict(
                self.CAPTCHA, email="x@abuse.test", password=PASSWORD))
            self.assertEqual((st, error_code(b)), (400, "bad_request"), xff[:60])
        # an IPv6 client works, and a proper chain's last entry is the client
        for xff in ("2001:db8::5", "203.0.113.1, 192.0.2.22"):
            st, _, _, _ = self.peer(xff).request("GET", "/healthz")
            self.assertEqual(st, 200, xff)

    def test_lookups_limited_per_client(self):
        maker = self.peer("192.0.2.30")
        looker = self.peer("203.0.113.30")
        tokens = []
        for _ in range(3):  # accounts are cheap: three of them, 30 lookups each allowed
            email = self.account(maker)
            st, b = self.login(looker, email)
            self.assertEqual(st, 201, b)
            token = b["token"]
            st, b, _, _ = looker.request("POST", "/api/v1/agreement", token=token)
            self.assertEqual(st, 200, b)
            tokens.append(token)
        limited_at = None
        for i in range(75):
            tok = tokens[i % 3]  # 25 per account: each under its own 30
            st, b, _, _ = looker.request("POST", "/api/v1/qualification", {
                "id_type": "mainland", "id_number": some_id(i), "name": "无此人"}, token=tok)
            if st == 429:
                self.assertEqual(error_code(b), "rate_limited")
                limited_at = limited_at if limited_at is not None else i
            else:
                self.assertIn(st, (404, 409), b)  # not found, or the window not open
                self.assertIsNone(limited_at, f"answer {st} after a 429 at {limited_at}")
        self.assertEqual(limited_at, 60)  # CET_LOOKUP_CLIENT_PER_MIN_MAX
        # another client, with one of the same accounts, is not held back
        st, b, _, _ = self.peer("192.0.2.31").request("POST", "/api/v1/qualification", {
            "id_type": "mainland", "id_number": some_id(99), "name": "无此人"}, token=tokens[0])
        self.assertNotEqual(st, 429, b)

    def test_staff_not_locked_out_by_strangers(self):
        def staff_login(peer, password):
            st, b, _, _ = peer.request("POST", "/api/v1/admin/sessions",
                                       {"user": "teacher99101", "password": password})
            return st, error_code(b)

        # five strangers, 14 wrong passwords each. The first spends its own limit
        # (10 per client and user) and with it the user's failure budget (10 a
        # minute); from then on every stranger gets one try, then 429.
        for n in range(5):
            stranger = self.peer(f"203.0.113.{40 + n}")
            seen = [staff_login(stranger, f"wrong-Pass-{k}") for k in range(14)]
            tries = 10 if n == 0 else 1
            self.assertEqual(seen, [(401, "invalid_credentials")] * tries
                             + [(429, "rate_limited")] * (14 - tries), f"stranger {n}")
        # the staff user, from a client that has not failed, logs in at once
        st, code = staff_login(self.peer("192.0.2.40"), DEMO_STAFF_PASSWORD)
        self.assertEqual(st, 201, code)
        # a new stranger gets one try, then is held back by the user's failure budget
        late = self.peer("203.0.113.60")
        self.assertEqual(staff_login(late, "wrong-Pass-x"), (401, "invalid_credentials"))
        self.assertEqual(staff_login(late, DEMO_STAFF_PASSWORD), (429, "rate_limited"))


if __name__ == "__main__":
    unittest.main(verbosity=2)
