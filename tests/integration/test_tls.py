"""test_tls.py — `serve ... tls://` and the TLS client options with real
peers: Python's `ssl` clients (every framing, 1 MB byte-exact, 50 at once;
epoll and io_uring), certificate verification and its one-line reasons,
--pin, -k, IP literals against IP SANs, a PEM chain, mutual TLS, ALPN,
--tls-min, SIGHUP reload, bad input costing one connection only, `info
tls://`, bench over TLS and the kTLS line. A throwaway PKI is made with the
`openssl` command (tls_pki.py). The peers openssl s_client/s_server, socat
and ncat are in test_tls_peers.py; wss:// in test_tls_ws.py and
test_tls_browser.py; edges that were wrong once, in test_tls_edges.py."""
import contextlib
import json
import os
import re
import select
import signal
import socket
import ssl
import struct
import subprocess
import threading
import time

from harness import (uring_fds, Server, check, check_eq, free_port, have_ipv6, main, recv_exact,
                     recv_until_eof, run_connect, run_sockit, t, tmpdir, wait_for, VALGRIND)
from tls_pki import cert_args, pki, cert_field, client_ctx, fingerprint, skip
from test_tls_peers import converse, key_update_dialogue

def tls_sock(port, ctx=None, name="127.0.0.1", host="127.0.0.1", timeout=10):
    """A Python ssl client socket, handshake done (verifies against the test CA
    and checks name, an IP literal against IP SANs, unless ctx says otherwise)."""
    ctx = ctx or client_ctx(pki().ca_crt)
    raw = socket.create_connection((host, port), timeout=t(timeout))
    try:
        return ctx.wrap_socket(raw, server_hostname=name)
    except BaseException:
        raw.close()
        raise


def one_line(err):
    """stderr of a failed client: its non-warning lines."""
    return [ln for ln in err.decode(errors="replace").splitlines()
            if ln.strip() and "warning" not in ln]


def echo_once(port, data=b"ping\n", **kw):
    """One fresh verified client: handshake, data, its echo."""
    s = tls_sock(port, **kw)
    try:
        s.sendall(data)
        return recv_exact(s, len(data))
    finally:
        s.close()


# ---------------------------------------------------------------- framings

FRAMES = {
    "raw": None,
    "line": lambda m: m + b"\n",
    "len8": lambda m: struct.pack("B", len(m)) + m,
    "len16be": lambda m: struct.pack(">H", len(m)) + m,
    "len16le": lambda m: struct.pack("<H", len(m)) + m,
    "len32be": lambda m: struct.pack(">I", len(m)) + m,
    "len32le": lambda m: struct.pack("<I", len(m)) + m,
    "len64be": lambda m: struct.pack(">Q", len(m)) + m,
    "len64le": lambda m: struct.pack("<Q", len(m)) + m,
}


def test_python_ssl_every_framing():
    """Each framing over TLS: three messages merged in one write, and one
    split across two TLS records, come back framed the same way."""
    line_safe = bytes(b for b in range(256) if b not in (10, 13))
    msgs = [b"first", line_safe[:200], b"third \x00 message"]
    for mode, enc in FRAMES.items():
        port = free_port()
        with Server("echo", "tls://127.0.0.1:%d" % port, "--frame", mode, *cert_args()):
            s = tls_sock(port)
            check_eq(s.version(), "TLSv1.3", "%s: negotiated version" % mode)
            wire = b"".join(enc(m) for m in msgs) if enc else b"".join(msgs)
            s.sendall(wire)
            check_eq(recv_exact(s, len(wire)), wire, "%s: merged messages echoed" % mode)
            one = enc(b"split across records") if enc else b"split across records"
            s.sendall(one[:3])
            time.sleep(0.05)
            s.sendall(one[3:])
            check_eq(recv_exact(s, len(one)), one, "%s: a message split in two records" % mode)
            s.close()


def pump(s, data, timeout=30):
    """Writes data while reading its echo, in one thread (one SSL object must
    not be used by two threads at once); returns the bytes read back."""
    s.setblocking(False)
    sent, got = 0, bytearray()
    deadline = time.monotonic() + t(timeout)
    while len(got) < len(data) and time.monotonic() < deadline:
        want_w = sent < len(data)
        r, w, _ = select.select([s], [s] if want_w else [], [], 0.5)
        if w or (want_w and not r):
            try:
                sent += s.send(data[sent:sent + 65536])
            except (ssl.SSLWantWriteError, ssl.SSLWantReadError):
                pass
        while True:  # drain what OpenSSL already decrypted, not only the socket
            try:
                b = s.recv(65536)
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                break
            if not b:
                return bytes(got)
            got.extend(b)
    return bytes(got)


def pump_1mb(port, ctx=None):
    """1 MB of random bytes through echo, written while the echo is read."""
    data = os.urandom(1 << 20)
    s = tls_sock(port, ctx=ctx, timeout=30)
    back = pump(s, data)
    s.close()
    return len(back), back == data


def many_clients(port, n=50, msgs=20):
    """n verified clients at once, each sends msgs lines and reads them back;
    returns the list of problems."""
    problems = []
    start = threading.Barrier(n, timeout=t(20))

    def one(i):
        try:
            start.wait()
            s = tls_sock(port, timeout=20)
            f = s.makefile("rb")
            for j in range(msgs):
                line = b"client %d message %d %s\n" % (i, j, os.urandom(6).hex().encode())
                s.sendall(line)
                back = f.readline()
                if back != line:
                    problems.append("client %d: sent %r got %r" % (i, line, back))
                    break
            s.close()
        except Exception as e:  # noqa: BLE001 (a test records every kind)
            problems.append("client %d: %r" % (i, e))

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(t(60))
    return problems


