#!/bin/sh
# 30-ws.sh — madang-ws against the real madang-broker: two front-ends (ws1 with the default
# limits, ws2 with a high rate limit, few rooms per connection and a trusted proxy) on free
# 127.0.0.1 ports, the broker on free TCP ports. Runs tests/integration/ws/*.test.mjs with
# node --test, one file at a time under a time limit; survival.test.mjs runs last because it
# kills and restarts the daemons. Then checks that madang-ws exits 0 after SIGTERM.
# WS_LOOP_ARGS (31-ws-poll.sh) is added to every madang-ws started here and by the tests, and
# WS_BROKER_ARGS to the broker (31-ws-poll.sh: --no-bundles, so that the front-ends take room
# events from the room topics there and from bundles here).
T_NAME=${T_NAME:-ws}
. "$MADANG_ROOT/tests/lib/harness.sh"

root=$MADANG_ROOT
bin=$MADANG_BIN
FILE_TIMEOUT=${WS_FILE_TIMEOUT:-90}
loop_args=${WS_LOOP_ARGS:-}
broker_extra=${WS_BROKER_ARGS:-}

for prog in "$bin/madang-broker" "$bin/madang-ws"; do
	if [ ! -x "$prog" ]; then
		t_fail "missing $prog"
		t_done
	fi
done
if ! command -v node >/dev/null 2>&1 || [ ! -f "$root/tests/node_modules/ws/package.json" ]; then
	t_fail "node and tests/node_modules/ws are needed (make test installs them)"
	t_done
fi

cat >"$T_DIR/rooms.json" <<'JSON'
{"rooms":[{"id":"room1","name":"일반 대화"},{"id":"room2","name":"기술 토론"},
 {"id":"room3","name":"Three"},{"id":"room4","name":"Four"},{"id":"room5","name":"Five"},
 {"id":"room6","name":"Six"},{"id":"room7","name":"Seven"},{"id":"doomed","name":"Doomed"}]}
JSON

rpc="tcp://127.0.0.1:$(t_free_port)"
events="tcp://127.0.0.1:$(t_free_port)"
broker_args="--rpc $rpc --events $events --rooms $T_DIR/rooms.json --frontend-timeout 1500${broker_extra:+ $broker_extra}"
# shellcheck disable=SC2086
t_start broker "$bin/madang-broker" $broker_args
broker_pid=$T_LAST_PID
t_wait_port "${rpc##*:}" || t_fail "madang-broker did not listen on $rpc"

ws1_port=$(t_free_port)
# shellcheck disable=SC2086 # loop_args: zero or more words
t_start ws1 "$bin/madang-ws" --listen "127.0.0.1:$ws1_port" --rpc "$rpc" --events "$events" --id ws-test-1 $loop_args
ws1_pid=$T_LAST_PID
ws2_port=$(t_free_port)
t_start ws2 "$bin/madang-ws" --listen "127.0.0.1:$ws2_port" --rpc "$rpc" --events "$events" --id ws-test-2 \
	--queue-limit 1048576 --rate 100000 --burst 100000 --max-rooms-per-conn 2 \
	--max-conns-per-ip 4 --trusted-proxies 127.0.0.1 $loop_args
ws2_pid=$T_LAST_PID
# ws3 requires tokens (--jwt-secret-file): tests/integration/ws/auth.test.mjs.
head -c 48 /dev/urandom | base64 | tr -d '\n' >"$T_DIR/jwt.secret"
ws3_port=$(t_free_port)
t_start ws3 "$bin/madang-ws" --listen "127.0.0.1:$ws3_port" --rpc "$rpc" --events "$events" --id ws-test-3 \
	--jwt-secret-file "$T_DIR/jwt.secret" $loop_args
