"""test_scale.py — serve --threads and --workers: every client is served
whichever loop or process accepted it, and shutdown stays clean."""
import os
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from harness import (Server, SOCKIT, check, check_eq, free_port, main, recv_exact,  # noqa: E402
                     run_sockit, t, tcp_client, tmpdir, wait_for)


def children_of(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def upper_round_trip(port, n, tag):
    socks = [tcp_client(port) for _ in range(n)]
    bad = 0
    for i, s in enumerate(socks):
        s.sendall(b"%s-%d" % (tag, i))
    for i, s in enumerate(socks):
        want = (b"%s-%d" % (tag, i)).upper()
        if recv_exact(s, len(want)) != want:
            bad += 1
        s.close()
    return bad


def test_threads_serve_every_client():
    port = free_port()
    with Server("upper", "tcp://127.0.0.1:%d" % port, "--threads", "4"):
        check_eq(upper_round_trip(port, 300, b"thr"), 0, "wrong replies with 4 threads")


def test_workers_share_one_port():
    port = free_port()
    with Server("upper", "tcp://127.0.0.1:%d" % port, "--workers", "3", "--threads", "1") as srv:
        wait_for(lambda: len(children_of(srv.pid)) == 3)
        check_eq(len(children_of(srv.pid)), 3, "worker processes")
        check_eq(upper_round_trip(port, 200, b"wrk"), 0, "wrong replies with 3 workers")


def test_workers_exit_on_sigterm_with_clients():
    port = free_port()
    srv = Server("echo", "tcp://127.0.0.1:%d" % port, "--workers", "2").start()
    kids = children_of(srv.pid)
    s = tcp_client(port)
    s.sendall(b"ping")
    check_eq(recv_exact(s, 4), b"ping", "echo through a worker")
    srv.stop()  # asserts exit 0 within the stop timeout
    time.sleep(0.2)
    alive = [k for k in kids if os.path.exists("/proc/%d" % k)
             and open("/proc/%d/stat" % k).read().split()[2] != "Z"]
    check_eq(alive, [], "workers still running after SIGTERM")
    s.close()


def test_workers_refuse_unix_urls():
    r = run_sockit(["serve", "echo", "unix://%s/s" % tmpdir(), "--workers", "2"])
    check_eq(r.returncode, 2, "exit status for --workers with a unix URL")
    check(b"SO_REUSEPORT" in r.stderr and r.stderr.count(b"\n") == 1,
          "one clear stderr line, got %r" % r.stderr)


if __name__ == "__main__":
    main()
