"""test_connect.py — `sockit connect` as a client: piped stdin (raw byte
stream and lines), repeatable --send, framing options, UDP and unix
endpoints, --wait, exit statuses and error lines, the help/version
commands, and a plain tutorial-style Python server as the peer."""
import os
import re
import socket
import struct
import threading
import time

from harness import (Server, abstract_name, check, check_eq, free_port, main, run_connect,
                     run_sockit, t, tmpdir)


def ok(r, what):
    """Checks exit 0 and an empty stderr."""
    return check(r.returncode == 0, "%s: exit %d, stderr %r" % (what, r.returncode, r.stderr)) and \
        check(r.stderr == b"", "%s: unexpected stderr %r" % (what, r.stderr))


def one_line(err):
    text = err.decode("utf-8", "replace")
    return text.endswith("\n") and text.count("\n") == 1


# ------------------------------------------------------------ piped stdin

def test_raw_stream_1mb_through_echo():
    port = free_port()
    data = os.urandom(1 << 20)
    with Server("echo", "tcp://127.0.0.1:%d" % port):
        r = run_connect(["tcp://127.0.0.1:%d" % port], input=data, timeout=30)
        ok(r, "1 MB raw")
        check(r.stdout == data, "1 MB through echo: got %d bytes, identical=%s"
              % (len(r.stdout), r.stdout == data))


def test_raw_stream_through_upper_unix():
    d = tmpdir()
    path = os.path.join(d, "u.sock")
    data = b"line one\nline two\n" * 5000 + b"tail without newline"
    with Server("upper", "unix://" + path):
        r = run_connect(["unix://" + path], input=data, timeout=30)
        ok(r, "raw over unix")
        check(r.stdout == data.upper(), "raw upper over unix: %d bytes, identical=%s"
              % (len(r.stdout), r.stdout == data.upper()))


def test_raw_stream_abstract():
    name = abstract_name()
    with Server("echo", "unix://@" + name):
        r = run_connect(["unix://@" + name], input=b"abstract hello\n")
        ok(r, "abstract")
        check_eq(r.stdout, b"abstract hello\n", "echo over an abstract socket")


def test_line_mode_lines():
    port = free_port()
    with Server("upper", "tcp://127.0.0.1:%d" % port, "--frame", "line"):
        start = time.monotonic()
        r = run_connect(["tcp://127.0.0.1:%d" % port, "--frame", "line"],
                        input=b"hello\nworld\r\nsockit\n")
        took = time.monotonic() - start
        ok(r, "line mode")
        check_eq(r.stdout, b"HELLO\nWORLD\nSOCKIT\n", "line mode replies")
        # framed mode ends as soon as every message has its reply (no --wait)
        check(took < t(1.5), "line mode took %.1fs: it should not wait for --wait" % took)


def test_line_mode_many_lines():
    port = free_port()
    lines = [("line %d " % i).encode() * 10 for i in range(2000)]
    with Server("echo", "tcp://127.0.0.1:%d" % port, "--frame", "line"):
        r = run_connect(["tcp://127.0.0.1:%d" % port, "--frame", "line"],
                        input=b"\n".join(lines) + b"\n", timeout=30)
        ok(r, "2000 lines")
        check(r.stdout == b"\n".join(lines) + b"\n", "2000 lines echoed in order (%d bytes)"
              % len(r.stdout))


def test_len32le_piped_lines():
    port = free_port()
    with Server("upper", "tcp://127.0.0.1:%d" % port, "--frame", "len32le"):
        r = run_connect(["tcp://127.0.0.1:%d" % port, "--frame", "len32le"],
                        input=b"one\ntwo\nthree\n")
        ok(r, "len32le lines")
        check_eq(r.stdout, b"ONE\nTWO\nTHREE\n", "len32le replies, one per line")


def test_ipv6_and_wildcard():
    port = free_port(v6_too=True)
    with Server("upper", "tcp://[::1]:%d" % port):
        r = run_connect(["tcp://[::1]:%d" % port], input=b"over ipv6\n")
        ok(r, "ipv6")
        check_eq(r.stdout, b"OVER IPV6\n", "upper over [::1]")


# ------------------------------------------------------------ --send

