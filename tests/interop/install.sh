#!/usr/bin/env bash
# install.sh — what the WebSocket interop tests need: Python's websockets
# (Debian's /usr/bin/python3), node + npm, chromium, and the npm packages of
# tests/interop (ws, playwright-core; exact versions in package.json and
# package-lock.json). Installs only what is missing; idempotent.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive

updated=0
apt_install() {
    if [ "$updated" -eq 0 ]; then
        $SUDO apt-get update -q
        updated=1
    fi
    $SUDO apt-get install -y -q --no-install-recommends "$@"
}

have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

missing=()
# websockets for Debian's python (the tests re-exec under /usr/bin/python3)
if ! have_pkg python3-websockets && ! /usr/bin/python3 -c 'import websockets' 2>/dev/null; then
    missing+=(python3-websockets)
fi
# node and npm: a nodejs from another source may bundle npm (and then
# conflicts with Debian's npm package), so look for the commands first
if ! command -v node >/dev/null 2>&1; then missing+=(nodejs); fi
if ! command -v npm >/dev/null 2>&1; then missing+=(npm); fi
if ! command -v chromium >/dev/null 2>&1 && [ ! -x /usr/bin/chromium ]; then
    missing+=(chromium)
fi
if [ "${#missing[@]}" -gt 0 ]; then
    echo "install.sh: installing ${missing[*]}"
    apt_install "${missing[@]}"
fi
# Debian's nodejs may come without npm bundled; check again
if ! command -v npm >/dev/null 2>&1; then apt_install npm; fi

cd "$here"
npm install --no-audit --no-fund
# playwright-core must not download a browser: the tests use /usr/bin/chromium
node -e 'require("ws"); require("playwright-core"); console.log("install.sh: ws and playwright-core ok")'
