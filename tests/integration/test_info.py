"""test_info.py — `sockit info [URL] [--json]`: the host facts it prints agree
with what Python reads from the same kernel, URLs resolve, and bad input is a usage error.

Standalone (stdlib only). Environment: SOCKIT = the binary (default build/sockit);
SOCKIT_VALGRIND=1 runs every command under valgrind's memcheck.
"""
import json
import os
import resource
import socket
import subprocess
import sys

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SOCKIT = os.environ.get("SOCKIT") or os.path.join(REPO, "build", "sockit")
VALGRIND = os.environ.get("SOCKIT_VALGRIND") == "1"
PREFIX = ["valgrind", "--leak-check=full", "--error-exitcode=99", "-q"] if VALGRIND else []
TIMEOUT = 120 if VALGRIND else 20

failures = 0


def check(cond, what):
    global failures
    print("%s %s" % ("ok  " if cond else "FAIL", what), flush=True)
    if not cond:
        failures += 1
    return cond


def run(*args, preexec_fn=None):
    """Runs sockit with args (str or bytes); returns (exit status, stdout, stderr)."""
    p = subprocess.run(PREFIX + [SOCKIT] + list(args), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=TIMEOUT, preexec_fn=preexec_fn)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def run_json(*args, preexec_fn=None):
    rc, out, err = run(*args, "--json", preexec_fn=preexec_fn)
    try:
        return rc, json.loads(out), err
    except ValueError as e:
        check(False, "--json output of %r is valid JSON (%s): %r" % (args, e, out[:300]))
        return rc, None, err


def proc_nums(path):
    with open(path) as f:
        return [int(x) for x in f.read().split()]


def stderr_lines(err):
    return [line for line in err.splitlines() if line.strip()]


def rlim(v):
    return "unlimited" if v == resource.RLIM_INFINITY else v


def test_text():
    rc, out, err = run("info")
    check(rc == 0, "info exits 0 (got %d, stderr %r)" % (rc, err))
    check(socket.gethostname() in out, "info shows hostname %r" % socket.gethostname())
    somaxconn = proc_nums("/proc/sys/net/core/somaxconn")[0]
    lines = [line for line in out.splitlines() if "somaxconn" in line]
    check(len(lines) == 1 and lines[0].split()[-1] == str(somaxconn),
          "info shows somaxconn %d: %r" % (somaxconn, lines))


def test_json_host():
    rc, j, err = run_json("info")
    if not check(rc == 0 and j is not None, "info --json exits 0 with JSON (stderr %r)" % err):
        return
    check(j.get("hostname") == socket.gethostname(), "json hostname %r" % j.get("hostname"))
    addrs = [i.get("address") for i in j.get("interfaces", [])]
    check("127.0.0.1" in addrs or "::1" in addrs, "json interfaces include loopback: %r" % addrs)
    check(all(i.get("family") in ("inet", "inet6") and i.get("name") for i in j["interfaces"]),
          "every interface has a name and an inet/inet6 family")
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sndbuf = s.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF)
    rcvbuf = s.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
    s.close()
    tcp = j.get("tcp", {})
    check(tcp.get("sndbuf") == sndbuf, "tcp sndbuf %r == getsockopt %d" % (tcp.get("sndbuf"), sndbuf))
    check(tcp.get("rcvbuf") == rcvbuf, "tcp rcvbuf %r == getsockopt %d" % (tcp.get("rcvbuf"), rcvbuf))
    wmem = proc_nums("/proc/sys/net/ipv4/tcp_wmem")
    check(tcp.get("wmem") == wmem, "tcp wmem %r == /proc %r" % (tcp.get("wmem"), wmem))
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp_snd = u.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF)
    u.close()
    check(j.get("udp", {}).get("sndbuf") == udp_snd, "udp sndbuf == getsockopt %d" % udp_snd)
    ports = proc_nums("/proc/sys/net/ipv4/ip_local_port_range")
    check(j.get("port_range") == ports, "port_range %r == /proc %r" % (j.get("port_range"), ports))
    somaxconn = proc_nums("/proc/sys/net/core/somaxconn")[0]
    check(j.get("core", {}).get("somaxconn") == somaxconn, "core somaxconn == %d" % somaxconn)


