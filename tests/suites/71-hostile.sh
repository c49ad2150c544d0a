#!/bin/sh
# 71-hostile.sh — the hostile-input corpus (tests/hostile/, docs/reliability.md) against the real
# daemons on free 127.0.0.1 ports: over WebSocket to madang-ws with its default limits
# (ws-cases.json via ws.test.mjs), over HTTP through nginx to madang-api (http-cases.txt via
# http.sh, raw sockets), over nng to the broker (nng-cases.txt via nng_garbage.c), and from a
# fake event stream to a madang-ws (events.test.mjs via nng_pub.c). After each group a normal
# client still chats / gets its answer, and every daemon is still running.
T_NAME=hostile
. "$MADANG_ROOT/tests/lib/harness.sh"

root=$MADANG_ROOT
bin=$MADANG_BIN
hostile=$root/tests/hostile

for prog in "$bin/madang-broker" "$bin/madang-ws" "$bin/madang-api"; do
	if [ ! -x "$prog" ]; then
		t_fail "missing $prog"
		t_done
	fi
done
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
if [ ! -x "$NGINX" ] || ! command -v node >/dev/null 2>&1 || [ ! -f "$root/tests/node_modules/ws/package.json" ]; then
	t_fail "nginx, node and tests/node_modules/ws are needed (make test installs them)"
	t_done
fi

# 20 rooms: the join flood needs more than --max-rooms-per-conn (16).
{
	printf '{"rooms":['
	for i in $(seq 1 20); do
		[ "$i" -gt 1 ] && printf ','
		printf '{"id":"room%d","name":"Room %d"}' "$i" "$i"
	done
	printf ']}\n'
} >"$T_DIR/rooms.json"

rpc="tcp://127.0.0.1:$(t_free_port)"
events="tcp://127.0.0.1:$(t_free_port)"
t_start broker "$bin/madang-broker" --rpc "$rpc" --events "$events" --rooms "$T_DIR/rooms.json"
BROKER=$T_LAST_PID
t_wait_port "${rpc##*:}" || t_fail "madang-broker did not listen on $rpc"
ws_port=$(t_free_port)
t_start ws "$bin/madang-ws" --listen "127.0.0.1:$ws_port" --rpc "$rpc" --events "$events" --id ws-hostile
WS=$T_LAST_PID
api_port=$(t_free_port)
t_start api "$bin/madang-api" --listen "127.0.0.1:$api_port" --rpc "$rpc" --timeout 1000
API=$T_LAST_PID
nginx_port=$(t_free_port)
"$root/scripts/render-nginx.sh" --out "$T_DIR/nginx" --port "$nginx_port" --web-root "$root/web" \
	--api "127.0.0.1:$api_port" --ws "127.0.0.1:$ws_port" || t_fail "render-nginx.sh"
t_start nginx "$NGINX" -c "$T_DIR/nginx/nginx.conf" -p "$T_DIR/nginx" -e stderr
NGINX_PID=$T_LAST_PID
t_wait_port "$ws_port" || t_fail "madang-ws did not listen"
t_wait_port "$api_port" || t_fail "madang-api did not listen"
t_wait_port "$nginx_port" || t_fail "nginx did not listen"
t_check "madang-ws is registered with the broker" \
	t_wait_for 10 sh -c "curl -fsS --max-time 2 http://127.0.0.1:$ws_port/healthz >/dev/null"

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

# run_file FILE ENV...: one node test file of tests/hostile under a time limit; counts added.
run_file() {
	f=$1
	shift
	echo "--- $f"
	out=$(cd "$hostile" && env "$@" timeout --kill-after=5 150 node --test --test-reporter=tap "$f" 2>&1)
	rc=$?
	echo "$out"
	p=$(echo "$out" | sed -nE 's/^# pass ([0-9]+)$/\1/p' | tail -n 1)
	f_=$(echo "$out" | sed -nE 's/^# fail ([0-9]+)$/\1/p' | tail -n 1)
	c=$(echo "$out" | sed -nE 's/^# cancelled ([0-9]+)$/\1/p' | tail -n 1)
	T_PASS=$((T_PASS + ${p:-0}))
	T_FAIL=$((T_FAIL + ${f_:-0} + ${c:-0}))
	if [ "$rc" -ne 0 ] && [ "${f_:-0}" -eq 0 ] && [ "${c:-0}" -eq 0 ]; then
		t_fail "$f exited $rc"
	fi
}

# --- WebSocket -----------------------------------------------------------------------------------
run_file ws.test.mjs MADANG_HOSTILE_WS="ws://127.0.0.1:$ws_port"
t_check "after the WebSocket corpus every daemon is still running" alive

# --- HTTP ----------------------------------------------------------------------------------------
run_file http.test.mjs MADANG_HOSTILE_HTTP="127.0.0.1:$nginx_port"
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
	run_file events.test.mjs MADANG_HOSTILE_RPC="$rpc" MADANG_BIN="$bin" \
		MADANG_NNG_PUB="$T_DIR/nng_pub" MADANG_HOSTILE_LOGS="$T_DIR"
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
	sh -c "! grep -lE 'ERROR: AddressSanitizer|runtime error|Segmentation' '$T_DIR'/*.log"
if [ "$T_FAIL" -ne 0 ]; then
	for log in "$T_DIR"/*.log; do echo "--- $log"; tail -n 20 "$log"; done
fi
t_done
