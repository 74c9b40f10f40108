"""test_ws_node.py — node's `ws` package (tests/interop/ws_client.js) as a
client of `sockit serve upper ws://...`: text and binary replies, a 300 KB
message, the subprotocol, a normal close (1000); permessage-deflate both
ways (node's client and server).

Needs node and tests/interop/node_modules (tests/interop/install.sh). When
they are missing it prints SKIP and passes, unless SOCKIT_REQUIRE_INTEROP is
set (CI sets it after running the installer), where it fails."""
import json
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from harness import REPO, SOCKIT, Server, check, check_eq, free_port, main, t  # noqa: E402

INTEROP = os.path.join(REPO, "tests", "interop")


def interop_ready(modules=("ws",)):
    """True when node and the npm packages are there; otherwise SKIP (exit 0)
    or, with SOCKIT_REQUIRE_INTEROP set, FAIL (exit 1)."""
    missing = [m for m in modules if not os.path.isdir(os.path.join(INTEROP, "node_modules", m))]
    if shutil.which("node") and not missing:
        return True
    why = "node is missing" if not shutil.which("node") else \
        "tests/interop/node_modules lacks %s (run tests/interop/install.sh)" % ", ".join(missing)
    if os.environ.get("SOCKIT_REQUIRE_INTEROP"):
        print("FAIL: %s, and SOCKIT_REQUIRE_INTEROP is set" % why, flush=True)
        sys.exit(1)
    print("SKIP: %s" % why, flush=True)
    sys.exit(0)


def node_client(url, *msgs, protocol=None, deflate=False):
    env = dict(os.environ, SOCKIT_TIME_SCALE=str(t(1)))
    if protocol:
        env["WS_PROTOCOL"] = protocol
    if deflate:
        env["WS_DEFLATE"] = "1"
    r = subprocess.run(["node", os.path.join(INTEROP, "ws_client.js"), url] + list(msgs),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=t(30), env=env)
    lines = [json.loads(ln) for ln in r.stdout.decode().splitlines() if ln.strip()]
    return r, lines


def test_node_ws_client_upper():
    port = free_port()
    url = "ws://127.0.0.1:%d/up" % port
    with Server("upper", url, "--ws-protocol", "shout"):
        r, lines = node_client(url, "hello node", "bin:binary bytes", "after binary",
                               "big:300000", protocol="shout")
        check_eq(r.returncode, 0, "node client exit status (stderr %r)" % r.stderr)
        check_eq(lines[:1], [{"open": True, "protocol": "shout"}], "open with subprotocol")
        check_eq(lines[1:2], [{"type": "text", "data": "HELLO NODE"}], "text reply")
        check_eq(lines[2:3], [{"type": "binary", "data": "BINARY BYTES"}],
                 "binary message gets a binary reply")
        # the peer's last message was binary until this text one arrives
        check_eq(lines[3:4], [{"type": "text", "data": "AFTER BINARY"}], "text after binary")
        check_eq(lines[4:5], [{"type": "text", "data": "len:300000:XXXXXXXX"}], "300 KB reply")
        check_eq(lines[5:], [{"close": 1000}], "normal close code")


def test_node_ws_client_many():
    port = free_port()
    url = "ws://127.0.0.1:%d/" % port
    with Server("upper", url):
        msgs = ["m%d é" % i for i in range(200)]
        r, lines = node_client(url, *msgs)
        check_eq(r.returncode, 0, "exit status (stderr %r)" % r.stderr)
        got = [ln.get("data") for ln in lines if "type" in ln]
        check_eq(got, ["M%d é" % i for i in range(200)], "200 replies in order (ASCII-only upper-casing)")
        check_eq(lines[-1:], [{"close": 1000}], "normal close")


def test_node_ws_permessage_deflate():
    """node's ws compresses every message (threshold 0); sockit inflates,
    upper-cases and compresses back, in both server modes; and sockit
    connect --ws-deflate against a ws server with perMessageDeflate."""
    port = free_port()
    url = "ws://127.0.0.1:%d/" % port
    for mode in ("--ws-deflate", "--ws-deflate=context"):
        with Server("upper", url, mode):
            msgs = ["hi", "bin:" + "binary " * 20, "big:300000"] + ["json %d {\"a\": [1, 2, 3]}" % i for i in range(50)]
            r, lines = node_client(url, *msgs, deflate=True)
            check_eq(r.returncode, 0, "%s: exit status (stderr %r)" % (mode, r.stderr))
            ext = lines[0].get("extensions", {}) if lines else {}
            check("permessage-deflate" in ext, "%s: node agreed permessage-deflate: %r" % (mode, lines[:1]))
            check_eq(lines[1:2], [{"type": "text", "data": "HI"}], mode + ": short text")
            check_eq(lines[2:3], [{"type": "binary", "data": "BINARY " * 20}], mode + ": binary")
            check_eq(lines[3:4], [{"type": "text", "data": "len:300000:XXXXXXXX"}], mode + ": 300 KB")
            got = [ln.get("data") for ln in lines[4:] if "type" in ln]
            check_eq(got, ["JSON %d {\"A\": [1, 2, 3]}" % i for i in range(50)], mode + ": 50 in order")
            check_eq(lines[-1:], [{"close": 1000}], mode + ": normal close")
    proc = subprocess.Popen(["node", os.path.join(INTEROP, "ws_deflate_server.js"), str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        check_eq(proc.stdout.readline().strip(), b"listening", "node server up")
        m = "{\"k\": \"%s\"}" % ("v" * 3000)
        r = subprocess.run([SOCKIT, "connect", url, "--ws-deflate", "--send", m, "--send", "x"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=t(20))
        check_eq(r.stdout.decode().split("\n")[:2], [m, "x"], "connect --ws-deflate vs node ws")
        info = json.loads(proc.stdout.readline())
        check_eq(info["offer"], "permessage-deflate; client_max_window_bits", "sockit's offer")
        check("permessage-deflate" in info["extensions"], "node agreed: %r" % info)
    finally:
        proc.kill()
        proc.wait()


if __name__ == "__main__":
    interop_ready()
    main()