def test_json_nofile():
    if VALGRIND:  # valgrind keeps some descriptors and lowers the limits the child sees
        print("ok   nofile checks skipped under valgrind")
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    rc, j, _ = run_json("info")
    got = j and j.get("nofile", {})
    check(rc == 0 and got and got.get("soft") == rlim(soft) and got.get("hard") == rlim(hard),
          "nofile %r == getrlimit (%r, %r)" % (got, soft, hard))
    # A child with a lowered soft limit must report exactly that limit.
    low = 200 if hard == resource.RLIM_INFINITY or hard > 200 else hard
    lower = lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (low, hard))
    rc, j, _ = run_json("info", preexec_fn=lower)
    got = j and j.get("nofile", {})
    check(rc == 0 and got and got.get("soft") == low and got.get("hard") == rlim(hard),
          "child with soft limit %d reports nofile %r" % (low, got))


def test_url_inet():
    rc, j, err = run_json("info", "tcp://localhost:80")
    if not check(rc == 0 and j is not None, "info tcp://localhost:80 exits 0 (stderr %r)" % err):
        return
    url = j.get("url", {})
    addrs = url.get("addresses", [])
    check(url.get("text") == "tcp://localhost:80" and url.get("scheme") == "tcp",
          "url text and scheme: %r" % url)
    check(bool(addrs) and set(addrs) <= {"127.0.0.1:80", "[::1]:80"},
          "localhost resolves to loopback: %r" % addrs)
    rc, out, _ = run("info", "udp://[::1]:53")
    check(rc == 0 and "[::1]:53" in out and "datagram" in out, "udp://[::1]:53 is a datagram URL")


def test_url_unix():
    rc, out, err = run("info", "unix:///tmp/x.sock")
    check(rc == 0 and "/tmp/x.sock" in out and "unix" in out,
          "info unix:///tmp/x.sock shows the path (rc %d, stderr %r)" % (rc, err))
    path = '/tmp/q"b\\s\u00e9.sock'
    rc, j, _ = run_json("info", "unix://" + path)
    check(rc == 0 and j and j["url"].get("path") == path and j["url"]["addresses"] == [path],
          "quotes, backslashes and UTF-8 in a path survive JSON: %r" % (j and j.get("url")))
    rc, j, _ = run_json("info", b"unixgram:///tmp/\xff.sock")
    check(rc == 0 and j and j["url"].get("path") == "/tmp/\ufffd.sock",
          "a non-UTF-8 byte in a path is still valid JSON: %r" % (j and j.get("url")))


def test_errors():
    rc, out, err = run("info", "tcp://bad host:1")
    check(rc == 2 and len(stderr_lines(err)) == 1 and out == "",
          "bad URL exits 2 with one stderr line (rc %d, %r)" % (rc, err))
    rc, out, err = run("info", "tcp://nosuch-host.invalid:80")
    check(rc == 1 and len(stderr_lines(err)) == 1 and "cannot resolve URL" in err and out == "",
          "unresolvable host exits 1 with one stderr line (rc %d, %r)" % (rc, err))
    rc, _, err = run("info", "a", "b")
    check(rc == 2 and len(stderr_lines(err)) == 1, "two arguments exit 2 (rc %d, %r)" % (rc, err))
    rc, _, err = run("info", "--bogus")
    check(rc == 2 and len(stderr_lines(err)) == 1, "--bogus exits 2 (rc %d, %r)" % (rc, err))
    rc, out, _ = run("info", "--help")
    check(rc == 0 and "info" in out, "--help exits 0 (rc %d)" % rc)


def main():
    if not os.access(SOCKIT, os.X_OK):
        print("FAIL no executable at %s (set SOCKIT)" % SOCKIT)
        return 1
    for test in (test_text, test_json_host, test_json_nofile, test_url_inet, test_url_unix,
                 test_errors):
        try:
            test()
        except Exception as e:  # a crash in one test is one failure, not the end
            check(False, "%s raised %r" % (test.__name__, e))
    print("%s: %d failure(s)" % ("FAIL" if failures else "ok", failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
