#!/usr/bin/env python3
"""run.py — runs sockit's echo benchmark side by side with peer servers.

Servers are pinned to CPU 0 and the loader to CPU 1; every round runs each
server of a scenario once, in the same order (A B C D A B C D ...), and the
table quotes medians over rounds. See bench/README.md for what each number
means.
"""
import argparse
import atexit
import datetime
import hashlib
import json
import os
import platform
import re
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BUILD = os.path.join(HERE, "build")
HOST = "127.0.0.1"
SERVER_CPU, LOADER_CPU = "0", "1"

# A server is a name and a function (port) -> argv. "frame" is what the
# ping-pong loader must speak to it. sockit gets --nodelay (the peers set
# TCP_NODELAY) and, when it has the option, --threads 1 like the peers; the
# "sockit-default" row keeps sockit's default thread count.
def sockit_argv(sockit, frame, extra):
    def argv(port):
        a = [sockit, "serve", "echo", "tcp://%s:%d" % (HOST, port), "--nodelay"] + extra
        return a + (["--frame", frame] if frame != "raw" else [])
    return argv


def peer_argv(binary):
    return lambda port: [os.path.join(BUILD, binary), HOST, str(port)]


def sockit_ws_argv(sockit, extra):
    return lambda port: [sockit, "serve", "echo", "ws://%s:%d/" % (HOST, port), "--nodelay"] + extra

# TLS: one ECDSA P-256 certificate for every TLS server, made by make_cert()
# in the run's temporary directory (CERT["combined"]: certificate + key, for
# HAProxy's `crt`).
CERT = {"cert": "CERT", "key": "KEY", "combined": "CERT+KEY"}


def make_cert(d):
    CERT.update(cert=os.path.join(d, "cert.pem"), key=os.path.join(d, "key.pem"),
                combined=os.path.join(d, "cert+key.pem"))
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-nodes", "-keyout", CERT["key"], "-out", CERT["cert"], "-days", "7",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    with open(CERT["combined"], "w") as f:
        f.write(open(CERT["cert"]).read() + open(CERT["key"]).read())


def sockit_tls_argv(sockit, extra):
    return lambda port: [sockit, "serve", "echo", "tls://%s:%d" % (HOST, port), "--cert", CERT["cert"],
                         "--key", CERT["key"], "--nodelay"] + extra


def proxy_dir(kind, port):
    return os.path.join(TMP or "TMP", "%s-%d" % (kind, port))


NGINX_STREAM_MODULE = "/usr/lib/nginx/modules/ngx_stream_module.so"


def nginx_argv(port):
    d = proxy_dir("nginx", port)
    return ["nginx", "-p", d, "-e", "stderr", "-c", os.path.join(d, "nginx.conf")]


def nginx_config(port, backend_port):
    """nginx stream TLS termination in front of the echo on backend_port: one
    worker process (its pid is the one measured), the master as usual."""
    d = proxy_dir("nginx", port)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "nginx.conf"), "w") as f:
        f.write("""load_module %s;
worker_processes 1;
daemon off;
pid %s/nginx.pid;
error_log stderr warn;
events { worker_connections 8192; }
stream {
    server {
        listen %s:%d ssl;
        ssl_certificate %s;
        ssl_certificate_key %s;
        ssl_protocols TLSv1.2 TLSv1.3;
        proxy_pass %s:%d;
    }
}
""" % (NGINX_STREAM_MODULE, d, HOST, port, CERT["cert"], CERT["key"], HOST, backend_port))


def haproxy_argv(port):
    return ["haproxy", "-db", "-f", os.path.join(proxy_dir("haproxy", port), "haproxy.cfg")]


def haproxy_tcp_config(bind, backend_port, options=""):
    """An HAProxy mode tcp configuration, one thread: a frontend on bind (the
    whole bind line) with options, in front of the echo on backend_port."""
    return """global
    nbthread 1
    maxconn 4000
defaults
    mode tcp
    timeout connect 5s
    timeout client 60s
    timeout server 60s
%sfrontend proxied_in
    %s
    default_backend echo
backend echo
    server echo %s:%d
""" % (options, bind, HOST, backend_port)


def haproxy_config(port, backend_port):
    """HAProxy mode tcp, TLS terminated on the bind, one thread, in front of
    the echo on backend_port (-db: one foreground process, the one measured)."""
    d = proxy_dir("haproxy", port)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "haproxy.cfg"), "w") as f:
        f.write(haproxy_tcp_config("bind %s:%d ssl crt %s" % (HOST, port, CERT["combined"]),
                                   backend_port))


# Proxies: started after their backend (the raw epoll echo, also on the
# server CPU); the process measured is the proxy's worker, the backend's CPU
# is reported beside it.
PROXY = {"nginx-tls": {"backend": "epoll", "config": nginx_config, "worker_child": True},
         "haproxy-tls": {"backend": "epoll", "config": haproxy_config}}


BASE_OF = {"sockit": "base", "sockit-uring": "base-uring", "sockit-len32be": "base-len32be",
           "sockit-ws": "base-ws", "sockit-ws-uring": "base-ws-uring",
           "sockit-tls": "base-tls", "sockit-tls-uring": "base-tls-uring"}


def baseline_servers(base, one_thread):
    """--baseline: the same sockit servers run from another build (a refactor's
    before), named base*, each measured right after its sockit twin."""
    return {
        "base": (sockit_argv(base, "raw", one_thread), "raw"),
        "base-uring": (sockit_argv(base, "raw", one_thread + ["--io", "uring"]), "raw"),
        "base-len32be": (sockit_argv(base, "len32be", one_thread), "len32be"),
        "base-ws": (sockit_ws_argv(base, one_thread), "ws"),
        "base-ws-uring": (sockit_ws_argv(base, one_thread + ["--io", "uring"]), "ws"),
        "base-tls": (sockit_tls_argv(base, one_thread), "tls"),
        "base-tls-uring": (sockit_tls_argv(base, one_thread + ["--io", "uring"]), "tls"),
    }


