"""test_chat.py — the chat gateway (tutorial T6): plain Python clients over
TCP and UNIX sockets share one room; join/leave notices, /nick, /who, no
echo to the sender; `--frame line`; a member that never reads is dropped at
--max-queue without slowing the others or growing the server; 5,000
concurrent clients on `serve upper` and 5,000 chat members."""
import multiprocessing
import os
import re
import selectors
import socket
import threading
import time

from harness import (SLOW, LineSock, Server, check, check_eq, free_port, main, recv_exact, t, tmpdir,
                     wait_for)

WELCOME_RE = r"\* welcome (\S+) \((\d+) here; /nick NAME to rename, /who to list\)"


class Member(LineSock):
    """A chat client on a plain socket with a line reader."""

    @classmethod
    def tcp(cls, port):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(t(10))
        s.connect(("127.0.0.1", port))
        return cls(s)

    @classmethod
    def unix(cls, path):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(t(10))
        s.connect(path)
        return cls(s)

    def send(self, text):
        self.s.sendall(text.encode("utf-8") if isinstance(text, str) else text)

    def expect(self, want, what):
        got = self.line()
        if isinstance(want, str):
            return check_eq(got, want, what)
        m = re.fullmatch(want, got or "")
        check(m, "%s: got %r, want /%s/" % (what, got, want.pattern))
        return m

    def close(self):
        self.s.close()


def local_nick(m):
    host, port = m.s.getsockname()[:2]
    return "%s:%d" % (host, port)


def join(port_or_path, others, n_here):
    """Connects a member, checks its welcome and the others' join notices;
    returns (member, nick)."""
    if isinstance(port_or_path, int):
        m = Member.tcp(port_or_path)
    else:
        m = Member.unix(port_or_path)
    w = m.expect(re.compile(WELCOME_RE), "welcome")
    nick = w.group(1) if w else "?"
    if w:
        check_eq(int(w.group(2)), n_here, "members counted in the welcome")
    if isinstance(port_or_path, int):
        check_eq(nick, local_nick(m), "default nick of a TCP member is its address")
    else:
        check(re.fullmatch(r"unix-\d+", nick), "default nick of a UNIX member: %r" % nick)
    for o in others:
        o.expect("* %s joined" % nick, "join notice for %s" % nick)
    return m, nick


def room_scenario(*extra):
    port = free_port()
    path = os.path.join(tmpdir(), "chat.sock")
    with Server("chat", "tcp://127.0.0.1:%d" % port, "unix://" + path, "-v", *extra) as srv:
        a, na = join(port, [], 1)
        b, nb = join(port, [a], 2)
        c, nc = join(port, [a, b], 3)
        u, nu = join(path, [a, b, c], 4)
        everyone = [a, b, c, u]

        # /nick: every member (the renamer too) hears it
        for m, old, new in [(a, na, "alice"), (b, nb, "bob"), (c, nc, "carol"), (u, nu, "uma")]:
            m.send("/nick %s" % new)
            for o in everyone:
                o.expect("* %s is now %s" % (old, new), "rename notice %s" % new)

        # a bad nick is answered to the sender only
        b.send("/nick two words")
        b.expect("* usage: /nick NAME (1-48 visible characters, no spaces)", "bad nick")

        # /who: to the asker only
        a.send("/who")
        who = a.line()
        m = re.fullmatch(r"\* (\d+) here:((?: \S+)+)", who or "")
        if check(m, "/who reply: %r" % who):
            check_eq(int(m.group(1)), 4, "/who count")
            check_eq(sorted(m.group(2).split()), ["alice", "bob", "carol", "uma"], "/who nicks")

        # UNIX -> all TCP members, not back to the sender
        u.send("hello from unix ✓\n")
        for o in (a, b, c):
            o.expect("uma: hello from unix ✓", "unix message at a tcp member")
        # TCP -> the UNIX member and the other TCP members
        a.send("hi from tcp")
        for o in (b, c, u):
            o.expect("alice: hi from tcp", "tcp message")
        # the senders got nothing of their own: the next line each sees is this
        c.send("sync")
        for o in (a, b, u):
            o.expect("carol: sync", "no echo: the next line is carol's sync")

        # leaving
        c.close()
        for o in (a, b, u):
            o.expect("* carol left", "leave notice")
        u.send("/who")
        who = u.line() or ""
        check(who.startswith("* 3 here:") and sorted(who.split()[3:]) == ["alice", "bob", "uma"],
              "/who after carol left: %r" % who)
        b.send("bye")
        for o in (a, u):
            o.expect("bob: bye", "last message")
        for m in (a, b, u):
            m.close()
        check(wait_for(lambda: srv.log().count(" close fd=") >= 4, 5), "4 close lines")
    log = srv.final_log
    check(re.search(r"accept fd=\d+ peer=\S+ on unix://" + re.escape(path), log),
          "unix accept logged:\n" + log)


