"""test_ws_deflate.py — WebSocket permessage-deflate (RFC 7692) against real
peers: the 101's answer to offers (bare as Firefox, Chrome's, fallbacks,
8-bit windows, none without --ws-deflate); Autobahn-style families 12 and
13 with Python `websockets` (every parameter combination x sizes 16 B-128 KiB
x fragmentation, hashes compared) in both server modes; compressed replies
on the wire; a bomb closed with 1009 without the server's memory growing;
corrupt streams and misplaced RSV1 closing only that connection; chat
members with and without compression; `connect` and `bench --ws-deflate`;
wss://.

Needs `websockets` (as test_ws.py, which it re-executes under /usr/bin/python3 for)."""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)
from harness import need_websockets  # noqa: E402

need_websockets(__file__)

import asyncio  # noqa: E402
import hashlib  # noqa: E402
import itertools  # noqa: E402
import random  # noqa: E402
import re  # noqa: E402
import ssl  # noqa: E402
import struct  # noqa: E402
import zlib  # noqa: E402

import websockets  # noqa: E402
from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory  # noqa: E402

from harness import (VALGRIND, Server, check, check_eq, free_port, main, run_connect,  # noqa: E402
                     run_sockit, t)
from test_ws import FrameReader, frame, raw_handshake, recv, run, ws_connect, wsurl  # noqa: E402

DEFLATE_BOTH = "permessage-deflate; server_no_context_takeover; client_no_context_takeover"


def json_like(n, seed):
    """n bytes of JSON-like text: compressible, but not a repeated pattern."""
    rnd = random.Random(seed)
    out = []
    size = 0
    while size < n:
        rec = '{"id":%d,"user":"player-%d","pos":[%.2f,%.2f],"ok":%s},' % (
            rnd.randrange(10 ** 6), rnd.randrange(500), rnd.uniform(-1e3, 1e3),
            rnd.uniform(-1e3, 1e3), rnd.choice(["true", "false"]))
        out.append(rec)
        size += len(rec)
    return "".join(out)[:n]


def open_head(port, offer=None, path="/"):
    """A raw socket that did the handshake offering `offer`; returns
    (sock, the 101 head as text, leftover bytes)."""
    ext = b"" if offer is None else b"Sec-WebSocket-Extensions: " + offer.encode() + b"\r\n"
    s, head, rest = raw_handshake(port, path, ext)
    check(head.startswith(b"HTTP/1.1 101"), "101 expected: %r" % head)
    return s, head.decode(), rest


def answered(head):
    m = re.search(r"(?im)^Sec-WebSocket-Extensions: *(.*?)\r?$", head)
    return m.group(1) if m else None


def deflate_raw(data, wbits=15):
    c = zlib.compressobj(6, zlib.DEFLATED, -wbits)
    out = c.compress(data) + c.flush(zlib.Z_SYNC_FLUSH)
    assert out.endswith(b"\x00\x00\xff\xff")
    return out[:-4]


def inflate_raw(data):
    return zlib.decompressobj(-15).decompress(data + b"\x00\x00\xff\xff")


def next_full(reader):
    """(opcode, rsv bits, payload) of the server's next frame."""
    b0 = reader.buf[0] if reader.buf else None
    if b0 is None:
        reader._need(1)
        b0 = reader.buf[0]
    op, payload = reader.next()
    return op, (b0 >> 4) & 7, payload


def close_code(reader, sock):
    while True:
        try:
            op, rsv, payload = next_full(reader)
        except (EOFError, OSError):
            return None
        if op == 0x8:
            return struct.unpack(">H", payload[:2])[0] if len(payload) >= 2 else 1005


# ---------------------------------------------------------------- negotiation

