#!/bin/sh
# 70-faults.sh — fault injection while clients chat (docs/reliability.md): the broker killed
# (with and without --data) and stopped, one of two madang-ws killed, slow / never-reading /
# vanishing clients, nginx reloaded. Each tests/faults/*.test.mjs starts its own daemons on free
# 127.0.0.1 ports (tests/lib/stack.mjs), which records their PIDs, so whatever a test file leaves
# behind (even when its time limit kills it) is ended here by PID (t_cleanup).
# runner: alongside (tests/run.sh: it runs beside the suites after it; it shares nothing with them)
T_NAME=faults
. "$MADANG_ROOT/tests/lib/harness.sh"

root=$MADANG_ROOT
FILE_TIMEOUT=${FAULTS_FILE_TIMEOUT:-100}

t_need --node "$MADANG_BIN/madang-broker" "$MADANG_BIN/madang-ws" "$MADANG_BIN/madang-api"
t_stack_dirs
[ -x "$MADANG_NGINX" ] || {
	t_fail "nginx is not installed (scripts/install-deps.sh test)"
	t_done
}

for f in "$root"/tests/faults/*.test.mjs; do
	t_node_file "$root/tests/faults" "$(basename "$f")" "$FILE_TIMEOUT"
	echo "$T_NODE_OUT" | grep 'measure:' | sed 's/^# *//' >>"$T_DIR/measure.txt"
done

echo "--- measured"
cat "$T_DIR/measure.txt" 2>/dev/null
t_check "no sanitizer report or crash in the daemons' logs" \
	sh -c "! grep -lE 'ERROR: AddressSanitizer|runtime error|Segmentation' '$T_STACK_DIR'/*.log"
if [ "$T_FAIL" -ne 0 ]; then
	for log in "$T_STACK_DIR"/*.log; do echo "--- $log"; tail -n 30 "$log"; done
fi
t_done
