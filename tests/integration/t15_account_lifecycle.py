"""t15_account_lifecycle: password reset by mail, account recovery, email and password
change, the support desk's rebinding, and the durable mail outbox, also over STARTTLS
(docs/rules.md R2, R4, R30..R34).

Against the real cetd over real HTTP and real LMDB files, with a real SMTP server on
loopback (tools/mailsink.py: Debian's aiosmtpd) that cetd's outbox delivers to through
libcurl. Rate limits are per client address: the tests that count them speak from their
own loopback source address (127.0.0.N), so they do not eat each other's budget.

Run: CET_BUILD_DIR=build python3 tests/integration/t15_account_lifecycle.py [Class.test_name]
"""
import email
import email.policy
import http.client
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import ROOT, error_code, free_port, metrics  # noqa: E402
from world import PASSWORD, RulesCase, solve_captcha  # noqa: E402

SINK = os.path.join(ROOT, "tools", "mailsink.py")
PUBLIC_URL = "https://cet.test"
MAIL_FROM = "noreply@cet.test"


class MailSink:
    """tools/mailsink.py on a loopback port; the mails it kept, parsed."""

    def __init__(self, port=None, delay_250=0.0, start=True, tls=None):
        self.port = port or free_port()
        self.dir = tempfile.mkdtemp(prefix="cet-mail-")
        self.delay_250 = delay_250
        self.tls = tls  # (cert, key): STARTTLS offered and required
        self.proc = None
        if start:
            self.start()

    def start(self):
        args = [sys.executable, SINK, "--smtp", f"127.0.0.1:{self.port}", "--dir", self.dir]
        if self.delay_250:
            args += ["--delay-250", str(self.delay_250)]
        if self.tls:
            args += ["--tls-cert", self.tls[0], "--tls-key", self.tls[1]]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True)
        line = self.proc.stdout.readline()
        assert line.startswith("mailsink: smtp on"), line + self.proc.stdout.read()

    def stop(self):
        if self.proc:
            self.proc.terminate()
            self.proc.wait(timeout=10)
            self.proc.stdout.close()
            self.proc = None

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def mails(self, to=None):
        out = []
        for name in sorted(os.listdir(self.dir)):
            if not name.endswith(".eml"):
                continue
            with open(os.path.join(self.dir, name), "rb") as f:
                m = email.message_from_bytes(f.read(), policy=email.policy.default)
            if to is None or str(m["to"]).strip("<>").lower() == to.lower():
                out.append(m)
        return out

    def wait_for(self, to, count=1, timeout=20.0, subject=None):
        """The mails to `to` (with subject containing `subject`) once there are count of them."""
        end = time.time() + timeout
        while True:
            got = [m for m in self.mails(to) if subject is None or subject in str(m["subject"])]
            if len(got) >= count or time.time() > end:
                return got
            time.sleep(0.2)


def body_of(m):
    return m.get_body(preferencelist=("plain",)).get_content()


def link_token(m):
    found = re.search(re.escape(PUBLIC_URL) + r"/reset\?token=([0-9a-f]{64})\b", body_of(m))
    assert found, body_of(m)
    return found.group(1)


class Resp:
    def __init__(self, status, body):
        self.status, self.body = status, body

    def __repr__(self):
        return f"<{self.status} {self.body}>"


