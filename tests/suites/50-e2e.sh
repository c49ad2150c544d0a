#!/bin/sh
# 50-e2e.sh — the browser client (web/) in Debian's Chromium, driven by playwright-core, against
# the real stack: madang-broker (--allow-create), madang-api, madang-ws and a private nginx
# rendered by scripts/render-nginx.sh, all on free 127.0.0.1 ports. Runs tests/e2e/*.test.mjs
# with node --test, one file at a time (the last two kill and restart madang-ws and
# madang-broker), and adds up their results. Screenshots go to $MADANG_BUILD/screenshots/.
# Nothing is skipped: a missing program is a failure.
T_NAME=e2e
. "$MADANG_ROOT/tests/lib/harness.sh"

root=$MADANG_ROOT
bin=$MADANG_BIN
FILE_TIMEOUT=${E2E_FILE_TIMEOUT:-170}

# Chromium, nginx and node come from Debian (install-deps.sh installs what is missing), the
# node packages from tests/package-lock.json.
"$root/scripts/install-deps.sh" test || t_fail "scripts/install-deps.sh test could not install the test packages"
if [ ! -f "$root/tests/node_modules/playwright-core/package.json" ]; then
	(cd "$root/tests" && npm ci --no-audit --no-fund --loglevel=error) || t_fail "npm ci in tests/ failed"
fi

nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
missing=""
for prog in "$bin/madang-broker" "$bin/madang-api" "$bin/madang-ws" "$root/scripts/render-nginx.sh" "$nginx_bin" \
	/usr/bin/chromium "$(command -v node || echo node)"; do
	[ -x "$prog" ] || missing="$missing $prog"
done
[ -f "$root/tests/node_modules/playwright-core/package.json" ] || missing="$missing tests/node_modules/playwright-core"
if [ -n "$missing" ]; then
	t_fail "cannot run the browser tests, missing:$missing"
	t_done
fi

# --- the stack -------------------------------------------------------------------------------
rpc="ipc://$T_DIR/broker.rpc"
events="ipc://$T_DIR/broker.events"
# broker-restart.test.mjs starts the broker again with this command line plus --data DIR.
broker_cmd="[\"$bin/madang-broker\",\"--rpc\",\"$rpc\",\"--events\",\"$events\",\"--allow-create\"]"
t_start broker "$bin/madang-broker" --rpc "$rpc" --events "$events" --allow-create
broker_pid=$T_LAST_PID
t_wait_for 10 test -S "$T_DIR/broker.events" || t_fail "madang-broker did not open $events"

api_port=$(t_free_port)
t_start api "$bin/madang-api" --listen "127.0.0.1:$api_port" --rpc "$rpc"
t_wait_port "$api_port" || t_fail "madang-api did not listen on $api_port"

web_port=$(t_free_port)
ws_port=$(t_free_port)
# Default Origin check (the Origin must name the host nginx forwards), as deployed. The same
# command line starts madang-ws again in reconnect.test.mjs.
ws_cmd="[\"$bin/madang-ws\",\"--listen\",\"127.0.0.1:$ws_port\",\"--rpc\",\"$rpc\",\"--events\",\"$events\",\"--id\",\"e2e-ws\"]"
t_start ws "$bin/madang-ws" --listen "127.0.0.1:$ws_port" --rpc "$rpc" --events "$events" --id e2e-ws
ws_pid=$T_LAST_PID
t_wait_port "$ws_port" || t_fail "madang-ws did not listen on $ws_port"

mkdir -p "$T_DIR/nginx"
if ! "$root/scripts/render-nginx.sh" --out "$T_DIR/nginx" --port "$web_port" --web-root "$root/web" \
	--api "127.0.0.1:$api_port" --ws "127.0.0.1:$ws_port" >"$T_DIR/render-nginx.log" 2>&1; then
	cat "$T_DIR/render-nginx.log"
	t_fail "scripts/render-nginx.sh failed"
	t_done
fi
t_start nginx "$nginx_bin" -c "$T_DIR/nginx/nginx.conf" -p "$T_DIR/nginx" -e stderr
t_wait_port "$web_port" || t_fail "nginx did not listen on $web_port"

# A second madang-ws that requires tokens (--jwt-secret-file), behind its own nginx, for
# tokens.test.mjs: the page is the same web/, its token comes from the hook in config.js.
head -c 48 /dev/urandom | base64 | tr -d '\n' >"$T_DIR/jwt.secret"
wsj_port=$(t_free_port)
t_start ws-jwt "$bin/madang-ws" --listen "127.0.0.1:$wsj_port" --rpc "$rpc" --events "$events" --id e2e-ws-jwt \
	--jwt-secret-file "$T_DIR/jwt.secret"
