#!/usr/bin/env python3
"""ws_deflate.py — WebSocket echo with permessage-deflate, side by side:
sockit (shared compressor, and --ws-deflate=context), libwebsockets with its
permessage-deflate (bench/build/lws_echo ... deflate) and node ws with
perMessageDeflate (bench/peers/ws_echo.js ... deflate).

cpu (default): server CPU per message at 100 connections x 1 KiB JSON-like
text, depth 1, driven by `sockit bench --ws-deflate` (which compresses its
messages too). The server runs on CPU 0, the loader on CPU 1; each round runs
every server once, in a rotating order (paired rounds); the table shows
medians and ratios.

memory: user-space memory per connection after one compressed message each
way: RSS growth of the server while N clients (default 2000) each handshake
offering "permessage-deflate; client_max_window_bits" (as Chrome), send one
compressed 1 KiB JSON-like message and read the reply, then stay open.

threshold: how many bytes a message of each size takes on the wire
compressed with the shared compressor's settings (one stream reset per
message, level 6), to see below which size compressing is not worth it.

Usage: bench/ws_deflate.py [cpu|memory|threshold] [--rounds R] [--secs S] [--conns N]
                           [--only NAME ...] [--sockit PATH]"""
import argparse
import base64
import os
import random
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import zlib

from idle_memory import free_port, rss  # the idle-memory script's own helpers

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
HOST = "127.0.0.1"
NODE_PATHS = [os.path.join(HERE, "node_modules"), os.path.join(ROOT, "tests", "interop", "node_modules")]


def servers(sockit):
    return {
        "sockit-shared": lambda p: [sockit, "serve", "echo", "ws://%s:%d/" % (HOST, p), "--ws-deflate",
                                    "--threads", "1", "--nodelay"],
        "sockit-context": lambda p: [sockit, "serve", "echo", "ws://%s:%d/" % (HOST, p),
                                     "--ws-deflate=context", "--threads", "1", "--nodelay"],
        "lws-deflate": lambda p: [os.path.join(HERE, "build", "lws_echo"), HOST, str(p), "deflate"],
        "node-ws-deflate": lambda p: ["node", os.path.join(HERE, "peers", "ws_echo.js"), HOST, str(p),
                                      "deflate"],
    }


def start(argv, port, cpu=None):
    env = dict(os.environ, NODE_PATH=":".join(NODE_PATHS))
    if cpu is not None:
        argv = ["taskset", "-c", str(cpu)] + argv
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    end = time.time() + 10
    while time.time() < end:
        try:
            socket.create_connection((HOST, port), timeout=0.2).close()
            return p
        except OSError:
            time.sleep(0.05)
    p.kill()
    raise RuntimeError("%s did not start" % argv)


def stop(p):
    p.send_signal(signal.SIGTERM)
    try:
        p.wait(5)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


