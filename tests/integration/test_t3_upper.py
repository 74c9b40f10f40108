"""test_t3_upper.py — tutorial T3: the uppercase server's connection loop and
communication loop. A REPL-like client sends messages one at a time; when a
client leaves the server must not spin (CPU time measured from /proc); the
next client is served; many concurrent clients are all answered."""
import socket
import struct
import threading
import time

from harness import (Server, check, check_eq, cpu_seconds, free_port, main, recv_exact, t,
                     wait_for)

IDLE_CPU_LIMIT = 0.2  # seconds of CPU allowed during 1 s of idling


def repl_client(port, lines):
    """The T3 client: connect, then for each typed line (empty ones skipped)
    send it and print the reply. Returns the replies."""
    client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    client.settimeout(t(10))
    client.connect(("127.0.0.1", port))
    replies = []
    for line in lines:
        msg = line.strip()
        if not msg:
            continue  # the tutorial REPL skips empty input
        client.send(msg.encode("utf-8"))
        data = recv_exact(client, len(msg.encode("utf-8")))
        replies.append(data.decode("utf-8"))
    return client, replies


def idle_cpu(srv, secs=1.0):
    """CPU seconds the server burns while idle for secs."""
    before = cpu_seconds(srv.pid)
    time.sleep(secs)
    return cpu_seconds(srv.pid) - before


def conn_count_closed(srv, n):
    return srv.log().count(" close fd=") >= n


def test_repl_session_and_next_client():
    port = free_port()
    with Server("upper", "tcp://127.0.0.1:%d" % port, "-v") as srv:
        for round_ in range(3):  # the connection loop: one client after another
            lines = ["hello", "", "how are you?", "   ", "mixed Case 123", "ünïcödé ok"]
            client, replies = repl_client(port, lines)
            check_eq(replies, ["HELLO", "HOW ARE YOU?", "MIXED CASE 123", "üNïCöDé OK"],
                     "round %d replies" % round_)
            client.close()
            wait_for(lambda: conn_count_closed(srv, round_ + 1), 5)
            used = idle_cpu(srv)
            check(used < IDLE_CPU_LIMIT, "round %d: server used %.2fs CPU in 1 s after the "
                  "client left (spinning on an empty read?)" % (round_, used))


def test_client_leaves_abruptly_no_spin():
    """A client that resets (SO_LINGER 0) mid-session."""
    port = free_port()
    with Server("upper", "tcp://127.0.0.1:%d" % port, "-v") as srv:
        client, replies = repl_client(port, ["abc"])
        check_eq(replies, ["ABC"], "reply before reset")
        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        client.close()
        wait_for(lambda: conn_count_closed(srv, 1), 5)
        used = idle_cpu(srv)
        check(used < IDLE_CPU_LIMIT, "server used %.2fs CPU in 1 s after a reset" % used)
        client, replies = repl_client(port, ["still there?"])
        check_eq(replies, ["STILL THERE?"], "next client after a reset")
        client.close()


def test_half_closed_client_that_never_reads_no_spin():
    """A client that half-closes (EOF to the server) but keeps its socket open
    without reading: the server closes its side and must not spin."""
    port = free_port()
    with Server("upper", "tcp://127.0.0.1:%d" % port, "-v") as srv:
        client, replies = repl_client(port, ["x"])
        client.send(b"unread reply")
        client.shutdown(socket.SHUT_WR)
        time.sleep(0.2)
        used = idle_cpu(srv)
        check(used < IDLE_CPU_LIMIT, "server used %.2fs CPU with a half-closed client" % used)
        client.close()
        client, replies = repl_client(port, ["next"])
        check_eq(replies, ["NEXT"], "next client")
        client.close()


def test_idle_connected_client_no_spin():
    port = free_port()
    with Server("upper", "tcp://127.0.0.1:%d" % port) as srv:
        client, _ = repl_client(port, ["warm up"])
        used = idle_cpu(srv)
        check(used < IDLE_CPU_LIMIT, "server used %.2fs CPU with an idle client" % used)
        client.close()


def test_50_concurrent_clients_20_messages():
    port = free_port()
    nclients, nmsgs = 50, 20
    errors = []
    results = {}
    barrier = threading.Barrier(nclients)

    def worker(i):
        try:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.settimeout(t(20))
            s.connect(("127.0.0.1", port))
            barrier.wait(timeout=t(20))  # everyone connected at the same time
            ok = 0
            for j in range(nmsgs):
                msg = ("client %d says hello #%d" % (i, j)).encode()
                s.sendall(msg)
                reply = recv_exact(s, len(msg))
                if reply == msg.upper():
                    ok += 1
                else:
                    errors.append("client %d msg %d: got %r" % (i, j, reply))
            s.close()
            results[i] = ok
        except Exception as e:  # reported below
            errors.append("client %d: %r" % (i, e))

    with Server("upper", "tcp://127.0.0.1:%d" % port) as srv:
        threads = [threading.Thread(target=worker, args=(i,)) for i in range(nclients)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(t(40))
        check(not errors, "%d errors, first: %s" % (len(errors), errors[:3]))
        total = sum(results.values())
        check_eq(total, nclients * nmsgs, "correct replies")
        used = idle_cpu(srv)
        check(used < IDLE_CPU_LIMIT, "server used %.2fs CPU after 50 clients left" % used)


if __name__ == "__main__":
    main()