class LifecycleCase(RulesCase):
    """A RulesCase whose cetd sends mail to a MailSink (cls.sink)."""

    sink_kw = {}
    more_engine_kw = {}
    extra_flags = ()

    @classmethod
    def setUpClass(cls):
        cls.sink = MailSink(**cls.sink_kw)
        cls.engine_kw = dict(cls.more_engine_kw,
                             extra=("--smtp-url", f"smtp://127.0.0.1:{cls.sink.port}",
                                    "--mail-from", MAIL_FROM, "--public-url", PUBLIC_URL + "/",
                                    *cls.extra_flags))
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            cls.sink.cleanup()

    _next_ip = [10]

    def own_ip(self):
        """A loopback source address of this test's own (its own rate-limit buckets)."""
        self._next_ip[0] += 1
        return f"127.0.0.{self._next_ip[0]}"

    def api_from(self, ip, method, path, body=None, token=None):
        c = http.client.HTTPConnection("127.0.0.1", self.engine.port, timeout=30,
                                       source_address=(ip, 0))
        h = {"Content-Type": "application/json"} if body is not None else {}
        if token:
            h["Authorization"] = "Bearer " + token
        c.request(method, path, body=json.dumps(body, ensure_ascii=False).encode()
                  if body is not None else None, headers=h)
        r = c.getresponse()
        data = r.read()
        c.close()
        return Resp(r.status, json.loads(data) if data else None)

    def reset(self, email_addr, ip):
        return self.api_from(ip, "POST", "/api/v1/password-resets",
                             {"email": email_addr, "captcha_id": "x", "captcha_answer": "x"})

    def confirm(self, token, new_password, ip):
        return self.api_from(ip, "POST", "/api/v1/password-resets/confirm",
                             {"token": token, "new_password": new_password})

    def sess(self, email_addr, password):
        return self.api("POST", "/api/v1/sessions", {"email": email_addr, "password": password,
                                                      "captcha_id": "x", "captcha_answer": "x"})

    def gauge(self, name):
        _, values = metrics(self.engine)
        return float(values.get(name, "0"))


