#!/bin/bash
# open_loop_ab.sh — paired A/B: CPU seconds (user+sys) of two sockit builds running
# `bench --rate 100000 -c 100 --depth 64 -d 6` against bench/build/epoll_echo, alternating.
# Usage: bench/open_loop_ab.sh BASE_SOCKIT NEW_SOCKIT [ROUNDS]   (after make -C bench build/epoll_echo)
cd "$(dirname "$0")/.."
BASE=${1:?base sockit}; NEW=${2:?new sockit}; ROUNDS=${3:-5}
T=$(mktemp)
PORT=$(python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")
bench/build/epoll_echo 127.0.0.1 "$PORT" & EE=$!
sleep 0.3
for r in $(seq "$ROUNDS"); do
  for v in base new; do
    bin=$BASE; [ $v = new ] && bin=$NEW
    /usr/bin/time -f "$v round $r cpu %U %S" -o "$T.time" $bin bench tcp://127.0.0.1:$PORT -c 100 --rate 100000 --depth 64 -d 6 > "$T.out" 2>&1
    echo "$(cat "$T.time") $(grep -o 'messages .*received' "$T.out") $(grep -o 'p99 [^ ]*' "$T.out" | head -1)"
  done
done
kill $EE
rm -f "$T" "$T.time" "$T.out"