t_wait_port "$wsj_port" || t_fail "madang-ws (tokens) did not listen on $wsj_port"
webj_port=$(t_free_port)
mkdir -p "$T_DIR/nginx-jwt"
if ! "$root/scripts/render-nginx.sh" --out "$T_DIR/nginx-jwt" --port "$webj_port" --web-root "$root/web" \
	--api "127.0.0.1:$api_port" --ws "127.0.0.1:$wsj_port" >"$T_DIR/render-nginx-jwt.log" 2>&1; then
	cat "$T_DIR/render-nginx-jwt.log"
	t_fail "scripts/render-nginx.sh (tokens) failed"
	t_done
fi
t_start nginx-jwt "$nginx_bin" -c "$T_DIR/nginx-jwt/nginx.conf" -p "$T_DIR/nginx-jwt" -e stderr
t_wait_port "$webj_port" || t_fail "nginx (tokens) did not listen on $webj_port"

base="http://127.0.0.1:$web_port/"
t_check "nginx serves web/index.html" t_wait_for 10 curl -fsS -o /dev/null --max-time 2 "$base"
t_check "GET /api/rooms answers through nginx" t_wait_for 10 curl -fsS -o /dev/null --max-time 2 "${base}api/rooms"
if [ "$T_FAIL" -ne 0 ]; then
	for log in "$T_DIR"/*.log; do echo "--- $log"; tail -n 20 "$log"; done
	t_done
fi

# --- the browser tests -----------------------------------------------------------------------
export MADANG_E2E_URL="$base"
export MADANG_E2E_JWT_URL="http://127.0.0.1:$webj_port/" MADANG_JWT_SECRET_FILE="$T_DIR/jwt.secret"
export MADANG_TOKEN_BIN="$bin/madang-token"
export MADANG_SCREENSHOTS="$MADANG_BUILD/screenshots"
export MADANG_WS_PID="$ws_pid" MADANG_WS_PORT="$ws_port" MADANG_WS_CMD="$ws_cmd"
export MADANG_WS_RESTARTED_PIDFILE="$T_DIR/ws-restarted.pid" MADANG_WS_RESTARTED_LOG="$T_DIR/ws-restarted.log"
export MADANG_BROKER_PID="$broker_pid" MADANG_BROKER_CMD="$broker_cmd" MADANG_BROKER_SOCKET="$T_DIR/broker.rpc"
export MADANG_BROKER_RESTARTED_PIDFILE="$T_DIR/broker-restarted.pid" MADANG_BROKER_RESTARTED_LOG="$T_DIR/broker-restarted.log"
export MADANG_BROKER_DATA="$T_DIR/broker-data"
mkdir -p "$MADANG_BROKER_DATA"
mkdir -p "$MADANG_SCREENSHOTS"

# run_file FILE: runs one test file under a time limit and adds its counts to ours. With
# E2E_ONLY=PATTERN (a grep pattern), only the files whose names match run (while developing).
run_file() {
	name=$(basename "$1")
	if [ -n "${E2E_ONLY:-}" ] && ! echo "$name" | grep -q -- "$E2E_ONLY"; then
		return 0
	fi
	echo "--- $name"
	out=$(cd "$root/tests" && timeout --kill-after=5 "$FILE_TIMEOUT" node --test --test-reporter=tap "e2e/$name" 2>&1)
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
		t_fail "$name exited $rc"
	fi
}

run_file client-logic.test.mjs
run_file chat.test.mjs
run_file compose.test.mjs
run_file tokens.test.mjs
run_file details.test.mjs
run_file reconnect.test.mjs
run_file broker-restart.test.mjs

# The madang-ws and madang-broker started again by those two files are ours to stop.
for pidfile in "$MADANG_WS_RESTARTED_PIDFILE" "$MADANG_BROKER_RESTARTED_PIDFILE"; do
	[ -s "$pidfile" ] && T_PIDS="$T_PIDS $(cat "$pidfile")"
done
if [ "$T_FAIL" -ne 0 ]; then
	for log in "$T_DIR"/*.log; do echo "--- $log"; tail -n 30 "$log"; done
fi
echo "screenshots: $(ls "$MADANG_SCREENSHOTS" 2>/dev/null | tr '\n' ' ')"
t_done
