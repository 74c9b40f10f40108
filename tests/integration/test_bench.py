#!/usr/bin/env python3
"""test_bench.py — integration tests of `sockit bench` against `sockit serve
echo` (tcp, unix, udp, unixgram, ws, every framing), against small Python servers
that corrupt or drop data, and for the exit status, the JSON report and
--rate. Standalone, standard library only.

Environment: SOCKIT = the sockit binary (default build/sockit).
"""
import json
import os
import re
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SOCKIT = os.environ.get("SOCKIT") or os.path.join(REPO, "build", "sockit")
SLOW = "asan" in SOCKIT or os.environ.get("SOCKIT_VALGRIND") == "1"
SCALE = 3.0 if SLOW else 1.0
TMP = tempfile.mkdtemp(prefix="sockit-bench-")

failures = []


def check(cond, msg):
    if not cond:
        failures.append(msg)
        print("    check failed: %s" % msg, flush=True)
    return bool(cond)


def free_port(kind=socket.SOCK_STREAM):
    """A port nobody uses right now: bind port 0 and ask which one we got."""
    s = socket.socket(socket.AF_INET, kind)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Serve:
    """`with Serve("tcp://127.0.0.1:P", "--frame", "len32be"):` runs
    `sockit serve echo` until the block ends."""

    def __init__(self, url, *args):
        self.url = url
        self.log = open(os.path.join(TMP, "serve-%d.log" % time.monotonic_ns()), "w+")
        self.proc = subprocess.Popen([SOCKIT, "serve", "echo", url, *args],
                                     stdout=self.log, stderr=self.log)

    def __enter__(self):
        deadline = time.monotonic() + 10 * SCALE
        while time.monotonic() < deadline:
            self.log.seek(0)
            if "sockit: serving" in self.log.read():
                return self
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        self.__exit__()
        raise RuntimeError("sockit serve %s did not start" % self.url)

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10 * SCALE)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


class PyEcho:
    """A tiny threaded TCP echo server that knows the message size and can
    flip one payload byte of every `corrupt_every`-th message of a connection,
    or close a connection after `close_after` messages, or stall: read
    nothing until `stall` seconds after it started."""

    def __init__(self, size, corrupt_every=0, close_after=0, stall=0.0):
        self.size, self.corrupt_every, self.close_after = size, corrupt_every, close_after
        self.stall_until = time.monotonic() + stall
        self.flipped = 0
        self.lock = threading.Lock()
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]
        self.stop = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stop:
            try:
                r, _, _ = select.select([self.sock], [], [], 0.1)
                if not r:
                    continue
                c, _ = self.sock.accept()
            except (OSError, ValueError):  # closed by close()
                return
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        pos = 0  # bytes echoed so far on this connection
        time.sleep(max(0.0, self.stall_until - time.monotonic()))
        try:
            while True:
                data = bytearray(c.recv(65536))
                if not data:
                    break
                for i in range(len(data)):
                    k, off = divmod(pos + i, self.size)
                    if self.corrupt_every and k % self.corrupt_every == self.corrupt_every - 1 \
                            and off == self.size // 2:
                        data[i] ^= 0x01
                        with self.lock:
                            self.flipped += 1
                pos += len(data)
                c.sendall(data)
                if self.close_after and pos >= self.close_after * self.size:
                    break
        except OSError:
            pass
        c.close()

    def close(self):
        self.stop = True
        self.sock.close()


def bench(*args, timeout=60):
    """Runs `sockit bench ARGS`; returns (status, stdout, stderr)."""
    p = subprocess.run([SOCKIT, "bench", *args], capture_output=True, text=True,
                       timeout=timeout * SCALE)
    return p.returncode, p.stdout, p.stderr


def report(out):
    """The numbers of the human report."""
    r = {}
    m = re.search(r"connections\s+(\d+) ok, (\d+) failed", out)
    if m:
        r["ok"], r["failed"] = int(m.group(1)), int(m.group(2))
    m = re.search(r"messages\s+(\d+) sent, (\d+) received, (\d+) lost", out)
    if m:
        r["sent"], r["received"], r["lost"] = map(int, m.groups())
    m = re.search(r"duration\s+([\d.]+) s", out)
    if m:
        r["duration"] = float(m.group(1))
    r["errors_none"] = re.search(r"errors\s+none", out) is not None
    r["latency"] = re.search(r"latency\s+p50 \S+\s+p90 \S+\s+p99 \S+\s+p99\.9 \S+\s+max \S+", out) \
        is not None
    return r


