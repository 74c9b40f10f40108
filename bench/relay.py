#!/usr/bin/env python3
"""relay.py — the relay's CPU per message, side by side with HAProxy.

Raw tcp->tcp at 100 conns x 64 B depth 1 and 10 conns x 16 KiB depth 4:
`sockit relay` (splice, and --no-splice) against HAProxy `mode tcp`
nbthread 1 (and with `option splice-auto`). The relay (or HAProxy) is pinned
to CPU 0; the loader (bench/build/pingpong) and the raw epoll echo behind
the relay (bench/build/epoll_echo) share CPU 1; only the relay's CPU counts
(pingpong --pid reads its /proc stat over the measured window).

ws->tcp: `sockit relay ws:// tcp:// --to-frame line` in front of the epoll
echo, 100 conns x 64 B depth 1 (pingpong --ws), against the sum of sockit's
own WebSocket echo and TCP echo at the same load (each alone on CPU 0).

Rounds are paired (every contender once per round, in turn); the report
gives per-round figures, medians and the median of the paired ratios.

Usage: bench/relay.py [--rounds N] [--secs S] [--warmup S] [--json FILE]
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from run import BUILD, HOST, ROOT, free_port, haproxy_tcp_config, wait_listening  # the suite's own helpers

RELAY_CPU, LOAD_CPU = "0", "1"
SOCKIT = os.path.join(ROOT, "build", "sockit")
SCENARIOS = {  # name: (conns, depth, size, ws)
    "raw-64-d1": (100, 1, 64, False),
    "raw-16k-d4": (10, 4, 16384, False),
    "ws-line-64-d1": (100, 1, 64, True),
}


def haproxy_cfg(d, port, backend, splice):
    path = os.path.join(d, "haproxy-%d.cfg" % port)
    with open(path, "w") as f:
        f.write(haproxy_tcp_config("bind %s:%d" % (HOST, port), backend,
                                   "    option splice-auto\n" if splice else ""))
    return ["haproxy", "-db", "-f", path]


def contenders(scenario):
    """name -> function(port, backend_port, tmpdir) giving the argv run on
    RELAY_CPU (backend_port None: the process is itself the echo)."""
    if SCENARIOS[scenario][3]:
        return {
            "sockit-relay-ws-line": lambda p, b, d: [SOCKIT, "relay", "ws://%s:%d/" % (HOST, p),
                                                     "tcp://%s:%d" % (HOST, b), "--to-frame", "line"],
            "sockit-ws-echo": None,  # measured as two echoes (see ws_reference)
        }
    return {
        "sockit-relay": lambda p, b, d: [SOCKIT, "relay", "tcp://%s:%d" % (HOST, p), "tcp://%s:%d" % (HOST, b)],
        "sockit-relay-copy": lambda p, b, d: [SOCKIT, "relay", "tcp://%s:%d" % (HOST, p),
                                              "tcp://%s:%d" % (HOST, b), "--no-splice"],
        "haproxy": lambda p, b, d: haproxy_cfg(d, p, b, False),
        "haproxy-splice": lambda p, b, d: haproxy_cfg(d, p, b, True),
    }


def start(argv, cpu, port):
    p = subprocess.Popen(["taskset", "-c", cpu] + argv, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, start_new_session=True)
    if not wait_listening(port, p):
        p.kill()
        raise SystemExit("relay.py: %s did not start" % argv[0])
    return p


def stop(p):
    if p.poll() is None:
        p.terminate()
        try:
            p.wait(5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def pingpong(port, sc, pid, args, ws=False):
    conns, depth, size, _ = SCENARIOS[sc]
    argv = ["taskset", "-c", LOAD_CPU, os.path.join(BUILD, "pingpong"), HOST, str(port), str(conns),
            str(depth), str(size), str(args.secs), "--pid", str(pid), "--warmup", str(args.warmup)]
    if ws:
        argv += ["--ws", "/"]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=args.secs + args.warmup + 60)
    try:
        r = json.loads(out.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise SystemExit("relay.py: pingpong failed: %s %s" % (out.stdout, out.stderr))
    if r["errors"] or not r["msgs"]:
        raise SystemExit("relay.py: pingpong errors: %s" % r)
    return r


def measure_relay(argv_of, sc, args, d):
    """The relay in front of the epoll echo (on the loader's CPU)."""
    bport, port = free_port(), free_port()
    echo = start([os.path.join(BUILD, "epoll_echo"), HOST, str(bport)], LOAD_CPU, bport)
    try:
        relay = start(argv_of(port, bport, d), RELAY_CPU, port)
        try:
            r = pingpong(port, sc, relay.pid, args, ws=SCENARIOS[sc][3])
        finally:
            stop(relay)
    finally:
        stop(echo)
    return r["server_cpu_us"] / r["msgs"], r["msgs_per_sec"]


def measure_echo(argv, sc, args, ws):
    port = free_port()
    srv = start(argv(port), RELAY_CPU, port)
    try:
        r = pingpong(port, sc, srv.pid, args, ws=ws)
    finally:
        stop(srv)
    return r["server_cpu_us"] / r["msgs"], r["msgs_per_sec"]


def ws_reference(sc, args):
    """sockit's WebSocket echo plus its TCP echo, CPU per message each."""
    one = ["--threads", "1"]
    ws, _ = measure_echo(lambda p: [SOCKIT, "serve", "echo", "ws://%s:%d/" % (HOST, p)] + one, sc, args, True)
    tcp, _ = measure_echo(lambda p: [SOCKIT, "serve", "echo", "tcp://%s:%d" % (HOST, p)] + one, sc, args, False)
    return ws + tcp, 0.0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--secs", type=float, default=3)
    ap.add_argument("--warmup", type=float, default=0.5)
    ap.add_argument("--only", action="append", help="scenario (repeatable): " + " ".join(SCENARIOS))
    ap.add_argument("--json")
    args = ap.parse_args()
    if not shutil.which("haproxy"):
        sys.exit("relay.py: haproxy is not installed (bench/install-deps.sh)")
    subprocess.run(["make", "-s", "-C", os.path.join(ROOT, "bench")], check=True)
    d = tempfile.mkdtemp(prefix="relay-bench.")
    results = {}
    try:
        for sc in args.only or SCENARIOS:
            names = contenders(sc)
            res = {n: [] for n in names}
            for rnd in range(args.rounds):
                for n, argv_of in names.items():
                    cpu, rate = ws_reference(sc, args) if argv_of is None else measure_relay(argv_of, sc, args, d)
                    res[n].append(cpu)
                    print("%-14s round %d %-22s %7.2f us/msg  %9.0f msgs/s" % (sc, rnd + 1, n, cpu, rate),
                          flush=True)
            results[sc] = res
            report(sc, res)
    finally:
        shutil.rmtree(d, ignore_errors=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


def report(sc, res):
    names = list(res)
    ref = names[-1] if not SCENARIOS[sc][3] else "sockit-ws-echo"
    print("\n%s: relay CPU per message (median of rounds; paired ratio vs %s)" % (sc, ref))
    for n in names:
        ratios = [a / b for a, b in zip(res[n], res[ref])]
        print("  %-22s %7.2f us   ratio %.2f  (%s)" % (n, statistics.median(res[n]), statistics.median(ratios),
                                                      " ".join("%.2f" % r for r in ratios)))
    if not SCENARIOS[sc][3]:
        for n in ("sockit-relay", "sockit-relay-copy"):
            ratios = [a / b for a, b in zip(res[n], res["haproxy"])]
            print("  %s / haproxy (no splice): %.2f" % (n, statistics.median(ratios)))
    print(flush=True)


if __name__ == "__main__":
    main()
