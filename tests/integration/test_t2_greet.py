"""test_t2_greet.py — tutorial T2: the greeting server accepts clients in a
loop; each gets exactly `Thank you for connecting\r\n` and then EOF."""
import socket
import threading
import time

from harness import Server, check, check_eq, free_port, main, recv_until_eof, t, wait_for

GREETING = b"Thank you for connecting\r\n"


def t2_client(port):
    """The T2 client: connect, print what it receives, close."""
    client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    client.settimeout(t(10))
    client.connect(("127.0.0.1", port))
    data, err = recv_until_eof(client)
    client.close()
    return data, err


def test_20_clients_in_a_loop():
    port = free_port()
    with Server("greet", "tcp://127.0.0.1:%d" % port, "-v") as srv:
        for i in range(20):
            data, err = t2_client(port)
            check(data == GREETING and err is None,
                  "client %d: got %r, error %r (want the greeting then EOF)" % (i, data, err))
        wait_for(lambda: srv.log().count(" close fd=") >= 20, 5)
        log = srv.log()
    check_eq(log.count(" accept fd="), 20, "accept lines in the -v log")
    check_eq(log.count(" close fd="), 20, "close lines in the -v log")


def test_20_clients_at_once():
    port = free_port()
    results = [None] * 20

    def worker(i):
        try:
            results[i] = t2_client(port)
        except OSError as e:
            results[i] = (b"", e)

    with Server("greet", "tcp://127.0.0.1:%d" % port):
        threads = [threading.Thread(target=worker, args=(i,)) for i in range(20)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(t(20))
    for i, r in enumerate(results):
        check(r is not None and r[0] == GREETING and r[1] is None,
              "concurrent client %d: %r" % (i, r))


def test_greeting_byte_by_byte_reader():
    """A client that reads one byte at a time still sees exactly the greeting."""
    port = free_port()
    with Server("greet", "tcp://127.0.0.1:%d" % port):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(t(10))
        s.connect(("127.0.0.1", port))
        got = b""
        while True:
            b = s.recv(1)
            if not b:
                break
            got += b
        s.close()
        check_eq(got, GREETING, "greeting read byte by byte")


def test_client_that_speaks_first_gets_whole_greeting_then_eof():
    """A client that sends something before reading (a chatty or HTTP-like
    client) must still get the whole greeting and a clean EOF: closing with
    the client's bytes unread must not turn into a reset that throws away
    the queued greeting (lingering close)."""
    port = free_port()
    big = "Welcome! " * 10000 + "\n"  # 90 KB: more than the client's buffer
    for text, args in ((GREETING, []), (big.encode(), ["--text", big])):
        with Server("greet", "tcp://127.0.0.1:%d" % port, *args):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
            s.settimeout(t(10))
            s.connect(("127.0.0.1", port))
            s.sendall(b"hello server\n")
            time.sleep(0.3)  # the server has greeted and closed by now
            data, err = recv_until_eof(s)
            s.close()
            check(data == text and err is None,
                  "%d-byte greeting to a client that spoke first: got %d bytes, error %r "
                  "(want the whole greeting then EOF)" % (len(text), len(data), err))


def test_greet_then_more_clients_after_idle():
    port = free_port()
    with Server("greet", "tcp://127.0.0.1:%d" % port):
        check_eq(t2_client(port)[0], GREETING, "first client")
        # a client that connects and never reads does not block the next ones
        lazy = socket.create_connection(("127.0.0.1", port), timeout=t(10))
        for i in range(3):
            check_eq(t2_client(port)[0], GREETING, "client %d after a lazy one" % i)
        check_eq(recv_until_eof(lazy)[0], GREETING, "the lazy client's greeting")
        lazy.close()


if __name__ == "__main__":
    main()
