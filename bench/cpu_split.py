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

Usage: bench/cpu_split.py [--server epoll|sockit|sockit-uring] [--secs S]
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

from run import BUILD, ROOT, free_port, wait_listening  # the suite's own helpers

# (share name, symbols whose inclusive ("children") time counts for it)
TCP_SEND = ["tcp_sendmsg"]
TCP_RECV = ["tcp_recvmsg"]
EPOLL = ["do_epoll_wait"]
URING_WAIT = ["__do_sys_io_uring_enter", "__se_sys_io_uring_enter", "__x64_sys_io_uring_enter"]


def server_cmd(name, port):
    sockit = os.path.join(ROOT, "build", "sockit")
    if name == "epoll":
        return [os.path.join(BUILD, "epoll_echo"), "127.0.0.1", str(port)]
    extra = ["--io", "uring"] if name == "sockit-uring" else []
    return [sockit, "serve", "echo", "tcp://127.0.0.1:%d" % port, "--nodelay", "--threads", "1"] + extra


def children_share(report, names):
    """Largest inclusive share among names (they nest: take the outermost)."""
    best = 0.0
    for line in report.splitlines():
        parts = line.split()
        if len(parts) >= 4 and parts[-1] in names and parts[0].endswith("%"):
            best = max(best, float(parts[0].rstrip("%")))
    return best


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--server", default="epoll", choices=["epoll", "sockit", "sockit-uring"])
    ap.add_argument("--secs", type=float, default=4)
    args = ap.parse_args()
    if not shutil.which("perf"):
        sys.exit("cpu_split: perf is not installed (bench/install-deps.sh)")
    subprocess.run(["make", "-s", "-C", os.path.join(ROOT, "bench")], check=True)
    port = free_port()
    srv = subprocess.Popen(["taskset", "-c", "0"] + server_cmd(args.server, port),
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    tmp = tempfile.mkdtemp(prefix="cpu_split.")
    data = os.path.join(tmp, "perf.data")
    try:
        if not wait_listening(port, srv):
            sys.exit("cpu_split: the server did not start")
        load = subprocess.Popen(["taskset", "-c", "1", os.path.join(BUILD, "pingpong"), "127.0.0.1",
                                 str(port), "100", "1", "64", str(args.secs + 2)],
                                stdout=subprocess.DEVNULL)
        time.sleep(1)
        subprocess.run(["perf", "record", "-q", "-F", "4999", "-g", "-p", str(srv.pid), "-o", data,
                        "--", "sleep", str(args.secs)], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        load.wait()
        rep = subprocess.run(["perf", "report", "-i", data, "--children", "--sort", "sym", "--stdio",
                              "-g", "none"], capture_output=True, text=True).stdout
        dso = subprocess.run(["perf", "report", "-i", data, "--no-children", "--sort", "dso",
                              "--stdio", "-g", "none"], capture_output=True, text=True).stdout
    finally:
        srv.terminate()
        srv.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    kernel = 0.0
    for line in dso.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0].endswith("%") and parts[1] == "[kernel.kallsyms]":
            kernel = float(parts[0].rstrip("%"))
    send = children_share(rep, TCP_SEND)
    recv = children_share(rep, TCP_RECV)
    wait = children_share(rep, EPOLL) + children_share(rep, URING_WAIT)
    if args.server == "sockit-uring":  # sends and receives run inside io_uring_enter
        wait = max(0.0, wait - send - recv)
    user = 100.0 - kernel
    other = max(0.0, 100.0 - user - send - recv - wait)
    print("cpu_split: %s server, 100 conns x 64 B, depth 1, %.0f s of perf samples" % (args.server, args.secs))
    print("  TCP send path (tcp_sendmsg, incl. loopback delivery to the peer): %5.1f %%" % send)
    print("  TCP receive path (tcp_recvmsg):                                    %5.1f %%" % recv)
    print("  waiting for events (epoll_wait / io_uring_enter, less the above):  %5.1f %%" % wait)
    print("  user space:                                                        %5.1f %%" % user)
    print("  other kernel (syscall entry/exit, fd lookup, softirq, timers):     %5.1f %%" % other)
    print("  TCP paths together: %.1f %% -> a design that removed everything else would cost"
          " at least %.2fx this server's CPU" % (send + recv, (send + recv) / 100.0))


if __name__ == "__main__":
    main()
