#!/usr/bin/env python3
"""paysim: a payment platform simulator for cetreg.

The engine answers POST /api/v1/payments with a pay_url pointing here. A real
platform takes the money and calls back POST /api/v1/payments/notify with a
signed notice: JSON {order_id, amount, paid_at, gateway_txn} and the header
X-Signature = hex HMAC-SHA256(shared secret, raw body). This tool does that.

  paysim.py pay PAY_URL --engine http://127.0.0.1:8080 --secret-file F
        [--twice] [--delay SECONDS] [--amount FEN] [--bad-signature] [--txn ID]
      "pays" the order in PAY_URL and sends the notice (twice, late, with a
      wrong amount or a bad signature when asked); prints each answer.
      Exit status 0 when every notice got HTTP 200.

  paysim.py serve --port 8090 --engine http://127.0.0.1:8080 --secret-file F
      a checkout page for browsers: GET /pay?order_id=..&amount=..&channel=..
      shows the order and a 确认支付 button; the button sends the notice and
      returns the candidate to the registration page.

Only the standard library; loopback only.
"""
import argparse
import hashlib
import hmac
import html
import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CST = timezone(timedelta(hours=8))


def read_secret(path):
    with open(path, "rb") as f:
        return f.read().rstrip(b"\r\n")


def notice_body(order_id, amount, txn):
    return json.dumps({
        "order_id": str(order_id),
        "amount": int(amount),
        "paid_at": datetime.now(CST).isoformat(timespec="seconds"),
        "gateway_txn": txn,
    }, separators=(",", ":")).encode()


def sign(secret, body):
    return hmac.new(secret, body, hashlib.sha256).hexdigest()


def send_notice(engine, secret, order_id, amount, txn, bad_signature=False):
    """Sends one notice; returns (status, parsed JSON answer)."""
    body = notice_body(order_id, amount, txn)
    sig = sign(secret, body)
    if bad_signature:
        sig = sign(secret + b"-wrong", body)
    req = urllib.request.Request(engine.rstrip("/") + "/api/v1/payments/notify", data=body,
                                 method="POST", headers={"Content-Type": "application/json",
                                                         "X-Signature": sig})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def parse_pay_url(url):
    q = urllib.parse.parse_qs(urllib.parse.urlparse(url).query)
    try:
        return q["order_id"][0], int(q["amount"][0])
    except (KeyError, ValueError):
        sys.exit("paysim: the pay_url has no order_id and amount: " + url)


def cmd_pay(a):
    secret = read_secret(a.secret_file)
    order_id, amount = parse_pay_url(a.pay_url)
    if a.amount is not None:
        amount = a.amount
    txn = a.txn or "SIM" + uuid.uuid4().hex[:20].upper()
    if a.delay:
        time.sleep(a.delay)
    ok = True
    for i in range(2 if a.twice else 1):
        status, answer = send_notice(a.engine, secret, order_id, amount, txn, a.bad_signature)
        print(json.dumps({"notice": i + 1, "order_id": order_id, "amount": amount,
                          "gateway_txn": txn, "status": status, "answer": answer},
                         ensure_ascii=False))
        ok = ok and status == 200
    return 0 if ok else 1


PAGE = """<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>支付平台（模拟）</title>
<style>body{{font-family:sans-serif;max-width:28rem;margin:2rem auto;padding:0 1rem;color:#222}}
.box{{border:1px solid #ccc;border-radius:6px;padding:1rem}}button{{font-size:1.1rem;padding:.6rem 1.4rem;
background:#1677ff;color:#fff;border:0;border-radius:4px}}.muted{{color:#666;font-size:.9rem}}</style>
</head><body><h1>支付平台（模拟）</h1><div class="box">{content}</div>
<p class="muted">这是 cetreg 的支付模拟器，只用于开发与测试，不会产生真实扣款。</p></body></html>"""


# The channel codes of POST /api/v1/payments, as a candidate reads them.
CHANNEL_NAMES = {"alipay": "支付宝", "wechat": "微信支付", "unionpay": "银联在线支付",
                 "bank": "首信易支付（网上银行）"}
BANKS = ["中国银行", "中国工商银行", "中国建设银行", "中国农业银行", "交通银行", "招商银行"]


def channel_name(code):
    """The Chinese name of a channel code; an unknown code is shown as 其他支付方式."""
    return CHANNEL_NAMES.get(code, "其他支付方式")


