#!/bin/bash
# ir_per_msg.sh SOCKIT PORT [serve args]: user-space instructions per echoed message of
# `sockit serve echo --threads 1` under callgrind, driven by 100 `sockit bench` connections
# (100,000 messages of 64 B, depth 1; the total includes start-up, ~1 % of it).
s=$1; port=$2; shift 2
set -eu
valgrind --tool=callgrind --callgrind-out-file=/tmp/ir.$port.out $s serve echo tcp://127.0.0.1:$port --threads 1 "$@" 2>/dev/null & vp=$!
sleep 2
"$(dirname "$0")/../build/sockit" bench tcp://127.0.0.1:$port -c 100 -n 1 >/dev/null 2>&1
"$(dirname "$0")/../build/sockit" bench tcp://127.0.0.1:$port -c 100 -n 100000 >/dev/null
kill -TERM $vp; wait $vp 2>/dev/null
tot=$(grep -E "^summary:|^totals:" /tmp/ir.$port.out | head -1 | awk '{print $2}')
echo "$s $*: total Ir $tot, per msg $((tot / 100000))"
