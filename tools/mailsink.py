#!/usr/bin/env python3
"""mailsink: a local SMTP server that keeps every mail it is given, for tools/run.sh and the
integration tests (cetd's outbox sends real SMTP to it).

  tools/mailsink.py --smtp 127.0.0.1:2525 --dir DIR [--http 127.0.0.1:8025]

Each accepted message is written to DIR/NNNNNN.eml (whole, as received; written to a
temporary name and renamed, so a reader never sees half a mail) and answered 250.
With --http, http://ADDR/ lists the mails newest first (to, subject, date, body with its
links) so a person trying the site can open the password-reset link.
Prints "mailsink: smtp on HOST:PORT" once it accepts connections. --delay-250 S (tests)
keeps a mail and waits S seconds before its 250, so a client can be killed in between.
--tls-cert/--tls-key offer STARTTLS and refuse mail without it. SIGTERM or Ctrl-C stops it.

The SMTP server is Debian's python3-aiosmtpd (tools/setup-deps.sh); a Python without it
on its path gets Debian's dist-packages added, and as a last resort the standard library's
deprecated smtpd module.
"""
import argparse
import email
import email.policy
import html
import http.server
import os
import re
import signal
import sys
import threading
import time


def save(directory, data):
    """Writes one message atomically; returns its path."""
    os.makedirs(directory, exist_ok=True)
    n = len([f for f in os.listdir(directory) if f.endswith(".eml")]) + 1
    while True:
        path = os.path.join(directory, f"{n:06d}.eml")
        if not os.path.exists(path):
            break
        n += 1
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.rename(tmp, path)
    return path


def read_all(directory):
    """Every saved mail as (name, email.message.EmailMessage), oldest first."""
    out = []
    if not os.path.isdir(directory):
        return out
    for name in sorted(os.listdir(directory)):
        if name.endswith(".eml"):
            with open(os.path.join(directory, name), "rb") as f:
                out.append((name, email.message_from_bytes(f.read(), policy=email.policy.default)))
    return out


def serve_aiosmtpd(host, port, directory, delay, tls=None):
    try:
        from aiosmtpd.controller import Controller
    except ImportError:
        sys.path.append("/usr/lib/python3/dist-packages")  # Debian's python3-aiosmtpd
        from aiosmtpd.controller import Controller

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            save(directory, envelope.original_content or envelope.content)
            if delay:
                import asyncio
                await asyncio.sleep(delay)
            return "250 OK: kept"

    kw = {}
    if tls:  # STARTTLS offered and required before MAIL (tests: cetd's libcurl must use it)
        import ssl
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(tls[0], tls[1])
        kw = {"tls_context": ctx, "require_starttls": True}
    ctl = Controller(Handler(), hostname=host, port=port, **kw)
    ctl.start()
    return ctl.stop


def serve_smtpd(host, port, directory, delay):
    import warnings
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    import asyncore  # noqa: F401 (smtpd's loop)
    import smtpd

    class Sink(smtpd.SMTPServer):
        def process_message(self, peer, mailfrom, rcpttos, data, **kw):
            save(directory, data if isinstance(data, bytes) else data.encode())
            time.sleep(delay)
            return None  # 250

    Sink((host, port), None, decode_data=False)
    t = threading.Thread(target=asyncore.loop, kwargs={"timeout": 0.2}, daemon=True)
    t.start()
    return lambda: None


def page(directory):
    rows = []
    for name, msg in reversed(read_all(directory)):
        body = msg.get_body(preferencelist=("plain",))
        text = body.get_content() if body else ""
        linked = re.sub(r"(https?://\S+)", lambda m: f'<a href="{m.group(1)}">{m.group(1)}</a>',
                        html.escape(text))
        rows.append(f"<section><h2>{html.escape(str(msg['subject']))}</h2>"
                    f"<p>收件人 {html.escape(str(msg['to']))} · {html.escape(str(msg['date']))} · "
                    f"{html.escape(name)}</p><pre>{linked}</pre></section>")
    return ("<!doctype html><meta charset=utf-8><title>本地邮件</title>"
            "<style>body{font-family:sans-serif;max-width:50em;margin:1em auto}"
            "pre{white-space:pre-wrap;background:#f4f4f4;padding:.6em}</style>"
            f"<h1>本地邮件（{len(rows)} 封）</h1>" + ("".join(rows) or "<p>还没有邮件。</p>"))


def serve_http(host, port, directory):
    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            data = page(directory).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *a):
            pass

    srv = http.server.ThreadingHTTPServer((host, port), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--smtp", default="127.0.0.1:2525")
    ap.add_argument("--dir", required=True)
    ap.add_argument("--http")
    ap.add_argument("--tls-cert", help="PEM certificate: offer STARTTLS and require it")
    ap.add_argument("--tls-key", help="its PEM key")
    ap.add_argument("--delay-250", type=float, default=0.0,
                    help="tests: keep a mail, then wait this long before answering 250")
    a = ap.parse_args()
    host, port = a.smtp.rsplit(":", 1)
    try:
        stop = serve_aiosmtpd(host, int(port), a.dir, a.delay_250,
                              (a.tls_cert, a.tls_key) if a.tls_cert else None)
    except ImportError:
        if a.tls_cert:
            sys.exit("mailsink: STARTTLS needs aiosmtpd (python3-aiosmtpd)")
        stop = serve_smtpd(host, int(port), a.dir, a.delay_250)
    print(f"mailsink: smtp on {host}:{port}", flush=True)
    if a.http:
        h, p = a.http.rsplit(":", 1)
        serve_http(h, int(p), a.dir)
        print(f"mailsink: mail at http://{h}:{p}/", flush=True)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    try:
        while not done.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    stop()


if __name__ == "__main__":
    main()
