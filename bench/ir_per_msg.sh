#!/bin/bash
# ir_per_msg.sh SOCKIT PORT [serve args]: user-space instructions per echoed message of
# `sockit serve echo --threads 1` under callgrind, driven by 100 `sockit bench` connections
# (100,000 messages of 64 B, depth 1). The start-up and shutdown of the same server with no
# traffic (library start-up, e.g. OpenSSL's, and dynamic linking) is measured apart and
# subtracted, so builds that link different libraries compare by their per-message work.
s=$1; port=$2; shift 2
set -eu
total() { grep -E "^summary:|^totals:" "$1" | head -1 | awk '{print $2}'; }
valgrind --tool=callgrind --callgrind-out-file=/tmp/ir.$port.idle $s serve echo tcp://127.0.0.1:$port --threads 1 "$@" >/dev/null 2>&1 & vp=$!
sleep 2
kill -TERM $vp; wait $vp 2>/dev/null || true
valgrind --tool=callgrind --callgrind-out-file=/tmp/ir.$port.out $s serve echo tcp://127.0.0.1:$port --threads 1 "$@" 2>/dev/null & vp=$!
sleep 2
"$(dirname "$0")/../build/sockit" bench tcp://127.0.0.1:$port -c 100 -n 1 >/dev/null 2>&1
"$(dirname "$0")/../build/sockit" bench tcp://127.0.0.1:$port -c 100 -n 100000 >/dev/null
kill -TERM $vp; wait $vp 2>/dev/null || true
tot=$(total /tmp/ir.$port.out); idle=$(total /tmp/ir.$port.idle)
echo "$s $*: total Ir $tot, start-up $idle, per msg $(((tot - idle) / 100000))"
