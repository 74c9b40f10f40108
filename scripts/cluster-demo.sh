#!/usr/bin/env bash
# cluster-demo.sh — the chat room across machines, on one machine: a
# redis-server of its own (free port, no persistence), three `sockit serve
# chat --cluster` nodes, and HAProxy in front (mode tcp for line members,
# mode http with `timeout tunnel` for WebSocket members and the page).
# Usage: scripts/cluster-demo.sh [SECONDS]  (default: until Ctrl-C)
set -euo pipefail
cd "$(dirname "$0")/.."
SOCKIT=${SOCKIT:-build/sockit}
[ -x "$SOCKIT" ] || { echo "cluster-demo: build first (make all)" >&2; exit 1; }
for p in redis-server haproxy; do
    command -v $p >/dev/null || { echo "cluster-demo: $p is missing (scripts/install-deps.sh)" >&2; exit 1; }
done

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
dir=$(mktemp -d /tmp/sockit-cluster-XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    echo "cluster-demo: stopped; logs were in $dir"
}
trap cleanup EXIT INT TERM

rport=$(free_port)
redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no >"$dir/redis.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do redis-cli -p "$rport" ping >/dev/null 2>&1 && break; sleep 0.1; done

tcp_servers="" ws_servers=""
for n in 1 2 3; do
    tp=$(free_port) wp=$(free_port)
    "$SOCKIT" serve chat "tcp://127.0.0.1:$tp" "ws://127.0.0.1:$wp/" --frame line --threads 1 \
        --cluster "redis://127.0.0.1:$rport" --node "node$n" -v >"$dir/node$n.log" 2>&1 &
    pids+=($!)
    echo $! >"$dir/node$n.pid"
    # no health checks: a check's connection would join the chat room (and leave) every
    # few seconds; a connect refused by a dead node is retried on another one instead
    tcp_servers+="    server node$n 127.0.0.1:$tp"$'\n'
    ws_servers+="    server node$n 127.0.0.1:$wp"$'\n'
done

front_tcp=$(free_port) front_ws=$(free_port)
cat >"$dir/haproxy.cfg" <<CFG
global
    maxconn 4000
defaults
    retries 2
    option redispatch
    timeout connect 2s
    timeout client 1h
    timeout server 1h
    timeout tunnel 1h
frontend lines
    mode tcp
    bind 127.0.0.1:$front_tcp
    default_backend line_nodes
backend line_nodes
    mode tcp
    balance leastconn
$tcp_servers
frontend web
    mode http
    bind 127.0.0.1:$front_ws
    default_backend ws_nodes
backend ws_nodes
    mode http
    balance leastconn
$ws_servers
CFG
haproxy -f "$dir/haproxy.cfg" -db >"$dir/haproxy.log" 2>&1 &
pids+=($!)
sleep 1
cat <<MSG
cluster-demo: redis on 127.0.0.1:$rport, three nodes (logs in $dir), HAProxy in front:
  terminals: $SOCKIT connect tcp://127.0.0.1:$front_tcp --frame line
  browsers:  http://127.0.0.1:$front_ws/
Every member is in one room whichever node HAProxy picked; try /who.
Kill a node (kill -9 \$(cat $dir/node3.pid)) and its members leave within 15 s.
MSG
if [ $# -gt 0 ]; then sleep "$1"; else wait; fi
