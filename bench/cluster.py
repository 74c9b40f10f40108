#!/usr/bin/env python3
"""cluster.py — chat across machines (`serve chat --cluster`), on this machine.

Rounds alternate, each with fresh processes:
  single:  one chat node without --cluster, M members + one sender (the cost
           of a local delivery, as bench/fanout.py measures it);
  cluster: a redis-server and three `--cluster` nodes, M members on each,
           the sender on node 0: node 0 delivers locally and PUBLISHes once
           per message, nodes 1 and 2 deliver what arrives from Redis.
Both run bursts of B x S-byte lines from the one sender (next burst when
every member on every node has all B: every delivery counted). Server CPU is
utime + stime per process (/proc/PID/stat) over the measured window.
--callgrind: instructions instead (user space, deterministic, unaffected by
the other tenants): a lone node, then node 1 of a cluster, run under
callgrind; counters zeroed when the measured window opens and dumped when it
closes; Ir per delivery = the dump's total / that node's deliveries.
Then latency: the cluster at --rate lines/s published (members on nodes 1-2
timestamp what arrives from node 0), and redis-benchmark PUBLISH rates.
CPU rounds and redis-benchmark: servers (nodes and Redis) on CPU 0, the
loader on CPU 1; latency runs: no pinning (four servers on one CPU would
measure the scheduler's queue, not the path).
"""
import argparse
import glob
import json
import os
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402
from run import BUILD, HOST, LOADER_CPU, SERVER_CPU, ROOT, med  # noqa: E402

LOADER = os.path.join(BUILD, "cluster_load")
PIN = {"on": True}  # the latency runs let the scheduler place the 4 servers on both CPUs


def pinned(cpu):
    return ["taskset", "-c", cpu] if PIN["on"] else []


def start_redis():
    port = run.free_port()
    p = run.spawn(pinned(SERVER_CPU) + ["redis-server", "--port", str(port), "--bind", HOST,
                   "--save", "", "--appendonly", "no"], stdout=subprocess.DEVNULL,
                  stderr=subprocess.DEVNULL)
    if not run.wait_listening(port, p):
        raise SystemExit("redis-server did not start")
    return p, port


def start_node(sockit, redis_port, name, io, wrap=()):
    port = run.free_port()
    argv = list(wrap) + [sockit, "serve", "chat", "tcp://%s:%d" % (HOST, port), "--threads", "1", "--nodelay",
            "--frame", "line", "--io", io]
    if redis_port:
        argv += ["--cluster", "redis://%s:%d" % (HOST, redis_port), "--node", name]
    p = run.spawn(pinned(SERVER_CPU) + argv, stdout=subprocess.DEVNULL,
                  stderr=subprocess.DEVNULL)
    if not run.wait_listening(port, p, 60 if wrap else 5):
        raise SystemExit("node %s did not start" % name)
    return p, port


def load(ports, pids, args, extra=()):
    argv = pinned(LOADER_CPU) + [LOADER, "--ports", ",".join(map(str, ports)),
            "--pids", ",".join(map(str, pids)), "--members", str(args.members),
            "--burst", str(args.burst), "--size", str(args.size), "--secs", str(args.secs),
            "--warmup", "0.5"] + list(extra)
    out = subprocess.run(argv, capture_output=True, text=True, timeout=args.secs + 120)
    if out.returncode != 0:
        sys.stderr.write(out.stderr[-2000:])
        return None
    return json.loads(out.stdout.strip().splitlines()[-1])


def with_cluster(args, fn, wrap1=()):
    procs = []
    try:
        rp, rport = start_redis()
        procs.append(rp)
        nodes = [start_node(args.sockit, rport, "n%d" % i, args.io, wrap1 if i == 1 else ())
                 for i in range(3)]
        procs += [p for p, _ in nodes]
        time.sleep(0.3)
        return fn([port for _, port in nodes], [p.pid for p, _ in nodes], rport)
    finally:
        for p in reversed(procs):
            run.stop(p)


