"""test_ws.py — WebSocket (tutorial T8) interop: Python's `websockets`
client against `sockit serve SERVICE ws://...` (echo, upper, greet, chat,
exec, discard; text, binary, 200 KB, fragmented, ping/pong, close 1000);
raw-socket protocol violations get the right close code (1002, 1007, 1009)
while the server keeps serving others; the HTTP side (page at /, 404, 426);
subprotocols; the Origin allow-list; chat bridging WebSocket, TCP and UNIX
members; `sockit connect ws://` against sockit and against a `websockets`
server written here; connect's errors.

Needs `websockets` (Debian's python3-websockets; tests/interop/install.sh
installs it). If the running python lacks it, re-executes under
/usr/bin/python3."""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)
from harness import need_websockets  # noqa: E402

need_websockets(__file__)

import asyncio  # noqa: E402
import base64  # noqa: E402
import re  # noqa: E402
import socket  # noqa: E402
import struct  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402

import websockets  # noqa: E402,F811
import websockets.exceptions  # noqa: E402

import harness  # noqa: E402
from harness import (Server, check, check_eq, free_port, main, recv_head, run_connect,  # noqa: E402
                     t, tmpdir, wait_for)


def run(coro, timeout=30):
    """Runs one async test body, bounded."""
    return asyncio.run(asyncio.wait_for(coro, t(timeout)))


def wsurl(port, path="/"):
    return "ws://127.0.0.1:%d%s" % (port, path)


async def ws_connect(url, **kw):
    kw.setdefault("open_timeout", t(10))
    kw.setdefault("close_timeout", t(10))
    kw.setdefault("ping_interval", None)
    kw.setdefault("max_size", 1 << 22)
    return await websockets.connect(url, **kw)


async def recv(ws, timeout=10):
    return await asyncio.wait_for(ws.recv(), t(timeout))


async def echo_ok(url, text="still there?"):
    """A fresh client gets its message back: the server is still serving."""
    ws = await ws_connect(url)
    await ws.send(text)
    got = await recv(ws)
    await ws.close()
    return got


# ---------------------------------------------------------------- raw socket helpers

def raw_open(port, path="/", extra=b"", timeout=10):
    """A plain socket that did the opening handshake; returns (sock, leftover)."""
    s, head, rest = raw_handshake(port, path, extra, timeout)
    if not head.startswith(b"HTTP/1.1 101"):
        raise RuntimeError("handshake refused: %r" % head)
    return s, rest


