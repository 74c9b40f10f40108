"""test_relay_compress.py — `sockit relay` speaking compression per side:
a plain Python socket client sending zstd/deflate/stored codec-byte frames
through a tcp->tcp relay (--from-frame len32be --from-compress zstd) to a
Python line server, and the reverse (a line client, --to-compress deflate,
a Python server parsing the frames itself); a Python websockets client with
permessage-deflate through a ws->tcp relay (--from-ws-deflate) and a relay
offering it to a websockets server behind (--to-ws-deflate); bombs on the
compressed side close only that client with a log line; --handshake-timeout
bounds a ws:// FROM's handshake; bad combinations are one line, exit 2."""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)
import harness  # noqa: E402

harness.need_websockets(__file__)

import asyncio  # noqa: E402
import random  # noqa: E402
import time  # noqa: E402

import websockets  # noqa: E402
import websockets.exceptions  # noqa: E402

from harness import (check, check_eq, free_port, main, recv_exact, recv_until_eof,  # noqa: E402
                     run_sockit, t, wait_for)
from test_compress import bad_body_closes, json_msg, send_split  # noqa: E402
from test_relay import PyServer, Relay, connect, line_upper, url, ws_echo_server  # noqa: E402
from zframes import (DEFLATE, STORED, ZSTD, body, decode_body, deflate_raw, frame,  # noqa: E402
                     read_body, zstd_compress)

MODE = "len32be"
SIZES = (0, 10, 255, 256, 1024, 20000)


def test_compressed_client_to_line_server():
    """Every codec in, the line server's answer back zstd-compressed (stored
    under --compress-min), the server seeing plain lines."""
    ps = PyServer(line_upper)
    port = free_port()
    with Relay(url(port), url(ps.port), "--from-frame", MODE, "--from-compress", "zstd",
               "--to-frame", "line"):
        s = connect(port)
        rnd = random.Random(3)
        for codec in (STORED, DEFLATE, ZSTD):
            for size in SIZES:
                msg = json_msg(size, seed=size + codec)
                send_split(s, frame(MODE, body(codec, msg)), rnd)
                b = read_body(s, MODE, recv_exact)
                if not check(b is not None, "no reply to %d bytes, codec %d" % (size, codec)):
                    return
                got_codec, got = decode_body(b)
                check_eq(got, msg.upper(), "%d bytes sent with codec %d, back in capitals"
                         % (size, codec))
                check_eq(got_codec, ZSTD if size >= 256 else STORED, "codec of the %d-byte reply"
                         % size)
                if size == 20000:
                    check(len(b) < size / 2, "the reply shrinks on the wire (%d of %d bytes)"
                          % (len(b), size))
        s.close()
    check_eq(ps.errors, [], "line server errors")


def test_line_client_to_compressed_server():
    """The reverse: lines in, deflate-compressed frames to a Python server
    that parses them itself and answers zstd; lines back."""
    seen = []

    def server(c):
        while True:
            b = read_body(c, MODE, recv_exact)
            if b is None:
                return
            codec, msg = decode_body(b)
            seen.append((len(msg), codec, len(b)))
            c.sendall(frame(MODE, body(ZSTD, b"re: " + msg)))

    ps = PyServer(server)
    port = free_port()
    with Relay(url(port), url(ps.port), "--from-frame", "line", "--to-frame", MODE,
               "--to-compress", "deflate", "--compress-min", "100"):
        s = connect(port)
        f = s.makefile("rb")
        for size in (1, 99, 100, 5000, 60000):
            msg = json_msg(size, seed=size)
            s.sendall(msg + b"\n")
            check_eq(f.readline(), b"re: " + msg + b"\n", "%d-byte line there and back" % size)
        f.close()
        s.close()
    check_eq([(n, c) for n, c, _ in seen],
             [(1, STORED), (99, STORED), (100, DEFLATE), (5000, DEFLATE), (60000, DEFLATE)],
             "the server gets every line, deflated from --compress-min on")
    check(all(w < (n / 2 if n >= 5000 else n) for n, c, w in seen if c == DEFLATE),
          "deflate shrinks: %r" % seen)
    check_eq(ps.errors, [], "compressed server errors")


async def ws_exchange(port, msgs):
    """Sends each message, returns (agreed extensions, replies)."""
    async with websockets.connect(url(port, "ws", "/"), open_timeout=t(10),
                                  max_size=1 << 24) as ws:
        got = []
        for m in msgs:
            await ws.send(m)
            got.append(await asyncio.wait_for(ws.recv(), t(10)))
        return [e.name for e in ws.extensions], got


def test_ws_deflate_client_through_ws_to_tcp():
    ps = PyServer(line_upper)
    msgs = ["short", json_msg(3000).decode(), json_msg(200000, seed=9).decode()]
    for flag in ("--from-ws-deflate", "--from-ws-deflate=context", None):
        port = free_port()
        extra = [flag] if flag else []
        with Relay(url(port, "ws", "/"), url(ps.port), "--to-frame", "line", *extra):
            exts, got = asyncio.run(ws_exchange(port, msgs))
        check_eq(exts, ["permessage-deflate"] if flag else [],
                 "%s: permessage-deflate agreed" % flag)
        check_eq(got, [m.upper() for m in msgs], "%s: every message back in capitals" % flag)
    check_eq(ps.errors, [], "line server errors")


