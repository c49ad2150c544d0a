# apihttp.sh — helpers shared by the madang-api suites (40-api.sh, 41-apache.sh): start the broker,
# talk to it over nng (it_rpc), make HTTP requests with curl and check status and body exactly.
# Needs RPC, EVENTS and T_DIR set, and tests/lib/harness.sh sourced first.
start_broker() {
	t_start broker "$MADANG_BIN/madang-broker" --rpc "$RPC" --events "$EVENTS" --allow-create \
		--frontend-timeout 600000
	BROKER_PID=$T_LAST_PID
	t_wait_for 5 "$MADANG_TESTBIN/it_rpc" --timeout 300 --check "$RPC" '{"op":"health"}' ||
		t_fail "the broker did not start (log: $T_DIR/broker.log)"
}
# rpc JSON...: requests to the broker, each must answer ok:true
rpc() {
	"$MADANG_TESTBIN/it_rpc" --check "$RPC" "$@" >>"$T_DIR/rpc.out"
}
# http METHOD URL [curl options...]: sets CODE; headers in $T_DIR/headers, body in $T_DIR/body
http() {
	m=$1
	u=$2
	shift 2
	: >"$T_DIR/body"
	if [ "$m" = HEAD ]; then
		CODE=$(curl -s -m 10 -I -D "$T_DIR/headers" -o /dev/null -w '%{http_code}' "$@" "$u")
	else
		CODE=$(curl -s -m 10 -X "$m" -D "$T_DIR/headers" -o "$T_DIR/body" -w '%{http_code}' \
			"$@" "$u")
	fi
	tr -d '\r' <"$T_DIR/headers" >"$T_DIR/headers.lf"
}
show() {
	echo "  got $CODE: $(head -c 400 "$T_DIR/body")"
}
# expect DESC STATUS BODY: exact status and body
expect() {
	if [ "$CODE" = "$2" ] && [ "$(cat "$T_DIR/body")" = "$3" ]; then t_ok "$1"; else
		t_fail "$1"
		echo "  want $2: $3"
		show
	fi
}
# expect_match DESC STATUS EXTENDED-REGEX: exact status, body matching the pattern
expect_match() {
	if [ "$CODE" = "$2" ] && grep -Eq "$3" "$T_DIR/body"; then t_ok "$1"; else
		t_fail "$1"
		echo "  want $2 matching: $3"
		show
	fi
}
expect_code() {
	if [ "$CODE" = "$2" ]; then t_ok "$1"; else
		t_fail "$1"
		show
	fi
}
has_header() {
	grep -qF "$1" "$T_DIR/headers.lf"
}
no_header() {
	! grep -qiF "$1" "$T_DIR/headers.lf"
}
body_match() {
	grep -Eq "$1" "$T_DIR/body"
}
# wait_200 URL SECONDS: GETs URL until it answers 200, for at most SECONDS of wall time
wait_200() {
	end=$(($(date +%s) + $2))
	while :; do
		code=$(curl -s -m 3 -o /dev/null -w '%{http_code}' "$1")
		[ "$code" = 200 ] && return 0
		if [ "$(date +%s)" -ge "$end" ]; then
			echo "  last status: $code"
			return 1
		fi
		sleep 0.2
	done
}
# wait_exit PID STATUS: the process ends within 5 s with this exit status
wait_exit() {
	(sleep 5 && kill -KILL "$1" 2>/dev/null) &
	timer=$!
	wait "$1"
	rc=$?
	kill "$timer" 2>/dev/null
	[ "$rc" -eq "$2" ]
}
