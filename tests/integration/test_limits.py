"""test_limits.py — a server's limits and lifecycle as a user sees them:
--max-conns accepts and closes the excess client at once, --idle-timeout
closes silent clients only, running out of descriptors (EMFILE) sheds
connections without spinning and recovers, SIGTERM/SIGINT drain what is
queued and exit 0, --drain-timeout bounds the drain, and -v logs every
accept and close with fd, peer, byte counts and the reason."""
import os
import re
import resource
import signal
import socket
import struct
import subprocess
import threading
import time

from harness import (SLOW, Server, check, check_eq, cpu_seconds, free_port, main, recv_exact,
                     recv_until_eof, t, tmpdir, wait_for)


def client(port, rcvbuf=None):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(t(10))
    s.connect(("127.0.0.1", port))
    return s


def echo_ok(s, msg):
    """True if msg comes back (echo); False on EOF, reset or timeout."""
    try:
        s.sendall(msg)
        return recv_exact(s, len(msg)) == msg
    except OSError:
        return False


def closed_by_server(s, timeout):
    """'eof' or 'reset' if the server closed s within timeout seconds,
    'open' if it is still open (a recv timed out), or 'data'."""
    s.settimeout(timeout)
    try:
        b = s.recv(4096)
    except socket.timeout:
        return "open"
    except ConnectionResetError:
        return "reset"
    except OSError as e:
        return "error %s" % e
    return "eof" if b == b"" else "data"


def closes(srv):
    return srv.log().count(" close fd=")


# ---------------------------------------------------------------- --max-conns

def test_max_conns_excess_client_accepted_and_closed_at_once():
    port = free_port()
    with Server("echo", "tcp://127.0.0.1:%d" % port, "--max-conns", "3", "-v") as srv:
        three = [client(port) for _ in range(3)]
        for i, s in enumerate(three):
            check(echo_ok(s, b"client %d" % i), "client %d of 3 served" % i)
        fourth = client(port)
        fport = fourth.getsockname()[1]
        start = time.monotonic()
        how = closed_by_server(fourth, t(1))
        took = time.monotonic() - start
        check(how in ("eof", "reset"), "4th client: %s after %.2fs (want EOF/reset within 1 s, "
              "not a hang)" % (how, took))
        fourth.close()
        check(wait_for(lambda: re.search(r"refuse fd=\d+ peer=127\.0\.0\.1:%d on tcp://\S+: "
                                         r"--max-conns 3 reached" % fport, srv.log()), 2),
              "refuse log line:\n%s" % srv.log())
        for i, s in enumerate(three):
            check(echo_ok(s, b"still %d" % i), "client %d still served after the refusal" % i)
        three[0].close()
        check(wait_for(lambda: closes(srv) >= 1, 5), "the leaving client's close is logged")
        fifth = client(port)
        check(echo_ok(fifth, b"a seat is free"), "a new client is served after one left")
        for s in three[1:] + [fifth]:
            s.close()


def test_max_conns_counts_every_listener():
    port = free_port()
    path = os.path.join(tmpdir(), "mc.sock")
    with Server("echo", "tcp://127.0.0.1:%d" % port, "unix://" + path, "--max-conns", "2") as srv:
        a = client(port)
        u = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        u.settimeout(t(10))
        u.connect(path)
        check(echo_ok(a, b"a") and echo_ok(u, b"u"), "two clients served")
        b = client(port)
        check(closed_by_server(b, t(1)) in ("eof", "reset"), "the 3rd client (tcp) is closed")
        u2 = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        u2.settimeout(t(10))
        u2.connect(path)
        check(closed_by_server(u2, t(1)) in ("eof", "reset"), "the 3rd client (unix) is closed")
        for s in (a, u, b, u2):
            s.close()
        check("--max-conns 2 reached" in srv.log(), "refusals logged")


# ---------------------------------------------------------------- --idle-timeout