def expect_clean(rc, out, err, n, what):
    r = report(out)
    ok = check(rc == 0, "%s: exit %d, want 0; stderr: %s" % (what, rc, err.strip()))
    ok &= check(r.get("sent") == n and r.get("received") == n,
                "%s: want %d sent and received: %s" % (what, n, out))
    ok &= check(r.get("failed") == 0 and r.get("lost") == 0 and r["errors_none"],
                "%s: want no errors: %s" % (what, out))
    ok &= check(r["latency"], "%s: no latency line: %s" % (what, out))
    return ok


# ---------------------------------------------------------------- tests

def test_tcp_verify_and_json():
    port = free_port()
    path = os.path.join(TMP, "report.json")
    with Serve("tcp://127.0.0.1:%d" % port):
        rc, out, err = bench("tcp://127.0.0.1:%d" % port, "-c", "20", "-n", "2000", "--verify",
                             "--json", path)
    expect_clean(rc, out, err, 2000, "tcp -c 20 -n 2000 --verify")
    check(report(out).get("ok") == 20, "20 connections ok: %s" % out)
    with open(path) as f:
        j = json.load(f)
    for key in ("target", "connections", "messages", "duration_s", "msgs_per_sec", "mb_per_sec",
                "latency_us", "errors", "ok"):
        check(key in j, "JSON has %s" % key)
    check(j["messages"]["sent"] == 2000 and j["messages"]["received"] == 2000, "JSON messages")
    check(j["connections"]["ok"] == 20 and j["connections"]["failed"] == 0, "JSON connections")
    lat = j["latency_us"]
    check(0 < lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["p99_9"] <= lat["max"],
          "JSON percentiles ordered: %s" % lat)
    check(all(v == 0 for v in j["errors"].values()), "JSON errors all 0: %s" % j["errors"])
    check(j["ok"] is True and j["msgs_per_sec"] > 0, "JSON ok and rate")


def test_framed_len32be():
    port = free_port()
    with Serve("tcp://127.0.0.1:%d" % port, "--frame", "len32be"):
        rc, out, err = bench("tcp://127.0.0.1:%d" % port, "--frame", "len32be", "--size", "1000",
                             "-c", "10", "-n", "2000", "--verify")
    expect_clean(rc, out, err, 2000, "--frame len32be --size 1000")


def test_every_framing():
    for mode in ("raw", "line", "len8", "len16be", "len16le", "len32be", "len32le", "len64be",
                 "len64le"):
        port = free_port()
        with Serve("tcp://127.0.0.1:%d" % port, "--frame", mode):
            rc, out, err = bench("tcp://127.0.0.1:%d" % port, "--frame", mode, "--size", "200",
                                 "-c", "4", "-n", "400", "--depth", "3", "--verify")
        expect_clean(rc, out, err, 400, "--frame %s" % mode)


def test_raw_large_messages_split_by_tcp():
    """Raw replies of 50 kB arrive in pieces: each is reassembled and checked."""
    port = free_port()
    with Serve("tcp://127.0.0.1:%d" % port):
        rc, out, err = bench("tcp://127.0.0.1:%d" % port, "--size", "50000", "--depth", "4",
                             "-c", "4", "-n", "400", "--verify", "--threads", "2")
    expect_clean(rc, out, err, 400, "raw 50 kB depth 4, 2 threads")


def test_unix_stream():
    path = os.path.join(TMP, "echo.sock")
    with Serve("unix://" + path):
        rc, out, err = bench("unix://" + path, "-c", "10", "-n", "2000", "--verify")
    expect_clean(rc, out, err, 2000, "unix stream")


def test_udp_no_loss_on_loopback():
    port = free_port(socket.SOCK_DGRAM)
    path = os.path.join(TMP, "udp.json")
    with Serve("udp://127.0.0.1:%d" % port):
        rc, out, err = bench("udp://127.0.0.1:%d" % port, "-c", "10", "-n", "2000", "--verify",
                             "--json", path)
    expect_clean(rc, out, err, 2000, "udp")
    check("0 lost (0.00%)" in out, "udp loss reported as 0 and 0%%: %s" % out)
    with open(path) as f:
        m = json.load(f)["messages"]
    check(m["lost"] == 0 and m["lost_pct"] == 0, "JSON udp loss 0: %s" % m)


