"""test_bench_timeout.py — `bench --timeout`: connects that hang (a listener
whose backlog is full) are counted as `connect timeout` and cancelled at
their deadline: their sockets are closed then, not left for the kernel to
finish, and the run ends on time."""
import os
import socket
import subprocess
import time

from harness import SOCKIT, check, check_eq, main, t


def hanging_listener():
    """A listener that never accepts, its backlog full: later connects hang."""
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(0)
    fill = []
    for _ in range(3):
        s = socket.socket()
        s.setblocking(False)
        try:
            s.connect(ls.getsockname())
        except BlockingIOError:
            pass
        fill.append(s)
    return ls, fill


def sockets_of(pid):
    try:
        return sum(1 for fd in os.listdir("/proc/%d/fd" % pid)
                   if os.readlink("/proc/%d/fd/%s" % (pid, fd)).startswith("socket:"))
    except OSError:
        return -1


def test_timed_out_connects_are_closed():
    ls, fill = hanging_listener()
    port = ls.getsockname()[1]
    start = time.monotonic()
    p = subprocess.Popen([SOCKIT, "bench", "tcp://127.0.0.1:%d" % port, "-c", "30", "-d", "3",
                          "--timeout", "1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(0.5)
    during = sockets_of(p.pid)
    time.sleep(1.5)  # past the 1 s connect deadline, before the 3 s run ends
    after = sockets_of(p.pid)
    out, err = p.communicate(timeout=t(20))
    took = time.monotonic() - start
    text = (out + err).decode()
    check_eq(p.returncode is not None, True, "bench exited")
    check(during >= 20, "connects in progress at 0.5 s hold sockets (%d)" % during)
    check(0 <= after <= 2, "the timed-out connects' sockets are closed at 2 s (%d open)" % after)
    check("connect timeout: 30" in text, "every connect counted as a timeout: %r" % text[-400:])
    check(took < t(6), "the run ends on time (%.1fs)" % took)
    for s in fill:
        s.close()
    ls.close()


if __name__ == "__main__":
    main()