class PasswordReset(LifecycleCase):
    """R30, R31: the reset mail, its one-time link, the same answer for unknown emails."""

    # docs/rules.md#R30 docs/rules.md#R31
    def test_reset_mail_link_works_once_and_ends_every_session(self):
        email_addr, account_id = self.create_account()
        tokens = [self.login(email_addr) for _ in range(3)]
        ip = self.own_ip()
        r = self.reset(email_addr.upper(), ip)  # the email as typed, in another case
        self.assertEqual(r.status, 202, r)
        self.assertEqual(r.body, {"status": "queued", "expires_in": 1800})
        mails = self.sink.wait_for(email_addr, subject="重置")
        self.assertEqual(len(mails), 1, "one reset mail")
        m = mails[0]
        # a second request: a second link, which the first one's use will end
        self.assertEqual(self.reset(email_addr, ip).status, 202)
        second = self.sink.wait_for(email_addr, count=2, subject="重置")
        self.assertEqual(len(second), 2)
        token2 = link_token(second[1])
        self.assertEqual(str(m["subject"]), "【CET报名】重置通行证密码")
        self.assertEqual(m.get_content_type(), "text/plain")
        self.assertEqual(m.get_content_charset(), "utf-8")
        self.assertRegex(str(m["message-id"]), r"^<cetreg\.\d+\.[0-9a-f]{16}@cet\.test>$")
        self.assertIn(MAIL_FROM, str(m["from"]))
        self.assertIn("30 分钟", body_of(m))
        token = link_token(m)
        # bad input first: nothing of it uses the link up
        self.assertErr(self.confirm(token, "short1", ip), 422, "weak_password")
        self.assertErr(self.confirm("zz" * 32, "newpass-2026", ip), 422, "reset_token_invalid")
        self.assertErr(self.confirm("0" * 64, "newpass-2026", ip), 422, "reset_token_invalid")
        r = self.confirm(token, "newpass-2026", ip)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body["sessions_ended"], 3)
        for t in tokens:
            self.assertErr(self.api("GET", "/api/v1/me", token=t), 401, "unauthorized")
        self.assertErr(self.confirm(token, "another-2026", ip), 409, "reset_token_used")
        self.assertNotEqual(token2, token)
        self.assertErr(self.confirm(token2, "another-2026", ip), 422, "reset_token_expired")
        self.assertErr(self.sess(email_addr, PASSWORD), 401, "invalid_credentials")
        tok = self.login(email_addr, "newpass-2026")
        self.assertEqual(self.account_id(tok), account_id)
        # the account is told its password changed
        notice = self.sink.wait_for(email_addr, subject="密码已修改")
        self.assertEqual(len(notice), 1)

    # docs/rules.md#R30
    def test_unknown_email_same_answer_same_work_no_mail(self):
        ip = self.own_ip()
        known = [self.create_account()[0] for _ in range(4)]
        unknown = [f"nobody{uuid.uuid4().hex[:10]}@rules.test" for _ in range(4)]
        times = {"known": [], "unknown": []}
        answers = set()
        for k, u in zip(known, unknown):
            for kind, addr in (("known", k), ("unknown", u)):
                before = self.gauge("cetd_password_resets")
                t0 = time.perf_counter()
                r = self.reset(addr, ip)
                times[kind].append(time.perf_counter() - t0)
                self.assertEqual(r.status, 202, r)
                answers.add(json.dumps(r.body, sort_keys=True))
                # the same work: one reset record committed either way (a decoy when unknown)
                self.assertEqual(self.gauge("cetd_password_resets"), before + 1, kind)
        self.assertEqual(len(answers), 1, f"one answer for all: {answers}")
        for k in known:
            self.assertEqual(len(self.sink.wait_for(k, subject="重置")), 1)
        time.sleep(1.5)  # the sender looks at least once a second
        for u in unknown:
            self.assertEqual(self.sink.mails(u), [], "no mail for an email without an account")
        # both go through the writer's commit: comparable answer times (loose: on a shared
        # machine one fsync can take tens of milliseconds more than the next)
        mk, mu = statistics.median(times["known"]), statistics.median(times["unknown"])
        self.assertTrue(max(mk, mu) / max(min(mk, mu), 1e-4) < 5.0 or abs(mk - mu) < 0.05,
                        times)

    # docs/rules.md#R30
    def test_rate_limited_per_email_and_per_client(self):
        email_addr, _ = self.create_account()
        # per email, as normalized: case does not make another email; nor does another client
        for i in range(3):
            self.assertEqual(self.reset(email_addr if i % 2 else email_addr.upper(),
                                        self.own_ip()).status, 202)
        self.assertErr(self.reset(email_addr.title(), self.own_ip()), 429, "rate_limited")
        # per client: the 11th request of one address within the minute, whatever the emails
        ip = self.own_ip()
        for i in range(10):
            self.assertEqual(self.reset(f"c{i}{uuid.uuid4().hex[:8]}@rules.test", ip).status, 202)
        self.assertErr(self.reset(f"x{uuid.uuid4().hex[:8]}@rules.test", ip), 429, "rate_limited")
        self.assertEqual(self.reset(f"y{uuid.uuid4().hex[:8]}@rules.test", self.own_ip()).status,
                         202)

    # docs/rules.md#R30
    def test_bad_input(self):
        ip = self.own_ip()
        self.assertErr(self.api_from(ip, "POST", "/api/v1/password-resets",
                                     {"email": "not-an-email", "captcha_id": "x",
                                      "captcha_answer": "x"}), 422, "invalid_email")
        self.assertErr(self.api_from(ip, "POST", "/api/v1/password-resets",
                                     {"captcha_id": "x", "captcha_answer": "x"}), 400,
                       "missing_field")
        self.assertErr(self.api_from(ip, "POST", "/api/v1/password-resets/confirm",
                                     {"token": "0" * 64}), 400, "missing_field")
        self.assertErr(self.api_from(ip, "POST", "/api/v1/password-resets/confirm",
                                     {"token": "0" * 64, "new_password": "abc12345", "x": 1}),
                       400, "unknown_field")
        # hostile strings: controls, huge, NUL-free but not hex, wrong types
        for email_addr in ("a\r\nBcc: x@y.cn@z.cn", "x" * 5000 + "@y.cn", "é@例子.cn"):
            self.assertErr(self.reset(email_addr, ip), 422, "invalid_email")
        self.assertErr(self.api_from(ip, "POST", "/api/v1/password-resets",
                                     {"email": 5, "captcha_id": "x", "captcha_answer": "x"}),
                       400, "wrong_type")
        for token in ("g" * 64, "0" * 63, "0" * 65, "０" * 64, ""):
            self.assertErr(self.confirm(token, "abc12345", ip), 422, "reset_token_invalid")
        self.assertErr(self.confirm("0" * 64, "x" * 129 + "1", ip), 422, "weak_password")
        ip2 = self.own_ip()
        for bad in ({"id_type": "mainland", "id_number": "1", "name": "张三"},
                    {"id_type": "mainland", "id_number": "110105194912310020", "name": "张" * 40},
                    {"id_type": "spaceship", "id_number": "110105194912310020", "name": "张三"}):
            r = self.api_from(ip2, "POST", "/api/v1/account-recovery",
                              dict(bad, captcha_id="x", captcha_answer="x"))
            self.assertEqual(r.status, 422, r)

    def assertErr(self, r, status, code):
        self.assertEqual((r.status, error_code(r.body)), (status, code), f"answer: {r!r}")