def with_baseline(names):
    """A scenario's servers with each sockit server's baseline twin after it."""
    out = []
    for n in names:
        out.append(n)
        if n in BASE_OF:
            out.append(BASE_OF[n])
    return out


def servers(sockit, one_thread):
    return {
        "sockit-ws": (sockit_ws_argv(sockit, one_thread), "ws"),
        "lws": (peer_argv("lws_echo"), "ws"),
        "node-ws": (lambda port: ["node", os.path.join(HERE, "peers", "ws_echo.js"), HOST, str(port)], "ws"),
        "python-websockets": (lambda port: ["/usr/bin/python3", os.path.join(HERE, "peers", "ws_echo.py"),
                                            HOST, str(port)], "ws"),
        "sockit": (sockit_argv(sockit, "raw", one_thread), "raw"),
        "sockit-uring": (sockit_argv(sockit, "raw", one_thread + ["--io", "uring"]), "raw"),
        "sockit-ws-uring": (sockit_ws_argv(sockit, one_thread + ["--io", "uring"]), "ws"),
        "sockit-default": (sockit_argv(sockit, "raw", []), "raw"),
        "sockit-len32be": (sockit_argv(sockit, "len32be", one_thread), "len32be"),
        "libuv": (peer_argv("uv_echo"), "raw"),
        "libevent": (peer_argv("event_echo"), "raw"),
        "epoll": (peer_argv("epoll_echo"), "raw"),
        "epoll-len32be": (peer_argv("epoll_echo"), "len32be"),
        "sockit-tls": (sockit_tls_argv(sockit, one_thread), "tls"),
        "sockit-tls-uring": (sockit_tls_argv(sockit, one_thread + ["--io", "uring"]), "tls"),
        "tls-echo": (lambda port: [os.path.join(BUILD, "tls_echo"), HOST, str(port), CERT["cert"], CERT["key"]],
                     "tls"),
        "tls-echo-naive": (lambda port: [os.path.join(BUILD, "tls_echo"), HOST, str(port), CERT["cert"],
                                         CERT["key"], "--no-read-ahead"], "tls"),
        "nginx-tls": (nginx_argv, "tls"),
        "haproxy-tls": (haproxy_argv, "tls"),
    }


RAW = ["sockit", "sockit-uring", "sockit-default", "libuv", "libevent", "epoll"]
FRAMED = ["sockit-len32be", "sockit", "epoll-len32be"]
# WebSocket echo (binary frames, loader masks them as a client must); epoll is
# the raw TCP ceiling, driven by the same loader in raw mode at the same size.
WS = ["sockit-ws", "sockit-ws-uring", "lws", "node-ws", "python-websockets", "epoll"]
# TLS echo (pingpong --tls); tls-echo, the minimal OpenSSL epoll server with
# read-ahead (one read() per readiness), is the reference; tls-echo-naive is
# the same without read-ahead (OpenSSL's default: a read of each record's
# header, one of its body, then EAGAIN), the echo the TLS issue measured;
# nginx and HAProxy terminate TLS in front of the raw epoll echo.
TLS = ["sockit-tls", "sockit-tls-uring", "nginx-tls", "haproxy-tls", "tls-echo-naive", "tls-echo"]
TLS_LOADERS = ["pingpong-tls", "sockit-bench-tls", "sockit-bench-tls-uring"]
HANDSHAKE_PARALLEL = 32
SCENARIOS = [  # name, conns, depth, size, servers
    ("raw-64-d1", 100, 1, 64, RAW),
    ("raw-64-d16", 100, 16, 64, RAW),
    ("raw-16k-d4", 10, 4, 16384, RAW),
    ("framed-64-d1", 100, 1, 64, FRAMED),
    ("framed-64-d16", 100, 16, 64, FRAMED),
    ("framed-16k-d4", 10, 4, 16384, FRAMED),
    ("loader-64-d1", 100, 1, 64, ["pingpong", "sockit-bench", "sockit-bench-uring"]),
    ("loader-64-d16", 100, 16, 64, ["pingpong", "sockit-bench", "sockit-bench-uring"]),
    ("ws-20B", 100, 1, 20, WS),
    ("ws-1KiB", 100, 1, 1024, WS),
    ("tls-64-d1", 100, 1, 64, TLS),
    ("tls-64-d16", 100, 16, 64, TLS),
    ("tls-16k-d4", 10, 4, 16384, TLS),
    ("tls-loader-64-d1", 100, 1, 64, TLS_LOADERS),
    ("tls-loader-64-d16", 100, 16, 64, TLS_LOADERS),
    # conns: handshaking connections in flight; each does one 64 B echo
    ("tls-handshake", HANDSHAKE_PARALLEL, 1, 64, TLS),
]


def is_loader(sc):
    return "loader" in sc[0]


def is_handshake(sc):
    return sc[0] == "tls-handshake"


def sc_title(sc):
    if is_handshake(sc):
        return "%s — %d connections in parallel, each a full TLS 1.3 handshake (X25519, ECDSA P-256) " \
               "+ one %d B echo; msgs = handshakes" % (sc[0], sc[1], sc[3])
    return "%s — %d conns × %d B, depth %d" % (sc[0], sc[1], sc[3], sc[2])


