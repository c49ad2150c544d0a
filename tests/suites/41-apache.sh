#!/bin/sh
# 41-apache.sh — the madang-api smoke test through a real Apache 2.4 (apache2 from Debian, private
# config from scripts/render-apache.sh: mod_proxy_fcgi for /api/, upgrade=websocket for /ws/):
# exact bodies, counts after joins, error statuses with JSON bodies, the admin token through
# CGIPassAuth, static files with the security headers, concurrency, broker death and restart.
T_NAME=apache
. "$MADANG_ROOT/tests/lib/harness.sh"

APACHE=$(command -v apache2 || echo /usr/sbin/apache2)
if [ ! -x "$APACHE" ] || ! command -v curl >/dev/null 2>&1; then
	t_skip "apache2 or curl is not installed (scripts/install-deps.sh test)"
	t_done
fi

RPC="ipc://$T_DIR/broker.rpc"
EVENTS="ipc://$T_DIR/broker.events"
TIMEOUT_MS=2000 # roomy: the smoke includes 100 concurrent requests on a busy machine
WAIT_MS=3000    # --broker-wait-ms: a request's whole wait for a broker
. "$MADANG_ROOT/tests/lib/apihttp.sh"
start_broker
# TCP between Apache and madang-api: when started as root Apache's workers are www-data, who
# cannot enter this suite's private (0700) temp directory to reach a unix socket.
API_PORT=$(t_free_port)
printf 'secret-admin-token-0123456789\n' >"$T_DIR/token"
t_start api "$MADANG_BIN/madang-api" --listen "127.0.0.1:$API_PORT" --rpc "$RPC" \
	--timeout $TIMEOUT_MS --broker-wait-ms $WAIT_MS --admin-token-file "$T_DIR/token"
API=$T_LAST_PID
PORT=$(t_free_port)
WS_DEAD=$(t_free_port)
"$MADANG_ROOT/scripts/render-apache.sh" --out "$T_DIR/apache" --port "$PORT" \
	--web-root "$MADANG_ROOT/web" --api "127.0.0.1:$API_PORT" --ws "127.0.0.1:$WS_DEAD" ||
	t_fail "render-apache.sh"
t_check "the rendered configuration passes apache2 -t" "$APACHE" -t -f "$T_DIR/apache/httpd.conf"
t_start apache "$APACHE" -f "$T_DIR/apache/httpd.conf" -DFOREGROUND
t_check "madang-api listens" t_wait_port "$API_PORT"
t_check "apache listens" t_wait_port "$PORT"
A="http://127.0.0.1:$PORT"

ROOMS0='{"rooms":[{"id":"room1","name":"일반 대화","users_count":0},{"id":"room2","name":"기술 토론","users_count":0},{"id":"room3","name":"취미 공유","users_count":0},{"id":"room4","name":"음악 & 영화","users_count":0}]}'
http GET "$A/api/rooms"
expect "GET /api/rooms through Apache is the exact original body" 200 "$ROOMS0"
t_check "API responses are application/json" has_header 'Content-Type: application/json; charset=utf-8'
t_check "API responses carry Cache-Control: no-store" has_header 'Cache-Control: no-store'
t_check "X-Content-Type-Options is sent once" \
	[ "$(grep -c X-Content-Type-Options "$T_DIR/headers.lf")" -eq 1 ]

rpc '{"op":"hello","frontend":"t-apache","instance":"i1"}' \
	'{"op":"join","frontend":"t-apache","session":"s1","room_id":"room2","user":"민수"}' \
	'{"op":"join","frontend":"t-apache","session":"s2","room_id":"room2","user":"bob"}' ||
	t_fail "joining members through the broker"
http GET "$A/api/rooms"
expect "users_count follows joins" 200 \
	'{"rooms":[{"id":"room1","name":"일반 대화","users_count":0},{"id":"room2","name":"기술 토론","users_count":2},{"id":"room3","name":"취미 공유","users_count":0},{"id":"room4","name":"음악 & 영화","users_count":0}]}'
