"""test_tour.py — the README's "Five minutes with sockit" as a newcomer runs
it: the sh block after `<!-- tour:five-minutes -->`, line by line in one
bash (as pasted into a terminal), in an empty directory where build/sockit
is the binary under test, with only its ports changed to free ones. Before
the last line (which stops the servers) the test does what the comments
say: the browser address serves the chat page, a terminal joins the room,
and bench.html is the load test's report."""
import os
import re
import select
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
from harness import (SANITIZER_MARKERS, SOCKIT, check, check_eq, free_port, main,  # noqa: E402
                     readme_block, t, tmpdir, wait_for)

MARKER = "<!-- tour:five-minutes -->"


def tour_lines():
    block = readme_block(MARKER, "sh")
    return block.split("\n") if block is not None else []


def with_free_ports(lines):
    """Every 127.0.0.1:PORT of the tour on a free port instead (same port, same substitute)."""
    ports = {}

    def sub(m):
        ports.setdefault(m.group(1), str(free_port()))
        return "127.0.0.1:" + ports[m.group(1)]
    return [re.sub(r"127\.0\.0\.1:(\d+)", sub, ln) for ln in lines], ports


def wait_or_kill(proc, secs):
    """proc's exit status once it exits, killing it after secs (scaled)."""
    try:
        return proc.wait(t(secs))
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()


def test_five_minutes_tour():
    lines = tour_lines()
    check(4 <= len(lines) <= 12, "about ten lines: %d" % len(lines))
    for word in ("serve", "connect", "bench", "http://"):
        check(any(word in ln for ln in lines), "the tour shows %s" % word)
    lines, ports = with_free_ports(lines)
    check_eq(len(ports), 3, "ports in the tour (echo, chat tcp, chat ws)")
    check(lines and lines[-1].startswith("kill "), "the last line stops the servers")
    d = tmpdir()
    os.symlink(os.path.dirname(SOCKIT), os.path.join(d, "build"))
    out_path, err_path = os.path.join(d, "stdout"), os.path.join(d, "stderr")
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        sh = subprocess.Popen(["bash", "--norc", "-s"], stdin=subprocess.PIPE, stdout=out,
                              stderr=err, cwd=d)
        sh.stdin.write(("\n".join(lines[:-1]) + "\necho tour-step-done\n").encode())
        sh.stdin.flush()

        def output():
            with open(out_path, "rb") as f:
                return f.read().decode(errors="replace")
        check(wait_for(lambda: "tour-step-done" in output(), timeout=t(60)),
              "the tour up to its last line ran (stdout %r)" % output()[-2000:])
        browse(lines, d)
        sh.stdin.write((lines[-1] + "\n").encode())
        sh.stdin.close()
        rc = wait_or_kill(sh, 30)
    text = output()

    def errors():
        with open(err_path, "rb") as f:
            return f.read().decode(errors="replace")
    wait_for(lambda: errors().count("draining") >= 2, timeout=t(10))  # bash does not wait for them
    errs = errors()
    check_eq(rc, 0, "bash exit status")
    check("HELLO\nWORLD\n" in text, "--send hello --send world prints HELLO, WORLD: %r" % text[:300])
    check("PIPED\nLINES\n" in text, "piped lines come back upper-cased")
    check(re.search(r"connections\s+20 ok, 0 failed", text) and re.search(r"errors\s+none", text),
          "the load test's summary: %r" % text[-1200:])
    check(all(bad not in errs for bad in SANITIZER_MARKERS), "no sanitizer report: %r" % errs[-2000:])
    check(errs.count("draining") == 2, "both servers stopped cleanly on kill: %r" % errs[-1000:])


def terminal_joins(url):
    """`sockit connect URL` kept open as a terminal would be, until the room
    welcomes it; then its input ends."""
    p = subprocess.Popen([SOCKIT, "connect", url, "--wait", "0.5"], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    got = b""
    deadline = time.monotonic() + t(10)
    while b"welcome" not in got and time.monotonic() < deadline:
        ready, _, _ = select.select([p.stdout], [], [], 0.1)
        if ready:
            chunk = os.read(p.stdout.fileno(), 4096)
            if not chunk:
                break
            got += chunk
    p.stdin.close()
    rc = wait_or_kill(p, 10)
    check(b"welcome" in got, "the newcomer is welcomed: %r" % got[:200])
    check_eq(rc, 0, "the terminal's connect exit status")


def browse(lines, d):
    """What the comment lines tell the reader to do."""
    url = re.search(r"open (http://\S+)", "\n".join(lines))
    if not check(url, "the tour names a browser address"):
        return
    try:
        with urllib.request.urlopen(url.group(1), timeout=t(10)) as r:
            page = r.read().decode(errors="replace")
            check_eq(r.status, 200, "GET %s" % url.group(1))
            check("<title>sockit</title>" in page, "the chat page is served: %r" % page[:200])
    except OSError as e:
        check(False, "GET %s: %s" % (url.group(1), e))
    join = re.search(r"join the same room with: build/sockit connect (\S+)", "\n".join(lines))
    if check(join, "the tour says how a terminal joins"):
        terminal_joins(join.group(1))
    report = os.path.join(d, "bench.html")
    check(os.path.isfile(report), "bench.html written")
    if os.path.isfile(report):
        with open(report) as f:
            page = f.read()
        check("<svg" in page and "DATA" in page and "sockit bench" in page,
              "bench.html is the report page")


if __name__ == "__main__":
    main()