class AccountChanges(LifecycleCase):
    """R4, R32, R33, R34: recovery, email and password change, rebinding."""

    def assertErr(self, r, status, code):
        self.assertEqual((r.status, error_code(r.body)), (status, code), f"answer: {r!r}")

    def bind(self, p, email_addr=None):
        """A new account bound to Person p: (email, token, account_id)."""
        email_addr, account_id = self.create_account(email_addr)
        tok = self.login(email_addr)
        self.assertStatus(self.api("POST", "/api/v1/agreement", token=tok), 200)
        r = self.api("POST", "/api/v1/candidate", dict(p.ident(), confirmed=True), token=tok)
        self.assertStatus(r, 201)
        return email_addr, tok, account_id

    def recover(self, ident, ip):
        return self.api_from(ip, "POST", "/api/v1/account-recovery",
                             dict(ident, captcha_id="x", captcha_answer="x"))

    # docs/rules.md#R32
    def test_recovery_shows_the_masked_email(self):
        p = self.world.take("u130")
        email_addr, _, _ = self.bind(p, f"zhang{uuid.uuid4().hex[:6]}@163.test")
        ip = self.own_ip()
        r = self.recover(p.ident(), ip)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, {"email_masked": email_addr[:2] + "***@163.test"})
        self.assertErr(self.recover(dict(p.ident(), name=p.name + "甲"), ip), 404,
                       "recovery_not_found")
        unbound = self.world.take("u130")
        self.assertErr(self.recover(unbound.ident(), ip), 404, "recovery_not_found")
        self.assertErr(self.recover(dict(p.ident(), id_type="military"), ip), 422,
                       "id_type_refused")
        # limited per client: the 6th lookup of one address within the minute
        for _ in range(2):
            self.assertEqual(self.recover(p.ident(), ip).status, 200)
        self.assertErr(self.recover(p.ident(), ip), 429, "rate_limited")
        self.assertEqual(self.recover(p.ident(), self.own_ip()).status, 200)

    # docs/rules.md#R4
    def test_email_change_needs_the_password_and_tells_the_old_address(self):
        old, _ = self.create_account()
        tok = self.login(old)
        new = f"new{uuid.uuid4().hex[:8]}@rules.test"
        r = self.api("PUT", "/api/v1/account/email", {"new_email": new, "password": "wrong-Pass-1"},
                     token=tok)
        self.assertErr(r, 401, "invalid_credentials")
        taken, _ = self.create_account()
        self.assertErr(self.api("PUT", "/api/v1/account/email",
                                {"new_email": taken, "password": PASSWORD}, token=tok),
                       409, "email_taken")
        r = self.api("PUT", "/api/v1/account/email", {"new_email": new, "password": PASSWORD},
                     token=tok)
        self.assertStatus(r, 200)
        notice = self.sink.wait_for(old, subject="邮箱已更改")
        self.assertEqual(len(notice), 1)
        self.assertIn(new[:2] + "***@rules.test", body_of(notice[0]))
        self.assertEqual(self.sink.mails(new), [], "the notice goes to the old address only")
        self.login(new)
        self.assertErr(self.sess(old, PASSWORD), 401, "invalid_credentials")

    # docs/rules.md#R33
    def test_password_change_ends_the_other_sessions(self):
        email_addr, _ = self.create_account()
        mine, other1, other2 = (self.login(email_addr) for _ in range(3))
        self.assertErr(self.api("PUT", "/api/v1/account/password",
                                {"password": "wrong-Pass-1", "new_password": "changed-2026"},
                                token=mine), 401, "invalid_credentials")
        self.assertErr(self.api("PUT", "/api/v1/account/password",
                                {"password": PASSWORD, "new_password": "short"}, token=mine),
                       422, "weak_password")
        self.assertErr(self.api("PUT", "/api/v1/account/password",
                                {"password": PASSWORD, "new_password": "changed-2026"}), 401,
                       "unauthorized")
        ip = self.own_ip()
        self.assertEqual(self.reset(email_addr, ip).status, 202)
        link = link_token(self.sink.wait_for(email_addr, subject="重置")[0])
        r = self.api("PUT", "/api/v1/account/password",
                     {"password": PASSWORD, "new_password": "changed-2026"}, token=mine)
        self.assertStatus(r, 200)
        # a reset link asked for before the change no longer works
        self.assertErr(self.confirm(link, "other-Pass-2026", ip), 422, "reset_token_expired")
        self.assertEqual(r.body["sessions_ended"], 2)
        self.assertStatus(self.api("GET", "/api/v1/me", token=mine), 200)
        for t in (other1, other2):
            self.assertErr(self.api("GET", "/api/v1/me", token=t), 401, "unauthorized")
        self.assertErr(self.sess(email_addr, PASSWORD), 401, "invalid_credentials")
        self.login(email_addr, "changed-2026")
        self.assertEqual(len(self.sink.wait_for(email_addr, subject="密码已修改")), 1)

    # docs/rules.md#R34
    def test_rebinding_wrong_email_and_forgotten_password(self):
        """The guide's case 4(2)b: registered with a wrong email, bound, password
        forgotten: a new account, support moves the binding to its 通行证ID."""
        p = self.world.take("u130")
        wrong, old_tok, old_id = self.bind(p, f"typo{uuid.uuid4().hex[:6]}@wrong.test")
        p.token = old_tok
        self.assertStatus(self.register(p, "1"), 201)
        # the candidate cannot log in any more; a reset mail would go to the wrong address.
        # A new account; its 通行证ID is on its account page (/me)
        right, new_id = self.create_account(f"right{uuid.uuid4().hex[:6]}@rules.test")
        new_tok = self.login(right)
        me = self.api("GET", "/api/v1/me", token=new_tok).body
        self.assertEqual(me["account_id"], new_id)
        self.assertFalse(me["bound"])
        # read out as the account page shows it (upper case, as the official 通行证ID)
        body = dict(p.ident(), to_account_id=new_id.upper())
        # only the support desk may move a binding
        for user in ("teacher10013", "prov11"):
            self.assertErr(self.api("POST", "/api/v1/admin/rebindings", body,
                                    token=self.staff(user)), 403, "forbidden")
        self.assertErr(self.api("POST", "/api/v1/admin/rebindings", body, token=new_tok), 401,
                       "unauthorized")
        support = self.staff("support")
        self.assertErr(self.api("POST", "/api/v1/admin/rebindings",
                                dict(body, to_account_id="0" * 32), token=support), 404,
                       "account_not_found")
        self.assertErr(self.api("POST", "/api/v1/admin/rebindings",
                                dict(body, to_account_id="xyz"), token=support), 422,
                       "invalid_field")
        self.assertErr(self.api("POST", "/api/v1/admin/rebindings",
                                dict(body, name=p.name + "乙"), token=support), 404,
                       "roster_not_found")
        unbound = self.world.take("u130")
        self.assertErr(self.api("POST", "/api/v1/admin/rebindings",
                                dict(unbound.ident(), to_account_id=new_id), token=support), 409,
                       "record_not_bound")
        r = self.api("POST", "/api/v1/admin/rebindings", body, token=support)
        self.assertStatus(r, 200)
        self.assertEqual((r.body["from_account_id"], r.body["to_account_id"]), (old_id, new_id))
        self.assertEqual(r.body["registrations"], ["1"])
        # the new account has the binding and the registration; the old one sees nothing
        me = self.api("GET", "/api/v1/me", token=new_tok).body
        self.assertTrue(me["bound"])
        page = self.api("GET", "/api/v1/candidate", token=new_tok)
        self.assertStatus(page, 200)
        self.assertEqual([row["subject"] for row in page.body["written"]], ["1"])
        self.assertFalse(self.api("GET", "/api/v1/me", token=old_tok).body["bound"])
        self.assertErr(self.api("GET", "/api/v1/candidate", token=old_tok), 409, "not_bound")
        # recovery now names the new account; a second move to a bound account is refused
        rec = self.recover(p.ident(), self.own_ip())
        self.assertEqual(rec.body, {"email_masked": right[:2] + "***@rules.test"})
        self.assertErr(self.api("POST", "/api/v1/admin/rebindings", body, token=support), 409,
                       "already_bound")
        # the new address is told; the audit log has the move with the support user
        self.assertEqual(len(self.sink.wait_for(right, subject="重新绑定")), 1)
        audit = [a for a in self.world.dd.export("audit") if a["action"] == "rebind"]
        self.assertEqual(len(audit), 1)
        self.assertEqual(audit[0]["actor"], "support")
        self.assertIn(old_id, audit[0]["detail"])
        self.assertIn(new_id, audit[0]["detail"])
        # the candidate goes on with the new account: registering works there
        p.token = new_tok
        self.assertStatus(self.register(p, "F"), 201)

    # docs/rules.md#R34
    def test_sitting_is_public(self):
        r = self.api("GET", "/api/v1/sitting")
        self.assertStatus(r, 200)
        s = r.body["sitting"]
        for k in ("name", "written_date", "oral_date_4", "oral_date_6", "print_opens",
                  "registration_opens", "registration_closes"):
            self.assertIn(k, s)
        self.assertRegex(s["written_date"], r"^\d{4}-\d\d-\d\dT00:00:00\+08:00$")
        self.assertEqual(r.body["phase"], "open")


