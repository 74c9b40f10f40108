"""test_framing.py — `--frame MODE` over TCP however the stream is split or
merged ("sticky packets"): frames sent byte by byte, in random pieces, or all
in one write come back exact; bad headers (too large, negative) and frames
cut off at close close only that connection and are logged; -vv shows the
size of every read."""
import os
import random
import re
import socket
import struct
import time

from harness import (Server, check, check_eq, free_port, main, recv_exact, recv_until_eof, t,
                     wait_for)

HDR = {  # mode -> (struct format, largest body)
    "len8": ("B", 0xFF),
    "len16be": (">H", 0xFFFF),
    "len16le": ("<H", 0xFFFF),
    "len32be": (">I", 1 << 31),
    "len32le": ("<I", 1 << 31),
    "len64be": (">Q", 1 << 63),
    "len64le": ("<Q", 1 << 63),
}

FRAME_ERROR = re.compile(r"max.?frame|too (large|big|long)|larger|exceed", re.I)
NEGATIVE_ERROR = re.compile(r"negative|invalid|sign", re.I)
TRUNCATED_ERROR = re.compile(r"truncat|middle of a frame|cut|incomplete|partial|unfinished", re.I)


def encode(mode, body):
    if mode == "line":
        return body + b"\n"
    fmt, _ = HDR[mode]
    return struct.pack(fmt, len(body)) + body


def read_frame(s, mode):
    """Reads one frame; returns its body, or None at a clean EOF."""
    if mode == "line":
        buf = b""
        while not buf.endswith(b"\n"):
            b = s.recv(1)
            if not b:
                return None if not buf else buf
            buf += b
        return buf[:-1]
    fmt, _ = HDR[mode]
    hdr = recv_exact(s, struct.calcsize(fmt))
    if not hdr:
        return None
    if len(hdr) < struct.calcsize(fmt):
        raise AssertionError("EOF inside a reply header")
    n = struct.unpack(fmt, hdr)[0]
    body = recv_exact(s, n)
    if len(body) != n:
        raise AssertionError("EOF inside a reply body (%d of %d bytes)" % (len(body), n))
    return body


def messages(mode, count=10, size=500, seed=1):
    rnd = random.Random(seed)
    size = min(size, HDR[mode][1]) if mode in HDR else size
    out = []
    for i in range(count):
        if mode == "line":  # printable, no newline inside
            body = bytes(rnd.randrange(32, 127) for _ in range(size))
        else:
            body = bytes(rnd.randrange(256) for _ in range(size))
        out.append(body)
    return out