def test_room_spans_tcp_and_unix_listeners():
    room_scenario()


def test_room_with_4_event_loop_threads():
    """The room spans every event-loop thread too (--threads 4)."""
    room_scenario("--threads", "4")


def test_frame_line_both_ways():
    port = free_port()
    with Server("chat", "tcp://127.0.0.1:%d" % port, "--frame", "line") as srv:
        a, na = join(port, [], 1)
        b, nb = join(port, [a], 2)
        c, nc = join(port, [a, b], 3)
        # three messages in one write are three messages
        a.send("one\ntwo\r\nthree\n")
        for o in (b, c):
            for w in ("one", "two", "three"):
                o.expect("%s: %s" % (na, w), "line-framed message %s" % w)
        # one message in three writes is one message
        for part in ("hel", "lo wo", "rld\n"):
            b.send(part)
            time.sleep(0.05)
        for o in (a, c):
            o.expect("%s: hello world" % nb, "a line split over writes")
        b.send("/nick bee\n/who\n")
        for o in (a, b, c):
            o.expect("* %s is now bee" % nb, "rename in line mode")
        who = b.line() or ""
        check(who.startswith("* 3 here:") and "bee" in who.split(), "/who in line mode: %r" % who)
        c.send("x" * 10000 + "\n")
        for o in (a, b):
            o.expect("%s: %s" % (nc, "x" * 10000), "a 10000-byte line")
        for m in (a, b, c):
            m.close()


# ---------------------------------------------------------------- laggard