def missing_peer(name, table):
    """Why a server cannot run here (its binary, interpreter or module is
    missing), or None."""
    if name == "nginx-tls":
        if not shutil.which("nginx"):
            return "nginx not installed (bench/install-deps.sh)"
        return None if os.path.exists(NGINX_STREAM_MODULE) else \
            "nginx stream module missing (libnginx-mod-stream; bench/install-deps.sh)"
    if name == "haproxy-tls":
        return None if shutil.which("haproxy") else "haproxy not installed (bench/install-deps.sh)"
    argv = table[name][0](0)
    if argv[0] == "node":
        if not shutil.which("node"):
            return "node not installed (bench/install-deps.sh)"
        r = subprocess.run(["node", "-e", "require('ws')"], cwd=os.path.join(HERE, "peers"),
                           capture_output=True)
        return None if r.returncode == 0 else "npm package ws missing in bench/node_modules (bench/install-deps.sh)"
    if argv[0] == "/usr/bin/python3" and name == "python-websockets":
        r = subprocess.run(["/usr/bin/python3", "-c", "import websockets"], capture_output=True)
        return None if r.returncode == 0 else "python3-websockets not installed (bench/install-deps.sh)"
    if not os.access(argv[0], os.X_OK):
        return "%s not built (libwebsockets-dev missing? bench/install-deps.sh)" % os.path.basename(argv[0])
    return None


def loader_frame(frame):
    """pingpong flags for a server's framing: raw, len32be, ws (WebSocket on
    /) or tls (raw over TLS)."""
    if frame == "tls":
        return ["--frame", "raw", "--tls"]
    return ["--frame", "raw", "--ws", "/"] if frame == "ws" else ["--frame", frame]

# ---------------------------------------------------------------- processes

LIVE = []  # every process we started; killed on exit
TMP = None  # a temporary directory for strace/perf/callgrind outputs, made by main()


def spawn(argv, **kw):
    p = subprocess.Popen(argv, start_new_session=True, **kw)
    LIVE.append(p)
    return p


def stop(p, sig=signal.SIGTERM, wait=3.0):
    if p.poll() is None:
        try:
            os.killpg(p.pid, sig)
        except ProcessLookupError:
            pass
        try:
            p.wait(wait)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
    if p in LIVE:
        LIVE.remove(p)


def kill_all():
    for p in list(LIVE):
        stop(p, signal.SIGKILL, 1.0)
    if TMP:
        shutil.rmtree(TMP, ignore_errors=True)


def on_signal(sig, frame):
    kill_all()
    sys.exit(130)


def free_port():
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def wait_listening(port, p, timeout=5.0):
    end = time.time() + timeout
    while time.time() < end:
        if p.poll() is not None:
            return False
        try:
            socket.create_connection((HOST, port), 0.2).close()
            return True
        except OSError:
            time.sleep(0.02)
    return False


def child_pid(pid, timeout=5.0):
    """The first child process of pid (nginx's worker), waiting for it."""
    end = time.time() + timeout
    while time.time() < end:
        try:
            kids = open("/proc/%d/task/%d/children" % (pid, pid)).read().split()
        except OSError:
            kids = []
        if kids:
            return int(kids[0])
        time.sleep(0.02)
    return None


def start_server(name, table, tag=""):
    """Starts a server on a free port, pinned to the server CPU. The process
    returned has .mpid, the pid whose CPU counts (a proxy's worker), and
    .backend, the echo behind a proxy (or None); stop it with stop_server."""
    argv_of, frame = table[name]
    px = PROXY.get(name, {})
    backend = None
    if px:
        backend, bport, _ = start_server(px["backend"], table, " (backend of %s)" % name)
    for _ in range(3):  # a free port can be taken between probe and bind
        port = free_port()
        if px:
            px["config"](port, bport)
        err = tempfile.TemporaryFile()
        p = spawn(["taskset", "-c", SERVER_CPU] + argv_of(port),
                  stdout=subprocess.DEVNULL, stderr=err)
        if wait_listening(port, p):
            p.mpid = child_pid(p.pid) if px.get("worker_child") else p.pid
            p.backend = backend
            if p.mpid:
                return p, port, frame
        stop(p, signal.SIGKILL)
        err.seek(0)
        sys.stderr.write("server %s did not start%s: %s\n" % (name, tag, err.read().decode()[-500:]))
    if backend:
        stop_server(backend)
    raise SystemExit("cannot start server %s" % name)


def stop_server(p, sig=signal.SIGTERM, wait=3.0):
    stop(p, sig, wait)
    if getattr(p, "backend", None):
        stop_server(p.backend)

# ---------------------------------------------------------------- loaders


def pingpong(port, sc, frame, secs, pid, extra=()):
    _, conns, depth, size, _ = sc
    argv = ["taskset", "-c", LOADER_CPU, os.path.join(BUILD, "pingpong"), HOST, str(port),
            str(conns), str(depth), str(size), str(secs)] + loader_frame(frame) + ["--pid", str(pid)]
    return run_json(argv, extra, secs, "pingpong")


