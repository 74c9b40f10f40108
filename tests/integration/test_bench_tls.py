#!/usr/bin/env python3
"""test_bench_tls.py — `sockit bench` over TLS against `sockit serve echo`
with its temporary certificate: tls:// and wss:// traffic verified byte for
byte, --handshakes (a new connection per message) with and without
--resume, a certificate the client does not trust, a server that hangs up
during the handshake, and the usage errors of --handshakes.
Standalone, standard library only (harness.py).
"""
import json
import os
import re
import socket
import threading

from harness import Server, check, check_eq, free_port, main, run_sockit, t, tmpdir

FP_RE = re.compile(r"temporary self-signed certificate (sha256:[0-9a-f]{64})")


def pin_of(srv):
    m = FP_RE.search(srv.log())
    check(m, "serve did not print its certificate's fingerprint: %s" % srv.log()[-500:])
    return m.group(1) if m else "sha256:" + "0" * 64


def bench(args, timeout=60):
    """Runs `sockit bench ARGS --json FILE`; returns (rc, report or None, output)."""
    path = os.path.join(tmpdir(), "bench.json")
    r = run_sockit(["bench"] + args + ["--json", path], timeout=timeout)
    out = (r.stdout + r.stderr).decode("utf-8", "replace")
    try:
        with open(path) as f:
            return r.returncode, json.load(f), out
    except (OSError, ValueError):
        check(False, "no JSON report from bench %s; output:\n%s" % (" ".join(args), out))
        return r.returncode, None, out


def no_errors(rep, out):
    bad = {k: v for k, v in rep["errors"].items() if v}
    return check(not bad, "errors %s; output:\n%s" % (bad, out))


def all_back(rep, out):
    m = rep["messages"]
    check(m["sent"] > 0, "no message sent:\n" + out)
    check_eq(m["received"], m["sent"], "replies")
    check_eq(rep["connections"]["failed"], 0, "failed connections")
    no_errors(rep, out)


def test_tls_verified():
    port = free_port()
    with Server("echo", "tls://127.0.0.1:%d" % port) as srv:
        pin = pin_of(srv)
        for size in ("100", "70000"):  # within one record, and across several
            rc, rep, out = bench(["tls://127.0.0.1:%d" % port, "--pin", pin, "-c", "4",
                                  "-n", "400", "--verify", "--size", size])
            check_eq(rc, 0, "exit status (size %s)" % size)
            if rep:
                check_eq(rep["transport"], "tls", "transport")
                check_eq(rep["handshakes"], None, "handshakes without --handshakes")
                all_back(rep, out)


def test_wss_verified():
    port = free_port()
    with Server("echo", "wss://127.0.0.1:%d/" % port):
        rc, rep, out = bench(["wss://127.0.0.1:%d/" % port, "-k", "-c", "4", "-n", "400",
                              "--verify", "--size", "3000"])
        check_eq(rc, 0, "exit status")
        if rep:
            check_eq(rep["transport"], "wss", "transport")
            all_back(rep, out)


def check_handshakes(rep, out, n):
    hs = rep["handshakes"]
    check_eq(hs["count"], n, "handshakes")
    check(hs["per_sec"] > 0, "handshakes/s %s" % hs["per_sec"])
    check_eq(hs["full"] + hs["resumed"], hs["count"], "full + resumed")
    check_eq(hs["latency_us"]["count"], n, "handshake latencies")
    check_eq(hs["iteration_latency_us"]["count"], n, "iteration latencies")
    check(0 < hs["latency_us"]["p50"] <= hs["iteration_latency_us"]["max"],
          "a handshake is part of its iteration: %s" % hs)
    check_eq(rep["connections"]["ok"], n, "connections (one per handshake)")
    check_eq(rep["messages"]["sent"], n, "messages (one per connection)")
    all_back(rep, out)


def test_handshakes_n():
    port = free_port()
    with Server("echo", "tls://127.0.0.1:%d" % port) as srv:
        rc, rep, out = bench(["tls://127.0.0.1:%d" % port, "--pin", pin_of(srv),
                              "--handshakes", "-n", "200", "--verify", "--size", "300"])
        check_eq(rc, 0, "exit status")
        if rep:
            check_handshakes(rep, out, 200)
            check_eq(rep["handshakes"]["resumed"], 0, "resumed without --resume")
        check("handshakes   200 done" in out, "the human report:\n" + out)


