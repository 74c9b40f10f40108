"""test_exec.py — the exec service (tutorials T4 and T5): commands sent by
plain Python socket clients and by `sockit connect`, their output and exit
status, the safety limits (allow-list, timeout, output cap, loopback only)."""
import os
import re
import socket
import struct
import subprocess
import threading
import time

import harness  # noqa: E402
from harness import (SOCKIT, Server, check, check_eq, free_port, main, recv_exact,
                     recv_until_eof, run_connect, t, tcp_client, tmpdir, wait_for)

# The last line of every reply.
STATUS = re.compile(rb"(?:^|\n)\[(exit [^\]\n]*|killed by signal [^\]\n]*|timed out after [^\]\n]*)\]\n$")


def serve(*args):
    port = free_port()
    return Server("exec", "tcp://127.0.0.1:%d" % port, *args), port


def recv_reply(s, limit=1 << 24):
    """The T4 client's loop: recv until the reply's final status line."""
    data = b""
    while len(data) < limit and not STATUS.search(data[-200:]):
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def run(port, cmd, timeout=10):
    """Connects, sends one command, returns the whole reply."""
    s = tcp_client(port, timeout=timeout)
    try:
        s.sendall(cmd if isinstance(cmd, bytes) else cmd.encode())
        return recv_reply(s)
    finally:
        s.close()


def procs_with_args(*argv):
    """PIDs whose command line is exactly argv (from /proc)."""
    want = b"\0".join(a.encode() for a in argv) + b"\0"
    pids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % d, "rb") as f:
                if f.read() == want:
                    pids.append(int(d))
        except OSError:
            pass
    return pids


# ------------------------------------------------------------------ T4

def test_t4_tutorial_client():
    srv, port = serve()
    with srv:
        client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        client.settimeout(t(10))
        client.connect(("127.0.0.1", port))
        client.send(b"echo hi")
        check_eq(recv_reply(client), b"hi\n[exit 0]\n", "reply to echo hi")
        client.send(b"echo again\n")  # raw clients often send the newline
        check_eq(recv_reply(client), b"again\n[exit 0]\n", "second command, same connection")
        client.close()
    log = srv.final_log
    check(re.search(r'exec 127\.0\.0\.1:\d+: "echo hi" -> exit 0', log),
          "log names peer, command and status:\n" + log)


def test_stderr_and_exit_status():
    srv, port = serve()
    with srv:
        r = run(port, "ls /nonexistent-sockit-dir")
        check(b"nonexistent-sockit-dir" in r, "stderr text in reply: %r" % r)
        m = STATUS.search(r)
        check(m and m.group(1) != b"exit 0" and m.group(1).startswith(b"exit "),
              "nonzero exit: %r" % r)
        r = run(port, "sh -c 'echo out; echo err >&2; exit 3'")
        check_eq(r, b"out\nerr\n[exit 3]\n", "stdout then stderr, in write order")
        r = run(port, "sh -c 'kill -SEGV $$'")
        check_eq(r, b"[killed by signal SIGSEGV]\n", "death by signal")


def test_no_output_still_replies():
    srv, port = serve()
    with srv:
        check_eq(run(port, "true"), b"[exit 0]\n", "true")
        check_eq(run(port, "false"), b"[exit 1]\n", "false")
        check_eq(run(port, "printf abc"), b"abc\n[exit 0]\n", "status starts its own line")
        check_eq(run(port, "\r\n"), b"sockit: empty command\n[exit 127]\n", "empty command")
        r = run(port, "no-such-program-sockit")
        if harness.VALGRIND:  # valgrind turns posix_spawn into fork+exec: the child exits 127
            check(r.endswith(b"[exit 127]\n"), "missing program under valgrind: %r" % r)
        else:
            check_eq(r, b"sockit: cannot run 'no-such-program-sockit': No such file or directory\n"
                     b"[exit 127]\n", "missing program")
        check_eq(run(port, "echo 'open"), b"sockit: unterminated quote\n[exit 2]\n", "bad quote")


def test_argv_without_shell():
    srv, port = serve()
    with srv:
        check_eq(run(port, "echo a | tr a b"), b"a | tr a b\n[exit 0]\n", "no shell: | is an argument")
        check_eq(run(port, "echo $HOME `id`"), b"$HOME `id`\n[exit 0]\n", "no expansions")
        r = run(port, """printf '%s|' 'a b' "c \\"d\\"" e\\ f g'h'"i" ''""")
        check_eq(r, b'a b|c "d"|e f|ghi||\n[exit 0]\n', "quotes and escapes")


def test_shell():
    srv, port = serve("--shell")
    with srv:
        check_eq(run(port, "echo a | tr a b"), b"b\n[exit 0]\n", "--shell pipe")
        check_eq(run(port, "exit 7"), b"[exit 7]\n", "--shell exit status")