class CaptchaOn(LifecycleCase):
    """R2 on the public lifecycle calls: a reset and a recovery need a right answer."""

    more_engine_kw = {"captcha": "on"}

    def challenge(self):
        r = self.api("POST", "/api/v1/captcha")
        self.assertStatus(r, 201)
        return r.body

    # docs/rules.md#R2 docs/rules.md#R30 docs/rules.md#R32
    def test_reset_and_recovery_need_the_captcha(self):
        email_addr, _ = self.create_account_captcha()
        ip = self.own_ip()
        for path, body in (("/api/v1/password-resets", {"email": email_addr}),
                           ("/api/v1/account-recovery", self.world.take("u130").ident())):
            self.assertEqual(error_code(self.api_from(ip, "POST", path, body).body),
                             "missing_field")
            c = self.challenge()
            wrong = "Z" * 5 if solve_captcha(c) != "ZZZZZ" else "YYYYY"
            r = self.api_from(ip, "POST", path, dict(body, captcha_id=c["captcha_id"],
                                                     captcha_answer=wrong))
            self.assertEqual((r.status, error_code(r.body)), (422, "captcha_invalid"), r)
            c = self.challenge()
            r = self.api_from(ip, "POST", path, dict(body, captcha_id=c["captcha_id"],
                                                     captcha_answer=solve_captcha(c)))
            self.assertIn((r.status, error_code(r.body)), ((202, None), (404, "recovery_not_found")),
                          r)
        self.assertEqual(len(self.sink.wait_for(email_addr, subject="重置")), 1)

    def create_account_captcha(self):
        c = self.challenge()
        email_addr = f"cap{uuid.uuid4().hex[:8]}@rules.test"
        r = self.api("POST", "/api/v1/accounts", {"email": email_addr, "password": PASSWORD,
                                                  "captcha_id": c["captcha_id"],
                                                  "captcha_answer": solve_captcha(c)})
        self.assertStatus(r, 201)
        return email_addr, r.body["account_id"]


