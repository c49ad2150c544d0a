#!/bin/sh
# 86-loadgen.sh — the benchmark's load generator (bench/, `make bench`) is a measuring instrument:
# this suite checks it against the real madang-broker and madang-ws on free 127.0.0.1 ports. Its
# self-test (SHA-1, base64, framing, histogram, search), its calibration (what `make bench`
# records of the machine's speed), then a small fan-out that must arrive
# whole and in order, then a run the server rate-limits, where the load generator must report the
# refused messages as lost and as error events instead of passing. bench/soak.sh and
# bench/table.sh are checked too.
T_NAME=loadgen
. "$MADANG_ROOT/tests/lib/harness.sh"

bin=$MADANG_BIN
t_need "$bin/madang-broker" "$bin/madang-ws" "$bin/madang-loadgen"

if "$bin/madang-loadgen" --self-test >"$T_DIR/self-test.log" 2>&1; then
	t_ok "madang-loadgen --self-test"
else
	cat "$T_DIR/self-test.log"
	t_fail "madang-loadgen --self-test"
fi

# --calibrate: one JSON line with three positive costs, in microseconds.
timeout 60 "$bin/madang-loadgen" --calibrate >"$T_DIR/calibrate.json" 2>"$T_DIR/calibrate.err"
t_check "madang-loadgen --calibrate exits 0" test $? -eq 0
calibrated() {
	node -e 'const c = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).calibration;
		const ok = ["syscall_us", "send_us", "wakeup_rtt_us"].every((k) => typeof c[k] === "number" && c[k] > 0 && c[k] < 1e6);
		process.exit(ok ? 0 : 1);' "$T_DIR/calibrate.json"
}
t_check "madang-loadgen --calibrate reports a system call, a send and a wake-up ($(cat "$T_DIR/calibrate.json"))" calibrated

rpc="tcp://127.0.0.1:$(t_free_port)"
events="tcp://127.0.0.1:$(t_free_port)"
t_start broker "$bin/madang-broker" --rpc "$rpc" --events "$events" --allow-create
t_wait_port "${rpc##*:}" || t_fail "madang-broker did not listen on $rpc"

# ws_start NAME ARGS...: a madang-ws on a free port; sets WS_PORT.
ws_start() {
	name=$1
	shift
	WS_PORT=$(t_free_port)
	t_start "$name" "$bin/madang-ws" --listen "127.0.0.1:$WS_PORT" --rpc "$rpc" --events "$events" \
		--id "$name" "$@"
	t_wait_port "$WS_PORT" || t_fail "$name did not listen on $WS_PORT"
	# a fresh madang-ws refuses connections (1013) until the broker has answered its hello
	t_wait_for 10 sh -c "curl -sf http://127.0.0.1:$WS_PORT/healthz | grep -q '\"broker\":\"up\"'" ||
		t_fail "$name did not reach the broker"
}

# report_is NAME FILE EXPR: EXPR (JavaScript over r, the loadgen's JSON line) must be true.
report_is() {
	if node -e 'const fs = require("fs");
		const lines = fs.readFileSync(process.argv[1], "utf8").trim().split("\n");
		const r = JSON.parse(lines[lines.length - 1]);
		process.exit(eval(process.argv[2]) ? 0 : 1);' "$2" "$3" 2>"$T_DIR/node.err"; then
		t_ok "$1"
	else
		t_fail "$1 ($3): $(tail -n 1 "$2") $(cat "$T_DIR/node.err")"
	fi
}

ws_start ws1 --rate 1000 --burst 1000
# 40 connections in 4 rooms, 8 senders, 200 msg/s for 1.5 s: 40 x 10 deliveries each
timeout 60 "$bin/madang-loadgen" --url "ws://127.0.0.1:$WS_PORT" --conns 40 --rooms 4 --senders 8 \
	--rate 200 --warmup 0.5 --duration 1 --drain 2 --pids "$PID_broker,$PID_ws1" \
	>"$T_DIR/fanout.json" 2>"$T_DIR/fanout.err"
