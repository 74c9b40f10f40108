"""test_ws_mask.py — the mask keys `sockit connect ws://` puts on its frames
(RFC 6455 §5.3, §10.3) are unpredictable: a plain-socket WebSocket server
reads 300 frames' keys (no repeats, no counter, no pattern between
neighbours), and strace shows they come from getrandom(2) in batches (a few
calls for 300 frames, not one per frame)."""
import base64
import hashlib
import os
import shutil
import socket
import struct
import subprocess
import threading

from harness import SOCKIT, check, check_eq, main, recv_head, t

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
N = 300


def recv_exact(c, n):
    buf = b""
    while len(buf) < n:
        b = c.recv(n - len(buf))
        if not b:
            raise EOFError
        buf += b
    return buf


class KeyRecorder:
    """Accepts one WebSocket client, records each frame's mask key, answers
    every message with a text frame "ok"."""

    def __init__(self):
        self.ls = socket.socket()
        self.ls.bind(("127.0.0.1", 0))
        self.ls.listen(1)
        self.port = self.ls.getsockname()[1]
        self.keys = []
        self.th = threading.Thread(target=self._run, daemon=True)
        self.th.start()

    def _run(self):
        c, _ = self.ls.accept()
        c.settimeout(t(20))
        head = recv_head(c)
        key = [l.split(b":", 1)[1].strip() for l in head.split(b"\r\n")
               if l.lower().startswith(b"sec-websocket-key:")][0]
        accept = base64.b64encode(hashlib.sha1(key + GUID).digest())
        c.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                  b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n")
        try:
            while True:
                b0, b1 = recv_exact(c, 2)
                n = b1 & 0x7f
                if n == 126:
                    n = struct.unpack("!H", recv_exact(c, 2))[0]
                elif n == 127:
                    n = struct.unpack("!Q", recv_exact(c, 8))[0]
                mask = recv_exact(c, 4) if b1 & 0x80 else None
                recv_exact(c, n)
                if b0 & 0x0f == 8:  # close: answer it and stop
                    c.sendall(b"\x88\x00")
                    break
                self.keys.append(mask)
                c.sendall(b"\x81\x02ok")
        except (EOFError, OSError):
            pass
        c.close()
        self.ls.close()


def run_client(prefix=()):
    rec = KeyRecorder()
    args = list(prefix) + [SOCKIT, "connect", "ws://127.0.0.1:%d/" % rec.port]
    lines = "".join("m%d\n" % i for i in range(N)).encode()
    r = subprocess.run(args, input=lines, capture_output=True, timeout=t(60))
    rec.th.join(t(20))
    return r, rec.keys


def test_mask_keys_are_unpredictable():
    r, keys = run_client()
    check_eq(r.returncode, 0, "connect exit status (stderr %r)" % r.stderr[-300:])
    check_eq(len(keys), N, "frames seen")
    check(all(k is not None for k in keys), "every client frame is masked")
    ints = [struct.unpack("!I", k)[0] for k in keys if k]
    check(len(set(ints)) >= N - 1, "no repeated keys (%d distinct of %d)" % (len(set(ints)), N))
    deltas = {(b - a) & 0xffffffff for a, b in zip(ints, ints[1:])}
    check(len(deltas) >= N - 2, "no constant step between neighbours (%d distinct)" % len(deltas))
    bits = sum(bin(x).count("1") for x in ints) / (32.0 * max(len(ints), 1))
    check(0.45 < bits < 0.55, "about half the key bits are set (%.3f)" % bits)


def test_keys_come_from_getrandom_in_batches():
    if not check(shutil.which("strace"), "strace is not installed"):
        return
    log = os.path.join(os.environ.get("TMPDIR", "/tmp"), "sockit-mask-%d.strace" % os.getpid())
    r, keys = run_client(["strace", "-f", "-e", "trace=getrandom", "-o", log])
    check_eq(len(keys), N, "frames seen under strace")
    with open(log) as f:
        calls = [l for l in f if "getrandom(" in l]
    os.unlink(log)
    print("    getrandom calls: %d" % len(calls))
    # the handshake key and one batch per 128 mask keys at least (a seeded
    # PRNG would make 2 in all); far fewer than one per frame
    batches = (N + 127) // 128
    check(1 + batches <= len(calls) <= 12, "%d getrandom calls for %d frames" % (len(calls), N))


if __name__ == "__main__":
    main()