http GET "$A/api/rooms/room2"
expect "GET /api/rooms/room2 lists the members" 200 \
	'{"id":"room2","name":"기술 토론","users_count":2,"members":["민수","bob"],"seq":2,"slow_mode_s":0}'
http GET "$A/api/rooms/room2/messages?since=1"
expect_match "history through Apache" 200 '"events":\[\{"type":"join","room_id":"room2","seq":2,'

http GET "$A/api/nope"
expect "an unknown path is 404" 404 '{"error":"not_found","message":"no such API endpoint"}'
http GET "$A/api/rooms/nosuch"
expect_match "an unknown room is 404 no_such_room" 404 '^\{"error":"no_such_room","message":"[^"]+"\}$'
http PUT "$A/api/rooms"
expect "PUT is 405" 405 '{"error":"method_not_allowed","message":"this endpoint does not take that method"}'
t_check "405 names the allowed methods" has_header 'Allow: GET, HEAD, POST, OPTIONS'
http GET "$A/api/rooms/room1/messages?limit=%zz"
expect "malformed percent-encoding is 400" 400 '{"error":"invalid_request","message":"malformed percent-encoding in the query"}'
http GET "$A/api/rooms/room1/messages?limit=1%0d%0a"
expect "CR/LF in a parameter is 400" 400 '{"error":"invalid_request","message":"query decodes to NUL, CR, LF or invalid UTF-8"}'
http POST "$A/api/rooms" -H 'Content-Type: application/json' \
	-H 'Authorization: Bearer secret-admin-token-0123456789' --data-binary '{"id":'
expect_match "bad JSON is 400" 400 '^\{"error":"invalid_request","message":"[^"]+"\}$'
head -c 17000 /dev/zero | tr '\0' ' ' >"$T_DIR/big"
http POST "$A/api/rooms" -H 'Content-Type: application/json' \
	-H 'Authorization: Bearer secret-admin-token-0123456789' --data-binary "@$T_DIR/big"
expect "a body over 16 KiB is 413" 413 '{"error":"payload_too_large","message":"request body over 16 KiB"}'

http POST "$A/api/rooms" -H 'Content-Type: application/json' --data-binary '{"id":"jazz"}'
expect_match "POST without the admin token is 401" 401 '"error":"unauthorized"'
http POST "$A/api/rooms" -H 'Content-Type: application/json' \
	-H 'Authorization: Bearer secret-admin-token-0123456789' --data-binary '{"id":"jazz","name":"Jazz"}'
expect "POST with the token (passed by CGIPassAuth) is 201" 201 '{"id":"jazz","name":"Jazz","users_count":0}'
t_check "201 carries the Location" has_header 'Location: /api/rooms/jazz'
http POST "$A/api/rooms" -H 'Content-Type: application/json' \
	-H 'Authorization: Bearer secret-admin-token-0123456789' --data-binary '{"id":"jazz","name":"Jazz"}'
expect_match "creating it again is 409" 409 '^\{"error":"room_exists"'
http DELETE "$A/api/rooms/jazz" -H 'Authorization: Bearer secret-admin-token-0123456789'
expect "DELETE with the token is 204" 204 ''
http DELETE "$A/api/rooms/jazz"
expect_match "DELETE without it is 401" 401 '"error":"unauthorized"'

# Moderation through Apache (issue 26): PATCH and percent-encoded UTF-8 {user} reach madang-api.
TOK='Authorization: Bearer secret-admin-token-0123456789'
http POST "$A/api/rooms/room2/bans" -H 'Content-Type: application/json' -H "$TOK" \
	--data-binary '{"user":"고스트","duration_s":60,"reason":"test"}'
