"""test_connect_replies.py — `sockit connect` in framed modes (ws://, --frame
line, lenN, tls) shows every reply to every --send and the server's own first
message (chat's welcome, greet's greeting, a Python websockets server that
greets), and still exits as soon as the last reply is in."""
import os
import sys

try:
    import websockets
    import websockets.exceptions
except ImportError:  # Debian's python3-websockets is in /usr/bin/python3's path
    if os.path.realpath(sys.executable) != os.path.realpath("/usr/bin/python3") \
            and os.path.exists("/usr/bin/python3") and not os.environ.get("SOCKIT_WS_REEXEC"):
        os.environ["SOCKIT_WS_REEXEC"] = "1"
        os.execv("/usr/bin/python3", ["/usr/bin/python3", os.path.abspath(__file__)] + sys.argv[1:])
    websockets = None

import re  # noqa: E402
import time  # noqa: E402

from harness import Server, check, check_eq, free_port, main, run_connect, t  # noqa: E402


def timed_connect(args, **kw):
    start = time.monotonic()
    r = run_connect(args, **kw)
    return r, time.monotonic() - start


def test_ws_greet_with_empty_stdin_prints_the_greeting():
    port = free_port()
    with Server("greet", "ws://127.0.0.1:%d/" % port):
        r = run_connect(["ws://127.0.0.1:%d/" % port], input=b"")
        check_eq(r.returncode, 0, "exit status (stderr %r)" % r.stderr)
        check_eq(r.stdout, b"Thank you for connecting\r\n", "the greeting")
        r = run_connect(["ws://127.0.0.1:%d/" % port, "--send", "x"])
        check_eq(r.stdout, b"Thank you for connecting\r\n", "the greeting with --send")


def test_ws_chat_welcome_and_every_reply():
    port = free_port()
    with Server("chat", "ws://127.0.0.1:%d/" % port):
        r, took = timed_connect(["ws://127.0.0.1:%d/" % port, "--send", "/who",
                                 "--send", "/nick zed", "--send", "/who"])
        check_eq(r.returncode, 0, "exit status (stderr %r)" % r.stderr)
        lines = r.stdout.decode().splitlines()
        check(len(lines) == 4 and lines[0].startswith("* welcome "), "welcome first: %r" % lines)
        if len(lines) == 4:
            check(re.fullmatch(r"\* 1 here: \S+", lines[1]), "first /who: %r" % lines[1])
            check(lines[2].endswith(" is now zed"), "rename: %r" % lines[2])
            check_eq(lines[3], "* 1 here: zed", "second /who")
        check(took < t(1.5), "exits when the last reply is in (%.2fs)" % took)


def test_tcp_line_chat_and_piped_stdin():
    port = free_port()
    with Server("chat", "tcp://127.0.0.1:%d" % port, "--frame", "line"):
        r, took = timed_connect(["tcp://127.0.0.1:%d" % port, "--frame", "line"],
                                input="/who\n/nick amy\n")
        lines = r.stdout.decode().splitlines()
        check_eq(len(lines), 3, "welcome + two replies: %r" % lines)
        check(lines[-1:] and lines[-1].endswith(" is now amy"), "last reply printed: %r" % lines)
        check(took < t(1.5), "exits when the last reply is in (%.2fs)" % took)


def test_echo_servers_are_unchanged():
    """No greeting: every message is a reply, and the exit is prompt."""
    port = free_port()
    with Server("upper", "ws://127.0.0.1:%d/" % port):
        r, took = timed_connect(["ws://127.0.0.1:%d/" % port, "--send", "a", "--send", "b"])
        check_eq(r.stdout, b"A\nB\n", "two replies")
        check(took < t(1.5), "prompt exit (%.2fs)" % took)
    port = free_port()
    with Server("echo", "tcp://127.0.0.1:%d" % port, "--frame", "len32be"):
        r = run_connect(["tcp://127.0.0.1:%d" % port, "--frame", "len32be", "--send", "x",
                         "--send", "y"])
        check_eq(r.stdout, b"x\ny\n", "len32be replies")


def test_tls_greet_framed():
    port = free_port()
    with Server("greet", "tls://127.0.0.1:%d" % port, "--frame", "line", "--text", "hi there"):
        r = run_connect(["tls://127.0.0.1:%d" % port, "-k", "--frame", "line"], input=b"")
        check_eq(r.returncode, 0, "exit status (stderr %r)" % r.stderr)
        check_eq(r.stdout, b"hi there\n", "the greeting over tls")


def test_python_websockets_server_that_greets():
    if not check(websockets is not None, "python websockets is missing"):
        return
    from test_ws import PyWsServer  # a websockets echo server that may greet
    with PyWsServer(greeting="hello from python") as srv:
        r, took = timed_connect(["ws://127.0.0.1:%d/" % srv.port, "--send", "one",
                                 "--send", "two"])
        check_eq(r.returncode, 0, "exit status (stderr %r)" % r.stderr)
        check_eq(r.stdout, b"hello from python\none\ntwo\n", "the greeting and both replies")
        check(took < t(1.5), "exits when the last reply is in (%.2fs)" % took)
        r = run_connect(["ws://127.0.0.1:%d/" % srv.port], input=b"")
        check_eq(r.stdout, b"hello from python\n", "empty stdin: the greeting")


if __name__ == "__main__":
    main()