def round_single(args):
    p, port = start_node(args.sockit, None, "single", args.io)
    try:
        return load([port], [p.pid], args)
    finally:
        run.stop(p)


def per_delivery(r, i):
    return r["cpu_us"][i] / r["deliveries"][i] if r and r["deliveries"][i] else None


def redis_benchmark(subscribers, pipeline, n=200000):
    """PUBLISH rate with `subscribers` connections SUBSCRIBEd (as nodes are)."""
    rp, rport = start_redis()
    subs = [run.spawn(["redis-cli", "-p", str(rport), "SUBSCRIBE", "sockit:chat"],
                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for _ in range(subscribers)]
    try:
        time.sleep(0.5)
        out = subprocess.run(pinned(LOADER_CPU) + ["redis-benchmark", "-p", str(rport),
                              "-n", str(n), "-c", "50", "-P", str(pipeline), "-q",
                              "PUBLISH", "sockit:chat", "x" * 100],
                             capture_output=True, text=True, timeout=300)
        m = re.search(r"([\d.]+) requests per second", out.stdout.replace("\r", "\n"))
        return float(m.group(1)) if m else None
    finally:
        for p in subs:
            run.stop(p)
        run.stop(rp)


def callgrind_ir(args, node):
    """Ir per delivery of the node at index `node` (1 in a cluster, 0 alone)."""
    out = "/tmp/sockit-cluster-cg.%d" % os.getpid()
    for f in glob.glob(out + "*"):
        os.unlink(f)
    wrap = ["valgrind", "--tool=callgrind", "--compress-strings=no", "--callgrind-out-file=" + out]

    def measure(ports, pids, _):
        ctl = "callgrind_control %s %d >/dev/null"
        return load(ports, pids, args, ["--on-start", ctl % ("-z", pids[node]),
                                        "--on-end", ctl % ("-d", pids[node])])

    if node == 0:
        p, port = start_node(args.sockit, None, "single", args.io, wrap)
        try:
            r = measure([port], [p.pid], None)
        finally:
            run.stop(p, wait=30)
    else:
        r = with_cluster(args, measure, wrap)
    dumps = sorted(f for f in glob.glob(out + ".*"))
    ir = None
    for line in open(dumps[0]) if dumps else []:
        if line.startswith(("totals:", "summary:")):
            ir = int(line.split()[1])
    if dumps and os.environ.get("CLUSTER_KEEP_DUMP"):
        os.rename(dumps[0], os.environ["CLUSTER_KEEP_DUMP"] + ".%d" % node)
    for f in glob.glob(out + "*"):
        os.unlink(f)
    if not r or ir is None:
        return None
    return {"ir": ir, "deliveries": r["deliveries"][node], "errors": r["errors"],
            "ir_per_delivery": ir / r["deliveries"][node] if r["deliveries"][node] else None}


def callgrind_rounds(args):
    res = {"single": [], "remote": []}
    for i in range(args.rounds):
        res["single"].append(callgrind_ir(args, 0))
        res["remote"].append(callgrind_ir(args, 1))
        s, c = res["single"][-1], res["remote"][-1]
        print("round %d: lone node %.1f Ir/delivery (%d), cluster node 1 %.1f Ir/delivery (%d)"
              % (i + 1, s["ir_per_delivery"], s["deliveries"], c["ir_per_delivery"],
                 c["deliveries"]), flush=True)
    single = med([r["ir_per_delivery"] for r in res["single"]])
    remote = med([r["ir_per_delivery"] for r in res["remote"]])
    print("\nmedian Ir per delivery: lone node %.1f, remote (cluster node 1) %.1f: %.2fx"
          % (single, remote, remote / single))
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sockit", default=os.path.join(ROOT, "build", "sockit"))
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--secs", type=float, default=4)
    ap.add_argument("--members", type=int, default=100)
    ap.add_argument("--burst", type=int, default=16)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--rate", type=float, default=10000)
    ap.add_argument("--rate-members", default="1,10,100",
                    help="members per node for the latency runs (comma-separated)")
    ap.add_argument("--io", default="epoll")
    ap.add_argument("--no-redis-benchmark", dest="redis_benchmark", action="store_false")
    ap.add_argument("--json", help="write every round here")
    ap.add_argument("--callgrind", action="store_true",
                    help="only Ir per delivery, lone node vs remote (see above)")
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, run.on_signal)
    subprocess.run(["make", "-s", "-C", os.path.join(ROOT, "bench"), "build/cluster_load"],
                   check=True)
    if args.callgrind:
        res = callgrind_rounds(args)
        if args.json:
            with open(args.json, "w") as f:
                json.dump(res, f, indent=1)
        return
    res = {"args": vars(args), "single": [], "cluster": [], "latency": [], "redis_benchmark": {}}
    for i in range(args.rounds):
        res["single"].append(round_single(args))
        res["cluster"].append(with_cluster(args, lambda ports, pids, _: load(ports, pids, args)))
        s, c = res["single"][-1], res["cluster"][-1]
        print("round %d: single %.3f us/delivery; cluster node0 %.3f, node1 %.3f, node2 %.3f"
              % (i + 1, per_delivery(s, 0) or -1, per_delivery(c, 0) or -1,
                 per_delivery(c, 1) or -1, per_delivery(c, 2) or -1), flush=True)
    PIN["on"] = False
    for m in [int(x) for x in args.rate_members.split(",") if x]:
        rargs = argparse.Namespace(**{**vars(args), "members": m})
        r = with_cluster(rargs, lambda ports, pids, _: load(ports, pids, rargs,
                                                            ["--rate", str(args.rate)]))
        res["latency"].append(r)
        if r:
            print("rate %.0f/s, %d members/node: p50 %.0f us, p99 %.0f us, max %.0f us; "
                  "deliveries %s of %d each" % (args.rate, m, r["p50_us"], r["p99_us"],
                                                r["max_us"], r["deliveries"], r["sent"] * m),
                  flush=True)
    PIN["on"] = True
    for subs, pipe in [(3, 1), (3, 16), (30, 16)] if args.redis_benchmark else []:
        rate = redis_benchmark(subs, pipe)
        res["redis_benchmark"]["%d subscribers, -P %d" % (subs, pipe)] = rate
        print("redis-benchmark PUBLISH, %d subscribers, -c 50 -P %d: %s/s" % (subs, pipe, rate),
              flush=True)
    if args.rounds:
        summarize(res)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=1)


def summarize(res):
    single = [per_delivery(r, 0) for r in res["single"]]
    local = [per_delivery(r, 0) for r in res["cluster"]]
    remote = [med([per_delivery(r, 1), per_delivery(r, 2)]) for r in res["cluster"]]
    ratio_single = [b / a for a, b in zip(single, remote) if a and b]
    ratio_local = [b / a for a, b in zip(local, remote) if a and b]
    ok = all(r and r["errors"] == 0 and all(d == r["sent"] * r["members"] for d in r["deliveries"])
             for r in res["single"] + res["cluster"])
    print("\nmedian server CPU per delivery: single node %.3f us; cluster node 0 (local + PUBLISH) "
          "%.3f us; nodes 1-2 (remote) %.3f us" % (med(single), med(local), med(remote)))
    print("remote / single-node local: %.2fx (per round %s)"
          % (med(ratio_single), ", ".join("%.2f" % x for x in ratio_single)))
    print("remote / cluster node-0 local: %.2fx (per round %s)"
          % (med(ratio_local), ", ".join("%.2f" % x for x in ratio_local)))
    print("every delivery arrived in every round: %s" % ("yes" if ok else "NO"))


if __name__ == "__main__":
    try:
        main()
    finally:
        run.kill_all()