class StartTls(LifecycleCase):
    """R31: smtp:// upgrades to TLS with STARTTLS when the server offers it, and verifies
    the server's certificate (here against --smtp-ca-file)."""

    @classmethod
    def setUpClass(cls):
        cls.tls_dir = tempfile.mkdtemp(prefix="cet-tls-")
        cert, key = os.path.join(cls.tls_dir, "cert.pem"), os.path.join(cls.tls_dir, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                        "-keyout", key, "-out", cert, "-subj", "/CN=127.0.0.1",
                        "-addext", "subjectAltName=IP:127.0.0.1"], check=True,
                       capture_output=True)
        cls.sink_kw = {"tls": (cert, key)}
        cls.extra_flags = ("--smtp-ca-file", cert)
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            shutil.rmtree(cls.tls_dir, ignore_errors=True)

    # docs/rules.md#R31
    def test_mail_goes_over_starttls_and_only_to_a_verified_server(self):
        email_addr, _ = self.create_account()
        ip = self.own_ip()
        self.assertEqual(self.reset(email_addr, ip).status, 202)
        # the sink refuses MAIL before STARTTLS: a mail that arrived came over TLS
        self.assertEqual(len(self.sink.wait_for(email_addr, subject="重置")), 1)
        # without the CA the certificate does not verify: nothing is sent, the mail waits
        self.engine.kill9()
        i = self.engine.args.index("--smtp-ca-file")
        saved = self.engine.args[i:i + 2]
        del self.engine.args[i:i + 2]
        self.engine.start()
        other, _ = self.create_account()
        self.assertEqual(self.reset(other, ip).status, 202)
        self.assertTrue(self.wait_until(lambda: self.gauge("cetd_mail_retries_total") >= 1))
        self.assertEqual(self.sink.mails(other), [])
        self.assertEqual(self.gauge('cetd_mail_outbox{state="pending"}'), 1)
        # with it again, the waiting mail goes
        self.engine.kill9()
        self.engine.args[i:i] = saved
        self.engine.start()
        self.assertEqual(len(self.sink.wait_for(other, subject="重置")), 1)


