#!/bin/sh
# 15-cli.sh — the command line every madang binary shares (common/opt.c): --version prints
# "NAME VERSION" and exits 0, the same version everywhere; a number option out of its range or
# with anything after the digits is refused with the flag and its range named, exit status 2
# (madang-loadgen: 64); and SIGHUP stops none of the three daemons (each main.c says why).
T_NAME=cli
. "$MADANG_ROOT/tests/lib/harness.sh"

B=$MADANG_BIN
versions=""
for name in madang-broker madang-ws madang-api madang-token madang-loadgen madang-bench-broker; do
	out=$(timeout 10 "$B/$name" --version 2>&1)
	rc=$?
	# one line: the name, one space, a version of [A-Za-z0-9._+-] (git describe or the release)
	if [ "$rc" -eq 0 ] && echo "$out" | grep -qxE "$name [A-Za-z0-9._+-]+"; then
		t_ok "$name --version prints '$out' and exits 0"
	else
		t_fail "$name --version printed '$out' (exit $rc)"
	fi
	versions="$versions ${out#"$name "}"
done
t_check "every binary has the same version ($versions)" \
	[ "$(echo "$versions" | tr ' ' '\n' | sed '/^$/d' | sort -u | wc -l)" -eq 1 ]

# refused NAME STATUS EXPECTED ARGS...: runs ARGS, expects exit STATUS and EXPECTED on stderr.
refused() {
	name=$1 status=$2 want=$3
	shift 3
	err=$(timeout 10 "$@" 2>&1 >/dev/null)
	rc=$?
	if [ "$rc" -eq "$status" ] && echo "$err" | grep -qF -- "$want"; then
		t_ok "$name: $* refused ($want)"
	else
		t_fail "$name: $* gave exit $rc, stderr: $err"
	fi
}
refused broker 2 "madang-broker: --history must be a number from 0 to 100000 (not '5x')" \
	"$B/madang-broker" --history 5x
refused broker 2 "--inflight must be a number from 1 to 4096 (not '4097')" \
	"$B/madang-broker" --inflight 4097
refused broker 2 "--max-members must be a number from 1 to 1000000 (not ' 5')" \
	"$B/madang-broker" --max-members " 5"
refused broker 2 "--max-bans must be a number from 1 to 100000 (not '0')" \
	"$B/madang-broker" --max-bans 0
refused broker 2 "--audit-days must be a number from 1 to 3650 (not '3651')" \
	"$B/madang-broker" --audit-days 3651
refused broker 2 "--rooms-per-owner must be a number from 1 to 10000 (not '0')" \
	"$B/madang-broker" --rooms-per-owner 0
refused ws 2 "madang-ws: --rate must be a number from 1 to 100000 (not '0')" "$B/madang-ws" --rate 0
refused ws 2 "--queue-limit must be a number from 4096 to 4294967296 (not '1M')" \
	"$B/madang-ws" --queue-limit 1M
refused ws 2 "--listen port must be a number from 1 to 65535 (not '80x')" \
	"$B/madang-ws" --listen 127.0.0.1:80x
refused api 2 "madang-api: --threads must be a number from 1 to 256 (not '-1')" \
	"$B/madang-api" --threads -1
refused api 2 "--timeout must be a number from 10 to 60000 (not '5s')" "$B/madang-api" --timeout 5s
# These were read with atoll/strtoul/atof before: "10x" was 10, "5x" 5, "1s" 1, "5m" 5.
refused token 2 "madang-token: --ttl must be a number from 1 to 31622400 (not '10x')" \
	"$B/madang-token" --secret-file /nonexistent --name alice --ttl 10x
refused loadgen 64 "madang-loadgen: --conns must be a number from 1 to 1000000 (not '5x')" \
	"$B/madang-loadgen" --url ws://127.0.0.1:9 --conns 5x
refused loadgen 64 "madang-loadgen: --warmup must be a number from 0 to 86400 (not '1s')" \
	"$B/madang-loadgen" --url ws://127.0.0.1:9 --warmup 1s
refused bench-broker 2 "madang-bench-broker: --duration must be a number from 0.1 to 600 (not '5m')" \
	"$B/madang-bench-broker" --duration 5m
refused bench-broker 2 "madang-bench-broker: --batch must be a number from 1 to 1024 (not '0')" \
	"$B/madang-bench-broker" --batch 0

# SIGHUP: logged or ignored by each daemon, never a stop; SIGTERM still stops each with 0.
rpc="ipc://$T_DIR/broker.rpc"
events="ipc://$T_DIR/broker.events"
ws_port=$(t_free_port)
api_port=$(t_free_port)
t_start broker "$B/madang-broker" --rpc "$rpc" --events "$events"
broker_pid=$T_LAST_PID
t_wait_for 10 test -S "$T_DIR/broker.events" || t_fail "madang-broker did not start"
t_start ws "$B/madang-ws" --listen "127.0.0.1:$ws_port" --rpc "$rpc" --events "$events"
ws_pid=$T_LAST_PID
t_start api "$B/madang-api" --listen "127.0.0.1:$api_port" --rpc "$rpc"
api_pid=$T_LAST_PID
t_wait_port "$ws_port" || t_fail "madang-ws did not listen"
t_wait_port "$api_port" || t_fail "madang-api did not listen"
for p in "madang-broker $broker_pid" "madang-ws $ws_pid" "madang-api $api_pid"; do
	kill -HUP "${p#* }"
done
sleep 1
for p in "madang-broker $broker_pid" "madang-ws $ws_pid" "madang-api $api_pid"; do
	t_check "${p% *} is still running after SIGHUP" kill -0 "${p#* }"
done
t_check "madang-ws still accepts connections after SIGHUP" "$MADANG_TESTBIN/freeport" --check "$ws_port"
for p in "madang-ws $ws_pid" "madang-api $api_pid" "madang-broker $broker_pid"; do
	kill -TERM "${p#* }" 2>/dev/null
	if t_wait_for 10 sh -c "! kill -0 ${p#* } 2>/dev/null"; then
		wait "${p#* }"
		rc=$?
		t_check "${p% *} stops on SIGTERM with status 0 ($rc)" [ "$rc" -eq 0 ]
	else
		t_fail "${p% *} still running 10 s after SIGTERM"
	fi
done
t_done
