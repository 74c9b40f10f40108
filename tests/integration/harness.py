"""harness.py — shared helpers for the integration tests: free ports, temp
dirs, a `Server` context manager around `sockit serve`, `run_connect`, and a
tiny check()/main() runner. Standard library only.

Environment:
  SOCKIT            path of the sockit binary (default: build/sockit)
  SOCKIT_VALGRIND=1 run every server under valgrind and require a clean exit
                    (=all: also every `sockit connect`/`run_sockit` command)
  SOCKIT_TIME_SCALE multiply every timeout (default 1, 3 for ASan builds,
                    10 under valgrind)
"""
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
import uuid

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SOCKIT = os.environ.get("SOCKIT") or os.path.join(REPO, "build", "sockit")
VALGRIND = os.environ.get("SOCKIT_VALGRIND") in ("1", "all")
VALGRIND_CLIENTS = os.environ.get("SOCKIT_VALGRIND") == "all"
VALGRIND_CMD = ["valgrind", "--leak-check=full", "--error-exitcode=99", "-q"]


def _default_scale():
    if VALGRIND:
        return 10.0
    if "asan" in SOCKIT:
        return 3.0
    return 1.0


SCALE = float(os.environ.get("SOCKIT_TIME_SCALE") or _default_scale())
SLOW = SCALE > 1.0  # ASan/valgrind: tests may shrink their workloads


def t(secs):
    """A timeout scaled for slow (sanitizer/valgrind) builds."""
    return secs * SCALE


# ---------------------------------------------------------------- failures

_failures = []
_current = ["?"]


def check(cond, msg):
    """Records a failure (does not raise); returns cond so callers can bail."""
    if not cond:
        _failures.append("%s: %s" % (_current[0], msg))
        print("    check failed: %s" % msg, flush=True)
    return bool(cond)


def check_eq(got, want, what):
    return check(got == want, "%s: got %s, want %s" % (what, _short(got), _short(want)))


def _short(v, n=200):
    r = repr(v)
    return r if len(r) <= n else r[:n] + "...(%d chars)" % len(r)


def main(tests=None):
    """Runs every test_* function of the calling module in definition order
    (or the given list); prints ok/FAIL per test; exits 1 if any failed.
    Command-line arguments select tests by substring."""
    if tests is None:
        mod = sys.modules["__main__"]
        tests = [v for k, v in vars(mod).items() if k.startswith("test_") and callable(v)]
        tests.sort(key=lambda f: f.__code__.co_firstlineno)
    if len(sys.argv) > 1:
        tests = [f for f in tests if any(a in f.__name__ for a in sys.argv[1:])]
    print("sockit: %s%s" % (SOCKIT, " (valgrind)" if VALGRIND else ""), flush=True)
    if not os.access(SOCKIT, os.X_OK):
        print("FAIL: %s is not an executable (run make first)" % SOCKIT, flush=True)
        sys.exit(1)
    failed = 0
    for f in tests:
        _current[0] = f.__name__
        before = len(_failures)
        start = time.monotonic()
        try:
            f()
        except Exception:
            _failures.append("%s: exception:\n%s" % (f.__name__, traceback.format_exc()))
            print(traceback.format_exc(), flush=True)
        took = time.monotonic() - start
        if len(_failures) > before:
            failed += 1
            print("FAIL %s (%.1fs)" % (f.__name__, took), flush=True)
            for m in _failures[before:]:
                print("     " + m.replace("\n", "\n     "), flush=True)
        else:
            print("ok   %s (%.1fs)" % (f.__name__, took), flush=True)
    _cleanup_dirs()
    print("%d passed, %d failed" % (len(tests) - failed, failed), flush=True)
    sys.exit(1 if failed else 0)


# ---------------------------------------------------------------- resources

def need_websockets(script):
    """Makes `import websockets` work for script: Debian's python3-websockets
    lives with /usr/bin/python3, so another interpreter re-runs script with
    it (once); without the module anywhere, FAIL and exit 1."""
    try:
        import websockets  # noqa: F401
        return
    except ImportError:
        pass
    if os.path.realpath(sys.executable) != os.path.realpath("/usr/bin/python3") \
            and os.path.exists("/usr/bin/python3") and not os.environ.get("SOCKIT_WS_REEXEC"):
        os.environ["SOCKIT_WS_REEXEC"] = "1"
        os.execv("/usr/bin/python3", ["/usr/bin/python3", os.path.abspath(script)] + sys.argv[1:])
    print("FAIL: python module websockets is missing (run tests/interop/install.sh)", flush=True)
    sys.exit(1)


