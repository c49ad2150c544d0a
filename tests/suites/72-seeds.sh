#!/bin/sh
# 72-seeds.sh — the clients of the original design documents (/shared/seeds: 000's React
# ChatRoom, 001's reconnecting useChatWebSocket hook, 003's FocusMate hook with JWT and
# heartbeat), each run as written in node against a real madang-broker and madang-ws
# (tests/seeds/*.test.mjs, daemons started by tests/lib/stack.mjs on free 127.0.0.1 ports,
# their PIDs recorded and ended here by t_cleanup whatever happens to the test file).
T_NAME=seeds
. "$MADANG_ROOT/tests/lib/harness.sh"

root=$MADANG_ROOT
t_need --node "$MADANG_BIN/madang-broker" "$MADANG_BIN/madang-ws" "$MADANG_BIN/madang-token"
t_stack_dirs

for f in "$root"/tests/seeds/*.test.mjs; do
	t_node_file "$root/tests/seeds" "$(basename "$f")" 90
done
t_check "no sanitizer report or crash in the daemons' logs" \
	sh -c "! grep -lE 'ERROR: AddressSanitizer|runtime error|Segmentation' '$T_STACK_DIR'/*.log"
if [ "$T_FAIL" -ne 0 ]; then
	for log in "$T_STACK_DIR"/*.log; do echo "--- $log"; tail -n 30 "$log"; done
fi
t_done
