"""test_ws_refused.py — a refused WebSocket handshake says what the server
answered: `WebSocket handshake failed: 404 Not Found` (a wrong path), `403
Forbidden` (--ws-origin), `426 Upgrade Required`, a status without a reason
phrase, and a malformed answer; in `connect` (exit 1, one line) and in
`bench`'s error report."""
import socket
import threading

from harness import (Server, check, check_eq, free_port, main, recv_head, run_connect, run_sockit,
                     t)


class OneAnswer:
    """A plain socket server that answers every request with fixed bytes."""

    def __init__(self, answer):
        self.answer = answer
        self.ls = socket.socket()
        self.ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.ls.bind(("127.0.0.1", 0))
        self.ls.listen(8)
        self.port = self.ls.getsockname()[1]
        self.th = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while True:
            try:
                c, _ = self.ls.accept()
            except OSError:
                return
            c.settimeout(5)
            try:
                recv_head(c)
                c.sendall(self.answer)
            except OSError:
                pass
            c.close()

    def __enter__(self):
        self.th.start()
        return self

    def __exit__(self, *exc):
        self.ls.close()
        return False


def refused(url, want, *extra):
    r = run_connect([url, "--send", "x"] + list(extra))
    check_eq(r.returncode, 1, "exit status for %s" % want)
    err = r.stderr.decode().strip()
    check_eq(err, "sockit: %s: WebSocket handshake failed: %s" % (url, want), "the one line")


def test_sockit_server_404_and_403():
    port = free_port()
    with Server("echo", "ws://127.0.0.1:%d/echo" % port, "--ws-origin", "http://good.example"):
        refused("ws://127.0.0.1:%d/other" % port, "404 Not Found")
        refused("ws://127.0.0.1:%d/echo" % port, "403 Forbidden", "--ws-origin", "http://bad.example")
        r = run_connect(["ws://127.0.0.1:%d/echo" % port, "--ws-origin", "http://good.example",
                         "--send", "ok"])
        check_eq((r.returncode, r.stdout), (0, b"ok\n"), "the allowed Origin gets in")


def test_other_answers():
    cases = [
        (b"HTTP/1.1 426 Upgrade Required\r\nContent-Length: 0\r\n\r\n", "426 Upgrade Required"),
        (b"HTTP/1.1 500 \r\n\r\n", "500"),
        (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         b"Sec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n\r\n",
         "missing or wrong Sec-WebSocket-Accept"),
        (b"SSH-2.0-OpenSSH_9.2\r\n\r\n", "malformed HTTP response"),
    ]
    for answer, want in cases:
        with OneAnswer(answer) as srv:
            refused("ws://127.0.0.1:%d/" % srv.port, want)


def test_bench_reports_the_status():
    port = free_port()
    with Server("echo", "ws://127.0.0.1:%d/echo" % port):
        r = run_sockit(["bench", "ws://127.0.0.1:%d/nope" % port, "-c", "2", "-n", "4",
                        "--timeout", "2"], timeout=t(30))
        out = (r.stdout + r.stderr).decode()
        check("404 Not Found" in out, "bench names the status: %r" % out[-600:])


if __name__ == "__main__":
    main()
