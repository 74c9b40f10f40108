#!/usr/bin/env python3
"""fanout.py — chat fan-out: sockit chat next to Redis pub/sub.

100 members, 64-byte messages in bursts of 16 (one write per burst; the next
burst when all 16 x 100 deliveries have arrived), driven by
bench/build/fanout. Servers pinned to CPU 0, the loader to CPU 1; every round
runs sockit then redis (A B A B ...), each started fresh; the table quotes
medians over rounds. Server CPU is utime + stime of the whole server process
(/proc/PID/stat) over the measured window. See bench/README.md.
"""
import argparse
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402  (processes, ports, host facts)
from run import BUILD, HERE, HOST, LOADER_CPU, SERVER_CPU, ROOT, med  # noqa: E402

TARGET = 1.5  # sockit / redis deliveries per server-CPU-second


def server_table(sockit, base=None):
    # sockit: --frame line makes each line one chat message (raw framing would
    # take a 16-message write as one message and fan it out once); --nodelay
    # because Redis sets TCP_NODELAY on its clients; --threads 1 like Redis's
    # one event loop.
    table = {
        "sockit": (lambda port: [sockit, "serve", "chat", "tcp://%s:%d" % (HOST, port),
                                 "--threads", "1", "--nodelay", "--frame", "line"], "--chat"),
        # the same with the io_uring backend: a burst's 100 sends in one system call
        "sockit-uring": (lambda port: [sockit, "serve", "chat", "tcp://%s:%d" % (HOST, port),
                                       "--threads", "1", "--nodelay", "--frame", "line",
                                       "--io", "uring"], "--chat"),
        "redis": (lambda port: ["redis-server", "--port", str(port), "--bind", HOST,
                                "--save", "", "--appendonly", "no"], "--redis"),
    }
    if base:  # --baseline: the same two servers from another build, each right after its twin
        other = server_table(base)
        order = ["sockit", "base", "sockit-uring", "base-uring", "redis"]
        table.update({"base": other["sockit"], "base-uring": other["sockit-uring"]})
        table = {n: table[n] for n in order}
    return table


def loader_argv(mode, port, args, extra=()):
    return (["taskset", "-c", LOADER_CPU, os.path.join(BUILD, "fanout"), mode, HOST, str(port),
             "--members", str(args.members), "--burst", str(args.burst), "--size", str(args.size)]
            + list(extra))


def start(name, table, wrap=(), timeout=5.0):
    argv_of, mode = table[name]
    for _ in range(3):
        port = run.free_port()
        err = tempfile.TemporaryFile()
        p = run.spawn(["taskset", "-c", SERVER_CPU] + list(wrap) + argv_of(port),
                      stdout=subprocess.DEVNULL, stderr=err)
        if run.wait_listening(port, p, timeout):
            return p, port, mode
        run.stop(p, signal.SIGKILL)
        err.seek(0)
        sys.stderr.write("server %s did not start: %s\n" % (name, err.read().decode()[-500:]))
    raise SystemExit("cannot start server %s" % name)


