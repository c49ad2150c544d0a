#!/bin/sh
# run.sh — runs every test suite in tests/suites/ in order and prints one summary line.
#
# Usage: tests/run.sh BUILD_DIR [SUITE_NAME_SUBSTRING]
# Each suite is an executable script that prints, as its last summary line,
# "<name>: N passed, N failed" (optionally ", N skipped"). A suite that exits non-zero or prints no
# such line counts as one failure. Each suite runs under its own time limit (SUITE_TIMEOUT,
# default 600 s) and its output is kept in BUILD_DIR/test-logs/<suite>.log.
#
# Tests leave the machine as they found it: the owner, group, mode and device numbers of the
# host's device nodes (MADANG_GUARD_NODES, default /dev/null /dev/zero /dev/random /dev/urandom
# /dev/tty) are read before the first suite and again after each one, and so is whether an
# installation of madang is on the host (MADANG_GUARD_INSTALLED: /etc/madang, units, binaries in
# /usr/local/bin). A suite after which any of them differs fails, and what changed is named; the
# runner never puts it back by itself.
# MADANG_SUITES_DIR (default tests/suites) lets the harness's own test run suites of its own.
#
# A full run (no filter) does not run plainly the suites whose names start with one of
# MADANG_SANITIZED_ONLY (default "20-broker 25-pgstore 40-api"): 80-sanitizers runs them under
# ASan, LeakSanitizer and UBSan, which fails on what the plain run fails on and on more, and the
# daemons' plain builds run in every other suite. A filter that names them runs them plainly.
set -u
build=$(cd "${1:?usage: tests/run.sh BUILD_DIR [FILTER]}" && pwd)
filter=${2:-}
root=$(cd "$(dirname "$0")/.." && pwd)
logs="$build/test-logs"
mkdir -p "$logs"
export MADANG_ROOT="$root" MADANG_BUILD="$build" MADANG_BIN="$build/bin" MADANG_TESTBIN="$build/tests"

suites_dir=${MADANG_SUITES_DIR:-$root/tests/suites}
guard_nodes=${MADANG_GUARD_NODES:-/dev/null /dev/zero /dev/random /dev/urandom /dev/tty}
# What an installation of madang would leave on the host: a suite that installs must do it under
# DESTDIR or inside its own namespaces, so none of these may appear or go during a suite.
guard_installed=${MADANG_GUARD_INSTALLED:-/etc/madang /etc/systemd/system/madang* \
/lib/systemd/system/madang* /etc/nginx/sites-enabled/madang /usr/local/bin/madang-* \
/etc/sysusers.d/madang.conf /etc/tmpfiles.d/madang.conf}
# node_state: one line per guarded node (path, type, mode, owner:group, major:minor), then one
# per installed path that exists.
node_state() {
	for n in $guard_nodes; do
		stat -c '%n %F %a %U:%G %t:%T' "$n" 2>&1
	done
	for p in $guard_installed; do
		[ -e "$p" ] && echo "$p present"
	done
	return 0
}
nodes_before=$(node_state)

total_pass=0
total_fail=0
total_skip=0
failed_suites=""
sanitized_only=""
if [ -z "$filter" ] && [ -x "$suites_dir/80-sanitizers.sh" ]; then
	sanitized_only=${MADANG_SANITIZED_ONLY-20-broker 25-pgstore 40-api}
fi
for suite in "$suites_dir"/*.sh; do
	name=$(basename "$suite" .sh)
	case "$name" in *"$filter"*) ;; *) continue ;; esac
	skip=""
	for p in $sanitized_only; do
		case "$name" in "$p"*) skip=$p ;; esac
	done
	if [ -n "$skip" ]; then
		echo "=== suite $name: runs in 80-sanitizers (MADANG_SANITIZED_ONLY)"
		continue
	fi
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
	nodes_after=$(node_state)
	if [ "$nodes_after" != "$nodes_before" ]; then
		echo "$nodes_before" >"$logs/$name.nodes-before"
		echo "$nodes_after" >"$logs/$name.nodes-after"
		diff "$logs/$name.nodes-before" "$logs/$name.nodes-after" | sed -n 's/^> //p' |
			while read -r node rest; do
				was=$(grep "^$node " "$logs/$name.nodes-before" | cut -d' ' -f2-)
				echo "=== suite $name changed the host's $node: was '${was:-absent}', now '$rest'"
			done | tee -a "$logs/$name.log"
		diff "$logs/$name.nodes-before" "$logs/$name.nodes-after" | sed -n 's/^< \(.*\) present$/\1/p' |
			while read -r gone; do
				echo "=== suite $name removed the host's $gone"
			done | tee -a "$logs/$name.log"
		f=$((f + 1))
		failed_suites="$failed_suites $name(changed the host)"
		nodes_before=$nodes_after
	fi
	total_pass=$((total_pass + p))
	total_fail=$((total_fail + f))
	total_skip=$((total_skip + s))
	echo "=== suite $name: $p passed, $f failed, $s skipped ($(($(date +%s) - start)) s)"
done

echo
if [ -n "$failed_suites" ]; then
	# What failed, repeated here, under each failed suite's name (once, without what follows it
	# in parentheses): CI keeps only the end of the output, and a suite's log is gone with the
	# machine that ran it.
	for name in $(echo "$failed_suites" | sed 's/([^)]*)//g' | tr " " "\n" | uniq); do
		echo "--- what failed in $name:"
		what=$(grep -E '^ *not ok |^FAIL - |^ *error: |^ *(expected|actual): |^=== suite .* the host|\[  (ERROR   |FAILED  \] test)|\[   LINE   \]' \
			"$logs/$name.log" 2>/dev/null | grep -v '# SKIP' | head -n 16 | cut -c1-300)
		echo "${what:-  (no failing check named in its log: it exited early or timed out; its last lines:)}"
		[ -n "$what" ] || tail -n 5 "$logs/$name.log" 2>/dev/null | cut -c1-300
	done
	echo "failed suites:$failed_suites (logs in $logs)"
fi
echo "make test: $total_pass passed, $total_fail failed, $total_skip skipped"
[ "$total_fail" -eq 0 ]
