#!/usr/bin/env python3
"""idle_memory.py — user-space memory per idle connection: RSS growth of
`sockit serve echo --threads 1` while N idle clients (default 19,000) connect.
--tls: the server listens on tls:// (a temporary ECDSA P-256 certificate made
with openssl) and every client finishes its TLS handshake before it idles
(default 5,000 clients); --server tls-echo measures bench/build/tls_echo (the
minimal OpenSSL echo, make -C bench) the same way, for reference.
Ten connections are opened and closed first, so memory that the first
connection (or handshake) allocates once is not counted per connection.
Usage: bench/idle_memory.py [--conns N] [--tls] [--server sockit|tls-echo] [--sockit PATH]"""
import argparse
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))


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


def make_cert(d):
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", key, "-out", cert, "-days", "7", "-subj", "/CN=127.0.0.1"],
                   check=True, capture_output=True)
    return cert, key


def wait_listening(port, timeout=5.0):
    end = time.time() + timeout
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--conns", type=int, help="idle clients (default 19000; 5000 with --tls)")
    ap.add_argument("--tls", action="store_true", help="TLS: each client completes a handshake, then idles")
    ap.add_argument("--server", choices=["sockit", "tls-echo"], default="sockit")
    ap.add_argument("--sockit", default=os.path.join(HERE, "..", "build", "sockit"))
    a = ap.parse_args()
    if a.server == "tls-echo":
        a.tls = True
    conns = a.conns or (5000 if a.tls else 19000)
    port = free_port()
    tmp = tempfile.mkdtemp(prefix="idle-memory.")
    ctx = None
    if a.tls:
        cert, key = make_cert(tmp)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if a.server == "tls-echo":
        argv = [os.path.join(HERE, "build", "tls_echo"), "127.0.0.1", str(port), cert, key]
    else:
        argv = [a.sockit, "serve", "echo", "%s://127.0.0.1:%d" % ("tls" if a.tls else "tcp", port),
                "--threads", "1", "--backlog", "4096"] + (["--cert", cert, "--key", key] if a.tls else [])
    srv = subprocess.Popen(argv, stderr=subprocess.DEVNULL)

    def dial():
        s = socket.create_connection(("127.0.0.1", port))
        return ctx.wrap_socket(s, server_hostname="127.0.0.1") if ctx else s  # handshakes here

    try:
        if not wait_listening(port):
            raise SystemExit("server did not start: %s" % " ".join(argv))
        for s in [dial() for _ in range(10)]:  # one-time allocations (OpenSSL's lazy setup)
            s.close()
        time.sleep(0.5)
        before = rss(srv.pid)
        socks = [dial() for _ in range(conns)]
        deadline = time.time() + 30
        while len(os.listdir("/proc/%d/fd" % srv.pid)) < conns and time.time() < deadline:
            time.sleep(0.1)
        time.sleep(1)
        after = rss(srv.pid)
        print("%s%s idle connections: %d; server RSS %d -> %d bytes; %.0f bytes per connection"
              % (a.server, " TLS" if a.tls else "", conns, before, after, (after - before) / conns))
        for s in socks:
            s.close()
    finally:
        srv.terminate()
        srv.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
