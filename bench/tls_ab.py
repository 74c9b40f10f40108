#!/usr/bin/env python3
"""tls_ab.py — paired A/B rounds of TLS echo servers: server CPU per message
under `pingpong --tls` (server on CPU 0, loader on CPU 1, as run.py pins
them), each round running every contender once, in alternating order.
A contender is NAME=SOCKIT_BINARY:IO (IO epoll or uring), e.g. two builds of
the same branch, or one build on both backends, or tls-echo / tls-echo-naive
(bench/build/tls_echo with and without read-ahead, as in run.py).
--rate R: open loop instead: `sockit bench --rate R -k --ramp` (build/sockit)
drives each server at the same R msgs/s, below every contender's ceiling, and
the server's CPU (/proc schedstat) is read over the run's middle; so a server
with time to spare is not charged for waking more often than a saturated one
(in a closed loop the faster server idles, and pays a wakeup per few events).
Usage: bench/tls_ab.py [--rounds N] [--secs S] [--conns C] [--depth D]
       [--size B] [--rate R] NAME=BIN:IO|tls-echo|tls-echo-naive ...
       (the first is the reference)
Prints each round, then per contender the median CPU µs/msg and the median
of the per-round ratios to the first (make -C bench builds pingpong, tls_echo)."""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from idle_memory import free_port, wait_listening  # noqa: E402
from run import find_rate, make_cert, servers, sockit_tls_argv  # noqa: E402  (run.py's servers)
PINGPONG = os.path.join(HERE, "build", "pingpong")
SOCKIT = os.path.join(HERE, "..", "build", "sockit")
PEERS = ("tls-echo", "tls-echo-naive")  # run.py's minimal OpenSSL echo, with and without read-ahead


def server_argv(binary, io, port):
    if binary in PEERS:
        return servers(SOCKIT, [])[binary][0](port)
    return sockit_tls_argv(binary, ["--threads", "1", "--io", io])(port)


def schedstat_ns(pid):
    """CPU time of every thread of pid, in ns."""
    return sum(int(open("/proc/%d/task/%s/schedstat" % (pid, t)).read().split()[0])
               for t in os.listdir("/proc/%d/task" % pid))


def open_loop(port, pid, a, tmp):
    """CPU µs per message at a.rate msgs/s, over the middle of a.secs + 2 s; an
    error if the server lost messages or did not keep up with the rate."""
    jf = os.path.join(tmp, "bench.json")
    ld = subprocess.Popen(["taskset", "-c", "1", SOCKIT, "bench", "tls://127.0.0.1:%d" % port, "-k", "-c",
                           str(a.conns), "--depth", str(a.depth), "--size", str(a.size), "--rate", str(a.rate),
                           "-d", str(a.secs + 2), "--ramp", "--json", jf],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.5)
    c0 = schedstat_ns(pid)
    time.sleep(a.secs)
    c1 = schedstat_ns(pid)
    if ld.wait(timeout=60) != 0:
        raise RuntimeError("sockit bench exited with status %d" % ld.returncode)
    doc = json.load(open(jf))
    errors = sum(v for v in doc.get("errors", {}).values() if isinstance(v, int))
    got = find_rate(doc) or 0.0
    if errors or got < 0.97 * a.rate:
        raise RuntimeError("sockit bench: %d errors, %.0f of %d msgs/s (the rate is above this server's "
                           "ceiling?)" % (errors, got, a.rate))
    return (c1 - c0) / 1e3 / (a.rate * a.secs)


def one_run(binary, io, a, tmp):
    """CPU µs per message of one server under one pingpong run (or open-loop run)."""
    port = free_port()
    srv = subprocess.Popen(["taskset", "-c", "0"] + server_argv(binary, io, port),
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        if not wait_listening(port):
            raise RuntimeError("%s did not listen on %d" % (binary, port))
        if a.rate:
            return open_loop(port, srv.pid, a, tmp)
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
    ap.add_argument("--rate", type=int, default=0, help="open loop at this many msgs/s (sockit bench)")
    ap.add_argument("contenders", nargs="+", help="NAME=SOCKIT_BINARY:IO, tls-echo or tls-echo-naive")
    a = ap.parse_args()
    specs = []
    for c in a.contenders:
        if c in PEERS:
            specs.append((c, c, None))
            continue
        name, _, rest = c.partition("=")
        binary, _, io = rest.rpartition(":")
        if not name or not binary or io not in ("epoll", "uring"):
            sys.exit("bad contender %r (NAME=BINARY:epoll|uring)" % c)
        specs.append((name, binary, io))
    print("command: %s" % " ".join(sys.argv))
    cpu = {s[0]: [] for s in specs}
    with tempfile.TemporaryDirectory() as d:
        make_cert(d)  # (run.CERT: the servers' argv name it)
        for r in range(a.rounds):
            for name, binary, io in specs if r % 2 == 0 else specs[::-1]:
                cpu[name].append(one_run(binary, io, a, d))
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
