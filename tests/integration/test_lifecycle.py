"""test_lifecycle.py — a server's life and death: SIGTERM with data in flight
drains what was read back to the client, a server with many clients exits
cleanly, a stuck client is dropped after --drain-timeout, a second signal
exits at once, and SIGPIPE (peer reset while we write) never kills it."""
import os
import re
import signal
import socket
import struct
import subprocess
import time

from harness import (SOCKIT, Server, check, check_eq, free_port, main, recv_exact,
                     recv_until_eof, t, tmpdir)

SMALL_BUFS = ["--sndbuf", "65536", "--rcvbuf", "65536"]


def flood(s, data, stall=0.5):
    """Sends as much of data as the peer accepts until a send stalls for
    `stall` seconds (the server stopped reading: backpressure). Returns the
    number of bytes sent."""
    s.settimeout(stall)
    sent = 0
    try:
        while sent < len(data):
            sent += s.send(data[sent:sent + 65536])
    except socket.timeout:
        pass
    return sent


def small_client(port):
    """A client with a small receive buffer, so that a server that is not
    read from backs up quickly."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    s.settimeout(t(10))
    s.connect(("127.0.0.1", port))
    return s


def close_counts(log, cport):
    """(in, out) bytes from the server's -v close line for a client port."""
    m = re.search(r"close [^\n]*:%d [^\n]*in=(\d+) out=(\d+)" % cport, log)
    return (int(m.group(1)), int(m.group(2))) if m else (None, None)


def sigterm_with_data_in_flight(extra_args, what):
    port = free_port()
    data = os.urandom(4 << 20)
    srv = Server("echo", "tcp://127.0.0.1:%d" % port, "-v", "--drain-timeout", "5",
                 *extra_args).start()
    try:
        s = small_client(port)
        cport = s.getsockname()[1]
        sent = flood(s, data)
        srv.send_signal(signal.SIGTERM)
        time.sleep(0.3)  # the server has begun draining before we read
        s.settimeout(t(10))
        got, err = recv_until_eof(s)
        s.close()
        start = time.monotonic()
        rc = srv.wait_exit(t(5 + 5))
        took = time.monotonic() - start
    finally:
        log = srv.stop()
    check(rc == 0, "%s: server exit status %s after SIGTERM (within drain-timeout + 5 s)"
          % (what, rc))
    check(took < t(8), "%s: server took %.1fs to exit after the client read all" % (what, took))
    check(len(got) <= sent and data.startswith(got),
          "%s: the client got %d bytes that are not a prefix of the %d it sent"
          % (what, len(got), sent))
    n_in, n_out = close_counts(log, cport)
    if check(n_in is not None, "%s: no -v close line for the client:\n%s" % (what, log)):
        # every byte the server read was echoed, and must reach the client:
        # a graceful drain must not end in a reset that discards queued data
        check(len(got) == n_in, "%s: the server read %d bytes (logged out=%d) but the client "
              "received only %d (read error: %r) — echoed data lost at shutdown"
              % (what, n_in, n_out, len(got), err))


def test_sigterm_with_data_in_flight_default_buffers():
    sigterm_with_data_in_flight([], "default buffers")


def test_sigterm_with_data_in_flight_small_buffers():
    """Small server buffers: at SIGTERM the server has unread input in its
    kernel receive buffer and queued replies."""
    sigterm_with_data_in_flight(SMALL_BUFS, "small buffers")


def test_sigterm_many_clients():
    port = free_port()
    path = os.path.join(tmpdir(), "m.sock")
    srv = Server("upper", "tcp://127.0.0.1:%d" % port, "unix://" + path).start()
    clients = []
    try:
        for i in range(100):
            if i % 2:
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.connect(path)
            else:
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.connect(("127.0.0.1", port))
            s.settimeout(t(10))
            clients.append(s)
        for i, s in enumerate(clients):
            if i % 3 == 0:  # some have talked
                s.sendall(b"hi %d" % i)
                check_eq(recv_exact(s, len(b"hi %d" % i)), b"HI %d" % i, "client %d" % i)
            elif i % 3 == 1:  # some are half-closed
                s.shutdown(socket.SHUT_WR)
        start = time.monotonic()
        srv.send_signal(signal.SIGTERM)
        eofs = 0
        for s in clients:  # like real clients: see the EOF, close
            data, err = recv_until_eof(s)
            eofs += data == b"" and err is None
            s.close()
        rc = srv.wait_exit(t(5))
        took = time.monotonic() - start
        check_eq(eofs, 100, "clients that saw a clean EOF at shutdown")
        check(rc == 0, "server with 100 clients: exit status %s after SIGTERM" % rc)
        check(took < t(1.5), "server with 100 idle clients took %.1fs to exit" % took)
        check(not os.path.exists(path), "unix socket path removed at shutdown")
    finally:
        for s in clients:
            s.close()
        srv.stop()


def test_new_connections_refused_while_draining():
    port = free_port()
    srv = Server("echo", "tcp://127.0.0.1:%d" % port, "--drain-timeout", "3",
                 *SMALL_BUFS).start()
    try:
        stuck = small_client(port)
        flood(stuck, os.urandom(4 << 20))
        srv.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        check(srv.proc.poll() is None, "server still draining the stuck client")
        try:
            c = socket.create_connection(("127.0.0.1", port), timeout=t(2))
            c.close()
            refused = False
        except ConnectionRefusedError:
            refused = True
        check(refused, "a new connection during the drain should be refused "
              "(the listener is closed)")
        stuck.close()
    finally:
        srv.stop()


