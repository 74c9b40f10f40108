#!/usr/bin/env python3
"""tls_ab.py — paired A/B rounds of TLS echo servers: server CPU per message
under `pingpong --tls` (server on CPU 0, loader on CPU 1, as run.py pins
them), each round running every contender once, in alternating order.
A contender is NAME=SOCKIT_BINARY:IO (IO epoll or uring), e.g. two builds of
the same branch, or one build on both backends.
Usage: bench/tls_ab.py [--rounds N] [--secs S] [--conns C] [--depth D]
       [--size B] NAME=BIN:IO NAME=BIN:IO ...   (the first is the reference)
Prints each round, then per contender the median CPU µs/msg and the median
of the per-round ratios to the first (make -C bench builds pingpong)."""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from idle_memory import free_port, make_cert, wait_listening  # noqa: E402
PINGPONG = os.path.join(HERE, "build", "pingpong")


def one_run(binary, io, cert, key, a):
    """CPU µs per message of one server under one pingpong run."""
    port = free_port()
    srv = subprocess.Popen(["taskset", "-c", "0", binary, "serve", "echo", "tls://127.0.0.1:%d" % port,
                            "--cert", cert, "--key", key, "--nodelay", "--threads", "1", "--io", io],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        if not wait_listening(port):
            raise RuntimeError("%s did not listen on %d" % (binary, port))
        out = subprocess.run(["taskset", "-c", "1", PINGPONG, "127.0.0.1", str(port), str(a.conns),
                              str(a.depth), str(a.size), str(a.secs), "--tls", "--frame", "raw",
                              "--pid", str(srv.pid)], capture_output=True, text=True, timeout=a.secs + 60)
        d = json.loads(out.stdout.strip().splitlines()[-1])
        if d.get("errors"):
            raise RuntimeError("pingpong reported %d errors" % d["errors"])
        return d["server_cpu_us"] / d["msgs"]
    finally:
        srv.terminate()
        srv.wait()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=8)
    ap.add_argument("--secs", type=float, default=2)
    ap.add_argument("--conns", type=int, default=10)
    ap.add_argument("--depth", type=int, default=4)
    ap.add_argument("--size", type=int, default=16384)
    ap.add_argument("contenders", nargs="+", help="NAME=SOCKIT_BINARY:IO")
    a = ap.parse_args()
    specs = []
    for c in a.contenders:
        name, _, rest = c.partition("=")
        binary, _, io = rest.rpartition(":")
        if not name or not binary or io not in ("epoll", "uring"):
            sys.exit("bad contender %r (NAME=BINARY:epoll|uring)" % c)
        specs.append((name, binary, io))
    print("command: %s" % " ".join(sys.argv))
    cpu = {s[0]: [] for s in specs}
    with tempfile.TemporaryDirectory() as d:
        cert, key = make_cert(d)
        for r in range(a.rounds):
            for name, binary, io in specs if r % 2 == 0 else specs[::-1]:
                cpu[name].append(one_run(binary, io, cert, key, a))
            print("round %d: %s" % (r + 1, "  ".join("%s %.2f" % (s[0], cpu[s[0]][-1]) for s in specs)),
                  flush=True)
    ref = specs[0][0]
    for name, _, _ in specs:
        ratios = [x / y for x, y in zip(cpu[name], cpu[ref])]
        print("%-14s median %.2f µs/msg   paired / %s: %.2f (%s)" % (
            name, statistics.median(cpu[name]), ref, statistics.median(ratios),
            " ".join("%.2f" % x for x in ratios)))


if __name__ == "__main__":
    main()