def test_answers_to_offers():
    port = free_port()
    with Server("echo", wsurl(port), "--ws-deflate"):
        cases = [
            ("permessage-deflate", DEFLATE_BOTH),  # Firefox's bare offer
            ("permessage-deflate; client_max_window_bits", DEFLATE_BOTH),  # Chrome's
            ("permessage-deflate; server_max_window_bits=10; client_max_window_bits",
             DEFLATE_BOTH + "; server_max_window_bits=10"),
            # an 8-bit server window is declined; the fallback after it is taken
            ("permessage-deflate; server_max_window_bits=8, permessage-deflate", DEFLATE_BOTH),
            ("permessage-deflate; server_max_window_bits=8", None),
            ("x-webkit-deflate-frame", None),
            ("permessage-deflate; bogus=1", None),
            (None, None),
        ]
        for offer, want in cases:
            s, head, _ = open_head(port, offer)
            s.close()
            check_eq(answered(head), want, "answer to %r" % offer)
    with Server("echo", wsurl(port), "--ws-deflate=context"):
        for offer, want in [("permessage-deflate", "permessage-deflate"),
                            ("permessage-deflate; client_max_window_bits",
                             "permessage-deflate; client_max_window_bits=11"),
                            ("permessage-deflate; server_no_context_takeover",
                             "permessage-deflate; server_no_context_takeover")]:
            s, head, _ = open_head(port, offer)
            s.close()
            check_eq(answered(head), want, "context mode: answer to %r" % offer)
    with Server("echo", wsurl(port)):
        s, head, _ = open_head(port, "permessage-deflate")
        s.close()
        check_eq(answered(head), None, "without --ws-deflate the 101 carries no extension")


# ---------------------------------------------------------------- Autobahn 12/13 style

SIZES = [16, 64, 256, 1024, 4096, 16384, 65536, 131072]


def param_sets():
    """The client's offer parameters: every combination that websockets can offer."""
    for cnc, snc, smw, cmw in itertools.product([False, True], [False, True], [None, 9, 15],
                                                [True, None, 10]):
        yield dict(client_no_context_takeover=cnc, server_no_context_takeover=snc,
                   server_max_window_bits=smw, client_max_window_bits=cmw,
                   compress_settings={"memLevel": 5})


async def family(url, params, binary):
    ws = await ws_connect(url, compression=None,
                          extensions=[ClientPerMessageDeflateFactory(**params)])
    try:
        check(ws.extensions and ws.extensions[0].name == "permessage-deflate",
              "negotiated with %r: %r" % (params, ws.extensions))
        for i, n in enumerate(SIZES):
            for frag in (False, True):
                m = json_like(n, "%d %s %s" % (i, frag, params))
                msg = m.encode() if binary else m
                if frag:  # fragments of random sizes
                    rnd = random.Random(n)
                    cuts = sorted(rnd.sample(range(1, n), min(5, n - 1)))
                    parts = [msg[a:b] for a, b in zip([0] + cuts, cuts + [n])]
                    await ws.send(parts)
                else:
                    await ws.send(msg)
                got = await recv(ws)
                want = hashlib.sha256(msg if binary else msg.encode()).hexdigest()
                have = hashlib.sha256(got if binary else got.encode()).hexdigest()
                check_eq(have, want, "%d B %s%s with %r" % (
                    n, "binary" if binary else "text", " fragmented" if frag else "", params))
    finally:
        await ws.close()


def run_families(mode):
    port = free_port()
    url = wsurl(port)
    with Server("echo", url, "--ws-deflate" + mode):
        async def all_():
            for k, params in enumerate(param_sets()):
                await family(url, params, binary=bool(k % 2))
        run(all_(), timeout=240)


def test_families_shared():
    run_families("")


def test_families_context():
    run_families("=context")


def test_uncompressing_client():
    """A client that offers nothing, or offers and sends uncompressed, is served."""
    port = free_port()
    url = wsurl(port)
    with Server("echo", url, "--ws-deflate"):
        async def go():
            ws = await ws_connect(url, compression=None)
            check_eq(ws.extensions, [], "no offer: no extension")
            m = json_like(5000, 1)
            await ws.send(m)
            check_eq(await recv(ws), m, "echo without compression")
            await ws.close()
        run(go())


# ---------------------------------------------------------------- on the wire

