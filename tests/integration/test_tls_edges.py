"""test_tls_edges.py — TLS edges that were wrong in sockit when test_tls.py
was written, one test each (each failed until its fix):

1. a failed server-side handshake sends its alert (refused clients are told
   why; `sockit connect` to an mTLS server without a certificate exits 1);
2. a tls:// client is opened once, after its handshake (greet greets, chat
   welcomes once and counts right);
3. `sockit connect --frame line` ends TLS with close_notify;
4. `sockit connect tls://... < /dev/null` finishes the handshake before it
   half-closes;
5. bench reports why a handshake failed;
6. `sockit connect --io uring tls://...` never sends from an empty queue."""
import socket
import ssl

from harness import Server, check, check_eq, free_port, main, recv_until_eof, run_connect, \
    run_sockit, t, wait_for
from test_tls import Lines, cert_args, close_reasons, one_line, pki, tls_sock
from tls_pki import client_ctx


def test_mtls_refused_client_is_told_why():
    """Was a bug: the server drops the alert OpenSSL queued when a handshake fails
    (src/net/conn.c sk__conn_input finalizes the connection before
    flush_now), so a refused client sees a bare EOF and `sockit connect` even
    exits 0. Expected: exit 1 and one line with the alert, as against
    `openssl s_server -Verify 1` (tlsv13 alert certificate required)."""
    p = pki()
    port = free_port()
    with Server("echo", "tls://127.0.0.1:%d" % port, "--client-ca", p.ca_crt, *cert_args()):
        url = "tls://127.0.0.1:%d" % port
        r = run_connect([url, "--cafile", p.ca_crt, "--send", "hi"])
        lines = one_line(r.stderr)
        check(r.returncode == 1 and len(lines) == 1 and "certificate required" in lines[0],
              "no client certificate: want exit 1 and 'tlsv13 alert certificate required'; "
              "got exit %s, stderr %r" % (r.returncode, lines))
        r = run_connect([url, "--cafile", p.ca_crt, "--send", "hi",
                         "--cert", p.otherclient_crt, "--key", p.otherclient_key])
        lines = one_line(r.stderr)
        check(r.returncode == 1 and len(lines) == 1 and "alert unknown ca" in lines[0],
              "a certificate of another CA: want exit 1 and 'tlsv1 alert unknown ca'; "
              "got exit %s, stderr %r" % (r.returncode, lines))
        ctx = client_ctx(p.ca_crt, tls_max=ssl.TLSVersion.TLSv1_2)
        try:
            tls_sock(port, ctx=ctx).close()
            err = "handshake completed"
        except (ssl.SSLError, OSError) as e:
            err = str(e)
        check("ALERT_HANDSHAKE_FAILURE" in err,
              "Python, TLS 1.2, no certificate: want an alert handshake failure, got %r" % err)


def test_handshake_alerts_reach_the_client():
    """Was a bug (the same cause as above): refusals by --tls-min and --alpn reach the
    client as a bare EOF instead of their alert."""
    port = free_port()
    with Server("echo", "tls://127.0.0.1:%d" % port, "--tls-min", "1.3", "--alpn", "sockit/1",
                *cert_args()):
        cases = [
            (client_ctx(pki().ca_crt, tls_max=ssl.TLSVersion.TLSv1_2), "PROTOCOL_VERSION",
             "TLS 1.2 client vs --tls-min 1.3"),
            (client_ctx(pki().ca_crt, alpn=["other/2"]), "NO_APPLICATION_PROTOCOL",
             "ALPN other/2 vs --alpn sockit/1"),
        ]
        for ctx, want, what in cases:
            try:
                tls_sock(port, ctx=ctx).close()
                err = "handshake completed"
            except (ssl.SSLError, OSError) as e:
                err = str(e)
            check(want in err.upper().replace(" ", "_"), "%s: want an alert %s, got %r" % (what, want, err))
        r = run_connect(["tls://127.0.0.1:%d" % port, "--cafile", pki().ca_crt,
                         "--alpn", "other/2", "--send", "x"])
        check(r.returncode == 1 and b"no application protocol" in r.stderr,
              "sockit connect --alpn other/2: want 'no application protocol', got %r" % r.stderr)


def test_greet_over_tls():
    """Was a bug: `serve greet tls://` never greets: the server opens a tls://
    client at accept, before its handshake (src/services/shard.c
    sk__shard_adopt: `if (!ep->is_ws) open_peer(p)`), so greet closes it
    before the handshake, the handshake bytes are then discarded, and the
    client hangs until the handshake timeout (10 s) ends it. Over tcp://
    and wss:// the greeting arrives."""
    port = free_port()
    with Server("greet", "tls://127.0.0.1:%d" % port, "--handshake-timeout", "3",
                *cert_args()):
        try:
            s = tls_sock(port, timeout=5)
            s.settimeout(t(5))
            got, err = recv_until_eof(s)
            s.close()
        except OSError as e:
            got, err = b"", e
        check_eq(got, b"Thank you for connecting\r\n", "the greeting over TLS (error %r)" % err)


