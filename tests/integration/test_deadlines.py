"""test_deadlines.py — half-finished input has a deadline: a WebSocket
handshake not done within --handshake-timeout (server: a stalled request;
client: a server that never answers), and a message begun but not completed
within --frame-timeout (a client dripping a length header, a line or a
WebSocket frame one byte at a time) closes that one connection with a log
line, while a client that keeps completing messages is never cut off."""
import base64
import os
import socket
import struct
import threading
import time

from harness import (Server, check, check_eq, free_port, main, recv_head, run_connect, t,
                     wait_for)


def closed_within(s, secs):
    """True if the peer closes s within secs (reading and dropping data)."""
    s.settimeout(0.2)
    deadline = time.monotonic() + t(secs)
    while time.monotonic() < deadline:
        try:
            if s.recv(4096) == b"":
                return True
        except socket.timeout:
            continue
        except OSError:  # reset
            return True
    return False


def drip(s, data, every, stop):
    """Sends data one byte every `every` seconds until done or stop is set."""
    for b in data:
        if stop.is_set():
            return
        try:
            s.send(bytes([b]))
        except OSError:
            return
        time.sleep(every)


def test_ws_server_handshake_timeout():
    port = free_port()
    with Server("echo", "ws://127.0.0.1:%d/" % port, "--handshake-timeout", "1", "-v") as srv:
        stalled = socket.create_connection(("127.0.0.1", port), timeout=t(5))
        stalled.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")  # the head never ends
        silent = socket.create_connection(("127.0.0.1", port), timeout=t(5))
        start = time.monotonic()
        check(closed_within(stalled, 4), "a stalled upgrade request is closed")
        check(closed_within(silent, 4), "a client that sends nothing is closed")
        took = time.monotonic() - start
        check(0.7 < took < t(3.5), "after about --handshake-timeout 1 (%.1fs)" % took)
        check(wait_for(lambda: srv.log().count("handshake timed out") >= 2, 2),
              "the log names the reason:\n%s" % srv.log()[-800:])
        r = run_connect(["ws://127.0.0.1:%d/" % port, "--send", "still serving"])
        check_eq(r.stdout, b"still serving\n", "others are served")


def test_ws_client_handshake_timeout():
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(4)  # accepts (the kernel does), never answers
    url = "ws://127.0.0.1:%d/" % ls.getsockname()[1]
    start = time.monotonic()
    r = run_connect([url, "--send", "x", "--handshake-timeout", "1"], timeout=t(10))
    took = time.monotonic() - start
    check_eq(r.returncode, 1, "exit status")
    check_eq(r.stderr.decode().strip(), "sockit: %s: WebSocket handshake timed out" % url,
             "the one line")
    check(took < t(3), "after about 1 s (%.1fs)" % took)
    ls.close()


def test_frame_timeout_len32():
    port = free_port()
    with Server("echo", "tcp://127.0.0.1:%d" % port, "--frame", "len32be", "--frame-timeout", "1",
                "-v") as srv:
        slow = socket.create_connection(("127.0.0.1", port), timeout=t(5))
        stop = threading.Event()
        th = threading.Thread(target=drip, args=(slow, struct.pack(">I", 50) + b"x" * 50, 0.25,
                                                 stop), daemon=True)
        th.start()
        # meanwhile a busy client completes a message every 0.2 s for 3 s
        busy = socket.create_connection(("127.0.0.1", port), timeout=t(5))
        ok = 0
        start = time.monotonic()
        while time.monotonic() - start < 3:
            msg = b"m%d" % ok
            busy.sendall(struct.pack(">I", len(msg)) + msg[:1])  # split across sends
            time.sleep(0.1)
            busy.sendall(msg[1:])
            hdr = busy.recv(4)
            if len(hdr) == 4:
                body = busy.recv(struct.unpack(">I", hdr)[0])
                ok += body == msg
            time.sleep(0.1)
        check(ok >= 10, "the busy client kept being served (%d replies)" % ok)
        check(closed_within(slow, 1), "the dripping client was closed")
        stop.set()
        check(wait_for(lambda: "frame timeout" in srv.log(), 2),
              "logged:\n%s" % srv.log()[-800:])
        check("frame timeout fd=" in srv.log() and "--frame-timeout 1s" in srv.log(),
              "the log line names the flag")
        busy.close()


def test_frame_timeout_line_and_ws():
    port, wport = free_port(), free_port()
    with Server("echo", "tcp://127.0.0.1:%d" % port, "ws://127.0.0.1:%d/" % wport, "--frame",
                "line", "--frame-timeout", "1"):
        s = socket.create_connection(("127.0.0.1", port), timeout=t(5))
        stop = threading.Event()
        threading.Thread(target=drip, args=(s, b"a line that never ends" * 4, 0.2, stop),
                         daemon=True).start()
        check(closed_within(s, 4), "a line dripped without its end is closed")
        stop.set()
        # a WebSocket frame header announcing 100 bytes, then a drip
        w = socket.create_connection(("127.0.0.1", wport), timeout=t(5))
        key = base64.b64encode(os.urandom(16))
        w.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " + key + b"\r\n\r\n")
        head = recv_head(w)
        check(head.startswith(b"HTTP/1.1 101"), "upgraded")
        stop2 = threading.Event()
        frame = bytes([0x81, 0x80 | 100]) + b"\0\0\0\0" + b"y" * 100
        threading.Thread(target=drip, args=(w, frame, 0.2, stop2), daemon=True).start()
        check(closed_within(w, 4), "a WebSocket frame dripped too slowly is closed")
        stop2.set()


def test_frame_timeout_zero_disables():
    port = free_port()
    with Server("echo", "tcp://127.0.0.1:%d" % port, "--frame", "len32be", "--frame-timeout",
                "0"):
        s = socket.create_connection(("127.0.0.1", port), timeout=t(5))
        s.sendall(struct.pack(">I", 5) + b"ab")
        check(not closed_within(s, 2), "no deadline with --frame-timeout 0")
        s.sendall(b"cde")
        check_eq(s.recv(100), struct.pack(">I", 5) + b"abcde", "the message completes")


if __name__ == "__main__":
    main()
