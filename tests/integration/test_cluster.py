"""test_cluster.py — `serve chat --cluster redis://`: three chat nodes sharing
a redis-server of the test's own (free port, no persistence) form one room:
every member's messages reach every member on every node in order, exactly
once; join/leave and /who across nodes; a node killed with SIGKILL leaves
within 15 s; Redis stopped (SIGSTOP: local chat goes on, the queue to Redis
stays bounded) or killed and restarted empty; a node that stops reading is
cut by Redis's pubsub output limit and logs the gap; one member's flood;
members through HAProxy in front of the nodes."""
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time

from cluster_help import HAPROXY_GLOBAL, Member, Redis, haproxy, node
from harness import SLOW, check, check_eq, free_port, main, run_sockit, t, tmpdir, wait_for


def say_through(sender, others, text, timeout=10):
    """sender says text; returns 1 if every other member got it."""
    sender.send(text)
    want = "%s: %s" % (sender.nick, text)
    return all(o.wait(lambda l: l == want, timeout) for o in others)


def delivered_soon(sender, others, timeout):
    """Cross-node delivery works again within timeout: probes until one passes."""
    deadline = time.monotonic() + t(timeout)
    n = 0
    while time.monotonic() < deadline:
        n += 1
        if say_through(sender, others, "probe %d" % n, 1):
            return True
    return False


def test_nick_taken_across_nodes():
    """A nick held on A is refused on B (letters without case) once B heard of
    it (the roster: at once through Redis, at worst one 2 s sweep later), and
    free again when its holder leaves."""
    with Redis() as redis, node(redis, "A") as a, node(redis, "B") as b:
        a1, b1 = Member(a.port, "alice"), Member(b.port, "bob")
        time.sleep(t(2.5))  # one presence sweep: B knows alice even if the join was missed
        b1.send("/nick ALICE")
        check(b1.wait(lambda l: "ALICE" in l), "B answered /nick ALICE")
        check_eq(b1.seen[-1], "* ALICE is taken", "alice (on A) refused on B")
        a2 = Member(a.port)
        a2.send("/nick Bob")
        check(a2.wait(lambda l: "Bob" in l), "A answered /nick Bob")
        check_eq(a2.seen[-1], "* Bob is taken", "bob (on B) refused on A")
        a1.close()
        check(b1.wait(lambda l: l == "* alice left"), "alice's leave reached B")
        b1.send("/nick ALICE")
        check(b1.wait(lambda l: l == "* bob is now ALICE"), "alice free again after she left")
        b1.nick = "ALICE"
        check(say_through(b1, [a2], "it is me now"), "the new ALICE is heard on A")
        a2.close()
        b1.close()


def test_nick_taken_on_two_nodes_at_once_is_logged():
    """The race the roster leaves open: with Redis paused (under the 5 s
    outage limit) A and B each let "zed" be taken; once Redis answers again
    both keep it, /who shows it twice and both nodes log the clash."""
    with Redis() as redis, node(redis, "A") as a, node(redis, "B") as b:
        a1, b1 = Member(a.port, "a1"), Member(b.port, "b1")
        a1.who(["a1", "b1"])
        redis.kill(signal.SIGSTOP)
        try:
            a1.send("/nick zed")
            b1.send("/nick Zed")
            check(a1.wait(lambda l: l == "* a1 is now zed"), "A let a1 take zed")
            check(b1.wait(lambda l: l == "* b1 is now Zed"), "B let b1 take Zed")
        finally:
            redis.kill(signal.SIGCONT)
        a1.who(["zed", "Zed"])
        for n in (a, b):
            check(wait_for(lambda: re.search(r"nick [zZ]ed is held here and on node [AB]", n.log()),
                           t(5)), "node %s logs the clash; log:\n%s" % (n.name, n.log()))
        a1.close()
        b1.close()


