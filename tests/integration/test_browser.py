"""test_browser.py — a real browser on sockit's chat page: headless
Chromium driven by playwright-core (tests/interop/browser.js) loads
http://127.0.0.1:Q/ from `sockit serve chat tcp://127.0.0.1:P ws://127.0.0.1:Q/`,
waits for "open", sends a message with the form; a plain TCP chat member
sees it as "NICK: message", and a line from the TCP member shows up in the
page. Saves a screenshot to build/test-logs/browser.png. With --ws-deflate,
Chromium's own permessage-deflate offer is accepted and long lines cross
compressed both ways.

Needs node, tests/interop/node_modules (install.sh) and /usr/bin/chromium.
When missing: SKIP and pass, unless SOCKIT_REQUIRE_INTEROP is set (then FAIL)."""
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from harness import REPO, Server, check, check_eq, free_port, main, t  # noqa: E402

INTEROP = os.path.join(REPO, "tests", "interop")
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
SHOT = os.path.join(REPO, "build", "test-logs", "browser.png")


def interop_ready():
    why = None
    if not shutil.which("node"):
        why = "node is missing"
    elif not os.path.isdir(os.path.join(INTEROP, "node_modules", "playwright-core")):
        why = "tests/interop/node_modules lacks playwright-core (run tests/interop/install.sh)"
    elif not os.access(CHROMIUM, os.X_OK):
        why = "%s is missing (run tests/interop/install.sh)" % CHROMIUM
    if why is None:
        return
    if os.environ.get("SOCKIT_REQUIRE_INTEROP"):
        print("FAIL: %s, and SOCKIT_REQUIRE_INTEROP is set" % why, flush=True)
        sys.exit(1)
    print("SKIP: %s" % why, flush=True)
    sys.exit(0)


class Browser:
    """browser.js as a child: JSON lines both ways (see browser.js); its
    stderr goes to build/test-logs/NAME-stderr.log, its screenshot to shot."""

    def __init__(self, url, shot=SHOT, extra_args="", name="browser"):
        env = dict(os.environ, SOCKIT_TIME_SCALE=str(t(1)), CHROMIUM=CHROMIUM,
                   CHROMIUM_EXTRA_ARGS=extra_args)
        self.errpath = os.path.join(os.path.dirname(SHOT), name + "-stderr.log")
        self.errf = open(self.errpath, "wb")
        self.p = subprocess.Popen(["node", os.path.join(INTEROP, "browser.js"), url, shot],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=self.errf, env=env)
        self.lines = []
        self.cv = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for ln in self.p.stdout:
            with self.cv:
                self.lines.append(json.loads(ln))
                self.cv.notify_all()
        with self.cv:
            self.lines.append({"eof": True})
            self.cv.notify_all()

    def next(self, timeout=30):
        with self.cv:
            self.cv.wait_for(lambda: self.lines, t(timeout))
            return self.lines.pop(0) if self.lines else {"timeout": True}

    def cmd(self, **kw):
        self.p.stdin.write((json.dumps(kw) + "\n").encode())
        self.p.stdin.flush()
        return self.next()

    def close(self):
        try:
            self.cmd(op="quit")
            self.p.stdin.close()
        except OSError:
            pass
        try:
            rc = self.p.wait(t(20))
        except subprocess.TimeoutExpired:
            self.p.kill()
            rc = self.p.wait()
        self.errf.close()
        return rc

    def stderr_tail(self):
        with open(self.errpath, "rb") as f:
            return f.read()[-1500:].decode("utf-8", "replace")


def stderr_tail():
    try:
        with open(os.path.join(os.path.dirname(SHOT), "browser-stderr.log"), "rb") as f:
            return f.read()[-2000:].decode("utf-8", "replace")
    except OSError:
        return ""


