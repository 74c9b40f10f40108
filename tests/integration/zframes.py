"""zframes.py — compressed length-prefixed frames built and parsed the way
another program would: Python's zlib (raw deflate, wbits=-15) and libzstd
through ctypes (the `zstandard` module is not installed here; when libzstd
cannot be loaded, the `zstd` command line). Body = codec byte + payload."""
import ctypes
import ctypes.util
import struct
import subprocess
import zlib

STORED, DEFLATE, ZSTD = 0, 1, 2
HDR = {"len16be": ">H", "len16le": "<H", "len32be": ">I", "len32le": "<I",
       "len64be": ">Q", "len64le": "<Q"}
UNKNOWN_SIZE = (1 << 64) - 1


def _load_zstd():
    try:
        lib = ctypes.CDLL(ctypes.util.find_library("zstd") or "libzstd.so.1")
    except OSError:
        return None
    sz = ctypes.c_size_t
    lib.ZSTD_compressBound.argtypes, lib.ZSTD_compressBound.restype = [sz], sz
    lib.ZSTD_compress.argtypes = [ctypes.c_void_p, sz, ctypes.c_char_p, sz, ctypes.c_int]
    lib.ZSTD_compress.restype = sz
    lib.ZSTD_decompress.argtypes = [ctypes.c_void_p, sz, ctypes.c_char_p, sz]
    lib.ZSTD_decompress.restype = sz
    lib.ZSTD_isError.argtypes, lib.ZSTD_isError.restype = [sz], ctypes.c_uint
    lib.ZSTD_getFrameContentSize.argtypes = [ctypes.c_char_p, sz]
    lib.ZSTD_getFrameContentSize.restype = ctypes.c_ulonglong
    return lib


_zstd = _load_zstd()


def zstd_compress(data, level=3):
    """One zstd frame with its content size."""
    if _zstd is None:
        return subprocess.run(["zstd", "-q", "-c", "-%d" % level, "--content-size"],
                              input=data, stdout=subprocess.PIPE, check=True).stdout
    cap = _zstd.ZSTD_compressBound(len(data))
    buf = ctypes.create_string_buffer(cap)
    n = _zstd.ZSTD_compress(buf, cap, data, len(data), level)
    assert not _zstd.ZSTD_isError(n)
    return buf.raw[:n]


def zstd_no_size(data):
    """A zstd frame without its content size: the CLI reading a pipe."""
    p = subprocess.Popen(["zstd", "-q", "-c", "--no-content-size"], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE)
    out, _ = p.communicate(data)
    return out


def zstd_content_size(frame):
    if _zstd is None:
        return None
    return _zstd.ZSTD_getFrameContentSize(frame, len(frame))


def zstd_decompress(frame):
    if _zstd is None:
        return subprocess.run(["zstd", "-q", "-d", "-c"], input=frame, stdout=subprocess.PIPE,
                              check=True).stdout
    size = _zstd.ZSTD_getFrameContentSize(frame, len(frame))
    assert size < (1 << 40), "zstd frame without a usable content size"
    buf = ctypes.create_string_buffer(max(1, size))
    n = _zstd.ZSTD_decompress(buf, size, frame, len(frame))
    assert not _zstd.ZSTD_isError(n) and n == size
    return buf.raw[:n]


def deflate_raw(data, level=6):
    c = zlib.compressobj(level, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


def inflate_raw(data):
    """One complete raw deflate stream and nothing after it."""
    d = zlib.decompressobj(-15)
    out = d.decompress(data)
    assert d.eof and not d.unused_data, "deflate stream unfinished or followed by bytes"
    return out


def body(codec, msg):
    if codec == DEFLATE:
        return bytes([DEFLATE]) + deflate_raw(msg)
    if codec == ZSTD:
        return bytes([ZSTD]) + zstd_compress(msg)
    return bytes([STORED]) + msg


def frame(mode, b):
    return struct.pack(HDR[mode], len(b)) + b


def decode_body(b):
    """(codec, message) of a body."""
    codec, payload = b[0], b[1:]
    if codec == DEFLATE:
        return codec, inflate_raw(payload)
    if codec == ZSTD:
        size = zstd_content_size(payload)
        assert size is None or size < UNKNOWN_SIZE - 1, "zstd frame without its content size"
        return codec, zstd_decompress(payload)
    assert codec == STORED, "unknown codec byte %d" % codec
    return codec, payload


def read_body(s, mode, recv_exact):
    """One frame's body from socket s, or None at EOF."""
    fmt = HDR[mode]
    hdr = recv_exact(s, struct.calcsize(fmt))
    if len(hdr) < struct.calcsize(fmt):
        return None
    n = struct.unpack(fmt, hdr)[0]
    b = recv_exact(s, n)
    assert len(b) == n, "EOF inside a frame"
    return b
