"""test_services.py — every built-in service (echo, upper, greet, discard) on
every transport (TCP IPv4, TCP IPv6, unix path, unix abstract, UDP, unixgram),
talked to by plain Python socket clients; replies are checked byte for byte."""
import os
import socket
import subprocess
import time

from harness import (SOCKIT, Server, abstract_name, check, check_eq, free_port, have_ipv6, main,
                     recv_exact, recv_until_eof, run_sockit, t, tmpdir)

GREETING = b"Thank you for connecting\r\n"
UTF8 = "hello World 123 été 你好 ß ünïcödé\n".encode()


class Endpoints:
    """One set of URLs for a server, plus how to reach each with a client."""

    def __init__(self):
        self.port = free_port(udp_too=True, v6_too=have_ipv6())
        d = tmpdir()
        self.path = os.path.join(d, "s.sock")
        self.gpath = os.path.join(d, "g.sock")
        self.cpath = d  # client datagram sockets are bound in here
        self.abstract = abstract_name()
        self.stream = [("tcp4", "tcp://127.0.0.1:%d" % self.port)]
        if have_ipv6():
            self.stream.append(("tcp6", "tcp://[::1]:%d" % self.port))
        self.stream += [("unix", "unix://" + self.path),
                        ("abstract", "unix://@" + self.abstract)]
        self.dgram = [("udp", "udp://127.0.0.1:%d" % self.port),
                      ("unixgram", "unixgram://" + self.gpath)]

    def urls(self):
        return [u for _, u in self.stream + self.dgram]

    def stream_socket(self, kind):
        """socket(); connect() the tutorial way for the given transport."""
        if kind == "tcp4":
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            addr = ("127.0.0.1", self.port)
        elif kind == "tcp6":
            s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
            addr = ("::1", self.port)
        elif kind == "unix":
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            addr = self.path
        else:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            addr = "\0" + self.abstract
        s.settimeout(t(10))
        s.connect(addr)
        return s

    def dgram_socket(self, kind):
        """(socket, server address); a unixgram client binds its own path so
        the server has somewhere to send the reply."""
        if kind == "udp":
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            addr = ("127.0.0.1", self.port)
        else:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            s.bind(os.path.join(self.cpath, "c%d.sock" % time.monotonic_ns()))
            addr = self.gpath
        s.settimeout(t(5))
        return s, addr


def stream_roundtrip(ep, kind, msg):
    s = ep.stream_socket(kind)
    s.sendall(msg)
    got = recv_exact(s, len(msg))
    s.shutdown(socket.SHUT_WR)
    rest, err = recv_until_eof(s)
    s.close()
    return got, rest, err


def dgram_roundtrip(ep, kind, msgs):
    """Sends each datagram and reads its reply; returns the replies."""
    s, addr = ep.dgram_socket(kind)
    replies = []
    try:
        for m in msgs:
            s.sendto(m, addr)
            try:
                data, frm = s.recvfrom(65536)
            except socket.timeout:
                data, frm = None, None
            replies.append(data)
            if data is not None:
                check_eq(frm, addr, "%s reply source address" % kind)
    finally:
        if kind == "unixgram":
            os.unlink(s.getsockname())
        s.close()
    return replies


def check_stream_service(ep, service, msg, want):
    for kind, url in ep.stream:
        got, rest, err = stream_roundtrip(ep, kind, msg)
        check_eq(got, want, "%s over %s (%s)" % (service, kind, url))
        check(err is None and rest == b"", "%s over %s: after our half-close want clean EOF, "
              "got extra %r, error %r" % (service, kind, rest[:100], err))


def check_dgram_service(ep, service, msgs, wants):
    for kind, url in ep.dgram:
        got = dgram_roundtrip(ep, kind, msgs)
        check_eq(got, wants, "%s over %s (%s)" % (service, kind, url))