def test_send_repeatable_framed():
    port = free_port()
    with Server("upper", "tcp://127.0.0.1:%d" % port, "--frame", "len16be"):
        r = run_connect(["tcp://127.0.0.1:%d" % port, "--frame", "len16be",
                         "--send", "hello", "--send", "big world", "--send", "3"])
        ok(r, "--send x3")
        check_eq(r.stdout, b"HELLO\nBIG WORLD\n3\n", "three --send replies")


def test_send_raw_echo():
    port = free_port()
    with Server("echo", "tcp://127.0.0.1:%d" % port):
        r = run_connect(["tcp://127.0.0.1:%d" % port, "--send", "just this"])
        ok(r, "--send raw")
        check_eq(r.stdout, b"just this", "raw --send reply, printed as is")


def test_t5_client_options():
    """Server is T5 (raw in, len32le out); the client mirrors it."""
    port = free_port()
    with Server("upper", "tcp://127.0.0.1:%d" % port, "--in-frame", "raw",
                "--out-frame", "len32le"):
        r = run_connect(["tcp://127.0.0.1:%d" % port, "--out-frame", "raw",
                         "--in-frame", "len32le", "--send", "ls -l"])
        ok(r, "T5 client")
        check_eq(r.stdout, b"LS -L\n", "T5 reply decoded from its 4-byte header")


def test_client_in_raw_out_len32le():
    """The client frames what it sends (len32le) and prints raw replies; a
    server with --in-frame len32le --out-frame raw strips the headers."""
    port = free_port()
    with Server("echo", "tcp://127.0.0.1:%d" % port, "--in-frame", "len32le",
                "--out-frame", "raw"):
        r = run_connect(["tcp://127.0.0.1:%d" % port, "--in-frame", "raw",
                         "--out-frame", "len32le", "--send", "abc", "--send", "def"])
        ok(r, "client out-frame len32le")
        check_eq(r.stdout, b"abcdef", "headers stripped by the server, raw replies")


# ------------------------------------------------------------ datagrams

def test_udp_send_and_lines():
    port = free_port()
    with Server("upper", "udp://127.0.0.1:%d" % port):
        r = run_connect(["udp://127.0.0.1:%d" % port, "--send", "one", "--send", "two"])
        ok(r, "udp --send")
        check_eq(r.stdout, b"ONE\nTWO\n", "udp --send replies")
        r = run_connect(["udp://127.0.0.1:%d" % port], input=b"alpha\nbeta\ngamma\n")
        ok(r, "udp lines")
        check_eq(r.stdout, b"ALPHA\nBETA\nGAMMA\n", "one datagram per line")


def test_unixgram_send():
    d = tmpdir()
    path = os.path.join(d, "g.sock")
    with Server("echo", "unixgram://" + path):
        r = run_connect(["unixgram://" + path, "--send", "over unixgram", "--send", "again"])
        ok(r, "unixgram --send")
        check_eq(r.stdout, b"over unixgram\nagain\n", "unixgram replies")


def test_udp_no_server_does_not_hang():
    """UDP to a port nobody listens on: either an error (ICMP port
    unreachable -> exit 1) or silence until --wait; never a hang."""
    port = free_port()
    start = time.monotonic()
    r = run_connect(["udp://127.0.0.1:%d" % port, "--send", "anyone?", "--wait", "1"])
    took = time.monotonic() - start
    check(took < t(5), "udp to nobody took %.1fs" % took)
    check(r.returncode in (0, 1), "udp to nobody: exit %d" % r.returncode)
    if r.returncode == 1:
        check(one_line(r.stderr) and b"udp://127.0.0.1:%d" % port in r.stderr,
              "udp error names the endpoint in one line: %r" % r.stderr)


# ------------------------------------------------------------ exit statuses

def test_refused_exit_1():
    port = free_port()
    url = "tcp://127.0.0.1:%d" % port
    r = run_connect([url, "--send", "x"])
    check_eq(r.returncode, 1, "exit status for a refused connection")
    check(one_line(r.stderr), "one stderr line, got %r" % r.stderr)
    check(url.encode() in r.stderr, "stderr names %s: %r" % (url, r.stderr))
    check(b"refused" in r.stderr.lower(), "stderr says refused: %r" % r.stderr)
    check_eq(r.stdout, b"", "stdout on refusal")
    # piped stdin, same outcome
    r = run_connect([url], input=b"data\n")
    check_eq(r.returncode, 1, "refused with piped stdin")
    d = tmpdir()
    url = "unix://" + os.path.join(d, "nobody.sock")
    r = run_connect([url, "--send", "x"])
    check_eq(r.returncode, 1, "exit status for a missing unix socket")
    check(one_line(r.stderr) and url.encode() in r.stderr, "unix error line: %r" % r.stderr)


