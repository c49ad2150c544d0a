#!/bin/sh
# run.sh — runs every test suite in tests/suites/ in order and prints one summary line.
#
# Usage: tests/run.sh BUILD_DIR [SUITE_NAME_SUBSTRING]
# Each suite is an executable script that prints, as its last summary line,
# "<name>: N passed, N failed" (optionally ", N skipped"). A suite that exits non-zero or prints no
# such line counts as one failure. Each suite runs under its own time limit (SUITE_TIMEOUT,
# default 600 s) and its output is kept in BUILD_DIR/test-logs/<suite>.log.
set -u
build=$(cd "${1:?usage: tests/run.sh BUILD_DIR [FILTER]}" && pwd)
filter=${2:-}
root=$(cd "$(dirname "$0")/.." && pwd)
logs="$build/test-logs"
mkdir -p "$logs"
export MADANG_ROOT="$root" MADANG_BUILD="$build" MADANG_BIN="$build/bin" MADANG_TESTBIN="$build/tests"

total_pass=0
total_fail=0
total_skip=0
failed_suites=""
for suite in "$root"/tests/suites/*.sh; do
	name=$(basename "$suite" .sh)
	case "$name" in *"$filter"*) ;; *) continue ;; esac
	echo "=== suite $name"
	start=$(date +%s)
	# The suite runs in its own process group so that the time limit can end all of it.
	timeout --kill-after=10 "${SUITE_TIMEOUT:-600}" setsid "$suite" >"$logs/$name.log" 2>&1 </dev/null &
	pid=$!
	tail -n +1 -f "$logs/$name.log" --pid=$pid 2>/dev/null
	wait $pid
	rc=$?
	line=$(grep -E '^([A-Za-z0-9_.-]+: )?[0-9]+ passed, [0-9]+ failed' "$logs/$name.log" | tail -n 1)
	p=$(echo "$line" | sed -nE 's/^([A-Za-z0-9_.-]+: )?([0-9]+) passed.*/\2/p')
	f=$(echo "$line" | sed -nE 's/.* ([0-9]+) failed.*/\1/p')
	s=$(echo "$line" | sed -nE 's/.* ([0-9]+) skipped.*/\1/p')
	p=${p:-0}
	f=${f:-0}
	s=${s:-0}
	if [ "$rc" -ne 0 ] || [ -z "$line" ]; then
		[ "$f" -eq 0 ] && f=1
		failed_suites="$failed_suites $name(exit $rc)"
	elif [ "$f" -ne 0 ]; then
		failed_suites="$failed_suites $name"
	fi
	total_pass=$((total_pass + p))
	total_fail=$((total_fail + f))
	total_skip=$((total_skip + s))
	echo "=== suite $name: $p passed, $f failed, $s skipped ($(($(date +%s) - start)) s)"
done

echo
if [ -n "$failed_suites" ]; then
	echo "failed suites:$failed_suites (logs in $logs)"
fi
echo "make test: $total_pass passed, $total_fail failed, $total_skip skipped"
[ "$total_fail" -eq 0 ]