t_wait_port "$ws1_port" || t_fail "madang-ws (ws1) did not listen on $ws1_port"
t_wait_port "$ws2_port" || t_fail "madang-ws (ws2) did not listen on $ws2_port"
healthy() { curl -fsS --max-time 2 "http://127.0.0.1:$1/healthz" >/dev/null; }
t_check "ws1 reports healthy (registered with the broker)" t_wait_for 10 healthy "$ws1_port"
t_check "ws2 reports healthy (registered with the broker)" t_wait_for 10 healthy "$ws2_port"
bundles=true
[ "$broker_extra" = --no-bundles ] && bundles=false
bundled() { curl -fsS --max-time 2 "http://127.0.0.1:$1/healthz" | grep -q "\"event_bundles\":$bundles,"; }
t_check "ws1 takes room events $([ $bundles = true ] && echo as bundles || echo per room) (/healthz)" \
	bundled "$ws1_port"

t_wait_port "$ws3_port" || t_fail "madang-ws (ws3, tokens) did not listen on $ws3_port"
export MADANG_WS1_URL="ws://127.0.0.1:$ws1_port" MADANG_WS2_URL="ws://127.0.0.1:$ws2_port"
export MADANG_WS3_URL="ws://127.0.0.1:$ws3_port" MADANG_JWT_SECRET_FILE="$T_DIR/jwt.secret"
export MADANG_TOKEN_BIN="$bin/madang-token"
export MADANG_BROKER_RPC="$rpc"
export MADANG_BROKER_PID=$broker_pid MADANG_WS1_PID=$ws1_pid MADANG_WS2_PID=$ws2_pid
export MADANG_BROKER_CMD="$bin/madang-broker $broker_args"
export MADANG_BROKER_LOG="$T_DIR/broker-restarted.log" MADANG_BROKER_PIDFILE="$T_DIR/broker-restarted.pid"
export MADANG_WS_REUSE_CMD="$bin/madang-ws --rpc $rpc --events $events --reuseport${loop_args:+ $loop_args}"

# run_file FILE: runs one test file under a time limit and adds its counts to ours.
run_file() {
	echo "--- $1"
	out=$(cd "$root/tests/integration/ws" && timeout --kill-after=5 "$FILE_TIMEOUT" node --test --test-reporter=tap "$1" 2>&1)
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
}

for f in "$root"/tests/integration/ws/*.test.mjs; do
	name=$(basename "$f")
	[ "$name" = survival.test.mjs ] && continue
	run_file "$name"
done
run_file survival.test.mjs

# The broker survival.test.mjs started again is ours to stop.
if [ -s "$MADANG_BROKER_PIDFILE" ]; then
	T_PIDS="$T_PIDS $(cat "$MADANG_BROKER_PIDFILE")"
fi

# survival.test.mjs ends by sending ws1 SIGTERM: it must have exited, and with status 0.
i=0
while kill -0 "$ws1_pid" 2>/dev/null && [ $i -lt 50 ]; do
	sleep 0.1
	i=$((i + 1))
done
if kill -0 "$ws1_pid" 2>/dev/null; then
	t_fail "madang-ws did not exit within 5 s of SIGTERM"
else
	wait "$ws1_pid"
	rc=$?
	t_check "madang-ws exits 0 after SIGTERM (got $rc)" [ "$rc" -eq 0 ]
	t_check "madang-ws logged its stop" grep -q "ws-test-1 stopped" "$T_DIR/ws1.log"
	loop_name=libev
	[ -n "$loop_args" ] && loop_name=${loop_args##* }
	t_check "madang-ws ran on the event loop asked for ($loop_name)" \
		grep -q "event loop $loop_name\$" "$T_DIR/ws1.log"
fi
bad_loop() { ! "$bin/madang-ws" --event-loop epoll >"$T_DIR/bad-loop.out" 2>&1 &&
	grep -q -- "--event-loop must be poll or libev" "$T_DIR/bad-loop.out"; }
t_check "madang-ws refuses an unknown --event-loop with a clear error" bad_loop
t_check "no sanitizer or lws error in the madang-ws logs" \
	sh -c "! grep -E 'ERROR: |runtime error|AddressSanitizer' '$T_DIR/ws1.log' '$T_DIR/ws2.log'"

if [ "$T_FAIL" -ne 0 ]; then
	for log in "$T_DIR"/*.log; do echo "--- $log"; tail -n 40 "$log"; done
fi
t_done