def test_default_nick_and_welcome_count_span_nodes():
    """A newcomer whose address is already some other node's member's nick
    gets ADDRESS~ID; the welcome counts every live node's members."""
    with Redis() as redis, node(redis, "A") as a, node(redis, "B") as b:
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        addr = "127.0.0.1:%d" % s.getsockname()[1]
        a1, a2 = Member(a.port, addr), Member(a.port, "a2")
        b1 = Member(b.port, "b1")
        b1.who([addr, "a2", "b1"])  # B knows A's members
        s.settimeout(t(10))
        s.connect(("127.0.0.1", b.port))
        b2 = Member(b.port, sock=s)
        m = re.fullmatch(r"\* welcome (\S+) \((\d+) here;.*", b2.welcome)
        check(m, "welcome: %r" % b2.welcome)
        check(re.fullmatch(re.escape(addr) + r"~\d+", m.group(1)),
              "newcomer on B not named %s like A's member: %r" % (addr, m.group(1)))
        check_eq(m.group(2), "4", "welcome counts A's 2 members, B's and the newcomer")
        for x in (a1, a2, b1, b2):
            x.close()


def test_bad_flags():
    for args, why in [(["chat", "--cluster", "http://x:1"], "not redis://"),
                      (["chat", "--cluster", "redis://127.0.0.1:99999"], "bad port"),
                      (["chat", "--cluster", "redis://no-such-host.invalid:6379"], "unresolvable"),
                      (["echo", "--cluster", "redis://127.0.0.1:6379"], "not chat"),
                      (["chat", "--node", "a"], "--node without --cluster"),
                      (["chat", "--cluster", "redis://127.0.0.1:6379", "--node", "a/b"], "bad node")]:
        r = run_sockit(["serve"] + args + ["tcp://127.0.0.1:%d" % free_port()])
        check_eq(r.returncode, 2, "exit status for %s" % why)
        check_eq(len(r.stderr.decode().strip().splitlines()), 1, "one line on stderr for %s" % why)


def three_nodes(redis):
    return [node(redis, n) for n in ("A", "B", "C")]


def test_order_exactly_once_join_leave_who():
    n_msgs = 100 if SLOW else 400
    with Redis() as redis, node(redis, "A", "--threads", "2") as a, node(redis, "B") as b, \
            node(redis, "C") as c:
        ms = [Member(a.port, "a1"), Member(a.port, "a2"), Member(b.port, "b1"),
              Member(c.port, "c1"), Member(c.port, "c2")]
        # joins crossed nodes: the first member saw every later one arrive
        ms[0].who([m.nick for m in ms])
        got = {m.nick: {} for m in ms}

        def reader(m):
            want = n_msgs * (len(ms) - 1)
            n = 0
            while n < want:
                line = m.line(20)
                if line is None:
                    return
                mm = re.fullmatch(r"(\w+): m (\d+)", line)
                if mm:
                    got[m.nick].setdefault(mm.group(1), []).append(int(mm.group(2)))
                    n += 1

        readers = [threading.Thread(target=reader, args=(m,)) for m in ms]
        for r in readers:
            r.start()
        for i in range(n_msgs):  # interleaved senders on all nodes
            for m in ms:
                m.send("m %d" % i)
        for r in readers:
            r.join(t(60))
        for m in ms:
            check(m.nick not in got[m.nick], "%s got its own messages back" % m.nick)
            for o in ms:
                if o is not m:
                    check_eq(got[m.nick].get(o.nick), list(range(n_msgs)),
                             "what %s got from %s (in order, once each)" % (m.nick, o.nick))
        # a leave on C is announced on A and B
        ms[4].close()
        for m in ms[:3]:
            check(m.wait(lambda l: l == "* c2 left"), "c2's leave reached %s" % m.nick)
        ms[0].who(["a1", "a2", "b1", "c1"])
        for m in ms[:4]:
            m.close()


def test_workers_are_nodes():
    """--workers 2: each worker process is a node of its own (NAME-w0,
    NAME-w1); members spread over them by SO_REUSEPORT form one room."""
    with Redis() as redis, node(redis, "W", "--workers", "2", "--threads", "1") as w:
        check(wait_for(lambda: "node W-w0" in w.log() and "node W-w1" in w.log(), t(10)),
              "both workers joined the room; log:\n" + w.log())
        ms = [Member(w.port, "m%d" % i) for i in range(16)]  # all on one worker: p = 2^-15
        ms[0].who(["m%d" % i for i in range(16)])
        fields = subprocess.run(["redis-cli", "-p", str(redis.port), "HKEYS", "sockit:chat:members"],
                                capture_output=True, text=True).stdout
        check("W-w0/" in fields and "W-w1/" in fields, "members on both workers: %r" % fields)
        check(say_through(ms[0], ms[1:], "to every worker"), "everyone hears m0")
        for m in ms:
            m.close()


