#!/bin/sh
# 20-broker.sh — the real madang-broker over real nng sockets (tests/integration/it_broker.c),
# once plainly and once with the broker under valgrind (no definite leak, no memory error: the
# broker's exit status after SIGTERM would be 99).
T_NAME=broker
. "$MADANG_ROOT/tests/lib/harness.sh"

run_it() {
	label=$1
	out=$(cd "$MADANG_ROOT" && timeout 600 "$MADANG_TESTBIN/it_broker" 2>&1)
	rc=$?
	echo "$out" | sed "s/^/[$label] /"
	p=$(echo "$out" | sed -nE 's/^\[  PASSED  \] ([0-9]+) test.*/\1/p' | tail -n 1)
	f=$(echo "$out" | sed -nE 's/^\[  FAILED  \] ([0-9]+) test.*/\1/p' | tail -n 1)
	T_PASS=$((T_PASS + ${p:-0}))
	T_FAIL=$((T_FAIL + ${f:-0}))
	[ $rc -ne 0 ] && [ -z "$f" ] && t_fail "it_broker ($label) exited $rc"
}

run_it plain
MADANG_TEST_WRAPPER="valgrind -q --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99" \
	run_it valgrind
t_done