def run_json(argv, extra, secs, what):
    """Runs a loader that prints one JSON line last; returns it parsed."""
    out = subprocess.run(argv + list(extra), capture_output=True, text=True, timeout=secs + 60)
    try:
        return json.loads(out.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise RuntimeError("%s failed (%d): %s %s" % (what, out.returncode, out.stdout, out.stderr.strip()))


def sockit_bench_available(sockit):
    r = subprocess.run([sockit, "bench", "--help"], capture_output=True, text=True)
    return r.returncode == 0


def cpu_us(pid):
    """utime + stime of a process (all threads), in microseconds."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1e6 / os.sysconf("SC_CLK_TCK")


def find_rate(obj):
    """The msgs/s figure in sockit bench's JSON, wherever it is nested."""
    if not isinstance(obj, dict):
        return None
    for k, v in obj.items():
        if isinstance(v, (int, float)) and re.fullmatch(
                r"(msgs?|messages|replies)_?(per_?sec(ond)?|per_?s|/s|_s|ps)", k.lower()):
            return float(v)
    for v in obj.values():
        r = find_rate(v)
        if r is not None:
            return r
    return None


def sockit_bench(sockit, port, sc, secs, pid, io=(), scheme="tcp"):
    """Drives a server with `sockit bench` (one thread, like pingpong); returns
    the same keys as pingpong. Tries -d 4s, then -d 4 if that is a usage error.
    scheme tls: tls://, with -k (the certificate is not verified, like
    pingpong --tls)."""
    _, conns, depth, size, _ = sc
    h = subprocess.run([sockit, "bench", "--help"], capture_output=True, text=True)
    # tls: --ramp starts the window once the 100 handshakes are done (0.2-0.3 s of
    # a 2 s run otherwise), as pingpong --tls starts its own after them
    ramp = (["--ramp"],) if scheme == "tls" else ()
    opts = [o for o in (["--threads", "1"], ["--nodelay"]) + ramp if o[0] in h.stdout + h.stderr]
    extra = [a for o in opts for a in o] + list(io) + (["-k"] if scheme == "tls" else [])
    for dur in ("%gs" % secs, "%g" % secs):
        jf = os.path.join(TMP, "sockit-bench.json")
        argv = ["taskset", "-c", LOADER_CPU, sockit, "bench", "%s://%s:%d" % (scheme, HOST, port),
                "-c", str(conns), "--depth", str(depth), "--size", str(size),
                "-d", dur, "--json", jf] + extra
        err = tempfile.TemporaryFile(dir=TMP)
        out = tempfile.TemporaryFile(dir=TMP)
        s0, t0 = cpu_us(pid), time.time()
        p = spawn(argv, stdout=out, stderr=err)
        _, status, ru = os.wait4(p.pid, 0)
        t1, s1 = time.time(), cpu_us(pid)
        LIVE.remove(p)
        code = os.waitstatus_to_exitcode(status)
        if code != 2:
            break
    try:
        doc = json.load(open(jf))
    except (OSError, ValueError):
        doc = {}
    rate = find_rate(doc)
    if rate is None:  # no JSON: take the report's "NNN msgs/s"
        out.seek(0)
        m = re.search(r"([0-9.]+) msgs/s", out.read().decode(errors="replace"))
        rate = float(m.group(1)) if m else None
    msgs = (doc.get("messages") or {}).get("received") if isinstance(doc.get("messages"), dict) else None
    errs = doc.get("errors")
    errs = sum(v for v in errs.values() if isinstance(v, int)) if isinstance(errs, dict) else 0
    if code != 0 or rate is None:
        err.seek(0)
        why = err.read().decode(errors="replace")[-300:].strip() or "no msgs/s in its --json file or report"
        raise RuntimeError("sockit bench failed (status %d): %s" % (code, why))
    return {"msgs": msgs or rate * (t1 - t0), "secs": t1 - t0, "msgs_per_sec": rate, "errors": errs,
            "server_cpu_us": s1 - s0, "loader_cpu_us": (ru.ru_utime + ru.ru_stime) * 1e6,
            "argv": argv, "note": "CPU windows include sockit bench's connect and drain phases"}


# ---------------------------------------------------------------- measuring


def backend_flags(p):
    """--pid2 for a proxy's backend: the loader reports its CPU time too."""
    return ["--pid2", str(p.backend.pid)] if getattr(p, "backend", None) else []


def measure(name, table, sc, args):
    p, port, frame = start_server(name, table)
    try:
        return pingpong(port, sc, frame, args.secs, p.mpid, ["--warmup", str(args.warmup)] + backend_flags(p))
    finally:
        stop_server(p)


def measure_loader(name, table, sc, args):
    """The loader scenarios: pingpong vs sockit bench against the raw epoll
    echo (loader-*), or pingpong --tls vs sockit bench tls:// against the
    minimal TLS echo (tls-loader-*)."""
    tls = sc[0].startswith("tls-")
    p, port, _ = start_server("tls-echo" if tls else "epoll", table)
    try:
        if name in ("pingpong", "pingpong-tls"):
            return pingpong(port, sc, "tls" if tls else "raw", args.secs, p.pid, ["--warmup", "0"])
        io = ["--io", "uring"] if name.endswith("-uring") else []
        return sockit_bench(args.sockit, port, sc, args.secs, p.pid, io, "tls" if tls else "tcp")
    finally:
        stop_server(p)


def measure_handshakes(name, table, sc, args):
    """tls-handshake: tls_handshakes keeps sc[1] connections handshaking."""
    p, port, _ = start_server(name, table)
    try:
        argv = ["taskset", "-c", LOADER_CPU, os.path.join(BUILD, "tls_handshakes"), HOST, str(port),
                str(sc[1]), str(args.secs), "--size", str(sc[3]), "--threads", str(args.hs_threads),
                "--pid", str(p.mpid), "--warmup", str(args.warmup)] + backend_flags(p)
        return run_json(argv, (), args.secs, "tls_handshakes")
    finally:
        stop_server(p)


def synced_count(port, sc, frame, pid, count, before, after):
    """A --sync pingpong run of count messages: before() runs once every
    connection is accepted, after() once the echoes are in but before the
    connections close, so both setup and teardown stay out of the count."""
    _, conns, depth, size, _ = sc
    argv = ["taskset", "-c", LOADER_CPU, os.path.join(BUILD, "pingpong"), HOST, str(port),
            str(conns), str(depth), str(size), "600"] + loader_frame(frame) + ["--pid", str(pid),
            "--warmup", "0", "--count", str(count), "--sync"]
    p = spawn(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        if p.stdout.readline().strip() != "ready":
            raise SystemExit("pingpong --sync: no ready line")
        before()
        p.stdin.write("go\n")
        p.stdin.flush()
        res = json.loads(p.stdout.readline())
        after()
    finally:
        p.stdin.close()
        p.wait(30)
        LIVE.remove(p)
    if "echoed" in res:
        return res["echoed"]  # every message the server echoed
    wire = size + (4 if frame == "len32be" else 0)
    return res["bytes_rcvd"] / wire


def attach(tool_argv):
    """Starts strace/perf attached to a process; returns once it is attached."""
    err = os.path.join(TMP, "attach.log")
    with open(err, "w") as ef:
        t = spawn(tool_argv, stdout=subprocess.DEVNULL, stderr=ef)
    end = time.time() + 5
    if tool_argv[0] == "perf":
        time.sleep(0.5)  # perf prints nothing when attached
    while tool_argv[0] == "strace" and "attached" not in open(err).read() and time.time() < end:
        time.sleep(0.05)
    return t


def parse_strace(path):
    calls = {}
    for line in open(path):
        f = line.split()
        if len(f) >= 5 and f[-1] not in ("syscall", "total") and f[0][0].isdigit():
            calls[f[-1]] = int(f[3])
    return calls


def parse_perf(path):
    for line in open(path):
        f = line.strip().split(",")
        if len(f) > 2 and "sys_enter" in line and f[0].strip().isdigit():
            return int(f[0])
    return None


def counted_run(name, table, sc, args, tool):
    """Syscalls of the server (all threads) while it echoes args.count messages."""
    p, port, frame = start_server(name, table)
    out = os.path.join(TMP, "%s-%s-%s.txt" % (sc[0], name, tool))
    if tool == "strace":
        argv = ["strace", "-c", "-f", "-o", out, "-p", str(p.mpid)]
    else:
        argv = ["perf", "stat", "-x,", "-e", "raw_syscalls:sys_enter", "-o", out, "-p", str(p.mpid)]
    tracer = []
    try:
        handled = synced_count(port, sc, frame, p.mpid, args.count,
                               lambda: tracer.append(attach(argv)),
                               lambda: stop(tracer[0], signal.SIGINT, 30))
    finally:
        for t in tracer:
            stop(t, signal.SIGINT, 30)
        stop_server(p)
    if tool == "strace":
        calls = parse_strace(out)
        return {"msgs": handled, "calls": calls, "per_msg": sum(calls.values()) / handled}
    n = parse_perf(out)
    return {"msgs": handled, "per_msg": n / handled if n else None}


def callgrind_run(name, table, sc, args):
    """User-space instructions per message (valgrind callgrind, fixed count)."""
    argv_of, frame = table[name]
    if name in PROXY:  # a proxy and its backend: not measured this way
        return None
    port = free_port()
    outf = os.path.join(TMP, "callgrind-%s-%s.out" % (sc[0], name))
    p = spawn(["taskset", "-c", SERVER_CPU, "valgrind", "--tool=callgrind",
               "--callgrind-out-file=" + outf] + argv_of(port),
              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ctl = lambda cmd: subprocess.run(["callgrind_control", cmd, str(p.pid)], capture_output=True)
    try:
        if not wait_listening(port, p, 30):
            return None
        handled = synced_count(port, sc, frame, p.pid, args.count,
                               lambda: ctl("-z"), lambda: ctl("-d"))
    finally:
        stop(p, signal.SIGTERM, 30)
    dumps = sorted(f for f in os.listdir(TMP) if f.startswith(os.path.basename(outf) + "."))
    ir = callgrind_total(os.path.join(TMP, dumps[-1])) if dumps else 0  # the -d dump
    if args.keep_callgrind and dumps:
        keep = os.path.join(BUILD, "callgrind.%s.%s" % (sc[0], name))
        shutil.copy(os.path.join(TMP, dumps[-1]), keep)
    return ir / handled if ir else None


def callgrind_total(path):
    for line in open(path):
        if line.startswith(("summary:", "totals:")):
            return int(line.split()[1])
    return 0

# ---------------------------------------------------------------- reporting


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def summarize(rounds):
    rate = [r["msgs_per_sec"] for r in rounds]
    cpu = [r["server_cpu_us"] / r["msgs"] for r in rounds if r["msgs"] and r["server_cpu_us"] >= 0]
    lcpu = [r["loader_cpu_us"] / r["msgs"] for r in rounds if r["msgs"]]
    back = [r["server2_cpu_us"] / r["msgs"] for r in rounds
            if r["msgs"] and r.get("server2_cpu_us", -1) >= 0]
    out = {"msgs_per_sec": med(rate), "min": min(rate), "max": max(rate),
           "server_cpu_us_per_msg": med(cpu), "loader_cpu_us_per_msg": med(lcpu),
           "errors": sum(r["errors"] for r in rounds)}
    if back:  # a proxy's backend echo
        out["backend_cpu_us_per_msg"] = med(back)
    return out


def fmt(x, spec="%.2f"):
    return "-" if x is None else spec % x


def top_calls(st, k=4):
    if not st:
        return "-"
    calls = sorted(st["calls"].items(), key=lambda kv: -kv[1])[:k]
    return " ".join("%s %.2f" % (n, c / st["msgs"]) for n, c in calls)


def md_table(sc_name, res, ref):
    # a proxy's backend echo: its CPU/msg in its own column (not in "server")
    back = any("backend_cpu_us_per_msg" in (r.get("summary") or {}) for r in res.values())
    out = ["### %s" % sc_name, "",
           "| server | msgs/s (median) | min–max | vs %s | server CPU µs/msg | loader CPU µs/msg "
           "| syscalls/msg (strace) | syscalls/msg (perf) | Ir/msg (callgrind) | strace: calls/msg | errors |" % ref
           + (" backend echo CPU µs/msg |" if back else ""),
           "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|" + ("---:|" if back else "")]
    base = res.get(ref, {}).get("summary", {}).get("msgs_per_sec")
    for name, r in res.items():
        s = r.get("summary")
        if not s:
            out.append("| %s | skipped: %s |  |  |  |  |  |  |  |  |  |" % (name, r.get("skipped", "?"))
                       + (" |" if back else ""))
            continue
        st, pf = r.get("strace"), r.get("perf")
        out.append("| %s | %s | %s–%s | %s | %s | %s | %s | %s | %s | %s | %d |" % (
            name, fmt(s["msgs_per_sec"], "%.0f"), fmt(s["min"], "%.0f"), fmt(s["max"], "%.0f"),
            fmt(s["msgs_per_sec"] / base if base else None),
            fmt(s["server_cpu_us_per_msg"]), fmt(s["loader_cpu_us_per_msg"]),
            fmt(st and st["per_msg"]), fmt(pf and pf["per_msg"]), fmt(r.get("ir_per_msg"), "%.0f"),
            top_calls(st), s["errors"]) + (" %s |" % fmt(s.get("backend_cpu_us_per_msg")) if back else ""))
    return "\n".join(out) + "\n"


def ratio(res, a, b, key):
    def get(n):
        r = res.get(n, {})
        if key in ("strace", "perf"):
            return (r.get(key) or {}).get("per_msg")
        if key == "ir":
            return r.get("ir_per_msg")
        return (r.get("summary") or {}).get(key)
    x, y = get(a), get(b)
    return x / y if x and y else None


def paired_cpu(res, a, b, key="server_cpu_us"):
    """CPU/msg of a over b round by round (each round runs a and b back to
    back, so slow drifts of a noisy host cancel), and their median. key
    msgs_per_sec: the same for msgs/s."""
    def per(n):
        rounds = res.get(n, {}).get("rounds", [])
        if key == "msgs_per_sec":
            return [r["msgs_per_sec"] for r in rounds]
        return [r[key] / max(r["msgs"], 1) for r in rounds]
    rs = [x / y for x, y in zip(per(a), per(b)) if y]
    return (rs, statistics.median(rs)) if rs else ([], None)


def ratios_table(results):
    rows = ["| scenario | pair | msgs/s | CPU µs/msg | CPU µs/msg paired by round: median (rounds) "
            "| syscalls/msg (strace) | syscalls/msg (perf) | Ir/msg |",
            "|---|---|---:|---:|---:|---:|---:|---:|"]
    pairs = {"raw": [("sockit", "epoll"), ("sockit", "libuv"), ("sockit-uring", "epoll"),
                     ("sockit-uring", "sockit")],
             "framed": [("sockit-len32be", "epoll-len32be"), ("sockit-len32be", "sockit")],
             "ws": [("sockit-ws", "epoll"), ("sockit-ws", "lws"), ("sockit-ws", "node-ws"),
                    ("sockit-ws", "python-websockets"), ("sockit-ws-uring", "epoll"),
                    ("sockit-ws-uring", "lws")],
             "tls": [("sockit-tls", "tls-echo"), ("sockit-tls-uring", "tls-echo"), ("sockit-tls", "tls-echo-naive"),
                     ("sockit-tls-uring", "tls-echo-naive"), ("tls-echo", "tls-echo-naive"), ("sockit-tls", "nginx-tls"),
                     ("sockit-tls", "haproxy-tls"), ("sockit-tls-uring", "sockit-tls"),
                     ("sockit-bench-tls", "pingpong-tls"), ("sockit-bench-tls-uring", "pingpong-tls")]}
    for sc, res in results.items():
        for a, b in pairs.get(sc.split("-")[0], []) + list(BASE_OF.items()):
            if a in res and b in res:
                rs, med_rs = paired_cpu(res, a, b)
                rows.append("| %s | %s / %s | %s | %s | %s (%s) | %s | %s | %s |" % (
                    sc, a, b, fmt(ratio(res, a, b, "msgs_per_sec")),
                    fmt(ratio(res, a, b, "server_cpu_us_per_msg")), fmt(med_rs),
                    " ".join("%.2f" % r for r in rs), fmt(ratio(res, a, b, "strace")),
                    fmt(ratio(res, a, b, "perf")), fmt(ratio(res, a, b, "ir"))))
    return "\n".join(rows) + "\n"


def ws_targets_table(results):
    """The WebSocket targets, for each sockit backend: its CPU/msg over the raw
    TCP epoll ceiling (target <= 1.05) and its messages per server-CPU-second
    over libwebsockets', i.e. lws CPU/msg over sockit's (target >= 1.2)."""
    rows = ["| scenario | server | / epoll (raw TCP) CPU µs/msg (target ≤ 1.05) "
            "| / lws msgs per server-CPU-s (target ≥ 1.2) | / node-ws msgs per CPU-s "
            "| / python-websockets msgs per CPU-s |",
            "|---|---|---:|---:|---:|---:|"]
    for sc, res in results.items():
        if not sc.startswith("ws-"):
            continue
        for me in ("sockit-ws", "sockit-ws-uring"):
            if me not in res:
                continue
            inv = lambda b: ratio(res, b, me, "server_cpu_us_per_msg")
            both = lambda x, p: "%s (paired %s)" % (fmt(x), fmt(p)) if p else fmt(x)
            rows.append("| %s | %s | %s | %s | %s | %s |" % (
                sc, me, both(ratio(res, me, "epoll", "server_cpu_us_per_msg"), paired_cpu(res, me, "epoll")[1]),
                both(inv("lws"), paired_cpu(res, "lws", me)[1]),
                fmt(inv("node-ws")), fmt(inv("python-websockets"))))
    return "\n".join(rows) + "\n" if len(rows) > 2 else ""

def tls_targets_table(results):
    """The TLS targets: sockit-tls CPU/msg over the minimal OpenSSL echo's
    (≤ 0.95 at 64 B, ≤ 1.0 at 16 KiB), both without read-ahead (the issue's
    reference) and with it (a stronger one); sockit bench tls:// msgs/s over
    pingpong --tls's, both driving tls-echo (≥ 0.95); server CPU per
    handshake of each TLS server, and sockit-tls's over each (≤ 1.05 over
    tls-echo's)."""
    rows = ["| scenario | pair | measure | ratio of medians | paired by round: median (rounds) | target |",
            "|---|---|---|---:|---:|---|"]

    def row(sc, a, b, what, key, target, limit, higher):
        res = results[sc]
        if not ((res.get(a) or {}).get("summary") and (res.get(b) or {}).get("summary")):
            return
        x = ratio(res, a, b, "msgs_per_sec" if key == "msgs_per_sec" else "server_cpu_us_per_msg")
        rs, m = paired_cpu(res, a, b, key)
        verdict = ""
        if limit and m is not None:
            verdict = " — %s" % ("met" if (m >= limit if higher else m <= limit) else "**not met**")
        rows.append("| %s | %s / %s | %s | %s | %s (%s) | %s%s |" % (
            sc, a, b, what, fmt(x), fmt(m), " ".join("%.2f" % r for r in rs), target, verdict))

    for sc in results:
        if sc in ("tls-64-d1", "tls-64-d16", "tls-16k-d4"):
            lim = 1.0 if "16k" in sc else 0.95
            for me in ("sockit-tls", "sockit-tls-uring"):
                for ref in ("tls-echo-naive", "tls-echo"):
                    row(sc, me, ref, "server CPU µs/msg", "server_cpu_us", "≤ %.2f" % lim, lim, False)
            for peer in ("nginx-tls", "haproxy-tls"):
                row(sc, "sockit-tls", peer, "server CPU µs/msg", "server_cpu_us", "", None, False)
        elif sc.startswith("tls-loader"):
            for me in ("sockit-bench-tls", "sockit-bench-tls-uring"):
                row(sc, me, "pingpong-tls", "msgs/s", "msgs_per_sec", "≥ 0.95", 0.95, True)
        elif sc == "tls-handshake":
            for me in ("sockit-tls", "sockit-tls-uring"):
                row(sc, me, "tls-echo", "server CPU µs/handshake", "server_cpu_us", "≤ 1.05", 1.05, False)
                for peer in ("nginx-tls", "haproxy-tls"):
                    row(sc, me, peer, "server CPU µs/handshake", "server_cpu_us", "", None, False)
    return "\n".join(rows) + "\n" if len(rows) > 2 else ""

# ---------------------------------------------------------------- main


def parse_args():
    ap = argparse.ArgumentParser(description="sockit echo benchmark (see bench/README.md)")
    ap.add_argument("--rounds", type=int, default=3, help="rounds per scenario (default 3)")
    ap.add_argument("--secs", type=float, default=5, help="measured seconds per run (default 5)")
    ap.add_argument("--warmup", type=float, default=0.5, help="unmeasured seconds before each run")
    ap.add_argument("--only", action="append", help="scenario name (repeatable): " +
                    ", ".join(s[0] for s in SCENARIOS))
    ap.add_argument("--server", action="append",
                    help="only these servers (repeatable; each scenario keeps its reference server)")
    ap.add_argument("--count", type=int, default=20000, help="messages in the strace/perf/callgrind runs")
    ap.add_argument("--no-syscalls", action="store_true", help="skip the strace and perf runs")
    ap.add_argument("--callgrind", action="store_true", help="also count instructions with callgrind")
    ap.add_argument("--keep-callgrind", action="store_true",
                    help="copy the callgrind profiles to bench/build/ (for callgrind_annotate)")
    ap.add_argument("--sockit", default=os.path.join(ROOT, "build", "sockit"))
    ap.add_argument("--baseline", help="another sockit binary (e.g. the build before a refactor): "
                    "each sockit server also runs from it as base*, paired round by round")
    ap.add_argument("--hs-threads", type=int, default=2,
                    help="tls-handshake: loader threads (all on the loader CPU; default 2)")
    ap.add_argument("--json", default=os.path.join(HERE, "results", "latest.json"))
    return ap.parse_args()


def snapshot(args):
    """Copies the sockit binary under test: others may rebuild build/sockit mid-run."""
    src = args.sockit
    dst = os.path.join(BUILD, "sockit-under-test")
    os.makedirs(BUILD, exist_ok=True)
    if os.path.abspath(src) != dst:
        shutil.copy2(src, dst)
    args.sockit = dst
    with open(dst, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()[:16]
    mtime = datetime.datetime.fromtimestamp(os.path.getmtime(src)).astimezone()
    return {"binary": os.path.relpath(src, ROOT), "sha256": digest,
            "built": mtime.isoformat(timespec="seconds")}


def sockit_one_thread(sockit):
    """['--threads', '1'] if this sockit has the option, else []."""
    h = subprocess.run([sockit, "serve", "--help"], capture_output=True, text=True)
    return ["--threads", "1"] if "--threads" in h.stdout + h.stderr else []


def host_facts(args):
    ver = subprocess.run([args.sockit, "--version"], capture_output=True, text=True).stdout.strip()
    rev = subprocess.run(["git", "-C", ROOT, "describe", "--always", "--dirty"],
                         capture_output=True, text=True).stdout.strip()
    return {"date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
            "nproc": os.cpu_count(), "kernel": platform.release(), "sockit": ver, "git": rev,
            "loadavg": open("/proc/loadavg").read().split()[:3]}


def show_argv(argv_of):
    """A server's command line with PORT in place of the port."""
    a = argv_of(0)
    words = [os.path.basename(a[0])] + ["PORT" if w == "0" else w for w in a[1:]]
    return " ".join(words).replace(":0", ":PORT")


def header(cmd, f):
    lines = ["command: `%s`" % cmd, "",
             "- date: %s; nproc: %s; kernel: %s; load average at start: %s" % (
                 f["date"], f["nproc"], f["kernel"], " ".join(f["loadavg"])),
             "- sockit: %s, %s built %s, sha256 %s; git %s" % (
                 f["sockit"], f["binary"], f["built"], f["sha256"], f["git"]),
             "- servers on CPU 0 (taskset -c 0), loader on CPU 1:"]
    lines += ["  - %s: `%s`" % (n, a) for n, a in f["servers"].items()]
    return "\n".join(lines) + "\n\n"


def have(tool):
    return subprocess.run(["sh", "-c", "command -v " + tool], capture_output=True).returncode == 0


def perf_works():
    if not have("perf"):
        return False
    r = subprocess.run(["perf", "stat", "-x,", "-e", "raw_syscalls:sys_enter", "true"],
                       capture_output=True, text=True)
    return r.returncode == 0 and "not supported" not in r.stderr


def run_rounds(sc, table_, args):
    names = sc[4]
    res = {n: {"rounds": []} for n in names}
    for n in names:
        if n.startswith("sockit-bench") and not sockit_bench_available(args.sockit):
            res[n] = {"skipped": "`sockit bench` does not exist yet (sockit bench --help failed)"}
    for n in names:
        why = n in table_ and missing_peer(n, table_)
        if why:
            res[n] = {"skipped": why}
    for rnd in range(args.rounds):
        for n in names:
            if "skipped" in res[n]:
                continue
            how = measure_loader if is_loader(sc) else measure_handshakes if is_handshake(sc) else measure
            try:
                r = how(n, table_, sc, args)
            except RuntimeError as e:
                res[n] = {"skipped": str(e)}
                continue
            res[n]["rounds"].append(r)
            print("  round %d %-15s %10.0f msgs/s  server %6.2f µs/msg  errors %d" % (
                rnd + 1, n, r["msgs_per_sec"], r["server_cpu_us"] / max(r["msgs"], 1), r["errors"]),
                flush=True)
    for n in names:
        if res[n].get("rounds"):
            res[n]["summary"] = summarize(res[n]["rounds"])
    return res


def run_counts(sc, table_, res, args, tools):
    if is_loader(sc) or is_handshake(sc):
        return
    for n in sc[4]:
        if "skipped" in res[n]:
            continue
        for tool in tools:
            res[n][tool] = counted_run(n, table_, sc, args, tool)
        if args.callgrind:
            res[n]["ir_per_msg"] = callgrind_run(n, table_, sc, args)
        print("  counted %-15s strace %s  perf %s  Ir %s" % (
            n, fmt((res[n].get("strace") or {}).get("per_msg")), fmt((res[n].get("perf") or {}).get("per_msg")),
            fmt(res[n].get("ir_per_msg"), "%.0f")), flush=True)


def main():
    global TMP
    args = parse_args()
    names = [s[0] for s in SCENARIOS]
    unknown = [n for n in args.only or [] if n not in names]
    if unknown:
        raise SystemExit("unknown scenario %s; choose from: %s" % (", ".join(unknown), ", ".join(names)))
    chosen = [s for s in SCENARIOS if not args.only or s[0] in args.only]
    if args.server:  # keep the scenario's reference server (loaders: first; else last): ratios need it
        chosen = [s[:4] + ([n for n in s[4] if n in args.server or n == s[4][0 if is_loader(s) else -1]],)
                  for s in chosen]
    if args.baseline:
        chosen = [s[:4] + (with_baseline(s[4]),) for s in chosen]
    TMP = tempfile.mkdtemp(prefix="sockit-bench.")
    atexit.register(kill_all)
    if any(s[0].startswith("tls-") for s in chosen):
        make_cert(TMP)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    cmd = " ".join(shlex.quote(a) for a in [os.path.relpath(sys.argv[0], ROOT)] + sys.argv[1:])
    if not os.access(args.sockit, os.X_OK):
        raise SystemExit("no %s: run `make` at the top first" % args.sockit)
    subprocess.run(["make", "-s", "-C", HERE], check=True)
    snap = snapshot(args)
    facts = host_facts(args)
    facts.update(snap)
    tools = [] if args.no_syscalls else ["strace"] + (["perf"] if perf_works() else [])
    table_ = servers(args.sockit, sockit_one_thread(args.sockit))
    if args.baseline:
        table_.update(baseline_servers(os.path.abspath(args.baseline), sockit_one_thread(args.baseline)))
    facts["servers"] = {n: show_argv(a) for n, (a, _) in table_.items()}
    print(header(cmd, facts), end="", flush=True)
    results, md = {}, []
    for sc in chosen:
        print("scenario %s" % sc_title(sc), flush=True)
        results[sc[0]] = run_rounds(sc, table_, args)
        run_counts(sc, table_, results[sc[0]], args, tools)
        ref = sc[4][0] if is_loader(sc) else sc[4][-1]
        md.append(md_table(sc_title(sc), results[sc[0]], ref))
    md.append("### ratios (sockit / peer; CPU, syscalls and Ir: lower is better for sockit when < 1)\n\n"
              + ratios_table(results))
    if ws_targets_table(results):
        md.append("### WebSocket targets (ratios of medians)\n\n" + ws_targets_table(results))
    if tls_targets_table(results):
        md.append("### TLS targets (verdicts on the paired medians)\n\n" + tls_targets_table(results))
    report = header(cmd, facts) + "\n".join(md)
    print("\n" + report)
    os.makedirs(os.path.dirname(args.json), exist_ok=True)
    with open(args.json, "w") as f:
        json.dump({"command": cmd, "host": facts, "args": vars(args), "results": results,
                   "markdown": report}, f, indent=1)
    print("wrote %s" % os.path.relpath(args.json, os.getcwd()))


if __name__ == "__main__":
    main()
