#!/usr/bin/env python3
"""cpu_split.py — where an echo server's CPU goes at 100 conns x 64 B, depth 1.

Starts a server pinned to CPU 0 (the raw epoll ceiling by default), drives it
with bench/build/pingpong on CPU 1, samples the server with `perf record -g`
(cpu-clock, so it works without hardware counters) and splits its samples
into what an event-loop design can change (user space, the epoll_wait call,
system-call entry and exit) and what every design pays alike (the kernel's
TCP send and receive paths, which on loopback include delivering the segment
to the peer and waking it).

The shares bound what any backend can save: a server that removed every
system call and all of its user-space work would still pay the TCP part.

Over TLS (--server sockit-tls, sockit-tls-uring, tls-echo, tls-echo-naive;
pingpong --tls, a temporary ECDSA P-256 certificate) it also prints each
share in µs per message, so two servers' kernel and user-space costs can be
set side by side.

Usage: bench/cpu_split.py [--server NAME] [--secs S]
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from run import BUILD, ROOT, free_port, make_cert, servers, wait_listening  # the suite's own helpers

# (share name, symbols whose inclusive ("children") time counts for it)
TCP_SEND = ["tcp_sendmsg"]
TCP_RECV = ["tcp_recvmsg"]
EPOLL = ["do_epoll_wait"]
URING_WAIT = ["__do_sys_io_uring_enter", "__se_sys_io_uring_enter", "__x64_sys_io_uring_enter"]


SERVERS = ["epoll", "sockit", "sockit-uring", "sockit-tls", "sockit-tls-uring", "tls-echo", "tls-echo-naive"]


def server_cmd(name, port):
    """run.py's command line for that server (sockit with --threads 1, like the peers)."""
    return servers(os.path.join(ROOT, "build", "sockit"), ["--threads", "1"])[name][0](port)


def children_share(report, names):
    """Largest inclusive share among names (they nest: take the outermost)."""
    best = 0.0
    for line in report.splitlines():
        parts = line.split()
        if len(parts) >= 4 and parts[-1] in names and parts[0].endswith("%"):
            best = max(best, float(parts[0].rstrip("%")))
    return best


def sample_count(dso):
    """Samples in a `perf report -n --sort dso` report (its sample column, summed)."""
    n = 0
    for line in dso.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[0].endswith("%") and parts[1].isdigit():
            n += int(parts[1])
    return n


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--server", default="epoll", choices=SERVERS)
    ap.add_argument("--secs", type=float, default=4)
    args = ap.parse_args()
    if not shutil.which("perf"):
        sys.exit("cpu_split: perf is not installed (bench/install-deps.sh)")
    subprocess.run(["make", "-s", "-C", os.path.join(ROOT, "bench")], check=True)
    port = free_port()
    tmp = tempfile.mkdtemp(prefix="cpu_split.")
    data = os.path.join(tmp, "perf.data")
    tls = "tls" in args.server
    if tls:
        make_cert(tmp)  # (run.CERT: the TLS servers' argv name it)
    srv = subprocess.Popen(["taskset", "-c", "0"] + server_cmd(args.server, port),
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        if not wait_listening(port, srv):
            sys.exit("cpu_split: the server did not start")
        load = subprocess.Popen(["taskset", "-c", "1", os.path.join(BUILD, "pingpong"), "127.0.0.1",
                                 str(port), "100", "1", "64", str(args.secs + 2)] + (["--tls"] if tls else []),
                                stdout=subprocess.PIPE, text=True)
        time.sleep(1)
        subprocess.run(["perf", "record", "-q", "-F", "4999", "-g", "-p", str(srv.pid), "-o", data,
                        "--", "sleep", str(args.secs)], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        rate = json.loads(load.communicate()[0].strip().splitlines()[-1])["msgs_per_sec"]
        rep = subprocess.run(["perf", "report", "-i", data, "--children", "--sort", "sym", "--stdio",
                              "-g", "none"], capture_output=True, text=True).stdout
        dso = subprocess.run(["perf", "report", "-i", data, "--no-children", "-n", "--sort", "dso",
                              "--stdio", "-g", "none"], capture_output=True, text=True).stdout
    finally:
        srv.terminate()
        srv.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    kernel = 0.0
    for line in dso.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0].endswith("%") and parts[2] == "[kernel.kallsyms]":
            kernel = float(parts[0].rstrip("%"))
    send = children_share(rep, TCP_SEND)
    recv = children_share(rep, TCP_RECV)
    wait = children_share(rep, EPOLL) + children_share(rep, URING_WAIT)
    if args.server == "sockit-uring":  # sends and receives run inside io_uring_enter
        wait = max(0.0, wait - send - recv)
    user = 100.0 - kernel
    other = max(0.0, 100.0 - user - send - recv - wait)
    # CPU µs per message: the samples' CPU time (4999 Hz) over the messages of the window
    n = sample_count(dso)
    us = (n / 4999.0) * 1e6 / (rate * args.secs) if n and rate else 0.0
    per = lambda share: "   %5.2f µs/msg" % (share * us / 100.0) if us else ""
    print("cpu_split: %s server, 100 conns x 64 B, depth 1, %.0f s of perf samples; %.0f msgs/s, %.2f µs of "
          "server CPU per msg" % (args.server, args.secs, rate, us))
    print("  TCP send path (tcp_sendmsg, incl. loopback delivery to the peer): %5.1f %%%s" % (send, per(send)))
    print("  TCP receive path (tcp_recvmsg):                                    %5.1f %%%s" % (recv, per(recv)))
    print("  waiting for events (epoll_wait / io_uring_enter, less the above):  %5.1f %%%s" % (wait, per(wait)))
    print("  user space:                                                        %5.1f %%%s" % (user, per(user)))
    print("  other kernel (syscall entry/exit, fd lookup, softirq, timers):     %5.1f %%%s" % (other, per(other)))
    print("  TCP paths together: %.1f %% -> a design that removed everything else would cost"
          " at least %.2fx this server's CPU" % (send + recv, (send + recv) / 100.0))


if __name__ == "__main__":
    main()
