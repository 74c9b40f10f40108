"""test_exec_hardening.py — exec under limits: --idle-timeout counts the
reply as activity (a command that ran longer than the idle time does not get
its client closed right after the answer); with --shell --allow, output
redirections are refused unless --allow-redirect (no file is written);
--max-output reached kills the command's process group at once and the
reply says so."""
import os
import socket
import time

from harness import (LineSock, Server, check, check_eq, cpu_seconds, free_port, main, t,
                     tmpdir)


def read_reply(s, timeout=10):
    """Reads until the reply's last line ("[exit N]", "[killed ...]", ...)."""
    ls, out = LineSock(s), b""
    while True:
        ln = ls.line(timeout)
        if ln is None:
            return out
        out += ln.encode() + b"\n"
        if ln.startswith(("[exit ", "[killed ", "[timed out ")):
            return out


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


def ask(port, cmd):
    s = socket.create_connection(("127.0.0.1", port), timeout=t(5))
    s.sendall(cmd.encode() + b"\n")
    r = read_reply(s, timeout=20)
    s.close()
    return r


REFUSED = (b"sockit: output redirection ('>') is not allowed with --allow (see --allow-redirect)"
           b"\n[exit 126]\n")


def test_redirections_refused_with_an_allow_list():
    port = free_port()
    d = tmpdir()
    target = os.path.join(d, "victim")
    with open(target, "w") as f:
        f.write("precious\n")
    with Server("exec", "tcp://127.0.0.1:%d" % port, "--shell", "--allow", "ls",
                "--allow", "echo"):
        for form in ["ls > %s", "ls >> %s", "ls 2> %s", "ls &> %s", "ls >| %s", "echo x >%s",
                     "ls <> %s", "ls | ls > %s", "ls 2>&1 > %s"]:
            cmd = form % target
            r = ask(port, cmd)
            # (">|" is refused as "the file is not an allowed program": its | is a pipe)
            check(r == REFUSED or (form == "ls >| %s" and r.endswith(b"[exit 126]\n")),
                  "refused: %s: %r" % (cmd, r))
        new = os.path.join(d, "new")
        check_eq(ask(port, "ls > %s" % new), REFUSED, "a new file")
        check(not os.path.exists(new), "no file was created")
        with open(target) as f:
            check_eq(f.read(), "precious\n", "the existing file is untouched")
        check_eq(ask(port, "echo '>' \\> \">\" 2>&1"), b"> > >\n[exit 0]\n",
                 "quoted and escaped '>' and 2>&1 are fine")
    with Server("exec", "tcp://127.0.0.1:%d" % port, "--shell", "--allow", "echo",
                "--allow-redirect"):
        out = os.path.join(d, "allowed")
        check_eq(ask(port, "echo hi > %s" % out), b"[exit 0]\n", "--allow-redirect")
        with open(out) as f:
            check_eq(f.read(), "hi\n", "the file was written")


def test_max_output_kills_the_group():
    port = free_port()
    marker = "sockit-cap-%d" % os.getpid()
    with Server("exec", "tcp://127.0.0.1:%d" % port, "--shell", "--max-output", "64k",
                "--timeout", "20") as srv:
        cpu0 = cpu_seconds(srv.pid)
        start = time.monotonic()
        r = ask(port, "yes %s & yes %s" % (marker, marker))
        took = time.monotonic() - start
        note = (b"\n[output truncated at 65536 bytes: --max-output reached, process group killed]"
                b"\n[killed by signal SIGKILL]\n")
        check(r.endswith(note), "the reply says so: %r" % r[-120:])
        check(took < t(3), "answered at the cap, not at --timeout (%.1fs)" % took)
        left = []
        for d in os.listdir("/proc"):
            try:
                with open("/proc/%s/cmdline" % d, "rb") as f:
                    if marker.encode() in f.read():
                        left.append(d)
            except OSError:
                pass
        check_eq(left, [], "no process of the group survives")
        used = cpu_seconds(srv.pid) - cpu0
        check(used < 1.0, "the server did not drain the output (%.2f s CPU)" % used)


if __name__ == "__main__":
    main()
