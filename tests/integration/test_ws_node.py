"""test_ws_node.py — node's `ws` package (tests/interop/ws_client.js) as a
client of `sockit serve upper ws://...`: text and binary replies, a 300 KB
message, the subprotocol, a normal close (1000).

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

from harness import REPO, Server, check, check_eq, free_port, main, t  # noqa: E402

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


def node_client(url, *msgs, protocol=None):
    env = dict(os.environ, SOCKIT_TIME_SCALE=str(t(1)))
    if protocol:
        env["WS_PROTOCOL"] = protocol
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


if __name__ == "__main__":
    interop_ready()
    main()
