#!/usr/bin/env bash
# install-deps.sh — installs the Debian packages that building and testing
# sockit need, only those missing (apt-get update runs once, when needed).
set -eu
# build: compiler, make, pkg-config, liburing (the --io uring backend), libssl-dev (TLS: OpenSSL 3),
#   zlib1g-dev + libzstd-dev (compression), libhiredis-dev (chat cluster);
# tests: python3, socat, ncat, bc, procps, openssl (s_client / s_server as TLS peers),
#   redis-server (cluster tests start their own), haproxy (load balancer in front of a cluster), zstd (-b reference);
# fuzz/sanitizers: clang with its runtime libraries; leak checks: valgrind.
# (tests/interop/install.sh adds the WebSocket peers: websockets, node, chromium.)
packages="gcc make pkg-config liburing-dev libssl-dev zlib1g-dev libzstd-dev libhiredis-dev openssl redis-server haproxy zstd python3 socat ncat bc procps iproute2 clang llvm libclang-rt-14-dev valgrind"
missing=""
for p in $packages; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "install-deps: installing$missing"
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
# The WebSocket interop peers: Python websockets, node ws, headless Chromium.
here="$(cd "$(dirname "$0")" && pwd)"
if [ ! -d "$here/../tests/interop/node_modules/playwright-core" ] ||
   [ ! -d "$here/../tests/interop/node_modules/ws" ] || [ ! -x /usr/bin/chromium ] ||
   ! /usr/bin/python3 -c 'import websockets' 2>/dev/null; then
    "$here/../tests/interop/install.sh" >/dev/null
fi
