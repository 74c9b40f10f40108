"""test_chat_lines.py — chat is a line service: on stream
transports (tcp, unix, tls) each line is a message by default (`text`
framing), however the client sends it: piped `sockit connect`, several
--send, a tutorial client with one unterminated line per send(), lines cut
across reads, the last line before EOF; `--frame raw` still overrides."""
import os
import re
import socket
import time

from harness import (LineSock, Server, check, check_eq, free_port, main, run_connect, t,
                     tmpdir)

WELCOME = re.compile(rb"\* welcome (\S+) \(")


def lines_of(sock, n, timeout=5):
    """Reads until n lines arrived (or timeout); returns them as str."""
    if not isinstance(sock, LineSock):
        sock = LINES.setdefault(sock, LineSock(sock))
    got = []
    while len(got) < n:
        ln = sock.line(timeout)
        if ln is None:
            break
        got.append(ln)
    return got


LINES = {}  # a reader per socket, so that no line read ahead is lost


def listener(port):
    """A plain chat member that has read its welcome."""
    s = socket.create_connection(("127.0.0.1", port), timeout=t(5))
    lines_of(s, 1)
    return s


def test_piped_lines_are_messages():
    """`printf '/who\\nhello\\n' | sockit connect tcp://…` — the issue's example."""
    port = free_port()
    with Server("chat", "tcp://127.0.0.1:%d" % port):
        other = listener(port)
        r = run_connect(["tcp://127.0.0.1:%d" % port, "--wait", "0.5"], input="/who\nhello\n")
        check_eq(r.returncode, 0, "connect exit status")
        out = r.stdout.decode()
        check(re.search(r"^\* 2 here: ", out, re.M), "/who answered: %r" % out)
        got = lines_of(other, 2)
        check(any(l.endswith(": hello") for l in got), "the other member got hello: %r" % got)
        check(not any("/who" in l for l in got), "/who was not broadcast: %r" % got)
        other.close()


def test_several_sends_stay_apart():
    port = free_port()
    with Server("chat", "tcp://127.0.0.1:%d" % port):
        other = listener(port)
        r = run_connect(["tcp://127.0.0.1:%d" % port, "--send", "/who", "--send", "hello",
                         "--wait", "0.5"])
        out = r.stdout.decode()
        check(re.search(r"^\* 2 here: ", out, re.M), "/who via --send answered: %r" % out)
        got = lines_of(other, 2)
        check(any(l.endswith(": hello") for l in got), "--send hello broadcast: %r" % got)
        other.close()


def test_tutorial_client_unterminated_sends():
    """T6-style client: one send() per message, no newline, waits in between."""
    port = free_port()
    with Server("chat", "tcp://127.0.0.1:%d" % port):
        other = listener(port)
        s = socket.create_connection(("127.0.0.1", port), timeout=t(5))
        nick = WELCOME.search(s.recv(4096)).group(1).decode()
        lines_of(other, 1)  # joined
        s.sendall(b"/nick tut")
        check_eq(lines_of(s, 1), ["* %s is now tut" % nick], "unterminated /nick is a command")
        lines_of(other, 1)
        for word in ["first", "second"]:
            s.sendall(word.encode())
            check_eq(lines_of(other, 1), ["tut: " + word], "unterminated send %s" % word)
        s.close()
        other.close()


def test_line_cut_across_reads_and_last_line():
    """A line split over two writes after a complete one is reassembled; the
    final unterminated line before a half-close counts."""
    port = free_port()
    with Server("chat", "tcp://127.0.0.1:%d" % port):
        other = listener(port)
        s = socket.create_connection(("127.0.0.1", port), timeout=t(5))
        lines_of(s, 1)
        lines_of(other, 1)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.sendall(b"one\ntw")
        time.sleep(0.2)
        s.sendall(b"o\nthree\nla")
        time.sleep(0.2)
        s.sendall(b"st")
        s.shutdown(socket.SHUT_WR)
        got = [l.split(": ", 1)[1] for l in lines_of(other, 4) if ": " in l]
        check_eq(got, ["one", "two", "three", "last"], "messages seen by the other member")
        s.close()
        other.close()


def test_unix_member_lines():
    path = os.path.join(tmpdir(), "c.sock")
    port = free_port()
    with Server("chat", "tcp://127.0.0.1:%d" % port, "unix://" + path):
        other = listener(port)
        r = run_connect(["unix://" + path, "--wait", "0.5"], input="a\nb\n")
        check_eq(r.returncode, 0, "unix connect")
        got = [l.split(": ", 1)[1] for l in lines_of(other, 4) if ": " in l]
        check_eq(got, ["a", "b"], "two lines from a unix member")
        other.close()


def test_tls_member_lines():
    port, tport = free_port(), free_port()
    with Server("chat", "tcp://127.0.0.1:%d" % port, "tls://127.0.0.1:%d" % tport):
        other = listener(port)
        r = run_connect(["tls://127.0.0.1:%d" % tport, "-k", "--wait", "0.5"],
                        input="/who\nover tls\n")
        check_eq(r.returncode, 0, "tls connect")
        check(re.search(r"^\* 2 here: ", r.stdout.decode(), re.M), "/who over tls: %r" % r.stdout)
        got = [l.split(": ", 1)[1] for l in lines_of(other, 3) if ": " in l]
        check_eq(got, ["over tls"], "a line from a tls member")
        other.close()


def test_frame_raw_overrides():
    """--frame raw: each read is one message, as before."""
    port = free_port()
    with Server("chat", "tcp://127.0.0.1:%d" % port, "--frame", "raw"):
        other = listener(port)
        s = socket.create_connection(("127.0.0.1", port), timeout=t(5))
        lines_of(s, 1)
        lines_of(other, 1)
        s.sendall(b"x\ny\n")
        got = lines_of(other, 2)
        check(len(got) == 2 and got[0].endswith(": x") and got[1] == "y",
              "raw: one message 'x\\ny', not two lines: %r" % got)
        s.close()
        other.close()


if __name__ == "__main__":
    main()
