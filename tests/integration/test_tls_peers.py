"""test_tls_peers.py — TLS interop with other programs, both directions:
`openssl s_client` (TLS 1.2 and 1.3, byte-exact; TLS 1.3 KeyUpdate both ways
on each suite, with sockit's own records and OpenSSL's), `openssl s_server` (as
the server of `sockit connect`: SNI, --tls-min, a client certificate and the
alerts it sends), socat `OPENSSL:` and `OPENSSL-LISTEN:`, `ncat --ssl` as a
client and as a server. Certificates from the test PKI (tls_pki.py).
openssl, socat and ncat come from scripts/install-deps.sh; a missing one is
a failure."""
import os
import subprocess
import threading
import time

from harness import SOCKIT, Server, check, check_eq, free_port, main, run_connect, t
from test_peers import Peer
from tls_pki import cert_args, pki, need

def run(cmd, input=b"", timeout=20):
    return subprocess.run(cmd, input=input, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=t(timeout))


def have(*tools):
    missing = need(*tools)
    return check(not missing, "not installed: %s (run scripts/install-deps.sh)" % missing)


def converse(cmd, data, timeout=20):
    """Runs a client that streams stdin to the server and the replies to
    stdout: writes data, reads len(data) bytes back, then ends stdin;
    returns (bytes back, exit status, stderr)."""
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    got = bytearray()

    def reader():
        while len(got) < len(data):
            b = p.stdout.read1(65536)
            if not b:
                break
            got.extend(b)

    th = threading.Thread(target=reader, daemon=True)
    th.start()
    try:
        p.stdin.write(data)
        p.stdin.flush()
    except BrokenPipeError:
        pass
    th.join(t(timeout))
    try:
        p.stdin.close()
    except BrokenPipeError:
        pass
    try:
        rc = p.wait(t(10))
    except subprocess.TimeoutExpired:
        p.kill()
        rc = p.wait()
    err = p.stderr.read()
    p.stdout.close()
    p.stderr.close()
    return bytes(got), rc, err


# ---------------------------------------------------------------- openssl

def test_openssl_s_client_tls12_and_tls13():
    if not have("openssl"):
        return
    port = free_port()
    data = os.urandom(200000)
    with Server("echo", "tls://127.0.0.1:%d" % port, *cert_args()):
        for flag, version in (("-tls1_2", "TLSv1.2"), ("-tls1_3", "TLSv1.3")):
            got, rc, err = converse(["openssl", "s_client", "-connect", "127.0.0.1:%d" % port, flag,
                                     "-CAfile", pki().ca_crt, "-verify_return_error",
                                     "-verify_hostname", "localhost", "-brief", "-nocommands"], data)
            check(got == data, "%s: 200 KB echoed byte-exact (%d bytes back)" % (flag, len(got)))
            check_eq(rc, 0, "%s: s_client exit status (%r)" % (flag, err[-300:]))
            check(b"Protocol version: " + version.encode() in err and b"Verification: OK" in err,
                  "%s: s_client says %s, verified: %r" % (flag, version, err[-400:]))


