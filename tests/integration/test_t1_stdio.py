"""test_t1_stdio.py — tutorial T1, the one-shot chat: `sockit serve stdio`
prints what a tutorial-style Python client sends on its stdout, and every
line the operator types on its stdin goes to the connected clients. Lines
typed before anyone connects wait for the first client; stdin EOF gives the
clients EOF. stdin is a pipe, a pseudo-terminal, and `script -qfc`."""
import os
import pty
import select
import signal
import socket
import subprocess
import threading
import time

from harness import (SOCKIT, VALGRIND, Server, check, check_eq, free_port, main,
                     recv_exact, recv_until_eof, t, wait_for)

UTF8_MSG = "héllo wörld ✓"


class Collector:
    """Reads a file descriptor in a thread and keeps everything read."""

    def __init__(self, fd):
        self.fd = fd
        self.buf = bytearray()
        self.lock = threading.Lock()
        self.eof = False
        self.th = threading.Thread(target=self._run, daemon=True)
        self.th.start()

    def _run(self):
        while True:
            try:
                b = os.read(self.fd, 65536)
            except OSError:  # a pty master reports EIO when the slave closes
                b = b""
            if not b:
                self.eof = True
                return
            with self.lock:
                self.buf += b

    def data(self):
        with self.lock:
            return bytes(self.buf)

    def wait_for(self, needle, timeout=5):
        """True once needle has been read (within timeout, scaled)."""
        return bool(wait_for(lambda: needle in self.data(), timeout))


class StdioServer(Server):
    """`sockit serve stdio` with its stdin and stdout as pipes (or given
    descriptors such as a pty slave). srv.type(text) writes to its stdin,
    srv.out collects its stdout; stderr is the log as with Server."""

    def __init__(self, *args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, **kw):
        super().__init__("stdio", *args, **kw)
        self._stdin = stdin
        self._stdout = stdout
        self.out = None

    def start(self):
        self._logf = open(self.logpath, "wb")
        self.proc = subprocess.Popen(self.cmd(), stdin=self._stdin, stdout=self._stdout,
                                     stderr=self._logf)
        if self._stdout == subprocess.PIPE:
            self.out = Collector(self.proc.stdout.fileno())
        deadline = time.monotonic() + t(10)
        while time.monotonic() < deadline:
            if self.log().count("sockit: serving") >= self.nurls:
                return self
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        log = self.log()
        self._kill()
        raise RuntimeError("stdio server did not start (rc=%s); log:\n%s"
                           % (self.proc.returncode, log))

    def type(self, text):
        if isinstance(text, str):
            text = text.encode("utf-8")
        self.proc.stdin.write(text)
        self.proc.stdin.flush()

    def close_stdin(self):
        self.proc.stdin.close()

    def stop(self, signo=signal.SIGTERM):
        log = super().stop(signo)
        if self.proc.stdin and not self.proc.stdin.closed:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
        return log


def tutorial_client(port, msg):
    """The T1 client: socket(); connect; send(msg.encode('utf-8'))."""
    client = socket.socket()  # AF_INET, SOCK_STREAM
    client.settimeout(t(10))
    client.connect(("127.0.0.1", port))
    client.send(msg.encode("utf-8"))
    return client


def wait_accepts(srv, n):
    return wait_for(lambda: srv.log().count(" accept fd=") >= n, 5)