t_check "the load generator exits 0 after a clean run" test $? -eq 0
report_is "every connection joined its room" "$T_DIR/fanout.json" \
	'r.connections_made === 40 && r.connections_failed === 0 && r.connections_not_joined === 0'
report_is "every delivery arrived once and in order" "$T_DIR/fanout.json" \
	'r.messages_sent >= 250 && r.deliveries_expected === r.messages_sent * 10 &&
	 r.deliveries_received === r.deliveries_expected && r.lost === 0 && r.duplicated === 0 &&
	 r.out_of_order === 0 && r.error_events === 0'
report_is "latency and the daemons' memory are reported" "$T_DIR/fanout.json" \
	'r.latency_ms.p50 > 0 && r.latency_ms.p99 >= r.latency_ms.p50 &&
	 r.latency_ms.max >= r.latency_ms.p99 && Object.keys(r.rss_kib).length === 2 && r.rss_kib_total > 0'

# The same shape against a madang-ws that lets each connection send 2 messages per second: the
# refused messages never reach the room (and a sender that keeps going is cut), and the report
# must say so.
ws_start ws2 --rate 2 --burst 2
timeout 60 "$bin/madang-loadgen" --url "ws://127.0.0.1:$WS_PORT" --conns 10 --rooms 1 --senders 2 \
	--rate 100 --warmup 0.5 --duration 1 --drain 1 >"$T_DIR/limited.json" 2>"$T_DIR/limited.err"
report_is "refused messages are counted as lost, not delivered" "$T_DIR/limited.json" \
	'r.messages_sent > 0 && r.lost > 0 && r.deliveries_received < r.deliveries_expected'
report_is "the rate-limit errors are counted as error events" "$T_DIR/limited.json" \
	'r.error_events > 0'

# bench/soak.sh, two small rounds: a line per round with both daemons' RSS and every
# connection made, none lost (finding 30 of docs/performance.md runs it longer).
ROUNDS=2 CONNS=40 ROOMS=8 RATE=200 SOAK_OUT="$T_DIR/soak" timeout 120 \
	"$MADANG_ROOT/bench/soak.sh" "$(dirname "$bin")" >"$T_DIR/soak.txt" 2>&1
t_check "bench/soak.sh runs its rounds and exits 0" test $? -eq 0
t_check "bench/soak.sh prints each round's RSS and its connections ($(tr '\n' '|' <"$T_DIR/soak.txt"))" \
	sh -c "grep -Eq '^1 +[0-9]+ +[0-9]+ +40 0\$' '$T_DIR/soak.txt' &&
		grep -Eq '^2 +[0-9]+ +[0-9]+ +40 0\$' '$T_DIR/soak.txt'"

# bench/table.sh on a fixed results file: madang beside each reference, with madang's ratios
# (fanout p50 6 vs 0.3 ms: 20x; p99 20 vs 4: 5x; idle 3000 vs 1500 B: 2x; ramp 1.28M vs 2.56M:
# 0.5x), and each ramp step with its p50.
if command -v jq >/dev/null 2>&1; then
	"$MADANG_ROOT/bench/table.sh" "$MADANG_ROOT/tests/fixtures/bench-results.json" >"$T_DIR/table.txt" 2>&1
	t_check "bench/table.sh prints madang's ratio to each reference" \
		grep -Eq '^fanout +6/20 +12/100 +0.3/4 +0.5x/0.2x +20x/5x$' "$T_DIR/table.txt"
	t_check "bench/table.sh compares idle memory and the ramp's best step" \
		sh -c "grep -Eq '^idle +3000B +- +1500B +- +2x\$' '$T_DIR/table.txt' &&
			grep -Eq '^ramp +1280000 +- +2560000 +- +0.5x\$' '$T_DIR/table.txt'"
	t_check "bench/table.sh lists each ramp step with its p50 and p99" \
		grep -Eq '^uws +10000 +1 +10000 +0.7 +1.1 +0 +PASS$' "$T_DIR/table.txt"
else
	t_skip "bench/table.sh checks: no jq"
fi
t_done
