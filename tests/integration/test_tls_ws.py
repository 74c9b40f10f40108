"""test_tls_ws.py — WebSocket over TLS (wss://) with real peers: Python's
`websockets` (verifying against the test CA) on echo/upper/chat, chat
bridging wss:// and tls:// members, the page and 404 over https,
`sockit connect wss://` against sockit and against a `websockets` wss
server, verification failures, a plain ws:// client on the wss port, and
node's `ws` package (tests/interop/ws_client.js, trusting the test CA via
NODE_EXTRA_CA_CERTS).

Needs `websockets` (re-executes under /usr/bin/python3 like test_ws.py);
the node tests need node and tests/interop/node_modules and SKIP without
them unless SOCKIT_REQUIRE_INTEROP is set."""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)
from harness import need_websockets  # noqa: E402

need_websockets(__file__)

import asyncio  # noqa: E402
import http.client  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import socket  # noqa: E402
import ssl  # noqa: E402
import subprocess  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402

import websockets  # noqa: E402,F811
import websockets.exceptions  # noqa: E402

from harness import (REPO, Server, check, check_eq, free_port, main, run_connect, t,  # noqa: E402
                     wait_for, VALGRIND)
from tls_pki import cert_args, pki, client_ctx, skip  # noqa: E402

INTEROP = os.path.join(REPO, "tests", "interop")
def wss(port, path="/"):
    return "wss://127.0.0.1:%d%s" % (port, path)


def run(coro, timeout=30):
    return asyncio.run(asyncio.wait_for(coro, t(timeout)))


async def ws_connect(url, ctx=None, **kw):
    kw.setdefault("open_timeout", t(10))
    kw.setdefault("close_timeout", t(10))
    kw.setdefault("ping_interval", None)
    kw.setdefault("max_size", 1 << 22)
    return await websockets.connect(url, ssl=ctx or client_ctx(pki().ca_crt), **kw)


async def recv(ws, timeout=10):
    return await asyncio.wait_for(ws.recv(), t(timeout))


async def recv_until(ws, pred, timeout=10):
    deadline = time.monotonic() + t(timeout)
    while time.monotonic() < deadline:
        m = await asyncio.wait_for(ws.recv(), max(0.05, deadline - time.monotonic()))
        if pred(m):
            return m
    return None


# ---------------------------------------------------------------- websockets over wss

def test_websockets_wss_echo_upper():
    runs = (("echo", "epoll"), ("upper", "epoll"), ("echo", "uring"))
    for service, io in runs[:2] if VALGRIND else runs:  # memcheck cannot run io_uring
        port = free_port()
        f = (lambda s: s.upper()) if service == "upper" else (lambda s: s)
        with Server(service, wss(port, "/s"), "--io", io, *cert_args()):
            async def body():
                ws = await ws_connect(wss(port, "/s"))
                check_eq(ws.transport.get_extra_info("ssl_object").version(), "TLSv1.3",
                         "%s/%s: TLS version" % (service, io))
                await ws.send("héllo over wss")
                check_eq(await recv(ws), f("héllo over wss").replace("É", "é"),
                         "%s/%s: text" % (service, io))
                await ws.send(b"binary \x00\xff bytes")
                check_eq(await recv(ws), f(b"binary \x00\xff bytes"), "%s/%s: binary" % (service, io))
                big = os.urandom(100000).hex()  # 200 KB of text
                await ws.send(big)
                got = await recv(ws)
                check(got == f(big), "%s/%s: 200 KB message (%d back)" % (service, io, len(got)))
                await ws.send(["frag", "mented"])
                check_eq(await recv(ws), f("fragmented"), "%s/%s: fragmented" % (service, io))
                pong = await ws.ping(b"p")
                await asyncio.wait_for(pong, t(10))
                await ws.close()
                check_eq(ws.close_code, 1000, "%s/%s: close code" % (service, io))
            run(body())


def test_websockets_wss_greet_exec_discard():
    port = free_port()
    with Server("greet", wss(port, "/g"), *cert_args()):
        async def greet():
            ws = await ws_connect(wss(port, "/g"))
            m = await recv(ws)
            await asyncio.wait_for(ws.wait_closed(), t(10))
            return m, ws.close_code
        check_eq(run(greet()), ("Thank you for connecting\r\n", 1000), "greet: greeting, then 1000")
    with Server("exec", wss(port, "/x"), *cert_args()):
        async def ex():
            ws = await ws_connect(wss(port, "/x"))
            await ws.send("echo exec over wss")
            m = await recv(ws)
            await ws.close()
            return m
        got = run(ex())
        check("exec over wss" in got and "[exit 0]" in got, "exec: output and status: %r" % got)
    with Server("discard", wss(port, "/d"), *cert_args()):
        async def discard():
            ws = await ws_connect(wss(port, "/d"))
            await ws.send("x" * 100000)
            try:
                m = await recv(ws, 0.5)
            except asyncio.TimeoutError:
                m = None
            pong = await ws.ping()
            await asyncio.wait_for(pong, t(10))
            await ws.close()
            return m
        check_eq(run(discard()), None, "discard: nothing back, still answering pings")


