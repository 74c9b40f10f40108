#!/usr/bin/env bash
# install-deps.sh — installs the Debian packages that building and testing
# sockit need, only those missing (apt-get update runs once, when needed).
set -eu
# build: compiler, make, pkg-config; tests: python3, socat, ncat, bc, procps;
# fuzz/sanitizers: clang with its runtime libraries; leak checks: valgrind.
packages="gcc make pkg-config python3 socat ncat bc procps iproute2 clang llvm libclang-rt-14-dev valgrind"
missing=""
for p in $packages; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "install-deps: installing$missing"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
