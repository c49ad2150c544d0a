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
# SANITIZE_SUITES="..." runs a chosen list.
T_NAME=sanitizers
. "$MADANG_ROOT/tests/lib/harness.sh"

cd "$MADANG_ROOT" || exit 1
san=address,undefined
if make --no-print-directory SANITIZE=$san programs test-bins >"$T_DIR/build.log" 2>&1; then
	t_ok "build with -fsanitize=$san"
else
	tail -n 30 "$T_DIR/build.log"
	t_fail "build with -fsanitize=$san"
	t_done
fi
sanbuild="$MADANG_ROOT/build/san-address-undefined"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:exitcode=86"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:exitcode=87"
export MADANG_NO_VALGRIND=1 # valgrind and ASan do not mix
for suite in ${SANITIZE_SUITES:-10-unit 20-broker 25-pgstore 30-ws 40-api 73-tls}; do
	[ -x "tests/suites/$suite.sh" ] || continue
	out=$(SUITE_TIMEOUT=600 tests/run.sh "$sanbuild" "$suite" 2>&1)
	echo "$out" | sed "s/^/[$suite] /"
	line=$(echo "$out" | grep -E '^make test: [0-9]+ passed, [0-9]+ failed' | tail -n 1)
	p=$(echo "$line" | sed -nE 's/^make test: ([0-9]+) passed.*/\1/p')
	f=$(echo "$line" | sed -nE 's/.* ([0-9]+) failed.*/\1/p')
	T_PASS=$((T_PASS + ${p:-0}))
	T_FAIL=$((T_FAIL + ${f:-1}))
done
t_done