def raw_handshake(port, path="/", extra=b"", timeout=10):
    """A plain socket that sent the opening handshake (extra: more header
    lines) and read the answer's head; returns (sock, head, leftover)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=t(timeout))
    key = base64.b64encode(os.urandom(16))
    s.sendall(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
              b"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " % port
              + key + b"\r\nSec-WebSocket-Version: 13\r\n" + extra + b"\r\n")
    buf = b""
    while b"\r\n\r\n" not in buf:
        b = s.recv(4096)
        if not b:
            raise RuntimeError("handshake: EOF after %r" % buf)
        buf += b
    head, rest = buf.split(b"\r\n\r\n", 1)
    return s, head, rest


def frame(opcode, payload, fin=True, mask=True, rsv=0):
    b0 = (0x80 if fin else 0) | (rsv << 4) | opcode
    n = len(payload)
    m = 0x80 if mask else 0
    if n < 126:
        hdr = bytes([b0, m | n])
    elif n < 65536:
        hdr = bytes([b0, m | 126]) + struct.pack(">H", n)
    else:
        hdr = bytes([b0, m | 127]) + struct.pack(">Q", n)
    if not mask:
        return hdr + payload
    key = os.urandom(4)
    return hdr + key + bytes(c ^ key[i % 4] for i, c in enumerate(payload))


class FrameReader:
    def __init__(self, sock, leftover=b""):
        self.s = sock
        self.buf = leftover

    def _need(self, n):
        while len(self.buf) < n:
            b = self.s.recv(65536)
            if not b:
                raise EOFError("EOF")
            self.buf += b

    def next(self):
        """(opcode, payload) of the next (unmasked, server) frame."""
        self._need(2)
        b0, b1 = self.buf[0], self.buf[1]
        n, off = b1 & 0x7F, 2
        if n == 126:
            self._need(4)
            n, off = struct.unpack(">H", self.buf[2:4])[0], 4
        elif n == 127:
            self._need(10)
            n, off = struct.unpack(">Q", self.buf[2:10])[0], 10
        if b1 & 0x80:
            raise RuntimeError("server frame is masked")
        self._need(off + n)
        payload = self.buf[off:off + n]
        self.buf = self.buf[off + n:]
        return b0 & 0x0F, payload


def close_code_after(port, data, path="/"):
    """Opens a raw connection, sends data (already framed); returns the close
    code the server sends (None if it closed without a close frame), after
    checking the TCP connection then ends."""
    s, rest = raw_open(port, path)
    try:
        s.sendall(data)
        r = FrameReader(s, rest)
        while True:
            try:
                op, payload = r.next()
            except (EOFError, OSError):
                return None
            if op == 0x8:
                code = struct.unpack(">H", payload[:2])[0] if len(payload) >= 2 else 1005
                # the server closes the TCP connection after its close frame
                try:
                    s.settimeout(t(5))
                    tail = s.recv(100)
                except OSError:
                    tail = b""
                check(tail == b"", "after close %d the server sent more: %r" % (code, tail))
                return code
    finally:
        s.close()


def http_get(port, path, headers=b""):
    """A plain HTTP/1.1 GET; returns (status, headers dict (lower-case), body)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=t(10))
    s.sendall(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n" % port
              + headers + b"\r\n")
    data = b""
    while True:
        b = s.recv(65536)
        if not b:
            break
        data += b
    s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1]) if lines and len(lines[0].split()) > 1 else None
    hdrs = {}
    for ln in lines[1:]:
        k, _, v = ln.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    return status, hdrs, body


# ---------------------------------------------------------------- services over ws://

def test_echo_text_binary_large_fragmented_ping_close():
    port = free_port()
    with Server("echo", wsurl(port, "/echo")):
        async def body():
            ws = await ws_connect(wsurl(port, "/echo"))
            await ws.send("héllo wörld")
            got = await recv(ws)
            check_eq(got, "héllo wörld", "text echo (a str: a text frame)")
            await ws.send(b"\x00\x01\xfe\xff")
            got = await recv(ws)
            check_eq(got, b"\x00\x01\xfe\xff", "binary echo (bytes: a binary frame)")
            big = bytes((i * 7) & 0xFF for i in range(200 * 1024))
            await ws.send(big)
            got = await recv(ws, 20)
            check(got == big, "200 KB binary echo: got %d bytes" % len(got or b""))
            bigtext = ("0123456789abcdef" * 12800)  # 200 KiB of text
            await ws.send(bigtext)
            got = await recv(ws, 20)
            check(got == bigtext, "200 KB text echo: got %r" % type(got))
            # a fragmented text message (websockets sends a continuation per item)
            await ws.send(iter(["frag", "men", "ted ", "text"]))
            got = await recv(ws)
            check_eq(got, "fragmented text", "fragmented text message")
            await ws.send(iter([b"\x01\x02", b"\x03"]))
            got = await recv(ws)
            check_eq(got, b"\x01\x02\x03", "fragmented binary message")
            pong = await ws.ping(b"are you there")
            await asyncio.wait_for(pong, t(5))
            # after the text again, replies are text frames
            await ws.send("again")
            check_eq(await recv(ws), "again", "text after binary")
            await ws.close()
            check_eq(ws.close_code, 1000, "close code on a normal close")
        run(body())


def test_upper():
    port = free_port()
    with Server("upper", wsurl(port)):
        async def body():
            ws = await ws_connect(wsurl(port))
            for msg, want in (("hello", "HELLO"), ("Mixed Case 123 é", "MIXED CASE 123 é"),
                              ("a" * 70000, "A" * 70000)):
                await ws.send(msg)
                check_eq(await recv(ws), want, "upper of %r" % msg[:20])
            await ws.send(b"abc\xff")
            check_eq(await recv(ws), b"ABC\xff", "upper of binary")
            await ws.close()
            check_eq(ws.close_code, 1000, "close code")
        run(body())