def vmrss_kb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def test_laggard_is_dropped_without_slowing_the_others():
    """One member never reads (tiny SO_RCVBUF). Three others exchange 64 KiB
    messages in rounds: each sends one, then waits for the other two's. With
    --max-queue 1M the laggard is dropped with a log line, the others get
    everything in order, and the server's RSS stays small."""
    port = free_port()
    payload = 64 << 10
    rounds = 200 if SLOW else 1000  # 1000 rounds: 390 MB delivered, ~2 s
    rss_limit_kb = (200 if SLOW else 60) << 10
    with Server("chat", "tcp://127.0.0.1:%d" % port, "--frame", "line", "--max-queue", "1M",
                "-v") as srv:
        lag = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        lag.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        lag.connect(("127.0.0.1", port))
        lag_nick = "%s:%d" % lag.getsockname()
        time.sleep(0.1)
        members = []
        for i in range(3):
            m, nick = join(port, [], len(members) + 2)
            m.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
            for o in members:
                o.expect("* %s joined" % nick, "join")
            members.append(m)
        for i, m in enumerate(members):
            m.send("/nick m%d\n" % i)
            for o in members:
                o.line()  # the rename notices

        peak = [0]
        stop = threading.Event()

        def sample():
            while not stop.is_set():
                peak[0] = max(peak[0], vmrss_kb(srv.pid))
                time.sleep(0.02)

        errors = []
        aborted = threading.Event()

        def fail(msg):
            """The first failure stops everyone (their blocked reads end)."""
            if not aborted.is_set():
                errors.append(msg)
                aborted.set()
                for o in members:
                    try:
                        o.s.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass

        rounds_done = [0, 0, 0]
        slowest = [0.0, 0.0, 0.0]  # the longest round each member saw: a stall shows here
        start = time.monotonic()

        def run(i):
            m = members[i]
            others = {"m%d" % j for j in range(3) if j != i}
            r = 0
            try:
                while r < rounds:
                    began = time.monotonic()
                    body = ("r%d " % r).encode() + bytes([97 + i]) * (payload - 8)
                    m.send(body + b"\n")
                    seen = set()
                    while seen != others:
                        line = m.line(timeout=20)
                        if line is None:
                            fail("m%d round %d: EOF/timeout" % (i, r))
                            return
                        if line.startswith("* "):
                            continue  # the laggard's leave notice
                        nick, _, text = line.partition(": ")
                        j = int(nick[1:]) if nick in others else -1
                        want = "r%d %s" % (r, chr(97 + j) * (payload - 8))
                        if j >= 0 and nick in seen and text.startswith("r%d " % (r + 1)):
                            missing = (others - seen).pop()
                            fail("m%d: got %s's round %d message before %s's round %d one, "
                                 "which %s had already received before it sent its own "
                                 "(causal order broken)" % (i, nick, r + 1, missing, r, nick))
                            return
                        if j < 0 or nick in seen or text != want:
                            fail("m%d round %d: unexpected %r" % (i, r, line[:60]))
                            return
                        seen.add(nick)
                    r += 1
                    rounds_done[i] = r
                    slowest[i] = max(slowest[i], time.monotonic() - began)
                    if time.monotonic() - start > t(40):
                        fail("m%d: only %d rounds in %ds" % (i, r, t(40)))
                        return
            except Exception as e:
                fail("m%d: %r" % (i, e))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        threads = [threading.Thread(target=run, args=(i,)) for i in range(3)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(t(60))
        took = time.monotonic() - start
        stop.set()
        sampler.join()
        check(not errors, "errors: %s" % errors[:3])
        print("    %s rounds in %.1fs (%.0f MB delivered, slowest round %.0f ms), server peak "
              "RSS %d MB" % (rounds_done, took, sum(rounds_done) * 2 * payload / 1e6,
                             max(slowest) * 1000, peak[0] >> 10))
        if not errors:  # after a failure the rest would only repeat it
            check_eq(rounds_done, [rounds] * 3, "rounds completed")
            check(max(slowest) < t(1.0), "a round took %.2fs: the laggard slowed the others"
                  % max(slowest))
            check(0 < peak[0] < rss_limit_kb, "server peak RSS %d KB (limit %d KB)"
                  % (peak[0], rss_limit_kb))
            check(wait_for(lambda: re.search(
                r"close fd=\d+ peer=%s in=\d+ out=\d+ reason=output queue limit exceeded"
                % re.escape(lag_nick), srv.log()), 5),
                "laggard dropped with a log line:\n%s" % srv.log()[-2000:])
        lag.close()
        for m in members:
            m.close()


# ---------------------------------------------------------------- 5,000 clients

N_MANY = 500 if SLOW else 5000
N_PROCS = 4


def connect_retry(port, deadline):
    while True:
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=max(1, deadline - time.monotonic()))
            return s
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def upper_worker(port, idx, n, conn, timeout):
    """Connects n clients, reports ready, waits for go, then every client
    sends 3 messages one after another and checks each reply."""
    socks, errors, ok = [], [], 0
    try:
        deadline = time.monotonic() + timeout
        for i in range(n):
            socks.append(connect_retry(port, deadline))
        conn.send(("ready", len(socks)))
        conn.recv()
        for r in range(3):
            msgs = []
            for i, s in enumerate(socks):
                msg = b"worker %d client %d message %d: hello" % (idx, i, r)
                s.sendall(msg)
                msgs.append(msg)
            for i, s in enumerate(socks):
                got = recv_exact(s, len(msgs[i]))
                if got == msgs[i].upper():
                    ok += 1
                elif len(errors) < 5:
                    errors.append("w%d c%d m%d: got %r" % (idx, i, r, got))
    except Exception as e:
        errors.append("worker %d: %r" % (idx, e))
        try:
            conn.send(("ready", len(socks)))
        except Exception:
            pass
    conn.send(("done", ok, errors))
    for s in socks:
        s.close()