def test_unresolvable_host_exit_1():
    url = "tcp://no-such-host.invalid:80"
    r = run_connect([url, "--send", "x"], timeout=30)
    check_eq(r.returncode, 1, "exit status for an unknown host")
    check(one_line(r.stderr) and url.encode() in r.stderr, "stderr: %r" % r.stderr)


def test_bad_urls_exit_2():
    for url in ("tcp://127.0.0.1", "ftp://x:1", "tcp://127.0.0.1:99999", "tcp://127.0.0.1:0",
                "unix://relative/path", "127.0.0.1:80", "tcp://:80x", "udp://[::1:80"):
        r = run_connect([url, "--send", "x"])
        check(r.returncode == 2, "bad URL %r: exit %d (want 2), stderr %r"
              % (url, r.returncode, r.stderr))
        check(one_line(r.stderr), "bad URL %r: want one stderr line, got %r" % (url, r.stderr))


def test_usage_errors_exit_2():
    port = free_port()
    cases = [
        ["connect", "tcp://127.0.0.1:%d" % port, "--bogus"],
        ["connect"],
        ["connect", "tcp://127.0.0.1:%d" % port, "--frame", "nosuch"],
        ["connect", "tcp://127.0.0.1:%d" % port, "--wait", "soon"],
        ["connect", "tcp://127.0.0.1:%d" % port, "--send"],
        ["nosuchcommand"],
        ["serve", "nosuchservice", "tcp://127.0.0.1:%d" % port],
        ["serve", "echo", "tcp://127.0.0.1:%d" % port, "--max-frame", "lots"],
        ["serve", "echo", "ftp://127.0.0.1:%d" % port],
    ]
    for args in cases:
        r = run_sockit(args)
        check(r.returncode == 2, "sockit %s: exit %d (want 2)" % (" ".join(args), r.returncode))
        check(one_line(r.stderr), "sockit %s: want one stderr line, got %r"
              % (" ".join(args), r.stderr))


def test_help_and_version():
    r = run_sockit(["--version"])
    check(r.returncode == 0 and re.search(rb"sockit \d+\.\d+", r.stdout),
          "--version: %d %r" % (r.returncode, r.stdout))
    for args in (["help"], ["--help"], ["serve", "--help"], ["connect", "--help"],
                 ["help", "serve"], ["help", "connect"]):
        r = run_sockit(args)
        check(r.returncode == 0, "sockit %s: exit %d" % (" ".join(args), r.returncode))
        check(b"usage" in r.stdout.lower(), "sockit %s prints usage on stdout: %r"
              % (" ".join(args), r.stdout[:200]))
    r = run_sockit(["serve", "--help"])
    for word in (b"echo", b"upper", b"greet", b"discard", b"--frame", b"--max-frame"):
        check(word in r.stdout, "serve --help mentions %s" % word.decode())


# ------------------------------------------------------------ --wait

def silent_server():
    """Accepts one client, reads, never replies, never closes (until told)."""
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(5)
    stop = threading.Event()
    conns = []

    def run():
        srv.settimeout(t(10))
        try:
            conn, _ = srv.accept()
        except OSError:
            return
        conns.append(conn)
        stop.wait(t(20))
        conn.close()

    th = threading.Thread(target=run, daemon=True)
    th.start()
    return srv, stop, th


def test_wait_ends_a_silent_session():
    srv, stop, th = silent_server()
    port = srv.getsockname()[1]
    start = time.monotonic()
    r = run_connect(["tcp://127.0.0.1:%d" % port, "--send", "hello?", "--wait", "1"])
    took = time.monotonic() - start
    stop.set()
    th.join()
    srv.close()
    check_eq(r.returncode, 0, "exit after --wait with a silent server")
    check(0.8 <= took < t(4), "--wait 1 took %.2fs" % took)


# ------------------------------------------------------------ tutorial Python server

