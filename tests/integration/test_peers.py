"""test_peers.py — interop with socat and ncat in both directions: they talk
to `sockit serve`, and `sockit connect` talks to servers they run (TCP, UDP,
unix)."""
import os
import shutil
import subprocess

from harness import (Server, abstract_name, check, check_eq, free_port, main, run_connect, t,
                     tmpdir, wait_for)

HAVE_SOCAT = shutil.which("socat") is not None
HAVE_NCAT = shutil.which("ncat") is not None


def run(cmd, input=b"", timeout=10):
    return subprocess.run(cmd, input=input, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=t(timeout))


def listening(port, proto="tcp"):
    """True once something listens on (tcp) / is bound to (udp) port, read
    from /proc/net so that checking does not consume an accept."""
    want_state = "0A" if proto == "tcp" else "07"
    for name in (proto, proto + "6"):
        try:
            with open("/proc/net/" + name) as f:
                next(f)
                for line in f:
                    parts = line.split()
                    if int(parts[1].rsplit(":", 1)[1], 16) == port and parts[3] == want_state:
                        return True
        except FileNotFoundError:
            pass
    return False


class Peer:
    """A peer server process (socat/ncat), killed on exit."""

    def __init__(self, cmd, port=None, proto="tcp", path=None, stdin=subprocess.DEVNULL):
        self.cmd, self.port, self.proto, self.path, self.stdin = cmd, port, proto, path, stdin

    def __enter__(self):
        self.proc = subprocess.Popen(self.cmd, stdin=self.stdin, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        if self.port:
            ready = wait_for(lambda: listening(self.port, self.proto), 5)
        else:
            ready = wait_for(lambda: os.path.exists(self.path), 5)
        if not ready:
            self.proc.kill()
            raise RuntimeError("peer %r did not start: %r" % (self.cmd, self.proc.communicate()))
        return self

    def output(self, timeout=5):
        """Waits for the peer to exit and returns (rc, stdout, stderr)."""
        try:
            out, err = self.proc.communicate(timeout=t(timeout))
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, err = self.proc.communicate()
        return self.proc.returncode, out, err

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.communicate()
        return False


# ------------------------------------------------------------ peers as clients

def test_socat_client_upper():
    if not check(HAVE_SOCAT, "socat is not installed"):
        return
    port = free_port()
    with Server("upper", "tcp://127.0.0.1:%d" % port):
        r = run(["socat", "-", "TCP:127.0.0.1:%d" % port], input=b"hello from socat\n")
        check_eq(r.returncode, 0, "socat exit status")
        check_eq(r.stdout, b"HELLO FROM SOCAT\n", "socat got the upper-cased line")
        data = os.urandom(200 * 1024)
        r = run(["socat", "-t", "5", "-", "TCP:127.0.0.1:%d" % port], input=data)
        check(r.stdout == data.upper(), "200 KiB through upper via socat: %d bytes, identical=%s"
              % (len(r.stdout), r.stdout == data.upper()))


def test_socat_client_framed_line():
    if not check(HAVE_SOCAT, "socat is not installed"):
        return
    port = free_port()
    with Server("upper", "tcp://127.0.0.1:%d" % port, "--frame", "line"):
        r = run(["socat", "-", "TCP:127.0.0.1:%d" % port], input=b"one\r\ntwo\nthree\n")
        check_eq(r.stdout, b"ONE\nTWO\nTHREE\n", "line-framed replies via socat")


def test_socat_client_unix_and_abstract():
    if not check(HAVE_SOCAT, "socat is not installed"):
        return
    path = os.path.join(tmpdir(), "s.sock")
    name = abstract_name()
    with Server("echo", "unix://" + path, "unix://@" + name):
        r = run(["socat", "-", "UNIX-CONNECT:" + path], input=b"via unix path\n")
        check_eq(r.stdout, b"via unix path\n", "socat UNIX-CONNECT")
        r = run(["socat", "-", "ABSTRACT-CONNECT:" + name], input=b"via abstract\n")
        check_eq(r.stdout, b"via abstract\n", "socat ABSTRACT-CONNECT")


def test_socat_client_udp():
    if not check(HAVE_SOCAT, "socat is not installed"):
        return
    port = free_port()
    with Server("upper", "udp://127.0.0.1:%d" % port):
        r = run(["socat", "-", "UDP:127.0.0.1:%d" % port], input=b"hello udp\n")
        check_eq(r.stdout, b"HELLO UDP\n", "socat UDP reply")
    with Server("greet", "udp://127.0.0.1:%d" % port):
        r = run(["socat", "-", "UDP:127.0.0.1:%d" % port], input=b"hi\n")
        check_eq(r.stdout, b"Thank you for connecting\r\n", "greet over UDP via socat")


def test_ncat_client_greet():
    if not check(HAVE_NCAT, "ncat is not installed"):
        return
    port = free_port()
    with Server("greet", "tcp://127.0.0.1:%d" % port):
        r = run(["ncat", "--recv-only", "127.0.0.1", str(port)])
        check_eq(r.returncode, 0, "ncat --recv-only exit status")
        check_eq(r.stdout, b"Thank you for connecting\r\n", "ncat --recv-only got the greeting")
        r = run(["ncat", "127.0.0.1", str(port)], input=b"")
        check_eq(r.stdout, b"Thank you for connecting\r\n", "ncat got the greeting")


def test_ncat_client_upper():
    if not check(HAVE_NCAT, "ncat is not installed"):
        return
    port = free_port()
    with Server("upper", "tcp://127.0.0.1:%d" % port):
        r = run(["ncat", "127.0.0.1", str(port)], input=b"ab\ncd\n")
        check_eq(r.returncode, 0, "ncat exit status")
        check_eq(r.stdout, b"AB\nCD\n", "ncat upper replies")


def test_ncat_client_udp():
    """ncat -u quits at stdin EOF, so stdin stays open until the reply."""
    if not check(HAVE_NCAT, "ncat is not installed"):
        return
    port = free_port()
    with Server("echo", "udp://127.0.0.1:%d" % port):
        proc = subprocess.Popen(["ncat", "-u", "127.0.0.1", str(port)], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            proc.stdin.write(b"dgram\n")
            proc.stdin.flush()
            os.set_blocking(proc.stdout.fileno(), False)
            got = wait_for(lambda: proc.stdout.read() or b"", 5)
        finally:
            proc.kill()
            proc.communicate()
        check_eq(got, b"dgram\n", "ncat -u echo reply")


# ------------------------------------------------------------ peers as servers

def test_connect_to_socat_echo():
    if not check(HAVE_SOCAT, "socat is not installed"):
        return
    port = free_port()
    with Peer(["socat", "TCP-LISTEN:%d,bind=127.0.0.1,reuseaddr,fork" % port, "EXEC:cat"],
              port=port):
        data = os.urandom(512 * 1024)
        r = run_connect(["tcp://127.0.0.1:%d" % port], input=data, timeout=30)
        check_eq(r.returncode, 0, "sockit connect to socat exit status (stderr %r)" % r.stderr)
        check(r.stdout == data, "512 KiB through socat EXEC:cat: %d bytes, identical=%s"
              % (len(r.stdout), r.stdout == data))
        r = run_connect(["tcp://127.0.0.1:%d" % port, "--send", "ping"])
        check_eq(r.stdout, b"ping", "--send to socat")
        r = run_connect(["tcp://127.0.0.1:%d" % port, "--frame", "line"], input=b"a\nb\nc\n")
        check_eq(r.stdout, b"a\nb\nc\n", "line mode to socat")


def test_connect_to_socat_unix():
    if not check(HAVE_SOCAT, "socat is not installed"):
        return
    path = os.path.join(tmpdir(), "peer.sock")
    with Peer(["socat", "UNIX-LISTEN:%s,fork" % path, "EXEC:cat"], path=path):
        r = run_connect(["unix://" + path], input=b"unix peer\n")
        check_eq(r.stdout, b"unix peer\n", "sockit connect to socat UNIX-LISTEN")


def test_connect_to_socat_udp():
    if not check(HAVE_SOCAT, "socat is not installed"):
        return
    port = free_port()
    with Peer(["socat", "-T", "5", "UDP-LISTEN:%d,bind=127.0.0.1" % port, "EXEC:cat"],
              port=port, proto="udp"):
        r = run_connect(["udp://127.0.0.1:%d" % port, "--send", "hello socat udp"])
        check_eq(r.returncode, 0, "udp to socat exit status (stderr %r)" % r.stderr)
        check_eq(r.stdout, b"hello socat udp\n", "udp reply from socat")


def test_connect_to_ncat_exec_cat():
    """ncat --exec drops output when its client half-closes early, so this
    uses line mode, where sockit waits for every reply before closing."""
    if not check(HAVE_NCAT, "ncat is not installed"):
        return
    port = free_port()
    with Peer(["ncat", "-l", "-k", "127.0.0.1", str(port), "--exec", "/bin/cat"], port=port):
        lines = b"".join(b"line %d\n" % i for i in range(100))
        r = run_connect(["tcp://127.0.0.1:%d" % port, "--frame", "line"], input=lines)
        check_eq(r.returncode, 0, "connect to ncat exit status (stderr %r)" % r.stderr)
        check_eq(r.stdout, lines, "100 lines through ncat --exec cat")
        r = run_connect(["tcp://127.0.0.1:%d" % port, "--frame", "line", "--send", "x",
                         "--send", "y z"])
        check_eq(r.stdout, b"x\ny z\n", "--send to ncat")


def test_connect_to_ncat_listen_one_shot():
    """T1 with ncat -l as the server: the operator's reply comes from ncat's
    stdin (typed ahead here), the client's message shows up on ncat's
    stdout, and both sides end cleanly."""
    if not check(HAVE_NCAT, "ncat is not installed"):
        return
    port = free_port()
    r_fd, w_fd = os.pipe()
    os.write(w_fd, b"reply from ncat\n")
    os.close(w_fd)
    with Peer(["ncat", "-l", "127.0.0.1", str(port)], port=port, stdin=r_fd) as peer:
        os.close(r_fd)
        r = run_connect(["tcp://127.0.0.1:%d" % port, "--send", "hi from sockit"])
        rc, pout, perr = peer.output()
        check_eq(r.returncode, 0, "sockit connect exit status (stderr %r)" % r.stderr)
        check_eq(r.stdout, b"reply from ncat\n", "sockit printed ncat's reply")
        check_eq(pout, b"hi from sockit", "ncat printed what sockit sent")


def test_connect_to_ncat_udp():
    if not check(HAVE_NCAT, "ncat is not installed"):
        return
    port = free_port()
    with Peer(["ncat", "-u", "-l", "127.0.0.1", str(port), "--exec", "/bin/cat"],
              port=port, proto="udp"):
        r = run_connect(["udp://127.0.0.1:%d" % port, "--send", "hello ncat udp"])
        check_eq(r.stdout, b"hello ncat udp\n", "udp reply from ncat")


if __name__ == "__main__":
    main()
