"""test_tutorial_servers.py — sockit as the *client* of tutorial-style Python
servers (T2 greeting, T3 uppercase with the REPL on a terminal, T7 UDP, UNIX
and IPv6): the other direction of the tutorials' pairs."""
import os
import pty
import select
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
from harness import (SOCKIT, check, check_eq, have_ipv6, main, run_connect, t,  # noqa: E402
                     tmpdir)


def serve_in_thread(fn):
    th = threading.Thread(target=fn, daemon=True)
    th.start()
    return th


def t2_greeting_server(sock, clients):
    """T2: accept in a loop, send the greeting, close."""
    for _ in range(clients):
        conn, _ = sock.accept()
        conn.send(b"Thank you for connecting\r\n")
        conn.close()
    sock.close()


def t3_upper_server(sock):
    """T3: connection loop + communication loop; an empty read ends a client."""
    conn, _ = sock.accept()
    while True:
        data = conn.recv(1024)
        if not data:
            break
        conn.send(data.upper())
    conn.close()
    sock.close()


def listening(family=socket.AF_INET, addr=("127.0.0.1", 0), kind=socket.SOCK_STREAM):
    s = socket.socket(family, kind)
    s.bind(addr)
    if kind == socket.SOCK_STREAM:
        s.listen(5)
    return s


def test_t2_sockit_connect_prints_greeting_of_python_server():
    s = listening()
    port = s.getsockname()[1]
    serve_in_thread(lambda: t2_greeting_server(s, 3))
    for _ in range(3):
        r = run_connect(["tcp://127.0.0.1:%d" % port])
        check_eq(r.returncode, 0, "exit status (stderr %r)" % r.stderr)
        check_eq(r.stdout, b"Thank you for connecting\r\n", "greeting printed as received")


def test_t3_repl_on_a_terminal_against_python_upper_server():
    s = listening()
    port = s.getsockname()[1]
    serve_in_thread(lambda: t3_upper_server(s))
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(SOCKIT, [SOCKIT, "connect", "tcp://127.0.0.1:%d" % port])
    out = b""

    def read_until(token, secs=5):
        nonlocal out
        deadline = time.monotonic() + t(secs)
        while token not in out and time.monotonic() < deadline:
            r, _, _ = select.select([fd], [], [], 0.1)
            if r:
                try:
                    out += os.read(fd, 4096)
                except OSError:
                    break
        return token in out

    check(read_until(b">> "), "prompt '>> ' shown, got %r" % out)
    os.write(fd, b"hello tutorial\n")
    check(read_until(b"HELLO TUTORIAL"), "reply printed, got %r" % out)
    os.write(fd, b"\n")  # an empty line is skipped, not sent
    os.write(fd, b"second\n")
    check(read_until(b"SECOND"), "second reply, got %r" % out)
    os.write(fd, b"\x04")  # Ctrl-D ends the client
    _, status = os.waitpid(pid, 0)
    check_eq(os.waitstatus_to_exitcode(status), 0, "exit status after Ctrl-D")
    os.close(fd)


def test_t7_udp_python_server():
    s = listening(kind=socket.SOCK_DGRAM)
    port = s.getsockname()[1]

    def udp_upper():
        for _ in range(2):
            data, peer = s.recvfrom(1024)
            s.sendto(data.upper(), peer)
        s.close()
    serve_in_thread(udp_upper)
    r = run_connect(["udp://127.0.0.1:%d" % port], input=b"one\ntwo\n")
    check_eq(r.returncode, 0, "exit status (stderr %r)" % r.stderr)
    check_eq(r.stdout, b"ONE\nTWO\n", "one reply line per datagram")


def test_t7_unix_python_server():
    path = os.path.join(tmpdir(), "upper.sock")
    s = listening(socket.AF_UNIX, path)
    serve_in_thread(lambda: t3_upper_server(s))
    r = run_connect(["unix://" + path, "--send", "via unix"])
    check_eq(r.returncode, 0, "exit status (stderr %r)" % r.stderr)
    check_eq(r.stdout, b"VIA UNIX", "reply over a unix stream socket")


def test_t7_ipv6_python_server():
    if not have_ipv6():
        print("    no IPv6 loopback here")
        return
    s = listening(socket.AF_INET6, ("::1", 0))
    port = s.getsockname()[1]
    serve_in_thread(lambda: t3_upper_server(s))
    r = run_connect(["tcp://[::1]:%d" % port, "--send", "via v6"])
    check_eq(r.returncode, 0, "exit status (stderr %r)" % r.stderr)
    check_eq(r.stdout, b"VIA V6", "reply over IPv6")


if __name__ == "__main__":
    main()
