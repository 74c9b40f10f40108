#!/usr/bin/env bash
# install-deps.sh — installs the Debian packages the benchmark suite needs
# (peer libraries, strace, taskset, python3, ...), only those missing.
set -eu
# peers: libuv1-dev libevent-dev (liburing-dev for a future peer);
# redis-server: the pub/sub peer of the chat fan-out benchmark (bench/fanout.py,
# started by it as `redis-server --port P --save '' --appendonly no`; the
# package's own system service is not used, and is stopped again below if
# this script installed it, so it does not hold port 6379 or use CPU);
# tools: pkg-config gcc make, strace (syscall counts), util-linux (taskset),
# python3 (bench/run.py). perf and valgrind are optional and used if present.
# WebSocket peers: libwebsockets-dev (peers/lws_echo.c), python3-websockets
# (peers/ws_echo.py, run with /usr/bin/python3), node + npm and the npm
# package ws into bench/node_modules (peers/ws_echo.js; version in package.json).
# TLS peers: libssl-dev openssl (peers/tls_echo.c, pingpong --tls,
# peers/tls_handshakes.c, the certificate run.py makes), nginx with
# libnginx-mod-stream and haproxy (TLS termination in front of epoll_echo;
# run.py starts them with configs of its own on free ports; their system
# services are stopped again below if this script installed them).
here="$(cd "$(dirname "$0")" && pwd)"
packages="gcc make pkg-config python3 libuv1-dev libevent-dev liburing-dev strace util-linux redis-server libwebsockets-dev python3-websockets libssl-dev openssl nginx libnginx-mod-stream haproxy"
missing=""
for p in $packages; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
# a nodejs from another source may bundle npm (and conflict with Debian's npm)
command -v node >/dev/null 2>&1 || missing="$missing nodejs"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
updated=""
apt_install() {
    echo "bench/install-deps: installing $*"
    [ -n "$updated" ] || $SUDO apt-get update -qq
    updated=1
    $SUDO apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}
[ -z "$missing" ] || apt_install $missing
# the system services these packages bring are not used: stopped and disabled
for svc in redis-server nginx haproxy; do
    case " $missing " in
    *" $svc "*)
        if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$svc" 2>/dev/null; then
            $SUDO systemctl disable --now "$svc" >/dev/null 2>&1 || true
        elif command -v service >/dev/null 2>&1; then
            $SUDO service "$svc" stop >/dev/null 2>&1 || true
        fi ;;
    esac
done
command -v redis-server >/dev/null 2>&1 || { echo "bench/install-deps: redis-server missing after install" >&2; exit 1; }
command -v npm >/dev/null 2>&1 || apt_install npm
# bench/node_modules/ws, for peers/ws_echo.js (bench/node_modules is git-ignored)
if ! (cd "$here" && node -e 'require("ws")' 2>/dev/null); then
    (cd "$here" && npm install --no-audit --no-fund --no-package-lock --silent)
fi