def client(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.settimeout(t(10))
    s.connect(("127.0.0.1", port))
    return s


def send_pieces(s, data, pieces, pause=0.002):
    """Sends data in the given piece sizes, pausing between them so that
    TCP_NODELAY makes each one its own segment (and usually its own read)."""
    off = 0
    for n in pieces:
        s.sendall(data[off:off + n])
        off += n
        time.sleep(pause)
    if off < len(data):
        s.sendall(data[off:])


def random_pieces(rnd, total, lo=1, hi=700):
    out, left = [], total
    while left > 0:
        n = min(left, rnd.randrange(lo, hi))
        out.append(n)
        left -= n
    return out


def check_replies(s, mode, msgs, what):
    for i, m in enumerate(msgs):
        got = read_frame(s, mode)
        if not check(got == m, "%s: reply %d differs: got %s bytes %r..., want %d bytes %r..."
                     % (what, i, None if got is None else len(got), (got or b"")[:16],
                        len(m), m[:16])):
            return False
    return True


def check_clean_end(s, what):
    s.shutdown(socket.SHUT_WR)
    rest, err = recv_until_eof(s)
    check(rest == b"" and err is None, "%s: after the last reply want EOF, got %r / %r"
          % (what, rest[:32], err))


def split_scenarios(mode, port):
    msgs = messages(mode)
    stream = b"".join(encode(mode, m) for m in msgs)
    rnd = random.Random(hash(mode) & 0xFFFF)

    # 1. everything merged in one write
    s = client(port)
    s.sendall(stream)
    check_replies(s, mode, msgs, "%s merged" % mode)
    check_clean_end(s, "%s merged" % mode)
    s.close()

    # 2. random pieces that straddle frame boundaries, with small pauses
    s = client(port)
    send_pieces(s, stream, random_pieces(rnd, len(stream)))
    check_replies(s, mode, msgs, "%s random pieces" % mode)
    check_clean_end(s, "%s random pieces" % mode)
    s.close()

    # 3. the first two frames byte by byte (headers split between reads),
    #    then the rest one frame per write, replies read as we go
    s = client(port)
    for i, m in enumerate(msgs):
        frame = encode(mode, m)
        if i < 2:
            hl = len(frame) - len(m)
            # pause after every header byte, then every 50 body bytes
            send_pieces(s, frame, [1] * (hl or 1) + [1] * 50 + [50] * 9, pause=0.001)
        else:
            s.sendall(frame)
        check_replies(s, mode, [m], "%s byte-by-byte #%d" % (mode, i))
    check_clean_end(s, "%s byte-by-byte" % mode)
    s.close()

    # 4. pipelined: several frames in flight, each write = end of one frame
    #    + start of the next
    s = client(port)
    cut = [len(encode(mode, m)) for m in msgs]
    pieces = []
    for n in cut:
        pieces += [n // 3, n - n // 3]
    pieces = [pieces[0]] + [pieces[i] + pieces[i + 1] for i in range(1, len(pieces) - 1, 2)]
    send_pieces(s, stream, pieces)
    check_replies(s, mode, msgs, "%s straddling" % mode)
    check_clean_end(s, "%s straddling" % mode)
    s.close()


def run_mode(mode):
    port = free_port()
    with Server("echo", "tcp://127.0.0.1:%d" % port, "--frame", mode) as srv:
        split_scenarios(mode, port)
        check(srv.proc.poll() is None, "server died in mode %s" % mode)


def test_len32be_splits():
    run_mode("len32be")


def test_len16le_splits():
    run_mode("len16le")


def test_len8_splits():
    run_mode("len8")


def test_line_splits():
    run_mode("line")


def test_len64le_splits():
    run_mode("len64le")


def test_other_len_modes_merged():
    for mode in ("len16be", "len32le", "len64be"):
        port = free_port()
        with Server("echo", "tcp://127.0.0.1:%d" % port, "--frame", mode):
            msgs = messages(mode, count=5, size=300)
            s = client(port)
            s.sendall(b"".join(encode(mode, m) for m in msgs))
            check_replies(s, mode, msgs, mode)
            check_clean_end(s, mode)
            s.close()


def test_empty_frames():
    for mode in ("len32be", "len8"):
        port = free_port()
        with Server("echo", "tcp://127.0.0.1:%d" % port, "--frame", mode):
            s = client(port)
            msgs = [b"", b"x", b""]
            s.sendall(b"".join(encode(mode, m) for m in msgs))
            check_replies(s, mode, msgs, "%s empty frames" % mode)
            s.close()


def test_line_crlf_and_last_unterminated_line():
    port = free_port()
    with Server("upper", "tcp://127.0.0.1:%d" % port, "--frame", "line"):
        s = client(port)
        s.sendall(b"first\r\nsecond\nthird")
        check_eq(recv_exact(s, len(b"FIRST\nSECOND\n")), b"FIRST\nSECOND\n", "CRLF and LF lines")
        s.shutdown(socket.SHUT_WR)  # the final line has no newline
        rest, err = recv_until_eof(s)
        check_eq(rest, b"THIRD\n", "an unterminated last line is still a message")
        s.close()


def test_t5_raw_in_len32le_out():
    """T5 interop: commands go in raw, every reply carries a 4-byte
    little-endian length header (struct.pack("i", n))."""
    port = free_port()
    with Server("upper", "tcp://127.0.0.1:%d" % port, "--in-frame", "raw",
                "--out-frame", "len32le"):
        s = client(port)
        for cmd in (b"ls -l", b"ipconfig /all", b"dir"):
            s.sendall(cmd)
            hdr = recv_exact(s, 4)
            n = struct.unpack("i", hdr)[0]
            check_eq(recv_exact(s, n), cmd.upper(), "T5 reply to %r" % cmd)
        s.close()


def oversized_or_negative(mode, header, max_frame, reason_re, what):
    """A bad header closes that connection only; another client continues;
    the server logs the reason (without -v)."""
    port = free_port()
    args = ["tcp://127.0.0.1:%d" % port, "--frame", mode]
    if max_frame:
        args += ["--max-frame", str(max_frame)]
    with Server("echo", *args) as srv:
        good = client(port)
        good.sendall(encode(mode, b"before"))
        check_eq(read_frame(good, mode), b"before", "%s: good client before" % what)

        bad = client(port)
        bad_port = bad.getsockname()[1]
        bad.sendall(header + b"some body bytes")
        data, err = recv_until_eof(bad)
        check(data == b"", "%s: the bad client got data %r" % (what, data[:50]))
        bad.close()
        # the other client is unaffected
        for i in range(3):
            m = ("after %d" % i).encode()
            good.sendall(encode(mode, m))
            check_eq(read_frame(good, mode), m, "%s: good client after, #%d" % (what, i))
        # and new clients are still served
        fresh = client(port)
        fresh.sendall(encode(mode, b"fresh"))
        check_eq(read_frame(fresh, mode), b"fresh", "%s: a new client" % what)
        fresh.close()
        good.close()
        wait_for(lambda: ":%d" % bad_port in srv.log(), 3)
        rss = vm_rss_kb(srv.pid)
    log = srv.final_log
    lines = [l for l in log.splitlines() if ":%d" % bad_port in l]
    check(lines and any(reason_re.search(l) for l in lines),
          "%s: server log has no line about the bad client (port %d) giving the reason; log:\n%s"
          % (what, bad_port, log))
    check(rss < 200 * 1024, "%s: server RSS %d kB after a huge header" % (what, rss))


def vm_rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def test_oversized_len32be_header():
    oversized_or_negative("len32be", struct.pack(">I", 1001), 1000, FRAME_ERROR,
                          "len32be 1001 > --max-frame 1000")


def test_max_frame_boundary_is_inclusive():
    port = free_port()
    with Server("echo", "tcp://127.0.0.1:%d" % port, "--frame", "len32be", "--max-frame", "1000"):
        s = client(port)
        body = os.urandom(1000)
        s.sendall(encode("len32be", body))
        check_eq(read_frame(s, "len32be"), body, "a frame of exactly --max-frame bytes")
        s.close()


def test_huge_header_default_max_frame():
    """2 GiB announced with the default --max-frame: refused, no allocation."""
    oversized_or_negative("len32be", struct.pack(">I", 0x7FFFFFFF), None, FRAME_ERROR,
                          "len32be 2 GiB")


def test_huge_len64_header():
    oversized_or_negative("len64be", struct.pack(">Q", 1 << 40), None, FRAME_ERROR,
                          "len64be 1 TiB")


def test_negative_len32le_header():
    oversized_or_negative("len32le", struct.pack("<i", -5), None, NEGATIVE_ERROR,
                          "len32le -5")


def test_negative_len64le_header():
    oversized_or_negative("len64le", struct.pack("<q", -1), None, NEGATIVE_ERROR,
                          "len64le -1")


def test_frame_cut_off_at_close_is_logged():
    for mode in ("len32be", "len16le"):
        port = free_port()
        with Server("echo", "tcp://127.0.0.1:%d" % port, "--frame", mode) as srv:
            s = client(port)
            cport = s.getsockname()[1]
            frame = encode(mode, b"x" * 100)
            s.sendall(frame[:40])  # header + part of the body
            time.sleep(0.05)
            s.shutdown(socket.SHUT_WR)
            data, err = recv_until_eof(s)
            s.close()
            check_eq(data, b"", "%s: no reply to a cut frame" % mode)
            wait_for(lambda: ":%d" % cport in srv.log(), 3)
            # and a header cut in the middle
            s = client(port)
            cport2 = s.getsockname()[1]
            s.sendall(frame[:1])
            time.sleep(0.05)
            s.close()
            wait_for(lambda: ":%d" % cport2 in srv.log(), 3)
        for p, what in ((cport, "body"), (cport2, "header")):
            lines = [l for l in srv.final_log.splitlines() if ":%d" % p in l]
            check(any(TRUNCATED_ERROR.search(l) for l in lines),
                  "%s: a frame cut in the %s at close is not logged; log:\n%s"
                  % (mode, what, srv.final_log))


def test_line_longer_than_max_frame():
    port = free_port()
    with Server("echo", "tcp://127.0.0.1:%d" % port, "--frame", "line",
                "--max-frame", "100") as srv:
        ok = client(port)
        bad = client(port)
        bad_port = bad.getsockname()[1]
        bad.sendall(b"a" * 300)  # no newline within --max-frame
        data, err = recv_until_eof(bad)
        check_eq(data, b"", "no reply to an over-long line")
        bad.close()
        ok.sendall(b"short line\n")
        check_eq(read_frame(ok, "line"), b"short line", "the other client still served")
        ok.close()
        wait_for(lambda: ":%d" % bad_port in srv.log(), 3)
    lines = [l for l in srv.final_log.splitlines() if ":%d" % bad_port in l]
    check(any(FRAME_ERROR.search(l) for l in lines), "over-long line logged: %s" % srv.final_log)


def test_reply_too_big_for_out_frame():
    """Echo with --out-frame len8: a 300-byte message cannot be framed. The
    client must not be left hanging in silence: the connection is closed
    (or the reply sent some other way) and the server logs why."""
    port = free_port()
    with Server("echo", "tcp://127.0.0.1:%d" % port, "--in-frame", "len16be",
                "--out-frame", "len8") as srv:
        s = client(port)
        cport = s.getsockname()[1]
        s.settimeout(t(1.5))  # an echo of 300 bytes is instant
        s.sendall(encode("len16be", b"b" * 300))
        try:
            data, err = recv_until_eof(s)
        except socket.timeout:
            data, err = None, "timeout"
        if isinstance(err, socket.timeout):
            data, err = None, "timeout"
        s.close()
        check(data is not None, "a reply too big for len8: the client got silence and no EOF "
              "within 1.5 s (the reply was dropped without closing the connection)")
        if data is not None:
            wait_for(lambda: ":%d" % cport in srv.log(), 3)
    lines = [l for l in srv.final_log.splitlines() if ":%d" % cport in l]
    check(any(re.search(r"too (large|big|long)|larger|len8|frame", l, re.I) for l in lines),
          "a reply too big for --out-frame len8 is not logged; log:\n%s" % srv.final_log)


def test_vv_logs_read_sizes():
    """-vv logs every read's size, so the splits of 10 sends of 500 bytes are
    visible, and the sizes add up to what was sent."""
    port = free_port()
    with Server("echo", "tcp://127.0.0.1:%d" % port, "--frame", "len32be", "-vv") as srv:
        s = client(port)
        cport = s.getsockname()[1]
        msgs = messages("len32be")
        frames = [encode("len32be", m) for m in msgs]
        total = sum(len(f) for f in frames)
        # split each frame in two writes with a pause: at least 2 reads each
        for f in frames:
            s.sendall(f[:100])
            time.sleep(0.01)
            s.sendall(f[100:])
            time.sleep(0.01)
        check_replies(s, "len32be", msgs, "-vv echo")
        s.close()
        wait_for(lambda: re.search(r"close.*:%d" % cport, srv.log()), 3)
    sizes = [int(m.group(1)) for m in re.finditer(r"[^\n]*:%d[^\n]*bytes=(\d+)" % cport,
                                                  srv.final_log)]
    check(len(sizes) >= 10, "-vv: want a bytes= line per read (>= 10), got %d; log:\n%s"
          % (len(sizes), srv.final_log[-2000:]))
    check_eq(sum(sizes), total, "-vv: sum of logged read sizes")


def test_v_without_vv_does_not_log_reads():
    port = free_port()
    with Server("echo", "tcp://127.0.0.1:%d" % port, "-v") as srv:
        s = client(port)
        s.sendall(b"hello")
        check_eq(recv_exact(s, 5), b"hello", "echo")
        s.close()
        wait_for(lambda: "close" in srv.log(), 3)
    check("bytes=" not in srv.final_log, "-v logs read sizes (only -vv should)")
    check(" accept " in srv.final_log and " close " in srv.final_log,
          "-v logs accept and close: %s" % srv.final_log)


if __name__ == "__main__":
    main()