def test_echo_everywhere():
    ep = Endpoints()
    with Server("echo", *ep.urls()):
        msg = b"hello, sockit\n" + bytes(range(256))
        check_stream_service(ep, "echo", msg, msg)
        # datagrams are never sticky: three datagrams, three exact replies
        msgs = [b"one", b"two two", UTF8]
        check_dgram_service(ep, "echo", msgs, msgs)


def test_echo_large_stream():
    ep = Endpoints()
    with Server("echo", *ep.urls()):
        big = os.urandom(300 * 1024)
        for kind, _ in ep.stream:
            got, rest, err = stream_roundtrip(ep, kind, big)
            check(got == big, "echo of 300 KiB over %s: got %d bytes, identical=%s"
                  % (kind, len(got), got == big))


def test_upper_everywhere():
    ep = Endpoints()
    with Server("upper", *ep.urls()):
        want = UTF8.upper()  # bytes.upper() changes ASCII letters only
        check_eq(want, b"HELLO WORLD 123 \xc3\xa9T\xc3\xa9 \xe4\xbd\xa0\xe5\xa5\xbd \xc3\x9f "
                 b"\xc3\xbcN\xc3\xafC\xc3\xb6D\xc3\xa9\n", "test expectation")
        check_stream_service(ep, "upper", UTF8, want)
        check_dgram_service(ep, "upper", [b"abc xyz", UTF8, b"MiXeD 42!"],
                            [b"ABC XYZ", want, b"MIXED 42!"])


def test_upper_all_bytes():
    ep = Endpoints()
    with Server("upper", ep.stream[0][1]):
        msg = bytes(range(256))
        want = bytes(b - 32 if 97 <= b <= 122 else b for b in msg)
        got, _, _ = stream_roundtrip(ep, "tcp4", msg)
        check_eq(got, want, "upper of all 256 byte values")


def test_greet_default_everywhere():
    ep = Endpoints()
    with Server("greet", *ep.urls()):
        for kind, url in ep.stream:
            s = ep.stream_socket(kind)
            data, err = recv_until_eof(s)  # greeting, then the server closes
            s.close()
            check_eq(data, GREETING, "greet over %s" % kind)
            check(err is None, "greet over %s: error %r instead of EOF" % (kind, err))
        check_dgram_service(ep, "greet", [b"hi", b"hi again"], [GREETING, GREETING])


def test_greet_custom_text():
    ep = Endpoints()
    text = "Welcome to sockit, ünïcödé!\n"
    with Server("greet", *ep.urls(), "--text", text):
        for kind, url in ep.stream:
            s = ep.stream_socket(kind)
            data, err = recv_until_eof(s)
            s.close()
            check_eq(data, text.encode(), "custom greeting over %s" % kind)
        check_dgram_service(ep, "greet", [b"x"], [text.encode()])


def test_greet_client_that_sends_first():
    """A client that talks before reading still gets the greeting whole."""
    ep = Endpoints()
    with Server("greet", ep.stream[0][1]):
        s = ep.stream_socket("tcp4")
        s.sendall(b"hello?\n")
        data, err = recv_until_eof(s)
        s.close()
        check(data == GREETING, "greeting after the client spoke first: %r (err %r)" % (data, err))


def test_discard_everywhere():
    ep = Endpoints()
    with Server("discard", *ep.urls()) as srv:
        for kind, url in ep.stream:
            s = ep.stream_socket(kind)
            s.sendall(os.urandom(200 * 1024))
            s.shutdown(socket.SHUT_WR)
            data, err = recv_until_eof(s)
            s.close()
            check(data == b"" and err is None, "discard over %s: want silent EOF, got %r / %r"
                  % (kind, data[:100], err))
        for kind, url in ep.dgram:
            s, addr = ep.dgram_socket(kind)
            s.settimeout(0.5)
            s.sendto(b"into the void", addr)
            try:
                data = s.recv(100)
            except socket.timeout:
                data = None
            check(data is None, "discard over %s replied %r" % (kind, data))
            if kind == "unixgram":
                os.unlink(s.getsockname())
            s.close()
        # the server is still alive and serving after all that
        check(srv.proc.poll() is None, "discard server died")