def test_websockets_wss_chat_with_tls_member():
    """chat on wss:// and tls:// at once: a message crosses both ways."""
    p = pki()
    wport, tport = free_port(), free_port()
    with Server("chat", wss(wport, "/chat"), "tls://127.0.0.1:%d" % tport, *cert_args()):
        async def body():
            raw = socket.create_connection(("127.0.0.1", tport), timeout=t(10))
            tl = client_ctx(p.ca_crt).wrap_socket(raw, server_hostname="127.0.0.1")
            tf = tl.makefile("rb")

            def tline(pred):
                deadline = time.monotonic() + t(10)
                while time.monotonic() < deadline:
                    ln = tf.readline()
                    if not ln:
                        return None
                    ln = ln.decode().rstrip("\r\n")
                    if pred(ln):
                        return ln
                return None
            check("welcome" in (tline(lambda ln: True) or ""), "tls member welcome")
            a = await ws_connect(wss(wport, "/chat"))
            b = await ws_connect(wss(wport, "/chat"))
            check("welcome" in await recv(a), "wss member a welcome")
            check("welcome" in await recv(b), "wss member b welcome")
            await a.send("/nick alice")
            check(await recv_until(b, lambda m: "alice" in m), "b sees the rename")
            await a.send("hello over wss")
            check_eq(await recv_until(b, lambda m: "hello over wss" in m), "alice: hello over wss",
                     "wss member b gets it")
            check_eq(await asyncio.get_running_loop().run_in_executor(
                None, tline, lambda ln: "hello over wss" in ln), "alice: hello over wss",
                "tls member gets it")
            tl.sendall(b"/nick tlsbob\n")
            check(await recv_until(a, lambda m: "tlsbob" in m), "a sees the tls rename")
            tl.sendall(b"hi from tls\n")
            check_eq(await recv_until(a, lambda m: "hi from tls" in m), "tlsbob: hi from tls",
                     "wss member gets the tls member's line")
            await a.close()
            await b.close()
            tl.close()
        run(body())


def test_https_page_and_404():
    p = pki()
    port = free_port()
    with Server("chat", wss(port, "/"), *cert_args()):
        for host in ("127.0.0.1", "localhost"):
            c = http.client.HTTPSConnection(host, port, timeout=t(10), context=client_ctx(p.ca_crt))
            c.request("GET", "/")
            r = c.getresponse()
            body = r.read()
            check_eq(r.status, 200, "https://%s/: status" % host)
            check(b"<title>sockit</title>" in body and b"wss://" in body,
                  "https://%s/: the chat page, which picks wss:// on https" % host)
            c.close()
        c = http.client.HTTPSConnection("127.0.0.1", port, timeout=t(10),
                                        context=client_ctx(p.ca_crt))
        c.request("GET", "/no/such/page")
        r = c.getresponse()
        r.read()
        check_eq(r.status, 404, "an unknown path over https")
        c.close()


def test_wss_refusals_cost_one_connection():
    port = free_port()
    with Server("echo", wss(port, "/e"), "-v", *cert_args()) as srv:
        async def unverified():
            try:
                ws = await ws_connect(wss(port, "/e"), ctx=ssl.create_default_context())
                await ws.close()
                return "connected"
            except ssl.SSLCertVerificationError as e:
                return str(e)
        err = run(unverified())
        check("unable to get local issuer certificate" in err,
              "websockets without the test CA refuses the certificate: %r" % err)

        async def plain():
            try:
                ws = await websockets.connect("ws://127.0.0.1:%d/e" % port, open_timeout=t(5),
                                              close_timeout=t(2))
                await ws.close()
                return "connected"
            except Exception as e:  # noqa: BLE001
                return repr(e)
        err = run(plain())
        check(err != "connected", "a plain ws:// client on the wss port gets no WebSocket")
        check(wait_for(lambda: "http request" in srv.log()),
              "the server logs it as plain HTTP on a TLS port: %s" % srv.log()[-300:])

        async def good():
            ws = await ws_connect(wss(port, "/e"))
            await ws.send("still here")
            m = await recv(ws)
            await ws.close()
            return m
        check_eq(run(good()), "still here", "a good wss client is served after both")


# ---------------------------------------------------------------- sockit connect wss://

