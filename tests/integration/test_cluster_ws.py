"""test_cluster_ws.py — the chat cluster with WebSocket members: Python
`websockets` clients reach three `--cluster` nodes through HAProxy in http
mode (`timeout tunnel`), line members reach them through HAProxy in tcp
mode, and every member hears every other in order whichever node it is on.
Needs `websockets` (re-executes under /usr/bin/python3 when the running
python lacks it, like test_ws.py) and haproxy (skipped without it)."""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)
from harness import need_websockets  # noqa: E402

need_websockets(__file__)

import asyncio  # noqa: E402
import shutil  # noqa: E402

import websockets  # noqa: E402,F811

from cluster_help import HAPROXY_GLOBAL, Member, Redis, haproxy, node  # noqa: E402
from harness import check, check_eq, free_port, main, t, tmpdir  # noqa: E402

HAPROXY_CFG = HAPROXY_GLOBAL + """
frontend lines
    mode tcp
    bind 127.0.0.1:%(tcp)d
    default_backend line_nodes
backend line_nodes
    mode tcp
    balance roundrobin
%(tcp_servers)s
frontend web
    mode http
    bind 127.0.0.1:%(web)d
    default_backend ws_nodes
backend ws_nodes
    mode http
    balance roundrobin
%(ws_servers)s
"""

N_MSGS = 50


async def ws_member(port, nick):
    ws = await websockets.connect("ws://127.0.0.1:%d/" % port, open_timeout=t(10),
                                  ping_interval=None, max_queue=None)  # close reads all
    welcome = await asyncio.wait_for(ws.recv(), t(10))
    check(welcome.startswith("* welcome"), "ws welcome: %r" % welcome)
    await ws.send("/nick " + nick)
    while not (await asyncio.wait_for(ws.recv(), t(10))).endswith(" is now " + nick):
        pass
    return ws


async def ws_collect(ws, senders, n):
    """What ws hears from each sender in senders, until n lines of each."""
    got = {s: [] for s in senders}
    while any(len(v) < n for v in got.values()):
        try:
            line = await asyncio.wait_for(ws.recv(), t(10))
        except asyncio.TimeoutError:
            break
        nick, _, text = line.partition(": ")
        if nick in got and text.startswith("m "):
            got[nick].append(int(text[2:]))
    return got


async def scenario(front_tcp, front_web):
    ws = [await ws_member(front_web, "w%d" % i) for i in range(3)]  # one per node
    lines = [Member(front_tcp, "l%d" % i) for i in range(3)]
    lines[0].who(["w0", "w1", "w2", "l0", "l1", "l2"])
    collectors = [asyncio.ensure_future(ws_collect(w, ["l0", "w%d" % ((i + 1) % 3)], N_MSGS))
                  for i, w in enumerate(ws)]
    for i in range(N_MSGS):
        lines[0].send("m %d" % i)
        for w in ws:
            await w.send("m %d" % i)
    results = await asyncio.gather(*collectors)
    for i, got in enumerate(results):
        for sender, seq in got.items():
            check_eq(seq, list(range(N_MSGS)), "w%d heard %s in order, once each" % (i, sender))
    heard = {}
    while len(heard) < 3 or any(len(v) < N_MSGS for v in heard.values()):
        line = lines[1].line(10)
        if line is None:
            break
        nick, _, text = line.partition(": ")
        if nick.startswith("w") and text.startswith("m "):
            heard.setdefault(nick, []).append(int(text[2:]))
    for nick in ("w0", "w1", "w2"):
        check_eq(heard.get(nick), list(range(N_MSGS)), "l1 heard %s in order, once each" % nick)
    for w in ws:
        await w.close()
    for m in lines:
        m.close()


def test_websocket_and_line_members_through_haproxy():
    if not shutil.which("haproxy"):
        print("    haproxy not installed: skipped")
        return
    with Redis() as redis, node(redis, "A", ws=True) as a, node(redis, "B", ws=True) as b, \
            node(redis, "C", ws=True) as c:
        front_tcp, front_web = free_port(udp_too=False), free_port(udp_too=False)
        cfg = HAPROXY_CFG % {
            "tcp": front_tcp, "web": front_web,
            "tcp_servers": "\n".join("    server %s 127.0.0.1:%d" % (n.name, n.port)
                                     for n in (a, b, c)),
            "ws_servers": "\n".join("    server %s 127.0.0.1:%d" % (n.name, n.ws_port)
                                    for n in (a, b, c))}
        hp = haproxy(cfg, front_web, os.path.join(tmpdir(), "haproxy.cfg"))
        try:
            asyncio.run(asyncio.wait_for(scenario(front_tcp, front_web), t(60)))
        finally:
            hp.kill()
            hp.wait()


if __name__ == "__main__":
    main()
