#!/bin/sh
# run.sh — runs every test suite in tests/suites/ in order and prints one summary line.
#
# Usage: tests/run.sh BUILD_DIR [SUITE_NAME_SUBSTRING]
# Each suite is an executable script that prints, as its last summary line,
# "<name>: N passed, N failed" (optionally ", N skipped"). A suite that exits non-zero or prints no
# such line counts as one failure. Each suite runs under its own time limit (SUITE_TIMEOUT,
# default 600 s) and its output is kept in BUILD_DIR/test-logs/<suite>.log. A suite marked
# "# runner: alongside" runs beside the suites after it (below, before the loop).
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
# finish NAME RC START: counts a suite that has ended (its summary line, its exit status) and
# checks the guarded host state after it.
finish() {
	fn_name=$1 fn_rc=$2 fn_start=$3
	line=$(grep -E '^([A-Za-z0-9_.-]+: )?[0-9]+ passed, [0-9]+ failed' "$logs/$fn_name.log" | tail -n 1)
	fn_p=$(echo "$line" | sed -nE 's/^([A-Za-z0-9_.-]+: )?([0-9]+) passed.*/\2/p')
	fn_f=$(echo "$line" | sed -nE 's/.* ([0-9]+) failed.*/\1/p')
	fn_s=$(echo "$line" | sed -nE 's/.* ([0-9]+) skipped.*/\1/p')
	fn_p=${fn_p:-0}
	fn_f=${fn_f:-0}
	fn_s=${fn_s:-0}
	if [ "$fn_rc" -ne 0 ] || [ -z "$line" ]; then
		[ "$fn_f" -eq 0 ] && fn_f=1
		failed_suites="$failed_suites $fn_name(exit $fn_rc)"
	elif [ "$fn_f" -ne 0 ]; then
		failed_suites="$failed_suites $fn_name"
	fi
	nodes_after=$(node_state)
	if [ "$nodes_after" != "$nodes_before" ]; then
		# With a suite running alongside, either may have made the change: both are named.
		also=""
		[ -n "$bg_pid" ] && also=" (or $bg_name, running alongside)"
		echo "$nodes_before" >"$logs/$fn_name.nodes-before"
		echo "$nodes_after" >"$logs/$fn_name.nodes-after"
		diff "$logs/$fn_name.nodes-before" "$logs/$fn_name.nodes-after" | sed -n 's/^> //p' |
			while read -r node rest; do
				was=$(grep "^$node " "$logs/$fn_name.nodes-before" | cut -d' ' -f2-)
				echo "=== suite $fn_name$also changed the host's $node: was '${was:-absent}', now '$rest'"
			done | tee -a "$logs/$fn_name.log"
		diff "$logs/$fn_name.nodes-before" "$logs/$fn_name.nodes-after" | sed -n 's/^< \(.*\) present$/\1/p' |
			while read -r gone; do
				echo "=== suite $fn_name$also removed the host's $gone"
			done | tee -a "$logs/$fn_name.log"
		fn_f=$((fn_f + 1))
		failed_suites="$failed_suites $fn_name(changed the host)"
		nodes_before=$nodes_after
	fi
	total_pass=$((total_pass + fn_p))
	total_fail=$((total_fail + fn_f))
	total_skip=$((total_skip + fn_s))
	echo "=== suite $fn_name: $fn_p passed, $fn_f failed, $fn_s skipped ($(($(date +%s) - fn_start)) s)"
}

# A suite whose head comment has the line "# runner: alongside" runs in the background while the
# runner goes on with the suites after it, one at a time as ever; its output is printed when it
# ends. Such suites mostly wait (on timers, daemons being killed and restarted) and share nothing
# with the others (free loopback ports, their own temporary directories), and running them beside
# the next ones saves minutes. At most one runs alongside at a time: the next such suite, a suite
# with the line "# runner: alone" (which needs the machine to itself) and the end of the run wait
# for it first. MADANG_ALONGSIDE=0 runs every suite on its own.
bg_name="" bg_pid="" bg_start=""
wait_alongside() {
	[ -n "$bg_pid" ] || return 0
	wait "$bg_pid"
	bg_rc=$?
	echo "=== suite $bg_name (ran alongside the suites since it started):"
	cat "$logs/$bg_name.log"
	bg_pid="" # (finish then blames the host state on this suite alone)
	finish "$bg_name" "$bg_rc" "$bg_start"
	bg_name=""
}
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
	# (only in the comment block at the head of the file)
	mode=$(awk 'NR > 1 && !/^#/ { exit } /^# runner: (alongside|alone)( |$)/ { print $3; exit }' "$suite")
	[ "${MADANG_ALONGSIDE:-1}" = 0 ] && mode=""
	[ -n "$mode" ] && wait_alongside
	echo "=== suite $name${mode:+ (runner: $mode)}"
	start=$(date +%s)
	# The suite runs in its own process group so that the time limit can end all of it.
	timeout --kill-after=10 "${SUITE_TIMEOUT:-600}" setsid "$suite" >"$logs/$name.log" 2>&1 </dev/null &
	pid=$!
	if [ "$mode" = alongside ]; then
		bg_name=$name bg_pid=$pid bg_start=$start
		continue
	fi
	# (-s 0.1: tail looks whether the suite is still there every 0.1 s, not every second, which
	# cost up to a second after each suite: 05-harness, which runs the runner a dozen times,
	# took 28 s instead of 8)
	tail -n +1 -f -s 0.1 "$logs/$name.log" --pid=$pid 2>/dev/null
	wait $pid
	finish "$name" $? "$start"
done
wait_alongside

echo
if [ -n "$failed_suites" ]; then
	# What failed, repeated here, under each failed suite's name (once, without what follows it
	# in parentheses): CI keeps only the end of the output, and a suite's log is gone with the
	# machine that ran it.
	for name in $(echo "$failed_suites" | sed 's/([^)]*)//g' | tr " " "\n" | uniq); do
		echo "--- what failed in $name:"
		# (80-sanitizers puts its suites' names in front of their lines: "[30-ws] not ok ...")
		what=$(grep -E '^(\[[A-Za-z0-9_.-]+\] )?( *not ok |FAIL - | *error: | *(expected|actual): |=== suite .* the host)|\[  (ERROR   |FAILED  \] test)|\[   LINE   \]' \
			"$logs/$name.log" 2>/dev/null | grep -v '# SKIP' | head -n 16 | cut -c1-300)
		echo "${what:-  (no failing check named in its log: it exited early or timed out; its last lines:)}"
		[ -n "$what" ] || tail -n 5 "$logs/$name.log" 2>/dev/null | cut -c1-300
	done
	echo "failed suites:$failed_suites (logs in $logs)"
fi
echo "make test: $total_pass passed, $total_fail failed, $total_skip skipped"
[ "$total_fail" -eq 0 ]