def test_t1_one_shot_chat_over_a_pipe():
    """The whole T1 session: the client's UTF-8 message appears on the
    server's stdout exactly; the operator's reply reaches the client; closing
    the server's stdin gives the client EOF; SIGTERM then exits 0."""
    port = free_port()
    with StdioServer("tcp://127.0.0.1:%d" % port, "-v") as srv:
        client = tutorial_client(port, UTF8_MSG)
        check(srv.out.wait_for(UTF8_MSG.encode()), "client message on the server's stdout: %r"
              % srv.out.data())
        time.sleep(0.1)
        check_eq(srv.out.data(), UTF8_MSG.encode("utf-8"), "server stdout (as is, no additions)")
        srv.type("réponse: ça va ✓\n")
        data = recv_exact(client, len("réponse: ça va ✓\n".encode()))
        print("    client got: %s" % data.decode().rstrip())
        check_eq(data.decode("utf-8"), "réponse: ça va ✓\n", "reply typed on stdin")
        srv.close_stdin()
        rest, err = recv_until_eof(client)
        check_eq((rest, err), (b"", None), "after stdin EOF the client sees a clean EOF")
        client.close()
        check(wait_for(lambda: " close fd=" in srv.log(), 5), "close logged")
    check(srv.proc.returncode == 0, "exit status 0")


def test_lines_typed_before_the_client_connects_are_not_lost():
    port = free_port()
    lines = ["line %04d %s" % (i, "x" * (i % 50)) for i in range(500)]
    with StdioServer("tcp://127.0.0.1:%d" % port, "-v") as srv:
        srv.type("".join(l + "\n" for l in lines))
        time.sleep(0.3)  # the server has read them with nobody connected
        client = tutorial_client(port, "hi")
        want = "".join(l + "\n" for l in lines).encode()
        got = recv_exact(client, len(want))
        check_eq(got, want, "typed-ahead lines, in order, none lost")
        srv.type("after\n")
        check_eq(recv_exact(client, 6), b"after\n", "a line typed after connecting")
        check(srv.out.wait_for(b"hi"), "client message printed")
        client.close()


def test_typed_ahead_lines_and_stdin_eof_before_any_client():
    """stdin ends before anyone connects: the first client still gets every
    line, then EOF."""
    port = free_port()
    with StdioServer("tcp://127.0.0.1:%d" % port) as srv:
        srv.type("one\ntwo\nthree\n")
        srv.close_stdin()
        time.sleep(0.3)
        client = tutorial_client(port, "late")
        got, err = recv_until_eof(client)
        check_eq((got, err), (b"one\ntwo\nthree\n", None), "lines then EOF")
        client.close()
        check(srv.out.wait_for(b"late"), "the late client's message is printed")


def test_each_line_goes_to_every_client_and_both_are_printed():
    port = free_port()
    with StdioServer("tcp://127.0.0.1:%d" % port, "-v") as srv:
        a = tutorial_client(port, "from-a;")
        b = tutorial_client(port, "from-b;")
        check(wait_accepts(srv, 2), "two clients accepted")
        check(srv.out.wait_for(b"from-a;") and srv.out.wait_for(b"from-b;"),
              "both messages printed: %r" % srv.out.data())
        srv.type("to everyone\n")
        check_eq(recv_exact(a, 12), b"to everyone\n", "client a")
        check_eq(recv_exact(b, 12), b"to everyone\n", "client b")
        a.close()
        check(wait_for(lambda: " close fd=" in srv.log(), 5), "a's close logged")
        srv.type("only b\n")
        check_eq(recv_exact(b, 7), b"only b\n", "client b after a left")
        srv.close_stdin()
        check_eq(recv_until_eof(b), (b"", None), "b sees EOF after stdin ends")
        b.close()


def test_line_typed_between_clients_waits_for_the_next_one():
    port = free_port()
    with StdioServer("tcp://127.0.0.1:%d" % port, "-v") as srv:
        a = tutorial_client(port, "a")
        check(wait_accepts(srv, 1), "accepted")
        a.close()
        check(wait_for(lambda: " close fd=" in srv.log(), 5), "close logged")
        srv.type("for whoever comes next\n")
        time.sleep(0.2)
        b = tutorial_client(port, "b")
        check_eq(recv_exact(b, 23), b"for whoever comes next\n", "line kept for the next client")
        b.close()