def test_drain_timeout_drops_a_stuck_client():
    port = free_port()
    srv = Server("echo", "tcp://127.0.0.1:%d" % port, "--drain-timeout", "1",
                 *SMALL_BUFS).start()
    try:
        stuck = small_client(port)
        flood(stuck, os.urandom(4 << 20))
        start = time.monotonic()
        srv.send_signal(signal.SIGTERM)
        rc = srv.wait_exit(t(1 + 5))
        took = time.monotonic() - start
        check(rc == 0, "exit status after the drain timeout: %s" % rc)
        check(0.8 <= took < t(1 + 3), "exit %.1fs after SIGTERM with --drain-timeout 1" % took)
        stuck.close()
    finally:
        log = srv.stop()
    check(re.search(r"drain|timeout", log, re.I), "the drop is logged: %s" % log)


def test_second_signal_exits_now():
    port = free_port()
    srv = Server("echo", "tcp://127.0.0.1:%d" % port, "--drain-timeout", "60",
                 *SMALL_BUFS).start()
    try:
        stuck = small_client(port)
        flood(stuck, os.urandom(4 << 20))
        srv.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        check(srv.proc.poll() is None, "still draining after one SIGTERM")
        start = time.monotonic()
        srv.send_signal(signal.SIGINT)
        rc = srv.wait_exit(t(5))
        check(rc is not None and time.monotonic() - start < t(3),
              "second signal: exit status %s, want a prompt exit" % rc)
        stuck.close()
    finally:
        srv.stop()


def test_sigint_drains_like_sigterm():
    port = free_port()
    srv = Server("greet", "tcp://127.0.0.1:%d" % port).start()
    s = socket.create_connection(("127.0.0.1", port), timeout=t(5))
    check_eq(recv_until_eof(s)[0], b"Thank you for connecting\r\n", "greeting")
    s.close()
    srv.send_signal(signal.SIGINT)
    check_eq(srv.wait_exit(t(5)), 0, "exit status after SIGINT")
    srv.stop()


def test_port_in_use_exit_1():
    port = free_port()
    with Server("echo", "tcp://127.0.0.1:%d" % port):
        url = "tcp://127.0.0.1:%d" % port
        r = subprocess.run([SOCKIT, "serve", "echo", url], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=t(10))
        check_eq(r.returncode, 1, "serve on a busy port: exit status")
        check(r.stderr.count(b"\n") == 1 and url.encode() in r.stderr
              and b"in use" in r.stderr.lower(),
              "one stderr line naming %s and 'in use': %r" % (url, r.stderr))


# ------------------------------------------------------------ SIGPIPE

def reset(s):
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()


def test_sigpipe_tcp_reset_during_large_reply():
    port = free_port()
    with Server("echo", "tcp://127.0.0.1:%d" % port, *SMALL_BUFS) as srv:
        data = os.urandom(2 << 20)
        for i in range(10):
            s = small_client(port)
            flood(s, data, stall=0.1)  # the server is writing a large reply
            reset(s)
            check(srv.proc.poll() is None, "server died after reset #%d (SIGPIPE?)" % i)
            if srv.proc.poll() is not None:
                return
        s = socket.create_connection(("127.0.0.1", port), timeout=t(5))
        s.sendall(b"still alive?")
        check_eq(recv_exact(s, 12), b"still alive?", "served after 10 resets")
        s.close()


def test_sigpipe_greet_large_text_to_resetting_clients():
    port = free_port()
    text = "x" * (100 << 10) + "\n"  # one argv string is limited to 128 KiB
    with Server("greet", "tcp://127.0.0.1:%d" % port, "--text", text, *SMALL_BUFS) as srv:
        for i in range(20):
            s = small_client(port)
            s.recv(1000)
            reset(s)
        time.sleep(0.2)
        check(srv.proc.poll() is None, "greet server died with resetting clients")
        s = socket.create_connection(("127.0.0.1", port), timeout=t(5))
        got, _ = recv_until_eof(s)
        s.close()
        check(got == text.encode(), "whole 100 KiB greeting after resets (%d bytes)" % len(got))


def test_sigpipe_unix_peer_gone():
    path = os.path.join(tmpdir(), "p.sock")
    with Server("echo", "unix://" + path) as srv:
        data = os.urandom(2 << 20)
        for i in range(10):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(path)
            flood(s, data, stall=0.1)
            s.close()  # unix: the server's next write gets EPIPE
        time.sleep(0.2)
        check(srv.proc.poll() is None, "server died when unix peers went away")
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(t(5))
        s.connect(path)
        s.sendall(b"ok?")
        check_eq(recv_exact(s, 3), b"ok?", "served after unix peers left")
        s.close()


def test_udp_replies_to_vanished_clients():
    """Replies to closed UDP ports (ICMP unreachable) do not kill or wedge
    the datagram endpoint."""
    port = free_port()
    with Server("echo", "udp://127.0.0.1:%d" % port) as srv:
        for i in range(20):
            u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            u.sendto(b"x" * 1000, ("127.0.0.1", port))
            u.close()
        time.sleep(0.2)
        check(srv.proc.poll() is None, "udp server died")
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.settimeout(t(5))
        for i in range(3):
            u.sendto(b"hello %d" % i, ("127.0.0.1", port))
            try:
                got = u.recvfrom(100)[0]
            except socket.timeout:
                got = None
            check_eq(got, b"hello %d" % i, "udp reply after vanished clients")
        u.close()


if __name__ == "__main__":
    main()
