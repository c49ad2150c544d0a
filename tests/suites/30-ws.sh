#!/bin/sh
# 30-ws.sh — madang-ws against the real madang-broker: the `ws` stack of tests/lib/stack-up.mjs
# (two front-ends: ws1 with the default limits, ws2 with a high rate limit, few rooms per
# connection and a trusted proxy; ws3 requires tokens) on free 127.0.0.1 ports, the broker on
# free TCP ports. Runs tests/integration/ws/*.test.mjs with node --test, one file at a time under
# a time limit (brokers and quiet in a lane beside the others); survival.test.mjs runs last because
# it kills and restarts the daemons. Then checks that madang-ws exits 0 after SIGTERM.
# WS_LOOP_ARGS (31-ws-poll.sh) is added to every madang-ws started here and by the tests, and
# WS_BROKER_ARGS to the broker (31-ws-poll.sh: --no-bundles, so that the front-ends take room
# events from the room topics there and from bundles here).
T_NAME=${T_NAME:-ws}
. "$MADANG_ROOT/tests/lib/harness.sh"

root=$MADANG_ROOT
bin=$MADANG_BIN
FILE_TIMEOUT=${WS_FILE_TIMEOUT:-90}
loop_args=${WS_LOOP_ARGS:-}

t_need --node "$bin/madang-broker" "$bin/madang-ws"

if ! t_stack ws; then
	t_fail "the ws stack did not start"
	t_done
fi
ws1_port=$MADANG_WS1_PORT
ws2_port=$MADANG_WS2_PORT
healthy() { curl -fsS --max-time 2 "http://127.0.0.1:$1/healthz" >/dev/null; }
t_check "ws1 reports healthy (registered with the broker)" t_wait_for 10 healthy "$ws1_port"
t_check "ws2 reports healthy (registered with the broker)" t_wait_for 10 healthy "$ws2_port"
bundles=true
[ "${WS_BROKER_ARGS:-}" = --no-bundles ] && bundles=false
bundled() { curl -fsS --max-time 2 "http://127.0.0.1:$1/healthz" | grep -q "\"event_bundles\":$bundles,"; }
t_check "ws1 takes room events $([ $bundles = true ] && echo as bundles || echo per room) (/healthz)" \
	bundled "$ws1_port"

# brokers.test.mjs and quiet.test.mjs start their own brokers and madang-ws with their defaults,
# whatever WS_LOOP_ARGS and WS_BROKER_ARGS say: under 31-ws-poll they would run the same again
# (~30 s), so they run here only. They mostly wait on their daemons and share nothing with the
# stack above, so they run in a lane beside the files that use it (t_lane).
own_daemons() {
	for name in brokers.test.mjs quiet.test.mjs; do
		t_node_file "$root/tests/integration/ws" "$name" "$FILE_TIMEOUT"
	done
}
[ -z "${WS_LOOP_ARGS:-}${WS_BROKER_ARGS:-}" ] && t_lane own_daemons
for f in "$root"/tests/integration/ws/*.test.mjs; do
	name=$(basename "$f")
	case $name in survival.test.mjs | brokers.test.mjs | quiet.test.mjs) continue ;; esac
	t_node_file "$root/tests/integration/ws" "$name" "$FILE_TIMEOUT"
done
t_node_file "$root/tests/integration/ws" survival.test.mjs "$FILE_TIMEOUT"
t_lane_join

# survival.test.mjs ends by sending ws1 SIGTERM: it must have exited, and with status 0
# (stack-up.mjs, its parent, writes the status).
t_wait_for 5 test -s "$T_STACK_DIR/ws1.exit"
if [ ! -s "$T_STACK_DIR/ws1.exit" ]; then
	t_fail "madang-ws did not exit within 5 s of SIGTERM"
else
	rc=$(cat "$T_STACK_DIR/ws1.exit")
	t_check "madang-ws exits 0 after SIGTERM (got $rc)" [ "$rc" = 0 ]
	t_check "madang-ws logged its stop" grep -q "ws-test-1 stopped" "$MADANG_WS1_LOG"
	loop_name=libev
	[ -n "$loop_args" ] && loop_name=${loop_args##* }
	t_check "madang-ws ran on the event loop asked for ($loop_name)" \
		grep -q "event loop $loop_name\$" "$MADANG_WS1_LOG"
fi
bad_loop() { ! "$bin/madang-ws" --event-loop epoll >"$T_DIR/bad-loop.out" 2>&1 &&
	grep -q -- "--event-loop must be poll or libev" "$T_DIR/bad-loop.out"; }
t_check "madang-ws refuses an unknown --event-loop with a clear error" bad_loop
t_check "no sanitizer or lws error in the madang-ws logs" \
	sh -c "! grep -E 'ERROR: |runtime error|AddressSanitizer' '$MADANG_WS1_LOG' '$MADANG_WS2_LOG'"

if [ "$T_FAIL" -ne 0 ]; then
	for log in "$T_DIR"/*.log "$T_STACK_DIR"/*.log; do echo "--- $log"; tail -n 40 "$log"; done
fi
t_done