def test_unixgram():
    path = os.path.join(TMP, "echo.dgram")
    with Serve("unixgram://" + path):
        rc, out, err = bench("unixgram://" + path, "-c", "5", "-n", "1000", "--verify")
    expect_clean(rc, out, err, 1000, "unixgram")


def test_ws_verify_and_json():
    port = free_port()
    path = os.path.join(TMP, "ws.json")
    with Serve("ws://127.0.0.1:%d/" % port):
        rc, out, err = bench("ws://127.0.0.1:%d/" % port, "-c", "20", "-n", "2000", "--verify",
                             "--json", path)
    expect_clean(rc, out, err, 2000, "ws -c 20 -n 2000 --verify")
    check(report(out).get("ok") == 20, "ws: 20 connections ok: %s" % out)
    check("ws binary messages" in out, "ws: the setup line says ws: %s" % out)
    with open(path) as f:
        j = json.load(f)
    check(j["transport"] == "ws" and j["frame"] == "ws", "JSON ws transport/frame: %s" % j)
    check(j["errors"]["handshake"] == 0 and j["ok"] is True, "JSON ws errors: %s" % j["errors"])
    # each message is framed: 64 + 2 header + 4 mask bytes out, 64 + 2 header bytes in
    check(j["bytes"] == {"sent": 2000 * 70, "received": 2000 * 66}, "JSON ws bytes: %s" % j["bytes"])


def test_ws_size_depth_threads():
    port = free_port()
    with Serve("ws://127.0.0.1:%d/echo" % port):
        rc, out, err = bench("ws://127.0.0.1:%d/echo" % port, "--size", "1000", "--depth", "4",
                             "-c", "10", "-n", "4000", "--verify", "--threads", "2")
    expect_clean(rc, out, err, 4000, "ws --size 1000 --depth 4 --threads 2")


def test_ws_large_messages():
    """70 kB messages use the 8-byte WebSocket length and span many reads."""
    port = free_port()
    with Serve("ws://127.0.0.1:%d/" % port):
        rc, out, err = bench("ws://127.0.0.1:%d/" % port, "--size", "70000", "--depth", "2",
                             "-c", "4", "-n", "200", "--verify")
    expect_clean(rc, out, err, 200, "ws --size 70000")


def test_ws_rate():
    port = free_port()
    with Serve("ws://127.0.0.1:%d/" % port):
        rc, out, err = bench("ws://127.0.0.1:%d/" % port, "--rate", "1000", "-d", "2", "-c", "10")
    r = report(out)
    check(rc == 0, "ws rate: exit %d: %s" % (rc, out))
    check(1600 <= r.get("sent", 0) <= 2400, "ws --rate 1000 -d 2 sends about 2000: %s" % out)
    check(r.get("received") == r.get("sent"), "ws rate: every reply arrived: %s" % out)


def test_ws_wrong_path_fails_handshake():
    port = free_port()
    path = os.path.join(TMP, "ws404.json")
    with Serve("ws://127.0.0.1:%d/echo" % port):
        rc, out, err = bench("ws://127.0.0.1:%d/wrong" % port, "-c", "5", "-d", "5",
                             "--json", path)
    r = report(out)
    check(rc == 1, "ws 404: exit %d, want 1" % rc)
    check(r.get("ok") == 0 and r.get("failed") == 5, "ws 404: 5 connections failed: %s" % out)
    check("handshake failed: 5" in out, "ws 404: errors name the handshake: %s" % out)
    check(r.get("sent") == 0, "ws 404: nothing sent: %s" % out)
    check(r.get("duration", 99) < 2, "ws 404: no waiting for -d: %s" % out)
    with open(path) as f:
        j = json.load(f)
    check(j["errors"]["handshake"] == 5 and j["ok"] is False, "JSON ws 404: %s" % j["errors"])


def test_ws_handshake_timeout():
    """A server that accepts but never answers the upgrade: --timeout covers
    connect + handshake, counted as connect timeouts."""
    lst = socket.socket()
    lst.bind(("127.0.0.1", 0))
    lst.listen(16)
    try:
        rc, out, err = bench("ws://127.0.0.1:%d/" % lst.getsockname()[1], "-c", "3", "-d", "5",
                             "--timeout", "1")
    finally:
        lst.close()
    r = report(out)
    check(rc == 1 and r.get("failed") == 3, "ws silent server: exit %d, 3 failed: %s" % (rc, out))
    check("connect timeout: 3" in out, "ws silent server: timeouts: %s" % out)
    check(r.get("duration", 99) < 3, "ws silent server: ends after --timeout: %s" % out)