def measure(name, table, args):
    p, port, mode = start(name, table)
    try:
        argv = loader_argv(mode, port, args, ["--secs", str(args.secs), "--warmup", str(args.warmup),
                                              "--pid", str(p.pid)])
        out = subprocess.run(argv, capture_output=True, text=True, timeout=args.secs + 60)
        try:
            return json.loads(out.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            raise RuntimeError("fanout failed (%d): %s %s" % (out.returncode, out.stdout, out.stderr))
    finally:
        run.stop(p)


def callgrind(name, table, args):
    """Server user-space instructions per delivery over exactly --bursts bursts
    (counters zeroed once all members are connected, dumped after the last burst)."""
    outf = os.path.join(run.TMP, "callgrind-fanout-%s.out" % name)
    p, port, mode = start(name, table, ["valgrind", "--tool=callgrind", "--callgrind-out-file=" + outf],
                          timeout=30)
    ctl = lambda cmd: subprocess.run(["callgrind_control", cmd, str(p.pid)], capture_output=True)
    try:
        l = run.spawn(loader_argv(mode, port, args, ["--bursts", str(args.bursts), "--sync"]),
                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert l.stdout.readline().strip() == "ready", "fanout did not get ready"
        ctl("-z")
        l.stdin.write("\n")
        l.stdin.flush()
        assert l.stdout.readline().strip() == "done", "fanout did not finish"
        ctl("-d")
        l.stdin.write("\n")
        l.stdin.flush()
        res = json.loads(l.stdout.readline())
        l.wait(30)
    finally:
        run.stop(p, signal.SIGTERM, 30)
    dumps = sorted(f for f in os.listdir(run.TMP) if f.startswith(os.path.basename(outf) + "."))
    if not dumps:
        return None
    last = os.path.join(run.TMP, dumps[-1])
    if args.keep_callgrind:
        shutil.copy(last, os.path.join(BUILD, "callgrind.fanout.%s" % name))
    return run.callgrind_total(last) / res["deliveries"]


def show_argv(argv_of):
    """A server's command line, shell-quoted, with PORT in place of the port."""
    a = argv_of(0)
    words = [os.path.basename(a[0])] + [shlex.quote(w) for w in a[1:]]
    return " ".join("PORT" if w == "0" else w for w in words).replace(":0", ":PORT")


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--secs", type=float, default=5.0, help="measured seconds per run")
    ap.add_argument("--warmup", type=float, default=0.5)
    ap.add_argument("--members", type=int, default=100)
    ap.add_argument("--burst", type=int, default=16)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--callgrind", action="store_true",
                    help="also count server instructions per delivery (valgrind callgrind)")
    ap.add_argument("--bursts", type=int, default=200, help="bursts in the callgrind runs")
    ap.add_argument("--keep-callgrind", action="store_true",
                    help="copy the profiles to bench/build/callgrind.fanout.*")
    ap.add_argument("--sockit", default=os.path.join(ROOT, "build", "sockit"))
    ap.add_argument("--baseline", help="another sockit binary (a refactor's before): runs as base, "
                    "base-uring after each sockit server, compared round by round")
    ap.add_argument("--json", default=os.path.join(HERE, "results", "fanout.json"))
    return ap.parse_args()


def main():
    args = parse_args()
    cmd = " ".join(shlex.quote(a) for a in ["bench/fanout.py"] + sys.argv[1:])
    signal.signal(signal.SIGTERM, run.on_signal)
    signal.signal(signal.SIGINT, run.on_signal)
    import atexit
    atexit.register(run.kill_all)
    run.TMP = tempfile.mkdtemp(prefix="sockit-fanout-")
    if not shutil.which("redis-server"):
        raise SystemExit("redis-server not installed (bench/install-deps.sh)")
    subprocess.run(["make", "-s", "-C", HERE, os.path.join("build", "fanout")], check=True)
    snap = run.snapshot(args)
    table = server_table(args.sockit, args.baseline and os.path.abspath(args.baseline))
    facts = run.host_facts(args)
    facts.update(snap)
    facts["redis"] = subprocess.run(["redis-server", "--version"], capture_output=True,
                                    text=True).stdout.strip()
    facts["servers"] = {n: show_argv(a) for n, (a, _) in table.items()}
    print("command: `%s`\n" % cmd)
    print("- date: %s; nproc: %s; kernel: %s; load average at start: %s" % (
        facts["date"], facts["nproc"], facts["kernel"], " ".join(facts["loadavg"])))
    print("- sockit: %s, %s built %s, sha256 %s; git %s" % (
        facts["sockit"], facts["binary"], facts["built"], facts["sha256"], facts["git"]))
    print("- %s" % facts["redis"])
    print("- servers on CPU 0 (taskset -c 0), loader bench/build/fanout on CPU 1:")
    for n, a in facts["servers"].items():
        print("  - %s: `%s`" % (n, a))
    print("- %d members, %d-byte payloads, bursts of %d; %d rounds x %g s (+%g s warm-up)\n" % (
        args.members, args.size, args.burst, args.rounds, args.secs, args.warmup))
    sys.stdout.flush()

    names = list(table)
    rounds = {n: [] for n in names}
    for r in range(args.rounds):
        for n in names:
            res = measure(n, table, args)
            rounds[n].append(res)
            sys.stderr.write("round %d %-6s %s\n" % (r + 1, n, json.dumps(res)))
    summary = {}
    for n in names:
        rs = rounds[n]
        rate = [x["deliveries_per_sec"] for x in rs]
        eff = [x["deliveries_per_server_cpu_s"] for x in rs if x["server_cpu_s"] > 0]
        util = [x["server_cpu_s"] / x["seconds"] for x in rs]
        summary[n] = {"deliveries_per_sec": med(rate), "min": min(rate), "max": max(rate),
                      "deliveries_per_server_cpu_s": med(eff), "eff_min": min(eff), "eff_max": max(eff),
                      "server_cpu_util": med(util),
                      "loader_cpu_util": med([x["loader_cpu_s"] / x["seconds"] for x in rs]),
                      "errors": sum(x["errors"] for x in rs)}
    if args.callgrind:
        if shutil.which("valgrind") and shutil.which("callgrind_control"):
            for n in names:
                summary[n]["ir_per_delivery"] = callgrind(n, table, args)
        else:
            print("(callgrind skipped: valgrind not installed)\n")

    print("| server | deliveries/s (median) | min–max | deliveries per server-CPU-s (median) | min–max "
          "| server CPU busy | loader CPU busy |%s errors |" % (
              " server Ir/delivery (callgrind) |" if args.callgrind else ""))
    print("|---|---:|---:|---:|---:|---:|---:|%s---:|" % ("---:|" if args.callgrind else ""))
    for n in names:
        s = summary[n]
        print("| %s | %.0f | %.0f–%.0f | %.0f | %.0f–%.0f | %.0f %% | %.0f %% |%s %d |" % (
            n, s["deliveries_per_sec"], s["min"], s["max"], s["deliveries_per_server_cpu_s"],
            s["eff_min"], s["eff_max"], 100 * s["server_cpu_util"], 100 * s["loader_cpu_util"],
            (" %s |" % run.fmt(s.get("ir_per_delivery"), "%.0f")) if args.callgrind else "",
            s["errors"]))
    b = summary["redis"]
    ratios, per_rounds = {}, {}
    for me in [n for n in names if n != "redis"]:
        a = summary[me]
        ratio = ratios[me] = a["deliveries_per_server_cpu_s"] / b["deliveries_per_server_cpu_s"]
        # per-round ratios (each sockit run against the redis run of the same round)
        per_round = per_rounds[me] = [
            x["deliveries_per_server_cpu_s"] / y["deliveries_per_server_cpu_s"]
            for x, y in zip(rounds[me], rounds["redis"]) if y["deliveries_per_server_cpu_s"]]
        print("\n%s / redis deliveries per server-CPU-second: **%.2f×** (ratio of the medians; per round: "
              "%s, median %.2f; target ≥ %.1f×: %s)" % (
                  me, ratio, ", ".join("%.2f" % x for x in per_round), med(per_round), TARGET,
                  "met" if ratio >= TARGET else "NOT met"))
        print("%s / redis deliveries/s: %.2f×" % (me, a["deliveries_per_sec"] / b["deliveries_per_sec"]))
        if args.callgrind and a.get("ir_per_delivery") and b.get("ir_per_delivery"):
            print("%s / redis server instructions per delivery (callgrind, %d bursts): %.2f×" % (
                me, args.bursts, a["ir_per_delivery"] / b["ir_per_delivery"]))
    for me, base in (("sockit", "base"), ("sockit-uring", "base-uring")):
        if base in rounds:
            pr = [x["deliveries_per_server_cpu_s"] / y["deliveries_per_server_cpu_s"]
                  for x, y in zip(rounds[me], rounds[base]) if y["deliveries_per_server_cpu_s"]]
            print("%s / %s deliveries per server-CPU-second, paired by round: %s, median **%.3f**" % (
                me, base, ", ".join("%.3f" % x for x in pr), med(pr)))
    os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
    with open(args.json, "w") as f:
        json.dump({"command": cmd, "host": facts, "rounds": rounds, "summary": summary,
                   "ratio_per_server_cpu_s": ratios, "per_round_ratios": per_rounds}, f, indent=1)
    print("\nwrote %s" % os.path.relpath(args.json, os.getcwd()))


if __name__ == "__main__":
    main()