def test_greet_then_close_1000():
    port = free_port()
    with Server("greet", wsurl(port, "/hi"), "--text", "hello there\r\n"):
        async def body():
            ws = await ws_connect(wsurl(port, "/hi"))
            check_eq(await recv(ws), "hello there\r\n", "greeting")
            try:
                extra = await recv(ws)
                check(False, "greet sent a second message %r" % extra)
            except websockets.exceptions.ConnectionClosed:
                pass
            await ws.wait_closed()
            check_eq(ws.close_code, 1000, "greet closes with a close frame, code 1000 "
                     "(repro: sockit serve greet ws://127.0.0.1:P/ ; a websockets client "
                     "sees 1006)")
        run(body())


def test_exec():
    port = free_port()
    with Server("exec", wsurl(port)):
        async def body():
            ws = await ws_connect(wsurl(port))
            await ws.send("echo hi there")
            got = await recv(ws)
            check(isinstance(got, str) and "hi there" in got and "[exit 0]" in got,
                  "exec echo: %r" % got)
            await ws.send("true")
            got = await recv(ws)
            check(isinstance(got, str) and "[exit 0]" in got, "exec true gets a reply: %r" % got)
            await ws.send("sh -c 'exit 3'")
            got = await recv(ws)
            check("[exit 3]" in str(got), "exit status 3: %r" % got)
            await ws.close()
            check_eq(ws.close_code, 1000, "close code")
        run(body())


def test_discard():
    port = free_port()
    with Server("discard", wsurl(port)):
        async def body():
            ws = await ws_connect(wsurl(port))
            for i in range(50):
                await ws.send("x" * 1000)
            await ws.send(b"\x00" * 100000)
            try:
                got = await recv(ws, 0.5)
                check(False, "discard replied %r" % got)
            except asyncio.TimeoutError:
                pass
            pong = await ws.ping()
            await asyncio.wait_for(pong, t(5))
            await ws.close()
            check_eq(ws.close_code, 1000, "close code")
        run(body())


def test_server_ping():
    """--ws-ping 1: the server pings an idle client with a payload, and a
    websockets client (which answers) stays connected."""
    port = free_port()
    with Server("echo", wsurl(port), "--ws-ping", "1"):
        s, rest = raw_open(port)
        r = FrameReader(s, rest)
        s.settimeout(t(5))
        op, payload = r.next()
        check_eq(op, 0x9, "a ping frame within ~1 s")
        s.sendall(frame(0xA, payload))
        s.sendall(frame(0x1, b"after pong"))
        op, payload = r.next()
        check_eq((op, payload), (0x1, b"after pong"), "echo after answering the ping")
        s.close()

        async def body():
            ws = await ws_connect(wsurl(port))
            await asyncio.sleep(t(2.5))
            await ws.send("alive")
            check_eq(await recv(ws), "alive", "echo after the server's pings")
            await ws.close()
        run(body())


# ---------------------------------------------------------------- protocol violations