def open_fds(pid):
    try:
        return len(os.listdir("/proc/%d/fd" % pid))
    except OSError:
        return -1


def spawn(target, args_of):
    ctx = multiprocessing.get_context("fork")
    procs, pipes = [], []
    for i in range(N_PROCS):
        parent, child = ctx.Pipe()
        p = ctx.Process(target=target, args=args_of(i, child), daemon=True)
        p.start()
        procs.append(p)
        pipes.append(parent)
    return procs, pipes


def recv_pipe(pipe, timeout):
    if pipe.poll(t(timeout)):
        return pipe.recv()
    return ("timeout",)


def test_5000_concurrent_upper_clients():
    port = free_port()
    per = N_MANY // N_PROCS
    with Server("upper", "tcp://127.0.0.1:%d" % port, "--backlog", "4096") as srv:
        start = time.monotonic()
        procs, pipes = spawn(upper_worker, lambda i, c: (port, i, per, c, t(60)))
        ready = [recv_pipe(p, 60) for p in pipes]
        connected = sum(r[1] for r in ready if r[0] == "ready")
        check_eq(connected, per * N_PROCS, "clients connected")
        # the kernel completes handshakes before the server accepts: wait for it
        wait_for(lambda: open_fds(srv.pid) >= per * N_PROCS, 10)
        fds = open_fds(srv.pid)
        check(fds >= per * N_PROCS, "server holds all %d clients at once (%d fds open)"
              % (per * N_PROCS, fds))
        for p in pipes:
            p.send("go")
        done = [recv_pipe(p, 60) for p in pipes]
        ok = sum(d[1] for d in done if d[0] == "done")
        errors = [e for d in done if d[0] == "done" for e in d[2]]
        check(all(d[0] == "done" for d in done), "workers finished: %s" % [d[0] for d in done])
        check(not errors, "errors: %s" % errors[:5])
        check_eq(ok, per * N_PROCS * 3, "correct upper-cased replies")
        for p in procs:
            p.join(t(10))
        print("    %d clients x 3 messages in %.1fs" % (per * N_PROCS, time.monotonic() - start))


def chat_worker(port, idx, n, conn, timeout):
    """Connects n chat members and keeps reading all of them. On ("expect",
    LINE) it counts, per member, how often LINE arrives; reports when every
    member has it (or on ("report",)); closes on ("close",)."""
    sel = selectors.DefaultSelector()
    socks, state, errors = [], {}, []
    needle = [None]
    closed = [0]

    def on_data(s, b):
        st = state[s]
        data = st[0] + b
        if not st[2]:
            st[2] = data.startswith(b"* welcome ")
            if not st[2] and len(data) >= 10:
                errors.append("worker %d: first bytes %r" % (idx, data[:40]))
                st[2] = True
        if needle[0] is not None:
            st[1] += data.count(needle[0])
            keep = len(needle[0]) - 1
        else:
            keep = 300
        st[0] = data[-keep:]

    def drain(timeout):
        for key, _ in sel.select(timeout):
            s = key.fileobj
            try:
                b = s.recv(262144)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                b = b""
            if not b:
                sel.unregister(s)
                closed[0] += 1
                continue
            on_data(s, b)

    def report():
        counts = [state[s][1] for s in socks]
        conn.send(("report", len(socks), counts.count(1), sum(1 for c in counts if c > 1),
                   closed[0], errors))

    try:
        deadline = time.monotonic() + timeout
        for i in range(n):
            s = connect_retry(port, deadline)
            s.setblocking(False)
            socks.append(s)
            state[s] = [b"", 0, False]  # tail, marker count, welcomed
            sel.register(s, selectors.EVENT_READ)
            if i % 20 == 0:
                drain(0)
    except Exception as e:
        errors.append("worker %d connect: %r" % (idx, e))
    # ready once the server has taken every member in (each got its welcome)
    deadline = time.monotonic() + timeout
    while not all(state[s][2] for s in socks) and time.monotonic() < deadline:
        drain(0.05)
    conn.send(("ready", sum(1 for s in socks if state[s][2])))
    reported = False
    while True:
        drain(0.02)
        if needle[0] is not None and not reported and all(state[s][1] >= 1 for s in socks):
            report()
            reported = True
        if conn.poll():
            msg = conn.recv()
            if msg[0] == "expect":
                needle[0] = b"\n" + msg[1] + b"\n"
                for s in socks:
                    state[s][0] = state[s][0][-(len(needle[0]) - 1):]
                conn.send(("armed",))
            elif msg[0] == "report":
                drain(0.2)  # duplicates would arrive right behind the first copy
                report()
            elif msg[0] == "close":
                break
    for s in socks:
        s.close()


