#!/usr/bin/env bash
# run.sh — runs every test: unit binaries from $SOCKIT_BUILD/tests and the
# integration scripts in tests/integration, each in its own process with a
# timeout, then prints "N passed, N failed".
# Usage: tests/run.sh [unit|integration [test_x ...]] (names: only those integration scripts)
set -u
cd "$(dirname "$0")/.."
BUILD=${SOCKIT_BUILD:-build}
export SOCKIT="$PWD/$BUILD/sockit"
export SOCKIT_BUILD="$BUILD"
export PYTHONDONTWRITEBYTECODE=1
which=${1:-all}
shift $(($# > 0))
only=" $* "
passed=0
failed=0
failures=()
logdir="$BUILD/test-logs"
mkdir -p "$logdir"

run_one() { # name, timeout, command...
    local name=$1 limit=$2
    shift 2
    local log="$logdir/${name//\//_}.log"
    local start=$(date +%s.%N)
    if timeout -k 5 "$limit" "$@" >"$log" 2>&1; then
        passed=$((passed + 1))
        printf 'ok   %-40s %5.1fs\n' "$name" "$(echo "$(date +%s.%N) - $start" | bc)"
    else
        local rc=$?
        failed=$((failed + 1))
        failures+=("$name")
        printf 'FAIL %-40s (exit %d, log %s)\n' "$name" "$rc" "$log"
        tail -n 30 "$log" | sed 's/^/    | /'
    fi
}

if [ "$which" = all ] || [ "$which" = unit ]; then
    for t in "$BUILD"/tests/test_*; do
        [ -x "$t" ] || continue
        run_one "unit/$(basename "$t")" 300 "$t"
    done
fi
limit=300
[ -n "${SOCKIT_VALGRIND:-}" ] && limit=1200 # memcheck runs the TLS handshakes ~50x slower
if [ "$which" = all ] || [ "$which" = integration ]; then
    for t in tests/integration/test_*.py; do
        [ -f "$t" ] || continue
        [ "$only" = "  " ] || [[ "$only" == *" $(basename "$t" .py) "* ]] || continue
        run_one "integration/$(basename "$t" .py)" "$limit" python3 "$t"
    done
fi

echo
[ ${#failures[@]} -gt 0 ] && echo "failed: ${failures[*]}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