def test_protocol_violations_close_codes():
    port = free_port()
    url = wsurl(port, "/ws")
    with Server("echo", url, "--max-frame", "1000"):
        async def keep():  # a client that stays connected through it all
            return await ws_connect(url)
        loop = asyncio.new_event_loop()
        try:
            bystander = loop.run_until_complete(asyncio.wait_for(keep(), t(10)))
            cases = [
                ("unmasked client frame", frame(0x1, b"hello", mask=False), 1002),
                ("reserved bit RSV1 without an extension", frame(0x1, b"hello", rsv=4), 1002),
                ("reserved bit RSV3", frame(0x2, b"hello", rsv=1), 1002),
                ("unknown opcode 0x3", frame(0x3, b"hello"), 1002),
                ("unknown control opcode 0xB", frame(0xB, b""), 1002),
                ("invalid UTF-8 text", frame(0x1, b"ab\xc3\x28cd"), 1007),
                ("invalid UTF-8 across fragments",
                 frame(0x1, b"ok\xe2", fin=False) + frame(0x0, b"\x28\xa1"), 1007),
                ("text over --max-frame 1000", frame(0x1, b"a" * 1001), 1009),
                ("fragmented message over --max-frame 1000",
                 frame(0x2, b"a" * 600, fin=False) + frame(0x0, b"b" * 600), 1009),
                ("ping payload of 126 bytes", frame(0x9, b"p" * 126), 1002),
                ("fragmented ping", frame(0x9, b"p", fin=False), 1002),
                ("continuation without a start", frame(0x0, b"x"), 1002),
            ]
            for what, data, want in cases:
                got = close_code_after(port, data, "/ws")
                check_eq(got, want, "close code for %s" % what)
                got = run(echo_ok(url, "after " + what))
                check_eq(got, "after " + what, "a new client is served after %s" % what)
            # a message of exactly --max-frame is fine
            got = close_code_after(port, frame(0x1, b"a" * 1000) + frame(0x8, b"\x03\xe8"), "/ws")
            check_eq(got, 1000, "exactly --max-frame, then a normal close")

            async def still():
                await bystander.send("bystander")
                got = await recv(bystander)
                await bystander.close()
                return got, bystander.close_code
            got = loop.run_until_complete(asyncio.wait_for(still(), t(10)))
            check_eq(got, ("bystander", 1000), "the connected bystander was not disturbed")
        finally:
            loop.close()


def test_close_handshake_echoes_code():
    """A client close frame gets a close frame back with the same code."""
    port = free_port()
    with Server("echo", wsurl(port)):
        got = close_code_after(port, frame(0x8, struct.pack(">H", 1001) + b"bye"))
        check_eq(got, 1001, "the server answers a close 1001 with 1001")
        got = close_code_after(port, frame(0x1, b"x") + frame(0x8, struct.pack(">H", 1000)))
        check_eq(got, 1000, "close 1000 after a message")


# ---------------------------------------------------------------- HTTP side

def test_http_page_404_426():
    port = free_port()
    with Server("echo", wsurl(port, "/sock")):
        status, hdrs, body = http_get(port, "/")
        check_eq(status, 200, "GET / status")
        check("text/html" in hdrs.get("content-type", ""), "GET / content type: %r" % hdrs)
        check(b"<html" in body, "GET / body has <html: %r" % body[:100])
        check(b'"/sock"' in body, "the page names the ws path /sock")
        check_eq(hdrs.get("content-length"), str(len(body)), "Content-Length of the page")
        status, _, _ = http_get(port, "/nope")
        check_eq(status, 404, "GET /nope")
        status, hdrs, _ = http_get(port, "/sock")
        check_eq(status, 426, "plain GET on the ws path")
        check_eq(hdrs.get("upgrade", "").lower(), "websocket", "426 names Upgrade: websocket")
        status, _, _ = http_get(port, "/?x=1")
        check_eq(status, 200, "GET /?x=1 (query ignored)")
        check_eq(run(echo_ok(wsurl(port, "/sock"))), "still there?", "ws on /sock works")

        async def wrong_path():
            try:
                await ws_connect(wsurl(port, "/other"))
                return None
            except websockets.exceptions.InvalidStatusCode as e:
                return e.status_code
        check_eq(run(wrong_path()), 404, "a WebSocket upgrade on another path")


# ---------------------------------------------------------------- subprotocols, origins

