"""cluster_help.py — what the chat-cluster tests share: a redis-server of
their own on a free port, a chat node on it, a line member, HAProxy."""
import re
import signal
import socket
import subprocess
import time

from harness import SCALE, Server, check, free_port, t, wait_for
from test_chat import Member as ChatMember

HAPROXY_GLOBAL = """
global
    maxconn 1000
defaults
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    timeout tunnel 1h
"""


class Redis:
    """A redis-server of our own on a free port (never the system one)."""

    def __init__(self, *conf):
        self.port = free_port(udp_too=False)
        self.conf = list(conf)
        self.proc = None

    def start(self):
        cmd = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
               "--save", "", "--appendonly", "no", "--daemonize", "no"] + self.conf
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        check(wait_for(self.ping, t(10)), "redis-server did not start")
        return self

    def ping(self):
        try:
            return self.cmd("PING") == b"+PONG"
        except OSError:
            return False

    def cmd(self, *args):
        """One command in RESP; returns the first reply line (enough for tests)."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=2) as s:
            req = b"*%d\r\n" % len(args)
            for a in args:
                a = a.encode() if isinstance(a, str) else a
                req += b"$%d\r\n%s\r\n" % (len(a), a)
            s.sendall(req)
            return s.recv(65536).split(b"\r\n")[0]

    def url(self):
        return "redis://127.0.0.1:%d" % self.port

    def kill(self, signo=signal.SIGKILL):
        self.proc.send_signal(signo)
        if signo == signal.SIGKILL:
            self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False


def node(redis, name, *extra, ws=False):
    """A chat node (not started) with a tcp:// listener (srv.port) and, with
    ws, a ws:// one (srv.ws_port); extra: more serve flags (default --threads 1)."""
    extra = extra or ("--threads", "1")
    port = free_port()
    urls = ["tcp://127.0.0.1:%d" % port]
    if ws:
        ws_port = free_port()
        urls.append("ws://127.0.0.1:%d/" % ws_port)
    srv = Server("chat", *urls, "--frame", "line", *extra, "--cluster", redis.url(),
                 "--node", name, urls=urls)
    srv.port = port
    srv.ws_port = ws_port if ws else None
    srv.name = name
    return srv


class Member(ChatMember):
    """A line member of a node (test_chat's reader); nick set with /nick once
    it joined."""

    def __init__(self, port, nick=None, sock=None):
        super().__init__(sock or socket.create_connection(("127.0.0.1", port), timeout=t(10)))
        self.nick = nick
        w = self.welcome = self.line()
        check(w and w.startswith("* welcome"), "welcome: %r" % w)
        if nick:
            self.send("/nick " + nick)
            check(self.wait(lambda l: l.endswith(" is now " + nick)), "renamed to " + nick)

    def send(self, text):
        super().send(text + "\n")

    def wait(self, pred, timeout=10):
        """Reads lines until pred(line); returns that line or None."""
        deadline = time.monotonic() + t(timeout)
        while time.monotonic() < deadline:
            line = self.line(max(0.05, deadline - time.monotonic()) / SCALE)  # line() scales
            if line is None:
                return None
            self.seen = (getattr(self, "seen", []) + [line])[-5:]  # for failure messages
            if pred(line):
                return line
        return None

    def who(self, want, timeout=15):
        """Asks /who until it lists exactly the nicks in want; returns the last reply."""
        deadline = time.monotonic() + t(timeout)
        last = None
        while time.monotonic() < deadline:
            self.send("/who")
            last = self.wait(lambda l: re.match(r"\* \d+ here:", l), 5)
            names = sorted(last.split(":", 1)[1].split()) if last else []
            if names == sorted(want):
                return last
            time.sleep(0.5)
        check(False, "/who never listed %s; last %r" % (sorted(want), last))
        return last



def haproxy(cfg_text, port, cfg_path):
    """Starts haproxy on cfg_text (written to cfg_path); waits until port
    accepts. Returns the Popen (the caller kills it)."""
    with open(cfg_path, "w") as f:
        f.write(cfg_text)
    hp = subprocess.Popen(["haproxy", "-f", cfg_path, "-db"], stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL)

    def up():
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            return False
    check(wait_for(up, t(10)), "haproxy listens on %d" % port)
    return hp
