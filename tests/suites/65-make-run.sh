#!/bin/sh
# 65-make-run.sh — `make run`'s script for real: the whole stack behind nginx on a free port,
# answering through nginx, its broker sockets private, madang-ws trusting its nginx; SIGTERM stops every process it started; a second run right after works.
T_NAME=make-run
. "$MADANG_ROOT/tests/lib/harness.sh"

port=$(t_free_port)
ws_port=$(t_free_port)
run_once() {
	label=$1
	PORT=$port WS_PORT=$ws_port RUN_DIR="$T_DIR/run" DATA_DIR="$T_DIR/data" \
		setsid "$MADANG_ROOT/scripts/run.sh" >"$T_DIR/run-$label.log" 2>&1 &
	pid=$!
	T_PIDS="$T_PIDS $pid"
	if t_wait_for 20 grep -q "madang is running at http://127.0.0.1:$port/" "$T_DIR/run-$label.log"; then
		t_ok "$label: prints the URL"
	else
		t_fail "$label: no URL printed"; cat "$T_DIR/run-$label.log"; return
	fi
	body=$(curl -s --max-time 5 "http://127.0.0.1:$port/api/rooms")
	case "$body" in
	'{"rooms":[{"id":"room1","name":"일반 대화","users_count":0}'*) t_ok "$label: /api/rooms through nginx" ;;
	*) t_fail "$label: /api/rooms gave: $body" ;;
	esac
	code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$port/")
	t_check "$label: the web client is served ($code)" [ "$code" = 200 ]
	code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H 'Connection: Upgrade' -H 'Upgrade: websocket' \
		-H 'Sec-WebSocket-Version: 13' -H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' \
		"http://127.0.0.1:$port/ws/room1/alice")
	t_check "$label: /ws/ upgrades through nginx ($code)" [ "$code" = 101 ]
	t_check "$label: the broker's socket directory is private (0700)" \
		[ "$(stat -c %a "$T_DIR/run/broker")" = 700 ]
	t_check "$label: the broker's sockets are 0600" \
		[ "$(stat -c %a "$T_DIR/run/broker/broker.rpc" "$T_DIR/run/broker/broker.events" | tr '\n' ' ')" = "600 600 " ]
	# madang-ws trusts its nginx: the browser's address is the one nginx saw (and appended).
	curl -s -o /dev/null --max-time 3 -H 'Connection: Upgrade' -H 'Upgrade: websocket' \
		-H 'Sec-WebSocket-Version: 13' -H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' \
		-H 'X-Forwarded-For: 198.51.100.7' "http://127.0.0.1:$port/ws/room1/bob"
	t_check "$label: madang-ws believes nginx's X-Forwarded-For (--trusted-proxies 127.0.0.1)" \
		t_wait_for 5 grep -q '\[ws\] .*session [0-9]* from 198.51.100.7 opened' "$T_DIR/run-$label.log"
	kill -TERM "$pid"
	if t_wait_for 15 sh -c "! kill -0 $pid 2>/dev/null"; then
		t_ok "$label: SIGTERM stops make run"
	else
		t_fail "$label: still running 15 s after SIGTERM"
	fi
	left=$(pgrep -f "$T_DIR/run" | wc -l)
	t_check "$label: no process left behind ($left)" [ "$left" -eq 0 ]
	t_check "$label: the log shows every daemon stopping" grep -q '\[broker\] .*broker: stopped' "$T_DIR/run-$label.log"
}

run_once first
run_once second
t_check "history is kept in DATA_DIR between runs" test -s "$T_DIR/data/madang.db"
t_done