def test_idle_timeout_closes_silent_clients_only():
    port = free_port()
    with Server("echo", "tcp://127.0.0.1:%d" % port, "--idle-timeout", "1", "-v") as srv:
        silent = client(port)
        spoke_once = client(port)
        check(echo_ok(spoke_once, b"hello"), "echo before going silent")
        active = client(port)
        active_port = active.getsockname()[1]
        result = {}

        def keep_talking():
            ok = True
            end = time.monotonic() + 3.0
            i = 0
            while time.monotonic() < end and ok:
                ok = echo_ok(active, b"tick %d" % i)
                i += 1
                time.sleep(0.3)
            result["ok"], result["n"] = ok, i

        th = threading.Thread(target=keep_talking)
        th.start()
        start = time.monotonic()
        how = closed_by_server(silent, t(5))
        took = time.monotonic() - start
        check(how in ("eof", "reset") and took < t(2.5),
              "silent client: %s after %.2fs (want closed within ~2.5 s)" % (how, took))
        check(took > 0.8, "silent client closed after only %.2fs (timeout is 1 s)" % took)
        how2 = closed_by_server(spoke_once, t(3))
        check(how2 in ("eof", "reset"), "a client silent after one message is closed: %s" % how2)
        th.join(t(10))
        check(result.get("ok"), "the active client (every 0.3 s for 3 s) kept being served: %s"
              % result)
        check(echo_ok(active, b"after"), "the active client is still open")
        active.close()
        silent.close()
        spoke_once.close()
        check(wait_for(lambda: re.search(r"idle fd=\d+ peer=127\.0\.0\.1:\d+", srv.log()), 2),
              "-v logs the idle close:\n%s" % srv.log())
        check(not re.search(r"idle fd=\d+ peer=127\.0\.0\.1:%d\b" % active_port, srv.log()),
              "the active client was logged as idle")


# ---------------------------------------------------------------- EMFILE

class LimitedServer(Server):
    """A Server whose process starts with RLIMIT_NOFILE lowered to `nofile`."""

    def __init__(self, *args, nofile=64, **kw):
        super().__init__(*args, **kw)
        self.nofile = nofile

    def start(self):
        nofile = self.nofile
        self._logf = open(self.logpath, "wb")
        self.proc = subprocess.Popen(
            self.cmd(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self._logf,
            preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile)))
        if not wait_for(lambda: self.log().count("sockit: serving") >= self.nurls
                        or self.proc.poll() is not None, 10) or self.proc.poll() is not None:
            log = self.log()
            self._kill()
            raise RuntimeError("server did not start; log:\n%s" % log)
        return self


def cpu_during(pid, secs, action=None):
    """CPU seconds pid uses during secs, while action() runs every 10 ms."""
    before = cpu_seconds(pid)
    end = time.monotonic() + secs
    while time.monotonic() < end:
        if action:
            action()
        time.sleep(0.01)
    return cpu_seconds(pid) - before


def test_emfile_sheds_without_spinning_and_recovers():
    port = free_port()
    with LimitedServer("echo", "tcp://127.0.0.1:%d" % port, "-v", nofile=64) as srv:
        clients = [client(port) for _ in range(100)]  # the kernel completes the handshakes
        used = cpu_during(srv.pid, 1.0)
        check(used < 0.3, "server used %.2fs CPU in the 1 s after 100 clients arrived at a "
              "64-descriptor limit (spinning on EMFILE?)" % used)
        served, shed, hung = 0, 0, 0
        for i, s in enumerate(clients):
            s.settimeout(t(2))
            try:
                s.sendall(b"ping %03d" % i)
                got = recv_exact(s, 8)
            except socket.timeout:
                got = None
            except OSError:
                got = b""
            if got == b"ping %03d" % i:
                served += 1
            elif got is None:
                hung += 1
            else:
                shed += 1
        print("    100 clients with RLIMIT_NOFILE 64: %d served, %d shed, %d hung"
              % (served, shed, hung))
        check_eq(hung, 0, "clients left hanging (neither served nor closed)")
        check(served >= 30, "clients served up to the descriptor limit: %d" % served)
        check(shed >= 20, "excess clients shed: %d" % shed)
        check(re.search(r"shedding", srv.log()), "the log mentions the shedding:\n%s"
              % srv.log()[-1500:])

        # more clients keep arriving while the server is at its limit
        late, outcomes = [], []

        def arrive():
            if len(late) < 50:
                late.append(client(port))

        used = cpu_during(srv.pid, 1.0, arrive)
        check(used < 0.3, "server used %.2fs CPU in 1 s at the limit with clients arriving"
              % used)
        for s in late:
            outcomes.append(closed_by_server(s, t(2)))
            s.close()
        check(all(o in ("eof", "reset") for o in outcomes),
              "clients arriving at the limit are shed, not left hanging: %s"
              % sorted(set(outcomes)))
        check(srv.proc.poll() is None, "server still running")

        for s in clients:
            s.close()
        check(wait_for(lambda: closes(srv) >= served, 5), "served clients' closes logged")
        fresh = [client(port) for _ in range(20)]
        ok = sum(echo_ok(s, b"again %d" % i) for i, s in enumerate(fresh))
        check_eq(ok, 20, "new clients served once descriptors are free again")
        for s in fresh:
            s.close()
        used = cpu_during(srv.pid, 1.0)
        check(used < 0.3, "server used %.2fs CPU in 1 s after recovering" % used)