def tutorial_server(handler, clients=1):
    """socket(AF_INET, SOCK_STREAM); bind; listen(5); accept in a loop."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", 0))
    server.listen(5)
    server.settimeout(t(10))
    seen = []

    def run():
        for _ in range(clients):
            try:
                conn, addr = server.accept()
            except OSError:
                return
            conn.settimeout(t(10))
            try:
                seen.append(handler(conn))
            finally:
                conn.close()
        server.close()

    th = threading.Thread(target=run, daemon=True)
    th.start()
    return server.getsockname()[1], th, seen


def upper_once(conn):
    data = conn.recv(1024)
    conn.send(data.upper())
    return data


def upper_loop(conn):
    got = b""
    while True:
        data = conn.recv(1024)
        if not data:  # an empty read means the client left
            return got
        got += data
        conn.send(data.upper())


def test_python_server_send_once():
    port, th, seen = tutorial_server(upper_once)
    r = run_connect(["tcp://127.0.0.1:%d" % port, "--send", "hello server"])
    th.join(t(10))
    ok(r, "tutorial server")
    check_eq(seen, [b"hello server"], "what the Python server received")
    check_eq(r.stdout, b"HELLO SERVER", "reply from the Python server")


def test_python_server_loop_piped():
    port, th, seen = tutorial_server(upper_loop)
    data = b"some text for the tutorial server\n" * 300
    r = run_connect(["tcp://127.0.0.1:%d" % port], input=data)
    th.join(t(10))
    ok(r, "tutorial loop server")
    check_eq(seen, [data], "Python server got the whole stream then EOF")
    check(r.stdout == data.upper(), "upper-cased stream back (%d bytes)" % len(r.stdout))


def test_python_server_t5_framed_reply():
    """A T5-style Python server: reply with struct.pack('i', n) + body."""
    def t5(conn):
        cmd = conn.recv(1024)
        out = b"output of " + cmd
        conn.send(struct.pack("i", len(out)))
        time.sleep(0.05)  # header and body in separate segments
        conn.send(out)
        return cmd
    port, th, seen = tutorial_server(t5)
    r = run_connect(["tcp://127.0.0.1:%d" % port, "--in-frame", "len32le", "--out-frame", "raw",
                     "--send", "dir"])
    th.join(t(10))
    ok(r, "T5 Python server")
    check_eq(r.stdout, b"output of dir\n", "T5 reply read whole across two segments")


def test_python_server_reset_exit_1():
    """The peer resets the connection: a network error, exit 1, one line."""
    def reset(conn):
        data = conn.recv(1024)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        return data
    port, th, seen = tutorial_server(reset)
    url = "tcp://127.0.0.1:%d" % port
    # a framed client waits for a reply that never comes: the reset ends it
    r = run_connect([url, "--frame", "line", "--send", "hello"])
    th.join(t(10))
    check_eq(r.returncode, 1, "exit status after a reset")
    check(one_line(r.stderr) and url.encode() in r.stderr,
          "one stderr line naming %s: %r" % (url, r.stderr))
    check(b"reset" in r.stderr.lower(), "stderr says reset: %r" % r.stderr)


def test_bad_frames_from_the_server_exit_1():
    """A server that sends a bad header or cuts a frame: exit 1 with one
    stderr line naming the endpoint; nothing half-printed."""
    def bad_header(conn):
        conn.recv(1024)
        conn.sendall(struct.pack(">I", 0xFFFFFFF0))
    def cut_frame(conn):
        conn.recv(1024)
        conn.sendall(struct.pack(">I", 10) + b"abc")
    def huge_header(conn):
        conn.recv(1024)
        conn.sendall(struct.pack(">I", 5000) + b"x" * 100)
    for handler, extra, what in ((bad_header, [], "negative header"),
                                 (cut_frame, [], "cut frame"),
                                 (huge_header, ["--max-frame", "1000"], "header > --max-frame")):
        port, th, seen = tutorial_server(handler)
        url = "tcp://127.0.0.1:%d" % port
        r = run_connect([url, "--frame", "len32be", "--send", "x"] + extra)
        th.join(t(10))
        check_eq(r.returncode, 1, "%s: exit status" % what)
        check(one_line(r.stderr) and url.encode() in r.stderr,
              "%s: one stderr line naming %s: %r" % (what, url, r.stderr))
        check_eq(r.stdout, b"", "%s: stdout" % what)


if __name__ == "__main__":
    main()
