"""test_readme_example.py — the README's page-long library example, as a user
would build it: `make install` into a temporary prefix, compile the C block
that follows `<!-- example:library-echo -->` in README.md with `pkg-config
--cflags --libs sockit`, link it to the installed libsockit.so, run it, and
talk to it with a Python socket. Only its port is changed, to a free one."""
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from harness import (REPO, SANITIZER_MARKERS, check, check_eq, free_port, main,  # noqa: E402
                     readme_block, recv_exact, t, tmpdir)
from staged_install import asan_flags, make_install, pkg_config  # noqa: E402

MARKER = "<!-- example:library-echo -->"
URL_RE = re.compile(r'"tcp://127\.0\.0\.1:(\d+)"')


def readme_example():
    """The C code block right after the marker, verbatim."""
    code = readme_block(MARKER, "c")
    return code + "\n" if code is not None else None


def build(workdir, source):
    """Installs into workdir/prefix and builds source against it; returns
    (binary, libdir) or None."""
    prefix = os.path.join(workdir, "prefix")
    r = make_install(prefix)
    if not check_eq(r.returncode, 0, "make install; output:\n%s" % r.stdout[-3000:]):
        return None
    pcdir = os.path.join(prefix, "lib", "pkgconfig")
    rc, flags = pkg_config(pcdir, "--cflags", "--libs", "sockit")
    if not check_eq(rc, 0, "pkg-config --cflags --libs sockit (%s)" % flags):
        return None
    check(prefix + "/include" in flags and prefix + "/lib" in flags,
          "pkg-config points into the staged prefix: %s" % flags)
    src = os.path.join(workdir, "example.c")
    with open(src, "w") as f:
        f.write(source)
    exe = os.path.join(workdir, "example")
    libdir = os.path.join(prefix, "lib")
    # Implicit declarations are errors in GCC 14 and Clang 16: a user with
    # either would see the example fail to build.
    cmd = ([os.environ.get("CC") or "cc", "-std=c11", "-Wall",
            "-Werror=implicit-function-declaration", "-o", exe, src] + flags.split()
           + asan_flags(os.path.join(libdir, "libsockit.so")))
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       timeout=120)
    if not check_eq(r.returncode, 0, "compiling the README example: %s\n%s"
                    % (" ".join(cmd), r.stdout)):
        return None
    r = subprocess.run(["readelf", "-d", exe], stdout=subprocess.PIPE, text=True, timeout=30)
    check("[libsockit.so.0]" in r.stdout, "the example needs libsockit.so.0 (linked shared)")
    return exe, libdir


def wait_listening(proc, port):
    deadline = time.monotonic() + t(10)
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def frame(msg):
    return struct.pack(">I", len(msg)) + msg


def test_readme_example_builds_against_installed_library_and_echoes():
    source = readme_example()
    if source is None:
        return
    urls = URL_RE.findall(source)
    if not check_eq(len(urls), 1, "tcp://127.0.0.1:PORT URLs in the example"):
        return
    port = free_port(udp_too=False)
    source = URL_RE.sub('"tcp://127.0.0.1:%d"' % port, source)
    work = tmpdir()
    built = build(work, source)
    if built is None:
        return
    exe, libdir = built
    logpath = os.path.join(work, "example.log")
    env = dict(os.environ, LD_LIBRARY_PATH=libdir)
    with open(logpath, "wb") as log:
        proc = subprocess.Popen([exe], env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    try:
        if not check(wait_listening(proc, port), "the example listens on port %d (exit %s)"
                     % (port, proc.poll())):
            return
        with open("/proc/%d/maps" % proc.pid) as f:
            maps = f.read()
        check(os.path.realpath(os.path.join(libdir, "libsockit.so.0")) in maps,
              "the running example mapped the installed libsockit.so")
        s = socket.create_connection(("127.0.0.1", port), timeout=t(10))
        # Two framed messages in one write, then one split across two writes:
        # each comes back whole, framed the same way.
        s.sendall(frame(b"hello") + frame(b"sticky packets"))
        msg = frame(b"x" * 3000)
        s.sendall(msg[:2])
        time.sleep(0.05)
        s.sendall(msg[2:])
        want = frame(b"hello") + frame(b"sticky packets") + msg
        check_eq(recv_exact(s, len(want)), want, "echoed frames")
        s.close()
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=t(10))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        with open(logpath, "rb") as f:
            out = f.read().decode("utf-8", "replace")
        check(not any(m in out for m in SANITIZER_MARKERS), "example output:\n%s" % out[-3000:])


if __name__ == "__main__":
    main()
