#!/bin/sh
# 71-hostile.sh — the hostile-input corpus (tests/hostile/, docs/reliability.md) against the real
# daemons on free 127.0.0.1 ports (tests/lib/stack-up.mjs): over WebSocket to madang-ws with its default limits
# (ws-cases.json via ws.test.mjs), over HTTP through nginx to madang-api (http-cases.txt via
# http.sh, raw sockets), over nng to the broker (nng-cases.txt via nng_garbage.c), and from a
# fake event stream to a madang-ws (events.test.mjs via nng_pub.c). After each group a normal
# client still chats / gets its answer, and every daemon is still running.
T_NAME=hostile
. "$MADANG_ROOT/tests/lib/harness.sh"

root=$MADANG_ROOT
bin=$MADANG_BIN
hostile=$root/tests/hostile

NGINX=$(command -v nginx || echo /usr/sbin/nginx)
t_need --node "$bin/madang-broker" "$bin/madang-ws" "$bin/madang-api" "$NGINX"

# The `hostile` stack of tests/lib/stack-up.mjs: 20 rooms (the join flood needs more than
# --max-rooms-per-conn), madang-ws with its default limits, madang-api behind nginx.
if ! t_stack hostile; then
	t_fail "the hostile stack did not start"
	t_done
fi
rpc=$MADANG_BROKER_RPC
events=$MADANG_BROKER_EVENTS
BROKER=$MADANG_BROKER_PID
WS=$MADANG_WS_PID
API=$MADANG_API_PID
NGINX_PID=$MADANG_NGINX_PID
nginx_port=$MADANG_NGINX_PORT
t_check "madang-ws is registered with the broker" \
	t_wait_for 10 sh -c "curl -fsS --max-time 2 http://127.0.0.1:$MADANG_WS_PORT/healthz >/dev/null"

fds() { ls "/proc/$1/fd" 2>/dev/null | wc -l; }
rss() { sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$1/status" 2>/dev/null; }
WS_FDS0=$(fds "$WS")
BROKER_FDS0=$(fds "$BROKER")
WS_RSS0=$(rss "$WS")

alive() {
	for p in "$BROKER" "$WS" "$API" "$NGINX_PID"; do
		kill -0 "$p" 2>/dev/null || return 1
	done
}

# --- WebSocket -----------------------------------------------------------------------------------
t_node_file "$hostile" ws.test.mjs 150
t_check "after the WebSocket corpus every daemon is still running" alive

# --- HTTP ----------------------------------------------------------------------------------------
t_node_file "$hostile" http.test.mjs 150
t_check "after the HTTP corpus every daemon is still running" alive

# --- nng -----------------------------------------------------------------------------------------
if [ -f "$hostile/nng_garbage.c" ]; then
	echo "--- nng_garbage"
	if cc -O1 -o "$T_DIR/nng_garbage" "$hostile/nng_garbage.c" -lnng -lpthread 2>"$T_DIR/cc.log"; then
		while IFS='	' read -r want name hex; do
			case "$want" in '' | '#'*) continue ;; esac
			got=$(timeout 10 "$T_DIR/nng_garbage" "$rpc" "$hex" 2>&1)
			case "$got" in
			*"\"error\":\"$want\""*) t_ok "nng: $name -> $want" ;;
			"$want") t_ok "nng: $name -> $want" ;;
			*) t_fail "nng: $name -> want $want, got: $(echo "$got" | head -c 300)" ;;
			esac
		done <"$hostile/nng-cases.txt"
		got=$(timeout 10 "$T_DIR/nng_garbage" "$events" "raw:$(printf 'garbage on the event stream\r\n' | od -An -tx1 -v | tr -d ' \n')")
		t_check "nng: plain TCP garbage to the event stream is dropped (got $got)" [ "$got" = dropped ]
		t_check "nng: after the garbage the broker answers health" \
			"$MADANG_TESTBIN/it_rpc" --timeout 2000 --check "$rpc" '{"op":"health"}'
		t_check "after the nng corpus every daemon is still running" alive
	else
		t_fail "cannot build nng_garbage: $(head -c 300 "$T_DIR/cc.log")"
	fi
fi

# --- the event stream ------------------------------------------------------------------------------
# A madang-ws of events.test.mjs's own takes its events from nng_pub.c instead of the broker.
if cc -O1 -o "$T_DIR/nng_pub" "$hostile/nng_pub.c" -lnng -lpthread 2>"$T_DIR/cc-pub.log"; then
	export MADANG_NNG_PUB="$T_DIR/nng_pub"
	t_node_file "$hostile" events.test.mjs 150
	t_check "after the event-stream corpus every daemon is still running" alive
else
	t_fail "cannot build nng_pub: $(head -c 300 "$T_DIR/cc-pub.log")"
fi

# A normal client chats at the very end too (through nginx this time).
t_check "a normal client still chats through nginx at the end" \
	sh -c "cd '$hostile' && timeout 20 node chat-check.mjs 'ws://127.0.0.1:$nginx_port'"
# Nothing leaks descriptors: once the corpus' connections are gone, madang-ws and the broker are
# back near where they started (a few may be open for the chat check's leftovers).
fds_back() { [ "$(fds "$1")" -le $(($2 + 8)) ]; }
t_wait_for 10 fds_back "$WS" "$WS_FDS0"
t_check "madang-ws descriptors back to $WS_FDS0 (+8) after the corpus (now $(fds "$WS"); RSS $WS_RSS0 -> $(rss "$WS") KiB)" \
	fds_back "$WS" "$WS_FDS0"
t_check "broker descriptors back to $BROKER_FDS0 (+8) after the corpus (now $(fds "$BROKER"))" \
	fds_back "$BROKER" "$BROKER_FDS0"
t_check "no sanitizer report or crash in the daemons' logs" \
	sh -c "! grep -lE 'ERROR: AddressSanitizer|runtime error|Segmentation' '$T_DIR'/*.log '$T_STACK_DIR'/*.log"
if [ "$T_FAIL" -ne 0 ]; then
	for log in "$T_DIR"/*.log "$T_STACK_DIR"/*.log; do echo "--- $log"; tail -n 20 "$log"; done
fi
t_done