expect_match "a ban through Apache is 201" 201 '^\{"room_id":"room2","user":"고스트","until":"[^"]+","kicked":false\}$'
http DELETE "$A/api/rooms/room2/bans/%EA%B3%A0%EC%8A%A4%ED%8A%B8" -H "$TOK"
expect "lifting it with a percent-encoded {user} is 204" 204 ''
http PATCH "$A/api/rooms/room2" -H 'Content-Type: application/json' -H "$TOK" \
	--data-binary '{"slow_mode_s":0}'
expect_match "PATCH through Apache is 200" 200 '^\{"id":"room2","moderation":\{"owner":null,'
http GET "$A/api/rooms/room2/audit" -H "$TOK"
expect_match "the audit trail through Apache" 200 '"action":"unban".*"action":"ban"'
http DELETE "$A/api/rooms/room2/messages/999999" -H "$TOK"
expect_match "deleting a message that does not exist is 404" 404 '^\{"error":"no_such_message"'
http POST "$A/api/rooms/room2/kicks" -H 'Content-Type: application/json' --data-binary '{"user":"bob"}'
expect_match "a kick without the token is 401" 401 '"error":"unauthorized"'

http GET "$A/api/health"
expect_match "health is 200" 200 '^\{"status":"ok","broker":\{"status":"ok"'
http GET "$A/api/metrics"
expect_match "metrics through Apache" 200 '^madang_broker_members 2$'
http GET "$A/api/openapi.json"
expect_match "openapi.json through Apache" 200 '"/api/rooms/\{id\}/messages"'

http GET "$A/"
expect_match "the web client is served at /" 200 '<html'
t_check "static responses carry the CSP" has_header "Content-Security-Policy: default-src 'self'; script-src 'self'"
t_check "static responses carry Referrer-Policy" has_header 'Referrer-Policy: no-referrer'
http GET "$A/style.css" -H 'Accept-Encoding: gzip'
t_check "static CSS is gzip-compressed" has_header 'Content-Encoding: gzip'

# A real madang-ws behind the second BalancerMember (the first is dead): the upgrade goes through
# mod_proxy_http's upgrade=websocket, madang-ws's Origin check passes on the preserved Host, and
# the members show in the API.
if [ -x "$MADANG_BIN/madang-ws" ]; then
	WS_PORT=$(t_free_port)
	WP=$(t_free_port)
	t_start ws "$MADANG_BIN/madang-ws" --listen "127.0.0.1:$WS_PORT" --rpc "$RPC" \
		--events "$EVENTS" --id t-ws
	WS_PID=$T_LAST_PID
	"$MADANG_ROOT/scripts/render-apache.sh" --out "$T_DIR/apache-w" --port "$WP" \
		--web-root "$MADANG_ROOT/web" --api "127.0.0.1:$API_PORT" \
		--ws "127.0.0.1:$WS_DEAD,127.0.0.1:$WS_PORT"
	t_start apache_w "$APACHE" -f "$T_DIR/apache-w/httpd.conf" -DFOREGROUND
	t_wait_port "$WS_PORT"
	t_wait_port "$WP"
	for n in 1 2; do
		curl -s -m 3 -N -D "$T_DIR/ws$n.headers" -o "$T_DIR/ws$n.body" \
			-H 'Connection: Upgrade' -H 'Upgrade: websocket' -H 'Sec-WebSocket-Version: 13' \
			-H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' -H "Origin: http://127.0.0.1:$WP" \
			"http://127.0.0.1:$WP/ws/room4/wsuser$n" &
		eval "WS_CURL$n=\$!"
	done
	t_wait_for 3 sh -c "curl -s '$A/api/rooms/room4' | grep -q '\"users_count\":2'"
	t_check "two WebSockets through Apache joined room4 (seen by GET /api/rooms/room4)" [ $? -eq 0 ]
	wait "$WS_CURL1" "$WS_CURL2"
	t_check "the upgrade answered 101 through Apache, past the dead member" \
		sh -c "head -n 1 '$T_DIR/ws1.headers' | grep -q '^HTTP/1.1 101' && head -n 1 '$T_DIR/ws2.headers' | grep -q '^HTTP/1.1 101'"
	t_check "after the sockets closed the members left" \
		t_wait_for 5 sh -c "curl -s '$A/api/rooms/room4' | grep -q '\"members\":\\[\\]'"
	# Issue 25: /ws is logged without its query string (token=, resume=, since=), and only a
	# known Host reaches madang-ws: a page under another name (DNS rebinding) is refused.
	t_check_ws_proxy Apache "$WP" room4 "$T_DIR/apache-w/logs/access.log"
	kill -TERM "$WS_PID"
	wait_exit "$WS_PID" 0 || true