def test_allow_list():
    srv, port = serve("--allow", "echo", "--allow", "true")
    with srv:
        check_eq(run(port, "ls /"), b"sockit: 'ls' is not allowed (allowed: echo, true)\n"
                 b"[exit 126]\n", "ls refused")
        check_eq(run(port, "echo fine"), b"fine\n[exit 0]\n", "echo allowed")
        r = run(port, "/tmp/elsewhere/echo x")
        check(b"is not allowed" in r, "a path is not the allowed name: %r" % r)
    check(re.search(r'"ls /" -> refused: .ls. is not allowed', srv.final_log),
          "refusal logged:\n" + srv.final_log)


def test_allow_list_with_shell():
    srv, port = serve("--shell", "--allow", "echo", "--allow", "tr")
    with srv:
        check_eq(run(port, "echo a | tr a b"), b"b\n[exit 0]\n", "pipeline of allowed programs")
        check_eq(run(port, "echo a 2>&1"), b"a\n[exit 0]\n", "2>&1 is not a separator")
        for cmd, bad in [("ls", b"'ls'"), ("echo a; ls", b"'ls'"), ("echo a&&id", b"'id'"),
                         ("echo a|sh", b"'sh'"), ("(id)", b"'id'"), ("X=1 echo", b"'X=1'")]:
            r = run(port, cmd)
            check(r.startswith(b"sockit: " + bad + b" is not allowed") and r.endswith(b"[exit 126]\n"),
                  "%r refused: %r" % (cmd, r))
        r = run(port, "echo $(id)")
        check_eq(r, b"sockit: command substitution is not allowed with --allow\n[exit 126]\n",
                 "command substitution")


def test_hostile_commands():
    srv, port = serve("--in-frame", "line")  # raw would split a long command into reads
    with srv:
        check_eq(run(port, b"echo a\0b\n"), b"sockit: command contains a NUL byte\n[exit 2]\n",
                 "NUL byte")
        r = run(port, b"echo " + b"x" * 70000 + b"\n")
        check_eq(r, b"sockit: command too long (70005 bytes, at most 65536)\n[exit 2]\n",
                 "too long")
        check_eq(run(port, "echo ok\n"), b"ok\n[exit 0]\n", "server still serves")


# ------------------------------------------------------------------ limits

def test_timeout_kills_process_group():
    srv, port = serve("--shell", "--timeout", "1")
    secs = "31.%d" % os.getpid()  # a unique argv to find our own sleeps
    with srv:
        start = time.monotonic()
        r = run(port, "sleep %s & sleep %s; wait" % (secs, secs), timeout=t(10))
        took = time.monotonic() - start
        check_eq(r, b"[timed out after 1s]\n", "timeout reply")
        check(took < t(3), "reply after %.1fs, want < %gs" % (took, t(3)))
        left = wait_for(lambda: not procs_with_args("sleep", secs), timeout=2)
        check(left, "sleep children survive: %s" % procs_with_args("sleep", secs))
        check_eq(run(port, "echo after"), b"after\n[exit 0]\n", "server still serves")


def test_large_output_whole_with_bigger_cap():
    srv, port = serve("--max-output", "2M")
    with srv:
        r = run(port, "head -c 1500000 /dev/zero")
        check_eq(len(r), 1500000 + len(b"\n[exit 0]\n"), "reply size")
        check(r[:1500000] == b"\0" * 1500000 and r.endswith(b"\n[exit 0]\n"), "reply bytes")


def test_large_output_truncated_by_default():
    srv, port = serve()
    with srv:
        r = run(port, "head -c 1500000 /dev/zero")
        note = b"\n[output truncated at 1048576 bytes: --max-output reached, process group killed]\n"
        check_eq(r[1048576:1048576 + len(note)], note, "truncation note")
        check(r.endswith(b"\n[killed by signal SIGKILL]\n") or r.endswith(b"\n[exit 0]\n"),
              "then how it ended: %r" % r[-60:])
        r = run(port, "head -c 50000000 /dev/zero")  # killed at the cap, not drained
        check(r.endswith(note + b"[killed by signal SIGKILL]\n"), "big output stopped: %r" % r[-100:])


