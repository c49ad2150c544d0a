# harness.sh — shared shell helpers for test suites: temp dirs, free ports, processes tracked by
# PID and always cleaned up, waiting with time limits, and pass/fail counting.
# Source it from a suite: . "$MADANG_ROOT/tests/lib/harness.sh"
set -u

T_PASS=0
T_FAIL=0
T_SKIP=0
T_NAME=${T_NAME:-$(basename "$0" .sh)}
T_DIR=$(mktemp -d "${TMPDIR:-/tmp}/madang-test.XXXXXX")
T_PIDS=""

# Kills every process started with t_start (TERM, then KILL), then every daemon whose PID
# tests/lib/stack.mjs wrote to $T_DIR/stack/pids (only while it is still a madang daemon or
# nginx, never a reused PID), removes the temp dir.
t_cleanup() {
	# A lane not joined (the suite ended early) is waited for: its files end their own daemons.
	for tl in ${T_LANES:-}; do
		wait "${tl#*:}" 2>/dev/null
	done
	for pid in $T_PIDS; do
		kill -TERM "$pid" 2>/dev/null
	done
	for pid in $T_PIDS; do
		i=0
		while kill -0 "$pid" 2>/dev/null && [ $i -lt 50 ]; do
			sleep 0.1
			i=$((i + 1))
		done
		kill -KILL "$pid" 2>/dev/null
	done
	for f in "$T_DIR"/stack/pids/*; do
		[ -f "$f" ] || continue
		pid=$(cat "$f")
		case "$(cat "/proc/$pid/cmdline" 2>/dev/null | tr '\0' ' ')" in
		*madang-* | *nginx*)
			kill -CONT "$pid" 2>/dev/null
			kill -KILL "$pid" 2>/dev/null
			;;
		esac
	done
	[ -n "${T_KEEP:-}" ] || rm -rf "$T_DIR"
}
trap t_cleanup EXIT
trap 'exit 130' INT TERM

# t_start NAME CMD...: starts CMD in the background, output to $T_DIR/NAME.log; sets T_LAST_PID.
t_start() {
	name=$1
	shift
	"$@" >"$T_DIR/$name.log" 2>&1 &
	T_LAST_PID=$!
	T_PIDS="$T_PIDS $T_LAST_PID"
	eval "PID_$(echo "$name" | tr -c 'A-Za-z0-9_\n' _)=$T_LAST_PID"
}

# t_free_port: prints a TCP port on 127.0.0.1 that was free a moment ago.
t_free_port() {
	"$MADANG_TESTBIN/freeport"
}

# t_wait_for SECONDS CMD...: retries CMD every 0.1 s until it succeeds or time runs out.
t_wait_for() {
	limit=$(($1 * 10))
	shift
	i=0
	while ! "$@" >/dev/null 2>&1; do
		i=$((i + 1))
		[ $i -ge $limit ] && return 1
		sleep 0.1
	done
	return 0
}

# t_wait_port PORT [SECONDS]: waits until something listens on 127.0.0.1:PORT.
t_wait_port() {
	t_wait_for "${2:-10}" "$MADANG_TESTBIN/freeport" --check "$1"
}

t_ok() {
	T_PASS=$((T_PASS + 1))
	echo "ok - $*"
}
t_fail() {
	T_FAIL=$((T_FAIL + 1))
	echo "FAIL - $*"
}
t_skip() {
	T_SKIP=$((T_SKIP + 1))
	echo "skip - $*"
}

# t_check DESCRIPTION CMD...: runs CMD, counts a pass or a failure.
t_check() {
	desc=$1
	shift
	if "$@"; then t_ok "$desc"; else t_fail "$desc"; fi
}

# t_done: prints the summary line the runner reads and exits with the right status.
t_done() {
	echo "$T_NAME: $T_PASS passed, $T_FAIL failed, $T_SKIP skipped"
	[ "$T_FAIL" -eq 0 ]
	exit $?
}

# t_node_file DIR FILE SECONDS: runs one node --test file in DIR under a time limit, prints its
# TAP output, and counts its passes, failures (cancelled tests count as failures) and skips. A
# file that exits non-zero with no failing test counts as one failure. Its output stays in
# $T_NODE_OUT (for lines a suite collects, such as "measure:").
t_node_file() {
	echo "--- $2"
	out=$(cd "$1" && timeout --kill-after=5 "$3" node --test --test-reporter=tap "$2" 2>&1)
	rc=$?
	T_NODE_OUT=$out
	echo "$out"
	p=$(echo "$out" | sed -nE 's/^# pass ([0-9]+)$/\1/p' | tail -n 1)
	f=$(echo "$out" | sed -nE 's/^# fail ([0-9]+)$/\1/p' | tail -n 1)
	c=$(echo "$out" | sed -nE 's/^# cancelled ([0-9]+)$/\1/p' | tail -n 1)
	s=$(echo "$out" | sed -nE 's/^# skipped ([0-9]+)$/\1/p' | tail -n 1)
	T_PASS=$((T_PASS + ${p:-0}))
	T_FAIL=$((T_FAIL + ${f:-0} + ${c:-0}))
	T_SKIP=$((T_SKIP + ${s:-0}))
	if [ "$rc" -ne 0 ] && [ "${f:-0}" -eq 0 ] && [ "${c:-0}" -eq 0 ]; then
		t_fail "$2 exited $rc"
	fi
}

# t_lane CMD [ARGS...]: runs CMD (a shell function, typically a few t_node_file calls one after
# the other) in the background, beside what the suite does next; its output and its counts are
# kept in $T_DIR until t_lane_join. For test files that mostly wait (on timers, on daemons they
# kill and start) and share nothing with the ones that run meanwhile: their own daemons or
# rooms, free ports. t_lane_join: waits for every lane, prints each one's output in the order
# they were started, and adds their counts to the suite's.
T_LANES=""
t_lane() {
	tl_n=$(($(echo "$T_LANES" | wc -w) + 1))
	(
		T_PASS=0 T_FAIL=0 T_SKIP=0
		"$@"
		echo "$T_PASS $T_FAIL $T_SKIP" >"$T_DIR/lane-$tl_n.counts"
	) >"$T_DIR/lane-$tl_n.out" 2>&1 &
	T_LANES="$T_LANES $tl_n:$!"
}
t_lane_join() {
	for tl in $T_LANES; do
		wait "${tl#*:}"
		tl_n=${tl%%:*}
		echo "--- lane $tl_n (ran beside the files above):"
		cat "$T_DIR/lane-$tl_n.out"
		if read -r tl_p tl_f tl_s <"$T_DIR/lane-$tl_n.counts"; then
			T_PASS=$((T_PASS + tl_p)) T_FAIL=$((T_FAIL + tl_f)) T_SKIP=$((T_SKIP + tl_s))
		else
			t_fail "lane $tl_n ended without its counts"
		fi
	done 2>/dev/null
	T_LANES=""
}

# t_stack_dirs: where tests/lib/stack.mjs puts the daemons' logs ($T_STACK_DIR, exported as
# MADANG_STACK_DIR) and their PIDs (MADANG_STACK_PIDDIR), which t_cleanup ends. For suites whose
# node test files start their own daemons.
t_stack_dirs() {
	T_STACK_DIR=$T_DIR/stack
	mkdir -p "$T_STACK_DIR/pids"
	export MADANG_STACK_DIR="$T_STACK_DIR" MADANG_STACK_PIDDIR="$T_STACK_DIR/pids"
	export MADANG_NGINX="${MADANG_NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}"
}

# t_stack PRESET [SECONDS]: starts the named stack of tests/lib/stack-up.mjs (ws, e2e, hostile)
# and waits (60 s by default) until it is ready; then its variables (MADANG_*_URL, _PID, ...)
# are exported here for the test files. A daemon's exit status is in $T_STACK_DIR/NAME.exit.
# Returns 1 (with the launcher's output) when the stack could not start.
t_stack() {
	t_stack_dirs
	t_start stack node "$MADANG_ROOT/tests/lib/stack-up.mjs" "$1"
	T_STACK_PID=$T_LAST_PID
	t_wait_for "${2:-60}" sh -c "test -s '$T_STACK_DIR/stack.env' || ! kill -0 $T_STACK_PID"
	if [ ! -s "$T_STACK_DIR/stack.env" ]; then
		cat "$T_DIR/stack.log"
		return 1
	fi
	. "$T_STACK_DIR/stack.env"
}

# t_need [--node] PROGRAM...: ends the suite with one failure naming what is missing when a
# program is not executable (or, with --node, node or tests/node_modules/ws is not installed:
# make test installs them). Nothing the suite needs is ever skipped silently.
t_need() {
	need_missing=""
	if [ "${1:-}" = --node ]; then
		shift
		command -v node >/dev/null 2>&1 || need_missing="$need_missing node"
		[ -f "$MADANG_ROOT/tests/node_modules/ws/package.json" ] || need_missing="$need_missing tests/node_modules/ws"
	fi
	for prog in "$@"; do
		[ -x "$prog" ] || need_missing="$need_missing $prog"
	done
	if [ -n "$need_missing" ]; then
		t_fail "missing:$need_missing (make test installs and builds them)"
		t_done
	fi
}

# t_check_ws_proxy NAME PORT ROOM ACCESS_LOG: the checks a shipped web server site must pass in
# front of madang-ws (issue 25): /ws is logged by its path alone, never with token=, resume= or
# since=, while other requests keep their query; and a WebSocket under a Host the site does not
# know (DNS rebinding) is refused with 403. NAME names the server in the check lines.
t_check_ws_proxy() {
	wp_name=$1 wp_port=$2 wp_room=$3 wp_log=$4
	curl -s -m 2 -N -o /dev/null -H 'Connection: Upgrade' -H 'Upgrade: websocket' \
		-H 'Sec-WebSocket-Version: 13' -H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' \
		"http://127.0.0.1:$wp_port/ws/$wp_room/wslogged?token=eyJhbGciOiJIUzI1NiJ9.SECRETPAYLOAD.sig&resume=0123456789abcdef0123456789abcdef&since=1&epoch=0123456789abcdef"
	curl -s -m 2 -o /dev/null "http://127.0.0.1:$wp_port/api/rooms?logged=yes"
	t_check "$wp_name logs the /ws request by its path alone (and other requests with their query)" \
		t_wait_for 5 sh -c 'grep -q "GET /ws/$1/wslogged HTTP/1.1" "$2" && grep -q "GET /api/rooms?logged=yes" "$2"' \
		sh "$wp_room" "$wp_log"
	t_check "no token=, resume= or since= in $wp_name's access log" \
		sh -c "! grep -E 'SECRETPAYLOAD|resume=|since=' '$wp_log'"
	curl -s -m 3 -N -D "$T_DIR/ws-evil.headers" -o /dev/null \
		-H 'Connection: Upgrade' -H 'Upgrade: websocket' -H 'Sec-WebSocket-Version: 13' \
		-H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' -H "Host: evil.example:$wp_port" \
		-H "Origin: http://evil.example:$wp_port" "http://127.0.0.1:$wp_port/ws/$wp_room/rebound"
	t_check "a WebSocket under an unknown Host (DNS rebinding) is refused through $wp_name (403)" \
		sh -c "head -n 1 '$T_DIR/ws-evil.headers' | grep -q '^HTTP/1.1 403'"
}