def test_browser_chat_with_tcp_member():
    os.makedirs(os.path.dirname(SHOT), exist_ok=True)
    if os.path.exists(SHOT):
        os.unlink(SHOT)
    tport, wport = free_port(), free_port()
    with Server("chat", "tcp://127.0.0.1:%d" % tport, "ws://127.0.0.1:%d/" % wport):
        tcp = socket.create_connection(("127.0.0.1", tport), timeout=t(10))
        buf = [b""]

        def line(timeout=20):
            tcp.settimeout(t(timeout))
            while b"\n" not in buf[0]:
                try:
                    b = tcp.recv(65536)
                except OSError:
                    return None
                if not b:
                    return None
                buf[0] += b
            ln, buf[0] = buf[0].split(b"\n", 1)
            return ln.decode("utf-8", "replace")

        def until(pred, timeout=20):
            deadline = time.monotonic() + t(timeout)
            while time.monotonic() < deadline:
                ln = line(timeout)
                if ln is None or pred(ln):
                    return ln
            return None

        check("welcome" in (line() or ""), "tcp member welcome")
        tcp.sendall(b"/nick tcpfriend\n")
        check(until(lambda ln: "tcpfriend" in ln), "the rename is confirmed")
        br = Browser("http://127.0.0.1:%d/" % wport)
        try:
            ready = br.next(60)
            if not check_eq(ready.get("state"), "open", "page state (browser said %r; stderr %s)"
                            % (ready, stderr_tail())):
                return
            check_eq(ready.get("title"), "sockit", "page title")
            joined = until(lambda ln: ln.endswith(" joined"))
            check(joined and joined.endswith(" joined"), "tcp member sees the browser join: %r"
                  % joined)
            nick = joined[2:-len(" joined")] if joined and joined.startswith("* ") else None
            check_eq(br.cmd(op="send", text="hello from chromium").get("ok"), True, "send")
            got = until(lambda ln: "hello from chromium" in ln)
            check_eq(got, "%s: hello from chromium" % nick, "tcp member gets NICK: message")
            check_eq(br.cmd(op="wait", text="hello from chromium").get("ok"), True,
                     "the page shows its own message")
            tcp.sendall(b"hi browser, from tcp\n")
            r = br.cmd(op="wait", text="tcpfriend: hi browser, from tcp")
            check_eq(r.get("ok"), True, "the page shows the tcp member's line: %r" % r)
            r = br.cmd(op="shot")
            check_eq(r.get("ok"), True, "screenshot")
            items = r.get("items") or []
            check(["me", "hello from chromium"] in items, "own message styled 'me': %r" % items)
        finally:
            rc = br.close()
            check_eq(rc, 0, "browser.js exit status (stderr %s)" % stderr_tail())
        left = until(lambda ln: ln.endswith(" left"))
        check(left and left.endswith(" left"), "tcp member sees the browser leave: %r" % left)
        tcp.close()
    check(os.path.exists(SHOT), "screenshot saved to %s" % SHOT)
    if os.path.exists(SHOT):
        with open(SHOT, "rb") as f:
            head = f.read(8)
        check_eq(head, b"\x89PNG\r\n\x1a\n", "the screenshot is a PNG")
        check(os.path.getsize(SHOT) > 2000, "the screenshot is not tiny")


def test_browser_permessage_deflate():
    tport, wport = free_port(), free_port()
    with Server("chat", "tcp://127.0.0.1:%d" % tport, "ws://127.0.0.1:%d/" % wport, "--ws-deflate"):
        tcp = socket.create_connection(("127.0.0.1", tport), timeout=t(10))
        br = Browser("http://127.0.0.1:%d/" % wport, shot=SHOT.replace(".png", "-deflate.png"),
                     name="browser-deflate")
        try:
            ready = br.next(60)
            if not check_eq(ready.get("state"), "open", "page state (%r; stderr %s)"
                            % (ready, stderr_tail())):
                return
            r = br.cmd(op="ext")
            check_eq(r.get("extensions"), "permessage-deflate; server_no_context_takeover; "
                     "client_no_context_takeover", "what Chromium agreed to")
            long_line = " ".join('{"n": %d, "v": "x%d"}' % (i, i * 7) for i in range(150))
            tcp.sendall(b"/nick tcpz\n")  # (raw framing: one read is one message)
            time.sleep(t(0.5))
            tcp.sendall(long_line.encode() + b"\n")
            r = br.cmd(op="wait", text="tcpz: " + long_line)
            check_eq(r.get("ok"), True, "a long line reaches the page compressed: %r" % r)
            mine = "from chromium " + long_line
            check_eq(br.cmd(op="send", text=mine).get("ok"), True, "send")
            tcp.settimeout(t(20))
            buf = b""
            while mine.encode() not in buf:
                b = tcp.recv(65536)
                if not b:
                    break
                buf += b
            check(mine.encode() in buf, "Chromium's compressed message reaches the tcp member")
        finally:
            rc = br.close()
            check_eq(rc, 0, "browser.js exit status (stderr %s)" % stderr_tail())
        tcp.close()


if __name__ == "__main__":
    interop_ready()
    main()
