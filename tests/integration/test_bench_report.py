"""test_bench_report.py — the reports of `sockit bench` people look at and
combine: --json carries the full latency histogram (its percentiles are
those of the summary) and a per-second timeline; `sockit bench merge`
adds runs exactly (the merged histogram is the bucket-wise sum, the
percentiles recomputed from it, not averaged); --html writes one page that
headless Chromium renders with data in every plot and without fetching
anything (screenshot: build/test-logs/bench-report.png)."""
import json
import os
import re
import shutil
import subprocess
import sys
from collections import Counter

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from harness import (REPO, SLOW, Server, check, check_eq, free_port, main,  # noqa: E402
                     run_sockit, t, tmpdir)

INTEROP = os.path.join(REPO, "tests", "interop")
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
SHOT = os.path.join(REPO, os.environ.get("SOCKIT_BUILD") or "build", "test-logs",
                    "bench-report.png")


def bucket_width(low):
    """Width of the histogram bucket starting at low (histogram.h: 128
    linear sub-buckets per power of two, one value each below 256)."""
    return 1 if low < 256 else 1 << (low.bit_length() - 1 - 7)


def percentile(buckets, total, lo, hi, pct):
    """histogram.c's hist_percentile over [[low, count], ...]: the midpoint of
    the bucket holding rank ceil(pct% of total), clamped to [lo, hi]."""
    want = total if pct >= 100 else pct / 100.0 * total  # the same double arithmetic as C
    rank = max(1, int(want) + (int(want) < want))
    if rank >= total:
        return hi
    seen = 0
    for low, n in sorted(buckets):
        seen += n
        if seen >= rank:
            return min(max(low + bucket_width(low) // 2, lo), hi)
    return hi


def summed(*hists):
    c = Counter()
    for h in hists:
        for low, n in h["buckets"]:
            c[low] += n
    return sorted([low, n] for low, n in c.items())


def bench(url, *args, timeout=60):
    r = run_sockit(["bench", url] + list(args), timeout=timeout)
    check_eq(r.returncode, 0, "bench %s exit status; stderr %r" % (" ".join(args), r.stderr[-500:]))
    return r.stdout.decode()


def load(path):
    with open(path) as f:
        return json.load(f)


def check_histogram(j, what):
    """The histogram and the timeline agree with the summary fields."""
    h, lat = j["histogram_ns"], j["latency_us"]
    check_eq(h["count"], j["messages"]["received"], "%s: histogram count = replies" % what)
    check_eq(sum(n for _, n in h["buckets"]), h["count"], "%s: buckets add up to count" % what)
    check_eq(h["max"] / 1e3, lat["max"], "%s: histogram max = latency max" % what)
    for pct, key in ((50, "p50"), (90, "p90"), (99, "p99"), (99.9, "p99_9")):
        got = percentile(h["buckets"], h["count"], h["min"], h["max"], pct) / 1e3
        check(abs(got - lat[key]) < 0.0015, "%s: %s from the buckets %.3f = %.3f"
              % (what, key, got, lat[key]))
    secs = j["timeline"]["seconds"]
    check_eq(sum(s[0] for s in secs), j["messages"]["received"], "%s: timeline replies" % what)
    check_eq(sum(n for s in secs for _, n in s[2]), h["count"],
             "%s: the seconds' histograms add up to the whole" % what)
    check(all(sum(n for _, n in s[2]) == s[0] for s in secs),
          "%s: each second's histogram counts its replies" % what)


def test_json_carries_the_histogram_and_timeline():
    port = free_port()
    path = os.path.join(tmpdir(), "a.json")
    with Server("echo", "tcp://127.0.0.1:%d" % port):
        bench("tcp://127.0.0.1:%d" % port, "-c", "4", "-d", "2.5", "--rate", "4000",
              "--json", path)
    j = load(path)
    check_histogram(j, "2.5 s at 4000/s")
    secs = j["timeline"]["seconds"]
    check(3 <= len(secs) <= 5, "about one entry a second for 2.5 s: %d" % len(secs))
    full = [s[0] for s in secs[1:-1]]
    lo, hi = (1000, 8000) if SLOW else (2000, 6000)  # a busy machine delays some replies
    check(full and all(lo <= n <= hi for n in full),
          "the full seconds carry about the rate (4000/s): %s" % [s[0] for s in secs])


def test_merge_adds_runs_exactly():
    port = free_port()
    d = tmpdir()
    a, b, m = (os.path.join(d, n) for n in ("a.json", "b.json", "m.json"))
    with Server("echo", "tcp://127.0.0.1:%d" % port, "--frame", "len32be"):
        url = "tcp://127.0.0.1:%d" % port
        bench(url, "--frame", "len32be", "-c", "2", "-n", "3000", "--json", a)
        bench(url, "--frame", "len32be", "-c", "3", "--depth", "8", "-n", "5000", "--json", b)
    ja, jb = load(a), load(b)
    out = run_sockit(["bench", "merge", a, b, "--json", m])
    check_eq(out.returncode, 0, "bench merge exit status (stderr %r)" % out.stderr)
    jm = load(m)
    hm = jm["histogram_ns"]
    check_eq(hm["buckets"], summed(ja["histogram_ns"], jb["histogram_ns"]),
             "merged buckets = the bucket-wise sum")
    check_eq(hm["count"], 8000, "merged count")
    check_eq(hm["min"], min(ja["histogram_ns"]["min"], jb["histogram_ns"]["min"]), "merged min")
    check_eq(hm["max"], max(ja["histogram_ns"]["max"], jb["histogram_ns"]["max"]), "merged max")
    check_histogram(jm, "merged")
    want99 = percentile(hm["buckets"], 8000, hm["min"], hm["max"], 99) / 1e3
    check(abs(jm["latency_us"]["p99"] - want99) < 0.0015,
          "merged p99 recomputed from the sum: %s vs %.3f" % (jm["latency_us"]["p99"], want99))
    for key in ("sent", "received"):
        check_eq(jm["messages"][key], ja["messages"][key] + jb["messages"][key], "messages " + key)
    check_eq(jm["connections"]["requested"], 5, "connections requested add up")
    check_eq(jm["connections"]["ok"], 5, "connections ok add up")
    check_eq(jm["bytes"]["sent"], ja["bytes"]["sent"] + jb["bytes"]["sent"], "bytes sent add up")
    check_eq(jm["frame"], "len32be", "the setup is kept")
    check(re.search(r"messages\s+8000 sent, 8000 received", out.stdout.decode()),
          "the merged summary on stdout: %r" % out.stdout.decode()[:600])
    # a run merged with itself: counts double, percentiles stay
    out = run_sockit(["bench", "merge", a, a, "--json", m])
    jaa = load(m)
    check_eq(jaa["histogram_ns"]["count"], 6000, "A + A count")
    check_eq(jaa["latency_us"]["p99"], ja["latency_us"]["p99"], "A + A keeps A's p99")
    check_eq([s[0] for s in jaa["timeline"]["seconds"]],
             [2 * s[0] for s in ja["timeline"]["seconds"]], "A + A: each second doubles")


def test_merge_refuses_what_it_cannot_read():
    d = tmpdir()
    bad = os.path.join(d, "bad.json")
    old = os.path.join(d, "old.json")
    with open(bad, "w") as f:
        f.write('{"target": "tcp://x:1", "messages": {')
    with open(old, "w") as f:
        json.dump({"target": "tcp://x:1", "messages": {"sent": 1, "received": 1}}, f)
    day1, day3 = os.path.join(d, "day1.json"), os.path.join(d, "day3.json")
    for path, start in ((day1, 1.8e9), (day3, 1.8e9 + 2 * 86400)):
        with open(path, "w") as f:
            json.dump({"target": "tcp://x:1", "messages": {"sent": 1, "received": 1},
                       "histogram_ns": {"count": 1, "min": 5, "max": 5, "sum": 5,
                                        "buckets": [[5, 1]]},
                       "timeline": {"origin_unix": start, "seconds": [[1, 0, [[5, 1]]]]},
                       "start_unix": start, "duration_s": 1.0}, f)
    r = run_sockit(["bench", "merge", day1, day1])
    check_eq(r.returncode, 0, "a minimal report merges (stderr %r)" % r.stderr)
    cases = [([], 2, "give the --json reports"), ([day1, day3], 1, "not one load"), ([os.path.join(d, "missing.json")], 1, "No such file"),
             ([bad], 1, "bad.json: unexpected end"), ([old], 1, "older sockit"),
             ([old, "-c", "10"], 2, "bench merge takes report files")]
    for files, rc, words in cases:
        r = run_sockit(["bench", "merge"] + files)
        err = r.stderr.decode()
        check_eq(r.returncode, rc, "bench merge %s exit status" % files)
        check(words in err and err.count("\n") == 1, "one line saying %r: %r" % (words, err))
        check_eq(r.stdout, b"", "nothing on stdout for %s" % files)


def interop_missing():
    if not shutil.which("node"):
        return "node is missing"
    if not os.path.isdir(os.path.join(INTEROP, "node_modules", "playwright-core")):
        return "tests/interop/node_modules lacks playwright-core (run tests/interop/install.sh)"
    if not os.access(CHROMIUM, os.X_OK):
        return "%s is missing" % CHROMIUM
    return None


def render(html, shot):
    env = dict(os.environ, SOCKIT_TIME_SCALE=str(t(1)), CHROMIUM=CHROMIUM)
    r = subprocess.run(["node", os.path.join(INTEROP, "report.js"), "file://" + html, shot],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, timeout=t(90))
    check_eq(r.returncode, 0, "report.js exit status; stderr %r" % r.stderr[-1500:])
    lines = r.stdout.decode().strip().splitlines()
    return json.loads(lines[-1]) if lines else {}


def test_html_report_renders_in_chromium():
    why = interop_missing()
    if why:
        check(not os.environ.get("SOCKIT_REQUIRE_INTEROP"), "interop required: %s" % why)
        print("    SKIP: %s" % why)
        return
    port = free_port()
    d = tmpdir()
    html, js = os.path.join(d, "report.html"), os.path.join(d, "report.json")
    with Server("echo", "tcp://127.0.0.1:%d" % port):
        out = bench("tcp://127.0.0.1:%d" % port, "-c", "4", "-d", "3", "--rate", "3000",
                    "--html", html, "--json", js)
    with open(html) as f:
        page = f.read()
    check(not re.search(r"""\b(src|href)\s*=|@import|url\(""", page),
          "the page links nothing: no src=, href=, @import or url()")
    j = load(js)
    if os.path.exists(SHOT):
        os.unlink(SHOT)
    got = render(html, SHOT)
    check_eq(got.get("requests"), ["file://" + html], "the only request is the page itself")
    check_eq(got.get("errors"), [], "no script errors")
    check_eq(got.get("title"), "sockit bench tcp://127.0.0.1:%d" % port, "page title")
    check_eq((got.get("summary") or "").strip(), out.strip(), "the summary is the terminal's")
    plots = {p["id"]: p for p in got.get("plots", [])}
    check_eq(sorted(plots), ["errs", "p99", "pct", "tput"], "the four plots")
    nbuckets = len(j["histogram_ns"]["buckets"])
    check_eq(plots.get("pct", {}).get("points"), nbuckets + 1,
             "percentile plot: a point per non-empty bucket and the minimum")
    nsecs = len(j["timeline"]["seconds"])
    for pid in ("tput", "errs"):
        check_eq(plots.get(pid, {}).get("points"), nsecs, "%s: one point a second" % pid)
    check(plots.get("p99", {}).get("points", 0) >= 3, "p99 per second plotted: %s" % plots.get("p99"))
    for p in plots.values():
        check_eq(p["drawn"], p["points"], "%s: every point is in the drawn line" % p["id"])
        check(p["inside"], "%s: every point is inside the plot (the axes cover the data)" % p["id"])
    check(["closed_by_server", "0"] in (got.get("errorRows") or []), "the errors table")
    check(os.path.exists(SHOT) and os.path.getsize(SHOT) > 5000, "screenshot saved to %s" % SHOT)
    # a merged report renders too
    merged = os.path.join(d, "merged.html")
    r = run_sockit(["bench", "merge", js, js, "--html", merged])
    check_eq(r.returncode, 0, "merge --html exit status")
    got = render(merged, SHOT.replace(".png", "-merged.png"))
    check_eq(got.get("errors"), [], "merged page: no script errors")
    check(all(p["points"] > 0 for p in got.get("plots", [])) and len(got.get("plots", [])) == 4,
          "merged page: data in every plot")


if __name__ == "__main__":
    main()