def free_port(udp_too=True, v6_too=False):
    """A port that is free for TCP on 127.0.0.1 (and UDP, and [::1] if asked):
    bind port 0, read it, release it."""
    for _ in range(50):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        others = []
        try:
            if udp_too:
                u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                others.append(u)
                u.bind(("127.0.0.1", port))
            if v6_too:
                s6 = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
                others.append(s6)
                s6.bind(("::1", port))
        except OSError:
            continue
        finally:
            s.close()
            for o in others:
                o.close()
        return port
    raise RuntimeError("no free port")


def have_ipv6():
    try:
        s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        s.bind(("::1", 0))
        s.close()
        return True
    except OSError:
        return False


_dirs = []


def tmpdir():
    """A fresh directory for unix socket paths, removed when main() ends.
    Kept short: sun_path holds at most 107 bytes."""
    d = tempfile.mkdtemp(prefix="skt-", dir="/tmp")
    _dirs.append(d)
    return d


def _cleanup_dirs():
    for d in _dirs:
        shutil.rmtree(d, ignore_errors=True)


def abstract_name():
    """A unique Linux abstract socket name (without the leading '@')."""
    return "sockit-test-" + uuid.uuid4().hex[:12]


def cpu_seconds(pid):
    """utime + stime of a process, in seconds, from /proc/PID/stat."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # after the ")": state is field 3, utime is field 14, stime field 15
    utime, stime = int(fields[11]), int(fields[12])
    return (utime + stime) / os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------- server

SANITIZER_MARKERS = ("AddressSanitizer", "LeakSanitizer", "runtime error:", "== Invalid",
                     "definitely lost", "Conditional jump")
URL_RE = re.compile(r"^(tcp|udp|unix|unixgram|ws|wss|tls)://")


class Server:
    """`with Server("echo", "tcp://127.0.0.1:PORT", "-v") as srv:` starts
    `sockit serve`, waits for one "sockit: serving" banner per URL, and on
    exit sends SIGTERM, checks it exits 0 within 10 s and keeps the log
    (srv.final_log; srv.stop() also returns it)."""

    banner = "sockit: serving"  # one per URL once it listens (a subclass may change it)

    def __init__(self, service, *args, urls=None, expect_rc=0, stop_timeout=10):
        self.service = service
        self.args = list(args)
        if urls is None:  # pass urls= if an option value looks like a URL
            urls = [a for a in args if URL_RE.match(a)]
        self.nurls = max(1, len(urls))
        self.expect_rc = expect_rc
        self.stop_timeout = stop_timeout
        self.proc = None
        self.final_log = None
        self.rc = None
        fd, self.logpath = tempfile.mkstemp(prefix="sockit-serve-", suffix=".log")
        os.close(fd)

    @property
    def pid(self):
        return self.proc.pid

    def cmd(self):
        base = [SOCKIT, "serve", self.service] + self.args
        return (VALGRIND_CMD + base) if VALGRIND else base

    def log(self):
        with open(self.logpath, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def start(self):
        self._logf = open(self.logpath, "wb")
        self.proc = subprocess.Popen(self.cmd(), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=self._logf)
        deadline = time.monotonic() + t(10)
        while time.monotonic() < deadline:
            if self.log().count(self.banner) >= self.nurls:
                return self
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        log = self.log()
        self._kill()
        raise RuntimeError("server %r did not start (rc=%s); log:\n%s"
                           % (self.cmd(), self.proc.returncode, log))

    def _kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._logf.close()

    def send_signal(self, signo=signal.SIGTERM):
        self.proc.send_signal(signo)

    def wait_exit(self, timeout):
        """Waits for the process to exit; returns its status or None."""
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, signo=signal.SIGTERM):
        """SIGTERM, wait up to stop_timeout s, check the exit status and the
        log for sanitizer reports; returns the log."""
        if self.final_log is not None:
            return self.final_log
        if self.proc.poll() is None:
            self.proc.send_signal(signo)
        rc = self.wait_exit(t(self.stop_timeout))
        check(rc is not None, "server %s did not exit within %gs of SIGTERM"
              % (self.service, t(self.stop_timeout)))
        if rc is None:
            self._kill()
            rc = self.proc.returncode
        else:
            self._logf.close()
        self.rc = rc
        self.final_log = self.log()
        problems = []
        if rc != self.expect_rc:
            problems.append("exited %s, want %s" % (rc, self.expect_rc))
        problems += ["log reports %r" % bad for bad in SANITIZER_MARKERS if bad in self.final_log]
        check(not problems, "server %s %s: %s; log tail:\n%s"
              % (self.service, " ".join(self.args)[:200], "; ".join(problems),
                 self.final_log[-3000:]))
        try:
            os.unlink(self.logpath)
        except OSError:
            pass
        return self.final_log

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False


# ---------------------------------------------------------------- clients

def run_connect(args, input=None, timeout=10):
    """Runs `sockit connect ARGS...` with stdin = input (bytes/str or None for
    an empty pipe); returns the CompletedProcess (stdout/stderr as bytes)."""
    if isinstance(input, str):
        input = input.encode()
    return run_sockit(["connect"] + list(args), input=input, timeout=timeout)


def run_sockit(args, input=b"", timeout=10):
    """Runs `sockit ARGS...`; returns the CompletedProcess. Under
    SOCKIT_VALGRIND=all, valgrind's errors make the exit status 99."""
    cmd = [SOCKIT] + list(args)
    if VALGRIND_CLIENTS:
        cmd = VALGRIND_CMD + cmd
    return subprocess.run(cmd, input=input or b"", stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=t(timeout))