def test_ws_server_closing_fails_connections():
    port = free_port()
    with Serve("ws://127.0.0.1:%d/" % port) as srv:
        threading.Timer(1.0 * SCALE, lambda: srv.proc.send_signal(signal.SIGTERM)).start()
        rc, out, err = bench("ws://127.0.0.1:%d/" % port, "-c", "5", "-d", "10")
    r = report(out)
    check(rc == 1, "ws server stopping: exit %d, want 1" % rc)
    kinds = sum(int(n) for n in re.findall(r"(?:closed by server|reset after connect): (\d+)", out))
    check(r.get("failed") == 5 and kinds == 5, "ws: 5 failed, closed or reset: %s" % out)
    check(r.get("duration", 99) < 5 * SCALE, "ws: the run ends with the server: %s" % out)


def test_verify_counts_corruption():
    srv = PyEcho(64, corrupt_every=100)
    path = os.path.join(TMP, "corrupt.json")
    try:
        rc, out, err = bench("tcp://127.0.0.1:%d" % srv.port, "-c", "20", "-n", "2000",
                             "--verify", "--json", path)
    finally:
        srv.close()
    check(rc == 1, "corrupting server: exit %d, want 1" % rc)
    with open(path) as f:
        j = json.load(f)
    check(srv.flipped > 0, "the server corrupted something")
    check(j["errors"]["corrupt"] == srv.flipped,
          "corrupt %d, want %d (flipped by the server)" % (j["errors"]["corrupt"], srv.flipped))
    check(j["messages"]["received"] == 2000 and j["ok"] is False, "JSON: %s" % j["messages"])
    check(re.search(r"verify: corrupt: %d" % srv.flipped, out) is not None,
          "human report names the corrupt count: %s" % out)


def test_server_closing_early_fails_connections():
    srv = PyEcho(64, close_after=10)
    try:
        rc, out, err = bench("tcp://127.0.0.1:%d" % srv.port, "-c", "5", "-d", "5")
    finally:
        srv.close()
    r = report(out)
    check(rc == 1, "server closing early: exit %d, want 1" % rc)
    # a server that closes with our next message unread sends a reset instead of a FIN
    kinds = sum(int(n) for n in re.findall(r"(?:closed by server|reset after connect): (\d+)", out))
    check(r.get("failed") == 5 and kinds == 5, "5 failed, closed or reset: %s" % out)
    check(r.get("duration", 99) < 4, "the run ends when no connection is left: %s" % out)


def test_refused():
    port = free_port()
    rc, out, err = bench("tcp://127.0.0.1:%d" % port, "-c", "5", "-d", "5")
    r = report(out)
    check(rc == 1, "refused: exit %d, want 1" % rc)
    check(r.get("ok") == 0 and r.get("failed") == 5, "5 connections failed: %s" % out)
    check("connect refused: 5" in out, "errors name the refusals: %s" % out)
    check(r.get("duration", 99) < 2, "no waiting for -d when nothing is connected: %s" % out)


def test_usage_errors():
    for args in (["tcp://127.0.0.1:9", "--no-such-flag"], [], ["tcp://127.0.0.1:9", "-c"],
                 ["tcp://127.0.0.1:9", "-c", "0"], ["tcp://127.0.0.1:9", "--verify", "--size", "8"],
                 ["tcp://127.0.0.1:9", "--frame", "len8", "--size", "300"],
                 ["udp://127.0.0.1:9", "--source-addrs", "127.0.0.2-127.0.0.3"],
                 ["tcp://127.0.0.1:9", "--source-addrs", "127.0.0.9-127.0.0.2"], ["nope://x"],
                 ["ws://127.0.0.1:9/", "--frame", "len32be"],
                 ["ws://127.0.0.1:9/", "--size", "2000", "--max-frame", "1000"]):
        rc, out, err = bench(*args)
        check(rc == 2, "%s: exit %d, want 2" % (args, rc))
        check(err.startswith("sockit: ") and out == "", "%s: one line on stderr: %r" % (args, err))


def test_rate_open_loop():
    port = free_port()
    with Serve("tcp://127.0.0.1:%d" % port):
        rc, out, err = bench("tcp://127.0.0.1:%d" % port, "--rate", "1000", "-d", "2", "-c", "10")
    r = report(out)
    check(rc == 0, "rate: exit %d" % rc)
    check(1600 <= r.get("sent", 0) <= 2400, "--rate 1000 -d 2 sends about 2000: %s" % out)
    check(r.get("received") == r.get("sent"), "every reply arrived: %s" % out)
    check(1.8 <= r.get("duration", 0) <= 3.5, "duration about 2 s: %s" % out)


