#!/bin/sh
# 20-broker.sh — the real madang-broker over real nng sockets (tests/integration/it_broker.c,
# it_durable.c for --data: SIGKILL, restart, torn WAL, bad data directories, and
# it_moderation.c for kick, ban, mute, deletions, slow mode and their rights),
# once plainly and once with the broker under valgrind (no definite leak, no memory error: the
# broker's exit status after SIGTERM would be 99).
T_NAME=broker
. "$MADANG_ROOT/tests/lib/harness.sh"

run_it() {
	label=$1
	prog=$2
	out=$(cd "$MADANG_ROOT" && timeout 600 "$MADANG_TESTBIN/$prog" 2>&1)
	rc=$?
	echo "$out" | sed "s/^/[$label] /"
	p=$(echo "$out" | sed -nE 's/^\[  PASSED  \] ([0-9]+) test.*/\1/p' | tail -n 1)
	f=$(echo "$out" | sed -nE 's/^\[  FAILED  \] ([0-9]+) test.*/\1/p' | tail -n 1)
	T_PASS=$((T_PASS + ${p:-0}))
	T_FAIL=$((T_FAIL + ${f:-0}))
	[ $rc -ne 0 ] && [ -z "$f" ] && t_fail "$prog ($label) exited $rc"
}

run_it plain it_broker
run_it plain it_durable
run_it plain it_moderation
if [ -z "${MADANG_NO_VALGRIND:-}" ]; then
	# tests/valgrind.supp: one message nng itself can lose at shutdown, and nothing else.
	vg="valgrind -q --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99"
	vg="$vg --suppressions=$MADANG_ROOT/tests/valgrind.supp"
	MADANG_TEST_WRAPPER="$vg" run_it valgrind it_broker
	MADANG_TEST_WRAPPER="$vg" run_it valgrind it_durable
	MADANG_TEST_WRAPPER="$vg" run_it valgrind it_moderation
fi
t_done
