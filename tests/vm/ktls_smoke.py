#!/usr/bin/env python3
"""ktls_smoke.py — proves the kernel does kTLS: over loopback (127.0.0.1 and ::1) it sets the
TCP "tls" ULP and TLS 1.3 AES-128-GCM keys (TLS_TX on the client; the server once reads the raw
record, once sets TLS_RX with the same keys and reads plaintext). Meant for the VM:
    tests/vm/run_in_vm.sh -- python3 tests/vm/ktls_smoke.py
Exits 0 when it all works, 1 with the failing step otherwise."""
import os
import socket
import struct
import sys

TCP_ULP = 31
SOL_TLS = 282
TLS_TX, TLS_RX = 1, 2
TLS_1_3_VERSION = 0x0304
TLS_CIPHER_AES_GCM_128 = 51


def crypto_info():
    # struct tls12_crypto_info_aes_gcm_128: version, cipher_type, iv[8], key[16], salt[4], rec_seq[8]
    return struct.pack("<HH8s16s4s8s", TLS_1_3_VERSION, TLS_CIPHER_AES_GCM_128,
                       b"\x01" * 8, b"\x02" * 16, b"\x03" * 4, b"\x00" * 8)


def pair(family, host):
    srv = socket.socket(family, socket.SOCK_STREAM)
    srv.bind((host, 0))
    srv.listen(1)
    cli = socket.create_connection(srv.getsockname()[:2], timeout=10)
    conn, _ = srv.accept()
    conn.settimeout(10)
    srv.close()
    return cli, conn


def recv_exactly(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise EOFError(f"EOF after {len(buf)} of {n} bytes")
        buf += chunk
    return buf


def check(family, host):
    msg = b"hello from kTLS " + host.encode()
    # 1: the wire carries a TLS 1.3 application_data record, not the plaintext
    cli, conn = pair(family, host)
    cli.setsockopt(socket.SOL_TCP, TCP_ULP, b"tls")
    cli.setsockopt(SOL_TLS, TLS_TX, crypto_info())
    cli.sendall(msg)
    rec = recv_exactly(conn, 5 + len(msg) + 1 + 16)  # header, plaintext, content type, tag
    assert rec[:3] == b"\x17\x03\x03", f"record header {rec[:5].hex()}"
    assert struct.unpack(">H", rec[3:5])[0] == len(msg) + 17, f"record length {rec[3:5].hex()}"
    assert msg not in rec, "the plaintext went out in the clear"
    cli.close()
    conn.close()
    # 2: kTLS on both ends: the receiver's kernel decrypts it back
    cli, conn = pair(family, host)
    for s, opt in ((cli, TLS_TX), (conn, TLS_RX)):
        s.setsockopt(socket.SOL_TCP, TCP_ULP, b"tls")
        s.setsockopt(SOL_TLS, opt, crypto_info())
    cli.sendall(msg * 1000)
    got = recv_exactly(conn, len(msg) * 1000)
    assert got == msg * 1000, "kTLS RX returned other bytes"
    cli.close()
    conn.close()
    print(f"ok   kTLS TX (raw record) and TX->RX round trip over {host}")


def main():
    ulp = open("/proc/sys/net/ipv4/tcp_available_ulp").read().split()
    print(f"kernel {os.uname().release}, tcp_available_ulp: {' '.join(ulp)}")
    failed = 0
    for family, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
        try:
            check(family, host)
        except Exception as e:  # noqa: BLE001 — report the step, go on with the next family
            print(f"FAIL kTLS over {host}: {type(e).__name__}: {e}")
            failed += 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