@contextlib.contextmanager
def env_set(name, value):
    """name=value in the environment meanwhile (servers started inherit it); None: as it is."""
    if value is None:
        yield
        return
    os.environ[name] = value
    try:
        yield
    finally:
        os.environ.pop(name, None)


def test_python_ssl_1mb_and_50_clients_epoll_and_uring():
    # (memcheck cannot run io_uring programs: under valgrind epoll only; ASan covers uring)
    # uring-whole: io_uring with whole 16 KiB receive buffers, as kernels before 6.12 get
    # (SOCKIT_URING_NO_INC), next to the default 128 KiB buffers consumed in pieces
    for io in ("epoll",) if VALGRIND else ("epoll", "uring", "uring-whole"):
        port = free_port()
        with env_set("SOCKIT_URING_NO_INC", "1" if io == "uring-whole" else None), \
                Server("echo", "tls://127.0.0.1:%d" % port, "--io", io.split("-")[0],
                       "--threads", "2", *cert_args()) as srv:
            n, same = pump_1mb(port)
            check(same, "%s: 1 MB echoed byte-exact over TLS 1.3 (%d bytes back)" % (io, n))
            tls12 = client_ctx(pki().ca_crt, tls_max=ssl.TLSVersion.TLSv1_2)
            n, same = pump_1mb(port, ctx=tls12)
            check(same, "%s: 1 MB echoed byte-exact over TLS 1.2 (%d bytes back)" % (io, n))
            problems = many_clients(port)
            check(not problems, "%s: 50 concurrent clients: %s" % (io, problems[:5]))
            if io != "epoll":
                check(uring_fds(srv.pid) > 0 and "io_uring not available" not in srv.log(),
                      "the server really runs on io_uring: %s" % srv.log()[-300:])


# ---------------------------------------------------------------- services

class Lines:
    """A verified TLS client reading lines."""

    def __init__(self, port):
        self.s = tls_sock(port)
        self.buf = b""

    def collect(self, secs=0.5):
        """Every line that arrives within secs (scaled)."""
        out, deadline = [], time.monotonic() + t(secs)
        while time.monotonic() < deadline:
            self.s.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                b = self.s.recv(65536)
            except (socket.timeout, ssl.SSLError):
                continue
            except OSError:
                break
            if not b:
                break
            self.buf += b
        while b"\n" in self.buf:
            ln, self.buf = self.buf.split(b"\n", 1)
            out.append(ln.decode("utf-8", "replace"))
        return out

    def send(self, data):
        self.s.sendall(data)


def test_services_over_tls():
    """upper, exec and discard behave over tls:// as over tcp://."""
    port = free_port()
    with Server("upper", "tls://127.0.0.1:%d" % port, "--frame", "line", *cert_args()):
        check_eq(echo_once(port, b"shout this\n"), b"SHOUT THIS\n", "upper")
    tcp_port = free_port()
    with Server("exec", "tls://127.0.0.1:%d" % port, "tcp://127.0.0.1:%d" % tcp_port,
                "--frame", "line", *cert_args()):
        c = Lines(port)
        c.send(b"echo over tls\n")
        got = c.collect(1)
        c.s.close()
        check(got[:2] == ["over tls", "[exit 0]"], "exec: the output and the exit status: %r" % got)
        plain = socket.create_connection(("127.0.0.1", tcp_port), timeout=t(5))
        plain.sendall(b"echo over tls\n")
        time.sleep(t(1))
        plain.shutdown(socket.SHUT_WR)
        want, _ = recv_until_eof(plain)
        plain.close()
        check_eq("\n".join(got) + "\n", want.decode(), "exec: the same reply as over tcp://")
    with Server("discard", "tls://127.0.0.1:%d" % port, *cert_args()):
        s = tls_sock(port)
        s.sendall(os.urandom(200000))
        s.settimeout(t(0.5))
        try:
            got = s.recv(100)
        except socket.timeout:
            got = None
        check_eq(got, None, "discard: nothing comes back and the connection stays open")
        s.close()


def close_reasons(log):
    return re.findall(r"close fd=\d+ peer=\S+ in=\d+ out=\d+ reason=(.*)", log)


# ---------------------------------------------------------------- verification

def test_verify_default_fails_with_one_line():
    """No --cafile: the system store knows neither the temporary self-signed
    certificate nor the test CA."""
    port, port2 = free_port(), free_port()
    with Server("echo", "tls://127.0.0.1:%d" % port), \
            Server("echo", "tls://127.0.0.1:%d" % port2, *cert_args()):
        url = "tls://127.0.0.1:%d" % port
        r = run_connect([url, "--send", "hi"])
        check_eq(r.returncode, 1, "exit status against a self-signed certificate")
        check_eq(one_line(r.stderr), ["sockit: %s: certificate verify failed: self-signed certificate"
                                      % url], "the one line")
        check_eq(r.stdout, b"", "nothing was sent or printed")
        url2 = "tls://127.0.0.1:%d" % port2
        r = run_connect([url2, "--send", "hi"])
        check_eq(r.returncode, 1, "exit status against a certificate of an unknown CA")
        check_eq(one_line(r.stderr), ["sockit: %s: certificate verify failed: unable to get local "
                                      "issuer certificate" % url2], "the one line")
        r = run_connect([url2, "--cafile", pki().ca_crt, "--send", "hi"])
        check_eq((r.returncode, r.stdout), (0, b"hi"), "--cafile with the test CA: echo")
        check_eq(r.stderr, b"", "no warning when verified")
        r = run_connect(["tls://localhost:%d" % port2, "--cafile", pki().ca_crt, "--send", "hi"])
        check_eq((r.returncode, r.stdout), (0, b"hi"), "tls://localhost: the DNS name checked")
        r = run_connect([url2, "--cafile", pki().otherca_crt, "--send", "hi"])
        check_eq(r.returncode, 1, "--cafile with another CA fails")