def test_chat_over_tls_joins_once():
    """Was a bug (the same cause as greet): a tls:// chat member is opened twice (at
    accept and after its handshake): two welcomes, the "N here" count rises
    by two and falls by one, and a client whose handshake fails is counted
    too. Expected: as over tcp://, one welcome, counts that match /who."""
    port = free_port()
    with Server("chat", "tls://127.0.0.1:%d" % port, *cert_args()):
        a = Lines(port)
        got = a.collect()
        check_eq(len([ln for ln in got if "welcome" in ln]), 1, "one welcome for a: %r" % got)
        check("(1 here;" in (got[:1] or [""])[0], "a is alone: %r" % got)
        bad = socket.create_connection(("127.0.0.1", port), timeout=t(5))
        bad.sendall(b"not a TLS client\r\n")
        recv_until_eof(bad)
        bad.close()
        b = Lines(port)
        got = b.collect()
        check_eq(len([ln for ln in got if "welcome" in ln]), 1, "one welcome for b: %r" % got)
        check("(2 here;" in (got[:1] or [""])[0], "b's welcome counts two members: %r" % got)
        a.send(b"/who\n")
        who = [ln for ln in a.collect() if " here" in ln]
        check(len(who) == 1 and who[0].startswith("* 2 here:"), "/who says 2 here: %r" % who)
        b.s.close()
        a.collect()
        a.send(b"/who\n")
        who = [ln for ln in a.collect() if " here" in ln]
        check(len(who) == 1 and who[0].startswith("* 1 here:"),
              "after b left, /who says 1 here: %r" % who)
        a.s.close()


def test_connect_ends_with_close_notify():
    """Was a bug: `sockit connect` with a framing (--frame line) ends its TLS
    connection without close_notify once every reply is in (a truncation:
    the server logs "peer closed without close_notify"); raw framing ends
    cleanly. Expected: close_notify in every mode, as raw does."""
    port, lport = free_port(), free_port()
    with Server("echo", "tls://127.0.0.1:%d" % port, "-v", *cert_args()) as raw, \
            Server("echo", "tls://127.0.0.1:%d" % lport, "-v", "--frame", "line",
                   *cert_args()) as lined:
        ca = ["--cafile", pki().ca_crt]
        r = run_connect(["tls://127.0.0.1:%d" % port, "--send", "raw"] + ca)
        check_eq((r.returncode, r.stdout), (0, b"raw"), "raw --send")
        r = run_connect(["tls://127.0.0.1:%d" % lport, "--frame", "line", "--send", "line"] + ca)
        check_eq((r.returncode, r.stdout), (0, b"line\n"), "line --send")
        r = run_connect(["tls://127.0.0.1:%d" % lport, "--frame", "line"] + ca, input="piped\n")
        check_eq((r.returncode, r.stdout), (0, b"piped\n"), "line, piped stdin")
        check(wait_for(lambda: len(close_reasons(raw.log())) >= 1), "raw close logged")
        check_eq(close_reasons(raw.log()), ["done"], "raw: a clean TLS end")
        check(wait_for(lambda: len(close_reasons(lined.log())) >= 2), "line closes logged")
        check_eq(close_reasons(lined.log()), ["done", "done"],
                 "--frame line: clean TLS ends (with close_notify)")


def test_connect_with_empty_stdin():
    """Was a bug: `sockit connect tls://... < /dev/null` half-closes TCP before
    its handshake is done: the server logs "peer closed during the
    handshake" and connect exits 1 with "Broken pipe". Over tcp:// the same
    command exits 0. Expected: the handshake completes, then close_notify,
    exit 0."""
    port, tport = free_port(), free_port()
    with Server("echo", "tls://127.0.0.1:%d" % port, "tcp://127.0.0.1:%d" % tport, "-v",
                *cert_args()) as srv:
        r = run_connect(["tcp://127.0.0.1:%d" % tport, "--wait", "0.3"])
        check_eq((r.returncode, r.stderr), (0, b""), "tcp://, empty stdin")
        r = run_connect(["tls://127.0.0.1:%d" % port, "--wait", "0.3", "--cafile", pki().ca_crt])
        check_eq((r.returncode, r.stderr.decode().strip()), (0, ""), "tls://, empty stdin")
        check(wait_for(lambda: len(close_reasons(srv.log())) >= 2), "both closes logged")
        check_eq(close_reasons(srv.log()), ["done", "done"], "the server saw two clean ends")


def test_bench_says_why_handshakes_fail():
    """Was a bug: bench reports a refused TLS handshake as "handshake failed: N
    (first: TLS failed)" (src/cli/bench_conn.c and bench_report.c print
    sk_strerror(SK_ETLS), not the connection's TLS reason). Expected: the
    reason, as connect prints it ("certificate verify failed: unable to get
    local issuer certificate")."""
    port = free_port()
    with Server("echo", "tls://127.0.0.1:%d" % port, *cert_args()):
        r = run_sockit(["bench", "tls://127.0.0.1:%d" % port, "-c", "2", "-n", "10"], timeout=30)
        out = (r.stdout + r.stderr).decode(errors="replace")
        check_eq(r.returncode, 1, "bench exit status")
        check("certificate verify failed" in out,
              "the report says why the handshakes failed: %r" % out[-300:])



def test_connect_over_uring():
    """Was a bug: `sockit connect --io uring tls://...` (and SOCKIT_IO=uring) fails
    about half the time: "Bad address" (EFAULT from the kernel: a send from
    memory that moved), "Invalid argument", or corrupt records the server
    refuses. The server side on io_uring is fine (test_tls.py). Expected:
    20 runs out of 20 echo."""
    port = free_port()
    with Server("echo", "tls://127.0.0.1:%d" % port, "--io", "epoll", *cert_args()):
        errors = []
        for i in range(20):
            r = run_connect(["tls://127.0.0.1:%d" % port, "--io", "uring", "--cafile", pki().ca_crt,
                             "--send", "uring %d" % i])
            if (r.returncode, r.stdout) != (0, b"uring %d" % i):
                errors.append(r.stderr.decode(errors="replace").strip())
        check(not errors, "%d of 20 runs failed: %r" % (len(errors), sorted(set(errors))))

if __name__ == "__main__":
    main()