def test_non_loopback_refused():
    port = free_port()
    for url in ["tcp://0.0.0.0:%d" % port, "tcp://*:%d" % port]:
        p = subprocess.run([SOCKIT, "serve", "exec", url], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=t(10))
        err = p.stderr.decode()
        check(p.returncode != 0, "%s: exit %d" % (url, p.returncode))
        check("exec refuses non-loopback address" in err and "--allow-remote" in err,
              "%s: reason on stderr: %r" % (url, err))
    check("0.0.0.0 (it runs commands" in subprocess.run(
        [SOCKIT, "serve", "exec", "tcp://0.0.0.0:%d" % port], stderr=subprocess.PIPE,
        timeout=t(10)).stderr.decode(), "address named")
    with Server("exec", "tcp://0.0.0.0:%d" % port, "--allow-remote"):
        check_eq(run(port, "echo remote"), b"remote\n[exit 0]\n", "--allow-remote serves")
    path = os.path.join(tmpdir(), "x.sock")
    with Server("exec", "unix://" + path, "tcp://localhost:%d" % free_port()):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(t(10))
        s.connect(path)
        s.sendall(b"echo unix")
        check_eq(recv_reply(s), b"unix\n[exit 0]\n", "unix sockets need no --allow-remote")
        s.close()


# ------------------------------------------------------------------ concurrency