def test_relay_offers_ws_deflate_to_server_behind():
    """--to-ws-deflate: the websockets server behind agrees permessage-deflate."""
    agreed = []
    port, wsport = free_port(), ws_echo_server(agreed)
    line = json_msg(4000).decode()
    for extra, want in ((["--to-ws-deflate"], ["permessage-deflate"]), ([], [])):
        with Relay(url(port), url(wsport, "ws", "/"), "--from-frame", "line", *extra):
            s = connect(port)
            s.sendall(line.encode() + b"\n")
            check_eq(s.makefile("rb").readline(), ("echo: " + line + "\n").encode(),
                     "%s: a line there and back" % extra)
            s.close()
        check(wait_for(lambda: len(agreed) > 0, t(5)), "the server saw the relay")
        check_eq(agreed.pop(), want, "%s: extensions the server agreed" % extra)
        port = free_port()


def test_bombs_close_only_that_client():
    ps = PyServer(line_upper)
    port = free_port()
    zeros = bytes(64 << 20)
    with Relay(url(port), url(ps.port), "--from-frame", MODE, "--from-compress", "zstd",
               "--to-frame", "line", "--max-frame", "1M") as r:
        big = "decompressed message larger than --max-frame"
        bad_body_closes(port, MODE, bytes([ZSTD]) + zstd_compress(zeros, 3), big, r, bytes.upper)
        bad_body_closes(port, MODE, bytes([DEFLATE]) + deflate_raw(zeros, 9), big, r, bytes.upper)
        bad_body_closes(port, MODE, b"\x07hello", "unknown compression codec byte", r, bytes.upper)
        check(r.log().count("end ") >= 3, "one end line per bad client: %r" % r.log()[-800:])
    wport = free_port()
    with Relay(url(wport, "ws", "/"), url(ps.port), "--to-frame", "line", "--from-ws-deflate",
               "--max-frame", "1M") as r:
        async def ws_bomb():
            async with websockets.connect(url(wport, "ws", "/"), open_timeout=t(10),
                                          max_size=None) as ws:
                await ws.send(zeros)  # 64 MiB of zeros deflate to ~64 KiB
                try:
                    await asyncio.wait_for(ws.recv(), t(10))
                except websockets.exceptions.ConnectionClosed as e:
                    return e.rcvd.code if e.rcvd else None
        check_eq(asyncio.run(ws_bomb()), 1009, "a deflate bomb over ws gets close 1009")
        check(wait_for(lambda: "WebSocket: message too big" in r.log(), t(5)),
              "the relay logs the ws bomb: %r" % r.log()[-800:])
        _, got = asyncio.run(ws_exchange(wport, ["after the bomb"]))
        check_eq(got, ["AFTER THE BOMB"], "the next ws client is served")


def test_handshake_timeout_bounds_a_ws_from():
    """A client that connects to a ws:// FROM and says nothing is closed after
    --handshake-timeout, not the 10 s default."""
    ps = PyServer(line_upper)
    port = free_port()
    with Relay(url(port, "ws", "/"), url(ps.port), "--handshake-timeout", "0.5"):
        s = connect(port, 30)
        start = time.monotonic()
        data, _ = recv_until_eof(s)
        took = time.monotonic() - start
        s.close()
        check(took < t(4), "closed after %.1f s (--handshake-timeout 0.5)" % took)
        check(took >= 0.4, "not before the timeout (%.2f s)" % took)


def test_bad_combinations_are_one_line_and_exit_2():
    a, b = url(1), url(2)
    for args, want in [([a, b, "--from-compress", "zstd"], "--from-frame len32be"),
                       ([a, b, "--to-frame", "line", "--to-compress", "zstd"], "not line"),
                       ([url(1, "ws"), b, "--from-compress", "zstd"], "--from-ws-deflate"),
                       ([a, url(2, "ws"), "--to-compress", "deflate"], "--to-ws-deflate"),
                       ([url(1, "udp"), url(2, "udp"), "--from-frame", MODE, "--from-compress",
                         "zstd"], "not udp://"),
                       ([a, b, "--from-frame", MODE, "--from-compress", "lz4"], "--from-compress"),
                       ([a, b, "--to-frame", MODE, "--to-compress", "deflate",
                         "--compress-level", "12"], "deflate levels are 1 to 9"),
                       ([a, b, "--from-ws-deflate"], "needs a ws:// or wss:// FROM"),
                       ([a, b, "--to-ws-deflate"], "needs a ws:// or wss:// TO"),
                       ([url(1, "ws"), b, "--from-ws-deflate=big"], "--from-ws-deflate")]:
        r = run_sockit(["relay"] + args)
        err = r.stderr.decode()
        check_eq(r.returncode, 2, "relay %s: exit status (%r)" % (" ".join(args), err))
        check(want in err and err.count("\n") == 1, "relay %s: one line saying %r: %r"
              % (" ".join(args), want, err))


if __name__ == "__main__":
    main()
