#!/bin/sh
# 50-e2e.sh — the browser client (web/) in Debian's Chromium, driven by playwright-core, against
# the real stack: the `e2e` stack of tests/lib/stack-up.mjs (madang-broker --allow-create,
# madang-api, madang-ws and a private nginx rendered by scripts/render-nginx.sh, and a second
# madang-ws that requires tokens behind its own nginx), all on free 127.0.0.1 ports. Runs
# tests/e2e/*.test.mjs with node --test, two files at a time where they can (below; the last two
# kill and restart madang-ws and madang-broker through tests/lib/stack.mjs), and adds up their
# results.
# Screenshots go to $MADANG_BUILD/screenshots/. Nothing is skipped: a missing program is a
# failure. Chromium, nginx and node come from Debian and the node packages from
# tests/package-lock.json: `make test` installs them first, `make check` expects them.
# runner: alone (tests/run.sh: Chromium keeps half of both cores busy, and its pages wait on time)
T_NAME=e2e
. "$MADANG_ROOT/tests/lib/harness.sh"

root=$MADANG_ROOT
bin=$MADANG_BIN
FILE_TIMEOUT=${E2E_FILE_TIMEOUT:-170}

nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
missing=""
for prog in "$bin/madang-broker" "$bin/madang-api" "$bin/madang-ws" "$root/scripts/render-nginx.sh" "$nginx_bin" \
	/usr/bin/chromium "$(command -v node || echo node)"; do
	[ -x "$prog" ] || missing="$missing $prog"
done
[ -f "$root/tests/node_modules/playwright-core/package.json" ] || missing="$missing tests/node_modules/playwright-core"
if [ -n "$missing" ]; then
	t_fail "cannot run the browser tests (make test installs what is missing), missing:$missing"
	t_done
fi

# --- the stack -------------------------------------------------------------------------------
if ! t_stack e2e; then
	t_fail "the e2e stack did not start"
	t_done
fi
base=$MADANG_E2E_URL
t_check "nginx serves web/index.html" t_wait_for 10 curl -fsS -o /dev/null --max-time 2 "$base"
t_check "GET /api/rooms answers through nginx" t_wait_for 10 curl -fsS -o /dev/null --max-time 2 "${base}api/rooms"
if [ "$T_FAIL" -ne 0 ]; then
	for log in "$T_DIR"/*.log "$T_STACK_DIR"/*.log; do echo "--- $log"; tail -n 20 "$log"; done
	t_done
fi

# --- the browser tests -----------------------------------------------------------------------
export MADANG_SCREENSHOTS="$MADANG_BUILD/screenshots"
mkdir -p "$MADANG_SCREENSHOTS"

# run_file FILE: one test file under a time limit (t_node_file). With E2E_ONLY=PATTERN (a grep
# pattern), only the files whose names match run (while developing).
run_file() {
	if [ -n "${E2E_ONLY:-}" ] && ! echo "$1" | grep -q -- "$E2E_ONLY"; then
		return 0
	fi
	t_node_file "$root/tests" "e2e/$1" "$FILE_TIMEOUT"
}

# Two files run at once, each in its own Chromium: the files wait on time far more than they
# compute, and one after the other they took three minutes. A lane (t_lane) takes moderation and
# details (their own rooms on the stack above) and noroom (daemons of its own) while chat,
# compose and tokens run (about 100 and 120 s in a fresh clone's make test: the two Chromiums
# slow each other down). reconnect and broker-restart come last, alone: they kill and restart
# the stack's madang-ws and broker, which every other file uses.
lane() {
	run_file moderation.test.mjs
	run_file details.test.mjs
	run_file noroom.test.mjs
}
t_lane lane
run_file chat.test.mjs
run_file compose.test.mjs
run_file tokens.test.mjs
t_lane_join
run_file reconnect.test.mjs
run_file broker-restart.test.mjs

if [ "$T_FAIL" -ne 0 ]; then
	for log in "$T_DIR"/*.log "$T_STACK_DIR"/*.log; do echo "--- $log"; tail -n 60 "$log"; done
fi
echo "screenshots: $(ls "$MADANG_SCREENSHOTS" 2>/dev/null | tr '\n' ' ')"
t_done