def test_concurrent_clients():
    srv, port = serve("--shell")
    with srv:
        results = [None] * 10

        def one(i):
            try:
                results[i] = run(port, "sleep 1; echo x%d" % i, timeout=t(10))
            except OSError as e:
                results[i] = repr(e).encode()

        start = time.monotonic()
        threads = [threading.Thread(target=one, args=(i,)) for i in range(10)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        took = time.monotonic() - start
        for i, r in enumerate(results):
            check_eq(r, b"x%d\n[exit 0]\n" % i, "client %d" % i)
        check(took < t(3), "10 x 'sleep 1' took %.1fs, want < %gs" % (took, t(3)))


def test_commands_of_one_client_in_order():
    srv, port = serve("--shell", "--in-frame", "line")
    with srv:
        s = tcp_client(port)
        s.sendall(b"sleep 0.3; echo 1\necho 2\nexit 4\n")
        want = b"1\n[exit 0]\n2\n[exit 0]\n[exit 4]\n"
        check_eq(recv_exact(s, len(want)), want, "three replies in order")
        s.close()


def test_half_close_still_answered():
    srv, port = serve()
    with srv:
        p = run_connect(["tcp://127.0.0.1:%d" % port, "--send", "sh -c 'sleep 0.3; echo late'"])
        check_eq(p.stdout, b"late\n[exit 0]\n", "sockit connect --send (half-closes)")
        s = tcp_client(port)
        s.sendall(b"echo bye")
        s.shutdown(socket.SHUT_WR)
        data, err = recv_until_eof(s)
        check_eq((data, err), (b"bye\n[exit 0]\n", None), "reply, then the server closes")
        s.close()


def test_disconnect_kills_command():
    srv, port = serve("--shell")
    secs = "32.%d" % os.getpid()
    with srv:
        s = tcp_client(port)
        s.sendall(b"sleep %s & sleep %s; wait" % (secs.encode(), secs.encode()))
        check(wait_for(lambda: len(procs_with_args("sleep", secs)) == 2, timeout=5),
              "commands started")
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()  # a reset: the client is gone
        check(wait_for(lambda: not procs_with_args("sleep", secs), timeout=3),
              "process group killed when the client left")
        check_eq(run(port, "echo still"), b"still\n[exit 0]\n", "server still serves")
    check("client left" in srv.final_log, "logged:\n" + srv.final_log)


def test_unix_client_close_kills_half_close_does_not():
    path = os.path.join(tmpdir(), "e.sock")
    secs = "34.%d" % os.getpid()
    with Server("exec", "unix://" + path) as srv:
        def client():
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(t(10))
            s.connect(path)
            return s
        s = client()
        s.sendall(b"sleep " + secs.encode())
        check(wait_for(lambda: procs_with_args("sleep", secs), timeout=5), "command started")
        s.close()  # a unix peer that closes is gone for good
        check(wait_for(lambda: not procs_with_args("sleep", secs), timeout=3),
              "command killed when the unix client closed")
        s = client()
        s.sendall(b"sh -c 'sleep 0.5; echo half'")
        s.shutdown(socket.SHUT_WR)
        check_eq(recv_until_eof(s), (b"half\n[exit 0]\n", None), "half-closed unix client")
        s.close()
    check("(client left)" in srv.final_log, "logged:\n" + srv.final_log)


def test_sigterm_with_running_commands():
    srv, port = serve()
    secs = "33.%d" % os.getpid()
    with srv:
        s = tcp_client(port)
        s.sendall(b"sleep " + secs.encode())
        check(wait_for(lambda: procs_with_args("sleep", secs), timeout=5), "command started")
        srv.stop()  # checks exit status 0 and a clean sanitizer log
        s.close()
    check(wait_for(lambda: not procs_with_args("sleep", secs), timeout=3),
          "command killed with the server")


def test_child_environment():
    srv, port = serve()
    with srv:
        r = run(port, "grep -E ^Sig(Blk|Ign) /proc/self/status")
        m = re.match(rb"SigBlk:\t([0-9a-f]+)\nSigIgn:\t([0-9a-f]+)\n\[exit 0\]\n$", r)
        check(m, "signal state: %r" % r)
        if m:
            # posix_spawn leaves glibc's internal signals 32 and 33 ignored: mask them out
            check_eq(int(m.group(1), 16), 0, "blocked signals (the server blocks SIGTERM)")
            check_eq(int(m.group(2), 16) & 0x7fffffff, 0, "ignored signals (SIGPIPE)")
        r = run(port, "ls /proc/self/fd")
        check_eq(r, b"0\n1\n2\n3\n[exit 0]\n", "only 0, 1, 2 (+ ls's own dir fd)")
        check_eq(run(port, "readlink /proc/self/fd/0"), b"/dev/null\n[exit 0]\n", "stdin")
        r = run(port, "sh -c 'ps -o pgid= -p $$; echo $$'")
        nums = r.split()
        check(len(nums) >= 2 and nums[0] == nums[1], "own process group: %r" % r)


# ------------------------------------------------------------------ T5 framing

def test_t5_framed_reply_python_client():
    port = free_port()
    with Server("exec", "tcp://127.0.0.1:%d" % port, "--in-frame", "raw", "--out-frame", "len32le"):
        client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        client.settimeout(t(10))
        client.connect(("127.0.0.1", port))
        for cmd, body in [(b"head -c 300000 /dev/zero", b"\0" * 300000 + b"\n[exit 0]\n"),
                          (b"true", b"[exit 0]\n"), (b"echo hi", b"hi\n[exit 0]\n")]:
            client.send(cmd)
            header = client.recv(4)  # the tutorial client, with its loop fixed
            n = struct.unpack("i", header)[0]
            data = b""
            while len(data) < n:
                data += client.recv(n - len(data))
            check_eq(data, body, "one frame per command: %r" % cmd)
        client.close()


def test_reply_too_big_for_framing():
    port = free_port()
    with Server("exec", "tcp://127.0.0.1:%d" % port, "--out-frame", "len8") as srv:
        s = tcp_client(port)
        s.sendall(b"echo small")
        check_eq(recv_exact(s, 1 + 15), b"\x0fsmall\n[exit 0]\n", "a reply that fits len8")
        s.sendall(b"head -c 300 /dev/zero")
        check_eq(recv_until_eof(s), (b"", None), "too big for len8: closed, never silence")
        s.close()
    check("does not fit --out-frame len8" in srv.final_log, "logged:\n" + srv.final_log)


def framed_tutorial_server(lsock, done):
    """T5's server: run the command with a shell, send a 4-byte length header
    and the output, written in small pieces so TCP splits them."""
    conn, _ = lsock.accept()
    with conn:
        cmd = conn.recv(1024).decode()
        res = subprocess.run(cmd, shell=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out = res.stderr or res.stdout
        msg = struct.pack("i", len(out)) + out
        for i in range(0, len(msg), 3):
            conn.sendall(msg[i:i + 3])
            time.sleep(0.02)
        conn.recv(1024)
    done.set()


def test_t5_connect_against_tutorial_server():
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(5)
    port = lsock.getsockname()[1]
    done = threading.Event()
    th = threading.Thread(target=framed_tutorial_server, args=(lsock, done), daemon=True)
    th.start()
    p = run_connect(["tcp://127.0.0.1:%d" % port, "--out-frame", "raw", "--in-frame",
                     "len32le", "--send", "echo hello world from T5"])
    check_eq(p.stdout, b"hello world from T5\n", "whole frame printed")
    check_eq(p.returncode, 0, "connect exit status")
    th.join(t(10))
    lsock.close()


# ------------------------------------------------------------------ datagrams

def test_udp():
    port = free_port()
    with Server("exec", "udp://127.0.0.1:%d" % port):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(t(10))
        s.sendto(b"echo over udp\n", ("127.0.0.1", port))
        check_eq(s.recvfrom(65536)[0], b"over udp\n[exit 0]\n", "udp reply")
        s.sendto(b"sh -c 'sleep 0.2; echo one'", ("127.0.0.1", port))
        s.sendto(b"echo two", ("127.0.0.1", port))
        got = [s.recvfrom(65536)[0], s.recvfrom(65536)[0]]
        check_eq(got, [b"one\n[exit 0]\n", b"two\n[exit 0]\n"], "one sender's replies in order")
        s.sendto(b"head -c 100000 /dev/zero", ("127.0.0.1", port))
        r = s.recvfrom(65536)[0]
        check(r.startswith(b"\0" * 60000) and b"\n[output truncated at 60000 bytes: --max-output "
              b"reached, process group killed]\n[" in r, "datagram replies are capped to fit: %r"
              % r[-80:])
        s.close()


if __name__ == "__main__":
    main()