def test_verify_servername_expired_wrong_name():
    p = pki()
    good, expired, wrong = free_port(), free_port(), free_port()
    with Server("echo", "tls://127.0.0.1:%d" % good, *cert_args()), \
            Server("echo", "tls://127.0.0.1:%d" % expired, *cert_args(p.expired_crt, p.expired_key)), \
            Server("echo", "tls://127.0.0.1:%d" % wrong, *cert_args(p.wrong_crt, p.wrong_key)):
        ca = ["--cafile", p.ca_crt, "--send", "hi"]
        url = "tls://127.0.0.1:%d" % good
        r = run_connect([url, "--servername", "other.example"] + ca)
        check_eq((r.returncode, one_line(r.stderr)), (1, ["sockit: %s: hostname mismatch" % url]),
                 "--servername other.example")
        r = run_connect([url, "--servername", "localhost"] + ca)
        check_eq((r.returncode, r.stdout), (0, b"hi"), "--servername localhost")
        check("Feb  1 00:00:00 2020" in cert_field(p.expired_crt, "-enddate"),
              "the test made an expired certificate")
        url = "tls://127.0.0.1:%d" % expired
        r = run_connect([url] + ca)
        check_eq((r.returncode, one_line(r.stderr)),
                 (1, ["sockit: %s: certificate verify failed: certificate has expired" % url]),
                 "expired certificate")
        url = "tls://localhost:%d" % wrong
        r = run_connect([url] + ca)
        check_eq((r.returncode, one_line(r.stderr)), (1, ["sockit: %s: hostname mismatch" % url]),
                 "a certificate for wrong.example, reached as localhost")
        r = run_connect([url, "--servername", "wrong.example"] + ca)
        check_eq((r.returncode, r.stdout), (0, b"hi"), "the same one with --servername wrong.example")


def test_verify_ip_literal_against_ip_sans():
    """An IP literal matches an IP SAN only: not a DNS SAN spelling the
    address, not another address."""
    p = pki()
    ipsan, dnsip, wrong = free_port(), free_port(), free_port()
    with Server("echo", "tls://127.0.0.1:%d" % ipsan, *cert_args()), \
            Server("echo", "tls://127.0.0.1:%d" % dnsip, *cert_args(p.dnsip_crt, p.dnsip_key)), \
            Server("echo", "tls://127.0.0.1:%d" % wrong, *cert_args(p.wrong_crt, p.wrong_key)):
        ca = ["--cafile", p.ca_crt, "--send", "hi"]
        r = run_connect(["tls://127.0.0.1:%d" % ipsan] + ca)
        check_eq((r.returncode, r.stdout), (0, b"hi"), "IP:127.0.0.1 in the SANs")
        for port, what in ((dnsip, "only DNS:127.0.0.1"), (wrong, "only IP:192.0.2.77")):
            url = "tls://127.0.0.1:%d" % port
            r = run_connect([url] + ca)
            lines = one_line(r.stderr)
            check(r.returncode == 1 and len(lines) == 1 and "mismatch" in lines[0]
                  and url in lines[0], "%s: refused with one mismatch line (rc %s, %r)"
                  % (what, r.returncode, lines))
        r = run_connect(["tls://localhost:%d" % dnsip] + ca)
        check_eq((r.returncode, r.stdout), (0, b"hi"), "the DNS-only certificate, reached as localhost")
    if not have_ipv6():
        skip("no IPv6 on loopback: the [::1] case")
        return
    port = free_port(v6_too=True)
    with Server("echo", "tls://[::1]:%d" % port, *cert_args()):
        r = run_connect(["tls://[::1]:%d" % port, "--cafile", p.ca_crt, "--send", "hi6"])
        check_eq((r.returncode, r.stdout), (0, b"hi6"), "tls://[::1] against IP:::1")
    with Server("echo", "tls://[::1]:%d" % port, *cert_args(p.server2_crt, p.server2_key)):
        r = run_connect(["tls://[::1]:%d" % port, "--cafile", p.ca_crt, "--send", "hi6"])
        check(r.returncode == 1 and b"mismatch" in r.stderr,
              "tls://[::1] against a certificate without ::1: %r" % r.stderr)


def test_pin_and_insecure():
    port = free_port()
    with Server("echo", "tls://127.0.0.1:%d" % port) as srv:
        url = "tls://127.0.0.1:%d" % port
        fps = re.findall(r"sha256:[0-9a-f]{64}\b", srv.log())
        check(len(set(fps)) == 1, "one fingerprint printed on stderr: %r" % srv.log()[:400])
        fp = fps[0] if fps else "sha256:" + "0" * 64
        r = run_connect([url, "--pin", fp, "--send", "pinned"])
        check_eq((r.returncode, r.stdout, r.stderr), (0, b"pinned", b""), "--pin the printed fingerprint")
        info = run_sockit(["info", url, "--pin", fp, "--json"])
        got = json.loads(info.stdout or b"{}").get("tls", {}).get("fingerprint")
        check_eq(got, fp, "the fingerprint printed is the certificate's")
        wrong = fp[:-1] + ("0" if fp[-1] != "0" else "1")
        r = run_connect([url, "--pin", wrong, "--send", "pinned"])
        lines = one_line(r.stderr)
        check(r.returncode == 1 and len(lines) == 1 and "--pin" in lines[0] and fp in lines[0],
              "a wrong pin: exit 1, one line naming --pin and the real fingerprint (%s, %r)"
              % (r.returncode, lines))
        check_eq(r.stdout, b"", "nothing sent with a wrong pin")
        r = run_connect([url, "--pin", "sha256:abc", "--send", "x"])
        check(r.returncode in (1, 2) and b"--pin" in r.stderr, "a malformed pin is refused: %r"
              % r.stderr)
        for flag in ("-k", "--insecure"):
            r = run_connect([url, flag, "--send", "unverified"])
            check_eq((r.returncode, r.stdout), (0, b"unverified"), "%s: echo" % flag)
            check(b"warning" in r.stderr and b"not verified" in r.stderr,
                  "%s warns on stderr: %r" % (flag, r.stderr))