def test_unix_path_removed_on_exit():
    ep = Endpoints()
    with Server("echo", "unix://" + ep.path, "unixgram://" + ep.gpath):
        check(os.path.exists(ep.path), "unix socket path exists while serving")
    check(not os.path.exists(ep.path), "unix socket path %s left behind after exit" % ep.path)
    check(not os.path.exists(ep.gpath), "unixgram path %s left behind after exit" % ep.gpath)


def test_unix_stale_socket_replaced():
    """A socket file left by a crashed server is replaced."""
    path = os.path.join(tmpdir(), "stale.sock")
    old = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old.bind(path)
    old.close()  # the file stays, nobody listens
    with Server("echo", "unix://" + path):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(t(5))
        s.connect(path)
        s.sendall(b"fresh")
        check_eq(recv_exact(s, 5), b"fresh", "echo on a replaced stale socket")
        s.close()


def test_unix_live_socket_refused():
    """A second server on a path in use fails (exit 1, one line) and does
    not steal or remove the first server's socket."""
    path = os.path.join(tmpdir(), "live.sock")
    with Server("echo", "unix://" + path):
        r = run_sockit(["serve", "echo", "unix://" + path], timeout=10)
        check_eq(r.returncode, 1, "second server on a live unix path: exit status")
        check(r.stderr.count(b"\n") == 1 and path.encode() in r.stderr,
              "one stderr line naming the path: %r" % r.stderr)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(t(5))
        s.connect(path)
        s.sendall(b"first")
        check_eq(recv_exact(s, 5), b"first", "the first server still owns its socket")
        s.close()


def test_unix_path_that_is_a_regular_file_is_not_deleted():
    """Binding over an existing regular file must fail, never delete it."""
    for scheme in ("unix", "unixgram"):
        path = os.path.join(tmpdir(), "precious.txt")
        with open(path, "w") as f:
            f.write("user data\n")
        try:
            # not under valgrind: a plain run, killed after 3 s if it bound
            rc = subprocess.run([SOCKIT, "serve", "echo", scheme + "://" + path],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                timeout=3).returncode
        except subprocess.TimeoutExpired:
            rc = "still running (it bound the path)"
        check(rc == 1, "serve on %s over a regular file: exit status %s, want 1" % (scheme, rc))
        check(os.path.isfile(path) and open(path).read() == "user data\n",
              "the regular file %s was deleted or changed by sockit serve %s://"
              % (path, scheme))


def test_wildcard_host_reachable_on_loopback():
    port = free_port(udp_too=True, v6_too=have_ipv6())
    with Server("upper", "tcp://*:%d" % port, "udp://*:%d" % port):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(t(5))
        s.connect(("127.0.0.1", port))
        s.sendall(b"star")
        check_eq(recv_exact(s, 4), b"STAR", "tcp://* via 127.0.0.1")
        s.close()
        if have_ipv6():
            s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
            s.settimeout(t(5))
            s.connect(("::1", port))
            s.sendall(b"six")
            check_eq(recv_exact(s, 3), b"SIX", "tcp://* via ::1")
            s.close()
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.settimeout(t(5))
        u.sendto(b"dgram", ("127.0.0.1", port))
        check_eq(u.recvfrom(100)[0], b"DGRAM", "udp://* via 127.0.0.1")
        u.close()


def test_concurrent_transports():
    """Clients on every transport connected at the same time, interleaved."""
    ep = Endpoints()
    with Server("upper", *ep.urls()):
        socks = [(kind, ep.stream_socket(kind)) for kind, _ in ep.stream]
        for i in range(5):
            for kind, s in socks:
                msg = ("%s message %d\n" % (kind, i)).encode()
                s.sendall(msg)
                check_eq(recv_exact(s, len(msg)), msg.upper(), "interleaved %s #%d" % (kind, i))
        for _, s in socks:
            s.close()


if __name__ == "__main__":
    main()