def cpu_ticks(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


# ---------------------------------------------------------------- cpu

def one_cpu_run(sockit, argv_of, secs, conns):
    import json
    port = free_port()
    p = start(argv_of(port), port, cpu=0)
    try:
        with tempfile.NamedTemporaryFile(suffix=".json") as js:
            before = cpu_ticks(p.pid)
            subprocess.run(["taskset", "-c", "1", sockit, "bench", "ws://%s:%d/" % (HOST, port),
                            "--ws-deflate", "-c", str(conns), "--size", "1024", "--depth", "1",
                            "-d", str(secs), "--verify", "--json", js.name],
                           check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           timeout=secs + 60)
            ticks = cpu_ticks(p.pid) - before
            r = json.load(open(js.name))
    finally:
        stop(p)
    got = r["messages"]["received"] if isinstance(r.get("messages"), dict) else r.get("received", 0)
    wire = r.get("wire_bytes", {})
    ratio = (2 * got * 1024) / max(1, wire.get("sent", 0) + wire.get("received", 0))
    us = ticks / os.sysconf("SC_CLK_TCK") * 1e6 / max(1, got)
    return us, got / secs, ratio


def cpu(args):
    table = servers(args.sockit)
    names = [n for n in table if not args.only or n in args.only]
    res = {n: [] for n in names}
    for rnd in range(args.rounds):
        order = names[rnd % len(names):] + names[:rnd % len(names)]
        for n in order:
            res[n].append(one_cpu_run(args.sockit, table[n], args.secs, args.conns))
            print("round %d %-16s %.1f us/msg  %.0f msgs/s  wire ratio %.2f" % ((rnd + 1, n) + res[n][-1]),
                  flush=True)
    print("\n| server | server CPU per message (µs), median | msgs/s, median | wire ratio |")
    print("|---|---|---|---|")
    med = {}
    for n in names:
        med[n] = statistics.median(r[0] for r in res[n])
        print("| %s | %.1f | %.0f | %.2f |" % (n, med[n], statistics.median(r[1] for r in res[n]),
                                              statistics.median(r[2] for r in res[n])))
    print("\npaired ratios of CPU per message (median over rounds):")
    for a in ("sockit-shared", "sockit-context"):
        for b in ("lws-deflate", "node-ws-deflate", "sockit-shared"):
            if a in res and b in res and a != b:
                rs = [x[0] / y[0] for x, y in zip(res[a], res[b])]
                print("  %s / %s: %.2f" % (a, b, statistics.median(rs)))


# ---------------------------------------------------------------- memory

def json_like(n, seed):
    rnd = random.Random(seed)
    out = []
    while sum(map(len, out)) < n:
        out.append('{"id":%d,"user":"player-%d","pos":[%.2f,%.2f],"ok":%s},' % (
            rnd.randrange(10 ** 6), rnd.randrange(500), rnd.uniform(-1e3, 1e3),
            rnd.uniform(-1e3, 1e3), rnd.choice(["true", "false"])))
    return "".join(out)[:n].encode()


def compressed_frame(payload):
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    z = (c.compress(payload) + c.flush(zlib.Z_SYNC_FLUSH))[:-4]
    key = os.urandom(4)
    hdr = bytes([0xC1, 0x80 | 126]) + struct.pack(">H", len(z)) if len(z) > 125 else bytes([0xC1, 0x80 | len(z)])
    return hdr + key + bytes(b ^ key[i % 4] for i, b in enumerate(z))


def client(port, frame):
    s = socket.create_connection((HOST, port), timeout=10)
    key = base64.b64encode(os.urandom(16))
    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              b"Sec-WebSocket-Key: " + key + b"\r\nSec-WebSocket-Version: 13\r\n"
              b"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n")
    buf = b""
    while b"\r\n\r\n" not in buf:
        buf += s.recv(4096)
    head, rest = buf.split(b"\r\n\r\n", 1)
    if b"permessage-deflate" not in head:
        raise RuntimeError("not agreed: %r" % head)
    s.sendall(frame)
    while len(rest) < 2:  # the reply's frame header: enough to know it came
        rest += s.recv(4096)
    n = rest[1] & 0x7F
    hl = 2 if n < 126 else 4
    while len(rest) < hl:
        rest += s.recv(4096)
    if n == 126:
        n = struct.unpack(">H", rest[2:4])[0]
    while len(rest) < hl + n:
        rest += s.recv(65536)
    return s, rest[0] & 0x40


def memory(args):
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    table = servers(args.sockit)
    frame = compressed_frame(json_like(1024, 1))
    print("| server | per connection after one compressed message each way | replies compressed |")
    print("|---|---|---|")
    for n in table:
        if args.only and n not in args.only:
            continue
        port = free_port()
        p = start(table[n](port), port)
        try:
            for _ in range(10):  # what the first connections allocate once is not counted
                s, _z = client(port, frame)
                s.close()
            time.sleep(0.3)
            before = rss(p.pid)
            socks, comp = [], 0
            for _ in range(args.conns):
                s, z = client(port, frame)
                socks.append(s)
                comp += bool(z)
            time.sleep(0.5)
            after = rss(p.pid)
            for s in socks:
                s.close()
        finally:
            stop(p)
        print("| %s | %.0f B | %d of %d |" % (n, (after - before) / args.conns, comp, args.conns), flush=True)


# ---------------------------------------------------------------- threshold

def threshold(args):
    print("| message bytes | on the wire compressed | saved |")
    print("|---|---|---|")
    for n in (8, 16, 32, 48, 64, 72, 80, 88, 96, 112, 128, 256, 1024):
        sizes = []
        for seed in range(20):
            c = zlib.compressobj(6, zlib.DEFLATED, -15, 8)
            sizes.append(len((c.compress(json_like(n, seed)) + c.flush(zlib.Z_SYNC_FLUSH))[:-4]))
        z = statistics.median(sizes)
        print("| %d | %.0f | %+.0f |" % (n, z, n - z))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("what", nargs="?", default="cpu", choices=["cpu", "memory", "threshold"])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--secs", type=int, default=5)
    ap.add_argument("--conns", type=int, default=None)
    ap.add_argument("--only", action="append")
    ap.add_argument("--sockit", default=os.path.join(ROOT, "build", "sockit"))
    args = ap.parse_args()
    if args.conns is None:
        args.conns = 2000 if args.what == "memory" else 100
    {"cpu": cpu, "memory": memory, "threshold": threshold}[args.what](args)


if __name__ == "__main__":
    sys.exit(main())
