"""test_compress.py — `--compress zstd|deflate` on len16/32/64 frames against
a plain Python socket client that builds and parses the frames itself (zlib
raw deflate, libzstd via ctypes): echo and chat reply compressed, every codec
is accepted, small messages go stored, bombs / corrupt bodies / unknown codec
bytes close only that connection with a log line; connect and bench speak it;
a peer with another --compress (or `stored`) still understands."""
import json
import random
import re
import struct
import subprocess
import time

from harness import (Server, check, check_eq, free_port, main, recv_exact, recv_until_eof,
                     run_connect, run_sockit, t, tcp_client, wait_for)
from zframes import (DEFLATE, STORED, ZSTD, body, decode_body, deflate_raw, frame, read_body,
                     zstd_compress, zstd_content_size, zstd_no_size)


def json_msg(n, seed=1):
    """JSON-like text of n bytes (compressible, as chat and game traffic)."""
    rnd = random.Random(seed)
    items, size = [], 0
    while size < n:
        item = json.dumps({"id": rnd.randrange(1000), "user": "player%d" % rnd.randrange(50),
                           "x": rnd.randrange(100), "y": rnd.randrange(100), "alive": True})
        items.append(item)
        size += len(item) + 1
    return (",".join(items)).encode()[:n]


def send_split(s, data, rnd):
    """Sends data in random pieces (1 byte to 2 KiB), as a stream may split it."""
    off = 0
    while off < len(data):
        n = rnd.randint(1, 2048)
        s.sendall(data[off:off + n])
        off += n


def echo_round(port, mode, reply_codec):
    """Every codec and size out, the reply parsed; returns the codecs seen."""
    rnd = random.Random(7)
    s = tcp_client(port)
    seen = []
    for codec in (STORED, DEFLATE, ZSTD):
        for size in (0, 10, 255, 256, 1024, 20000):
            msg = json_msg(size, seed=size + codec)
            send_split(s, frame(mode, body(codec, msg)), rnd)
            b = read_body(s, mode, recv_exact)
            if not check(b is not None, "%s: no reply to a %d-byte %d-codec message"
                         % (mode, size, codec)):
                s.close()
                return seen
            got_codec, got = decode_body(b)
            check_eq(got, msg, "%s echo of %d bytes sent with codec %d" % (mode, size, codec))
            want = reply_codec if size >= 256 else STORED
            check_eq(got_codec, want, "%s codec of the %d-byte reply" % (mode, size))
            seen.append(got_codec)
    s.close()
    return seen


def test_echo_zstd_every_mode():
    for mode in ("len16be", "len32le", "len64be"):
        port = free_port()
        with Server("echo", "tcp://127.0.0.1:%d" % port, "--frame", mode, "--compress", "zstd",
                    "-vv") as srv:
            echo_round(port, mode, ZSTD)
            log = srv.stop()
        check(re.search(r"message fd=\d+ peer=\S+ codec=deflate wire=\d+ size=1024", log),
              "-vv logs a message's codec, wire and decompressed sizes:\n" + log[-1500:])
        check(re.search(r"sent fd=\d+ peer=\S+ codec=zstd wire=\d+ size=20000", log),
              "-vv logs each reply's sizes")


def test_frames_byte_by_byte():
    """Every byte in its own segment (TCP_NODELAY): the server completes each
    frame across reads, whatever its codec and byte order."""
    import socket
    for mode in ("len16le", "len64le"):
        port = free_port()
        with Server("echo", "tcp://127.0.0.1:%d" % port, "--frame", mode, "--compress",
                    "deflate"):
            s = tcp_client(port)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            msgs = [json_msg(600, seed=i) for i in range(3)]
            data = b"".join(frame(mode, body(c, m)) for c, m in zip((STORED, DEFLATE, ZSTD), msgs))
            for i in range(len(data)):
                s.send(data[i:i + 1])
            for m in msgs:
                check_eq(decode_body(read_body(s, mode, recv_exact)), (DEFLATE, m),
                         "%s: a frame sent byte by byte comes back" % mode)
            s.close()


def test_echo_deflate_complete_streams():
    port = free_port()
    with Server("echo", "tcp://127.0.0.1:%d" % port, "--frame", "len32be", "--compress",
                "deflate"):
        echo_round(port, "len32be", DEFLATE)  # inflate_raw checks final block, nothing after


