#!/usr/bin/env python3
"""line_drip.py SOCKIT PORT BYTES — server CPU for one BYTES-long line sent in 64-byte
sends to `sockit serve echo --frame line` (a partial line must not be searched again
from its start on every read: that was O(n^2))."""
import socket, subprocess, sys, time, os
sockit, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
srv = subprocess.Popen([sockit, "serve", "echo", "tcp://127.0.0.1:%d" % port, "--frame", "line", "--threads", "1"], stderr=subprocess.DEVNULL)
time.sleep(0.4)
s = socket.create_connection(("127.0.0.1", port)); s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
t0 = time.time()
chunk = b"x" * 64
for i in range(n // 64):
    s.send(chunk)
    if i % 16 == 0: time.sleep(0)  # separate segments mostly
s.send(b"\n")
got = 0
while got < n + 1:
    got += len(s.recv(1 << 20))
cpu = open("/proc/%d/stat" % srv.pid).read().split(")")[1].split()
print("%s: %d-byte line in 64-byte sends: server CPU %.2f s" % (os.path.basename(os.path.dirname(os.path.dirname(sockit))) or sockit, n, (int(cpu[11]) + int(cpu[12])) / os.sysconf("SC_CLK_TCK")))
srv.kill()