def test_node_sigkill_leaves():
    with Redis() as redis, node(redis, "A") as a, node(redis, "B") as b:
        c = node(redis, "C").start()
        a1, b1, c1 = Member(a.port, "a1"), Member(b.port, "b1"), Member(c.port, "c1")
        a1.who(["a1", "b1", "c1"])
        start = time.monotonic()
        c.proc.kill()
        c.proc.wait()
        for m in (a1, b1):
            check(m.wait(lambda l: l == "* c1 left", 15), "C's member announced as left on " + m.nick)
        took = time.monotonic() - start
        print("    C's member was announced as left %.1f s after SIGKILL" % took)
        check(took < t(15), "C dropped out after %.1f s (limit 15)" % took)
        a1.who(["a1", "b1"], 5)
        check("node C is gone" in a.log(), "A logs that C is gone")
        c._logf.close()


def test_redis_stopped_then_back():
    with Redis() as redis, node(redis, "A") as a, node(redis, "B") as b:
        a1, a2, b1 = Member(a.port, "a1"), Member(a.port, "a2"), Member(b.port, "b1")
        a1.who(["a1", "a2", "b1"])
        redis.kill(signal.SIGSTOP)
        try:
            time.sleep(1)
            # local chat goes on while Redis does not answer
            check(say_through(a1, [a2], "local while redis is stopped", 5), "local delivery")
            check(wait_for(lambda: "unreachable" in a.log(), t(12)), "A logs that redis is gone")
        finally:
            redis.kill(signal.SIGCONT)
        check(delivered_soon(a1, [a2, b1], 15), "cross-node delivery resumed after SIGCONT")
        check(wait_for(lambda: "back after" in a.log(), t(5)), "A logs the recovery")
        check_eq(a.log().count("unreachable"), 1, "one log line for the outage")
        for m in (a1, a2, b1):
            m.close()


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))


def test_stalled_redis_bounds_the_queue():
    """Redis stops reading while a member floods: the node's queue to Redis
    stops at its bound (messages dropped, counted, logged), memory stays
    flat, and local chat goes on."""
    with Redis() as redis, node(redis, "A") as a, node(redis, "B") as b:
        a1, a2, b1 = Member(a.port, "a1"), Member(a.port, "a2"), Member(b.port, "b1")
        a1.who(["a1", "a2", "b1"])
        a2.close()  # a2 would be dropped at --max-queue for not reading the flood
        before = rss_kb(a.pid)
        redis.kill(signal.SIGSTOP)
        try:
            pad = b"y" * 300
            a1.s.sendall(b"".join(b"flood %d %s\n" % (i, pad) for i in range(60000)))  # 18 MB
            check(wait_for(lambda: "redis is behind" in a.log(), t(4)),
                  "A logs that messages to the cluster are dropped; log:\n" + a.log()[-1500:])
            grown = rss_kb(a.pid) - before
            print("    A grew by %d KiB while 18 MB waited for a stopped Redis" % grown)
            if not SLOW:  # ASan's quarantine keeps freed memory resident
                check(grown < 32 * 1024, "A grew by %d KiB while Redis was stopped" % grown)
            a3 = Member(a.port, "a3")  # local chat goes on
            check(say_through(a1, [a3], "still serving", 20), "A's members still hear each other")
            a3.close()
        finally:
            redis.kill(signal.SIGCONT)
        check(delivered_soon(a1, [b1], 15), "cross-node delivery resumes")
        check(a.log().count("redis is behind") <= 3, "drop lines are rate-limited")