def test_incompressible_goes_stored_and_min():
    port = free_port()
    with Server("echo", "tcp://127.0.0.1:%d" % port, "--frame", "len16le", "--compress", "zstd",
                "--compress-min", "2000"):
        s = tcp_client(port)
        noise = random.Random(3).randbytes(5000)
        s.sendall(frame("len16le", body(STORED, noise)))
        check_eq(decode_body(read_body(s, "len16le", recv_exact)), (STORED, noise),
                 "random bytes do not shrink: stored")
        text = json_msg(1500)
        s.sendall(frame("len16le", body(ZSTD, text)))
        check_eq(decode_body(read_body(s, "len16le", recv_exact)), (STORED, text),
                 "under --compress-min: stored")
        text = json_msg(2500)
        s.sendall(frame("len16le", body(STORED, text)))
        b = read_body(s, "len16le", recv_exact)
        check_eq(decode_body(b), (ZSTD, text), "over --compress-min: zstd")
        check(len(b) < len(text) / 2, "a JSON message shrinks on the wire (%d of %d bytes)"
              % (len(b), len(text)))
        check(zstd_content_size(b[1:]) in (None, len(text)), "zstd frames carry their content size")
        s.close()


def test_a_message_of_exactly_max_frame():
    """--max-frame bounds the message, not the body: a stored message of exactly
    --max-frame bytes (a body one byte longer) goes both ways; one byte more
    closes that client."""
    port = free_port()
    with Server("echo", "tcp://127.0.0.1:%d" % port, "--frame", "len32be", "--compress", "zstd",
                "--max-frame", "1000"):
        s = tcp_client(port)
        noise = random.Random(5).randbytes(1000)  # incompressible: the reply is stored too
        s.sendall(frame("len32be", body(STORED, noise)))
        check_eq(decode_body(read_body(s, "len32be", recv_exact)), (STORED, noise),
                 "a 1000-byte message under --max-frame 1000")
        s.sendall(frame("len32be", body(STORED, noise + b"x")))
        check_eq(read_body(s, "len32be", recv_exact), None, "1001 bytes: closed")
        s.close()


def bad_body_closes(port, mode, payload, reason, srv, reply=lambda m: m):
    """payload closes its connection with a log line; a neighbour goes on
    (its message answered with reply(message): an echo by default)."""
    before = srv.log().count(reason)
    other = tcp_client(port)
    s = tcp_client(port)
    s.sendall(frame(mode, payload))
    data, _ = recv_until_eof(s)
    check_eq(data, b"", "no reply to a bad body (%s)" % reason)
    s.close()
    check(wait_for(lambda: srv.log().count(reason) > before, timeout=5),
          "log names the reason %r:\n%s" % (reason, srv.log()[-1500:]))
    other.sendall(frame(mode, body(ZSTD, b"still here " * 40)))
    check_eq(decode_body(read_body(other, mode, recv_exact))[1], reply(b"still here " * 40),
             "another connection is unaffected (%s)" % reason)
    other.close()


def test_bombs_corrupt_unknown():
    port = free_port()
    mode = "len32le"
    with Server("echo", "tcp://127.0.0.1:%d" % port, "--frame", mode, "--compress", "zstd",
                "--max-frame", "1M") as srv:
        zeros = bytes(64 << 20)
        zbomb = zstd_compress(zeros, 3)
        check(len(zbomb) < 1 << 20, "a 64 MiB zstd bomb fits a 1 MiB frame")
        bad_body_closes(port, mode, bytes([ZSTD]) + zbomb, "larger than --max-frame", srv)
        dbomb = deflate_raw(zeros, 9)
        check(len(dbomb) < 1 << 20, "a 64 MiB deflate bomb fits a 1 MiB frame")
        bad_body_closes(port, mode, bytes([DEFLATE]) + dbomb, "larger than --max-frame", srv)
        bad_body_closes(port, mode, bytes([ZSTD]) + zstd_no_size(json_msg(3000)),
                        "corrupt compressed message", srv)
        good = zstd_compress(json_msg(3000))
        corrupt = good[:20] + bytes(b ^ 0x5A for b in good[20:60]) + good[60:]
        bad_body_closes(port, mode, bytes([ZSTD]) + corrupt, "corrupt compressed message", srv)
        trailing = bytes([DEFLATE]) + deflate_raw(json_msg(3000)) + b"junk"
        bad_body_closes(port, mode, trailing, "corrupt compressed message", srv)
        bad_body_closes(port, mode, b"\x07hello", "unknown compression codec byte", srv)
        log = srv.stop()
    check(log.count("close fd=") >= 6, "each bad connection closed with a log line")


