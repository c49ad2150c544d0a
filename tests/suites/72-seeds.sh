#!/bin/sh
# 72-seeds.sh — the clients of the original design documents (/shared/seeds: 000's React
# ChatRoom, 001's reconnecting useChatWebSocket hook, 003's FocusMate hook with JWT and
# heartbeat), each run as written in node against a real madang-broker and madang-ws
# (tests/seeds/*.test.mjs, daemons started by tests/faults/stack.mjs on free 127.0.0.1 ports,
# their PIDs in $T_DIR/pids and ended here whatever happens to the test file).
T_NAME=seeds
. "$MADANG_ROOT/tests/lib/harness.sh"

root=$MADANG_ROOT
for prog in "$MADANG_BIN/madang-broker" "$MADANG_BIN/madang-ws" "$MADANG_BIN/madang-token"; do
	if [ ! -x "$prog" ]; then
		t_fail "missing $prog"
		t_done
	fi
done
if ! command -v node >/dev/null 2>&1 || [ ! -f "$root/tests/node_modules/ws/package.json" ]; then
	t_fail "node and tests/node_modules/ws are needed (make node-deps)"
	t_done
fi

mkdir -p "$T_DIR/pids" "$T_DIR/work"
export MADANG_FAULTS_PIDDIR="$T_DIR/pids" MADANG_FAULTS_DIR="$T_DIR/work"

seeds_cleanup() {
	for f in "$T_DIR"/pids/*; do
		[ -f "$f" ] || continue
		pid=$(cat "$f")
		# only if it is still one of ours, never a reused PID
		case "$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" in
		*madang-*) kill -CONT "$pid" 2>/dev/null; kill -KILL "$pid" 2>/dev/null ;;
		esac
	done
	t_cleanup
}
trap seeds_cleanup EXIT

for f in "$root"/tests/seeds/*.test.mjs; do
	t_node_file "$root/tests/seeds" "$(basename "$f")" 90
done
t_check "no sanitizer report or crash in the daemons' logs" \
	sh -c "! grep -lE 'ERROR: AddressSanitizer|runtime error|Segmentation' '$T_DIR'/work/*.log"
if [ "$T_FAIL" -ne 0 ]; then
	for log in "$T_DIR"/work/*.log; do echo "--- $log"; tail -n 30 "$log"; done
fi
t_done