def tcp_client(port, host="127.0.0.1", timeout=10):
    """A tutorial-style client socket: socket(AF_INET, SOCK_STREAM); connect."""
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(t(timeout))
    s.connect((host, port))
    return s


def unix_client(path, timeout=10):
    """path: a filesystem path or '@name' for the abstract namespace."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(t(timeout))
    s.connect("\0" + path[1:] if path.startswith("@") else path)
    return s


def recv_exact(s, n):
    """Reads exactly n bytes (fewer only if the peer closed)."""
    chunks, got = [], 0
    while got < n:
        b = s.recv(min(65536, n - got))
        if not b:
            break
        chunks.append(b)
        got += len(b)
    return b"".join(chunks)


def recv_until_eof(s, limit=1 << 30):
    """Reads until EOF; returns (data, error or None). A reset ends it too."""
    chunks, got = [], 0
    try:
        while got < limit:
            b = s.recv(65536)
            if not b:
                break
            chunks.append(b)
            got += len(b)
        return b"".join(chunks), None
    except OSError as e:
        return b"".join(chunks), e


def readme_block(marker, lang):
    """The ```lang block of README.md right after the line marker (which
    must occur once), verbatim without its last newline; None if missing."""
    with open(os.path.join(REPO, "README.md")) as f:
        text = f.read()
    check_eq(text.count(marker), 1, "occurrences of %s in README.md" % marker)
    m = re.search(re.escape(marker) + r"\n```" + lang + r"\n(.*?)\n```\n", text, re.S)
    check(m, "a ```%s block right after %s" % (lang, marker))
    return m.group(1) if m else None


def recv_head(s):
    """Reads an HTTP head: up to and including the first blank line (or
    what came before EOF); what follows it may be included too."""
    head = b""
    while b"\r\n\r\n" not in head:
        b = s.recv(4096)
        if not b:
            break
        head += b
    return head


class LineSock:
    """A stream socket read line by line (chat members, exec replies)."""

    def __init__(self, s):
        self.s = s
        self.buf = b""

    def line(self, timeout=10):
        """The next line (without "\\n") as str, or None on EOF, error or timeout."""
        self.s.settimeout(t(timeout))
        while b"\n" not in self.buf:
            try:
                b = self.s.recv(65536)
            except OSError:
                return None
            if not b:
                return None
            self.buf += b
        ln, self.buf = self.buf.split(b"\n", 1)
        return ln.decode("utf-8", "replace")


def wait_for(pred, timeout=5, step=0.02):
    """Polls pred() until true or timeout (scaled); returns its last value."""
    deadline = time.monotonic() + t(timeout)
    while True:
        v = pred()
        if v or time.monotonic() > deadline:
            return v
        time.sleep(step)


def uring_fds(pid):
    """How many io_uring instances the process holds."""
    n = 0
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            n += os.readlink("/proc/%d/fd/%s" % (pid, fd)) == "anon_inode:[io_uring]"
        except OSError:
            pass
    return n