def test_rate_stalled_server():
    """--rate keeps its schedule while the server stalls, and every message
    sent during the stall counts the wait from its scheduled time (corrected
    for coordinated omission): a tool that timed from the (late) send, or
    waited for the replies before sending more, would report the stall as one
    slow message. The server reads nothing for its first 1.0 s of a 2 s run
    at 200 msgs/s, depth 1: messages scheduled at t in [0, 1) wait 1 - t, so
    p90 is about 0.8 s, max about 1 s, and the schedule is caught up after."""
    echo = PyEcho(64, stall=1.0)
    path = os.path.join(TMP, "stall.json")
    try:
        rc, out, err = bench("tcp://127.0.0.1:%d" % echo.port, "--rate", "200", "-d", "2",
                             "-c", "2", "--json", path)
    finally:
        echo.close()
    r = report(out)
    check(rc == 0, "stall: exit %d: %s %s" % (rc, out, err))
    check(360 <= r.get("sent", 0) <= 440, "stall: --rate 200 -d 2 still sends about 400: %s" % out)
    check(r.get("received") == r.get("sent"), "stall: every reply arrived: %s" % out)
    with open(path) as f:
        lat = json.load(f)["latency_us"]
    check(0.6e6 <= lat["p90"] <= 1.1e6 * SCALE, "stall: p90 about 0.8 s: %s" % lat)
    check(0.85e6 <= lat["max"] <= 1.3e6 * SCALE, "stall: max about 1 s: %s" % lat)
    check(lat["p50"] <= 0.6e6, "stall: half the messages came after the stall: %s" % lat)


def test_ramp():
    """--ramp: every connection is up before the clock starts, so -d 2 at
    --rate 400 sends about 800 and the report says how long connecting took."""
    port = free_port()
    path = os.path.join(TMP, "ramp.json")
    with Serve("tcp://127.0.0.1:%d" % port):
        rc, out, err = bench("tcp://127.0.0.1:%d" % port, "--ramp", "-c", "200", "--rate", "400",
                             "-d", "2", "--json", path)
    r = report(out)
    check(rc == 0, "ramp: exit %d: %s %s" % (rc, out, err))
    check(r.get("ok") == 200 and r.get("failed") == 0, "ramp: want 200 ok: %s" % out)
    check(600 <= r.get("sent", 0) <= 1000, "--ramp --rate 400 -d 2 sends about 800: %s" % out)
    check(r.get("received") == r.get("sent"), "ramp: every reply arrived: %s" % out)
    check(re.search(r"ramp\s+200 connections up in [\d.]+ s", out), "ramp line: %s" % out)
    check(1.8 <= r.get("duration", 0) <= 3.5, "ramp: duration about 2 s: %s" % out)
    with open(path) as f:
        j = json.load(f)
    check(isinstance(j.get("ramp_s"), float) and j["ramp_s"] >= 0 and j.get("ramp_up") == 200,
          "ramp JSON: ramp_s %r, ramp_up %r" % (j.get("ramp_s"), j.get("ramp_up")))


def test_source_addrs():
    port = free_port()
    with Serve("tcp://127.0.0.1:%d" % port):
        rc, out, err = bench("tcp://127.0.0.1:%d" % port, "-c", "20", "-n", "1000", "--verify",
                             "--source-addrs", "127.0.0.2-127.0.0.5")
    expect_clean(rc, out, err, 1000, "--source-addrs")


def main():
    print("sockit: %s" % SOCKIT, flush=True)
    tests = [v for k, v in sorted(globals().items()) if k.startswith("test_") and callable(v)]
    tests.sort(key=lambda f: f.__code__.co_firstlineno)
    if len(sys.argv) > 1:
        tests = [f for f in tests if any(a in f.__name__ for a in sys.argv[1:])]
    bad = 0
    for f in tests:
        before = len(failures)
        start = time.monotonic()
        try:
            f()
        except Exception:
            traceback.print_exc()
            failures.append("%s raised" % f.__name__)
        ok = len(failures) == before
        bad += not ok
        print("%s %s (%.1fs)" % ("ok  " if ok else "FAIL", f.__name__, time.monotonic() - start),
              flush=True)
    print("%d passed, %d failed" % (len(tests) - bad, bad))
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
