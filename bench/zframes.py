#!/usr/bin/env python3
"""zframes.py — compressed length-prefixed frames (`--compress`): compression
and decompression throughput per core of sockit's bodies (bench/zframe_speed.c
on the public API) next to `zstd -b1` on the same 1 KiB JSON messages, in
paired rounds (the two alternate, medians and per-round ratios reported), plus
the bytes on the wire against stored bodies, for zstd and deflate.

usage: bench/zframes.py [--rounds 5] [--secs 2] [--msgs 2048] [--size 1024]
Needs `make` (build/libsockit.a) and the zstd command line."""
import argparse
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)


def corpus(path, n, size):
    """n JSON messages of exactly size bytes each (game-state-like records)."""
    rnd = random.Random(42)
    out = bytearray()
    for _ in range(n):
        items, s = [], ""
        while len(s) < size:
            items.append(json.dumps({
                "id": rnd.randrange(100000), "type": rnd.choice(["move", "chat", "state", "ping"]),
                "user": "player%d" % rnd.randrange(500), "x": round(rnd.uniform(0, 1000), 2),
                "y": round(rnd.uniform(0, 1000), 2), "hp": rnd.randrange(100),
                "alive": rnd.random() < 0.9,
                "tags": rnd.sample(["red", "blue", "green", "boss", "npc", "loot"], 2)}))
            s = "[" + ",".join(items) + "]"
        out += s[:size].encode()
    with open(path, "wb") as f:
        f.write(out)


def build(exe):
    libs = subprocess.run(["pkg-config", "--libs", "zlib", "libzstd"], capture_output=True,
                          text=True).stdout.split() or ["-lz", "-lzstd"]
    subprocess.run(["cc", "-O2", "-I" + os.path.join(REPO, "include"),
                    os.path.join(HERE, "zframe_speed.c"),
                    os.path.join(REPO, "build", "libsockit.a")] + libs + ["-o", exe], check=True)


def run_zstd_cli(path, size, secs):
    """zstd -b1 with the file cut into independent size-byte chunks (one per message)."""
    r = subprocess.run(["zstd", "-b1", "-B%d" % size, "-i%d" % max(1, round(secs)), path],
                       capture_output=True, text=True)
    text = (r.stdout + r.stderr).replace("\r", "\n")
    m = re.findall(r"(\d+) ->\s+(\d+) \(x?[\d.]+\),\s+([\d.]+) MB/s,\s+([\d.]+) MB/s", text)
    if not m:
        sys.exit("cannot parse zstd -b output:\n" + text[-500:])
    src, dst, comp, decomp = m[-1]
    return {"in": int(src), "wire": int(dst), "comp": float(comp), "decomp": float(decomp)}


def run_sockit(exe, path, size, codec, secs):
    r = subprocess.run([exe, path, str(size), codec, str(secs)], capture_output=True, text=True,
                       check=True)
    f = dict(kv.split("=") for kv in r.stdout.split())
    return {"in": int(f["in"]), "wire": int(f["wire"]), "msgs": int(f["msgs"]),
            "comp": float(f["comp_MBps"]), "decomp": float(f["decomp_MBps"]),
            "comp_best": float(f["comp_best_MBps"]), "decomp_best": float(f["decomp_best_MBps"])}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--secs", type=float, default=2)
    ap.add_argument("--msgs", type=int, default=2048)
    ap.add_argument("--size", type=int, default=1024)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="zframes-")
    path, exe = os.path.join(tmp, "corpus.json"), os.path.join(tmp, "zframe_speed")
    corpus(path, a.msgs, a.size)
    build(exe)
    rows = []
    for i in range(a.rounds):  # paired: both measured in each round, order alternating
        pair = {}
        for who in (("cli", "sockit") if i % 2 == 0 else ("sockit", "cli")):
            pair[who] = (run_zstd_cli(path, a.size, a.secs) if who == "cli"
                         else run_sockit(exe, path, a.size, "zstd", a.secs))
        rows.append(pair)
        print("round %d: zstd -b1 comp %.1f MB/s decomp %.1f MB/s | sockit zstd comp %.1f MB/s "
              "decomp %.1f MB/s (fastest run %.1f, %.1f) | ratio cli/sockit-fastest comp %.2f decomp %.2f"
              % (i + 1, pair["cli"]["comp"], pair["cli"]["decomp"], pair["sockit"]["comp"],
                 pair["sockit"]["decomp"], pair["sockit"]["comp_best"],
                 pair["sockit"]["decomp_best"], pair["cli"]["comp"] / pair["sockit"]["comp_best"],
                 pair["cli"]["decomp"] / pair["sockit"]["decomp_best"]), flush=True)
    med = lambda who, k: statistics.median(r[who][k] for r in rows)
    ratio = lambda k: statistics.median(r["cli"][k.replace("_best", "")] / r["sockit"][k]
                                        for r in rows)
    defl = run_sockit(exe, path, a.size, "deflate", a.secs)
    s = rows[0]["sockit"]
    stored = s["msgs"] * (a.size + 1)
    print()
    print("%d messages of %d bytes of JSON; %d paired rounds of %g s; medians:" % (
        a.msgs, a.size, a.rounds, a.secs))
    print("| | compress MB/s | decompress MB/s |")
    print("|---|---:|---:|")
    print("| zstd -b1 -B%d (CLI, one core) | %.1f | %.1f |" % (a.size, med("cli", "comp"),
                                                             med("cli", "decomp")))
    print("| sockit --compress zstd bodies (one core; mean of all passes) | %.1f | %.1f |" % (
        med("sockit", "comp"), med("sockit", "decomp")))
    print("| sockit, fastest 1 s run (as zstd -b reports) | %.1f | %.1f |" % (
        med("sockit", "comp_best"), med("sockit", "decomp_best")))
    print("| zstd CLI / sockit fastest run (median of per-round ratios; target <= 1.2) "
          "| %.2f | %.2f |" % (ratio("comp_best"), ratio("decomp_best")))
    print("| zstd CLI / sockit mean (median of per-round ratios) | %.2f | %.2f |"
          % (ratio("comp"), ratio("decomp")))
    print("| sockit --compress deflate bodies (level 6, one round, mean) | %.1f | %.1f |" % (
        defl["comp"], defl["decomp"]))
    print()
    print("| bodies on the wire (codec byte included) | bytes | of stored |")
    print("|---|---:|---:|")
    print("| stored (codec 0) | %d | 1.000 |" % stored)
    print("| zstd level 1 | %d | %.3f |" % (s["wire"], s["wire"] / stored))
    print("| deflate level 6 | %d | %.3f |" % (defl["wire"], defl["wire"] / stored))
    print("| (zstd -b1 CLI, no codec byte) | %d | %.3f |" % (rows[0]["cli"]["wire"],
                                                         rows[0]["cli"]["wire"] / stored))


if __name__ == "__main__":
    main()