# ---------------------------------------------------------------- SIGTERM / SIGINT

def read_total(log, cport):
    """Bytes read from the client on port cport, from -vv read lines."""
    return sum(int(n) for n in re.findall(r"read fd=\d+ peer=127\.0\.0\.1:%d bytes=(\d+)" % cport,
                                          log))


def close_line(log, cport):
    m = re.search(r"close fd=\d+ peer=127\.0\.0\.1:%d in=(\d+) out=(\d+) reason=(.*)" % cport, log)
    return (int(m.group(1)), int(m.group(2)), m.group(3)) if m else None


def drain_after_signal(signo):
    """A client sends 2 MB to echo without reading and half-closes. The
    server's socket buffers are sized (--sndbuf 512K, client SO_RCVBUF 64K)
    so that it reads all 2 MB but still holds ~1 MB of echo in its own queue
    when the signal comes: the client must then get all 2 MB back, EOF, and
    the server exit 0."""
    port = free_port()
    data = os.urandom(2 << 20)
    srv = Server("echo", "tcp://127.0.0.1:%d" % port, "-vv", "--drain-timeout", "5",
                 "--sndbuf", "512K").start()
    try:
        s = client(port, rcvbuf=65536)
        cport = s.getsockname()[1]
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        check(wait_for(lambda: read_total(srv.log(), cport) >= len(data), 5),
              "the server read all 2 MB before the signal (read %d)" % read_total(srv.log(), cport))
        time.sleep(0.2)
        check(close_line(srv.log(), cport) is None,
              "setup: the echo should still be queued in the server at the signal")
        srv.send_signal(signo)
        time.sleep(0.3)  # the drain has started before we read
        got, err = recv_until_eof(s)
        s.close()
        rc = srv.wait_exit(t(5))
        check_eq(rc, 0, "exit status after %s" % signo.name)
        check(err is None, "client read ended with %r (not a clean EOF)" % err)
        check(got == data, "client got %d of %d echoed bytes back (a prefix: %s)"
              % (len(got), len(data), data.startswith(got)))
    finally:
        log = srv.stop()
    cl = close_line(log, cport)
    if check(cl, "close line for the client:\n%s" % log[-2000:]):
        check_eq(cl[:2], (len(data), len(data)), "close line in=/out=")
    check(re.search(r"sockit: \S+, draining 1 client", log), "draining announced:\n%s"
          % log[-800:])


def test_sigterm_drains_2mb_echo_then_exits_0():
    drain_after_signal(signal.SIGTERM)


def test_sigint_drains_like_sigterm():
    drain_after_signal(signal.SIGINT)


def test_sigterm_prefix_when_the_server_was_backpressured():
    """Same without the large receive buffer: the server may have stopped
    reading; whatever it read (in=) comes back whole, as a prefix."""
    port = free_port()
    data = os.urandom(2 << 20)
    srv = Server("echo", "tcp://127.0.0.1:%d" % port, "-v", "--drain-timeout", "5").start()
    try:
        s = client(port, rcvbuf=65536)
        cport = s.getsockname()[1]
        s.settimeout(1.0)
        sent = 0
        try:
            while sent < len(data):
                sent += s.send(data[sent:sent + 65536])
        except socket.timeout:
            pass
        # the server took the client (a slow start, e.g. under valgrind, must
        # not turn this into a SIGTERM before the accept)
        check(wait_for(lambda: "peer=127.0.0.1:%d " % cport in srv.log(), 10),
              "the server accepted the client")
        srv.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        s.settimeout(t(10))
        got, err = recv_until_eof(s)
        s.close()
        rc = srv.wait_exit(t(8))
        check_eq(rc, 0, "exit status")
    finally:
        log = srv.stop()
    check(data[:sent].startswith(got), "echo is a byte-exact prefix of what was sent")
    cl = close_line(log, cport)
    if check(cl, "close line:\n%s" % log[-1500:]):
        check_eq(len(got), cl[0], "bytes received back vs bytes the server read (in=)")
        check_eq(cl[1], cl[0], "out= equals in= for echo")