def test_subprotocol():
    port = free_port()
    with Server("echo", wsurl(port), "--ws-protocol", "chat", "--ws-protocol", "superchat"):
        async def body():
            ws = await ws_connect(wsurl(port), subprotocols=["x", "chat"])
            check_eq(ws.subprotocol, "chat", "agreed subprotocol for an offer of x, chat")
            await ws.send("p")
            check_eq(await recv(ws), "p", "echo with a subprotocol")
            await ws.close()
            ws = await ws_connect(wsurl(port), subprotocols=["superchat", "chat"])
            check_eq(ws.subprotocol, "superchat", "the client's first acceptable choice")
            await ws.close()
            ws = await ws_connect(wsurl(port))
            check_eq(ws.subprotocol, None, "no offer, no subprotocol")
            await ws.close()
        run(body())
    # raw: the exact header
    with Server("echo", wsurl(port), "--ws-protocol", "chat"):
        s = socket.create_connection(("127.0.0.1", port), timeout=t(10))
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                  b"Sec-WebSocket-Protocol: x, chat\r\n\r\n")
        head = recv_head(s)
        s.close()
        check(head.startswith(b"HTTP/1.1 101"), "101: %r" % head[:40])
        check(re.search(rb"(?i)\r\nSec-WebSocket-Protocol: *chat\r\n", head),
              "Sec-WebSocket-Protocol: chat in %r" % head)
        check(b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" in head, "RFC 6455 sample accept key in %r" % head)


def test_origin_allow_list():
    port = free_port()
    with Server("echo", wsurl(port), "--ws-origin", "http://good.example",
                "--ws-origin", "http://also.example:8080"):
        async def body():
            ws = await ws_connect(wsurl(port), origin="http://good.example")
            await ws.send("ok")
            check_eq(await recv(ws), "ok", "allowed origin")
            await ws.close()
            ws = await ws_connect(wsurl(port), origin="http://also.example:8080")
            await ws.close()
            try:
                await ws_connect(wsurl(port), origin="http://evil.example")
                check(False, "a foreign origin was accepted")
            except websockets.exceptions.InvalidStatusCode as e:
                check_eq(e.status_code, 403, "status for a foreign origin")
        run(body())
        status, _, _ = http_get(port, "/", b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
                                b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                                b"Sec-WebSocket-Version: 13\r\nOrigin: http://evil.example\r\n")
        check_eq(status, 403, "raw upgrade from a foreign origin")


# ---------------------------------------------------------------- chat bridging

class LineSock(harness.LineSock):
    def until(self, pred, timeout=10):
        """Lines until one matches pred; returns it (or None)."""
        deadline = time.monotonic() + t(timeout)
        while time.monotonic() < deadline:
            ln = self.line(max(0.1, (deadline - time.monotonic()) / max(t(1), 1e-9)))
            if ln is None:
                return None
            if pred(ln):
                return ln
        return None


def test_chat_bridges_ws_tcp_unix():
    tport, wport = free_port(), free_port()
    path = os.path.join(tmpdir(), "chat.sock")
    with Server("chat", "tcp://127.0.0.1:%d" % tport, wsurl(wport, "/chat"), "unix://" + path):
        async def body():
            tcp = LineSock(socket.create_connection(("127.0.0.1", tport), timeout=t(10)))
            check(tcp.line() and True, "tcp welcome")
            u = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            u.settimeout(t(10))
            u.connect(path)
            unix = LineSock(u)
            check(unix.line() and True, "unix welcome")
            ws = await ws_connect(wsurl(wport, "/chat"))
            welcome = await recv(ws)
            check(isinstance(welcome, str) and "welcome" in welcome, "ws welcome %r" % welcome)
            await ws.send("/nick webby")
            # the others see the join and the rename; wait for the rename
            tcp.until(lambda ln: "webby" in ln)
            unix.until(lambda ln: "webby" in ln)
            await ws.send("hello from the web")
            got = tcp.until(lambda ln: "hello from the web" in ln)
            check_eq(got, "webby: hello from the web", "tcp member sees the ws message")
            got = unix.until(lambda ln: "hello from the web" in ln)
            check_eq(got, "webby: hello from the web", "unix member sees the ws message")
            tcp.s.sendall(b"/nick tcpguy\n")  # tcp is raw framing: one message per write
            unix.until(lambda ln: "tcpguy" in ln)
            tcp.s.sendall(b"hi from tcp\n")

            async def ws_until(pred, timeout=10):
                deadline = time.monotonic() + t(timeout)
                while time.monotonic() < deadline:
                    m = await recv(ws, max(0.1, deadline - time.monotonic()) / max(t(1), 1e-9))
                    if pred(m):
                        return m
                return None
            got = await ws_until(lambda m: "hi from tcp" in m)
            check_eq(got, "tcpguy: hi from tcp", "ws member sees the tcp message (no newline)")
            got = unix.until(lambda ln: "hi from tcp" in ln)
            check_eq(got, "tcpguy: hi from tcp", "unix member sees the tcp message")
            unix.s.sendall(b"hi from unix\n")
            got = await ws_until(lambda m: "hi from unix" in m)
            check(got and got.endswith(": hi from unix"), "ws member sees the unix message %r" % got)
            got = tcp.until(lambda ln: "hi from unix" in ln)
            check(got and got.endswith(": hi from unix"), "tcp sees the unix message %r" % got)
            await ws.close()
            check_eq(ws.close_code, 1000, "ws close code")
            got = tcp.until(lambda ln: "webby" in ln and "left" in ln)
            check(got, "tcp member sees the ws member leave")
            tcp.s.close()
            u.close()
        run(body())


def test_chat_counts_only_members():
    """Connections still in the HTTP/WebSocket handshake (or fetching the
    page) are not chat members: not in the welcome count nor in /who."""
    port = free_port()
    with Server("chat", wsurl(port)):
        async def body():
            idle = [socket.create_connection(("127.0.0.1", port), timeout=t(10)) for _ in range(2)]
            try:
                await asyncio.sleep(t(0.2))
                ws = await ws_connect(wsurl(port))
                welcome = await recv(ws)
                check("(1 here;" in welcome,
                      "welcome counts only WebSocket members, not 2 idle pre-handshake "
                      "connections: %r (repro: serve chat ws://127.0.0.1:P/; open 2 plain TCP "
                      "connections to P; a ws client is welcomed with '3 here')" % welcome)
                await ws.send("/who")
                who = await recv(ws)
                check(who.startswith("* 1 here:"), "/who lists only members: %r" % who)
                await ws.close()
            finally:
                for s in idle:
                    s.close()
        run(body())


# ---------------------------------------------------------------- sockit connect ws://

class PyWsServer:
    """A websockets echo server in a thread; records (type, message) pairs
    and the close code it saw for each connection."""

    def __init__(self, greeting=None, subprotocols=None):
        self.port = free_port()
        self.greeting = greeting
        self.subprotocols = subprotocols
        self.got = []
        self.close_codes = []
        self.protocols = []
        self.paths = []
        self._ready = threading.Event()

    async def _handler(self, ws, path=None):
        self.paths.append(path if path is not None else getattr(ws, "path", None))
        self.protocols.append(ws.subprotocol)
        if self.greeting is not None:
            await ws.send(self.greeting)
        try:
            async for msg in ws:
                self.got.append(msg)
                await ws.send(msg)
        except websockets.exceptions.ConnectionClosed:
            pass
        self.close_codes.append(ws.close_code)

    def _run(self):
        async def serve():
            self._stop = asyncio.get_running_loop().create_future()
            async with websockets.serve(self._handler, "127.0.0.1", self.port,
                                        subprotocols=self.subprotocols, ping_interval=None):
                self._ready.set()
                await self._stop
        self.loop = asyncio.new_event_loop()
        self.loop.run_until_complete(serve())
        self.loop.close()

    def __enter__(self):
        self.th = threading.Thread(target=self._run, daemon=True)
        self.th.start()
        if not self._ready.wait(10):
            raise RuntimeError("python websockets server did not start")
        return self

    def __exit__(self, *exc):
        self.loop.call_soon_threadsafe(self._stop.set_result, None)
        self.th.join(10)
        return False


def test_connect_against_sockit():
    port = free_port()
    with Server("upper", wsurl(port, "/u")):
        r = run_connect([wsurl(port, "/u"), "--send", "hello", "--send", "wörld"])
        check_eq(r.returncode, 0, "connect --send exit status (stderr %r)" % r.stderr)
        check_eq(r.stdout, "HELLO\nWÖRLD\n".replace("Ö", "ö").encode(), "--send replies")
        r = run_connect([wsurl(port, "/u"), "--wait", "1"], input="one\ntwo\n\nthree")
        check_eq(r.returncode, 0, "piped connect exit status (stderr %r)" % r.stderr)
        check_eq(r.stdout, b"ONE\nTWO\nTHREE\n", "piped lines, each one message")
        r = run_connect([wsurl(port, "/u"), "--binary", "--send", "bin"])
        check_eq(r.returncode, 0, "--binary exit status")
        check_eq(r.stdout, b"BIN\n", "--binary reply")
    # a greeting is printed and not counted as the reply to --send x (see
    # test_connect_replies.py): connect then waits for --wait's silence
    with Server("greet", wsurl(port, "/g")):
        r = run_connect([wsurl(port, "/g"), "--send", "x"])
        check_eq(r.returncode, 0, "connect --send to greet: exit status (stderr %r)" % r.stderr)
        check_eq(r.stdout, b"Thank you for connecting\r\n", "the greeting is printed")


def test_connect_against_python_server():
    with PyWsServer(subprotocols=["chat"]) as srv:
        url = "ws://127.0.0.1:%d/some/path?q=1" % srv.port
        r = run_connect([url, "--send", "ping one", "--ws-protocol", "chat"])
        check_eq(r.returncode, 0, "--send exit status (stderr %r)" % r.stderr)
        check_eq(r.stdout, b"ping one\n", "greeting and echo")
        check(wait_for(lambda: len(srv.close_codes) >= 1), "python server saw the close")
        check_eq(srv.close_codes[:1], [1000], "sockit connect closes with 1000")
        check_eq(srv.protocols[:1], ["chat"], "subprotocol agreed with the python server")
        check_eq(srv.paths[:1], ["/some/path?q=1"], "request path with query")
        check_eq(srv.got[:1], ["ping one"], "a text message (str) arrived")

        r = run_connect([url, "--wait", "1"], input="l1\nl2\n")
        check_eq(r.returncode, 0, "piped exit status (stderr %r)" % r.stderr)
        check_eq(r.stdout, b"l1\nl2\n", "piped lines")
        check_eq(srv.got[1:3], ["l1", "l2"], "python server got two text messages")

        r = run_connect([url, "--binary", "--send", "bytes please"])
        check_eq(r.returncode, 0, "--binary exit status")
        check_eq(srv.got[3:4], [b"bytes please"], "--binary arrives as a binary message")
        check_eq(r.stdout, b"bytes please\n", "--binary replies")

        big = "z" * 100000
        r = run_connect([url, "--send", big])
        check_eq(r.returncode, 0, "100 KB --send exit status")
        check(r.stdout == (big + "\n").encode(), "100 KB round trip")
        check(wait_for(lambda: len(srv.close_codes) >= 4), "all closes seen")
        check_eq(srv.close_codes, [1000] * len(srv.close_codes), "every close was 1000")


def test_connect_errors():
    port = free_port()
    with Server("echo", wsurl(port, "/ws")):
        r = run_connect([wsurl(port, "/nope"), "--send", "x"])
        check_eq(r.returncode, 1, "exit status on a refused handshake (404)")
        err = r.stderr.decode("utf-8", "replace").strip()
        check(len(err.splitlines()) == 1 and "/nope" in err and "handshake" in err.lower(),
              "one clear stderr line naming the URL and the handshake: %r" % err)
    closed = free_port()
    r = run_connect([wsurl(closed, "/"), "--send", "x"])
    check_eq(r.returncode, 1, "exit status on connection refused")
    err = r.stderr.decode("utf-8", "replace").strip()
    check(len(err.splitlines()) == 1 and str(closed) in err and "refused" in err.lower(),
          "one clear stderr line for connection refused: %r" % err)
    # a TCP server that is not WebSocket at all
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    p = srv.getsockname()[1]

    def answer():
        c, _ = srv.accept()
        c.recv(4096)
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nno")
        c.close()
    th = threading.Thread(target=answer, daemon=True)
    th.start()
    r = run_connect([wsurl(p, "/"), "--send", "x"])
    th.join(5)
    srv.close()
    check_eq(r.returncode, 1, "exit status when the server answers 200 instead of 101")
    check(r.stderr.strip() and len(r.stderr.strip().splitlines()) == 1,
          "one stderr line: %r" % r.stderr)


if __name__ == "__main__":
    main()
