#!/bin/bash
# open_loop_ab.sh — paired A/B: CPU seconds (user+sys) of two sockit builds running
# `bench --rate RATE -c CONNS --depth DEPTH -d SECS` against bench/build/epoll_echo,
# alternating base and new in every round; then the medians and the median of the
# rounds' new/base ratios.
# Usage: bench/open_loop_ab.sh BASE_SOCKIT NEW_SOCKIT [ROUNDS]   (after make -C bench build/epoll_echo)
# Environment (defaults): RATE=100000 CONNS=100 DEPTH=64 SECS=6; SYSCALLS=1 also counts
# each run's sendto/read/epoll_wait/timerfd_settime with perf stat (costs a little CPU).
cd "$(dirname "$0")/.."
BASE=${1:?base sockit}; NEW=${2:?new sockit}; ROUNDS=${3:-5}
RATE=${RATE:-100000}; CONNS=${CONNS:-100}; DEPTH=${DEPTH:-64}; SECS=${SECS:-6}
T=$(mktemp)
PORT=$(python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")
bench/build/epoll_echo 127.0.0.1 "$PORT" & EE=$!
sleep 0.3
EV=syscalls:sys_enter_sendto,syscalls:sys_enter_read,syscalls:sys_enter_epoll_wait,syscalls:sys_enter_timerfd_settime
echo "bench tcp://127.0.0.1:PORT -c $CONNS --rate $RATE --depth $DEPTH -d $SECS; load: $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq "$ROUNDS"); do
  for v in base new; do
    bin=$BASE; [ $v = new ] && bin=$NEW
    cmd=($bin bench tcp://127.0.0.1:$PORT -c "$CONNS" --rate "$RATE" --depth "$DEPTH" -d "$SECS")
    [ "${SYSCALLS:-0}" = 1 ] && cmd=(perf stat -x, -o "$T.perf" -e "$EV" "${cmd[@]}")
    /usr/bin/time -f "%U %S" -o "$T.time" "${cmd[@]}" > "$T.out" 2>&1
    read -r u s < "$T.time"
    sc=""
    [ "${SYSCALLS:-0}" = 1 ] && sc=$(awk -F, '/sys_enter/ {sub("syscalls:sys_enter_", "", $3); printf " %s=%s", $3, $1}' "$T.perf")
    echo "$v round $r cpu $u $s $(grep -o '[0-9]* sent, [0-9]* received' "$T.out") $(grep -o 'p50 [^ ]*  p90 [^ ]*  p99 [^ ]*' "$T.out" | head -1)$sc"
  done
done | tee "$T.log"
kill $EE
awk '/round/ { c = $5 + $6; if ($1 == "base") b[$3] = c; else n[$3] = c }
     function med(a, k,  i, j, t, v, m) { m = 0; for (i in a) v[++m] = a[i];
       for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
       return m % 2 ? v[(m + 1) / 2] : (v[m / 2] + v[m / 2 + 1]) / 2 }
     END { for (r in b) q[r] = n[r] / b[r];
       printf "median cpu (user+sys, s): base %.2f  new %.2f  median new/base %.2f\n", med(b), med(n), med(q) }' "$T.log"
rm -f "$T" "$T.time" "$T.out" "$T.perf" "$T.log"