def test_drain_timeout_with_20mb_queued_to_a_stuck_client():
    """chat: a member that never reads has ~20 MB queued (--max-queue 64M);
    SIGTERM with --drain-timeout 1 exits within ~3 s and logs the timeout."""
    port = free_port()
    size = (5 if SLOW else 20) << 20
    srv = Server("chat", "tcp://127.0.0.1:%d" % port, "--frame", "line", "--max-queue", "64M",
                 "--drain-timeout", "1", "-v").start()
    try:
        stuck = client(port, rcvbuf=4096)
        time.sleep(0.1)
        talker = client(port)
        line = b"y" * ((1 << 20) - 1) + b"\n"
        for _ in range(size >> 20):
            talker.sendall(line)
        talker.shutdown(socket.SHUT_WR)
        # the talker is read in full; what it said sits queued for `stuck`
        check(wait_for(lambda: srv.proc.poll() is None and _rss_mb(srv.pid) >= (size >> 20) * 0.7,
                       10), "server holds the queued data (RSS %d MB)" % _rss_mb(srv.pid))
        start = time.monotonic()
        srv.send_signal(signal.SIGTERM)
        rc = srv.wait_exit(t(6))
        took = time.monotonic() - start
        check_eq(rc, 0, "exit status after the drain timeout")
        check(0.8 <= took <= t(3), "exit %.1fs after SIGTERM with --drain-timeout 1" % took)
        stuck.close()
        talker.close()
    finally:
        log = srv.stop()
    check(re.search(r"drain timeout", log), "the drain timeout is logged:\n%s" % log[-1500:])


def _rss_mb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for l in f:
                if l.startswith("VmRSS:"):
                    return int(l.split()[1]) >> 10
    except OSError:
        pass
    return 0


# ---------------------------------------------------------------- -v lines

def test_verbose_accept_and_close_lines():
    port = free_port()
    path = os.path.join(tmpdir(), "v.sock")
    with Server("upper", "tcp://127.0.0.1:%d" % port, "unix://" + path, "-v") as srv:
        s = client(port)
        cport = s.getsockname()[1]
        sent = rcvd = 0
        for msg in (b"hello", b"how are you", b"x" * 5000):
            s.sendall(msg)
            got = recv_exact(s, len(msg))
            check_eq(got, msg.upper(), "upper reply")
            sent += len(msg)
            rcvd += len(got)
        s.close()
        u = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        u.settimeout(t(10))
        u.connect(path)
        u.sendall(b"abc")
        check_eq(recv_exact(u, 3), b"ABC", "unix reply")
        u.close()
        r = client(port)
        rport = r.getsockname()[1]
        r.sendall(b"then reset")
        recv_exact(r, 10)
        r.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        r.close()
        check(wait_for(lambda: closes(srv) >= 3, 5), "three close lines")
        log = srv.log()
    acc = re.search(r"accept fd=(\d+) peer=127\.0\.0\.1:%d on tcp://127\.0\.0\.1:%d" % (cport, port),
                    log)
    cl = re.search(r"close fd=(\d+) peer=127\.0\.0\.1:%d in=(\d+) out=(\d+) reason=(\S+)" % cport,
                   log)
    if check(acc and cl, "accept/close lines for port %d:\n%s" % (cport, log)):
        check_eq(acc.group(1), cl.group(1), "same fd in the accept and close lines")
        check_eq((int(cl.group(2)), int(cl.group(3))), (sent, rcvd), "in=/out= byte counts")
        check_eq(cl.group(4), "done", "reason of a clean close")
    check(re.search(r"accept fd=\d+ peer=\S+ on unix://%s" % re.escape(path), log) and
          re.search(r"close fd=\d+ peer=\S+ in=3 out=3 reason=done", log),
          "unix client's accept and close lines:\n%s" % log)
    rl = re.search(r"close fd=\d+ peer=127\.0\.0\.1:%d in=10 out=10 reason=(.*)" % rport, log)
    check(rl and "reset" in rl.group(1).lower(), "reason of a reset: %s" % (rl and rl.group(1)))
    check(re.search(r"^\d\d:\d\d:\d\d accept", log, re.M), "log lines carry a time stamp")


def test_without_v_no_accept_lines():
    port = free_port()
    with Server("echo", "tcp://127.0.0.1:%d" % port) as srv:
        s = client(port)
        check(echo_ok(s, b"quiet"), "echo")
        s.close()
        time.sleep(0.2)
        log = srv.log()
    check(" accept fd=" not in log and " close fd=" not in log,
          "no per-connection lines without -v:\n%s" % log)


if __name__ == "__main__":
    main()
