#!/usr/bin/env bash
# install-deps.sh — installs the Debian packages the benchmark suite needs
# (peer libraries, strace, taskset, python3, ...), only those missing.
set -eu
# peers: libuv1-dev libevent-dev (liburing-dev, redis-server for future peers);
# tools: pkg-config gcc make, strace (syscall counts), util-linux (taskset),
# python3 (bench/run.py). perf and valgrind are optional and used if present.
packages="gcc make pkg-config python3 libuv1-dev libevent-dev liburing-dev strace util-linux redis-server"
missing=""
for p in $packages; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "bench/install-deps: installing$missing"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
