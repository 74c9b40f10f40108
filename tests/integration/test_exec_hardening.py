"""test_exec_hardening.py — exec under limits: --idle-timeout counts the
reply as activity (a command that ran longer than the idle time does not get
its client closed right after the answer)."""
import socket
import time

from harness import Server, check, check_eq, free_port, main, t


def read_reply(s, timeout=10):
    """Reads until the reply's last line ("[exit N]", "[killed ...]", ...)."""
    s.settimeout(t(timeout))
    buf = b""
    while not buf.rstrip(b"\n").split(b"\n")[-1].startswith(b"["):
        try:
            b = s.recv(65536)
        except OSError:
            break
        if not b:
            break
        buf += b
    return buf


def test_idle_time_counts_from_the_reply():
    port = free_port()
    with Server("exec", "tcp://127.0.0.1:%d" % port, "--idle-timeout", "1", "-v") as srv:
        s = socket.create_connection(("127.0.0.1", port), timeout=t(5))
        s.sendall(b"sleep 1.6\n")  # runs longer than the idle time
        check_eq(read_reply(s), b"[exit 0]\n", "the long command's reply")
        time.sleep(0.6)  # silent, but for less than the idle time since the reply
        s.sendall(b"echo still here\n")
        check_eq(read_reply(s), b"still here\n[exit 0]\n", "served after the reply")
        time.sleep(1.8)  # now really idle
        s.settimeout(t(2))
        try:
            gone = s.recv(100) == b""
        except OSError:
            gone = True
        check(gone, "closed once silent for the idle time after its last reply")
        s.close()
        check("idle fd=" in srv.log(), "-v logs the idle close")


if __name__ == "__main__":
    main()