def test_pem_chain():
    """--cert with leaf + intermediate in one PEM: a client trusting only the
    root verifies it; the leaf alone is not enough."""
    p = pki()
    port = free_port()
    with Server("echo", "tls://127.0.0.1:%d" % port, *cert_args(p.chain_crt, p.leaf_key)):
        r = run_connect(["tls://127.0.0.1:%d" % port, "--cafile", p.ca_crt, "--send", "chained"])
        check_eq((r.returncode, r.stdout), (0, b"chained"), "sockit connect verifies the chain")
        check_eq(echo_once(port), b"ping\n", "a Python client verifies the chain")
    with Server("echo", "tls://127.0.0.1:%d" % port, *cert_args(p.leaf_crt, p.leaf_key)):
        r = run_connect(["tls://127.0.0.1:%d" % port, "--cafile", p.ca_crt, "--send", "chained"])
        check_eq(r.returncode, 1, "the leaf without its intermediate does not verify")


# ---------------------------------------------------------------- mutual TLS

def test_mtls_server_refuses_and_keeps_serving():
    p = pki()
    port = free_port()
    with Server("echo", "tls://127.0.0.1:%d" % port, "-v", "--client-ca", p.ca_crt,
                *cert_args()) as srv:
        url = "tls://127.0.0.1:%d" % port
        base = [url, "--cafile", p.ca_crt, "--send", "hi"]
        good = ["--cert", p.client_crt, "--key", p.client_key]
        r = run_connect(base + good)
        check_eq((r.returncode, r.stdout), (0, b"hi"), "a client certificate of the CA")
        r = run_connect(base)
        check(r.stdout == b"", "no client certificate: no echo (%r)" % r.stdout)
        check(wait_for(lambda: "peer did not return a certificate" in srv.log()),
              "the server logs why (no certificate): %s" % srv.log()[-500:])
        r = run_connect(base + ["--cert", p.otherclient_crt, "--key", p.otherclient_key])
        check(r.stdout == b"", "a certificate of another CA: no echo (%r)" % r.stdout)
        check(wait_for(lambda: re.search(r"reason=TLS failed: certificate verify failed", srv.log())),
              "the server logs why (unknown issuer): %s" % srv.log()[-500:])
        # Python: TLS 1.2 fails in the handshake itself
        ctx = client_ctx(p.ca_crt, tls_max=ssl.TLSVersion.TLSv1_2)
        try:
            tls_sock(port, ctx=ctx).close()
            check(False, "TLS 1.2 without a client certificate completed the handshake")
        except (ssl.SSLError, OSError):
            pass
        r = run_connect(base + good)
        check_eq((r.returncode, r.stdout), (0, b"hi"), "still serving good clients")
        check_eq(echo_once(port, ctx=client_ctx(p.ca_crt, p.client_crt, p.client_key)), b"ping\n",
                 "a Python client with its certificate")


# ---------------------------------------------------------------- ALPN, --tls-min

def info_json(url, *args):
    r = run_sockit(["info", url, "--json"] + list(args))
    try:
        return r.returncode, json.loads(r.stdout or b"{}"), r.stderr
    except ValueError:
        check(False, "info --json is JSON: %r" % r.stdout[:300])
        return r.returncode, {}, r.stderr


def test_alpn_and_tls_min():
    p = pki()
    port = free_port()
    with Server("echo", "tls://127.0.0.1:%d" % port, "-v", "--alpn", "h2,sockit/1",
                "--tls-min", "1.3", *cert_args()) as srv:
        url = "tls://127.0.0.1:%d" % port
        rc, js, err = info_json(url, "--cafile", p.ca_crt, "--alpn", "sockit/1")
        check_eq((rc, js.get("tls", {}).get("alpn")), (0, "sockit/1"), "info --json: ALPN agreed")
        rc, js, err = info_json(url, "--cafile", p.ca_crt, "--alpn", "foo/9,h2")
        check_eq(js.get("tls", {}).get("alpn"), "h2", "the server's pick among the offer")
        rc, js, err = info_json(url, "--cafile", p.ca_crt)
        check_eq((rc, js.get("tls", {}).get("alpn")), (0, ""), "no ALPN offered: none agreed")
        s = tls_sock(port, ctx=client_ctx(p.ca_crt, alpn=["sockit/1"]))
        check_eq(s.selected_alpn_protocol(), "sockit/1", "a Python client gets sockit/1")
        s.sendall(b"alpn\n")
        check_eq(recv_exact(s, 5), b"alpn\n", "and is served")
        s.close()
        rc, js, err = info_json(url, "--cafile", p.ca_crt, "--alpn", "other/2")
        check_eq(rc, 1, "no protocol in common: the handshake fails")
        check(wait_for(lambda: "no application protocol" in srv.log()),
              "the server says why: %s" % srv.log()[-300:])
        ctx = client_ctx(p.ca_crt, tls_max=ssl.TLSVersion.TLSv1_2)
        try:
            tls_sock(port, ctx=ctx).close()
            check(False, "a TLS 1.2 client was accepted under --tls-min 1.3")
        except (ssl.SSLError, OSError):
            pass
        check(wait_for(lambda: "unsupported protocol" in srv.log()),
              "the server logs the refused version: %s" % srv.log()[-300:])
        check_eq(echo_once(port), b"ping\n", "TLS 1.3 clients still served")
    port = free_port()
    with Server("echo", "tls://127.0.0.1:%d" % port, *cert_args()):
        ctx = client_ctx(p.ca_crt, tls_max=ssl.TLSVersion.TLSv1_2)
        s = tls_sock(port, ctx=ctx)
        check_eq(s.version(), "TLSv1.2", "default --tls-min 1.2 accepts TLS 1.2")
        s.close()
    r = run_sockit(["serve", "echo", "tls://127.0.0.1:%d" % port, "--tls-min", "1.1"], timeout=5)
    check(r.returncode in (1, 2) and b"1.2" in r.stderr, "--tls-min 1.1 refused: %r" % r.stderr)