class PyWssServer:
    """A websockets echo server over TLS (the test server certificate)."""

    def __init__(self):
        self.port = free_port()
        self.got = []
        self.close_codes = []
        self._ready = threading.Event()

    async def _handler(self, ws, path=None):
        try:
            async for msg in ws:
                self.got.append(msg)
                await ws.send(msg)
        except websockets.exceptions.ConnectionClosed:
            pass
        self.close_codes.append(ws.close_code)

    def _run(self):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(pki().server_crt, pki().server_key)

        async def serve():
            self._stop = asyncio.get_running_loop().create_future()
            async with websockets.serve(self._handler, "127.0.0.1", self.port, ssl=ctx,
                                        ping_interval=None):
                self._ready.set()
                await self._stop
        self.loop = asyncio.new_event_loop()
        self.loop.run_until_complete(serve())
        self.loop.close()

    def __enter__(self):
        self.th = threading.Thread(target=self._run, daemon=True)
        self.th.start()
        if not self._ready.wait(10):
            raise RuntimeError("python websockets wss server did not start")
        return self

    def __exit__(self, *exc):
        self.loop.call_soon_threadsafe(self._stop.set_result, None)
        self.th.join(10)
        return False


def test_connect_wss_against_sockit_and_websockets():
    p = pki()
    port = free_port()
    with Server("upper", wss(port, "/u"), *cert_args()):
        r = run_connect([wss(port, "/u"), "--cafile", p.ca_crt, "--send", "hello", "--send", "wss"])
        check_eq((r.returncode, r.stdout), (0, b"HELLO\nWSS\n"), "connect wss:// to sockit")
        r = run_connect([wss(port, "/u"), "--send", "x"])
        check_eq((r.returncode, r.stderr.decode().strip()),
                 (1, "sockit: %s: certificate verify failed: unable to get local issuer certificate"
                  % wss(port, "/u")), "without --cafile: one line")
    with PyWssServer() as srv:
        url = "wss://localhost:%d/py" % srv.port
        r = run_connect([url, "--cafile", p.ca_crt, "--send", "ping over wss"])
        check_eq((r.returncode, r.stdout), (0, b"ping over wss\n"), "connect wss:// to websockets")
        big = "q" * 100000
        r = run_connect([url, "--cafile", p.ca_crt, "--send", big])
        check(r.returncode == 0 and r.stdout == (big + "\n").encode(), "100 KB round trip")
        r = run_connect([url, "--cafile", p.ca_crt, "--servername", "nobody.test", "--send", "x"])
        check_eq((r.returncode, r.stderr.decode().strip()),
                 (1, "sockit: %s: hostname mismatch" % url), "--servername checked over wss")
        check(wait_for(lambda: len(srv.close_codes) >= 2), "the python server saw the closes")
        check_eq(srv.close_codes[:2], [1000, 1000], "sockit connect closes wss with 1000")


# ---------------------------------------------------------------- node ws over wss

def node_ready():
    if not shutil.which("node"):
        why = "node is missing"
    elif not os.path.isdir(os.path.join(INTEROP, "node_modules", "ws")):
        why = "tests/interop/node_modules lacks ws (run tests/interop/install.sh)"
    else:
        return True
    if os.environ.get("SOCKIT_REQUIRE_INTEROP"):
        return check(False, "%s, and SOCKIT_REQUIRE_INTEROP is set" % why)
    skip(why)
    return False


def node_client(url, *msgs, ca=True, protocol=None):
    env = dict(os.environ, SOCKIT_TIME_SCALE=str(t(1)))
    env.pop("NODE_EXTRA_CA_CERTS", None)
    env.pop("WS_PROTOCOL", None)
    if protocol:
        env["WS_PROTOCOL"] = protocol
    if ca:
        env["NODE_EXTRA_CA_CERTS"] = pki().ca_crt
    r = subprocess.run(["node", os.path.join(INTEROP, "ws_client.js"), url] + list(msgs),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=t(30), env=env)
    lines = [json.loads(ln) for ln in r.stdout.decode().splitlines() if ln.strip()]
    return r, lines


def test_node_ws_over_wss():
    if not node_ready():
        return
    port = free_port()
    with Server("upper", wss(port, "/up"), "--ws-protocol", "shout", *cert_args()):
        r, lines = node_client(wss(port, "/up"), "hello node", "bin:binary bytes", "big:300000",
                               protocol="shout")
        check_eq(r.returncode, 0, "node exit status (stderr %r)" % r.stderr)
        check_eq(lines, [{"open": True, "protocol": "shout"},
                         {"type": "text", "data": "HELLO NODE"},
                         {"type": "binary", "data": "BINARY BYTES"},
                         {"type": "text", "data": "len:300000:XXXXXXXX"},
                         {"close": 1000}], "node ws over wss: replies and a normal close")
        r, lines = node_client("wss://localhost:%d/up" % port, *["m%d" % i for i in range(100)])
        got = [ln.get("data") for ln in lines if "type" in ln]
        check_eq((r.returncode, got), (0, ["M%d" % i for i in range(100)]),
                 "100 messages in order, reached as localhost")
        r, lines = node_client(wss(port, "/up"), "x", ca=False)
        check(r.returncode == 1 and b"certificate" in r.stderr,
              "node without the test CA refuses the certificate: %r" % r.stderr[-200:])


if __name__ == "__main__":
    main()