def test_handshakes_resume():
    port = free_port()
    with Server("echo", "tls://127.0.0.1:%d" % port) as srv:
        rc, rep, out = bench(["tls://127.0.0.1:%d" % port, "--pin", pin_of(srv), "--tls-min",
                              "1.3", "--handshakes", "--resume", "-c", "1", "-n", "50"])
        check_eq(rc, 0, "exit status")
        if rep:
            check_handshakes(rep, out, 50)
            hs = rep["handshakes"]
            check(hs["resume"] is True, "resume flag: %s" % hs)
            # one connection at a time: every handshake after the first has a ticket
            check(hs["resumed"] >= 40, "TLS 1.3 tickets resumed: %s\n%s" % (hs, out))


def test_handshakes_wss_and_threads():
    port = free_port()
    with Server("echo", "wss://127.0.0.1:%d/" % port):
        rc, rep, out = bench(["wss://127.0.0.1:%d/" % port, "-k", "--handshakes", "-n", "60",
                              "-c", "6", "--threads", "2", "--verify", "--size", "200"])
        check_eq(rc, 0, "exit status")
        if rep:
            check_handshakes(rep, out, 60)
        rc, rep, out = bench(["wss://127.0.0.1:%d/" % port, "-k", "--handshakes", "-d", "1",
                              "-c", "4"])
        check_eq(rc, 0, "exit status (-d)")
        if rep:
            check(rep["handshakes"]["count"] > 0, "handshakes in 1 s: %s" % rep["handshakes"])
            no_errors(rep, out)


def test_untrusted_certificate():
    port = free_port()
    with Server("echo", "tls://127.0.0.1:%d" % port):
        for extra in (["--handshakes", "-n", "20"], ["-c", "3", "-d", "1"]):
            rc, rep, out = bench(["tls://127.0.0.1:%d" % port] + extra)
            check_eq(rc, 1, "exit status %s" % extra)
            if not rep:
                continue
            want = 20 if "--handshakes" in extra else 3
            check_eq(rep["errors"]["handshake"], want, "handshake errors %s" % extra)
            check_eq(rep["connections"]["failed"], want, "failed connections %s" % extra)
            check_eq(rep["messages"]["sent"], 0, "messages sent %s" % extra)
            check(rep["ok"] is False, "ok in the JSON report")
            check("certificate verify failed" in out, "the reason in the report:\n" + out)
            if "--handshakes" in extra:
                check_eq(rep["handshakes"]["count"], 0, "handshakes")


def hang_up_server():
    """A TCP server that reads the ClientHello and ends the stream with a FIN."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(64)

    def run():
        while True:
            try:
                c, _ = srv.accept()
            except OSError:
                return
            c.settimeout(t(5))
            try:
                c.recv(65536)
                c.shutdown(socket.SHUT_WR)
                c.recv(65536)  # the client's close: no reset
            except OSError:
                pass
            c.close()

    threading.Thread(target=run, daemon=True).start()
    return srv


def test_server_hangs_up_during_handshake():
    """Used to hang the run for good (a connection counted as connecting was
    closed as an established one)."""
    srv = hang_up_server()
    url = "tls://127.0.0.1:%d" % srv.getsockname()[1]
    try:
        for extra in (["-c", "2", "-d", "1"], ["--handshakes", "-n", "5", "-c", "2"]):
            rc, rep, out = bench([url, "-k", "--timeout", "2"] + extra, timeout=30)
            check_eq(rc, 1, "exit status %s" % extra)
            if rep:
                want = 5 if "--handshakes" in extra else 2
                check_eq(rep["errors"]["handshake"], want, "handshake errors %s" % extra)
                check_eq(rep["connections"]["failed"], want, "failed %s" % extra)
    finally:
        srv.close()


def test_handshakes_usage():
    for args in (["tcp://127.0.0.1:9", "--handshakes"], ["ws://127.0.0.1:9/", "--handshakes"],
                 ["tls://127.0.0.1:9", "--handshakes", "--rate", "10"],
                 ["tls://127.0.0.1:9", "--handshakes", "--depth", "4"],
                 ["tls://127.0.0.1:9", "--handshakes", "--ramp"]):
        r = run_sockit(["bench"] + args)
        err = r.stderr.decode()
        check_eq(r.returncode, 2, "exit status of bench %s" % " ".join(args))
        check_eq(len(err.strip().splitlines()), 1, "one line: %r" % err)
        check("--handshakes" in err, "names the option: %r" % err)


if __name__ == "__main__":
    main()