# ---------------------------------------------------------------- SIGHUP

def test_sighup_reload():
    p = pki()
    d = tmpdir()
    crt, key = os.path.join(d, "cur.pem"), os.path.join(d, "cur.key")

    def install(c, k):
        for src, dst in ((c, crt), (k, key)):
            with open(src, "rb") as f, open(dst + ".new", "wb") as g:
                g.write(f.read())
            os.replace(dst + ".new", dst)

    install(p.server_crt, p.server_key)
    port = free_port()
    url = "tls://127.0.0.1:%d" % port
    ca = ["--cafile", p.ca_crt]
    fp1, fp2 = fingerprint(p.server_crt), fingerprint(p.server2_crt)
    with Server("echo", url, "--cert", crt, "--key", key) as srv:
        check_eq(info_json(url, *ca)[1].get("tls", {}).get("fingerprint"), fp1, "first certificate")
        old = tls_sock(port)
        old.sendall(b"before\n")
        check_eq(recv_exact(old, 7), b"before\n", "the old connection works")
        install(p.server2_crt, p.server2_key)
        srv.send_signal(signal.SIGHUP)
        check(wait_for(lambda: "reloaded" in srv.log()), "the reload is logged: %s" % srv.log()[-300:])
        check(fp2 in srv.log(), "the log names the new fingerprint")
        check_eq(info_json(url, *ca)[1].get("tls", {}).get("fingerprint"), fp2,
                 "a new connection sees the new certificate")
        old.sendall(b"after reload\n")
        check_eq(recv_exact(old, 13), b"after reload\n", "the old connection keeps working")
        import hashlib
        check_eq("sha256:" + hashlib.sha256(old.getpeercert(True)).hexdigest(), fp1,
                 "on its old certificate")
        old.close()
        # a broken certificate file, then a key that does not match: the old one stays
        with open(crt, "w") as f:
            f.write("-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n")
        srv.send_signal(signal.SIGHUP)
        check(wait_for(lambda: re.search(r"SIGHUP: .*%s.*old certificate stays" % re.escape(crt),
                                         srv.log())),
              "a broken file: the log names it and says the old stays: %s" % srv.log()[-400:])
        check_eq(info_json(url, *ca)[1].get("tls", {}).get("fingerprint"), fp2,
                 "after a failed reload the previous certificate is served")
        install(p.server_crt, p.server2_key)
        srv.send_signal(signal.SIGHUP)
        check(wait_for(lambda: srv.log().count("old certificate stays") >= 2),
              "a key that does not match: refused too: %s" % srv.log()[-400:])
        check(re.search(r"SIGHUP: .*(key|mismatch).*old certificate stays", srv.log()),
              "and the line says the key is the problem: %s" % srv.log()[-300:])
        check_eq(info_json(url, *ca)[1].get("tls", {}).get("fingerprint"), fp2,
                 "still the previous certificate")
        check_eq(echo_once(port), b"ping\n", "serving throughout")
    port = free_port()
    with Server("echo", "tls://127.0.0.1:%d" % port) as srv:
        fp = re.findall(r"sha256:[0-9a-f]{64}", srv.log())[:1]
        srv.send_signal(signal.SIGHUP)
        check(wait_for(lambda: "no --cert to reload" in srv.log()),
              "temporary certificate: SIGHUP says there is nothing to reload: %s" % srv.log()[-300:])
        got = info_json("tls://127.0.0.1:%d" % port, "-k")[1].get("tls", {}).get("fingerprint")
        check_eq([got], fp, "and keeps the temporary certificate")


# ---------------------------------------------------------------- bad input

