# lib.sh — sourced by bench/run.sh, bench/massif-idle.sh and bench/soak.sh after they set
# BENCH_WHO (the name their log lines begin with). Gives each a private temporary directory
# (BENCH_TMP), the list of processes it started (pids: append every one), stopped and waited for
# on exit before the directory goes, log(), the bench limits, and freeport().
# shellcheck shell=bash
BENCH_TMP=$(mktemp -d "/tmp/madang-$BENCH_WHO.XXXXXX")
pids=()

log() { echo "$BENCH_WHO: $*" >&2; }

bench_cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
	rm -rf "$BENCH_TMP"
}
trap bench_cleanup EXIT
trap 'exit 130' INT TERM

# The limits every bench stack runs with, out of the load generator's way (docs/performance.md,
# "Running it"): rooms made by a join, and no per-address, per-user or per-client cap.
BENCH_BROKER_LIMITS=(--allow-create --max-members 100000 --max-rooms 100000
	--ephemeral-per-addr 100000 --ephemeral-per-user 100000)
BENCH_WS_LIMITS=(--rate 100000 --burst 100000 --max-conns-per-ip 100000 --queue-limit 67108864)

# A free TCP port on 127.0.0.1 (node is there for the load generator's reference servers).
freeport() {
	node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

# bench_stack BIN OUT TARGET: a madang-broker and a madang-ws (on private ipc sockets in
# BENCH_TMP and a free port, with the bench limits above) for
# massif-idle.sh and soak.sh; the one named by TARGET (ws or broker; "" for neither) runs under
# valgrind massif, its snapshots to be asked for with vgdb. Logs go to OUT/broker.log and
# OUT/ws.log. Sets PORT, BROKER, WS and MEASURED (TARGET's pid). Returns 1 when madang-ws never
# answers /healthz.
# shellcheck disable=SC2034 # PORT, BROKER, WS and MEASURED are for the script that sources this
bench_stack() {
	local bin=$1 out=$2 target=$3 i
	under() {
		if [ "$target" = "$1" ]; then
			exec valgrind --tool=massif --vgdb=yes --threshold=0.01 \
				--massif-out-file="$out/massif.out" "${@:2}"
		fi
		exec "${@:2}"
	}
	under broker "$bin/madang-broker" --rpc "ipc://$BENCH_TMP/rpc" --events "ipc://$BENCH_TMP/events" \
		"${BENCH_BROKER_LIMITS[@]}" >"$out/broker.log" 2>&1 &
	BROKER=$!
	pids+=("$BROKER")
	for ((i = 0; i < 200; i++)); do [ -S "$BENCH_TMP/rpc" ] && break; sleep 0.05; done
	PORT=$(freeport)
	under ws "$bin/madang-ws" --listen "127.0.0.1:$PORT" --rpc "ipc://$BENCH_TMP/rpc" \
		--events "ipc://$BENCH_TMP/events" --id "$BENCH_WHO-ws" "${BENCH_WS_LIMITS[@]}" \
		>"$out/ws.log" 2>&1 &
	WS=$!
	pids+=("$WS")
	MEASURED=$WS
	[ "$target" = broker ] && MEASURED=$BROKER
	for ((i = 0; i < 600; i++)); do
		curl -s --max-time 5 "http://127.0.0.1:$PORT/healthz" | grep -q '"status":"ok"' && return 0
		kill -0 "$WS" 2>/dev/null || break
		sleep 0.1
	done
	log "madang-ws did not start (see $out/ws.log)"
	return 1
}