else
	t_skip "madang-ws is not built: WebSocket proxying not tested"
fi

seq 100 | xargs -P 100 -I{} curl -s -m 20 -o /dev/null -w '%{http_code}\n' "$A/api/rooms?n={}" \
	>"$T_DIR/conc" 2>&1
t_check "100 concurrent requests through Apache are all answered 200" \
	sh -c "[ \$(grep -c '^200\$' '$T_DIR/conc') -eq 100 ]"

# --- the TLS variant (deploy/apache/madang-tls.conf) with a throw-away certificate --------------
if command -v openssl >/dev/null 2>&1 &&
	openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 \
		-keyout "$T_DIR/tls.key" -out "$T_DIR/tls.crt" >/dev/null 2>&1; then
	PT=$(t_free_port)
	"$MADANG_ROOT/scripts/render-apache.sh" --out "$T_DIR/apache-tls" --port "$PT" \
		--web-root "$MADANG_ROOT/web" --api "127.0.0.1:$API_PORT" --ws "127.0.0.1:$WS_DEAD" \
		--tls-cert "$T_DIR/tls.crt" --tls-key "$T_DIR/tls.key" || t_fail "render-apache.sh --tls-cert"
	t_start apache_tls "$APACHE" -f "$T_DIR/apache-tls/httpd.conf" -DFOREGROUND
	t_wait_port "$PT"
	http GET "https://127.0.0.1:$PT/api/rooms" --cacert "$T_DIR/tls.crt" --http1.1
	expect_match "HTTPS through the TLS site answers /api/rooms" 200 '^\{"rooms":\[\{"id":"room1","name":"일반 대화","users_count":0\},'

	t_check "the TLS site sends Strict-Transport-Security" has_header 'Strict-Transport-Security: max-age=31536000'
else
	t_skip "openssl is not installed: TLS variant not tested"
fi

kill -KILL "$BROKER_PID"
wait "$BROKER_PID" 2>/dev/null
t0=$(date +%s%N)
http GET "$A/api/rooms"
el=$((($(date +%s%N) - t0) / 1000000))
expect "broker killed: 503 broker_unavailable" 503 \
	'{"error":"broker_unavailable","message":"the chat broker did not answer in time; try again"}'
t_check "... through Apache after the whole --broker-wait-ms ($el ms: $WAIT_MS..$((WAIT_MS + 1000)))" \
	[ "$el" -ge $((WAIT_MS - 50)) -a "$el" -lt $((WAIT_MS + 1000)) ]
# A request made while no broker runs waits for the one that starts, and is answered.
curl -s -m 10 -o "$T_DIR/wait.body" -w '%{http_code}' "$A/api/rooms" >"$T_DIR/wait.code" &
CURL=$!
sleep 0.5
start_broker
wait "$CURL"
t_check "a request made while the broker was down is answered 200 once it is back" \
	sh -c "[ \$(cat '$T_DIR/wait.code') = 200 ] && grep -q '^{\"rooms\":' '$T_DIR/wait.body'"
kill -KILL "$BROKER_PID"
wait "$BROKER_PID" 2>/dev/null
start_broker
t_check "broker restarted: 200 again within 10 s" \
	wait_200 "$A/api/rooms" 10
kill -TERM "$API"
t_check "madang-api exits 0 on SIGTERM" wait_exit "$API" 0
t_done