def client_hello():
    """The first flight of a real TLS client (a ClientHello record)."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname="localhost")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return out.read()


class GoodClient:
    """A verified client doing handshake + echo in a loop, on a thread."""

    def __init__(self, port):
        self.port, self.ok, self.errors, self.worst = port, 0, [], 0.0
        self.stop = threading.Event()
        self.th = threading.Thread(target=self.run, daemon=True)
        self.th.start()

    def run(self):
        while not self.stop.is_set():
            start = time.monotonic()
            try:
                back = echo_once(self.port, b"good %d\n" % self.ok, timeout=5)
                if back != b"good %d\n" % self.ok:
                    self.errors.append(back)
                self.ok += 1
            except Exception as e:  # noqa: BLE001
                self.errors.append(repr(e))
            self.worst = max(self.worst, time.monotonic() - start)
            time.sleep(0.02)

    def finish(self, min_ok):
        """Stops once it has been served min_ok times (or errs, or 10 s pass)."""
        wait_for(lambda: self.ok >= min_ok or self.errors, 10)
        self.stop.set()
        self.th.join(t(10))
        return self


def closed_within(s, secs):
    """Seconds until the server closes s (EOF or reset), or None."""
    s.settimeout(t(secs))
    start = time.monotonic()
    data, err = recv_until_eof(s, 1 << 20)
    if isinstance(err, socket.timeout):
        return None
    return time.monotonic() - start


def test_bad_input_costs_one_connection():
    port = free_port()
    with Server("echo", "tls://127.0.0.1:%d" % port, "-v", *cert_args()) as srv:
        good = GoodClient(port)
        cases = [
            ("plain text", b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"),
            ("a plain-text echo line", b"hello, is this TLS?\n"),
            ("a ClientHello with a bad session id length",
             (lambda body: b"\x16\x03\x01" + struct.pack(">H", len(body) + 4) + b"\x01"
              + struct.pack(">I", len(body))[1:] + body)(
                 b"\x03\x03" + os.urandom(32) + b"\xff" + os.urandom(60))),
            ("random bytes in a handshake record", b"\x16\x03\x01\x00\x40" + os.urandom(64)),
            ("a huge record length", b"\x16\x03\x01\xff\xff" + os.urandom(100)),
        ]
        for what, data in cases:
            s = socket.create_connection(("127.0.0.1", port), timeout=t(5))
            s.sendall(data)
            took = closed_within(s, 5)
            check(took is not None, "%s: the server closes the connection (handshake timeout is 10 s)"
                  % what)
            s.close()
        good.finish(3)
        check(good.ok >= 3 and not good.errors, "a good client was served meanwhile: %d ok, errors %r"
              % (good.ok, good.errors[:3]))
        log = srv.log()
        failed = re.findall(r"reason=TLS failed: (.*)", log)
        check(len(failed) >= len(cases), "each bad connection logged with its TLS reason: %r" % failed)
        check("timed out" not in log, "none waited for the handshake timeout")


def test_stalled_handshakes_time_out():
    """--handshake-timeout 1: a client that stops mid-handshake, and a flood
    of 200 of them, are closed after about a second; a good client is served
    all along. (The timeout scales with the harness's time, as a handshake
    under ASan or valgrind takes that much longer.)"""
    port = free_port()
    hello = client_hello()
    check(hello[:1] == b"\x16" and len(hello) > 100, "a real ClientHello was made")
    with Server("echo", "tls://127.0.0.1:%d" % port, "-v", "--handshake-timeout", "%g" % t(1),
                *cert_args()) as srv:
        s = socket.create_connection(("127.0.0.1", port), timeout=t(5))
        s.sendall(hello[:20])  # a partial ClientHello, then silence
        took = closed_within(s, 6)
        s.close()
        check(took is not None and 0.7 <= took <= t(3),
              "a stalled handshake is closed after ~1 s (took %s)" % took)
        good = GoodClient(port)
        flood = []
        for i in range(200):
            c = socket.create_connection(("127.0.0.1", port), timeout=t(10))
            c.sendall(hello if i % 2 else hello[:len(hello) // 2])
            flood.append(c)
        start = time.monotonic()
        closed = [closed_within(c, 8) for c in flood]
        elapsed = time.monotonic() - start
        served_during = good.ok
        for c in flood:
            c.close()
        check(all(x is not None for x in closed),
              "all 200 half-handshakes closed (%d still open)" % sum(x is None for x in closed))
        check(elapsed <= t(4), "within the timeout and some slack (%.1f s)" % elapsed)
        good.finish(5)
        check(served_during >= 2 and not good.errors,
              "a good client was served during the flood: %d times, errors %r"
              % (served_during, good.errors[:3]))
        check(good.worst < t(2), "none of its exchanges waited long (worst %.2f s)" % good.worst)
        n = srv.log().count("handshake timed out")
        check(n >= 201, "each stalled connection is logged as 'handshake timed out' (%d)" % n)


# ---------------------------------------------------------------- info

def parse_info_text(out):
    """The `tls` section of `sockit info` as a dict."""
    sec, lines = {}, out.splitlines()
    if "tls" not in lines:
        return sec
    for ln in lines[lines.index("tls") + 1:]:
        if not ln.startswith("  "):
            break
        k, _, v = ln.strip().partition(":")
        sec[k] = v.strip()
    return sec


def test_info_tls_against_the_certificate():
    p = pki()
    port = free_port()
    end = cert_field(p.server_crt, "-enddate").split("=", 1)[1]
    not_after = time.strftime("%Y-%m-%d %H:%M:%S GMT", time.strptime(end, "%b %d %H:%M:%S %Y GMT"))
    want = {"version": "TLSv1.3", "subject": "/CN=localhost", "issuer": "/CN=sockit test CA",
            "names": "DNS:localhost, IP:127.0.0.1, IP:::1", "not after": not_after,
            "fingerprint": fingerprint(p.server_crt)}
    with Server("echo", "tls://127.0.0.1:%d" % port, *cert_args()):
        url = "tls://127.0.0.1:%d" % port
        sc = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % port, "-brief",
                             "-CAfile", p.ca_crt], input=b"", capture_output=True, timeout=t(10))
        cipher = re.search(rb"Ciphersuite: (\S+)", sc.stderr)
        r = run_sockit(["info", url, "--cafile", p.ca_crt])
        check_eq(r.returncode, 0, "info exit status (%r)" % r.stderr)
        out = r.stdout.decode()
        sec = parse_info_text(out)
        for k, v in want.items():
            check_eq(sec.get(k), v, "info text: %s" % k)
        check_eq(sec.get("alpn"), "(none)", "info text: alpn")
        check_eq(sec.get("resumed"), "no", "info text: resumed")
        check_eq(sec.get("cipher"), cipher and cipher.group(1).decode(), "cipher (as s_client saw it)")
        check("url" in out.splitlines() and "hostname" in out, "the host facts and url are there too")
        rc, js, err = info_json(url, "--cafile", p.ca_crt)
        tj = js.get("tls", {})
        check_eq(rc, 0, "info --json exit status")
        for k, v in want.items():
            check_eq(tj.get(k.replace(" ", "_")), v, "info --json: tls.%s" % k.replace(" ", "_"))
        check_eq((tj.get("alpn"), tj.get("resumed"), tj.get("cipher")),
                 ("", False, sec.get("cipher")), "info --json: alpn, resumed, cipher")
        check_eq(js.get("url", {}).get("port"), port, "info --json: url.port")
        check("hostname" in js, "info --json: host facts")
        r = run_sockit(["info", url])
        check_eq((r.returncode, one_line(r.stderr)),
                 (1, ["sockit: %s: certificate verify failed: unable to get local issuer certificate"
                      % url]), "info without --cafile: the verify failure in one line")
        r = run_sockit(["info", url, "-k"])
        check_eq(parse_info_text(r.stdout.decode()).get("fingerprint"), want["fingerprint"],
                 "info -k still shows the certificate")
    port = free_port()
    with Server("echo", "tls://127.0.0.1:%d" % port, *cert_args(p.expired_crt, p.expired_key)):
        url = "tls://127.0.0.1:%d" % port
        r = run_sockit(["info", url, "--cafile", p.ca_crt])
        check_eq((r.returncode, one_line(r.stderr)),
                 (1, ["sockit: %s: certificate verify failed: certificate has expired" % url]),
                 "info against an expired certificate")


def test_bench_over_tls():
    p = pki()
    port = free_port()
    with Server("echo", "tls://127.0.0.1:%d" % port, *cert_args()):
        url = "tls://127.0.0.1:%d" % port
        jf = os.path.join(tmpdir(), "bench.json")
        r = run_sockit(["bench", url, "--cafile", p.ca_crt, "-c", "4", "-n", "400", "--size", "1000",
                        "--verify", "--json", jf], timeout=30)
        check_eq(r.returncode, 0, "bench exit status (%r)" % r.stderr[-300:])
        check(re.search(rb"4 ok, 0 failed", r.stdout) and re.search(rb"400 received, 0 lost", r.stdout),
              "4 connections, 400 verified echoes: %r" % r.stdout[-400:])
        r = run_sockit(["bench", url, "-c", "2", "-n", "10"], timeout=30)
        check(r.returncode == 1 and b"0 ok, 2 failed" in r.stdout,
              "bench without --cafile: both connections fail (%r)" % r.stdout[-300:])
        r = run_sockit(["bench", url, "--cafile", p.ca_crt, "--handshakes", "-c", "2", "-n", "40"],
                       timeout=30)
        check(r.returncode == 0 and b"0 failed" in r.stdout,
              "bench --handshakes: %r" % (r.stdout[-400:] + r.stderr[-200:]))


# ---------------------------------------------------------------- kTLS

def ulp_has_tls():
    try:
        with open("/proc/sys/net/ipv4/tcp_available_ulp") as f:
            return "tls" in f.read().split()
    except OSError:
        return False


def ktls_line(log):
    return [ln for ln in log.splitlines() if "kTLS:" in ln]


def tls_stat():
    """The kernel's kTLS counters (/proc/net/tls_stat), {} without them."""
    try:
        with open("/proc/net/tls_stat") as f:
            return {k: int(v) for k, v in (ln.split() for ln in f if ln.strip())}
    except OSError:
        return {}