def key_update_dialogue(port, suite):
    """s_client with its commands on: a line "K" sends a KeyUpdate that asks
    the server for one too, "k" one that does not (a command only when it is
    all that one read of stdin brings, so each line waits for the effect of
    the one before). Returns what came back (-msg: with a line per handshake
    message each way)."""
    p = subprocess.Popen(["openssl", "s_client", "-connect", "127.0.0.1:%d" % port, "-tls1_3",
                          "-ciphersuites", suite, "-CAfile", pki().ca_crt, "-brief", "-msg"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out = bytearray()
    th = threading.Thread(target=lambda: [out.extend(b) for b in iter(lambda: p.stdout.read1(4096), b"")],
                          daemon=True)
    th.start()
    sent_ku = b">>> TLS 1.3, Handshake [length 0005], KeyUpdate"
    for line, until in ((b"before\n", lambda: b"before\n" in out),
                        (b"K\n", lambda: out.count(sent_ku) == 1),
                        (b"after one\n", lambda: b"after one\n" in out),
                        (b"k\n", lambda: out.count(sent_ku) == 2),
                        (b"after two\n", lambda: b"after two\n" in out)):
        try:
            p.stdin.write(line)
            p.stdin.flush()
        except BrokenPipeError:  # (s_client is gone: the server ended the connection)
            break
        deadline = time.monotonic() + t(10)
        while not until() and time.monotonic() < deadline and p.poll() is None:
            time.sleep(0.02)
    try:
        p.stdin.close()
    except BrokenPipeError:
        pass
    try:
        p.wait(timeout=t(10))
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
    th.join(t(5))
    err = p.stderr.read()
    p.stdout.close()
    p.stderr.close()
    return bytes(out), err


def test_openssl_s_client_key_update():
    """TLS 1.3 KeyUpdate in both forms, on each of the three suites: a
    sockit server (its own records) answers a requested update and keeps
    echoing under the new keys; the same with OpenSSL's records
    (SOCKIT_TLS_OPENSSL_RECORDS=1)."""
    if not have("openssl"):
        return
    for own in (True, False):
        port = free_port()
        if not own:
            os.environ["SOCKIT_TLS_OPENSSL_RECORDS"] = "1"
        # (--ktls off: where the kernel has kTLS, test_tls.py checks KeyUpdate through it)
        srv = Server("echo", "tls://127.0.0.1:%d" % port, "--ktls", "off", *cert_args())
        try:
            srv.start()
        finally:
            os.environ.pop("SOCKIT_TLS_OPENSSL_RECORDS", None)
        try:
            for suite in ("TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384",
                          "TLS_CHACHA20_POLY1305_SHA256"):
                out, err = key_update_dialogue(port, suite)
                check_eq(out.count(b"before\n") + out.count(b"after one\n") + out.count(b"after two\n"),
                         3, "%s (%s records): all three lines echoed around two KeyUpdates: %r %r"
                         % (suite, "own" if own else "OpenSSL's", out[-200:], err[-300:]))
                check(b"Ciphersuite: " + suite.encode() in err, "%s negotiated: %r" % (suite, err[-300:]))
                check_eq(out.count(b"<<< TLS 1.3, Handshake [length 0005], KeyUpdate"), 1,
                         "%s: the server answered the requested KeyUpdate once" % suite)
        finally:
            srv.stop()


def test_openssl_s_server_with_sockit_connect():
    """s_server -rev reverses each line. Its default certificate is for
    wrong.example; SNI "localhost" switches it to the localhost one, any
    other name is refused with an unrecognized_name alert."""
    if not have("openssl"):
        return
    p = pki()
    port = free_port()
    cmd = ["openssl", "s_server", "-accept", "127.0.0.1:%d" % port, "-rev", "-naccept", "5",
           "-cert", p.wrong_crt, "-key", p.wrong_key, "-servername", "localhost",
           "-cert2", p.server_crt, "-key2", p.server_key, "-servername_fatal"]
    with Peer(cmd, port=port):
        ca = ["--cafile", p.ca_crt, "--frame", "line", "--wait", "1"]
        r = run_connect(["tls://localhost:%d" % port, "--send", "hello s_server"] + ca)
        check_eq((r.returncode, r.stdout), (0, b"revres_s olleh\n"), "tls://localhost (SNI localhost)")
        r = run_connect(["tls://127.0.0.1:%d" % port, "--servername", "localhost",
                         "--send", "via servername"] + ca)
        check_eq((r.returncode, r.stdout), (0, b"emanrevres aiv\n"), "--servername sets SNI")
        r = run_connect(["tls://127.0.0.1:%d" % port, "--send", "no sni"] + ca)
        check(r.returncode == 1 and b"mismatch" in r.stderr,
              "an IP literal sends no SNI, gets the default certificate, refuses it: %r" % r.stderr)
        r = run_connect(["tls://127.0.0.1:%d" % port, "--servername", "other.test",
                         "--send", "x"] + ca)
        lines = r.stderr.decode().strip().splitlines()
        check(r.returncode == 1 and len(lines) == 1 and "unrecognized name" in lines[0],
              "the server's alert is the one line: %r" % lines)
        data = b"".join(b"line %d of a piped stream\n" % i for i in range(500))
        got, rc, err = converse([SOCKIT, "connect", "tls://localhost:%d" % port,
                                 "--cafile", p.ca_crt, "--frame", "line"], data)
        want = b"".join(ln[::-1] + b"\n" for ln in data.split(b"\n")[:-1])
        check(got == want, "500 piped lines reversed (%d of %d bytes)" % (len(got), len(want)))


def test_openssl_s_server_alerts_and_client_cert():
    if not have("openssl"):
        return
    p = pki()
    port = free_port()
    with Peer(["openssl", "s_server", "-accept", "127.0.0.1:%d" % port, "-rev", "-naccept", "3",
               "-cert", p.server_crt, "-key", p.server_key, "-Verify", "1", "-CAfile", p.ca_crt,
               "-verify_return_error"], port=port):
        base = ["tls://127.0.0.1:%d" % port, "--cafile", p.ca_crt, "--frame", "line", "--wait", "1"]
        r = run_connect(base + ["--send", "with cert", "--cert", p.client_crt, "--key", p.client_key])
        check_eq((r.returncode, r.stdout), (0, b"trec htiw\n"), "--cert/--key: a client certificate")
        r = run_connect(base + ["--send", "no cert"])
        lines = r.stderr.decode().strip().splitlines()
        check(r.returncode == 1 and len(lines) == 1 and "certificate required" in lines[0],
              "without one: exit 1, the alert in one line: %r" % lines)
        r = run_connect(base + ["--send", "x", "--cert", p.otherclient_crt, "--key",
                                p.otherclient_key])
        check(r.returncode == 1 and b"alert" in r.stderr,
              "a client certificate of another CA: the alert: %r" % r.stderr)
    port = free_port()
    with Peer(["openssl", "s_server", "-accept", "127.0.0.1:%d" % port, "-rev", "-naccept", "2",
               "-cert", p.server_crt, "-key", p.server_key, "-tls1_2"], port=port):
        base = ["tls://127.0.0.1:%d" % port, "--cafile", p.ca_crt, "--frame", "line", "--wait", "1"]
        r = run_connect(base + ["--send", "tls12"])
        check_eq((r.returncode, r.stdout), (0, b"21slt\n"), "a TLS 1.2-only server")
        r = run_connect(base + ["--send", "x", "--tls-min", "1.3"])
        lines = r.stderr.decode().strip().splitlines()
        check(r.returncode == 1 and len(lines) == 1 and "protocol version" in lines[0],
              "--tls-min 1.3 against it: the alert in one line: %r" % lines)


def test_openssl_s_client_refused_by_tls_min():
    if not have("openssl"):
        return
    port = free_port()
    with Server("echo", "tls://127.0.0.1:%d" % port, "--tls-min", "1.3", *cert_args()):
        base = ["openssl", "s_client", "-connect", "127.0.0.1:%d" % port, "-CAfile", pki().ca_crt,
                "-brief", "-nocommands"]
        got, rc, err = converse(base + ["-tls1_2"], b"refused?\n", timeout=5)
        check(rc != 0 and got == b"", "s_client -tls1_2 is refused (rc %s, got %r)" % (rc, got))
        got, rc, err = converse(base + ["-tls1_3"], b"accepted\n")
        check_eq((rc, got), (0, b"accepted\n"), "s_client -tls1_3 is served")


# ---------------------------------------------------------------- socat, ncat

def test_socat_openssl_client():
    if not have("socat"):
        return
    p = pki()
    port = free_port()
    data = os.urandom(300000)
    with Server("echo", "tls://127.0.0.1:%d" % port, *cert_args()):
        for host in ("127.0.0.1", "localhost"):
            r = run(["socat", "-t", "5", "-", "OPENSSL:%s:%d,cafile=%s" % (host, port, p.ca_crt)],
                    input=data)
            check_eq(r.returncode, 0, "socat to %s: exit status (%r)" % (host, r.stderr[-300:]))
            check(r.stdout == data, "socat to %s: 300 KB byte-exact (%d back)" % (host, len(r.stdout)))
        r = run(["socat", "-", "OPENSSL:127.0.0.1:%d" % port], input=b"x")
        check(r.returncode != 0 and b"verify failed" in r.stderr,
              "socat without the CA refuses our certificate: %r" % r.stderr[-200:])
    with Server("upper", "tls://127.0.0.1:%d" % port, "--frame", "line", *cert_args()):
        r = run(["socat", "-", "OPENSSL:127.0.0.1:%d,cafile=%s" % (port, p.ca_crt)],
                input=b"one\r\ntwo\nthree\n")
        check_eq(r.stdout, b"ONE\nTWO\nTHREE\n", "upper --frame line via socat")


def test_socat_openssl_listen_server():
    if not have("socat"):
        return
    p = pki()
    port = free_port()
    listen = "OPENSSL-LISTEN:%d,bind=127.0.0.1,reuseaddr,fork,cert=%s,key=%s,verify=0" % (
        port, p.server_crt, p.server_key)
    with Peer(["socat", listen, "PIPE"], port=port):
        r = run_connect(["tls://127.0.0.1:%d" % port, "--cafile", p.ca_crt, "--send", "hello socat"])
        check_eq((r.returncode, r.stdout), (0, b"hello socat"), "--send through socat's PIPE")
        data = os.urandom(200000)
        got, rc, err = converse([SOCKIT, "connect",
                                 "tls://127.0.0.1:%d" % port, "--cafile", p.ca_crt], data)
        check(got == data, "200 KB piped through sockit connect, byte-exact (%d back)" % len(got))
        check_eq(rc, 0, "connect exit status (%r)" % err)
    port = free_port()
    listen = "OPENSSL-LISTEN:%d,bind=127.0.0.1,reuseaddr,fork,cert=%s,key=%s,cafile=%s,verify=1" % (
        port, p.server_crt, p.server_key, p.ca_crt)
    with Peer(["socat", listen, "PIPE"], port=port):
        r = run_connect(["tls://127.0.0.1:%d" % port, "--cafile", p.ca_crt, "--send", "mutual",
                         "--cert", p.client_crt, "--key", p.client_key])
        check_eq((r.returncode, r.stdout), (0, b"mutual"), "socat requiring a client certificate")


def test_ncat_ssl_client():
    if not have("ncat"):
        return
    p = pki()
    port = free_port()
    data = os.urandom(150000)
    with Server("echo", "tls://127.0.0.1:%d" % port, *cert_args()):
        # ncat checks names only against DNS names: reach the server as localhost
        r = run(["ncat", "--ssl", "--ssl-verify", "--ssl-trustfile", p.ca_crt, "localhost",
                 str(port)], input=data)
        check_eq(r.returncode, 0, "ncat exit status (%r)" % r.stderr[-300:])
        check(r.stdout == data, "150 KB byte-exact via ncat --ssl (%d back)" % len(r.stdout))
        r = run(["ncat", "--ssl", "--ssl-verify", "localhost", str(port)], input=b"x")
        check(r.returncode != 0 and r.stdout == b"", "ncat --ssl-verify without the CA refuses")
    port = free_port()
    with Server("echo", "tls://127.0.0.1:%d" % port, "--frame", "line"):  # temporary certificate
        r = run(["ncat", "--ssl", "127.0.0.1", str(port)], input=b"a\nb\n")
        check_eq(r.stdout, b"a\nb\n", "ncat --ssl without verification, temporary certificate")


def test_ncat_ssl_server():
    """ncat -l --ssl -e cat; connect's stdin stays open until the echo is
    back (ncat ends the exec at the client's close_notify)."""
    if not have("ncat"):
        return
    p = pki()
    port = free_port()
    with Peer(["ncat", "--ssl", "--ssl-cert", p.server_crt, "--ssl-key", p.server_key, "-l",
               "127.0.0.1", str(port), "-k", "-e", "/bin/cat"], port=port):
        data = b"".join(b"ncat line %d\n" % i for i in range(200))
        got, rc, err = converse([SOCKIT, "connect",
                                 "tls://127.0.0.1:%d" % port, "--cafile", p.ca_crt,
                                 "--frame", "line"], data)
        check_eq(got, data, "200 lines echoed by ncat's cat")
        check_eq(rc, 0, "connect exit status (%r)" % err)
        r = run_connect(["tls://127.0.0.1:%d" % port, "--send", "x"])
        check(r.returncode == 1 and b"certificate verify failed" in r.stderr,
              "connect refuses ncat's certificate without --cafile: %r" % r.stderr)


if __name__ == "__main__":
    main()