def test_redis_restarted_empty():
    with Redis() as redis, node(redis, "A") as a, node(redis, "B") as b, node(redis, "C") as c:
        ms = [Member(a.port, "a1"), Member(b.port, "b1"), Member(c.port, "c1")]
        b2 = Member(b.port, "b2")
        ms[0].who(["a1", "b1", "c1", "b2"])
        redis.kill()
        check(say_through(ms[1], [b2], "said while redis is away"), "local chat without redis")
        b2.close()
        time.sleep(1)
        redis.start()  # same port, empty
        back = time.monotonic()
        check(delivered_soon(ms[0], ms[1:], 10), "cross-node delivery within 10 s of restart; "
              "logs:\n" + "\n".join(n.log()[-800:] for n in (a, b, c)) +
              "\nlast lines: %r" % [getattr(m, "seen", None) for m in ms])
        check(ms[0].wait(lambda l: "said while redis is away" in l, 0.5) is None,
              "what was said during the outage is not replayed")
        ms[2].who(["a1", "b1", "c1"], max(1, 15 - (time.monotonic() - back)))
        for m in ms:
            m.close()


def test_slow_node_cut_by_redis():
    with Redis("--client-output-buffer-limit", "pubsub 64kb 0 0") as redis, \
            node(redis, "A") as a, node(redis, "B") as b:
        a1, b1 = Member(a.port, "a1"), Member(b.port, "b1")
        a1.who(["a1", "b1"])
        b.send_signal(signal.SIGSTOP)  # B stops reading from Redis
        try:
            # more than the kernel's socket buffers hold, so Redis's own
            # output buffer for B passes the 64 KiB limit
            pad = "x" * 300
            a1.s.sendall(b"".join(b"flood %d %s\n" % (i, pad.encode()) for i in range(40000)))
            time.sleep(2)
        finally:
            b.send_signal(signal.SIGCONT)
        check(wait_for(lambda: "unreachable" in b.log(), t(10)), "B notices it was cut")
        check(delivered_soon(a1, [b1], 15), "B receives again after reconnecting")
        check(wait_for(lambda: re.search(r"\d+ message\(s\) from node A lost", b.log()), t(5)),
              "B logs the gap; log:\n" + b.log()[-2000:])
        print("    " + b.log().replace("\n", "\n    ")[-600:])
        a1.close()
        b1.close()


def test_flood_from_one_member():
    n = 3000 if SLOW else 20000
    with Redis() as redis, node(redis, "A") as a, node(redis, "B") as b:
        a1, b1, b2 = Member(a.port, "a1"), Member(b.port, "b1"), Member(b.port, "b2")
        b2.who(["a1", "b1", "b2"])
        seen = {"b1": [], "b2": []}

        def reader(m):
            while len(seen[m.nick]) < n:
                line = m.line(20)
                if line is None:
                    return
                if line.startswith("a1: f "):
                    seen[m.nick].append(int(line[6:]))

        rs = [threading.Thread(target=reader, args=(m,)) for m in (b1, b2)]
        for r in rs:
            r.start()
        a1.s.sendall(b"".join(b"f %d\n" % i for i in range(n)))
        for r in rs:
            r.join(t(60))
        for k, v in seen.items():
            check_eq(v == list(range(n)), True, "%s got all %d in order (got %d)" % (k, n, len(v)))
        check(say_through(b1, [a1, b2], "still alive"), "the room works after the flood")