def tls_lines(log):
    """-v's per-connection TLS lines: {fd: ktls state}."""
    return [m.groupdict() for m in re.finditer(
        r"tls fd=(?P<fd>\d+) peer=\S+ version=(?P<version>\S+) cipher=(?P<cipher>\S+) ktls=(?P<ktls>.*)",
        log)]


def bio_client(port):
    """A TLS 1.3 client whose records we can spoil: Python's ssl over memory
    BIOs on a raw socket. Returns (raw socket, SSLObject, incoming, outgoing)."""
    ctx = client_ctx(pki().ca_crt)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    raw = socket.create_connection(("127.0.0.1", port), timeout=t(10))
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname="127.0.0.1")
    while True:
        try:
            obj.do_handshake()
            break
        except ssl.SSLWantReadError:
            raw.sendall(out.read())
            data = raw.recv(65536)
            if not data:
                raise ConnectionError("server closed during the handshake")
            inc.write(data)
    raw.sendall(out.read())
    return raw, obj, inc, out


def bio_read_all(raw, obj, inc):
    """Reads until EOF; returns (plain bytes, the SSLError that ended it or None)."""
    got = bytearray()
    while True:
        try:
            data = raw.recv(65536)
        except OSError:
            data = b""
        if data:
            inc.write(data)
        else:
            inc.write_eof()
        try:
            while True:
                b = obj.read(65536)
                if not b:
                    return bytes(got), None
                got.extend(b)
        except ssl.SSLWantReadError:
            if not data:
                return bytes(got), None
        except ssl.SSLError as e:
            return bytes(got), e


