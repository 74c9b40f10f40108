#!/usr/bin/env python3
"""idle_memory.py — user-space memory per idle connection: RSS growth of
`sockit serve echo --threads 1` while N idle clients (default 19,000) connect.
Usage: bench/idle_memory.py [--conns N] [--sockit PATH]"""
import argparse
import os
import socket
import subprocess
import sys
import time


def rss(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--conns", type=int, default=19000)
    ap.add_argument("--sockit", default=os.path.join(os.path.dirname(__file__), "..", "build", "sockit"))
    a = ap.parse_args()
    port = free_port()
    srv = subprocess.Popen([a.sockit, "serve", "echo", "tcp://127.0.0.1:%d" % port, "--threads", "1",
                            "--backlog", "4096"], stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.5)
        before = rss(srv.pid)
        socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(a.conns)]
        deadline = time.time() + 30
        while len(os.listdir("/proc/%d/fd" % srv.pid)) < a.conns and time.time() < deadline:
            time.sleep(0.1)
        time.sleep(1)
        after = rss(srv.pid)
        print("idle connections: %d; server RSS %d -> %d bytes; %.0f bytes per connection"
              % (a.conns, before, after, (after - before) / a.conns))
        for s in socks:
            s.close()
    finally:
        srv.terminate()
        srv.wait()


if __name__ == "__main__":
    sys.exit(main())
