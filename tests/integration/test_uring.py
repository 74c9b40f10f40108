"""test_uring.py — the io_uring backend (--io uring, SOCKIT_IO): it is really
used, serves every client byte-exact under load and backpressure, carries
WebSocket, chat and the load generator, drains on SIGTERM, and bad values
are refused. (The whole suite also runs on it: SOCKIT_IO=uring make test.)"""
import os
import signal
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
from harness import (uring_fds, SOCKIT, VALGRIND, Server, check, check_eq, free_port, main,  # noqa: E402
                     recv_exact, recv_until_eof, run_connect, run_sockit, t, tcp_client)

URING = ["--io", "uring"]


def test_uring_is_used():
    port = free_port()
    with Server("echo", "tcp://127.0.0.1:%d" % port, "--threads", "2", *URING) as srv:
        s = tcp_client(port)
        s.sendall(b"ping")
        check_eq(recv_exact(s, 4), b"ping", "echo over io_uring")
        s.close()
        check("io_uring not available" not in srv.log(),
              "the server fell back to epoll: %s" % srv.log().strip()[-300:])
        check_eq(uring_fds(srv.pid), 2, "io_uring instances (one per loop thread)")
    with Server("echo", "tcp://127.0.0.1:%d" % port, "--io", "epoll") as srv:
        check_eq(uring_fds(srv.pid), 0, "io_uring instances of the epoll backend")


def test_bad_backend_refused():
    r = run_sockit(["serve", "echo", "--io", "kqueue"])
    check_eq(r.returncode, 2, "exit status for --io kqueue")
    check(len(r.stderr.strip().splitlines()) == 1, "one line on stderr: %r" % r.stderr)
    env = dict(os.environ, SOCKIT_IO="select")
    r = subprocess.run([SOCKIT, "serve", "echo"], env=env, capture_output=True, timeout=10)
    check_eq(r.returncode, 2, "exit status for SOCKIT_IO=select")
    check(b"SOCKIT_IO" in r.stderr, "the error names SOCKIT_IO: %r" % r.stderr)


def pump(s, data, out, idx):
    """Sends data in random-sized pieces while reading the echo back."""
    got = bytearray()

    def reader():
        while len(got) < len(data):
            b = s.recv(1 << 16)
            if not b:
                break
            got.extend(b)
    th = threading.Thread(target=reader)
    th.start()
    off, k = 0, idx
    while off < len(data):
        k = (k * 1103515245 + 12345) & 0x7fffffff
        n = 1 + k % 70000
        s.sendall(data[off:off + n])
        off += n
    th.join(t(30))
    out[idx] = bytes(got) == data


def test_many_clients_byte_exact():
    port = free_port()
    with Server("echo", "tcp://127.0.0.1:%d" % port, "--threads", "2", *URING):
        datas = [os.urandom(2_000_000 if i == 0 else 20_000 + 997 * i) for i in range(40)]
        socks = [tcp_client(port, timeout=t(30)) for _ in datas]
        out = [False] * len(datas)
        ths = [threading.Thread(target=pump, args=(s, d, out, i))
               for i, (s, d) in enumerate(zip(socks, datas))]
        for th in ths:
            th.start()
        for th in ths:
            th.join(t(60))
        for s in socks:
            s.close()
        check_eq(sum(out), len(datas), "clients whose echo came back byte-exact")


def test_slow_reader_backpressure():
    """A client that sends 32 MiB and reads nothing for a while: the server
    stops reading it (bounded memory), then everything comes back."""
    port = free_port()
    with Server("echo", "tcp://127.0.0.1:%d" % port, *URING) as srv:
        s = tcp_client(port, timeout=t(30))
        data = os.urandom(32 << 20)
        sent = [0]

        def writer():
            view = memoryview(data)
            while sent[0] < len(data):
                sent[0] += s.send(view[sent[0]:sent[0] + (1 << 20)])
        th = threading.Thread(target=writer)
        th.start()
        time.sleep(t(1.0))
        with open("/proc/%d/status" % srv.pid) as f:
            rss = [int(x.split()[1]) for x in f if x.startswith("VmRSS:")][0]
        check(sent[0] < len(data), "the writer was held back (sent %d of %d)" % (sent[0], len(data)))
        check(rss < 64 * 1024, "server RSS %d KiB while the client reads nothing (bound 64 MiB)" % rss)
        got = recv_exact(s, len(data))
        th.join(t(30))
        check(got == data, "32 MiB echoed byte-exact after the pause")
        s.close()


def test_websocket_and_chat():
    port, wport = free_port(), free_port()
    with Server("chat", "tcp://127.0.0.1:%d" % port, "ws://127.0.0.1:%d/" % wport, *URING):
        a = tcp_client(port)
        a.sendall(b"/nick alice\n")
        r = run_connect(["ws://127.0.0.1:%d/" % wport, "--send", "hello from ws", "--wait", "0.5"],
                        timeout=t(10))
        check_eq(r.returncode, 0, "connect ws:// exit status")
        a.settimeout(t(5))
        seen = b""
        end = time.monotonic() + t(5)
        while b"hello from ws" not in seen and time.monotonic() < end:
            try:
                seen += a.recv(4096)
            except socket.timeout:
                break
        check(b"hello from ws" in seen, "the TCP member saw the WebSocket member's line: %r" % seen)
        a.close()


def test_bench_on_uring():
    port = free_port()
    with Server("echo", "tcp://127.0.0.1:%d" % port, *URING):
        r = run_sockit(["bench", "tcp://127.0.0.1:%d" % port, "-c", "20", "-n", "20000",
                        "--depth", "4", "--verify", *URING], timeout=t(60))
        check_eq(r.returncode, 0, "bench exit status (stderr %r)" % r.stderr[-300:])
        out = r.stdout.decode()
        check("20 ok, 0 failed" in out, "bench connections: %s" % out[-500:])
        check("20000 received, 0 lost" in out, "bench messages: %s" % out[-500:])
        check("errors       none" in out, "bench errors (--verify): %s" % out[-500:])


def test_sigterm_drains():
    port = free_port()
    srv = Server("echo", "tcp://127.0.0.1:%d" % port, *URING).start()
    try:
        s = tcp_client(port, timeout=t(10))
        data = os.urandom(3 << 20)
        s.sendall(data[:1 << 20])
        got = recv_exact(s, 1 << 20)
        s.sendall(data[1 << 20:])
        srv.send_signal(signal.SIGTERM)
        rest, err = recv_until_eof(s)
        s.close()
        check(err is None, "clean EOF after SIGTERM (error %r)" % err)
        got += rest
        check(data.startswith(got) and len(got) >= 1 << 20,
              "echo before EOF is a prefix of what was sent (%d bytes)" % len(got))
        check_eq(srv.wait_exit(t(8)), 0, "exit status after SIGTERM")
    finally:
        srv.stop()


if __name__ == "__main__":
    if VALGRIND:  # memcheck does not model io_uring: a ring's completions never arrive
        print("skipped: valgrind cannot run io_uring programs (ASan covers these paths)")
        sys.exit(0)
    main()