def test_replies_compressed_on_the_wire():
    port = free_port()
    with Server("echo", wsurl(port), "--ws-deflate"):
        s, head, rest = open_head(port, "permessage-deflate")
        r = FrameReader(s, rest)
        big = json_like(4096, 2).encode()
        s.sendall(frame(0x1, big))  # uncompressed from the client: allowed
        op, rsv, payload = next_full(r)
        check_eq((op, rsv), (0x1, 4), "a 4 KiB text reply is compressed (RSV1)")
        check_eq(inflate_raw(payload), big, "it inflates to the message")
        check(len(payload) < len(big) // 2, "and is much smaller: %d" % len(payload))
        s.sendall(frame(0x1, deflate_raw(big), rsv=4))  # compressed from the client
        op, rsv, payload = next_full(r)
        check_eq(inflate_raw(payload), big, "a compressed message echoed")
        s.sendall(frame(0x1, b"tiny"))
        op, rsv, payload = next_full(r)
        check_eq((rsv, payload), (0, b"tiny"), "a short reply goes uncompressed")
        s.sendall(frame(0x9, b"p"))
        op, rsv, payload = next_full(r)
        check_eq((op, rsv), (0xA, 0), "control frames are never compressed")
        s.close()


def server_vmhwm_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def test_bomb_closed_1009():
    port = free_port()
    with Server("echo", wsurl(port), "--ws-deflate", "--max-frame", "1M") as srv:
        before = server_vmhwm_kb(srv.pid)
        bomb = deflate_raw(b"\0" * (256 << 20))  # 256 MiB of zeros in ~256 KiB
        check(len(bomb) < (1 << 20), "the bomb fits --max-frame compressed: %d" % len(bomb))
        s, head, rest = open_head(port, "permessage-deflate")
        s.sendall(frame(0x2, bomb, rsv=4))
        check_eq(close_code(FrameReader(s, rest), s), 1009, "a bomb closes with 1009")
        s.close()
        grew = server_vmhwm_kb(srv.pid) - before
        if not VALGRIND:  # (valgrind's own memory is the process's too)
            check(grew < 32 * 1024, "server peak memory grew by %d KiB (no 256 MiB allocation)" % grew)
        # a message of exactly --max-frame inflated is fine; one byte more is not
        for n, want in [((1 << 20), None), ((1 << 20) + 1, 1009)]:
            s, head, rest = open_head(port, "permessage-deflate")
            s.sendall(frame(0x2, deflate_raw(b"a" * n), rsv=4))
            r = FrameReader(s, rest)
            if want is None:
                op, rsv, payload = next_full(r)
                check_eq(len(inflate_raw(payload)) if rsv else len(payload), n, "exactly --max-frame")
            else:
                check_eq(close_code(r, s), want, "--max-frame + 1 inflated")
            s.close()
        async def still():
            ws = await ws_connect(wsurl(port))
            await ws.send("alive")
            got = await recv(ws)
            await ws.close()
            return got
        check_eq(run(still()), "alive", "others still served")


def test_corrupt_and_misplaced_rsv1():
    port = free_port()
    with Server("echo", wsurl(port), "--ws-deflate"):
        cases = [
            ("corrupt stream", frame(0x2, b"\xff\xff\xff\xff", rsv=4), 1007),
            ("compressed invalid UTF-8 text", frame(0x1, deflate_raw(b"\xff\xfe" * 50), rsv=4), 1007),
            ("RSV1 on a continuation", frame(0x1, b"a", fin=False) + frame(0x0, b"b", rsv=4), 1002),
            ("RSV1 on a ping", frame(0x9, b"p", rsv=4), 1002),
            ("RSV2", frame(0x1, b"a", rsv=2), 1002),
        ]
        for what, data, want in cases:
            s, head, rest = open_head(port, "permessage-deflate")
            s.sendall(data)
            check_eq(close_code(FrameReader(s, rest), s), want, what)
            s.close()
        s, head, rest = open_head(port, None)  # not negotiated: RSV1 is a protocol error
        s.sendall(frame(0x1, deflate_raw(b"hello" * 20), rsv=4))
        check_eq(close_code(FrameReader(s, rest), s), 1002, "RSV1 without the extension")
        s.close()


# ---------------------------------------------------------------- services and tools

def test_chat_mixed_members():
    for mode in ("--ws-deflate", "--ws-deflate=context"):
        chat_mixed_members(mode)


def chat_mixed_members(mode):
    """Members with and without compression, with a smaller window, and a raw
    one that checks the broadcast reaches it compressed (shared mode: the one
    frame compressed for all; context mode: compressed in its own context)."""
    port = free_port()
    url = wsurl(port)
    with Server("chat", url, mode):
        async def go():
            a = await ws_connect(url)  # compression (websockets' default offer)
            b = await ws_connect(url, compression=None)
            c = await ws_connect(url, extensions=[ClientPerMessageDeflateFactory(
                server_max_window_bits=10, client_max_window_bits=True)], compression=None)
            raw, head, rest = open_head(port, "permessage-deflate")
            for w in (a, b, c):
                await w.send("/nick n%d" % id(w))
            await asyncio.sleep(t(0.3))
            line = json_like(3000, 9)
            await a.send(line)
            for w, who in ((b, "uncompressed"), (c, "10-bit window")):
                got = ""
                while line not in got:
                    got = await recv(w)
                check(line in got, "%s: %s member got the broadcast" % (mode, who))
            r = FrameReader(raw, rest)
            inflater = zlib.decompressobj(-15)  # (kept: the context mode keeps its context)
            while True:
                op, rsv, payload = next_full(r)
                text = inflater.decompress(payload + b"\x00\x00\xff\xff") if rsv & 4 else payload
                if line.encode() in text:
                    check_eq(rsv, 4, mode + ": the broadcast reaches a deflate member compressed")
                    break
            raw.close()
            for w in (a, b, c):
                await w.close()
        run(go())


def test_connect_and_bench():
    port = free_port()
    url = wsurl(port)
    with Server("echo", url, "--ws-deflate"):
        m = json_like(3000, 4)
        r = run_connect([url, "--ws-deflate", "--send", m, "--send", "short"])
        check_eq(r.returncode, 0, "connect --ws-deflate exit (stderr %r)" % r.stderr[-300:])
        check_eq(r.stdout.decode().split("\n")[:2], [m, "short"], "connect --ws-deflate replies")
        b = run_sockit(["bench", url, "--ws-deflate", "-c", "4", "-n", "400", "--size", "2048"],
                       timeout=60)
        out = b.stdout.decode()
        check_eq(b.returncode, 0, "bench exit (%s)" % out[-400:])
        mm = re.search(r"compression\s+(\d+) bytes on the wire for (\d+) of messages: ratio ([\d.]+)", out)
        check(mm is not None, "bench reports the ratio: %s" % out)
        if mm:
            check(float(mm.group(3)) > 3, "bench's messages compress: %s" % mm.group(0))
    with Server("echo", url):  # a server without the extension: connect goes on without
        r = run_connect([url, "--ws-deflate", "--send", m])
        check_eq(r.stdout.decode().split("\n")[:1], [m], "connect --ws-deflate, server declines")
    # connect --ws-deflate against a websockets server: it is offered and used
    async def server_side():
        seen = []

        async def handler(ws, path=None):
            seen.append([e.name for e in ws.extensions])
            async for msg in ws:
                await ws.send(msg)
        srv = await websockets.serve(handler, "127.0.0.1", port)
        loop = asyncio.get_running_loop()
        r = await loop.run_in_executor(None, lambda: run_connect([url, "--ws-deflate", "--send", m]))
        srv.close()
        await srv.wait_closed()
        return r, seen
    r, seen = run(server_side())
    check_eq(r.stdout.decode().split("\n")[:1], [m], "connect --ws-deflate against websockets")
    check_eq(seen, [["permessage-deflate"]], "websockets agreed permessage-deflate")


def test_wss():
    port = free_port()
    url = "wss://127.0.0.1:%d/" % port
    with Server("echo", url, "--ws-deflate"):
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE

        async def go():
            ws = await ws_connect(url, ssl=ctx)
            check_eq([e.name for e in ws.extensions], ["permessage-deflate"], "wss negotiated")
            m = json_like(20000, 5)
            await ws.send(m)
            got = await recv(ws)
            await ws.close()
            return got == m
        check(run(go()), "wss echo with compression")


if __name__ == "__main__":
    main()
