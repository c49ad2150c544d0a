#!/bin/sh
# 20-broker.sh — the real madang-broker over real nng sockets (tests/integration/it_broker.c).
T_NAME=broker
. "$MADANG_ROOT/tests/lib/harness.sh"

out=$(cd "$MADANG_ROOT" && timeout 300 "$MADANG_TESTBIN/it_broker" 2>&1)
rc=$?
echo "$out"
p=$(echo "$out" | sed -nE 's/^\[  PASSED  \] ([0-9]+) test.*/\1/p' | tail -n 1)
f=$(echo "$out" | sed -nE 's/^\[  FAILED  \] ([0-9]+) test.*/\1/p' | tail -n 1)
T_PASS=$((T_PASS + ${p:-0}))
T_FAIL=$((T_FAIL + ${f:-0}))
[ $rc -ne 0 ] && [ -z "$f" ] && t_fail "it_broker exited $rc"
t_done
