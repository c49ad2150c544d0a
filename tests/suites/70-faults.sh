#!/bin/sh
# 70-faults.sh — fault injection while clients chat (docs/reliability.md): the broker killed
# (with and without --data) and stopped, one of two madang-ws killed, slow / never-reading /
# vanishing clients, nginx reloaded. Each tests/faults/*.test.mjs starts its own daemons on free
# 127.0.0.1 ports (tests/faults/stack.mjs) and writes their PIDs to $T_DIR/pids, so whatever a
# test file leaves behind (even when its time limit kills it) is ended here by PID.
T_NAME=faults
. "$MADANG_ROOT/tests/lib/harness.sh"

root=$MADANG_ROOT
FILE_TIMEOUT=${FAULTS_FILE_TIMEOUT:-100}

for prog in "$MADANG_BIN/madang-broker" "$MADANG_BIN/madang-ws" "$MADANG_BIN/madang-api"; do
	if [ ! -x "$prog" ]; then
		t_fail "missing $prog"
		t_done
	fi
done
if ! command -v node >/dev/null 2>&1 || [ ! -f "$root/tests/node_modules/ws/package.json" ]; then
	t_fail "node and tests/node_modules/ws are needed (make node-deps)"
	t_done
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$NGINX" ] || {
	t_fail "nginx is not installed (scripts/install-deps.sh test)"
	t_done
}

mkdir -p "$T_DIR/pids" "$T_DIR/work"
export MADANG_FAULTS_PIDDIR="$T_DIR/pids" MADANG_FAULTS_DIR="$T_DIR/work" MADANG_NGINX="$NGINX"

# Ends the daemons the test files started (their PIDs are in $T_DIR/pids), then the harness's.
faults_cleanup() {
	for f in "$T_DIR"/pids/*; do
		[ -f "$f" ] || continue
		pid=$(cat "$f")
		# only if it is still one of ours (a madang daemon or nginx), never a reused PID
		case "$(cat "/proc/$pid/cmdline" 2>/dev/null | tr '\0' ' ')" in
		*madang-*|*nginx*) kill -CONT "$pid" 2>/dev/null; kill -KILL "$pid" 2>/dev/null ;;
		esac
	done
	t_cleanup
}
trap faults_cleanup EXIT

run_file() {
	echo "--- $1"
	out=$(cd "$root/tests/faults" && timeout --kill-after=5 "$FILE_TIMEOUT" node --test --test-reporter=tap "$1" 2>&1)
	rc=$?
	echo "$out"
	p=$(echo "$out" | sed -nE 's/^# pass ([0-9]+)$/\1/p' | tail -n 1)
	f=$(echo "$out" | sed -nE 's/^# fail ([0-9]+)$/\1/p' | tail -n 1)
	c=$(echo "$out" | sed -nE 's/^# cancelled ([0-9]+)$/\1/p' | tail -n 1)
	s=$(echo "$out" | sed -nE 's/^# skipped ([0-9]+)$/\1/p' | tail -n 1)
	T_PASS=$((T_PASS + ${p:-0}))
	T_FAIL=$((T_FAIL + ${f:-0} + ${c:-0}))
	T_SKIP=$((T_SKIP + ${s:-0}))
	if [ "$rc" -ne 0 ] && [ "${f:-0}" -eq 0 ] && [ "${c:-0}" -eq 0 ]; then
		t_fail "$1 exited $rc"
	fi
	echo "$out" | grep 'measure:' | sed 's/^# *//' >>"$T_DIR/measure.txt"
}

for f in "$root"/tests/faults/*.test.mjs; do
	run_file "$(basename "$f")"
done

echo "--- measured"
cat "$T_DIR/measure.txt" 2>/dev/null
t_check "no sanitizer report or crash in the daemons' logs" \
	sh -c "! grep -lE 'ERROR: AddressSanitizer|runtime error|Segmentation' '$T_DIR'/work/*.log"
if [ "$T_FAIL" -ne 0 ]; then
	for log in "$T_DIR"/work/*.log; do echo "--- $log"; tail -n 30 "$log"; done
fi
t_done
