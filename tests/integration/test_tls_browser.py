"""test_tls_browser.py — headless Chromium (tests/interop/browser.js) loads
https://127.0.0.1:Q/ from `sockit serve chat tls://127.0.0.1:P
wss://127.0.0.1:Q/ --cert ... --key ...` and chats over wss:// with a
Python `ssl` member on tls://. Chromium trusts exactly the test server's
key (--ignore-certificate-errors-spki-list); without that flag it refuses
the page, which shows it does verify. Screenshot: build/test-logs/browser-tls.png.

Needs node, tests/interop/node_modules (install.sh) and /usr/bin/chromium.
When missing: SKIP and pass, unless SOCKIT_REQUIRE_INTEROP is set (then FAIL)."""
import base64
import hashlib
import os
import socket
import subprocess
import time

from harness import REPO, LineSock, Server, check, check_eq, free_port, main, t
from test_browser import Browser, interop_ready
from tls_pki import PKI, client_ctx

LOGS = os.path.join(REPO, "build", "test-logs")
SHOT = os.path.join(LOGS, "browser-tls.png")


def spki_hash(crt):
    """base64(sha256(SubjectPublicKeyInfo)) of a certificate, as Chromium's
    --ignore-certificate-errors-spki-list wants it."""
    pub = subprocess.run(["openssl", "x509", "-in", crt, "-pubkey", "-noout"],
                         capture_output=True, check=True, timeout=10).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "der"], input=pub,
                         capture_output=True, check=True, timeout=10).stdout
    return base64.b64encode(hashlib.sha256(der).digest()).decode()



class TlsMember(LineSock):
    """A chat member on tls://, verifying the test CA; reads lines."""

    def __init__(self, port, cafile):
        raw = socket.create_connection(("127.0.0.1", port), timeout=t(10))
        super().__init__(client_ctx(cafile).wrap_socket(raw, server_hostname="127.0.0.1"))

    def line(self, timeout=20):
        return super().line(timeout)

    def until(self, pred, timeout=20):
        deadline = time.monotonic() + t(timeout)
        while time.monotonic() < deadline:
            ln = self.line(timeout)
            if ln is None or pred(ln):
                return ln
        return None


def test_chromium_chat_over_https_and_wss():
    os.makedirs(LOGS, exist_ok=True)
    if os.path.exists(SHOT):
        os.unlink(SHOT)
    p = PKI()
    tport, wport = free_port(), free_port()
    page = "https://127.0.0.1:%d/" % wport
    with Server("chat", "tls://127.0.0.1:%d" % tport, "wss://127.0.0.1:%d/" % wport, "-v",
                "--cert", p.server_crt, "--key", p.server_key) as srv:
        # without being told to trust the key, Chromium refuses the page
        br = Browser(page, SHOT, "", "browser-tls-untrusted")
        r = br.next(60)
        rc = br.close()
        check(rc == 1 and "ERR_CERT" in str(r.get("error")),
              "an untrusted certificate stops Chromium: %r (rc %s)" % (r, rc))

        member = TlsMember(tport, p.ca_crt)
        check("welcome" in (member.line() or ""), "tls member welcome")
        member.s.sendall(b"/nick tlsfriend\n")
        check(member.until(lambda ln: "tlsfriend" in ln), "the rename is confirmed")
        br = Browser(page, SHOT, "--ignore-certificate-errors-spki-list=" + spki_hash(p.server_crt),
                     "browser-tls")
        try:
            ready = br.next(60)
            if not check_eq(ready.get("state"), "open", "page state (browser said %r; stderr %s)"
                            % (ready, br.stderr_tail())):
                return
            check_eq(ready.get("title"), "sockit", "page title")
            check("on wss://127.0.0.1:%d/" % wport in srv.log(),
                  "the page's WebSocket came in on the wss:// listener")
            joined = member.until(lambda ln: ln.endswith(" joined"))
            check(joined and joined.startswith("* "), "tls member sees the browser join: %r" % joined)
            nick = joined[2:-len(" joined")] if joined and joined.startswith("* ") else None
            check_eq(br.cmd(op="send", text="hello from chromium over wss").get("ok"), True, "send")
            check_eq(member.until(lambda ln: "hello from chromium" in ln),
                     "%s: hello from chromium over wss" % nick, "tls member gets NICK: message")
            member.s.sendall(b"hi browser, from tls\n")
            r = br.cmd(op="wait", text="tlsfriend: hi browser, from tls")
            check_eq(r.get("ok"), True, "the page shows the tls member's line: %r" % r)
            r = br.cmd(op="shot")
            check_eq(r.get("ok"), True, "screenshot")
            check(["me", "hello from chromium over wss"] in (r.get("items") or []),
                  "own message shown as 'me': %r" % r.get("items"))
        finally:
            rc = br.close()
            check_eq(rc, 0, "browser.js exit status (stderr %s)" % br.stderr_tail())
        left = member.until(lambda ln: ln.endswith(" left"))
        check(left and left.endswith(" left"), "tls member sees the browser leave: %r" % left)
        member.s.close()
    check(os.path.exists(SHOT), "screenshot saved to %s" % SHOT)
    if os.path.exists(SHOT):
        with open(SHOT, "rb") as f:
            check_eq(f.read(8), b"\x89PNG\r\n\x1a\n", "the screenshot is a PNG")
        check(os.path.getsize(SHOT) > 2000, "the screenshot is not tiny")


if __name__ == "__main__":
    interop_ready()
    main()