def test_connect_and_mixed_peers():
    port = free_port()
    url = "tcp://127.0.0.1:%d" % port
    text = json_msg(3000).decode()
    with Server("echo", url, "--frame", "len32be", "--compress", "stored", "-vv") as srv:
        # the sender compresses, the receiver (which never compresses) accepts
        r = run_connect([url, "--frame", "len32be", "--compress", "zstd", "-vv", "--send", text,
                         "--send", "short"])
        check_eq(r.returncode, 0, "connect exit status (stderr %r)" % r.stderr[-300:])
        check_eq(r.stdout.decode().split("\n")[:2], [text, "short"], "connect prints the replies")
        err = r.stderr.decode()
        check("sent codec=zstd wire=" in err and "size=3000" in err,
              "connect -vv logs what it compressed: %r" % err[-500:])
        check("received codec=stored" in err, "the stored-only server replies stored")
        check(wait_for(lambda: "message fd=" in srv.log() and "codec=zstd" in srv.log()),
              "the server decoded a zstd body")
    with Server("echo", url, "--frame", "len32be", "--compress", "zstd") as srv:
        r = run_connect([url, "--frame", "len32be", "--compress", "deflate", "-vv", "--send",
                         text])
        check_eq(r.returncode, 0, "connect --compress deflate to a zstd server")
        check_eq(r.stdout.decode().split("\n")[0], text, "reply decoded")
        check("received codec=zstd" in r.stderr.decode(), "a deflate sender accepts zstd replies")


def test_bench_compressed():
    port = free_port()
    url = "tcp://127.0.0.1:%d" % port
    with Server("echo", url, "--frame", "len32le", "--compress", "deflate"):
        r = run_sockit(["bench", url, "--frame", "len32le", "--compress", "zstd", "-c", "4",
                        "-n", "2000", "--size", "1024", "--verify"], timeout=60)
        out = r.stdout.decode() + r.stderr.decode()
        check_eq(r.returncode, 0, "bench exit status:\n" + out[-1500:])
        m = re.search(r"compression\s+zstd: sent (\d+) bytes on the wire for (\d+) \(([\d.]+)\); "
                      r"received (\d+) bytes on the wire for (\d+)", out)
        if check(m, "bench reports the compression:\n" + out[-1500:]):
            sent_wire, sent_plain, _, recv_wire, recv_plain = map(float, m.groups())
            check(sent_plain >= 2000 * 1024 and recv_plain >= 2000 * 1024,
                  "every message counted")
            check(sent_wire < sent_plain / 2 and recv_wire < recv_plain / 2,
                  "bench messages shrink on the wire both ways: %s" % m.group(0))
        check(re.search(r"^\s*errors\s+none$", out, re.M), "--verify found no errors")
        check(" 0 lost" in out, "no message lost")


def test_chat_broadcast_compressed():
    port = free_port()
    mode = "len16be"
    with Server("chat", "tcp://127.0.0.1:%d" % port, "--frame", mode, "--compress", "zstd"):
        a, b = tcp_client(port), tcp_client(port)
        time.sleep(t(0.2))
        text = json_msg(2000)
        a.sendall(frame(mode, body(DEFLATE, text)))
        deadline = time.monotonic() + t(5)
        got = None
        while time.monotonic() < deadline:
            bb = read_body(b, mode, recv_exact)
            if bb is None:
                break
            codec, msg = decode_body(bb)
            if text in msg:
                got = (codec, msg)
                break
        if check(got is not None, "the other member gets the message"):
            check_eq(got[0], ZSTD, "a long broadcast goes compressed")
        a.close()
        b.close()


def test_usage_errors():
    for args, why in ((["--frame", "line", "--compress", "zstd"], "line framing"),
                      (["--frame", "len8", "--compress", "zstd"], "len8"),
                      (["--compress", "zstd"], "raw framing"),
                      (["--in-frame", "len32be", "--out-frame", "raw", "--compress", "deflate"],
                       "raw output"),
                      (["--frame", "len32be", "--compress", "lz4"], "unknown codec"),
                      (["--frame", "len32be", "--compress", "deflate", "--compress-level", "12"],
                       "deflate level")):
        for cmd in (["serve", "echo", "tcp://127.0.0.1:%d" % free_port()],
                    ["connect", "tcp://127.0.0.1:1"], ["bench", "tcp://127.0.0.1:1"]):
            r = run_sockit(cmd + args, timeout=10)
            check_eq(r.returncode, 2, "%s %s (%s) exit status" % (cmd[0], args, why))
            check_eq(r.stderr.decode().count("\n"), 1, "one line on stderr for %s %s: %r"
                     % (cmd[0], why, r.stderr))
    for cmd in (["serve", "echo"], ["connect"], ["bench"]):  # a WebSocket message has no lenN header
        r = run_sockit(cmd + ["ws://127.0.0.1:%d/" % free_port(), "--frame", "len32be",
                              "--compress", "zstd"], timeout=10)
        check_eq(r.returncode, 2, "%s ws:// --compress exit status" % cmd[0])
        check("--ws-deflate" in r.stderr.decode() and r.stderr.decode().count("\n") == 1,
              "%s ws:// --compress: one line pointing at --ws-deflate: %r" % (cmd[0], r.stderr))


if __name__ == "__main__":
    main()