class DurableOutbox(LifecycleCase):
    """R31: mail queued in the commit survives kill -9, with the SMTP server down or
    between the server's copy and its 250; the same Message-ID both times."""

    sink_kw = {"start": False}

    def restart(self, env=None):
        self.engine.start(env=env)
        self.http.close()

    def point_to(self, port):
        """kill -9, then cetd again with --smtp-url on port."""
        self.engine.kill9()
        self.engine.args = [a if "smtp://" not in a else f"smtp://127.0.0.1:{port}"
                            for a in self.engine.args]
        self.restart()

    # docs/rules.md#R31
    def test_kill9_with_smtp_down_then_mail_arrives(self):
        self.sink.stop()  # down: nothing listens on its port
        self.point_to(self.sink.port)
        email_addr, _ = self.create_account()
        ip = self.own_ip()
        t0 = time.perf_counter()
        r = self.reset(email_addr, ip)
        self.assertEqual(r.status, 202, r)
        self.assertLess(time.perf_counter() - t0, 2.0, "the answer never waits for SMTP")
        self.assertTrue(self.wait_until(lambda: self.gauge("cetd_mail_retries_total") >= 1))
        self.assertEqual(self.gauge('cetd_mail_outbox{state="pending"}'), 1)
        self.engine.kill9()
        self.sink.start()
        self.restart()
        mails = self.sink.wait_for(email_addr, subject="重置")
        self.assertEqual(len(mails), 1)
        token = link_token(mails[0])
        self.assertTrue(self.wait_until(
            lambda: self.gauge('cetd_mail_outbox{state="pending"}') == 0))
        # the link outlived the crash too; 30 minutes later it is refused as expired
        self.engine.kill9()
        self.restart(env=dict(os.environ, CET_CLOCK_OFFSET_S=str(31 * 60)))
        self.assertEqual(self.confirm(token, "newpass-2026", ip).body["error"]["code"],
                         "reset_token_expired")
        self.engine.kill9()
        self.restart()
        self.assertEqual(self.confirm(token, "newpass-2026", ip).status, 200)

    # docs/rules.md#R31
    def test_kill9_between_the_copy_and_the_250_sends_again_same_message_id(self):
        slow = MailSink(delay_250=4.0)
        try:
            self.point_to(slow.port)
            email_addr, _ = self.create_account()
            self.assertEqual(self.reset(email_addr, self.own_ip()).status, 202)
            first = slow.wait_for(email_addr, subject="重置")
            self.assertEqual(len(first), 1)
            self.engine.kill9()  # the server has the mail; cetd never saw its 250
            self.restart()
            both = slow.wait_for(email_addr, count=2, subject="重置", timeout=30)
            self.assertEqual(len(both), 2, "sent again after the restart (at least once)")
            self.assertEqual(str(both[0]["message-id"]), str(both[1]["message-id"]))
            self.assertEqual(link_token(both[0]), link_token(both[1]))
            self.assertTrue(self.wait_until(
                lambda: self.gauge('cetd_mail_outbox{state="pending"}') == 0, timeout=20))
        finally:
            slow.cleanup()


if __name__ == "__main__":
    unittest.main(verbosity=2)