def test_ktls_when_the_kernel_has_it():
    """With the kernel's tls module: a TLS 1.3 server connection hands its
    keys to the kernel (-v says ktls=on, /proc/net/tls_stat counts it), and
    everything a peer sees stays the same: 1 MB byte-exact, each of the
    three suites (openssl s_client), close_notify both ways, a spoiled
    record answered with bad_record_mac, and a KeyUpdate either served or
    refused with a reason. io_uring and TLS 1.2 connections say why not."""
    if not ulp_has_tls() and not os.path.exists("/proc/net/tls_stat"):
        skip("/proc/sys/net/ipv4/tcp_available_ulp lacks 'tls' (the kernel's tls module is not "
             "loaded): kernel TLS cannot be used here (tests/vm/run_in_vm.sh runs this in a VM "
             "whose kernel has it)")
        return
    port = free_port()
    with Server("echo", "tls://127.0.0.1:%d" % port, "-v", "--ktls", "auto", *cert_args()) as srv:
        lines = ktls_line(srv.log())
        check(len(lines) == 1 and "not available" not in lines[0],
              "the kTLS line does not claim the module is missing: %r" % lines)
        before = tls_stat()
        n, same = pump_1mb(port)
        check(same, "1 MB echoed with --ktls auto (%d bytes)" % n)
        after = tls_stat()
        check(wait_for(lambda: tls_lines(srv.log())), "a tls line per connection: %r" % srv.log()[-500:])
        check_eq(tls_lines(srv.log())[0]["ktls"], "on", "the connection's keys went to the kernel")
        for k in ("TlsTxSw", "TlsRxSw"):
            check(after.get(k, 0) > before.get(k, 0), "/proc/net/tls_stat %s counted it: %r -> %r"
                  % (k, before.get(k), after.get(k)))
        for suite in ("TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384",
                      "TLS_CHACHA20_POLY1305_SHA256"):
            back, rc, err = converse(["openssl", "s_client", "-connect", "127.0.0.1:%d" % port,
                                      "-tls1_3", "-ciphersuites", suite, "-CAfile", pki().ca_crt,
                                      "-brief"], b"suite check\n" * 3)
            check_eq(back, b"suite check\n" * 3, "%s through the kernel: %r" % (suite, err[-300:]))
        wait_for(lambda: len(tls_lines(srv.log())) >= 5)
        check_eq([ln["ktls"] for ln in tls_lines(srv.log())[1:4]], ["on"] * 3,
                 "each suite's keys went to the kernel")

        # close_notify both ways: ours sent, the server's comes back through the kernel
        s = tls_sock(port)
        s.sendall(b"bye\n")
        check_eq(recv_exact(s, 4), b"bye\n", "echo before close_notify")
        try:
            s.unwrap()
            clean = True
        except (ssl.SSLError, OSError) as e:
            clean = repr(e)
        check_eq(clean, True, "the server answered close_notify with its own (through the kernel)")
        s.close()

        # a spoiled record: the kernel refuses it and fails the socket (reads and
        # writes alike: no alert can follow); the connection ends, saying why
        raw, obj, inc, out = bio_client(port)
        obj.write(b"spoiled\n")
        rec = bytearray(out.read())
        rec[-1] ^= 0x55
        raw.sendall(bytes(rec))
        got, err = bio_read_all(raw, obj, inc)
        raw.close()
        check_eq(got, b"", "the spoiled record was not echoed (%r)" % err)
        check(wait_for(lambda: "reason=TLS failed: bad record MAC" in srv.log()),
              "the server logged why: %r" % close_reasons(srv.log()))
        check_eq(echo_once(port), b"ping\n", "the next client is served")

        # KeyUpdate: the kernel takes new keys (Linux >= 6.14), or sockit says it cannot
        out, err = key_update_dialogue(port, "TLS_AES_128_GCM_SHA256")
        reasons = close_reasons(srv.log())
        refused = any("the kernel cannot change" in r for r in reasons)
        check(b">>> TLS 1.3, Handshake [length 0005], KeyUpdate" in out, "s_client sent a KeyUpdate")
        check(b"before\n" in out and (b"after two\n" in out or
                                      (refused and b"<<< TLS 1.3, Alert [length 0002], fatal "
                                       b"internal_error" in out)),
              "KeyUpdate served, or refused with an alert and the reason: %r %r"
              % (out[-300:], reasons[-3:]))


def test_ktls_line_and_fallback():
    """-v says what kernel TLS does in one line; TLS works with --ktls off
    and auto alike."""
    have = ulp_has_tls()
    for mode, want in (("off", "kTLS: off"),
                       ("auto", "kTLS: not available" if not have else "kTLS:")):
        port = free_port()
        with Server("echo", "tls://127.0.0.1:%d" % port, "-v", "--ktls", mode, *cert_args()) as srv:
            lines = ktls_line(srv.log())
            check(len(lines) == 1 and want in lines[0],
                  "--ktls %s: one line with %r: %r" % (mode, want, lines))
            check(not lines or "user space" in lines[0] or have,
                  "--ktls %s: the line says TLS stays in user space: %r" % (mode, lines))
            data = os.urandom(100000)
            s = tls_sock(port)
            check(pump(s, data) == data, "--ktls %s: 100 KB echoed" % mode)
            s.close()
    # each connection's -v line: on, or off and why
    cases = [((), None, "on" if have else "off (the kernel's tls module is not loaded)"),
             (("--ktls", "off"), None, "off (--ktls off)"),
             ((), client_ctx(pki().ca_crt, tls_max=ssl.TLSVersion.TLSv1_2), "off (TLS 1.2")]
    if not VALGRIND:  # (memcheck cannot run io_uring programs)
        cases.append((("--io", "uring"), None, "off (io_uring reads stay in user space)"))
    for args, ctx, want in cases:
        port = free_port()
        with Server("echo", "tls://127.0.0.1:%d" % port, "-v", *args, *cert_args()) as srv:
            check_eq(echo_once(port, ctx=ctx), b"ping\n", "%r: echoed" % (args,))
            wait_for(lambda: tls_lines(srv.log()))
            lines = tls_lines(srv.log())
            check(len(lines) == 1 and lines[0]["ktls"].startswith(want),
                  "%r: one tls line, ktls=%s...: %r" % (args, want, lines))
    port = free_port()
    with Server("echo", "tls://127.0.0.1:%d" % port, *cert_args()) as srv:
        check_eq(echo_once(port), b"ping\n", "echoed without -v")
        check_eq(ktls_line(srv.log()) + tls_lines(srv.log()), [], "without -v no kTLS line")
    r = run_sockit(["serve", "echo", "tls://127.0.0.1:%d" % port, "--ktls", "always"], timeout=5)
    check_eq(r.returncode, 2, "--ktls always is a usage error (%r)" % r.stderr)


if __name__ == "__main__":
    main()
