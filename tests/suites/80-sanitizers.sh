#!/bin/sh
# 80-sanitizers.sh — the unit and integration suites again, with every daemon, library and test
# built with AddressSanitizer and UndefinedBehaviorSanitizer (build/san-address-undefined).
# Any sanitizer report makes the process exit non-zero, which fails the test that ran it.
# 25-pgstore is in the default list (the durable-history and moderation-state tests on
# PostgreSQL, failover, the port); 26-failover (both daemons under kill -9 and PostgreSQL
# stopped, through madang-ws) runs plainly: its broker code is it_failover's, here.
# A full make test runs 20-broker, 25-pgstore and 40-api only here (tests/run.sh,
# MADANG_SANITIZED_ONLY). 31-ws-poll is not in the list either: it is 30-ws again on lws's poll
# loop and the room topics instead of bundles (the bundle codec's cases are in 10-unit's
# test_bundle here); it runs plainly.
# SANITIZE_SUITES="..." runs a chosen list; SANITIZE_LANES how many of them run at once (below).
# runner: alone (tests/run.sh: its build takes both cores; what runs alongside ends first)
T_NAME=sanitizers
. "$MADANG_ROOT/tests/lib/harness.sh"

cd "$MADANG_ROOT" || exit 1
san=address,undefined
if make --no-print-directory -j2 SANITIZE=$san programs test-bins >"$T_DIR/build.log" 2>&1; then
	t_ok "build with -fsanitize=$san"
else
	tail -n 30 "$T_DIR/build.log"
	t_fail "build with -fsanitize=$san"
	t_done
fi
sanbuild="$MADANG_ROOT/build/san-address-undefined"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:exitcode=86"
# nng 1.5.2's own leak of a pub message at a subscriber's close (tests/lsan.supp).
export LSAN_OPTIONS="suppressions=$MADANG_ROOT/tests/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:exitcode=87"
export MADANG_NO_VALGRIND=1 # valgrind and ASan do not mix
# The daemons' slab items (common/slab.h) are malloc's here: ASan checks malloc's blocks best
# (a quarantine for use after free) and LeakSanitizer sees only those (it does not look into a
# slab item for pointers to malloc's blocks); test_slab (10-unit) checks the slabs themselves
# under both.
export MADANG_SLAB=off
# The suites run in three lanes at once, each lane one suite after the other: they wait far more
# than they compute (the whole list keeps 14 % of two cores busy when run one by one) and share
# nothing (free loopback ports, their own temporary directories, PostgreSQL and namespaces of
# their own). The list is dealt out in turn over SANITIZE_LANES lanes (1: one by one); the
# default's order gives three lanes balanced by their durations in a fresh clone's make test
# (20-broker 76, 25-pgstore 61 | 30-ws 89, 10-unit 25 | 40-api and 40-api-moderation 85, 73-tls
# 30): with two lanes the longest took 207 s. Four lanes took 105 s, but then madang-ws's 2 s
# wait for the broker ran out once in 30-ws's test of 40 large history replies at once, on a
# broker built with ASan.
lanes=${SANITIZE_LANES:-3}
case "$lanes" in '' | *[!0-9]* | 0) echo "SANITIZE_LANES must be a positive number" >&2; exit 2 ;; esac
all=${SANITIZE_SUITES:-20-broker 30-ws 40-api 25-pgstore 10-unit 73-tls}
# lane_of I: the suites of lane I (the list's I-th, (I + lanes)-th, ...).
lane_of() {
	j=0
	for suite in $all; do
		[ $((j % lanes)) -eq "$1" ] && printf '%s ' "$suite"
		j=$((j + 1))
	done
}
# run_lane SUITES...: each suite's whole output into $T_DIR/san-SUITE.out, one after the other.
run_lane() {
	for suite in "$@"; do
		[ -x "tests/suites/$suite.sh" ] || continue
		SUITE_TIMEOUT=600 tests/run.sh "$sanbuild" "$suite" >"$T_DIR/san-$suite.out" 2>&1
	done
}
lane_pids=""
i=0
while [ "$i" -lt "$lanes" ]; do
	# shellcheck disable=SC2046 # one word per suite
	run_lane $(lane_of "$i") &
	lane_pids="$lane_pids $!"
	i=$((i + 1))
done
# shellcheck disable=SC2086
wait $lane_pids
for suite in $all; do
	[ -x "tests/suites/$suite.sh" ] || continue
	out=$(cat "$T_DIR/san-$suite.out" 2>/dev/null)
	echo "$out" | sed "s/^/[$suite] /"
	line=$(echo "$out" | grep -E '^make test: [0-9]+ passed, [0-9]+ failed' | tail -n 1)
	p=$(echo "$line" | sed -nE 's/^make test: ([0-9]+) passed.*/\1/p')
	f=$(echo "$line" | sed -nE 's/.* ([0-9]+) failed.*/\1/p')
	T_PASS=$((T_PASS + ${p:-0}))
	T_FAIL=$((T_FAIL + ${f:-1}))
done
t_done