class Checkout(BaseHTTPRequestHandler):
    engine = ""
    secret = b""
    return_url = ""

    def _send(self, status, content):
        body = PAGE.format(content=content).encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        u = urllib.parse.urlparse(self.path)
        if u.path != "/pay":
            return self._send(404, "<p>没有这个页面。</p>")
        q = urllib.parse.parse_qs(u.query)
        order = html.escape(q.get("order_id", [""])[0])
        amount = q.get("amount", ["0"])[0]
        code = q.get("channel", [""])[0]
        channel = html.escape(channel_name(code))
        if not order or not amount.isdigit():
            return self._send(400, "<p>订单参数不完整。</p>")
        yuan = "%.2f" % (int(amount) / 100)
        bank = ""
        if code == "bank":
            opts = "".join(f"<option>{b}</option>" for b in BANKS)
            bank = f'<p><label>支付银行：<select id="bank">{opts}</select></label></p>'

        self._send(200, f"""<p>订单号：<b id="order">{order}</b></p><p>金额：<b id="amount">¥{yuan}</b></p>
<p>支付方式：<b id="channel" data-channel="{html.escape(code)}">{channel}</b></p>{bank}<form method="post" action="/pay/confirm">
<input type="hidden" name="order_id" value="{order}"><input type="hidden" name="amount" value="{amount}">
<button id="confirm" type="submit">确认支付</button></form>""")

    def do_POST(self):
        if urllib.parse.urlparse(self.path).path != "/pay/confirm":
            return self._send(404, "<p>没有这个页面。</p>")
        n = min(int(self.headers.get("Content-Length", "0") or 0), 4096)
        form = urllib.parse.parse_qs(self.rfile.read(n).decode())
        order = form.get("order_id", [""])[0]
        amount = form.get("amount", ["0"])[0]
        if not order.isdigit() or not amount.isdigit():
            return self._send(400, "<p>订单参数不完整。</p>")
        txn = "SIM" + uuid.uuid4().hex[:20].upper()
        status, answer = send_notice(self.engine, self.secret, order, int(amount), txn)
        back = html.escape(self.return_url)
        if status == 200 and answer.get("status") == "paid":
            msg = "<p id='result'>支付成功。</p>"
        else:
            msg = f"<p id='result'>支付未完成（{status} {html.escape(json.dumps(answer, ensure_ascii=False))}）。</p>"
        self._send(200, msg + f"<p><a id='back' href='{back}'>返回报名信息</a></p>")

    def log_message(self, fmt, *args):
        sys.stderr.write("paysim: " + (fmt % args) + "\n")


def cmd_serve(a):
    Checkout.engine = a.engine
    Checkout.secret = read_secret(a.secret_file)
    Checkout.return_url = a.return_url
    srv = ThreadingHTTPServer((a.host, a.port), Checkout)
    print(f"paysim: checkout on http://{a.host}:{a.port}/pay, notices to {a.engine}", flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


def main():
    p = argparse.ArgumentParser(description="payment platform simulator for cetreg")
    sub = p.add_subparsers(dest="cmd", required=True)
    pay = sub.add_parser("pay", help="pay the order of a pay_url and send the signed notice")
    pay.add_argument("pay_url")
    pay.add_argument("--engine", required=True, help="cetd base URL, e.g. http://127.0.0.1:8080")
    pay.add_argument("--secret-file", required=True)
    pay.add_argument("--twice", action="store_true", help="send the same notice twice")
    pay.add_argument("--delay", type=float, default=0, help="wait this long first (late notice)")
    pay.add_argument("--amount", type=int, help="claim this amount instead (mismatch)")
    pay.add_argument("--bad-signature", action="store_true")
    pay.add_argument("--txn", help="gateway transaction id (default: random)")
    srv = sub.add_parser("serve", help="serve a checkout page for browsers")
    srv.add_argument("--host", default="127.0.0.1")
    srv.add_argument("--port", type=int, default=8090)
    srv.add_argument("--engine", required=True)
    srv.add_argument("--secret-file", required=True)
    srv.add_argument("--return-url", default="/#/registration")
    a = p.parse_args()
    return cmd_pay(a) if a.cmd == "pay" else cmd_serve(a)


if __name__ == "__main__":
    sys.exit(main())