def test_large_binary_message_printed_exactly():
    """Everything a client sends reaches stdout byte for byte, even when
    stdout is a slow pipe."""
    port = free_port()
    data = os.urandom(1 << 20)
    with StdioServer("tcp://127.0.0.1:%d" % port) as srv:
        c = socket.create_connection(("127.0.0.1", port), timeout=t(10))
        c.sendall(data)
        c.shutdown(socket.SHUT_WR)
        check(wait_for(lambda: len(srv.out.data()) >= len(data), 10),
              "1 MiB printed (%d bytes)" % len(srv.out.data()))
        check(srv.out.data() == data, "stdout is byte-exact")
        c.close()


def test_sigterm_with_stdin_open_exits_0():
    port = free_port()
    srv = StdioServer("tcp://127.0.0.1:%d" % port).start()
    c = tutorial_client(port, "x")
    srv.out.wait_for(b"x")
    srv.send_signal(signal.SIGTERM)
    check_eq(srv.wait_exit(t(5)), 0, "exit status after SIGTERM while stdin is still open")
    check_eq(recv_until_eof(c), (b"", None), "the client sees EOF")
    c.close()
    srv.stop()


# ---------------------------------------------------------------- terminal

def read_pty_until(master, needle, timeout=5):
    """Reads the pty master until needle appears; returns what was read."""
    buf = b""
    deadline = time.monotonic() + t(timeout)
    while needle not in buf and time.monotonic() < deadline:
        r, _, _ = select.select([master], [], [], 0.1)
        if r:
            try:
                b = os.read(master, 65536)
            except OSError:
                break
            if not b:
                break
            buf += b
    return buf


def test_operator_at_a_terminal():
    """stdin and stdout are a terminal (python pty): the typed line reaches
    the client; the client's message is shown on the terminal; Ctrl-D ends
    stdin and the client sees EOF."""
    port = free_port()
    master, slave = pty.openpty()
    srv = StdioServer("tcp://127.0.0.1:%d" % port, "-v", stdin=slave, stdout=slave)
    try:
        srv.start()
        os.close(slave)
        slave = None
        client = tutorial_client(port, UTF8_MSG)
        shown = read_pty_until(master, UTF8_MSG.encode())
        check(UTF8_MSG.encode() in shown, "client message on the terminal: %r" % shown)
        os.write(master, "typed at the tty é\n".encode())
        want = "typed at the tty é\n".encode()
        check_eq(recv_exact(client, len(want)), want, "typed line reaches the client")
        os.write(master, b"\x04")  # Ctrl-D at the start of a line: EOF
        check_eq(recv_until_eof(client), (b"", None), "Ctrl-D: the client sees EOF")
        client.close()
    finally:
        if slave is not None:
            os.close(slave)
        srv.stop()
        os.close(master)


def test_operator_under_script():
    """The same under `script -qfc` (a real terminal session)."""
    if VALGRIND:
        return  # script + valgrind quoting is not worth it
    port = free_port()
    srv = StdioServer("tcp://127.0.0.1:%d" % port, "-v")
    # script allocates a pty; the server runs inside it; we type into script's stdin
    inner = " ".join([SOCKIT, "serve", "stdio", "tcp://127.0.0.1:%d" % port, "-v",
                      "2>" + srv.logpath])
    srv.cmd = lambda: ["script", "-qfc", inner, "/dev/null"]
    srv.start()
    try:
        client = tutorial_client(port, UTF8_MSG)
        check(srv.out.wait_for(UTF8_MSG.encode()), "client message on script's output: %r"
              % srv.out.data())
        srv.type("from script\n")
        check_eq(recv_exact(client, 12), b"from script\n", "typed line reaches the client")
        srv.type("\x04")
        check_eq(recv_until_eof(client), (b"", None), "Ctrl-D: the client sees EOF")
        client.close()
        # stop the sockit process inside script (script's own child)
        kids = open("/proc/%d/task/%d/children" % (srv.pid, srv.pid)).read().split()
        for k in kids:
            os.kill(int(k), signal.SIGTERM)
        rc = srv.wait_exit(t(5))
        check_eq(rc, 0, "script (and sockit inside it) exit status after SIGTERM")
    finally:
        srv.stop()


if __name__ == "__main__":
    main()
