#!/usr/bin/env bash
# hold_100k.sh — 100,000 concurrent connections on one machine: `sockit serve
# echo --workers 6` and 6 `sockit bench` processes (each under the 20,000
# open-file cap), connections spread over 127.0.0.2-127.0.0.50 as source
# addresses; with --ramp each bench connects all of its connections first, then
# every connection echoes RATE times a second for SECONDS; prints each bench
# report, then one summary line (worst p99 of the six).
# Usage: bench/hold_100k.sh [TOTAL_CONNS] [SECONDS] [RATE]   (default 100000 60 1)
# RATE below 1 (0.5: one echo every 2 s) finds the load these CPUs carry with
# p99 under 10 ms; SOCKIT_IO=uring runs servers and benches on io_uring.
set -eu
cd "$(dirname "$0")/.."
total=${1:-100000}
secs=${2:-60}
rate=${3:-1}
procs=6
per=$((total / procs))
port=$((20000 + RANDOM % 20000))
sockit=${SOCKIT:-build/sockit}
out=$(mktemp -d)
ulimit -n 20000
"$sockit" serve echo "tcp://127.0.0.1:$port" --workers "$procs" --threads 1 --backlog 65535 \
    2>"$out/server.log" &
server=$!
trap 'kill -TERM $server 2>/dev/null; wait $server 2>/dev/null' EXIT
sleep 1
bench_rate=$(awk -v p="$per" -v r="$rate" 'BEGIN { printf "%d", p * r }')
echo "hold_100k: $total connections ($procs bench processes x $per), $rate echo/s each, $secs s, port $port"
for i in $(seq 1 $procs); do
    lo=$((2 + (i - 1) * 8)); hi=$((lo + 7))
    "$sockit" bench "tcp://127.0.0.1:$port" -c "$per" --rate "$bench_rate" -d "$secs" --size 64 --ramp \
        --source-addrs "127.0.0.$lo-127.0.0.$hi" --timeout 30 --json "$out/bench$i.json" \
        >"$out/bench$i.txt" 2>&1 &
done
fail=0
for job in $(jobs -p | grep -v "^$server\$"); do wait "$job" || fail=1; done
for i in $(seq 1 $procs); do echo "--- bench $i"; cat "$out/bench$i.txt"; done
python3 - "$out" "$procs" <<'PY'
import json, sys
out, n = sys.argv[1], int(sys.argv[2])
reps = [json.load(open("%s/bench%d.json" % (out, i))) for i in range(1, n + 1)]
ok = sum(r["connections"]["ok"] for r in reps)
failed = sum(r["connections"]["failed"] for r in reps)
p99 = max(r["latency_us"]["p99"] for r in reps)
rate = sum(r["msgs_per_sec"] for r in reps)
errs = sum(sum(r["errors"].values()) for r in reps)
print("hold_100k: connections ok %d, failed %d; worst p99 %.1f ms; %.0f replies/s; errors %d"
      % (ok, failed, p99 / 1000, rate, errs))
PY
exit $fail