def test_5000_chat_members_one_message_reaches_all_others():
    port = free_port()
    n_workers = N_MANY - 1
    share = [n_workers // N_PROCS + (i < n_workers % N_PROCS) for i in range(N_PROCS)]
    with Server("chat", "tcp://127.0.0.1:%d" % port, "--backlog", "4096") as srv:
        start = time.monotonic()
        procs, pipes = spawn(chat_worker, lambda i, c: (port, i, share[i], c, t(60)))
        try:
            ready = [recv_pipe(p, 90) for p in pipes]
            connected = sum(r[1] for r in ready if r[0] == "ready")
            check_eq(connected, n_workers, "members connected and welcomed")
            joined = time.monotonic() - start
            sender = Member.tcp(port)
            w = sender.expect(re.compile(WELCOME_RE), "sender's welcome")
            if w:
                check_eq(int(w.group(2)), n_workers + 1, "members in the room")
            marker = "one message for %d others #%s" % (n_workers, os.urandom(4).hex())
            line = "%s: %s" % (local_nick(sender), marker)
            for p in pipes:
                p.send(("expect", line.encode()))
            check(all(recv_pipe(p, 20)[0] == "armed" for p in pipes), "workers armed")
            t0 = time.monotonic()
            sender.send(marker)
            reports = [recv_pipe(p, 60) for p in pipes]
            spread = time.monotonic() - t0
            for p, r in zip(pipes, reports):  # a second report catches duplicates
                if r[0] == "report":
                    p.send(("report",))
            reports = [recv_pipe(p, 20) for p in pipes]
            got_once = sum(r[2] for r in reports if r[0] == "report")
            dups = sum(r[3] for r in reports if r[0] == "report")
            gone = sum(r[4] for r in reports if r[0] == "report")
            check_eq(got_once, n_workers, "members that received the message exactly once")
            check_eq(dups, 0, "members that received it more than once")
            check_eq(gone, 0, "members disconnected by the server")
            errs = [e for r in reports if r[0] == "report" for e in r[5]]
            check(not errs, "worker errors: %s" % errs[:3])
            # never echoed to the sender
            sender.s.settimeout(0.3)
            try:
                extra = sender.s.recv(65536)
            except socket.timeout:
                extra = b""
            check(marker.encode() not in sender.buf + extra, "the sender got its own message back")
            print("    %d members joined in %.1fs; the message reached them in %.2fs"
                  % (n_workers + 1, joined, spread))
            sender.close()
        finally:
            for p in pipes:
                try:
                    p.send(("close",))
                except OSError:
                    pass
            for p in procs:
                p.join(t(10))
                if p.is_alive():
                    p.kill()


if __name__ == "__main__":
    main()