def test_hostile_publisher_and_twin_names():
    """Anyone who can PUBLISH on the channel: junk is logged (rate-limited)
    and ignored; a forged message larger than the largest one cuts the link
    before hiredis reads more of it (it has no limit of its own), and the node
    reconnects; two nodes with one name are told so."""
    with Redis() as redis, node(redis, "A") as a, node(redis, "B") as b:
        a1, b1 = Member(a.port, "a1"), Member(b.port, "b1")
        a1.who(["a1", "b1"])
        for junk in [b"hello", b"SKC1", b"SKC1B\xff" + b"x" * 40, b"SKC1Z\x01A" + b"\0" * 17,
                     b"SKC1B\x01Z" + b"\0" * 16 + b"\x41" + b"short"]:
            check_eq(redis.cmd("PUBLISH", "sockit:chat", junk), b":2", "junk reaches both nodes")
        big = b"SKC1B\x01Z" + b"\0" * 17 + b"x" * (2 << 20)
        check_eq(redis.cmd("PUBLISH", "sockit:chat", big), b":2", "a 2 MiB message reaches both")
        check(wait_for(lambda: "malformed message" in a.log(), t(5)), "A logs the junk")
        check_eq(a.log().count("malformed message"), 1, "one line for a burst of junk")
        check(wait_for(lambda: "a reply larger than the largest message" in a.log(), t(5)),
              "A says why it cut its link: %r" % a.log()[-400:])
        check(delivered_soon(a1, [b1], 10), "the room works again after the reconnect")
        check(a1.wait(lambda l: "x" * 100 in l, 0.5) is None, "the forged message is not shown")
        with node(redis, "A") as twin:
            t1 = Member(twin.port, "t1")
            check(wait_for(lambda: "also calls itself A" in a.log() + twin.log(), t(10)),
                  "a node named like another says so")
            t1.close()
        a1.close()
        b1.close()


def test_large_members_hash_read_in_pages():
    """The presence sweep pages through a members hash of 4,000 fields with
    HSCAN (one HGETALL reply held the whole hash): a live node's 1,000
    members all count in /who, a dead node's 3,000 fields are deleted."""
    with Redis() as redis:
        live = []
        for i in range(1000):
            live += ["fake/%d" % i, "f%d" % i]
        dead = []
        for i in range(3000):
            dead += ["ghost/%d" % i, "g%d" % i]
        check_eq(redis.cmd("HSET", "sockit:chat:members", *live), b":1000", "live fields set")
        check_eq(redis.cmd("HSET", "sockit:chat:members", *dead), b":3000", "dead fields set")
        check_eq(redis.cmd("SET", "sockit:chat:alive:fake", "x", "EX", "600"), b"+OK", "alive")
        with node(redis, "A") as a:
            a1 = Member(a.port, "a1")
            got = None
            deadline = time.monotonic() + t(10)
            while time.monotonic() < deadline and not got:
                a1.send("/who")
                line = a1.wait(lambda l: re.match(r"\* \d+ here:", l), 5)
                got = line if line and line.startswith("* 1001 here:") else None
                time.sleep(0.3)
            check(got is not None, "/who counts the live node's 1,000 members: %r" % line)
            check(got and "(and " in got, "the list is cut to fit: %r" % (got or "")[-80:])
            check(wait_for(lambda: redis.cmd("HLEN", "sockit:chat:members") == b":1001", t(20)),
                  "the dead node's fields are deleted: HLEN %r"
                  % redis.cmd("HLEN", "sockit:chat:members"))
            check(a1.wait(lambda l: l.startswith("* g"), 0.5) is None, "no ghost announced")
            a1.close()


HAPROXY_CFG = HAPROXY_GLOBAL + """
frontend lines
    mode tcp
    bind 127.0.0.1:%(tcp)d
    default_backend nodes
backend nodes
    mode tcp
    balance roundrobin
%(servers)s
"""


def test_through_haproxy():
    if not shutil.which("haproxy"):
        print("    haproxy not installed: skipped")
        return
    with Redis() as redis, node(redis, "A") as a, node(redis, "B") as b, node(redis, "C") as c:
        front = free_port(udp_too=False)
        servers = "\n".join("    server %s 127.0.0.1:%d" % (n.name, n.port) for n in (a, b, c))
        hp = haproxy(HAPROXY_CFG % {"tcp": front, "servers": servers}, front,
                     os.path.join(tmpdir(), "haproxy.cfg"))
        try:
            ms = [Member(front, "h%d" % i) for i in range(3)]  # round robin: one per node
            ms[0].who(["h0", "h1", "h2"])
            for m in ms:
                check(say_through(m, [o for o in ms if o is not m], "via haproxy"),
                      "%s reaches the others through haproxy" % m.nick)
            for m in ms:
                m.close()
        finally:
            hp.kill()
            hp.wait()


if __name__ == "__main__":
    main()
