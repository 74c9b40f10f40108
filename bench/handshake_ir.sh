#!/bin/sh
# handshake_ir.sh — user-space instructions per full TLS 1.3 handshake on the
# server side (callgrind), for sockit binaries and the minimal OpenSSL echo
# (bench/build/tls_echo): each server runs under callgrind while one client
# does N1, then N2 handshakes (sockit bench --handshakes, one message each);
# (Ir(N2) - Ir(N1)) / (N2 - N1) is the cost of one handshake, start-up and
# certificate loading cancelled out. Deterministic, unlike CPU time here.
#
#   bench/handshake_ir.sh [N1 N2] -- SERVER...
#   SERVER: a sockit binary, or "tls-echo"
# Example: bench/handshake_ir.sh 100 300 -- build/sockit /tmp/base/build/sockit tls-echo
# RESUME=1: the client resumes its last session (--resume): resumed handshakes.
set -e
N1=100 N2=300
if [ "$1" != "--" ]; then N1=$1 N2=$2; shift 2; fi
shift
here=$(cd "$(dirname "$0")" && pwd)
loader="$here/../build/sockit"
tmp=$(mktemp -d)
[ -n "$KEEP" ] && echo "profiles in $tmp" >&2 || trap 'rm -rf "$tmp"' EXIT
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$tmp/k.pem" \
    -out "$tmp/c.pem" -subj /CN=localhost -days 2 2>/dev/null
port=$((20000 + $$ % 20000))
ir() { # server n -> total Ir of the server process
    out="$tmp/cg.$(basename "$1").$2"
    if [ "$1" = tls-echo ]; then
        valgrind --tool=callgrind --callgrind-out-file="$out" "$here/build/tls_echo" 127.0.0.1 $port \
            "$tmp/c.pem" "$tmp/k.pem" >/dev/null 2>&1 &
    else
        valgrind --tool=callgrind --callgrind-out-file="$out" "$1" serve echo tls://127.0.0.1:$port \
            --cert "$tmp/c.pem" --key "$tmp/k.pem" --threads 1 >/dev/null 2>&1 &
    fi
    vg=$!
    sleep 3
    "$loader" bench tls://127.0.0.1:$port -k -c 1 --handshakes -n "$2" ${RESUME:+--resume} >/dev/null 2>&1
    callgrind_control -d $vg >/dev/null 2>&1 || true
    sleep 1
    kill -KILL $vg 2>/dev/null || true
    wait $vg 2>/dev/null || true
    port=$((port + 1))
    cat "$out".* "$out" 2>/dev/null | awk '/^summary:|^totals:/ {print $2; exit}'
}
for s in "$@"; do
    a=$(ir "$s" $N1)
    b=$(ir "$s" $N2)
    echo "$s: $(( (b - a) / (N2 - N1) )) Ir per handshake ($N1: $a, $N2: $b)"
done
