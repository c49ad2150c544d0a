#!/bin/sh
# 05-harness.sh — the test runner itself (tests/run.sh): the summary line it prints, and its guard
# on the host's device nodes (issue 18): a suite after which a guarded node's mode or owner
# differs fails, with the node named, and the runner does not put the node back by itself.
# Runs the real tests/run.sh on suites of its own, guarding a plain file in its temp dir in
# place of /dev/null, so nothing outside that dir is touched.
T_NAME=harness
. "$MADANG_ROOT/tests/lib/harness.sh"

suites="$T_DIR/suites"
build="$T_DIR/build"
node="$T_DIR/fake-null"
mkdir -p "$suites" "$build"
: >"$node"
chmod 666 "$node"

cat >"$suites/10-clean.sh" <<'SH'
#!/bin/sh
echo "clean: 2 passed, 0 failed"
SH
cat >"$suites/20-chmods.sh" <<SH
#!/bin/sh
chmod 620 "$node"
echo "chmods: 3 passed, 0 failed"
SH
cat >"$suites/30-after.sh" <<'SH'
#!/bin/sh
echo "after: 1 passed, 0 failed"
SH
cat >"$suites/40-installs.sh" <<SH
#!/bin/sh
mkdir "$T_DIR/etc-madang"
echo "installs: 1 passed, 0 failed"
SH
chmod +x "$suites"/*.sh

out=$(MADANG_SUITES_DIR="$suites" MADANG_GUARD_NODES="$node" MADANG_GUARD_INSTALLED="$T_DIR/etc-madang" "$MADANG_ROOT/tests/run.sh" "$build" 2>&1)
rc=$?
echo "$out" | sed 's/^/    /'
t_check "the runner exits non-zero when a suite changed a guarded node (exit $rc)" test "$rc" -ne 0
t_check "it names the suite and the node" \
	sh -c 'echo "$1" | grep -q "=== suite 20-chmods changed the host'"'"'s $2: was .*666.*, now .*620"' sh "$out" "$node"
t_check "that suite counts one failure more than it reported" \
	sh -c 'echo "$1" | grep -qx "=== suite 20-chmods: 3 passed, 1 failed, 0 skipped (.*)"' sh "$out"
t_check "the suites before and after it are not blamed" \
	sh -c 'echo "$1" | grep -q "suite 10-clean: 2 passed, 0 failed" &&
		echo "$1" | grep -q "suite 30-after: 1 passed, 0 failed"' sh "$out"
t_check "a suite that leaves an installation behind fails too, naming it" \
	sh -c 'echo "$1" | grep -q "=== suite 40-installs changed the host'"'"'s $2/etc-madang: was .absent., now .present." &&
		echo "$1" | grep -qx "=== suite 40-installs: 1 passed, 1 failed, 0 skipped (.*)"' sh "$out" "$T_DIR"
t_check "the summary lists both as failed" \
	sh -c 'echo "$1" | grep -q "failed suites: 20-chmods(changed the host) 40-installs(changed the host)"' sh "$out"
t_check "the summary line counts them: 7 passed, 2 failed" \
	sh -c 'echo "$1" | grep -qx "make test: 7 passed, 2 failed, 0 skipped"' sh "$out"
t_check "the runner does not repair the node (still 620)" test "$(stat -c %a "$node")" = 620

# Without a change, the same runner passes.
chmod 666 "$node"
rm "$suites/20-chmods.sh" "$suites/40-installs.sh"
out=$(MADANG_SUITES_DIR="$suites" MADANG_GUARD_NODES="$node" MADANG_GUARD_INSTALLED="$T_DIR/etc-madang" "$MADANG_ROOT/tests/run.sh" "$build" 2>&1)
t_check "with no node changed the runner passes (exit $?)" \
	sh -c 'echo "$1" | grep -qx "make test: 3 passed, 0 failed, 0 skipped"' sh "$out"

# A full run leaves to 80-sanitizers the suites of MADANG_SANITIZED_ONLY; a filter runs them.
cat >"$suites/80-sanitizers.sh" <<'SH'
#!/bin/sh
echo "sanitizers: 5 passed, 0 failed"
SH
chmod +x "$suites/80-sanitizers.sh"
out=$(MADANG_SANITIZED_ONLY=30 MADANG_SUITES_DIR="$suites" MADANG_GUARD_NODES="$node" MADANG_GUARD_INSTALLED="$T_DIR/etc-madang" "$MADANG_ROOT/tests/run.sh" "$build" 2>&1)
t_check "a full run does not run a suite 80-sanitizers runs" \
	sh -c 'echo "$1" | grep -qx "=== suite 30-after: runs in 80-sanitizers (MADANG_SANITIZED_ONLY)" &&
		echo "$1" | grep -qx "make test: 7 passed, 0 failed, 0 skipped"' sh "$out"
out=$(MADANG_SANITIZED_ONLY=30 MADANG_SUITES_DIR="$suites" MADANG_GUARD_NODES="$node" MADANG_GUARD_INSTALLED="$T_DIR/etc-madang" "$MADANG_ROOT/tests/run.sh" "$build" 30-after 2>&1)
t_check "a filter that names it runs it" \
	sh -c 'echo "$1" | grep -qx "make test: 1 passed, 0 failed, 0 skipped"' sh "$out"
rm "$suites/80-sanitizers.sh"

# "# runner: alongside": the suite runs in the background while the next ones run; one marked
# "# runner: alone" waits for it. 15-beside passes only if 16-next ran while it was running;
# 17-alone only if 15-beside had ended when it began.
cat >"$suites/15-beside.sh" <<SH
#!/bin/sh
# runner: alongside
for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30; do
	[ -e "$T_DIR/next-ran" ] && break
	sleep 0.1
done
if [ -e "$T_DIR/next-ran" ]; then echo "beside: 2 passed, 0 failed"; else echo "beside: 0 passed, 1 failed"; fi
: >"$T_DIR/beside-ended"
SH
cat >"$suites/16-next.sh" <<SH
#!/bin/sh
: >"$T_DIR/next-ran"
echo "next: 1 passed, 0 failed"
SH
cat >"$suites/17-alone.sh" <<SH
#!/bin/sh
# runner: alone
if [ -e "$T_DIR/beside-ended" ]; then echo "alone: 1 passed, 0 failed"; else echo "alone: 0 passed, 1 failed"; fi
SH
chmod +x "$suites"/1[567]-*.sh
out=$(MADANG_SUITES_DIR="$suites" MADANG_GUARD_NODES="$node" MADANG_GUARD_INSTALLED="$T_DIR/etc-madang" "$MADANG_ROOT/tests/run.sh" "$build" 2>&1)
echo "$out" | sed 's/^/    /'
t_check "a suite marked alongside runs while the next suite runs, and one marked alone waits for it" \
	sh -c 'echo "$1" | grep -qx "=== suite 15-beside: 2 passed, 0 failed, 0 skipped (.*)" &&
		echo "$1" | grep -qx "=== suite 17-alone: 1 passed, 0 failed, 0 skipped (.*)" &&
		echo "$1" | grep -qx "make test: 7 passed, 0 failed, 0 skipped"' sh "$out"
t_check "... its output is printed when it ends, after the suites that ran beside it" \
	sh -c 'echo "$1" | sed -n "/^=== suite 16-next:/,\$p" | grep -q "^=== suite 15-beside (ran alongside"' sh "$out"
rm -f "$T_DIR/next-ran" "$T_DIR/beside-ended"
out=$(MADANG_ALONGSIDE=0 MADANG_SUITES_DIR="$suites" MADANG_GUARD_NODES="$node" MADANG_GUARD_INSTALLED="$T_DIR/etc-madang" "$MADANG_ROOT/tests/run.sh" "$build" 2>&1)
t_check "MADANG_ALONGSIDE=0 runs it on its own, before the next suite" \
	sh -c 'echo "$1" | grep -qx "=== suite 15-beside: 0 passed, 1 failed, 0 skipped (.*)"' sh "$out"
rm -f "$T_DIR/next-ran" "$T_DIR/beside-ended" "$suites"/1[567]-*.sh

# t_lane (tests/lib/harness.sh): two lanes run at once, beside the suite's own checks; their
# output is printed and their counts added at t_lane_join, a failure in a lane included; a lane
# still running when the suite ends is waited for.
cat >"$T_DIR/lanes.sh" <<SH
T_NAME=lanes
. "$MADANG_ROOT/tests/lib/harness.sh"
one() { sleep 2; t_ok "lane one"; t_fail "lane one's failure"; }
two() { sleep 2; t_ok "lane two"; }
late() { sleep 1; : >"$T_DIR/late-ended"; }
start=\$(date +%s)
t_lane one
t_lane two
t_ok "beside the lanes"
t_lane_join
t_check "the two lanes ran at once (2 s each)" [ \$((\$(date +%s) - start)) -lt 4 ]
t_lane late
t_done
SH
out=$(sh "$T_DIR/lanes.sh" 2>&1)
echo "$out" | sed 's/^/    /'
t_check "t_lane_join adds the lanes' counts, a failure in one of them included" \
	sh -c 'echo "$1" | grep -qx "lanes: 4 passed, 1 failed, 0 skipped"' sh "$out"
t_check "... and prints each lane's output after the suite's own lines" \
	sh -c 'echo "$1" | sed -n "/^ok - beside the lanes/,\$p" | grep -q "^ok - lane two"' sh "$out"
t_check "a lane still running when the suite ends is waited for" test -e "$T_DIR/late-ended"

# A failed suite's failing checks are repeated at the end, under its name: CI keeps only the
# end of the output.
cat >"$suites/50-fails.sh" <<'SH'
#!/bin/sh
echo "ok - fine"
echo "not ok 7 - the node test that failed"
echo "  error: 'pongs 22'"
echo "FAIL - the shell check that failed"
echo "[plain] [  ERROR   ] --- 0x7c != 0x1"
echo "[plain] [   LINE   ] --- tests/integration/it_x.c:497: error: Failure!"
echo "[plain] [  FAILED  ] test_the_cmocka_test_that_failed"
echo "[30-ws] not ok 3 - a test 80-sanitizers ran that failed"
echo "[30-ws] FAIL - a check 80-sanitizers ran that failed"
echo "fails: 1 passed, 2 failed"
exit 1
SH
chmod +x "$suites/50-fails.sh"
out=$(MADANG_SUITES_DIR="$suites" MADANG_GUARD_NODES="$node" MADANG_GUARD_INSTALLED="$T_DIR/etc-madang" "$MADANG_ROOT/tests/run.sh" "$build" 2>&1)
tail_of() { echo "$out" | sed -n '/^make test: /q;/^--- what failed in 50-fails:$/,$p'; }
t_check "the end of the output repeats a failed suite's failing checks and errors" \
	sh -c 'echo "$1" | grep -qx "not ok 7 - the node test that failed" &&
		echo "$1" | grep -qx "  error: .pongs 22." &&
		echo "$1" | grep -qx "FAIL - the shell check that failed" &&
		echo "$1" | grep -qx ".plain. .  FAILED  . test_the_cmocka_test_that_failed" &&
		echo "$1" | grep -q "it_x.c:497: error" &&
		echo "$1" | grep -qx ".30-ws. not ok 3 - a test 80-sanitizers ran that failed" &&
		echo "$1" | grep -qx ".30-ws. FAIL - a check 80-sanitizers ran that failed" &&
		! echo "$1" | grep -q "ok - fine"' sh "$(tail_of)"
rm "$suites/50-fails.sh"

# t_cleanup ends the daemons a node test file started with tests/lib/stack.mjs and left behind
# (detach(): the file has exited), by the PIDs stack.mjs recorded, when the suite ends.
if [ -x "$MADANG_BIN/madang-broker" ] && command -v node >/dev/null 2>&1; then
	leaves="$T_DIR/leaves"
	mkdir -p "$leaves"
	cat >"$T_DIR/leave.mjs" <<JS
import { startBroker } from '$MADANG_ROOT/tests/lib/stack.mjs';
const b = await startBroker();
b.detach();
console.log(b.pid);
JS
	cat >"$leaves/10-leaves.sh" <<SH
#!/bin/sh
T_NAME=leaves
. "\$MADANG_ROOT/tests/lib/harness.sh"
export MADANG_BIN="$MADANG_BIN"
t_stack_dirs
node "$T_DIR/leave.mjs" >"$T_DIR/left.pid"
t_check "a broker is left behind" kill -0 "\$(cat "$T_DIR/left.pid")"
t_done
SH
	chmod +x "$leaves/10-leaves.sh"
	out=$(MADANG_SUITES_DIR="$leaves" MADANG_GUARD_NODES="$node" MADANG_GUARD_INSTALLED="$T_DIR/etc-madang" "$MADANG_ROOT/tests/run.sh" "$build" 2>&1)
	echo "$out" | sed 's/^/    /'
	left=$(cat "$T_DIR/left.pid" 2>/dev/null)
	# gone, or a zombie of a parent that does not reap (the broker's parent, node, has exited)
	ended() { [ -n "$1" ] && ! grep -qv '^[0-9]* ([^)]*) Z' "/proc/$1/stat" 2>/dev/null; }
	t_check "t_cleanup ends a daemon a test file left behind, by its recorded PID ($left)" ended "$left"
	[ -n "$left" ] && ! ended "$left" && kill -KILL "$left"
else
	t_fail "madang-broker and node are needed for the stack cleanup check"
fi

t_done
